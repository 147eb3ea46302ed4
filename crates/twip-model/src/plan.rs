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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// A node of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Service name.
    pub service: String,
    /// Replica index (0-based).
    pub replica: u32,
    /// Node id.
    pub node: String,
}

/// The price of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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

/// One simulated case of a plan's verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// `baseline`, `lose node-3 (us-east-1a)`, `lose zone us-east-1b`.
    pub case: String,
    /// 99th percentile of end-to-end latency (ms).
    pub p99_ms: f64,
    /// 95 % half-width of the p99 (ms), when known.
    pub p99_ci95_ms: Option<f64>,
    /// The error rate the SLO is checked against (see the planner's docs for
    /// how a failure's detection burst is counted).
    pub error_rate: f64,
    /// Every objective met in this case.
    pub met: bool,
    /// Equivalent or dominated cases this one stands for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub covers: Vec<String>,
}

/// A candidate the search rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// `3 x m5.large`, with replica counts.
    pub candidate: String,
    /// Which case, which objective, by how much.
    pub reason: String,
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
        plan.check()
            .map_err(|(field, needle, message)| Error::Invalid {
                path: PathBuf::from(path),
                line: src
                    .find(&needle)
                    .map(|o| line_of_offset(src, o))
                    .unwrap_or(1),
                field,
                message,
            })?;
        Ok(plan)
    }

    /// Internal consistency: unique node ids, every placement on a known
    /// node, every replica of every service placed exactly once.
    /// Errors: (field, text to find for the line, message).
    fn check(&self) -> Result<(), (String, String, String)> {
        let mut ids = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if ids.insert(n.id.as_str(), i).is_some() {
                return Err((
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
                return Err((
                    format!("placements[{i}].node"),
                    needle,
                    format!("no node {:?} in the plan's nodes", p.node),
                ));
            }
            let Some(&n) = self.replicas.get(&p.service) else {
                return Err((
                    format!("placements[{i}].service"),
                    format!("\"{}\"", p.service),
                    format!("service {:?} is not in `replicas`", p.service),
                ));
            };
            if p.replica >= n {
                return Err((
                    format!("placements[{i}].replica"),
                    format!("\"{}\"", p.service),
                    format!(
                        "service {:?} has {n} replicas, there is no replica {}",
                        p.service, p.replica
                    ),
                ));
            }
            if seen.insert((p.service.as_str(), p.replica), i).is_some() {
                return Err((
                    format!("placements[{i}]"),
                    format!("\"{}\"", p.service),
                    format!("replica {}/{} is placed twice", p.service, p.replica),
                ));
            }
        }
        for (s, &n) in &self.replicas {
            for r in 0..n {
                if !seen.contains_key(&(s.as_str(), r)) {
                    return Err((
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
    pub fn layout(&self, scenario: &Scenario) -> Result<Layout, String> {
        let mine: Vec<&str> = self.replicas.keys().map(String::as_str).collect();
        let theirs: Vec<&str> = scenario.services.iter().map(|s| s.name.as_str()).collect();
        for s in &theirs {
            if !self.replicas.contains_key(*s) {
                return Err(format!(
                    "the plan has no replicas for service {s:?} of scenario {:?} (plan services: {})",
                    scenario.name,
                    mine.join(", ")
                ));
            }
        }
        for s in &mine {
            if !theirs.contains(s) {
                return Err(format!(
                    "the plan places service {s:?}, which scenario {:?} does not have",
                    scenario.name
                ));
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
                .ok_or_else(|| format!("no service {:?}", p.service))?;
            let n = *index
                .get(p.node.as_str())
                .ok_or_else(|| format!("placement on unknown node {:?}", p.node))?;
            let slot = replica_node[s]
                .get_mut(p.replica as usize)
                .ok_or_else(|| format!("no replica {}/{}", p.service, p.replica))?;
            *slot = n;
        }
        for (s, v) in replica_node.iter().enumerate() {
            if let Some(r) = v.iter().position(|&n| n == usize::MAX) {
                return Err(format!(
                    "replica {}/{r} is not placed",
                    scenario.services[s].name
                ));
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

    /// Sets the scenario's replica counts to the plan's and returns the
    /// plan's layout for it.
    pub fn apply_to(&self, scenario: &mut Scenario) -> Result<Layout, String> {
        let layout = self.layout(scenario)?;
        for s in &mut scenario.services {
            s.replicas = self.replicas[&s.name];
        }
        // The plan's zones are the ones that exist now.
        for n in &self.nodes {
            if !scenario.infrastructure.zones.contains(&n.zone) {
                scenario.infrastructure.zones.push(n.zone.clone());
            }
        }
        Ok(layout)
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(p.layout(&s).unwrap_err().contains("\"db\""));
    }
}
