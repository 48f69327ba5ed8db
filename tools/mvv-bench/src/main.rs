// SPDX-License-Identifier: GPL-2.0

//! mvv-bench: the userspace half of `make bench`.
//!
//! - `rate`: packets per second of in-kernel counters (a tc action, an
//!   nftables counter) over a window, read over netlink;
//! - `inject`: VRRP advertisements into a device with AF_PACKET, measuring
//!   counters over a window while it sends;
//! - `report`: raw samples to results.md, results.json, cost.svg and
//!   fanout.svg.

mod cost;
mod counter;
mod inject;
mod report;
mod stats;
mod svg;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use counter::{Counter, Spec};

#[derive(Parser)]
#[command(
    name = "mvv-bench",
    about = "make bench helpers (runs inside the test VM, and on the host for reports)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print the current value of counters (tc:INDEX, nft:FAMILY:TABLE:NAME)
    Count {
        #[arg(required = true, value_parser = Spec::parse)]
        counters: Vec<Spec>,
    },
    /// Wait WARMUP seconds, then print "SPEC PACKETS SECONDS RATE" for each counter over a window,
    /// then "io-irqs" (virtio I/O interrupts) and "idle-ticks" (the guest's idle and iowait time)
    Rate {
        #[arg(long, default_value_t = 0.3)]
        warmup: f64,
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        /// Divide by the guest's busy time in the window (the window less
        /// its idle and iowait time, to the nanosecond from /proc/timer_list)
        /// instead of the whole window, and print "busy-ns BUSY WINDOW_NS"
        /// in place of "idle-ticks": for load that leaves the CPU idle on
        /// purpose (paced pktgen), whose rate is then the work per frame.
        /// The process runs SCHED_FIFO, so that no paced burst falls
        /// between a boundary's readings of the counters and of the idle
        /// time; "boundaries START END" says whether the counters stood
        /// "still" across each or "moved"
        #[arg(long)]
        busy: bool,
        #[arg(required = true, value_parser = Spec::parse)]
        counters: Vec<Spec>,
    },
    /// Send VRRP adverts into DEV; print "offered SENT SECONDS RATE" and the counters' rates over the window
    Inject {
        /// The device to send into (the lower device's veth peer)
        #[arg(long)]
        dev: String,
        /// Source MAC of the adverts (the VRRP virtual MAC)
        #[arg(long, value_parser = parse_mac)]
        src_mac: [u8; 6],
        #[arg(long, default_value_t = 10)]
        vrid: u8,
        /// What to send: VRRP adverts, or the same frames with UDP for VRRP
        #[arg(long, value_enum, default_value_t = FrameKind::Advert)]
        kind: FrameKind,
        #[arg(long, default_value_t = 0.3)]
        warmup: f64,
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        #[arg(value_parser = Spec::parse)]
        counters: Vec<Spec>,
    },
    /// Turn raw samples into results.md, results.json, cost.svg and fanout.svg in OUT_DIR
    Report {
        #[arg(long)]
        raw: PathBuf,
        #[arg(long)]
        out_dir: PathBuf,
    },
}

/// The frames `inject` sends.
#[derive(Clone, Copy, clap::ValueEnum)]
enum FrameKind {
    /// VRRPv3 IPv4 advertisements
    Advert,
    /// The same frames with UDP in place of VRRP: not adverts
    Lookalike,
    /// IGMPv3 reports for the VRRP group: what else a VRRP MAC sends
    Igmp,
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(format!("{s}: expected six hex bytes separated by ':'"));
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(parts) {
        *b = u8::from_str_radix(p, 16).map_err(|_| format!("{s}: bad hex byte {p:?}"))?;
    }
    Ok(mac)
}

fn open_all(specs: Vec<Spec>) -> Result<Vec<Counter>, String> {
    specs
        .into_iter()
        .map(|s| Counter::open(s.clone()).map_err(|e| format!("{s}: {e}")))
        .collect()
}

