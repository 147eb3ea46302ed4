//! The report's text for an elastic phase (`twip plan --elastic`): how
//! capacity follows the day, why the schedule starts when it starts, what
//! it costs against the fixed plan and the lower bound, the worst-moment
//! cases, and the day's scaling events.

use twip_model::elastic::Metric;
use twip_model::elastic_plan::{utc, ActionPurpose, ElasticRejected, Moment, ServicePolicy};
use twip_model::{Loss, RejectionKind};
use twip_sim::Cause;

use crate::charts::{Chart, Kind, Subject};
use crate::doc::Block;
use crate::model::{ElasticPhase, Phase};
use crate::text::{pct, span, thousands, usd};

/// `cpu at 65 %`, `requests per replica at 1,200 a minute`.
fn tracking(p: &ServicePolicy) -> String {
    match p.metric {
        Metric::Cpu => format!("busy workers at {:.0} %", p.target * 100.0),
        Metric::RequestsPerReplica => {
            format!("requests per replica at {} a minute", thousands(p.target))
        }
        Metric::InFlightPerReplica => {
            format!("requests in flight per replica at {:.1}", p.target)
        }
    }
}

/// `UTC HH:MM` of scenario time `at_s`.
fn clock(p: &Phase, at_s: f64) -> String {
    utc(at_s, p.traffic.start_hour_utc)
}

