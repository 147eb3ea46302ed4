//! The plan file written by `twip plan` and read by `twip simulate --plan`:
//! nodes, replicas, placements, cost, the verification of every simulated
//! case, and the candidates that were rejected, with the reason.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::locate::line_of_offset;
use crate::{Error, Layout, Node, Scenario};

/// Hours in a month, for `cost.monthly_usd` (365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// A capacity plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// Scenario name.
    pub scenario: String,
    /// The scenario file the plan was made from, as it was given to `twip plan`
    /// (lets `twip apply` find images, ports and topology without being told).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_file: Option<std::path::PathBuf>,
    /// Placement policy used (built-in name or plugin path).
    pub policy: String,
    /// Region whose prices apply, if the scenario names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The machines.
    pub nodes: Vec<PlanNode>,
    /// Replica count of every service.
    pub replicas: BTreeMap<String, u32>,
    /// Where every replica runs.
    pub placements: Vec<Placement>,
    /// What the nodes cost.
    pub cost: Cost,
    /// Every simulated case and its verdict.
    #[serde(default)]
    pub verification: Vec<Verification>,
    /// Cheaper (or equally cheap) candidates and why they were rejected.
    #[serde(default)]
    pub rejected: Vec<Rejected>,
    /// The autoscaling policies and capacity provider of an elastic plan
    /// (`twip plan --elastic`); `nodes`, `replicas` and `placements` are
    /// then the start of the day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elastic: Option<crate::elastic_plan::ElasticPlan>,
}

/// A node of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanNode {
    /// Unique id (`node-1`).
    pub id: String,
    /// Catalog instance type.
    pub instance_type: String,
    /// Availability zone.
    pub zone: String,
    /// vCPU.
    pub cpu: f64,
    /// Memory in MiB.
    pub memory_mb: u32,
    /// On-demand USD per hour.
    pub hourly_usd: f64,
}

/// One replica on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Placement {
    /// Service name.
    pub service: String,
    /// Replica index (0-based).
    pub replica: u32,
    /// Node id.
    pub node: String,
}

/// The price of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Cost {
    /// USD per hour.
    pub hourly_usd: f64,
    /// USD per month (hourly × 730).
    pub monthly_usd: f64,
}

impl Cost {
    /// The cost of `hourly_usd` per hour.
    /// (Rounded to a millionth of a dollar per hour and to cents per month,
    /// so sums of list prices print cleanly.)
    pub fn hourly(hourly_usd: f64) -> Cost {
        let hourly_usd = (hourly_usd * 1e6).round() / 1e6;
        Cost {
            hourly_usd,
            monthly_usd: (hourly_usd * HOURS_PER_MONTH * 100.0).round() / 100.0,
        }
    }
}

/// What a verification case takes away: nothing, one node, or one zone.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Loss {
    /// The baseline: nothing fails.
    None,
    /// One node, for good.
    Node {
        /// Node id (`node-3`).
        node: String,
        /// Its zone.
        zone: String,
    },
    /// Every node of one zone, for good.
    Zone {
        /// The zone.
        zone: String,
    },
}

impl Loss {
    /// The case's display name: `baseline`, `lose node-3 (us-east-1a)`,
    /// `lose zone us-east-1b`.
    pub fn case_name(&self) -> String {
        match self {
            Loss::None => "baseline".into(),
            other => format!("lose {other}"),
        }
    }

    /// Where, in a sentence: `at baseline`, `when node-3 (us-east-1a) is lost`.
    pub fn where_(&self) -> String {
        match self {
            Loss::None => "at baseline".into(),
            other => format!("when {other} is lost"),
        }
    }

    /// The failure class, `None` for the baseline.
    pub fn kind(&self) -> Option<crate::FailureKind> {
        match self {
            Loss::None => None,
            Loss::Node { .. } => Some(crate::FailureKind::Node),
            Loss::Zone { .. } => Some(crate::FailureKind::Zone),
        }
    }

    /// The failure's target as a scenario names it: the node id or the zone.
    pub fn target(&self) -> Option<&str> {
        match self {
            Loss::None => None,
            Loss::Node { node, .. } => Some(node),
            Loss::Zone { zone } => Some(zone),
        }
    }
}

