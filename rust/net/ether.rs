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
    pub(crate) fn to_u64(&self) -> u64 {
        let a = &self.0;
        u64::from(u32::from_le_bytes([a[0], a[1], a[2], a[3]]))
            | u64::from(u16::from_le_bytes([a[4], a[5]])) << 32
    }

    /// Reads an address from a byte slice of exactly [`ETH_ALEN`] bytes.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(MacAddr)
    }
}
