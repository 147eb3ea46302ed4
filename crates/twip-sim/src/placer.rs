//! Placement of replicas on a capacity provider's nodes by the caller's
//! policy (the scenario's placement plugin), during an elastic run.
//!
//! The simulator has no plugin host of its own: whoever runs it (the CLI,
//! the planner, the report) hands it a [`Placer`] through
//! [`Options::placer`](crate::Options::placer). Without one, an elastic run
//! places with its built-in rule (spread over zones, then the fullest node
//! that fits). The question a placer is asked is the one the policy WIT
//! asks: the usable nodes of the moment, every service's replicas that
//! already run on them (they stay where they are), and how many replicas
//! the service being placed must have.

use std::fmt;
use std::sync::Arc;

/// One usable node, as a placer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceNode {
    /// The node's id in the run (`node-7`).
    pub id: String,
    /// Index into [`PlaceRequest::zones`].
    pub zone: u32,
    /// Millicores free for the replicas listed in `existing` and new ones:
    /// the node's usable size less what replicas not listed hold
    /// (draining or dead ones).
    pub cpu_millis: u32,
    /// MiB, likewise.
    pub memory_mib: u32,
}

/// One service's replicas on the usable nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceService {
    /// The scenario's name of the service.
    pub name: String,
    /// How many replicas it must have after placement: `existing.len()`,
    /// plus the new ones for the service being placed.
    pub replicas: u32,
    /// Millicores per replica (its vCPU rounded up).
    pub cpu_millis: u32,
    /// MiB per replica.
    pub memory_mib: u32,
    /// Node index (into [`PlaceRequest::nodes`]) of each replica that runs
    /// (starting or in service); they stay where they are.
    pub existing: Vec<u32>,
}

/// What a placer is asked: place `services[target]`'s new replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceRequest {
    /// The scenario's zones.
    pub zones: Vec<String>,
    /// The capacity provider's instance type (every node is one).
    pub instance_type: String,
    /// The nodes a replica may go to now: up, not failed, in a live zone.
    pub nodes: Vec<PlaceNode>,
    /// The services with replicas on those nodes, and the one placed.
    pub services: Vec<PlaceService>,
    /// Index into `services` of the service whose new replicas are placed.
    pub target: usize,
}

/// Why a placer placed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The nodes have no room that the policy accepts (insufficient
    /// capacity, or a hard rule it cannot meet): the replicas wait for a
    /// node, as ECS tasks wait in PROVISIONING.
    NoRoom,
    /// The placer failed (a trap, a bad answer, its time ran out): the
    /// simulation stops with this message.
    Failed(String),
}

/// Places new replicas for an elastic run.
pub trait Placer: Send + Sync {
    /// The node index (into `req.nodes`) of each new replica of
    /// `req.services[req.target]`: `replicas - existing.len()` of them.
    fn place(&self, req: &PlaceRequest) -> Result<Vec<u32>, Refusal>;
}

/// A shared placer, as [`Options`](crate::Options) holds it.
#[derive(Clone)]
pub struct PlacerRef(pub Arc<dyn Placer>);

impl fmt::Debug for PlacerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlacerRef(..)")
    }
}
