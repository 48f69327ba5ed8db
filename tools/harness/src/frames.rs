//! Hand-built Ethernet frames: VRRPv3 advertisements (RFC 5798 / RFC 9568)
//! for IPv4 and IPv6, gratuitous ARP, and plain IPv4/UDP; and the parsers
//! that recognise them again on the receiving side.
//!
//! Every frame carries a tag (the IPv4 identification field, or the IPv6
//! flow label) so that a receiver counts only the frames of one run.

use std::net::{Ipv4Addr, Ipv6Addr};

pub const ETH_HLEN: usize = 14;
/// Every protocol (a packet tap).
pub const ETH_P_ALL: u16 = 0x0003;
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_ARP: u16 = 0x0806;
pub const ETH_P_IPV6: u16 = 0x86dd;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_VRRP: u8 = 112;
/// 224.0.0.18 and its MAC.
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
pub const VRRP_MAC_V4: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
/// ff02::12 and its MAC.
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
pub const VRRP_MAC_V6: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x12];
pub const BROADCAST: [u8; 6] = [0xff; 6];
/// VRRPv3 advertisement interval used in every advert, centiseconds.
pub const ADVERT_INTERVAL_CS: u16 = 100;

/// The Internet checksum (RFC 1071) of the concatenation of `parts`.
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = match pair {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(128);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// A 20-byte IPv4 header with its checksum.
fn ipv4_header(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ttl: u8,
    ident: u16,
    payload_len: usize,
) -> Vec<u8> {
    let total = (20 + payload_len) as u16;
    let mut h = vec![0x45, 0xc0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&ident.to_be_bytes());
    h.extend_from_slice(&[0, 0, ttl, proto, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let c = checksum(&[&h]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// A VRRPv3 advertisement: version 3, type 1, one address, checksum over
/// `pseudo` (the IPv4 or IPv6 pseudo-header, RFC 5798 section 5.2.8) and
/// the message.
fn vrrp_v3(vrid: u8, priority: u8, addr: &[u8], pseudo: impl Fn(usize) -> Vec<u8>) -> Vec<u8> {
    let mut m = vec![0x31, vrid, priority, 1];
    m.extend_from_slice(&(ADVERT_INTERVAL_CS & 0x0fff).to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(addr);
    let c = checksum(&[&pseudo(m.len()), &m]);
    m[6..8].copy_from_slice(&c.to_be_bytes());
    m
}

fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(12);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[0, proto]);
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p
}

fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(40);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&(len as u32).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, proto]);
    p
}

/// A VRRPv3 IPv4 advertisement frame from `src_mac` to 01:00:5e:00:00:12,
/// IP `src` to 224.0.0.18, TTL 255, protocol 112, IP identification `tag`.
pub fn advert_v4(
    src_mac: [u8; 6],
    src: Ipv4Addr,
    vrid: u8,
    priority: u8,
    vip: Ipv4Addr,
    tag: u16,
) -> Vec<u8> {
    let dst = VRRP_GROUP_V4;
    let vrrp = vrrp_v3(vrid, priority, &vip.octets(), |len| {
        pseudo_v4(src, dst, IPPROTO_VRRP, len)
    });
    let mut f = eth(VRRP_MAC_V4, src_mac, ETH_P_IP);
    f.extend(ipv4_header(src, dst, IPPROTO_VRRP, 255, tag, vrrp.len()));
    f.extend(vrrp);
    f
}

/// A VRRPv3 IPv6 advertisement frame from `src_mac` to 33:33:00:00:00:12,
/// IPv6 `src` (link-local) to ff02::12, hop limit 255, next header 112,
/// flow label `tag` (20 bits).
pub fn advert_v6(
    src_mac: [u8; 6],
    src: Ipv6Addr,
    vrid: u8,
    priority: u8,
    vip: Ipv6Addr,
    tag: u32,
) -> Vec<u8> {
    let dst = VRRP_GROUP_V6;
    let vrrp = vrrp_v3(vrid, priority, &vip.octets(), |len| {
        pseudo_v6(src, dst, IPPROTO_VRRP, len)
    });
    let mut f = eth(VRRP_MAC_V6, src_mac, ETH_P_IPV6);
    // version 6, traffic class 0xc0, flow label
    let first = (6u32 << 28) | (0xc0 << 20) | (tag & 0x000f_ffff);
    f.extend_from_slice(&first.to_be_bytes());
    f.extend_from_slice(&(vrrp.len() as u16).to_be_bytes());
    f.extend_from_slice(&[IPPROTO_VRRP, 255]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend(vrrp);
    f
}

/// The modified EUI-64 link-local address of a MAC (fe80::200:5eff:fe00:20a
/// for 00:00:5e:00:02:0a).
pub fn link_local(mac: [u8; 6]) -> Ipv6Addr {
    let o = [
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        mac[0] ^ 0x02,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ];
    Ipv6Addr::from(o)
}

/// A gratuitous ARP request (sender = target = `ip`) from `mac` to
/// broadcast, as a new VRRP master sends it.
pub fn gratuitous_arp(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    let mut f = eth(BROADCAST, mac, ETH_P_ARP);
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]); // Ethernet/IPv4, request
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&ip.octets());
    f
}

