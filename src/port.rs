// SPDX-License-Identifier: GPL-2.0

//! The port: per-lower-device state, shared by all its upper devices and
//! reachable from the rx handler (`rx_handler_data`).
//!
//! Writers hold RTNL. The rx handler and the broadcast work read under RCU,
//! so everything they read is an atomic, and upper devices are published
//! into singly linked RCU lists with release stores. An unlinked device
//! keeps its `next` pointer, so a reader standing on it can go on; its
//! memory is freed only after unregistration's grace period.

use crate::macvlan::MacvlanDev;
use crate::net::bindings;
use crate::net::device::NetDevice;
use crate::net::ether::MacAddr;
use crate::net::link;
use crate::net::skb::Skb;
use crate::net::sync::{Rcu, RcuGuard, Rtnl};
use crate::rx::PortRx;
use crate::source::SourceTable;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::types::Opaque;

/// Buckets of the unicast hash, as in the C driver.
pub(crate) const HASH_BITS: u32 = 8;
pub(crate) const HASH_SIZE: usize = 1 << HASH_BITS;
/// Default `IFLA_MACVLAN_BC_QUEUE_LEN`.
pub(crate) const DEFAULT_BC_QUEUE_LEN: u32 = 1000;
/// Default `IFLA_MACVLAN_BC_CUTOFF`.
pub(crate) const DEFAULT_BC_CUTOFF: i32 = 1;

/// Hash of a unicast MAC into the port's table (`macvlan_eth_hash`).
pub(crate) fn eth_hash(addr: &MacAddr) -> usize {
    let a = addr.0;
    let value = u64::from_le_bytes([a[0], a[1], a[2], a[3], a[4], a[5], 0, 0]) << 16;
    // CAST: the result has `HASH_BITS` bits.
    (value.wrapping_mul(0x61C8_8646_80B5_83EB) >> (64 - HASH_BITS)) as usize
}

/// A 256-bit multicast filter, read locklessly in the rx path.
#[derive(Default)]
pub(crate) struct McFilter([AtomicU64; 4]);

// SAFETY: all-zero is an empty filter.
unsafe impl kernel::init::Zeroable for McFilter {}

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

/// Hash of a multicast MAC into a filter (`mc_hash`), mixed with `mix`.
pub(crate) fn mc_hash(mix: u32, addr: &MacAddr) -> usize {
    let a = addr.0;
    let val = u32::from_ne_bytes([a[2], a[3], a[4], a[5]]) ^ mix;
    // CAST: the result has `McFilter::BITS` bits.
    (val.wrapping_mul(0x61C8_8647) >> (32 - McFilter::BITS)) as usize
}

/// State of one lower device.
///
/// # Invariants
///
/// - `lower` is the device this port is the rx handler data of, and it
///   outlives the port (the port is destroyed before the lower device is
///   unregistered, from its last upper device's `ndo_uninit`).
/// - Every device in `hash` and `uppers` is a registered (or registering)
///   upper device of this port.
#[pin_data]
pub(crate) struct Port {
    lower: *mut bindings::net_device,
    hash: [AtomicPtr<MacvlanDev>; HASH_SIZE],
    /// All upper devices, in creation order.
    uppers: AtomicPtr<MacvlanDev>,
    /// Upper devices registered on this port (RTNL).
    pub(crate) count: AtomicU32,
    passthru: AtomicBool,
    /// The lower address was changed through a passthru device.
    pub(crate) addr_change: AtomicBool,
    /// The lower device's own address, restored when passthru ends.
    perm_addr: AtomicU64,
    pub(crate) bc_queue_len_used: AtomicU32,
    pub(crate) bc_cutoff: AtomicI32,
    /// Groups delivered through the broadcast queue.
    pub(crate) bc_filter: McFilter,
    /// Groups some upper device wants.
    pub(crate) mc_filter: McFilter,
    /// Source-mode MAC table.
    pub(crate) sources: SourceTable,
    #[pin]
    bc_queue: Opaque<bindings::sk_buff_head>,
    #[pin]
    bc_work: Opaque<bindings::work_struct>,
}

