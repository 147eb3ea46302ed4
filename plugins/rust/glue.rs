// Shared guest glue of the built-in policies: WIT bindings and the
// conversion from the WIT request to `twip_policy_core`'s view of it.
// Included by each guest's lib.rs, which defines KIND, NAME, DESCRIPTION.

wit_bindgen::generate!({
    path: "../../wit",
    world: "policy",
});

use exports::twip::policy::placement::{
    Assignments, ErrorKind, Guest, PlaceError, PolicyInfo, Request, Topology,
};
use twip_policy_core::{Fail, NodeCap, Svc, Topo};

struct Policy;

fn topo(t: Option<Topology>) -> Option<Topo> {
    t.map(|t| match t {
        Topology::Node => Topo::Node,
        Topology::Zone => Topo::Zone,
    })
}

impl Guest for Policy {
    fn info() -> PolicyInfo {
        PolicyInfo {
            name: NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: DESCRIPTION.into(),
        }
    }

    fn place(req: Request) -> Result<Assignments, PlaceError> {
        let nodes: Vec<NodeCap> = req
            .nodes
            .iter()
            .map(|n| NodeCap {
                zone: n.zone,
                cpu: n.cpu_millis,
                mem: n.memory_mib,
            })
            .collect();
        let services: Vec<Svc> = req
            .services
            .iter()
            .map(|s| Svc {
                replicas: s.replicas,
                cpu: s.cpu_millis,
                mem: s.memory_mib,
                spread: topo(s.spread),
                anti: topo(s.anti_affinity),
                existing: &s.existing,
            })
            .collect();
        let placed = twip_policy_core::place(KIND, req.zones.len(), &nodes, &services);
        placed.map(|per_service| per_service.concat()).map_err(|f| {
            let kind = match f {
                Fail::Capacity { .. } => ErrorKind::InsufficientCapacity,
                Fail::Unsatisfiable { .. } => ErrorKind::Unsatisfiable,
                Fail::Invalid(_) => ErrorKind::InvalidRequest,
            };
            let message = f.describe(&services, &|i| req.services[i].name.clone());
            PlaceError { kind, message }
        })
    }
}

export!(Policy);
