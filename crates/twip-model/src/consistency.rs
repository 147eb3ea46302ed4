//! Whether a plan belongs with a scenario, and what a plan does to the
//! parts of a scenario written against the scenario's own layout.
//!
//! A plan is made for one scenario; replayed, reported or applied with
//! another it gives answers about nothing (the limited-release plan
//! replayed against the worldwide day: 34 % errors). [`differences`] lists
//! what tells them apart (the scenario's name, its services, the region,
//! the zones, replica counts a service may not have) and [`bind`] refuses
//! a plan that differs, before anything runs.
//!
//! A node failure written against a scenario (`[[failure]] kind = "node"
//! target = "app-0"`) names a node of the scenario's own layout, one node
//! per replica (`SERVICE-INDEX`). A plan renames the nodes (`node-1`...),
//! so [`bind`] rewrites such a target to the plan node that holds that
//! replica ([`Rebound`]), and says so clearly when the plan has no such
//! replica.
//!
//! The plan file stores its scenario's path relative to the plan's own
//! folder ([`relative_path`]), so it resolves wherever twip runs;
//! [`scenario_file`] also finds the scenario of plans written before, whose
//! path was relative to where `twip plan` ran.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::locate::{line_of_offset, FieldPath};
use crate::{Error, FailureKind, Layout, Plan, Scenario};

/// One way a plan and a scenario differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The plan was made for a scenario of another name.
    Name {
        /// The plan's `scenario`.
        plan: String,
        /// The scenario's `name`.
        scenario: String,
    },
    /// Services only one of the two has.
    Services {
        /// Services the plan places that the scenario does not have.
        only_plan: Vec<String>,
        /// Services of the scenario the plan does not place.
        only_scenario: Vec<String>,
    },
    /// The plan was priced in another region than the scenario names.
    Region {
        /// The plan's region.
        plan: String,
        /// The scenario's `[infrastructure] region`.
        scenario: String,
    },
    /// The plan's nodes are in zones the scenario does not list.
    Zones {
        /// The plan's zones the scenario does not have.
        plan: Vec<String>,
        /// The scenario's zones.
        scenario: Vec<String>,
    },
    /// The plan gives a service more replicas than the scenario allows
    /// (`fixed = true` or `max_replicas`), or another count than a fixed
    /// service has.
    Replicas {
        /// The service.
        service: String,
        /// The plan's count.
        plan: u32,
        /// What the scenario allows.
        allowed: Allowed,
    },
}

/// The replica counts a scenario allows a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Exactly this many (`fixed = true`).
    Exactly(u32),
    /// At most this many (`max_replicas`).
    AtMost(u32),
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Name { plan, scenario } => {
                write!(f, "scenario name: the plan's is {plan:?}, the scenario's {scenario:?}")
            }
            Difference::Services {
                only_plan,
                only_scenario,
            } => {
                let mut parts = Vec::new();
                if !only_plan.is_empty() {
                    parts.push(format!(
                        "the plan places {} that the scenario does not have",
                        only_plan.join(", ")
                    ));
                }
                if !only_scenario.is_empty() {
                    parts.push(format!(
                        "the scenario has {} that the plan does not place",
                        only_scenario.join(", ")
                    ));
                }
                write!(f, "services: {}", parts.join("; "))
            }
            Difference::Region { plan, scenario } => {
                write!(f, "region: the plan's is {plan}, the scenario's {scenario}")
            }
            Difference::Zones { plan, scenario } => write!(
                f,
                "zones: the plan has nodes in {}, not zones of the scenario ({})",
                plan.join(", "),
                scenario.join(", ")
            ),
            Difference::Replicas {
                service,
                plan,
                allowed,
            } => match allowed {
                Allowed::Exactly(n) => write!(
                    f,
                    "replicas: the plan gives {service} {plan}, the scenario fixes it at {n} (fixed = true)"
                ),
                Allowed::AtMost(n) => write!(
                    f,
                    "replicas: the plan gives {service} {plan}, the scenario allows at most {n} (max_replicas)"
                ),
            },
        }
    }
}

