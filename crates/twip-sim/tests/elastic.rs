//! Elastic capacity: the semantics, checked against times computed by hand.
//!
//! Conventions of the scenarios below: periods are 60 s and aligned on
//! scenario time zero, so the datapoint of the period [600 s, 660 s) is
//! judged at 660 s; a replica placed at `t` is healthy at
//! `t + start_delay + health_check.interval`.

mod common;

use std::path::Path;

use common::c5_large;
use twip_model::Scenario;
use twip_sim::{analytic, simulate, Cause, Elasticity, Options, ReplicaState, SimReport};

fn scenario(toml: &str) -> Scenario {
    Scenario::parse(toml, Path::new("elastic.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: &Scenario, opts: Options) -> SimReport {
    simulate(s, &opts).unwrap_or_else(|e| panic!("{e}"))
}

fn elastic(r: &SimReport) -> &Elasticity {
    r.elastic.as_ref().expect("an elastic report")
}

/// When replica `k` of `svc` entered `state`, in order.
fn entered(e: &Elasticity, svc: &str, k: u32, state: ReplicaState) -> Vec<f64> {
    e.replicas
        .iter()
        .filter(|c| c.service == svc && c.replica == k && c.state == state)
        .map(|c| c.at_s)
        .collect()
}

/// One tier: 2 replicas of 1 worker, 100 ms exponential, 8 requests/s
/// (40 % busy), tripled from 10 min on.
fn step_scenario(extra_service: &str, extra: &str) -> Scenario {
    scenario(&format!(
        r#"
name = "step"
duration = "30m"
seed = 11

[[service]]
name = "app"
replicas = 2
workers = 1
service_time = {{ dist = "exponential", mean_ms = 100 }}
health_check = {{ interval = "5s", failures = 2 }}
start_delay = "30s"
{extra_service}

[traffic]
entry = "app"
rps = 8
[[traffic.spike]]
at = "10m"
duration = "20m"
multiplier = 3
{extra}
"#
    ))
}

const CPU_POLICY: &str = r#"
[service.autoscaling]
min = 2
max = 20
metric = "cpu"
target = 0.5
"#;

#[test]
fn a_step_increase_scales_out_at_the_end_of_the_third_period_and_serves_after_the_start_delay() {
    let s = step_scenario(CPU_POLICY, "");
    let r = run(&s, Options::default());
    let e = elastic(&r);
    let first = e
        .events
        .iter()
        .find(|x| matches!(x.cause, Cause::ScaleOut { .. }))
        .expect("a scale-out");
    // Periods [600, 660), [660, 720), [720, 780) above target: judged at 780.
    assert_eq!(first.at_s, 780.0, "first scale-out: {first:?}");
    assert_eq!(first.service.as_deref(), Some("app"));
    assert_eq!(first.from, 2);
    assert!(first.to >= 3, "{first:?}");
    // Nothing scaled before the spike's third period.
    assert!(e.events.iter().all(|x| x.at_s >= 780.0), "{:?}", e.events);
    // The new replica: placed at 780 s, healthy at 780 + 30 + 5 = 815 s.
    assert_eq!(entered(e, "app", 2, ReplicaState::Starting)[0], 780.0);
    assert_eq!(entered(e, "app", 2, ReplicaState::InService)[0], 815.0);
    // No replica is ever in rotation before it is healthy.
    for c in e
        .replicas
        .iter()
        .filter(|c| c.state == ReplicaState::InService)
    {
        let started = e
            .replicas
            .iter()
            .filter(|x| {
                x.service == c.service
                    && x.replica == c.replica
                    && x.state == ReplicaState::Starting
                    && x.at_s <= c.at_s
            })
            .map(|x| x.at_s)
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(
            c.at_s,
            started + 35.0,
            "replica {} healthy too early",
            c.replica
        );
    }
    // The count stays within [min, max].
    let app = &e.services["app"];
    assert!(app.desired.iter().all(|&d| (2..=20).contains(&d)));
    assert!(*app.desired.last().expect("series") > 2);
}

#[test]
fn the_same_seed_gives_the_same_timeline() {
    let s = step_scenario(CPU_POLICY, "");
    let a = run(&s, Options::default());
    let b = run(&s, Options::default());
    assert_eq!(elastic(&a).events, elastic(&b).events);
    assert_eq!(elastic(&a).replicas, elastic(&b).replicas);
    assert_eq!(a.latency_ms.p99, b.latency_ms.p99);
}

#[test]
fn scheduled_actions_fire_at_their_time_and_the_count_stays_within_the_bounds() {
    // 14:00 UTC at time zero: the daily action at 14:25 fires at 1500 s.
    let s = scenario(
        r#"
name = "schedule"
duration = "40m"

[[service]]
name = "app"
replicas = 2
workers = 4
service_time = { dist = "exponential", mean_ms = 50 }

[service.autoscaling]
min = 2
max = 10
metric = "cpu"
target = 0.7
[[service.schedule]]
at = "10m30s"
min = 6
[[service.schedule]]
daily = "14:25"
max = 3

[traffic]
entry = "app"
rps = 10
start_hour_utc = 14
"#,
    );
    let r = run(&s, Options::default());
    let e = elastic(&r);
    let sched: Vec<_> = e
        .events
        .iter()
        .filter(|x| matches!(x.cause, Cause::Schedule { .. }))
        .collect();
    assert_eq!(sched.len(), 2, "{:?}", e.events);
    assert_eq!((sched[0].at_s, sched[0].from, sched[0].to), (630.0, 2, 6));
    // max = 3 moves min down with it and the count follows.
    assert_eq!((sched[1].at_s, sched[1].from, sched[1].to), (1500.0, 6, 3));
    // Low load (12 % busy) never scales in below the bound in effect.
    for x in &e.events {
        let (lo, hi) = if x.at_s < 630.0 {
            (2, 10)
        } else if x.at_s < 1500.0 {
            (6, 10)
        } else {
            (3, 3)
        };
        assert!((lo..=hi).contains(&x.to), "{x:?} outside [{lo}, {hi}]");
    }
    let starts = entered(e, "app", 5, ReplicaState::Starting);
    assert_eq!(starts, vec![630.0]);
}

#[test]
fn scale_in_waits_for_fifteen_periods_below_and_for_the_cooldowns() {
    // 24 requests/s on 100 ms: 2.4 busy workers, 0.48 of 5 replicas:
    // between the scale-in threshold (0.9 × 0.5 = 0.45) and the target, so
    // nothing moves. From 20 min on the load halves (0.24): periods
    // [1200, 1260) … [2040, 2100) are below, the first scale-in is judged
    // at 2100 s, to ceil(1.2 / 0.5) = 3. From 40 min on it drops to an
    // eighth (0.1 of 3): the alarm holds from 3300 s, but the 25-minute scale-in
    // cooldown keeps the count until 2100 + 1500 = 3600 s.
    let s = scenario(
        r#"
name = "drop"
duration = "70m"
seed = 5

[[service]]
name = "app"
replicas = 5
workers = 1
service_time = { dist = "exponential", mean_ms = 100 }
drain = "20s"

[service.autoscaling]
min = 1
max = 20
metric = "cpu"
target = 0.5
scale_in_cooldown = "25m"

[traffic]
entry = "app"
rps = 24
[[traffic.spike]]
at = "20m"
duration = "50m"
multiplier = 0.5
[[traffic.spike]]
at = "40m"
duration = "30m"
multiplier = 0.25
"#,
    );
    let r = run(&s, Options::default());
    let e = elastic(&r);
    let ins: Vec<_> = e
        .events
        .iter()
        .filter(|x| matches!(x.cause, Cause::ScaleIn { .. }))
        .collect();
    assert_eq!(e.events.len(), 2, "{:?}", e.events);
    assert_eq!((ins[0].at_s, ins[0].from, ins[0].to), (2100.0, 5, 3));
    assert_eq!((ins[1].at_s, ins[1].from, ins[1].to), (3600.0, 3, 1));
    let mut last_out = f64::NEG_INFINITY;
    let mut last_in = f64::NEG_INFINITY;
    for x in &e.events {
        match x.cause {
            Cause::ScaleOut { .. } => last_out = x.at_s,
            Cause::ScaleIn {
                value, threshold, ..
            } => {
                assert!(value < threshold, "scale-in above its threshold: {x:?}");
                assert!(
                    x.at_s - last_out >= 300.0,
                    "within the scale-out cooldown: {x:?}"
                );
                assert!(
                    x.at_s - last_in >= 1500.0,
                    "within the scale-in cooldown: {x:?}"
                );
                assert!(x.to < x.from);
                last_in = x.at_s;
            }
            _ => {}
        }
    }
    // A removed replica leaves the rotation at once and stops within its drain.
    let drained: Vec<_> = e
        .replicas
        .iter()
        .filter(|c| c.state == ReplicaState::Draining)
        .collect();
    assert!(!drained.is_empty());
    for d in drained {
        let stop = e
            .replicas
            .iter()
            .find(|c| {
                c.service == d.service
                    && c.replica == d.replica
                    && c.at_s >= d.at_s
                    && c.state == ReplicaState::Stopped
            })
            .expect("a drained replica stops");
        assert!(stop.at_s - d.at_s <= 20.0, "{d:?} stopped at {}", stop.at_s);
    }
}

#[test]
fn on_a_plateau_after_scaling_the_mean_wait_is_erlang_c_for_the_count_reached() {
    // 26 requests/s × 100 ms = 2.6 busy workers = 1.3 replicas of 2
    // workers: the policy settles at ceil(1.3 / 0.5) = 3 replicas (at 3
    // the metric, 0.43, is below target but ceil(1.3 / 0.5) asks for no
    // fewer). With a random balancer each replica is an M/M/2 queue fed
    // λ / 3.
    let s = scenario(
        r#"
name = "plateau"
duration = "3h"
warmup = "30m"
seed = 21

[[service]]
name = "app"
replicas = 1
workers = 2
balancer = "random"
service_time = { dist = "exponential", mean_ms = 100 }

[service.autoscaling]
min = 1
max = 10
metric = "cpu"
target = 0.5

[traffic]
entry = "app"
rps = 26
"#,
    );
    let r = run(
        &s,
        Options {
            replications: 10,
            ..Options::default()
        },
    );
    let e = elastic(&r);
    assert!(
        e.events.iter().all(|x| x.at_s < 1800.0),
        "scaled during the plateau: {:?}",
        e.events
    );
    assert!(e.services["app"].desired.iter().all(|&d| d == 3));
    let theory = analytic::mmc_mean_wait(2, 26.0 / 3.0, 0.1) * 1e3;
    let measured = r.services["app"].mean_wait_ms;
    let hw = r.ci95.services["app"]
        .mean_wait_ms
        .expect("replications give an interval");
    // The 99.9 % interval (see accuracy.rs): 2.11 half-widths.
    assert!(
        (measured - theory).abs() <= 2.11 * hw,
        "mean wait {measured} ± {hw} ms, Erlang C {theory} ms"
    );
    assert!(hw < 0.1 * theory, "interval too wide: ±{hw}");
    // Utilisation is over the replicas that ran: 2.6 / 6 workers.
    let u = r.services["app"].utilization;
    assert!((u - 2.6 / 6.0).abs() < 0.01, "utilisation {u}");
}

#[test]
fn a_replica_waiting_for_a_node_starts_when_the_node_arrives_after_its_warmup() {
    // Two replicas of 1 vCPU fill one 2-vCPU node. The scale-out at 780 s
    // leaves the new replicas waiting; the provider asks for nodes in the
    // same look (780 s is a whole minute), and they join at 780 + 120 s.
    let s = step_scenario(
        &format!("cpu = 1\nmemory_mb = 1024\n{CPU_POLICY}"),
        r#"
[infrastructure]
zones = ["a", "b"]
[infrastructure.autoscaling]
min_nodes = 1
max_nodes = 10
instance_warmup = "2m"
"#,
    );
    let r = run(
        &s,
        Options {
            node_type: Some(c5_large()),
            ..Options::default()
        },
    );
    let e = elastic(&r);
    let nodes = e
        .events
        .iter()
        .find(|x| x.service.is_none())
        .expect("a node scale-out");
    assert_eq!(nodes.at_s, 780.0, "{nodes:?}");
    assert!(matches!(nodes.cause, Cause::Capacity { pending, .. } if pending >= 1));
    assert_eq!(entered(e, "app", 2, ReplicaState::Provisioning)[0], 780.0);
    assert_eq!(entered(e, "app", 2, ReplicaState::Starting)[0], 900.0);
    assert_eq!(entered(e, "app", 2, ReplicaState::InService)[0], 935.0);
    let n = e.nodes.as_ref().expect("node capacity");
    assert!(n.peak >= 2);
    // Node hours: one node all along, the new ones from 780 s on.
    assert!(n.node_hours > 0.5 && n.node_hours < f64::from(n.peak) * 0.5);
    assert!((n.cost_usd - n.node_hours * 0.085).abs() < 1e-9);
}

#[test]
fn a_failure_during_a_scale_out_is_replaced() {
    // Replica 0 dies at 790 s, in the middle of the scale-out that began
    // at 780 s. Detection takes 2 failed checks of 5 s: at 800 s it is out
    // of rotation and a replacement starts, healthy at 800 + 35 = 835 s.
    let s = step_scenario(
        CPU_POLICY,
        r#"
[[failure]]
kind = "replica"
target = "app/0"
at = "13m10s"
"#,
    );
    let r = run(&s, Options::default());
    let e = elastic(&r);
    assert_eq!(entered(e, "app", 0, ReplicaState::Failed), vec![790.0]);
    assert_eq!(entered(e, "app", 0, ReplicaState::Stopped), vec![800.0]);
    let replaced = e
        .events
        .iter()
        .find(|x| matches!(x.cause, Cause::Failure { .. }))
        .expect("a replacement");
    assert_eq!(replaced.at_s, 800.0);
    // The replacement takes the first free slot: replica 0 again.
    assert_eq!(entered(e, "app", 0, ReplicaState::Starting), vec![800.0]);
    assert_eq!(entered(e, "app", 0, ReplicaState::InService), vec![835.0]);
    assert_eq!(r.failures[0].replicas, 1);
    assert!(r.failures[0].errors > 0);
}

#[test]
fn a_lost_node_is_replaced_by_the_provider_and_its_replicas_elsewhere() {
    let s = step_scenario(
        &format!("cpu = 1\nmemory_mb = 1024\n{CPU_POLICY}"),
        r#"
[infrastructure]
zones = ["a", "b"]
[infrastructure.autoscaling]
min_nodes = 2
max_nodes = 10
instance_warmup = "2m"

[[failure]]
kind = "node"
at = "5m"
"#,
    );
    let r = run(
        &s,
        Options {
            node_type: Some(c5_large()),
            ..Options::default()
        },
    );
    let e = elastic(&r);
    // At 300 s the busiest node goes; the group launches another at once.
    let launch = e
        .events
        .iter()
        .find(|x| x.service.is_none())
        .expect("a replacement node");
    assert_eq!(launch.at_s, 300.0);
    assert!(matches!(launch.cause, Cause::Failure { failure: 0, .. }));
    // Detection at 310 s; the spare node (min_nodes = 2) takes the replicas.
    let replaced = e
        .events
        .iter()
        .find(|x| x.service.is_some() && matches!(x.cause, Cause::Failure { .. }))
        .expect("replicas replaced");
    assert_eq!(replaced.at_s, 310.0);
    let starting: Vec<_> = e
        .replicas
        .iter()
        .filter(|c| c.state == ReplicaState::Starting && c.at_s == 310.0)
        .collect();
    assert!(!starting.is_empty(), "{:?}", e.replicas);
}

#[test]
fn step_scaling_adds_by_its_step_and_within_the_cooldown_only_what_a_larger_step_asks() {
    // Step scaling on cpu: above 0.5 add 1, above 0.9 add 50 %. The step
    // at 780 s finds the 2 replicas saturated (cpu near 1): 2 + 1 = 3
    // (50 % of 2). Within the 5-minute cooldown a later alarm counts from
    // the 2 the cooldown began with, so it asks for no more than 3 again
    // and nothing changes until 1080 s.
    let s = step_scenario(
        r#"
[service.autoscaling]
min = 2
max = 20
metric = "cpu"
steps = [{ above = 0.5, add = 1 }, { above = 0.9, add = 50 }]
adjustment = "percent"
"#,
        "",
    );
    let r = run(&s, Options::default());
    let e = elastic(&r);
    let outs: Vec<_> = e
        .events
        .iter()
        .filter(|x| matches!(x.cause, Cause::ScaleOut { .. }))
        .collect();
    assert_eq!((outs[0].at_s, outs[0].from, outs[0].to), (780.0, 2, 3));
    assert!(
        matches!(outs[0].cause, Cause::ScaleOut { threshold, .. } if threshold == 0.9),
        "{:?}",
        outs[0]
    );
    assert!(outs.len() >= 2, "{:?}", e.events);
    assert!(outs[1].at_s >= 1080.0, "within the cooldown: {:?}", outs[1]);
}
