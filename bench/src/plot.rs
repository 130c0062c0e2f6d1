//! The latency-versus-throughput plot, as a small hand-written SVG: one line per server through
//! its offered rates and its full load, p99 solid and p50 dashed, latency on a log scale. Written by
//! hand rather than with plotters: the chart is a few lines and axes, and plotters' text layout
//! wants a font backend (ttf or ab_glyph) this crate would otherwise not need.

use std::fmt::Write as _;

use crate::report::{Measurement, Results};

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 500.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 210.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 6] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
];

pub fn svg(results: &Results) -> String {
    // Each server's points as the load grows: its offered rates, then its full load.
    let series: Vec<(&str, Vec<&Measurement>)> = results
        .targets
        .iter()
        .map(|t| {
            let mut points: Vec<&Measurement> = t.open.iter().chain([&t.full]).collect();
            points.retain(|p| p.ok > 0);
            (t.name.as_str(), points)
        })
        .collect();
    let all = || series.iter().flat_map(|(_, points)| points.iter());
    let x_max = nice_ceiling(all().map(|p| p.msgs_per_s).fold(1.0, f64::max) * 1.05);
    let lowest = all().map(|p| p.p50_us.max(1)).min().unwrap_or(10);
    let highest = all().map(|p| p.p99_us.max(1)).max().unwrap_or(1000);
    let y_min = 10f64.powi((lowest as f64).log10().floor() as i32);
    let y_max = 10f64.powi(((highest as f64).log10().ceil() as i32).max(y_min.log10() as i32 + 1));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |v: f64| LEFT + v / x_max * plot_w;
    let y = |us: u64| {
        let v = (us.max(1) as f64).clamp(y_min, y_max);
        TOP + plot_h - (v.log10() - y_min.log10()) / (y_max.log10() - y_min.log10()) * plot_h
    };

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" font-size="15" text-anchor="middle">Latency vs throughput, short text messages ({} connections × {} streams)</text>"#,
        LEFT + plot_w / 2.0,
        results.settings.connections,
        results.settings.streams_per_connection
    );
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="38" font-size="11" text-anchor="middle" fill="#555">{}, {} CPUs, load average {:.1}–{:.1}; {} profile, {}</text>"##,
        LEFT + plot_w / 2.0,
        escape(&results.machine.cpu_model),
        results.machine.cpus,
        results.machine.load_at_start,
        results.machine.load_at_end,
        results.settings.profile,
        escape(&results.version)
    );
    // Axes and grid.
    let ticks = 5;
    for i in 0..=ticks {
        let v = x_max / ticks as f64 * i as f64;
        let px = x(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#e5e5e5"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0,
            thousands(v)
        );
    }
    let mut decade = y_min;
    while decade <= y_max * 1.001 {
        let py = y(decade as u64);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 8.0,
            py + 4.0,
            latency_label(decade)
        );
        decade *= 10.0;
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">messages per second answered OK</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 15.0
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate(20 {:.1}) rotate(-90)" text-anchor="middle">latency (log scale)</text>"#,
        TOP + plot_h / 2.0
    );
    // The lines, then the legend.
    for (i, (name, points)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        for (quantile, dash) in [(0.99, ""), (0.5, r#" stroke-dasharray="5 4""#)] {
            let value = |p: &Measurement| if quantile == 0.99 { p.p99_us } else { p.p50_us };
            let path: Vec<String> = points
                .iter()
                .map(|p| format!("{:.1},{:.1}", x(p.msgs_per_s), y(value(p))))
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
                path.join(" ")
            );
            for p in points {
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{name}: {:.0} msg/s, p{} {} µs</title></circle>"#,
                    x(p.msgs_per_s),
                    y(value(p)),
                    p.msgs_per_s,
                    if quantile == 0.99 { "99" } else { "50" },
                    value(p)
                );
            }
        }
        let ly = TOP + 10.0 + i as f64 * 22.0;
        let lx = WIDTH - RIGHT + 15.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0,
            escape(name)
        );
    }
    let ly = TOP + 10.0 + series.len() as f64 * 22.0 + 10.0;
    let lx = WIDTH - RIGHT + 15.0;
    let _ = writeln!(
        svg,
        r##"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="#333" stroke-width="2"/><text x="{}" y="{}">p99</text>"##,
        lx + 24.0,
        lx + 30.0,
        ly + 4.0
    );
    let _ = writeln!(
        svg,
        r##"<line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="#333" stroke-width="2" stroke-dasharray="5 4"/><text x="{}" y="{}">p50</text>"##,
        ly + 20.0,
        lx + 24.0,
        ly + 20.0,
        lx + 30.0,
        ly + 24.0
    );
    let _ = writeln!(
        svg,
        r##"<text x="{lx}" y="{}" font-size="10" fill="#555">last point: full load (closed loop)</text>"##,
        ly + 48.0
    );
    svg.push_str("</svg>\n");
    svg
}

/// A round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten) at least `v`.
fn nice_ceiling(v: f64) -> f64 {
    let power = 10f64.powi(v.log10().floor() as i32);
    [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * power)
}

fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn latency_label(us: f64) -> String {
    match us {
        v if v >= 1_000_000.0 => format!("{:.0} s", v / 1_000_000.0),
        v if v >= 1000.0 => format!("{:.0} ms", v / 1000.0),
        v => format!("{v:.0} µs"),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_helpers() {
        assert_eq!(nice_ceiling(26_000.0), 30_000.0);
        assert_eq!(nice_ceiling(8_100.0), 10_000.0);
        assert_eq!(nice_ceiling(1_000.0), 1_000.0);
        assert_eq!(nice_ceiling(1_001.0), 1_500.0);
        assert_eq!(thousands(104_000.0), "104,000");
        assert_eq!(thousands(950.0), "950");
        assert_eq!(latency_label(1000.0), "1 ms");
        assert_eq!(latency_label(100.0), "100 µs");
    }
}