/// One end of an IPv4/UDP frame: (MAC, IP address, port).
pub type UdpEnd = ([u8; 6], Ipv4Addr, u16);

/// An IPv4/UDP frame from `src` to `dst` (UDP checksum 0, i.e. none), IP
/// identification `tag`.
pub fn udp_v4(src: UdpEnd, dst: UdpEnd, tag: u16, payload: &[u8]) -> Vec<u8> {
    let ((src_mac, src, sport), (dst_mac, dst, dport)) = (src, dst);
    let mut udp = Vec::with_capacity(8 + payload.len());
    udp.extend_from_slice(&sport.to_be_bytes());
    udp.extend_from_slice(&dport.to_be_bytes());
    udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut f = eth(dst_mac, src_mac, ETH_P_IP);
    f.extend(ipv4_header(src, dst, IPPROTO_UDP, 64, tag, udp.len()));
    f.extend(udp);
    f
}

/// A frame parser: Some for a recognised frame.
pub type Parser = fn(&[u8]) -> Option<Seen>;

/// What a receiver recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// IPv4 identification or IPv6 flow label.
    pub tag: u32,
    /// VRID for adverts, UDP destination port for UDP.
    pub id: u16,
}

/// A VRRP IPv4 advert, given the IPv4 header onwards (as a raw IP socket
/// reads it).
pub fn parse_advert_v4_ip(ip: &[u8]) -> Option<Seen> {
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    if ip.first()? >> 4 != 4 || ihl < 20 || ip.len() < ihl + 8 {
        return None;
    }
    if ip[9] != IPPROTO_VRRP || ip[16..20] != VRRP_GROUP_V4.octets() {
        return None;
    }
    let vrrp = &ip[ihl..];
    if vrrp[0] >> 4 != 3 || vrrp[0] & 0x0f != 1 {
        return None;
    }
    Some(Seen {
        tag: u32::from(u16::from_be_bytes([ip[4], ip[5]])),
        id: u16::from(vrrp[1]),
    })
}

fn ethertype(frame: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]))
}

/// A VRRP IPv4 advert, given the whole Ethernet frame.
pub fn parse_advert_v4(frame: &[u8]) -> Option<Seen> {
    if ethertype(frame)? != ETH_P_IP || frame[..6] != VRRP_MAC_V4 {
        return None;
    }
    parse_advert_v4_ip(&frame[ETH_HLEN..])
}

/// A VRRP IPv6 advert, given the whole Ethernet frame.
pub fn parse_advert_v6(frame: &[u8]) -> Option<Seen> {
    if ethertype(frame)? != ETH_P_IPV6 || frame[..6] != VRRP_MAC_V6 {
        return None;
    }
    let ip = frame.get(ETH_HLEN..)?;
    if ip.len() < 40 + 8 || ip[0] >> 4 != 6 || ip[6] != IPPROTO_VRRP {
        return None;
    }
    if ip[24..40] != VRRP_GROUP_V6.octets() {
        return None;
    }
    let first = u32::from_be_bytes([ip[0], ip[1], ip[2], ip[3]]);
    let vrrp = &ip[40..];
    if vrrp[0] >> 4 != 3 || vrrp[0] & 0x0f != 1 {
        return None;
    }
    Some(Seen {
        tag: first & 0x000f_ffff,
        id: u16::from(vrrp[1]),
    })
}

