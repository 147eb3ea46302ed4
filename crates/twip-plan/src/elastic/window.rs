//! A worst-moment case as a simulation: the day cut down to the stretch
//! around the loss (a lead that lets the controller settle, then the
//! measured half hour after it), with the traffic, spikes and scheduled
//! actions shifted to the window's start and the bounds and counts the
//! controller has at that moment.

use twip_model::elastic::When;
use twip_model::elastic_plan::Surge;
use twip_model::{Failure, FailureKind, Scenario, Spike};
use twip_sim::{Options, SimReport};

use crate::verify::BURST_MARGIN_S;

/// Simulated time before the loss (s).
pub const LEAD_S: f64 = 900.0;
/// Measured time after the loss (s).
pub const AFTER_S: f64 = 1800.0;

/// What a simulated case measured, judged against the SLO.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Judged {
    pub p99_ms: f64,
    pub p99_ci95_ms: Option<f64>,
    pub error_rate: f64,
}

/// `s` (the candidate's policies applied) from `loss_at - LEAD_S` to
/// `loss_at + AFTER_S`, starting at `initial` replicas, losing `loss`
/// (kind and target) at `loss_at` for good, and with `surge` (an
/// unforeseen one) starting then.
pub(crate) fn scenario(
    s: &Scenario,
    initial: &[u32],
    loss_at: f64,
    loss: Option<(FailureKind, Option<String>)>,
    surge: Option<Surge>,
) -> Scenario {
    let start = (loss_at - LEAD_S).max(0.0);
    let lead = loss_at - start;
    let end = lead + AFTER_S;
    let mut v = s.clone();
    v.traffic.start_hour_utc += start / 3600.0;
    v.traffic.spikes = s
        .traffic
        .spikes
        .iter()
        .filter_map(|sp| {
            let (from, to) = (sp.at_s - start, sp.at_s + sp.duration_s - start);
            (to > 0.0 && from < end).then(|| {
                let mut sp = sp.clone();
                sp.at_s = from.max(0.0);
                sp.duration_s = to - sp.at_s;
                sp
            })
        })
        .collect();
    if let Some(g) = surge {
        v.traffic.spikes.push(Spike {
            at_s: lead,
            duration_s: g.duration_s,
            multiplier: g.multiplier,
        });
    }
    for (sv, &n) in v.services.iter_mut().zip(initial) {
        sv.replicas = n;
        let Some(a) = sv.autoscaling.as_mut() else {
            continue;
        };
        // Actions before the window have set the bounds it starts with.
        let mut kept = Vec::new();
        for act in &sv.schedule {
            match act.when {
                When::At { at_s } if at_s <= start => {
                    if let Some(m) = act.min {
                        a.min = m;
                    }
                    if let Some(m) = act.max {
                        a.max = m;
                    }
                }
                When::At { at_s } if at_s - start < end => {
                    let mut act = act.clone();
                    act.when = When::At { at_s: at_s - start };
                    kept.push(act);
                }
                When::At { .. } => {}
                When::Daily { .. } => kept.push(act.clone()),
            }
        }
        a.max = a.max.max(a.min);
        sv.replicas = n.clamp(a.min, a.max);
        sv.schedule = kept;
    }
    v.failures = loss
        .map(|(kind, target)| {
            vec![Failure {
                kind,
                at_s: lead,
                duration_s: None,
                target,
            }]
        })
        .unwrap_or_default();
    v.warmup_s = lead;
    v.duration_s = end;
    v
}

/// Simulates a case scenario and judges it: the p99 over the measured
/// window, and the error rate the fixed planner judges a loss by (the
/// detection burst spread over the day's requests, the rest as a rate).
pub(crate) fn judge(
    v: &Scenario,
    opts: &Options,
    daily_requests: f64,
) -> Result<(Judged, SimReport), twip_sim::SimError> {
    let r = twip_sim::simulate(v, opts)?;
    let p99 = if r.unstable.is_some() {
        f64::INFINITY
    } else {
        r.latency_ms.p99
    };
    let mut error_rate = r.error_rate;
    if let (Some(t), Some(f)) = (&r.timeline, v.failures.first()) {
        let detect = v
            .services
            .iter()
            .map(|sv| sv.health_check.detection_s())
            .fold(0.0, f64::max);
        let burst_end = f.at_s + detect + BURST_MARGIN_S;
        let (mut burst, mut err, mut req) = (0.0, 0.0, 0.0);
        for k in 0..t.start_s.len() {
            if t.start_s[k] < burst_end {
                burst += t.errors[k];
            } else {
                err += t.errors[k];
                req += t.rps[k] * t.interval_s;
            }
        }
        let steady = if req > 0.0 { err / req } else { 0.0 };
        error_rate = steady + burst / daily_requests.max(1.0);
    }
    Ok((
        Judged {
            p99_ms: if p99.is_nan() { f64::INFINITY } else { p99 },
            p99_ci95_ms: r.ci95.latency_p99_ms,
            error_rate,
        },
        r,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_shifts_the_day_and_starts_from_the_bounds_in_force() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios/twip/worldwide-elastic.toml");
        let s = Scenario::load(&path).unwrap();
        let app = s.service_index("app").unwrap();
        let mut init = vec![4, 4, 30];
        init[app] = 30;
        // A zone lost at 15:02, during the launch spike (15:00-15:10).
        let v = scenario(
            &s,
            &init,
            15.0 * 3600.0 + 120.0,
            Some((FailureKind::Zone, Some("us-east-1a".into()))),
            None,
        );
        assert_eq!(v.warmup_s, LEAD_S);
        assert_eq!(v.duration_s, LEAD_S + AFTER_S);
        assert!((v.traffic.start_hour_utc - (14.0 + 47.0 / 60.0)).abs() < 1e-9);
        // The spike starts 13 minutes into the window, for its 10 minutes.
        assert_eq!(v.traffic.spikes.len(), 1);
        assert!((v.traffic.spikes[0].at_s - 780.0).abs() < 1e-9);
        assert!((v.traffic.spikes[0].duration_s - 600.0).abs() < 1e-9);
        // The same rate at the same moment of the day.
        for t in [0.0, 700.0, 800.0, 1500.0] {
            let day = s.rate_at(t + 15.0 * 3600.0 + 120.0 - LEAD_S);
            assert!((v.rate_at(t) - day).abs() < 1e-6 * day, "{t}");
        }
        // The 14:40 action (min 80) fired before the window: the window
        // starts with min 80 and keeps the 15:20 action (min 12), shifted.
        let a = v.services[app].autoscaling.as_ref().unwrap();
        assert_eq!(a.min, 80);
        assert_eq!(v.services[app].replicas, 80);
        assert_eq!(v.services[app].schedule.len(), 1);
        assert_eq!(
            v.services[app].schedule[0].when,
            When::At {
                at_s: 20.0 * 60.0 + 13.0 * 60.0
            }
        );
        assert_eq!(v.failures.len(), 1);
        assert_eq!(v.failures[0].at_s, LEAD_S);
    }
}
