//! The scenario file: raw TOML shape, validation, and the resolved model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dist::BadParam;
use crate::elastic::{
    Autoscaling, NodeScaling, RawAutoscaling, RawNodeScaling, RawSchedule, ScheduledAction,
};
use crate::locate::{from_toml, line_of_path, variants, FieldPath, Seg};
use crate::{parse_duration, Dist, Error};

// ---------------------------------------------------------------- resolved model

/// A validated scenario: one phase (training, limited release, worldwide).
///
/// Names are resolved to indices, durations are seconds, times are ms where
/// the field name says so.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// Scenario name.
    pub name: String,
    /// Where it was read from (empty for in-memory sources).
    pub path: PathBuf,
    /// Simulated time in seconds (warm-up included).
    pub duration_s: f64,
    /// Leading seconds excluded from statistics.
    pub warmup_s: f64,
    /// Default seed.
    pub seed: u64,
    /// Services, in file order.
    pub services: Vec<Service>,
    /// Arriving load.
    pub traffic: Traffic,
    /// Failures to inject.
    pub failures: Vec<Failure>,
    /// Service-level objectives, if any.
    pub slo: Option<Slo>,
    /// What the planner may choose from.
    pub infrastructure: Infrastructure,
    /// Placement policy name or path to a `.wasm` plugin.
    pub policy: String,
    /// How `twip plan` plans it (`[plan] mode`); `None`: elastically when
    /// it has autoscaling tables, else fixed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_mode: Option<PlanMode>,
    /// The text it was parsed from, so that checks made later (the
    /// catalog, a plan) name the line of the field they find wrong
    /// ([`Scenario::error`]).
    #[serde(skip)]
    pub source: Source,
}

/// The JSON Schema of the scenario file (its TOML read as JSON): every
/// table and field with its type, which are required, unknown fields
/// refused. Editors that use taplo (even-better-toml) complete and check
/// scenarios with it; the validator's checks of values and references
/// (`Scenario::parse`) go further.
pub fn scenario_schema() -> String {
    let mut schema = schemars::schema_for!(RawScenario);
    schema.insert("title".into(), "twip scenario".into());
    schema.insert(
        "description".into(),
        "A twip scenario: services, traffic, failures, objectives, infrastructure \
         (scenarios/README.md documents every field)."
            .into(),
    );
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

/// How `twip plan` plans a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// One fleet sized for the worst minute.
    Fixed,
    /// Autoscaling policies, schedules and a capacity provider.
    Elastic,
}

/// A scenario's source text (shared, cheap to clone; not printed by `Debug`).
#[derive(Clone, Default)]
pub struct Source(pub std::sync::Arc<str>);

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Source({} bytes)", self.0.len())
    }
}

/// A service (a tier of identical replicas behind a balancer).
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    /// Unique name.
    pub name: String,
    /// Replica count.
    pub replicas: u32,
    /// The most replicas the planner may give the service: `replicas` for a
    /// service that cannot scale out (`fixed = true`, a primary database),
    /// `max_replicas` when set, else `None` (no bound but the limits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<u32>,
    /// `fixed = true`: the planner keeps `replicas` as it is (neither more
    /// nor fewer).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fixed: bool,
    /// Requests one replica serves at once.
    pub workers: u32,
    /// Maximum queued (waiting) requests per replica; `None` is unbounded.
    pub queue_limit: Option<u32>,
    /// A request that has not finished within this time is an error.
    pub timeout_ms: Option<f64>,
    /// Time a worker spends on a request, excluding downstream calls.
    pub service_time: Dist,
    /// Synchronous downstream calls.
    pub calls: Vec<Call>,
    /// How calls are chosen.
    pub routing: Routing,
    /// If true the worker is freed after its own service time (event-driven proxy).
    pub async_calls: bool,
    /// How the balancer in front of this service picks a replica.
    pub balancer: Balancer,
    /// Health checks of the balancer.
    pub health_check: HealthCheck,
    /// Container image (for apply).
    pub image: String,
    /// Container port (for apply).
    pub port: u16,
    /// vCPU per replica.
    pub cpu: f64,
    /// Memory per replica in MiB.
    pub memory_mb: u32,
    /// Autoscaling policy, if the count follows demand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    /// Scheduled actions moving the policy's bounds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedule: Vec<ScheduledAction>,
    /// Seconds from a replica's start to its first health check (container
    /// start and application warm-up).
    #[serde(skip_serializing_if = "is_zero")]
    pub start_delay_s: f64,
    /// Seconds a replica removed by scale-in may take to finish its
    /// requests (the deregistration delay; it takes no new ones).
    #[serde(skip_serializing_if = "is_default_drain")]
    pub drain_s: f64,
    /// How the balancer in front of the service treats a dead replica
    /// (`None`: an ideal balancer, errors at once until the health checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Upstream>,
}

/// nginx's handling of a dead back end (`[service] upstream`): a
/// connection to it costs `connect_timeout`, is retried on another
/// replica, and failures leave the replica out of the balancing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Upstream {
    /// Retry a failed connection on another replica (`proxy_next_upstream
    /// error timeout`), each replica at most once per request.
    pub next_upstream: bool,
    /// Seconds a connection to a dead replica takes to fail
    /// (`proxy_connect_timeout`).
    pub connect_timeout_s: f64,
    /// Failures within `fail_timeout_s` that leave the replica out (`0`: never).
    pub max_fails: u32,
    /// The window of `max_fails`, and how long the replica is left out.
    pub fail_timeout_s: f64,
}

impl Upstream {
    /// nginx's defaults: retry, 60 s to connect, out after 1 failure for 10 s.
    pub const NGINX: Upstream = Upstream {
        next_upstream: true,
        connect_timeout_s: 60.0,
        max_fails: 1,
        fail_timeout_s: 10.0,
    };
}

/// A downstream call.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    /// Index of the called service.
    pub to: usize,
    /// Probability that a request makes this call.
    pub probability: f64,
}

/// How a service's calls are chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// Each call is made independently with its probability, in order.
    All,
    /// At most one call, chosen by the probabilities (a path router).
    One,
}

/// Load-balancing discipline among healthy replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Balancer {
    /// Take turns.
    RoundRobin,
    /// Fewest requests in the replica (in service + queued).
    LeastConnections,
    /// Uniformly at random.
    Random,
}

