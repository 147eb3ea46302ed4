//! Engine throughput: events per second on one core.
//!
//! `cargo bench -p twip-sim --bench engine`

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use twip_model::Scenario;
use twip_sim::{simulate, Options};

fn mmc(customers: u64) -> Scenario {
    // M/M/4 at rho = 0.8: lambda = 32/s, mean service 100 ms.
    let duration = customers as f64 / 32.0;
    Scenario::parse(
        &format!(
            r#"
name = "mmc"
duration = "{duration:.0}s"
[[service]]
name = "app"
workers = 4
service_time = {{ dist = "exponential", mean_ms = 100 }}
[traffic]
entry = "app"
rps = 32
"#
        ),
        Path::new("bench.toml"),
    )
    .expect("valid scenario")
}

fn one_hour_of(path: &str) -> Scenario {
    let mut s = Scenario::load(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path),
    )
    .expect("bundled scenario");
    // One simulated hour around the evening peak, failures left out.
    s.traffic.start_hour_utc = 18.5;
    s.duration_s = 3600.0;
    s.warmup_s = 60.0;
    s.failures.clear();
    s.traffic.spikes.clear();
    s
}

fn bench(c: &mut Criterion) {
    let one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool");
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    for (name, s) in [
        ("mmc_1M_customers", mmc(1_000_000)),
        (
            "limited_release_peak_hour",
            one_hour_of("scenarios/twip/limited-release.toml"),
        ),
        (
            "worldwide_peak_hour",
            one_hour_of("scenarios/twip/worldwide.toml"),
        ),
    ] {
        let opts = Options {
            seed: Some(1),
            ..Options::default()
        };
        let events = simulate(&s, &opts).expect("runs").events;
        g.throughput(Throughput::Elements(events));
        g.bench_function(name, |b| {
            b.iter(|| one_core.install(|| simulate(&s, &opts).expect("runs")))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
