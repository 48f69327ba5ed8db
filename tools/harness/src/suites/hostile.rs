//! The hostile suite: mutated VRRP advertisements through the in-kernel
//! classifier, every frame's landing predicted by the userspace build of
//! the same classifier (`vrrp-classify`) and a model of the core's receive
//! path.
//!
//! ```text
//!   hp: peer0 ==veth== hr: lower0 (MTU 9000)
//!                          +- vrrp4 VRRP mode, 00:00:5e:00:01:0a
//!                          +- vrrp6 VRRP mode, 00:00:5e:00:02:0a
//! ```
//!
//! Each frame starts as a valid IPv4 or IPv6 advert from one of the two
//! VMACs and is mutated: header bytes, lengths, IHL, options, fragments,
//! truncation, VLAN tags, IPv6 extension headers. The source MAC is always
//! a VRRP-mode upper's. A quarter of the frames are sent through a
//! `PACKET_VNET_HDR` socket and padded past a page, so that the skb holds
//! only the Ethernet header in its linear area and the rest in page
//! fragments.
//!
//! Where a frame lands ([`landing`]): a steered advert stays on lower0 and
//! moves the source upper's `vrrp_adverts_to_lower`; another multicast
//! frame from a local VMAC goes back to that upper (private mode); a
//! unicast frame goes to the upper with its destination MAC, else stays on
//! lower0; a multicast IPv4 fragment is held by `ip_check_defrag`; a tagged
//! frame too short to untag is dropped by the core. Frames are sent in
//! chunks, each chunk class by class, and after each class the counters
//! must have moved by exactly its prediction: an upper's ETH_P_ALL socket
//! (every frame it receives), lower0's ETH_P_IP and ETH_P_IPV6 sockets
//! (protocol taps run after the rx handler: only what the lower device
//! keeps), each counted by the kernel ([`FrameTally`]) rather than read,
//! and the two steering counters. A class that does not add up is
//! replayed frame by frame to name the first frame that lands elsewhere.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::capture::{FrameTally, PacketSender};
use crate::ethtool::{self, VRRP_ADVERTS_TO_LOWER};
use crate::frames::{ETH_P_ALL, ETH_P_IP, ETH_P_IPV6};
use crate::kmod::{self, C_DRIVER, OURS};
use crate::link::{macvlan_mode, macvlan_msg, mtu_msg, netns_msg, veth_msg, with_address, RawNla};
use crate::netns::Netns;
use crate::nl::Nl;
use crate::suites::common::{create_connected, err, expect_driver, index, names_gone};
use crate::tap::{Outcome, Tap};

const NS_PEER: &str = "hp";
const NS_ROUTER: &str = "hr";
const UPPERS: [&str; 2] = ["vrrp4", "vrrp6"];
const VMACS: [[u8; 6]; 2] = [
    [0x00, 0x00, 0x5e, 0x00, 0x01, 0x0a],
    [0x00, 0x00, 0x5e, 0x00, 0x02, 0x0a],
];
const MTU: u32 = 9000;
/// Frames at least this long are nonlinear through `PACKET_VNET_HDR`
/// (`packet_alloc_skb` keeps shorter ones linear).
const PAGED_LEN: usize = 4200;
const CHUNK: usize = 4000;
const SEED: u64 = 0x686f_7374_696c_6521; // "hostile!"

pub const TESTS: &[&str] = &[
    "module_loaded",
    "setup",
    "uppers_ours_mode_vrrp",
    "frames_land_as_predicted",
    "every_class_sent",
    "teardown",
];

/// Where a frame ends up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Landing {
    /// Steered: kept by the lower device, counted on upper `usize`.
    Steered(usize),
    /// Delivered to upper `usize`.
    Upper(usize),
    /// Kept by the lower device: `skb->protocol` when its protocol taps
    /// run (0 when the core frees it first).
    Lower(u16),
    /// Queued by `ip_check_defrag` (a lone fragment): nowhere.
    Held,
    /// Dropped by the core before the rx handler.
    Dropped,
}

fn be16(f: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*f.get(at)?, *f.get(at + 1)?]))
}

fn is_tag(ethertype: u16) -> bool {
    ethertype == 0x8100 || ethertype == 0x88a8
}

