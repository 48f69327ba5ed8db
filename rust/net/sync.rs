// SPDX-License-Identifier: GPL-2.0

//! Execution contexts as types: "RTNL is held" and "inside an RCU read-side
//! critical section".
//!
//! Functions that need a context take its token by value. Tokens are `Copy`,
//! carry a lifetime that bounds how long the context lasts, and are neither
//! `Send` nor `Sync`, so they cannot leave the task that holds the context.

use super::bindings;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};

/// Proof that the current task holds the RTNL mutex.
///
/// # Invariants
///
/// The RTNL mutex is held by the current task for the whole of `'a`.
#[derive(Clone, Copy)]
pub(crate) struct Rtnl<'a> {
    _not_send: PhantomData<*mut ()>,
    _lifetime: PhantomData<&'a ()>,
}

impl Rtnl<'_> {
    /// Creates a token for a context in which the C side holds RTNL, such as
    /// an `rtnl_link_ops`, `net_device_ops` (except `ndo_start_xmit` and
    /// `ndo_get_stats64`) or netdevice notifier callback.
    ///
    /// # Safety
    ///
    /// The caller must hold the RTNL mutex for the lifetime of the token.
    pub(crate) unsafe fn assume_held<'a>() -> Rtnl<'a> {
        // SAFETY: `mvv_rtnl_is_locked` only reads the mutex state.
        debug_assert!(unsafe { bindings::mvv_rtnl_is_locked() });
        // INVARIANT: the caller guarantees that RTNL is held for `'a`.
        Rtnl {
            _not_send: PhantomData,
            _lifetime: PhantomData,
        }
    }
}

/// Proof that the current task is inside an RCU read-side critical section.
///
/// # Invariants
///
/// An RCU read-side critical section (or a context that implies one, such as
/// softirq processing of a received packet) lasts for the whole of `'a`.
#[derive(Clone, Copy)]
pub(crate) struct Rcu<'a> {
    _not_send: PhantomData<*mut ()>,
    _lifetime: PhantomData<&'a ()>,
}

impl Rcu<'_> {
    /// Creates a token for a context in which the C side holds an RCU read
    /// lock, such as an rx handler.
    ///
    /// # Safety
    ///
    /// The caller must be inside an RCU read-side critical section for the
    /// lifetime of the token.
    pub(crate) unsafe fn assume_held<'a>() -> Rcu<'a> {
        // INVARIANT: guaranteed by the caller.
        Rcu {
            _not_send: PhantomData,
            _lifetime: PhantomData,
        }
    }
}

/// A context in which RCU-protected data may be read for `'a`: an RCU
/// read-side critical section ([`Rcu`]) or, for data that writers change
/// only under RTNL and free only after releasing it, RTNL ([`Rtnl`]).
pub(crate) trait ReadSide<'a>: Copy {}

impl<'a> ReadSide<'a> for Rcu<'a> {}
impl<'a> ReadSide<'a> for Rtnl<'a> {}

/// An RCU read-side critical section, left when the guard is dropped.
///
/// # Invariants
///
/// `rcu_read_lock()` was called when the guard was created and
/// `rcu_read_unlock()` has not been called for it yet.
pub(crate) struct RcuGuard {
    _not_send: PhantomData<*mut ()>,
}

impl RcuGuard {
    /// Enters an RCU read-side critical section.
    pub(crate) fn new() -> Self {
        // SAFETY: `rcu_read_lock` may be called from any context.
        unsafe { bindings::mvv_rcu_read_lock() };
        // INVARIANT: the lock was just taken.
        Self {
            _not_send: PhantomData,
        }
    }

    /// The token for this critical section.
    pub(crate) fn token(&self) -> Rcu<'_> {
        // SAFETY: by the type invariant the section lasts as long as `self`.
        unsafe { Rcu::assume_held() }
    }
}

impl Drop for RcuGuard {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the section is still open.
        unsafe { bindings::mvv_rcu_read_unlock() };
    }
}

/// Waits until every RCU reader of the networking core that started before
/// the call has finished (`synchronize_net`). Sleeps.
pub(crate) fn synchronize_net() {
    // SAFETY: no precondition beyond process context, which sleeping
    // functions ask of their callers anyway.
    unsafe { bindings::mvv_synchronize_net() };
}

/// Lets the scheduler run something else (`cond_resched`), in a long loop
/// in process context.
pub(crate) fn cond_resched() {
    // SAFETY: no precondition beyond process context.
    unsafe { bindings::mvv_cond_resched() };
}

macro_rules! rtnl_cell {
    ($(#[$doc:meta] $name:ident($atomic:ty, $t:ty);)*) => {$(
        #[$doc]
        ///
        /// Written only under RTNL, so writers never race; read without a lock
        /// from any context (the rx path, say), which sees the value before or
        /// after a concurrent write, as C's `READ_ONCE` of a field written with
        /// `WRITE_ONCE` under RTNL.
        #[derive(Default)]
        pub(crate) struct $name($atomic);

        impl $name {
            /// A cell holding `value`.
            pub(crate) const fn new(value: $t) -> Self {
                Self(<$atomic>::new(value))
            }

            /// The value, from any context.
            pub(crate) fn get(&self) -> $t {
                self.0.load(Ordering::Relaxed)
            }

            /// Sets the value.
            pub(crate) fn set(&self, _rtnl: Rtnl<'_>, value: $t) {
                self.0.store(value, Ordering::Relaxed)
            }
        }
    )*};
}

rtnl_cell! {
    /// A `u32` written under RTNL.
    RtnlU32(AtomicU32, u32);
    /// An `i32` written under RTNL.
    RtnlI32(AtomicI32, i32);
    /// A `u64` written under RTNL.
    RtnlU64(AtomicU64, u64);
    /// A `bool` written under RTNL.
    RtnlBool(AtomicBool, bool);
}
