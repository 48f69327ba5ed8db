// SPDX-License-Identifier: GPL-2.0

//! Per-frame cost: guest nanoseconds per frame (1e9 / the rate in guest
//! time) for C, for ours and for the bare reference of the same path (the
//! same frames on the lower device with no macvlan module loaded), and the
//! drivers' own cost, (ours - bare) against (C - bare).
//!
//! Under icount the guest's clock counts instructions (2^shift ns each), so
//! these are instruction counts in disguise and do not move with the host's
//! load; under wall-clock they are the host's time as the guest saw it.

use crate::report::{Raw, Status};
use crate::stats::{summarize, Summary};

/// The unit of every cost figure.
pub const UNIT: &str = "ns/frame";

/// The target of the own-cost ratio: ours at most C's plus 2 %.
pub const TARGET: f64 = 1.02;

/// One path: the keys of its C, Rust and bare samples.
pub struct CostDef {
    pub id: &'static str,
    pub title: &'static str,
    /// The label in cost.svg.
    pub short: &'static str,
    pub c_key: &'static str,
    pub rust_key: &'static str,
    /// Recorded with driver `-`.
    pub bare_key: &'static str,
    /// [`TARGET`], or none for a figure shown for information.
    pub target: Option<f64>,
    /// Copies of one bare frame in a figure (the fan-out's upper devices):
    /// each copy's share of the bare path is the bare cost over this.
    pub copies: u32,
}

const fn cost(
    id: &'static str,
    title: &'static str,
    short: &'static str,
    c_key: &'static str,
    rust_key: &'static str,
    bare_key: &'static str,
) -> CostDef {
    CostDef {
        id,
        title,
        short,
        c_key,
        rust_key,
        bare_key,
        target: Some(TARGET),
        copies: 1,
    }
}

/// A fan-out path: `copies` delivered frames for each bare one.
const fn cost_fanout(
    id: &'static str,
    title: &'static str,
    short: &'static str,
    copies: u32,
) -> CostDef {
    CostDef {
        copies,
        ..cost(id, title, short, id, id, "fanout.bare")
    }
}

/// A path shown for information, with no target.
const fn cost_shown(
    id: &'static str,
    title: &'static str,
    short: &'static str,
    c_key: &'static str,
    rust_key: &'static str,
    bare_key: &'static str,
) -> CostDef {
    CostDef {
        target: None,
        ..cost(id, title, short, c_key, rust_key, bare_key)
    }
}

pub const COSTS: &[CostDef] = &[
    cost(
        "rx.private",
        "Unicast receive, private mode",
        "rx, private",
        "rx.private",
        "rx.private",
        "rx.limit",
    ),
    cost(
        "rx.bridge",
        "Unicast receive, bridge mode",
        "rx, bridge",
        "rx.bridge",
        "rx.bridge",
        "rx.limit",
    ),
    cost(
        "rx.vrrp",
        "Unicast receive, VRRP mode (C: private)",
        "rx, VRRP (C: private)",
        "rx.private",
        "rx.vrrp",
        "rx.limit",
    ),
    cost_fanout(
        "fanout.1",
        "Broadcast fan-out, 1 upper device (per delivered frame)",
        "fan-out, 1 upper (per copy)",
        1,
    ),
    cost_fanout(
        "fanout.16",
        "Broadcast fan-out, 16 upper devices (per delivered copy; bare: a frame's cost over its copies)",
        "fan-out, 16 uppers (per copy)",
        16,
    ),
    cost_fanout(
        "fanout.256",
        "Broadcast fan-out, 256 upper devices (per delivered copy; bare: a frame's cost over its copies)",
        "fan-out, 256 uppers (per copy)",
        256,
    ),
    cost(
        "advert.steered",
        "VRRP advert: Rust VRRP mode to the lower device, C private mode to the upper",
        "advert, Rust VRRP / C private",
        "advert.private.upper",
        "advert.vrrp.lower",
        "advert.bare",
    ),
    cost(
        "advert.private",
        "VRRP advert swallowed by the upper device, private mode",
        "advert, private",
        "advert.private.upper",
        "advert.private.upper",
        "advert.bare",
    ),
    cost(
        "nonadvert.vrrp",
        "Non-advert multicast from the VRRP MAC (IGMPv3 report): Rust VRRP mode, C private mode, both to the upper",
        "IGMP, Rust VRRP / C private",
        "nonadvert.private.upper",
        "nonadvert.vrrp.upper",
        "nonadvert.bare",
    ),
    cost_shown(
        "lookalike.vrrp",
        "Advert lookalike from the VRRP MAC (UDP for VRRP; no target): Rust VRRP mode, C private mode, both to the upper",
        "lookalike, Rust VRRP / C private",
        "lookalike.private.upper",
        "lookalike.vrrp.upper",
        "lookalike.bare",
    ),
    cost(
        "tx.private",
        "Transmit, private mode",
        "tx, private",
        "tx.private",
        "tx.private",
        "tx.bare",
    ),
    cost(
        "tx.bridge",
        "Transmit, bridge mode",
        "tx, bridge",
        "tx.bridge",
        "tx.bridge",
        "tx.bare",
    ),
];

