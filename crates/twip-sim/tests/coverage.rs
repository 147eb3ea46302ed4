//! Coverage of the p99's 95 % confidence interval from a single replication.
//!
//! Many seeds of a short M/M/c run, whose true sojourn-time p99 is known in
//! closed form ([`analytic::mmc_sojourn_quantile`]): the share of runs whose
//! `p99 ± ci95` holds it must be at least 90 %. With ten batch p99s and a
//! t-interval it was 73 % on 20-minute runs (issue 21, item 8). The fast test
//! is a few seconds in a debug build; the `#[ignore]`d one (in `.ci/run`'s
//! heavy section) covers more rates and seeds in release.

use std::path::Path;

use rayon::prelude::*;
use twip_model::Scenario;
use twip_sim::{analytic, simulate, Options};

struct Coverage {
    runs: usize,
    covered: usize,
    /// Mean half-width relative to the true p99.
    mean_rel_half_width: f64,
    /// Runs whose interval was widened for want of tail samples.
    widened: usize,
}

fn coverage(c: u32, rho: f64, mean_ms: f64, duration_s: u32, seeds: u64) -> Coverage {
    let lambda = rho * c as f64 / (mean_ms / 1e3);
    let s = Scenario::parse(
        &format!(
            r#"
name = "cov"
duration = "{duration_s}s"
warmup = "100s"
[[service]]
name = "app"
workers = {c}
service_time = {{ dist = "exponential", mean_ms = {mean_ms} }}
[traffic]
entry = "app"
rps = {lambda}
"#
        ),
        Path::new("cov.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let truth = analytic::mmc_sojourn_quantile(c, lambda, mean_ms / 1e3, 0.99) * 1e3;
    let results: Vec<(bool, f64, bool, f64)> = (0..seeds)
        .into_par_iter()
        .map(|seed| {
            let opts = Options {
                seed: Some(1000 + seed),
                ..Options::default()
            };
            let r = simulate(&s, &opts).expect("simulation runs");
            let hw = r.ci95.latency_p99_ms.expect("a p99 interval");
            (
                (r.latency_ms.p99 - truth).abs() <= hw,
                hw / truth,
                r.ci95.latency_p99_widened,
                r.latency_ms.p99,
            )
        })
        .collect();
    let m = results.iter().map(|x| x.3).sum::<f64>() / results.len() as f64;
    let sd = (results.iter().map(|x| (x.3 - m).powi(2)).sum::<f64>() / (results.len() - 1) as f64)
        .sqrt();
    println!(
        "p99 estimates: mean {:.1} % of truth, sd {:.1} % (1.96 sd {:.1} %)",
        100.0 * m / truth,
        100.0 * sd / truth,
        196.0 * sd / truth
    );
    let mut hws: Vec<f64> = results.iter().map(|x| x.1).collect();
    hws.sort_by(f64::total_cmp);
    println!(
        "half-widths: p10 {:.3} median {:.3} p90 {:.3}",
        hws[hws.len() / 10],
        hws[hws.len() / 2],
        hws[hws.len() * 9 / 10]
    );
    let cov = Coverage {
        runs: results.len(),
        covered: results.iter().filter(|x| x.0).count(),
        mean_rel_half_width: results.iter().map(|x| x.1).sum::<f64>() / results.len() as f64,
        widened: results.iter().filter(|x| x.2).count(),
    };
    println!(
        "M/M/{c} rho {rho} mean {mean_ms} ms, {duration_s} s: true p99 {truth:.1} ms, \
         covered {}/{} ({:.1} %), mean half-width {:.1} % of p99, widened {}",
        cov.covered,
        cov.runs,
        100.0 * cov.covered as f64 / cov.runs as f64,
        100.0 * cov.mean_rel_half_width,
        cov.widened
    );
    cov
}

fn assert_honest(c: Coverage) {
    let share = c.covered as f64 / c.runs as f64;
    assert!(share >= 0.90, "coverage {share:.3} below 90 %");
}

#[test]
fn p99_interval_covers_the_true_p99_of_mm1_on_20_minute_runs() {
    // ~10 requests/s: about 120 requests above the p99 in the run, a dozen
    // per tenth of it — the regime where ten batch p99s under-covered most.
    assert_honest(coverage(1, 0.8, 80.0, 1_300, 200));
}

#[test]
#[ignore = "heavy: run in release (.ci/run)"]
fn p99_interval_coverage_over_rates_loads_and_lengths() {
    for (c, rho, mean_ms, duration_s) in [
        (1, 0.8, 10.0, 1_300),
        (1, 0.9, 10.0, 1_300),
        (4, 0.8, 100.0, 1_300),
        (4, 0.9, 20.0, 1_300),
        (1, 0.8, 10.0, 3_700),
        (1, 0.5, 100.0, 1_300),
    ] {
        assert_honest(coverage(c, rho, mean_ms, duration_s, 400));
    }
}