// SAFETY: shared between the rx path on any CPU, the work item and RTNL
// writers; every mutable field is atomic or a C object with its own lock.
unsafe impl Sync for Port {}
// SAFETY: see `Sync`.
unsafe impl Send for Port {}

impl Port {
    fn new(lower: &NetDevice) -> impl PinInit<Self> {
        let perm_addr = AtomicU64::new(pack(&lower.addr()));
        let lower = lower.as_ptr();
        pin_init!(Self {
            lower,
            hash: empty_buckets(),
            uppers: AtomicPtr::new(core::ptr::null_mut()),
            count: AtomicU32::new(0),
            passthru: AtomicBool::new(false),
            addr_change: AtomicBool::new(false),
            perm_addr,
            bc_queue_len_used: AtomicU32::new(0),
            bc_cutoff: AtomicI32::new(DEFAULT_BC_CUTOFF),
            bc_filter: McFilter::default(),
            mc_filter: McFilter::default(),
            sources: SourceTable::new(),
            // SAFETY: initializes the queue head and its lock in place.
            bc_queue <- Opaque::ffi_init(|q| unsafe { bindings::mvv_skb_queue_head_init(q) }),
            // SAFETY: initializes the work item in place.
            bc_work <- Opaque::ffi_init(|w| unsafe {
                bindings::mvv_init_work(w, Some(process_broadcast))
            }),
        })
    }

