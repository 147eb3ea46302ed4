//! Applies a twip plan to a Docker engine through bollard.
//!
//! [`desired::desired`] turns a plan (and its scenario) into container specs
//! and the front proxy's configuration; [`diff::diff`] compares them with
//! what the engine runs; [`apply`] executes the changes in an order that
//! keeps serving: new containers up and healthy first, then the front's
//! upstreams rewritten and reloaded (and the old containers drained from
//! it), then the old containers removed. Container names carry a hash of
//! their spec, so a changed spec means a new container, never an in-place
//! edit.
//!
//! **What runs is what is observed.** Only containers with twip's full set
//! of labels ([`twip_deploy::labels::owner`]) are twip's; the front's live
//! upstreams (what the running nginx answers on its own socket, not the
//! file on disk) are part of the observed state, so an apply killed before
//! the front was reloaded is drift, which `status` reports and the next
//! apply repairs; the entry's host port is read from the running front.

#![deny(missing_docs)]

pub mod desired;
pub mod diff;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bollard::container::LogsOptions;
use bollard::container::{
    Config, CreateContainerOptions, KillContainerOptions, ListContainersOptions,
    RemoveContainerOptions, StartContainerOptions, StopContainerOptions, UpdateContainerOptions,
};
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    HealthConfig, HealthStatusEnum, HostConfig, HostConfigLogConfig, PortBinding, RestartPolicy,
    RestartPolicyNameEnum,
};
use bollard::network::{CreateNetworkOptions, ListNetworksOptions};
use bollard::Docker;
use futures_util::StreamExt;
use twip_deploy::{labels, Partial};

pub use desired::{Desired, Spec};
pub use diff::{Action, Observed};

/// Why applying (or reading) failed: one-line cause, with a hint.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// No engine answered.
    #[error("the Docker engine is not reachable ({0}); hint: is dockerd running, and may this user use /var/run/docker.sock?")]
    Unreachable(String),
    /// An image is not there (no registry is used).
    #[error("image {0} is missing; hint: build the images with crates/twip-docker/images/build.sh, or point the service's `image` at one you have")]
    ImageMissing(String),
    /// The entry's host port is taken by something else than this
    /// environment's front.
    #[error("port 127.0.0.1:{port} is already in use{}; hint: pass --port with a free one", holder.as_ref().map(|h| format!(" (by container {h})")).unwrap_or_default())]
    PortTaken {
        /// The port.
        port: u16,
        /// The container that publishes it, if a container does.
        holder: Option<String>,
    },
    /// A network of the environment's name exists that twip did not create.
    #[error("network {network} exists but twip did not create it (it lacks the labels twip.env={env} and twip.managed=true): twip does not adopt it; hint: remove it (`docker network rm {network}`) or use another --env")]
    NetworkNotOwned {
        /// The network.
        network: String,
        /// The environment.
        env: String,
    },
    /// The engine refused a call.
    #[error("{action}: {message}")]
    Engine {
        /// What twip was doing.
        action: String,
        /// What the engine said.
        message: String,
    },
    /// A container did not become healthy.
    #[error("container {0} did not become healthy within {1} s; hint: `docker logs {0}`")]
    Unhealthy(String, u64),
    /// Stopped half-way: what was and was not applied (or removed).
    #[error("{0}")]
    Partial(Partial<DockerError>),
}

