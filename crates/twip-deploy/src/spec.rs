//! What each service of a plan runs as, whatever the target (Docker, ECS):
//! image, environment, CPU, memory, port and health check, derived from the
//! scenario, and the replica count from the plan. Pure: the appliers add
//! what only their target needs (the Docker front's proxy configuration,
//! ECS task definitions).

use twip_model::plan::Plan;
use twip_model::{Dist, Scenario};

/// One service as a container, the same for every replica.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// Service name.
    pub service: String,
    /// Replicas the plan wants.
    pub replicas: u32,
    /// True for the scenario's entry service.
    pub is_entry: bool,
    /// Image.
    pub image: String,
    /// Environment (`K=V`), in a fixed order.
    pub env: Vec<String>,
    /// vCPU per replica.
    pub cpu: f64,
    /// Memory per replica in MiB.
    pub memory_mb: u32,
    /// Port the container listens on.
    pub port: u16,
    /// Health check command (`CMD` form, as Docker and ECS take it).
    pub health: Vec<String>,
    /// Health check interval in seconds.
    pub health_interval_s: f64,
    /// Consecutive failures before unhealthy.
    pub health_retries: u32,
}

/// A name twip would give to objects it creates, refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// An environment name (`--env`) with other characters than letters,
    /// digits and '-', or empty.
    #[error("environment name {0:?}: use letters, digits and '-'")]
    Environment(String),
    /// An ECS cluster name (`--cluster`) with other characters than
    /// letters, digits, '-' and '_', empty, or longer than 255.
    #[error("cluster name {0:?}: use up to 255 letters, digits, '-' and '_'")]
    Cluster(String),
}

/// Checks an environment name: letters, digits and '-', not empty.
pub fn check_env_name(env: &str) -> Result<(), NameError> {
    if env.is_empty() || !env.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(NameError::Environment(env.to_string()));
    }
    Ok(())
}

/// Checks an ECS cluster name: up to 255 letters, digits, '-' and '_'.
pub fn check_cluster_name(cluster: &str) -> Result<(), NameError> {
    if cluster.is_empty()
        || cluster.len() > 255
        || !cluster
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(NameError::Cluster(cluster.to_string()));
    }
    Ok(())
}

/// A health check that asks `http://127.0.0.1:PORT PATH` with curl.
pub fn curl_check(port: u16, path: &str) -> Vec<String> {
    ["CMD", "curl", "-fsS", "-o", "/dev/null"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("http://127.0.0.1:{port}{path}")])
        .collect()
}

/// `TWIP_SERVICE_TIME` for the test backend, from the scenario's distribution.
fn service_time_env(d: &Dist) -> String {
    match d {
        Dist::Exponential { mean_ms } => format!("exponential:{mean_ms}"),
        Dist::Constant { mean_ms } => format!("constant:{mean_ms}"),
        Dist::Lognormal { .. } => format!("lognormal:{}:{}", d.mean_ms(), d.quantile_ms(0.99)),
        Dist::Gamma { .. } => format!("gamma:{}:{}", d.mean_ms(), d.quantile_ms(0.99)),
        // The backend does not resample measurements: it keeps their mean.
        Dist::Empirical { .. } => format!("constant:{}", d.mean_ms()),
    }
}

/// Every service of `scenario` as a container, replica counts from `plan`
/// (the scenario's own count for a service the plan does not name), services
/// in scenario order; and warnings (a service with no replica).
///
/// The `twip/app` test backend gets its port, service time and workers from
/// the environment and is checked with its own `--health`; any other image
/// is checked with curl on its port.
pub fn service_specs(plan: &Plan, scenario: &Scenario) -> (Vec<ServiceSpec>, Vec<String>) {
    let entry = &scenario.services[scenario.traffic.entry];
    let mut specs = Vec::new();
    let mut warnings = Vec::new();
    for (si, svc) in scenario.services.iter().enumerate() {
        let replicas = *plan.replicas.get(&svc.name).unwrap_or(&svc.replicas);
        if replicas == 0 {
            let callers: Vec<&str> = scenario
                .services
                .iter()
                .filter(|s| s.calls.iter().any(|c| c.to == si))
                .map(|s| s.name.as_str())
                .collect();
            warnings.push(format!(
                "service {} has no replica: requests routed to it will fail{}",
                svc.name,
                if callers.is_empty() {
                    String::new()
                } else {
                    format!(" (the front answers 502 for {})", callers.join(", "))
                }
            ));
        }
        let is_entry = svc.name == entry.name;
        let (env, health) = if !is_entry && svc.image.starts_with("twip/app") {
            (
                vec![
                    format!("PORT={}", svc.port),
                    format!("TWIP_SERVICE_TIME={}", service_time_env(&svc.service_time)),
                    format!("TWIP_WORKERS={}", svc.workers),
                ],
                vec!["CMD".into(), "/twip-testapp".into(), "--health".into()],
            )
        } else {
            (vec![], curl_check(svc.port, "/"))
        };
        specs.push(ServiceSpec {
            service: svc.name.clone(),
            replicas,
            is_entry,
            image: svc.image.clone(),
            env,
            cpu: svc.cpu,
            memory_mb: svc.memory_mb,
            port: svc.port,
            health,
            health_interval_s: svc.health_check.interval_s,
            health_retries: svc.health_check.failures,
        });
    }
    (specs, warnings)
}

