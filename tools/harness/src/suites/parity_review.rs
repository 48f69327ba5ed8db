//! Parity cases from the line-by-line review against 6.12's
//! `drivers/net/macvlan.c`: each builds its own small topology in the DUT
//! namespace, observes one behaviour as text, and the parity suite compares
//! the C driver's text with ours.
//!
//! - `tx_status_lower_drops`: the transmit status of a drop below the upper
//!   device (`sendto` on AF_PACKET, the upper's tx counters);
//! - `tx_qdisc_bypass_bridge`: bridge-mode local delivery of a unicast and
//!   a multicast frame sent past the qdisc layer (`PACKET_QDISC_BYPASS`);
//!   6.12's `packet_parse_headers()` sets the MAC header at `skb->data`;
//! - `tx_xdp_copy_bridge`: the same sent by AF_XDP in copy mode, whose skbs
//!   reach `ndo_start_xmit` with the MAC header unset: the driver must read
//!   the destination at `skb->data`, as C does;
//! - `addr_assign_type`: `addr_assign_type` of an upper device in each mode
//!   over a lower device whose MAC was set by hand;
//! - `fdb_zero_mac`: `bridge fdb add/del 00:00:00:00:00:00 … self` on a
//!   passthru upper device;
//! - `macaddr_data_trailer`: a MACADDR_DATA list whose last entry is cut
//!   short, on create and on changelink;
//! - `source_flush`: flushing 2,500 source MACs of one upper device while
//!   six others hold 5,000 each (the state after; the times of the flush and
//!   of the six 5,000-address SETs, which the suite prints and bounds: a
//!   walk that restarts after each removal, or a linear search per added
//!   address, is quadratic and far beyond C).
//! - `broadcast_open_uppers`: which of 48 bridge-mode upper devices, three
//!   to a bucket of the driver's address hash, receive a broadcast from
//!   outside, first all open, then after some were closed (whole buckets
//!   and single members), moved to other addresses, and reopened: every
//!   open one exactly once, no closed one (ours visits only the occupied
//!   buckets).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::capture::{wait_until, PacketLog, PacketSender};
use crate::frames::{self, ETH_P_IP};
use crate::kmod;
use crate::link::{ifla_macvlan as ml, macvlan_change_msg, macvlan_mode, veth_msg, RawNla};
use crate::netns::Netns;
use crate::nl::{errno_name, Nl, NlError};
use crate::suites::common::{err, index, link};
use crate::xsk::XdpSender;
use mvv_netlink::rtnetlink::packet_route::link::{InfoMacVlan, LinkAttribute, LinkMessage};

/// The review cases, in report order.
pub const CASES: [&str; 8] = [
    "tx_status_lower_drops",
    "tx_qdisc_bypass_bridge",
    "tx_xdp_copy_bridge",
    "addr_assign_type",
    "fdb_zero_mac",
    "macaddr_data_trailer",
    "source_flush",
    "broadcast_open_uppers",
];

/// Upper devices of `broadcast_open_uppers`, in buckets of three.
const BCAST_BUCKETS: usize = 16;
const BCAST_PER_BUCKET: usize = 3;

/// Source MACs of the flushed upper device in `source_flush`.
pub const FLUSH_PER_UPPER: usize = 2500;
/// The other source-mode upper devices in `source_flush`, and their MACs
/// each (a MACADDR_DATA attribute holds at most 5,461).
pub const FLUSH_OTHER_UPPERS: usize = 6;
pub const FLUSH_PER_OTHER: usize = 5000;

const MACADDR_SET: u32 = 3;
const MACADDR_FLUSH: u32 = 2;
const PT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x05, 0x01];
const BU1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x05, 0x11];
const BU2_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x05, 0x12];
/// The group MAC of 239.9.5.1.
const MCAST_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x09, 0x05, 0x01];

/// What one driver showed in each case; `flush_seconds` is the time of the
/// 2,500-entry flush and `set_seconds` that of the six 5,000-address SETs,
/// for the suite's figures.
#[derive(Default)]
pub struct Review {
    pub cases: BTreeMap<&'static str, Result<String, String>>,
    pub flush_seconds: Option<f64>,
    pub set_seconds: Option<f64>,
}

