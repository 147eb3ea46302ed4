//! The committed elastic worldwide plan is minimal: simulated again, its
//! schedule started one minute later, or its floor one replica lower,
//! fails a named worst-moment case, while the plan itself meets them. And
//! it is at least 40 % cheaper than the fixed plan (issue 16). Heavy: run
//! by .ci/run in release.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use twip_model::elastic_plan::{CandidatePolicy, Moment};
use twip_model::{Plan, Scenario};
use twip_plan::{elastic, PlanOptions};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn policies(plan: &Plan) -> BTreeMap<String, CandidatePolicy> {
    let el = plan.elastic.as_ref().expect("an elastic plan");
    el.services
        .iter()
        .map(|(k, p)| (k.clone(), p.candidate()))
        .collect()
}

#[test]
#[ignore = "simulates worst-moment windows; run by .ci/run in release"]
fn the_elastic_worldwide_plan_is_minimal_and_saves_forty_percent() {
    let s = Scenario::load(root().join("scenarios/twip/worldwide-elastic.toml")).unwrap();
    let plan = Plan::load(root().join("reports/plans/worldwide-elastic.json")).unwrap();
    let el = plan.elastic.as_ref().unwrap();
    assert!(el.cases.iter().all(|c| c.met), "{:?}", el.cases);
    assert!(
        el.cost.savings_pct >= 40.0,
        "saves {} % against the fixed plan",
        el.cost.savings_pct
    );
    assert!(el.cost.day_usd >= el.cost.lower_bound_day_usd);
    let opts = PlanOptions::default();
    let per = policies(&plan);
    let schedule = [Moment::Schedule, Moment::Spike];
    // The plan as it is meets the cases its schedule must.
    let own = elastic::recheck(&s, &opts, &per, &schedule).unwrap();
    assert!(own.iter().all(|c| c.met), "{own:?}");
    // Its schedule one minute later fails one of them.
    let mut later = per.clone();
    let app = later.get_mut("app").unwrap();
    let lead = app.lead_s.expect("a scheduled scale-out before the launch");
    app.lead_s = Some(lead - 60.0);
    let got = elastic::recheck(&s, &opts, &later, &schedule).unwrap();
    let failed: Vec<_> = got.iter().filter(|c| !c.met).collect();
    assert!(
        !failed.is_empty(),
        "the schedule started at {} s instead of {lead} s ahead still passes: {got:?}",
        lead - 60.0
    );
    // Its floor one lower fails at the trough or the rise, unless it is
    // the structural floor (a replica in each of the three zones).
    let min = per["app"].min;
    if min > 3 {
        let mut lower = per.clone();
        lower.get_mut("app").unwrap().min = min - 1;
        let got = elastic::recheck(&s, &opts, &lower, &[Moment::Trough, Moment::Rise]).unwrap();
        assert!(
            got.iter().any(|c| !c.met),
            "floor {} passes: {got:?}",
            min - 1
        );
    }
}
