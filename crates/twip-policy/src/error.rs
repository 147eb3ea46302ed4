//! Errors of the policy host, as types.

use std::path::PathBuf;

/// Everything that can go wrong when loading or calling a policy plugin.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The plugin file could not be read.
    #[error("cannot read plugin {path}: {source}")]
    Io {
        /// The plugin file that was read.
        path: PathBuf,
        /// Why reading it failed.
        #[source]
        source: std::io::Error,
    },
    /// The plugin file is larger than any policy needs.
    #[error(
        "plugin {path} is larger than {limit_mib} MiB (twip reads and compiles at most that much; \
         a placement policy is usually under 1 MiB)"
    )]
    TooLarge {
        /// The plugin file.
        path: PathBuf,
        /// The limit in MiB.
        limit_mib: u64,
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
    VersionMismatch {
        /// The interface the plugin exports (`twip:policy@…`, or an
        /// unversioned one).
        found: String,
        /// The interface this host speaks (`twip:policy@` and
        /// [`INTERFACE_VERSION`](crate::INTERFACE_VERSION)).
        expected: String,
    },
    /// The plugin does not export the placement interface at all.
    #[error("plugin does not export {expected} (it exports: {found})")]
    MissingExport {
        /// The export looked for, as given by [`interface_id`](crate::interface_id).
        expected: String,
        /// The plugin's exports, comma-separated (`nothing` if none).
        found: String,
    },
    /// The plugin imports something; policies get no capabilities at all.
    #[error("plugin imports `{0}`, but policies get no host capabilities (no WASI: no files, clock, network or randomness); build it so that it imports nothing")]
    ForbiddenImport(String),
    /// Instantiation failed for another reason.
    #[error("cannot instantiate plugin: {0}")]
    Instantiate(String),
    /// No built-in policy of that name.
    #[error("no built-in policy named '{name}' (built-ins: {known})")]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// The names of all built-ins, comma-separated.
        known: String,
    },
    /// The deterministic fuel budget ran out.
    #[error("plugin ran out of fuel: it used its whole budget of {budget} units for this request (infinite loop?)")]
    OutOfFuel {
        /// The fuel the call was given, in wasmtime fuel units.
        budget: u64,
    },
    /// The wall-clock deadline passed.
    #[error("plugin missed its deadline of {ms} ms and was interrupted")]
    Timeout {
        /// The deadline, in milliseconds.
        ms: u64,
    },
    /// The plugin tried to use more memory than allowed.
    #[error("plugin exceeded its memory cap of {cap_mib} MiB")]
    MemoryLimit {
        /// The memory cap, in MiB (rounded down).
        cap_mib: u64,
    },
    /// The plugin called `memory.grow` more often in one call than any
    /// policy needs (each grow costs the host time that fuel does not count).
    #[error("plugin called memory.grow more than {max} times in one call")]
    TooManyGrows {
        /// The bound.
        max: u32,
    },
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
        /// The policy's name, as its info gives it.
        policy: String,
        /// The WIT name of the plugin's [`ErrorKind`](crate::ErrorKind).
        kind: &'static str,
        /// The plugin's message (truncated if long).
        message: String,
    },
    /// The plugin answered, but the answer breaks the rules.
    #[error("policy '{policy}' gave an invalid answer: {violation}")]
    InvalidAnswer {
        /// The policy's name, as its info gives it.
        policy: String,
        /// The rule the answer breaks.
        violation: Violation,
    },
    /// The on-disk compiled cache failed.
    #[error("compiled-component cache {path}: {message}")]
    Cache {
        /// The cache file involved.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
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
                | PolicyError::TooManyGrows { .. }
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
    /// The answer has not one entry per service of the request.
    #[error("answer has {got} service entries, the request has {expected} services")]
    ServiceCount {
        /// Entries in the answer.
        got: usize,
        /// Services in the request.
        expected: usize,
    },
    /// The plugin's flat answer places more or fewer replicas than the
    /// request asks for in all.
    #[error("answer places {placed} replicas, the request asks for {requested} ({breakdown}): every replica must be placed exactly once")]
    ReplicaTotal {
        /// Replicas in the answer.
        placed: usize,
        /// Replicas asked for, summed over the request's services.
        requested: u64,
        /// `name replicas` of the request's first eight services,
        /// comma-separated (and how many more there are).
        breakdown: String,
    },
    /// One service's entry places more or fewer replicas than it asks for.
    #[error("service '{service}': {placed} replicas placed, {requested} requested (every replica must be placed exactly once)")]
    ReplicaCount {
        /// The service's name.
        service: String,
        /// Replicas in the service's entry.
        placed: usize,
        /// Replicas the service asks for.
        requested: u32,
    },
    /// A replica is placed on a node index the request does not have.
    #[error("service '{service}': replica {replica} placed on node #{node}, but the request has only {nodes} nodes")]
    UnknownNode {
        /// The service's name.
        service: String,
        /// Index of the replica within the service's entry (from 0).
        replica: usize,
        /// The node index the answer gives.
        node: u32,
        /// Nodes in the request.
        nodes: usize,
    },
    /// A node gets more cpu or memory than it has allocatable.
    #[error(
        "node '{node}' over capacity: {resource} {used}{unit} placed, {capacity}{unit} allocatable"
    )]
    OverCapacity {
        /// The node's id.
        node: String,
        /// The resource exceeded: `cpu` or `memory`.
        resource: &'static str,
        /// The resource's unit as printed after a number: `m` (millicores)
        /// or ` MiB`.
        unit: &'static str,
        /// What the answer places on the node, in `unit`.
        used: u64,
        /// What the node has allocatable, in `unit`.
        capacity: u64,
    },
    /// A service with anti-affinity has too many replicas in one node or
    /// zone.
    #[error("service '{service}': anti-affinity allows one replica per {topology}, but {topology} '{domain}' has {count}")]
    AntiAffinity {
        /// The service's name.
        service: String,
        /// The anti-affinity topology: `node` or `zone`.
        topology: &'static str,
        /// The node id or zone name with too many replicas.
        domain: String,
        /// Replicas of the service the answer puts in that domain.
        count: u32,
    },
    /// When not scaling down, the answer keeps fewer of a service's
    /// existing replicas on a node than were there.
    #[error("service '{service}': {kept} of the {existing} existing replicas on node '{node}' kept, {must} must stay (existing replicas are never moved)")]
    ExistingMoved {
        /// The service's name.
        service: String,
        /// The node's id.
        node: String,
        /// The service's existing replicas on the node.
        existing: u32,
        /// The service's replicas on the node in the answer.
        kept: u32,
        /// Replicas that must stay on the node (all the existing ones).
        must: u32,
    },
    /// When scaling down, the answer puts a new replica of the service on
    /// a node.
    #[error("service '{service}': scaling down from {existing} to {requested} replicas may only remove replicas, but node '{node}' got {added} new one(s)")]
    ScaleDownAdded {
        /// The service's name.
        service: String,
        /// The node's id.
        node: String,
        /// The service's existing replicas, on all nodes.
        existing: usize,
        /// Replicas the service asks for (fewer than `existing`).
        requested: u32,
        /// Replicas of the service the answer adds on the node.
        added: u32,
    },
}