/// Reads every counter: (value, time of the read).
fn sample(counters: &mut [Counter]) -> Result<Vec<(u64, Instant)>, String> {
    counters
        .iter_mut()
        .map(|c| {
            let t = Instant::now();
            c.read()
                .map(|v| (v, t))
                .map_err(|e| format!("{}: {e}", c.spec))
        })
        .collect()
}

fn print_rates(counters: &[Counter], before: &[(u64, Instant)], after: &[(u64, Instant)]) {
    for ((c, b), a) in counters.iter().zip(before).zip(after) {
        print_rate(&c.spec.to_string(), b, a);
    }
}

fn print_rate(what: &str, before: &(u64, Instant), after: &(u64, Instant)) {
    let secs = after.1.duration_since(before.1).as_secs_f64();
    let delta = after.0.saturating_sub(before.0);
    println!("{what} {delta} {secs:.6} {:.1}", delta as f64 / secs);
}

/// Interrupts of the virtio request queues (the guest's 9p or virtio-fs
/// root, a block device) so far, from /proc/interrupts; 0 where unreadable.
/// A window with any of them waited for the host's I/O, whose duration in
/// guest time depends on the host's load, even under icount.
fn io_irqs() -> (u64, Instant) {
    let t = Instant::now();
    let text = std::fs::read_to_string("/proc/interrupts").unwrap_or_default();
    (io_irqs_in(&text), t)
}

/// The guest's idle and iowait time so far, in USER_HZ ticks, from the
/// first line of /proc/stat. A window in which the guest idled does not
/// count work only: under icount an idle guest's clock jumps to its next
/// timer, and one waiting for the host's I/O waits as long as the host takes.
fn idle_ticks() -> (u64, Instant) {
    let t = Instant::now();
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    (idle_ticks_in(&text), t)
}

/// A boundary of a `rate --busy` window: the counters on both sides of the
/// guest's idle time, and whether they moved in between.
///
/// Paced load comes in bursts (a frame's copies to every upper device); a
/// burst that fell between the two readings would count its work in one
/// window and its frames in the other. `rate --busy` runs `SCHED_FIFO`
/// (see [`run_fifo`]), so that nothing scheduled as a normal task (pktgen,
/// the broadcast work) runs between the readings, and it wakes at the end
/// of the window only after the burst in progress.
fn busy_boundary(counters: &mut [Counter]) -> Result<Boundary, String> {
    let first = sample(counters)?;
    let idle = idle_ns()?;
    let values = sample(counters)?;
    let moved = first.iter().zip(&values).any(|(a, b)| a.0 != b.0);
    Ok(Boundary {
        values,
        idle: Some(idle),
        moved,
    })
}

/// One end of a `rate` window: the counters, and for `--busy` the idle
/// time and whether the counters moved across its reading.
struct Boundary {
    values: Vec<(u64, Instant)>,
    idle: Option<(u64, Instant)>,
    moved: bool,
}

