//! Hostile plugins: each must end in a clear error within a second, and the
//! host (and the same plugin) must keep working for the next call.

mod fixtures;

use fixtures::*;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use twip_policy::conformance::{service, uniform_nodes};
use twip_policy::{Host, HostConfig, Limits, PolicyError, Request, Violation};

fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host::new().expect("host"))
}

/// Loads `wasm`, places `req` twice (the second call proves the plugin
/// recovers), checks both errors end within a second, then checks that a
/// built-in still works on the same host. Returns the first error.
fn refused(wasm: &[u8], req: &Request) -> PolicyError {
    refused_on(host(), wasm, req)
}

fn refused_on(host: &Host, wasm: &[u8], req: &Request) -> PolicyError {
    let mut plugin = host.load(wasm).expect("hostile plugin loads");
    let mut first = None;
    for _ in 0..2 {
        let t = Instant::now();
        let err = plugin.place(req).expect_err("hostile plugin must fail");
        let took = t.elapsed();
        assert!(took < Duration::from_secs(1), "took {took:?}: {err}");
        let text = err.to_string();
        assert!(!text.is_empty());
        if let Some(f) = &first {
            assert_eq!(text, format!("{f}"), "second call differs");
        } else {
            first = Some(err);
        }
    }
    let mut ok = host.load_builtin("spread").expect("built-in loads");
    let good = small_request();
    ok.place(&good)
        .expect("host keeps working after a hostile plugin");
    first.unwrap()
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let err = refused(
        &hostile("(loop $l (br $l)) (unreachable)", ""),
        &small_request(),
    );
    assert!(matches!(err, PolicyError::OutOfFuel { .. }), "{err}");
    assert!(err.to_string().contains("ran out of fuel"), "{err}");
}

#[test]
fn infinite_loop_hits_the_deadline_when_fuel_is_plenty() {
    let host = Host::with_config(HostConfig {
        limits: Limits {
            fuel_base: u64::MAX / 4,
            fuel_per_unit: 0,
            deadline: Duration::from_millis(200),
            ..Limits::default()
        },
        cache_dir: None,
    })
    .unwrap();
    let t = Instant::now();
    let err = refused_on(
        &host,
        &hostile("(loop $l (br $l)) (unreachable)", ""),
        &small_request(),
    );
    assert!(matches!(err, PolicyError::Timeout { ms: 200 }), "{err}");
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "two calls of ≥ 200 ms each"
    );
    assert_eq!(
        err.to_string(),
        "plugin missed its deadline of 200 ms and was interrupted"
    );
}

#[test]
fn memory_bomb_hits_the_cap() {
    let body =
        "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) (unreachable)";
    let err = refused(&hostile(body, ""), &small_request());
    assert!(
        matches!(err, PolicyError::MemoryLimit { cap_mib: 64 }),
        "{err}"
    );
    assert_eq!(err.to_string(), "plugin exceeded its memory cap of 64 MiB");
}

#[test]
fn growing_memory_in_a_loop_is_bounded_by_the_grow_count_not_the_clock() {
    // One page at a time under a cap the loop never reaches: before the grow
    // count, each grow was a host call worth one unit of fuel, and the call
    // ran to its wall-clock deadline (0.3–1 s per call).
    let host = Host::with_config(HostConfig {
        limits: Limits {
            memory_bytes: 1 << 30,
            fuel_base: u64::MAX / 4,
            fuel_per_unit: 0,
            deadline: Duration::from_secs(5),
        },
        cache_dir: None,
    })
    .unwrap();
    let body = "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) \
                (unreachable)";
    let err = refused_on(&host, &hostile(body, ""), &small_request());
    assert!(
        matches!(err, PolicyError::TooManyGrows { max } if max == twip_policy::MAX_GROWS_PER_CALL),
        "{err}"
    );
    assert!(err.is_misbehaviour());
}

