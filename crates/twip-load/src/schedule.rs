//! When requests are meant to start: a seeded Poisson process, homogeneous
//! at a constant rate or following a scenario's traffic profile.
//!
//! The schedule is pure and decided before anything is sent: the server's
//! answers never move an intended start time. That is what makes the
//! generator open-loop.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use twip_model::{Scenario, Traffic};

/// How requests arrive.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Arrivals {
    /// A homogeneous Poisson process.
    Poisson {
        /// Mean rate, requests/s.
        rate: f64,
    },
    /// A scenario's traffic profile (diurnal regions, spikes), played as a
    /// non-homogeneous Poisson process.
    ///
    /// Scenario time runs `speed` times faster than the generator's clock:
    /// at generator time `t` the rate is `scale × traffic.rate_at(start_s +
    /// t × speed)`. **The rate itself is not multiplied by `speed`**: with
    /// speed 60 a simulated hour plays in a minute at the scenario's own
    /// rates (the server sees the load of each hour, the hours go by
    /// faster); `scale` is the separate knob for the level.
    Profile {
        /// The scenario's name.
        scenario: String,
        /// The traffic profile.
        #[serde(skip)]
        traffic: Traffic,
        /// Scenario time (s) at which the generator starts.
        start_s: f64,
        /// Scenario time (s) at which the schedule ends, if it does.
        end_s: Option<f64>,
        /// Scenario seconds per generator second.
        speed: f64,
        /// Multiplier of the scenario's rate.
        scale: f64,
    },
}

impl Arrivals {
    /// A constant-rate Poisson process.
    pub fn poisson(rate: f64) -> Arrivals {
        Arrivals::Poisson { rate }
    }

    /// A scenario's profile from scenario time `start_s` to the scenario's
    /// end, `speed` times faster than real time, its rate times `scale`.
    pub fn scenario(scenario: &Scenario, start_s: f64, speed: f64, scale: f64) -> Arrivals {
        Arrivals::Profile {
            scenario: scenario.name.clone(),
            traffic: scenario.traffic.clone(),
            start_s,
            end_s: Some(scenario.duration_s),
            speed,
            scale,
        }
    }

    /// Rate (requests/s) at generator time `t` seconds.
    pub fn rate_at(&self, t: f64) -> f64 {
        match self {
            Arrivals::Poisson { rate } => *rate,
            Arrivals::Profile {
                traffic,
                start_s,
                speed,
                scale,
                ..
            } => scale * traffic.rate_at(start_s + t * speed),
        }
    }

    /// An upper bound of the rate over the whole run (requests/s).
    pub fn peak_rate(&self) -> f64 {
        match self {
            Arrivals::Poisson { rate } => *rate,
            Arrivals::Profile { traffic, scale, .. } => scale * traffic.peak_rate(),
        }
    }

    /// Generator seconds until the profile ends, if it does (a constant
    /// rate never ends by itself).
    pub fn span_s(&self) -> Option<f64> {
        match self {
            Arrivals::Poisson { .. } => None,
            Arrivals::Profile {
                start_s,
                end_s,
                speed,
                ..
            } => end_s.map(|e| ((e - start_s) / speed).max(0.0)),
        }
    }
}

/// The intended start times (seconds from the run's start, increasing) of
/// a run: Poisson at [`Arrivals::peak_rate`], thinned to the profile's rate
/// (exact for any rate below the bound), cut at `duration_s` and after
/// `requests` arrivals.
#[derive(Debug, Clone)]
pub struct Schedule {
    arrivals: Arrivals,
    rng: Xoshiro256PlusPlus,
    bound: f64,
    t: f64,
    n: u64,
    end: f64,
    requests: Option<u64>,
}

impl Schedule {
    /// The schedule of `arrivals` with `seed`, bounded by `duration_s` (the
    /// profile's own end too) and `requests`. Without any bound it never
    /// ends; [`crate::Config::validate`] refuses that.
    pub fn new(
        arrivals: &Arrivals,
        seed: u64,
        duration_s: Option<f64>,
        requests: Option<u64>,
    ) -> Schedule {
        let end = [duration_s, arrivals.span_s()]
            .into_iter()
            .flatten()
            .fold(f64::INFINITY, f64::min);
        Schedule {
            arrivals: arrivals.clone(),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            bound: arrivals.peak_rate(),
            t: 0.0,
            n: 0,
            end,
            requests,
        }
    }
}

impl Iterator for Schedule {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        if self.requests.is_some_and(|r| self.n >= r) || self.bound <= 0.0 {
            return None;
        }
        let constant = matches!(self.arrivals, Arrivals::Poisson { .. });
        loop {
            let u: f64 = self.rng.random();
            self.t += -(1.0 - u).ln() / self.bound;
            if self.t >= self.end {
                self.t = self.end;
                return None;
            }
            if constant || self.rng.random::<f64>() * self.bound < self.arrivals.rate_at(self.t) {
                self.n += 1;
                return Some(self.t);
            }
        }
    }
}
