//! The churn suite: configuration changing under traffic, for a bounded
//! time, from a seeded random sequence.
//!
//! ```text
//!   cp: peer0 ==veth== ca|cb: low0 +- mvN (any mode, in ca or cb)
//!       peer1 ==veth== ca|cb: low1 +- ...
//! ```
//!
//! A thread in the peer namespace `cp` floods both veth peers with unicast
//! to the uppers' MACs (UDP to their addresses, ARP requests for them),
//! broadcast, other multicast, and VRRP adverts (IPv4 and IPv6) from the
//! VMACs that VRRP-mode uppers have. Meanwhile the suite runs random
//! operations: create uppers in every mode (private, vepa, bridge,
//! passthru, source, vrrp) and delete them; switch live uppers between
//! private, vrrp, bridge and vepa; add to and flush source-mode MAC lists;
//! change a lower's MTU and MAC; bring lowers and uppers up and down; move
//! uppers and lowers between `ca` and `cb`; delete a lower with its uppers
//! (and create it again); `rmmod` the module while devices exist and
//! traffic flows, then `insmod` it again. While the module is out, an
//! attempt to create a macvlan must fail with `EOPNOTSUPP`: the C
//! `macvlan.ko` cannot be autoloaded, because the suite bind-mounts a copy
//! of `/etc/modprobe.d` with `install macvlan /bin/false` over it (as the
//! packaging suite does), and `/sys/module/macvlan` must never appear.
//!
//! An operation that fails with an errno the C driver also returns for a
//! request the churn made invalid (`ENODEV`, `EBUSY`, `EEXIST`, and
//! `EINVAL` where a passthru rule applies) is counted, not a failure; any
//! other errno is. The suite keeps a model of which macvlan links exist
//! where and in which mode, and compares it with a link dump of both
//! namespaces after every operation. After every operation it also reads
//! the kernel log: a report stops the churn and is printed with the last
//! operations and the seed.
//!
//! At the end, with uppers of each mode present and traffic flowing, a
//! final `rmmod` must complete within a bound; then no macvlan link may be
//! left in any namespace, each lower must be enslavable to a bridge (which
//! fails with `EBUSY` while an rx_handler is registered), the module is
//! loaded again for the suites after this one, the kernel log since the
//! suite started must hold no report, and kmemleak (two scans) must report
//! no object that it did not report before the suite.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, CloneFlags};

use crate::capture::PacketSender;
use crate::frames;
use crate::kmod::{self, C_DRIVER, OURS};
use crate::kmsg;
use crate::link::{
    address_msg, bridge_msg, ifla_macvlan, macvlan_change_msg, macvlan_mode, macvlan_msg, mtu_msg,
    netns_msg, netns_rename_msg, veth_msg, with_address, RawNla,
};
use crate::netns::Netns;
use crate::nl::{errno_name, Nl, NlError, NlTask};
use crate::suites::common::{err, module_file_ok, names_gone};
use crate::suites::hostile::Rng;
use crate::tap::{Outcome, Tap};

const NS_PEER: &str = "cp";
const NS: [&str; 2] = ["ca", "cb"];
const LOWERS: usize = 2;
const MAX_UPPERS: usize = 12;
const SEED: u64 = 0x6368_7572_6e21_2121; // "churn!!!"
/// The bound on every rmmod (a module unload takes about 4 s under TCG).
const RMMOD_BOUND: Duration = Duration::from_secs(60);
/// The bound on one netlink request (the default is 10 s).
const REQUEST_BOUND: Duration = Duration::from_secs(60);
/// Frames per peer between two pauses of the flooder.
const BURST: usize = 16;
const PACE: Duration = Duration::from_millis(2);
const KMEMLEAK: &str = "/sys/kernel/debug/kmemleak";
const MODPROBE_D: &str = "/etc/modprobe.d";

const MODES: [u32; 6] = [
    macvlan_mode::PRIVATE,
    macvlan_mode::VEPA,
    macvlan_mode::BRIDGE,
    macvlan_mode::PASSTHRU,
    macvlan_mode::SOURCE,
    macvlan_mode::VRRP,
];
/// The modes a live upper is switched between.
const SWITCHABLE: [u32; 4] = [
    macvlan_mode::PRIVATE,
    macvlan_mode::VRRP,
    macvlan_mode::BRIDGE,
    macvlan_mode::VEPA,
];

/// IFLA_MACVLAN_MACADDR_MODE values.
const MACADDR_ADD: u32 = 1;
const MACADDR_FLUSH: u32 = 3;

pub const TESTS: &[&str] = &[
    "module_loaded",
    "setup",
    "churn_no_unexpected_errors",
    "state_as_modelled",
    "every_operation_kind_done",
    "traffic_flowed",
    "c_driver_never_loaded",
    "final_rmmod_prompt",
    "no_macvlan_left",
    "no_rx_handler_left",
    "module_reloaded",
    "no_kernel_report",
    "kmemleak_clean",
    "teardown",
];

/// Every operation kind, in report order. Each must succeed at least once.
const OP_KINDS: &[&str] = &[
    "create_private",
    "create_vepa",
    "create_bridge",
    "create_passthru",
    "create_source",
    "create_vrrp",
    "delete_upper",
    "switch_mode",
    "source_add",
    "source_flush",
    "lower_mtu",
    "lower_mac",
    "lower_updown",
    "upper_updown",
    "move_upper",
    "move_lower",
    "delete_lower",
    "recreate_lower",
    "rmmod",
    "insmod",
    "create_unloaded",
];

const FRAME_KINDS: [&str; 5] = ["unicast", "arp_request", "broadcast", "multicast", "advert"];

fn create_op(mode: u32) -> &'static str {
    match mode {
        macvlan_mode::PRIVATE => "create_private",
        macvlan_mode::VEPA => "create_vepa",
        macvlan_mode::BRIDGE => "create_bridge",
        macvlan_mode::PASSTHRU => "create_passthru",
        macvlan_mode::SOURCE => "create_source",
        _ => "create_vrrp",
    }
}

fn lower_name(i: usize) -> String {
    format!("low{i}")
}

fn peer_name(i: usize) -> String {
    format!("peer{i}")
}

/// The MAC of upper `id` (VRRP-mode uppers get a VMAC instead).
fn upper_mac(id: u32) -> [u8; 6] {
    [0x02, 0xcc, 0, (id >> 16) as u8, (id >> 8) as u8, id as u8]
}

/// The address of upper `id`, in 10.77.0.0/16.
fn upper_ip(id: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, (id >> 8) as u8, id as u8)
}

fn vmac4(vrid: u8) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x01, vrid]
}

fn vmac6(vrid: u8) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x02, vrid]
}

fn peer_mac(i: usize) -> [u8; 6] {
    [0x02, 0xee, 0, 0, 0, i as u8]
}

const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 254, 1);

