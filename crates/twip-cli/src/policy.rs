//! `twip policy ...` — placement policies as WebAssembly plugins (issue 3).
//!
//! - `twip policy list`: the built-in policies and their versions.
//! - `twip policy check PLUGIN`: the conformance battery, a pass/fail table,
//!   exit 1 on any failure.
//! - `twip policy place PLUGIN SCENARIO --nodes N --instance-type T`:
//!   places the scenario's services on N identical nodes and prints the
//!   placement.
//!
//! PLUGIN is a built-in name (`spread`, `binpack`, `zone-spread`) or the
//! path of a `.wasm` component.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::{err, ui, CmdResult, Format};

use twip_policy::{conformance, Host, Plugin, PolicyError, Request, BUILTINS};

const EXAMPLES: &str = "\
Examples:
  twip policy list
  twip policy check zone-spread
  twip policy check plugins/components/example-c-firstfit.wasm
  twip policy place zone-spread scenarios/twip/limited-release.toml --nodes 6 --instance-type m5.xlarge";

const LIST_EXAMPLES: &str = "\
Examples:
  twip policy list
  twip policy list --format json";

const CHECK_EXAMPLES: &str = "\
Examples:
  twip policy check binpack
  twip policy check plugins/components/example-c-firstfit.wasm --format json

Exit codes: 0 every case passed; 1 a case failed or the plugin does not load.";

const PLACE_EXAMPLES: &str = "\
Examples:
  twip policy place zone-spread scenarios/twip/limited-release.toml --nodes 6 --instance-type m5.xlarge
  twip policy place spread scenarios/examples/shop.toml --nodes 3 --instance-type m5.2xlarge --format json
  twip policy place binpack scenarios/twip/training.toml --nodes 2 --instance-type t3.large --cpu 4 --memory-mb 8192";

