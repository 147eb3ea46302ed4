//! The report model: one [`Phase`] per input, built from the plan, the
//! scenario and a simulation of the plan. Renderers read only this.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use twip_model::elastic_plan::ElasticPlan;
use twip_model::{
    group_rejected, Catalog, FailureKind, Layout, Plan, PlanNode, RejectionKind, Scenario,
    Verification,
};
use twip_sim::sizing::{self, Sizing};
use twip_sim::{ScalingEvent, SimReport, Timeline};

use crate::{Options, ReportError};

/// Hours in the month the plan's monthly cost uses.
pub use twip_model::plan::HOURS_PER_MONTH;

/// One phase (one plan of one scenario) with everything the report shows.
#[derive(Debug, Clone)]
pub struct Phase {
    /// Scenario name (`limited-release`).
    pub name: String,
    /// The file the phase came from (a plan or a scenario).
    pub source: PathBuf,
    /// The scenario file.
    pub scenario_file: PathBuf,
    /// Whether the plan was made for this report (a scenario was given).
    pub planned_here: bool,
    /// p99 objective (ms).
    pub slo_p99_ms: Option<f64>,
    /// Error-rate objective.
    pub slo_error_rate: Option<f64>,
    /// Failure classes the plan must survive (`node`, `zone`).
    pub survive: Vec<String>,
    /// What arrives.
    pub traffic: TrafficSummary,
    /// Placement policy.
    pub policy: String,
    /// Region whose prices apply.
    pub region: String,
    /// The plan's nodes.
    pub nodes: Vec<PlanNode>,
    /// The zones, in the order nodes first appear.
    pub zones: Vec<String>,
    /// Replicas per service, in the scenario's order.
    pub replicas: Vec<(String, u32)>,
    /// `(service, node id)` of every replica.
    pub placements: Vec<(String, String)>,
    /// Hourly and monthly cost (USD), as in the plan.
    pub hourly_usd: f64,
    /// Monthly cost (USD), as in the plan.
    pub monthly_usd: f64,
    /// The planner's verification cases.
    pub verification: Vec<Verification>,
    /// Candidates the planner tried with a cost and a verdict, chosen first.
    pub candidates: Vec<Candidate>,
    /// Rejected candidates in the plan, folded as `twip plan` lists them
    /// (capacity rejections of one type in one group).
    pub rejected_total: usize,
    /// The nearest cheaper candidates and why they failed (at most five).
    pub nearest_rejected: Vec<(String, String)>,
    /// Per service figures.
    pub services: Vec<ServiceSummary>,
    /// Service names with every callee before its callers (the order to scale up in).
    pub scale_order: Vec<String>,
    /// Entry requests/s the plan can carry at 100 % utilisation of its
    /// bottleneck service (analytic, no queueing).
    pub capacity_rps: f64,
    /// The same with the worst single node lost.
    pub capacity_node_loss_rps: Option<f64>,
    /// The same with the worst zone lost (more than one zone only).
    pub capacity_zone_loss_rps: Option<f64>,
    /// The simulated day on this plan.
    pub sim: SimSummary,
    /// Catalog name and the date of its prices.
    pub catalog: Option<(String, String)>,
    /// The elastic part, for an elastic plan (`twip plan --elastic`).
    pub elastic: Option<ElasticPhase>,
}

/// What an elastic plan adds to its phase: the plan's policies, costs,
/// cases and rejections as written, and the report's simulated day seen
/// as capacity (on the phase's timeline grid).
#[derive(Debug, Clone)]
pub struct ElasticPhase {
    /// The plan's elastic part.
    pub plan: ElasticPlan,
    /// Per elastic service (the plan's order): desired and in-service
    /// replicas per interval of the simulated day.
    pub replicas: Vec<(String, Vec<u32>, Vec<u32>)>,
    /// Nodes in the cluster per interval.
    pub nodes: Vec<u32>,
    /// Nodes the fluid lower bound needs, per interval (from the plan).
    pub lower_bound_nodes: Vec<u32>,
    /// The fixed plan's nodes (the baseline).
    pub static_nodes: u32,
    /// Most nodes at once in the simulated day.
    pub peak_nodes: u32,
    /// Every scaling event of the simulated day.
    pub events: Vec<ScalingEvent>,
    /// Node-hours of the simulated day (scaled to 24 h).
    pub node_hours: f64,
}

