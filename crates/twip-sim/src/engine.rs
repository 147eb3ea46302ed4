//! One replication: the event loop on a virtual clock.
//!
//! Invariants:
//! * no allocation per event in steady state (the visit slab, the heap and the
//!   queues grow to their high-water mark and are reused);
//! * every visit slot carries a `stamp` that changes when the slot is freed,
//!   so events and replies for a request that was dropped (replica failure)
//!   are recognised as stale and ignored;
//! * statistics only count requests that arrived at or after the warm-up.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;
use rand::Rng;
use rand_distr::{Distribution, Exp1};
use rand_xoshiro::Xoshiro256PlusPlus;
use twip_model::{Balancer, Routing};

use crate::compile::Model;
use crate::heap::{Ev, Queue, CLASSES};
use crate::lc::LeastConn;

pub(crate) mod elastic;

pub(crate) use elastic::ElasticStats;

const NONE: u32 = u32::MAX;
/// The event-queue class of timers (failures, detection, warm-up).
const TIMER_CLASS: usize = CLASSES - 1;
/// Requests in the system past which a run whose arrival rate exceeds its
/// capacity stops as unstable (see [`Unstable`]): about 100 MB of requests.
pub(crate) const IN_SYSTEM_BOUND: f64 = 1_000_000.0;
/// Requests in the system past which a run stops whatever its rates: the
/// memory bound (about 1 GB of requests).
pub(crate) const IN_SYSTEM_HARD_BOUND: f64 = 8.0 * IN_SYSTEM_BOUND;

/// The top of the latency histograms (µs): the run's whole duration, so no
/// latency is ever capped (a request cannot take longer than the run).
/// Only the number of the histograms' buckets depends on it (one per
/// doubling): a day costs 28 buckets of 1024 counts at 3 digits, an hour 23.
pub(crate) fn hist_max_us(m: &Model) -> u64 {
    ((m.end.max(1.0) * 1e6).ceil() as u64).clamp(2, u64::MAX / 4)
}

// Event kinds (top 4 bits of the payload).
const EV_DONE: u64 = 0; // own service time finished: a = visit, b = stamp
const EV_FAIL_START: u64 = 1; // a = failure index
const EV_FAIL_END: u64 = 2; // a = failure index
const EV_DETECT: u64 = 3; // a = replica, b = incarnation
const EV_REJOIN: u64 = 4; // a = replica, b = incarnation
const EV_WARMUP: u64 = 5;
const EV_MEASURE_END: u64 = 6;
// Elastic capacity (see `elastic.rs`).
const EV_TICK: u64 = 7; // the controllers look
const EV_READY: u64 = 8; // a = replica, b = incarnation: healthy, joins rotation
const EV_DRAIN_END: u64 = 9; // a = replica, b = incarnation
const EV_NODE_READY: u64 = 10; // a = node
const EV_SCHEDULE: u64 = 11; // a = service, b = action
const EV_CONNECT_FAIL: u64 = 12; // a = visit (connecting), b = stamp
const EV_PASSIVE_BACK: u64 = 13; // a = replica, b = generation: tried again

/// The stretch of simulated time one run covers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// Simulated time at which the run starts (empty system).
    pub start: f64,
    /// Requests arriving in `[measure_from, measure_to)` are counted.
    pub measure_from: f64,
    pub measure_to: f64,
    /// The run stops here (after `measure_to` for draining).
    pub stop: f64,
}

#[inline(always)]
fn pack(kind: u64, a: u32, b: u32) -> u64 {
    (kind << 60) | ((a as u64) << 32) | b as u64
}

#[derive(Clone, Copy)]
struct Visit {
    parent: u32,
    parent_stamp: u32,
    stamp: u32,
    svc: u32,
    replica: u32,
    next_call: u32,
    /// Replicas tried before this one (an nginx upstream's retries).
    tries: u32,
    holds_worker: bool,
    live: bool,
    /// Connecting to a dead replica: no worker, not in `inflight`.
    connecting: bool,
    arrive: f64,
}

struct Replica {
    busy: u32,
    /// Visits alive on this replica (queued, in service, or waiting on a call).
    inflight: u32,
    queue: VecDeque<u32>,
    down: u32,
    in_rotation: bool,
    incarnation: u32,
    /// Connections to it under way (least connections counts them).
    connecting: u32,
    /// Passive failure detection (an nginx upstream): failed connections
    /// since `fail_since`, left out of the balancing, tried again by the
    /// next request only, and the generation of its `EV_PASSIVE_BACK`.
    fails: u32,
    fail_since: f64,
    passive_out: bool,
    probing: bool,
    passive_gen: u32,
}

impl Replica {
    /// In the balancer's rotation and not left out by passive detection.
    #[inline(always)]
    fn routable(&self) -> bool {
        self.in_rotation && !self.passive_out
    }
}

/// Statistics of one service.
#[derive(Debug, Clone, Default)]
pub(crate) struct SvcStats {
    pub completed: u64,
    pub rejected: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub connect_failures: u64,
    pub started: u64,
    pub wait_sum: f64,
    pub service_sum: f64,
    pub busy_area: f64,
    /// Busy workers now (a whole number; kept as `f64` so the area update
    /// needs no integer conversion).
    busy_now: f64,
    busy_since: f64,
}

/// Per time-bucket statistics (over the measured window).
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub arrivals: u64,
    pub completed: u64,
    pub errors: u64,
    pub latency_sum: f64,
    pub hist: Histogram<u32>,
}

