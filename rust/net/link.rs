// SPDX-License-Identifier: GPL-2.0

//! Link types: `rtnl_link_ops`, `net_device_ops`, `ethtool_ops` and
//! `header_ops` built from the [`Link`] trait, plus rx handlers and
//! netdevice notifiers.
//!
//! 6.12 has no `InPlaceModule`, so the tables live in statics that the
//! driver declares ([`LinkVTables`], [`Notifier`]) and registers from its
//! module init.

use super::bindings;
use super::device::NetDevice;
use super::ether::MacAddr;
use super::netlink::{Attrs, ExtAck, NlMsg};
use super::skb::Skb;
use super::sync::{Rcu, Rtnl};
use core::marker::PhantomData;
use kernel::error::{to_result, Error, Result};
use kernel::init::Zeroable;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::Opaque;

/// Highest `IFLA_*` attribute type.
const IFLA_MAX: u32 = bindings::__IFLA_MAX - 1;

/// A device of link type `T`.
///
/// # Invariants
///
/// The device's `netdev_ops` are `T`'s, so its private area holds a
/// `T::Private`, and the device is valid for the borrow.
#[repr(transparent)]
pub(crate) struct Upper<T: Link>(NetDevice, PhantomData<T>);

impl<T: Link> Upper<T> {
    /// # Safety
    ///
    /// `ptr` must be a valid device of link type `T`, alive for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::net_device) -> &'a Self {
        // CAST: `Upper<T>` is a transparent wrapper of `NetDevice`, itself one
        // of `net_device`.
        // SAFETY: guaranteed by the caller.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// Returns `dev` as a device of type `T` if its ops are `T`'s.
    pub(crate) fn try_from_dev(dev: &NetDevice) -> Option<&Self> {
        // SAFETY: the device is valid; `netdev_ops` is set before
        // registration and never changes.
        let ops = unsafe { (*dev.as_ptr()).netdev_ops };
        if core::ptr::eq(ops, T::vtables().netdev_ops.0.get()) {
            // SAFETY: the ops are `T`'s, so the device is of type `T`.
            Some(unsafe { Self::from_raw(dev.as_ptr()) })
        } else {
            None
        }
    }

    /// The plain device.
    pub(crate) fn dev(&self) -> &NetDevice {
        &self.0
    }

    /// The private state.
    pub(crate) fn state(&self) -> &T::Private {
        // SAFETY: by the type invariant the private area holds a
        // `T::Private`; `alloc_netdev` zeroed it, and all-zero is a valid
        // `T::Private` (`Zeroable`). It lives as long as the device.
        unsafe { &*self.0.priv_ptr().cast::<T::Private>() }
    }

    /// Registers the device (`register_netdevice`), from `newlink`.
    pub(crate) fn register(&self, _rtnl: Rtnl<'_>) -> Result {
        // SAFETY: the device is valid and not registered; RTNL is held.
        to_result(unsafe { bindings::register_netdevice(self.0.as_ptr()) })
    }

    /// Makes `lower` this device's lower device (`netdev_upper_dev_link`).
    pub(crate) fn link_to_lower(
        &self,
        _rtnl: Rtnl<'_>,
        lower: &NetDevice,
        extack: &mut ExtAck<'_>,
    ) -> Result {
        // SAFETY: both devices are valid; RTNL is held.
        to_result(unsafe {
            bindings::netdev_upper_dev_link(lower.as_ptr(), self.0.as_ptr(), extack.as_ptr())
        })
    }

    /// Undoes [`Upper::link_to_lower`].
    pub(crate) fn unlink_from_lower(&self, _rtnl: Rtnl<'_>, lower: &NetDevice) {
        // SAFETY: both devices are valid and linked; RTNL is held.
        unsafe { bindings::netdev_upper_dev_unlink(lower.as_ptr(), self.0.as_ptr()) };
    }

    /// Unregisters the device right away (error paths of `newlink`).
    pub(crate) fn unregister_now(&self, _rtnl: Rtnl<'_>) {
        // SAFETY: the device is registered; RTNL is held.
        unsafe { bindings::unregister_netdevice_queue(self.0.as_ptr(), core::ptr::null_mut()) };
    }

    /// Fires a link-watch event so the operstate is recomputed.
    pub(crate) fn fire_linkwatch(&self) {
        // SAFETY: the device is valid.
        unsafe { bindings::linkwatch_fire_event(self.0.as_ptr()) };
    }
}

/// A batch of devices to unregister (`unregister_netdevice_many`), or none
/// to unregister at once.
pub(crate) struct UnregisterQueue<'a>(*mut bindings::list_head, PhantomData<&'a mut ()>);

