// SPDX-License-Identifier: GPL-2.0

//! Link types (`rtnl_link_ops`) of Ethernet devices stacked on a lower
//! device, built from the [`Link`] trait: the link operations here, the
//! device operations in [`super::netdev_ops`], ethtool's in
//! [`super::ethtool`], netpoll's in [`super::netpoll`].
//!
//! A device's private state is initialised by `newlink` ([`NewUpper`]) and
//! dropped by its destructor; in between the device is an [`Upper`]. The C
//! tables of a link type live in a `static` that [`declare_link!`] makes,
//! and [`LinkRegistration`] registers them.

use super::bindings;
use super::device::{Net, NetDevice};
use super::netlink::{Attrs, ExtAck, NlMsg, Policy};
use super::skb::Skb;
use super::sync::{Rcu, Rtnl};
use super::{ethtool, netdev_ops};
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use kernel::error::{to_result, Error, Result, VTABLE_DEFAULT_ERROR};
use kernel::init::PinInit;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::Opaque;

pub(crate) use super::ether::MacAddr;
pub(crate) use super::netdev_ops::TxStatus;
#[cfg(CONFIG_NET_POLL_CONTROLLER)]
pub(crate) use super::netpoll::Netpoll;

/// Highest `IFLA_*` attribute type.
const IFLA_MAX: u32 = bindings::__IFLA_MAX - 1;

/// The private area of a device of link type `T`: its state, once `newlink`
/// has initialised it.
///
/// # Invariants
///
/// `data` is initialised exactly when `initialised` is true. Both are
/// written only while no other context can reach the device: in `newlink`
/// before registration, and in `priv_destructor` (or when `newlink` fails)
/// after the last reference is gone.
#[repr(C)]
pub(super) struct PrivArea<P> {
    initialised: bool,
    data: MaybeUninit<P>,
}

impl<P> PrivArea<P> {
    /// The area of `dev`.
    ///
    /// # Safety
    ///
    /// `dev` must be a valid device whose `priv_size` was that of
    /// `PrivArea<P>`, as `LinkVTables::new::<T>` sets for `P = T::Private`.
    pub(super) unsafe fn of(dev: &NetDevice) -> *mut Self {
        dev.priv_ptr().cast()
    }

    /// Drops the state if it is initialised.
    ///
    /// # Safety
    ///
    /// `area` must be a valid area, and no reference to its data may be used
    /// afterwards.
    pub(super) unsafe fn drop_data(area: *mut Self) {
        // SAFETY: valid by the caller's guarantee.
        let area = unsafe { &mut *area };
        if core::mem::replace(&mut area.initialised, false) {
            // SAFETY: initialised (type invariant), and nothing uses it after
            // this (the caller's guarantee).
            unsafe { area.data.assume_init_drop() };
        }
    }
}

/// A device of link type `T`, with its private state initialised.
///
/// # Invariants
///
/// The device's `netdev_ops` are `T`'s, so its private area is a
/// `PrivArea<T::Private>`, whose state is initialised; the device is valid
/// for the borrow.
#[repr(transparent)]
pub(crate) struct Upper<T: Link>(NetDevice, PhantomData<T>);

impl<T: Link> Upper<T> {
    /// # Safety
    ///
    /// `ptr` must be a valid device of link type `T` whose private state is
    /// initialised, alive for `'a`: a registered device, or one registering.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::net_device) -> &'a Self {
        // CAST: `Upper<T>` is a transparent wrapper of `NetDevice`, itself one
        // of `net_device`.
        // SAFETY: guaranteed by the caller.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The plain device.
    pub(crate) fn dev(&self) -> &NetDevice {
        &self.0
    }

