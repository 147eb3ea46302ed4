//! Property tests of the request and answer validation (`twip_policy::validate`):
//! random requests and random answers never make it panic, and it accepts
//! an answer exactly when the answer keeps the rules the validator claims,
//! checked here independently: one entry per service, every replica on an
//! existing node, node capacity not exceeded, existing replicas kept (or,
//! on scale-down, only removed) and hard anti-affinity honoured.
//!
//! By default each property runs 256 cases (proptest's default). For a
//! longer search:
//!
//! ```text
//! PROPTEST_CASES=50000 cargo test --release -p twip-policy --test validate_props
//! ```

use std::collections::HashMap;

use proptest::prelude::*;
use twip_policy::validate::{check_answer, check_request, split_answer};
use twip_policy::{Label, Node, Request, Service, Topology};

/// Capacities and demands: zero, small, typical and extreme.
fn amount() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1),
        Just(250),
        Just(500),
        Just(1000),
        Just(2000),
        Just(8000),
        Just(u32::MAX),
        0u32..5000,
    ]
}

fn topology() -> impl Strategy<Value = Option<Topology>> {
    prop_oneof![
        Just(None),
        Just(Some(Topology::Node)),
        Just(Some(Topology::Zone))
    ]
}

/// A node; its zone and type indices may be out of range (0..5 against up to 3 zones).
fn node(i: usize) -> impl Strategy<Value = Node> {
    (
        0u32..3,
        0u32..4,
        amount(),
        amount(),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            move |(instance_type, zone, cpu_millis, memory_mib, label)| Node {
                id: format!("node-{i}"),
                instance_type,
                zone,
                cpu_millis,
                memory_mib,
                labels: if label {
                    vec![Label {
                        key: "disk".into(),
                        value: "ssd".into(),
                    }]
                } else {
                    Vec::new()
                },
            },
        )
}

/// A service; its existing replicas may name nodes that do not exist.
fn service(i: usize, nodes: usize) -> impl Strategy<Value = Service> {
    (
        0u32..6,
        amount(),
        amount(),
        topology(),
        topology(),
        prop::collection::vec(0..(nodes as u32 + 2), 0..5),
    )
        .prop_map(
            move |(replicas, cpu_millis, memory_mib, spread, anti_affinity, existing)| Service {
                name: format!("svc-{i}"),
                replicas,
                cpu_millis,
                memory_mib,
                spread,
                anti_affinity,
                existing,
            },
        )
}

/// A random request, sometimes malformed (bad indices, duplicate ids or
/// names, overcommitted existing replicas).
fn request() -> impl Strategy<Value = Request> {
    (1usize..4, 1usize..3, 0usize..7, 0usize..4)
        .prop_flat_map(|(zones, types, nodes, services)| {
            let nodes_s: Vec<_> = (0..nodes).map(node).collect();
            let services_s: Vec<_> = (0..services).map(|i| service(i, nodes)).collect();
            (
                Just(zones),
                Just(types),
                nodes_s,
                services_s,
                prop::bool::weighted(0.05),
            )
        })
        .prop_map(|(zones, types, nodes, mut services, dup)| {
            if dup && services.len() > 1 {
                services[1].name = services[0].name.clone();
            }
            Request {
                zones: (0..zones).map(|z| format!("zone-{z}")).collect(),
                instance_types: (0..types).map(|t| format!("type-{t}")).collect(),
                nodes,
                services,
            }
        })
}

/// A random request with indices in range and unique names (it may still
/// overcommit a node with its existing replicas).
fn sane_request() -> impl Strategy<Value = Request> {
    request().prop_map(|mut req| {
        let (zones, types, n) = (
            req.zones.len() as u32,
            req.instance_types.len() as u32,
            req.nodes.len() as u32,
        );
        for x in &mut req.nodes {
            x.zone %= zones;
            x.instance_type %= types;
        }
        for (i, s) in req.services.iter_mut().enumerate() {
            s.name = format!("svc-{i}");
            if n == 0 {
                s.existing.clear();
            }
            for x in &mut s.existing {
                *x %= n.max(1);
            }
        }
        req
    })
}