/// Whether `ip_check_defrag` would queue the frame whose network header is
/// at `l3` (`skb->protocol` already known to be IPv4).
fn held_by_defrag(f: &[u8], l3: usize) -> bool {
    let Some(ip) = f.get(l3..) else { return false };
    if ip.len() < 20 || ip[0] >> 4 != 4 || ip[0] & 0x0f < 5 {
        return false;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let tot_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ip.len() < tot_len || tot_len < ihl {
        return false;
    }
    u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0
}

/// The model of where frame `f`, received on lower0, lands.
pub fn landing(f: &[u8]) -> Landing {
    let src: Option<usize> = VMACS.iter().position(|m| f.get(6..12) == Some(&m[..]));
    let Some(src) = src else {
        // Not generated: the source MAC is always an upper's.
        return Landing::Lower(lower_protocol(f));
    };
    let outer = be16(f, 12).unwrap_or(0);
    // The core moves one outer 802.1Q/802.1ad tag into the skb's metadata
    // (skb_vlan_untag, which needs 6 bytes past the Ethernet header); the
    // network header follows it.
    let (tagged, protocol, l3) = if is_tag(outer) {
        if f.len() < 20 {
            return Landing::Dropped;
        }
        (true, be16(f, 16).unwrap_or(0), 18)
    } else {
        (false, outer, 14)
    };
    let multicast = f[0] & 1 == 1;
    if multicast {
        if protocol == ETH_P_IP && held_by_defrag(f, l3) {
            return Landing::Held;
        }
        if !tagged && vrrp_classify::classify_frame(f).is_some() {
            return Landing::Steered(src);
        }
        // Private mode: a group frame from a local upper's MAC goes back
        // to that upper only.
        return Landing::Upper(src);
    }
    if let Some(up) = VMACS.iter().position(|m| &f[..6] == m) {
        return Landing::Upper(up);
    }
    // Kept by lower0. The protocol taps see skb->protocol: the ethertype,
    // or for a tagged frame the one inside the tag. After the rx handler
    // the core untags again while the tag taken is VID 0 and holds another
    // tag (each untag needs 6 bytes past the tag's ethertype; a frame too
    // short for one is freed).
    Landing::Lower(lower_protocol(f))
}

/// `skb->protocol` when the protocol taps of the lower device run, or 0
/// when the core freed the frame first.
fn lower_protocol(f: &[u8]) -> u16 {
    let mut at = 12;
    loop {
        let et = be16(f, at).unwrap_or(0);
        if !is_tag(et) {
            return et;
        }
        if f.len() < at + 8 {
            return 0;
        }
        let vid = be16(f, at + 2).unwrap_or(0) & 0x0fff;
        let inner = be16(f, at + 4).unwrap_or(0);
        if vid != 0 || !is_tag(inner) {
            return inner;
        }
        at += 4;
    }
}

/// xorshift64*: seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn u8(&mut self) -> u8 {
        self.next_u64() as u8
    }
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.u8()).collect()
    }
}

