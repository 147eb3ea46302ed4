//! The built-in policies against a reference: the greedy rule of
//! `plugins/rust/core` written the plain way (every node scored for every
//! replica), on random requests — uneven zones, mixed node sizes, existing
//! replicas, spread keys, anti-affinity, and requests that cannot be placed.
//! The real implementation keeps per-zone runs of precomputed keys; this
//! checks that it picks exactly the node the rule says, every time.

use std::sync::OnceLock;
use twip_policy::{native, ErrorKind, Host, Node, PolicyError, Request, Service, Topology};

/// The rule, stated directly. Answers the node of every replica (services
/// in request order), or why the request cannot be placed.
fn reference(kind: &str, req: &Request) -> Result<Vec<u32>, ErrorKind> {
    let nodes = &req.nodes;
    let mut free: Vec<(u32, u32)> = nodes.iter().map(|x| (x.cpu_millis, x.memory_mib)).collect();
    let mut out: Vec<Vec<u32>> = Vec::new();
    for s in &req.services {
        let keep = s.existing.len().min(s.replicas as usize);
        for &x in &s.existing[..keep] {
            free[x as usize].0 -= s.cpu_millis;
            free[x as usize].1 -= s.memory_mib;
        }
        out.push(s.existing[..keep].to_vec());
    }
    let load = |i: usize, free: &[(u32, u32)]| -> u64 {
        let c = nodes[i].cpu_millis.max(1) as u64;
        let m = nodes[i].memory_mib.max(1) as u64;
        let uc = ((c - free[i].0.min(nodes[i].cpu_millis) as u64) << 16) / c;
        let um = ((m - free[i].1.min(nodes[i].memory_mib) as u64) << 16) / m;
        uc.max(um)
    };
    let total_cpu: u128 = nodes
        .iter()
        .map(|x| x.cpu_millis as u128)
        .sum::<u128>()
        .max(1);
    let total_mem: u128 = nodes
        .iter()
        .map(|x| x.memory_mib as u128)
        .sum::<u128>()
        .max(1);
    let demand = |f: fn(&Service) -> u32| -> u128 {
        req.services
            .iter()
            .map(|s| f(s) as u128 * s.replicas as u128)
            .sum()
    };
    let cpu_scarce = demand(|s| s.cpu_millis) * total_mem >= demand(|s| s.memory_mib) * total_cpu;
    let mut order: Vec<usize> = (0..req.services.len()).collect();
    if kind == "binpack" {
        let size =
            |s: &Service| (s.cpu_millis as u128 * total_mem).max(s.memory_mib as u128 * total_cpu);
        order.sort_by(|&a, &b| size(&req.services[b]).cmp(&size(&req.services[a])));
    }
    for si in order {
        let s = &req.services[si];
        let mut count = vec![0u64; nodes.len()];
        let mut in_zone = vec![0u64; req.zones.len()];
        for &x in &out[si] {
            count[x as usize] += 1;
            in_zone[nodes[x as usize].zone as usize] += 1;
        }
        let zone_mode =
            kind == "zone-spread" || (kind == "spread" && s.spread == Some(Topology::Zone));
        while out[si].len() < s.replicas as usize {
            let mut best: Option<((u64, u64, u64), usize)> = None;
            let mut blocked = false;
            for (i, x) in nodes.iter().enumerate() {
                let fits = free[i].0 >= s.cpu_millis && free[i].1 >= s.memory_mib;
                let anti = match s.anti_affinity {
                    Some(Topology::Node) => count[i] > 0,
                    Some(Topology::Zone) => in_zone[x.zone as usize] > 0,
                    None => false,
                };
                blocked |= fits && anti;
                if !fits || anti {
                    continue;
                }
                let (fc, fm) = (
                    (free[i].0 - s.cpu_millis) as u64,
                    (free[i].1 - s.memory_mib) as u64,
                );
                let score = match kind {
                    "binpack" if cpu_scarce => (fc, fm, 0),
                    "binpack" => (fm, fc, 0),
                    _ if zone_mode => (in_zone[x.zone as usize], count[i], load(i, &free)),
                    _ => (count[i], load(i, &free), 0),
                };
                if best.is_none_or(|(b, _)| score < b) {
                    best = Some((score, i));
                }
            }
            let Some((_, i)) = best else {
                return Err(if blocked {
                    ErrorKind::Unsatisfiable
                } else {
                    ErrorKind::InsufficientCapacity
                });
            };
            free[i].0 -= s.cpu_millis;
            free[i].1 -= s.memory_mib;
            count[i] += 1;
            in_zone[nodes[i].zone as usize] += 1;
            out[si].push(i as u32);
        }
    }
    Ok(out.concat())
}

