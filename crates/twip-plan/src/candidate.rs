//! Candidate generation: instance type × node count × replica counts, and
//! the capacity check that needs no placement.

use twip_model::FailureKind;

use crate::explain::Shortfall;
use crate::Planner;
use twip_model::replica_cpu_millis;

/// Replica levels above the analytic minimum that the search tries.
pub const LEVELS: [f64; 8] = [0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0];

/// Steps of the bisection that gives filled replicas back.
pub(crate) const FILL_STEPS: u32 = 16;

/// One candidate: a node count of one instance type and replica counts.
#[derive(Debug, Clone)]
pub(crate) struct Cand {
    /// Index into the infrastructure's types.
    pub ty: usize,
    pub nodes: u32,
    /// The floor: fewer replicas than this are not tried.
    pub base: Vec<u32>,
    pub replicas: Vec<u32>,
    pub hourly: f64,
}

/// `base` plus `k / FILL_STEPS` of the extra replicas of `full`.
pub(crate) fn fill_fraction(base: &[u32], full: &[u32], k: u32) -> Vec<u32> {
    base.iter()
        .zip(full)
        .map(|(&b, &f)| b + (f - b) * k / FILL_STEPS)
        .collect()
}

/// `n` replicas of `s` as the scenario allows them: exactly `replicas` for
/// a service that cannot scale (`fixed = true`), at most `max_replicas`.
pub(crate) fn capped(s: &twip_model::Service, n: u32) -> u32 {
    match s.max_replicas {
        Some(_) if s.fixed => s.replicas,
        Some(m) => n.min(m),
        None => n,
    }
}

/// First-fit decreasing of `replicas` of `sizes` (millicores, MiB) onto
/// `nodes` identical nodes: a quick, near-optimal packing test.
fn ffd_fits(sizes: &[(u64, u64)], replicas: &[u32], nodes: u32, cap: (u64, u64)) -> bool {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let mut free = vec![cap; nodes as usize];
    for i in order {
        let (c, m) = sizes[i];
        let mut start = 0;
        for _ in 0..replicas[i] {
            let Some(k) = (start..free.len()).find(|&k| free[k].0 >= c && free[k].1 >= m) else {
                return false;
            };
            free[k].0 -= c;
            free[k].1 -= m;
            // Replicas of one size never fit an earlier node that refused one.
            start = k;
        }
    }
    true
}

impl Planner {
    pub(crate) fn survive(&self, k: FailureKind) -> bool {
        self.scenario
            .slo
            .as_ref()
            .is_some_and(|s| s.survive.contains(&k))
    }

    /// Replica counts of `level` for `nodes` nodes: the level's count plus
    /// what the worst node or zone loss would take (evenly spread).
    /// `None` when `nodes` nodes cannot survive what the SLO demands
    /// (one node for a node loss, one zone for a zone loss).
    pub fn replicas_for(&self, level: f64, nodes: u32) -> Option<Vec<u32>> {
        let zones = (nodes as usize).min(self.infra.zones.len()).max(1) as u32;
        if (self.survive(FailureKind::Node) && nodes < 2)
            || (self.survive(FailureKind::Zone) && zones < 2)
        {
            return None;
        }
        let r = self
            .sizing
            .min_replicas
            .iter()
            .zip(&self.scenario.services)
            .map(|(&m, sv)| {
                let need = ((m as f64 * level).ceil() as u32).max(1);
                let mut n = need;
                if self.survive(FailureKind::Node) {
                    n = n.max(2);
                    while n - n.div_ceil(nodes) < need && n < need * 4 + 4 {
                        n += 1;
                    }
                }
                if self.survive(FailureKind::Zone) && zones >= 2 {
                    while n - n.div_ceil(zones) < need && n < need * 4 + 4 {
                        n += 1;
                    }
                }
                capped(sv, n)
            })
            .collect();
        Some(r)
    }

    /// Replicas a service keeps after the worst loss the SLO demands,
    /// evenly spread over `nodes` nodes.
    fn survivors(&self, r: u32, nodes: u32) -> u32 {
        let zones = (nodes as usize).min(self.infra.zones.len()).max(1) as u32;
        let mut s = r;
        if self.survive(FailureKind::Node) {
            s = s.min(r - r.div_ceil(nodes.max(1)));
        }
        if self.survive(FailureKind::Zone) {
            s = s.min(r - r.div_ceil(zones));
        }
        s
    }

    /// (millicores, MiB) of one replica of every service.
    fn replica_sizes(&self) -> Vec<(u64, u64)> {
        self.scenario
            .services
            .iter()
            .map(|s| (replica_cpu_millis(s.cpu) as u64, s.memory_mb as u64))
            .collect()
    }

