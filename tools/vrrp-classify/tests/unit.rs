// SPDX-License-Identifier: GPL-2.0

//! Unit tests of the classifier on hand-built frames.

mod common;

use common::*;
use vrrp_classify::{
    classify, classify_frame, link_header_len, Advert, ETH_HLEN, IPV4_MAX_HLEN, MAX_INSPECT_LEN,
};

/// Classifies `frame` through both entry points, the way the kernel calls
/// `classify` (network header bytes capped at `IPV4_MAX_HLEN`), and checks
/// that they and the reference predicate agree.
fn check(frame: &[u8]) -> Option<Advert> {
    let whole = classify_frame(frame);
    if let Some(hlen) = link_header_len(frame) {
        let (link, l3) = frame.split_at(hlen);
        assert_eq!(classify(link, l3), whole, "classify vs classify_frame");
        let capped = &l3[..l3.len().min(IPV4_MAX_HLEN)];
        assert_eq!(classify(link, capped), whole, "l3 capped at IPV4_MAX_HLEN");
    }
    assert_eq!(
        reference(frame),
        whole,
        "reference vs classifier on {}",
        hex(frame)
    );
    whole
}

fn steered(frame: &[u8]) -> bool {
    check(frame).is_some()
}

// ---- valid adverts ----------------------------------------------------------

#[test]
fn valid_v4_advert() {
    assert_eq!(check(&V4Frame::default().build()), Some(Advert::V4));
}

#[test]
fn valid_v6_advert() {
    assert_eq!(check(&V6Frame::default().build()), Some(Advert::V6));
}

#[test]
fn valid_v4_with_options_every_ihl() {
    for ihl in 5..=15 {
        let f = V4Frame::with_ihl(ihl).build();
        assert_eq!(f[off::V4_VER_IHL], 0x40 | ihl);
        assert_eq!(check(&f), Some(Advert::V4), "IHL {ihl}");
    }
}

#[test]
fn valid_v4_with_router_alert_option() {
    let f = V4Frame {
        options: vec![0x94, 0x04, 0x00, 0x00],
        ..V4Frame::default()
    }
    .build();
    assert_eq!(f[off::V4_VER_IHL], 0x46);
    assert_eq!(check(&f), Some(Advert::V4));
}

#[test]
fn header_only_frames_are_steered() {
    // The payload is the daemon's business; an empty one still classifies.
    let v4 = V4Frame {
        payload: Vec::new(),
        ..V4Frame::with_ihl(15)
    };
    assert_eq!(check(&v4.build()), Some(Advert::V4));
    let v6 = V6Frame {
        payload: Vec::new(),
        ..V6Frame::default()
    };
    assert_eq!(check(&v6.build()), Some(Advert::V6));
}

#[test]
fn link_header_is_exactly_ethernet_and_tags() {
    // The kernel hands over the bytes from the MAC header to the network
    // header; a longer slice is not a link header.
    let f = V4Frame::default().build();
    assert_eq!(classify(&f[..ETH_HLEN], &f[ETH_HLEN..]), Some(Advert::V4));
    assert_eq!(classify(&f, &f[ETH_HLEN..]), None);
    assert_eq!(MAX_INSPECT_LEN, ETH_HLEN + 2 * 4 + IPV4_MAX_HLEN);
}

// ---- truncation -------------------------------------------------------------

fn check_truncations(frame: &[u8], needed: usize, family: Advert) {
    for len in 0..=frame.len() {
        let got = check(&frame[..len]);
        let want = (len >= needed).then_some(family);
        assert_eq!(
            got,
            want,
            "length {len} of {} (needs {needed})",
            frame.len()
        );
    }
}

#[test]
fn truncated_v4_every_length_every_ihl() {
    for ihl in 5..=15u8 {
        let f = V4Frame::with_ihl(ihl).build();
        check_truncations(&f, ETH_HLEN + usize::from(ihl) * 4, Advert::V4);
    }
}

#[test]
fn truncated_v6_every_length() {
    check_truncations(&V6Frame::default().build(), ETH_HLEN + 40, Advert::V6);
}

#[test]
fn short_eth_slice_is_not_steered() {
    let f = V4Frame::default().build();
    for n in 0..ETH_HLEN {
        assert_eq!(classify(&f[..n], &f[ETH_HLEN..]), None, "eth of {n} bytes");
    }
}

// ---- IHL --------------------------------------------------------------------

