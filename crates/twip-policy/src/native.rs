//! Native twins of the built-in policies: the very same algorithm source as
//! the wasm guests (`plugins/rust/core/src/lib.rs`), compiled into the host.
//! They exist to cross-check the plugins' answers and to measure the
//! sandbox's overhead; twip itself always places through the plugins.

#[allow(
    dead_code,
    clippy::all,
    reason = "the guests' shared source, compiled natively: not every item is used here, and it follows the guest toolchain's lints"
)]
#[path = "../../../plugins/rust/core/src/lib.rs"]
mod core;

use crate::{Assignments, ErrorKind, PlaceError, Request, Topology};

pub use self::core::Kind;

/// The native twin of a built-in policy, by name.
pub fn kind(name: &str) -> Option<Kind> {
    match name {
        "spread" => Some(Kind::Spread),
        "binpack" => Some(Kind::Binpack),
        "zone-spread" => Some(Kind::ZoneSpread),
        _ => None,
    }
}

fn topo(t: Option<Topology>) -> Option<self::core::Topo> {
    t.map(|t| match t {
        Topology::Node => self::core::Topo::Node,
        Topology::Zone => self::core::Topo::Zone,
    })
}

/// Places `req` with the native twin of a built-in policy, converting the
/// request exactly like the guest glue (`plugins/rust/glue.rs`) does.
pub fn place(kind: Kind, req: &Request) -> Result<Assignments, PlaceError> {
    let nodes: Vec<self::core::NodeCap> = req
        .nodes
        .iter()
        .map(|n| self::core::NodeCap {
            zone: n.zone,
            cpu: n.cpu_millis,
            mem: n.memory_mib,
        })
        .collect();
    let services: Vec<self::core::Svc> = req
        .services
        .iter()
        .map(|s| self::core::Svc {
            replicas: s.replicas,
            cpu: s.cpu_millis,
            mem: s.memory_mib,
            spread: topo(s.spread),
            anti: topo(s.anti_affinity),
            existing: &s.existing,
        })
        .collect();
    self::core::place(kind, req.zones.len(), &nodes, &services).map_err(|f| {
        let kind = match f {
            self::core::Fail::Capacity { .. } => ErrorKind::InsufficientCapacity,
            self::core::Fail::Unsatisfiable { .. } => ErrorKind::Unsatisfiable,
            self::core::Fail::Invalid(_) => ErrorKind::InvalidRequest,
        };
        let message = f.describe(&services, &|i| req.services[i].name.clone());
        PlaceError { kind, message }
    })
}
