// SPDX-License-Identifier: GPL-2.0

//! The plots, drawn by hand: per-frame cost side by side (C, ours, bare)
//! for every path, and the fan-out plot (delivered frames/s against the
//! number of upper devices, log2 axis, one line per driver), both with
//! min–max error bars.

use std::fmt::Write as _;

use crate::cost::{self, CostRow};
use crate::report::{fmt_value, Raw, FANOUT};
use crate::stats::{summarize, Summary};

const W: f64 = 720.0;
const H: f64 = 440.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 64.0;
const BOTTOM: f64 = 70.0;

struct Series {
    label: &'static str,
    driver: &'static str,
    color: &'static str,
    dx: f64,
}

const SERIES: &[Series] = &[
    Series {
        label: "C macvlan.ko",
        driver: "c",
        color: "#1f77b4",
        dx: -4.0,
    },
    Series {
        label: "Rust macvlan_vrrp.ko",
        driver: "rust",
        color: "#d62728",
        dx: 4.0,
    },
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round axis maximum (1, 2 or 5 times a power of ten) at or above `v`.
pub fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

pub fn fanout(raw: &Raw) -> String {
    let accel = raw
        .meta
        .get("accelerator")
        .map(String::as_str)
        .unwrap_or("unknown");
    // (n, median, min, max) per series
    let data: Vec<Vec<(u32, f64, f64, f64)>> = SERIES
        .iter()
        .map(|s| {
            FANOUT
                .iter()
                .filter_map(|&n| {
                    let v: Vec<f64> = raw
                        .get(&format!("fanout.{n}"), s.driver)
                        .iter()
                        .map(|&(_, v)| v)
                        .collect();
                    summarize(&v).map(|m| (n, m.median, m.min, m.max))
                })
                .collect()
        })
        .collect();
    let ymax = nice_max(data.iter().flatten().map(|p| p.3).fold(0.0, f64::max) * 1.05);
    let lmin = (*FANOUT.first().unwrap() as f64).log2();
    let lmax = (*FANOUT.last().unwrap() as f64).log2();
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |n: u32| LEFT + 20.0 + ((n as f64).log2() - lmin) / (lmax - lmin) * (pw - 40.0);
    let y = |v: f64| TOP + ph - v / ymax * ph;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
         font-family=\"sans-serif\" font-size=\"13\">"
    );
    let _ = writeln!(s, "<rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">Broadcast fan-out: frames delivered to upper devices</text>",
        W / 2.0
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"44\" text-anchor=\"middle\" fill=\"#444\">{} · {} kernel · {} · median, bars min–max of {} repetitions</text>",
        W / 2.0,
        esc(&raw.mode_label()),
        esc(raw.meta("flavour")),
        esc(accel),
        esc(raw.meta.get("reps").map(String::as_str).unwrap_or("?"))
    );
    // Grid and y labels.
    for i in 0..=5 {
        let v = ymax * i as f64 / 5.0;
        let yy = y(v);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + pw,
            LEFT - 8.0,
            yy + 4.0,
            esc(&fmt_value(v, "frames/s"))
        );
    }
    // Axes.
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{:.1}\" stroke=\"black\"/>\
         <line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\"/>",
        TOP + ph,
        TOP + ph,
        LEFT + pw,
        TOP + ph
    );
    for &n in FANOUT {
        let xx = x(n);
        let _ = writeln!(
            s,
            "<line x1=\"{xx:.1}\" y1=\"{:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"black\"/>\
             <text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{n}</text>",
            TOP + ph,
            TOP + ph + 5.0,
            TOP + ph + 20.0
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">upper devices on one lower device (log scale)</text>",
        LEFT + pw / 2.0,
        H - 22.0
    );
    let _ = writeln!(
        s,
        "<text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\">frames/s delivered (sum over upper devices)</text>",
        TOP + ph / 2.0
    );
    // Series.
    for (series, points) in SERIES.iter().zip(&data) {
        if points.is_empty() {
            continue;
        }
        let path: Vec<String> = points
            .iter()
            .map(|&(n, m, _, _)| format!("{:.1},{:.1}", x(n) + series.dx, y(m)))
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
            series.color,
            path.join(" ")
        );
        for &(n, m, lo, hi) in points {
            let xx = x(n) + series.dx;
            let _ = writeln!(
                s,
                "<line x1=\"{xx:.1}\" y1=\"{:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"{c}\"/>\
                 <line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{c}\"/>\
                 <line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{c}\"/>\
                 <circle cx=\"{xx:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{c}\"><title>{} {} upper(s): {} ({}–{})</title></circle>",
                y(lo),
                y(hi),
                xx - 4.0,
                y(lo),
                xx + 4.0,
                y(lo),
                xx - 4.0,
                y(hi),
                xx + 4.0,
                y(hi),
                y(m),
                esc(series.label),
                n,
                esc(&fmt_value(m, "frames/s")),
                esc(&fmt_value(lo, "frames/s")),
                esc(&fmt_value(hi, "frames/s")),
                c = series.color
            );
        }
    }
    // Legend.
    for (i, series) in SERIES.iter().enumerate() {
        let ly = TOP + 12.0 + 20.0 * i as f64;
        let lx = LEFT + pw - 200.0;
        let _ = writeln!(
            s,
            "<line x1=\"{lx:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{}\" stroke-width=\"2\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            lx + 24.0,
            series.color,
            lx + 30.0,
            ly + 4.0,
            esc(series.label)
        );
    }
    let _ = writeln!(s, "</svg>");
    s
}

