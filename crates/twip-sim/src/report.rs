//! Merging replications into a [`SimReport`], with confidence intervals and SLO verdicts.

use hdrhistogram::Histogram;
use indexmap::IndexMap;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};
use twip_model::Scenario;

use crate::compile::Model;
use crate::engine::{RunStats, BATCHES, HIST_MAX_US};

/// Everything a simulation measured (the JSON contract of `twip simulate`).
#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Replications run.
    pub replications: u32,
    /// Simulated seconds per replication (warm-up included).
    pub simulated_s: f64,
    /// Events processed, all replications.
    pub events: u64,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// Requests that arrived after the warm-up.
    pub requests: u64,
    /// Of those, answered successfully.
    pub completed: u64,
    /// Of those, failed (rejected, dropped, timed out).
    pub errors: u64,
    /// errors / (completed + errors).
    pub error_rate: f64,
    /// End-to-end latency of successful requests.
    pub latency_ms: Latency,
    /// 95 % confidence half-widths of the figures above (serialised as a
    /// map keyed by the field each qualifies: `latency_ms.p99`, ...).
    pub ci95: Ci95,
    /// Per service.
    pub services: IndexMap<String, ServiceReport>,
    /// SLO verdict.
    pub slo: SloReport,
    /// Requests completed per second of measured time.
    pub throughput_rps: f64,
    /// Time-average number of requests in the system (Little's L).
    pub mean_in_system: f64,
    /// The injected failures and the errors each caused.
    pub failures: Vec<FailureReport>,
    /// Per-interval series (with `--timeline`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Timeline>,
}

/// 95 % confidence half-widths, each `None` when it cannot be estimated.
///
/// With two or more replications: t-intervals over the replications; with
/// one: batch means over ten batches (the per-service ones need
/// replications). Serialised as one map keyed by the field each qualifies
/// (`latency_ms.mean`, `latency_ms.p99`, `error_rate`,
/// `services.NAME.mean_wait_ms`, `services.NAME.utilization`), the absent
/// ones left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ci95 {
    /// Of `latency_ms.mean`.
    pub latency_mean_ms: Option<f64>,
    /// Of `latency_ms.p99`.
    pub latency_p99_ms: Option<f64>,
    /// Of `error_rate`.
    pub error_rate: Option<f64>,
    /// Per service, in the scenario's order.
    pub services: IndexMap<String, ServiceCi95>,
}

/// One service's 95 % half-widths.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServiceCi95 {
    /// Of `services.NAME.mean_wait_ms`.
    pub mean_wait_ms: Option<f64>,
    /// Of `services.NAME.utilization`.
    pub utilization: Option<f64>,
}

impl Serialize for Ci95 {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = ser.serialize_map(None)?;
        let mut put = |k: &str, v: Option<f64>| match v {
            Some(v) => m.serialize_entry(k, &v),
            None => Ok(()),
        };
        put("latency_ms.mean", self.latency_mean_ms)?;
        put("latency_ms.p99", self.latency_p99_ms)?;
        put("error_rate", self.error_rate)?;
        for (name, c) in &self.services {
            put(&format!("services.{name}.mean_wait_ms"), c.mean_wait_ms)?;
            put(&format!("services.{name}.utilization"), c.utilization)?;
        }
        m.end()
    }
}

/// Latency summary in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// One service's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    /// Busy worker time / available worker time.
    pub utilization: f64,
    /// Mean time in queue before a worker takes the request.
    pub mean_wait_ms: f64,
    /// Mean own service time.
    pub mean_service_ms: f64,
    /// Visits answered successfully.
    pub completed: u64,
    /// Visits refused: queue full or no replica in rotation.
    pub rejected: u64,
    /// Visits lost to a failed replica (dropped, or sent to it before detection).
    pub failed: u64,
    /// Visits over the service's timeout.
    pub timed_out: u64,
}

/// SLO verdict.
#[derive(Debug, Clone, Serialize)]
pub struct SloReport {
    /// All objectives met.
    pub met: bool,
    /// One line per objective not met, with the measured value and the bound.
    pub violations: Vec<String>,
}

/// A failure and what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct FailureReport {
    /// What failed, e.g. `node web-1 (us-east-1b)`.
    pub what: String,
    /// Start (s).
    pub at_s: f64,
    /// End (s), `None` if permanent.
    pub end_s: Option<f64>,
    /// Replicas taken down.
    pub replicas: usize,
    /// Service visits dropped or refused by those replicas (all replications).
    pub errors: u64,
}

