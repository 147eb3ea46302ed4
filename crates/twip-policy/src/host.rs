//! The sandboxing host: engine, compiled-component cache, plugins.

use crate::bindings::{Policy as Bindings, PolicyPre};
use crate::{validate, Assignments, PolicyError, PolicyInfo, Request, INTERFACE};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap};

/// Interval of the epoch ticker; deadlines are rounded up to it.
const TICK: Duration = Duration::from_millis(10);
/// Longest error message of a plugin that is kept.
const MAX_MESSAGE: usize = 1000;
/// Largest component file read (and compiled): the bundled policies are
/// 20–55 KB, so 16 MiB is far above any real policy, and it bounds
/// compilation (a 98 MB component took 70 s and 1.6 GB to compile).
pub const MAX_COMPONENT_BYTES: u64 = 16 << 20;
/// `memory.grow` calls one plugin call may make. Each grow is a host call
/// that costs one unit of fuel but far more time, so a plugin growing in a
/// loop would stretch every call to its wall-clock deadline; counting the
/// grows makes that bound deterministic (a real policy grows a few times).
pub const MAX_GROWS_PER_CALL: u32 = 10_000;

/// Per-call limits of a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel for any call, whatever the request.
    pub fuel_base: u64,
    /// Extra fuel per (node × replica) of the request, so that big requests
    /// get proportionally more; deterministic, unlike the deadline.
    pub fuel_per_unit: u64,
    /// Wall-clock backstop for one call.
    pub deadline: Duration,
    /// Linear memory cap in bytes (all memories of the instance).
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel_base: 50_000_000,
            fuel_per_unit: 1_000,
            deadline: Duration::from_secs(1),
            memory_bytes: 64 << 20,
        }
    }
}

impl Limits {
    /// The fuel budget for one request.
    pub fn fuel_for(&self, req: &Request) -> u64 {
        let replicas: u64 = req.services.iter().map(|s| s.replicas as u64).sum();
        let units = (req.nodes.len() as u64).saturating_mul(replicas.max(1));
        self.fuel_base
            .saturating_add(units.saturating_mul(self.fuel_per_unit))
    }
}

/// How to build a [`Host`].
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// Per-call limits of the plugins the host loads (until
    /// [`Host::set_limits`]).
    pub limits: Limits,
    /// Directory for serialized compiled components; `None` keeps the cache
    /// in memory only.
    pub cache_dir: Option<PathBuf>,
}

/// Advances the engine's epoch every [`TICK`] until the last owner is gone.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: &Engine) -> Arc<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        std::thread::Builder::new()
            .name("twip-policy-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker thread");
        Arc::new(Ticker { stop })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Compiles and caches policy components, and loads plugins.
pub struct Host {
    engine: Engine,
    linker: Linker<State>,
    cache: Mutex<HashMap<[u8; 32], Component>>,
    cache_dir: Option<PathBuf>,
    limits: Limits,
    ticker: Arc<Ticker>,
}

impl Host {
    /// A host with default limits and an in-memory cache only.
    pub fn new() -> Result<Host, PolicyError> {
        Host::with_config(HostConfig::default())
    }

    /// A host with the given limits and cache directory.
    pub fn with_config(config: HostConfig) -> Result<Host, PolicyError> {
        let mut cfg = Config::new();
        cfg.consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(512 << 10)
            .cranelift_opt_level(wasmtime::OptLevel::Speed);
        let engine = Engine::new(&cfg).map_err(|e| PolicyError::Instantiate(format!("{e:#}")))?;
        let ticker = Ticker::start(&engine);
        Ok(Host {
            // The linker stays empty: plugins get no capabilities.
            linker: Linker::new(&engine),
            engine,
            cache: Mutex::new(HashMap::new()),
            cache_dir: config.cache_dir,
            limits: config.limits,
            ticker,
        })
    }