/// What was lost, without the verb: `node-3 (us-east-1a)`, `zone us-east-1b`
/// (`nothing` for the baseline).
impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Loss::None => f.write_str("nothing"),
            Loss::Node { node, zone } => write!(f, "{node} ({zone})"),
            Loss::Zone { zone } => write!(f, "zone {zone}"),
        }
    }
}

/// One simulated case of a plan's verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verification {
    /// `baseline`, `lose node-3 (us-east-1a)`, `lose zone us-east-1b`
    /// (for display; [`Verification::loss`] is the same as data).
    pub case: String,
    /// What the case loses (absent in plans written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<Loss>,
    /// 99th percentile of end-to-end latency (ms).
    pub p99_ms: f64,
    /// 95 % half-width of the p99 (ms), when known.
    pub p99_ci95_ms: Option<f64>,
    /// The error rate the SLO is checked against (see the planner's docs for
    /// how a failure's detection burst is counted).
    pub error_rate: f64,
    /// Every objective met in this case.
    pub met: bool,
    /// Equivalent or dominated cases this one stands for (display names of
    /// their losses: `node-4 (us-east-1b)`, `zone us-east-1c`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub covers: Vec<String>,
}

/// Why the planner rejected a candidate.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RejectionKind {
    /// The replicas do not fit on the nodes (vCPU, memory, packing).
    Capacity,
    /// The placement policy refused the request.
    Placement,
    /// A node or zone loss the SLO demands would take every replica of a service.
    Survival,
    /// The p99 objective is not met in some case.
    P99,
    /// The error-rate objective is not met in some case.
    ErrorRate,
}

impl RejectionKind {
    /// Every kind, in the order above.
    pub const ALL: [RejectionKind; 5] = [
        RejectionKind::Capacity,
        RejectionKind::Placement,
        RejectionKind::Survival,
        RejectionKind::P99,
        RejectionKind::ErrorRate,
    ];

    /// Whether a candidate of this kind was simulated (so it has a p99).
    pub fn simulated(self) -> bool {
        matches!(self, RejectionKind::P99 | RejectionKind::ErrorRate)
    }
}

/// A candidate the search rejected: what it was, what it costs, why it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rejected {
    /// `3 x m5.large (app 4, lb 2)`, for display.
    pub candidate: String,
    /// Which case, which objective, by how much: a sentence, for display.
    pub reason: String,
    /// Why, as data (absent in plans written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RejectionKind>,
    /// Catalog instance type of the candidate's nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Node count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u32>,
    /// Replicas per service.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replicas: BTreeMap<String, u32>,
    /// What the candidate's nodes would cost per month (USD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<f64>,
    /// The largest p99 (ms) its simulated cases measured; absent when it
    /// was rejected before simulation (capacity, placement, survival).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_p99_ms: Option<f64>,
    /// The case whose objective failed (simulated rejections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<Loss>,
}

/// A plan file that contradicts itself: the field, a text to find its line
/// by, what is wrong.
struct Inconsistent {
    field: String,
    needle: String,
    message: String,
}

impl Inconsistent {
    fn new(field: String, needle: String, message: String) -> Inconsistent {
        Inconsistent {
            field,
            needle,
            message,
        }
    }
}

/// Why a plan does not fit a scenario.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// The scenario has a service the plan does not place.
    #[error("the plan has no replicas for service {service:?} of scenario {scenario:?} (plan services: {})", plan_services.join(", "))]
    MissingService {
        /// The service.
        service: String,
        /// The scenario's name.
        scenario: String,
        /// The services the plan has.
        plan_services: Vec<String>,
    },
    /// The plan places a service the scenario does not have.
    #[error("the plan places service {service:?}, which scenario {scenario:?} does not have")]
    ExtraService {
        /// The service.
        service: String,
        /// The scenario's name.
        scenario: String,
    },
    /// A placement names a node the plan does not have.
    #[error("placement on unknown node {0:?}")]
    UnknownNode(String),
    /// A placement names a replica beyond the service's count.
    #[error("no replica {service}/{replica}")]
    UnknownReplica {
        /// The service.
        service: String,
        /// The replica index.
        replica: u32,
    },
    /// A replica has no placement.
    #[error("replica {service}/{replica} is not placed")]
    Unplaced {
        /// The service.
        service: String,
        /// The replica index.
        replica: u32,
    },
}

