//! The fuzz suite's allocation failures: FAILSLAB and `fail-nth` on the
//! requesting thread. For each representative newlink and changelink
//! request (every mode, source lists, `BC_QUEUE_LEN`, `BC_CUTOFF`, MTU and
//! address, bringing an upper up), the n-th slab allocation the request
//! makes fails, for n = 1, 2, 3, ... until the request runs without a fault.
//! A request that fails must leave the namespace exactly as it was (every
//! link read back over netlink); one that succeeds although an allocation
//! failed (the kernel tolerates some, e.g. a lost notification) must leave
//! the state a fault-free success leaves. Runs against the C driver and
//! ours; their errno sequences cannot line up allocation by allocation (the
//! two drivers allocate differently), so the distinct errnos and the
//! fault-free outcomes are compared.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;

use mvv_netlink::raw::{MsgBuilder, Socket, NLM_F_REQUEST};

use super::fuzz::{self, hex, ifinfomsg, POOL};

const FAILSLAB: &str = "/sys/kernel/debug/failslab";
/// A request's allocations are failed one at a time up to this many; a
/// request that still has a fault to take after that fails the check.
pub const MAX_N: u32 = 2000;
/// Allocations below this are all failed whatever the stride.
pub const EVERY: u32 = 16;

/// One representative request, with the uppers it needs first.
pub struct Case {
    pub name: &'static str,
    /// Whether the C driver is asked too (mode 32 is ours alone).
    pub both: bool,
    setup: &'static [Upper],
    request: fn(&Ctx) -> MsgBuilder,
}

/// An upper device that a case creates before its request: name, lower
/// (index into the lowers), mode, source list.
struct Upper(&'static str, usize, u32, &'static [usize]);

/// What a case's request can name.
pub struct Ctx {
    lowers: Vec<i32>,
    index_of: BTreeMap<String, i32>,
}

/// RTM_NEWLINK for kind macvlan: `create` makes `name` (NLM_F_EXCL),
/// otherwise changes it; `top` adds attributes outside IFLA_LINKINFO,
/// `data` inside IFLA_INFO_DATA.
fn newlink(
    name: &str,
    create: bool,
    top: &dyn Fn(&mut MsgBuilder),
    data: &dyn Fn(&mut MsgBuilder),
) -> MsgBuilder {
    let flags = if create {
        NLM_F_REQUEST | fuzz::NLM_F_ACK | fuzz::NLM_F_CREATE | fuzz::NLM_F_EXCL
    } else {
        NLM_F_REQUEST | fuzz::NLM_F_ACK
    };
    let mut m = MsgBuilder::new(fuzz::RTM_NEWLINK, flags, &ifinfomsg(0, 0, 0));
    m.attr_str(fuzz::IFLA_IFNAME, name);
    top(&mut m);
    m.begin_nest(fuzz::IFLA_LINKINFO);
    m.attr_str(fuzz::IFLA_INFO_KIND, "macvlan");
    m.begin_nest(fuzz::IFLA_INFO_DATA);
    data(&mut m);
    m.end_nest();
    m.end_nest();
    m
}

fn link(m: &mut MsgBuilder, index: i32) {
    m.attr(fuzz::IFLA_LINK, &(index as u32).to_ne_bytes());
}

fn mode(m: &mut MsgBuilder, v: u32) {
    m.attr(fuzz::MODE, &v.to_ne_bytes());
}

fn source_list(m: &mut MsgBuilder, set: u32, macs: &[usize]) {
    m.attr(fuzz::MACADDR_MODE, &set.to_ne_bytes());
    m.begin_nest(fuzz::MACADDR_DATA);
    for &i in macs {
        m.attr(fuzz::MACADDR, &POOL[i]);
    }
    m.end_nest();
}

/// MACVLAN_MACADDR_ADD, _FLUSH, _SET.
const ADD: u32 = 0;
const FLUSH: u32 = 2;
const SET: u32 = 3;

fn upper_msg(u: &Upper, ctx: &Ctx) -> MsgBuilder {
    let lower = ctx.lowers[u.1];
    newlink(u.0, true, &|m| link(m, lower), &|m| {
        mode(m, u.2);
        if !u.3.is_empty() {
            source_list(m, SET, u.3);
        }
    })
}

