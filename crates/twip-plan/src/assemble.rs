//! Plan assembly: the chosen candidate, its layout and verification, and
//! every rejected candidate, as the plan file records them.

use std::collections::BTreeMap;

use twip_model::{Cost, Layout, Placement, Plan, PlanNode, Rejected, Verification};

use crate::candidate::Cand;
use crate::explain::Rejection;
use crate::search::Tried;
use crate::verify::{Case, CaseResult};
use crate::Planner;

impl Planner {
    /// Replica counts (in the scenario's order) by service name.
    fn replica_map(&self, replicas: &[u32]) -> BTreeMap<String, u32> {
        self.scenario
            .services
            .iter()
            .zip(replicas)
            .map(|(s, &n)| (s.name.clone(), n))
            .collect()
    }

    /// Every rejected candidate, in the order the search tried them.
    pub(crate) fn rejected(&self, tried: &[Tried]) -> Vec<Rejected> {
        tried
            .iter()
            .map(|t| {
                let c = &t.cand;
                Rejected {
                    candidate: self.describe(c),
                    reason: t.rejection.to_string(),
                    kind: Some(t.rejection.kind()),
                    instance_type: Some(self.infra.types[c.ty].0.name.clone()),
                    nodes: Some(c.nodes),
                    replicas: self.replica_map(&c.replicas),
                    monthly_usd: Some(Cost::hourly(c.hourly).monthly_usd),
                    worst_p99_ms: t.worst_p99_ms,
                    loss: match &t.rejection {
                        Rejection::Objective(v) => Some(v.loss().clone()),
                        _ => None,
                    },
                }
            })
            .collect()
    }

    /// A layout as the plan file writes it: nodes of type `ty` and every
    /// replica's placement.
    pub(crate) fn plan_layout(
        &self,
        ty: usize,
        layout: &Layout,
    ) -> (Vec<PlanNode>, Vec<Placement>) {
        let (t, price) = &self.infra.types[ty];
        let nodes: Vec<PlanNode> = layout
            .nodes
            .iter()
            .map(|n| PlanNode {
                id: n.id.clone(),
                instance_type: t.name.clone(),
                zone: n.zone.clone(),
                cpu: t.vcpu,
                memory_mb: t.memory_mb,
                hourly_usd: *price,
            })
            .collect();
        let mut placements = Vec::new();
        for (si, v) in layout.replica_node.iter().enumerate() {
            for (r, &n) in v.iter().enumerate() {
                placements.push(Placement {
                    service: self.scenario.services[si].name.clone(),
                    replica: r as u32,
                    node: layout.nodes[n].id.clone(),
                });
            }
        }
        (nodes, placements)
    }

    pub(crate) fn to_plan(
        &self,
        c: &Cand,
        layout: &Layout,
        cases: &[Case],
        results: &[CaseResult],
        rejected: &[Tried],
    ) -> Plan {
        let (nodes, placements) = self.plan_layout(c.ty, layout);
        let mut all = vec![Case::baseline(&c.replicas)];
        all.extend(cases.iter().cloned());
        let verification = all
            .iter()
            .zip(results)
            .map(|(k, r)| Verification {
                case: k.loss.case_name(),
                loss: Some(k.loss.clone()),
                p99_ms: r.p99_ms,
                p99_ci95_ms: r.p99_ci95_ms,
                error_rate: r.error_rate,
                met: r.violation().is_none(),
                covers: k.covers.iter().map(ToString::to_string).collect(),
            })
            .collect();
        Plan {
            scenario: self.scenario.name.clone(),
            scenario_file: Some(self.scenario.path.clone()).filter(|p| !p.as_os_str().is_empty()),
            policy: self.policy.clone(),
            region: Some(self.infra.region.clone()),
            replicas: self.replica_map(&c.replicas),
            nodes,
            placements,
            cost: Cost::hourly(c.hourly),
            verification,
            rejected: self.rejected(rejected),
            elastic: None,
        }
    }
}
