//! vrrpctl: create, change, show and delete macvlan devices for VRRP,
//! including MACVLAN_MODE_VRRP (32), which ip(8) cannot name.
//!
//! Talks rtnetlink and the ethtool ioctl in the current network namespace.
//! Exit status: 0 success, 1 the request failed, 2 bad command line.

mod cli;
mod explain;

use std::process::ExitCode;

use clap::Parser;
use mvv_netlink::ethtool::{self, VRRP_ADVERTS_TO_LOWER};
use mvv_netlink::link::{
    macvlan_change_msg, macvlan_mode, macvlan_msg, with_address, Link, RawNla,
};
use mvv_netlink::nl::{Nl, NlError};
use mvv_netlink::vrrp::{fmt_mac, virtual_mac, vrid_of_mac};

use cli::{Cli, Cmd, CreateArgs, DeleteArgs, SetArgs, ShowArgs};
use explain::{explain, Drivers, Op};

/// Our driver's name as ethtool reports it.
const OUR_DRIVER: &str = "macvlan_vrrp";

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vrrpctl: error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("vrrpctl: error: {msg}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let (nl, _task) =
        Nl::open_here("current").map_err(|e| format!("cannot open a NETLINK_ROUTE socket: {e}"))?;
    match cli.cmd {
        Cmd::Create(a) => create(&nl, a).await,
        Cmd::Set(a) => set(&nl, a).await,
        Cmd::Show(a) => show(&nl, a).await,
        Cmd::Delete(a) => delete(&nl, a).await,
    }
}

/// The warning printed whenever a device is put in VRRP mode.
fn vrrp_mode_warning(name: &str, lower: &str) -> String {
    format!(
        "warning: {name} is in VRRP mode: VRRP advertisements sent from its MAC stay on the \
         lower device {lower} instead of being delivered to {name}.\n\
         warning: stock keepalived (use_vmac) expects private mode to deliver the peer's \
         advertisements to the VMAC device; under VRRP mode it would see no advertisements \
         and both routers would become master (split brain), and it turns a VMAC it manages \
         back to private mode.\n\
         warning: use keepalived with `use_vmac` plus `vmac_vrrp_mode` (patches/keepalived/, \
         built by scripts/build-keepalived), which receives on the lower device and sends \
         from the VMAC, or FRR vrrpd, or another daemon that listens on the lower device."
    )
}

async fn lookup(nl: &Nl, name: &str) -> Result<Option<Link>> {
    nl.link_by_name(name)
        .await
        .map_err(|e| format!("looking up {name}: {e}"))
}

/// A device that must exist and be a macvlan.
async fn macvlan(nl: &Nl, name: &str) -> Result<Link> {
    let l = lookup(nl, name)
        .await?
        .ok_or_else(|| format!("no such device: {name}"))?;
    match l.kind.as_deref() {
        Some("macvlan") => Ok(l),
        other => Err(format!(
            "{name} is not a macvlan device (kind {}); vrrpctl only handles macvlan devices",
            other.unwrap_or("none")
        )),
    }
}

fn driver_of(name: &str) -> Option<String> {
    ethtool::drvinfo_here(name).ok().map(|i| i.driver)
}

async fn lower_name(nl: &Nl, l: &Link) -> String {
    let Some(idx) = l.link else {
        return "none".into();
    };
    if l.link_netnsid().is_some() {
        return format!("ifindex {idx} in another netns");
    }
    match nl.link_by_index(idx).await {
        Ok(Some(lower)) => lower.name,
        _ => format!("ifindex {idx}"),
    }
}

