//! `twip plan`: the cheapest verified plan, or a comparison of policies.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use twip_model::{Plan, Scenario};
use twip_plan::{Outcome, PlanOptions, Progress};

use crate::{err, CmdResult, Format};

const EXAMPLES: &str = "\
Examples:
  twip plan scenarios/twip/limited-release.toml --out plan.json
  twip plan scenarios/twip/worldwide.toml --policy spread --policy binpack --policy zone-spread
  twip plan scenarios/examples/shop.toml --format json --seed 3
  twip plan scenarios/twip/worldwide-elastic.toml --elastic --out plan.json

Exit codes: 0 a plan meets every SLO; 2 no plan does (the binding constraint
is named); 1 bad input.";

/// Arguments of `twip plan`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct PlanArgs {
    /// Scenario file (TOML) with `[slo]` and `[infrastructure] catalog`.
    pub scenario: PathBuf,
    /// Placement policy: a built-in name (spread, binpack, zone-spread) or a
    /// .wasm plugin. Repeat it to compare policies (default: the scenario's).
    #[arg(long = "policy", value_name = "NAME|PLUGIN.wasm")]
    pub policies: Vec<String>,
    /// Write the plan (JSON) here; with several policies, one file per
    /// policy (`plan.json` → `plan.spread.json`...).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Seed of the verification runs (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seconds the policy plugin may spend over the whole plan, all its
    /// calls together (default 60); past it the plan stops (exit 1).
    #[arg(long, value_name = "SECONDS", value_parser = budget_seconds)]
    pub policy_budget: Option<std::time::Duration>,
    /// Plan elastic capacity: per service the floor, ceiling and tracking
    /// target of an autoscaling policy, scheduled floors ahead of the known
    /// spikes, and a capacity provider, verified at the worst moments of a
    /// node or zone loss; the fixed plan is the baseline it is compared with.
    #[arg(long)]
    pub elastic: bool,
}

struct Run {
    policy: String,
    outcome: Outcome,
    /// The scenario's services, in its order (rejected candidates list
    /// their replicas in it).
    services: Vec<String>,
    /// The scenario's `traffic.start_hour_utc` (case times of day).
    start_hour_utc: f64,
}

impl Run {
    /// Rejected candidates folded as people read them.
    fn groups(&self, rejected: &[twip_model::Rejected]) -> Vec<twip_model::RejectedGroup> {
        let names: Vec<&str> = self.services.iter().map(String::as_str).collect();
        twip_model::group_rejected(rejected, &names)
    }
}

/// Runs `twip plan`: exit 0 with a plan, 2 when no plan meets the SLOs
/// (with several policies: when none does), 1 on bad input.
pub fn run(args: PlanArgs) -> CmdResult {
    let scenario = match Scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => return err(e),
    };
    let policies: Vec<Option<String>> = if args.policies.is_empty() {
        vec![None]
    } else {
        args.policies.iter().cloned().map(Some).collect()
    };
    let mut runs = Vec::new();
    for p in &policies {
        let opts = PlanOptions {
            policy: p.clone(),
            seed: args.seed,
            progress: None,
            policy_budget: args.policy_budget,
            elastic: args.elastic || scenario.plans_elastically(),
        };
        let label = p.clone().unwrap_or_else(|| scenario.policy.clone());
        match with_progress(&scenario, opts, &label) {
            Ok(outcome) => runs.push(Run {
                policy: label,
                outcome,
                services: scenario.services.iter().map(|s| s.name.clone()).collect(),
                start_hour_utc: scenario.traffic.start_hour_utc,
            }),
            Err(e) => return err(e),
        }
    }
    if let Some(out) = &args.out {
        let several = runs.len() > 1;
        for r in &mut runs {
            if let Outcome::Found { plan, .. } = &mut r.outcome {
                let path = if several {
                    per_policy(out, &r.policy)
                } else {
                    out.clone()
                };
                // The scenario's path relative to the plan file, so that it
                // resolves from wherever the plan is read; the JSON printed
                // below is then the very document written.
                plan.set_scenario_file(&scenario.path, &path);
                let text = match serde_json::to_string_pretty(plan.as_ref()) {
                    Ok(t) => t,
                    Err(e) => return err(e),
                };
                if let Err(e) = std::fs::write(&path, text + "\n") {
                    return err(format!("{}: cannot write: {e}", path.display()));
                }
            }
        }
    }
    match args.format {
        Format::Json => {
            // One policy: the plan file itself (what --out writes), or what
            // bound when there is none; several: one entry per policy.
            let v = match runs.as_slice() {
                [Run {
                    outcome: Outcome::Found { plan, .. },
                    ..
                }] => match serde_json::to_value(plan.as_ref()) {
                    Ok(v) => v,
                    Err(e) => return err(e),
                },
                [one] => json(one),
                _ => serde_json::Value::Array(runs.iter().map(json).collect()),
            };
            match serde_json::to_string_pretty(&v) {
                Ok(s) => outln!("{s}"),
                Err(e) => return err(e),
            }
        }
        Format::Table => {
            if runs.len() == 1 {
                out!("{}", table(&runs[0]));
            } else {
                out!("{}", comparison(&runs));
            }
        }
    }
    let found = runs
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Found { .. }));
    if !found {
        for r in &runs {
            if let Outcome::NoPlan { binding, .. } = &r.outcome {
                eprintln!(
                    "twip: no plan meets the SLOs with policy {}: {binding}",
                    r.policy
                );
            }
        }
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn per_policy(out: &Path, policy: &str) -> PathBuf {
    let tag: String = Path::new(policy)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| policy.to_string())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plan".into());
    let ext = out
        .extension()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "json".into());
    out.with_file_name(format!("{stem}.{tag}.{ext}"))
}