/// What one replication measured.
pub(crate) struct RunStats {
    pub events: u64,
    pub requests: u64,
    pub completed: u64,
    pub errors: u64,
    pub latency_sum: f64,
    /// Latency of ten consecutive batches of the measured window (3 digits);
    /// merged they give the run's distribution, apart they give batch means.
    /// `u32` counts (a batch never holds 4 billion requests in one bucket):
    /// half the memory to allocate, clear and merge, and to miss in cache.
    pub batches: Vec<Histogram<u32>>,
    pub svcs: Vec<SvcStats>,
    pub buckets: Vec<Bucket>,
    pub bucket_s: f64,
    pub in_system_area: f64,
    pub failure_errors: Vec<u64>,
    /// What elastic capacity did (elastic scenarios only).
    pub elastic: Option<ElasticStats>,
    /// Measured requests still in the system when the run ended.
    pub unfinished: Unfinished,
    /// Set when the run stopped early because its queue grew without bound.
    pub unstable: Option<Unstable>,
    /// Measured time simulated (s): the window, or up to an unstable stop.
    pub measured_s: f64,
    /// When and why the placement policy failed (the run stopped there).
    pub placement_error: Option<(f64, String)>,
}

/// Requests that arrived in the measured window and were still in the
/// system when the run ended: their latency is more than their age.
#[derive(Debug, Clone, Default)]
pub(crate) struct Unfinished {
    pub count: u64,
    pub age_sum: f64,
    pub oldest: f64,
    /// Their ages (µs), same bounds as the batches; only when `count > 0`.
    pub ages: Option<Histogram<u32>>,
}

/// Why a run stopped before its end: more than [`IN_SYSTEM_BOUND`]
/// requests in the system while the arrival rate exceeded the capacity of
/// the bottleneck service (replicas in rotation × workers ÷ (visits × mean
/// holding time), an upper bound: queueing for downstream calls only
/// lowers it), or more than [`IN_SYSTEM_HARD_BOUND`] whatever the rates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unstable {
    pub at: f64,
    pub in_system: u64,
    pub arrival_rps: f64,
    pub capacity_rps: f64,
}

/// Latencies buffered before they go into a histogram.
const LAT_BUF: usize = 1024;

/// Batches for batch-means confidence intervals.
pub(crate) const BATCHES: usize = 10;

impl RunStats {
    /// The latency distribution of the whole measured window.
    pub(crate) fn hist(&self) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, self.batches[0].high(), 3)
            .expect("valid histogram bounds");
        for b in &self.batches {
            for v in b.iter_recorded() {
                // Same bounds and precision: the value lands in its own bucket.
                h.saturating_record_n(v.value_iterated_to(), v.count_at_value() as u64);
            }
        }
        h
    }

    /// Adds the statistics of a run over another window of the same replication.
    pub(crate) fn merge(&mut self, o: RunStats) {
        self.events += o.events;
        self.requests += o.requests;
        self.completed += o.completed;
        self.errors += o.errors;
        self.latency_sum += o.latency_sum;
        for (a, b) in self.batches.iter_mut().zip(&o.batches) {
            a.add(b).ok();
        }
        for (a, b) in self.svcs.iter_mut().zip(o.svcs) {
            a.completed += b.completed;
            a.rejected += b.rejected;
            a.failed += b.failed;
            a.timed_out += b.timed_out;
            a.connect_failures += b.connect_failures;
            a.started += b.started;
            a.wait_sum += b.wait_sum;
            a.service_sum += b.service_sum;
            a.busy_area += b.busy_area;
        }
        for (a, b) in self.buckets.iter_mut().zip(o.buckets) {
            a.arrivals += b.arrivals;
            a.completed += b.completed;
            a.errors += b.errors;
            a.latency_sum += b.latency_sum;
            a.hist.add(&b.hist).ok();
        }
        self.in_system_area += o.in_system_area;
        for (a, b) in self.failure_errors.iter_mut().zip(o.failure_errors) {
            *a += b;
        }
        let (u, v) = (&mut self.unfinished, o.unfinished);
        u.count += v.count;
        u.age_sum += v.age_sum;
        u.oldest = u.oldest.max(v.oldest);
        match (&mut u.ages, v.ages) {
            (Some(a), Some(b)) => {
                a.add(&b).ok();
            }
            (a @ None, b) => *a = b,
            (Some(_), None) => {}
        }
        self.measured_s += o.measured_s;
        if let Some(x) = o.unstable {
            if self.unstable.is_none_or(|y| x.at < y.at) {
                self.unstable = Some(x);
            }
        }
    }
}

pub(crate) struct Run<'m> {
    m: &'m Model,
    rng: Xoshiro256PlusPlus,
    now: f64,
    queue: Queue,
    /// The queue class of each service's completions (timers: the last class).
    class_of: Vec<usize>,
    visits: Vec<Visit>,
    free: Vec<u32>,
    reps: Vec<Replica>,
    rotation: Vec<Vec<u32>>,
    rr: Vec<u32>,
    measuring: bool,
    /// Requests in the system now (a whole number, as `f64`).
    in_system: f64,
    in_system_since: f64,
    active_failures: Vec<bool>,
    w: Window,
    lc: LeastConn,
    timeline: bool,
    /// `1 / s.bucket_s`.
    inv_bucket_s: f64,
    /// The batch of each time bucket.
    batch_of: Vec<u8>,
    s: RunStats,
    /// Latencies (µs) of completed requests not yet in `s.batches`, all of
    /// batch `lat_batch` (see `flush_latencies`).
    lat_buf: Vec<u64>,
    lat_batch: usize,
    /// [`hist_max_us`].
    hist_max: u64,
    progress: Option<&'m AtomicU64>,
    /// Elastic capacity's state (elastic scenarios only).
    el: Option<Box<elastic::State>>,
}

