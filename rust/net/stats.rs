// SPDX-License-Identifier: GPL-2.0

//! Per-CPU device counters (`struct vlan_pcpu_stats`, as the C macvlan and
//! 802.1Q drivers use).

use super::bindings;
use super::sync::Rtnl;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::error::{code::ENOMEM, Result};

/// Per-CPU rx and tx counters.
///
/// # Invariants
///
/// `ptr` is NULL or a per-CPU allocation made by [`PcpuStats::alloc`] and
/// owned by this value, which frees it when dropped.
#[derive(Default)]
pub(crate) struct PcpuStats {
    ptr: AtomicPtr<bindings::vlan_pcpu_stats>,
}

impl PcpuStats {
    /// Allocates the counters (`ndo_init`).
    pub(crate) fn alloc(&self, _rtnl: Rtnl<'_>) -> Result {
        // SAFETY: plain allocation.
        let p = unsafe { bindings::mvv_pcpu_stats_alloc() };
        if p.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: a fresh allocation, owned from now on.
        let old = self.ptr.swap(p, Ordering::Release);
        if !old.is_null() {
            // SAFETY: the type invariant says we owned `old`.
            unsafe { bindings::mvv_pcpu_stats_free(old) };
        }
        Ok(())
    }

    fn get(&self) -> *mut bindings::vlan_pcpu_stats {
        self.ptr.load(Ordering::Acquire)
    }

    /// Counts a received frame, or an rx error when `!ok`.
    pub(crate) fn count_rx(&self, len: u32, ok: bool, multicast: bool) {
        let p = self.get();
        if !p.is_null() {
            // SAFETY: a live allocation (type invariant); per-CPU updates.
            unsafe { bindings::mvv_pcpu_count_rx(p, len, ok, multicast) };
        }
    }

    /// Counts a transmitted frame, or a tx drop when `!ok`.
    pub(crate) fn count_tx(&self, len: u32, ok: bool) {
        let p = self.get();
        if !p.is_null() {
            // SAFETY: a live allocation (type invariant); per-CPU updates.
            unsafe { bindings::mvv_pcpu_count_tx(p, len, ok) };
        }
    }

    /// Adds the counters into `out` (`ndo_get_stats64`).
    pub(crate) fn fold(&self, out: &mut bindings::rtnl_link_stats64) {
        let p = self.get();
        if !p.is_null() {
            // SAFETY: a live allocation (type invariant); reads use the
            // u64_stats sync.
            unsafe { bindings::mvv_pcpu_stats_fold(p, out) };
        }
    }
}

impl Drop for PcpuStats {
    fn drop(&mut self) {
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            // SAFETY: owned by the type invariant; `&mut self` means no
            // counter update can be running.
            unsafe { bindings::mvv_pcpu_stats_free(p) };
        }
    }
}
