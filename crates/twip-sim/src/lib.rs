//! twip's discrete-event simulator.
//!
//! [`simulate`] plays a [`Scenario`]'s traffic and failures through its
//! service topology on a virtual clock and returns a [`SimReport`]: latency
//! percentiles, errors, utilisation and SLO verdicts with 95 % confidence
//! half-widths. Runs are seeded and reproducible: the same scenario, layout,
//! seed and replication count give the same report (but `wall_s`).
//!
//! [`analytic`] holds the queueing formulas (Erlang B/C, Pollaczek–Khinchine,
//! M/M/c/K) that the accuracy tests and the planner's sizing use.

pub mod analytic;
mod compile;
mod engine;
mod report;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use twip_model::{Layout, Scenario};

pub use report::{FailureReport, Latency, ServiceReport, SimReport, SloReport, Timeline};

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
    /// (the total is `duration × replications`).
    pub progress: Option<Arc<AtomicU64>>,
}

impl Default for Options {
    fn default() -> Self {
        Options { seed: None, replications: 1, layout: None, timeline: false, intervals: 100, progress: None }
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
}

/// Simulates `scenario` and reports what happened.
pub fn simulate(scenario: &Scenario, opts: &Options) -> Result<SimReport, SimError> {
    if opts.replications == 0 {
        return Err(SimError::Options("--replications must be at least 1".into()));
    }
    if opts.intervals == 0 || opts.intervals % 10 != 0 {
        return Err(SimError::Options("intervals must be a positive multiple of 10".into()));
    }
    let started = Instant::now();
    let layout = match &opts.layout {
        Some(l) => l.clone(),
        None => Layout::one_node_per_replica(scenario),
    };
    let model = compile::Model::new(scenario, &layout)?;
    let seed = opts.seed.unwrap_or(scenario.seed);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut rngs = Vec::new();
    for _ in 0..opts.replications {
        rngs.push(rng.clone());
        rng.jump(); // 2^128 draws apart: independent streams
    }
    let progress = opts.progress.as_deref();
    let runs: Vec<engine::RunStats> = rngs
        .into_par_iter()
        .map(|rng| engine::Run::new(&model, rng, opts.intervals, progress).run())
        .collect();
    Ok(report::build(scenario, &model, seed, runs, opts.timeline, started.elapsed().as_secs_f64()))
}
