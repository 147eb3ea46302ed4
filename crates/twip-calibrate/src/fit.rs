//! Service times fitted to what was measured.
//!
//! nginx times an upstream on its millisecond clock: a sample is the
//! difference of two readings of a clock that ticks each millisecond, so a
//! true duration `d` reads as ⌊d⌋ or ⌈d⌉ ms, and the mean of the readings
//! is the mean of the true durations (the clock's phase is uniform). The
//! shape survives where the times are long against the tick; below ten
//! ticks ([`SHAPE_TICKS`]) only the mean is taken, with the scenario's
//! shape. The generator's own samples have a 1 µs tick.
//!
//! First the scenario's own distribution is tested against the samples:
//! when its Kolmogorov–Smirnov distance (or, for the mean alone, the
//! difference of the means) is within the 5 % critical value, it is kept —
//! refitting what already agrees only adds the samples' noise. Otherwise
//! two candidates: the lognormal by maximum likelihood (the mean and
//! standard deviation of the logarithms; a reading of 0 counts as half a
//! tick) and the gamma by moments; the one nearer the samples in
//! Kolmogorov–Smirnov distance is taken, every model evaluated at the edges
//! of each tick (a continuity correction, the same for all).

use statrs::distribution::{ContinuousCDF, Gamma, LogNormal};
use twip_model::calibration::{Candidate, Choice, DistKind, DistSummary, MeasuredBy, ServiceFit};
use twip_model::{nearest_rank, Dist};

/// The tick of nginx's clock (ms).
pub const NGINX_TICK_MS: f64 = 1.0;
/// The tick of the generator's histograms (ms).
pub const GENERATOR_TICK_MS: f64 = 0.001;
/// The smallest median whose shape a fit trusts, in ticks.
pub const SHAPE_TICKS: f64 = 10.0;
/// The fewest samples a fit takes; fewer keep the scenario's distribution.
pub const MIN_SAMPLES: usize = 100;
/// The Kolmogorov–Smirnov critical value at 5 % is this over √n.
const KS_5PCT: f64 = 1.358;

const Z99: f64 = 2.326_347_874_040_840_8;

/// The `q` quantile of sorted samples (nearest rank; 0 for none).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        0.0
    } else {
        nearest_rank(sorted, q)
    }
}

/// The Kolmogorov–Smirnov distance between sorted readings on a clock of
/// `tick` and a model CDF evaluated half a tick around each reading.
fn ks(sorted: &[f64], tick: f64, cdf: impl Fn(f64) -> f64) -> f64 {
    let n = sorted.len() as f64;
    let mut worst: f64 = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let v = sorted[i];
        let mut j = i;
        while j < sorted.len() && sorted[j] == v {
            j += 1;
        }
        let below = i as f64 / n;
        let upto = j as f64 / n;
        let lo = if v <= 0.0 { 0.0 } else { cdf(v - tick / 2.0) };
        let hi = cdf(v + tick / 2.0);
        worst = worst.max((upto - hi).abs()).max((below - lo).abs());
        i = j;
    }
    worst
}

fn lognormal(sorted: &[f64], tick: f64) -> Option<Candidate> {
    let logs: Vec<f64> = sorted.iter().map(|&x| x.max(tick / 2.0).ln()).collect();
    let n = logs.len() as f64;
    let mu = logs.iter().sum::<f64>() / n;
    let sigma = (logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / n).sqrt();
    // A scenario's lognormal is its mean and p99, which name the smaller
    // of two σ: beyond Z99 they would name another distribution.
    if !(sigma > 0.0 && sigma < Z99) {
        return None;
    }
    let model = LogNormal::new(mu, sigma).ok()?;
    Some(Candidate {
        mean_ms: (mu + sigma * sigma / 2.0).exp(),
        p99_ms: (mu + Z99 * sigma).exp(),
        cv: ((sigma * sigma).exp() - 1.0).sqrt(),
        ks: ks(sorted, tick, |x| model.cdf(x)),
    })
}

/// The gamma of the samples' `mean` and standard deviation `sd`.
fn gamma(sorted: &[f64], tick: f64, mean: f64, sd: f64) -> Option<Candidate> {
    let cv = sd / mean;
    if !(Dist::GAMMA_CV_MIN..=Dist::GAMMA_CV_MAX).contains(&cv) {
        return None;
    }
    let shape = 1.0 / (cv * cv);
    let model = Gamma::new(shape, shape / mean).ok()?;
    Some(Candidate {
        mean_ms: mean,
        p99_ms: model.inverse_cdf(0.99),
        cv,
        ks: ks(sorted, tick, |x| model.cdf(x)),
    })
}

/// The scenario's distribution `d` moved to mean `mean_ms`, its shape kept
/// (the same p99 ÷ mean); `None` for an empirical one.
fn rescaled(d: &Dist, mean_ms: f64) -> Option<DistSummary> {
    let s = DistSummary::of(d);
    if s.dist == DistKind::Empirical || mean_ms.is_nan() || mean_ms <= 0.0 {
        return None;
    }
    let k = mean_ms / s.mean_ms;
    Some(DistSummary {
        dist: s.dist,
        mean_ms,
        p99_ms: s.p99_ms * k,
    })
}

