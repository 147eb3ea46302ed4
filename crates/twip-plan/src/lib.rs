//! twip's capacity planner: the cheapest set of nodes, replica counts and
//! placement that meets a scenario's SLOs, in the baseline and in every
//! failure case the SLO demands.
//!
//! The search ([`plan`]):
//!
//! 1. **Analytic sizing** ([`twip_sim::sizing`]): the peak arrival rate (spikes
//!    included), the expected visits of every service, and per service the
//!    smallest replica count that keeps utilisation ≤ 90 %, the queueing
//!    delay's p99 (Erlang C, Allen–Cunneen for the service-time variance)
//!    within a quarter of the p99 objective and queue-full rejections rare.
//!    A p99 objective below what the service times alone allow ends the
//!    search at once (exit 2, `slo.p99_ms` binds).
//! 2. **Candidates**: every allowed instance type × node count (1 ..
//!    `max_nodes`, nodes dealt round-robin over the zones) × replica levels
//!    (the analytic minimum × 0.8, 0.9, 1, 1.15, 1.3, 1.5, 1.75, 2 — below 1 so
//!    that simulation, not the analytic model, proves a plan minimal — then enough extra
//!    replicas that losing the worst node or zone, evenly spread, leaves the
//!    level's count). Sorted by hourly cost, then by replica total.
//! 3. **Pruning without simulation**: capacity (sum of vCPU / memory, one
//!    replica per node at least), placement by the policy plugin (a refusal
//!    rejects the candidate), structural survival (a zone loss must leave a
//!    replica of every service), and dominance over what was already
//!    simulated (fewer replicas than a failed baseline fail; more survivors
//!    and fewer losses than a passed failure case pass).
//! 4. **Verification by simulation** ([`verify`]), from the cheapest
//!    candidate up, stopping at the first that meets every objective in every
//!    case: the baseline, and every node or zone loss that is not dominated
//!    by another case (a loss is known by the replicas it takes from each
//!    service; equal losses are simulated once, and a zone loss covers the
//!    losses of its nodes). Cases run in parallel (rayon) and are cached by
//!    (replicas, losses), so different instance types share simulations.
//!
//! Every rejection is data ([`explain::Rejection`]) with its sentence as
//! `Display`; the plan records both, so the report and the CLI read fields,
//! never sentences.
//!
//! Modules: [`infra`](mod@infra) (catalog, region, zones, priced types), `candidate`
//! (candidate generation and the capacity check), [`request`] (placement
//! requests, shared with `twip policy place`), [`verify`] (failure cases,
//! the simulated window, judging), `cache` (reuse of simulated cases),
//! `search` (the loop), [`explain`] (rejections and the binding constraint
//! as data), `assemble` (the plan file).

#![deny(missing_docs)]

mod assemble;
mod cache;
mod candidate;
pub mod elastic;
pub mod explain;
pub mod infra;
pub mod request;
mod search;
pub mod verify;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use twip_model::{Rejected, Scenario};
use twip_policy::{Host, Plugin, PolicyError};
pub use twip_sim::sizing::{self, Sizing};

pub use candidate::LEVELS;
pub use explain::{Binding, Rejection};
pub use infra::{infra, node_type, Infra, InfraError};
pub use verify::{Case, CaseResult, Window};

