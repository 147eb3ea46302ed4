//! The calibration file `twip calibrate` writes (`calibration.json`) and
//! `twip report --calibration` reads: a ladder of constant rates, each
//! measured on a running environment and simulated for the same plan, and
//! the service times fitted to what the front measured.
//!
//! Only values: the measuring, the simulating and the fitting are in
//! twip-calibrate; the sentences are made by whoever shows them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Dist, Error};

/// The version of the format this crate writes and reads.
pub const VERSION: u32 = 1;

/// One calibration run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// The format's version ([`VERSION`]).
    pub version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file, as given.
    pub scenario_file: PathBuf,
    /// The plan file, as given.
    pub plan_file: PathBuf,
    /// The environment measured.
    pub env: String,
    /// The URL the load went to.
    pub url: String,
    /// The paths requests were drawn from, with their weights (the entry's
    /// routing as the front's locations).
    pub paths: Vec<(String, f64)>,
    /// The entry rate at which the bottleneck's workers are all busy
    /// (requests/s, analytic: replicas × workers ÷ (visits × holding time)).
    pub capacity_rps: f64,
    /// The service that sets `capacity_rps`.
    pub bottleneck: String,
    /// Measured seconds per rate, after the warm-up.
    pub duration_s: f64,
    /// Warm-up seconds per rate, left out of the measurement.
    pub warmup_s: f64,
    /// Independent simulated replications per rate, each the measured
    /// window exactly (the same warm-up from an empty system, the same
    /// length): the intervals are across them.
    pub replications: u32,
    /// The rates, lowest first.
    pub rungs: Vec<Rung>,
    /// The service times fitted to the front's log at the lowest rate.
    pub fits: Vec<ServiceFit>,
}

/// One constant rate, measured and simulated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    /// The rate as a percentage of `capacity_rps`.
    pub percent: f64,
    /// The rate (requests/s).
    pub rate_rps: f64,
    /// What the load generator measured.
    pub measured: Measured,
    /// What the simulator predicts.
    pub simulated: Simulated,
    /// What it predicts with the fitted service times (`None` when no
    /// service's time was fitted).
    pub calibrated: Option<Simulated>,
}

/// The measured side of a rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measured {
    /// Requests sent after the warm-up.
    pub requests: u64,
    /// Requests/s actually sent.
    pub sent_rps: f64,
    /// Failed requests ÷ requests.
    pub error_rate: f64,
    /// Latency of the successful responses from their intended start (ms).
    pub mean_ms: f64,
    /// Median (ms).
    pub p50_ms: f64,
    /// 95th percentile (ms).
    pub p95_ms: f64,
    /// 99th percentile (ms).
    pub p99_ms: f64,
    /// Requests sent more than 10 ms late: the generator, not the target,
    /// limited them (a figure above 1 % of `requests` makes the rate suspect).
    pub late: u64,
}

/// A simulated figure over the replications.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Estimate {
    /// The mean over the replications.
    pub value: f64,
    /// The 95 % confidence half-width of that mean (Student's t).
    pub ci95: f64,
    /// The 95 % prediction half-width of one window: a measurement of one
    /// window as long as the replications falls within `value ± pi95` 95 %
    /// of the time if the model is right.
    pub pi95: f64,
}

impl Estimate {
    /// `measured` against this estimate, in percent of it; `None` when it
    /// is not positive.
    pub fn error_pct(&self, measured: f64) -> Option<f64> {
        (self.value > 0.0).then(|| 100.0 * (measured - self.value) / self.value)
    }

    /// Whether `measured` is within the prediction interval.
    pub fn admits(&self, measured: f64) -> bool {
        (measured - self.value).abs() <= self.pi95
    }
}

/// The latency figures a rate compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Median.
    P50,
    /// 95th percentile.
    P95,
    /// 99th percentile.
    P99,
    /// Mean.
    Mean,
}

