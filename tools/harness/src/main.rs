//! mvv-harness: userspace netlink tests for the macvlan_vrrp kernel module.
//!
//! Runs inside the test VM as root, after the module has been insmod-ed.
//! Prints KTAP-like output ending in "N passed, N failed[, N skipped]".
//! Exit status: 0 no failure, 1 a test failed, 2 harness setup error.

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use mvv_harness::suites;
use mvv_harness::tap::Tap;
use mvv_harness::vty::{self, Watch};

#[derive(Parser)]
#[command(name = "mvv-harness", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Foundation suite: private mode, ARP, invalid mode, rx_handler, rmmod
    Foundation {
        /// Path to macvlan_vrrp.ko (re-inserted after the rmmod test)
        #[arg(long, value_name = "PATH")]
        module: PathBuf,
    },
    /// VRRP suite: the VyOS scenario (gw, switch, two routers, lan) in
    /// namespaces; where VRRP adverts land in VRRP, private and bridge mode,
    /// with our driver and the C one; ARP, NAT, failover
    Vrrp {
        /// Path to macvlan_vrrp.ko (re-inserted after the C driver checks)
        #[arg(long, value_name = "PATH")]
        module: PathBuf,
        /// The driver under test: ours, or the upstream series' patched C
        /// macvlan.ko (c-patched, which must be loaded already and is left
        /// loaded; the stock C driver's checks run either way)
        #[arg(long, value_enum, default_value = "ours")]
        driver: DriverArg,
        /// The patched C macvlan.ko (re-inserted after the stock C checks)
        #[arg(long, value_name = "PATH", required_if_eq("driver", "c-patched"))]
        c_module: Option<PathBuf>,
        /// Write each check's observations here (for vrrp-diff)
        #[arg(long, value_name = "PATH")]
        transcript: Option<PathBuf>,
    },
    /// Compare two vrrp transcripts (mvv-harness vrrp --transcript) check
    /// by check: the patched C driver's and ours, from one boot. Driver-
    /// specific observations are printed, not compared
    VrrpDiff {
        /// The patched C driver's transcript
        #[arg(long, value_name = "PATH")]
        c: PathBuf,
        /// Our driver's transcript
        #[arg(long, value_name = "PATH")]
        rust: PathBuf,
    },
    /// Parity suite: the same scenarios against the C macvlan.ko and ours in
    /// one boot (delivery matrix per mode, netlink attributes and errnos,
    /// faults, lifecycle), compared cell by cell
    Parity {
        /// Path to macvlan_vrrp.ko (inserted after the C driver's run)
        #[arg(long, value_name = "PATH")]
        module: PathBuf,
        /// Upper devices on one lower in the lifecycle check (make check
        /// runs 256; make check-full 4096)
        #[arg(long, value_name = "N", default_value_t = 4096)]
        uppers: usize,
    },
    /// Hostile suite: mutated IPv4 and IPv6 adverts (headers, lengths,
    /// options, fragments, truncation, VLAN tags, extension headers; half
    /// of them nonlinear) from a VRRP-mode upper's MAC; each lands where the
    /// userspace classifier and the receive-path model predict
    Hostile {
        /// Frames to send (make check: 100000; make check-full: 1000000)
        #[arg(long, value_name = "N", default_value_t = 25_000)]
        frames: u64,
        /// The stream's seed (decimal or 0x hex); the default is fixed
        #[arg(long, value_name = "SEED", value_parser = parse_seed)]
        seed: Option<u64>,
        /// The driver under test: ours, or the upstream series' patched C
        /// macvlan.ko (c-patched, loaded already; where frames land is
        /// checked, not the steering counters it does not have)
        #[arg(long, value_enum, default_value = "ours")]
        driver: DriverArg,
    },
    /// Fuzz suite: a seeded stream of create/change/delete/up/down
    /// requests for kind macvlan against the C macvlan.ko and against ours,
    /// each in a fresh namespace; errno and state compared after each
    Fuzz {
        /// Path to macvlan_vrrp.ko (inserted after the C driver's run)
        #[arg(long, value_name = "PATH")]
        module: PathBuf,
        /// Requests per driver (make check: 5000; make check-full: 200000)
        #[arg(long, value_name = "N", default_value_t = 20_000)]
        requests: usize,
        /// The stream's seed (decimal or 0x hex)
        #[arg(long, value_name = "SEED", value_parser = parse_seed, default_value = "0x66757a7a")]
        seed: u64,
        /// Allocation failures: fail every N-th allocation of each
        /// representative request (1: every one, make check-full)
        #[arg(long, value_name = "N", default_value_t = 1)]
        fault_stride: u32,
    },
    /// The fuzz suite's unprivileged run (started by `fuzz`, as root):
    /// drops to --uid, makes a user and a network namespace and runs the
    /// stream there, printing one line per answer
    #[command(hide = true)]
    FuzzUserns {
        #[arg(long)]
        requests: usize,
        #[arg(long, value_parser = parse_seed)]
        seed: u64,
        #[arg(long)]
        uid: u32,
    },
    /// Churn suite: for --seconds, while a peer namespace floods two lower
    /// devices (unicast to the uppers, ARP, broadcast, multicast, VRRP
    /// adverts from VMACs), a seeded random sequence creates and deletes
    /// uppers in every mode, switches modes, edits source lists, changes
    /// the lowers' MTU and MAC, brings devices up and down, moves them
    /// between namespaces, deletes lowers with uppers on them, and unloads
    /// and reloads the module; then a final rmmod, no macvlan and no
    /// rx_handler left, no kernel report, kmemleak clean
    Churn {
        /// Path to macvlan_vrrp.ko (re-inserted after each rmmod)
        #[arg(long, value_name = "PATH")]
        module: PathBuf,
        /// How long the churn runs (make check: 30; make check-full: 300)
        #[arg(long, value_name = "S", default_value_t = 30)]
        seconds: u64,
        /// The sequence's seed (decimal or 0x hex); the default is fixed
        #[arg(long, value_name = "SEED", value_parser = parse_seed)]
        seed: Option<u64>,
    },
    /// Print one failing TAP test and exit 1 (checks failure propagation)
    SelftestFail,
    /// Run a command on FRR daemons' vty sockets (as vtysh does) and print
    /// each one's output, or with --field one row's value per socket on one
    /// line ("?" where it is missing). With --until, --while or --never,
    /// poll the rows every --interval-ms for at most --seconds: print the
    /// last rows ("; " between commands), the samples and the milliseconds
    /// to the last, and exit 0 if the watch held, 1 if not
    Vty {
        /// A daemon's vty socket, e.g. DIR/vrrpd.vty (repeatable)
        #[arg(long, value_name = "PATH", required = true)]
        socket: Vec<PathBuf>,
        /// The command (repeatable with a watch)
        #[arg(long, required = true)]
        command: Vec<String>,
        /// The row whose value to print
        #[arg(long)]
        field: Option<String>,
        /// Wait until each command's row is this (one per command)
        #[arg(long, value_name = "ROW", requires = "field", conflicts_with_all = ["while_", "never"])]
        until: Vec<String>,
        /// Fail as soon as a command's row is not this (one per command)
        #[arg(
            long = "while",
            value_name = "ROW",
            requires = "field",
            conflicts_with = "never"
        )]
        while_: Vec<String>,
        /// Fail as soon as any command's row is this
        #[arg(long, value_name = "ROW", requires = "field")]
        never: Option<String>,
        /// Bound of a watch
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Time between a watch's samples
        #[arg(long, default_value_t = 200)]
        interval_ms: u64,
    },
    /// Send an Ethernet frame, given in hex, out of a device of this
    /// network namespace, --count times
    Send {
        /// The device
        #[arg(long)]
        dev: String,
        /// The whole frame, from the destination MAC, in hex
        #[arg(long)]
        hex: String,
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Accept TCP connections on --listen (in this network namespace) and
    /// answer each with --text and a newline, until killed
    TcpAnswer {
        #[arg(long, value_name = "ADDR:PORT")]
        listen: std::net::SocketAddr,
        #[arg(long)]
        text: String,
        /// A file to create once the socket listens
        #[arg(long, value_name = "PATH")]
        ready: Option<PathBuf>,
    },
    /// Follow /dev/kmsg into a log file until the kernel stops; print
    /// records containing an --alert string on stdout at once
    Kmsg {
        /// The log file (appended to)
        #[arg(long, value_name = "PATH")]
        log: PathBuf,
        /// A string that makes a record an alert (repeatable)
        #[arg(long, value_name = "TEXT")]
        alert: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = io::stdout();
    let code = match cli.cmd {
        Cmd::Vty {
            socket,
            command,
            field,
            until,
            while_,
            never,
            seconds,
            interval_ms,
        } => {
            let what = if !until.is_empty() {
                Some(Watch::Until(until))
            } else if !while_.is_empty() {
                Some(Watch::While(while_))
            } else {
                never.map(Watch::Never)
            };
            let rows_ok = match &what {
                Some(Watch::Until(r) | Watch::While(r)) => r.len() == command.len(),
                _ => true,
            };
            match (what, field) {
                _ if !rows_ok => {
                    eprintln!("mvv-harness vty: give one --until or --while row per --command");
                    2
                }
                (Some(w), Some(f)) => {
                    let (held, rows, samples, at) = vty::watch(
                        &socket,
                        &command,
                        &f,
                        &w,
                        Duration::from_millis(interval_ms),
                        Duration::from_secs_f64(seconds),
                    );
                    println!("{rows} ({samples} samples, {} ms)", at.as_millis());
                    if held {
                        0
                    } else {
                        1
                    }
                }
                (_, field) => {
                    let mut values = Vec::new();
                    for c in &command {
                        for s in &socket {
                            match (vty::command(s, c), &field) {
                                (Ok(out), None) => print!("{out}"),
                                (Ok(out), Some(f)) => {
                                    values.push(vty::field(&out, f).unwrap_or("?").to_string())
                                }
                                (Err(_), Some(_)) => values.push("?".into()),
                                (Err(e), None) => eprintln!("{}: {e}", s.display()),
                            }
                        }
                    }
                    if field.is_some() {
                        println!("{}", values.join(" "));
                    }
                    0
                }
            }
        }
        Cmd::Send { dev, hex, count } => match send_hex(&dev, &hex, count) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("mvv-harness send: {e:#}");
                1
            }
        },
        Cmd::TcpAnswer {
            listen,
            text,
            ready,
        } => match tcp_answer(listen, &text, ready.as_deref()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("mvv-harness tcp-answer: {e}");
                1
            }
        },
        Cmd::Kmsg { log, alert } => match mvv_harness::kmsg::follow(&log, &alert) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("mvv-harness kmsg: {e}");
                1
            }
        },
        Cmd::SelftestFail => {
            let mut tap = Tap::new(out.lock(), Some(suites::selftest::TESTS.len()));
            suites::selftest::run(&mut tap);
            tap.finish()
        }
        Cmd::Foundation { module } => {
            let mut tap = Tap::new(out.lock(), Some(suites::foundation::TESTS.len()));
            run_async(&mut tap, |tap| {
                Box::pin(async move { suites::foundation::run(tap, &module).await })
            });
            tap.finish()
        }
        Cmd::Vrrp {
            module,
            driver,
            c_module,
            transcript,
        } => {
            let subject = match (driver, c_module) {
                (DriverArg::CPatched, Some(c)) => suites::vrrp::Subject::CPatched(c),
                _ => suites::vrrp::Subject::Ours,
            };
            let mut tap = Tap::new(out.lock(), Some(suites::vrrp::TESTS.len()));
            run_async(&mut tap, |tap| {
                Box::pin(async move {
                    suites::vrrp::run(tap, &module, subject, transcript.as_deref()).await
                })
            });
            tap.finish()
        }
        Cmd::VrrpDiff { c, rust } => {
            let mut tap = Tap::new(out.lock(), Some(suites::vrrp::DIFF_TESTS));
            suites::vrrp::diff(&mut tap, &c, &rust);
            tap.finish()
        }
        Cmd::Hostile {
            frames,
            seed,
            driver,
        } => {
            let mut tap = Tap::new(out.lock(), Some(suites::hostile::TESTS.len()));
            let c = driver == DriverArg::CPatched;
            run_async(&mut tap, |tap| {
                Box::pin(async move { suites::hostile::run(tap, frames, seed, c).await })
            });
            tap.finish()
        }
        Cmd::Fuzz {
            module,
            requests,
            seed,
            fault_stride,
        } => {
            let mut tap = Tap::new(out.lock(), Some(suites::fuzz::TESTS.len()));
            suites::fuzz::run(&mut tap, &module, requests, seed, fault_stride);
            tap.finish()
        }
        Cmd::FuzzUserns {
            requests,
            seed,
            uid,
        } => match suites::fuzz::userns_child(requests, seed, uid) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("mvv-harness fuzz-userns: {e}");
                1
            }
        },
        Cmd::Churn {
            module,
            seconds,
            seed,
        } => {
            let mut tap = Tap::new(out.lock(), Some(suites::churn::TESTS.len()));
            run_async(&mut tap, |tap| {
                Box::pin(async move { suites::churn::run(tap, &module, seconds, seed).await })
            });
            tap.finish()
        }
        Cmd::Parity { module, uppers } => {
            // The number of checks depends on the differences found: the
            // plan is printed at the end.
            let mut tap = Tap::new(out.lock(), None);
            run_async(&mut tap, |tap| {
                Box::pin(async move { suites::parity::run(tap, &module, uppers).await })
            });
            tap.finish()
        }
    };
    ExitCode::from(code)
}