/// What the flooder thread and the churn share.
struct Shared {
    stop: AtomicBool,
    /// Uppers have ids below this: unicast goes to recent ones.
    next_id: AtomicU32,
    sent: [AtomicU64; 5],
    /// Sends refused because the peer device was gone (deleted lower).
    gone: AtomicU64,
    /// Frames the kernel dropped at once (lower down: ENOBUFS).
    dropped: AtomicU64,
    /// The longest time between two sendto calls returning (whatever
    /// they returned), in milliseconds: how long the flooder was stalled,
    /// in the kernel or off the CPU; and the operation running then.
    max_gap_ms: AtomicU64,
    max_gap_op: AtomicU64,
    /// The operation the churn is running.
    op: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Shared {
    fn sent_total(&self) -> u64 {
        self.sent.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// One flood frame for peer `i`: (kind index, frame).
fn flood_frame(rng: &mut Rng, next_id: u32, i: usize, tag: u16) -> (usize, Vec<u8>) {
    let src = peer_mac(i);
    let recent = |rng: &mut Rng| next_id.saturating_sub(1 + rng.below(24) as u32);
    match rng.below(10) {
        0..=2 => {
            let id = recent(rng);
            let dst = if rng.chance(1, 4) {
                vmac4(1 + rng.below(16) as u8)
            } else {
                upper_mac(id)
            };
            let f = frames::udp_v4(
                (src, PEER_IP, 4000),
                (dst, upper_ip(id), 9),
                tag,
                &[0x5a; 32],
            );
            (0, f)
        }
        3 => {
            // ARP request for an upper's address: the upper answers
            // through its transmit path.
            let id = recent(rng);
            let mut f = frames::gratuitous_arp(src, PEER_IP);
            f[14 + 24..14 + 28].copy_from_slice(&upper_ip(id).octets());
            (1, f)
        }
        4 => {
            let f = frames::udp_v4(
                (src, PEER_IP, 4000),
                (frames::BROADCAST, Ipv4Addr::new(10, 77, 255, 255), 9),
                tag,
                &[0xb0; 16],
            );
            (2, f)
        }
        5 => {
            let f = frames::udp_v4(
                (src, PEER_IP, 4000),
                (
                    [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01],
                    Ipv4Addr::new(224, 0, 0, 1),
                    9,
                ),
                tag,
                &[0x3c; 16],
            );
            (3, f)
        }
        _ => {
            let vrid = 1 + rng.below(16) as u8;
            let f = if rng.chance(2, 3) {
                frames::advert_v4(
                    vmac4(vrid),
                    Ipv4Addr::new(10, 77, 253, vrid),
                    vrid,
                    100,
                    Ipv4Addr::new(10, 77, 252, vrid),
                    tag,
                )
            } else {
                let m = vmac6(vrid);
                frames::advert_v6(
                    m,
                    frames::link_local(m),
                    vrid,
                    100,
                    frames::link_local([0x02, 0xdd, 0, 0, 0, vrid]),
                    u32::from(tag),
                )
            };
            (4, f)
        }
    }
}

/// The flooder: lives in the peer namespace until told to stop; reopens
/// a peer's socket when the peer was deleted (with its lower) and made
/// again.
fn flood(peer_ns: OwnedFd, shared: Arc<Shared>, seed: u64) {
    if let Err(e) = setns(peer_ns.as_fd(), CloneFlags::CLONE_NEWNET) {
        shared
            .errors
            .lock()
            .unwrap()
            .push(format!("flooder: setns into {NS_PEER}: {e}"));
        return;
    }
    let mut rng = Rng::new(seed ^ 0x666c_6f6f_6421);
    let mut senders: Vec<Option<PacketSender>> = (0..LOWERS).map(|_| None).collect();
    let mut retry_at = [Instant::now(); LOWERS];
    let mut tag = 0u16;
    let mut last = Instant::now();
    while !shared.stop.load(Ordering::Relaxed) {
        for i in 0..LOWERS {
            if senders[i].is_none() {
                if Instant::now() < retry_at[i] {
                    continue;
                }
                match PacketSender::open_here(&peer_name(i)) {
                    Ok(s) => senders[i] = Some(s),
                    Err(_) => {
                        retry_at[i] = Instant::now() + Duration::from_millis(20);
                        continue;
                    }
                }
            }
            let next_id = shared.next_id.load(Ordering::Relaxed);
            for _ in 0..BURST {
                tag = tag.wrapping_add(1);
                let (kind, f) = flood_frame(&mut rng, next_id, i, tag);
                let protocol = u16::from_be_bytes([f[12], f[13]]);
                let Some(s) = senders[i].as_ref() else { break };
                let r = s.send_once(&f, protocol);
                let gap = last.elapsed().as_millis() as u64;
                last = Instant::now();
                if gap > shared.max_gap_ms.load(Ordering::Relaxed) {
                    shared.max_gap_ms.store(gap, Ordering::Relaxed);
                    shared
                        .max_gap_op
                        .store(shared.op.load(Ordering::Relaxed), Ordering::Relaxed);
                }
                match r {
                    Ok(_) => {
                        shared.sent[kind].fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        match e.raw_os_error() {
                            Some(libc::ENXIO) | Some(libc::ENODEV) => {
                                shared.gone.fetch_add(1, Ordering::Relaxed);
                                senders[i] = None;
                            }
                            Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::ENETDOWN) => {
                                shared.dropped.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {
                                let mut errs = shared.errors.lock().unwrap();
                                if errs.len() < 5 {
                                    errs.push(format!(
                                        "flooder: sendto {} ({} bytes, ethertype {protocol:#06x}): {e}",
                                        peer_name(i),
                                        f.len()
                                    ));
                                }
                                senders[i] = None;
                            }
                        }
                        break;
                    }
                }
            }
        }
        std::thread::sleep(PACE);
    }
}

/// A lower device (a veth whose peer is in the peer namespace).
struct Lower {
    ns: usize,
    exists: bool,
}

/// An upper device as the model has it.
#[derive(Clone)]
struct Upper {
    name: String,
    lower: usize,
    ns: usize,
    mode: u32,
    up: bool,
    vrid: Option<u8>,
}

#[derive(Default)]
struct OpCount {
    ok: u64,
    expected: BTreeMap<String, u64>,
}

/// The kernel log from the moment the suite started.
struct KmsgWatch {
    f: Option<File>,
    reports: Vec<String>,
    lost: u64,
    next_seq: Option<u64>,
}

/// What counts as a kernel report (as tests/vm/lib.sh's MVV_SPLAT_RE).
pub(crate) const REPORT_PATTERNS: &[&str] = &[
    "BUG:",
    "WARNING:",
    "Oops",
    "KASAN:",
    "UBSAN:",
    "general protection fault",
    "Kernel panic",
    "possible recursive locking",
    "possible circular locking",
    "inconsistent lock state",
    "suspicious RCU usage",
    "detected stalls",
    "self-detected stall",
    "refcount_t:",
    "ref_tracker:",
    "ODEBUG:",
    "blocked for more than",
    "workqueue lockup",
    "new suspected memory leaks",
    "unreferenced object 0x",
    "unregister_netdevice: waiting for",
    "Call Trace:",
];

impl KmsgWatch {
    fn open() -> Result<KmsgWatch, String> {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .map_err(err("opening /dev/kmsg"))?;
        // SAFETY: lseek on an fd this function owns.
        if unsafe { libc::lseek(std::os::fd::AsRawFd::as_raw_fd(&f), 0, libc::SEEK_END) } < 0 {
            return Err(format!("lseek /dev/kmsg: {}", io::Error::last_os_error()));
        }
        Ok(KmsgWatch {
            f: Some(f),
            reports: Vec::new(),
            lost: 0,
            next_seq: None,
        })
    }

    /// Reads what is new; returns the number of new report lines.
    fn drain(&mut self) -> usize {
        let before = self.reports.len();
        let Some(f) = self.f.as_mut() else { return 0 };
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
                    self.lost += 1;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let raw = String::from_utf8_lossy(&buf[..n]);
            let Some(rec) = kmsg::parse_record(&raw) else {
                continue;
            };
            if let Some(want) = self.next_seq {
                if rec.seq > want {
                    self.lost += rec.seq - want;
                }
            }
            self.next_seq = Some(rec.seq + 1);
            if REPORT_PATTERNS.iter().any(|p| rec.text.contains(p)) && self.reports.len() < 200 {
                self.reports.push(kmsg::log_line(&rec));
            }
        }
        self.reports.len() - before
    }
}

/// A copy of /etc/modprobe.d with `install macvlan /bin/false`,
/// bind-mounted over it while the suite runs.
struct AutoloadGuard {
    dir: PathBuf,
    mounted: bool,
}

impl AutoloadGuard {
    fn install() -> Result<AutoloadGuard, String> {
        let dir = PathBuf::from(format!("/tmp/mvv-churn-modprobe.d.{}", std::process::id()));
        let mut g = AutoloadGuard {
            dir: dir.clone(),
            mounted: false,
        };
        fs::create_dir_all(&dir).map_err(err(format!("mkdir {}", dir.display())))?;
        if Path::new(MODPROBE_D).is_dir() {
            for e in fs::read_dir(MODPROBE_D)
                .map_err(err(format!("reading {MODPROBE_D}")))?
                .flatten()
            {
                if e.path().is_file() {
                    let _ = fs::copy(e.path(), dir.join(e.file_name()));
                }
            }
        } else {
            return Err(format!("no {MODPROBE_D} to bind-mount over"));
        }
        fs::write(
            dir.join("zz-mvv-churn.conf"),
            "# mvv-harness churn: the C macvlan.ko must not load while macvlan_vrrp is out\ninstall macvlan /bin/false\n",
        )
        .map_err(err("writing the churn modprobe.d file"))?;
        mount(
            Some(dir.as_path()),
            MODPROBE_D,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(err(format!("bind mount over {MODPROBE_D}")))?;
        g.mounted = true;
        let r = kmod::modprobe(C_DRIVER);
        if r.success || kmod::is_loaded(C_DRIVER) {
            return Err(format!(
                "modprobe {C_DRIVER} still loads it with the guard in place: {}",
                r.summary()
            ));
        }
        Ok(g)
    }
}

impl Drop for AutoloadGuard {
    fn drop(&mut self) {
        if self.mounted {
            if let Err(e) = umount2(MODPROBE_D, MntFlags::MNT_DETACH) {
                eprintln!("# warning: umount {MODPROBE_D}: {e}");
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// rmmod, bounded: Ok(time taken), or why not.
fn rmmod_bounded() -> Result<Duration, String> {
    let t0 = Instant::now();
    let mut child = Command::new("rmmod")
        .arg(OURS)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(err("spawning rmmod"))?;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => {
                let mut out = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut out);
                }
                return if st.success() {
                    Ok(t0.elapsed())
                } else {
                    Err(format!("rmmod {OURS}: {st}: {}", out.trim()))
                };
            }
            Ok(None) if t0.elapsed() > RMMOD_BOUND => {
                // Left running: it sleeps uninterruptibly if a device
                // reference leaked.
                return Err(format!(
                    "rmmod {OURS} still running after {} s",
                    RMMOD_BOUND.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for rmmod: {e}")),
        }
    }
}

/// The objects kmemleak lists now ("unreferenced object 0x..." lines).
fn kmemleak_objects() -> Result<BTreeSet<String>, String> {
    let s = fs::read_to_string(KMEMLEAK).map_err(err(format!("reading {KMEMLEAK}")))?;
    Ok(s.lines()
        .filter(|l| l.starts_with("unreferenced object 0x"))
        .map(|l| l.split_whitespace().nth(2).unwrap_or("").to_string())
        .collect())
}

fn kmemleak_scan() -> Result<(), String> {
    fs::write(KMEMLEAK, "scan").map_err(err(format!("writing scan to {KMEMLEAK}")))
}

struct Env {
    peer: Netns,
    spaces: [Netns; 2],
    nl: [Nl; 2],
    nl_peer: Nl,
    _tasks: Vec<NlTask>,
    module: PathBuf,
    shared: Arc<Shared>,
    flooder: Option<JoinHandle<()>>,
    lowers: Vec<Lower>,
    uppers: Vec<Upper>,
    loaded: bool,
    /// The module is out and create_unloaded ran since.
    unloaded_tried: bool,
    next_id: u32,
    vrids: BTreeSet<u8>,
    ops: BTreeMap<&'static str, OpCount>,
    log: VecDeque<String>,
    /// What the operation during the flooder's longest stall did (so far).
    stall_notes: Vec<String>,
    op_no: u64,
    started: Instant,
    seed: u64,
    failures: Vec<String>,
    mismatches: Vec<String>,
    c_seen: Vec<String>,
    kmsg: KmsgWatch,
    rmmod_times: Vec<Duration>,
    _guard: AutoloadGuard,
}

enum Verdict {
    Ok,
    Expected,
    Failed,
}

impl Env {
    fn note(&mut self, s: String) {
        if self.log.len() == 60 {
            self.log.pop_front();
        }
        let ms = self.started.elapsed().as_millis();
        let line = format!("#{} {ms} ms: {s}", self.op_no);
        if self.shared.max_gap_op.load(Ordering::Relaxed) == self.op_no
            && self.stall_notes.len() < 8
        {
            self.stall_notes.push(line.clone());
        }
        self.log.push_back(line);
    }

    /// Counts the result of `op`; `passthru` says a passthru rule makes
    /// EINVAL the C driver's answer.
    fn judge(
        &mut self,
        op: &'static str,
        what: &str,
        r: &Result<(), NlError>,
        passthru: bool,
    ) -> Verdict {
        let c = self.ops.entry(op).or_default();
        match r {
            Ok(()) => {
                c.ok += 1;
                self.note(format!("{op} {what}: ok"));
                Verdict::Ok
            }
            Err(e) => {
                let errno = e.errno();
                let expected = matches!(errno, Some(libc::ENODEV | libc::EBUSY | libc::EEXIST))
                    || (passthru && errno == Some(libc::EINVAL));
                let name = errno.map(errno_name).unwrap_or_else(|| "transport".into());
                if expected {
                    *c.expected.entry(name.clone()).or_default() += 1;
                    self.note(format!("{op} {what}: {name} (expected)"));
                    Verdict::Expected
                } else {
                    let m = format!(
                        "{op} {what}: {e} (op #{}, seed {:#x})",
                        self.op_no, self.seed
                    );
                    self.note(format!("{op} {what}: {e} UNEXPECTED"));
                    self.failures.push(m);
                    Verdict::Failed
                }
            }
        }
    }

    fn fail(&mut self, m: String) {
        self.note(format!("FAIL {m}"));
        self.failures
            .push(format!("{m} (op #{}, seed {:#x})", self.op_no, self.seed));
    }

    async fn index(&self, ns: usize, name: &str) -> Option<u32> {
        match self.nl[ns].link_by_name(name).await {
            Ok(Some(l)) => Some(l.index),
            _ => None,
        }
    }

    fn uppers_on(&self, lower: usize) -> usize {
        self.uppers.iter().filter(|u| u.lower == lower).count()
    }

    fn has_passthru(&self, lower: usize) -> bool {
        self.uppers
            .iter()
            .any(|u| u.lower == lower && u.mode == macvlan_mode::PASSTHRU)
    }

    /// Creates lower `i` in namespace `ca` with its peer in `cp`; both up.
    async fn make_lower(&mut self, i: usize) -> Result<(), String> {
        let (name, peer, tmp) = (lower_name(i), peer_name(i), format!("cpeer{i}"));
        let nl = &self.nl[0];
        nl.link_add(veth_msg(&name, &tmp))
            .await
            .map_err(err(format!("veth {name}/{tmp}")))?;
        let t = self.index(0, &tmp).await.ok_or(format!("{tmp} gone"))?;
        nl.link_set(netns_rename_msg(t, self.peer.fd(), &peer))
            .await
            .map_err(err(format!("moving {tmp} to {NS_PEER} as {peer}")))?;
        let p = self
            .nl_peer
            .link_required(&peer)
            .await
            .map_err(err(format!("{peer} in {NS_PEER}")))?
            .index;
        self.nl_peer
            .link_up(p)
            .await
            .map_err(err(format!("{peer} up")))?;
        let l = self.index(0, &name).await.ok_or(format!("{name} gone"))?;
        nl.link_up(l).await.map_err(err(format!("{name} up")))?;
        self.lowers[i] = Lower {
            ns: 0,
            exists: true,
        };
        Ok(())
    }

    fn pick_upper(&self, rng: &mut Rng, filter: impl Fn(&Upper) -> bool) -> Option<usize> {
        let c: Vec<usize> = (0..self.uppers.len())
            .filter(|&i| filter(&self.uppers[i]))
            .collect();
        if c.is_empty() {
            None
        } else {
            Some(c[rng.below(c.len())])
        }
    }

    fn pick_lower(&self, rng: &mut Rng) -> Option<usize> {
        let c: Vec<usize> = (0..LOWERS).filter(|&i| self.lowers[i].exists).collect();
        if c.is_empty() {
            None
        } else {
            Some(c[rng.below(c.len())])
        }
    }

    async fn create(&mut self, rng: &mut Rng, mode: u32) {
        let op = create_op(mode);
        // Passthru prefers a lower without uppers (it is refused on one
        // with uppers, which is tried too).
        let li = if mode == macvlan_mode::PASSTHRU && rng.chance(3, 4) {
            (0..LOWERS)
                .find(|&i| self.lowers[i].exists && self.uppers_on(i) == 0)
                .or_else(|| self.pick_lower(rng))
        } else {
            self.pick_lower(rng)
        };
        let Some(li) = li else { return };
        let ns = self.lowers[li].ns;
        let Some(lidx) = self.index(ns, &lower_name(li)).await else {
            self.fail(format!("{op}: {} not in {}", lower_name(li), NS[ns]));
            return;
        };
        let id = self.next_id;
        self.next_id += 1;
        self.shared.next_id.store(self.next_id, Ordering::Relaxed);
        let name = format!("mv{id}");
        let vrid = if mode == macvlan_mode::VRRP {
            (1..=255u8).find(|v| !self.vrids.contains(v))
        } else {
            None
        };
        let mac = match vrid {
            Some(v) if rng.chance(3, 4) => vmac4(v),
            Some(v) => vmac6(v),
            None => upper_mac(id),
        };
        let passthru_rule =
            (mode == macvlan_mode::PASSTHRU && self.uppers_on(li) > 0) || self.has_passthru(li);
        let r = self.nl[ns]
            .link_add(with_address(
                macvlan_msg(&name, lidx, &[RawNla::macvlan_mode(mode)]),
                &mac,
            ))
            .await;
        let what = format!("{name} on {} in {}", lower_name(li), NS[ns]);
        if let Verdict::Ok = self.judge(op, &what, &r, passthru_rule) {
            if passthru_rule {
                self.fail(format!(
                    "{op} {what} succeeded; the C driver refuses it (EINVAL: passthru)"
                ));
            }
            if let Some(v) = vrid {
                self.vrids.insert(v);
            }
            self.uppers.push(Upper {
                name: name.clone(),
                lower: li,
                ns,
                mode,
                up: false,
                vrid,
            });
            // Up with an address, so that it answers ARP and UDP (ICMP)
            // through its transmit path.
            if let Some(idx) = self.index(ns, &name).await {
                let r = self.nl[ns].link_up(idx).await;
                if let Verdict::Ok = self.judge("upper_updown", &format!("{name} up"), &r, false) {
                    if let Some(u) = self.uppers.last_mut() {
                        u.up = true;
                    }
                }
                let r = self.nl[ns].addr4_add(idx, upper_ip(id), 16).await;
                if let Err(e) = r {
                    if !matches!(e.errno(), Some(libc::ENODEV | libc::EEXIST)) {
                        self.fail(format!("address on {name}: {e}"));
                    }
                }
            }
        }
    }

    async fn delete_upper(&mut self, rng: &mut Rng) {
        let Some(k) = self.pick_upper(rng, |_| true) else {
            return;
        };
        let u = self.uppers[k].clone();
        let Some(idx) = self.index(u.ns, &u.name).await else {
            self.fail(format!("delete_upper: {} not in {}", u.name, NS[u.ns]));
            return;
        };
        let r = self.nl[u.ns].link_del(idx).await;
        if let Verdict::Ok = self.judge("delete_upper", &u.name, &r, false) {
            self.remove_upper(k);
        }
    }

    fn remove_upper(&mut self, k: usize) {
        let u = self.uppers.remove(k);
        if let Some(v) = u.vrid {
            self.vrids.remove(&v);
        }
    }

    async fn switch_mode(&mut self, rng: &mut Rng) {
        let Some(k) = self.pick_upper(rng, |u| SWITCHABLE.contains(&u.mode)) else {
            return;
        };
        let u = self.uppers[k].clone();
        let others: Vec<u32> = SWITCHABLE
            .iter()
            .copied()
            .filter(|m| *m != u.mode)
            .collect();
        let mode = others[rng.below(others.len())];
        let Some(idx) = self.index(u.ns, &u.name).await else {
            self.fail(format!("switch_mode: {} not in {}", u.name, NS[u.ns]));
            return;
        };
        let r = self.nl[u.ns]
            .link_change(macvlan_change_msg(idx, &[RawNla::macvlan_mode(mode)]))
            .await;
        let what = format!(
            "{} {} -> {}",
            u.name,
            macvlan_mode::describe(u.mode),
            macvlan_mode::describe(mode)
        );
        if let Verdict::Ok = self.judge("switch_mode", &what, &r, false) {
            self.uppers[k].mode = mode;
        }
    }

    async fn source_op(&mut self, rng: &mut Rng, flush: bool) {
        let Some(k) = self.pick_upper(rng, |u| u.mode == macvlan_mode::SOURCE) else {
            return;
        };
        let u = self.uppers[k].clone();
        let Some(idx) = self.index(u.ns, &u.name).await else {
            self.fail(format!("source op: {} not in {}", u.name, NS[u.ns]));
            return;
        };
        let (op, attrs, what) = if flush {
            (
                "source_flush",
                vec![RawNla::u32(ifla_macvlan::MACADDR_MODE, MACADDR_FLUSH)],
                u.name.clone(),
            )
        } else {
            // The peers' MACs (so that flooded frames match) or others.
            let mac = if rng.chance(1, 2) {
                peer_mac(rng.below(LOWERS))
            } else {
                [0x02, 0x5c, 0, 0, rng.u8(), rng.u8()]
            };
            (
                "source_add",
                vec![
                    RawNla::u32(ifla_macvlan::MACADDR_MODE, MACADDR_ADD),
                    RawNla::bytes(ifla_macvlan::MACADDR, &mac),
                ],
                format!("{} {}", u.name, crate::addr::fmt_mac(&mac)),
            )
        };
        let r = self.nl[u.ns]
            .link_change(macvlan_change_msg(idx, &attrs))
            .await;
        self.judge(op, &what, &r, false);
    }

    async fn lower_op(&mut self, rng: &mut Rng, op: &'static str) {
        let Some(li) = self.pick_lower(rng) else {
            return;
        };
        let ns = self.lowers[li].ns;
        let name = lower_name(li);
        let Some(idx) = self.index(ns, &name).await else {
            self.fail(format!("{op}: {name} not in {}", NS[ns]));
            return;
        };
        match op {
            "lower_mtu" => {
                let mtu = [576u32, 1280, 1500, 2000, 9000][rng.below(5)];
                let r = self.nl[ns].link_set(mtu_msg(idx, mtu)).await;
                self.judge(op, &format!("{name} mtu {mtu}"), &r, false);
            }
            "lower_mac" => {
                let mac = [0x02, 0x1a, rng.u8(), rng.u8(), rng.u8(), li as u8];
                let r = self.nl[ns].link_set(address_msg(idx, &mac)).await;
                self.judge(
                    op,
                    &format!("{name} address {}", crate::addr::fmt_mac(&mac)),
                    &r,
                    false,
                );
            }
            "lower_updown" => {
                // Mostly up: traffic must flow.
                let up = rng.chance(2, 3);
                let r = if up {
                    self.nl[ns].link_up(idx).await
                } else {
                    self.nl[ns].link_down(idx).await
                };
                self.judge(
                    op,
                    &format!("{name} {}", if up { "up" } else { "down" }),
                    &r,
                    false,
                );
            }
            "move_lower" => {
                let to = 1 - ns;
                let r = self.nl[ns]
                    .link_set(netns_msg(idx, self.spaces[to].fd()))
                    .await;
                let what = format!("{name} {} -> {}", NS[ns], NS[to]);
                if let Verdict::Ok = self.judge(op, &what, &r, false) {
                    self.lowers[li].ns = to;
                    if let Some(i) = self.index(to, &name).await {
                        let r = self.nl[to].link_up(i).await;
                        self.judge("lower_updown", &format!("{name} up"), &r, false);
                    }
                }
            }
            "delete_lower" => {
                let n = self.uppers_on(li);
                let r = self.nl[ns].link_del(idx).await;
                let what = format!("{name} in {} with {n} uppers", NS[ns]);
                if let Verdict::Ok = self.judge(op, &what, &r, false) {
                    self.lowers[li].exists = false;
                    while let Some(k) = self.uppers.iter().position(|u| u.lower == li) {
                        self.remove_upper(k);
                    }
                    self.recreate_lower(li).await;
                }
            }
            _ => unreachable!("{op}"),
        }
    }

    async fn recreate_lower(&mut self, li: usize) {
        match self.make_lower(li).await {
            Ok(()) => {
                self.ops.entry("recreate_lower").or_default().ok += 1;
                self.note(format!("recreate_lower {}: ok", lower_name(li)));
            }
            Err(e) => self.fail(format!("recreating {}: {e}", lower_name(li))),
        }
    }

    async fn upper_updown(&mut self, rng: &mut Rng) {
        let Some(k) = self.pick_upper(rng, |_| true) else {
            return;
        };
        let u = self.uppers[k].clone();
        let Some(idx) = self.index(u.ns, &u.name).await else {
            self.fail(format!("upper_updown: {} not in {}", u.name, NS[u.ns]));
            return;
        };
        let up = !u.up || rng.chance(1, 4);
        let r = if up {
            self.nl[u.ns].link_up(idx).await
        } else {
            self.nl[u.ns].link_down(idx).await
        };
        let what = format!("{} {}", u.name, if up { "up" } else { "down" });
        if let Verdict::Ok = self.judge("upper_updown", &what, &r, false) {
            self.uppers[k].up = up;
        }
    }

    async fn move_upper(&mut self, rng: &mut Rng) {
        let Some(k) = self.pick_upper(rng, |_| true) else {
            return;
        };
        let u = self.uppers[k].clone();
        let Some(idx) = self.index(u.ns, &u.name).await else {
            self.fail(format!("move_upper: {} not in {}", u.name, NS[u.ns]));
            return;
        };
        let to = 1 - u.ns;
        let r = self.nl[u.ns]
            .link_set(netns_msg(idx, self.spaces[to].fd()))
            .await;
        let what = format!("{} {} -> {}", u.name, NS[u.ns], NS[to]);
        if let Verdict::Ok = self.judge("move_upper", &what, &r, false) {
            self.uppers[k].ns = to;
            self.uppers[k].up = false;
            if rng.chance(3, 4) {
                if let Some(i) = self.index(to, &u.name).await {
                    let r = self.nl[to].link_up(i).await;
                    if let Verdict::Ok =
                        self.judge("upper_updown", &format!("{} up", u.name), &r, false)
                    {
                        self.uppers[k].up = true;
                    }
                }
            }
        }
    }

    fn rmmod(&mut self) {
        let n = self.uppers.len();
        let sent = self.shared.sent_total();
        match rmmod_bounded() {
            Ok(t) => {
                self.rmmod_times.push(t);
                self.ops.entry("rmmod").or_default().ok += 1;
                self.note(format!(
                    "rmmod with {n} uppers: ok in {} ms ({} frames sent meanwhile)",
                    t.as_millis(),
                    self.shared.sent_total() - sent
                ));
                self.loaded = false;
                self.unloaded_tried = false;
                self.uppers.clear();
                self.vrids.clear();
            }
            Err(e) => {
                self.fail(e);
                self.loaded = kmod::is_loaded(OURS);
            }
        }
    }

    fn insmod(&mut self) {
        let r = kmod::insmod(&self.module);
        if r.success {
            self.ops.entry("insmod").or_default().ok += 1;
            self.note("insmod: ok".into());
            self.loaded = true;
        } else {
            self.fail(format!("insmod {}: {}", self.module.display(), r.summary()));
            self.loaded = kmod::is_loaded(OURS);
        }
    }

    /// With the module out: creating a macvlan must fail with EOPNOTSUPP
    /// (no driver for the kind, and none autoloaded).
    async fn create_unloaded(&mut self, rng: &mut Rng) {
        let Some(li) = self.pick_lower(rng) else {
            return;
        };
        let ns = self.lowers[li].ns;
        let Some(lidx) = self.index(ns, &lower_name(li)).await else {
            return;
        };
        let r = self.nl[ns]
            .link_add(macvlan_msg(
                "mvout",
                lidx,
                &[RawNla::macvlan_mode(macvlan_mode::PRIVATE)],
            ))
            .await;
        match r {
            Err(e) if e.errno() == Some(libc::EOPNOTSUPP) => {
                self.ops.entry("create_unloaded").or_default().ok += 1;
                self.note("create_unloaded: EOPNOTSUPP (as it must)".into());
            }
            Ok(()) => {
                self.fail(format!(
                    "a macvlan was created with {OURS} unloaded (/sys/module/{C_DRIVER} {})",
                    kmod::presence(C_DRIVER)
                ));
                if let Some(i) = self.index(ns, "mvout").await {
                    let _ = self.nl[ns].link_del(i).await;
                }
            }
            Err(e) => self.fail(format!(
                "creating a macvlan with {OURS} unloaded: {e}, expected EOPNOTSUPP"
            )),
        }
    }

    /// An operation of a kind not yet done successfully, if one can be
    /// tried now (late in the run, so that every kind is covered).
    async fn step_missing(&mut self, rng: &mut Rng) -> bool {
        let missing: Vec<&'static str> = OP_KINDS
            .iter()
            .copied()
            .filter(|k| self.ops.get(k).map(|c| c.ok).unwrap_or(0) == 0)
            .filter(|k| !matches!(*k, "insmod" | "create_unloaded" | "recreate_lower"))
            .collect();
        if missing.is_empty() {
            return false;
        }
        let k = missing[rng.below(missing.len())];
        if let Some(m) = MODES.iter().find(|m| create_op(**m) == k) {
            self.create(rng, *m).await;
            return true;
        }
        let has_source = self.uppers.iter().any(|u| u.mode == macvlan_mode::SOURCE);
        match k {
            "source_add" | "source_flush" if !has_source => {
                self.create(rng, macvlan_mode::SOURCE).await
            }
            "source_add" => self.source_op(rng, false).await,
            "source_flush" => self.source_op(rng, true).await,
            "delete_upper" | "switch_mode" | "upper_updown" | "move_upper"
                if self.uppers.is_empty() =>
            {
                self.create(rng, macvlan_mode::PRIVATE).await
            }
            "delete_upper" => self.delete_upper(rng).await,
            "switch_mode" => self.switch_mode(rng).await,
            "upper_updown" => self.upper_updown(rng).await,
            "move_upper" => self.move_upper(rng).await,
            "rmmod" => self.rmmod(),
            k => self.lower_op(rng, k).await,
        }
        true
    }

    /// One random operation.
    async fn step(&mut self, rng: &mut Rng, force_rmmod: bool, late: bool) {
        if let Some(li) = (0..LOWERS).find(|&i| !self.lowers[i].exists) {
            self.recreate_lower(li).await;
            return;
        }
        if !self.loaded && !self.unloaded_tried {
            self.unloaded_tried = true;
            self.create_unloaded(rng).await;
            return;
        }
        if !self.loaded {
            match rng.below(8) {
                0 | 1 => self.insmod(),
                2 | 3 => self.create_unloaded(rng).await,
                4 => self.lower_op(rng, "lower_mtu").await,
                5 => self.lower_op(rng, "lower_updown").await,
                6 => self.lower_op(rng, "move_lower").await,
                _ => self.lower_op(rng, "lower_mac").await,
            }
            return;
        }
        if force_rmmod {
            self.rmmod();
            return;
        }
        if late && self.step_missing(rng).await {
            return;
        }
        let mut pick = rng.below(100);
        if self.uppers.is_empty() && (30..75).contains(&pick) {
            pick = 0;
        }
        if self.uppers.len() >= MAX_UPPERS && pick < 30 {
            pick = 30;
        }
        let mode = MODES[rng.below(MODES.len())];
        match pick {
            0..=29 => self.create(rng, mode).await,
            30..=39 => self.delete_upper(rng).await,
            40..=49 => self.switch_mode(rng).await,
            50..=52 => self.source_op(rng, false).await,
            53..=56 => self.source_op(rng, true).await,
            57..=65 => self.upper_updown(rng).await,
            66..=71 => self.move_upper(rng).await,
            72..=74 => self.lower_op(rng, "lower_mtu").await,
            75..=77 => self.lower_op(rng, "lower_mac").await,
            78..=83 => self.lower_op(rng, "lower_updown").await,
            84..=88 => self.lower_op(rng, "move_lower").await,
            89..=91 => self.lower_op(rng, "delete_lower").await,
            92 => self.rmmod(),
            _ => self.create(rng, mode).await,
        }
    }

    /// The macvlan links of both namespaces against the model.
    async fn verify(&mut self) {
        for (ns, ns_name) in NS.iter().enumerate() {
            let links = match self.nl[ns].link_dump().await {
                Ok(l) => l,
                Err(e) => {
                    self.fail(format!("RTM_GETLINK dump in {}: {e}", ns_name));
                    return;
                }
            };
            let got: BTreeMap<String, Option<u32>> = links
                .iter()
                .filter(|l| l.kind.as_deref() == Some("macvlan"))
                .map(|l| (l.name.clone(), l.macvlan_mode()))
                .collect();
            let want: BTreeMap<String, Option<u32>> = self
                .uppers
                .iter()
                .filter(|u| u.ns == ns)
                .map(|u| (u.name.clone(), Some(u.mode)))
                .collect();
            let names: BTreeSet<&str> = links.iter().map(|l| l.name.as_str()).collect();
            let mut m = Vec::new();
            if got != want {
                let show = |x: &BTreeMap<String, Option<u32>>| {
                    x.iter()
                        .map(|(n, md)| {
                            format!("{n}:{}", md.map(macvlan_mode::describe).unwrap_or_default())
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                m.push(format!(
                    "{}: macvlan links [{}], the model has [{}]",
                    ns_name,
                    show(&got),
                    show(&want)
                ));
            }
            for (i, l) in self.lowers.iter().enumerate() {
                let here = names.contains(lower_name(i).as_str());
                if l.exists && (l.ns == ns) != here {
                    m.push(format!(
                        "{}: {} {}",
                        ns_name,
                        lower_name(i),
                        if here {
                            "present, the model has it elsewhere"
                        } else {
                            "missing"
                        }
                    ));
                }
            }
            for x in m {
                self.note(format!("MISMATCH {x}"));
                if self.mismatches.len() < 5 {
                    self.mismatches.push(format!(
                        "{x} (after op #{}, seed {:#x})",
                        self.op_no, self.seed
                    ));
                }
            }
        }
    }

    /// After each operation: the C driver, the kernel log, the model.
    async fn after_op(&mut self) {
        if kmod::is_loaded(C_DRIVER) && self.c_seen.is_empty() {
            self.c_seen.push(format!(
                "/sys/module/{C_DRIVER} appeared by op #{}",
                self.op_no
            ));
        }
        if self.kmsg.drain() > 0 {
            let first = self.kmsg.reports.first().cloned().unwrap_or_default();
            self.fail(format!("kernel report: {first}"));
        }
        self.verify().await;
    }

    fn ops_summary(&self) -> String {
        let mut s = Vec::new();
        for k in OP_KINDS {
            let Some(c) = self.ops.get(k) else {
                s.push(format!("{k} 0"));
                continue;
            };
            let mut e = format!("{k} {}", c.ok);
            if !c.expected.is_empty() {
                let ex: Vec<String> = c.expected.iter().map(|(n, v)| format!("{n} {v}")).collect();
                e.push_str(&format!(" (+{})", ex.join(", ")));
            }
            s.push(e);
        }
        s.join(", ")
    }

    fn frames_summary(&self) -> String {
        let s: Vec<String> = FRAME_KINDS
            .iter()
            .zip(&self.shared.sent)
            .map(|(k, c)| format!("{k} {}", c.load(Ordering::Relaxed)))
            .collect();
        format!(
            "{} frames sent ({}); {} refused while a peer was gone, {} dropped at once (lower down); longest stall of the sender {} ms (at op #{})",
            self.shared.sent_total(),
            s.join(", "),
            self.shared.gone.load(Ordering::Relaxed),
            self.shared.dropped.load(Ordering::Relaxed),
            self.shared.max_gap_ms.load(Ordering::Relaxed),
            self.shared.max_gap_op.load(Ordering::Relaxed)
        )
    }
}

async fn setup(module: &Path, seed: u64) -> Result<Env, String> {
    let kmsg = KmsgWatch::open()?;
    let guard = AutoloadGuard::install()?;
    let (spaces, nls, tasks) = crate::suites::common::create_connected([NS_PEER, NS[0], NS[1]])?;
    let [peer, a, b] = spaces;
    let [nl_peer, na, nb] = nls;
    for ns in [&peer, &a, &b] {
        ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1")
            .map_err(err("sysctl"))?;
        ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1")
            .map_err(err("sysctl"))?;
    }
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        next_id: AtomicU32::new(0),
        sent: Default::default(),
        gone: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        max_gap_ms: AtomicU64::new(0),
        max_gap_op: AtomicU64::new(0),
        op: AtomicU64::new(0),
        errors: Mutex::new(Vec::new()),
    });
    let mut env = Env {
        peer,
        spaces: [a, b],
        nl: [na, nb],
        nl_peer,
        _tasks: tasks,
        module: module.to_path_buf(),
        shared,
        flooder: None,
        lowers: (0..LOWERS)
            .map(|_| Lower {
                ns: 0,
                exists: false,
            })
            .collect(),
        uppers: Vec::new(),
        loaded: kmod::is_loaded(OURS),
        unloaded_tried: false,
        next_id: 0,
        vrids: BTreeSet::new(),
        ops: BTreeMap::new(),
        log: VecDeque::new(),
        stall_notes: Vec::new(),
        op_no: 0,
        started: Instant::now(),
        seed,
        failures: Vec::new(),
        mismatches: Vec::new(),
        c_seen: Vec::new(),
        kmsg,
        rmmod_times: Vec::new(),
        _guard: guard,
    };
    for i in 0..LOWERS {
        env.make_lower(i).await?;
    }
    let fd = env
        .peer
        .fd()
        .try_clone_to_owned()
        .map_err(err("dup of the peer netns fd"))?;
    let sh = env.shared.clone();
    env.flooder = Some(
        std::thread::Builder::new()
            .name("churn-flood".into())
            .spawn(move || flood(fd, sh, seed))
            .map_err(err("spawning the flooder"))?,
    );
    Ok(env)
}

pub async fn run<W: Write>(tap: &mut Tap<W>, module: &Path, seconds: u64, seed: Option<u64>) {
    let seed = seed.unwrap_or(SEED);
    // A request may make the kernel run modprobe (creating a macvlan while
    // the module is out) or wait for RCU (deleting and moving devices):
    // seconds under TCG on a loaded machine. A hang is still a failure.
    crate::nl::set_request_timeout(REQUEST_BOUND);
    let module_ok = module_file_ok(tap, module);
    let mut f = Vec::new();
    if !kmod::is_loaded(OURS) {
        f.push(format!("/sys/module/{OURS} absent"));
    }
    if kmod::is_loaded(C_DRIVER) {
        f.push(format!("/sys/module/{C_DRIVER} present"));
    }
    if !module_ok {
        f.push(format!("{}: not a file", module.display()));
    }
    tap.report("module_loaded", &Outcome::from_failures(&f));
    tap.diag(&format!(
        "seed {seed:#x} (replay: mvv-harness churn --seed {seed:#x} --seconds {seconds})"
    ));
    let mut env = match setup(module, seed).await {
        Ok(e) if module_ok => {
            tap.pass("setup");
            e
        }
        Ok(_) => {
            tap.fail("setup", "no module file to insmod");
            for t in &TESTS[2..TESTS.len() - 1] {
                tap.fail(t, "no set-up");
            }
            tap.report("teardown", &names_gone(&[NS_PEER, NS[0], NS[1]]));
            return;
        }
        Err(e) => {
            tap.fail("setup", e);
            for t in &TESTS[2..TESTS.len() - 1] {
                tap.fail(t, "no set-up");
            }
            tap.report("teardown", &names_gone(&[NS_PEER, NS[0], NS[1]]));
            return;
        }
    };

    // The churn.
    let mut rng = Rng::new(seed);
    let budget = Duration::from_secs(seconds);
    let t0 = Instant::now();
    env.started = t0;
    // Past the budget, for at most half as long again, only while some
    // kind of operation has not succeeded yet (a slow, loaded machine).
    let missing = |env: &Env| {
        OP_KINDS
            .iter()
            .any(|k| env.ops.get(k).map(|c| c.ok).unwrap_or(0) == 0)
    };
    while (t0.elapsed() < budget || (t0.elapsed() < budget * 3 / 2 && missing(&env)))
        && env.failures.is_empty()
        && env.mismatches.is_empty()
    {
        env.op_no += 1;
        env.shared.op.store(env.op_no, Ordering::Relaxed);
        // At least one unload under traffic per run, in the middle.
        let force = env.loaded
            && env.rmmod_times.is_empty()
            && t0.elapsed() > budget * 2 / 5
            && !env.ops.contains_key("rmmod");
        let late = t0.elapsed() > budget / 3;
        env.step(&mut rng, force, late).await;
        env.after_op().await;
    }
    let churn_time = t0.elapsed();
    // The final state: the module in, uppers of each mode (passthru on the
    // lower without others, if one is) while traffic flows.
    if env.failures.is_empty() && env.mismatches.is_empty() {
        env.op_no += 1;
        if !env.loaded {
            env.insmod();
            env.after_op().await;
        }
        for mode in MODES {
            if env.uppers.len() >= MAX_UPPERS + 6 {
                break;
            }
            env.op_no += 1;
            env.create(&mut rng, mode).await;
            env.after_op().await;
        }
    }
    let n_uppers = env.uppers.len();
    let sent_before = env.shared.sent_total();
    let final_rmmod = if env.loaded {
        rmmod_bounded()
    } else {
        Err("the module was not loaded before the final rmmod".into())
    };
    let sent_during = env.shared.sent_total() - sent_before;
    env.shared.stop.store(true, Ordering::Relaxed);
    if let Some(h) = env.flooder.take() {
        if h.join().is_err() {
            env.shared
                .errors
                .lock()
                .unwrap()
                .push("the flooder thread panicked".into());
        }
    }
    env.loaded = kmod::is_loaded(OURS);
    if final_rmmod.is_ok() {
        env.uppers.clear();
    }

    tap.diag(&format!(
        "{} operations in {:.1} s, seed {seed:#x}: {}",
        env.op_no,
        churn_time.as_secs_f64(),
        env.ops_summary()
    ));
    tap.diag(&env.frames_summary());
    let stall_op = env.shared.max_gap_op.load(Ordering::Relaxed);
    let during: Vec<&String> = env
        .stall_notes
        .iter()
        .filter(|l| l.starts_with(&format!("#{stall_op} ")))
        .collect();
    if !during.is_empty() {
        tap.diag(&format!(
            "op #{stall_op}: {}",
            during
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    tap.diag(&format!(
        "rmmod under traffic {} times during the churn ({} ms each)",
        env.rmmod_times.len(),
        env.rmmod_times
            .iter()
            .map(|t| t.as_millis().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if !env.failures.is_empty() || !env.mismatches.is_empty() {
        tap.diag(&format!(
            "the last operations (seed {seed:#x}):\n{}",
            env.log.iter().cloned().collect::<Vec<_>>().join("\n")
        ));
    }
    tap.report(
        "churn_no_unexpected_errors",
        &Outcome::from_failures(&env.failures.iter().take(5).cloned().collect::<Vec<_>>()),
    );
    tap.report(
        "state_as_modelled",
        &Outcome::from_failures(&env.mismatches),
    );
    let missing: Vec<String> = OP_KINDS
        .iter()
        .filter(|k| env.ops.get(*k).map(|c| c.ok).unwrap_or(0) == 0)
        .map(|k| format!("no successful {k}"))
        .collect();
    let stopped_early = !env.failures.is_empty() || !env.mismatches.is_empty();
    tap.report(
        "every_operation_kind_done",
        &if stopped_early && !missing.is_empty() {
            Outcome::Fail(format!("the churn stopped early; {}", missing.join(", ")))
        } else {
            Outcome::from_failures(&missing)
        },
    );
    let mut tf: Vec<String> = env.shared.errors.lock().unwrap().clone();
    for (k, c) in FRAME_KINDS.iter().zip(&env.shared.sent) {
        if c.load(Ordering::Relaxed) == 0 {
            tf.push(format!("no {k} frame sent"));
        }
    }
    if sent_during == 0 {
        tf.push("no frame sent during the final rmmod".into());
    }
    tap.report("traffic_flowed", &Outcome::from_failures(&tf));
    let mut cf = env.c_seen.clone();
    if kmod::is_loaded(C_DRIVER) {
        cf.push(format!("/sys/module/{C_DRIVER} present at the end"));
    }
    tap.report("c_driver_never_loaded", &Outcome::from_failures(&cf));
    match &final_rmmod {
        Ok(t) => {
            tap.diag(&format!(
                "final rmmod with {n_uppers} uppers and {sent_during} frames in flight: {} ms",
                t.as_millis()
            ));
            tap.pass("final_rmmod_prompt");
        }
        Err(e) => tap.fail("final_rmmod_prompt", e.clone()),
    }

    // No macvlan link anywhere, no rx_handler on any lower.
    let mut left = Vec::new();
    for (nl, name) in [
        (&env.nl[0], NS[0]),
        (&env.nl[1], NS[1]),
        (&env.nl_peer, NS_PEER),
    ] {
        match nl.link_dump().await {
            Ok(links) => {
                for l in links
                    .iter()
                    .filter(|l| l.kind.as_deref() == Some("macvlan"))
                {
                    left.push(format!("{name}/{} (ifindex {})", l.name, l.index));
                }
            }
            Err(e) => left.push(format!("RTM_GETLINK dump in {name}: {e}")),
        }
    }
    if let Ok((root, t)) = Nl::open_here("init") {
        match root.link_dump().await {
            Ok(links) => {
                for l in links
                    .iter()
                    .filter(|l| l.kind.as_deref() == Some("macvlan"))
                {
                    left.push(format!("init netns/{}", l.name));
                }
            }
            Err(e) => left.push(format!("RTM_GETLINK dump in the initial netns: {e}")),
        }
        drop(t);
    }
    tap.report(
        "no_macvlan_left",
        &Outcome::from_failures(
            &left
                .iter()
                .map(|l| format!("{l} still exists"))
                .collect::<Vec<_>>(),
        ),
    );
    let mut rx = Vec::new();
    let mut proved = 0;
    for li in 0..LOWERS {
        if !env.lowers[li].exists {
            continue;
        }
        let ns = env.lowers[li].ns;
        let nl = env.nl[ns].clone();
        let name = lower_name(li);
        let r = async {
            let l = nl
                .link_required(&name)
                .await
                .map_err(err(format!("{name} in {}", NS[ns])))?
                .index;
            let br = match nl.link_by_name("cbr").await {
                Ok(Some(b)) => b.index,
                _ => {
                    nl.link_add(bridge_msg("cbr"))
                        .await
                        .map_err(err(format!("bridge cbr in {}", NS[ns])))?;
                    nl.link_required("cbr").await.map_err(err("cbr"))?.index
                }
            };
            nl.set_master(l, br).await.map_err(err(format!(
                "enslaving {name} to a bridge (EBUSY: an rx_handler is still registered)"
            )))?;
            nl.set_master(l, 0)
                .await
                .map_err(err(format!("releasing {name}")))?;
            Ok::<(), String>(())
        }
        .await;
        match r {
            Ok(()) => proved += 1,
            Err(e) => rx.push(e),
        }
    }
    if proved == 0 && rx.is_empty() {
        rx.push("no lower left to check".into());
    }
    tap.report("no_rx_handler_left", &Outcome::from_failures(&rx));

    // The module again, for the suites after this one.
    let mut mr = Vec::new();
    if !kmod::is_loaded(OURS) {
        let r = kmod::insmod(module);
        if !r.success {
            mr.push(format!("insmod {}: {}", module.display(), r.summary()));
        }
    }
    if kmod::is_loaded(C_DRIVER) {
        mr.push(format!("/sys/module/{C_DRIVER} present"));
    }
    tap.report("module_reloaded", &Outcome::from_failures(&mr));

    env.kmsg.drain();
    let mut kr: Vec<String> = env.kmsg.reports.iter().take(10).cloned().collect();
    if env.kmsg.lost > 0 {
        kr.push(format!(
            "{} kernel log records lost (unchecked)",
            env.kmsg.lost
        ));
    }
    if !env.kmsg.reports.is_empty() {
        tap.diag(&format!(
            "kernel reports since the suite started:\n{}",
            env.kmsg.reports.join("\n")
        ));
    }
    tap.report("no_kernel_report", &Outcome::from_failures(&kr));

    // kmemleak: what is new since the suite started (two scans, as
    // tests/vm/lib.sh does: an object is reported once it is older than 5 s
    // and unreferenced in two scans). The report only changes on a scan,
    // and none ran during the suite: what it lists now is what it listed
    // when the suite started.
    let km = (|| {
        let before = kmemleak_objects()?;
        kmemleak_scan()?;
        std::thread::sleep(Duration::from_secs(6));
        kmemleak_scan()?;
        let after = kmemleak_objects()?;
        let new: Vec<String> = after.difference(&before).cloned().collect();
        Ok::<Vec<String>, String>(new)
    })();
    match km {
        Ok(new) if new.is_empty() => tap.pass("kmemleak_clean"),
        Ok(new) => {
            let report = fs::read_to_string(KMEMLEAK).unwrap_or_default();
            tap.diag(
                &report
                    .lines()
                    .take(80)
                    .map(|l| format!("kmemleak: {l}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
            tap.fail(
                "kmemleak_clean",
                format!("{} new suspected leaks: {}", new.len(), new.join(" ")),
            );
        }
        Err(e) => tap.fail("kmemleak_clean", e),
    }

    // Teardown.
    let Env {
        peer,
        spaces,
        nl,
        nl_peer,
        _tasks,
        lowers,
        _guard,
        ..
    } = env;
    let r = async {
        for (i, l) in lowers.iter().enumerate() {
            if !l.exists {
                continue;
            }
            if let Ok(Some(x)) = nl[l.ns].link_by_name(&lower_name(i)).await {
                nl[l.ns]
                    .link_del(x.index)
                    .await
                    .map_err(err(format!("deleting {}", lower_name(i))))?;
            }
        }
        drop(nl);
        drop(nl_peer);
        drop(_tasks);
        peer.delete().map_err(err("netns cp"))?;
        let [a, b] = spaces;
        a.delete().map_err(err("netns ca"))?;
        b.delete().map_err(err("netns cb"))?;
        drop(_guard);
        Ok::<(), String>(())
    }
    .await;
    let mut tf = Vec::new();
    if let Err(e) = r {
        tf.push(e);
    }
    if let Outcome::Fail(m) = names_gone(&[NS_PEER, NS[0], NS[1]]) {
        tf.push(m);
    }
    if fs::read_dir(MODPROBE_D)
        .map(|d| d.flatten().any(|e| e.file_name() == "zz-mvv-churn.conf"))
        .unwrap_or(false)
    {
        tf.push(format!("{MODPROBE_D} still has the churn's file"));
    }
    tap.report("teardown", &Outcome::from_failures(&tf));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_frames_cover_every_kind() {
        let mut rng = Rng::new(7);
        let mut seen = [0u32; 5];
        for t in 0..2000u16 {
            let (k, f) = flood_frame(&mut rng, 40, (t % 2) as usize, t);
            assert!(f.len() >= 42, "{k}: {} bytes", f.len());
            seen[k] += 1;
            if k == 1 {
                assert_eq!(u16::from_be_bytes([f[12], f[13]]), frames::ETH_P_ARP);
            }
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
    }

    #[test]
    fn every_mode_has_a_create_kind() {
        for m in MODES {
            assert!(OP_KINDS.contains(&create_op(m)));
        }
        assert_eq!(
            MODES
                .iter()
                .map(|m| create_op(*m))
                .collect::<BTreeSet<_>>()
                .len(),
            6
        );
    }

    #[test]
    fn upper_macs_are_unicast_and_distinct() {
        let a = upper_mac(1);
        let b = upper_mac(257);
        assert_ne!(a, b);
        assert_eq!(a[0] & 1, 0);
        assert_eq!(upper_ip(257), Ipv4Addr::new(10, 77, 1, 1));
    }
}
