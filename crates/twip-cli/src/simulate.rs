//! `twip simulate`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use twip_model::Scenario;
use twip_sim::{Options, SimReport};

use crate::{err, ui, CmdResult, Format};

const EXAMPLES: &str = "\
Examples:
  twip simulate scenarios/examples/mmc.toml
  twip simulate scenarios/twip/worldwide.toml --duration 2h --format json
  twip simulate scenarios/twip/limited-release.toml --replications 8 --seed 3
  twip simulate scenarios/twip/training.toml --duration 1h --timeline
  twip simulate scenarios/twip/limited-release.toml --plan reports/plans/limited-release.json

What only planning needs (the catalog, region, zones, instance types) is
checked too, and a problem there is a warning: `twip validate` makes it an
error.

Exit codes: 0 every SLO met (or the scenario has no [slo]); 2 an SLO is not
met; 1 bad input or a plan made for another scenario.";

/// Arguments of `twip simulate`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct SimulateArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Seed (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Independent replications, run in parallel; more give tighter confidence intervals.
    #[arg(long, default_value_t = 1)]
    pub replications: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Per-interval series (rate, latency percentiles, errors; replicas and
    /// nodes when capacity is elastic): in the JSON, or as a table.
    #[arg(long)]
    pub timeline: bool,
    /// Simulate only this long (e.g. "2h") instead of the scenario's duration.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<f64>,
    /// Time-parallel segments per replication (default: one per 6 simulated hours).
    #[arg(long)]
    pub segments: Option<u32>,
    /// Replay a plan (from `twip plan --out`): its replica counts, nodes and
    /// placement; node and zone failures take down the replicas placed there
    /// (a node failure written as SERVICE-INDEX, the scenario's own node of
    /// that replica, is the plan node that holds it). A plan made for
    /// another scenario is refused.
    #[arg(long, value_name = "PLAN.json")]
    pub plan: Option<PathBuf>,
    /// Placement policy for the replicas a capacity provider
    /// (`[infrastructure.autoscaling]`) places during the run: a built-in
    /// name or a .wasm plugin (default: the plan's with --plan, else the
    /// scenario's `[placement] policy`).
    #[arg(long, value_name = "NAME|PLUGIN.wasm")]
    pub policy: Option<String>,
}

