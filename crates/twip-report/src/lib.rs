//! twip's scale-out reports.
//!
//! Data flows one way: a plan (a plan file, or one the caller just made
//! from a scenario) → a simulation of the plan over the scenario's day →
//! the report model ([`Phase`]) → the renderers: one self-contained
//! `index.html` (inline SVG), `report.md` with the charts as SVG files
//! beside it, and every chart as PNG. The report does not plan: it knows
//! the model, the simulator and its analytic sizing, not the policy host.
//!
//! ```no_run
//! use twip_report::Input;
//! let report = twip_report::Report::build(
//!     &[Input::PlanFile("reports/plans/worldwide.json".into())],
//!     &twip_report::Options::default(),
//! )?;
//! report.write("reports/twip".as_ref())?;
//! # Ok::<(), twip_report::ReportError>(())
//! ```
//!
//! Charts are drawn with plotters; their text uses DejaVu Sans, compiled
//! in (`TWIP_FONT=file.ttf` replaces it).

#![deny(missing_docs)]

pub mod charts;
mod doc;
mod elastic_text;
mod font;
pub mod model;
mod text;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use twip_model::calibration::Calibration;

pub use charts::{Chart, Kind};
pub use doc::Block;
pub use font::FONT_ENV;
pub use model::{Candidate, ElasticPhase, Input, Phase, WorstLoss};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A scenario, plan or catalog could not be read (names file, line, field).
    #[error(transparent)]
    Model(#[from] twip_model::Error),
    /// An input is inconsistent.
    #[error("{}: {message}", path.display())]
    Input {
        /// The input.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The simulation refused the input.
    #[error("{}: simulation: {message}", path.display())]
    Sim {
        /// The input.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// No usable font for the charts.
    #[error("{0}")]
    Font(String),
    /// plotters failed to draw a chart.
    #[error("chart {name}: {message}")]
    Chart {
        /// Chart file stem.
        name: String,
        /// plotters' error.
        message: String,
    },
    /// Reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Nothing to report on.
    #[error("no input: give at least one plan (.json) or scenario (.toml)")]
    NoInput,
}

/// How to build a report.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seed of the simulations (and of planning a scenario); `None` takes the scenario's.
    pub seed: Option<u64>,
    /// Timeline intervals over the simulated day (a multiple of 10).
    pub intervals: usize,
    /// Simulate at most this many seconds of each scenario (tests); `None`: all of it.
    pub duration_s: Option<f64>,
    /// The command that regenerates the report, written at its top.
    pub command: String,
    /// Counters for a progress bar, updated as the phases are built.
    pub progress: Option<Arc<Progress>>,
    /// Loads a plan's placement policy for the replicas a capacity
    /// provider places during its day; `None`: the simulator's built-in rule.
    pub placers: Option<PlacerLoader>,
    /// A calibration (`twip calibrate`) to report on: measured against
    /// simulated, rate by rate, and the fitted service times.
    pub calibration: Option<Calibration>,
}

/// Gives the placer of a scenario's elastic day from the plan's policy
/// (a built-in name or a `.wasm` path): `Ok(None)` when the day needs
/// none. The report has no plugin host of its own; the CLI brings one.
#[derive(Clone)]
pub struct PlacerLoader(pub Arc<LoadPlacer>);

/// What a [`PlacerLoader`] calls: the scenario, the plan's policy.
pub type LoadPlacer = dyn Fn(&twip_model::Scenario, &str) -> Result<Option<twip_sim::PlacerRef>, String>
    + Send
    + Sync;

impl std::fmt::Debug for PlacerLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlacerLoader(..)")
    }
}

/// How far [`Report::build`] is: the phase being built and how much of
/// its day is simulated (the day's simulation is most of a phase's time).
#[derive(Debug, Default)]
pub struct Progress {
    /// Phases started, so the one being built (from 1).
    pub phase: AtomicU64,
    /// Simulated milliseconds the current phase's day goes through; 0
    /// until its simulation starts.
    pub day_ms: AtomicU64,
    /// Simulated milliseconds of that day done so far.
    pub day_done_ms: Arc<AtomicU64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: None,
            intervals: 240,
            duration_s: None,
            command: "twip report ...".into(),
            progress: None,
            placers: None,
            calibration: None,
        }
    }
}

