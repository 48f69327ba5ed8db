//! The vrrp suite: the 2014 VyOS scenario in network namespaces.
//!
//! ```text
//!            gw eth0 10.0.0.1/24
//!                 |
//!   sw:  br0 (outside switch: sw-gw, sw-r1, sw-r2)
//!           |                        |
//!   r1 eth0 192.168.0.253/24    r2 eth0 192.168.0.252/24
//!      eth0v10 VRRP 00:00:5e:00:01:0a, 10.0.0.2/24 (master)    eth0v10 VRRP, no VIP (backup)
//!      eth0v10v6 VRRP 00:00:5e:00:02:0a                         eth0v10v6 VRRP
//!      eth1 192.168.1.253/24                                    eth1 192.168.1.252/24
//!      eth1v20 VRRP 00:00:5e:00:01:14, 192.168.1.254/24         eth1v20 VRRP, no VIP
//!           |                        |
//!   sw:  br1 (inside switch: swi-r1, swi-r2, swi-lan)
//!                 |
//!            lan eth0 192.168.1.10/24
//! ```
//!
//! Where a frame landed is counted by the receiving device: an AF_PACKET
//! socket for one ethertype (not ETH_P_ALL), unbound, reading sll_ifindex.
//! What r1 puts on the wire is counted by an ETH_P_ALL tap on its switch
//! port sw-r1 (taps run before the bridge's rx_handler). Every check
//! verifies that the macvlans it uses belong to the expected driver
//! (ethtool driver name).
//!
//! The driver under test is ours, or with `--driver c-patched` the
//! upstream series' patched C `macvlan.ko` ([`Subject`]); the checks of the
//! stock C driver (`c_driver_*`) swap to the stock module either way. Each
//! check records what it observed in a [`Transcript`]: compared
//! observations (where frames landed, counters, neighbour entries, errnos)
//! and driver-specific ones (driver name, `vrrp_adverts_to_lower`, which
//! modules are loaded), so that [`diff`] can compare the two drivers' runs
//! check by check.
//!
//! IPv6 is disabled in every namespace, so that no DAD, MLD or router
//! solicitation adds noise, and a backup's upper device never transmits from
//! the shared virtual MAC (which would move the switch's FDB entry).

use std::io::{ErrorKind, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::addr::Neigh;
use crate::capture::{wait_until, PacketCounter, PacketSender, RawIpCounter};
use crate::ethtool::{self, VRRP_ADVERTS_TO_LOWER};
use crate::frames::{self, ETH_P_ALL, ETH_P_IP, ETH_P_IPV6, IPPROTO_VRRP, VRRP_GROUP_V4};
use crate::kmod::{self, C_DRIVER, OURS};
use crate::link::{
    bridge_nosnoop_msg, macvlan_change_msg, macvlan_mode, macvlan_msg, with_address, Link, RawNla,
};
use crate::netns::Netns;
use crate::nft;
use crate::nl::{errno_name, Nl, NlError, NlTask};
use crate::ping;
use crate::suites::common::{
    add_switch_port, create_connected, err, expect_driver, index, link, module_file_ok, names_gone,
};
use crate::suites::transcript::{compare, Transcript};
use crate::tap::{Outcome, Tap};
use crate::vrrp::{fmt_mac, virtual_mac, Family, Vrid};

const NS_GW: &str = "gw";
const NS_SW: &str = "sw";
const NS_R1: &str = "r1";
const NS_R2: &str = "r2";
const NS_LAN: &str = "lan";
const ALL_NS: [&str; 5] = [NS_GW, NS_SW, NS_R1, NS_R2, NS_LAN];

const GW_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const SNAT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 99);
const V11_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
const R1_ETH0: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 253);
const R2_ETH0: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 252);
const R1_ETH1: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 253);
const R2_ETH1: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 252);
const VIP_IN: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 254);
const LAN_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const P24: u8 = 24;

const V10: &str = "eth0v10";
const V10_6: &str = "eth0v10v6";
const V11: &str = "eth0v11";
const V20: &str = "eth1v20";

/// Adverts per measurement.
const N: u32 = 20;
const PRIORITY: u8 = 200;
const DNAT_PORT: u16 = 5000;
const DNAT_TO: u16 = 5001;
const SNAT_PORT: u16 = 6000;
const UNICAST_PORT: u16 = 7000;

/// Every TAP line of this suite, in order (the plan is printed up front).
pub const TESTS: &[&str] = &[
    "module_loaded",
    "setup",
    "uppers_ours_mode_vrrp",
    "r1_ping_gw_via_vip",
    "arp_resolved_on_vip",
    "nft_iifname_oifname_eth0v10",
    "nft_dnat_iifname_eth0v10",
    "nft_snat_oifname_eth0v10",
    "v4_adverts_stay_on_lower",
    "v4_adverts_raw_socket_on_lower",
    "v6_adverts_stay_on_lower",
    "bridge_mode_adverts_on_lower",
    "private_mode_swallows_adverts",
    "c_driver_private_swallows_adverts",
    "c_driver_rejects_mode_vrrp",
    "c_driver_bridge_adverts_on_lower",
    "reload_ours",
    "bridge_vs_vrrp_local_multicast",
    "bridge_vs_vrrp_local_unicast",
    "failover_vip_to_r2",
    "failover_arp_on_r2_upper",
    "inside_lan_arp_vip",
    "inside_r1_reaches_lan",
    "teardown",
];

/// The checks of `vrrp-diff`: the transcripts' headers, then one per
/// check of [`TESTS`] (`identical_<check>`).
pub const DIFF_TESTS: usize = 1 + TESTS.len();

/// `mvv-harness vrrp-diff`: the patched C driver's transcript against
/// ours, check by check. Compared observations must be identical, outcomes
/// included; driver-specific ones are printed beside them.
pub fn diff<W: Write>(tap: &mut Tap<W>, c: &Path, rust: &Path) {
    let (a, b) = match (Transcript::read(c), Transcript::read(rust)) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            let why: Vec<String> = [a.err(), b.err()].into_iter().flatten().collect();
            tap.fail("transcripts_from_one_boot", why.join("; "));
            for t in TESTS {
                tap.fail(&format!("identical_{t}"), "no transcript to compare");
            }
            return;
        }
    };
    let patched = Subject::CPatched(PathBuf::new()).describe();
    let mut f = Vec::new();
    if a.suite != "vrrp" || b.suite != "vrrp" {
        f.push(format!(
            "suites {:?} and {:?}, expected vrrp",
            a.suite, b.suite
        ));
    }
    if a.driver != patched {
        f.push(format!(
            "the first transcript is of {:?}, expected {patched:?}",
            a.driver
        ));
    }
    if b.driver != OURS {
        f.push(format!(
            "the second transcript is of {:?}, expected {OURS:?}",
            b.driver
        ));
    }
    if a.boot.is_empty() || a.boot != b.boot {
        f.push(format!("boots {:?} and {:?}, expected one", a.boot, b.boot));
    }
    tap.diag(&format!(
        "differential transcript of the vrrp suite, boot {}: C = {}, Rust = {}",
        a.boot, a.driver, b.driver
    ));
    tap.report("transcripts_from_one_boot", &Outcome::from_failures(&f));
    let show = |o: Vec<(&str, &str)>| {
        o.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    for d in compare(&a, &b, TESTS) {
        let same = show(a.of(&d.check, false));
        if d.differences.is_empty() {
            tap.diag(&format!("{}: {same}", d.check));
        } else {
            tap.diag(&format!("{}: the drivers differ:", d.check));
            for l in d.differences.iter().take(8) {
                tap.diag(&format!("  {l}  (C | Rust)"));
            }
        }
        let (sa, sb) = (a.of(&d.check, true), b.of(&d.check, true));
        if !sa.is_empty() || !sb.is_empty() {
            tap.diag(&format!(
                "  driver-specific, not compared: C: {} | Rust: {}",
                if sa.is_empty() { "-".into() } else { show(sa) },
                if sb.is_empty() { "-".into() } else { show(sb) }
            ));
        }
        tap.report(
            &format!("identical_{}", d.check),
            &Outcome::from_failures(&d.differences),
        );
    }
}

fn vmac(family: Family, vrid: u32) -> [u8; 6] {
    virtual_mac(family, Vrid::new(vrid).expect("constant VRID in range"))
}

fn done(r: Result<Outcome, String>) -> Outcome {
    r.unwrap_or_else(Outcome::Fail)
}

/// The two routers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum R {
    R1,
    R2,
}

/// The driver under test: ours, or the upstream series' patched C
/// `macvlan.ko` (`--driver c-patched`), which must be loaded when the
/// suite starts and is left loaded. The stock C driver's checks
/// (`c_driver_*`) run against the stock C `macvlan.ko` either way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    Ours,
    /// The patched C module's file, re-inserted after the stock C checks.
    CPatched(PathBuf),
}

impl Subject {
    /// The ethtool driver name and /sys/module name of its devices.
    pub fn driver(&self) -> &'static str {
        match self {
            Subject::Ours => OURS,
            Subject::CPatched(_) => C_DRIVER,
        }
    }

    /// How transcripts and messages name it.
    pub fn describe(&self) -> &'static str {
        match self {
            Subject::Ours => OURS,
            Subject::CPatched(_) => "macvlan (the upstream series' patched C driver)",
        }
    }

    /// Failures unless the subject is loaded and nothing else owns kind
    /// macvlan. The patched C module is told from the stock one by its
    /// out-of-tree taint (it is built as an external module).
    pub fn loaded_alone(&self) -> Vec<String> {
        let mut f = Vec::new();
        match self {
            Subject::Ours => {
                if !kmod::is_loaded(OURS) {
                    f.push(format!("/sys/module/{OURS} absent (expected present)"));
                }
                if kmod::is_loaded(C_DRIVER) {
                    f.push(format!("/sys/module/{C_DRIVER} present (expected absent)"));
                }
            }
            Subject::CPatched(_) => {
                if kmod::is_loaded(OURS) {
                    f.push(format!("/sys/module/{OURS} present (expected absent)"));
                }
                match kmod::out_of_tree(C_DRIVER) {
                    None => f.push(format!(
                        "/sys/module/{C_DRIVER} absent (expected the patched C module)"
                    )),
                    Some(false) => f.push(format!(
                        "/sys/module/{C_DRIVER} is the stock (in-tree) module, expected the patched one"
                    )),
                    Some(true) => {}
                }
            }
        }
        f
    }

    /// Which modules are loaded, for transcripts.
    fn modules() -> String {
        let c = match kmod::out_of_tree(C_DRIVER) {
            None => "absent",
            Some(true) => "present (out of tree: patched)",
            Some(false) => "present (in tree: stock)",
        };
        format!("{OURS} {}, {C_DRIVER} {c}", kmod::presence(OURS))
    }
}

/// Which driver owns link kind "macvlan" right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drv {
    /// The driver under test (ours or the patched C one).
    Subject,
    /// The stock C driver of the running kernel.
    C,
    /// A module step failed half way.
    Broken,
}

