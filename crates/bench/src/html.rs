//! `--html`: a self-contained report page. Charts are inline SVG drawn
//! here, with inline CSS and no scripts or fonts, so the file opens the
//! same on an offline machine years later.
//!
//! The charts follow nGrinder's run report: throughput (TPS) over time,
//! latency percentiles over time (its mean-test-time graph, with the tail
//! added), and the latency distribution as a percentile spectrum, where
//! the x axis stretches the tail (90, 99, 99.9 …) so it can be read.

use std::fmt::Write as _;

use crate::compare::Comparison;
use crate::report::Report;

const CHART_WIDTH_PX: f64 = 760.0;
const CHART_HEIGHT_PX: f64 = 260.0;
const MARGIN_LEFT_PX: f64 = 64.0;
const MARGIN_RIGHT_PX: f64 = 28.0;
const MARGIN_TOP_PX: f64 = 28.0;
const MARGIN_BOTTOM_PX: f64 = 40.0;
const COLORS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf",
];

/// The spectrum's x axis ends at 99.999%: beyond that a run of a few
/// million requests has no samples, and 100% (the max) is shown at this
/// position too.
const SPECTRUM_NINES_MAX: f64 = 5.0;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

struct Line {
    name: String,
    points: Vec<(f64, f64)>,
}

struct Axis {
    label: &'static str,
    /// Tick positions and their labels.
    ticks: Vec<(f64, String)>,
    max: f64,
}

fn nice_ticks(max: f64) -> (f64, Vec<(f64, String)>) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, vec![(0.0, "0".into()), (1.0, "1".into())]);
    }
    let raw_step = max / 5.0;
    let magnitude = 10f64.powf(raw_step.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw_step)
        .unwrap_or(10.0 * magnitude);
    let top = (max / step).ceil() * step;
    let ticks = (0..=((top / step).round() as usize))
        .map(|i| {
            let v = i as f64 * step;
            let label = if step >= 1.0 {
                format!("{v:.0}")
            } else {
                format!("{v}")
            };
            (v, trim_float(&label))
        })
        .collect();
    (top, ticks)
}

fn trim_float(s: &str) -> String {
    if s.contains('.') && s.len() > 8 {
        format!("{:.4}", s.parse::<f64>().unwrap_or(0.0))
    } else {
        s.to_string()
    }
}

fn chart(title: &str, x: Axis, y_label: &'static str, lines: &[Line]) -> String {
    let y_data_max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let (y_max, y_ticks) = nice_ticks(y_data_max);
    let plot_w = CHART_WIDTH_PX - MARGIN_LEFT_PX - MARGIN_RIGHT_PX;
    let plot_h = CHART_HEIGHT_PX - MARGIN_TOP_PX - MARGIN_BOTTOM_PX;
    let x_max = if x.max > 0.0 { x.max } else { 1.0 };
    let px = |v: f64| MARGIN_LEFT_PX + v / x_max * plot_w;
    let py = |v: f64| MARGIN_TOP_PX + plot_h - v / y_max * plot_h;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{t}">"#,
        w = CHART_WIDTH_PX,
        h = CHART_HEIGHT_PX,
        t = escape(title)
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="18" class="title">{}</text>"#,
        MARGIN_LEFT_PX,
        escape(title)
    );
    for (v, label) in &y_ticks {
        let y = py(*v);
        let _ = write!(
            s,
            r##"<line x1="{l}" y1="{y:.1}" x2="{r}" y2="{y:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{label}</text>"##,
            l = MARGIN_LEFT_PX,
            r = MARGIN_LEFT_PX + plot_w,
            tx = MARGIN_LEFT_PX - 6.0,
            ty = y + 4.0,
            label = escape(label)
        );
    }
    for (v, label) in &x.ticks {
        let xp = px(*v);
        let _ = write!(
            s,
            r##"<line x1="{xp:.1}" y1="{t}" x2="{xp:.1}" y2="{b}" stroke="#eee"/><text x="{xp:.1}" y="{ly}" text-anchor="middle">{label}</text>"##,
            t = MARGIN_TOP_PX,
            b = MARGIN_TOP_PX + plot_h,
            ly = MARGIN_TOP_PX + plot_h + 16.0,
            label = escape(label)
        );
    }
    let _ = write!(
        s,
        r##"<rect x="{l}" y="{t}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/><text x="{cx}" y="{by}" text-anchor="middle">{xl}</text><text x="14" y="{cy}" text-anchor="middle" transform="rotate(-90 14 {cy})">{yl}</text>"##,
        l = MARGIN_LEFT_PX,
        t = MARGIN_TOP_PX,
        cx = MARGIN_LEFT_PX + plot_w / 2.0,
        by = CHART_HEIGHT_PX - 6.0,
        cy = MARGIN_TOP_PX + plot_h / 2.0,
        xl = escape(x.label),
        yl = escape(y_label),
    );
    for (i, line) in lines.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<String> = line
            .points
            .iter()
            .map(|&(xv, yv)| format!("{:.1},{:.1}", px(xv), py(yv)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{}"/>"#,
            pts.join(" ")
        );
        let lx = MARGIN_LEFT_PX + plot_w - 150.0;
        let ly = MARGIN_TOP_PX + 14.0 + 16.0 * i as f64;
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="{y:.1}" width="12" height="3" fill="{color}"/><text x="{tx}" y="{ty:.1}">{}</text>"#,
            escape(&line.name),
            y = ly - 4.0,
            tx = lx + 18.0,
            ty = ly,
        );
    }
    s.push_str("</svg>");
    s
}

