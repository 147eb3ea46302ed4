//! End-to-end tests of the `twip` binary.

use crate::common::{json, stderr, twip, write_tmp};

#[test]
fn minimal_scenario_runs_as_written_with_every_documented_key() {
    let o = twip(&[
        "simulate",
        "scenarios/examples/mmc.toml",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    for key in [
        "scenario",
        "seed",
        "replications",
        "simulated_s",
        "events",
        "wall_s",
        "requests",
        "completed",
        "errors",
        "error_rate",
        "latency_ms",
        "ci95",
        "services",
        "slo",
    ] {
        assert!(v.get(key).is_some(), "missing key {key}");
    }
    for key in ["mean", "p50", "p95", "p99", "max"] {
        assert!(
            v["latency_ms"][key].as_f64().unwrap() > 0.0,
            "latency_ms.{key}"
        );
    }
    for key in [
        "utilization",
        "mean_wait_ms",
        "mean_service_ms",
        "completed",
        "rejected",
    ] {
        assert!(
            v["services"]["app"].get(key).is_some(),
            "services.app.{key}"
        );
    }
    assert_eq!(v["scenario"], "mmc");
    assert_eq!(v["seed"], 7);
    assert_eq!(v["simulated_s"], 7200.0);
    assert!(v["ci95"]["latency_ms.p99"].as_f64().unwrap() > 0.0);
    // 32 requests/s for 110 measured minutes.
    let requests = v["requests"].as_f64().unwrap();
    assert!(
        (requests - 32.0 * 6600.0).abs() < 5.0 * (32.0f64 * 6600.0).sqrt(),
        "{requests}"
    );
    assert_eq!(v["slo"]["met"], true);
}

#[test]
fn same_seed_same_json_and_seed_flag_changes_it() {
    let strip = |mut v: serde_json::Value| {
        v["wall_s"] = 0.into();
        v
    };
    let a = strip(json(&twip(&[
        "simulate",
        "scenarios/examples/mmc.toml",
        "--format",
        "json",
        "--replications",
        "3",
    ])));
    let b = strip(json(&twip(&[
        "simulate",
        "scenarios/examples/mmc.toml",
        "--format",
        "json",
        "--replications",
        "3",
    ])));
    assert_eq!(a, b);
    let c = json(&twip(&[
        "simulate",
        "scenarios/examples/mmc.toml",
        "--format",
        "json",
        "--seed",
        "99",
    ]));
    assert_eq!(c["seed"], 99);
    assert_ne!(c["requests"], a["requests"]);
}

#[test]
fn twip_scenarios_simulate_a_slice_each() {
    for (name, slice) in [
        ("training", "20m"),
        ("limited-release", "30m"),
        ("worldwide", "15m"),
    ] {
        let path = format!("scenarios/twip/{name}.toml");
        let o = twip(&["simulate", &path, "--duration", slice, "--format", "json"]);
        assert!(
            matches!(o.status.code(), Some(0 | 2)),
            "{name}: {}",
            stderr(&o)
        );
        let v = json(&o);
        assert_eq!(v["scenario"], name);
        assert!(v["completed"].as_u64().unwrap() > 1000, "{name}");
        let table = twip(&["simulate", &path, "--duration", slice]);
        let text = String::from_utf8_lossy(&table.stdout);
        assert!(text.contains("SLO:") && text.contains("app"), "{text}");
    }
}

#[test]
fn an_elastic_scenario_prints_its_scaling_and_the_planner_refuses_it() {
    let path = "scenarios/twip/worldwide-elastic.toml";
    // The first 20 minutes: the app tier starts below the night's load and
    // scales out after three periods above target, and the nodes follow.
    let o = twip(&["simulate", path, "--duration", "20m", "--format", "json"]);
    assert!(matches!(o.status.code(), Some(0 | 2)), "{}", stderr(&o));
    let v = json(&o);
    let e = &v["elastic"];
    let events = e["events"].as_array().expect("events");
    let first = &events[0];
    assert_eq!(first["at_s"], 180.0, "{first}");
    assert_eq!(first["service"], "app");
    assert_eq!(first["cause"]["kind"], "scale_out");
    assert!(
        events.iter().any(|x| x["service"].is_null()),
        "no node event"
    );
    let nodes = &e["nodes"];
    assert_eq!(nodes["instance_type"], "c5.xlarge");
    let cost = nodes["cost_usd"].as_f64().unwrap();
    let hours = nodes["node_hours"].as_f64().unwrap();
    assert!(hours > 0.0 && (cost - hours * nodes["usd_per_hour"].as_f64().unwrap()).abs() < 1e-6);
    // The table says the same in words.
    let table = twip(&["simulate", path, "--duration", "20m"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("scaling events:"), "{text}");
    assert!(
        text.contains("3m  app") && text.contains("(scale-out alarm)"),
        "{text}"
    );
    assert!(text.contains("nodes (c5.xlarge): up to"), "{text}");
    // Fixed scenarios have no elastic part in their JSON.
    let fixed = json(&twip(&[
        "simulate",
        "scenarios/twip/training.toml",
        "--duration",
        "20m",
        "--format",
        "json",
    ]));
    assert!(fixed.get("elastic").is_none());
    // The planner sizes fixed fleets and says so.
    let p = twip(&["plan", path]);
    assert_eq!(p.status.code(), Some(1), "{}", stderr(&p));
    assert!(
        stderr(&p).contains("worldwide-elastic.toml: twip plan sizes fixed fleets"),
        "{}",
        stderr(&p)
    );
}

/// The elastic worldwide day; run by .ci/run in release with the other days.
#[test]
#[ignore = "simulates a whole elastic day; run by .ci/run in release"]
fn the_elastic_worldwide_day_follows_demand_and_costs_less_than_the_fixed_fleet() {
    let o = twip(&[
        "simulate",
        "scenarios/twip/worldwide-elastic.toml",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "SLO should hold: {}", stderr(&o));
    let v = json(&o);
    let e = &v["elastic"];
    let events = e["events"].as_array().unwrap();
    // The scheduled floor before the launch (14h40m) and after it (15h20m).
    let sched: Vec<f64> = events
        .iter()
        .filter(|x| x["cause"]["kind"] == "schedule")
        .map(|x| x["at_s"].as_f64().unwrap())
        .collect();
    assert_eq!(sched, vec![52_800.0, 55_200.0]);
    let raised = events
        .iter()
        .find(|x| x["at_s"] == 52_800.0 && x["service"] == "app")
        .unwrap();
    assert_eq!(raised["to"], 80);
    // Both failures are replaced, and the zone's nodes by the provider.
    for what in ["node node-0", "zone us-east-1a"] {
        assert!(
            events.iter().any(|x| x["cause"]["kind"] == "failure"
                && x["cause"]["what"].as_str().unwrap().starts_with(what)),
            "{what} not replaced"
        );
    }
    // The app's replicas follow the day: the busiest interval has at least
    // twice the quietest's.
    let app: Vec<u64> = e["services"]["app"]["in_service"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    let (lo, hi) = (app.iter().min().unwrap(), app.iter().max().unwrap());
    assert!(*hi >= 2 * lo, "{lo} .. {hi}");
    // A day of the fixed worldwide plan: 85 c5.large, $5,274 a month, is
    // $173 a day; the elastic day must cost less.
    let cost = e["nodes"]["cost_usd"].as_f64().unwrap();
    assert!(cost > 0.0 && cost < 5274.0 / 730.0 * 24.0, "cost {cost}");
}

/// The whole simulated days; `cargo test --release -p twip-cli --test e2e -- --ignored cli::`.
#[test]
#[ignore = "simulates three whole days; run by .ci/run in release"]
fn twip_scenarios_full_days() {
    for name in ["training", "limited-release", "worldwide"] {
        let o = twip(&[
            "simulate",
            &format!("scenarios/twip/{name}.toml"),
            "--format",
            "json",
            "--timeline",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: SLO should hold: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        let v = json(&o);
        let failures = v["failures"].as_array().unwrap();
        if name != "training" {
            assert!(!failures.is_empty());
            // Every failure costs some requests, and the balancer stops them within seconds.
            for f in failures {
                assert!(f["errors"].as_u64().unwrap() > 0, "{f}");
            }
        }
        // The diurnal shape shows in the timeline: the busiest interval at
        // least twice the quietest.
        let rps: Vec<f64> = v["timeline"]["rps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let (lo, hi) = rps
            .iter()
            .fold((f64::MAX, 0.0f64), |(l, h), &x| (l.min(x), h.max(x)));
        if name != "training" {
            assert!(hi > 2.0 * lo, "{name}: {lo} .. {hi}");
        }
    }
}

#[test]
fn unmet_slo_exits_2_and_names_it() {
    let p = write_tmp(
        "tight.toml",
        r#"
name = "tight"
duration = "10m"
[[service]]
name = "app"
workers = 1
service_time = { dist = "exponential", mean_ms = 100 }
[traffic]
entry = "app"
rps = 8
[slo]
p99_ms = 100
"#,
    );
    let o = twip(&["simulate", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert_eq!(v["slo"]["met"], false);
    assert!(v["slo"]["violations"][0]
        .as_str()
        .unwrap()
        .starts_with("p99"));
}

#[test]
fn bad_input_names_file_line_and_field_and_exits_1() {
    let cases = [
        // (text, line, words the message must hold)
        ("name = \"x\"\nduration = \"2h\"\n[[service]]\nname = \"app\"\nservice_time = { dist = \"lognormal\", mean_ms = 10, p99_ms = 5 }\n[traffic]\nentry = \"app\"\nrps = 1\n", 5, vec!["service[0].service_time.p99_ms", "mean_ms < p99_ms"]),
        ("name = \"x\"\nduration = \"2 fortnights\"\n[[service]]\nname = \"app\"\nservice_time = { dist = \"constant\", mean_ms = 10 }\n[traffic]\nentry = \"app\"\nrps = 1\n", 2, vec!["duration", "expected a duration"]),
        ("name = \"x\"\nduration = \"2h\"\n[[service]]\nname = \"app\"\nservice_time = { dist = \"constant\", mean_ms = 10 }\n[[service.calls]]\nto = \"db\"\n[traffic]\nentry = \"app\"\nrps = 1\n", 7, vec!["service[0].calls[0].to", "no service named \"db\""]),
        ("name = \"x\"\nduration = \"2h\"\n[[service]]\nname = \"app\"\nwrokers = 3\nservice_time = { dist = \"constant\", mean_ms = 10 }\n[traffic]\nentry = \"app\"\nrps = 1\n", 5, vec!["unknown field `wrokers`", "workers"]),
        ("name = \"x\"\nduration = \"2h\"\n[[service]]\nname = \"app\"\nservice_time = { dist = \"weibull\", mean_ms = 10 }\n[traffic]\nentry = \"app\"\nrps = 1\n", 5, vec!["weibull", "exponential"]),
        ("name = \"x\"\nduration = \"2h\"\n[[service]]\nname = \"app\"\nservice_time = { dist = \"constant\", mean_ms = 10 }\n[traffic]\nentry = \"app\"\nrps = 1\n[[failure]]\nkind = \"zone\"\ntarget = \"mars-1a\"\nat = \"1h\"\n", 11, vec!["failure[0].target", "no zone \"mars-1a\""]),
        ("name = \"x\"\nduration = \"2h\"\n[[service]]\nname = \"a\"\nservice_time = { dist = \"constant\", mean_ms = 10 }\n[[service.calls]]\nto = \"b\"\n[[service]]\nname = \"b\"\nservice_time = { dist = \"constant\", mean_ms = 10 }\n[[service.calls]]\nto = \"a\"\n[traffic]\nentry = \"a\"\nrps = 1\n", 6, vec!["cycle", "a -> b -> a"]),
        ("name = \"x\"\nduration = \"2h\"\n[[service]]\nname = \"app\"\nservice_time = { dist = \"constant\", mean_ms = 10 }\n[traffic]\nentry = \"app\"\nrps = 1\n[[failure]]\nkind = \"node\"\ntarget = \"node-9\"\nat = \"1h\"\n", 0, vec!["failure[0]", "no node \"node-9\"", "app-0"]),
        ("this is = not toml = at all", 1, vec!["expected"]),
    ];
    for (i, (text, line, words)) in cases.iter().enumerate() {
        let p = write_tmp(&format!("bad{i}.toml"), text);
        let o = twip(&["simulate", p.to_str().unwrap(), "--format", "json"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "case {i}: {err}");
        assert!(o.stdout.is_empty(), "case {i}: nothing on stdout");
        assert!(!err.contains("panicked"), "case {i}: {err}");
        assert!(
            err.contains(&format!("bad{i}.toml")),
            "case {i} names the file: {err}"
        );
        if *line > 0 {
            assert!(
                err.contains(&format!("bad{i}.toml:{line}:")),
                "case {i} names line {line}: {err}"
            );
        }
        for w in words {
            assert!(err.contains(w), "case {i} should say {w:?}: {err}");
        }
    }
    let o = twip(&["simulate", "no/such/file.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no/such/file.toml: cannot read"));
    let o = twip(&[
        "simulate",
        "scenarios/examples/mmc.toml",
        "--replications",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn policy_list_check_and_place() {
    let o = twip(&["policy", "list"]);
    assert_eq!(o.status.code(), Some(0));
    let list = String::from_utf8_lossy(&o.stdout).into_owned();
    for name in ["spread", "binpack", "zone-spread"] {
        assert!(list.contains(name), "{list}");
    }
    assert!(list.contains("twip:policy/placement@0.1.0"), "{list}");

    for plugin in ["binpack", "plugins/components/example-c-firstfit.wasm"] {
        let o = twip(&["policy", "check", plugin]);
        assert_eq!(o.status.code(), Some(0), "{plugin}: {}", stderr(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains(" 0 failed"),
            "{plugin}"
        );
    }
    let bad = write_tmp("garbage.wasm", "garbage");
    let o = twip(&["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a WebAssembly file"),
        "{}",
        stderr(&o)
    );

    let o = twip(&[
        "policy",
        "place",
        "zone-spread",
        "--scenario",
        "scenarios/twip/limited-release.toml",
        "--nodes",
        "6",
        "--instance-type",
        "m5.xlarge",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    let app = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "app")
        .unwrap();
    assert_eq!(
        app["nodes"].as_array().unwrap().len(),
        4,
        "every app replica placed"
    );
    // Zone spread: the four app replicas use all three zones.
    let zone_of = |id: &str| -> String {
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id)
            .unwrap()["zone"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let zones: std::collections::BTreeSet<String> = app["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| zone_of(n.as_str().unwrap()))
        .collect();
    assert_eq!(zones.len(), 3, "{zones:?}");

    // Too small to fit: a clear refusal, exit 1.
    let o = twip(&[
        "policy",
        "place",
        "spread",
        "--scenario",
        "scenarios/twip/limited-release.toml",
        "--nodes",
        "1",
        "--instance-type",
        "m5.large",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot place"), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_1_and_help_lists_the_exit_codes() {
    // 2 is kept for "it ran, and the answer is no": a usage error is not that.
    for args in [
        &["--no-such-flag"][..],
        &["simulate"],
        &["plan", "a.toml", "--seed", "x"],
    ] {
        let o = twip(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("error"), "{args:?}: {}", stderr(&o));
    }
    let o = twip(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("2  it ran, but the answer is no"), "{help}");
    assert_eq!(twip(&["--version"]).status.code(), Some(0));
}

#[test]
fn a_closed_stdout_ends_quietly() {
    use std::process::{Command, Stdio};
    // Like `twip ... | head` once head has gone: the reading end is closed
    // before twip writes its first byte, so every write fails (EPIPE).
    for args in [
        &[
            "simulate",
            "scenarios/examples/mmc.toml",
            "--duration",
            "20m",
        ][..],
        &[
            "simulate",
            "scenarios/examples/mmc.toml",
            "--duration",
            "20m",
            "--format",
            "json",
        ],
        &["policy", "list"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_twip"))
            .args(args)
            .current_dir(crate::common::root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
    }
}
