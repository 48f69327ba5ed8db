// SPDX-License-Identifier: GPL-2.0

//! From raw samples (what tests/vm/bench.sh records) to the table, the JSON
//! file and the fan-out plot.
//!
//! The raw file has one sample a line, `KEY<TAB>DRIVER<TAB>REP<TAB>VALUE`,
//! with DRIVER `c`, `rust` or `-` (no macvlan), and `#meta KEY VALUE` and
//! `#note TEXT` lines.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::cost::{self, CostRow};
use crate::stats::{summarize, Summary};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One row of the result table: a C figure against a Rust figure.
pub struct RowDef {
    pub id: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    pub better: Better,
    pub target: Option<f64>,
    pub c_key: &'static str,
    pub rust_key: &'static str,
}

const fn row(
    id: &'static str,
    title: &'static str,
    unit: &'static str,
    better: Better,
    target: Option<f64>,
    c_key: &'static str,
    rust_key: &'static str,
) -> RowDef {
    RowDef {
        id,
        title,
        unit,
        better,
        target,
        c_key,
        rust_key,
    }
}

const FPS: &str = "frames/s";

/// Parity with C, read with the ±2 % within which two icount runs agree (as
/// issue #18 reads its "≤"): a rate at least 0.98 of C's, a memory figure at
/// most 1.02 of C's.
const RATE_AT_LEAST_C: f64 = 0.98;
const MEMORY_AT_MOST_C: f64 = 1.02;

pub const ROWS: &[RowDef] = &[
    row(
        "rx.private",
        "Unicast receive, private mode",
        FPS,
        Better::Higher,
        Some(RATE_AT_LEAST_C),
        "rx.private",
        "rx.private",
    ),
    row(
        "rx.bridge",
        "Unicast receive, bridge mode",
        FPS,
        Better::Higher,
        Some(RATE_AT_LEAST_C),
        "rx.bridge",
        "rx.bridge",
    ),
    row(
        "rx.vrrp",
        "Unicast receive, VRRP mode (C: private)",
        FPS,
        Better::Higher,
        Some(RATE_AT_LEAST_C),
        "rx.private",
        "rx.vrrp",
    ),
    row(
        "fanout.1",
        "Broadcast fan-out, 1 upper device",
        FPS,
        Better::Higher,
        Some(0.95),
        "fanout.1",
        "fanout.1",
    ),
    row(
        "fanout.16",
        "Broadcast fan-out, 16 upper devices (sum)",
        FPS,
        Better::Higher,
        Some(0.95),
        "fanout.16",
        "fanout.16",
    ),
    row(
        "fanout.256",
        "Broadcast fan-out, 256 upper devices (sum)",
        FPS,
        Better::Higher,
        Some(0.95),
        "fanout.256",
        "fanout.256",
    ),
    row(
        "advert.steered",
        "VRRP adverts delivered: Rust VRRP mode to the lower device, C private mode to the upper",
        FPS,
        Better::Higher,
        None,
        "advert.private.upper",
        "advert.vrrp.lower",
    ),
    row(
        "advert.private",
        "VRRP adverts swallowed by the upper device, private mode",
        FPS,
        Better::Higher,
        None,
        "advert.private.upper",
        "advert.private.upper",
    ),
    row(
        "nonadvert.vrrp",
        "IGMPv3 reports from the VRRP MAC, delivered to the upper: Rust VRRP mode, C private mode",
        FPS,
        Better::Higher,
        None,
        "nonadvert.private.upper",
        "nonadvert.vrrp.upper",
    ),
    row(
        "lookalike.vrrp",
        "Advert lookalikes from the VRRP MAC, delivered to the upper: Rust VRRP mode, C private mode",
        FPS,
        Better::Higher,
        None,
        "lookalike.private.upper",
        "lookalike.vrrp.upper",
    ),
    row(
        "tx.private",
        "Transmit through the lower device, private mode",
        FPS,
        Better::Higher,
        Some(0.95),
        "tx.private",
        "tx.private",
    ),
    row(
        "tx.bridge",
        "Transmit through the lower device, bridge mode",
        FPS,
        Better::Higher,
        Some(0.95),
        "tx.bridge",
        "tx.bridge",
    ),
    row(
        "create.1000",
        "Create 1000 upper devices",
        "devices/s",
        Better::Higher,
        Some(0.95),
        "create.1000",
        "create.1000",
    ),
    row(
        "create.4096",
        "Create 4096 upper devices",
        "devices/s",
        Better::Higher,
        Some(0.95),
        "create.4096",
        "create.4096",
    ),
    row(
        "delete.1000",
        "Delete 1000 upper devices",
        "devices/s",
        Better::Higher,
        Some(0.95),
        "delete.1000",
        "delete.1000",
    ),
    row(
        "delete.4096",
        "Delete 4096 upper devices",
        "devices/s",
        Better::Higher,
        Some(0.95),
        "delete.4096",
        "delete.4096",
    ),
    row(
        "mem.slab",
        "Memory per upper device: Slab (1000 devices)",
        "KiB",
        Better::Lower,
        Some(MEMORY_AT_MOST_C),
        "mem.slab",
        "mem.slab",
    ),
    row(
        "mem.available",
        "Memory per upper device: MemAvailable drop (1000 devices)",
        "KiB",
        Better::Lower,
        Some(MEMORY_AT_MOST_C),
        "mem.available",
        "mem.available",
    ),
];

