//! The search loop: candidates from the cheapest up, each checked for
//! capacity, placed by the policy, checked for survival, then verified by
//! simulation; the first that passes is the plan.

use std::time::Instant;

use rayon::prelude::*;
use twip_model::{FailureKind, Layout, Loss};

use crate::candidate::{fill_fraction, Cand, FILL_STEPS};
use crate::explain::{Binding, Rejection, Violation};
use crate::verify::{self, Case, CaseResult};
use twip_policy::PolicyError;

use crate::{Outcome, PlanError, Planner, Stats};

/// Why a candidate's evaluation stopped short of a plan.
pub(crate) enum Stop {
    /// The candidate is rejected; the search goes on.
    Rejected(Box<Tried>),
    /// The plugin failed: the search stops (a plan must depend only on
    /// its inputs, never on how loaded the machine was).
    Failed(PlanError),
}

/// Why one placement attempt gave no layout.
pub(crate) enum PlaceFail {
    /// The policy refused, or the placement cannot survive.
    Reject(Rejection),
    /// The plugin failed.
    Plugin(PlanError),
}

/// A rejected candidate with its reason and the largest p99 it measured.
pub(crate) struct Tried {
    pub cand: Cand,
    pub rejection: Rejection,
    pub worst_p99_ms: Option<f64>,
}

/// A candidate that passed: its layout, failure cases and their results
/// (the baseline's first).
type Passed = (Layout, Vec<Case>, Vec<CaseResult>);

/// The largest finite p99 among `results`.
fn worst_p99(results: &[CaseResult]) -> Option<f64> {
    results
        .iter()
        .map(|r| r.p99_ms)
        .filter(|x| x.is_finite())
        .reduce(f64::max)
}

impl Planner {
    /// Places a candidate with the policy, twice: the same request must
    /// get the same answer. A refusal rejects the candidate; any other
    /// plugin error (a trap, fuel, the deadline, memory, an invalid answer)
    /// or two different answers stop the plan.
    pub(crate) fn place(&self, c: &Cand) -> Result<Layout, PlaceFail> {
        let req = crate::request::build(
            &self.scenario,
            &self.infra.zones,
            &self.shapes[c.ty],
            c.nodes,
            &c.replicas,
        );
        let failed = |source: PolicyError| {
            PlaceFail::Plugin(PlanError::PluginFailed {
                policy: self.policy.clone(),
                candidate: self.describe(c),
                source: Box::new(source),
            })
        };
        let refusal = |e: &PolicyError| match e {
            PolicyError::Refused { message, .. } => Some(message.clone()),
            _ => None,
        };
        let mut plugin = self
            .plugin
            .lock()
            .map_err(|_| PlaceFail::Plugin(PlanError::Input("policy lock poisoned".into())))?;
        let started = std::time::Instant::now();
        let first = plugin.place(&req);
        let second = plugin.place(&req);
        drop(plugin);
        self.charge_policy_time(started.elapsed())
            .map_err(PlaceFail::Plugin)?;
        // A failure that is not a refusal, in either call, stops the plan.
        let first = match first {
            Err(e) if refusal(&e).is_none() => return Err(failed(e)),
            x => x,
        };
        let second = match second {
            Err(e) if refusal(&e).is_none() => return Err(failed(e)),
            x => x,
        };
        match (first, second) {
            (Ok(a), Ok(b)) if a == b => Ok(crate::request::layout(&self.scenario, &req, &a)),
            (Err(a), Err(b)) if refusal(&a) == refusal(&b) => {
                Err(PlaceFail::Reject(Rejection::Placement(a.to_string())))
            }
            _ => Err(PlaceFail::Plugin(PlanError::Nondeterministic {
                policy: self.policy.clone(),
                candidate: self.describe(c),
            })),
        }
    }

    /// Verifies one placed candidate: `Ok(results)` if every case meets
    /// every objective, `Err((violation, results))` otherwise. Results
    /// start with the baseline's.
    fn verify(
        &self,
        replicas: &[u32],
        layout: &Layout,
        cases: &[Case],
        stats: &mut Stats,
    ) -> Result<Vec<CaseResult>, (Box<Violation>, Vec<CaseResult>)> {
        let mut all = vec![Case::baseline(replicas)];
        all.extend(cases.iter().cloned());
        // What the cache or dominance answers; simulate the rest in parallel.
        let known: Vec<Option<CaseResult>> = all.iter().map(|c| self.cache.lookup(c)).collect();
        let todo: Vec<usize> = (0..all.len()).filter(|&i| known[i].is_none()).collect();
        stats.reused += all.len() - todo.len();
        stats.simulated += todo.len();
        let ran: Vec<(usize, CaseResult)> = todo
            .par_iter()
            .map(|&i| {
                let r = verify::run_case(
                    &self.scenario,
                    &self.sizing,
                    &self.window,
                    layout,
                    &all[i],
                    self.seed,
                );
                self.bump(|p| &p.simulated, 1);
                (i, r)
            })
            .collect();
        let mut slots = known;
        for (i, r) in ran {
            self.cache.insert(&all[i], &r);
            slots[i] = Some(r);
        }
        let results: Vec<CaseResult> = slots.into_iter().flatten().collect();
        match results.iter().find_map(CaseResult::violation) {
            Some(v) => Err((Box::new(v), results)),
            None => Ok(results),
        }
    }

