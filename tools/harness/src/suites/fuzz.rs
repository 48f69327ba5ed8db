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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use mvv_netlink::raw::{self, MsgBuilder, Socket, NLM_F_REQUEST};

use crate::kmod::{self, C_DRIVER, OURS};
use crate::netns::Netns;
use crate::suites::hostile::Rng;
use crate::tap::Tap;

pub const TESTS: &[&str] = &[
    "setup",
    "c_stream_ran",
    "ours_stream_ran",
    "same_answers_as_c",
    "every_request_kind_answered",
    "vrrp_stream_ours",
    "teardown",
];

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const IFF_UP: u32 = 1;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;

const MODE: u16 = 1;
const FLAGS: u16 = 2;
const MACADDR_MODE: u16 = 3;
const MACADDR: u16 = 4;
const MACADDR_DATA: u16 = 5;
const MACADDR_COUNT: u16 = 6;
const BC_QUEUE_LEN: u16 = 7;
const BC_QUEUE_LEN_USED: u16 = 8;
const BC_CUTOFF: u16 = 9;

/// The upper devices the stream creates, changes and deletes.
const SLOTS: usize = 6;
/// Lower devices, made the same way in every run: (name, MAC, how).
const LOWERS: &[(&str, [u8; 6], &str)] = &[
    ("fl0", [0x02, 0, 0, 0, 0xf0, 0x01], "veth"),
    ("fl1", [0x02, 0, 0, 0, 0xf0, 0x02], "dummy"),
    ("fb0", [0x02, 0, 0, 0, 0xf0, 0x03], "bridge port"),
    ("fbr", [0x02, 0, 0, 0, 0xf0, 0x04], "bridge"),
];
/// Addresses requests use, so that they collide with each other.
const POOL: &[[u8; 6]] = &[
    [0x02, 0x11, 0, 0, 0, 0x01],
    [0x02, 0x11, 0, 0, 0, 0x02],
    [0x02, 0x11, 0, 0, 0, 0x03],
    [0x02, 0, 0, 0, 0xf0, 0x01],
    [0x00, 0x00, 0x5e, 0x00, 0x01, 0x0a],
    [0x00, 0x00, 0x5e, 0x00, 0x01, 0x14],
];

/// What a request does, for the per-kind counts.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Create,
    Change,
    Delete,
    UpDown,
}

/// One request, built from the stream and sent as bytes.
struct Request {
    kind: Kind,
    slot: String,
    what: String,
    msg: MsgBuilder,
}

