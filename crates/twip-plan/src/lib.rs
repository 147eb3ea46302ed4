//! twip's capacity planner: the cheapest set of nodes, replica counts and
//! placement that meets a scenario's SLOs, in the baseline and in every
//! failure case the SLO demands.
//!
//! The search ([`plan`]):
//!
//! 1. **Analytic sizing** ([`sizing`]): the peak arrival rate (spikes
//!    included), the expected visits of every service, and per service the
//!    smallest replica count that keeps utilisation ≤ 90 %, the queueing
//!    delay's p99 (Erlang C, Allen–Cunneen for the service-time variance)
//!    within a quarter of the p99 objective and queue-full rejections rare.
//!    A p99 objective below what the service times alone allow ends the
//!    search at once (exit 2, `slo.p99_ms` binds).
//! 2. **Candidates**: every allowed instance type × node count (1 ..
//!    `max_nodes`, nodes dealt round-robin over the zones) × replica levels
//!    (the analytic minimum × 0.8, 0.9, 1, 1.15, 1.3, 1.5, 1.75, 2 — below 1 so
//!    that simulation, not the analytic model, proves a plan minimal — then enough extra
//!    replicas that losing the worst node or zone, evenly spread, leaves the
//!    level's count). Sorted by hourly cost, then by replica total.
//! 3. **Pruning without simulation**: capacity (sum of vCPU / memory, one
//!    replica per node at least), placement by the policy plugin (a refusal
//!    rejects the candidate), structural survival (a zone loss must leave a
//!    replica of every service), and dominance over what was already
//!    simulated (fewer replicas than a failed baseline fail; more survivors
//!    and fewer losses than a passed failure case pass).
//! 4. **Verification by simulation** ([`verify`]), from the cheapest
//!    candidate up, stopping at the first that meets every objective in every
//!    case: the baseline, and every node or zone loss that is not dominated
//!    by another case (a loss is known by the replicas it takes from each
//!    service; equal losses are simulated once, and a zone loss covers the
//!    losses of its nodes). Cases run in parallel (rayon) and are cached by
//!    (replicas, losses), so different instance types share simulations.

pub mod sizing;
pub mod verify;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;
use twip_model::{
    Catalog, Cost, FailureKind, InstanceType, Layout, Node, Placement, Plan, PlanNode, Rejected,
    Scenario, Verification,
};
use twip_policy::{Host, Plugin, PolicyError, Request, Topology};

pub use sizing::Sizing;
pub use verify::{Case, CaseResult, Window};

/// Replica levels above the analytic minimum that the search tries.
pub const LEVELS: [f64; 8] = [0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0];

/// Why the planner could not run (bad input); "no plan meets the SLOs" is
/// not an error but an [`Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A file (scenario, catalog) is wrong.
    #[error(transparent)]
    Model(#[from] twip_model::Error),
    /// The policy plugin could not be loaded.
    #[error("policy {policy}: {source}")]
    Policy {
        /// Name or path.
        policy: String,
        /// What went wrong.
        source: Box<PolicyError>,
    },
    /// The scenario does not say enough to plan.
    #[error("{0}")]
    Input(String),
    /// A simulation could not run.
    #[error(transparent)]
    Sim(#[from] twip_sim::SimError),
}

/// Progress counters, for a progress bar.
#[derive(Debug, Default)]
pub struct Progress {
    /// Candidates in the search space.
    pub candidates: AtomicU64,
    /// Candidates examined so far.
    pub examined: AtomicU64,
    /// Cases simulated so far.
    pub simulated: AtomicU64,
}

/// How to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Policy name or `.wasm` path; `None` takes the scenario's.
    pub policy: Option<String>,
    /// Seed of the verification runs; `None` takes the scenario's.
    pub seed: Option<u64>,
    /// Counters for a progress bar.
    pub progress: Option<Arc<Progress>>,
}

/// Search statistics.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Candidates in the search space.
    pub candidates: usize,
    /// Candidates examined (cheaper than, or as cheap as, the chosen one).
    pub examined: usize,
    /// Cases simulated.
    pub simulated: usize,
    /// Cases answered by the cache or by dominance.
    pub reused: usize,
    /// Wall-clock seconds.
    pub wall_s: f64,
}

