//! `twip validate SCENARIO|PLAN`: every check `twip plan` and the appliers
//! make, without simulating.

use std::path::PathBuf;
use std::process::ExitCode;

use twip_model::{Plan, Scenario};

use crate::CmdResult;

const EXAMPLES: &str = "\
Examples:
  twip validate scenarios/twip/limited-release.toml
  twip validate scenarios/examples/shop.toml --policy binpack
  twip validate reports/plans/worldwide.json
  twip validate reports/plans/limited-release.json --scenario scenarios/twip/limited-release.toml

A scenario (.toml) is checked as `twip plan` would before it searches: the
fields, the catalog (a path, or a bundled name such as \"aws-ec2\"), the
region (given, or inferred from the zones), the zones and instance types,
the capacity provider's type, the placement policy (a built-in name, or a
plugin file that loads), node failure targets; and as the appliers would:
each service's image. A plan (.json) is checked in itself and against its
scenario (the one it names, relative to the plan file, or --scenario): the
scenario's name, services, region, zones and the replicas it allows, and
its node types against the scenario's catalog and allowed types (a price
the catalog no longer gives is a warning). Nothing is simulated.

Every error names the file, line and field. Warnings (a service that names
no image) do not fail.

Exit codes: 0 valid (warnings allowed); 1 an error was found.";

/// Arguments of `twip validate`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ValidateArgs {
    /// Scenario (.toml) or plan (.json) file.
    #[arg(value_name = "SCENARIO.toml|PLAN.json")]
    pub file: PathBuf,
    /// For a plan: its scenario (default: the one the plan names).
    #[arg(long, value_name = "SCENARIO.toml")]
    pub scenario: Option<PathBuf>,
    /// Check this placement policy instead of the scenario's (a built-in name or a .wasm plugin).
    #[arg(long, value_name = "NAME|PLUGIN.wasm")]
    pub policy: Option<String>,
}

