// SPDX-License-Identifier: GPL-2.0

//! The netlink side of the macvlan link type (`macvlan_validate`,
//! `macvlan_newlink`, `macvlan_changelink`, `macvlan_dellink`,
//! `macvlan_fill_info`): the `IFLA_MACVLAN_*` attributes, checked up front
//! so that a change applies whole or not at all.

use crate::macvlan::{Macvlan, MacvlanDev};
use crate::mode;
use crate::net::bindings;
use crate::net::device::Net;
use crate::net::errno::EADDRNOTAVAIL;
use crate::net::ether::MacAddr;
use crate::net::link::{NewUpper, UnregisterQueue, Upper};
use crate::net::netlink::{nla_total_size, Attr, Attrs, ExtAck, NlMsg, Policy};
use crate::net::sync::Rtnl;
use crate::port::{self, Port};
use crate::source::SourcePlan;
use kernel::c_str;
use kernel::prelude::*;
use kernel::str::CStr;

/// `IFLA_MACVLAN_*` attribute types.
pub(crate) mod attr {
    use crate::net::bindings as b;
    pub(crate) const MODE: u32 = b::IFLA_MACVLAN_MODE;
    pub(crate) const FLAGS: u32 = b::IFLA_MACVLAN_FLAGS;
    pub(crate) const MACADDR_MODE: u32 = b::IFLA_MACVLAN_MACADDR_MODE;
    pub(crate) const MACADDR: u32 = b::IFLA_MACVLAN_MACADDR;
    pub(crate) const MACADDR_DATA: u32 = b::IFLA_MACVLAN_MACADDR_DATA;
    pub(crate) const MACADDR_COUNT: u32 = b::IFLA_MACVLAN_MACADDR_COUNT;
    pub(crate) const BC_QUEUE_LEN: u32 = b::IFLA_MACVLAN_BC_QUEUE_LEN;
    pub(crate) const BC_QUEUE_LEN_USED: u32 = b::IFLA_MACVLAN_BC_QUEUE_LEN_USED;
    pub(crate) const BC_CUTOFF: u32 = b::IFLA_MACVLAN_BC_CUTOFF;
    pub(crate) const MAX: u32 = b::__IFLA_MACVLAN_MAX - 1;
}

/// The `IFLA_MACVLAN_*` policy, as the C driver's `macvlan_policy`.
pub(crate) const POLICY: [Policy; attr::MAX as usize + 1] = {
    let mut p = [Policy::UNSPEC; attr::MAX as usize + 1];
    p[attr::MODE as usize] = Policy::U32;
    p[attr::FLAGS as usize] = Policy::U16;
    p[attr::MACADDR_MODE as usize] = Policy::U32;
    // CAST: `MAX_ADDR_LEN` is 32.
    p[attr::MACADDR as usize] = Policy::binary(bindings::MAX_ADDR_LEN as u16);
    p[attr::MACADDR_DATA as usize] = Policy::NESTED;
    p[attr::MACADDR_COUNT as usize] = Policy::U32;
    p[attr::BC_QUEUE_LEN as usize] = Policy::U32;
    p[attr::BC_QUEUE_LEN_USED as usize] = Policy::REJECT;
    p[attr::BC_CUTOFF as usize] = Policy::S32;
    p
};

fn reject(extack: &mut ExtAck<'_>, msg: &'static CStr, at: Option<Attr<'_>>, err: Error) -> Result {
    extack.set(msg, at);
    Err(err)
}

/// Request values checked up front, so that applying them cannot fail
/// halfway.
struct Request {
    mode: Option<u32>,
    flags: Option<u16>,
    bc_queue_len: Option<u32>,
    bc_cutoff: Option<i32>,
}

impl Request {
    fn parse(data: Option<Attrs<'_>>) -> Self {
        let get = |t| data.and_then(|d| d.get(t));
        Self {
            mode: get(attr::MODE).map(|a| a.u32()),
            flags: get(attr::FLAGS).map(|a| a.u16()),
            bc_queue_len: get(attr::BC_QUEUE_LEN).map(|a| a.u32()),
            bc_cutoff: get(attr::BC_CUTOFF).map(|a| a.s32()),
        }
    }
}

