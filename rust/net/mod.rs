// SPDX-License-Identifier: GPL-2.0

//! Safe abstractions over the C netdev API, as used by `macvlan_vrrp`.
//!
//! Upstream 6.12 has no `net_device` abstraction: `kernel::bindings` keeps
//! `struct net_device` opaque. These modules are the small, safe layer the
//! driver in `src/` is written against, shaped so that they could move to
//! `rust/kernel/net/` with few changes:
//!
//! - [`bindings`]: the module-local bindgen output and the C helpers.
//! - [`sync`]: context tokens: [`sync::Rtnl`] (RTNL held) and RCU read
//!   sections ([`sync::RcuGuard`], [`sync::Rcu`]).
//! - [`device`]: [`device::NetDevice`], a borrowed `struct net_device`.
//! - [`skb`]: [`skb::Skb`], an owned `struct sk_buff`.
//! - [`ether`]: MAC addresses.
//! - [`netlink`]: attribute tables, extended acks and message building.
//! - [`link`]: `rtnl_link_ops`, `net_device_ops`, `ethtool_ops`,
//!   `header_ops`, rx handlers and netdevice notifiers, built from traits.

pub(crate) mod bindings;
pub(crate) mod device;
pub(crate) mod errno;
pub(crate) mod ether;
pub(crate) mod link;
pub(crate) mod netlink;
pub(crate) mod skb;
pub(crate) mod stats;
pub(crate) mod sync;
