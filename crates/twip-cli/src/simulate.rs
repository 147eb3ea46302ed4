//! `twip simulate`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use twip_model::Scenario;
use twip_sim::{Options, SimReport};

use crate::{err, CmdResult, Format};

/// Arguments of `twip simulate`.
#[derive(clap::Args, Debug)]
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
    /// Include per-interval series (rate, latency percentiles, errors) in the JSON.
    #[arg(long)]
    pub timeline: bool,
    /// Simulate only this long (e.g. "2h") instead of the scenario's duration.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<f64>,
    /// Time-parallel segments per replication (default: one per 6 simulated hours).
    #[arg(long)]
    pub segments: Option<u32>,
    /// Replay a plan (from `twip plan --out`): its replica counts, nodes and
    /// placement; node and zone failures take down the replicas placed there.
    #[arg(long, value_name = "PLAN.json")]
    pub plan: Option<PathBuf>,
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
    let layout = match &args.plan {
        None => None,
        Some(p) => {
            let plan = match twip_model::Plan::load(p) {
                Ok(plan) => plan,
                Err(e) => return err(e),
            };
            match plan.apply_to(&mut scenario) {
                Ok(l) => Some(l),
                Err(e) => return err(format!("{}: {e}", p.display())),
            }
        }
    };
    let opts = Options {
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
        Format::Table => out!("{}", table(&report)),
    }
    Ok(if report.slo.met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
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
    let watcher = std::io::stderr().is_terminal().then(|| {
        let (counter, done) = (counter.clone(), done.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            if done.load(Ordering::Relaxed) {
                return;
            }
            let bar = indicatif::ProgressBar::new(total_ms);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} simulating [{bar:40}] {percent}% ({eta} left)",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
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

fn table(r: &SimReport) -> String {
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
    let _ = writeln!(
        o,
        "latency ms: mean {}{}  p50 {}  p95 {}  p99 {}{}  max {}",
        ms(l.mean),
        ci(r.ci95.latency_mean_ms),
        ms(l.p50),
        ms(l.p95),
        ms(l.p99),
        ci(r.ci95.latency_p99_ms),
        ms(l.max)
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<16} {:>6} {:>12} {:>12} {:>12} {:>9} {:>8} {:>9}",
        "service", "util", "wait ms", "service ms", "completed", "rejected", "failed", "timed out"
    );
    for (name, s) in &r.services {
        let _ = writeln!(
            o,
            "{:<16} {:>5.1}% {:>12} {:>12} {:>12} {:>9} {:>8} {:>9}",
            name,
            s.utilization * 100.0,
            ms(s.mean_wait_ms),
            ms(s.mean_service_ms),
            s.completed,
            s.rejected,
            s.failed,
            s.timed_out
        );
    }
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
    }
    let _ = writeln!(o);
    if r.slo.met {
        let _ = writeln!(o, "SLO: met");
    } else {
        let _ = writeln!(o, "SLO: NOT met: {}", r.slo.violations.join("; "));
    }
    o
}