/// Health checking of a service's replicas by its balancer.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HealthCheck {
    /// Seconds between checks.
    pub interval_s: f64,
    /// Consecutive failed checks before a replica is taken out of rotation.
    pub failures: u32,
}

impl HealthCheck {
    /// Seconds from a replica's failure until the balancer stops using it.
    pub fn detection_s(&self) -> f64 {
        self.interval_s * self.failures as f64
    }
}

/// The arriving load (a Poisson process, non-homogeneous when diurnal or spiky).
#[derive(Debug, Clone, Serialize)]
pub struct Traffic {
    /// Index of the entry service.
    pub entry: usize,
    /// Constant rate (requests/s), added to the regions.
    pub rps: f64,
    /// Hour of day (UTC) at simulated time 0.
    pub start_hour_utc: f64,
    /// Diurnal regional loads.
    pub regions: Vec<Region>,
    /// Multiplicative spikes.
    pub spikes: Vec<Spike>,
    /// Unforeseen surges (`[[traffic.surprise]]`): not part of the
    /// simulated day, but cases an elastic plan's reactive policy must
    /// absorb within the SLO (`twip plan --elastic`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub surprises: Vec<Surprise>,
}

/// An unforeseen surge: the whole rate multiplied for a while, with no
/// scheduled action ahead of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Surprise {
    /// When it starts (s of simulated time); `None`: at the daily peak,
    /// the moment the planner finds.
    pub at_s: Option<f64>,
    /// Length (s).
    pub duration_s: f64,
    /// Rate multiplier (above 1).
    pub multiplier: f64,
}

/// The diurnal load of one region.
#[derive(Debug, Clone, Serialize)]
pub struct Region {
    /// Region name.
    pub name: String,
    /// Requests/s at the daily peak.
    pub peak_rps: f64,
    /// UTC hour of the peak (sinusoid).
    pub peak_hour_utc: f64,
    /// Trough rate as a fraction of the peak (sinusoid).
    pub trough_ratio: f64,
    /// Optional 24 hourly fractions of the peak (linear between hours); replaces the sinusoid.
    pub profile: Option<Vec<f64>>,
}

/// A `[[traffic.surprise]]` without `duration` lasts this long (s).
pub const DEFAULT_SURPRISE_S: f64 = 600.0;

/// A launch crowd: the whole rate multiplied for a while.
#[derive(Debug, Clone, Serialize)]
pub struct Spike {
    /// Start, seconds from simulated time 0.
    pub at_s: f64,
    /// Length in seconds.
    pub duration_s: f64,
    /// Rate multiplier.
    pub multiplier: f64,
}

/// What fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// One replica of a service.
    Replica,
    /// A node and every replica on it.
    Node,
    /// A zone and every node in it.
    Zone,
}

/// An injected failure.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// What fails.
    pub kind: FailureKind,
    /// Seconds from simulated time 0.
    pub at_s: f64,
    /// How long; `None` for good.
    pub duration_s: Option<f64>,
    /// `SERVICE` or `SERVICE/INDEX` for a replica, a node id, a zone name; `None`
    /// picks the node holding the most replicas (ties: the one with a replica of
    /// the service with the most replicas, then the first), or that node's zone.
    pub target: Option<String>,
}

/// Service-level objectives.
#[derive(Debug, Clone, Serialize)]
pub struct Slo {
    /// Bound on the 99th percentile of end-to-end latency.
    pub p99_ms: Option<f64>,
    /// Bound on the fraction of requests that fail.
    pub max_error_rate: Option<f64>,
    /// Failure classes the plan must survive (`node`, `zone`).
    pub survive: Vec<FailureKind>,
}

/// The infrastructure the planner may choose from; also gives zones to the simulator.
#[derive(Debug, Clone, Serialize)]
pub struct Infrastructure {
    /// Catalog file (resolved against the scenario's folder).
    pub catalog: Option<PathBuf>,
    /// Region whose prices apply.
    pub region: Option<String>,
    /// Zones to spread over.
    pub zones: Vec<String>,
    /// Instance types allowed (empty: all in the catalog).
    pub instance_types: Vec<String>,
    /// Upper bound on nodes.
    pub max_nodes: u32,
    /// Node capacity that follows the replicas (a capacity provider).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<NodeScaling>,
}

// ---------------------------------------------------------------- layout

/// A node: a machine replicas run on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// Node id.
    pub id: String,
    /// Its zone.
    pub zone: String,
}

/// Where each replica runs: the nodes and, per service, the node index of each replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    /// All nodes.
    pub nodes: Vec<Node>,
    /// `replica_node[service][replica]` = index into `nodes`.
    pub replica_node: Vec<Vec<usize>>,
}

impl Layout {
    /// The layout before any plan: every replica its own node (`SERVICE-INDEX`),
    /// each service's replicas spread round-robin over the scenario's zones.
    pub fn one_node_per_replica(s: &Scenario) -> Layout {
        let mut nodes = Vec::new();
        let mut replica_node = Vec::new();
        for svc in &s.services {
            let mut v = Vec::new();
            for r in 0..svc.replicas as usize {
                v.push(nodes.len());
                nodes.push(Node {
                    id: format!("{}-{r}", svc.name),
                    zone: s.infrastructure.zones[r % s.infrastructure.zones.len()].clone(),
                });
            }
            replica_node.push(v);
        }
        Layout {
            nodes,
            replica_node,
        }
    }

    /// Number of replicas on each node.
    pub fn replicas_per_node(&self) -> Vec<usize> {
        let mut n = vec![0; self.nodes.len()];
        for v in &self.replica_node {
            for &i in v {
                n[i] += 1;
            }
        }
        n
    }
}

