// SPDX-License-Identifier: GPL-2.0

//! Socket buffers.
//!
//! [`Skb`] owns one reference to a `struct sk_buff`. Every way of giving it
//! up consumes the value: dropping frees it as a drop (`kfree_skb`),
//! [`Skb::consume`] frees it as consumed, the receive functions hand it to the
//! stack, and [`Skb::into_raw`] gives it to C code explicitly. A double free
//! does not compile, and a leak needs a visible `into_raw` or `mem::forget`.

use super::bindings;
use super::device::NetDevice;
use super::ether::{MacAddr, MacWord, ETH_ALEN, ETH_HLEN};
use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::prelude::*;
use kernel::types::{ARef, AlwaysRefCounted, Opaque};

/// `skb->pkt_type` values the driver sets.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum PacketType {
    /// To us.
    Host = bindings::PACKET_HOST as u8,
    /// To all.
    Broadcast = bindings::PACKET_BROADCAST as u8,
    /// To a group.
    Multicast = bindings::PACKET_MULTICAST as u8,
}

/// An owned `struct sk_buff`.
///
/// # Invariants
///
/// `self.0` points to a valid `sk_buff`, and this value owns one reference
/// to it.
pub(crate) struct Skb(NonNull<bindings::sk_buff>);

// SAFETY: an `sk_buff` reference may be passed between CPUs; the C API does
// so all the time (queues, work items).
unsafe impl Send for Skb {}

/// The `headers` group of `struct sk_buff` (`pkt_type`, `protocol`,
/// `mac_header`, ...). The rx path reads these per packet, so they are
/// accessed in Rust, through `kernel::bindings`' layout of the struct, rather
/// than through out-of-line C helpers.
fn headers(skb: &bindings::sk_buff) -> &kernel::bindings::sk_buff__bindgen_ty_4__bindgen_ty_1 {
    // SAFETY: `__bindgen_anon_1` and `headers` are the two views of the same
    // `struct_group`; both are plain data valid for any bit pattern.
    unsafe { skb.__bindgen_anon_4.__bindgen_anon_1.as_ref() }
}

impl Skb {
    /// The `sk_buff`, borrowed for the life of `self`.
    fn raw(&self) -> &bindings::sk_buff {
        // SAFETY: by the type invariant the skb is valid, and we own a
        // reference to it.
        unsafe { self.0.as_ref() }
    }

