//! Kernel errors turned into messages a person can act on.

use std::path::Path;

use mvv_netlink::link::macvlan_mode;
use mvv_netlink::nl::{errno_name, NlError};
use mvv_netlink::vrrp::fmt_mac;

/// The exact advice for the C driver refusing mode 32.
pub const C_DRIVER_REJECTS_VRRP: &str = "the kernel's macvlan driver rejected mode 32: \
load macvlan_vrrp.ko instead of macvlan.ko (rmmod macvlan; insmod macvlan_vrrp.ko)";

/// Which macvlan drivers are loaded, from /sys/module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drivers {
    /// macvlan_vrrp.ko (ours) is loaded.
    pub ours: bool,
    /// The kernel's macvlan.ko is loaded.
    pub c: bool,
}

impl Drivers {
    pub fn probe() -> Drivers {
        Drivers {
            ours: Path::new("/sys/module/macvlan_vrrp").exists(),
            c: Path::new("/sys/module/macvlan").exists(),
        }
    }

    /// Whether the "macvlan" link kind is (or will be, by auto-loading) the
    /// C driver's.
    pub fn c_owns_kind(self) -> bool {
        self.c || !self.ours
    }
}

/// What was being attempted.
#[derive(Debug, Clone, Copy)]
pub enum Op<'a> {
    Create {
        name: &'a str,
        lower: &'a str,
        mode: u32,
    },
    Up {
        name: &'a str,
        mac: &'a [u8],
    },
    SetMode {
        name: &'a str,
        mode: u32,
        /// The device's driver per ethtool, if known.
        driver: Option<&'a str>,
    },
    Delete {
        name: &'a str,
    },
}

impl Op<'_> {
    fn what(&self) -> String {
        match self {
            Op::Create { name, .. } => format!("creating {name}"),
            Op::Up { name, .. } => format!("bringing {name} up"),
            Op::SetMode { name, mode, .. } => {
                format!("setting {name} to mode {}", macvlan_mode::describe(*mode))
            }
            Op::Delete { name } => format!("deleting {name}"),
        }
    }
}

const EBUSY_HELP: &str = "a lower device has room for one receive handler, and another one \
(a bridge or bond port, ipvlan, macvtap, or the other macvlan driver) already sits there; \
release it first (e.g. ip link set LOWER nomaster) or pick another lower device";

