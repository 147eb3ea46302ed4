//! Analytic sizing: the peak arrival rate, the visits of every service, and
//! the smallest replica count queueing theory allows, before any simulation.

use crate::analytic::{erlang_c, mmck_blocking};
use twip_model::{Balancer, Scenario};

/// Largest utilisation the analytic minimum allows a service at the peak.
pub const RHO_MAX: f64 = 0.9;

/// What the analytic model says about a scenario at its peak.
#[derive(Debug, Clone)]
pub struct Sizing {
    /// Largest arrival rate at the entry (requests/s), spikes included.
    pub peak_rps: f64,
    /// When it happens (s of simulated time).
    pub peak_at_s: f64,
    /// Requests over one day (the scenario's, scaled to 24 h).
    pub daily_requests: f64,
    /// Expected visits of every service per entry request.
    pub visits: Vec<f64>,
    /// Mean time a worker is held per visit (s): own service time, plus the
    /// downstream calls' response times for synchronous callers.
    pub holding_s: Vec<f64>,
    /// Smallest replica count per service that keeps utilisation ≤
    /// [`RHO_MAX`], the queueing delay's p99 within budget and blocking rare.
    pub min_replicas: Vec<u32>,
    /// A lower bound of the end-to-end p99 (ms) with no queueing at all.
    pub p99_floor_ms: f64,
    /// The service that sets `p99_floor_ms`.
    pub p99_floor_service: usize,
}

/// Entry requests/s service `i` carries with `replicas` replicas, every
/// worker busy: replicas × workers ÷ (visits × holding time); infinite for a
/// service no request holds.
pub fn capacity_rps(s: &Scenario, z: &Sizing, i: usize, replicas: f64) -> f64 {
    let per_visit = z.visits[i] * z.holding_s[i];
    if per_visit <= 0.0 {
        f64::INFINITY
    } else {
        replicas * f64::from(s.services[i].workers) / per_visit
    }
}

/// The entry rate at which the first service on the entry path runs out of
/// workers with the scenario's replica counts, and that service: the
/// smallest [`capacity_rps`].
pub fn entry_capacity(s: &Scenario, z: &Sizing) -> (f64, usize) {
    (0..s.services.len())
        .map(|i| (capacity_rps(s, z, i, s.services[i].replicas as f64), i))
        .fold((f64::INFINITY, s.traffic.entry), |a, b| {
            if b.0 < a.0 {
                b
            } else {
                a
            }
        })
}

/// Services in an order where every caller comes before its callees.
pub fn topological(s: &Scenario) -> Vec<usize> {
    fn visit(i: usize, s: &Scenario, seen: &mut [bool], out: &mut Vec<usize>) {
        if seen[i] {
            return;
        }
        seen[i] = true;
        for c in &s.services[i].calls {
            visit(c.to, s, seen, out);
        }
        out.push(i);
    }
    let mut seen = vec![false; s.services.len()];
    let mut out = Vec::new();
    for i in 0..s.services.len() {
        visit(i, s, &mut seen, &mut out);
    }
    out.reverse();
    out
}

/// The largest total rate over the scenario's measured time and when it happens.
pub fn peak(s: &Scenario) -> (f64, f64) {
    let mut points: Vec<f64> = Vec::new();
    let step = 10.0;
    let mut t = s.warmup_s;
    while t < s.duration_s {
        points.push(t);
        t += step;
    }
    for sp in &s.traffic.spikes {
        for x in [sp.at_s, sp.at_s + 1e-6, sp.at_s + sp.duration_s - 1e-6] {
            if x >= 0.0 && x < s.duration_s {
                points.push(x);
            }
        }
    }
    let mut best = (0.0, s.warmup_s);
    for p in points {
        let r = s.rate_at(p);
        if r > best.0 {
            best = (r, p);
        }
    }
    // Refine around the best grid point (a sinusoid's maximum lies between).
    let (mut lo, mut hi) = ((best.1 - step).max(0.0), (best.1 + step).min(s.duration_s));
    for _ in 0..60 {
        let m1 = lo + (hi - lo) / 3.0;
        let m2 = hi - (hi - lo) / 3.0;
        if s.rate_at(m1) < s.rate_at(m2) {
            lo = m1;
        } else {
            hi = m2;
        }
    }
    let r = s.rate_at((lo + hi) / 2.0);
    if r > best.0 {
        best = (r, (lo + hi) / 2.0);
    }
    best
}

/// Sizes `s` analytically. `p99_budget_ms` bounds each service's own p99
/// queueing delay.
pub fn size(s: &Scenario) -> Sizing {
    let n = s.services.len();
    let order = topological(s);
    let mut visits = vec![0.0; n];
    visits[s.traffic.entry] = 1.0;
    for &i in &order {
        for c in &s.services[i].calls {
            visits[c.to] += visits[i] * c.probability;
        }
    }
    // Response time (s) of a visit, ignoring queueing: own + calls.
    let mut response = vec![0.0; n];
    let mut holding = vec![0.0; n];
    for &i in order.iter().rev() {
        let sv = &s.services[i];
        let own = sv.service_time.mean_ms() / 1e3;
        let calls: f64 = sv
            .calls
            .iter()
            .map(|c| c.probability * response[c.to])
            .sum();
        response[i] = own + calls;
        holding[i] = if sv.async_calls { own } else { own + calls };
    }
    let (peak_rps, peak_at_s) = peak(s);
    let mut total = 0.0;
    let step: f64 = 10.0;
    let mut t = 0.0;
    while t < s.duration_s {
        let dt = step.min(s.duration_s - t);
        total += s.rate_at(t + dt / 2.0) * dt;
        t += step;
    }
    let daily_requests = total * 86_400.0 / s.duration_s;

    let (budget_s, max_err) = budgets(s);
    let min_replicas = (0..n)
        .map(|i| {
            min_replicas(
                s,
                i,
                peak_rps * visits[i],
                holding[i],
                budget_s,
                max_err / 10.0,
            )
        })
        .collect();

    // p99 floor: a service visited by a fraction v of requests adds its own
    // service time to them, so P(latency > x) ≥ v · P(S > x).
    let mut floor = (0.0, s.traffic.entry);
    for (i, &v) in visits.iter().enumerate() {
        let v = v.min(1.0);
        if v > 0.01 {
            let q = s.services[i].service_time.quantile_ms(1.0 - 0.01 / v);
            if q > floor.0 {
                floor = (q, i);
            }
        }
    }
    Sizing {
        peak_rps,
        peak_at_s,
        daily_requests,
        visits,
        holding_s: holding,
        min_replicas,
        p99_floor_ms: floor.0,
        p99_floor_service: floor.1,
    }
}

