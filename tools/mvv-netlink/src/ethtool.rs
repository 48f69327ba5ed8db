//! The SIOCETHTOOL ioctl on a device of the calling thread's netns:
//! ETHTOOL_GDRVINFO (`ethtool -i`) and ETHTOOL_GSTRINGS + ETHTOOL_GSTATS
//! (`ethtool -S`).
//!
//! Errors are [`EthtoolError`]s that keep the errno, so a caller can tell
//! "no such device" (ENODEV) from "the driver has no statistics"
//! (EOPNOTSUPP).

use std::ffi::c_void;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GDRVINFO: u32 = 0x0000_0003;
const ETHTOOL_GSTRINGS: u32 = 0x0000_001b;
const ETHTOOL_GSTATS: u32 = 0x0000_001d;
/// enum ethtool_stringset: ETH_SS_STATS
const ETH_SS_STATS: u32 = 1;
const ETH_GSTRING_LEN: usize = 32;
/// Far more statistics than any driver this is used on has; guards the
/// buffer sizes against a nonsensical n_stats.
const MAX_STATS: usize = 4096;

/// The name of the statistic our driver exports per upper device.
pub const VRRP_ADVERTS_TO_LOWER: &str = "vrrp_adverts_to_lower";

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
    /// Number of ETH_SS_STATS statistics (`ethtool -S` lines).
    pub n_stats: u32,
}

/// A failed ethtool request, with the errno when the kernel gave one.
#[derive(Debug)]
pub struct EthtoolError {
    /// "ETHTOOL_GDRVINFO", "socket", ...
    pub op: &'static str,
    pub ifname: String,
    pub source: io::Error,
}

impl EthtoolError {
    fn new(op: &'static str, ifname: &str, source: io::Error) -> Self {
        EthtoolError {
            op,
            ifname: ifname.to_string(),
            source,
        }
    }

    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

impl fmt::Display for EthtoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SIOCETHTOOL {} on {}: {}",
            self.op, self.ifname, self.source
        )
    }
}

impl std::error::Error for EthtoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

pub type Result<T> = std::result::Result<T, EthtoolError>;

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn check_name(ifname: &str) -> Result<()> {
    if ifname.is_empty() || ifname.len() >= libc::IFNAMSIZ {
        return Err(EthtoolError::new(
            "(name check)",
            ifname,
            io::Error::new(io::ErrorKind::InvalidInput, "bad interface name"),
        ));
    }
    Ok(())
}

