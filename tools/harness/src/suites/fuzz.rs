//! Fuzz suite: a seeded stream of netlink requests for link kind macvlan
//! (create, change, delete, up and down, with every `IFLA_MACVLAN_*`
//! attribute, valid and not), run against the C macvlan.ko and then against
//! ours, each in a fresh network namespace with the same lower devices.
//! After every request, the errno and the state of every macvlan link (read
//! back with one RTM_GETLINK dump) must be the same for both drivers.
//!
//! The stream leaves out the differences Documentation/macvlan-vrrp.rst lists
//! as deliberate, which would otherwise make the two runs drift apart: mode
//! 32 (the C driver refuses it) and a changelink that combines
//! `MACADDR_MODE` with other attributes (the C driver may apply half of it).
//! Extack messages are not compared. A last stream, with mode 32, runs on
//! ours alone: every answer must be one the requests can get.
//!
//! Besides: the same stream from an unprivileged user namespace owning the
//! network namespace ([`userns_child`]), whose answers must be the
//! privileged run's; allocation failures in representative requests
//! (`fuzz_faults`); and a stream raced by a thread that deletes and
//! re-creates the lower devices and uppers (`fuzz_races`). The kernel log
//! since the suite started must hold no report but the call traces of the
//! injected faults (`kmsg::drop_injected_fault_traces`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use mvv_netlink::raw::{self, MsgBuilder, Socket, NLM_F_REQUEST};

use crate::kmod::{self, C_DRIVER, OURS};
use crate::kmsg;
use crate::netns::Netns;
use crate::suites::hostile::Rng;
use crate::suites::{fuzz_faults, fuzz_races};
use crate::tap::Tap;

pub const TESTS: &[&str] = &[
    "setup",
    "c_stream_ran",
    "ours_stream_ran",
    "same_answers_as_c",
    "every_request_kind_answered",
    "userns_c_same_answers",
    "userns_ours_same_answers",
    "vrrp_stream_ours",
    "faults_c_ran",
    "faults_ours_state_kept",
    "faults_same_as_c",
    "races_consistent",
    "no_report_but_injected_faults",
    "teardown",
];

pub(super) const RTM_NEWLINK: u16 = 16;
pub(super) const RTM_DELLINK: u16 = 17;
pub(super) const RTM_GETLINK: u16 = 18;
pub(super) const NLM_F_ACK: u16 = 0x4;
pub(super) const NLM_F_EXCL: u16 = 0x200;
pub(super) const NLM_F_CREATE: u16 = 0x400;
pub(super) const NLM_F_DUMP: u16 = 0x300;
pub(super) const IFF_UP: u32 = 1;

pub(super) const IFLA_ADDRESS: u16 = 1;
pub(super) const IFLA_IFNAME: u16 = 3;
pub(super) const IFLA_MTU: u16 = 4;
pub(super) const IFLA_LINK: u16 = 5;
pub(super) const IFLA_LINKINFO: u16 = 18;
pub(super) const IFLA_INFO_KIND: u16 = 1;
pub(super) const IFLA_INFO_DATA: u16 = 2;

pub(super) const MODE: u16 = 1;
pub(super) const FLAGS: u16 = 2;
pub(super) const MACADDR_MODE: u16 = 3;
pub(super) const MACADDR: u16 = 4;
pub(super) const MACADDR_DATA: u16 = 5;
pub(super) const MACADDR_COUNT: u16 = 6;
pub(super) const BC_QUEUE_LEN: u16 = 7;
pub(super) const BC_QUEUE_LEN_USED: u16 = 8;
pub(super) const BC_CUTOFF: u16 = 9;

/// The upper devices the stream creates, changes and deletes.
pub(super) const SLOTS: usize = 6;
/// Lower devices, made the same way in every run: (name, MAC, how).
pub(super) const LOWERS: &[(&str, [u8; 6], &str)] = &[
    ("fl0", [0x02, 0, 0, 0, 0xf0, 0x01], "veth"),
    ("fl1", [0x02, 0, 0, 0, 0xf0, 0x02], "dummy"),
    ("fb0", [0x02, 0, 0, 0, 0xf0, 0x03], "bridge port"),
    ("fbr", [0x02, 0, 0, 0, 0xf0, 0x04], "bridge"),
];
/// Addresses requests use, so that they collide with each other.
pub(super) const POOL: &[[u8; 6]] = &[
    [0x02, 0x11, 0, 0, 0, 0x01],
    [0x02, 0x11, 0, 0, 0, 0x02],
    [0x02, 0x11, 0, 0, 0, 0x03],
    [0x02, 0, 0, 0, 0xf0, 0x01],
    [0x00, 0x00, 0x5e, 0x00, 0x01, 0x0a],
    [0x00, 0x00, 0x5e, 0x00, 0x01, 0x14],
];

/// What a request does, for the per-kind counts.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Kind {
    Create,
    Change,
    Delete,
    UpDown,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        [Kind::Create, Kind::Change, Kind::Delete, Kind::UpDown]
            .get(v as usize)
            .copied()
    }
}

/// One request, built from the stream and sent as bytes.
struct Request {
    kind: Kind,
    slot: String,
    what: String,
    msg: MsgBuilder,
}