pub const CASES: &[Case] = &[
    Case {
        name: "create private",
        both: true,
        setup: &[],
        request: |c| newlink("fv", true, &|m| link(m, c.lowers[0]), &|m| mode(m, 1)),
    },
    Case {
        name: "create vepa with IFLA_ADDRESS and IFLA_MTU",
        both: true,
        setup: &[],
        request: |c| {
            newlink(
                "fv",
                true,
                &|m| {
                    link(m, c.lowers[1]);
                    m.attr(fuzz::IFLA_ADDRESS, &POOL[0]);
                    m.attr(fuzz::IFLA_MTU, &1400u32.to_ne_bytes());
                },
                &|m| mode(m, 2),
            )
        },
    },
    Case {
        name: "create bridge with BC_QUEUE_LEN and BC_CUTOFF",
        both: true,
        setup: &[],
        request: |c| {
            newlink("fv", true, &|m| link(m, c.lowers[0]), &|m| {
                mode(m, 4);
                m.attr(fuzz::BC_QUEUE_LEN, &100u32.to_ne_bytes());
                m.attr(fuzz::BC_CUTOFF, &2i32.to_ne_bytes());
            })
        },
    },
    Case {
        name: "create bridge beside another upper (shared port)",
        both: true,
        setup: &[Upper("fa", 0, 4, &[])],
        request: |c| {
            newlink("fv", true, &|m| link(m, c.lowers[0]), &|m| {
                mode(m, 4);
                m.attr(fuzz::BC_QUEUE_LEN, &5000u32.to_ne_bytes());
            })
        },
    },
    Case {
        name: "create passthru",
        both: true,
        setup: &[],
        request: |c| newlink("fv", true, &|m| link(m, c.lowers[1]), &|m| mode(m, 8)),
    },
    Case {
        name: "create source with a MACADDR_DATA list",
        both: true,
        setup: &[],
        request: |c| {
            newlink("fv", true, &|m| link(m, c.lowers[0]), &|m| {
                mode(m, 16);
                source_list(m, SET, &[0, 1, 2]);
            })
        },
    },
    Case {
        name: "create on another upper (stacked)",
        both: true,
        setup: &[Upper("fa", 0, 1, &[])],
        request: |c| {
            let fa = c.index_of.get("fa").copied().unwrap_or(0);
            newlink("fv", true, &|m| link(m, fa), &|m| mode(m, 2))
        },
    },
    Case {
        name: "create vrrp (mode 32) with its VMAC",
        both: false,
        setup: &[],
        request: |c| {
            newlink(
                "fv",
                true,
                &|m| {
                    link(m, c.lowers[0]);
                    m.attr(fuzz::IFLA_ADDRESS, &POOL[4]);
                },
                &|m| mode(m, 32),
            )
        },
    },
    Case {
        name: "change source: MACADDR_MODE add",
        both: true,
        setup: &[Upper("fa", 0, 16, &[0])],
        request: |_| {
            newlink("fa", false, &|_| {}, &|m| {
                m.attr(fuzz::MACADDR_MODE, &ADD.to_ne_bytes());
                m.attr(fuzz::MACADDR, &POOL[1]);
            })
        },
    },
    Case {
        name: "change source: MACADDR_MODE set a list",
        both: true,
        setup: &[Upper("fa", 0, 16, &[0])],
        request: |_| newlink("fa", false, &|_| {}, &|m| source_list(m, SET, &[1, 2, 3])),
    },
    Case {
        name: "change source: MACADDR_MODE flush",
        both: true,
        setup: &[Upper("fa", 0, 16, &[0, 1])],
        request: |_| {
            newlink("fa", false, &|_| {}, &|m| {
                m.attr(fuzz::MACADDR_MODE, &FLUSH.to_ne_bytes());
            })
        },
    },
    Case {
        name: "change mode private to bridge",
        both: true,
        setup: &[Upper("fa", 0, 1, &[]), Upper("fb", 0, 4, &[])],
        request: |_| newlink("fa", false, &|_| {}, &|m| mode(m, 4)),
    },
    Case {
        name: "change BC_QUEUE_LEN and BC_CUTOFF",
        both: true,
        setup: &[Upper("fa", 0, 4, &[])],
        request: |_| {
            newlink("fa", false, &|_| {}, &|m| {
                m.attr(fuzz::BC_QUEUE_LEN, &1000u32.to_ne_bytes());
                m.attr(fuzz::BC_CUTOFF, &(-1i32).to_ne_bytes());
            })
        },
    },
    Case {
        name: "change IFLA_MTU and IFLA_ADDRESS",
        both: true,
        setup: &[Upper("fa", 1, 2, &[])],
        request: |_| {
            newlink(
                "fa",
                false,
                &|m| {
                    m.attr(fuzz::IFLA_MTU, &1400u32.to_ne_bytes());
                    m.attr(fuzz::IFLA_ADDRESS, &POOL[2]);
                },
                &|_| {},
            )
        },
    },
    Case {
        name: "change mode private to vrrp (32)",
        both: false,
        setup: &[Upper("fa", 0, 1, &[])],
        request: |_| newlink("fa", false, &|_| {}, &|m| mode(m, 32)),
    },
    Case {
        name: "bring a bridge-mode upper up",
        both: true,
        setup: &[Upper("fa", 0, 4, &[]), Upper("fb", 0, 4, &[])],
        request: |_| {
            let mut m = MsgBuilder::new(
                fuzz::RTM_NEWLINK,
                NLM_F_REQUEST | fuzz::NLM_F_ACK,
                &ifinfomsg(0, fuzz::IFF_UP, fuzz::IFF_UP),
            );
            m.attr_str(fuzz::IFLA_IFNAME, "fa");
            m
        },
    },
];

