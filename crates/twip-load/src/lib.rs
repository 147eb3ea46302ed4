//! twip's open-loop HTTP load generator.
//!
//! The key decision: **when a request is sent is decided before the run,
//! never by the server.** The [`Schedule`] of intended start times is a
//! seeded Poisson process (constant rate, or a scenario's traffic profile,
//! [`Arrivals`]), and each request's latency is measured from its intended
//! start, not from the moment it went out. A closed-loop generator waits
//! for a response before sending the next request, so a server that stalls
//! for a second is sent nothing during that second and the stall vanishes
//! from its percentiles ("coordinated omission"); here the requests
//! scheduled during the stall are sent anyway and each counts the time it
//! waited.
//!
//! Requests in flight are bounded ([`Config::max_in_flight`]); a request
//! that finds the bound reached waits for a free slot and goes out late,
//! its latency still counted from its intended start. Late sends and a
//! reached bound are reported as [`Bottleneck`]s: the generator, not the
//! server, then limited the load.
//!
//! [`run`] takes a typed [`Config`] and returns a typed [`LoadReport`]; it
//! prints nothing. Only `http://` targets work (HTTP/1.1, no TLS). tokio and
//! hyper live in this crate only.

#![deny(missing_docs)]

mod client;
mod collect;
mod report;
mod schedule;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hyper::Uri;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tokio::sync::Semaphore;
use tokio::time::Instant;

pub use report::{Bottleneck, ErrorClass, Errors, IntervalReport, Latency, LoadReport};
pub use schedule::{Arrivals, Schedule};

/// The documented limits of a run's settings; a value outside is an error.
pub mod limits {
    /// The largest rate (requests/s), at the profile's peak for a scenario:
    /// above what one generator process sends on loopback.
    pub const MAX_RATE: f64 = 100_000.0;
    /// The largest in-flight bound (each request in flight holds a
    /// connection, so also mind `ulimit -n`).
    pub const MAX_IN_FLIGHT: usize = 100_000;
    /// The longest run: one week (s).
    pub const MAX_DURATION_S: f64 = 7.0 * 86_400.0;
    /// The longest per-request timeout: one hour (s).
    pub const MAX_TIMEOUT_S: f64 = 3_600.0;
    /// The shortest interval (s).
    pub const MIN_INTERVAL_S: f64 = 0.01;
    /// The largest time compression of a scenario: a day per second.
    pub const MAX_SPEED: f64 = 86_400.0;
    /// The largest multiplier of a scenario's rate.
    pub const MAX_SCALE: f64 = 1_000_000.0;
    /// A request sent later than this after its intended start (s) counts as
    /// late: well above tokio's 1 ms timer resolution.
    pub const LATE_S: f64 = 0.010;
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The target, `http://HOST[:PORT][/PATH]`.
    pub url: String,
    /// How requests arrive.
    pub arrivals: Arrivals,
    /// Stop scheduling after this long (s).
    pub duration_s: Option<f64>,
    /// Stop after this many requests.
    pub requests: Option<u64>,
    /// Per-request timeout from the send (s).
    pub timeout_s: f64,
    /// The most requests in flight at once.
    pub max_in_flight: usize,
    /// Length of the reported intervals (s).
    pub interval_s: f64,
    /// The schedule's seed.
    pub seed: u64,
    /// Extra request headers, each `Name: value` (as curl's `-H`).
    pub headers: Vec<String>,
    /// Requests intended to start before this (s) warm the target up: they
    /// are sent and shown in the intervals, but left out of the totals
    /// (requests, errors, latency, the sent rate).
    pub warmup_s: f64,
    /// A mix of paths on the URL's host, each with its weight: each
    /// request's path is drawn from it (seeded by `seed`, apart from the
    /// arrivals). Empty: every request goes to the URL as it is.
    pub paths: Vec<(String, f64)>,
    /// Counters the caller may watch while the run goes on.
    pub progress: Option<Arc<Progress>>,
}

impl Config {
    /// A run of `arrivals` against `url` with the defaults: no bound (set
    /// `duration_s` or `requests`), timeout 10 s, 1000 in flight, 1 s
    /// intervals, seed 1.
    pub fn new(url: impl Into<String>, arrivals: Arrivals) -> Config {
        Config {
            url: url.into(),
            arrivals,
            duration_s: None,
            requests: None,
            timeout_s: 10.0,
            max_in_flight: 1000,
            interval_s: 1.0,
            seed: 1,
            headers: Vec::new(),
            warmup_s: 0.0,
            paths: Vec::new(),
            progress: None,
        }
    }

