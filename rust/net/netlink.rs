// SPDX-License-Identifier: GPL-2.0

//! Netlink attributes, extended acks and message building for
//! `rtnl_link_ops` callbacks.

use super::bindings;
use super::errno::EMSGSIZE;
use core::mem::MaybeUninit;
use kernel::error::Result;
use kernel::str::CStr;

/// A parsed attribute table (`struct nlattr *tb[]`), indexed by type.
///
/// # Invariants
///
/// `table` points to `len` entries, each NULL or a pointer to an attribute
/// that the policy has already validated for its type, alive for `'a`.
#[derive(Clone, Copy)]
pub(crate) struct Attrs<'a> {
    table: *const *mut bindings::nlattr,
    len: usize,
    _lifetime: core::marker::PhantomData<&'a bindings::nlattr>,
}

impl<'a> Attrs<'a> {
    /// Wraps a table that has `max + 1` entries.
    ///
    /// # Safety
    ///
    /// `table` must be NULL or satisfy the type invariant for `max + 1`
    /// entries and `'a`.
    pub(crate) unsafe fn from_raw(table: *mut *mut bindings::nlattr, max: u32) -> Option<Self> {
        if table.is_null() {
            return None;
        }
        // INVARIANT: guaranteed by the caller.
        Some(Self {
            table,
            len: max as usize + 1,
            _lifetime: core::marker::PhantomData,
        })
    }

    /// The attribute of type `ty`, if present.
    pub(crate) fn get(&self, ty: u32) -> Option<Attr<'a>> {
        let i = ty as usize;
        if i >= self.len {
            return None;
        }
        // SAFETY: `i` is in bounds by the check above and the invariant.
        let p = unsafe { *self.table.add(i) };
        // SAFETY: non-NULL entries are valid attributes for `'a`.
        unsafe { p.as_ref() }.map(Attr)
    }

    /// Whether the attribute of type `ty` is present.
    pub(crate) fn has(&self, ty: u32) -> bool {
        self.get(ty).is_some()
    }
}

/// One netlink attribute, validated by the policy for its type.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a>(&'a bindings::nlattr);

impl<'a> Attr<'a> {
    fn as_ptr(&self) -> *const bindings::nlattr {
        self.0
    }

    /// Payload as `u32` (policy `NLA_U32`).
    pub(crate) fn u32(&self) -> u32 {
        // SAFETY: the policy checked that the payload holds a `u32`.
        unsafe { bindings::mvv_nla_get_u32(self.as_ptr()) }
    }

    /// Payload as `u16` (policy `NLA_U16`).
    pub(crate) fn u16(&self) -> u16 {
        // SAFETY: the policy checked that the payload holds a `u16`.
        unsafe { bindings::mvv_nla_get_u16(self.as_ptr()) }
    }

    /// Payload as `i32` (policy `NLA_S32`).
    pub(crate) fn s32(&self) -> i32 {
        // SAFETY: the policy checked that the payload holds an `s32`.
        unsafe { bindings::mvv_nla_get_s32(self.as_ptr()) }
    }

    /// Raw payload.
    pub(crate) fn bytes(&self) -> &'a [u8] {
        // SAFETY: the attribute is valid for `'a`; `nla_len` bytes of payload
        // follow the header.
        unsafe {
            let len = bindings::mvv_nla_len(self.as_ptr()).max(0) as usize;
            core::slice::from_raw_parts(bindings::mvv_nla_data(self.as_ptr()).cast::<u8>(), len)
        }
    }

    /// Iterates over the attributes nested in this one, as `(type, payload)`.
    pub(crate) fn nested(&self) -> NestedIter<'a> {
        NestedIter { rest: self.bytes() }
    }
}

/// Iterator over nested attributes as `(type, payload)`, bounds-checked
/// in Rust, with the semantics of `nla_for_each_attr`: iteration ends at
/// the first attribute that `nla_ok()` rejects (fewer bytes left than a
/// header, or a length below the header's or beyond the bytes left), and
/// whatever follows it is ignored, not an error.
pub(crate) struct NestedIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for NestedIter<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        const NLA_HDRLEN: usize = 4;
        if self.rest.len() < NLA_HDRLEN {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([self.rest[0], self.rest[1]]));
        let ty = u16::from_ne_bytes([self.rest[2], self.rest[3]]) & 0x3fff;
        if len < NLA_HDRLEN || len > self.rest.len() {
            self.rest = &[];
            return None;
        }
        let payload = &self.rest[NLA_HDRLEN..len];
        let aligned = (len + 3) & !3;
        self.rest = self.rest.get(aligned..).unwrap_or(&[]);
        Some((ty, payload))
    }
}

/// The extended ack of a netlink request.
///
/// # Invariants
///
/// `self.0` is NULL or a valid `netlink_ext_ack` for `'a`.
pub(crate) struct ExtAck<'a>(
    *mut bindings::netlink_ext_ack,
    core::marker::PhantomData<&'a ()>,
);

impl ExtAck<'_> {
    /// Wraps a pointer from a callback.
    ///
    /// # Safety
    ///
    /// `ptr` must be NULL or valid for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::netlink_ext_ack) -> ExtAck<'a> {
        // INVARIANT: guaranteed by the caller.
        ExtAck(ptr, core::marker::PhantomData)
    }

    /// The raw pointer, for C calls that take the ack.
    pub(crate) fn as_ptr(&mut self) -> *mut bindings::netlink_ext_ack {
        self.0
    }

    /// Sets the message the user sees, optionally pointing at the
    /// offending attribute.
    pub(crate) fn set(&mut self, msg: &'static CStr, attr: Option<Attr<'_>>) {
        let bad = attr.map_or(core::ptr::null(), |a| a.as_ptr());
        // SAFETY: the ack is NULL or valid; `msg` is static, as the ack
        // keeps the pointer until the reply is sent.
        unsafe { bindings::mvv_extack_set_msg(self.0, msg.as_char_ptr(), bad) };
    }
}

