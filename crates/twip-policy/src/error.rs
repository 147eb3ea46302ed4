//! Errors of the policy host, as types.

use std::path::PathBuf;

/// Everything that can go wrong when loading or calling a policy plugin.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The plugin file could not be read.
    #[error("cannot read plugin {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly file (no `\\0asm` header)")]
    NotWasm,
    /// A core module where a component was expected.
    #[error("this is a core WebAssembly module, not a component: turn it into one with `wasm-tools component new` (see plugins/README.md)")]
    NotAComponent,
    /// The component failed to compile or validate.
    #[error("invalid component: {0}")]
    Compile(String),
    /// The plugin was built against another version of the interface.
    #[error("plugin speaks {found}, but this host speaks {expected}: rebuild the plugin against plugins/wit of this twip version")]
    VersionMismatch { found: String, expected: String },
    /// The plugin does not export the placement interface at all.
    #[error("plugin does not export {expected} (it exports: {found})")]
    MissingExport { expected: String, found: String },
    /// The plugin imports something; policies get no capabilities at all.
    #[error("plugin imports `{0}`, but policies get no host capabilities (no WASI: no files, clock, network or randomness); build it so that it imports nothing")]
    ForbiddenImport(String),
    /// Instantiation failed for another reason.
    #[error("cannot instantiate plugin: {0}")]
    Instantiate(String),
    /// No built-in policy of that name.
    #[error("no built-in policy named '{name}' (built-ins: {known})")]
    UnknownBuiltin { name: String, known: String },
    /// The deterministic fuel budget ran out.
    #[error("plugin ran out of fuel: it used its whole budget of {budget} units for this request (infinite loop?)")]
    OutOfFuel { budget: u64 },
    /// The wall-clock deadline passed.
    #[error("plugin missed its deadline of {ms} ms and was interrupted")]
    Timeout { ms: u64 },
    /// The plugin tried to use more memory than allowed.
    #[error("plugin exceeded its memory cap of {cap_mib} MiB")]
    MemoryLimit { cap_mib: u64 },
    /// The plugin's stack overflowed (runaway recursion?).
    #[error("plugin overflowed its stack (runaway recursion?)")]
    StackOverflow,
    /// Any other trap: `unreachable`, a Rust panic, division by zero...
    #[error("plugin trapped: {0}")]
    Trap(String),
    /// The plugin's answer could not even be read (bad pointers, bad UTF-8...).
    #[error("plugin returned a malformed answer: {0}")]
    Malformed(String),
    /// The request handed to the host is itself invalid.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The plugin says the request cannot be placed.
    #[error("policy '{policy}' cannot place the request ({kind}): {message}")]
    Refused {
        policy: String,
        kind: &'static str,
        message: String,
    },
    /// The plugin answered, but the answer breaks the rules.
    #[error("policy '{policy}' gave an invalid answer: {violation}")]
    InvalidAnswer {
        policy: String,
        violation: Violation,
    },
    /// The on-disk compiled cache failed.
    #[error("compiled-component cache {path}: {message}")]
    Cache { path: PathBuf, message: String },
}

impl PolicyError {
    /// True for errors of the plugin's own making while it ran (trap,
    /// limit, malformed or invalid answer); false for a refusal and for
    /// load-time errors.
    pub fn is_misbehaviour(&self) -> bool {
        matches!(
            self,
            PolicyError::OutOfFuel { .. }
                | PolicyError::Timeout { .. }
                | PolicyError::MemoryLimit { .. }
                | PolicyError::StackOverflow
                | PolicyError::Trap(_)
                | PolicyError::Malformed(_)
                | PolicyError::InvalidAnswer { .. }
        )
    }
}

/// How an answer breaks the rules. Node and service names are the ones of
/// the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("answer has {got} service entries, the request has {expected} services")]
    ServiceCount { got: usize, expected: usize },
    #[error("answer places {placed} replicas, the request asks for {requested} ({breakdown}): every replica must be placed exactly once")]
    ReplicaTotal {
        placed: usize,
        requested: u64,
        breakdown: String,
    },
    #[error("service '{service}': {placed} replicas placed, {requested} requested (every replica must be placed exactly once)")]
    ReplicaCount {
        service: String,
        placed: usize,
        requested: u32,
    },
    #[error("service '{service}': replica {replica} placed on node #{node}, but the request has only {nodes} nodes")]
    UnknownNode {
        service: String,
        replica: usize,
        node: u32,
        nodes: usize,
    },
    #[error(
        "node '{node}' over capacity: {resource} {used}{unit} placed, {capacity}{unit} allocatable"
    )]
    OverCapacity {
        node: String,
        resource: &'static str,
        unit: &'static str,
        used: u64,
        capacity: u64,
    },
    #[error("service '{service}': anti-affinity allows one replica per {topology}, but {topology} '{domain}' has {count}")]
    AntiAffinity {
        service: String,
        topology: &'static str,
        domain: String,
        count: u32,
    },
    #[error("service '{service}': {kept} of the {existing} existing replicas on node '{node}' kept, {must} must stay (existing replicas are never moved)")]
    ExistingMoved {
        service: String,
        node: String,
        existing: u32,
        kept: u32,
        must: u32,
    },
    #[error("service '{service}': scaling down from {existing} to {requested} replicas may only remove replicas, but node '{node}' got {added} new one(s)")]
    ScaleDownAdded {
        service: String,
        node: String,
        existing: usize,
        requested: u32,
        added: u32,
    },
}