/// The message for a failed request.
pub fn explain(op: &Op<'_>, e: &NlError, drivers: Drivers) -> String {
    let Some(errno) = e.errno() else {
        return format!("{}: {e}", op.what());
    };
    let main = match (op, errno) {
        (_, libc::EPERM) => Some(format!(
            "permission denied {}: changing network devices needs CAP_NET_ADMIN in this \
             network namespace; run vrrpctl as root (e.g. with sudo)",
            op.what()
        )),
        (Op::Create { mode, .. }, libc::EINVAL)
            if *mode == macvlan_mode::VRRP && drivers.c_owns_kind() =>
        {
            Some(C_DRIVER_REJECTS_VRRP.to_string())
        }
        (Op::SetMode { mode, driver, name }, libc::EINVAL)
            if *mode == macvlan_mode::VRRP
                && (*driver == Some("macvlan") || (driver.is_none() && drivers.c_owns_kind())) =>
        {
            Some(format!(
                "{C_DRIVER_REJECTS_VRRP}; {name} belongs to macvlan.ko, so delete it \
                 and create it again once macvlan_vrrp.ko is loaded"
            ))
        }
        (Op::Create { lower, .. }, libc::ENODEV) => Some(format!("no such lower device: {lower}")),
        (Op::Create { lower, .. }, libc::EBUSY) => Some(format!(
            "{} failed: the lower device {lower} is busy (EBUSY): {}",
            op.what(),
            EBUSY_HELP.replace("LOWER", lower)
        )),
        (Op::Create { name, .. }, libc::EEXIST) => {
            Some(format!("a device named {name} already exists"))
        }
        (Op::Create { .. }, libc::EOPNOTSUPP) => Some(format!(
            "{} failed: the kernel has no \"macvlan\" link type; load the driver \
             (insmod macvlan_vrrp.ko)",
            op.what()
        )),
        (Op::Create { .. }, libc::EADDRNOTAVAIL) => Some(format!(
            "{} failed: the MAC is not a valid unicast address",
            op.what()
        )),
        (Op::Up { name, mac }, libc::EADDRINUSE) => Some(format!(
            "cannot bring {name} up: its MAC {} is already in use on the lower device \
             (it is the lower device's own MAC, or another macvlan that is up has it)",
            fmt_mac(mac)
        )),
        (Op::SetMode { name, .. } | Op::Delete { name }, libc::ENODEV) => {
            Some(format!("no such device: {name}"))
        }
        _ => None,
    };
    let mut msg = main.unwrap_or_else(|| {
        format!(
            "{} failed: {} ({})",
            op.what(),
            errno_name(errno),
            mvv_netlink::nl::strerror(errno)
        )
    });
    if let Some(ext) = e.ext_msg().filter(|m| !m.trim().is_empty()) {
        msg.push_str(&format!("\n  the kernel said: \"{ext}\""));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use mvv_netlink::nl::ExtAck;

    fn kerr(errno: i32, msg: Option<&str>) -> NlError {
        NlError::Kernel {
            errno,
            ext: ExtAck {
                msg: msg.map(str::to_string),
                ..Default::default()
            },
        }
    }

    const OURS: Drivers = Drivers {
        ours: true,
        c: false,
    };
    const C: Drivers = Drivers {
        ours: false,
        c: true,
    };
    const NONE: Drivers = Drivers {
        ours: false,
        c: false,
    };

    fn create(mode: u32) -> Op<'static> {
        Op::Create {
            name: "eth0v10",
            lower: "eth0",
            mode,
        }
    }

    #[test]
    fn c_driver_rejects_mode_32() {
        for d in [C, NONE] {
            let m = explain(&create(32), &kerr(libc::EINVAL, None), d);
            assert_eq!(m, C_DRIVER_REJECTS_VRRP);
        }
        // Our driver refusing something else: the generic message + extack.
        let m = explain(&create(32), &kerr(libc::EINVAL, Some("MTU too big")), OURS);
        assert!(m.starts_with("creating eth0v10 failed: EINVAL"), "{m}");
        assert!(m.contains("the kernel said: \"MTU too big\""), "{m}");
        // Private mode with EINVAL is not about mode 32.
        let m = explain(&create(1), &kerr(libc::EINVAL, None), C);
        assert!(!m.contains("macvlan_vrrp.ko"), "{m}");
    }

    #[test]
    fn set_mode_32_on_a_c_device() {
        let op = Op::SetMode {
            name: "eth0v10",
            mode: 32,
            driver: Some("macvlan"),
        };
        let m = explain(&op, &kerr(libc::EINVAL, None), OURS);
        assert!(m.starts_with(C_DRIVER_REJECTS_VRRP), "{m}");
        assert!(m.contains("eth0v10 belongs to macvlan.ko"), "{m}");
        let op = Op::SetMode {
            name: "eth0v10",
            mode: 32,
            driver: Some("macvlan_vrrp"),
        };
        let m = explain(&op, &kerr(libc::EINVAL, Some("x")), C);
        assert!(!m.contains("rmmod"), "{m}");
    }

    #[test]
    fn lower_device_errors() {
        let m = explain(
            &create(32),
            &kerr(libc::ENODEV, Some("lower device not found")),
            OURS,
        );
        assert!(m.starts_with("no such lower device: eth0"), "{m}");
        assert!(m.contains("lower device not found"), "{m}");
        let m = explain(&create(32), &kerr(libc::EBUSY, None), OURS);
        assert!(m.contains("bridge or bond"), "{m}");
        assert!(m.contains("ip link set eth0 nomaster"), "{m}");
    }

    #[test]
    fn permission_and_others() {
        let m = explain(&create(32), &kerr(libc::EPERM, None), OURS);
        assert!(m.contains("CAP_NET_ADMIN"), "{m}");
        let m = explain(&Op::Delete { name: "x" }, &kerr(libc::EPERM, None), OURS);
        assert!(
            m.contains("CAP_NET_ADMIN") && m.contains("deleting x"),
            "{m}"
        );
        let m = explain(&create(32), &kerr(libc::EEXIST, None), OURS);
        assert_eq!(m, "a device named eth0v10 already exists");
        let m = explain(&create(32), &kerr(libc::EOPNOTSUPP, None), NONE);
        assert!(m.contains("insmod macvlan_vrrp.ko"), "{m}");
        let up = Op::Up {
            name: "eth0v10",
            mac: &[0, 0, 0x5e, 0, 1, 10],
        };
        let m = explain(&up, &kerr(libc::EADDRINUSE, None), OURS);
        assert!(m.contains("00:00:5e:00:01:0a is already in use"), "{m}");
        let m = explain(&Op::Delete { name: "x" }, &kerr(libc::ENODEV, None), OURS);
        assert_eq!(m, "no such device: x");
        let m = explain(
            &Op::Delete { name: "x" },
            &NlError::Transport("gone".into()),
            OURS,
        );
        assert!(m.contains("deleting x") && m.contains("gone"), "{m}");
    }

    #[test]
    fn drivers_ownership() {
        assert!(!OURS.c_owns_kind());
        assert!(C.c_owns_kind());
        assert!(
            NONE.c_owns_kind(),
            "with nothing loaded the kernel auto-loads macvlan.ko"
        );
    }
}
