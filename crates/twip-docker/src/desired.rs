//! What should run: one container spec per placement of the plan, and the
//! front proxy's configuration. Pure: no engine here.

use twip_deploy::{check_env_name, curl_check, service_specs, NameError};
use twip_model::plan::Plan;
use twip_model::Scenario;

/// Hash of the container spec: a changed spec means a new container (the
/// other labels, shared with twip-ecs, are in [`twip_deploy::labels`]).
pub const LABEL_SPEC: &str = "twip.spec";

/// Where the front proxy keeps its configuration inside its container.
pub const PROXY_CONF: &str = "/etc/twip/nginx.conf";

/// The front's own socket inside its container (never published): it
/// answers [`FRONT_CONFIG_PATH`] with the [`Desired::front_marker`] of the
/// configuration nginx runs *now*, which is how twip observes the live
/// upstreams, not the file on disk.
pub const FRONT_SOCKET: &str = "/run/twip-front.sock";

/// The path on [`FRONT_SOCKET`] that answers the running configuration's marker.
pub const FRONT_CONFIG_PATH: &str = "/twip-config";

/// One container to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Container name: `twip-ENV-SERVICE-REPLICA-HASH`.
    pub name: String,
    /// Service.
    pub service: String,
    /// Replica index.
    pub replica: u32,
    /// Plan node.
    pub node: String,
    /// Image.
    pub image: String,
    /// Environment (`K=V`).
    pub env: Vec<String>,
    /// Command, if not the image's.
    pub cmd: Option<Vec<String>>,
    /// CPU limit in 1e-9 CPUs.
    pub nano_cpus: i64,
    /// Memory limit in bytes.
    pub memory_bytes: i64,
    /// Port the container listens on.
    pub port: u16,
    /// Host port on 127.0.0.1, for the entry service only.
    pub publish: Option<u16>,
    /// Health check command (Docker `CMD` form).
    pub health: Vec<String>,
    /// Health check interval in seconds.
    pub health_interval_s: f64,
    /// Consecutive failures before unhealthy.
    pub health_retries: u32,
    /// Hash of everything above but the name.
    pub hash: String,
    /// True for the entry service (the nginx front twip configures).
    pub is_proxy: bool,
}

/// The desired state of one environment.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Environment name.
    pub env: String,
    /// Docker network of the environment.
    pub network: String,
    /// Containers, services in scenario order.
    pub containers: Vec<Spec>,
    /// nginx configuration of the front, from the plan's replicas.
    pub proxy_conf: String,
    /// What a front running [`Desired::proxy_conf`] answers on
    /// [`FRONT_CONFIG_PATH`]: a hash of the configuration and its upstreams
    /// (`HASH SERVICE=NAME,NAME ...`).
    pub front_marker: String,
    /// Warnings to show before applying (e.g. a service with no replica).
    pub warnings: Vec<String>,
}

/// FNV-1a, stable across Rust versions (unlike `DefaultHasher`).
fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")[..8].to_string()
}

/// The desired state of `env` for `plan` over `scenario`, the entry
/// published on 127.0.0.1:`port`.
pub fn desired(
    plan: &Plan,
    scenario: &Scenario,
    env: &str,
    port: u16,
) -> Result<Desired, NameError> {
    check_env_name(env)?;
    let (services, warnings) = service_specs(plan, scenario);
    let mut containers = Vec::new();
    for svc in &services {
        for r in 0..svc.replicas {
            let node = plan
                .placements
                .iter()
                .find(|p| p.service == svc.service && p.replica == r)
                .map(|p| p.node.clone())
                .unwrap_or_else(|| "unplaced".into());
            let (env_vars, cmd, health) = if svc.is_entry {
                (
                    vec![],
                    Some(vec!["sh".into(), "-c".into(), front_script()]),
                    curl_check(svc.port, "/twip-health"),
                )
            } else if svc.env.is_empty() {
                (vec![], None, svc.health.clone())
            } else {
                // The test backend names its replica in its answers.
                let mut e = svc.env.clone();
                e.push(format!("TWIP_NAME={}-{r}", svc.service));
                (e, None, svc.health.clone())
            };
            let mut spec = Spec {
                name: String::new(),
                service: svc.service.clone(),
                replica: r,
                node,
                image: svc.image.clone(),
                env: env_vars,
                cmd,
                nano_cpus: (svc.cpu * 1e9) as i64,
                memory_bytes: svc.memory_mb as i64 * 1024 * 1024,
                port: svc.port,
                publish: (svc.is_entry).then(|| port + r as u16),
                health,
                health_interval_s: svc.health_interval_s,
                health_retries: svc.health_retries,
                hash: String::new(),
                is_proxy: svc.is_entry,
            };
            spec.hash = fnv(&format!(
                "{:?}",
                (
                    &spec.image,
                    &spec.env,
                    &spec.cmd,
                    spec.nano_cpus,
                    spec.memory_bytes,
                    spec.port,
                    spec.publish,
                    &spec.health,
                    spec.health_interval_s.to_bits(),
                    spec.health_retries,
                    &spec.node
                )
            ));
            spec.name = format!("twip-{env}-{}-{r}-{}", svc.service, spec.hash);
            containers.push(spec);
        }
    }
    let (proxy_conf, front_marker) = proxy_conf(scenario, &containers);
    Ok(Desired {
        env: env.to_string(),
        network: format!("twip-{env}"),
        containers,
        proxy_conf,
        front_marker,
        warnings,
    })
}

