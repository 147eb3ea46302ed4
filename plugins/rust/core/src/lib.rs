//! The placement algorithms of twip's built-in policies.
//!
//! This one file is compiled twice: into the wasm32 guests (`plugins/rust/*`)
//! and, through `#[path]`, into the host crate `twip-policy` as the *native
//! twins* used to cross-check answers and to measure the sandbox's overhead.
//! It therefore depends on nothing but `alloc` and knows nothing of WIT.
//!
//! All three policies share one greedy loop: services are placed one after
//! the other (request order, or largest first for `binpack`), every new
//! replica goes to the feasible node with the lowest score, ties broken by
//! the lowest node index. Feasible means: enough free cpu and memory, and no
//! replica of the same service already in the node's (or zone's)
//! anti-affinity domain. Everything is integer arithmetic, so the answer is
//! deterministic and identical in wasm and native code.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// Which built-in policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Across nodes (or the service's spread key), least-loaded first.
    Spread,
    /// Fewest nodes: best fit by the scarcest resource of the request.
    Binpack,
    /// Balance every service across zones, then across nodes.
    ZoneSpread,
}

/// A failure domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topo {
    Node,
    Zone,
}

/// A candidate node, as the algorithms see it.
#[derive(Clone, Copy, Debug)]
pub struct NodeCap {
    pub zone: u32,
    pub cpu: u32,
    pub mem: u32,
}

/// A service, as the algorithms see it.
#[derive(Clone, Copy, Debug)]
pub struct Svc<'a> {
    pub replicas: u32,
    pub cpu: u32,
    pub mem: u32,
    pub spread: Option<Topo>,
    pub anti: Option<Topo>,
    pub existing: &'a [u32],
}

/// Why a request cannot be placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fail {
    /// Not enough free cpu or memory for a replica of `service`.
    Capacity { service: usize, placed: u32 },
    /// Capacity would allow it, but anti-affinity does not.
    Unsatisfiable { service: usize, placed: u32 },
    /// The request is malformed.
    Invalid(String),
}

impl Fail {
    /// One line for humans, using the service names of the request.
    pub fn describe(&self, services: &[Svc], name: &dyn Fn(usize) -> String) -> String {
        match self {
            Fail::Capacity { service, placed } => {
                let s = &services[*service];
                format!(
                    "service '{}': only {} of {} replicas fit: no node has {}m cpu and {} MiB memory free",
                    name(*service),
                    placed,
                    s.replicas,
                    s.cpu,
                    s.mem
                )
            }
            Fail::Unsatisfiable { service, placed } => {
                let s = &services[*service];
                let dom = match s.anti {
                    Some(Topo::Zone) => "zone",
                    _ => "node",
                };
                format!(
                    "service '{}': anti-affinity allows one replica per {dom}, and only {} of {} replicas found a free {dom}",
                    name(*service),
                    placed,
                    s.replicas
                )
            }
            Fail::Invalid(m) => m.clone(),
        }
    }
}

const LOAD_BITS: u32 = 20;
const COUNT_BITS: u32 = 21;

