//! Service-time distributions, resolved from the user's parameters.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Gamma as GammaDist, Normal};

/// z such that Φ(z) = 0.99.
const Z99: f64 = 2.326_347_874_040_840_8;

/// A service-time distribution in milliseconds, with its parameters solved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum Dist {
    /// Exponential with the given mean.
    Exponential {
        /// Mean in ms.
        mean_ms: f64,
    },
    /// Always the same value.
    Constant {
        /// The value in ms.
        mean_ms: f64,
    },
    /// `exp(N(mu, sigma²))` milliseconds.
    Lognormal {
        /// Location of ln(ms).
        mu: f64,
        /// Scale of ln(ms).
        sigma: f64,
    },
    /// Gamma with `shape` and `scale_ms` (mean = shape × scale).
    Gamma {
        /// Shape k.
        shape: f64,
        /// Scale θ in ms.
        scale_ms: f64,
    },
    /// Drawn uniformly from the samples (a bootstrap of measurements).
    Empirical {
        /// The samples in ms, sorted.
        samples_ms: Vec<f64>,
    },
}

/// A distribution parameter that cannot be used, and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadParam {
    /// The parameter to blame (`mean_ms`, `p99_ms`, `cv`, `samples_ms`).
    pub(crate) param: &'static str,
    /// What is wrong, in words.
    pub(crate) message: String,
}

fn bad(param: &'static str, message: String) -> BadParam {
    BadParam { param, message }
}

fn positive(name: &'static str, v: f64) -> Result<(), BadParam> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(bad(
            name,
            format!("{name} must be a positive number of milliseconds, got {v}"),
        ))
    }
}

impl Dist {
    /// Exponential with mean `mean_ms`.
    pub fn exponential(mean_ms: f64) -> Result<Dist, String> {
        Dist::solve_exponential(mean_ms).map_err(|e| e.message)
    }

    /// Deterministic `mean_ms`.
    pub fn constant(mean_ms: f64) -> Result<Dist, String> {
        Dist::solve_constant(mean_ms).map_err(|e| e.message)
    }

    /// The lognormal with this mean and 99th percentile; of the two that fit,
    /// the one with the smaller σ.
    pub fn lognormal(mean_ms: f64, p99_ms: f64) -> Result<Dist, String> {
        Dist::solve_lognormal(mean_ms, p99_ms).map_err(|e| e.message)
    }

    /// The gamma with this mean and coefficient of variation.
    pub fn gamma_cv(mean_ms: f64, cv: f64) -> Result<Dist, String> {
        Dist::solve_gamma_cv(mean_ms, cv).map_err(|e| e.message)
    }

    /// The gamma with this mean and 99th percentile (its shape is unique).
    pub fn gamma_p99(mean_ms: f64, p99_ms: f64) -> Result<Dist, String> {
        Dist::solve_gamma_p99(mean_ms, p99_ms).map_err(|e| e.message)
    }

    /// Resampling of measured values.
    pub fn empirical(samples_ms: Vec<f64>) -> Result<Dist, String> {
        Dist::solve_empirical(samples_ms).map_err(|e| e.message)
    }

    pub(crate) fn solve_exponential(mean_ms: f64) -> Result<Dist, BadParam> {
        positive("mean_ms", mean_ms)?;
        Ok(Dist::Exponential { mean_ms })
    }

    pub(crate) fn solve_constant(mean_ms: f64) -> Result<Dist, BadParam> {
        positive("mean_ms", mean_ms)?;
        Ok(Dist::Constant { mean_ms })
    }

    pub(crate) fn solve_lognormal(mean_ms: f64, p99_ms: f64) -> Result<Dist, BadParam> {
        positive("mean_ms", mean_ms)?;
        positive("p99_ms", p99_ms)?;
        let d = (p99_ms / mean_ms).ln();
        let max_ratio = (Z99 * Z99 / 2.0).exp();
        if d <= 0.0 || d > Z99 * Z99 / 2.0 {
            return Err(bad("p99_ms", format!(
                "a lognormal needs mean_ms < p99_ms <= {max_ratio:.1} x mean_ms, got mean {mean_ms} and p99 {p99_ms}"
            )));
        }
        let sigma = Z99 - (Z99 * Z99 - 2.0 * d).sqrt();
        let mu = mean_ms.ln() - sigma * sigma / 2.0;
        Ok(Dist::Lognormal { mu, sigma })
    }