impl<'m> Run<'m> {
    pub(crate) fn new(
        m: &'m Model,
        rng: Xoshiro256PlusPlus,
        buckets: usize,
        timeline: bool,
        w: Window,
        progress: Option<&'m AtomicU64>,
    ) -> Run<'m> {
        // The services with the shortest mean service times get event
        // classes of their own; the rest share one; timers have the last.
        let mut by_mean: Vec<usize> = (0..m.svcs.len()).collect();
        by_mean.sort_by(|&a, &b| m.svcs[a].mean_s.total_cmp(&m.svcs[b].mean_s));
        let mut class_of = vec![0; m.svcs.len()];
        for (rank, &s) in by_mean.iter().enumerate() {
            class_of[s] = rank.min(TIMER_CLASS - 1);
        }
        let reps = m
            .replica_svc
            .iter()
            .map(|_| Replica {
                busy: 0,
                inflight: 0,
                queue: VecDeque::new(),
                down: 0,
                in_rotation: true,
                incarnation: 0,
                connecting: 0,
                fails: 0,
                fail_since: f64::NEG_INFINITY,
                passive_out: false,
                probing: false,
                passive_gen: 0,
            })
            .collect();
        let rotation = m
            .svcs
            .iter()
            .map(|s| (s.first_replica..s.first_replica + s.replicas).collect())
            .collect();
        let measured = (m.end - m.warmup).max(1e-9);
        let bucket_s = measured / buckets.max(1) as f64;
        let bucket = Bucket {
            arrivals: 0,
            completed: 0,
            errors: 0,
            latency_sum: 0.0,
            // Per-interval distributions only for a timeline: a full-range
            // histogram per interval is 100 allocations to fill and fault in.
            hist: if timeline {
                Histogram::new_with_bounds(1, hist_max_us(m), 2)
            } else {
                Histogram::new_with_bounds(1, 2, 0)
            }
            .expect("valid histogram bounds"),
        };
        Run {
            m,
            rng,
            now: w.start,
            queue: Queue::new(),
            class_of,
            visits: Vec::with_capacity(1024),
            free: Vec::with_capacity(1024),
            reps,
            rotation,
            rr: vec![0; m.svcs.len()],
            measuring: w.measure_from <= w.start,
            in_system: 0.0,
            in_system_since: w.measure_from,
            active_failures: vec![false; m.failures.len()],
            w,
            lc: LeastConn::new(m.replica_svc.len(), m.svcs.len()),
            timeline,
            inv_bucket_s: 1.0 / bucket_s,
            batch_of: (0..buckets.max(1))
                .map(|k| (k * BATCHES / buckets.max(1)) as u8)
                .collect(),
            s: RunStats {
                events: 0,
                requests: 0,
                completed: 0,
                errors: 0,
                latency_sum: 0.0,
                batches: vec![
                    Histogram::new_with_bounds(1, hist_max_us(m), 3)
                        .expect("valid histogram bounds");
                    BATCHES
                ],
                svcs: vec![SvcStats::default(); m.svcs.len()],
                buckets: vec![bucket; buckets.max(1)],
                bucket_s,
                in_system_area: 0.0,
                failure_errors: vec![0; m.failures.len()],
                elastic: None,
                unfinished: Unfinished::default(),
                unstable: None,
                measured_s: 0.0,
                placement_error: None,
            },
            lat_buf: Vec::with_capacity(LAT_BUF),
            lat_batch: 0,
            hist_max: hist_max_us(m),
            progress,
            el: None,
        }
    }

    /// Re-lists replica `r` at its load, for least-connections balancing.
    #[inline(always)]
    fn lc_sync(&mut self, r: u32) {
        let svc = self.m.replica_svc[r as usize] as usize;
        if self.m.svcs[svc].balancer == Balancer::LeastConnections
            && self.reps[r as usize].routable()
        {
            let rep = &self.reps[r as usize];
            self.lc.set(
                svc,
                r,
                rep.busy as usize + rep.queue.len() + rep.connecting as usize,
            );
        }
    }

    /// Schedules a timer (anything but a service completion).
    #[inline(always)]
    fn schedule(&mut self, t: f64, payload: u64) {
        self.queue.push(
            TIMER_CLASS,
            Ev {
                t: t.to_bits(),
                payload,
            },
        );
    }

    /// Runs through the window and returns the statistics.
    pub(crate) fn run(mut self) -> RunStats {
        let w = self.w;
        if self.m.elastic.is_some() {
            self.elastic_start();
        }
        for svc in 0..self.m.svcs.len() as u32 {
            self.rebuild_rotation(svc);
        }
        for (i, f) in self.m.failures.iter().enumerate() {
            // A failure that began before the window is replayed at its start;
            // the window's warm-up covers its detection.
            if f.end.is_some_and(|e| e <= w.start) {
                continue;
            }
            self.schedule(f.at.max(w.start), pack(EV_FAIL_START, i as u32, 0));
            if let Some(e) = f.end {
                self.schedule(e, pack(EV_FAIL_END, i as u32, 0));
            }
        }
        if w.measure_from > w.start {
            self.schedule(w.measure_from, pack(EV_WARMUP, 0, 0));
        }
        if w.measure_to < w.stop {
            self.schedule(w.measure_to, pack(EV_MEASURE_END, 0, 0));
        }
        let mut next_arrival = self.next_arrival(w.start);
        let mut events: u64 = 0;
        let mut reported = w.start * 1e3;
        loop {
            let (class, next_ev) = match self.queue.peek() {
                Some((c, t)) => (c, f64::from_bits(t)),
                None => (0, f64::INFINITY),
            };
            if next_arrival <= next_ev {
                if next_arrival >= w.stop {
                    break;
                }
                self.now = next_arrival;
                self.external_arrival();
                next_arrival = self.next_arrival(next_arrival);
            } else {
                if next_ev >= w.stop {
                    break;
                }
                let ev = self.queue.pop(class).expect("peeked");
                self.now = next_ev;
                self.dispatch(ev.payload);
            }
            events += 1;
            if events & 0xFFFF == 0 {
                if let Some(p) = self.progress {
                    let ms = self.now * 1e3;
                    p.fetch_add((ms - reported) as u64, Ordering::Relaxed);
                    reported = ms;
                }
                if self.in_system > IN_SYSTEM_BOUND {
                    self.s.unstable = self.unstable();
                    if self.s.unstable.is_some() {
                        break;
                    }
                }
                // The run's result is an error: no point going on.
                if self.s.placement_error.is_some() {
                    break;
                }
            }
        }
        if let Some(p) = self.progress {
            p.fetch_add((w.stop * 1e3 - reported).max(0.0) as u64, Ordering::Relaxed);
        }
        let end = match self.s.unstable {
            Some(u) => u.at,
            None => w.stop,
        };
        self.unfinished(end);
        self.s.measured_s = (end.min(w.measure_to) - w.measure_from).max(0.0);
        self.now = end.min(w.measure_to);
        self.flush_areas();
        self.flush_latencies();
        self.s.events = events;
        if self.el.is_some() {
            self.s.elastic = Some(self.elastic_finish());
        }
        self.s
    }

    /// Whether the run must stop now, with more than [`IN_SYSTEM_BOUND`]
    /// requests in the system (see [`Unstable`]).
    fn unstable(&self) -> Option<Unstable> {
        let m = self.m;
        let n = m.svcs.len();
        // Visits per entry request (the call graph is acyclic: n passes).
        let mut visits = vec![0.0; n];
        for _ in 0..=n {
            let mut next = vec![0.0; n];
            next[m.entry as usize] = 1.0;
            for (i, sv) in m.svcs.iter().enumerate() {
                for &(to, p) in &sv.calls {
                    next[to as usize] += visits[i] * p;
                }
            }
            visits = next;
        }
        // Response time without queueing, callees first (n passes again).
        let mut response = vec![0.0; n];
        for _ in 0..=n {
            for (i, sv) in m.svcs.iter().enumerate() {
                let calls: f64 = sv
                    .calls
                    .iter()
                    .map(|&(to, p)| p * response[to as usize])
                    .sum();
                response[i] = sv.mean_s + calls;
            }
        }
        let capacity_rps = m
            .svcs
            .iter()
            .enumerate()
            .filter(|&(i, _)| visits[i] > 0.0)
            .map(|(i, sv)| {
                let up = self.rotation[i]
                    .iter()
                    .filter(|&&r| self.reps[r as usize].down == 0)
                    .count();
                let holding = if sv.async_calls {
                    sv.mean_s
                } else {
                    response[i]
                };
                up as f64 * f64::from(sv.workers) / (visits[i] * holding)
            })
            .fold(f64::INFINITY, f64::min);
        let a = &m.arrivals;
        let arrival_rps = a.constant.unwrap_or_else(|| a.rate_at(self.now));
        (arrival_rps > capacity_rps || self.in_system > IN_SYSTEM_HARD_BOUND).then_some(Unstable {
            at: self.now,
            in_system: self.in_system as u64,
            arrival_rps,
            capacity_rps,
        })
    }

    /// Counts the measured requests still in the system at `end`, with their ages.
    fn unfinished(&mut self, end: f64) {
        let (from, to) = (self.w.measure_from, self.w.measure_to);
        let high = self.hist_max;
        let u = &mut self.s.unfinished;
        for x in &self.visits {
            if !x.live || x.parent != NONE || x.arrive < from || x.arrive >= to {
                continue;
            }
            let age = end - x.arrive;
            u.count += 1;
            u.age_sum += age;
            u.oldest = u.oldest.max(age);
            u.ages
                .get_or_insert_with(|| {
                    Histogram::new_with_bounds(1, high, 3).expect("valid histogram bounds")
                })
                .saturating_record(((age * 1e6) as u64).clamp(1, high));
        }
    }

    /// Records the buffered latencies into their batch's histogram. In one
    /// tight loop the histogram's cache misses overlap; recorded one at a
    /// time between events, each stalled the event loop.
    fn flush_latencies(&mut self) {
        let h = &mut self.s.batches[self.lat_batch];
        for &us in &self.lat_buf {
            h.saturating_record(us);
        }
        self.lat_buf.clear();
    }

    fn flush_areas(&mut self) {
        if !self.measuring {
            return;
        }
        for st in &mut self.s.svcs {
            st.busy_area += st.busy_now * (self.now - st.busy_since);
            st.busy_since = self.now;
        }
        self.s.in_system_area += self.in_system * (self.now - self.in_system_since);
        self.in_system_since = self.now;
    }

    /// The next external arrival after `t` (thinning against piecewise bounds).
    fn next_arrival(&mut self, mut t: f64) -> f64 {
        let a = &self.m.arrivals;
        if let Some(rate) = a.constant {
            if rate <= 0.0 {
                return f64::INFINITY;
            }
            let e: f64 = Exp1.sample(&mut self.rng);
            // Multiplied by the precomputed inverse: the division was ≈4 %
            // of all cycles of an M/M/c run.
            return t + e * a.bounds[0].1;
        }
        loop {
            let k = (t * a.inv_bucket_s) as u32 as usize;
            if k >= a.bounds.len() {
                return f64::INFINITY;
            }
            let (lam, inv_lam) = a.bounds[k];
            let bucket_end = (k + 1) as f64 * a.bucket_s;
            if lam <= 0.0 {
                t = bucket_end;
                continue;
            }
            let e: f64 = Exp1.sample(&mut self.rng);
            let cand = t + e * inv_lam;
            if cand >= bucket_end {
                t = bucket_end;
                continue;
            }
            t = cand;
            let u: f64 = self.rng.random();
            if u * lam <= self.m.arrivals.rate_at(t) {
                return t;
            }
        }
    }

    fn bucket_of(&self, t: f64) -> Option<usize> {
        if t < self.m.warmup {
            return None;
        }
        let k = ((t - self.m.warmup) * self.inv_bucket_s) as u32 as usize;
        Some(k.min(self.s.buckets.len() - 1))
    }

    fn set_in_system(&mut self, delta: f64) {
        if self.measuring {
            self.s.in_system_area += self.in_system * (self.now - self.in_system_since);
            self.in_system_since = self.now;
        }
        self.in_system += delta;
    }

    fn external_arrival(&mut self) {
        if self.now >= self.w.measure_from && self.now < self.w.measure_to {
            self.s.requests += 1;
            if let Some(k) = self.bucket_of(self.now) {
                self.s.buckets[k].arrivals += 1;
            }
        }
        self.set_in_system(1.0);
        let entry = self.m.entry;
        self.arrive(entry, NONE, 0);
    }

    fn alloc(&mut self, v: Visit) -> u32 {
        if let Some(i) = self.free.pop() {
            let stamp = self.visits[i as usize].stamp;
            self.visits[i as usize] = Visit { stamp, ..v };
            i
        } else {
            self.visits.push(v);
            (self.visits.len() - 1) as u32
        }
    }

    fn release_slot(&mut self, v: u32) {
        let x = &mut self.visits[v as usize];
        x.live = false;
        x.stamp = x.stamp.wrapping_add(1);
        let (svc, r) = (x.svc, x.replica);
        self.free.push(v);
        self.reps[r as usize].inflight -= 1;
        if let Some(e) = self.el.as_deref_mut() {
            e.inflight_change(svc, self.now, -1.0);
        }
    }

    /// Picks a replica of `svc` among those in rotation.
    fn pick(&mut self, svc: u32) -> u32 {
        let rot = &self.rotation[svc as usize];
        match rot.len() {
            0 => NONE,
            1 => rot[0],
            n => match self.m.svcs[svc as usize].balancer {
                Balancer::RoundRobin => {
                    let c = &mut self.rr[svc as usize];
                    *c = if *c as usize + 1 >= n { 0 } else { *c + 1 };
                    rot[*c as usize]
                }
                Balancer::Random => rot[self.rng.random_range(0..n)],
                Balancer::LeastConnections => self.lc.pick(svc as usize),
            },
        }
    }

    /// A request (from the outside, or a call from visit `parent`) reaches `svc`.
    #[inline(always)]
    fn arrive(&mut self, svc: u32, parent: u32, parent_stamp: u32) {
        if let Some(e) = self.el.as_deref_mut() {
            e.arrivals[svc as usize] += 1;
        }
        self.attempt(svc, parent, parent_stamp, 0, NONE);
    }

    /// Sends a request to a replica of `svc`: the first try, or the retry
    /// of an nginx upstream after `tries` failed connections, the last to
    /// replica `skip`.
    fn attempt(&mut self, svc: u32, parent: u32, parent_stamp: u32, tries: u32, skip: u32) {
        let mut r = self.pick(svc);
        if r == skip && r != NONE {
            // nginx tries each server once per request: the next one.
            let rot = &self.rotation[svc as usize];
            if let Some(i) = rot.iter().position(|&x| x == r) {
                r = rot[(i + 1) % rot.len()];
            }
        }
        let sv = &self.m.svcs[svc as usize];
        if r == NONE {
            self.count_svc_error(svc, |s| &mut s.rejected);
            self.reply(parent, parent_stamp, false);
            return;
        }
        // Behind nginx, nothing answers a dead replica: the connection
        // fails after its timeout (and is retried from `connect_failed`).
        let mut connect_timeout = None;
        if let Some(u) = sv.upstream {
            if self.reps[r as usize].probing {
                // Tried again after fail_timeout: this request alone.
                self.probe(r);
            }
            if self.reps[r as usize].down > 0 {
                connect_timeout = Some(u.connect_timeout_s);
            }
        }
        let rep = &self.reps[r as usize];
        let free_worker = rep.busy < sv.workers;
        if connect_timeout.is_none() {
            if rep.down > 0 {
                // Still in rotation: the balancer has not noticed yet.
                self.count_svc_error(svc, |s| &mut s.failed);
                self.note_failure_error(r);
                self.reply(parent, parent_stamp, false);
                return;
            }
            if !free_worker && rep.queue.len() as u32 >= sv.queue_limit {
                self.count_svc_error(svc, |s| &mut s.rejected);
                self.reply(parent, parent_stamp, false);
                return;
            }
        }
        let v = self.alloc(Visit {
            parent,
            parent_stamp,
            stamp: 0,
            svc,
            replica: r,
            next_call: 0,
            tries,
            holds_worker: false,
            live: true,
            connecting: connect_timeout.is_some(),
            arrive: self.now,
        });
        if let Some(t) = connect_timeout {
            self.reps[r as usize].connecting += 1;
            self.lc_sync(r);
            let stamp = self.visits[v as usize].stamp;
            self.schedule(self.now + t, pack(EV_CONNECT_FAIL, v, stamp));
            return;
        }
        self.reps[r as usize].inflight += 1;
        if let Some(e) = self.el.as_deref_mut() {
            e.inflight_change(svc, self.now, 1.0);
        }
        if free_worker {
            self.start(v);
        } else {
            self.reps[r as usize].queue.push_back(v);
        }
        self.lc_sync(r);
    }

    fn count_svc_error(&mut self, svc: u32, f: impl FnOnce(&mut SvcStats) -> &mut u64) {
        if self.measuring {
            *f(&mut self.s.svcs[svc as usize]) += 1;
        }
    }

    fn note_failure_error(&mut self, replica: u32) {
        if !self.measuring {
            return;
        }
        if let Some(e) = self.el.as_deref() {
            if let Some(i) = e.killed_by(replica) {
                self.s.failure_errors[i] += 1;
            }
            return;
        }
        for (i, f) in self.m.failures.iter().enumerate() {
            if self.active_failures[i] && f.replicas.contains(&replica) {
                self.s.failure_errors[i] += 1;
                return;
            }
        }
    }

    fn change_busy(&mut self, svc: u32, delta: f64) {
        let measuring = self.measuring;
        let now = self.now;
        let st = &mut self.s.svcs[svc as usize];
        if measuring {
            st.busy_area += st.busy_now * (now - st.busy_since);
            st.busy_since = now;
        }
        st.busy_now += delta;
        if let Some(e) = self.el.as_deref_mut() {
            e.busy_change(svc, now, delta);
        }
    }

    /// Visit `v` gets a worker and starts its own service.
    fn start(&mut self, v: u32) {
        let x = self.visits[v as usize];
        let sv = &self.m.svcs[x.svc as usize];
        let st = sv.sampler.sample(&mut self.rng);
        self.reps[x.replica as usize].busy += 1;
        self.change_busy(x.svc, 1.0);
        if self.measuring {
            let s = &mut self.s.svcs[x.svc as usize];
            s.started += 1;
            s.wait_sum += self.now - x.arrive;
            s.service_sum += st;
        }
        self.visits[v as usize].holds_worker = true;
        let class = self.class_of[x.svc as usize];
        self.queue.push(
            class,
            Ev {
                t: (self.now + st).to_bits(),
                payload: pack(EV_DONE, v, x.stamp),
            },
        );
    }

    /// Frees a worker of replica `r` and hands it to the next queued visit.
    fn free_worker(&mut self, r: u32) {
        let svc = self.m.replica_svc[r as usize];
        self.reps[r as usize].busy -= 1;
        self.change_busy(svc, -1.0);
        let timeout = self.m.svcs[svc as usize].timeout;
        while let Some(next) = self.reps[r as usize].queue.pop_front() {
            let x = self.visits[next as usize];
            if self.now - x.arrive > timeout {
                // The client gave up while it waited.
                self.count_svc_error(svc, |s| &mut s.timed_out);
                self.finish(next, false);
                continue;
            }
            self.start(next);
            break;
        }
        self.lc_sync(r);
    }

    fn dispatch(&mut self, payload: u64) {
        let kind = payload >> 60;
        let a = ((payload >> 32) & 0x0FFF_FFFF) as u32;
        let b = payload as u32;
        match kind {
            EV_DONE => {
                let x = self.visits[a as usize];
                if !x.live || x.stamp != b {
                    return; // dropped by a failure
                }
                if self.m.svcs[x.svc as usize].async_calls {
                    self.visits[a as usize].holds_worker = false;
                    self.free_worker(x.replica);
                }
                self.next_call(a);
            }
            EV_CONNECT_FAIL => self.connect_failed(a, b),
            EV_PASSIVE_BACK => {
                let rep = &mut self.reps[a as usize];
                if rep.passive_gen == b && rep.passive_out {
                    rep.passive_out = false;
                    rep.probing = true;
                    self.rebuild_rotation(self.m.replica_svc[a as usize]);
                }
            }
            EV_FAIL_START if self.el.is_some() => self.elastic_fail_start(a as usize),
            EV_FAIL_END if self.el.is_some() => self.elastic_fail_end(a as usize),
            EV_DETECT if self.el.is_some() => self.elastic_detect(a, b),
            EV_TICK => self.elastic_tick(),
            EV_READY => self.elastic_ready(a, b),
            EV_DRAIN_END => self.elastic_drain_end(a, b),
            EV_NODE_READY => self.elastic_node_ready(a),
            EV_SCHEDULE => self.elastic_schedule(a, b),
            EV_FAIL_START => self.fail_start(a as usize),
            EV_FAIL_END => self.fail_end(a as usize),
            EV_DETECT => {
                let rep = &mut self.reps[a as usize];
                if rep.incarnation == b && rep.down > 0 && rep.in_rotation {
                    rep.in_rotation = false;
                    self.passive_reset(a);
                    self.rebuild_rotation(self.m.replica_svc[a as usize]);
                }
            }
            EV_REJOIN => {
                let rep = &mut self.reps[a as usize];
                if rep.incarnation == b && rep.down == 0 && !rep.in_rotation {
                    rep.in_rotation = true;
                    self.passive_reset(a);
                    self.rebuild_rotation(self.m.replica_svc[a as usize]);
                }
            }
            EV_WARMUP => {
                if self.el.is_some() {
                    self.elastic_warm();
                }
                self.measuring = true;
                for st in &mut self.s.svcs {
                    st.busy_since = self.now;
                }
                self.in_system_since = self.now;
            }
            EV_MEASURE_END => {
                self.flush_areas();
                self.measuring = false;
            }
            _ => unreachable!("unknown event kind {kind}"),
        }
    }

    /// Makes the next downstream call of `v`, or finishes it.
    fn next_call(&mut self, v: u32) {
        let x = self.visits[v as usize];
        let sv = &self.m.svcs[x.svc as usize];
        let mut k = x.next_call as usize;
        let target = match sv.routing {
            Routing::All => loop {
                if k >= sv.calls.len() {
                    break NONE;
                }
                let (to, p) = sv.calls[k];
                k += 1;
                if p >= 1.0 || self.rng.random::<f64>() < p {
                    break to;
                }
            },
            Routing::One => {
                if k > 0 || sv.calls.is_empty() {
                    NONE
                } else {
                    k = sv.calls.len();
                    let mut u: f64 = self.rng.random();
                    let mut pick = NONE;
                    for &(to, p) in &sv.calls {
                        if u < p {
                            pick = to;
                            break;
                        }
                        u -= p;
                    }
                    pick
                }
            }
        };
        if target == NONE {
            self.finish(v, true);
        } else {
            self.visits[v as usize].next_call = k as u32;
            self.arrive(target, v, x.stamp);
        }
    }

    /// A call made by `parent` came back.
    fn reply(&mut self, parent: u32, stamp: u32, ok: bool) {
        if parent == NONE {
            // The external request failed before it got a visit.
            debug_assert!(!ok);
            self.root_done(self.now, false);
            return;
        }
        let p = self.visits[parent as usize];
        if !p.live || p.stamp != stamp {
            return; // the caller was dropped meanwhile
        }
        if ok {
            self.next_call(parent);
        } else {
            self.finish(parent, false);
        }
    }

    /// Visit `v` is over (successfully or not): free its worker and slot, answer its caller.
    fn finish(&mut self, v: u32, mut ok: bool) {
        let x = self.visits[v as usize];
        let sv = &self.m.svcs[x.svc as usize];
        if ok && self.now - x.arrive > sv.timeout {
            ok = false;
            self.count_svc_error(x.svc, |s| &mut s.timed_out);
        } else if ok {
            self.count_svc_error(x.svc, |s| &mut s.completed);
        }
        self.release_slot(v);
        if x.holds_worker {
            self.free_worker(x.replica);
        }
        if self.el.is_some() {
            self.elastic_drained(x.replica);
        }
        if x.parent == NONE {
            self.root_done(x.arrive, ok);
        } else {
            self.reply(x.parent, x.parent_stamp, ok);
        }
    }

    fn root_done(&mut self, arrived: f64, ok: bool) {
        self.set_in_system(-1.0);
        if arrived < self.w.measure_from || arrived >= self.w.measure_to {
            return;
        }
        let k = self.bucket_of(self.now);
        if ok {
            let lat = self.now - arrived;
            let us = ((lat * 1e6) as u64).clamp(1, self.hist_max);
            self.s.completed += 1;
            self.s.latency_sum += lat;
            let batch = self.batch_of[k.unwrap_or(0)] as usize;
            if batch != self.lat_batch || self.lat_buf.len() == LAT_BUF {
                self.flush_latencies();
                self.lat_batch = batch;
            }
            self.lat_buf.push(us);
            if let Some(k) = k {
                let b = &mut self.s.buckets[k];
                b.completed += 1;
                b.latency_sum += lat;
                if self.timeline {
                    b.hist.saturating_record(us);
                }
            }
        } else {
            self.s.errors += 1;
            if let Some(k) = k {
                self.s.buckets[k].errors += 1;
            }
        }
    }

    /// A connection to a dead replica timed out: count the failure (and
    /// leave the replica out after `max_fails`), then retry on another
    /// replica or fail the call.
    fn connect_failed(&mut self, v: u32, stamp: u32) {
        let x = self.visits[v as usize];
        if !x.live || x.stamp != stamp {
            return; // its caller was dropped meanwhile
        }
        let (svc, r) = (x.svc, x.replica);
        let u = self.m.svcs[svc as usize].upstream.expect("an upstream");
        let vx = &mut self.visits[v as usize];
        vx.live = false;
        vx.stamp = vx.stamp.wrapping_add(1);
        self.free.push(v);
        self.reps[r as usize].connecting -= 1;
        self.lc_sync(r);
        self.count_svc_error(svc, |s| &mut s.connect_failures);
        self.upstream_failed(x, u);
    }

    /// Visit `x` failed on its (dead) replica behind an nginx upstream `u`:
    /// the failure counts towards `max_fails`, then the request is retried
    /// on the next replica or fails its caller.
    fn upstream_failed(&mut self, x: Visit, u: twip_model::Upstream) {
        let (svc, r) = (x.svc, x.replica);
        // Replaced or back meanwhile: nothing to hold against it.
        if self.reps[r as usize].down > 0 && u.max_fails > 0 {
            let now = self.now;
            let rep = &mut self.reps[r as usize];
            if now - rep.fail_since > u.fail_timeout_s {
                rep.fails = 0;
                rep.fail_since = now;
            }
            rep.fails += 1;
            if rep.fails >= u.max_fails {
                // nginx ignores max_fails for a lone server.
                let lone = !rep.passive_out && self.rotation[svc as usize].len() <= 1;
                if !lone {
                    let gen = if rep.passive_out {
                        rep.passive_gen = rep.passive_gen.wrapping_add(1);
                        rep.passive_gen
                    } else {
                        self.leave_out(r)
                    };
                    self.schedule(now + u.fail_timeout_s, pack(EV_PASSIVE_BACK, r, gen));
                }
            }
        }
        // nginx tries every server of the upstream once: this one, and the
        // others in rotation or left out by passive detection.
        let sv = &self.m.svcs[svc as usize];
        let upstream = 1
            + (sv.first_replica..sv.first_replica + sv.replicas)
                .filter(|&q| q != r)
                .filter(|&q| self.reps[q as usize].in_rotation || self.reps[q as usize].passive_out)
                .count() as u32;
        if u.next_upstream && x.tries + 1 < upstream {
            self.attempt(svc, x.parent, x.parent_stamp, x.tries + 1, r);
        } else {
            self.count_svc_error(svc, |s| &mut s.failed);
            self.note_failure_error(r);
            self.reply(x.parent, x.parent_stamp, false);
        }
    }

    /// Replica `r`, back after `fail_timeout`, takes one request: the
    /// others skip it until that one's connection is answered.
    fn probe(&mut self, r: u32) {
        let rep = &mut self.reps[r as usize];
        rep.probing = false;
        if rep.down == 0 {
            rep.fails = 0; // alive: it answers
            return;
        }
        self.leave_out(r);
    }

    /// Leaves replica `r` out of the balancing (passive detection) and
    /// returns the generation its `EV_PASSIVE_BACK` must carry.
    fn leave_out(&mut self, r: u32) -> u32 {
        let rep = &mut self.reps[r as usize];
        rep.passive_out = true;
        rep.passive_gen = rep.passive_gen.wrapping_add(1);
        let gen = rep.passive_gen;
        self.rebuild_rotation(self.m.replica_svc[r as usize]);
        gen
    }

    /// A replica placed anew (elastic) or back from a failure starts with
    /// a clean passive record.
    pub(super) fn passive_reset(&mut self, r: u32) {
        let rep = &mut self.reps[r as usize];
        rep.passive_out = false;
        rep.probing = false;
        rep.fails = 0;
        rep.fail_since = f64::NEG_INFINITY;
        rep.passive_gen = rep.passive_gen.wrapping_add(1);
    }

    fn rebuild_rotation(&mut self, svc: u32) {
        let sv = &self.m.svcs[svc as usize];
        let rot = &mut self.rotation[svc as usize];
        rot.clear();
        for r in sv.first_replica..sv.first_replica + sv.replicas {
            if self.reps[r as usize].routable() {
                rot.push(r);
            }
        }
        let n = rot.len().max(1) as u32;
        self.rr[svc as usize] %= n;
        if sv.balancer == Balancer::LeastConnections {
            for r in sv.first_replica..sv.first_replica + sv.replicas {
                if self.reps[r as usize].routable() {
                    self.lc_sync(r);
                } else {
                    self.lc.remove(svc as usize, r);
                }
            }
        }
    }

    fn fail_start(&mut self, i: usize) {
        self.active_failures[i] = true;
        let f = &self.m.failures[i];
        for &r in &f.replicas {
            let rep = &mut self.reps[r as usize];
            rep.down += 1;
            if rep.down > 1 {
                continue;
            }
            rep.incarnation += 1;
            let inc = rep.incarnation;
            let svc = self.m.replica_svc[r as usize];
            self.kill_replica(r, Some(i));
            let detect = self.m.svcs[svc as usize].detect_s;
            self.schedule(self.now + detect, pack(EV_DETECT, r, inc));
        }
    }

    fn fail_end(&mut self, i: usize) {
        self.active_failures[i] = false;
        let f = &self.m.failures[i];
        for &r in &f.replicas {
            let rep = &mut self.reps[r as usize];
            rep.down -= 1;
            if rep.down > 0 {
                continue;
            }
            rep.incarnation += 1;
            if !rep.in_rotation {
                let inc = rep.incarnation;
                let svc = self.m.replica_svc[r as usize];
                let rejoin = self.m.svcs[svc as usize].rejoin_s;
                self.schedule(self.now + rejoin, pack(EV_REJOIN, r, inc));
            }
        }
    }

    /// Drops every request on replica `r` (in service, queued, or waiting on
    /// a call); behind an nginx upstream a failure's victims are retried on
    /// the next replica instead, each counting towards `max_fails`.
    fn kill_replica(&mut self, r: u32, failure: Option<usize>) {
        let svc = self.m.replica_svc[r as usize];
        let busy = self.reps[r as usize].busy;
        self.reps[r as usize].busy = 0;
        self.reps[r as usize].queue.clear();
        self.change_busy(svc, -(busy as f64));
        self.lc_sync(r);
        let victims: Vec<(u32, u32)> = (0..self.visits.len() as u32)
            .filter_map(|v| {
                let x = &self.visits[v as usize];
                (x.live && !x.connecting && x.replica == r).then_some((v, x.stamp))
            })
            .collect();
        for (v, stamp) in victims {
            let x = self.visits[v as usize];
            // A cascade of errors may already have ended it.
            if !x.live || x.stamp != stamp {
                continue;
            }
            self.visits[v as usize].holds_worker = false;
            if let (Some(u), Some(_)) = (self.m.svcs[svc as usize].upstream, failure) {
                // nginx reads a reset connection as an error of this server:
                // the request goes to the next one (`proxy_next_upstream
                // error`), or fails.
                self.release_slot(v);
                self.upstream_failed(x, u);
                continue;
            }
            if self.measuring {
                self.s.svcs[svc as usize].failed += 1;
                if let Some(i) = failure {
                    self.s.failure_errors[i] += 1;
                }
            }
            self.finish_dropped(v);
        }
    }

    fn finish_dropped(&mut self, v: u32) {
        let x = self.visits[v as usize];
        self.release_slot(v);
        if x.parent == NONE {
            self.root_done(x.arrive, false);
        } else {
            self.reply(x.parent, x.parent_stamp, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The histograms reach the run's whole duration at a logarithmic cost:
    /// a day's range costs 28,672 counts at 3 digits (112 KB in `u32`), an
    /// hour's 23,552 (92 KB), a 20-minute run's 22,528 (88 KB).
    #[test]
    fn histogram_range_costs_one_bucket_per_doubling() {
        let len = |high_s: f64, digits| {
            Histogram::<u32>::new_with_bounds(1, (high_s * 1e6) as u64, digits)
                .expect("valid bounds")
                .distinct_values()
        };
        assert_eq!(len(1200.0, 3), 22_528);
        assert_eq!(len(3600.0, 3), 23_552);
        assert_eq!(len(86_400.0, 3), 28_672);
        assert_eq!(len(86_400.0, 2), 3_968);
    }
}