    /// The limits every plugin loaded from now on gets.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Changes the limits of plugins loaded from now on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Loads a plugin from a `.wasm` component file.
    pub fn load_file(&self, path: &Path) -> Result<Plugin, PolicyError> {
        use std::io::Read;
        let io = |source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_COMPONENT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_COMPONENT_BYTES {
            return Err(PolicyError::TooLarge {
                path: path.to_path_buf(),
                limit_mib: MAX_COMPONENT_BYTES >> 20,
            });
        }
        self.load(&bytes)
    }

    /// A policy as the user names it: a built-in name, or a component file.
    /// A name with a `/` or ending in `.wasm`, or an existing file, is a
    /// file: as given when it exists (or is absolute), else relative to
    /// `base` (the scenario's folder). Anything else is a built-in name
    /// (an unknown one is an error listing the built-ins).
    pub fn load_named(&self, policy: &str, base: &Path) -> Result<Plugin, PolicyError> {
        if crate::BUILTINS.iter().any(|b| b.name == policy) {
            return self.load_builtin(policy);
        }
        let p = Path::new(policy);
        let looks_like_file = policy.ends_with(".wasm") || policy.contains('/') || p.is_file();
        if !looks_like_file {
            return self.load_builtin(policy);
        }
        if p.is_absolute() || p.exists() {
            self.load_file(p)
        } else {
            self.load_file(&base.join(p))
        }
    }

    /// Loads a built-in policy by name (`spread`, `binpack`, `zone-spread`).
    pub fn load_builtin(&self, name: &str) -> Result<Plugin, PolicyError> {
        let wasm = crate::builtin_wasm(name).ok_or_else(|| PolicyError::UnknownBuiltin {
            name: name.to_string(),
            known: crate::BUILTINS
                .iter()
                .map(|b| b.name)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        self.load(wasm)
    }

    /// Loads a plugin from the bytes of a component.
    pub fn load(&self, wasm: &[u8]) -> Result<Plugin, PolicyError> {
        let component = self.compile(wasm)?;
        check_shape(&self.engine, &component)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| PolicyError::Instantiate(format!("{e:#}")))?;
        let pre = PolicyPre::new(pre).map_err(|e| PolicyError::Instantiate(format!("{e:#}")))?;
        let mut plugin = Plugin {
            engine: self.engine.clone(),
            pre,
            live: None,
            limits: self.limits,
            info: PolicyInfo {
                name: "(loading)".into(),
                version: String::new(),
                description: String::new(),
            },
            _ticker: self.ticker.clone(),
        };
        plugin.info = plugin.call_info()?;
        Ok(plugin)
    }

    /// Compiles a component, or fetches it from the cache (memory first,
    /// then the cache directory).
    pub fn compile(&self, wasm: &[u8]) -> Result<Component, PolicyError> {
        check_header(wasm)?;
        let key: [u8; 32] = Sha256::digest(wasm).into();
        if let Some(c) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(c.clone());
        }
        let path = self.cache_dir.as_ref().map(|dir| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            self.engine.precompile_compatibility_hash().hash(&mut h);
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            dir.join(format!("{hex}-{:016x}.cwasm", h.finish()))
        });
        let mut component = None;
        if let Some(p) = path.as_ref().filter(|p| p.is_file()) {
            // SAFETY: the file is one this host serialized itself, named
            // after the content hash of the source and the engine's
            // compatibility hash; a file that fails to load is recompiled.
            component = unsafe { Component::deserialize_file(&self.engine, p) }.ok();
        }
        let component = match component {
            Some(c) => c,
            None => {
                let c = Component::new(&self.engine, wasm)
                    .map_err(|e| PolicyError::Compile(format!("{e:#}")))?;
                if let Some(p) = &path {
                    self.store_cached(p, &c)?;
                }
                c
            }
        };
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, component.clone());
        Ok(component)
    }

    fn store_cached(&self, path: &Path, c: &Component) -> Result<(), PolicyError> {
        let err = |message: String| PolicyError::Cache {
            path: path.to_path_buf(),
            message,
        };
        let bytes = c.serialize().map_err(|e| err(format!("{e:#}")))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))?;
        Ok(())
    }
}

fn check_header(wasm: &[u8]) -> Result<(), PolicyError> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err(PolicyError::NotWasm);
    }
    if wasm[4..8] == [1, 0, 0, 0] {
        return Err(PolicyError::NotAComponent);
    }
    Ok(())
}

