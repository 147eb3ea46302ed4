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

/// Per-node state of the greedy loop, kept together so that the hot scan
/// reads one array.
#[derive(Clone, Copy)]
struct St {
    free_cpu: u32,
    free_mem: u32,
    /// Replicas of the current service on this node.
    count: u32,
    /// How full the node is, in 1/65536 (see `load_of`).
    load: u32,
    zone: u32,
}

/// Scoring modes of the scan (const generics: the choice is made once per
/// service, not once per node).
const NODE_SPREAD: u8 = 0;
const ZONE_SPREAD: u8 = 1;
const PACK_CPU: u8 = 2;
const PACK_MEM: u8 = 3;
/// Anti-affinity modes.
const ANTI_NONE: u8 = 0;
const ANTI_NODE: u8 = 1;
const ANTI_ZONE: u8 = 2;

/// The feasible node with the lowest score (lowest index on ties), and
/// whether anti-affinity excluded a node that had room.
// Inlined natively (LLVM keeps the state in registers either way); kept out
// of line in wasm, where Cranelift allocates registers per function and the
// huge inlined `place` would spill the scan's loop invariants to the stack.
#[cfg_attr(target_arch = "wasm32", inline(never))]
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn pick<const MODE: u8, const ANTI: u8>(
    st: &[St],
    zone_count: &[u32],
    cpu: u32,
    mem: u32,
) -> (usize, bool) {
    let mut best = u64::MAX;
    let mut best_i = usize::MAX;
    let mut blocked = false;
    // One branch per node: the tests are combined with non-short-circuit
    // `&`/`|`, so the wasm build has few basic blocks (each one a fuel
    // update) per node.
    let mut consider = |i: usize, x: &St| {
        let fits = (x.free_cpu >= cpu) & (x.free_mem >= mem);
        let zc = if MODE == ZONE_SPREAD || ANTI == ANTI_ZONE {
            // SAFETY: `place` checked every node's zone against the number
            // of zones before any scan, and `zone_count` has one entry per
            // zone.
            unsafe { *zone_count.get_unchecked(x.zone as usize) }
        } else {
            0
        };
        let anti = match ANTI {
            ANTI_NODE => x.count > 0,
            ANTI_ZONE => zc > 0,
            _ => false,
        };
        blocked |= fits & anti;
        if !fits | anti {
            return;
        }
        let score =
            match MODE {
                NODE_SPREAD => ((x.count as u64) << 32) | x.load as u64,
                ZONE_SPREAD => {
                    ((zc.min((1 << 23) - 1) as u64) << 41)
                        | ((x.count.min((1 << 21) - 1) as u64) << 20)
                        | x.load as u64
                }
                // Best fit on the scarcest resource, then on the other one.
                // Clamped below u64::MAX, the "nothing found yet" mark.
                PACK_CPU => ((((x.free_cpu - cpu) as u64) << 32) | (x.free_mem - mem) as u64)
                    .min(u64::MAX - 1),
                _ => ((((x.free_mem - mem) as u64) << 32) | (x.free_cpu - cpu) as u64)
                    .min(u64::MAX - 1),
            };
        // Every score is below u64::MAX, so the first feasible node always
        // wins against the initial `best`.
        if score < best {
            best = score;
            best_i = i;
        }
    };
    // Eight nodes per loop iteration: in the wasm build every loop back-edge
    // carries a fuel and an epoch check, so fewer back-edges run faster
    // (sixteen was slower: the body no longer unrolls).
    let chunks = st.chunks_exact(8);
    let rest = chunks.remainder();
    for (c, oct) in chunks.enumerate() {
        let i = c * 8;
        for (k, x) in oct.iter().enumerate() {
            consider(i + k, x);
        }
    }
    let done = st.len() - rest.len();
    for (j, x) in rest.iter().enumerate() {
        consider(done + j, x);
    }
    (best_i, blocked)
}

fn pick_any(
    mode: u8,
    anti: Option<Topo>,
    st: &[St],
    zone_count: &[u32],
    cpu: u32,
    mem: u32,
) -> (usize, bool) {
    macro_rules! modes {
        ($($m:ident),*) => {
            match (mode, anti) {
                $(
                    ($m, None) => pick::<$m, ANTI_NONE>(st, zone_count, cpu, mem),
                    ($m, Some(Topo::Node)) => pick::<$m, ANTI_NODE>(st, zone_count, cpu, mem),
                    ($m, Some(Topo::Zone)) => pick::<$m, ANTI_ZONE>(st, zone_count, cpu, mem),
                )*
                _ => unreachable!("unknown scan mode"),
            }
        };
    }
    modes!(NODE_SPREAD, ZONE_SPREAD, PACK_CPU, PACK_MEM)
}