fn engine(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> DockerError {
    let action = action.into();
    move |e| DockerError::Engine {
        action,
        message: e.to_string(),
    }
}

/// Removes a container whatever its state.
async fn remove(docker: &Docker, name: &str) -> Result<(), DockerError> {
    docker
        .remove_container(
            name,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
        .map_err(engine(format!("removing {name}")))
}

/// Connects to the local engine and checks it answers.
pub async fn connect() -> Result<Docker, DockerError> {
    let docker = Docker::connect_with_local_defaults()
        .map_err(|e| DockerError::Unreachable(e.to_string()))?;
    docker
        .ping()
        .await
        .map_err(|e| DockerError::Unreachable(e.to_string()))?;
    Ok(docker)
}

/// The containers twip owns in `env`: those with its full set of labels
/// (a stray `twip.env=ENV` is not enough). Fronts' live configurations are
/// not read here ([`Observed::live`] is `None`).
pub async fn observe(docker: &Docker, env: &str) -> Result<Vec<Observed>, DockerError> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![
            format!("{}={env}", labels::ENV),
            format!("{}={}", labels::MANAGED, labels::MANAGED_VALUE),
        ],
    )]);
    let list = docker
        .list_containers(Some(ListContainersOptions::<String> {
            all: true,
            filters,
            ..Default::default()
        }))
        .await
        .map_err(engine("listing containers"))?;
    Ok(list
        .into_iter()
        .filter_map(|c| {
            let l = c.labels.clone().unwrap_or_default();
            if labels::owner(|k| l.get(k).map(String::as_str)) != Some(env) {
                return None;
            }
            let status = c.status.unwrap_or_default();
            Some(Observed {
                name: c
                    .names
                    .and_then(|n| n.first().cloned())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                service: l.get(labels::SERVICE).cloned().unwrap_or_default(),
                running: c.state.as_deref() == Some("running"),
                healthy: if status.contains("(healthy)") {
                    Some(true)
                } else if status.contains("(unhealthy)") {
                    Some(false)
                } else {
                    None
                },
                publish: c
                    .ports
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|p| p.public_port)
                    .min(),
                live: None,
            })
        })
        .collect())
}

/// What a running front answers about the configuration nginx runs now.
async fn live_marker(docker: &Docker, name: &str) -> Option<String> {
    let script = format!(
        "curl -fsS --max-time 2 --unix-socket {} http://front{}",
        desired::FRONT_SOCKET,
        desired::FRONT_CONFIG_PATH
    );
    match exec_output(docker, name, &script).await {
        Ok((true, out)) => Some(out.trim().to_string()),
        _ => None,
    }
}

/// [`observe`], plus the live configuration of every running container of
/// `d`'s entry service.
async fn observe_desired(docker: &Docker, d: &Desired) -> Result<Vec<Observed>, DockerError> {
    let mut observed = observe(docker, &d.env).await?;
    let fronts: Vec<&str> = d
        .containers
        .iter()
        .filter(|c| c.is_proxy)
        .map(|c| c.service.as_str())
        .collect();
    for o in observed
        .iter_mut()
        .filter(|o| o.running && fronts.contains(&o.service.as_str()))
    {
        o.live = live_marker(docker, &o.name).await;
    }
    Ok(observed)
}

/// The host port the front of `env` publishes (the lowest, if it has
/// several replicas), if a front of `env` exists: what `--port` defaults to.
pub async fn published_port(env: &str) -> Result<Option<u16>, DockerError> {
    let docker = connect().await?;
    let observed = observe(&docker, env).await?;
    let running = observed
        .iter()
        .filter(|o| o.running)
        .filter_map(|o| o.publish)
        .min();
    Ok(running.or_else(|| observed.iter().filter_map(|o| o.publish).min()))
}

/// One request the front proxied, as its access log tells it
/// ([`desired::LOG_TAG`]).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamTime {
    /// When the request ended (Unix s, ms resolution).
    pub at_unix_s: f64,
    /// The service (the front's upstream) that answered it.
    pub service: String,
    /// The upstream's HTTP status.
    pub status: u16,
    /// How long that service took to answer, connection included (ms, on
    /// nginx's millisecond clock: a whole number of ms whose mean is the
    /// true mean).
    pub ms: f64,
}

/// Reads one line of the front's log; `None` for any other line and for
/// the front's own answers. When nginx tried several servers, the last
/// (the one that answered) counts.
pub fn parse_log_line(line: &str) -> Option<UpstreamTime> {
    let mut words = line.split_whitespace();
    if words.next()? != desired::LOG_TAG {
        return None;
    }
    let at_unix_s: f64 = words.next()?.parse().ok()?;
    let service = words.next()?;
    // "STATUS SECONDS", or after retries "S1, S2 T1, T2" (a ":" between
    // internal redirects): as many statuses as times; the last of each.
    let rest: Vec<&str> = words
        .map(|w| w.trim_end_matches(','))
        .filter(|w| *w != ":")
        .collect();
    if rest.len() < 2 || !rest.len().is_multiple_of(2) {
        return None;
    }
    let status: u16 = rest[rest.len() / 2 - 1].parse().ok()?;
    let seconds: f64 = rest[rest.len() - 1].parse().ok()?;
    if service == "-" || !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some(UpstreamTime {
        at_unix_s,
        service: service.to_string(),
        status,
        ms: seconds * 1e3,
    })
}

