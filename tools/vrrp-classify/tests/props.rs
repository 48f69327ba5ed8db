// SPDX-License-Identifier: GPL-2.0

//! Property tests of the classifier (proptest).

mod common;

use common::*;
use proptest::prelude::*;
use proptest::sample::select;
use vrrp_classify::{
    classify, classify_frame, is_vrrp_group_mac, link_header_len, Advert, IPV4_MAX_HLEN,
};

/// Runs the classifier both ways the driver and the tests call it and
/// returns the result; the two must agree.
fn classify_both(frame: &[u8]) -> Result<Option<Advert>, TestCaseError> {
    let whole = classify_frame(frame);
    if let Some(hlen) = link_header_len(frame) {
        let (link, l3) = frame.split_at(hlen);
        prop_assert_eq!(classify(link, l3), whole);
        let capped = &l3[..l3.len().min(IPV4_MAX_HLEN)];
        prop_assert_eq!(classify(link, capped), whole);
    }
    // The receive path's first test never turns an advert away.
    if whole.is_some() {
        let dest: [u8; 6] = frame[..6].try_into().unwrap();
        prop_assert!(is_vrrp_group_mac(&dest));
    }
    Ok(whole)
}

// ---- generators -------------------------------------------------------------

fn arb_payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}

/// Any valid IPv4 advert: random IHL with its options present, TTL, ToS, ID,
/// DF/reserved flags, checksum (right or not), addresses and payload.
fn arb_v4() -> impl Strategy<Value = V4Frame> {
    (
        5u8..=15,
        prop::collection::vec(any::<u8>(), 40),
        any::<[u8; 6]>(),
        (any::<u8>(), any::<u16>(), 0u16..4, any::<u8>()),
        any::<Option<u16>>(),
        any::<[u8; 4]>(),
        arb_payload(),
    )
        .prop_map(
            |(ihl, opts, src_mac, (tos, id, flags, ttl), checksum, src, payload)| V4Frame {
                src_mac,
                tos,
                id,
                frag: flags << 14,
                ttl,
                checksum,
                src,
                options: opts[..(usize::from(ihl) - 5) * 4].to_vec(),
                payload,
                ..V4Frame::default()
            },
        )
}

/// Any valid IPv6 advert: random traffic class, flow label, hop limit,
/// source and payload.
fn arb_v6() -> impl Strategy<Value = V6Frame> {
    (
        any::<[u8; 6]>(),
        any::<u8>(),
        any::<u32>(),
        any::<u8>(),
        any::<[u8; 16]>(),
        arb_payload(),
    )
        .prop_map(
            |(src_mac, traffic_class, flow_label, hop_limit, src, payload)| V6Frame {
                src_mac,
                traffic_class,
                flow_label,
                hop_limit,
                src,
                payload,
                ..V6Frame::default()
            },
        )
}

/// A valid advert of either family, built, with its family.
fn arb_advert() -> impl Strategy<Value = (Vec<u8>, Advert)> {
    prop_oneof![
        arb_v4().prop_map(|f| (f.build(), Advert::V4)),
        arb_v6().prop_map(|f| (f.build(), Advert::V6)),
    ]
}

/// How to change one byte: set it, or flip bits (xor 0 leaves it alone).
#[derive(Clone, Copy, Debug)]
enum Change {
    Set(u8),
    Xor(u8),
}

impl Change {
    fn apply(self, old: u8) -> u8 {
        match self {
            Change::Set(v) => v,
            Change::Xor(x) => old ^ x,
        }
    }
}

fn arb_change() -> impl Strategy<Value = Change> {
    prop_oneof![
        any::<u8>().prop_map(Change::Set),
        (0..8u32).prop_map(|b| Change::Xor(1 << b)),
        Just(Change::Xor(0)),
    ]
}

