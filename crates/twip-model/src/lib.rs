//! The twip input model.
//!
//! Everything the other crates consume starts here: a [`Scenario`] (parsed
//! from TOML, validated, names resolved to indices, durations in seconds),
//! the distributions of service times ([`Dist`]), the instance
//! [`catalog`], and the [`plan`] file written by the planner.
//!
//! This crate knows nothing of simulation, wasm, docker or plotting; it
//! only turns files into checked values, and every error names the file,
//! the line and the field ([`Error`]).

#![deny(missing_docs)]

pub mod calibration;
pub mod catalog;
pub mod consistency;
mod dist;
pub mod elastic;
pub mod elastic_plan;
mod error;
mod locate;
pub mod plan;
mod scenario;

pub use catalog::{replica_cpu_millis, Catalog, CatalogRegion, InstanceType};
pub use dist::{nearest_rank, Dist};
pub use error::Error;
pub use plan::plan_schema;
pub use plan::{
    group_rejected, Cost, Loss, Mismatch, Placement, Plan, PlanNode, Rejected, RejectedGroup,
    RejectionKind, Verification,
};
pub use scenario::scenario_schema;
pub use scenario::{
    limits, Balancer, Call, Failure, FailureKind, HealthCheck, Infrastructure, Layout, Node,
    PlanMode, Region, Routing, Scenario, Service, Slo, Source, Spike, Surprise, Traffic, Upstream,
};

/// Parses a duration such as `"90s"`, `"10m"`, `"1h30m"` or `"24h"` into seconds.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    humantime::parse_duration(text.trim())
        .map(|d| d.as_secs_f64())
        .map_err(|e| {
            format!("expected a duration such as \"90s\", \"10m\" or \"24h\", got {text:?} ({e})")
        })
}
