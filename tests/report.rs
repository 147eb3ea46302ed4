//! End-to-end tests of `twip report`.
//!
//! Fast: a report of a short slice of the limited release, the committed
//! TWIP report against the committed plans, bad inputs. Heavy (ignored, run
//! by .ci/run in release): the four phases (one elastic) over whole days, opened in
//! headless chromium:
//! `cargo test --release -p twip-cli --test e2e -- --ignored report::`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{root, text, tmp, twip};
use serde_json::Value;

fn plan(name: &str) -> Value {
    let p = root().join(format!("reports/plans/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// `12345.6` → `12,346`, as the report writes dollars.
fn thousands(x: f64) -> String {
    let d = format!("{:.0}", x);
    let mut o = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            o.push(',');
        }
        o.push(c);
    }
    o
}

/// The summary table's row of `phase` in report.md, as cells.
fn summary_row(md: &str, phase: &str) -> Vec<String> {
    let line = md
        .lines()
        .find(|l| l.starts_with(&format!("| {phase} |")))
        .unwrap_or_else(|| panic!("no summary row for {phase} in:\n{md}"));
    line.trim_matches('|')
        .split(" | ")
        .map(|c| c.trim().to_string())
        .collect()
}

/// The figures of the report equal the plan's: node count and type,
/// replicas per service, monthly cost; the HTML shows the same cells.
fn check_figures(dir: &Path, phase: &str, plan: &Value) {
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let row = summary_row(&md, phase);
    let nodes = plan["nodes"].as_array().unwrap();
    let ty = nodes[0]["instance_type"].as_str().unwrap();
    assert!(nodes.iter().all(|n| n["instance_type"] == ty));
    assert_eq!(
        row[2],
        format!("{} x {ty}", nodes.len()),
        "nodes of {phase}"
    );
    let replicas: BTreeMap<String, u64> = row[3]
        .split(", ")
        .map(|x| {
            let (s, n) = x.rsplit_once(' ').unwrap();
            (s.to_string(), n.parse().unwrap())
        })
        .collect();
    let want: BTreeMap<String, u64> = plan["replicas"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(replicas, want, "replicas of {phase}");
    let monthly = plan["cost"]["monthly_usd"].as_f64().unwrap();
    assert_eq!(
        row[4],
        format!("${}", thousands(monthly)),
        "cost of {phase}"
    );
    let hourly = plan["cost"]["hourly_usd"].as_f64().unwrap();
    assert!(
        md.contains(&format!("${hourly:.3} per hour")),
        "hourly cost {hourly} of {phase}"
    );
    let worst = plan["verification"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["p99_ms"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        row[5].starts_with(&format!("{worst:.0} ms")),
        "p99 of {phase}: {row:?}"
    );
    for cell in &row[..5] {
        assert!(
            html.contains(&format!("<td>{cell}</td>")),
            "HTML lacks {cell}"
        );
    }
    // Every verification case is in the failure table.
    for v in plan["verification"].as_array().unwrap() {
        assert!(md.contains(&format!("| {} |", v["case"].as_str().unwrap())));
    }
}

/// Attribute `name` of an SVG element's text.
fn attr<'a>(el: &'a str, name: &str) -> Option<&'a str> {
    let i = el.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&el[i..i + el[i..].find('"')?])
}

/// What a plotters SVG draws beyond axes, mesh, text and legend frame:
/// (polylines of 10+ points, filled coloured rectangles, circles, 2 px lines).
fn marks(svg: &str) -> (usize, usize, usize, usize) {
    let (mut lines, mut rects, mut circles, mut strokes) = (0, 0, 0, 0);
    for el in svg.split('<').skip(1) {
        if el.starts_with("polyline") {
            let pts = attr(el, "points").unwrap_or("").split_whitespace().count();
            if pts >= 10 {
                lines += 1;
            }
        } else if el.starts_with("rect") {
            let fill = attr(el, "fill").unwrap_or("none");
            if !["none", "#FFFFFF", "#F0F0F5"].contains(&fill) {
                rects += 1;
            }
        } else if el.starts_with("circle") {
            circles += 1;
        } else if el.starts_with("line ") && attr(el, "stroke-width") == Some("2") {
            strokes += 1;
        }
    }
    (lines, rects, circles, strokes)
}

