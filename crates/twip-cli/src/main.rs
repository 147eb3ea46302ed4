//! The `twip` binary: a thin layer over the twip crates.
use clap::{Parser, Subcommand};

mod policy;

/// twip — scale-out planner and simulator.
#[derive(Parser, Debug)]
#[command(name = "twip", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Placement policies (WebAssembly plugins): list, check, place.
    Policy(policy::PolicyArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Policy(args) => policy::run(args),
    }
}