/// The DUT namespace and its rtnetlink connection.
pub struct Dut<'a> {
    pub ns: &'a Netns,
    pub nl: &'a Nl,
}

fn nl_text(r: Result<(), NlError>) -> String {
    match r {
        Ok(()) => "success".into(),
        Err(e) => match e.errno() {
            Some(n) => errno_name(n),
            None => format!("transport error: {e}"),
        },
    }
}

fn run_in(ns: &Netns, program: &str, args: &[&str]) -> kmod::Run {
    kmod::run(ns.command(program).args(args))
}

fn must(ns: &Netns, program: &str, args: &[&str]) -> Result<(), String> {
    let r = run_in(ns, program, args);
    if r.success {
        Ok(())
    } else {
        Err(format!("{program} {}: {}", args.join(" "), r.summary()))
    }
}

/// A MACADDR_DATA payload of `n` distinct locally administered MACs whose
/// fourth byte is `tag`.
fn many_macs(tag: u8, n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n * 12);
    for i in 0..n {
        let mac = [0x02, 0x5e, tag, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        v.extend(RawNla::bytes(ml::MACADDR, &mac).encode());
    }
    v
}

/// The bucket of `mac` in the macvlan drivers' address hash
/// (`macvlan_eth_hash`: the six bytes as the low 48 bits of a little-endian
/// word, times the 64-bit golden ratio, top 8 bits).
fn macvlan_bucket(mac: [u8; 6]) -> u8 {
    let mut w = [0u8; 8];
    w[..6].copy_from_slice(&mac);
    let v = u64::from_le_bytes(w);
    // CAST: the top 8 bits of the product.
    (v.wrapping_mul(0x61C8_8646_80B5_83EB) >> 56) as u8
}

/// Locally administered addresses, `n` per bucket in `buckets` distinct
/// buckets, grouped by bucket; and `spare` more, each the first of a bucket
/// none of the others uses.
fn colliding_macs(buckets: usize, n: usize, spare: usize) -> (Vec<Vec<[u8; 6]>>, Vec<[u8; 6]>) {
    let mut by_bucket: BTreeMap<u8, Vec<[u8; 6]>> = BTreeMap::new();
    for i in 0..=u16::MAX {
        let [hi, lo] = i.to_be_bytes();
        let mac = [0x02, 0x6f, 0x62, 0x63, hi, lo];
        by_bucket.entry(macvlan_bucket(mac)).or_default().push(mac);
    }
    let full: Vec<Vec<[u8; 6]>> = by_bucket
        .values()
        .filter(|v| v.len() >= n)
        .take(buckets)
        .map(|v| v[..n].to_vec())
        .collect();
    let used: Vec<u8> = full.iter().map(|v| macvlan_bucket(v[0])).collect();
    let spares = by_bucket
        .iter()
        .filter(|(b, _)| !used.contains(b))
        .rev()
        .take(spare)
        .map(|(_, v)| v[0])
        .collect();
    (full, spares)
}

fn macaddr_count(l: &crate::link::Link) -> Option<u32> {
    l.macvlan.iter().find_map(|a| match a {
        InfoMacVlan::MacAddrCount(n) => Some(*n),
        _ => None,
    })
}