    /// The candidate for `nodes` nodes of type `ty`: the floor level's
    /// replicas, then as many more as the nodes hold, each to the service
    /// whose utilisation after the worst loss is highest (a node costs the
    /// same however full it is, so a plan uses what it pays for). `None`
    /// when the node count cannot survive what the SLO demands.
    pub(crate) fn candidate(&self, ty: usize, nodes: u32) -> Option<Cand> {
        let base = self.replicas_for(LEVELS[0], nodes)?;
        let shape = &self.shapes[ty];
        let (cpu, mem) = (shape.cpu_millis, shape.memory_mib);
        let (cap_cpu, cap_mem) = (cpu as u64 * nodes as u64, mem as u64 * nodes as u64);
        let size = self.replica_sizes();
        let mut r = base.clone();
        let used = |r: &[u32]| {
            r.iter()
                .zip(&size)
                .fold((0u64, 0u64), |(c, m), (&n, &(sc, sm))| {
                    (c + sc * n as u64, m + sm * n as u64)
                })
        };
        let (mut uc, mut um) = used(&r);
        if uc <= cap_cpu && um <= cap_mem {
            loop {
                let mut best: Option<(f64, usize)> = None;
                for (i, sv) in self.scenario.services.iter().enumerate() {
                    if uc + size[i].0 > cap_cpu || um + size[i].1 > cap_mem {
                        continue;
                    }
                    if r[i] >= base[i] * 3 + 2 || capped(sv, r[i] + 1) <= r[i] {
                        continue;
                    }
                    let load =
                        self.sizing.peak_rps * self.sizing.visits[i] * self.sizing.holding_s[i];
                    let surv = self.survivors(r[i], nodes).max(1) as f64;
                    let p = load / (surv * sv.workers as f64);
                    if best.is_none_or(|(b, _)| p > b) {
                        best = Some((p, i));
                    }
                }
                let Some((_, i)) = best else { break };
                r[i] += 1;
                uc += size[i].0;
                um += size[i].1;
            }
        }
        let cap = (cpu as u64, mem as u64);
        if r != base && !ffd_fits(&size, &r, nodes, cap) {
            let (mut lo, mut hi) = (0u32, FILL_STEPS);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if ffd_fits(&size, &fill_fraction(&base, &r, mid), nodes, cap) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            r = fill_fraction(&base, &r, lo);
        }
        Some(Cand {
            ty,
            nodes,
            base,
            replicas: r,
            hourly: self.infra.types[ty].1 * nodes as f64,
        })
    }

    /// Every candidate, cheapest first (then fewer nodes, then catalog order).
    pub(crate) fn candidates(&self) -> Vec<Cand> {
        let mut out = Vec::new();
        for ti in 0..self.infra.types.len() {
            for n in 1..=self.scenario.infrastructure.max_nodes {
                out.extend(self.candidate(ti, n));
            }
        }
        out.sort_by(|a, b| {
            a.hourly
                .total_cmp(&b.hourly)
                .then(a.nodes.cmp(&b.nodes))
                .then(a.ty.cmp(&b.ty))
        });
        out
    }

    /// Capacity check without placement.
    pub(crate) fn fits(&self, c: &Cand) -> Result<(), Shortfall> {
        let shape = &self.shapes[c.ty];
        let (cpu, mem) = (shape.cpu_millis, shape.memory_mib);
        let t = &self.infra.types[c.ty].0;
        let mut need_cpu = 0u64;
        let mut need_mem = 0u64;
        for (s, &n) in self.scenario.services.iter().zip(&c.replicas) {
            let sc = replica_cpu_millis(s.cpu);
            if sc > cpu || s.memory_mb > mem {
                return Err(Shortfall::ReplicaTooBig {
                    service: s.name.clone(),
                    cpu: s.cpu,
                    memory_mb: s.memory_mb,
                    instance_type: t.name.clone(),
                    node_cpu_millis: cpu,
                    burstable: t.burstable_baseline.is_some(),
                    node_memory_mb: mem,
                });
            }
            need_cpu += sc as u64 * n as u64;
            need_mem += s.memory_mb as u64 * n as u64;
        }
        let have_cpu = cpu as u64 * c.nodes as u64;
        let have_mem = mem as u64 * c.nodes as u64;
        if need_cpu > have_cpu {
            return Err(Shortfall::Cpu {
                need_millis: need_cpu,
                nodes: c.nodes,
                have_millis: have_cpu,
            });
        }
        if need_mem > have_mem {
            return Err(Shortfall::Memory {
                need_mb: need_mem,
                nodes: c.nodes,
                have_mb: have_mem,
            });
        }
        if !ffd_fits(
            &self.replica_sizes(),
            &c.replicas,
            c.nodes,
            (cpu as u64, mem as u64),
        ) {
            return Err(Shortfall::Packing {
                nodes: c.nodes,
                node_cpu_millis: cpu,
                node_memory_mb: mem,
            });
        }
        Ok(())
    }

    /// `3 x m5.large (lb 2, static 2, app 4)`.
    pub(crate) fn describe(&self, c: &Cand) -> String {
        format!(
            "{} x {} ({})",
            c.nodes,
            self.infra.types[c.ty].0.name,
            self.scenario
                .services
                .iter()
                .zip(&c.replicas)
                .map(|(s, n)| format!("{} {n}", s.name))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