/// The driver a suite tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum DriverArg {
    /// macvlan_vrrp
    Ours,
    /// The upstream series' patched C macvlan.ko
    CPatched,
}

type SuiteFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;

/// Run an async suite on a current-thread runtime. A runtime failure or a
/// panic becomes a harness setup error; the count line is still printed by
/// the caller's `finish`.
fn run_async<W: Write>(
    tap: &mut Tap<W>,
    suite: impl for<'a> FnOnce(&'a mut Tap<W>) -> SuiteFuture<'a>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tap.setup_error(&format!("tokio runtime: {e}"));
            return;
        }
    };
    let r = panic::catch_unwind(AssertUnwindSafe(|| rt.block_on(suite(&mut *tap))));
    if let Err(p) = r {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        tap.setup_error(&format!("harness panicked: {msg}"));
    }
}

fn parse_seed(s: &str) -> Result<u64, String> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("{s:?}: {e}"))
}

fn send_hex(dev: &str, hex: &str, count: u32) -> anyhow::Result<()> {
    if !hex.is_ascii() || hex.len() % 2 != 0 {
        anyhow::bail!("--hex must be an even number of hex digits");
    }
    let frame = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()?;
    let sender = mvv_harness::capture::PacketSender::open_here(dev)?;
    for _ in 0..count {
        sender.send(&frame)?;
    }
    Ok(())
}

fn tcp_answer(
    listen: std::net::SocketAddr,
    text: &str,
    ready: Option<&std::path::Path>,
) -> io::Result<()> {
    let listener = std::net::TcpListener::bind(listen)?;
    if let Some(path) = ready {
        std::fs::write(path, b"")?;
    }
    // A failed accept or write is the client's problem, not ours: skip it.
    for mut c in listener.incoming().flatten() {
        let _ = writeln!(c, "{text}");
    }
    Ok(())
}