fn control_socket(ifname: &str) -> Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(EthtoolError::new(
            "socket(AF_INET, SOCK_DGRAM)",
            ifname,
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: raw is a fresh, valid fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// One SIOCETHTOOL call with `data` as ifr_data.
///
/// # Safety
///
/// `data` must point at a buffer that starts with the `cmd` word and is as
/// large as the kernel will write for that command.
unsafe fn ethtool_ioctl(
    sock: &OwnedFd,
    ifname: &str,
    op: &'static str,
    data: *mut c_void,
) -> Result<()> {
    let mut ifr = IfreqData {
        name: [0; libc::IFNAMSIZ],
        data,
        _pad: [0; 24 - std::mem::size_of::<*mut c_void>()],
    };
    ifr.name[..ifname.len()].copy_from_slice(ifname.as_bytes());
    // SAFETY: ifr is a properly laid out struct ifreq; the caller vouches
    // for the buffer behind ifr_data.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL as _, &mut ifr) };
    if rc < 0 {
        return Err(EthtoolError::new(op, ifname, io::Error::last_os_error()));
    }
    Ok(())
}

fn drvinfo_on(sock: &OwnedFd, ifname: &str) -> Result<DrvInfo> {
    // SAFETY: all-zero is a valid value for this plain-data struct.
    let mut info: EthtoolDrvinfo = unsafe { std::mem::zeroed() };
    info.cmd = ETHTOOL_GDRVINFO;
    // SAFETY: `info` is a live ethtool_drvinfo for the duration of the call.
    unsafe {
        ethtool_ioctl(
            sock,
            ifname,
            "ETHTOOL_GDRVINFO",
            &mut info as *mut EthtoolDrvinfo as *mut c_void,
        )?
    };
    Ok(DrvInfo {
        driver: cstr(&info.driver),
        version: cstr(&info.version),
        bus_info: cstr(&info.bus_info),
        n_stats: info.n_stats,
    })
}

/// `ethtool -i <ifname>` for a device in the calling thread's netns.
pub fn drvinfo_here(ifname: &str) -> Result<DrvInfo> {
    check_name(ifname)?;
    let sock = control_socket(ifname)?;
    drvinfo_on(&sock, ifname)
}

/// Split an ETH_SS_STATS string table into names.
fn parse_strings(data: &[u8], n: usize) -> Vec<String> {
    data.chunks(ETH_GSTRING_LEN).take(n).map(cstr).collect()
}

/// `ethtool -S <ifname>`: every (name, value) pair the driver exports, in
/// its order. A driver without statistics gives an empty list.
pub fn stats_here(ifname: &str) -> Result<Vec<(String, u64)>> {
    check_name(ifname)?;
    let sock = control_socket(ifname)?;
    let info = drvinfo_on(&sock, ifname)?;
    let n = info.n_stats as usize;
    if n == 0 {
        return Ok(Vec::new());
    }
    if n > MAX_STATS {
        return Err(EthtoolError::new(
            "ETHTOOL_GDRVINFO",
            ifname,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("n_stats {n} is implausible"),
            ),
        ));
    }

    // struct ethtool_gstrings { u32 cmd, string_set, len; u8 data[]; }
    // A u32 buffer keeps the header words aligned.
    let words = 3 + (n * ETH_GSTRING_LEN).div_ceil(4);
    let mut gs = vec![0u32; words];
    gs[0] = ETHTOOL_GSTRINGS;
    gs[1] = ETH_SS_STATS;
    gs[2] = n as u32;
    // SAFETY: the buffer holds the header and n strings.
    unsafe {
        ethtool_ioctl(
            &sock,
            ifname,
            "ETHTOOL_GSTRINGS",
            gs.as_mut_ptr() as *mut c_void,
        )?
    };
    let got_strings = (gs[2] as usize).min(n);
    let bytes: Vec<u8> = gs[3..].iter().flat_map(|w| w.to_ne_bytes()).collect();
    let names = parse_strings(&bytes, got_strings);

    // struct ethtool_stats { u32 cmd, n_stats; u64 data[]; }
    // A u64 buffer keeps data[] aligned; the header is two u32 words.
    let mut st = vec![0u64; 1 + n];
    let head = st.as_mut_ptr() as *mut u32;
    // SAFETY: the first u64 of the buffer holds the two u32 header words.
    unsafe {
        head.write(ETHTOOL_GSTATS);
        head.add(1).write(n as u32);
    }
    // SAFETY: the buffer holds the header and n values.
    unsafe {
        ethtool_ioctl(
            &sock,
            ifname,
            "ETHTOOL_GSTATS",
            st.as_mut_ptr() as *mut c_void,
        )?
    };
    Ok(names.into_iter().zip(st[1..].iter().copied()).collect())
}

/// One statistic by name (`ethtool -S <ifname> | grep <name>`); `None` if
/// the driver does not export it.
pub fn stat_here(ifname: &str, name: &str) -> Result<Option<u64>> {
    Ok(stats_here(ifname)?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v))
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
    fn string_table_parsing() {
        let mut data = vec![0u8; 2 * ETH_GSTRING_LEN];
        data[..21].copy_from_slice(b"vrrp_adverts_to_lower");
        data[ETH_GSTRING_LEN..ETH_GSTRING_LEN + 3].copy_from_slice(b"foo");
        assert_eq!(
            parse_strings(&data, 2),
            vec!["vrrp_adverts_to_lower".to_string(), "foo".to_string()]
        );
        assert_eq!(parse_strings(&data, 1).len(), 1);
    }

    #[test]
    fn bad_names_rejected_and_lo_does_not_crash() {
        // Runs unprivileged on the host: "lo" either answers (some kernels
        // give no driver) or fails with EOPNOTSUPP; it must not crash.
        let _ = drvinfo_here("lo");
        let _ = stats_here("lo");
        assert!(drvinfo_here("").is_err());
        assert!(drvinfo_here("name-that-is-far-too-long").is_err());
        let e = stats_here("no-such-dev0").unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENODEV), "{e}");
    }
}