#[test]
fn ihl_below_five() {
    for ihl in 0..5 {
        let f = V4Frame {
            ihl: Some(ihl),
            ..V4Frame::default()
        }
        .build();
        assert!(!steered(&f), "IHL {ihl}");
    }
}

#[test]
fn ihl_larger_than_bytes_available() {
    // The nibble claims more header than the frame has: no payload, fewer
    // option bytes than the IHL says.
    for ihl in 6..=15u8 {
        for present in 5..ihl {
            let f = V4Frame {
                ihl: Some(ihl),
                payload: Vec::new(),
                ..V4Frame::with_ihl(present)
            }
            .build();
            assert_eq!(f.len(), ETH_HLEN + usize::from(present) * 4);
            assert!(!steered(&f), "IHL {ihl} with {present} words present");
        }
    }
}

#[test]
fn ihl_covered_by_payload_bytes_is_steered() {
    // Same header-only-by-IHL idea, but bytes follow: then the header (as
    // the IHL defines it) is present, and the classifier does not look at
    // option contents.
    let f = V4Frame {
        ihl: Some(15),
        payload: vec![0; 40],
        ..V4Frame::default()
    }
    .build();
    assert!(steered(&f));
}

// ---- fragments --------------------------------------------------------------

#[test]
fn more_fragments_set() {
    let f = V4Frame {
        frag: 0x2000,
        ..V4Frame::default()
    }
    .build();
    assert!(!steered(&f));
}

#[test]
fn fragment_offset_nonzero() {
    for frag in [0x0001, 0x0100, 0x1000, 0x1fff, 0x2001, 0x4001, 0x8001] {
        let f = V4Frame {
            frag,
            ..V4Frame::default()
        }
        .build();
        assert!(!steered(&f), "frag field {frag:#06x}");
    }
}

#[test]
fn df_and_reserved_flag_do_not_matter() {
    for frag in [0x4000, 0x8000, 0xc000] {
        let f = V4Frame {
            frag,
            ..V4Frame::default()
        }
        .build();
        assert!(steered(&f), "frag field {frag:#06x}");
    }
}

// ---- protocol and group -----------------------------------------------------

#[test]
fn other_protocol_v4() {
    for proto in [0, 1, 2, 6, 17, 51, 89, 111, 113, 255] {
        let f = V4Frame {
            proto,
            ..V4Frame::default()
        }
        .build();
        assert!(!steered(&f), "protocol {proto}");
    }
}

#[test]
fn other_next_header_v6() {
    for next_header in [6, 17, 58, 59, 111, 113] {
        let f = V6Frame {
            next_header,
            ..V6Frame::default()
        }
        .build();
        assert!(!steered(&f), "next header {next_header}");
    }
}

#[test]
fn other_group_v4() {
    for dst in [
        [224, 0, 0, 5],
        [224, 0, 0, 1],
        [224, 0, 0, 19],
        [225, 0, 0, 18],
        [239, 0, 0, 18],
        [192, 0, 2, 18],
        [255, 255, 255, 255],
    ] {
        let f = V4Frame {
            dst,
            ..V4Frame::default()
        }
        .build();
        assert!(!steered(&f), "destination {dst:?}");
    }
}

#[test]
fn other_group_v6() {
    let mut ospf = GROUP_V6;
    ospf[15] = 0x05;
    let mut site = GROUP_V6;
    site[1] = 0x05;
    let mut solicited = GROUP_V6;
    solicited[11] = 0x01;
    for dst in [ospf, site, solicited, [0; 16]] {
        let f = V6Frame {
            dst,
            ..V6Frame::default()
        }
        .build();
        assert!(!steered(&f), "destination {dst:02x?}");
    }
}

// ---- link layer -------------------------------------------------------------

#[test]
fn wrong_dest_mac_with_right_ip() {
    let macs = [
        [0xff; 6],
        [0x01, 0x00, 0x5e, 0x00, 0x00, 0x05],
        [0x01, 0x00, 0x5e, 0x00, 0x00, 0x13],
        [0x01, 0x00, 0x5e, 0x80, 0x00, 0x12],
        [0x33, 0x33, 0x00, 0x00, 0x00, 0x05],
        [0x33, 0x33, 0xff, 0x00, 0x00, 0x12],
        [0x00, 0x00, 0x5e, 0x00, 0x01, 0x07],
    ];
    for dst_mac in macs {
        let v4 = V4Frame {
            dst_mac,
            ..V4Frame::default()
        };
        assert!(!steered(&v4.build()), "v4 to {dst_mac:02x?}");
        let v6 = V6Frame {
            dst_mac,
            ..V6Frame::default()
        };
        assert!(!steered(&v6.build()), "v6 to {dst_mac:02x?}");
    }
    // Each family's MAC with the other family's packet.
    let v4 = V4Frame {
        dst_mac: MAC_V6,
        ..V4Frame::default()
    };
    assert!(!steered(&v4.build()));
    let v6 = V6Frame {
        dst_mac: MAC_V4,
        ..V6Frame::default()
    };
    assert!(!steered(&v6.build()));
}

