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