    /// The private state.
    pub(crate) fn state(&self) -> &T::Private {
        // SAFETY: by the type invariant the area holds an initialised
        // `T::Private`, dropped only once nothing refers to the device.
        unsafe {
            (*PrivArea::<T::Private>::of(&self.0))
                .data
                .assume_init_ref()
        }
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

impl<T: HasLinkVTables> Upper<T> {
    /// Returns `dev` as a device of type `T` if its ops are `T`'s and its
    /// state is initialised.
    pub(crate) fn try_from_dev(dev: &NetDevice) -> Option<&Self> {
        // SAFETY: the device is valid; `netdev_ops` is set before
        // registration and never changes.
        let ops = unsafe { (*dev.as_ptr()).netdev_ops };
        if !core::ptr::eq(ops, T::vtables().netdev_ops.0.get()) {
            return None;
        }
        // SAFETY: the ops are `T`'s, so the area is a `PrivArea<T::Private>`;
        // `initialised` changes only while nobody else can reach the device.
        if !unsafe { (*PrivArea::<T::Private>::of(dev)).initialised } {
            return None;
        }
        // SAFETY: a device of type `T` with its state initialised.
        Some(unsafe { Self::from_raw(dev.as_ptr()) })
    }
}

/// A device in `rtnl_link_ops.setup`, just allocated.
///
/// # Invariants
///
/// The device is not registered and nobody else refers to it yet.
pub(crate) struct SetupDevice<'a>(&'a NetDevice);

impl SetupDevice<'_> {
    /// Sets the device up as one stacked on a lower device: no queue,
    /// unicast filtering, keeps `dst`, may be protodown, no MTU limit of its
    /// own (`ether_setup` has run).
    pub(crate) fn stacked(&self) {
        // SAFETY: the device is valid, and nothing else uses it yet (type
        // invariant).
        unsafe { bindings::mvv_stacked_setup(self.0.as_ptr()) };
    }
}

/// A device of link type `T` in `newlink`, before its private state exists.
///
/// # Invariants
///
/// `dev` is a device of link type `T`, allocated by the core and not yet
/// registered, whose private state is not initialised; RTNL is held for `'a`.
pub(crate) struct NewUpper<'a, T: Link> {
    dev: &'a NetDevice,
    _link: PhantomData<T>,
}

impl<'a, T: Link> NewUpper<'a, T> {
    /// The device, to set its address and MTU before registration.
    pub(crate) fn dev(&self) -> &'a NetDevice {
        self.dev
    }

    /// A reference to the device for its own private state.
    pub(crate) fn owner(&self) -> OwnerDev {
        // INVARIANT: the state being initialised lives in this device's private
        // area, which the device frees only after dropping the state.
        OwnerDev(NonNull::from(self.dev))
    }

    /// Initialises the private state; the device is then an [`Upper`]. If
    /// `newlink` fails before the device is registered, the state is dropped
    /// again.
    pub(crate) fn init_private(
        self,
        init: impl PinInit<T::Private, Error>,
    ) -> Result<&'a Upper<T>> {
        // SAFETY: a device of type `T` (type invariant).
        let area = unsafe { PrivArea::<T::Private>::of(self.dev) };
        // SAFETY: the area is valid, not initialised and reachable only from
        // here (type invariant); the private area never moves.
        unsafe { init.__pinned_init((*area).data.as_mut_ptr())? };
        // INVARIANT: just initialised.
        // SAFETY: as above.
        unsafe { (*area).initialised = true };
        // SAFETY: a device of type `T` whose state is now initialised.
        Ok(unsafe { Upper::from_raw(self.dev.as_ptr()) })
    }
}

/// The device whose private area holds this value.
///
/// # Invariants
///
/// Points to the device whose private state this value is part of; the
/// device outlives its private state.
pub(crate) struct OwnerDev(NonNull<NetDevice>);

// SAFETY: a `NetDevice` may be used from any CPU (it is `Sync`).
unsafe impl Send for OwnerDev {}
// SAFETY: as for `Send`.
unsafe impl Sync for OwnerDev {}

impl OwnerDev {
    /// The device.
    pub(crate) fn get(&self) -> &NetDevice {
        // SAFETY: by the type invariant the device outlives `self`.
        unsafe { self.0.as_ref() }
    }
}