impl Plan {
    /// Reads a plan (JSON) and checks that it is consistent in itself.
    pub fn load(path: impl AsRef<Path>) -> Result<Plan, Error> {
        let path = path.as_ref();
        let src = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Plan::parse(&src, path)
    }

    /// Parses plan JSON; `path` is used in messages.
    pub fn parse(src: &str, path: &Path) -> Result<Plan, Error> {
        let plan: Plan = serde_json::from_str(src).map_err(|e| Error::Syntax {
            path: path.to_path_buf(),
            line: e.line().max(1),
            message: format!("not a twip plan: {e}"),
        })?;
        plan.check().map_err(|bad| Error::Invalid {
            path: PathBuf::from(path),
            line: src
                .find(&bad.needle)
                .map(|o| line_of_offset(src, o))
                .unwrap_or(1),
            field: bad.field,
            message: bad.message,
        })?;
        Ok(plan)
    }

    /// Internal consistency: unique node ids, every placement on a known
    /// node, every replica of every service placed exactly once.
    fn check(&self) -> Result<(), Inconsistent> {
        let mut ids = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if ids.insert(n.id.as_str(), i).is_some() {
                return Err(Inconsistent::new(
                    format!("nodes[{i}].id"),
                    format!("\"{}\"", n.id),
                    format!("node id {:?} is used twice", n.id),
                ));
            }
        }
        let mut seen: HashMap<(&str, u32), usize> = HashMap::new();
        for (i, p) in self.placements.iter().enumerate() {
            let needle = format!("\"{}\"", p.node);
            if !ids.contains_key(p.node.as_str()) {
                return Err(Inconsistent::new(
                    format!("placements[{i}].node"),
                    needle,
                    format!("no node {:?} in the plan's nodes", p.node),
                ));
            }
            let Some(&n) = self.replicas.get(&p.service) else {
                return Err(Inconsistent::new(
                    format!("placements[{i}].service"),
                    format!("\"{}\"", p.service),
                    format!("service {:?} is not in `replicas`", p.service),
                ));
            };
            if p.replica >= n {
                return Err(Inconsistent::new(
                    format!("placements[{i}].replica"),
                    format!("\"{}\"", p.service),
                    format!(
                        "service {:?} has {n} replicas, there is no replica {}",
                        p.service, p.replica
                    ),
                ));
            }
            if seen.insert((p.service.as_str(), p.replica), i).is_some() {
                return Err(Inconsistent::new(
                    format!("placements[{i}]"),
                    format!("\"{}\"", p.service),
                    format!("replica {}/{} is placed twice", p.service, p.replica),
                ));
            }
        }
        for (s, &n) in &self.replicas {
            for r in 0..n {
                if !seen.contains_key(&(s.as_str(), r)) {
                    return Err(Inconsistent::new(
                        "placements".into(),
                        "\"placements\"".into(),
                        format!("replica {s}/{r} is not placed"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The layout of this plan for `scenario` (whose services must be the
    /// plan's). Replica counts are the plan's, whatever the scenario says.
    pub fn layout(&self, scenario: &Scenario) -> Result<Layout, Mismatch> {
        let mine: Vec<&str> = self.replicas.keys().map(String::as_str).collect();
        let theirs: Vec<&str> = scenario.services.iter().map(|s| s.name.as_str()).collect();
        for s in &theirs {
            if !self.replicas.contains_key(*s) {
                return Err(Mismatch::MissingService {
                    service: s.to_string(),
                    scenario: scenario.name.clone(),
                    plan_services: mine.iter().map(|x| x.to_string()).collect(),
                });
            }
        }
        for s in &mine {
            if !theirs.contains(s) {
                return Err(Mismatch::ExtraService {
                    service: s.to_string(),
                    scenario: scenario.name.clone(),
                });
            }
        }
        let index: HashMap<&str, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        let mut replica_node: Vec<Vec<usize>> = scenario
            .services
            .iter()
            .map(|s| vec![usize::MAX; self.replicas[&s.name] as usize])
            .collect();
        for p in &self.placements {
            let s = scenario
                .service_index(&p.service)
                .ok_or_else(|| Mismatch::ExtraService {
                    service: p.service.clone(),
                    scenario: scenario.name.clone(),
                })?;
            let n = *index
                .get(p.node.as_str())
                .ok_or_else(|| Mismatch::UnknownNode(p.node.clone()))?;
            let slot = replica_node[s].get_mut(p.replica as usize).ok_or_else(|| {
                Mismatch::UnknownReplica {
                    service: p.service.clone(),
                    replica: p.replica,
                }
            })?;
            *slot = n;
        }
        for (s, v) in replica_node.iter().enumerate() {
            if let Some(r) = v.iter().position(|&n| n == usize::MAX) {
                return Err(Mismatch::Unplaced {
                    service: scenario.services[s].name.clone(),
                    replica: r as u32,
                });
            }
        }
        Ok(Layout {
            nodes: self
                .nodes
                .iter()
                .map(|n| Node {
                    id: n.id.clone(),
                    zone: n.zone.clone(),
                })
                .collect(),
            replica_node,
        })
    }

    /// Sets the scenario's replica counts to the plan's, gives it the
    /// plan's autoscaling policies (an elastic plan) or takes its own away
    /// (a fixed plan is a fixed fleet), and returns the plan's layout for it.
    pub fn apply_to(&self, scenario: &mut Scenario) -> Result<Layout, Mismatch> {
        let layout = self.layout(scenario)?;
        for s in &mut scenario.services {
            s.replicas = self.replicas[&s.name];
        }
        match &self.elastic {
            Some(e) => e.apply(scenario),
            // A fixed plan is a fixed fleet, whatever the scenario's tables.
            None => *scenario = scenario.without_elasticity(),
        }
        // The plan's zones are the ones that exist now.
        for n in &self.nodes {
            if !scenario.infrastructure.zones.contains(&n.zone) {
                scenario.infrastructure.zones.push(n.zone.clone());
            }
        }
        Ok(layout)
    }

    /// The scenario file this plan was made from, for a plan read from
    /// `plan_path`: as written when it exists from here (relative to where
    /// `twip plan` ran, usually here), else relative to the plan's folder.
    /// `None` when the plan does not name one (plans older than the field).
    pub fn scenario_path(&self, plan_path: &Path) -> Option<PathBuf> {
        let f = self.scenario_file.as_ref()?;
        Some(if f.is_relative() && !f.exists() {
            lexical(&plan_path.parent().unwrap_or(Path::new(".")).join(f))
        } else {
            f.clone()
        })
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

/// Rejected candidates folded for display: per instance type, every
/// capacity rejection in one group (with the reason of the largest), the
/// others by their reason.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedGroup {
    /// `3, 6..9 x m5.large (app 4..6, lb 2)`.
    pub candidate: String,
    /// The shared reason (`not enough capacity; the largest: ...` for a
    /// group of capacity rejections).
    pub reason: String,
    /// The kind of every member (`None` for entries of old plans).
    pub kind: Option<RejectionKind>,
    /// Candidates in the group.
    pub count: usize,
}

/// Folds `rejected` (in the search's order) into [`RejectedGroup`]s, in
/// order of first appearance; `services` gives the order replica counts
/// are listed in. Entries without data (old plans) stay as they are.
pub fn group_rejected(rejected: &[Rejected], services: &[&str]) -> Vec<RejectedGroup> {
    type Key = (String, bool, String);
    struct Acc<'a> {
        members: Vec<&'a Rejected>,
        reason: String,
    }
    let mut groups: Vec<(Option<Key>, Acc)> = Vec::new();
    let mut index: BTreeMap<Key, usize> = BTreeMap::new();
    for r in rejected {
        let (Some(kind), Some(ty), Some(_)) = (r.kind, &r.instance_type, r.nodes) else {
            groups.push((
                None,
                Acc {
                    members: vec![r],
                    reason: r.reason.clone(),
                },
            ));
            continue;
        };
        let cap = kind == RejectionKind::Capacity;
        let key = (
            ty.clone(),
            cap,
            if cap { String::new() } else { r.reason.clone() },
        );
        match index.get(&key) {
            Some(&i) => {
                groups[i].1.members.push(r);
                if cap {
                    groups[i].1.reason = r.reason.clone();
                }
            }
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((
                    Some(key),
                    Acc {
                        members: vec![r],
                        reason: r.reason.clone(),
                    },
                ));
            }
        }
    }
    groups
        .into_iter()
        .map(|(key, acc)| {
            let Some((ty, cap, _)) = key else {
                let r = acc.members[0];
                return RejectedGroup {
                    candidate: r.candidate.clone(),
                    reason: r.reason.clone(),
                    kind: r.kind,
                    count: 1,
                };
            };
            let cs = &acc.members;
            let mut ns: Vec<u32> = cs.iter().filter_map(|c| c.nodes).collect();
            ns.sort_unstable();
            ns.dedup();
            let reps = services
                .iter()
                .map(|s| {
                    let counts = cs.iter().map(|c| c.replicas.get(*s).copied().unwrap_or(0));
                    let lo = counts.clone().min().unwrap_or(0);
                    let hi = counts.max().unwrap_or(0);
                    if lo == hi {
                        format!("{s} {lo}")
                    } else {
                        format!("{s} {lo}..{hi}")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            RejectedGroup {
                candidate: format!("{} x {ty} ({reps})", ranges(&ns)),
                reason: if cap && cs.len() > 1 {
                    format!("not enough capacity; the largest: {}", acc.reason)
                } else {
                    acc.reason
                },
                kind: cs[0].kind,
                count: cs.len(),
            }
        })
        .collect()
}

/// `1, 3..5, 9` for a sorted list.
fn ranges(ns: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ns.len() {
        let mut j = i;
        while j + 1 < ns.len() && ns[j + 1] == ns[j] + 1 {
            j += 1;
        }
        parts.push(if j == i {
            ns[i].to_string()
        } else {
            format!("{}..{}", ns[i], ns[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// `p` with each `dir/..` taken out (`reports/plans/../../scenarios/x`
/// → `scenarios/x`), for the paths twip shows and opens.
pub(crate) fn lexical(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // Above the root is the root.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            c => out.push(c),
        }
    }
    out
}

/// The JSON Schema of the plan file (what `twip plan --out` writes and
/// `twip plan --format json` prints for one policy), generated from
/// [`Plan`] itself.
pub fn plan_schema() -> String {
    let mut schema = schemars::schema_for!(Plan);
    schema.insert("title".into(), "twip plan".into());
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_relative_to_its_plan_resolves_without_detours() {
        assert_eq!(
            lexical(Path::new("reports/plans/../../scenarios/twip/w.toml")),
            PathBuf::from("scenarios/twip/w.toml")
        );
        assert_eq!(lexical(Path::new("../x/../y")), PathBuf::from("../y"));
        assert_eq!(lexical(Path::new("/a/../../b")), PathBuf::from("/b"));
    }

    const MMC: &str = "name = \"m\"\nduration = \"1h\"\n[[service]]\nname = \"app\"\nreplicas = 1\nworkers = 2\nservice_time = { dist = \"exponential\", mean_ms = 10 }\n[traffic]\nentry = \"app\"\nrps = 10\n";

    fn plan() -> Plan {
        Plan {
            scenario: "m".into(),
            scenario_file: None,
            policy: "spread".into(),
            region: None,
            nodes: vec![
                PlanNode {
                    id: "node-1".into(),
                    instance_type: "m5.large".into(),
                    zone: "a".into(),
                    cpu: 2.0,
                    memory_mb: 8192,
                    hourly_usd: 0.096,
                },
                PlanNode {
                    id: "node-2".into(),
                    instance_type: "m5.large".into(),
                    zone: "b".into(),
                    cpu: 2.0,
                    memory_mb: 8192,
                    hourly_usd: 0.096,
                },
            ],
            replicas: BTreeMap::from([("app".to_string(), 3)]),
            placements: (0..3)
                .map(|r| Placement {
                    service: "app".into(),
                    replica: r,
                    node: format!("node-{}", 1 + r % 2),
                })
                .collect(),
            cost: Cost::hourly(0.192),
            verification: vec![],
            rejected: vec![],
            elastic: None,
        }
    }

    #[test]
    fn round_trips_and_applies() {
        let p = plan();
        let text = serde_json::to_string_pretty(&p).unwrap();
        let back = Plan::parse(&text, Path::new("p.json")).unwrap();
        assert_eq!(back, p);
        assert!((p.cost.monthly_usd - 140.16).abs() < 1e-9);
        let mut s = Scenario::parse(MMC, Path::new("s.toml")).unwrap();
        let l = p.apply_to(&mut s).unwrap();
        assert_eq!(s.services[0].replicas, 3);
        assert_eq!(l.replica_node, vec![vec![0, 1, 0]]);
        assert_eq!(l.nodes[1].zone, "b");
    }

    #[test]
    fn inconsistent_plans_are_refused_with_the_field() {
        let mut p = plan();
        p.placements[2].node = "node-9".into();
        let text = serde_json::to_string_pretty(&p).unwrap();
        let e = Plan::parse(&text, Path::new("p.json"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("field `placements[2].node`: no node \"node-9\""),
            "{e}"
        );
        let mut p = plan();
        p.placements.pop();
        let text = serde_json::to_string(&p).unwrap();
        let e = Plan::parse(&text, Path::new("p.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("replica app/2 is not placed"), "{e}");
        let e = Plan::parse("{\"scenario\": 1}", Path::new("p.json"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.json:1: not a twip plan"), "{e}");
        let mut p = plan();
        p.replicas.insert("db".into(), 0);
        let s = Scenario::parse(MMC, Path::new("s.toml")).unwrap();
        assert!(p.layout(&s).unwrap_err().to_string().contains("\"db\""));
    }

    #[test]
    fn ranges_are_compact() {
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1..3, 5, 7..8");
        assert_eq!(ranges(&[4]), "4");
    }

    fn rejected(kind: RejectionKind, nodes: u32, app: u32, reason: &str) -> Rejected {
        Rejected {
            candidate: format!("{nodes} x c5.large (lb 2, app {app})"),
            reason: reason.into(),
            kind: Some(kind),
            instance_type: Some("c5.large".into()),
            nodes: Some(nodes),
            replicas: BTreeMap::from([("lb".to_string(), 2), ("app".to_string(), app)]),
            monthly_usd: Some(62.05 * nodes as f64),
            worst_p99_ms: None,
            loss: None,
        }
    }

    #[test]
    fn capacity_rejections_fold_per_type_and_keep_the_largest_reason() {
        let list = vec![
            rejected(
                RejectionKind::Capacity,
                2,
                3,
                "needs 8 vCPU, 2 nodes have 4",
            ),
            rejected(
                RejectionKind::Capacity,
                3,
                4,
                "needs 10 vCPU, 3 nodes have 6",
            ),
            rejected(
                RejectionKind::P99,
                4,
                5,
                "p99 1200 ms > 1000 ms at baseline",
            ),
            rejected(
                RejectionKind::Capacity,
                5,
                6,
                "needs 12 vCPU, 5 nodes have 10",
            ),
        ];
        let g = group_rejected(&list, &["lb", "app"]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].candidate, "2..3, 5 x c5.large (lb 2, app 3..6)");
        assert_eq!(
            g[0].reason,
            "not enough capacity; the largest: needs 12 vCPU, 5 nodes have 10"
        );
        assert_eq!((g[0].kind, g[0].count), (Some(RejectionKind::Capacity), 3));
        assert_eq!(g[1].candidate, "4 x c5.large (lb 2, app 5)");
        assert_eq!(g[1].reason, "p99 1200 ms > 1000 ms at baseline");
    }

    #[test]
    fn old_entries_without_data_stay_as_they_are() {
        let old = Rejected {
            candidate: "2..5 x t3.large (app 3)".into(),
            reason: "not enough capacity; the largest: something".into(),
            kind: None,
            instance_type: None,
            nodes: None,
            replicas: BTreeMap::new(),
            monthly_usd: None,
            worst_p99_ms: None,
            loss: None,
        };
        let g = group_rejected(&[old.clone(), old], &["app"]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].candidate, "2..5 x t3.large (app 3)");
        assert_eq!(g[0].kind, None);
    }
}