/// A netlink message being built (`fill_info`).
///
/// # Invariants
///
/// `self.0` is a valid skb being filled by the rtnetlink core.
pub(crate) struct NlMsg(*mut bindings::sk_buff);

impl NlMsg {
    /// Wraps the skb of a `fill_info` callback.
    ///
    /// # Safety
    ///
    /// `skb` must be the valid message skb of the running callback.
    pub(crate) unsafe fn from_raw(skb: *mut bindings::sk_buff) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self(skb)
    }

    fn check(ret: i32) -> Result {
        if ret == 0 {
            Ok(())
        } else {
            Err(EMSGSIZE())
        }
    }

    /// Appends a `u32` attribute.
    pub(crate) fn put_u32(&mut self, ty: u32, v: u32) -> Result {
        // CAST: attribute types are below 2^14.
        // SAFETY: the skb is valid by the type invariant.
        Self::check(unsafe { bindings::mvv_nla_put_u32(self.0, ty as i32, v) })
    }

    /// Appends a `u16` attribute.
    pub(crate) fn put_u16(&mut self, ty: u32, v: u16) -> Result {
        // CAST: attribute types are below 2^14.
        // SAFETY: the skb is valid by the type invariant.
        Self::check(unsafe { bindings::mvv_nla_put_u16(self.0, ty as i32, v) })
    }

    /// Appends an `s32` attribute.
    pub(crate) fn put_s32(&mut self, ty: u32, v: i32) -> Result {
        // CAST: attribute types are below 2^14.
        // SAFETY: the skb is valid by the type invariant.
        Self::check(unsafe { bindings::mvv_nla_put_s32(self.0, ty as i32, v) })
    }
}

impl NlMsg {
    /// Appends an attribute with a raw payload.
    pub(crate) fn put_bytes(&mut self, ty: u32, data: &[u8]) -> Result {
        // CAST: attribute types are below 2^14; payloads here are a few bytes.
        // SAFETY: the skb is valid; `data` is readable for its length.
        Self::check(unsafe {
            bindings::nla_put(self.0, ty as i32, data.len() as i32, data.as_ptr().cast())
        })
    }

    /// Appends a nested attribute whose contents `f` writes; on error the
    /// partial nest is removed.
    pub(crate) fn nest(&mut self, ty: u32, f: impl FnOnce(&mut NlMsg) -> Result) -> Result {
        // CAST: attribute types are below 2^14.
        // SAFETY: the skb is valid.
        let start = unsafe { bindings::mvv_nla_nest_start(self.0, ty as i32) };
        if start.is_null() {
            return Err(EMSGSIZE());
        }
        match f(self) {
            Ok(()) => {
                // SAFETY: `start` was returned by the nest start above.
                unsafe { bindings::mvv_nla_nest_end(self.0, start) };
                Ok(())
            }
            Err(e) => {
                // SAFETY: as above.
                unsafe { bindings::mvv_nla_nest_cancel(self.0, start) };
                Err(e)
            }
        }
    }
}

/// Space an attribute with a `payload`-byte payload takes (`nla_total_size`).
pub(crate) fn nla_total_size(payload: usize) -> usize {
    // CAST: payloads here are a few bytes.
    // SAFETY: pure arithmetic.
    unsafe { bindings::mvv_nla_total_size(payload as i32) }
}

/// One entry of an attribute policy (`struct nla_policy`): an attribute
/// type, and the maximal length of a binary attribute.
///
/// # Invariants
///
/// The union of the C struct is all-zero: no pointer in it.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct Policy(bindings::nla_policy);

// SAFETY: no pointer in the value (type invariant); the C side only reads it.
unsafe impl Sync for Policy {}

impl Policy {
    const fn of(ty: u32, len: u16) -> Self {
        // SAFETY: all-zero is a valid `nla_policy` (`NLA_UNSPEC`, no union
        // pointer).
        let mut p: bindings::nla_policy = unsafe { MaybeUninit::zeroed().assume_init() };
        // CAST: `NLA_*` types are below 256.
        p.type_ = ty as u8;
        p.len = len;
        // INVARIANT: the union stays zero.
        Self(p)
    }

    /// No check: an unused attribute type.
    pub(crate) const UNSPEC: Self = Self::of(bindings::NLA_UNSPEC, 0);
    /// A `u16`.
    pub(crate) const U16: Self = Self::of(bindings::NLA_U16, 0);
    /// A `u32`.
    pub(crate) const U32: Self = Self::of(bindings::NLA_U32, 0);
    /// An `s32`.
    pub(crate) const S32: Self = Self::of(bindings::NLA_S32, 0);
    /// Nested attributes.
    pub(crate) const NESTED: Self = Self::of(bindings::NLA_NESTED, 0);
    /// Refused: an attribute that is only reported, never accepted.
    pub(crate) const REJECT: Self = Self::of(bindings::NLA_REJECT, 0);

    /// Binary data of at most `max_len` bytes.
    pub(crate) const fn binary(max_len: u16) -> Self {
        Self::of(bindings::NLA_BINARY, max_len)
    }
}
