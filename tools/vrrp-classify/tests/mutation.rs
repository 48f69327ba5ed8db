// SPDX-License-Identifier: GPL-2.0

//! Seeded mutation loop: valid IPv4 and IPv6 adverts, randomly mutated, must
//! never make the classifier panic and must be classified exactly as the
//! reference predicate says.
//!
//! `VRRP_FUZZ_SEED` (decimal, `0x` hex, or `random`) and `VRRP_FUZZ_ITERS`
//! override the seed and the number of frames. Run with `--nocapture` to
//! see the seed and the counts.

mod common;

use common::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;
use vrrp_classify::{classify, classify_frame, link_header_len, Advert, IPV4_MAX_HLEN};

const DEFAULT_SEED: u64 = 0x5652_5250_0000_0070; // "VRRP" .. 112
const DEFAULT_ITERS: u64 = 1_000_000;

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    if v.eq_ignore_ascii_case("random") {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return Some(t.as_nanos() as u64 ^ u64::from(std::process::id()));
    }
    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => v.replace('_', "").parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={v:?}: {e}")))
}

/// A random valid advert of a random family.
fn base(rng: &mut XorShift64) -> (Vec<u8>, Advert) {
    if rng.chance(1, 2) {
        let ihl = 5 + rng.below(11);
        let f = V4Frame {
            src_mac: [0x00, 0x00, 0x5e, 0x00, 0x01, rng.u8()],
            tos: rng.u8(),
            id: rng.u16(),
            frag: (rng.u16() & 0xc000),
            ttl: if rng.chance(3, 4) { 255 } else { rng.u8() },
            checksum: rng.chance(1, 8).then(|| rng.u16()),
            src: [rng.u8(), rng.u8(), rng.u8(), rng.u8()],
            options: rng.bytes((ihl - 5) * 4),
            payload: {
                let n = rng.below(48);
                rng.bytes(n)
            },
            ..V4Frame::default()
        };
        (f.build(), Advert::V4)
    } else {
        let mut src = [0u8; 16];
        src.iter_mut().for_each(|b| *b = rng.u8());
        let f = V6Frame {
            src_mac: [0x00, 0x00, 0x5e, 0x00, 0x02, rng.u8()],
            traffic_class: rng.u8(),
            flow_label: rng.next_u64() as u32,
            hop_limit: if rng.chance(3, 4) { 255 } else { rng.u8() },
            src,
            payload: {
                let n = rng.below(48);
                rng.bytes(n)
            },
            ..V6Frame::default()
        };
        (f.build(), Advert::V6)
    }
}

/// A value that is often "interesting" for a field of one byte.
fn byte_value(rng: &mut XorShift64, interesting: &[u8], old: u8) -> u8 {
    match rng.below(4) {
        0 => interesting[rng.below(interesting.len())],
        1 => old ^ (1 << rng.below(8)),
        2 => old,
        _ => rng.u8(),
    }
}

fn set(frame: &mut [u8], at: usize, v: u8) {
    if let Some(b) = frame.get_mut(at) {
        *b = v;
    }
}

fn get(frame: &[u8], at: usize) -> u8 {
    frame.get(at).copied().unwrap_or(0)
}

/// Rewrites one header field, at the IPv4 or the IPv6 offset whatever the
/// frame is.
fn rewrite_field(frame: &mut [u8], rng: &mut XorShift64) {
    match rng.below(9) {
        0 => {
            let i = rng.below(6);
            let v = byte_value(rng, &[0x01, 0x00, 0x5e, 0x33, 0x12, 0xff], get(frame, i));
            set(frame, i, v);
        }
        1 => {
            let et: u16 = match rng.below(3) {
                0 => [0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8][rng.below(5)],
                1 => u16::from_be_bytes([get(frame, 12), get(frame, 13)]) ^ (1 << rng.below(16)),
                _ => rng.u16(),
            };
            let [hi, lo] = et.to_be_bytes();
            set(frame, 12, hi);
            set(frame, 13, lo);
        }
        2 => {
            // Version nibble.
            let old = get(frame, off::L3);
            let v = [4u8, 6, rng.u8() & 0x0f][rng.below(3)];
            set(frame, off::L3, (v << 4) | (old & 0x0f));
        }
        3 => {
            // IHL nibble.
            let old = get(frame, off::L3);
            set(frame, off::L3, (old & 0xf0) | (rng.u8() & 0x0f));
        }
        4 => {
            // Flags and fragment offset.
            let v: u16 = match rng.below(4) {
                0 => 0x2000,
                1 => 1 << rng.below(16),
                2 => rng.u16() & 0xc000,
                _ => rng.u16(),
            };
            let [hi, lo] = v.to_be_bytes();
            set(frame, off::V4_FRAG, hi);
            set(frame, off::V4_FRAG + 1, lo);
        }
        5 => {
            let at = [off::V4_PROTO, off::V6_NEXT][rng.below(2)];
            let v = byte_value(rng, &[112, 0, 1, 17, 43, 44, 60, 113], get(frame, at));
            set(frame, at, v);
        }
        6 => {
            let i = rng.below(4);
            let v = byte_value(rng, &[224, 0, 18, 5, 0xff], get(frame, off::V4_DST + i));
            set(frame, off::V4_DST + i, v);
        }
        7 => {
            let i = rng.below(16);
            let v = byte_value(
                rng,
                &[0xff, 0x02, 0x12, 0x00, 0x05],
                get(frame, off::V6_DST + i),
            );
            set(frame, off::V6_DST + i, v);
        }
        _ => {
            // Relabel as the other family (or the same one) at link level.
            let (mac, et) = if rng.chance(1, 2) {
                (MAC_V4, ETHERTYPE_IPV4)
            } else {
                (MAC_V6, ETHERTYPE_IPV6)
            };
            if frame.len() >= 14 {
                frame[..6].copy_from_slice(&mac);
                frame[12..14].copy_from_slice(&et.to_be_bytes());
            }
        }
    }
}