/// Everything that tells `plan` and `scenario` apart (empty: they belong
/// together). Replica counts differ legitimately (the planner sizes them);
/// only a count the scenario forbids is a difference.
pub fn differences(plan: &Plan, scenario: &Scenario) -> Vec<Difference> {
    let mut out = Vec::new();
    if plan.scenario != scenario.name {
        out.push(Difference::Name {
            plan: plan.scenario.clone(),
            scenario: scenario.name.clone(),
        });
    }
    let theirs: Vec<&str> = scenario.services.iter().map(|s| s.name.as_str()).collect();
    let only_plan: Vec<String> = plan
        .replicas
        .keys()
        .filter(|s| !theirs.contains(&s.as_str()))
        .cloned()
        .collect();
    let only_scenario: Vec<String> = theirs
        .iter()
        .filter(|s| !plan.replicas.contains_key(**s))
        .map(|s| s.to_string())
        .collect();
    if !only_plan.is_empty() || !only_scenario.is_empty() {
        out.push(Difference::Services {
            only_plan,
            only_scenario,
        });
    }
    if let (Some(p), Some(s)) = (&plan.region, &scenario.infrastructure.region) {
        if p != s {
            out.push(Difference::Region {
                plan: p.clone(),
                scenario: s.clone(),
            });
        }
    }
    let zones = &scenario.infrastructure.zones;
    // A scenario that names no zones has the default one: any zone goes.
    if zones.as_slice() != [crate::scenario::DEFAULT_ZONE] {
        let mut foreign: Vec<String> = Vec::new();
        for n in &plan.nodes {
            if !zones.contains(&n.zone) && !foreign.contains(&n.zone) {
                foreign.push(n.zone.clone());
            }
        }
        if !foreign.is_empty() {
            out.push(Difference::Zones {
                plan: foreign,
                scenario: zones.clone(),
            });
        }
    }
    for s in &scenario.services {
        let Some(&n) = plan.replicas.get(&s.name) else {
            continue;
        };
        let allowed = match s.max_replicas {
            Some(m) if s.fixed && n != m => Allowed::Exactly(m),
            Some(m) if !s.fixed && n > m => Allowed::AtMost(m),
            _ => continue,
        };
        out.push(Difference::Replicas {
            service: s.name.clone(),
            plan: n,
            allowed,
        });
    }
    out
}

/// `app 3, lb 2` in the scenario's service order (then the plan's others).
fn counts(plan: &BTreeMap<String, u32>, order: &[&str]) -> String {
    let mut v: Vec<String> = order
        .iter()
        .filter_map(|s| plan.get(*s).map(|n| format!("{s} {n}")))
        .collect();
    v.extend(
        plan.iter()
            .filter(|(s, _)| !order.contains(&s.as_str()))
            .map(|(s, n)| format!("{s} {n}")),
    );
    v.join(", ")
}

/// The field of the plan file a difference is about.
fn plan_field(d: &Difference) -> &'static str {
    match d {
        Difference::Name { .. } => "scenario",
        Difference::Services { .. } | Difference::Replicas { .. } => "replicas",
        Difference::Region { .. } => "region",
        Difference::Zones { .. } => "nodes",
    }
}

/// The 1-based line of `"field":` in the plan file (1 if unreadable).
fn plan_line(plan_path: &Path, field: &str) -> usize {
    plan_key_line(plan_path, field, 0)
}

/// The 1-based line of the `nth` (from 0) `"key"` in the plan file, 1 if
/// unreadable or absent: the nodes come first in a plan file, so the k-th
/// `"instance_type"` is node k's.
pub fn plan_key_line(plan_path: &Path, key: &str, nth: usize) -> usize {
    let Ok(src) = std::fs::read_to_string(plan_path) else {
        return 1;
    };
    src.match_indices(&format!("\"{key}\""))
        .nth(nth)
        .map_or(1, |(o, _)| line_of_offset(&src, o))
}

