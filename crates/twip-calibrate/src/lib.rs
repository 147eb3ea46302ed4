//! Simulated against measured: `twip calibrate`.
//!
//! A ladder of constant rates, each a share of the plan's analytic capacity
//! on the entry path ([`ladder`]), is sent through a running Docker
//! environment's front with twip's open-loop generator (twip-load), the
//! paths drawn as the entry's routing draws its calls ([`front_paths`]).
//! The same scenario and plan are simulated at the same rates over the
//! very window measured — the same warm-up from an empty system, the same
//! length — in independent replications whose spread gives the intervals
//! ([`simulate_rate`]): a short window at 95 % of capacity has not reached
//! its steady state, and a comparison with a long simulation would blame
//! the model for it. The front's access log gives each back end's
//! response times; at the lowest rate (the least queueing) they are fitted
//! ([`fit`]), and [`calibrated_scenario`] writes the scenario again with the
//! fitted times, comments kept.
//!
//! [`calibrate`] runs the whole ladder and returns a typed
//! [`Calibration`]; it prints nothing (a [`Step`] callback follows it).

#![deny(missing_docs)]

pub mod fit;
mod write;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use statrs::distribution::{ContinuousCDF, StudentsT};
use twip_model::calibration::{
    Calibration, Estimate, Measured, MeasuredBy, Rung, ServiceFit, Simulated, VERSION,
};

/// The highest rate, in percent of capacity, whose samples are fitted:
/// above it the queueing in them would be taken for service time.
pub const FIT_MAX_PERCENT: f64 = 50.0;

/// The front's own answer (the Docker front's health location).
pub const FRONT_ALONE: &str = "/twip-health";
use twip_model::{Layout, Routing, Scenario};
use twip_sim::sizing;

pub use write::{calibrated_scenario, WriteError};

/// How a calibration runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The rates as percentages of the analytic capacity (ignored when
    /// `rates_rps` is given).
    pub percents: Vec<f64>,
    /// The rates themselves (requests/s), if chosen by hand.
    pub rates_rps: Option<Vec<f64>>,
    /// Measured seconds per rate.
    pub duration_s: f64,
    /// Seconds sent before each measurement and left out.
    pub warmup_s: f64,
    /// Independent simulated replications per rate (at least 2), each the
    /// measured window: `warmup_s` from an empty system, then `duration_s`.
    pub replications: u32,
    /// Seed of the arrivals and the simulations.
    pub seed: u64,
    /// Per-request timeout (s).
    pub timeout_s: f64,
    /// The generator's in-flight bound.
    pub max_in_flight: usize,
}

impl Default for Settings {
    /// 25, 50, 80 and 95 % of capacity, 60 s each after 10 s of warm-up;
    /// 40 simulated replications of the same window.
    fn default() -> Self {
        Settings {
            percents: vec![25.0, 50.0, 80.0, 95.0],
            rates_rps: None,
            duration_s: 60.0,
            warmup_s: 10.0,
            replications: 40,
            seed: 1,
            timeout_s: 30.0,
            max_in_flight: 2000,
        }
    }
}

