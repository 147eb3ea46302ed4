//! Built-in placement policy `spread`: see `twip_policy_core`.

const KIND: twip_policy_core::Kind = twip_policy_core::Kind::Spread;
const NAME: &str = "spread";
const DESCRIPTION: &str =
    "Spreads each service across nodes (or zones, per its spread key), least-loaded node first.";

include!("../../glue.rs");
