// SPDX-License-Identifier: GPL-2.0

//! The port: per-lower-device state, shared by all its upper devices and
//! reachable from the rx handler (`rx_handler_data`).
//!
//! Writers hold RTNL. The rx handler and the broadcast work read under RCU,
//! so everything they read is an atomic, and upper devices are published
//! into singly linked RCU lists with release stores. An unlinked device
//! keeps its `next` pointer, so a reader standing on it can go on; its
//! memory is freed only after unregistration's grace period.

use crate::macvlan::{Macvlan, MacvlanDev};
use crate::net::bindings;
use crate::net::device::NetDevice;
use crate::net::ether::{MacAddr, MacWord};
use crate::net::link::Upper;
use crate::net::rcu_list::RcuList;
use crate::net::skb::{Skb, SkbQueue};
use crate::net::sync::{self, RcuGuard, ReadSide, Rtnl, RtnlBool, RtnlI32, RtnlU32, RtnlU64};
use crate::net::work;
use crate::rx::PORT_RX;
use crate::source::SourceTable;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};
use kernel::types::ARef;
use kernel::workqueue::{self, impl_has_work, Work, WorkItem};

/// Buckets of the unicast hash, as in the C driver.
pub(crate) const HASH_BITS: u32 = 8;
pub(crate) const HASH_SIZE: usize = 1 << HASH_BITS;
/// Tag of the port's hash lists.
pub(crate) const HASH_LIST: u64 = 0;
/// Tag of the port's list of all upper devices.
pub(crate) const UPPERS_LIST: u64 = 1;
/// Default `IFLA_MACVLAN_BC_QUEUE_LEN`.
pub(crate) const DEFAULT_BC_QUEUE_LEN: u32 = 1000;
/// Default `IFLA_MACVLAN_BC_CUTOFF`.
pub(crate) const DEFAULT_BC_CUTOFF: i32 = 1;

/// Hash of a unicast MAC into the port's table (`macvlan_eth_hash`).
pub(crate) fn eth_hash(addr: impl Into<MacWord>) -> usize {
    let value = addr.into().top48();
    // CAST: the result has `HASH_BITS` bits.
    (value.wrapping_mul(0x61C8_8646_80B5_83EB) >> (64 - HASH_BITS)) as usize
}

/// A 256-bit multicast filter, read locklessly in the rx path.
#[derive(Default)]
pub(crate) struct McFilter([AtomicU64; 4]);

impl McFilter {
    /// Bits of a filter index.
    pub(crate) const BITS: u32 = 8;

    /// Whether bit `i` is set.
    pub(crate) fn test(&self, i: usize) -> bool {
        self.0[(i / 64) % 4].load(Ordering::Relaxed) & (1 << (i % 64)) != 0
    }

    /// Replaces the filter.
    pub(crate) fn store(&self, words: [u64; 4]) {
        for (w, v) in self.0.iter().zip(words) {
            w.store(v, Ordering::Relaxed);
        }
    }
}

/// Which buckets of the port's hash hold a device, one bit each, so that a
/// broadcast visits those buckets only rather than all `HASH_SIZE` (the C
/// driver scans every bucket for every frame).
///
/// # Invariants
///
/// Written under RTNL only: a bucket's bit is set before a device is
/// published in it and cleared after it became empty. A reader that finds a
/// bit clear can therefore miss only a device being added or removed during
/// its scan, as it could in a full scan; every device that stays in the hash
/// meanwhile is in a bucket whose bit is set.
struct OccupiedBuckets([AtomicU64; HASH_SIZE / 64]);

impl OccupiedBuckets {
    const fn new() -> Self {
        Self([const { AtomicU64::new(0) }; HASH_SIZE / 64])
    }

    fn set(&self, _rtnl: Rtnl<'_>, bucket: usize) {
        self.0[bucket / 64].fetch_or(1 << (bucket % 64), Ordering::Release);
    }

    fn clear(&self, _rtnl: Rtnl<'_>, bucket: usize) {
        self.0[bucket / 64].fetch_and(!(1 << (bucket % 64)), Ordering::Relaxed);
    }

