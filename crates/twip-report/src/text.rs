//! The report's text: the phases → a [`Block`] document.

use twip_model::calibration::{Calibration, Figure};

use crate::charts::{Chart, Kind, Subject};
use crate::doc::Block;
use crate::elastic_text;
use crate::model::{Phase, WorstLoss};

/// `12345.6` → `12,346`.
pub fn thousands(x: f64) -> String {
    let neg = x < 0.0;
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

/// `$5,274`.
pub fn usd(x: f64) -> String {
    if x < 10.0 {
        format!("${x:.3}")
    } else {
        format!("${}", thousands(x))
    }
}

pub(crate) fn pct(x: f64) -> String {
    if x == 0.0 {
        "0 %".into()
    } else if x < 0.001 {
        format!("{:.3} %", x * 100.0)
    } else {
        format!("{:.2} %", x * 100.0)
    }
}

/// A length of time in hours, as people write it: `24 h`, `11 min`,
/// `1 h 30 min`.
fn length(h: f64) -> String {
    span(h * 3600.0)
}

/// A length of time in seconds, as people write it: `45 s`, `90 s`,
/// `5 min`, `1 h 30 min`.
pub(crate) fn span(s: f64) -> String {
    if s < 60.0 || (s < 120.0 && s % 60.0 != 0.0) {
        return format!("{s:.0} s");
    }
    let m = (s / 60.0).round() as i64;
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

fn hour(h: f64) -> String {
    let m = (h * 60.0).round() as i64;
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn zones_line(p: &Phase) -> String {
    if p.elastic.is_some() {
        return format!("spread over {}", p.zones.join(", "));
    }
    p.zones
        .iter()
        .map(|z| format!("{} in {z}", p.nodes_in_zone(z)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn replicas_line(p: &Phase) -> String {
    p.replicas
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn survive_line(p: &Phase) -> String {
    if p.survive.is_empty() {
        "no failure to survive".into()
    } else {
        format!("survive the loss of any {}", p.survive.join(" or any "))
    }
}

fn chart(blocks: &mut Vec<Block>, c: Chart) {
    blocks.push(Block::Chart(c.stem(), c.title()));
}

/// The whole document, and every chart it shows.
pub fn document<'a>(
    phases: &'a [Phase],
    command: &str,
    calibration: Option<&'a Calibration>,
) -> (Vec<Block>, Vec<Chart<'a>>) {
    let mut b = Vec::new();
    let mut charts = Vec::new();
    let mut add = |b: &mut Vec<Block>, c: Chart<'a>| {
        chart(b, c);
        charts.push(c);
    };
    b.push(Block::Heading(1, "TWIP scale-out report".into()));
    b.push(Block::Para(format!(
        "What to run, where, what it costs and why, for {}. Every figure comes from twip's \
         planner (the cheapest plan that meets the SLOs, verified by simulation in every failure \
         case it must survive) and from a simulation of the whole day on that plan. \
         Regenerate this report with:",
        phases
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )));
    b.push(Block::Code(command.to_string()));

    // Summary.
    b.push(Block::Heading(2, "Summary: what to deploy".into()));
    b.push(Block::Table(
        [
            "phase",
            "region",
            "nodes",
            "replicas",
            "cost per month",
            "worst-case p99 (SLO)",
            "headroom at peak, worst case",
            "must survive",
        ]
        .map(String::from)
        .to_vec(),
        phases
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.region.clone(),
                    p.node_summary(),
                    summary_replicas(p),
                    usd(p.monthly_usd),
                    format!(
                        "{:.0} ms ({})",
                        p.worst_p99_ms(),
                        p.slo_p99_ms
                            .map_or("none".into(), |s| format!("≤ {s:.0} ms"))
                    ),
                    worst_headroom(p),
                    if p.survive.is_empty() {
                        "—".into()
                    } else {
                        p.survive.join(", ")
                    },
                ]
            })
            .collect(),
    ));
    b.push(Block::List {
        ordered: false,
        items: phases
            .iter()
            .map(|p| {
                format!(
                    "{}: deploy {}{} in {} ({}) running {}; {} per month; worst-case p99 {:.0} ms \
                     against an objective of {}, the day's peak at {:.0} req/s.",
                    p.name,
                    p.node_summary(),
                    if p.elastic.is_some() {
                        " (elastic)"
                    } else {
                        ""
                    },
                    p.region,
                    zones_line(p),
                    summary_replicas(p),
                    usd(p.monthly_usd),
                    p.worst_p99_ms(),
                    p.slo_p99_ms.map_or("none".into(), |s| format!("{s:.0} ms")),
                    p.traffic.peak_rps
                )
            })
            .collect(),
    });
    if phases.len() > 1 {
        add(
            &mut b,
            Chart {
                subject: Subject::Phases(phases),
            },
        );
        for w in phases.windows(2) {
            match (&w[0].elastic, &w[1].elastic) {
                (None, Some(e)) => elastic_text::steps(&mut b, &w[0], &w[1], e),
                _ => steps(&mut b, &w[0], &w[1]),
            }
        }
    }
    for p in phases {
        phase(&mut b, p, &mut add);
    }
    if let Some(c) = calibration {
        calibration_section(&mut b, c, &mut add);
    }
    (b, charts)
}

/// A figure in ms with the digits that matter.
fn ms_fig(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// `measured` against the estimate `e`, in percent.
fn rel(e: &twip_model::calibration::Estimate, measured: f64) -> String {
    e.error_pct(measured)
        .map_or("—".into(), |x| format!("{x:+.1} %"))
}

/// "Simulated against measured": the ladder, the chart, the fits.
fn calibration_section<'a>(
    b: &mut Vec<Block>,
    c: &'a Calibration,
    add: &mut dyn FnMut(&mut Vec<Block>, Chart<'a>),
) {
    b.push(Block::Heading(
        2,
        format!("Simulated against measured: {} on {}", c.scenario, c.env),
    ));
    b.push(Block::Para(format!(
        "`twip calibrate` sent constant Poisson loads through the running environment's front \
         ({}, paths {}), {:.0} s each after {:.0} s of warm-up, latency counted from each \
         request's intended start; the simulator ran the same scenario and plan ({}) at the \
         same rates over the same window (the warm-up from an empty system, then the measured \
         time), {} times: \"simulated\" is the mean with its 95 % confidence interval, and a \
         measurement is within the model when it falls in the 95 % range of one window. The \
         plan's analytic capacity on the entry path is {:.1} requests/s, {} being the \
         bottleneck.",
        c.url,
        c.paths
            .iter()
            .map(|(p, w)| format!("{p} {:.0} %", 100.0 * w))
            .collect::<Vec<_>>()
            .join(", "),
        c.duration_s,
        c.warmup_s,
        c.plan_file.display(),
        c.replications,
        c.capacity_rps,
        c.bottleneck
    )));
    let fitted = c.rungs.iter().any(|r| r.calibrated.is_some());
    let mut head: Vec<String> = [
        "rate (of capacity)",
        "figure",
        "measured",
        "simulated",
        "measured against simulated",
        "within",
    ]
    .map(String::from)
    .to_vec();
    if fitted {
        head.push("simulated, fitted times".into());
        head.push("measured against it".into());
        head.push("within ".into());
    }
    let mut rows = Vec::new();
    for r in &c.rungs {
        for (k, f) in Figure::ALL.into_iter().enumerate() {
            let (m, sim) = (r.measured.get(f), r.simulated.get(f));
            let cal = r.calibrated.as_ref().map(|s| s.get(f));
            let mut row = vec![
                if k == 0 {
                    format!("{:.1}/s ({:.0} %)", r.rate_rps, r.percent)
                } else {
                    String::new()
                },
                format!("{} ms", f.name()),
                ms_fig(m),
                format!("{} ± {}", ms_fig(sim.value), ms_fig(sim.ci95)),
                rel(&sim, m),
                yes_no(sim.admits(m)),
            ];
            if fitted {
                match cal {
                    Some(e) => {
                        row.push(format!("{} ± {}", ms_fig(e.value), ms_fig(e.ci95)));
                        row.push(rel(&e, m));
                        row.push(yes_no(e.admits(m)));
                    }
                    None => row.extend(["—".to_string(), "—".to_string(), "—".to_string()]),
                }
            }
            rows.push(row);
        }
        let mut row = vec![
            String::new(),
            "errors".into(),
            format!("{:.3} %", 100.0 * r.measured.error_rate),
            format!(
                "{:.3} ± {:.3} %",
                100.0 * r.simulated.error_rate.value,
                100.0 * r.simulated.error_rate.ci95
            ),
            String::new(),
            yes_no(r.simulated.error_rate.admits(r.measured.error_rate)),
        ];
        if fitted {
            row.extend([String::new(), String::new(), String::new()]);
        }
        rows.push(row);
    }
    b.push(Block::Table(head, rows));
    add(
        b,
        Chart {
            subject: Subject::Calibration(c),
        },
    );
    if !c.fits.is_empty() {
        b.push(Block::Para(format!(
            "The back ends' times, from the front's access log at {:.1} requests/s (nginx's              upstream response times, on its 1 ms clock), against the scenario's:",
            c.rungs.first().map_or(0.0, |r| r.rate_rps)
        )));
        b.push(Block::List {
            ordered: false,
            items: c.fits.iter().map(fit_item).collect(),
        });
    }
}

fn dist_words(d: &twip_model::calibration::DistSummary) -> String {
    let name = d.dist.name();
    if !d.dist.is_mean_only() {
        format!(
            "{name} mean {} ms, p99 {} ms",
            ms_fig(d.mean_ms),
            ms_fig(d.p99_ms)
        )
    } else {
        format!("{name} mean {} ms", ms_fig(d.mean_ms))
    }
}

fn fit_item(f: &twip_model::calibration::ServiceFit) -> String {
    use twip_model::calibration::Choice;
    let measured = format!(
        "{} samples {}, mean {} ± {} ms, p50 {} ms, p99 {} ms",
        f.samples,
        match f.measured_by {
            twip_model::calibration::MeasuredBy::FrontLog => "from the front's log",
            twip_model::calibration::MeasuredBy::Generator => {
                "of the front's own answer, from the generator (everything a request costs besides its back ends)"
            }
        },
        ms_fig(f.mean_ms),
        ms_fig(f.mean_ci95_ms),
        ms_fig(f.p50_ms),
        ms_fig(f.p99_ms)
    );
    let cand = |name: &str, c: &Option<twip_model::calibration::Candidate>| {
        c.as_ref().map(|c| {
            format!(
                "{name} mean {} ms, p99 {} ms (KS {:.3})",
                ms_fig(c.mean_ms),
                ms_fig(c.p99_ms),
                c.ks
            )
        })
    };
    let fits: Vec<String> = [cand("lognormal", &f.lognormal), cand("gamma", &f.gamma)]
        .into_iter()
        .flatten()
        .collect();
    let verdict = match (f.choice, &f.fitted) {
        (Choice::Agrees, _) => {
            "the scenario's distribution agrees with the samples (within the 5 % critical value): kept".into()
        }
        (Choice::Keep, _) | (_, None) => "too few samples: the scenario's distribution is kept".into(),
        (Choice::MeanOnly, Some(d)) => format!(
            "too short for nginx's clock to show a shape: {} (the measured mean, the scenario's shape)",
            dist_words(d)
        ),
        (_, Some(d)) if f.level_kept => format!(
            "taken: {}, the measured shape at the scenario's mean (the samples' interval holds it)",
            dist_words(d)
        ),
        (_, Some(d)) => format!("taken: {}", dist_words(d)),
    };
    format!(
        "{}: {measured}; the scenario has {}{}; {verdict}.",
        f.service,
        dist_words(&f.scenario),
        if fits.is_empty() {
            String::new()
        } else {
            format!("; fitted {}", fits.join(", "))
        }
    )
}

/// `0.6 % (a zone lost)`.
fn worst_headroom(p: &Phase) -> String {
    let (h, loss) = p.worst_headroom();
    let what = match loss {
        WorstLoss::Zone => " (a zone lost)",
        WorstLoss::Node => " (a node lost)",
        WorstLoss::None => "",
    };
    let h = h * 100.0;
    if h.abs() < 10.0 {
        format!("{h:.1} %{what}")
    } else {
        format!("{h:.0} %{what}")
    }
}

/// The replicas of a phase for the summary: elastic ones as their range.
fn summary_replicas(p: &Phase) -> String {
    match &p.elastic {
        Some(e) => elastic_text::replicas_line(p, e),
        None => replicas_line(p),
    }
}

/// Scale-out steps from `a` to `b`.
fn steps(out: &mut Vec<Block>, a: &Phase, b: &Phase) {
    out.push(Block::Heading(
        2,
        format!("Scale-out steps: {} → {}", a.name, b.name),
    ));
    let mut items = Vec::new();
    let same_region = a.region == b.region;
    let ty = b.node_summary();
    if same_region {
        let adds: Vec<String> = b
            .zones
            .iter()
            .map(|z| {
                let d = b.nodes_in_zone(z) as i64 - a.nodes_in_zone(z) as i64;
                format!(
                    "{z}: {} → {} ({d:+})",
                    a.nodes_in_zone(z),
                    b.nodes_in_zone(z)
                )
            })
            .collect();
        items.push(format!(
            "Add nodes zone by zone, the same number in each turn, so every zone grows together \
             ({}; the target is {ty}).",
            adds.join(", ")
        ));
    } else {
        items.push(format!(
            "Open region {}: {} serves {} from {}, {} from {}. Create the {} nodes zone by zone \
             ({}) next to the running {} ones; the {} plan keeps serving meanwhile.",
            b.region,
            a.name,
            if a.traffic.regions.is_empty() {
                "its traffic".to_string()
            } else {
                a.traffic
                    .regions
                    .iter()
                    .map(|r| r.0.as_str())
                    .collect::<Vec<_>>()
                    .join(" + ")
            },
            a.region,
            b.name,
            b.region,
            ty,
            zones_line(b),
            a.name,
            a.name
        ));
    }
    for s in &b.scale_order {
        let from = a
            .replicas
            .iter()
            .find(|(n, _)| n == s)
            .map_or(0, |(_, n)| *n);
        let to = b
            .replicas
            .iter()
            .find(|(n, _)| n == s)
            .map_or(0, |(_, n)| *n);
        let svc = b.services.iter().find(|x| &x.name == s);
        let why = svc.map_or(String::new(), |x| {
            format!(
                "; each replica takes {} vCPU and {} MiB, and at the {} peak the service \
                 runs at {:.0} % of its workers",
                x.cpu,
                x.memory_mb,
                b.name,
                x.util_peak * 100.0
            )
        });
        if to > from {
            items.push(format!(
                "Scale {s} from {from} to {to} replicas (+{}) with the {} policy{why}. \
                 Back ends first: a front that grows before what it calls only moves the queue.",
                to - from,
                b.policy
            ));
        } else if to < from {
            items.push(format!(
                "Run {s} with {to} replicas instead of {from}{why}; remove the extra ones last, \
                 once the new ones are healthy."
            ));
        } else {
            items.push(format!("Keep {s} at {to} replicas{why}."));
        }
    }
    if let Some((at, min, mult)) = b.traffic.spikes.first() {
        items.push(format!(
            "Have all of it running before the launch spike at {} UTC (×{mult} for {min:.0} min): \
             the plan is sized for its peak of {:.0} req/s.",
            hour(*at + b.traffic.start_hour_utc),
            b.traffic.peak_rps
        ));
    }
    items.push(format!(
        "Check the result against the plan before moving traffic: `twip simulate {} --plan PLAN` \
         replays the day, and `twip status` compares what runs with the plan.",
        b.scenario_file.display()
    ));
    if !same_region {
        items.push(format!(
            "Move the traffic to {} and retire the {} {} nodes in {} ({} per month saved).",
            b.region,
            a.nodes.len(),
            a.name,
            a.region,
            usd(a.monthly_usd)
        ));
    }
    out.push(Block::List {
        ordered: true,
        items,
    });
    out.push(Block::Para(format!(
        "Cost goes from {} to {} per month (×{:.1}) for a peak from {:.0} to {:.0} req/s (×{:.1}).",
        usd(a.monthly_usd),
        usd(b.monthly_usd),
        b.monthly_usd / a.monthly_usd,
        a.traffic.peak_rps,
        b.traffic.peak_rps,
        b.traffic.peak_rps / a.traffic.peak_rps
    )));
}

/// One phase's section: a heading, where it came from, then one
/// subsection per question a reader asks.
fn phase<'a>(b: &mut Vec<Block>, p: &'a Phase, add: &mut impl FnMut(&mut Vec<Block>, Chart<'a>)) {
    b.push(Block::Heading(2, format!("Phase: {}", p.name)));
    b.push(Block::Para(format!(
        "From {}{} (scenario {}).",
        p.source.display(),
        if p.planned_here {
            ", planned for this report"
        } else {
            ""
        },
        p.scenario_file.display()
    )));

    asked(b, p);
    match &p.elastic {
        Some(e) => {
            elastic_text::chosen(b, p, e, add);
            elastic_text::cost(b, p, e, add);
            day(b, p, add);
            elastic_text::cases(b, p, e);
            elastic_text::events(b, p, e);
        }
        None => {
            chosen(b, p, add);
            cost(b, p);
            day(b, p, add);
            failures(b, p, add);
        }
    }
    assumptions(b, p);
}

/// What was asked: the objectives and the traffic.
fn asked(b: &mut Vec<Block>, p: &Phase) {
    b.push(Block::Heading(3, "What was asked".into()));
    b.push(Block::Para(format!(
        "Objectives: p99 of end-to-end latency {}, errors {}, and {}.",
        p.slo_p99_ms
            .map_or("unbounded".into(), |x| format!("≤ {x:.0} ms")),
        p.slo_error_rate
            .map_or("unbounded".into(), |x| format!("≤ {}", pct(x))),
        survive_line(p)
    )));
    let t = &p.traffic;
    let mut rows: Vec<Vec<String>> = t
        .regions
        .iter()
        .map(|(n, peak, h, trough)| {
            vec![
                n.clone(),
                format!("{peak:.0} req/s at {} UTC", hour(*h)),
                format!("{:.0} req/s", peak * trough),
            ]
        })
        .collect();
    if t.constant_rps > 0.0 {
        rows.push(vec![
            "constant".into(),
            format!("{:.0} req/s", t.constant_rps),
            format!("{:.0} req/s", t.constant_rps),
        ]);
    }
    b.push(Block::Table(
        vec!["traffic".into(), "peak".into(), "trough".into()],
        rows,
    ));
    let mut tr = format!(
        "Simulated: {}; {} requests a day, peak {} req/s at {} UTC.",
        length(t.duration_h),
        thousands(t.daily_requests),
        thousands(t.peak_rps),
        hour(t.peak_at_h + t.start_hour_utc)
    );
    for (at, min, mult) in &t.spikes {
        tr.push_str(&format!(
            " A launch spike multiplies the load by {mult} at {} UTC for {min:.0} minutes.",
            hour(at + t.start_hour_utc)
        ));
    }
    if !t.failures.is_empty() {
        tr.push_str(&format!(
            " Failures injected into the simulated day: {}.",
            t.failures
                .iter()
                .map(|(w, a, e)| match e {
                    Some(e) => format!("{w} from {} to {}", hour(*a), hour(*e)),
                    None => format!("{w} from {} on", hour(*a)),
                })
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    b.push(Block::Para(tr));
}

/// What was chosen and why: the plan, the nearest rejected candidates, the placement and the candidates charts.
fn chosen<'a>(b: &mut Vec<Block>, p: &'a Phase, add: &mut impl FnMut(&mut Vec<Block>, Chart<'a>)) {
    let ch = |k| Chart {
        subject: Subject::Phase(p, k),
    };
    b.push(Block::Heading(3, "What was chosen and why".into()));
    b.push(Block::Para(format!(
        "{} in {} ({}), placed by the {} policy: {}. This is the cheapest candidate the planner \
         found that meets every objective in the baseline and in every failure case it must \
         survive (cases simulated: {}, listed below); cheaper candidates or groups of \
         candidates rejected: {}.",
        p.node_summary(),
        p.region,
        zones_line(p),
        p.policy,
        replicas_line(p),
        p.verification.len(),
        p.rejected_total
    )));
    if !p.nearest_rejected.is_empty() {
        b.push(Block::Para(
            "The nearest cheaper candidates and why they fail:".into(),
        ));
        b.push(Block::List {
            ordered: false,
            items: p
                .nearest_rejected
                .iter()
                .map(|(c, r)| format!("{c}: {r}"))
                .collect(),
        });
    }
    b.push(Block::Table(
        [
            "service",
            "replicas",
            "workers each",
            "vCPU / MiB each",
            "service time mean / p99",
            "visits per request",
            "capacity",
            "utilisation at peak",
        ]
        .map(String::from)
        .to_vec(),
        p.services
            .iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    s.replicas.to_string(),
                    s.workers.to_string(),
                    format!("{} / {}", s.cpu, s.memory_mb),
                    format!("{:.1} / {:.1} ms", s.service_ms.0, s.service_ms.1),
                    format!("{:.2}", s.visits),
                    format!("{} req/s", thousands(s.capacity_rps)),
                    format!("{:.0} %", s.util_peak * 100.0),
                ]
            })
            .collect(),
    ));
    add(b, ch(Kind::Placement));
    add(b, ch(Kind::Candidates));
}

/// What it costs.
fn cost(b: &mut Vec<Block>, p: &Phase) {
    b.push(Block::Heading(3, "What it costs".into()));
    let per_node = p.nodes.first().map_or(0.0, |n| n.hourly_usd);
    b.push(Block::Para(format!(
        "{} per hour, {} per month (730 hours) for {} at {} per node-hour, on-demand list prices \
         in {}{}.",
        usd(p.hourly_usd),
        usd(p.monthly_usd),
        p.node_summary(),
        usd(per_node),
        p.region,
        p.catalog.as_ref().map_or(String::new(), |(n, d)| format!(
            " from the {n} catalog, prices as of {d}"
        ))
    )));
}

/// The simulated day: latency, errors, headroom, and the day's charts.
fn day<'a>(b: &mut Vec<Block>, p: &'a Phase, add: &mut impl FnMut(&mut Vec<Block>, Chart<'a>)) {
    let ch = |k| Chart {
        subject: Subject::Phase(p, k),
    };
    b.push(Block::Heading(3, "The simulated day".into()));
    let (s, t) = (&p.sim, &p.traffic);
    b.push(Block::Para(format!(
        "{} requests simulated on this plan: p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, error rate \
         {}; {}. Capacity (every worker busy{}) is {} req/s against a peak of {:.0} req/s: {:.0} % \
         headroom with everything up, {} in the worst case the plan must survive.",
        thousands(s.requests as f64),
        s.p50_ms,
        s.p95_ms,
        s.p99_ms,
        pct(s.error_rate),
        if s.slo_met {
            "every objective met".to_string()
        } else {
            format!("not met: {}", s.violations.join("; "))
        },
        if p.elastic.is_some() {
            ", with the replicas in service at the peak"
        } else {
            ""
        },
        thousands(p.capacity_rps),
        t.peak_rps,
        p.headroom() * 100.0,
        worst_headroom(p)
    )));
    // An elastic plan's capacity moves: its chart is the elastic one.
    if p.elastic.is_none() {
        add(b, ch(Kind::Traffic));
    }
    add(b, ch(Kind::Latency));
    add(b, ch(Kind::Errors));
    add(b, ch(Kind::Utilisation));
}

/// When a node or a zone dies: every verification case and the failures chart.
fn failures<'a>(
    b: &mut Vec<Block>,
    p: &'a Phase,
    add: &mut impl FnMut(&mut Vec<Block>, Chart<'a>),
) {
    let ch = |k| Chart {
        subject: Subject::Phase(p, k),
    };
    b.push(Block::Heading(3, "When a node or a zone dies".into()));
    let (s, t) = (&p.sim, &p.traffic);
    b.push(Block::Table(
        ["case", "p99", "error rate", "met", "stands for"]
            .map(String::from)
            .to_vec(),
        p.verification
            .iter()
            .map(|v| {
                vec![
                    v.case.clone(),
                    match v.p99_ci95_ms {
                        Some(ci) => format!("{:.0} ± {ci:.0} ms", v.p99_ms),
                        None => format!("{:.0} ms", v.p99_ms),
                    },
                    pct(v.error_rate),
                    if v.met { "yes" } else { "no" }.into(),
                    match v.covers.len() {
                        0 => String::new(),
                        n if n <= 3 => v.covers.join(", "),
                        n => format!("{} and {} more", v.covers[..2].join(", "), n - 2),
                    },
                ]
            })
            .collect(),
    ));
    let mut f = String::from(
        "Each case is simulated at the day's peak with the loss at its start: requests sent to \
         the dead replicas fail until health checks take them out of rotation, then the survivors \
         carry the load.",
    );
    if let Some(w) = p.worst_case() {
        f.push_str(&format!(
            " The worst case is \"{}\" with p99 {:.0} ms.",
            w.case, w.p99_ms
        ));
    }
    if let Some(c) = p.capacity_node_loss_rps {
        f.push_str(&format!(
            " With the worst node lost the plan still carries {} req/s ({:.0} % of the peak)",
            thousands(c),
            100.0 * c / t.peak_rps
        ));
        match p.capacity_zone_loss_rps {
            Some(z) => f.push_str(&format!(
                "; with the worst zone lost, {} req/s ({:.0} %).",
                thousands(z),
                100.0 * z / t.peak_rps
            )),
            None => f.push('.'),
        }
    }
    if let Some(x) = p
        .services
        .iter()
        .filter(|x| x.util_peak_loss.is_some_and(f64::is_finite))
        .max_by(|a, b| {
            a.util_peak_loss
                .unwrap_or(0.0)
                .total_cmp(&b.util_peak_loss.unwrap_or(0.0))
        })
    {
        f.push_str(&format!(
            " The bottleneck is {}: at the peak its workers are {:.0} % busy with every replica \
             up and {:.1} % busy after the worst {} loss{}",
            x.name,
            x.util_peak * 100.0,
            x.util_peak_loss.unwrap_or(0.0) * 100.0,
            if p.zones.len() > 1 { "zone" } else { "node" },
            if x.util_peak_loss.unwrap_or(0.0) > 0.85 {
                ", which is what sets its replica count."
            } else {
                "; capacity does not bind here (the rejections above say what does)."
            }
        ));
    }
    for (what, a, e, errors) in &s.failures {
        f.push_str(&format!(
            " In the simulated day, {what} ({}–{}) cost {} failed requests.",
            hour(*a),
            hour(*e),
            thousands(*errors as f64)
        ));
    }
    b.push(Block::Para(f));
    add(b, ch(Kind::Failures));
}

/// The assumptions behind the figures.
fn assumptions(b: &mut Vec<Block>, p: &Phase) {
    b.push(Block::Heading(3, "Assumptions".into()));
    let mut items: Vec<String> = p
        .services
        .iter()
        .map(|s| {
            format!(
                "{}: service time mean {:.1} ms, p99 {:.1} ms; {} workers per replica; a worker \
                 is held {:.1} ms per visit on average (synchronous calls included).",
                s.name, s.service_ms.0, s.service_ms.1, s.workers, s.holding_ms
            )
        })
        .collect();
    items.push(match &p.catalog {
        Some((n, d)) => format!("Prices: {n}, on-demand list prices as of {d}."),
        None => "Prices: as written in the plan.".into(),
    });
    items.push(
        "Capacity is analytic: replicas × workers ÷ (visits × holding time) for each service, \
         the smallest over services; the day's curves come from one seeded simulation (the \
         scenario's seed), so they are reproducible."
            .into(),
    );
    items.push(
        "Arrivals are Poisson around the diurnal curve; latency is end-to-end at the entry \
         after the warm-up; an instance runs only the replicas placed on it (no noisy neighbours)."
            .into(),
    );
    items.push(
        "The network between users and the front is not modelled: latency starts when a request \
         reaches the entry service, so a user far from the region adds the round trips to it \
         (tens to hundreds of milliseconds, more with a new TLS connection) on top of these \
         figures."
            .into(),
    );
    items.push(format!(
        "The headline headroom is the margin at the peak in the worst case the plan must \
         survive ({}): capacity with that loss against the peak rate.",
        match p.worst_headroom().1 {
            WorstLoss::Zone => "the zone whose loss leaves the least capacity",
            WorstLoss::Node => "the node whose loss leaves the least capacity",
            WorstLoss::None => "no loss to survive, so everything up",
        }
    ));
    if let Some(e) = &p.elastic {
        items.push(
            "An elastic plan's capacity at the peak counts the replicas in service then; with a \
             zone lost, each service loses its fullest zone's share (the provider deals \
             replicas over the zones: ceil(replicas ÷ zones))."
                .into(),
        );
        items.push(format!(
            "Elastic capacity is simulated as Application Auto Scaling and an ECS capacity \
             provider behave: alarms over whole metric periods, cooldowns, scheduled actions \
             that move the bounds, replicas waiting for a node until one joins ({} s after \
             launch), a start delay and a health check before a replica takes traffic. The \
             day's series and events come from the same seeded simulation as the curves.",
            e.plan.nodes.instance_warmup_s
        ));
    }
    b.push(Block::List {
        ordered: false,
        items,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(5274.25), "5,274");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(usd(350.4), "$350");
        assert_eq!(usd(0.48), "$0.480");
        assert_eq!(hour(19.75), "19:45");
        assert_eq!(length(24.0), "24 h");
        assert_eq!(length(0.18333333333333332), "11 min");
        assert_eq!(length(1.5), "1 h 30 min");
        assert_eq!(span(45.0), "45 s");
        assert_eq!(span(90.0), "90 s");
        assert_eq!(span(300.0), "5 min");
        assert_eq!(pct(0.001), "0.10 %");
    }
}
