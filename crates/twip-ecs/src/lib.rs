//! Applies a twip plan to AWS ECS through aws-sdk-ecs.
//!
//! [`desired::desired`] turns a plan (and its scenario) into one task
//! definition (family `ENV-SERVICE`) and one ECS service per scenario
//! service, with placement from the plan's policy; [`Ecs::observe`] reads
//! what the cluster has; [`diff::diff`] compares the two (a task definition
//! counts as changed only when a field twip sets differs from the latest
//! registered revision, so a second apply registers nothing); [`apply`]
//! executes the changes and, if a call fails, says what was and was not
//! applied. Everything twip creates carries the tags `twip.env`,
//! `twip.managed` and (services, task definitions) `twip.service`
//! ([`twip_deploy::labels`]); nothing without all of them is touched, so a
//! stray `twip.env` tag does not make an object twip's.
//!
//! Configuration comes from the standard AWS chain (environment, profile,
//! SSO, instance role) through aws-config, with the SDK's standard retry
//! policy (exponential back-off with jitter on throttling and transient
//! errors).
//!
//! The modules, one reason to change each: `desired` (what the plan asks
//! for) and `diff` (what differs) are pure; `error` sorts the SDK's errors
//! into [`EcsError`]; `client` makes the calls ([`Ecs`]); `converge`
//! decides their order ([`apply`], [`status`], [`destroy`]).

#![deny(missing_docs)]

mod client;
mod converge;
pub mod desired;
pub mod diff;
mod error;

pub use client::{connect, Ecs};
pub use converge::{apply, destroy, status, Outcome, ServiceStatus};
pub use desired::{Capacity, Desired, Placement, ServiceDesired, Strategy, TaskDef};
pub use diff::{Action, Observed, ObservedService, ObservedTask};
pub use error::EcsError;