    /// Checks every setting against [`limits`] and parses the URL.
    pub fn validate(&self) -> Result<Uri, LoadError> {
        let uri = parse_url(&self.url)?;
        let bad = |field: &'static str, problem: String| Err(LoadError::Invalid { field, problem });
        let in_range = |x: f64, lo: f64, hi: f64| x.is_finite() && x > lo && x <= hi;
        match &self.arrivals {
            Arrivals::Poisson { rate } => {
                if !in_range(*rate, 0.0, limits::MAX_RATE) {
                    return bad(
                        "rate",
                        format!(
                            "expected requests/s above 0 and at most {}, got {rate}",
                            limits::MAX_RATE
                        ),
                    );
                }
            }
            Arrivals::Profile {
                scenario,
                start_s,
                end_s,
                speed,
                scale,
                ..
            } => {
                if !in_range(*speed, 0.0, limits::MAX_SPEED) {
                    return bad(
                        "speed",
                        format!(
                            "expected above 0 and at most {}, got {speed}",
                            limits::MAX_SPEED
                        ),
                    );
                }
                if !in_range(*scale, 0.0, limits::MAX_SCALE) {
                    return bad(
                        "scale",
                        format!(
                            "expected above 0 and at most {}, got {scale}",
                            limits::MAX_SCALE
                        ),
                    );
                }
                if !start_s.is_finite() || *start_s < 0.0 || end_s.is_some_and(|e| *start_s >= e) {
                    return bad(
                        "from",
                        format!(
                            "expected a time within scenario {scenario:?} ({} s long), got {start_s} s",
                            end_s.unwrap_or(f64::INFINITY)
                        ),
                    );
                }
                let peak = self.arrivals.peak_rate();
                if !in_range(peak, 0.0, limits::MAX_RATE) {
                    return bad(
                        "scale",
                        format!(
                            "scenario {scenario:?} peaks at {peak} requests/s with this scale; \
                             expected above 0 and at most {}",
                            limits::MAX_RATE
                        ),
                    );
                }
            }
        }
        if let Some(d) = self.duration_s {
            if !in_range(d, 0.0, limits::MAX_DURATION_S) {
                return bad(
                    "duration",
                    format!(
                        "expected above 0 s and at most {} s, got {d} s",
                        limits::MAX_DURATION_S
                    ),
                );
            }
        }
        if !(self.warmup_s.is_finite() && self.warmup_s >= 0.0)
            || self.span_s().is_some_and(|span| self.warmup_s >= span)
        {
            return bad(
                "warmup",
                format!(
                    "expected at least 0 s and shorter than the run ({} s), got {} s",
                    self.span_s().unwrap_or(f64::INFINITY),
                    self.warmup_s
                ),
            );
        }
        if self.requests == Some(0) {
            return bad("requests", "expected at least 1".into());
        }
        if !in_range(self.timeout_s, 0.0, limits::MAX_TIMEOUT_S) {
            return bad(
                "timeout",
                format!(
                    "expected above 0 s and at most {} s, got {} s",
                    limits::MAX_TIMEOUT_S,
                    self.timeout_s
                ),
            );
        }
        if self.max_in_flight == 0 || self.max_in_flight > limits::MAX_IN_FLIGHT {
            return bad(
                "max-in-flight",
                format!(
                    "expected 1 to {}, got {}",
                    limits::MAX_IN_FLIGHT,
                    self.max_in_flight
                ),
            );
        }
        if !(self.interval_s.is_finite()
            && self.interval_s >= limits::MIN_INTERVAL_S
            && self.interval_s <= limits::MAX_DURATION_S)
        {
            return bad(
                "interval",
                format!(
                    "expected at least {} s, got {} s",
                    limits::MIN_INTERVAL_S,
                    self.interval_s
                ),
            );
        }
        if self.span_s().is_none() && self.requests.is_none() {
            return Err(LoadError::Unbounded);
        }
        self.header_map()?;
        self.targets(&uri)?;
        Ok(uri)
    }