pub(super) fn ifinfomsg(index: i32, flags: u32, change: u32) -> Vec<u8> {
    let mut h = vec![0u8; 16];
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

/// The stream: a seeded generator of requests. `vrrp` allows mode 32 and
/// changelinks that mix `MACADDR_MODE` with other attributes.
struct Stream {
    rng: Rng,
    vrrp: bool,
    lower_index: Vec<i32>,
}

impl Stream {
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.below(items.len())]
    }

    fn mac(&mut self, what: &mut String) -> Vec<u8> {
        match self.rng.below(10) {
            0 => {
                what.push_str(" mac:multicast");
                vec![0x01, 0, 0x5e, 0, 0, 0x12]
            }
            1 => {
                what.push_str(" mac:zero");
                vec![0; 6]
            }
            2 => {
                what.push_str(" mac:short");
                vec![0x02, 0x11, 0, 0]
            }
            3 => {
                what.push_str(" mac:long");
                vec![0x02, 0x11, 0, 0, 0, 1, 0]
            }
            _ => {
                let m = self.pick(POOL);
                let _ = write!(what, " mac:{}", hex(&m));
                m.to_vec()
            }
        }
    }

    fn mode(&mut self) -> u32 {
        if self.rng.chance(1, 10) {
            self.pick(&[0, 3, 5, 64, 0x40000000, u32::MAX])
        } else if self.vrrp && self.rng.chance(1, 3) {
            32
        } else {
            self.pick(&[1, 2, 4, 8, 16])
        }
    }

    /// The `IFLA_INFO_DATA` attributes. Returns whether it holds
    /// `MACADDR_MODE`, and whether anything else.
    fn info_data(&mut self, m: &mut MsgBuilder, what: &mut String, change: bool) {
        let macaddr_mode = self.rng.chance(1, 4);
        // In the compared stream a changelink with MACADDR_MODE carries
        // nothing but the source list (see the module documentation).
        let only_sources = change && macaddr_mode && !self.vrrp;
        if !only_sources && self.rng.chance(1, 2) {
            let v = self.mode();
            let _ = write!(what, " MODE={v}");
            m.attr(MODE, &v.to_ne_bytes());
        }
        if !only_sources && self.rng.chance(1, 4) {
            let v = self.pick(&[0u16, 1, 2, 3, 4, 0xffff]);
            let _ = write!(what, " FLAGS={v}");
            m.attr(FLAGS, &v.to_ne_bytes());
        }
        if macaddr_mode {
            let v = self.pick(&[0u32, 0, 1, 2, 3, 3, 4, u32::MAX]);
            let _ = write!(what, " MACADDR_MODE={v}");
            m.attr(MACADDR_MODE, &v.to_ne_bytes());
        }
        if self.rng.chance(1, 5) {
            what.push_str(" MACADDR");
            let mac = self.mac(what);
            m.attr(MACADDR, &mac);
        }
        if self.rng.chance(1, 5) {
            let n = match self.rng.below(100) {
                0 => 2000,
                1..=5 => 100,
                6..=30 => 0,
                _ => 1 + self.rng.below(8),
            };
            let _ = write!(what, " MACADDR_DATA[{n}");
            m.begin_nest(MACADDR_DATA);
            for _ in 0..n {
                let mac = self.pick(POOL);
                m.attr(MACADDR, &mac);
            }
            if self.rng.chance(1, 10) {
                what.push_str(" +malformed");
                if self.rng.chance(1, 2) {
                    m.attr(MACADDR_MODE, &1u32.to_ne_bytes());
                } else {
                    m.attr(MACADDR, &[0x02, 0x11]);
                }
                m.attr(MACADDR, &POOL[0]);
            }
            what.push(']');
            m.end_nest();
        }
        if !only_sources && self.rng.chance(1, 6) {
            let v = self.pick(&[0u32, 1, 2, 1000, 65536, u32::MAX]);
            let _ = write!(what, " BC_QUEUE_LEN={v}");
            m.attr(BC_QUEUE_LEN, &v.to_ne_bytes());
        }
        if !only_sources && self.rng.chance(1, 6) {
            let v = self.pick(&[-1i32, 0, 1, 2, 7, i32::MAX, i32::MIN]);
            let _ = write!(what, " BC_CUTOFF={v}");
            m.attr(BC_CUTOFF, &v.to_ne_bytes());
        }
        if self.rng.chance(1, 40) {
            what.push_str(" MACADDR_COUNT");
            m.attr(MACADDR_COUNT, &3u32.to_ne_bytes());
        }
        if self.rng.chance(1, 40) {
            what.push_str(" BC_QUEUE_LEN_USED");
            m.attr(BC_QUEUE_LEN_USED, &3u32.to_ne_bytes());
        }
        if self.rng.chance(1, 40) {
            // A u32 attribute with a short payload (refused by the policy,
            // before anything changes), or one with a long one (taken).
            if only_sources || self.rng.chance(1, 2) {
                what.push_str(" MODE:short");
                m.attr(MODE, &[4, 0]);
            } else {
                what.push_str(" BC_QUEUE_LEN:long");
                m.attr(BC_QUEUE_LEN, &[1, 0, 0, 0, 0, 0, 0, 0]);
            }
        }
        if self.rng.chance(1, 50) {
            what.push_str(" unknown-type");
            m.attr(40, &[1, 2, 3, 4]);
        }
    }

    fn linkinfo(&mut self, m: &mut MsgBuilder, what: &mut String, change: bool) {
        m.begin_nest(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "macvlan");
        if self.rng.chance(4, 5) {
            m.begin_nest(IFLA_INFO_DATA);
            self.info_data(m, what, change);
            m.end_nest();
        }
        m.end_nest();
    }

    fn next(&mut self, index_of: &BTreeMap<String, i32>) -> Request {
        let slot = format!("fz{}", self.rng.below(SLOTS));
        let r = self.rng.below(100);
        let (kind, flags, header) = match r {
            0..=39 => (
                Kind::Create,
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                ifinfomsg(0, 0, 0),
            ),
            40..=74 => (Kind::Change, NLM_F_REQUEST | NLM_F_ACK, ifinfomsg(0, 0, 0)),
            75..=86 => (Kind::Delete, NLM_F_REQUEST | NLM_F_ACK, ifinfomsg(0, 0, 0)),
            _ => {
                let up = self.rng.chance(2, 3);
                let flags = if up { IFF_UP } else { 0 };
                (
                    Kind::UpDown,
                    NLM_F_REQUEST | NLM_F_ACK,
                    ifinfomsg(0, flags, IFF_UP),
                )
            }
        };
        let msg_kind = if kind == Kind::Delete {
            RTM_DELLINK
        } else {
            RTM_NEWLINK
        };
        let mut m = MsgBuilder::new(msg_kind, flags, &header);
        let mut what = format!("{kind:?} {slot}");
        m.attr_str(IFLA_IFNAME, &slot);
        match kind {
            Kind::Create => {
                if self.rng.chance(19, 20) {
                    let link = match self.rng.below(20) {
                        0 => {
                            what.push_str(" link:none-such");
                            self.pick(&[0u32, 9999, u32::MAX])
                        }
                        1 => {
                            // The loopback device.
                            what.push_str(" link:lo");
                            1
                        }
                        2 => {
                            // Another upper device: the new one stacks on
                            // its lower device. Its index may differ between
                            // runs; what it names does not.
                            let other = format!("fz{}", self.rng.below(SLOTS));
                            let _ = write!(what, " link:{other}");
                            index_of.get(&other).map_or(9999, |i| *i as u32)
                        }
                        _ => {
                            let i = self.rng.below(self.lower_index.len());
                            let _ = write!(what, " link:{}", LOWERS[i].0);
                            self.lower_index[i] as u32
                        }
                    };
                    m.attr(IFLA_LINK, &link.to_ne_bytes());
                } else {
                    what.push_str(" link:missing");
                }
                if self.rng.chance(3, 10) {
                    what.push_str(" IFLA_ADDRESS");
                    let mac = self.mac(&mut what);
                    m.attr(IFLA_ADDRESS, &mac);
                }
                if self.rng.chance(1, 5) {
                    let v = self.pick(&[0u32, 67, 68, 1280, 1500, 1501, 9000, 65535]);
                    let _ = write!(what, " IFLA_MTU={v}");
                    m.attr(IFLA_MTU, &v.to_ne_bytes());
                }
                self.linkinfo(&mut m, &mut what, false);
            }
            Kind::Change => {
                if self.rng.chance(1, 10) {
                    let v = self.pick(&[68u32, 1400, 1500, 9000, 65535]);
                    let _ = write!(what, " IFLA_MTU={v}");
                    m.attr(IFLA_MTU, &v.to_ne_bytes());
                }
                if self.rng.chance(1, 10) {
                    what.push_str(" IFLA_ADDRESS");
                    let mac = self.mac(&mut what);
                    m.attr(IFLA_ADDRESS, &mac);
                }
                self.linkinfo(&mut m, &mut what, true);
            }
            Kind::Delete => {}
            Kind::UpDown => {
                what.push_str(if header[8] & 1 != 0 { " up" } else { " down" });
            }
        }
        Request {
            kind,
            slot,
            what,
            msg: m,
        }
    }
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The state of one macvlan link, or `None` for another kind, with
/// addresses that differ between runs (random ones) normalised.
pub(super) fn link_line(
    flags: u32,
    name: &str,
    attrs: &[u8],
    name_of: &BTreeMap<i32, String>,
) -> Option<String> {
    let info = raw::attr(attrs, IFLA_LINKINFO)?;
    if raw::attr(info, IFLA_INFO_KIND) != Some(b"macvlan\0") {
        return None;
    }
    let u32_of = |a: &[u8], t| {
        raw::attr(a, t)
            .and_then(|v| v.get(..4))
            .map(|v| u32::from_ne_bytes([v[0], v[1], v[2], v[3]]))
    };
    let link = u32_of(attrs, IFLA_LINK)
        .map(|i| name_of.get(&(i as i32)).cloned().unwrap_or(format!("#{i}")))
        .unwrap_or_default();
    let addr = raw::attr(attrs, IFLA_ADDRESS).unwrap_or(&[]);
    let addr = if let Some((n, _, _)) = LOWERS.iter().find(|l| l.1 == addr) {
        format!("={n}")
    } else if POOL.iter().any(|m| m == addr) {
        hex(addr)
    } else {
        "random".into()
    };
    let mut line = format!(
        "{name} link={link} up={} mtu={} addr={addr}",
        flags & IFF_UP,
        u32_of(attrs, IFLA_MTU).unwrap_or(0)
    );
    for (t, v) in raw::attrs(raw::attr(info, IFLA_INFO_DATA).unwrap_or(&[])) {
        if t == MACADDR_DATA {
            let macs: Vec<String> = raw::attrs(v).map(|(_, m)| hex(m)).collect();
            let _ = write!(line, " {t}=[{}]", macs.join(","));
        } else {
            let _ = write!(line, " {t}={}", hex(v));
        }
    }
    Some(line)
}

