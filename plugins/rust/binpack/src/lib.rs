//! Built-in placement policy `binpack`: see `twip_policy_core`.

const KIND: twip_policy_core::Kind = twip_policy_core::Kind::Binpack;
const NAME: &str = "binpack";
const DESCRIPTION: &str = "Packs replicas onto the fewest nodes: best fit by the request's scarcest resource, largest services first.";

include!("../../glue.rs");