/// Arguments of `twip policy`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(clap::Subcommand, Debug)]
enum PolicyCommand {
    /// List the built-in policies and the interface version this twip speaks.
    #[command(after_help = LIST_EXAMPLES)]
    List {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Run the conformance battery against a plugin (exit 1 on any failure).
    #[command(after_help = CHECK_EXAMPLES)]
    Check {
        /// A `.wasm` component, or the name of a built-in policy.
        plugin: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Place a scenario's services on N identical nodes with a policy.
    #[command(after_help = PLACE_EXAMPLES)]
    Place {
        /// A `.wasm` component, or the name of a built-in policy.
        plugin: String,
        /// Scenario file (its services, zones and catalog are used).
        #[arg(required_unless_present = "scenario_flag", value_name = "SCENARIO")]
        scenario: Option<PathBuf>,
        /// The scenario as a flag, as before it was positional (hidden alias).
        #[arg(long = "scenario", hide = true, conflicts_with = "scenario")]
        scenario_flag: Option<PathBuf>,
        /// Number of nodes, spread round-robin over the scenario's zones.
        #[arg(long)]
        nodes: u32,
        /// Instance type of every node (looked up in the scenario's catalog).
        #[arg(long)]
        instance_type: String,
        /// vCPU per node, instead of the catalog's figure.
        #[arg(long)]
        cpu: Option<f64>,
        /// Memory per node in MiB, instead of the catalog's figure.
        #[arg(long)]
        memory_mb: Option<u32>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// Runs `twip policy`.
pub fn run(args: PolicyArgs) -> CmdResult {
    match args.command {
        PolicyCommand::List { format } => list(format),
        PolicyCommand::Check { plugin, format } => check(&plugin, format),
        PolicyCommand::Place {
            plugin,
            scenario,
            scenario_flag,
            nodes,
            instance_type,
            cpu,
            memory_mb,
            format,
        } => {
            let node_size = NodeSize {
                instance_type,
                cpu,
                memory_mb,
            };
            let Some(scenario) = scenario.or(scenario_flag) else {
                return err("give the scenario: twip policy place PLUGIN SCENARIO");
            };
            place(&plugin, &scenario, nodes, &node_size, format)
        }
    }
}

fn host() -> Result<Host, PolicyError> {
    Host::new()
}

/// A new host and the plugin loaded in it (errors name the plugin).
fn open(plugin: &str) -> Result<(Host, Plugin), String> {
    let host = host().map_err(|e| e.to_string())?;
    let p = load(&host, plugin).map_err(|e| format!("{plugin}: {e}"))?;
    Ok((host, p))
}

/// Loads a built-in by name, or a component file (the planner's rule).
fn load(host: &Host, plugin: &str) -> Result<Plugin, PolicyError> {
    host.load_named(plugin, Path::new("."))
}

fn list(format: Format) -> CmdResult {
    let host = match host() {
        Ok(h) => h,
        Err(e) => return err(e),
    };
    let mut rows = Vec::new();
    for b in BUILTINS {
        match host.load_builtin(b.name) {
            Ok(p) => rows.push((p.info().clone(), b.summary, b.wasm.len())),
            Err(e) => return err(format!("built-in '{}': {e}", b.name)),
        }
    }
    match format {
        Format::Json => {
            let v: Vec<_> = rows
                .iter()
                .map(|(i, _, size)| {
                    serde_json::json!({
                        "name": i.name, "version": i.version,
                        "description": i.description, "wasm_bytes": size,
                    })
                })
                .collect();
            let out =
                serde_json::json!({ "interface": twip_policy::interface_id(), "builtins": v });
            outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        Format::Table => {
            outln!("interface: {}", twip_policy::interface_id());
            let mut t = ui::table(&["name", "version", ">KiB", "description"]);
            for (i, _, size) in &rows {
                t.add_row(vec![
                    i.name.clone(),
                    i.version.clone(),
                    format!("{:.1}", *size as f64 / 1024.0),
                    i.description.clone(),
                ]);
            }
            out!("{}", ui::render(&t));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check(plugin: &str, format: Format) -> CmdResult {
    // The host (and its epoch ticker, the wall-clock backstop) lives as long as the plugin.
    let (_host, mut p) = match open(plugin) {
        Ok(hp) => hp,
        Err(e) => return err(e),
    };
    let outcomes = conformance::run(&mut p);
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    match format {
        Format::Json => {
            let cases: Vec<_> = outcomes
                .iter()
                .map(|o| {
                    serde_json::json!({
                        "case": o.case,
                        "expect": match o.expect { conformance::Expect::Placed => "placed", conformance::Expect::Refused => "refused" },
                        "passed": o.passed, "detail": o.detail, "micros": o.micros,
                    })
                })
                .collect();
            let out = serde_json::json!({
                "plugin": plugin, "name": p.info().name, "version": p.info().version,
                "passed": outcomes.len() - failed, "failed": failed, "cases": cases,
            });
            outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        Format::Table => {
            outln!(
                "policy '{}' {} — {}",
                p.info().name,
                p.info().version,
                p.info().description
            );
            let mut t = ui::table(&["", "case", ">µs", "detail"]);
            for o in &outcomes {
                t.add_row(vec![
                    if o.passed { "PASS" } else { "FAIL" }.to_string(),
                    o.case.to_string(),
                    o.micros.to_string(),
                    o.detail.to_string(),
                ]);
            }
            out!("{}", ui::render(&t));
            outln!("{} passed, {} failed", outcomes.len() - failed, failed);
        }
    }
    if failed > 0 {
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

struct NodeSize {
    instance_type: String,
    cpu: Option<f64>,
    memory_mb: Option<u32>,
}

/// `node-1, node-4 ×2, ...`: each node once, in order of first use.
fn node_list(req: &Request, placed: &[u32]) -> String {
    let mut seen: Vec<(u32, u32)> = Vec::new();
    for &x in placed {
        match seen.iter_mut().find(|(n, _)| *n == x) {
            Some((_, c)) => *c += 1,
            None => seen.push((x, 1)),
        }
    }
    let parts: Vec<String> = seen
        .iter()
        .map(|&(x, c)| {
            let id = &req.nodes[x as usize].id;
            if c == 1 {
                id.clone()
            } else {
                format!("{id} ×{c}")
            }
        })
        .collect();
    parts.join(", ")
}

fn place(
    plugin: &str,
    scenario_path: &Path,
    nodes: u32,
    size: &NodeSize,
    format: Format,
) -> CmdResult {
    let scenario = match twip_model::Scenario::load(scenario_path) {
        Ok(s) => s,
        Err(e) => return err(e),
    };
    // The request the planner would make for this candidate.
    let req = twip_plan::request::for_scenario(
        &scenario,
        &size.instance_type,
        nodes,
        size.cpu,
        size.memory_mb,
    )?;
    // The host (and its epoch ticker, the wall-clock backstop) lives as long as the plugin.
    let (_host, mut p) = match open(plugin) {
        Ok(hp) => hp,
        Err(e) => return err(e),
    };
    let answer = match p.place(&req) {
        Ok(a) => a,
        Err(e) => return err(e),
    };
    // Per-node use.
    let n = req.nodes.len();
    let (mut cpu, mut mem) = (vec![0u64; n], vec![0u64; n]);
    let mut on_node: Vec<Vec<String>> = vec![Vec::new(); n];
    for (s, placed) in req.services.iter().zip(&answer) {
        for &x in placed {
            cpu[x as usize] += s.cpu_millis as u64;
            mem[x as usize] += s.memory_mib as u64;
            on_node[x as usize].push(s.name.clone());
        }
    }
    match format {
        Format::Json => {
            let services: Vec<_> = req
                .services
                .iter()
                .zip(&answer)
                .map(|(s, placed)| {
                    serde_json::json!({
                        "name": s.name, "replicas": s.replicas,
                        "nodes": placed.iter().map(|&x| req.nodes[x as usize].id.clone()).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let nodes: Vec<_> = req
                .nodes
                .iter()
                .enumerate()
                .map(|(i, node)| {
                    serde_json::json!({
                        "id": node.id, "zone": req.zones[node.zone as usize],
                        "instance_type": req.instance_types[node.instance_type as usize],
                        "cpu_millis": node.cpu_millis, "cpu_used_millis": cpu[i],
                        "memory_mib": node.memory_mib, "memory_used_mib": mem[i],
                        "replicas": on_node[i],
                    })
                })
                .collect();
            let out = serde_json::json!({
                "policy": { "name": p.info().name, "version": p.info().version },
                "scenario": scenario.name, "services": services, "nodes": nodes,
            });
            outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        Format::Table => {
            outln!(
                "scenario '{}' on {} × {} with policy '{}' {}",
                scenario.name,
                nodes,
                size.instance_type,
                p.info().name,
                p.info().version
            );
            outln!("");
            let mut t = ui::table(&["service", ">replicas", "nodes"]);
            for (s, placed) in req.services.iter().zip(&answer) {
                t.add_row(vec![
                    s.name.clone(),
                    s.replicas.to_string(),
                    node_list(&req, placed),
                ]);
            }
            out!("{}", ui::render(&t));
            outln!("");
            let mut t = ui::table(&["node", "zone", ">cpu (m)", ">memory (MiB)", "replicas"]);
            for (i, node) in req.nodes.iter().enumerate() {
                t.add_row(vec![
                    node.id.clone(),
                    req.zones[node.zone as usize].clone(),
                    format!("{}/{}", cpu[i], node.cpu_millis),
                    format!("{}/{}", mem[i], node.memory_mib),
                    if on_node[i].is_empty() {
                        "-".to_string()
                    } else {
                        on_node[i].join(", ")
                    },
                ]);
            }
            out!("{}", ui::render(&t));
        }
    }
    Ok(ExitCode::SUCCESS)
}