/// Per-interval series over the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    /// Start of each interval (s of simulated time).
    pub start_s: Vec<f64>,
    /// Interval length (s).
    pub interval_s: f64,
    /// Arrivals per second.
    pub rps: Vec<f64>,
    /// Errors per interval (mean over replications).
    pub errors: Vec<f64>,
    /// Error rate per interval.
    pub error_rate: Vec<f64>,
    /// Median latency (ms).
    pub p50_ms: Vec<f64>,
    /// 95th percentile (ms).
    pub p95_ms: Vec<f64>,
    /// 99th percentile (ms).
    pub p99_ms: Vec<f64>,
}

fn q_ms<T: hdrhistogram::Counter>(h: &Histogram<T>, q: f64) -> f64 {
    if h.is_empty() {
        f64::NAN
    } else {
        h.value_at_quantile(q) as f64 / 1e3
    }
}

/// Half-width of the 95 % t-interval of the mean of `xs` (`None` below two values).
pub(crate) fn half_width(xs: &[f64]) -> Option<f64> {
    let xs: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    let n = xs.len();
    if n < 2 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .ok()?
        .inverse_cdf(0.975);
    Some(t * (var / n as f64).sqrt())
}

/// Per-replication (or, with one replication, per-batch) values of the
/// headline figures, for confidence intervals.
struct Sample {
    mean_ms: f64,
    p99_ms: f64,
    error_rate: f64,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

pub(crate) fn build(
    s: &Scenario,
    m: &Model,
    seed: u64,
    runs: Vec<RunStats>,
    timeline: bool,
    wall_s: f64,
) -> SimReport {
    let reps = runs.len();
    let measured = m.end - m.warmup;
    let nb = runs[0].buckets.len();
    let bucket_s = runs[0].bucket_s;

    // Samples for the confidence intervals.
    let samples: Vec<Sample> = if reps >= 2 {
        runs.iter()
            .map(|r| Sample {
                mean_ms: ratio(r.latency_sum, r.completed as f64) * 1e3,
                p99_ms: q_ms(&r.hist(), 0.99),
                error_rate: ratio(r.errors as f64, (r.completed + r.errors) as f64),
            })
            .collect()
    } else {
        // Batch means: ten consecutive batches of intervals.
        let r = &runs[0];
        r.buckets
            .chunks(nb / BATCHES)
            .zip(&r.batches)
            .map(|(c, h)| {
                let done: u64 = c.iter().map(|b| b.completed).sum();
                let err: u64 = c.iter().map(|b| b.errors).sum();
                let sum: f64 = c.iter().map(|b| b.latency_sum).sum();
                Sample {
                    mean_ms: ratio(sum, done as f64) * 1e3,
                    p99_ms: q_ms(h, 0.99),
                    error_rate: ratio(err as f64, (done + err) as f64),
                }
            })
            .collect()
    };

    let mut hist =
        Histogram::<u64>::new_with_bounds(1, HIST_MAX_US, 3).expect("valid histogram bounds");
    let (mut requests, mut completed, mut errors, mut events) = (0, 0, 0, 0);
    let (mut latency_sum, mut in_system_area) = (0.0, 0.0);
    for r in &runs {
        hist.add(r.hist()).ok();
        requests += r.requests;
        completed += r.completed;
        errors += r.errors;
        events += r.events;
        latency_sum += r.latency_sum;
        in_system_area += r.in_system_area;
    }
    let error_rate = ratio(errors as f64, (completed + errors) as f64);
    let latency_ms = Latency {
        mean: if completed > 0 {
            latency_sum / completed as f64 * 1e3
        } else {
            f64::NAN
        },
        p50: q_ms(&hist, 0.50),
        p95: q_ms(&hist, 0.95),
        p99: q_ms(&hist, 0.99),
        max: if hist.is_empty() {
            f64::NAN
        } else {
            hist.max() as f64 / 1e3
        },
    };

    let mut ci95 = Ci95 {
        latency_mean_ms: half_width(&samples.iter().map(|x| x.mean_ms).collect::<Vec<_>>()),
        latency_p99_ms: half_width(&samples.iter().map(|x| x.p99_ms).collect::<Vec<_>>()),
        error_rate: half_width(&samples.iter().map(|x| x.error_rate).collect::<Vec<_>>()),
        services: IndexMap::new(),
    };

    let mut services = IndexMap::new();
    for (i, sv) in s.services.iter().enumerate() {
        let capacity = (m.svcs[i].workers * m.svcs[i].replicas) as f64 * measured;
        let sum = |f: &dyn Fn(&crate::engine::SvcStats) -> f64| {
            runs.iter().map(|r| f(&r.svcs[i])).sum::<f64>()
        };
        let started = sum(&|x| x.started as f64);
        if reps >= 2 {
            let wait: Vec<f64> = runs
                .iter()
                .map(|r| ratio(r.svcs[i].wait_sum, r.svcs[i].started as f64) * 1e3)
                .collect();
            let util: Vec<f64> = runs
                .iter()
                .map(|r| ratio(r.svcs[i].busy_area, capacity))
                .collect();
            let c = ServiceCi95 {
                mean_wait_ms: half_width(&wait),
                utilization: half_width(&util),
            };
            if c != ServiceCi95::default() {
                ci95.services.insert(sv.name.clone(), c);
            }
        }
        services.insert(
            sv.name.clone(),
            ServiceReport {
                utilization: ratio(sum(&|x| x.busy_area), capacity * reps as f64),
                mean_wait_ms: ratio(sum(&|x| x.wait_sum), started) * 1e3,
                mean_service_ms: ratio(sum(&|x| x.service_sum), started) * 1e3,
                completed: sum(&|x| x.completed as f64) as u64,
                rejected: sum(&|x| x.rejected as f64) as u64,
                failed: sum(&|x| x.failed as f64) as u64,
                timed_out: sum(&|x| x.timed_out as f64) as u64,
            },
        );
    }

    let failures = m
        .failures
        .iter()
        .enumerate()
        .map(|(i, f)| FailureReport {
            what: f.description.clone(),
            at_s: f.at,
            end_s: f.end,
            replicas: f.replicas.len(),
            errors: runs.iter().map(|r| r.failure_errors[i]).sum(),
        })
        .collect();

    let timeline = timeline.then(|| {
        let mut t = Timeline {
            start_s: Vec::new(),
            interval_s: bucket_s,
            rps: Vec::new(),
            errors: Vec::new(),
            error_rate: Vec::new(),
            p50_ms: Vec::new(),
            p95_ms: Vec::new(),
            p99_ms: Vec::new(),
        };
        for k in 0..nb {
            let mut h = runs[0].buckets[k].hist.clone();
            let (mut arr, mut done, mut err) = (0u64, 0u64, 0u64);
            for (j, r) in runs.iter().enumerate() {
                let b = &r.buckets[k];
                if j > 0 {
                    h.add(&b.hist).ok();
                }
                arr += b.arrivals;
                done += b.completed;
                err += b.errors;
            }
            t.start_s.push(m.warmup + k as f64 * bucket_s);
            t.rps.push(arr as f64 / bucket_s / reps as f64);
            t.errors.push(err as f64 / reps as f64);
            t.error_rate.push(ratio(err as f64, (done + err) as f64));
            t.p50_ms.push(q_ms(&h, 0.50));
            t.p95_ms.push(q_ms(&h, 0.95));
            t.p99_ms.push(q_ms(&h, 0.99));
        }
        t
    });

    let slo = verdict(s, &latency_ms, error_rate, completed);
    SimReport {
        scenario: s.name.clone(),
        seed,
        replications: reps as u32,
        simulated_s: m.end,
        events,
        wall_s,
        requests,
        completed,
        errors,
        error_rate,
        latency_ms,
        ci95,
        services,
        slo,
        throughput_rps: completed as f64 / measured / reps as f64,
        mean_in_system: in_system_area / measured / reps as f64,
        failures,
        timeline,
    }
}

fn verdict(s: &Scenario, lat: &Latency, error_rate: f64, completed: u64) -> SloReport {
    let mut violations = Vec::new();
    if let Some(slo) = &s.slo {
        if let Some(bound) = slo.p99_ms {
            if completed == 0 {
                violations.push(format!("p99: no request completed (bound {bound} ms)"));
            } else if lat.p99 > bound {
                violations.push(format!("p99 {:.1} ms > {bound} ms", lat.p99));
            }
        }
        if let Some(bound) = slo.max_error_rate {
            if error_rate > bound {
                violations.push(format!("error rate {error_rate:.5} > {bound}"));
            }
        }
    }
    SloReport {
        met: violations.is_empty(),
        violations,
    }
}