fn ifinfomsg(index: i32, flags: u32, change: u32) -> Vec<u8> {
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

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The state of one macvlan link, or `None` for another kind, with
/// addresses that differ between runs (random ones) normalised.
fn link_line(
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
        raw::attr(a, t).map(|v| u32::from_ne_bytes(v[..4].try_into().unwrap_or([0; 4])))
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
fn parse_link(r: &[u8]) -> Option<(i32, u32, String, &[u8])> {
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
fn read_all(sock: &mut Socket) -> Result<(String, Names), i32> {
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
struct Names {
    index_of: BTreeMap<String, i32>,
    name_of: BTreeMap<i32, String>,
}

/// Every this many requests, the whole namespace is read back and compared,
/// not only the link the request named: a request may change the port the
/// link shares with others (`BC_CUTOFF`, `BC_QUEUE_LEN_USED`, passthru).
const FULL_EVERY: usize = 16;

/// One answer: the errno (0 for success) and the state after.
#[derive(PartialEq, Eq)]
struct Answer {
    errno: i32,
    state: String,
}

/// What one run observed.
struct Run {
    answers: Vec<Answer>,
    whats: Vec<String>,
    errnos: BTreeMap<(Kind, i32), u32>,
    seconds: f64,
}

fn errno_name(e: i32) -> String {
    match e {
        0 => "ok".into(),
        e => {
            let s = std::io::Error::from_raw_os_error(e).to_string();
            format!("{e} ({})", s.split(" (os error").next().unwrap_or(&s))
        }
    }
}

/// Creates the lower devices of a run, the same way each time.
fn make_lowers(ns: &Netns) -> Result<Vec<i32>, String> {
    let ip = |args: &[&str]| -> Result<(), String> {
        let r = kmod::run(ns.command("ip").args(args));
        if r.success {
            Ok(())
        } else {
            Err(format!("ip {}: {}", args.join(" "), r.summary()))
        }
    };
    ip(&["link", "add", "fl0", "type", "veth", "peer", "name", "fp0"])?;
    ip(&["link", "add", "fl1", "mtu", "9000", "type", "dummy"])?;
    ip(&["link", "add", "fb0", "type", "dummy"])?;
    ip(&["link", "add", "fbr", "type", "bridge"])?;
    ip(&["link", "set", "fb0", "master", "fbr"])?;
    for (name, mac, _) in LOWERS {
        ip(&["link", "set", name, "address", &hex(mac), "up"])?;
    }
    let mut sock = ns
        .enter(|| Socket::open(libc::NETLINK_ROUTE))
        .map_err(|e| format!("{e:#}"))?
        .map_err(|e| format!("netlink socket: {e}"))?;
    let (_, names) = read_all(&mut sock).map_err(|e| format!("dump: errno {e}"))?;
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

/// Runs `requests` requests of the stream seeded `seed` in a fresh namespace.
fn run_stream(seed: u64, requests: usize, vrrp: bool) -> Result<Run, String> {
    let ns = Netns::create("mvv-fuzz").map_err(|e| format!("{e:#}"))?;
    let lower_index = make_lowers(&ns)?;
    let mut sock = ns
        .enter(|| Socket::open(libc::NETLINK_ROUTE))
        .map_err(|e| format!("{e:#}"))?
        .map_err(|e| format!("netlink socket: {e}"))?;
    let mut stream = Stream {
        rng: Rng::new(seed),
        vrrp,
        lower_index,
    };
    let mut run = Run {
        answers: Vec::with_capacity(requests),
        whats: Vec::with_capacity(requests),
        errnos: BTreeMap::new(),
        seconds: 0.0,
    };
    let (_, mut names) = read_all(&mut sock).map_err(|e| format!("dump: errno {e}"))?;
    let start = Instant::now();
    for i in 0..requests {
        let req = stream.next(&names.index_of);
        let errno = match sock.request(req.msg, 0) {
            Ok(_) => 0,
            Err(e) => e.raw_os_error().unwrap_or(-1),
        };
        let (mut state, index) = read_one(&mut sock, &req.slot, &names);
        match index {
            Some(i) => names.index_of.insert(req.slot.clone(), i),
            None => names.index_of.remove(&req.slot),
        };
        if i % FULL_EVERY == FULL_EVERY - 1 || i + 1 == requests {
            match read_all(&mut sock) {
                Ok((all, n)) => {
                    state = format!("{state} || {all}");
                    names = n;
                }
                Err(e) => state = format!("{state} || dump failed: errno {e}"),
            }
        }
        *run.errnos.entry((req.kind, errno)).or_default() += 1;
        run.answers.push(Answer { errno, state });
        run.whats.push(req.what);
    }
    run.seconds = start.elapsed().as_secs_f64();
    drop(sock);
    ns.delete()
        .map_err(|e| format!("deleting the namespace: {e:#}"))?;
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
}

pub fn run<W: Write>(tap: &mut Tap<W>, ko: &Path, requests: usize, seed: u64) {
    tap.diag(&format!("seed {seed:#x}, {requests} requests per driver"));
    let setup = switch_to(C_DRIVER, ko);
    tap.report(
        "setup",
        &crate::tap::Outcome::from_failures(&setup.err().into_iter().collect::<Vec<_>>()),
    );

    let c = run_stream(seed, requests, false);
    match &c {
        Ok(r) => {
            report_counts(tap, "C", r);
            tap.pass("c_stream_ran");
        }
        Err(e) => tap.fail("c_stream_ran", e.clone()),
    }
    let ours = switch_to(OURS, ko).and_then(|()| run_stream(seed, requests, false));
    match &ours {
        Ok(r) => {
            report_counts(tap, "ours", r);
            tap.pass("ours_stream_ran");
        }
        Err(e) => tap.fail("ours_stream_ran", e.clone()),
    }
    match (&c, &ours) {
        (Ok(c), Ok(o)) => {
            let diffs: Vec<usize> = (0..c.answers.len().min(o.answers.len()))
                .filter(|&i| c.answers[i] != o.answers[i])
                .collect();
            for &i in diffs.iter().take(5) {
                tap.diag(&format!(
                    "difference at request {i} (seed {seed:#x}): {}",
                    c.whats[i]
                ));
                tap.diag(&format!(
                    "  C:    {} | {}",
                    errno_name(c.answers[i].errno),
                    c.answers[i].state
                ));
                tap.diag(&format!(
                    "  ours: {} | {}",
                    errno_name(o.answers[i].errno),
                    o.answers[i].state
                ));
            }
            if diffs.is_empty() && c.answers.len() == o.answers.len() {
                tap.pass("same_answers_as_c");
            } else {
                tap.fail(
                    "same_answers_as_c",
                    format!(
                        "{} of {} requests answered differently; first at {}",
                        diffs.len(),
                        c.answers.len(),
                        diffs.first().copied().unwrap_or(0)
                    ),
                );
            }
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

    // Ours alone, with mode 32: only answers the requests can get.
    let allowed = [
        0,
        libc::EINVAL,
        libc::ENODEV,
        libc::EEXIST,
        libc::EBUSY,
        libc::EADDRINUSE,
        libc::EADDRNOTAVAIL,
        libc::EOPNOTSUPP,
        libc::ERANGE,
    ];
    match switch_to(OURS, ko).and_then(|()| run_stream(seed ^ 0x5252, requests / 4, true)) {
        Ok(r) => {
            report_counts(tap, "ours with mode 32", &r);
            let bad: Vec<String> = r
                .answers
                .iter()
                .zip(&r.whats)
                .filter(|(a, _)| !allowed.contains(&a.errno))
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
    let teardown = switch_to(OURS, ko);
    tap.report(
        "teardown",
        &crate::tap::Outcome::from_failures(&teardown.err().into_iter().collect::<Vec<_>>()),
    );
}
