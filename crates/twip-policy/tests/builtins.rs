//! The built-in policies: conformance, behaviour, native cross-checks and
//! the compiled cache.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use twip_policy::conformance::{self, service, uniform_nodes};
use twip_policy::{native, Host, HostConfig, PolicyError, Request, Topology, BUILTINS};

fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host::new().expect("host"))
}

fn per_node(answer: &[u32]) -> BTreeMap<u32, u32> {
    let mut m = BTreeMap::new();
    for &n in answer {
        *m.entry(n).or_default() += 1;
    }
    m
}

#[test]
fn builtins_identify_themselves() {
    let names: Vec<_> = BUILTINS.iter().map(|b| b.name).collect();
    assert_eq!(names, ["spread", "binpack", "zone-spread"]);
    for b in BUILTINS {
        let p = host().load_builtin(b.name).unwrap();
        assert_eq!(p.info().name, b.name);
        assert_eq!(p.info().version, "0.1.0");
        assert!(!p.info().description.is_empty());
    }
    let err = host().load_builtin("random").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no built-in policy named 'random' (built-ins: spread, binpack, zone-spread)"
    );
}

#[test]
fn builtins_pass_the_conformance_battery() {
    for b in BUILTINS {
        let mut p = host().load_builtin(b.name).unwrap();
        let outcomes = conformance::run(&mut p);
        assert!(outcomes.len() >= 14);
        for o in &outcomes {
            assert!(o.passed, "{}: {}: {}", b.name, o.case, o.detail);
        }
    }
}

#[test]
fn wasm_and_native_twins_agree() {
    let mut requests: Vec<Request> = conformance::cases()
        .into_iter()
        .map(|c| c.request)
        .collect();
    let mut big = uniform_nodes(100, 3, "m5.large", 4000, 16384);
    for i in 0..8u32 {
        let mut s = service(&format!("s{i}"), 40 + i * 7, 300 + 100 * i, 256 << (i % 4));
        s.spread = [None, Some(Topology::Node), Some(Topology::Zone)][i as usize % 3];
        if i == 5 {
            s.anti_affinity = Some(Topology::Node);
        }
        big.services.push(s);
    }
    requests.push(big);
    for b in BUILTINS {
        let mut p = host().load_builtin(b.name).unwrap();
        let kind = native::kind(b.name).unwrap();
        for req in &requests {
            let wasm = p.place_raw(req);
            let nat = native::place(kind, req);
            match (wasm, nat) {
                (Ok(a), Ok(b2)) => assert_eq!(a, b2.concat(), "{}", b.name),
                (Err(PolicyError::Refused { message, .. }), Err(e)) => {
                    assert_eq!(message, e.message)
                }
                (w, n) => panic!("{}: wasm {w:?} vs native {n:?}", b.name),
            }
        }
    }
}

#[test]
fn spread_uses_every_node_once() {
    let mut req = uniform_nodes(6, 3, "m5.large", 2000, 8192);
    req.services.push(service("web", 6, 100, 100));
    let a = host().load_builtin("spread").unwrap().place(&req).unwrap();
    assert_eq!(per_node(&a[0]).len(), 6);
}

#[test]
fn binpack_uses_fewest_nodes() {
    let mut req = uniform_nodes(10, 2, "m5.large", 2000, 8192);
    req.services.push(service("web", 8, 500, 512));
    let a = host().load_builtin("binpack").unwrap().place(&req).unwrap();
    assert_eq!(per_node(&a[0]).len(), 2, "{a:?}");
    // Memory is the scarce resource here: packing follows it.
    let mut req = uniform_nodes(10, 2, "m5.large", 8000, 2048);
    req.services.push(service("cache", 6, 100, 1024));
    let a = host().load_builtin("binpack").unwrap().place(&req).unwrap();
    assert_eq!(per_node(&a[0]).len(), 3, "{a:?}");
}

#[test]
fn zone_spread_balances_zones_then_nodes() {
    let mut req = uniform_nodes(12, 3, "m5.large", 2000, 8192);
    req.services.push(service("web", 6, 100, 100));
    let a = host()
        .load_builtin("zone-spread")
        .unwrap()
        .place(&req)
        .unwrap();
    let mut zones = [0; 3];
    for &n in &a[0] {
        zones[req.nodes[n as usize].zone as usize] += 1;
    }
    assert_eq!(zones, [2, 2, 2]);
    assert_eq!(per_node(&a[0]).len(), 6, "then across nodes");
}

#[test]
fn existing_replicas_stay_put() {
    let mut req = uniform_nodes(6, 3, "m5.large", 2000, 8192);
    let mut s = service("web", 4, 100, 100);
    s.existing = vec![5, 5];
    req.services.push(s);
    for b in BUILTINS {
        let a = host().load_builtin(b.name).unwrap().place(&req).unwrap();
        assert!(per_node(&a[0])[&5] >= 2, "{}: {a:?}", b.name);
    }
}