// ---------------------------------------------------------------- raw TOML shape

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    duration: String,
    #[serde(default)]
    warmup: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(rename = "service")]
    services: Vec<RawService>,
    traffic: RawTraffic,
    #[serde(default, rename = "failure")]
    failures: Vec<RawFailure>,
    #[serde(default)]
    slo: Option<RawSlo>,
    #[serde(default)]
    infrastructure: Option<RawInfra>,
    #[serde(default)]
    placement: Option<RawPlacement>,
    #[serde(default)]
    plan: Option<RawPlan>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    mode: PlanMode,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: String,
    #[serde(default = "one")]
    replicas: u32,
    #[serde(default)]
    fixed: bool,
    max_replicas: Option<u32>,
    #[serde(default = "one")]
    workers: u32,
    queue_limit: Option<u32>,
    timeout_ms: Option<f64>,
    service_time: RawDist,
    #[serde(default)]
    calls: Vec<RawCall>,
    #[serde(default)]
    routing: Option<Routing>,
    #[serde(default)]
    async_calls: bool,
    #[serde(default)]
    balancer: Option<Balancer>,
    #[serde(default)]
    health_check: Option<RawHealth>,
    image: Option<String>,
    port: Option<u16>,
    cpu: Option<f64>,
    memory_mb: Option<u32>,
    #[serde(default)]
    autoscaling: Option<RawAutoscaling>,
    #[serde(default)]
    schedule: Vec<RawSchedule>,
    start_delay: Option<String>,
    drain: Option<String>,
    #[serde(default)]
    upstream: Option<RawUpstream>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawUpstream {
    next_upstream: Option<bool>,
    connect_timeout: Option<String>,
    max_fails: Option<u32>,
    fail_timeout: Option<String>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// The deregistration delay of an ALB target group, unless a scenario sets one.
pub const DEFAULT_DRAIN_S: f64 = 300.0;

fn is_default_drain(x: &f64) -> bool {
    *x == DEFAULT_DRAIN_S
}

fn one() -> u32 {
    1
}

/// The `dist` of a service time.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum DistKind {
    Exponential,
    Constant,
    Lognormal,
    Gamma,
    Empirical,
}

impl DistKind {
    fn name(self) -> &'static str {
        match self {
            DistKind::Exponential => "exponential",
            DistKind::Constant => "constant",
            DistKind::Lognormal => "lognormal",
            DistKind::Gamma => "gamma",
            DistKind::Empirical => "empirical",
        }
    }

    /// The parameters this kind takes.
    fn params(self) -> &'static [&'static str] {
        match self {
            DistKind::Exponential | DistKind::Constant => &["mean_ms"],
            DistKind::Lognormal => &["mean_ms", "p99_ms"],
            DistKind::Gamma => &["mean_ms", "p99_ms", "cv"],
            DistKind::Empirical => &["samples_ms", "file"],
        }
    }
}

