// SPDX-License-Identifier: GPL-2.0

//! Ethernet addresses.

/// Length of an Ethernet address.
pub(crate) const ETH_ALEN: usize = 6;

/// Ethernet header length (`ETH_HLEN`).
// CAST: 14.
pub(crate) const ETH_HLEN: usize = super::bindings::ETH_HLEN as usize;

/// An Ethernet (MAC) address.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[repr(transparent)]
pub(crate) struct MacAddr(pub(crate) [u8; ETH_ALEN]);

impl MacAddr {
    /// The broadcast address.
    pub(crate) const BROADCAST: MacAddr = MacAddr([0xff; ETH_ALEN]);

    /// Whether the group bit is set (multicast or broadcast).
    pub(crate) fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }

    /// Whether this is ff:ff:ff:ff:ff:ff.
    pub(crate) fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Whether this is a valid unicast station address (`is_valid_ether_addr`).
    pub(crate) fn is_valid_unicast(&self) -> bool {
        !self.is_multicast() && self.0 != [0; ETH_ALEN]
    }

    /// The address as the low 48 bits of a `u64`, first byte lowest: the
    /// value C's `ether_addr_equal_64bits()` compares with one 8-byte load.
    #[inline]
    pub(crate) fn to_u64(self) -> u64 {
        let a = self.0;
        u64::from(u32::from_le_bytes([a[0], a[1], a[2], a[3]]))
            | (u64::from(u16::from_le_bytes([a[4], a[5]])) << 32)
    }

    /// Reads an address from a byte slice of exactly [`ETH_ALEN`] bytes.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(MacAddr)
    }
}

/// An Ethernet address read in place with one 8-byte load, as C's
/// `ether_addr_equal_64bits()` and the macvlan hash read it: the address is
/// the low 48 bits of the little-endian value, and the top 16 bits are the
/// two bytes that follow it in memory, which every method ignores.
#[derive(Clone, Copy)]
pub(crate) struct MacWord(u64);

impl MacWord {
    /// Reads the address at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must be valid for reads of 8 bytes (the address and the two
    /// bytes after it), with no alignment required.
    #[inline]
    pub(crate) unsafe fn read(ptr: *const u8) -> Self {
        // SAFETY: the caller guarantees 8 readable bytes.
        let word = unsafe { core::ptr::read_unaligned(ptr.cast::<u64>()) };
        MacWord(u64::from_le(word))
    }

    /// Whether the group bit is set (multicast or broadcast).
    #[inline]
    pub(crate) fn is_multicast(self) -> bool {
        self.0 & 1 != 0
    }

    /// The 48 address bits moved to the top of a `u64`, the rest zero: the
    /// input of `macvlan_eth_hash()`.
    #[inline]
    pub(crate) fn top48(self) -> u64 {
        self.0 << 16
    }
}

impl PartialEq for MacWord {
    /// Equal addresses, whatever follows them.
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        (self.0 ^ other.0) << 16 == 0
    }
}

impl From<&MacAddr> for MacWord {
    #[inline]
    fn from(addr: &MacAddr) -> Self {
        MacWord(addr.to_u64())
    }
}

impl From<MacWord> for MacAddr {
    #[inline]
    fn from(word: MacWord) -> Self {
        let b = word.0.to_le_bytes();
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }
}
