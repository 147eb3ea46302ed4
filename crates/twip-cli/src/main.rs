//! The `twip` binary: a thin layer over the twip crates. It parses
//! arguments, draws progress and prints; every decision is a library's.
//! Each command returns `Result<ExitCode, CliError>`; `main` prints an
//! error once and maps it to exit 1.
//!
//! Exit codes: 0 success; 1 bad input, bad usage or failure; 2 the run
//! worked but the answer is no (an SLO is not met, no plan meets the SLOs,
//! a dry run has changes, status finds drift).
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Like `print!`, to stdout; a closed stdout (`twip plan … | head`) ends
/// the program quietly with exit 0 instead of a panic.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_stdout(&format!($($arg)*))
    };
}

/// Like `println!`, with [`out!`]'s handling of a closed stdout.
macro_rules! outln {
    () => {
        $crate::write_stdout("\n")
    };
    ($($arg:tt)*) => {
        $crate::write_stdout(&(format!($($arg)*) + "\n"))
    };
}

/// Like `eprintln!` prefixed with `twip: `, only with `-v`.
macro_rules! note {
    ($($arg:tt)*) => {
        if $crate::ui::verbose() {
            eprintln!("twip: {}", format!($($arg)*));
        }
    };
}

mod apply;
mod calibrate;
mod load;
mod plan;
mod policy;
mod report;
mod simulate;
mod ui;
mod validate;

/// twip — scale-out planner and simulator.
///
/// Simulates a service topology under traffic and failures, places replicas
/// with WebAssembly policies, plans the cheapest infrastructure that meets
/// the SLOs, reports on it, and applies the plan to Docker or AWS ECS.
#[derive(Parser, Debug)]
#[command(name = "twip", version, after_help = EXIT_CODES)]
struct Cli {
    /// No progress bars and no step-by-step lines: only results, warnings and errors.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Global options"
    )]
    quiet: bool,
    /// Also say on stderr what twip reads and does (files, phases, timings).
    #[arg(short, long, global = true, help_heading = "Global options")]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a scenario or a plan as `plan` and `apply` would, without simulating (exit 1 if wrong).
    Validate(validate::ValidateArgs),
    /// Simulate a scenario: latency percentiles, errors, utilisation, SLO verdict (exit 2 if not met).
    Simulate(simulate::SimulateArgs),
    /// Placement policies (WebAssembly plugins): list, check, place.
    Policy(policy::PolicyArgs),
    /// Plan the cheapest nodes, replicas and placement that meet the SLOs, verified by simulation (exit 2 if none).
    Plan(plan::PlanArgs),
    /// Apply a plan to a Docker engine or AWS ECS: diff first, converge idempotently (--dry-run: exit 2 if changes).
    Apply(apply::ApplyArgs),
    /// Desired against running, per service (exit 2 on drift).
    Status(apply::StatusArgs),
    /// Remove everything twip owns in an environment.
    Destroy(apply::DestroyArgs),
    /// Write the scale-out report (HTML, Markdown, SVG/PNG charts) for plans or scenarios.
    Report(report::ReportArgs),
    /// Send open-loop HTTP load (Poisson or a scenario's profile); latency from each request's intended start.
    Load(load::LoadArgs),
    /// Measure a running Docker environment at a ladder of rates against the simulation of its plan; fit the service times.
    Calibrate(calibrate::CalibrateArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the JSON Schema of the scenario format (for editors: taplo, even-better-toml) or of the plan file.
    #[command(after_help = SCHEMA_EXAMPLES)]
    Schema {
        /// The format.
        #[arg(value_enum, default_value_t = SchemaKind::Scenario)]
        of: SchemaKind,
    },
    /// Print twip's man page (roff), or write one page per command to a folder.
    #[command(after_help = MAN_EXAMPLES)]
    Man {
        /// Write twip.1 and twip-COMMAND.1 for every command here instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  source <(twip completions bash)
  twip completions bash > ~/.local/share/bash-completion/completions/twip
  twip completions zsh > ~/.zfunc/_twip        # with fpath+=(~/.zfunc) before compinit
  twip completions fish > ~/.config/fish/completions/twip.fish";

const SCHEMA_EXAMPLES: &str = "\
Examples:
  twip schema scenario > scenario.schema.json
  twip schema                                   # the same: the scenario format is the default
  twip schema plan                              # the plan file (twip plan --out, --format json)

The bundled copy is scenarios/scenario.schema.json: a scenario that starts
with the line `#:schema ../scenario.schema.json` gets completion and checks
in editors that use taplo (even-better-toml in VS Code); the plan file's is
reports/plan.schema.json.";

/// Which schema `twip schema` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SchemaKind {
    /// The scenario file (TOML).
    Scenario,
    /// The plan file (JSON).
    Plan,
}

const MAN_EXAMPLES: &str = "\
Examples:
  twip man | man -l -
  mkdir -p ~/.local/share/man/man1 && twip man --dir ~/.local/share/man/man1 && man twip-plan";

/// Output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human-readable table.
    Table,
    /// One JSON object.
    Json,
}