/// The front container's command: write the configuration it was created
/// with (unless a reload already replaced it), start a watcher, remove a
/// socket a killed nginx left, run nginx.
///
/// nginx resolves an upstream's name once, when it loads its configuration
/// (the `resolve` parameter of open-source nginx needs 1.27.3; the image's
/// Debian nginx is 1.22), so a replica that restarts with a new address
/// would keep getting the old one. The watcher resolves the upstreams'
/// names on the environment's network (Docker's embedded DNS) every second
/// and reloads nginx when an address changes; a name that does not resolve
/// (a stopped replica) makes that reload fail and the running
/// configuration stays, until it resolves again.
fn front_script() -> String {
    format!(
        "mkdir -p /etc/twip && [ -s {PROXY_CONF} ] || echo \"$TWIP_NGINX_CONF\" | base64 -d > {PROXY_CONF}; \
         ( prev=start; while sleep 1; do \
         cur=$(sed -n 's/^ *server \\([^ :]*\\):.*/\\1/p' {PROXY_CONF} | while read -r h; do getent hosts \"$h\"; done); \
         if [ \"$prev\" != start ] && [ \"$cur\" != \"$prev\" ]; then nginx -s reload -c {PROXY_CONF} >/dev/null 2>&1; fi; \
         prev=$cur; done ) & \
         rm -f {FRONT_SOCKET}; exec nginx -c {PROXY_CONF} -g 'daemon off;'"
    )
}

/// A length of time as nginx reads it: whole seconds, else milliseconds.
fn nginx_time(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{:.0}ms", s * 1e3)
    }
}

/// The first word of every line the front logs per request (nginx's
/// `log_format twip`): `twip MSEC UPSTREAM STATUS SECONDS`, the time the
/// request ended (Unix seconds, ms resolution), the upstream it was proxied
/// to (`-` for the front's own answers), the upstream's status and how long
/// the upstream took to answer (s, nginx's millisecond clock; several,
/// comma-separated, when it retried on another server).
pub const LOG_TAG: &str = "twip";

