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

    /// Reads an address from a byte slice of exactly [`ETH_ALEN`] bytes.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(MacAddr)
    }
}