    /// Creates the port of `lower` and installs the rx handler.
    pub(crate) fn create(rtnl: Rtnl<'_>, lower: &NetDevice) -> Result<&'static Port> {
        if u32::from(lower.hw_type()) != bindings::ARPHRD_ETHER || lower.is_loopback() {
            return Err(EINVAL);
        }
        let port = KBox::pin_init(Port::new(lower), GFP_KERNEL)?;
        // SAFETY: the port is never moved out of its box; `destroy` turns
        // the pointer back into the box.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(port) });
        // SAFETY: `raw` stays valid until `destroy`, which unregisters the
        // handler (with a grace period) first.
        if let Err(e) = unsafe { link::rx_handler_register::<PortRx>(rtnl, lower, raw) } {
            // SAFETY: not published: the registration failed.
            drop(unsafe { KBox::from_raw(raw) });
            return Err(e);
        }
        // SAFETY: just leaked from the box; lives until `destroy`.
        Ok(unsafe { &*raw })
    }

    /// The port of `lower`, if our rx handler is installed there.
    pub(crate) fn of<'a>(rtnl: Rtnl<'a>, lower: &'a NetDevice) -> Option<&'a Port> {
        link::rx_handler_data::<PortRx>(rtnl, lower)
    }

    /// Removes the rx handler and frees the port. Called when the last
    /// upper device goes.
    ///
    /// # Safety
    ///
    /// No upper device may use the port afterwards.
    pub(crate) unsafe fn destroy(&self, rtnl: Rtnl<'_>) {
        let lower = self.lower();
        link::rx_handler_unregister(rtnl, lower);
        // No packet can queue work any more.
        // SAFETY: the work item was initialized in `new`.
        unsafe { bindings::mvv_cancel_work_sync(self.bc_work.get()) };
        self.purge_queue();
        let perm = unpack(self.perm_addr.load(Ordering::Relaxed));
        if self.is_passthru() && lower.addr() != perm {
            let _ = set_lower_addr(rtnl, lower, &perm);
        }
        // SAFETY: `self` came from `KBox::into_raw` in `create`; the rx
        // handler is gone after a grace period, the work is cancelled, and
        // the caller guarantees no upper device uses it.
        drop(unsafe { KBox::from_raw(core::ptr::from_ref(self).cast_mut()) });
    }

    /// The lower device.
    pub(crate) fn lower(&self) -> &NetDevice {
        // SAFETY: by the type invariant the lower device outlives the port.
        unsafe { NetDevice::from_raw(self.lower) }
    }

    /// Remembers the lower device's current address as its own.
    pub(crate) fn save_perm_addr(&self, _rtnl: Rtnl<'_>) {
        self.perm_addr
            .store(pack(&self.lower().addr()), Ordering::Relaxed);
    }

    /// Whether a passthru device owns the port.
    pub(crate) fn is_passthru(&self) -> bool {
        self.passthru.load(Ordering::Relaxed)
    }

    /// Marks the port as owned by a passthru device.
    pub(crate) fn set_passthru(&self, _rtnl: Rtnl<'_>) {
        self.passthru.store(true, Ordering::Relaxed);
    }

    /// The open upper device with unicast address `addr`.
    pub(crate) fn lookup<'a>(&'a self, addr: &MacAddr, _rcu: Rcu<'a>) -> Option<&'a MacvlanDev> {
        self.chain(eth_hash(addr)).find(|v| v.dev().addr() == *addr)
    }

    /// Like [`Port::lookup`], under RTNL.
    pub(crate) fn lookup_rtnl<'a>(
        &'a self,
        addr: &MacAddr,
        _rtnl: Rtnl<'a>,
    ) -> Option<&'a MacvlanDev> {
        self.chain(eth_hash(addr)).find(|v| v.dev().addr() == *addr)
    }

    fn chain(&self, bucket: usize) -> Chain<'_> {
        Chain {
            next: self.hash[bucket % HASH_SIZE].load(Ordering::Acquire),
            via_list: false,
            _port: core::marker::PhantomData,
        }
    }

    /// Every open upper device (those in the hash).
    pub(crate) fn open_uppers(&self) -> impl Iterator<Item = &MacvlanDev> {
        (0..HASH_SIZE).flat_map(move |b| self.chain(b))
    }

    /// Every upper device.
    pub(crate) fn uppers(&self) -> impl Iterator<Item = &MacvlanDev> {
        Chain {
            next: self.uppers.load(Ordering::Acquire),
            via_list: true,
            _port: core::marker::PhantomData,
        }
    }

    /// The first upper device (the passthru device).
    pub(crate) fn first_upper(&self) -> Option<&MacvlanDev> {
        self.uppers().next()
    }

    /// Whether `addr` is taken by the lower device or an open upper device
    /// (`macvlan_addr_busy`).
    pub(crate) fn addr_busy(&self, rtnl: Rtnl<'_>, addr: &MacAddr) -> bool {
        if !self.is_passthru()
            && !self.addr_change.load(Ordering::Relaxed)
            && self.lower().addr() == *addr
        {
            return true;
        }
        self.lookup_rtnl(addr, rtnl).is_some()
    }

    /// Publishes `vlan` in the hash under its current address.
    pub(crate) fn hash_add(&self, _rtnl: Rtnl<'_>, vlan: &MacvlanDev) {
        let head = &self.hash[eth_hash(&vlan.dev().addr())];
        vlan.hash_next
            .store(head.load(Ordering::Relaxed), Ordering::Relaxed);
        // Release: readers that see `vlan` see its fields and `next`.
        head.store(core::ptr::from_ref(vlan).cast_mut(), Ordering::Release);
    }

    /// Unpublishes `vlan`, whose address is `addr`. With `sync`, waits for
    /// readers to leave it.
    pub(crate) fn hash_del(&self, rtnl: Rtnl<'_>, vlan: &MacvlanDev, addr: &MacAddr, sync: bool) {
        unlink(&self.hash[eth_hash(addr)], vlan, |v| &v.hash_next);
        let _ = rtnl;
        if sync {
            // SAFETY: may sleep; RTNL callers may.
            unsafe { bindings::mvv_synchronize_net() };
        }
    }

    /// Appends `vlan` to the list of all upper devices.
    pub(crate) fn list_add(&self, _rtnl: Rtnl<'_>, vlan: &MacvlanDev) {
        vlan.list_next
            .store(core::ptr::null_mut(), Ordering::Relaxed);
        let mut slot = &self.uppers;
        loop {
            let cur = slot.load(Ordering::Relaxed);
            // SAFETY: list members are live upper devices (type invariant).
            match unsafe { cur.as_ref() } {
                Some(v) => slot = &v.list_next,
                None => break,
            }
        }
        slot.store(core::ptr::from_ref(vlan).cast_mut(), Ordering::Release);
    }

    /// Removes `vlan` from the list of all upper devices.
    pub(crate) fn list_del(&self, _rtnl: Rtnl<'_>, vlan: &MacvlanDev) {
        unlink(&self.uppers, vlan, |v| &v.list_next);
    }

    /// Recomputes the queue length used: the largest one requested
    /// (`update_port_bc_queue_len`).
    pub(crate) fn update_bc_queue_len(&self, _rtnl: Rtnl<'_>) {
        let max = self
            .uppers()
            .map(|v| v.bc_queue_len_req.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        self.bc_queue_len_used.store(max, Ordering::Relaxed);
    }

    /// Recomputes the port filters from the lower device's multicast list
    /// (`macvlan_set_mac_lists` and `macvlan_recompute_bc_filter`).
    pub(crate) fn recompute_filters(&self) {
        let lower = self.lower();
        let all = lower.flags()
            & (bindings::net_device_flags_IFF_PROMISC | bindings::net_device_flags_IFF_ALLMULTI)
            != 0;
        let cutoff = self.bc_cutoff.load(Ordering::Relaxed);
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
    pub(crate) fn enqueue(&self, src: Option<&MacvlanDev>, skb: &Skb) {
        let Some(mut nskb) = skb.clone_atomic() else {
            self.lower().count_rx_dropped();
            return;
        };
        *nskb.cb_word() = src.map_or(core::ptr::null_mut(), |s| {
            core::ptr::from_ref(s).cast_mut().cast()
        });
        if let Some(s) = src {
            s.dev().hold_raw();
        }
        let raw = nskb.into_raw();
        let limit = self.bc_queue_len_used.load(Ordering::Relaxed);
        // SAFETY: the queue is initialized; on success it owns `raw`.
        let queued =
            unsafe { bindings::mvv_skb_queue_tail_limited(self.bc_queue.get(), raw, limit) };
        // SAFETY: the work item is initialized; the port outlives it.
        unsafe { bindings::mvv_queue_work_unbound(self.bc_work.get()) };
        if !queued {
            // SAFETY: not queued, so `raw` is still ours.
            drop(unsafe { Skb::from_raw(raw) });
            if let Some(s) = src {
                s.dev().put_raw();
            }
            self.lower().count_rx_dropped();
        }
    }

    fn dequeue(&self) -> Option<(Skb, Option<&MacvlanDev>)> {
        // SAFETY: the queue is initialized; dequeued skbs are ours.
        let skb = unsafe { Skb::from_raw(bindings::mvv_skb_dequeue(self.bc_queue.get())) }?;
        Some(Self::queued_source(skb))
    }

    /// Splits a dequeued skb from the source device `enqueue` stored in it.
    fn queued_source<'a>(mut skb: Skb) -> (Skb, Option<&'a MacvlanDev>) {
        let src = *skb.cb_word();
        // SAFETY: `enqueue` stored NULL or an upper device it holds a
        // reference to, released by the caller.
        (skb, unsafe { src.cast::<MacvlanDev>().as_ref() })
    }

    fn purge_queue(&self) {
        while let Some((skb, src)) = self.dequeue() {
            drop(skb);
            if let Some(s) = src {
                s.dev().put_raw();
            }
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

fn empty_buckets() -> [AtomicPtr<MacvlanDev>; HASH_SIZE] {
    [const { AtomicPtr::new(core::ptr::null_mut()) }; HASH_SIZE]
}

/// Walks a chain of upper devices.
struct Chain<'a> {
    next: *mut MacvlanDev,
    via_list: bool,
    _port: core::marker::PhantomData<&'a Port>,
}

impl<'a> Iterator for Chain<'a> {
    type Item = &'a MacvlanDev;

    fn next(&mut self) -> Option<&'a MacvlanDev> {
        // SAFETY: chain members are upper devices of the port; an unlinked
        // one stays valid until a grace period after unregistration, which
        // the reader's RCU section or RTNL excludes.
        let cur = unsafe { self.next.as_ref() }?;
        let link = if self.via_list {
            &cur.list_next
        } else {
            &cur.hash_next
        };
        self.next = link.load(Ordering::Acquire);
        Some(cur)
    }
}

/// Removes `vlan` from the chain that starts at `head`.
fn unlink(
    head: &AtomicPtr<MacvlanDev>,
    vlan: &MacvlanDev,
    next: impl Fn(&MacvlanDev) -> &AtomicPtr<MacvlanDev>,
) {
    let target = core::ptr::from_ref(vlan).cast_mut();
    let mut slot = head;
    loop {
        let cur = slot.load(Ordering::Relaxed);
        if cur.is_null() {
            return;
        }
        if cur == target {
            // Readers on `vlan` still find its successor.
            slot.store(next(vlan).load(Ordering::Relaxed), Ordering::Release);
            return;
        }
        // SAFETY: chain members are live upper devices.
        slot = next(unsafe { &*cur });
    }
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

pub(crate) fn set_lower_addr(_rtnl: Rtnl<'_>, lower: &NetDevice, addr: &MacAddr) -> Result {
    // SAFETY: a zeroed sockaddr is valid; RTNL is held for
    // `dev_set_mac_address`.
    unsafe {
        let mut sa: bindings::sockaddr = core::mem::zeroed();
        sa.sa_family = lower.hw_type();
        let data = core::ptr::from_mut(&mut sa)
            .cast::<u8>()
            .add(core::mem::offset_of!(bindings::sockaddr, __bindgen_anon_1));
        core::ptr::copy_nonoverlapping(addr.0.as_ptr(), data, addr.0.len());
        kernel::error::to_result(bindings::dev_set_mac_address(
            lower.as_ptr(),
            &mut sa,
            core::ptr::null_mut(),
        ))
    }
}

/// # Safety
///
/// Only for the C side, which passes valid pointers and holds the
/// context (RTNL, RCU) its callback contract promises.
unsafe extern "C" fn process_broadcast(work: *mut bindings::work_struct) {
    let offset = core::mem::offset_of!(Port, bc_work);
    // SAFETY: the work item is the `bc_work` of a live port (the port
    // cancels it before being freed).
    let port = unsafe { &*work.cast::<u8>().sub(offset).cast::<Port>() };
    // Take the whole queue under one lock, as the C driver does.
    let batch = Opaque::<bindings::sk_buff_head>::uninit();
    // SAFETY: `batch` stays in place until this function returns; the
    // helper initializes it and moves the queued skbs into it.
    unsafe { bindings::mvv_skb_queue_take_all(port.bc_queue.get(), batch.get()) };
    // SAFETY: `batch` is initialized and private to this function; its skbs
    // are ours.
    let next = || unsafe { Skb::from_raw(bindings::mvv___skb_dequeue(batch.get())) };
    while let Some((skb, src)) = next().map(Port::queued_source) {
        {
            let guard = RcuGuard::new();
            crate::rx::multicast_rx(port, src, &skb, guard.token());
        }
        if let Some(s) = src {
            s.dev().put_raw();
        }
        skb.consume();
        // SAFETY: process context, no locks held.
        unsafe { bindings::mvv_cond_resched() };
    }
}
