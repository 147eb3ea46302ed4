//! `twip apply`, `twip status`, `twip destroy`: a plan onto a Docker engine
//! (here) or AWS ECS (`crate::ecs`).

use std::path::PathBuf;
use std::process::ExitCode;

use twip_docker::{Action, Desired, DockerError};
use twip_model::plan::Plan;
use twip_model::Scenario;

use crate::fail;

/// Where to apply.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The local Docker engine.
    Docker,
    /// AWS ECS (--cluster, --region, --endpoint-url).
    Ecs,
}

/// Arguments of `twip apply`.
#[derive(clap::Args, Debug)]
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
    /// Host port (on 127.0.0.1) of the entry service.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Print the changes and stop: exit 2 if there are any, 0 if in sync.
    #[arg(long)]
    pub dry_run: bool,
    /// ECS options.
    #[command(flatten)]
    pub ecs: crate::ecs::EcsApplyOpts,
}

/// Arguments of `twip status`.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Where to look.
    #[arg(long, value_enum)]
    pub target: Target,
    /// Environment name.
    #[arg(long, default_value = "default")]
    pub env: String,
    /// Plan to compare with.
    #[arg(long)]
    pub plan: PathBuf,
    /// The plan's scenario (default: the one the plan names).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Host port of the entry service.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// ECS options.
    #[command(flatten)]
    pub ecs: crate::ecs::EcsOpts,
}

/// Arguments of `twip destroy`.
#[derive(clap::Args, Debug)]
pub struct DestroyArgs {
    /// Where to remove from.
    #[arg(long, value_enum)]
    pub target: Target,
    /// Environment name (only what twip labelled with it is removed).
    #[arg(long)]
    pub env: String,
    /// ECS options.
    #[command(flatten)]
    pub ecs: crate::ecs::EcsOpts,
}

/// The plan and its scenario (`--scenario`, else the one the plan names),
/// the plan's replicas applied to the scenario.
pub fn load_plan(
    plan_path: &std::path::Path,
    scenario: Option<&PathBuf>,
) -> Result<(Plan, Scenario), String> {
    let plan = Plan::load(plan_path).map_err(|e| e.to_string())?;
    let scenario_path = match (scenario, &plan.scenario_file) {
        (Some(s), _) => s.clone(),
        // Relative to where `twip plan` ran (usually here), else to the plan's folder.
        (None, Some(f)) if f.is_relative() && !f.exists() => plan_path
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(f),
        (None, Some(f)) => f.clone(),
        (None, None) => {
            return Err(format!(
                "{}: the plan does not name its scenario file; pass --scenario",
                plan_path.display()
            ))
        }
    };
    let mut scenario = Scenario::load(&scenario_path).map_err(|e| e.to_string())?;
    plan.apply_to(&mut scenario)
        .map_err(|e| format!("the plan does not fit the scenario: {e}"))?;
    Ok((plan, scenario))
}

fn desired(
    plan_path: &std::path::Path,
    scenario: Option<&PathBuf>,
    env: &str,
    port: u16,
) -> Result<Desired, String> {
    let (plan, scenario) = load_plan(plan_path, scenario)?;
    twip_docker::desired::desired(&plan, &scenario, env, port)
}

/// A current-thread tokio runtime for the appliers.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// Runs `twip apply`: 0 done (or in sync), 2 dry run with changes, 1 failure.
pub fn apply(args: ApplyArgs) -> ExitCode {
    if args.target == Target::Ecs {
        return crate::ecs::apply(&args);
    }
    let d = match desired(&args.plan, args.scenario.as_ref(), &args.env, args.port) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    for w in &d.warnings {
        eprintln!("twip: warning: {w}");
    }
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let mut log = |line: String| println!("{line}");
    match rt.block_on(twip_docker::apply(&d, args.dry_run, &mut log)) {
        Ok(out) if out.actions.is_empty() => {
            println!(
                "environment {}: in sync with the plan ({} containers), no changes",
                d.env,
                d.containers.len()
            );
            ExitCode::SUCCESS
        }
        Ok(out) if !out.applied => {
            println!(
                "environment {}: {} changes (dry run, nothing done):",
                d.env,
                out.actions.len()
            );
            for a in &out.actions {
                println!("{a}");
            }
            ExitCode::from(2)
        }
        Ok(out) => {
            let n = |f: fn(&Action) -> bool| out.actions.iter().filter(|a| f(a)).count();
            println!(
                "environment {}: applied: {} created, {} recreated, {} removed; entry on http://127.0.0.1:{}/",
                d.env,
                n(|a| matches!(a, Action::Create(_))),
                n(|a| matches!(a, Action::Replace(_))),
                n(|a| matches!(a, Action::Remove(_))),
                args.port
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// Runs `twip status`: 0 in sync and healthy, 2 drift, 1 failure.
pub fn status(args: StatusArgs) -> ExitCode {
    if args.target == Target::Ecs {
        return crate::ecs::status(&args);
    }
    let d = match desired(&args.plan, args.scenario.as_ref(), &args.env, args.port) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match rt.block_on(twip_docker::status(&d)) {
        Ok(rows) => {
            println!(
                "{:<16} {:>8} {:>8} {:>8} {:>6}  drift",
                "service", "desired", "running", "healthy", "extra"
            );
            let mut drift = false;
            for r in &rows {
                let bad = r.running < r.desired || r.healthy < r.desired || r.extra > 0;
                drift |= bad;
                println!(
                    "{:<16} {:>8} {:>8} {:>8} {:>6}  {}",
                    r.service,
                    r.desired,
                    r.running,
                    r.healthy,
                    r.extra,
                    if bad { "yes" } else { "no" }
                );
            }
            if drift {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(e),
    }
}

/// Runs `twip destroy`.
pub fn destroy(args: DestroyArgs) -> ExitCode {
    if args.target == Target::Ecs {
        return crate::ecs::destroy(&args);
    }
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match rt.block_on(twip_docker::destroy(&args.env)) {
        Ok(removed) => {
            for r in &removed {
                println!("- removed {r}");
            }
            println!(
                "environment {}: {} objects removed",
                args.env,
                removed.len()
            );
            ExitCode::SUCCESS
        }
        Err(e @ DockerError::Unreachable(_)) => fail(e),
        Err(e) => fail(e),
    }
}
