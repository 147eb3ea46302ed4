//! Placement requests: what the policy plugin is asked to place, and how
//! its answer becomes a [`Layout`]. The planner and `twip policy place`
//! build their requests here, so both ask the policy the same question.

use twip_model::{Catalog, InstanceType, Layout, Node, Scenario};
use twip_policy::{Request, Topology};

use crate::PlanError;

/// One node's usable size, as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeShape {
    /// Catalog instance type.
    pub instance_type: String,
    /// Usable millicores: the sustained share for burstable types, rounded down.
    pub cpu_millis: u32,
    /// MiB.
    pub memory_mib: u32,
}

impl NodeShape {
    /// The usable size of `t`.
    pub fn of(t: &InstanceType) -> NodeShape {
        NodeShape {
            instance_type: t.name.clone(),
            cpu_millis: t.usable_cpu_millis(),
            memory_mib: t.memory_mb,
        }
    }
}

/// A replica's millicores: its vCPU rounded up (a replica never gets less
/// than it asked for).
pub fn replica_millis(cpu: f64) -> u32 {
    (cpu * 1000.0).ceil() as u32
}

/// The order services are handed to the policy: largest replicas first
/// (first-fit decreasing), so small replicas do not fragment the nodes.
pub fn request_order(s: &Scenario) -> Vec<usize> {
    let mut order: Vec<usize> = (0..s.services.len()).collect();
    let key = |i: usize| {
        let sv = &s.services[i];
        (replica_millis(sv.cpu) as u64, sv.memory_mb)
    };
    order.sort_by_key(|&i| std::cmp::Reverse(key(i)));
    order
}

/// The request to place `replicas` (in the scenario's service order) on
/// `nodes` nodes of `shape`, dealt round-robin over `zones`; services in
/// [`request_order`], each spread over nodes.
pub fn build(
    s: &Scenario,
    zones: &[String],
    shape: &NodeShape,
    nodes: u32,
    replicas: &[u32],
) -> Request {
    let z = zones.len().max(1);
    Request {
        zones: zones.to_vec(),
        instance_types: vec![shape.instance_type.clone()],
        nodes: (0..nodes as usize)
            .map(|i| twip_policy::Node {
                id: format!("node-{}", i + 1),
                instance_type: 0,
                zone: (i % z) as u32,
                cpu_millis: shape.cpu_millis,
                memory_mib: shape.memory_mib,
                labels: Vec::new(),
            })
            .collect(),
        services: request_order(s)
            .into_iter()
            .map(|i| (&s.services[i], replicas[i]))
            .map(|(sv, n)| twip_policy::Service {
                name: sv.name.clone(),
                replicas: n,
                cpu_millis: replica_millis(sv.cpu),
                memory_mib: sv.memory_mb,
                spread: Some(Topology::Node),
                anti_affinity: None,
                existing: Vec::new(),
            })
            .collect(),
    }
}

/// The layout of a policy's answer to `req` (built by [`build`] for `s`):
/// replicas back in the scenario's service order.
pub fn layout(s: &Scenario, req: &Request, answer: &[Vec<u32>]) -> Layout {
    let mut replica_node = vec![Vec::new(); answer.len()];
    for (k, i) in request_order(s).into_iter().enumerate() {
        replica_node[i] = answer[k].iter().map(|&x| x as usize).collect();
    }
    Layout {
        nodes: req
            .nodes
            .iter()
            .map(|n| Node {
                id: n.id.clone(),
                zone: req.zones[n.zone as usize].clone(),
            })
            .collect(),
        replica_node,
    }
}

/// The request `twip policy place` sends: the scenario's replica counts on
/// `nodes` nodes of `instance_type` (its catalog size, or `cpu` / `memory_mb`
/// where given), dealt over the zones the planner would use — the same
/// request the planner makes for that candidate.
pub fn for_scenario(
    s: &Scenario,
    instance_type: &str,
    nodes: u32,
    cpu: Option<f64>,
    memory_mb: Option<u32>,
) -> Result<Request, PlanError> {
    let from_catalog = || -> Result<NodeShape, PlanError> {
        let Some(path) = &s.infrastructure.catalog else {
            return Err(PlanError::Input(format!(
                "{}: the scenario names no catalog ([infrastructure] catalog): give --cpu and \
                 --memory-mb for instance type {instance_type:?}",
                s.path.display()
            )));
        };
        let cat = Catalog::load(path)?;
        let t = cat.instance(instance_type).ok_or_else(|| {
            PlanError::Input(format!(
                "instance type {instance_type:?} is not in catalog {} (types: {}; or give --cpu \
                 and --memory-mb)",
                cat.path.display(),
                cat.names().join(", ")
            ))
        })?;
        Ok(NodeShape::of(t))
    };
    let mut shape = match (cpu, memory_mb) {
        (Some(_), Some(m)) => NodeShape {
            instance_type: instance_type.to_string(),
            cpu_millis: 0,
            memory_mib: m,
        },
        _ => from_catalog()?,
    };
    if let Some(c) = cpu {
        if !(c.is_finite() && c > 0.0 && c * 1000.0 <= u32::MAX as f64) {
            return Err(PlanError::Input(format!(
                "--cpu: expected a positive vCPU count, got {c}"
            )));
        }
        shape.cpu_millis = (c * 1000.0).floor() as u32;
    }
    if let Some(m) = memory_mb {
        shape.memory_mib = m;
    }
    let zones = match crate::infra(s) {
        Ok(i) => i.zones,
        Err(_) => s.infrastructure.zones.clone(),
    };
    let replicas: Vec<u32> = s.services.iter().map(|sv| sv.replicas).collect();
    Ok(build(s, &zones, &shape, nodes, &replicas))
}
