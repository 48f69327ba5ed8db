// SPDX-License-Identifier: GPL-2.0

//! The netdevice notifier that follows lower devices carrying a port
//! (`macvlan_device_event`).

use crate::macvlan::Macvlan;
use crate::net::bindings;
use crate::net::device::NetDevice;
use crate::net::link::{UnregisterBatch, Upper};
use crate::net::notifier::NetdevNotifier;
use crate::net::sync::Rtnl;
use crate::netdev::sync_address;
use crate::netlink::dellink;
use crate::port::Port;

/// Follows lower devices that carry a port.
pub(crate) struct LowerNotifier;

impl NetdevNotifier for LowerNotifier {
    fn event(rtnl: Rtnl<'_>, event: u32, dev: &NetDevice) -> i32 {
        let Some(port) = Port::of(rtnl, dev) else {
            return bindings::NOTIFY_DONE as i32;
        };
        match event {
            bindings::netdev_cmd_NETDEV_UP
            | bindings::netdev_cmd_NETDEV_DOWN
            | bindings::netdev_cmd_NETDEV_CHANGE => {
                for vlan in port.uppers(rtnl) {
                    dev.transfer_operstate_to(rtnl, vlan.dev());
                }
            }
            bindings::netdev_cmd_NETDEV_FEAT_CHANGE => {
                for vlan in port.uppers(rtnl) {
                    vlan.dev().stacked_follow_features(rtnl, dev);
                }
            }
            bindings::netdev_cmd_NETDEV_CHANGEMTU => {
                for vlan in port.uppers(rtnl) {
                    if vlan.dev().mtu() > dev.mtu() {
                        let _ = vlan.dev().change_mtu(rtnl, dev.mtu());
                    }
                }
            }
            bindings::netdev_cmd_NETDEV_CHANGEADDR => {
                if !port.is_passthru() {
                    return bindings::NOTIFY_DONE as i32;
                }
                let first = port
                    .first_upper(rtnl)
                    .and_then(|v| Upper::<Macvlan>::try_from_dev(v.dev()));
                if let Some(up) = first {
                    if sync_address(rtnl, up, dev.addr()).is_err() {
                        return bindings::NOTIFY_BAD as i32;
                    }
                }
            }
            bindings::netdev_cmd_NETDEV_UNREGISTER => {
                // Twice: once unregistering, once for the netns move.
                if !dev.is_unregistering() {
                    return bindings::NOTIFY_DONE as i32;
                }
                kernel::stack_pin_init!(let batch = UnregisterBatch::new(rtnl));
                // The walk reads each successor before yielding a device, so
                // dellink may unlink the device it is given.
                for vlan in port.uppers(rtnl) {
                    if let Some(up) = Upper::<Macvlan>::try_from_dev(vlan.dev()) {
                        dellink(rtnl, up, &mut batch.as_mut().queue());
                    }
                }
            }
            bindings::netdev_cmd_NETDEV_PRE_TYPE_CHANGE => {
                // Forbid a type change while macvlans sit on top.
                return bindings::NOTIFY_BAD as i32;
            }
            bindings::netdev_cmd_NETDEV_NOTIFY_PEERS
            | bindings::netdev_cmd_NETDEV_BONDING_FAILOVER
            | bindings::netdev_cmd_NETDEV_RESEND_IGMP => {
                for vlan in port.uppers(rtnl) {
                    vlan.dev().notify(rtnl, event);
                }
            }
            _ => {}
        }
        bindings::NOTIFY_DONE as i32
    }
}
