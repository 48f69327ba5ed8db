// SPDX-License-Identifier: GPL-2.0

//! The VRRP advertisement injector: IPv4 VRRPv3 adverts (RFC 5798) sent
//! with AF_PACKET into a device, `sendmmsg` in batches, until told to stop.
//! pktgen only builds UDP, so this is how the advert path gets load.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Frames per sendmmsg call.
pub const BATCH: usize = 64;
/// Every frame is padded to the Ethernet minimum, as pktgen's are.
pub const FRAME_LEN: usize = 60;

const VRRP_MAC_V4: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
const VRRP_GROUP_V4: [u8; 4] = [224, 0, 0, 18];
const IPPROTO_VRRP: u8 = 112;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_IGMP: u8 = 2;

/// The Internet checksum (RFC 1071) of `data`, starting from `sum`.
pub fn csum(data: &[u8], mut sum: u32) -> u16 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 header with `options` (a multiple of 4 bytes): DSCP CS6 (as
/// keepalived), DF, its checksum; `total_len` counts header and payload.
fn ipv4_header(
    total_len: usize,
    ttl: u8,
    protocol: u8,
    src: [u8; 4],
    dst: [u8; 4],
    options: &[u8],
) -> Vec<u8> {
    let ihl = (20 + options.len()) / 4;
    let mut ip = vec![0x40 | ihl as u8, 0xc0];
    ip.extend_from_slice(&(total_len as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, ttl, protocol, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    ip.extend_from_slice(options);
    let c = csum(&ip, 0);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip
}

/// One VRRPv3 IPv4 advertisement for `vrid` from `src_mac` / `src_ip`,
/// protecting `vip`, padded to [`FRAME_LEN`].
pub fn advert_frame(src_mac: [u8; 6], src_ip: [u8; 4], vrid: u8, vip: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::with_capacity(FRAME_LEN);
    f.extend_from_slice(&VRRP_MAC_V4);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    // VRRPv3: version 3, type 1; VRID; priority 100; one address;
    // max advert interval 100 centiseconds; checksum; the address.
    let mut vrrp = vec![0x31, vrid, 100, 1, 0x00, 100, 0, 0];
    vrrp.extend_from_slice(&vip);
    let ip_len = 20 + vrrp.len();
    // RFC 5798 5.2.8: the checksum covers a pseudo-header, as for UDP.
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src_ip);
    pseudo.extend_from_slice(&VRRP_GROUP_V4);
    pseudo.extend_from_slice(&[0, IPPROTO_VRRP]);
    pseudo.extend_from_slice(&(vrrp.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(&vrrp);
    let c = csum(&pseudo, 0);
    vrrp[6..8].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ipv4_header(
        ip_len,
        255,
        IPPROTO_VRRP,
        src_ip,
        VRRP_GROUP_V4,
        &[],
    ));
    f.extend_from_slice(&vrrp);
    f.resize(FRAME_LEN.max(f.len()), 0);
    f
}

/// A frame that is no advertisement but looks like one as long as it can:
/// the advert of [`advert_frame`] with UDP (to port 1985) in place of VRRP.
/// The classifier reads it as far as an advert before it says no, so this is
/// the dearest non-advert multicast frame a VRRP-mode source can send.
pub fn lookalike_frame(src_mac: [u8; 6], src_ip: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::with_capacity(FRAME_LEN);
    f.extend_from_slice(&VRRP_MAC_V4);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    // UDP, checksum 0 (none, allowed over IPv4), then 12 bytes of payload
    // (an advert's length).
    let mut udp = Vec::new();
    udp.extend_from_slice(&1985u16.to_be_bytes());
    udp.extend_from_slice(&1985u16.to_be_bytes());
    udp.extend_from_slice(&(8u16 + 12).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(&[0; 12]);
    let ip_len = 20 + udp.len();
    f.extend_from_slice(&ipv4_header(
        ip_len,
        255,
        IPPROTO_UDP,
        src_ip,
        VRRP_GROUP_V4,
        &[],
    ));
    f.extend_from_slice(&udp);
    f.resize(FRAME_LEN.max(f.len()), 0);
    f
}

/// An IGMPv3 membership report for the VRRP group, as a router's VRRP
/// interface sends one when it joins 224.0.0.18 (RFC 3376: to 224.0.0.22,
/// TTL 1, Router Alert): the non-advert multicast a VRRP MAC sends in
/// practice. The classifier stops at its destination MAC.
pub fn igmp_report_frame(src_mac: [u8; 6], src_ip: [u8; 4]) -> Vec<u8> {
    const IGMPV3_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x16];
    const IGMPV3_GROUP: [u8; 4] = [224, 0, 0, 22];
    let mut f = Vec::with_capacity(FRAME_LEN);
    f.extend_from_slice(&IGMPV3_MAC);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    // Type 0x22, checksum, one group record: CHANGE_TO_EXCLUDE_MODE (4),
    // no sources, the VRRP group.
    let mut igmp = vec![0x22, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0];
    igmp.extend_from_slice(&VRRP_GROUP_V4);
    let c = csum(&igmp, 0);
    igmp[2..4].copy_from_slice(&c.to_be_bytes());
    // With the Router Alert option, TTL 1.
    let ip_len = 24 + igmp.len();
    let router_alert = [0x94, 0x04, 0, 0];
    f.extend_from_slice(&ipv4_header(
        ip_len,
        1,
        IPPROTO_IGMP,
        src_ip,
        IGMPV3_GROUP,
        &router_alert,
    ));
    f.extend_from_slice(&igmp);
    f.resize(FRAME_LEN.max(f.len()), 0);
    f
}

/// An AF_PACKET socket that sends on one device and receives nothing.
pub struct Injector {
    fd: OwnedFd,
}

impl Injector {
    pub fn open(dev: &str) -> io::Result<Self> {
        let name = CString::new(dev)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad device name"))?;
        // SAFETY: name is a valid C string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no device {dev}"),
            ));
        }
        // Protocol 0: the socket is hooked into no receive path.
        // SAFETY: plain socket(2); the result is checked.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is fresh and owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_ll is plain data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: sll outlives the call; the length is its size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let one: libc::c_int = 1;
        // Straight to the driver: a veth has no queue to bypass, but other
        // devices might. Best effort.
        // SAFETY: one outlives the call; the length is its size.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as u32,
            )
        };
        Ok(Injector { fd })
    }

    /// Sends `frame` in batches until `stop`, adding every frame the kernel
    /// accepted to `sent`. Returns the number of failed calls.
    pub fn run(&self, frame: &[u8], stop: &AtomicBool, sent: &AtomicU64) -> u64 {
        let mut iov = libc::iovec {
            iov_base: frame.as_ptr() as *mut libc::c_void,
            iov_len: frame.len(),
        };
        // SAFETY: mmsghdr is plain data.
        let mut msgs: Vec<libc::mmsghdr> =
            (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
        for m in &mut msgs {
            m.msg_hdr.msg_iov = &mut iov;
            m.msg_hdr.msg_iovlen = 1;
        }
        let mut errors = 0;
        while !stop.load(Ordering::Relaxed) {
            // SAFETY: msgs and the iovec and frame they point at outlive the call.
            let n =
                unsafe { libc::sendmmsg(self.fd.as_raw_fd(), msgs.as_mut_ptr(), BATCH as u32, 0) };
            if n < 0 {
                errors += 1;
                std::thread::yield_now();
            } else {
                sent.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 10];

    #[test]
    fn the_classifier_sees_an_advert() {
        let f = advert_frame(MAC, [10, 0, 0, 2], 10, [10, 0, 0, 1]);
        assert_eq!(f.len(), FRAME_LEN);
        assert_eq!(
            vrrp_classify::classify_frame(&f),
            Some(vrrp_classify::Advert::V4)
        );
        assert_eq!(&f[6..12], &MAC);
    }

    #[test]
    fn the_classifier_rejects_the_lookalike() {
        let f = lookalike_frame(MAC, [10, 0, 0, 2]);
        assert_eq!(f.len(), FRAME_LEN);
        assert_eq!(vrrp_classify::classify_frame(&f), None);
        // An advert but for the protocol (and so the length): same
        // addresses, DSCP, flags, TTL.
        let a = advert_frame(MAC, [10, 0, 0, 2], 10, [10, 0, 0, 1]);
        assert_eq!(&f[..16], &a[..16]);
        assert_eq!(&f[18..23], &a[18..23]);
        assert_eq!(&f[26..34], &a[26..34]);
        assert_eq!((a[23], f[23]), (112, 17));
        assert_eq!(csum(&f[14..34], 0), 0);
    }

    #[test]
    fn the_igmp_report_is_no_advert() {
        let f = igmp_report_frame(MAC, [10, 0, 0, 2]);
        assert_eq!(f.len(), FRAME_LEN);
        assert_eq!(vrrp_classify::classify_frame(&f), None);
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(csum(&f[14..38], 0), 0, "IPv4 header checksum");
        assert_eq!(csum(&f[38..54], 0), 0, "IGMP checksum");
        assert_eq!((f[22], f[23]), (1, 2), "TTL 1, IGMP");
    }

    #[test]
    fn checksums_verify() {
        let f = advert_frame(MAC, [10, 0, 0, 2], 10, [10, 0, 0, 1]);
        let ip = &f[14..34];
        // A correct header sums to 0xffff, i.e. its checksum is 0.
        assert_eq!(csum(ip, 0), 0);
        let vrrp = &f[34..46];
        let mut pseudo = vec![10, 0, 0, 2, 224, 0, 0, 18, 0, 112, 0, 12];
        pseudo.extend_from_slice(vrrp);
        assert_eq!(csum(&pseudo, 0), 0);
        assert_eq!(f[22], 255, "TTL must be 255");
    }

    #[test]
    fn csum_known_value() {
        // RFC 1071 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        assert_eq!(
            csum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 0),
            !0xddf2
        );
    }
}