/// Runs `twip simulate`: exit 0 when every SLO is met, 2 when one is not, 1 on bad input.
pub fn run(args: SimulateArgs) -> CmdResult {
    let mut scenario = match Scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => return err(e),
    };
    if let Some(d) = args.duration {
        if d <= scenario.warmup_s {
            return err(format!(
                "--duration must be longer than the scenario's warm-up ({} s)",
                scenario.warmup_s
            ));
        }
        scenario.set_duration(d);
    }
    note!(
        "{}: scenario {}, {} services, {:.0} s simulated",
        args.scenario.display(),
        scenario.name,
        scenario.services.len(),
        scenario.duration_s
    );
    // What only planning needs is a warning here, not an error (an elastic
    // scenario's capacity provider is needed, and refused below).
    if scenario.infrastructure.catalog.is_some() && !scenario.is_elastic() {
        for w in twip_plan::infra::planning_problems(&scenario) {
            eprintln!("twip: warning: {w} (only `twip plan` needs it; simulating anyway)");
        }
    }
    if !scenario.traffic.surprises.is_empty() {
        eprintln!(
            "twip: note: the scenario's {} [[traffic.surprise]] surge(s) are not part of the \
             simulated day: they are cases `twip plan --elastic` checks",
            scenario.traffic.surprises.len()
        );
    }
    let mut policy = args.policy.clone();
    let layout = match &args.plan {
        None => {
            // Node failures name the scenario's own nodes (SERVICE-INDEX).
            twip_model::consistency::check_node_failures(&scenario)?;
            None
        }
        Some(p) => {
            note!("{}: replaying the plan", p.display());
            let plan = twip_model::Plan::load(p)?;
            // The plan's own policy places what its capacity provider adds.
            policy.get_or_insert_with(|| plan.policy.clone());
            // A plan made for another scenario is refused; node failures
            // written against the scenario move onto the plan's nodes.
            let (layout, rebound) = twip_model::consistency::bind(&plan, p, &mut scenario)?;
            for r in rebound {
                note!("{}: {r}", args.scenario.display());
            }
            Some(layout)
        }
    };
    // A capacity provider's nodes are sized and priced from the catalog.
    let node_type = match twip_plan::node_type(&scenario) {
        Ok(t) => t,
        Err(e) => return err(e),
    };
    // Its waiting replicas are placed by the plan's or the scenario's policy.
    let placer = match twip_plan::request::PolicyPlacer::for_scenario(&scenario, policy.as_deref())
    {
        Ok(p) => p,
        Err(e) => return err(e),
    };
    let opts = Options {
        node_type,
        placer,
        layout,
        seed: args.seed,
        replications: args.replications,
        timeline: args.timeline,
        segments: args.segments,
        ..Options::default()
    };
    let report = match with_progress(&scenario, opts) {
        Ok(r) => r,
        Err(e) => return err(format!("{}: {e}", args.scenario.display())),
    };
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => outln!("{s}"),
            Err(e) => return err(e),
        },
        Format::Table => out!("{}", table(&report, has_slo(&scenario))),
    }
    Ok(if report.slo.met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Whether the scenario sets any objective (`[slo]` with a bound in it).
fn has_slo(s: &Scenario) -> bool {
    s.slo
        .as_ref()
        .is_some_and(|x| x.p99_ms.is_some() || x.max_error_rate.is_some())
}

fn parse_duration(s: &str) -> Result<f64, String> {
    twip_model::parse_duration(s)
}

/// Simulates with a progress bar on stderr when the run takes more than a
/// second and stderr is a terminal.
pub fn with_progress(
    scenario: &Scenario,
    mut opts: Options,
) -> Result<SimReport, twip_sim::SimError> {
    let counter = Arc::new(AtomicU64::new(0));
    opts.progress = Some(counter.clone());
    let total_ms = twip_sim::planned_work_ms(scenario, &opts);
    let done = Arc::new(AtomicBool::new(false));
    let watcher = ui::progress_shown().then(|| {
        let (counter, done) = (counter.clone(), done.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            if done.load(Ordering::Relaxed) {
                return;
            }
            let bar = indicatif::ProgressBar::new(total_ms);
            bar.set_style(ui::style(
                "{spinner} simulating [{bar:40}] {percent}% ({eta} left)",
            ));
            while !done.load(Ordering::Relaxed) {
                bar.set_position(counter.load(Ordering::Relaxed).min(total_ms));
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        })
    });
    let result = twip_sim::simulate(scenario, &opts);
    done.store(true, Ordering::Relaxed);
    if let Some(w) = watcher {
        w.join().ok();
    }
    result
}

fn ms(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn table(r: &SimReport, has_slo: bool) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let ci = |h: Option<f64>| h.map(|h| format!(" ± {}", ms(h))).unwrap_or_default();
    let _ = writeln!(
        o,
        "scenario {}  seed {}  replications {}  simulated {:.0} s  events {}  wall {:.2} s",
        r.scenario, r.seed, r.replications, r.simulated_s, r.events, r.wall_s
    );
    let _ = writeln!(
        o,
        "requests {}  completed {}  errors {}  error rate {:.6}{}",
        r.requests,
        r.completed,
        r.errors,
        r.error_rate,
        r.ci95
            .error_rate
            .map(|h| format!(" ± {h:.6}"))
            .unwrap_or_default()
    );
    let l = &r.latency_ms;
    // A censored figure is a lower bound: requests still in the system.
    let at_least = |x: f64, censored: bool| {
        if censored {
            format!("> {}", ms(x))
        } else {
            ms(x)
        }
    };
    let p99_ci = match r.ci95.latency_p99_ms {
        Some(h) if r.ci95.latency_p99_widened => {
            format!(" ± {} (widened: few requests above the p99)", ms(h))
        }
        h => ci(h),
    };
    let c = l.censored;
    let _ = writeln!(
        o,
        "latency ms: mean {}{}  p50 {}  p95 {}  p99 {}{}  max {}",
        at_least(l.mean, c.mean),
        ci(r.ci95.latency_mean_ms),
        at_least(l.p50, c.p50),
        at_least(l.p95, c.p95),
        at_least(l.p99, c.p99),
        p99_ci,
        at_least(l.max, c.max)
    );
    let u = &r.unfinished;
    if !c.is_none() || r.unstable.is_some() {
        let _ = writeln!(
            o,
            "still in the system at the end: {} requests (oldest {:.1} s, mean age {:.1} s); \
             figures marked > count them at their age",
            u.requests,
            u.oldest_ms / 1e3,
            u.mean_age_ms / 1e3
        );
    }
    if let Some(x) = &r.unstable {
        let why = if x.arrival_rps > x.capacity_rps {
            format!(
                "arrivals {:.1} req/s above a capacity of {:.1} req/s",
                x.arrival_rps, x.capacity_rps
            )
        } else {
            format!(
                "past the memory bound of {} requests",
                twip_sim::Unstable::HARD_BOUND
            )
        };
        let _ = writeln!(
            o,
            "unstable: the queue grows without bound: {} requests in the system at {}, {why}; \
             the run stopped there",
            x.in_system,
            hms(x.at_s)
        );
    }
    let _ = writeln!(o);
    let mut t = ui::table(&[
        "service",
        ">util",
        ">wait ms",
        ">service ms",
        ">completed",
        ">rejected",
        ">failed",
        ">timed out",
    ]);
    for (name, s) in &r.services {
        t.add_row(vec![
            name.clone(),
            format!("{:.1}%", s.utilization * 100.0),
            ms(s.mean_wait_ms),
            ms(s.mean_service_ms),
            s.completed.to_string(),
            s.rejected.to_string(),
            s.failed.to_string(),
            s.timed_out.to_string(),
        ]);
    }
    o.push_str(&ui::render(&t));
    if !r.failures.is_empty() {
        let _ = writeln!(o);
        for f in &r.failures {
            let end = f
                .end_s
                .map(|e| format!("{e:.0} s"))
                .unwrap_or_else(|| "end".into());
            let _ = writeln!(
                o,
                "failure: {} from {:.0} s to {end}: {} replicas down, {} visits lost",
                f.what, f.at_s, f.replicas, f.errors
            );
        }
        for (name, s) in &r.services {
            if s.connect_failures > 0 {
                let _ = writeln!(
                    o,
                    "{name}: {} connections to a dead replica failed after the connect timeout \
                     (retried on another replica, or the request's error)",
                    s.connect_failures
                );
            }
        }
    }
    if let Some(e) = &r.elastic {
        elastic_table(&mut o, e);
    }
    if let Some(t) = &r.timeline {
        timeline_table(&mut o, t, r.elastic.as_ref());
    }
    let _ = writeln!(o);
    if !has_slo && r.unstable.is_none() {
        let _ = writeln!(
            o,
            "SLO: none given (the scenario has no [slo] bound to check)"
        );
    } else if r.slo.met {
        let _ = writeln!(o, "SLO: met");
    } else {
        let mut why = r.slo.violations.clone();
        if r.unstable.is_some() {
            why.insert(0, "unstable".into());
        }
        let _ = writeln!(o, "SLO: NOT met: {}", why.join("; "));
    }
    o
}

/// Simulated time as `15h02m` (or `47s`, `3m20s`).
fn hms(t: f64) -> String {
    let s = t.round() as u64;
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m, sec) {
        (0, 0, x) => format!("{x}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, x) => format!("{m}m{x:02}s"),
        (h, m, 0) => format!("{h}h{m:02}m"),
        (h, m, x) => format!("{h}h{m:02}m{x:02}s"),
    }
}

fn metric(m: twip_model::elastic::Metric) -> &'static str {
    match m {
        twip_model::elastic::Metric::Cpu => "cpu",
        twip_model::elastic::Metric::RequestsPerReplica => "requests per replica",
        twip_model::elastic::Metric::InFlightPerReplica => "in flight per replica",
    }
}

