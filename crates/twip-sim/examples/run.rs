//! Runs a scenario through the engine without the CLI, for profiling:
//! `cargo run --release -p twip-sim --example run -- SCENARIO [DURATION_S] [SEGMENTS]`
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: run SCENARIO [DURATION_S] [SEGMENTS]");
        return ExitCode::from(1);
    };
    let mut scenario = match twip_model::Scenario::load(std::path::Path::new(path)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    if let Some(d) = args.get(1).and_then(|d| d.parse().ok()) {
        scenario.duration_s = d;
    }
    let opts = twip_sim::Options {
        segments: args.get(2).and_then(|s| s.parse().ok()),
        ..twip_sim::Options::default()
    };
    match twip_sim::simulate(&scenario, &opts) {
        Ok(r) => {
            println!(
                "wall {:.3} s, events {}, p99 {:?}",
                r.wall_s,
                r.events,
                serde_json::to_value(&r)
                    .ok()
                    .and_then(|v| v["latency_ms"]["p99"].as_f64())
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