/// An IPv4/UDP frame; `id` is the destination port.
pub fn parse_udp_v4(frame: &[u8]) -> Option<Seen> {
    if ethertype(frame)? != ETH_P_IP {
        return None;
    }
    let ip = frame.get(ETH_HLEN..)?;
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    if ip[0] >> 4 != 4 || ihl < 20 || ip.len() < ihl + 8 || ip[9] != IPPROTO_UDP {
        return None;
    }
    Some(Seen {
        tag: u32::from(u16::from_be_bytes([ip[4], ip[5]])),
        id: u16::from_be_bytes([ip[ihl + 2], ip[ihl + 3]]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VMAC4: [u8; 6] = [0, 0, 0x5e, 0, 1, 10];
    const VMAC6: [u8; 6] = [0, 0, 0x5e, 0, 2, 10];

    #[test]
    fn link_local_is_modified_eui64() {
        let mac = [0x00, 0x00, 0x5e, 0x00, 0x02, 0x0a];
        let want: Ipv6Addr = "fe80::200:5eff:fe00:20a".parse().unwrap();
        assert_eq!(link_local(mac), want);
    }

    #[test]
    fn checksum_of_known_ipv4_header() {
        // The classic example header (Wikipedia, RFC 1071 style).
        let h: [u8; 20] = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&[&h]), 0xb861);
        // Odd lengths are padded; split parts are the same as one buffer.
        assert_eq!(checksum(&[&h[..7], &h[7..]]), 0xb861);
        assert_eq!(checksum(&[&[0xff]]), !0xff00);
    }

    #[test]
    fn v4_advert_layout_and_checksums() {
        let src = Ipv4Addr::new(192, 168, 0, 253);
        let f = advert_v4(VMAC4, src, 10, 200, Ipv4Addr::new(10, 0, 0, 2), 0x1234);
        assert_eq!(f.len(), 14 + 20 + 12);
        assert_eq!(f[..6], VRRP_MAC_V4);
        assert_eq!(f[6..12], VMAC4);
        assert_eq!(f[12..14], [0x08, 0x00]);
        let ip = &f[14..34];
        assert_eq!(ip[8], 255, "TTL");
        assert_eq!(ip[9], 112, "protocol");
        assert_eq!(ip[12..16], src.octets());
        assert_eq!(ip[16..20], [224, 0, 0, 18]);
        assert_eq!(checksum(&[ip]), 0, "IP header checksum verifies");
        let v = &f[34..];
        assert_eq!(v[..6], [0x31, 10, 200, 1, 0, 100]);
        assert_eq!(v[8..12], [10, 0, 0, 2]);
        let pseudo = pseudo_v4(src, VRRP_GROUP_V4, 112, v.len());
        assert_eq!(checksum(&[&pseudo, v]), 0, "VRRPv3 checksum verifies");
        assert_eq!(
            parse_advert_v4(&f),
            Some(Seen {
                tag: 0x1234,
                id: 10
            })
        );
        assert_eq!(
            parse_advert_v4_ip(&f[14..]),
            Some(Seen {
                tag: 0x1234,
                id: 10
            })
        );
        assert_eq!(parse_advert_v6(&f), None);
        assert_eq!(parse_udp_v4(&f), None);
    }

    #[test]
    fn v6_advert_layout_and_checksums() {
        let src = link_local(VMAC6);
        assert_eq!(src.to_string(), "fe80::200:5eff:fe00:20a");
        let vip = "fe80::1".parse().unwrap();
        let f = advert_v6(VMAC6, src, 10, 200, vip, 0xabcde);
        assert_eq!(f.len(), 14 + 40 + 8 + 16);
        assert_eq!(f[..6], VRRP_MAC_V6);
        assert_eq!(f[12..14], [0x86, 0xdd]);
        let ip = &f[14..54];
        assert_eq!(ip[0] >> 4, 6);
        assert_eq!(u16::from_be_bytes([ip[4], ip[5]]), 24, "payload length");
        assert_eq!(ip[6], 112, "next header");
        assert_eq!(ip[7], 255, "hop limit");
        assert_eq!(ip[24..40], VRRP_GROUP_V6.octets());
        let v = &f[54..];
        let pseudo = pseudo_v6(src, VRRP_GROUP_V6, 112, v.len());
        assert_eq!(checksum(&[&pseudo, v]), 0, "VRRPv3 checksum verifies");
        assert_eq!(
            parse_advert_v6(&f),
            Some(Seen {
                tag: 0xabcde,
                id: 10
            })
        );
        assert_eq!(parse_advert_v4(&f), None);
    }

    #[test]
    fn frames_match_the_kernel_classifier_rules() {
        // The same conditions src/vrrp_classify.rs checks.
        let f = advert_v4(
            VMAC4,
            Ipv4Addr::new(1, 2, 3, 4),
            1,
            100,
            Ipv4Addr::new(5, 6, 7, 8),
            1,
        );
        let ip = &f[14..];
        assert_eq!(ip[0] >> 4, 4);
        assert_eq!(
            u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff,
            0,
            "not a fragment"
        );
    }

    #[test]
    fn garp_and_udp() {
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        let g = gratuitous_arp(VMAC4, ip);
        assert_eq!(g.len(), 42);
        assert_eq!(g[..6], BROADCAST);
        assert_eq!(g[12..14], [0x08, 0x06]);
        assert_eq!(g[20..22], [0, 1], "request");
        assert_eq!(g[22..28], VMAC4);
        assert_eq!(g[28..32], ip.octets());
        assert_eq!(g[38..42], ip.octets());

        let other = [0, 0, 0x5e, 0, 1, 11];
        let u = udp_v4(
            (other, Ipv4Addr::new(10, 0, 0, 3), 4000),
            (VMAC4, ip, 7000),
            77,
            b"hi",
        );
        assert_eq!(u[..6], VMAC4);
        assert_eq!(checksum(&[&u[14..34]]), 0);
        assert_eq!(parse_udp_v4(&u), Some(Seen { tag: 77, id: 7000 }));
        assert_eq!(parse_advert_v4(&u), None);
    }

    #[test]
    fn parsers_reject_short_and_foreign_frames() {
        assert_eq!(parse_advert_v4(&[]), None);
        assert_eq!(parse_advert_v6(&[0; 13]), None);
        assert_eq!(parse_udp_v4(&[0; 20]), None);
        let mut f = advert_v4(
            VMAC4,
            Ipv4Addr::new(1, 2, 3, 4),
            1,
            100,
            Ipv4Addr::new(5, 6, 7, 8),
            1,
        );
        f[14 + 9] = 17;
        assert_eq!(parse_advert_v4(&f), None);
        assert_eq!(parse_advert_v4_ip(&f[14..20]), None);
    }
}
