//! The elastic part of a plan file (`twip plan --elastic`): per service the
//! autoscaling policy and its scheduled actions, the node capacity
//! provider's settings, the expected cost of the day against the static
//! plan and the fluid lower bound, the worst-moment cases that were
//! simulated, the candidates that were rejected, and the simulated day's
//! timeline for the report. Fixed plans have no elastic part and keep
//! their format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::elastic::{Alarm, Autoscaling, Metric, NodeScaling, Rule, ScheduledAction, When};
use crate::plan::{Loss, RejectionKind};
use crate::Scenario;

/// The elastic part of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ElasticPlan {
    /// Per elastic service, its policy (services not listed keep the plan's
    /// fixed `replicas`).
    pub services: BTreeMap<String, ServicePolicy>,
    /// The capacity provider.
    pub nodes: NodePolicy,
    /// What the day costs, against the static plan and the lower bound.
    pub cost: ElasticCost,
    /// How each failure case was simulated.
    pub window: CaseWindow,
    /// Every simulated case and its verdict: the whole day, then each
    /// failure at each worst moment.
    pub cases: Vec<ElasticCase>,
    /// Cheaper candidates (by the screening estimate) and why each was
    /// rejected.
    pub rejected: Vec<ElasticRejected>,
    /// The simulated day, for the report.
    pub day: DayTimeline,
    /// Every scaling event of the simulated day, in time order.
    pub events: Vec<PlannedEvent>,
}

/// A service's autoscaling policy, as `[service.autoscaling]` and
/// `[[service.schedule]]` write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServicePolicy {
    /// The floor: the fewest replicas outside scheduled actions.
    pub min: u32,
    /// The ceiling.
    pub max: u32,
    /// The tracked metric.
    pub metric: Metric,
    /// The metric's target (for `cpu`, the fraction of busy workers).
    pub target: f64,
    /// Scale-out cooldown (s).
    pub scale_out_cooldown_s: f64,
    /// Scale-in cooldown (s).
    pub scale_in_cooldown_s: f64,
    /// The metric's period (s).
    pub period_s: f64,
    /// The scale-out alarm.
    pub scale_out_alarm: Alarm,
    /// The scale-in alarm.
    pub scale_in_alarm: Alarm,
    /// Scale in below this fraction of the target.
    pub scale_in_ratio: f64,
    /// Scheduled actions, in time order.
    pub schedule: Vec<PlannedAction>,
    /// The replicas at the start of the day (what a fixed applier such as
    /// Docker deploys).
    pub initial: u32,
}

impl ElasticPlan {
    /// Gives `scenario` this plan's policies, schedules and capacity
    /// provider (what `twip simulate --plan` replays).
    pub fn apply(&self, scenario: &mut Scenario) {
        apply(&self.services, &self.nodes, scenario);
    }
}

/// Gives `scenario` these policies (services not named keep theirs), their
/// schedules (replacing the scenario's), their initial counts, and this
/// capacity provider.
pub fn apply(
    services: &BTreeMap<String, ServicePolicy>,
    nodes: &NodePolicy,
    scenario: &mut Scenario,
) {
    for sv in &mut scenario.services {
        let Some(p) = services.get(&sv.name) else {
            continue;
        };
        sv.autoscaling = Some(Autoscaling {
            min: p.min,
            max: p.max,
            metric: p.metric,
            rule: Rule::TargetTracking { target: p.target },
            scale_out_cooldown_s: p.scale_out_cooldown_s,
            scale_in_cooldown_s: p.scale_in_cooldown_s,
            period_s: p.period_s,
            scale_out_alarm: p.scale_out_alarm,
            scale_in_alarm: p.scale_in_alarm,
            scale_in_ratio: p.scale_in_ratio,
        });
        sv.schedule = p
            .schedule
            .iter()
            .map(|a| ScheduledAction {
                when: When::At { at_s: a.at_s },
                min: a.min,
                max: a.max,
            })
            .collect();
        sv.replicas = p.initial;
    }
    scenario.infrastructure.autoscaling = Some(NodeScaling {
        instance_type: Some(nodes.instance_type.clone()),
        min_nodes: nodes.min_nodes,
        max_nodes: nodes.max_nodes,
        target_capacity: nodes.target_capacity,
        instance_warmup_s: nodes.instance_warmup_s,
        max_step: nodes.max_step,
    });
}