/// A valid advert: IPv4 (IHL 5 to 15, sometimes a fragment) or IPv6
/// (sometimes behind extension headers), from the family's VMAC, with
/// `id` as the IPv4 identification so that no two fragments of a run
/// share a datagram.
fn base(rng: &mut Rng, id: u16) -> Vec<u8> {
    let vrrp_len = 8 + 4 * rng.below(4);
    let mut vrrp = rng.bytes(vrrp_len);
    vrrp[0] = 0x31;
    if rng.chance(1, 2) {
        let ihl = if rng.chance(1, 2) {
            5
        } else {
            5 + rng.below(11)
        };
        let mut ip = vec![0u8; ihl * 4];
        ip[0] = 0x40 | ihl as u8;
        let tot = (ihl * 4 + vrrp_len) as u16;
        ip[2..4].copy_from_slice(&tot.to_be_bytes());
        ip[4..6].copy_from_slice(&id.to_be_bytes());
        let frag: u16 = match rng.below(8) {
            0 => 0x2000,
            1 => (1 + rng.below(0x1fff)) as u16,
            2 => 0x4000,
            _ => 0,
        };
        ip[6..8].copy_from_slice(&frag.to_be_bytes());
        ip[8] = 255;
        ip[9] = 112;
        ip[12..16].copy_from_slice(&[192, 168, 0, rng.u8()]);
        ip[16..20].copy_from_slice(&[224, 0, 0, 18]);
        for b in &mut ip[20..] {
            *b = rng.u8();
        }
        let c = crate::frames::checksum(&[&ip]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let mut f = vec![0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
        f.extend_from_slice(&VMACS[0]);
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&vrrp);
        f
    } else {
        // Extension headers: hop-by-hop 0, routing 43, fragment 44,
        // destination options 60; each 8 bytes, the last one naming VRRP.
        let n_ext = if rng.chance(3, 4) {
            0
        } else {
            1 + rng.below(3)
        };
        let exts: Vec<u8> = (0..n_ext)
            .map(|_| [0u8, 43, 44, 60][rng.below(4)])
            .collect();
        let mut ext_bytes = Vec::new();
        for i in 0..n_ext {
            let next = exts.get(i + 1).copied().unwrap_or(112);
            let mut e = vec![next, 0];
            e.extend_from_slice(&rng.bytes(6));
            ext_bytes.extend_from_slice(&e);
        }
        let payload_len = (ext_bytes.len() + vrrp_len) as u16;
        let mut ip = vec![0x60, 0, 0, 0];
        ip.extend_from_slice(&payload_len.to_be_bytes());
        ip.push(exts.first().copied().unwrap_or(112));
        ip.push(255);
        ip.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0]);
        ip.extend_from_slice(&rng.bytes(8));
        ip.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12]);
        let mut f = vec![0x33, 0x33, 0x00, 0x00, 0x00, 0x12];
        f.extend_from_slice(&VMACS[1]);
        f.extend_from_slice(&[0x86, 0xdd]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&ext_bytes);
        f.extend_from_slice(&vrrp);
        f
    }
}

fn set(f: &mut [u8], at: usize, v: u8) {
    if let Some(b) = f.get_mut(at) {
        *b = v;
    }
}

/// One random mutation, favouring the headers.
fn mutate(f: &mut Vec<u8>, rng: &mut Rng) {
    let header_pos = |rng: &mut Rng, len: usize| rng.below(len.min(14 + 4 + 60));
    match rng.below(12) {
        0..=2 => {
            let at = header_pos(rng, f.len());
            let bit = rng.below(8);
            f[at] ^= 1 << bit;
        }
        3 => {
            let at = header_pos(rng, f.len());
            let v = rng.u8();
            f[at] = v;
        }
        4 => {
            // Truncate, often just inside a header.
            let n = match rng.below(3) {
                0 => 14 + rng.below(6),
                1 => 14 + rng.below(64),
                _ => 14 + rng.below(f.len().saturating_sub(13)),
            };
            f.truncate(n.max(14));
        }
        5 => {
            let n = rng.below(64);
            let extra = rng.bytes(n);
            f.extend_from_slice(&extra);
        }
        6 => {
            // An 802.1Q or 802.1ad tag after the MAC addresses.
            let tpid: u16 = if rng.chance(3, 4) { 0x8100 } else { 0x88a8 };
            let tci: u16 = if rng.chance(1, 4) {
                0
            } else {
                rng.next_u64() as u16
            };
            let mut tag = tpid.to_be_bytes().to_vec();
            tag.extend_from_slice(&tci.to_be_bytes());
            f.splice(12..12, tag);
        }
        7 => {
            let et: u16 = [0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8, 0x0005, 0x8808][rng.below(7)];
            f[12..14].copy_from_slice(&et.to_be_bytes());
        }
        8 => {
            // IHL or version nibble.
            if f.len() > 14 {
                let v = f[14];
                f[14] = if rng.chance(1, 2) {
                    (v & 0xf0) | (rng.u8() & 0x0f)
                } else {
                    (v & 0x0f) | ([4u8, 6, rng.u8() >> 4][rng.below(3)] << 4)
                };
            }
        }
        9 => {
            // Fragment field, protocol or next header.
            let (at, v) = match rng.below(3) {
                0 => (14 + 6, [0x20, 0x00, 0x1f][rng.below(3)]),
                1 => (14 + 9, [112, 113, 17, 0][rng.below(4)]),
                // The IPv6 next header is at the same offset as the IPv4
                // fragment field.
                _ => (14 + 6, [112, 0, 43, 44, 60, 59][rng.below(6)]),
            };
            set(f, at, v);
        }
        10 => {
            // Destination MAC: the group, broadcast, an upper, unicast.
            let d: [u8; 6] = match rng.below(5) {
                0 => [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12],
                1 => [0x33, 0x33, 0x00, 0x00, 0x00, 0x12],
                2 => [0xff; 6],
                3 => VMACS[rng.below(2)],
                _ => [0x02, 0x11, 0x22, 0x33, 0x44, rng.u8()],
            };
            f[..6].copy_from_slice(&d);
        }
        _ => {
            // IPv4 total length or IPv6 payload length.
            let at = if rng.chance(1, 2) { 14 + 2 } else { 14 + 4 };
            let v = rng.u8();
            set(f, at, v);
        }
    }
}