/// An RTM_NEWLINK reply: index, flags, name, attributes.
pub(super) fn parse_link(r: &[u8]) -> Option<(i32, u32, String, &[u8])> {
    let index = i32::from_ne_bytes(r.get(4..8)?.try_into().ok()?);
    let flags = u32::from_ne_bytes(r.get(8..12)?.try_into().ok()?);
    let attrs = r.get(16..)?;
    let name = raw::attr(attrs, IFLA_IFNAME)
        .map(|v| String::from_utf8_lossy(v.strip_suffix(&[0]).unwrap_or(v)).into_owned())
        .unwrap_or_default();
    Some((index, flags, name, attrs))
}

/// Every macvlan link of the namespace, one line each, sorted by name; and
/// every link's index by name and name by index.
pub(super) fn read_all(sock: &mut Socket) -> Result<(String, Names), i32> {
    let dump = MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifinfomsg(0, 0, 0));
    let replies = sock
        .request(dump, RTM_NEWLINK)
        .map_err(|e| e.raw_os_error().unwrap_or(-1))?;
    let mut names = Names::default();
    for (index, _, name, _) in replies.iter().filter_map(|r| parse_link(r)) {
        names.index_of.insert(name.clone(), index);
        names.name_of.insert(index, name);
    }
    let lines: BTreeMap<String, String> = replies
        .iter()
        .filter_map(|r| parse_link(r))
        .filter_map(|(_, flags, name, attrs)| {
            link_line(flags, &name, attrs, &names.name_of).map(|l| (name, l))
        })
        .collect();
    Ok((lines.into_values().collect::<Vec<_>>().join("; "), names))
}

/// IFLA_MASTER and IFLA_PROMISCUITY.
const IFLA_MASTER: u16 = 10;
const IFLA_PROMISCUITY: u16 = 30;
/// The flags a request may change (IFF_RUNNING and IFF_LOWER_UP follow
/// the carrier, asynchronously).
const STABLE_FLAGS: u32 = 0x1 | 0x2 | 0x80 | 0x100 | 0x200 | 0x1000;

/// Every link of the namespace, one line each, sorted by name: macvlan
/// links as [`link_line`], the others with flags, MTU, address, master and
/// promiscuity. Indexes are left out (a failed create may use one up).
pub(super) fn ns_state(sock: &mut Socket) -> Result<String, String> {
    let dump = MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifinfomsg(0, 0, 0));
    let replies = sock
        .request(dump, RTM_NEWLINK)
        .map_err(|e| format!("link dump: {e}"))?;
    let links: Vec<_> = replies.iter().filter_map(|r| parse_link(r)).collect();
    let name_of: BTreeMap<i32, String> = links.iter().map(|(i, _, n, _)| (*i, n.clone())).collect();
    let u32_of = |a: &[u8], t| {
        raw::attr(a, t)
            .and_then(|v| v.get(..4))
            .map(|v| u32::from_ne_bytes([v[0], v[1], v[2], v[3]]))
    };
    let lines: BTreeMap<&str, String> = links
        .iter()
        .map(|(_, flags, name, attrs)| {
            let line = link_line(*flags, name, attrs, &name_of).unwrap_or_else(|| {
                format!(
                    "{name} flags={:#x} mtu={} addr={} master={} promisc={}",
                    flags & STABLE_FLAGS,
                    u32_of(attrs, IFLA_MTU).unwrap_or(0),
                    stable_addr(raw::attr(attrs, IFLA_ADDRESS).unwrap_or(&[])),
                    u32_of(attrs, IFLA_MASTER)
                        .map(|i| name_of.get(&(i as i32)).cloned().unwrap_or(format!("#{i}")))
                        .unwrap_or_default(),
                    u32_of(attrs, IFLA_PROMISCUITY).unwrap_or(0),
                )
            });
            (name.as_str(), line)
        })
        .collect();
    Ok(lines.into_values().collect::<Vec<_>>().join("; "))
}

/// An address as the state shows it: random ones (a veth peer's) as such.
fn stable_addr(a: &[u8]) -> String {
    if a.len() == 6
        && a != [0; 6]
        && !LOWERS.iter().any(|l| l.1 == a)
        && !POOL.iter().any(|m| m == a)
    {
        "random".into()
    } else {
        hex(a)
    }
}

