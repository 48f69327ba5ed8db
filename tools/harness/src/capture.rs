//! Sockets that send frames and count where frames land, each created
//! inside a namespace (a socket stays in the netns it was created in).
//!
//! - [`PacketCounter`]: AF_PACKET, one ethertype (e.g. ETH_P_IP), not bound
//!   to a device. Such a socket sees a frame after the lower device's
//!   rx_handler ran, once, on the device it was finally delivered to, and
//!   `sll_ifindex` names that device. (An ETH_P_ALL socket would see every
//!   frame on the lower device before the rx_handler decides anything.)
//! - [`RawIpCounter`]: what VRRP daemons use, a raw IPv4 socket for one
//!   protocol, bound to a device, with a multicast group joined there.
//! - [`PacketSender`]: writes whole Ethernet frames out of one device.
//! - [`wait_until`]: polls the counters' fds until a condition holds (plus a
//!   settling time, to catch late or extra deliveries) or a deadline passes.
//!   Multicast reaches upper devices from a work queue, asynchronously.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io;
use std::mem;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::netns::Netns;

fn socket(domain: i32, ty: i32, proto: i32, what: &str) -> Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let raw = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, proto) };
    if raw < 0 {
        return Err(io::Error::last_os_error()).with_context(|| format!("socket({what})"));
    }
    // SAFETY: raw is a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn setsockopt<T>(fd: &OwnedFd, level: i32, name: i32, val: &T, what: &str) -> Result<()> {
    // SAFETY: `val` points at a live T of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            val as *const T as *const libc::c_void,
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error()).with_context(|| format!("setsockopt({what})"));
    }
    Ok(())
}

/// An AF_PACKET/SOCK_RAW socket for `ethertype` bound to `ifname`, in `ns`.
fn bound_packet_socket(ns: &Netns, ethertype: u16, ifname: &str) -> Result<OwnedFd> {
    let proto = ethertype.to_be();
    ns.enter(|| -> Result<OwnedFd> {
        let ifindex = ifindex_here(ifname)?;
        let fd = socket(
            libc::AF_PACKET,
            libc::SOCK_RAW,
            i32::from(proto),
            "AF_PACKET, SOCK_RAW",
        )?;
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: sll is a live sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error()).with_context(|| format!("bind to {ifname}"));
        }
        Ok(fd)
    })?
    .with_context(|| format!("packet socket on {ifname} in {}", ns.name()))
}

/// Counts the frames one device receives for one ethertype, without
/// reading them: the kernel's own count (`PACKET_STATISTICS`), which
/// includes the frames dropped because the socket's queue was full. One
/// frame fills the queue, so after that each frame costs a counter
/// increment, not a copy and a `recv(2)`: fast enough for 10^5-10^6 frames
/// under TCG.
///
/// A socket bound to a device also sees, through the protocol taps of the
/// frame's original device, frames an rx handler passed on to another
/// device (an upper device's frames on a macvlan lower); a socket filter
/// (`SKF_AD_IFINDEX`) keeps only those whose device is still this one.
/// Frames the device sends are not offered (`PACKET_IGNORE_OUTGOING`).
pub struct FrameTally {
    fd: OwnedFd,
    total: u64,
}

/// Attaches a classic BPF program to `fd` that accepts a frame only while
/// `skb->dev` is `ifindex`.
fn attach_ifindex_filter(fd: &OwnedFd, ifindex: u32) -> Result<()> {
    // BPF_LD|BPF_W|BPF_ABS at SKF_AD_OFF + SKF_AD_IFINDEX: A = skb->dev->ifindex.
    const LD_IFINDEX: u32 = (-0x1000i32 + 8) as u32;
    let insn = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut prog = [
        insn(0x20, 0, 0, LD_IFINDEX),
        // BPF_JMP|BPF_JEQ|BPF_K: next if equal, else skip one.
        insn(0x15, 0, 1, ifindex),
        // BPF_RET|BPF_K: the whole frame, or nothing.
        insn(0x06, 0, 0, 0xffff),
        insn(0x06, 0, 0, 0),
    ];
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    setsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_ATTACH_FILTER,
        &fprog,
        "SO_ATTACH_FILTER",
    )
}

