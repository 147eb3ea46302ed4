//! Elastic plans (`twip plan --elastic`): the cheapest autoscaling policy
//! per service, with scheduled floors ahead of the known spikes and a
//! capacity provider, that meets the SLOs over the day and when a node or a
//! zone is lost at the worst moments.
//!
//! The search:
//!
//! 1. **The fixed plan** of the same scenario without its elastic tables
//!    (the baseline: its cost is the static cost, its counts are the
//!    non-elastic services' counts and the elastic services' ceilings).
//! 2. **Moments** from the day's demand: the trough (the fleet at its
//!    floor), the steepest rise (a reactive scale-out starts), the daily
//!    peak, and per known spike the start of its scheduled scale-out and a
//!    minute into it.
//! 3. **Candidates** per elastic service: a target utilisation (0.50 ..
//!    0.80), a floor (the smallest the screening model lets survive a loss
//!    at the trough, and two above), and per spike no schedule or a floor
//!    raised to 0.7 .. 1.2 × the count the spike needs at the target,
//!    starting from the node warm-up + start delay + one health check ahead
//!    up to ten minutes more.
//! 4. **Screening** (`fluid`): each candidate's day and cases on a
//!    one-minute grid, with the controller's delays, give its expected node
//!    cost and a verdict; the passing ones are sorted by cost.
//! 5. **Verification by simulation** (`window`), cheapest first: every
//!    case as a window (the loss, for good, 15 minutes in; the SLO judged
//!    over the 30 minutes after it), in parallel; a candidate dominated by
//!    one that already failed (a higher target, lower floors, a smaller or
//!    later schedule) is rejected without simulation.
//! 6. **Minimality**: the first passing candidate's floor is lowered and
//!    its schedule started later, one step at a time, while the cases that
//!    bind them (the trough and rise; the schedule and spike) still pass.
//! 7. **The day**: the whole scenario (its traffic, spikes and failures)
//!    simulated with the plan; its node timeline gives the expected cost.
//!
//! The **fluid lower bound** is the cost of nodes that follow demand
//! exactly: per minute, the analytic replica count with the failure
//! headroom the SLO demands, packed on nodes, with no delay.

mod fluid;
mod window;

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;
use twip_model::elastic::{Alarm, Autoscaling, Metric};
use twip_model::elastic_plan::{
    self, ActionPurpose, CandidatePolicy, CaseWindow, DayTimeline, ElasticCase, ElasticCost,
    ElasticPlan, ElasticRejected, Moment, NodePolicy, PlannedAction, PlannedEvent, ReplicaSeries,
    ServicePolicy, Surge,
};
use twip_model::{Cost, FailureKind, Loss, Plan, RejectionKind, Scenario, Verification};
use twip_sim::sizing::Sizing;
use twip_sim::Options;

pub use window::{AFTER_S, LEAD_S};

use crate::{Binding, Outcome, PlanError, PlanOptions, Planner, Stats};

/// Target utilisations tried (busy workers ÷ workers).
pub const TARGETS: [f64; 7] = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8];
/// Scheduled floors tried, as a fraction of what the spike needs at the target.
const SCHEDULED: [f64; 6] = [0.7, 0.8, 0.9, 1.0, 1.1, 1.2];
/// Extra minutes of lead tried beyond the warm-ups.
const EXTRA_LEAD_MIN: u32 = 10;
/// After a spike, the floor is given back this much later (s).
const GIVE_BACK_S: f64 = 600.0;
/// Candidates simulated at most before the search gives up.
const MAX_SIMULATED: usize = 12;
/// Candidates screened at most (several elastic services multiply).
const MAX_CANDIDATES: usize = 20_000;
/// Share of a case's requests that may meet a slow minute in the screening.
const SLOW_SHARE: f64 = 0.01;

/// One candidate: per elastic service, its parameters.
#[derive(Debug, Clone, PartialEq)]
struct Cand {
    per: Vec<CandidatePolicy>,
    /// The screening model's cost of the day (USD).
    cost: f64,
    /// The capacity provider's target capacity (percent).
    node_target: f64,
}

impl Cand {
    /// Whether `self` is at most as capable as `other` in every parameter
    /// (so fails every case `other` fails).
    fn weaker_than(&self, other: &Cand) -> bool {
        // A higher target capacity keeps less spare room.
        self.node_target >= other.node_target - 1e-9
            && self.per.iter().zip(&other.per).all(|(a, b)| {
                a.target >= b.target - 1e-9
                    && a.min <= b.min
                    && a.scheduled_min.unwrap_or(0) <= b.scheduled_min.unwrap_or(0)
                    && a.lead_s.unwrap_or(0.0) <= b.lead_s.unwrap_or(0.0) + 1e-9
            })
    }
}

/// A failure a case injects: its kind and target (`None`: the busiest).
type Injected = Option<(FailureKind, Option<String>)>;

/// A screening verdict: the day's cost, or the failed case and its p99 estimate.
type Screened = Result<f64, Box<(CaseSpec, f64)>>;

/// A case: when, what is lost.
#[derive(Debug, Clone, PartialEq)]
struct CaseSpec {
    moment: Moment,
    at_s: f64,
    loss: Loss,
    failure: Injected,
    /// An unforeseen surge starting at `at_s` (surprise cases).
    surge: Option<Surge>,
}

/// The elastic search over one scenario.
struct Search<'a> {
    s: &'a Scenario,
    base: Planner,
    fixed: Plan,
    z: Sizing,
    /// Elastic services (indices into the scenario's).
    elastic: Vec<usize>,
    /// The policy settings the scenario gives (or the defaults).
    given: Vec<Autoscaling>,
    model: fluid::Model,
    node: twip_sim::NodeType,
    /// The plan's placement policy, placing the provider's waiting replicas.
    placer: twip_sim::PlacerRef,
    ns: NodePolicy,
    /// The scenario's provider target capacity (percent).
    given_target: f64,
    /// Moments that do not depend on the candidate.
    moments: Vec<(Moment, f64)>,
    /// Known spikes: (index, start, end).
    spikes: Vec<(usize, f64, f64)>,
    /// The loss each case takes.
    losses: Vec<(Loss, Injected)>,
    /// Unforeseen surges (`[[traffic.surprise]]`): when, and how large.
    surprises: Vec<(f64, Surge)>,
    seed: u64,
    simulated: usize,
}