impl UnregisterQueue<'_> {
    /// Queues `dev` for unregistration.
    pub(crate) fn push(&mut self, _rtnl: Rtnl<'_>, dev: &NetDevice) {
        // SAFETY: the device is registered; the list is NULL or the
        // caller's batch; RTNL is held.
        unsafe { bindings::unregister_netdevice_queue(dev.as_ptr(), self.0) };
    }
}

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

/// A link type implemented in Rust.
///
/// The callbacks mirror `rtnl_link_ops` and `net_device_ops`; each takes
/// the context tokens that hold when the C side calls it.
pub(crate) trait Link: Sized + 'static {
    /// State kept in the device's private area. `alloc_netdev` zeroes the
    /// area before any callback runs, so all-zero must be a valid value.
    type Private: Zeroable + Sync;

    /// The tables built for this type, in a static of the driver.
    fn vtables() -> &'static LinkVTables;

    /// Driver name for `ethtool -i`.
    const DRIVER_NAME: &'static CStr;
    /// Driver version for `ethtool -i`.
    const DRIVER_VERSION: &'static CStr;
    /// Names of the `ethtool -S` counters.
    const STATS_NAMES: &'static [&'static CStr];

    /// Further setup of a freshly allocated device, after `ether_setup`.
    fn setup(dev: &NetDevice);
    /// `validate`: check a request before anything is allocated.
    fn validate(tb: Attrs<'_>, data: Option<Attrs<'_>>, extack: &mut ExtAck<'_>) -> Result;
    /// `newlink`: set up and register a new device.
    fn newlink(
        rtnl: Rtnl<'_>,
        src_net: *mut bindings::net,
        dev: &Upper<Self>,
        tb: Attrs<'_>,
        data: Option<Attrs<'_>>,
        extack: &mut ExtAck<'_>,
    ) -> Result;
    /// `changelink`: change a device's attributes.
    fn changelink(
        rtnl: Rtnl<'_>,
        dev: &Upper<Self>,
        tb: Option<Attrs<'_>>,
        data: Option<Attrs<'_>>,
        extack: &mut ExtAck<'_>,
    ) -> Result;
    /// `dellink`: queue a device for deletion.
    fn dellink(rtnl: Rtnl<'_>, dev: &Upper<Self>, queue: &mut UnregisterQueue<'_>);
    /// `get_size`: room `fill_info` needs.
    fn info_size(dev: &Upper<Self>) -> usize;
    /// `fill_info`: the `IFLA_INFO_DATA` attributes.
    fn fill_info(dev: &Upper<Self>, msg: &mut NlMsg) -> Result;
    /// The lower device (`get_iflink`, `get_link_net`, header creation,
    /// ethtool link settings).
    fn lower(dev: &Upper<Self>) -> &NetDevice;

    /// `ndo_init`.
    fn init(rtnl: Rtnl<'_>, dev: &Upper<Self>) -> Result;
    /// `ndo_uninit`.
    fn uninit(rtnl: Rtnl<'_>, dev: &Upper<Self>);
    /// `priv_destructor`: the last step before the memory is freed.
    fn destruct(dev: &Upper<Self>);
    /// `ndo_open`.
    fn open(rtnl: Rtnl<'_>, dev: &Upper<Self>) -> Result;
    /// `ndo_stop`.
    fn stop(rtnl: Rtnl<'_>, dev: &Upper<Self>);
    /// `ndo_start_xmit`. Called under `rcu_read_lock_bh`.
    fn start_xmit(dev: &Upper<Self>, skb: Skb, rcu: Rcu<'_>) -> TxStatus;
    /// `ndo_change_mtu`.
    fn change_mtu(rtnl: Rtnl<'_>, dev: &Upper<Self>, mtu: u32) -> Result;
    /// `ndo_set_mac_address`, with the address already checked to be valid.
    fn set_mac_address(rtnl: Rtnl<'_>, dev: &Upper<Self>, addr: MacAddr) -> Result;
    /// `ndo_set_rx_mode`, under the device's address list lock.
    fn set_rx_mode(dev: &Upper<Self>);
    /// `ndo_change_rx_flags`.
    fn change_rx_flags(rtnl: Rtnl<'_>, dev: &Upper<Self>, change: u32);
    /// `ndo_fix_features`.
    fn fix_features(dev: &Upper<Self>, features: u64) -> u64;
    /// Values of the `ethtool -S` counters, in `STATS_NAMES` order.
    fn stats(dev: &Upper<Self>, out: &mut [u64]);
    /// `ndo_get_stats64`: add the device's counters into `out`.
    fn stats64(dev: &Upper<Self>, out: &mut bindings::rtnl_link_stats64);
    /// `ndo_fdb_add` for `addr`, with the request's `NLM_F_*` flags.
    fn fdb_add(rtnl: Rtnl<'_>, dev: &Upper<Self>, addr: MacAddr, flags: u16) -> Result;
    /// `ndo_fdb_del` for `addr`.
    fn fdb_del(rtnl: Rtnl<'_>, dev: &Upper<Self>, addr: MacAddr) -> Result;
    /// The netpoll state of `dev` (`ndo_netpoll_setup` stores it there).
    #[cfg(CONFIG_NET_POLL_CONTROLLER)]
    fn netpoll(dev: &Upper<Self>) -> &Netpoll;
}

/// A netpoll instance (netconsole) on an upper device, set up on its lower
/// device.
///
/// # Invariants
///
/// `np` is NULL or a `struct netpoll` set up by `mvv_netpoll_setup` and
/// owned by this value.
#[cfg(CONFIG_NET_POLL_CONTROLLER)]
#[derive(Default)]
pub(crate) struct Netpoll {
    np: core::sync::atomic::AtomicPtr<bindings::netpoll>,
}

#[cfg(CONFIG_NET_POLL_CONTROLLER)]
// SAFETY: all-zero is NULL: no netpoll.
unsafe impl Zeroable for Netpoll {}

#[cfg(CONFIG_NET_POLL_CONTROLLER)]
impl Netpoll {
    fn load(&self) -> *mut bindings::netpoll {
        self.np.load(core::sync::atomic::Ordering::Acquire)
    }
}

/// # Safety
///
/// Only for the C side, under RTNL, on one of our devices.
#[cfg(CONFIG_NET_POLL_CONTROLLER)]
unsafe extern "C" fn netpoll_setup_tramp<T: Link>(
    dev: *mut bindings::net_device,
    _info: *mut bindings::netpoll_info,
) -> i32 {
    // SAFETY: our device; the lower device is valid and RTNL is held.
    unsafe {
        let up = Upper::<T>::from_raw(dev);
        let np = bindings::mvv_netpoll_setup(T::lower(up).as_ptr());
        if let Err(e) = kernel::error::from_err_ptr(np) {
            return e.to_errno();
        }
        // INVARIANT: a fresh netpoll, owned from now on.
        T::netpoll(up)
            .np
            .store(np, core::sync::atomic::Ordering::Release);
    }
    0
}

/// # Safety
///
/// Only for the C side, under RTNL, on one of our devices.
#[cfg(CONFIG_NET_POLL_CONTROLLER)]
unsafe extern "C" fn netpoll_cleanup_tramp<T: Link>(dev: *mut bindings::net_device) {
    // SAFETY: our device; the pointer is owned by the type invariant and
    // `__netpoll_free` waits for users before freeing.
    unsafe {
        let np = T::netpoll(Upper::<T>::from_raw(dev))
            .np
            .swap(core::ptr::null_mut(), core::sync::atomic::Ordering::AcqRel);
        if !np.is_null() {
            bindings::mvv_netpoll_free(np);
        }
    }
}

/// # Safety
///
/// Only for the C side.
#[cfg(CONFIG_NET_POLL_CONTROLLER)]
unsafe extern "C" fn poll_controller_tramp(_dev: *mut bindings::net_device) {
    // Nothing to poll: the lower device is polled through its own netpoll.
}

/// A read-only C table that holds raw pointers, shareable between CPUs.
#[repr(transparent)]
pub(crate) struct Table<T>(Opaque<T>);

// SAFETY: the tables are only read by the C side after construction, except
// `rtnl_link_ops`, which the core changes under RTNL when registering.
unsafe impl<T> Sync for Table<T> {}

/// The C tables of a link type.
pub(crate) struct LinkVTables {
    link_ops: Table<bindings::rtnl_link_ops>,
    netdev_ops: Table<bindings::net_device_ops>,
    ethtool_ops: Table<bindings::ethtool_ops>,
    header_ops: Table<bindings::header_ops>,
}

impl LinkVTables {
    /// Builds the tables for `T`, with the `IFLA_INFO_DATA` policy `policy`
    /// of `maxtype + 1` entries.
    pub(crate) const fn new<T: Link>(
        kind: &'static CStr,
        policy: *const bindings::nla_policy,
        maxtype: u32,
    ) -> Self {
        Self {
            link_ops: Table(Opaque::new(bindings::rtnl_link_ops {
                kind: kind.as_char_ptr(),
                // CAST: private structs are far below 4 GiB.
                priv_size: core::mem::size_of::<T::Private>() as _,
                setup: Some(setup_tramp::<T>),
                maxtype,
                policy,
                validate: Some(validate_tramp::<T>),
                newlink: Some(newlink_tramp::<T>),
                changelink: Some(changelink_tramp::<T>),
                dellink: Some(dellink_tramp::<T>),
                get_size: Some(get_size_tramp::<T>),
                fill_info: Some(fill_info_tramp::<T>),
                get_link_net: Some(get_link_net_tramp::<T>),
                // SAFETY: all-zero is valid for the remaining fields (NULL
                // pointers, empty list head that registration initializes).
                ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
            })),
            netdev_ops: Table(Opaque::new(bindings::net_device_ops {
                ndo_init: Some(init_tramp::<T>),
                ndo_uninit: Some(uninit_tramp::<T>),
                ndo_open: Some(open_tramp::<T>),
                ndo_stop: Some(stop_tramp::<T>),
                ndo_start_xmit: Some(start_xmit_tramp::<T>),
                ndo_change_mtu: Some(change_mtu_tramp::<T>),
                ndo_fix_features: Some(fix_features_tramp::<T>),
                ndo_change_rx_flags: Some(change_rx_flags_tramp::<T>),
                ndo_set_mac_address: Some(set_mac_address_tramp::<T>),
                ndo_set_rx_mode: Some(set_rx_mode_tramp::<T>),
                ndo_get_stats64: Some(get_stats64_tramp::<T>),
                ndo_vlan_rx_add_vid: Some(vlan_rx_add_vid_tramp::<T>),
                ndo_vlan_rx_kill_vid: Some(vlan_rx_kill_vid_tramp::<T>),
                ndo_fdb_add: Some(fdb_add_tramp::<T>),
                ndo_fdb_del: Some(fdb_del_tramp::<T>),
                ndo_fdb_dump: Some(bindings::ndo_dflt_fdb_dump),
                ndo_hwtstamp_get: Some(hwtstamp_get_tramp::<T>),
                ndo_hwtstamp_set: Some(hwtstamp_set_tramp::<T>),
                #[cfg(CONFIG_NET_POLL_CONTROLLER)]
                ndo_poll_controller: Some(poll_controller_tramp),
                #[cfg(CONFIG_NET_POLL_CONTROLLER)]
                ndo_netpoll_setup: Some(netpoll_setup_tramp::<T>),
                #[cfg(CONFIG_NET_POLL_CONTROLLER)]
                ndo_netpoll_cleanup: Some(netpoll_cleanup_tramp::<T>),
                ndo_validate_addr: Some(bindings::eth_validate_addr),
                ndo_get_iflink: Some(get_iflink_tramp::<T>),
                ndo_features_check: Some(bindings::passthru_features_check),
                // SAFETY: all-zero is valid: unset callbacks are NULL.
                ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
            })),
            ethtool_ops: Table(Opaque::new(bindings::ethtool_ops {
                get_link: Some(bindings::ethtool_op_get_link),
                get_drvinfo: Some(get_drvinfo_tramp::<T>),
                get_link_ksettings: Some(get_link_ksettings_tramp::<T>),
                get_ts_info: Some(get_ts_info_tramp::<T>),
                get_sset_count: Some(get_sset_count_tramp::<T>),
                get_strings: Some(get_strings_tramp::<T>),
                get_ethtool_stats: Some(get_ethtool_stats_tramp::<T>),
                // SAFETY: all-zero is valid: unset callbacks are NULL.
                ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
            })),
            header_ops: Table(Opaque::new(bindings::header_ops {
                create: Some(header_create_tramp::<T>),
                parse: Some(bindings::eth_header_parse),
                cache: Some(bindings::eth_header_cache),
                cache_update: Some(bindings::eth_header_cache_update),
                parse_protocol: Some(bindings::eth_header_parse_protocol),
                // SAFETY: all-zero is valid: unset callbacks are NULL.
                ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
            })),
        }
    }
}

/// A registered link type; unregistering deletes its devices.
///
/// # Invariants
///
/// `self.0`'s `rtnl_link_ops` are registered.
pub(crate) struct LinkRegistration(&'static LinkVTables);

impl LinkRegistration {
    /// Registers the link kind (`rtnl_link_register`). Fails with `EEXIST`
    /// when another driver owns the kind.
    pub(crate) fn register(vt: &'static LinkVTables) -> Result<Self> {
        // SAFETY: the table is static and valid.
        to_result(unsafe { bindings::rtnl_link_register(vt.link_ops.0.get()) })?;
        // INVARIANT: just registered.
        Ok(Self(vt))
    }
}

impl Drop for LinkRegistration {
    fn drop(&mut self) {
        // SAFETY: registered by the type invariant. This deletes every
        // device of the kind, as the C driver's module exit does.
        unsafe { bindings::rtnl_link_unregister(self.0.link_ops.0.get()) };
    }
}

fn errno(r: Result) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn setup_tramp<T: Link>(dev: *mut bindings::net_device) {
    // SAFETY: the core passes a freshly allocated device.
    let nd = unsafe { NetDevice::from_raw(dev) };
    let vt = T::vtables();
    // SAFETY: `dev` is valid and not registered; the tables are static.
    unsafe {
        bindings::mvv_upper_setup_common(dev);
        (*dev).netdev_ops = vt.netdev_ops.0.get();
        (*dev).ethtool_ops = vt.ethtool_ops.0.get();
        (*dev).header_ops = vt.header_ops.0.get();
        (*dev).priv_destructor = Some(destructor_tramp::<T>);
    }
    T::setup(nd);
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn validate_tramp<T: Link>(
    tb: *mut *mut bindings::nlattr,
    data: *mut *mut bindings::nlattr,
    extack: *mut bindings::netlink_ext_ack,
) -> i32 {
    // SAFETY: the core passes tables parsed against IFLA_MAX and our
    // maxtype, and an ack, all valid for the call.
    let (tb, data, mut ack) = unsafe {
        (
            Attrs::from_raw(tb, IFLA_MAX),
            Attrs::from_raw(data, T::vtables().maxtype()),
            ExtAck::from_raw(extack),
        )
    };
    let Some(tb) = tb else { return 0 };
    errno(T::validate(tb, data, &mut ack))
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn newlink_tramp<T: Link>(
    src_net: *mut bindings::net,
    dev: *mut bindings::net_device,
    tb: *mut *mut bindings::nlattr,
    data: *mut *mut bindings::nlattr,
    extack: *mut bindings::netlink_ext_ack,
) -> i32 {
    // SAFETY: `newlink` runs under RTNL with a device set up by our
    // `setup`, and tables and ack valid for the call.
    unsafe {
        let rtnl = Rtnl::assume_held();
        let Some(tb) = Attrs::from_raw(tb, IFLA_MAX) else {
            return Error::from_errno(-22).to_errno();
        };
        let data = Attrs::from_raw(data, T::vtables().maxtype());
        let mut ack = ExtAck::from_raw(extack);
        errno(T::newlink(
            rtnl,
            src_net,
            Upper::<T>::from_raw(dev),
            tb,
            data,
            &mut ack,
        ))
    }
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn changelink_tramp<T: Link>(
    dev: *mut bindings::net_device,
    tb: *mut *mut bindings::nlattr,
    data: *mut *mut bindings::nlattr,
    extack: *mut bindings::netlink_ext_ack,
) -> i32 {
    // SAFETY: `changelink` runs under RTNL on one of our devices, with
    // tables and ack valid for the call.
    unsafe {
        let rtnl = Rtnl::assume_held();
        let tb = Attrs::from_raw(tb, IFLA_MAX);
        let data = Attrs::from_raw(data, T::vtables().maxtype());
        let mut ack = ExtAck::from_raw(extack);
        errno(T::changelink(
            rtnl,
            Upper::<T>::from_raw(dev),
            tb,
            data,
            &mut ack,
        ))
    }
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn dellink_tramp<T: Link>(
    dev: *mut bindings::net_device,
    head: *mut bindings::list_head,
) {
    // SAFETY: `dellink` runs under RTNL on one of our devices; `head` is
    // NULL or the caller's batch.
    unsafe {
        let mut queue = UnregisterQueue(head, PhantomData);
        T::dellink(Rtnl::assume_held(), Upper::<T>::from_raw(dev), &mut queue)
    }
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn get_size_tramp<T: Link>(dev: *const bindings::net_device) -> usize {
    // SAFETY: called under RTNL (or RCU for dumps) on one of our devices.
    T::info_size(unsafe { Upper::<T>::from_raw(dev.cast_mut()) })
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn fill_info_tramp<T: Link>(
    skb: *mut bindings::sk_buff,
    dev: *const bindings::net_device,
) -> i32 {
    // SAFETY: the message skb and one of our devices, valid for the call.
    unsafe {
        let mut msg = NlMsg::from_raw(skb);
        errno(T::fill_info(Upper::<T>::from_raw(dev.cast_mut()), &mut msg))
    }
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn get_link_net_tramp<T: Link>(
    dev: *const bindings::net_device,
) -> *mut bindings::net {
    // SAFETY: one of our devices, valid for the call.
    T::lower(unsafe { Upper::<T>::from_raw(dev.cast_mut()) }).net()
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn init_tramp<T: Link>(dev: *mut bindings::net_device) -> i32 {
    // SAFETY: `ndo_init` runs under RTNL on one of our devices.
    unsafe { errno(T::init(Rtnl::assume_held(), Upper::<T>::from_raw(dev))) }
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn uninit_tramp<T: Link>(dev: *mut bindings::net_device) {
    // SAFETY: `ndo_uninit` runs under RTNL on one of our devices.
    unsafe { T::uninit(Rtnl::assume_held(), Upper::<T>::from_raw(dev)) }
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn destructor_tramp<T: Link>(dev: *mut bindings::net_device) {
    // SAFETY: one of our devices, about to be freed.
    T::destruct(unsafe { Upper::<T>::from_raw(dev) })
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn open_tramp<T: Link>(dev: *mut bindings::net_device) -> i32 {
    // SAFETY: `ndo_open` runs under RTNL on one of our devices.
    unsafe { errno(T::open(Rtnl::assume_held(), Upper::<T>::from_raw(dev))) }
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn stop_tramp<T: Link>(dev: *mut bindings::net_device) -> i32 {
    // SAFETY: `ndo_stop` runs under RTNL on one of our devices.
    unsafe { T::stop(Rtnl::assume_held(), Upper::<T>::from_raw(dev)) };
    0
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn start_xmit_tramp<T: Link>(
    skb: *mut bindings::sk_buff,
    dev: *mut bindings::net_device,
) -> bindings::netdev_tx_t {
    // SAFETY: the core gives us the skb and calls under rcu_read_lock_bh.
    let (skb, rcu) = unsafe { (Skb::from_raw(skb), Rcu::assume_held()) };
    let Some(skb) = skb else {
        return bindings::netdev_tx_NETDEV_TX_OK;
    };
    // SAFETY: one of our devices, valid for the call.
    let up = unsafe { Upper::<T>::from_raw(dev) };
    #[cfg(CONFIG_NET_POLL_CONTROLLER)]
    // SAFETY: `dev` is valid; netpoll transmits with interrupts off.
    if unsafe { bindings::mvv_netpoll_tx_running(dev) } {
        let np = T::netpoll(up).load();
        if !np.is_null() {
            // SAFETY: a live netpoll (type invariant); it takes the skb.
            return unsafe { bindings::mvv_netpoll_send_skb(np, skb.into_raw()) };
        }
    }
    // The skb is always used up; every `NET_XMIT_*` code is one that
    // `dev_xmit_complete()` takes as consumed, so the core never requeues.
    // CAST: `netdev_tx_t` is the C `enum netdev_tx`, an `int` that callers
    // read as `NET_XMIT_*` when it is not `NETDEV_TX_BUSY`, as C drivers
    // return `dev_queue_xmit()`'s result through it.
    T::start_xmit(up, skb, rcu).0 as bindings::netdev_tx_t
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
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
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
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
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn set_rx_mode_tramp<T: Link>(dev: *mut bindings::net_device) {
    // SAFETY: one of our devices, with its address list lock held.
    T::set_rx_mode(unsafe { Upper::<T>::from_raw(dev) })
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
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
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn fix_features_tramp<T: Link>(
    dev: *mut bindings::net_device,
    features: u64,
) -> u64 {
    // SAFETY: under RTNL, one of our devices.
    T::fix_features(unsafe { Upper::<T>::from_raw(dev) }, features)
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn get_iflink_tramp<T: Link>(dev: *const bindings::net_device) -> i32 {
    // SAFETY: one of our devices, valid for the call.
    T::lower(unsafe { Upper::<T>::from_raw(dev.cast_mut()) }).ifindex()
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
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
/// Only for the C side: one of our devices and a stats struct to fill.
unsafe extern "C" fn get_stats64_tramp<T: Link>(
    dev: *mut bindings::net_device,
    out: *mut bindings::rtnl_link_stats64,
) {
    // SAFETY: valid for the call, as the core promises.
    unsafe { T::stats64(Upper::<T>::from_raw(dev), &mut *out) }
}

/// # Safety
///
/// Only for the C side, under RTNL, on one of our devices.
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
/// Only for the C side, under RTNL, on one of our devices.
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
/// Only for the C side, under RTNL; `addr` points to `ETH_ALEN` bytes.
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
/// Only for the C side, under RTNL; `addr` points to `ETH_ALEN` bytes.
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
/// Only for the C side, on one of our devices.
unsafe extern "C" fn get_ts_info_tramp<T: Link>(
    dev: *mut bindings::net_device,
    info: *mut bindings::kernel_ethtool_ts_info,
) -> i32 {
    // SAFETY: timestamping is the lower (real) device's.
    unsafe {
        bindings::ethtool_get_ts_info_by_layer(T::lower(Upper::<T>::from_raw(dev)).as_ptr(), info)
    }
}

/// # Safety
///
/// Only for the C side, under RTNL, on one of our devices.
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
/// Only for the C side, under RTNL, on one of our devices.
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

fn copy_cstr(dst: &mut [u8], src: &CStr) {
    let bytes = src.as_bytes();
    let n = bytes.len().min(dst.len().saturating_sub(1));
    dst[..n].copy_from_slice(&bytes[..n]);
    if let Some(end) = dst.get_mut(n) {
        *end = 0;
    }
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn get_drvinfo_tramp<T: Link>(
    _dev: *mut bindings::net_device,
    info: *mut bindings::ethtool_drvinfo,
) {
    // SAFETY: `info` is valid for the call.
    let info = unsafe { &mut *info };
    copy_cstr(&mut info.driver, T::DRIVER_NAME);
    copy_cstr(&mut info.version, T::DRIVER_VERSION);
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn get_link_ksettings_tramp<T: Link>(
    dev: *mut bindings::net_device,
    cmd: *mut bindings::ethtool_link_ksettings,
) -> i32 {
    // SAFETY: one of our devices under RTNL; `cmd` valid for the call.
    unsafe {
        bindings::mvv_ethtool_link_ksettings_lower(
            T::lower(Upper::<T>::from_raw(dev)).as_ptr(),
            cmd,
        )
    }
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn get_sset_count_tramp<T: Link>(
    _dev: *mut bindings::net_device,
    sset: i32,
) -> i32 {
    if sset == bindings::ethtool_stringset_ETH_SS_STATS as i32 {
        // CAST: a handful of counters.
        T::STATS_NAMES.len() as i32
    } else {
        super::errno::EOPNOTSUPP().to_errno()
    }
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn get_strings_tramp<T: Link>(
    _dev: *mut bindings::net_device,
    sset: u32,
    data: *mut u8,
) {
    if sset != bindings::ethtool_stringset_ETH_SS_STATS {
        return;
    }
    const LEN: usize = bindings::ETH_GSTRING_LEN as usize;
    for (i, name) in T::STATS_NAMES.iter().enumerate() {
        // SAFETY: the core sized `data` as `get_sset_count` said: one
        // `ETH_GSTRING_LEN` slot per counter.
        let slot = unsafe { core::slice::from_raw_parts_mut(data.add(i * LEN), LEN) };
        copy_cstr(slot, name);
    }
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn get_ethtool_stats_tramp<T: Link>(
    dev: *mut bindings::net_device,
    _stats: *mut bindings::ethtool_stats,
    data: *mut u64,
) {
    // SAFETY: `data` has one slot per counter, as `get_sset_count` said;
    // one of our devices.
    unsafe {
        let out = core::slice::from_raw_parts_mut(data, T::STATS_NAMES.len());
        T::stats(Upper::<T>::from_raw(dev), out)
    }
}

impl LinkVTables {
    fn maxtype(&self) -> u32 {
        // SAFETY: `maxtype` is set at construction and never written.
        unsafe { (*self.link_ops.0.get()).maxtype }
    }
}

/// Result of an rx handler.
pub(crate) enum RxResult {
    /// The handler took the skb.
    Consumed,
    /// Run the receive path again, for the skb's new device.
    Another(Skb),
    /// Let the lower device's receive path go on.
    Pass(Skb),
}

/// An rx handler (`netdev_rx_handler_register`).
pub(crate) trait RxHandler: 'static {
    /// State shared with the handler (`rx_handler_data`).
    type Data: Sync;

    /// Handles one received frame.
    fn handle(data: &Self::Data, skb: Skb, rcu: Rcu<'_>) -> RxResult;
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn rx_tramp<H: RxHandler>(
    pskb: *mut *mut bindings::sk_buff,
) -> bindings::rx_handler_result_t {
    // SAFETY: the core passes a valid skb that we may replace, and runs us
    // under rcu_read_lock.
    let (skb, rcu) = unsafe { (Skb::from_raw(*pskb), Rcu::assume_held()) };
    let Some(skb) = skb else {
        return bindings::rx_handler_result_RX_HANDLER_PASS;
    };
    let Some(dev) = skb.dev() else {
        // An skb on the rx path always has a device; give it back untouched.
        // SAFETY: `pskb` is valid.
        unsafe { *pskb = skb.into_raw() };
        return bindings::rx_handler_result_RX_HANDLER_PASS;
    };
    // `rcu_dereference(dev->rx_handler_data)`: on the architectures the
    // kernel supports with Rust, a volatile load orders like it.
    // SAFETY: the handler was registered with a `H::Data` that lives until
    // after `netdev_rx_handler_unregister` and a grace period.
    let data =
        unsafe { &*core::ptr::read_volatile(&(*dev.as_ptr()).rx_handler_data).cast::<H::Data>() };
    match H::handle(data, skb, rcu) {
        RxResult::Consumed => bindings::rx_handler_result_RX_HANDLER_CONSUMED,
        RxResult::Another(skb) => {
            // SAFETY: `pskb` is valid; the skb goes back to the core.
            unsafe { *pskb = skb.into_raw() };
            bindings::rx_handler_result_RX_HANDLER_ANOTHER
        }
        RxResult::Pass(skb) => {
            // SAFETY: as above.
            unsafe { *pskb = skb.into_raw() };
            bindings::rx_handler_result_RX_HANDLER_PASS
        }
    }
}

/// Installs `H` as `dev`'s rx handler with `data`. Fails with `EBUSY` when
/// the device has another rx handler.
///
/// # Safety
///
/// `data` must stay valid until [`rx_handler_unregister`] has returned and
/// an RCU grace period has passed.
pub(crate) unsafe fn rx_handler_register<H: RxHandler>(
    _rtnl: Rtnl<'_>,
    dev: &NetDevice,
    data: *const H::Data,
) -> Result {
    // SAFETY: the device is valid, RTNL is held, and the caller keeps
    // `data` alive as required.
    to_result(unsafe {
        bindings::netdev_rx_handler_register(
            dev.as_ptr(),
            Some(rx_tramp::<H>),
            data.cast_mut().cast(),
        )
    })
}

/// Removes the rx handler of `dev` (`netdev_rx_handler_unregister`, which
/// waits for a grace period).
pub(crate) fn rx_handler_unregister(_rtnl: Rtnl<'_>, dev: &NetDevice) {
    // SAFETY: the device is valid and RTNL is held.
    unsafe { bindings::netdev_rx_handler_unregister(dev.as_ptr()) };
}

/// The data of `dev`'s rx handler, if that handler is `H`.
pub(crate) fn rx_handler_data<'a, H: RxHandler>(
    rtnl: Rtnl<'a>,
    dev: &'a NetDevice,
) -> Option<&'a H::Data> {
    let handler = dev.rx_handler(rtnl)?;
    if handler as usize != rx_tramp::<H> as usize {
        return None;
    }
    // SAFETY: the handler is `H`'s, registered with a `H::Data` pointer that
    // stays valid while it is installed, which RTNL guarantees for `'a`.
    unsafe {
        bindings::mvv_rx_handler_data_rtnl(dev.as_ptr())
            .cast::<H::Data>()
            .as_ref()
    }
}

/// A netdevice notifier (`register_netdevice_notifier`).
pub(crate) trait NetdevNotifier: 'static {
    /// Handles `event` for `dev`; returns a `NOTIFY_*` code.
    fn event(rtnl: Rtnl<'_>, event: u32, dev: &NetDevice) -> i32;
}

/// The `notifier_block` of a [`NetdevNotifier`], in a static.
pub(crate) struct Notifier(Table<bindings::notifier_block>);

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn notifier_tramp<N: NetdevNotifier>(
    _nb: *mut bindings::notifier_block,
    event: usize,
    ptr: *mut core::ffi::c_void,
) -> i32 {
    // SAFETY: netdevice notifiers run under RTNL with a
    // `netdev_notifier_info` whose `dev` is valid for the call.
    unsafe {
        let info = ptr.cast::<bindings::netdev_notifier_info>();
        let dev = NetDevice::from_raw((*info).dev);
        // CAST: `NETDEV_*` events are small.
        N::event(Rtnl::assume_held(), event as u32, dev)
    }
}

impl Notifier {
    /// Builds the block for `N`.
    pub(crate) const fn new<N: NetdevNotifier>() -> Self {
        Self(Table(Opaque::new(bindings::notifier_block {
            notifier_call: Some(notifier_tramp::<N>),
            // SAFETY: all-zero is valid for the rest (NULL next, priority 0).
            ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
        })))
    }
}

/// A registered notifier.
///
/// # Invariants
///
/// `self.0` is registered.
pub(crate) struct NotifierRegistration(&'static Notifier);

impl NotifierRegistration {
    /// Registers the block.
    pub(crate) fn register(n: &'static Notifier) -> Result<Self> {
        // SAFETY: the block is static.
        to_result(unsafe { bindings::register_netdevice_notifier(n.0 .0.get()) })?;
        Ok(Self(n))
    }
}

impl Drop for NotifierRegistration {
    fn drop(&mut self) {
        // SAFETY: registered by the type invariant.
        unsafe { bindings::unregister_netdevice_notifier(self.0 .0 .0.get()) };
    }
}

/// A batch of devices to unregister together, with one RCU grace period
/// for all (`unregister_netdevice_many`).
///
/// # Invariants
///
/// `head` is an initialized list head; the value is pinned because the
/// queued devices point back into it.
#[pin_data]
pub(crate) struct UnregisterBatch {
    #[pin]
    head: Opaque<bindings::list_head>,
}

impl UnregisterBatch {
    /// An empty batch.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `INIT_LIST_HEAD` initializes the slot in place.
            head <- Opaque::ffi_init(|p| unsafe { bindings::mvv_init_list_head(p) }),
        })
    }

    /// A queue that adds to this batch.
    pub(crate) fn queue(self: Pin<&mut Self>) -> UnregisterQueue<'_> {
        UnregisterQueue(self.head.get(), PhantomData)
    }

    /// Unregisters every queued device.
    pub(crate) fn commit(self: Pin<&mut Self>, _rtnl: Rtnl<'_>) {
        // SAFETY: the head is initialized and holds devices queued under
        // RTNL, which is held.
        unsafe { bindings::unregister_netdevice_many(self.head.get()) };
    }
}
