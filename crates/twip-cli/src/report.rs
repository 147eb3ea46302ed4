//! `twip report`: plans (or scenarios) → HTML, Markdown and chart files.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crate::{err, ui, CmdResult};

const EXAMPLES: &str = "\
Examples:
  twip report scenarios/twip/training.toml reports/plans/limited-release.json reports/plans/worldwide.json --out reports/twip
  twip report reports/plans/limited-release.json --out out/report
  twip report reports/plans/worldwide.json --out out/quick --duration 2h
  twip report reports/plans/limited-release.json --scenario scenarios/twip/limited-release.toml --out out/lr

Each input is a phase, in order: a plan is read as it is, a scenario is
planned first. Each plan is simulated over its scenario's whole day (the
three TWIP phases take about a minute on two cores); --duration cuts
the day short for a quick look. A plan's scenario is the one it names
(relative to the plan file), or --scenario; a plan made for another
scenario (name, services, region, zones, replicas it may not have) is
refused before anything is simulated.

Exit codes: 0 written; 1 bad input or no plan for a scenario (nothing written).";

/// Arguments of `twip report`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ReportArgs {
    /// Plans (`twip plan --out`, .json) or scenarios (.toml, planned here), one per phase, in order.
    #[arg(required = true, value_name = "PLAN.json|SCENARIO.toml")]
    pub inputs: Vec<PathBuf>,
    /// Folder to write index.html, report.md and the charts (SVG, PNG) to; replaced as a whole.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of the simulations (default: each scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulate only this long of each scenario (e.g. "2h") instead of its whole duration.
    #[arg(long, value_parser = twip_model::parse_duration)]
    pub duration: Option<f64>,
    /// The scenario of a plan input instead of the one it names: once per
    /// plan input, in order (as `apply` and `status` take it).
    #[arg(long, value_name = "SCENARIO.toml")]
    pub scenario: Vec<PathBuf>,
    /// Add a "simulated against measured" section from `twip calibrate`'s
    /// file: the ladder, the hockey-stick chart, the fitted times.
    #[arg(long, value_name = "calibration.json")]
    pub calibration: Option<PathBuf>,
}