/// What the fronts of `env` logged for requests that ended between
/// `from_unix_s` and `to_unix_s`: every proxied request, in log order.
/// nginx flushes its log each second, so read a little after `to_unix_s`.
pub async fn upstream_times(
    env: &str,
    from_unix_s: f64,
    to_unix_s: f64,
) -> Result<Vec<UpstreamTime>, DockerError> {
    let docker = connect().await?;
    let fronts: Vec<String> = observe(&docker, env)
        .await?
        .into_iter()
        .filter(|o| o.running && o.publish.is_some())
        .map(|o| o.name)
        .collect();
    let mut out = Vec::new();
    for name in fronts {
        let mut logs = docker.logs(
            &name,
            Some(LogsOptions::<String> {
                stdout: true,
                since: from_unix_s.floor() as i64 - 1,
                ..Default::default()
            }),
        );
        let mut text = String::new();
        while let Some(chunk) = logs.next().await {
            let chunk = chunk.map_err(engine(format!("reading the log of {name}")))?;
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        out.extend(
            text.lines()
                .filter_map(parse_log_line)
                .filter(|t| t.at_unix_s >= from_unix_s && t.at_unix_s <= to_unix_s),
        );
    }
    Ok(out)
}

async fn ensure_images(docker: &Docker, d: &Desired) -> Result<(), DockerError> {
    let mut seen = Vec::new();
    for c in &d.containers {
        if seen.contains(&c.image) {
            continue;
        }
        seen.push(c.image.clone());
        if docker.inspect_image(&c.image).await.is_err() {
            return Err(DockerError::ImageMissing(c.image.clone()));
        }
    }
    Ok(())
}

/// Whether the environment's network exists; refuses one twip did not
/// create ([`DockerError::NetworkNotOwned`]).
async fn network_exists(docker: &Docker, d: &Desired) -> Result<bool, DockerError> {
    // The engine's name filter matches substrings: compare exactly.
    let filters = HashMap::from([("name".to_string(), vec![d.network.clone()])]);
    let nets = docker
        .list_networks(Some(ListNetworksOptions::<String> { filters }))
        .await
        .map_err(engine("listing networks"))?;
    let Some(net) = nets
        .iter()
        .find(|n| n.name.as_deref() == Some(d.network.as_str()))
    else {
        return Ok(false);
    };
    let l = net.labels.clone().unwrap_or_default();
    if labels::shared_owner(|k| l.get(k).map(String::as_str)) != Some(d.env.as_str()) {
        return Err(DockerError::NetworkNotOwned {
            network: d.network.clone(),
            env: d.env.clone(),
        });
    }
    Ok(true)
}

async fn create_network(docker: &Docker, d: &Desired) -> Result<(), DockerError> {
    let labels: HashMap<String, String> = labels::marks(&d.env, None).into_iter().collect();
    docker
        .create_network(CreateNetworkOptions {
            name: d.network.clone(),
            labels,
            ..Default::default()
        })
        .await
        .map_err(engine(format!("creating network {}", d.network)))?;
    Ok(())
}

fn host_cpus() -> i64 {
    std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1)
}

/// The container publishing host port `port`, if any.
async fn port_holder(docker: &Docker, port: u16) -> Option<String> {
    let filters = HashMap::from([("publish".to_string(), vec![port.to_string()])]);
    let list = docker
        .list_containers(Some(ListContainersOptions::<String> {
            filters,
            ..Default::default()
        }))
        .await
        .ok()?;
    list.into_iter()
        .find_map(|c| c.names.and_then(|n| n.first().cloned()))
        .map(|n| n.trim_start_matches('/').to_string())
}

