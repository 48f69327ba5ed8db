//! Library side of mvv-harness: the building blocks that suites use.
//!
//! - [`tap`]: the KTAP-like reporter.
//! - [`netns`]: network namespaces (unshare/setns), commands and netlink
//!   sockets inside them.
//! - [`nl`], [`link`], [`addr`], [`vrrp`]: re-exported from the shared
//!   `mvv-netlink` crate (rtnetlink requests with errno + extended-ack
//!   decoding; veth/bridge/macvlan links with raw IFLA_MACVLAN_* attrs;
//!   addresses, routes and neighbours; VRRP virtual MACs).
//! - [`ethtool`]: driver name and `ethtool -S` statistics inside a netns.
//! - [`kmod`]: /sys/module, rmmod, insmod, modprobe.
//! - [`kmsg`]: the continuous /dev/kmsg reader the VM suites start first.
//! - [`frames`]: hand-built VRRPv3 adverts, gratuitous ARP, UDP frames.
//! - [`capture`]: packet and raw IP sockets that count where frames land.
//! - [`xsk`]: a transmit-only AF_XDP socket in copy mode.
//! - [`nft`]: nftables rulesets and counters through the `nft` binary.
//! - [`ping`]: iputils ping inside a namespace.
//! - [`suites`]: one module per suite (subcommand).

pub use mvv_netlink::{addr, link, nl, vrrp};

pub mod capture;
pub mod ethtool;
pub mod frames;
pub mod kmod;
pub mod kmsg;
pub mod netns;
pub mod nft;
pub mod ping;
pub mod suites;
pub mod tap;
pub mod vty;
pub mod xsk;
