//! `twip apply | status | destroy --target ecs`: a plan onto AWS ECS
//! (crates/twip-ecs). Argument handling and printing only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use twip_ecs::{Action, Desired, Ecs};

use super::{
    load_plan, print_dry_run, print_removed, runtime, warn, ApplyArgs, DestroyArgs, StatusArgs,
};
use crate::{err, ui, CmdResult};

/// Where ECS is (with `--target ecs`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EcsOpts {
    /// ECS cluster (with --target ecs; required there).
    #[arg(long)]
    pub cluster: Option<String>,
    /// AWS region (with --target ecs; default: AWS_REGION or the profile's).
    #[arg(long)]
    pub region: Option<String>,
    /// ECS endpoint URL instead of AWS's (with --target ecs), e.g. a local emulator.
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

/// What only `twip apply --target ecs` takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EcsApplyOpts {
    /// Where ECS is.
    #[command(flatten)]
    pub ecs: EcsOpts,
    /// Also print an Auto Scaling group sketch per zone for the plan's nodes (with --target ecs).
    #[arg(long)]
    pub asg_sketch: bool,
}

fn cluster(o: &EcsOpts) -> Result<&str, String> {
    o.cluster
        .as_deref()
        .ok_or_else(|| "--target ecs needs --cluster NAME".to_string())
}

async fn connect(o: &EcsOpts) -> Result<Ecs, String> {
    twip_ecs::connect(cluster(o)?, o.region.as_deref(), o.endpoint_url.as_deref())
        .await
        .map_err(|e| e.to_string())
}

fn load(
    plan: &Path,
    scenario: Option<&PathBuf>,
    env: &str,
    o: &EcsOpts,
) -> Result<(Desired, Option<String>), String> {
    let (plan, scenario) = load_plan(plan, scenario)?;
    let d = twip_ecs::desired::desired(&plan, &scenario, env, cluster(o)?)
        .map_err(|e| e.to_string())?;
    Ok((d, plan.region.clone()))
}

fn warn_region(plan_region: Option<&str>, ecs: &Ecs) {
    if let Some(r) = plan_region {
        if r != ecs.region {
            eprintln!(
                "twip: warning: the plan's nodes are in {r}'s zones, but ECS is reached in {}",
                ecs.region
            );
        }
    }
}

/// Runs `twip apply --target ecs`: 0 done (or in sync), 2 dry run with changes, 1 failure.
pub fn apply(args: &ApplyArgs) -> CmdResult {
    let o = &args.ecs.ecs;
    let (d, plan_region) = match load(&args.plan, args.scenario.as_ref(), &args.env, o) {
        Ok(x) => x,
        Err(e) => return err(e),
    };
    warn(&d.warnings);
    outln!(
        "EC2 capacity to provide to cluster {} (ECS does not start instances: register them to the cluster):",
        d.cluster
    );
    for c in &d.capacity {
        outln!("  {} x {} in {}", c.count, c.instance_type, c.zone);
    }
    if args.ecs.asg_sketch {
        outln!("Auto Scaling groups, one per zone (a sketch to adapt):");
        out!(
            "{}",
            twip_ecs::desired::asg_sketch(&d.capacity, &d.env, &d.cluster)
        );
    }
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return err(e),
    };
    let mut log = |line: String| {
        if !ui::quiet() {
            outln!("{line}")
        }
    };
    let result = rt.block_on(async {
        let ecs = connect(o).await?;
        warn_region(plan_region.as_deref(), &ecs);
        twip_ecs::apply(&ecs, &d, args.dry_run, &mut log)
            .await
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(out) if out.actions.is_empty() => {
            outln!(
                "environment {} in cluster {}: in sync with the plan ({} services), no changes",
                d.env,
                d.cluster,
                d.services.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(out) if !out.applied => print_dry_run(
            &format!("environment {} in cluster {}", d.env, d.cluster),
            &out.actions,
        ),
        Ok(out) => {
            let n = |f: fn(&Action) -> bool| out.actions.iter().filter(|a| f(a)).count();
            outln!(
                "environment {} in cluster {}: applied: {} task definitions registered, {} services created, {} updated, {} removed",
                d.env,
                d.cluster,
                n(|a| matches!(a, Action::Register { .. })),
                n(|a| matches!(a, Action::CreateService(_))),
                n(|a| matches!(a, Action::UpdateService { .. })),
                n(|a| matches!(a, Action::RemoveService { .. })),
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => err(e),
    }
}

/// Runs `twip status --target ecs`: 0 in sync and running, 2 drift, 1 failure.
pub fn status(args: &StatusArgs) -> CmdResult {
    let (d, _) = match args
        .plan()
        .and_then(|plan| load(plan, args.scenario.as_ref(), &args.env, &args.ecs))
    {
        Ok(x) => x,
        Err(e) => return err(e),
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return err(e),
    };
    let result = rt.block_on(async {
        let ecs = connect(&args.ecs).await?;
        twip_ecs::status(&ecs, &d).await.map_err(|e| e.to_string())
    });
    match result {
        Ok(rows) => {
            let mut t = ui::table(&[
                "service",
                ">plan",
                ">desired",
                ">running",
                ">pending",
                "task definition",
                "drift",
            ]);
            let mut drift = false;
            for r in &rows {
                drift |= !r.drift.is_empty();
                t.add_row(vec![
                    r.name.clone(),
                    r.plan.to_string(),
                    r.desired.map_or("-".to_string(), |n| n.to_string()),
                    r.running.to_string(),
                    r.pending.to_string(),
                    r.task_definition.clone(),
                    if r.drift.is_empty() {
                        "no".to_string()
                    } else {
                        r.drift.join("; ")
                    },
                ]);
            }
            out!("{}", ui::render(&t));
            Ok(super::drift_code(drift))
        }
        Err(e) => err(e),
    }
}

/// Runs `twip destroy --target ecs`.
pub fn destroy(args: &DestroyArgs) -> CmdResult {
    if let Err(e) = twip_deploy::check_env_name(&args.env) {
        return err(e);
    }
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return err(e),
    };
    let result = rt.block_on(async {
        let ecs = connect(&args.ecs).await?;
        twip_ecs::destroy(&ecs, &args.env)
            .await
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(removed) => {
            print_removed(&removed);
            outln!(
                "environment {} in cluster {}: {} objects removed (the cluster and its instances are kept)",
                args.env,
                args.ecs.cluster.as_deref().unwrap_or_default(),
                removed.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => err(e),
    }
}