/// A service time as written: one flat table, so that a type error in any
/// parameter keeps its path (an internally tagged enum would lose it); which
/// parameters a `dist` takes is checked in [`Cx::dist`].
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawDist {
    dist: DistKind,
    mean_ms: Option<f64>,
    p99_ms: Option<f64>,
    cv: Option<f64>,
    samples_ms: Option<Vec<f64>>,
    file: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawCall {
    to: String,
    #[serde(default = "one_f")]
    probability: f64,
}

fn one_f() -> f64 {
    1.0
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    interval: String,
    failures: u32,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawTraffic {
    entry: String,
    #[serde(default)]
    rps: Option<f64>,
    #[serde(default)]
    start_hour_utc: Option<f64>,
    #[serde(default, rename = "region")]
    regions: Vec<RawRegion>,
    #[serde(default, rename = "spike")]
    spikes: Vec<RawSpike>,
    #[serde(default, rename = "surprise")]
    surprises: Vec<RawSurprise>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSurprise {
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    duration: Option<String>,
    multiplier: f64,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    name: String,
    peak_rps: f64,
    #[serde(default)]
    peak_hour_utc: Option<f64>,
    #[serde(default)]
    trough_ratio: Option<f64>,
    #[serde(default)]
    profile: Option<Vec<f64>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSpike {
    at: String,
    duration: String,
    multiplier: f64,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawFailure {
    kind: FailureKind,
    at: String,
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    target: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSlo {
    p99_ms: Option<f64>,
    max_error_rate: Option<f64>,
    #[serde(default)]
    survive: Vec<FailureKind>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawInfra {
    catalog: Option<String>,
    region: Option<String>,
    #[serde(default)]
    zones: Vec<String>,
    #[serde(default)]
    instance_types: Vec<String>,
    max_nodes: Option<u32>,
    #[serde(default)]
    autoscaling: Option<RawNodeScaling>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawPlacement {
    policy: String,
}

// ---------------------------------------------------------------- loading

/// Default zone when a scenario names none.
pub const DEFAULT_ZONE: &str = "zone-1";

/// The largest numbers a scenario may hold (`scenarios/README.md`,
/// "Limits"): far above any real deployment, low enough that the simulator
/// and the planner size their memory and time from validated values.
pub mod limits {
    /// Replicas of one service.
    pub const REPLICAS: u32 = 10_000;
    /// Workers of one replica.
    pub const WORKERS: u32 = 10_000;
    /// The entry rate at its peak, spikes included (requests/s).
    pub const PEAK_RPS: f64 = 500_000.0;
    /// A spike's rate multiplier.
    pub const SPIKE_MULTIPLIER: f64 = 1_000.0;
    /// `infrastructure.max_nodes`.
    pub const MAX_NODES: u32 = 10_000;
    /// The smallest time a distribution parameter may give (ms): 1 ns.
    pub const MIN_TIME_MS: f64 = 1e-6;
    /// The largest (ms): one day.
    pub const MAX_TIME_MS: f64 = 86_400_000.0;
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, Error> {
        let path = path.as_ref();
        let src = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(&src, path)
    }

    /// Parses and validates scenario text; `path` is used for messages and
    /// to resolve relative file references.
    pub fn parse(src: &str, path: &Path) -> Result<Scenario, Error> {
        let raw: RawScenario = from_toml(src, path, &enum_names)?;
        let mut cx = Cx { src, path };
        cx.resolve(raw)
    }

    /// Index of the service called `name`.
    pub fn service_index(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == name)
    }

    /// Total arrival rate (requests/s) at simulated time `t` seconds.
    pub fn rate_at(&self, t: f64) -> f64 {
        self.traffic.rate_at(t)
    }
}

impl Traffic {
    /// Total arrival rate (requests/s) at simulated time `t` seconds.
    pub fn rate_at(&self, t: f64) -> f64 {
        let hour = (self.start_hour_utc + t / 3600.0).rem_euclid(24.0);
        let mut rate = self.rps;
        for r in &self.regions {
            rate += r.rate_at_hour(hour);
        }
        for s in &self.spikes {
            if t >= s.at_s && t < s.at_s + s.duration_s {
                rate *= s.multiplier;
            }
        }
        rate
    }

    /// Largest rate over the day, spikes included (an upper bound).
    pub fn peak_rate(&self) -> f64 {
        let base = self.rps + self.regions.iter().map(|r| r.peak_rps).sum::<f64>();
        let spike = self.spikes.iter().map(|s| s.multiplier).fold(1.0, f64::max);
        base * spike
    }

    /// Upper bound of |d rate / dt| in requests/s per second (spikes aside).
    pub fn max_slope(&self) -> f64 {
        let spike = self.spikes.iter().map(|s| s.multiplier).fold(1.0, f64::max);
        self.regions
            .iter()
            .map(Region::max_slope_per_s)
            .sum::<f64>()
            * spike
    }
}

impl Region {
    /// Rate (requests/s) at `hour` of the UTC day.
    pub fn rate_at_hour(&self, hour: f64) -> f64 {
        match &self.profile {
            Some(p) => {
                let i = hour.floor() as usize % 24;
                let f = hour - hour.floor();
                self.peak_rps * (p[i] * (1.0 - f) + p[(i + 1) % 24] * f)
            }
            None => {
                let phase = 2.0 * std::f64::consts::PI * (hour - self.peak_hour_utc) / 24.0;
                let x = 0.5 * (1.0 + phase.cos());
                self.peak_rps * (self.trough_ratio + (1.0 - self.trough_ratio) * x)
            }
        }
    }

    fn max_slope_per_s(&self) -> f64 {
        match &self.profile {
            Some(p) => {
                let max_step = (0..24)
                    .map(|i| (p[(i + 1) % 24] - p[i]).abs())
                    .fold(0.0, f64::max);
                self.peak_rps * max_step / 3600.0
            }
            None => self.peak_rps * (1.0 - self.trough_ratio) * std::f64::consts::PI / 86_400.0,
        }
    }
}

/// The names an enum-valued scenario field accepts, by its path.
fn enum_names(f: &FieldPath) -> Option<&'static [&'static str]> {
    let key = match f.0.as_slice() {
        [.., Seg::Key(k), Seg::Index(_)] if k == "survive" => {
            return Some(variants::<FailureKind>())
        }
        [.., Seg::Key(k)] => k.as_str(),
        _ => return None,
    };
    match key {
        "routing" => Some(variants::<Routing>()),
        "balancer" => Some(variants::<Balancer>()),
        "kind" => Some(variants::<FailureKind>()),
        "dist" => Some(variants::<DistKind>()),
        "metric" => Some(variants::<crate::elastic::Metric>()),
        "adjustment" => Some(variants::<crate::elastic::Adjustment>()),
        "mode" => Some(variants::<PlanMode>()),
        _ => None,
    }
}

pub(crate) struct Cx<'a> {
    src: &'a str,
    path: &'a Path,
}

pub(crate) type R<T> = Result<T, Error>;

impl Cx<'_> {
    pub(crate) fn err(&self, field: &FieldPath, message: impl Into<String>) -> Error {
        Error::Invalid {
            path: self.path.to_path_buf(),
            line: line_of_path(self.src, field),
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn duration(&self, field: &FieldPath, text: &str) -> R<f64> {
        parse_duration(text).map_err(|m| self.err(field, m))
    }

    /// A documented limit (`limits`): `value` must be at most `max`.
    pub(crate) fn at_most<T: PartialOrd + std::fmt::Display>(
        &self,
        value: T,
        max: T,
        field: &FieldPath,
    ) -> R<()> {
        self.check(value <= max, field, || {
            format!("at most {max} (got {value})")
        })
    }

    pub(crate) fn check(
        &self,
        ok: bool,
        field: &FieldPath,
        message: impl FnOnce() -> String,
    ) -> R<()> {
        if ok {
            Ok(())
        } else {
            Err(self.err(field, message()))
        }
    }

    fn resolve(&mut self, raw: RawScenario) -> R<Scenario> {
        let root = FieldPath::default();
        let duration_s = self.duration(&root.key("duration"), &raw.duration)?;
        self.check(duration_s > 0.0, &root.key("duration"), || {
            "must be longer than zero".into()
        })?;
        let warmup_s = match &raw.warmup {
            Some(w) => self.duration(&root.key("warmup"), w)?,
            None => 0.0,
        };
        self.check(warmup_s < duration_s, &root.key("warmup"), || {
            format!("must be shorter than duration ({})", raw.duration)
        })?;
        self.check(!raw.services.is_empty(), &root.key("service"), || {
            "expected at least one [[service]]".into()
        })?;

        // Names first, so calls can refer forward.
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, s) in raw.services.iter().enumerate() {
            let f = root.key("service").index(i).key("name");
            self.check(!s.name.trim().is_empty(), &f, || "must not be empty".into())?;
            if index.insert(s.name.as_str(), i).is_some() {
                return Err(self.err(&f, format!("service {:?} is defined twice", s.name)));
            }
        }
        let mut services = Vec::new();
        for (i, s) in raw.services.iter().enumerate() {
            services.push(self.service(&root.key("service").index(i), s, &index, duration_s)?);
        }
        self.check_acyclic(&services, &raw)?;

        let traffic = self.traffic(&root.key("traffic"), &raw.traffic, &index, duration_s)?;
        // The entry's balancer is the clients' (DNS, an external load
        // balancer), not an nginx upstream.
        self.check(
            services[traffic.entry].upstream.is_none(),
            &root.key("service").index(traffic.entry).key("upstream"),
            || {
                "the entry service's callers are the clients, not an nginx front: give `upstream` \
                 to the services the entry calls"
                    .into()
            },
        )?;

        let infra = raw.infrastructure.as_ref();
        let fi = root.key("infrastructure");
        let zones = match infra {
            Some(i) if !i.zones.is_empty() => {
                for (k, z) in i.zones.iter().enumerate() {
                    if i.zones[..k].contains(z) {
                        return Err(self.err(
                            &fi.key("zones").index(k),
                            format!("zone {z:?} is listed twice"),
                        ));
                    }
                }
                i.zones.clone()
            }
            _ => vec![DEFAULT_ZONE.to_string()],
        };
        let infrastructure = Infrastructure {
            // A bare name (`aws-ec2`) is a bundled catalog; a path is
            // relative to the scenario's folder.
            catalog: infra.and_then(|i| i.catalog.as_ref()).map(|c| {
                if crate::catalog::is_name(c) {
                    PathBuf::from(c)
                } else {
                    let base = self.path.parent().unwrap_or(Path::new("."));
                    base.join(c)
                }
            }),
            region: infra.and_then(|i| i.region.clone()),
            zones,
            instance_types: infra.map(|i| i.instance_types.clone()).unwrap_or_default(),
            max_nodes: infra.and_then(|i| i.max_nodes).unwrap_or(64),
            autoscaling: match infra.and_then(|i| i.autoscaling.as_ref()) {
                Some(n) => Some(self.node_scaling(&fi.key("autoscaling"), n)?),
                None => None,
            },
        };
        if infrastructure.max_nodes == 0 {
            return Err(self.err(&fi.key("max_nodes"), "must be at least 1"));
        }
        self.at_most(
            infrastructure.max_nodes,
            limits::MAX_NODES,
            &fi.key("max_nodes"),
        )?;

        let mut failures = Vec::new();
        for (i, f) in raw.failures.iter().enumerate() {
            failures.push(self.failure(&root.key("failure").index(i), f, &raw, &infrastructure)?);
        }

        let slo = match &raw.slo {
            None => None,
            Some(s) => {
                let f = root.key("slo");
                if let Some(p) = s.p99_ms {
                    self.check(p.is_finite() && p > 0.0, &f.key("p99_ms"), || {
                        format!("expected a positive number of milliseconds, got {p}")
                    })?;
                }
                if let Some(e) = s.max_error_rate {
                    self.check((0.0..=1.0).contains(&e), &f.key("max_error_rate"), || {
                        format!("expected a fraction between 0 and 1, got {e}")
                    })?;
                }
                self.check(
                    !s.survive.contains(&FailureKind::Replica),
                    &f.key("survive"),
                    || "expected \"node\" and/or \"zone\"".into(),
                )?;
                Some(Slo {
                    p99_ms: s.p99_ms,
                    max_error_rate: s.max_error_rate,
                    survive: s.survive.clone(),
                })
            }
        };

        let policy = raw
            .placement
            .as_ref()
            .map(|p| p.policy.clone())
            .unwrap_or_else(|| "spread".into());
        self.check(
            !policy.trim().is_empty(),
            &root.key("placement").key("policy"),
            || "expected a built-in policy name or a path to a .wasm plugin".into(),
        )?;

        Ok(Scenario {
            name: raw.name,
            path: self.path.to_path_buf(),
            duration_s,
            warmup_s,
            seed: raw.seed.unwrap_or(1),
            services,
            traffic,
            failures,
            slo,
            infrastructure,
            policy,
            plan_mode: raw.plan.map(|p| p.mode),
            source: Source(self.src.into()),
        })
    }

    fn service(
        &self,
        f: &FieldPath,
        s: &RawService,
        index: &HashMap<&str, usize>,
        duration_s: f64,
    ) -> R<Service> {
        self.check(s.workers >= 1, &f.key("workers"), || {
            "must be at least 1".into()
        })?;
        self.at_most(s.workers, limits::WORKERS, &f.key("workers"))?;
        self.at_most(s.replicas, limits::REPLICAS, &f.key("replicas"))?;
        if let Some(t) = s.timeout_ms {
            self.check(t.is_finite() && t > 0.0, &f.key("timeout_ms"), || {
                format!("expected a positive number of milliseconds, got {t}")
            })?;
        }
        let service_time = self.dist(&f.key("service_time"), &s.service_time)?;
        let mut calls = Vec::new();
        for (k, c) in s.calls.iter().enumerate() {
            let fc = f.key("calls").index(k);
            let Some(&to) = index.get(c.to.as_str()) else {
                let names: Vec<&str> = index.keys().copied().collect();
                return Err(self.err(
                    &fc.key("to"),
                    format!(
                        "no service named {:?} (services: {})",
                        c.to,
                        sorted(names).join(", ")
                    ),
                ));
            };
            self.check(
                (0.0..=1.0).contains(&c.probability),
                &fc.key("probability"),
                || {
                    format!(
                        "expected a probability between 0 and 1, got {}",
                        c.probability
                    )
                },
            )?;
            calls.push(Call {
                to,
                probability: c.probability,
            });
        }
        let routing = s.routing.unwrap_or(Routing::All);
        if routing == Routing::One {
            let total: f64 = calls.iter().map(|c| c.probability).sum();
            self.check(total <= 1.0 + 1e-9, &f.key("calls"), || {
                format!("with routing = \"one\" the call probabilities must add up to at most 1, they add up to {total}")
            })?;
        }
        let health_check = match &s.health_check {
            None => HealthCheck {
                interval_s: 5.0,
                failures: 3,
            },
            Some(h) => {
                let fh = f.key("health_check");
                let interval_s = self.duration(&fh.key("interval"), &h.interval)?;
                self.check(interval_s > 0.0, &fh.key("interval"), || {
                    "must be longer than zero".into()
                })?;
                self.check(h.failures >= 1, &fh.key("failures"), || {
                    "must be at least 1".into()
                })?;
                HealthCheck {
                    interval_s,
                    failures: h.failures,
                }
            }
        };
        let cpu = s.cpu.unwrap_or(0.5);
        self.check(cpu.is_finite() && cpu > 0.0, &f.key("cpu"), || {
            format!("expected a positive number of vCPU, got {cpu}")
        })?;
        let memory_mb = s.memory_mb.unwrap_or(512);
        self.check(memory_mb > 0, &f.key("memory_mb"), || {
            "must be at least 1".into()
        })?;
        let autoscaling = match &s.autoscaling {
            Some(a) => Some(self.autoscaling(&f.key("autoscaling"), a, limits::REPLICAS)?),
            None => None,
        };
        let mut schedule = Vec::new();
        for (k, a) in s.schedule.iter().enumerate() {
            schedule.push(self.schedule(
                &f.key("schedule").index(k),
                a,
                duration_s,
                limits::REPLICAS,
            )?);
        }
        self.check(
            schedule.is_empty() || autoscaling.is_some(),
            &f.key("schedule"),
            || "scheduled actions move the bounds of [service.autoscaling]: add one".into(),
        )?;
        let delay = |key: &str, v: &Option<String>, default: f64| -> R<f64> {
            let x = match v {
                Some(t) => self.duration(&f.key(key), t)?,
                None => default,
            };
            self.at_most(x, 86_400.0, &f.key(key))?;
            Ok(x)
        };
        let start_delay_s = delay("start_delay", &s.start_delay, 0.0)?;
        let drain_s = delay("drain", &s.drain, DEFAULT_DRAIN_S)?;
        let upstream = match &s.upstream {
            None => None,
            Some(u) => {
                let fu = f.key("upstream");
                let time = |key: &str, v: &Option<String>, default: f64| -> R<f64> {
                    let x = match v {
                        Some(t) => self.duration(&fu.key(key), t)?,
                        None => default,
                    };
                    self.check(x > 0.0, &fu.key(key), || {
                        "expected a length of time above zero".into()
                    })?;
                    self.at_most(x, 86_400.0, &fu.key(key))?;
                    Ok(x)
                };
                let d = Upstream::NGINX;
                let max_fails = u.max_fails.unwrap_or(d.max_fails);
                self.at_most(max_fails, 10_000, &fu.key("max_fails"))?;
                Some(Upstream {
                    next_upstream: u.next_upstream.unwrap_or(d.next_upstream),
                    connect_timeout_s: time(
                        "connect_timeout",
                        &u.connect_timeout,
                        d.connect_timeout_s,
                    )?,
                    max_fails,
                    fail_timeout_s: time("fail_timeout", &u.fail_timeout, d.fail_timeout_s)?,
                })
            }
        };
        let max_replicas = self.max_replicas(f, s, autoscaling.is_some())?;
        Ok(Service {
            max_replicas,
            fixed: s.fixed,
            autoscaling,
            schedule,
            start_delay_s,
            drain_s,
            upstream,
            name: s.name.clone(),
            replicas: s.replicas,
            workers: s.workers,
            queue_limit: s.queue_limit,
            timeout_ms: s.timeout_ms,
            service_time,
            calls,
            routing,
            async_calls: s.async_calls,
            balancer: s.balancer.unwrap_or(Balancer::RoundRobin),
            health_check,
            image: s
                .image
                .clone()
                .unwrap_or_else(|| format!("twip/{}:latest", s.name)),
            port: s.port.unwrap_or(8080),
            cpu,
            memory_mb,
        })
    }

    /// The planner's ceiling for a service: `replicas` when `fixed`, else
    /// `max_replicas` (at least `replicas`, at least 1).
    fn max_replicas(&self, f: &FieldPath, s: &RawService, elastic: bool) -> R<Option<u32>> {
        if elastic {
            let which = if s.fixed { "fixed" } else { "max_replicas" };
            self.check(!s.fixed && s.max_replicas.is_none(), &f.key(which), || {
                "a service with [service.autoscaling] is bounded by its policy's min and max: \
                 drop this field"
                    .into()
            })?;
        }
        if s.fixed {
            self.check(s.max_replicas.is_none(), &f.key("max_replicas"), || {
                "fixed = true already keeps the service at its replicas: give one of the two".into()
            })?;
            return Ok(Some(s.replicas));
        }
        let Some(m) = s.max_replicas else {
            return Ok(None);
        };
        let fm = f.key("max_replicas");
        self.check(m >= 1, &fm, || "must be at least 1".into())?;
        self.at_most(m, limits::REPLICAS, &fm)?;
        self.check(m >= s.replicas, &fm, || {
            format!("must be at least replicas ({})", s.replicas)
        })?;
        Ok(Some(m))
    }

    fn dist(&self, f: &FieldPath, d: &RawDist) -> R<Dist> {
        let kind = d.dist;
        let name = kind.name();
        let given = [
            ("mean_ms", d.mean_ms.is_some()),
            ("p99_ms", d.p99_ms.is_some()),
            ("cv", d.cv.is_some()),
            ("samples_ms", d.samples_ms.is_some()),
            ("file", d.file.is_some()),
        ];
        for (key, present) in given {
            self.check(
                !present || kind.params().contains(&key),
                &f.key(key),
                || {
                    format!(
                        "dist = {name:?} takes no {key} (its parameters: {})",
                        kind.params().join(", ")
                    )
                },
            )?;
        }
        let need = |key: &str, v: Option<f64>| {
            v.ok_or_else(|| self.err(&f.key(key), format!("is required for dist = {name:?}")))
        };
        // Positive finite times only; the solvers below judge the others.
        let in_range = |x: f64| {
            !(x.is_finite() && x > 0.0) || (limits::MIN_TIME_MS..=limits::MAX_TIME_MS).contains(&x)
        };
        for (key, v) in [("mean_ms", d.mean_ms), ("p99_ms", d.p99_ms)] {
            if let Some(x) = v {
                self.check(in_range(x), &f.key(key), || {
                    format!(
                        "expected a time from {} ms to {} ms, got {x:?}",
                        limits::MIN_TIME_MS,
                        limits::MAX_TIME_MS
                    )
                })?;
            }
        }
        if let Some(samples) = &d.samples_ms {
            if let Some(x) = samples.iter().find(|&&x| !in_range(x)) {
                return Err(self.err(
                    &f.key("samples_ms"),
                    format!(
                        "expected times up to {} ms, and none between 0 and {} ms, got {x:?}",
                        limits::MAX_TIME_MS,
                        limits::MIN_TIME_MS
                    ),
                ));
            }
        }
        // The solver names the parameter to blame.
        let blame = |e: BadParam| self.err(&f.key(e.param), e.message);
        match kind {
            DistKind::Exponential => Dist::solve_exponential(need("mean_ms", d.mean_ms)?),
            DistKind::Constant => Dist::solve_constant(need("mean_ms", d.mean_ms)?),
            DistKind::Lognormal => {
                Dist::solve_lognormal(need("mean_ms", d.mean_ms)?, need("p99_ms", d.p99_ms)?)
            }
            DistKind::Gamma => {
                let mean_ms = need("mean_ms", d.mean_ms)?;
                match (d.p99_ms, d.cv) {
                    (Some(p), None) => Dist::solve_gamma_p99(mean_ms, p),
                    (None, Some(c)) => Dist::solve_gamma_cv(mean_ms, c),
                    _ => {
                        return Err(self.err(
                            f,
                            "a gamma needs exactly one of p99_ms or cv beside mean_ms",
                        ))
                    }
                }
            }
            DistKind::Empirical => {
                let samples = match (&d.samples_ms, &d.file) {
                    (Some(s), None) => s.clone(),
                    (None, Some(file)) => self.samples_file(&f.key("file"), file)?,
                    _ => {
                        return Err(self.err(
                            f,
                            "an empirical distribution needs exactly one of samples_ms or file",
                        ))
                    }
                };
                Dist::solve_empirical(samples)
            }
        }
        .map_err(blame)
    }

    fn samples_file(&self, f: &FieldPath, file: &str) -> R<Vec<f64>> {
        let p = self.path.parent().unwrap_or(Path::new(".")).join(file);
        let text = std::fs::read_to_string(&p)
            .map_err(|e| self.err(f, format!("cannot read {}: {e}", p.display())))?;
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let l = line.split('#').next().unwrap_or("").trim();
            if l.is_empty() {
                continue;
            }
            out.push(l.parse::<f64>().map_err(|_| {
                self.err(
                    f,
                    format!(
                        "{}:{}: expected one number of milliseconds per line, got {l:?}",
                        p.display(),
                        n + 1
                    ),
                )
            })?);
        }
        Ok(out)
    }

    fn check_acyclic(&self, services: &[Service], raw: &RawScenario) -> R<()> {
        // Depth-first search for a cycle in the call graph.
        fn visit(
            i: usize,
            s: &[Service],
            state: &mut [u8],
            stack: &mut Vec<usize>,
        ) -> Option<Vec<usize>> {
            state[i] = 1;
            stack.push(i);
            for c in &s[i].calls {
                if state[c.to] == 1 {
                    let from = stack.iter().position(|&x| x == c.to).unwrap_or(0);
                    let mut cyc = stack[from..].to_vec();
                    cyc.push(c.to);
                    return Some(cyc);
                }
                if state[c.to] == 0 {
                    if let Some(c) = visit(c.to, s, state, stack) {
                        return Some(c);
                    }
                }
            }
            stack.pop();
            state[i] = 2;
            None
        }
        let mut state = vec![0u8; services.len()];
        for i in 0..services.len() {
            if state[i] == 0 {
                if let Some(cyc) = visit(i, services, &mut state, &mut Vec::new()) {
                    let names: Vec<&str> =
                        cyc.iter().map(|&k| raw.services[k].name.as_str()).collect();
                    let f = FieldPath::default()
                        .key("service")
                        .index(cyc[0])
                        .key("calls");
                    return Err(self.err(&f, format!("calls form a cycle: {}", names.join(" -> "))));
                }
            }
        }
        Ok(())
    }

    fn traffic(
        &self,
        f: &FieldPath,
        t: &RawTraffic,
        index: &HashMap<&str, usize>,
        duration_s: f64,
    ) -> R<Traffic> {
        let Some(&entry) = index.get(t.entry.as_str()) else {
            return Err(self.err(&f.key("entry"), format!("no service named {:?}", t.entry)));
        };
        let rps = t.rps.unwrap_or(0.0);
        self.check(rps.is_finite() && rps >= 0.0, &f.key("rps"), || {
            format!("expected requests per second >= 0, got {rps}")
        })?;
        let start_hour_utc = t.start_hour_utc.unwrap_or(0.0);
        self.check(
            (0.0..24.0).contains(&start_hour_utc),
            &f.key("start_hour_utc"),
            || format!("expected an hour in [0, 24), got {start_hour_utc}"),
        )?;
        let mut regions = Vec::new();
        for (i, r) in t.regions.iter().enumerate() {
            let fr = f.key("region").index(i);
            self.check(
                r.peak_rps.is_finite() && r.peak_rps >= 0.0,
                &fr.key("peak_rps"),
                || format!("expected requests per second >= 0, got {}", r.peak_rps),
            )?;
            let peak_hour_utc = r.peak_hour_utc.unwrap_or(12.0);
            self.check(
                (0.0..24.0).contains(&peak_hour_utc),
                &fr.key("peak_hour_utc"),
                || format!("expected an hour in [0, 24), got {peak_hour_utc}"),
            )?;
            let trough_ratio = r.trough_ratio.unwrap_or(0.3);
            self.check(
                (0.0..=1.0).contains(&trough_ratio),
                &fr.key("trough_ratio"),
                || format!("expected a fraction between 0 and 1, got {trough_ratio}"),
            )?;
            if let Some(p) = &r.profile {
                self.check(p.len() == 24, &fr.key("profile"), || {
                    format!("expected 24 hourly values, got {}", p.len())
                })?;
                for (k, v) in p.iter().enumerate() {
                    self.check(
                        v.is_finite() && *v >= 0.0 && *v <= 1.0,
                        &fr.key("profile").index(k),
                        || format!("expected a fraction of peak_rps between 0 and 1, got {v}"),
                    )?;
                }
            }
            regions.push(Region {
                name: r.name.clone(),
                peak_rps: r.peak_rps,
                peak_hour_utc,
                trough_ratio,
                profile: r.profile.clone(),
            });
        }
        let mut spikes = Vec::new();
        for (i, s) in t.spikes.iter().enumerate() {
            let fs = f.key("spike").index(i);
            let at_s = self.duration(&fs.key("at"), &s.at)?;
            let d = self.duration(&fs.key("duration"), &s.duration)?;
            self.check(at_s < duration_s, &fs.key("at"), || {
                "starts after the scenario ends".into()
            })?;
            self.check(
                s.multiplier.is_finite() && s.multiplier > 0.0,
                &fs.key("multiplier"),
                || format!("expected a positive factor, got {}", s.multiplier),
            )?;
            self.at_most(
                s.multiplier,
                limits::SPIKE_MULTIPLIER,
                &fs.key("multiplier"),
            )?;
            spikes.push(Spike {
                at_s,
                duration_s: d,
                multiplier: s.multiplier,
            });
        }
        let mut surprises = Vec::new();
        for (i, x) in t.surprises.iter().enumerate() {
            let fs = f.key("surprise").index(i);
            let at_s = match &x.at {
                Some(a) => {
                    let at_s = self.duration(&fs.key("at"), a)?;
                    self.check(at_s < duration_s, &fs.key("at"), || {
                        "starts after the scenario ends".into()
                    })?;
                    Some(at_s)
                }
                None => None,
            };
            let d = match &x.duration {
                Some(d) => self.duration(&fs.key("duration"), d)?,
                None => DEFAULT_SURPRISE_S,
            };
            self.check(d > 0.0, &fs.key("duration"), || {
                "expected a length above zero".into()
            })?;
            self.check(
                x.multiplier.is_finite() && x.multiplier > 1.0,
                &fs.key("multiplier"),
                || {
                    format!(
                        "a surge multiplies the rate: expected a factor above 1, got {}",
                        x.multiplier
                    )
                },
            )?;
            self.at_most(
                x.multiplier,
                limits::SPIKE_MULTIPLIER,
                &fs.key("multiplier"),
            )?;
            surprises.push(Surprise {
                at_s,
                duration_s: d,
                multiplier: x.multiplier,
            });
        }
        let tr = Traffic {
            entry,
            rps,
            start_hour_utc,
            regions,
            spikes,
            surprises,
        };
        self.check(tr.peak_rate() > 0.0, f, || {
            "no load: set rps or add a [[traffic.region]] with peak_rps > 0".into()
        })?;
        let surge = tr
            .surprises
            .iter()
            .map(|x| x.multiplier)
            .fold(1.0, f64::max);
        self.check(tr.peak_rate() * surge <= limits::PEAK_RPS, f, || {
            format!(
                "the entry rate peaks at {:.0} requests/s (rps, the regions' peak_rps and the \
                 largest spike and surprise multipliers together); at most {:.0}",
                tr.peak_rate() * surge,
                limits::PEAK_RPS
            )
        })?;
        Ok(tr)
    }

    fn failure(
        &self,
        f: &FieldPath,
        x: &RawFailure,
        raw: &RawScenario,
        infra: &Infrastructure,
    ) -> R<Failure> {
        let at_s = self.duration(&f.key("at"), &x.at)?;
        let duration_s = match &x.duration {
            Some(d) => {
                let d = self.duration(&f.key("duration"), d)?;
                self.check(d > 0.0, &f.key("duration"), || {
                    "must be longer than zero (omit it for a permanent failure)".into()
                })?;
                Some(d)
            }
            None => None,
        };
        let ft = f.key("target");
        match (x.kind, &x.target) {
            (FailureKind::Replica, None) => {
                return Err(self.err(
                    &ft,
                    "a replica failure needs target = \"SERVICE\" or \"SERVICE/INDEX\"",
                ))
            }
            (FailureKind::Replica, Some(t)) => {
                let (name, idx) = match t.split_once('/') {
                    Some((n, i)) => (
                        n,
                        i.parse::<u32>().map_err(|_| {
                            self.err(&ft, format!("expected SERVICE/INDEX, got {t:?}"))
                        })?,
                    ),
                    None => (t.as_str(), 0),
                };
                let Some(s) = raw.services.iter().find(|s| s.name == name) else {
                    return Err(self.err(&ft, format!("no service named {name:?}")));
                };
                self.check(idx < s.replicas, &ft, || {
                    format!(
                        "service {name:?} has {} replicas, there is no replica {idx}",
                        s.replicas
                    )
                })?;
            }
            (FailureKind::Zone, Some(z)) => {
                self.check(infra.zones.contains(z), &ft, || {
                    format!("no zone {z:?} (zones: {})", infra.zones.join(", "))
                })?;
            }
            // Node ids depend on the layout (a plan's nodes or one per replica);
            // they are checked when the simulation is set up.
            (FailureKind::Node, _) | (FailureKind::Zone, None) => {}
        }
        Ok(Failure {
            kind: x.kind,
            at_s,
            duration_s,
            target: x.target.clone(),
        })
    }
}

fn sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_unstable();
    v
}

impl Scenario {
    /// An error about `field` of this scenario (a dotted path as errors
    /// print it: `infrastructure.zones[1]`, `service[2].image`), at the
    /// field's line of the scenario's source (or its nearest enclosing
    /// table's): `FILE:LINE: field `FIELD`: MESSAGE`.
    pub fn error(&self, field: &str, message: impl Into<String>) -> Error {
        let path = FieldPath::parse(field);
        Error::Invalid {
            path: self.path.clone(),
            line: line_of_path(&self.source.0, &path),
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// Whether capacity changes during the run: a service autoscales or
    /// nodes follow the replicas.
    pub fn is_elastic(&self) -> bool {
        self.infrastructure.autoscaling.is_some()
            || self.services.iter().any(|s| s.autoscaling.is_some())
    }

    /// Whether `twip plan` plans it elastically: as `[plan] mode` says,
    /// else when it is elastic.
    pub fn plans_elastically(&self) -> bool {
        match self.plan_mode {
            Some(PlanMode::Elastic) => true,
            Some(PlanMode::Fixed) => false,
            None => self.is_elastic(),
        }
    }

    /// This scenario as a fixed fleet: no autoscaling policy, schedule or
    /// capacity provider (each service at its `replicas`).
    pub fn without_elasticity(&self) -> Scenario {
        let mut s = self.clone();
        for sv in &mut s.services {
            sv.autoscaling = None;
            sv.schedule.clear();
        }
        s.infrastructure.autoscaling = None;
        s
    }

    /// Runs the scenario for `duration_s` seconds (warm-up included)
    /// instead of its own duration; failures and spikes that would start at
    /// or after the end are dropped.
    pub fn set_duration(&mut self, duration_s: f64) {
        self.duration_s = duration_s;
        self.failures.retain(|f| f.at_s < duration_s);
        self.traffic.spikes.retain(|s| s.at_s < duration_s);
        self.traffic
            .surprises
            .retain(|s| s.at_s.is_none_or(|a| a < duration_s));
    }
}
