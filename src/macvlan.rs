// SPDX-License-Identifier: GPL-2.0

//! The macvlan link type: upper devices, their netlink interface and the
//! notifier that follows the lower device.

use crate::mode;
use crate::net::bindings;
use crate::net::device::NetDevice;
use crate::net::errno::{EADDRINUSE, EADDRNOTAVAIL, EOPNOTSUPP};
use crate::net::ether::MacAddr;
use crate::net::link::{
    Link, LinkVTables, NetdevNotifier, TxStatus, UnregisterBatch, UnregisterQueue, Upper,
};
use crate::net::netlink::{nla_total_size, Attr, Attrs, ExtAck, NlMsg};
use crate::net::skb::Skb;
use crate::net::stats::PcpuStats;
use crate::net::sync::{Rcu, Rtnl};
use crate::port::{self, compute_filter, McFilter, Port};
use crate::rx;
use crate::source::SourcePlan;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use kernel::c_str;
use kernel::prelude::*;
use kernel::str::CStr;

/// `IFLA_MACVLAN_*` attribute types.
mod attr {
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

/// The private state of an upper device.
///
/// # Invariants
///
/// Once `newlink` has set `dev`, `lower` and `port`, they stay valid until
/// `priv_destructor`: the device holds a reference to `lower`, and the port
/// lives while it has upper devices.
#[derive(Default)]
pub(crate) struct MacvlanDev {
    dev: AtomicPtr<bindings::net_device>,
    lower: AtomicPtr<bindings::net_device>,
    port: AtomicPtr<Port>,
    mode: AtomicU32,
    flags: AtomicU32,
    /// Next device in the port's hash bucket.
    pub(crate) hash_next: AtomicPtr<MacvlanDev>,
    /// Next device in the port's list of all upper devices.
    pub(crate) list_next: AtomicPtr<MacvlanDev>,
    /// Groups this device wants.
    pub(crate) mc_filter: McFilter,
    pub(crate) bc_queue_len_req: AtomicU32,
    /// Source MACs in the port's table (source mode).
    pub(crate) macaddr_count: AtomicU32,
    /// VRRP advertisements from this device's MAC left on the lower device.
    vrrp_steered: AtomicU64,
    /// rx/tx counters.
    pub(crate) stats: PcpuStats,
    /// netconsole through this device.
    #[cfg(CONFIG_NET_POLL_CONTROLLER)]
    netpoll: crate::net::link::Netpoll,
}

// SAFETY: every field is an atomic integer or pointer, or a filter of
// atomics, for which all-zero is valid.
unsafe impl kernel::init::Zeroable for MacvlanDev {}

impl MacvlanDev {
    /// The upper device.
    pub(crate) fn dev(&self) -> &NetDevice {
        // SAFETY: by the type invariant `dev` is set before the device is
        // published anywhere this is called from.
        unsafe { NetDevice::from_raw(self.dev.load(Ordering::Relaxed)) }
    }

    /// The lower device.
    pub(crate) fn lower(&self) -> &NetDevice {
        // SAFETY: by the type invariant, held until the destructor.
        unsafe { NetDevice::from_raw(self.lower.load(Ordering::Relaxed)) }
    }

    /// The port.
    pub(crate) fn port(&self) -> &Port {
        // SAFETY: by the type invariant.
        unsafe { &*self.port.load(Ordering::Relaxed) }
    }

    /// The mode (written under RTNL, read in the rx path).
    pub(crate) fn mode(&self) -> mode::Mode {
        self.mode.load(Ordering::Relaxed)
    }

