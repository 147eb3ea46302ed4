//! The caller's placement policy under a capacity provider: asked with the
//! usable nodes and the replicas already on them, obeyed, and its refusals
//! and failures handled (the policy plugin's adapter is tested in
//! twip-plan; here the policy is a plain Rust one, to see every question).
//!
//! The scenario (tests/data/waiting-elastic.toml) is elastic.rs's
//! waiting-replica case: two replicas of
//! 1 vCPU fill one 2-vCPU node, the spike at 10 min makes the autoscaler
//! ask for more at 780 s, the provider launches nodes at once (780 s is a
//! whole minute) and they join 120 s later, at 900 s.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::c5_large;
use twip_model::Scenario;
use twip_sim::{
    simulate, Options, PlaceRequest, Placer, PlacerRef, Refusal, ReplicaState, SimError,
};

fn scenario() -> Scenario {
    let toml = include_str!("../../../tests/data/waiting-elastic.toml");
    Scenario::parse(toml, Path::new("waiting.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn options(p: impl Placer + 'static) -> Options {
    Options {
        node_type: Some(c5_large()),
        placer: Some(PlacerRef(Arc::new(p))),
        ..Options::default()
    }
}

/// Free millicores of each node of `req`.
fn free_cpu(req: &PlaceRequest) -> Vec<i64> {
    let mut free: Vec<i64> = req.nodes.iter().map(|n| i64::from(n.cpu_millis)).collect();
    for s in &req.services {
        for &n in &s.existing {
            free[n as usize] -= i64::from(s.cpu_millis);
        }
    }
    free
}

/// Puts each new replica on the last node with room, and records every
/// question and answer.
type Asked = Arc<Mutex<Vec<(PlaceRequest, Option<u32>)>>>;

struct LastFit {
    asked: Asked,
}

impl Placer for LastFit {
    fn place(&self, req: &PlaceRequest) -> Result<Vec<u32>, Refusal> {
        let need = i64::from(req.services[req.target].cpu_millis);
        let pick = free_cpu(req)
            .iter()
            .rposition(|&f| f >= need)
            .map(|i| i as u32);
        self.asked.lock().unwrap().push((req.clone(), pick));
        pick.map(|n| vec![n]).ok_or(Refusal::NoRoom)
    }
}

#[test]
fn waiting_replicas_go_where_the_policy_says_and_it_sees_what_runs() {
    let asked = Asked::default();
    let policy = LastFit {
        asked: asked.clone(),
    };
    let r = simulate(&scenario(), &options(policy)).unwrap_or_else(|e| panic!("{e}"));
    let e = r.elastic.as_ref().expect("elastic");
    let asked = asked.lock().unwrap();

    // Time zero: the first replica finds the node made for the initial
    // two empty, the second finds the first on it.
    let (first, _) = &asked[0];
    assert_eq!(first.services[first.target].existing, Vec::<u32>::new());
    let (second, _) = &asked[1];
    assert_eq!(second.services[second.target].existing, vec![0]);
    assert_eq!(second.services[second.target].replicas, 2);

    // At 780 s the one node is full: refused, the replicas wait.
    let at_780 = e
        .replicas
        .iter()
        .filter(|c| c.state == ReplicaState::Provisioning && c.at_s == 780.0)
        .count();
    assert!(at_780 >= 1, "{:?}", e.replicas);
    assert_eq!(
        e.replicas
            .iter()
            .filter(|c| c.state == ReplicaState::Starting && c.at_s < 900.0)
            .count(),
        0
    );

    // Every replica that started went to the node the policy chose, and
    // each question listed the replicas started before it.
    let chosen: Vec<&str> = asked
        .iter()
        .filter_map(|(q, pick)| pick.map(|n| q.nodes[n as usize].id.as_str()))
        .collect();
    let started: Vec<(&str, &str)> = e
        .replicas
        .iter()
        .filter(|c| c.state == ReplicaState::Starting)
        .map(|c| {
            (
                c.node.as_deref().expect("a node"),
                c.zone.as_deref().expect("a zone"),
            )
        })
        .collect();
    assert!(started.len() >= 2, "{started:?}");
    // The first two answers placed the initial replicas (in service at
    // time zero, no Starting change); the rest are the scale-outs'.
    assert_eq!(
        started.iter().map(|s| s.0).collect::<Vec<_>>(),
        chosen[2..2 + started.len()].to_vec()
    );
    for (q, pick) in asked.iter().skip(2) {
        let placed_before: usize = q.services.iter().map(|s| s.existing.len()).sum();
        assert!(
            placed_before >= 2,
            "the running replicas are in the question: {q:?}"
        );
        if pick.is_some() {
            assert!(
                q.nodes.len() >= 2,
                "the nodes that joined at 900 s are offered: {q:?}"
            );
        }
    }
    // Last fit: the scale-out's first replica lands on the newest node,
    // not on the spread rule's choice.
    let (q, pick) = asked
        .iter()
        .skip(2)
        .find(|(_, p)| p.is_some())
        .expect("a placement");
    assert_eq!(pick.unwrap() as usize, q.nodes.len() - 1);
    assert!(["a", "b"].contains(&started[0].1));
}

struct Refuses;

impl Placer for Refuses {
    fn place(&self, _: &PlaceRequest) -> Result<Vec<u32>, Refusal> {
        Err(Refusal::NoRoom)
    }
}

#[test]
fn a_policy_that_finds_no_room_leaves_the_new_replicas_waiting() {
    let r = simulate(&scenario(), &options(Refuses)).unwrap_or_else(|e| panic!("{e}"));
    let e = r.elastic.as_ref().expect("elastic");
    // The initial replicas run (on the nodes made for them); the scale-out's
    // wait all day: provisioning from 780 s, never started.
    assert!(e
        .replicas
        .iter()
        .any(|c| c.state == ReplicaState::Provisioning && c.at_s == 780.0));
    assert!(
        e.replicas.iter().all(|c| c.state != ReplicaState::Starting),
        "{:?}",
        e.replicas
    );
    assert!(r.completed > 0);
}

struct Fails;

impl Placer for Fails {
    fn place(&self, req: &PlaceRequest) -> Result<Vec<u32>, Refusal> {
        if req.services[req.target].existing.len() < 2 {
            // Let time zero through.
            return Ok(vec![0]);
        }
        Err(Refusal::Failed("the plugin trapped: unreachable".into()))
    }
}

#[test]
fn a_policy_that_fails_stops_the_simulation_with_its_message_and_time() {
    match simulate(&scenario(), &options(Fails)) {
        Err(SimError::Placement { at_s, message }) => {
            assert_eq!(at_s, 780.0);
            assert_eq!(message, "the plugin trapped: unreachable");
        }
        other => panic!("expected a placement error, got {other:?}"),
    }
}
