// SPDX-License-Identifier: GPL-2.0

//! Doubly linked RCU lists with intrusive links, written under RTNL and read
//! under RCU or RTNL (like `list_head` with the `_rcu` accessors).
//!
//! Readers follow only `next` pointers, published with release stores;
//! writers hold RTNL and also use `prev`, so adding at either end and
//! removing an entry take constant time. A removed entry keeps its `next`,
//! so a reader standing on it goes on along the list.
//!
//! - [`RcuList`] links entries that live elsewhere (the private state of a
//!   net device, say): adding one is `unsafe`, because the list cannot see
//!   how long its memory lasts.
//! - [`RcuBoxList`] owns its entries and frees a removed one a grace period
//!   later, so all of its operations are safe.
//!
//! 6.12's `kernel` crate has no RCU list; this is new code.

use super::bindings;
use super::sync::{Rcu, ReadSide, Rtnl};
use core::marker::PhantomData;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;
use kernel::types::Opaque;

/// The links of an entry for one list.
pub(crate) struct RcuLink<T> {
    next: AtomicPtr<T>,
    prev: AtomicPtr<T>,
    /// The list the entry is on (RTNL), or NULL.
    list: AtomicPtr<()>,
}

impl<T> RcuLink<T> {
    /// Links of an entry on no list.
    pub(crate) const fn new() -> Self {
        Self {
            next: AtomicPtr::new(null_mut()),
            prev: AtomicPtr::new(null_mut()),
            list: AtomicPtr::new(null_mut()),
        }
    }
}

impl<T> Default for RcuLink<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// An entry type of the lists with tag `ID`.
///
/// # Safety
///
/// `rcu_link` must return the same field of `self` on every call, one used by
/// no other list.
pub(crate) unsafe trait RcuListItem<const ID: u64 = 0>: Sync + Sized {
    /// The links for lists with tag `ID`.
    fn rcu_link(&self) -> &RcuLink<Self>;
}

/// Implements [`RcuListItem`] for a type with an [`RcuLink`] field.
macro_rules! impl_rcu_list_item {
    ($(impl RcuListItem<$id:tt> for $type:ty { self.$field:ident })*) => {$(
        // SAFETY: returns the same field every time; the field has the right
        // type or this does not compile. A field serves one tag only if the
        // macro is invoked once per field, which the callers do.
        unsafe impl $crate::net::rcu_list::RcuListItem<$id> for $type {
            fn rcu_link(&self) -> &$crate::net::rcu_list::RcuLink<Self> {
                &self.$field
            }
        }
    )*};
}
pub(crate) use impl_rcu_list_item;

/// A list of entries that live elsewhere.
///
/// # Invariants
///
/// `head` and `tail` are both NULL, or the first and the last entry of a
/// chain through `next` (and back through `prev`) of entries whose `list`
/// link is this list's address, and that stay valid until they have been
/// removed, RTNL has been released since, and a grace period has passed
/// ([`RcuList::push_back`]'s contract).
pub(crate) struct RcuList<T: RcuListItem<ID>, const ID: u64 = 0> {
    head: AtomicPtr<T>,
    tail: AtomicPtr<T>,
}