/// Refuses components that import anything or do not export the placement
/// interface in the version this host speaks.
fn check_shape(engine: &Engine, component: &Component) -> Result<(), PolicyError> {
    let ty = component.component_type();
    if let Some((name, _)) = ty.imports(engine).next() {
        return Err(PolicyError::ForbiddenImport(name.to_string()));
    }
    let expected = crate::interface_id();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    if exports.contains(&expected) {
        return Ok(());
    }
    let prefix = format!("{INTERFACE}@");
    if let Some(other) = exports
        .iter()
        .find(|e| e.starts_with(&prefix) || e.as_str() == INTERFACE)
    {
        let found = match other.strip_prefix(&prefix) {
            Some(v) => format!("twip:policy@{v}"),
            None => "an unversioned twip:policy".to_string(),
        };
        return Err(PolicyError::VersionMismatch {
            found,
            expected: format!("twip:policy@{}", crate::INTERFACE_VERSION),
        });
    }
    Err(PolicyError::MissingExport {
        expected,
        found: if exports.is_empty() {
            "nothing".into()
        } else {
            exports.join(", ")
        },
    })
}

/// Store data: the memory limiter.
struct State {
    limiter: Limiter,
}

struct Limiter {
    cap: usize,
    hit: bool,
    /// `memory.grow` calls in the current call.
    grows: u32,
    /// The call made more than [`MAX_GROWS_PER_CALL`] of them.
    too_many_grows: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grows += 1;
        // Past the count, a trap rather than a failed grow: a plugin that
        // goes on asking would spend the call's deadline in host calls.
        if self.grows > MAX_GROWS_PER_CALL {
            self.too_many_grows = true;
            return Err(wasmtime::Error::msg("too many memory.grow calls"));
        }
        if desired > self.cap {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        100
    }

    fn memories(&self) -> usize {
        10
    }

    fn tables(&self) -> usize {
        100
    }
}

/// A loaded policy. Not `Sync`: one call at a time; load one per thread to
/// place in parallel (loading from the cache is cheap).
pub struct Plugin {
    engine: Engine,
    pre: PolicyPre<State>,
    live: Option<(Store<State>, Bindings)>,
    limits: Limits,
    info: PolicyInfo,
    _ticker: Arc<Ticker>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("info", &self.info)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// What the plugin says about itself.
    pub fn info(&self) -> &PolicyInfo {
        &self.info
    }