/// Why a count changed, in words.
fn cause(c: &twip_sim::Cause) -> String {
    use twip_sim::Cause;
    match c {
        Cause::ScaleOut {
            metric: m,
            value,
            threshold,
        } => format!(
            "{} {value:.3} above {threshold} (scale-out alarm)",
            metric(*m)
        ),
        Cause::ScaleIn {
            metric: m,
            value,
            threshold,
        } => format!(
            "{} {value:.3} below {threshold:.3} (scale-in alarm)",
            metric(*m)
        ),
        Cause::Schedule { action, min, max } => {
            let mut b = Vec::new();
            if let Some(x) = min {
                b.push(format!("min {x}"));
            }
            if let Some(x) = max {
                b.push(format!("max {x}"));
            }
            format!("scheduled action {} sets {}", action + 1, b.join(", "))
        }
        Cause::Failure { what, .. } => format!("replacing what {what} took"),
        Cause::Capacity {
            pending,
            reservation_pct,
            target_pct,
        } => {
            let r = if reservation_pct.is_finite() {
                format!("{reservation_pct:.0} %")
            } else {
                "unbounded".into()
            };
            let wait = match pending {
                0 => String::new(),
                1 => "1 replica waits for a node, ".into(),
                n => format!("{n} replicas wait for a node, "),
            };
            format!("{wait}reservation {r} above the target {target_pct} %")
        }
        Cause::Idle { reservation_pct } => {
            format!("empty nodes, reservation {reservation_pct:.0} % for 15 minutes")
        }
    }
}