/// Nanoseconds per frame at `rate` frames a second; `None` without frames.
pub fn ns_per_frame(rate: f64) -> Option<f64> {
    (rate.is_finite() && rate > 0.0).then(|| 1e9 / rate)
}

/// Samples (repetition, value) turned into nanoseconds per frame.
pub fn to_ns(samples: &[(u32, f64)]) -> Vec<(u32, f64)> {
    samples
        .iter()
        .filter_map(|&(rep, r)| ns_per_frame(r).map(|ns| (rep, ns)))
        .collect()
}

/// `f(a, b)` for every repetition present in both.
pub fn paired(a: &[(u32, f64)], b: &[(u32, f64)], f: impl Fn(f64, f64) -> f64) -> Vec<(u32, f64)> {
    a.iter()
        .filter_map(|&(rep, x)| {
            b.iter()
                .find(|&&(brep, _)| brep == rep)
                .map(|&(_, y)| (rep, f(x, y)))
        })
        .collect()
}

fn values(s: &[(u32, f64)]) -> Vec<f64> {
    s.iter().map(|&(_, v)| v).collect()
}

/// A ratio of medians with the spread of the per-repetition ratios.
#[derive(Clone, Debug, PartialEq)]
pub struct Ratio {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

fn ratio(rust: &Option<Summary>, c: &Option<Summary>, per_rep: &[(u32, f64)]) -> Option<Ratio> {
    let (r, c) = (rust.as_ref()?, c.as_ref()?);
    if c.median == 0.0 {
        return None;
    }
    let spread = summarize(&values(per_rep));
    Some(Ratio {
        median: r.median / c.median,
        min: spread.as_ref().map_or(f64::NAN, |s| s.min),
        max: spread.as_ref().map_or(f64::NAN, |s| s.max),
    })
}

/// One computed path. Every `*_samples` is (repetition, ns per frame).
pub struct CostRow<'a> {
    pub def: &'a CostDef,
    pub c: Option<Summary>,
    pub rust: Option<Summary>,
    pub bare: Option<Summary>,
    /// C - bare and Rust - bare, per repetition (the bare reference of
    /// the same repetition).
    pub c_own: Option<Summary>,
    pub rust_own: Option<Summary>,
    pub c_samples: Vec<(u32, f64)>,
    pub rust_samples: Vec<(u32, f64)>,
    pub bare_samples: Vec<(u32, f64)>,
    pub c_own_samples: Vec<(u32, f64)>,
    pub rust_own_samples: Vec<(u32, f64)>,
    /// Rust/C of the whole per-frame cost.
    pub ratio: Option<Ratio>,
    /// Rust/C of the own cost: (Rust - bare) / (C - bare).
    pub own_ratio: Option<Ratio>,
    pub status: Status,
}

pub fn compute<'a>(raw: &Raw, def: &'a CostDef) -> CostRow<'a> {
    let c_samples = to_ns(raw.get(def.c_key, "c"));
    let rust_samples = to_ns(raw.get(def.rust_key, "rust"));
    let bare_samples: Vec<(u32, f64)> = to_ns(raw.get(def.bare_key, "-"))
        .into_iter()
        .map(|(rep, ns)| (rep, ns / f64::from(def.copies)))
        .collect();
    let minus = |x: f64, y: f64| x - y;
    let c_own_samples = paired(&c_samples, &bare_samples, minus);
    let rust_own_samples = paired(&rust_samples, &bare_samples, minus);
    let (c, rust, bare) = (
        summarize(&values(&c_samples)),
        summarize(&values(&rust_samples)),
        summarize(&values(&bare_samples)),
    );
    let (c_own, rust_own) = (
        summarize(&values(&c_own_samples)),
        summarize(&values(&rust_own_samples)),
    );
    let div = |x: f64, y: f64| x / y;
    let ratio = ratio(&rust, &c, &paired(&rust_samples, &c_samples, div));
    let own_ratio = ratio_own(&rust_own, &c_own, &rust_own_samples, &c_own_samples);
    let status = match def.target {
        Some(t) => status(own_ratio.as_ref(), t),
        None if own_ratio.is_none() => Status::NoData,
        None => Status::NoTarget,
    };
    CostRow {
        def,
        c,
        rust,
        bare,
        c_own,
        rust_own,
        c_samples,
        rust_samples,
        bare_samples,
        c_own_samples,
        rust_own_samples,
        ratio,
        own_ratio,
        status,
    }
}