/// One rewrite of a field that decides the classification.
#[derive(Clone, Copy, Debug)]
enum Decisive {
    DstMac(usize, Change),
    Ethertype(u16),
    Version(u8),
    /// Protocol (IPv4) or next header (IPv6).
    Proto(Change),
    /// Byte `i` of the destination address.
    Group(usize, Change),
    /// New MF + fragment offset bits (IPv4 only).
    Frag(u16),
    /// New IHL below 5 (IPv4 only).
    IhlBelow5(u8),
}

fn arb_ethertype() -> impl Strategy<Value = u16> {
    prop_oneof![
        any::<u16>(),
        select(vec![
            ETHERTYPE_IPV4,
            ETHERTYPE_IPV6,
            ETHERTYPE_ARP,
            ETHERTYPE_VLAN,
            0x88a8,
        ]),
    ]
}

fn arb_decisive(family: Advert) -> BoxedStrategy<Decisive> {
    let common = prop_oneof![
        (0..6usize, arb_change()).prop_map(|(i, c)| Decisive::DstMac(i, c)),
        arb_ethertype().prop_map(Decisive::Ethertype),
        (0..16u8).prop_map(Decisive::Version),
        arb_change().prop_map(Decisive::Proto),
    ];
    match family {
        Advert::V4 => prop_oneof![
            common,
            (0..4usize, arb_change()).prop_map(|(i, c)| Decisive::Group(i, c)),
            prop_oneof![
                Just(0x2000u16),
                (0..13u32).prop_map(|b| 1u16 << b),
                0u16..0x4000
            ]
            .prop_map(Decisive::Frag),
            (0..5u8).prop_map(Decisive::IhlBelow5),
        ]
        .boxed(),
        Advert::V6 => prop_oneof![
            common,
            (0..16usize, arb_change()).prop_map(|(i, c)| Decisive::Group(i, c)),
        ]
        .boxed(),
    }
}

/// Applies `m` to a valid advert of `family`; returns whether a field value
/// changed.
fn apply_decisive(frame: &mut [u8], family: Advert, m: Decisive) -> bool {
    fn set(frame: &mut [u8], at: usize, new: u8) -> bool {
        let changed = frame[at] != new;
        frame[at] = new;
        changed
    }
    let (proto_at, group_at) = match family {
        Advert::V4 => (off::V4_PROTO, off::V4_DST),
        Advert::V6 => (off::V6_NEXT, off::V6_DST),
    };
    match m {
        Decisive::DstMac(i, c) => set(frame, off::ETH_DST + i, c.apply(frame[off::ETH_DST + i])),
        Decisive::Ethertype(v) => {
            let [hi, lo] = v.to_be_bytes();
            let a = set(frame, off::ETHERTYPE, hi);
            let b = set(frame, off::ETHERTYPE + 1, lo);
            a || b
        }
        Decisive::Version(v) => {
            let at = off::L3;
            set(frame, at, (v << 4) | (frame[at] & 0x0f))
        }
        Decisive::Proto(c) => set(frame, proto_at, c.apply(frame[proto_at])),
        Decisive::Group(i, c) => set(frame, group_at + i, c.apply(frame[group_at + i])),
        Decisive::Frag(bits) => {
            let at = off::V4_FRAG;
            let old = u16::from_be_bytes([frame[at], frame[at + 1]]);
            let new = (old & 0xc000) | (bits & 0x3fff);
            frame[at..at + 2].copy_from_slice(&new.to_be_bytes());
            new != old
        }
        Decisive::IhlBelow5(ihl) => {
            let at = off::V4_VER_IHL;
            set(frame, at, (frame[at] & 0xf0) | ihl)
        }
    }
}

