// SPDX-License-Identifier: GPL-2.0

//! Source mode: the per-port table of source MACs whose frames are also
//! delivered to a source-mode upper device (`IFLA_MACVLAN_MACADDR*`).
//!
//! Entries are published into RCU chains under RTNL and freed after a grace
//! period with `call_rcu`; module exit waits for those callbacks with
//! `rcu_barrier`.

use crate::macvlan::MacvlanDev;
use crate::net::bindings;
use crate::net::ether::MacAddr;
use crate::net::netlink::Attrs;
use crate::net::skb::{PacketType, Skb, ETH_HLEN};
use crate::net::sync::{Rcu, Rtnl};
use crate::port::{eth_hash, Port, HASH_SIZE};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;
use kernel::types::Opaque;

/// One source MAC of one source-mode device.
///
/// # Invariants
///
/// Once published, `vlan` is the owning upper device or NULL (being
/// removed), and the entry is freed only by [`free_entry_rcu`], a grace
/// period after it was unlinked.
pub(crate) struct SourceEntry {
    next: AtomicPtr<SourceEntry>,
    vlan: AtomicPtr<MacvlanDev>,
    addr: MacAddr,
    rcu: Opaque<bindings::callback_head>,
}

impl SourceEntry {
    fn new(vlan: &MacvlanDev, addr: MacAddr) -> Result<KBox<Self>> {
        Ok(KBox::new(
            Self {
                next: AtomicPtr::new(core::ptr::null_mut()),
                vlan: AtomicPtr::new(core::ptr::from_ref(vlan).cast_mut()),
                addr,
                rcu: Opaque::uninit(),
            },
            GFP_KERNEL,
        )?)
    }

    fn vlan(&self) -> Option<&MacvlanDev> {
        // SAFETY: by the type invariant, NULL or the live owning device.
        unsafe { self.vlan.load(Ordering::Acquire).as_ref() }
    }

    fn owned_by(&self, vlan: &MacvlanDev) -> bool {
        core::ptr::eq(self.vlan.load(Ordering::Relaxed), vlan)
    }
}

/// # Safety
///
/// Only as the `call_rcu` callback of an unlinked entry.
unsafe extern "C" fn free_entry_rcu(head: *mut bindings::callback_head) {
    let offset = core::mem::offset_of!(SourceEntry, rcu);
    // SAFETY: `head` is the `rcu` field of an entry leaked from a `KBox` in
    // `Port::source_publish`, unlinked a grace period ago.
    drop(unsafe { KBox::from_raw(head.cast::<u8>().sub(offset).cast::<SourceEntry>()) });
}

/// The per-port table.
pub(crate) struct SourceTable {
    buckets: [AtomicPtr<SourceEntry>; HASH_SIZE],
}

// SAFETY: all-zero is an empty table.
unsafe impl kernel::init::Zeroable for SourceTable {}

impl SourceTable {
    /// An empty table.
    pub(crate) fn new() -> Self {
        Self {
            buckets: [const { AtomicPtr::new(core::ptr::null_mut()) }; HASH_SIZE],
        }
    }

    fn chain(&self, addr: &MacAddr) -> impl Iterator<Item = &SourceEntry> {
        let mut next = self.buckets[eth_hash(addr)].load(Ordering::Acquire);
        core::iter::from_fn(move || {
            // SAFETY: chain members stay valid for a grace period after
            // being unlinked; readers hold RCU or RTNL.
            let cur = unsafe { next.as_ref() }?;
            next = cur.next.load(Ordering::Acquire);
            Some(cur)
        })
    }

    fn all(&self) -> impl Iterator<Item = &SourceEntry> {
        self.buckets.iter().flat_map(|head| {
            let mut next = head.load(Ordering::Acquire);
            core::iter::from_fn(move || {
                // SAFETY: as in `chain`.
                let cur = unsafe { next.as_ref() }?;
                next = cur.next.load(Ordering::Acquire);
                Some(cur)
            })
        })
    }

    fn lookup(&self, _rtnl: Rtnl<'_>, vlan: &MacvlanDev, addr: &MacAddr) -> Option<&SourceEntry> {
        self.chain(addr)
            .find(|e| e.addr == *addr && e.owned_by(vlan))
    }