impl ServicePolicy {
    /// The searched parameters of this policy: floor, target, the floor
    /// raised ahead of the first spike with its lead, and the cooldowns.
    pub fn candidate(&self) -> CandidatePolicy {
        let before = self.schedule.iter().find_map(|a| match a.purpose {
            ActionPurpose::BeforeSpike { lead_s, .. } => Some((a.min, lead_s)),
            ActionPurpose::AfterSpike { .. } => None,
        });
        CandidatePolicy {
            min: self.min,
            target: self.target,
            scheduled_min: before.and_then(|b| b.0),
            lead_s: before.map(|b| b.1),
            scale_out_cooldown_s: Some(self.scale_out_cooldown_s),
            scale_in_cooldown_s: Some(self.scale_in_cooldown_s),
        }
    }
}

/// A scheduled action of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlannedAction {
    /// Scenario time (s).
    pub at_s: f64,
    /// UTC time of day, `HH:MM`.
    pub utc: String,
    /// New minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    /// New maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    /// Why it fires then.
    pub purpose: ActionPurpose,
}

/// Why a scheduled action fires when it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionPurpose {
    /// Raises the floor `lead_s` ahead of a known spike, so that nodes
    /// (`instance_warmup_s`) and replicas (`start_delay_s` and a health
    /// check) are in service when it starts.
    BeforeSpike {
        /// Index of the spike in the scenario's `[[traffic.spike]]`.
        spike: usize,
        /// When the spike starts (s).
        spike_at_s: f64,
        /// How far ahead the action fires (s).
        lead_s: f64,
        /// The node warm-up it covers (s).
        instance_warmup_s: f64,
        /// The replica start and first health check it covers (s).
        start_s: f64,
    },
    /// Gives the floor back after the spike.
    AfterSpike {
        /// Index of the spike.
        spike: usize,
    },
}

/// The capacity provider's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodePolicy {
    /// Instance type.
    pub instance_type: String,
    /// Its on-demand price per hour.
    pub usd_per_hour: f64,
    /// Fewest nodes.
    pub min_nodes: u32,
    /// Most nodes.
    pub max_nodes: u32,
    /// Percent of node resources reserved (100: no spare).
    pub target_capacity: f64,
    /// Seconds from a node's launch to its joining the cluster.
    pub instance_warmup_s: f64,
    /// Most nodes added or removed in one step.
    pub max_step: u32,
}

/// What the elastic plan costs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ElasticCost {
    /// Node-hours of the simulated day.
    pub node_hours: f64,
    /// Expected cost of the day: node-hours × price (USD).
    pub day_usd: f64,
    /// `day_usd` × 365 / 12.
    pub monthly_usd: f64,
    /// Capacity that follows demand exactly, with the failure headroom the
    /// SLO demands and no delay (USD per day).
    pub lower_bound_day_usd: f64,
    /// The lower bound per month.
    pub lower_bound_monthly_usd: f64,
    /// The fixed plan's cost per day (the baseline).
    pub static_day_usd: f64,
    /// The fixed plan's cost per month.
    pub static_monthly_usd: f64,
    /// Saved against the fixed plan, in percent.
    pub savings_pct: f64,
    /// Above the lower bound, in percent.
    pub above_lower_bound_pct: f64,
}

/// How the failure cases were simulated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseWindow {
    /// Simulated time before the loss (s), not measured: the controller's
    /// history and the counts settle.
    pub lead_s: f64,
    /// Measured time after the loss (s): the SLO is judged over it.
    pub after_loss_s: f64,
}

/// When a case's failure happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Moment {
    /// The whole day with the scenario's own failures.
    Day,
    /// The quietest minute: the fleet is at its floor.
    Trough,
    /// The steepest rise of the day: the reactive scale-out starts.
    Rise,
    /// The daily peak (spikes aside).
    Peak,
    /// The scheduled scale-out ahead of a spike starts.
    Schedule,
    /// During a spike.
    Spike,
    /// An unforeseen surge (`[[traffic.surprise]]`): no schedule ahead of
    /// it, nothing lost; the reactive policy alone absorbs it.
    Surprise,
}

