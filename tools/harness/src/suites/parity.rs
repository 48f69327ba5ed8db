//! The parity suite: the same scenarios against the C `macvlan.ko` of the
//! running kernel and against `macvlan_vrrp.ko`, in one boot, one driver
//! after the other (rmmod between), then compared cell by cell.
//!
//! ```text
//!   ext: eth0 (E, 02:00:00:00:00:0e)
//!          |
//!   sw:  br0 (snooping off) -- sw-ext (learning off)
//!                           -- sw-dut (hairpin on: VEPA reflection)
//!          |
//!   dut: eth0 (L, 02:00:00:00:00:01)
//!          +-- u1 (02:00:00:00:01:01)
//!          +-- u2 (02:00:00:00:01:02)
//! ```
//!
//! 1. Delivery matrix: for each mode, every (sender, frame class) is sent
//!    once with its own tag (IPv4 identification) and the receiving devices
//!    are read from protocol-specific packet sockets (`ETH_P_IP`, by
//!    `sll_ifindex`) in dut and ext. The C matrix must equal ours, and
//!    both must equal the table in Documentation/macvlan-modes.rst.
//! 2. Netlink: RTM_GETLINK attributes and `ip -d -j link show` of the
//!    same configurations; errno of the same invalid requests; state after
//!    a failed changelink.
//! 3. Faults: lower deleted under uppers, lower MTU down/up, rmmod with
//!    devices present.
//! 4. Lifecycle (ours): many uppers on one lower; an upper moved to
//!    another namespace.
//!
//! The plan is printed at the end: a difference is one failed check named
//! after its cell, so the number of checks depends on the results.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rtnetlink::packet_route::link::{LinkAttribute, LinkMessage};

use crate::capture::{wait_until, PacketLog, PacketSender};
use crate::ethtool;
use crate::frames::{self, ETH_P_IP};
use crate::kmod::{self, C_DRIVER, OURS};
use crate::link::{
    bridge_msg, bridge_nosnoop_msg, ifla_macvlan as ml, macvlan_change_msg, macvlan_mode,
    macvlan_msg, mtu_msg, netns_msg, veth_msg, with_address, Link, RawNla,
};
use crate::netns::Netns;
use crate::nl::{errno_name, Nl, NlError, NlTask};
use crate::suites::common::{
    add_switch_port, create_connected, err, expect_driver, index, link, names_gone,
};
use crate::suites::parity_review::{
    self, Dut, Review, FLUSH_OTHER_UPPERS, FLUSH_PER_OTHER, FLUSH_PER_UPPER,
};
use crate::tap::{Outcome, Tap};
use crate::vrrp::fmt_mac;
use mvv_netlink::rtnetlink;

const NS_DUT: &str = "dut";
const NS_SW: &str = "sw";
const NS_EXT: &str = "ext";
const NS_OTHER: &str = "other";
const ALL_NS: [&str; 4] = [NS_DUT, NS_SW, NS_EXT, NS_OTHER];

const L_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const E_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0e];
const U1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x01];
const U2_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x02];
/// The MAC of the devices of the netlink comparisons.
const NL_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x03, 0x01];
const SRC_A: [u8; 6] = [0x02, 0, 0, 0, 0x04, 0x01];
const SRC_B: [u8; 6] = [0x02, 0, 0, 0, 0x04, 0x02];
const MCAST_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];
const ALL_HOSTS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);
/// UDP destination port of every matrix frame.
const PORT: u16 = 9999;

const FLAG_NOPROMISC: u16 = 1;
const FLAG_NODST: u16 = 2;
const MACADDR_ADD: u32 = 0;
const MACADDR_SET: u32 = 3;

/// The documentation the matrix is checked against (compiled in, so the
/// binary in the VM carries the table it was built with).
pub const MODES_DOC: &str = include_str!("../../../../Documentation/macvlan-modes.rst");

// ---- the matrix ---------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sender {
    E,
    U1,
    U2,
}

impl Sender {
    pub const ALL: [Sender; 3] = [Sender::E, Sender::U1, Sender::U2];
    pub fn name(self) -> &'static str {
        match self {
            Sender::E => "E",
            Sender::U1 => "U1",
            Sender::U2 => "U2",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    UcU1,
    UcU2,
    UcL,
    Bcast,
    Mcast,
    McastSrcU1,
}

impl Class {
    pub const ALL: [Class; 6] = [
        Class::UcU1,
        Class::UcU2,
        Class::UcL,
        Class::Bcast,
        Class::Mcast,
        Class::McastSrcU1,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Class::UcU1 => "uc-U1",
            Class::UcU2 => "uc-U2",
            Class::UcL => "uc-L",
            Class::Bcast => "bcast",
            Class::Mcast => "mcast",
            Class::McastSrcU1 => "mcast-src-U1",
        }
    }
}

/// One row group of the matrix: a mode set-up.
#[derive(Clone, Copy, Debug)]
pub struct ModeRow {
    pub name: &'static str,
    u1_mode: u32,
    u1_flags: Option<u16>,
    /// U2's mode; None: no U2 (passthru allows one upper device).
    u2_mode: Option<u32>,
    /// U1 has E's MAC in its source list.
    source_list: bool,
    /// Only our driver knows this mode.
    ours_only: bool,
}

pub const MODE_ROWS: [ModeRow; 7] = [
    ModeRow {
        name: "private",
        u1_mode: macvlan_mode::PRIVATE,
        u1_flags: None,
        u2_mode: Some(macvlan_mode::PRIVATE),
        source_list: false,
        ours_only: false,
    },
    ModeRow {
        name: "vepa",
        u1_mode: macvlan_mode::VEPA,
        u1_flags: None,
        u2_mode: Some(macvlan_mode::VEPA),
        source_list: false,
        ours_only: false,
    },
    ModeRow {
        name: "bridge",
        u1_mode: macvlan_mode::BRIDGE,
        u1_flags: None,
        u2_mode: Some(macvlan_mode::BRIDGE),
        source_list: false,
        ours_only: false,
    },
    ModeRow {
        name: "passthru",
        u1_mode: macvlan_mode::PASSTHRU,
        u1_flags: None,
        u2_mode: None,
        source_list: false,
        ours_only: false,
    },
    ModeRow {
        name: "source",
        u1_mode: macvlan_mode::SOURCE,
        u1_flags: None,
        u2_mode: Some(macvlan_mode::PRIVATE),
        source_list: true,
        ours_only: false,
    },
    ModeRow {
        name: "source-nodst",
        u1_mode: macvlan_mode::SOURCE,
        u1_flags: Some(FLAG_NODST),
        u2_mode: Some(macvlan_mode::PRIVATE),
        source_list: true,
        ours_only: false,
    },
    ModeRow {
        name: "vrrp",
        u1_mode: macvlan_mode::VRRP,
        u1_flags: None,
        u2_mode: Some(macvlan_mode::VRRP),
        source_list: false,
        ours_only: true,
    },
];

/// (sender, class) -> receivers, e.g. "U1,E", "-" (nowhere), "n/a".
pub type Matrix = BTreeMap<(Sender, Class), String>;

/// Whether the cell is measured: the spoofed-source class is sent by E
/// only, and passthru has no U2 to send from.
fn cell_applies(row: &ModeRow, s: Sender, c: Class) -> bool {
    !(c == Class::McastSrcU1 && s != Sender::E || s == Sender::U2 && row.u2_mode.is_none())
}

/// Receivers in the fixed order L, U1, U2, E, with a count when a device
/// got a frame more than once.
fn cell_text(counts: &BTreeMap<&'static str, u32>) -> String {
    let mut parts = Vec::new();
    for r in ["L", "U1", "U2", "E"] {
        match counts.get(r).copied().unwrap_or(0) {
            0 => {}
            1 => parts.push(r.to_string()),
            n => parts.push(format!("{r}x{n}")),
        }
    }
    for (r, n) in counts {
        if !["L", "U1", "U2", "E"].contains(r) && *n > 0 {
            parts.push(format!("{r}x{n}"));
        }
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(",")
    }
}