    fn publish(&self, _rtnl: Rtnl<'_>, entry: KBox<SourceEntry>) {
        let head = &self.buckets[eth_hash(&entry.addr)];
        entry
            .next
            .store(head.load(Ordering::Relaxed), Ordering::Relaxed);
        // Release: readers that see the entry see its fields.
        head.store(KBox::into_raw(entry), Ordering::Release);
    }

    fn remove(&self, rtnl: Rtnl<'_>, entry: &SourceEntry) {
        let target = core::ptr::from_ref(entry);
        self.unlink_where(rtnl, &self.buckets[eth_hash(&entry.addr)], |e| {
            core::ptr::eq(e, target)
        });
    }

    /// Unlinks every entry of the chain at `head` that `doomed` picks, in
    /// one pass, and frees each a grace period later.
    fn unlink_where(
        &self,
        _rtnl: Rtnl<'_>,
        head: &AtomicPtr<SourceEntry>,
        doomed: impl Fn(&SourceEntry) -> bool,
    ) {
        let mut slot = head;
        loop {
            // SAFETY: RTNL is held, and only RTNL holders unlink, so every
            // entry still linked from `slot` is live.
            let Some(entry) = (unsafe { slot.load(Ordering::Relaxed).as_ref() }) else {
                return;
            };
            if !doomed(entry) {
                slot = &entry.next;
                continue;
            }
            // Unlink first; RCU readers that already hold the entry see no
            // owner from here on, and may still follow its `next`.
            entry.vlan.store(core::ptr::null_mut(), Ordering::Release);
            slot.store(entry.next.load(Ordering::Relaxed), Ordering::Release);
            // SAFETY: `entry` is unlinked and not touched again here; readers
            // may still hold it, so it is freed after a grace period. `rcu`
            // is ours to initialise.
            unsafe { bindings::call_rcu(entry.rcu.get(), Some(free_entry_rcu)) };
        }
    }

    /// Removes every entry of `vlan`: one pass over the table, as the C
    /// driver's `macvlan_flush_sources` makes.
    pub(crate) fn flush(&self, rtnl: Rtnl<'_>, vlan: &MacvlanDev) {
        for head in &self.buckets {
            self.unlink_where(rtnl, head, |e| e.owned_by(vlan));
        }
        vlan.macaddr_count.store(0, Ordering::Relaxed);
    }

    /// The source MACs of `vlan`.
    pub(crate) fn addrs_of<'a>(
        &'a self,
        vlan: &'a MacvlanDev,
    ) -> impl Iterator<Item = MacAddr> + 'a {
        self.all().filter(move |e| e.owned_by(vlan)).map(|e| e.addr)
    }

    /// Delivers a copy of the frame to every source-mode device listening
    /// for `source` (`macvlan_forward_source`). Returns whether one of them
    /// has `NODST`, in which case the frame goes no further.
    pub(crate) fn forward(
        &self,
        skb: &Skb,
        dest: &MacAddr,
        source: &MacAddr,
        _rcu: Rcu<'_>,
    ) -> bool {
        let mut consume = false;
        for entry in self.chain(source).filter(|e| e.addr == *source) {
            let Some(vlan) = entry.vlan() else { continue };
            if vlan.flags() & crate::mode::FLAG_NODST != 0 {
                consume = true;
            }
            forward_one(skb, vlan, dest);
        }
        consume
    }
}

fn forward_one(skb: &Skb, vlan: &MacvlanDev, dest: &MacAddr) {
    let dev = vlan.dev();
    if !dev.is_up() {
        return;
    }
    let Some(mut nskb) = skb.clone_atomic() else {
        return;
    };
    let len = nskb.len() + ETH_HLEN as u32;
    nskb.set_dev(dev);
    if *dest == dev.addr() {
        nskb.set_pkt_type(PacketType::Host);
    }
    let ok = nskb.netif_rx_in_softirq();
    vlan.stats.count_rx(len, ok, false);
}

/// Marks the first occurrence of each address in `addrs`, in O(n log n):
/// the C driver drops repeats with a hash lookup per address, and a linear
/// search per address would make a 5,000-address `SET` take seconds under
/// RTNL.
fn first_occurrences(addrs: &[MacAddr]) -> Result<KVec<bool>> {
    let mut order = KVec::with_capacity(addrs.len(), GFP_KERNEL)?;
    for i in 0..addrs.len() {
        order.push(i, GFP_KERNEL)?;
    }
    // Ties in index order, so the first of a run is the first occurrence.
    order.sort_unstable_by_key(|&i| (addrs[i].0, i));
    let mut keep = KVec::from_elem(false, addrs.len(), GFP_KERNEL)?;
    let mut prev: Option<&MacAddr> = None;
    for &i in order.iter() {
        if prev != Some(&addrs[i]) {
            keep[i] = true;
        }
        prev = Some(&addrs[i]);
    }
    Ok(keep)
}