/// Figures without a C/Rust pair, shown for scale: the bare references
/// (no macvlan module loaded) and the injector's offered rates.
pub const REFERENCE: &[(&str, &str, &str, &str)] = &[
    (
        "rx.limit",
        "-",
        "Bare, unicast receive: the same frames dropped at tc ingress of the bare lower device",
        FPS,
    ),
    (
        "fanout.bare",
        "-",
        "Bare, broadcast: the fan-out's frames dropped at tc ingress of the bare lower device",
        FPS,
    ),
    (
        "advert.bare",
        "-",
        "Bare, VRRP adverts counted in prerouting on the bare lower device",
        FPS,
    ),
    (
        "tx.bare",
        "-",
        "Bare, transmit: pktgen on the lower device itself, counted at its peer",
        FPS,
    ),
    (
        "advert.offered.bare",
        "-",
        "VRRP adverts offered by the injector (bare lower device)",
        FPS,
    ),
    (
        "advert.offered.private",
        "c",
        "VRRP adverts offered by the injector (C, private mode)",
        FPS,
    ),
    (
        "advert.offered.private",
        "rust",
        "VRRP adverts offered by the injector (Rust, private mode)",
        FPS,
    ),
    (
        "advert.offered.vrrp",
        "rust",
        "VRRP adverts offered by the injector (Rust, VRRP mode)",
        FPS,
    ),
];

/// The fan-out sizes plotted.
pub const FANOUT: &[u32] = &[1, 16, 256];

/// Parsed raw samples.
#[derive(Default, Debug)]
pub struct Raw {
    pub meta: BTreeMap<String, String>,
    pub notes: Vec<String>,
    /// (key, driver) -> (rep, value)
    pub samples: BTreeMap<(String, String), Vec<(u32, f64)>>,
}

impl Raw {
    pub fn parse(text: &str) -> Result<Raw, String> {
        let mut raw = Raw::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("#meta ") {
                let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
                raw.meta.insert(k.to_string(), v.trim().to_string());
                continue;
            }
            if let Some(rest) = line.strip_prefix("#note ") {
                raw.notes.push(rest.trim().to_string());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 4 {
                return Err(format!(
                    "line {}: expected KEY DRIVER REP VALUE: {line:?}",
                    n + 1
                ));
            }
            let rep: u32 = f[2]
                .parse()
                .map_err(|_| format!("line {}: bad repetition {:?}", n + 1, f[2]))?;
            let value: f64 = f[3]
                .parse()
                .map_err(|_| format!("line {}: bad value {:?}", n + 1, f[3]))?;
            raw.samples
                .entry((f[0].to_string(), f[1].to_string()))
                .or_default()
                .push((rep, value));
        }
        Ok(raw)
    }