/// A link type of Ethernet devices stacked on a lower device.
///
/// The callbacks mirror `rtnl_link_ops` and `net_device_ops`; each takes
/// the context tokens that hold when the C side calls it. Optional ones
/// that a type does not implement are left NULL in the C tables, so the
/// core's default applies.
#[vtable]
pub(crate) trait Link: Sized + 'static {
    /// State kept in the device's private area: initialised by `newlink`
    /// ([`NewUpper::init_private`]), dropped by `priv_destructor`.
    type Private: Send + Sync;

    /// The link kind (`ip link add ... type KIND`).
    const KIND: &'static CStr;
    /// The policy of the `IFLA_INFO_DATA` attributes, indexed by type; its
    /// length is the highest type plus one.
    const POLICY: &'static [Policy];
    /// Driver name for `ethtool -i`.
    const DRIVER_NAME: &'static CStr;
    /// Driver version for `ethtool -i`.
    const DRIVER_VERSION: &'static CStr;
    /// Names of the `ethtool -S` counters ([`Link::stats`]).
    const STATS_NAMES: &'static [&'static CStr] = &[];

    /// Further setup of a freshly allocated device, after `ether_setup`.
    fn setup(_dev: &SetupDevice<'_>) {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `validate`: check a request before anything is allocated.
    fn validate(_tb: Attrs<'_>, _data: Option<Attrs<'_>>, _extack: &mut ExtAck<'_>) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `newlink`: set up and register a new device.
    fn newlink(
        rtnl: Rtnl<'_>,
        src_net: &Net,
        dev: NewUpper<'_, Self>,
        tb: Attrs<'_>,
        data: Option<Attrs<'_>>,
        extack: &mut ExtAck<'_>,
    ) -> Result;
    /// `changelink`: change a device's attributes.
    fn changelink(
        _rtnl: Rtnl<'_>,
        _dev: &Upper<Self>,
        _tb: Option<Attrs<'_>>,
        _data: Option<Attrs<'_>>,
        _extack: &mut ExtAck<'_>,
    ) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `dellink`: queue a device for deletion.
    fn dellink(rtnl: Rtnl<'_>, dev: &Upper<Self>, queue: &mut UnregisterQueue<'_>);
    /// `get_size`: room `fill_info` needs.
    fn info_size(_dev: &Upper<Self>) -> usize {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `fill_info`: the `IFLA_INFO_DATA` attributes.
    fn fill_info(_dev: &Upper<Self>, _msg: &mut NlMsg) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// The lower device (`get_iflink`, `get_link_net`, header creation,
    /// VLAN filters, timestamping, ethtool link settings, netpoll).
    fn lower(dev: &Upper<Self>) -> &NetDevice;

    /// `ndo_init`.
    fn init(_rtnl: Rtnl<'_>, _dev: &Upper<Self>) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `ndo_uninit`.
    fn uninit(_rtnl: Rtnl<'_>, _dev: &Upper<Self>) {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `ndo_open`.
    fn open(_rtnl: Rtnl<'_>, _dev: &Upper<Self>) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `ndo_stop`.
    fn stop(_rtnl: Rtnl<'_>, _dev: &Upper<Self>) {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `ndo_start_xmit`. Called under `rcu_read_lock_bh`.
    fn start_xmit(dev: &Upper<Self>, skb: Skb, rcu: Rcu<'_>) -> TxStatus;
    /// `ndo_change_mtu`.
    fn change_mtu(_rtnl: Rtnl<'_>, _dev: &Upper<Self>, _mtu: u32) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `ndo_set_mac_address`, with the address already checked to be valid.
    fn set_mac_address(_rtnl: Rtnl<'_>, _dev: &Upper<Self>, _addr: MacAddr) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `ndo_set_rx_mode`, under the device's address list lock.
    fn set_rx_mode(_dev: &Upper<Self>) {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `ndo_change_rx_flags`.
    fn change_rx_flags(_rtnl: Rtnl<'_>, _dev: &Upper<Self>, _change: u32) {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `ndo_fix_features`.
    fn fix_features(_dev: &Upper<Self>, _features: u64) -> u64 {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// Values of the `ethtool -S` counters, in `STATS_NAMES` order.
    fn stats(_dev: &Upper<Self>, _out: &mut [u64]) {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `ndo_get_stats64`: add the device's counters into `out`.
    fn stats64(_dev: &Upper<Self>, _out: &mut bindings::rtnl_link_stats64) {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `ndo_fdb_add` for `addr`, with the request's `NLM_F_*` flags.
    fn fdb_add(_rtnl: Rtnl<'_>, _dev: &Upper<Self>, _addr: MacAddr, _flags: u16) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// `ndo_fdb_del` for `addr`.
    fn fdb_del(_rtnl: Rtnl<'_>, _dev: &Upper<Self>, _addr: MacAddr) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
    /// The netpoll state of `dev`: netconsole through the device, sent on
    /// the lower device.
    #[cfg(CONFIG_NET_POLL_CONTROLLER)]
    fn netpoll(_dev: &Upper<Self>) -> &Netpoll {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// A read-only C table that holds raw pointers, shareable between CPUs.
#[repr(transparent)]
pub(crate) struct Table<T>(pub(super) Opaque<T>);

// SAFETY: the tables are only read by the C side after construction, except
// `rtnl_link_ops`, which the core changes under RTNL when registering.
unsafe impl<T> Sync for Table<T> {}

/// The C tables of a link type.
pub(crate) struct LinkVTables {
    link_ops: Table<bindings::rtnl_link_ops>,
    pub(super) netdev_ops: Table<bindings::net_device_ops>,
    ethtool_ops: Table<bindings::ethtool_ops>,
    header_ops: Table<bindings::header_ops>,
}

/// The tables of a link type, in a `static` made by [`declare_link!`].
///
/// # Safety
///
/// `vtables` must return the same `static`, built by
/// `LinkVTables::new::<Self>()`, every time.
pub(crate) unsafe trait HasLinkVTables: Link {
    /// The tables.
    fn vtables() -> &'static LinkVTables;
}

/// Declares the C tables of link type `$type` ([`HasLinkVTables`]).
macro_rules! declare_link {
    ($type:ty) => {
        const _: () = {
            static VTABLES: $crate::net::link::LinkVTables =
                $crate::net::link::LinkVTables::new::<$type>();
            // SAFETY: the one static of this invocation, built for `$type`.
            unsafe impl $crate::net::link::HasLinkVTables for $type {
                fn vtables() -> &'static $crate::net::link::LinkVTables {
                    &VTABLES
                }
            }
        };
    };
}
pub(crate) use declare_link;

/// The highest `IFLA_INFO_DATA` attribute type of `T`.
pub(super) const fn maxtype<T: Link>() -> u32 {
    assert!(!T::POLICY.is_empty());
    // CAST: policies have far fewer than 2^32 entries.
    (T::POLICY.len() - 1) as u32
}

impl LinkVTables {
    /// Builds the tables for `T`.
    pub(crate) const fn new<T: HasLinkVTables>() -> Self {
        Self {
            link_ops: Table(Opaque::new(bindings::rtnl_link_ops {
                kind: T::KIND.as_char_ptr(),
                // CAST: private structs are far below 4 GiB.
                priv_size: core::mem::size_of::<PrivArea<T::Private>>() as _,
                setup: Some(setup_tramp::<T>),
                maxtype: maxtype::<T>(),
                // CAST: `Policy` is a transparent `nla_policy`.
                policy: T::POLICY.as_ptr().cast(),
                validate: if T::HAS_VALIDATE {
                    Some(validate_tramp::<T>)
                } else {
                    None
                },
                newlink: Some(newlink_tramp::<T>),
                changelink: if T::HAS_CHANGELINK {
                    Some(changelink_tramp::<T>)
                } else {
                    None
                },
                dellink: Some(dellink_tramp::<T>),
                get_size: if T::HAS_INFO_SIZE {
                    Some(get_size_tramp::<T>)
                } else {
                    None
                },
                fill_info: if T::HAS_FILL_INFO {
                    Some(fill_info_tramp::<T>)
                } else {
                    None
                },
                get_link_net: Some(get_link_net_tramp::<T>),
                // SAFETY: all-zero is valid for the remaining fields (NULL
                // pointers, empty list head that registration initializes).
                ..unsafe { MaybeUninit::zeroed().assume_init() }
            })),
            netdev_ops: Table(Opaque::new(netdev_ops::table::<T>())),
            ethtool_ops: Table(Opaque::new(ethtool::table::<T>())),
            header_ops: Table(Opaque::new(netdev_ops::header_table::<T>())),
        }
    }
}

/// A registered link type; unregistering deletes its devices.
///
/// # Invariants
///
/// `T`'s `rtnl_link_ops` are registered.
pub(crate) struct LinkRegistration<T: HasLinkVTables>(PhantomData<T>);

impl<T: HasLinkVTables> LinkRegistration<T> {
    /// Registers the link kind (`rtnl_link_register`). Fails with `EEXIST`
    /// when another driver owns the kind.
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: the table is static and valid.
        to_result(unsafe { bindings::rtnl_link_register(T::vtables().link_ops.0.get()) })?;
        // INVARIANT: just registered.
        Ok(Self(PhantomData))
    }
}

impl<T: HasLinkVTables> Drop for LinkRegistration<T> {
    fn drop(&mut self) {
        // SAFETY: registered by the type invariant. This deletes every
        // device of the kind, as the C driver's module exit does.
        unsafe { bindings::rtnl_link_unregister(T::vtables().link_ops.0.get()) };
    }
}

/// A batch of devices to unregister together, with one RCU grace period
/// for all (`unregister_netdevice_many`), when the batch is dropped.
///
/// # Invariants
///
/// `head` is an initialised list head; the value is pinned because the
/// queued devices point back into it, and it holds RTNL for `'a`, until the
/// devices leave the list in `drop`.
#[pin_data(PinnedDrop)]
pub(crate) struct UnregisterBatch<'a> {
    #[pin]
    head: Opaque<bindings::list_head>,
    rtnl: Rtnl<'a>,
}

impl<'a> UnregisterBatch<'a> {
    /// An empty batch.
    pub(crate) fn new(rtnl: Rtnl<'a>) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `INIT_LIST_HEAD` initialises the slot in place.
            head <- Opaque::ffi_init(|p| unsafe { bindings::mvv_init_list_head(p) }),
            rtnl,
        })
    }

    /// A queue that adds to this batch.
    pub(crate) fn queue(self: Pin<&mut Self>) -> UnregisterQueue<'_> {
        UnregisterQueue(self.head.get(), PhantomData)
    }
}

#[pinned_drop]
impl PinnedDrop for UnregisterBatch<'_> {
    fn drop(self: Pin<&mut Self>) {
        let _rtnl = self.rtnl;
        // SAFETY: the head is initialised and holds devices queued under
        // RTNL, which is still held (type invariant); an empty list is
        // fine. Afterwards no device points into the head.
        unsafe { bindings::unregister_netdevice_many(self.head.get()) };
    }
}

pub(super) fn errno(r: Result) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Only as `rtnl_link_ops.setup`, with a device just allocated by the core.
unsafe extern "C" fn setup_tramp<T: HasLinkVTables>(dev: *mut bindings::net_device) {
    let vt = T::vtables();
    // SAFETY: the core passes a freshly allocated device, not registered, that
    // nobody else sees yet; the tables are static. The core frees the device
    // after `priv_destructor` (`needs_free_netdev`).
    unsafe {
        bindings::ether_setup(dev);
        (*dev).needs_free_netdev = true;
        (*dev).netdev_ops = vt.netdev_ops.0.get();
        (*dev).ethtool_ops = vt.ethtool_ops.0.get();
        (*dev).header_ops = vt.header_ops.0.get();
        (*dev).priv_destructor = Some(destructor_tramp::<T>);
    }
    if T::HAS_SETUP {
        // INVARIANT: the device is being set up.
        // SAFETY: valid for the call, as above.
        T::setup(&SetupDevice(unsafe { NetDevice::from_raw(dev) }));
    }
}

/// # Safety
///
/// Only as `rtnl_link_ops.validate`, with attribute tables parsed against
/// `IFLA_MAX` and `T`'s policy, and an ack, valid for the call.
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
            Attrs::from_raw(data, maxtype::<T>()),
            ExtAck::from_raw(extack),
        )
    };
    let Some(tb) = tb else { return 0 };
    errno(T::validate(tb, data, &mut ack))
}

/// # Safety
///
/// Only as `rtnl_link_ops.newlink`, under RTNL, with a device that `T`'s
/// `setup` set up and that is not registered, and tables, namespace and ack
/// valid for the call.
unsafe extern "C" fn newlink_tramp<T: Link>(
    src_net: *mut bindings::net,
    dev: *mut bindings::net_device,
    tb: *mut *mut bindings::nlattr,
    data: *mut *mut bindings::nlattr,
    extack: *mut bindings::netlink_ext_ack,
) -> i32 {
    // SAFETY: `newlink` runs under RTNL with a device set up by our `setup`,
    // not registered, and tables and ack valid for the call.
    let (rtnl, src_net, nd, tb, data, mut ack) = unsafe {
        (
            Rtnl::assume_held(),
            Net::from_raw(src_net),
            NetDevice::from_raw(dev),
            Attrs::from_raw(tb, IFLA_MAX),
            Attrs::from_raw(data, maxtype::<T>()),
            ExtAck::from_raw(extack),
        )
    };
    let Some(tb) = tb else {
        return EINVAL.to_errno();
    };
    // INVARIANT: a fresh device of type `T`; only `init_private` initialises
    // its state.
    let new = NewUpper {
        dev: nd,
        _link: PhantomData,
    };
    let ret = T::newlink(rtnl, src_net, new, tb, data, &mut ack);
    if ret.is_err() && nd.is_uninitialized() {
        // Never registered, or `register_netdevice` failed (its
        // `priv_destructor` left the state to us): the core frees the device
        // without calling `priv_destructor` again. `T::newlink` has returned,
        // so no `&Upper<T>` is left.
        // SAFETY: a device of type `T` nobody else can reach.
        unsafe { PrivArea::<T::Private>::drop_data(PrivArea::of(nd)) };
    }
    errno(ret)
}

/// # Safety
///
/// Only as `rtnl_link_ops.changelink`, under RTNL, with a registered device
/// of link type `T` and tables and ack valid for the call.
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
        let data = Attrs::from_raw(data, maxtype::<T>());
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
/// Only as `rtnl_link_ops.dellink`, under RTNL, with a registered device of
/// link type `T` and `head` NULL or the caller's batch.
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
/// Only as `rtnl_link_ops.get_size`, with a registered device of link type
/// `T`.
unsafe extern "C" fn get_size_tramp<T: Link>(dev: *const bindings::net_device) -> usize {
    // SAFETY: called under RTNL (or RCU for dumps) on one of our devices.
    T::info_size(unsafe { Upper::<T>::from_raw(dev.cast_mut()) })
}

/// # Safety
///
/// Only as `rtnl_link_ops.fill_info`, with a registered device of link type
/// `T` and the message being built.
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
/// Only as `rtnl_link_ops.get_link_net`, with a registered device of link
/// type `T`.
unsafe extern "C" fn get_link_net_tramp<T: Link>(
    dev: *const bindings::net_device,
) -> *mut bindings::net {
    // SAFETY: one of our devices, valid for the call.
    T::lower(unsafe { Upper::<T>::from_raw(dev.cast_mut()) }).net()
}

/// # Safety
///
/// Only as `priv_destructor` of a device of link type `T`: once nothing
/// refers to it any more, or when its registration failed.
unsafe extern "C" fn destructor_tramp<T: Link>(dev: *mut bindings::net_device) {
    // SAFETY: a device of type `T`, valid for the call.
    let dev = unsafe { NetDevice::from_raw(dev) };
    if dev.is_uninitialized() {
        // `register_netdevice` failed, inside `T::newlink`, which may still
        // hold an `&Upper<T>`: `newlink_tramp` drops the state when it returns.
        return;
    }
    // SAFETY: a device of type `T` whose last reference is gone: nothing
    // uses its state any more.
    unsafe { PrivArea::<T::Private>::drop_data(PrivArea::of(dev)) };
}