/// What the search found.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The cheapest plan that meets every objective in every case.
    Found {
        /// The plan.
        plan: Box<Plan>,
        /// Whether it survives a zone loss (checked even when the SLO does
        /// not demand it; `None` with a single zone).
        survives_zone: Option<bool>,
        /// Search statistics.
        stats: Stats,
    },
    /// No candidate meets the objectives.
    NoPlan {
        /// The constraint that binds, with the evidence.
        binding: String,
        /// Every candidate and why it failed.
        rejected: Vec<Rejected>,
        /// Search statistics.
        stats: Stats,
    },
}

/// A policy: a built-in name or a path to a `.wasm` component.
pub fn load_policy(host: &Host, policy: &str, base: &Path) -> Result<Plugin, PlanError> {
    let is_file = policy.ends_with(".wasm") || policy.contains('/');
    let r = if is_file {
        let p = Path::new(policy);
        let p: PathBuf = if p.is_absolute() || p.exists() {
            p.to_path_buf()
        } else {
            base.join(p)
        };
        host.load_file(&p)
    } else {
        host.load_builtin(policy)
    };
    r.map_err(|source| PlanError::Policy {
        policy: policy.to_string(),
        source: Box::new(source),
    })
}

/// The instance types, region and zones a scenario plans with.
#[derive(Debug, Clone)]
pub struct Infra {
    /// Region whose prices apply.
    pub region: String,
    /// Zones nodes are dealt over.
    pub zones: Vec<String>,
    /// Allowed types with their price in the region.
    pub types: Vec<(InstanceType, f64)>,
    /// Catalog name and price date.
    pub catalog: String,
}