impl<T: RcuListItem<ID>, const ID: u64> Default for RcuList<T, ID> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: RcuListItem<ID>, const ID: u64> RcuList<T, ID> {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        Self {
            head: AtomicPtr::new(null_mut()),
            tail: AtomicPtr::new(null_mut()),
        }
    }

    /// Adds `entry` at the end.
    ///
    /// # Safety
    ///
    /// `entry` must be on no list with tag `ID`, and must stay valid until it
    /// has been removed, RTNL has been released since, and an RCU grace period
    /// has passed. The list must not move while `entry` is on it.
    pub(crate) unsafe fn push_back(&self, _rtnl: Rtnl<'_>, entry: &T) {
        let link = entry.rcu_link();
        link.list.store(self.id(), Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        link.next.store(null_mut(), Ordering::Relaxed);
        link.prev.store(tail, Ordering::Relaxed);
        // Release: readers that find `entry` see its fields and links.
        // SAFETY: `tail` is NULL or an entry of the list, valid (invariant).
        match unsafe { tail.as_ref() } {
            None => self.head.store(from_ref(entry), Ordering::Release),
            Some(t) => t.rcu_link().next.store(from_ref(entry), Ordering::Release),
        }
        // INVARIANT: the caller keeps `entry` valid as the invariant asks.
        self.tail.store(from_ref(entry), Ordering::Relaxed);
    }

    /// Adds `entry` at the front.
    ///
    /// # Safety
    ///
    /// As for [`RcuList::push_back`].
    pub(crate) unsafe fn push_front(&self, _rtnl: Rtnl<'_>, entry: &T) {
        let link = entry.rcu_link();
        link.list.store(self.id(), Ordering::Relaxed);
        let head = self.head.load(Ordering::Relaxed);
        link.next.store(head, Ordering::Relaxed);
        link.prev.store(null_mut(), Ordering::Relaxed);
        // SAFETY: `head` is NULL or an entry of the list, valid (invariant).
        match unsafe { head.as_ref() } {
            None => self.tail.store(from_ref(entry), Ordering::Relaxed),
            Some(h) => h.rcu_link().prev.store(from_ref(entry), Ordering::Relaxed),
        }
        // INVARIANT: as in `push_back`.
        self.head.store(from_ref(entry), Ordering::Release);
    }

    /// The address entries on this list record in their `list` link.
    fn id(&self) -> *mut () {
        core::ptr::from_ref(self).cast_mut().cast()
    }

    /// Removes `entry` if it is on this list; readers standing on it still go
    /// on from it. Returns whether it was there.
    pub(crate) fn remove(&self, _rtnl: Rtnl<'_>, entry: &T) -> bool {
        let link = entry.rcu_link();
        if link.list.load(Ordering::Relaxed) != self.id() {
            return false;
        }
        let next = link.next.load(Ordering::Relaxed);
        let prev = link.prev.load(Ordering::Relaxed);
        // SAFETY: `prev` and `next` are NULL or entries of the list (invariant;
        // `entry` is on it).
        match unsafe { prev.as_ref() } {
            None => self.head.store(next, Ordering::Release),
            Some(p) => p.rcu_link().next.store(next, Ordering::Release),
        }
        // SAFETY: as above.
        match unsafe { next.as_ref() } {
            None => self.tail.store(prev, Ordering::Relaxed),
            Some(n) => n.rcu_link().prev.store(prev, Ordering::Relaxed),
        }
        // `next` stays for readers standing on `entry`.
        link.prev.store(null_mut(), Ordering::Relaxed);
        link.list.store(null_mut(), Ordering::Relaxed);
        true
    }

    /// The entries, from the front, for as long as the read side lasts.
    pub(crate) fn iter<'a>(&'a self, _read: impl ReadSide<'a>) -> Iter<'a, T, ID> {
        Iter {
            next: self.head.load(Ordering::Acquire),
            _list: PhantomData,
        }
    }

    /// The first entry.
    pub(crate) fn first<'a>(&'a self, read: impl ReadSide<'a>) -> Option<&'a T> {
        self.iter(read).next()
    }
}

fn from_ref<T>(r: &T) -> *mut T {
    core::ptr::from_ref(r).cast_mut()
}

/// An iterator over an [`RcuList`].
///
/// # Invariants
///
/// `next` is NULL or an entry that stays valid for `'a`: an entry that was on
/// the list during a read-side section (RCU or RTNL) lasting `'a`.
pub(crate) struct Iter<'a, T: RcuListItem<ID>, const ID: u64> {
    next: *mut T,
    _list: PhantomData<&'a T>,
}

impl<'a, T: RcuListItem<ID>, const ID: u64> Iterator for Iter<'a, T, ID> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        // SAFETY: by the type invariant, and because the list's entries stay
        // valid for a grace period (RCU readers) or while RTNL is held (RTNL
        // readers) after their removal.
        let cur = unsafe { self.next.as_ref() }?;
        // INVARIANT: the successor was on the list when `cur` was, in the same
        // read-side section.
        self.next = cur.rcu_link().next.load(Ordering::Acquire);
        Some(cur)
    }
}

/// An entry of an [`RcuBoxList`]: the value and what the list needs.
pub(crate) struct RcuNode<T> {
    link: RcuLink<RcuNode<T>>,
    rcu: Opaque<bindings::callback_head>,
    value: T,
}

// SAFETY: the node is shared between CPUs only through `&`, giving `&T` (so
// `T: Sync`) and dropped on whichever CPU runs the RCU callback (`T: Send`);
// `rcu` is touched only by the one `call_rcu` of the node.
unsafe impl<T: Send + Sync> Sync for RcuNode<T> {}
// SAFETY: as for `Sync`.
unsafe impl<T: Send + Sync> Send for RcuNode<T> {}

// SAFETY: `link` is the one `RcuLink` of the node, used by one list.
unsafe impl<T: Send + Sync> RcuListItem for RcuNode<T> {
    fn rcu_link(&self) -> &RcuLink<Self> {
        &self.link
    }
}

