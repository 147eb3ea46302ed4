//! Verification of a placed candidate by simulation.
//!
//! **The verification window.** A plan must hold at the worst moment of the
//! day, so each case simulates the scenario's peak arrival rate (spikes
//! included, see [`crate::sizing::peak`]) as a constant Poisson rate: a
//! one-minute warm-up (queues at these service times forget their start
//! within seconds), then a measured window long enough for about a million
//! requests (2 to 30 minutes). This is conservative: the real peak (a spike,
//! the top of a sinusoid) lasts minutes, while the window treats it as
//! steady. It is cheap: a few seconds of simulation per case at the
//! worldwide peak instead of the ~4 s per simulated hour of a full day.
//!
//! **Failure cases.** The failure (a node or a zone) happens at the start of
//! the measured window and is permanent, so the window sees both the
//! detection burst and the degraded steady state. A loss is characterised by
//! the replicas it takes from each service; losses that take the same are
//! equivalent (balancers do not care which replica index died) and are
//! simulated once, and a loss that takes no more of any service than another
//! one is covered by it (a zone loss covers the losses of its nodes).
//!
//! **The error-rate objective in failure cases.** Until health checks take
//! a dead replica out of rotation (`interval × failures`, 4 to 15 s in the
//! TWIP scenarios) every request sent to it fails: over a 2-minute window
//! that burst alone would read as an error rate of several percent, which
//! says nothing about a daily error rate. The planner assumes each failure
//! class strikes at most once a day, and checks
//! `steady-state error rate after detection + burst errors / requests per day`
//! against `max_error_rate`; the burst is the failure's first
//! `detection + 5 s`. The p99 objective is checked over the whole window,
//! burst included (failed requests are errors, not latencies), and it is
//! met only when the upper end of its 95 % confidence interval (batch means
//! over ten batches of the window) is within the bound: a verified plan is
//! not a lucky draw.

use twip_model::{Failure, Layout, Loss, Scenario};
use twip_sim::sizing::Sizing;
use twip_sim::Options;

use crate::explain::{Inference, SurvivalGap, Violation};

/// Seconds after the failure counted as its detection burst, beyond the
/// health checks' detection time.
pub const BURST_MARGIN_S: f64 = 5.0;

/// The simulated stretch of each case.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Constant arrival rate (requests/s): the peak.
    pub rps: f64,
    /// Warm-up (s), not measured.
    pub warmup_s: f64,
    /// Measured time (s).
    pub measure_s: f64,
}

impl Window {
    /// About a million requests at the peak, between 2 and 30 minutes.
    pub fn for_peak(z: &Sizing) -> Window {
        Window {
            rps: z.peak_rps,
            warmup_s: 60.0,
            measure_s: (1.0e6 / z.peak_rps).clamp(120.0, 1800.0).round(),
        }
    }
}

/// A case to verify.
#[derive(Debug, Clone)]
pub struct Case {
    /// What fails (`Loss::None`: the baseline).
    pub loss: Loss,
    /// Replicas per service.
    pub replicas: Vec<u32>,
    /// Replicas the failure takes, per service.
    pub lost: Vec<u32>,
    /// The equivalent or dominated losses this case stands for.
    pub covers: Vec<Loss>,
}

impl Case {
    /// No failure.
    pub fn baseline(replicas: &[u32]) -> Case {
        Case {
            loss: Loss::None,
            replicas: replicas.to_vec(),
            lost: vec![0; replicas.len()],
            covers: Vec::new(),
        }
    }

    /// Replicas left per service.
    pub(crate) fn survivors(&self) -> Vec<u32> {
        self.replicas
            .iter()
            .zip(&self.lost)
            .map(|(r, l)| r - l)
            .collect()
    }
}

/// What one case measured, and the objectives it is judged by.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case.
    pub loss: Loss,
    /// p99 of end-to-end latency (ms); NaN if nothing completed.
    pub p99_ms: f64,
    /// Its 95 % half-width (batch means).
    pub p99_ci95_ms: Option<f64>,
    /// The error rate judged (see the module docs).
    pub error_rate: f64,
    /// Error rate after detection (failure cases), or over the window.
    pub steady_error_rate: f64,
    /// Errors of the detection burst (failure cases).
    pub burst_errors: f64,
    /// Requests per day the burst is amortised over.
    pub daily_requests: f64,
    /// The p99 objective (ms).
    pub p99_bound: Option<f64>,
    /// The error-rate objective.
    pub error_bound: Option<f64>,
    /// The simulation could not run.
    pub failed: Option<String>,
    /// The run stopped because its queue grew without bound: requests in
    /// the system and when.
    pub unstable: Option<(u64, f64)>,
    /// The p99 is a lower bound (requests still in the system at the end
    /// could raise it): it meets no bound.
    pub p99_censored: bool,
    /// Set when the result was inferred from another simulated case.
    pub inferred_from: Option<Inference>,
}