#[test]
fn a_component_larger_than_the_limit_is_not_read_to_the_end() {
    let big = std::env::temp_dir().join(format!("twip-big-{}.wasm", std::process::id()));
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(twip_policy::MAX_COMPONENT_BYTES + 1).unwrap();
    let err = host().load_file(&big).expect_err("too large");
    std::fs::remove_file(&big).unwrap();
    assert!(
        matches!(err, PolicyError::TooLarge { limit_mib: 16, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("larger than 16 MiB"), "{err}");
    // A device that never ends: the read stops at the limit.
    let t = Instant::now();
    let err = host()
        .load_file(std::path::Path::new("/dev/zero"))
        .expect_err("endless");
    assert!(matches!(err, PolicyError::TooLarge { .. }), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn oversized_initial_memory_is_refused_at_instantiation() {
    let wat = module_wat("(i32.const 0)", "").replace(
        "(memory (export \"memory\") 1)",
        "(memory (export \"memory\") 2000)",
    );
    let err = host()
        .load(&component(&wat, WIT))
        .expect_err("128 MiB initial memory");
    assert!(matches!(err, PolicyError::MemoryLimit { .. }), "{err}");
}

#[test]
fn trap_is_reported() {
    let err = refused(&hostile("(unreachable)", ""), &small_request());
    assert!(matches!(err, PolicyError::Trap(_)), "{err}");
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[test]
fn division_by_zero_is_a_trap() {
    let err = refused(
        &hostile("(i32.div_u (i32.const 1) (i32.const 0))", ""),
        &small_request(),
    );
    assert!(err.to_string().contains("plugin trapped"), "{err}");
}

#[test]
fn stack_overflow_is_reported() {
    let extra =
        "(func $r (param i32) (result i32) (call $r (i32.add (local.get 0) (i32.const 1))))";
    let err = refused(&hostile("(call $r (i32.const 0))", extra), &small_request());
    assert!(matches!(err, PolicyError::StackOverflow), "{err}");
}

#[test]
fn huge_answer_out_of_bounds_is_malformed() {
    // An ok answer claiming 2^28 replicas (1 GiB).
    let extra = r#"(data (i32.const 256) "\00\00\00\00\00\02\00\00\00\00\00\10")"#;
    let err = refused(&hostile("(i32.const 256)", extra), &small_request());
    assert!(matches!(err, PolicyError::Malformed(_)), "{err}");
}

#[test]
fn huge_answer_in_bounds_is_rejected() {
    // Grow to 33 MiB and answer 8 Mi replicas (all zeros in memory).
    let body = r#"(drop (memory.grow (i32.const 528)))
    (i32.store (i32.const 256) (i32.const 0))
    (i32.store (i32.const 260) (i32.const 1048576))
    (i32.store (i32.const 264) (i32.const 8388608))
    (i32.const 256)"#;
    let err = refused(&hostile(body, ""), &small_request());
    assert_eq!(
        err.to_string(),
        "policy 'hostile' gave an invalid answer: answer places 8388608 replicas, the request asks for 3 (web 2, db 1): every replica must be placed exactly once"
    );
}

#[test]
fn huge_error_message_is_truncated() {
    // A refusal with a 4 MiB message of zero bytes.
    let body = r#"(drop (memory.grow (i32.const 80)))
    (i32.store8 (i32.const 256) (i32.const 1))
    (i32.store8 (i32.const 260) (i32.const 3))
    (i32.store (i32.const 264) (i32.const 1048576))
    (i32.store (i32.const 268) (i32.const 4194304))
    (i32.const 256)"#;
    let err = refused(&hostile(body, ""), &small_request());
    match &err {
        PolicyError::Refused { kind, message, .. } => {
            assert_eq!(*kind, "other");
            assert!(
                message.len() < 1100 && message.ends_with("(truncated)"),
                "{}",
                message.len()
            );
        }
        e => panic!("{e}"),
    }
}

#[test]
fn control_characters_in_a_message_are_escaped() {
    // A refusal whose message clears the screen and rings the bell.
    let extra = r#"(data (i32.const 256) "\01\00\00\00\01\00\00\00\00\04\00\00\08\00\00\00")
  (data (i32.const 1024) "\1b[2Jhi\07\n")"#;
    let err = refused(&hostile("(i32.const 256)", extra), &small_request());
    let text = err.to_string();
    assert!(matches!(err, PolicyError::Refused { .. }), "{text}");
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(text.contains("\\u{1b}[2Jhi\\u{7}\\n"), "{text:?}");
}

#[test]
fn invalid_utf8_message_is_malformed() {
    let extra = r#"(data (i32.const 256) "\01\00\00\00\01\00\00\00\00\04\00\00\02\00\00\00")
  (data (i32.const 1024) "\ff\fe")"#;
    let err = refused(&hostile("(i32.const 256)", extra), &small_request());
    assert!(matches!(err, PolicyError::Malformed(_)), "{err}");
}

fn violation(answer: &[Vec<u32>], req: &Request) -> Violation {
    match refused(&fixed_answer(answer), req) {
        PolicyError::InvalidAnswer { policy, violation } => {
            assert_eq!(policy, "hostile");
            violation
        }
        e => panic!("expected an invalid answer, got: {e}"),
    }
}

#[test]
fn fixed_valid_answer_is_accepted() {
    let mut p = host().load(&fixed_answer(&[vec![0, 1], vec![3]])).unwrap();
    assert_eq!(
        p.place(&small_request()).unwrap(),
        vec![vec![0, 1], vec![3]]
    );
    assert_eq!(p.info().name, "hostile");
}

#[test]
fn over_capacity_is_rejected() {
    let mut req = uniform_nodes(2, 1, "m5.large", 1000, 4096);
    req.services.push(service("big", 2, 600, 100));
    let v = violation(&[vec![1, 1]], &req);
    assert_eq!(
        v.to_string(),
        "node 'node-1' over capacity: cpu 1200m placed, 1000m allocatable"
    );
}

#[test]
fn over_memory_is_rejected() {
    let mut req = uniform_nodes(2, 1, "m5.large", 4000, 1000);
    req.services.push(service("fat", 2, 100, 600));
    let v = violation(&[vec![0, 0]], &req);
    assert_eq!(
        v.to_string(),
        "node 'node-0' over capacity: memory 1200 MiB placed, 1000 MiB allocatable"
    );
}

#[test]
fn unknown_node_is_rejected() {
    let v = violation(&[vec![0, 7], vec![3]], &small_request());
    assert_eq!(
        v,
        Violation::UnknownNode {
            service: "web".into(),
            replica: 1,
            node: 7,
            nodes: 4
        }
    );
}

#[test]
fn replica_placed_twice_is_rejected() {
    let v = violation(&[vec![0, 1, 2], vec![3]], &small_request());
    assert_eq!(
        v.to_string(),
        "answer places 4 replicas, the request asks for 3 (web 2, db 1): every replica must be placed exactly once"
    );
}

#[test]
fn replica_not_placed_is_rejected() {
    let v = violation(&[vec![0, 1], vec![]], &small_request());
    assert!(
        matches!(
            v,
            Violation::ReplicaTotal {
                placed: 2,
                requested: 3,
                ..
            }
        ),
        "{v}"
    );
    let v = violation(&[], &small_request());
    assert!(
        matches!(
            v,
            Violation::ReplicaTotal {
                placed: 0,
                requested: 3,
                ..
            }
        ),
        "{v}"
    );
}

#[test]
fn broken_anti_affinity_is_rejected() {
    let v = violation(&[vec![2, 2], vec![3]], &small_request());
    assert_eq!(
        v.to_string(),
        "service 'web': anti-affinity allows one replica per node, but node 'node-2' has 2"
    );
}

#[test]
fn broken_zone_anti_affinity_is_rejected() {
    let mut req = uniform_nodes(4, 2, "m5.large", 1000, 1000);
    let mut s = service("zk", 2, 100, 100);
    s.anti_affinity = Some(twip_policy::Topology::Zone);
    req.services.push(s);
    // nodes 0 and 2 are both in zone-a
    let v = violation(&[vec![0, 2]], &req);
    assert_eq!(
        v.to_string(),
        "service 'zk': anti-affinity allows one replica per zone, but zone 'zone-a' has 2"
    );
}

#[test]
fn moved_existing_replica_is_rejected() {
    let v = violation(&[vec![0, 1], vec![2]], &small_request());
    assert!(
        matches!(v, Violation::ExistingMoved { ref node, .. } if node == "node-3"),
        "{v}"
    );
}

#[test]
fn wrong_interface_version_names_both_versions() {
    let wit = WIT.replace("twip:policy@0.1.0", "twip:policy@0.2.0");
    let wat = module_wat_named(
        "twip:policy/placement@0.2.0#place",
        "twip:policy/placement@0.2.0#info",
        "(unreachable)",
        "",
    );
    let err = host()
        .load(&component(&wat, &wit))
        .expect_err("version 0.2.0");
    assert!(matches!(err, PolicyError::VersionMismatch { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("twip:policy@0.2.0") && text.contains("twip:policy@0.1.0"),
        "{text}"
    );
}

#[test]
fn wasi_import_is_refused() {
    let wit = format!(
        "{}\npackage wasi:random@0.2.0 {{ interface random {{ get-random-u64: func() -> u64; }} }}\n",
        WIT.replace("export placement;", "export placement;\n  import wasi:random/random@0.2.0;")
    );
    let extra = r#"(import "wasi:random/random@0.2.0" "get-random-u64" (func $rand (result i64)))"#;
    // Imports must come first in a module: put the import right after `(module`.
    let wat =
        module_wat("(unreachable)", "").replacen("(module", &format!("(module\n  {extra}"), 1);
    let err = host()
        .load(&component(&wat, &wit))
        .expect_err("WASI import");
    assert!(
        matches!(err, PolicyError::ForbiddenImport(ref i) if i == "wasi:random/random@0.2.0"),
        "{err}"
    );
    assert!(err.to_string().contains("no WASI"), "{err}");
}

#[test]
fn core_module_is_not_a_component() {
    let module = wat::parse_str(module_wat("(unreachable)", "")).unwrap();
    let err = host().load(&module).expect_err("core module");
    assert!(matches!(err, PolicyError::NotAComponent), "{err}");
    assert!(err.to_string().contains("not a component"), "{err}");
}

#[test]
fn garbage_is_not_wasm() {
    let err = host()
        .load(b"#!/bin/sh\necho hi\n")
        .expect_err("shell script");
    assert!(matches!(err, PolicyError::NotWasm), "{err}");
    let mut broken = hostile("(unreachable)", "");
    broken.truncate(broken.len() / 2);
    let err = host().load(&broken).expect_err("truncated component");
    assert!(matches!(err, PolicyError::Compile(_)), "{err}");
}

#[test]
fn component_without_the_interface_is_refused() {
    let wit = "package other:thing;\ninterface api { hello: func() -> u32; }\nworld policy { export api; }\n";
    let wat = r#"(module (memory (export "memory") 1)
      (func (export "other:thing/api#hello") (result i32) (i32.const 1)))"#;
    let err = host()
        .load(&component(wat, wit))
        .expect_err("no placement export");
    assert!(matches!(err, PolicyError::MissingExport { .. }), "{err}");
    assert!(err.to_string().contains("other:thing/api"), "{err}");
}