/// Parse the `delivery-matrix` list-table of macvlan-modes.rst into
/// mode -> matrix.
pub fn parse_doc_table(doc: &str) -> Result<BTreeMap<String, Matrix>, String> {
    let mut lines = doc
        .lines()
        .skip_while(|l| l.trim() != ":name: delivery-matrix");
    if lines.next().is_none() {
        return Err("no list-table with :name: delivery-matrix".into());
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    for l in lines {
        let t = l.trim_start();
        if l.trim().is_empty() || t.starts_with(':') {
            continue;
        }
        if !l.starts_with("   ") {
            break;
        }
        if let Some(first) = t.strip_prefix("* - ") {
            rows.push(vec![first.trim().to_string()]);
        } else if let Some(cell) = t.strip_prefix("- ") {
            match rows.last_mut() {
                Some(r) => r.push(cell.trim().to_string()),
                None => return Err(format!("cell before the first row: {l:?}")),
            }
        } else {
            return Err(format!("unexpected line in the table: {l:?}"));
        }
    }
    let header = rows.first().ok_or("empty table")?;
    let want: Vec<&str> = ["Mode", "Sender"]
        .into_iter()
        .chain(Class::ALL.iter().map(|c| c.name()))
        .collect();
    if header.iter().map(String::as_str).collect::<Vec<_>>() != want {
        return Err(format!("header {header:?}, expected {want:?}"));
    }
    let mut out: BTreeMap<String, Matrix> = BTreeMap::new();
    for r in &rows[1..] {
        if r.len() != want.len() {
            return Err(format!(
                "row {r:?} has {} cells, expected {}",
                r.len(),
                want.len()
            ));
        }
        let sender = Sender::ALL
            .into_iter()
            .find(|s| s.name() == r[1])
            .ok_or_else(|| format!("unknown sender {:?}", r[1]))?;
        let m = out.entry(r[0].clone()).or_default();
        for (i, c) in Class::ALL.iter().enumerate() {
            m.insert((sender, *c), r[2 + i].replace('`', ""));
        }
    }
    Ok(out)
}

/// The list-table rows for `matrices` (mode order of MODE_ROWS), as they
/// are pasted into the documentation.
pub fn doc_table_rows(matrices: &BTreeMap<String, Matrix>) -> String {
    let mut s = String::new();
    for row in MODE_ROWS {
        let Some(m) = matrices.get(row.name) else {
            continue;
        };
        for snd in Sender::ALL {
            s.push_str(&format!("   * - {}\n     - {}\n", row.name, snd.name()));
            for c in Class::ALL {
                let v = m.get(&(snd, c)).map(String::as_str).unwrap_or("?");
                s.push_str(&format!("     - {v}\n"));
            }
        }
    }
    s
}

fn print_matrix<W: Write>(tap: &mut Tap<W>, title: &str, m: &Matrix) {
    let mut s = format!("{title}\n{:<6}", "sender");
    for c in Class::ALL {
        s.push_str(&format!(" {:<14}", c.name()));
    }
    for snd in Sender::ALL {
        s.push_str(&format!("\n{:<6}", snd.name()));
        for c in Class::ALL {
            let v = m.get(&(snd, c)).map(String::as_str).unwrap_or("?");
            s.push_str(&format!(" {v:<14}"));
        }
    }
    tap.diag(&s);
}

// ---- netlink cases ------------------------------------------------------

fn macaddr_data(macs: &[[u8; 6]]) -> RawNla {
    let mut v = Vec::new();
    for m in macs {
        v.extend(RawNla::bytes(ml::MACADDR, m).encode());
    }
    RawNla::bytes(ml::MACADDR_DATA, &v)
}

/// IFLA_MACVLAN_MODE `m`, then `rest`.
fn mode_and(m: u32, rest: impl IntoIterator<Item = RawNla>) -> Vec<RawNla> {
    let mut v = vec![RawNla::macvlan_mode(m)];
    v.extend(rest);
    v
}

/// MACADDR_MODE add with one MACADDR: `mac` into the source list.
fn macaddr_add(mac: &[u8]) -> [RawNla; 2] {
    [
        RawNla::u32(ml::MACADDR_MODE, MACADDR_ADD),
        RawNla::bytes(ml::MACADDR, mac),
    ]
}

/// Valid configurations, created with NL_MAC on L and compared.
fn nl_configs() -> Vec<(&'static str, Vec<RawNla>)> {
    use macvlan_mode::{BRIDGE, PASSTHRU, PRIVATE, SOURCE, VEPA};
    let flags = |f| [RawNla::u16(ml::FLAGS, f)];
    vec![
        ("default", vec![]),
        ("private", mode_and(PRIVATE, [])),
        ("vepa", mode_and(VEPA, [])),
        ("bridge", mode_and(BRIDGE, [])),
        ("passthru", mode_and(PASSTHRU, [])),
        ("source", mode_and(SOURCE, [])),
        ("bridge_nopromisc", mode_and(BRIDGE, flags(FLAG_NOPROMISC))),
        (
            "passthru_nopromisc",
            mode_and(PASSTHRU, flags(FLAG_NOPROMISC)),
        ),
        ("source_nodst", mode_and(SOURCE, flags(FLAG_NODST))),
        (
            "bridge_bc_queue_len",
            mode_and(BRIDGE, [RawNla::u32(ml::BC_QUEUE_LEN, 77)]),
        ),
        (
            "bridge_bc_cutoff",
            mode_and(BRIDGE, [RawNla::bytes(ml::BC_CUTOFF, &5i32.to_ne_bytes())]),
        ),
        (
            "source_maclist",
            mode_and(
                SOURCE,
                [
                    RawNla::u32(ml::MACADDR_MODE, MACADDR_SET),
                    macaddr_data(&[SRC_A, SRC_B]),
                ],
            ),
        ),
        ("source_macaddr_add", mode_and(SOURCE, macaddr_add(&SRC_A))),
    ]
}

/// How an invalid create request is built.
enum Bad {
    /// IFLA_INFO_DATA attrs on a create on L (with NL_MAC).
    Data(Vec<RawNla>),
    /// IFLA_ADDRESS multicast.
    McastAddress,
    NoLink,
    NoSuchLink,
    MtuAbove,
    /// A second upper on a lower that has a passthru one.
    SecondOnPassthru,
}

fn bad_creates() -> Vec<(&'static str, Bad)> {
    use macvlan_mode::{BRIDGE, SOURCE, VRRP};
    let data = |m, rest: Vec<RawNla>| Bad::Data(mode_and(m, rest));
    let macaddr_mode = |m| RawNla::u32(ml::MACADDR_MODE, m);
    vec![
        ("mode_0", data(0, vec![])),
        ("mode_3", data(3, vec![])),
        ("mode_64", data(64, vec![])),
        ("mode_32_vrrp", data(VRRP, vec![])),
        (
            "unknown_flags",
            data(BRIDGE, vec![RawNla::u16(ml::FLAGS, 0x80)]),
        ),
        (
            "macaddr_mode_outside_source",
            data(BRIDGE, macaddr_add(&SRC_A).to_vec()),
        ),
        ("bad_macaddr_mode", data(SOURCE, vec![macaddr_mode(7)])),
        (
            "macaddr_short",
            data(SOURCE, macaddr_add(&SRC_A[..5]).to_vec()),
        ),
        (
            "macaddr_multicast",
            data(SOURCE, macaddr_add(&MCAST_MAC).to_vec()),
        ),
        (
            "macaddr_data_wrong_type",
            data(
                SOURCE,
                vec![
                    macaddr_mode(MACADDR_SET),
                    RawNla::bytes(ml::MACADDR_DATA, &RawNla::bytes(ml::MODE, &SRC_A).encode()),
                ],
            ),
        ),
        (
            "macaddr_data_multicast",
            data(
                SOURCE,
                vec![macaddr_mode(MACADDR_SET), macaddr_data(&[MCAST_MAC])],
            ),
        ),
        (
            "macaddr_count_given",
            data(SOURCE, vec![RawNla::u32(ml::MACADDR_COUNT, 3)]),
        ),
        (
            "bc_queue_len_used_given",
            data(BRIDGE, vec![RawNla::u32(ml::BC_QUEUE_LEN_USED, 3)]),
        ),
        ("ifla_address_multicast", Bad::McastAddress),
        ("missing_ifla_link", Bad::NoLink),
        ("nonexistent_link", Bad::NoSuchLink),
        ("mtu_above_lower", Bad::MtuAbove),
        ("second_on_passthru", Bad::SecondOnPassthru),
    ]
}

/// Failed changelinks: (name, mode the device is created in with a source
/// list when source, the changelink attrs).
fn bad_changes() -> Vec<(&'static str, u32, Vec<RawNla>)> {
    let mode = RawNla::macvlan_mode;
    vec![
        ("cl_mode_3", macvlan_mode::BRIDGE, vec![mode(3)]),
        (
            "cl_to_passthru",
            macvlan_mode::BRIDGE,
            vec![mode(macvlan_mode::PASSTHRU)],
        ),
        (
            "cl_from_passthru",
            macvlan_mode::PASSTHRU,
            vec![mode(macvlan_mode::BRIDGE)],
        ),
        (
            "cl_unknown_flags",
            macvlan_mode::BRIDGE,
            vec![RawNla::u16(ml::FLAGS, 0x80)],
        ),
        (
            "cl_source_to_bridge_with_macaddr_mode",
            macvlan_mode::SOURCE,
            mode_and(macvlan_mode::BRIDGE, macaddr_add(&SRC_B)),
        ),
        (
            "cl_flags_and_queue_then_macaddr_mode",
            macvlan_mode::BRIDGE,
            [
                [
                    RawNla::u16(ml::FLAGS, FLAG_NOPROMISC),
                    RawNla::u32(ml::BC_QUEUE_LEN, 55),
                ],
                macaddr_add(&SRC_B),
            ]
            .concat(),
        ),
        (
            "cl_source_bad_macaddr_mode",
            macvlan_mode::SOURCE,
            vec![RawNla::u32(ml::MACADDR_MODE, 7)],
        ),
    ]
}

/// The behaviours tied to IFF_MACVLAN / IFF_MACVLAN_PORT, which our driver
/// does not set; listed, not measured.
pub const IFF_MACVLAN_DIFFERENCES: [&str; 4] = [
    "VLAN reorder_hdr: with reorder_hdr off, vlan_core.c vlan_do_receive() re-inserts the tag into the frame unless the VLAN device is netif_is_macvlan_port(); the C driver marks a VLAN lower IFF_MACVLAN_PORT, ours does not, so our uppers on such a VLAN device get the tag back in the data (VRRP mode reads past it: the lowers suite runs FRR vrrpd over such a device)",
    "bonding ALB: bond_alb.c alb_send_learning_packets() also sends learning packets for the MACs of netif_is_macvlan() uppers of the bond; our uppers get none",
    "L2 forwarding offload (NETIF_F_HW_L2FW_DOFFLOAD): the C driver asks the lower for ndo_dfwd_add_station(), and drivers such as ixgbe accept only netif_is_macvlan() devices; ours never asks",
    "NIC/switch offload drivers (mlxsw router, mlx5 TC) that look for netif_is_macvlan() uppers do not recognise ours",
];

// ---- per-driver observations ----------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drv {
    C,
    Ours,
}