/// Refuses a plan made for another scenario: an error at the plan file's
/// first differing field that names every difference and both replica
/// counts.
pub fn check(plan: &Plan, plan_path: &Path, scenario: &Scenario) -> Result<(), Error> {
    let diffs = differences(plan, scenario);
    let Some(first) = diffs.first() else {
        return Ok(());
    };
    let field = plan_field(first);
    let order: Vec<&str> = scenario.services.iter().map(|s| s.name.as_str()).collect();
    let own: BTreeMap<String, u32> = scenario
        .services
        .iter()
        .map(|s| (s.name.clone(), s.replicas))
        .collect();
    Err(Error::Invalid {
        path: plan_path.to_path_buf(),
        line: plan_line(plan_path, field),
        field: field.to_string(),
        message: format!(
            "the plan was made for scenario {:?}, not for {} ({:?}): {} (replicas: the plan's {}; the scenario's own {}); give the plan's scenario, or plan this one with `twip plan {}`",
            plan.scenario,
            scenario.path.display(),
            scenario.name,
            diffs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            counts(&plan.replicas, &order),
            counts(&own, &order),
            scenario.path.display(),
        ),
    })
}

/// A node failure of the scenario moved onto the plan's nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebound {
    /// Index of the failure in the scenario.
    pub failure: usize,
    /// The target as the scenario wrote it (`app-0`).
    pub from: String,
    /// The plan's node that holds that replica (`node-3`).
    pub to: String,
    /// The replica (`app/0`).
    pub replica: String,
}

impl std::fmt::Display for Rebound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "failure[{}]: node {:?} (replica {} in the scenario's own layout) is the plan's {}",
            self.failure, self.from, self.replica, self.to
        )
    }
}

/// `SERVICE-INDEX` → (service index, replica), if `id` names a node of
/// the scenario's own layout ([`Layout::one_node_per_replica`]).
fn own_node(scenario: &Scenario, id: &str) -> Option<(usize, u32)> {
    let (name, idx) = id.rsplit_once('-')?;
    let r: u32 = idx.parse().ok()?;
    let s = scenario.service_index(name)?;
    (r < scenario.services[s].replicas).then_some((s, r))
}

