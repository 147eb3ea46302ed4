//! `twip load`: flags into a [`twip_load::Config`], a progress bar while it
//! runs, the [`LoadReport`] as a table or JSON.

use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use twip_load::{Arrivals, Config, LoadError, LoadReport, Progress};
use twip_model::Scenario;

use crate::{err, CmdResult, Format};

const EXAMPLES: &str = "\
Examples:
  twip load http://127.0.0.1:8080/ --rate 200 --duration 30s
  twip load http://127.0.0.1:8080/ --rate 50 --requests 1000 --format json
  twip load http://127.0.0.1:8080/ --scenario scenarios/twip/training.toml --duration 5m
  twip load http://127.0.0.1:8080/ --scenario scenarios/twip/worldwide.toml --from 14h --speed 60 --scale 0.01

Requests arrive as a Poisson process decided in advance (open loop): a slow
server does not slow the sending down, and each latency counts from the
request's intended start time. Only http:// URLs work (no TLS).

With --scenario, the scenario's rate at each moment is used as it is (times
--scale): --speed 60 plays a simulated hour in a minute at the same rates,
and the run ends with the scenario unless --duration or --requests ends it
first.

Exit codes: 0 it ran (errors and warnings are in the output); 1 bad input or
the run could not start.";

/// Arguments of `twip load`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct LoadArgs {
    /// The target: http://HOST:PORT/PATH, port and path optional (GET; https is not supported).
    pub url: String,
    /// Mean arrival rate, requests/s (Poisson).
    #[arg(
        long,
        allow_negative_numbers = true,
        required_unless_present = "scenario",
        conflicts_with_all = ["scenario", "speed", "scale", "from"]
    )]
    pub rate: Option<f64>,
    /// Follow this scenario's traffic profile (diurnal regions, spikes) instead of a constant rate.
    #[arg(long, value_name = "SCENARIO.toml")]
    pub scenario: Option<PathBuf>,
    /// Scenario seconds per real second (60: a simulated hour in a minute, at the same rates) [default: 1].
    #[arg(long, allow_negative_numbers = true, requires = "scenario")]
    pub speed: Option<f64>,
    /// Multiply the scenario's rate by this [default: 1].
    #[arg(long, allow_negative_numbers = true, requires = "scenario")]
    pub scale: Option<f64>,
    /// Start at this scenario time (e.g. "14h").
    #[arg(long, value_parser = parse_duration, requires = "scenario")]
    pub from: Option<f64>,
    /// Stop scheduling requests after this long (e.g. "30s", "10m").
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<f64>,
    /// Stop after this many requests.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Send for this long first, leaving those requests out of the totals
    /// (they are in the intervals): caches, pools and queues settle.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub warmup: f64,
    /// Per-request timeout, from the send.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub timeout: f64,
    /// The most requests in flight at once (each holds a connection); a
    /// request that finds them all busy goes out late, with a warning.
    #[arg(long, default_value_t = 1000)]
    pub max_in_flight: usize,
    /// Length of the reported intervals.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub interval: f64,
    /// Seed of the arrival schedule.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// An extra request header, `"Name: value"` (repeat for more), e.g.
    /// `-H "Host: shop.example"`.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Send to this path on the URL's host, with this weight (repeat for a
    /// mix: `--path /static/=0.6 --path /=0.4`; the weight defaults to 1).
    #[arg(long = "path", value_name = "PATH[=WEIGHT]", value_parser = parse_path)]
    pub paths: Vec<(String, f64)>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `PATH[=WEIGHT]`: the weight after the last `=` when it is a number.
fn parse_path(s: &str) -> Result<(String, f64), String> {
    if let Some((path, w)) = s.rsplit_once('=') {
        if let Ok(w) = w.trim().parse::<f64>() {
            return Ok((path.to_string(), w));
        }
    }
    Ok((s.to_string(), 1.0))
}

fn parse_duration(s: &str) -> Result<f64, String> {
    twip_model::parse_duration(s)
}