fn json(r: &Run) -> serde_json::Value {
    match &r.outcome {
        Outcome::Found {
            plan,
            survives_zone,
            stats,
        } => serde_json::json!({
            "policy": r.policy,
            "found": true,
            "plan": plan,
            "survives_zone": survives_zone,
            "search": stats_json(stats),
        }),
        Outcome::NoPlan {
            binding,
            rejected,
            stats,
        } => serde_json::json!({
            "policy": r.policy,
            "found": false,
            "binding": binding.to_string(),
            "rejected": rejected,
            "search": stats_json(stats),
        }),
    }
}

fn stats_json(s: &twip_plan::Stats) -> serde_json::Value {
    serde_json::json!({
        "candidates": s.candidates, "examined": s.examined,
        "simulated": s.simulated, "reused": s.reused, "wall_s": s.wall_s,
    })
}

/// Plans with progress on stderr when it takes more than a second: the
/// candidate being examined of at most how many (the search stops at the
/// first, cheapest, that passes, so a bar of all candidates would stop
/// part-way), and the cases simulated.
pub(crate) fn with_progress(
    scenario: &Scenario,
    mut opts: PlanOptions,
    label: &str,
) -> Result<Outcome, twip_plan::PlanError> {
    let progress = Arc::new(Progress::default());
    opts.progress = Some(progress.clone());
    let done = Arc::new(AtomicBool::new(false));
    let label = label.to_string();
    let watcher = crate::ui::progress_shown().then(|| {
        let (p, done) = (progress.clone(), done.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            if done.load(Ordering::Relaxed) {
                return;
            }
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(crate::ui::style("{spinner} planning {msg} ({elapsed})"));
            while !done.load(Ordering::Relaxed) {
                bar.set_message(crate::ui::planning(
                    &label,
                    p.examined.load(Ordering::Relaxed),
                    p.candidates.load(Ordering::Relaxed),
                    p.simulated.load(Ordering::Relaxed),
                ));
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        })
    });
    let result = twip_plan::plan(scenario, &opts);
    done.store(true, Ordering::Relaxed);
    if let Some(w) = watcher {
        w.join().ok();
    }
    result
}

fn worst_p99(p: &Plan) -> f64 {
    p.verification
        .iter()
        .map(|v| v.p99_ms)
        .fold(f64::NAN, f64::max)
}