/// Checks `IFLA_MACVLAN_MACADDR_MODE` against the mode the device will have
/// and prepares the change, allocating what it needs.
fn prepare_sources(
    rtnl: Rtnl<'_>,
    port: &Port,
    vlan: &MacvlanDev,
    data: Option<Attrs<'_>>,
    dev_mode: u32,
    extack: &mut ExtAck<'_>,
) -> Result<SourcePlan> {
    let Some(d) = data else {
        return Ok(SourcePlan::Nothing);
    };
    let Some(a) = d.get(attr::MACADDR_MODE) else {
        return Ok(SourcePlan::Nothing);
    };
    if dev_mode != mode::SOURCE {
        reject(
            extack,
            c_str!("MACADDR_MODE is only valid in source mode"),
            Some(a),
            EINVAL,
        )?;
    }
    SourcePlan::prepare(rtnl, port, vlan, a.u32(), d).inspect_err(|e| {
        if *e == EINVAL {
            extack.set(c_str!("MACADDR_MODE add and del need a MACADDR"), Some(a));
        }
    })
}

fn apply_bc_cutoff(rtnl: Rtnl<'_>, port: &Port, cutoff: i32) {
    if port.bc_cutoff.get() != cutoff {
        port.bc_cutoff.set(rtnl, cutoff);
        port.recompute_filters();
    }
}

pub(crate) fn validate(tb: Attrs<'_>, data: Option<Attrs<'_>>, extack: &mut ExtAck<'_>) -> Result {
    if let Some(a) = tb.get(bindings::IFLA_ADDRESS) {
        let Some(addr) = MacAddr::from_slice(a.bytes()) else {
            return reject(
                extack,
                c_str!("invalid link address length"),
                Some(a),
                EINVAL,
            );
        };
        if !addr.is_valid_unicast() {
            return reject(
                extack,
                c_str!("link address must be a valid unicast MAC"),
                Some(a),
                EADDRNOTAVAIL(),
            );
        }
    }
    let Some(d) = data else { return Ok(()) };
    if let Some(a) = d.get(attr::FLAGS) {
        if a.u16() & !mode::FLAGS_ALL != 0 {
            return reject(extack, c_str!("unknown macvlan flags"), Some(a), EINVAL);
        }
    }
    if let Some(a) = d.get(attr::MODE) {
        if !mode::is_valid(a.u32()) {
            return reject(
                extack,
                c_str!("invalid macvlan mode: one of private, vepa, bridge, passthru, source or vrrp (32)"),
                Some(a),
                EINVAL,
            );
        }
    }
    if let Some(a) = d.get(attr::MACADDR_MODE) {
        if a.u32() > bindings::macvlan_macaddr_mode_MACVLAN_MACADDR_SET {
            return reject(extack, c_str!("invalid MACADDR_MODE"), Some(a), EINVAL);
        }
    }
    if let Some(a) = d.get(attr::MACADDR) {
        let Some(addr) = MacAddr::from_slice(a.bytes()) else {
            return reject(extack, c_str!("invalid MACADDR length"), Some(a), EINVAL);
        };
        if !addr.is_valid_unicast() {
            return reject(
                extack,
                c_str!("MACADDR must be a valid unicast MAC"),
                Some(a),
                EADDRNOTAVAIL(),
            );
        }
    }
    if let Some(a) = d.get(attr::MACADDR_DATA) {
        for (ty, payload) in a.nested() {
            let addr = MacAddr::from_slice(payload);
            if u32::from(ty) != attr::MACADDR || addr.is_none() {
                return reject(
                    extack,
                    c_str!("MACADDR_DATA holds only 6-byte MACADDR attributes"),
                    Some(a),
                    EINVAL,
                );
            }
            if !addr.is_some_and(|m| m.is_valid_unicast()) {
                return reject(
                    extack,
                    c_str!("MACADDR_DATA holds an invalid MAC"),
                    Some(a),
                    EADDRNOTAVAIL(),
                );
            }
        }
    }
    if let Some(a) = d.get(attr::MACADDR_COUNT) {
        return reject(
            extack,
            c_str!("MACADDR_COUNT is read-only"),
            Some(a),
            EINVAL,
        );
    }
    Ok(())
}