/// A random flat answer for `req`: for each service, its existing replicas
/// (all, or some on scale-down) plus random nodes, in random order, then
/// random damage (a replica moved, added or dropped) some of the time.
fn answer_for(req: &Request, seed: &[u32]) -> Vec<u32> {
    let n = req.nodes.len() as u32;
    let mut next = seed.iter().copied().cycle();
    let mut pick = move |m: u32| next.next().unwrap_or(0) % m.max(1);
    let mut flat = Vec::new();
    for s in &req.services {
        let want = s.replicas as usize;
        let mut mine: Vec<u32> = s.existing.clone();
        // Scale-down: drop random existing replicas.
        while mine.len() > want {
            let i = pick(mine.len() as u32) as usize;
            mine.remove(i);
        }
        while mine.len() < want {
            mine.push(pick(n));
        }
        for i in (1..mine.len()).rev() {
            mine.swap(i, pick(i as u32 + 1) as usize);
        }
        flat.extend(mine);
    }
    match pick(8) {
        0 if !flat.is_empty() => {
            let i = pick(flat.len() as u32) as usize;
            flat[i] = pick(n + 2);
        }
        1 => flat.push(pick(n + 1)),
        2 => {
            flat.pop();
        }
        _ => {}
    }
    flat
}

/// The rules of an answer, checked independently of `validate`.
fn keeps_the_rules(req: &Request, answer: &[Vec<u32>]) -> Result<(), String> {
    let n = req.nodes.len();
    if answer.len() != req.services.len() {
        return Err("not one entry per service".into());
    }
    let mut cpu = vec![0u64; n];
    let mut mem = vec![0u64; n];
    for (s, placed) in req.services.iter().zip(answer) {
        if placed.len() != s.replicas as usize {
            return Err(format!("{}: {} replicas placed", s.name, placed.len()));
        }
        if let Some(&x) = placed.iter().find(|&&x| x as usize >= n) {
            return Err(format!("{}: node #{x} does not exist", s.name));
        }
        let count = |v: &[u32]| {
            let mut m: HashMap<u32, u32> = HashMap::new();
            for &x in v {
                *m.entry(x).or_default() += 1;
            }
            m
        };
        let (now, had) = (count(placed), count(&s.existing));
        let sub = |a: &HashMap<u32, u32>, b: &HashMap<u32, u32>| {
            a.iter().all(|(x, k)| b.get(x).copied().unwrap_or(0) >= *k)
        };
        if (s.replicas as usize) < s.existing.len() {
            if !sub(&now, &had) {
                return Err(format!("{}: scale-down adds a replica", s.name));
            }
        } else if !sub(&had, &now) {
            return Err(format!("{}: an existing replica moved", s.name));
        }
        match s.anti_affinity {
            None => {}
            Some(Topology::Node) => {
                for (x, k) in &now {
                    if *k > had.get(x).copied().unwrap_or(0).max(1) {
                        return Err(format!("{}: {k} replicas on node #{x}", s.name));
                    }
                }
            }
            Some(Topology::Zone) => {
                let zone_of = |m: &HashMap<u32, u32>| {
                    let mut z: HashMap<u32, u32> = HashMap::new();
                    for (x, k) in m {
                        *z.entry(req.nodes[*x as usize].zone).or_default() += k;
                    }
                    z
                };
                let (zn, zh) = (zone_of(&now), zone_of(&had));
                for (z, k) in &zn {
                    if *k > zh.get(z).copied().unwrap_or(0).max(1) {
                        return Err(format!("{}: {k} replicas in zone #{z}", s.name));
                    }
                }
            }
        }
        for &x in placed {
            cpu[x as usize] += s.cpu_millis as u64;
            mem[x as usize] += s.memory_mib as u64;
        }
    }
    for (i, node) in req.nodes.iter().enumerate() {
        if cpu[i] > node.cpu_millis as u64 || mem[i] > node.memory_mib as u64 {
            return Err(format!("node #{i} over capacity"));
        }
    }
    Ok(())
}

