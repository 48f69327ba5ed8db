// SPDX-License-Identifier: GPL-2.0

//! The fan-out plot, drawn by hand: delivered frames/s against the number of
//! upper devices (log2 axis), one line per driver, min–max error bars.

use std::fmt::Write as _;

use crate::report::{fmt_value, Raw, FANOUT};
use crate::stats::summarize;

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
        "<text x=\"{}\" y=\"44\" text-anchor=\"middle\" fill=\"#444\">accelerator: {} · median, bars min–max of {} repetitions</text>",
        W / 2.0,
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
    }
}
