//! The charts, drawn with plotters on any backend: SVG for the HTML and
//! Markdown, a bitmap for the PNGs. Every chart is a [`Chart`] value: its
//! file stem, its title and what it draws.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use twip_model::RejectionKind;

use twip_model::calibration::{Calibration, Estimate, Figure};

use crate::model::Phase;
use crate::ReportError;

/// Chart size in pixels.
pub const SIZE: (u32, u32) = (960, 480);

/// Service colours (placement map, utilisation).
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
    RGBColor(188, 189, 34),
];
const RED: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(120, 120, 120);
const FONT: &str = "sans-serif";

/// Which chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Request rate over the day against the plan's capacity.
    Traffic,
    /// p50/p95/p99 over the day, SLO line, failure windows shaded.
    Latency,
    /// Utilisation per service: day mean (simulated) and at the peak.
    Utilisation,
    /// Error rate over the day, failure windows shaded.
    Errors,
    /// Error rate and p99 of each verification (failure) case.
    Failures,
    /// Cost against worst-case p99 of the candidates the planner tried.
    Candidates,
    /// Nodes grouped by zone, replicas coloured by service.
    Placement,
    /// An elastic plan's day: demand, desired and in-service replicas,
    /// nodes, against the fixed plan and the lower bound.
    Elastic,
    /// An elastic plan's cost over the day against the fixed plan and the
    /// lower bound.
    ElasticCost,
}

impl Kind {
    /// Every per-phase chart of a fixed plan, in report order.
    pub const ALL: [Kind; 7] = [
        Kind::Traffic,
        Kind::Latency,
        Kind::Errors,
        Kind::Utilisation,
        Kind::Failures,
        Kind::Candidates,
        Kind::Placement,
    ];

    /// Every per-phase chart of an elastic plan, in report order.
    pub const ELASTIC: [Kind; 6] = [
        Kind::Elastic,
        Kind::Placement,
        Kind::ElasticCost,
        Kind::Latency,
        Kind::Errors,
        Kind::Utilisation,
    ];

    /// File-name suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Kind::Traffic => "traffic",
            Kind::Latency => "latency",
            Kind::Utilisation => "utilisation",
            Kind::Errors => "errors",
            Kind::Failures => "failures",
            Kind::Candidates => "candidates",
            Kind::Placement => "placement",
            Kind::Elastic => "elastic",
            Kind::ElasticCost => "elastic-cost",
        }
    }
}

/// What a chart shows.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// One chart of one phase.
    Phase(&'a Phase, Kind),
    /// The phase comparison.
    Phases(&'a [Phase]),
    /// Latency against rate, measured and simulated (`twip calibrate`).
    Calibration(&'a Calibration),
}

/// A chart to draw.
#[derive(Debug, Clone, Copy)]
pub struct Chart<'a> {
    /// What it shows.
    pub subject: Subject<'a>,
}

impl<'a> Chart<'a> {
    /// File stem (`worldwide-latency`, `phases`).
    pub fn stem(&self) -> String {
        match self.subject {
            Subject::Phase(p, k) => format!("{}-{}", p.slug(), k.suffix()),
            Subject::Phases(_) => "phases".into(),
            Subject::Calibration(_) => "calibration".into(),
        }
    }

    /// Caption.
    pub fn title(&self) -> String {
        match self.subject {
            Subject::Phase(p, k) => {
                let what = match k {
                    Kind::Traffic => "request rate over the day against the plan's capacity",
                    Kind::Latency if p.elastic.is_some() => {
                        "latency over the day (failure windows shaded, scaling events marked)"
                    }
                    Kind::Latency => "latency over the day (failure windows shaded)",
                    Kind::Utilisation => "utilisation per service",
                    Kind::Errors => "error rate over the day (failure windows shaded)",
                    Kind::Failures => "error rate and p99 in each failure case",
                    Kind::Candidates => "cost against worst-case p99 of the candidates tried",
                    Kind::Placement if p.elastic.is_some() => {
                        "placement at the start of the day: nodes by zone, replicas by service"
                    }
                    Kind::Placement => "placement: nodes by zone, replicas by service",
                    Kind::Elastic => {
                        "demand, replicas and nodes over the day against the fixed plan and the \
                         lower bound"
                    }
                    Kind::ElasticCost => {
                        "cost over the day against the fixed plan and the lower bound"
                    }
                };
                format!("{}: {what}", p.name)
            }
            Subject::Phases(_) => "phase comparison: nodes, cost, p99, headroom".into(),
            Subject::Calibration(c) => format!(
                "{}: latency against rate, measured on {} and simulated (95 % intervals)",
                c.scenario, c.env
            ),
        }
    }

    /// The chart as an SVG document.
    pub fn svg(&self) -> Result<String, ReportError> {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|e| self.err(e))?;
        }
        Ok(out)
    }

    /// The chart as a PNG file.
    pub fn png(&self, path: &std::path::Path) -> Result<(), ReportError> {
        let root = BitMapBackend::new(path, SIZE).into_drawing_area();
        self.draw(&root)?;
        root.present().map_err(|e| self.err(e))?;
        Ok(())
    }

    fn err(&self, e: impl std::fmt::Display) -> ReportError {
        ReportError::Chart {
            name: self.stem(),
            message: e.to_string(),
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ReportError>
    where
        DB::ErrorType: 'static,
    {
        crate::font::ensure()?;
        root.fill(&WHITE).map_err(|e| self.err(e))?;
        let r = match self.subject {
            Subject::Phase(p, Kind::Traffic) => traffic(root, p),
            Subject::Phase(p, Kind::Latency) => latency(root, p),
            Subject::Phase(p, Kind::Utilisation) => utilisation(root, p),
            Subject::Phase(p, Kind::Errors) => errors(root, p),
            Subject::Phase(p, Kind::Failures) => failures(root, p),
            Subject::Phase(p, Kind::Candidates) => candidates(root, p),
            Subject::Phase(p, Kind::Placement) => placement(root, p),
            Subject::Phase(p, Kind::Elastic) => elastic(root, p),
            Subject::Phase(p, Kind::ElasticCost) => elastic_cost(root, p),
            Subject::Phases(ps) => phases(root, ps),
            Subject::Calibration(c) => calibration(root, c),
        };
        r.map_err(|e| self.err(e))
    }
}

type R = Result<(), Box<dyn std::error::Error>>;

/// Draws the series labels in the legend box every chart uses.
fn legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>, position: SeriesLabelPosition) -> R
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()?;
    Ok(())
}

