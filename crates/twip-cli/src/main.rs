//! The `twip` binary: a thin layer over the twip crates.
//!
//! Exit codes: 0 success; 1 bad input or failure; 2 the run worked but an
//! SLO is not met.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod apply;
mod plan;
mod policy;
mod report;
mod simulate;

/// twip — scale-out planner and simulator.
///
/// Simulates a service topology under traffic and failures, places replicas
/// with WebAssembly policies, plans the cheapest infrastructure that meets
/// the SLOs, and reports on it.
#[derive(Parser, Debug)]
#[command(name = "twip", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate a scenario: latency percentiles, errors, utilisation, SLO verdict (exit 2 if not met).
    Simulate(simulate::SimulateArgs),
    /// Placement policies (WebAssembly plugins): list, check, place.
    Policy(policy::PolicyArgs),
    /// Plan the cheapest nodes, replicas and placement that meet the SLOs, verified by simulation (exit 2 if none).
    Plan(plan::PlanArgs),
    /// Apply a plan to a Docker engine or AWS ECS: diff first, converge idempotently (--dry-run: exit 2 if changes).
    Apply(apply::ApplyArgs),
    /// Desired against running, per service (exit 2 on drift).
    Status(apply::StatusArgs),
    /// Remove everything twip owns in an environment.
    Destroy(apply::DestroyArgs),
    /// Write the scale-out report (HTML, Markdown, SVG/PNG charts) for plans or scenarios.
    Report(report::ReportArgs),
}

/// Output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human-readable table.
    Table,
    /// One JSON object.
    Json,
}

/// Prints an error and returns exit code 1.
pub fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("twip: error: {e}");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Simulate(args) => simulate::run(args),
        Command::Policy(args) => policy::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Apply(args) => apply::apply(args),
        Command::Status(args) => apply::status(args),
        Command::Destroy(args) => apply::destroy(args),
        Command::Report(args) => report::run(args),
    }
}