    /// Smallest `cv` of a gamma (shape 1e5).
    pub const GAMMA_CV_MIN: f64 = 0.0032;
    /// Largest `cv` of a gamma (shape 0.01).
    pub const GAMMA_CV_MAX: f64 = 10.0;

    pub(crate) fn solve_gamma_cv(mean_ms: f64, cv: f64) -> Result<Dist, BadParam> {
        positive("mean_ms", mean_ms)?;
        if !(cv.is_finite() && cv > 0.0) {
            return Err(bad("cv", format!("cv must be a positive number, got {cv}")));
        }
        // The shapes the p99 solver allows (0.01 to 1e5): beyond them the
        // sampler has no usable gamma (a shape that rounds to 0, a variance
        // no service time has).
        if !(Self::GAMMA_CV_MIN..=Self::GAMMA_CV_MAX).contains(&cv) {
            return Err(bad(
                "cv",
                format!(
                    "a gamma's cv must be between {} and {} (shape 1e5 to \
                     0.01), got {}",
                    Self::GAMMA_CV_MIN,
                    Self::GAMMA_CV_MAX,
                    if (1e-3..1e6).contains(&cv) {
                        cv.to_string()
                    } else {
                        format!("{cv:e}")
                    }
                ),
            ));
        }
        let shape = 1.0 / (cv * cv);
        Ok(Dist::Gamma {
            shape,
            scale_ms: mean_ms / shape,
        })
    }

    pub(crate) fn solve_gamma_p99(mean_ms: f64, p99_ms: f64) -> Result<Dist, BadParam> {
        positive("mean_ms", mean_ms)?;
        positive("p99_ms", p99_ms)?;
        let ratio = p99_ms / mean_ms;
        // p99/mean of a unit-mean gamma falls from +inf (k -> 0) to 1 (k -> inf).
        let ratio_of = |k: f64| {
            GammaDist::new(k, k)
                .map(|g| g.inverse_cdf(0.99))
                .unwrap_or(f64::NAN)
        };
        let (mut lo, mut hi) = (1e-2_f64.ln(), 1e5_f64.ln());
        if !(ratio < ratio_of(lo.exp()) && ratio > ratio_of(hi.exp())) {
            return Err(bad("p99_ms", format!(
                "a gamma needs 1.01 x mean_ms < p99_ms < {:.0} x mean_ms, got mean {mean_ms} and p99 {p99_ms}",
                ratio_of(lo.exp())
            )));
        }
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if ratio_of(mid.exp()) > ratio {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let shape = (0.5 * (lo + hi)).exp();
        Ok(Dist::Gamma {
            shape,
            scale_ms: mean_ms / shape,
        })
    }

    pub(crate) fn solve_empirical(mut samples_ms: Vec<f64>) -> Result<Dist, BadParam> {
        if samples_ms.is_empty() {
            return Err(bad(
                "samples_ms",
                "an empirical distribution needs at least one sample".into(),
            ));
        }
        if let Some(v) = samples_ms.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(bad(
                "samples_ms",
                format!("samples must be non-negative milliseconds, got {v}"),
            ));
        }
        samples_ms.sort_by(f64::total_cmp);
        Ok(Dist::Empirical { samples_ms })
    }

    /// Mean in ms.
    pub fn mean_ms(&self) -> f64 {
        match self {
            Dist::Exponential { mean_ms } | Dist::Constant { mean_ms } => *mean_ms,
            Dist::Lognormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Gamma { shape, scale_ms } => shape * scale_ms,
            Dist::Empirical { samples_ms } => {
                samples_ms.iter().sum::<f64>() / samples_ms.len() as f64
            }
        }
    }

    /// Second moment E\[S²\] in ms².
    pub fn second_moment_ms2(&self) -> f64 {
        match self {
            Dist::Exponential { mean_ms } => 2.0 * mean_ms * mean_ms,
            Dist::Constant { mean_ms } => mean_ms * mean_ms,
            Dist::Lognormal { mu, sigma } => (2.0 * mu + 2.0 * sigma * sigma).exp(),
            Dist::Gamma { shape, scale_ms } => shape * (shape + 1.0) * scale_ms * scale_ms,
            Dist::Empirical { samples_ms } => {
                samples_ms.iter().map(|v| v * v).sum::<f64>() / samples_ms.len() as f64
            }
        }
    }

