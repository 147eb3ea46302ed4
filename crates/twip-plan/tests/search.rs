//! The planner's search: plans are verified and minimal (one node fewer of
//! the chosen type fails verification), on the TWIP scenarios and on one it
//! was not tuned on.

use std::path::{Path, PathBuf};

use twip_model::Scenario;
use twip_plan::{Outcome, PlanOptions, Planner};

fn scenario(rel: &str) -> Scenario {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(rel);
    Scenario::load(&p).unwrap()
}

/// Plans `rel`, checks the plan and that one node fewer fails; returns
/// (nodes, hourly cost).
fn plan_is_verified_and_minimal(rel: &str, policy: Option<&str>) -> (usize, f64) {
    let s = scenario(rel);
    let planner = Planner::new(
        &s,
        &PlanOptions {
            policy: policy.map(str::to_string),
            ..PlanOptions::default()
        },
    )
    .unwrap();
    let Outcome::Found { plan, .. } = planner.run().unwrap() else {
        panic!("{rel}: no plan");
    };
    assert!(!plan.verification.is_empty());
    assert!(
        plan.verification.iter().all(|v| v.met),
        "{:?}",
        plan.verification
    );
    assert_eq!(plan.verification[0].case, "baseline");
    if let Some(slo) = &s.slo {
        if !slo.survive.is_empty() {
            assert!(
                plan.verification.len() >= 2,
                "{rel}: failure cases must be simulated"
            );
        }
        for v in &plan.verification {
            assert!(v.p99_ms <= slo.p99_ms.unwrap(), "{v:?}");
        }
    }
    let n = plan.nodes.len() as u32;
    let ty = plan.nodes[0].instance_type.clone();
    assert!(plan.nodes.iter().all(|x| x.instance_type == ty));
    assert!((plan.cost.monthly_usd - plan.cost.hourly_usd * 730.0).abs() <= 0.005);
    let sum: f64 = plan.nodes.iter().map(|x| x.hourly_usd).sum();
    assert!((sum - plan.cost.hourly_usd).abs() < 1e-5);
    // The search's own verdict for the chosen node count...
    planner
        .try_nodes(&ty, n)
        .unwrap_or_else(|e| panic!("{rel}: {n} x {ty} should pass: {e}"));
    // ...and one node fewer fails.
    let fewer = planner.try_nodes(&ty, n - 1);
    assert!(
        fewer.is_err(),
        "{rel}: {} x {ty} passes too: {fewer:?}",
        n - 1
    );
    // Every cheaper candidate is accounted for.
    assert!(!plan.rejected.is_empty());
    (plan.nodes.len(), plan.cost.hourly_usd)
}

#[test]
fn limited_release_plan_is_verified_and_minimal() {
    let (nodes, hourly) = plan_is_verified_and_minimal("twip/limited-release.toml", None);
    // 200 requests/s: a handful of small nodes, not a fleet.
    assert!((3..=8).contains(&nodes), "{nodes}");
    assert!(hourly < 1.5, "{hourly}");
}

#[test]
fn a_scenario_the_planner_was_not_tuned_on() {
    let (nodes, _) = plan_is_verified_and_minimal("examples/shop.toml", None);
    assert!(nodes >= 3, "zone survival needs nodes in three zones");
}

#[test]
fn another_policy_also_gives_a_minimal_plan() {
    plan_is_verified_and_minimal("twip/limited-release.toml", Some("spread"));
}

#[test]
#[ignore = "heavy: ~10 s in debug; run with --release -- --ignored"]
fn worldwide_plan_is_verified_and_minimal() {
    let (nodes, hourly) = plan_is_verified_and_minimal("twip/worldwide.toml", None);
    assert!(nodes >= 40, "{nodes}");
    assert!(hourly > 3.0, "{hourly}");
}

#[test]
fn an_unmeetable_p99_binds_before_any_simulation() {
    let mut s = scenario("twip/limited-release.toml");
    s.slo.as_mut().unwrap().p99_ms = Some(100.0);
    let out = twip_plan::plan(&s, &PlanOptions::default()).unwrap();
    let Outcome::NoPlan { binding, stats, .. } = out else {
        panic!("a 100 ms p99 with a 450 ms p99 service time cannot be met");
    };
    assert!(matches!(binding, twip_plan::Binding::P99Floor { .. }));
    let binding = binding.to_string();
    assert!(binding.starts_with("slo.p99_ms = 100"), "{binding}");
    assert!(binding.contains("app"), "{binding}");
    assert_eq!(stats.simulated, 0);
}

#[test]
fn too_few_nodes_allowed_binds_max_nodes() {
    let mut s = scenario("twip/limited-release.toml");
    s.infrastructure.max_nodes = 2;
    s.infrastructure.instance_types = vec!["c5.large".into()];
    let Outcome::NoPlan {
        binding, rejected, ..
    } = twip_plan::plan(&s, &PlanOptions::default()).unwrap()
    else {
        panic!("two c5.large cannot hold the app");
    };
    let binding = binding.to_string();
    assert!(
        binding.starts_with("infrastructure.max_nodes = 2"),
        "{binding}"
    );
    assert!(!rejected.is_empty());
}

/// A service that cannot scale out (`fixed = true`, `max_replicas`) is
/// never given more replicas: not in the plan, not in any candidate tried.
#[test]
fn services_that_cannot_scale_out_keep_their_bound() {
    let mut s = scenario("twip/limited-release.toml");
    let idx = |s: &Scenario, n: &str| s.service_index(n).unwrap();
    let (lb, st, app) = (idx(&s, "lb"), idx(&s, "static"), idx(&s, "app"));
    // The lb as a fixed pair, app capped below what the unbounded search
    // tries (app 3 and 4).
    s.services[lb].fixed = true;
    s.services[lb].max_replicas = Some(s.services[lb].replicas);
    s.services[st].max_replicas = Some(2);
    s.services[app].max_replicas = Some(3);
    let Outcome::Found { plan, .. } = twip_plan::plan(&s, &PlanOptions::default()).unwrap() else {
        panic!("limited release with bounded services: no plan");
    };
    assert_eq!(plan.replicas["lb"], 2);
    assert!(plan.replicas["static"] <= 2, "{:?}", plan.replicas);
    assert!(plan.replicas["app"] <= 3, "{:?}", plan.replicas);
    assert!(!plan.rejected.is_empty());
    for r in &plan.rejected {
        assert_eq!(r.replicas.get("lb"), Some(&2), "{}", r.candidate);
        assert!(r.replicas["static"] <= 2, "{}", r.candidate);
        assert!(r.replicas["app"] <= 3, "{}", r.candidate);
    }
    // Unbounded, the same search tries app 4.
    let free = scenario("twip/limited-release.toml");
    let Outcome::Found { plan, .. } = twip_plan::plan(&free, &PlanOptions::default()).unwrap()
    else {
        panic!("no plan");
    };
    assert!(
        plan.rejected
            .iter()
            .any(|r| r.replicas.get("app").is_some_and(|&n| n > 3)),
        "the bounds must matter for this test"
    );
}
