//! ETHTOOL_GDRVINFO through the SIOCETHTOOL ioctl, on a socket created in
//! the device's netns.

use std::ffi::c_void;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use anyhow::{bail, Context, Result};

use crate::netns::Netns;

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GDRVINFO: u32 = 0x0000_0003;

/// include/uapi/linux/ethtool.h: struct ethtool_drvinfo
#[repr(C)]
struct EthtoolDrvinfo {
    cmd: u32,
    driver: [u8; 32],
    version: [u8; 32],
    fw_version: [u8; 32],
    bus_info: [u8; 32],
    erom_version: [u8; 32],
    reserved2: [u8; 12],
    n_priv_flags: u32,
    n_stats: u32,
    testinfo_len: u32,
    eedump_len: u32,
    regdump_len: u32,
}

/// struct ifreq with the ifr_data member of the union.
#[repr(C)]
struct IfreqData {
    name: [u8; libc::IFNAMSIZ],
    data: *mut c_void,
    _pad: [u8; 24 - std::mem::size_of::<*mut c_void>()],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrvInfo {
    pub driver: String,
    pub version: String,
    pub bus_info: String,
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// `ethtool -i <ifname>` for a device in the calling thread's netns.
pub fn drvinfo_here(ifname: &str) -> Result<DrvInfo> {
    if ifname.is_empty() || ifname.len() >= libc::IFNAMSIZ {
        bail!("bad interface name {ifname:?}");
    }
    // SAFETY: plain socket(2); the fd is owned right away.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error()).context("socket(AF_INET, SOCK_DGRAM)");
    }
    // SAFETY: raw is a fresh, valid fd that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };

    // SAFETY: all-zero is a valid value for this plain-data struct.
    let mut info: EthtoolDrvinfo = unsafe { std::mem::zeroed() };
    info.cmd = ETHTOOL_GDRVINFO;
    let mut ifr = IfreqData {
        name: [0; libc::IFNAMSIZ],
        data: &mut info as *mut EthtoolDrvinfo as *mut c_void,
        _pad: [0; 24 - std::mem::size_of::<*mut c_void>()],
    };
    ifr.name[..ifname.len()].copy_from_slice(ifname.as_bytes());
    // SAFETY: ifr is a properly laid out struct ifreq whose ifr_data points
    // at a live ethtool_drvinfo for the duration of the call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL as _, &mut ifr) };
    if rc < 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("SIOCETHTOOL ETHTOOL_GDRVINFO on {ifname}"));
    }
    Ok(DrvInfo {
        driver: cstr(&info.driver),
        version: cstr(&info.version),
        bus_info: cstr(&info.bus_info),
    })
}

/// `ip netns exec <ns> ethtool -i <ifname>`, without either tool.
pub fn drvinfo(ns: &Netns, ifname: &str) -> Result<DrvInfo> {
    ns.enter(|| drvinfo_here(ifname))?
        .with_context(|| format!("in netns {}", ns.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_layouts_match_the_kernel() {
        assert_eq!(std::mem::size_of::<EthtoolDrvinfo>(), 196);
        assert_eq!(std::mem::size_of::<IfreqData>(), 40);
        assert_eq!(
            std::mem::size_of::<IfreqData>(),
            std::mem::size_of::<libc::ifreq>()
        );
    }

    #[test]
    fn cstr_stops_at_nul() {
        assert_eq!(cstr(b"macvlan_vrrp\0\0junk"), "macvlan_vrrp");
        assert_eq!(cstr(b"full"), "full");
    }

    #[test]
    fn bad_names_rejected_and_lo_does_not_crash() {
        // Runs unprivileged on the host: "lo" either answers (some kernels
        // give no driver) or fails with EOPNOTSUPP; it must not crash.
        let _ = drvinfo_here("lo");
        assert!(drvinfo_here("").is_err());
        assert!(drvinfo_here("name-that-is-far-too-long").is_err());
    }
}
