//! Merging replications into a [`SimReport`], with confidence intervals and SLO verdicts.

use hdrhistogram::Histogram;
use indexmap::IndexMap;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};
use twip_model::Scenario;

use crate::compile::Model;
use crate::engine::{RunStats, BATCHES};

/// Everything a simulation measured (the JSON contract of `twip simulate`).
#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Replications run.
    pub replications: u32,
    /// Simulated seconds per replication (warm-up included).
    pub simulated_s: f64,
    /// Events processed, all replications.
    pub events: u64,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// Requests that arrived after the warm-up.
    pub requests: u64,
    /// Of those, answered successfully.
    pub completed: u64,
    /// Of those, failed (rejected, dropped, timed out).
    pub errors: u64,
    /// errors / (completed + errors).
    pub error_rate: f64,
    /// End-to-end latency of successful requests.
    pub latency_ms: Latency,
    /// 95 % confidence half-widths of the figures above (serialised as a
    /// map keyed by the field each qualifies: `latency_ms.p99`, ...).
    pub ci95: Ci95,
    /// Per service.
    pub services: IndexMap<String, ServiceReport>,
    /// SLO verdict.
    pub slo: SloReport,
    /// Requests completed per second of measured time.
    pub throughput_rps: f64,
    /// Time-average number of requests in the system (Little's L).
    pub mean_in_system: f64,
    /// The injected failures and the errors each caused.
    pub failures: Vec<FailureReport>,
    /// Requests that arrived after the warm-up and were still in the system
    /// when the run ended (neither completed nor errors).
    pub unfinished: Unfinished,
    /// Set when a run stopped early because its queue grew without bound
    /// (the SLO is then not met).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unstable: Option<Unstable>,
    /// Per-interval series (with `--timeline`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Timeline>,
    /// What elastic capacity did (elastic scenarios only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elastic: Option<Elasticity>,
}

/// What elastic capacity did: the counts over time, every scaling event,
/// and what the capacity cost. Series and events are the first
/// replication's; hours and cost are means over the replications.
#[derive(Debug, Clone, Serialize)]
pub struct Elasticity {
    /// Start of each interval of the series (s of simulated time).
    pub start_s: Vec<f64>,
    /// Interval length (s).
    pub interval_s: f64,
    /// Per service.
    pub services: IndexMap<String, ServiceCapacity>,
    /// The capacity provider's nodes (`None` without one: capacity is then
    /// no constraint and has no node cost of its own).
    pub nodes: Option<NodeCapacity>,
    /// Every change of a count, in time order.
    pub events: Vec<ScalingEvent>,
    /// Every change of a replica's state after time zero, in time order.
    pub replicas: Vec<ReplicaChange>,
}

/// A replica changed state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaChange {
    /// When (s of simulated time).
    pub at_s: f64,
    /// Its service.
    pub service: String,
    /// Its index in the service (a slot: a replaced replica takes a free one).
    pub replica: u32,
    /// The new state.
    pub state: ReplicaState,
    /// The node it was placed on (when it starts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// That node's zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// A replica's state under elastic capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicaState {
    /// Not running.
    Stopped,
    /// Waiting for a node.
    Provisioning,
    /// On a node, not yet healthy.
    Starting,
    /// In the balancer's rotation.
    InService,
    /// Removed by scale-in, finishing its requests.
    Draining,
    /// Killed by a failure, not yet noticed by the health checks.
    Failed,
}

/// One service's replicas over the run (values at each interval's last look).
#[derive(Debug, Clone, Serialize)]
pub struct ServiceCapacity {
    /// Running-replica hours over the whole run.
    pub replica_hours: f64,
    /// The count the scheduler works towards.
    pub desired: Vec<u32>,
    /// In the balancer's rotation.
    pub in_service: Vec<u32>,
    /// Waiting for a node (ECS: PROVISIONING).
    pub provisioning: Vec<u32>,
    /// On a node, not yet healthy.
    pub starting: Vec<u32>,
}

