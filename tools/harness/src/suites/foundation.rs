//! The foundation suite: our driver answers for kind "macvlan", private mode
//! passes traffic (ARP included), invalid modes are refused with an extack
//! message, the lower device's rx_handler is held exactly while a macvlan
//! exists, and rmmod deletes the devices.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::addr::{fmt_mac, state_name};
use crate::ethtool;
use crate::kmod::{self, C_DRIVER, OURS};
use crate::link::{bridge_msg, macvlan_mode, macvlan_msg, netns_msg, veth_msg, RawNla};
use crate::netns::Netns;
use crate::nl::{errno_name, Nl, NlError, NlTask};
use crate::ping;
use crate::suites::common::{module_file_ok, names_gone};
use crate::tap::{Outcome, Tap};

pub const NS_A: &str = "mvv-a";
pub const NS_B: &str = "mvv-b";
const VETH_A: &str = "veth0";
const VETH_B: &str = "veth1";
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 1);
const IP_MV0: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 2);
const PREFIX: u8 = 24;
const DRIVER: &str = "macvlan_vrrp";

/// Every TAP line of this suite, in order (the plan is printed up front).
pub const TESTS: &[&str] = &[
    "module_loaded",
    "setup",
    "private_create",
    "driver_is_ours",
    "getlink_mode",
    "private_ping",
    "invalid_mode_rejected",
    "rx_handler_busy_while_attached",
    "dellink_clean",
    "rmmod_deletes_devices",
    "teardown",
];

/// The namespaces, their netlink sockets and what the tests learned.
struct Env {
    a: Netns,
    b: Netns,
    na: Nl,
    nb: Nl,
    tasks: Vec<NlTask>,
    veth0: u32,
    veth1: u32,
    module: PathBuf,
    module_ok: bool,
    /// mv0's ifindex while it exists.
    mv0: Option<u32>,
    /// mv0 was checked to be driven by macvlan_vrrp.
    mv0_ours: bool,
    br0: Option<u32>,
}

pub async fn run<W: Write>(tap: &mut Tap<W>, module: &Path) {
    let module_ok = module_file_ok(tap, module);

    tap.report("module_loaded", &module_loaded());

    let env = match setup(module, module_ok).await {
        Ok(env) => {
            tap.diag(&format!(
                "{NS_A}: {VETH_A} ifindex {}; {NS_B}: {VETH_B} ifindex {} with {IP_B}/{PREFIX}",
                env.veth0, env.veth1
            ));
            tap.pass("setup");
            Some(env)
        }
        Err(e) => {
            tap.fail("setup", format!("{e:#}"));
            tap.setup_error("foundation setup failed");
            None
        }
    };

    match env {
        Some(mut env) => {
            let o = env.private_create(tap).await;
            tap.report("private_create", &o);
            let o = env.driver_is_ours(tap).await;
            tap.report("driver_is_ours", &o);
            let o = env.getlink_mode(tap).await;
            tap.report("getlink_mode", &o);
            let o = env.private_ping(tap).await;
            tap.report("private_ping", &o);
            let o = env.invalid_mode_rejected(tap).await;
            tap.report("invalid_mode_rejected", &o);
            let o = env.rx_handler_busy(tap).await;
            tap.report("rx_handler_busy_while_attached", &o);
            let o = env.dellink_clean(tap).await;
            tap.report("dellink_clean", &o);
            let o = env.rmmod_deletes_devices(tap).await;
            tap.report("rmmod_deletes_devices", &o);
            let o = env.teardown().await;
            tap.report("teardown", &o);
        }
        None => {
            for name in &TESTS[2..TESTS.len() - 1] {
                tap.skip(name, "setup failed");
            }
            // The Netns guards inside setup() already ran; check their work.
            tap.report("teardown", &names_gone(&[NS_A, NS_B]));
        }
    }
}

fn module_loaded() -> Outcome {
    let ours = kmod::is_loaded(OURS);
    let c = kmod::is_loaded(C_DRIVER);
    let mut f = Vec::new();
    if !ours {
        f.push(format!("/sys/module/{OURS} absent (expected present)"));
    }
    if c {
        f.push(format!(
            "/sys/module/{C_DRIVER} present (expected absent: the C driver is loaded)"
        ));
    }
    Outcome::from_failures(&f)
}

