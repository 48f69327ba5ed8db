// SPDX-License-Identifier: GPL-2.0

//! Source mode: the per-port table of source MACs whose frames are also
//! delivered to a source-mode upper device (`IFLA_MACVLAN_MACADDR*`).
//!
//! Entries live in per-bucket [`RcuBoxList`]s: published under RTNL, read
//! under RCU in the rx path, freed a grace period after their removal.
//! Module exit waits for those frees ([`crate::net::rcu_list::RcuBarrier`]).

use crate::macvlan::{Macvlan, MacvlanDev};
use crate::net::bindings;
use crate::net::device::NetDevice;
use crate::net::ether::MacAddr;
use crate::net::ether::ETH_HLEN;
use crate::net::link::Upper;
use crate::net::netlink::Attrs;
use crate::net::rcu_list::{RcuBoxList, RcuNode};
use crate::net::skb::{PacketType, Skb};
use crate::net::sync::{Rcu, RcuGuard, Rtnl, RtnlU32};
use crate::port::{eth_hash, Port, HASH_SIZE};
use kernel::init::pin_init_array_from_fn;
use kernel::prelude::*;
use kernel::types::ARef;

/// One source MAC of one source-mode device.
pub(crate) struct SourceEntry {
    /// The source-mode device; a reference, dropped with the entry a grace
    /// period after its removal, so RCU readers may still deliver to it.
    vlan: ARef<NetDevice>,
    addr: MacAddr,
}

impl SourceEntry {
    fn new(vlan: &MacvlanDev, addr: MacAddr) -> Result<KBox<RcuNode<Self>>> {
        RcuNode::new(Self {
            vlan: ARef::from(vlan.dev()),
            addr,
        })
    }

    fn owned_by(&self, vlan: &MacvlanDev) -> bool {
        core::ptr::eq(&*self.vlan, vlan.dev())
    }
}

/// The per-port table.
///
/// # Invariants
///
/// `len` is the number of entries in `buckets`: entries are added and
/// removed only through [`SourceTable::insert`] and
/// [`SourceTable::remove_where`].
#[pin_data]
pub(crate) struct SourceTable {
    #[pin]
    buckets: [RcuBoxList<SourceEntry>; HASH_SIZE],
    /// Read without a lock by the rx path, which skips an empty table: a
    /// port rarely has a source-mode device.
    len: RtnlU32,
}

impl SourceTable {
    /// An empty table.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            buckets <- pin_init_array_from_fn(|_| RcuBoxList::new()),
            len: RtnlU32::new(0),
        })
    }

    fn bucket(&self, addr: &MacAddr) -> &RcuBoxList<SourceEntry> {
        &self.buckets[eth_hash(addr)]
    }

    /// Publishes `entry`.
    fn insert(&self, rtnl: Rtnl<'_>, entry: KBox<RcuNode<SourceEntry>>) {
        self.bucket(&entry.value().addr).push_front(rtnl, entry);
        // INVARIANT: one entry more.
        self.len.set(rtnl, self.len.get() + 1);
    }

    /// Removes the entries of `bucket` for which `doomed` holds; returns
    /// how many.
    fn remove_where(
        &self,
        rtnl: Rtnl<'_>,
        bucket: &RcuBoxList<SourceEntry>,
        doomed: impl FnMut(&SourceEntry) -> bool,
    ) -> usize {
        let removed = bucket.remove_where(rtnl, doomed);
        // INVARIANT: `removed` entries fewer. CAST: at most `len`.
        self.len.set(rtnl, self.len.get() - removed as u32);
        removed
    }

    fn contains(&self, vlan: &MacvlanDev, addr: &MacAddr) -> bool {
        let guard = RcuGuard::new();
        let found = self
            .bucket(addr)
            .iter(guard.token())
            .any(|e| e.addr == *addr && e.owned_by(vlan));
        found
    }

    /// Removes every entry of `vlan`: one pass over the table, as the C
    /// driver's `macvlan_flush_sources` makes.
    ///
    /// An empty table needs no pass (every upper device's uninit flushes).
    pub(crate) fn flush(&self, rtnl: Rtnl<'_>, vlan: &MacvlanDev) {
        if self.len.get() != 0 {
            for bucket in &self.buckets {
                self.remove_where(rtnl, bucket, |e| e.owned_by(vlan));
            }
        }
        vlan.macaddr_count.set(rtnl, 0);
    }

    /// Calls `f` with each source MAC of `vlan`, until it fails.
    pub(crate) fn try_for_each_addr_of(
        &self,
        vlan: &MacvlanDev,
        mut f: impl FnMut(&MacAddr) -> Result,
    ) -> Result {
        let guard = RcuGuard::new();
        let result = self
            .buckets
            .iter()
            .flat_map(|b| b.iter(guard.token()))
            .filter(|e| e.owned_by(vlan))
            .try_for_each(|e| f(&e.addr));
        result
    }

    /// Delivers a copy of the frame to every source-mode device listening
    /// for `source` (`macvlan_forward_source`). Returns whether one of them
    /// has `NODST`, in which case the frame goes no further. Inline: most
    /// ports have no source-mode device, and the test is all the rx path
    /// then pays. The addresses are passed by value, in registers, so that
    /// the handler need not keep copies in memory for this rare call.
    #[inline]
    pub(crate) fn forward(&self, skb: &Skb, dest: MacAddr, source: MacAddr, rcu: Rcu<'_>) -> bool {
        self.len.get() != 0 && self.forward_entries(skb, dest, source, rcu)
    }

    /// [`SourceTable::forward`] on a table with entries.
    #[inline(never)]
    fn forward_entries(&self, skb: &Skb, dest: MacAddr, source: MacAddr, rcu: Rcu<'_>) -> bool {
        let mut consume = false;
        for entry in self.bucket(&source).iter(rcu).filter(|e| e.addr == source) {
            let Some(up) = Upper::<Macvlan>::try_from_dev(&entry.vlan) else {
                continue;
            };
            let vlan = up.state();
            if vlan.flags() & crate::mode::FLAG_NODST != 0 {
                consume = true;
            }
            forward_one(skb, vlan, &dest);
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
    Add(Option<KBox<RcuNode<SourceEntry>>>),
    /// Remove one address if present.
    Del(MacAddr),
    /// Remove all.
    Flush,
    /// Replace all with these.
    Set(KVec<KBox<RcuNode<SourceEntry>>>),
}

impl SourcePlan {
    /// Prepares `mode` (`MACVLAN_MACADDR_*`) with the addresses in `data`.
    /// The attributes were validated by `validate`.
    pub(crate) fn prepare(
        _rtnl: Rtnl<'_>,
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
                if port.sources.contains(vlan, &addr) {
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
                table.insert(rtnl, entry);
                vlan.macaddr_count.set(rtnl, vlan.macaddr_count.get() + 1);
            }
            Self::Del(addr) => {
                let removed = table.remove_where(rtnl, table.bucket(&addr), |e| {
                    e.addr == addr && e.owned_by(vlan)
                });
                if removed > 0 {
                    // CAST: at most one entry per device and address.
                    let count = vlan.macaddr_count.get() - removed as u32;
                    vlan.macaddr_count.set(rtnl, count);
                }
            }
            Self::Flush => table.flush(rtnl, vlan),
            Self::Set(list) => {
                table.flush(rtnl, vlan);
                let n = list.len();
                for entry in list {
                    table.insert(rtnl, entry);
                }
                // CAST: bounded by the netlink message size.
                vlan.macaddr_count.set(rtnl, n as u32);
            }
        }
    }
}