/// Puts the driver under test back (and the stock C driver out) if the
/// suite stops while the stock C driver is loaded.
struct ModGuard {
    subject: Subject,
    module: PathBuf,
    armed: bool,
}

impl ModGuard {
    fn restore(&mut self) -> Vec<String> {
        let mut f = Vec::new();
        let rm = |name: &str, f: &mut Vec<String>| {
            let r = kmod::rmmod(name);
            if !r.success {
                f.push(format!("rmmod {name}: {}", r.summary()));
            }
        };
        let ins = |path: &Path, f: &mut Vec<String>| {
            let r = kmod::insmod(path);
            if !r.success {
                f.push(format!("insmod {}: {}", path.display(), r.summary()));
            }
        };
        match &self.subject {
            Subject::Ours => {
                if kmod::is_loaded(C_DRIVER) {
                    rm(C_DRIVER, &mut f);
                }
                if !kmod::is_loaded(OURS) {
                    ins(&self.module, &mut f);
                }
            }
            Subject::CPatched(patched) => {
                if kmod::is_loaded(OURS) {
                    rm(OURS, &mut f);
                }
                if kmod::out_of_tree(C_DRIVER) == Some(false) {
                    rm(C_DRIVER, &mut f);
                }
                if !kmod::is_loaded(C_DRIVER) {
                    ins(patched, &mut f);
                }
            }
        }
        self.armed = false;
        f
    }
}

impl Drop for ModGuard {
    fn drop(&mut self) {
        if self.armed {
            for e in self.restore() {
                eprintln!("# warning: restoring modules: {e}");
            }
        }
    }
}

/// Where one batch of adverts landed in r2.
#[derive(Debug, Default)]
struct Landing {
    sent: u32,
    lower: u32,
    upper: u32,
    elsewhere: u32,
    raw: Option<u32>,
    counter_before: Option<u64>,
    counter_after: Option<u64>,
}

impl Landing {
    fn counter_delta(&self) -> Option<i64> {
        match (self.counter_before, self.counter_after) {
            (Some(b), Some(a)) => Some(a as i64 - b as i64),
            _ => None,
        }
    }

    fn describe(&self, upper: &str) -> String {
        let mut s = format!(
            "sent {}: r2 eth0 {}, r2 {upper} {}, elsewhere {}",
            self.sent, self.lower, self.upper, self.elsewhere
        );
        if let Some(r) = self.raw {
            s.push_str(&format!(", raw IPPROTO_VRRP socket on eth0 {r}"));
        }
        match self.counter_delta() {
            Some(d) => s.push_str(&format!(", {upper} {VRRP_ADVERTS_TO_LOWER} {d:+}")),
            None => s.push_str(&format!(", {upper} has no {VRRP_ADVERTS_TO_LOWER} counter")),
        }
        s
    }

    /// Records where the adverts landed under `check` (the raw socket's
    /// count under `raw_check`); the steering counter is driver-specific.
    fn record(&self, tr: &mut Transcript, check: &str, raw_check: &str) {
        tr.obs(check, "sent", self.sent);
        tr.obs(check, "r2 eth0 (lower)", self.lower);
        tr.obs(check, "r2 upper", self.upper);
        tr.obs(check, "elsewhere in r2", self.elsewhere);
        if let Some(r) = self.raw {
            tr.obs(raw_check, "raw IPPROTO_VRRP socket on r2 eth0", r);
        }
        tr.specific(
            check,
            VRRP_ADVERTS_TO_LOWER,
            match self.counter_delta() {
                Some(d) => format!("{d:+}"),
                None => "no such counter".into(),
            },
        );
    }

    /// Failures against "lower gets all, upper none" or the reverse.
    fn expect(&self, to_lower: bool, upper: &str, f: &mut Vec<String>) {
        let (want_lower, want_upper) = if to_lower {
            (self.sent, 0)
        } else {
            (0, self.sent)
        };
        if self.lower != want_lower {
            f.push(format!(
                "r2 eth0 received {} adverts, expected {want_lower}",
                self.lower
            ));
        }
        if self.upper != want_upper {
            f.push(format!(
                "r2 {upper} received {} adverts, expected {want_upper}",
                self.upper
            ));
        }
        if self.elsewhere != 0 {
            f.push(format!(
                "{} adverts landed on another r2 device",
                self.elsewhere
            ));
        }
    }
}

/// What one mode did with eth0v11's traffic in r1 (check 7).
#[derive(Debug, Default)]
struct Local {
    on_v10: u32,
    on_lower: u32,
    ip_layer_v10: u32,
    switch_port: u64,
    switch_rx_packets: u64,
}

struct Env {
    gw: Netns,
    sw: Netns,
    r1: Netns,
    r2: Netns,
    lan: Netns,
    ngw: Nl,
    nsw: Nl,
    nr1: Nl,
    nr2: Nl,
    nlan: Nl,
    tasks: Vec<NlTask>,
    drv: Drv,
    tag: u16,
    guard: ModGuard,
    module_ok: bool,
    subject: Subject,
    tr: Transcript,
}

/// Reports a check and records its outcome in the transcript.
fn report<W: Write>(tap: &mut Tap<W>, tr: &mut Transcript, name: &str, o: &Outcome) {
    tr.outcome(name, o);
    tap.report(name, o);
}

/// Runs the suite against `subject`; with `transcript`, writes each
/// check's observations there (see [`crate::suites::transcript`]).
pub async fn run<W: Write>(
    tap: &mut Tap<W>,
    module: &Path,
    subject: Subject,
    transcript: Option<&Path>,
) {
    let mut tr = Transcript::new("vrrp", subject.describe());
    let tr = run_recorded(tap, module, subject, &mut tr).await;
    if let Some(path) = transcript {
        if let Err(e) = tr.write(path) {
            tap.setup_error(&format!("writing the transcript {}: {e}", path.display()));
        }
    }
}

async fn run_recorded<W: Write>(
    tap: &mut Tap<W>,
    module: &Path,
    subject: Subject,
    tr: &mut Transcript,
) -> Transcript {
    let module_ok = match &subject {
        Subject::Ours => module_file_ok(tap, module),
        Subject::CPatched(c) => module_file_ok(tap, c),
    };
    tr.specific("module_loaded", "modules", Subject::modules());
    let f = subject.loaded_alone();
    report(tap, tr, "module_loaded", &Outcome::from_failures(&f));
    tap.diag(&format!("driver under test: {}", subject.describe()));

    let mut env = match setup(module, module_ok, subject, std::mem::take(tr)).await {
        Ok(env) => {
            tap.diag("namespaces gw sw r1 r2 lan; br0/br1 in sw (multicast snooping off); group 10 on eth0, group 20 on eth1");
            env
        }
        Err((e, mut tr)) => {
            report(tap, &mut tr, "setup", &Outcome::Fail(e));
            tap.setup_error("vrrp setup failed");
            for name in &TESTS[2..TESTS.len() - 1] {
                report(tap, &mut tr, name, &Outcome::Skip("setup failed".into()));
            }
            report(tap, &mut tr, "teardown", &names_gone(&ALL_NS));
            return tr;
        }
    };
    env.report(tap, "setup", &Outcome::Pass);

    let o = done(env.uppers_ours(tap).await);
    env.report(tap, "uppers_ours_mode_vrrp", &o);
    let o = done(env.r1_ping_gw(tap).await);
    env.report(tap, "r1_ping_gw_via_vip", &o);
    let o = done(env.arp_resolved(tap).await);
    env.report(tap, "arp_resolved_on_vip", &o);
    let o = done(env.nft_counters(tap).await);
    env.report(tap, "nft_iifname_oifname_eth0v10", &o);
    let o = done(env.nft_dnat(tap).await);
    env.report(tap, "nft_dnat_iifname_eth0v10", &o);
    let o = done(env.nft_snat(tap).await);
    env.report(tap, "nft_snat_oifname_eth0v10", &o);
    let (o1, o2) = env.v4_adverts(tap).await;
    env.report(tap, "v4_adverts_stay_on_lower", &o1);
    env.report(tap, "v4_adverts_raw_socket_on_lower", &o2);
    let o = done(env.v6_adverts(tap).await);
    env.report(tap, "v6_adverts_stay_on_lower", &o);
    for (mode, check) in [
        (macvlan_mode::BRIDGE, "bridge_mode_adverts_on_lower"),
        (macvlan_mode::PRIVATE, "private_mode_swallows_adverts"),
    ] {
        let o = done(env.mode_landing(tap, mode, Drv::Subject, check).await);
        env.report(tap, check, &o);
    }
    let o = done(env.c_driver_private(tap).await);
    env.report(tap, "c_driver_private_swallows_adverts", &o);
    let o = done(env.c_driver_rejects_vrrp(tap).await);
    env.report(tap, "c_driver_rejects_mode_vrrp", &o);
    let check = "c_driver_bridge_adverts_on_lower";
    let o = done(
        env.mode_landing(tap, macvlan_mode::BRIDGE, Drv::C, check)
            .await,
    );
    env.report(tap, check, &o);
    let o = done(env.reload_ours(tap).await);
    env.report(tap, "reload_ours", &o);
    let (o1, o2) = env.bridge_vs_vrrp(tap).await;
    env.report(tap, "bridge_vs_vrrp_local_multicast", &o1);
    env.report(tap, "bridge_vs_vrrp_local_unicast", &o2);
    let o = done(env.failover(tap).await);
    env.report(tap, "failover_vip_to_r2", &o);
    let o = done(env.failover_arp(tap).await);
    env.report(tap, "failover_arp_on_r2_upper", &o);
    let o = done(env.inside_arp(tap).await);
    env.report(tap, "inside_lan_arp_vip", &o);
    let o = done(env.inside_reach(tap).await);
    env.report(tap, "inside_r1_reaches_lan", &o);
    let (o, mut tr) = env.teardown().await;
    report(tap, &mut tr, "teardown", &o);
    tr
}

/// The IPv4 neighbour entries on `dev`.
async fn neighbours(nl: &Nl, dev: &str) -> Result<Vec<Neigh>, String> {
    let i = index(nl, dev).await?;
    nl.neigh4_dump(Some(i))
        .await
        .map_err(err(format!("RTM_GETNEIGH {}", nl.netns)))
}

/// A neighbour entry for a transcript: whose address it holds, by name
/// (veths get random MACs: the name is what two runs share; a VMAC is
/// printed as it is) and whether it is resolved (not its exact NUD state,
/// which timing decides).
fn neigh_obs(n: Option<&Neigh>, known: &[(&[u8], &str)]) -> String {
    match n {
        None => "none".into(),
        Some(n) => format!(
            "lladdr {}, {}",
            mac_obs(n.lladdr.as_deref(), known),
            if n.is_resolved() {
                "resolved"
            } else {
                "unresolved"
            }
        ),
    }
}