/// Every chart of `phase` is there as SVG and PNG and holds its data.
fn check_charts(dir: &Path, phase: &str, plan: &Value) {
    let read = |kind: &str| {
        let stem = format!("{phase}-{kind}");
        let png = std::fs::read(dir.join(format!("{stem}.png")))
            .unwrap_or_else(|e| panic!("{stem}.png: {e}"));
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 5_000,
            "{stem}.png"
        );
        std::fs::read_to_string(dir.join(format!("{stem}.svg")))
            .unwrap_or_else(|e| panic!("{stem}.svg: {e}"))
    };
    let services = plan["replicas"].as_object().unwrap().len();
    let cases = plan["verification"].as_array().unwrap().len();
    let placements = plan["placements"].as_array().unwrap().len();
    let (l, ..) = marks(&read("traffic"));
    assert!(l >= 1, "{phase}-traffic: no rate curve");
    let (l, ..) = marks(&read("latency"));
    assert!(l >= 3, "{phase}-latency: {l} curves of p50/p95/p99");
    let (l, ..) = marks(&read("errors"));
    assert!(l >= 1, "{phase}-errors: no error-rate curve");
    let (_, r, ..) = marks(&read("utilisation"));
    assert!(r >= 2 * services + 2, "{phase}-utilisation: {r} bars");
    let (_, r, ..) = marks(&read("failures"));
    assert!(
        r >= 2 * cases + 2,
        "{phase}-failures: {r} bars for {cases} cases"
    );
    let (_, r, ..) = marks(&read("placement"));
    assert!(
        r >= placements + services,
        "{phase}-placement: {r} of {placements} replicas"
    );
    let (_, _, c, s) = marks(&read("candidates"));
    assert!(c >= 2, "{phase}-candidates: chosen plan not drawn");
    let with_p99 = plan["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["reason"].as_str().unwrap().starts_with("p99 "))
        .count();
    if with_p99 > 0 {
        assert!(
            s >= 2 * 2,
            "{phase}-candidates: rejected candidates not drawn"
        );
    }
}