fn time_axis(report: &Report) -> Axis {
    let last = report.series.last().map_or(1.0, |s| s.second as f64 + 1.0);
    let (max, ticks) = nice_ticks(last);
    Axis {
        label: "seconds since start",
        ticks,
        max,
    }
}

fn throughput_chart(report: &Report) -> String {
    // Each second's count is drawn at the second's end.
    let at = |sec: u64| sec as f64 + 1.0;
    let mut lines = vec![Line {
        name: "all commands".into(),
        points: report
            .series
            .iter()
            .map(|s| (at(s.second), s.ops as f64))
            .collect(),
    }];
    if report.commands.len() > 1 {
        for (i, c) in report.commands.iter().enumerate() {
            lines.push(Line {
                name: c.name.clone(),
                points: report
                    .series
                    .iter()
                    .map(|s| {
                        (
                            at(s.second),
                            s.ops_by_command.get(i).copied().unwrap_or(0) as f64,
                        )
                    })
                    .collect(),
            });
        }
    }
    chart(
        "Throughput (requests per second)",
        time_axis(report),
        "req/s",
        &lines,
    )
}

fn latency_chart(report: &Report) -> String {
    let at = |sec: u64| sec as f64 + 1.0;
    type Pick = fn(&crate::Latency) -> f64;
    let pick: [(&str, Pick); 4] = [
        ("p50", |l| l.p50_ms),
        ("p90", |l| l.p90_ms),
        ("p99", |l| l.p99_ms),
        ("p99.9", |l| l.p999_ms),
    ];
    let lines: Vec<Line> = pick
        .iter()
        .map(|(name, get)| Line {
            name: name.to_string(),
            points: report
                .series
                .iter()
                .filter(|s| s.ops > 0)
                .map(|s| (at(s.second), get(&s.latency)))
                .collect(),
        })
        .collect();
    chart(
        "Latency percentiles per second",
        time_axis(report),
        "ms",
        &lines,
    )
}

fn nines(percentile: f64) -> f64 {
    let rest = 1.0 - percentile / 100.0;
    if rest <= 0.0 {
        return SPECTRUM_NINES_MAX;
    }
    (-rest.log10()).min(SPECTRUM_NINES_MAX)
}