    /// Calls `f` with the index of every occupied bucket, in ascending order.
    #[inline(always)]
    fn for_each(&self, mut f: impl FnMut(usize)) {
        for (w, word) in self.0.iter().enumerate() {
            let mut bits = word.load(Ordering::Relaxed);
            while bits != 0 {
                // CAST: a bit index of a `u64`, below 64.
                f(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
    }
}

/// Hash of a multicast MAC into a filter (`mc_hash`), mixed with `mix`.
pub(crate) fn mc_hash(mix: u32, addr: &MacAddr) -> usize {
    let a = addr.0;
    let val = u32::from_ne_bytes([a[2], a[3], a[4], a[5]]) ^ mix;
    // CAST: the result has `McFilter::BITS` bits.
    (val.wrapping_mul(0x61C8_8647) >> (32 - McFilter::BITS)) as usize
}

/// State of one lower device: the data of its rx handler, shared by all its
/// upper devices.
///
/// The rx handler registration owns one reference ([`PORT_RX`]), each upper
/// device one more, and a queued broadcast work item one while it waits.
///
/// The lists hold the private state of upper devices of this port: open
/// ones in `hash`, by address, and all of them in `uppers`. A device leaves
/// both under RTNL before its unregistration ends (`ndo_stop` and
/// `dellink`), and the core frees it only after a grace period and after
/// RTNL was released.
#[pin_data]
pub(crate) struct Port {
    lower: ARef<NetDevice>,
    hash: [RcuList<MacvlanDev, HASH_LIST>; HASH_SIZE],
    occupied: OccupiedBuckets,
    /// All upper devices, in creation order.
    uppers: RcuList<MacvlanDev, UPPERS_LIST>,
    /// Upper devices registered on this port (RTNL).
    pub(crate) count: RtnlU32,
    passthru: RtnlBool,
    /// The lower address was changed through a passthru device.
    pub(crate) addr_change: RtnlBool,
    /// The lower device's own address, restored when passthru ends.
    perm_addr: RtnlU64,
    pub(crate) bc_queue_len_used: RtnlU32,
    pub(crate) bc_cutoff: RtnlI32,
    /// Groups delivered through the broadcast queue.
    pub(crate) bc_filter: McFilter,
    /// Groups some upper device wants.
    pub(crate) mc_filter: McFilter,
    /// Source-mode MAC table.
    #[pin]
    pub(crate) sources: SourceTable,
    /// Multicast frames for the broadcast work, each with the upper device
    /// it came from (a reference, so the device outlives the frame).
    #[pin]
    bc_queue: SkbQueue<Option<ARef<NetDevice>>>,
    #[pin]
    bc_work: Work<Port>,
}

impl_has_work! {
    impl HasWork<Self> for Port { self.bc_work }
}

impl WorkItem for Port {
    type Pointer = Arc<Port>;

    /// Delivers the queued multicast frames (`macvlan_process_broadcast`).
    fn run(port: Arc<Port>) {
        // The whole queue under one lock, as the C driver takes it.
        for (skb, src) in port.bc_queue.take_all() {
            let vlan = src
                .as_deref()
                .and_then(Upper::<Macvlan>::try_from_dev)
                .map(Upper::state);
            {
                let guard = RcuGuard::new();
                crate::rx::multicast_rx(&port, vlan, &skb, guard.token());
            }
            skb.consume();
            sync::cond_resched();
        }
    }
}

impl Port {
    fn new(lower: &NetDevice) -> impl PinInit<Self> {
        let perm_addr = RtnlU64::new(pack(&lower.addr()));
        let lower = ARef::from(lower);
        pin_init!(Self {
            lower,
            hash: [const { RcuList::new() }; HASH_SIZE],
            occupied: OccupiedBuckets::new(),
            uppers: RcuList::new(),
            count: RtnlU32::new(0),
            passthru: RtnlBool::new(false),
            addr_change: RtnlBool::new(false),
            perm_addr,
            bc_queue_len_used: RtnlU32::new(0),
            bc_cutoff: RtnlI32::new(DEFAULT_BC_CUTOFF),
            bc_filter: McFilter::default(),
            mc_filter: McFilter::default(),
            sources <- SourceTable::new(),
            bc_queue <- SkbQueue::new(),
            bc_work <- kernel::new_work!("macvlan_vrrp::Port::bc_work"),
        })
    }

    /// Creates the port of `lower` and installs the rx handler.
    pub(crate) fn create(rtnl: Rtnl<'_>, lower: &NetDevice) -> Result<Arc<Port>> {
        if u32::from(lower.hw_type()) != bindings::ARPHRD_ETHER || lower.is_loopback() {
            return Err(EINVAL);
        }
        let port = Arc::pin_init(Port::new(lower), GFP_KERNEL)?;
        PORT_RX.register(rtnl, lower, port.clone())?;
        Ok(port)
    }

    /// The port of `lower`, if our rx handler is installed there.
    pub(crate) fn of(rtnl: Rtnl<'_>, lower: &NetDevice) -> Option<Arc<Port>> {
        PORT_RX.data(rtnl, lower)
    }

    /// Removes the port from `lower`, when its last upper device goes: no
    /// frame reaches it afterwards, queued broadcasts are freed, and a
    /// passthru port gives the lower device its own address back. The
    /// memory goes with the last reference.
    pub(crate) fn destroy(rtnl: Rtnl<'_>, lower: &NetDevice) {
        let Some(port) = PORT_RX.unregister(rtnl, lower) else {
            return;
        };
        // No frame can queue work any more.
        work::cancel_sync(&port);
        drop(port.bc_queue.take_all());
        let perm = unpack(port.perm_addr.get());
        if port.is_passthru() && lower.addr() != perm {
            let _ = lower.set_mac_address(rtnl, &perm);
        }
    }

    /// The lower device.
    pub(crate) fn lower(&self) -> &NetDevice {
        &self.lower
    }

    /// Remembers the lower device's current address as its own.
    pub(crate) fn save_perm_addr(&self, rtnl: Rtnl<'_>) {
        self.perm_addr.set(rtnl, pack(&self.lower().addr()));
    }

    /// Whether a passthru device owns the port.
    pub(crate) fn is_passthru(&self) -> bool {
        self.passthru.get()
    }

    /// Marks the port as owned by a passthru device.
    pub(crate) fn set_passthru(&self, rtnl: Rtnl<'_>) {
        self.passthru.set(rtnl, true);
    }

    /// The open upper device with unicast address `addr`.
    pub(crate) fn lookup<'a>(
        &'a self,
        addr: impl Into<MacWord>,
        read: impl ReadSide<'a>,
    ) -> Option<&'a MacvlanDev> {
        let addr = addr.into();
        self.hash[eth_hash(addr)]
            .iter(read)
            .find(|v| v.dev().addr_word() == addr)
    }

    /// Calls `f` with every open upper device (those in the hash), in the
    /// order of the hash's buckets, as the C driver's scan visits them. Only
    /// occupied buckets are read, so the cost grows with the open devices,
    /// not with the table, and does not depend on where they hash to.
    #[inline(always)]
    pub(crate) fn for_each_open_upper<'a>(
        &'a self,
        read: impl ReadSide<'a>,
        mut f: impl FnMut(&'a MacvlanDev),
    ) {
        self.occupied.for_each(|bucket| {
            // `bucket` is below `HASH_SIZE`; the modulo spares a bounds check.
            for vlan in self.hash[bucket % HASH_SIZE].iter(read) {
                f(vlan);
            }
        });
    }

    /// Every upper device, in creation order.
    pub(crate) fn uppers<'a>(
        &'a self,
        read: impl ReadSide<'a>,
    ) -> impl Iterator<Item = &'a MacvlanDev> {
        self.uppers.iter(read)
    }

    /// The first upper device (the passthru device).
    pub(crate) fn first_upper<'a>(&'a self, read: impl ReadSide<'a>) -> Option<&'a MacvlanDev> {
        self.uppers.first(read)
    }

    /// Whether `addr` is taken by the lower device or an open upper device
    /// (`macvlan_addr_busy`).
    pub(crate) fn addr_busy(&self, rtnl: Rtnl<'_>, addr: &MacAddr) -> bool {
        if !self.is_passthru() && !self.addr_change.get() && self.lower().addr() == *addr {
            return true;
        }
        self.lookup(addr, rtnl).is_some()
    }

    /// Publishes `vlan` in the hash under its current address.
    pub(crate) fn hash_add(&self, rtnl: Rtnl<'_>, vlan: &MacvlanDev) {
        // Added at `ndo_open` and after an address change's `hash_del`;
        // removed at `ndo_stop`, before its unregistration ends (see `Port`).
        let bucket = eth_hash(&vlan.dev().addr());
        // INVARIANT: the bit is set before the device is published.
        self.occupied.set(rtnl, bucket);
        // SAFETY: an upper device of this port on no hash list, valid as the
        // list requires; the port, in an `Arc`, never moves.
        unsafe { self.hash[bucket].push_front(rtnl, vlan) };
    }

    /// Unpublishes `vlan`, whose address is `addr`. With `sync`, waits for
    /// readers to leave it.
    pub(crate) fn hash_del(&self, rtnl: Rtnl<'_>, vlan: &MacvlanDev, addr: &MacAddr, sync: bool) {
        let bucket = eth_hash(addr);
        self.hash[bucket].remove(rtnl, vlan);
        if self.hash[bucket].first(rtnl).is_none() {
            // INVARIANT: cleared once the bucket is empty.
            self.occupied.clear(rtnl, bucket);
        }
        if sync {
            sync::synchronize_net();
        }
    }

    /// Appends `vlan` to the list of all upper devices.
    pub(crate) fn list_add(&self, rtnl: Rtnl<'_>, vlan: &MacvlanDev) {
        // SAFETY: `vlan` is a new upper device of this port, registered, on
        // no list yet; `dellink` removes it before its unregistration ends
        // (see `Port`), and the port, in an `Arc`, never moves.
        unsafe { self.uppers.push_back(rtnl, vlan) };
    }

    /// Removes `vlan` from the list of all upper devices.
    pub(crate) fn list_del(&self, rtnl: Rtnl<'_>, vlan: &MacvlanDev) {
        self.uppers.remove(rtnl, vlan);
    }

    /// Recomputes the queue length used: the largest one requested
    /// (`update_port_bc_queue_len`).
    pub(crate) fn update_bc_queue_len(&self, rtnl: Rtnl<'_>) {
        let max = self
            .uppers(rtnl)
            .map(|v| v.bc_queue_len_req.get())
            .max()
            .unwrap_or(0);
        self.bc_queue_len_used.set(rtnl, max);
    }

    /// Recomputes the port filters from the lower device's multicast list
    /// (`macvlan_set_mac_lists` and `macvlan_recompute_bc_filter`).
    pub(crate) fn recompute_filters(&self) {
        let lower = self.lower();
        let all = lower.flags()
            & (bindings::net_device_flags_IFF_PROMISC | bindings::net_device_flags_IFF_ALLMULTI)
            != 0;
        let cutoff = self.bc_cutoff.get();
        self.mc_filter
            .store(compute_filter(lower, all, 0, |synced| synced > 0));
        if cutoff < 0 {
            self.bc_filter.store([0; 4]);
        } else {
            self.bc_filter
                .store(compute_filter(lower, all, 0, |synced| synced > cutoff));
        }
    }

    /// Queues a copy of a multicast frame for the broadcast work
    /// (`macvlan_broadcast_enqueue`).
    pub(crate) fn enqueue(this: ArcBorrow<'_, Port>, src: Option<&MacvlanDev>, skb: &Skb) {
        let Some(nskb) = skb.clone_atomic() else {
            this.lower().count_rx_dropped();
            return;
        };
        let tag = src.map(|s| ARef::from(s.dev()));
        let limit = this.bc_queue_len_used.get();
        let queued = this.bc_queue.push_limited(nskb, tag, limit);
        // Queued or not, as C does. A pending item will see this frame; only
        // an idle one needs queueing, and a reference to the port (which a
        // lost race to queue it gives back).
        if !work::is_pending(&*this) {
            let _ = workqueue::system_unbound().enqueue(Arc::from(this));
        }
        if queued.is_err() {
            this.lower().count_rx_dropped();
        }
    }
}

fn pack(a: &MacAddr) -> u64 {
    let b = a.0;
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], 0, 0])
}

fn unpack(v: u64) -> MacAddr {
    let b = v.to_le_bytes();
    MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
}

/// Computes a filter: every address of `dev` for which `want(synced)`, plus
/// broadcast (`macvlan_compute_filter`).
pub(crate) fn compute_filter(
    dev: &NetDevice,
    all: bool,
    mix: u32,
    want: impl Fn(i32) -> bool,
) -> [u64; 4] {
    if all {
        return [u64::MAX; 4];
    }
    let mut words = [0u64; 4];
    let mut set = |i: usize| words[(i / 64) % 4] |= 1 << (i % 64);
    dev.for_each_mc_addr(|addr, synced| {
        if want(synced) {
            set(mc_hash(mix, addr));
        }
    });
    set(mc_hash(mix, &MacAddr::BROADCAST));
    words
}