    /// `MACVLAN_FLAG_*`.
    pub(crate) fn flags(&self) -> u16 {
        // CAST: only `u16` values are stored.
        self.flags.load(Ordering::Relaxed) as u16
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

/// The C tables for [`Macvlan`].
pub(crate) static MACVLAN_VTABLES: LinkVTables = LinkVTables::new::<Macvlan>(
    c_str!("macvlan"),
    core::ptr::addr_of!(bindings::mvv_macvlan_policy).cast(),
    attr::MAX,
);

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

impl Macvlan {
    fn apply_bc_cutoff(port: &Port, cutoff: i32) {
        if port.bc_cutoff.swap(cutoff, Ordering::Relaxed) != cutoff {
            port.recompute_filters();
        }
    }

    /// Gives `up` the address `addr`, rehashing it and moving the lower
    /// device's filter entry if it is up (`macvlan_sync_address`).
    fn sync_address(rtnl: Rtnl<'_>, up: &Upper<Self>, addr: MacAddr) -> Result {
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
        if port.is_passthru() && !port.addr_change.load(Ordering::Relaxed) {
            // The lower device changed its own address: remember it.
            port.save_perm_addr(rtnl);
        }
        port.addr_change.store(false, Ordering::Relaxed);
        Ok(())
    }
}

impl Link for Macvlan {
    type Private = MacvlanDev;

    fn vtables() -> &'static LinkVTables {
        &MACVLAN_VTABLES
    }

    const DRIVER_NAME: &'static CStr = c_str!("macvlan_vrrp");
    const DRIVER_VERSION: &'static CStr = c_str!("0.1");
    const STATS_NAMES: &'static [&'static CStr] = &[c_str!("vrrp_adverts_to_lower")];

    fn setup(_dev: &NetDevice) {}

