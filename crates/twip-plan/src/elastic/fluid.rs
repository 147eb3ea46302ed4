//! The screening model of an elastic candidate: the day on a one-minute
//! grid, demand as a fluid (the analytic rate of every service), the
//! controller as the simulator runs it — alarms over periods, cooldowns,
//! scheduled bounds, replicas that serve `start_delay` + one health check
//! after they are placed, nodes that join `instance_warmup` after the
//! provider asks — and per minute the queueing delay of what is in service
//! (Erlang C, Allen–Cunneen for the service-time variance) plus the backlog
//! an overload leaves. It gives a candidate's expected node cost and a
//! verdict per case in microseconds, so thousands of candidates are
//! screened before any is simulated; the simulator has the last word.

use twip_sim::analytic::erlang_c;

/// The grid step (s): the controller's tick and the default metric period.
pub(crate) const DT: f64 = 60.0;

/// What the model knows of one service.
#[derive(Debug, Clone)]
pub(crate) struct Svc {
    /// Load per entry request/s (busy workers): visits × holding time.
    pub load_per_rps: f64,
    /// Visits per entry request.
    pub visits: f64,
    /// Mean holding time of a visit (s).
    pub holding_s: f64,
    /// Workers per replica.
    pub workers: f64,
    /// Allen–Cunneen factor (1 + scv) / 2.
    pub ac: f64,
    /// One pooled queue (least connections) or a queue per replica.
    pub pooled: bool,
    /// Queue places per replica (`None`: unbounded).
    pub queue_limit: Option<f64>,
    /// Fraction of a node's vCPU and memory one replica takes.
    pub node_share: f64,
    /// From placement to rotation (s): start delay + one health check.
    pub start_s: f64,
    /// From a failure to its detection (s).
    pub detect_s: f64,
    /// The policy, or `None` for a fixed count.
    pub elastic: Option<Policy>,
    /// The fixed count (non-elastic services).
    pub fixed: u32,
}

/// The searched and the given parameters of a service's policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Policy {
    /// Floor.
    pub min: u32,
    /// Ceiling.
    pub max: u32,
    /// Target utilisation (busy workers ÷ workers).
    pub util: f64,
    /// Scale-out alarm: datapoints of periods.
    pub out_alarm: (u32, u32),
    /// Scale-in alarm.
    pub in_alarm: (u32, u32),
    /// Scale-in below this fraction of the target.
    pub in_ratio: f64,
    /// Cooldowns (s).
    pub out_cooldown_s: f64,
    /// Cooldowns (s).
    pub in_cooldown_s: f64,
    /// Scheduled floors: (from s, to s, min).
    pub schedule: [Option<(f64, f64, u32)>; 4],
}

/// The capacity provider.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nodes {
    pub min: u32,
    pub max: u32,
    /// Fraction (0–1].
    pub target: f64,
    pub warmup_s: f64,
    pub usd_per_hour: f64,
}

/// A loss in the model: the fraction of every service and of the nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Hit {
    /// When (s).
    pub at_s: f64,
    /// Zones (a zone loss takes 1/zones of everything) or `None` for one node.
    pub zones: Option<u32>,
}

/// The day and what serves it.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    /// Entry rate at each minute's middle (requests/s).
    pub rate: Vec<f64>,
    pub svcs: Vec<Svc>,
    pub nodes: Nodes,
    /// The end-to-end p99 objective minus what service times alone take (s):
    /// the queueing delay a minute may add before it counts as slow.
    pub wait_budget_s: f64,
}

/// One run of the model.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trace {
    /// Per minute: replicas in service per service.
    pub in_service: Vec<Vec<u32>>,
    /// Per minute: desired per service.
    pub desired: Vec<Vec<u32>>,
    /// Per minute: nodes paid for (up and launching).
    pub nodes: Vec<u32>,
    /// Per minute: the worst queueing delay of any service (s), infinite
    /// when a queue overflows.
    pub wait_s: Vec<f64>,
    /// Node cost over the run (USD).
    pub cost_usd: f64,
}