async fn setup(module: &Path, module_ok: bool) -> Result<Env> {
    let a = Netns::create(NS_A)?;
    let b = Netns::create(NS_B)?;
    let (na, ta) = a.connect()?;
    let (nb, tb) = b.connect()?;

    for (nl, ns) in [(&na, NS_A), (&nb, NS_B)] {
        let lo = nl
            .link_required("lo")
            .await
            .with_context(|| format!("lo in {ns}"))?;
        nl.link_up(lo.index)
            .await
            .with_context(|| format!("setting lo up in {ns}"))?;
    }

    na.link_add(veth_msg(VETH_A, VETH_B))
        .await
        .context("creating veth pair veth0/veth1")?;
    let peer = na.link_required(VETH_B).await.context("veth1 in mvv-a")?;
    na.link_set(netns_msg(peer.index, b.fd()))
        .await
        .context("moving veth1 to mvv-b")?;
    if na.link_by_name(VETH_B).await?.is_some() {
        bail!("veth1 still in {NS_A} after IFLA_NET_NS_FD");
    }
    let veth1 = nb
        .link_required(VETH_B)
        .await
        .context("veth1 in mvv-b")?
        .index;
    let veth0 = na
        .link_required(VETH_A)
        .await
        .context("veth0 in mvv-a")?
        .index;

    na.link_up(veth0).await.context("veth0 up")?;
    nb.link_up(veth1).await.context("veth1 up")?;
    nb.addr4_add(veth1, IP_B, PREFIX)
        .await
        .context("adding 10.11.0.1/24 to veth1")?;

    // Read back what the tests rely on.
    let v1 = nb.link_required(VETH_B).await?;
    if !v1.is_up() {
        bail!("veth1 is not up after RTM_SETLINK IFF_UP");
    }
    let addrs = nb.addr4_dump(Some(veth1)).await?;
    if !addrs.iter().any(|x| x.addr == IpAddr::V4(IP_B)) {
        bail!("10.11.0.1 not on veth1 after RTM_NEWADDR (found {addrs:?})");
    }
    if !na.link_required(VETH_A).await?.is_up() {
        bail!("veth0 is not up after RTM_SETLINK IFF_UP");
    }

    Ok(Env {
        a,
        b,
        na,
        nb,
        tasks: vec![ta, tb],
        veth0,
        veth1,
        module: module.to_path_buf(),
        module_ok,
        mv0: None,
        mv0_ours: false,
        br0: None,
    })
}

fn private() -> Vec<RawNla> {
    vec![RawNla::macvlan_mode(macvlan_mode::PRIVATE)]
}

impl Env {
    /// The Skip outcome for tests that need a live mv0 of our driver.
    fn need_mv0(&self) -> Result<u32, Outcome> {
        match self.mv0 {
            None => Err(Outcome::Skip("mv0 was not created".into())),
            Some(_) if !self.mv0_ours => Err(Outcome::Skip(format!(
                "mv0 is not a {DRIVER} device (see driver_is_ours)"
            ))),
            Some(i) => Ok(i),
        }
    }

    async fn ensure_br0(&mut self) -> Result<u32, String> {
        if let Some(i) = self.br0 {
            return Ok(i);
        }
        let found = self
            .na
            .link_by_name("br0")
            .await
            .map_err(|e| format!("RTM_GETLINK br0: {e}"))?;
        let l = match found {
            Some(l) => l,
            None => {
                self.na
                    .link_add(bridge_msg("br0"))
                    .await
                    .map_err(|e| format!("creating bridge br0 in {NS_A}: {e}"))?;
                self.na
                    .link_required("br0")
                    .await
                    .map_err(|e| format!("br0 after creation: {e}"))?
            }
        };
        if l.kind.as_deref() != Some("bridge") {
            return Err(format!("br0 has kind {:?}, expected \"bridge\"", l.kind));
        }
        self.br0 = Some(l.index);
        Ok(l.index)
    }

    /// veth0's IFLA_MASTER as read back.
    async fn veth0_master(&self) -> Result<Option<u32>, String> {
        match self.na.link_by_index(self.veth0).await {
            Ok(Some(l)) => Ok(l.master),
            Ok(None) => Err("veth0 disappeared".into()),
            Err(e) => Err(format!("RTM_GETLINK veth0: {e}")),
        }
    }

