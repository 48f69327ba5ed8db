//! Library side of mvv-harness: the building blocks that suites use.
//!
//! - [`tap`]: the KTAP-like reporter.
//! - [`netns`]: network namespaces (unshare/setns), commands and netlink
//!   sockets inside them.
//! - [`nl`]: rtnetlink requests with errno + extended-ack decoding.
//! - [`link`]: veth/bridge/macvlan over rtnetlink, raw IFLA_MACVLAN_* attrs.
//! - [`addr`]: IPv4 addresses and the neighbour table.
//! - [`ethtool`]: driver name through ETHTOOL_GDRVINFO.
//! - [`kmod`]: /sys/module, rmmod, insmod.
//! - [`ping`]: iputils ping inside a namespace.
//! - [`suites`]: one module per suite (subcommand).

pub mod addr;
pub mod ethtool;
pub mod kmod;
pub mod link;
pub mod netns;
pub mod nl;
pub mod ping;
pub mod suites;
pub mod tap;
