//! `ip netns exec <ns> ethtool -i|-S <ifname>`, without either tool: the
//! ioctls of [`mvv_netlink::ethtool`] issued from inside a namespace.

use anyhow::{Context, Result};

pub use mvv_netlink::ethtool::{
    drvinfo_here, stat_here, stats_here, DrvInfo, EthtoolError, VRRP_ADVERTS_TO_LOWER,
};

use crate::netns::Netns;

/// `ip netns exec <ns> ethtool -i <ifname>`.
pub fn drvinfo(ns: &Netns, ifname: &str) -> Result<DrvInfo> {
    ns.enter(|| drvinfo_here(ifname))?
        .with_context(|| format!("in netns {}", ns.name()))
}

/// `ip netns exec <ns> ethtool -S <ifname>`, one statistic by name.
pub fn stat(ns: &Netns, ifname: &str, name: &str) -> Result<Option<u64>> {
    ns.enter(|| stat_here(ifname, name))?
        .with_context(|| format!("in netns {}", ns.name()))
}