/// Checks every node failure's target against the scenario's own layout
/// (one node per replica, `SERVICE-INDEX`), as `twip simulate` without a
/// plan resolves it: an error at the target's line for a node that layout
/// does not have.
pub fn check_node_failures(scenario: &Scenario) -> Result<(), Error> {
    let layout = Layout::one_node_per_replica(scenario);
    for (i, f) in scenario.failures.iter().enumerate() {
        let (FailureKind::Node, Some(t)) = (f.kind, &f.target) else {
            continue;
        };
        if layout.nodes.iter().any(|n| &n.id == t) {
            continue;
        }
        return Err(scenario.error(
            &FieldPath::default()
                .key("failure")
                .index(i)
                .key("target")
                .to_string(),
            format!(
                "no node {t:?}: without a plan each replica is its own node, named SERVICE-INDEX ({}{})",
                layout
                    .nodes
                    .iter()
                    .take(8)
                    .map(|n| n.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if layout.nodes.len() > 8 { ", ..." } else { "" }
            ),
        ));
    }
    Ok(())
}

/// Moves the scenario's node failures onto the plan's nodes: a target
/// that names a node of the scenario's own layout (`app-0`, the node of
/// replica app/0) becomes the plan node that holds that replica; a target
/// that is a plan node id stays. Call it before the plan's replica counts
/// are applied (it reads the scenario's own). An error at the target's
/// line when the plan has neither.
pub fn rebind_failures(plan: &Plan, scenario: &mut Scenario) -> Result<Vec<Rebound>, Error> {
    let mut out = Vec::new();
    for i in 0..scenario.failures.len() {
        let f = &scenario.failures[i];
        let (FailureKind::Node, Some(t)) = (f.kind, &f.target) else {
            continue;
        };
        let t = t.clone();
        let field = FieldPath::default()
            .key("failure")
            .index(i)
            .key("target")
            .to_string();
        if let Some((s, r)) = own_node(scenario, &t) {
            let name = scenario.services[s].name.clone();
            let node = plan
                .placements
                .iter()
                .find(|p| p.service == name && p.replica == r)
                .map(|p| p.node.clone());
            let Some(node) = node else {
                return Err(scenario.error(
                    &field,
                    format!(
                        "node {t:?} is replica {name}/{r}'s node in the scenario's own layout, and the plan gives {name} {} replicas, so it has no such node: target one of the plan's nodes ({}) or write a replica failure (kind = \"replica\", target = \"{name}/{r}\")",
                        plan.replicas.get(&name).copied().unwrap_or(0),
                        node_list(plan)
                    ),
                ));
            };
            out.push(Rebound {
                failure: i,
                from: t.clone(),
                to: node.clone(),
                replica: format!("{name}/{r}"),
            });
            scenario.failures[i].target = Some(node);
        } else if !plan.nodes.iter().any(|n| n.id == t) {
            return Err(scenario.error(
                &field,
                format!(
                    "no node {t:?} in the plan (nodes: {}) nor in the scenario's own layout (SERVICE-INDEX, one node per replica)",
                    node_list(plan)
                ),
            ));
        }
    }
    Ok(out)
}

fn node_list(plan: &Plan) -> String {
    let ids: Vec<&str> = plan.nodes.iter().take(12).map(|n| n.id.as_str()).collect();
    format!(
        "{}{}",
        ids.join(", "),
        if plan.nodes.len() > 12 { ", ..." } else { "" }
    )
}

/// Everything `twip simulate --plan`, `report` and `apply` do with a plan
/// and a scenario before they run: refuses a plan made for another scenario
/// ([`check`]), moves node failures onto the plan's nodes
/// ([`rebind_failures`]), then sets the plan's replica counts and returns
/// its layout ([`Plan::apply_to`]).
pub fn bind(
    plan: &Plan,
    plan_path: &Path,
    scenario: &mut Scenario,
) -> Result<(Layout, Vec<Rebound>), Error> {
    check(plan, plan_path, scenario)?;
    let rebound = rebind_failures(plan, scenario)?;
    let layout = plan.apply_to(scenario).map_err(|m| Error::Invalid {
        path: plan_path.to_path_buf(),
        line: plan_line(plan_path, "placements"),
        field: "placements".into(),
        message: format!(
            "the plan does not fit scenario {}: {m}",
            scenario.path.display()
        ),
    })?;
    Ok((layout, rebound))
}

/// The scenario file of a plan read from `plan_path`: the stored path
/// relative to the plan's folder (as `twip plan --out` writes it); for
/// plans written before, whose path was relative to where `twip plan` ran,
/// the stored path from here or from a folder above the plan's (the
/// repository's root, for `reports/plans/*.json`). `None` when the plan
/// names no scenario. When nothing exists, the path relative to the plan's
/// folder (so the error names it).
pub fn scenario_file(plan: &Plan, plan_path: &Path) -> Option<PathBuf> {
    let f = plan.scenario_file.as_ref()?;
    if f.is_absolute() {
        return Some(f.clone());
    }
    let dir = plan_path.parent().unwrap_or(Path::new(""));
    let beside = crate::plan::lexical(&dir.join(f));
    if beside.is_file() {
        return Some(beside);
    }
    if f.is_file() {
        return Some(f.clone());
    }
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    for up in abs.ancestors().skip(1) {
        let p = up.join(f);
        if p.is_file() {
            return Some(p);
        }
    }
    Some(beside)
}

/// `target` relative to the folder of `from_file` (both as given, taken
/// from the current directory when relative): what a plan written to
/// `from_file` stores for its scenario `target`. `target` as it is when no
/// relative path exists (another drive) or the current directory is unknown.
pub fn relative_path(target: &Path, from_file: &Path) -> PathBuf {
    let (Ok(t), Ok(f)) = (std::path::absolute(target), std::path::absolute(from_file)) else {
        return target.to_path_buf();
    };
    let t = normalize(&t);
    let base = normalize(f.parent().unwrap_or(Path::new("/")));
    let tc: Vec<Component> = t.components().collect();
    let bc: Vec<Component> = base.components().collect();
    if tc.first() != bc.first() {
        return target.to_path_buf();
    }
    let common = tc.iter().zip(&bc).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..bc.len() {
        out.push("..");
    }
    for c in &tc[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// `a/./b/../c` → `a/c`, lexically.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Plan {
    /// [`scenario_file`]: where this plan's scenario is, for a plan read
    /// from `plan_path`.
    pub fn find_scenario(&self, plan_path: &Path) -> Option<PathBuf> {
        scenario_file(self, plan_path)
    }

    /// Stores `scenario` as this plan's scenario file, relative to the
    /// folder of `plan_path`, where the plan is about to be written.
    pub fn set_scenario_file(&mut self, scenario: &Path, plan_path: &Path) {
        self.scenario_file = Some(relative_path(scenario, plan_path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = "name = \"m\"\nduration = \"1h\"\n[[service]]\nname = \"app\"\nreplicas = 2\nworkers = 2\nservice_time = { dist = \"exponential\", mean_ms = 10 }\n[[service]]\nname = \"db\"\nreplicas = 1\nfixed = true\nservice_time = { dist = \"exponential\", mean_ms = 1 }\n[traffic]\nentry = \"app\"\nrps = 10\n[[failure]]\nkind = \"node\"\ntarget = \"app-1\"\nat = \"10m\"\n[infrastructure]\nregion = \"eu-west-1\"\nzones = [\"eu-west-1a\", \"eu-west-1b\"]\n";

    /// A plan for SCENARIO: app 3 on node-1, node-2, node-1; db 1 on node-2.
    const PLAN: &str = r#"{
  "scenario": "m",
  "policy": "spread",
  "region": "eu-west-1",
  "nodes": [
    { "id": "node-1", "instance_type": "c5.large", "zone": "eu-west-1a", "cpu": 2.0, "memory_mb": 4096, "hourly_usd": 0.1 },
    { "id": "node-2", "instance_type": "c5.large", "zone": "eu-west-1b", "cpu": 2.0, "memory_mb": 4096, "hourly_usd": 0.1 }
  ],
  "replicas": { "app": 3, "db": 1 },
  "placements": [
    { "service": "app", "replica": 0, "node": "node-1" },
    { "service": "app", "replica": 1, "node": "node-2" },
    { "service": "app", "replica": 2, "node": "node-1" },
    { "service": "db", "replica": 0, "node": "node-2" }
  ],
  "cost": { "hourly_usd": 0.2, "monthly_usd": 146.0 }
}"#;

    fn scenario(src: &str) -> Scenario {
        Scenario::parse(src, Path::new("s.toml")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn plan(src: &str) -> Plan {
        Plan::parse(src, Path::new("p.json")).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_plan_fits_its_own_scenario_and_moves_node_failures_onto_its_nodes() {
        let p = plan(PLAN);
        let mut s = scenario(SCENARIO);
        assert_eq!(differences(&p, &s), vec![]);
        let (layout, rebound) = bind(&p, Path::new("p.json"), &mut s).unwrap();
        assert_eq!(s.services[0].replicas, 3);
        assert_eq!(layout.nodes.len(), 2);
        assert_eq!(
            rebound,
            vec![Rebound {
                failure: 0,
                from: "app-1".into(),
                to: "node-2".into(),
                replica: "app/1".into(),
            }]
        );
        assert_eq!(s.failures[0].target.as_deref(), Some("node-2"));
        assert!(rebound[0].to_string().contains("is the plan's node-2"));
    }

    #[test]
    fn a_plan_node_target_stays_and_an_unknown_one_is_refused_at_its_line() {
        let p = plan(PLAN);
        let mut s = scenario(&SCENARIO.replace("target = \"app-1\"", "target = \"node-1\""));
        assert_eq!(rebind_failures(&p, &mut s).unwrap(), vec![]);
        assert_eq!(s.failures[0].target.as_deref(), Some("node-1"));
        let mut s = scenario(&SCENARIO.replace("target = \"app-1\"", "target = \"db-7\""));
        let e = rebind_failures(&p, &mut s).unwrap_err().to_string();
        assert!(
            e.starts_with("s.toml:18: field `failure[0].target`: no node \"db-7\" in the plan (nodes: node-1, node-2)"),
            "{e}"
        );
        // Replica 2 of app exists in a scenario of 3 app replicas; a plan of 2 has no node for it.
        let mut s = scenario(
            &SCENARIO
                .replace("replicas = 2", "replicas = 3")
                .replace("app-1", "app-2"),
        );
        let small = plan(&PLAN.replace("\"app\": 3", "\"app\": 2").replace(
            "    { \"service\": \"app\", \"replica\": 2, \"node\": \"node-1\" },\n",
            "",
        ));
        let e = rebind_failures(&small, &mut s).unwrap_err().to_string();
        assert!(
            e.contains("replica app/2's node") && e.contains("gives app 2 replicas"),
            "{e}"
        );
        assert!(e.contains("target = \"app/2\""), "{e}");
    }

    #[test]
    fn a_plan_for_another_scenario_is_refused_naming_what_differs() {
        let p = plan(PLAN);
        let other = SCENARIO
            .replace("name = \"m\"", "name = \"other\"")
            .replace("name = \"db\"", "name = \"cache\"")
            .replace("eu-west-1", "us-east-1");
        let s = scenario(&other);
        let d = differences(&p, &s);
        assert_eq!(d.len(), 4, "{d:?}");
        assert_eq!(
            d[0],
            Difference::Name {
                plan: "m".into(),
                scenario: "other".into()
            }
        );
        assert_eq!(
            d[1],
            Difference::Services {
                only_plan: vec!["db".into()],
                only_scenario: vec!["cache".into()],
            }
        );
        let e = check(&p, Path::new("p.json"), &s).unwrap_err().to_string();
        assert!(e.starts_with("p.json:1: field `scenario`: the plan was made for scenario \"m\", not for s.toml (\"other\")"), "{e}");
        for words in [
            "the plan places db that the scenario does not have",
            "the scenario has cache that the plan does not place",
            "region: the plan's is eu-west-1, the scenario's us-east-1",
            "zones: the plan has nodes in eu-west-1a, eu-west-1b",
            "replicas: the plan's app 3, db 1; the scenario's own app 2, cache 1",
        ] {
            assert!(e.contains(words), "{words:?} not in {e}");
        }
    }

    #[test]
    fn replicas_beyond_what_the_scenario_allows_are_a_difference() {
        let p = plan(&PLAN.replace("\"db\": 1", "\"db\": 2").replace(
            "{ \"service\": \"db\", \"replica\": 0, \"node\": \"node-2\" }",
            "{ \"service\": \"db\", \"replica\": 0, \"node\": \"node-2\" },\n    { \"service\": \"db\", \"replica\": 1, \"node\": \"node-1\" }",
        ));
        let s = scenario(SCENARIO);
        let d = differences(&p, &s);
        assert_eq!(
            d,
            vec![Difference::Replicas {
                service: "db".into(),
                plan: 2,
                allowed: Allowed::Exactly(1)
            }]
        );
        let capped =
            scenario(&SCENARIO.replace("replicas = 2\n", "replicas = 2\nmax_replicas = 2\n"));
        let d = differences(&plan(PLAN), &capped);
        assert_eq!(d.len(), 1);
        assert!(
            d[0].to_string().contains("allows at most 2 (max_replicas)"),
            "{}",
            d[0]
        );
    }

    #[test]
    fn node_failures_without_a_plan_name_a_replica_node() {
        assert!(check_node_failures(&scenario(SCENARIO)).is_ok());
        let s = scenario(&SCENARIO.replace("app-1", "node-3"));
        let e = check_node_failures(&s).unwrap_err().to_string();
        assert!(
            e.starts_with("s.toml:18: field `failure[0].target`: no node \"node-3\"")
                && e.contains("app-0, app-1, db-0"),
            "{e}"
        );
    }

    #[test]
    fn paths_are_stored_relative_to_the_plan_and_old_plans_still_resolve() {
        assert_eq!(
            relative_path(
                Path::new("scenarios/twip/x.toml"),
                Path::new("reports/plans/x.json")
            ),
            Path::new("../../scenarios/twip/x.toml")
        );
        assert_eq!(
            relative_path(Path::new("/a/b/s.toml"), Path::new("/a/b/p.json")),
            Path::new("s.toml")
        );
        assert_eq!(
            relative_path(Path::new("/a/s.toml"), Path::new("/a/b/./c/p.json")),
            Path::new("../../s.toml")
        );
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let old = root.join("reports/plans/limited-release.json");
        let p = Plan::load(&old).unwrap();
        // Written relative to the repository's root, found from the plan's folder.
        let found = p.find_scenario(&old).unwrap();
        assert!(found.is_file(), "{}", found.display());
        assert!(found.ends_with("scenarios/twip/limited-release.toml"));
        let mut new = p.clone();
        new.set_scenario_file(&root.join("scenarios/twip/limited-release.toml"), &old);
        assert_eq!(
            new.scenario_file.as_deref(),
            Some(Path::new("../../scenarios/twip/limited-release.toml"))
        );
        assert!(new.find_scenario(&old).unwrap().is_file());
    }
}