/// A request is well formed by the rules `check_request` states.
fn well_formed(req: &Request) -> bool {
    let n = req.nodes.len();
    let mut ids: Vec<&str> = req.nodes.iter().map(|x| x.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut names: Vec<&str> = req.services.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if ids.len() != n || names.len() != req.services.len() {
        return false;
    }
    if req.nodes.iter().any(|x| {
        x.zone as usize >= req.zones.len() || x.instance_type as usize >= req.instance_types.len()
    }) {
        return false;
    }
    let mut cpu = vec![0u64; n];
    let mut mem = vec![0u64; n];
    for s in &req.services {
        if s.existing.iter().any(|&x| x as usize >= n) {
            return false;
        }
        // Replicas beyond `replicas` are the ones a scale-down removes.
        for &x in s.existing.iter().take(s.replicas as usize) {
            cpu[x as usize] += s.cpu_millis as u64;
            mem[x as usize] += s.memory_mib as u64;
        }
    }
    req.nodes
        .iter()
        .enumerate()
        .all(|(i, x)| cpu[i] <= x.cpu_millis as u64 && mem[i] <= x.memory_mib as u64)
}

proptest! {
    // Requests that overcommit a node are skipped (`prop_assume!`): allow
    // enough of them for long runs.
    #![proptest_config(ProptestConfig {
        max_global_rejects: 1_000_000,
        ..ProptestConfig::default()
    })]

    /// `check_request` never panics and accepts exactly the well-formed requests.
    #[test]
    fn requests_are_checked_without_panics(req in request()) {
        let verdict = check_request(&req);
        prop_assert_eq!(verdict.is_ok(), well_formed(&req), "{:?}", verdict);
        if let Err(m) = verdict {
            prop_assert!(!m.is_empty());
        }
    }

    /// On a well-formed request, any answer is split and checked without a
    /// panic, and accepted exactly when it keeps the rules.
    #[test]
    fn answers_are_accepted_exactly_when_they_keep_the_rules(
        req in sane_request(),
        seed in prop::collection::vec(any::<u32>(), 1..64),
    ) {
        prop_assume!(check_request(&req).is_ok());
        let flat = answer_for(&req, &seed);
        let total: usize = req.services.iter().map(|s| s.replicas as usize).sum();
        let answer = match split_answer(&req, &flat) {
            Ok(a) => a,
            Err(v) => {
                prop_assert_ne!(flat.len(), total, "{}", v);
                prop_assert!(!v.to_string().is_empty());
                return Ok(());
            }
        };
        prop_assert_eq!(flat.len(), total);
        prop_assert_eq!(answer.concat(), flat.clone());
        let verdict = check_answer(&req, &answer);
        let independent = keeps_the_rules(&req, &answer);
        prop_assert_eq!(
            verdict.is_ok(),
            independent.is_ok(),
            "validator: {:?}, independent check: {:?}, answer {:?}",
            verdict.as_ref().err().map(ToString::to_string),
            independent,
            answer
        );
    }

    /// Answers of any shape (wrong number of entries, any node index) are
    /// rejected or accepted without a panic; an accepted one keeps the rules.
    #[test]
    fn arbitrary_nested_answers_never_panic(
        req in sane_request(),
        answer in prop::collection::vec(prop::collection::vec(0u32..9, 0..7), 0..5),
    ) {
        prop_assume!(check_request(&req).is_ok());
        if check_answer(&req, &answer).is_ok() {
            prop_assert_eq!(keeps_the_rules(&req, &answer), Ok(()));
        }
    }
}

/// The generators reach both sides: among a fixed sample of well-formed
/// requests and generated answers, the validator accepts some and rejects
/// some, for more than one reason, so the properties above test something.
#[test]
fn the_generated_answers_are_sometimes_accepted_and_sometimes_not() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let strategy = (sane_request(), prop::collection::vec(any::<u32>(), 1..64));
    let (mut accepted, mut reasons) = (0, std::collections::BTreeSet::new());
    for _ in 0..2000 {
        let (req, seed) = strategy.new_tree(&mut runner).unwrap().current();
        if check_request(&req).is_err() {
            continue;
        }
        let flat = answer_for(&req, &seed);
        match split_answer(&req, &flat).and_then(|a| check_answer(&req, &a)) {
            Ok(()) => accepted += 1,
            Err(v) => {
                reasons.insert(
                    format!("{v:?}")
                        .split([' ', '{', '('])
                        .next()
                        .unwrap()
                        .to_string(),
                );
            }
        }
    }
    assert!(accepted >= 50, "only {accepted} accepted answers");
    assert!(reasons.len() >= 4, "rejections only for {reasons:?}");
}
