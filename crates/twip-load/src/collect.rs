//! The measurements while a run goes on: the overall histograms, the
//! errors, and the intervals still open.
//!
//! An interval is keyed by intended start time. It closes (its histogram is
//! summarised and dropped) once the schedule has moved past it and every
//! request scheduled in it has finished, so memory holds only the intervals
//! that can still change: about `timeout / interval` of them.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::report::{ErrorClass, Errors, IntervalReport, Latency};

/// The largest latency recorded exactly (µs): one hour; longer ones count
/// as one hour.
const MAX_US: u64 = 3_600_000_000;

/// A histogram of microseconds, `digits` significant.
pub(crate) fn histogram(digits: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, digits).expect("constant, valid bounds")
}

fn us(seconds: f64) -> u64 {
    ((seconds * 1e6).round() as u64).clamp(1, MAX_US)
}

/// How one request ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A response with a status below 400.
    Ok,
    /// A failure, with the library's words for connect and transport errors.
    Failed(ErrorClass, Option<String>),
}

struct Open {
    requests: u64,
    finished: u64,
    ok: u64,
    errors: u64,
    histogram: Histogram<u64>,
}

pub(crate) struct Collector {
    interval_s: f64,
    pub(crate) latency: Histogram<u64>,
    pub(crate) response: Histogram<u64>,
    pub(crate) errors: Errors,
    pub(crate) ok: u64,
    open: BTreeMap<u64, Open>,
    /// Intervals below this index get no more requests.
    sealed_below: u64,
    closed: BTreeMap<u64, IntervalReport>,
}

impl Collector {
    pub(crate) fn new(interval_s: f64) -> Collector {
        Collector {
            interval_s,
            latency: histogram(3),
            response: histogram(3),
            errors: Errors::default(),
            ok: 0,
            open: BTreeMap::new(),
            sealed_below: 0,
            closed: BTreeMap::new(),
        }
    }

    /// The interval of an intended start `t` (s).
    pub(crate) fn interval_of(&self, t: f64) -> u64 {
        (t / self.interval_s).floor() as u64
    }

    /// A request is scheduled in interval `k`; the intervals before it are
    /// complete as far as the schedule goes.
    pub(crate) fn scheduled(&mut self, k: u64) {
        self.open
            .entry(k)
            .or_insert_with(|| Open {
                requests: 0,
                finished: 0,
                ok: 0,
                errors: 0,
                histogram: histogram(2),
            })
            .requests += 1;
        if k > self.sealed_below {
            self.sealed_below = k;
            let done: Vec<u64> = self
                .open
                .range(..k)
                .filter(|(_, o)| o.finished == o.requests)
                .map(|(&i, _)| i)
                .collect();
            for i in done {
                self.close(i);
            }
        }
    }

    /// A request of interval `k` ended: `from_intended` and `from_send` are
    /// its latencies (s) from its intended start and from its send. A
    /// request of the warm-up (`counted` false) counts in its interval only.
    pub(crate) fn finished(
        &mut self,
        k: u64,
        from_intended: f64,
        from_send: f64,
        outcome: Outcome,
        counted: bool,
    ) {
        let Some(open) = self.open.get_mut(&k) else {
            return;
        };
        open.finished += 1;
        match outcome {
            Outcome::Ok => {
                open.ok += 1;
                let l = us(from_intended);
                open.histogram.saturating_record(l);
                if counted {
                    self.ok += 1;
                    self.latency.saturating_record(l);
                    self.response.saturating_record(us(from_send));
                }
            }
            Outcome::Failed(_, _) if !counted => open.errors += 1,
            Outcome::Failed(class, message) => {
                open.errors += 1;
                self.errors.add(class);
                if self.errors.first_message.is_none() {
                    self.errors.first_message = message;
                }
            }
        }
        if k < self.sealed_below && open.finished == open.requests {
            self.close(k);
        }
    }

    fn close(&mut self, k: u64) {
        if let Some(o) = self.open.remove(&k) {
            self.closed.insert(
                k,
                IntervalReport {
                    start_s: k as f64 * self.interval_s,
                    requests: o.requests,
                    ok: o.ok,
                    errors: o.errors,
                    latency_ms: Latency::of(&o.histogram),
                },
            );
        }
    }

    /// Every interval up to the one holding `span_s`, empty ones included
    /// (call when every request has finished).
    pub(crate) fn intervals(&mut self, span_s: f64) -> Vec<IntervalReport> {
        let open: Vec<u64> = self.open.keys().copied().collect();
        for k in open {
            self.close(k);
        }
        let n = self
            .closed
            .keys()
            .next_back()
            .map_or(0, |&k| k + 1)
            .max((span_s / self.interval_s).ceil() as u64);
        (0..n)
            .map(|k| {
                self.closed.remove(&k).unwrap_or(IntervalReport {
                    start_s: k as f64 * self.interval_s,
                    requests: 0,
                    ok: 0,
                    errors: 0,
                    latency_ms: None,
                })
            })
            .collect()
    }
}
