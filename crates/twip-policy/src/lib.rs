//! twip placement policies as sandboxed WebAssembly components.
//!
//! A policy is a component that exports `twip:policy/placement@0.1.0`
//! (`plugins/wit/policy.wit`) and imports nothing. The [`Host`] compiles
//! components (cached by content hash, in memory and optionally on disk),
//! and a loaded [`Plugin`] places whole requests:
//!
//! ```no_run
//! use twip_policy::{Host, Request};
//! # fn demo(req: &Request) -> Result<(), twip_policy::PolicyError> {
//! let host = Host::new()?;
//! let mut policy = host.load_builtin("spread")?;
//! let answer = policy.place(req)?; // answer[s][r] = node index of replica r of service s
//! # Ok(()) }
//! ```
//!
//! Every call is sandboxed: a fuel budget that grows with the request
//! (deterministic), an epoch deadline driven by a ticker thread (wall-clock
//! backstop), a memory cap, a stack limit and an empty linker (no WASI).
//! Every answer is validated ([`validate::check_answer`]) before it is
//! returned. The instance is reused between calls and thrown away after any
//! trap, so a misbehaving plugin cannot poison the next call.

#![deny(missing_docs)]

mod builtin;
pub mod conformance;
mod error;
mod host;
pub mod native;
pub mod validate;

#[expect(
    missing_docs,
    reason = "generated from plugins/wit by wasmtime's bindgen"
)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "../../plugins/wit",
        world: "policy",
        additional_derives: [PartialEq, Eq],
    });
}

pub use bindings::exports::twip::policy::placement::{
    ErrorKind, Label, Node, PlaceError, PolicyInfo, Request, Service, Topology,
};
pub use builtin::{builtin_wasm, Builtin, BUILTINS};
pub use error::{PolicyError, Violation};
pub use host::{Host, HostConfig, Limits, Plugin, MAX_COMPONENT_BYTES, MAX_GROWS_PER_CALL};

/// The answer to a request: entry `s` holds the node index (into
/// `request.nodes`) of every replica of `request.services[s]`.
pub type Assignments = Vec<Vec<u32>>;

/// The interface every plugin must export, without its version.
pub const INTERFACE: &str = "twip:policy/placement";
/// The interface version this host speaks.
pub const INTERFACE_VERSION: &str = "0.1.0";

/// The interface with its version, as it appears in a component's exports.
pub fn interface_id() -> String {
    format!("{INTERFACE}@{INTERFACE_VERSION}")
}

impl ErrorKind {
    /// The WIT name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InsufficientCapacity => "insufficient-capacity",
            ErrorKind::Unsatisfiable => "unsatisfiable",
            ErrorKind::InvalidRequest => "invalid-request",
            ErrorKind::Other => "other",
        }
    }
}