/// Why a calibration could not run.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// A setting is out of range; `field` is the option's name.
    #[error("{field}: {problem}")]
    Invalid {
        /// The option.
        field: &'static str,
        /// What was expected and what was given.
        problem: String,
    },
    /// The scenario cannot be measured through the Docker front as the
    /// model has it.
    #[error("{0}")]
    Scenario(String),
    /// The generator could not run.
    #[error("load: {0}")]
    Load(#[from] twip_load::LoadError),
    /// Nothing answered.
    #[error("no request to {url} succeeded at {rate_rps:.1} requests/s ({errors} errors{}); hint: is the environment up (`twip status PLAN --target docker --env ENV`)?", first.as_ref().map(|f| format!(", the first: {f}")).unwrap_or_default())]
    NoAnswer {
        /// The target.
        url: String,
        /// The rate.
        rate_rps: f64,
        /// Failed requests.
        errors: u64,
        /// The first failure's message.
        first: Option<String>,
    },
    /// The front's log could not be read.
    #[error("reading the front's log: {0}")]
    Docker(#[from] twip_docker::DockerError),
    /// The simulation failed.
    #[error("simulating: {0}")]
    Sim(#[from] twip_sim::SimError),
    /// The async runtime could not start.
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
}

fn invalid(field: &'static str, problem: String) -> CalibrateError {
    CalibrateError::Invalid { field, problem }
}

impl Settings {
    /// Checks every setting.
    pub fn validate(&self) -> Result<(), CalibrateError> {
        let positive = |field: &'static str, x: f64, max: f64| {
            if x.is_finite() && x > 0.0 && x <= max {
                Ok(())
            } else {
                Err(invalid(
                    field,
                    format!("expected above 0 and at most {max}, got {x}"),
                ))
            }
        };
        match &self.rates_rps {
            Some(rates) if rates.is_empty() => {
                return Err(invalid("rates", "expected at least one rate".into()))
            }
            Some(rates) => {
                for &r in rates {
                    positive("rates", r, twip_load::limits::MAX_RATE)?;
                }
            }
            None if self.percents.is_empty() => {
                return Err(invalid(
                    "percents",
                    "expected at least one percentage".into(),
                ))
            }
            None => {
                for &p in &self.percents {
                    // Above 100 % the queue grows without bound: the ladder
                    // stops short of it.
                    if !(p.is_finite() && p > 0.0 && p < 100.0) {
                        return Err(invalid(
                            "percents",
                            format!(
                                "expected a percentage of capacity above 0 and below 100, got {p}"
                            ),
                        ));
                    }
                }
            }
        }
        positive("duration", self.duration_s, 86_400.0)?;
        if !(self.warmup_s.is_finite() && (0.0..=3_600.0).contains(&self.warmup_s)) {
            return Err(invalid(
                "warmup",
                format!("expected 0 to 3600 s, got {} s", self.warmup_s),
            ));
        }
        if !(2..=1000).contains(&self.replications) {
            return Err(invalid(
                "replications",
                format!(
                    "expected 2 to 1000 (the intervals are across replications), got {}",
                    self.replications
                ),
            ));
        }
        Ok(())
    }
}

/// The rates of a calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    /// The entry rate at which the bottleneck's workers are all busy.
    pub capacity_rps: f64,
    /// The bottleneck service.
    pub bottleneck: String,
    /// (percent of capacity, rate), lowest first.
    pub rungs: Vec<(f64, f64)>,
}

/// The ladder of `settings` on `scenario` (its replica counts the plan's).
pub fn ladder(scenario: &Scenario, settings: &Settings) -> Result<Ladder, CalibrateError> {
    let z = sizing::size(scenario);
    let (capacity_rps, b) = sizing::entry_capacity(scenario, &z);
    if !(capacity_rps.is_finite() && capacity_rps > 0.0) {
        return Err(CalibrateError::Scenario(format!(
            "scenario {:?} has no finite capacity on its entry path (no service holds a worker)",
            scenario.name
        )));
    }
    let mut rungs: Vec<(f64, f64)> = match &settings.rates_rps {
        Some(rates) => rates
            .iter()
            .map(|&r| (100.0 * r / capacity_rps, r))
            .collect(),
        None => settings
            .percents
            .iter()
            .map(|&p| (p, capacity_rps * p / 100.0))
            .collect(),
    };
    rungs.sort_by(|a, b| a.1.total_cmp(&b.1));
    if let Some(&(_, r)) = rungs.iter().find(|(_, r)| *r > twip_load::limits::MAX_RATE) {
        return Err(invalid(
            "percents",
            format!(
                "the ladder asks for {r:.0} requests/s, above the generator's {}",
                twip_load::limits::MAX_RATE
            ),
        ));
    }
    Ok(Ladder {
        capacity_rps,
        bottleneck: scenario.services[b].name.clone(),
        rungs,
    })
}

