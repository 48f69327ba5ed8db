// SPDX-License-Identifier: GPL-2.0

//! The device operations of a macvlan upper device (`macvlan_netdev_ops`):
//! open and stop, transmit with bridge-mode local delivery, addresses,
//! filters, features and counters.

use crate::macvlan::{Macvlan, MacvlanDev};
use crate::mode;
use crate::net::bindings;
use crate::net::errno::{EADDRINUSE, EOPNOTSUPP};
use crate::net::ether::MacAddr;
use crate::net::link::{TxStatus, Upper};
use crate::net::skb::Skb;
use crate::net::sync::{Rcu, Rtnl};
use crate::port::{compute_filter, Port};
use crate::rx;
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// Gives `up` the address `addr`, rehashing it and moving the lower
/// device's filter entry if it is up (`macvlan_sync_address`).
pub(crate) fn sync_address(rtnl: Rtnl<'_>, up: &Upper<Macvlan>, addr: MacAddr) -> Result {
    let dev = up.dev();
    let vlan = up.state();
    let port = vlan.port();
    if !dev.is_up() {
        dev.set_addr(rtnl, &addr);
    } else {
        if port.addr_busy(rtnl, &addr) {
            return Err(EADDRINUSE());
        }
        let old = dev.addr();
        if !port.is_passthru() {
            vlan.lower().uc_add(rtnl, &addr)?;
            vlan.lower().uc_del(rtnl, &old);
        }
        // Unhashed while the address changes, so delivery is never
        // confused by a half-written address.
        port.hash_del(rtnl, vlan, &old, true);
        dev.set_addr(rtnl, &addr);
        port.hash_add(rtnl, vlan);
    }
    if port.is_passthru() && !port.addr_change.get() {
        // The lower device changed its own address: remember it.
        port.save_perm_addr(rtnl);
    }
    port.addr_change.set(rtnl, false);
    Ok(())
}

pub(crate) fn init(rtnl: Rtnl<'_>, up: &Upper<Macvlan>) -> Result {
    let vlan = up.state();
    vlan.stats.alloc(rtnl)?;
    up.dev().stacked_init(rtnl, vlan.lower());
    let port = vlan.port();
    port.count.set(rtnl, port.count.get() + 1);
    Ok(())
}

pub(crate) fn uninit(rtnl: Rtnl<'_>, up: &Upper<Macvlan>) {
    let vlan = up.state();
    let port = vlan.port();
    port.sources.flush(rtnl, vlan);
    let count = port.count.get() - 1;
    port.count.set(rtnl, count);
    if count == 0 {
        Port::destroy(rtnl, vlan.lower());
    }
}

pub(crate) fn open(rtnl: Rtnl<'_>, up: &Upper<Macvlan>) -> Result {
    let dev = up.dev();
    let vlan = up.state();
    let lower = vlan.lower();
    let port = vlan.port();
    if port.is_passthru() {
        if vlan.flags() & mode::FLAG_NOPROMISC == 0 {
            lower.set_promiscuity(rtnl, 1)?;
        }
        port.hash_add(rtnl, vlan);
        return Ok(());
    }
    let addr = dev.addr();
    if port.addr_busy(rtnl, &addr) {
        return Err(EADDRINUSE());
    }
    lower.uc_add(rtnl, &addr)?;
    let flags = dev.flags();
    if flags & bindings::net_device_flags_IFF_ALLMULTI != 0 {
        if let Err(e) = lower.set_allmulti(rtnl, 1) {
            lower.uc_del(rtnl, &addr);
            return Err(e);
        }
    }
    if flags & bindings::net_device_flags_IFF_PROMISC != 0 {
        if let Err(e) = lower.set_promiscuity(rtnl, 1) {
            if flags & bindings::net_device_flags_IFF_ALLMULTI != 0 {
                let _ = lower.set_allmulti(rtnl, -1);
            }
            lower.uc_del(rtnl, &addr);
            return Err(e);
        }
    }
    port.hash_add(rtnl, vlan);
    Ok(())
}

pub(crate) fn stop(rtnl: Rtnl<'_>, up: &Upper<Macvlan>) {
    let dev = up.dev();
    let vlan = up.state();
    let lower = vlan.lower();
    let port = vlan.port();
    dev.unsync_addr_lists_from(rtnl, lower);
    let addr = dev.addr();
    if port.is_passthru() {
        if vlan.flags() & mode::FLAG_NOPROMISC == 0 {
            let _ = lower.set_promiscuity(rtnl, -1);
        }
    } else {
        let flags = dev.flags();
        if flags & bindings::net_device_flags_IFF_ALLMULTI != 0 {
            let _ = lower.set_allmulti(rtnl, -1);
        }
        if flags & bindings::net_device_flags_IFF_PROMISC != 0 {
            let _ = lower.set_promiscuity(rtnl, -1);
        }
        lower.uc_del(rtnl, &addr);
    }
    port.hash_del(rtnl, vlan, &addr, !dev.is_dismantling());
}