/// The state of link `name` (RTM_GETLINK by name), and its index.
fn read_one(sock: &mut Socket, name: &str, names: &Names) -> (String, Option<i32>) {
    let mut get = MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST, &ifinfomsg(0, 0, 0));
    get.attr_str(IFLA_IFNAME, name);
    match sock.request(get, RTM_NEWLINK) {
        Ok(replies) => match replies.first().and_then(|r| parse_link(r)) {
            Some((index, flags, name, attrs)) => (
                link_line(flags, &name, attrs, &names.name_of).unwrap_or("not macvlan".into()),
                Some(index),
            ),
            None => ("no reply".into(), None),
        },
        Err(e) => (
            format!("{name} absent ({})", e.raw_os_error().unwrap_or(-1)),
            None,
        ),
    }
}

/// Link names and indexes of a run.
#[derive(Default, Clone)]
pub(super) struct Names {
    pub(super) index_of: BTreeMap<String, i32>,
    pub(super) name_of: BTreeMap<i32, String>,
}

/// Every this many requests, the whole namespace is read back and compared,
/// not only the link the request named: a request may change the port the
/// link shares with others (`BC_CUTOFF`, `BC_QUEUE_LEN_USED`, passthru).
const FULL_EVERY: usize = 16;

/// One answer: the errno (0 for success) and the state after.
#[derive(PartialEq, Eq)]
pub struct Answer {
    pub errno: i32,
    pub state: String,
}

/// What one run observed.
pub struct Run {
    pub answers: Vec<Answer>,
    pub whats: Vec<String>,
    pub kinds: Vec<Kind>,
    pub errnos: BTreeMap<(Kind, i32), u32>,
    pub seconds: f64,
    /// Every macvlan link at the end.
    pub end: String,
    /// Seconds spent in requests, per kind, and in read-backs.
    pub profile: BTreeMap<String, f64>,
}

pub(super) fn errno_name(e: i32) -> String {
    match e {
        0 => "ok".into(),
        e => {
            let s = std::io::Error::from_raw_os_error(e).to_string();
            format!("{e} ({})", s.split(" (os error").next().unwrap_or(&s))
        }
    }
}

/// Creates the lower devices of a run over `sock`, the same way each time,
/// and returns their indexes.
pub(super) fn make_lowers(sock: &mut Socket) -> Result<Vec<i32>, String> {
    // Over netlink: a process start costs about half a second of CPU under
    // TCG. fbr before fb0, which is its port.
    for i in [0, 1, 3, 2] {
        let bridge = if i == 2 {
            let (_, names) = read_all(sock).map_err(|e| format!("dump: errno {e}"))?;
            names.index_of.get("fbr").copied().unwrap_or(0)
        } else {
            0
        };
        let e = fuzz_races::create_lower(sock, i, 0, bridge);
        if e != 0 {
            return Err(format!("creating {}: errno {e}", LOWERS[i].0));
        }
    }
    let (_, names) = read_all(sock).map_err(|e| format!("dump: errno {e}"))?;
    LOWERS
        .iter()
        .map(|(n, _, _)| {
            names
                .index_of
                .get(*n)
                .copied()
                .ok_or(format!("{n} missing"))
        })
        .collect()
}

/// A netlink socket in `ns`.
pub(super) fn socket_in(ns: &Netns) -> Result<Socket, String> {
    ns.enter(|| Socket::open(libc::NETLINK_ROUTE))
        .map_err(|e| format!("{e:#}"))?
        .map_err(|e| format!("netlink socket: {e}"))
}

/// A fresh namespace with the lower devices, and a socket in it.
pub(super) fn fresh_namespace(name: &str) -> Result<(Netns, Socket, Vec<i32>), String> {
    let ns = Netns::create(name).map_err(|e| format!("{e:#}"))?;
    let mut sock = socket_in(&ns)?;
    let lower_index = make_lowers(&mut sock)?;
    Ok((ns, sock, lower_index))
}

/// Streams that run at once, each in a namespace of its own with a seed of
/// its own (`seed + i`; stream 0 has the suite's seed). Namespaces share
/// nothing a request can reach, so each stream's answers do not depend on
/// the others. With rcu_expedited a request no longer waits much for RCU
/// grace periods, and four streams got no more requests per second through
/// than one under TCG (the guest is then CPU-bound): one stream.
pub const STREAMS: usize = 1;

/// The seed of stream `i`.
pub fn stream_seed(seed: u64, i: usize) -> u64 {
    seed.wrapping_add(i as u64)
}

/// `requests` split over the streams.
fn per_stream(requests: usize) -> Vec<usize> {
    let streams = STREAMS;
    (0..streams)
        .map(|i| requests / streams + usize::from(i < requests % streams))
        .collect()
}

/// Runs `requests` requests of the stream seeded `seed` in a fresh namespace.
fn run_stream(name: &str, seed: u64, requests: usize, vrrp: bool) -> Result<Run, String> {
    let (ns, mut sock, lower_index) = fresh_namespace(name)?;
    let run = stream_here(&mut sock, seed, requests, vrrp, lower_index)?;
    drop(sock);
    ns.delete()
        .map_err(|e| format!("deleting the namespace: {e:#}"))?;
    Ok(run)
}

