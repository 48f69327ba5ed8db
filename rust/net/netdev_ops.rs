// SPDX-License-Identifier: GPL-2.0

//! The `net_device_ops` and `header_ops` of a [`Link`] type: trampolines from
//! the C callbacks to the trait's methods, and the operations that a device
//! stacked on a lower device forwards to it (VLAN filters, timestamping,
//! header creation).

use super::bindings;
use super::link::{errno, Link, Upper};
#[cfg(CONFIG_NET_POLL_CONTROLLER)]
use super::netpoll;
use super::skb::Skb;
use super::sync::{Rcu, Rtnl};
use core::mem::MaybeUninit;

pub(crate) use super::ether::MacAddr;

/// The status `ndo_start_xmit` passes up: the skb is always consumed, and
/// the `NET_XMIT_*` code of the transmit below is returned as it is, so
/// that a sender sees a drop (`-ENOBUFS` on a packet socket) and TCP sees
/// congestion (`NET_XMIT_CN`), as `dev_queue_xmit` callers expect.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct TxStatus(i32);

impl TxStatus {
    /// `NET_XMIT_SUCCESS`.
    // CAST: the `NET_XMIT_*` codes are small non-negative `#define`s.
    pub(crate) const SUCCESS: Self = Self(bindings::NET_XMIT_SUCCESS as i32);

    /// The status of a `dev_queue_xmit` that returned `code`.
    pub(crate) fn from_xmit(code: i32) -> Self {
        Self(code)
    }

    /// Sent or queued: `NET_XMIT_SUCCESS` or `NET_XMIT_CN`, which count as
    /// transmitted.
    pub(crate) fn is_sent(self) -> bool {
        // CAST: as for `SUCCESS`.
        self.0 == bindings::NET_XMIT_SUCCESS as i32 || self.0 == bindings::NET_XMIT_CN as i32
    }
}