fn hours(p: &Phase) -> Vec<f64> {
    let tl = &p.sim.timeline;
    tl.start_s
        .iter()
        .map(|s| (s + tl.interval_s / 2.0) / 3600.0)
        .collect()
}

fn x_range(p: &Phase) -> (f64, f64) {
    let tl = &p.sim.timeline;
    let lo = tl.start_s.first().copied().unwrap_or(0.0) / 3600.0;
    let hi = tl
        .start_s
        .last()
        .map(|s| (s + tl.interval_s) / 3600.0)
        .unwrap_or(p.traffic.duration_h);
    (lo.min(hi - 1e-3), hi)
}

fn finite_max(v: impl Iterator<Item = f64>) -> f64 {
    v.filter(|x| x.is_finite()).fold(0.0, f64::max)
}

/// A chart over the simulated day with a linear y axis from 0 to `ymax`:
/// the frame and mesh the day charts share.
fn day_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    p: &Phase,
    caption: String,
    y_desc: &str,
    ymax: f64,
    y_fmt: &dyn Fn(&f64) -> String,
) -> Result<
    ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    Box<dyn std::error::Error>,
>
where
    DB::ErrorType: 'static,
{
    let (x0, x1) = x_range(p);
    let mut chart = ChartBuilder::on(root)
        .caption(caption, caption_style())
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d(x0..x1, 0.0..ymax)?;
    chart
        .configure_mesh()
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT)
        .x_desc("simulated time (h, UTC)")
        .y_desc(y_desc)
        .y_label_formatter(y_fmt)
        .label_style((FONT, 14))
        .draw()?;
    Ok(chart)
}

fn caption_style() -> TextStyle<'static> {
    (FONT, 20).into_font().color(&BLACK)
}

