//! Why a candidate was rejected, and why no plan exists, as data.
//!
//! Every reason the search can give is a value here ([`Rejection`],
//! [`Violation`], [`Binding`]) with the fields a caller may need; the
//! sentence a person reads is each type's `Display`, written once. The
//! plan file keeps both (the fields, and the sentence for display), so no
//! reader ever parses the sentence back.

use std::fmt;

use twip_model::{Loss, RejectionKind};

/// The replicas of a candidate do not fit on its nodes.
#[derive(Debug, Clone, PartialEq)]
pub enum Shortfall {
    /// One replica is larger than a whole node.
    ReplicaTooBig {
        /// Service.
        service: String,
        /// Its vCPU per replica.
        cpu: f64,
        /// Its MiB per replica.
        memory_mb: u32,
        /// The node's instance type.
        instance_type: String,
        /// The node's usable millicores (sustained, for burstable types).
        node_cpu_millis: u32,
        /// Whether the type is burstable (its sustained share is used).
        burstable: bool,
        /// The node's MiB.
        node_memory_mb: u32,
    },
    /// The replicas need more vCPU than the nodes have together.
    Cpu {
        /// Millicores needed.
        need_millis: u64,
        /// Node count.
        nodes: u32,
        /// Millicores the nodes have.
        have_millis: u64,
    },
    /// The replicas need more memory than the nodes have together.
    Memory {
        /// MiB needed.
        need_mb: u64,
        /// Node count.
        nodes: u32,
        /// MiB the nodes have.
        have_mb: u64,
    },
    /// The sums fit, but first-fit decreasing cannot pack the replicas.
    Packing {
        /// Node count.
        nodes: u32,
        /// Millicores per node.
        node_cpu_millis: u32,
        /// MiB per node.
        node_memory_mb: u32,
    },
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shortfall::ReplicaTooBig {
                service,
                cpu,
                memory_mb,
                instance_type,
                node_cpu_millis,
                burstable,
                node_memory_mb,
            } => write!(
                f,
                "one replica of {service} ({cpu} vCPU, {memory_mb} MiB) does not fit on a \
                 {instance_type} ({} vCPU{}, {node_memory_mb} MiB)",
                *node_cpu_millis as f64 / 1000.0,
                if *burstable { " sustained" } else { "" },
            ),
            Shortfall::Cpu {
                need_millis,
                nodes,
                have_millis,
            } => write!(
                f,
                "needs {} vCPU, {nodes} nodes have {}",
                *need_millis as f64 / 1000.0,
                *have_millis as f64 / 1000.0
            ),
            Shortfall::Memory {
                need_mb,
                nodes,
                have_mb,
            } => write!(
                f,
                "needs {need_mb} MiB of memory, {nodes} nodes have {have_mb}"
            ),
            Shortfall::Packing {
                nodes,
                node_cpu_millis,
                node_memory_mb,
            } => write!(
                f,
                "the replicas do not pack onto {nodes} nodes of {} vCPU / {node_memory_mb} MiB \
                 (first-fit decreasing)",
                *node_cpu_millis as f64 / 1000.0
            ),
        }
    }
}

/// A placement in which a loss the SLO demands takes a whole service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SurvivalGap {
    /// Every node is in one zone.
    OneZone {
        /// The zone (`None` with no nodes at all).
        zone: Option<String>,
    },
    /// One zone holds every replica of a service.
    ZoneHoldsAll {
        /// The zone.
        zone: String,
        /// The service.
        service: String,
    },
    /// One node holds every replica of a service.
    NodeHoldsAll {
        /// Node id.
        node: String,
        /// Its zone.
        zone: String,
        /// The service.
        service: String,
    },
}

impl fmt::Display for SurvivalGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SurvivalGap::OneZone { zone } => write!(
                f,
                "every node is in zone {}: losing it loses everything",
                zone.as_deref().unwrap_or("?")
            ),
            SurvivalGap::ZoneHoldsAll { zone, service } => write!(
                f,
                "zone {zone} holds every replica of {service}: losing it loses the service"
            ),
            SurvivalGap::NodeHoldsAll {
                node,
                zone,
                service,
            } => write!(
                f,
                "{node} ({zone}) holds every replica of {service}: losing it loses the service"
            ),
        }
    }
}

/// How a case's verdict was inferred from another simulated case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inference {
    /// It keeps no more replicas than a case that failed (survivors per service).
    FailedWithMore(Vec<u32>),
    /// It keeps at least the replicas of a case that passed (survivors per service).
    PassedWithFewer(Vec<u32>),
}

