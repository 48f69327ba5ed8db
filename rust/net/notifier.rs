// SPDX-License-Identifier: GPL-2.0

//! Netdevice notifiers (`register_netdevice_notifier`), built from the
//! [`NetdevNotifier`] trait into a `static` block.

use super::bindings;
use super::device::NetDevice;
use super::link::Table;
use super::sync::Rtnl;
use kernel::error::{to_result, Result};
use kernel::types::Opaque;

/// A netdevice notifier (`register_netdevice_notifier`).
pub(crate) trait NetdevNotifier: 'static {
    /// Handles `event` for `dev`; returns a `NOTIFY_*` code.
    fn event(rtnl: Rtnl<'_>, event: u32, dev: &NetDevice) -> i32;
}

/// The `notifier_block` of a [`NetdevNotifier`], in a static.
pub(crate) struct Notifier(Table<bindings::notifier_block>);

/// # Safety
///
/// Only as the `notifier_call` of a netdevice notifier block: under RTNL,
/// with a `netdev_notifier_info` whose device is valid for the call.
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
