//! The labels (Docker) and tags (ECS) that mark what twip owns. Both
//! appliers write these keys and read them back; an object without
//! [`ENV`] set to the environment is never changed.

/// The environment an object belongs to: `twip.env=ENV`. Everything twip
/// creates carries it, and only objects with it are touched.
pub const ENV: &str = "twip.env";
/// The scenario service an object runs: `twip.service=SERVICE`.
pub const SERVICE: &str = "twip.service";
/// The replica index of a container: `twip.replica=N` (Docker only: an ECS
/// service holds all its replicas).
pub const REPLICA: &str = "twip.replica";
/// The plan's node a replica is placed on: `twip.node=NODE` (Docker only).
pub const NODE: &str = "twip.node";
/// What every twip key starts with.
pub const PREFIX: &str = "twip.";