#[test]
fn invalid_requests_are_refused_before_the_plugin_runs() {
    let mut p = host().load_builtin("spread").unwrap();
    let mut req = uniform_nodes(2, 1, "m5.large", 2000, 8192);
    req.nodes[1].zone = 4;
    let err = p.place(&req).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid request: node 'node-1' names zone #4 but the request lists 1 zones"
    );
    let mut req = uniform_nodes(2, 1, "m5.large", 2000, 8192);
    req.services.push(service("a", 1, 1, 1));
    req.services.push(service("a", 1, 1, 1));
    assert!(p
        .place(&req)
        .unwrap_err()
        .to_string()
        .contains("'a' appears twice"));
    let mut req = uniform_nodes(2, 1, "m5.large", 2000, 8192);
    let mut s = service("a", 1, 1, 1);
    s.existing = vec![9];
    req.services.push(s);
    assert!(p.place(&req).unwrap_err().to_string().contains("node #9"));
}

#[test]
fn refusals_explain_why() {
    let mut req = uniform_nodes(3, 1, "m5.large", 2000, 8192);
    req.services.push(service("huge", 2, 4000, 1024));
    let err = host()
        .load_builtin("binpack")
        .unwrap()
        .place(&req)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "policy 'binpack' cannot place the request (insufficient-capacity): service 'huge': only 0 of 2 replicas fit: no node has 4000m cpu and 1024 MiB memory free"
    );
}

#[test]
fn compiled_components_are_cached_in_memory_and_on_disk() {
    let dir = std::env::temp_dir().join(format!("twip-policy-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = HostConfig {
        cache_dir: Some(dir.clone()),
        ..HostConfig::default()
    };
    let wasm = twip_policy::builtin_wasm("zone-spread").unwrap();
    let first = Host::with_config(config.clone()).unwrap();
    first.load(wasm).unwrap();
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(files.len(), 1, "one serialized component");
    let t = std::time::Instant::now();
    first.load(wasm).unwrap();
    let from_memory = t.elapsed();
    let second = Host::with_config(config).unwrap();
    let t = std::time::Instant::now();
    second.load(wasm).unwrap();
    let from_disk = t.elapsed();
    // Generous bounds for a debug build on a busy machine; the benchmark
    // measures the real figures.
    assert!(from_memory.as_millis() < 50, "{from_memory:?}");
    assert!(from_disk.as_millis() < 200, "{from_disk:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn c_example_passes_the_conformance_battery() {
    let wasm = include_bytes!("../../../plugins/components/example-c-firstfit.wasm");
    let mut p = host().load(wasm).unwrap();
    assert_eq!(p.info().name, "example-c-firstfit");
    for o in conformance::run(&mut p) {
        assert!(o.passed, "{}: {}", o.case, o.detail);
    }
    // First fit: everything on node 0 while it has room.
    let mut req = uniform_nodes(3, 1, "m5.large", 1000, 1000);
    req.services.push(service("web", 3, 300, 100));
    assert_eq!(p.place(&req).unwrap(), vec![vec![0, 0, 0]]);
}

#[test]
fn plugins_move_between_threads_and_hosts_are_shared() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<twip_policy::Plugin>();
    sync::<Host>();
    let mut req = uniform_nodes(4, 2, "m5.large", 2000, 8192);
    req.services.push(service("web", 4, 100, 100));
    let handles: Vec<_> = BUILTINS
        .iter()
        .map(|b| {
            let mut p = host().load_builtin(b.name).unwrap();
            let req = req.clone();
            std::thread::spawn(move || p.place(&req).unwrap())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap()[0].len(), 4);
    }
}

#[test]
fn guests_reclaim_their_heap_between_calls() {
    // 200 calls that each allocate ~20 KiB inside the guest, under a
    // 2 MiB cap (the Rust guests start at 1.1 MiB: stack and data): a guest
    // that leaked per call would hit the cap.
    let host = Host::with_config(HostConfig {
        limits: twip_policy::Limits {
            memory_bytes: 2 << 20,
            ..twip_policy::Limits::default()
        },
        cache_dir: None,
    })
    .unwrap();
    let mut req = uniform_nodes(100, 3, "m5.large", 8000, 32768);
    for i in 0..4 {
        req.services.push(service(&format!("s{i}"), 500, 10, 10));
    }
    for b in BUILTINS {
        let mut p = host.load_builtin(b.name).unwrap();
        for _ in 0..200 {
            p.place_raw(&req).unwrap();
        }
    }
}
