//! A dead replica behind nginx (`[service] upstream`): a connection to it
//! costs `connect_timeout`, is retried on another replica
//! (`next_upstream`), and `max_fails` failures within `fail_timeout`
//! leave it out of the balancing for `fail_timeout`; the health checks
//! still take it out after `interval × failures`.
//!
//! The scenario: a front (1 µs, async) calls `app` (two replicas, 100 ms
//! constant, many workers: no queueing) at 20 requests/s; `app/0` dies at
//! 300 s and the health checks (5 s × 3) take it out at 315 s. A request
//! served without trouble takes 100.001 ms; one that first tried the dead
//! replica takes `connect_timeout` more. The requests app/0 is serving
//! when it dies (about one: 10/s × 100 ms) are lost with it unless nginx
//! retries them (a reset connection is an error of that server, retried
//! by `next_upstream`): `KILLED` bounds them.

use std::path::Path;

use twip_model::Scenario;
use twip_sim::{simulate, Options, SimReport};

/// At most this many requests are in service on app/0 when it dies.
const KILLED: u64 = 6;

fn run(app_replicas: u32, upstream: &str) -> SimReport {
    let toml = format!(
        r#"
name = "upstream"
duration = "10m"
warmup = "1m"
seed = 7

[[service]]
name = "front"
workers = 10000
async_calls = true
service_time = {{ dist = "constant", mean_ms = 0.001 }}
[[service.calls]]
to = "app"

[[service]]
name = "app"
replicas = {app_replicas}
workers = 1000
service_time = {{ dist = "constant", mean_ms = 100 }}
health_check = {{ interval = "5s", failures = 3 }}
{upstream}

[traffic]
entry = "front"
rps = 20

[[failure]]
kind = "replica"
target = "app/0"
at = "5m"
"#
    );
    let s = Scenario::parse(&toml, Path::new("upstream.toml")).unwrap_or_else(|e| panic!("{e}"));
    simulate(&s, &Options::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn without_the_table_a_dead_replica_fails_at_once_and_nothing_is_retried() {
    let r = run(2, "");
    let app = &r.services["app"];
    assert_eq!(app.connect_failures, 0);
    // Half the requests of the 15 s before detection reach the dead
    // replica: about 150, each an error.
    assert!(r.errors > 100 && r.errors < 200, "{}", r.errors);
    assert!(r.latency_ms.max < 101.0, "{}", r.latency_ms.max);
}

#[test]
fn a_retried_connection_is_served_by_the_other_replica_after_the_connect_timeout() {
    let r = run(2, r#"upstream = { connect_timeout = "2s", max_fails = 0 }"#);
    let app = &r.services["app"];
    // Never left out (max_fails = 0): every request sent to app/0 before
    // 315 s waits 2 s and is served by app/1, and those it was serving
    // when it died are served there too. No errors.
    assert_eq!(r.errors, 0);
    // There were such requests: the same run without retries (the same
    // until 300 s) loses them.
    let lost = run(
        2,
        r#"upstream = { next_upstream = false, connect_timeout = "2s", max_fails = 0 }"#,
    );
    let killed = lost.errors - lost.services["app"].connect_failures;
    assert!(killed >= 1, "{killed}");
    assert!(
        app.connect_failures > 100 && app.connect_failures < 200,
        "{}",
        app.connect_failures
    );
    // The slowest: 2 s + 100 ms + the front's 1 µs (3 significant digits).
    let max = r.latency_ms.max;
    assert!((max - 2100.001).abs() <= 2100.0 * 1e-3, "{max}");
}

#[test]
fn without_next_upstream_the_failed_connection_is_the_requests_error() {
    let r = run(
        2,
        r#"upstream = { next_upstream = false, connect_timeout = "2s", max_fails = 0 }"#,
    );
    let app = &r.services["app"];
    assert!(app.connect_failures > 100, "{}", app.connect_failures);
    let killed = r.errors - app.connect_failures;
    assert!(
        killed <= KILLED,
        "{} errors, {} connect failures",
        r.errors,
        app.connect_failures
    );
    assert_eq!(r.failures[0].errors, r.errors);
}

#[test]
fn a_failed_connection_leaves_the_replica_out_for_fail_timeout() {
    // max_fails = 1, fail_timeout = 60 s: the first failure leaves app/0
    // out until past 315 s, when the health checks have taken it out. The
    // first failure is a request it was serving at 300 s (reset, retried:
    // none wait), or else the first connection to fail (at t1 + 0.5 s, t1
    // the first request sent to app/0 after 300 s): only the requests sent
    // to it in [t1, t1 + 0.5 s) wait, about 20/s × 0.5 s ÷ 2 = 5, against
    // about 150 when it is never left out.
    let up = r#"upstream = { connect_timeout = "0.5s", max_fails = 1, fail_timeout = "60s" }"#;
    let r = run(2, up);
    let n = r.services["app"].connect_failures;
    assert_eq!(r.errors, 0);
    assert!(n <= 20, "{n}");
    let never = run(
        2,
        r#"upstream = { connect_timeout = "0.5s", max_fails = 0 }"#,
    );
    assert!(never.services["app"].connect_failures > 100);
    // With fail_timeout = 5 s it is tried again 5 s after its last
    // failure, by one request (the others skip it while that one
    // connects), which fails 0.5 s later: one more every 5.5 s, two or
    // three before 315 s. The runs are the same until the first of them.
    // (And at 300 s those it was serving are retried on app/1.)
    let back = run(
        2,
        r#"upstream = { connect_timeout = "0.5s", max_fails = 1, fail_timeout = "5s" }"#,
    );
    let m = back.services["app"].connect_failures;
    assert!(m > n && m <= n + 3, "{n} then {m}");
    assert_eq!(back.errors, 0);
}

#[test]
fn a_lone_replica_is_never_left_out() {
    // One replica: nothing to retry on, and nginx ignores max_fails for a
    // lone server. Every request of the 15 s before detection tries it,
    // waits 0.5 s and fails; none is refused for want of a replica.
    let r = run(
        1,
        r#"upstream = { connect_timeout = "0.5s", max_fails = 1, fail_timeout = "60s" }"#,
    );
    let app = &r.services["app"];
    let expected = 20.0 * 15.0;
    let n = app.connect_failures as f64;
    // Poisson: within 4 standard deviations.
    assert!((n - expected).abs() < 4.0 * expected.sqrt(), "{n}");
    let (failed, rejected) = (app.connect_failures, app.rejected);
    assert!(rejected > 0, "after 315 s no replica is in rotation");
    assert!(
        r.errors >= failed + rejected && r.errors <= failed + rejected + KILLED,
        "{} errors: {failed} failed connections, {rejected} refused",
        r.errors
    );
}