fn traffic<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Phase) -> R
where
    DB::ErrorType: 'static,
{
    let xs = hours(p);
    let tl = &p.sim.timeline;
    let (x0, x1) = x_range(p);
    let caps: Vec<(&str, f64, ShapeStyle)> = [
        (
            "capacity (all nodes)",
            Some(p.capacity_rps),
            GREEN.stroke_width(2),
        ),
        (
            "capacity, worst node lost",
            p.capacity_node_loss_rps,
            RGBColor(255, 127, 14).stroke_width(2),
        ),
        (
            "capacity, worst zone lost",
            p.capacity_zone_loss_rps,
            RED.stroke_width(2),
        ),
    ]
    .into_iter()
    .filter_map(|(l, c, s)| c.filter(|c| c.is_finite()).map(|c| (l, c, s)))
    .collect();
    let ymax = finite_max(
        tl.rps
            .iter()
            .copied()
            .chain(caps.iter().map(|c| c.1))
            .chain([p.traffic.peak_rps]),
    ) * 1.6; // the legend's room above the capacity lines
    let mut chart = day_chart(
        root,
        p,
        format!("{}: request rate vs capacity", p.name),
        "requests/s",
        ymax.max(1.0),
        &|y| format!("{y:.0}"),
    )?;
    chart
        .draw_series(LineSeries::new(
            xs.iter().copied().zip(tl.rps.iter().copied()),
            PALETTE[0].stroke_width(2),
        ))?
        .label("arrivals (simulated)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], PALETTE[0].stroke_width(2)));
    for (k, (label, c, style)) in caps.into_iter().enumerate() {
        // A failure's capacity is dashed: it may coincide with another line.
        let pts = [(x0, c), (x1, c)];
        let series = if k == 0 {
            chart.draw_series(LineSeries::new(pts, style))?
        } else {
            chart.draw_series(DashedLineSeries::new(pts, 10 + 6 * k as u32, 6, style))?
        };
        series
            .label(format!("{label}: {c:.0} req/s"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

fn latency<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Phase) -> R
where
    DB::ErrorType: 'static,
{
    let xs = hours(p);
    let tl = &p.sim.timeline;
    let (x0, x1) = x_range(p);
    let slo = p.slo_p99_ms;
    let ymax = finite_max(tl.p99_ms.iter().copied().chain(slo)) * 1.6;
    let ymin = tl
        .p50_ms
        .iter()
        .copied()
        .filter(|y| y.is_finite() && *y > 0.0)
        .fold(f64::INFINITY, f64::min)
        .min(ymax / 10.0)
        .max(0.01)
        / 2.0;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{}: latency percentiles over the day (log scale)", p.name),
            caption_style(),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d(x0..x1, (ymin..ymax.max(1.0)).log_scale())?;
    chart
        .configure_mesh()
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT)
        .x_desc("simulated time (h, UTC)")
        .y_desc("latency (ms, log scale)")
        .y_label_formatter(&|y| {
            if *y >= 1.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.2}")
            }
        })
        .label_style((FONT, 14))
        .draw()?;
    let shade = RGBColor(255, 200, 200).mix(0.6);
    let mut first = true;
    for (_, from, to, _) in &p.sim.failures {
        let (a, b) = (from.max(x0), to.min(x1));
        if b <= a {
            continue;
        }
        let s = chart.draw_series([Rectangle::new([(a, ymin), (b, ymax)], shade.filled())])?;
        if first {
            s.label("failure window").legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 20, y + 6)], shade.filled())
            });
            first = false;
        }
    }
    for (series, label, color) in [
        (&tl.p50_ms, "p50", PALETTE[2]),
        (&tl.p95_ms, "p95", PALETTE[1]),
        (&tl.p99_ms, "p99", PALETTE[0]),
    ] {
        let pts: Vec<(f64, f64)> = xs
            .iter()
            .copied()
            .zip(series.iter().copied())
            .filter(|(_, y)| y.is_finite() && *y > 0.0)
            .collect();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    if let Some(s) = slo {
        let style = RED.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new([(x0, s), (x1, s)], 8, 5, style))?
            .label(format!("SLO p99 {s:.0} ms"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    if let Some(e) = &p.elastic {
        // Scaling events: a tick at the top, one colour per kind of cause.
        let top = ymax / 1.6 * 1.45;
        let foot = ymax / 1.6 * 1.15;
        for (label, color, kind) in EVENT_KINDS {
            let xs: Vec<f64> = e
                .events
                .iter()
                .filter(|ev| event_kind(&ev.cause) == kind)
                .map(|ev| ev.at_s / 3600.0)
                .filter(|x| (x0..=x1).contains(x))
                .collect();
            if xs.is_empty() {
                continue;
            }
            let style = color.stroke_width(2);
            chart
                .draw_series(
                    xs.into_iter()
                        .map(|x| PathElement::new([(x, foot), (x, top)], style)),
                )?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x + 10, y - 6), (x + 10, y + 6)], style));
        }
    }
    // The SLO line and the event ticks run along the top: the legend goes
    // in the middle, between the percentiles on the log scale.
    legend(&mut chart, SeriesLabelPosition::MiddleRight)
}

