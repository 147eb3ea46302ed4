//! `twip calibrate`: flags into [`twip_calibrate::Settings`], the running
//! environment found (or applied), the ladder followed on stderr, the
//! [`Calibration`] printed as tables or JSON and written to `--out`, the
//! calibrated scenario to `--write-scenario`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use twip_calibrate::{Settings, Step, Target};
use twip_model::calibration::{
    Calibration, Choice, DistSummary, Estimate, Figure, ServiceFit, Simulated,
};

use crate::apply::Target as ApplyTarget;
use crate::{err, ui, CmdResult, Format};

const EXAMPLES: &str = "\
Examples:
  twip calibrate training-plan.json --target docker --env training
  twip calibrate plan.json --target docker --env t --apply --percents 50,80,95 --duration 2m --warmup 30s
  twip calibrate plan.json --target docker --env t --rates 20,40 --write-scenario calibrated.toml

Then `twip report SCENARIO --calibration calibration.json --out DIR` adds
the comparison to a report.

Each rate is a constant Poisson load through the environment's front, the
paths drawn as the entry's routing draws its calls (/static/ 60 %, /app/
40 % for training); latency counts from each request's intended start. The
same scenario and plan are simulated at the same rates over the same window
(the warm-up from an empty system, then the measured time), in independent
replications: \"simulated\" is their mean with its 95 % confidence interval,
and a measurement is \"within\" when it falls in the 95 % range of one
window. Near capacity the queue takes long to settle: give a longer
--warmup and --duration there. The back ends' times come from the
front's access log at the lowest rate, where queueing is least, and are
fitted (lognormal by maximum likelihood, gamma by moments; times too short
for nginx's 1 ms clock keep the scenario's shape at the measured mean).
--write-scenario writes the scenario again with the fitted times, its
comments kept, and every rate is simulated with them too.

Traffic goes to 127.0.0.1 only. Exit codes: 0 it ran; 1 bad input, an
environment that does not run the plan, or nothing answered.";

/// Arguments of `twip calibrate`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct CalibrateArgs {
    /// Plan file (from `twip plan --out`), running in the environment.
    pub plan: PathBuf,
    /// Where the environment runs (only docker: the front's log is read).
    #[arg(long, value_enum)]
    pub target: ApplyTarget,
    /// Environment name.
    #[arg(long, default_value = "default")]
    pub env: String,
    /// The plan's scenario (default: the one the plan names).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Apply the plan first (as `twip apply`), instead of refusing an
    /// environment that does not run it.
    #[arg(long)]
    pub apply: bool,
    /// Host port of the front [default: the one it publishes, else 8080].
    #[arg(long)]
    pub port: Option<u16>,
    /// The rates as percentages of the plan's analytic capacity on the entry path.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "25,50,80,95",
        conflicts_with = "rates"
    )]
    pub percents: Vec<f64>,
    /// The rates in requests/s instead.
    #[arg(long, value_delimiter = ',')]
    pub rates: Option<Vec<f64>>,
    /// Measured time per rate.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub duration: f64,
    /// Sent before each measurement and left out.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub warmup: f64,
    /// Simulated replications per rate, each the measured window (the
    /// intervals are across them).
    #[arg(long, default_value_t = 40)]
    pub replications: u32,
    /// Seed of the arrivals and the simulations.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write the calibration (for `twip report --calibration`).
    #[arg(long, default_value = "calibration.json")]
    pub out: PathBuf,
    /// Also write the scenario with the fitted service times here.
    #[arg(long, value_name = "FILE.toml")]
    pub write_scenario: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn parse_duration(s: &str) -> Result<f64, String> {
    twip_model::parse_duration(s)
}

/// Writes `text` to `path` whole or not at all (a temporary file beside
/// it, then a rename).
fn write_whole(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("twip-tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: cannot write: {e}", path.display())
        })
}