impl Moment {
    /// A few words: `at the trough`.
    pub fn words(self) -> &'static str {
        match self {
            Moment::Day => "over the day",
            Moment::Trough => "at the trough",
            Moment::Rise => "at the steepest rise",
            Moment::Peak => "at the daily peak",
            Moment::Schedule => "as the scheduled scale-out starts",
            Moment::Spike => "during the spike",
            Moment::Surprise => "in an unforeseen surge",
        }
    }
}

/// One simulated case of an elastic plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ElasticCase {
    /// When.
    pub moment: Moment,
    /// When the loss happens (s of scenario time; the day: 0).
    pub at_s: f64,
    /// What is lost (`none` for the day, whose failures are the scenario's).
    pub loss: Loss,
    /// p99 of end-to-end latency over the measured window (ms).
    pub p99_ms: f64,
    /// Its 95 % half-width, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ci95_ms: Option<f64>,
    /// The error rate the SLO is checked against.
    pub error_rate: f64,
    /// Every objective met.
    pub met: bool,
    /// The unforeseen surge of a [`Moment::Surprise`] case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surge: Option<Surge>,
}

/// An unforeseen surge as a case simulated it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Surge {
    /// Rate multiplier.
    pub multiplier: f64,
    /// Length (s).
    pub duration_s: f64,
}

impl std::fmt::Display for Surge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a ×{} surge for {:.0} min",
            self.multiplier,
            self.duration_s / 60.0
        )
    }
}

impl ElasticCase {
    /// `zone us-east-1a lost at the daily peak (01:00 UTC)`.
    pub fn name(&self, start_hour_utc: f64) -> String {
        match (&self.moment, &self.loss) {
            (Moment::Day, _) => "the whole day".into(),
            (Moment::Surprise, _) => format!(
                "{} nobody scheduled ({})",
                self.surge.map_or("a surge".to_string(), |s| s.to_string()),
                utc(self.at_s, start_hour_utc)
            ),
            (m, Loss::None) => format!(
                "nothing lost {} ({})",
                m.words(),
                utc(self.at_s, start_hour_utc)
            ),
            (m, l) => format!(
                "{l} lost {} ({})",
                m.words(),
                utc(self.at_s, start_hour_utc)
            ),
        }
    }
}

/// `HH:MM` UTC of scenario time `at_s`.
pub fn utc(at_s: f64, start_hour_utc: f64) -> String {
    let m = ((start_hour_utc * 60.0 + at_s / 60.0).round() as i64).rem_euclid(24 * 60);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// A p99 at or above this (ms) is the screening model's overload: demand
/// above capacity, a queue that grows without bound.
pub const UNBOUNDED_P99_MS: f64 = 1e9;

/// A rejected elastic candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ElasticRejected {
    /// Per elastic service: floor, target, scheduled floor, lead (s).
    pub services: BTreeMap<String, CandidatePolicy>,
    /// The screening estimate of the day's cost (USD).
    pub day_usd: f64,
    /// Simulated (`true`) or rejected by the screening model.
    pub simulated: bool,
    /// Which objective.
    pub kind: RejectionKind,
    /// The case.
    pub moment: Moment,
    /// When the loss happened (s).
    pub at_s: f64,
    /// What was lost.
    pub loss: Loss,
    /// What was measured (p99 ms or error rate).
    pub value: f64,
    /// The objective.
    pub bound: f64,
    /// The surge of a [`Moment::Surprise`] case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surge: Option<Surge>,
    /// The p99's 95 % half-width, when the simulation gave one (a p99
    /// within the bound fails when its upper end is not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_ci95: Option<f64>,
    /// The capacity provider's target capacity (percent), when the search
    /// tried more than one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_capacity: Option<f64>,
}

