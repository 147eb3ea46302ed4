//! What a run measured, as values: the CLI turns them into sentences.

use std::collections::BTreeMap;
use std::fmt;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::Arrivals;

/// Latency percentiles in milliseconds, from an HDR histogram of
/// microseconds (three significant digits overall, two per interval).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Responses counted.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Smallest.
    pub min_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    /// The summary of a histogram of microseconds; `None` when it is empty.
    pub fn of(h: &Histogram<u64>) -> Option<Latency> {
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(Latency {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            min_ms: ms(h.min()),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        })
    }
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorClass {
    /// The connection was refused (nothing listens on the port).
    ConnectRefused,
    /// Any other failure to connect (unreachable, no such host, too many
    /// open files, …).
    Connect,
    /// No complete response within the timeout (counted from the send).
    Timeout,
    /// The connection broke after it was made (closed early, reset, a
    /// response that is not HTTP).
    Transport,
    /// An HTTP status of 400 or more.
    Status(u16),
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorClass::ConnectRefused => f.write_str("connection refused"),
            ErrorClass::Connect => f.write_str("connect error"),
            ErrorClass::Timeout => f.write_str("timeout"),
            ErrorClass::Transport => f.write_str("transport error"),
            ErrorClass::Status(s) => write!(f, "HTTP {s}"),
        }
    }
}

/// Failed requests by class.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Errors {
    /// All failed requests.
    pub total: u64,
    /// Connections refused.
    pub connect_refused: u64,
    /// Other connect failures.
    pub connect: u64,
    /// Timeouts.
    pub timeout: u64,
    /// Broken connections and malformed responses.
    pub transport: u64,
    /// Responses with a status of 400 or more, by status code.
    pub status: BTreeMap<u16, u64>,
    /// Responses with a 4xx status.
    pub status_4xx: u64,
    /// Responses with a 5xx status.
    pub status_5xx: u64,
    /// The operating system's or the HTTP library's words for the first
    /// connect or transport error, for people (never parsed).
    pub first_message: Option<String>,
}

impl Errors {
    /// Counts one failure.
    pub fn add(&mut self, class: ErrorClass) {
        self.total += 1;
        match class {
            ErrorClass::ConnectRefused => self.connect_refused += 1,
            ErrorClass::Connect => self.connect += 1,
            ErrorClass::Timeout => self.timeout += 1,
            ErrorClass::Transport => self.transport += 1,
            ErrorClass::Status(s) => {
                *self.status.entry(s).or_default() += 1;
                match s {
                    400..=499 => self.status_4xx += 1,
                    500..=599 => self.status_5xx += 1,
                    _ => {}
                }
            }
        }
    }

    /// Every class with a count, in a fixed order (classes, then status
    /// codes ascending).
    pub fn classes(&self) -> Vec<(ErrorClass, u64)> {
        let mut v: Vec<(ErrorClass, u64)> = [
            (ErrorClass::ConnectRefused, self.connect_refused),
            (ErrorClass::Connect, self.connect),
            (ErrorClass::Timeout, self.timeout),
            (ErrorClass::Transport, self.transport),
        ]
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .collect();
        v.extend(
            self.status
                .iter()
                .map(|(&s, &n)| (ErrorClass::Status(s), n)),
        );
        v
    }
}

/// One interval of the run: the requests whose **intended** start fell in
/// `[start_s, start_s + interval)`, however late they finished.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntervalReport {
    /// Start, seconds from the run's start.
    pub start_s: f64,
    /// Requests scheduled in it.
    pub requests: u64,
    /// Successful responses.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// Latency of the successful responses from their intended start
    /// (`None` when there were none).
    pub latency_ms: Option<Latency>,
}

/// A sign that the generator, not (only) the server, decided when requests
/// went out: the measured latencies still count from the intended starts,
/// but the server was offered less than the schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Bottleneck {
    /// Requests had to wait for a free slot under the in-flight bound.
    InFlightBound {
        /// The bound.
        bound: usize,
        /// Requests that waited.
        waited: u64,
    },
    /// Requests went out later than [`crate::limits::LATE_S`] after their
    /// intended start (the generator could not keep up: CPU, timer, bound).
    LateSends {
        /// Late requests.
        late: u64,
        /// All requests.
        requests: u64,
        /// The largest delay between intended start and send (ms).
        max_lag_ms: f64,
    },
}

impl fmt::Display for Bottleneck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bottleneck::InFlightBound { bound, waited } => write!(
                f,
                "the in-flight bound ({bound}) was reached: {waited} requests waited for a free \
                 slot and went out late, so the generator, not only the server, limited the load \
                 (their latency still counts from the intended start; raise the bound if the \
                 server should see the full rate)"
            ),
            Bottleneck::LateSends {
                late,
                requests,
                max_lag_ms,
            } => write!(
                f,
                "the generator could not send on time: {late} of {requests} requests went out \
                 more than {:.0} ms after their intended start (at most {max_lag_ms:.1} ms late); \
                 the offered rate was below the schedule",
                crate::limits::LATE_S * 1000.0
            ),
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// The target.
    pub url: String,
    /// How requests arrived.
    pub arrivals: Arrivals,
    /// The paths requests were drawn from, with their weights (empty: the
    /// URL's own).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<(String, f64)>,
    /// The schedule's seed.
    pub seed: u64,
    /// The in-flight bound.
    pub max_in_flight: usize,
    /// The per-request timeout (s).
    pub timeout_s: f64,
    /// The interval length (s).
    pub interval_s: f64,
    /// Requests sent after the warm-up (every scheduled request is sent,
    /// late if need be).
    pub requests: u64,
    /// Requests sent during the warm-up, left out of every total.
    #[serde(skip_serializing_if = "is_zero")]
    pub warmup_requests: u64,
    /// The warm-up (s of the schedule).
    #[serde(skip_serializing_if = "is_zero_f")]
    pub warmup_s: f64,
    /// Successful responses (status below 400).
    pub ok: u64,
    /// Failed requests by class.
    pub errors: Errors,
    /// The schedule's length (s): the duration bound, or the last intended
    /// start when the request count ended it.
    pub span_s: f64,
    /// Wall time from the start to the last response (s).
    pub elapsed_s: f64,
    /// Requests per second of schedule after the warm-up (`requests /
    /// (span_s - warmup_s)`).
    pub sent_rate: f64,
    /// Requests sent more than [`crate::limits::LATE_S`] after their
    /// intended start (after the warm-up, as every total).
    pub late: u64,
    /// The largest delay between an intended start and its send (ms).
    pub max_lag_ms: f64,
    /// Requests that waited for a free slot under the in-flight bound (after
    /// the warm-up).
    pub waited_for_slot: u64,
    /// The most requests in flight at once.
    pub peak_in_flight: usize,
    /// Latency of successful responses from their **intended** start
    /// (coordinated omission corrected); `None` without any.
    pub latency_ms: Option<Latency>,
    /// Latency of successful responses from their actual send (what a
    /// closed-loop generator reports); `None` without any.
    pub response_ms: Option<Latency>,
    /// Per interval of intended start times, gaps included.
    pub intervals: Vec<IntervalReport>,
    /// Where the generator limited the load.
    pub bottlenecks: Vec<Bottleneck>,
    /// The overall histogram behind `latency_ms` (µs, from the intended
    /// start), for callers that want more than the summary.
    #[serde(skip)]
    pub histogram: Histogram<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_f(x: &f64) -> bool {
    *x == 0.0
}