impl Trace {
    /// The share of requests in `[from_s, to_s)` that met a minute slower
    /// than the budget, and the worst delay (s).
    pub(crate) fn slow_share(&self, m: &Model, from_s: f64, to_s: f64) -> (f64, f64) {
        let (a, b) = (
            (from_s / DT).floor().max(0.0) as usize,
            ((to_s / DT).ceil() as usize).min(self.wait_s.len()),
        );
        let (mut slow, mut all, mut worst) = (0.0, 0.0, 0.0f64);
        for k in a..b {
            all += m.rate[k];
            if self.wait_s[k] > m.wait_budget_s {
                slow += m.rate[k];
            }
            worst = worst.max(self.wait_s[k]);
        }
        (if all > 0.0 { slow / all } else { 0.0 }, worst)
    }
}

/// Replicas on their way: (ready at s, count).
#[derive(Debug, Default, Clone)]
struct SvcSt {
    desired: u32,
    in_service: u32,
    /// Placed, starting: (in rotation at, count).
    starting: Vec<(f64, u32)>,
    /// Waiting for a node, since.
    waiting: u32,
    /// Lost, back in the scheduler's hands at: (s, count).
    lost: Vec<(f64, u32)>,
    above: Vec<bool>,
    below: Vec<bool>,
    last_out: f64,
    last_in: f64,
    backlog: f64,
}

impl SvcSt {
    fn running(&self) -> u32 {
        self.in_service + self.starting.iter().map(|x| x.1).sum::<u32>()
    }
    fn active(&self) -> u32 {
        self.running() + self.waiting + self.lost.iter().map(|x| x.1).sum::<u32>()
    }
}

fn recent(v: &[bool], (datapoints, periods): (u32, u32)) -> bool {
    let p = periods as usize;
    v.len() >= p && v[v.len() - p..].iter().filter(|&&b| b).count() >= datapoints as usize
}

impl Model {
    /// This model with the rate multiplied by `multiplier` over
    /// `[at_s, at_s + duration_s)`: each minute by the share of it the
    /// surge covers.
    pub fn surged(&self, at_s: f64, duration_s: f64, multiplier: f64) -> Model {
        let mut m = self.clone();
        let end = at_s + duration_s;
        for (k, r) in m.rate.iter_mut().enumerate() {
            let (a, b) = (k as f64 * DT, (k + 1) as f64 * DT);
            let covered = (b.min(end) - a.max(at_s)).max(0.0) / DT;
            *r *= 1.0 + (multiplier - 1.0) * covered;
        }
        m
    }

    /// The floor of `p` at `t`: its min, raised by the scheduled actions in force.
    fn floor(p: &Policy, t: f64) -> u32 {
        p.schedule
            .iter()
            .flatten()
            .filter(|(from, to, _)| t >= *from && t < *to)
            .map(|x| x.2)
            .fold(p.min, u32::max)
    }

    /// The count the policy asks for at load `a` (busy workers).
    fn tracked(sv: &Svc, p: &Policy, a: f64) -> u32 {
        ((a / (sv.workers * p.util) - 1e-9).ceil().max(0.0)) as u32
    }

    /// The replicas every service starts with at `t` (its tracked count
    /// within its bounds, or its fixed count).
    pub(crate) fn initial(&self, t: f64) -> Vec<u32> {
        let k = ((t / DT) as usize).min(self.rate.len().saturating_sub(1));
        self.svcs
            .iter()
            .map(|sv| match &sv.elastic {
                Some(p) => Model::tracked(sv, p, self.rate[k] * sv.load_per_rps)
                    .clamp(Model::floor(p, t), p.max),
                None => sv.fixed,
            })
            .collect()
    }

