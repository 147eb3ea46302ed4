//! The conformance battery behind `twip policy check`: requests a policy
//! must place (every answer validated) and impossible ones it must refuse,
//! plus a determinism check. Also request builders for tests and benches.

use crate::{validate, Node, Plugin, PolicyError, Request, Service, Topology};

/// A request of `n` identical nodes spread round-robin over `zones` zones
/// (`zone-a`, `zone-b`...), all of instance type `instance_type`.
pub fn uniform_nodes(
    n: usize,
    zones: usize,
    instance_type: &str,
    cpu_millis: u32,
    memory_mib: u32,
) -> Request {
    let zones = zones.max(1);
    Request {
        zones: (0..zones).map(zone_name).collect(),
        instance_types: vec![instance_type.to_string()],
        nodes: (0..n)
            .map(|i| Node {
                id: format!("node-{i}"),
                instance_type: 0,
                zone: (i % zones) as u32,
                cpu_millis,
                memory_mib,
                labels: Vec::new(),
            })
            .collect(),
        services: Vec::new(),
    }
}

fn zone_name(i: usize) -> String {
    let mut s = String::from("zone-");
    let mut i = i;
    loop {
        s.insert(5, (b'a' + (i % 26) as u8) as char);
        i /= 26;
        if i == 0 {
            break s;
        }
        i -= 1;
    }
}

/// A service with no spread key, no anti-affinity and no existing replicas.
pub fn service(name: &str, replicas: u32, cpu_millis: u32, memory_mib: u32) -> Service {
    Service {
        name: name.to_string(),
        replicas,
        cpu_millis,
        memory_mib,
        spread: None,
        anti_affinity: None,
        existing: Vec::new(),
    }
}

/// What a case expects of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A valid answer.
    Placed,
    /// A refusal (the request cannot be placed).
    Refused,
}

/// One request of the battery.
#[derive(Debug, Clone)]
pub struct Case {
    /// What the case tests, in a few words.
    pub name: &'static str,
    /// The request handed to the policy.
    pub request: Request,
    /// What the policy must do with it.
    pub expect: Expect,
}

/// The outcome of one case.
#[derive(Debug)]
pub struct Outcome {
    /// The case's name.
    pub case: &'static str,
    /// What the case expected of the policy.
    pub expect: Expect,
    /// Whether the policy did as expected (and, if it placed, did so
    /// deterministically).
    pub passed: bool,
    /// What happened, one line.
    pub detail: String,
    /// Time of the first call, in microseconds.
    pub micros: u128,
}