/// Plans `scenario` elastically (see the module docs).
pub fn plan(scenario: &Scenario, opts: &PlanOptions) -> Result<Outcome, PlanError> {
    let started = Instant::now();
    let base = Planner::new(&scenario.without_elasticity(), opts)?;
    let fixed = match base.run()? {
        Outcome::Found { plan, .. } => *plan,
        no => return Ok(no),
    };
    let mut search = Search::new(scenario, base, fixed, opts)?;
    let out = search.run();
    let mut out = out?;
    let (Outcome::Found { stats, .. } | Outcome::NoPlan { stats, .. }) = &mut out;
    stats.wall_s = started.elapsed().as_secs_f64();
    stats.simulated += search.simulated;
    Ok(out)
}

/// Simulates the worst-moment cases at `moments` of an elastic plan's
/// policies as given in `per` (per elastic service: floor, target — for
/// `cpu` the utilisation —, scheduled floor and lead; a plan's own, or one
/// changed to check that the plan is minimal). Runs the fixed planner first,
/// as [`plan`] does.
pub fn recheck(
    scenario: &Scenario,
    opts: &PlanOptions,
    per: &BTreeMap<String, CandidatePolicy>,
    target_capacity: f64,
    moments: &[Moment],
) -> Result<Vec<ElasticCase>, PlanError> {
    let base = Planner::new(&scenario.without_elasticity(), opts)?;
    let fixed = match base.run()? {
        Outcome::Found { plan, .. } => *plan,
        Outcome::NoPlan { binding, .. } => return Err(PlanError::Input(binding.to_string())),
    };
    let mut search = Search::new(scenario, base, fixed, opts)?;
    search.set_node_target(target_capacity);
    let mut c = Vec::new();
    for &i in &search.elastic {
        let name = &scenario.services[i].name;
        let p = per
            .get(name)
            .ok_or_else(|| PlanError::Input(format!("no policy for elastic service {name}")))?;
        c.push(*p);
    }
    let cases: Vec<CaseSpec> = search
        .cases(&c)
        .into_iter()
        .filter(|k| moments.contains(&k.moment))
        .collect();
    search.simulate_cases(&c, &cases)
}