/// The own-cost ratio; `None` when C's own cost is not positive (the path
/// costs C nothing over the bare reference: no ratio means anything).
fn ratio_own(
    rust_own: &Option<Summary>,
    c_own: &Option<Summary>,
    rust_own_samples: &[(u32, f64)],
    c_own_samples: &[(u32, f64)],
) -> Option<Ratio> {
    if c_own.as_ref()?.median <= 0.0 {
        return None;
    }
    let per_rep: Vec<(u32, f64)> = paired(rust_own_samples, c_own_samples, |r, c| r / c)
        .into_iter()
        .filter(|&(_, q)| q.is_finite())
        .collect();
    ratio(rust_own, c_own, &per_rep)
}

/// Lower is better: meets at or under the target, "within spread" when
/// the best repetition is.
pub fn status(r: Option<&Ratio>, target: f64) -> Status {
    match r {
        None => Status::NoData,
        Some(r) if r.median <= target => Status::Meets,
        Some(r) if r.min <= target => Status::WithinSpread,
        Some(_) => Status::Misses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanoseconds() {
        assert_eq!(ns_per_frame(1e6), Some(1000.0));
        assert_eq!(ns_per_frame(250_000.0), Some(4000.0));
        assert_eq!(ns_per_frame(0.0), None);
        assert_eq!(ns_per_frame(f64::NAN), None);
        assert_eq!(to_ns(&[(1, 5e5), (2, 0.0)]), vec![(1, 2000.0)]);
    }

    #[test]
    fn pairs_by_repetition() {
        let a = [(1, 10.0), (2, 20.0), (3, 30.0)];
        let b = [(3, 3.0), (1, 1.0)];
        assert_eq!(paired(&a, &b, |x, y| x - y), vec![(1, 9.0), (3, 27.0)]);
    }

    // bare 2 µs a frame (500 k/s), C 4 µs (250 k/s), Rust 5 µs (200 k/s):
    // own costs 2 and 3 µs, own ratio 1.5; whole ratio 1.25.
    const RAW: &str = "rx.limit\t-\t1\t500000\nrx.limit\t-\t2\t500000\n\
rx.private\tc\t1\t250000\nrx.private\tc\t2\t250000\n\
rx.private\trust\t1\t200000\nrx.private\trust\t2\t250000\n";

    #[test]
    fn own_cost_and_ratios() {
        let raw = Raw::parse(RAW).unwrap();
        let r = compute(&raw, &COSTS[0]);
        assert_eq!(r.bare.as_ref().unwrap().median, 2000.0);
        assert_eq!(r.c.as_ref().unwrap().median, 4000.0);
        assert_eq!(r.rust.as_ref().unwrap().median, 4500.0);
        assert_eq!(r.c_own_samples, vec![(1, 2000.0), (2, 2000.0)]);
        assert_eq!(r.rust_own_samples, vec![(1, 3000.0), (2, 2000.0)]);
        let own = r.own_ratio.as_ref().unwrap();
        assert!((own.median - 1.25).abs() < 1e-12);
        assert_eq!((own.min, own.max), (1.0, 1.5));
        let whole = r.ratio.as_ref().unwrap();
        assert!((whole.median - 1.125).abs() < 1e-12);
        assert_eq!((whole.min, whole.max), (1.0, 1.25));
        // The best repetition reaches 1.02, the median does not.
        assert_eq!(r.status, Status::WithinSpread);
        // VRRP has no Rust samples here.
        assert_eq!(compute(&raw, &COSTS[2]).status, Status::NoData);
    }

    #[test]
    fn statuses() {
        let r = |median, min| Ratio {
            median,
            min,
            max: 2.0,
        };
        assert_eq!(status(Some(&r(1.02, 0.9)), TARGET), Status::Meets);
        assert_eq!(status(Some(&r(1.05, 1.01)), TARGET), Status::WithinSpread);
        assert_eq!(status(Some(&r(1.05, 1.03)), TARGET), Status::Misses);
        assert_eq!(status(None, TARGET), Status::NoData);
    }

    #[test]
    fn no_ratio_without_own_cost() {
        // C no dearer than bare: the own-cost ratio means nothing.
        let raw =
            Raw::parse("tx.bare\t-\t1\t100\ntx.private\tc\t1\t100\ntx.private\trust\t1\t90\n")
                .unwrap();
        let def = COSTS.iter().find(|d| d.id == "tx.private").unwrap();
        let r = compute(&raw, def);
        assert!(r.own_ratio.is_none());
        assert_eq!(r.status, Status::NoData);
        assert!(r.ratio.is_some());
    }
}