/// Runs [`STREAMS`] streams at once, `requests` requests in all.
fn run_streams(seed: u64, requests: usize, vrrp: bool) -> Result<Streams, String> {
    let start = Instant::now();
    let runs: Vec<Result<Run, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = per_stream(requests)
            .into_iter()
            .enumerate()
            .map(|(i, n)| {
                s.spawn(move || run_stream(&format!("mvv-fuzz{i}"), stream_seed(seed, i), n, vrrp))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a stream panicked".into())))
            .collect()
    });
    Ok(Streams {
        runs: runs.into_iter().collect::<Result<_, _>>()?,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The runs of the streams, and how long they took together.
pub struct Streams {
    pub runs: Vec<Run>,
    pub seconds: f64,
}

impl Streams {
    /// All streams as one run, for the counts.
    fn merged(&self) -> Run {
        let mut m = Run {
            answers: Vec::new(),
            whats: Vec::new(),
            kinds: Vec::new(),
            errnos: BTreeMap::new(),
            seconds: self.seconds,
            end: String::new(),
            profile: BTreeMap::new(),
        };
        for r in &self.runs {
            m.answers.extend(r.answers.iter().map(|a| Answer {
                errno: a.errno,
                state: String::new(),
            }));
            m.kinds.extend(&r.kinds);
            for (k, n) in &r.errnos {
                *m.errnos.entry(*k).or_default() += n;
            }
            for (k, t) in &r.profile {
                *m.profile.entry(k.clone()).or_default() += t;
            }
            m.whats.extend(r.whats.iter().cloned());
        }
        m
    }
}

/// Runs `requests` requests of the stream seeded `seed` over `sock`, whose
/// namespace has the lower devices `lower_index` (of [`LOWERS`]).
pub(super) fn stream_here(
    sock: &mut Socket,
    seed: u64,
    requests: usize,
    vrrp: bool,
    lower_index: Vec<i32>,
) -> Result<Run, String> {
    let mut stream = Stream {
        rng: Rng::new(seed),
        vrrp,
        lower_index,
    };
    let mut run = Run {
        answers: Vec::with_capacity(requests),
        whats: Vec::with_capacity(requests),
        kinds: Vec::with_capacity(requests),
        errnos: BTreeMap::new(),
        seconds: 0.0,
        end: String::new(),
        profile: BTreeMap::new(),
    };
    let (_, mut names) = read_all(sock).map_err(|e| format!("dump: errno {e}"))?;
    let start = Instant::now();
    for i in 0..requests {
        let req = stream.next(&names.index_of);
        let t0 = Instant::now();
        let errno = match sock.request(req.msg, 0) {
            Ok(_) => 0,
            Err(e) => e.raw_os_error().unwrap_or(-1),
        };
        let t1 = Instant::now();
        let (mut state, index) = read_one(sock, &req.slot, &names);
        match index {
            Some(i) => names.index_of.insert(req.slot.clone(), i),
            None => names.index_of.remove(&req.slot),
        };
        let t2 = Instant::now();
        if i % FULL_EVERY == FULL_EVERY - 1 {
            match read_all(sock) {
                Ok((all, n)) => {
                    state = format!("{state} || {all}");
                    names = n;
                }
                Err(e) => state = format!("{state} || dump failed: errno {e}"),
            }
        }
        let t3 = Instant::now();
        let ok = if errno == 0 { "ok" } else { "error" };
        *run.profile
            .entry(format!("{:?}/{ok}", req.kind))
            .or_default() += (t1 - t0).as_secs_f64();
        *run.profile.entry("read one".into()).or_default() += (t2 - t1).as_secs_f64();
        *run.profile.entry("dump".into()).or_default() += (t3 - t2).as_secs_f64();
        *run.errnos.entry((req.kind, errno)).or_default() += 1;
        run.answers.push(Answer { errno, state });
        run.whats.push(req.what);
        run.kinds.push(req.kind);
    }
    run.end = read_all(sock)
        .map(|(all, _)| all)
        .unwrap_or_else(|e| format!("dump failed: errno {e}"));
    run.seconds = start.elapsed().as_secs_f64();
    Ok(run)
}

/// The uid the unprivileged run takes (nobody) before it makes its user
/// namespace.
pub const USERNS_UID: u32 = 65534;

/// The unprivileged run, in a process of its own (`mvv-harness
/// fuzz-userns`, started by [`run_userns`] as root): drops to `uid` (no
/// capability left in the initial user namespace), makes a user namespace
/// (mapping only itself, to 0) and a network namespace it owns, makes the
/// lower devices there and runs the stream. Prints `I <uid>
/// <CapEff>` from before the namespaces, then one `A` line per request:
/// kind, errno, state, tab-separated.
pub fn userns_child(requests: usize, seed: u64, uid: u32) -> Result<(), String> {
    let os = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
    // SAFETY: plain syscalls on this single-threaded process; results are
    // checked.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(os("setgroups"));
        }
        if libc::setresgid(uid, uid, uid) != 0 {
            return Err(os("setresgid"));
        }
        if libc::setresuid(uid, uid, uid) != 0 {
            return Err(os("setresuid"));
        }
        // Changing credentials made the process undumpable, which makes
        // /proc/self/uid_map root's: writing our own map needs it back.
        if libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) != 0 {
            return Err(os("prctl(PR_SET_DUMPABLE)"));
        }
    }
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let cap_eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap_or("?")
        .trim()
        .to_string();
    // SAFETY: as above.
    let (ruid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
    println!("I {ruid} {euid} {cap_eff}");
    // SAFETY: unshare(2) on this single-threaded process.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } != 0 {
        return Err(os("unshare(CLONE_NEWUSER | CLONE_NEWNET)"));
    }
    let write = |path: &str, text: String| {
        std::fs::write(path, text).map_err(|e| format!("writing {path}: {e}"))
    };
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {uid} 1"))?;
    let mut sock = Socket::open(libc::NETLINK_ROUTE).map_err(|e| format!("netlink socket: {e}"))?;
    let lower_index = make_lowers(&mut sock)?;
    let run = stream_here(&mut sock, seed, requests, false, lower_index)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (a, kind) in run.answers.iter().zip(&run.kinds) {
        let _ = writeln!(out, "A\t{}\t{}\t{}", *kind as u8, a.errno, a.state);
    }
    let _ = writeln!(out, "T\t{}", run.seconds);
    let _ = writeln!(out, "E\t{}", run.end);
    out.flush().map_err(|e| e.to_string())
}