/// A MAC for a transcript: the name of the device it belongs to, from
/// `known`; a VMAC as it is; else "another MAC".
fn mac_obs(mac: Option<&[u8]>, known: &[(&[u8], &str)]) -> String {
    match mac {
        None => "none".into(),
        Some(m) => match known.iter().find(|(k, _)| *k == m) {
            Some((_, name)) => (*name).into(),
            None if m.starts_with(&[0x00, 0x00, 0x5e, 0x00]) => fmt_mac(m),
            None => "another MAC".into(),
        },
    }
}

fn sysctl(ns: &Netns, key: &str, value: &str) -> Result<(), String> {
    ns.sysctl(key, value).map_err(|e| format!("{e:#}"))
}

/// The router sysctls on a lower device (anchors.md).
fn lower_sysctls(ns: &Netns, dev: &str) -> Result<(), String> {
    sysctl(ns, &format!("net.ipv4.conf.{dev}.arp_ignore"), "1")?;
    sysctl(ns, &format!("net.ipv4.conf.{dev}.arp_filter"), "1")
}

/// The router sysctls on an upper device, and IPv6 off on it so that a
/// backup's upper device stays quiet (no DAD or MLD from the VMAC).
fn upper_sysctls(ns: &Netns, dev: &str) -> Result<(), String> {
    sysctl(ns, &format!("net.ipv4.conf.{dev}.arp_ignore"), "1")?;
    sysctl(ns, &format!("net.ipv4.conf.{dev}.accept_local"), "1")?;
    sysctl(ns, &format!("net.ipv4.conf.{dev}.rp_filter"), "0")?;
    sysctl(ns, &format!("net.ipv6.conf.{dev}.disable_ipv6"), "1")
}

/// Three pings from `ns` to `to`: the ratio as a diagnostic, a failure when
/// none was answered.
fn ping_check<W: Write>(
    tap: &mut Tap<W>,
    ns: &Netns,
    to: Ipv4Addr,
    f: &mut Vec<String>,
) -> ping::PingResult {
    let p = ping::ping(ns, to, 3);
    let line = format!("{} ping {to}: {}", ns.name(), p.ratio());
    tap.diag(&line);
    if p.replies() == 0 {
        f.push(line);
    }
    p
}

fn nft_counter(ns: &Netns, family: &str, table: &str, name: &str) -> Result<u64, String> {
    nft::counter(ns, family, table, name).map(|c| c.packets)
}

/// A UDP socket bound in `ns`, with a read timeout.
fn udp_socket(ns: &Netns, bind: SocketAddr) -> Result<UdpSocket, String> {
    let s = ns
        .enter(|| UdpSocket::bind(bind))
        .map_err(err(format!("entering {}", ns.name())))?
        .map_err(err(format!("binding UDP {bind} in {}", ns.name())))?;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(err("SO_RCVTIMEO"))?;
    Ok(s)
}

/// Datagrams received within `window` whose payload starts with `prefix`,
/// with their sources.
fn udp_collect(s: &UdpSocket, prefix: &[u8], window: Duration, want: usize) -> Vec<SocketAddr> {
    let deadline = std::time::Instant::now() + window;
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while std::time::Instant::now() < deadline && got.len() < want {
        match s.recv_from(&mut buf) {
            Ok((n, from)) if buf[..n].starts_with(prefix) => got.push(from),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    got
}

const RULES_ROUTER: &str = r#"
table inet mvv {
	counter in_v10 { }
	counter out_v10 { }
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "eth0v10" counter name "in_v10"
	}
	chain output {
		type filter hook output priority filter; policy accept;
		oifname "eth0v10" counter name "out_v10"
	}
}
"#;

const RULES_R1_NAT: &str = r#"
table ip mvvnat {
	counter dnat_5000 { }
	counter snat_6000 { }
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "eth0v10" udp dport 5000 counter name "dnat_5000" dnat to 10.0.0.2:5001
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth0v10" udp dport 6000 counter name "snat_6000" snat to 10.0.0.99
	}
}
"#;

async fn setup(
    module: &Path,
    module_ok: bool,
    subject: Subject,
    tr: Transcript,
) -> Result<Env, (String, Transcript)> {
    let ([gw, sw, r1, r2, lan], [ngw, nsw, nr1, nr2, nlan], tasks) = match create_connected(ALL_NS)
    {
        Ok(x) => x,
        Err(e) => return Err((e, tr)),
    };

    let env = Env {
        gw,
        sw,
        r1,
        r2,
        lan,
        ngw,
        nsw,
        nr1,
        nr2,
        nlan,
        tasks,
        drv: Drv::Subject,
        tag: 0x5000,
        guard: ModGuard {
            subject: subject.clone(),
            module: module.to_path_buf(),
            armed: false,
        },
        module_ok,
        subject,
        tr,
    };
    let built = async {
        env.build_topology().await?;
        env.build_uppers().await
    }
    .await;
    match built {
        Ok(()) => Ok(env),
        Err(e) => {
            // Dropping the environment deletes nothing: the teardown
            // check reports the namespaces left behind.
            let tr = env.tr.clone();
            Err((e, tr))
        }
    }
}

impl Env {
    fn ns(&self, r: R) -> (&Netns, &Nl) {
        match r {
            R::R1 => (&self.r1, &self.nr1),
            R::R2 => (&self.r2, &self.nr2),
        }
    }

    fn next_tag(&mut self) -> u16 {
        self.tag = self.tag.wrapping_add(1);
        self.tag
    }

    async fn build_topology(&self) -> Result<(), String> {
        let all = [
            (&self.gw, &self.ngw),
            (&self.sw, &self.nsw),
            (&self.r1, &self.nr1),
            (&self.r2, &self.nr2),
            (&self.lan, &self.nlan),
        ];
        for (ns, nl) in all {
            let lo = index(nl, "lo").await?;
            nl.link_up(lo)
                .await
                .map_err(err(format!("lo up in {}", ns.name())))?;
            // No IPv6 anywhere: no DAD, MLD or RS noise on the switches, and
            // a backup's upper device never speaks from the VMAC.
            sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1")?;
            sysctl(ns, "net.ipv6.conf.default.disable_ipv6", "1")?;
        }
        for br in ["br0", "br1"] {
            self.nsw
                .link_add(bridge_nosnoop_msg(br))
                .await
                .map_err(err(format!("creating bridge {br} in sw")))?;
            let i = index(&self.nsw, br).await?;
            self.nsw.link_up(i).await.map_err(err(format!("{br} up")))?;
        }
        let ports = [
            ("sw-gw", "br0", &self.gw, &self.ngw, "eth0"),
            ("sw-r1", "br0", &self.r1, &self.nr1, "eth0"),
            ("sw-r2", "br0", &self.r2, &self.nr2, "eth0"),
            ("swi-r1", "br1", &self.r1, &self.nr1, "eth1"),
            ("swi-r2", "br1", &self.r2, &self.nr2, "eth1"),
            ("swi-lan", "br1", &self.lan, &self.nlan, "eth0"),
        ];
        for (port, br, ns, nl, name) in ports {
            add_switch_port(&self.nsw, port, br, ns, name).await?;
            let i = index(nl, name).await?;
            nl.link_up(i)
                .await
                .map_err(err(format!("{name} up in {}", ns.name())))?;
        }
        let addrs = [
            (&self.ngw, "eth0", GW_IP),
            (&self.nr1, "eth0", R1_ETH0),
            (&self.nr2, "eth0", R2_ETH0),
            (&self.nr1, "eth1", R1_ETH1),
            (&self.nr2, "eth1", R2_ETH1),
            (&self.nlan, "eth0", LAN_IP),
        ];
        for (nl, dev, ip) in addrs {
            let i = index(nl, dev).await?;
            nl.addr4_add(i, ip, P24)
                .await
                .map_err(err(format!("{ip}/{P24} on {dev} in {}", nl.netns)))?;
        }
        for ns in [&self.r1, &self.r2] {
            sysctl(ns, "net.ipv4.conf.all.rp_filter", "0")?;
            lower_sysctls(ns, "eth0")?;
            lower_sysctls(ns, "eth1")?;
            nft::load(ns, RULES_ROUTER)?;
        }
        nft::load(&self.r1, RULES_R1_NAT)?;
        Ok(())
    }

    /// Creates a macvlan on `lower` in router `r` with `mac` and `mode`,
    /// applies the upper-device sysctls, and brings it up if asked.
    async fn add_upper(
        &self,
        r: R,
        name: &str,
        lower: &str,
        mac: [u8; 6],
        mode: u32,
        up: bool,
    ) -> Result<u32, String> {
        let (ns, nl) = self.ns(r);
        let lower_idx = index(nl, lower).await?;
        nl.link_add(with_address(
            macvlan_msg(name, lower_idx, &[RawNla::macvlan_mode(mode)]),
            &mac,
        ))
        .await
        .map_err(|e| {
            format!(
                "RTM_NEWLINK {}/{name} (macvlan, mode {}, link {lower}, address {}): {e}",
                ns.name(),
                macvlan_mode::describe(mode),
                fmt_mac(&mac)
            )
        })?;
        let idx = index(nl, name).await?;
        upper_sysctls(ns, name)?;
        if up {
            nl.link_up(idx)
                .await
                .map_err(err(format!("{}/{name} up", ns.name())))?;
        }
        Ok(idx)
    }

    async fn set_mode(&self, r: R, name: &str, mode: u32) -> Result<(), String> {
        let (ns, nl) = self.ns(r);
        let i = index(nl, name).await?;
        nl.link_change(macvlan_change_msg(i, &[RawNla::macvlan_mode(mode)]))
            .await
            .map_err(|e| {
                format!(
                    "changelink {}/{name} to mode {}: {e}",
                    ns.name(),
                    macvlan_mode::describe(mode)
                )
            })?;
        let got = link(nl, name).await?.macvlan_mode();
        if got != Some(mode) {
            return Err(format!(
                "{}/{name}: IFLA_MACVLAN_MODE {got:?} after changelink to {mode}",
                ns.name()
            ));
        }
        Ok(())
    }

    /// Every VRRP-mode upper device of the scenario, with VIPs and routes.
    async fn build_uppers(&self) -> Result<(), String> {
        let m = macvlan_mode::VRRP;
        let v10 = vmac(Family::Ipv4, 10);
        let v10_6 = vmac(Family::Ipv6, 10);
        let v20 = vmac(Family::Ipv4, 20);
        // r1, the master.
        let i = self.add_upper(R::R1, V10, "eth0", v10, m, true).await?;
        self.nr1
            .addr4_add(i, VIP, P24)
            .await
            .map_err(err("VIP 10.0.0.2/24 on r1 eth0v10"))?;
        self.nr1
            .route4_add_default(GW_IP)
            .await
            .map_err(err("default via 10.0.0.1 in r1"))?;
        self.add_upper(R::R1, V10_6, "eth0", v10_6, m, true).await?;
        let i = self.add_upper(R::R1, V20, "eth1", v20, m, true).await?;
        self.nr1
            .addr4_add(i, VIP_IN, P24)
            .await
            .map_err(err("192.168.1.254/24 on r1 eth1v20"))?;
        // r2, the backup: same MACs, up, no VIPs.
        self.add_upper(R::R2, V10, "eth0", v10, m, true).await?;
        self.add_upper(R::R2, V10_6, "eth0", v10_6, m, true).await?;
        self.add_upper(R::R2, V20, "eth1", v20, m, true).await?;
        Ok(())
    }