impl ElasticPhase {
    /// `3–80 x c5.xlarge`.
    pub fn node_range(&self) -> String {
        let n = &self.plan.nodes;
        format!("{}–{} x {}", n.min_nodes, n.max_nodes, n.instance_type)
    }
}

/// The loss a phase's headline headroom is taken under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorstLoss {
    /// Everything up (the plan must survive no loss).
    None,
    /// The worst node lost.
    Node,
    /// The worst zone lost.
    Zone,
}

/// The traffic a scenario asks for.
#[derive(Debug, Clone)]
pub struct TrafficSummary {
    /// Constant rate (requests/s).
    pub constant_rps: f64,
    /// `(region, peak requests/s, UTC hour of the peak, trough ratio)`.
    pub regions: Vec<(String, f64, f64, f64)>,
    /// `(start h, minutes, multiplier)`.
    pub spikes: Vec<(f64, f64, f64)>,
    /// Largest entry rate (requests/s).
    pub peak_rps: f64,
    /// When (hours of simulated time).
    pub peak_at_h: f64,
    /// Requests per day.
    pub daily_requests: f64,
    /// Simulated hours.
    pub duration_h: f64,
    /// UTC hour at simulated time 0.
    pub start_hour_utc: f64,
    /// Injected failures: `(what, from h, to h)`.
    pub failures: Vec<(String, f64, Option<f64>)>,
}

/// One service's figures.
#[derive(Debug, Clone)]
pub struct ServiceSummary {
    /// Name.
    pub name: String,
    /// Replicas in the plan.
    pub replicas: u32,
    /// Workers per replica.
    pub workers: u32,
    /// vCPU per replica.
    pub cpu: f64,
    /// MiB per replica.
    pub memory_mb: u32,
    /// Mean and p99 of its own service time (ms).
    pub service_ms: (f64, f64),
    /// Visits per entry request.
    pub visits: f64,
    /// Mean worker holding time per visit (ms), synchronous calls included.
    pub holding_ms: f64,
    /// Mean simulated utilisation over the day.
    pub util_day: f64,
    /// Offered utilisation at the peak (analytic).
    pub util_peak: f64,
    /// The same after the worst zone loss (several zones) or node loss
    /// (several nodes); above 1 is overload (infinite: none left).
    pub util_peak_loss: Option<f64>,
    /// Entry requests/s this service can carry (analytic).
    pub capacity_rps: f64,
}

/// A planner candidate on the cost/p99 chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// `76 x c5.large (lb 2, static 2, app 74)`.
    pub label: String,
    /// Monthly cost (USD).
    pub monthly_usd: f64,
    /// Worst p99 over its simulated cases (ms); `None` when it was
    /// rejected before simulation (capacity, placement, survival).
    pub worst_p99_ms: Option<f64>,
    /// Why it was rejected; `None` for the plan's choice.
    pub rejected: Option<RejectionKind>,
    /// The plan's choice.
    pub chosen: bool,
}

/// The simulated day.
#[derive(Debug, Clone)]
pub struct SimSummary {
    /// Latency percentiles over the day (ms): p50, p95, p99.
    pub p50_ms: f64,
    /// 95th percentile (ms).
    pub p95_ms: f64,
    /// 99th percentile (ms).
    pub p99_ms: f64,
    /// Errors / requests.
    pub error_rate: f64,
    /// Requests simulated.
    pub requests: u64,
    /// Every SLO met over the day.
    pub slo_met: bool,
    /// Violations, if any.
    pub violations: Vec<String>,
    /// Per-interval series.
    pub timeline: Timeline,
    /// Failures as simulated: `(what, from h, to h, errors)`.
    pub failures: Vec<(String, f64, f64, u64)>,
}