/// Creates and starts `s`; a container that does not start is removed
/// again (no `Created` container is left behind).
async fn create(docker: &Docker, d: &Desired, s: &Spec) -> Result<(), DockerError> {
    let mut labels: HashMap<String, String> = labels::marks(&d.env, Some(&s.service))
        .into_iter()
        .collect();
    labels.insert(labels::REPLICA.to_string(), s.replica.to_string());
    labels.insert(labels::NODE.to_string(), s.node.clone());
    labels.insert(desired::LABEL_SPEC.to_string(), s.hash.clone());
    let mut env = s.env.clone();
    if s.is_proxy {
        env.push(format!(
            "TWIP_NGINX_CONF={}",
            base64::engine::general_purpose::STANDARD.encode(&d.proxy_conf)
        ));
    }
    let port_key = format!("{}/tcp", s.port);
    let port_bindings = s.publish.map(|p| {
        HashMap::from([(
            port_key.clone(),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(p.to_string()),
            }]),
        )])
    });
    let ns = |secs: f64| (secs * 1e9) as i64;
    let config = Config {
        image: Some(s.image.clone()),
        env: Some(env),
        cmd: s.cmd.clone(),
        labels: Some(labels),
        exposed_ports: Some(HashMap::from([(port_key, HashMap::new())])),
        healthcheck: Some(HealthConfig {
            test: Some(s.health.clone()),
            interval: Some(ns(s.health_interval_s.min(2.0))),
            timeout: Some(ns(2.0)),
            retries: Some(s.health_retries as i64),
            start_period: Some(ns(10.0)),
            start_interval: Some(ns(0.5)),
        }),
        host_config: Some(HostConfig {
            // A replica may not ask for more CPUs than this host has.
            nano_cpus: Some(s.nano_cpus.min(host_cpus() * 1_000_000_000)),
            memory: Some(s.memory_bytes),
            restart_policy: Some(restart(RestartPolicyNameEnum::UNLESS_STOPPED)),
            port_bindings,
            network_mode: Some(d.network.clone()),
            // The front logs every request: keep the engine's copy bounded.
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".into()),
                config: Some(HashMap::from([
                    ("max-size".to_string(), "10m".to_string()),
                    ("max-file".to_string(), "2".to_string()),
                ])),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: s.name.clone(),
                platform: None,
            }),
            config,
        )
        .await
        .map_err(engine(format!("creating {}", s.name)))?;
    if let Err(e) = docker
        .start_container(&s.name, None::<StartContainerOptions<String>>)
        .await
    {
        // Whatever the cause, leave no `Created` debris.
        let _ = remove(docker, &s.name).await;
        let m = e.to_string();
        return Err(match s.publish {
            Some(p)
                if m.contains("port is already allocated")
                    || m.contains("address already in use") =>
            {
                DockerError::PortTaken {
                    port: p,
                    holder: port_holder(docker, p).await,
                }
            }
            _ => DockerError::Engine {
                action: format!("starting {}", s.name),
                message: m,
            },
        });
    }
    Ok(())
}

fn restart(name: RestartPolicyNameEnum) -> RestartPolicy {
    RestartPolicy {
        name: Some(name),
        maximum_retry_count: None,
    }
}

