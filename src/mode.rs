// SPDX-License-Identifier: GPL-2.0

//! Macvlan modes and flags (`enum macvlan_mode`, `MACVLAN_FLAG_*`).

use crate::net::bindings;

/// A single macvlan mode. The modes are bits so that delivery can test a
/// device's mode against a mask of modes.
pub(crate) type Mode = u32;

/// Private: no traffic between upper devices, even through the outside.
pub(crate) const PRIVATE: Mode = bindings::macvlan_mode_MACVLAN_MODE_PRIVATE;
/// VEPA: traffic between upper devices goes through the outside switch.
pub(crate) const VEPA: Mode = bindings::macvlan_mode_MACVLAN_MODE_VEPA;
/// Bridge: upper devices talk to each other directly.
pub(crate) const BRIDGE: Mode = bindings::macvlan_mode_MACVLAN_MODE_BRIDGE;
/// Passthru: one upper device takes over the lower device.
pub(crate) const PASSTHRU: Mode = bindings::macvlan_mode_MACVLAN_MODE_PASSTHRU;
/// Source: receive by source MAC list.
pub(crate) const SOURCE: Mode = bindings::macvlan_mode_MACVLAN_MODE_SOURCE;
/// VRRP: private, except that VRRP advertisements from a local VRRP-mode
/// device stay on the lower device. See `include/uapi/linux/if_link_vrrp.h`.
pub(crate) const VRRP: Mode = bindings::MACVLAN_MODE_VRRP;

/// Modes that receive broadcasts and multicasts from outside.
pub(crate) const FROM_OUTSIDE: Mode = PRIVATE | VEPA | PASSTHRU | BRIDGE | VRRP;

/// Whether `mode` is one valid mode.
pub(crate) fn is_valid(mode: u32) -> bool {
    matches!(mode, PRIVATE | VEPA | BRIDGE | PASSTHRU | SOURCE | VRRP)
}

/// `MACVLAN_FLAG_NOPROMISC`: passthru does not make the lower promiscuous.
pub(crate) const FLAG_NOPROMISC: u16 = bindings::MACVLAN_FLAG_NOPROMISC as u16;
/// `MACVLAN_FLAG_NODST`: source mode does not also deliver by destination.
pub(crate) const FLAG_NODST: u16 = bindings::MACVLAN_FLAG_NODST as u16;
/// Every known flag.
pub(crate) const FLAGS_ALL: u16 = FLAG_NOPROMISC | FLAG_NODST;
