// SPDX-License-Identifier: GPL-2.0

//! Netpoll (netconsole) through a device stacked on a lower device: set up
//! on the lower device, and used by the stacked device's transmit while
//! netpoll transmits.

use super::bindings;
use super::device::NetDevice;
use super::link::{Link, Upper};
use super::skb::Skb;
use core::sync::atomic::{AtomicPtr, Ordering};

/// A netpoll instance (netconsole) on an upper device, set up on its lower
/// device.
///
/// # Invariants
///
/// `np` is NULL or a `struct netpoll` set up by `mvv_netpoll_setup` and
/// owned by this value.
#[derive(Default)]
pub(crate) struct Netpoll {
    np: AtomicPtr<bindings::netpoll>,
}

impl Netpoll {
    fn load(&self) -> *mut bindings::netpoll {
        self.np.load(Ordering::Acquire)
    }
}

/// Sends `skb` through `np` if netpoll is transmitting on `dev` (interrupts
/// off, from `netpoll_send_skb`); otherwise gives it back.
pub(super) fn send_if_polling(
    np: &Netpoll,
    dev: &NetDevice,
    skb: Skb,
) -> Result<bindings::netdev_tx_t, Skb> {
    // Without a netpoll on the device (the common case) the frame takes the
    // normal path whatever the context: test that first, without a call.
    let np = np.load();
    if np.is_null() {
        return Err(skb);
    }
    // SAFETY: `dev` is valid.
    if !unsafe { bindings::mvv_netpoll_tx_running(dev.as_ptr()) } {
        return Err(skb);
    }
    // SAFETY: a live netpoll (type invariant); it takes the skb.
    Ok(unsafe { bindings::mvv_netpoll_send_skb(np, skb.into_raw()) })
}

/// # Safety
///
/// Only as `ndo_netpoll_setup`, under RTNL, with a registered device of link
/// type `T`.
pub(super) unsafe extern "C" fn setup_tramp<T: Link>(
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
        T::netpoll(up).np.store(np, Ordering::Release);
    }
    0
}

/// # Safety
///
/// Only as `ndo_netpoll_cleanup`, under RTNL, with a registered device of
/// link type `T`.
pub(super) unsafe extern "C" fn cleanup_tramp<T: Link>(dev: *mut bindings::net_device) {
    // SAFETY: our device; the pointer is owned by the type invariant and
    // `__netpoll_free` waits for users before freeing.
    unsafe {
        let np = T::netpoll(Upper::<T>::from_raw(dev))
            .np
            .swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !np.is_null() {
            bindings::mvv_netpoll_free(np);
        }
    }
}

/// # Safety
///
/// Only as `ndo_poll_controller`; it touches nothing.
pub(super) unsafe extern "C" fn poll_controller_tramp(_dev: *mut bindings::net_device) {
    // Nothing to poll: the lower device is polled through its own netpoll.
}