/// Runs [`STREAMS`] streams, `requests` requests in all, each in an
/// unprivileged user namespace of its own ([`userns_child`]), at once.
fn run_userns(seed: u64, requests: usize) -> Result<Streams, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let start = Instant::now();
    let children: Vec<_> = per_stream(requests)
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            Command::new(&exe)
                .args([
                    "fuzz-userns",
                    "--requests",
                    &n.to_string(),
                    "--seed",
                    &stream_seed(seed, i).to_string(),
                    "--uid",
                    &USERNS_UID.to_string(),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| format!("starting mvv-harness fuzz-userns: {e}"))
        })
        .collect();
    let mut runs = Vec::new();
    for (child, n) in children.into_iter().zip(per_stream(requests)) {
        let out = child?
            .wait_with_output()
            .map_err(|e| format!("mvv-harness fuzz-userns: {e}"))?;
        runs.push(parse_userns(out, n));
    }
    Ok(Streams {
        runs: runs.into_iter().collect::<Result<_, _>>()?,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// What one [`userns_child`] printed, as a run (with `whats` left empty);
/// checks that the process had no privilege in the initial user namespace.
fn parse_userns(out: std::process::Output, requests: usize) -> Result<Run, String> {
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "mvv-harness fuzz-userns: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut run = Run {
        answers: Vec::with_capacity(requests),
        whats: Vec::new(),
        kinds: Vec::with_capacity(requests),
        errnos: BTreeMap::new(),
        seconds: 0.0,
        end: String::new(),
        profile: BTreeMap::new(),
    };
    let mut identity = None;
    for line in text.lines() {
        if let Some(id) = line.strip_prefix("I ") {
            identity = Some(id.to_string());
            continue;
        }
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        match f.first() {
            Some(&"A") if f.len() == 4 => {
                let kind =
                    Kind::from_u8(f[1].parse().unwrap_or(255)).ok_or(format!("bad line {line}"))?;
                let errno: i32 = f[2].parse().map_err(|_| format!("bad line {line}"))?;
                *run.errnos.entry((kind, errno)).or_default() += 1;
                run.kinds.push(kind);
                run.answers.push(Answer {
                    errno,
                    state: f[3].to_string(),
                });
            }
            Some(&"T") => run.seconds = f.get(1).and_then(|t| t.parse().ok()).unwrap_or(0.0),
            Some(&"E") => run.end = f.get(1).unwrap_or(&"").to_string(),
            _ => return Err(format!("unexpected output line: {line}")),
        }
    }
    // "I <uid> <euid> <CapEff>": neither root nor any capability in the
    // initial user namespace.
    let identity = identity.ok_or("no identity line")?;
    let id: Vec<&str> = identity.split(' ').collect();
    if id.len() != 3 || id[0] == "0" || id[1] == "0" || !id[2].trim_start_matches('0').is_empty() {
        return Err(format!(
            "not unprivileged before its namespaces: uid, euid, CapEff = {identity}"
        ));
    }
    Ok(run)
}

fn switch_to(module: &str, ko: &Path) -> Result<(), String> {
    for m in [C_DRIVER, OURS] {
        if m != module && kmod::is_loaded(m) {
            let r = kmod::rmmod(m);
            if !r.success {
                return Err(format!("rmmod {m}: {}", r.summary()));
            }
        }
    }
    if !kmod::is_loaded(module) {
        let r = if module == C_DRIVER {
            kmod::modprobe(C_DRIVER)
        } else {
            kmod::insmod(ko)
        };
        if !r.success {
            return Err(format!("loading {module}: {}", r.summary()));
        }
    }
    Ok(())
}

fn report_counts<W: Write>(tap: &mut Tap<W>, who: &str, run: &Run) {
    let mut line = String::new();
    for ((kind, errno), n) in &run.errnos {
        let _ = write!(line, " {kind:?}/{}: {n};", errno_name(*errno));
    }
    tap.diag(&format!(
        "{who}: {} requests in {:.1} s ({:.0}/s):{line}",
        run.answers.len(),
        run.seconds,
        run.answers.len() as f64 / run.seconds.max(0.001)
    ));
    if !run.profile.is_empty() {
        let mut line = String::new();
        for (what, t) in &run.profile {
            let _ = write!(line, " {what} {t:.1} s;");
        }
        tap.diag(&format!("{who}: time in:{line}"));
    }
}

/// Compares the streams of two runs request by request (`whats` from
/// `a`); with `prefix`, `b`'s streams may be shorter (the rest of `a`'s is
/// not compared, nor the end states). Returns a failure reason, after
/// printing the first differences.
fn compare<W: Write>(
    tap: &mut Tap<W>,
    seed: u64,
    names: [&str; 2],
    a: &Streams,
    b: &Streams,
    prefix: bool,
) -> Result<(), String> {
    let mut bad = Vec::new();
    let mut shown = 0;
    if a.runs.len() != b.runs.len() {
        return Err(format!("{} streams against {}", a.runs.len(), b.runs.len()));
    }
    for (k, (x, y)) in a.runs.iter().zip(&b.runs).enumerate() {
        let n = x.answers.len().min(y.answers.len());
        let diffs: Vec<usize> = (0..n).filter(|&i| x.answers[i] != y.answers[i]).collect();
        for &i in diffs.iter().take(5usize.saturating_sub(shown)) {
            shown += 1;
            tap.diag(&format!(
                "difference at request {i} of stream {k} (seed {:#x}): {}",
                stream_seed(seed, k),
                x.whats.get(i).map_or("?", |w| w.as_str())
            ));
            for (who, r) in names.iter().zip([x, y]) {
                tap.diag(&format!(
                    "  {who:>6}: {} | {}",
                    errno_name(r.answers[i].errno),
                    r.answers[i].state
                ));
            }
        }
        let whole = x.answers.len() == y.answers.len();
        if !diffs.is_empty() {
            bad.push(format!(
                "stream {k}: {} of {n} requests answered differently; first at {}",
                diffs.len(),
                diffs[0]
            ));
        }
        if !whole && !prefix {
            bad.push(format!(
                "stream {k}: {} requests against {}",
                x.answers.len(),
                y.answers.len()
            ));
        }
        if whole && x.end != y.end {
            tap.diag(&format!(
                "stream {k}: different end states:\n  {:>6}: {}\n  {:>6}: {}",
                names[0], x.end, names[1], y.end
            ));
            bad.push(format!("stream {k}: different end states"));
        }
        if y.answers.is_empty() {
            bad.push(format!("stream {k}: no request answered"));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("; "))
    }
}

/// Reports `r` as check `name`.
fn report<W: Write>(tap: &mut Tap<W>, name: &str, r: Result<(), String>) {
    match r {
        Ok(()) => tap.pass(name),
        Err(e) => tap.fail(name, e),
    }
}

/// The kernel log from a point on: every record's text, so that the
/// reports of injected faults can be told from others.
struct KmsgTail {
    reader: Option<std::thread::JoinHandle<Vec<String>>>,
}

/// The record that tells [`KmsgTail`]'s reader the suite is done.
const KMSG_TAIL_END: &str = "mvv-fuzz: end of the suite's kernel log";

impl KmsgTail {
    /// Starts a thread that reads every new record as it comes: failing
    /// every allocation prints thousands of call traces, and a reader that
    /// waited for the end would find the ring buffer wrapped.
    fn open() -> Result<KmsgTail, String> {
        use std::io::Read;
        let mut f =
            std::fs::File::open("/dev/kmsg").map_err(|e| format!("opening /dev/kmsg: {e}"))?;
        // SAFETY: lseek on an fd this function owns.
        if unsafe { libc::lseek(std::os::fd::AsRawFd::as_raw_fd(&f), 0, libc::SEEK_END) } < 0 {
            return Err(format!(
                "lseek /dev/kmsg: {}",
                std::io::Error::last_os_error()
            ));
        }
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let raw = String::from_utf8_lossy(&buf[..n]);
                        if let Some(rec) = kmsg::parse_record(&raw) {
                            let line = kmsg::log_line(&rec);
                            if line.contains(KMSG_TAIL_END) {
                                break;
                            }
                            lines.push(line);
                        }
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
                        lines.push("mvv-kmsg: records lost".into());
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        lines.push(format!("mvv-kmsg: reading /dev/kmsg: {e}"));
                        break;
                    }
                }
            }
            lines
        });
        Ok(KmsgTail {
            reader: Some(reader),
        })
    }

    /// Ends the reader; returns the report lines since the start, minus the
    /// call traces of injected faults.
    fn reports(&mut self) -> Vec<String> {
        let Some(reader) = self.reader.take() else {
            return vec!["mvv-kmsg: the log was read already".into()];
        };
        if let Err(e) = kmsg::mark(KMSG_TAIL_END) {
            // The reader would wait for ever; it stays behind, detached.
            return vec![format!("mvv-kmsg: writing /dev/kmsg: {e}")];
        }
        let lines = reader
            .join()
            .unwrap_or_else(|_| vec!["mvv-kmsg: the reader panicked".into()]);
        kmsg::drop_injected_fault_traces(lines.iter().map(|l| l.as_str()))
            .into_iter()
            .filter(|l| {
                crate::suites::churn::REPORT_PATTERNS
                    .iter()
                    .any(|p| l.contains(p))
                    || l.contains("mvv-kmsg:")
            })
            .map(|l| l.to_string())
            .collect()
    }
}