/// The queueing-delay budget of every service (s) and the error budget.
fn budgets(s: &Scenario) -> (f64, f64) {
    let p99_ms = s.slo.as_ref().and_then(|x| x.p99_ms).unwrap_or(1000.0);
    let max_err = s
        .slo
        .as_ref()
        .and_then(|x| x.max_error_rate)
        .unwrap_or(1e-3);
    (0.25 * p99_ms / 1e3, max_err)
}

/// The smallest replica count of service `i` at an entry rate of `rps`
/// requests/s, by the criteria of [`size`] (which applies it at the peak).
pub fn replicas_at(s: &Scenario, z: &Sizing, i: usize, rps: f64) -> u32 {
    let (budget_s, max_err) = budgets(s);
    min_replicas(
        s,
        i,
        rps * z.visits[i],
        z.holding_s[i],
        budget_s,
        max_err / 10.0,
    )
}

/// Smallest replica count of service `i` at arrival rate `lambda` (visits/s).
fn min_replicas(s: &Scenario, i: usize, lambda: f64, h: f64, budget_s: f64, max_block: f64) -> u32 {
    let sv = &s.services[i];
    if lambda <= 0.0 || h <= 0.0 {
        return 1;
    }
    let w = sv.workers;
    let a = lambda * h;
    // Allen–Cunneen: waits of M/G/c ≈ M/M/c × (1 + scv) / 2 (arrivals Poisson).
    let ac = (1.0 + sv.service_time.scv()) / 2.0;
    let pooled = sv.balancer == Balancer::LeastConnections;
    let start = ((a / (w as f64 * RHO_MAX)).ceil() as u32).max(1);
    for n in start..start.saturating_mul(20).max(start + 1000) {
        // One pooled M/M/(n·w) queue for least connections (it approximates
        // join-the-shortest-queue); n independent M/M/w queues otherwise.
        let (c, lam) = if pooled {
            (n * w, lambda)
        } else {
            (w, lambda / n as f64)
        };
        let a_c = lam * h;
        if a_c >= c as f64 * RHO_MAX {
            continue;
        }
        let pw = erlang_c(c, a_c);
        let cond_mean = ac * h / (c as f64 - a_c);
        let q99 = if pw <= 0.01 {
            0.0
        } else {
            cond_mean * (pw / 0.01).ln()
        };
        if q99 > budget_s {
            continue;
        }
        if let Some(k) = sv.queue_limit {
            let per = lambda / n as f64;
            if mmck_blocking(w, w + k, per, h) > max_block {
                continue;
            }
        }
        return n;
    }
    start.saturating_mul(20)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(name: &str) -> Scenario {
        Scenario::load(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../scenarios/twip")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn worldwide_peak_is_the_spike_and_visits_follow_the_router() {
        let s = scenario("worldwide.toml");
        let z = size(&s);
        // The spike (x3 at 15:00 UTC) on top of the three regions' 15:00 rates.
        let (start, end) = (s.rate_at(15.0 * 3600.0), s.rate_at(15.0 * 3600.0 + 599.0));
        assert!(
            z.peak_rps >= start.max(end) - 1e-6,
            "{} vs {start} {end}",
            z.peak_rps
        );
        assert!(
            (z.peak_at_s - 15.0 * 3600.0).abs() <= 600.0,
            "{}",
            z.peak_at_s
        );
        assert!(
            z.peak_rps > 8000.0 && z.peak_rps < 10000.0,
            "{}",
            z.peak_rps
        );
        assert_eq!(z.visits, vec![1.0, 0.6, 0.4]);
        // app: 0.4 × peak × 60 ms / 4 workers at ≤ 90 %.
        let app = z.min_replicas[2] as f64;
        let load = 0.4 * z.peak_rps * 0.060 / 4.0;
        assert!(
            app >= load / RHO_MAX && app < load / RHO_MAX + 4.0,
            "{app} vs {load}"
        );
        assert!(z.daily_requests > 86_400.0 * 2000.0);
    }

    #[test]
    fn limited_release_needs_few_replicas() {
        let s = scenario("limited-release.toml");
        let z = size(&s);
        assert!((z.peak_rps - 200.0).abs() < 0.5, "{}", z.peak_rps);
        assert_eq!(z.min_replicas[0], 1);
        // app: 80 visits/s × 60 ms = 4.8 busy workers of 4 per replica.
        assert_eq!(z.min_replicas[2], 2, "{:?}", z.min_replicas);
        assert!(z.p99_floor_ms < 1000.0 && z.p99_floor_service == 2);
    }
}
