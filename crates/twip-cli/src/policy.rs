//! `twip policy ...` — owned by the placement-plugin work (issue 3).

/// Arguments of `twip policy`.
#[derive(clap::Args, Debug)]
pub struct PolicyArgs {}

/// Runs `twip policy`.
pub fn run(_args: PolicyArgs) -> std::process::ExitCode {
    eprintln!("twip policy: not implemented yet");
    std::process::ExitCode::from(1)
}