impl Phase {
    /// Largest p99 over the plan's verification cases (ms).
    pub fn worst_p99_ms(&self) -> f64 {
        self.verification
            .iter()
            .map(|v| v.p99_ms)
            .fold(0.0, f64::max)
    }

    /// The verification case with the largest p99.
    pub fn worst_case(&self) -> Option<&Verification> {
        self.verification
            .iter()
            .max_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms))
    }

    /// Headroom at the peak: the fraction of the bottleneck's capacity left.
    pub fn headroom(&self) -> f64 {
        1.0 - self.traffic.peak_rps / self.capacity_rps
    }

    /// Headroom at the peak in the worst loss the plan must survive (a
    /// zone, else a node; everything up when it must survive none), and
    /// that loss: the margin the plan really has.
    pub fn worst_headroom(&self) -> (f64, WorstLoss) {
        let must = |k: &str| self.survive.iter().any(|s| s == k);
        let loss = match (self.capacity_zone_loss_rps, self.capacity_node_loss_rps) {
            (Some(z), _) if must("zone") => Some((z, WorstLoss::Zone)),
            (_, Some(n)) if must("node") || must("zone") => Some((n, WorstLoss::Node)),
            _ => None,
        };
        match loss {
            Some((c, l)) => (1.0 - self.traffic.peak_rps / c, l),
            None => (self.headroom(), WorstLoss::None),
        }
    }

    /// Instance types used, with counts: `85 x c5.large`; for an elastic
    /// plan its node range, `3–80 x c5.xlarge`.
    pub fn node_summary(&self) -> String {
        if let Some(e) = &self.elastic {
            return e.node_range();
        }
        self.start_nodes()
    }

    /// The plan's nodes with counts (for an elastic plan: at the start of
    /// the day).
    pub fn start_nodes(&self) -> String {
        let mut by: BTreeMap<&str, usize> = BTreeMap::new();
        for n in &self.nodes {
            *by.entry(&n.instance_type).or_default() += 1;
        }
        by.iter()
            .map(|(t, n)| format!("{n} x {t}"))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// Nodes per zone.
    pub fn nodes_in_zone(&self, zone: &str) -> usize {
        self.nodes.iter().filter(|n| n.zone == zone).count()
    }

    /// File-name stem of this phase's charts.
    pub fn slug(&self) -> String {
        slugify(&self.name)
    }
}