    /// Enslave veth0 to br0, check it took, release it, check that took.
    /// Failures are appended to `f`.
    async fn master_round_trip(&mut self, f: &mut Vec<String>, when: &str) {
        let br0 = match self.ensure_br0().await {
            Ok(i) => i,
            Err(e) => {
                f.push(e);
                return;
            }
        };
        if let Err(e) = self.na.set_master(self.veth0, br0).await {
            f.push(format!(
                "setting veth0 master br0 {when}: {e} (expected success; rx_handler still registered?)"
            ));
            return;
        }
        match self.veth0_master().await {
            Ok(Some(m)) if m == br0 => {}
            Ok(m) => f.push(format!(
                "veth0 IFLA_MASTER after enslaving: expected {br0}, got {m:?}"
            )),
            Err(e) => f.push(e),
        }
        if let Err(e) = self.na.set_master(self.veth0, 0).await {
            f.push(format!("releasing veth0 from br0 (IFLA_MASTER 0): {e}"));
            return;
        }
        match self.veth0_master().await {
            Ok(None) => {}
            Ok(m) => f.push(format!(
                "veth0 IFLA_MASTER after release: expected none, got {m:?}"
            )),
            Err(e) => f.push(e),
        }
    }

    async fn private_create<W: Write>(&mut self, tap: &mut Tap<W>) -> Outcome {
        if let Err(e) = self
            .na
            .link_add(macvlan_msg("mv0", self.veth0, &private()))
            .await
        {
            return Outcome::Fail(format!(
                "RTM_NEWLINK mv0 (kind macvlan, link veth0, mode private): {e}"
            ));
        }
        match self.na.link_by_name("mv0").await {
            Ok(Some(l)) => {
                self.mv0 = Some(l.index);
                tap.diag(&format!(
                    "mv0 ifindex {}; /sys/module/{C_DRIVER} {}",
                    l.index,
                    kmod::presence(C_DRIVER)
                ));
                Outcome::Pass
            }
            Ok(None) => {
                Outcome::Fail("RTM_NEWLINK was acked but RTM_GETLINK mv0 gives ENODEV".into())
            }
            Err(e) => Outcome::Fail(format!("RTM_GETLINK mv0 after creation: {e}")),
        }
    }

    async fn driver_is_ours<W: Write>(&mut self, tap: &mut Tap<W>) -> Outcome {
        if self.mv0.is_none() {
            return Outcome::Skip("mv0 was not created".into());
        }
        match ethtool::drvinfo(&self.a, "mv0") {
            Ok(info) if info.driver == DRIVER => {
                tap.diag(&format!(
                    "mv0 drvinfo: driver {:?} version {:?} bus {:?}",
                    info.driver, info.version, info.bus_info
                ));
                self.mv0_ours = true;
                Outcome::Pass
            }
            Ok(info) => Outcome::Fail(format!(
                "ethtool driver of mv0: expected {DRIVER:?}, got {:?} (/sys/module/{C_DRIVER} {})",
                info.driver,
                kmod::presence(C_DRIVER)
            )),
            Err(e) => Outcome::Fail(format!("{e:#}")),
        }
    }

    async fn getlink_mode<W: Write>(&mut self, tap: &mut Tap<W>) -> Outcome {
        if let Err(o) = self.need_mv0() {
            return o;
        }
        let l = match self.na.link_by_name("mv0").await {
            Ok(Some(l)) => l,
            Ok(None) => return Outcome::Fail("RTM_GETLINK mv0: ENODEV".into()),
            Err(e) => return Outcome::Fail(format!("RTM_GETLINK mv0: {e}")),
        };
        tap.diag(&format!(
            "mv0: kind {:?}, IFLA_MACVLAN_MODE {:?}, IFLA_LINK {:?}",
            l.kind,
            l.macvlan_mode(),
            l.link
        ));
        let mut f = Vec::new();
        if l.kind.as_deref() != Some("macvlan") {
            f.push(format!(
                "IFLA_INFO_KIND: expected \"macvlan\", got {:?}",
                l.kind
            ));
        }
        if l.macvlan_mode() != Some(macvlan_mode::PRIVATE) {
            f.push(format!(
                "IFLA_MACVLAN_MODE: expected Some(1), got {:?}",
                l.macvlan_mode()
            ));
        }
        if l.link != Some(self.veth0) {
            f.push(format!(
                "IFLA_LINK: expected Some({}) (veth0), got {:?}",
                self.veth0, l.link
            ));
        }
        Outcome::from_failures(&f)
    }

