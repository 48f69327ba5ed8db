// SPDX-License-Identifier: GPL-2.0

//! The receive path: the rx handler on the lower device, multicast
//! delivery, and VRRP advertisement steering.

use crate::macvlan::MacvlanDev;
use crate::mode;
use crate::net::bindings;
use crate::net::ether::MacAddr;
use crate::net::ether::ETH_HLEN;
use crate::net::rx_handler::{RxHandler, RxHandlerType, RxResult};
use crate::net::skb::{PacketType, Skb};
use crate::net::sync::Rcu;
use crate::port::{mc_hash, Port};
use crate::vrrp_classify;
use kernel::sync::ArcBorrow;

/// The rx handler of the lower devices that carry a port.
pub(crate) static PORT_RX: RxHandlerType<Port> = RxHandlerType::new();

impl RxHandler for Port {
    /// `macvlan_handle_frame`. Inline into the rx handler's entry point, so
    /// that a unicast frame makes no call of its own (multicast takes one).
    #[inline(always)]
    fn handle(port: ArcBorrow<'_, Port>, skb: Skb, rcu: Rcu<'_>) -> RxResult {
        // Frames from dev_loopback_xmit() have no Ethernet header.
        if u32::from(skb.pkt_type()) == bindings::PACKET_LOOPBACK {
            return RxResult::Pass(skb);
        }
        let Some((dest, source)) = skb.eth_addrs() else {
            return RxResult::Pass(skb);
        };
        if dest.is_multicast() {
            handle_multicast(port, skb, rcu)
        } else {
            if port.sources.forward(&skb, dest, source, rcu) {
                drop(skb);
                return RxResult::Consumed;
            }
            handle_unicast(&port, skb, &dest, rcu)
        }
    }
}

#[inline(always)]
fn handle_multicast(port: ArcBorrow<'_, Port>, skb: Skb, rcu: Rcu<'_>) -> RxResult {
    let Some(skb) = skb.check_defrag(port.lower(), bindings::ip_defrag_users_IP_DEFRAG_MACVLAN)
    else {
        return RxResult::Consumed;
    };
    // Reassembly may have replaced the skb: read the header again.
    let Some((dest, source)) = skb.eth_addrs() else {
        return RxResult::Pass(skb);
    };
    if port.sources.forward(&skb, dest, source, rcu) {
        drop(skb);
        return RxResult::Consumed;
    }
    let src = port.lookup(&source, rcu);
    if let Some(src) = src {
        let src_mode = src.mode();
        // A tag in metadata belongs to a VLAN with no device here: the core
        // drops the frame if the lower device keeps it, so it is no advert
        // for the daemon there and gets private mode.
        if src_mode == mode::VRRP
            && vrrp_classify::is_vrrp_group_mac(&dest.0)
            && !skb.vlan_tag_present()
            && is_vrrp_advert(&skb)
        {
            // The one exception to private mode: the lower device keeps
            // the advertisement for the daemon listening there.
            src.count_vrrp_steered();
            return RxResult::Pass(skb);
        }
        if src_mode != mode::VEPA && src_mode != mode::BRIDGE {
            // Our own frame, reflected: give it back to its sender only.
            deliver_to_source(src, skb, dest);
            return RxResult::Consumed;
        }
    }
    let hash = mc_hash(0, &dest);
    if port.bc_filter.test(hash) {
        Port::enqueue(port, src, &skb);
    } else if port.mc_filter.test(hash) {
        multicast_rx(&port, src, &skb, rcu);
    }
    RxResult::Pass(skb)
}

/// Inline, with the address by value: the multicast path keeps the skb and
/// the addresses in registers.
#[inline(always)]
fn deliver_to_source(src: &MacvlanDev, skb: Skb, dest: MacAddr) {
    let dev = src.dev();
    // The C driver counts these with length 0; keep its figures.
    let Some(mut skb) = skb.unshare() else {
        src.stats.count_rx(0, false, false);
        return;
    };
    skb.set_dev(dev);
    skb.set_pkt_type(group_packet_type(&dest));
    let ok = skb.netif_rx_in_softirq();
    src.stats.count_rx(0, ok, false);
}

