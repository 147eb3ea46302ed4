//! End-to-end tests of `twip plan` and `twip simulate --plan`.
//!
//! The heavy ones (the worldwide plan, three policies) are `#[ignore]`d:
//! `cargo test --release -p twip-cli --test e2e -- --ignored plan::`.

use crate::common::{json, root, stderr, stdout, tmp, twip};
use std::path::PathBuf;

fn variant(rel: &str, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(root().join(rel)).unwrap();
    let catalog = root().join("scenarios/catalog/aws-ec2.toml");
    text = text.replace(
        "\"../catalog/aws-ec2.toml\"",
        &format!("{:?}", catalog.display().to_string()),
    );
    for (from, to) in edits {
        assert!(text.contains(from), "{rel} has no {from:?}");
        text = text.replace(from, to);
    }
    let p = tmp(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn plan_file_has_every_documented_field_and_replays() {
    let out = tmp("limited.json");
    let o = twip(&[
        "plan",
        "scenarios/twip/limited-release.toml",
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // One policy: stdout is the plan file itself, the document --out writes.
    let v = json(&o);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(file, v, "--out writes the plan printed");
    let p = &v;
    assert_eq!(p["scenario"], "limited-release");
    assert_eq!(p["policy"], "zone-spread");
    for n in p["nodes"].as_array().unwrap() {
        for k in [
            "id",
            "instance_type",
            "zone",
            "cpu",
            "memory_mb",
            "hourly_usd",
        ] {
            assert!(n.get(k).is_some(), "node without {k}: {n}");
        }
        assert!(n["zone"].as_str().unwrap().starts_with("eu-west-1"));
    }
    let replicas = p["replicas"].as_object().unwrap();
    let placed = p["placements"].as_array().unwrap();
    let total: u64 = replicas.values().map(|x| x.as_u64().unwrap()).sum();
    assert_eq!(placed.len() as u64, total);
    let hourly = p["cost"]["hourly_usd"].as_f64().unwrap();
    assert!((p["cost"]["monthly_usd"].as_f64().unwrap() - 730.0 * hourly).abs() <= 0.005);
    let cases = p["verification"].as_array().unwrap();
    assert_eq!(cases[0]["case"], "baseline");
    assert!(
        cases
            .iter()
            .any(|c| c["case"].as_str().unwrap().starts_with("lose node-")),
        "survive = [\"node\"] needs node losses: {cases:?}"
    );
    for c in cases {
        for k in ["case", "p99_ms", "p99_ci95_ms", "error_rate", "met"] {
            assert!(c.get(k).is_some(), "case without {k}: {c}");
        }
        assert_eq!(c["met"], true);
        assert!(c["p99_ms"].as_f64().unwrap() <= 1000.0);
    }
    let rejected = p["rejected"].as_array().unwrap();
    assert!(!rejected.is_empty());
    assert!(rejected
        .iter()
        .all(|r| r["candidate"].is_string() && !r["reason"].as_str().unwrap().is_empty()));

    // Replay: the scenario's node failure now takes down a plan node.
    let o = twip(&[
        "simulate",
        "scenarios/twip/limited-release.toml",
        "--plan",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&o);
    let what = r["failures"][0]["what"].as_str().unwrap();
    assert!(what.starts_with("node node-"), "{what}");
    let app_replicas = replicas["app"].as_u64().unwrap();
    assert!(app_replicas >= 2);
    assert!(r["slo"]["met"].as_bool().unwrap());
}

#[test]
fn table_output_shows_the_cases_and_the_cost() {
    let o = twip(&["plan", "scenarios/twip/limited-release.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = stdout(&o);
    assert!(
        t.contains("plan for limited-release with policy zone-spread"),
        "{t}"
    );
    assert!(t.contains("/month"), "{t}");
    assert!(t.contains("baseline"), "{t}");
    assert!(t.contains("lose node-"), "{t}");
}

#[test]
fn unmeetable_p99_exits_2_and_names_the_constraint() {
    let p = variant(
        "scenarios/twip/limited-release.toml",
        "fast.toml",
        &[("p99_ms = 1000", "p99_ms = 100")],
    );
    let o = twip(&["plan", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("slo.p99_ms = 100"), "{e}");
    assert!(e.contains("app"), "{e}");
}

#[test]
fn max_nodes_exits_2_and_names_the_constraint() {
    let p = variant(
        "scenarios/twip/limited-release.toml",
        "small.toml",
        &[(
            "max_nodes = 12",
            "max_nodes = 2\ninstance_types = [\"c5.large\"]",
        )],
    );
    let o = twip(&["plan", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["found"], false);
    assert!(
        v["binding"]
            .as_str()
            .unwrap()
            .starts_with("infrastructure.max_nodes = 2"),
        "{v}"
    );
    assert!(stderr(&o).contains("infrastructure.max_nodes = 2"));
}

#[test]
fn several_policies_print_a_comparison() {
    let o = twip(&[
        "plan",
        "scenarios/twip/limited-release.toml",
        "--policy",
        "spread",
        "--policy",
        "binpack",
        "--policy",
        "zone-spread",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = stdout(&o);
    assert!(t.contains("survives zone loss"), "{t}");
    assert!(t.contains("worst p99"), "{t}");
    for p in ["spread", "binpack", "zone-spread"] {
        assert!(t.lines().any(|l| l.starts_with(p)), "no row for {p}: {t}");
    }
}

#[test]
fn an_untuned_scenario_gets_a_plan_within_its_own_limits() {
    let out = tmp("shop.json");
    let o = twip(&[
        "plan",
        "scenarios/examples/shop.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(p["region"], "ap-southeast-1");
    let allowed = [
        "m6i.large",
        "m6i.xlarge",
        "m6i.2xlarge",
        "r6i.xlarge",
        "r6i.2xlarge",
        "c6i.2xlarge",
    ];
    for n in p["nodes"].as_array().unwrap() {
        assert!(
            allowed.contains(&n["instance_type"].as_str().unwrap()),
            "{n}"
        );
    }
    let cases = p["verification"].as_array().unwrap();
    assert!(cases
        .iter()
        .any(|c| c["case"].as_str().unwrap().starts_with("lose zone ")));
    for c in cases {
        assert!(c["p99_ms"].as_f64().unwrap() <= 500.0, "{c}");
        assert!(c["error_rate"].as_f64().unwrap() <= 0.0005, "{c}");
    }
    // A plan for another scenario does not replay on this one.
    let o = twip(&[
        "simulate",
        "scenarios/twip/limited-release.toml",
        "--plan",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("service"), "{}", stderr(&o));
}

#[test]
fn bad_inputs_exit_1_with_a_clear_message() {
    // No catalog.
    let o = twip(&["plan", "scenarios/examples/mmc.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("catalog"), "{}", stderr(&o));
    // Unknown policy.
    let o = twip(&[
        "plan",
        "scenarios/twip/limited-release.toml",
        "--policy",
        "nope",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));
    // Unknown instance type.
    let p = variant(
        "scenarios/twip/limited-release.toml",
        "badtype.toml",
        &[(
            "max_nodes = 12",
            "max_nodes = 12\ninstance_types = [\"m9.huge\"]",
        )],
    );
    let o = twip(&["plan", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("\"m9.huge\""), "{}", stderr(&o));
    // A broken plan file names its line.
    let bad = tmp("broken.json");
    std::fs::write(&bad, "{\n  \"scenario\": \"x\",\n  \"nodes\": 3\n}\n").unwrap();
    let o = twip(&[
        "simulate",
        "scenarios/twip/limited-release.toml",
        "--plan",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("broken.json:3:"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
#[ignore = "heavy: the worldwide search; run with --release -- --ignored"]
fn worldwide_plan_covers_every_case() {
    // Its speed is measured by bench/planner (BENCHMARKS.md), not here.
    let o = twip(&["plan", "scenarios/twip/worldwide.toml", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    let cases = v["verification"].as_array().unwrap();
    assert!(cases
        .iter()
        .any(|c| c["case"].as_str().unwrap().starts_with("lose zone ")));
    // Every cheaper candidate is in the plan, with why.
    assert!(v["rejected"].as_array().unwrap().len() >= 100);
}

#[test]
#[ignore = "heavy: three worldwide searches; run with --release -- --ignored"]
fn worldwide_policies_compared() {
    let o = twip(&[
        "plan",
        "scenarios/twip/worldwide.toml",
        "--policy",
        "spread",
        "--policy",
        "binpack",
        "--policy",
        "zone-spread",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    let runs = v.as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let cost = |i: usize| {
        runs[i]["plan"]["cost"]["hourly_usd"]
            .as_f64()
            .unwrap_or(f64::INFINITY)
    };
    // Packing tightly costs resilience: binpack needs more to survive a zone.
    assert!(cost(1) >= cost(2), "{} vs {}", cost(1), cost(2));
}

#[test]
fn the_policy_budget_is_checked_and_stops_the_plan_with_exit_1() {
    let o = twip(&[
        "plan",
        "scenarios/twip/limited-release.toml",
        "--policy-budget",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--policy-budget"), "{}", stderr(&o));
    assert!(stderr(&o).contains("more than 0"), "{}", stderr(&o));
    // A tiny budget is accepted and then used up at the first placement.
    let o = twip(&[
        "plan",
        "scenarios/twip/limited-release.toml",
        "--policy-budget",
        "0.000001",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("policy time budget"), "{}", stderr(&o));
}

/// Issue 20 item 8: a service that cannot scale out is never given more
/// replicas, in the plan or in any candidate the search tried.
#[test]
fn fixed_and_capped_services_keep_their_bound() {
    let p = variant(
        "scenarios/twip/limited-release.toml",
        "bounded.toml",
        &[
            (
                "replicas = 2\nworkers = 1024",
                "replicas = 2\nfixed = true\nworkers = 1024",
            ),
            ("replicas = 4\n", "replicas = 3\nmax_replicas = 3\n"),
        ],
    );
    let o = twip(&["plan", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan = json(&o);
    assert_eq!(plan["replicas"]["lb"], 2, "{}", plan["replicas"]);
    assert!(plan["replicas"]["app"].as_u64().unwrap() <= 3);
    let rejected = plan["rejected"].as_array().unwrap();
    assert!(!rejected.is_empty());
    for r in rejected {
        assert_eq!(r["replicas"]["lb"], 2, "{r}");
        assert!(r["replicas"]["app"].as_u64().unwrap() <= 3, "{r}");
    }
    // The committed plan tried app 4 without the bound.
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("reports/plans/limited-release.json")).unwrap(),
    )
    .unwrap();
    assert!(committed["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["replicas"]["app"].as_u64().unwrap_or(0) > 3));
}

/// A small elastic day: three hours at a few hundred requests/s rising to
/// the evening, a 3× spike at 2h; `twip plan` plans it elastically (its
/// `[service.autoscaling]` says so), the plan replays, and `twip apply`'s
/// Docker applier would deploy its start of day.
const SMALL_ELASTIC: &str = include_str!("data/small-elastic.toml");

#[test]
#[ignore = "heavy: an elastic search with simulated windows; run with --release -- --ignored"]
fn an_elastic_plan_is_cheaper_than_the_fixed_one_verified_at_the_worst_moments_and_replays() {
    let scenario = crate::common::write_tmp("small-elastic.toml", SMALL_ELASTIC);
    let out = tmp("small-elastic.json");
    let o = twip(&[
        "plan",
        scenario.to_str().unwrap(),
        "--elastic",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let el = &plan["elastic"];
    let cost = &el["cost"];
    let (day, fixed, bound) = (
        cost["day_usd"].as_f64().unwrap(),
        cost["static_day_usd"].as_f64().unwrap(),
        cost["lower_bound_day_usd"].as_f64().unwrap(),
    );
    assert!(day < fixed, "elastic ${day}/day, fixed ${fixed}/day");
    assert!(
        bound <= day,
        "lower bound ${bound}/day above the plan's ${day}/day"
    );
    // Every case met: the day, and a zone lost at each worst moment.
    let cases = el["cases"].as_array().unwrap();
    let moments: Vec<&str> = cases
        .iter()
        .map(|c| c["moment"].as_str().unwrap())
        .collect();
    for m in ["day", "trough", "rise", "peak", "spike"] {
        assert!(moments.contains(&m), "no {m} case: {moments:?}");
    }
    assert!(cases.iter().all(|c| c["met"] == true), "{cases:?}");
    assert!(cases
        .iter()
        .filter(|c| c["moment"] != "day")
        .all(|c| c["loss"]["kind"] == "zone"));
    // The floor keeps a replica in every zone.
    let app = &el["services"]["app"];
    assert!(app["min"].as_u64().unwrap() >= 3);
    // A schedule, when there is one, starts at least the node warm-up and
    // the start delay + a health check ahead of the spike.
    for a in app["schedule"].as_array().unwrap() {
        if a["purpose"]["kind"] == "before_spike" {
            let lead = a["purpose"]["lead_s"].as_f64().unwrap();
            assert!(lead >= 120.0 + 35.0, "lead {lead} s");
            assert_eq!(a["at_s"].as_f64().unwrap(), 7200.0 - lead);
        }
    }
    // The day's timeline follows demand: fewer replicas at the start than
    // at the spike.
    let desired = el["day"]["services"]["app"]["desired"].as_array().unwrap();
    let first = desired[0].as_u64().unwrap();
    let most = desired.iter().map(|x| x.as_u64().unwrap()).max().unwrap();
    assert!(most > first, "{desired:?}");
    // The JSON on stdout is the plan too, and the table says the savings.
    assert_eq!(json(&o)["elastic"]["cost"], *cost);
    let t = twip(&["plan", scenario.to_str().unwrap(), "--elastic"]);
    assert!(
        stdout(&t).contains("cheaper than the fixed plan"),
        "{}",
        stdout(&t)
    );
    // It replays: the simulated day has the plan's policy.
    let r = twip(&[
        "simulate",
        scenario.to_str().unwrap(),
        "--plan",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(matches!(r.status.code(), Some(0 | 2)), "{}", stderr(&r));
    let v = json(&r);
    assert!(v["elastic"]["events"].as_array().unwrap().len() > 1);
    // Docker has no autoscaler: apply deploys the start of the day, and
    // says so (a dry run against the real engine: nothing is created).
    let a = twip(&[
        "apply",
        out.to_str().unwrap(),
        "--target",
        "docker",
        "--env",
        "small-elastic-dry",
        "--dry-run",
    ]);
    assert_eq!(a.status.code(), Some(2), "changes pending: {}", stderr(&a));
    let initial = el["services"]["app"]["initial"].as_u64().unwrap();
    assert!(
        stderr(&a).contains("Docker has no autoscaler")
            && stderr(&a).contains(&format!("deployed as a fixed fleet: app {initial}")),
        "{}",
        stderr(&a)
    );
    let creates = stdout(&a)
        .lines()
        .filter(|l| l.starts_with("+ create") && l.contains("(app replica"))
        .count() as u64;
    assert_eq!(creates, initial, "{}", stdout(&a));
}

#[test]
#[ignore = "heavy: an elastic screening; run with --release -- --ignored"]
fn a_surge_no_policy_can_absorb_is_named_as_the_binding_constraint() {
    let text = SMALL_ELASTIC.replace(
        "\n[slo]",
        "\n[[traffic.surprise]]\nmultiplier = 2.5\nduration = \"15m\"\n\n[slo]",
    );
    let scenario = crate::common::write_tmp("small-surprise.toml", &text);
    let out = tmp("small-surprise.json");
    let o = twip(&[
        "plan",
        scenario.to_str().unwrap(),
        "--elastic",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("none of the") && err.contains("×2.5 surge for 15 min nobody scheduled"),
        "{err}"
    );
    assert!(!out.exists(), "no plan, no plan file");
    // The surge is not part of the simulated day, and simulate says so.
    let s = twip(&["simulate", scenario.to_str().unwrap(), "--duration", "20m"]);
    assert_eq!(s.status.code(), Some(0), "{}", stderr(&s));
    assert!(
        stderr(&s).contains("[[traffic.surprise]] surge(s) are not part of the simulated day"),
        "{}",
        stderr(&s)
    );
}

#[test]
#[ignore = "heavy: a fixed search of a three-hour day; run with --release -- --ignored"]
fn plan_mode_fixed_plans_an_elastic_scenario_as_one_fleet_that_replays_fixed() {
    let text = format!("{SMALL_ELASTIC}\n[plan]\nmode = \"fixed\"\n");
    let scenario = crate::common::write_tmp("small-fixed.toml", &text);
    let out = tmp("small-fixed.json");
    let o = twip(&[
        "plan",
        scenario.to_str().unwrap(),
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan = json(&o);
    assert!(plan.get("elastic").is_none(), "a fixed plan: {plan}");
    let app = plan["replicas"]["app"].as_u64().unwrap();
    // It replays as a fixed fleet: no scaling, the plan's count all day.
    let r = twip(&[
        "simulate",
        scenario.to_str().unwrap(),
        "--plan",
        out.to_str().unwrap(),
        "--duration",
        "30m",
        "--format",
        "json",
    ]);
    assert!(matches!(r.status.code(), Some(0 | 2)), "{}", stderr(&r));
    let v = json(&r);
    assert!(
        v.get("elastic").is_none(),
        "the replay scaled: {}",
        v["elastic"]
    );
    assert!(app >= 3, "{app} app replicas");
}