/// The capacity provider's nodes over the run.
#[derive(Debug, Clone, Serialize)]
pub struct NodeCapacity {
    /// Instance type.
    pub instance_type: String,
    /// Its price per hour.
    pub usd_per_hour: f64,
    /// Node hours paid for (from launch to termination) over the whole run.
    pub node_hours: f64,
    /// `node_hours × usd_per_hour`.
    pub cost_usd: f64,
    /// Most nodes at once.
    pub peak: u32,
    /// Nodes in the cluster.
    pub up: Vec<u32>,
    /// Nodes launched, not yet joined.
    pub provisioning: Vec<u32>,
}

/// A change of a count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalingEvent {
    /// When (s of simulated time).
    pub at_s: f64,
    /// The service scaled, or `None` for the nodes.
    pub service: Option<String>,
    /// Count before.
    pub from: u32,
    /// Count after (equal to `from` for a replacement or a bound change).
    pub to: u32,
    /// Why.
    pub cause: Cause,
}

/// Why a count changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    /// The scale-out alarm fired: the period's value of the metric and the
    /// threshold it passed.
    ScaleOut {
        /// Metric.
        metric: twip_model::elastic::Metric,
        /// The period's value.
        value: f64,
        /// Target or step bound.
        threshold: f64,
    },
    /// The scale-in alarm fired.
    ScaleIn {
        /// Metric.
        metric: twip_model::elastic::Metric,
        /// The period's value.
        value: f64,
        /// Scale-in threshold.
        threshold: f64,
    },
    /// A scheduled action moved the bounds.
    Schedule {
        /// Index in the service's `[[service.schedule]]`.
        action: u32,
        /// New minimum.
        min: Option<u32>,
        /// New maximum.
        max: Option<u32>,
    },
    /// A failure's victims were replaced (service) or its node replaced (nodes).
    Failure {
        /// Index in the scenario's failures.
        failure: usize,
        /// What it hit.
        what: String,
    },
    /// Replicas waiting for capacity made the provider add nodes.
    Capacity {
        /// Replicas waiting.
        pending: u32,
        /// The provider's reservation (nodes needed ÷ nodes), in percent.
        reservation_pct: f64,
        /// The provider's target capacity, in percent.
        target_pct: f64,
    },
    /// Empty nodes removed after 15 minutes below the target.
    Idle {
        /// The provider's reservation, in percent.
        reservation_pct: f64,
    },
}

/// 95 % confidence half-widths, each `None` when it cannot be estimated.
///
/// With two or more replications: t-intervals over the replications; with
/// one: batch means over ten batches (the per-service ones need
/// replications). The p99's is the batch-means interval of the
/// distribution function at the p99, inverted (see `quantile_ci`), over
/// replications or over batches merged until each holds enough requests
/// above the p99; `latency_p99_widened` says when even two could not. Serialised as one map keyed by the field each qualifies
/// (`latency_ms.mean`, `latency_ms.p99`, `error_rate`,
/// `services.NAME.mean_wait_ms`, `services.NAME.utilization`), the absent
/// ones left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ci95 {
    /// Of `latency_ms.mean`.
    pub latency_mean_ms: Option<f64>,
    /// Of `latency_ms.p99`.
    pub latency_p99_ms: Option<f64>,
    /// The p99 interval was widened: too few requests above the p99 in a
    /// batch (or replication) for the usual estimate.
    pub latency_p99_widened: bool,
    /// Of `error_rate`.
    pub error_rate: Option<f64>,
    /// Per service, in the scenario's order.
    pub services: IndexMap<String, ServiceCi95>,
}

/// One service's 95 % half-widths.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServiceCi95 {
    /// Of `services.NAME.mean_wait_ms`.
    pub mean_wait_ms: Option<f64>,
    /// Of `services.NAME.utilization`.
    pub utilization: Option<f64>,
}

impl Serialize for Ci95 {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = ser.serialize_map(None)?;
        let mut put = |k: &str, v: Option<f64>| match v {
            Some(v) => m.serialize_entry(k, &v),
            None => Ok(()),
        };
        put("latency_ms.mean", self.latency_mean_ms)?;
        put("latency_ms.p99", self.latency_p99_ms)?;
        put("error_rate", self.error_rate)?;
        for (name, c) in &self.services {
            put(&format!("services.{name}.mean_wait_ms"), c.mean_wait_ms)?;
            put(&format!("services.{name}.utilization"), c.utilization)?;
        }
        if self.latency_p99_widened {
            m.serialize_entry("latency_ms.p99.widened", &true)?;
        }
        m.end()
    }
}

