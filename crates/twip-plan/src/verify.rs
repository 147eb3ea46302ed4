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

use std::sync::Mutex;

use twip_model::{Failure, FailureKind, Layout, Scenario};
use twip_sim::Options;

use crate::sizing::Sizing;

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
    pub fn for_peak(_s: &Scenario, z: &Sizing) -> Window {
        Window {
            rps: z.peak_rps,
            warmup_s: 60.0,
            measure_s: (1.0e6 / z.peak_rps).clamp(120.0, 1800.0).round(),
        }
    }
}

/// A case to verify.
#[derive(Debug, Clone, Default)]
pub struct Case {
    /// `baseline`, `lose node-3 (us-east-1a)`, `lose zone us-east-1b`.
    pub name: String,
    /// What fails (`None`: the baseline).
    pub kind: Option<FailureKind>,
    /// Node id or zone.
    pub target: Option<String>,
    /// Replicas per service.
    pub replicas: Vec<u32>,
    /// Replicas the failure takes, per service.
    pub lost: Vec<u32>,
    /// The equivalent or dominated losses this case stands for.
    pub covers: Vec<String>,
}

impl Case {
    /// No failure.
    pub fn baseline(replicas: &[u32]) -> Case {
        Case {
            name: "baseline".into(),
            replicas: replicas.to_vec(),
            lost: vec![0; replicas.len()],
            ..Case::default()
        }
    }

    fn where_(&self) -> String {
        match (&self.kind, &self.target) {
            (None, _) => "at baseline".into(),
            (Some(_), _) => format!("when {} is lost", self.name.trim_start_matches("lose ")),
        }
    }

    fn survivors(&self) -> Vec<u32> {
        self.replicas
            .iter()
            .zip(&self.lost)
            .map(|(r, l)| r - l)
            .collect()
    }
}

/// What one case measured, and the objectives it is judged by.
#[derive(Debug, Clone, Default)]
pub struct CaseResult {
    /// Where: `at baseline`, `when node-3 (us-east-1a) is lost`.
    pub where_: String,
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
    /// Objectives.
    pub p99_bound: Option<f64>,
    /// Objectives.
    pub error_bound: Option<f64>,
    /// The simulation could not run.
    pub failed: Option<String>,
    /// Set when the result was inferred from another simulated case.
    pub inferred_from: Option<String>,
}

impl CaseResult {
    /// The first objective not met: (`"p99"` or `"error"`, reason).
    pub fn violation(&self) -> Option<(&'static str, String)> {
        let note = self
            .inferred_from
            .as_ref()
            .map(|x| format!(" (inferred: {x})"))
            .unwrap_or_default();
        if let Some(f) = &self.failed {
            return Some(("p99", format!("simulation failed {}: {f}", self.where_)));
        }
        if let Some(b) = self.p99_bound {
            if self.p99_ms.is_nan() {
                return Some(("p99", format!("no request completed {}{note}", self.where_)));
            }
            // Met only if the whole 95 % interval is within the bound.
            let ci = self.p99_ci95_ms.filter(|x| x.is_finite()).unwrap_or(0.0);
            if self.p99_ms + ci > b {
                return Some((
                    "p99",
                    format!("p99 {:.0} ms > {b} ms {}{note}", self.p99_ms, self.where_),
                ));
            }
        }
        if let Some(b) = self.error_bound {
            if self.error_rate > b {
                let detail = if self.burst_errors > 0.0 {
                    format!(
                        " (steady {:.5} + detection burst {:.0} errors / {:.3e} requests a day)",
                        self.steady_error_rate, self.burst_errors, self.daily_requests
                    )
                } else {
                    String::new()
                };
                return Some((
                    "error",
                    format!(
                        "error rate {:.5} > {b} {}{detail}{note}",
                        self.error_rate, self.where_
                    ),
                ));
            }
        }
        None
    }
}

/// (replicas, losses, result) of one simulated case.
type Entry = (Vec<u32>, Vec<u32>, CaseResult);

/// Results of simulated cases, keyed by (replicas, losses), with dominance.
#[derive(Debug, Default)]
pub struct Cache {
    done: Mutex<Vec<Entry>>,
}

fn le(a: &[u32], b: &[u32]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y)
}

impl Cache {
    /// The result of `case` if it was simulated, or follows from one that was.
    pub fn lookup(&self, case: &Case) -> Option<CaseResult> {
        let done = self.done.lock().ok()?;
        let surv = case.survivors();
        let rename = |r: &CaseResult, inferred: Option<String>| {
            let mut r = r.clone();
            r.where_ = case.where_();
            r.inferred_from = inferred;
            r
        };
        for (rep, lost, r) in done.iter() {
            if rep == &case.replicas && lost == &case.lost {
                return Some(rename(r, None));
            }
        }
        for (rep, lost, r) in done.iter() {
            let s: Vec<u32> = rep.iter().zip(lost).map(|(a, b)| a - b).collect();
            let bad = r.violation().is_some();
            if bad && le(&surv, &s) && le(lost, &case.lost) {
                return Some(rename(
                    r,
                    Some(format!(
                        "no more surviving replicas than a simulated case that failed, {} survivors",
                        s.iter().map(u32::to_string).collect::<Vec<_>>().join("/")
                    )),
                ));
            }
            if !bad && le(&s, &surv) && le(&case.lost, lost) {
                return Some(rename(
                    r,
                    Some(format!(
                        "at least the surviving replicas of a simulated case that passed, {} survivors",
                        s.iter().map(u32::to_string).collect::<Vec<_>>().join("/")
                    )),
                ));
            }
        }
        None
    }