/// Frame `i` of the run: a base advert, 0 to 3 mutations, the source MAC
/// put back, capped at the lower's MTU.
pub fn frame(rng: &mut Rng, i: u64) -> Vec<u8> {
    let mut f = base(rng, i as u16);
    let src = if f[12..14] == [0x86, 0xdd] { 1 } else { 0 };
    for _ in 0..rng.below(4) {
        mutate(&mut f, rng);
    }
    let src = if rng.chance(1, 8) { 1 - src } else { src };
    f[6..12].copy_from_slice(&VMACS[src]);
    f.truncate(14 + MTU as usize);
    f
}

struct Counters {
    upper: [FrameTally; 2],
    lower_ip: FrameTally,
    lower_ip6: FrameTally,
    /// The uppers have `vrrp_adverts_to_lower` (ours; the patched C driver
    /// has no such counter: only where frames land is compared).
    steer_counter: bool,
}

/// What the counters read: deliveries to each upper, frames the lower
/// keeps with IPv4 and IPv6 protocol, steered per upper.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Reading {
    upper: [u64; 2],
    lower_ip: u64,
    lower_ip6: u64,
    steered: [u64; 2],
}

impl Reading {
    fn minus(&self, o: &Reading) -> Reading {
        Reading {
            upper: [self.upper[0] - o.upper[0], self.upper[1] - o.upper[1]],
            lower_ip: self.lower_ip - o.lower_ip,
            lower_ip6: self.lower_ip6 - o.lower_ip6,
            steered: [
                self.steered[0] - o.steered[0],
                self.steered[1] - o.steered[1],
            ],
        }
    }

    /// Counts frame `f`, predicted to land at `l`.
    fn add(&mut self, f: &[u8], l: Landing) {
        match l {
            // The lower device keeps a steered advert: its tap sees it.
            Landing::Steered(u) => {
                self.steered[u] += 1;
                self.add_lower(be16(f, 12).unwrap_or(0));
            }
            Landing::Upper(u) => self.upper[u] += 1,
            Landing::Lower(protocol) => self.add_lower(protocol),
            Landing::Held | Landing::Dropped => {}
        }
    }

    fn add_lower(&mut self, protocol: u16) {
        match protocol {
            ETH_P_IP => self.lower_ip += 1,
            ETH_P_IPV6 => self.lower_ip6 += 1,
            _ => {}
        }
    }
}

impl Counters {
    fn read(&mut self, ns: &Netns) -> Result<Reading, String> {
        let mut r = Reading::default();
        for (i, c) in self.upper.iter_mut().enumerate() {
            r.upper[i] = c.read().map_err(err("PACKET_STATISTICS"))?;
        }
        r.lower_ip = self.lower_ip.read().map_err(err("PACKET_STATISTICS"))?;
        r.lower_ip6 = self.lower_ip6.read().map_err(err("PACKET_STATISTICS"))?;
        for (i, u) in UPPERS.iter().enumerate() {
            if !self.steer_counter {
                break;
            }
            r.steered[i] = ethtool::stat(ns, u, VRRP_ADVERTS_TO_LOWER)
                .map_err(err("ethtool -S"))?
                .unwrap_or(0);
        }
        Ok(r)
    }
}

struct Env {
    peer: Netns,
    router: Netns,
    nl_router: Nl,
    /// The connections' tasks: the connections live as long as these.
    _tasks: Vec<crate::nl::NlTask>,
    counters: Counters,
    linear: PacketSender,
    paged: PacketSender,
}

fn expected_reading(frames: &[(Vec<u8>, Landing)]) -> Reading {
    let mut r = Reading::default();
    for (f, l) in frames {
        r.add(f, *l);
    }
    r
}

impl Env {
    fn send(&self, f: &[u8], paged: bool) -> Result<(), String> {
        if paged {
            self.paged.send_vnet(f).map_err(err("sendto (vnet)"))
        } else {
            self.linear.send(f).map_err(err("sendto"))
        }
    }

