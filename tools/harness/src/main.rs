//! mvv-harness: userspace netlink tests for the macvlan_vrrp kernel module.
//!
//! Runs inside the test VM as root, after the module has been insmod-ed.
//! Prints KTAP-like output ending in "N passed, N failed[, N skipped]".
//! Exit status: 0 no failure, 1 a test failed, 2 harness setup error.

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use mvv_harness::suites;
use mvv_harness::tap::Tap;

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
    /// Print one failing TAP test and exit 1 (checks failure propagation)
    SelftestFail,
    /// Run a command on FRR daemons' vty sockets (as vtysh does) and print
    /// each one's output, or with --field one row's value per socket on one
    /// line ("?" where it is missing)
    Vty {
        /// A daemon's vty socket, e.g. DIR/vrrpd.vty (repeatable)
        #[arg(long, value_name = "PATH", required = true)]
        socket: Vec<PathBuf>,
        /// The command
        #[arg(long)]
        command: String,
        /// The row whose value to print
        #[arg(long)]
        field: Option<String>,
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
        } => {
            let mut values = Vec::new();
            for s in &socket {
                match (mvv_harness::vty::command(s, &command), &field) {
                    (Ok(out), None) => print!("{out}"),
                    (Ok(out), Some(f)) => {
                        values.push(mvv_harness::vty::field(&out, f).unwrap_or("?").to_string())
                    }
                    (Err(_), Some(_)) => values.push("?".into()),
                    (Err(e), None) => eprintln!("{}: {e}", s.display()),
                }
            }
            if field.is_some() {
                println!("{}", values.join(" "));
            }
            0
        }
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
        Cmd::Vrrp { module } => {
            let mut tap = Tap::new(out.lock(), Some(suites::vrrp::TESTS.len()));
            run_async(&mut tap, |tap| {
                Box::pin(async move { suites::vrrp::run(tap, &module).await })
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