async fn create(nl: &Nl, a: CreateArgs) -> Result<()> {
    let drivers = Drivers::probe();
    let lower = lookup(nl, &a.link)
        .await?
        .ok_or_else(|| format!("no such lower device: {}", a.link))?;
    if lookup(nl, &a.name).await?.is_some() {
        return Err(format!("a device named {} already exists", a.name));
    }
    let vmac = virtual_mac(a.family, a.vrid);
    let mac = a.mac.unwrap_or(vmac);
    if mac != vmac {
        eprintln!(
            "note: {} is not the VRRP virtual MAC of {} VRID {} ({}); peers and switches \
             will not associate it with the group",
            fmt_mac(&mac),
            a.family,
            a.vrid,
            fmt_mac(&vmac)
        );
    }
    let mode = a.mode.value();
    let msg = with_address(
        macvlan_msg(&a.name, lower.index, &[RawNla::macvlan_mode(mode)]),
        &mac,
    );
    let op = Op::Create {
        name: &a.name,
        lower: &a.link,
        mode,
    };
    nl.link_add(msg)
        .await
        .map_err(|e| explain(&op, &e, drivers))?;

    let created = lookup(nl, &a.name)
        .await?
        .ok_or_else(|| format!("{} was created but has vanished", a.name))?;
    let driver = driver_of(&a.name);
    let got_mode = created.macvlan_mode();
    if got_mode != Some(mode) {
        eprintln!(
            "warning: asked for mode {} but the kernel reports {}",
            macvlan_mode::describe(mode),
            got_mode.map_or("no mode".into(), macvlan_mode::describe)
        );
    }
    if let Some(d) = driver.as_deref().filter(|d| *d != OUR_DRIVER) {
        eprintln!(
            "note: {} is driven by {d:?}, not {OUR_DRIVER}; it has no VRRP mode",
            a.name
        );
    }
    let mut state = "down";
    if a.up {
        let up = Op::Up {
            name: &a.name,
            mac: &mac,
        };
        if let Err(e) = nl.link_up(created.index).await {
            // All or nothing: do not leave a half-made device behind.
            let undo = match nl.link_del(created.index).await {
                Ok(()) => format!("{} was deleted again", a.name),
                Err(d) => format!(
                    "{} was created but could not be deleted again ({d}); \
                     delete it with: vrrpctl delete {}",
                    a.name, a.name
                ),
            };
            return Err(format!("{}\n  ({undo})", explain(&up, &e, drivers)));
        }
        state = "up";
    }
    println!(
        "created {}: lower {}, mac {}, mode {}, {state}, driver {}",
        a.name,
        a.link,
        fmt_mac(&mac),
        macvlan_mode::describe(got_mode.unwrap_or(mode)),
        driver.as_deref().unwrap_or("unknown")
    );
    if mode == macvlan_mode::VRRP {
        eprintln!("{}", vrrp_mode_warning(&a.name, &a.link));
    }
    Ok(())
}

async fn set(nl: &Nl, a: SetArgs) -> Result<()> {
    let l = macvlan(nl, &a.name).await?;
    let driver = driver_of(&a.name);
    let old = l.macvlan_mode();
    let mode = a.mode.value();
    let op = Op::SetMode {
        name: &a.name,
        mode,
        driver: driver.as_deref(),
    };
    nl.link_change(macvlan_change_msg(l.index, &[RawNla::macvlan_mode(mode)]))
        .await
        .map_err(|e| explain(&op, &e, Drivers::probe()))?;
    let now = lookup(nl, &a.name).await?.and_then(|l| l.macvlan_mode());
    println!(
        "{}: mode {} -> {}",
        a.name,
        old.map_or("unknown".into(), macvlan_mode::describe),
        now.map_or("unknown".into(), macvlan_mode::describe)
    );
    if now != Some(mode) {
        return Err(format!(
            "the kernel accepted the change but reports mode {}",
            now.map_or("none".into(), macvlan_mode::describe)
        ));
    }
    if mode == macvlan_mode::VRRP {
        let lower = lower_name(nl, &l).await;
        eprintln!("{}", vrrp_mode_warning(&a.name, &lower));
    }
    Ok(())
}

/// One `show` line.
fn show_line(l: &Link, lower: &str, driver: Option<&str>, counter: Option<u64>) -> String {
    let mac = l.address.as_deref().map_or("none".into(), fmt_mac);
    let vrid = match l.address.as_deref().and_then(vrid_of_mac) {
        Some((fam, vrid)) => format!("{vrid} ({fam})"),
        None => "- (not a VRRP MAC)".into(),
    };
    let mode = l
        .macvlan_mode()
        .map_or("unknown".into(), macvlan_mode::describe);
    format!(
        "{}: lower {lower}, mac {mac}, mode {mode}, vrid {vrid}, state {}, driver {}, {VRRP_ADVERTS_TO_LOWER} {}",
        l.name,
        if l.is_up() { "UP" } else { "DOWN" },
        driver.unwrap_or("unknown"),
        counter.map_or("-".into(), |c| c.to_string())
    )
}