    /// Squared coefficient of variation.
    pub fn scv(&self) -> f64 {
        let m = self.mean_ms();
        self.second_moment_ms2() / (m * m) - 1.0
    }

    /// P(S ≤ `x_ms`).
    pub fn cdf_ms(&self, x_ms: f64) -> f64 {
        if x_ms.is_nan() {
            return f64::NAN;
        }
        match self {
            Dist::Exponential { mean_ms } => {
                if x_ms <= 0.0 {
                    0.0
                } else {
                    1.0 - (-x_ms / mean_ms).exp()
                }
            }
            Dist::Constant { mean_ms } => f64::from(u8::from(x_ms >= *mean_ms)),
            Dist::Lognormal { mu, sigma } => {
                if x_ms <= 0.0 {
                    0.0
                } else {
                    Normal::new(0.0, 1.0).map_or(f64::NAN, |n| n.cdf((x_ms.ln() - mu) / sigma))
                }
            }
            Dist::Gamma { shape, scale_ms } => {
                if x_ms <= 0.0 {
                    0.0
                } else {
                    GammaDist::new(*shape, 1.0 / scale_ms).map_or(f64::NAN, |g| g.cdf(x_ms))
                }
            }
            Dist::Empirical { samples_ms } => {
                samples_ms.partition_point(|v| *v <= x_ms) as f64 / samples_ms.len() as f64
            }
        }
    }

    /// The `p` quantile in ms (0 < p < 1).
    pub fn quantile_ms(&self, p: f64) -> f64 {
        match self {
            Dist::Exponential { mean_ms } => -mean_ms * (1.0 - p).ln(),
            Dist::Constant { mean_ms } => *mean_ms,
            Dist::Lognormal { mu, sigma } => {
                let z = Normal::new(0.0, 1.0)
                    .map(|n| n.inverse_cdf(p))
                    .unwrap_or(0.0);
                (mu + sigma * z).exp()
            }
            Dist::Gamma { shape, scale_ms } => GammaDist::new(*shape, 1.0 / scale_ms)
                .map(|g| g.inverse_cdf(p))
                .unwrap_or(f64::NAN),
            Dist::Empirical { samples_ms } => nearest_rank(samples_ms, p),
        }
    }
}

/// The `p` quantile of sorted, non-empty `samples` by nearest rank: the
/// value at rank ⌈n·p⌉ (at least the first).
pub fn nearest_rank(samples: &[f64], p: f64) -> f64 {
    let i = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len());
    samples[i - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_hits_mean_and_p99() {
        let d = Dist::lognormal(40.0, 300.0).unwrap();
        assert!((d.mean_ms() - 40.0).abs() < 1e-9);
        assert!((d.quantile_ms(0.99) - 300.0).abs() < 1e-6);
        assert!(Dist::lognormal(40.0, 30.0).is_err());
        assert!(Dist::lognormal(1.0, 20.0).is_err());
    }

    #[test]
    fn gamma_hits_mean_and_p99() {
        let d = Dist::gamma_p99(30.0, 120.0).unwrap();
        assert!((d.mean_ms() - 30.0).abs() < 1e-9);
        assert!(
            (d.quantile_ms(0.99) - 120.0).abs() < 1e-3,
            "{}",
            d.quantile_ms(0.99)
        );
        let d = Dist::gamma_cv(10.0, 0.5).unwrap();
        assert!((d.scv() - 0.25).abs() < 1e-12);
        assert!(Dist::gamma_p99(30.0, 29.0).is_err());
    }

    #[test]
    fn moments() {
        assert_eq!(Dist::exponential(2.0).unwrap().second_moment_ms2(), 8.0);
        let e = Dist::empirical(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!(e.mean_ms(), 2.0);
        assert_eq!(e.quantile_ms(0.5), 2.0);
        assert!(Dist::empirical(vec![]).is_err());
    }
}