    /// Takes ownership of a raw `sk_buff`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `sk_buff` whose reference the caller owns
    /// and transfers to the returned value.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::sk_buff) -> Option<Self> {
        // INVARIANT: the caller transfers a valid, owned reference.
        NonNull::new(ptr).map(Self)
    }

    /// Takes ownership of a raw `sk_buff` that the caller knows is there:
    /// the skb the core hands to a driver's entry points, without a test
    /// on the hot path.
    ///
    /// # Safety
    ///
    /// `ptr` must be non-null and point to a valid `sk_buff` whose reference
    /// the caller owns and transfers to the returned value.
    #[inline]
    pub(crate) unsafe fn from_raw_nonnull(ptr: *mut bindings::sk_buff) -> Self {
        // INVARIANT: the caller transfers a valid, owned reference.
        // SAFETY: the caller guarantees that `ptr` is not null.
        Self(unsafe { NonNull::new_unchecked(ptr) })
    }

    /// Gives the reference to C code. This is the explicit leak.
    pub(crate) fn into_raw(self) -> *mut bindings::sk_buff {
        let ptr = self.0.as_ptr();
        core::mem::forget(self);
        ptr
    }

    /// The raw pointer, for calls that borrow the skb.
    pub(crate) fn as_ptr(&self) -> *mut bindings::sk_buff {
        self.0.as_ptr()
    }

    /// Frees the skb as consumed (not dropped): it did what it was for.
    pub(crate) fn consume(self) {
        // SAFETY: by the type invariant we own a reference, given up here.
        unsafe { bindings::mvv_consume_skb(self.into_raw()) };
    }

    /// Data length, not counting the pulled Ethernet header.
    pub(crate) fn len(&self) -> u32 {
        self.raw().len
    }

    /// The raw `skb->dev`, which may be null; for entry points that know
    /// it is not.
    #[inline]
    pub(crate) fn dev_ptr(&self) -> *mut bindings::net_device {
        // SAFETY: `dev` shares a union with `dev_scratch`, which only
        // queueing code (not the rx and tx paths we run in) uses.
        let dev = unsafe {
            self.raw()
                .__bindgen_anon_1
                .__bindgen_anon_1
                .__bindgen_anon_1
                .dev
        };
        // CAST: `kernel::bindings` keeps `net_device` opaque; ours is the
        // same C type.
        dev.cast()
    }

    /// Moves the skb to another device.
    pub(crate) fn set_dev(&mut self, dev: &NetDevice) {
        // CAST: see `dev()`.
        // SAFETY: we own the skb; `dev` is valid.
        unsafe {
            (*self.as_ptr())
                .__bindgen_anon_1
                .__bindgen_anon_1
                .__bindgen_anon_1
                .dev = dev.as_ptr().cast()
        };
    }

    /// `skb->pkt_type`.
    pub(crate) fn pkt_type(&self) -> u8 {
        headers(self.raw()).pkt_type()
    }

    /// Sets `skb->pkt_type`. Callers own the skb unshared.
    pub(crate) fn set_pkt_type(&mut self, t: PacketType) {
        // SAFETY: we own the skb (type invariant); the field is plain data.
        unsafe {
            (*self.as_ptr())
                .__bindgen_anon_4
                .__bindgen_anon_1
                .as_mut()
                .set_pkt_type(t as u8)
        };
    }

    /// `skb->protocol`, in host order.
    pub(crate) fn protocol(&self) -> u16 {
        u16::from_be(headers(self.raw()).protocol)
    }

    /// A copy of the Ethernet header, if the MAC header is set.
    ///
    /// On receive, `eth_type_trans` has pulled the header, which stays in
    /// the linear area.
    pub(crate) fn eth_header(&self) -> Option<[u8; ETH_HLEN]> {
        let mac = headers(self.raw()).mac_header;
        // `skb_mac_header_was_set()`: unset is `(u16)~0U`.
        if mac == u16::MAX {
            return None;
        }
        let mut hdr = [0u8; ETH_HLEN];
        // SAFETY: the MAC header is set, so `head + mac_header` is inside
        // the linear data, and an Ethernet device's MAC header is `ETH_HLEN`
        // bytes there.
        unsafe {
            let start = self.raw().head.add(usize::from(mac));
            core::ptr::copy_nonoverlapping(start, hdr.as_mut_ptr(), ETH_HLEN);
        }
        Some(hdr)
    }

    /// The link-layer header, from the MAC header to `skb->data`, in place: on
    /// receive the Ethernet header and the VLAN tags that were left in the
    /// frame. `None` if the MAC header is unset, or the header is shorter
    /// than Ethernet or longer than `max`.
    pub(crate) fn link_header(&self, max: usize) -> Option<&[u8]> {
        let skb = self.raw();
        let mac = headers(skb).mac_header;
        if mac == u16::MAX {
            return None;
        }
        // CAST: `data` and `head` point into the same buffer, `data` at or
        // after `head`.
        let data = (skb.data as usize).wrapping_sub(skb.head as usize);
        let len = data.checked_sub(usize::from(mac))?;
        if !(ETH_HLEN..=max).contains(&len) {
            return None;
        }
        // Clones may share these bytes, and only read them too.
        // SAFETY: the MAC header is set and lies before `data`: the `len` bytes
        // are in the linear area, kept ours and unchanged by `&self`.
        Some(unsafe { core::slice::from_raw_parts(skb.head.add(usize::from(mac)), len) })
    }

    /// The first `min(len, max)` bytes of the data (the network header on
    /// receive), in place, when the linear area holds them all (the fast path
    /// of `skb_header_pointer()`); `None` when they must be copied
    /// ([`Skb::copy_prefix`]).
    pub(crate) fn linear_prefix(&self, max: usize) -> Option<&[u8]> {
        let skb = self.raw();
        let n = (skb.len as usize).min(max);
        // CAST: `data_len` is at most `len`; both are `u32`.
        if n > (skb.len - skb.data_len) as usize {
            return None;
        }
        // SAFETY: the `n` bytes from `data` are in the linear area; they live
        // as long as the skb, which `&self` keeps ours and unchanged.
        Some(unsafe { core::slice::from_raw_parts(skb.data, n) })
    }

    /// Whether a VLAN tag is held in the skb's metadata
    /// (`skb_vlan_tag_present()`): on receive, a tag that no VLAN device
    /// here took.
    pub(crate) fn vlan_tag_present(&self) -> bool {
        // SAFETY: by the type invariant the skb is valid.
        unsafe { bindings::mvv_skb_vlan_tag_present(self.as_ptr()) }
    }

    /// Destination and source MAC of the Ethernet header.
    pub(crate) fn eth_addrs(&self) -> Option<(MacAddr, MacAddr)> {
        let hdr = self.eth_header()?;
        let dest = MacAddr::from_slice(&hdr[..ETH_ALEN])?;
        let source = MacAddr::from_slice(&hdr[ETH_ALEN..2 * ETH_ALEN])?;
        Some((dest, source))
    }

    /// Destination MAC of the Ethernet header at `skb->data`, where the
    /// transmit path has it (`skb_eth_hdr()`), whether or not the MAC header
    /// offset was set.
    pub(crate) fn tx_eth_dest(&self) -> Option<MacWord> {
        let skb = self.raw();
        // CAST: `data_len` is at most `len`; both are `u32`.
        if (skb.len - skb.data_len) as usize >= ETH_HLEN {
            // SAFETY: the `ETH_HLEN` bytes from `data` are in the linear area
            // of the skb, which we hold: the address and 8 more.
            return Some(unsafe { MacWord::read(skb.data) });
        }
        let mut dest = [0u8; ETH_ALEN];
        MacAddr::from_slice(self.copy_prefix(0, &mut dest)).map(|a| MacWord::from(&a))
    }

    /// Copies up to `buf.len()` bytes from `offset` of the data (the network
    /// header on receive) into `buf`, following fragments. Returns the bytes
    /// read, which are fewer than asked only when the packet is shorter.
    pub(crate) fn copy_prefix<'b>(&self, offset: u32, buf: &'b mut [u8]) -> &'b [u8] {
        let avail = self.len().saturating_sub(offset) as usize;
        let n = avail.min(buf.len());
        if n == 0 {
            return &[];
        }
        let skb = self.raw();
        // CAST: `data_len` is at most `len`; both are `u32`.
        let headlen = (skb.len - skb.data_len) as usize;
        if (offset as usize).saturating_add(n) <= headlen {
            // The bytes are in the linear area (`skb_header_pointer`'s own
            // fast path, without the call).
            // SAFETY: `data + offset .. data + offset + n` lies within the
            // linear area of the skb, which we hold; `buf` has room for `n`.
            unsafe {
                core::ptr::copy_nonoverlapping(skb.data.add(offset as usize), buf.as_mut_ptr(), n)
            };
            return &buf[..n];
        }
        // CAST: `n` is at most `buf.len()`, a small stack buffer, and
        // `offset` is below `skb->len`; both fit in `int`.
        // SAFETY: the skb is valid, and `buf` has room for `n` bytes.
        let p = unsafe {
            bindings::mvv_skb_header_pointer(
                self.as_ptr(),
                offset as i32,
                n as i32,
                buf.as_mut_ptr().cast(),
            )
        };
        if p.is_null() {
            return &[];
        }
        if p != buf.as_ptr().cast() {
            // SAFETY: `skb_header_pointer` returned a pointer to `n` bytes of
            // linear data that live as long as the skb, which outlives this
            // call; copy them into `buf`.
            unsafe { core::ptr::copy_nonoverlapping(p.cast::<u8>(), buf.as_mut_ptr(), n) };
        }
        &buf[..n]
    }

    /// A clone sharing the data (`skb_clone`, atomic allocation).
    pub(crate) fn clone_atomic(&self) -> Option<Skb> {
        // SAFETY: the skb is valid; `skb_clone` returns a new owned
        // reference or NULL.
        unsafe { Skb::from_raw(bindings::mvv_skb_clone_atomic(self.as_ptr())) }
    }

    /// Makes sure we own the skb exclusively (`skb_share_check`), so that its
    /// fields may be changed. Drops it on allocation failure.
    pub(crate) fn unshare(self) -> Option<Skb> {
        // `skb_shared()`: more than one user. Read like `refcount_read()`.
        // SAFETY: the counter is an `atomic_t` of a valid skb.
        let users = unsafe { core::ptr::read_volatile(&self.raw().users.refs.counter) };
        if users == 1 {
            return Some(self);
        }
        // SAFETY: we give up our reference; `skb_share_check` returns an
        // owned, unshared skb or NULL after freeing the original.
        unsafe { Skb::from_raw(bindings::mvv_skb_share_check(self.into_raw())) }
    }

    /// Reassembles IPv4 fragments (`ip_check_defrag`). Returns `None` when
    /// the fragment was queued or dropped.
    pub(crate) fn check_defrag(self, dev: &NetDevice, user: u32) -> Option<Skb> {
        // SAFETY: the device is valid, so is its netns; the skb reference
        // is given to `ip_check_defrag`, which returns an owned skb or NULL.
        unsafe {
            Skb::from_raw(bindings::ip_check_defrag(
                bindings::mvv_dev_net(dev.as_ptr()),
                self.into_raw(),
                user,
            ))
        }
    }

    /// The pointer-sized first word of the control block, where an
    /// [`SkbQueue`] keeps the tag of a queued skb.
    fn cb_word(&mut self) -> &mut *mut c_void {
        // SAFETY: the skb is valid and ours; `cb` is at least a pointer wide
        // and pointer-aligned (checked in the C helper).
        unsafe { &mut *bindings::mvv_skb_cb_ptr(self.as_ptr()) }
    }

    /// Hands the skb to the stack from the rx path (`__netif_rx`). Returns
    /// whether it was accepted.
    pub(crate) fn netif_rx_in_softirq(self) -> bool {
        // SAFETY: the reference is given to the stack.
        unsafe { bindings::__netif_rx(self.into_raw()) == bindings::NET_RX_SUCCESS as i32 }
    }

    /// Hands the skb to the stack from any context (`netif_rx`).
    pub(crate) fn netif_rx(self) -> bool {
        // SAFETY: the reference is given to the stack.
        unsafe { bindings::netif_rx(self.into_raw()) == bindings::NET_RX_SUCCESS as i32 }
    }

    /// Forwards to `dev` as if received there (`__dev_forward_skb` then
    /// `netif_rx`), for bridge-mode local delivery.
    pub(crate) fn forward_to(self, dev: &NetDevice) -> bool {
        let raw = self.into_raw();
        // SAFETY: `raw` is owned; on error `__dev_forward_skb` frees it.
        let err = unsafe { bindings::__dev_forward_skb(dev.as_ptr(), raw) };
        if err != 0 {
            return false;
        }
        // SAFETY: `__dev_forward_skb` succeeded, so `raw` is still ours.
        unsafe { bindings::netif_rx(raw) == bindings::NET_RX_SUCCESS as i32 }
    }

    /// Transmits on `dev` (`dev_queue_xmit`). Returns the `NET_XMIT_*` code.
    pub(crate) fn xmit_on(mut self, dev: &NetDevice) -> i32 {
        self.set_dev(dev);
        // `dev_queue_xmit()`, an inline wrapper, without a helper's call.
        // SAFETY: the reference is given to the qdisc layer; no subordinate
        // device.
        unsafe { bindings::__dev_queue_xmit(self.into_raw(), core::ptr::null_mut()) }
    }

    /// Resets the MAC header to the current data pointer.
    pub(crate) fn reset_mac_header(&mut self) {
        // SAFETY: the skb is valid and ours.
        unsafe { bindings::mvv_skb_reset_mac_header(self.as_ptr()) };
    }
}

