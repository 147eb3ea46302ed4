//! Placement plugins: wasm against the native twins, per-call overhead and
//! cached loads (issue 3). Run: `cargo bench -p twip-policy --bench placement`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::time::Duration;
use twip_policy::conformance::{service, uniform_nodes};
use twip_policy::{native, Host, HostConfig, Request, Topology, BUILTINS};

/// 10,000 replicas (20 services × 500) on 1,000 nodes in 3 zones.
fn big_request() -> Request {
    let mut req = uniform_nodes(1000, 3, "m5.2xlarge", 8000, 32768);
    for i in 0..20u32 {
        let mut s = service(&format!("svc-{i}"), 500, 100 + 15 * i, 256 + 64 * i);
        s.spread = Some(if i % 2 == 0 {
            Topology::Zone
        } else {
            Topology::Node
        });
        req.services.push(s);
    }
    req
}

fn trivial_request() -> Request {
    let mut req = uniform_nodes(1, 1, "m5.large", 2000, 8192);
    req.services.push(service("one", 1, 100, 128));
    req
}

fn place_10k(c: &mut Criterion) {
    let host = Host::new().unwrap();
    let req = big_request();
    let mut g = c.benchmark_group("place_10k_replicas_1k_nodes");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    for b in BUILTINS {
        let kind = native::kind(b.name).unwrap();
        let mut p = host.load_builtin(b.name).unwrap();
        // Same answer both ways, or the comparison means nothing.
        assert_eq!(
            p.place_raw(&req).unwrap(),
            native::place(kind, &req).unwrap().concat()
        );
        g.bench_function(format!("{}/native", b.name), |bench| {
            bench.iter(|| native::place(kind, black_box(&req)).unwrap())
        });
        g.bench_function(format!("{}/wasm", b.name), |bench| {
            bench.iter(|| p.place_raw(black_box(&req)).unwrap())
        });
        g.bench_function(format!("{}/wasm+validate", b.name), |bench| {
            bench.iter(|| p.place(black_box(&req)).unwrap())
        });
    }
    g.finish();
}

/// `spread` natively, in wasm and (if `validate`) in wasm with the answer
/// checked, on one request.
fn spread_both_ways(c: &mut Criterion, group: &str, req: &Request, validate: bool) {
    let host = Host::new().unwrap();
    let mut g = c.benchmark_group(group);
    let kind = native::kind("spread").unwrap();
    let mut p = host.load_builtin("spread").unwrap();
    g.bench_function("spread/native", |bench| {
        bench.iter(|| native::place(kind, black_box(req)).unwrap())
    });
    g.bench_function("spread/wasm", |bench| {
        bench.iter(|| p.place_raw(black_box(req)).unwrap())
    });
    if validate {
        g.bench_function("spread/wasm+validate", |bench| {
            bench.iter(|| p.place(black_box(req)).unwrap())
        });
    }
    g.finish();
}

/// The crossing cost of a large request: the 1,000 nodes of `big_request`
/// but one replica per service (then one service), so the policy itself has
/// little to do.
fn crossing_1k_nodes(c: &mut Criterion) {
    let mut req = big_request();
    req.services.iter_mut().for_each(|s| s.replicas = 1);
    spread_both_ways(c, "crossing_1k_nodes", &req, false);
    // One service: almost nothing but the crossing itself.
    req.services.truncate(1);
    spread_both_ways(c, "crossing_1k_nodes_one_service", &req, false);
}

fn per_call(c: &mut Criterion) {
    spread_both_ways(c, "trivial_request", &trivial_request(), true);
}

fn load(c: &mut Criterion) {
    let mut g = c.benchmark_group("load");
    g.sample_size(20);
    let wasm = twip_policy::builtin_wasm("binpack").unwrap();
    let host = Host::new().unwrap();
    g.bench_function("first_compile_binpack", |bench| {
        bench.iter(|| {
            // A fresh host each time: nothing cached.
            let h = Host::new().unwrap();
            h.load(black_box(wasm)).unwrap()
        })
    });
    host.load(wasm).unwrap();
    g.bench_function("cached_in_memory_binpack", |bench| {
        bench.iter(|| host.load(black_box(wasm)).unwrap())
    });
    let dir = std::env::temp_dir().join(format!("twip-policy-bench-{}", std::process::id()));
    let config = HostConfig {
        cache_dir: Some(dir.clone()),
        ..HostConfig::default()
    };
    Host::with_config(config.clone())
        .unwrap()
        .load(wasm)
        .unwrap();
    g.bench_function("cached_on_disk_binpack_new_host", |bench| {
        bench.iter(|| {
            let h = Host::with_config(config.clone()).unwrap();
            h.load(black_box(wasm)).unwrap()
        })
    });
    g.bench_function("new_host_only", |bench| bench.iter(|| Host::new().unwrap()));
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, place_10k, crossing_1k_nodes, per_call, load);
criterion_main!(benches);