    /// Runs minutes `[from, to)` of the day, starting at the counts
    /// [`Model::initial`] gives, with `hit` (if any).
    pub(crate) fn run(&self, from_s: f64, to_s: f64, hit: Option<Hit>) -> Trace {
        let k0 = (from_s / DT).floor().max(0.0) as usize;
        let k1 = ((to_s / DT).ceil() as usize).min(self.rate.len());
        let init = self.initial(from_s);
        let mut st: Vec<SvcSt> = init
            .iter()
            .map(|&n| SvcSt {
                desired: n,
                in_service: n,
                last_out: f64::NEG_INFINITY,
                last_in: f64::NEG_INFINITY,
                ..SvcSt::default()
            })
            .collect();
        let used = |st: &[SvcSt]| -> f64 {
            st.iter()
                .zip(&self.svcs)
                .map(|(s, sv)| f64::from(s.running()) * sv.node_share)
                .sum()
        };
        let ns = self.nodes;
        let want_nodes = |need: f64| -> u32 {
            ((need / ns.target - 1e-9).ceil().max(0.0) as u32).clamp(ns.min, ns.max)
        };
        let mut up = want_nodes(used(&st).ceil()).max(used(&st).ceil() as u32);
        let mut launching: Vec<(f64, u32)> = Vec::new();
        let mut low_minutes = 0u32;
        let mut hit_done = false;
        let mut tr = Trace::default();
        for k in k0..k1 {
            let t = k as f64 * DT;
            // Nodes that joined.
            launching.retain(|&(at, n)| {
                if at <= t {
                    up += n;
                    false
                } else {
                    true
                }
            });
            // The loss.
            if let Some(h) = hit {
                if !hit_done && h.at_s < t + DT && h.at_s >= t - 1e-9 {
                    hit_done = true;
                    let nodes_before = up.max(1);
                    let frac = |n: u32| -> u32 {
                        match h.zones {
                            Some(z) => n.div_ceil(z.max(1)),
                            None => n.div_ceil(nodes_before),
                        }
                    };
                    up -= match h.zones {
                        Some(z) => up.div_ceil(z.max(1)),
                        None => 1,
                    }
                    .min(up);
                    for (s, sv) in st.iter_mut().zip(&self.svcs) {
                        let lost = frac(s.in_service).min(s.in_service);
                        s.in_service -= lost;
                        s.lost.push((h.at_s + sv.detect_s, lost));
                    }
                }
            }
            // Replicas that entered the rotation; lost ones back to the scheduler.
            for s in &mut st {
                s.starting.retain(|&(at, n)| {
                    if at <= t {
                        s.in_service += n;
                        false
                    } else {
                        true
                    }
                });
                let mut back = 0;
                s.lost.retain(|&(at, n)| {
                    if at <= t {
                        back += n;
                        false
                    } else {
                        true
                    }
                });
                s.waiting += back;
            }
            // The controller closes the period that just ended.
            if k > k0 {
                let a_prev = self.rate[k - 1];
                for (s, sv) in st.iter_mut().zip(&self.svcs) {
                    let Some(p) = &sv.elastic else { continue };
                    let load = a_prev * sv.load_per_rps;
                    let running = s.running().max(1);
                    let metric = load / (f64::from(running) * sv.workers);
                    s.above.push(metric > p.util);
                    s.below.push(metric < p.util * p.in_ratio);
                    let lo = Model::floor(p, t);
                    let want = Model::tracked(sv, p, load).clamp(lo, p.max);
                    if recent(&s.above, p.out_alarm) && want > s.desired {
                        s.desired = want;
                        s.last_out = t;
                    } else if recent(&s.below, p.in_alarm)
                        && want < s.desired
                        && t - s.last_out >= p.out_cooldown_s
                        && t - s.last_in >= p.in_cooldown_s
                    {
                        s.desired = want;
                        s.last_in = t;
                    }
                }
            }
            // Scheduled floors and fixed counts, then the scheduler.
            for (s, sv) in st.iter_mut().zip(&self.svcs) {
                let target = match &sv.elastic {
                    Some(p) => s.desired.max(Model::floor(p, t)).min(p.max),
                    None => sv.fixed,
                };
                s.desired = target;
                let active = s.active();
                if active < target {
                    s.waiting += target - active;
                } else if active > target {
                    let mut extra = active - target;
                    let w = extra.min(s.waiting);
                    s.waiting -= w;
                    extra -= w;
                    while extra > 0 {
                        if let Some(last) = s.starting.last_mut() {
                            let d = extra.min(last.1);
                            last.1 -= d;
                            extra -= d;
                            if last.1 == 0 {
                                s.starting.pop();
                            }
                        } else {
                            let d = extra.min(s.in_service);
                            s.in_service -= d;
                            extra -= d;
                            if d == 0 {
                                break;
                            }
                        }
                    }
                }
            }
            // Waiting replicas take the room there is.
            let mut room = f64::from(up) - used(&st);
            for (s, sv) in st.iter_mut().zip(&self.svcs) {
                while s.waiting > 0 && room >= sv.node_share - 1e-9 {
                    s.waiting -= 1;
                    room -= sv.node_share;
                    match s.starting.last_mut() {
                        Some(x) if x.0 == t + sv.start_s => x.1 += 1,
                        _ => s.starting.push((t + sv.start_s, 1)),
                    }
                }
            }
            // The provider: what the tasks need (placed and waiting) ÷ target.
            let waiting_need: f64 = st
                .iter()
                .zip(&self.svcs)
                .map(|(s, sv)| f64::from(s.waiting) * sv.node_share)
                .sum();
            let need = (used(&st) + waiting_need).ceil();
            let want = want_nodes(need);
            let coming: u32 = launching.iter().map(|x| x.1).sum();
            if want > up + coming {
                launching.push((t + ns.warmup_s, want - up - coming));
                low_minutes = 0;
            } else if want < up {
                low_minutes += 1;
                if low_minutes >= 15 {
                    up = want.max(used(&st).ceil() as u32);
                    low_minutes = 0;
                }
            } else {
                low_minutes = 0;
            }
            let paid = up + launching.iter().map(|x| x.1).sum::<u32>();
            tr.cost_usd += f64::from(paid) * ns.usd_per_hour * DT / 3600.0;
            // This minute's queueing delay.
            let a = self.rate[k];
            let mut worst = 0.0f64;
            for (s, sv) in st.iter_mut().zip(&self.svcs) {
                let lambda = a * sv.visits;
                let n = f64::from(s.in_service);
                let mu = if sv.holding_s > 0.0 {
                    n * sv.workers / sv.holding_s
                } else {
                    f64::INFINITY
                };
                s.backlog = (s.backlog + (lambda - mu) * DT).max(0.0);
                let mut wait = if mu > 0.0 {
                    s.backlog / mu
                } else {
                    f64::INFINITY
                };
                if lambda > 0.0 && mu.is_finite() {
                    wait += queue_p99(sv, s.in_service, lambda);
                }
                if let Some(q) = sv.queue_limit {
                    if s.backlog > q * n.max(1.0) {
                        wait = f64::INFINITY;
                    }
                }
                worst = worst.max(wait);
            }
            tr.wait_s.push(worst);
            tr.in_service
                .push(st.iter().map(|s| s.in_service).collect());
            tr.desired.push(st.iter().map(|s| s.desired).collect());
            tr.nodes.push(paid);
        }
        tr
    }
}