    async fn private_ping<W: Write>(&mut self, tap: &mut Tap<W>) -> Outcome {
        let mv0 = match self.need_mv0() {
            Ok(i) => i,
            Err(o) => return o,
        };
        if let Err(e) = self.na.addr4_add(mv0, IP_MV0, PREFIX).await {
            return Outcome::Fail(format!("adding {IP_MV0}/{PREFIX} to mv0: {e}"));
        }
        if let Err(e) = self.na.link_up(mv0).await {
            return Outcome::Fail(format!("setting mv0 up: {e}"));
        }
        match self.na.link_by_index(mv0).await {
            Ok(Some(l)) if l.is_up() => {}
            Ok(Some(_)) => return Outcome::Fail("mv0 not IFF_UP after RTM_SETLINK".into()),
            Ok(None) => return Outcome::Fail("mv0 vanished".into()),
            Err(e) => return Outcome::Fail(format!("RTM_GETLINK mv0: {e}")),
        }

        let mut f = Vec::new();
        let p = ping::ping(&self.b, IP_MV0, 3);
        if let Some(s) = p.summary_line() {
            tap.diag(&format!("ping {IP_MV0} from {NS_B}: {s}"));
        }
        if p.replies() == 0 {
            tap.diag(&format!("ping output:\n{}", p.run.output.trim_end()));
            f.push(format!("ping {IP_MV0} from ns b: {}", p.ratio()));
        }

        // ARP: mv0 must have learned veth1's MAC through broadcast delivery.
        let veth1_mac = match self.nb.link_by_index(self.veth1).await {
            Ok(Some(l)) => l.address,
            _ => None,
        };
        match self.na.neigh4_dump(Some(mv0)).await {
            Err(e) => f.push(format!("RTM_GETNEIGH in {NS_A}: {e}")),
            Ok(ns) => {
                for n in &ns {
                    tap.diag(&format!(
                        "mv0 neighbour {:?} lladdr {} {}",
                        n.dst,
                        n.lladdr.as_deref().map(fmt_mac).unwrap_or_default(),
                        state_name(&n.state)
                    ));
                }
                match ns.iter().find(|n| n.dst == Some(IpAddr::V4(IP_B))) {
                    None => f.push(format!(
                        "no neighbour entry for {IP_B} on mv0 ({} entries on mv0)",
                        ns.len()
                    )),
                    Some(n) if !n.is_resolved() => f.push(format!(
                        "neighbour {IP_B} on mv0: state {}, expected REACHABLE/STALE/DELAY/PROBE",
                        state_name(&n.state)
                    )),
                    Some(n) => {
                        if let (Some(got), Some(want)) = (&n.lladdr, &veth1_mac) {
                            if got != want {
                                f.push(format!(
                                    "neighbour {IP_B} on mv0: lladdr {}, expected veth1's {}",
                                    fmt_mac(got),
                                    fmt_mac(want)
                                ));
                            }
                        }
                    }
                }
            }
        }

        match self.na.addr4_dump(Some(self.veth0)).await {
            Err(e) => f.push(format!("RTM_GETADDR in {NS_A}: {e}")),
            Ok(v) if !v.is_empty() => f.push(format!(
                "veth0 has IPv4 addresses {:?}, expected none",
                v.iter().map(|x| x.addr).collect::<Vec<_>>()
            )),
            Ok(_) => {}
        }
        Outcome::from_failures(&f)
    }