impl Drv {
    fn module(self) -> &'static str {
        match self {
            Drv::C => C_DRIVER,
            Drv::Ours => OURS,
        }
    }
    fn tag(self) -> &'static str {
        match self {
            Drv::C => "c",
            Drv::Ours => "ours",
        }
    }
}

type NlResult = Result<(), (i32, Option<String>)>;
/// A changelink's result, and the device's RTM_GETLINK before and after.
type ChangeObs = (NlResult, Vec<String>, Vec<String>);

struct Obs {
    /// Devices checked with ETHTOOL_GDRVINFO, and the failures.
    drivers_checked: u32,
    driver_failures: Vec<String>,
    matrices: BTreeMap<String, Result<Matrix, String>>,
    /// config -> (RTM_GETLINK summary, `ip -d -j` JSON)
    configs: BTreeMap<String, Result<(Vec<String>, serde_json::Value), String>>,
    creates: BTreeMap<String, Result<NlResult, String>>,
    /// changelink -> (result, state before, state after)
    changes: BTreeMap<String, Result<ChangeObs, String>>,
    lower_delete: Result<(), String>,
    /// MTUs of (L, u1, u2) after lower 1400, after lower 9000, after u1 set 9000
    mtu: Result<Vec<(u32, u32, u32)>, String>,
    unload: Result<(), String>,
    netns_move: Result<String, String>,
    many: Result<String, String>,
    /// The review cases (`parity_review`).
    review: Review,
    /// Diagnostics to print after the run.
    diags: Vec<String>,
}

impl Default for Obs {
    fn default() -> Self {
        Obs {
            drivers_checked: 0,
            driver_failures: Vec::new(),
            matrices: BTreeMap::new(),
            configs: BTreeMap::new(),
            creates: BTreeMap::new(),
            changes: BTreeMap::new(),
            lower_delete: Err("not run".into()),
            mtu: Err("not run".into()),
            unload: Err("not run".into()),
            netns_move: Err("not run".into()),
            many: Err("not run".into()),
            review: Review::default(),
            diags: Vec::new(),
        }
    }
}

fn nl_res(r: Result<(), NlError>) -> Result<NlResult, String> {
    match r {
        Ok(()) => Ok(Ok(())),
        Err(NlError::Kernel { errno, ext }) => Ok(Err((errno, ext.msg))),
        Err(e) => Err(e.to_string()),
    }
}

fn show_res(r: &NlResult) -> String {
    match r {
        Ok(()) => "success".into(),
        Err((e, m)) => format!(
            "{}{}",
            errno_name(*e),
            m.as_ref()
                .map(|m| format!(" (\"{m}\")"))
                .unwrap_or_default()
        ),
    }
}

fn mtu_of(l: &Link) -> u32 {
    l.raw
        .attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::Mtu(m) => Some(*m),
            _ => None,
        })
        .unwrap_or(0)
}

/// The RTM_GETLINK reply, minus what legitimately differs between two
/// devices made one after the other (ifindex, counters, timestamps).
fn link_summary(l: &Link) -> Vec<String> {
    const SKIP: [&str; 12] = [
        "Stats(",
        "Stats64(",
        "AfSpec",
        "Xdp(",
        "Event(",
        "CarrierChanges(",
        "CarrierUpCount(",
        "CarrierDownCount(",
        "ProtoInfo",
        "Map(",
        "NewIfIndex(",
        "PermAddress(",
    ];
    let mut v = vec![format!("flags {:?}", l.flags)];
    for a in &l.raw.attributes {
        let s = format!("{a:?}");
        if !SKIP.iter().any(|p| s.starts_with(p)) {
            v.push(s);
        }
    }
    v
}

fn ip_json(ns: &Netns, dev: &str) -> Result<serde_json::Value, String> {
    let r = kmod::run(
        ns.command("ip")
            .args(["-d", "-j", "link", "show", "dev", dev]),
    );
    if !r.success {
        return Err(format!("ip -d -j link show {dev}: {}", r.summary()));
    }
    let mut v: serde_json::Value =
        serde_json::from_str(&r.output).map_err(err(format!("ip -j output of {dev}")))?;
    if let Some(arr) = v.as_array_mut() {
        for o in arr.iter_mut().filter_map(|o| o.as_object_mut()) {
            o.remove("ifindex");
        }
    }
    Ok(v)
}

/// Paths where two JSON values differ.
fn json_diff(a: &serde_json::Value, b: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => json_diff(u, v, &p, out),
                    (u, v) => out.push(format!("{p}: C {u:?}, ours {v:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                json_diff(u, v, &format!("{path}[{i}]"), out);
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: C {a}, ours {b}")),
    }
}

fn list_diff(a: &[String], b: &[String]) -> Vec<String> {
    let mut d = Vec::new();
    for x in a {
        if !b.contains(x) {
            d.push(format!("only C: {x}"));
        }
    }
    for x in b {
        if !a.contains(x) {
            d.push(format!("only ours: {x}"));
        }
    }
    d
}

struct Env {
    dut: Netns,
    sw: Netns,
    ext: Netns,
    other: Netns,
    ndut: Nl,
    nsw: Nl,
    next: Nl,
    nother: Nl,
    _tasks: Vec<NlTask>,
    tag: u16,
    module: PathBuf,
    /// Upper devices in `many_uppers`.
    uppers: usize,
}

async fn setup() -> Result<Env, String> {
    let ([dut, sw, ext, other], [ndut, nsw, next, nother], tasks) = create_connected(ALL_NS)?;
    let env = Env {
        dut,
        sw,
        ext,
        other,
        ndut,
        nsw,
        next,
        nother,
        _tasks: tasks,
        tag: 0x6000,
        module: PathBuf::new(),
        uppers: 0,
    };
    for (ns, nl) in [
        (&env.dut, &env.ndut),
        (&env.sw, &env.nsw),
        (&env.ext, &env.next),
        (&env.other, &env.nother),
    ] {
        ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1")
            .map_err(err("sysctl"))?;
        ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1")
            .map_err(err("sysctl"))?;
        let lo = index(nl, "lo").await?;
        nl.link_up(lo).await.map_err(err("lo up"))?;
    }
    env.nsw
        .link_add(bridge_nosnoop_msg("br0"))
        .await
        .map_err(err("bridge br0"))?;
    let br = index(&env.nsw, "br0").await?;
    env.nsw.link_up(br).await.map_err(err("br0 up"))?;
    for (port, ns, mac) in [("sw-dut", &env.dut, L_MAC), ("sw-ext", &env.ext, E_MAC)] {
        add_switch_port(&env.nsw, port, "br0", ns, "eth0").await?;
        let nl = if ns.name() == NS_DUT {
            &env.ndut
        } else {
            &env.next
        };
        let i = index(nl, "eth0").await?;
        nl.link_set(addr_msg(i, &mac))
            .await
            .map_err(err(format!("address of eth0 in {}", ns.name())))?;
        nl.link_up(i).await.map_err(err("eth0 up"))?;
    }
    // A switch that knows every station from the start: static FDB entries
    // and no learning, so that no cell depends on what an earlier cell (or
    // the other driver's run) taught the bridge; E's spoofed source MAC
    // cannot move U1's entry either.
    let mut cmds: Vec<Vec<String>> = vec![
        "link set dev sw-dut hairpin on learning off"
            .split(' ')
            .map(String::from)
            .collect(),
        "link set dev sw-ext learning off"
            .split(' ')
            .map(String::from)
            .collect(),
    ];
    for (mac, port) in [
        (L_MAC, "sw-dut"),
        (U1_MAC, "sw-dut"),
        (U2_MAC, "sw-dut"),
        (E_MAC, "sw-ext"),
    ] {
        cmds.push(
            [
                "fdb",
                "replace",
                &fmt_mac(&mac),
                "dev",
                port,
                "master",
                "static",
            ]
            .map(String::from)
            .to_vec(),
        );
    }
    for args in cmds {
        let r = kmod::run(env.sw.command("bridge").args(&args));
        if !r.success {
            return Err(format!("bridge {}: {}", args.join(" "), r.summary()));
        }
    }
    Ok(env)
}

fn addr_msg(index: u32, mac: &[u8]) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.attributes.push(LinkAttribute::Address(mac.to_vec()));
    m
}