/// The entry's calls as the Docker front's locations, with their
/// probabilities: `/NAME/` for each called service, `/twip-health` (the
/// front's own answer) for what it serves itself. Refused when the model's
/// front would fan a request out (`routing = "all"` with several calls),
/// which one URL per request cannot reproduce.
pub fn front_paths(scenario: &Scenario) -> Result<Vec<(String, f64)>, CalibrateError> {
    let entry = &scenario.services[scenario.traffic.entry];
    if entry.routing == Routing::All && entry.calls.len() > 1 {
        return Err(CalibrateError::Scenario(format!(
            "{}: the entry service {:?} calls {} services per request (routing = \"all\"); the \
             Docker front sends each request to one location, so the measured mix would not be \
             the model's: calibrate a scenario whose entry has routing = \"one\"",
            scenario.path.display(),
            entry.name,
            entry.calls.len()
        )));
    }
    let mut paths: Vec<(String, f64)> = entry
        .calls
        .iter()
        .filter(|c| c.probability > 0.0)
        .map(|c| (format!("/{}/", scenario.services[c.to].name), c.probability))
        .collect();
    let called: f64 = paths.iter().map(|(_, p)| p).sum();
    if called < 1.0 - 1e-9 {
        paths.push((FRONT_ALONE.into(), 1.0 - called));
    }
    Ok(paths)
}

/// `scenario` at a constant `rate_rps`: no regions, spikes, surges,
/// failures, autoscaling or schedules; `duration_s` long after `warmup_s`.
pub fn at_constant_rate(
    scenario: &Scenario,
    rate_rps: f64,
    warmup_s: f64,
    duration_s: f64,
) -> Scenario {
    let mut s = scenario.clone();
    s.traffic.rps = rate_rps;
    s.traffic.regions.clear();
    s.traffic.spikes.clear();
    s.traffic.surprises.clear();
    s.failures.clear();
    s.warmup_s = warmup_s;
    s.duration_s = warmup_s + duration_s;
    for svc in &mut s.services {
        svc.autoscaling = None;
        svc.schedule.clear();
    }
    s.infrastructure.autoscaling = None;
    s
}