    async fn invalid_mode_rejected<W: Write>(&mut self, tap: &mut Tap<W>) -> Outcome {
        if !kmod::is_loaded(OURS) || kmod::is_loaded(C_DRIVER) {
            return Outcome::Skip(format!(
                "needs {OURS} loaded and {C_DRIVER} absent ({OURS} {}, {C_DRIVER} {})",
                kmod::presence(OURS),
                kmod::presence(C_DRIVER)
            ));
        }
        let mut f = Vec::new();
        let r = self
            .na
            .link_add(macvlan_msg("mvbad", self.veth0, &[RawNla::macvlan_mode(3)]))
            .await;
        match r {
            Ok(()) => {
                f.push("RTM_NEWLINK with IFLA_MACVLAN_MODE 3 succeeded, expected EINVAL".into())
            }
            Err(NlError::Kernel { errno, ext }) => {
                tap.diag(&format!(
                    "mode 3 rejected with {}; extack: {:?}",
                    errno_name(errno),
                    ext.msg
                ));
                if errno != libc::EINVAL {
                    f.push(format!("expected EINVAL, got {}", errno_name(errno)));
                }
                match ext.msg.as_deref() {
                    Some(m) if !m.trim().is_empty() => {}
                    Some(_) => f.push("NLMSGERR_ATTR_MSG is empty".into()),
                    None => f.push("no NLMSGERR_ATTR_MSG in the extended ack".into()),
                }
            }
            Err(e) => f.push(format!("RTM_NEWLINK mvbad: {e}")),
        }
        match self.na.link_by_name("mvbad").await {
            Ok(None) => {}
            Ok(Some(l)) => {
                let drv = ethtool::drvinfo(&self.a, "mvbad")
                    .map(|i| i.driver)
                    .unwrap_or_else(|e| format!("{e:#}"));
                f.push(format!(
                    "mvbad exists afterwards (ifindex {}, driver {drv})",
                    l.index
                ));
                if let Err(e) = self.na.link_del(l.index).await {
                    tap.diag(&format!("deleting mvbad: {e}"));
                }
            }
            Err(e) => f.push(format!("RTM_GETLINK mvbad: {e}")),
        }
        if kmod::is_loaded(C_DRIVER) {
            f.push(format!("/sys/module/{C_DRIVER} appeared"));
        }
        Outcome::from_failures(&f)
    }

    async fn rx_handler_busy<W: Write>(&mut self, tap: &mut Tap<W>) -> Outcome {
        if let Err(o) = self.need_mv0() {
            return o;
        }
        let br0 = match self.ensure_br0().await {
            Ok(i) => i,
            Err(e) => return Outcome::Fail(e),
        };
        let mut f = Vec::new();
        match self.na.set_master(self.veth0, br0).await {
            Err(e) if e.errno() == Some(libc::EBUSY) => {
                tap.diag(&format!("veth0 master br0 while mv0 exists: {e}"));
            }
            Err(e) => f.push(format!(
                "setting veth0 master br0 while mv0 exists: expected EBUSY, got {e}"
            )),
            Ok(()) => {
                f.push(
                    "setting veth0 master br0 succeeded while mv0 exists, expected EBUSY".into(),
                );
                if let Err(e) = self.na.set_master(self.veth0, 0).await {
                    f.push(format!("releasing veth0: {e}"));
                }
            }
        }
        match self.veth0_master().await {
            Ok(None) => {}
            Ok(Some(m)) => f.push(format!("veth0 IFLA_MASTER is {m}, expected none")),
            Err(e) => f.push(e),
        }
        Outcome::from_failures(&f)
    }

    async fn dellink_clean<W: Write>(&mut self, tap: &mut Tap<W>) -> Outcome {
        let Some(mv0) = self.mv0 else {
            return Outcome::Skip("mv0 was not created".into());
        };
        if !self.mv0_ours {
            // Not ours: remove it so later tests start clean, but this says
            // nothing about our driver.
            if let Err(e) = self.na.link_del(mv0).await {
                tap.diag(&format!("deleting foreign mv0: {e}"));
            }
            self.mv0 = None;
            return Outcome::Skip(format!("mv0 is not a {DRIVER} device (see driver_is_ours)"));
        }
        if let Err(e) = self.na.link_del(mv0).await {
            return Outcome::Fail(format!("RTM_DELLINK mv0: {e}"));
        }
        self.mv0 = None;
        let mut f = Vec::new();
        match self.na.link_by_name("mv0").await {
            Ok(None) => {}
            Ok(Some(l)) => f.push(format!(
                "mv0 still exists after RTM_DELLINK (ifindex {})",
                l.index
            )),
            Err(e) => f.push(format!("RTM_GETLINK mv0: {e}")),
        }
        self.master_round_trip(&mut f, "after deleting mv0").await;
        Outcome::from_failures(&f)
    }