fn errors<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Phase) -> R
where
    DB::ErrorType: 'static,
{
    let xs = hours(p);
    let tl = &p.sim.timeline;
    let (x0, x1) = x_range(p);
    let rate: Vec<f64> = tl.error_rate.iter().map(|e| e * 100.0).collect();
    let slo = p.slo_error_rate.map(|e| e * 100.0);
    let ymax = (finite_max(rate.iter().copied().chain(slo)) * 1.6).max(1e-3);
    let mut chart = day_chart(
        root,
        p,
        format!("{}: error rate over the day", p.name),
        "errors (% of requests)",
        ymax,
        &move |y| {
            if ymax >= 10.0 {
                format!("{y:.0}")
            } else if ymax >= 0.1 {
                format!("{y:.2}")
            } else {
                format!("{y:.4}")
            }
        },
    )?;
    let shade = RGBColor(255, 200, 200).mix(0.6);
    let mut first = true;
    for (k, (what, from, to, n)) in p.sim.failures.iter().enumerate() {
        let (a, b) = (from.max(x0), to.min(x1));
        if b <= a {
            continue;
        }
        let s = chart.draw_series([Rectangle::new([(a, 0.0), (b, ymax)], shade.filled())])?;
        if first {
            s.label("failure window").legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 20, y + 6)], shade.filled())
            });
            first = false;
        }
        // What the window cost, beside it: one line per window, kept
        // inside the chart.
        let x = a.min(x1 - (x1 - x0) * 0.3);
        chart.draw_series([Text::new(
            format!("{what}: {} errors", crate::text::thousands(*n as f64)),
            (x, ymax * (0.66 - 0.07 * (k % 6) as f64)),
            (FONT, 12),
        )])?;
    }
    let color = RED;
    chart
        .draw_series(LineSeries::new(
            xs.iter().copied().zip(rate.iter().copied()),
            color.stroke_width(2),
        ))?
        .label("error rate (simulated)")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    if let Some(l) = slo {
        let style = BLACK.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new([(x0, l), (x1, l)], 8, 5, style))?
            .label(format!("SLO {l:.2} %"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// Scaling events by kind, as the latency chart marks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Out,
    In,
    Schedule,
    Failure,
    Nodes,
}

const EVENT_KINDS: [(&str, RGBColor, EventKind); 5] = [
    ("scale-out", RGBColor(44, 160, 44), EventKind::Out),
    ("scale-in", RGBColor(23, 190, 207), EventKind::In),
    (
        "scheduled action",
        RGBColor(148, 103, 189),
        EventKind::Schedule,
    ),
    ("replacement after a failure", RED, EventKind::Failure),
    ("nodes added or removed", GREY, EventKind::Nodes),
];

fn event_kind(c: &twip_sim::Cause) -> EventKind {
    use twip_sim::Cause;
    match c {
        Cause::ScaleOut { .. } => EventKind::Out,
        Cause::ScaleIn { .. } => EventKind::In,
        Cause::Schedule { .. } => EventKind::Schedule,
        Cause::Failure { .. } => EventKind::Failure,
        Cause::Capacity { .. } | Cause::Idle { .. } => EventKind::Nodes,
    }
}

/// `(hour, value)` points of a per-interval series.
fn points<T: Copy + Into<f64>>(xs: &[f64], ys: &[T]) -> Vec<(f64, f64)> {
    xs.iter()
        .copied()
        .zip(ys.iter().map(|&y| y.into()))
        .collect()
}

fn elastic<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Phase) -> R
where
    DB::ErrorType: 'static,
{
    let Some(e) = &p.elastic else {
        return Ok(());
    };
    let xs = hours(p);
    let tl = &p.sim.timeline;
    let (x0, x1) = x_range(p);
    let counts = e
        .replicas
        .iter()
        .flat_map(|(_, d, i)| d.iter().chain(i))
        .chain(&e.nodes)
        .chain(&e.lower_bound_nodes)
        .chain([&e.static_nodes])
        .map(|&n| f64::from(n));
    // The legend's room above the lines.
    let ymax = finite_max(counts).max(1.0) * 1.7;
    let rmax = finite_max(tl.rps.iter().copied()).max(1.0) * 1.7;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{}: demand, replicas and nodes over the day", p.name),
            caption_style(),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .right_y_label_area_size(70)
        .build_cartesian_2d(x0..x1, 0.0..ymax)?
        .set_secondary_coord(x0..x1, 0.0..rmax);
    chart
        .configure_mesh()
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT)
        .x_desc("simulated time (h, UTC)")
        .y_desc("replicas, nodes")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FONT, 14))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("demand (requests/s)")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FONT, 14))
        .draw()?;
    let demand = RGBColor(200, 200, 200);
    chart
        .draw_secondary_series(AreaSeries::new(
            xs.iter().copied().zip(tl.rps.iter().copied()),
            0.0,
            demand.mix(0.35),
        ))?
        .label("demand (right axis)")
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], demand.filled()));
    let fixed = RED.stroke_width(2);
    let sn = f64::from(e.static_nodes);
    chart
        .draw_series(DashedLineSeries::new([(x0, sn), (x1, sn)], 10, 6, fixed))?
        .label(format!("fixed plan: {} nodes", e.static_nodes))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], fixed));
    let lb = GREY.stroke_width(2);
    chart
        .draw_series(DashedLineSeries::new(
            points(&xs, &e.lower_bound_nodes),
            6,
            4,
            lb,
        ))?
        .label("lower bound: nodes")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], lb));
    let nodes = BLACK.stroke_width(2);
    chart
        .draw_series(LineSeries::new(points(&xs, &e.nodes), nodes))?
        .label(format!("nodes (peak {})", e.peak_nodes))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], nodes));
    for (k, (name, desired, in_service)) in e.replicas.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let d = color.mix(0.6).stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(points(&xs, desired), 4, 3, d))?
            .label(format!("{name}: desired"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], d));
        let i = color.stroke_width(2);
        chart
            .draw_series(LineSeries::new(points(&xs, in_service), i))?
            .label(format!("{name}: in service"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], i));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

fn elastic_cost<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Phase) -> R
where
    DB::ErrorType: 'static,
{
    let Some(e) = &p.elastic else {
        return Ok(());
    };
    let xs = hours(p);
    let (x0, x1) = x_range(p);
    let price = e.plan.nodes.usd_per_hour;
    let cost = &e.plan.cost;
    let per_hour = |v: &[u32]| -> Vec<(f64, f64)> {
        xs.iter()
            .copied()
            .zip(v.iter().map(|&n| f64::from(n) * price))
            .collect()
    };
    let fixed_h = cost.static_day_usd / 24.0;
    let ymax = finite_max(
        e.nodes
            .iter()
            .chain(&e.lower_bound_nodes)
            .map(|&n| f64::from(n) * price)
            .chain([fixed_h]),
    )
    .max(0.01)
        * 1.3;
    let mut chart = day_chart(
        root,
        p,
        format!("{}: cost per hour over the day", p.name),
        "USD per hour",
        ymax,
        &|y| format!("{y:.2}"),
    )?;
    let fixed = RED.stroke_width(2);
    chart
        .draw_series(DashedLineSeries::new(
            [(x0, fixed_h), (x1, fixed_h)],
            10,
            6,
            fixed,
        ))?
        .label(format!("fixed plan: ${:.2} a day", cost.static_day_usd))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], fixed));
    let el = PALETTE[0];
    chart
        .draw_series(
            AreaSeries::new(per_hour(&e.nodes), 0.0, el.mix(0.25)).border_style(el.stroke_width(2)),
        )?
        .label(format!("elastic plan: ${:.2} a day", cost.day_usd))
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], el.mix(0.5).filled()));
    let lb = GREY.stroke_width(2);
    chart
        .draw_series(DashedLineSeries::new(
            per_hour(&e.lower_bound_nodes),
            6,
            4,
            lb,
        ))?
        .label(format!(
            "lower bound: ${:.2} a day",
            cost.lower_bound_day_usd
        ))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], lb));
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// Bars: x is the category index, labels from `names`.
fn bar_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    caption: &str,
    y_desc: &str,
    names: &[String],
    series: &[(&str, RGBColor, Vec<f64>)],
    limit: Option<(String, f64)>,
    ymax: f64,
) -> R
where
    DB::ErrorType: 'static,
{
    let n = names.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(caption, caption_style())
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d(0.0..n as f64, 0.0..ymax)?;
    let fmt_names = names.to_vec();
    chart
        .configure_mesh()
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT)
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&move |x: &f64| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 1e-6 {
                fmt_names.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(y_desc)
        .y_label_formatter(&move |y: &f64| {
            if ymax >= 10.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.2}")
            }
        })
        .label_style((FONT, 14))
        .draw()?;
    let k = series.len().max(1) as f64;
    let w = 0.7 / k;
    for (j, (label, color, values)) in series.iter().enumerate() {
        let color = *color;
        chart
            .draw_series(values.iter().enumerate().map(|(i, v)| {
                let x = i as f64 + 0.15 + j as f64 * w;
                Rectangle::new([(x, 0.0), (x + w * 0.92, v.min(ymax))], color.filled())
            }))?
            .label(*label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
        // The value above each bar, so a bar too small to see still reads.
        chart.draw_series(values.iter().enumerate().map(|(i, v)| {
            let x = i as f64 + 0.15 + j as f64 * w;
            let t = if *v >= 10.0 || *v == 0.0 {
                format!("{v:.0}")
            } else if *v >= 0.1 {
                format!("{v:.1}")
            } else {
                format!("{v:.3}")
            };
            Text::new(t, (x, v.min(ymax) + ymax * 0.05), (FONT, 12))
        }))?;
    }
    if let Some((label, y)) = limit {
        let style = RED.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, y), (n as f64, y)],
                8,
                5,
                style,
            ))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