/// Runs `twip report`: exit 0 when written, 1 on bad input (nothing written).
pub fn run(args: ReportArgs) -> CmdResult {
    let mut command = String::from("twip report");
    for i in &args.inputs {
        command.push_str(&format!(" {}", i.display()));
    }
    for s in &args.scenario {
        command.push_str(&format!(" --scenario {}", s.display()));
    }
    command.push_str(&format!(" --out {}", args.out.display()));
    if let Some(s) = args.seed {
        command.push_str(&format!(" --seed {s}"));
    }
    if let Some(d) = args.duration {
        command.push_str(&format!(" --duration {d}s"));
    }
    if let Some(c) = &args.calibration {
        command.push_str(&format!(" --calibration {}", c.display()));
    }
    let calibration = match &args.calibration {
        Some(p) => Some(twip_model::calibration::Calibration::load(p)?),
        None => None,
    };
    let progress = Arc::new(twip_report::Progress::default());
    let opts = twip_report::Options {
        seed: args.seed,
        duration_s: args.duration,
        command,
        progress: Some(progress.clone()),
        // An elastic day's waiting replicas are placed by the plan's policy.
        placers: Some(twip_report::PlacerLoader(Arc::new(|s, policy| {
            twip_plan::request::PolicyPlacer::for_scenario(s, Some(policy))
                .map_err(|e| e.to_string())
        }))),
        calibration,
        ..twip_report::Options::default()
    };
    let started = Instant::now();
    let n = args.inputs.len();
    // A scenario is planned first (the training phase); a plan is read as it is.
    let mut inputs = Vec::new();
    let plans = args.inputs.iter().filter(|p| is_plan(p)).count();
    if !args.scenario.is_empty() && args.scenario.len() != plans {
        return err(format!(
            "--scenario is given {} times for {plans} plan inputs: give it once per plan, in order",
            args.scenario.len()
        ));
    }
    let mut given = args.scenario.iter();
    for (k, path) in args.inputs.iter().enumerate() {
        if is_plan(path) {
            inputs.push(plan_input(path, given.next())?);
            continue;
        }
        let scenario = twip_model::Scenario::load(path)?;
        let opts = twip_plan::PlanOptions {
            seed: args.seed,
            ..twip_plan::PlanOptions::default()
        };
        let t = Instant::now();
        let label = format!("phase {}/{n}, {}", k + 1, scenario.name);
        note!("{}: planning (phase {}/{n})", path.display(), k + 1);
        let outcome = crate::plan::with_progress(&scenario, opts, &label)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        note!(
            "{}: planned in {:.1} s",
            path.display(),
            t.elapsed().as_secs_f64()
        );
        match outcome {
            twip_plan::Outcome::Found { plan, .. } => inputs.push(twip_report::Input::Planned {
                scenario: path.clone(),
                plan,
            }),
            twip_plan::Outcome::NoPlan { binding, .. } => {
                return err(format!(
                    "{}: no plan meets the objectives: {binding}",
                    path.display()
                ))
            }
        }
    }
    let names: Vec<String> = args
        .inputs
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let p = progress.clone();
    let t = Instant::now();
    let report = ui::with_bar(
        move || {
            let bar = indicatif::ProgressBar::new(1);
            bar.set_style(ui::style(
                "{spinner} {msg} [{bar:30}] {percent}% ({elapsed})",
            ));
            bar
        },
        move |bar| {
            let (phase, total, done) = (
                p.phase.load(Ordering::Relaxed),
                p.day_ms.load(Ordering::Relaxed),
                p.day_done_ms.load(Ordering::Relaxed),
            );
            bar.set_message(report_phase(phase, &names));
            bar.set_length(total.max(1));
            bar.set_position(done.min(total));
        },
        || twip_report::Report::build(&inputs, &opts),
    )?;
    note!(
        "{} phases simulated in {:.1} s",
        n,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let written = ui::with_bar(
        || {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(ui::style("{spinner} {msg} ({elapsed})"));
            bar.set_message("writing HTML, Markdown, SVG and PNG");
            bar
        },
        |_| {},
        || report.write(&args.out),
    );
    match written {
        Ok(files) => {
            note!(
                "{} files written in {:.1} s; {:.1} s in all",
                files.len(),
                t.elapsed().as_secs_f64(),
                started.elapsed().as_secs_f64()
            );
            for f in files {
                outln!("{}", f.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => err(e),
    }
}

fn is_plan(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

/// A plan input, checked against its scenario (`scenario`, else the one it
/// names) before anything is simulated: a plan made for another scenario
/// is refused.
fn plan_input(
    path: &std::path::Path,
    scenario: Option<&PathBuf>,
) -> Result<twip_report::Input, crate::CliError> {
    let plan = twip_model::Plan::load(path)?;
    let file = match scenario {
        Some(s) => s.clone(),
        None => match plan.find_scenario(path) {
            Some(f) => f,
            // twip-report says what is missing.
            None => return Ok(twip_report::Input::PlanFile(path.to_path_buf())),
        },
    };
    let mut s = twip_model::Scenario::load(&file)?;
    twip_model::consistency::bind(&plan, path, &mut s)?;
    note!("{}: plan for scenario {}", path.display(), file.display());
    Ok(match scenario {
        None => twip_report::Input::PlanFile(path.to_path_buf()),
        // twip-report reads a plan file's scenario from the plan; one given
        // here travels with the plan.
        Some(_) => twip_report::Input::Planned {
            scenario: file,
            plan: Box::new(plan),
        },
    })
}

/// `phase 2/3, limited-release.json: its day`.
fn report_phase(phase: u64, names: &[String]) -> String {
    let k = (phase as usize).clamp(1, names.len().max(1));
    let name = names.get(k - 1).map(String::as_str).unwrap_or("");
    format!("phase {k}/{}, {name}: its day", names.len())
}
