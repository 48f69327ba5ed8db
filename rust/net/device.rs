// SPDX-License-Identifier: GPL-2.0

//! Network devices.

use super::bindings;
use super::ether::{MacAddr, MacWord, ETH_ALEN};
use super::sync::Rtnl;
use kernel::error::{to_result, Result};
use kernel::types::{AlwaysRefCounted, Opaque};

/// A network namespace (`struct net`), borrowed.
///
/// # Invariants
///
/// The namespace is valid for the borrow.
#[repr(transparent)]
pub(crate) struct Net(Opaque<bindings::net>);

impl Net {
    /// # Safety
    ///
    /// `ptr` must be a valid namespace, alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::net) -> &'a Net {
        // CAST: `Net` is a transparent wrapper of `struct net`.
        // SAFETY: guaranteed by the caller.
        unsafe { &*ptr.cast::<Net>() }
    }

    /// The device with index `ifindex` in this namespace
    /// (`__dev_get_by_index`), valid while RTNL is held.
    pub(crate) fn dev_by_index<'a>(
        &'a self,
        _rtnl: Rtnl<'a>,
        ifindex: i32,
    ) -> Option<&'a NetDevice> {
        // SAFETY: the namespace is valid and RTNL is held.
        let dev = unsafe { bindings::__dev_get_by_index(self.0.get(), ifindex) };
        // SAFETY: NULL or a device that RTNL keeps registered for `'a`.
        unsafe { NetDevice::from_raw_opt(dev) }
    }
}

/// A `struct net_device`.
///
/// # Invariants
///
/// A `&NetDevice` points to a valid `net_device` for the whole borrow: it was
/// created from a pointer that the C side keeps alive (a device passed to a
/// callback, held with `dev_hold`, or found under RTNL or RCU).
#[repr(transparent)]
pub(crate) struct NetDevice(Opaque<bindings::net_device>);

// SAFETY: `net_device` is used from any CPU by the C side; the methods below
// only read fields that C reads locklessly too, or require a context token.
unsafe impl Sync for NetDevice {}
// SAFETY: see `Sync`; a reference count (`ARef`) may move between CPUs.
unsafe impl Send for NetDevice {}

