//! twip's end-to-end tests: one binary (one link step), a module per area,
//! as ripgrep's `tests/tests.rs`.
//!
//! - `cli`: `twip simulate` and `twip policy`, and the command line itself;
//! - `plan`: `twip plan` and `twip simulate --plan`;
//! - `report`: `twip report`;
//! - `docker`: `twip apply | status | destroy --target docker` against the
//!   real engine (ignored: `.ci/run` runs them);
//! - `ecs`: the same against moto's ECS emulator (ignored: `.ci/run`).
//! - `fuzz`: mutated bundled scenarios must exit 0, 1 or 2 in time (ignored).
//!
//! `cargo test -p twip-cli --test e2e` runs the fast ones; the heavy ones
//! are `#[ignore]`d and run by module, e.g.
//! `cargo test --release -p twip-cli --test e2e -- --ignored cli:: plan:: report::`.

mod common;

mod cli;
mod docker;
mod ecs;
mod fuzz;
mod plan;
mod report;