/// Positions (and bit masks) of a valid advert that the classifier must
/// ignore: source MAC, ToS/traffic class, lengths, ID, DF/reserved flags,
/// TTL/hop limit, checksum, source address, options and payload.
fn ignored_bits(frame: &[u8], family: Advert) -> Vec<(usize, u8)> {
    let mut out: Vec<(usize, u8)> = (6..12).map(|i| (i, 0xff)).collect();
    let l3 = off::L3;
    match family {
        Advert::V4 => {
            let hlen = usize::from(frame[l3] & 0x0f) * 4;
            out.extend([1, 2, 3, 4, 5, 8, 10, 11].map(|i| (l3 + i, 0xff)));
            out.push((off::V4_FRAG, 0xc0));
            out.extend((12..16).map(|i| (l3 + i, 0xff)));
            out.extend((l3 + 20..l3 + hlen).map(|i| (i, 0xff)));
            out.extend((l3 + hlen..frame.len()).map(|i| (i, 0xff)));
        }
        Advert::V6 => {
            out.push((l3, 0x0f));
            out.extend([1, 2, 3, 4, 5, 7].map(|i| (l3 + i, 0xff)));
            out.extend((8..24).map(|i| (l3 + i, 0xff)));
            out.extend((l3 + 40..frame.len()).map(|i| (i, 0xff)));
        }
    }
    out
}

/// Frames built from plausible pieces, to reach the deep branches: a MAC,
/// an ethertype and a first IP byte from small sets, the rest random, often
/// with the right protocol and group patched in, at any length.
fn arb_structured() -> impl Strategy<Value = Vec<u8>> {
    let mac = prop_oneof![
        Just(MAC_V4),
        Just(MAC_V6),
        any::<[u8; 6]>(),
        (any::<bool>(), 0..6usize, 0..8u32).prop_map(|(v6, i, bit)| {
            let mut m = if v6 { MAC_V6 } else { MAC_V4 };
            m[i] ^= 1 << bit;
            m
        }),
    ];
    let first = prop_oneof![
        (0..16u8).prop_map(|ihl| 0x40 | ihl),
        Just(0x60u8),
        (0..16u8).prop_map(|tc| 0x60 | tc),
        any::<u8>(),
    ];
    (
        mac,
        arb_ethertype(),
        first,
        prop::collection::vec(any::<u8>(), 0..80),
        any::<(bool, bool, bool)>(),
        0usize..100,
    )
        .prop_map(|(mac, ethertype, first, rest, (v6, patch, frag0), cut)| {
            let mut f = Vec::with_capacity(100);
            f.extend_from_slice(&mac);
            f.extend_from_slice(&SRC_MAC);
            f.extend_from_slice(&ethertype.to_be_bytes());
            f.push(first);
            f.extend_from_slice(&rest);
            f.resize(f.len().max(14 + 60), 0x5a);
            if patch {
                if v6 {
                    f[off::V6_NEXT] = PROTO_VRRP;
                    f[off::V6_DST..off::V6_DST + 16].copy_from_slice(&GROUP_V6);
                } else {
                    f[off::V4_PROTO] = PROTO_VRRP;
                    f[off::V4_DST..off::V4_DST + 4].copy_from_slice(&GROUP_V4);
                    if frag0 {
                        f[off::V4_FRAG] &= 0xc0;
                        f[off::V4_FRAG + 1] = 0;
                    }
                }
            }
            f.truncate(cut);
            f
        })
}

/// An edit of a near-valid frame.
#[derive(Clone, Debug)]
enum Edit {
    SetByte(usize, u8),
    FlipBit(usize, u8),
    Truncate(usize),
    Extend(Vec<u8>),
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (0..80usize, any::<u8>()).prop_map(|(i, v)| Edit::SetByte(i, v)),
        4 => (0..80usize, 0..8u8).prop_map(|(i, b)| Edit::FlipBit(i, b)),
        1 => (0..120usize).prop_map(Edit::Truncate),
        1 => prop::collection::vec(any::<u8>(), 0..16).prop_map(Edit::Extend),
    ]
}

fn apply_edit(frame: &mut Vec<u8>, e: &Edit) {
    match *e {
        Edit::SetByte(i, v) => {
            if let Some(b) = frame.get_mut(i) {
                *b = v;
            }
        }
        Edit::FlipBit(i, bit) => {
            if let Some(b) = frame.get_mut(i) {
                *b ^= 1 << bit;
            }
        }
        Edit::Truncate(n) => frame.truncate(n),
        Edit::Extend(ref more) => frame.extend_from_slice(more),
    }
}

