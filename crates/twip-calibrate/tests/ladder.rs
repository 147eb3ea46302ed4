//! The parts of a calibration that need no environment: the ladder's
//! rates, the front's paths, the simulated window and its intervals.

use std::path::Path;

use twip_calibrate::{at_constant_rate, estimate, front_paths, ladder, simulate_rate, Settings};
use twip_model::Scenario;

fn training() -> Scenario {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Scenario::load(root.join("scenarios/twip/training.toml")).unwrap()
}

#[test]
fn the_ladder_is_a_share_of_the_bottlenecks_capacity() {
    // app: 2 replicas × 4 workers ÷ (0.4 visits × 60 ms) = 333.3 requests/s;
    // static: 1 × 256 ÷ (0.6 × 1 ms) and lb: 512 ÷ 0.3 ms are far above.
    let s = training();
    let l = ladder(&s, &Settings::default()).unwrap();
    assert_eq!(l.bottleneck, "app");
    assert!(
        (l.capacity_rps - 1000.0 / 3.0).abs() < 1e-6,
        "{}",
        l.capacity_rps
    );
    let rates: Vec<f64> = l.rungs.iter().map(|r| r.1).collect();
    for (r, p) in rates.iter().zip([25.0, 50.0, 80.0, 95.0]) {
        assert!((r - l.capacity_rps * p / 100.0).abs() < 1e-9);
    }
    // Rates given by hand, sorted, with their share.
    let by_hand = Settings {
        rates_rps: Some(vec![100.0, 50.0]),
        ..Settings::default()
    };
    let l = ladder(&s, &by_hand).unwrap();
    assert_eq!(l.rungs[0].1, 50.0);
    assert!((l.rungs[1].0 - 30.0).abs() < 1e-9, "{:?}", l.rungs);
}

#[test]
fn settings_out_of_range_are_refused_by_name() {
    let bad = |s: Settings| match s.validate() {
        Err(twip_calibrate::CalibrateError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let d = Settings::default;
    assert_eq!(
        bad(Settings {
            percents: vec![100.0],
            ..d()
        }),
        "percents"
    );
    assert_eq!(
        bad(Settings {
            percents: vec![],
            ..d()
        }),
        "percents"
    );
    assert_eq!(
        bad(Settings {
            rates_rps: Some(vec![-1.0]),
            ..d()
        }),
        "rates"
    );
    assert_eq!(
        bad(Settings {
            duration_s: 0.0,
            ..d()
        }),
        "duration"
    );
    assert_eq!(
        bad(Settings {
            warmup_s: f64::NAN,
            ..d()
        }),
        "warmup"
    );
    assert_eq!(
        bad(Settings {
            replications: 1,
            ..d()
        }),
        "replications"
    );
    assert!(d().validate().is_ok());
}

#[test]
fn the_entrys_calls_become_the_fronts_paths() {
    let s = training();
    assert_eq!(
        front_paths(&s).unwrap(),
        vec![("/static/".to_string(), 0.6), ("/app/".to_string(), 0.4)]
    );
    // A front that answers a quarter of the requests itself.
    let src = std::fs::read_to_string(&s.path)
        .unwrap()
        .replace("probability = 0.6", "probability = 0.35");
    let part = Scenario::parse(&src, &s.path).unwrap();
    let p = front_paths(&part).unwrap();
    assert_eq!(p[2].0, twip_calibrate::FRONT_ALONE);
    assert!((p[2].1 - 0.25).abs() < 1e-9, "{p:?}");
    // Fan-out cannot be reproduced by one URL per request.
    let all = Scenario::parse(
        &std::fs::read_to_string(&s.path)
            .unwrap()
            .replace("routing = \"one\"", "routing = \"all\""),
        &s.path,
    )
    .unwrap();
    let e = front_paths(&all).unwrap_err().to_string();
    assert!(e.contains("routing = \"all\""), "{e}");
}

#[test]
fn the_simulated_window_is_the_measured_one() {
    let t = training();
    let src = std::fs::read_to_string(&t.path).unwrap()
        + "\n[[failure]]\nkind = \"replica\"\ntarget = \"app/0\"\nat = \"10m\"\n";
    let s = Scenario::parse(&src, &t.path).unwrap();
    assert_eq!(s.failures.len(), 1);
    let w = at_constant_rate(&s, 50.0, 10.0, 60.0);
    assert!(w.failures.is_empty());
    assert_eq!((w.warmup_s, w.duration_s), (10.0, 70.0));
    assert_eq!(w.rate_at(35.0), 50.0);
    // 60 s at 50/s, 8 replications: about 3000 requests each.
    let layout = twip_model::Layout {
        nodes: vec![twip_model::Node {
            id: "n".into(),
            zone: "z".into(),
        }],
        replica_node: s
            .services
            .iter()
            .map(|x| vec![0; x.replicas as usize])
            .collect(),
    };
    let settings = Settings {
        duration_s: 60.0,
        warmup_s: 10.0,
        replications: 8,
        ..Settings::default()
    };
    let sim = simulate_rate(&s, &layout, 50.0, &settings).unwrap();
    let n = sim.requests as f64;
    assert!(
        (n - 8.0 * 3000.0).abs() < 3.0 * (8.0f64 * 3000.0).sqrt(),
        "{n}"
    );
    // The window's p99 varies from window to window: one window's range is
    // wider than the mean's interval, by √(n + 1) for n replications.
    let e = sim.p99_ms;
    assert!((e.pi95 / e.ci95 - 3.0).abs() < 1e-9, "{e:?}");
    assert!(e.value > sim.p50_ms.value);
}

#[test]
fn an_estimate_is_students_t_over_the_replications() {
    // Mean 2, sd 1 over 4 samples: t(3) at 97.5 % is 3.182.
    let e = estimate(&[1.0, 2.0, 3.0, 2.0]);
    assert!((e.value - 2.0).abs() < 1e-12);
    let sd = (2.0f64 / 3.0).sqrt();
    assert!((e.ci95 - 3.182_446 * sd / 2.0).abs() < 1e-5, "{e:?}");
    assert!(
        (e.pi95 - 3.182_446 * sd * 1.25f64.sqrt()).abs() < 1e-5,
        "{e:?}"
    );
    assert!(e.admits(2.0 + e.pi95 * 0.99) && !e.admits(2.0 + e.pi95 * 1.01));
}
