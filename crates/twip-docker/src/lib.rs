//! Applies a twip plan to a Docker engine through bollard.
//!
//! [`desired::desired`] turns a plan (and its scenario) into container specs
//! and the front proxy's configuration; [`diff::diff`] compares them with
//! what the engine runs (only containers labelled `twip.env=ENV`); [`apply`]
//! executes the changes in an order that keeps serving: new containers up
//! and healthy first, then the front's upstreams rewritten and reloaded,
//! then the old containers removed. Container names carry a hash of their
//! spec, so a changed spec means a new container, never an in-place edit.

#![deny(missing_docs)]

pub mod desired;
pub mod diff;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bollard::container::{
    Config, CreateContainerOptions, ListContainersOptions, RemoveContainerOptions,
    StartContainerOptions,
};
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    HealthConfig, HealthStatusEnum, HostConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
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
    /// The entry's host port is taken.
    #[error("port 127.0.0.1:{0} is already in use; hint: pass --port with a free one")]
    PortTaken(u16),
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
    /// Stopped half-way: what was and was not applied.
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

/// The containers twip owns in `env`.
pub async fn observe(docker: &Docker, env: &str) -> Result<Vec<Observed>, DockerError> {
    let filters = HashMap::from([("label".to_string(), vec![format!("{}={env}", labels::ENV)])]);
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
        .map(|c| {
            let status = c.status.unwrap_or_default();
            Observed {
                name: c
                    .names
                    .and_then(|n| n.first().cloned())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                service: c
                    .labels
                    .and_then(|l| l.get(labels::SERVICE).cloned())
                    .unwrap_or_default(),
                running: c.state.as_deref() == Some("running"),
                healthy: if status.contains("(healthy)") {
                    Some(true)
                } else if status.contains("(unhealthy)") {
                    Some(false)
                } else {
                    None
                },
            }
        })
        .collect())
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

async fn ensure_network(docker: &Docker, d: &Desired) -> Result<bool, DockerError> {
    let filters = HashMap::from([("name".to_string(), vec![d.network.clone()])]);
    let nets = docker
        .list_networks(Some(ListNetworksOptions::<String> { filters }))
        .await
        .map_err(engine("listing networks"))?;
    if nets
        .iter()
        .any(|n| n.name.as_deref() == Some(d.network.as_str()))
    {
        return Ok(false);
    }
    let labels = HashMap::from([(labels::ENV.to_string(), d.env.clone())]);
    docker
        .create_network(CreateNetworkOptions {
            name: d.network.clone(),
            labels,
            ..Default::default()
        })
        .await
        .map_err(engine(format!("creating network {}", d.network)))?;
    Ok(true)
}

fn host_cpus() -> i64 {
    std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1)
}