    fn validate(tb: Attrs<'_>, data: Option<Attrs<'_>>, extack: &mut ExtAck<'_>) -> Result {
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

    fn newlink(
        rtnl: Rtnl<'_>,
        src_net: *mut bindings::net,
        up: &Upper<Self>,
        tb: Attrs<'_>,
        data: Option<Attrs<'_>>,
        extack: &mut ExtAck<'_>,
    ) -> Result {
        let dev = up.dev();
        let Some(link) = tb.get(bindings::IFLA_LINK) else {
            return reject(
                extack,
                c_str!("a lower device (link) is required"),
                None,
                EINVAL,
            );
        };
        // CAST: interface indexes are positive `int`s.
        // SAFETY: `src_net` is the request's netns, valid under RTNL.
        let lower = unsafe { bindings::__dev_get_by_index(src_net, link.u32() as i32) };
        // SAFETY: found under RTNL, which keeps it alive for the call.
        let Some(mut lower) = (unsafe { NetDevice::from_raw_opt(lower) }) else {
            return reject(extack, c_str!("lower device not found"), Some(link), ENODEV);
        };
        // On top of one of ours, stack on its lower device instead.
        if let Some(other) = Upper::<Macvlan>::try_from_dev(lower) {
            lower = other.state().lower();
        }
        let req = Request::parse(data);
        let vlan_mode = req.mode.unwrap_or(mode::VEPA);
        if vlan_mode != mode::SOURCE {
            if let Some(a) = data.and_then(|d| d.get(attr::MACADDR_MODE)) {
                return reject(
                    extack,
                    c_str!("MACADDR_MODE is only valid in source mode"),
                    Some(a),
                    EINVAL,
                );
            }
        }

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
                        c_str!(
                            "lower device has another rx handler (bridge, bond, or the C macvlan?)"
                        ),
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
        let fail = |err: Error| -> Result {
            // A failed `register_netdevice` runs `ndo_uninit`, which may
            // already have destroyed the port: look it up again.
            if created {
                if let Some(p) =
                    Port::of(rtnl, lower).filter(|p| p.count.load(Ordering::Relaxed) == 0)
                {
                    // SAFETY: no upper device uses the new port.
                    unsafe { p.destroy(rtnl) };
                }
            }
            // `dev` may have been visible; let readers leave before the
            // core frees it.
            // SAFETY: may sleep, as RTNL callers may.
            unsafe { bindings::mvv_synchronize_net() };
            Err(err)
        };
        if port.is_passthru() {
            extack.set(
                c_str!("lower device already has a passthru macvlan"),
                Some(link),
            );
            return fail(EINVAL);
        }
        if vlan_mode == mode::PASSTHRU && port.count.load(Ordering::Relaxed) > 0 {
            extack.set(
                c_str!("passthru mode needs a lower device without other macvlans"),
                Some(link),
            );
            return fail(EINVAL);
        }

        let vlan = up.state();
        let sources = match prepare_sources(rtnl, port, vlan, data, vlan_mode, extack) {
            Ok(plan) => plan,
            Err(e) => return fail(e),
        };
        vlan.dev.store(dev.as_ptr(), Ordering::Relaxed);
        vlan.lower.store(lower.as_ptr(), Ordering::Relaxed);
        vlan.port
            .store(core::ptr::from_ref(port).cast_mut(), Ordering::Relaxed);
        vlan.mode.store(vlan_mode, Ordering::Relaxed);
        vlan.flags
            .store(u32::from(req.flags.unwrap_or(0)), Ordering::Relaxed);
        vlan.bc_queue_len_req.store(
            req.bc_queue_len.unwrap_or(port::DEFAULT_BC_QUEUE_LEN),
            Ordering::Relaxed,
        );
        if vlan_mode == mode::PASSTHRU {
            port.set_passthru(rtnl);
            dev.inherit_addr(rtnl, lower);
        }
        if let Some(cutoff) = req.bc_cutoff {
            Self::apply_bc_cutoff(port, cutoff);
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
        sources.apply(rtnl, port, vlan);
        port.update_bc_queue_len(rtnl);
        lower.transfer_operstate_to(rtnl, dev);
        up.fire_linkwatch();
        Ok(())
    }

    fn changelink(
        rtnl: Rtnl<'_>,
        up: &Upper<Self>,
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
            if cur_mode == mode::PASSTHRU && changed & mode::FLAG_NOPROMISC != 0 && up.dev().is_up()
            {
                let inc = if flags & mode::FLAG_NOPROMISC != 0 {
                    -1
                } else {
                    1
                };
                vlan.lower().set_promiscuity(rtnl, inc)?;
            }
            vlan.flags.store(u32::from(flags), Ordering::Relaxed);
        }
        if cur_mode == mode::SOURCE && new_mode != mode::SOURCE {
            port.sources.flush(rtnl, vlan);
        }
        vlan.mode.store(new_mode, Ordering::Relaxed);
        if let Some(len) = req.bc_queue_len {
            vlan.bc_queue_len_req.store(len, Ordering::Relaxed);
            port.update_bc_queue_len(rtnl);
        }
        if let Some(cutoff) = req.bc_cutoff {
            Self::apply_bc_cutoff(port, cutoff);
        }
        sources.apply(rtnl, port, vlan);
        Ok(())
    }

    fn dellink(rtnl: Rtnl<'_>, up: &Upper<Self>, queue: &mut UnregisterQueue<'_>) {
        let vlan = up.state();
        if vlan.mode() == mode::SOURCE {
            vlan.port().sources.flush(rtnl, vlan);
        }
        vlan.port().list_del(rtnl, vlan);
        vlan.port().update_bc_queue_len(rtnl);
        queue.push(rtnl, up.dev());
        up.unlink_from_lower(rtnl, vlan.lower());
    }

    fn info_size(up: &Upper<Self>) -> usize {
        let macs = up.state().macaddr_count.load(Ordering::Relaxed) as usize;
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

    fn fill_info(up: &Upper<Self>, msg: &mut NlMsg) -> Result {
        let vlan = up.state();
        let port = vlan.port();
        msg.put_u32(attr::MODE, vlan.mode())?;
        msg.put_u16(attr::FLAGS, vlan.flags())?;
        let macs = vlan.macaddr_count.load(Ordering::Relaxed);
        msg.put_u32(attr::MACADDR_COUNT, macs)?;
        if macs > 0 {
            msg.nest(attr::MACADDR_DATA, |msg| {
                port.sources
                    .addrs_of(vlan)
                    .try_for_each(|a| msg.put_bytes(attr::MACADDR, &a.0))
            })?;
        }
        msg.put_u32(
            attr::BC_QUEUE_LEN,
            vlan.bc_queue_len_req.load(Ordering::Relaxed),
        )?;
        msg.put_u32(
            attr::BC_QUEUE_LEN_USED,
            port.bc_queue_len_used.load(Ordering::Relaxed),
        )?;
        let cutoff = port.bc_cutoff.load(Ordering::Relaxed);
        if cutoff != port::DEFAULT_BC_CUTOFF {
            msg.put_s32(attr::BC_CUTOFF, cutoff)?;
        }
        Ok(())
    }

    fn lower(up: &Upper<Self>) -> &NetDevice {
        up.state().lower()
    }

    fn init(rtnl: Rtnl<'_>, up: &Upper<Self>) -> Result {
        let vlan = up.state();
        let lower = vlan.lower();
        vlan.stats.alloc(rtnl)?;
        // SAFETY: both devices are valid; `ndo_init` runs before the device
        // is visible.
        unsafe {
            bindings::mvv_upper_inherit_lower(up.dev().as_ptr(), lower.as_ptr());
            bindings::mvv_set_lockdep_class(up.dev().as_ptr());
        }
        vlan.port().count.fetch_add(1, Ordering::Relaxed);
        // Released in `destruct`.
        lower.hold_raw();
        Ok(())
    }

    fn uninit(rtnl: Rtnl<'_>, up: &Upper<Self>) {
        let vlan = up.state();
        vlan.stats.free(rtnl);
        let port = vlan.port();
        port.sources.flush(rtnl, vlan);
        if port.count.fetch_sub(1, Ordering::Relaxed) == 1 {
            // SAFETY: this was the port's last upper device.
            unsafe { port.destroy(rtnl) };
        }
    }

    fn destruct(up: &Upper<Self>) {
        let lower = up.state().lower.load(Ordering::Relaxed);
        // SAFETY: `init` took this reference; `lower` is set whenever
        // `init` ran, which is the only way to reach the destructor of a
        // registered device.
        if let Some(lower) = unsafe { NetDevice::from_raw_opt(lower) } {
            lower.put_raw();
        }
    }

    fn open(rtnl: Rtnl<'_>, up: &Upper<Self>) -> Result {
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

    fn stop(rtnl: Rtnl<'_>, up: &Upper<Self>) {
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

    fn start_xmit(up: &Upper<Self>, mut skb: Skb, rcu: Rcu<'_>) -> TxStatus {
        let vlan = up.state();
        let port = vlan.port();
        let len = skb.len();
        if vlan.mode() == mode::BRIDGE {
            // The header at `skb->data`, as the C driver reads it: paths that
            // bypass the qdisc layer may leave the MAC header unset.
            if let Some((dest, _)) = skb.tx_eth_addrs() {
                if dest.is_multicast() {
                    skb.reset_mac_header();
                    rx::bridge_flood(port, &skb, vlan, rcu);
                } else if port
                    .lookup(&dest, rcu)
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

    fn change_mtu(rtnl: Rtnl<'_>, up: &Upper<Self>, mtu: u32) -> Result {
        if up.state().lower().mtu() < mtu {
            return Err(EINVAL);
        }
        up.dev().store_mtu(rtnl, mtu);
        Ok(())
    }

    fn set_mac_address(rtnl: Rtnl<'_>, up: &Upper<Self>, addr: MacAddr) -> Result {
        let vlan = up.state();
        if up.dev().addr() == addr {
            return Ok(());
        }
        if vlan.mode() == mode::PASSTHRU {
            vlan.port().addr_change.store(true, Ordering::Relaxed);
            return port::set_lower_addr(rtnl, vlan.lower(), &addr);
        }
        if vlan.port().addr_busy(rtnl, &addr) {
            return Err(EADDRINUSE());
        }
        Self::sync_address(rtnl, up, addr)
    }

    fn set_rx_mode(up: &Upper<Self>) {
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

    fn change_rx_flags(rtnl: Rtnl<'_>, up: &Upper<Self>, change: u32) {
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

    fn fix_features(up: &Upper<Self>, features: u64) -> u64 {
        // SAFETY: both devices are valid; called under RTNL.
        unsafe {
            bindings::mvv_fix_features(up.dev().as_ptr(), up.state().lower().as_ptr(), features)
        }
    }

    fn stats64(up: &Upper<Self>, out: &mut bindings::rtnl_link_stats64) {
        up.state().stats.fold(out);
    }

    fn fdb_add(rtnl: Rtnl<'_>, up: &Upper<Self>, addr: MacAddr, flags: u16) -> Result {
        // Unicast filters only on passthru devices; multicast on all.
        if !up.state().port().is_passthru() && !addr.is_multicast() {
            return Err(EOPNOTSUPP());
        }
        if u32::from(flags) & bindings::NLM_F_REPLACE != 0 {
            return Err(EOPNOTSUPP());
        }
        up.dev().addr_add_excl(rtnl, &addr)
    }

    fn fdb_del(rtnl: Rtnl<'_>, up: &Upper<Self>, addr: MacAddr) -> Result {
        if !up.state().port().is_passthru() && !addr.is_multicast() {
            return Err(EOPNOTSUPP());
        }
        up.dev().addr_del(rtnl, &addr)
    }

    #[cfg(CONFIG_NET_POLL_CONTROLLER)]
    fn netpoll(up: &Upper<Self>) -> &crate::net::link::Netpoll {
        &up.state().netpoll
    }

    fn stats(up: &Upper<Self>, out: &mut [u64]) {
        if let Some(slot) = out.first_mut() {
            *slot = up.state().vrrp_steered.load(Ordering::Relaxed);
        }
    }
}

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
                for vlan in port.uppers() {
                    dev.transfer_operstate_to(rtnl, vlan.dev());
                }
            }
            bindings::netdev_cmd_NETDEV_FEAT_CHANGE => {
                for vlan in port.uppers() {
                    // SAFETY: both devices are valid; RTNL is held.
                    unsafe {
                        bindings::mvv_inherit_tso_max_and_update(vlan.dev().as_ptr(), dev.as_ptr())
                    };
                }
            }
            bindings::netdev_cmd_NETDEV_CHANGEMTU => {
                for vlan in port.uppers() {
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
                    .first_upper()
                    .and_then(|v| Upper::<Macvlan>::try_from_dev(v.dev()));
                if let Some(up) = first {
                    if Macvlan::sync_address(rtnl, up, dev.addr()).is_err() {
                        return bindings::NOTIFY_BAD as i32;
                    }
                }
            }
            bindings::netdev_cmd_NETDEV_UNREGISTER => {
                // Twice: once unregistering, once for the netns move.
                if !dev.is_unregistering() {
                    return bindings::NOTIFY_DONE as i32;
                }
                kernel::stack_pin_init!(let batch = UnregisterBatch::new());
                // Collect first: dellink unlinks from the list we walk.
                let mut next = port.first_upper();
                while let Some(vlan) = next {
                    next = vlan.list_next_upper();
                    if let Some(up) = Upper::<Macvlan>::try_from_dev(vlan.dev()) {
                        Macvlan::dellink(rtnl, up, &mut batch.as_mut().queue());
                    }
                }
                batch.as_mut().commit(rtnl);
            }
            bindings::netdev_cmd_NETDEV_PRE_TYPE_CHANGE => {
                // Forbid a type change while macvlans sit on top.
                return bindings::NOTIFY_BAD as i32;
            }
            bindings::netdev_cmd_NETDEV_NOTIFY_PEERS
            | bindings::netdev_cmd_NETDEV_BONDING_FAILOVER
            | bindings::netdev_cmd_NETDEV_RESEND_IGMP => {
                for vlan in port.uppers() {
                    vlan.dev().notify(rtnl, event);
                }
            }
            _ => {}
        }
        bindings::NOTIFY_DONE as i32
    }
}

impl MacvlanDev {
    fn list_next_upper(&self) -> Option<&MacvlanDev> {
        // SAFETY: list members are live upper devices; the caller holds
        // RTNL, which keeps them registered.
        unsafe { self.list_next.load(Ordering::Acquire).as_ref() }
    }
}
