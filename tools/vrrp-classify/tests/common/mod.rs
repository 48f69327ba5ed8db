// SPDX-License-Identifier: GPL-2.0

//! Test helpers shared by the test targets: frame builders, an independent
//! reference predicate written from the spec, and a small seeded PRNG.
//!
//! Nothing here calls the classifier; the constants are spelled out again on
//! purpose so that a wrong constant in the classifier cannot hide itself.

#![allow(dead_code)]

use vrrp_classify::Advert;

pub const MAC_V4: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
pub const MAC_V6: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x12];
pub const GROUP_V4: [u8; 4] = [224, 0, 0, 18];
pub const GROUP_V6: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const PROTO_VRRP: u8 = 112;
/// A VRRP-mode source MAC (00:00:5e:00:01:VRID); the classifier ignores it.
pub const SRC_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x07];

/// Offsets in the whole frame (Ethernet header included).
pub mod off {
    pub const ETH_DST: usize = 0;
    pub const ETHERTYPE: usize = 12;
    pub const L3: usize = 14;
    pub const V4_VER_IHL: usize = L3;
    pub const V4_FRAG: usize = L3 + 6;
    pub const V4_TTL: usize = L3 + 8;
    pub const V4_PROTO: usize = L3 + 9;
    pub const V4_CSUM: usize = L3 + 10;
    pub const V4_SRC: usize = L3 + 12;
    pub const V4_DST: usize = L3 + 16;
    pub const V6_VER: usize = L3;
    pub const V6_NEXT: usize = L3 + 6;
    pub const V6_HOP: usize = L3 + 7;
    pub const V6_SRC: usize = L3 + 8;
    pub const V6_DST: usize = L3 + 24;
}

/// A VRRPv3 advertisement body (RFC 9568 section 5.1); its content does not
/// matter to the classifier, it just makes the frames look real.
pub fn vrrp_payload(vrid: u8, prio: u8, addrs: &[&[u8]]) -> Vec<u8> {
    let mut p = vec![0x31, vrid, prio, addrs.len() as u8, 0x00, 100, 0, 0];
    for a in addrs {
        p.extend_from_slice(a);
    }
    p
}

/// The Internet checksum (RFC 1071) of `bytes`.
pub fn inet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Builder of an Ethernet + IPv4 frame. `V4Frame::default()` is a valid
/// VRRP advertisement.
#[derive(Clone, Debug)]
pub struct V4Frame {
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    pub ethertype: u16,
    pub version: u8,
    /// IHL nibble to write; `None` computes it from `options`.
    pub ihl: Option<u8>,
    pub tos: u8,
    pub id: u16,
    /// Flags (reserved, DF, MF) and fragment offset, as on the wire.
    pub frag: u16,
    pub ttl: u8,
    pub proto: u8,
    /// Checksum to write; `None` computes the correct one.
    pub checksum: Option<u16>,
    pub src: [u8; 4],
    pub dst: [u8; 4],
    /// Options; padded with zeros (end of options list) to a multiple of 4.
    pub options: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Default for V4Frame {
    fn default() -> Self {
        Self {
            dst_mac: MAC_V4,
            src_mac: SRC_MAC,
            ethertype: ETHERTYPE_IPV4,
            version: 4,
            ihl: None,
            tos: 0xc0,
            id: 0,
            frag: 0,
            ttl: 255,
            proto: PROTO_VRRP,
            checksum: None,
            src: [192, 0, 2, 1],
            dst: GROUP_V4,
            options: Vec::new(),
            payload: vrrp_payload(7, 100, &[&[192, 0, 2, 100]]),
        }
    }
}

impl V4Frame {
    /// A valid advert with `ihl` (5..=15) and that many option words
    /// present (NOPs).
    pub fn with_ihl(ihl: u8) -> Self {
        assert!((5..=15).contains(&ihl));
        Self {
            options: vec![1; (usize::from(ihl) - 5) * 4],
            ..Self::default()
        }
    }

    /// Length of the IP header as written (20 + padded options), regardless
    /// of what the IHL nibble says.
    pub fn header_bytes(&self) -> usize {
        20 + self.options.len().div_ceil(4) * 4
    }

    pub fn build(&self) -> Vec<u8> {
        let mut f = Vec::with_capacity(14 + 60 + self.payload.len());
        f.extend_from_slice(&self.dst_mac);
        f.extend_from_slice(&self.src_mac);
        f.extend_from_slice(&self.ethertype.to_be_bytes());
        let hlen = self.header_bytes();
        let ihl = self.ihl.unwrap_or((hlen / 4) as u8);
        let total = (hlen + self.payload.len()) as u16;
        let mut ip = Vec::with_capacity(hlen);
        ip.push((self.version << 4) | (ihl & 0x0f));
        ip.push(self.tos);
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&self.id.to_be_bytes());
        ip.extend_from_slice(&self.frag.to_be_bytes());
        ip.push(self.ttl);
        ip.push(self.proto);
        ip.extend_from_slice(&[0, 0]);
        ip.extend_from_slice(&self.src);
        ip.extend_from_slice(&self.dst);
        ip.extend_from_slice(&self.options);
        ip.resize(hlen, 0);
        let csum = self.checksum.unwrap_or_else(|| inet_checksum(&ip));
        ip[10..12].copy_from_slice(&csum.to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&self.payload);
        f
    }
}

/// One IPv6 extension header: its type (the value of the previous next
/// header field) and its body after the next-header byte.
#[derive(Clone, Debug)]
pub struct ExtHeader {
    pub kind: u8,
    pub body: Vec<u8>,
}