fn node_summary(p: &Plan) -> String {
    let mut by: Vec<(String, String, usize)> = Vec::new();
    for n in &p.nodes {
        match by
            .iter_mut()
            .find(|(t, z, _)| t == &n.instance_type && z == &n.zone)
        {
            Some(x) => x.2 += 1,
            None => by.push((n.instance_type.clone(), n.zone.clone(), 1)),
        }
    }
    by.iter()
        .map(|(t, z, k)| format!("{k} x {t} in {z}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An elastic plan: its policies, what it costs against the fixed plan and
/// the lower bound, the cases it was verified in, the nearest rejections.
fn elastic_table(
    plan: &Plan,
    el: &twip_model::elastic_plan::ElasticPlan,
    start_hour_utc: f64,
    stats: &twip_plan::Stats,
) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let c = &el.cost;
    let _ = writeln!(
        o,
        "elastic plan for {}: ${:.2}/day, ${:.0}/month expected ({:.0} node-hours of {} at \
         ${}/h{})",
        plan.scenario,
        c.day_usd,
        c.monthly_usd,
        c.node_hours,
        el.nodes.instance_type,
        el.nodes.usd_per_hour,
        plan.region
            .as_ref()
            .map(|x| format!(", {x} on-demand"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        o,
        "  {:.1} % cheaper than the fixed plan (${:.0}/month); {:.1} % above the fluid lower \
         bound (${:.0}/month)",
        c.savings_pct, c.static_monthly_usd, c.above_lower_bound_pct, c.lower_bound_monthly_usd
    );
    let _ = writeln!(o);
    let mut t = crate::ui::table(&[
        "service",
        ">min",
        ">max",
        "metric",
        ">target",
        ">cooldowns out/in s",
        "schedule",
    ]);
    for (name, p) in &el.services {
        let sched: Vec<String> = p
            .schedule
            .iter()
            .map(|a| {
                let bound = match (a.min, a.max) {
                    (Some(lo), Some(hi)) => format!("min {lo} max {hi}"),
                    (Some(lo), None) => format!("min {lo}"),
                    (None, Some(hi)) => format!("max {hi}"),
                    (None, None) => String::new(),
                };
                format!("{} UTC {bound}", a.utc)
            })
            .collect();
        t.add_row(vec![
            name.clone(),
            p.min.to_string(),
            p.max.to_string(),
            format!("{:?}", p.metric).to_lowercase(),
            format!("{}", p.target),
            format!("{:.0}/{:.0}", p.scale_out_cooldown_s, p.scale_in_cooldown_s),
            if sched.is_empty() {
                "-".into()
            } else {
                sched.join(", ")
            },
        ]);
    }
    o.push_str(&crate::ui::render(&t));
    let n = &el.nodes;
    let _ = writeln!(
        o,
        "nodes: {} {} to {}, target capacity {} %, warm-up {:.0} s",
        n.instance_type, n.min_nodes, n.max_nodes, n.target_capacity, n.instance_warmup_s
    );
    let fixed: Vec<String> = plan
        .replicas
        .iter()
        .filter(|(k, _)| !el.services.contains_key(*k))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if !fixed.is_empty() {
        let _ = writeln!(o, "fixed: {}", fixed.join(", "));
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "cases (a loss for good {:.0} min into a window; the SLO judged over the {:.0} min after it):",
        el.window.lead_s / 60.0,
        el.window.after_loss_s / 60.0
    );
    let mut t = crate::ui::table(&["case", ">p99 ms", ">± ms", ">error rate", "met"]);
    for k in &el.cases {
        t.add_row(vec![
            k.name(start_hour_utc),
            format!("{:.1}", k.p99_ms),
            k.p99_ci95_ms
                .map(|x| format!("{x:.1}"))
                .unwrap_or_else(|| "-".into()),
            format!("{:.6}", k.error_rate),
            if k.met { "yes" } else { "NO" }.into(),
        ]);
    }
    o.push_str(&crate::ui::render(&t));
    let _ = writeln!(o);
    let simulated = el.rejected.iter().filter(|r| r.simulated).count();
    let _ = writeln!(
        o,
        "rejected cheaper candidates: {} ({} simulated, the rest screened); nearest:",
        el.rejected.len(),
        simulated
    );
    let mut near: Vec<&twip_model::elastic_plan::ElasticRejected> =
        el.rejected.iter().filter(|r| r.simulated).collect();
    near.sort_by(|a, b| b.day_usd.total_cmp(&a.day_usd));
    for x in near.iter().take(5) {
        let _ = writeln!(
            o,
            "  {} (${:.2}/day): {}",
            x.candidate(),
            x.day_usd,
            x.reason(start_hour_utc)
        );
    }
    let _ = writeln!(
        o,
        "search: {} candidates, {} examined, {} cases simulated, {:.1} s",
        stats.candidates, stats.examined, stats.simulated, stats.wall_s
    );
    o
}

fn table(r: &Run) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    if let Outcome::Found { plan, stats, .. } = &r.outcome {
        if let Some(el) = &plan.elastic {
            return elastic_table(plan, el, r.start_hour_utc, stats);
        }
    }
    match &r.outcome {
        Outcome::Found {
            plan,
            survives_zone,
            stats,
        } => {
            let _ = writeln!(
                o,
                "plan for {} with policy {}: {} nodes, ${:.3}/h, ${:.0}/month{}",
                plan.scenario,
                r.policy,
                plan.nodes.len(),
                plan.cost.hourly_usd,
                plan.cost.monthly_usd,
                plan.region
                    .as_ref()
                    .map(|x| format!(" ({x} on-demand)"))
                    .unwrap_or_default()
            );
            let _ = writeln!(o, "nodes: {}", node_summary(plan));
            let _ = writeln!(
                o,
                "replicas: {}",
                plan.replicas
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let _ = writeln!(o);
            let _ = writeln!(
                o,
                "{:<44} {:>10} {:>9} {:>11} {:>5}",
                "case", "p99 ms", "± ms", "error rate", "met"
            );
            for v in &plan.verification {
                let _ = writeln!(
                    o,
                    "{:<44} {:>10.1} {:>9} {:>11.6} {:>5}",
                    v.case,
                    v.p99_ms,
                    v.p99_ci95_ms
                        .map(|x| format!("{x:.1}"))
                        .unwrap_or_else(|| "-".into()),
                    v.error_rate,
                    if v.met { "yes" } else { "NO" }
                );
                if !v.covers.is_empty() {
                    let n = v.covers.len();
                    let shown: Vec<&str> = v.covers.iter().take(4).map(String::as_str).collect();
                    let _ = writeln!(
                        o,
                        "    also covers {n}: {}{}",
                        shown.join(", "),
                        if n > 4 { ", ..." } else { "" }
                    );
                }
            }
            let _ = writeln!(o);
            if let Some(z) = survives_zone {
                let _ = writeln!(o, "survives a zone loss: {}", if *z { "yes" } else { "no" });
            }
            let groups = r.groups(&plan.rejected);
            let _ = writeln!(
                o,
                "rejected cheaper candidates: {} groups (see --format json or --out); nearest:",
                groups.len()
            );
            for x in groups.iter().rev().take(5) {
                let _ = writeln!(o, "  {}: {}", x.candidate, x.reason);
            }
            let _ = writeln!(
                o,
                "search: {} candidates, {} examined, {} cases simulated, {} reused, {:.1} s",
                stats.candidates, stats.examined, stats.simulated, stats.reused, stats.wall_s
            );
        }
        Outcome::NoPlan {
            binding,
            rejected,
            stats,
        } => {
            let _ = writeln!(o, "no plan meets the SLOs with policy {}", r.policy);
            let _ = writeln!(o, "binding constraint: {binding}");
            for x in r.groups(rejected).iter().rev().take(5) {
                let _ = writeln!(o, "  {}: {}", x.candidate, x.reason);
            }
            let _ = writeln!(
                o,
                "search: {} candidates, {} examined, {} cases simulated, {:.1} s",
                stats.candidates, stats.examined, stats.simulated, stats.wall_s
            );
        }
    }
    o
}

fn comparison(runs: &[Run]) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let w = runs
        .iter()
        .map(|r| r.policy.len())
        .max()
        .unwrap_or(0)
        .max(16);
    let _ = writeln!(
        o,
        "{:<w$} {:>10} {:>11} {:>6} {:>16} {:>19}",
        "policy", "$/hour", "$/month", "nodes", "worst p99 ms", "survives zone loss"
    );
    for r in runs {
        match &r.outcome {
            Outcome::Found {
                plan,
                survives_zone,
                ..
            } => {
                let _ = writeln!(
                    o,
                    "{:<w$} {:>10.3} {:>11.0} {:>6} {:>16.1} {:>19}",
                    r.policy,
                    plan.cost.hourly_usd,
                    plan.cost.monthly_usd,
                    plan.nodes.len(),
                    worst_p99(plan),
                    match survives_zone {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => "-",
                    }
                );
            }
            Outcome::NoPlan { binding, .. } => {
                let _ = writeln!(o, "{:<w$} no plan: {binding}", r.policy);
            }
        }
    }
    o
}

/// `--policy-budget`: positive seconds, at most a day.
fn budget_seconds(text: &str) -> Result<std::time::Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(std::time::Duration::from_secs_f64(s)),
        _ => Err(format!(
            "expected seconds, more than 0 and at most 86400, found {text:?}"
        )),
    }
}