/// The elastic capacity: what each service ran, the nodes and their cost,
/// every scaling event.
fn elastic_table(o: &mut String, e: &twip_sim::Elasticity) {
    use std::fmt::Write;
    let _ = writeln!(o);
    let _ = writeln!(o, "elastic capacity:");
    for (name, c) in &e.services {
        let lo = c.desired.iter().min().copied().unwrap_or(0);
        let hi = c.desired.iter().max().copied().unwrap_or(0);
        let _ = writeln!(
            o,
            "  {name}: {lo} to {hi} replicas, {:.1} replica-hours",
            c.replica_hours
        );
    }
    match &e.nodes {
        Some(n) => {
            let _ = writeln!(
                o,
                "  nodes ({}): up to {}, {:.1} node-hours, ${:.2} for the run at ${}/h",
                n.instance_type, n.peak, n.node_hours, n.cost_usd, n.usd_per_hour
            );
        }
        None => {
            let _ = writeln!(
                o,
                "  nodes: no capacity provider ([infrastructure.autoscaling]): capacity is no \
                 constraint, and has no node cost of its own"
            );
        }
    }
    let changes: Vec<_> = e.events.iter().collect();
    let _ = writeln!(o, "scaling events: {}", changes.len());
    let w = changes
        .iter()
        .filter_map(|x| x.service.as_ref().map(String::len))
        .max()
        .unwrap_or(0)
        .max(12);
    for x in changes {
        let what = x.service.as_deref().unwrap_or("nodes");
        let count = if x.from == x.to {
            format!("{}", x.to)
        } else {
            format!("{} -> {}", x.from, x.to)
        };
        let _ = writeln!(
            o,
            "  {:>9}  {:<w$} {:>9}  {}",
            hms(x.at_s),
            what,
            count,
            cause(&x.cause)
        );
    }
}

/// Per interval: rate, p99, errors, and the replicas and nodes of the moment.
fn timeline_table(o: &mut String, t: &twip_sim::Timeline, e: Option<&twip_sim::Elasticity>) {
    use std::fmt::Write;
    let _ = writeln!(o);
    let mut head: Vec<String> = [">from", ">req/s", ">p99 ms", ">errors"]
        .map(String::from)
        .to_vec();
    if let Some(e) = e {
        for name in e.services.keys() {
            head.push(format!(">{name} in/want"));
        }
        if e.nodes.is_some() {
            head.push(">nodes".into());
        }
    }
    let mut table = ui::table(&head.iter().map(String::as_str).collect::<Vec<_>>());
    for k in 0..t.start_s.len() {
        let mut row = vec![
            hms(t.start_s[k]),
            format!("{:.1}", t.rps[k]),
            ms(t.p99_ms[k]),
            format!("{:.0}", t.errors[k]),
        ];
        if let Some(e) = e {
            for c in e.services.values() {
                row.push(format!("{}/{}", c.in_service[k], c.desired[k]));
            }
            if let Some(n) = &e.nodes {
                row.push((n.up[k] + n.provisioning[k]).to_string());
            }
        }
        table.add_row(row);
    }
    o.push_str(&ui::render(&table));
}
