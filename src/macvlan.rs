// SPDX-License-Identifier: GPL-2.0

//! The macvlan link type: the private state of an upper device, and the
//! [`Link`] operations, each implemented in the file of its concern:
//! [`netlink`] (the `rtnl_link_ops` side), [`netdev`] (`net_device_ops`),
//! [`crate::notifier`] (the lower device's events), [`crate::rx`] (the rx
//! handler) and [`crate::source`] (source mode).

use crate::mode;
use crate::net::bindings;
use crate::net::device::{Net, NetDevice};
use crate::net::ether::MacAddr;
#[cfg(CONFIG_NET_POLL_CONTROLLER)]
use crate::net::link::Netpoll;
use crate::net::link::{
    declare_link, Link, NewUpper, OwnerDev, SetupDevice, TxStatus, UnregisterQueue, Upper,
};
use crate::net::netlink::{Attrs, ExtAck, NlMsg, Policy};
use crate::net::rcu_list::{impl_rcu_list_item, RcuLink};
use crate::net::skb::Skb;
use crate::net::stats::PcpuStats;
use crate::net::sync::{Rcu, Rtnl, RtnlU32};
use crate::port::{self, McFilter, Port};
use crate::{netdev, netlink};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::c_str;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;
use kernel::types::ARef;

/// The private state of an upper device, initialised by `newlink`.
pub(crate) struct MacvlanDev {
    dev: OwnerDev,
    lower: ARef<NetDevice>,
    port: Arc<Port>,
    mode: RtnlU32,
    flags: RtnlU32,
    /// Links in the port's hash bucket.
    hash_link: RcuLink<MacvlanDev>,
    /// Links in the port's list of all upper devices.
    list_link: RcuLink<MacvlanDev>,
    /// Groups this device wants.
    pub(crate) mc_filter: McFilter,
    pub(crate) bc_queue_len_req: RtnlU32,
    /// Source MACs in the port's table (source mode).
    pub(crate) macaddr_count: RtnlU32,
    /// VRRP advertisements from this device's MAC left on the lower device.
    pub(crate) vrrp_steered: AtomicU64,
    /// rx/tx counters.
    pub(crate) stats: PcpuStats,
    /// netconsole through this device.
    #[cfg(CONFIG_NET_POLL_CONTROLLER)]
    netpoll: crate::net::link::Netpoll,
}

impl_rcu_list_item! {
    impl RcuListItem<{ port::HASH_LIST }> for MacvlanDev { self.hash_link }
    impl RcuListItem<{ port::UPPERS_LIST }> for MacvlanDev { self.list_link }
}

impl MacvlanDev {
    pub(crate) fn new(
        dev: OwnerDev,
        lower: &NetDevice,
        port: Arc<Port>,
        mode: mode::Mode,
        flags: u16,
        bc_queue_len: u32,
    ) -> Self {
        Self {
            dev,
            lower: ARef::from(lower),
            port,
            mode: RtnlU32::new(mode),
            flags: RtnlU32::new(u32::from(flags)),
            hash_link: RcuLink::new(),
            list_link: RcuLink::new(),
            mc_filter: McFilter::default(),
            bc_queue_len_req: RtnlU32::new(bc_queue_len),
            macaddr_count: RtnlU32::new(0),
            vrrp_steered: AtomicU64::new(0),
            stats: PcpuStats::default(),
            #[cfg(CONFIG_NET_POLL_CONTROLLER)]
            netpoll: Default::default(),
        }
    }

    /// The upper device.
    pub(crate) fn dev(&self) -> &NetDevice {
        self.dev.get()
    }

    /// The lower device.
    pub(crate) fn lower(&self) -> &NetDevice {
        &self.lower
    }

    /// The port.
    pub(crate) fn port(&self) -> &Port {
        &self.port
    }

    /// The mode (read in the rx path too).
    pub(crate) fn mode(&self) -> mode::Mode {
        self.mode.get()
    }

    /// Changes the mode.
    pub(crate) fn set_mode(&self, rtnl: Rtnl<'_>, mode: mode::Mode) {
        self.mode.set(rtnl, mode);
    }

    /// Changes the `MACVLAN_FLAG_*` flags.
    pub(crate) fn set_flags(&self, rtnl: Rtnl<'_>, flags: u16) {
        self.flags.set(rtnl, u32::from(flags));
    }

    /// `MACVLAN_FLAG_*`.
    pub(crate) fn flags(&self) -> u16 {
        // CAST: only `u16` values are stored.
        self.flags.get() as u16
    }

    /// Per-device mix for multicast filter hashes, as the C driver uses.
    pub(crate) fn hash_mix(&self) -> u32 {
        // CAST: only the low bits matter for the hash.
        (core::ptr::from_ref(self) as usize >> 6) as u32
    }

