// SPDX-License-Identifier: GPL-2.0

//! Rx handlers (`netdev_rx_handler_register`) whose data the registration
//! owns.
//!
//! A device has at most one rx handler. Its data is an [`Arc`]: registering
//! hands one reference to the device (`rx_handler_data`), unregistering
//! gives it back after the grace period that `netdev_rx_handler_unregister`
//! waits for, so no reader can still be inside the handler. Between the two,
//! [`RxHandlerType::data`] hands out counted references under RTNL, and the
//! handler itself borrows the data ([`ArcBorrow`]) for one frame.
//!
//! The handler is recognised by the function pointer stored in a `static`
//! [`RxHandlerType`]: registering installs that value and [`data`] compares
//! against the same value, so the comparison never depends on whether two
//! instantiations of a generic function share an address.
//!
//! [`data`]: RxHandlerType::data

use super::bindings;
use super::device::NetDevice;
use super::skb::Skb;
use super::sync::{Rcu, Rtnl};
use core::marker::PhantomData;
use kernel::error::{to_result, Result};
use kernel::sync::{Arc, ArcBorrow};
use kernel::types::ForeignOwnable;

/// What an rx handler did with a frame.
pub(crate) enum RxResult {
    /// The handler took the skb.
    Consumed,
    /// Run the receive path again, for the skb's new device.
    Another(Skb),
    /// Let the lower device's receive path go on.
    Pass(Skb),
}

/// An rx handler: per-device state that frames received on the device go
/// through first.
pub(crate) trait RxHandler: Send + Sync + Sized + 'static {
    /// Handles one frame received on a device this value is registered on.
    fn handle(this: ArcBorrow<'_, Self>, skb: Skb, rcu: Rcu<'_>) -> RxResult;
}

/// The C entry point of rx handler `H`, to be kept in a `static`.
///
/// # Invariants
///
/// `func` is `rx_tramp::<H>`, and every device whose `rx_handler` is `func`
/// has as `rx_handler_data` a pointer from `Arc::<H>::into_foreign`, owned by
/// the device until [`RxHandlerType::unregister`] takes it back.
pub(crate) struct RxHandlerType<H: RxHandler> {
    func: bindings::rx_handler_func_t,
    _handler: PhantomData<fn(H)>,
}

impl<H: RxHandler> RxHandlerType<H> {
    /// The entry point of `H`.
    pub(crate) const fn new() -> Self {
        // INVARIANT: `func` is `H`'s trampoline; only `register` installs it,
        // always with an `Arc<H>`.
        Self {
            func: Some(rx_tramp::<H>),
            _handler: PhantomData,
        }
    }

    /// Installs `H` on `dev` with `data`. Fails with `EBUSY` when `dev` has
    /// another rx handler, dropping `data`.
    pub(crate) fn register(
        &'static self,
        _rtnl: Rtnl<'_>,
        dev: &NetDevice,
        data: Arc<H>,
    ) -> Result {
        let ptr = data.into_foreign();
        // SAFETY: `dev` is valid and RTNL is held. On success the device owns
        // the reference behind `ptr` (type invariant) until `unregister`.
        let ret = unsafe {
            bindings::netdev_rx_handler_register(dev.as_ptr(), self.func, ptr.cast_mut())
        };
        if ret != 0 {
            // SAFETY: not installed, so the reference is still ours and nobody
            // borrowed it.
            drop(unsafe { Arc::<H>::from_foreign(ptr) });
        }
        to_result(ret)
    }

    /// Whether `dev`'s rx handler is `H`.
    fn is_installed(&self, rtnl: Rtnl<'_>, dev: &NetDevice) -> bool {
        dev.rx_handler(rtnl)
            .zip(self.func)
            .is_some_and(|(installed, ours)| installed as usize == ours as usize)
    }

    /// A reference to the data of `H` on `dev`, if `H` is `dev`'s rx handler.
    /// A counted reference rather than a borrow: [`RxHandlerType::unregister`]
    /// may end the registration while the caller still uses the data.
    pub(crate) fn data(&self, rtnl: Rtnl<'_>, dev: &NetDevice) -> Option<Arc<H>> {
        if !self.is_installed(rtnl, dev) {
            return None;
        }
        // The handler is `H`, so by the type invariant the data came from
        // `Arc::<H>::into_foreign` and the device owns it.
        // SAFETY: RTNL keeps `unregister` from taking the data back before the
        // borrow becomes a reference of our own.
        let data = unsafe { Arc::<H>::borrow(bindings::mvv_rx_handler_data_rtnl(dev.as_ptr())) };
        Some(data.into())
    }

    /// Removes `H` from `dev` and gives its data back, once no frame can be
    /// inside the handler any more. `None` when `H` is not `dev`'s handler.
    pub(crate) fn unregister(&self, rtnl: Rtnl<'_>, dev: &NetDevice) -> Option<Arc<H>> {
        if !self.is_installed(rtnl, dev) {
            return None;
        }
        // SAFETY: the device is valid and RTNL is held.
        let ptr = unsafe { bindings::mvv_rx_handler_data_rtnl(dev.as_ptr()) };
        // SAFETY: as above. This also waits for a grace period, after which
        // no handler call still borrows the data.
        unsafe { bindings::netdev_rx_handler_unregister(dev.as_ptr()) };
        // SAFETY: the data came from `Arc::<H>::into_foreign` (type invariant)
        // and the device no longer points to it. The only borrows are the
        // handler's, over by now, and `data`'s, which end inside `data`.
        Some(unsafe { Arc::<H>::from_foreign(ptr) })
    }
}

/// # Safety
///
/// Only for the core's `__netif_receive_skb_core`, which calls it under
/// `rcu_read_lock` with a valid skb received on a device whose handler is
/// `H`.
unsafe extern "C" fn rx_tramp<H: RxHandler>(
    pskb: *mut *mut bindings::sk_buff,
) -> bindings::rx_handler_result_t {
    // SAFETY: the core passes a valid, non-null skb that we may replace, and
    // runs us under rcu_read_lock.
    let (skb, rcu) = unsafe { (Skb::from_raw_nonnull(*pskb), Rcu::assume_held()) };
    // `rcu_dereference(skb->dev->rx_handler_data)`: on the architectures the
    // kernel supports with Rust, a volatile load orders like it.
    // SAFETY: the core found this handler through `skb->dev->rx_handler`,
    // so `skb->dev` is a valid device, held while it carries the skb.
    let ptr = unsafe { core::ptr::read_volatile(&(*skb.dev_ptr()).rx_handler_data) };
    // SAFETY: this handler is `H`, so the data came from
    // `Arc::<H>::into_foreign`; `unregister` takes it back only after a grace
    // period, which cannot end during this call.
    let this = unsafe { Arc::<H>::borrow(ptr) };
    let (ret, skb) = match H::handle(this, skb, rcu) {
        RxResult::Consumed => return bindings::rx_handler_result_RX_HANDLER_CONSUMED,
        RxResult::Another(skb) => (bindings::rx_handler_result_RX_HANDLER_ANOTHER, skb),
        RxResult::Pass(skb) => (bindings::rx_handler_result_RX_HANDLER_PASS, skb),
    };
    // SAFETY: `pskb` is valid; the skb goes back to the core.
    unsafe { *pskb = skb.into_raw() };
    ret
}
