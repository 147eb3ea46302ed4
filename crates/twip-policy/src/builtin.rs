//! The built-in policies, embedded as components built from
//! `plugins/rust/*` by `plugins/build.sh` (and checked by `plugins/ci.sh`).

/// A built-in policy component.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The name it is loaded by (`spread`, `binpack`, `zone-spread`).
    pub name: &'static str,
    /// What it does, in a few words (for listings).
    pub summary: &'static str,
    /// The bytes of the component.
    pub wasm: &'static [u8],
}

/// Every built-in policy.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "spread",
        summary: "across nodes (or zones, per spread key), least-loaded first",
        wasm: include_bytes!("../../../plugins/components/spread.wasm"),
    },
    Builtin {
        name: "binpack",
        summary: "fewest nodes: best fit by the scarcest resource",
        wasm: include_bytes!("../../../plugins/components/binpack.wasm"),
    },
    Builtin {
        name: "zone-spread",
        summary: "balance each service across zones, then nodes",
        wasm: include_bytes!("../../../plugins/components/zone-spread.wasm"),
    },
];

/// The component bytes of a built-in policy.
pub fn builtin_wasm(name: &str) -> Option<&'static [u8]> {
    BUILTINS.iter().find(|b| b.name == name).map(|b| b.wasm)
}