    /// The URIs requests go to, each with its cumulative weight (the last
    /// is 1): the URL alone, or the [`Config::paths`] on its host.
    fn targets(&self, uri: &Uri) -> Result<Vec<(Uri, f64)>, LoadError> {
        if self.paths.is_empty() {
            return Ok(vec![(uri.clone(), 1.0)]);
        }
        let bad = |problem: String| LoadError::Invalid {
            field: "path",
            problem,
        };
        let total: f64 = self.paths.iter().map(|(_, w)| w).sum();
        let mut out = Vec::with_capacity(self.paths.len());
        let mut sum = 0.0;
        for (path, weight) in &self.paths {
            if !(weight.is_finite() && *weight > 0.0) {
                return Err(bad(format!(
                    "the weight of {path:?} must be a positive number, got {weight}"
                )));
            }
            if !path.starts_with('/') {
                return Err(bad(format!(
                    "expected a path starting with /, got {path:?}"
                )));
            }
            let authority = uri.authority().map_or("", |a| a.as_str());
            let target: Uri = format!("http://{authority}{path}")
                .parse()
                .map_err(|e| bad(format!("{path:?} is not a URL path ({e})")))?;
            sum += weight / total;
            out.push((target, sum));
        }
        if let Some(last) = out.last_mut() {
            last.1 = 1.0;
        }
        Ok(out)
    }

    /// The extra headers, parsed: each `Name: value`, a valid HTTP header.
    pub fn header_map(&self) -> Result<hyper::HeaderMap, LoadError> {
        let mut map = hyper::HeaderMap::new();
        for h in &self.headers {
            let bad = |problem: String| LoadError::Invalid {
                field: "header",
                problem,
            };
            let Some((name, value)) = h.split_once(':') else {
                return Err(bad(format!("expected \"Name: value\", got {h:?}")));
            };
            let name = hyper::header::HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| bad(format!("{:?} is not a header name (in {h:?})", name.trim())))?;
            let value = hyper::header::HeaderValue::from_str(value.trim()).map_err(|_| {
                bad(format!(
                    "the value of {name} is not a header value (in {h:?})"
                ))
            })?;
            map.append(name, value);
        }
        Ok(map)
    }

    /// How long the schedule lasts (s) when time bounds it: the duration,
    /// or the scenario's remaining time at the run's speed, whichever is
    /// shorter. `None` when only the request count bounds it.
    pub fn span_s(&self) -> Option<f64> {
        [self.duration_s, self.arrivals.span_s()]
            .into_iter()
            .flatten()
            .reduce(f64::min)
    }

    /// The run's schedule of intended start times (s).
    pub fn schedule(&self) -> Schedule {
        Schedule::new(&self.arrivals, self.seed, self.duration_s, self.requests)
    }
}

fn parse_url(url: &str) -> Result<Uri, LoadError> {
    let bad = |problem: String| {
        Err(LoadError::Invalid {
            field: "url",
            problem,
        })
    };
    let uri: Uri = match url.parse() {
        Ok(u) => u,
        Err(e) => {
            return bad(format!(
                "expected http://HOST[:PORT][/PATH], got {url:?} ({e})"
            ))
        }
    };
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return bad(format!(
                "{url:?}: https is not supported, only http:// (plain HTTP/1.1; put a \
                 TLS-terminating proxy in front, or load the service behind it)"
            ))
        }
        Some(s) => return bad(format!("{url:?}: unsupported scheme {s:?}, only http://")),
        None => return bad(format!("expected http://HOST[:PORT][/PATH], got {url:?}")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return bad(format!("{url:?} has no host"));
    }
    Ok(uri)
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A setting is out of its documented range; `field` is its name as
    /// the command line spells the option.
    #[error("{field}: {problem}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// What was expected and what was given.
        problem: String,
    },
    /// Nothing ends the run.
    #[error("nothing bounds the run: give a duration or a number of requests")]
    Unbounded,
    /// The async runtime could not start.
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Counters updated while a run goes on, for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests sent.
    pub sent: AtomicU64,
    /// Requests finished (answered, failed or timed out).
    pub finished: AtomicU64,
    /// Requests failed.
    pub errors: AtomicU64,
}

/// Runs the load on a runtime of its own (one worker thread per core, at
/// most four) and returns what was measured. Call it outside any tokio
/// runtime; inside one, use [`run_async`].
pub fn run(config: &Config) -> Result<LoadReport, LoadError> {
    config.validate()?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(LoadError::Runtime)?;
    runtime.block_on(run_async(config))
}

/// The collector's lock. A poisoned lock means a request task panicked: a
/// bug, but the counts so far are still worth reporting.
fn lock(c: &Mutex<collect::Collector>) -> MutexGuard<'_, collect::Collector> {
    c.lock().unwrap_or_else(PoisonError::into_inner)
}