/// The uppers a case may leave behind.
const CASE_UPPERS: &[&str] = &["fv", "fa", "fb"];

/// What one case observed on one driver.
pub struct Outcome {
    /// The answer at n = 1, 2, ...: an errno, 0, or `LOST` (the kernel
    /// could not allocate the ACK: the socket reports ENOBUFS).
    pub seq: Vec<i32>,
    /// The n of each answer in `seq`.
    pub ns: Vec<u32>,
    /// The errno of the fault-free run, and its state.
    pub last: i32,
    pub last_state: String,
    /// Violations: a failed request that changed something, a success
    /// under a fault with another state than the fault-free one.
    pub bad: Vec<String>,
}

impl Outcome {
    /// The sequence, run-length encoded: `ENOMEM x12, ok x1, ...`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let mut i = 0;
        while i < self.seq.len() {
            let e = self.seq[i];
            let mut j = i;
            while j < self.seq.len() && self.seq[j] == e {
                j += 1;
            }
            let _ = write!(out, "{} x{}, ", errno_short(e), j - i);
            i = j;
        }
        let _ = write!(out, "then {} without a fault", errno_short(self.last));
        out
    }

    pub fn distinct(&self) -> BTreeSet<i32> {
        self.seq.iter().copied().collect()
    }
}

pub fn errno_short(e: i32) -> String {
    match e {
        0 => "ok".into(),
        e => {
            let s = std::io::Error::from_raw_os_error(e).to_string();
            s.split(" (os error").next().unwrap_or(&s).to_string()
        }
    }
}

/// `/sys/kernel/debug/failslab`: GFP_KERNEL allocations may fail (they are
/// exempt by default), and reports print at most ten stack dumps per five
/// seconds (the default rate limit) so that they do not flood the log.
pub fn arm_failslab() -> Result<(), String> {
    for (f, v) in [("ignore-gfp-wait", "N"), ("verbose", "2")] {
        let p = format!("{FAILSLAB}/{f}");
        std::fs::write(&p, v).map_err(|e| format!("writing {p}: {e}"))?;
    }
    Ok(())
}

pub fn disarm_failslab() {
    let _ = std::fs::write(format!("{FAILSLAB}/ignore-gfp-wait"), "Y");
}

/// `/proc/thread-self/fail-nth`: the n-th fault-injection point this
/// thread reaches fails; reading it back gives what is left (0 once the
/// fault fired).
struct FailNth(File);

impl FailNth {
    fn open() -> Result<FailNth, String> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open("/proc/thread-self/fail-nth")
            .map(FailNth)
            .map_err(|e| format!("opening /proc/thread-self/fail-nth: {e}"))
    }

    fn set(&self, n: u32) -> Result<(), String> {
        self.0
            .write_at(n.to_string().as_bytes(), 0)
            .map(|_| ())
            .map_err(|e| format!("writing fail-nth {n}: {e}"))
    }

    fn left(&self) -> Result<u32, String> {
        let mut buf = [0u8; 16];
        let k = self
            .0
            .read_at(&mut buf, 0)
            .map_err(|e| format!("reading fail-nth: {e}"))?;
        String::from_utf8_lossy(&buf[..k])
            .trim()
            .parse()
            .map_err(|e| format!("fail-nth: {e}"))
    }
}

/// The answer when the kernel could not send the ACK (or take the request:
/// the socket's ENOBUFS says only that something was lost).
pub const LOST: i32 = libc::ENOBUFS;