impl<T: Send + Sync> RcuNode<T> {
    /// A node for `value`, to add to a list later (allocation may fail; adding
    /// cannot).
    pub(crate) fn new(value: T) -> Result<KBox<Self>> {
        Ok(KBox::new(
            Self {
                link: RcuLink::new(),
                rcu: Opaque::uninit(),
                value,
            },
            GFP_KERNEL,
        )?)
    }

    /// The value.
    pub(crate) fn value(&self) -> &T {
        &self.value
    }
}

/// A list that owns its entries and frees each one a grace period after
/// removing it.
///
/// # Invariants
///
/// Every entry of `list` is a node leaked from a `KBox`, owned by this value;
/// a removed one is freed only by [`free_node`] after a grace period. The
/// value does not move while it has entries (it is pinned).
#[pin_data(PinnedDrop)]
pub(crate) struct RcuBoxList<T: Send + Sync> {
    list: RcuList<RcuNode<T>>,
    #[pin]
    _pin: core::marker::PhantomPinned,
}

/// # Safety
///
/// Only as the `call_rcu` callback of a removed node of an `RcuBoxList<T>`.
unsafe extern "C" fn free_node<T: Send + Sync>(head: *mut bindings::callback_head) {
    let offset = core::mem::offset_of!(RcuNode<T>, rcu);
    // SAFETY: `head` is the `rcu` field of a node leaked from a `KBox`, removed
    // from its list a grace period ago, so no reader is left on it.
    drop(unsafe { KBox::from_raw(head.cast::<u8>().sub(offset).cast::<RcuNode<T>>()) });
}

impl<T: Send + Sync> RcuBoxList<T> {
    /// An empty list.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            list: RcuList::new(),
            _pin: core::marker::PhantomPinned,
        })
    }

    /// Adds `node` at the front.
    pub(crate) fn push_front(&self, rtnl: Rtnl<'_>, node: KBox<RcuNode<T>>) {
        let node = KBox::into_raw(node);
        // `node` is freed only a grace period after its removal (type
        // invariant), and removing needs RTNL, so it outlives RTNL readers too.
        // SAFETY: a fresh allocation on no list, valid as the list requires;
        // `self` is pinned, so the list does not move.
        unsafe { self.list.push_front(rtnl, &*node) };
    }

    /// Removes and frees, a grace period later, every value `doomed` picks.
    /// Returns how many.
    pub(crate) fn remove_where(&self, rtnl: Rtnl<'_>, mut doomed: impl FnMut(&T) -> bool) -> usize {
        let mut removed = 0;
        // RTNL readers may not keep a removed node past the grace period: walk
        // under RCU, as any reader of this list does.
        let guard = super::sync::RcuGuard::new();
        for node in self.list.iter(guard.token()) {
            if !doomed(&node.value) {
                continue;
            }
            self.list.remove(rtnl, node);
            removed += 1;
            // SAFETY: the node is off the list and will not be touched again
            // here; readers may still stand on it, so it is freed a grace
            // period later. `rcu` is used only here, once.
            unsafe { bindings::call_rcu(node.rcu.get(), Some(free_node::<T>)) };
        }
        removed
    }

    /// The values, for as long as the RCU read-side section lasts. (Not under
    /// RTNL alone: a removed value is freed after a grace period, which RTNL
    /// does not hold off.)
    pub(crate) fn iter<'a>(&'a self, rcu: Rcu<'a>) -> impl Iterator<Item = &'a T> + 'a {
        self.list.iter(rcu).map(RcuNode::value)
    }
}

#[pinned_drop]
impl<T: Send + Sync> PinnedDrop for RcuBoxList<T> {
    fn drop(self: Pin<&mut Self>) {
        let mut next = self.list.head.load(Ordering::Relaxed);
        while !next.is_null() {
            // SAFETY: being dropped, so no reader and no writer is left, and
            // every node on the list is owned by it (type invariant).
            let node = unsafe { KBox::from_raw(next) };
            next = node.link.next.load(Ordering::Relaxed);
        }
    }
}

/// Waits, when dropped, for the RCU callbacks queued so far
/// (`rcu_barrier`): the frees of removed [`RcuBoxList`] nodes run code of the
/// module, which must outlive them. The last field of a module.
pub(crate) struct RcuBarrier;

impl Drop for RcuBarrier {
    fn drop(&mut self) {
        // SAFETY: no precondition beyond process context (module exit).
        unsafe { bindings::rcu_barrier() };
    }
}