async fn show(nl: &Nl, a: ShowArgs) -> Result<()> {
    let links = match &a.name {
        Some(name) => vec![macvlan(nl, name).await?],
        None => {
            let all = nl
                .link_dump()
                .await
                .map_err(|e: NlError| format!("listing devices: {e}"))?;
            all.into_iter()
                .filter(|l| l.kind.as_deref() == Some("macvlan"))
                .collect()
        }
    };
    if links.is_empty() {
        eprintln!("no macvlan devices in this network namespace");
        return Ok(());
    }
    for l in &links {
        let lower = lower_name(nl, l).await;
        let driver = driver_of(&l.name);
        let counter = ethtool::stat_here(&l.name, VRRP_ADVERTS_TO_LOWER)
            .ok()
            .flatten();
        println!("{}", show_line(l, &lower, driver.as_deref(), counter));
    }
    Ok(())
}

async fn delete(nl: &Nl, a: DeleteArgs) -> Result<()> {
    let l = macvlan(nl, &a.name).await?;
    let op = Op::Delete { name: &a.name };
    nl.link_del(l.index)
        .await
        .map_err(|e| explain(&op, &e, Drivers::probe()))?;
    println!("deleted {}", a.name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mvv_netlink::rtnetlink::packet_route::link::{LinkAttribute, LinkFlags};

    fn link(mac: [u8; 6], mode: u32, up: bool) -> Link {
        let mut m = with_address(
            macvlan_msg("eth0v10", 2, &[RawNla::macvlan_mode(mode)]),
            &mac,
        );
        if up {
            m.header.flags = LinkFlags::Up;
        }
        Link::from_msg(m)
    }

    #[test]
    fn show_line_for_a_vrrp_device() {
        let l = link([0, 0, 0x5e, 0, 1, 10], 32, true);
        assert_eq!(
            show_line(&l, "eth0", Some("macvlan_vrrp"), Some(20)),
            "eth0v10: lower eth0, mac 00:00:5e:00:01:0a, mode vrrp (32), vrid 10 (ipv4), \
             state UP, driver macvlan_vrrp, vrrp_adverts_to_lower 20"
        );
    }

    #[test]
    fn show_line_for_other_devices() {
        let l = link([2, 0, 0, 0, 0, 1], 1, false);
        let s = show_line(&l, "eth0", Some("macvlan"), None);
        assert!(s.contains("mode private (1)"), "{s}");
        assert!(s.contains("vrid - (not a VRRP MAC)"), "{s}");
        assert!(s.contains("state DOWN"), "{s}");
        assert!(s.ends_with("vrrp_adverts_to_lower -"), "{s}");
        let l = link([0, 0, 0x5e, 0, 2, 255], 4, true);
        let s = show_line(&l, "eth1", None, Some(0));
        assert!(
            s.contains("vrid 255 (ipv6)") && s.contains("mode bridge (4)"),
            "{s}"
        );
        assert!(s.contains("driver unknown"), "{s}");
    }

    #[test]
    fn netnsid_is_read() {
        let mut l = link([0, 0, 0x5e, 0, 1, 10], 32, true);
        assert_eq!(l.link_netnsid(), None);
        l.raw.attributes.push(LinkAttribute::LinkNetNsId(3));
        assert_eq!(l.link_netnsid(), Some(3));
    }

    #[test]
    fn warning_names_the_alternatives() {
        let w = vrrp_mode_warning("eth0v10", "eth0");
        assert!(w.contains("vmac_vrrp_mode"));
        assert!(!w.contains("vmac_xmit_base"));
        assert!(w.contains("FRR vrrpd"));
        assert!(w.contains("split brain"));
        assert!(w.contains("lower device eth0"));
    }
}