/// Applies one random mutation.
fn mutate(frame: &mut Vec<u8>, rng: &mut XorShift64) {
    // Positions favour the headers, where the decisions are.
    let pos = |rng: &mut XorShift64, len: usize| {
        if len == 0 {
            0
        } else if rng.chance(3, 4) {
            rng.below(len.min(14 + 60))
        } else {
            rng.below(len)
        }
    };
    match rng.below(10) {
        0..=2 => {
            let at = pos(rng, frame.len());
            let bit = rng.below(8);
            if let Some(b) = frame.get_mut(at) {
                *b ^= 1 << bit;
            }
        }
        3 => {
            let at = pos(rng, frame.len());
            let v = rng.u8();
            set(frame, at, v);
        }
        4 => {
            // Truncate, often near the header boundaries.
            let n = match rng.below(3) {
                0 => rng.below(frame.len() + 1),
                1 => 14 + 20 + rng.below(41),
                _ => 14 + 40 + rng.below(3) - 1,
            };
            frame.truncate(n);
        }
        5 => {
            let n = 1 + rng.below(32);
            let more = rng.bytes(n);
            frame.extend_from_slice(&more);
        }
        6 => {
            // Insert or delete a byte: shifts everything after it.
            let at = pos(rng, frame.len());
            if rng.chance(1, 2) {
                let v = rng.u8();
                frame.insert(at.min(frame.len()), v);
            } else if at < frame.len() {
                frame.remove(at);
            }
        }
        _ => rewrite_field(frame, rng),
    }
}

#[test]
fn mutation_loop_agrees_with_reference() {
    let seed = env_u64("VRRP_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let iters = env_u64("VRRP_FUZZ_ITERS").unwrap_or(DEFAULT_ITERS);
    eprintln!("vrrp-classify mutation loop: VRRP_FUZZ_SEED={seed:#018x} VRRP_FUZZ_ITERS={iters}");

    let start = Instant::now();
    let mut rng = XorShift64::new(seed);
    let mut steered_v4 = 0u64;
    let mut steered_v6 = 0u64;
    let mut untouched = 0u64;
    let mut frame = Vec::with_capacity(256);

    for iter in 0..iters {
        let (base_frame, family) = base(&mut rng);
        frame.clear();
        frame.extend_from_slice(&base_frame);
        // About one frame in eight is left valid, as a control.
        let rounds = match rng.below(8) {
            0 => 0,
            n => 1 + (n % 4),
        };
        for _ in 0..rounds {
            mutate(&mut frame, &mut rng);
        }
        if rounds == 0 {
            untouched += 1;
        }

        let fail = |what: &str| -> ! {
            panic!(
                "{what}\n  VRRP_FUZZ_SEED={seed:#018x} iteration {iter} (rerun with \
                 VRRP_FUZZ_ITERS={}), base {family:?}, {rounds} mutation(s)\n  frame \
                 ({} bytes): {}",
                iter + 1,
                frame.len(),
                hex(&frame)
            )
        };

        let got = catch_unwind(AssertUnwindSafe(|| {
            let whole = classify_frame(&frame);
            let split = link_header_len(&frame).map(|hlen| {
                let (link, l3) = frame.split_at(hlen);
                (
                    classify(link, l3),
                    classify(link, &l3[..l3.len().min(IPV4_MAX_HLEN)]),
                )
            });
            (whole, split)
        }));
        let Ok((got, split)) = got else {
            fail("classifier panicked");
        };
        if let Some((a, b)) = split {
            if a != got || b != got {
                fail(&format!(
                    "classify_frame = {got:?} but classify = {a:?}, capped = {b:?}"
                ));
            }
        }
        let want = reference(&frame);
        if got != want {
            fail(&format!("classifier says {got:?}, reference says {want:?}"));
        }
        if rounds == 0 && got != Some(family) {
            fail("unmutated advert not steered");
        }
        match got {
            Some(Advert::V4) => steered_v4 += 1,
            Some(Advert::V6) => steered_v6 += 1,
            None => {}
        }
    }

    let steered = steered_v4 + steered_v6;
    eprintln!(
        "vrrp-classify mutation loop: {iters} frames ({untouched} unmutated controls), \
         {steered} steered ({steered_v4} v4, {steered_v6} v6), {} not steered, \
         all agreeing with the reference, in {:.2?}",
        iters - steered,
        start.elapsed()
    );
    if iters >= 10_000 {
        // The loop must exercise both outcomes well beyond the controls.
        assert!(steered_v4 > untouched / 4 && steered_v6 > untouched / 4);
        assert!(
            steered > untouched,
            "mutations never kept an advert steered"
        );
        assert!(iters - steered > iters / 4, "too few frames rejected");
    }
}
