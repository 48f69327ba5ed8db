// SPDX-License-Identifier: GPL-2.0

//! Safe abstractions over the C netdev API, in the shape of `rust/kernel/net/`.
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
//! - [`skb`]: [`skb::Skb`], an owned `struct sk_buff`, and [`skb::SkbQueue`],
//!   a locked queue of tagged skbs.
//! - [`ether`]: MAC addresses.
//! - [`netlink`]: attribute tables, extended acks and message building.
//! - [`link`]: link types (`rtnl_link_ops`) of stacked Ethernet devices,
//!   built from the [`link::Link`] trait; the private state of a device,
//!   initialised in `newlink` and dropped by the destructor.
//! - [`netdev_ops`], [`ethtool`], [`netpoll`]: the device operations of a
//!   link type.
//! - [`rx_handler`]: rx handlers that own their data (an `Arc`).
//! - [`notifier`]: netdevice notifiers.
//! - [`rcu_list`]: RCU lists, of entries owned elsewhere or by the list.
//! - [`work`]: cancelling an `Arc` work item of `kernel::workqueue`.

pub(crate) mod bindings;
pub(crate) mod device;
pub(crate) mod errno;
pub(crate) mod ether;
pub(crate) mod ethtool;
pub(crate) mod link;
pub(crate) mod netdev_ops;
pub(crate) mod netlink;
#[cfg(CONFIG_NET_POLL_CONTROLLER)]
pub(crate) mod netpoll;
pub(crate) mod notifier;
pub(crate) mod rcu_list;
pub(crate) mod rx_handler;
pub(crate) mod skb;
pub(crate) mod stats;
pub(crate) mod sync;
pub(crate) mod work;