/// The rows of the first table after `heading` in report.md, as cells
/// (header and separator left out).
fn table_after(md: &str, heading: &str) -> Vec<Vec<String>> {
    let start = md
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} in the report"));
    md[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// An elastic phase shows the plan's policy, costs, cases and events; the
/// report's own simulation of the day gives the plan's scaling events
/// (same scenario, same seed), and its charts hold their data.
fn check_elastic(dir: &Path, phase: &str, plan: &Value) {
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let el = &plan["elastic"];
    let nodes = &el["nodes"];
    let row = summary_row(&md, phase);
    assert_eq!(
        row[2],
        format!(
            "{}–{} x {}",
            nodes["min_nodes"],
            nodes["max_nodes"],
            nodes["instance_type"].as_str().unwrap()
        ),
        "nodes of {phase}"
    );
    for (s, p) in el["services"].as_object().unwrap() {
        let range = format!("{s} {}–{}", p["min"], p["max"]);
        assert!(row[3].contains(&range), "{range} in {row:?}");
    }
    let cost = &el["cost"];
    let monthly = cost["monthly_usd"].as_f64().unwrap();
    assert_eq!(
        row[4],
        format!("${}", thousands(monthly)),
        "cost of {phase}"
    );
    for needle in [
        format!(
            "{:.1} % less than the fixed plan",
            cost["savings_pct"].as_f64().unwrap()
        ),
        format!(
            "{:.1} % above the fluid lower bound (${} per month",
            cost["above_lower_bound_pct"].as_f64().unwrap(),
            thousands(cost["lower_bound_monthly_usd"].as_f64().unwrap())
        ),
        format!(
            "${} per month for {} nodes all day",
            thousands(cost["static_monthly_usd"].as_f64().unwrap()),
            el["day"]["static_nodes"]
        ),
    ] {
        assert!(md.contains(&needle), "no {needle:?} in the report");
    }
    // The provider's target capacity, and that the search tried others.
    let tc = nodes["target_capacity"].as_f64().unwrap();
    assert!(
        md.contains(&format!(
            "runs at {tc:.0} % target capacity: the planner tried"
        )),
        "the report does not say the target capacity {tc} was chosen"
    );
    // The schedule says when and why.
    for s in el["services"].as_object().unwrap().values() {
        for a in s["schedule"].as_array().unwrap() {
            let utc = a["utc"].as_str().unwrap();
            assert!(
                md.contains(&format!("At {utc} UTC")),
                "no scheduled action at {utc}"
            );
        }
    }
    // Every case, its verdict, in order.
    let cases = table_after(&md, "### When a zone dies mid-scale-out");
    let want = el["cases"].as_array().unwrap();
    assert_eq!(cases.len(), want.len(), "{cases:?}");
    for (r, c) in cases.iter().zip(want) {
        assert!(
            r[3].starts_with(&format!("{:.0} ", c["p99_ms"].as_f64().unwrap())),
            "{r:?} against {c}"
        );
        assert_eq!(r[5], if c["met"] == true { "yes" } else { "no" });
    }
    // The report's day is the plan's day: the same events, in order.
    let events = table_after(&md, "### Scaling events of the simulated day");
    let want = el["events"].as_array().unwrap();
    assert_eq!(events.len(), want.len(), "events: {events:?}");
    for (r, e) in events.iter().zip(want) {
        let what = e["service"].as_str().unwrap_or("nodes");
        assert_eq!(r[1], what, "{r:?} against {e}");
        let (from, to) = (e["from"].as_u64().unwrap(), e["to"].as_u64().unwrap());
        let count = if from == to {
            to.to_string()
        } else {
            format!("{from} → {to}")
        };
        assert_eq!(r[2], count, "{r:?} against {e}");
    }
    // Charts: the day's capacity (demand, nodes, lower bound, each elastic
    // service's desired and in-service), the cost, and the latency with
    // a tick per event.
    let svg = |kind: &str| {
        std::fs::read_to_string(dir.join(format!("{phase}-{kind}.svg")))
            .unwrap_or_else(|e| panic!("{phase}-{kind}.svg: {e}"))
    };
    let elastic_services = el["services"].as_object().unwrap().len();
    // Solid: the nodes and each service in service (desired, the lower
    // bound and the fixed plan are dashed); the demand is an area.
    let chart = svg("elastic");
    let (l, ..) = marks(&chart);
    assert!(l > elastic_services, "{phase}-elastic: {l} curves");
    assert!(
        chart.contains("<polygon"),
        "{phase}-elastic: no demand area"
    );
    let chart = svg("elastic-cost");
    assert!(
        chart.contains("<polygon"),
        "{phase}-elastic-cost: no cost area"
    );
    let (l, ..) = marks(&svg("errors"));
    assert!(l >= 1, "{phase}-errors: no error-rate curve");
    let latency = svg("latency");
    let (l, ..) = marks(&latency);
    assert!(l >= 3, "{phase}-latency: {l} curves");
    for kind in ["scale-out", "scheduled action"] {
        assert!(latency.contains(kind), "{phase}-latency: no {kind} marks");
    }
}

fn run_report(args: &[&str]) -> std::process::Output {
    let o = twip(args);
    assert!(o.status.success(), "twip report failed: {}", text(&o));
    o
}

#[test]
fn report_of_a_slice_of_the_limited_release() {
    let out = tmp("slice");
    let o = run_report(&[
        "report",
        "reports/plans/limited-release.json",
        "--duration",
        "40m",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(crate::common::stdout(&o).contains("index.html"));
    let p = plan("limited-release");
    check_figures(&out, "limited-release", &p);
    check_charts(&out, "limited-release", &p);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    // Self-contained: inline SVG, nothing fetched.
    assert_eq!(html.matches("<svg").count(), 7);
    for bad in ["src=", "href=\"http", "<link", "<script"] {
        assert!(!html.contains(bad), "external asset: {bad}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("](limited-release-latency.svg)"));
    assert!(
        md.contains("--duration 2400s"),
        "the command is written at the top"
    );
    // Regenerating into the same folder replaces it.
    run_report(&[
        "report",
        "reports/plans/limited-release.json",
        "--duration",
        "20m",
        "--out",
        out.to_str().unwrap(),
    ]);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("--duration 1200s"));
}

fn fails_with(args: &[&str], needle: &str) {
    let o = twip(args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = crate::common::stderr(&o);
    assert!(err.contains(needle), "{needle:?} not in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_inputs_fail_and_write_nothing() {
    let out = tmp("bad-out");
    let o = out.to_str().unwrap();
    fails_with(
        &["report", "no/such-plan.json", "--out", o],
        "no/such-plan.json",
    );
    assert!(!out.exists(), "nothing written");
    let broken = crate::common::write_tmp("broken.json", "{\n  \"scenario\": 3,\n}");
    fails_with(
        &["report", broken.to_str().unwrap(), "--out", o],
        "broken.json:",
    );
    let orphan = crate::common::write_tmp(
        "orphan.json",
        &std::fs::read_to_string(root().join("reports/plans/limited-release.json"))
            .unwrap()
            .replace(
                "\"scenario_file\": \"scenarios/twip/limited-release.toml\",",
                "",
            ),
    );
    fails_with(
        &["report", orphan.to_str().unwrap(), "--out", o],
        "scenario_file",
    );
    assert!(!out.exists(), "nothing written");

    // A folder that is not a report is never replaced.
    let precious = tmp("precious");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("notes.txt"), "mine").unwrap();
    fails_with(
        &[
            "report",
            "reports/plans/limited-release.json",
            "--duration",
            "20m",
            "--out",
            precious.to_str().unwrap(),
        ],
        "refusing to replace",
    );
    assert_eq!(
        std::fs::read_to_string(precious.join("notes.txt")).unwrap(),
        "mine"
    );

    // A failed run leaves an existing report as it was. It gets a folder of
    // its own: the other tests of this binary write their reports (and
    // their in-flight temporaries) beside each other in `tmp()`.
    let existing = tmp("failed-run").join("existing");
    std::fs::create_dir_all(&existing).unwrap();
    std::fs::write(existing.join("report.md"), "old").unwrap();
    fails_with(
        &[
            "report",
            "no/such-plan.json",
            "--out",
            existing.to_str().unwrap(),
        ],
        "no/such-plan.json",
    );
    assert_eq!(
        std::fs::read_to_string(existing.join("report.md")).unwrap(),
        "old"
    );
    let leftovers: Vec<PathBuf> = std::fs::read_dir(existing.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The command at the top of the committed report.
const COMMAND: &str = "twip report scenarios/twip/training.toml reports/plans/limited-release.json reports/plans/worldwide.json reports/plans/worldwide-elastic.json --out reports/twip";

#[test]
fn the_committed_twip_report_matches_the_plans() {
    let dir = root().join("reports/twip");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains(COMMAND), "the command is at the top");
    for phase in ["limited-release", "worldwide"] {
        let p = plan(phase);
        check_figures(&dir, phase, &p);
        check_charts(&dir, phase, &p);
    }
    check_elastic(&dir, "worldwide-elastic", &plan("worldwide-elastic"));
    // The headline headroom is the margin in the worst case the plan must
    // survive, below the everything-up headroom the day's text gives.
    for (phase, loss) in [
        ("limited-release", "(a node lost)"),
        ("worldwide", "(a zone lost)"),
        ("worldwide-elastic", "(a zone lost)"),
    ] {
        let cell = &summary_row(&md, phase)[6];
        assert!(cell.ends_with(loss), "{phase}: {cell}");
        let worst: f64 = cell.split(' ').next().unwrap().parse().unwrap();
        let section = &md[md.find(&format!("## Phase: {phase}\n")).unwrap()..];
        let up: f64 = section
            .split(" % headroom with everything up")
            .next()
            .and_then(|h| h.rsplit(' ').next())
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| panic!("{phase}: no everything-up headroom"));
        assert!(
            worst < up,
            "{phase}: worst case {worst} % against {up} % all up"
        );
    }
    assert!(md.contains("| training |"));
    assert!(md.contains("## Scale-out steps: limited-release → worldwide\n"));
    assert!(md.contains("## Scale-out steps: worldwide → worldwide-elastic\n"));
    let total: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(total < 3_000_000, "reports/twip holds {total} bytes");
}

/// Debian's chromium, where it is.
fn chromium() -> PathBuf {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|n| Path::new("/usr/bin").join(n))
        .find(|p| p.exists())
        .expect("chromium is installed (apt-get install chromium; .ci/run does)")
}

#[test]
#[ignore = "four whole simulated days and headless chromium; run by .ci/run in release"]
fn four_phases_over_whole_days_open_in_chromium() {
    let out = tmp("twip");
    let args: Vec<&str> = COMMAND.split(' ').skip(1).collect();
    let mut args: Vec<&str> = args[..args.len() - 1].to_vec();
    args.push(out.to_str().unwrap());
    run_report(&args);
    for phase in ["limited-release", "worldwide"] {
        let p = plan(phase);
        check_figures(&out, phase, &p);
        check_charts(&out, phase, &p);
    }
    check_elastic(&out, "worldwide-elastic", &plan("worldwide-elastic"));
    // The committed report is what this command gives today.
    let md = std::fs::read_to_string(out.join("report.md"))
        .unwrap()
        .replace(out.to_str().unwrap(), "reports/twip");
    let committed = std::fs::read_to_string(root().join("reports/twip/report.md")).unwrap();
    assert!(
        md == committed,
        "reports/twip is stale: regenerate it with `{COMMAND}`"
    );

    // The page opens in a real browser: the DOM holds every chart ...
    let url = format!(
        "file://{}",
        out.join("index.html").canonicalize().unwrap().display()
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let charts = html.matches("<figure").count();
    assert_eq!(
        charts, 28,
        "7 charts per fixed phase, 6 for the elastic one, and the comparison"
    );
    // Section ids are unique, and the contents link to them.
    let ids: Vec<&str> = html
        .split(" id=\"")
        .skip(1)
        .map(|r| &r[..r.find('"').unwrap()])
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for id in &ids {
        assert!(seen.insert(*id), "id {id} twice");
    }
    for link in html.split("<a href=\"#").skip(1) {
        let id = &link[..link.find('"').unwrap()];
        assert!(seen.contains(id), "the contents link to a missing #{id}");
    }
    assert!(!html.contains('`'), "literal backticks in the HTML");
    let browser = chromium();
    // As root (CI) chromium needs --no-sandbox; `timeout` bounds a hang.
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ];
    let dom = Command::new("timeout")
        .arg("120")
        .arg(&browser)
        .args(flags)
        .args(["--dump-dom", &url])
        .output()
        .unwrap();
    assert!(dom.status.success(), "{}", text(&dom));
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(dom.matches("<svg").count(), charts, "every chart parsed");
    // ... and a screenshot is taken.
    let shot = tmp("screenshot.png");
    let o = Command::new("timeout")
        .arg("120")
        .arg(&browser)
        .args(flags)
        .args(["--window-size=1200,3000"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(o.status.success(), "chromium: {}", text(&o));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        png.len() > 100_000,
        "a near-empty screenshot: {} bytes",
        png.len()
    );
}

/// `twip report --calibration`: the section, its table (a row per figure
/// per rate, the measured values of the file), the hockey-stick chart with
/// a dot per p50 and p99 of each series; a broken file is refused by name
/// and line.
/// tests/data/calibration.json is bench/calibrate's output
/// (target/bench-calibrate/app-calibration.json).
#[test]
fn a_calibration_adds_its_section_and_chart() {
    let out = tmp("calibrated-report");
    let cal = root().join("tests/data/calibration.json");
    run_report(&[
        "report",
        "reports/plans/limited-release.json",
        "--duration",
        "20m",
        "--calibration",
        cal.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let c: Value = serde_json::from_str(&std::fs::read_to_string(&cal).unwrap()).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let heading = format!(
        "## Simulated against measured: {} on {}",
        c["scenario"].as_str().unwrap(),
        c["env"].as_str().unwrap()
    );
    let rows = table_after(&md, &heading);
    let rungs = c["rungs"].as_array().unwrap();
    assert_eq!(rows.len(), 5 * rungs.len(), "{rows:?}");
    for (k, r) in rungs.iter().enumerate() {
        let p99 = &rows[5 * k + 2];
        assert_eq!(p99[1], "p99 ms");
        let m = r["measured"]["p99_ms"].as_f64().unwrap();
        let shown: f64 = p99[2].parse().unwrap();
        assert!((shown - m).abs() <= 0.5 + m * 0.005, "{shown} for {m}");
    }
    assert!(
        md.contains("](calibration.svg)"),
        "the chart is in the report"
    );
    let svg = std::fs::read_to_string(out.join("calibration.svg")).unwrap();
    // p50 and p99: a dot per measured value, and the error bars' centres
    // (plotters draws one) for the simulated and the calibrated values.
    let series = 1 + 1 + usize::from(rungs[0]["calibrated"].is_object());
    assert_eq!(
        svg.matches("<circle").count(),
        2 * series * rungs.len(),
        "dots"
    );
    assert!(out.join("calibration.png").exists());

    let broken = crate::common::write_tmp(
        "calibration.json",
        &std::fs::read_to_string(&cal)
            .unwrap()
            .replacen("\"capacity_rps\":", "\"capacity\":", 1),
    );
    let o = tmp("bad-calibrated-report");
    fails_with(
        &[
            "report",
            "reports/plans/limited-release.json",
            "--calibration",
            broken.to_str().unwrap(),
            "--out",
            o.to_str().unwrap(),
        ],
        "calibration.json:",
    );
    assert!(!o.exists(), "nothing written");
}