    /// Counts an advertisement steered to the lower device.
    pub(crate) fn count_vrrp_steered(&self) {
        self.vrrp_steered.fetch_add(1, Ordering::Relaxed);
    }
}

/// The macvlan link type.
pub(crate) struct Macvlan;

declare_link!(Macvlan);

#[vtable]
impl Link for Macvlan {
    type Private = MacvlanDev;

    const KIND: &'static CStr = c_str!("macvlan");
    const POLICY: &'static [Policy] = &netlink::POLICY;
    const DRIVER_NAME: &'static CStr = c_str!("macvlan_vrrp");
    const DRIVER_VERSION: &'static CStr = c_str!("0.1");
    const STATS_NAMES: &'static [&'static CStr] = &[c_str!("vrrp_adverts_to_lower")];

    fn setup(dev: &SetupDevice<'_>) {
        dev.stacked();
    }

    fn lower(up: &Upper<Self>) -> &NetDevice {
        up.state().lower()
    }

    fn validate(tb: Attrs<'_>, data: Option<Attrs<'_>>, extack: &mut ExtAck<'_>) -> Result {
        netlink::validate(tb, data, extack)
    }

    fn newlink(
        rtnl: Rtnl<'_>,
        src_net: &Net,
        new: NewUpper<'_, Self>,
        tb: Attrs<'_>,
        data: Option<Attrs<'_>>,
        extack: &mut ExtAck<'_>,
    ) -> Result {
        netlink::newlink(rtnl, src_net, new, tb, data, extack)
    }

    fn changelink(
        rtnl: Rtnl<'_>,
        up: &Upper<Self>,
        tb: Option<Attrs<'_>>,
        data: Option<Attrs<'_>>,
        extack: &mut ExtAck<'_>,
    ) -> Result {
        netlink::changelink(rtnl, up, tb, data, extack)
    }

    fn dellink(rtnl: Rtnl<'_>, up: &Upper<Self>, queue: &mut UnregisterQueue<'_>) {
        netlink::dellink(rtnl, up, queue)
    }

    fn info_size(up: &Upper<Self>) -> usize {
        netlink::info_size(up)
    }

    fn fill_info(up: &Upper<Self>, msg: &mut NlMsg) -> Result {
        netlink::fill_info(up, msg)
    }

    fn init(rtnl: Rtnl<'_>, up: &Upper<Self>) -> Result {
        netdev::init(rtnl, up)
    }

    fn uninit(rtnl: Rtnl<'_>, up: &Upper<Self>) {
        netdev::uninit(rtnl, up)
    }

    fn open(rtnl: Rtnl<'_>, up: &Upper<Self>) -> Result {
        netdev::open(rtnl, up)
    }

    fn stop(rtnl: Rtnl<'_>, up: &Upper<Self>) {
        netdev::stop(rtnl, up)
    }

    #[inline(always)]
    fn start_xmit(up: &Upper<Self>, skb: Skb, rcu: Rcu<'_>) -> TxStatus {
        netdev::start_xmit(up, skb, rcu)
    }

    fn change_mtu(rtnl: Rtnl<'_>, up: &Upper<Self>, mtu: u32) -> Result {
        netdev::change_mtu(rtnl, up, mtu)
    }

    fn set_mac_address(rtnl: Rtnl<'_>, up: &Upper<Self>, addr: MacAddr) -> Result {
        netdev::set_mac_address(rtnl, up, addr)
    }

    fn set_rx_mode(up: &Upper<Self>) {
        netdev::set_rx_mode(up)
    }

    fn change_rx_flags(rtnl: Rtnl<'_>, up: &Upper<Self>, change: u32) {
        netdev::change_rx_flags(rtnl, up, change)
    }

    fn fix_features(up: &Upper<Self>, features: u64) -> u64 {
        netdev::fix_features(up, features)
    }

    fn stats64(up: &Upper<Self>, out: &mut bindings::rtnl_link_stats64) {
        netdev::stats64(up, out)
    }

    fn fdb_add(rtnl: Rtnl<'_>, up: &Upper<Self>, addr: MacAddr, flags: u16) -> Result {
        netdev::fdb_add(rtnl, up, addr, flags)
    }

    fn fdb_del(rtnl: Rtnl<'_>, up: &Upper<Self>, addr: MacAddr) -> Result {
        netdev::fdb_del(rtnl, up, addr)
    }

    #[cfg(CONFIG_NET_POLL_CONTROLLER)]
    fn netpoll(up: &Upper<Self>) -> &Netpoll {
        &up.state().netpoll
    }

    fn stats(up: &Upper<Self>, out: &mut [u64]) {
        netdev::stats(up, out)
    }
}
