//! A transmit-only AF_XDP socket in copy mode.
//!
//! Copy mode builds an skb from the UMEM chunk and hands it to
//! `__dev_direct_xmit()` (`xsk_build_skb()`, `net/xdp/xsk.c`), which, unlike
//! `dev_queue_xmit()` and AF_PACKET's `packet_parse_headers()`, never sets
//! the MAC header: the driver's `ndo_start_xmit` sees `mac_header` unset and
//! the Ethernet header only at `skb->data`. Any device can be bound in copy
//! mode; no XDP program is needed to transmit.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::capture::ifindex_here;
use crate::netns::Netns;

/// Entries of each ring; one frame is in flight at a time.
const RING: u32 = 4;
const CHUNK: u32 = 2048;
const UMEM_LEN: usize = (RING * CHUNK) as usize;

/// An mmap()ed region, unmapped on drop.
struct Map {
    ptr: NonNull<u8>,
    len: usize,
}

impl Map {
    fn new(fd: Option<&OwnedFd>, len: usize, offset: u64, what: &str) -> Result<Map> {
        let (flags, raw_fd) = match fd {
            Some(fd) => (libc::MAP_SHARED | libc::MAP_POPULATE, fd.as_raw_fd()),
            None => (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1),
        };
        // SAFETY: a fresh mapping chosen by the kernel; nothing aliases it.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                raw_fd,
                offset as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error()).with_context(|| format!("mmap {what}"));
        }
        Ok(Map {
            ptr: NonNull::new(p.cast()).context("mmap returned NULL")?,
            len,
        })
    }

    /// The `u32` at byte `offset` (a ring's producer or consumer index).
    fn index_at(&self, offset: u64) -> &AtomicU32 {
        assert!(offset as usize + 4 <= self.len && offset % 4 == 0);
        // SAFETY: in bounds and aligned (checked above); the kernel updates
        // it concurrently, hence the atomic view; it lives as long as `self`.
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().add(offset as usize).cast()) }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: this mapping was made by Map::new and is unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

fn set<T>(fd: &OwnedFd, name: i32, val: &T, what: &str) -> Result<()> {
    // SAFETY: `val` is a live T and its size is passed with it.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            name,
            (val as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error()).with_context(|| format!("setsockopt {what}"));
    }
    Ok(())
}

/// A bound AF_XDP socket with its UMEM, TX and completion rings.
pub struct XdpSender {
    // Field order is drop order: the rings and UMEM are unmapped before the
    // socket is closed.
    tx: Map,
    cr: Map,
    umem: Map,
    off: libc::xdp_mmap_offsets,
    fd: OwnedFd,
    pub ifname: String,
}

impl XdpSender {
    /// Binds to queue 0 of `ifname` in `ns`, in copy mode.
    pub fn open(ns: &Netns, ifname: &str) -> Result<Self> {
        ns.enter(|| Self::open_here(ifname))?
            .with_context(|| format!("AF_XDP sender on {ifname} in {}", ns.name()))
    }