/// The `net_device_ops` of `T`.
pub(super) const fn table<T: Link>() -> bindings::net_device_ops {
    bindings::net_device_ops {
        ndo_init: if T::HAS_INIT {
            Some(init_tramp::<T>)
        } else {
            None
        },
        ndo_uninit: if T::HAS_UNINIT {
            Some(uninit_tramp::<T>)
        } else {
            None
        },
        ndo_open: if T::HAS_OPEN {
            Some(open_tramp::<T>)
        } else {
            None
        },
        ndo_stop: if T::HAS_STOP {
            Some(stop_tramp::<T>)
        } else {
            None
        },
        ndo_start_xmit: Some(start_xmit_tramp::<T>),
        ndo_change_mtu: if T::HAS_CHANGE_MTU {
            Some(change_mtu_tramp::<T>)
        } else {
            None
        },
        ndo_fix_features: if T::HAS_FIX_FEATURES {
            Some(fix_features_tramp::<T>)
        } else {
            None
        },
        ndo_change_rx_flags: if T::HAS_CHANGE_RX_FLAGS {
            Some(change_rx_flags_tramp::<T>)
        } else {
            None
        },
        ndo_set_mac_address: if T::HAS_SET_MAC_ADDRESS {
            Some(set_mac_address_tramp::<T>)
        } else {
            None
        },
        ndo_set_rx_mode: if T::HAS_SET_RX_MODE {
            Some(set_rx_mode_tramp::<T>)
        } else {
            None
        },
        ndo_get_stats64: if T::HAS_STATS64 {
            Some(get_stats64_tramp::<T>)
        } else {
            None
        },
        ndo_vlan_rx_add_vid: Some(vlan_rx_add_vid_tramp::<T>),
        ndo_vlan_rx_kill_vid: Some(vlan_rx_kill_vid_tramp::<T>),
        ndo_fdb_add: if T::HAS_FDB_ADD {
            Some(fdb_add_tramp::<T>)
        } else {
            None
        },
        ndo_fdb_del: if T::HAS_FDB_DEL {
            Some(fdb_del_tramp::<T>)
        } else {
            None
        },
        ndo_fdb_dump: Some(bindings::ndo_dflt_fdb_dump),
        ndo_hwtstamp_get: Some(hwtstamp_get_tramp::<T>),
        ndo_hwtstamp_set: Some(hwtstamp_set_tramp::<T>),
        #[cfg(CONFIG_NET_POLL_CONTROLLER)]
        ndo_poll_controller: if T::HAS_NETPOLL {
            Some(netpoll::poll_controller_tramp)
        } else {
            None
        },
        #[cfg(CONFIG_NET_POLL_CONTROLLER)]
        ndo_netpoll_setup: if T::HAS_NETPOLL {
            Some(netpoll::setup_tramp::<T>)
        } else {
            None
        },
        #[cfg(CONFIG_NET_POLL_CONTROLLER)]
        ndo_netpoll_cleanup: if T::HAS_NETPOLL {
            Some(netpoll::cleanup_tramp::<T>)
        } else {
            None
        },
        ndo_validate_addr: Some(bindings::eth_validate_addr),
        ndo_get_iflink: Some(get_iflink_tramp::<T>),
        ndo_features_check: Some(bindings::passthru_features_check),
        // SAFETY: all-zero is valid: unset callbacks are NULL.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    }
}

/// The `header_ops` of `T`: Ethernet's, with headers built by the lower
/// device.
pub(super) const fn header_table<T: Link>() -> bindings::header_ops {
    bindings::header_ops {
        create: Some(header_create_tramp::<T>),
        parse: Some(bindings::eth_header_parse),
        cache: Some(bindings::eth_header_cache),
        cache_update: Some(bindings::eth_header_cache_update),
        parse_protocol: Some(bindings::eth_header_parse_protocol),
        // SAFETY: all-zero is valid: unset callbacks are NULL.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    }
}

/// # Safety
///
/// Only as `ndo_init`, under RTNL, with a device of link type `T` being
/// registered.
unsafe extern "C" fn init_tramp<T: Link>(dev: *mut bindings::net_device) -> i32 {
    // SAFETY: `ndo_init` runs under RTNL on one of our devices.
    unsafe { errno(T::init(Rtnl::assume_held(), Upper::<T>::from_raw(dev))) }
}

/// # Safety
///
/// Only as `ndo_uninit`, under RTNL, with a device of link type `T` being
/// unregistered (or whose registration failed).
unsafe extern "C" fn uninit_tramp<T: Link>(dev: *mut bindings::net_device) {
    // SAFETY: `ndo_uninit` runs under RTNL on one of our devices.
    unsafe { T::uninit(Rtnl::assume_held(), Upper::<T>::from_raw(dev)) }
}

/// # Safety
///
/// Only as `ndo_open`, under RTNL, with a registered device of link type
/// `T`.
unsafe extern "C" fn open_tramp<T: Link>(dev: *mut bindings::net_device) -> i32 {
    // SAFETY: `ndo_open` runs under RTNL on one of our devices.
    unsafe { errno(T::open(Rtnl::assume_held(), Upper::<T>::from_raw(dev))) }
}

/// # Safety
///
/// Only as `ndo_stop`, under RTNL, with a registered device of link type
/// `T`.
unsafe extern "C" fn stop_tramp<T: Link>(dev: *mut bindings::net_device) -> i32 {
    // SAFETY: `ndo_stop` runs under RTNL on one of our devices.
    unsafe { T::stop(Rtnl::assume_held(), Upper::<T>::from_raw(dev)) };
    0
}

/// # Safety
///
/// Only as `ndo_start_xmit`, under `rcu_read_lock_bh`, with an skb we are
/// given and a registered device of link type `T`.
unsafe extern "C" fn start_xmit_tramp<T: Link>(
    skb: *mut bindings::sk_buff,
    dev: *mut bindings::net_device,
) -> bindings::netdev_tx_t {
    // SAFETY: the core gives us the skb (`netdev_start_xmit()` is never
    // called without one) and calls under rcu_read_lock_bh.
    let (skb, rcu) = unsafe { (Skb::from_raw_nonnull(skb), Rcu::assume_held()) };
    // SAFETY: one of our devices, valid for the call.
    let up = unsafe { Upper::<T>::from_raw(dev) };
    #[cfg(CONFIG_NET_POLL_CONTROLLER)]
    let skb = if T::HAS_NETPOLL {
        match netpoll::send_if_polling(T::netpoll(up), up.dev(), skb) {
            Ok(status) => return status,
            Err(skb) => skb,
        }
    } else {
        skb
    };
    // The skb is always used up; every `NET_XMIT_*` code is one that
    // `dev_xmit_complete()` takes as consumed, so the core never requeues.
    // CAST: `netdev_tx_t` is the C `enum netdev_tx`, an `int` that callers
    // read as `NET_XMIT_*` when it is not `NETDEV_TX_BUSY`, as C drivers
    // return `dev_queue_xmit()`'s result through it.
    T::start_xmit(up, skb, rcu).0 as bindings::netdev_tx_t
}

/// # Safety
///
/// Only as `ndo_change_mtu`, under RTNL, with a registered device of link
/// type `T` and an MTU the core checked against its range.
unsafe extern "C" fn change_mtu_tramp<T: Link>(dev: *mut bindings::net_device, mtu: i32) -> i32 {
    // SAFETY: under RTNL, one of our devices; the core checked the range.
    unsafe {
        errno(T::change_mtu(
            Rtnl::assume_held(),
            Upper::<T>::from_raw(dev),
            mtu as u32,
        ))
    }
}

/// # Safety
///
/// Only as `ndo_set_mac_address`, under RTNL, with a registered device of
/// link type `T` and a `struct sockaddr` of at least `ETH_ALEN` data bytes.
unsafe extern "C" fn set_mac_address_tramp<T: Link>(
    dev: *mut bindings::net_device,
    p: *mut core::ffi::c_void,
) -> i32 {
    // SAFETY: `p` is a `struct sockaddr` with at least `ETH_ALEN` bytes of
    // data; under RTNL, one of our devices.
    unsafe {
        let data = p
            .cast::<u8>()
            .add(core::mem::offset_of!(bindings::sockaddr, __bindgen_anon_1));
        let bytes = core::slice::from_raw_parts(data, 6);
        let Some(addr) = MacAddr::from_slice(bytes).filter(MacAddr::is_valid_unicast) else {
            return super::errno::EADDRNOTAVAIL().to_errno();
        };
        errno(T::set_mac_address(
            Rtnl::assume_held(),
            Upper::<T>::from_raw(dev),
            addr,
        ))
    }
}

/// # Safety
///
/// Only as `ndo_set_rx_mode`, with the address list lock of a registered
/// device of link type `T` held.
unsafe extern "C" fn set_rx_mode_tramp<T: Link>(dev: *mut bindings::net_device) {
    // SAFETY: one of our devices, with its address list lock held.
    T::set_rx_mode(unsafe { Upper::<T>::from_raw(dev) })
}

/// # Safety
///
/// Only as `ndo_change_rx_flags`, under RTNL, with a registered device of
/// link type `T`.
unsafe extern "C" fn change_rx_flags_tramp<T: Link>(dev: *mut bindings::net_device, change: i32) {
    // CAST: `change` is a mask of `IFF_*` bits.
    // SAFETY: under RTNL, one of our devices.
    unsafe {
        T::change_rx_flags(
            Rtnl::assume_held(),
            Upper::<T>::from_raw(dev),
            change as u32,
        )
    }
}

/// # Safety
///
/// Only as `ndo_fix_features`, under RTNL, with a device of link type `T`.
unsafe extern "C" fn fix_features_tramp<T: Link>(
    dev: *mut bindings::net_device,
    features: u64,
) -> u64 {
    // SAFETY: under RTNL, one of our devices.
    T::fix_features(unsafe { Upper::<T>::from_raw(dev) }, features)
}

/// # Safety
///
/// Only as `ndo_get_iflink`, with a registered device of link type `T`.
unsafe extern "C" fn get_iflink_tramp<T: Link>(dev: *const bindings::net_device) -> i32 {
    // SAFETY: one of our devices, valid for the call.
    T::lower(unsafe { Upper::<T>::from_raw(dev.cast_mut()) }).ifindex()
}

/// # Safety
///
/// Only as `header_ops.create` of a device of link type `T`, with the
/// arguments `dev_hard_header` passes.
unsafe extern "C" fn header_create_tramp<T: Link>(
    skb: *mut bindings::sk_buff,
    dev: *mut bindings::net_device,
    ty: u16,
    daddr: *const core::ffi::c_void,
    saddr: *const core::ffi::c_void,
    len: u32,
) -> i32 {
    // SAFETY: one of our devices; the lower device builds the header, with
    // our address as the default source, as the C driver does.
    unsafe {
        let up = Upper::<T>::from_raw(dev);
        let saddr = if saddr.is_null() {
            (*dev).dev_addr.cast()
        } else {
            saddr
        };
        bindings::mvv_dev_hard_header(skb, T::lower(up).as_ptr(), ty, daddr, saddr, len)
    }
}

/// # Safety
///
/// Only as `ndo_get_stats64`, with a registered device of link type `T` and
/// `out` valid for the call.
unsafe extern "C" fn get_stats64_tramp<T: Link>(
    dev: *mut bindings::net_device,
    out: *mut bindings::rtnl_link_stats64,
) {
    // SAFETY: valid for the call, as the core promises.
    unsafe { T::stats64(Upper::<T>::from_raw(dev), &mut *out) }
}

/// # Safety
///
/// Only as `ndo_vlan_rx_add_vid`, under RTNL, with a registered device of
/// link type `T`.
unsafe extern "C" fn vlan_rx_add_vid_tramp<T: Link>(
    dev: *mut bindings::net_device,
    proto: u16,
    vid: u16,
) -> i32 {
    // SAFETY: our device; its lower device is valid; RTNL is held.
    // VLAN filters are the lower device's to apply.
    unsafe { bindings::vlan_vid_add(T::lower(Upper::<T>::from_raw(dev)).as_ptr(), proto, vid) }
}

/// # Safety
///
/// Only as `ndo_vlan_rx_kill_vid`, under RTNL, with a registered device of
/// link type `T`.
unsafe extern "C" fn vlan_rx_kill_vid_tramp<T: Link>(
    dev: *mut bindings::net_device,
    proto: u16,
    vid: u16,
) -> i32 {
    // SAFETY: as for `vlan_rx_add_vid_tramp`.
    unsafe { bindings::vlan_vid_del(T::lower(Upper::<T>::from_raw(dev)).as_ptr(), proto, vid) };
    0
}

/// # Safety
///
/// Only as `ndo_fdb_add`, under RTNL, with a registered device of link type
/// `T` and `addr` pointing to `ETH_ALEN` bytes.
unsafe extern "C" fn fdb_add_tramp<T: Link>(
    _ndm: *mut bindings::ndmsg,
    _tb: *mut *mut bindings::nlattr,
    dev: *mut bindings::net_device,
    addr: *const u8,
    _vid: u16,
    flags: u16,
    _extack: *mut bindings::netlink_ext_ack,
) -> i32 {
    // SAFETY: see the function's safety section.
    unsafe {
        let addr = MacAddr(*addr.cast::<[u8; 6]>());
        errno(T::fdb_add(
            Rtnl::assume_held(),
            Upper::<T>::from_raw(dev),
            addr,
            flags,
        ))
    }
}

/// # Safety
///
/// Only as `ndo_fdb_del`, under RTNL, with a registered device of link type
/// `T` and `addr` pointing to `ETH_ALEN` bytes.
unsafe extern "C" fn fdb_del_tramp<T: Link>(
    _ndm: *mut bindings::ndmsg,
    _tb: *mut *mut bindings::nlattr,
    dev: *mut bindings::net_device,
    addr: *const u8,
    _vid: u16,
    _extack: *mut bindings::netlink_ext_ack,
) -> i32 {
    // SAFETY: see the function's safety section.
    unsafe {
        let addr = MacAddr(*addr.cast::<[u8; 6]>());
        errno(T::fdb_del(
            Rtnl::assume_held(),
            Upper::<T>::from_raw(dev),
            addr,
        ))
    }
}

/// # Safety
///
/// Only as `ndo_hwtstamp_get`, under RTNL, with a registered device of link
/// type `T` and `cfg` valid for the call.
unsafe extern "C" fn hwtstamp_get_tramp<T: Link>(
    dev: *mut bindings::net_device,
    cfg: *mut bindings::kernel_hwtstamp_config,
) -> i32 {
    // SAFETY: forwarded to the lower (real) device.
    unsafe {
        bindings::generic_hwtstamp_get_lower(T::lower(Upper::<T>::from_raw(dev)).as_ptr(), cfg)
    }
}

/// # Safety
///
/// Only as `ndo_hwtstamp_set`, under RTNL, with a registered device of link
/// type `T`, and `cfg` and `extack` valid for the call.
unsafe extern "C" fn hwtstamp_set_tramp<T: Link>(
    dev: *mut bindings::net_device,
    cfg: *mut bindings::kernel_hwtstamp_config,
    extack: *mut bindings::netlink_ext_ack,
) -> i32 {
    // SAFETY: forwarded to the lower (real) device. As the C driver, only
    // the initial netns may change the real device's timestamping.
    unsafe {
        if !bindings::mvv_net_is_init_net(dev) {
            return super::errno::EOPNOTSUPP().to_errno();
        }
        bindings::generic_hwtstamp_set_lower(
            T::lower(Upper::<T>::from_raw(dev)).as_ptr(),
            cfg,
            extack,
        )
    }
}