impl Drop for Skb {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own a reference, given up here.
        unsafe { bindings::mvv_kfree_skb(self.0.as_ptr()) };
    }
}

/// A value an skb carries in its control block while it waits on an
/// [`SkbQueue`], such as a reference to the device it came from.
pub(crate) trait CbTag: Sized + Send {
    /// Turns the value into the word stored in the control block.
    fn into_word(self) -> *mut c_void;

    /// Takes back the value behind `word`.
    ///
    /// # Safety
    ///
    /// `word` must come from [`CbTag::into_word`] of this type, and be taken
    /// back only once.
    unsafe fn from_word(word: *mut c_void) -> Self;
}

impl<T: AlwaysRefCounted + Send + Sync> CbTag for Option<ARef<T>> {
    fn into_word(self) -> *mut c_void {
        self.map_or(core::ptr::null_mut(), |r| ARef::into_raw(r).as_ptr().cast())
    }

    unsafe fn from_word(word: *mut c_void) -> Self {
        // SAFETY: a non-NULL word is a reference `into_word` gave up, which
        // the caller takes back once.
        NonNull::new(word.cast::<T>()).map(|p| unsafe { ARef::from_raw(p) })
    }
}

/// A queue of skbs, each with a tag, under the queue's own lock (`struct
/// sk_buff_head`).
///
/// # Invariants
///
/// `head` is initialised. Every skb on it is owned by the queue and carries
/// in its first control block word a tag from [`CbTag::into_word`] of `T`,
/// owned with it.
#[pin_data(PinnedDrop)]
pub(crate) struct SkbQueue<T: CbTag> {
    #[pin]
    head: Opaque<bindings::sk_buff_head>,
    _tag: PhantomData<T>,
}

