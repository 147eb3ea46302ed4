//! `twip report`: plans (or scenarios) → HTML, Markdown and chart files.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::{err, CmdResult};

/// Arguments of `twip report`.
#[derive(clap::Args, Debug)]
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
}

/// Runs `twip report`: exit 0 when written, 1 on bad input (nothing written).
pub fn run(args: ReportArgs) -> CmdResult {
    let mut command = String::from("twip report");
    for i in &args.inputs {
        command.push_str(&format!(" {}", i.display()));
    }
    command.push_str(&format!(" --out {}", args.out.display()));
    if let Some(s) = args.seed {
        command.push_str(&format!(" --seed {s}"));
    }
    if let Some(d) = args.duration {
        command.push_str(&format!(" --duration {d}s"));
    }
    let opts = twip_report::Options {
        seed: args.seed,
        duration_s: args.duration,
        command,
        ..twip_report::Options::default()
    };
    // A scenario is planned first (the training phase); a plan is read as it is.
    let mut inputs = Vec::new();
    for path in &args.inputs {
        if path.extension().is_some_and(|e| e == "json") {
            inputs.push(twip_report::Input::PlanFile(path.clone()));
            continue;
        }
        let scenario = twip_model::Scenario::load(path)?;
        let opts = twip_plan::PlanOptions {
            seed: args.seed,
            ..twip_plan::PlanOptions::default()
        };
        match twip_plan::plan(&scenario, &opts).map_err(|e| format!("{}: {e}", path.display()))? {
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
    let report = twip_report::Report::build(&inputs, &opts)?;
    match report.write(&args.out) {
        Ok(files) => {
            for f in files {
                outln!("{}", f.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => err(e),
    }
}