/// The battery.
pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut push = |name, request, expect| {
        v.push(Case {
            name,
            request,
            expect,
        })
    };

    let mut r = uniform_nodes(1, 1, "m5.large", 2000, 8192);
    r.services.push(service("one", 1, 500, 512));
    push("single replica", r, Expect::Placed);

    let mut r = uniform_nodes(4, 2, "m5.large", 2000, 8192);
    r.services.push(service("idle", 0, 500, 512));
    push("zero replicas", r, Expect::Placed);

    let r = uniform_nodes(3, 1, "m5.large", 2000, 8192);
    push("no services", r, Expect::Placed);

    let mut r = uniform_nodes(12, 3, "m5.xlarge", 4000, 16384);
    for (name, n, cpu, mem) in [
        ("web", 9, 500, 1024),
        ("api", 6, 1000, 2048),
        ("db", 3, 1500, 4096),
    ] {
        let mut s = service(name, n, cpu, mem);
        s.spread = Some(Topology::Zone);
        r.services.push(s);
    }
    push("three services, three zones", r, Expect::Placed);

    let mut r = uniform_nodes(6, 3, "m5.large", 2000, 8192);
    let mut s = service("web", 5, 500, 512);
    s.existing = vec![0, 0, 3];
    r.services.push(s);
    push("keeps existing replicas", r, Expect::Placed);

    let mut r = uniform_nodes(6, 3, "m5.large", 2000, 8192);
    let mut s = service("web", 2, 500, 512);
    s.existing = vec![1, 2, 4, 5];
    r.services.push(s);
    push("scale down", r, Expect::Placed);

    let mut r = uniform_nodes(5, 5, "m5.large", 2000, 8192);
    let mut s = service("etcd", 5, 500, 512);
    s.anti_affinity = Some(Topology::Node);
    r.services.push(s);
    let mut s = service("zk", 5, 500, 512);
    s.anti_affinity = Some(Topology::Zone);
    r.services.push(s);
    push("anti-affinity, exactly enough domains", r, Expect::Placed);

    let mut r = uniform_nodes(8, 2, "m5.large", 2000, 8192);
    r.instance_types.push("c5.2xlarge".into());
    for (i, n) in r.nodes.iter_mut().enumerate() {
        if i % 2 == 1 {
            n.instance_type = 1;
            n.cpu_millis = 8000;
            n.memory_mib = 16384;
            n.labels.push(crate::Label {
                key: "disk".into(),
                value: "ssd".into(),
            });
        }
    }
    r.services.push(service("batch", 10, 1500, 1024));
    r.services.push(service("cache", 4, 250, 6000));
    push("mixed instance types and labels", r, Expect::Placed);

    let mut r = uniform_nodes(4, 2, "m5.large", 1000, 1000);
    r.services.push(service("half", 8, 500, 500));
    push("exact fit", r, Expect::Placed);

    let mut r = uniform_nodes(200, 4, "m5.2xlarge", 8000, 32768);
    for i in 0..10 {
        let mut s = service(&format!("svc-{i}"), 200, 250 + 50 * i, 512 + 128 * i);
        s.spread = Some(if i % 2 == 0 {
            Topology::Zone
        } else {
            Topology::Node
        });
        r.services.push(s);
    }
    push("2,000 replicas on 200 nodes", r, Expect::Placed);

    let mut r = uniform_nodes(3, 1, "m5.large", 2000, 8192);
    r.services.push(service("huge", 1, 4000, 1024));
    push(
        "impossible: replica larger than any node",
        r,
        Expect::Refused,
    );

    let mut r = uniform_nodes(3, 1, "m5.large", 2000, 8192);
    r.services.push(service("many", 13, 500, 512));
    push(
        "impossible: total demand above capacity",
        r,
        Expect::Refused,
    );

    let mut r = uniform_nodes(3, 3, "m5.large", 2000, 8192);
    let mut s = service("etcd", 4, 100, 128);
    s.anti_affinity = Some(Topology::Node);
    r.services.push(s);
    push(
        "impossible: node anti-affinity, too few nodes",
        r,
        Expect::Refused,
    );

    let mut r = uniform_nodes(6, 2, "m5.large", 2000, 8192);
    let mut s = service("zk", 3, 100, 128);
    s.anti_affinity = Some(Topology::Zone);
    r.services.push(s);
    push(
        "impossible: zone anti-affinity, too few zones",
        r,
        Expect::Refused,
    );

    let r = uniform_nodes(0, 1, "m5.large", 2000, 8192);
    let mut r = r;
    r.services.push(service("lonely", 1, 100, 128));
    push("impossible: no nodes", r, Expect::Refused);

    v
}

/// Runs the battery (and a determinism check) against a plugin.
pub fn run(plugin: &mut Plugin) -> Vec<Outcome> {
    let mut out = Vec::new();
    for case in cases() {
        let t = std::time::Instant::now();
        let first = plugin.place(&case.request);
        let micros = t.elapsed().as_micros();
        let (passed, detail) = match (&first, case.expect) {
            (Ok(a), Expect::Placed) => {
                let n: usize = a.iter().map(Vec::len).sum();
                // Same request, same answer: policies must be deterministic.
                match plugin.place(&case.request) {
                    Ok(b) if b == *a => {
                        (true, format!("placed {n} replicas (valid, deterministic)"))
                    }
                    Ok(_) => (
                        false,
                        "two calls with the same request gave different answers".into(),
                    ),
                    Err(e) => (false, format!("second call failed: {e}")),
                }
            }
            (Ok(a), Expect::Refused) => {
                // Cannot happen for a valid answer, but say so if it does.
                let v = validate::check_answer(&case.request, a).err();
                let v = v.map(|v| v.to_string()).unwrap_or_else(|| "valid?".into());
                (false, format!("answered an impossible request ({v})"))
            }
            (Err(PolicyError::Refused { kind, message, .. }), Expect::Refused) => {
                (true, format!("refused ({kind}): {message}"))
            }
            (Err(e), _) => (false, e.to_string()),
        };
        out.push(Outcome {
            case: case.name,
            expect: case.expect,
            passed,
            detail,
            micros,
        });
    }
    out
}