/// The p99 of the queueing delay (s) with `n` replicas at `lambda`
/// visits/s; infinite at or past saturation.
pub(crate) fn queue_p99(sv: &Svc, n: u32, lambda: f64) -> f64 {
    if n == 0 {
        return f64::INFINITY;
    }
    let w = sv.workers.max(1.0) as u32;
    let (c, lam) = if sv.pooled {
        (n.saturating_mul(w), lambda)
    } else {
        (w, lambda / f64::from(n))
    };
    let a = lam * sv.holding_s;
    if a >= f64::from(c) {
        return f64::INFINITY;
    }
    // Many servers far from saturation never wait (Erlang C below 1e-4;
    // computing it costs a step per server, thousands for a proxy tier).
    if c >= 100 && a <= 0.6 * f64::from(c) {
        return 0.0;
    }
    let pw = erlang_c(c, a);
    if pw <= 0.01 {
        return 0.0;
    }
    sv.ac * sv.holding_s / (f64::from(c) - a) * (pw / 0.01).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(policy: Option<Policy>) -> Svc {
        Svc {
            load_per_rps: 0.1,
            visits: 1.0,
            holding_s: 0.1,
            workers: 1.0,
            ac: 1.0,
            pooled: true,
            queue_limit: None,
            node_share: 0.5,
            start_s: 45.0,
            detect_s: 15.0,
            elastic: policy,
            fixed: 2,
        }
    }

    fn policy() -> Policy {
        Policy {
            min: 2,
            max: 50,
            util: 0.5,
            out_alarm: (3, 3),
            in_alarm: (15, 15),
            in_ratio: 0.9,
            out_cooldown_s: 300.0,
            in_cooldown_s: 300.0,
            schedule: [None; 4],
        }
    }

    fn model(rate: Vec<f64>, p: Policy) -> Model {
        Model {
            rate,
            svcs: vec![svc(Some(p))],
            nodes: Nodes {
                min: 0,
                max: 100,
                target: 1.0,
                warmup_s: 180.0,
                usd_per_hour: 1.0,
            },
            wait_budget_s: 0.5,
        }
    }

    /// A step from 10 to 40 requests/s at minute 10 (load 1 → 4 workers):
    /// the periods of minutes 10, 11 and 12 are above target, so the
    /// scale-out to ceil(4 / 0.5) = 8 is decided at the end of minute 12
    /// (t = 780 s); the six new replicas need three more nodes (two
    /// replicas fill a node, and the first one is full), asked for at
    /// 780 s, up at 960 s, in rotation 45 s later.
    #[test]
    fn a_step_scales_out_after_three_periods_and_serves_after_the_delays() {
        let mut rate = vec![10.0; 10];
        rate.extend(vec![40.0; 30]);
        let m = model(rate, policy());
        let tr = m.run(0.0, 40.0 * DT, None);
        assert_eq!(tr.desired[12][0], 2, "not before the third period closes");
        assert_eq!(tr.desired[13][0], 8, "decided at 780 s");
        // Nodes asked at 780 s join at 960 s (minute 16); replicas placed
        // then serve from 1005 s: in service at the start of minute 17.
        assert_eq!(tr.in_service[16][0], 2);
        assert_eq!(tr.in_service[17][0], 8);
        assert_eq!(tr.nodes[12], 1);
        assert_eq!(tr.nodes[13], 4, "paid from launch");
    }

    #[test]
    fn a_scheduled_floor_is_in_service_after_the_start_delay() {
        let mut p = policy();
        p.schedule[0] = Some((600.0, 1200.0, 10));
        let m = model(vec![10.0; 30], p);
        let tr = m.run(0.0, 30.0 * DT, None);
        assert_eq!(tr.desired[10][0], 10);
        // Four nodes more, up at 780 s, in rotation at 825 s.
        assert_eq!(tr.in_service[13][0], 2);
        assert_eq!(tr.in_service[14][0], 10);
        // Given back at 1200 s, the floor does not remove replicas: the
        // policy does, when its scale-in alarm has seen 15 periods below
        // 0.45 (from the period closed at 840 s, the first with all ten in
        // service: at 1680 s).
        assert_eq!(tr.desired[20][0], 10);
        assert_eq!(tr.desired[27][0], 10);
        assert_eq!(tr.desired[28][0], 2);
    }

    #[test]
    fn a_zone_loss_takes_a_third_and_the_scheduler_replaces_it() {
        let mut p = policy();
        p.min = 9;
        let m = model(vec![10.0; 30], p);
        let tr = m.run(
            0.0,
            30.0 * DT,
            Some(Hit {
                at_s: 300.0,
                zones: Some(3),
            }),
        );
        assert_eq!(tr.in_service[4][0], 9);
        assert_eq!(tr.in_service[5][0], 6);
        assert!(tr.in_service[12][0] == 9, "{:?}", tr.in_service);
    }

    #[test]
    fn overload_shows_as_delay() {
        let sv = svc(None);
        assert!(queue_p99(&sv, 2, 25.0).is_infinite());
        assert!(queue_p99(&sv, 2, 10.0) < queue_p99(&sv, 2, 15.0));
        assert_eq!(queue_p99(&sv, 10, 1.0), 0.0);
        // The shortcut agrees with Erlang C where it applies.
        let big = Svc {
            workers: 100.0,
            pooled: false,
            ..svc(None)
        };
        assert!(erlang_c(100, 60.0) < 1e-4);
        assert_eq!(queue_p99(&big, 1, 600.0), 0.0);
    }
}
