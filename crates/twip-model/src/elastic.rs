//! Elastic capacity: a service's autoscaling policy and scheduled actions,
//! its start and drain delays, and node capacity that follows the replicas
//! (an ECS capacity provider with managed scaling). The semantics are those
//! of AWS Application Auto Scaling on ECS services and of ECS capacity
//! providers on EC2 Auto Scaling groups; `scenarios/README.md` documents
//! every field with its unit and default.

use serde::{Deserialize, Serialize};

use crate::locate::FieldPath;
use crate::scenario::{Cx, R};

/// What a scaling policy measures, per period, over the replicas in service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Busy workers ÷ workers (the service's utilisation, 0–1).
    Cpu,
    /// Requests reaching the service per replica and minute (as
    /// `ALBRequestCountPerTarget`).
    RequestsPerReplica,
    /// Requests at the service (queued, in service or waiting on a call)
    /// per replica, averaged over the period.
    InFlightPerReplica,
}

/// How a step policy's `add` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Adjustment {
    /// Add `add` replicas (negative removes).
    Change,
    /// Add `add` percent of the current count (rounded away from zero, at
    /// least one).
    Percent,
    /// Set the count to `add`.
    Exact,
}

/// One step of a step-scaling policy: when the period's metric is above
/// `above` (or below `below`), adjust by `add`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Lower bound of the metric for a scale-out step.
    pub above: Option<f64>,
    /// Upper bound of the metric for a scale-in step.
    pub below: Option<f64>,
    /// The adjustment (see [`Adjustment`]).
    pub add: f64,
}

/// The decision rule of a policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    /// Target tracking: keep the metric at `target`; the count becomes
    /// `ceil(in service × metric ÷ target)`.
    TargetTracking {
        /// The metric's target value.
        target: f64,
    },
    /// Step scaling: the step whose bound the metric passes.
    Steps {
        /// The steps, scale-out (`above`) and scale-in (`below`).
        steps: Vec<Step>,
        /// How `add` is read.
        adjustment: Adjustment,
    },
}

/// "`datapoints` of the last `periods` periods": a CloudWatch alarm's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Alarm {
    /// Periods that must breach.
    pub datapoints: u32,
    /// Periods looked at.
    pub periods: u32,
}

/// A service's autoscaling policy (`[service.autoscaling]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Autoscaling {
    /// Fewest replicas the policy sets.
    pub min: u32,
    /// Most replicas the policy sets.
    pub max: u32,
    /// What is measured.
    pub metric: Metric,
    /// How the count is decided.
    pub rule: Rule,
    /// Seconds after a scale-out during which a scale-out only adds what
    /// the earlier one did not.
    pub scale_out_cooldown_s: f64,
    /// Seconds after any scaling activity during which no scale-in happens.
    pub scale_in_cooldown_s: f64,
    /// The metric's period in seconds (60, or 10/20/30 for high resolution).
    pub period_s: f64,
    /// When the scale-out alarm fires (target tracking: above target).
    pub scale_out_alarm: Alarm,
    /// When the scale-in alarm fires (target tracking: below
    /// `scale_in_ratio` × target).
    pub scale_in_alarm: Alarm,
    /// Fraction of the target under which target tracking scales in.
    pub scale_in_ratio: f64,
}

/// When a scheduled action fires.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum When {
    /// Once, at this many seconds of scenario time.
    At {
        /// Scenario time in seconds.
        at_s: f64,
    },
    /// Every day at this UTC time of day (seconds after midnight).
    Daily {
        /// Seconds after midnight UTC.
        utc_s: f64,
    },
}

/// A scheduled action (`[[service.schedule]]`): moves the policy's bounds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduledAction {
    /// When it fires.
    pub when: When,
    /// The new minimum, if it sets one.
    pub min: Option<u32>,
    /// The new maximum, if it sets one.
    pub max: Option<u32>,
}

/// Node capacity that follows the replicas (`[infrastructure.autoscaling]`),
/// as an ECS capacity provider with managed scaling.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeScaling {
    /// The instance type of the group's nodes (default: the first of
    /// `instance_types`, else the catalog's first).
    pub instance_type: Option<String>,
    /// Fewest nodes.
    pub min_nodes: u32,
    /// Most nodes.
    pub max_nodes: u32,
    /// Percent of node resources the provider aims to reserve (100: no spare).
    pub target_capacity: f64,
    /// Seconds from a node's request to its joining the cluster.
    pub instance_warmup_s: f64,
    /// Most nodes added or removed in one step.
    pub max_step: u32,
}