/// Lower-case ASCII letters and digits, every other character a `-`: for
/// file names and HTML anchors.
pub(crate) fn slugify(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// One input of a report: a plan file, or a plan made for the report from
/// a scenario (by the caller: the report does not plan).
#[derive(Debug, Clone)]
pub enum Input {
    /// A plan (`twip plan --out`), whose scenario it names.
    PlanFile(PathBuf),
    /// A plan just made from the scenario file.
    Planned {
        /// The scenario file.
        scenario: PathBuf,
        /// Its plan.
        plan: Box<Plan>,
    },
}

impl Input {
    /// The file the input came from.
    pub fn path(&self) -> &Path {
        match self {
            Input::PlanFile(p) => p,
            Input::Planned { scenario, .. } => scenario,
        }
    }
}

/// The plan, its scenario file, and the scenario with the plan applied.
fn inputs(input: &Input, opts: &Options) -> Result<(Plan, PathBuf, Scenario, Layout), ReportError> {
    let path = input.path();
    let (plan, scenario_file) = match input {
        Input::PlanFile(p) => {
            let plan = Plan::load(p)?;
            let sf = plan.scenario_path(p).ok_or_else(|| ReportError::Input {
                path: p.clone(),
                message: "field `scenario_file`: the plan does not name its scenario".into(),
            })?;
            (plan, sf)
        }
        Input::Planned { scenario, plan } => ((**plan).clone(), scenario.clone()),
    };
    let mut scenario = Scenario::load(&scenario_file)?;
    if plan.scenario != scenario.name {
        return Err(ReportError::Input {
            path: path.to_path_buf(),
            message: format!(
                "field `scenario`: the plan is for `{}`, {} is `{}`",
                plan.scenario,
                scenario_file.display(),
                scenario.name
            ),
        });
    }
    let layout = plan
        .apply_to(&mut scenario)
        .map_err(|message| ReportError::Input {
            path: path.to_path_buf(),
            message: format!("the plan does not fit its scenario: {message}"),
        })?;
    if let Some(d) = opts.duration_s {
        let d = scenario.duration_s.min(d.max(scenario.warmup_s + 60.0));
        scenario.set_duration(d);
    }
    Ok((plan, scenario_file, scenario, layout))
}

/// An elastic plan's node type, from the scenario's catalog at the plan's
/// price (`None` for a fixed plan).
fn node_type(
    path: &Path,
    scenario: &Scenario,
    plan: &Plan,
) -> Result<Option<twip_sim::NodeType>, ReportError> {
    let Some(e) = &plan.elastic else {
        return Ok(None);
    };
    let n = &e.nodes;
    let missing = |what: String| ReportError::Input {
        path: path.to_path_buf(),
        message: what,
    };
    let catalog =
        match &scenario.infrastructure.catalog {
            Some(c) => Catalog::load(c)?,
            None => return Err(missing(
                "field `elastic.nodes`: an elastic plan needs its scenario's catalog for the size \
                 of its nodes"
                    .into(),
            )),
        };
    let t = catalog.instance(&n.instance_type).ok_or_else(|| {
        missing(format!(
            "field `elastic.nodes.instance_type`: {} is not in the catalog {}",
            n.instance_type,
            catalog.path.display()
        ))
    })?;
    Ok(Some(twip_sim::NodeType::of(t, n.usd_per_hour)))
}

/// The plan's day, simulated with a timeline.
fn simulate_day(
    path: &Path,
    scenario: &Scenario,
    plan: &Plan,
    layout: Layout,
    opts: &Options,
) -> Result<(SimReport, Timeline), ReportError> {
    let placer = match &opts.placers {
        Some(load) => (load.0)(scenario, &plan.policy).map_err(|message| ReportError::Sim {
            path: path.to_path_buf(),
            message,
        })?,
        None => None,
    };
    let sim_opts = twip_sim::Options {
        node_type: node_type(path, scenario, plan)?,
        placer,
        seed: opts.seed,
        replications: 1,
        layout: Some(layout),
        timeline: true,
        intervals: opts.intervals,
        progress: opts.progress.as_ref().map(|p| p.day_done_ms.clone()),
        ..twip_sim::Options::default()
    };
    if let Some(p) = &opts.progress {
        let total = twip_sim::planned_work_ms(scenario, &sim_opts);
        p.day_ms.store(total, std::sync::atomic::Ordering::Relaxed);
    }
    let sim = twip_sim::simulate(scenario, &sim_opts).map_err(|e| ReportError::Sim {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let timeline = sim.timeline.clone().ok_or_else(|| ReportError::Sim {
        path: path.to_path_buf(),
        message: "the simulation returned no timeline".into(),
    })?;
    Ok((sim, timeline))
}

/// The analytic capacity of a plan: per service, and with the worst node
/// or zone lost.
struct Capacity {
    services: Vec<ServiceSummary>,
    capacity_rps: f64,
    node_loss_rps: Option<f64>,
    zone_loss_rps: Option<f64>,
}

/// The zones of a plan, in the order nodes first appear.
fn zones_of(plan: &Plan) -> Vec<String> {
    let mut zones: Vec<String> = Vec::new();
    for n in &plan.nodes {
        if !zones.contains(&n.zone) {
            zones.push(n.zone.clone());
        }
    }
    zones
}

fn capacity(
    scenario: &Scenario,
    plan: &Plan,
    zones: &[String],
    sizing: &Sizing,
    sim: &SimReport,
) -> Capacity {
    let node_zone: BTreeMap<&str, &str> = plan
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n.zone.as_str()))
        .collect();
    let svc_capacity =
        |i: usize, replicas: f64| twip_sim::sizing::capacity_rps(scenario, sizing, i, replicas);
    let mut services: Vec<ServiceSummary> = scenario
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let cap = svc_capacity(i, s.replicas as f64);
            ServiceSummary {
                name: s.name.clone(),
                replicas: s.replicas,
                workers: s.workers,
                cpu: s.cpu,
                memory_mb: s.memory_mb,
                service_ms: (s.service_time.mean_ms(), s.service_time.quantile_ms(0.99)),
                visits: sizing.visits[i],
                holding_ms: sizing.holding_s[i] * 1e3,
                util_day: sim.services.get(&s.name).map_or(0.0, |r| r.utilization),
                util_peak: sizing.peak_rps / cap,
                util_peak_loss: None,
                capacity_rps: cap,
            }
        })
        .collect();
    let capacity_rps = services
        .iter()
        .map(|s| s.capacity_rps)
        .fold(f64::INFINITY, f64::min);
    // Capacity with every replica in `lost` (a predicate on node id) gone.
    let capacity_without = |lost: &dyn Fn(&str) -> bool| -> f64 {
        scenario
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let left = plan
                    .placements
                    .iter()
                    .filter(|p| p.service == s.name && !lost(&p.node))
                    .count();
                svc_capacity(i, left as f64)
            })
            .fold(f64::INFINITY, f64::min)
    };
    let capacity_node_loss_rps = plan
        .nodes
        .iter()
        .map(|n| capacity_without(&|id| id == n.id))
        .reduce(f64::min);
    // Each service's offered utilisation at the peak after the worst loss
    // of the largest class: a zone (several zones) or a node.
    // (zone?, name) of each loss of the largest class.
    let losses: Vec<(bool, &str)> = if zones.len() > 1 {
        zones.iter().map(|z| (true, z.as_str())).collect()
    } else if plan.nodes.len() > 1 {
        plan.nodes.iter().map(|n| (false, n.id.as_str())).collect()
    } else {
        Vec::new()
    };
    let is_lost = |&(zone, name): &(bool, &str), node: &str| {
        if zone {
            node_zone.get(node) == Some(&name)
        } else {
            node == name
        }
    };
    for (i, svc) in services.iter_mut().enumerate() {
        svc.util_peak_loss = losses
            .iter()
            .map(|lost| {
                let left = plan
                    .placements
                    .iter()
                    .filter(|p| p.service == svc.name && !is_lost(lost, &p.node))
                    .count();
                sizing.peak_rps / svc_capacity(i, left as f64)
            })
            .reduce(f64::max);
    }
    let capacity_zone_loss_rps = if zones.len() > 1 {
        zones
            .iter()
            .map(|z| capacity_without(&|id| node_zone.get(id) == Some(&z.as_str())))
            .reduce(f64::min)
    } else {
        None
    };
    Capacity {
        services,
        capacity_rps,
        node_loss_rps: capacity_node_loss_rps,
        zone_loss_rps: capacity_zone_loss_rps,
    }
}