    /// Checks one candidate: capacity, the baseline (placement-independent,
    /// so the cache may answer before placing), placement by the policy
    /// (on a refusal for capacity, the filled replicas are given back one at
    /// a time, down to the floor), structural survival, then every case.
    fn evaluate(&self, c: &mut Cand, stats: &mut Stats) -> Result<Passed, Stop> {
        let reject = |c: &Cand, rejection: Rejection, worst_p99_ms: Option<f64>| {
            Stop::Rejected(Box::new(Tried {
                cand: c.clone(),
                rejection,
                worst_p99_ms,
            }))
        };
        let stop = |c: &Cand, f: PlaceFail| match f {
            PlaceFail::Reject(r) => reject(c, r, None),
            PlaceFail::Plugin(e) => Stop::Failed(e),
        };
        let s = &self.scenario;
        self.fits(c)
            .map_err(|w| reject(c, Rejection::Capacity(w), None))?;
        let node = self.survive(FailureKind::Node);
        let zone = self.survive(FailureKind::Zone);
        // Fewer replicas pass no better: ask the cache before placing.
        if let Some(r) = self.cache.lookup(&Case::baseline(&c.replicas)) {
            if let Some(v) = r.violation() {
                stats.reused += 1;
                let p99 = worst_p99(std::slice::from_ref(&r));
                return Err(reject(c, Rejection::Objective(v), p99));
            }
        }
        let attempt = |r: &[u32]| -> Result<Layout, PlaceFail> {
            let mut c2 = c.clone();
            c2.replicas = r.to_vec();
            let layout = self.place(&c2)?;
            let survival = |g| PlaceFail::Reject(Rejection::Survival(g));
            if zone {
                verify::zone_structure(s, &layout).map_err(survival)?;
            }
            if node {
                verify::node_structure(s, &layout).map_err(survival)?;
            }
            Ok(layout)
        };
        // When the filled candidate cannot be placed (or the placement
        // cannot survive), give filled replicas back: the largest fraction
        // k/16 of them that works, by bisection.
        let layout = match attempt(&c.replicas) {
            Ok(l) => l,
            Err(first) => {
                if c.replicas == c.base || matches!(first, PlaceFail::Plugin(_)) {
                    return Err(stop(c, first));
                }
                let with = |k: u32| -> Vec<u32> { fill_fraction(&c.base, &c.replicas, k) };
                let mut best = attempt(&with(0)).map_err(|w| stop(c, w))?;
                let (mut lo, mut hi) = (0u32, FILL_STEPS);
                while hi - lo > 1 {
                    let mid = (lo + hi) / 2;
                    match attempt(&with(mid)) {
                        Ok(l) => {
                            lo = mid;
                            best = l;
                        }
                        Err(PlaceFail::Plugin(e)) => return Err(Stop::Failed(e)),
                        Err(PlaceFail::Reject(_)) => hi = mid,
                    }
                }
                c.replicas = with(lo);
                best
            }
        };
        let cases = verify::cases(&layout, node, zone);
        match self.verify(&c.replicas, &layout, &cases, stats) {
            Ok(results) => Ok((layout, cases, results)),
            Err((v, results)) => Err(reject(c, Rejection::Objective(*v), worst_p99(&results))),
        }
    }

    /// Whether a found plan also survives a zone loss the SLO does not
    /// demand (`None` with fewer than two zones in use).
    fn survives_zone(&self, c: &Cand, layout: &Layout, stats: &mut Stats) -> Option<bool> {
        if self.survive(FailureKind::Zone) {
            return Some(true);
        }
        if self.infra.zones.len().min(c.nodes as usize) < 2 {
            return None;
        }
        let zc: Vec<Case> = verify::cases(layout, false, true)
            .into_iter()
            .filter(|k| matches!(k.loss, Loss::Zone { .. }))
            .collect();
        let ok = verify::zone_structure(&self.scenario, layout).is_ok()
            && self.verify(&c.replicas, layout, &zc, stats).is_ok();
        Some(ok)
    }