impl<'a> Search<'a> {
    fn new(
        s: &'a Scenario,
        base: Planner,
        fixed: Plan,
        opts: &PlanOptions,
    ) -> Result<Search<'a>, PlanError> {
        let z = base.sizing().clone();
        let mut elastic: Vec<usize> = (0..s.services.len())
            .filter(|&i| s.services[i].autoscaling.is_some())
            .collect();
        if elastic.is_empty() {
            // No service says: the one the fixed plan gives the most
            // replicas, where following demand pays.
            let most = (0..s.services.len()).max_by_key(|&i| {
                (
                    fixed
                        .replicas
                        .get(&s.services[i].name)
                        .copied()
                        .unwrap_or(0),
                    std::cmp::Reverse(i),
                )
            });
            elastic = most.into_iter().collect();
        }
        let given: Vec<Autoscaling> = elastic
            .iter()
            .map(|&i| {
                s.services[i].autoscaling.clone().unwrap_or(Autoscaling {
                    min: 1,
                    max: 1,
                    metric: Metric::Cpu,
                    rule: twip_model::elastic::Rule::TargetTracking { target: 0.6 },
                    scale_out_cooldown_s: 300.0,
                    scale_in_cooldown_s: 300.0,
                    period_s: 60.0,
                    scale_out_alarm: Alarm {
                        datapoints: 3,
                        periods: 3,
                    },
                    scale_in_alarm: Alarm {
                        datapoints: 15,
                        periods: 15,
                    },
                    scale_in_ratio: 0.9,
                })
            })
            .collect();
        // The provider's node type: the scenario's, else the fixed plan's.
        let infra = base.infra().clone();
        let want_type = s
            .infrastructure
            .autoscaling
            .as_ref()
            .and_then(|n| n.instance_type.clone())
            .or_else(|| fixed.nodes.first().map(|n| n.instance_type.clone()));
        let Some((t, price)) = infra
            .types
            .iter()
            .find(|(t, _)| Some(&t.name) == want_type.as_ref())
            .or(infra.types.first())
        else {
            return Err(PlanError::Input("no instance type to plan with".into()));
        };
        let node = twip_sim::NodeType::of(t, *price);
        let given_ns = s.infrastructure.autoscaling.clone();
        let ns = NodePolicy {
            instance_type: node.name.clone(),
            usd_per_hour: node.usd_per_hour,
            min_nodes: 0,
            max_nodes: given_ns
                .as_ref()
                .map(|n| n.max_nodes)
                .unwrap_or(s.infrastructure.max_nodes),
            target_capacity: given_ns
                .as_ref()
                .map(|n| n.target_capacity)
                .unwrap_or(100.0),
            instance_warmup_s: given_ns
                .as_ref()
                .map(|n| n.instance_warmup_s)
                .unwrap_or(300.0),
            max_step: given_ns.as_ref().map(|n| n.max_step).unwrap_or(10_000),
        };
        // The day on the model's grid.
        let minutes = (s.duration_s / fluid::DT).ceil() as usize;
        let rate: Vec<f64> = (0..minutes)
            .map(|k| s.rate_at((k as f64 + 0.5) * fluid::DT))
            .collect();
        let svcs: Vec<fluid::Svc> = s
            .services
            .iter()
            .enumerate()
            .map(|(i, sv)| {
                let share = (sv.cpu / node.vcpu).max(f64::from(sv.memory_mb) / node.memory_mb);
                fluid::Svc {
                    load_per_rps: z.visits[i] * z.holding_s[i],
                    visits: z.visits[i],
                    holding_s: z.holding_s[i],
                    workers: f64::from(sv.workers),
                    ac: (1.0 + sv.service_time.scv()) / 2.0,
                    pooled: sv.balancer == twip_model::Balancer::LeastConnections,
                    queue_limit: sv.queue_limit.map(f64::from),
                    node_share: share,
                    start_s: sv.start_delay_s + sv.health_check.interval_s,
                    detect_s: sv.health_check.detection_s(),
                    elastic: None,
                    fixed: fixed.replicas.get(&sv.name).copied().unwrap_or(sv.replicas),
                }
            })
            .collect();
        let p99_ms = s.slo.as_ref().and_then(|x| x.p99_ms).unwrap_or(1000.0);
        let model = fluid::Model {
            rate,
            svcs,
            nodes: fluid::Nodes {
                min: 0,
                max: ns.max_nodes,
                target: ns.target_capacity / 100.0,
                warmup_s: ns.instance_warmup_s,
                usd_per_hour: node.usd_per_hour,
            },
            wait_budget_s: ((p99_ms - z.p99_floor_ms) / 1e3).max(0.05),
        };
        let spikes: Vec<(usize, f64, f64)> = s
            .traffic
            .spikes
            .iter()
            .enumerate()
            .filter(|(_, sp)| sp.multiplier > 1.0)
            .map(|(i, sp)| (i, sp.at_s, sp.at_s + sp.duration_s))
            .collect();
        let moments = moments(&model.rate, &spikes, s.warmup_s);
        // A surprise without a time comes at the daily peak.
        let peak_at = moments
            .iter()
            .find(|(m, _)| *m == Moment::Peak)
            .map_or(s.warmup_s, |&(_, t)| t);
        let surprises = s
            .traffic
            .surprises
            .iter()
            .map(|x| {
                (
                    x.at_s.unwrap_or(peak_at).max(s.warmup_s),
                    Surge {
                        multiplier: x.multiplier,
                        duration_s: x.duration_s,
                    },
                )
            })
            .collect();
        let survive = |k| s.slo.as_ref().is_some_and(|x| x.survive.contains(&k));
        let zones = &infra.zones;
        let losses = if survive(FailureKind::Zone) && zones.len() > 1 {
            // A zone loss covers the loss of one of its nodes at the same moment.
            vec![(
                Loss::Zone {
                    zone: zones[0].clone(),
                },
                Some((FailureKind::Zone, Some(zones[0].clone()))),
            )]
        } else if survive(FailureKind::Node) || survive(FailureKind::Zone) {
            vec![(
                Loss::Node {
                    node: "the busiest node".into(),
                    zone: "any zone".into(),
                },
                Some((FailureKind::Node, None)),
            )]
        } else {
            vec![(Loss::None, None)]
        };
        let placer = crate::request::PolicyPlacer::load(
            &base.policy,
            s.path.parent().unwrap_or(std::path::Path::new("")),
        )?;
        Ok(Search {
            s,
            base,
            fixed,
            z,
            elastic,
            given,
            model,
            node,
            placer,
            given_target: ns.target_capacity,
            ns,
            moments,
            spikes,
            losses,
            surprises,
            seed: opts.seed.unwrap_or(s.seed),
            simulated: 0,
        })
    }

    /// The elastic services' ceilings: the fixed plan's counts (never more
    /// than the static fleet), raised to a scheduled floor.
    fn ceiling(&self, e: usize, c: &CandidatePolicy) -> u32 {
        let name = &self.s.services[self.elastic[e]].name;
        let fixed = self.fixed.replicas.get(name).copied().unwrap_or(1);
        fixed.max(c.scheduled_min.unwrap_or(0)).max(c.min)
    }

    /// The model with candidate `c`'s policies.
    fn model_for(&self, c: &[CandidatePolicy]) -> fluid::Model {
        let mut m = self.model.clone();
        for (e, p) in c.iter().enumerate() {
            let g = &self.given[e];
            let mut schedule = [None; 4];
            if let (Some(min), Some(lead)) = (p.scheduled_min, p.lead_s) {
                for (slot, &(_, at, end)) in schedule.iter_mut().zip(&self.spikes) {
                    *slot = Some((at - lead, end + GIVE_BACK_S, min));
                }
            }
            m.svcs[self.elastic[e]].elastic = Some(fluid::Policy {
                min: p.min,
                max: self.ceiling(e, p),
                util: p.target,
                out_alarm: (g.scale_out_alarm.datapoints, g.scale_out_alarm.periods),
                in_alarm: (g.scale_in_alarm.datapoints, g.scale_in_alarm.periods),
                in_ratio: g.scale_in_ratio,
                out_cooldown_s: p.scale_out_cooldown_s.unwrap_or(g.scale_out_cooldown_s),
                in_cooldown_s: p.scale_in_cooldown_s.unwrap_or(g.scale_in_cooldown_s),
                schedule,
            });
        }
        // The provider's floor: what the floors need.
        let floors: f64 = m
            .svcs
            .iter()
            .map(|sv| {
                let n = sv.elastic.map(|p| p.min).unwrap_or(sv.fixed);
                f64::from(n) * sv.node_share
            })
            .sum();
        m.nodes.min = floors.ceil() as u32;
        m
    }

    /// Every case of candidate `c`.
    fn cases(&self, c: &[CandidatePolicy]) -> Vec<CaseSpec> {
        let mut at: Vec<(Moment, f64)> = self.moments.clone();
        let lead = c.iter().filter_map(|p| p.lead_s).fold(0.0, f64::max);
        for &(_, start, _) in &self.spikes {
            if lead > 0.0 {
                at.push((Moment::Schedule, (start - lead).max(self.s.warmup_s)));
            }
            at.push((Moment::Spike, start + fluid::DT));
        }
        let mut out = Vec::new();
        for (moment, t) in at {
            for (loss, failure) in &self.losses {
                out.push(CaseSpec {
                    moment,
                    at_s: t,
                    loss: loss.clone(),
                    failure: failure.clone(),
                    surge: None,
                });
            }
        }
        // Surges nobody scheduled: nothing lost, the policy alone reacts.
        for &(at_s, surge) in &self.surprises {
            out.push(CaseSpec {
                moment: Moment::Surprise,
                at_s,
                loss: Loss::None,
                failure: None,
                surge: Some(surge),
            });
        }
        out
    }

    /// The screening verdict of `c`: its day cost, or the first case it fails.
    fn screen(&self, c: &[CandidatePolicy]) -> Screened {
        let m = self.model_for(c);
        let day = m.run(0.0, self.s.duration_s, None);
        for case in self.cases(c) {
            let from = (case.at_s - LEAD_S).max(0.0);
            let hit = case.failure.as_ref().map(|(k, _)| fluid::Hit {
                at_s: case.at_s,
                zones: (*k == FailureKind::Zone).then_some(self.base.infra().zones.len() as u32),
            });
            let surged;
            let m = match case.surge {
                Some(g) => {
                    surged = m.surged(case.at_s, g.duration_s, g.multiplier);
                    &surged
                }
                None => &m,
            };
            let tr = m.run(from, case.at_s + AFTER_S, hit);
            // The trace starts at `from`: shift the window into it.
            let shifted = fluid::Model {
                rate: m.rate[(from / fluid::DT) as usize..].to_vec(),
                ..m.clone()
            };
            let (slow, worst) =
                tr.slow_share(&shifted, case.at_s - from, case.at_s - from + AFTER_S);
            if slow > SLOW_SHARE {
                return Err(Box::new((
                    case,
                    (worst * 1e3 + self.z.p99_floor_ms).min(elastic_plan::UNBOUNDED_P99_MS),
                )));
            }
        }
        Ok(day.cost_usd)
    }

    /// Candidates, screened, cheapest first; the screened-out ones as rejections.
    fn candidates(&self) -> (Vec<Cand>, Vec<(Cand, CaseSpec, f64)>) {
        let per_service: Vec<Vec<CandidatePolicy>> = (0..self.elastic.len())
            .map(|e| self.service_options(e))
            .collect();
        // The product over services (one elastic service: its options).
        let mut all: Vec<Vec<CandidatePolicy>> = vec![Vec::new()];
        for opts in &per_service {
            // Several elastic services multiply: the product stops at
            // MAX_CANDIDATES (the first options of each come first).
            let mut next = Vec::new();
            'fill: for o in opts {
                for prefix in &all {
                    if next.len() >= MAX_CANDIDATES {
                        break 'fill;
                    }
                    let mut v = prefix.clone();
                    v.push(*o);
                    next.push(v);
                }
            }
            all = next;
        }
        let results: Vec<(Vec<CandidatePolicy>, Screened)> = all
            .into_par_iter()
            .map(|c| {
                let r = self.screen(&c);
                (c, r)
            })
            .collect();
        let mut pass = Vec::new();
        let mut fail = Vec::new();
        for (per, r) in results {
            match r {
                Ok(cost) => pass.push(Cand {
                    per,
                    cost,
                    node_target: self.ns.target_capacity,
                }),
                Err(failed) => {
                    let (case, value) = *failed;
                    let cost = self
                        .model_for(&per)
                        .run(0.0, self.s.duration_s, None)
                        .cost_usd;
                    fail.push((
                        Cand {
                            per,
                            cost,
                            node_target: self.ns.target_capacity,
                        },
                        case,
                        value,
                    ));
                }
            }
        }
        pass.sort_by(|a, b| a.cost.total_cmp(&b.cost));
        (pass, fail)
    }

    /// One service's options: targets × floors × schedules.
    fn service_options(&self, e: usize) -> Vec<CandidatePolicy> {
        let i = self.elastic[e];
        let sv = &self.model.svcs[i];
        let warm = self.ns.instance_warmup_s + sv.start_s;
        let base_lead = (warm / fluid::DT).ceil() * fluid::DT;
        let spike_load = self
            .spikes
            .iter()
            .map(|&(_, a, b)| {
                let (ka, kb) = ((a / fluid::DT) as usize, (b / fluid::DT).ceil() as usize);
                self.model.rate[ka.min(self.model.rate.len())..kb.min(self.model.rate.len())]
                    .iter()
                    .fold(0.0f64, |x, &y| x.max(y))
            })
            .fold(0.0f64, f64::max)
            * sv.load_per_rps;
        let mut out = Vec::new();
        for &util in &TARGETS {
            // The smallest floor the screening lets survive the trough.
            let floor = self.smallest_floor(e, util);
            let mut schedules: Vec<(Option<u32>, Option<f64>)> = vec![(None, None)];
            if spike_load > 0.0 {
                let need = (spike_load / (sv.workers * util)).ceil();
                for f in SCHEDULED {
                    let min = ((need * f).ceil() as u32).max(1);
                    for j in 0..=EXTRA_LEAD_MIN {
                        schedules.push((Some(min), Some(base_lead + f64::from(j) * fluid::DT)));
                    }
                }
            }
            for min in floor..floor + 3 {
                for &(scheduled_min, lead_s) in &schedules {
                    if scheduled_min.is_some_and(|m| m <= min) {
                        continue;
                    }
                    out.push(CandidatePolicy {
                        min,
                        target: util,
                        scheduled_min,
                        lead_s,
                        scale_out_cooldown_s: None,
                        scale_in_cooldown_s: None,
                    });
                }
            }
        }
        out
    }

    /// The smallest floor of service `e` at `util` whose trough cases pass
    /// the screening (other services at their fixed counts).
    fn smallest_floor(&self, e: usize, util: f64) -> u32 {
        let trough: Vec<CaseSpec> = self
            .cases(&[])
            .into_iter()
            .filter(|c| c.moment == Moment::Trough)
            .collect();
        let max = self
            .fixed
            .replicas
            .get(&self.s.services[self.elastic[e]].name)
            .copied()
            .unwrap_or(1);
        for min in self.structural_floor().min(max)..=max {
            let mut per: Vec<CandidatePolicy> = (0..self.elastic.len())
                .map(|k| CandidatePolicy {
                    min: self.ceiling(
                        k,
                        &CandidatePolicy {
                            min: 1,
                            target: util,
                            scheduled_min: None,
                            lead_s: None,
                            scale_out_cooldown_s: None,
                            scale_in_cooldown_s: None,
                        },
                    ),
                    target: util,
                    scheduled_min: None,
                    lead_s: None,
                    scale_out_cooldown_s: None,
                    scale_in_cooldown_s: None,
                })
                .collect();
            per[e].min = min;
            let m = self.model_for(&per);
            let ok = trough.iter().all(|case| {
                let from = (case.at_s - LEAD_S).max(0.0);
                let hit = case.failure.as_ref().map(|(k, _)| fluid::Hit {
                    at_s: case.at_s,
                    zones: (*k == FailureKind::Zone)
                        .then_some(self.base.infra().zones.len() as u32),
                });
                let tr = m.run(from, case.at_s + AFTER_S, hit);
                let shifted = fluid::Model {
                    rate: m.rate[(from / fluid::DT) as usize..].to_vec(),
                    ..m.clone()
                };
                tr.slow_share(&shifted, case.at_s - from, case.at_s - from + AFTER_S)
                    .0
                    <= SLOW_SHARE
            });
            if ok {
                return min;
            }
        }
        max
    }

    /// The scenario with candidate `c` applied.
    fn scenario_for(&self, c: &[CandidatePolicy]) -> Scenario {
        let (services, nodes) = self.policies(c);
        let mut v = self.s.clone();
        for sv in &mut v.services {
            if let Some(&n) = self.fixed.replicas.get(&sv.name) {
                if !services.contains_key(&sv.name) {
                    sv.replicas = n;
                    sv.autoscaling = None;
                    sv.schedule.clear();
                }
            }
        }
        elastic_plan::apply(&services, &nodes, &mut v);
        v
    }

    /// The policies and provider settings of candidate `c`.
    fn policies(&self, c: &[CandidatePolicy]) -> (BTreeMap<String, ServicePolicy>, NodePolicy) {
        let m = self.model_for(c);
        let init = m.initial(0.0);
        let mut services = BTreeMap::new();
        for (e, p) in c.iter().enumerate() {
            let i = self.elastic[e];
            let sv = &self.s.services[i];
            let g = &self.given[e];
            let mut schedule = Vec::new();
            if let (Some(min), Some(lead)) = (p.scheduled_min, p.lead_s) {
                for &(k, at, end) in &self.spikes {
                    let start = self.model.svcs[i].start_s;
                    schedule.push(PlannedAction {
                        at_s: (at - lead).max(0.0),
                        utc: elastic_plan::utc((at - lead).max(0.0), self.s.traffic.start_hour_utc),
                        min: Some(min),
                        max: None,
                        purpose: ActionPurpose::BeforeSpike {
                            spike: k,
                            spike_at_s: at,
                            lead_s: lead,
                            instance_warmup_s: self.ns.instance_warmup_s,
                            start_s: start,
                        },
                    });
                    if end + GIVE_BACK_S < self.s.duration_s {
                        schedule.push(PlannedAction {
                            at_s: end + GIVE_BACK_S,
                            utc: elastic_plan::utc(
                                end + GIVE_BACK_S,
                                self.s.traffic.start_hour_utc,
                            ),
                            min: Some(p.min),
                            max: None,
                            purpose: ActionPurpose::AfterSpike { spike: k },
                        });
                    }
                }
            }
            schedule.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
            services.insert(
                sv.name.clone(),
                ServicePolicy {
                    min: p.min,
                    max: self.ceiling(e, p),
                    metric: g.metric,
                    target: metric_target(g.metric, &self.model.svcs[i], p.target),
                    scale_out_cooldown_s: p.scale_out_cooldown_s.unwrap_or(g.scale_out_cooldown_s),
                    scale_in_cooldown_s: p.scale_in_cooldown_s.unwrap_or(g.scale_in_cooldown_s),
                    period_s: g.period_s,
                    scale_out_alarm: g.scale_out_alarm,
                    scale_in_alarm: g.scale_in_alarm,
                    scale_in_ratio: g.scale_in_ratio,
                    schedule,
                    initial: init[i],
                },
            );
        }
        let nodes = NodePolicy {
            min_nodes: m.nodes.min,
            max_nodes: self.ns.max_nodes.max(m.nodes.min),
            ..self.ns.clone()
        };
        (services, nodes)
    }

    fn sim_options(&self, intervals: usize) -> Options {
        Options {
            seed: Some(self.seed),
            replications: 1,
            layout: None,
            timeline: true,
            intervals,
            progress: None,
            segments: Some(1),
            node_type: Some(self.node.clone()),
            placer: Some(self.placer.clone()),
        }
    }

    /// Simulates `cases` of candidate `c` in parallel.
    fn simulate_cases(
        &mut self,
        c: &[CandidatePolicy],
        cases: &[CaseSpec],
    ) -> Result<Vec<ElasticCase>, PlanError> {
        let v = self.scenario_for(c);
        let m = self.model_for(c);
        let opts = self.sim_options(100);
        let daily = self.z.daily_requests;
        self.simulated += cases.len();
        self.base.bump(|p| &p.simulated, cases.len() as u64);
        let results: Vec<Result<ElasticCase, twip_sim::SimError>> = cases
            .par_iter()
            .map(|case| {
                let init = m.initial((case.at_s - LEAD_S).max(0.0));
                let w = window::scenario(&v, &init, case.at_s, case.failure.clone(), case.surge);
                let (j, _) = window::judge(&w, &opts, daily)?;
                Ok(self.verdict(case, j))
            })
            .collect();
        results
            .into_iter()
            .map(|r| r.map_err(PlanError::from))
            .collect()
    }

    fn verdict(&self, case: &CaseSpec, j: window::Judged) -> ElasticCase {
        let slo = self.s.slo.as_ref();
        // As the fixed planner: the p99 and its half-width within the bound.
        let p99_ok = slo
            .and_then(|x| x.p99_ms)
            .is_none_or(|b| j.p99_ms + j.p99_ci95_ms.unwrap_or(0.0) <= b);
        let err_ok = slo
            .and_then(|x| x.max_error_rate)
            .is_none_or(|b| j.error_rate <= b);
        ElasticCase {
            moment: case.moment,
            at_s: case.at_s,
            loss: case.loss.clone(),
            p99_ms: j.p99_ms,
            p99_ci95_ms: j.p99_ci95_ms,
            error_rate: j.error_rate,
            met: p99_ok && err_ok,
            surge: case.surge,
        }
    }

    /// A failed case as a rejection of `c`.
    fn rejection(&self, c: &Cand, case: &ElasticCase, simulated: bool) -> ElasticRejected {
        let slo = self.s.slo.as_ref();
        let p99_bound = slo.and_then(|x| x.p99_ms).unwrap_or(f64::INFINITY);
        // As the verdict: the p99 with its half-width against the bound.
        let (kind, value, bound) = if case.p99_ms + case.p99_ci95_ms.unwrap_or(0.0) > p99_bound {
            (RejectionKind::P99, case.p99_ms, p99_bound)
        } else {
            (
                RejectionKind::ErrorRate,
                case.error_rate,
                slo.and_then(|x| x.max_error_rate).unwrap_or(f64::INFINITY),
            )
        };
        ElasticRejected {
            services: self.named(&c.per),
            day_usd: round_cents(c.cost),
            simulated,
            kind,
            moment: case.moment,
            at_s: case.at_s,
            loss: case.loss.clone(),
            value,
            bound,
            surge: case.surge,
            value_ci95: case.p99_ci95_ms.filter(|_| kind == RejectionKind::P99),
            target_capacity: self.searched_target(c),
        }
    }

    fn named(&self, per: &[CandidatePolicy]) -> BTreeMap<String, CandidatePolicy> {
        per.iter()
            .enumerate()
            .map(|(e, p)| {
                let i = self.elastic[e];
                let mut p = *p;
                p.target = metric_target(self.given[e].metric, &self.model.svcs[i], p.target);
                (self.s.services[i].name.clone(), p)
            })
            .collect()
    }

    /// `c`'s provider target capacity, when the search tried more than one.
    fn searched_target(&self, c: &Cand) -> Option<f64> {
        (self.node_targets().len() > 1).then_some(c.node_target)
    }

    /// The first failed case, if any.
    fn first_failed(cases: &[ElasticCase]) -> Option<&ElasticCase> {
        cases.iter().find(|c| !c.met)
    }

    /// Provider target capacities searched (percent): the scenario's, and
    /// 100 (no spare room: cheaper, slower to scale out) when it is lower.
    fn node_targets(&self) -> Vec<f64> {
        if self.given_target < 100.0 {
            vec![self.given_target, 100.0]
        } else {
            vec![self.given_target]
        }
    }

    /// Screens, simulates and plans with the provider at `percent`.
    fn set_node_target(&mut self, percent: f64) {
        self.ns.target_capacity = percent;
        self.model.nodes.target = percent / 100.0;
    }

    fn run(&mut self) -> Result<Outcome, PlanError> {
        let mut pass = Vec::new();
        let mut screened_out = Vec::new();
        for t in self.node_targets() {
            self.set_node_target(t);
            let (p, f) = self.candidates();
            pass.extend(p);
            screened_out.extend(f);
        }
        pass.sort_by(|a, b| a.cost.total_cmp(&b.cost));
        let total = pass.len() + screened_out.len();
        self.base.bump(|p| &p.candidates, total as u64);
        let mut rejected: Vec<ElasticRejected> = Vec::new();
        let mut failed: Vec<Cand> = Vec::new();
        let mut stats = Stats {
            candidates: total,
            ..Stats::default()
        };
        let mut verified = 0;
        for c in &pass {
            stats.examined += 1;
            self.base.bump(|p| &p.examined, 1);
            if let Some(f) = failed.iter().find(|f| c.weaker_than(f)) {
                // Known to fail: a stronger candidate failed.
                let _ = f;
                stats.reused += 1;
                continue;
            }
            if verified >= MAX_SIMULATED {
                break;
            }
            verified += 1;
            self.set_node_target(c.node_target);
            let cases = self.cases(&c.per);
            let results = self.simulate_cases(&c.per, &cases)?;
            if let Some(bad) = Self::first_failed(&results) {
                rejected.push(self.rejection(c, bad, true));
                failed.push(c.clone());
                continue;
            }
            // Minimality: lower floors, later schedules, while they pass.
            let (best, mut cases_met) = self.minimise(c.clone(), results, &mut rejected)?;
            // The day.
            let (day_case, day) = self.simulate_day(&best.per)?;
            if !day_case.met {
                rejected.push(self.rejection(&best, &day_case, true));
                failed.push(best.clone());
                continue;
            }
            cases_met.insert(0, day_case);
            // Cheaper screened-out candidates, for the record.
            for (sc, case, value) in &screened_out {
                if sc.cost < best.cost {
                    rejected.push(self.screened(sc, case, *value));
                }
            }
            rejected.sort_by(|a, b| a.day_usd.total_cmp(&b.day_usd));
            let plan = self.assemble(&best, cases_met, rejected, &day)?;
            return Ok(Outcome::Found {
                plan: Box::new(plan),
                survives_zone: Some(
                    self.losses
                        .iter()
                        .any(|(l, _)| matches!(l, Loss::Zone { .. })),
                ),
                stats,
            });
        }
        let start = self.s.traffic.start_hour_utc;
        let strongest = screened_out
            .iter()
            // The most capable (most expensive) candidate's failure says
            // what no policy carries.
            .max_by(|a, b| a.0.cost.total_cmp(&b.0.cost));
        let binding = match (rejected.last(), strongest) {
            (Some(r), _) => Binding::Elastic {
                last: Box::new(r.clone()),
                start_hour_utc: start,
            },
            (None, Some((c, case, value))) => Binding::ElasticScreened {
                candidates: total,
                strongest: Box::new(self.screened(c, case, *value)),
                start_hour_utc: start,
            },
            (None, None) => Binding::NoCandidates,
        };
        Ok(Outcome::NoPlan {
            binding,
            rejected: Vec::new(),
            stats,
        })
    }

    fn screened(&self, c: &Cand, case: &CaseSpec, value: f64) -> ElasticRejected {
        let p99_bound = self
            .s
            .slo
            .as_ref()
            .and_then(|x| x.p99_ms)
            .unwrap_or(f64::INFINITY);
        ElasticRejected {
            services: self.named(&c.per),
            day_usd: round_cents(c.cost),
            simulated: false,
            kind: RejectionKind::P99,
            moment: case.moment,
            at_s: case.at_s,
            loss: case.loss.clone(),
            value,
            bound: p99_bound,
            surge: case.surge,
            value_ci95: None,
            target_capacity: self.searched_target(c),
        }
    }

    /// The lowest floor allowed: a replica in every zone when a zone loss
    /// must be survived, two when a node loss must (so that no loss takes
    /// every replica of a service, as the fixed planner's survival check).
    fn structural_floor(&self) -> u32 {
        match self.losses.first() {
            Some((Loss::Zone { .. }, _)) => self.base.infra().zones.len().max(1) as u32,
            Some((Loss::Node { .. }, _)) => 2,
            _ => 1,
        }
    }

    /// Lowers floors and starts schedules later, by bisection, while the
    /// cases that bind them still pass: the floor binds at the trough, the
    /// steepest rise and in a surprise, the schedule as it starts and
    /// during the spike.
    /// The result's floor one lower and schedule one minute later were
    /// simulated and failed (unless at the structural floor or one minute
    /// ahead); the failing steps are recorded.
    fn minimise(
        &mut self,
        mut best: Cand,
        mut results: Vec<ElasticCase>,
        rejected: &mut Vec<ElasticRejected>,
    ) -> Result<(Cand, Vec<ElasticCase>), PlanError> {
        // A surge starts from what runs then, which a floor may be.
        let floor_binds = |m: Moment| matches!(m, Moment::Trough | Moment::Rise | Moment::Surprise);
        let schedule_binds = |m: Moment| matches!(m, Moment::Schedule | Moment::Spike);
        for e in 0..best.per.len() {
            let (mut lo, mut hi) = (
                self.structural_floor().min(best.per[e].min),
                best.per[e].min,
            );
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let mut c = best.clone();
                c.per[e].min = mid;
                c.cost = self
                    .model_for(&c.per)
                    .run(0.0, self.s.duration_s, None)
                    .cost_usd;
                if self.try_step(&mut best, &mut results, c, rejected, floor_binds)? {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            let Some(lead) = best.per[e].lead_s else {
                continue;
            };
            let (mut lo, mut hi) = (1u32, (lead / fluid::DT).round() as u32);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let mut c = best.clone();
                c.per[e].lead_s = Some(f64::from(mid) * fluid::DT);
                c.cost = self
                    .model_for(&c.per)
                    .run(0.0, self.s.duration_s, None)
                    .cost_usd;
                if self.try_step(&mut best, &mut results, c, rejected, schedule_binds)? {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
        }
        Ok((best, results))
    }

    /// Simulates the cases of `c` that `binds` selects; adopts `c` when
    /// they pass (keeping the other results), records it when not.
    fn try_step(
        &mut self,
        best: &mut Cand,
        results: &mut Vec<ElasticCase>,
        c: Cand,
        rejected: &mut Vec<ElasticRejected>,
        binds: impl Fn(Moment) -> bool,
    ) -> Result<bool, PlanError> {
        let cases: Vec<CaseSpec> = self
            .cases(&c.per)
            .into_iter()
            .filter(|k| binds(k.moment))
            .collect();
        let got = self.simulate_cases(&c.per, &cases)?;
        if let Some(bad) = Self::first_failed(&got) {
            rejected.push(self.rejection(&c, bad, true));
            return Ok(false);
        }
        let mut all: Vec<ElasticCase> = results
            .iter()
            .filter(|r| !binds(r.moment))
            .cloned()
            .collect();
        all.extend(got);
        all.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        *results = all;
        *best = c;
        Ok(true)
    }

    /// The whole scenario with candidate `c`.
    fn simulate_day(
        &mut self,
        c: &[CandidatePolicy],
    ) -> Result<(ElasticCase, twip_sim::SimReport), PlanError> {
        let v = self.scenario_for(c);
        self.simulated += 1;
        self.base.bump(|p| &p.simulated, 1);
        let r = twip_sim::simulate(&v, &self.sim_options(240))?;
        let j = window::Judged {
            p99_ms: if r.unstable.is_some() || r.latency_ms.p99.is_nan() {
                f64::INFINITY
            } else {
                r.latency_ms.p99
            },
            p99_ci95_ms: r.ci95.latency_p99_ms,
            error_rate: r.error_rate,
        };
        let case = CaseSpec {
            moment: Moment::Day,
            at_s: 0.0,
            loss: Loss::None,
            failure: None,
            surge: None,
        };
        Ok((self.verdict(&case, j), r))
    }

    /// The fluid lower bound's nodes per minute.
    fn lower_bound(&self) -> Vec<u32> {
        let zones = self.base.infra().zones.len() as f64;
        let zone = self
            .losses
            .iter()
            .any(|(l, _)| matches!(l, Loss::Zone { .. }));
        let node = self
            .losses
            .iter()
            .any(|(l, _)| matches!(l, Loss::Node { .. }));
        self.model
            .rate
            .iter()
            .map(|&rps| {
                let mut share = 0.0;
                for (i, sv) in self.model.svcs.iter().enumerate() {
                    let n = f64::from(twip_sim::sizing::replicas_at(self.s, &self.z, i, rps));
                    let n = if zone {
                        (n * zones / (zones - 1.0)).ceil()
                    } else if node {
                        n + 1.0
                    } else {
                        n
                    };
                    share += n * sv.node_share;
                }
                (share - 1e-9).ceil().max(1.0) as u32
            })
            .collect()
    }

    fn assemble(
        &self,
        best: &Cand,
        cases: Vec<ElasticCase>,
        rejected: Vec<ElasticRejected>,
        day: &twip_sim::SimReport,
    ) -> Result<Plan, PlanError> {
        let (services, nodes) = self.policies(&best.per);
        let el = day.elastic.as_ref();
        let scale = 86_400.0 / self.s.duration_s;
        let node_hours = el
            .and_then(|e| e.nodes.as_ref())
            .map(|n| n.node_hours)
            .unwrap_or(0.0)
            * scale;
        let day_usd = round_cents(node_hours * self.node.usd_per_hour);
        let lb_nodes = self.lower_bound();
        let lb_day = round_cents(
            lb_nodes.iter().map(|&n| f64::from(n)).sum::<f64>() * fluid::DT / 3600.0
                * self.node.usd_per_hour
                * 86_400.0
                / (lb_nodes.len() as f64 * fluid::DT).max(1.0),
        );
        let static_day = round_cents(self.fixed.cost.hourly_usd * 24.0);
        let month = |d: f64| round_cents(d * 365.0 / 12.0);
        let cost = ElasticCost {
            node_hours: (node_hours * 100.0).round() / 100.0,
            day_usd,
            monthly_usd: month(day_usd),
            lower_bound_day_usd: lb_day,
            lower_bound_monthly_usd: month(lb_day),
            static_day_usd: static_day,
            static_monthly_usd: month(static_day),
            savings_pct: round1(100.0 * (1.0 - day_usd / static_day.max(1e-9))),
            above_lower_bound_pct: round1(100.0 * (day_usd / lb_day.max(1e-9) - 1.0)),
        };
        // The day's series on the report's grid.
        let t = day.timeline.as_ref();
        let start_s: Vec<f64> = el.map(|e| e.start_s.clone()).unwrap_or_default();
        let interval_s = el.map(|e| e.interval_s).unwrap_or(0.0);
        let mut series = BTreeMap::new();
        if let Some(e) = el {
            for name in services.keys() {
                if let Some(c) = e.services.get(name) {
                    series.insert(
                        name.clone(),
                        ReplicaSeries {
                            desired: c.desired.clone(),
                            in_service: c.in_service.clone(),
                        },
                    );
                }
            }
        }
        let lb_at = |t0: f64| -> u32 {
            let k = ((t0 + interval_s / 2.0) / fluid::DT) as usize;
            lb_nodes.get(k).copied().unwrap_or(0)
        };
        let timeline = DayTimeline {
            demand_rps: start_s
                .iter()
                .map(|&t0| self.s.rate_at(t0 + interval_s / 2.0))
                .collect(),
            services: series,
            nodes: el
                .and_then(|e| e.nodes.as_ref())
                .map(|n| n.up.clone())
                .unwrap_or_default(),
            lower_bound_nodes: start_s.iter().map(|&t0| lb_at(t0)).collect(),
            static_nodes: self.fixed.nodes.len() as u32,
            p99_ms: t.map(|t| t.p99_ms.clone()).unwrap_or_default(),
            errors: t.map(|t| t.errors.clone()).unwrap_or_default(),
            start_s,
            interval_s,
        };
        let events = el
            .map(|e| {
                e.events
                    .iter()
                    .map(|ev| PlannedEvent {
                        at_s: ev.at_s,
                        service: ev.service.clone(),
                        from: ev.from,
                        to: ev.to,
                        cause: cause_kind(&ev.cause).into(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let start = self.s.traffic.start_hour_utc;
        let verification = cases
            .iter()
            .map(|c| Verification {
                case: c.name(start),
                loss: Some(c.loss.clone()),
                p99_ms: c.p99_ms,
                p99_ci95_ms: c.p99_ci95_ms,
                error_rate: c.error_rate,
                met: c.met,
                covers: Vec::new(),
            })
            .collect();
        // The start of the day as a fixed layout (what Docker deploys).
        let mut initial = self.fixed.replicas.clone();
        for (name, p) in &services {
            initial.insert(name.clone(), p.initial);
        }
        let (plan_nodes, placements) = self.initial_layout(&initial, &nodes)?;
        let elastic = ElasticPlan {
            services,
            nodes,
            cost,
            window: CaseWindow {
                lead_s: LEAD_S,
                after_loss_s: AFTER_S,
            },
            cases,
            rejected,
            day: timeline,
            events,
        };
        Ok(Plan {
            scenario: self.s.name.clone(),
            scenario_file: self.fixed.scenario_file.clone(),
            policy: self.fixed.policy.clone(),
            region: self.fixed.region.clone(),
            nodes: plan_nodes,
            replicas: initial,
            placements,
            cost: Cost::hourly(day_usd / 24.0),
            verification,
            rejected: Vec::new(),
            elastic: Some(elastic),
        })
    }

    /// The start of the day placed by the scenario's policy on the
    /// provider's nodes (as few as hold it, up to five more if the policy
    /// wants room).
    fn initial_layout(
        &self,
        replicas: &BTreeMap<String, u32>,
        nodes: &NodePolicy,
    ) -> Result<(Vec<twip_model::PlanNode>, Vec<twip_model::Placement>), PlanError> {
        let counts: Vec<u32> = self
            .s
            .services
            .iter()
            .map(|sv| replicas.get(&sv.name).copied().unwrap_or(sv.replicas))
            .collect();
        let share: f64 = counts
            .iter()
            .zip(&self.model.svcs)
            .map(|(&n, sv)| f64::from(n) * sv.node_share)
            .sum();
        let need = ((share / (nodes.target_capacity / 100.0) - 1e-9).ceil() as u32)
            .max(nodes.min_nodes)
            .max(1);
        let ty = self
            .base
            .infra()
            .types
            .iter()
            .position(|(t, _)| t.name == nodes.instance_type)
            .unwrap_or(0);
        let mut last = None;
        for n in need..need + 6 {
            match self.base.place_counts(ty, n, &counts) {
                Ok(layout) => return Ok(self.base.plan_layout(ty, &layout)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| PlanError::Input("no layout".into())))
    }
}

/// The metric's target for a utilisation target of service `sv`.
fn metric_target(metric: Metric, sv: &fluid::Svc, util: f64) -> f64 {
    let v = match metric {
        Metric::Cpu => util,
        // Requests per replica and minute at that utilisation.
        Metric::RequestsPerReplica => {
            util * sv.workers / sv.holding_s.max(1e-9) / sv.visits.max(1e-9) * sv.visits * 60.0
        }
        // Little: requests in flight per replica.
        Metric::InFlightPerReplica => util * sv.workers,
    };
    (v * 1000.0).round() / 1000.0
}

fn cause_kind(c: &twip_sim::Cause) -> &'static str {
    match c {
        twip_sim::Cause::ScaleOut { .. } => "scale_out",
        twip_sim::Cause::ScaleIn { .. } => "scale_in",
        twip_sim::Cause::Schedule { .. } => "schedule",
        twip_sim::Cause::Failure { .. } => "failure",
        twip_sim::Cause::Capacity { .. } => "capacity",
        twip_sim::Cause::Idle { .. } => "idle",
    }
}

fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The trough, the steepest rise and the daily peak, outside the spikes
/// (and after the warm-up).
fn moments(rate: &[f64], spikes: &[(usize, f64, f64)], warmup_s: f64) -> Vec<(Moment, f64)> {
    let in_spike = |t: f64| {
        spikes
            .iter()
            .any(|&(_, a, b)| t >= a - 2.0 * LEAD_S && t < b + AFTER_S)
    };
    let ok: Vec<usize> = (0..rate.len())
        .filter(|&k| {
            let t = k as f64 * fluid::DT;
            t >= warmup_s + LEAD_S && !in_spike(t)
        })
        .collect();
    let pick = |f: &dyn Fn(usize) -> f64| {
        ok.iter()
            .copied()
            .max_by(|&a, &b| f(a).total_cmp(&f(b)).then(b.cmp(&a)))
    };
    let mut out = Vec::new();
    if let Some(k) = pick(&|k| -rate[k]) {
        out.push((Moment::Trough, k as f64 * fluid::DT));
    }
    if let Some(k) = pick(&|k| {
        if k + 1 < rate.len() {
            rate[k + 1] - rate[k]
        } else {
            f64::NEG_INFINITY
        }
    }) {
        out.push((Moment::Rise, k as f64 * fluid::DT));
    }
    if let Some(k) = pick(&|k| rate[k]) {
        out.push((Moment::Peak, k as f64 * fluid::DT));
    }
    out
}

impl Planner {
    /// Places `counts` on `nodes` nodes of type `ty` with the policy.
    fn place_counts(
        &self,
        ty: usize,
        nodes: u32,
        counts: &[u32],
    ) -> Result<twip_model::Layout, PlanError> {
        let c = crate::candidate::Cand {
            ty,
            nodes,
            base: counts.to_vec(),
            replicas: counts.to_vec(),
            hourly: self.infra.types[ty].1 * f64::from(nodes),
        };
        match self.place(&c) {
            Ok(layout) => Ok(layout),
            Err(crate::search::PlaceFail::Plugin(e)) => Err(e),
            Err(crate::search::PlaceFail::Reject(r)) => Err(PlanError::Input(format!(
                "policy {} cannot place the start of the day on {nodes} nodes: {r}",
                self.policy
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_avoid_the_spike_and_find_the_extremes() {
        // A day of minutes: a sine, trough at minute 360, peak at 1080,
        // and a spike at minute 900.
        let rate: Vec<f64> = (0..1440)
            .map(|k| {
                let h = k as f64 / 60.0;
                100.0 + 50.0 * ((h - 18.0) / 24.0 * 2.0 * std::f64::consts::PI).cos()
            })
            .collect();
        let m = moments(&rate, &[(0, 900.0 * 60.0, 910.0 * 60.0)], 600.0);
        assert_eq!(m[0], (Moment::Trough, 360.0 * 60.0));
        assert_eq!(m[2], (Moment::Peak, 1080.0 * 60.0));
        // The steepest rise of a cosine is a quarter day before its peak.
        assert!((m[1].1 - 720.0 * 60.0).abs() <= 60.0, "{:?}", m[1]);
    }

    #[test]
    fn a_candidate_is_weaker_when_every_parameter_is() {
        let p = |min, target, s: Option<u32>, l: Option<f64>| CandidatePolicy {
            min,
            target,
            scheduled_min: s,
            lead_s: l,
            scale_out_cooldown_s: None,
            scale_in_cooldown_s: None,
        };
        let strong = Cand {
            per: vec![p(10, 0.6, Some(80), Some(600.0))],
            cost: 0.0,
            node_target: 90.0,
        };
        let weak = Cand {
            per: vec![p(9, 0.65, Some(80), Some(540.0))],
            cost: 0.0,
            node_target: 90.0,
        };
        assert!(weak.weaker_than(&strong));
        assert!(!strong.weaker_than(&weak));
        let no_schedule = Cand {
            per: vec![p(10, 0.6, None, None)],
            cost: 0.0,
            node_target: 90.0,
        };
        assert!(no_schedule.weaker_than(&strong));
        // No spare room is weaker than some.
        let full = Cand {
            node_target: 100.0,
            ..strong.clone()
        };
        assert!(full.weaker_than(&strong));
        assert!(!strong.weaker_than(&full));
    }
}