async fn wait_healthy(docker: &Docker, name: &str, timeout: Duration) -> Result<(), DockerError> {
    let start = Instant::now();
    loop {
        let info = docker
            .inspect_container(name, None)
            .await
            .map_err(engine(format!("inspecting {name}")))?;
        let state = info.state.unwrap_or_default();
        if state.oom_killed == Some(true) {
            return Err(DockerError::Engine {
                action: format!("running {name}"),
                message: "killed for lack of memory; hint: raise the service's memory_mb".into(),
            });
        }
        if state.health.and_then(|h| h.status) == Some(HealthStatusEnum::HEALTHY) {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(DockerError::Unhealthy(name.to_string(), timeout.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs `script` with `sh -c` in `container`: whether it exited 0, and
/// what it printed.
async fn exec_output(
    docker: &Docker,
    container: &str,
    script: &str,
) -> Result<(bool, String), DockerError> {
    let action = format!("reconfiguring {container}");
    let id = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(vec!["sh".to_string(), "-c".to_string(), script.to_string()]),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(engine(action.clone()))?
        .id;
    let mut said = String::new();
    if let StartExecResults::Attached { mut output, .. } = docker
        .start_exec(&id, None)
        .await
        .map_err(engine(action.clone()))?
    {
        while let Some(Ok(chunk)) = output.next().await {
            said.push_str(&chunk.to_string());
        }
    }
    let code = docker
        .inspect_exec(&id)
        .await
        .map_err(engine(action))?
        .exit_code;
    Ok((code == Some(0), said))
}

/// Rewrites the front's nginx configuration, reloads it, and waits until
/// the reload took: the running nginx answers the new marker and no old
/// worker is still finishing requests (so what it sent to a container
/// about to be removed has completed: the container is drained).
async fn reload_proxy(docker: &Docker, d: &Desired, name: &str) -> Result<(), DockerError> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(&d.proxy_conf);
    let conf = desired::PROXY_CONF;
    let (sock, path) = (desired::FRONT_SOCKET, desired::FRONT_CONFIG_PATH);
    let marker = &d.front_marker;
    // The workers before the reload: nginx keeps each one until its last
    // request is done, so once they are all gone and the new configuration
    // answers, nothing is in flight to the containers it dropped.
    let workers = "for p in /proc/[0-9]*; do case \"$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)\" in 'nginx: worker process'*) echo ${p#/proc/};; esac; done";
    let script = format!(
        "old=$({workers}); echo {b64} | base64 -d > {conf}.new && nginx -t -c {conf}.new 2>&1 && mv {conf}.new {conf} && nginx -s reload -c {conf} 2>&1 && \
         i=0; while [ $i -lt {DRAIN_POLLS} ]; do \
         if [ \"$(curl -fsS --max-time 2 --unix-socket {sock} http://front{path})\" = '{marker}' ]; then \
         left=; for w in $old; do [ -e /proc/$w ] && left=1; done; [ -z \"$left\" ] && exit 0; fi; \
         sleep 0.1; i=$((i+1)); done; echo 'the reload did not take within {DRAIN_S} s (old workers still serving or the new configuration not answering)'; exit 1"
    );
    let (ok, said) = exec_output(docker, name, &script).await?;
    if !ok {
        return Err(DockerError::Engine {
            action: format!("reconfiguring {name}"),
            message: said.trim().to_string(),
        });
    }
    Ok(())
}

/// How long a reload may take to drain, in seconds, and in 0.1 s polls.
const DRAIN_S: u32 = 60;
const DRAIN_POLLS: u32 = DRAIN_S * 10;

/// Takes a running front out of service gracefully (nginx finishes what it
/// is serving, then exits), without the engine restarting it.
async fn stop_front(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let action = format!("stopping {name}");
    docker
        .update_container(
            name,
            UpdateContainerOptions::<String> {
                restart_policy: Some(restart(RestartPolicyNameEnum::NO)),
                ..Default::default()
            },
        )
        .await
        .map_err(engine(action.clone()))?;
    // SIGQUIT: nginx's graceful shutdown.
    let _ = docker
        .kill_container(name, Some(KillContainerOptions { signal: "SIGQUIT" }))
        .await;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(DRAIN_S as u64) {
        let info = docker
            .inspect_container(name, None)
            .await
            .map_err(engine(action.clone()))?;
        if info.state.and_then(|s| s.running) != Some(true) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    docker
        .stop_container(name, Some(StopContainerOptions { t: 1 }))
        .await
        .map_err(engine(action))
}

/// Puts a front [`stop_front`] stopped back into service.
async fn restore_front(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let action = format!("restarting {name}");
    docker
        .start_container(name, None::<StartContainerOptions<String>>)
        .await
        .map_err(engine(action.clone()))?;
    docker
        .update_container(
            name,
            UpdateContainerOptions::<String> {
                restart_policy: Some(restart(RestartPolicyNameEnum::UNLESS_STOPPED)),
                ..Default::default()
            },
        )
        .await
        .map_err(engine(action))
}

/// Replaces the front: the new one needs the host port the old one
/// publishes, so the old one is stopped gracefully, the new one started and
/// waited for; if it does not become healthy it is removed and the old one
/// started again. Returns how long no front served, and what was stopped.
async fn replace_front(
    docker: &Docker,
    d: &Desired,
    s: &Spec,
    old: &[&Observed],
) -> Result<Duration, DockerError> {
    let start = Instant::now();
    for o in old {
        stop_front(docker, &o.name).await?;
    }
    let new = async {
        create(docker, d, s).await?;
        wait_healthy(docker, &s.name, Duration::from_secs(60)).await
    };
    if let Err(e) = new.await {
        let _ = remove(docker, &s.name).await;
        for o in old {
            restore_front(docker, &o.name).await?;
        }
        return Err(e);
    }
    Ok(start.elapsed())
}

/// What an apply did: the [`Action`]s and whether they were carried out.
pub type Outcome = twip_deploy::Outcome<Action>;

/// Converges `env` to `d`; with `dry_run` only computes the changes.
/// `log` receives one line per step.
pub async fn apply(
    d: &Desired,
    dry_run: bool,
    log: &mut dyn FnMut(String),
) -> Result<Outcome, DockerError> {
    let docker = connect().await?;
    let network = network_exists(&docker, d).await?;
    let observed = observe_desired(&docker, d).await?;
    let actions = diff::diff(d, &observed);
    if dry_run || actions.is_empty() {
        return Ok(Outcome {
            actions,
            applied: false,
        });
    }
    ensure_images(&docker, d).await?;
    if !network {
        create_network(&docker, d).await?;
        log(format!("network {} created", d.network));
    }
    let mut done: Vec<String> = Vec::new();
    let left = |from: usize, acts: &[Action]| {
        acts[from..]
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
    };
    // Back ends before the front, so every upstream it names resolves;
    // then reloads (the front stops sending to what is about to go), then
    // removals.
    let mut ordered: Vec<Action> = actions.clone();
    ordered.sort_by_key(|a| match a {
        Action::Create(s) | Action::Replace(s) => usize::from(s.is_proxy),
        Action::Reload(_) => 2,
        Action::Remove(_) => 3,
    });
    for (i, a) in ordered.iter().enumerate() {
        let step = async {
            match a {
                Action::Create(s) if s.is_proxy => {
                    let old: Vec<&Observed> = observed
                        .iter()
                        .filter(|o| {
                            o.service == s.service
                                && o.running
                                && o.publish.is_some()
                                && o.publish == s.publish
                        })
                        .collect();
                    if old.is_empty() {
                        create(&docker, d, s).await?;
                        return wait_healthy(&docker, &s.name, Duration::from_secs(60)).await;
                    }
                    let gap = replace_front(&docker, d, s, &old).await?;
                    log(format!(
                        "front replaced: no front served for {} ms",
                        gap.as_millis()
                    ));
                    Ok(())
                }
                Action::Create(s) | Action::Replace(s) => {
                    if matches!(a, Action::Replace(_)) {
                        remove(&docker, &s.name).await?;
                    }
                    create(&docker, d, s).await?;
                    wait_healthy(&docker, &s.name, Duration::from_secs(60)).await
                }
                Action::Reload(s) => reload_proxy(&docker, d, &s.name).await,
                Action::Remove(o) => remove(&docker, &o.name).await,
            }
        };
        if let Err(e) = step.await {
            return Err(DockerError::Partial(Partial::new(
                e,
                done,
                left(i, &ordered),
            )));
        }
        log(a.to_string());
        done.push(a.to_string());
    }
    Ok(Outcome {
        actions: ordered,
        applied: true,
    })
}

/// One service's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStatus {
    /// Service.
    pub service: String,
    /// Replicas the plan wants.
    pub desired: usize,
    /// Of those, running.
    pub running: usize,
    /// Of those, healthy.
    pub healthy: usize,
    /// Containers of the service that the plan does not want (old specs).
    pub extra: usize,
    /// Running fronts of the service whose live upstreams are not the
    /// plan's (0 for a back end).
    pub stale_fronts: usize,
}

impl ServiceStatus {
    /// Whether it differs from the plan.
    pub fn drift(&self) -> bool {
        self.running < self.desired
            || self.healthy < self.desired
            || self.extra > 0
            || self.stale_fronts > 0
    }
}

/// Desired against running, per service, the fronts' live upstreams
/// included.
pub async fn status(d: &Desired) -> Result<Vec<ServiceStatus>, DockerError> {
    let docker = connect().await?;
    let observed = observe_desired(&docker, d).await?;
    let actions = diff::diff(d, &observed);
    let mut services: Vec<String> = Vec::new();
    for c in &d.containers {
        if !services.contains(&c.service) {
            services.push(c.service.clone());
        }
    }
    for o in &observed {
        if !services.contains(&o.service) {
            services.push(o.service.clone());
        }
    }
    Ok(services
        .into_iter()
        .map(|svc| {
            let want: Vec<&Spec> = d.containers.iter().filter(|c| c.service == svc).collect();
            let have = |name: &str| observed.iter().find(|o| o.name == name);
            ServiceStatus {
                desired: want.len(),
                running: want
                    .iter()
                    .filter(|w| have(&w.name).is_some_and(|o| o.running))
                    .count(),
                healthy: want
                    .iter()
                    .filter(|w| have(&w.name).is_some_and(|o| o.healthy == Some(true)))
                    .count(),
                extra: observed
                    .iter()
                    .filter(|o| o.service == svc && !want.iter().any(|w| w.name == o.name))
                    .count(),
                stale_fronts: actions
                    .iter()
                    .filter(|a| matches!(a, Action::Reload(s) if s.service == svc))
                    .count(),
                service: svc,
            }
        })
        .collect())
}

/// Removes everything twip owns in `env` (containers, then its network);
/// returns the names removed. A failure half-way is
/// [`DockerError::Partial`]: what was removed and what was not.
pub async fn destroy(env: &str) -> Result<Vec<String>, DockerError> {
    let docker = connect().await?;
    let containers: Vec<String> = observe(&docker, env)
        .await?
        .into_iter()
        .map(|o| o.name)
        .collect();
    let filters = HashMap::from([(
        "label".to_string(),
        vec![
            format!("{}={env}", labels::ENV),
            format!("{}={}", labels::MANAGED, labels::MANAGED_VALUE),
        ],
    )]);
    let networks: Vec<String> = docker
        .list_networks(Some(ListNetworksOptions::<String> { filters }))
        .await
        .map_err(engine("listing networks"))?
        .into_iter()
        .filter(|n| {
            let l = n.labels.clone().unwrap_or_default();
            labels::shared_owner(|k| l.get(k).map(String::as_str)) == Some(env)
        })
        .filter_map(|n| n.name)
        .collect();
    let mut removed: Vec<String> = Vec::new();
    let todo: Vec<(bool, &String)> = containers
        .iter()
        .map(|c| (false, c))
        .chain(networks.iter().map(|n| (true, n)))
        .collect();
    for (i, (is_network, name)) in todo.iter().enumerate() {
        let r = if *is_network {
            docker
                .remove_network(name)
                .await
                .map_err(engine(format!("removing network {name}")))
        } else {
            remove(&docker, name).await
        };
        if let Err(e) = r {
            let what = |(n, x): &(bool, &String)| {
                format!("{} {x}", if *n { "network" } else { "container" })
            };
            return Err(DockerError::Partial(Partial::destroy(
                e,
                removed,
                todo[i..].iter().map(what).collect(),
            )));
        }
        removed.push(name.to_string());
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fronts_log_lines_are_read_and_others_skipped() {
        let t = parse_log_line("twip 1765152000.123 app 200 0.061").unwrap();
        assert_eq!(
            t,
            UpstreamTime {
                at_unix_s: 1_765_152_000.123,
                service: "app".into(),
                status: 200,
                ms: 61.0
            }
        );
        // After a retry on another server: the last one answered.
        let t = parse_log_line("twip 1765152000.5 app 502, 200 2.001, 0.030").unwrap();
        assert_eq!((t.status, t.ms), (200, 30.0));
        // The front's own answers, nginx's other lines, garbage.
        for line in [
            "twip 1765152000.5 - - -",
            "2026/12/07 10:00:00 [notice] 1#1: signal process started",
            "twip",
            "twip x app 200 0.1",
            "twip 1.0 app 200",
            "twip 1.0 app 200 -0.1",
        ] {
            assert_eq!(parse_log_line(line), None, "{line}");
        }
    }
}