fn utilisation<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Phase) -> R
where
    DB::ErrorType: 'static,
{
    let names: Vec<String> = p.services.iter().map(|s| s.name.clone()).collect();
    let day: Vec<f64> = p.services.iter().map(|s| s.util_day * 100.0).collect();
    let peak: Vec<f64> = p.services.iter().map(|s| s.util_peak * 100.0).collect();
    let mut series = vec![
        ("mean over the day (simulated)", PALETTE[0], day),
        ("at the peak (offered load)", PALETTE[1], peak),
    ];
    let loss = if p.zones.len() > 1 {
        "at the peak, worst zone lost"
    } else {
        "at the peak, worst node lost"
    };
    if p.services.iter().all(|s| s.util_peak_loss.is_some()) {
        series.push((
            loss,
            RED,
            p.services
                .iter()
                .map(|s| s.util_peak_loss.unwrap_or(0.0) * 100.0)
                .collect(),
        ));
    }
    bar_chart(
        root,
        &format!("{}: utilisation per service", p.name),
        "utilisation (% of workers busy)",
        &names,
        &series,
        Some(("100 %: overload".into(), 100.0)),
        130.0,
    )
}

/// Short name of a verification case for an axis: `baseline`, `node-1`, `zone us-east-1a`.
fn short_case(case: &str) -> String {
    let c = case.strip_prefix("lose ").unwrap_or(case);
    c.split(" (").next().unwrap_or(c).to_string()
}

fn failures<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Phase) -> R
where
    DB::ErrorType: 'static,
{
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    let names: Vec<String> = p.verification.iter().map(|v| short_case(&v.case)).collect();
    let err: Vec<f64> = p
        .verification
        .iter()
        .map(|v| v.error_rate * 100.0)
        .collect();
    let lim = p.slo_error_rate.map(|e| e * 100.0);
    let ymax = finite_max(err.iter().copied().chain(lim)) * 1.25;
    bar_chart(
        &left,
        "error rate per failure case (at the peak)",
        "errors (% of requests)",
        &names,
        &[("error rate", RED, err)],
        lim.map(|l| (format!("SLO {l:.2} %"), l)),
        ymax.max(1e-3),
    )?;
    let p99: Vec<f64> = p.verification.iter().map(|v| v.p99_ms).collect();
    let ymax = finite_max(p99.iter().copied().chain(p.slo_p99_ms)) * 1.25;
    bar_chart(
        &right,
        "p99 per failure case (at the peak)",
        "p99 latency (ms)",
        &names,
        &[("p99", PALETTE[0], p99)],
        p.slo_p99_ms.map(|l| (format!("SLO {l:.0} ms"), l)),
        ymax.max(1.0),
    )
}

