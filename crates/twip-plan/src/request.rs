//! Placement requests: what the policy plugin is asked to place, and how
//! its answer becomes a [`Layout`]. The planner and `twip policy place`
//! build their requests here, so both ask the policy the same question.

use twip_model::{replica_cpu_millis, Catalog, InstanceType, Layout, Node, Scenario};
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

/// The order services are handed to the policy: largest replicas first
/// (first-fit decreasing), so small replicas do not fragment the nodes.
pub fn request_order(s: &Scenario) -> Vec<usize> {
    let mut order: Vec<usize> = (0..s.services.len()).collect();
    let key = |i: usize| {
        let sv = &s.services[i];
        (replica_cpu_millis(sv.cpu) as u64, sv.memory_mb)
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
                cpu_millis: replica_cpu_millis(sv.cpu),
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

/// The scenario's placement policy as an elastic run's [`twip_sim::Placer`]:
/// a capacity provider's waiting replicas are placed by the plugin, with
/// the replicas that already run passed in as `existing`. The host checks
/// every answer (existing replicas kept, capacity, the request's indices).
pub struct PolicyPlacer {
    plugin: std::sync::Mutex<twip_policy::Plugin>,
}

impl PolicyPlacer {
    /// Loads `policy` (a built-in name or a `.wasm` path, relative paths
    /// from `base`) for the simulator.
    pub fn load(policy: &str, base: &std::path::Path) -> Result<twip_sim::PlacerRef, PlanError> {
        let host = twip_policy::Host::new().map_err(|source| PlanError::Policy {
            policy: policy.to_string(),
            source: Box::new(source),
        })?;
        let plugin = crate::load_policy(&host, policy, base)?;
        Ok(twip_sim::PlacerRef(std::sync::Arc::new(PolicyPlacer {
            plugin: std::sync::Mutex::new(plugin),
        })))
    }

    /// The placer an elastic run of `s` needs: the scenario's policy (or
    /// `policy`) when it has a capacity provider, `None` otherwise (without
    /// one, capacity is no constraint and nothing is placed on nodes).
    pub fn for_scenario(
        s: &Scenario,
        policy: Option<&str>,
    ) -> Result<Option<twip_sim::PlacerRef>, PlanError> {
        if s.infrastructure.autoscaling.is_none() {
            return Ok(None);
        }
        let base = s.path.parent().unwrap_or(std::path::Path::new(""));
        PolicyPlacer::load(policy.unwrap_or(&s.policy), base).map(Some)
    }
}

impl twip_sim::Placer for PolicyPlacer {
    fn place(&self, req: &twip_sim::PlaceRequest) -> Result<Vec<u32>, twip_sim::Refusal> {
        let asked = Request {
            zones: req.zones.clone(),
            instance_types: vec![req.instance_type.clone()],
            nodes: req
                .nodes
                .iter()
                .map(|n| twip_policy::Node {
                    id: n.id.clone(),
                    instance_type: 0,
                    zone: n.zone,
                    cpu_millis: n.cpu_millis,
                    memory_mib: n.memory_mib,
                    labels: Vec::new(),
                })
                .collect(),
            services: req
                .services
                .iter()
                .map(|sv| twip_policy::Service {
                    name: sv.name.clone(),
                    replicas: sv.replicas,
                    cpu_millis: sv.cpu_millis,
                    memory_mib: sv.memory_mib,
                    spread: Some(Topology::Node),
                    anti_affinity: None,
                    existing: sv.existing.clone(),
                })
                .collect(),
        };
        // A poisoned lock only means another run panicked mid-call; the
        // plugin's store is re-armed on every call.
        let mut plugin = self.plugin.lock().unwrap_or_else(|e| e.into_inner());
        match plugin.place(&asked) {
            Ok(answer) => {
                // The host checked that the existing replicas are kept: the
                // new ones are what is left of the target's answer.
                let mut left = req.services[req.target].existing.clone();
                let mut new = Vec::new();
                for &n in &answer[req.target] {
                    match left.iter().position(|&e| e == n) {
                        Some(i) => {
                            left.swap_remove(i);
                        }
                        None => new.push(n),
                    }
                }
                Ok(new)
            }
            Err(twip_policy::PolicyError::Refused { kind, .. })
                if kind == twip_policy::ErrorKind::InsufficientCapacity.as_str()
                    || kind == twip_policy::ErrorKind::Unsatisfiable.as_str() =>
            {
                Err(twip_sim::Refusal::NoRoom)
            }
            Err(e) => Err(twip_sim::Refusal::Failed(e.to_string())),
        }
    }
}