    /// Sends `frames` and waits until the counters moved by what they
    /// predict (or 3 s passed), then a little more for any excess.
    fn send_class(
        &mut self,
        frames: &[(Vec<u8>, Landing)],
        paged: &[bool],
    ) -> Result<(Reading, Reading), String> {
        let before = self.counters.read(&self.router)?;
        for ((f, _), p) in frames.iter().zip(paged) {
            self.send(f, *p)?;
        }
        let mut want = expected_reading(frames);
        if !self.counters.steer_counter {
            want.steered = [0, 0];
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut got;
        loop {
            got = self.counters.read(&self.router)?.minus(&before);
            if got == want || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(20));
        got = self.counters.read(&self.router)?.minus(&before);
        Ok((want, got))
    }
}

async fn setup(steer_counter: bool) -> Result<Env, String> {
    let ([peer, router], [nl_peer, nl_router], tasks) = create_connected([NS_PEER, NS_ROUTER])?;
    for ns in [&peer, &router] {
        ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1")
            .map_err(err("sysctl"))?;
        ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1")
            .map_err(err("sysctl"))?;
    }
    nl_router
        .link_add(veth_msg("lower0", "peer0"))
        .await
        .map_err(err("veth"))?;
    let p = index(&nl_router, "peer0").await?;
    nl_router
        .link_set(netns_msg(p, peer.fd()))
        .await
        .map_err(err("peer0 to hp"))?;
    let l = index(&nl_router, "lower0").await?;
    nl_router
        .link_set(mtu_msg(l, MTU))
        .await
        .map_err(err("lower0 mtu"))?;
    let p = index(&nl_peer, "peer0").await?;
    nl_peer
        .link_set(mtu_msg(p, MTU))
        .await
        .map_err(err("peer0 mtu"))?;
    nl_peer.link_up(p).await.map_err(err("peer0 up"))?;
    nl_router.link_up(l).await.map_err(err("lower0 up"))?;
    for (i, u) in UPPERS.iter().enumerate() {
        let m = with_address(
            macvlan_msg(u, l, &[RawNla::macvlan_mode(macvlan_mode::VRRP)]),
            &VMACS[i],
        );
        nl_router
            .link_add(m)
            .await
            .map_err(err(format!("creating {u}")))?;
        let ifindex = index(&nl_router, u).await?;
        nl_router
            .link_up(ifindex)
            .await
            .map_err(err(format!("{u} up")))?;
    }
    let tap = |ethertype: u16, dev: &str| {
        FrameTally::open_bound(&router, ethertype, dev).map_err(err(format!(
            "socket for ethertype {ethertype:#06x} on {dev}"
        )))
    };
    let counters = Counters {
        upper: [tap(ETH_P_ALL, UPPERS[0])?, tap(ETH_P_ALL, UPPERS[1])?],
        lower_ip: tap(ETH_P_IP, "lower0")?,
        lower_ip6: tap(ETH_P_IPV6, "lower0")?,
        steer_counter,
    };
    let linear = PacketSender::open(&peer, "peer0").map_err(err("sender"))?;
    let paged = PacketSender::open(&peer, "peer0").map_err(err("vnet sender"))?;
    paged.enable_vnet_hdr().map_err(err("PACKET_VNET_HDR"))?;
    drop(nl_peer);
    Ok(Env {
        peer,
        router,
        nl_router,
        _tasks: tasks,
        counters,
        linear,
        paged,
    })
}

fn describe(r: &Reading) -> String {
    format!(
        "upper {}/{}, lower IPv4 {}, IPv6 {}, steered {}/{}",
        r.upper[0], r.upper[1], r.lower_ip, r.lower_ip6, r.steered[0], r.steered[1]
    )
}

fn hex(f: &[u8]) -> String {
    f.iter().take(96).map(|b| format!("{b:02x}")).collect()
}

/// Runs the suite against our driver, or (`c_patched`) against the
/// upstream series' patched C `macvlan.ko`, which must be loaded: then
/// where each frame lands is checked, not the steering counters, which
/// that driver does not have.
pub async fn run<W: Write>(
    tap: &mut Tap<W>,
    frames_total: u64,
    seed: Option<u64>,
    c_patched: bool,
) {
    let seed = seed.unwrap_or(SEED);
    let mut loaded = Vec::new();
    let driver = if c_patched {
        if kmod::is_loaded(OURS) {
            loaded.push(format!("/sys/module/{OURS} present"));
        }
        if kmod::out_of_tree(C_DRIVER) != Some(true) {
            loaded.push(format!(
                "/sys/module/{C_DRIVER} is not the patched C module (out-of-tree): {}",
                kmod::presence(C_DRIVER)
            ));
        }
        tap.diag("driver under test: the upstream series' patched C macvlan.ko (landings only, no steering counter)");
        C_DRIVER
    } else {
        if !kmod::is_loaded(OURS) {
            loaded.push(format!("/sys/module/{OURS} absent"));
        }
        OURS
    };
    tap.report("module_loaded", &Outcome::from_failures(&loaded));
    let mut env = match setup(!c_patched).await {
        Ok(e) => {
            tap.pass("setup");
            e
        }
        Err(e) => {
            tap.fail("setup", e);
            for t in &TESTS[2..TESTS.len() - 1] {
                tap.fail(t, "no set-up");
            }
            tap.report("teardown", &names_gone(&[]));
            return;
        }
    };
    let drv: Vec<String> = UPPERS
        .iter()
        .filter_map(|u| expect_driver(&env.router, u, driver).err())
        .collect();
    tap.report("uppers_ours_mode_vrrp", &Outcome::from_failures(&drv));

    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut classes: std::collections::BTreeMap<String, u64> = Default::default();
    let mut failures: Vec<String> = Vec::new();
    let mut sent = 0u64;
    let mut paged_sent = 0u64;
    let mut chunk_no = 0u64;
    while sent < frames_total && failures.len() < 3 {
        let n = CHUNK.min((frames_total - sent) as usize);
        let mut chunk: Vec<(Vec<u8>, Landing, bool)> = (0..n)
            .map(|k| {
                let mut f = frame(&mut rng, sent + k as u64);
                let paged = rng.chance(1, 4);
                if paged && f.len() < PAGED_LEN {
                    let pad = PAGED_LEN - f.len();
                    f.extend(std::iter::repeat_n(0xa5, pad));
                }
                let l = landing(&f);
                (f, l, paged)
            })
            .collect();
        chunk.sort_by_key(|c| class_name(c.1));
        let mut i = 0;
        while i < chunk.len() {
            let kind = class_name(chunk[i].1);
            let j = i + chunk[i..]
                .iter()
                .take_while(|c| class_name(c.1) == kind)
                .count();
            let frames: Vec<(Vec<u8>, Landing)> =
                chunk[i..j].iter().map(|c| (c.0.clone(), c.1)).collect();
            let paged: Vec<bool> = chunk[i..j].iter().map(|c| c.2).collect();
            match env.send_class(&frames, &paged) {
                Ok((want, got)) if want == got => {}
                Ok((want, got)) => {
                    let culprit = find_culprit(&mut env, &frames, &paged);
                    failures.push(format!(
                        "seed {seed:#x} chunk {chunk_no}, {} frames of class {kind}: want {}, got {}{}",
                        frames.len(),
                        describe(&want),
                        describe(&got),
                        culprit
                    ));
                }
                Err(e) => failures.push(format!("chunk {chunk_no} class {kind}: {e}")),
            }
            *classes.entry(kind.to_string()).or_default() += (j - i) as u64;
            i = j;
        }
        paged_sent += chunk.iter().filter(|c| c.2).count() as u64;
        sent += n as u64;
        chunk_no += 1;
    }
    let took = started.elapsed();
    tap.diag(&format!(
        "{sent} frames ({paged_sent} nonlinear) in {:.1} s, seed {seed:#x}: {}",
        took.as_secs_f64(),
        classes
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if sent < frames_total && failures.is_empty() {
        failures.push(format!("sent {sent} of {frames_total} frames"));
    }
    tap.report(
        "frames_land_as_predicted",
        &Outcome::from_failures(&failures),
    );
    let missing: Vec<String> = ["steered", "upper", "lower", "held", "dropped"]
        .iter()
        .filter(|k| classes.get(**k).copied().unwrap_or(0) == 0)
        .map(|k| format!("no frame of class {k}"))
        .collect();
    tap.report("every_class_sent", &Outcome::from_failures(&missing));

    let Env {
        peer,
        router,
        nl_router,
        _tasks,
        ..
    } = env;
    let r = async {
        let l = index(&nl_router, "lower0").await?;
        nl_router
            .link_del(l)
            .await
            .map_err(err("deleting lower0"))?;
        drop(nl_router);
        drop(_tasks);
        peer.delete().map_err(err("netns hp"))?;
        router.delete().map_err(err("netns hr"))?;
        Ok::<(), String>(())
    }
    .await;
    match r {
        Ok(()) => tap.report("teardown", &names_gone(&[NS_PEER, NS_ROUTER])),
        Err(e) => tap.fail("teardown", e),
    }
}

fn class_name(l: Landing) -> &'static str {
    match l {
        Landing::Steered(_) => "steered",
        Landing::Upper(_) => "upper",
        Landing::Lower(_) => "lower",
        Landing::Held => "held",
        Landing::Dropped => "dropped",
    }
}

/// Replays a class that did not add up one frame at a time; names the
/// first frame whose counters disagree with its prediction.
fn find_culprit(env: &mut Env, frames: &[(Vec<u8>, Landing)], paged: &[bool]) -> String {
    for (k, (f, p)) in frames.iter().zip(paged).enumerate() {
        match env.send_class(std::slice::from_ref(f), std::slice::from_ref(p)) {
            Ok((want, got)) if want != got => {
                return format!(
                    "; frame {k} ({} bytes{}, predicted {:?}): want {}, got {}: {}",
                    f.0.len(),
                    if *p { ", nonlinear" } else { "" },
                    f.1,
                    describe(&want),
                    describe(&got),
                    hex(&f.0)
                );
            }
            Ok(_) => {}
            Err(e) => return format!("; replay: {e}"),
        }
    }
    "; every frame alone lands as predicted".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_adverts_are_steered() {
        let mut rng = Rng::new(1);
        let mut steered = 0;
        for i in 0..2000 {
            let f = base(&mut rng, i);
            let l = landing(&f);
            assert!(
                matches!(l, Landing::Steered(_) | Landing::Held | Landing::Upper(_)),
                "{l:?}"
            );
            steered += u32::from(matches!(l, Landing::Steered(_)));
        }
        assert!(steered > 1000, "{steered}");
    }

    #[test]
    fn tagged_and_short_frames() {
        let mut rng = Rng::new(2);
        let mut f = base(&mut rng, 7);
        f.splice(12..12, [0x81, 0x00, 0x00, 0x64]);
        assert_eq!(landing(&f), Landing::Upper(usize::from(f[12 + 4] == 0x86)));
        f.truncate(19);
        assert_eq!(landing(&f), Landing::Dropped);
    }

    #[test]
    fn unicast_to_nobody_stays_on_lower() {
        let mut rng = Rng::new(3);
        let mut f = base(&mut rng, 9);
        f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        assert_eq!(landing(&f), Landing::Lower(ETH_P_IPV6));
        // VID 0 around another tag: untagged again after the rx handler.
        let mut g = f.clone();
        g.splice(12..12, [0x81, 0x00, 0x00, 0x00, 0x81, 0x00, 0x00, 0x05]);
        assert_eq!(landing(&g), Landing::Lower(ETH_P_IPV6));
        f[..6].copy_from_slice(&VMACS[1]);
        assert_eq!(landing(&f), Landing::Upper(1));
    }

    #[test]
    fn the_stream_is_reproducible() {
        let a: Vec<_> = (0..100)
            .scan(Rng::new(5), |r, i| Some(frame(r, i)))
            .collect();
        let b: Vec<_> = (0..100)
            .scan(Rng::new(5), |r, i| Some(frame(r, i)))
            .collect();
        assert_eq!(a, b);
    }
}

#[cfg(test)]
mod distribution {
    use super::*;

    /// Every class the suite needs occurs in the CI-size stream.
    #[test]
    fn ci_stream_covers_every_class() {
        let mut rng = Rng::new(SEED);
        let mut n: std::collections::BTreeMap<&str, u32> = Default::default();
        for i in 0..100_000 {
            *n.entry(class_name(landing(&frame(&mut rng, i))))
                .or_default() += 1;
        }
        println!("{n:?}");
        for k in ["steered", "upper", "lower", "held", "dropped"] {
            assert!(n.get(k).copied().unwrap_or(0) > 0, "{k}: {n:?}");
        }
    }
}
