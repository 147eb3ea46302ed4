//! `twip apply | status | destroy --target docker`: a plan onto the local
//! Docker engine (crates/twip-docker). Argument handling and printing only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use twip_docker::{Action, Desired};

use super::{
    load_plan, print_dry_run, print_removed, runtime, warn, ApplyArgs, DestroyArgs, StatusArgs,
};
use crate::{err, ui, CmdResult};

/// The entry's host port when `--port` is not given.
const DEFAULT_PORT: u16 = 8080;

/// The desired state; without `--port`, the entry keeps the host port the
/// environment's front publishes (so `status` and `apply` without `--port`
/// see no false drift), else [`DEFAULT_PORT`].
fn desired(
    rt: &tokio::runtime::Runtime,
    plan_path: &Path,
    scenario: Option<&PathBuf>,
    env: &str,
    port: Option<u16>,
) -> Result<Desired, String> {
    let (plan, scenario) = load_plan(plan_path, scenario)?;
    let port = match port {
        Some(p) => p,
        None => rt
            .block_on(twip_docker::published_port(env))
            .map_err(|e| e.to_string())?
            .unwrap_or(DEFAULT_PORT),
    };
    twip_docker::desired::desired(&plan, &scenario, env, port).map_err(|e| e.to_string())
}

/// The entry's host port in `d`.
fn entry_port(d: &Desired) -> u16 {
    d.containers
        .iter()
        .filter_map(|c| c.publish)
        .min()
        .unwrap_or(DEFAULT_PORT)
}

/// Runs `twip apply --target docker`: 0 done (or in sync), 2 dry run with
/// changes, 1 failure.
pub fn apply(args: &ApplyArgs) -> CmdResult {
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return err(e),
    };
    let d = match desired(
        &rt,
        &args.plan,
        args.scenario.as_ref(),
        &args.env,
        args.port,
    ) {
        Ok(d) => d,
        Err(e) => return err(e),
    };
    warn(&d.warnings);
    let mut log = |line: String| {
        if !ui::quiet() {
            outln!("{line}")
        }
    };
    match rt.block_on(twip_docker::apply(&d, args.dry_run, &mut log)) {
        Ok(out) if out.actions.is_empty() => {
            outln!(
                "environment {}: in sync with the plan ({} containers), no changes",
                d.env,
                d.containers.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(out) if !out.applied => print_dry_run(&format!("environment {}", d.env), &out.actions),
        Ok(out) => {
            let n = |f: fn(&Action) -> bool| out.actions.iter().filter(|a| f(a)).count();
            outln!(
                "environment {}: applied: {} created, {} recreated, {} reloaded, {} removed; entry on http://127.0.0.1:{}/",
                d.env,
                n(|a| matches!(a, Action::Create(_))),
                n(|a| matches!(a, Action::Replace(_))),
                n(|a| matches!(a, Action::Reload(_))),
                n(|a| matches!(a, Action::Remove(_))),
                entry_port(&d)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => err(e),
    }
}

/// Runs `twip status --target docker`: 0 in sync and healthy, 2 drift, 1
/// failure.
pub fn status(args: &StatusArgs) -> CmdResult {
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return err(e),
    };
    let d = match args
        .plan()
        .and_then(|plan| desired(&rt, plan, args.scenario.as_ref(), &args.env, args.port))
    {
        Ok(d) => d,
        Err(e) => return err(e),
    };
    match rt.block_on(twip_docker::status(&d)) {
        Ok(rows) => {
            let mut t = ui::table(&[
                "service", ">desired", ">running", ">healthy", ">extra", "drift",
            ]);
            let mut drift = false;
            for r in &rows {
                let bad = r.drift();
                drift |= bad;
                t.add_row(vec![
                    r.service.clone(),
                    r.desired.to_string(),
                    r.running.to_string(),
                    r.healthy.to_string(),
                    r.extra.to_string(),
                    if bad { "yes" } else { "no" }.to_string(),
                ]);
            }
            out!("{}", ui::render(&t));
            for r in rows.iter().filter(|r| r.stale_fronts > 0) {
                outln!(
                    "{}: the running front routes to other upstreams than the plan's; `twip apply` reloads it",
                    r.service
                );
            }
            Ok(super::drift_code(drift))
        }
        Err(e) => err(e),
    }
}

/// Runs `twip destroy --target docker`.
pub fn destroy(args: &DestroyArgs) -> CmdResult {
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return err(e),
    };
    match rt.block_on(twip_docker::destroy(&args.env)) {
        Ok(removed) => {
            print_removed(&removed);
            outln!(
                "environment {}: {} objects removed",
                args.env,
                removed.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => err(e),
    }
}

/// For `twip calibrate`: the URL of `env`'s front once the environment runs
/// the plan. With `apply`, converges it first (as `twip apply`); without,
/// refuses an environment that is not in sync and healthy.
pub(crate) fn running_front(
    plan_path: &Path,
    scenario: Option<&PathBuf>,
    env: &str,
    port: Option<u16>,
    apply: bool,
) -> Result<String, String> {
    let rt = runtime()?;
    let d = desired(&rt, plan_path, scenario, env, port)?;
    if apply {
        warn(&d.warnings);
        let mut log = |line: String| {
            if !ui::quiet() {
                eprintln!("twip: {line}");
            }
        };
        rt.block_on(twip_docker::apply(&d, false, &mut log))
            .map_err(|e| e.to_string())?;
    } else {
        let rows = rt
            .block_on(twip_docker::status(&d))
            .map_err(|e| e.to_string())?;
        let off: Vec<String> = rows
            .iter()
            .filter(|r| r.drift())
            .map(|r| {
                format!(
                    "{} ({} of {} running, {} healthy)",
                    r.service, r.running, r.desired, r.healthy
                )
            })
            .collect();
        if !off.is_empty() {
            return Err(format!(
                "environment {env} does not run the plan {}: {}; hint: add --apply, or run \
                 `twip apply {} --target docker --env {env}` first",
                plan_path.display(),
                off.join(", "),
                plan_path.display()
            ));
        }
    }
    Ok(format!("http://127.0.0.1:{}", entry_port(&d)))
}