    /// Deletes every macvlan in r1 and r2; returns what was deleted.
    async fn delete_uppers(&self) -> Result<Vec<String>, String> {
        let mut gone = Vec::new();
        for r in [R::R1, R::R2] {
            let (ns, nl) = self.ns(r);
            let links = nl.link_dump().await.map_err(err("RTM_GETLINK dump"))?;
            for l in links
                .iter()
                .filter(|l| l.kind.as_deref() == Some("macvlan"))
            {
                nl.link_del(l.index).await.map_err(err(format!(
                    "deleting {}/{}",
                    ns.name(),
                    l.name
                )))?;
                gone.push(format!("{}/{}", ns.name(), l.name));
            }
        }
        Ok(gone)
    }

    /// The ethtool driver name of a driver state's devices.
    fn drv_name(&self, d: Drv) -> &'static str {
        match d {
            Drv::Subject => self.subject.driver(),
            Drv::C => C_DRIVER,
            Drv::Broken => "(none)",
        }
    }

    /// Reports a check and records its outcome in the transcript.
    fn report<W: Write>(&mut self, tap: &mut Tap<W>, name: &str, o: &Outcome) {
        report(tap, &mut self.tr, name, o);
    }

    /// Skip unless the driver under test owns the devices.
    fn need_ours(&self) -> Result<(), Outcome> {
        match self.drv {
            Drv::Subject => Ok(()),
            d => Err(Outcome::Skip(format!(
                "macvlan devices are not {}'s (driver state {}; see reload_ours)",
                self.subject.driver(),
                self.drv_name(d)
            ))),
        }
    }

    /// Skip unless the driver under test owns the devices; else the driver
    /// checks of `devs`, the first failures of a check.
    fn begin_ours_check(&self, devs: &[(R, &str)]) -> Result<Vec<String>, Outcome> {
        self.need_ours()?;
        let mut f = Vec::new();
        self.expect_drivers(devs, self.subject.driver(), &mut f);
        Ok(f)
    }

    /// The driver-specific steering counter after N adverts were steered:
    /// ours counts them; the patched C driver has no such counter.
    fn expect_steered(&self, delta: Option<i64>, dev: &str, f: &mut Vec<String>) {
        match (&self.subject, delta) {
            (Subject::Ours, Some(d)) if d == i64::from(N) => {}
            (Subject::CPatched(_), None) => {}
            (Subject::Ours, d) => f.push(format!(
                "r2 {dev} {VRRP_ADVERTS_TO_LOWER} changed by {d:?}, expected +{N}"
            )),
            (Subject::CPatched(_), Some(d)) => f.push(format!(
                "r2 {dev} has {VRRP_ADVERTS_TO_LOWER} ({d:+}) under the patched C driver"
            )),
        }
    }

    /// Driver checks for the devices a check uses.
    fn expect_drivers(&self, devs: &[(R, &str)], want: &str, f: &mut Vec<String>) {
        for (r, dev) in devs {
            if let Err(e) = expect_driver(self.ns(*r).0, dev, want) {
                f.push(e);
            }
        }
    }

    // ---- check 1 ---------------------------------------------------------

    async fn uppers_ours<W: Write>(&mut self, tap: &mut Tap<W>) -> Result<Outcome, String> {
        let mut f = match self.begin_ours_check(&[]) {
            Ok(f) => f,
            Err(skip) => return Ok(skip),
        };
        let devs = [
            (R::R1, V10, "eth0", vmac(Family::Ipv4, 10)),
            (R::R1, V10_6, "eth0", vmac(Family::Ipv6, 10)),
            (R::R1, V20, "eth1", vmac(Family::Ipv4, 20)),
            (R::R2, V10, "eth0", vmac(Family::Ipv4, 10)),
            (R::R2, V10_6, "eth0", vmac(Family::Ipv6, 10)),
            (R::R2, V20, "eth1", vmac(Family::Ipv4, 20)),
        ];
        let mut obs: Vec<(bool, String, String)> = Vec::new();
        for (r, dev, lower, mac) in devs {
            let (ns, nl) = self.ns(r);
            let drv = ethtool::drvinfo(ns, dev)
                .map(|i| i.driver)
                .unwrap_or_else(|e| format!("error: {e:#}"));
            let l = link(nl, dev).await?;
            let lower_idx = index(nl, lower).await?;
            tap.diag(&format!(
                "{}/{dev}: driver {drv}, kind {:?}, IFLA_MACVLAN_MODE {:?}, lower {:?} ({lower} is {lower_idx}), mac {}, {}",
                ns.name(),
                l.kind,
                l.macvlan_mode(),
                l.link,
                l.address.as_deref().map(fmt_mac).unwrap_or_default(),
                if l.is_up() { "UP" } else { "DOWN" }
            ));
            let who = format!("{}/{dev}", ns.name());
            obs.push((true, format!("{who} driver"), drv.clone()));
            obs.push((
                false,
                who.clone(),
                format!(
                    "kind {:?}, IFLA_MACVLAN_MODE {:?}, on {}, mac {}, {}",
                    l.kind,
                    l.macvlan_mode(),
                    if l.link == Some(lower_idx) {
                        lower.to_string()
                    } else {
                        format!("{:?}", l.link)
                    },
                    l.address.as_deref().map(fmt_mac).unwrap_or_default(),
                    if l.is_up() { "UP" } else { "DOWN" }
                ),
            ));
            if drv != self.subject.driver() {
                f.push(format!(
                    "{}/{dev}: driver {drv:?}, expected {:?}",
                    ns.name(),
                    self.subject.driver()
                ));
            }
            if l.kind.as_deref() != Some("macvlan") {
                f.push(format!("{}/{dev}: kind {:?}", ns.name(), l.kind));
            }
            if l.macvlan_mode() != Some(macvlan_mode::VRRP) {
                f.push(format!(
                    "{}/{dev}: IFLA_MACVLAN_MODE {:?}, expected Some(32)",
                    ns.name(),
                    l.macvlan_mode()
                ));
            }
            if l.link != Some(lower_idx) {
                f.push(format!(
                    "{}/{dev}: IFLA_LINK {:?}, expected {lower_idx}",
                    ns.name(),
                    l.link
                ));
            }
            if l.address.as_deref() != Some(&mac[..]) {
                f.push(format!(
                    "{}/{dev}: address {:?}, expected {}",
                    ns.name(),
                    l.address,
                    fmt_mac(&mac)
                ));
            }
            if !l.is_up() {
                f.push(format!("{}/{dev}: not UP", ns.name()));
            }
        }
        for (specific, k, v) in obs {
            if specific {
                self.tr.specific("uppers_ours_mode_vrrp", &k, v);
            } else {
                self.tr.obs("uppers_ours_mode_vrrp", &k, v);
            }
        }
        Ok(Outcome::from_failures(&f))
    }

    // ---- checks 2 and 3 --------------------------------------------------

    async fn r1_ping_gw<W: Write>(&mut self, tap: &mut Tap<W>) -> Result<Outcome, String> {
        let mut f = match self.begin_ours_check(&[(R::R1, V10)]) {
            Ok(f) => f,
            Err(skip) => return Ok(skip),
        };
        let p = ping_check(tap, &self.r1, GW_IP, &mut f);
        self.tr.obs("r1_ping_gw_via_vip", "r1 ping gw", p.ratio());
        if p.replies() == 0 {
            tap.diag(&format!("ping output:\n{}", p.run.output.trim_end()));
        }
        Ok(Outcome::from_failures(&f))
    }

    async fn arp_resolved<W: Write>(&mut self, tap: &mut Tap<W>) -> Result<Outcome, String> {
        let mut f = match self.begin_ours_check(&[(R::R1, V10)]) {
            Ok(f) => f,
            Err(skip) => return Ok(skip),
        };
        let gw_mac = link(&self.ngw, "eth0").await?.address.unwrap_or_default();
        let neigh = neighbours(&self.nr1, V10).await?;
        let n = neigh.iter().find(|n| n.dst == Some(IpAddr::V4(GW_IP)));
        let c = "arp_resolved_on_vip";
        self.tr.obs(
            c,
            "r1 eth0v10 neighbour gw",
            neigh_obs(n, &[(&gw_mac, "gw eth0's MAC")]),
        );
        match n {
            None => f.push(format!(
                "r1: no neighbour entry for {GW_IP} on eth0v10 ({} entries)",
                neigh.len()
            )),
            Some(n) => {
                tap.diag(&format!(
                    "r1 eth0v10 neighbour {GW_IP}: lladdr {} {} (gw eth0 is {})",
                    n.lladdr.as_deref().map(fmt_mac).unwrap_or_default(),
                    crate::addr::state_name(&n.state),
                    fmt_mac(&gw_mac)
                ));
                if !n.is_resolved() {
                    f.push(format!(
                        "r1 eth0v10 neighbour {GW_IP} is {}",
                        crate::addr::state_name(&n.state)
                    ));
                }
                if n.lladdr.as_deref() != Some(&gw_mac[..]) {
                    f.push(format!(
                        "r1 eth0v10 neighbour {GW_IP}: lladdr {:?}, expected {}",
                        n.lladdr.as_deref().map(fmt_mac),
                        fmt_mac(&gw_mac)
                    ));
                }
            }
        }
        // The lower device must not hold it (the 2014 mode left it there, FAILED).
        let on_lower = neighbours(&self.nr1, "eth0").await?;
        let l = on_lower.iter().find(|n| n.dst == Some(IpAddr::V4(GW_IP)));
        self.tr.obs(
            c,
            "r1 eth0 neighbour gw",
            if l.is_some() { "present" } else { "none" },
        );
        if let Some(n) = l {
            tap.diag(&format!(
                "r1 eth0 also has {GW_IP}: {}",
                crate::addr::state_name(&n.state)
            ));
        }
        let neigh = neighbours(&self.ngw, "eth0").await?;
        let want = vmac(Family::Ipv4, 10);
        let g = neigh.iter().find(|n| n.dst == Some(IpAddr::V4(VIP)));
        self.tr.obs(c, "gw neighbour VIP", neigh_obs(g, &[]));
        match g {
            None => f.push(format!("gw: no neighbour entry for {VIP}")),
            Some(n) => {
                tap.diag(&format!(
                    "gw neighbour {VIP}: lladdr {} {}",
                    n.lladdr.as_deref().map(fmt_mac).unwrap_or_default(),
                    crate::addr::state_name(&n.state)
                ));
                if n.lladdr.as_deref() != Some(&want[..]) {
                    f.push(format!(
                        "gw neighbour {VIP}: lladdr {:?}, expected {}",
                        n.lladdr.as_deref().map(fmt_mac),
                        fmt_mac(&want)
                    ));
                }
            }
        }
        Ok(Outcome::from_failures(&f))
    }

    async fn nft_counters<W: Write>(&mut self, tap: &mut Tap<W>) -> Result<Outcome, String> {
        let mut f = match self.begin_ours_check(&[(R::R1, V10)]) {
            Ok(f) => f,
            Err(skip) => return Ok(skip),
        };
        let in0 = nft_counter(&self.r1, "inet", "mvv", "in_v10")?;
        let out0 = nft_counter(&self.r1, "inet", "mvv", "out_v10")?;
        let p = ping::ping(&self.gw, VIP, 5);
        let in1 = nft_counter(&self.r1, "inet", "mvv", "in_v10")?;
        let out1 = nft_counter(&self.r1, "inet", "mvv", "out_v10")?;
        let replies = u64::from(p.replies());
        let c = "nft_iifname_oifname_eth0v10";
        self.tr.obs(c, "gw ping VIP", p.ratio());
        self.tr.obs(c, "r1 iifname eth0v10 counter", in1 - in0);
        self.tr.obs(c, "r1 oifname eth0v10 counter", out1 - out0);
        tap.diag(&format!(
            "gw ping {VIP}: {}; r1 nft iifname \"eth0v10\" +{}, oifname \"eth0v10\" +{}",
            p.ratio(),
            in1 - in0,
            out1 - out0
        ));
        if replies == 0 {
            f.push(format!("gw ping {VIP}: {}", p.ratio()));
        }
        if in1 - in0 < replies {
            f.push(format!(
                "iifname eth0v10 counter rose by {}, fewer than the {replies} replies",
                in1 - in0
            ));
        }
        if out1 - out0 < replies {
            f.push(format!(
                "oifname eth0v10 counter rose by {}, fewer than the {replies} replies",
                out1 - out0
            ));
        }
        Ok(Outcome::from_failures(&f))
    }

    /// Three datagrams `payload` from `from` to `to`: the sources of those
    /// that reached `listener`, and r1's NAT counter `rule` before and after.
    fn through_nat(
        &self,
        from: &Netns,
        to: SocketAddr,
        listener: &UdpSocket,
        payload: &[u8],
        rule: &str,
    ) -> Result<(Vec<SocketAddr>, u64, u64), String> {
        let sender = udp_socket(from, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))?;
        let before = nft_counter(&self.r1, "ip", "mvvnat", rule)?;
        for _ in 0..3 {
            sender
                .send_to(payload, to)
                .map_err(err(format!("{} sendto {to}", from.name())))?;
        }
        let got = udp_collect(listener, payload, Duration::from_secs(3), 3);
        let after = nft_counter(&self.r1, "ip", "mvvnat", rule)?;
        Ok((got, before, after))
    }

    async fn nft_dnat<W: Write>(&mut self, tap: &mut Tap<W>) -> Result<Outcome, String> {
        let mut f = match self.begin_ours_check(&[(R::R1, V10)]) {
            Ok(f) => f,
            Err(skip) => return Ok(skip),
        };
        let listener = udp_socket(&self.r1, SocketAddr::from((Ipv4Addr::UNSPECIFIED, DNAT_TO)))?;
        let (got, before, after) = self.through_nat(
            &self.gw,
            SocketAddr::from((VIP, DNAT_PORT)),
            &listener,
            b"mvv-dnat",
            "dnat_5000",
        )?;
        let c = "nft_dnat_iifname_eth0v10";
        self.tr.obs(c, "r1 listener received", got.len());
        self.tr.obs(c, "dnat rule counter", after - before);
        tap.diag(&format!(
            "gw -> {VIP}:{DNAT_PORT} x3; r1 listener on :{DNAT_TO} received {} (from {:?}); dnat rule counter +{}",
            got.len(),
            got.first(),
            after - before
        ));
        if got.is_empty() {
            f.push(format!(
                "nothing arrived on r1 :{DNAT_TO}: iifname \"eth0v10\" dnat did not take effect"
            ));
        }
        if after == before {
            f.push("the dnat rule's counter did not move".into());
        }
        Ok(Outcome::from_failures(&f))
    }

    async fn nft_snat<W: Write>(&mut self, tap: &mut Tap<W>) -> Result<Outcome, String> {
        let mut f = match self.begin_ours_check(&[(R::R1, V10)]) {
            Ok(f) => f,
            Err(skip) => return Ok(skip),
        };
        let listener = udp_socket(
            &self.gw,
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, SNAT_PORT)),
        )?;
        let (got, before, after) = self.through_nat(
            &self.r1,
            SocketAddr::from((GW_IP, SNAT_PORT)),
            &listener,
            b"mvv-snat",
            "snat_6000",
        )?;
        let c = "nft_snat_oifname_eth0v10";
        self.tr.obs(c, "gw received", got.len());
        self.tr.obs(
            c,
            "sources",
            format!("{:?}", got.iter().map(|a| a.ip()).collect::<Vec<_>>()),
        );
        self.tr.obs(c, "snat rule counter", after - before);
        tap.diag(&format!(
            "r1 -> {GW_IP}:{SNAT_PORT} x3; gw received {} with sources {:?}; snat rule counter +{}",
            got.len(),
            got.iter().map(|a| a.ip()).collect::<Vec<_>>(),
            after - before
        ));
        if got.is_empty() {
            f.push("gw received nothing on :6000".into());
        }
        if let Some(a) = got.iter().find(|a| a.ip() != IpAddr::V4(SNAT_IP)) {
            f.push(format!(
                "gw saw source {}, expected {SNAT_IP} (oifname \"eth0v10\" snat)",
                a.ip()
            ));
        }
        Ok(Outcome::from_failures(&f))
    }

    // ---- checks 4 to 7: where r1's adverts land in r2 ----------------------

    /// r1 sends N adverts out of its `dev` (with that device's MAC as the
    /// Ethernet source); r2 counts them by receiving device.
    async fn send_adverts(
        &mut self,
        v6: bool,
        dev: &str,
        with_raw: bool,
    ) -> Result<Landing, String> {
        let tag = self.next_tag();
        let lower = index(&self.nr2, "eth0").await?;
        let upper = index(&self.nr2, dev).await?;
        let src_mac: [u8; 6] = link(&self.nr1, dev)
            .await?
            .address
            .and_then(|a| a.try_into().ok())
            .ok_or_else(|| format!("r1/{dev} has no 6-byte address"))?;
        let stat = |ns: &Netns| {
            ethtool::stat(ns, dev, VRRP_ADVERTS_TO_LOWER).map_err(|e| format!("{e:#}"))
        };
        let counter_before = stat(&self.r2)?;

        let frames: Vec<Vec<u8>> = (0..N)
            .map(|_| {
                if v6 {
                    frames::advert_v6(
                        src_mac,
                        frames::link_local(src_mac),
                        10,
                        PRIORITY,
                        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1),
                        u32::from(tag),
                    )
                } else {
                    frames::advert_v4(src_mac, R1_ETH0, 10, PRIORITY, VIP, tag)
                }
            })
            .collect();
        let want =
            move |s: Option<frames::Seen>| s.is_some_and(|s| s.tag == u32::from(tag) && s.id == 10);
        let (ethertype, parse): (u16, frames::Parser) = if v6 {
            (ETH_P_IPV6, frames::parse_advert_v6)
        } else {
            (ETH_P_IP, frames::parse_advert_v4)
        };
        let mut pk = PacketCounter::open(&self.r2, ethertype, move |b: &[u8]| want(parse(b)))
            .map_err(err("r2 packet socket"))?;
        let mut raw = if with_raw {
            Some(
                RawIpCounter::open(
                    &self.r2,
                    "eth0",
                    IPPROTO_VRRP,
                    VRRP_GROUP_V4,
                    move |b: &[u8]| want(frames::parse_advert_v4_ip(b)),
                )
                .map_err(err("r2 raw socket"))?,
            )
        } else {
            None
        };
        let sender = PacketSender::open(&self.r1, dev).map_err(err("r1 sender"))?;
        sender.send_all(&frames).map_err(err("sending adverts"))?;

        let mut fds = vec![pk.fd()];
        if let Some(r) = &raw {
            fds.push(r.fd());
        }
        wait_until(
            &fds,
            Duration::from_secs(5),
            Duration::from_millis(500),
            || {
                pk.pump();
                if let Some(r) = raw.as_mut() {
                    r.pump();
                }
                pk.total() >= N && raw.as_ref().is_none_or(|r| r.count >= pk.on(lower))
            },
        );
        let counter_after = stat(&self.r2)?;
        Ok(Landing {
            sent: N,
            lower: pk.on(lower),
            upper: pk.on(upper),
            elsewhere: pk.elsewhere(&[lower, upper]),
            raw: raw.map(|r| r.count),
            counter_before,
            counter_after,
        })
    }

    async fn v4_adverts<W: Write>(&mut self, tap: &mut Tap<W>) -> (Outcome, Outcome) {
        let mut f = match self.begin_ours_check(&[(R::R1, V10), (R::R2, V10)]) {
            Ok(f) => f,
            Err(skip) => return (skip.clone(), skip),
        };
        let l = match self.send_adverts(false, V10, true).await {
            Ok(l) => l,
            Err(e) => return (Outcome::Fail(e.clone()), Outcome::Fail(e)),
        };
        tap.diag(&format!("VRRP mode, IPv4: {}", l.describe(V10)));
        l.record(
            &mut self.tr,
            "v4_adverts_stay_on_lower",
            "v4_adverts_raw_socket_on_lower",
        );
        l.expect(true, V10, &mut f);
        self.expect_steered(l.counter_delta(), "eth0v10", &mut f);
        let mut g = Vec::new();
        match l.raw {
            Some(r) if r == N => {}
            r => g.push(format!(
                "raw IPPROTO_VRRP socket bound to r2 eth0 (224.0.0.18 joined) received {r:?}, expected {N}"
            )),
        }
        (Outcome::from_failures(&f), Outcome::from_failures(&g))
    }

    async fn v6_adverts<W: Write>(&mut self, tap: &mut Tap<W>) -> Result<Outcome, String> {
        let mut f = match self.begin_ours_check(&[(R::R1, V10_6), (R::R2, V10_6)]) {
            Ok(f) => f,
            Err(skip) => return Ok(skip),
        };
        let l = self.send_adverts(true, V10_6, false).await?;
        tap.diag(&format!("VRRP mode, IPv6: {}", l.describe(V10_6)));
        l.record(
            &mut self.tr,
            "v6_adverts_stay_on_lower",
            "v6_adverts_stay_on_lower",
        );
        l.expect(true, V10_6, &mut f);
        self.expect_steered(l.counter_delta(), "eth0v10v6", &mut f);
        Ok(Outcome::from_failures(&f))
    }

    /// r2's eth0v10 in `mode` under driver `drv`; where do r1's adverts land?
    /// Private swallows them (upper N); bridge leaves them on the lower.
    async fn mode_landing<W: Write>(
        &mut self,
        tap: &mut Tap<W>,
        mode: u32,
        drv: Drv,
        check: &str,
    ) -> Result<Outcome, String> {
        if self.drv != drv {
            return Ok(Outcome::Skip(format!(
                "needs {} devices; driver state is {}",
                self.drv_name(drv),
                self.drv_name(self.drv)
            )));
        }
        let mut f = Vec::new();
        self.set_mode(R::R2, V10, mode).await?;
        self.expect_drivers(&[(R::R1, V10), (R::R2, V10)], self.drv_name(drv), &mut f);
        let l = self.send_adverts(false, V10, true).await?;
        let m = macvlan_mode::describe(mode);
        tap.diag(&format!(
            "{} r2 eth0v10 mode {m}, IPv4: {}",
            self.drv_name(drv),
            l.describe(V10)
        ));
        l.record(&mut self.tr, check, check);
        let to_lower = mode != macvlan_mode::PRIVATE;
        l.expect(to_lower, V10, &mut f);
        if to_lower && l.raw != Some(N) {
            f.push(format!(
                "raw socket on r2 eth0 got {:?}, expected {N}",
                l.raw
            ));
        }
        if !to_lower {
            tap.diag(&format!(
                "-> a daemon listening on r2 eth0 sees {} of {N} adverts from the master",
                l.raw.unwrap_or(0)
            ));
        }
        if let Some(d) = l.counter_delta() {
            if d != 0 {
                f.push(format!(
                    "{VRRP_ADVERTS_TO_LOWER} changed by {d} in mode {m}, expected 0"
                ));
            }
        }
        Ok(Outcome::from_failures(&f))
    }

    // ---- check 6: the C driver -------------------------------------------

    async fn c_driver_private<W: Write>(&mut self, tap: &mut Tap<W>) -> Result<Outcome, String> {
        if !self.module_ok {
            return Ok(Outcome::Skip(
                "no module file to re-insert afterwards".into(),
            ));
        }
        if self.drv != Drv::Subject {
            return Ok(Outcome::Skip(format!(
                "driver state is {}",
                self.drv_name(self.drv)
            )));
        }
        let c = "c_driver_private_swallows_adverts";
        let gone = self.delete_uppers().await?;
        tap.diag(&format!("deleted {}", gone.join(" ")));
        self.tr.obs(c, "deleted", gone.join(" "));
        self.guard.armed = true;
        self.drv = Drv::Broken;
        let subject = self.subject.driver();
        let r = kmod::rmmod(subject);
        if !r.success {
            return Err(format!("rmmod {subject}: {}", r.summary()));
        }
        // modprobe takes the stock C module from /lib/modules.
        let r = kmod::modprobe(C_DRIVER);
        if !r.success {
            return Err(format!("modprobe {C_DRIVER}: {}", r.summary()));
        }
        if kmod::out_of_tree(C_DRIVER) != Some(false) || kmod::is_loaded(OURS) {
            return Err(format!(
                "after rmmod/modprobe, expected the stock {C_DRIVER} alone: {}",
                Subject::modules()
            ));
        }
        self.tr.specific(c, "modules", Subject::modules());
        self.drv = Drv::C;
        let p = macvlan_mode::PRIVATE;
        let v10 = vmac(Family::Ipv4, 10);
        self.add_upper(R::R1, V10, "eth0", v10, p, true).await?;
        self.add_upper(R::R2, V10, "eth0", v10, p, true).await?;
        let mut f = Vec::new();
        self.expect_drivers(&[(R::R1, V10), (R::R2, V10)], C_DRIVER, &mut f);
        if !f.is_empty() {
            return Ok(Outcome::from_failures(&f));
        }
        let info = ethtool::drvinfo(&self.r2, V10).map_err(|e| format!("{e:#}"))?;
        tap.diag(&format!(
            "{C_DRIVER} loaded; r1/r2 eth0v10 recreated in private mode: driver {:?} version {:?}",
            info.driver, info.version
        ));
        let l = self.send_adverts(false, V10, true).await?;
        tap.diag(&format!(
            "{C_DRIVER} r2 eth0v10 mode private, IPv4: {}",
            l.describe(V10)
        ));
        tap.diag(&format!(
            "-> a daemon listening on r2 eth0 sees {} of {N} adverts from the master",
            l.raw.unwrap_or(0)
        ));
        l.record(&mut self.tr, c, c);
        l.expect(false, V10, &mut f);
        Ok(Outcome::from_failures(&f))
    }

    async fn c_driver_rejects_vrrp<W: Write>(
        &mut self,
        tap: &mut Tap<W>,
    ) -> Result<Outcome, String> {
        if self.drv != Drv::C {
            return Ok(Outcome::Skip(format!(
                "needs the stock {C_DRIVER} loaded; driver state is {}",
                self.drv_name(self.drv)
            )));
        }
        let mut f = Vec::new();
        self.expect_drivers(&[(R::R2, V10)], C_DRIVER, &mut f);
        let lower = index(&self.nr2, "eth0").await?;
        let r = self
            .nr2
            .link_add(with_address(
                macvlan_msg("mvvbad", lower, &[RawNla::macvlan_mode(macvlan_mode::VRRP)]),
                &vmac(Family::Ipv4, 99),
            ))
            .await;
        let c = "c_driver_rejects_mode_vrrp";
        self.tr.obs(
            c,
            "RTM_NEWLINK mode 32",
            match &r {
                Err(NlError::Kernel { errno, ext }) => {
                    format!("{} (extack {:?})", errno_name(*errno), ext.msg)
                }
                Err(e) => format!("{e}"),
                Ok(()) => "accepted".into(),
            },
        );
        match r {
            Err(NlError::Kernel { errno, ext }) => {
                tap.diag(&format!(
                    "{C_DRIVER}: RTM_NEWLINK mode 32 -> {} (extack {:?})",
                    errno_name(errno),
                    ext.msg
                ));
                if errno != libc::EINVAL {
                    f.push(format!("expected EINVAL, got {}", errno_name(errno)));
                }
            }
            Err(e) => f.push(format!("RTM_NEWLINK mode 32: {e}")),
            Ok(()) => f.push(format!("{C_DRIVER} accepted mode 32")),
        }
        if let Ok(Some(l)) = self.nr2.link_by_name("mvvbad").await {
            f.push("mvvbad exists afterwards".into());
            let _ = self.nr2.link_del(l.index).await;
        }
        Ok(Outcome::from_failures(&f))
    }

    async fn reload_ours<W: Write>(&mut self, tap: &mut Tap<W>) -> Result<Outcome, String> {
        let mut f = Vec::new();
        let c = "reload_ours";
        if self.drv != Drv::Subject {
            let gone = self.delete_uppers().await?;
            tap.diag(&format!("deleted {}", gone.join(" ")));
            self.tr.obs(c, "deleted", gone.join(" "));
            f.extend(self.guard.restore());
        } else {
            // The C steps never ran: rebuild anyway, for a known state.
            let gone = self.delete_uppers().await?;
            tap.diag(&format!(
                "deleted {} ({C_DRIVER} steps did not run)",
                gone.join(" ")
            ));
            self.tr
                .obs(c, "deleted (stock C steps did not run)", gone.join(" "));
        }
        self.tr.specific(c, "modules", Subject::modules());
        let state = self.subject.loaded_alone();
        if !state.is_empty() {
            f.push(format!("after reload: {}", state.join("; ")));
            self.drv = Drv::Broken;
            return Ok(Outcome::from_failures(&f));
        }
        self.drv = Drv::Subject;
        if let Err(e) = self.build_uppers().await {
            self.drv = Drv::Broken;
            f.push(format!("rebuilding the VRRP-mode devices: {e}"));
            return Ok(Outcome::from_failures(&f));
        }
        let devs = [
            (R::R1, V10),
            (R::R1, V10_6),
            (R::R1, V20),
            (R::R2, V10),
            (R::R2, V10_6),
            (R::R2, V20),
        ];
        self.expect_drivers(&devs, self.subject.driver(), &mut f);
        for (r, d) in devs {
            let m = link(self.ns(r).1, d).await?.macvlan_mode();
            self.tr.obs(
                c,
                &format!("{r:?}/{d} mode after rebuild"),
                format!("{m:?}"),
            );
            if m != Some(macvlan_mode::VRRP) {
                f.push(format!("{:?}/{d}: mode {m:?} after rebuild", r));
            }
        }
        tap.diag(&format!(
            "{} re-inserted, the stock {C_DRIVER} unloaded, VRRP-mode devices rebuilt",
            self.subject.describe()
        ));
        Ok(Outcome::from_failures(&f))
    }

    // ---- check 7: bridge mode vs VRRP mode inside r1 ------------------------

    /// Both of r1's eth0v10 and eth0v11 in `mode`: an advert out of eth0v11
    /// and unicast from eth0v11's MAC to eth0v10's MAC; where do they go?
    async fn local_traffic(&mut self, mode: u32) -> Result<(Local, Local), String> {
        let v11_mac = vmac(Family::Ipv4, 11);
        let v10_mac = vmac(Family::Ipv4, 10);
        self.set_mode(R::R1, V10, mode).await?;
        if self
            .nr1
            .link_by_name(V11)
            .await
            .map_err(err("RTM_GETLINK"))?
            .is_some()
        {
            self.set_mode(R::R1, V11, mode).await?;
        } else {
            self.add_upper(R::R1, V11, "eth0", v11_mac, mode, true)
                .await?;
        }
        let v10 = index(&self.nr1, V10).await?;
        let eth0 = index(&self.nr1, "eth0").await?;
        let rx = |l: Link| l.stats64().map(|s| s.rx_packets).unwrap_or(0);

        // Multicast: an advert of group 11 out of eth0v11.
        let tag = self.next_tag();
        let want = move |b: &[u8]| {
            frames::parse_advert_v4(b).is_some_and(|s| s.tag == u32::from(tag) && s.id == 11)
        };
        let mut pk =
            PacketCounter::open(&self.r1, ETH_P_IP, want).map_err(err("r1 packet socket"))?;
        // A daemon's socket on eth0v10: joins 224.0.0.18 there, so eth0v10's
        // multicast filter wants the group.
        let mut raw = RawIpCounter::open(
            &self.r1,
            V10,
            IPPROTO_VRRP,
            VRRP_GROUP_V4,
            move |b: &[u8]| {
                frames::parse_advert_v4_ip(b).is_some_and(|s| s.tag == u32::from(tag) && s.id == 11)
            },
        )
        .map_err(err("r1 raw socket on eth0v10"))?;
        // What enters the switch from r1 (a tap on the bridge port).
        let mut sw = PacketCounter::open_bound(&self.sw, ETH_P_ALL, "sw-r1", want)
            .map_err(err("sw tap on sw-r1"))?;
        let st0 = rx(link(&self.nsw, "sw-r1").await?);
        let frames: Vec<Vec<u8>> = (0..N)
            .map(|_| frames::advert_v4(v11_mac, R1_ETH0, 11, PRIORITY, V11_IP, tag))
            .collect();
        let sender = PacketSender::open(&self.r1, V11).map_err(err("r1 sender on eth0v11"))?;
        sender.send_all(&frames).map_err(err("sending"))?;
        let local = mode == macvlan_mode::BRIDGE;
        let (deadline, settle) = if local {
            (Duration::from_secs(5), Duration::from_millis(500))
        } else {
            (Duration::from_millis(1500), Duration::from_millis(1500))
        };
        wait_until(&[pk.fd(), raw.fd(), sw.fd()], deadline, settle, || {
            pk.pump();
            raw.pump();
            sw.pump();
            !local || (pk.on(v10) >= N && raw.count >= N)
        });
        let mc = Local {
            on_v10: pk.on(v10),
            on_lower: pk.on(eth0),
            ip_layer_v10: raw.count,
            switch_port: u64::from(sw.total()),
            switch_rx_packets: rx(link(&self.nsw, "sw-r1").await?) - st0,
        };
        drop((pk, raw, sw));

        // Unicast: IPv4/UDP 10.0.0.3 -> 10.0.0.2:7000 from eth0v11's MAC to
        // eth0v10's MAC.
        let tag = self.next_tag();
        let want = move |b: &[u8]| {
            frames::parse_udp_v4(b).is_some_and(|s| s.tag == u32::from(tag) && s.id == UNICAST_PORT)
        };
        let mut pk =
            PacketCounter::open(&self.r1, ETH_P_IP, want).map_err(err("r1 packet socket"))?;
        let sock = udp_socket(
            &self.r1,
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, UNICAST_PORT)),
        )?;
        sock.set_nonblocking(true).map_err(err("O_NONBLOCK"))?;
        let mut sw = PacketCounter::open_bound(&self.sw, ETH_P_ALL, "sw-r1", want)
            .map_err(err("sw tap on sw-r1"))?;
        let st0 = rx(link(&self.nsw, "sw-r1").await?);
        let frames: Vec<Vec<u8>> = (0..N)
            .map(|i| {
                frames::udp_v4(
                    (v11_mac, V11_IP, 40000 + i as u16),
                    (v10_mac, VIP, UNICAST_PORT),
                    tag,
                    b"mvv-unicast",
                )
            })
            .collect();
        sender.send_all(&frames).map_err(err("sending"))?;
        let mut udp = 0u32;
        let mut buf = [0u8; 256];
        let ufd = std::os::fd::AsRawFd::as_raw_fd(&sock);
        wait_until(&[pk.fd(), ufd, sw.fd()], deadline, settle, || {
            pk.pump();
            sw.pump();
            while let Ok((n, _)) = sock.recv_from(&mut buf) {
                if buf[..n].starts_with(b"mvv-unicast") {
                    udp += 1;
                }
            }
            !local || (pk.on(v10) >= N && udp >= N)
        });
        let uc = Local {
            on_v10: pk.on(v10),
            on_lower: pk.on(eth0),
            ip_layer_v10: udp,
            switch_port: u64::from(sw.total()),
            switch_rx_packets: rx(link(&self.nsw, "sw-r1").await?) - st0,
        };
        Ok((mc, uc))
    }

    async fn bridge_vs_vrrp<W: Write>(&mut self, tap: &mut Tap<W>) -> (Outcome, Outcome) {
        if let Err(o) = self.need_ours() {
            return (o.clone(), o);
        }
        let r = async {
            let bridge = self.local_traffic(macvlan_mode::BRIDGE).await?;
            let mut f = Vec::new();
            let d = self.subject.driver();
            self.expect_drivers(&[(R::R1, V10), (R::R1, V11)], d, &mut f);
            let vrrp = self.local_traffic(macvlan_mode::VRRP).await?;
            self.expect_drivers(&[(R::R1, V10), (R::R1, V11)], d, &mut f);
            Ok::<_, String>((bridge, vrrp, f))
        }
        .await;
        // Back to the scenario: no eth0v11, eth0v10 in VRRP mode.
        let mut cleanup = Vec::new();
        if let Ok(Some(l)) = self.nr1.link_by_name(V11).await {
            if let Err(e) = self.nr1.link_del(l.index).await {
                cleanup.push(format!("deleting r1 eth0v11: {e}"));
            }
        }
        if let Err(e) = self.set_mode(R::R1, V10, macvlan_mode::VRRP).await {
            cleanup.push(e);
        }
        let ((bmc, buc), (vmc, vuc), drv_f) = match r {
            Ok(x) => x,
            Err(e) => {
                cleanup.insert(0, e);
                let o = Outcome::Fail(cleanup.join("; "));
                return (o.clone(), o);
            }
        };
        let line = |what: &str, mode: &str, l: &Local, ip: &str| {
            format!(
                "{what}, r1 eth0v10+eth0v11 {mode} mode, sent {N} from eth0v11: delivered to eth0v10 {} \
                 (to r1 eth0 {}), {ip} {}, crossed switch port sw-r1 {} (sw-r1 rx_packets +{})",
                l.on_v10, l.on_lower, l.ip_layer_v10, l.switch_port, l.switch_rx_packets
            )
        };
        for (check, what, mode, l) in [
            ("bridge_vs_vrrp_local_multicast", "advert", "bridge", &bmc),
            ("bridge_vs_vrrp_local_multicast", "advert", "vrrp", &vmc),
            ("bridge_vs_vrrp_local_unicast", "unicast", "bridge", &buc),
            ("bridge_vs_vrrp_local_unicast", "unicast", "vrrp", &vuc),
        ] {
            self.tr.obs(
                check,
                &format!("{mode} mode, {N} {what}s from eth0v11"),
                // Not sw-r1's rx_packets: besides the frames sent it counts
                // IGMP reports and ARP whose timing varies; the frames
                // that crossed the port are counted by their tag.
                format!(
                    "eth0v10 {}, r1 eth0 {}, IP layer on eth0v10 {}, crossed sw-r1 {}",
                    l.on_v10, l.on_lower, l.ip_layer_v10, l.switch_port
                ),
            );
        }
        tap.diag(&line(
            "multicast advert VRID 11",
            "bridge",
            &bmc,
            "raw socket on eth0v10",
        ));
        tap.diag(&line(
            "multicast advert VRID 11",
            "vrrp",
            &vmc,
            "raw socket on eth0v10",
        ));
        tap.diag(&line(
            "unicast UDP 10.0.0.3->10.0.0.2",
            "bridge",
            &buc,
            "UDP socket :7000",
        ));
        tap.diag(&line(
            "unicast UDP 10.0.0.3->10.0.0.2",
            "vrrp",
            &vuc,
            "UDP socket :7000",
        ));

        let mut f = drv_f.clone();
        if bmc.on_v10 != N || bmc.ip_layer_v10 != N {
            f.push(format!(
                "bridge mode: eth0v10 got {} adverts ({} at the IP layer), expected {N}",
                bmc.on_v10, bmc.ip_layer_v10
            ));
        }
        if vmc.on_v10 != 0 || vmc.ip_layer_v10 != 0 {
            f.push(format!(
                "vrrp mode: eth0v10 got {} adverts ({} at the IP layer), expected 0",
                vmc.on_v10, vmc.ip_layer_v10
            ));
        }
        if bmc.switch_port != u64::from(N) || vmc.switch_port != u64::from(N) {
            f.push(format!(
                "adverts on the wire: bridge {}, vrrp {}, expected {N} each",
                bmc.switch_port, vmc.switch_port
            ));
        }
        f.extend(cleanup.iter().cloned());
        let mut g = drv_f;
        if buc.on_v10 != N || buc.switch_port != 0 {
            g.push(format!(
                "bridge mode: eth0v10 got {} of {N} unicast frames, {} crossed the switch (expected {N} and 0)",
                buc.on_v10, buc.switch_port
            ));
        }
        if vuc.on_v10 != 0 || vuc.switch_port != u64::from(N) {
            g.push(format!(
                "vrrp mode: eth0v10 got {} of {N} unicast frames, {} crossed the switch (expected 0 and {N})",
                vuc.on_v10, vuc.switch_port
            ));
        }
        g.extend(cleanup);
        (Outcome::from_failures(&f), Outcome::from_failures(&g))
    }

    // ---- check 8: failover -------------------------------------------------

    async fn failover<W: Write>(&mut self, tap: &mut Tap<W>) -> Result<Outcome, String> {
        let mut f = match self.begin_ours_check(&[(R::R1, V10), (R::R2, V10)]) {
            Ok(f) => f,
            Err(skip) => return Ok(skip),
        };
        let r1v10 = index(&self.nr1, V10).await?;
        self.nr1
            .link_down(r1v10)
            .await
            .map_err(err("r1 eth0v10 down"))?;
        let r2v10 = index(&self.nr2, V10).await?;
        self.nr2
            .addr4_add(r2v10, VIP, P24)
            .await
            .map_err(err("VIP on r2 eth0v10"))?;
        let garp = frames::gratuitous_arp(vmac(Family::Ipv4, 10), VIP);
        let sender = PacketSender::open(&self.r2, V10).map_err(err("r2 sender"))?;
        sender
            .send_all(&[garp.clone(), garp.clone(), garp])
            .map_err(err("gratuitous ARP"))?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let r1_0 = nft_counter(&self.r1, "inet", "mvv", "in_v10")?;
        let r2_0 = nft_counter(&self.r2, "inet", "mvv", "in_v10")?;
        let p = ping::ping(&self.gw, VIP, 5);
        let r1_1 = nft_counter(&self.r1, "inet", "mvv", "in_v10")?;
        let r2_1 = nft_counter(&self.r2, "inet", "mvv", "in_v10")?;
        let c = "failover_vip_to_r2";
        self.tr.obs(c, "gw ping VIP", p.ratio());
        self.tr.obs(c, "r2 iifname eth0v10 counter", r2_1 - r2_0);
        self.tr.obs(c, "r1 iifname eth0v10 counter", r1_1 - r1_0);
        tap.diag(&format!(
            "r1 eth0v10 down, VIP on r2 eth0v10, 3 gratuitous ARPs; gw ping {VIP}: {}; \
             iifname \"eth0v10\" counters: r2 +{}, r1 +{}",
            p.ratio(),
            r2_1 - r2_0,
            r1_1 - r1_0
        ));
        let replies = u64::from(p.replies());
        if replies == 0 {
            f.push(format!("gw ping {VIP} after failover: {}", p.ratio()));
        }
        if r2_1 - r2_0 < replies {
            f.push(format!(
                "r2 iifname eth0v10 counter +{}, fewer than {replies} replies",
                r2_1 - r2_0
            ));
        }
        if r1_1 != r1_0 {
            f.push(format!(
                "r1 iifname eth0v10 counter moved by {}",
                r1_1 - r1_0
            ));
        }
        Ok(Outcome::from_failures(&f))
    }

    async fn failover_arp<W: Write>(&mut self, tap: &mut Tap<W>) -> Result<Outcome, String> {
        let mut f = match self.begin_ours_check(&[(R::R2, V10)]) {
            Ok(f) => f,
            Err(skip) => return Ok(skip),
        };
        let p = ping::ping(&self.r2, GW_IP, 3);
        let gw_mac = link(&self.ngw, "eth0").await?.address.unwrap_or_default();
        let neigh = neighbours(&self.nr2, V10).await?;
        let n = neigh.iter().find(|n| n.dst == Some(IpAddr::V4(GW_IP)));
        let c = "failover_arp_on_r2_upper";
        self.tr.obs(c, "r2 ping gw", p.ratio());
        self.tr.obs(
            c,
            "r2 eth0v10 neighbour gw",
            neigh_obs(n, &[(&gw_mac, "gw eth0's MAC")]),
        );
        tap.diag(&format!(
            "r2 ping {GW_IP}: {}; r2 eth0v10 neighbour {GW_IP}: {}",
            p.ratio(),
            n.map(|n| format!(
                "{} {}",
                n.lladdr.as_deref().map(fmt_mac).unwrap_or_default(),
                crate::addr::state_name(&n.state)
            ))
            .unwrap_or_else(|| "none".into())
        ));
        if p.replies() == 0 {
            f.push(format!("r2 ping {GW_IP}: {}", p.ratio()));
        }
        match n {
            None => f.push(format!("no neighbour {GW_IP} on r2 eth0v10")),
            Some(n) if !n.is_resolved() => f.push(format!(
                "neighbour {GW_IP} on r2 eth0v10 is {}",
                crate::addr::state_name(&n.state)
            )),
            Some(n) if n.lladdr.as_deref() != Some(&gw_mac[..]) => f.push(format!(
                "neighbour {GW_IP} on r2 eth0v10 has {:?}, expected {}",
                n.lladdr.as_deref().map(fmt_mac),
                fmt_mac(&gw_mac)
            )),
            Some(_) => {}
        }
        Ok(Outcome::from_failures(&f))
    }

    // ---- check 9: the inside group -------------------------------------------

    /// lan pings 192.168.1.254 and reports what its neighbour entry says.
    async fn lan_ping_vip(&self) -> Result<(ping::PingResult, Option<Neigh>), String> {
        let p = ping::ping(&self.lan, VIP_IN, 3);
        let neigh = neighbours(&self.nlan, "eth0").await?;
        let n = neigh
            .into_iter()
            .find(|n| n.dst == Some(IpAddr::V4(VIP_IN)));
        Ok((p, n))
    }

    /// Forget lan's entry for the VIP and r1's entries for lan.
    async fn flush_inside_neighbours(&self) -> Result<(), String> {
        let lan0 = index(&self.nlan, "eth0").await?;
        self.nlan
            .neigh4_del(lan0, VIP_IN)
            .await
            .map_err(err("RTM_DELNEIGH lan"))?;
        for dev in ["eth1", V20] {
            let i = index(&self.nr1, dev).await?;
            self.nr1
                .neigh4_del(i, LAN_IP)
                .await
                .map_err(err(format!("RTM_DELNEIGH r1 {dev}")))?;
        }
        Ok(())
    }

    async fn inside_arp<W: Write>(&mut self, tap: &mut Tap<W>) -> Result<Outcome, String> {
        let mut f = match self.begin_ours_check(&[(R::R1, V20), (R::R2, V20)]) {
            Ok(f) => f,
            Err(skip) => return Ok(skip),
        };
        let want = vmac(Family::Ipv4, 20);
        let r1_eth1 = link(&self.nr1, "eth1").await?.address.unwrap_or_default();
        let owner = |mac: Option<&[u8]>| match mac {
            Some(m) if m == want => format!("{} (the VMAC, r1 eth1v20)", fmt_mac(m)),
            Some(m) if m == r1_eth1.as_slice() => {
                format!("{} (r1 eth1, the lower device)", fmt_mac(m))
            }
            Some(m) => fmt_mac(m),
            None => "no lladdr".into(),
        };
        let show = |n: &Option<Neigh>| {
            n.as_ref().map_or("none".to_string(), |n| {
                format!(
                    "{} {}",
                    owner(n.lladdr.as_deref()),
                    crate::addr::state_name(&n.state)
                )
            })
        };

        // As the 2014 write-up configured it (arp_announce 0): r1 answers
        // the echo through eth1 (the lower's connected route comes first)
        // and its ARP request for lan carries sender IP 192.168.1.254 with
        // eth1's MAC, which rebinds lan's entry for the VIP.
        let (p, n) = self.lan_ping_vip().await?;
        let c = "inside_lan_arp_vip";
        self.tr.obs(c, "arp_announce 0: lan ping VIP", p.ratio());
        self.tr.obs(
            c,
            "arp_announce 0: lan neighbour VIP",
            neigh_obs(
                n.as_ref(),
                &[(&r1_eth1, "r1 eth1's MAC (the lower device)")],
            ),
        );
        tap.diag(&format!(
            "arp_announce 0 on r1 eth1: lan ping {VIP_IN}: {}; lan neighbour {VIP_IN}: {}",
            p.ratio(),
            show(&n)
        ));
        if p.replies() == 0 {
            f.push(format!("lan ping {VIP_IN} (arp_announce 0): {}", p.ratio()));
        }

        // arp_announce 2 on the lower devices: ARP requests from eth1 carry
        // eth1's own address, and the VIP stays on the VMAC.
        for ns in [&self.r1, &self.r2] {
            sysctl(ns, "net.ipv4.conf.eth1.arp_announce", "2")?;
        }
        self.flush_inside_neighbours().await?;
        let (p, n) = self.lan_ping_vip().await?;
        self.tr.obs(c, "arp_announce 2: lan ping VIP", p.ratio());
        self.tr.obs(
            c,
            "arp_announce 2: lan neighbour VIP",
            neigh_obs(
                n.as_ref(),
                &[(&r1_eth1, "r1 eth1's MAC (the lower device)")],
            ),
        );
        tap.diag(&format!(
            "arp_announce 2 on r1 eth1: lan ping {VIP_IN}: {}; lan neighbour {VIP_IN}: {}",
            p.ratio(),
            show(&n)
        ));
        if p.replies() == 0 {
            f.push(format!("lan ping {VIP_IN}: {}", p.ratio()));
        }
        match &n {
            Some(n) if n.is_resolved() && n.lladdr.as_deref() == Some(&want[..]) => {}
            Some(_) => f.push(format!(
                "lan neighbour {VIP_IN}: {}, expected {} resolved",
                show(&n),
                fmt_mac(&want)
            )),
            None => f.push(format!("lan has no neighbour entry for {VIP_IN}")),
        }
        Ok(Outcome::from_failures(&f))
    }

    async fn inside_reach<W: Write>(&mut self, tap: &mut Tap<W>) -> Result<Outcome, String> {
        let mut f = match self.begin_ours_check(&[(R::R1, V20)]) {
            Ok(f) => f,
            Err(skip) => return Ok(skip),
        };
        let p = ping_check(tap, &self.r1, LAN_IP, &mut f);
        self.tr
            .obs("inside_r1_reaches_lan", "r1 ping lan", p.ratio());
        Ok(Outcome::from_failures(&f))
    }

    // ---- teardown ------------------------------------------------------------

    async fn teardown(mut self) -> (Outcome, Transcript) {
        let mut f = Vec::new();
        if self.guard.armed {
            f.extend(self.guard.restore());
        }
        drop((self.ngw, self.nsw, self.nr1, self.nr2, self.nlan));
        drop(self.tasks);
        tokio::task::yield_now().await;
        for ns in [self.gw, self.sw, self.r1, self.r2, self.lan] {
            let name = ns.name().to_string();
            if let Err(e) = ns.delete() {
                f.push(format!("deleting {name}: {e:#}"));
            }
        }
        if let Outcome::Fail(m) = names_gone(&ALL_NS) {
            f.push(m);
        }
        self.tr
            .specific("teardown", "modules at the end", Subject::modules());
        let state = self.subject.loaded_alone();
        if !state.is_empty() {
            f.push(format!("at the end: {}", state.join("; ")));
        }
        (Outcome::from_failures(&f), std::mem::take(&mut self.tr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_names_are_unique_and_greppable() {
        let mut seen = std::collections::BTreeSet::new();
        for t in TESTS {
            assert!(seen.insert(*t), "duplicate {t}");
            assert!(
                t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{t}"
            );
        }
        assert_eq!(TESTS.first(), Some(&"module_loaded"));
        assert_eq!(TESTS.last(), Some(&"teardown"));
    }

    #[test]
    fn scenario_macs() {
        assert_eq!(fmt_mac(&vmac(Family::Ipv4, 10)), "00:00:5e:00:01:0a");
        assert_eq!(fmt_mac(&vmac(Family::Ipv6, 10)), "00:00:5e:00:02:0a");
        assert_eq!(fmt_mac(&vmac(Family::Ipv4, 20)), "00:00:5e:00:01:14");
        for name in [V10, V10_6, V11, V20] {
            assert!(name.len() < libc::IFNAMSIZ && !name.contains('.'));
        }
    }

    #[test]
    fn transcript_macs_are_named_not_printed() {
        let gw = [0x46, 0x19, 0x93, 0xe2, 0x18, 0x43];
        let known: &[(&[u8], &str)] = &[(&gw, "gw eth0's MAC")];
        assert_eq!(mac_obs(Some(&gw), known), "gw eth0's MAC");
        assert_eq!(
            mac_obs(Some(&vmac(Family::Ipv4, 20)), known),
            "00:00:5e:00:01:14"
        );
        assert_eq!(mac_obs(Some(&[2, 0, 0, 0, 0, 1]), known), "another MAC");
        assert_eq!(mac_obs(None, known), "none");
        assert_eq!(neigh_obs(None, known), "none");
    }

    #[test]
    fn diff_checks_cover_the_plan() {
        assert_eq!(DIFF_TESTS, TESTS.len() + 1);
        assert_eq!(
            Subject::CPatched(PathBuf::new()).driver(),
            C_DRIVER,
            "the patched C driver's devices report the C driver's name"
        );
    }

    #[test]
    fn landing_expectations() {
        let l = Landing {
            sent: 20,
            lower: 20,
            counter_before: Some(3),
            counter_after: Some(23),
            ..Default::default()
        };
        let mut f = Vec::new();
        l.expect(true, V10, &mut f);
        assert!(f.is_empty(), "{f:?}");
        l.expect(false, V10, &mut f);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(l.counter_delta(), Some(20));
        assert!(l.describe(V10).contains("r2 eth0 20, r2 eth0v10 0"));
    }
}