/// Reads the scenario's catalog and resolves region, zones and types.
pub fn infra(s: &Scenario) -> Result<Infra, PlanError> {
    let Some(path) = &s.infrastructure.catalog else {
        return Err(PlanError::Input(format!(
            "{}: to plan, the scenario needs [infrastructure] catalog = \"PATH\" (e.g. \"../catalog/aws-ec2.toml\")",
            s.path.display()
        )));
    };
    let cat = Catalog::load(path)?;
    let region = match &s.infrastructure.region {
        Some(r) => r.clone(),
        None if cat.regions.len() == 1 => cat.regions[0].name.clone(),
        None => {
            return Err(PlanError::Input(format!(
            "{}: [infrastructure] region is needed to price the catalog's instances (regions: {})",
            s.path.display(),
            cat.regions
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
        }
    };
    let known = cat.zones(&region);
    if !cat.regions.is_empty() && known.is_empty() {
        return Err(PlanError::Input(format!(
            "{}: region {region:?} is not in catalog {}",
            s.path.display(),
            cat.path.display()
        )));
    }
    let mut zones = s.infrastructure.zones.clone();
    if zones == [twip_model_default_zone()] && !known.is_empty() {
        zones = known.to_vec();
    }
    if !known.is_empty() {
        if let Some(z) = zones.iter().find(|z| !known.contains(z)) {
            return Err(PlanError::Input(format!(
                "{}: zone {z:?} is not a zone of {region} in catalog {} (zones: {})",
                s.path.display(),
                cat.path.display(),
                known.join(", ")
            )));
        }
    }
    let mut types = Vec::new();
    if s.infrastructure.instance_types.is_empty() {
        for t in &cat.instance_types {
            if let Some(p) = t.price(&region) {
                types.push((t.clone(), p));
            }
        }
    } else {
        for name in &s.infrastructure.instance_types {
            let t = cat.instance(name).ok_or_else(|| {
                PlanError::Input(format!(
                    "{}: instance type {name:?} is not in catalog {} (types: {})",
                    s.path.display(),
                    cat.path.display(),
                    cat.names().join(", ")
                ))
            })?;
            let p = t.price(&region).ok_or_else(|| {
                PlanError::Input(format!(
                    "catalog {} has no price for {name} in {region}",
                    cat.path.display()
                ))
            })?;
            types.push((t.clone(), p));
        }
    }
    if types.is_empty() {
        return Err(PlanError::Input(format!(
            "catalog {} has no instance type priced in {region}",
            cat.path.display()
        )));
    }
    Ok(Infra {
        region,
        zones,
        types,
        catalog: format!("{} (prices as of {})", cat.name, cat.prices_as_of),
    })
}

fn twip_model_default_zone() -> String {
    "zone-1".to_string()
}

/// One candidate: a node count of one instance type and replica counts.
#[derive(Debug, Clone)]
struct Cand {
    ty: usize,
    nodes: u32,
    /// The floor: fewer replicas than this are not tried.
    base: Vec<u32>,
    replicas: Vec<u32>,
    hourly: f64,
}

/// Why a candidate was rejected, for the binding-constraint summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Capacity,
    Policy,
    Survive,
    P99,
    ErrorRate,
}

impl Kind {
    fn field(self, s: &Scenario) -> String {
        let slo = s.slo.as_ref();
        match self {
            Kind::Capacity => format!("infrastructure.max_nodes = {}", s.infrastructure.max_nodes),
            Kind::Policy => "placement.policy".to_string(),
            Kind::Survive => "slo.survive".into(),
            Kind::P99 => format!(
                "slo.p99_ms = {}",
                slo.and_then(|x| x.p99_ms).unwrap_or(f64::NAN)
            ),
            Kind::ErrorRate => format!(
                "slo.max_error_rate = {}",
                slo.and_then(|x| x.max_error_rate).unwrap_or(f64::NAN)
            ),
        }
    }
}

/// The planner for one scenario and one policy.
pub struct Planner {
    scenario: Scenario,
    infra: Infra,
    sizing: Sizing,
    window: Window,
    policy: String,
    plugin: Mutex<Plugin>,
    seed: u64,
    cache: verify::Cache,
    progress: Option<Arc<Progress>>,
}

impl Planner {
    /// Prepares a search: reads the catalog, sizes analytically, loads the policy.
    pub fn new(scenario: &Scenario, opts: &PlanOptions) -> Result<Planner, PlanError> {
        let infra = infra(scenario)?;
        let sizing = sizing::size(scenario);
        let policy = opts
            .policy
            .clone()
            .unwrap_or_else(|| scenario.policy.clone());
        let host = Host::new().map_err(|source| PlanError::Policy {
            policy: policy.clone(),
            source: Box::new(source),
        })?;
        let base = scenario
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let plugin = load_policy(&host, &policy, &base)?;
        let window = Window::for_peak(scenario, &sizing);
        Ok(Planner {
            scenario: scenario.clone(),
            infra,
            window,
            sizing,
            policy,
            plugin: Mutex::new(plugin),
            seed: opts.seed.unwrap_or(scenario.seed),
            cache: verify::Cache::default(),
            progress: opts.progress.clone(),
        })
    }

    /// The analytic sizing.
    pub fn sizing(&self) -> &Sizing {
        &self.sizing
    }

    /// The verification window.
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// The resolved infrastructure.
    pub fn infra(&self) -> &Infra {
        &self.infra
    }

    fn survive(&self, k: FailureKind) -> bool {
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
            .map(|&m| {
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
                n
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

    /// The candidate for `nodes` nodes of type `ty`: the floor level's
    /// replicas, then as many more as the nodes hold, each to the service
    /// whose utilisation after the worst loss is highest (a node costs the
    /// same however full it is, so a plan uses what it pays for). `None`
    /// when the node count cannot survive what the SLO demands.
    fn candidate(&self, ty: usize, nodes: u32) -> Option<Cand> {
        let base = self.replicas_for(LEVELS[0], nodes)?;
        let (cpu, mem) = self.capacity(ty);
        let (cap_cpu, cap_mem) = (cpu as u64 * nodes as u64, mem as u64 * nodes as u64);
        let size: Vec<(u64, u64)> = self
            .scenario
            .services
            .iter()
            .map(|s| ((s.cpu * 1000.0).ceil() as u64, s.memory_mb as u64))
            .collect();
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
                    if r[i] >= base[i] * 3 + 2 {
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

    fn candidates(&self) -> Vec<Cand> {
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

    fn describe(&self, c: &Cand) -> String {
        format!(
            "{} x {} ({})",
            c.nodes,
            self.infra.types[c.ty].0.name,
            self.replicas_text(&c.replicas)
        )
    }

    fn replicas_text(&self, r: &[u32]) -> String {
        self.scenario
            .services
            .iter()
            .zip(r)
            .map(|(s, n)| format!("{} {n}", s.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Node capacity (millicores, MiB) of instance type `ty`.
    fn capacity(&self, ty: usize) -> (u32, u32) {
        let t = &self.infra.types[ty].0;
        ((t.sustained_vcpu() * 1000.0).floor() as u32, t.memory_mb)
    }

    /// The order services are handed to the policy: largest replicas first
    /// (first-fit decreasing), so small replicas do not fragment the nodes.
    fn request_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.scenario.services.len()).collect();
        let key = |i: usize| {
            let s = &self.scenario.services[i];
            ((s.cpu * 1000.0).ceil() as u64, s.memory_mb)
        };
        order.sort_by_key(|&i| std::cmp::Reverse(key(i)));
        order
    }

    /// The placement request for `nodes` nodes of type `ty` and `replicas`
    /// (services in [`Self::request_order`]).
    pub fn request(&self, ty: usize, nodes: u32, replicas: &[u32]) -> Request {
        let (cpu, mem) = self.capacity(ty);
        let z = self.infra.zones.len();
        Request {
            zones: self.infra.zones.clone(),
            instance_types: vec![self.infra.types[ty].0.name.clone()],
            nodes: (0..nodes as usize)
                .map(|i| twip_policy::Node {
                    id: format!("node-{}", i + 1),
                    instance_type: 0,
                    zone: (i % z) as u32,
                    cpu_millis: cpu,
                    memory_mib: mem,
                    labels: Vec::new(),
                })
                .collect(),
            services: self
                .request_order()
                .into_iter()
                .map(|i| (&self.scenario.services[i], replicas[i]))
                .map(|(s, n)| twip_policy::Service {
                    name: s.name.clone(),
                    replicas: n,
                    cpu_millis: (s.cpu * 1000.0).ceil() as u32,
                    memory_mib: s.memory_mb,
                    spread: Some(Topology::Node),
                    anti_affinity: None,
                    existing: Vec::new(),
                })
                .collect(),
        }
    }

    /// Capacity check without placement: `Err(reason)` if it cannot fit.
    fn fits(&self, c: &Cand) -> Result<(), String> {
        let (cpu, mem) = self.capacity(c.ty);
        let t = &self.infra.types[c.ty].0;
        let mut need_cpu = 0u64;
        let mut need_mem = 0u64;
        for (s, &n) in self.scenario.services.iter().zip(&c.replicas) {
            let sc = (s.cpu * 1000.0).ceil() as u32;
            if sc > cpu || s.memory_mb > mem {
                return Err(format!(
                    "one replica of {} ({} vCPU, {} MiB) does not fit on a {} ({} vCPU{}, {} MiB)",
                    s.name,
                    s.cpu,
                    s.memory_mb,
                    t.name,
                    cpu as f64 / 1000.0,
                    if t.burstable_baseline.is_some() {
                        " sustained"
                    } else {
                        ""
                    },
                    mem
                ));
            }
            need_cpu += sc as u64 * n as u64;
            need_mem += s.memory_mb as u64 * n as u64;
        }
        let have_cpu = cpu as u64 * c.nodes as u64;
        let have_mem = mem as u64 * c.nodes as u64;
        if need_cpu > have_cpu {
            return Err(format!(
                "needs {} vCPU, {} nodes have {}",
                need_cpu as f64 / 1000.0,
                c.nodes,
                have_cpu as f64 / 1000.0
            ));
        }
        if need_mem > have_mem {
            return Err(format!(
                "needs {need_mem} MiB of memory, {} nodes have {have_mem}",
                c.nodes
            ));
        }
        let sizes: Vec<(u64, u64)> = self
            .scenario
            .services
            .iter()
            .map(|s| ((s.cpu * 1000.0).ceil() as u64, s.memory_mb as u64))
            .collect();
        if !ffd_fits(&sizes, &c.replicas, c.nodes, (cpu as u64, mem as u64)) {
            return Err(format!(
                "the replicas do not pack onto {} nodes of {} vCPU / {mem} MiB (first-fit decreasing)",
                c.nodes,
                cpu as f64 / 1000.0
            ));
        }
        Ok(())
    }

    /// Places a candidate with the policy: the layout and the answer.
    fn place(&self, c: &Cand) -> Result<(Layout, Vec<Vec<u32>>), String> {
        let req = self.request(c.ty, c.nodes, &c.replicas);
        let answer = self
            .plugin
            .lock()
            .map_err(|_| "policy lock poisoned".to_string())?
            .place(&req)
            .map_err(|e| e.to_string())?;
        let layout = Layout {
            nodes: req
                .nodes
                .iter()
                .map(|n| Node {
                    id: n.id.clone(),
                    zone: self.infra.zones[n.zone as usize].clone(),
                })
                .collect(),
            replica_node: Vec::new(),
        };
        let mut replica_node = vec![Vec::new(); answer.len()];
        for (k, i) in self.request_order().into_iter().enumerate() {
            replica_node[i] = answer[k].iter().map(|&x| x as usize).collect();
        }
        Ok((
            Layout {
                replica_node,
                ..layout
            },
            answer,
        ))
    }

    /// The failure cases a layout must pass: every distinct loss, without
    /// the ones another loss dominates. `informational_zone` adds zone losses
    /// even when the SLO does not demand them.
    fn cases(&self, layout: &Layout, zone: bool, node: bool) -> Vec<Case> {
        verify::cases(&self.scenario, layout, node, zone)
    }

    fn bump(&self, f: impl Fn(&Progress) -> &AtomicU64, by: u64) {
        if let Some(p) = &self.progress {
            f(p).fetch_add(by, Ordering::Relaxed);
        }
    }

    /// Verifies one placed candidate: `Ok(results)` if every case meets
    /// every objective, `Err((kind, reason, results))` otherwise.
    fn verify(
        &self,
        replicas: &[u32],
        layout: &Layout,
        cases: &[Case],
        stats: &mut Stats,
    ) -> Result<Vec<CaseResult>, (Kind, String, Vec<CaseResult>)> {
        let mut all = vec![Case::baseline(replicas)];
        all.extend(cases.iter().cloned());
        // What the cache or dominance answers; simulate the rest in parallel.
        let known: Vec<Option<CaseResult>> = all.iter().map(|c| self.cache.lookup(c)).collect();
        let todo: Vec<usize> = (0..all.len()).filter(|&i| known[i].is_none()).collect();
        stats.reused += all.len() - todo.len();
        stats.simulated += todo.len();
        let ran: Vec<(usize, CaseResult)> = todo
            .par_iter()
            .map(|&i| {
                let r = verify::run_case(
                    &self.scenario,
                    &self.sizing,
                    &self.window,
                    layout,
                    &all[i],
                    self.seed,
                );
                self.bump(|p| &p.simulated, 1);
                (i, r)
            })
            .collect();
        let mut results: Vec<CaseResult> =
            known.into_iter().map(|x| x.unwrap_or_default()).collect();
        for (i, r) in ran {
            self.cache.insert(&all[i], &r);
            results[i] = r;
        }
        for r in &results {
            if let Some((kind, why)) = r.violation() {
                let kind = if kind == "p99" {
                    Kind::P99
                } else {
                    Kind::ErrorRate
                };
                return Err((kind, why, results));
            }
        }
        Ok(results)
    }

    /// Checks one candidate: capacity, the baseline (placement-independent,
    /// so the cache may answer before placing), placement by the policy
    /// (on a refusal for capacity, the filled replicas are given back one at
    /// a time, down to the floor), structural survival, then every case.
    #[allow(clippy::type_complexity)]
    fn evaluate(
        &self,
        c: &mut Cand,
        stats: &mut Stats,
    ) -> Result<(Layout, Vec<Case>, Vec<CaseResult>), (Kind, String)> {
        let s = &self.scenario;
        self.fits(c).map_err(|w| (Kind::Capacity, w))?;
        let (node, zone) = (
            self.survive(FailureKind::Node),
            self.survive(FailureKind::Zone),
        );
        // Fewer replicas pass no better: ask the cache before placing.
        if let Some(r) = self.cache.lookup(&Case::baseline(&c.replicas)) {
            if let Some((k, why)) = r.violation() {
                stats.reused += 1;
                let kind = if k == "p99" {
                    Kind::P99
                } else {
                    Kind::ErrorRate
                };
                return Err((kind, why));
            }
        }
        let attempt = |r: &[u32]| -> Result<Layout, (Kind, String)> {
            let mut c2 = c.clone();
            c2.replicas = r.to_vec();
            let (layout, _) = self.place(&c2).map_err(|w| (Kind::Policy, w))?;
            if zone {
                verify::zone_structure(s, &layout, &self.infra.zones)
                    .map_err(|w| (Kind::Survive, w))?;
            }
            if node {
                verify::node_structure(s, &layout).map_err(|w| (Kind::Survive, w))?;
            }
            Ok(layout)
        };
        // When the filled candidate cannot be placed (or the placement
        // cannot survive), give filled replicas back: the largest fraction
        // k/16 of them that works, by bisection.
        let layout = match attempt(&c.replicas) {
            Ok(l) => l,
            Err(first) => {
                if c.replicas == c.base {
                    return Err(first);
                }
                let with = |k: u32| -> Vec<u32> { fill_fraction(&c.base, &c.replicas, k) };
                let mut best = attempt(&with(0))?;
                let (mut lo, mut hi) = (0u32, FILL_STEPS);
                while hi - lo > 1 {
                    let mid = (lo + hi) / 2;
                    match attempt(&with(mid)) {
                        Ok(l) => {
                            lo = mid;
                            best = l;
                        }
                        Err(_) => hi = mid,
                    }
                }
                c.replicas = with(lo);
                best
            }
        };
        let cases = self.cases(&layout, zone, node);
        match self.verify(&c.replicas, &layout, &cases, stats) {
            Ok(results) => Ok((layout, cases, results)),
            Err((kind, why, _)) => Err((kind, why)),
        }
    }

    /// Runs the search.
    pub fn run(&self) -> Result<Outcome, PlanError> {
        let started = Instant::now();
        let mut stats = Stats::default();
        let s = &self.scenario;
        if let Some(p99) = s.slo.as_ref().and_then(|x| x.p99_ms) {
            if self.sizing.p99_floor_ms > p99 {
                let sv = &s.services[self.sizing.p99_floor_service];
                let v = self.sizing.visits[self.sizing.p99_floor_service].min(1.0);
                stats.wall_s = started.elapsed().as_secs_f64();
                return Ok(Outcome::NoPlan {
                    binding: format!(
                        "slo.p99_ms = {p99}: service {} alone, visited by {:.0} % of requests, takes longer than {:.0} ms for more than 1 % of all requests even with no queueing (its service time's {:.2} quantile is {:.0} ms), whatever the capacity",
                        sv.name,
                        v * 100.0,
                        p99,
                        1.0 - 0.01 / v,
                        self.sizing.p99_floor_ms
                    ),
                    rejected: Vec::new(),
                    stats,
                });
            }
        }
        let cands = self.candidates();
        stats.candidates = cands.len();
        self.bump(|p| &p.candidates, cands.len() as u64);
        let mut rejected: Vec<(Cand, Kind, String)> = Vec::new();
        let want_zone = self.survive(FailureKind::Zone);
        for c in &cands {
            stats.examined += 1;
            self.bump(|p| &p.examined, 1);
            let mut c = c.clone();
            match self.evaluate(&mut c, &mut stats) {
                Err((kind, why)) => rejected.push((c, kind, why)),
                Ok((layout, cases, results)) => {
                    let survives_zone = if want_zone {
                        Some(true)
                    } else if self.infra.zones.len().min(c.nodes as usize) >= 2 {
                        let zc: Vec<Case> = self
                            .cases(&layout, true, false)
                            .into_iter()
                            .filter(|k| k.kind == Some(FailureKind::Zone))
                            .collect();
                        let ok = verify::zone_structure(s, &layout, &self.infra.zones).is_ok()
                            && self.verify(&c.replicas, &layout, &zc, &mut stats).is_ok();
                        Some(ok)
                    } else {
                        None
                    };
                    let plan = self.to_plan(&c, &layout, &cases, &results, &rejected);
                    stats.wall_s = started.elapsed().as_secs_f64();
                    return Ok(Outcome::Found {
                        plan: Box::new(plan),
                        survives_zone,
                        stats,
                    });
                }
            }
        }
        stats.wall_s = started.elapsed().as_secs_f64();
        let binding = self.binding(&rejected);
        Ok(Outcome::NoPlan {
            binding,
            rejected: self.compact(&rejected),
            stats,
        })
    }

    /// Names the constraint that binds when nothing passed: the reason of
    /// the candidate with the most capacity that got furthest.
    fn binding(&self, rejected: &[(Cand, Kind, String)]) -> String {
        let Some(best) = rejected.iter().max_by(|a, b| {
            let cap = |c: &Cand| {
                let (cpu, _) = self.capacity(c.ty);
                cpu as u64 * c.nodes as u64
            };
            (a.1 != Kind::Capacity)
                .cmp(&(b.1 != Kind::Capacity))
                .then(
                    a.0.replicas
                        .iter()
                        .sum::<u32>()
                        .cmp(&b.0.replicas.iter().sum::<u32>()),
                )
                .then(cap(&a.0).cmp(&cap(&b.0)))
        }) else {
            return "no candidates (no instance type, or max_nodes = 0)".into();
        };
        format!(
            "{}: the largest candidate tried, {}, was rejected: {}",
            best.1.field(&self.scenario),
            self.describe(&best.0),
            best.2
        )
    }

    /// Groups rejected candidates: per instance type, every capacity
    /// rejection in one entry (the reason of the largest), the others by
    /// reason: `3, 6..9 x m5.large (app 4..6, lb 2)`.
    fn compact(&self, rejected: &[(Cand, Kind, String)]) -> Vec<Rejected> {
        type Key = (usize, bool, String);
        let mut groups: Vec<(Key, Vec<&Cand>, String)> = Vec::new();
        let mut index: BTreeMap<Key, usize> = BTreeMap::new();
        for (c, kind, why) in rejected {
            let cap = *kind == Kind::Capacity;
            let key = (c.ty, cap, if cap { String::new() } else { why.clone() });
            match index.get(&key) {
                Some(&i) => {
                    groups[i].1.push(c);
                    if cap {
                        groups[i].2 = why.clone();
                    }
                }
                None => {
                    index.insert(key.clone(), groups.len());
                    groups.push((key, vec![c], why.clone()));
                }
            }
        }
        groups
            .into_iter()
            .map(|((ty, cap, _), cs, why)| {
                let mut ns: Vec<u32> = cs.iter().map(|c| c.nodes).collect();
                ns.sort_unstable();
                ns.dedup();
                let reps = self
                    .scenario
                    .services
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let lo = cs.iter().map(|c| c.replicas[i]).min().unwrap_or(0);
                        let hi = cs.iter().map(|c| c.replicas[i]).max().unwrap_or(0);
                        if lo == hi {
                            format!("{} {lo}", s.name)
                        } else {
                            format!("{} {lo}..{hi}", s.name)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                Rejected {
                    candidate: format!(
                        "{} x {} ({reps})",
                        ranges(&ns),
                        self.infra.types[ty].0.name
                    ),
                    reason: if cap && cs.len() > 1 {
                        format!("not enough capacity; the largest: {why}")
                    } else {
                        why
                    },
                }
            })
            .collect()
    }

    fn to_plan(
        &self,
        c: &Cand,
        layout: &Layout,
        cases: &[Case],
        results: &[CaseResult],
        rejected: &[(Cand, Kind, String)],
    ) -> Plan {
        let (t, price) = &self.infra.types[c.ty];
        let nodes: Vec<PlanNode> = layout
            .nodes
            .iter()
            .map(|n| PlanNode {
                id: n.id.clone(),
                instance_type: t.name.clone(),
                zone: n.zone.clone(),
                cpu: t.vcpu,
                memory_mb: t.memory_mb,
                hourly_usd: *price,
            })
            .collect();
        let mut placements = Vec::new();
        for (si, v) in layout.replica_node.iter().enumerate() {
            for (r, &n) in v.iter().enumerate() {
                placements.push(Placement {
                    service: self.scenario.services[si].name.clone(),
                    replica: r as u32,
                    node: layout.nodes[n].id.clone(),
                });
            }
        }
        let mut all = vec![Case::baseline(&c.replicas)];
        all.extend(cases.iter().cloned());
        let verification = all
            .iter()
            .zip(results)
            .map(|(k, r)| Verification {
                case: k.name.clone(),
                p99_ms: r.p99_ms,
                p99_ci95_ms: r.p99_ci95_ms,
                error_rate: r.error_rate,
                met: r.violation().is_none(),
                covers: k.covers.clone(),
            })
            .collect();
        Plan {
            scenario: self.scenario.name.clone(),
            scenario_file: Some(self.scenario.path.clone()).filter(|p| !p.as_os_str().is_empty()),
            policy: self.policy.clone(),
            region: Some(self.infra.region.clone()),
            replicas: self
                .scenario
                .services
                .iter()
                .zip(&c.replicas)
                .map(|(s, &n)| (s.name.clone(), n))
                .collect(),
            nodes,
            placements,
            cost: Cost::hourly(c.hourly),
            verification,
            rejected: self.compact(rejected),
        }
    }

    /// Verifies the candidate of `nodes` nodes of `instance_type` as the
    /// search would (replicas filled to capacity, placed by the policy,
    /// every case): `Ok(description)` if it passes, `Err(reason)` if not.
    /// Shows that a plan is minimal: its type with one node fewer fails.
    pub fn try_nodes(&self, instance_type: &str, nodes: u32) -> Result<String, String> {
        let Some(ty) = self
            .infra
            .types
            .iter()
            .position(|(t, _)| t.name == instance_type)
        else {
            return Err(format!("no instance type {instance_type}"));
        };
        let Some(mut c) = self.candidate(ty, nodes) else {
            return Err(format!(
                "{nodes} nodes cannot survive the losses the SLO demands"
            ));
        };
        let mut stats = Stats::default();
        match self.evaluate(&mut c, &mut stats) {
            Ok(_) => Ok(self.describe(&c)),
            Err((_, why)) => Err(format!("{}: {why}", self.describe(&c))),
        }
    }
}

/// Steps of the bisection that gives filled replicas back.
const FILL_STEPS: u32 = 16;

/// `base` plus `k / FILL_STEPS` of the extra replicas of `full`.
fn fill_fraction(base: &[u32], full: &[u32], k: u32) -> Vec<u32> {
    base.iter()
        .zip(full)
        .map(|(&b, &f)| b + (f - b) * k / FILL_STEPS)
        .collect()
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

/// `1, 3..5, 9` for a sorted list.
fn ranges(ns: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ns.len() {
        let mut j = i;
        while j + 1 < ns.len() && ns[j + 1] == ns[j] + 1 {
            j += 1;
        }
        parts.push(if j == i {
            ns[i].to_string()
        } else {
            format!("{}..{}", ns[i], ns[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// Plans `scenario`: the cheapest verified plan, or why there is none.
pub fn plan(scenario: &Scenario, opts: &PlanOptions) -> Result<Outcome, PlanError> {
    Planner::new(scenario, opts)?.run()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_compact() {
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1..3, 5, 7..8");
        assert_eq!(ranges(&[4]), "4");
    }
}