/// The two-sided 95 % Student t quantile for `n` samples.
fn t95(n: usize) -> f64 {
    StudentsT::new(0.0, 1.0, (n.max(2) - 1) as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

/// The mean of `xs`, its 95 % confidence half-width and the 95 %
/// prediction half-width of one more sample.
pub fn estimate(xs: &[f64]) -> Estimate {
    let n = xs.len() as f64;
    let value = xs.iter().sum::<f64>() / n;
    let sd = (xs.iter().map(|x| (x - value).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    let t = t95(xs.len());
    Estimate {
        value,
        ci95: t * sd / n.sqrt(),
        pi95: t * sd * (1.0 + 1.0 / n).sqrt(),
    }
}

/// Simulates `scenario` with `layout` at a constant `rate_rps`, the
/// measured window exactly (`warmup_s` from an empty system, then
/// `duration_s`), in the settings' replications, each with its own seed:
/// every figure the mean over them with its intervals.
pub fn simulate_rate(
    scenario: &Scenario,
    layout: &Layout,
    rate_rps: f64,
    settings: &Settings,
) -> Result<Simulated, CalibrateError> {
    let s = at_constant_rate(scenario, rate_rps, settings.warmup_s, settings.duration_s);
    let mut runs = Vec::with_capacity(settings.replications as usize);
    for k in 0..settings.replications {
        let opts = twip_sim::Options {
            seed: Some(settings.seed.wrapping_add(u64::from(k))),
            replications: 1,
            layout: Some(layout.clone()),
            ..Default::default()
        };
        runs.push(twip_sim::simulate(&s, &opts)?);
    }
    let of = |f: &dyn Fn(&twip_sim::SimReport) -> f64| -> Estimate {
        estimate(&runs.iter().map(f).collect::<Vec<f64>>())
    };
    Ok(Simulated {
        requests: runs.iter().map(|r| r.requests).sum(),
        error_rate: of(&|r| r.error_rate),
        mean_ms: of(&|r| r.latency_ms.mean),
        p50_ms: of(&|r| r.latency_ms.p50),
        p95_ms: of(&|r| r.latency_ms.p95),
        p99_ms: of(&|r| r.latency_ms.p99),
    })
}

/// `scenario` with the fitted service times; `None` when nothing was
/// fitted.
pub fn with_fits(scenario: &Scenario, fits: &[ServiceFit]) -> Option<Scenario> {
    let mut s = scenario.clone();
    let mut changed = false;
    for f in fits {
        if let (Some(d), Some(svc)) = (
            fit::to_dist(f),
            s.services.iter_mut().find(|x| x.name == f.service),
        ) {
            svc.service_time = d;
            changed = true;
        }
    }
    changed.then_some(s)
}

/// Where a calibration measures.
#[derive(Debug, Clone)]
pub struct Target {
    /// The Docker environment (its front's log is read).
    pub env: String,
    /// The front's URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The plan file, for the record.
    pub plan_file: std::path::PathBuf,
}

/// Where a calibration is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Timing the front's own answer at `rate_rps` for `seconds`.
    Probe {
        /// The rate (requests/s).
        rate_rps: f64,
        /// Warm-up and measurement (s).
        seconds: f64,
    },
    /// Sending rate `rung` of `of` (0-based) for `seconds`.
    Measure {
        /// Which rate.
        rung: usize,
        /// How many.
        of: usize,
        /// The rate (requests/s).
        rate_rps: f64,
        /// Warm-up and measurement (s).
        seconds: f64,
    },
    /// Simulating rate `rung`.
    Simulate {
        /// Which rate.
        rung: usize,
        /// How many.
        of: usize,
    },
}

fn now_unix_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Runs the ladder on `target`: measures and simulates every rate, then
/// fits the services from the lowest rate, when it is at most
/// [`FIT_MAX_PERCENT`] of capacity (else `fits` is empty).
/// `scenario` carries the plan's replica counts and `layout` its placement
/// (`twip_model::consistency::bind`).
pub fn calibrate(
    scenario: &Scenario,
    layout: &Layout,
    target: &Target,
    settings: &Settings,
    progress: &mut dyn FnMut(Step),
) -> Result<Calibration, CalibrateError> {
    settings.validate()?;
    let ladder = ladder(scenario, settings)?;
    let paths = front_paths(scenario)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CalibrateError::Runtime)?;
    let of = ladder.rungs.len();
    let mut rungs = Vec::with_capacity(of);
    let mut lowest_log = Vec::new();
    let seconds = settings.warmup_s + settings.duration_s;
    // One constant rate to `paths`, its latency summary; an error when
    // nothing answered.
    let send = |rate_rps: f64, paths: Vec<(String, f64)>, seed: u64| {
        let config = twip_load::Config {
            duration_s: Some(seconds),
            warmup_s: settings.warmup_s,
            timeout_s: settings.timeout_s,
            max_in_flight: settings.max_in_flight,
            seed,
            paths,
            ..twip_load::Config::new(target.url.clone(), twip_load::Arrivals::poisson(rate_rps))
        };
        let report = runtime.block_on(twip_load::run_async(&config))?;
        match report.latency_ms {
            Some(lat) => Ok((report, lat)),
            None => Err(CalibrateError::NoAnswer {
                url: target.url.clone(),
                rate_rps,
                errors: report.errors.total,
                first: report.errors.first_message.clone(),
            }),
        }
    };
    // The front alone, at the lowest rate: what a request costs besides
    // its back ends.
    let probe_rate = ladder.rungs.first().map_or(1.0, |r| r.1);
    progress(Step::Probe {
        rate_rps: probe_rate,
        seconds,
    });
    let (probe, _) = send(
        probe_rate,
        vec![(FRONT_ALONE.to_string(), 1.0)],
        settings.seed.wrapping_sub(1),
    )?;
    let mut front_samples = Vec::new();
    for v in probe.histogram.iter_recorded() {
        let ms = probe.histogram.median_equivalent(v.value_iterated_to()) as f64 / 1000.0;
        front_samples.extend(std::iter::repeat_n(ms, v.count_at_value() as usize));
    }
    for (k, &(percent, rate_rps)) in ladder.rungs.iter().enumerate() {
        progress(Step::Measure {
            rung: k,
            of,
            rate_rps,
            seconds,
        });
        let started = now_unix_s();
        let (report, lat) = send(
            rate_rps,
            paths.clone(),
            settings.seed.wrapping_add(k as u64),
        )?;
        let ended = now_unix_s();
        let measured = Measured {
            requests: report.requests,
            sent_rps: report.sent_rate,
            error_rate: if report.requests > 0 {
                report.errors.total as f64 / report.requests as f64
            } else {
                0.0
            },
            mean_ms: lat.mean_ms,
            p50_ms: lat.p50_ms,
            p95_ms: lat.p95_ms,
            p99_ms: lat.p99_ms,
            late: report.late,
        };
        if k == 0 {
            // nginx flushes its log buffer each second.
            std::thread::sleep(Duration::from_millis(1500));
            lowest_log = runtime.block_on(twip_docker::upstream_times(
                &target.env,
                started + settings.warmup_s,
                ended,
            ))?;
        }
        progress(Step::Simulate { rung: k, of });
        let simulated = simulate_rate(scenario, layout, rate_rps, settings)?;
        rungs.push(Rung {
            percent,
            rate_rps,
            measured,
            simulated,
            calibrated: None,
        });
    }
    let lowest = ladder.rungs.first().map_or(100.0, |r| r.0);
    let mut fits = Vec::new();
    if lowest <= FIT_MAX_PERCENT {
        fits = fit_all(scenario, &front_samples, &lowest_log);
    }
    // The same rates again with the fitted times.
    let fitted = with_fits(scenario, &fits);
    if let Some(fitted) = &fitted {
        for (k, rung) in rungs.iter_mut().enumerate() {
            progress(Step::Simulate { rung: k, of });
            rung.calibrated = Some(simulate_rate(fitted, layout, rung.rate_rps, settings)?);
        }
    }
    Ok(Calibration {
        version: VERSION,
        scenario: scenario.name.clone(),
        scenario_file: scenario.path.clone(),
        plan_file: target.plan_file.clone(),
        env: target.env.clone(),
        url: target.url.clone(),
        paths,
        capacity_rps: ladder.capacity_rps,
        bottleneck: ladder.bottleneck,
        duration_s: settings.duration_s,
        warmup_s: settings.warmup_s,
        replications: settings.replications,
        rungs,
        fits,
    })
}

/// The entry's time from the generator's samples of its own answer, each
/// service behind it from the front's log.
fn fit_all(
    scenario: &Scenario,
    front_samples: &[f64],
    log: &[twip_docker::UpstreamTime],
) -> Vec<ServiceFit> {
    let entry = &scenario.services[scenario.traffic.entry];
    let mut fits = vec![fit::fit(
        &entry.name,
        &entry.service_time,
        front_samples,
        MeasuredBy::Generator,
        fit::GENERATOR_TICK_MS,
    )];
    for c in &entry.calls {
        let svc = &scenario.services[c.to];
        let samples: Vec<f64> = log
            .iter()
            .filter(|t| t.service == svc.name && t.status < 400)
            .map(|t| t.ms)
            .collect();
        fits.push(fit::fit(
            &svc.name,
            &svc.service_time,
            &samples,
            MeasuredBy::FrontLog,
            fit::NGINX_TICK_MS,
        ));
    }
    fits
}