/// Runs `twip validate`: 0 when nothing is wrong, 1 otherwise (every
/// problem printed on stderr).
pub fn run(args: ValidateArgs) -> CmdResult {
    let is_plan = args.file.extension().is_some_and(|e| e == "json");
    let mut errors: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let summary = if is_plan {
        let plan = Plan::load(&args.file)?;
        let scenario_path = match &args.scenario {
            Some(s) => s.clone(),
            None => plan.find_scenario(&args.file).ok_or_else(|| {
                format!(
                    "{}: field `scenario_file`: the plan does not name its scenario; pass --scenario",
                    args.file.display()
                )
            })?,
        };
        note!(
            "{}: plan for scenario {}",
            args.file.display(),
            scenario_path.display()
        );
        let scenario = Scenario::load(&scenario_path)?;
        scenario_checks(
            &scenario,
            args.policy.as_deref(),
            &mut errors,
            &mut warnings,
        );
        let mut bound = scenario.clone();
        match twip_model::consistency::bind(&plan, &args.file, &mut bound) {
            Ok((_, rebound)) => {
                for r in rebound {
                    note!("{}: {r}", scenario_path.display());
                }
                let (_, w) = twip_deploy::service_specs(&plan, &bound);
                warnings.extend(
                    w.into_iter()
                        .map(|w| format!("{}: {w}", args.file.display())),
                );
            }
            Err(e) => errors.push(e.to_string()),
        }
        node_type_checks(&plan, &args.file, &scenario, &mut errors, &mut warnings);
        format!(
            "{}: valid: plan of {} nodes for scenario {} ({})",
            args.file.display(),
            plan.nodes.len(),
            plan.scenario,
            scenario_path.display()
        )
    } else {
        let scenario = Scenario::load(&args.file)?;
        scenario_checks(
            &scenario,
            args.policy.as_deref(),
            &mut errors,
            &mut warnings,
        );
        let mut s = format!(
            "{}: valid: scenario {}, {} services",
            args.file.display(),
            scenario.name,
            scenario.services.len()
        );
        if let Ok(i) = twip_plan::infra(&scenario) {
            s.push_str(&format!(
                ", region {}, zones {}, {} instance types priced",
                i.region,
                i.zones.join(", "),
                i.types.len()
            ));
        }
        s
    };
    for w in &warnings {
        eprintln!("twip: warning: {w}");
    }
    for e in &errors {
        eprintln!("twip: error: {e}");
    }
    if !errors.is_empty() {
        eprintln!(
            "twip: {}: {} error{} found",
            args.file.display(),
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
        return Ok(ExitCode::from(1));
    }
    outln!("{summary}");
    Ok(ExitCode::SUCCESS)
}

/// What `twip plan` and the appliers would refuse in a scenario that parsed.
fn scenario_checks(
    s: &Scenario,
    policy: Option<&str>,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    if s.infrastructure.catalog.is_none() {
        // Simulating needs no catalog; planning does.
        errors.push(
            s.error(
                "infrastructure.catalog",
                "to plan, the scenario needs [infrastructure] catalog = \"aws-ec2\" (the bundled catalog) or a path to one",
            )
            .to_string(),
        );
    }
    if s.is_elastic() {
        // Elastic scenarios are simulated, not planned: only what the
        // simulator takes from the catalog (the provider's node) is checked.
        if let Err(e) = twip_plan::node_type(s) {
            errors.push(e.to_string());
        }
        if let Err(e) = twip_model::consistency::check_node_failures(s) {
            errors.push(e.to_string());
        }
    } else {
        let problems = twip_plan::infra::check(s, policy);
        errors.extend(
            problems
                .iter()
                .filter(|e| {
                    // Said once, above.
                    !(s.infrastructure.catalog.is_none()
                        && matches!(e, twip_plan::PlanError::Infra(i)
                            if *i.problem == twip_plan::infra::InfraProblem::NoCatalog))
                })
                .map(ToString::to_string),
        );
    }
    for (i, p) in twip_deploy::image_problems(s) {
        let text = s
            .error(&format!("service[{i}].image"), p.to_string())
            .to_string();
        match p {
            twip_deploy::ImageProblem::Malformed { .. } => errors.push(text),
            twip_deploy::ImageProblem::Unnamed { .. } => warnings.push(text),
        }
    }
}

/// A plan's node types (and an elastic plan's provider type) are ones the
/// scenario's catalog prices in its region and the scenario allows; a price
/// that differs from the catalog's is a warning (the catalog changed since).
fn node_type_checks(
    plan: &Plan,
    file: &std::path::Path,
    scenario: &Scenario,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let Ok(infra) = twip_plan::infra(scenario) else {
        return; // The scenario's own checks said why.
    };
    let line_of = |key: &str, k: usize| twip_model::consistency::plan_key_line(file, key, k);
    let known = || {
        infra
            .types
            .iter()
            .map(|(t, _)| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (k, n) in plan.nodes.iter().enumerate() {
        match infra.types.iter().find(|(t, _)| t.name == n.instance_type) {
            None => errors.push(format!(
                "{}:{}: field `nodes[{k}].instance_type`: {} is not an instance type the scenario \
                 allows in {} (the catalog prices: {})",
                file.display(),
                line_of("instance_type", k),
                n.instance_type,
                infra.region,
                known()
            )),
            Some((_, price)) if (price - n.hourly_usd).abs() > 1e-6 => warnings.push(format!(
                "{}:{}: field `nodes[{k}].hourly_usd`: {} costs ${price}/h in {}'s catalog, the \
                 plan says ${}/h (re-plan to price it as the catalog does now)",
                file.display(),
                line_of("hourly_usd", k),
                n.instance_type,
                infra.region,
                n.hourly_usd
            )),
            Some(_) => {}
        }
    }
    if let Some(e) = &plan.elastic {
        let t = &e.nodes.instance_type;
        if !infra.types.iter().any(|(x, _)| &x.name == t) {
            errors.push(format!(
                "{}: field `elastic.nodes.instance_type`: {t} is not an instance type the scenario \
                 allows in {} (the catalog prices: {})",
                file.display(),
                infra.region,
                known()
            ));
        }
    }
}