/// Why the planner could not run (bad input); "no plan meets the SLOs" is
/// not an error but an [`Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A file (scenario, catalog) is wrong.
    #[error(transparent)]
    Model(#[from] twip_model::Error),
    /// The scenario's infrastructure cannot be resolved.
    #[error(transparent)]
    Infra(#[from] InfraError),
    /// The policy plugin could not be loaded.
    #[error("policy {policy}: {source}")]
    Policy {
        /// Name or path.
        policy: String,
        /// What went wrong.
        source: Box<PolicyError>,
    },
    /// The policy plugin failed while placing a candidate (a trap, fuel,
    /// the deadline, memory, an invalid answer). The plan stops: skipping
    /// the candidate would make the plan depend on how loaded the machine
    /// was.
    #[error(
        "policy {policy} failed while placing {candidate}: {source}; a plugin failure stops \
         the plan (its result must not depend on machine load): fix the plugin, or run \
         `twip policy check {policy}`"
    )]
    PluginFailed {
        /// Name or path.
        policy: String,
        /// The candidate being placed.
        candidate: String,
        /// What the plugin did.
        source: Box<PolicyError>,
    },
    /// The policy's calls took longer, in total, than the plan allows.
    #[error(
        "policy {policy} used up the plan's policy time budget of {budget_s:.0} s after \
         {calls} placements; a placement policy answers in milliseconds: fix the plugin, \
         or raise the budget with --policy-budget"
    )]
    PolicyBudget {
        /// Name or path.
        policy: String,
        /// The budget in seconds.
        budget_s: f64,
        /// Placements made (two calls each).
        calls: u64,
    },
    /// The policy gave two different answers to one request.
    #[error(
        "policy {policy} is not deterministic: it answered the same request for {candidate} \
         in two different ways; a plan must depend only on its inputs (`twip policy check \
         {policy}` runs the determinism check)"
    )]
    Nondeterministic {
        /// Name or path.
        policy: String,
        /// The candidate being placed.
        candidate: String,
    },
    /// The scenario does not say enough to plan.
    #[error("{0}")]
    Input(String),
    /// The scenario's capacity is elastic; the planner sizes fixed fleets.
    #[error(
        "{}: the scenario's capacity is elastic: `twip plan --elastic` searches its autoscaling \
         policies, schedules and capacity provider; `twip simulate` runs it as written",
        scenario.display()
    )]
    Elastic {
        /// Scenario file.
        scenario: std::path::PathBuf,
    },
    /// A simulation could not run.
    #[error(transparent)]
    Sim(#[from] twip_sim::SimError),
}

/// Progress counters, for a progress bar.
#[derive(Debug, Default)]
pub struct Progress {
    /// Candidates in the search space.
    pub candidates: AtomicU64,
    /// Candidates examined so far.
    pub examined: AtomicU64,
    /// Cases simulated so far.
    pub simulated: AtomicU64,
}

/// How to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Policy name or `.wasm` path; `None` takes the scenario's.
    pub policy: Option<String>,
    /// Seed of the verification runs; `None` takes the scenario's.
    pub seed: Option<u64>,
    /// Counters for a progress bar.
    pub progress: Option<Arc<Progress>>,
    /// Wall-clock time the policy plugin may spend over the whole plan;
    /// `None` takes [`POLICY_BUDGET`].
    pub policy_budget: Option<std::time::Duration>,
    /// Search autoscaling policies, schedules and a capacity provider
    /// ([`elastic::plan`]) instead of one fixed fleet.
    pub elastic: bool,
}

/// The default wall-clock budget of a plan's policy calls. The built-in
/// policies spend well under a second on the worldwide search (a few
/// hundred calls); a plugin that uses most of its per-call deadline on
/// every call would stretch a plan to many minutes. Past the budget the
/// plan stops with [`PlanError::PolicyBudget`] (exit 1): it never changes
/// which plan is found, only whether one is.
pub const POLICY_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// Search statistics.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Candidates in the search space.
    pub candidates: usize,
    /// Candidates examined (cheaper than, or as cheap as, the chosen one).
    pub examined: usize,
    /// Cases simulated.
    pub simulated: usize,
    /// Cases answered by the cache or by dominance.
    pub reused: usize,
    /// Wall-clock seconds.
    pub wall_s: f64,
}

/// What the search found.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The cheapest plan that meets every objective in every case.
    Found {
        /// The plan.
        plan: Box<twip_model::Plan>,
        /// Whether it survives a zone loss (checked even when the SLO does
        /// not demand it; `None` with a single zone).
        survives_zone: Option<bool>,
        /// Search statistics.
        stats: Stats,
    },
    /// No candidate meets the objectives.
    NoPlan {
        /// The constraint that binds, with the evidence.
        binding: Binding,
        /// Every candidate and why it failed.
        rejected: Vec<Rejected>,
        /// Search statistics.
        stats: Stats,
    },
}