fn send(sock: &mut Socket, m: MsgBuilder) -> i32 {
    match sock.request(m, 0) {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

fn del(sock: &mut Socket, name: &str) {
    let mut m = MsgBuilder::new(
        fuzz::RTM_DELLINK,
        NLM_F_REQUEST | fuzz::NLM_F_ACK,
        &ifinfomsg(0, 0, 0),
    );
    m.attr_str(fuzz::IFLA_IFNAME, name);
    let _ = send(sock, m);
}

/// Runs one case on the loaded driver over `sock` (in a namespace with the
/// lower devices `lowers`), failing allocation n = first, first + stride,
/// ... in turn (every one with stride 1) until the request runs without a
/// fault.
pub fn run_case(
    sock: &mut Socket,
    lowers: &[i32],
    case: &Case,
    first: u32,
    stride: u32,
) -> Result<Outcome, String> {
    let fail_nth = FailNth::open()?;
    let mut out = Outcome {
        seq: Vec::new(),
        ns: Vec::new(),
        last: -1,
        last_state: String::new(),
        bad: Vec::new(),
    };
    // States that successes under a fault left, checked at the end.
    let mut faulted_ok: Vec<(usize, String, String)> = Vec::new();
    // Every one of the first EVERY (the netlink and rtnetlink set-up), and
    // every one of a changelink; then every stride-th.
    let (every, stride) = if case.name.starts_with("create") {
        (EVERY, stride)
    } else {
        (MAX_N, 1)
    };
    let ns = (1..=every.min(MAX_N))
        .chain((every + first.max(1)..=MAX_N).step_by(stride.max(1) as usize));
    let mut ns = ns.peekable();
    // The set-up left by the last request, when it failed and changed
    // nothing: the next one can start from it.
    let mut kept: Option<(Ctx, String)> = None;
    while let Some(n) = ns.next() {
        let (ctx, before) = match kept.take() {
            Some(k) => k,
            None => {
                for u in CASE_UPPERS {
                    del(sock, u);
                }
                let mut ctx = Ctx {
                    lowers: lowers.to_vec(),
                    index_of: BTreeMap::new(),
                };
                for u in case.setup {
                    let e = send(sock, upper_msg(u, &ctx));
                    if e != 0 {
                        return Err(format!("{}: setting up {}: errno {e}", case.name, u.0));
                    }
                    let (_, names) =
                        fuzz::read_all(sock).map_err(|e| format!("dump: errno {e}"))?;
                    ctx.index_of = names.index_of;
                }
                let before = fuzz::ns_state(sock)?;
                (ctx, before)
            }
        };
        let msg = (case.request)(&ctx);
        fail_nth.set(n)?;
        let errno = send(sock, msg);
        let left = fail_nth.left();
        fail_nth.set(0)?;
        let fired = left? == 0;
        let after = fuzz::ns_state(sock)?;
        if !fired {
            out.last = errno;
            out.last_state = after;
            break;
        }
        out.seq.push(errno);
        out.ns.push(n);
        if errno == 0 || errno == LOST {
            faulted_ok.push((out.seq.len() - 1, before, after));
        } else if after != before {
            if out.bad.len() < 5 {
                out.bad.push(format!(
                    "n={n}: {} but the state changed:\n  before: {before}\n  after:  {after}",
                    errno_short(errno)
                ));
            }
        } else {
            kept = Some((ctx, before));
        }
        if ns.peek().is_none() {
            out.bad
                .push(format!("still a fault to take after {MAX_N} allocations"));
        }
    }
    for u in CASE_UPPERS {
        del(sock, u);
    }
    if out.last != 0 {
        out.bad.push(format!(
            "the request fails without a fault: {}",
            errno_short(out.last)
        ));
    }
    for (k, before, after) in faulted_ok {
        // A success under a fault must leave what a fault-free success
        // leaves; a lost answer, that or nothing.
        let n = out.ns[k];
        if after != out.last_state && !(out.seq[k] == LOST && after == before) && out.bad.len() < 8
        {
            out.bad.push(format!(
                "n={n}: {} under a fault, but another state than without one:\n  with the fault: {after}\n  without:        {}",
                errno_short(out.seq[k]),
                out.last_state
            ));
        }
    }
    Ok(out)
}

/// A one-line description of `o` for the log.
pub fn describe(case: &Case, o: &Outcome) -> String {
    format!("{}: {} faults: {}", case.name, o.seq.len(), o.summary())
}

/// Used by the unit test below and by the log: a hex dump of `POOL[i]`.
#[allow(dead_code)]
fn pool_hex(i: usize) -> String {
    hex(&POOL[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_run_length_encoded() {
        let o = Outcome {
            seq: vec![LOST, libc::ENOMEM, libc::ENOMEM, 0, libc::ENOMEM],
            ns: vec![1, 2, 3, 4, 5],
            last: 0,
            last_state: String::new(),
            bad: Vec::new(),
        };
        assert_eq!(
            o.summary(),
            "No buffer space available x1, Cannot allocate memory x2, ok x1, \
             Cannot allocate memory x1, then ok without a fault"
        );
        assert_eq!(o.distinct().len(), 3);
    }

    #[test]
    fn every_case_builds_a_message() {
        let ctx = Ctx {
            lowers: vec![2, 3, 4, 5],
            index_of: BTreeMap::from([("fa".to_string(), 7)]),
        };
        for case in CASES {
            let m = (case.request)(&ctx);
            assert!(m.finish(1).len() > 32, "{}", case.name);
            for u in case.setup {
                assert!(upper_msg(u, &ctx).finish(1).len() > 32);
            }
        }
        assert!(CASES.iter().any(|c| !c.both));
        assert_eq!(pool_hex(0), "02:11:00:00:00:01");
    }
}