#[test]
fn right_mac_wrong_ethertype() {
    for ethertype in [
        ETHERTYPE_ARP,
        ETHERTYPE_VLAN,
        0x88a8,
        0x8035,
        0x0000,
        0x0046,
    ] {
        let v4 = V4Frame {
            ethertype,
            ..V4Frame::default()
        };
        assert!(!steered(&v4.build()), "v4 under {ethertype:#06x}");
        let v6 = V6Frame {
            ethertype,
            ..V6Frame::default()
        };
        assert!(!steered(&v6.build()), "v6 under {ethertype:#06x}");
    }
}

/// `frame` with in-band tags of the given TPIDs inserted after the MAC
/// addresses, as a VLAN device with `reorder_hdr off` leaves them.
fn tagged(frame: &[u8], tpids: &[u16]) -> Vec<u8> {
    let mut f = frame.to_vec();
    for (i, tpid) in tpids.iter().enumerate() {
        let at = 12 + 4 * i;
        let tci = 100 + i as u16;
        let mut tag = tpid.to_be_bytes().to_vec();
        tag.extend_from_slice(&tci.to_be_bytes());
        f.splice(at..at, tag);
    }
    f
}

#[test]
fn advert_behind_in_band_tags_is_steered() {
    // reorder_hdr off: the VLAN device put its tag back into the frame.
    for tpids in [&[ETHERTYPE_VLAN][..], &[0x88a8], &[0x88a8, ETHERTYPE_VLAN]] {
        let v4 = tagged(&V4Frame::default().build(), tpids);
        assert_eq!(link_header_len(&v4), Some(ETH_HLEN + 4 * tpids.len()));
        assert_eq!(check(&v4), Some(Advert::V4), "v4 behind {tpids:04x?}");
        let v6 = tagged(&V6Frame::default().build(), tpids);
        assert_eq!(check(&v6), Some(Advert::V6), "v6 behind {tpids:04x?}");
    }
}

#[test]
fn three_in_band_tags_are_not_read_past() {
    let f = tagged(
        &V4Frame::default().build(),
        &[0x88a8, ETHERTYPE_VLAN, ETHERTYPE_VLAN],
    );
    assert!(!steered(&f));
    // Nor when the caller hands all three tags over as the link header.
    let (link, l3) = f.split_at(ETH_HLEN + 12);
    assert_eq!(classify(link, l3), None);
}

#[test]
fn tagged_non_advert_is_not_steered() {
    let arp = V4Frame {
        ethertype: ETHERTYPE_ARP,
        ..V4Frame::default()
    };
    assert!(!steered(&tagged(&arp.build(), &[ETHERTYPE_VLAN])));
    let wrong_group = V4Frame {
        dst: [224, 0, 0, 5],
        ..V4Frame::default()
    };
    assert!(!steered(&tagged(&wrong_group.build(), &[ETHERTYPE_VLAN])));
}