/// Runs `twip calibrate`: 0 when it ran, 1 on bad input or failure.
pub fn run(args: CalibrateArgs) -> CmdResult {
    if args.target != ApplyTarget::Docker {
        return err(
            "calibrate measures a Docker environment (it reads the front's access log): use \
             --target docker",
        );
    }
    let settings = Settings {
        percents: args.percents.clone(),
        rates_rps: args.rates.clone(),
        duration_s: args.duration,
        warmup_s: args.warmup,
        replications: args.replications,
        seed: args.seed,
        ..Settings::default()
    };
    settings.validate()?;
    let (plan, scenario) = crate::apply::load_plan(&args.plan, args.scenario.as_ref())?;
    let layout = plan.layout(&scenario)?;
    // Refuse what cannot be measured before anything is applied or sent.
    let ladder = twip_calibrate::ladder(&scenario, &settings)?;
    twip_calibrate::front_paths(&scenario)?;
    let scenario_text = match &args.write_scenario {
        Some(_) => Some(
            std::fs::read_to_string(&scenario.path)
                .map_err(|e| format!("{}: cannot read: {e}", scenario.path.display()))?,
        ),
        None => None,
    };
    let url = crate::apply::docker::running_front(
        &args.plan,
        args.scenario.as_ref(),
        &args.env,
        args.port,
        args.apply,
    )?;
    if !ui::quiet() {
        eprintln!(
            "twip: {}: capacity {:.1} requests/s on the entry path ({} is the bottleneck); rates {}",
            scenario.name,
            ladder.capacity_rps,
            ladder.bottleneck,
            ladder
                .rungs
                .iter()
                .map(|(p, r)| format!("{r:.1}/s ({p:.0} %)"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let target = Target {
        env: args.env.clone(),
        url,
        plan_file: args.plan.clone(),
    };
    let mut progress = |step: Step| {
        if ui::quiet() {
            return;
        }
        match step {
            Step::Probe { rate_rps, seconds } => eprintln!(
                "twip: the front alone ({}): sending {rate_rps:.1} requests/s for {seconds:.0} s",
                twip_calibrate::FRONT_ALONE
            ),
            Step::Measure {
                rung,
                of,
                rate_rps,
                seconds,
            } => eprintln!(
                "twip: rate {}/{of}: sending {rate_rps:.1} requests/s for {seconds:.0} s",
                rung + 1
            ),
            Step::Simulate { rung, of } => {
                if ui::verbose() {
                    eprintln!("twip: rate {}/{of}: simulating", rung + 1);
                }
            }
        }
    };
    let c = twip_calibrate::calibrate(&scenario, &layout, &target, &settings, &mut progress)?;
    let json = serde_json::to_string_pretty(&c)? + "\n";
    write_whole(&args.out, &json)?;
    if let (Some(path), Some(text)) = (&args.write_scenario, &scenario_text) {
        let out =
            twip_calibrate::calibrated_scenario(text, &scenario.path, path, &c.fits, &header(&c))?;
        write_whole(path, &out)?;
    }
    match args.format {
        Format::Json => crate::write_stdout(&json),
        Format::Table => out!("{}", table(&c)),
    }
    if !ui::quiet() {
        eprintln!("twip: wrote {}", args.out.display());
        if let Some(p) = &args.write_scenario {
            eprintln!("twip: wrote {}", p.display());
        }
        for r in &c.rungs {
            if r.measured.late > r.measured.requests / 100 {
                eprintln!(
                    "twip: warning: at {:.1} requests/s, {} of {} requests went out more than \
                     10 ms late: the generator, not the environment, limited that rate",
                    r.rate_rps, r.measured.late, r.measured.requests
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The comment on top of a calibrated scenario.
fn header(c: &Calibration) -> String {
    let mut h = format!(
        "Calibrated by `twip calibrate` from {} ({} on {}): the service times below were\n\
         fitted to what was measured at {:.1} requests/s (the back ends' from the front's log,\n\
         the front's from the latency of its own answer); nothing else changed.",
        c.scenario_file.display(),
        c.env,
        c.url,
        c.rungs.first().map_or(0.0, |r| r.rate_rps)
    );
    for f in &c.fits {
        h.push('\n');
        h.push_str(&format!("  {}: {}", f.service, fit_sentence(f)));
    }
    h
}

fn dist(d: &DistSummary) -> String {
    let name = d.dist.name();
    if !d.dist.is_mean_only() {
        format!("{name} mean {} p99 {}", ms(d.mean_ms), ms(d.p99_ms))
    } else {
        format!("{name} mean {}", ms(d.mean_ms))
    }
}

/// A length of time in ms with the digits that matter.
fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0} ms")
    } else if x >= 10.0 {
        format!("{x:.1} ms")
    } else {
        format!("{x:.2} ms")
    }
}

fn fit_sentence(f: &ServiceFit) -> String {
    let was = dist(&f.scenario);
    match (&f.choice, &f.fitted) {
        (Choice::Agrees, _) => format!(
            "kept {was}: it agrees with the {} samples (within the 5 % critical value{})",
            f.samples,
            f.scenario_ks
                .map(|k| format!(", KS {k:.3}"))
                .unwrap_or_else(|| ", the mean".into())
        ),
        (Choice::Keep, _) | (_, None) => format!(
            "kept {was} ({} samples, fewer than {} needed)",
            f.samples,
            twip_calibrate::fit::MIN_SAMPLES
        ),
        (Choice::MeanOnly, Some(d)) => format!(
            "{} (was {was}): the measured mean, the scenario's shape (a median of {} is too short \
             for nginx's 1 ms clock to show a shape)",
            dist(d),
            ms(f.p50_ms)
        ),
        (_, Some(d)) if f.level_kept => format!(
            "{} (was {was}): the measured shape at the scenario's mean, which the samples' \
             {} ± {:.1} ms holds",
            dist(d),
            ms(f.mean_ms),
            f.mean_ci95_ms
        ),
        (_, Some(d)) => format!("{} (was {was})", dist(d)),
    }
}

fn pct(e: &Estimate, measured: f64) -> String {
    e.error_pct(measured)
        .map_or("-".into(), |x| format!("{x:+.1} %"))
}

/// Whether one window's measurement falls in the simulated 95 % range.
fn within(e: &Estimate, measured: f64) -> String {
    if e.admits(measured) { "yes" } else { "no" }.into()
}

fn est(e: &Estimate, digits: usize) -> String {
    format!("{:.digits$} ± {:.digits$}", e.value, e.ci95)
}

/// The ladder and the fits as tables.
fn table(c: &Calibration) -> String {
    let fitted = c.rungs.iter().any(|r| r.calibrated.is_some());
    let mut head = vec![
        ">rate/s",
        ">% cap",
        "figure",
        ">measured",
        ">simulated (95 % CI)",
        ">error",
        "within",
    ];
    if fitted {
        head.extend([">calibrated", ">error ", "within "]);
    }
    let mut t = ui::table(&head);
    for r in &c.rungs {
        // The latency figures, then the error rate in percent.
        let pick = |row: Option<Figure>, s: &Simulated| match row {
            Some(f) => s.get(f),
            None => Estimate {
                value: 100.0 * s.error_rate.value,
                ci95: 100.0 * s.error_rate.ci95,
                pi95: 100.0 * s.error_rate.pi95,
            },
        };
        let rows = Figure::ALL.into_iter().map(Some).chain([None]);
        for (k, row) in rows.enumerate() {
            let (name, m, digits) = match row {
                Some(f) => (format!("{} ms", f.name()), r.measured.get(f), 1),
                None => ("errors %".to_string(), 100.0 * r.measured.error_rate, 3),
            };
            let sim = pick(row, &r.simulated);
            let mut cells = vec![
                if k == 0 {
                    format!("{:.1}", r.rate_rps)
                } else {
                    String::new()
                },
                if k == 0 {
                    format!("{:.0}", r.percent)
                } else {
                    String::new()
                },
                name,
                format!("{m:.digits$}"),
                est(&sim, digits),
                if row.is_some() {
                    pct(&sim, m)
                } else {
                    String::new()
                },
                within(&sim, m),
            ];
            if let Some(cal) = &r.calibrated {
                let cal = pick(row, cal);
                cells.push(est(&cal, digits));
                cells.push(if row.is_some() {
                    pct(&cal, m)
                } else {
                    String::new()
                });
                cells.push(within(&cal, m));
            }
            t.add_row(cells);
        }
    }
    let mut out = format!(
        "{}: {} on {}, capacity {:.1} requests/s on the entry path ({} is the bottleneck); \
         {:.0} s measured per rate after {:.0} s of warm-up, the same window simulated {} times; \
         within: the measurement falls in the 95 % range of one simulated window\n\n",
        c.scenario,
        c.env,
        c.url,
        c.capacity_rps,
        c.bottleneck,
        c.duration_s,
        c.warmup_s,
        c.replications
    );
    out.push_str(&ui::render(&t));
    let lowest = c.rungs.first().map_or(0.0, |r| r.percent);
    if c.fits.is_empty() && lowest > twip_calibrate::FIT_MAX_PERCENT {
        out.push_str(&format!(
            "\nno service time fitted: the lowest rate is {lowest:.0} % of capacity, above the {:.0} % \
             a fit needs (the queueing in the samples would be taken for service time); add a \
             lower rate\n",
            twip_calibrate::FIT_MAX_PERCENT
        ));
    }
    if !c.fits.is_empty() {
        let mut f = ui::table(&[
            "service",
            ">samples",
            ">mean",
            ">p50",
            ">p99",
            "scenario",
            "lognormal (KS)",
            "gamma (KS)",
            "taken",
        ]);
        let cand = |c: &Option<twip_model::calibration::Candidate>| {
            c.as_ref().map_or("-".to_string(), |c| {
                format!("{} / {} ({:.3})", ms(c.mean_ms), ms(c.p99_ms), c.ks)
            })
        };
        for x in &c.fits {
            f.add_row(vec![
                x.service.clone(),
                x.samples.to_string(),
                format!("{} ± {:.1}", ms(x.mean_ms), x.mean_ci95_ms),
                ms(x.p50_ms),
                ms(x.p99_ms),
                dist(&x.scenario),
                cand(&x.lognormal),
                cand(&x.gamma),
                match x.choice {
                    Choice::Lognormal => "lognormal",
                    Choice::Gamma => "gamma",
                    Choice::MeanOnly => "mean only",
                    Choice::Agrees => "agrees: kept",
                    Choice::Keep => "kept",
                }
                .to_string(),
            ]);
        }
        out.push_str(&format!(
            "\nservice times behind the front at {:.1} requests/s (nginx's upstream response times; mean / p99):\n",
            c.rungs.first().map_or(0.0, |r| r.rate_rps)
        ));
        out.push_str(&ui::render(&f));
        for x in &c.fits {
            out.push_str(&format!("{}: {}\n", x.service, fit_sentence(x)));
        }
    }
    out
}