    fn open_here(ifname: &str) -> Result<Self> {
        let ifindex = ifindex_here(ifname)?;
        // SAFETY: plain socket(2).
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error())
                .context("socket(AF_XDP) (a kernel without CONFIG_XDP_SOCKETS?)");
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let umem = Map::new(None, UMEM_LEN, 0, "UMEM")?;
        let reg = libc::xdp_umem_reg {
            addr: umem.ptr.as_ptr() as u64,
            len: UMEM_LEN as u64,
            chunk_size: CHUNK,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        set(&fd, libc::XDP_UMEM_REG, &reg, "XDP_UMEM_REG")?;
        // A UMEM needs both of its rings even when nothing is received.
        set(&fd, libc::XDP_UMEM_FILL_RING, &RING, "XDP_UMEM_FILL_RING")?;
        set(
            &fd,
            libc::XDP_UMEM_COMPLETION_RING,
            &RING,
            "XDP_UMEM_COMPLETION_RING",
        )?;
        set(&fd, libc::XDP_TX_RING, &RING, "XDP_TX_RING")?;
        // SAFETY: all-zero is a valid xdp_mmap_offsets.
        let mut off: libc::xdp_mmap_offsets = unsafe { mem::zeroed() };
        let mut len = mem::size_of::<libc::xdp_mmap_offsets>() as libc::socklen_t;
        // SAFETY: `off` and `len` are live and sized as passed.
        let r = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_XDP,
                libc::XDP_MMAP_OFFSETS,
                (&mut off as *mut libc::xdp_mmap_offsets).cast(),
                &mut len,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error()).context("getsockopt XDP_MMAP_OFFSETS");
        }
        let desc = mem::size_of::<libc::xdp_desc>() as u64;
        let tx = Map::new(
            Some(&fd),
            (off.tx.desc + u64::from(RING) * desc) as usize,
            libc::XDP_PGOFF_TX_RING as u64,
            "TX ring",
        )?;
        let cr = Map::new(
            Some(&fd),
            (off.cr.desc + u64::from(RING) * 8) as usize,
            libc::XDP_UMEM_PGOFF_COMPLETION_RING,
            "completion ring",
        )?;
        let sxdp = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: libc::XDP_COPY,
            sxdp_ifindex: ifindex,
            sxdp_queue_id: 0,
            sxdp_shared_umem_fd: 0,
        };
        // SAFETY: `sxdp` is live and sized as passed.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sxdp as *const libc::sockaddr_xdp).cast(),
                mem::size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error())
                .with_context(|| format!("bind AF_XDP to {ifname} queue 0, copy mode"));
        }
        Ok(XdpSender {
            tx,
            cr,
            umem,
            off,
            fd,
            ifname: ifname.to_string(),
        })
    }

    /// Transmits `frame` and waits until the kernel completes it. Returns
    /// the kick's error, if any, as the kernel gave it.
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        if frame.len() > CHUNK as usize {
            bail!("frame of {} bytes does not fit a chunk", frame.len());
        }
        // SAFETY: chunk 0 of the UMEM, which the kernel reads only after
        // the descriptor below is published, and is not reading now: every
        // earlier send waited for its completion.
        unsafe { ptr::copy_nonoverlapping(frame.as_ptr(), self.umem.ptr.as_ptr(), frame.len()) };
        let prod = self.tx.index_at(self.off.tx.producer);
        let cons_cr = self.cr.index_at(self.off.cr.consumer);
        let prod_cr = self.cr.index_at(self.off.cr.producer);
        let p = prod.load(Ordering::Relaxed);
        let slot = u64::from(p & (RING - 1)) * mem::size_of::<libc::xdp_desc>() as u64;
        let desc = libc::xdp_desc {
            addr: 0,
            len: frame.len() as u32,
            options: 0,
        };
        assert!(
            (self.off.tx.desc + slot) as usize + mem::size_of::<libc::xdp_desc>() <= self.tx.len
        );
        // SAFETY: the slot is inside the TX ring (asserted), owned by us
        // until the producer index below is advanced past it.
        unsafe {
            ptr::write_unaligned(
                self.tx
                    .ptr
                    .as_ptr()
                    .add((self.off.tx.desc + slot) as usize)
                    .cast(),
                desc,
            )
        };
        prod.store(p.wrapping_add(1), Ordering::Release);
        // SAFETY: a zero-length sendto(2) is AF_XDP's transmit kick.
        let r = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                ptr::null(),
                0,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EAGAIN) && e.raw_os_error() != Some(libc::EBUSY) {
                return Err(e).with_context(|| format!("AF_XDP kick on {}", self.ifname));
            }
        }
        let t = Instant::now();
        let c = cons_cr.load(Ordering::Relaxed);
        while prod_cr.load(Ordering::Acquire) == c {
            if t.elapsed() > Duration::from_secs(2) {
                bail!("AF_XDP on {}: no completion within 2 s", self.ifname);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        cons_cr.store(c.wrapping_add(1), Ordering::Release);
        Ok(())
    }
}