    pub fn get(&self, key: &str, driver: &str) -> &[(u32, f64)] {
        self.samples
            .get(&(key.to_string(), driver.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn values(&self, key: &str, driver: &str) -> Vec<f64> {
        self.get(key, driver).iter().map(|&(_, v)| v).collect()
    }

    pub fn meta(&self, key: &str) -> &str {
        self.meta.get(key).map(String::as_str).unwrap_or("unknown")
    }

    /// The measuring mode for labels: "icount (shift N)" or "wall-clock".
    /// Runs from before the modes existed measured wall-clock time.
    pub fn mode_label(&self) -> String {
        match self.meta.get("mode").map(String::as_str) {
            Some("icount") => format!("icount (shift {})", self.meta("icount_shift")),
            Some("wallclock") | None => "wall-clock".into(),
            Some(other) => other.into(),
        }
    }

    /// The mode's machine-readable name: "icount" or "wall-clock".
    pub fn mode_key(&self) -> &str {
        match self.meta.get("mode").map(String::as_str) {
            Some("icount") => "icount",
            Some("wallclock") | None => "wall-clock",
            Some(other) => other,
        }
    }
}

/// One computed row.
pub struct Row<'a> {
    pub def: &'a RowDef,
    pub c: Option<Summary>,
    pub rust: Option<Summary>,
    pub c_samples: Vec<(u32, f64)>,
    pub rust_samples: Vec<(u32, f64)>,
    /// Ratio of the medians, Rust/C.
    pub ratio: Option<f64>,
    /// Spread of the per-repetition ratios (same repetition, same boot).
    pub ratio_spread: Option<Summary>,
    pub status: Status,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Meets,
    WithinSpread,
    Misses,
    NoTarget,
    NoData,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Meets => "meets",
            Status::WithinSpread => "within spread",
            Status::Misses => "MISSES",
            Status::NoTarget => "-",
            Status::NoData => "no data",
        }
    }

    /// The machine-readable name, for JSON.
    pub fn key(self) -> &'static str {
        match self {
            Status::Meets => "meets",
            Status::WithinSpread => "within_spread",
            Status::Misses => "misses",
            Status::NoTarget => "no_target",
            Status::NoData => "no_data",
        }
    }
}

pub fn compute<'a>(raw: &Raw, def: &'a RowDef) -> Row<'a> {
    let c_samples = raw.get(def.c_key, "c").to_vec();
    let rust_samples = raw.get(def.rust_key, "rust").to_vec();
    let c = summarize(&raw.values(def.c_key, "c"));
    let rust = summarize(&raw.values(def.rust_key, "rust"));
    let ratio = match (&c, &rust) {
        (Some(c), Some(r)) if c.median != 0.0 => Some(r.median / c.median),
        _ => None,
    };
    let paired: Vec<f64> = rust_samples
        .iter()
        .filter_map(|&(rep, r)| {
            c_samples
                .iter()
                .find(|&&(crep, _)| crep == rep)
                .map(|&(_, c)| r / c)
        })
        .collect();
    let ratio_spread = summarize(&paired);
    let status = match (ratio, def.target, def.better) {
        (None, _, _) => Status::NoData,
        (Some(_), None, _) => Status::NoTarget,
        (Some(q), Some(t), Better::Higher) if q >= t => Status::Meets,
        (Some(_), Some(t), Better::Higher) if ratio_spread.as_ref().is_some_and(|s| s.max >= t) => {
            Status::WithinSpread
        }
        (Some(q), Some(t), Better::Lower) if q <= t => Status::Meets,
        (Some(_), Some(t), Better::Lower) if ratio_spread.as_ref().is_some_and(|s| s.min <= t) => {
            Status::WithinSpread
        }
        _ => Status::Misses,
    };
    Row {
        def,
        c,
        rust,
        c_samples,
        rust_samples,
        ratio,
        ratio_spread,
        status,
    }
}