/// `<linux/if_packet.h>`; the libc crate does not name it.
const PACKET_IGNORE_OUTGOING: i32 = 23;

/// `struct tpacket_stats` (TPACKET_V1/V2 sockets).
#[repr(C)]
#[derive(Default)]
struct TpacketStats {
    tp_packets: u32,
    tp_drops: u32,
}

impl FrameTally {
    pub fn open_bound(ns: &Netns, ethertype: u16, ifname: &str) -> Result<Self> {
        let fd = bound_packet_socket(ns, ethertype, ifname)?;
        let one: i32 = 1;
        setsockopt(
            &fd,
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            &one,
            "PACKET_IGNORE_OUTGOING",
        )?;
        let ifindex = ns
            .enter(|| ifindex_here(ifname))?
            .with_context(|| format!("{ifname} in {}", ns.name()))?;
        attach_ifindex_filter(&fd, ifindex)?;
        let mut t = FrameTally { fd, total: 0 };
        // Whatever arrived between bind() and now is not ours to count.
        t.read()?;
        t.total = 0;
        Ok(t)
    }

    /// Frames offered to this socket since it was opened.
    pub fn read(&mut self) -> Result<u64> {
        let mut st = TpacketStats::default();
        let mut len = mem::size_of::<TpacketStats>() as libc::socklen_t;
        // SAFETY: st is a live tpacket_stats and len its size; the kernel
        // writes at most len bytes.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                &mut st as *mut TpacketStats as *mut libc::c_void,
                &mut len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error()).context("getsockopt(PACKET_STATISTICS)");
        }
        // Reading resets the kernel's counters; tp_packets includes tp_drops.
        self.total += u64::from(st.tp_packets);
        Ok(self.total)
    }
}

/// An unbound AF_PACKET/SOCK_RAW socket for `ethertype`, in `ns`.
fn packet_socket(ns: &Netns, ethertype: u16) -> Result<OwnedFd> {
    ns.enter(|| {
        socket(
            libc::AF_PACKET,
            libc::SOCK_RAW,
            i32::from(ethertype.to_be()),
            "AF_PACKET, SOCK_RAW",
        )
    })?
    .with_context(|| format!("packet socket in {}", ns.name()))
}

/// The next queued frame of an AF_PACKET socket, without blocking, into
/// `buf`: (receiving ifindex, length). Outgoing copies are skipped; None
/// once nothing is queued.
fn recv_incoming(fd: &OwnedFd, buf: &mut [u8]) -> Option<(i32, usize)> {
    loop {
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        let mut len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: buf and sll are live and sized as passed.
        let n = unsafe {
            libc::recvfrom(
                fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                libc::MSG_DONTWAIT,
                &mut sll as *mut libc::sockaddr_ll as *mut libc::sockaddr,
                &mut len,
            )
        };
        if n <= 0 {
            return None;
        }
        if sll.sll_pkttype != libc::PACKET_OUTGOING {
            return Some((sll.sll_ifindex, n as usize));
        }
    }
}

/// if_nametoindex(3) in the calling thread's netns.
pub fn ifindex_here(ifname: &str) -> Result<u32> {
    let c = CString::new(ifname).context("interface name with NUL")?;
    // SAFETY: c is a valid C string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("if_nametoindex({ifname})"));
    }
    Ok(i)
}

/// Counts matching frames per receiving ifindex.
pub struct PacketCounter<F: Fn(&[u8]) -> bool> {
    fd: OwnedFd,
    matches: F,
    /// ifindex -> frames.
    pub by_ifindex: BTreeMap<i32, u32>,
    /// Frames of this ethertype that did not match.
    pub other: u32,
}