/// The elastic services' replica ranges and the fixed ones' counts:
/// `app 3–85, lb 2, static 2`.
pub fn replicas_line(p: &Phase, e: &ElasticPhase) -> String {
    p.replicas
        .iter()
        .map(|(s, n)| match e.plan.services.get(s) {
            Some(sp) => format!("{s} {}–{}", sp.min, sp.max),
            None => format!("{s} {n}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What was chosen: the policies, the provider, the schedule and why it
/// starts when it does, and the day's capacity chart.
pub fn chosen<'a>(
    b: &mut Vec<Block>,
    p: &'a Phase,
    e: &'a ElasticPhase,
    add: &mut impl FnMut(&mut Vec<Block>, Chart<'a>),
) {
    let ch = |k| Chart {
        subject: Subject::Phase(p, k),
    };
    let n = &e.plan.nodes;
    b.push(Block::Heading(3, "What was chosen and why".into()));
    b.push(Block::Para(format!(
        "An elastic plan: {} from an ECS capacity provider in {} ({}), between {} and {} nodes \
         (target capacity {:.0} %, a node joins the cluster {} after launch), running {}. \
         It is the cheapest candidate the planner found whose whole simulated day and every \
         worst-moment failure case meet the objectives (cases simulated: {}, below); cheaper \
         candidates rejected: {}. At the start of the day it runs {} ({}): what a fixed \
         applier such as Docker deploys.",
        n.instance_type,
        p.region,
        p.zones.join(", "),
        n.min_nodes,
        n.max_nodes,
        n.target_capacity,
        span(n.instance_warmup_s),
        replicas_line(p, e),
        e.plan.cases.len(),
        e.plan.rejected.len(),
        p.start_nodes(),
        crate::text::replicas_line(p),
    )));
    b.push(Block::Table(
        [
            "service",
            "replicas",
            "tracks",
            "scale out",
            "scale in",
            "cooldowns out / in",
        ]
        .map(String::from)
        .to_vec(),
        p.replicas
            .iter()
            .map(|(s, n)| match e.plan.services.get(s) {
                Some(sp) => vec![
                    s.clone(),
                    format!("{}–{}", sp.min, sp.max),
                    tracking(sp),
                    format!(
                        "{} of {} periods of {} above the target",
                        sp.scale_out_alarm.datapoints,
                        sp.scale_out_alarm.periods,
                        span(sp.period_s)
                    ),
                    format!(
                        "{} of {} periods below {:.0} % of the target",
                        sp.scale_in_alarm.datapoints,
                        sp.scale_in_alarm.periods,
                        sp.scale_in_ratio * 100.0
                    ),
                    format!(
                        "{} / {}",
                        span(sp.scale_out_cooldown_s),
                        span(sp.scale_in_cooldown_s)
                    ),
                ],
                None => vec![
                    s.clone(),
                    format!("{n} (fixed)"),
                    "—".into(),
                    "—".into(),
                    "—".into(),
                    "—".into(),
                ],
            })
            .collect(),
    ));
    // The provider's target capacity, when the search tried several.
    let mut tried: Vec<f64> = e
        .plan
        .rejected
        .iter()
        .filter_map(|r| r.target_capacity)
        .chain([n.target_capacity])
        .collect();
    tried.sort_by(f64::total_cmp);
    tried.dedup();
    if tried.len() > 1 {
        b.push(Block::Para(format!(
            "The capacity provider runs at {:.0} % target capacity: the planner tried {}; {}",
            n.target_capacity,
            tried
                .iter()
                .map(|t| format!("{t:.0} %"))
                .collect::<Vec<_>>()
                .join(" and "),
            if n.target_capacity >= 100.0 {
                "no spare nodes was the cheapest that still met every case (a replica that \
                 finds no room waits for a node to join)."
            } else {
                "the spare room it keeps is what lets replicas start without waiting for a node."
            }
        )));
    }
    schedule(b, p, e);
    add(b, ch(Kind::Elastic));
    add(b, ch(Kind::Placement));
    rejected(b, p, e);
}

/// What the schedule does, and why it starts when it starts.
fn schedule(b: &mut Vec<Block>, p: &Phase, e: &ElasticPhase) {
    let mut items = Vec::new();
    for (name, sp) in &e.plan.services {
        for a in &sp.schedule {
            let bounds = match (a.min, a.max) {
                (Some(lo), Some(hi)) => {
                    format!("the floor of {name} to {lo} and its ceiling to {hi}")
                }
                (Some(lo), None) => format!("the floor of {name} to {lo}"),
                (None, Some(hi)) => format!("the ceiling of {name} to {hi}"),
                (None, None) => format!("nothing of {name}"),
            };
            items.push(match &a.purpose {
                ActionPurpose::BeforeSpike {
                    spike_at_s,
                    lead_s,
                    instance_warmup_s,
                    start_s,
                    ..
                } => {
                    let mut t = format!(
                        "At {} UTC a scheduled action sets {bounds}, {} before the launch spike \
                         at {} UTC: a node takes {} to join the cluster and a replica {} to \
                         start and pass its first health check, so what the raised floor orders \
                         is in service when the spike starts. Without it the target-tracking \
                         policy would only react after {} periods above its target, then wait \
                         the same start-up with the spike already there.",
                        a.utc,
                        span(*lead_s),
                        clock(p, *spike_at_s),
                        span(*instance_warmup_s),
                        span(*start_s),
                        sp.scale_out_alarm.datapoints
                    );
                    if let Some(r) = later_start(e, name, *lead_s) {
                        t.push_str(&format!(
                            " Started later ({} ahead) it fails: {}.",
                            span(r.services[name].lead_s.unwrap_or(0.0)),
                            r.reason(p.traffic.start_hour_utc)
                        ));
                    }
                    t
                }
                ActionPurpose::AfterSpike { .. } => format!(
                    "At {} UTC, after the spike, a scheduled action gives back: it sets {bounds}, \
                     and the policy scales in as the demand allows.",
                    a.utc
                ),
            });
        }
    }
    if items.is_empty() {
        b.push(Block::Para(
            "No scheduled action: the target-tracking policy alone follows the day.".into(),
        ));
    } else {
        b.push(Block::List {
            ordered: false,
            items,
        });
    }
}

/// A rejected candidate like the plan's but with `service`'s schedule
/// started later than `lead_s` ahead of the spike: the nearest such.
fn later_start<'a>(e: &'a ElasticPhase, service: &str, lead_s: f64) -> Option<&'a ElasticRejected> {
    let chosen = e.plan.services.get(service)?.candidate();
    e.plan
        .rejected
        .iter()
        .filter(|r| {
            r.services.get(service).is_some_and(|c| {
                c.min == chosen.min
                    && c.target == chosen.target
                    && c.scheduled_min == chosen.scheduled_min
                    && c.lead_s.is_some_and(|l| l < lead_s)
            })
        })
        .max_by(|a, b| {
            let l = |r: &ElasticRejected| r.services[service].lead_s.unwrap_or(0.0);
            l(a).total_cmp(&l(b))
        })
}

/// The cheaper candidates nearest the plan, and why each failed.
fn rejected(b: &mut Vec<Block>, p: &Phase, e: &ElasticPhase) {
    let mut all: Vec<&ElasticRejected> = e.plan.rejected.iter().collect();
    all.sort_by(|a, b| b.day_usd.total_cmp(&a.day_usd));
    // Floors that fail alike (the same case, the same figure) are one line.
    let start = p.traffic.start_hour_utc;
    let mut near: Vec<&ElasticRejected> = Vec::new();
    for r in all {
        if near.len() == 5 {
            break;
        }
        if !near.iter().any(|n| n.reason(start) == r.reason(start)) {
            near.push(r);
        }
    }
    if near.is_empty() {
        return;
    }
    b.push(Block::Para(format!(
        "The {} cheaper candidates nearest the plan (by the screening estimate of the day's \
         cost) and why each fails; \"screened\" ones were rejected by the one-minute fluid model \
         of the controller, \"simulated\" ones by a simulated window:",
        near.len()
    )));
    b.push(Block::List {
        ordered: false,
        items: near
            .iter()
            .map(|r| {
                format!(
                    "{} (about ${:.2} a day): {}.",
                    r.candidate(),
                    r.day_usd,
                    r.reason(p.traffic.start_hour_utc)
                )
            })
            .collect(),
    });
}

/// What it costs, against the fixed plan and the lower bound; the cost
/// chart and the two plans side by side.
pub fn cost<'a>(
    b: &mut Vec<Block>,
    p: &'a Phase,
    e: &'a ElasticPhase,
    add: &mut impl FnMut(&mut Vec<Block>, Chart<'a>),
) {
    let c = &e.plan.cost;
    b.push(Block::Heading(3, "What it costs".into()));
    b.push(Block::Para(format!(
        "Expected cost of the day: {} ({} node-hours at {} per node-hour), {} per month. That is \
         {:.1} % less than the fixed plan ({} per month for {} nodes all day) and {:.1} % above \
         the fluid lower bound ({} per month: capacity that follows demand exactly, with the \
         headroom for the failure it must survive and no delay), on-demand list prices in \
         {}{}.",
        usd(c.day_usd),
        thousands(c.node_hours),
        usd(e.plan.nodes.usd_per_hour),
        usd(c.monthly_usd),
        c.savings_pct,
        usd(c.static_monthly_usd),
        e.static_nodes,
        c.above_lower_bound_pct,
        usd(c.lower_bound_monthly_usd),
        p.region,
        p.catalog.as_ref().map_or(String::new(), |(n, d)| format!(
            " from the {n} catalog, prices as of {d}"
        ))
    )));
    add(
        b,
        Chart {
            subject: Subject::Phase(p, Kind::ElasticCost),
        },
    );
    let worst = e.plan.cases.iter().map(|c| c.p99_ms).fold(0.0, f64::max);
    b.push(Block::Table(
        ["", "fixed plan", "elastic plan", "lower bound"]
            .map(String::from)
            .to_vec(),
        vec![
            vec![
                "nodes".into(),
                format!("{} all day", e.static_nodes),
                format!(
                    "{}–{} ({} at most in the day)",
                    e.plan.nodes.min_nodes, e.plan.nodes.max_nodes, e.peak_nodes
                ),
                format!(
                    "{}–{}",
                    e.lower_bound_nodes.iter().min().copied().unwrap_or(0),
                    e.lower_bound_nodes.iter().max().copied().unwrap_or(0)
                ),
            ],
            vec![
                "cost per day".into(),
                usd(c.static_day_usd),
                usd(c.day_usd),
                usd(c.lower_bound_day_usd),
            ],
            vec![
                "cost per month".into(),
                usd(c.static_monthly_usd),
                usd(c.monthly_usd),
                usd(c.lower_bound_monthly_usd),
            ],
            vec![
                "worst-case p99".into(),
                "in its own phase".into(),
                format!("{worst:.0} ms"),
                "—".into(),
            ],
        ],
    ));
}

/// The worst-moment cases.
pub fn cases(b: &mut Vec<Block>, p: &Phase, e: &ElasticPhase) {
    b.push(Block::Heading(3, "When a zone dies mid-scale-out".into()));
    let w = &e.plan.window;
    b.push(Block::Para(format!(
        "The whole day is simulated with the scenario's own failures; each failure case puts \
         the loss at a worst moment of the day: at the trough (the fleet at its floor), at the \
         steepest rise (as the reactive scale-out starts), at the daily peak, as the scheduled \
         scale-out starts and during the spike. A case is simulated from {} before the loss, \
         so the controller has its history, and the objectives are judged over the {} after \
         it, not diluted over the day.{}",
        span(w.lead_s),
        span(w.after_loss_s),
        if e.plan.cases.iter().any(|c| c.moment == Moment::Surprise) {
            " A surprise case is an unforeseen surge (the scenario's [[traffic.surprise]]) with \
             no scheduled action ahead of it and nothing lost: the reactive policy alone must \
             absorb it, judged the same way from the surge's start."
        } else {
            ""
        }
    )));
    b.push(Block::Table(
        ["case", "when (UTC)", "lost", "p99", "error rate", "met"]
            .map(String::from)
            .to_vec(),
        e.plan
            .cases
            .iter()
            .map(|c| {
                vec![
                    match c.moment {
                        Moment::Day => "the whole day".to_string(),
                        m => m.words().to_string(),
                    },
                    if c.moment == Moment::Day {
                        "all day".into()
                    } else {
                        clock(p, c.at_s)
                    },
                    match (&c.loss, c.surge) {
                        (Loss::None, _) if c.moment == Moment::Day => {
                            "the scenario's failures".to_string()
                        }
                        (Loss::None, Some(g)) => format!("nothing; {g}"),
                        (l, _) => l.to_string(),
                    },
                    match c.p99_ci95_ms {
                        Some(ci) => format!("{:.0} ± {ci:.0} ms", c.p99_ms),
                        None => format!("{:.0} ms", c.p99_ms),
                    },
                    pct(c.error_rate),
                    if c.met { "yes" } else { "no" }.into(),
                ]
            })
            .collect(),
    ));
    let near_miss = e
        .plan
        .rejected
        .iter()
        .filter(|r| r.simulated && r.kind == RejectionKind::P99)
        .count();
    match near_miss {
        0 => {}
        1 => b.push(Block::Para(
            "One cheaper candidate passed the screening and failed a simulated case (listed \
             above)."
                .into(),
        )),
        n => b.push(Block::Para(format!(
            "{n} cheaper candidates passed the screening and failed a simulated case; the \
             nearest are listed above."
        ))),
    }
}

/// The day's scaling events, as a table.
pub fn events(b: &mut Vec<Block>, p: &Phase, e: &ElasticPhase) {
    b.push(Block::Heading(
        3,
        "Scaling events of the simulated day".into(),
    ));
    if e.events.is_empty() {
        b.push(Block::Para("None: the counts never changed.".into()));
        return;
    }
    b.push(Block::Table(
        ["UTC", "what", "count", "why"].map(String::from).to_vec(),
        e.events
            .iter()
            .map(|ev| {
                vec![
                    clock(p, ev.at_s),
                    ev.service.clone().unwrap_or_else(|| "nodes".into()),
                    if ev.from == ev.to {
                        ev.to.to_string()
                    } else {
                        format!("{} → {}", ev.from, ev.to)
                    },
                    cause(&ev.cause),
                ]
            })
            .collect(),
    ));
}

/// Why a count changed, in words.
fn cause(c: &Cause) -> String {
    let metric = |m: &Metric, v: f64| match m {
        Metric::Cpu => format!("busy workers {:.1} %", v * 100.0),
        Metric::RequestsPerReplica => format!("{v:.0} requests per replica a minute"),
        Metric::InFlightPerReplica => format!("{v:.2} in flight per replica"),
    };
    match c {
        Cause::ScaleOut {
            metric: m,
            value,
            threshold,
        } => format!(
            "scale-out alarm: {} above {}",
            metric(m, *value),
            metric(m, *threshold)
        ),
        Cause::ScaleIn {
            metric: m,
            value,
            threshold,
        } => format!(
            "scale-in alarm: {} below {}",
            metric(m, *value),
            metric(m, *threshold)
        ),
        Cause::Schedule { min, max, .. } => match (min, max) {
            (Some(lo), Some(hi)) => format!("scheduled action: min {lo}, max {hi}"),
            (Some(lo), None) => format!("scheduled action: min {lo}"),
            (None, Some(hi)) => format!("scheduled action: max {hi}"),
            (None, None) => "scheduled action".into(),
        },
        Cause::Failure { what, .. } => format!("{what} failed: replaced"),
        Cause::Capacity {
            pending: 0,
            reservation_pct,
            target_pct,
        } => format!(
            "reservation {reservation_pct:.0} % above the target capacity {target_pct:.0} %: \
             spare room added"
        ),
        Cause::Capacity {
            pending,
            reservation_pct,
            target_pct,
        } => format!(
            "{pending} replicas waiting for room: reservation {reservation_pct:.0} % against \
             the target capacity {target_pct:.0} %"
        ),
        Cause::Idle { reservation_pct } => format!(
            "empty nodes removed after 15 min below the target (reservation \
             {reservation_pct:.0} %)"
        ),
    }
}

/// The scale-out steps from a fixed phase `a` to the elastic phase `b`.
pub fn steps(out: &mut Vec<Block>, a: &Phase, b: &Phase, e: &ElasticPhase) {
    out.push(Block::Heading(
        2,
        format!("Scale-out steps: {} → {}", a.name, b.name),
    ));
    let n = &e.plan.nodes;
    let mut items = vec![format!(
        "Create the capacity provider: an Auto Scaling group of {} in {} ({}) with managed \
         scaling between {} and {} nodes at a target capacity of {:.0} %, started at {} nodes.",
        n.instance_type,
        b.region,
        b.zones.join(", "),
        n.min_nodes,
        n.max_nodes,
        n.target_capacity,
        b.nodes.len()
    )];
    for (name, sp) in &e.plan.services {
        items.push(format!(
            "Give {name} its scaling policy: between {} and {} replicas, tracking {}, cooldowns \
             {} out and {} in; start it at {} replicas.",
            sp.min,
            sp.max,
            tracking(sp),
            span(sp.scale_out_cooldown_s),
            span(sp.scale_in_cooldown_s),
            sp.initial
        ));
        for a in &sp.schedule {
            items.push(format!(
                "Schedule, daily at {} UTC: {}{}.",
                a.utc,
                [
                    a.min.map(|m| format!("min {m}")),
                    a.max.map(|m| format!("max {m}"))
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
                match a.purpose {
                    ActionPurpose::BeforeSpike { lead_s, .. } => {
                        format!(" ({} ahead of the launch spike)", span(lead_s))
                    }
                    ActionPurpose::AfterSpike { .. } => " (after the spike)".into(),
                }
            ));
        }
    }
    items.push(format!(
        "Check the result before moving traffic: `twip simulate {} --plan PLAN` replays the day \
         with the policies, and `twip apply --target docker` deploys the start-of-day counts \
         (Docker has no autoscaler).",
        b.scenario_file.display()
    ));
    items.push(format!(
        "Retire the fixed fleet's {} nodes as the provider takes over: {} per month instead of \
         {} ({:.0} % saved).",
        a.nodes.len(),
        usd(e.plan.cost.monthly_usd),
        usd(a.monthly_usd),
        100.0 * (1.0 - e.plan.cost.monthly_usd / a.monthly_usd.max(1e-9))
    ));
    out.push(Block::List {
        ordered: true,
        items,
    });
}