/// [`run`] on the caller's tokio runtime (it needs the time and I/O drivers).
pub async fn run_async(config: &Config) -> Result<LoadReport, LoadError> {
    let uri = config.validate()?;
    let targets = config.targets(&uri)?;
    // The paths are drawn apart from the arrivals: the same seed gives the
    // same schedule with or without a mix.
    let mut pick = Xoshiro256PlusPlus::seed_from_u64(config.seed ^ 0x7061_7468);
    let headers = Arc::new(config.header_map()?);
    let client = client::client();
    let timeout = Duration::from_secs_f64(config.timeout_s);
    let bound = config.max_in_flight;
    let slots = Arc::new(Semaphore::new(bound));
    let collector = Arc::new(Mutex::new(collect::Collector::new(config.interval_s)));
    let progress = config.progress.clone().unwrap_or_default();
    let (mut requests, mut late, mut waited) = (0u64, 0u64, 0u64);
    let mut warmup_requests = 0u64;
    let (mut max_lag, mut peak_in_flight, mut last_t) = (0.0f64, 0usize, 0.0f64);
    let start = Instant::now();
    for t in config.schedule() {
        let intended = start + Duration::from_secs_f64(t);
        // A warm-up request counts in its interval only, lateness included.
        let counted = t >= config.warmup_s;
        tokio::time::sleep_until(intended).await;
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                waited += u64::from(counted);
                match slots.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => break, // never closed
                }
            }
        };
        let sent = Instant::now();
        let lag = sent.saturating_duration_since(intended).as_secs_f64();
        if counted {
            max_lag = max_lag.max(lag);
            late += u64::from(lag > limits::LATE_S);
        }
        peak_in_flight = peak_in_flight.max(bound - slots.available_permits());
        requests += 1;
        warmup_requests += u64::from(!counted);
        last_t = t;
        let k = {
            let mut c = lock(&collector);
            let k = c.interval_of(t);
            c.scheduled(k);
            k
        };
        progress.sent.fetch_add(1, Ordering::Relaxed);
        let uri = if targets.len() == 1 {
            &targets[0].0
        } else {
            let u: f64 = pick.random();
            &targets[targets
                .partition_point(|(_, c)| *c <= u)
                .min(targets.len() - 1)]
            .0
        };
        let (client, uri, headers, collector, progress) = (
            client.clone(),
            uri.clone(),
            headers.clone(),
            collector.clone(),
            progress.clone(),
        );
        tokio::spawn(async move {
            let outcome = client::get(&client, &uri, &headers, timeout).await;
            let done = Instant::now();
            if matches!(outcome, collect::Outcome::Failed(..)) {
                progress.errors.fetch_add(1, Ordering::Relaxed);
            }
            lock(&collector).finished(
                k,
                done.saturating_duration_since(intended).as_secs_f64(),
                done.saturating_duration_since(sent).as_secs_f64(),
                outcome,
                counted,
            );
            progress.finished.fetch_add(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    // Every request ends within its timeout: wait for all the slots.
    let all = u32::try_from(bound).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    let elapsed_s = start.elapsed().as_secs_f64();

    let stopped_by_count = config.requests.is_some_and(|r| requests >= r);
    let span_s = match config.span_s() {
        Some(s) if !stopped_by_count => s,
        _ => last_t,
    };
    let mut c = lock(&collector);
    let intervals = c.intervals(span_s);
    let mut bottlenecks = Vec::new();
    if waited > 0 {
        bottlenecks.push(Bottleneck::InFlightBound { bound, waited });
    }
    if late > requests / 100 {
        bottlenecks.push(Bottleneck::LateSends {
            late,
            requests,
            max_lag_ms: max_lag * 1000.0,
        });
    }
    Ok(LoadReport {
        url: config.url.clone(),
        arrivals: config.arrivals.clone(),
        paths: config.paths.clone(),
        seed: config.seed,
        max_in_flight: bound,
        timeout_s: config.timeout_s,
        interval_s: config.interval_s,
        requests: requests - warmup_requests,
        warmup_requests,
        warmup_s: config.warmup_s,
        ok: c.ok,
        errors: c.errors.clone(),
        span_s,
        elapsed_s,
        sent_rate: if span_s > config.warmup_s {
            (requests - warmup_requests) as f64 / (span_s - config.warmup_s)
        } else {
            0.0
        },
        late,
        max_lag_ms: max_lag * 1000.0,
        waited_for_slot: waited,
        peak_in_flight,
        latency_ms: Latency::of(&c.latency),
        response_ms: Latency::of(&c.response),
        intervals,
        bottlenecks,
        histogram: c.latency.clone(),
    })
}
