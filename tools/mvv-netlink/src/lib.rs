//! Netlink and ethtool code shared by the test harness (`mvv-harness`), the
//! command line tool (`vrrpctl`) and the benchmark helper (`mvv-bench`).
//! Everything here works on the calling thread's current network namespace.
//!
//! - [`nl`]: rtnetlink requests with errno + extended-ack decoding.
//! - [`link`]: veth/bridge/macvlan create / change / get / delete, raw
//!   IFLA_MACVLAN_* attributes, macvlan mode names.
//! - [`addr`]: IPv4 addresses, the default route and the neighbour table.
//! - [`ethtool`]: driver name (ETHTOOL_GDRVINFO) and driver statistics
//!   (ETHTOOL_GSTRINGS / ETHTOOL_GSTATS, i.e. `ethtool -S`).
//! - [`raw`]: raw messages on any netlink protocol over a blocking socket
//!   (message builder with nests, attribute parser), for what
//!   netlink-packet-route does not model (tc actions, nftables objects).
//! - [`vrrp`]: VRIDs, VRRP virtual MACs, MAC address parsing.

pub mod addr;
pub mod ethtool;
pub mod link;
pub mod nl;
pub mod raw;
pub mod vrrp;

/// The rtnetlink crate this one is built on, for callers that need its
/// message types.
pub use rtnetlink;