impl fmt::Display for Inference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |s: &[u32]| s.iter().map(u32::to_string).collect::<Vec<_>>().join("/");
        match self {
            Inference::FailedWithMore(s) => write!(
                f,
                "no more surviving replicas than a simulated case that failed, {} survivors",
                join(s)
            ),
            Inference::PassedWithFewer(s) => write!(
                f,
                "at least the surviving replicas of a simulated case that passed, {} survivors",
                join(s)
            ),
        }
    }
}

/// An objective a simulated case did not meet.
#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    /// The simulation itself could not run (counts against the p99).
    SimFailed {
        /// The case.
        loss: Loss,
        /// The simulator's error.
        message: String,
    },
    /// Nothing completed, so there is no p99.
    NoneCompleted {
        /// The case.
        loss: Loss,
        /// Set when the verdict was inferred.
        inferred: Option<Inference>,
    },
    /// The queue grew without bound and the simulation stopped early.
    Unstable {
        /// Requests in the system when it stopped.
        in_system: u64,
        /// Simulated seconds at the stop.
        at_s: f64,
        /// The case.
        loss: Loss,
    },
    /// The p99 (or the upper end of its 95 % interval) is over the bound.
    P99 {
        /// Measured p99 (ms).
        p99_ms: f64,
        /// The objective (ms).
        bound_ms: f64,
        /// The case.
        loss: Loss,
        /// Set when the verdict was inferred.
        inferred: Option<Inference>,
    },
    /// The judged error rate is over the bound.
    ErrorRate {
        /// The judged rate (steady + burst amortised over a day).
        rate: f64,
        /// The objective.
        bound: f64,
        /// Error rate after detection.
        steady: f64,
        /// Errors of the detection burst (0 for the baseline).
        burst_errors: f64,
        /// Requests per day the burst is amortised over.
        daily_requests: f64,
        /// The case.
        loss: Loss,
        /// Set when the verdict was inferred.
        inferred: Option<Inference>,
    },
}

impl Violation {
    /// The objective it breaks.
    pub fn kind(&self) -> RejectionKind {
        match self {
            Violation::ErrorRate { .. } => RejectionKind::ErrorRate,
            _ => RejectionKind::P99,
        }
    }

    /// The case it happened in.
    pub fn loss(&self) -> &Loss {
        match self {
            Violation::SimFailed { loss, .. }
            | Violation::NoneCompleted { loss, .. }
            | Violation::Unstable { loss, .. }
            | Violation::P99 { loss, .. }
            | Violation::ErrorRate { loss, .. } => loss,
        }
    }
}

fn note(inferred: &Option<Inference>) -> String {
    inferred
        .as_ref()
        .map(|x| format!(" (inferred: {x})"))
        .unwrap_or_default()
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::SimFailed { loss, message } => {
                write!(f, "simulation failed {}: {message}", loss.where_())
            }
            Violation::NoneCompleted { loss, inferred } => write!(
                f,
                "no request completed {}{}",
                loss.where_(),
                note(inferred)
            ),
            Violation::Unstable {
                in_system,
                at_s,
                loss,
            } => write!(
                f,
                "unstable {}: the queue grew without bound ({in_system} requests in the system \
                 after {at_s:.0} s)",
                loss.where_()
            ),
            Violation::P99 {
                p99_ms,
                bound_ms,
                loss,
                inferred,
            } => write!(
                f,
                "p99 {p99_ms:.0} ms > {bound_ms} ms {}{}",
                loss.where_(),
                note(inferred)
            ),
            Violation::ErrorRate {
                rate,
                bound,
                steady,
                burst_errors,
                daily_requests,
                loss,
                inferred,
            } => {
                write!(f, "error rate {rate:.5} > {bound} {}", loss.where_())?;
                if *burst_errors > 0.0 {
                    write!(
                        f,
                        " (steady {steady:.5} + detection burst {burst_errors:.0} errors / \
                         {daily_requests:.3e} requests a day)"
                    )?;
                }
                f.write_str(&note(inferred))
            }
        }
    }
}

/// Why one candidate was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    /// The replicas do not fit.
    Capacity(Shortfall),
    /// The placement policy refused (its message).
    Placement(String),
    /// The placement cannot survive a loss the SLO demands.
    Survival(SurvivalGap),
    /// A simulated case missed an objective.
    Objective(Violation),
}