/// 3 significant digits with a k/M/G suffix for rates, one decimal for KiB.
pub fn fmt_value(v: f64, unit: &str) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if unit == "KiB" {
        return format!("{v:.1}");
    }
    if unit == cost::UNIT {
        return if v.abs() >= 100.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        };
    }
    if v == 0.0 {
        return "0".into();
    }
    let (scaled, suffix) = if v.abs() >= 1e9 {
        (v / 1e9, " G")
    } else if v.abs() >= 1e6 {
        (v / 1e6, " M")
    } else if v.abs() >= 1e3 {
        (v / 1e3, " k")
    } else {
        (v, "")
    };
    let digits = if scaled.abs() >= 100.0 {
        0
    } else if scaled.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{scaled:.digits$}{suffix}")
}

fn fmt_summary(s: &Option<Summary>, unit: &str) -> String {
    match s {
        Some(s) => format!(
            "{} ({}–{})",
            fmt_value(s.median, unit),
            fmt_value(s.min, unit),
            fmt_value(s.max, unit)
        ),
        None => "-".into(),
    }
}

fn fmt_ratio(r: &Row<'_>) -> String {
    match (r.ratio, &r.ratio_spread) {
        (Some(q), Some(s)) => format!("{q:.2} ({:.2}–{:.2})", s.min, s.max),
        (Some(q), None) => format!("{q:.2}"),
        _ => "-".into(),
    }
}

/// A cost ratio with three decimals: the ±2 % of the targets needs them.
fn fmt_cost_ratio(r: &Option<cost::Ratio>) -> String {
    match r {
        Some(q) => format!("{:.3} ({:.3}–{:.3})", q.median, q.min, q.max),
        None => "-".into(),
    }
}

fn target_label(def: &RowDef) -> String {
    match (def.target, def.better) {
        (Some(t), Better::Higher) => format!("≥ {t:.2}"),
        (Some(t), Better::Lower) => format!("≤ {t:.2}"),
        (None, Better::Lower) => "lower is better".into(),
        (None, Better::Higher) => "-".into(),
    }
}

/// The line every output starts with: mode, kernel flavour, accelerator.
pub fn settings_line(raw: &Raw) -> String {
    format!(
        "**Mode: {}** · **kernel flavour: {}** · accelerator: {} · kernel {} · {} vCPUs · {} repetitions · {} s windows ({} s warm-up) · {} · {} s in the guest",
        raw.mode_label(),
        raw.meta("flavour"),
        raw.meta("accelerator"),
        raw.meta("kernel"),
        raw.meta("cpus"),
        raw.meta("reps"),
        raw.meta("seconds"),
        raw.meta("warmup"),
        raw.meta("date"),
        raw.meta("bench_seconds"),
    )
}