/// The C driver's and ours' fault runs, for the comparison.
type FaultRuns = Vec<(usize, Result<fuzz_faults::Outcome, String>)>;

/// Runs every fault case (all, or those the C driver takes) on the loaded
/// driver in a fresh namespace; afterwards every lower must be free of
/// rx_handlers (enslaved to a bridge).
fn fault_runs<W: Write>(
    tap: &mut Tap<W>,
    who: &str,
    both_only: bool,
    (first, stride): (u32, u32),
) -> Result<FaultRuns, String> {
    let (ns, mut sock, lowers) = fresh_namespace("mvv-fuzz-faults")?;
    fuzz_faults::arm_failslab()?;
    kmsg::mark(kmsg::FAULTS_ON).map_err(|e| format!("writing /dev/kmsg: {e}"))?;
    let start = Instant::now();
    // fail-nth is the thread's: the requests go from this one.
    let out: FaultRuns = ns
        .enter(|| {
            fuzz_faults::CASES
                .iter()
                .enumerate()
                .filter(|(_, c)| c.both || !both_only)
                .map(|(i, c)| {
                    (
                        i,
                        fuzz_faults::run_case(&mut sock, &lowers, c, first, stride),
                    )
                })
                .collect()
        })
        .map_err(|e| format!("{e:#}"))?;
    let _ = kmsg::mark(kmsg::FAULTS_OFF);
    fuzz_faults::disarm_failslab();
    let mut faults = 0;
    for (i, o) in &out {
        let case = &fuzz_faults::CASES[*i];
        match o {
            Ok(o) => {
                faults += o.seq.len();
                tap.diag(&format!("{who} faults, {}", fuzz_faults::describe(case, o)));
            }
            Err(e) => tap.diag(&format!("{who} faults, {}: {e}", case.name)),
        }
    }
    tap.diag(&format!(
        "{who}: {faults} requests with an injected fault in {:.1} s",
        start.elapsed().as_secs_f64()
    ));
    drop(sock);
    ns.delete()
        .map_err(|e| format!("deleting the namespace: {e:#}"))?;
    Ok(out)
}