fn frame_for(
    s: Sender,
    c: Class,
    macs: &BTreeMap<Sender, [u8; 6]>,
    l_mac: [u8; 6],
    tag: u16,
) -> Vec<u8> {
    let src_mac = if c == Class::McastSrcU1 {
        macs[&Sender::U1]
    } else {
        macs[&s]
    };
    let (dst_mac, dst_ip) = match c {
        Class::UcU1 => (macs[&Sender::U1], Ipv4Addr::new(10, 9, 0, 11)),
        Class::UcU2 => (macs[&Sender::U2], Ipv4Addr::new(10, 9, 0, 12)),
        Class::UcL => (l_mac, Ipv4Addr::new(10, 9, 0, 1)),
        Class::Bcast => (frames::BROADCAST, Ipv4Addr::BROADCAST),
        Class::Mcast | Class::McastSrcU1 => (MCAST_MAC, ALL_HOSTS),
    };
    let src_ip = Ipv4Addr::new(10, 9, 1, s as u8 + 1);
    frames::udp_v4(
        (src_mac, src_ip, 40000),
        (dst_mac, dst_ip, PORT),
        tag,
        b"mvv-parity",
    )
}

impl Env {
    fn expect_driver(&self, ns: &Netns, dev: &str, drv: Drv, obs: &mut Obs) {
        obs.drivers_checked += 1;
        if let Err(e) = expect_driver(ns, dev, drv.module()) {
            obs.driver_failures.push(e);
        }
    }

    async fn add(
        &self,
        name: &str,
        lower: &str,
        mac: Option<[u8; 6]>,
        attrs: &[RawNla],
    ) -> Result<(), NlError> {
        let l = match self.ndut.link_required(lower).await {
            Ok(l) => l.index,
            Err(e) => return Err(e),
        };
        let mut m = macvlan_msg(name, l, attrs);
        if let Some(mac) = mac {
            m = with_address(m, &mac);
        }
        self.ndut.link_add(m).await
    }

    async fn del_macvlans(&self) -> Result<(), String> {
        for nl in [&self.ndut, &self.nother] {
            let links = nl.link_dump().await.map_err(err("RTM_GETLINK dump"))?;
            for l in links
                .iter()
                .filter(|l| l.kind.as_deref() == Some("macvlan"))
            {
                nl.link_del(l.index)
                    .await
                    .map_err(err(format!("deleting {}", l.name)))?;
            }
        }
        Ok(())
    }

    // ---- 1. matrix ------------------------------------------------------