impl<F: Fn(&[u8]) -> bool> PacketCounter<F> {
    /// An AF_PACKET/SOCK_RAW socket for `ethertype`, unbound, in `ns`.
    pub fn open(ns: &Netns, ethertype: u16, matches: F) -> Result<Self> {
        let fd = packet_socket(ns, ethertype)?;
        Ok(PacketCounter {
            fd,
            matches,
            by_ifindex: BTreeMap::new(),
            other: 0,
        })
    }

    /// Like [`PacketCounter::open`] but bound to `ifname`. With ETH_P_ALL
    /// on a bridge port this sees every frame entering the switch there
    /// (taps run before the bridge's rx_handler).
    pub fn open_bound(ns: &Netns, ethertype: u16, ifname: &str, matches: F) -> Result<Self> {
        let fd = bound_packet_socket(ns, ethertype, ifname)?;
        Ok(PacketCounter {
            fd,
            matches,
            by_ifindex: BTreeMap::new(),
            other: 0,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// `SO_RCVBUFFORCE`: room for `bytes` of queued frames, past
    /// `rmem_max` (needs CAP_NET_ADMIN), so that a burst is counted whole.
    pub fn grow_rcvbuf(&self, bytes: i32) -> Result<()> {
        setsockopt(
            &self.fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &bytes,
            "SO_RCVBUFFORCE",
        )
    }

    /// Reads every queued frame.
    pub fn pump(&mut self) {
        let mut buf = [0u8; 2048];
        while let Some((ifindex, n)) = recv_incoming(&self.fd, &mut buf) {
            if (self.matches)(&buf[..n]) {
                *self.by_ifindex.entry(ifindex).or_default() += 1;
            } else {
                self.other += 1;
            }
        }
    }

    /// Frames received on `ifindex`.
    pub fn on(&self, ifindex: u32) -> u32 {
        self.by_ifindex.get(&(ifindex as i32)).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u32 {
        self.by_ifindex.values().sum()
    }

    /// Frames received anywhere except the listed ifindexes.
    pub fn elsewhere(&self, known: &[u32]) -> u32 {
        self.by_ifindex
            .iter()
            .filter(|(i, _)| !known.contains(&(**i as u32)))
            .map(|(_, n)| n)
            .sum()
    }
}

/// A raw IPv4 socket for one protocol, bound to a device, with a group
/// joined on it; counts matching datagrams (IP header included).
pub struct RawIpCounter<F: Fn(&[u8]) -> bool> {
    fd: OwnedFd,
    matches: F,
    pub count: u32,
}

impl<F: Fn(&[u8]) -> bool> RawIpCounter<F> {
    pub fn open(ns: &Netns, ifname: &str, proto: u8, group: Ipv4Addr, matches: F) -> Result<Self> {
        let fd = ns
            .enter(|| -> Result<OwnedFd> {
                let ifindex = ifindex_here(ifname)?;
                let fd = socket(
                    libc::AF_INET,
                    libc::SOCK_RAW,
                    i32::from(proto),
                    "AF_INET, SOCK_RAW",
                )?;
                let mut name = [0u8; libc::IFNAMSIZ];
                name[..ifname.len()].copy_from_slice(ifname.as_bytes());
                setsockopt(
                    &fd,
                    libc::SOL_SOCKET,
                    libc::SO_BINDTODEVICE,
                    &name,
                    "SO_BINDTODEVICE",
                )?;
                let mreq = libc::ip_mreqn {
                    imr_multiaddr: libc::in_addr {
                        s_addr: u32::from(group).to_be(),
                    },
                    imr_address: libc::in_addr { s_addr: 0 },
                    imr_ifindex: ifindex as i32,
                };
                setsockopt(
                    &fd,
                    libc::IPPROTO_IP,
                    libc::IP_ADD_MEMBERSHIP,
                    &mreq,
                    "IP_ADD_MEMBERSHIP",
                )?;
                Ok(fd)
            })?
            .with_context(|| format!("raw IP socket on {ifname} in {}", ns.name()))?;
        Ok(RawIpCounter {
            fd,
            matches,
            count: 0,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn pump(&mut self) {
        let mut buf = [0u8; 2048];
        loop {
            // SAFETY: buf is live and sized as passed.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n <= 0 {
                return;
            }
            if (self.matches)(&buf[..n as usize]) {
                self.count += 1;
            }
        }
    }
}

/// Sends whole Ethernet frames out of one device.
pub struct PacketSender {
    fd: OwnedFd,
    ifindex: u32,
    pub ifname: String,
}

impl PacketSender {
    /// A sender on `ifname` of the network namespace this process is in.
    pub fn open_here(ifname: &str) -> Result<Self> {
        let ifindex = ifindex_here(ifname)?;
        // Protocol 0: this socket receives nothing.
        let fd = socket(libc::AF_PACKET, libc::SOCK_RAW, 0, "AF_PACKET, SOCK_RAW, 0")?;
        Ok(PacketSender {
            fd,
            ifindex,
            ifname: ifname.to_string(),
        })
    }

    pub fn open(ns: &Netns, ifname: &str) -> Result<Self> {
        let (fd, ifindex) = ns
            .enter(|| -> Result<(OwnedFd, u32)> {
                let ifindex = ifindex_here(ifname)?;
                // Protocol 0: this socket receives nothing.
                let fd = socket(libc::AF_PACKET, libc::SOCK_RAW, 0, "AF_PACKET, SOCK_RAW, 0")?;
                Ok((fd, ifindex))
            })?
            .with_context(|| format!("sender on {ifname} in {}", ns.name()))?;
        Ok(PacketSender {
            fd,
            ifindex,
            ifname: ifname.to_string(),
        })
    }

    /// Send one frame (destination MAC and ethertype are read from it).
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        self.send_buf(frame, frame)
    }

    /// Sends `buf`, which carries `frame` (after a vnet header, or as it
    /// is), retrying on EAGAIN.
    fn send_buf(&self, buf: &[u8], frame: &[u8]) -> Result<()> {
        if frame.len() < 14 {
            bail!("frame of {} bytes is too short", frame.len());
        }
        let protocol = u16::from_be_bytes([frame[12], frame[13]]);
        for attempt in 0..50 {
            match self.send_once(buf, protocol) {
                // packet_snd counts the frame without the vnet header.
                Ok(n) if n == frame.len() || n == buf.len() => return Ok(()),
                Ok(n) => bail!(
                    "short send on {}: {n} of {} bytes",
                    self.ifname,
                    frame.len()
                ),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && attempt < 49 => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e).with_context(|| format!("sendto on {}", self.ifname)),
            }
        }
        bail!("sendto on {}: still EAGAIN", self.ifname)
    }

    /// Sets `PACKET_QDISC_BYPASS`: frames go from the socket straight to the
    /// device's `ndo_start_xmit` (`dev_direct_xmit`), past the qdisc layer
    /// and its `skb_reset_mac_header()`.
    pub fn bypass_qdisc(&self) -> Result<()> {
        let one: libc::c_int = 1;
        setsockopt(
            &self.fd,
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            &one,
            "PACKET_QDISC_BYPASS",
        )
        .with_context(|| format!("on {}", self.ifname))
    }

    /// One `sendto` of `frame` with `sll_protocol` `protocol` (host order),
    /// no retry: the kernel's answer as it is, for tests of the transmit
    /// status.
    pub fn send_once(&self, frame: &[u8], protocol: u16) -> io::Result<usize> {
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = protocol.to_be();
        sll.sll_ifindex = self.ifindex as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame[..6.min(frame.len())]);
        // SAFETY: frame and sll are live and sized as passed.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// Sets `PACKET_VNET_HDR`: every frame is sent behind a
    /// `virtio_net_hdr` ([`PacketSender::send_vnet`]), whose `hdr_len` is
    /// how much of it goes into the skb's linear area.
    pub fn enable_vnet_hdr(&self) -> Result<()> {
        let one: libc::c_int = 1;
        setsockopt(
            &self.fd,
            libc::SOL_PACKET,
            libc::PACKET_VNET_HDR,
            &one,
            "PACKET_VNET_HDR",
        )
        .with_context(|| format!("on {}", self.ifname))
    }

    /// Sends `frame` through a socket with [`PacketSender::enable_vnet_hdr`]:
    /// no offloads, and only the Ethernet header linear. `packet_snd` puts
    /// the rest in page fragments when the frame is at least a page long;
    /// shorter frames stay linear.
    pub fn send_vnet(&self, frame: &[u8]) -> Result<()> {
        // struct virtio_net_hdr: flags, gso_type (NONE), hdr_len,
        // gso_size, csum_start, csum_offset; little-endian (vnet_hdr_le
        // is off, and x86 is little-endian).
        let mut buf = Vec::with_capacity(10 + frame.len());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&14u16.to_le_bytes());
        buf.extend_from_slice(&[0; 6]);
        buf.extend_from_slice(frame);
        self.send_buf(&buf, frame)
    }

    /// Send `frames`, a little apart so that no queue overflows.
    pub fn send_all(&self, frames: &[Vec<u8>]) -> Result<()> {
        for f in frames {
            self.send(f)?;
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }
}

/// Every frame of one ethertype received in a namespace, with the
/// receiving device (`sll_ifindex`): an unbound AF_PACKET socket, like
/// [`PacketCounter`], that keeps the frames instead of counting them, so
/// that one batch of differently tagged frames can be sorted afterwards.
pub struct PacketLog {
    fd: OwnedFd,
    /// (receiving ifindex, frame) in arrival order; outgoing copies are
    /// left out.
    pub frames: Vec<(i32, Vec<u8>)>,
}

impl PacketLog {
    pub fn open(ns: &Netns, ethertype: u16) -> Result<Self> {
        let fd = packet_socket(ns, ethertype)?;
        Ok(PacketLog {
            fd,
            frames: Vec::new(),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Reads every queued frame.
    pub fn pump(&mut self) {
        let mut buf = [0u8; 2048];
        while let Some((ifindex, n)) = recv_incoming(&self.fd, &mut buf) {
            self.frames.push((ifindex, buf[..n].to_vec()));
        }
    }
}

/// Pump (`step`) until it reports done and then `settle` more, or until
/// `deadline` from now. Returns whether `step` was done at the end.
pub fn wait_until(
    fds: &[RawFd],
    deadline: Duration,
    settle: Duration,
    mut step: impl FnMut() -> bool,
) -> bool {
    let start = Instant::now();
    let mut done_since: Option<Instant> = None;
    loop {
        let done = step();
        let now = Instant::now();
        if done {
            let since = *done_since.get_or_insert(now);
            if now.duration_since(since) >= settle {
                return true;
            }
        } else {
            done_since = None;
        }
        let elapsed = now.duration_since(start);
        if elapsed >= deadline {
            return done;
        }
        let wait = (deadline - elapsed).min(Duration::from_millis(50));
        let mut pfds: Vec<libc::pollfd> = fds
            .iter()
            .map(|&fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: pfds is a live array of pollfd of the length passed.
        unsafe {
            libc::poll(
                pfds.as_mut_ptr(),
                pfds.len() as libc::nfds_t,
                wait.as_millis() as i32,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_settles_and_times_out() {
        let t = Instant::now();
        let mut n = 0;
        assert!(wait_until(
            &[],
            Duration::from_secs(5),
            Duration::from_millis(100),
            || {
                n += 1;
                n >= 3
            }
        ));
        assert!(t.elapsed() >= Duration::from_millis(100));
        let t = Instant::now();
        assert!(!wait_until(
            &[],
            Duration::from_millis(120),
            Duration::ZERO,
            || false
        ));
        assert!(t.elapsed() >= Duration::from_millis(120));
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}