fn candidates<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Phase) -> R
where
    DB::ErrorType: 'static,
{
    let measured: Vec<f64> = p.candidates.iter().filter_map(|c| c.worst_p99_ms).collect();
    let top = finite_max(measured.iter().copied().chain(p.slo_p99_ms)) * 1.6;
    // Rows above the measured ones for candidates rejected before simulation.
    let lost_y = top / 1.12; // a failure the SLO demands would lose a service
    let refused_y = top / 1.2; // the placement policy refused
    let unfit_y = top / 1.3; // the replicas do not fit
    let xs: Vec<f64> = p.candidates.iter().map(|c| c.monthly_usd).collect();
    let xmin = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let xmax = finite_max(xs.iter().copied());
    let pad = ((xmax - xmin) * 0.1).max(xmax * 0.05).max(1.0);
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{}: candidates tried, cost vs worst-case p99", p.name),
            caption_style(),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d((xmin - pad).max(0.0)..xmax + pad, 0.0..top.max(1.0))?;
    chart
        .configure_mesh()
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT)
        .x_desc("cost (USD per month)")
        .x_label_formatter(&|x| format!("${x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_desc("worst-case p99 over failure cases (ms)")
        .label_style((FONT, 14))
        .draw()?;
    // Every rejected candidate of one kind, at its cost and its measured
    // p99 (simulated kinds) or on its kind's row.
    let of_kind = |k: RejectionKind, row: f64| -> Vec<(f64, f64)> {
        p.candidates
            .iter()
            .filter(|c| c.rejected == Some(k))
            .map(|c| {
                let y = if k.simulated() {
                    c.worst_p99_ms.unwrap_or(top)
                } else {
                    row
                };
                (c.monthly_usd, y.min(top))
            })
            .collect()
    };
    let slow = of_kind(RejectionKind::P99, top);
    chart
        .draw_series(
            slow.iter()
                .map(|&pt| Cross::new(pt, 6, RED.stroke_width(2))),
        )?
        .label(format!("rejected: p99 over the SLO ({})", slow.len()))
        .legend(|(x, y)| Cross::new((x + 8, y), 5, RED.stroke_width(2)));
    let errors = of_kind(RejectionKind::ErrorRate, top);
    if !errors.is_empty() {
        let orange = RGBColor(230, 120, 0);
        chart
            .draw_series(errors.iter().map(move |&pt| {
                EmptyElement::at(pt)
                    + Polygon::new(vec![(0, -6), (6, 0), (0, 6), (-6, 0)], orange.filled())
            }))?
            .label(format!(
                "rejected: error rate over the SLO ({})",
                errors.len()
            ))
            .legend(move |(x, y)| {
                Polygon::new(
                    vec![(x + 8, y - 5), (x + 13, y), (x + 8, y + 5), (x + 3, y)],
                    orange.filled(),
                )
            });
    }
    let unfit = of_kind(RejectionKind::Capacity, unfit_y);
    if !unfit.is_empty() {
        chart
            .draw_series(unfit.iter().map(|&pt| {
                EmptyElement::at(pt) + Rectangle::new([(-5, -5), (5, 5)], GREY.stroke_width(2))
            }))?
            .label(format!("rejected: replicas do not fit ({})", unfit.len()))
            .legend(|(x, y)| {
                Rectangle::new([(x + 3, y - 5), (x + 13, y + 5)], GREY.stroke_width(2))
            });
    }
    let refused = of_kind(RejectionKind::Placement, refused_y);
    if !refused.is_empty() {
        chart
            .draw_series(
                refused
                    .iter()
                    .map(|&pt| Circle::new(pt, 5, GREY.stroke_width(2))),
            )?
            .label(format!("rejected: the policy refused ({})", refused.len()))
            .legend(|(x, y)| Circle::new((x + 8, y), 5, GREY.stroke_width(2)));
    }
    let lost = of_kind(RejectionKind::Survival, lost_y);
    if !lost.is_empty() {
        chart
            .draw_series(
                lost.iter()
                    .map(|&pt| TriangleMarker::new(pt, 7, GREY.filled())),
            )?
            .label(format!(
                "rejected: a failure loses a service ({})",
                lost.len()
            ))
            .legend(|(x, y)| TriangleMarker::new((x + 8, y), 6, GREY.filled()));
    }
    if let Some(s) = p.slo_p99_ms {
        let style = RED.stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new(
                [((xmin - pad).max(0.0), s), (xmax + pad, s)],
                8,
                5,
                style,
            ))?
            .label(format!("SLO p99 {s:.0} ms"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    let green = RGBColor(0, 150, 0);
    for c in p.candidates.iter().filter(|c| c.chosen) {
        let y = c.worst_p99_ms.unwrap_or(0.0);
        chart
            .draw_series([Circle::new((c.monthly_usd, y), 9, green.filled())])?
            .label(format!(
                "chosen: ${:.0}/month, p99 {y:.0} ms",
                c.monthly_usd
            ))
            .legend(move |(x, y)| Circle::new((x + 8, y), 6, green.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::LowerLeft)
}

fn placement<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Phase) -> R
where
    DB::ErrorType: 'static,
{
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    root.draw(&Text::new(
        format!(
            "{}: placement ({} nodes, {})",
            p.name,
            p.nodes.len(),
            p.node_summary()
        ),
        (12, 8),
        caption_style(),
    ))?;
    let services: Vec<&str> = p.replicas.iter().map(|(s, _)| s.as_str()).collect();
    let color =
        |s: &str| PALETTE[services.iter().position(|x| *x == s).unwrap_or(0) % PALETTE.len()];
    // Legend.
    let mut lx = 12;
    for (s, n) in &p.replicas {
        root.draw(&Rectangle::new(
            [(lx, 40), (lx + 14, 54)],
            color(s).filled(),
        ))?;
        let label = format!("{s} ({n} replicas)");
        root.draw(&Text::new(label.clone(), (lx + 20, 40), (FONT, 14)))?;
        lx += 40 + 8 * label.len() as i32;
    }
    // One column per zone.
    let zones = p.zones.len().max(1) as i32;
    let top = 70;
    let col_w = (w - 24) / zones;
    for (zi, z) in p.zones.iter().enumerate() {
        let x0 = 12 + zi as i32 * col_w;
        let nodes: Vec<&twip_model::PlanNode> = p.nodes.iter().filter(|n| &n.zone == z).collect();
        root.draw(&Rectangle::new(
            [(x0 + 2, top), (x0 + col_w - 4, h - 8)],
            RGBColor(240, 240, 245).filled(),
        ))?;
        root.draw(&Text::new(
            format!("zone {z}: {} nodes", nodes.len()),
            (x0 + 8, top + 6),
            (FONT, 15).into_font().color(&BLACK),
        ))?;
        // Node boxes in a grid.
        let area_w = col_w - 16;
        let area_h = h - 8 - (top + 30) - 6;
        let n = nodes.len().max(1) as i32;
        let mut cols = 1;
        while cols * cols * area_h < n * area_w && cols < n {
            cols += 1;
        }
        // Fewer columns when the nodes are few (readable labels).
        let cols = cols.clamp(1, n);
        let rows = (n + cols - 1) / cols;
        let bw = area_w / cols;
        let bh = (area_h / rows).min(90);
        for (k, node) in nodes.iter().enumerate() {
            let (c, r) = (k as i32 % cols, k as i32 / cols);
            let bx = x0 + 8 + c * bw;
            let by = top + 30 + r * bh;
            root.draw(&Rectangle::new(
                [(bx, by), (bx + bw - 3, by + bh - 3)],
                WHITE.filled(),
            ))?;
            root.draw(&Rectangle::new(
                [(bx, by), (bx + bw - 3, by + bh - 3)],
                GREY.stroke_width(1),
            ))?;
            let reps: Vec<&str> = p
                .placements
                .iter()
                .filter(|(_, nd)| *nd == node.id)
                .map(|(s, _)| s.as_str())
                .collect();
            let labelled = bh >= 40 && bw >= 70;
            let cell = ((bh - 6).min(bw / 3) / 2).clamp(3, 16);
            let cy = if labelled {
                by + bh - 6 - cell
            } else {
                by + (bh - cell) / 2 - 1
            };
            if labelled {
                root.draw(&Text::new(
                    node.id.clone(),
                    (bx + 4, by + 3),
                    (FONT, 12).into_font().color(&BLACK),
                ))?;
            }
            for (j, s) in reps.iter().enumerate() {
                let cx = bx + 3 + j as i32 * (cell + 2);
                if cx + cell > bx + bw - 4 {
                    break;
                }
                root.draw(&Rectangle::new(
                    [(cx, cy), (cx + cell, cy + cell)],
                    color(s).filled(),
                ))?;
            }
        }
    }
    Ok(())
}

/// One panel of the comparison: caption, unit, values, an optional limit line.
type Panel<'a> = (&'a str, &'a str, Vec<f64>, Option<(String, f64)>);

fn phases<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, ps: &[Phase]) -> R
where
    DB::ErrorType: 'static,
{
    let (title, body) = root.split_vertically(34);
    title.draw_text(
        "phase comparison",
        &caption_style().pos(Pos::new(HPos::Left, VPos::Top)),
        (12, 8),
    )?;
    let panels = body.split_evenly((1, 4));
    let all: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
    let names: Vec<String> = all.iter().map(|n| short_phase(n, &all)).collect();
    let slo = ps.iter().filter_map(|p| p.slo_p99_ms).fold(0.0, f64::max);
    // An elastic plan's nodes: the most at once over the day.
    let nodes: Vec<f64> = ps
        .iter()
        .map(|p| {
            p.elastic
                .as_ref()
                .map_or(p.nodes.len() as f64, |e| f64::from(e.peak_nodes))
        })
        .collect();
    let cost: Vec<f64> = ps.iter().map(|p| p.monthly_usd).collect();
    let p99: Vec<f64> = ps.iter().map(|p| p.worst_p99_ms()).collect();
    let head: Vec<f64> = ps.iter().map(|p| p.worst_headroom().0 * 100.0).collect();
    let specs: [Panel; 4] = [
        ("nodes (elastic: most at once)", "nodes", nodes, None),
        ("cost", "USD per month", cost, None),
        (
            "worst-case p99",
            "ms",
            p99,
            (slo > 0.0).then(|| (format!("SLO {slo:.0} ms"), slo)),
        ),
        (
            "headroom at peak, worst case",
            "% of capacity free",
            head,
            None,
        ),
    ];
    for (panel, (caption, unit, values, limit)) in panels.iter().zip(specs) {
        let ymax = finite_max(values.iter().copied().chain(limit.as_ref().map(|l| l.1))) * 1.3;
        let n = names.len().max(1);
        let fmt_names = names.clone();
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, (FONT, 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(62)
            .build_cartesian_2d(0.0..n as f64, 0.0..ymax.max(1.0))?;
        chart
            .configure_mesh()
            .bold_line_style(BLACK.mix(0.12))
            .light_line_style(TRANSPARENT)
            .disable_x_mesh()
            .x_labels(n * 2 + 1)
            .x_label_formatter(&move |x: &f64| {
                if (x - x.floor() - 0.5).abs() < 1e-6 {
                    fmt_names
                        .get(x.floor() as usize)
                        .cloned()
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(unit)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style((FONT, 12))
            .draw()?;
        chart.draw_series(values.iter().enumerate().map(|(i, v)| {
            Rectangle::new(
                [(i as f64 + 0.2, 0.0), (i as f64 + 0.8, *v)],
                PALETTE[i % PALETTE.len()].filled(),
            )
        }))?;
        chart.draw_series(values.iter().enumerate().map(|(i, v)| {
            Text::new(
                if *v >= 100.0 || v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                },
                (i as f64 + 0.25, *v + ymax * 0.06),
                (FONT, 12),
            )
        }))?;
        if let Some((_, y)) = limit {
            chart.draw_series(DashedLineSeries::new(
                [(0.0, y), (n as f64, y)],
                6,
                4,
                RED.stroke_width(2),
            ))?;
        }
    }
    Ok(())
}

/// `limited-release` → `limited`, short enough for an axis.
/// A phase's name for an axis: its first word (`limited`), or its last
/// when another phase starts alike (`worldwide`, `elastic` for
/// `worldwide-elastic`), else all of it.
fn short_phase(name: &str, all: &[&str]) -> String {
    let first = |n: &str| n.split('-').next().unwrap_or(n).to_string();
    let last = |n: &str| n.rsplit('-').next().unwrap_or(n).to_string();
    let unique = |f: &dyn Fn(&str) -> String| all.iter().filter(|n| f(n) == f(name)).count() == 1;
    if unique(&first) {
        first(name)
    } else if unique(&last) {
        last(name)
    } else {
        name.to_string()
    }
}

/// The hockey stick: p50 and p99 against the offered rate, measured (solid,
/// dots) and simulated (dashed, with the replications' 95 % intervals), and
/// simulated with the fitted service times when there are any.
fn calibration<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Calibration) -> R
where
    DB::ErrorType: 'static,
{
    let xmax = finite_max(c.rungs.iter().map(|r| r.rate_rps)).max(1.0) * 1.08;
    let sims = |r: &twip_model::calibration::Rung| {
        [Some(&r.simulated), r.calibrated.as_ref()]
            .into_iter()
            .flatten()
            .map(|s| s.p99_ms.value + s.p99_ms.ci95)
            .collect::<Vec<f64>>()
    };
    let ymax = finite_max(
        c.rungs
            .iter()
            .flat_map(|r| std::iter::once(r.measured.p99_ms).chain(sims(r))),
    )
    .max(1.0)
        * 1.15;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "{}: latency against rate, measured and simulated",
                c.scenario
            ),
            caption_style(),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d(0.0..xmax, 0.0..ymax)?;
    let cap = c.capacity_rps;
    chart
        .configure_mesh()
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT)
        .x_desc(format!(
            "offered rate (requests/s; capacity {cap:.0}/s, {} the bottleneck)",
            c.bottleneck
        ))
        .y_desc("latency (ms)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FONT, 14))
        .draw()?;
    if cap < xmax {
        let style = GREY.stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new(
                [(cap, 0.0), (cap, ymax)],
                6,
                4,
                style,
            ))?
            .label("capacity")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    for (f, color) in [(Figure::P50, PALETTE[2]), (Figure::P99, PALETTE[0])] {
        let name = f.name();
        let measured: Vec<(f64, f64)> = c
            .rungs
            .iter()
            .map(|r| (r.rate_rps, r.measured.get(f)))
            .collect();
        let style = color.stroke_width(2);
        chart
            .draw_series(LineSeries::new(measured.clone(), style))?
            .label(format!("{name} measured"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
        chart.draw_series(measured.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        for (label, which, shade) in [("simulated", 0, 0.9), ("calibrated", 1, 0.5)] {
            let pts: Vec<(f64, Estimate)> = c
                .rungs
                .iter()
                .filter_map(|r| {
                    let s = if which == 0 {
                        Some(&r.simulated)
                    } else {
                        r.calibrated.as_ref()
                    };
                    s.map(|s| (r.rate_rps, s.get(f)))
                })
                .collect();
            if pts.is_empty() {
                continue;
            }
            let style = color.mix(shade).stroke_width(2);
            let dash = if which == 0 { 8 } else { 3 };
            chart
                .draw_series(DashedLineSeries::new(
                    pts.iter().map(|(x, e)| (*x, e.value)).collect::<Vec<_>>(),
                    dash,
                    4,
                    style,
                ))?
                .label(format!("{name} {label}"))
                .legend(move |(x, y)| {
                    // A dashed line, drawn as its two dashes.
                    let style = color.mix(shade).stroke_width(2);
                    EmptyElement::at((x, y))
                        + PathElement::new([(0, 0), (8, 0)], style)
                        + PathElement::new([(12, 0), (20, 0)], style)
                });
            chart.draw_series(pts.iter().map(|(x, e)| {
                ErrorBar::new_vertical(
                    *x,
                    e.value - e.ci95,
                    e.value,
                    e.value + e.ci95,
                    color.mix(shade).stroke_width(1),
                    8,
                )
            }))?;
        }
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

#[cfg(test)]
mod tests {
    use super::short_phase;

    #[test]
    fn phase_names_on_an_axis_stay_apart() {
        let all = [
            "training",
            "limited-release",
            "worldwide",
            "worldwide-elastic",
        ];
        let short: Vec<String> = all.iter().map(|n| short_phase(n, &all)).collect();
        assert_eq!(short, ["training", "limited", "worldwide", "elastic"]);
        let all = ["a-x", "a-x"];
        assert_eq!(short_phase("a-x", &all), "a-x");
    }
}