#[test]
fn link_header_must_be_ethernet_and_whole_tags() {
    let f = tagged(&V4Frame::default().build(), &[ETHERTYPE_VLAN]);
    let l3 = &f[ETH_HLEN + 4..];
    // A tag cut short, or a link header that is not a tag after Ethernet.
    assert_eq!(classify(&f[..ETH_HLEN + 2], l3), None);
    assert_eq!(classify(&f[..ETH_HLEN - 1], l3), None);
    let mut not_a_tag = f[..ETH_HLEN + 4].to_vec();
    not_a_tag[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    assert_eq!(classify(&not_a_tag, l3), None);
    // The untagged header with the tag's bytes still in front of the IP
    // header is not an advert either.
    assert_eq!(classify(&f[..ETH_HLEN], &f[ETH_HLEN..]), None);
}

#[test]
fn source_mac_is_not_the_classifiers_business() {
    for src_mac in [[0; 6], [0xff; 6], [0x02, 0, 0, 0, 0, 1]] {
        let v4 = V4Frame {
            src_mac,
            ..V4Frame::default()
        };
        assert!(steered(&v4.build()));
        let v6 = V6Frame {
            src_mac,
            ..V6Frame::default()
        };
        assert!(steered(&v6.build()));
    }
}

// ---- version mismatch -------------------------------------------------------

#[test]
fn v6_header_under_ipv4_ethertype() {
    let f = V6Frame {
        dst_mac: MAC_V4,
        ethertype: ETHERTYPE_IPV4,
        ..V6Frame::default()
    }
    .build();
    assert!(!steered(&f));
}

#[test]
fn v4_header_under_ipv6_ethertype() {
    // Long payload so that 40 bytes are there and only the version decides.
    let f = V4Frame {
        dst_mac: MAC_V6,
        ethertype: ETHERTYPE_IPV6,
        payload: vec![0; 64],
        ..V4Frame::default()
    }
    .build();
    assert!(f.len() >= ETH_HLEN + 40);
    assert!(!steered(&f));
}

#[test]
fn other_version_nibbles() {
    for version in (0..16).filter(|&v| v != 4) {
        let f = V4Frame {
            version,
            ..V4Frame::default()
        };
        assert!(!steered(&f.build()), "v4 frame with version {version}");
    }
    for version in (0..16).filter(|&v| v != 6) {
        let f = V6Frame {
            version,
            ..V6Frame::default()
        };
        assert!(!steered(&f.build()), "v6 frame with version {version}");
    }
}

// ---- IPv6 extension headers -------------------------------------------------

#[test]
fn v6_hop_by_hop_before_vrrp_is_not_steered() {
    let f = V6Frame {
        ext: vec![ExtHeader::hop_by_hop()],
        ..V6Frame::default()
    }
    .build();
    assert_eq!(f[off::V6_NEXT], 0);
    assert_eq!(f[ETH_HLEN + 40], PROTO_VRRP);
    assert!(!steered(&f));
}

#[test]
fn v6_other_extension_chains_are_not_steered() {
    for ext in [
        vec![ExtHeader::dest_opts()],
        vec![ExtHeader::fragment()],
        vec![ExtHeader::hop_by_hop(), ExtHeader::dest_opts()],
    ] {
        let f = V6Frame {
            ext: ext.clone(),
            ..V6Frame::default()
        }
        .build();
        assert!(!steered(&f), "chain {ext:?}");
    }
}

// ---- fields left to the daemon ----------------------------------------------

#[test]
fn ttl_other_than_255_still_steered() {
    // Documented choice: RFC 5798 says to discard TTL != 255, but that is
    // the daemon's check, so that it can count and log it.
    for ttl in [0, 1, 64, 128, 254] {
        let f = V4Frame {
            ttl,
            ..V4Frame::default()
        };
        assert!(steered(&f.build()), "TTL {ttl}");
    }
    for hop_limit in [0, 1, 64, 254] {
        let f = V6Frame {
            hop_limit,
            ..V6Frame::default()
        };
        assert!(steered(&f.build()), "hop limit {hop_limit}");
    }
}

#[test]
fn bad_checksum_still_steered() {
    let good = V4Frame::default().build();
    let csum = u16::from_be_bytes([good[off::V4_CSUM], good[off::V4_CSUM + 1]]);
    assert_eq!(inet_checksum(&good[ETH_HLEN..ETH_HLEN + 20]), 0);
    for checksum in [0, 0xffff, csum ^ 1] {
        let f = V4Frame {
            checksum: Some(checksum),
            ..V4Frame::default()
        };
        assert!(steered(&f.build()), "checksum {checksum:#06x}");
    }
}

#[test]
fn lengths_tos_id_and_payload_are_not_checked() {
    let mut f = V4Frame {
        tos: 0,
        id: 0xbeef,
        payload: vec![0xaa; 3],
        ..V4Frame::default()
    }
    .build();
    f[ETH_HLEN + 2] = 0; // total length 0
    f[ETH_HLEN + 3] = 0;
    assert!(steered(&f));
    let mut f = V6Frame {
        traffic_class: 0,
        flow_label: 0xfffff,
        payload: vec![0x55; 1],
        ..V6Frame::default()
    }
    .build();
    f[ETH_HLEN + 4] = 0xff; // payload length 0xffff
    f[ETH_HLEN + 5] = 0xff;
    assert!(steered(&f));
}
