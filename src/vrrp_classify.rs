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
/// Length of an 802.1Q or 802.1ad tag.
pub const VLAN_HLEN: usize = 4;
/// In-band tags the classifier reads past: a VLAN device with `reorder_hdr
/// off` leaves its own tag in the frame, and an 802.1ad device under it one
/// more.
pub const MAX_VLAN_TAGS: usize = 2;
/// Longest link-layer header the classifier accepts: Ethernet and
/// [`MAX_VLAN_TAGS`] tags.
pub const MAX_LINK_HLEN: usize = ETH_HLEN + MAX_VLAN_TAGS * VLAN_HLEN;
/// Bytes of a frame the classifier may look at: the longest link-layer
/// header plus the longest network header it examines.
pub const MAX_INSPECT_LEN: usize = MAX_LINK_HLEN + IPV4_MAX_HLEN;

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
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
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

/// Whether `dest` is the multicast MAC of an IPv4 or IPv6 VRRP group: a
/// frame to any other destination is no advertisement ([`classify`] says
/// the same, later). The receive path tests this first, so that the
/// multicast a VRRP MAC sends besides adverts (IGMP and MLD reports, ARP)
/// costs two comparisons.
#[inline]
pub fn is_vrrp_group_mac(dest: &[u8; 6]) -> bool {
    *dest == VRRP_MAC_V4 || *dest == VRRP_MAC_V6
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

/// Classifies a frame given its link-layer header and the start of its
/// network header.
///
/// `link` is everything from the MAC header to the network header: the
/// 14-byte Ethernet header, followed by the 802.1Q/802.1ad tags that were
/// left in the frame (up to [`MAX_VLAN_TAGS`]; a VLAN device with `reorder_hdr
/// off` puts its tag back before the frame reaches its upper devices). `l3`
/// holds the bytes that follow, as many as the frame has up to
/// [`IPV4_MAX_HLEN`]. The caller has already established that the source MAC
/// belongs to a local VRRP-mode device and that no tag is held outside the
/// frame (in skb metadata, for a VLAN that has no device here); this
/// function looks at everything else.
///
/// Returns the family of the advertisement, or `None` for anything that is
/// not a well-formed VRRP advertisement header.
pub fn classify(link: &[u8], l3: &[u8]) -> Option<Advert> {
    let dest = array_at::<6>(link, 0)?;
    match inner_ethertype(link)? {
        ETH_P_IP if dest == VRRP_MAC_V4 => classify_v4(l3),
        ETH_P_IPV6 if dest == VRRP_MAC_V6 => classify_v6(l3),
        _ => None,
    }
}

/// The ethertype after the in-band tags of `link`, if `link` is exactly an
/// Ethernet header and its tags.
fn inner_ethertype(link: &[u8]) -> Option<u16> {
    if link.len() > MAX_LINK_HLEN {
        return None;
    }
    let mut at = ETH_HLEN - 2;
    let mut ethertype = be16_at(link, at)?;
    while at + 2 < link.len() {
        if ethertype != ETH_P_8021Q && ethertype != ETH_P_8021AD {
            return None;
        }
        at += VLAN_HLEN;
        ethertype = be16_at(link, at)?;
    }
    (at + 2 == link.len()).then_some(ethertype)
}

/// Length of the link-layer header of a contiguous frame: Ethernet and the
/// tags that follow it, up to [`MAX_VLAN_TAGS`].
pub fn link_header_len(frame: &[u8]) -> Option<usize> {
    let mut len = ETH_HLEN;
    let mut ethertype = be16_at(frame, len - 2)?;
    for _ in 0..MAX_VLAN_TAGS {
        if ethertype != ETH_P_8021Q && ethertype != ETH_P_8021AD {
            break;
        }
        len += VLAN_HLEN;
        ethertype = be16_at(frame, len - 2)?;
    }
    Some(len)
}

/// Classifies a contiguous frame, Ethernet header first, with its in-band
/// tags (see [`classify`]).
pub fn classify_frame(frame: &[u8]) -> Option<Advert> {
    let len = link_header_len(frame)?;
    let link = frame.get(..len)?;
    let l3 = frame.get(len..)?;
    classify(link, l3)
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