/// Makes this process `SCHED_FIFO` at the lowest real-time priority.
fn run_fifo() -> Result<(), String> {
    // SAFETY: `sched_param` is plain data, fully initialised here, and
    // `sched_setscheduler` only reads it.
    let r = unsafe {
        let param = libc::sched_param { sched_priority: 1 };
        libc::sched_setscheduler(0, libc::SCHED_FIFO, &param)
    };
    if r == 0 {
        Ok(())
    } else {
        Err(format!(
            "sched_setscheduler(SCHED_FIFO): {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// The guest's idle and iowait time so far, summed over CPUs, to the
/// nanosecond (`.idle_sleeptime` and `.iowait_sleeptime` of each CPU in
/// /proc/timer_list, which NO_HZ keeps), and when it was read. Read by a
/// running task, so no CPU of a one-CPU guest is in an idle period then.
fn idle_ns() -> Result<(u64, Instant), String> {
    let text = std::fs::read_to_string("/proc/timer_list")
        .map_err(|e| format!("/proc/timer_list: {e}"))?;
    let t = Instant::now();
    idle_ns_in(&text)
        .map(|n| (n, t))
        .ok_or_else(|| "/proc/timer_list has no idle_sleeptime (no NO_HZ?)".to_string())
}

pub fn idle_ns_in(text: &str) -> Option<u64> {
    let mut found = false;
    let mut sum = 0u64;
    for l in text.lines() {
        let l = l.trim_start();
        if let Some(rest) = l
            .strip_prefix(".idle_sleeptime")
            .or_else(|| l.strip_prefix(".iowait_sleeptime"))
        {
            let v = rest
                .trim_start_matches([' ', ':'])
                .split_whitespace()
                .next()?;
            sum += v.parse::<u64>().ok()?;
            found = true;
        }
    }
    found.then_some(sum)
}

pub fn idle_ticks_in(text: &str) -> u64 {
    text.lines().find(|l| l.starts_with("cpu ")).map_or(0, |l| {
        l.split_whitespace()
            .skip(4)
            .take(2)
            .filter_map(|v| v.parse::<u64>().ok())
            .sum()
    })
}

pub fn io_irqs_in(text: &str) -> u64 {
    let mut lines = text.lines();
    let cpus = lines.next().map_or(0, |h| h.split_whitespace().count());
    lines
        .filter(|l| l.trim_end().ends_with("-requests"))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(cpus)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::Count { counters } => {
            let mut counters = open_all(counters)?;
            let values = sample(&mut counters)?;
            for (c, (v, _)) in counters.iter().zip(values) {
                println!("{} {v}", c.spec);
            }
        }
        Cmd::Rate {
            warmup,
            seconds,
            busy,
            counters,
        } => {
            let mut counters = open_all(counters)?;
            std::thread::sleep(secs(warmup));
            let (io0, idle0) = (io_irqs(), idle_ticks());
            if busy {
                run_fifo()?;
            }
            let edge = |counters: &mut [Counter]| -> Result<Boundary, String> {
                if busy {
                    busy_boundary(counters)
                } else {
                    Ok(Boundary {
                        values: sample(counters)?,
                        idle: None,
                        moved: false,
                    })
                }
            };
            let start = edge(&mut counters)?;
            std::thread::sleep(secs(seconds));
            let end = edge(&mut counters)?;
            let (io1, idle1) = (io_irqs(), idle_ticks());
            let (before, after) = (&start.values, &end.values);
            match start.idle.zip(end.idle) {
                Some(((i0, t0), (i1, t1))) => {
                    let window = t1.duration_since(t0).as_nanos() as u64;
                    let busy_ns = window.saturating_sub(i1.saturating_sub(i0)).max(1);
                    for ((c, b), a) in counters.iter().zip(before).zip(after) {
                        let delta = a.0.saturating_sub(b.0);
                        let secs = busy_ns as f64 / 1e9;
                        println!("{} {delta} {secs:.6} {:.1}", c.spec, delta as f64 / secs);
                    }
                    print_rate("io-irqs", &io0, &io1);
                    println!("busy-ns {busy_ns} {window}");
                    let word = |b: &Boundary| if b.moved { "moved" } else { "still" };
                    println!("boundaries {} {}", word(&start), word(&end));
                }
                None => {
                    print_rates(&counters, before, after);
                    print_rate("io-irqs", &io0, &io1);
                    print_rate("idle-ticks", &idle0, &idle1);
                }
            }
        }
        Cmd::Inject {
            dev,
            src_mac,
            vrid,
            kind,
            warmup,
            seconds,
            counters,
        } => {
            let mut counters = open_all(counters)?;
            let injector = inject::Injector::open(&dev).map_err(|e| format!("{dev}: {e}"))?;
            let frame = match kind {
                FrameKind::Advert => {
                    inject::advert_frame(src_mac, [10, 0, 0, 2], vrid, [10, 0, 0, 1])
                }
                FrameKind::Lookalike => inject::lookalike_frame(src_mac, [10, 0, 0, 2]),
                FrameKind::Igmp => inject::igmp_report_frame(src_mac, [10, 0, 0, 2]),
            };
            let stop = Arc::new(AtomicBool::new(false));
            let sent = Arc::new(AtomicU64::new(0));
            let sender = {
                let (stop, sent) = (stop.clone(), sent.clone());
                std::thread::spawn(move || injector.run(&frame, &stop, &sent))
            };
            std::thread::sleep(secs(warmup));
            let (io0, idle0) = (io_irqs(), idle_ticks());
            let s0 = (sent.load(Ordering::Relaxed), Instant::now());
            let before = sample(&mut counters);
            std::thread::sleep(secs(seconds));
            let s1 = (sent.load(Ordering::Relaxed), Instant::now());
            let after = sample(&mut counters);
            let (io1, idle1) = (io_irqs(), idle_ticks());
            stop.store(true, Ordering::Relaxed);
            let errors = sender
                .join()
                .map_err(|_| "the sender thread panicked".to_string())?;
            let (before, after) = (before?, after?);
            let window = s1.1.duration_since(s0.1).as_secs_f64();
            let offered = s1.0 - s0.0;
            println!(
                "offered {offered} {window:.6} {:.1}",
                offered as f64 / window
            );
            print_rates(&counters, &before, &after);
            print_rate("io-irqs", &io0, &io1);
            print_rate("idle-ticks", &idle0, &idle1);
            if errors > 0 {
                eprintln!("mvv-bench inject: {errors} sendmmsg calls failed");
            }
        }
        Cmd::Report { raw, out_dir } => {
            let text =
                std::fs::read_to_string(&raw).map_err(|e| format!("{}: {e}", raw.display()))?;
            let raw = report::Raw::parse(&text)?;
            let rows: Vec<report::Row<'_>> = report::ROWS
                .iter()
                .map(|d| report::compute(&raw, d))
                .collect();
            let costs: Vec<cost::CostRow<'_>> =
                cost::COSTS.iter().map(|d| cost::compute(&raw, d)).collect();
            std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
            let md = report::markdown(&raw, &rows, &costs);
            let write = |name: &str, body: &str| {
                let p = out_dir.join(name);
                std::fs::write(&p, body).map_err(|e| format!("{}: {e}", p.display()))
            };
            write("results.md", &md)?;
            write("results.json", &report::json(&raw, &rows, &costs))?;
            write("cost.svg", &svg::cost(&raw, &costs))?;
            write("fanout.svg", &svg::fanout(&raw))?;
            print!("{md}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mvv-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn io_interrupts() {
        let text = "           CPU0       CPU1\n  0:  79  3  IO-APIC   2-edge      timer\n\
 36:  0  0  PCI-MSIX-0000:00:01.0   0-edge      virtio0-config\n\
 37:  4981  19  PCI-MSIX-0000:00:01.0   1-edge      virtio0-requests\n\
 25:  4  0  PCI-MSIX-0000:00:03.0   1-edge      virtio1-virtqueues\n\
LOC:  4725  4000  Local timer interrupts\n";
        assert_eq!(io_irqs_in(text), 5000);
        assert_eq!(io_irqs_in(""), 0);
        let stat = "cpu  100 5 200 3000 40 0 7 0 0 0\ncpu0 100 5 200 3000 40 0 7 0 0 0\n";
        assert_eq!(idle_ticks_in(stat), 3040);
        assert_eq!(idle_ticks_in(""), 0);
    }

    #[test]
    fn idle_nanoseconds() {
        let tl =
            "cpu: 0\n clock 0:\n  .get_softirq_time: 0 nsecs\n  .idle_sleeptime : 1000 nsecs\n  \
.iowait_sleeptime: 20 nsecs\n  .idle_calls     : 7\ncpu: 1\n  .idle_sleeptime : 300 nsecs\n  \
.iowait_sleeptime: 4 nsecs\n";
        assert_eq!(idle_ns_in(tl), Some(1324));
        assert_eq!(idle_ns_in("no such lines\n"), None);
    }

    #[test]
    fn macs() {
        assert_eq!(parse_mac("00:00:5e:00:01:0a"), Ok([0, 0, 0x5e, 0, 1, 10]));
        assert!(parse_mac("00:00:5e:00:01").is_err());
        assert!(parse_mac("00:00:5e:00:01:zz").is_err());
    }
}
