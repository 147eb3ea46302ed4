//! twip's discrete-event simulator.
//!
//! [`simulate`] plays a [`Scenario`]'s traffic and failures through its
//! service topology on a virtual clock and returns a [`SimReport`]: latency
//! percentiles, errors, utilisation and SLO verdicts with 95 % confidence
//! half-widths. Runs are seeded and reproducible: the same scenario, layout,
//! seed and replication count give the same report (but `wall_s`).
//!
//! [`analytic`] holds the queueing formulas (Erlang B/C, Pollaczek–Khinchine,
//! M/M/c/K) that the accuracy tests use; [`sizing`] applies them to a
//! scenario at its peak (the smallest replica counts queueing theory allows),
//! for the planner and the report.

#![deny(missing_docs)]

pub mod analytic;
mod compile;
mod engine;
mod heap;
mod lc;
pub mod placer;
mod report;
pub mod sizing;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use twip_model::{Layout, Scenario};

pub use compile::Sampler;
pub use placer::{PlaceNode, PlaceRequest, PlaceService, Placer, PlacerRef, Refusal};
pub use report::{
    Cause, Censored, Ci95, Elasticity, FailureReport, Latency, NodeCapacity, ReplicaChange,
    ReplicaState, ScalingEvent, ServiceCapacity, ServiceCi95, ServiceReport, SimReport, SloReport,
    Timeline, Unfinished, Unstable,
};

/// How to run a simulation.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seed; `None` takes the scenario's.
    pub seed: Option<u64>,
    /// Independent replications, run in parallel (at least 1).
    pub replications: u32,
    /// Where replicas run; `None` puts every replica on its own node.
    pub layout: Option<Layout>,
    /// Include the per-interval timeline in the report.
    pub timeline: bool,
    /// Number of timeline intervals over the measured window (a multiple of 10).
    pub intervals: usize,
    /// Incremented with simulated milliseconds as the runs progress
    /// (the total is [`planned_work_ms`]).
    pub progress: Option<Arc<AtomicU64>>,
    /// Time-parallel segments per replication; `None` chooses from the
    /// scenario's length alone (one per 6 simulated hours), so results do not
    /// depend on the machine.
    pub segments: Option<u32>,
    /// The size and price of a node of the scenario's capacity provider
    /// (`[infrastructure.autoscaling]`), resolved from its catalog.
    pub node_type: Option<NodeType>,
    /// Where a capacity provider's new replicas go: the scenario's placement
    /// policy, loaded by the caller; `None` places with the built-in rule
    /// (spread over zones, then the fullest node that fits).
    pub placer: Option<PlacerRef>,
}

/// A node type's size and price, for elastic capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeType {
    /// Instance type name.
    pub name: String,
    /// vCPU a node offers to replicas.
    pub vcpu: f64,
    /// Memory a node offers to replicas, in MB.
    pub memory_mb: f64,
    /// On-demand price per hour.
    pub usd_per_hour: f64,
}

impl NodeType {
    /// What a node of `t` offers replicas (its usable millicores, its
    /// memory) at `usd_per_hour`.
    pub fn of(t: &twip_model::InstanceType, usd_per_hour: f64) -> NodeType {
        NodeType {
            name: t.name.clone(),
            vcpu: f64::from(t.usable_cpu_millis()) / 1000.0,
            memory_mb: f64::from(t.memory_mb),
            usd_per_hour,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: None,
            replications: 1,
            layout: None,
            timeline: false,
            intervals: 100,
            progress: None,
            segments: None,
            node_type: None,
            placer: None,
        }
    }
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The layout (plan) does not fit the scenario.
    #[error("{0}")]
    Layout(String),
    /// Bad options.
    #[error("{0}")]
    Options(String),
    /// The placement policy failed during an elastic run (not a refusal:
    /// a refused replica waits for capacity).
    #[error("placement policy failed at {at_s} s of simulated time: {message}")]
    Placement {
        /// When (s of simulated time).
        at_s: f64,
        /// What the policy or its host said.
        message: String,
    },
}