/// Requests still in the system when the run ended (all replications).
#[derive(Debug, Clone, Serialize)]
pub struct Unfinished {
    /// How many.
    pub requests: u64,
    /// Age of the oldest (ms); 0 when there is none.
    pub oldest_ms: f64,
    /// Their mean age (ms); 0 when there is none.
    pub mean_age_ms: f64,
}

/// A run stopped before its end: the queue grows without bound.
///
/// The engine stops a run once more than [`BOUND`](Self::BOUND) requests are in the system while the arrival rate exceeds the capacity
/// of the bottleneck service (replicas in rotation × workers ÷ (visits ×
/// mean holding time without queueing): an upper bound, so the queue
/// certainly grows), or once more than [`HARD_BOUND`](Self::HARD_BOUND) are,
/// whatever the rates (the memory bound). The figures then cover the
/// simulated time up to the stop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Unstable {
    /// When the (earliest) run stopped (s of simulated time).
    pub at_s: f64,
    /// Requests in the system then.
    pub in_system: u64,
    /// Arrival rate then (requests/s).
    pub arrival_rps: f64,
    /// The bottleneck's capacity then (entry requests/s).
    pub capacity_rps: f64,
    /// Runs (replications or segments) that stopped.
    pub runs: u32,
}

impl Unstable {
    /// Requests in the system past which an overloaded run stops.
    pub const BOUND: u64 = crate::engine::IN_SYSTEM_BOUND as u64;
    /// Requests in the system past which any run stops.
    pub const HARD_BOUND: u64 = crate::engine::IN_SYSTEM_HARD_BOUND as u64;
}

/// Which latency figures are lower bounds ("more than"), because requests
/// still in the system at the end could change them: a percentile `p` when
/// those requests are more than `1 − p` of the requests counted, the max
/// when the oldest of them is older than the slowest completed one, the
/// mean when they are more than 1 % of the requests counted. A censored
/// figure counts the unfinished requests at their age.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Censored {
    /// `latency_ms.mean` is a lower bound.
    pub mean: bool,
    /// `latency_ms.p50` is a lower bound.
    pub p50: bool,
    /// `latency_ms.p95` is a lower bound.
    pub p95: bool,
    /// `latency_ms.p99` is a lower bound.
    pub p99: bool,
    /// `latency_ms.max` is a lower bound.
    pub max: bool,
}

impl Censored {
    /// No figure is censored.
    pub fn is_none(&self) -> bool {
        *self == Censored::default()
    }
}

/// Latency summary in milliseconds: of the requests that completed, unless
/// [`Latency::censored`] says a figure is a lower bound.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// The figures that are lower bounds (left out of the JSON when none is).
    #[serde(skip_serializing_if = "Censored::is_none")]
    pub censored: Censored,
}

/// One service's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    /// Busy worker time / available worker time.
    pub utilization: f64,
    /// Mean time in queue before a worker takes the request.
    pub mean_wait_ms: f64,
    /// Mean own service time.
    pub mean_service_ms: f64,
    /// Visits answered successfully.
    pub completed: u64,
    /// Visits refused: queue full or no replica in rotation.
    pub rejected: u64,
    /// Visits lost to a failed replica (dropped, or sent to it before detection).
    pub failed: u64,
    /// Visits over the service's timeout.
    pub timed_out: u64,
    /// Connections to a dead replica that failed after the upstream's
    /// `connect_timeout` (each retried elsewhere, or the visit's error).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub connect_failures: u64,
}

fn is_zero_u64(x: &u64) -> bool {
    *x == 0
}

/// SLO verdict.
#[derive(Debug, Clone, Serialize)]
pub struct SloReport {
    /// All objectives met.
    pub met: bool,
    /// One line per objective not met, with the measured value and the bound.
    pub violations: Vec<String>,
}

/// A failure and what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct FailureReport {
    /// What failed, e.g. `node web-1 (us-east-1b)`.
    pub what: String,
    /// Start (s).
    pub at_s: f64,
    /// End (s), `None` if permanent.
    pub end_s: Option<f64>,
    /// Replicas taken down.
    pub replicas: usize,
    /// Service visits dropped or refused by those replicas (all replications).
    pub errors: u64,
}