/// Runs `twip load`: exit 0 when it ran, 1 on bad input.
pub fn run(args: LoadArgs) -> CmdResult {
    let arrivals = match (&args.scenario, args.rate) {
        (Some(path), _) => match Scenario::load(path) {
            Ok(s) => Arrivals::scenario(
                &s,
                args.from.unwrap_or(0.0),
                args.speed.unwrap_or(1.0),
                args.scale.unwrap_or(1.0),
            ),
            Err(e) => return err(e),
        },
        (None, Some(rate)) => Arrivals::poisson(rate),
        (None, None) => return err("give --rate or --scenario"),
    };
    let progress = Arc::new(Progress::default());
    let config = Config {
        duration_s: args.duration,
        requests: args.requests,
        timeout_s: args.timeout,
        max_in_flight: args.max_in_flight,
        interval_s: args.interval,
        seed: args.seed,
        headers: args.headers.clone(),
        paths: args.paths.clone(),
        warmup_s: args.warmup,
        progress: Some(progress.clone()),
        ..Config::new(args.url.clone(), arrivals)
    };
    if let Err(e) = config.validate() {
        return err(message(&e));
    }
    let report = match with_progress(&config, &progress) {
        Ok(r) => r,
        Err(e) => return err(message(&e)),
    };
    for b in &report.bottlenecks {
        eprintln!("twip: warning: {b}");
    }
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => outln!("{s}"),
            Err(e) => return err(e),
        },
        Format::Table => out!("{}", table(&report)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The library's error with the settings named as flags.
fn message(e: &LoadError) -> String {
    match e {
        LoadError::Invalid { field, problem } => format!("--{field}: {problem}"),
        LoadError::Unbounded => {
            "nothing ends the run: give --duration, --requests or both (with --scenario the \
             scenario's end bounds it)"
                .into()
        }
        LoadError::Runtime(_) => e.to_string(),
    }
}

/// Runs with a progress bar on stderr when stderr is a terminal and the run
/// lasts more than a second: by time when time bounds the run, else by
/// requests.
fn with_progress(config: &Config, progress: &Arc<Progress>) -> Result<LoadReport, LoadError> {
    let done = Arc::new(AtomicBool::new(false));
    let span = config.span_s();
    let requests = config.requests;
    let watcher = crate::ui::progress_shown().then(|| {
        let (done, progress) = (done.clone(), progress.clone());
        let started = Instant::now();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            if done.load(Ordering::Relaxed) {
                return;
            }
            let (len, by_time) = match (span, requests) {
                (Some(s), _) => ((s * 1000.0) as u64, true),
                (None, Some(r)) => (r, false),
                (None, None) => (0, false),
            };
            let bar = indicatif::ProgressBar::new(len.max(1));
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} load [{bar:40}] {percent}% ({eta} left) {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            while !done.load(Ordering::Relaxed) {
                let sent = progress.sent.load(Ordering::Relaxed);
                let finished = progress.finished.load(Ordering::Relaxed);
                let errors = progress.errors.load(Ordering::Relaxed);
                let pos = if by_time {
                    started.elapsed().as_millis() as u64
                } else {
                    sent
                };
                bar.set_position(pos.min(len));
                bar.set_message(format!(
                    "sent {sent}, in flight {}, errors {errors}",
                    sent.saturating_sub(finished)
                ));
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        })
    });
    let result = twip_load::run(config);
    done.store(true, Ordering::Relaxed);
    if let Some(w) = watcher {
        w.join().ok();
    }
    result
}

fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// The most intervals the table lists (the JSON has them all).
const MAX_TABLE_INTERVALS: usize = 120;

fn table(r: &LoadReport) -> String {
    let mut o = String::new();
    let arrivals = match &r.arrivals {
        Arrivals::Poisson { rate } => format!("Poisson {rate} req/s"),
        Arrivals::Profile {
            scenario,
            start_s,
            speed,
            scale,
            ..
        } => format!("scenario {scenario} from {start_s} s, speed {speed}×, scale {scale}×"),
    };
    let _ = writeln!(
        o,
        "{}  {arrivals}  seed {}  max in flight {}  timeout {} s",
        r.url, r.seed, r.max_in_flight, r.timeout_s
    );
    let error_pct = if r.requests > 0 {
        100.0 * r.errors.total as f64 / r.requests as f64
    } else {
        0.0
    };
    let _ = writeln!(
        o,
        "requests {}  ok {}  errors {} ({error_pct:.2} %)  over {:.2} s ({:.1} req/s)  elapsed {:.2} s  peak in flight {}",
        r.requests, r.ok, r.errors.total, r.span_s - r.warmup_s, r.sent_rate, r.elapsed_s, r.peak_in_flight
    );
    if r.warmup_requests > 0 {
        let _ = writeln!(
            o,
            "warm-up: {} requests over the first {:.2} s, left out of the totals",
            r.warmup_requests, r.warmup_s
        );
    }
    if !r.paths.is_empty() {
        let total: f64 = r.paths.iter().map(|(_, w)| w).sum();
        let mix: Vec<String> = r
            .paths
            .iter()
            .map(|(p, w)| format!("{p} {:.0} %", 100.0 * w / total))
            .collect();
        let _ = writeln!(o, "paths: {}", mix.join(", "));
    }
    let _ = writeln!(
        o,
        "sent late (> {:.0} ms) {}  waited for a slot {}  max send lag {:.2} ms",
        twip_load::limits::LATE_S * 1000.0,
        r.late,
        r.waited_for_slot,
        r.max_lag_ms
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:<28} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "latency ms", "mean", "min", "p50", "p90", "p95", "p99", "p99.9", "max"
    );
    for (name, l) in [
        ("from intended start", &r.latency_ms),
        ("from send (closed-loop view)", &r.response_ms),
    ] {
        match l {
            Some(l) => {
                let _ = writeln!(
                    o,
                    "{:<28} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
                    name,
                    ms(l.mean_ms),
                    ms(l.min_ms),
                    ms(l.p50_ms),
                    ms(l.p90_ms),
                    ms(l.p95_ms),
                    ms(l.p99_ms),
                    ms(l.p999_ms),
                    ms(l.max_ms)
                );
            }
            None => {
                let _ = writeln!(o, "{name:<28} no successful responses");
            }
        }
    }
    let classes = r.errors.classes();
    if !classes.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "{:<28} {:>8}", "errors", "count");
        for (class, n) in classes {
            let _ = writeln!(o, "{:<28} {n:>8}", class.to_string());
        }
        if let Some(m) = &r.errors.first_message {
            let _ = writeln!(o, "first: {m}");
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{:>10} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8}",
        "start s", "requests", "ok", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for i in r.intervals.iter().take(MAX_TABLE_INTERVALS) {
        let cols = match &i.latency_ms {
            Some(l) => [l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms].map(ms),
            None => ["-", "-", "-", "-"].map(String::from),
        };
        let _ = writeln!(
            o,
            "{:>10.1} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8}",
            i.start_s, i.requests, i.ok, i.errors, cols[0], cols[1], cols[2], cols[3]
        );
    }
    if r.intervals.len() > MAX_TABLE_INTERVALS {
        let _ = writeln!(
            o,
            "… {} more intervals (all of them in --format json)",
            r.intervals.len() - MAX_TABLE_INTERVALS
        );
    }
    o
}
