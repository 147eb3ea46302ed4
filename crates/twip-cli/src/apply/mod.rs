//! `twip apply`, `twip status`, `twip destroy`: a plan onto a Docker engine
//! ([`docker`]) or AWS ECS ([`ecs`]). This module owns what the targets
//! share — the arguments, the choice of target, loading the plan and its
//! scenario, the runtime, and the printing that is the same for both — and
//! dispatches; the two target modules do not know each other.

pub(crate) mod docker;
mod ecs;

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::CmdResult;

use twip_model::plan::Plan;
use twip_model::Scenario;

/// Where to apply.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The local Docker engine.
    Docker,
    /// AWS ECS (--cluster, --region, --endpoint-url).
    Ecs,
}

const APPLY_EXAMPLES: &str = "\
Examples:
  twip apply training-plan.json --target docker --env training --dry-run
  twip apply training-plan.json --target docker --env training --port 8080
  twip apply plan.json --target ecs --cluster twip-prod --env prod --dry-run
  twip apply plan.json --target ecs --cluster twip-prod --env prod --asg-sketch

The plan names its scenario, relative to the plan file (--scenario
overrides it); a plan made for another scenario (name, services, region,
zones, replicas it may not have) is refused with exit 1. --env defaults to
\"default\" in apply, status and destroy alike.

Exit codes: 0 applied or already in sync; 2 a dry run found changes; 1 failure.";

const STATUS_EXAMPLES: &str = "\
Examples:
  twip status training-plan.json --target docker --env training
  twip status plan.json --target ecs --cluster twip-prod --env prod

Exit codes: 0 in sync and healthy; 2 drift (missing, extra, unhealthy or
stale); 1 failure.";

const DESTROY_EXAMPLES: &str = "\
Examples:
  twip destroy --target docker --env training
  twip destroy --target ecs --cluster twip-prod --env prod

Only what twip created in that environment (its full set of labels or tags)
is removed; on ECS the cluster and its instances are kept.";

/// Arguments of `twip apply`.
#[derive(clap::Args, Debug)]
#[command(after_help = APPLY_EXAMPLES)]
pub struct ApplyArgs {
    /// Plan file (from `twip plan --out`).
    pub plan: PathBuf,
    /// Where to apply it.
    #[arg(long, value_enum)]
    pub target: Target,
    /// The scenario the plan was made for (images, ports, topology);
    /// default: the one the plan names.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Environment name: everything twip creates is labelled with it.
    #[arg(long, default_value = "default")]
    pub env: String,
    /// Host port (on 127.0.0.1) of the entry service (Docker) [default:
    /// the one the environment's front publishes, else 8080].
    #[arg(long)]
    pub port: Option<u16>,
    /// Print the changes and stop: exit 2 if there are any, 0 if in sync.
    #[arg(long)]
    pub dry_run: bool,
    /// ECS options.
    #[command(flatten)]
    pub ecs: ecs::EcsApplyOpts,
}

/// Arguments of `twip status`.
#[derive(clap::Args, Debug)]
#[command(after_help = STATUS_EXAMPLES)]
pub struct StatusArgs {
    /// Plan file to compare with (from `twip plan --out`).
    #[arg(required_unless_present = "plan_flag", value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// The plan as a flag, as before it was positional (hidden alias).
    #[arg(
        long = "plan",
        hide = true,
        conflicts_with = "plan",
        value_name = "PLAN"
    )]
    pub plan_flag: Option<PathBuf>,
    /// Where to look.
    #[arg(long, value_enum)]
    pub target: Target,
    /// Environment name.
    #[arg(long, default_value = "default")]
    pub env: String,
    /// The plan's scenario (default: the one the plan names).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Host port of the entry service (Docker) [default: the one the
    /// environment's front publishes, else 8080].
    #[arg(long)]
    pub port: Option<u16>,
    /// ECS options.
    #[command(flatten)]
    pub ecs: ecs::EcsOpts,
}