/// Local delivery of a multicast frame sent in bridge mode to the other
/// bridge-mode devices. Out of line and taking the skb by value: a borrow
/// of it in `start_xmit` would keep the skb in memory on every frame.
#[inline(never)]
fn broadcast_to_bridge_ports(vlan: &MacvlanDev, mut skb: Skb, rcu: Rcu<'_>) -> Skb {
    skb.reset_mac_header();
    rx::broadcast(vlan.port(), &skb, Some(vlan), mode::BRIDGE, rcu);
    skb
}

/// `macvlan_start_xmit`, inline in the `ndo_start_xmit` entry point.
#[inline(always)]
pub(crate) fn start_xmit(up: &Upper<Macvlan>, mut skb: Skb, rcu: Rcu<'_>) -> TxStatus {
    let vlan = up.state();
    let port = vlan.port();
    let len = skb.len();
    if vlan.mode() == mode::BRIDGE {
        // The header at `skb->data`, as the C driver reads it: paths that
        // bypass the qdisc layer may leave the MAC header unset.
        if let Some(dest) = skb.tx_eth_dest() {
            if dest.is_multicast() {
                skb = broadcast_to_bridge_ports(vlan, skb, rcu);
            } else if port
                .lookup(dest, rcu)
                .is_some_and(|d| d.mode() == mode::BRIDGE)
            {
                // Through the lower device first, for its taps. Counted
                // as sent whatever the local delivery did, as C does.
                let _ = skb.forward_to(vlan.lower());
                vlan.stats.count_tx(len, true);
                return TxStatus::SUCCESS;
            }
        }
    }
    let status = TxStatus::from_xmit(skb.xmit_on(vlan.lower()));
    vlan.stats.count_tx(len, status.is_sent());
    status
}

pub(crate) fn change_mtu(rtnl: Rtnl<'_>, up: &Upper<Macvlan>, mtu: u32) -> Result {
    if up.state().lower().mtu() < mtu {
        return Err(EINVAL);
    }
    up.dev().store_mtu(rtnl, mtu);
    Ok(())
}

pub(crate) fn set_mac_address(rtnl: Rtnl<'_>, up: &Upper<Macvlan>, addr: MacAddr) -> Result {
    let vlan = up.state();
    if up.dev().addr() == addr {
        return Ok(());
    }
    if vlan.mode() == mode::PASSTHRU {
        vlan.port().addr_change.set(rtnl, true);
        return vlan.lower().set_mac_address(rtnl, &addr);
    }
    if vlan.port().addr_busy(rtnl, &addr) {
        return Err(EADDRINUSE());
    }
    sync_address(rtnl, up, addr)
}

pub(crate) fn set_rx_mode(up: &Upper<Macvlan>) {
    let dev = up.dev();
    let vlan = up.state();
    let all = dev.flags()
        & (bindings::net_device_flags_IFF_PROMISC | bindings::net_device_flags_IFF_ALLMULTI)
        != 0;
    vlan.mc_filter
        .store(compute_filter(dev, all, vlan.hash_mix(), |_| true));
    dev.sync_addr_lists_to(vlan.lower());
    vlan.port().recompute_filters();
}

pub(crate) fn change_rx_flags(rtnl: Rtnl<'_>, up: &Upper<Macvlan>, change: u32) {
    let dev = up.dev();
    let vlan = up.state();
    if !dev.is_up() {
        return;
    }
    let flags = dev.flags();
    if change & bindings::net_device_flags_IFF_ALLMULTI != 0 {
        let inc = if flags & bindings::net_device_flags_IFF_ALLMULTI != 0 {
            1
        } else {
            -1
        };
        let _ = vlan.lower().set_allmulti(rtnl, inc);
    }
    if !vlan.port().is_passthru() && change & bindings::net_device_flags_IFF_PROMISC != 0 {
        let inc = if flags & bindings::net_device_flags_IFF_PROMISC != 0 {
            1
        } else {
            -1
        };
        let _ = vlan.lower().set_promiscuity(rtnl, inc);
    }
}

pub(crate) fn fix_features(up: &Upper<Macvlan>, features: u64) -> u64 {
    up.dev().stacked_fix_features(up.state().lower(), features)
}

pub(crate) fn stats64(up: &Upper<Macvlan>, out: &mut bindings::rtnl_link_stats64) {
    up.state().stats.fold(out);
}

pub(crate) fn fdb_add(rtnl: Rtnl<'_>, up: &Upper<Macvlan>, addr: MacAddr, flags: u16) -> Result {
    // Unicast filters only on passthru devices; multicast on all.
    if !up.state().port().is_passthru() && !addr.is_multicast() {
        return Err(EOPNOTSUPP());
    }
    if u32::from(flags) & bindings::NLM_F_REPLACE != 0 {
        return Err(EOPNOTSUPP());
    }
    up.dev().addr_add_excl(rtnl, &addr)
}

pub(crate) fn fdb_del(rtnl: Rtnl<'_>, up: &Upper<Macvlan>, addr: MacAddr) -> Result {
    if !up.state().port().is_passthru() && !addr.is_multicast() {
        return Err(EOPNOTSUPP());
    }
    up.dev().addr_del(rtnl, &addr)
}

pub(crate) fn stats(up: &Upper<Macvlan>, out: &mut [u64]) {
    if let Some(slot) = out.first_mut() {
        *slot = up.state().vrrp_steered.load(Ordering::Relaxed);
    }
}