pub(crate) fn newlink(
    rtnl: Rtnl<'_>,
    src_net: &Net,
    new: NewUpper<'_, Macvlan>,
    tb: Attrs<'_>,
    data: Option<Attrs<'_>>,
    extack: &mut ExtAck<'_>,
) -> Result {
    let dev = new.dev();
    let Some(link) = tb.get(bindings::IFLA_LINK) else {
        return reject(
            extack,
            c_str!("a lower device (link) is required"),
            None,
            EINVAL,
        );
    };
    // CAST: interface indexes are positive `int`s.
    let Some(mut lower) = src_net.dev_by_index(rtnl, link.u32() as i32) else {
        return reject(extack, c_str!("lower device not found"), Some(link), ENODEV);
    };
    // On top of one of ours, stack on its lower device instead.
    if let Some(other) = Upper::<Macvlan>::try_from_dev(lower) {
        lower = other.state().lower();
    }
    let req = Request::parse(data);
    let vlan_mode = req.mode.unwrap_or(mode::VEPA);

    if tb.has(bindings::IFLA_MTU) {
        if dev.mtu() > lower.mtu() {
            return reject(
                extack,
                c_str!("MTU is larger than the lower device's"),
                tb.get(bindings::IFLA_MTU),
                EINVAL,
            );
        }
        dev.init_mtu(rtnl, None, bindings::ETH_MIN_MTU, lower.max_mtu());
    } else {
        dev.init_mtu(
            rtnl,
            Some(lower.mtu()),
            bindings::ETH_MIN_MTU,
            lower.max_mtu(),
        );
    }
    if !tb.has(bindings::IFLA_ADDRESS) {
        dev.set_random_addr(rtnl);
    }

    let (port, created) = match Port::of(rtnl, lower) {
        Some(p) => (p, false),
        None => match Port::create(rtnl, lower) {
            Ok(p) => (p, true),
            Err(e) if e == EBUSY => {
                return reject(
                    extack,
                    c_str!("lower device has another rx handler (bridge, bond, or the C macvlan?)"),
                    Some(link),
                    EBUSY,
                )
            }
            Err(e) => {
                return reject(
                    extack,
                    c_str!("lower device cannot carry macvlans"),
                    Some(link),
                    e,
                )
            }
        },
    };
    // No reader can reach `dev` before it is registered and on the port's
    // list, and a `register_netdevice` that fails after publishing it waits
    // for readers itself: like the C driver, no grace period here.
    let fail = |err: Error| -> Result {
        // A failed `register_netdevice` runs `ndo_uninit`, which may have
        // destroyed the port already; `destroy` then finds none.
        if created && port.count.get() == 0 {
            Port::destroy(rtnl, lower);
        }
        Err(err)
    };
    if port.is_passthru() {
        extack.set(
            c_str!("lower device already has a passthru macvlan"),
            Some(link),
        );
        return fail(EINVAL);
    }
    if vlan_mode == mode::PASSTHRU && port.count.get() > 0 {
        extack.set(
            c_str!("passthru mode needs a lower device without other macvlans"),
            Some(link),
        );
        return fail(EINVAL);
    }

    let owner = new.owner();
    let state = MacvlanDev::new(
        owner,
        lower,
        port.clone(),
        vlan_mode,
        req.flags.unwrap_or(0),
        req.bc_queue_len.unwrap_or(port::DEFAULT_BC_QUEUE_LEN),
    );
    let up = match new.init_private(state) {
        Ok(up) => up,
        Err(e) => return fail(e),
    };
    let vlan = up.state();
    let sources = match prepare_sources(rtnl, &port, vlan, data, vlan_mode, extack) {
        Ok(plan) => plan,
        Err(e) => return fail(e),
    };
    if vlan_mode == mode::PASSTHRU {
        port.set_passthru(rtnl);
        dev.inherit_addr(rtnl, lower);
    }
    if let Some(cutoff) = req.bc_cutoff {
        apply_bc_cutoff(rtnl, &port, cutoff);
    }

    if let Err(e) = up.register(rtnl) {
        return fail(e);
    }
    if let Err(e) = up.link_to_lower(rtnl, lower, extack) {
        // `ndo_uninit` destroys the port if this was its only device.
        up.unregister_now(rtnl);
        return Err(e);
    }
    port.list_add(rtnl, vlan);
    sources.apply(rtnl, &port, vlan);
    port.update_bc_queue_len(rtnl);
    lower.transfer_operstate_to(rtnl, dev);
    up.fire_linkwatch();
    Ok(())
}