/// A policy: a built-in name or a `.wasm` component (relative paths from
/// here, else from `base`).
pub fn load_policy(host: &Host, policy: &str, base: &Path) -> Result<Plugin, PlanError> {
    host.load_named(policy, base)
        .map_err(|source| PlanError::Policy {
            policy: policy.to_string(),
            source: Box::new(source),
        })
}

/// The planner for one scenario and one policy.
pub struct Planner {
    scenario: Scenario,
    infra: Infra,
    /// The usable size of every instance type of `infra.types`.
    shapes: Vec<request::NodeShape>,
    sizing: Sizing,
    window: Window,
    policy: String,
    plugin: Mutex<Plugin>,
    seed: u64,
    cache: cache::Cache,
    progress: Option<Arc<Progress>>,
    policy_budget: std::time::Duration,
    /// Nanoseconds spent in policy calls, and placements made.
    policy_spent: AtomicU64,
    placements: AtomicU64,
}

impl Planner {
    /// Prepares a search: reads the catalog, sizes analytically, loads the policy.
    pub fn new(scenario: &Scenario, opts: &PlanOptions) -> Result<Planner, PlanError> {
        if scenario.is_elastic() {
            return Err(PlanError::Elastic {
                scenario: scenario.path.clone(),
            });
        }
        let infra = infra(scenario)?;
        let sizing = sizing::size(scenario);
        let policy = opts
            .policy
            .clone()
            .unwrap_or_else(|| scenario.policy.clone());
        let host = Host::new().map_err(|source| PlanError::Policy {
            policy: policy.clone(),
            source: Box::new(source),
        })?;
        let base = scenario
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let plugin = load_policy(&host, &policy, &base)?;
        let window = Window::for_peak(&sizing);
        let shapes = infra
            .types
            .iter()
            .map(|(t, _)| request::NodeShape::of(t))
            .collect();
        Ok(Planner {
            scenario: scenario.clone(),
            infra,
            shapes,
            window,
            sizing,
            policy,
            plugin: Mutex::new(plugin),
            seed: opts.seed.unwrap_or(scenario.seed),
            cache: cache::Cache::default(),
            progress: opts.progress.clone(),
            policy_budget: opts.policy_budget.unwrap_or(POLICY_BUDGET),
            policy_spent: AtomicU64::new(0),
            placements: AtomicU64::new(0),
        })
    }

    /// The analytic sizing.
    pub fn sizing(&self) -> &Sizing {
        &self.sizing
    }

    /// The verification window.
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// The resolved infrastructure.
    pub fn infra(&self) -> &Infra {
        &self.infra
    }

    /// Adds a placement's policy time to the plan's total; past the budget
    /// the plan stops.
    fn charge_policy_time(&self, took: std::time::Duration) -> Result<(), PlanError> {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let spent = self
            .policy_spent
            .fetch_add(ns, Ordering::Relaxed)
            .saturating_add(ns);
        let calls = self.placements.fetch_add(1, Ordering::Relaxed) + 1;
        if u128::from(spent) > self.policy_budget.as_nanos() {
            return Err(PlanError::PolicyBudget {
                policy: self.policy.clone(),
                budget_s: self.policy_budget.as_secs_f64(),
                calls,
            });
        }
        Ok(())
    }

    fn bump(&self, f: impl Fn(&Progress) -> &AtomicU64, by: u64) {
        if let Some(p) = &self.progress {
            f(p).fetch_add(by, Ordering::Relaxed);
        }
    }
}

/// Plans `scenario`: the cheapest verified plan, or why there is none.
pub fn plan(scenario: &Scenario, opts: &PlanOptions) -> Result<Outcome, PlanError> {
    if opts.elastic {
        return elastic::plan(scenario, opts);
    }
    // `[plan] mode = "fixed"`: an elastic scenario planned as one fleet.
    if scenario.plan_mode == Some(twip_model::PlanMode::Fixed) && scenario.is_elastic() {
        return Planner::new(&scenario.without_elasticity(), opts)?.run();
    }
    Planner::new(scenario, opts)?.run()
}