impl Figure {
    /// In the order they are shown.
    pub const ALL: [Figure; 4] = [Figure::P50, Figure::P95, Figure::P99, Figure::Mean];

    /// `p50`, `p95`, `p99`, `mean`.
    pub fn name(self) -> &'static str {
        match self {
            Figure::P50 => "p50",
            Figure::P95 => "p95",
            Figure::P99 => "p99",
            Figure::Mean => "mean",
        }
    }
}

impl Measured {
    /// The figure `f` (ms).
    pub fn get(&self, f: Figure) -> f64 {
        match f {
            Figure::P50 => self.p50_ms,
            Figure::P95 => self.p95_ms,
            Figure::P99 => self.p99_ms,
            Figure::Mean => self.mean_ms,
        }
    }
}

impl Simulated {
    /// The figure `f` (ms).
    pub fn get(&self, f: Figure) -> Estimate {
        match f {
            Figure::P50 => self.p50_ms,
            Figure::P95 => self.p95_ms,
            Figure::P99 => self.p99_ms,
            Figure::Mean => self.mean_ms,
        }
    }
}

/// The simulated side of a rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulated {
    /// Requests simulated over every replication, after their warm-up.
    pub requests: u64,
    /// Error rate.
    pub error_rate: Estimate,
    /// Mean latency (ms).
    pub mean_ms: Estimate,
    /// Median (ms).
    pub p50_ms: Estimate,
    /// 95th percentile (ms).
    pub p95_ms: Estimate,
    /// 99th percentile (ms).
    pub p99_ms: Estimate,
}

/// A family of service-time distributions, as a scenario's `dist` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistKind {
    /// `exponential`.
    Exponential,
    /// `constant`.
    Constant,
    /// `lognormal`.
    Lognormal,
    /// `gamma`.
    Gamma,
    /// `empirical`.
    Empirical,
}

impl DistKind {
    /// The family of `d`.
    pub fn of(d: &Dist) -> DistKind {
        match d {
            Dist::Exponential { .. } => DistKind::Exponential,
            Dist::Constant { .. } => DistKind::Constant,
            Dist::Lognormal { .. } => DistKind::Lognormal,
            Dist::Gamma { .. } => DistKind::Gamma,
            Dist::Empirical { .. } => DistKind::Empirical,
        }
    }

    /// The scenario's name for it.
    pub fn name(self) -> &'static str {
        match self {
            DistKind::Exponential => "exponential",
            DistKind::Constant => "constant",
            DistKind::Lognormal => "lognormal",
            DistKind::Gamma => "gamma",
            DistKind::Empirical => "empirical",
        }
    }

    /// Whether its mean says all (exponential, constant): a p99 is not
    /// written or shown for it.
    pub fn is_mean_only(self) -> bool {
        matches!(self, DistKind::Exponential | DistKind::Constant)
    }
}

/// A service-time distribution as a scenario writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistSummary {
    /// Its family.
    pub dist: DistKind,
    /// Mean (ms).
    pub mean_ms: f64,
    /// 99th percentile (ms).
    pub p99_ms: f64,
}

impl DistSummary {
    /// How a scenario's distribution reads.
    pub fn of(d: &Dist) -> DistSummary {
        DistSummary {
            dist: DistKind::of(d),
            mean_ms: d.mean_ms(),
            p99_ms: d.quantile_ms(0.99),
        }
    }

    /// The distribution the simulator draws; `None` for an empirical one
    /// (no samples here) or parameters the model refuses.
    pub fn to_dist(&self) -> Option<Dist> {
        match self.dist {
            DistKind::Lognormal => Dist::lognormal(self.mean_ms, self.p99_ms).ok(),
            DistKind::Gamma => Dist::gamma_p99(self.mean_ms, self.p99_ms).ok(),
            DistKind::Exponential => Dist::exponential(self.mean_ms).ok(),
            DistKind::Constant => Dist::constant(self.mean_ms).ok(),
            DistKind::Empirical => None,
        }
    }
}

