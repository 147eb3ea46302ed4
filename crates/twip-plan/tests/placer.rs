//! The scenario's policy plugin places a capacity provider's replicas in
//! an elastic run (twip-sim's `Placer`, through `PolicyPlacer`): its
//! answers are used, and its failures stop the run with its message.
//!
//! tests/data/waiting-elastic.toml with four c5.large nodes (2 vCPU) from
//! the start (`min_nodes = 4`) and replicas of 1 vCPU: the spike at 10 min
//! makes the autoscaler go from 2 to 4 replicas at 780 s (3 periods above
//! a 0.5 target; the replicas' utilisation saturates at 1, so 2 × 1 ÷
//! 0.5), and the 2 new replicas start at once on the nodes that have room.

#[path = "../../twip-policy/tests/fixtures/mod.rs"]
mod fixtures;

use std::path::Path;

use twip_model::Scenario;
use twip_plan::request::PolicyPlacer;
use twip_sim::{NodeType, Options, ReplicaState, SimError, SimReport};

fn scenario() -> Scenario {
    let toml = include_str!("../../../tests/data/waiting-elastic.toml")
        .replace("min_nodes = 1", "min_nodes = 4");
    Scenario::parse(&toml, Path::new("placed.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn simulate(policy: &str) -> Result<SimReport, SimError> {
    let s = scenario();
    let placer = PolicyPlacer::for_scenario(&s, Some(policy))
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("a capacity provider needs a placer");
    let opts = Options {
        node_type: Some(NodeType {
            name: "c5.large".into(),
            vcpu: 2.0,
            memory_mb: 4096.0,
            usd_per_hour: 0.085,
        }),
        placer: Some(placer),
        ..Options::default()
    };
    twip_sim::simulate(&s, &opts)
}

/// The nodes the replicas that started at 780 s went to.
fn nodes_at_780(r: &SimReport) -> Vec<String> {
    let e = r.elastic.as_ref().expect("elastic");
    e.replicas
        .iter()
        .filter(|c| c.state == ReplicaState::Starting && c.at_s == 780.0)
        .map(|c| c.node.clone().expect("a started replica has a node"))
        .collect()
}

#[test]
fn binpack_fills_nodes_and_spread_spreads_them() {
    // At time zero only the node the initial two need exists (node-0,
    // full); the provider's minimum adds node-1 to node-3 after them.
    // binpack fills the fullest node with room: both new replicas share
    // node-1. spread takes the nodes with the fewest: node-1 and node-2.
    let packed = nodes_at_780(&simulate("binpack").unwrap_or_else(|e| panic!("{e}")));
    let mut spread = nodes_at_780(&simulate("spread").unwrap_or_else(|e| panic!("{e}")));
    spread.sort();
    assert_eq!(packed, ["node-1", "node-1"]);
    assert_eq!(spread, ["node-1", "node-2"]);
}

#[test]
fn a_plugin_that_traps_stops_the_simulation_at_its_first_call() {
    let dir = std::env::temp_dir().join(format!("twip-placer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trap.wasm");
    std::fs::write(&path, fixtures::hostile("(unreachable)", "")).unwrap();
    match simulate(&path.to_string_lossy()) {
        Err(SimError::Placement { at_s, message }) => {
            // The initial replicas are placed at time zero.
            assert_eq!(at_s, 0.0);
            assert!(message.contains("trap"), "{message}");
        }
        other => panic!("expected a placement error, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).ok();
}