/// Places every service; answer `s` holds the node index of each replica of
/// service `s` (kept existing replicas first, then the new ones).
pub fn place(
    kind: Kind,
    zones: usize,
    nodes: &[NodeCap],
    services: &[Svc],
) -> Result<Vec<Vec<u32>>, Fail> {
    let n = nodes.len();
    for (i, node) in nodes.iter().enumerate() {
        if node.zone as usize >= zones {
            return Err(Fail::Invalid(format!(
                "node #{i} names zone #{} but the request has {zones} zones",
                node.zone
            )));
        }
    }
    let mut st: Vec<St> = nodes
        .iter()
        .map(|x| St {
            free_cpu: x.cpu,
            free_mem: x.mem,
            count: 0,
            load: 0,
            zone: x.zone,
        })
        .collect();
    // Free capacity after the existing replicas that are kept.
    let mut out: Vec<Vec<u32>> = Vec::with_capacity(services.len());
    for (si, s) in services.iter().enumerate() {
        let keep = s.existing.len().min(s.replicas as usize);
        let mut v = Vec::with_capacity(s.replicas as usize);
        for &x in &s.existing[..keep] {
            let Some(node) = st.get_mut(x as usize) else {
                return Err(Fail::Invalid(format!(
                    "service #{si} has an existing replica on node #{x} but the request has {n} nodes"
                )));
            };
            if node.free_cpu < s.cpu || node.free_mem < s.mem {
                return Err(Fail::Invalid(format!(
                    "existing replicas overcommit node #{x} (service #{si} does not fit)"
                )));
            }
            node.free_cpu -= s.cpu;
            node.free_mem -= s.mem;
            v.push(x);
        }
        out.push(v);
    }
    for (x, node) in st.iter_mut().zip(nodes) {
        x.load = load_of(node, x.free_cpu, x.free_mem);
    }

    // Service order: request order, or largest demand first for binpack.
    let mut order: Vec<usize> = (0..services.len()).collect();
    let total_cpu: u64 = nodes.iter().map(|x| x.cpu as u64).sum::<u64>().max(1);
    let total_mem: u64 = nodes.iter().map(|x| x.mem as u64).sum::<u64>().max(1);
    let demand_cpu: u64 = services
        .iter()
        .map(|s| s.cpu as u64 * s.replicas as u64)
        .sum();
    let demand_mem: u64 = services
        .iter()
        .map(|s| s.mem as u64 * s.replicas as u64)
        .sum();
    // Scarcest resource: the larger demand/capacity ratio (cross-multiplied).
    let cpu_scarce =
        demand_cpu as u128 * total_mem as u128 >= demand_mem as u128 * total_cpu as u128;
    if kind == Kind::Binpack {
        // Stable sort keeps request order among equals: deterministic.
        order.sort_by(|&a, &b| {
            let key = |s: &Svc| {
                (s.cpu as u128 * total_mem as u128).max(s.mem as u128 * total_cpu as u128)
            };
            key(&services[b]).cmp(&key(&services[a]))
        });
    }

    let mut zone_count = vec![0u32; zones];
    for &si in &order {
        let s = &services[si];
        let placed = &mut out[si];
        if placed.len() >= s.replicas as usize {
            continue;
        }
        st.iter_mut().for_each(|x| x.count = 0);
        zone_count.iter_mut().for_each(|c| *c = 0);
        for &x in placed.iter() {
            st[x as usize].count += 1;
            zone_count[nodes[x as usize].zone as usize] += 1;
        }
        let mode = match kind {
            Kind::ZoneSpread => ZONE_SPREAD,
            Kind::Spread if s.spread == Some(Topo::Zone) => ZONE_SPREAD,
            Kind::Spread => NODE_SPREAD,
            Kind::Binpack if cpu_scarce => PACK_CPU,
            Kind::Binpack => PACK_MEM,
        };
        while placed.len() < s.replicas as usize {
            let (best_i, blocked_by_anti) = pick_any(mode, s.anti, &st, &zone_count, s.cpu, s.mem);
            if best_i == usize::MAX {
                let placed = placed.len() as u32;
                return Err(if blocked_by_anti {
                    Fail::Unsatisfiable {
                        service: si,
                        placed,
                    }
                } else {
                    Fail::Capacity {
                        service: si,
                        placed,
                    }
                });
            }
            let x = &mut st[best_i];
            x.free_cpu -= s.cpu;
            x.free_mem -= s.mem;
            x.load = load_of(&nodes[best_i], x.free_cpu, x.free_mem);
            x.count += 1;
            zone_count[x.zone as usize] += 1;
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
    used_c.max(used_m) as u32
}