/// Per-interval series over the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    /// Start of each interval (s of simulated time).
    pub start_s: Vec<f64>,
    /// Interval length (s).
    pub interval_s: f64,
    /// Arrivals per second.
    pub rps: Vec<f64>,
    /// Errors per interval (mean over replications).
    pub errors: Vec<f64>,
    /// Error rate per interval.
    pub error_rate: Vec<f64>,
    /// Median latency (ms).
    pub p50_ms: Vec<f64>,
    /// 95th percentile (ms).
    pub p95_ms: Vec<f64>,
    /// 99th percentile (ms).
    pub p99_ms: Vec<f64>,
}

fn q_ms<T: hdrhistogram::Counter>(h: &Histogram<T>, q: f64) -> f64 {
    if h.is_empty() {
        f64::NAN
    } else {
        h.value_at_quantile(q) as f64 / 1e3
    }
}

/// Half-width of the 95 % t-interval of the mean of `xs` (`None` below two values).
pub(crate) fn half_width(xs: &[f64]) -> Option<f64> {
    let xs: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    let n = xs.len();
    if n < 2 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .ok()?
        .inverse_cdf(0.975);
    Some(t * (var / n as f64).sqrt())
}

/// Requests above the quantile each group (batch or replication) must hold
/// for the quantile's interval to rest on its batch means alone.
pub(crate) const TAIL_MIN: u64 = 20;

/// A quantile's 95 % interval.
#[derive(Debug, Clone, Copy)]
struct QuantileCi {
    half_width_ms: f64,
    widened: bool,
}

/// The 95 % interval of the `p` quantile of `all` (the merged distribution),
/// from `units`: consecutive batches of one replication, or replications.
///
/// A batch's p99 is a biased, skewed estimate when the batch holds few
/// requests above it, so a t-interval over batch p99s under-covers (73 % on
/// 20-minute runs). Instead the interval is that of the distribution
/// function at the estimate, inverted: each group's share of requests at or
/// below `Q̂ = all.quantile(p)` is an unbiased mean, whose batch-means
/// t-interval `p ± h` (deviations taken around the overall share, as in
/// sectioning; never narrower than independent samples would give) maps
/// back through `all` to `[Q̂(p − h), Q̂(p + h)]`; the half-width reported is
/// the larger side. Units are merged into fewer, longer groups (a divisor
/// of their number, at least two) until each holds [`TAIL_MIN`] requests
/// above `Q̂`; when even two halves do not, the interval rests on two and
/// is marked widened. `None` when nothing completed.
fn quantile_ci<T: hdrhistogram::Counter>(
    all: &Histogram<u64>,
    units: &[Histogram<T>],
    p: f64,
) -> Option<QuantileCi> {
    let n_all = all.len();
    if n_all == 0 || units.len() < 2 {
        return None;
    }
    let q = all.value_at_quantile(p);
    let counts: Vec<(u64, u64)> = units
        .iter()
        .map(|h| (h.len(), h.count_between(0, q)))
        .collect();
    let k = counts.len();
    let group = |b: usize| -> Vec<(u64, u64)> {
        (0..b)
            .map(|j| {
                counts[j * k / b..(j + 1) * k / b]
                    .iter()
                    .fold((0, 0), |(n, lo), &(a, c)| (n + a, lo + c))
            })
            .collect()
    };
    let enough = |g: &[(u64, u64)]| g.iter().all(|&(n, lo)| n - lo >= TAIL_MIN);
    let (groups, widened) = (2..=k)
        .rev()
        .filter(|&b| k.is_multiple_of(b))
        .map(group)
        .find(|g| enough(g))
        .map(|g| (g, false))
        .unwrap_or_else(|| (group(2), true));
    let groups: Vec<(f64, f64)> = groups
        .into_iter()
        .filter(|&(n, _)| n > 0)
        .map(|(n, lo)| (n as f64, lo as f64))
        .collect();
    let b = groups.len();
    if b < 2 {
        return None;
    }
    let n: f64 = groups.iter().map(|g| g.0).sum();
    let share = groups.iter().map(|g| g.1).sum::<f64>() / n;
    let var = groups
        .iter()
        .map(|&(m, lo)| (lo / m - share).powi(2))
        .sum::<f64>()
        / (b - 1) as f64;
    let se = (var / b as f64).max(p * (1.0 - p) / n).sqrt();
    let t = StudentsT::new(0.0, 1.0, (b - 1) as f64)
        .ok()?
        .inverse_cdf(0.975);
    let h = t * se;
    let at = |x: f64| all.value_at_quantile(x.clamp(0.0, 1.0)) as f64;
    let (lo, mid, hi) = (at(p - h), q as f64, at(p + h));
    let half = (hi - mid).max(mid - lo);
    Some(QuantileCi {
        half_width_ms: half / 1e3,
        widened,
    })
}