pub fn markdown(raw: &Raw, rows: &[Row<'_>], costs: &[CostRow<'_>]) -> String {
    let mut md = String::new();
    let mode = raw.mode_label();
    let _ = writeln!(md, "# macvlan: C macvlan.ko vs Rust macvlan_vrrp.ko\n");
    let _ = writeln!(md, "{}\n", settings_line(raw));
    if raw.mode_key() == "icount" {
        let _ = writeln!(
            md,
            "Under icount the guest's clocks count its instructions ({} guest ns each), \
             so rates and per-frame costs are work counted, not time measured: \
             the host's load does not move them.\n",
            1u64 << raw.meta("icount_shift").parse::<u32>().unwrap_or(0).min(20)
        );
    }
    let _ = writeln!(
        md,
        "Median (min–max) over the repetitions. Both drivers ran in the same VM boot, \
         one after the other in every repetition (alternating which goes first). \
         Rust/C is the ratio of the medians, with the min–max of the per-repetition \
         ratios. \"within spread\": the median ratio misses the target but the \
         best repetition reaches it. See Documentation/benchmarks.rst.\n"
    );
    let _ = writeln!(md, "## Per-frame cost ({mode}, guest ns per frame)\n");
    let _ = writeln!(
        md,
        "Bare: the same frames on the lower device with no macvlan module loaded. \
         Own cost: the driver's figure minus bare (same repetition). \
         Target: Rust's own cost at most C's + 2 %.\n"
    );
    let _ = writeln!(
        md,
        "| Path | C | Rust | Bare | C own (C − bare) | Rust own (Rust − bare) | Rust/C | Rust/C own | Target | Result |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in costs {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.def.title,
            fmt_summary(&r.c, cost::UNIT),
            fmt_summary(&r.rust, cost::UNIT),
            fmt_summary(&r.bare, cost::UNIT),
            fmt_summary(&r.c_own, cost::UNIT),
            fmt_summary(&r.rust_own, cost::UNIT),
            fmt_cost_ratio(&r.ratio),
            fmt_cost_ratio(&r.own_ratio),
            r.def.target.map_or("-".into(), |t| format!("≤ {t:.2}")),
            r.status.label()
        );
    }
    let _ = writeln!(md, "\n## Rates and the control plane ({mode})\n");
    let _ = writeln!(
        md,
        "| Figure | Unit | C macvlan.ko | Rust macvlan_vrrp.ko | Rust/C | Target | Result |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---|");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.def.title,
            r.def.unit,
            fmt_summary(&r.c, r.def.unit),
            fmt_summary(&r.rust, r.def.unit),
            fmt_ratio(r),
            target_label(r.def),
            r.status.label()
        );
    }
    let _ = writeln!(md, "\nReference figures ({mode}):\n");
    let _ = writeln!(md, "| Figure | Unit | Value |");
    let _ = writeln!(md, "|---|---|---:|");
    for &(key, driver, title, unit) in REFERENCE {
        let s = summarize(&raw.values(key, driver));
        let _ = writeln!(md, "| {title} | {unit} | {} |", fmt_summary(&s, unit));
    }
    let _ = writeln!(md);
    let mut misses: Vec<String> = costs
        .iter()
        .filter(|r| matches!(r.status, Status::Misses | Status::WithinSpread))
        .map(|r| {
            format!(
                "- {} (own cost): Rust/C {} against ≤ {:.2} ({})",
                r.def.title,
                fmt_cost_ratio(&r.own_ratio),
                cost::TARGET,
                r.status.label()
            )
        })
        .collect();
    misses.extend(
        rows.iter()
            .filter(|r| matches!(r.status, Status::Misses | Status::WithinSpread))
            .map(|r| {
                format!(
                    "- {}: Rust/C {} against {} ({})",
                    r.def.title,
                    fmt_ratio(r),
                    target_label(r.def),
                    r.status.label()
                )
            }),
    );
    if misses.is_empty() {
        let _ = writeln!(md, "Every figure with a target meets it.");
    } else {
        let _ = writeln!(md, "Below target:\n\n{}", misses.join("\n"));
    }
    if !raw.notes.is_empty() {
        let _ = writeln!(md, "\nNotes from the run:\n");
        for n in &raw.notes {
            let _ = writeln!(md, "- {n}");
        }
    }
    md
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

fn json_opt(v: Option<f64>) -> String {
    v.map(json_num).unwrap_or_else(|| "null".into())
}

fn json_summary(s: &Option<Summary>, samples: &[(u32, f64)]) -> String {
    let list: Vec<String> = samples
        .iter()
        .map(|&(rep, v)| format!("[{rep}, {}]", json_num(v)))
        .collect();
    match s {
        Some(s) => format!(
            "{{\"n\": {}, \"median\": {}, \"min\": {}, \"max\": {}, \"q1\": {}, \"q3\": {}, \"samples\": [{}]}}",
            s.n,
            json_num(s.median),
            json_num(s.min),
            json_num(s.max),
            json_num(s.q1),
            json_num(s.q3),
            list.join(", ")
        ),
        None => "null".into(),
    }
}