/// nginx configuration of the front and its marker: one upstream per
/// service it calls, `/NAME/` routed to each, `/` to the last call,
/// `/twip-health` for checks, and a server on [`FRONT_SOCKET`] that answers
/// the marker (a hash of the rest of the configuration and the upstreams'
/// names). Upstreams name containers on the environment's network.
pub fn proxy_conf(scenario: &Scenario, containers: &[Spec]) -> (String, String) {
    let entry = &scenario.services[scenario.traffic.entry];
    let mut upstreams = String::new();
    let mut locations = String::new();
    let mut marker = String::new();
    for (k, call) in entry.calls.iter().enumerate() {
        let svc = &scenario.services[call.to];
        let names: Vec<&str> = containers
            .iter()
            .filter(|c| c.service == svc.name)
            .map(|c| c.name.as_str())
            .collect();
        marker.push_str(&format!(" {}={}", svc.name, names.join(",")));
        // The scenario's `upstream` is what nginx does with a dead back
        // end; without it, the defaults this front has always had.
        let (max_fails, fail_timeout, per_location) = match &svc.upstream {
            Some(u) => (
                u.max_fails,
                nginx_time(u.fail_timeout_s),
                format!(
                    " proxy_connect_timeout {}; proxy_next_upstream {};",
                    nginx_time(u.connect_timeout_s),
                    if u.next_upstream {
                        "error timeout http_502"
                    } else {
                        "off"
                    }
                ),
            ),
            None => (1, "5s".to_string(), String::new()),
        };
        let servers: Vec<String> = containers
            .iter()
            .filter(|c| c.service == svc.name)
            .map(|c| {
                format!(
                    "    server {}:{} max_fails={max_fails} fail_timeout={fail_timeout};\n",
                    c.name, c.port
                )
            })
            .collect();
        // nginx needs a server per upstream; a service with no replica gets
        // one that refuses, so the front answers 502 as a real one would.
        let servers = if servers.is_empty() {
            "    server 127.0.0.1:1;\n".to_string()
        } else {
            servers.concat()
        };
        // The scenario's balancer, as nginx spells it (round robin is its
        // default; least_conn counts the requests this front has in flight
        // at each server, queued ones included, as the model does).
        let balance = match svc.balancer {
            twip_model::Balancer::RoundRobin => "",
            twip_model::Balancer::LeastConnections => "    least_conn;\n",
            twip_model::Balancer::Random => "    random;\n",
        };
        upstreams.push_str(&format!(
            "  upstream {} {{\n{balance}{servers}  }}\n",
            svc.name
        ));
        locations.push_str(&format!(
            "    location /{}/ {{ proxy_pass http://{}/;{per_location} }}\n",
            svc.name, svc.name
        ));
        if k + 1 == entry.calls.len() {
            locations.push_str(&format!(
                "    location / {{ proxy_pass http://{};{per_location} }}\n",
                svc.name
            ));
        }
    }
    let conf = |marker_server: &str| {
        format!(
            "worker_processes 1;\npid /run/nginx.pid;\nevents {{ worker_connections 1024; }}\nhttp {{\n  log_format twip '{LOG_TAG} $msec $proxy_host $upstream_status $upstream_response_time';\n  access_log /dev/stdout twip buffer=32k flush=1s;\n  proxy_next_upstream error timeout http_502;\n  proxy_connect_timeout 2s;\n  resolver 127.0.0.11 valid=5s;\n{upstreams}  server {{\n    listen {};\n    location = /twip-health {{ return 200 'ok'; }}\n{locations}  }}\n{marker_server}}}\n",
            entry.port
        )
    };
    let marker = format!("{}{marker}", fnv(&conf("")));
    let server = format!(
        "  server {{\n    listen unix:{FRONT_SOCKET};\n    location = {FRONT_CONFIG_PATH} {{ return 200 '{marker}'; }}\n  }}\n"
    );
    (conf(&server), marker)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn front(upstream: &str) -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text = std::fs::read_to_string(root.join("scenarios/twip/limited-release.toml"))
            .unwrap()
            .replace(
                "health_check = { interval = \"5s\", failures = 3 }\nimage = \"twip/app:latest\"",
                &format!(
                    "health_check = {{ interval = \"5s\", failures = 3 }}\n{upstream}\nimage = \
                     \"twip/app:latest\""
                ),
            );
        let path = root.join("scenarios/twip/limited-release.toml");
        let scenario = Scenario::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"));
        let plan = Plan::load(root.join("reports/plans/limited-release.json")).unwrap();
        desired(&plan, &scenario, "t", 18080).unwrap().proxy_conf
    }

    #[test]
    fn the_scenarios_upstream_is_the_fronts_behaviour_with_a_dead_back_end() {
        let plain = front("");
        let conf = front(
            "upstream = { next_upstream = false, connect_timeout = \"1.5s\", max_fails = 3, \
             fail_timeout = \"20s\" }",
        );
        assert_ne!(plain, conf, "the upstream table changes the front");
        // app's servers and both of its locations (/app/ and /) say so.
        assert!(conf.contains("max_fails=3 fail_timeout=20s;"), "{conf}");
        assert_eq!(
            conf.matches("proxy_connect_timeout 1500ms; proxy_next_upstream off;")
                .count(),
            2,
            "{conf}"
        );
        // The scenario's balancers: app's least connections, static's round
        // robin (nginx's default).
        let app = &conf[conf.find("upstream app {").unwrap()..];
        assert!(
            app[..app.find('}').unwrap()].contains("least_conn;"),
            "{conf}"
        );
        let st = &conf[conf.find("upstream static {").unwrap()..];
        assert!(
            !st[..st.find('}').unwrap()].contains("least_conn"),
            "{conf}"
        );
        // static keeps the defaults, as a front without the table does.
        assert!(conf.contains("max_fails=1 fail_timeout=5s;"), "{conf}");
        assert!(!plain.contains("proxy_next_upstream off"), "{plain}");
        assert!(!plain.contains("max_fails=3"), "{plain}");
        // nginx's own defaults when the table says nothing.
        let defaults = front("upstream = {}");
        assert!(
            defaults.contains("max_fails=1 fail_timeout=10s;"),
            "{defaults}"
        );
        assert!(
            defaults
                .contains("proxy_connect_timeout 60s; proxy_next_upstream error timeout http_502;"),
            "{defaults}"
        );
    }
}