// ---- properties -------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// (a) Arbitrary bytes never make it panic, whichever way it is called.
    #[test]
    fn arbitrary_bytes_never_panic(
        frame in prop::collection::vec(any::<u8>(), 0..200),
        split in 0usize..200,
    ) {
        let _ = classify_frame(&frame);
        let split = split.min(frame.len());
        let (eth, l3) = frame.split_at(split);
        let _ = classify(eth, l3);
        let _ = classify(l3, eth);
        let _ = classify(&[], &frame);
        let _ = classify(&frame, &[]);
    }

    /// (b) Every valid advert is steered, with the right family.
    #[test]
    fn valid_adverts_are_steered((frame, family) in arb_advert()) {
        prop_assert_eq!(classify_both(&frame)?, Some(family));
        prop_assert_eq!(reference(&frame), Some(family));
    }

    /// Behind in-band 802.1Q/802.1ad tags (as a VLAN device with
    /// `reorder_hdr off` leaves them), a valid advert is steered with up to
    /// two tags and not with three, whatever the tags' TCI.
    #[test]
    fn tagged_adverts_are_steered_up_to_two_tags(
        (frame, family) in arb_advert(),
        tags in prop::collection::vec((select(vec![0x8100u16, 0x88a8]), any::<u16>()), 1..=3),
    ) {
        let mut tagged = frame[..12].to_vec();
        for (tpid, tci) in &tags {
            tagged.extend_from_slice(&tpid.to_be_bytes());
            tagged.extend_from_slice(&tci.to_be_bytes());
        }
        tagged.extend_from_slice(&frame[12..]);
        let want = if tags.len() <= 2 { Some(family) } else { None };
        prop_assert_eq!(classify_both(&tagged)?, want, "{}", hex(&tagged));
        prop_assert_eq!(reference(&tagged), want);
    }

    /// (c) Changing one decisive field of a valid advert un-steers it,
    /// unless the field kept its value.
    #[test]
    fn decisive_field_mutation_unsteers(
        (frame, family, m) in arb_advert().prop_flat_map(|(f, fam)| {
            (Just(f), Just(fam), arb_decisive(fam))
        })
    ) {
        let mut frame = frame;
        let changed = apply_decisive(&mut frame, family, m);
        let got = classify_both(&frame)?;
        if changed {
            prop_assert_eq!(got, None, "{:?} on {}", m, hex(&frame));
        } else {
            prop_assert_eq!(got, Some(family), "no-op {:?} on {}", m, hex(&frame));
        }
    }

    /// Changing anything the classifier leaves to the daemon keeps it steered.
    #[test]
    fn ignored_field_mutation_keeps_steering(
        (frame, family) in arb_advert(),
        pick in any::<prop::sample::Index>(),
        x in 1u8..=255,
    ) {
        let mut frame = frame;
        let bits = ignored_bits(&frame, family);
        let (at, mask) = bits[pick.index(bits.len())];
        frame[at] ^= x & mask;
        prop_assert_eq!(classify_both(&frame)?, Some(family), "byte {} on {}", at, hex(&frame));
    }

    /// (d) Agreement with the reference predicate on arbitrary bytes...
    #[test]
    fn agrees_with_reference_arbitrary(frame in prop::collection::vec(any::<u8>(), 0..120)) {
        prop_assert_eq!(classify_both(&frame)?, reference(&frame));
    }

    /// ...on frames assembled from plausible pieces...
    #[test]
    fn agrees_with_reference_structured(frame in arb_structured()) {
        prop_assert_eq!(classify_both(&frame)?, reference(&frame), "{}", hex(&frame));
    }

    /// ...and on valid adverts after a few random edits.
    #[test]
    fn agrees_with_reference_near_valid(
        (frame, _family) in arb_advert(),
        edits in prop::collection::vec(arb_edit(), 0..4),
    ) {
        let mut frame = frame;
        for e in &edits {
            apply_edit(&mut frame, e);
        }
        prop_assert_eq!(classify_both(&frame)?, reference(&frame), "{:?} -> {}", edits, hex(&frame));
    }
}