/// Per-replication (or, with one replication, per-batch) values of the
/// headline figures, for confidence intervals.
struct Sample {
    mean_ms: f64,
    error_rate: f64,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

pub(crate) fn build(
    s: &Scenario,
    m: &Model,
    seed: u64,
    runs: Vec<RunStats>,
    timeline: bool,
    wall_s: f64,
    node_type: Option<&crate::NodeType>,
) -> SimReport {
    let reps = runs.len();
    // A run stopped as unstable measured only up to its stop.
    let measured = if runs.iter().any(|r| r.unstable.is_some()) {
        runs.iter().map(|r| r.measured_s).sum::<f64>() / reps as f64
    } else {
        m.end - m.warmup
    };
    let nb = runs[0].buckets.len();
    let bucket_s = runs[0].bucket_s;

    // Samples for the confidence intervals.
    let samples: Vec<Sample> = if reps >= 2 {
        runs.iter()
            .map(|r| Sample {
                mean_ms: ratio(r.latency_sum, r.completed as f64) * 1e3,
                error_rate: ratio(r.errors as f64, (r.completed + r.errors) as f64),
            })
            .collect()
    } else {
        // Batch means: ten consecutive batches of intervals.
        let r = &runs[0];
        r.buckets
            .chunks(nb / BATCHES)
            .map(|c| {
                let done: u64 = c.iter().map(|b| b.completed).sum();
                let err: u64 = c.iter().map(|b| b.errors).sum();
                let sum: f64 = c.iter().map(|b| b.latency_sum).sum();
                Sample {
                    mean_ms: ratio(sum, done as f64) * 1e3,
                    error_rate: ratio(err as f64, (done + err) as f64),
                }
            })
            .collect()
    };

    let mut hist = Histogram::<u64>::new_with_bounds(1, runs[0].batches[0].high(), 3)
        .expect("valid histogram bounds");
    let (mut requests, mut completed, mut errors, mut events) = (0, 0, 0, 0);
    let (mut latency_sum, mut in_system_area) = (0.0, 0.0);
    for r in &runs {
        hist.add(r.hist()).ok();
        requests += r.requests;
        completed += r.completed;
        errors += r.errors;
        events += r.events;
        latency_sum += r.latency_sum;
        in_system_area += r.in_system_area;
    }
    let error_rate = ratio(errors as f64, (completed + errors) as f64);
    let unfinished = Unfinished {
        requests: runs.iter().map(|r| r.unfinished.count).sum(),
        oldest_ms: runs.iter().map(|r| r.unfinished.oldest).fold(0.0, f64::max) * 1e3,
        mean_age_ms: ratio(
            runs.iter().map(|r| r.unfinished.age_sum).sum(),
            runs.iter().map(|r| r.unfinished.count).sum::<u64>() as f64,
        ) * 1e3,
    };
    let latency_ms = latency(&hist, &runs, completed, latency_sum, &unfinished);
    // The p99's interval: per replication, or per batch of the one replication.
    let p99_ci = if reps >= 2 {
        let units: Vec<Histogram<u64>> = runs.iter().map(|r| r.hist()).collect();
        quantile_ci(&hist, &units, 0.99)
    } else {
        quantile_ci(&hist, &runs[0].batches, 0.99)
    };
    // A lower bound (censored) has no interval.
    let c = latency_ms.censored;
    let mut ci95 = Ci95 {
        latency_mean_ms: half_width(&samples.iter().map(|x| x.mean_ms).collect::<Vec<_>>())
            .filter(|_| !c.mean),
        latency_p99_ms: p99_ci.map(|c| c.half_width_ms).filter(|_| !c.p99),
        latency_p99_widened: p99_ci.is_some_and(|c| c.widened),
        error_rate: half_width(&samples.iter().map(|x| x.error_rate).collect::<Vec<_>>()),
        services: IndexMap::new(),
    };

    let mut services = IndexMap::new();
    for (i, sv) in s.services.iter().enumerate() {
        let capacity = match runs[0].elastic.as_ref() {
            // Worker time of the replicas running in the measured window.
            Some(_) => {
                let running: f64 = runs
                    .iter()
                    .filter_map(|r| r.elastic.as_ref())
                    .map(|e| e.replica_s[i] - e.replica_s_warmup.get(i).copied().unwrap_or(0.0))
                    .sum::<f64>()
                    / reps as f64;
                f64::from(m.svcs[i].workers) * running
            }
            None => (m.svcs[i].workers * m.svcs[i].replicas) as f64 * measured,
        };
        let sum = |f: &dyn Fn(&crate::engine::SvcStats) -> f64| {
            runs.iter().map(|r| f(&r.svcs[i])).sum::<f64>()
        };
        let started = sum(&|x| x.started as f64);
        if reps >= 2 {
            let wait: Vec<f64> = runs
                .iter()
                .map(|r| ratio(r.svcs[i].wait_sum, r.svcs[i].started as f64) * 1e3)
                .collect();
            let util: Vec<f64> = runs
                .iter()
                .map(|r| ratio(r.svcs[i].busy_area, capacity))
                .collect();
            let c = ServiceCi95 {
                mean_wait_ms: half_width(&wait),
                utilization: half_width(&util),
            };
            if c != ServiceCi95::default() {
                ci95.services.insert(sv.name.clone(), c);
            }
        }
        services.insert(
            sv.name.clone(),
            ServiceReport {
                utilization: ratio(sum(&|x| x.busy_area), capacity * reps as f64),
                mean_wait_ms: ratio(sum(&|x| x.wait_sum), started) * 1e3,
                mean_service_ms: ratio(sum(&|x| x.service_sum), started) * 1e3,
                completed: sum(&|x| x.completed as f64) as u64,
                rejected: sum(&|x| x.rejected as f64) as u64,
                failed: sum(&|x| x.failed as f64) as u64,
                timed_out: sum(&|x| x.timed_out as f64) as u64,
                connect_failures: sum(&|x| x.connect_failures as f64) as u64,
            },
        );
    }

    let failures: Vec<FailureReport> = m
        .failures
        .iter()
        .enumerate()
        .map(|(i, f)| FailureReport {
            what: runs[0]
                .elastic
                .as_ref()
                .and_then(|e| e.failure_descriptions[i].clone())
                .unwrap_or_else(|| f.description.clone()),
            at_s: f.at,
            end_s: f.end,
            replicas: match &runs[0].elastic {
                Some(e) => e.failure_replicas[i],
                None => f.replicas.len(),
            },
            errors: runs.iter().map(|r| r.failure_errors[i]).sum(),
        })
        .collect();

    let timeline = timeline.then(|| {
        let mut t = Timeline {
            start_s: Vec::new(),
            interval_s: bucket_s,
            rps: Vec::new(),
            errors: Vec::new(),
            error_rate: Vec::new(),
            p50_ms: Vec::new(),
            p95_ms: Vec::new(),
            p99_ms: Vec::new(),
        };
        for k in 0..nb {
            let mut h = runs[0].buckets[k].hist.clone();
            let (mut arr, mut done, mut err) = (0u64, 0u64, 0u64);
            for (j, r) in runs.iter().enumerate() {
                let b = &r.buckets[k];
                if j > 0 {
                    h.add(&b.hist).ok();
                }
                arr += b.arrivals;
                done += b.completed;
                err += b.errors;
            }
            t.start_s.push(m.warmup + k as f64 * bucket_s);
            t.rps.push(arr as f64 / bucket_s / reps as f64);
            t.errors.push(err as f64 / reps as f64);
            t.error_rate.push(ratio(err as f64, (done + err) as f64));
            t.p50_ms.push(q_ms(&h, 0.50));
            t.p95_ms.push(q_ms(&h, 0.95));
            t.p99_ms.push(q_ms(&h, 0.99));
        }
        t
    });

    let elastic = elasticity(s, m, &runs, node_type, &failures);
    let unstable = runs
        .iter()
        .filter_map(|r| r.unstable)
        .min_by(|a, b| a.at.total_cmp(&b.at));
    let unstable = unstable.map(|u| Unstable {
        at_s: u.at,
        in_system: u.in_system,
        arrival_rps: u.arrival_rps,
        capacity_rps: u.capacity_rps,
        runs: runs.iter().filter(|r| r.unstable.is_some()).count() as u32,
    });
    let slo = verdict(s, &latency_ms, error_rate, completed, unstable.is_some());
    SimReport {
        scenario: s.name.clone(),
        seed,
        replications: reps as u32,
        simulated_s: m.end,
        events,
        wall_s,
        requests,
        completed,
        errors,
        error_rate,
        latency_ms,
        ci95,
        services,
        slo,
        throughput_rps: completed as f64 / measured / reps as f64,
        mean_in_system: in_system_area / measured / reps as f64,
        failures,
        unfinished,
        unstable,
        timeline,
        elastic,
    }
}

/// The latency summary: of the completed requests (`hist`, `latency_sum` in
/// s), each figure the unfinished requests could change replaced by the
/// lower bound that counts them at their age (see [`Censored`]).
fn latency(
    hist: &Histogram<u64>,
    runs: &[RunStats],
    completed: u64,
    latency_sum: f64,
    u: &Unfinished,
) -> Latency {
    let n = (completed + u.requests) as f64;
    let share = ratio(u.requests as f64, n);
    let censored_q = |p: f64| share > 1.0 - p;
    // Completed and unfinished (at their ages) together, only when needed.
    let with_ages = censored_q(0.99).then(|| {
        let mut h = hist.clone();
        for a in runs.iter().filter_map(|r| r.unfinished.ages.as_ref()) {
            for v in a.iter_recorded() {
                h.saturating_record_n(v.value_iterated_to(), v.count_at_value() as u64);
            }
        }
        h
    });
    let q = |p: f64| match &with_ages {
        Some(h) if censored_q(p) => q_ms(h, p),
        _ => q_ms(hist, p),
    };
    let max_done = if hist.is_empty() {
        f64::NAN
    } else {
        hist.max() as f64 / 1e3
    };
    let censored = Censored {
        mean: share > 0.01,
        p50: censored_q(0.50),
        p95: censored_q(0.95),
        p99: censored_q(0.99),
        max: u.requests > 0 && (max_done.is_nan() || u.oldest_ms > max_done),
    };
    Latency {
        mean: if censored.mean {
            (latency_sum * 1e3 + u.mean_age_ms * u.requests as f64) / n
        } else if completed > 0 {
            latency_sum / completed as f64 * 1e3
        } else {
            f64::NAN
        },
        p50: q(0.50),
        p95: q(0.95),
        p99: q(0.99),
        max: if censored.max { u.oldest_ms } else { max_done },
        censored,
    }
}

fn elasticity(
    s: &Scenario,
    m: &Model,
    runs: &[RunStats],
    node_type: Option<&crate::NodeType>,
    failures: &[FailureReport],
) -> Option<Elasticity> {
    use crate::engine::elastic::{Scaled, Slot, Why};
    let first = runs[0].elastic.as_ref()?;
    let reps = runs.len() as f64;
    let mean = |f: &dyn Fn(&crate::engine::ElasticStats) -> f64| {
        runs.iter()
            .filter_map(|r| r.elastic.as_ref())
            .map(f)
            .sum::<f64>()
            / reps
    };
    let bucket_s = runs[0].bucket_s;
    let n = runs[0].buckets.len();
    let services = s
        .services
        .iter()
        .enumerate()
        .map(|(i, sv)| {
            let col = |k: usize| first.services[i].iter().map(|v| v[k]).collect();
            (
                sv.name.clone(),
                ServiceCapacity {
                    replica_hours: mean(&|e| e.replica_s[i]) / 3600.0,
                    desired: col(0),
                    in_service: col(1),
                    provisioning: col(2),
                    starting: col(3),
                },
            )
        })
        .collect();
    let nodes = m.elastic.as_ref().and_then(|e| e.nodes.as_ref()).map(|_| {
        let ty = node_type.expect("a provider has a node type");
        let node_hours = mean(&|e| e.node_s) / 3600.0;
        NodeCapacity {
            instance_type: ty.name.clone(),
            usd_per_hour: ty.usd_per_hour,
            node_hours,
            cost_usd: node_hours * ty.usd_per_hour,
            peak: first.peak_nodes,
            up: first.nodes.iter().map(|v| v[0]).collect(),
            provisioning: first.nodes.iter().map(|v| v[1]).collect(),
        }
    });
    let events = first
        .events
        .iter()
        .map(|e| ScalingEvent {
            at_s: e.t,
            service: match e.what {
                Scaled::Service(i) => Some(s.services[i as usize].name.clone()),
                Scaled::Nodes => None,
            },
            from: e.from,
            to: e.to,
            cause: match e.why.clone() {
                Why::Out {
                    metric,
                    value,
                    threshold,
                } => Cause::ScaleOut {
                    metric,
                    value,
                    threshold,
                },
                Why::In {
                    metric,
                    value,
                    threshold,
                } => Cause::ScaleIn {
                    metric,
                    value,
                    threshold,
                },
                Why::Schedule { action, min, max } => Cause::Schedule { action, min, max },
                Why::Failure { failure } => Cause::Failure {
                    failure: failure as usize,
                    what: failures
                        .get(failure as usize)
                        .map(|f| f.what.clone())
                        .unwrap_or_default(),
                },
                Why::Capacity {
                    pending,
                    reservation_pct,
                    target_pct,
                } => Cause::Capacity {
                    pending,
                    reservation_pct,
                    target_pct,
                },
                Why::Idle { reservation_pct } => Cause::Idle { reservation_pct },
            },
        })
        .collect();
    let replicas = first
        .changes
        .iter()
        .map(|&(t, r, state, node)| {
            let svc = m.replica_svc[r as usize] as usize;
            let placed = first.node_ids.get(node as usize);
            ReplicaChange {
                node: placed.map(|(id, _)| id.clone()),
                zone: placed.and_then(|&(_, z)| s.infrastructure.zones.get(z as usize).cloned()),
                at_s: t,
                service: s.services[svc].name.clone(),
                replica: r - m.svcs[svc].first_replica,
                state: match state {
                    Slot::Off => ReplicaState::Stopped,
                    Slot::Pending => ReplicaState::Provisioning,
                    Slot::Starting => ReplicaState::Starting,
                    Slot::InService => ReplicaState::InService,
                    Slot::Draining => ReplicaState::Draining,
                    Slot::Dead => ReplicaState::Failed,
                },
            }
        })
        .collect();
    Some(Elasticity {
        replicas,
        start_s: (0..n).map(|k| m.warmup + k as f64 * bucket_s).collect(),
        interval_s: bucket_s,
        services,
        nodes,
        events,
    })
}

fn verdict(
    s: &Scenario,
    lat: &Latency,
    error_rate: f64,
    completed: u64,
    unstable: bool,
) -> SloReport {
    let mut violations = Vec::new();
    if let Some(slo) = &s.slo {
        if let Some(bound) = slo.p99_ms {
            if lat.censored.p99 && lat.p99 > bound {
                violations.push(format!("p99 more than {:.1} ms > {bound} ms", lat.p99));
            } else if completed == 0 {
                violations.push(format!("p99: no request completed (bound {bound} ms)"));
            } else if lat.censored.p99 {
                violations.push(format!(
                    "p99 more than {:.1} ms (requests still in the system), bound {bound} ms",
                    lat.p99
                ));
            } else if lat.p99 > bound {
                violations.push(format!("p99 {:.1} ms > {bound} ms", lat.p99));
            }
        }
        if let Some(bound) = slo.max_error_rate {
            if error_rate > bound {
                violations.push(format!("error rate {error_rate:.5} > {bound}"));
            }
        }
    }
    SloReport {
        // An unstable run meets nothing, whatever its objectives (its
        // `SimReport::unstable` says why).
        met: violations.is_empty() && !unstable,
        violations,
    }
}