/// Whether every case took faults and, with `strict`, kept the state on
/// failure. The C driver is not held to that (its changelink of a source
/// list is not atomic: Documentation/macvlan-vrrp.rst); what it does is
/// printed.
fn faults_kept<W: Write>(
    tap: &mut Tap<W>,
    who: &str,
    runs: &Result<FaultRuns, String>,
    strict: bool,
) -> Result<(), String> {
    let runs = runs.as_ref().map_err(|e| e.clone())?;
    let mut bad = Vec::new();
    for (i, o) in runs {
        let name = fuzz_faults::CASES[*i].name;
        match o {
            Ok(o) if o.seq.is_empty() => bad.push(format!("{name}: no fault was injected")),
            Ok(o) if strict => bad.extend(o.bad.iter().map(|b| format!("{name}: {b}"))),
            Ok(o) => {
                for b in &o.bad {
                    tap.diag(&format!("{who} under faults (not held to it), {name}: {b}"));
                }
            }
            Err(e) => bad.push(format!("{name}: {e}")),
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n"))
    }
}

/// The C driver's and ours' answers under faults: the same fault-free
/// answer and state, and the same errnos among the failed requests.
fn faults_compared(
    c: &Result<FaultRuns, String>,
    o: &Result<FaultRuns, String>,
    every: bool,
) -> Result<(), String> {
    let (c, o) = (
        c.as_ref().map_err(|e| e.clone())?,
        o.as_ref().map_err(|e| e.clone())?,
    );
    let mut bad = Vec::new();
    for (i, co) in c {
        let name = fuzz_faults::CASES[*i].name;
        let Some((_, oo)) = o.iter().find(|(j, _)| j == i) else {
            bad.push(format!("{name}: not run on ours"));
            continue;
        };
        let (Ok(co), Ok(oo)) = (co, oo) else {
            bad.push(format!("{name}: a run did not complete"));
            continue;
        };
        if co.last != oo.last || co.last_state != oo.last_state {
            bad.push(format!(
                "{name}: without a fault C: {} | {}; ours: {} | {}",
                errno_name(co.last),
                co.last_state,
                errno_name(oo.last),
                oo.last_state
            ));
        }
        // With a stride the two drivers' sampled allocations are not the
        // same ones: only a run that fails every allocation compares the
        // errnos.
        let (cd, od) = (co.distinct(), oo.distinct());
        if every && cd != od {
            let show = |d: &std::collections::BTreeSet<i32>| {
                d.iter()
                    .map(|e| fuzz_faults::errno_short(*e))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            bad.push(format!(
                "{name}: answers under faults: C {{{}}}, ours {{{}}}",
                show(&cd),
                show(&od)
            ));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n"))
    }
}

/// `/sys/kernel/rcu_expedited`: while it is 1, synchronize_rcu() is
/// expedited. Unregistering a device waits for grace periods, and under TCG
/// that was most of a request's time (see Documentation/testing.rst).
const RCU_EXPEDITED: &str = "/sys/kernel/rcu_expedited";

pub fn run<W: Write>(tap: &mut Tap<W>, ko: &Path, requests: usize, seed: u64, fault_stride: u32) {
    let rcu_was = std::fs::read_to_string(RCU_EXPEDITED).unwrap_or_default();
    if let Err(e) = std::fs::write(RCU_EXPEDITED, "1") {
        tap.diag(&format!("cannot write {RCU_EXPEDITED}: {e}"));
    }
    run_all(tap, ko, requests, seed, fault_stride);
    if !rcu_was.trim().is_empty() {
        let _ = std::fs::write(RCU_EXPEDITED, rcu_was.trim());
    }
}

fn run_all<W: Write>(tap: &mut Tap<W>, ko: &Path, requests: usize, seed: u64, fault_stride: u32) {
    // Which allocations fail: every one with stride 1 (make check-full),
    // else every stride-th from an offset the seed picks.
    let stride = fault_stride.max(1);
    let faults = ((seed % stride as u64) as u32 + 1, stride);
    // Sizes of the other runs, against `requests` per driver: prefixes of
    // the same stream unprivileged, so an eighth is the same check at an
    // eighth of the time.
    let (userns_requests, c_userns_requests) = (requests / 8, requests / 16);
    let (vrrp_requests, race_requests) = (requests / 8, requests / 20);
    tap.diag(&format!(
        "allocation failures: n = 1 to {} and then {}, {}, ... (every {stride}th) per request",
        fuzz_faults::EVERY,
        fuzz_faults::EVERY + faults.0,
        fuzz_faults::EVERY + faults.0 + stride
    ));
    tap.diag(&format!(
        "seed {seed:#x}, {requests} requests per driver; unprivileged (uid {USERNS_UID} in a user namespace): \
         {userns_requests} on ours, {c_userns_requests} on C; mode 32: {vrrp_requests}; races: {race_requests}; \
         {STREAMS} streams at once, seeds {seed:#x} + 0..{STREAMS}"
    ));
    let mut kmsg = match KmsgTail::open() {
        Ok(k) => Some(k),
        Err(e) => {
            tap.diag(&e);
            None
        }
    };
    let setup = switch_to(C_DRIVER, ko);
    tap.report(
        "setup",
        &crate::tap::Outcome::from_failures(&setup.err().into_iter().collect::<Vec<_>>()),
    );

    // The C driver: the stream, the stream unprivileged, the faults.
    let c = run_streams(seed, requests, false);
    match &c {
        Ok(r) => {
            report_counts(tap, "C", &r.merged());
            tap.pass("c_stream_ran");
        }
        Err(e) => tap.fail("c_stream_ran", e.clone()),
    }
    let c_userns = run_userns(seed, c_userns_requests);
    if let Ok(r) = &c_userns {
        report_counts(tap, "C unprivileged", &r.merged());
    }
    let c_faults = fault_runs(tap, "C", true, faults);

    // Ours: the same, then mode 32 and the races.
    let ours = switch_to(OURS, ko).and_then(|()| run_streams(seed, requests, false));
    match &ours {
        Ok(r) => {
            report_counts(tap, "ours", &r.merged());
            tap.pass("ours_stream_ran");
        }
        Err(e) => tap.fail("ours_stream_ran", e.clone()),
    }
    match (&c, &ours) {
        (Ok(c), Ok(o)) => {
            let r = compare(tap, seed, ["C", "ours"], c, o, false);
            report(tap, "same_answers_as_c", r);
            let o = o.merged();
            // A stream that never succeeds or never fails at some kind of
            // request tests little: every kind must get both answers.
            let mut missing = Vec::new();
            for kind in [Kind::Create, Kind::Change, Kind::Delete, Kind::UpDown] {
                let ok = o.errnos.iter().any(|((k, e), _)| *k == kind && *e == 0);
                let err = o.errnos.iter().any(|((k, e), _)| *k == kind && *e != 0);
                if !ok || !err {
                    missing.push(format!("{kind:?} (success {ok}, error {err})"));
                }
            }
            if missing.is_empty() {
                tap.pass("every_request_kind_answered");
            } else {
                tap.fail("every_request_kind_answered", missing.join(", "));
            }
        }
        _ => {
            tap.fail("same_answers_as_c", "a run did not complete");
            tap.fail("every_request_kind_answered", "a run did not complete");
        }
    }

    // Unprivileged: the same answers as the privileged run of the same
    // driver (a prefix of it for C).
    let userns_same =
        |r: &Result<Streams, String>, privileged: &Result<Streams, String>, tap: &mut Tap<W>| {
            let (r, p) = (
                r.as_ref().map_err(|e| e.clone())?,
                privileged.as_ref().map_err(|e| e.clone())?,
            );
            compare(tap, seed, ["root", "userns"], p, r, true)
        };
    let r = userns_same(&c_userns, &c, tap);
    report(tap, "userns_c_same_answers", r);
    let ours_userns = if ours.is_ok() {
        run_userns(seed, userns_requests)
    } else {
        Err("ours did not run".into())
    };
    if let Ok(r) = &ours_userns {
        report_counts(tap, "ours unprivileged", &r.merged());
    }
    let r = userns_same(&ours_userns, &ours, tap);
    report(tap, "userns_ours_same_answers", r);

    // Ours alone, with mode 32: only answers the requests can get.
    match switch_to(OURS, ko).and_then(|()| run_streams(seed ^ 0x5252, vrrp_requests, true)) {
        Ok(r) => {
            let r = r.merged();
            report_counts(tap, "ours with mode 32", &r);
            let bad: Vec<String> = r
                .answers
                .iter()
                .zip(&r.whats)
                .filter(|(a, _)| !fuzz_races::ALLOWED.contains(&a.errno))
                .take(3)
                .map(|(a, w)| format!("{w}: {}", errno_name(a.errno)))
                .collect();
            if bad.is_empty() {
                tap.pass("vrrp_stream_ours");
            } else {
                tap.fail("vrrp_stream_ours", bad.join("; "));
            }
        }
        Err(e) => tap.fail("vrrp_stream_ours", e),
    }

    // Allocation failures.
    let o_faults = fault_runs(tap, "ours", false, faults);
    let r = faults_kept(tap, "C", &c_faults, false);
    report(tap, "faults_c_ran", r);
    let r = faults_kept(tap, "ours", &o_faults, true);
    report(tap, "faults_ours_state_kept", r);
    report(
        tap,
        "faults_same_as_c",
        faults_compared(&c_faults, &o_faults, stride == 1),
    );

    // Races.
    match fuzz_races::run(seed ^ 0x7261, race_requests) {
        Ok(r) => {
            report_counts(tap, "ours racing", &r.stream);
            let mut line = String::new();
            for ((op, e), n) in &r.ops {
                let _ = write!(line, " {op}/{}: {n};", errno_name(*e));
            }
            tap.diag(&format!("racer ({:.1} s):{line}", r.seconds));
            if r.bad.is_empty() {
                tap.pass("races_consistent");
            } else {
                tap.fail("races_consistent", r.bad.join("\n"));
            }
        }
        Err(e) => tap.fail("races_consistent", e),
    }

    // No kernel report since the suite started, but injected faults' own.
    match kmsg.as_mut().map(|k| k.reports()) {
        Some(r) if r.is_empty() => tap.pass("no_report_but_injected_faults"),
        Some(r) => tap.fail(
            "no_report_but_injected_faults",
            r.iter().take(20).cloned().collect::<Vec<_>>().join("\n"),
        ),
        None => tap.fail("no_report_but_injected_faults", "cannot read /dev/kmsg"),
    }
    let teardown = switch_to(OURS, ko);
    tap.report(
        "teardown",
        &crate::tap::Outcome::from_failures(&teardown.err().into_iter().collect::<Vec<_>>()),
    );
}