    /// Runs the search.
    pub fn run(&self) -> Result<Outcome, PlanError> {
        let started = Instant::now();
        let mut stats = Stats::default();
        if let Some(b) = self.p99_floor() {
            stats.wall_s = started.elapsed().as_secs_f64();
            return Ok(Outcome::NoPlan {
                binding: b,
                rejected: Vec::new(),
                stats,
            });
        }
        let cands = self.candidates();
        stats.candidates = cands.len();
        self.bump(|p| &p.candidates, cands.len() as u64);
        let mut rejected: Vec<Tried> = Vec::new();
        for c in &cands {
            stats.examined += 1;
            self.bump(|p| &p.examined, 1);
            let mut c = c.clone();
            match self.evaluate(&mut c, &mut stats) {
                Err(Stop::Rejected(t)) => rejected.push(*t),
                Err(Stop::Failed(e)) => return Err(e),
                Ok((layout, cases, results)) => {
                    let survives_zone = self.survives_zone(&c, &layout, &mut stats);
                    let plan = self.to_plan(&c, &layout, &cases, &results, &rejected);
                    stats.wall_s = started.elapsed().as_secs_f64();
                    return Ok(Outcome::Found {
                        plan: Box::new(plan),
                        survives_zone,
                        stats,
                    });
                }
            }
        }
        stats.wall_s = started.elapsed().as_secs_f64();
        Ok(Outcome::NoPlan {
            binding: self.binding(&rejected),
            rejected: self.rejected(&rejected),
            stats,
        })
    }

    /// The p99 objective is below what one service's own service time
    /// allows: no capacity can meet it.
    fn p99_floor(&self) -> Option<Binding> {
        let p99 = self.scenario.slo.as_ref().and_then(|x| x.p99_ms)?;
        if self.sizing.p99_floor_ms <= p99 {
            return None;
        }
        let i = self.sizing.p99_floor_service;
        let visited = self.sizing.visits[i].min(1.0);
        Some(Binding::P99Floor {
            p99_ms: p99,
            service: self.scenario.services[i].name.clone(),
            visited,
            quantile: 1.0 - 0.01 / visited,
            floor_ms: self.sizing.p99_floor_ms,
        })
    }

    /// The scenario field that binds for a rejection, with its value.
    fn binding_field(&self, r: &Rejection) -> String {
        let s = &self.scenario;
        let slo = s.slo.as_ref();
        match r {
            Rejection::Capacity(_) => {
                format!("infrastructure.max_nodes = {}", s.infrastructure.max_nodes)
            }
            Rejection::Placement(_) => "placement.policy".to_string(),
            Rejection::Survival(_) => "slo.survive".into(),
            Rejection::Objective(v) => match v {
                Violation::ErrorRate { .. } => format!(
                    "slo.max_error_rate = {}",
                    slo.and_then(|x| x.max_error_rate).unwrap_or(f64::NAN)
                ),
                _ => format!(
                    "slo.p99_ms = {}",
                    slo.and_then(|x| x.p99_ms).unwrap_or(f64::NAN)
                ),
            },
        }
    }

    /// Names the constraint that binds when nothing passed: the reason of
    /// the candidate with the most capacity that got furthest.
    fn binding(&self, rejected: &[Tried]) -> Binding {
        let cap = |c: &Cand| self.shapes[c.ty].cpu_millis as u64 * c.nodes as u64;
        let not_capacity = |t: &Tried| !matches!(t.rejection, Rejection::Capacity(_));
        let Some(best) = rejected.iter().max_by(|a, b| {
            not_capacity(a)
                .cmp(&not_capacity(b))
                .then(
                    a.cand
                        .replicas
                        .iter()
                        .sum::<u32>()
                        .cmp(&b.cand.replicas.iter().sum::<u32>()),
                )
                .then(cap(&a.cand).cmp(&cap(&b.cand)))
        }) else {
            return Binding::NoCandidates;
        };
        Binding::Largest {
            field: self.binding_field(&best.rejection),
            candidate: self.describe(&best.cand),
            rejection: best.rejection.clone(),
        }
    }

    /// Verifies the candidate of `nodes` nodes of `instance_type` as the
    /// search would (replicas filled to capacity, placed by the policy,
    /// every case): `Ok(description)` if it passes, `Err(reason)` if not.
    /// Shows that a plan is minimal: its type with one node fewer fails.
    pub fn try_nodes(&self, instance_type: &str, nodes: u32) -> Result<String, String> {
        let Some(ty) = self
            .infra
            .types
            .iter()
            .position(|(t, _)| t.name == instance_type)
        else {
            return Err(format!("no instance type {instance_type}"));
        };
        let Some(mut c) = self.candidate(ty, nodes) else {
            return Err(format!(
                "{nodes} nodes cannot survive the losses the SLO demands"
            ));
        };
        let mut stats = Stats::default();
        match self.evaluate(&mut c, &mut stats) {
            Ok(_) => Ok(self.describe(&c)),
            Err(Stop::Rejected(t)) => Err(format!("{}: {}", self.describe(&t.cand), t.rejection)),
            Err(Stop::Failed(e)) => Err(e.to_string()),
        }
    }
}