/// A source-list change, prepared (and allocated) before anything is
/// changed, so that applying it cannot fail.
pub(crate) enum SourcePlan {
    /// Nothing to do.
    Nothing,
    /// Add one address (`None`: already there).
    Add(Option<KBox<SourceEntry>>),
    /// Remove one address if present.
    Del(MacAddr),
    /// Remove all.
    Flush,
    /// Replace all with these.
    Set(KVec<KBox<SourceEntry>>),
}

impl SourcePlan {
    /// Prepares `mode` (`MACVLAN_MACADDR_*`) with the addresses in `data`.
    /// The attributes were validated by `validate`.
    pub(crate) fn prepare(
        rtnl: Rtnl<'_>,
        port: &Port,
        vlan: &MacvlanDev,
        mode: u32,
        data: Attrs<'_>,
    ) -> Result<Self> {
        let addr = data
            .get(bindings::IFLA_MACVLAN_MACADDR)
            .and_then(|a| MacAddr::from_slice(a.bytes()));
        match mode {
            bindings::macvlan_macaddr_mode_MACVLAN_MACADDR_ADD => {
                let addr = addr.ok_or(EINVAL)?;
                if port.sources.lookup(rtnl, vlan, &addr).is_some() {
                    return Ok(Self::Add(None));
                }
                Ok(Self::Add(Some(SourceEntry::new(vlan, addr)?)))
            }
            bindings::macvlan_macaddr_mode_MACVLAN_MACADDR_DEL => {
                Ok(Self::Del(addr.ok_or(EINVAL)?))
            }
            bindings::macvlan_macaddr_mode_MACVLAN_MACADDR_FLUSH => Ok(Self::Flush),
            bindings::macvlan_macaddr_mode_MACVLAN_MACADDR_SET => {
                let nested = data.get(bindings::IFLA_MACVLAN_MACADDR_DATA);
                let listed = nested
                    .into_iter()
                    .flat_map(|a| a.nested())
                    .filter_map(|(_, payload)| MacAddr::from_slice(payload));
                let mut addrs = KVec::new();
                for a in Iterator::chain(addr.into_iter(), listed) {
                    addrs.push(a, GFP_KERNEL)?;
                }
                let keep = first_occurrences(&addrs)?;
                let mut list = KVec::with_capacity(addrs.len(), GFP_KERNEL)?;
                for (a, _) in addrs.iter().zip(keep.iter()).filter(|(_, k)| **k) {
                    list.push(SourceEntry::new(vlan, *a)?, GFP_KERNEL)?;
                }
                Ok(Self::Set(list))
            }
            _ => Err(EINVAL),
        }
    }

    /// Applies the plan.
    pub(crate) fn apply(self, rtnl: Rtnl<'_>, port: &Port, vlan: &MacvlanDev) {
        let table = &port.sources;
        match self {
            Self::Nothing | Self::Add(None) => {}
            Self::Add(Some(entry)) => {
                table.publish(rtnl, entry);
                vlan.macaddr_count.fetch_add(1, Ordering::Relaxed);
            }
            Self::Del(addr) => {
                if let Some(e) = table.lookup(rtnl, vlan, &addr) {
                    table.remove(rtnl, e);
                    vlan.macaddr_count.fetch_sub(1, Ordering::Relaxed);
                }
            }
            Self::Flush => table.flush(rtnl, vlan),
            Self::Set(list) => {
                table.flush(rtnl, vlan);
                let n = list.len();
                for entry in list {
                    table.publish(rtnl, entry);
                }
                // CAST: bounded by the netlink message size.
                vlan.macaddr_count.store(n as u32, Ordering::Relaxed);
            }
        }
    }
}

/// Waits for pending `call_rcu` frees, so module text outlives them.
pub(crate) struct RcuBarrierOnDrop;

impl Drop for RcuBarrierOnDrop {
    fn drop(&mut self) {
        // SAFETY: process context (module exit).
        unsafe { bindings::rcu_barrier() };
    }
}