/// Fits `service`'s measured times `samples_ms`, read on a clock of
/// `tick_ms` (`measured_by` says which), against the scenario's
/// distribution `current`.
pub fn fit(
    service: &str,
    current: &Dist,
    samples_ms: &[f64],
    measured_by: MeasuredBy,
    tick_ms: f64,
) -> ServiceFit {
    let mut sorted: Vec<f64> = samples_ms
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let mean = if n == 0 {
        0.0
    } else {
        sorted.iter().sum::<f64>() / n as f64
    };
    let p50 = quantile(&sorted, 0.5);
    let sd = if n > 1 {
        (sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0)).sqrt()
    } else {
        0.0
    };
    let mean_ci95 = if n > 1 {
        1.96 * sd / (n as f64).sqrt()
    } else {
        0.0
    };
    let mut out = ServiceFit {
        service: service.into(),
        measured_by,
        tick_ms,
        samples: n as u64,
        mean_ms: mean,
        mean_ci95_ms: mean_ci95,
        p50_ms: p50,
        p99_ms: quantile(&sorted, 0.99),
        scenario: DistSummary::of(current),
        scenario_ks: None,
        lognormal: None,
        gamma: None,
        choice: Choice::Keep,
        level_kept: false,
        fitted: None,
    };
    if n < MIN_SAMPLES {
        return out;
    }
    let critical = KS_5PCT / (n as f64).sqrt();
    if p50 < SHAPE_TICKS * tick_ms {
        if (mean - current.mean_ms()).abs() <= mean_ci95 {
            out.choice = Choice::Agrees;
            return out;
        }
        out.fitted = rescaled(current, mean);
        if out.fitted.is_some() {
            out.choice = Choice::MeanOnly;
        }
        return out;
    }
    let scenario_ks = ks(&sorted, tick_ms, |x| current.cdf_ms(x));
    out.scenario_ks = Some(scenario_ks);
    out.lognormal = lognormal(&sorted, tick_ms);
    out.gamma = gamma(&sorted, tick_ms, mean, sd);
    if scenario_ks <= critical {
        out.choice = Choice::Agrees;
        return out;
    }
    let pick = match (&out.lognormal, &out.gamma) {
        (Some(l), Some(g)) if g.ks < l.ks => Some((Choice::Gamma, g)),
        (Some(l), _) => Some((Choice::Lognormal, l)),
        (None, Some(g)) => Some((Choice::Gamma, g)),
        (None, None) => None,
    };
    if let Some((choice, c)) = pick {
        out.choice = choice;
        // The shape from the samples; the level from the scenario when the
        // samples cannot tell its mean from theirs.
        out.level_kept = (mean - current.mean_ms()).abs() <= mean_ci95;
        let k = if out.level_kept {
            current.mean_ms() / c.mean_ms
        } else {
            1.0
        };
        out.fitted = Some(DistSummary {
            dist: match choice {
                Choice::Gamma => DistKind::Gamma,
                _ => DistKind::Lognormal,
            },
            mean_ms: c.mean_ms * k,
            p99_ms: c.p99_ms * k,
        });
    }
    out
}