/// Simulates `scenario` and reports what happened.
pub fn simulate(scenario: &Scenario, opts: &Options) -> Result<SimReport, SimError> {
    if opts.replications == 0 {
        return Err(SimError::Options(
            "--replications must be at least 1".into(),
        ));
    }
    if opts.intervals == 0 || !opts.intervals.is_multiple_of(10) {
        return Err(SimError::Options(
            "intervals must be a positive multiple of 10".into(),
        ));
    }
    if opts.segments == Some(0) {
        return Err(SimError::Options("segments must be at least 1".into()));
    }
    let started = Instant::now();
    let layout = match &opts.layout {
        Some(l) => l.clone(),
        None => Layout::one_node_per_replica(scenario),
    };
    let mut model = compile::Model::new(scenario, &layout, opts.node_type.as_ref())?;
    if let Some(e) = model.elastic.as_mut() {
        e.placer = opts.placer.clone();
    }
    let seed = opts.seed.unwrap_or(scenario.seed);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let windows = windows(scenario, opts);
    // One independent stream per (replication, segment).
    let mut tasks = Vec::new();
    for rep in 0..opts.replications as usize {
        for w in &windows {
            tasks.push((rep, *w, rng.clone()));
            rng.jump(); // 2^128 draws apart: independent streams
        }
    }
    let progress = opts.progress.as_deref();
    let mut done: Vec<(usize, engine::RunStats)> = tasks
        .into_par_iter()
        .map(|(rep, w, rng)| {
            (
                rep,
                engine::Run::new(&model, rng, opts.intervals, opts.timeline, w, progress).run(),
            )
        })
        .collect();
    // The first failure of the placement policy, in replication order.
    if let Some((at_s, message)) = done.iter().find_map(|(_, s)| s.placement_error.clone()) {
        return Err(SimError::Placement { at_s, message });
    }
    let mut runs: Vec<engine::RunStats> = Vec::new();
    for (rep, stats) in done.drain(..) {
        if rep == runs.len() {
            runs.push(stats);
        } else {
            runs[rep].merge(stats);
        }
    }
    Ok(report::build(
        scenario,
        &model,
        seed,
        runs,
        opts.timeline,
        started.elapsed().as_secs_f64(),
        opts.node_type.as_ref(),
    ))
}

/// Hours of measured time per time-parallel segment (by default).
const SEGMENT_S: f64 = 6.0 * 3600.0;
/// Extra simulated time after a segment's window to let its requests finish.
const DRAIN_S: f64 = 120.0;

/// The windows one replication is split into: equal expected numbers of
/// arrivals (the integral of the rate), so parallel segments finish together.
fn windows(s: &Scenario, opts: &Options) -> Vec<engine::Window> {
    let measured = s.duration_s - s.warmup_s;
    // Elastic capacity carries its history (counts, cooldowns, alarms):
    // one segment.
    let n = if s.is_elastic() {
        Some(1)
    } else {
        opts.segments
    };
    let n = n
        .unwrap_or_else(|| (measured / SEGMENT_S).ceil().clamp(1.0, 16.0) as u32)
        .max(1);
    // Cumulative expected arrivals on a one-minute grid of the measured window.
    let steps = ((measured / 60.0).ceil() as usize).max(1);
    let dt = measured / steps as f64;
    let mut cum = vec![0.0];
    for k in 0..steps {
        let t = s.warmup_s + (k as f64 + 0.5) * dt;
        cum.push(cum[k] + s.traffic.rate_at(t) * dt);
    }
    let total = cum[steps];
    let cut = |j: u32| -> f64 {
        if j == 0 {
            return s.warmup_s;
        }
        if j == n {
            return s.duration_s;
        }
        let target = total * j as f64 / n as f64;
        let k = cum.partition_point(|&c| c < target).clamp(1, steps);
        let frac = if cum[k] > cum[k - 1] {
            (target - cum[k - 1]) / (cum[k] - cum[k - 1])
        } else {
            0.0
        };
        s.warmup_s + (k as f64 - 1.0 + frac) * dt
    };
    let warm = s.warmup_s.max(600.0);
    (0..n)
        .map(|j| {
            let (from, to) = (cut(j), cut(j + 1));
            let last = j + 1 == n;
            engine::Window {
                start: if j == 0 { 0.0 } else { (from - warm).max(0.0) },
                measure_from: from,
                measure_to: to,
                stop: if last {
                    s.duration_s
                } else {
                    (to + DRAIN_S).min(s.duration_s)
                },
            }
        })
        .collect()
}

/// Simulated milliseconds a run of `scenario` with `opts` goes through
/// (segments overlap by their warm-ups), the total of [`Options::progress`].
pub fn planned_work_ms(scenario: &Scenario, opts: &Options) -> u64 {
    let per_rep: f64 = windows(scenario, opts)
        .iter()
        .map(|w| w.stop - w.start)
        .sum();
    (per_rep * 1e3) as u64 * opts.replications as u64
}