impl ExtHeader {
    /// An 8-byte hop-by-hop options header holding PadN.
    pub fn hop_by_hop() -> Self {
        Self {
            kind: 0,
            body: vec![0, 1, 4, 0, 0, 0, 0],
        }
    }

    /// An 8-byte destination options header holding PadN.
    pub fn dest_opts() -> Self {
        Self {
            kind: 60,
            body: vec![0, 1, 4, 0, 0, 0, 0],
        }
    }

    /// An 8-byte fragment header (offset 0, M clear: an atomic fragment).
    pub fn fragment() -> Self {
        Self {
            kind: 44,
            body: vec![0, 0, 0, 0, 0, 0, 1],
        }
    }
}

/// Builder of an Ethernet + IPv6 frame. `V6Frame::default()` is a valid
/// VRRP advertisement.
#[derive(Clone, Debug)]
pub struct V6Frame {
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    pub ethertype: u16,
    pub version: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
    /// Next header of the fixed header; with `ext` non-empty it is ignored
    /// and the chain is written instead.
    pub next_header: u8,
    pub hop_limit: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// Extension headers between the fixed header and the VRRP payload; the
    /// last one's next header is `next_header`.
    pub ext: Vec<ExtHeader>,
    pub payload: Vec<u8>,
}

impl Default for V6Frame {
    fn default() -> Self {
        Self {
            dst_mac: MAC_V6,
            src_mac: SRC_MAC,
            ethertype: ETHERTYPE_IPV6,
            version: 6,
            traffic_class: 0xc0,
            flow_label: 0,
            next_header: PROTO_VRRP,
            hop_limit: 255,
            src: [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            dst: GROUP_V6,
            ext: Vec::new(),
            payload: vrrp_payload(
                7,
                100,
                &[&[
                    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64,
                ]],
            ),
        }
    }
}

impl V6Frame {
    pub fn build(&self) -> Vec<u8> {
        let mut after = Vec::new();
        for (i, e) in self.ext.iter().enumerate() {
            let next = self.ext.get(i + 1).map_or(self.next_header, |n| n.kind);
            after.push(next);
            after.extend_from_slice(&e.body);
        }
        after.extend_from_slice(&self.payload);
        let first_next = self.ext.first().map_or(self.next_header, |e| e.kind);

        let mut f = Vec::with_capacity(14 + 40 + after.len());
        f.extend_from_slice(&self.dst_mac);
        f.extend_from_slice(&self.src_mac);
        f.extend_from_slice(&self.ethertype.to_be_bytes());
        let word = (u32::from(self.version) << 28)
            | (u32::from(self.traffic_class) << 20)
            | (self.flow_label & 0x000f_ffff);
        f.extend_from_slice(&word.to_be_bytes());
        f.extend_from_slice(&(after.len() as u16).to_be_bytes());
        f.push(first_next);
        f.push(self.hop_limit);
        f.extend_from_slice(&self.src);
        f.extend_from_slice(&self.dst);
        f.extend_from_slice(&after);
        f
    }
}

/// The spec, written as plainly as possible, on a whole frame.
///
/// IPv4: dest MAC 01:00:5e:00:00:12, ethertype 0x0800, version 4, IHL >= 5
/// with the whole header present, MF clear and offset 0, protocol 112,
/// destination 224.0.0.18. IPv6: dest MAC 33:33:00:00:00:12, ethertype
/// 0x86dd, version 6, 40 header bytes present, next header 112, destination
/// ff02::12. Nothing else (TTL, checksum, lengths, payload) matters.
pub fn reference(frame: &[u8]) -> Option<Advert> {
    if frame.len() < 14 {
        return None;
    }
    let dst_mac = &frame[0..6];
    // Up to two in-band 802.1Q/802.1ad tags after the addresses.
    let mut at = 12;
    let mut ethertype = (u16::from(frame[at]) << 8) | u16::from(frame[at + 1]);
    for _ in 0..2 {
        if ethertype != 0x8100 && ethertype != 0x88a8 {
            break;
        }
        at += 4;
        if frame.len() < at + 2 {
            return None;
        }
        ethertype = (u16::from(frame[at]) << 8) | u16::from(frame[at + 1]);
    }
    let ip = &frame[at + 2..];

    if dst_mac == MAC_V4 && ethertype == 0x0800 {
        if ip.is_empty() {
            return None;
        }
        let version = ip[0] >> 4;
        let ihl = usize::from(ip[0] & 0x0f);
        if version != 4 || ihl < 5 || ip.len() < ihl * 4 {
            return None;
        }
        let more_fragments = ip[6] & 0x20 != 0;
        let offset = (u16::from(ip[6] & 0x1f) << 8) | u16::from(ip[7]);
        if more_fragments || offset != 0 {
            return None;
        }
        if ip[9] != 112 || ip[16..20] != [224, 0, 0, 18] {
            return None;
        }
        return Some(Advert::V4);
    }

    if dst_mac == MAC_V6 && ethertype == 0x86dd {
        if ip.len() < 40 || ip[0] >> 4 != 6 || ip[6] != 112 {
            return None;
        }
        if ip[24..40] != GROUP_V6 {
            return None;
        }
        return Some(Advert::V6);
    }

    None
}

/// Hex dump of a frame, for failure messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// xorshift64* (Vigna): small, seedable, good enough for mutation choices.
#[derive(Clone, Debug)]
pub struct XorShift64(u64);

impl XorShift64 {
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so that 0 and small seeds work too.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Self(if z == 0 { 0x2545_f491_4f6c_dd1d } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn u8(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }

    pub fn u16(&mut self) -> u16 {
        (self.next_u64() >> 48) as u16
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.u8()).collect()
    }
}
