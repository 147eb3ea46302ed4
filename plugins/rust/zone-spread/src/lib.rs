//! Built-in placement policy `zone-spread`: see `twip_policy_core`.

const KIND: twip_policy_core::Kind = twip_policy_core::Kind::ZoneSpread;
const NAME: &str = "zone-spread";
const DESCRIPTION: &str =
    "Balances every service across zones, then across the nodes of each zone.";

include!("../../glue.rs");