/// An elastic plan's phase part, from the plan and the report's simulated
/// day; `cap` becomes the capacity at the day's peak with the replicas in
/// service then (the start of the day's counts say nothing about the peak),
/// its loss figures left to the elastic cases.
fn elastic_phase(
    plan: &ElasticPlan,
    scenario: &Scenario,
    sim: &SimReport,
    timeline: &Timeline,
    sizing: &Sizing,
    cap: &mut Capacity,
) -> ElasticPhase {
    let el = sim.elastic.as_ref();
    let at = |t: f64, starts: &[f64], width: f64| -> usize {
        let t0 = starts.first().copied().unwrap_or(0.0);
        if width <= 0.0 || starts.is_empty() {
            return 0;
        }
        (((t - t0) / width).floor().max(0.0) as usize).min(starts.len() - 1)
    };
    let replicas: Vec<(String, Vec<u32>, Vec<u32>)> = plan
        .services
        .keys()
        .filter_map(|name| {
            let c = el?.services.get(name)?;
            Some((name.clone(), c.desired.clone(), c.in_service.clone()))
        })
        .collect();
    let nodes = el
        .and_then(|e| e.nodes.as_ref())
        .map(|n| n.up.clone())
        .unwrap_or_default();
    // The plan's lower bound, on the report's grid.
    let day = &plan.day;
    let lower_bound_nodes = timeline
        .start_s
        .iter()
        .map(|&t0| {
            let k = at(t0 + timeline.interval_s / 2.0, &day.start_s, day.interval_s);
            day.lower_bound_nodes.get(k).copied().unwrap_or(0)
        })
        .collect();
    // Capacity at the peak, with what was in service then.
    if let Some(e) = el {
        let k = at(sizing.peak_at_s, &e.start_s, e.interval_s);
        for (i, svc) in cap.services.iter_mut().enumerate() {
            let Some(c) = e.services.get(&svc.name) else {
                continue;
            };
            let Some(&n) = c.in_service.get(k) else {
                continue;
            };
            svc.replicas = n;
            svc.capacity_rps = twip_sim::sizing::capacity_rps(scenario, sizing, i, f64::from(n));
            svc.util_peak = sizing.peak_rps / svc.capacity_rps;
        }
        // A zone lost at the peak takes the fullest zone's share: the
        // provider deals replicas over the zones, so ceil(n / zones).
        let zones = scenario.infrastructure.zones.len();
        for svc in &mut cap.services {
            svc.util_peak_loss = (zones > 1).then(|| {
                let n = f64::from(svc.replicas);
                let left = n - (n / zones as f64).ceil();
                if left > 0.0 {
                    svc.util_peak * n / left
                } else {
                    f64::INFINITY
                }
            });
        }
        cap.capacity_rps = cap
            .services
            .iter()
            .map(|s| s.capacity_rps)
            .fold(f64::INFINITY, f64::min);
        cap.node_loss_rps = None;
        cap.zone_loss_rps = (zones > 1).then(|| {
            cap.services
                .iter()
                .map(|s| match s.util_peak_loss {
                    Some(u) if u > 0.0 => sizing.peak_rps / u,
                    _ => s.capacity_rps,
                })
                .fold(f64::INFINITY, f64::min)
        });
    }
    let scale = 86_400.0 / scenario.duration_s.max(1.0);
    ElasticPhase {
        replicas,
        peak_nodes: nodes.iter().copied().max().unwrap_or(0),
        nodes,
        lower_bound_nodes,
        static_nodes: day.static_nodes,
        events: el.map(|e| e.events.clone()).unwrap_or_default(),
        node_hours: el
            .and_then(|e| e.nodes.as_ref())
            .map_or(0.0, |n| n.node_hours * scale),
        plan: plan.clone(),
    }
}

