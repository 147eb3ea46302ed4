//! What twip's appliers (twip-docker, twip-ecs) share, and nothing else.
//!
//! **Key decision: this crate is pure and target-neutral** — it depends on
//! twip-model only, never on bollard or the AWS SDK, and neither applier
//! depends on the other. What a service runs as whatever the target
//! ([`spec::service_specs`]: image, environment, CPU, memory, port, health
//! check), how twip marks what it owns ([`labels`]), how a half-way stop is
//! reported ([`Partial`]) and what an apply did ([`Outcome`]) are decided
//! here once, so the two appliers cannot drift apart on them. It is a crate
//! of its own rather than part of twip-model because it knows deployment
//! details (Docker's `CMD` health-check form, the test app's variables)
//! that the input model must not.

#![deny(missing_docs)]

pub mod labels;
mod outcome;
pub mod spec;

pub use outcome::{Outcome, Partial, Stage};
pub use spec::{
    check_cluster_name, check_env_name, check_image, curl_check, image_problems, service_specs,
    ImageProblem, NameError, ServiceSpec,
};