impl CaseResult {
    fn empty(loss: Loss) -> CaseResult {
        CaseResult {
            loss,
            p99_ms: 0.0,
            p99_ci95_ms: None,
            error_rate: 0.0,
            steady_error_rate: 0.0,
            burst_errors: 0.0,
            daily_requests: 0.0,
            p99_bound: None,
            error_bound: None,
            failed: None,
            unstable: None,
            p99_censored: false,
            inferred_from: None,
        }
    }

    /// The first objective not met.
    pub fn violation(&self) -> Option<Violation> {
        let loss = self.loss.clone();
        let inferred = self.inferred_from.clone();
        if let Some(f) = &self.failed {
            return Some(Violation::SimFailed {
                loss,
                message: f.clone(),
            });
        }
        if let Some((in_system, at_s)) = self.unstable {
            return Some(Violation::Unstable {
                in_system,
                at_s,
                loss,
            });
        }
        if let Some(b) = self.p99_bound {
            if self.p99_ms.is_nan() {
                return Some(Violation::NoneCompleted { loss, inferred });
            }
            // Met only if the whole 95 % interval is within the bound.
            let ci = self.p99_ci95_ms.filter(|x| x.is_finite()).unwrap_or(0.0);
            if self.p99_censored || self.p99_ms + ci > b {
                return Some(Violation::P99 {
                    p99_ms: self.p99_ms,
                    bound_ms: b,
                    loss,
                    inferred,
                });
            }
        }
        if let Some(b) = self.error_bound {
            if self.error_rate > b {
                return Some(Violation::ErrorRate {
                    rate: self.error_rate,
                    bound: b,
                    steady: self.steady_error_rate,
                    burst_errors: self.burst_errors,
                    daily_requests: self.daily_requests,
                    loss,
                    inferred,
                });
            }
        }
        None
    }
}

pub(crate) fn le(a: &[u32], b: &[u32]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y)
}

fn loss(layout: &Layout, nodes: &[usize]) -> Vec<u32> {
    layout
        .replica_node
        .iter()
        .map(|v| v.iter().filter(|n| nodes.contains(n)).count() as u32)
        .collect()
}

/// The zones that hold nodes, in the layout's order of first appearance.
fn used_zones(layout: &Layout) -> Vec<String> {
    let mut zones: Vec<String> = Vec::new();
    for n in &layout.nodes {
        if !zones.contains(&n.zone) {
            zones.push(n.zone.clone());
        }
    }
    zones
}

/// The failure cases a layout must pass: node and/or zone losses, equal
/// losses merged, dominated losses folded into the ones that dominate them.
pub fn cases(layout: &Layout, node: bool, zone: bool) -> Vec<Case> {
    let replicas: Vec<u32> = layout.replica_node.iter().map(|v| v.len() as u32).collect();
    let mut all: Vec<Case> = Vec::new();
    if zone {
        for z in used_zones(layout) {
            let nodes: Vec<usize> = (0..layout.nodes.len())
                .filter(|&i| layout.nodes[i].zone == z)
                .collect();
            all.push(Case {
                loss: Loss::Zone { zone: z },
                replicas: replicas.clone(),
                lost: loss(layout, &nodes),
                covers: Vec::new(),
            });
        }
    }
    if node {
        for (i, n) in layout.nodes.iter().enumerate() {
            all.push(Case {
                loss: Loss::Node {
                    node: n.id.clone(),
                    zone: n.zone.clone(),
                },
                replicas: replicas.clone(),
                lost: loss(layout, &[i]),
                covers: Vec::new(),
            });
        }
    }
    // Merge equal losses, then fold dominated ones.
    let mut kept: Vec<Case> = Vec::new();
    for c in all {
        if c.lost.iter().all(|&x| x == 0) {
            continue; // an empty node: nothing to lose
        }
        if let Some(k) = kept.iter_mut().find(|k| k.lost == c.lost) {
            k.covers.push(c.loss);
        } else {
            kept.push(c);
        }
    }
    let mut out: Vec<Case> = Vec::new();
    let n = kept.len();
    let mut absorbed = vec![false; n];
    for i in 0..n {
        for j in 0..n {
            if i != j
                && !absorbed[j]
                && le(&kept[i].lost, &kept[j].lost)
                && kept[i].lost != kept[j].lost
            {
                absorbed[i] = true;
                break;
            }
        }
    }
    for i in 0..n {
        if absorbed[i] {
            // Fold into the first case that dominates it.
            let j = (0..n)
                .find(|&j| !absorbed[j] && le(&kept[i].lost, &kept[j].lost))
                .unwrap_or(i);
            let mut names = vec![kept[i].loss.clone()];
            names.extend(kept[i].covers.clone());
            if j != i {
                kept[j].covers.extend(names);
            }
        }
    }
    for (i, c) in kept.into_iter().enumerate() {
        if !absorbed[i] {
            out.push(c);
        }
    }
    out
}