    async fn measure(&mut self, row: &ModeRow, drv: Drv, obs: &mut Obs) -> Result<Matrix, String> {
        let mut a1 = vec![RawNla::macvlan_mode(row.u1_mode)];
        if let Some(f) = row.u1_flags {
            a1.push(RawNla::u16(ml::FLAGS, f));
        }
        if row.source_list {
            a1.extend(macaddr_add(&E_MAC));
        }
        self.add("u1", "eth0", Some(U1_MAC), &a1)
            .await
            .map_err(err(format!("creating u1 ({})", row.name)))?;
        if let Some(m2) = row.u2_mode {
            self.add("u2", "eth0", Some(U2_MAC), &[RawNla::macvlan_mode(m2)])
                .await
                .map_err(err(format!("creating u2 ({})", row.name)))?;
        }
        let mut devs = vec!["u1"];
        if row.u2_mode.is_some() {
            devs.push("u2");
        }
        let mut idx = BTreeMap::new();
        let mut macs = BTreeMap::new();
        macs.insert(Sender::E, E_MAC);
        macs.insert(Sender::U2, U2_MAC);
        for (d, s) in devs.iter().zip([Sender::U1, Sender::U2]) {
            let l = link(&self.ndut, d).await?;
            self.ndut
                .link_up(l.index)
                .await
                .map_err(err(format!("{d} up")))?;
            self.expect_driver(&self.dut, d, drv, obs);
            idx.insert(l.index as i32, if s == Sender::U1 { "U1" } else { "U2" });
            let mac = l
                .address
                .as_deref()
                .and_then(|a| <[u8; 6]>::try_from(a).ok())
                .ok_or(format!("{d}: no address"))?;
            macs.insert(s, mac);
        }
        let lower = index(&self.ndut, "eth0").await?;
        idx.insert(lower as i32, "L");
        let e_idx = index(&self.next, "eth0").await?;

        let mut log_d = PacketLog::open(&self.dut, ETH_P_IP).map_err(err("dut packet socket"))?;
        let mut log_e = PacketLog::open(&self.ext, ETH_P_IP).map_err(err("ext packet socket"))?;
        let mut tags: BTreeMap<u16, (Sender, Class)> = BTreeMap::new();
        let mut senders = BTreeMap::new();
        senders.insert(
            Sender::E,
            PacketSender::open(&self.ext, "eth0").map_err(err("sender E"))?,
        );
        for (d, s) in devs.iter().zip([Sender::U1, Sender::U2]) {
            senders.insert(s, PacketSender::open(&self.dut, d).map_err(err("sender"))?);
        }
        for s in Sender::ALL {
            for c in Class::ALL {
                if !cell_applies(row, s, c) {
                    continue;
                }
                self.tag = self.tag.wrapping_add(1);
                let tag = self.tag;
                tags.insert(tag, (s, c));
                let f = frame_for(s, c, &macs, L_MAC, tag);
                senders[&s]
                    .send(&f)
                    .map_err(err(format!("sending {} {}", s.name(), c.name())))?;
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let fds = [log_d.fd(), log_e.fd()];
        wait_until(
            &fds,
            Duration::from_secs(3),
            Duration::from_millis(1200),
            || {
                log_d.pump();
                log_e.pump();
                true
            },
        );
        let mut counts: BTreeMap<(Sender, Class), BTreeMap<&'static str, u32>> = BTreeMap::new();
        let mut extra = BTreeMap::new();
        for (log, is_ext) in [(&log_d, false), (&log_e, true)] {
            for (ifi, f) in &log.frames {
                let Some(seen) = frames::parse_udp_v4(f) else {
                    continue;
                };
                if seen.id != PORT {
                    continue;
                }
                let Some(cell) = tags.get(&(seen.tag as u16)) else {
                    continue;
                };
                let who: &'static str = if is_ext {
                    if *ifi as u32 == e_idx {
                        "E"
                    } else {
                        "ext-other"
                    }
                } else {
                    idx.get(ifi).copied().unwrap_or("dut-other")
                };
                if who.ends_with("other") {
                    *extra.entry(*ifi).or_insert(0) += 1;
                }
                *counts.entry(*cell).or_default().entry(who).or_default() += 1;
            }
        }
        let mut m = Matrix::new();
        for s in Sender::ALL {
            for c in Class::ALL {
                let v = if cell_applies(row, s, c) {
                    cell_text(counts.get(&(s, c)).unwrap_or(&BTreeMap::new()))
                } else {
                    "n/a".into()
                };
                m.insert((s, c), v);
            }
        }
        drop(senders);
        self.del_macvlans().await?;
        Ok(m)
    }

    // ---- 2. netlink -----------------------------------------------------

    async fn netlink(&self, drv: Drv, obs: &mut Obs) -> Result<(), String> {
        for (name, attrs) in nl_configs() {
            let r = async {
                self.add("nl0", "eth0", Some(NL_MAC), &attrs)
                    .await
                    .map_err(err("create"))?;
                self.expect_driver(&self.dut, "nl0", drv, obs);
                let l = link(&self.ndut, "nl0").await?;
                let j = ip_json(&self.dut, "nl0");
                if name == "source_maclist" {
                    if let Ok(j) = &j {
                        let info = j.pointer("/0/linkinfo").cloned().unwrap_or_default();
                        obs.diags.push(format!(
                            "{}: ip -d -j linkinfo of {name}: {info}",
                            drv.module()
                        ));
                    }
                }
                self.del_macvlans().await?;
                Ok::<_, String>((link_summary(&l), j?))
            }
            .await;
            if r.is_err() {
                let _ = self.del_macvlans().await;
            }
            obs.configs.insert(name.to_string(), r);
        }
        let l_idx = index(&self.ndut, "eth0").await?;
        for (name, bad) in bad_creates() {
            let r = match bad {
                Bad::Data(a) => self.add("nl0", "eth0", Some(NL_MAC), &a).await,
                Bad::McastAddress => self.add("nl0", "eth0", Some(MCAST_MAC), &[]).await,
                Bad::NoLink => {
                    let mut m = macvlan_msg("nl0", l_idx, &[]);
                    m.attributes
                        .retain(|a| !matches!(a, LinkAttribute::Link(_)));
                    self.ndut.link_add(m).await
                }
                Bad::NoSuchLink => self.ndut.link_add(macvlan_msg("nl0", 99999, &[])).await,
                Bad::MtuAbove => {
                    let mut m = macvlan_msg("nl0", l_idx, &[]);
                    m.attributes.push(LinkAttribute::Mtu(9000));
                    self.ndut.link_add(m).await
                }
                Bad::SecondOnPassthru => {
                    match self
                        .add(
                            "pt0",
                            "eth0",
                            None,
                            &[RawNla::macvlan_mode(macvlan_mode::PASSTHRU)],
                        )
                        .await
                    {
                        Ok(()) => {
                            self.expect_driver(&self.dut, "pt0", drv, obs);
                            self.add(
                                "nl0",
                                "eth0",
                                Some(NL_MAC),
                                &[RawNla::macvlan_mode(macvlan_mode::BRIDGE)],
                            )
                            .await
                        }
                        Err(e) => Err(NlError::Transport(format!(
                            "creating the passthru upper: {e}"
                        ))),
                    }
                }
            };
            if r.is_ok() {
                self.expect_driver(&self.dut, "nl0", drv, obs);
            }
            obs.creates.insert(name.to_string(), nl_res(r));
            self.del_macvlans().await?;
        }
        for (name, mode, attrs) in bad_changes() {
            let r = async {
                let mut a = vec![RawNla::macvlan_mode(mode)];
                if mode == macvlan_mode::SOURCE {
                    a.push(RawNla::u32(ml::MACADDR_MODE, MACADDR_SET));
                    a.push(macaddr_data(&[SRC_A]));
                }
                self.add("nl0", "eth0", Some(NL_MAC), &a)
                    .await
                    .map_err(err("create"))?;
                self.expect_driver(&self.dut, "nl0", drv, obs);
                let before = link(&self.ndut, "nl0").await?;
                let r = self
                    .ndut
                    .link_change(macvlan_change_msg(before.index, &attrs))
                    .await;
                let after = link(&self.ndut, "nl0").await?;
                Ok::<_, String>((nl_res(r)?, link_summary(&before), link_summary(&after)))
            }
            .await;
            obs.changes.insert(name.to_string(), r);
            self.del_macvlans().await?;
        }
        Ok(())
    }

    // ---- 3. faults ------------------------------------------------------

    /// Which of `names` still exist in the DUT namespace, as failure lines.
    async fn still_existing(&self, names: &[&str], after: &str) -> Result<Vec<String>, String> {
        let mut f = Vec::new();
        for n in names {
            if self
                .ndut
                .link_by_name(n)
                .await
                .map_err(err("RTM_GETLINK"))?
                .is_some()
            {
                f.push(format!("{n} still exists after {after}"));
            }
        }
        Ok(f)
    }

    async fn lower_delete(&self, drv: Drv, obs: &mut Obs) -> Result<(), String> {
        self.ndut
            .link_add(veth_msg("fl0", "fl1"))
            .await
            .map_err(err("veth fl0"))?;
        for (n, m) in [
            ("fu1", macvlan_mode::BRIDGE),
            ("fu2", macvlan_mode::PRIVATE),
        ] {
            self.add(n, "fl0", None, &[RawNla::macvlan_mode(m)])
                .await
                .map_err(err(format!("creating {n}")))?;
            let i = index(&self.ndut, n).await?;
            self.ndut.link_up(i).await.map_err(err("up"))?;
            self.expect_driver(&self.dut, n, drv, obs);
        }
        let fl0 = index(&self.ndut, "fl0").await?;
        self.ndut.link_del(fl0).await.map_err(err("deleting fl0"))?;
        let f = self
            .still_existing(&["fu1", "fu2", "fl0", "fl1"], "deleting fl0")
            .await?;
        if f.is_empty() {
            Ok(())
        } else {
            Err(f.join("; "))
        }
    }

    async fn mtu(&self, drv: Drv, obs: &mut Obs) -> Result<Vec<(u32, u32, u32)>, String> {
        self.ndut
            .link_add(veth_msg("ml0", "ml1"))
            .await
            .map_err(err("veth ml0"))?;
        for n in ["mu1", "mu2"] {
            self.add(
                n,
                "ml0",
                None,
                &[RawNla::macvlan_mode(macvlan_mode::BRIDGE)],
            )
            .await
            .map_err(err(format!("creating {n}")))?;
            self.expect_driver(&self.dut, n, drv, obs);
        }
        let l = index(&self.ndut, "ml0").await?;
        let mut out = Vec::new();
        let read = || async {
            Ok::<_, String>((
                mtu_of(&link(&self.ndut, "ml0").await?),
                mtu_of(&link(&self.ndut, "mu1").await?),
                mtu_of(&link(&self.ndut, "mu2").await?),
            ))
        };
        out.push(read().await?);
        self.ndut
            .link_set(mtu_msg(l, 1400))
            .await
            .map_err(err("ml0 mtu 1400"))?;
        out.push(read().await?);
        self.ndut
            .link_set(mtu_msg(l, 9000))
            .await
            .map_err(err("ml0 mtu 9000"))?;
        out.push(read().await?);
        let u1 = index(&self.ndut, "mu1").await?;
        let r = self.ndut.link_set(mtu_msg(u1, 9000)).await;
        out.push(read().await?);
        let r2 = self.ndut.link_set(mtu_msg(u1, 9100)).await;
        out.push(read().await?);
        out.push((
            u32::from(r.is_ok()),
            u32::from(r2.is_ok()),
            r2.err().and_then(|e| e.errno()).unwrap_or(0) as u32,
        ));
        self.ndut.link_del(l).await.map_err(err("deleting ml0"))?;
        Ok(out)
    }

    /// rmmod with devices present: they go, and L can be a bridge port.
    async fn unload(&self, drv: Drv, obs: &mut Obs) -> Result<(), String> {
        for (n, m) in [("ru1", macvlan_mode::BRIDGE), ("ru2", macvlan_mode::VEPA)] {
            self.add(n, "eth0", None, &[RawNla::macvlan_mode(m)])
                .await
                .map_err(err(format!("creating {n}")))?;
            let i = index(&self.ndut, n).await?;
            self.ndut.link_up(i).await.map_err(err("up"))?;
            self.expect_driver(&self.dut, n, drv, obs);
        }
        let r = kmod::rmmod(drv.module());
        if !r.success {
            return Err(format!("rmmod {}: {}", drv.module(), r.summary()));
        }
        let mut f = self.still_existing(&["ru1", "ru2"], "rmmod").await?;
        self.ndut
            .link_add(bridge_msg("pbr"))
            .await
            .map_err(err("bridge pbr"))?;
        let b = index(&self.ndut, "pbr").await?;
        let l = index(&self.ndut, "eth0").await?;
        if let Err(e) = self.ndut.set_master(l, b).await {
            f.push(format!(
                "eth0 cannot be enslaved to a bridge after rmmod: {e}"
            ));
        } else {
            self.ndut
                .set_master(l, 0)
                .await
                .map_err(err("releasing eth0"))?;
        }
        self.ndut.link_del(b).await.map_err(err("deleting pbr"))?;
        if f.is_empty() {
            Ok(())
        } else {
            Err(f.join("; "))
        }
    }

    async fn run_driver<W: Write>(&mut self, tap: &mut Tap<W>, drv: Drv) -> Obs {
        let mut obs = Obs::default();
        let t = Instant::now();
        for row in MODE_ROWS {
            if row.ours_only && drv == Drv::C {
                continue;
            }
            let r = self.measure(&row, drv, &mut obs).await;
            if r.is_err() {
                let _ = self.del_macvlans().await;
            }
            obs.matrices.insert(row.name.to_string(), r);
        }
        tap.diag(&format!(
            "{}: matrix measured in {:.1}s",
            drv.module(),
            t.elapsed().as_secs_f64()
        ));
        let t = Instant::now();
        if let Err(e) = self.netlink(drv, &mut obs).await {
            tap.diag(&format!("{}: netlink cases stopped: {e}", drv.module()));
            let _ = self.del_macvlans().await;
        }
        tap.diag(&format!(
            "{}: netlink cases in {:.1}s",
            drv.module(),
            t.elapsed().as_secs_f64()
        ));
        obs.lower_delete = self.lower_delete(drv, &mut obs).await;
        let _ = self.del_macvlans().await;
        obs.mtu = self.mtu(drv, &mut obs).await;
        let _ = self.del_macvlans().await;
        obs.netns_move = self.netns_move(drv).await;
        let _ = self.del_macvlans().await;
        let t = Instant::now();
        obs.many = self.many_uppers(self.uppers, drv).await;
        tap.diag(&format!(
            "{}: {} uppers in {:.1}s",
            drv.module(),
            self.uppers,
            t.elapsed().as_secs_f64()
        ));
        let t = Instant::now();
        obs.review = Dut {
            ns: &self.dut,
            nl: &self.ndut,
        }
        .run()
        .await;
        tap.diag(&format!(
            "{}: review cases in {:.1}s",
            drv.module(),
            t.elapsed().as_secs_f64()
        ));
        obs.unload = self.unload(drv, &mut obs).await;
        obs
    }

    // ---- 4. lifecycle (ours) ---------------------------------------------

    async fn many_uppers(&self, n: usize, drv: Drv) -> Result<String, String> {
        let t = Instant::now();
        self.ndut
            .link_add(veth_msg("ll0", "ll1"))
            .await
            .map_err(err("veth ll0"))?;
        // lu0 in group 78, every other one in group 77: deleting group 77
        // (one batched unregister) must leave the rx handler for lu0.
        let mut batch = String::new();
        for i in 0..n {
            batch.push_str(&format!(
                "link add link ll0 name lu{i} address 02:10:00:00:{:02x}:{:02x} group {} type macvlan mode bridge\n",
                i >> 8,
                i & 0xff,
                if i == 0 { 78 } else { 77 }
            ));
        }
        let path = std::env::temp_dir().join("mvv-parity-batch");
        std::fs::write(&path, batch).map_err(err("writing the ip batch file"))?;
        let r = kmod::run(self.dut.command("ip").arg("-batch").arg(&path));
        let _ = std::fs::remove_file(&path);
        if !r.success {
            return Err(format!("ip -batch: {}", r.summary()));
        }
        let created = t.elapsed();
        let links = self.ndut.link_dump().await.map_err(err("dump"))?;
        let count = links
            .iter()
            .filter(|l| l.kind.as_deref() == Some("macvlan") && l.name.starts_with("lu"))
            .count();
        let mut f = Vec::new();
        if count != n {
            f.push(format!("{count} macvlans after creating {n}"));
        }
        // Every one of them is the expected driver's (one setns for all).
        let want = drv.module();
        let wrong = self
            .dut
            .enter(|| {
                (0..n)
                    .filter_map(|i| {
                        let name = format!("lu{i}");
                        match ethtool::drvinfo_here(&name) {
                            Ok(d) if d.driver == want => None,
                            Ok(d) => Some(format!("{name}: driver {:?}", d.driver)),
                            Err(e) => Some(format!("{name}: {e:#}")),
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .map_err(err("entering dut"))?;
        if !wrong.is_empty() {
            f.push(format!(
                "{} of {n} not driven by {want}: {}",
                wrong.len(),
                wrong.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        // One rx handler: a bridge cannot take ll0 while the macvlans exist.
        self.ndut
            .link_add(bridge_msg("lbr"))
            .await
            .map_err(err("bridge lbr"))?;
        let b = index(&self.ndut, "lbr").await?;
        let l = index(&self.ndut, "ll0").await?;
        if self.ndut.set_master(l, b).await.is_ok() {
            f.push("ll0 became a bridge port while macvlans exist (no rx handler?)".into());
            let _ = self.ndut.set_master(l, 0).await;
        }
        let t2 = Instant::now();
        let r = kmod::run(self.dut.command("ip").args(["link", "del", "group", "77"]));
        if !r.success {
            f.push(format!("ip link del group 77: {}", r.summary()));
        }
        let deleted = t2.elapsed();
        let left: Vec<String> = self
            .ndut
            .link_dump()
            .await
            .map_err(err("dump"))?
            .into_iter()
            .filter(|l| l.kind.as_deref() == Some("macvlan"))
            .map(|l| l.name)
            .collect();
        if left != ["lu0"] {
            f.push(format!(
                "{} macvlans left after deleting group 77 (expected lu0 only): {:?}",
                left.len(),
                left.iter().take(5).collect::<Vec<_>>()
            ));
        }
        if self.ndut.set_master(l, b).await.is_ok() {
            f.push("ll0 became a bridge port while lu0 still exists".into());
            let _ = self.ndut.set_master(l, 0).await;
        }
        match self.ndut.link_by_name("lu0").await {
            Ok(Some(u)) => {
                if let Err(e) = self.ndut.link_del(u.index).await {
                    f.push(format!("deleting lu0: {e}"));
                }
            }
            other => f.push(format!("lu0: {other:?}")),
        }
        match self.ndut.set_master(l, b).await {
            Ok(()) => {
                let _ = self.ndut.set_master(l, 0).await;
            }
            Err(e) => f.push(format!(
                "ll0 cannot be a bridge port after the last macvlan went: {e}"
            )),
        }
        let _ = self.ndut.link_del(b).await;
        let _ = self.ndut.link_del(l).await;
        if f.is_empty() {
            Ok(format!(
                "{n} created (ethtool driver checked on each) in {:.1}s, deleted in {:.1}s",
                created.as_secs_f64(),
                deleted.as_secs_f64()
            ))
        } else {
            Err(f.join("; "))
        }
    }

    async fn netns_move(&mut self, drv: Drv) -> Result<String, String> {
        self.add(
            "mv0",
            "eth0",
            Some(U1_MAC),
            &[RawNla::macvlan_mode(macvlan_mode::BRIDGE)],
        )
        .await
        .map_err(err("creating mv0"))?;
        let i = index(&self.ndut, "mv0").await?;
        self.ndut
            .link_set(netns_msg(i, self.other.fd()))
            .await
            .map_err(err("moving mv0 to other"))?;
        let mut f = Vec::new();
        let l = link(&self.nother, "mv0").await?;
        self.nother.link_up(l.index).await.map_err(err("mv0 up"))?;
        if let Err(e) = ethtool::drvinfo(&self.other, "mv0")
            .map_err(|e| format!("{e:#}"))
            .and_then(|d| {
                if d.driver == drv.module() {
                    Ok(())
                } else {
                    Err(format!("driver {:?}", d.driver))
                }
            })
        {
            f.push(format!("other/mv0: {e}"));
        }
        let lower = index(&self.ndut, "eth0").await?;
        if l.link != Some(lower) {
            f.push(format!(
                "IFLA_LINK {:?}, expected {lower} (eth0 in dut)",
                l.link
            ));
        }
        if l.link_netnsid().is_none() {
            f.push("no IFLA_LINK_NETNSID".into());
        }
        // Traffic: E -> mv0's MAC lands on mv0 in the other namespace.
        self.tag = self.tag.wrapping_add(1);
        let tag = self.tag;
        let mut log = PacketLog::open(&self.other, ETH_P_IP).map_err(err("packet socket"))?;
        let s = PacketSender::open(&self.ext, "eth0").map_err(err("sender"))?;
        let fr = frames::udp_v4(
            (E_MAC, Ipv4Addr::new(10, 9, 1, 1), 40000),
            (U1_MAC, Ipv4Addr::new(10, 9, 0, 11), PORT),
            tag,
            b"mvv-parity",
        );
        for _ in 0..3 {
            s.send(&fr).map_err(err("send"))?;
        }
        let fd = log.fd();
        let mut got = 0;
        wait_until(&[fd], Duration::from_secs(3), Duration::ZERO, || {
            log.pump();
            got = log
                .frames
                .iter()
                .filter(|(ifi, b)| {
                    *ifi as u32 == l.index
                        && frames::parse_udp_v4(b).is_some_and(|x| x.tag == u32::from(tag))
                })
                .count();
            got >= 3
        });
        if got < 3 {
            f.push(format!("{got} of 3 frames from E reached other/mv0"));
        }
        let _ = self.nother.link_del(l.index).await;
        if f.is_empty() {
            Ok(format!(
                "IFLA_LINK {:?}, IFLA_LINK_NETNSID {:?}, {got} frames received",
                l.link,
                l.link_netnsid()
            ))
        } else {
            Err(f.join("; "))
        }
    }
}

/// Load `drv` (and unload the other one).
fn switch_to(drv: Drv, module: &Path) -> Result<(), String> {
    for m in [C_DRIVER, OURS] {
        if m != drv.module() && kmod::is_loaded(m) {
            let r = kmod::rmmod(m);
            if !r.success {
                return Err(format!("rmmod {m}: {}", r.summary()));
            }
        }
    }
    if !kmod::is_loaded(drv.module()) {
        let r = match drv {
            Drv::C => kmod::modprobe(C_DRIVER),
            Drv::Ours => kmod::insmod(module),
        };
        if !r.success {
            return Err(format!("loading {}: {}", drv.module(), r.summary()));
        }
    }
    if !kmod::is_loaded(drv.module()) {
        return Err(format!("{} not in /sys/module after loading", drv.module()));
    }
    Ok(())
}

fn report_matrices<W: Write>(tap: &mut Tap<W>, c: &Obs, o: &Obs) -> BTreeMap<String, Matrix> {
    let mut reference = BTreeMap::new();
    for row in MODE_ROWS {
        let ours = o.matrices.get(row.name);
        if let Some(Ok(m)) = ours {
            print_matrix(tap, &format!("{} (ours, {OURS}):", row.name), m);
        }
        if row.ours_only {
            if let Some(Ok(m)) = ours {
                reference.insert(row.name.to_string(), m.clone());
            }
            continue;
        }
        let cm = c.matrices.get(row.name);
        if let Some(Ok(m)) = cm {
            print_matrix(tap, &format!("{} (C, {C_DRIVER}):", row.name), m);
            reference.insert(row.name.to_string(), m.clone());
        }
        let name = format!("matrix_{}", row.name);
        match (cm, ours) {
            (Some(Ok(cm)), Some(Ok(om))) => {
                let mut any = false;
                for ((s, cl), cv) in cm {
                    let ov = &om[&(*s, *cl)];
                    if cv != ov {
                        any = true;
                        tap.fail(
                            &format!("{name}_{}_{}", s.name(), cl.name()),
                            format!("C delivers to {cv}, ours to {ov}"),
                        );
                    }
                }
                if !any {
                    tap.pass(&name);
                }
            }
            (cm, om) => {
                let e = |x: Option<&Result<Matrix, String>>| match x {
                    Some(Err(e)) => e.clone(),
                    Some(Ok(_)) => "ok".into(),
                    None => "not measured".into(),
                };
                tap.fail(&name, format!("C: {}; ours: {}", e(cm), e(om)));
            }
        }
    }
    // VRRP mode: equal to private in this matrix (no frame is a VRRP advert).
    match (o.matrices.get("vrrp"), o.matrices.get("private")) {
        (Some(Ok(v)), Some(Ok(p))) => {
            let d: Vec<String> = v
                .iter()
                .filter(|(k, val)| p.get(k) != Some(val))
                .map(|((s, c), val)| {
                    format!(
                        "{} {}: vrrp {val}, private {}",
                        s.name(),
                        c.name(),
                        p[&(*s, *c)]
                    )
                })
                .collect();
            tap.report("matrix_vrrp_equals_private", &Outcome::from_failures(&d));
        }
        _ => tap.fail("matrix_vrrp_equals_private", "vrrp or private not measured"),
    }
    reference
}

fn report_doc<W: Write>(tap: &mut Tap<W>, measured: &BTreeMap<String, Matrix>) {
    let doc = match parse_doc_table(MODES_DOC) {
        Ok(d) => d,
        Err(e) => {
            tap.fail("doc_table_parses", e);
            return;
        }
    };
    tap.pass("doc_table_parses");
    for row in MODE_ROWS {
        let name = format!("doc_{}", row.name);
        let (Some(m), Some(d)) = (measured.get(row.name), doc.get(row.name)) else {
            tap.fail(
                &name,
                format!(
                    "measured: {}, in the doc: {}",
                    measured.contains_key(row.name),
                    doc.contains_key(row.name)
                ),
            );
            continue;
        };
        let mut any = false;
        for (k, v) in m {
            let dv = d.get(k).map(String::as_str).unwrap_or("(missing)");
            if dv != v {
                any = true;
                tap.fail(
                    &format!("{name}_{}_{}", k.0.name(), k.1.name()),
                    format!(
                        "Documentation/macvlan-modes.rst says {dv}, measured ({}) {v}",
                        if row.ours_only { OURS } else { C_DRIVER }
                    ),
                );
            }
        }
        if !any {
            tap.pass(&name);
        }
    }
}

/// "C: <error, ok or not run>; ours: <the same>", for a pair of runs that
/// did not both succeed.
fn not_both_ok<T>(c: Option<&Result<T, String>>, o: Option<&Result<T, String>>) -> String {
    let show = |x: Option<&Result<T, String>>| {
        x.map(|r| r.as_ref().err().cloned().unwrap_or("ok".into()))
            .unwrap_or("not run".into())
    };
    format!("C: {}; ours: {}", show(c), show(o))
}

fn report_netlink<W: Write>(tap: &mut Tap<W>, c: &Obs, o: &Obs) {
    for (name, _) in nl_configs() {
        let t = format!("netlink_{name}");
        match (c.configs.get(name), o.configs.get(name)) {
            (Some(Ok((cl, cj))), Some(Ok((ol, oj)))) => {
                let mut d = list_diff(cl, ol);
                json_diff(cj, oj, "ip", &mut d);
                tap.report(&t, &Outcome::from_failures(&d));
            }
            (a, b) => tap.fail(&t, not_both_ok(a, b)),
        }
    }
    for (name, _) in bad_creates() {
        let t = format!("errno_{name}");
        match (c.creates.get(name), o.creates.get(name)) {
            (Some(Ok(cr)), Some(Ok(or))) => {
                let line = format!("C {}, ours {}", show_res(cr), show_res(or));
                let mut f = Vec::new();
                if name == "mode_32_vrrp" {
                    if cr.is_ok() || or.is_err() {
                        f.push(format!("expected C to reject and ours to accept: {line}"));
                    } else {
                        tap.diag(&format!(
                            "expected difference: {name}: MACVLAN_MODE_VRRP (32) is ours only: {line}"
                        ));
                    }
                } else {
                    let ce = cr.as_ref().err().map(|e| e.0);
                    let oe = or.as_ref().err().map(|e| e.0);
                    if ce != oe {
                        f.push(line.clone());
                    }
                    if let Err((_, m)) = or {
                        if m.as_deref().unwrap_or("").is_empty() {
                            f.push(format!("ours gave no extack message ({line})"));
                        }
                    }
                    if f.is_empty() {
                        tap.diag(&format!("{name}: {line}"));
                    }
                }
                tap.report(&t, &Outcome::from_failures(&f));
            }
            (a, b) => tap.fail(&t, format!("C: {a:?}; ours: {b:?}")),
        }
    }
    for (name, _, _) in bad_changes() {
        let t = format!("changelink_{name}");
        match (c.changes.get(name), o.changes.get(name)) {
            (Some(Ok((cr, cb, ca))), Some(Ok((or, ob, oa)))) => {
                let line = format!("C {}, ours {}", show_res(cr), show_res(or));
                let mut f = Vec::new();
                if cr.as_ref().err().map(|e| e.0) != or.as_ref().err().map(|e| e.0) {
                    f.push(line.clone());
                }
                if let Err((_, m)) = or {
                    if m.as_deref().unwrap_or("").is_empty() {
                        f.push(format!("ours gave no extack message ({line})"));
                    }
                    let d = list_diff(ob, oa);
                    if !d.is_empty() {
                        f.push(format!(
                            "ours changed the device on a failed changelink: {}",
                            d.join(", ")
                                .replace("only C", "before")
                                .replace("only ours", "after")
                        ));
                    }
                }
                if cr.is_err() {
                    let d = list_diff(cb, ca);
                    if !d.is_empty() {
                        tap.diag(&format!(
                            "expected difference: {name}: the C driver fails ({}) after changing the device: {}",
                            show_res(cr),
                            d.join(", ").replace("only C", "before").replace("only ours", "after")
                        ));
                    }
                }
                if f.is_empty() {
                    tap.diag(&format!("{name}: {line}"));
                }
                tap.report(&t, &Outcome::from_failures(&f));
            }
            (a, b) => tap.fail(&t, not_both_ok(a, b)),
        }
    }
}

fn report_faults<W: Write>(tap: &mut Tap<W>, c: &Obs, o: &Obs) {
    let both = |a: &Result<(), String>, b: &Result<(), String>| {
        let mut f = Vec::new();
        if let Err(e) = a {
            f.push(format!("C: {e}"));
        }
        if let Err(e) = b {
            f.push(format!("ours: {e}"));
        }
        Outcome::from_failures(&f)
    };
    tap.report(
        "fault_delete_lower",
        &both(&c.lower_delete, &o.lower_delete),
    );
    let o_mtu = match (&c.mtu, &o.mtu) {
        (Ok(a), Ok(b)) => {
            tap.diag(&format!(
                "MTU (lower, u1, u2) at start, lower 1400, lower 9000, u1 9000, u1 9100; \
                 then (u1 9000 ok, u1 9100 ok, its errno): C {a:?}, ours {b:?}"
            ));
            if a == b {
                Outcome::Pass
            } else {
                Outcome::Fail(format!("C {a:?}, ours {b:?}"))
            }
        }
        (a, b) => Outcome::Fail(format!("C: {a:?}; ours: {b:?}")),
    };
    tap.report("fault_lower_mtu", &o_mtu);
    tap.report("fault_rmmod_with_devices", &both(&c.unload, &o.unload));
    for (name, a, b) in [
        ("lifecycle_netns_move", &c.netns_move, &o.netns_move),
        ("lifecycle_many_uppers", &c.many, &o.many),
    ] {
        let mut f = Vec::new();
        match (a, b) {
            (Ok(x), Ok(y)) => {
                tap.diag(&format!("{name}: C: {x}; ours: {y}"));
                // The timings differ; the rest must not.
                if name == "lifecycle_netns_move" && x != y {
                    f.push(format!("C: {x}; ours: {y}"));
                }
            }
            (x, y) => {
                if let Err(e) = x {
                    f.push(format!("C: {e}"));
                }
                if let Err(e) = y {
                    f.push(format!("ours: {e}"));
                }
            }
        }
        tap.report(name, &Outcome::from_failures(&f));
    }
}

/// One check per review case: the same text from both drivers. The source
/// flush and the SETs before it are also timed: the figures are printed,
/// and ours may not take more than three times C's (plus 0.2 s of slack
/// for a busy host): a walk that restarts after each removal, or a linear
/// search per added address, is quadratic and far beyond that.
fn report_review<W: Write>(tap: &mut Tap<W>, c: &Obs, o: &Obs) {
    for name in parity_review::CASES {
        let t = format!("review_{name}");
        match (c.review.cases.get(name), o.review.cases.get(name)) {
            (Some(Ok(x)), Some(Ok(y))) => {
                let mut f = Vec::new();
                if x == y {
                    tap.diag(&format!("{name}: {x}"));
                } else {
                    f.push(format!("C: {x}; ours: {y}"));
                }
                if name == "source_flush" {
                    let timed = [
                        (
                            format!("{FLUSH_OTHER_UPPERS} SETs of {FLUSH_PER_OTHER} source MACs"),
                            c.review.set_seconds,
                            o.review.set_seconds,
                        ),
                        (
                            format!(
                                "flushing {FLUSH_PER_UPPER} of {} source MACs",
                                FLUSH_PER_UPPER + FLUSH_OTHER_UPPERS * FLUSH_PER_OTHER
                            ),
                            c.review.flush_seconds,
                            o.review.flush_seconds,
                        ),
                    ];
                    for (what, ct, ot) in timed {
                        let (Some(ct), Some(ot)) = (ct, ot) else {
                            f.push(format!("{what}: not timed"));
                            continue;
                        };
                        tap.diag(&format!("figure: {what}: C {ct:.3} s, ours {ot:.3} s"));
                        if ot > 3.0 * ct + 0.2 {
                            f.push(format!("{what}: ours took {ot:.3} s, C {ct:.3} s"));
                        }
                    }
                }
                tap.report(&t, &Outcome::from_failures(&f));
            }
            (a, b) => tap.fail(&t, not_both_ok(a, b)),
        }
    }
}

pub async fn run<W: Write>(tap: &mut Tap<W>, module: &Path, uppers: usize) {
    let start = Instant::now();
    if !module.is_file() {
        tap.setup_error(&format!("--module {}: not a file", module.display()));
        tap.fail("setup", "no module file");
        return;
    }
    let mut env = match setup().await {
        Ok(mut e) => {
            e.module = module.to_path_buf();
            e.uppers = uppers;
            tap.pass("setup");
            e
        }
        Err(e) => {
            tap.fail("setup", e);
            tap.setup_error("parity setup failed");
            return;
        }
    };
    let mut obs = Vec::new();
    for drv in [Drv::C, Drv::Ours] {
        let name = format!("load_{}", drv.tag());
        match switch_to(drv, &env.module) {
            Ok(()) => tap.pass(&name),
            Err(e) => {
                tap.fail(&name, e);
                obs.push(Obs::default());
                continue;
            }
        }
        let t = Instant::now();
        let o = env.run_driver(tap, drv).await;
        for d in &o.diags {
            tap.diag(d);
        }
        tap.diag(&format!(
            "{}: done in {:.1}s",
            drv.module(),
            t.elapsed().as_secs_f64()
        ));
        let ok = o.driver_failures.is_empty() && o.drivers_checked > 0;
        let outcome = if ok {
            tap.diag(&format!(
                "{} devices checked: ethtool driver {:?}",
                o.drivers_checked,
                drv.module()
            ));
            Outcome::Pass
        } else {
            Outcome::Fail(format!(
                "{} checked: {}",
                o.drivers_checked,
                o.driver_failures.join("; ")
            ))
        };
        tap.report(&format!("driver_identity_{}", drv.tag()), &outcome);
        obs.push(o);
    }
    // The unload fault test left no driver loaded; ours again for the rest.
    tap.report(
        "reload_ours",
        &match switch_to(Drv::Ours, &env.module) {
            Ok(()) => Outcome::Pass,
            Err(e) => Outcome::Fail(e),
        },
    );
    let (c, o) = (&obs[0], &obs[1]);
    let measured = report_matrices(tap, c, o);
    tap.diag("Documentation/macvlan-modes.rst rows for the measured table:");
    tap.diag(&doc_table_rows(&measured));
    report_doc(tap, &measured);
    report_netlink(tap, c, o);
    report_faults(tap, c, o);
    report_review(tap, c, o);
    for d in IFF_MACVLAN_DIFFERENCES {
        tap.diag(&format!("expected difference: (not measured) {d}"));
    }
    let _ = env.del_macvlans().await;
    drop(env);
    tap.report("teardown", &names_gone(&ALL_NS));
    tap.diag(&format!(
        "parity suite runtime {:.1}s",
        start.elapsed().as_secs_f64()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_table_is_complete() {
        let d = parse_doc_table(MODES_DOC).expect("doc table parses");
        for row in MODE_ROWS {
            let m = d
                .get(row.name)
                .unwrap_or_else(|| panic!("mode {} in doc", row.name));
            for s in Sender::ALL {
                for c in Class::ALL {
                    let v = &m[&(s, c)];
                    assert_eq!(
                        v == "n/a",
                        !cell_applies(&row, s, c),
                        "{} {} {}: {v}",
                        row.name,
                        s.name(),
                        c.name()
                    );
                }
            }
        }
    }

    #[test]
    fn doc_rows_round_trip() {
        let mut ms = BTreeMap::new();
        let mut m = Matrix::new();
        for s in Sender::ALL {
            for c in Class::ALL {
                m.insert((s, c), format!("{}{}", s.name(), c.name()));
            }
        }
        ms.insert("private".to_string(), m.clone());
        let mut doc = String::from(".. list-table:: x\n   :name: delivery-matrix\n   :header-rows: 1\n\n   * - Mode\n     - Sender\n");
        for c in Class::ALL {
            doc.push_str(&format!("     - {}\n", c.name()));
        }
        doc.push_str(&doc_table_rows(&ms));
        doc.push_str("\nAfter the table.\n");
        let p = parse_doc_table(&doc).unwrap();
        assert_eq!(p["private"], m);
    }

    #[test]
    fn cells() {
        let mut c = BTreeMap::new();
        assert_eq!(cell_text(&c), "-");
        c.insert("E", 1);
        c.insert("U1", 2);
        assert_eq!(cell_text(&c), "U1x2,E");
    }

    #[test]
    fn json_diffs() {
        let a: serde_json::Value = serde_json::from_str(r#"[{"a":1,"b":{"c":2}}]"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"[{"a":1,"b":{"c":3}}]"#).unwrap();
        let mut d = Vec::new();
        json_diff(&a, &a, "ip", &mut d);
        assert!(d.is_empty());
        json_diff(&a, &b, "ip", &mut d);
        assert_eq!(d, vec!["ip[0].b.c: C 2, ours 3".to_string()]);
    }
}