/// Places every service; answer `s` holds the node index of each replica of
/// service `s` (kept existing replicas first, then the new ones).
pub fn place(kind: Kind, zones: usize, nodes: &[NodeCap], services: &[Svc]) -> Result<Vec<Vec<u32>>, Fail> {
    let n = nodes.len();
    for (i, node) in nodes.iter().enumerate() {
        if node.zone as usize >= zones {
            return Err(Fail::Invalid(format!(
                "node #{i} names zone #{} but the request has {zones} zones",
                node.zone
            )));
        }
    }
    // Free capacity after the existing replicas that are kept.
    let mut free_cpu: Vec<u32> = nodes.iter().map(|x| x.cpu).collect();
    let mut free_mem: Vec<u32> = nodes.iter().map(|x| x.mem).collect();
    let mut out: Vec<Vec<u32>> = Vec::with_capacity(services.len());
    for (si, s) in services.iter().enumerate() {
        let keep = s.existing.len().min(s.replicas as usize);
        let mut v = Vec::with_capacity(s.replicas as usize);
        for &x in &s.existing[..keep] {
            let xi = x as usize;
            if xi >= n {
                return Err(Fail::Invalid(format!(
                    "service #{si} has an existing replica on node #{x} but the request has {n} nodes"
                )));
            }
            if free_cpu[xi] < s.cpu || free_mem[xi] < s.mem {
                return Err(Fail::Invalid(format!(
                    "existing replicas overcommit node #{x} (service #{si} does not fit)"
                )));
            }
            free_cpu[xi] -= s.cpu;
            free_mem[xi] -= s.mem;
            v.push(x);
        }
        out.push(v);
    }

    // Service order: request order, or largest demand first for binpack.
    let mut order: Vec<usize> = (0..services.len()).collect();
    let total_cpu: u64 = nodes.iter().map(|x| x.cpu as u64).sum::<u64>().max(1);
    let total_mem: u64 = nodes.iter().map(|x| x.mem as u64).sum::<u64>().max(1);
    let demand_cpu: u64 = services.iter().map(|s| s.cpu as u64 * s.replicas as u64).sum();
    let demand_mem: u64 = services.iter().map(|s| s.mem as u64 * s.replicas as u64).sum();
    // Scarcest resource: the larger demand/capacity ratio (cross-multiplied).
    let cpu_scarce = demand_cpu as u128 * total_mem as u128 >= demand_mem as u128 * total_cpu as u128;
    if kind == Kind::Binpack {
        // Stable sort keeps request order among equals: deterministic.
        order.sort_by(|&a, &b| {
            let key = |s: &Svc| {
                (s.cpu as u128 * total_mem as u128).max(s.mem as u128 * total_cpu as u128)
            };
            key(&services[b]).cmp(&key(&services[a]))
        });
    }

    let mut load: Vec<u32> = (0..n).map(|i| load_of(&nodes[i], free_cpu[i], free_mem[i])).collect();
    let mut node_count = vec![0u32; n];
    let mut zone_count = vec![0u32; zones];
    for &si in &order {
        let s = &services[si];
        let placed = &mut out[si];
        if placed.len() >= s.replicas as usize {
            continue;
        }
        node_count.iter_mut().for_each(|c| *c = 0);
        zone_count.iter_mut().for_each(|c| *c = 0);
        for &x in placed.iter() {
            node_count[x as usize] += 1;
            zone_count[nodes[x as usize].zone as usize] += 1;
        }
        let zone_first = match kind {
            Kind::ZoneSpread => true,
            Kind::Spread => s.spread == Some(Topo::Zone),
            Kind::Binpack => false,
        };
        while placed.len() < s.replicas as usize {
            let mut best = u64::MAX;
            let mut best_i = usize::MAX;
            let mut blocked_by_anti = false;
            for i in 0..n {
                if free_cpu[i] < s.cpu || free_mem[i] < s.mem {
                    continue;
                }
                let z = nodes[i].zone as usize;
                match s.anti {
                    Some(Topo::Node) if node_count[i] > 0 => {
                        blocked_by_anti = true;
                        continue;
                    }
                    Some(Topo::Zone) if zone_count[z] > 0 => {
                        blocked_by_anti = true;
                        continue;
                    }
                    _ => {}
                }
                let score = match kind {
                    Kind::Binpack => {
                        // Best fit on the scarcest resource, then the other.
                        let (a, b) = if cpu_scarce {
                            (free_cpu[i] - s.cpu, free_mem[i] - s.mem)
                        } else {
                            (free_mem[i] - s.mem, free_cpu[i] - s.cpu)
                        };
                        ((a as u64) << 32) | b as u64
                    }
                    Kind::Spread | Kind::ZoneSpread => {
                        let nc = (node_count[i] as u64).min((1 << COUNT_BITS) - 1);
                        let zc = if zone_first {
                            (zone_count[z] as u64).min((1 << (64 - LOAD_BITS - COUNT_BITS)) - 1)
                        } else {
                            0
                        };
                        (zc << (LOAD_BITS + COUNT_BITS)) | (nc << LOAD_BITS) | load[i] as u64
                    }
                };
                if score < best {
                    best = score;
                    best_i = i;
                }
            }
            if best_i == usize::MAX {
                let placed = placed.len() as u32;
                return Err(if blocked_by_anti {
                    Fail::Unsatisfiable { service: si, placed }
                } else {
                    Fail::Capacity { service: si, placed }
                });
            }
            free_cpu[best_i] -= s.cpu;
            free_mem[best_i] -= s.mem;
            load[best_i] = load_of(&nodes[best_i], free_cpu[best_i], free_mem[best_i]);
            node_count[best_i] += 1;
            zone_count[nodes[best_i].zone as usize] += 1;
            placed.push(best_i as u32);
        }
    }
    Ok(out)
}

/// How full a node is: its fuller resource, in 1/65536 of the node.
fn load_of(node: &NodeCap, free_cpu: u32, free_mem: u32) -> u32 {
    let c = node.cpu.max(1) as u64;
    let m = node.mem.max(1) as u64;
    let used_c = ((c - free_cpu.min(node.cpu) as u64) << 16) / c;
    let used_m = ((m - free_mem.min(node.mem) as u64) << 16) / m;
    used_c.max(used_m).min((1 << LOAD_BITS) - 1) as u32
}
