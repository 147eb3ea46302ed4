//! A plugin that fails (traps, runs out of fuel) or answers one request in
//! two ways stops the plan with an error naming it: it is never counted as
//! a rejected candidate, so the plan cannot depend on machine load.

#[path = "../../twip-policy/tests/fixtures/mod.rs"]
mod fixtures;

use std::path::{Path, PathBuf};

use twip_model::Scenario;
use twip_plan::{PlanError, PlanOptions};
use twip_policy::PolicyError;

fn scenario() -> Scenario {
    Scenario::load(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/twip/limited-release.toml"),
    )
    .unwrap()
}

/// Writes a component to a file of its own and plans with it.
fn plan_with(name: &str, wasm: &[u8]) -> (PathBuf, Result<twip_plan::Outcome, PlanError>) {
    let dir = std::env::temp_dir().join(format!("twip-plan-plugins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, wasm).unwrap();
    let opts = PlanOptions {
        policy: Some(path.to_string_lossy().into_owned()),
        ..PlanOptions::default()
    };
    let r = twip_plan::plan(&scenario(), &opts);
    (path, r)
}

#[test]
fn a_trapping_plugin_stops_the_plan_naming_it() {
    let (path, r) = plan_with("trap.wasm", &fixtures::hostile("(unreachable)", ""));
    let e = r.expect_err("a plugin that traps on every call is an error, not 'no plan'");
    match &e {
        PlanError::PluginFailed { source, .. } => {
            assert!(matches!(**source, PolicyError::Trap(_)), "{e}")
        }
        other => panic!("expected PluginFailed, got {other}"),
    }
    assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
}

#[test]
fn running_out_of_fuel_stops_the_plan() {
    let (_, r) = plan_with(
        "spin.wasm",
        &fixtures::hostile("(loop $l (br $l)) (unreachable)", ""),
    );
    match r {
        Err(PlanError::PluginFailed { source, .. }) => assert!(
            matches!(
                *source,
                PolicyError::OutOfFuel { .. } | PolicyError::Timeout { .. }
            ),
            "{source}"
        ),
        Err(e) => panic!("expected PluginFailed, got {e}"),
        Ok(_) => panic!("a plugin that never answers cannot give a plan"),
    }
}

#[test]
fn two_answers_to_one_request_stop_the_plan() {
    // Refuses every request, with a message that alternates between calls.
    let extra = r#"(global $toggle (mut i32) (i32.const 0))
  (data (i32.const 256) "\01\00\00\00\01\00\00\00\00\04\00\00\02\00\00\00")
  (data (i32.const 512) "\01\00\00\00\01\00\00\00\10\04\00\00\02\00\00\00")
  (data (i32.const 1024) "aa")
  (data (i32.const 1040) "bb")"#;
    let body = "(global.set $toggle (i32.xor (global.get $toggle) (i32.const 1)))
    (select (i32.const 256) (i32.const 512) (global.get $toggle))";
    let (_, r) = plan_with("flip.wasm", &fixtures::hostile(body, extra));
    match r {
        Err(e @ PlanError::Nondeterministic { .. }) => {
            assert!(e.to_string().contains("not deterministic"), "{e}")
        }
        Err(e) => panic!("expected Nondeterministic, got {e}"),
        Ok(_) => panic!("a policy that refuses everything gives no plan"),
    }
}

#[test]
fn a_consistent_refusal_is_a_rejection() {
    // Refuses every request with the same message: candidates are rejected
    // (kind placement), the search ends with no plan, no error.
    let extra = r#"(data (i32.const 256) "\01\00\00\00\01\00\00\00\00\04\00\00\02\00\00\00")
  (data (i32.const 1024) "no")"#;
    let (_, r) = plan_with("no.wasm", &fixtures::hostile("(i32.const 256)", extra));
    match r.expect("a refusal is an answer, not a failure") {
        twip_plan::Outcome::NoPlan { rejected, .. } => assert!(rejected
            .iter()
            .any(|x| x.kind == Some(twip_model::RejectionKind::Placement))),
        twip_plan::Outcome::Found { .. } => panic!("nothing can be placed"),
    }
}

#[test]
fn the_plans_policy_time_budget_stops_a_slow_policy() {
    // A zero budget: the first placement already spends more than it.
    let opts = PlanOptions {
        policy_budget: Some(std::time::Duration::ZERO),
        ..PlanOptions::default()
    };
    match twip_plan::plan(&scenario(), &opts) {
        Err(e @ PlanError::PolicyBudget { calls: 1, .. }) => {
            assert!(e.to_string().contains("--policy-budget"), "{e}")
        }
        Err(e) => panic!("expected PolicyBudget, got {e}"),
        Ok(_) => panic!("a plan past its policy budget must stop"),
    }
    // The default budget is far above what the built-in policy needs.
    assert!(matches!(
        twip_plan::plan(&scenario(), &PlanOptions::default()),
        Ok(twip_plan::Outcome::Found { .. })
    ));
}
