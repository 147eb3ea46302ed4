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
//!
//! How it is fast: a node's score changes only when a replica lands on it,
//! so each node's score for the current service is computed once (a `key`)
//! and updated for the one chosen node. Picking a node is then a minimum
//! over an array of keys (`argmin`), one run per zone, with the zone-level
//! part of a score (replicas in the zone, zone anti-affinity) applied once
//! per zone. `crates/twip-policy/tests/reference.rs` checks the answers
//! against the rule written the plain way.

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

/// Per-node state of the greedy loop.
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

/// Scoring modes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    NodeSpread,
    ZoneSpread,
    PackCpu,
    PackMem,
}

/// What a node scores for the next replica of a service (lower is better),
/// without the zone-level part of `Mode::ZoneSpread`; `u64::MAX` when the
/// replica does not fit or node anti-affinity forbids the node. Every
/// feasible key is below `u64::MAX`.
fn key(mode: Mode, anti_node: bool, x: &St, cpu: u32, mem: u32) -> u64 {
    if x.free_cpu < cpu || x.free_mem < mem || (anti_node && x.count > 0) {
        return u64::MAX;
    }
    match mode {
        Mode::NodeSpread => ((x.count as u64) << 32) | x.load as u64,
        Mode::ZoneSpread => ((x.count.min((1 << 21) - 1) as u64) << 20) | x.load as u64,
        // Best fit on the scarcest resource, then on the other one.
        Mode::PackCpu => {
            ((((x.free_cpu - cpu) as u64) << 32) | (x.free_mem - mem) as u64).min(u64::MAX - 1)
        }
        Mode::PackMem => {
            ((((x.free_mem - mem) as u64) << 32) | (x.free_cpu - cpu) as u64).min(u64::MAX - 1)
        }
    }
}

/// Keys per chunk, the unit of the scan.
const CHUNK: usize = 16;

/// Sixteen keys on two cache lines.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Chunk([u64; CHUNK]);

/// The lowest key in `chunks` and its position (the first one on ties);
/// `usize::MAX` when every key is `u64::MAX`.
///
/// This is the hot loop of every built-in policy. Each chunk of sixteen
/// keys is reduced with branch-free minimums (`min16`), four chunks per
/// loop iteration, and only then compared with the best so far: one
/// well-predicted branch per 64 nodes. In the wasm build every basic block
/// costs a fuel update and every loop back-edge an epoch check, so the loop
/// is one block over many nodes.
///
/// Three things keep the wasm loop close to the native one:
/// - loads carry their constant offset (`i64.load offset=8*j` from one
///   pointer), because `plugins/build.sh` turns off LLVM's loop strength
///   reduction for wasm32, which otherwise gives every load its own add;
/// - `settle` after every eight keys and every chunk. Cranelift places
///   pure instructions (the compares and selects) next to their first use,
///   so without a side effect in between all the loads come first, more
///   values than x86-64 has registers, and keys spill to the stack;
/// - four chunks per iteration: the fuel and epoch checks of the back-edge
///   (and the spills around them) are paid once per 64 keys. Natively this
///   unrolling measured neither faster nor slower.
///
/// Measured and dropped (slower in one build or the other): 8 or 32 keys
/// per chunk, two or eight chunks per iteration, settling every four keys,
/// an index counter instead of the pointer, conditional moves for the best
/// so far (the `found` flag keeps that update a branch), per-chunk minimums
/// kept in an array, one call per pick over all zones, one run in node
/// order for scores without a zone part.
// Kept out of line in wasm, where Cranelift allocates registers per
// function.
#[cfg_attr(target_arch = "wasm32", inline(never))]
fn argmin(chunks: &[Chunk]) -> (u64, usize) {
    let mut best = u64::MAX;
    let range = chunks.as_ptr_range();
    // The chunk that holds the first lowest key.
    let mut best_at = range.start;
    let mut found = false;
    let mut p = range.start;
    // Four chunks per iteration, then the rest one by one.
    // SAFETY: at most `chunks.len()` chunks past the start.
    let quads_end = unsafe { range.start.add(chunks.len() & !3) };
    while p < quads_end {
        // SAFETY: `p..p + 4` is in `chunks` (`p < quads_end`).
        let at = |i: usize| unsafe { p.add(i) };
        // SAFETY: as above.
        let (m0, m1, m2, m3) = unsafe {
            let m0 = settle(min16(at(0)));
            let m1 = settle(min16(at(1)));
            let m2 = settle(min16(at(2)));
            (m0, m1, m2, min16(at(3)))
        };
        let m = m0.min(m1).min(m2.min(m3));
        if m < best {
            best = m;
            best_at = at(if m0 == m {
                0
            } else if m1 == m {
                1
            } else if m2 == m {
                2
            } else {
                3
            });
            found = true;
        }
        p = at(4);
    }
    while p < range.end {
        // SAFETY: `p` is in `chunks` (`start <= p < end`).
        let m = unsafe { min16(p) };
        if m < best {
            best = m;
            best_at = p;
            found = true;
        }
        // SAFETY: at most one past the end of `chunks`.
        p = unsafe { p.add(1) };
    }
    if !found {
        return (best, usize::MAX);
    }
    // SAFETY: `best_at` is in `chunks`.
    let c = unsafe { best_at.offset_from(range.start) } as usize;
    let j = chunks[c].0.iter().position(|&x| x == best).unwrap_or(0);
    (best, c * CHUNK + j)
}