/// A candidate distribution fitted to the samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// Mean (ms).
    pub mean_ms: f64,
    /// 99th percentile (ms).
    pub p99_ms: f64,
    /// Coefficient of variation.
    pub cv: f64,
    /// Kolmogorov–Smirnov distance to the samples (0 to 1, smaller fits
    /// better).
    pub ks: f64,
}

/// Which fit a calibrated scenario takes for a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// The lognormal (maximum likelihood) fits best.
    Lognormal,
    /// The gamma (moments) fits best.
    Gamma,
    /// The times are too short for nginx's 1 ms clock to show their shape:
    /// the measured mean (the clock's differences are unbiased) with the
    /// scenario's shape.
    MeanOnly,
    /// The scenario's distribution agrees with the samples (its
    /// Kolmogorov–Smirnov distance, or for `mean_only` its mean, within
    /// the 5 % critical value): kept.
    Agrees,
    /// Too few samples: the scenario's distribution is kept.
    Keep,
}

/// Where a service's times were measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasuredBy {
    /// nginx's upstream response times in the front's access log (1 ms
    /// clock, connection to the back end included).
    FrontLog,
    /// The latency of the front's own answer (`/twip-health`) as the load
    /// generator saw it: the front, the loopback, the port forwarding and
    /// the generator itself, everything a request costs besides its back
    /// end.
    Generator,
}

/// One service's times as the front measured them, and the fits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFit {
    /// The service.
    pub service: String,
    /// How its times were measured.
    pub measured_by: MeasuredBy,
    /// The resolution of the samples (ms).
    pub tick_ms: f64,
    /// Successful responses measured.
    pub samples: u64,
    /// Mean of the samples (ms).
    pub mean_ms: f64,
    /// Its 95 % confidence half-width (ms): near capacity the utilisation,
    /// and so the queueing, moves with the mean, so this bounds what a
    /// calibrated simulation can promise there.
    pub mean_ci95_ms: f64,
    /// Median of the samples (ms).
    pub p50_ms: f64,
    /// 99th percentile of the samples (ms).
    pub p99_ms: f64,
    /// The scenario's distribution.
    pub scenario: DistSummary,
    /// Its Kolmogorov–Smirnov distance to the samples, when the shape is
    /// measurable.
    pub scenario_ks: Option<f64>,
    /// The lognormal by maximum likelihood, when the shape is measurable.
    pub lognormal: Option<Candidate>,
    /// The gamma by moments, when the shape is measurable.
    pub gamma: Option<Candidate>,
    /// What the calibrated scenario takes.
    pub choice: Choice,
    /// The scenario's mean is inside the samples' 95 % interval, so the
    /// fit's shape is taken at the scenario's mean: the samples cannot
    /// tell the two means apart, and near capacity the difference would
    /// be noise amplified into queueing.
    pub level_kept: bool,
    /// The distribution the calibrated scenario writes (`None` for `keep`).
    pub fitted: Option<DistSummary>,
}

impl Calibration {
    /// Reads a calibration file; an error names the file, the line and what
    /// was expected.
    pub fn load(path: impl AsRef<Path>) -> Result<Calibration, Error> {
        let path = path.as_ref();
        let src = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let de = &mut serde_json::Deserializer::from_str(&src);
        let c: Calibration = serde_path_to_error::deserialize(de).map_err(|e| Error::Syntax {
            path: path.to_path_buf(),
            line: e.inner().line().max(1),
            message: format!(
                "not a twip calibration (from `twip calibrate --out`): at `{}`: {}",
                e.path(),
                e.inner()
            ),
        })?;
        if c.version != VERSION {
            return Err(Error::Syntax {
                path: path.to_path_buf(),
                line: 1,
                message: format!(
                    "calibration format version {} is not the one this twip reads ({VERSION})",
                    c.version
                ),
            });
        }
        Ok(c)
    }
}