/// A small deterministic generator (splitmix64).
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn random_request(g: &mut Gen) -> Request {
    let zones = 1 + g.below(5) as usize;
    // Mostly small; sometimes several chunks of keys per zone.
    let n = if g.below(4) == 0 {
        g.below(400)
    } else {
        g.below(70)
    } as usize;
    let nodes: Vec<Node> = (0..n)
        .map(|i| Node {
            id: format!("n{i}"),
            instance_type: 0,
            // Uneven zones, in no particular order; some zones empty.
            zone: (g.below(zones as u64 * 3) as usize % zones) as u32,
            cpu_millis: g.pick(&[1000, 2000, 4000, 8000, 0]),
            memory_mib: g.pick(&[2048, 4096, 16384, 32768]),
            labels: Vec::new(),
        })
        .collect();
    let mut free: Vec<(u32, u32)> = nodes.iter().map(|x| (x.cpu_millis, x.memory_mib)).collect();
    let services = (0..1 + g.below(6))
        .map(|k| {
            let cpu = g.pick(&[0, 100, 250, 500, 1500]);
            let mem = g.pick(&[128, 512, 1024, 3000]);
            // Existing replicas where they fit, as a real plan would have.
            let mut existing = Vec::new();
            for _ in 0..g.below(4) {
                if n > 0 {
                    let x = g.below(n as u64) as usize;
                    if free[x].0 >= cpu && free[x].1 >= mem {
                        free[x].0 -= cpu;
                        free[x].1 -= mem;
                        existing.push(x as u32);
                    }
                }
            }
            Service {
                name: format!("s{k}"),
                replicas: g.below(30) as u32,
                cpu_millis: cpu,
                memory_mib: mem,
                spread: g.pick(&[None, Some(Topology::Node), Some(Topology::Zone)]),
                anti_affinity: g.pick(&[None, None, Some(Topology::Node), Some(Topology::Zone)]),
                existing,
            }
        })
        .collect();
    Request {
        zones: (0..zones).map(|z| format!("z{z}")).collect(),
        instance_types: vec!["t".into()],
        nodes,
        services,
    }
}

fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host::new().expect("host"))
}

#[test]
fn builtins_follow_the_greedy_rule_on_random_requests() {
    let mut g = Gen(20261126);
    let mut outcomes = [0usize; 3];
    for round in 0..600 {
        let req = random_request(&mut g);
        for name in ["spread", "binpack", "zone-spread"] {
            let want = reference(name, &req);
            let got = native::place(native::kind(name).unwrap(), &req);
            match (&want, &got) {
                (Ok(w), Ok(a)) => assert_eq!(&a.concat(), w, "{name}, round {round}: {req:?}"),
                (Err(w), Err(e)) => assert_eq!(w, &e.kind, "{name}, round {round}: {}", e.message),
                _ => panic!("{name}, round {round}: reference {want:?}, policy {got:?}\n{req:?}"),
            }
            outcomes[match want {
                Ok(_) => 0,
                Err(ErrorKind::Unsatisfiable) => 1,
                Err(_) => 2,
            }] += 1;
            // The wasm build of the same rule, every tenth round.
            if round % 10 == 0 {
                let mut p = host().load_builtin(name).unwrap();
                match (p.place_raw(&req), want) {
                    (Ok(a), Ok(w)) => assert_eq!(a, w, "{name} (wasm), round {round}"),
                    (Err(PolicyError::Refused { .. }), Err(_)) => {}
                    (a, w) => panic!("{name} (wasm), round {round}: {a:?} vs reference {w:?}"),
                }
            }
        }
    }
    // The generator exercised every outcome, not only the easy one.
    assert!(
        outcomes.iter().all(|&k| k >= 50),
        "placed / unsatisfiable / no capacity: {outcomes:?}"
    );
}
