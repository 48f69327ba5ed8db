// SPDX-License-Identifier: GPL-2.0

//! What `kernel::workqueue` lacks in 6.12 for a work item owned through an
//! [`Arc`]: cancelling it.
//!
//! Enqueueing an `Arc<T>` gives one reference to the workqueue, which hands
//! it to `WorkItem::run`. A work item cancelled before it ran never gets to
//! `run`, so that reference must be taken back by whoever cancelled it, or
//! the value leaks.

use kernel::bindings;
use kernel::sync::Arc;
use kernel::workqueue::{HasWork, Work, WorkItem};

/// Whether `this`'s work item `ID` is queued and has not started running
/// (`work_pending`). The workqueue clears the bit before it runs the item,
/// so an item seen pending after a change will see the change.
pub(crate) fn is_pending<T, const ID: u64>(this: &T) -> bool
where
    T: HasWork<T, ID>,
{
    let ptr: *const T = this;
    // SAFETY: `this` is valid, so the `Work` field that `HasWork` names is.
    let work = unsafe { Work::raw_get(T::raw_get_work(ptr.cast_mut())) };
    // SAFETY: `work` is an initialised `work_struct`; the helper reads a bit.
    unsafe { super::bindings::mvv_work_pending(work.cast()) }
}

/// Cancels `this`'s work item `ID` and waits for a running instance of it to
/// finish (`cancel_work_sync`). The reference a pending item held is dropped
/// here. Returns whether the item was pending.
pub(crate) fn cancel_sync<T, const ID: u64>(this: &Arc<T>) -> bool
where
    T: WorkItem<ID, Pointer = Arc<T>> + HasWork<T, ID>,
{
    let ptr: *const T = &**this;
    // SAFETY: `ptr` points into a live `Arc<T>`, so the `Work` field that
    // `HasWork` names is valid and initialized.
    let work = unsafe { Work::raw_get(T::raw_get_work(ptr.cast_mut())) };
    // SAFETY: `work` is an initialized `work_struct`; the caller may sleep
    // (it holds a counted reference, not a lock the work takes).
    let was_pending = unsafe { bindings::cancel_work_sync(work) };
    if was_pending {
        // SAFETY: `Queue::enqueue` of an `Arc<T>` passes `Arc::into_raw` of
        // it to the queue, which gives it back only by running the item. The
        // item was pending and will not run, so that reference is ours.
        drop(unsafe { Arc::from_raw(ptr) });
    }
    was_pending
}