/// The plan's choice and every candidate it rejected with a cost, for the
/// cost / p99 chart.
fn candidates(plan: &Plan) -> Vec<Candidate> {
    let mut out = vec![Candidate {
        label: format!("{} (chosen)", plan_label(plan)),
        monthly_usd: plan.cost.monthly_usd,
        worst_p99_ms: Some(
            plan.verification
                .iter()
                .map(|v| v.p99_ms)
                .fold(0.0, f64::max),
        ),
        rejected: None,
        chosen: true,
    }];
    out.extend(plan.rejected.iter().filter_map(|r| {
        Some(Candidate {
            label: r.candidate.clone(),
            monthly_usd: r.monthly_usd?,
            worst_p99_ms: r.worst_p99_ms,
            rejected: Some(r.kind?),
            chosen: false,
        })
    }));
    out
}

/// Builds one phase: the plan applied to its scenario, its day simulated
/// with a timeline, its capacity analysed, the summaries the text shows.
pub fn load_phase(input: &Input, opts: &Options) -> Result<Phase, ReportError> {
    let path = input.path();
    let (plan, scenario_file, scenario, layout) = inputs(input, opts)?;
    let (sim, timeline) = simulate_day(path, &scenario, &plan, layout, opts)?;
    let sizing = sizing::size(&scenario);
    let catalog = match &scenario.infrastructure.catalog {
        Some(c) => Some(Catalog::load(c)?),
        None => None,
    };
    let region = plan
        .region
        .clone()
        .or_else(|| scenario.infrastructure.region.clone())
        .unwrap_or_default();
    let zones = zones_of(&plan);
    let mut cap = capacity(&scenario, &plan, &zones, &sizing, &sim);
    let elastic = plan
        .elastic
        .as_ref()
        .map(|e| elastic_phase(e, &scenario, &sim, &timeline, &sizing, &mut cap));
    let names: Vec<&str> = scenario.services.iter().map(|s| s.name.as_str()).collect();
    let groups = group_rejected(&plan.rejected, &names);
    let nearest_rejected = groups
        .iter()
        .rev()
        .filter(|g| !(g.kind == Some(RejectionKind::Capacity) && g.count > 1))
        .take(5)
        .map(|g| (g.candidate.clone(), g.reason.clone()))
        .collect();
    let traffic = traffic_summary(&scenario, &sizing);
    let sim_summary = sim_summary(&scenario, &sim, timeline);
    let slo = scenario.slo.as_ref();
    Ok(Phase {
        name: scenario.name.clone(),
        source: path.to_path_buf(),
        scenario_file,
        planned_here: matches!(input, Input::Planned { .. }),
        slo_p99_ms: slo.and_then(|s| s.p99_ms),
        slo_error_rate: slo.and_then(|s| s.max_error_rate),
        survive: slo
            .map(|s| {
                s.survive
                    .iter()
                    .map(|k| match k {
                        FailureKind::Replica => "replica".to_string(),
                        FailureKind::Node => "node".to_string(),
                        FailureKind::Zone => "zone".to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        traffic,
        policy: plan.policy.clone(),
        region,
        zones,
        replicas: scenario
            .services
            .iter()
            .map(|s| (s.name.clone(), plan.replicas[&s.name]))
            .collect(),
        placements: plan
            .placements
            .iter()
            .map(|p| (p.service.clone(), p.node.clone()))
            .collect(),
        hourly_usd: plan.cost.hourly_usd,
        monthly_usd: plan.cost.monthly_usd,
        verification: plan.verification.clone(),
        candidates: candidates(&plan),
        rejected_total: groups.len(),
        nearest_rejected,
        services: cap.services,
        scale_order: sizing::topological(&scenario)
            .into_iter()
            .rev()
            .map(|i| scenario.services[i].name.clone())
            .collect(),
        capacity_rps: cap.capacity_rps,
        capacity_node_loss_rps: cap.node_loss_rps,
        capacity_zone_loss_rps: cap.zone_loss_rps,
        sim: sim_summary,
        catalog: catalog.map(|c| (c.name, c.prices_as_of)),
        elastic,
        nodes: plan.nodes,
    })
}

/// What arrives, as the text and charts describe it.
fn traffic_summary(scenario: &Scenario, sizing: &Sizing) -> TrafficSummary {
    let t = &scenario.traffic;
    let failures = scenario
        .failures
        .iter()
        .map(|f| {
            let kind = match f.kind {
                FailureKind::Replica => "replica",
                FailureKind::Node => "node",
                FailureKind::Zone => "zone",
            };
            let what = match &f.target {
                Some(x) => format!("{kind} {x}"),
                None => format!("{kind} (the busiest)"),
            };
            (
                what,
                f.at_s / 3600.0,
                f.duration_s.map(|d| (f.at_s + d) / 3600.0),
            )
        })
        .collect();
    TrafficSummary {
        constant_rps: t.rps,
        regions: t
            .regions
            .iter()
            .map(|r| (r.name.clone(), r.peak_rps, r.peak_hour_utc, r.trough_ratio))
            .collect(),
        spikes: t
            .spikes
            .iter()
            .map(|s| (s.at_s / 3600.0, s.duration_s / 60.0, s.multiplier))
            .collect(),
        peak_rps: sizing.peak_rps,
        peak_at_h: sizing.peak_at_s / 3600.0,
        daily_requests: sizing.daily_requests,
        duration_h: scenario.duration_s / 3600.0,
        start_hour_utc: t.start_hour_utc,
        failures,
    }
}

/// The simulated day, as the text and charts show it.
fn sim_summary(scenario: &Scenario, sim: &SimReport, timeline: Timeline) -> SimSummary {
    SimSummary {
        p50_ms: sim.latency_ms.p50,
        p95_ms: sim.latency_ms.p95,
        p99_ms: sim.latency_ms.p99,
        error_rate: sim.error_rate,
        requests: sim.requests,
        slo_met: sim.slo.met,
        violations: sim.slo.violations.clone(),
        timeline,
        failures: sim
            .failures
            .iter()
            .map(|f| {
                (
                    f.what.clone(),
                    f.at_s / 3600.0,
                    f.end_s.unwrap_or(scenario.duration_s) / 3600.0,
                    f.errors,
                )
            })
            .collect(),
    }
}

/// `85 x c5.large (lb 2, static 2, app 83)`.
fn plan_label(plan: &Plan) -> String {
    let mut types: Vec<&str> = plan
        .nodes
        .iter()
        .map(|n| n.instance_type.as_str())
        .collect();
    types.dedup();
    let reps = plan
        .replicas
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{} x {} ({reps})", plan.nodes.len(), types.join("+"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use twip_model::{Cost, Loss, Rejected};

    fn rejected(kind: Option<RejectionKind>, nodes: u32, p99: Option<f64>) -> Rejected {
        Rejected {
            candidate: format!("{nodes} x c5.large (app 3)"),
            reason: "some sentence".into(),
            kind,
            instance_type: Some("c5.large".into()),
            nodes: Some(nodes),
            replicas: BTreeMap::from([("app".to_string(), 3)]),
            monthly_usd: kind.map(|_| 62.05 * nodes as f64),
            worst_p99_ms: p99,
            loss: p99.map(|_| Loss::Zone { zone: "a".into() }),
        }
    }

    #[test]
    fn every_rejected_candidate_with_data_is_on_the_chart_at_its_cost() {
        let plan = Plan {
            scenario: "s".into(),
            scenario_file: None,
            policy: "spread".into(),
            region: None,
            nodes: Vec::new(),
            replicas: BTreeMap::new(),
            placements: Vec::new(),
            cost: Cost::hourly(0.5),
            verification: Vec::new(),
            rejected: vec![
                rejected(Some(RejectionKind::Capacity), 2, None),
                rejected(Some(RejectionKind::Placement), 3, None),
                rejected(Some(RejectionKind::Survival), 4, None),
                rejected(Some(RejectionKind::P99), 5, Some(1983.0)),
                rejected(Some(RejectionKind::ErrorRate), 6, Some(420.0)),
                // A plan written before the fields existed: no cost, not charted.
                rejected(None, 7, None),
            ],
            elastic: None,
        };
        let c = candidates(&plan);
        assert!(c[0].chosen && c[0].rejected.is_none());
        let kinds: Vec<Option<RejectionKind>> = c[1..].iter().map(|c| c.rejected).collect();
        assert_eq!(
            kinds,
            RejectionKind::ALL
                .iter()
                .copied()
                .map(Some)
                .collect::<Vec<_>>()
        );
        for (k, cand) in c[1..].iter().enumerate() {
            let nodes = 2.0 + k as f64;
            assert!((cand.monthly_usd - 62.05 * nodes).abs() < 1e-9);
        }
        assert_eq!(c[4].worst_p99_ms, Some(1983.0));
        assert_eq!(c[5].worst_p99_ms, Some(420.0));
        assert_eq!(c[1].worst_p99_ms, None);
    }
}