/// Arguments of `twip destroy`.
#[derive(clap::Args, Debug)]
#[command(after_help = DESTROY_EXAMPLES)]
pub struct DestroyArgs {
    /// Where to remove from.
    #[arg(long, value_enum)]
    pub target: Target,
    /// Environment name (only what twip labelled with it is removed).
    #[arg(long, default_value = "default")]
    pub env: String,
    /// ECS options.
    #[command(flatten)]
    pub ecs: ecs::EcsOpts,
}

/// Runs `twip apply`: 0 done (or in sync), 2 dry run with changes, 1 failure.
pub fn apply(args: ApplyArgs) -> CmdResult {
    match args.target {
        Target::Docker => docker::apply(&args),
        Target::Ecs => ecs::apply(&args),
    }
}

impl StatusArgs {
    /// The plan, positional or by the hidden `--plan`.
    fn plan(&self) -> Result<&Path, String> {
        self.plan
            .as_deref()
            .or(self.plan_flag.as_deref())
            .ok_or_else(|| "give the plan: twip status PLAN --target ...".to_string())
    }
}

/// Runs `twip status`: 0 in sync and healthy, 2 drift, 1 failure.
pub fn status(args: StatusArgs) -> CmdResult {
    match args.target {
        Target::Docker => docker::status(&args),
        Target::Ecs => ecs::status(&args),
    }
}

/// Runs `twip destroy`.
pub fn destroy(args: DestroyArgs) -> CmdResult {
    match args.target {
        Target::Docker => docker::destroy(&args),
        Target::Ecs => ecs::destroy(&args),
    }
}

/// The plan and its scenario (`--scenario`, else the one the plan names),
/// the plan's replicas applied to the scenario; a plan made for another
/// scenario is refused (`twip_model::consistency::bind`).
pub(crate) fn load_plan(
    plan_path: &Path,
    scenario: Option<&PathBuf>,
) -> Result<(Plan, Scenario), String> {
    let plan = Plan::load(plan_path).map_err(|e| e.to_string())?;
    let scenario_path = match scenario {
        Some(s) => s.clone(),
        None => plan.find_scenario(plan_path).ok_or_else(|| {
            format!(
                "{}: the plan does not name its scenario file; pass --scenario",
                plan_path.display()
            )
        })?,
    };
    note!(
        "{}: plan of {} nodes for scenario {}",
        plan_path.display(),
        plan.nodes.len(),
        scenario_path.display()
    );
    let mut scenario = Scenario::load(&scenario_path).map_err(|e| e.to_string())?;
    twip_model::consistency::bind(&plan, plan_path, &mut scenario).map_err(|e| e.to_string())?;
    if plan.elastic.is_some() && !crate::ui::quiet() {
        let counts: Vec<String> = plan
            .replicas
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        eprintln!(
            "twip: {}: an elastic plan; the appliers do not run its autoscaling policies or \
             capacity provider (Docker has no autoscaler), so its start-of-day counts are \
             deployed as a fixed fleet: {}",
            plan_path.display(),
            counts.join(", ")
        );
    }
    Ok((plan, scenario))
}

/// A current-thread tokio runtime for the appliers.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// Prints the desired state's warnings, before anything is done.
fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("twip: warning: {w}");
    }
}

/// Prints the changes a dry run found in `place` (`environment E`, ...),
/// one line each, and returns exit code 2.
fn print_dry_run<A: Display>(place: &str, actions: &[A]) -> CmdResult {
    outln!(
        "{place}: {} changes (dry run, nothing done):",
        actions.len()
    );
    for a in actions {
        outln!("{a}");
    }
    Ok(ExitCode::from(2))
}

/// The exit code of `status`: 2 on drift, else 0.
fn drift_code(drift: bool) -> ExitCode {
    if drift {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints what a destroy removed, one line each.
fn print_removed(removed: &[String]) {
    for r in removed {
        outln!("- removed {r}");
    }
}