/// Every service keeps a replica when any zone is lost.
pub fn zone_structure(s: &Scenario, layout: &Layout) -> Result<(), SurvivalGap> {
    let zones = used_zones(layout);
    if zones.len() < 2 {
        return Err(SurvivalGap::OneZone {
            zone: zones.first().cloned(),
        });
    }
    for z in &zones {
        let nodes: Vec<usize> = (0..layout.nodes.len())
            .filter(|&i| &layout.nodes[i].zone == z)
            .collect();
        let lost = loss(layout, &nodes);
        for (i, v) in layout.replica_node.iter().enumerate() {
            if lost[i] as usize == v.len() {
                return Err(SurvivalGap::ZoneHoldsAll {
                    zone: z.clone(),
                    service: s.services[i].name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Every service keeps a replica when any node is lost.
pub fn node_structure(s: &Scenario, layout: &Layout) -> Result<(), SurvivalGap> {
    for (ni, n) in layout.nodes.iter().enumerate() {
        let lost = loss(layout, &[ni]);
        for (i, v) in layout.replica_node.iter().enumerate() {
            if lost[i] as usize == v.len() {
                return Err(SurvivalGap::NodeHoldsAll {
                    node: n.id.clone(),
                    zone: n.zone.clone(),
                    service: s.services[i].name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// The scenario a case simulates: the peak as a constant rate, the failure
/// (if any) at the start of the measured window, for good.
pub fn case_scenario(s: &Scenario, w: &Window, case: &Case) -> Scenario {
    let mut v = s.clone();
    v.traffic.regions.clear();
    v.traffic.spikes.clear();
    v.traffic.rps = w.rps;
    v.warmup_s = w.warmup_s;
    v.duration_s = w.warmup_s + w.measure_s;
    for (sv, &n) in v.services.iter_mut().zip(&case.replicas) {
        sv.replicas = n;
    }
    v.failures = match (case.loss.kind(), case.loss.target()) {
        (Some(kind), Some(t)) => vec![Failure {
            kind,
            at_s: w.warmup_s,
            duration_s: None,
            target: Some(t.to_string()),
        }],
        _ => Vec::new(),
    };
    v
}

/// Simulates one case and judges it.
pub fn run_case(
    s: &Scenario,
    z: &Sizing,
    w: &Window,
    layout: &Layout,
    case: &Case,
    seed: u64,
) -> CaseResult {
    let v = case_scenario(s, w, case);
    let slo = s.slo.as_ref();
    let mut out = CaseResult {
        p99_bound: slo.and_then(|x| x.p99_ms),
        error_bound: slo.and_then(|x| x.max_error_rate),
        daily_requests: z.daily_requests,
        ..CaseResult::empty(case.loss.clone())
    };
    let opts = Options {
        seed: Some(seed),
        replications: 1,
        layout: Some(layout.clone()),
        timeline: case.loss != Loss::None,
        intervals: 100,
        progress: None,
        segments: Some(1),
        node_type: None,
        placer: None,
    };
    let r = match twip_sim::simulate(&v, &opts) {
        Ok(r) => r,
        Err(e) => {
            out.failed = Some(e.to_string());
            return out;
        }
    };
    out.p99_ms = r.latency_ms.p99;
    out.p99_ci95_ms = r.ci95.latency_p99_ms;
    out.unstable = r.unstable.map(|u| (u.in_system, u.at_s));
    out.p99_censored = r.latency_ms.censored.p99;
    match &r.timeline {
        Some(t) if case.loss != Loss::None => {
            let detect = s
                .services
                .iter()
                .zip(&case.lost)
                .filter(|(_, &l)| l > 0)
                .map(|(sv, _)| sv.health_check.detection_s())
                .fold(0.0, f64::max);
            let burst_end = w.warmup_s + detect + BURST_MARGIN_S;
            let (mut burst, mut err, mut req) = (0.0, 0.0, 0.0);
            for k in 0..t.start_s.len() {
                if t.start_s[k] < burst_end {
                    burst += t.errors[k];
                } else {
                    err += t.errors[k];
                    req += t.rps[k] * t.interval_s;
                }
            }
            out.steady_error_rate = if req > 0.0 { err / req } else { 0.0 };
            out.burst_errors = burst;
            out.error_rate = out.steady_error_rate + burst / z.daily_requests.max(1.0);
        }
        _ => {
            out.steady_error_rate = r.error_rate;
            out.error_rate = r.error_rate;
        }
    }
    out
}