#[inline(always)]
fn handle_unicast(port: &Port, skb: Skb, dest: &MacAddr, rcu: Rcu<'_>) -> RxResult {
    let vlan = if port.is_passthru() {
        port.first_upper(rcu)
    } else {
        port.lookup(dest, rcu)
    };
    let Some(vlan) = vlan.filter(|v| v.mode() != mode::SOURCE) else {
        return RxResult::Pass(skb);
    };
    let dev = vlan.dev();
    if !dev.is_up() {
        drop(skb);
        return RxResult::Consumed;
    }
    let len = skb.len() + ETH_HLEN as u32;
    let Some(mut skb) = skb.unshare() else {
        vlan.stats.count_rx(len, false, false);
        return RxResult::Consumed;
    };
    skb.set_dev(dev);
    skb.set_pkt_type(PacketType::Host);
    vlan.stats.count_rx(len, true, false);
    RxResult::Another(skb)
}

fn group_packet_type(dest: &MacAddr) -> PacketType {
    if dest.is_broadcast() {
        PacketType::Broadcast
    } else {
        PacketType::Multicast
    }
}

/// Whether the frame is a VRRP advertisement (see `vrrp_classify`). The
/// link-layer header includes the tag a VLAN lower device with `reorder_hdr
/// off` put back. Both headers are read in place when the skb's linear area
/// holds them, as it nearly always does, and copied otherwise. Inline: a
/// borrow of the skb across a call would keep it in memory on the path.
#[inline(always)]
fn is_vrrp_advert(skb: &Skb) -> bool {
    // The classifier keeps its own copy, for its userspace build.
    const _: () = assert!(vrrp_classify::ETH_HLEN == ETH_HLEN);
    let Some(link) = skb.link_header(vrrp_classify::MAX_LINK_HLEN) else {
        return false;
    };
    let mut buf;
    let l3 = match skb.linear_prefix(vrrp_classify::IPV4_MAX_HLEN) {
        Some(l3) => l3,
        None => {
            buf = [0u8; vrrp_classify::IPV4_MAX_HLEN];
            skb.copy_prefix(0, &mut buf)
        }
    };
    vrrp_classify::classify(link, l3).is_some()
}

/// Delivers a multicast frame to the upper devices whose mode is in
/// `modes` and whose filter wants it, except `src` (`macvlan_broadcast`).
pub(crate) fn broadcast(
    port: &Port,
    skb: &Skb,
    src: Option<&MacvlanDev>,
    modes: mode::Mode,
    rcu: Rcu<'_>,
) {
    if skb.protocol() == bindings::ETH_P_PAUSE as u16 {
        return;
    }
    let Some((dest, _)) = skb.eth_addrs() else {
        return;
    };
    let local = modes == mode::BRIDGE;
    port.for_each_open_upper(rcu, |vlan| {
        if src.is_some_and(|s| core::ptr::eq(s, vlan)) || vlan.mode() & modes == 0 {
            return;
        }
        if !vlan.mc_filter.test(mc_hash(vlan.hash_mix(), &dest)) {
            return;
        }
        let dev = vlan.dev();
        let len = skb.len() + ETH_HLEN as u32;
        let delivered = match skb.clone_atomic() {
            Some(nskb) if local => nskb.forward_to(dev),
            Some(mut nskb) => {
                nskb.set_dev(dev);
                nskb.set_pkt_type(group_packet_type(&dest));
                nskb.netif_rx()
            }
            None => false,
        };
        vlan.stats.count_rx(len, delivered, true);
    });
}

/// Delivers a multicast frame that came from `src` (an upper device) or
/// from outside (`macvlan_multicast_rx`).
pub(crate) fn multicast_rx(port: &Port, src: Option<&MacvlanDev>, skb: &Skb, rcu: Rcu<'_>) {
    match src {
        None => broadcast(port, skb, None, mode::FROM_OUTSIDE, rcu),
        // Flood to everyone except the source.
        Some(s) if s.mode() == mode::VEPA => {
            broadcast(port, skb, src, mode::VEPA | mode::BRIDGE, rcu)
        }
        // Bridge ports already saw the frame on the way out.
        Some(_) => broadcast(port, skb, src, mode::VEPA, rcu),
    }
}