/// The exit codes, as `twip --help` lists them.
const EXIT_CODES: &str = "\
Exit codes:
  0  success (every SLO met, a plan found, in sync, written)
  1  bad input, bad usage or a failure (the message says which file, line and field)
  2  it ran, but the answer is no: an SLO is not met, no plan meets the SLOs,
     a dry run has changes, or status finds drift";

/// An error that ends a command: printed once by `main`, exit code 1.
#[derive(Debug)]
pub struct CliError(String);

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

/// What a command returns.
pub type CmdResult = Result<ExitCode, CliError>;

/// An error as a command result.
pub fn err(e: impl std::fmt::Display) -> CmdResult {
    Err(CliError(e.to_string()))
}

/// Writes to stdout; a closed pipe ends the program quietly (exit 0),
/// since whoever reads has all it wanted.
pub fn write_stdout(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("twip: error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// The command line's definition, colourless when `NO_COLOR` is set.
fn command() -> clap::Command {
    use clap::CommandFactory;
    let cmd = Cli::command();
    if ui::no_color() {
        cmd.color(clap::ColorChoice::Never)
    } else {
        cmd
    }
}

fn main() -> ExitCode {
    use clap::FromArgMatches;
    let cli = match command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors
            // exit 1, so that 2 always means "ran, and the answer is no".
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(CliError(e)) => {
            eprintln!("twip: error: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> CmdResult {
    ui::set_verbosity(cli.quiet, cli.verbose);
    match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Policy(args) => policy::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Apply(args) => apply::apply(args),
        Command::Status(args) => apply::status(args),
        Command::Destroy(args) => apply::destroy(args),
        Command::Report(args) => report::run(args),
        Command::Load(args) => load::run(args),
        Command::Calibrate(args) => calibrate::run(args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command(), "twip", &mut script);
            out!("{}", String::from_utf8_lossy(&script));
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema { of } => {
            match of {
                SchemaKind::Scenario => outln!("{}", twip_model::scenario_schema()),
                SchemaKind::Plan => outln!("{}", twip_model::plan_schema()),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => man(dir.as_deref()),
    }
}

/// `twip man`: twip(1) on stdout, or every page into `dir`.
fn man(dir: Option<&std::path::Path>) -> CmdResult {
    // The page's NAME line is `twip - ABOUT`: an about without the name.
    let cmd = command()
        .color(clap::ColorChoice::Never)
        .about("scale-out planner and simulator");
    match dir {
        Some(dir) => {
            clap_mangen::generate_to(cmd, dir)
                .map_err(|e| format!("{}: cannot write the man pages: {e}", dir.display()))?;
            let mut pages: Vec<_> = std::fs::read_dir(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|x| x == "1")
                        && p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("twip"))
                })
                .collect();
            pages.sort();
            for p in pages {
                outln!("{}", p.display());
            }
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page)?;
            out!("{}", String::from_utf8_lossy(&page));
        }
    }
    Ok(ExitCode::SUCCESS)
}