    /// Records a simulated case.
    pub fn insert(&self, case: &Case, r: &CaseResult) {
        if let Ok(mut d) = self.done.lock() {
            d.push((case.replicas.clone(), case.lost.clone(), r.clone()));
        }
    }
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
pub fn cases(s: &Scenario, layout: &Layout, node: bool, zone: bool) -> Vec<Case> {
    let replicas: Vec<u32> = layout.replica_node.iter().map(|v| v.len() as u32).collect();
    let mut all: Vec<Case> = Vec::new();
    if zone {
        for z in used_zones(layout) {
            let nodes: Vec<usize> = (0..layout.nodes.len())
                .filter(|&i| layout.nodes[i].zone == z)
                .collect();
            all.push(Case {
                name: format!("lose zone {z}"),
                kind: Some(FailureKind::Zone),
                target: Some(z.clone()),
                replicas: replicas.clone(),
                lost: loss(layout, &nodes),
                covers: Vec::new(),
            });
        }
    }
    if node {
        for (i, n) in layout.nodes.iter().enumerate() {
            all.push(Case {
                name: format!("lose {} ({})", n.id, n.zone),
                kind: Some(FailureKind::Node),
                target: Some(n.id.clone()),
                replicas: replicas.clone(),
                lost: loss(layout, &[i]),
                covers: Vec::new(),
            });
        }
    }
    let _ = s;
    // Merge equal losses, then fold dominated ones.
    let mut kept: Vec<Case> = Vec::new();
    for c in all {
        if c.lost.iter().all(|&x| x == 0) {
            continue; // an empty node: nothing to lose
        }
        if let Some(k) = kept.iter_mut().find(|k| k.lost == c.lost) {
            k.covers
                .push(c.name.trim_start_matches("lose ").to_string());
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
            let mut names = vec![kept[i].name.trim_start_matches("lose ").to_string()];
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
pub fn zone_structure(s: &Scenario, layout: &Layout, _zones: &[String]) -> Result<(), String> {
    let zones = used_zones(layout);
    if zones.len() < 2 {
        return Err(format!(
            "every node is in zone {}: losing it loses everything",
            zones.first().map(String::as_str).unwrap_or("?")
        ));
    }
    for z in &zones {
        let nodes: Vec<usize> = (0..layout.nodes.len())
            .filter(|&i| &layout.nodes[i].zone == z)
            .collect();
        let lost = loss(layout, &nodes);
        for (i, v) in layout.replica_node.iter().enumerate() {
            if lost[i] as usize == v.len() {
                return Err(format!(
                    "zone {z} holds every replica of {}: losing it loses the service",
                    s.services[i].name
                ));
            }
        }
    }
    Ok(())
}

/// Every service keeps a replica when any node is lost.
pub fn node_structure(s: &Scenario, layout: &Layout) -> Result<(), String> {
    for (ni, n) in layout.nodes.iter().enumerate() {
        let lost = loss(layout, &[ni]);
        for (i, v) in layout.replica_node.iter().enumerate() {
            if lost[i] as usize == v.len() {
                return Err(format!(
                    "{} ({}) holds every replica of {}: losing it loses the service",
                    n.id, n.zone, s.services[i].name
                ));
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
    v.failures = match (case.kind, &case.target) {
        (Some(kind), Some(t)) => vec![Failure {
            kind,
            at_s: w.warmup_s,
            duration_s: None,
            target: Some(t.clone()),
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
        where_: case.where_(),
        p99_bound: slo.and_then(|x| x.p99_ms),
        error_bound: slo.and_then(|x| x.max_error_rate),
        daily_requests: z.daily_requests,
        ..CaseResult::default()
    };
    let opts = Options {
        seed: Some(seed),
        replications: 1,
        layout: Some(layout.clone()),
        timeline: case.kind.is_some(),
        intervals: 100,
        progress: None,
        segments: Some(1),
    };
    let r = match twip_sim::simulate(&v, &opts) {
        Ok(r) => r,
        Err(e) => {
            out.failed = Some(e.to_string());
            return out;
        }
    };
    out.p99_ms = r.latency_ms.p99;
    out.p99_ci95_ms = r.ci95.get("latency_ms.p99").copied();
    match &r.timeline {
        Some(t) if case.kind.is_some() => {
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