/// A report over one or more phases, in the order given.
#[derive(Debug, Clone)]
pub struct Report {
    /// The phases.
    pub phases: Vec<Phase>,
    /// The command written at the top.
    pub command: String,
    /// The calibration reported on, if any.
    pub calibration: Option<Calibration>,
}

/// The files of a rendered report, by name.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// `(file name, contents)`, text files (HTML, Markdown, SVG).
    pub files: Vec<(String, String)>,
    /// Chart stems to render as PNG.
    pub png: Vec<String>,
}

impl Report {
    /// Loads every input and simulates its plan's day.
    pub fn build(inputs: &[Input], opts: &Options) -> Result<Report, ReportError> {
        if inputs.is_empty() {
            return Err(ReportError::NoInput);
        }
        let phases = inputs
            .iter()
            .map(|p| {
                if let Some(x) = &opts.progress {
                    x.day_ms.store(0, Ordering::Relaxed);
                    x.day_done_ms.store(0, Ordering::Relaxed);
                    x.phase.fetch_add(1, Ordering::Relaxed);
                }
                model::load_phase(p, opts)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Report {
            phases,
            command: opts.command.clone(),
            calibration: opts.calibration.clone(),
        })
    }

    /// The document (the same blocks go to HTML and Markdown).
    pub fn document(&self) -> Vec<Block> {
        text::document(&self.phases, &self.command, self.calibration.as_ref()).0
    }

    /// Every chart in the report.
    pub fn charts(&self) -> Vec<Chart<'_>> {
        text::document(&self.phases, &self.command, self.calibration.as_ref()).1
    }

    /// Renders the text files: `index.html`, `report.md` and one SVG per chart.
    pub fn render(&self) -> Result<Rendered, ReportError> {
        let (blocks, charts) =
            text::document(&self.phases, &self.command, self.calibration.as_ref());
        let mut svgs = Vec::new();
        for c in &charts {
            svgs.push((c.stem(), c.svg()?));
        }
        let lookup = |stem: &str| {
            svgs.iter()
                .find(|(s, _)| s == stem)
                .map(|(_, svg)| svg.clone())
        };
        let mut files = vec![
            (
                "index.html".to_string(),
                doc::html("TWIP scale-out report", &blocks, &lookup),
            ),
            ("report.md".to_string(), doc::markdown(&blocks)),
        ];
        let png = svgs.iter().map(|(s, _)| s.clone()).collect();
        files.extend(svgs.into_iter().map(|(s, svg)| (format!("{s}.svg"), svg)));
        Ok(Rendered { files, png })
    }

    /// Writes the report into `out`: everything goes to a temporary folder
    /// beside it first, which then replaces `out`, so a failure leaves
    /// `out` as it was.
    pub fn write(&self, out: &Path) -> Result<Vec<PathBuf>, ReportError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ReportError::Io { path, source }
        };
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if out.is_dir() {
            let empty = std::fs::read_dir(out).map_err(io(out))?.next().is_none();
            if !empty && !out.join("report.md").is_file() {
                return Err(ReportError::Input {
                    path: out.to_path_buf(),
                    message:
                        "exists and holds no twip report (no report.md): refusing to replace it"
                            .into(),
                });
            }
        } else if out.exists() {
            return Err(ReportError::Input {
                path: out.to_path_buf(),
                message: "exists and is not a folder".into(),
            });
        }
        let rendered = self.render()?;
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report".into());
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        let result = (|| {
            if tmp.exists() {
                std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
            }
            std::fs::create_dir(&tmp).map_err(io(&tmp))?;
            let mut written = Vec::new();
            for (f, text) in &rendered.files {
                let p = tmp.join(f);
                std::fs::write(&p, text).map_err(io(&p))?;
                written.push(out.join(f));
            }
            let charts = self.charts();
            for c in charts.iter().filter(|c| rendered.png.contains(&c.stem())) {
                let f = format!("{}.png", c.stem());
                c.png(&tmp.join(&f))?;
                written.push(out.join(f));
            }
            Ok(written)
        })();
        let written = match result {
            Ok(w) => w,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        // Swap: out → old, tmp → out, remove old.
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        let had = out.exists();
        if had {
            std::fs::rename(out, &old).map_err(io(out))?;
        }
        if let Err(source) = std::fs::rename(&tmp, out) {
            if had {
                let _ = std::fs::rename(&old, out);
            }
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(ReportError::Io {
                path: out.to_path_buf(),
                source,
            });
        }
        if had {
            std::fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        Ok(written)
    }
}