// SAFETY: the head is used only through the C helpers, which take its lock;
// the skbs and tags it owns may move between CPUs (`Skb` and `T` are `Send`).
unsafe impl<T: CbTag> Send for SkbQueue<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: CbTag> Sync for SkbQueue<T> {}

impl<T: CbTag> SkbQueue<T> {
    /// An empty queue.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `skb_queue_head_init` initialises the head and its lock
            // in place.
            head <- Opaque::ffi_init(|q| unsafe { bindings::mvv_skb_queue_head_init(q) }),
            _tag: PhantomData,
        })
    }

    /// Appends `skb` with `tag`, unless the queue already holds `limit`
    /// skbs; then both come back.
    pub(crate) fn push_limited(&self, mut skb: Skb, tag: T, limit: u32) -> Result<(), (Skb, T)> {
        let word = tag.into_word();
        *skb.cb_word() = word;
        let raw = skb.into_raw();
        // SAFETY: the head is initialised; on success the queue owns `raw` and
        // its tag (INVARIANT).
        if unsafe { bindings::mvv_skb_queue_tail_limited(self.head.get(), raw, limit) } {
            return Ok(());
        }
        // SAFETY: not queued, so the skb and the tag are still ours.
        let (skb, tag) = unsafe { (Skb(NonNull::new_unchecked(raw)), T::from_word(word)) };
        Err((skb, tag))
    }

    /// Takes every queued skb at once, under one lock.
    pub(crate) fn take_all(&self) -> SkbChain<T> {
        // INVARIANT: the skbs leave the queue with their tags, for the chain.
        SkbChain {
            // SAFETY: the head is initialised.
            next: unsafe { bindings::mvv_skb_queue_detach_all(self.head.get()) },
            _tag: PhantomData,
        }
    }
}