/// What an applier would find wrong with a service's image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageProblem {
    /// Not an image reference Docker or ECS accept.
    #[error("{image:?} is not an image reference ({why}); expected [REGISTRY/]NAME[:TAG][@DIGEST] such as \"nginx:1.27\" or \"ghcr.io/acme/app:v2\"")]
    Malformed {
        /// The image.
        image: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The scenario names no image, so the appliers would run the default
    /// `twip/SERVICE:latest`, which no build makes (only `twip/app` and
    /// `twip/nginx` are built by `images/build.sh`).
    #[error("no image given: twip apply would run {image}, which images/build.sh does not build; set image = \"...\"")]
    Unnamed {
        /// The default image.
        image: String,
    },
}

/// Checks an image reference the way a registry would read it:
/// `[REGISTRY[:PORT]/]NAME[/NAME...][:TAG][@ALGO:HEX]`, the name's parts
/// lowercase letters, digits and separators (`.`, `_`, `-`), the tag up to
/// 128 letters, digits, `_`, `.` and `-`.
pub fn check_image(image: &str) -> Result<(), ImageProblem> {
    let bad = |why| {
        Err(ImageProblem::Malformed {
            image: image.to_string(),
            why,
        })
    };
    if image.is_empty() {
        return bad("empty");
    }
    if image.chars().any(|c| c.is_whitespace()) {
        return bad("it holds whitespace");
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        match d.split_once(':') {
            Some((algo, hex))
                if !algo.is_empty()
                    && !hex.is_empty()
                    && hex.chars().all(|c| c.is_ascii_hexdigit()) => {}
            _ => return bad("the digest is not ALGO:HEX"),
        }
    }
    // A tag is after the last ':' that follows the last '/'.
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        if t.is_empty()
            || t.len() > 128
            || t.starts_with(['.', '-'])
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return bad("the tag is not up to 128 letters, digits, '_', '.' and '-'");
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    // A first part with a '.' or ':' (or `localhost`) is a registry host.
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        parts.remove(0);
    }
    for p in parts {
        let sep = |c: char| ".-_".contains(c);
        if p.is_empty()
            || p.starts_with(sep)
            || p.ends_with(sep)
            || !p
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || sep(c))
        {
            return bad(
                "a name part is not lowercase letters and digits with '.', '_' or '-' between",
            );
        }
    }
    Ok(())
}

/// Every image problem of the scenario's services: `(service index,
/// problem)`, in service order. A service without `image` has the
/// scenario's default `twip/SERVICE:latest`.
pub fn image_problems(scenario: &Scenario) -> Vec<(usize, ImageProblem)> {
    let mut out = Vec::new();
    for (i, s) in scenario.services.iter().enumerate() {
        if let Err(p) = check_image(&s.image) {
            out.push((i, p));
        } else if s.image == format!("twip/{}:latest", s.name)
            && !matches!(s.name.as_str(), "app" | "nginx")
        {
            out.push((
                i,
                ImageProblem::Unnamed {
                    image: s.image.clone(),
                },
            ));
        }
    }
    out
}

#[cfg(test)]
mod image_tests {
    use super::*;

    #[test]
    fn image_references_are_read_as_a_registry_would() {
        for ok in [
            "nginx",
            "twip/app:latest",
            "ghcr.io/acme/app:v2.1",
            "localhost:5000/x/y:1",
            "redis@sha256:abcdef0123",
            "a.b-c_d/e:1_2-3.4",
        ] {
            assert_eq!(check_image(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("my app", "whitespace"),
            ("Twip/App:latest", "name part"),
            ("twip/app:", "tag"),
            ("twip/app:-x", "tag"),
            ("twip//app", "name part"),
            ("redis@sha256", "digest"),
        ] {
            let e = check_image(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
