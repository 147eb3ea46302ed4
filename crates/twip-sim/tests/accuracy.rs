//! The simulator against queueing theory.
//!
//! Every check uses a fixed seed and ten independent replications. The
//! report's `ci95` is the 95 % t-interval half-width (t(0.975, 9) = 2.262);
//! a check passes when theory lies inside the 99.9 % interval, i.e. within
//! `Z999 = t(0.9995, 9) / t(0.975, 9) = 4.781 / 2.262 = 2.11` half-widths,
//! and the interval is narrow enough (a bound per check) to mean something.

use std::path::Path;

use twip_model::{Dist, Scenario};
use twip_sim::{analytic, simulate, Options, SimReport};

const Z999: f64 = 4.781 / 2.262;
const REPS: u32 = 10;

fn scenario(toml: &str) -> Scenario {
    Scenario::parse(toml, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: &Scenario, seed: u64) -> SimReport {
    run_segments(s, seed, None)
}

fn run_segments(s: &Scenario, seed: u64, segments: Option<u32>) -> SimReport {
    let opts = Options {
        seed: Some(seed),
        replications: REPS,
        segments,
        ..Options::default()
    };
    simulate(s, &opts).expect("simulation runs")
}

/// Asserts theory within the 99.9 % interval and the 95 % half-width below `max_rel` of theory.
fn assert_close(what: &str, measured: f64, half_width: f64, theory: f64, max_rel: f64) {
    println!("{what}: measured {measured:.5} ± {half_width:.5}, theory {theory:.5}");
    assert!(
        (measured - theory).abs() <= Z999 * half_width,
        "{what}: measured {measured} is {:.2} half-widths ({half_width}) from theory {theory}",
        (measured - theory).abs() / half_width
    );
    assert!(
        half_width <= max_rel * theory,
        "{what}: interval ±{half_width} too wide to test {theory}"
    );
}

fn single_queue(
    workers: u32,
    lambda: f64,
    service: &str,
    duration_s: u32,
    extra: &str,
) -> Scenario {
    scenario(&format!(
        r#"
name = "q"
duration = "{duration_s}s"
warmup = "500s"
[[service]]
name = "app"
workers = {workers}
service_time = {service}
{extra}
[traffic]
entry = "app"
rps = {lambda}
"#
    ))
}

fn check_mmc(c: u32, rho: f64, duration_s: u32, max_rel: f64) {
    check_mmc_segments(c, rho, duration_s, max_rel, None)
}

fn check_mmc_segments(c: u32, rho: f64, duration_s: u32, max_rel: f64, segments: Option<u32>) {
    let mean_s = 0.010;
    let lambda = rho * c as f64 / mean_s;
    let s = single_queue(
        c,
        lambda,
        "{ dist = \"exponential\", mean_ms = 10 }",
        duration_s,
        "",
    );
    let r = run_segments(&s, 42 + c as u64, segments);
    let theory = analytic::mmc_mean_wait(c, lambda, mean_s) * 1e3;
    let app = &r.services["app"];
    assert_close(
        &format!("M/M/{c} rho={rho} mean wait ms"),
        app.mean_wait_ms,
        r.ci95.services["app"].mean_wait_ms.unwrap(),
        theory,
        max_rel,
    );
    assert_close(
        &format!("M/M/{c} rho={rho} utilisation"),
        app.utilization,
        r.ci95.services["app"].utilization.unwrap(),
        rho,
        0.01,
    );
}

#[test]
fn mm1_mean_wait_matches_erlang_c() {
    check_mmc(1, 0.5, 2_000, 0.03);
    check_mmc(1, 0.8, 4_000, 0.04);
    check_mmc(1, 0.95, 20_000, 0.06);
}

#[test]
fn mmc_mean_wait_matches_erlang_c() {
    check_mmc(4, 0.5, 2_000, 0.04);
    check_mmc(4, 0.8, 3_000, 0.04);
    check_mmc(4, 0.95, 10_000, 0.06);
}

fn check_mg1(service: &str, dist: Dist, rho: f64, duration_s: u32, seed: u64) {
    let mean_s = dist.mean_ms() / 1e3;
    let lambda = rho / mean_s;
    let s = single_queue(1, lambda, service, duration_s, "");
    let r = run(&s, seed);
    let theory = analytic::mg1_mean_wait(lambda, mean_s, dist.second_moment_ms2() / 1e6) * 1e3;
    assert_close(
        &format!("M/G/1 {service} rho={rho} mean wait ms"),
        r.services["app"].mean_wait_ms,
        r.ci95.services["app"].mean_wait_ms.unwrap(),
        theory,
        0.05,
    );
}

#[test]
fn md1_and_mg1_match_pollaczek_khinchine() {
    check_mg1(
        "{ dist = \"constant\", mean_ms = 10 }",
        Dist::constant(10.0).unwrap(),
        0.8,
        3_000,
        7,
    );
    check_mg1(
        "{ dist = \"lognormal\", mean_ms = 10, p99_ms = 60 }",
        Dist::lognormal(10.0, 60.0).unwrap(),
        0.7,
        4_000,
        8,
    );
    check_mg1(
        "{ dist = \"gamma\", mean_ms = 10, cv = 0.5 }",
        Dist::gamma_cv(10.0, 0.5).unwrap(),
        0.85,
        4_000,
        9,
    );
}

#[test]
fn queue_limit_rejections_match_mmck_blocking() {
    // c = 2 workers, 3 waiting places: K = 5; offered load 1.8 erlangs.
    let (c, limit, lambda, mean_s) = (2, 3, 180.0, 0.010);
    let s = single_queue(
        c,
        lambda,
        "{ dist = \"exponential\", mean_ms = 10 }",
        1_500,
        &format!("queue_limit = {limit}"),
    );
    let r = run(&s, 11);
    let theory = analytic::mmck_blocking(c, c + limit, lambda, mean_s);
    assert_close(
        "M/M/2/5 blocking",
        r.error_rate,
        r.ci95.error_rate.unwrap(),
        theory,
        0.03,
    );
    assert_eq!(r.errors, r.services["app"].rejected);
}

#[test]
fn littles_law_holds_on_a_two_tier_network() {
    let s = scenario(
        r#"
name = "two-tier"
duration = "2000s"
warmup = "200s"
[[service]]
name = "front"
workers = 3
service_time = { dist = "exponential", mean_ms = 5 }
[[service.calls]]
to = "back"
probability = 0.5
[[service]]
name = "back"
replicas = 2
workers = 2
balancer = "least_connections"
service_time = { dist = "lognormal", mean_ms = 20, p99_ms = 120 }
[traffic]
entry = "front"
rps = 150
"#,
    );
    let r = run(&s, 5);
    let little = r.throughput_rps * r.latency_ms.mean / 1e3;
    println!("L = {:.4}, lambda W = {little:.4}", r.mean_in_system);
    assert!(r.errors == 0);
    // Little's law is a sample-path identity: only requests in flight at the
    // window's edges separate the two sides.
    assert!(
        (r.mean_in_system - little).abs() / little < 0.005,
        "L {} vs lambda W {little}",
        r.mean_in_system
    );
    // Not trivial: the front holds its worker during the call, so queues form.
    assert!(r.services["front"].mean_wait_ms > 1.0);
}

#[test]
fn replica_failure_errors_only_until_detection() {
    // Two replicas, round robin; replica 0 dies at 500 s for 60 s. Health
    // checks every second, three failures: the balancer notices at 503 s.
    let s = scenario(
        r#"
name = "fail"
duration = "1000s"
[[service]]
name = "app"
replicas = 2
workers = 8
service_time = { dist = "exponential", mean_ms = 10 }
health_check = { interval = "1s", failures = 3 }
[traffic]
entry = "app"
rps = 100
[[failure]]
kind = "replica"
target = "app/0"
at = "500s"
duration = "60s"
"#,
    );
    let r = simulate(
        &s,
        &Options {
            seed: Some(3),
            timeline: true,
            intervals: 1000,
            ..Options::default()
        },
    )
    .unwrap();
    let t = r.timeline.as_ref().unwrap();
    for (k, e) in t.errors.iter().enumerate() {
        let at = t.start_s[k];
        if !(500.0..503.0).contains(&at) {
            assert_eq!(*e, 0.0, "errors at {at} s, outside the detection window");
        }
    }
    // Half of the ~300 arrivals in those 3 s go to the dead replica
    // (plus the few in service when it died): 150 ± 4 sd (sd ≈ √300 / 2).
    println!("errors {}", r.errors);
    assert!((115..=185).contains(&r.errors), "errors {}", r.errors);
    assert_eq!(r.failures[0].what, "replica app/0");
    // After recovery the replica serves again: the rate of errors is zero and
    // both replicas' capacity is used (no queueing on a single replica).
    assert!(r.services["app"].mean_wait_ms < 1.0);
}

#[test]
fn same_seed_same_report() {
    let s = scenario(&std::fs::read_to_string("../../scenarios/examples/mmc.toml").unwrap());
    let opts = Options {
        replications: 3,
        ..Options::default()
    };
    let mut a = serde_json::to_value(simulate(&s, &opts).unwrap()).unwrap();
    let mut b = serde_json::to_value(simulate(&s, &opts).unwrap()).unwrap();
    a["wall_s"] = 0.into();
    b["wall_s"] = 0.into();
    assert_eq!(a, b);
    let c = simulate(
        &s,
        &Options {
            seed: Some(8),
            ..opts
        },
    )
    .unwrap();
    assert_ne!(serde_json::to_value(c).unwrap()["requests"], a["requests"]);
}

#[test]
fn time_parallel_segments_agree_with_theory() {
    // Each replication cut into five segments with their own warm-ups.
    check_mmc_segments(4, 0.9, 6_000, 0.05, Some(5));
    let s = single_queue(
        2,
        160.0,
        "{ dist = \"exponential\", mean_ms = 10 }",
        3_000,
        "",
    );
    let r = run_segments(&s, 12, Some(3));
    // Every arrival of the measured window is counted once: 160/s for 2500 s.
    let expected = 160.0 * 2_500.0 * REPS as f64;
    assert!(
        (r.requests as f64 - expected).abs() < 5.0 * expected.sqrt(),
        "{} vs {expected}",
        r.requests
    );
    let little = r.throughput_rps * r.latency_ms.mean / 1e3;
    assert!(
        (r.mean_in_system - little).abs() / little < 0.005,
        "L {} vs lambda W {little}",
        r.mean_in_system
    );
}