async fn create(docker: &Docker, d: &Desired, s: &Spec) -> Result<(), DockerError> {
    let mut labels = HashMap::from([
        (labels::ENV.to_string(), d.env.clone()),
        (labels::SERVICE.to_string(), s.service.clone()),
        (labels::REPLICA.to_string(), s.replica.to_string()),
        (labels::NODE.to_string(), s.node.clone()),
    ]);
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
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            port_bindings,
            network_mode: Some(d.network.clone()),
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
    docker
        .start_container(&s.name, None::<StartContainerOptions<String>>)
        .await
        .map_err(|e| {
            let m = e.to_string();
            match s.publish {
                Some(p)
                    if m.contains("port is already allocated")
                        || m.contains("address already in use") =>
                {
                    DockerError::PortTaken(p)
                }
                _ => DockerError::Engine {
                    action: format!("starting {}", s.name),
                    message: m,
                },
            }
        })
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

async fn exec(docker: &Docker, container: &str, script: &str) -> Result<(), DockerError> {
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
        .map_err(engine(action.clone()))?
        .exit_code;
    if code != Some(0) {
        return Err(DockerError::Engine {
            action,
            message: format!("exit {code:?}: {}", said.trim()),
        });
    }
    Ok(())
}

/// Rewrites the front's nginx configuration and reloads it (no restart).
async fn reload_proxy(docker: &Docker, d: &Desired, name: &str) -> Result<(), DockerError> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(&d.proxy_conf);
    let conf = desired::PROXY_CONF;
    let script = format!("echo {b64} | base64 -d > {conf}.new && nginx -t -c {conf}.new 2>&1 && mv {conf}.new {conf} && nginx -s reload -c {conf}");
    exec(docker, name, &script).await
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
    let observed = observe(&docker, &d.env).await?;
    let actions = diff::diff(d, &observed);
    if dry_run || actions.is_empty() {
        return Ok(Outcome {
            actions,
            applied: false,
        });
    }
    ensure_images(&docker, d).await?;
    if ensure_network(&docker, d).await? {
        log(format!("network {} created", d.network));
    }
    let mut done: Vec<String> = Vec::new();
    let left = |from: usize, acts: &[Action]| {
        acts[from..]
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
    };
    // Back ends before the front, so every upstream it names resolves.
    let mut order: Vec<&Action> = actions.iter().collect();
    order.sort_by_key(|a| match a {
        Action::Create(s) | Action::Replace(s) => {
            if s.is_proxy {
                1
            } else {
                0
            }
        }
        Action::Remove(_) => 2,
    });
    let ordered: Vec<Action> = order.into_iter().cloned().collect();
    let mut reloaded = false;
    for (i, a) in ordered.iter().enumerate() {
        let step = async {
            match a {
                Action::Create(s) | Action::Replace(s) => {
                    if matches!(a, Action::Replace(_)) {
                        remove(&docker, &s.name).await?;
                    }
                    create(&docker, d, s).await?;
                    wait_healthy(&docker, &s.name, Duration::from_secs(60)).await
                }
                Action::Remove(o) => {
                    if !reloaded {
                        // The front first stops sending to what is about to go.
                        for p in d.containers.iter().filter(|c| c.is_proxy) {
                            reload_proxy(&docker, d, &p.name).await?;
                        }
                    }
                    remove(&docker, &o.name).await
                }
            }
        };
        if let Err(e) = step.await {
            return Err(DockerError::Partial(Partial::new(
                e,
                done,
                left(i, &ordered),
            )));
        }
        if matches!(a, Action::Remove(_)) {
            reloaded = true;
        }
        log(a.to_string());
        done.push(a.to_string());
    }
    if !reloaded {
        // Replicas were added: existing fronts learn about them.
        let fresh: Vec<&str> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Create(s) | Action::Replace(s) => Some(s.name.as_str()),
                Action::Remove(_) => None,
            })
            .collect();
        for p in d
            .containers
            .iter()
            .filter(|c| c.is_proxy && !fresh.contains(&c.name.as_str()))
        {
            if let Err(e) = reload_proxy(&docker, d, &p.name).await {
                return Err(DockerError::Partial(Partial::new(
                    e,
                    done,
                    vec![format!("reload {}", p.name)],
                )));
            }
            log(format!("~ reloaded  {} (upstreams from the plan)", p.name));
        }
    }
    Ok(Outcome {
        actions,
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
}

/// Desired against running, per service.
pub async fn status(d: &Desired) -> Result<Vec<ServiceStatus>, DockerError> {
    let docker = connect().await?;
    let observed = observe(&docker, &d.env).await?;
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
                service: svc,
            }
        })
        .collect())
}

/// Removes everything twip owns in `env` (containers, then its network);
/// returns the names removed.
pub async fn destroy(env: &str) -> Result<Vec<String>, DockerError> {
    let docker = connect().await?;
    let mut removed = Vec::new();
    for o in observe(&docker, env).await? {
        remove(&docker, &o.name).await?;
        removed.push(o.name);
    }
    let filters = HashMap::from([("label".to_string(), vec![format!("{}={env}", labels::ENV)])]);
    let nets = docker
        .list_networks(Some(ListNetworksOptions::<String> { filters }))
        .await
        .map_err(engine("listing networks"))?;
    for n in nets {
        if let Some(name) = n.name {
            docker
                .remove_network(&name)
                .await
                .map_err(engine(format!("removing network {name}")))?;
            removed.push(name);
        }
    }
    Ok(removed)
}