impl Rejection {
    /// Its kind, as the plan file records it.
    pub fn kind(&self) -> RejectionKind {
        match self {
            Rejection::Capacity(_) => RejectionKind::Capacity,
            Rejection::Placement(_) => RejectionKind::Placement,
            Rejection::Survival(_) => RejectionKind::Survival,
            Rejection::Objective(v) => v.kind(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Capacity(s) => s.fmt(f),
            Rejection::Placement(m) => f.write_str(m),
            Rejection::Survival(g) => g.fmt(f),
            Rejection::Objective(v) => v.fmt(f),
        }
    }
}

/// The constraint that binds when no candidate passes.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// The p99 objective is below what one service's own service time allows.
    P99Floor {
        /// The objective (ms).
        p99_ms: f64,
        /// The service.
        service: String,
        /// Share of requests that visit it (0..1).
        visited: f64,
        /// The quantile of its service time that must be within the bound.
        quantile: f64,
        /// That quantile (ms).
        floor_ms: f64,
    },
    /// The largest candidate tried was rejected.
    Largest {
        /// The scenario field that binds, with its value (`slo.p99_ms = 1000`).
        field: String,
        /// The candidate (`3 x m5.large (app 4, lb 2)`).
        candidate: String,
        /// Why it was rejected.
        rejection: Rejection,
    },
    /// There was nothing to try.
    NoCandidates,
    /// Every elastic candidate simulated failed a case (the last one tried).
    Elastic {
        /// The last candidate and its failed case.
        last: Box<twip_model::elastic_plan::ElasticRejected>,
        /// The scenario's `traffic.start_hour_utc`, for the case's time of day.
        start_hour_utc: f64,
    },
    /// No elastic candidate passed the screening model.
    ElasticScreened {
        /// Candidates screened.
        candidates: usize,
        /// The most capable candidate, and the case it failed.
        strongest: Box<twip_model::elastic_plan::ElasticRejected>,
        /// The scenario's `traffic.start_hour_utc`.
        start_hour_utc: f64,
    },
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Binding::P99Floor {
                p99_ms,
                service,
                visited,
                quantile,
                floor_ms,
            } => write!(
                f,
                "slo.p99_ms = {p99_ms}: service {service} alone, visited by {:.0} % of requests, \
                 takes longer than {p99_ms:.0} ms for more than 1 % of all requests even with no \
                 queueing (its service time's {quantile:.2} quantile is {floor_ms:.0} ms), \
                 whatever the capacity",
                visited * 100.0
            ),
            Binding::Largest {
                field,
                candidate,
                rejection,
            } => write!(
                f,
                "{field}: the largest candidate tried, {candidate}, was rejected: {rejection}"
            ),
            Binding::NoCandidates => {
                f.write_str("no candidates (no instance type, or max_nodes = 0)")
            }
            Binding::Elastic {
                last,
                start_hour_utc,
            } => write!(
                f,
                "no elastic candidate simulated met every case; the last tried, {}, was \
                 rejected: {} (the fixed plan, without --elastic, meets them)",
                last.candidate(),
                last.reason(*start_hour_utc)
            ),
            Binding::ElasticScreened {
                candidates,
                strongest,
                start_hour_utc,
            } => write!(
                f,
                "none of the {candidates} elastic candidates passes the one-minute screening; \
                 the most capable, {}, is rejected: {} (the reactive policy's delays, or the \
                 ceiling of the fixed plan's counts, cannot carry that case)",
                strongest.candidate(),
                strongest.reason(*start_hour_utc)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_read_as_before() {
        let v = Violation::P99 {
            p99_ms: 1983.4,
            bound_ms: 1000.0,
            loss: Loss::Zone {
                zone: "us-east-1a".into(),
            },
            inferred: None,
        };
        assert_eq!(
            v.to_string(),
            "p99 1983 ms > 1000 ms when zone us-east-1a is lost"
        );
        let e = Violation::ErrorRate {
            rate: 0.0012,
            bound: 0.001,
            steady: 0.0002,
            burst_errors: 40.0,
            daily_requests: 4.0e7,
            loss: Loss::Node {
                node: "node-3".into(),
                zone: "a".into(),
            },
            inferred: Some(Inference::FailedWithMore(vec![2, 3])),
        };
        assert_eq!(
            e.to_string(),
            "error rate 0.00120 > 0.001 when node-3 (a) is lost (steady 0.00020 + detection \
             burst 40 errors / 4.000e7 requests a day) (inferred: no more surviving replicas \
             than a simulated case that failed, 2/3 survivors)"
        );
        assert_eq!(e.kind(), RejectionKind::ErrorRate);
        let c = Rejection::Capacity(Shortfall::Cpu {
            need_millis: 8000,
            nodes: 3,
            have_millis: 6000,
        });
        assert_eq!(c.to_string(), "needs 8 vCPU, 3 nodes have 6");
        assert_eq!(c.kind(), RejectionKind::Capacity);
    }
}
