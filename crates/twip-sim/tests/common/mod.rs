//! What the elastic test binaries share.

use twip_sim::NodeType;

/// A c5.large as a capacity provider's node: 2 vCPU, 4 GiB, $0.085/h.
pub fn c5_large() -> NodeType {
    NodeType {
        name: "c5.large".into(),
        vcpu: 2.0,
        memory_mb: 4096.0,
        usd_per_hour: 0.085,
    }
}