/// Bars of one path in the cost plot: (label, colour, summary).
type Bars<'a> = [(&'static str, &'static str, &'a Option<Summary>); 3];

const COST_W: f64 = 900.0;
const COST_LEFT: f64 = 330.0;
const COST_RIGHT: f64 = 40.0;
const BAR: f64 = 9.0;
const GROUP: f64 = 3.0 * BAR + 12.0;

/// Per-frame cost of every path: C, ours and bare side by side, median
/// with min–max whiskers, and Rust/C of the own cost on the right.
pub fn cost(raw: &Raw, rows: &[CostRow<'_>]) -> String {
    let top = 78.0;
    let h = top + GROUP * rows.len() as f64 + 60.0;
    let pw = COST_W - COST_LEFT - COST_RIGHT - 70.0;
    let xmax = nice_max(
        rows.iter()
            .flat_map(|r| [&r.c, &r.rust, &r.bare])
            .filter_map(|s| s.as_ref().map(|s| s.max))
            .fold(0.0, f64::max)
            * 1.02,
    );
    let x = |v: f64| COST_LEFT + v.max(0.0) / xmax * pw;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{COST_W}\" height=\"{h}\" viewBox=\"0 0 {COST_W} {h}\" \
         font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(
        s,
        "<rect width=\"{COST_W}\" height=\"{h}\" fill=\"white\"/>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">Per-frame cost: C macvlan.ko, Rust macvlan_vrrp.ko, bare lower device</text>",
        COST_W / 2.0
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"40\" text-anchor=\"middle\" fill=\"#444\">{} · {} kernel · guest ns per frame, median, bars min–max of {} repetitions · right: Rust/C of the own cost (− bare)</text>",
        COST_W / 2.0,
        esc(&raw.mode_label()),
        esc(raw.meta("flavour")),
        esc(raw.meta("reps"))
    );
    // Grid and x labels.
    let axis_y = top + GROUP * rows.len() as f64;
    for i in 0..=5 {
        let v = xmax * i as f64 / 5.0;
        let xx = x(v);
        let _ = writeln!(
            s,
            "<line x1=\"{xx:.1}\" y1=\"{:.1}\" x2=\"{xx:.1}\" y2=\"{axis_y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            top - 6.0,
            axis_y + 16.0,
            esc(&fmt_value(v, cost::UNIT))
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{COST_LEFT}\" y1=\"{:.1}\" x2=\"{COST_LEFT}\" y2=\"{axis_y:.1}\" stroke=\"black\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">guest ns per frame</text>",
        top - 6.0,
        COST_LEFT + pw / 2.0,
        axis_y + 34.0
    );
    for (i, r) in rows.iter().enumerate() {
        let gy = top + GROUP * i as f64;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            COST_LEFT - 8.0,
            gy + 1.5 * BAR + 4.0,
            esc(r.def.short)
        );
        let bars: Bars<'_> = [
            ("C", "#1f77b4", &r.c),
            ("Rust", "#d62728", &r.rust),
            ("bare", "#999999", &r.bare),
        ];
        for (j, (label, colour, sum)) in bars.iter().enumerate() {
            let Some(m) = sum else { continue };
            let by = gy + BAR * j as f64;
            let _ = writeln!(
                s,
                "<rect x=\"{COST_LEFT}\" y=\"{by:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\">\
                 <title>{} {}: {} ({}–{}) ns/frame</title></rect>\
                 <line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\"/>",
                x(m.median) - COST_LEFT,
                BAR - 1.0,
                esc(r.def.id),
                label,
                esc(&fmt_value(m.median, cost::UNIT)),
                esc(&fmt_value(m.min, cost::UNIT)),
                esc(&fmt_value(m.max, cost::UNIT)),
                x(m.min),
                by + BAR / 2.0 - 0.5,
                x(m.max),
                by + BAR / 2.0 - 0.5
            );
        }
        let own = match &r.own_ratio {
            Some(q) => format!("{:.3}", q.median),
            None => "-".into(),
        };
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            COST_W - 8.0,
            gy + 1.5 * BAR + 4.0,
            esc(&own)
        );
    }
    // Legend.
    for (i, (label, colour)) in [
        ("C macvlan.ko", "#1f77b4"),
        ("Rust macvlan_vrrp.ko", "#d62728"),
        ("bare lower device", "#999999"),
    ]
    .iter()
    .enumerate()
    {
        let lx = COST_LEFT + 200.0 * i as f64;
        let ly = h - 14.0;
        let _ = writeln!(
            s,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"14\" height=\"10\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\">{label}</text>",
            ly - 9.0,
            lx + 20.0
        );
    }
    let _ = writeln!(s, "</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(83_000.0), 100_000.0);
        assert_eq!(nice_max(120_000.0), 200_000.0);
        assert_eq!(nice_max(410_000.0), 500_000.0);
    }

    #[test]
    fn draws_both_series() {
        let raw = Raw::parse(
            "#meta accelerator TCG <x>\nfanout.1\tc\t1\t100\nfanout.16\tc\t1\t1600\nfanout.256\tc\t1\t9000\n\
fanout.1\trust\t1\t110\nfanout.16\trust\t1\t1500\nfanout.256\trust\t1\t8000\n",
        )
        .unwrap();
        let svg = fanout(&raw);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains("TCG &lt;x&gt;"));
        assert!(svg.contains("wall-clock"));
    }

    #[test]
    fn draws_every_path() {
        let raw = Raw::parse(
            "#meta mode icount\n#meta icount_shift 3\n#meta flavour release\n#meta reps 1\n\
rx.limit\t-\t1\t500000\nrx.private\tc\t1\t250000\nrx.private\trust\t1\t200000\n",
        )
        .unwrap();
        let rows: Vec<CostRow<'_>> = cost::COSTS.iter().map(|d| cost::compute(&raw, d)).collect();
        let svg = cost(&raw, &rows);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("icount (shift 3) · release kernel"));
        // rx.private: C, Rust, bare; rx.vrrp: C (private) and bare;
        // rx.bridge: bare.
        assert_eq!(svg.matches("<title>").count(), 6);
        assert!(svg.contains("<title>rx.private Rust: 5000 (5000–5000) ns/frame</title>"));
        // Own cost: (5000 - 2000) / (4000 - 2000).
        assert!(svg.contains(">1.500</text>"));
        for d in cost::COSTS {
            assert!(svg.contains(&esc(d.short)), "{}", d.short);
        }
    }
}