/// The fitted distribution as the simulator draws it; `None` for `keep`
/// (or a fit the model refuses).
pub fn to_dist(f: &ServiceFit) -> Option<Dist> {
    f.fitted.as_ref()?.to_dist()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::Distribution;
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// `n` draws of `d`, read on a millisecond clock with a random phase
    /// (as nginx reads them).
    fn readings(d: &impl Distribution<f64>, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let phase = rand_distr::Uniform::new(0.0, 1.0).unwrap();
        (0..n)
            .map(|_| {
                let p: f64 = phase.sample(&mut rng);
                let x: f64 = d.sample(&mut rng);
                (p + x).floor() - p.floor()
            })
            .collect()
    }

    #[test]
    fn a_lognormal_is_recovered_from_millisecond_readings() {
        // The test app's distribution: mean 60 ms, p99 450 ms (σ 1.151).
        let Dist::Lognormal { mu, sigma } = Dist::lognormal(60.0, 450.0).unwrap() else {
            unreachable!()
        };
        let d = rand_distr::LogNormal::new(mu, sigma).unwrap();
        let n = 4000;
        let f = fit(
            "app",
            &Dist::exponential(10.0).unwrap(),
            &readings(&d, n, 7),
            MeasuredBy::FrontLog,
            1.0,
        );
        assert_eq!(f.choice, Choice::Lognormal, "{f:?}");
        let l = f.lognormal.clone().unwrap();
        // The MLE's σ has standard error σ/√(2n) = 0.0129, μ σ/√n = 0.0182:
        // the mean exp(μ + σ²/2) within 3 standard errors of its log (about
        // 3 × √(0.0182² + (σ × 0.0129)²) = 0.068), the p99 exp(μ + zσ)
        // within 3 × √(0.0182² + (z × 0.0129)²) = 0.102.
        assert!((l.mean_ms / 60.0).ln().abs() < 0.068, "{l:?}");
        assert!((l.p99_ms / 450.0).ln().abs() < 0.102, "{l:?}");
        // The KS distance of the true family is of the order 1/√n.
        assert!(l.ks < 1.36 / (n as f64).sqrt() + 0.01, "{l:?}");
        assert!(f.gamma.as_ref().unwrap().ks > l.ks);
        let back = to_dist(&f).unwrap();
        assert!((back.mean_ms() - l.mean_ms).abs() < 1e-6);
    }

    #[test]
    fn a_gamma_is_told_from_a_lognormal() {
        // Shape 4, mean 40 ms: cv 0.5.
        let d = rand_distr::Gamma::new(4.0, 10.0).unwrap();
        let f = fit(
            "app",
            &Dist::exponential(10.0).unwrap(),
            &readings(&d, 4000, 3),
            MeasuredBy::FrontLog,
            1.0,
        );
        assert_eq!(f.choice, Choice::Gamma, "{f:?}");
        let g = f.gamma.unwrap();
        // The sample mean's standard error is 20/√4000 = 0.32 ms.
        assert!((g.mean_ms - 40.0).abs() < 1.0, "{g:?}");
        assert!((g.cv - 0.5).abs() < 0.03, "{g:?}");
    }

    #[test]
    fn short_times_keep_the_scenarios_shape_at_the_measured_mean() {
        // A 0.4 ms service read on a 1 ms clock: readings of 0 and 1.
        let d = rand_distr::Exp::new(1.0 / 0.4).unwrap();
        let xs = readings(&d, 20_000, 11);
        assert!(xs.iter().all(|x| *x == 0.0 || *x >= 1.0));
        let current = Dist::lognormal(1.0, 8.0).unwrap();
        let f = fit("static", &current, &xs, MeasuredBy::FrontLog, 1.0);
        assert_eq!(f.choice, Choice::MeanOnly, "{f:?}");
        let d = f.fitted.unwrap();
        // The readings' mean is the true mean: se 0.4 × √(1 + 1/(6 × 0.16)) / √n.
        assert!((d.mean_ms - 0.4).abs() < 0.02, "{d:?}");
        assert_eq!(d.dist, DistKind::Lognormal);
        assert!((d.p99_ms / d.mean_ms - 8.0).abs() < 1e-9);
    }

    #[test]
    fn a_scenario_that_agrees_with_the_samples_is_kept() {
        let truth = Dist::lognormal(60.0, 450.0).unwrap();
        let Dist::Lognormal { mu, sigma } = truth else {
            unreachable!()
        };
        let d = rand_distr::LogNormal::new(mu, sigma).unwrap();
        // Over 20 seeds the 5 % test keeps the true distribution about 19
        // times: at least 15 (binomial, p 0.95, P(< 15) < 0.3 %).
        let kept = (0..20)
            .filter(|&seed| {
                let f = fit(
                    "app",
                    &truth,
                    &readings(&d, 2000, seed),
                    MeasuredBy::FrontLog,
                    1.0,
                );
                f.choice == Choice::Agrees && f.fitted.is_none()
            })
            .count();
        assert!(kept >= 15, "kept {kept} of 20");
        // A mean 20 % off is refitted.
        let wrong = Dist::lognormal(72.0, 540.0).unwrap();
        let f = fit(
            "app",
            &wrong,
            &readings(&d, 2000, 1),
            MeasuredBy::FrontLog,
            1.0,
        );
        assert_eq!(f.choice, Choice::Lognormal, "{f:?}");
        // The mean alone: a 0.4 ms service the scenario says is 0.4 ms.
        let e = rand_distr::Exp::new(1.0 / 0.4).unwrap();
        let f = fit(
            "static",
            &Dist::exponential(0.4).unwrap(),
            &readings(&e, 20_000, 5),
            MeasuredBy::FrontLog,
            1.0,
        );
        assert_eq!(f.choice, Choice::Agrees, "{f:?}");
    }

    #[test]
    fn too_few_samples_keep_the_scenario() {
        let f = fit(
            "app",
            &Dist::exponential(10.0).unwrap(),
            &[12.0; 99],
            MeasuredBy::FrontLog,
            1.0,
        );
        assert_eq!(f.choice, Choice::Keep);
        assert!(f.fitted.is_none());
        assert_eq!(f.samples, 99);
        let empty = fit(
            "app",
            &Dist::exponential(10.0).unwrap(),
            &[],
            MeasuredBy::FrontLog,
            1.0,
        );
        assert_eq!(empty.samples, 0);
        assert_eq!((empty.mean_ms, empty.p99_ms), (0.0, 0.0));
    }
}