#[pinned_drop]
impl<T: CbTag> PinnedDrop for SkbQueue<T> {
    fn drop(self: Pin<&mut Self>) {
        drop(self.take_all());
    }
}

/// Skbs taken off an [`SkbQueue`], each with its tag. Those not taken from
/// the chain are freed with it.
///
/// # Invariants
///
/// `next` is NULL or the first skb of a NULL-terminated chain through
/// `skb->next`, of skbs on no list that this value owns with their tags.
pub(crate) struct SkbChain<T: CbTag> {
    next: *mut bindings::sk_buff,
    _tag: PhantomData<T>,
}

// SAFETY: it owns the skbs and tags (both `Send`) and nothing else refers to
// them.
unsafe impl<T: CbTag> Send for SkbChain<T> {}

impl<T: CbTag> Iterator for SkbChain<T> {
    type Item = (Skb, T);

    fn next(&mut self) -> Option<(Skb, T)> {
        let raw = NonNull::new(self.next)?;
        // INVARIANT: `raw` leaves the chain; the rest stays owned.
        // SAFETY: `raw` is on the chain (type invariant).
        self.next = unsafe { bindings::mvv_skb_chain_next(raw.as_ptr()) };
        // INVARIANT: the chain owned `raw`, now ours.
        let mut skb = Skb(raw);
        // SAFETY: every skb on the chain carries a tag of `T` (type invariant),
        // taken back once, here.
        let tag = unsafe { T::from_word(*skb.cb_word()) };
        Some((skb, tag))
    }
}

impl<T: CbTag> Drop for SkbChain<T> {
    fn drop(&mut self) {
        self.for_each(drop);
    }
}
