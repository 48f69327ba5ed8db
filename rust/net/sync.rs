// SPDX-License-Identifier: GPL-2.0

//! Execution contexts as types: "RTNL is held" and "inside an RCU read-side
//! critical section".
//!
//! Functions that need a context take its token by value. Tokens are `Copy`,
//! carry a lifetime that bounds how long the context lasts, and are neither
//! `Send` nor `Sync`, so they cannot leave the task that holds the context.

use super::bindings;
use core::marker::PhantomData;

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