pub(crate) fn changelink(
    rtnl: Rtnl<'_>,
    up: &Upper<Macvlan>,
    _tb: Option<Attrs<'_>>,
    data: Option<Attrs<'_>>,
    extack: &mut ExtAck<'_>,
) -> Result {
    let vlan = up.state();
    let port = vlan.port();
    let req = Request::parse(data);
    let cur_mode = vlan.mode();
    let new_mode = req.mode.unwrap_or(cur_mode);
    // Validate everything before changing anything.
    if (cur_mode == mode::PASSTHRU) != (new_mode == mode::PASSTHRU) {
        return reject(
            extack,
            c_str!("cannot change to or from passthru mode"),
            data.and_then(|d| d.get(attr::MODE)),
            EINVAL,
        );
    }
    let sources = prepare_sources(rtnl, port, vlan, data, new_mode, extack)?;

    // The one step that can fail comes first.
    if let Some(flags) = req.flags {
        let changed = flags ^ vlan.flags();
        if cur_mode == mode::PASSTHRU && changed & mode::FLAG_NOPROMISC != 0 && up.dev().is_up() {
            let inc = if flags & mode::FLAG_NOPROMISC != 0 {
                -1
            } else {
                1
            };
            vlan.lower().set_promiscuity(rtnl, inc)?;
        }
        vlan.set_flags(rtnl, flags);
    }
    if cur_mode == mode::SOURCE && new_mode != mode::SOURCE {
        port.sources.flush(rtnl, vlan);
    }
    vlan.set_mode(rtnl, new_mode);
    if let Some(len) = req.bc_queue_len {
        vlan.bc_queue_len_req.set(rtnl, len);
        port.update_bc_queue_len(rtnl);
    }
    if let Some(cutoff) = req.bc_cutoff {
        apply_bc_cutoff(rtnl, port, cutoff);
    }
    sources.apply(rtnl, port, vlan);
    Ok(())
}

pub(crate) fn dellink(rtnl: Rtnl<'_>, up: &Upper<Macvlan>, queue: &mut UnregisterQueue<'_>) {
    let vlan = up.state();
    if vlan.mode() == mode::SOURCE {
        vlan.port().sources.flush(rtnl, vlan);
    }
    vlan.port().list_del(rtnl, vlan);
    vlan.port().update_bc_queue_len(rtnl);
    queue.push(rtnl, up.dev());
    up.unlink_from_lower(rtnl, vlan.lower());
}

pub(crate) fn info_size(up: &Upper<Macvlan>) -> usize {
    let macs = up.state().macaddr_count.get() as usize;
    let macs_size = if macs == 0 {
        0
    } else {
        nla_total_size(0) + macs * nla_total_size(6)
    };
    nla_total_size(4) // MODE
        + nla_total_size(2) // FLAGS
        + nla_total_size(4) // MACADDR_COUNT
        + macs_size // MACADDR_DATA
        + nla_total_size(4) // BC_QUEUE_LEN
        + nla_total_size(4) // BC_QUEUE_LEN_USED
        + nla_total_size(4) // BC_CUTOFF
}

pub(crate) fn fill_info(up: &Upper<Macvlan>, msg: &mut NlMsg) -> Result {
    let vlan = up.state();
    let port = vlan.port();
    msg.put_u32(attr::MODE, vlan.mode())?;
    msg.put_u16(attr::FLAGS, vlan.flags())?;
    let macs = vlan.macaddr_count.get();
    msg.put_u32(attr::MACADDR_COUNT, macs)?;
    if macs > 0 {
        msg.nest(attr::MACADDR_DATA, |msg| {
            port.sources
                .try_for_each_addr_of(vlan, |a| msg.put_bytes(attr::MACADDR, &a.0))
        })?;
    }
    msg.put_u32(attr::BC_QUEUE_LEN, vlan.bc_queue_len_req.get())?;
    msg.put_u32(attr::BC_QUEUE_LEN_USED, port.bc_queue_len_used.get())?;
    let cutoff = port.bc_cutoff.get();
    if cutoff != port::DEFAULT_BC_CUTOFF {
        msg.put_s32(attr::BC_CUTOFF, cutoff)?;
    }
    Ok(())
}