fn distribution_chart(report: &Report) -> String {
    let points = report
        .distribution
        .iter()
        .map(|p| (nines(p.percentile), p.latency_ms))
        .collect();
    let labels = ["0", "90", "99", "99.9", "99.99", "99.999"];
    let x = Axis {
        label: "percentile",
        ticks: labels
            .iter()
            .enumerate()
            .map(|(i, l)| (i as f64, l.to_string()))
            .collect(),
        max: SPECTRUM_NINES_MAX,
    };
    let lines = [Line {
        name: "latency".into(),
        points,
    }];
    chart(
        "Latency distribution (percentile spectrum)",
        x,
        "ms",
        &lines,
    )
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:900px}\
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}svg{display:block;margin:8px 0 20px}\
svg text{font:11px sans-serif;fill:#333}svg .title{font:bold 13px sans-serif}code{background:#f4f4f4;padding:1px 4px}";

fn summary_table(report: &Report) -> String {
    let mut s = String::from(
        "<table><tr><th>command</th><th>ops/s</th><th>requests</th><th>hits</th><th>misses</th>\
         <th>errors</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>",
    );
    let mut row = |name: &str,
                   ops: f64,
                   req: u64,
                   hits: u64,
                   misses: u64,
                   errors: u64,
                   l: &crate::Latency| {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{ops:.0}</td><td>{req}</td><td>{hits}</td><td>{misses}</td><td>{errors}</td>\
             <td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            escape(name),
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.p999_ms,
            l.max_ms
        );
    };
    for c in &report.commands {
        row(
            &c.name,
            c.ops_per_sec,
            c.requests,
            c.hits,
            c.misses,
            c.errors,
            &c.latency,
        );
    }
    row(
        "all",
        report.ops_per_sec,
        report.requests,
        report.hits,
        report.misses,
        report.errors,
        &report.latency,
    );
    s.push_str("</table>");
    s
}

fn report_section(report: &Report) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<p>Target <code>{}</code>: {} loop{}, {} threads, {} connections, pipeline {}, {:.2} s, seed {}.</p>",
        escape(&report.target),
        report.mode,
        report
            .rate_per_sec
            .map(|r| format!(" at {r} requests/s (latency from intended send time)"))
            .unwrap_or_default(),
        report.threads,
        report.connections,
        report.pipeline,
        report.duration_secs,
        report.seed
    );
    s.push_str(&summary_table(report));
    s.push_str(&throughput_chart(report));
    s.push_str(&latency_chart(report));
    s.push_str(&distribution_chart(report));
    s
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>{t}</title>\
         <style>{STYLE}</style></head><body><h1>{t}</h1>{body}</body></html>\n",
        t = escape(title)
    )
}

/// The report of one run as a standalone HTML page.
pub fn render(report: &Report) -> String {
    page("shoal bench report", &report_section(report))
}

/// A comparison as a standalone HTML page: the medians and ratios, then
/// the charts of each side's last round.
pub fn render_comparison(cmp: &Comparison) -> String {
    let mut body = format!(
        "<p>A = <code>{}</code>, B = <code>{}</code>, {} rounds each, run alternately (A B A B …). \
         Each figure is the median over its side's rounds; the ratio is A/B.</p>",
        escape(&cmp.a_target),
        escape(&cmp.b_target),
        cmp.a.len()
    );
    body.push_str("<table><tr><th>figure</th><th>A</th><th>B</th><th>A/B</th><th>better</th></tr>");
    for f in &cmp.figures {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td><td>{}</td></tr>",
            escape(&f.name),
            f.a_median,
            f.b_median,
            f.ratio.map_or("-".into(), |r| format!("{r:.3}")),
            if f.higher_is_better {
                "higher"
            } else {
                "lower"
            }
        );
    }
    body.push_str("</table>");
    for (label, reports) in [("A", &cmp.a), ("B", &cmp.b)] {
        if let Some(r) = reports.last() {
            let _ = write!(body, "<h2>{label}: last round</h2>");
            body.push_str(&report_section(r));
        }
    }
    page("shoal bench comparison", &body)
}