    /// The limits of each call.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Changes the limits of later calls.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        self.live = None;
    }

    /// Places a request: checks it, calls the plugin under its limits and
    /// validates the answer. Entry `s` of the result holds the node index of
    /// every replica of `req.services[s]`.
    pub fn place(&mut self, req: &Request) -> Result<Assignments, PolicyError> {
        validate::check_request(req).map_err(PolicyError::InvalidRequest)?;
        let flat = self.place_raw(req)?;
        let invalid = |violation| PolicyError::InvalidAnswer {
            policy: self.info.name.clone(),
            violation,
        };
        let answer = validate::split_answer(req, &flat).map_err(invalid)?;
        validate::check_answer(req, &answer).map_err(invalid)?;
        Ok(answer)
    }

    /// Calls the plugin under its limits and returns its raw answer (the
    /// node of every replica, services in request order), without checking
    /// the request or the answer: for conformance runs and benchmarks.
    pub fn place_raw(&mut self, req: &Request) -> Result<Vec<u32>, PolicyError> {
        let fuel = self.limits.fuel_for(req);
        let (store, bindings) = self.arm(fuel)?;
        match bindings
            .twip_policy_placement()
            .call_place(&mut *store, req)
        {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(PolicyError::Refused {
                policy: self.info.name.clone(),
                kind: e.kind.as_str(),
                message: truncate(e.message),
            }),
            Err(e) => Err(self.fail(e, fuel)),
        }
    }

    fn call_info(&mut self) -> Result<PolicyInfo, PolicyError> {
        let fuel = self.limits.fuel_base;
        let (store, bindings) = self.arm(fuel)?;
        match bindings.twip_policy_placement().call_info(&mut *store) {
            Ok(info) => Ok(PolicyInfo {
                name: truncate(info.name),
                version: truncate(info.version),
                description: truncate(info.description),
            }),
            Err(e) => Err(self.fail(e, fuel)),
        }
    }

    /// Makes sure an instance exists and sets the limits of the next call.
    fn arm(&mut self, fuel: u64) -> Result<(&mut Store<State>, &Bindings), PolicyError> {
        if self.live.is_none() {
            let mut store = Store::new(
                &self.engine,
                State {
                    limiter: Limiter {
                        cap: self.limits.memory_bytes,
                        hit: false,
                        grows: 0,
                        too_many_grows: false,
                    },
                },
            );
            store.limiter(|s| &mut s.limiter);
            self.set_budget(&mut store, self.limits.fuel_base)?;
            let bindings = match self.pre.instantiate(&mut store) {
                Ok(b) => b,
                Err(e) => {
                    return Err(classify(
                        e,
                        &store,
                        &self.limits,
                        self.limits.fuel_base,
                        true,
                    ))
                }
            };
            self.live = Some((store, bindings));
        }
        let limits = self.limits;
        let (store, bindings) = self.live.as_mut().expect("instance just created");
        store.data_mut().limiter.hit = false;
        store.data_mut().limiter.grows = 0;
        store.data_mut().limiter.too_many_grows = false;
        store
            .set_fuel(fuel)
            .map_err(|e| PolicyError::Instantiate(format!("{e:#}")))?;
        store.set_epoch_deadline(deadline_ticks(limits.deadline));
        Ok((store, bindings))
    }

    fn set_budget(&self, store: &mut Store<State>, fuel: u64) -> Result<(), PolicyError> {
        store
            .set_fuel(fuel)
            .map_err(|e| PolicyError::Instantiate(format!("{e:#}")))?;
        store.set_epoch_deadline(deadline_ticks(self.limits.deadline));
        Ok(())
    }

    /// Turns a failed call into an error and drops the (possibly broken)
    /// instance, so that the next call starts afresh.
    fn fail(&mut self, e: wasmtime::Error, fuel: u64) -> PolicyError {
        let (store, _) = self.live.take().expect("a call needs an instance");
        classify(e, &store, &self.limits, fuel, false)
    }
}

fn deadline_ticks(d: Duration) -> u64 {
    (d.as_nanos().div_ceil(TICK.as_nanos()) as u64).max(1) + 1
}

/// A string from the plugin, made safe to print: control characters
/// (escape sequences that could rewrite the user's terminal, newlines)
/// written as escapes, and at most `MAX_MESSAGE` bytes.
fn truncate(s: String) -> String {
    let long = s.len() > MAX_MESSAGE;
    let mut s: String = s
        .chars()
        .take(MAX_MESSAGE)
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    if long || s.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE.min(s.len());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("… (truncated)");
    }
    s
}

fn classify(
    e: wasmtime::Error,
    store: &Store<State>,
    limits: &Limits,
    fuel: u64,
    instantiating: bool,
) -> PolicyError {
    if store.data().limiter.too_many_grows {
        return PolicyError::TooManyGrows {
            max: MAX_GROWS_PER_CALL,
        };
    }
    if store.data().limiter.hit {
        return PolicyError::MemoryLimit {
            cap_mib: (limits.memory_bytes >> 20) as u64,
        };
    }
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return match trap {
            Trap::OutOfFuel => PolicyError::OutOfFuel { budget: fuel },
            Trap::Interrupt => PolicyError::Timeout {
                ms: limits.deadline.as_millis() as u64,
            },
            Trap::StackOverflow => PolicyError::StackOverflow,
            Trap::UnreachableCodeReached => {
                PolicyError::Trap("`unreachable` executed (a panic or abort in the plugin)".into())
            }
            other => PolicyError::Trap(other.to_string()),
        };
    }
    let msg = format!("{e:#}");
    if instantiating {
        PolicyError::Instantiate(msg)
    } else {
        PolicyError::Malformed(msg)
    }
}
