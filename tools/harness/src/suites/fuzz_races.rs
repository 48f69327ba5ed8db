//! The fuzz suite's races: while the seeded stream runs on one thread, a
//! second thread in the same namespace deletes and re-creates the lower
//! devices (at the same indexes, so that the stream's `IFLA_LINK`s keep
//! naming them) and creates, changes and deletes uppers of its own and the
//! stream's. Nothing is compared with the C driver; every answer must be
//! one the requests can get, and afterwards the namespace must be
//! consistent: every macvlan on an existing lower device that is not a
//! macvlan, a passthru upper alone on its lower, no upper with a larger MTU
//! than its lower, source lists as long as their count; every macvlan can
//! be deleted, and then every lower can be enslaved to a bridge (`EBUSY`
//! would be an rx_handler left behind).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use mvv_netlink::raw::{self, MsgBuilder, Socket, NLM_F_REQUEST};

use super::fuzz::{self, ifinfomsg, Run, LOWERS, POOL};
use crate::suites::hostile::Rng;

const IFLA_MASTER: u16 = 10;
const VETH_INFO_PEER: u16 = 1;

/// The errnos a request may get while devices come and go under it.
pub const ALLOWED: &[i32] = &[
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

/// What the racing thread did: per operation, per errno.
pub type OpCounts = BTreeMap<(&'static str, i32), u32>;

/// What a race run observed.
pub struct RaceRun {
    pub stream: Run,
    pub ops: OpCounts,
    /// Problems with the end state or the answers.
    pub bad: Vec<String>,
    pub seconds: f64,
}

fn send(sock: &mut Socket, m: MsgBuilder) -> i32 {
    match sock.request(m, 0) {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

fn by_name(kind: u16, flags: u16, name: &str, header: Vec<u8>) -> MsgBuilder {
    let mut m = MsgBuilder::new(kind, NLM_F_REQUEST | fuzz::NLM_F_ACK | flags, &header);
    m.attr_str(fuzz::IFLA_IFNAME, name);
    m
}

fn delete(sock: &mut Socket, name: &str) -> i32 {
    send(
        sock,
        by_name(fuzz::RTM_DELLINK, 0, name, ifinfomsg(0, 0, 0)),
    )
}

/// An attribute's bytes (for a nest whose payload starts with a header).
fn tlv(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + value.len() + 3);
    v.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(value);
    v.resize((v.len() + 3) & !3, 0);
    v
}

/// Creates lower `i` of [`LOWERS`] at `index` (0: any), up, with its
/// address (fl1 with MTU 9000, fb0 a port of `bridge`). Returns the errno.
pub(super) fn create_lower(sock: &mut Socket, i: usize, index: i32, bridge: i32) -> i32 {
    let (name, mac, _) = LOWERS[i];
    let mut m = by_name(
        fuzz::RTM_NEWLINK,
        fuzz::NLM_F_CREATE | fuzz::NLM_F_EXCL,
        name,
        ifinfomsg(index, fuzz::IFF_UP, fuzz::IFF_UP),
    );
    m.attr(fuzz::IFLA_ADDRESS, &mac);
    match i {
        0 => {
            m.begin_nest(fuzz::IFLA_LINKINFO);
            m.attr_str(fuzz::IFLA_INFO_KIND, "veth");
            m.begin_nest(fuzz::IFLA_INFO_DATA);
            let mut peer = ifinfomsg(0, 0, 0);
            peer.extend_from_slice(&tlv(fuzz::IFLA_IFNAME, b"fp0\0"));
            m.attr(VETH_INFO_PEER, &peer);
            m.end_nest();
            m.end_nest();
        }
        1 | 2 => {
            if i == 1 {
                m.attr(fuzz::IFLA_MTU, &9000u32.to_ne_bytes());
            } else {
                m.attr(IFLA_MASTER, &(bridge as u32).to_ne_bytes());
            }
            m.begin_nest(fuzz::IFLA_LINKINFO);
            m.attr_str(fuzz::IFLA_INFO_KIND, "dummy");
            m.end_nest();
        }
        _ => {
            m.begin_nest(fuzz::IFLA_LINKINFO);
            m.attr_str(fuzz::IFLA_INFO_KIND, "bridge");
            m.end_nest();
        }
    }
    send(sock, m)
}

/// The racing thread: until `stop`, one operation after another.
fn racer(sock: &mut Socket, seed: u64, lowers: &[i32], stop: &AtomicBool) -> OpCounts {
    let mut rng = Rng::new(seed ^ 0x7261_6365);
    let mut ops = OpCounts::new();
    let count = |ops: &mut OpCounts, op: &'static str, e: i32| {
        *ops.entry((op, e)).or_default() += 1;
    };
    while !stop.load(Ordering::Relaxed) {
        match rng.below(8) {
            0 => {
                // A lower device with whatever uppers it has, and back.
                let i = rng.below(3);
                let e = delete(sock, LOWERS[i].0);
                count(&mut ops, "delete lower", e);
                let e = create_lower(sock, i, lowers[i], lowers[3]);
                count(&mut ops, "re-create lower", e);
            }
            1 | 2 => {
                let name = ["fr0", "fr1", "fr2"][rng.below(3)];
                let mode = [1u32, 2, 4, 8, 16, 32][rng.below(6)];
                let lower = lowers[rng.below(4)];
                let mut m = by_name(
                    fuzz::RTM_NEWLINK,
                    fuzz::NLM_F_CREATE | fuzz::NLM_F_EXCL,
                    name,
                    ifinfomsg(0, fuzz::IFF_UP, fuzz::IFF_UP),
                );
                m.attr(fuzz::IFLA_LINK, &(lower as u32).to_ne_bytes());
                if mode == 32 {
                    m.attr(fuzz::IFLA_ADDRESS, &POOL[4 + rng.below(2)]);
                }
                m.begin_nest(fuzz::IFLA_LINKINFO);
                m.attr_str(fuzz::IFLA_INFO_KIND, "macvlan");
                m.begin_nest(fuzz::IFLA_INFO_DATA);
                m.attr(fuzz::MODE, &mode.to_ne_bytes());
                if mode == 16 {
                    m.attr(fuzz::MACADDR_MODE, &3u32.to_ne_bytes());
                    m.begin_nest(fuzz::MACADDR_DATA);
                    m.attr(fuzz::MACADDR, &POOL[rng.below(3)]);
                    m.end_nest();
                }
                m.end_nest();
                m.end_nest();
                let e = send(sock, m);
                count(&mut ops, "create upper", e);
            }
            3 => {
                let name = format!("{}{}", ["fr", "fz"][rng.below(2)], rng.below(fuzz::SLOTS));
                let e = delete(sock, &name);
                count(&mut ops, "delete upper", e);
            }
            4 => {
                let name = format!("fz{}", rng.below(fuzz::SLOTS));
                let mut m = by_name(fuzz::RTM_NEWLINK, 0, &name, ifinfomsg(0, 0, 0));
                m.begin_nest(fuzz::IFLA_LINKINFO);
                m.attr_str(fuzz::IFLA_INFO_KIND, "macvlan");
                m.begin_nest(fuzz::IFLA_INFO_DATA);
                m.attr(fuzz::MODE, &[1u32, 2, 4, 32][rng.below(4)].to_ne_bytes());
                m.end_nest();
                m.end_nest();
                let e = send(sock, m);
                count(&mut ops, "change upper mode", e);
            }
            5 => {
                let mtu = [1500u32, 9000, 1400][rng.below(3)];
                let mut m = by_name(fuzz::RTM_NEWLINK, 0, "fl1", ifinfomsg(0, 0, 0));
                m.attr(fuzz::IFLA_MTU, &mtu.to_ne_bytes());
                let e = send(sock, m);
                count(&mut ops, "lower mtu", e);
            }
            6 => {
                let up = rng.chance(1, 2);
                let flags = if up { fuzz::IFF_UP } else { 0 };
                let e = send(
                    sock,
                    by_name(
                        fuzz::RTM_NEWLINK,
                        0,
                        "fl0",
                        ifinfomsg(0, flags, fuzz::IFF_UP),
                    ),
                );
                count(&mut ops, "lower up/down", e);
            }
            _ => {
                let mac = if rng.chance(1, 2) {
                    LOWERS[0].1
                } else {
                    POOL[1]
                };
                let mut m = by_name(fuzz::RTM_NEWLINK, 0, "fl0", ifinfomsg(0, 0, 0));
                m.attr(fuzz::IFLA_ADDRESS, &mac);
                let e = send(sock, m);
                count(&mut ops, "lower address", e);
            }
        }
    }
    ops
}

/// One link of the end state.
struct Link {
    name: String,
    kind: String,
    link: Option<i32>,
    mtu: u32,
    mode: Option<u32>,
    count: Option<u32>,
    entries: usize,
}

fn links(sock: &mut Socket) -> Result<BTreeMap<i32, Link>, String> {
    let dump = MsgBuilder::new(
        fuzz::RTM_GETLINK,
        NLM_F_REQUEST | fuzz::NLM_F_DUMP,
        &ifinfomsg(0, 0, 0),
    );
    let replies = sock
        .request(dump, fuzz::RTM_NEWLINK)
        .map_err(|e| format!("link dump: {e}"))?;
    let u32_of = |a: &[u8], t| {
        raw::attr(a, t)
            .and_then(|v| v.get(..4))
            .map(|v| u32::from_ne_bytes([v[0], v[1], v[2], v[3]]))
    };
    let mut out = BTreeMap::new();
    for (index, _, name, attrs) in replies.iter().filter_map(|r| fuzz::parse_link(r)) {
        let info = raw::attr(attrs, fuzz::IFLA_LINKINFO).unwrap_or(&[]);
        let kind = raw::attr(info, fuzz::IFLA_INFO_KIND)
            .map(|k| String::from_utf8_lossy(k.strip_suffix(&[0]).unwrap_or(k)).into_owned())
            .unwrap_or_default();
        let data = if kind == "macvlan" {
            raw::attr(info, fuzz::IFLA_INFO_DATA).unwrap_or(&[])
        } else {
            &[]
        };
        out.insert(
            index,
            Link {
                name,
                link: u32_of(attrs, fuzz::IFLA_LINK).map(|i| i as i32),
                mtu: u32_of(attrs, fuzz::IFLA_MTU).unwrap_or(0),
                mode: u32_of(data, fuzz::MODE),
                count: u32_of(data, fuzz::MACADDR_COUNT),
                entries: raw::attr(data, fuzz::MACADDR_DATA)
                    .map(|d| raw::attrs(d).count())
                    .unwrap_or(0),
                kind,
            },
        );
    }
    Ok(out)
}

/// The end state's consistency; returns the problems found.
fn check_end_state(sock: &mut Socket) -> Vec<String> {
    let mut bad = Vec::new();
    let all = match links(sock) {
        Ok(l) => l,
        Err(e) => return vec![e],
    };
    let mut per_lower: BTreeMap<i32, Vec<&Link>> = BTreeMap::new();
    for l in all.values().filter(|l| l.kind == "macvlan") {
        let lower = l.link.and_then(|i| all.get(&i).map(|x| (i, x)));
        match lower {
            None => bad.push(format!(
                "{} on link {:?}, which does not exist",
                l.name, l.link
            )),
            Some((_, x)) if x.kind == "macvlan" => {
                bad.push(format!("{} on {}, another macvlan", l.name, x.name))
            }
            Some((i, x)) => {
                if l.mtu > x.mtu {
                    bad.push(format!(
                        "{} MTU {} above {}'s {}",
                        l.name, l.mtu, x.name, x.mtu
                    ));
                }
                per_lower.entry(i).or_default().push(l);
            }
        }
        if l.mode == Some(16) && l.count.unwrap_or(0) as usize != l.entries {
            bad.push(format!(
                "{}: MACADDR_COUNT {:?} but {} entries",
                l.name, l.count, l.entries
            ));
        }
    }
    for (i, ups) in &per_lower {
        if ups.len() > 1 && ups.iter().any(|u| u.mode == Some(8)) {
            let names: Vec<&str> = ups.iter().map(|u| u.name.as_str()).collect();
            bad.push(format!("passthru not alone on #{i}: {}", names.join(", ")));
        }
    }
    // Every macvlan goes, then every lower can take a bridge's rx_handler.
    for l in all.values().filter(|l| l.kind == "macvlan") {
        let e = delete(sock, &l.name);
        if e != 0 && e != libc::ENODEV {
            bad.push(format!("deleting {}: errno {e}", l.name));
        }
    }
    match links(sock) {
        Ok(left) => {
            for l in left.values().filter(|l| l.kind == "macvlan") {
                bad.push(format!("{} left after deleting every macvlan", l.name));
            }
        }
        Err(e) => bad.push(e),
    }
    let mut m = by_name(
        fuzz::RTM_NEWLINK,
        fuzz::NLM_F_CREATE | fuzz::NLM_F_EXCL,
        "fck",
        ifinfomsg(0, 0, 0),
    );
    m.begin_nest(fuzz::IFLA_LINKINFO);
    m.attr_str(fuzz::IFLA_INFO_KIND, "bridge");
    m.end_nest();
    let e = send(sock, m);
    if e != 0 {
        bad.push(format!("creating bridge fck: errno {e}"));
        return bad;
    }
    let fck = links(sock)
        .ok()
        .and_then(|l| l.iter().find(|(_, x)| x.name == "fck").map(|(i, _)| *i))
        .unwrap_or(0);
    for name in ["fl0", "fl1"] {
        let mut m = by_name(fuzz::RTM_NEWLINK, 0, name, ifinfomsg(0, 0, 0));
        m.attr(IFLA_MASTER, &(fck as u32).to_ne_bytes());
        let e = send(sock, m);
        if e != 0 {
            bad.push(format!(
                "enslaving {name} to a bridge after the last macvlan went: errno {e} (an rx_handler left?)"
            ));
        }
    }
    bad
}

/// The race run, on the loaded driver (ours), in a fresh namespace.
pub fn run(seed: u64, requests: usize) -> Result<RaceRun, String> {
    let (ns, mut sock, lowers) = fuzz::fresh_namespace("mvv-fuzz-race")?;
    let mut racer_sock = fuzz::socket_in(&ns)?;
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let (stream, ops) = std::thread::scope(|s| {
        let racing = s.spawn(|| racer(&mut racer_sock, seed, &lowers, &stop));
        let stream = fuzz::stream_here(&mut sock, seed, requests, true, lowers.clone());
        stop.store(true, Ordering::Relaxed);
        (stream, racing.join())
    });
    let seconds = start.elapsed().as_secs_f64();
    let stream = stream?;
    let ops = ops.map_err(|_| "the racing thread panicked".to_string())?;
    let mut bad = Vec::new();
    for ((kind, e), n) in &stream.errnos {
        if !ALLOWED.contains(e) {
            bad.push(format!("stream {kind:?}: errno {e} x{n}"));
        }
    }
    for ((op, e), n) in &ops {
        if !ALLOWED.contains(e) {
            bad.push(format!("racer {op}: errno {e} x{n}"));
        }
    }
    bad.extend(check_end_state(&mut sock));
    drop(sock);
    drop(racer_sock);
    ns.delete()
        .map_err(|e| format!("deleting the namespace: {e:#}"))?;
    Ok(RaceRun {
        stream,
        ops,
        bad,
        seconds,
    })
}