/// The lowest of the sixteen keys of the chunk at `p`, branch-free.
///
/// # Safety
/// `p` points to a chunk.
#[inline(always)]
unsafe fn min16(p: *const Chunk) -> u64 {
    // SAFETY: the caller's.
    let k = |j: usize| unsafe { (*p).0[j] };
    let min8 = |j: usize| {
        let a = k(j).min(k(j + 1)).min(k(j + 2).min(k(j + 3)));
        let b = k(j + 4).min(k(j + 5)).min(k(j + 6).min(k(j + 7)));
        a.min(b)
    };
    settle(min8(0)).min(min8(8))
}

/// Returns `m`; in the wasm build it is also stored (volatile) to a static,
/// a side effect that makes Cranelift compute `m` at this point (see
/// `argmin`). Seven stores per 64 keys; the native twin has none.
#[inline(always)]
fn settle(m: u64) -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        static mut SINK: u64 = 0;
        // SAFETY: single-threaded wasm; nothing reads SINK.
        unsafe { core::ptr::write_volatile(&raw mut SINK, m) };
    }
    m
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

    // Nodes grouped by zone (by index within a zone), every zone padded to
    // whole chunks of keys: a zone is one run of `chunks`, so its best
    // node is one `argmin`, and the zone-level part of a score (replicas
    // per zone, zone anti-affinity) is applied once per zone, not per node.
    let mut zone_start = vec![0usize; zones + 1]; // in chunks
    for node in nodes {
        zone_start[node.zone as usize + 1] += 1;
    }
    for z in 0..zones {
        zone_start[z + 1] = zone_start[z] + zone_start[z + 1].div_ceil(CHUNK);
    }
    // The node of every key slot (`u32::MAX`: padding), and the slot of
    // every node.
    let mut node_at = vec![u32::MAX; zone_start[zones] * CHUNK];
    let mut slot = vec![0usize; n];
    let mut fill: Vec<usize> = zone_start.iter().map(|c| c * CHUNK).collect();
    for (i, node) in nodes.iter().enumerate() {
        let f = &mut fill[node.zone as usize];
        node_at[*f] = i as u32;
        slot[i] = *f;
        *f += 1;
    }
    // Slot `slot[i]` of `chunks` is `key(..)` of node `i` for the current
    // service; padding stays `u64::MAX`.
    let mut chunks = vec![Chunk([u64::MAX; CHUNK]); zone_start[zones]];
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
            Kind::ZoneSpread => Mode::ZoneSpread,
            Kind::Spread if s.spread == Some(Topo::Zone) => Mode::ZoneSpread,
            Kind::Spread => Mode::NodeSpread,
            Kind::Binpack if cpu_scarce => Mode::PackCpu,
            Kind::Binpack => Mode::PackMem,
        };
        let anti_node = s.anti == Some(Topo::Node);
        let anti_zone = s.anti == Some(Topo::Zone);
        let set_key = |chunks: &mut [Chunk], i: usize, x: &St| {
            let p = slot[i];
            chunks[p / CHUNK].0[p % CHUNK] = key(mode, anti_node, x, s.cpu, s.mem);
        };
        for (i, x) in st.iter().enumerate() {
            set_key(&mut chunks, i, x);
        }
        while placed.len() < s.replicas as usize {
            // The lowest score, lowest node index on ties, over the zones.
            let mut best = u64::MAX;
            let mut best_i = usize::MAX;
            for (z, &zc) in zone_count.iter().enumerate() {
                if anti_zone && zc > 0 {
                    continue;
                }
                let run = zone_start[z]..zone_start[z + 1];
                let (k, p) = argmin(&chunks[run.clone()]);
                if p == usize::MAX {
                    continue;
                }
                let score = match mode {
                    Mode::ZoneSpread => ((zc.min((1 << 23) - 1) as u64) << 41) | k,
                    _ => k,
                };
                let i = node_at[run.start * CHUNK + p] as usize;
                if score < best || (score == best && i < best_i) {
                    best = score;
                    best_i = i;
                }
            }
            if best_i == usize::MAX {
                // Did anti-affinity exclude a node that had room?
                let blocked = st.iter().any(|x| {
                    let fits = x.free_cpu >= s.cpu && x.free_mem >= s.mem;
                    fits && ((anti_node && x.count > 0)
                        || (anti_zone && zone_count[x.zone as usize] > 0))
                });
                let placed = placed.len() as u32;
                return Err(if blocked {
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
            set_key(&mut chunks, best_i, x);
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