fn json_ratio(r: &Option<cost::Ratio>) -> String {
    match r {
        Some(q) => format!(
            "{{\"median\": {}, \"min\": {}, \"max\": {}}}",
            json_num(q.median),
            json_num(q.min),
            json_num(q.max)
        ),
        None => "null".into(),
    }
}

/// The fields every figure carries: mode, kernel flavour, repetitions.
fn json_context(raw: &Raw) -> String {
    format!(
        "\"mode\": {}, \"flavour\": {}, \"reps\": {}",
        json_str(raw.mode_key()),
        json_str(raw.meta("flavour")),
        raw.meta("reps")
            .parse::<u32>()
            .map_or_else(|_| "null".into(), |n| n.to_string())
    )
}

pub fn json(raw: &Raw, rows: &[Row<'_>], costs: &[CostRow<'_>]) -> String {
    let ctx = json_context(raw);
    let mut j = String::from("{\n  \"schema\": 2,\n");
    let _ = writeln!(j, "  \"mode\": {},", json_str(raw.mode_key()));
    for (k, v) in &raw.meta {
        if k == "mode" {
            continue;
        }
        let _ = writeln!(j, "  {}: {},", json_str(k), json_str(v));
    }
    let _ = writeln!(
        j,
        "  \"spread\": \"min-max over repetitions; q1/q3 are the quartiles; samples are [repetition, value]; \
         ratio is Rust/C of the medians, its min and max those of the per-repetition ratios\",\n  \"costs\": ["
    );
    for (i, r) in costs.iter().enumerate() {
        let _ = write!(
            j,
            "    {{\"id\": {}, \"figure\": {}, \"unit\": {}, {ctx}, \"better\": \"lower\", \"target\": {}, \
             \"c_key\": {}, \"rust_key\": {}, \"bare_key\": {}, \"c\": {}, \"rust\": {}, \"bare\": {}, \
             \"c_own\": {}, \"rust_own\": {}, \"ratio\": {}, \"own_ratio\": {}, \"status\": {}}}",
            json_str(r.def.id),
            json_str(r.def.title),
            json_str(cost::UNIT),
            json_opt(r.def.target),
            json_str(r.def.c_key),
            json_str(r.def.rust_key),
            json_str(r.def.bare_key),
            json_summary(&r.c, &r.c_samples),
            json_summary(&r.rust, &r.rust_samples),
            json_summary(&r.bare, &r.bare_samples),
            json_summary(&r.c_own, &r.c_own_samples),
            json_summary(&r.rust_own, &r.rust_own_samples),
            json_ratio(&r.ratio),
            json_ratio(&r.own_ratio),
            json_str(r.status.key()),
        );
        let _ = writeln!(j, "{}", if i + 1 < costs.len() { "," } else { "" });
    }
    let _ = writeln!(j, "  ],\n  \"rows\": [");
    for (i, r) in rows.iter().enumerate() {
        let ratio = r.ratio.map(|q| cost::Ratio {
            median: q,
            min: r.ratio_spread.as_ref().map_or(f64::NAN, |s| s.min),
            max: r.ratio_spread.as_ref().map_or(f64::NAN, |s| s.max),
        });
        let ratio_spread = match &r.ratio_spread {
            Some(s) => format!(
                "{{\"min\": {}, \"max\": {}}}",
                json_num(s.min),
                json_num(s.max)
            ),
            None => "null".into(),
        };
        let _ = write!(
            j,
            "    {{\"id\": {}, \"figure\": {}, \"unit\": {}, {ctx}, \"better\": {}, \"target\": {}, \
             \"c_key\": {}, \"rust_key\": {}, \"c\": {}, \"rust\": {}, \"ratio\": {}, \"ratio_spread\": {}, \"status\": {}}}",
            json_str(r.def.id),
            json_str(r.def.title),
            json_str(r.def.unit),
            json_str(if r.def.better == Better::Higher { "higher" } else { "lower" }),
            json_opt(r.def.target),
            json_str(r.def.c_key),
            json_str(r.def.rust_key),
            json_summary(&r.c, &r.c_samples),
            json_summary(&r.rust, &r.rust_samples),
            json_ratio(&ratio),
            ratio_spread,
            json_str(r.status.key()),
        );
        let _ = writeln!(j, "{}", if i + 1 < rows.len() { "," } else { "" });
    }
    let _ = writeln!(j, "  ],\n  \"reference\": [");
    for (i, &(key, driver, title, unit)) in REFERENCE.iter().enumerate() {
        let s = summarize(&raw.values(key, driver));
        let _ = write!(
            j,
            "    {{\"key\": {}, \"driver\": {}, \"figure\": {}, \"unit\": {}, {ctx}, \"value\": {}}}",
            json_str(key),
            json_str(driver),
            json_str(title),
            json_str(unit),
            json_summary(&s, raw.get(key, driver))
        );
        let _ = writeln!(j, "{}", if i + 1 < REFERENCE.len() { "," } else { "" });
    }
    let notes: Vec<String> = raw.notes.iter().map(|n| json_str(n)).collect();
    let _ = writeln!(j, "  ],\n  \"notes\": [{}]\n}}", notes.join(", "));
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str =
        "#meta accelerator TCG (software emulation)\n#meta mode icount\n#meta icount_shift 3\n\
#meta flavour release\n#meta reps 2\n#note hello \"x\"\n\
rx.private\tc\t1\t100\nrx.private\tc\t2\t110\nrx.private\trust\t1\t95\nrx.private\trust\t2\t120\n\
rx.vrrp\trust\t1\t90\nrx.vrrp\trust\t2\t91\nrx.limit\t-\t1\t500\n";

    #[test]
    fn parse_and_compute() {
        let raw = Raw::parse(RAW).unwrap();
        assert_eq!(raw.meta["accelerator"], "TCG (software emulation)");
        assert_eq!(raw.notes, vec!["hello \"x\"".to_string()]);
        let r = compute(&raw, &ROWS[0]);
        assert_eq!(r.c.as_ref().unwrap().median, 105.0);
        assert_eq!(r.rust.as_ref().unwrap().median, 107.5);
        assert!(r.ratio.unwrap() > 1.0);
        assert_eq!(r.status, Status::Meets);
        // VRRP is compared with C private.
        let v = compute(&raw, &ROWS[2]);
        assert_eq!(v.c.as_ref().unwrap().median, 105.0);
        assert_eq!(v.status, Status::Misses);
        let ratios = v.ratio_spread.unwrap();
        assert!((ratios.min - 91.0 / 110.0).abs() < 1e-9);
        // No data at all.
        assert_eq!(compute(&raw, &ROWS[3]).status, Status::NoData);
    }

    #[test]
    fn memory_is_lower_is_better() {
        let raw = Raw::parse(
            "mem.slab\tc\t1\t40\nmem.slab\tc\t2\t40\nmem.slab\trust\t1\t39\nmem.slab\trust\t2\t41\n",
        )
        .unwrap();
        let def = ROWS.iter().find(|d| d.id == "mem.slab").unwrap();
        assert_eq!(compute(&raw, def).status, Status::Meets);
        // 1.5 % above C: parity within the ±2 % of determinism.
        let raw = Raw::parse(
            "mem.slab\tc\t1\t40\nmem.slab\tc\t2\t40\nmem.slab\trust\t1\t39.6\nmem.slab\trust\t2\t41.6\n",
        )
        .unwrap();
        assert_eq!(compute(&raw, def).status, Status::Meets);
        let raw = Raw::parse(
            "mem.slab\tc\t1\t40\nmem.slab\tc\t2\t40\nmem.slab\trust\t1\t39\nmem.slab\trust\t2\t44\n",
        )
        .unwrap();
        assert_eq!(compute(&raw, def).status, Status::WithinSpread);
        let raw = Raw::parse(
            "mem.slab\tc\t1\t40\nmem.slab\tc\t2\t40\nmem.slab\trust\t1\t41\nmem.slab\trust\t2\t42\n",
        )
        .unwrap();
        assert_eq!(compute(&raw, def).status, Status::Misses);
    }

    #[test]
    fn mode_labels() {
        let old = Raw::parse("#meta accelerator KVM\n").unwrap();
        assert_eq!(old.mode_label(), "wall-clock");
        assert_eq!(old.mode_key(), "wall-clock");
        let ic = Raw::parse("#meta mode icount\n#meta icount_shift 2\n").unwrap();
        assert_eq!(ic.mode_label(), "icount (shift 2)");
        assert_eq!(ic.mode_key(), "icount");
    }

    #[test]
    fn within_spread() {
        let raw = Raw::parse(
            "rx.private\tc\t1\t100\nrx.private\tc\t2\t100\nrx.private\tc\t3\t100\n\
rx.private\trust\t1\t90\nrx.private\trust\t2\t95\nrx.private\trust\t3\t101\n",
        )
        .unwrap();
        assert_eq!(compute(&raw, &ROWS[0]).status, Status::WithinSpread);
    }

    #[test]
    fn rejects_bad_lines() {
        assert!(Raw::parse("a\tb\tc\n").is_err());
        assert!(Raw::parse("a\tc\tx\t1\n").is_err());
        assert!(Raw::parse("a\tc\t1\tx\n").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_value(284065.0, FPS), "284 k");
        assert_eq!(fmt_value(1234567.0, FPS), "1.23 M");
        assert_eq!(fmt_value(37.25, "devices/s"), "37.2");
        assert_eq!(fmt_value(43.61, "KiB"), "43.6");
        assert_eq!(fmt_value(0.0, FPS), "0");
    }

    #[test]
    fn outputs_mention_the_accelerator() {
        let raw = Raw::parse(RAW).unwrap();
        let rows: Vec<Row<'_>> = ROWS.iter().map(|d| compute(&raw, d)).collect();
        let costs: Vec<CostRow<'_>> = cost::COSTS.iter().map(|d| cost::compute(&raw, d)).collect();
        let md = markdown(&raw, &rows, &costs);
        assert!(md.contains("accelerator: TCG (software emulation)"));
        assert!(md.contains("**Mode: icount (shift 3)** · **kernel flavour: release**"));
        assert!(md.contains("(8 guest ns each)"));
        assert!(md.contains("| Unicast receive, private mode | frames/s | 105 (100–110) |"));
        // The medians of 1e9 / (100, 110) and 1e9 / (95, 120); bare 1e9 / 500.
        assert!(md.contains(
            "| Unicast receive, private mode | 9545455 (9090909–10000000) | 9429825 (8333333–10526316) | 2000000 (2000000–2000000) |"
        ));
        let js = json(&raw, &rows, &costs);
        assert!(js.contains("\"accelerator\": \"TCG (software emulation)\""));
        assert!(js.contains("\"mode\": \"icount\", \"flavour\": \"release\", \"reps\": 2"));
        assert_eq!(
            js.matches("\"mode\": \"icount\"").count(),
            1 + ROWS.len() + cost::COSTS.len() + REFERENCE.len()
        );
        assert!(js.contains("\"notes\": [\"hello \\\"x\\\"\"]"));
        // Balanced braces and brackets: a cheap well-formedness check.
        assert_eq!(js.matches('{').count(), js.matches('}').count());
        assert_eq!(js.matches('[').count(), js.matches(']').count());
    }
}
