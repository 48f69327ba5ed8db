// SPDX-License-Identifier: GPL-2.0

//! VRRP advertisement classifier.
//!
//! Decides whether a received Ethernet frame is a VRRP advertisement
//! (RFC 3768 for IPv4, RFC 5798/9568 for IPv4 and IPv6) by its headers only.
//! TTL, checksum and the VRRP payload are the daemon's to validate.
//!
//! This file is shared: the kernel module compiles it as a module, and the
//! userspace crate `tools/vrrp-classify` compiles the same file for unit
//! tests, property tests and a mutation loop. It must stay `no_std`, free of
//! allocation and free of panics: every access goes through `get()`.

/// Ethernet header length.
pub const ETH_HLEN: usize = 14;
/// Longest IPv4 header (IHL 15).
pub const IPV4_MAX_HLEN: usize = 60;
/// Fixed IPv6 header length.
pub const IPV6_HLEN: usize = 40;
/// Bytes of a frame the classifier may look at: Ethernet plus the longest
/// network header it examines.
pub const MAX_INSPECT_LEN: usize = ETH_HLEN + IPV4_MAX_HLEN;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// 224.0.0.18, the IPv4 VRRP group.
pub const VRRP_GROUP_V4: [u8; 4] = [224, 0, 0, 18];
/// ff02::12, the IPv6 VRRP group.
pub const VRRP_GROUP_V6: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
/// Multicast MAC of 224.0.0.18.
pub const VRRP_MAC_V4: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
/// Multicast MAC of ff02::12.
pub const VRRP_MAC_V6: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x12];

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const IP_MF: u16 = 0x2000;
const IP_OFFSET: u16 = 0x1fff;

/// The address family of a VRRP advertisement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advert {
    /// IPv4 protocol 112 to 224.0.0.18.
    V4,
    /// IPv6 next header 112 to ff02::12.
    V6,
}

/// Returns the first `N` bytes of `bytes` from `at`, if they are all there.
fn array_at<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    let end = at.checked_add(N)?;
    let mut out = [0u8; N];
    out.copy_from_slice(bytes.get(at..end)?);
    Some(out)
}

fn be16_at(bytes: &[u8], at: usize) -> Option<u16> {
    array_at::<2>(bytes, at).map(u16::from_be_bytes)
}

/// Classifies a frame given its Ethernet header and the start of its
/// network header.
///
/// `eth` is the 14-byte Ethernet header. `l3` holds the bytes that follow it,
/// as many as the frame has up to [`IPV4_MAX_HLEN`]. The caller has already
/// established that the source MAC belongs to a local VRRP-mode device; this
/// function looks at everything else.
///
/// Returns the family of the advertisement, or `None` for anything that is
/// not a well-formed VRRP advertisement header.
pub fn classify(eth: &[u8], l3: &[u8]) -> Option<Advert> {
    let dest = array_at::<6>(eth, 0)?;
    match be16_at(eth, 12)? {
        ETH_P_IP if dest == VRRP_MAC_V4 => classify_v4(l3),
        ETH_P_IPV6 if dest == VRRP_MAC_V6 => classify_v6(l3),
        _ => None,
    }
}

/// Classifies a contiguous frame, Ethernet header first.
pub fn classify_frame(frame: &[u8]) -> Option<Advert> {
    let eth = frame.get(..ETH_HLEN)?;
    let l3 = frame.get(ETH_HLEN..)?;
    classify(eth, l3)
}

fn classify_v4(ip: &[u8]) -> Option<Advert> {
    let version_ihl = *ip.first()?;
    if version_ihl >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(version_ihl & 0x0f) * 4;
    // IHL below 5 is malformed; the whole header, options included, must be there.
    if header_len < 20 || ip.len() < header_len {
        return None;
    }
    let frag = be16_at(ip, 6)?;
    if frag & (IP_MF | IP_OFFSET) != 0 {
        return None;
    }
    if *ip.get(9)? != IPPROTO_VRRP {
        return None;
    }
    if array_at::<4>(ip, 16)? != VRRP_GROUP_V4 {
        return None;
    }
    Some(Advert::V4)
}

fn classify_v6(ip: &[u8]) -> Option<Advert> {
    if ip.len() < IPV6_HLEN || *ip.first()? >> 4 != 6 {
        return None;
    }
    // Only a VRRP header right after the fixed header counts; see
    // Documentation/macvlan-vrrp.rst on extension headers.
    if *ip.get(6)? != IPPROTO_VRRP {
        return None;
    }
    if array_at::<16>(ip, 24)? != VRRP_GROUP_V6 {
        return None;
    }
    Some(Advert::V6)
}