/// The searched parameters of one service in a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CandidatePolicy {
    /// Floor.
    pub min: u32,
    /// Target.
    pub target: f64,
    /// Floor raised before each spike (`None`: no schedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_min: Option<u32>,
    /// How far ahead of the spike (s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_s: Option<f64>,
    /// Scale-out cooldown (s); `None`: the scenario's (the search keeps it;
    /// a plan's policy gives its own, so that a recheck replays it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_out_cooldown_s: Option<f64>,
    /// Scale-in cooldown (s); `None`: the scenario's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_in_cooldown_s: Option<f64>,
}

impl std::fmt::Display for CandidatePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "min {} target {:.2}", self.min, self.target)?;
        if let (Some(m), Some(l)) = (self.scheduled_min, self.lead_s) {
            write!(f, ", min {m} from {:.0} min before the spike", l / 60.0)?;
        }
        if let Some(c) = self.scale_out_cooldown_s {
            write!(f, ", scale-out cooldown {c:.0} s")?;
        }
        if let Some(c) = self.scale_in_cooldown_s {
            write!(f, ", scale-in cooldown {c:.0} s")?;
        }
        Ok(())
    }
}

impl ElasticRejected {
    /// `app: min 11 target 0.60; nodes at 100 % target capacity`.
    pub fn candidate(&self) -> String {
        let mut out = self
            .services
            .iter()
            .map(|(s, p)| format!("{s}: {p}"))
            .collect::<Vec<_>>()
            .join("; ");
        if let Some(t) = self.target_capacity {
            out.push_str(&format!("; nodes at {t:.0} % target capacity"));
        }
        out
    }

    /// Why, in a sentence.
    pub fn reason(&self, start_hour_utc: f64) -> String {
        let case = ElasticCase {
            moment: self.moment,
            at_s: self.at_s,
            loss: self.loss.clone(),
            p99_ms: 0.0,
            p99_ci95_ms: None,
            error_rate: 0.0,
            met: false,
            surge: self.surge,
        }
        .name(start_hour_utc);
        let how = if self.simulated {
            "simulated"
        } else {
            "screened"
        };
        match self.kind {
            RejectionKind::ErrorRate => format!(
                "{how}: error rate {:.5} over the objective {:.5} with {case}",
                self.value, self.bound
            ),
            // The screening model caps an overload's p99 at 1e9 ms.
            _ if self.value >= UNBOUNDED_P99_MS => format!(
                "{how}: demand above capacity (queues grow without bound) against the p99 \
                 objective {:.0} ms with {case}",
                self.bound
            ),
            _ => match self.value_ci95 {
                Some(ci) if self.value <= self.bound => format!(
                    "{how}: p99 {:.0} ± {ci:.0} ms, its 95 % upper end over the objective {:.0} \
                     ms, with {case}",
                    self.value, self.bound
                ),
                _ => format!(
                    "{how}: p99 {:.0} ms over the objective {:.0} ms with {case}",
                    self.value, self.bound
                ),
            },
        }
    }
}

/// The simulated day, on the report's interval grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DayTimeline {
    /// Start of each interval (s).
    pub start_s: Vec<f64>,
    /// Interval length (s).
    pub interval_s: f64,
    /// Arrivals at the entry (requests/s).
    pub demand_rps: Vec<f64>,
    /// Per elastic service: desired and in-service replicas.
    pub services: BTreeMap<String, ReplicaSeries>,
    /// Nodes in the cluster.
    pub nodes: Vec<u32>,
    /// Nodes the fluid lower bound needs.
    pub lower_bound_nodes: Vec<u32>,
    /// Nodes of the fixed plan.
    pub static_nodes: u32,
    /// p99 per interval (ms).
    pub p99_ms: Vec<f64>,
    /// Errors per interval.
    pub errors: Vec<f64>,
}

/// Replicas over the day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplicaSeries {
    /// The count the scheduler works towards.
    pub desired: Vec<u32>,
    /// In the balancer's rotation.
    pub in_service: Vec<u32>,
}

/// A scaling event of the simulated day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlannedEvent {
    /// When (s).
    pub at_s: f64,
    /// The service, or `None` for the nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Count before.
    pub from: u32,
    /// Count after.
    pub to: u32,
    /// Why: `scale_out`, `scale_in`, `schedule`, `failure`, `capacity`, `idle`.
    pub cause: String,
}