impl NetDevice {
    /// Borrows a device from a pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `net_device` that stays alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::net_device) -> &'a NetDevice {
        // CAST: `NetDevice` is a transparent wrapper of `net_device`.
        // SAFETY: guaranteed by the caller.
        unsafe { &*ptr.cast::<NetDevice>() }
    }

    /// Like [`NetDevice::from_raw`], for a pointer that may be NULL.
    ///
    /// # Safety
    ///
    /// `ptr` is NULL or points to a valid `net_device` that stays alive for `'a`.
    pub(crate) unsafe fn from_raw_opt<'a>(ptr: *mut bindings::net_device) -> Option<&'a NetDevice> {
        // CAST: `NetDevice` is a transparent wrapper of `net_device`.
        // SAFETY: guaranteed by the caller.
        unsafe { ptr.cast::<NetDevice>().as_ref() }
    }

    /// The raw pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::net_device {
        self.0.get()
    }

    /// Interface index.
    pub(crate) fn ifindex(&self) -> i32 {
        // SAFETY: the device is valid; the index is only written at
        // registration and netns moves, and C reads it locklessly too.
        unsafe { core::ptr::read_volatile(&(*self.as_ptr()).ifindex) }
    }

    /// `dev->flags` (`IFF_*`).
    pub(crate) fn flags(&self) -> u32 {
        // `READ_ONCE(dev->flags)`: read per packet, so not through a helper.
        // SAFETY: the device is valid.
        unsafe { core::ptr::read_volatile(&(*self.as_ptr()).flags) }
    }

    /// Whether the administrative state is up (`IFF_UP`).
    pub(crate) fn is_up(&self) -> bool {
        self.flags() & bindings::net_device_flags_IFF_UP != 0
    }

    /// Whether the device is being unregistered.
    pub(crate) fn is_dismantling(&self) -> bool {
        // SAFETY: the device is valid.
        unsafe { bindings::mvv_netdev_dismantle(self.as_ptr()) }
    }

    /// MTU.
    pub(crate) fn mtu(&self) -> u32 {
        // SAFETY: the device is valid.
        unsafe { core::ptr::read_volatile(&(*self.as_ptr()).mtu) }
    }

    /// Largest MTU the device accepts.
    pub(crate) fn max_mtu(&self) -> u32 {
        // SAFETY: the device is valid.
        unsafe { (*self.as_ptr()).max_mtu }
    }

    /// Sets the MTU field and its range. Only for a device not yet registered.
    pub(crate) fn init_mtu(&self, _rtnl: Rtnl<'_>, mtu: Option<u32>, min: u32, max: u32) {
        // SAFETY: the device is valid and RTNL serializes writers.
        unsafe {
            let d = self.as_ptr();
            if let Some(mtu) = mtu {
                (*d).mtu = mtu;
            }
            (*d).min_mtu = min;
            (*d).max_mtu = max;
        }
    }

    /// ARPHRD type.
    pub(crate) fn hw_type(&self) -> u16 {
        // SAFETY: the device is valid.
        unsafe { (*self.as_ptr()).type_ }
    }

    /// Whether this is a loopback device.
    pub(crate) fn is_loopback(&self) -> bool {
        self.flags() & bindings::net_device_flags_IFF_LOOPBACK != 0
    }

    /// The hardware address.
    pub(crate) fn addr(&self) -> MacAddr {
        // Like C readers in the rx path, a concurrent address change may be
        // seen torn; callers compare with addresses RTNL keeps consistent.
        let mut a = [0u8; ETH_ALEN];
        // SAFETY: an Ethernet device's `dev_addr` points to at least
        // `ETH_ALEN` bytes for its whole life.
        unsafe {
            core::ptr::copy_nonoverlapping((*self.as_ptr()).dev_addr, a.as_mut_ptr(), ETH_ALEN)
        };
        MacAddr(a)
    }

    /// The hardware address read in place with one 8-byte load, as C's
    /// `ether_addr_equal_64bits()` reads it (the hot paths' hash lookups).
    #[inline]
    pub(crate) fn addr_word(&self) -> MacWord {
        const _: () = assert!(bindings::MAX_ADDR_LEN >= 8);
        // A concurrent change may be seen torn, as by `addr()`.
        // SAFETY: `dev_addr` points into the device's `netdev_hw_addr`'s
        // `addr[MAX_ADDR_LEN]` for the device's life: 8 bytes are readable.
        unsafe { MacWord::read((*self.as_ptr()).dev_addr) }
    }

    /// Sets the hardware address (`dev_addr_set`).
    pub(crate) fn set_addr(&self, _rtnl: Rtnl<'_>, addr: &MacAddr) {
        // SAFETY: the device is valid; RTNL is held as `dev_addr_set` needs.
        unsafe { bindings::mvv_dev_addr_set(self.as_ptr(), addr.0.as_ptr()) };
    }

    /// Takes the address of `from` and how it was assigned
    /// (`eth_hw_addr_inherit`), so that a stacked device reports a
    /// permanent or user-set address as such, not as random.
    pub(crate) fn inherit_addr(&self, _rtnl: Rtnl<'_>, from: &NetDevice) {
        // SAFETY: both devices are valid; RTNL is held as `dev_addr_set`
        // needs, and serialises `addr_assign_type` with its other writers.
        unsafe { bindings::mvv_eth_hw_addr_inherit(self.as_ptr(), from.as_ptr()) };
    }

    /// Gives the device a random locally administered address.
    pub(crate) fn set_random_addr(&self, _rtnl: Rtnl<'_>) {
        // SAFETY: the device is valid; RTNL is held.
        unsafe { bindings::mvv_eth_hw_addr_random(self.as_ptr()) };
    }

    /// The device's private area (`netdev_priv`).
    pub(crate) fn priv_ptr(&self) -> *mut core::ffi::c_void {
        // SAFETY: the device is valid.
        unsafe { bindings::mvv_netdev_priv(self.as_ptr()) }
    }

    /// The network namespace.
    pub(crate) fn net(&self) -> *mut bindings::net {
        // SAFETY: the device is valid.
        unsafe { bindings::mvv_dev_net(self.as_ptr()) }
    }

    /// Adds a unicast address to the device's filter.
    pub(crate) fn uc_add(&self, _rtnl: Rtnl<'_>, addr: &MacAddr) -> Result {
        // SAFETY: the device is valid; RTNL is held.
        to_result(unsafe { bindings::dev_uc_add(self.as_ptr(), addr.0.as_ptr()) })
    }

    /// Removes a unicast address from the device's filter.
    pub(crate) fn uc_del(&self, _rtnl: Rtnl<'_>, addr: &MacAddr) {
        // SAFETY: the device is valid; RTNL is held. Failure means the
        // address was not there, which callers have nothing to do about.
        unsafe { bindings::dev_uc_del(self.as_ptr(), addr.0.as_ptr()) };
    }

    /// Adds `addr` to the unicast or multicast list, failing with `EEXIST`
    /// if it is there (`dev_uc_add_excl`, `dev_mc_add_excl`).
    pub(crate) fn addr_add_excl(&self, _rtnl: Rtnl<'_>, addr: &MacAddr) -> Result {
        // SAFETY: the device is valid; RTNL is held.
        to_result(unsafe {
            if addr.is_multicast() {
                bindings::dev_mc_add_excl(self.as_ptr(), addr.0.as_ptr())
            } else {
                bindings::dev_uc_add_excl(self.as_ptr(), addr.0.as_ptr())
            }
        })
    }

    /// Removes `addr` from the unicast or multicast list.
    pub(crate) fn addr_del(&self, _rtnl: Rtnl<'_>, addr: &MacAddr) -> Result {
        // SAFETY: the device is valid; RTNL is held.
        to_result(unsafe {
            if addr.is_multicast() {
                bindings::dev_mc_del(self.as_ptr(), addr.0.as_ptr())
            } else {
                bindings::dev_uc_del(self.as_ptr(), addr.0.as_ptr())
            }
        })
    }

    /// Changes the allmulti count by `inc`.
    pub(crate) fn set_allmulti(&self, _rtnl: Rtnl<'_>, inc: i32) -> Result {
        // SAFETY: the device is valid; RTNL is held.
        to_result(unsafe { bindings::dev_set_allmulti(self.as_ptr(), inc) })
    }

    /// Changes the promiscuity count by `inc`.
    pub(crate) fn set_promiscuity(&self, _rtnl: Rtnl<'_>, inc: i32) -> Result {
        // SAFETY: the device is valid; RTNL is held.
        to_result(unsafe { bindings::dev_set_promiscuity(self.as_ptr(), inc) })
    }

    /// Copies this device's unicast and multicast lists to `to`
    /// (`dev_uc_sync` and `dev_mc_sync`), from `ndo_set_rx_mode`.
    pub(crate) fn sync_addr_lists_to(&self, to: &NetDevice) {
        // SAFETY: both devices are valid; `ndo_set_rx_mode` runs with this
        // device's address list lock held, as the sync functions require.
        unsafe {
            bindings::dev_uc_sync(to.as_ptr(), self.as_ptr());
            bindings::dev_mc_sync(to.as_ptr(), self.as_ptr());
        }
    }

    /// Removes what [`NetDevice::sync_addr_lists_to`] added to `to`.
    pub(crate) fn unsync_addr_lists_from(&self, _rtnl: Rtnl<'_>, to: &NetDevice) {
        // SAFETY: both devices are valid; RTNL is held.
        unsafe {
            bindings::dev_uc_unsync(to.as_ptr(), self.as_ptr());
            bindings::dev_mc_unsync(to.as_ptr(), self.as_ptr());
        }
    }

    /// Calls `f` for each multicast address with its sync count.
    pub(crate) fn for_each_mc_addr<F: FnMut(&MacAddr, i32)>(&self, mut f: F) {
        /// # Safety
        ///
        /// Only as the callback of `mvv_for_each_mc_addr` below: `ctx` is the
        /// `&mut G` passed there, `addr` points to `ETH_ALEN` bytes.
        unsafe extern "C" fn tramp<G: FnMut(&MacAddr, i32)>(
            ctx: *mut core::ffi::c_void,
            addr: *const u8,
            synced: i32,
        ) {
            // SAFETY: `ctx` is the `&mut F` passed below, alive for the call.
            let f = unsafe { &mut *ctx.cast::<G>() };
            let mut a = [0u8; ETH_ALEN];
            // SAFETY: hardware addresses in the list are `addr_len` (here
            // `ETH_ALEN`) bytes.
            unsafe { core::ptr::copy_nonoverlapping(addr, a.as_mut_ptr(), ETH_ALEN) };
            f(&MacAddr(a), synced);
        }
        // SAFETY: the device is valid; callers hold its address list lock
        // (`ndo_set_rx_mode`) or RTNL; `tramp::<F>` matches `&mut f`.
        unsafe {
            bindings::mvv_for_each_mc_addr(
                self.as_ptr(),
                Some(tramp::<F>),
                core::ptr::from_mut(&mut f).cast(),
            )
        };
    }

    /// Passes this device's operational state on to `upper`.
    pub(crate) fn transfer_operstate_to(&self, _rtnl: Rtnl<'_>, upper: &NetDevice) {
        // SAFETY: both devices are valid; RTNL is held.
        unsafe { bindings::netif_stacked_transfer_operstate(self.as_ptr(), upper.as_ptr()) };
    }

    /// Counts a received frame dropped by this device's rx path.
    pub(crate) fn count_rx_dropped(&self) {
        // SAFETY: the device is valid; the core stats are per-CPU.
        unsafe { bindings::mvv_dev_core_stats_rx_dropped_inc(self.as_ptr()) };
    }

    /// Sets the MTU (`WRITE_ONCE(dev->mtu)`), from `ndo_change_mtu`.
    pub(crate) fn store_mtu(&self, _rtnl: Rtnl<'_>, mtu: u32) {
        // SAFETY: the device is valid; RTNL serializes writers.
        unsafe { bindings::mvv_set_mtu(self.as_ptr(), mtu) };
    }

    /// Changes the MTU through the core (`dev_set_mtu`), notifying.
    pub(crate) fn change_mtu(&self, _rtnl: Rtnl<'_>, mtu: u32) -> Result {
        // CAST: MTUs fit in `int`.
        // SAFETY: the device is valid; RTNL is held.
        to_result(unsafe { bindings::dev_set_mtu(self.as_ptr(), mtu as i32) })
    }

    /// Sends `event` to this device's notifier chain.
    pub(crate) fn notify(&self, _rtnl: Rtnl<'_>, event: u32) {
        // CAST: `NETDEV_*` events fit.
        // SAFETY: the device is valid; RTNL is held.
        unsafe { bindings::call_netdevice_notifiers(event as _, self.as_ptr()) };
    }

    /// Takes over what a device stacked on `lower` inherits from it at
    /// `ndo_init`: carrier and dormant state, offload features, TSO limits,
    /// header room; and gives the device its own lockdep classes, as stacked
    /// devices need.
    pub(crate) fn stacked_init(&self, _rtnl: Rtnl<'_>, lower: &NetDevice) {
        // SAFETY: both devices are valid; RTNL is held and `self` is not
        // visible yet (`ndo_init`).
        unsafe {
            bindings::mvv_stacked_inherit_lower(self.as_ptr(), lower.as_ptr());
            bindings::mvv_set_lockdep_class(self.as_ptr());
        }
    }

    /// The features a device stacked on `lower` may have, out of `features`
    /// (`ndo_fix_features`).
    pub(crate) fn stacked_fix_features(&self, lower: &NetDevice, features: u64) -> u64 {
        // SAFETY: both devices are valid; the helper only reads them.
        unsafe { bindings::mvv_stacked_fix_features(self.as_ptr(), lower.as_ptr(), features) }
    }

    /// Follows a feature change of `lower`: TSO limits, header room, then
    /// `netdev_update_features`.
    pub(crate) fn stacked_follow_features(&self, _rtnl: Rtnl<'_>, lower: &NetDevice) {
        // SAFETY: both devices are valid; RTNL is held.
        unsafe { bindings::mvv_stacked_follow_features(self.as_ptr(), lower.as_ptr()) };
    }

    /// Changes the device's address through its driver
    /// (`dev_set_mac_address`).
    pub(crate) fn set_mac_address(&self, _rtnl: Rtnl<'_>, addr: &MacAddr) -> Result {
        // SAFETY: all-zero is a valid `sockaddr`.
        let mut sa: bindings::sockaddr = unsafe { core::mem::zeroed() };
        sa.sa_family = self.hw_type();
        // SAFETY: `sa_data_min` is the 14-byte view of the address union,
        // valid for any bytes.
        let data = unsafe { sa.__bindgen_anon_1.sa_data_min.as_mut() };
        data[..ETH_ALEN].copy_from_slice(&addr.0);
        // SAFETY: the device is valid, RTNL is held, and `sa` lives through
        // the call.
        to_result(unsafe {
            bindings::dev_set_mac_address(self.as_ptr(), &mut sa, core::ptr::null_mut())
        })
    }

    /// Whether the device was never registered (`NETREG_UNINITIALIZED`), or
    /// its registration failed.
    pub(crate) fn is_uninitialized(&self) -> bool {
        // SAFETY: the device is valid.
        unsafe { bindings::mvv_netdev_uninitialized(self.as_ptr()) }
    }

    /// Whether the device is being unregistered (`NETREG_UNREGISTERING`).
    pub(crate) fn is_unregistering(&self) -> bool {
        // SAFETY: the device is valid.
        unsafe { bindings::mvv_netdev_unregistering(self.as_ptr()) }
    }

    /// The current rx handler, under RTNL.
    pub(crate) fn rx_handler(&self, _rtnl: Rtnl<'_>) -> bindings::rx_handler_func_t {
        // SAFETY: the device is valid; RTNL is held.
        unsafe { bindings::mvv_rx_handler_rtnl(self.as_ptr()) }
    }
}

// SAFETY: `dev_hold` and `dev_put` keep the device's memory alive while the
// count is above zero.
unsafe impl AlwaysRefCounted for NetDevice {
    fn inc_ref(&self) {
        // SAFETY: the device is valid.
        unsafe { bindings::mvv_dev_hold(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: core::ptr::NonNull<Self>) {
        // SAFETY: the caller gives up a reference it holds.
        unsafe { bindings::mvv_dev_put(obj.as_ptr().cast()) };
    }
}