    async fn rmmod_deletes_devices<W: Write>(&mut self, tap: &mut Tap<W>) -> Outcome {
        if !self.module_ok {
            return Outcome::Skip(format!(
                "module file {} not found; would not be able to re-insert",
                self.module.display()
            ));
        }
        if !kmod::is_loaded(OURS) {
            return Outcome::Skip(format!("{OURS} is not loaded"));
        }
        if let Err(e) = self.ensure_br0().await {
            return Outcome::Fail(e);
        }
        if let Err(e) = self
            .na
            .link_add(macvlan_msg("mv1", self.veth0, &private()))
            .await
        {
            return Outcome::Fail(format!("RTM_NEWLINK mv1 (private, link veth0): {e}"));
        }
        let mv1 = match self.na.link_required("mv1").await {
            Ok(l) => l.index,
            Err(e) => return Outcome::Fail(format!("RTM_GETLINK mv1 after creation: {e}")),
        };
        if let Err(e) = self.na.link_up(mv1).await {
            let _ = self.na.link_del(mv1).await;
            return Outcome::Fail(format!("setting mv1 up: {e}"));
        }
        match ethtool::drvinfo(&self.a, "mv1") {
            Ok(i) if i.driver == DRIVER => {}
            other => {
                let got = other.map(|i| i.driver).unwrap_or_else(|e| format!("{e:#}"));
                let _ = self.na.link_del(mv1).await;
                return Outcome::Fail(format!("mv1 driver: expected {DRIVER:?}, got {got:?}"));
            }
        }
        tap.diag(&format!(
            "mv1 ifindex {mv1} ({DRIVER}, up); running rmmod {OURS}"
        ));

        let r = kmod::rmmod(OURS);
        if !r.success {
            let _ = self.na.link_del(mv1).await;
            return Outcome::Fail(format!("rmmod {OURS}: {}", r.summary()));
        }
        let mut f = Vec::new();
        match self.na.link_by_name("mv1").await {
            Ok(None) => {}
            Ok(Some(l)) => f.push(format!(
                "mv1 still exists after rmmod (ifindex {})",
                l.index
            )),
            Err(e) => f.push(format!("RTM_GETLINK mv1 after rmmod: {e}")),
        }
        if let Some(mv0) = self.mv0.take() {
            // dellink_clean did not remove it; rmmod must have.
            if let Ok(Some(_)) = self.na.link_by_index(mv0).await {
                f.push("mv0 still exists after rmmod".into());
            }
        }
        self.master_round_trip(&mut f, "after rmmod").await;
        if kmod::is_loaded(OURS) {
            f.push(format!("/sys/module/{OURS} still present after rmmod"));
        }

        let r = kmod::insmod(&self.module);
        if !r.success {
            f.push(format!("insmod {}: {}", self.module.display(), r.summary()));
        } else {
            tap.diag(&format!(
                "re-inserted {}; initstate {:?}",
                self.module.display(),
                kmod::initstate(OURS)
            ));
        }
        if !kmod::is_loaded(OURS) {
            f.push(format!("/sys/module/{OURS} absent after insmod"));
        }
        if kmod::is_loaded(C_DRIVER) {
            f.push(format!("/sys/module/{C_DRIVER} present (expected absent)"));
        }
        Outcome::from_failures(&f)
    }

    async fn teardown(self) -> Outcome {
        let Env {
            a,
            b,
            na,
            nb,
            tasks,
            ..
        } = self;
        // Close the sockets first: each holds a reference on its netns.
        drop((na, nb));
        drop(tasks);
        tokio::task::yield_now().await;
        let mut f = Vec::new();
        for ns in [a, b] {
            let name = ns.name().to_string();
            if let Err(e) = ns.delete() {
                f.push(format!("deleting {name}: {e:#}"));
            }
        }
        if let Outcome::Fail(m) = names_gone(&[NS_A, NS_B]) {
            f.push(m);
        }
        Outcome::from_failures(&f)
    }
}