impl Dut<'_> {
    async fn add_upper(
        &self,
        name: &str,
        lower: &str,
        attrs: &[RawNla],
        mac: Option<[u8; 6]>,
    ) -> Result<u32, String> {
        let l = index(self.nl, lower).await?;
        let mut m = crate::link::macvlan_msg(name, l, attrs);
        if let Some(mac) = mac {
            m = crate::link::with_address(m, &mac);
        }
        self.nl
            .link_add(m)
            .await
            .map_err(err(format!("creating {name} on {lower}")))?;
        index(self.nl, name).await
    }

    async fn veth(&self, name: &str, peer: &str) -> Result<u32, String> {
        self.nl
            .link_add(veth_msg(name, peer))
            .await
            .map_err(err(format!("veth {name}")))?;
        for n in [name, peer] {
            let i = index(self.nl, n).await?;
            self.nl.link_up(i).await.map_err(err(format!("{n} up")))?;
        }
        index(self.nl, name).await
    }

    async fn del(&self, names: &[&str]) {
        for n in names {
            if let Ok(Some(l)) = self.nl.link_by_name(n).await {
                let _ = self.nl.link_del(l.index).await;
            }
        }
    }

    /// Runs every case; each cleans up after itself, whatever its result.
    pub async fn run(&self) -> Review {
        let mut r = Review::default();
        let v = self.tx_status().await;
        self.del(&["tl0"]).await;
        r.cases.insert(CASES[0], v);
        let v = self.qdisc_bypass().await;
        self.del(&["bl0"]).await;
        r.cases.insert(CASES[1], v);
        let v = self.xdp_copy().await;
        self.del(&["bl0"]).await;
        r.cases.insert(CASES[2], v);
        let v = self.addr_assign_type().await;
        self.del(&["al0"]).await;
        r.cases.insert(CASES[3], v);
        let v = self.fdb_zero().await;
        self.del(&["zl0"]).await;
        r.cases.insert(CASES[4], v);
        let v = self.macaddr_trailer().await;
        self.del(&["dl0"]).await;
        r.cases.insert(CASES[5], v);
        let v = self.source_flush(&mut r).await;
        self.del(&["fl5"]).await;
        r.cases.insert(CASES[6], v);
        let v = self.broadcast_open_uppers().await;
        self.del(&["ol0"]).await;
        r.cases.insert(CASES[7], v);
        r
    }

    /// A private-mode upper device over a lower whose egress drops every
    /// frame (clsact, matchall, drop): what `sendto` on the upper says, and
    /// how the upper counted it.
    async fn tx_status(&self) -> Result<String, String> {
        self.veth("tl0", "tl1").await?;
        must(self.ns, "tc", &["qdisc", "add", "dev", "tl0", "clsact"])?;
        must(
            self.ns,
            "tc",
            &[
                "filter", "add", "dev", "tl0", "egress", "matchall", "action", "drop",
            ],
        )?;
        let up = self
            .add_upper(
                "tu0",
                "tl0",
                &[RawNla::macvlan_mode(macvlan_mode::PRIVATE)],
                None,
            )
            .await?;
        self.nl.link_up(up).await.map_err(err("tu0 up"))?;
        let mac = link(self.nl, "tu0").await?.address.unwrap_or_default();
        let before = link(self.nl, "tu0")
            .await?
            .stats64()
            .ok_or("tu0: no stats64")?;
        let sender = PacketSender::open(self.ns, "tu0").map_err(err("sender on tu0"))?;
        let frame = frames::udp_v4(
            (
                mac.try_into().unwrap_or([2, 0, 0, 0, 0, 0]),
                Ipv4Addr::new(10, 9, 5, 1),
                40000,
            ),
            (frames::BROADCAST, Ipv4Addr::BROADCAST, 9999),
            0x7001,
            b"mvv-review",
        );
        let sent = match sender.send_once(&frame, ETH_P_IP) {
            Ok(n) => format!("sent {n} bytes"),
            Err(e) => format!("errno {}", errno_name(e.raw_os_error().unwrap_or(0))),
        };
        let after = link(self.nl, "tu0")
            .await?
            .stats64()
            .ok_or("tu0: no stats64")?;
        Ok(format!(
            "{sent}; tx_packets +{}, tx_dropped +{}",
            after.tx_packets - before.tx_packets,
            after.tx_dropped - before.tx_dropped
        ))
    }

    /// Two bridge-mode upper devices; bu1 sends a unicast frame to bu2 with
    /// `PACKET_QDISC_BYPASS` and `sll_protocol` ETH_P_IP: where it arrives.
    async fn qdisc_bypass(&self) -> Result<String, String> {
        self.bridge_direct_xmit(|frame| {
            let sender = PacketSender::open(self.ns, "bu1").map_err(err("sender on bu1"))?;
            sender.bypass_qdisc().map_err(err("bypass"))?;
            Ok(match sender.send_once(frame, ETH_P_IP) {
                Ok(_) => "sent".to_string(),
                Err(e) => format!("errno {}", errno_name(e.raw_os_error().unwrap_or(0))),
            })
        })
        .await
    }

    /// The same with an AF_XDP socket in copy mode on bu1, whose skbs reach
    /// `ndo_start_xmit` with the MAC header unset: the driver must read the
    /// destination at `skb->data`.
    async fn xdp_copy(&self) -> Result<String, String> {
        self.bridge_direct_xmit(|frame| {
            let sender = XdpSender::open(self.ns, "bu1").map_err(err("AF_XDP on bu1"))?;
            Ok(match sender.send(frame) {
                Ok(()) => "sent".to_string(),
                Err(e) => format!("{e:#}"),
            })
        })
        .await
    }

    /// Two bridge-mode upper devices bu1 and bu2 on bl0; `send` transmits
    /// a unicast frame from bu1 to bu2, then a multicast one: where each
    /// arrives.
    async fn bridge_direct_xmit(
        &self,
        send: impl Fn(&[u8]) -> Result<String, String>,
    ) -> Result<String, String> {
        let l = self.veth("bl0", "bl1").await?;
        let mode = [RawNla::macvlan_mode(macvlan_mode::BRIDGE)];
        let b1 = self.add_upper("bu1", "bl0", &mode, Some(BU1_MAC)).await?;
        let b2 = self.add_upper("bu2", "bl0", &mode, Some(BU2_MAC)).await?;
        for i in [b1, b2] {
            self.nl.link_up(i).await.map_err(err("up"))?;
        }
        let peer = index(self.nl, "bl1").await?;
        let mut out = Vec::new();
        for (what, dest, ip, tag) in [
            ("unicast", BU2_MAC, Ipv4Addr::new(10, 9, 5, 12), 0x7002u16),
            ("multicast", MCAST_MAC, Ipv4Addr::new(239, 9, 5, 1), 0x7003),
        ] {
            let mut log = PacketLog::open(self.ns, ETH_P_IP).map_err(err("packet socket"))?;
            let frame = frames::udp_v4(
                (BU1_MAC, Ipv4Addr::new(10, 9, 5, 11), 40000),
                (dest, ip, 9999),
                tag,
                b"mvv-review",
            );
            let sent = send(&frame)?;
            let fd = log.fd();
            wait_until(
                &[fd],
                Duration::from_millis(600),
                Duration::from_millis(300),
                || {
                    log.pump();
                    false
                },
            );
            let mut at = BTreeMap::new();
            for (ifindex, f) in &log.frames {
                if frames::parse_udp_v4(f).map(|x| x.tag) != Some(u32::from(tag)) {
                    continue;
                }
                let name = match *ifindex as u32 {
                    i if i == b2 => "bu2",
                    i if i == b1 => "bu1",
                    i if i == l => "bl0",
                    i if i == peer => "bl1 (left the host)",
                    _ => "other",
                };
                *at.entry(name).or_insert(0u32) += 1;
            }
            let at: Vec<String> = at.iter().map(|(k, v)| format!("{k} x{v}")).collect();
            out.push(format!(
                "{what} {sent}, received at: {}",
                if at.is_empty() {
                    "nowhere".into()
                } else {
                    at.join(", ")
                }
            ));
        }
        Ok(out.join("; "))
    }

    /// `addr_assign_type` of an upper device in each mode (without and with
    /// IFLA_ADDRESS) over a lower whose MAC was set by hand (type 3).
    async fn addr_assign_type(&self) -> Result<String, String> {
        self.veth("al0", "al1").await?;
        must(
            self.ns,
            "ip",
            &["link", "set", "dev", "al0", "address", "02:00:00:00:05:a0"],
        )?;
        let read = |dev: &str| -> Result<String, String> {
            let r = run_in(
                self.ns,
                "ip",
                &[
                    "netns",
                    "exec",
                    self.ns.name(),
                    "cat",
                    &format!("/sys/class/net/{dev}/addr_assign_type"),
                ],
            );
            if r.success {
                Ok(r.output.trim().to_string())
            } else {
                Err(format!(
                    "reading addr_assign_type of {dev}: {}",
                    r.summary()
                ))
            }
        };
        let mut out = vec![format!("lower {}", read("al0")?)];
        use macvlan_mode::{BRIDGE, PASSTHRU, PRIVATE, SOURCE, VEPA};
        for (name, mode) in [
            ("private", PRIVATE),
            ("vepa", VEPA),
            ("bridge", BRIDGE),
            ("source", SOURCE),
            ("passthru", PASSTHRU),
        ] {
            for (how, mac) in [("random", None), ("given", Some(PT_MAC))] {
                if mode == PASSTHRU && mac.is_some() {
                    // A passthru device takes the lower's MAC in both drivers.
                    continue;
                }
                let i = self
                    .add_upper("au0", "al0", &[RawNla::macvlan_mode(mode)], mac)
                    .await?;
                out.push(format!("{name}/{how} {}", read("au0")?));
                self.nl.link_del(i).await.map_err(err("deleting au0"))?;
            }
        }
        Ok(out.join(", "))
    }

    /// `bridge fdb add` then `del` of the all-zero MAC on a passthru upper.
    async fn fdb_zero(&self) -> Result<String, String> {
        self.veth("zl0", "zl1").await?;
        self.add_upper(
            "zp0",
            "zl0",
            &[RawNla::macvlan_mode(macvlan_mode::PASSTHRU)],
            None,
        )
        .await?;
        let mut out = Vec::new();
        for verb in ["add", "del"] {
            let r = run_in(
                self.ns,
                "bridge",
                &["fdb", verb, "00:00:00:00:00:00", "dev", "zp0", "self"],
            );
            out.push(format!(
                "{verb} {}",
                if r.success {
                    "ok".to_string()
                } else {
                    r.output.trim().to_string()
                }
            ));
        }
        Ok(out.join("; "))
    }

    /// MACADDR_DATA with one good entry and a trailing header whose length
    /// runs past the list: on create, and on a changelink of a source-mode
    /// device, the result and the list left behind.
    async fn macaddr_trailer(&self) -> Result<String, String> {
        self.veth("dl0", "dl1").await?;
        let mut data = RawNla::bytes(ml::MACADDR, &[0x02, 0, 0, 0, 0x05, 0xd1]).encode();
        // nla_len 10, type MACADDR, but only the 4-byte header follows.
        data.extend_from_slice(&10u16.to_ne_bytes());
        data.extend_from_slice(&ml::MACADDR.to_ne_bytes());
        let attrs = [
            RawNla::macvlan_mode(macvlan_mode::SOURCE),
            RawNla::u32(ml::MACADDR_MODE, MACADDR_SET),
            RawNla::bytes(ml::MACADDR_DATA, &data),
        ];
        let l = index(self.nl, "dl0").await?;
        let create = nl_text(
            self.nl
                .link_add(crate::link::macvlan_msg("ds0", l, &attrs))
                .await,
        );
        let count = match self
            .nl
            .link_by_name("ds0")
            .await
            .map_err(err("RTM_GETLINK"))?
        {
            Some(d) => format!("{:?}", macaddr_count(&d)),
            None => "no device".into(),
        };
        self.del(&["ds0"]).await;
        let i = self
            .add_upper(
                "ds1",
                "dl0",
                &[RawNla::macvlan_mode(macvlan_mode::SOURCE)],
                None,
            )
            .await?;
        let change = nl_text(
            self.nl
                .link_change(macvlan_change_msg(i, &attrs[1..]))
                .await,
        );
        let count2 = format!("{:?}", macaddr_count(&link(self.nl, "ds1").await?));
        Ok(format!(
            "create {create}, sources {count}; changelink {change}, sources {count2}"
        ))
    }

    /// A source-mode upper with 2,500 source MACs and six with 5,000 each
    /// (made by changelink SET, timed); flush the first (MACADDR_MODE
    /// flush, timed) and report every list's size after it.
    /// Broadcasts from outside to 48 bridge-mode upper devices, three to a
    /// bucket of the address hash: which receive it, with all open, then
    /// after closing four whole buckets and one member of four others,
    /// moving four devices (two into empty buckets, two into occupied
    /// ones) and closing and reopening four more.
    async fn broadcast_open_uppers(&self) -> Result<String, String> {
        // One address more per bucket than are created: the moves below
        // take it, to join a bucket whose devices stay open.
        let (buckets, spares) = colliding_macs(BCAST_BUCKETS, BCAST_PER_BUCKET + 1, 2);
        if buckets.len() < BCAST_BUCKETS || spares.len() < 2 {
            return Err("not enough colliding addresses".into());
        }
        self.veth("ol0", "ol1").await?;
        let mode = [RawNla::macvlan_mode(macvlan_mode::BRIDGE)];
        let mut uppers = Vec::new();
        for (b, macs) in buckets.iter().enumerate() {
            for (k, mac) in macs.iter().take(BCAST_PER_BUCKET).enumerate() {
                let name = format!("ou{b}_{k}");
                let i = self.add_upper(&name, "ol0", &mode, Some(*mac)).await?;
                self.nl
                    .link_up(i)
                    .await
                    .map_err(err(format!("{name} up")))?;
                uppers.push((i, name));
            }
        }
        let sender = PacketSender::open(self.ns, "ol1").map_err(err("sender on ol1"))?;
        let mut out = vec![self.broadcast_census(&sender, &uppers, 0x7101).await?];
        let by_name = |n: &str| uppers.iter().find(|u| u.1 == n).map(|u| u.0);
        let mut down = Vec::new();
        for b in 0..4 {
            for k in 0..BCAST_PER_BUCKET {
                down.push(format!("ou{b}_{k}"));
            }
            down.push(format!("ou{}_1", b + 4));
        }
        for n in &down {
            let i = by_name(n).ok_or("lost an upper device")?;
            self.nl
                .link_down(i)
                .await
                .map_err(err(format!("{n} down")))?;
        }
        // Moved: two into buckets nobody uses, two into buckets whose
        // devices stay open.
        let moves = [
            ("ou8_0", spares[0]),
            ("ou9_0", spares[1]),
            ("ou10_0", buckets[12][BCAST_PER_BUCKET]),
            ("ou11_0", buckets[13][BCAST_PER_BUCKET]),
        ];
        for (n, mac) in moves {
            let i = by_name(n).ok_or("lost an upper device")?;
            let mut m = LinkMessage::default();
            m.header.index = i;
            m.attributes.push(LinkAttribute::Address(mac.to_vec()));
            self.nl
                .link_set(m)
                .await
                .map_err(err(format!("address of {n}")))?;
        }
        for n in ["ou12_2", "ou13_2", "ou14_2", "ou15_2"] {
            let i = by_name(n).ok_or("lost an upper device")?;
            self.nl
                .link_down(i)
                .await
                .map_err(err(format!("{n} down")))?;
            self.nl.link_up(i).await.map_err(err(format!("{n} up")))?;
        }
        let open: Vec<(u32, String)> = uppers
            .iter()
            .filter(|u| !down.contains(&u.1))
            .cloned()
            .collect();
        out.push(self.broadcast_census(&sender, &open, 0x7102).await?);
        let closed: Vec<(u32, String)> = uppers
            .iter()
            .filter(|u| down.contains(&u.1))
            .cloned()
            .collect();
        let (received, _) = self.broadcast_received(&sender, &closed, 0x7103).await?;
        out.push(format!(
            "{} of {} closed ones received it",
            received.len(),
            closed.len()
        ));
        Ok(out.join("; "))
    }

    /// Sends one tagged broadcast from the lower device's peer and says
    /// how many of `uppers` received it once, how many twice or more, and
    /// which none.
    async fn broadcast_census(
        &self,
        sender: &PacketSender,
        uppers: &[(u32, String)],
        tag: u16,
    ) -> Result<String, String> {
        let (got, all) = self.broadcast_received(sender, uppers, tag).await?;
        let once = got.values().filter(|n| **n == 1).count();
        let more = got.values().filter(|n| **n > 1).count();
        let missed: Vec<&str> = uppers
            .iter()
            .filter(|u| !got.contains_key(&u.0))
            .map(|u| u.1.as_str())
            .collect();
        Ok(format!(
            "{once} of {all} once, {more} more than once, none at [{}]",
            missed.join(" ")
        ))
    }

    /// Sends one tagged broadcast from the lower device's peer; how many
    /// copies each of `uppers` that received it got, and how many there are.
    async fn broadcast_received(
        &self,
        sender: &PacketSender,
        uppers: &[(u32, String)],
        tag: u16,
    ) -> Result<(BTreeMap<u32, u32>, usize), String> {
        let mut log = PacketLog::open(self.ns, ETH_P_IP).map_err(err("packet socket"))?;
        let frame = frames::udp_v4(
            (
                [0x02, 0x6f, 0x62, 0x65, 0, 1],
                Ipv4Addr::new(10, 9, 6, 1),
                40000,
            ),
            (frames::BROADCAST, Ipv4Addr::BROADCAST, 9999),
            tag,
            b"mvv-review",
        );
        sender.send(&frame).map_err(err("sending the broadcast"))?;
        let fd = log.fd();
        let mut got: BTreeMap<u32, u32> = BTreeMap::new();
        wait_until(
            &[fd],
            Duration::from_millis(1500),
            Duration::from_millis(300),
            || {
                log.pump();
                got.clear();
                for (ifindex, f) in &log.frames {
                    if frames::parse_udp_v4(f).map(|x| x.tag) == Some(u32::from(tag)) {
                        *got.entry(*ifindex as u32).or_insert(0) += 1;
                    }
                }
                uppers.iter().all(|u| got.contains_key(&u.0))
            },
        );
        got.retain(|i, _| uppers.iter().any(|u| u.0 == *i));
        Ok((got, uppers.len()))
    }

    async fn source_flush(&self, r: &mut Review) -> Result<String, String> {
        self.veth("fl5", "fl6").await?;
        let source = [RawNla::macvlan_mode(macvlan_mode::SOURCE)];
        let first = self
            .add_upper(
                "fs1",
                "fl5",
                &[
                    source[0].clone(),
                    RawNla::u32(ml::MACADDR_MODE, MACADDR_SET),
                    RawNla::bytes(ml::MACADDR_DATA, &many_macs(1, FLUSH_PER_UPPER)),
                ],
                None,
            )
            .await?;
        let mut set = Duration::ZERO;
        let mut sets = Vec::new();
        for k in 0..FLUSH_OTHER_UPPERS {
            let name = format!("fs{}", k + 2);
            let i = self.add_upper(&name, "fl5", &source, None).await?;
            let data = many_macs(2 + k as u8, FLUSH_PER_OTHER);
            let t = Instant::now();
            let res = self
                .nl
                .link_change(macvlan_change_msg(
                    i,
                    &[
                        RawNla::u32(ml::MACADDR_MODE, MACADDR_SET),
                        RawNla::bytes(ml::MACADDR_DATA, &data),
                    ],
                ))
                .await;
            set += t.elapsed();
            sets.push(nl_text(res));
        }
        r.set_seconds = Some(set.as_secs_f64());
        let t = Instant::now();
        let res = self
            .nl
            .link_change(macvlan_change_msg(
                first,
                &[RawNla::u32(ml::MACADDR_MODE, MACADDR_FLUSH)],
            ))
            .await;
        r.flush_seconds = Some(t.elapsed().as_secs_f64());
        let mut counts = Vec::new();
        for k in 0..=FLUSH_OTHER_UPPERS {
            let name = format!("fs{}", k + 1);
            counts.push(format!(
                "{name} {:?}",
                macaddr_count(&link(self.nl, &name).await?)
            ));
        }
        sets.dedup();
        Ok(format!(
            "set {}; flush fs1 {}; sources {}",
            sets.join("/"),
            nl_text(res),
            counts.join(", ")
        ))
    }
}