// ---------------------------------------------------------------- raw TOML shape

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAutoscaling {
    min: u32,
    max: u32,
    metric: Metric,
    target: Option<f64>,
    #[serde(default)]
    steps: Vec<RawStep>,
    adjustment: Option<Adjustment>,
    scale_out_cooldown: Option<String>,
    scale_in_cooldown: Option<String>,
    period: Option<String>,
    scale_out_alarm: Option<RawAlarm>,
    scale_in_alarm: Option<RawAlarm>,
    scale_in_ratio: Option<f64>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    above: Option<f64>,
    below: Option<f64>,
    add: f64,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlarm {
    datapoints: u32,
    periods: u32,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSchedule {
    at: Option<String>,
    daily: Option<String>,
    min: Option<u32>,
    max: Option<u32>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNodeScaling {
    instance_type: Option<String>,
    #[serde(default)]
    min_nodes: u32,
    max_nodes: u32,
    target_capacity: Option<f64>,
    instance_warmup: Option<String>,
    max_step: Option<u32>,
}

/// ECS's default cooldowns and Auto Scaling's default instance warm-up.
const DEFAULT_COOLDOWN_S: f64 = 300.0;

impl Cx<'_> {
    fn seconds_or(&self, f: &FieldPath, text: &Option<String>, default: f64) -> R<f64> {
        match text {
            Some(t) => self.duration(f, t),
            None => Ok(default),
        }
    }

    pub(crate) fn autoscaling(
        &self,
        f: &FieldPath,
        a: &RawAutoscaling,
        limit: u32,
    ) -> R<Autoscaling> {
        self.check(a.max >= 1, &f.key("max"), || "must be at least 1".into())?;
        self.at_most(a.max, limit, &f.key("max"))?;
        self.check(a.min <= a.max, &f.key("min"), || {
            format!("must be at most max ({}), got {}", a.max, a.min)
        })?;
        let rule =
            match (a.target, a.steps.is_empty()) {
                (Some(target), true) => {
                    self.check(target.is_finite() && target > 0.0, &f.key("target"), || {
                        format!("expected a positive number, got {target}")
                    })?;
                    if a.metric == Metric::Cpu {
                        self.check(target <= 1.0, &f.key("target"), || {
                            format!(
                            "cpu is a fraction of the workers: expected at most 1, got {target}"
                        )
                        })?;
                    }
                    self.check(a.adjustment.is_none(), &f.key("adjustment"), || {
                        "adjustment is for step scaling (steps = [...]), not target tracking".into()
                    })?;
                    Rule::TargetTracking { target }
                }
                (None, false) => {
                    let mut steps = Vec::new();
                    for (k, s) in a.steps.iter().enumerate() {
                        let fs = f.key("steps").index(k);
                        let bound = match (s.above, s.below) {
                            (Some(x), None) | (None, Some(x)) => x,
                            _ => return Err(self.err(
                                &fs,
                                "a step needs exactly one of above (scale out) or below (scale in)",
                            )),
                        };
                        self.check(bound.is_finite() && bound >= 0.0, &fs, || {
                            format!("expected a metric value >= 0, got {bound}")
                        })?;
                        self.check(s.add.is_finite(), &fs.key("add"), || {
                            format!("expected a number, got {}", s.add)
                        })?;
                        steps.push(Step {
                            above: s.above,
                            below: s.below,
                            add: s.add,
                        });
                    }
                    Rule::Steps {
                        steps,
                        adjustment: a.adjustment.unwrap_or(Adjustment::Change),
                    }
                }
                (Some(_), false) => {
                    return Err(self.err(
                        &f.key("steps"),
                        "give either target (target tracking) or steps (step scaling), not both",
                    ))
                }
                (None, true) => return Err(self.err(
                    f,
                    "needs target = NUMBER (target tracking) or steps = [{ above = …, add = … }] \
                     (step scaling)",
                )),
            };
        let period_s = self.seconds_or(&f.key("period"), &a.period, 60.0)?;
        self.check(
            [10.0, 20.0, 30.0].contains(&period_s)
                || (period_s >= 60.0 && period_s % 60.0 == 0.0 && period_s <= 86_400.0),
            &f.key("period"),
            || {
                format!(
                    "expected 10s, 20s or 30s (high resolution) or whole minutes up to a day, \
                     as CloudWatch, got {period_s} s"
                )
            },
        )?;
        let alarm = |key: &str, raw: &Option<RawAlarm>, default: u32| -> R<Alarm> {
            let Some(r) = raw else {
                return Ok(Alarm {
                    datapoints: default,
                    periods: default,
                });
            };
            let fa = f.key(key);
            self.check(r.periods >= 1, &fa.key("periods"), || {
                "must be at least 1".into()
            })?;
            self.at_most(r.periods, 1440, &fa.key("periods"))?;
            self.check(
                r.datapoints >= 1 && r.datapoints <= r.periods,
                &fa.key("datapoints"),
                || {
                    format!(
                        "expected 1 to periods ({}), got {}",
                        r.periods, r.datapoints
                    )
                },
            )?;
            Ok(Alarm {
                datapoints: r.datapoints,
                periods: r.periods,
            })
        };
        let scale_in_ratio = a.scale_in_ratio.unwrap_or(0.9);
        self.check(
            scale_in_ratio > 0.0 && scale_in_ratio <= 1.0,
            &f.key("scale_in_ratio"),
            || format!("expected a fraction in (0, 1], got {scale_in_ratio}"),
        )?;
        Ok(Autoscaling {
            min: a.min,
            max: a.max,
            metric: a.metric,
            rule,
            scale_out_cooldown_s: self.seconds_or(
                &f.key("scale_out_cooldown"),
                &a.scale_out_cooldown,
                DEFAULT_COOLDOWN_S,
            )?,
            scale_in_cooldown_s: self.seconds_or(
                &f.key("scale_in_cooldown"),
                &a.scale_in_cooldown,
                DEFAULT_COOLDOWN_S,
            )?,
            period_s,
            scale_out_alarm: alarm("scale_out_alarm", &a.scale_out_alarm, 3)?,
            scale_in_alarm: alarm("scale_in_alarm", &a.scale_in_alarm, 15)?,
            scale_in_ratio,
        })
    }

    pub(crate) fn schedule(
        &self,
        f: &FieldPath,
        s: &RawSchedule,
        duration_s: f64,
        limit: u32,
    ) -> R<ScheduledAction> {
        let when =
            match (&s.at, &s.daily) {
                (Some(at), None) => {
                    let at_s = self.duration(&f.key("at"), at)?;
                    self.check(at_s < duration_s, &f.key("at"), || {
                        "fires after the scenario ends".into()
                    })?;
                    When::At { at_s }
                }
                (None, Some(d)) => When::Daily {
                    utc_s: self.time_of_day(&f.key("daily"), d)?,
                },
                _ => return Err(self.err(
                    f,
                    "a scheduled action needs exactly one of at = \"14h45m\" (scenario time) or \
                     daily = \"14:45\" (UTC time of day)",
                )),
            };
        self.check(s.min.is_some() || s.max.is_some(), f, || {
            "a scheduled action sets min and/or max".into()
        })?;
        for (key, v) in [("min", s.min), ("max", s.max)] {
            if let Some(v) = v {
                self.at_most(v, limit, &f.key(key))?;
            }
        }
        if let (Some(lo), Some(hi)) = (s.min, s.max) {
            self.check(lo <= hi, &f.key("min"), || {
                format!("must be at most max ({hi}), got {lo}")
            })?;
        }
        Ok(ScheduledAction {
            when,
            min: s.min,
            max: s.max,
        })
    }

    /// `"HH:MM"` or `"HH:MM:SS"`, UTC, into seconds after midnight.
    fn time_of_day(&self, f: &FieldPath, text: &str) -> R<f64> {
        let bad = || {
            self.err(
                f,
                format!("expected a UTC time of day such as \"14:45\", got {text:?}"),
            )
        };
        let parts: Vec<&str> = text.trim().split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(bad());
        }
        let mut v = [0u32; 3];
        for (k, p) in parts.iter().enumerate() {
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            v[k] = p.parse().map_err(|_| bad())?;
        }
        if v[0] > 23 || v[1] > 59 || v[2] > 59 {
            return Err(bad());
        }
        Ok(f64::from(v[0] * 3600 + v[1] * 60 + v[2]))
    }

    pub(crate) fn node_scaling(&self, f: &FieldPath, n: &RawNodeScaling) -> R<NodeScaling> {
        self.check(n.max_nodes >= 1, &f.key("max_nodes"), || {
            "must be at least 1".into()
        })?;
        self.at_most(n.max_nodes, crate::limits::MAX_NODES, &f.key("max_nodes"))?;
        self.check(n.min_nodes <= n.max_nodes, &f.key("min_nodes"), || {
            format!(
                "must be at most max_nodes ({}), got {}",
                n.max_nodes, n.min_nodes
            )
        })?;
        let target_capacity = n.target_capacity.unwrap_or(100.0);
        self.check(
            target_capacity > 0.0 && target_capacity <= 100.0,
            &f.key("target_capacity"),
            || format!("expected a percent in (0, 100], got {target_capacity}"),
        )?;
        let max_step = n.max_step.unwrap_or(10_000);
        self.check(max_step >= 1, &f.key("max_step"), || {
            "must be at least 1".into()
        })?;
        Ok(NodeScaling {
            instance_type: n.instance_type.clone(),
            min_nodes: n.min_nodes,
            max_nodes: n.max_nodes,
            target_capacity,
            instance_warmup_s: self.seconds_or(
                &f.key("instance_warmup"),
                &n.instance_warmup,
                DEFAULT_COOLDOWN_S,
            )?,
            max_step,
        })
    }
}
