//! Statistics at the edges (issue 21, item 8): latencies longer than an
//! hour, requests still in the system at the end, queues that grow without
//! bound.

use std::path::Path;

use twip_model::Scenario;
use twip_sim::{simulate, Options, SimReport, Unstable};

fn scenario(toml: &str) -> Scenario {
    Scenario::parse(toml, Path::new("edges.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: &Scenario) -> SimReport {
    simulate(s, &Options::default()).expect("simulation runs")
}

/// Every measured request is completed, an error, or still in the system.
fn assert_accounted(r: &SimReport) {
    assert_eq!(
        r.requests,
        r.completed + r.errors + r.unfinished.requests,
        "requests {} = completed {} + errors {} + unfinished {}",
        r.requests,
        r.completed,
        r.errors,
        r.unfinished.requests
    );
}

/// Mean and percentiles never above the max, percentiles in order.
fn assert_consistent(r: &SimReport) {
    let l = &r.latency_ms;
    assert!(l.mean <= l.max, "mean {} > max {}", l.mean, l.max);
    assert!(l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max, "{l:?}");
}

#[test]
fn latencies_over_an_hour_are_not_capped() {
    // 15 requests/s into a server of 10/s for 4 h: the queue grows by 5/s,
    // the request arriving at t waits t/2, the last ones to complete (they
    // arrived at 2h40m) took 80 minutes.
    let s = scenario(
        r#"
name = "overloaded"
duration = "4h"
warmup = "1s"
[[service]]
name = "app"
service_time = { dist = "exponential", mean_ms = 100 }
[traffic]
entry = "app"
rps = 15
[slo]
p99_ms = 1000
"#,
    );
    let r = run(&s);
    let l = &r.latency_ms;
    println!("{l:?} {:?}", r.unfinished);
    assert_consistent(&r);
    assert_accounted(&r);
    // A latency cap of an hour made p95 = p99 = max = 3,600,810 ms.
    assert!(l.max > 4_400_000.0, "max {} capped", l.max);
    assert!(l.p95 < l.p99 && l.p99 < l.max, "{l:?}");
    // A third of the measured requests never completed: they are reported
    // with their ages, and the figures they could change are lower bounds.
    let share = r.unfinished.requests as f64 / r.requests as f64;
    assert!((0.3..0.37).contains(&share), "unfinished share {share}");
    assert!(r.unfinished.oldest_ms > 4_400_000.0, "{:?}", r.unfinished);
    assert!(r.unfinished.mean_age_ms > 1_000_000.0, "{:?}", r.unfinished);
    let c = l.censored;
    assert!(c.p95 && c.p99 && c.mean && !c.p50, "{c:?}");
    assert!(!r.slo.met);
    assert!(
        r.slo.violations[0].starts_with("p99 more than"),
        "{:?}",
        r.slo.violations
    );
    // The queue stayed far below the bound: the run went to its end.
    assert!(r.unstable.is_none());
}

/// Peak resident memory of this process (Linux), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[test]
fn a_queue_that_grows_without_bound_stops_the_run_unstable() {
    // 20,000 requests/s into a server of 1,000/s with no queue limit, for a
    // day: 1.6 billion arrivals, never finished, tens of GB of queue.
    let s = scenario(
        r#"
name = "unbounded"
duration = "24h"
warmup = "10s"
[[service]]
name = "app"
service_time = { dist = "exponential", mean_ms = 1 }
[traffic]
entry = "app"
rps = 20000
"#,
    );
    let r = run(&s);
    println!(
        "{:?} {:?} {:?} peak RSS {:?} MB",
        r.unstable,
        r.unfinished,
        r.latency_ms,
        peak_rss_mb()
    );
    let u = r.unstable.expect("stopped as unstable");
    // Past the bound at 19,000 more requests a second: about 53 s in.
    assert!(u.in_system > Unstable::BOUND, "{u:?}");
    assert!(u.in_system < Unstable::BOUND + 100_000, "{u:?}");
    assert!((50.0..60.0).contains(&u.at_s), "{u:?}");
    assert_eq!(u.arrival_rps, 20_000.0);
    assert!((u.capacity_rps - 1_000.0).abs() < 1e-6, "{u:?}");
    assert_eq!(u.runs, 1);
    // As on the probe's overloaded day, no measured request completed (the
    // 190,000 queued during the warm-up are ahead of them); utilisation is
    // over the time simulated up to the stop.
    assert_eq!(r.completed, 0);
    assert!(
        r.services["app"].utilization > 0.95,
        "{:?}",
        r.services["app"]
    );
    // No objective, yet not met: an unstable system meets nothing.
    assert!(!r.slo.met);
    assert!(r.slo.violations.is_empty());
    // What stayed in the system is reported, not lost (the measured part:
    // arrivals after the warm-up).
    assert_accounted(&r);
    assert!(r.unfinished.requests > 800_000, "{:?}", r.unfinished);
    assert!(r.latency_ms.censored.p99 && r.latency_ms.censored.p50);
    // A lower bound has no confidence interval.
    assert_eq!(r.ci95.latency_p99_ms, None);
    assert_eq!(r.ci95.latency_mean_ms, None);
    assert_consistent(&r);
    if let Some(mb) = peak_rss_mb() {
        assert!(mb < 1_500.0, "peak RSS {mb} MB");
    }
}

#[test]
fn a_stable_run_accounts_for_every_request_and_censors_nothing() {
    let s = scenario(
        r#"
name = "mmc"
duration = "30m"
warmup = "1m"
[[service]]
name = "app"
workers = 4
service_time = { dist = "exponential", mean_ms = 100 }
[traffic]
entry = "app"
rps = 32
[slo]
p99_ms = 1000
"#,
    );
    for segments in [1, 3] {
        let r = simulate(
            &s,
            &Options {
                segments: Some(segments),
                ..Options::default()
            },
        )
        .expect("simulation runs");
        assert_accounted(&r);
        assert_consistent(&r);
        assert!(r.latency_ms.censored.is_none(), "{:?}", r.latency_ms);
        assert!(r.unfinished.requests < 30, "{:?}", r.unfinished);
        assert!(r.unstable.is_none());
        assert!(r.slo.met, "{:?}", r.slo);
    }
}
