//! `cargo run -p twip-report --example report -- OUT PLAN.json...`: the
//! report without the CLI (for working on the charts).
fn main() {
    let args: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    let Some((out, inputs)) = args.split_first() else {
        eprintln!("usage: report OUT INPUT...");
        std::process::exit(1);
    };
    let opts = twip_report::Options {
        duration_s: std::env::var("TWIP_REPORT_DURATION_S")
            .ok()
            .and_then(|d| d.parse().ok()),
        command: "cargo run -p twip-report --example report".into(),
        ..Default::default()
    };
    let inputs: Vec<twip_report::Input> = inputs
        .iter()
        .cloned()
        .map(twip_report::Input::PlanFile)
        .collect();
    let r = twip_report::Report::build(&inputs, &opts).and_then(|r| r.write(out));
    if let Err(e) = r {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
