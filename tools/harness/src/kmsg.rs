//! A continuous reader of the kernel log (`/dev/kmsg`), started first in the
//! VM, so that a report printed early in a run is not lost when the ring
//! buffer wraps before the end-of-run check reads it.
//!
//! Each record becomes one line `[seconds.micros] text` in the log file
//! (continuation lines of a record, which `/dev/kmsg` prints indented, are
//! dropped: they repeat the record's device keys). Records that contain one
//! of the alert strings are also printed on stdout at once, prefixed with
//! `MVV-KMSG-ALERT: `, so that the host sees them while the guest may be
//! stuck (a leaked device reference leaves `rmmod` in an uninterruptible
//! sleep). A gap in the sequence numbers (the reader fell behind and the
//! kernel overwrote records) is written as a `mvv-kmsg: N records lost`
//! line, which the suite counts as a failure: what was lost was not checked.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

/// The prefix of an alert line on stdout.
pub const ALERT_PREFIX: &str = "MVV-KMSG-ALERT: ";

/// One `/dev/kmsg` record: `prio,seq,usec,flags;text`.
#[derive(Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub seq: u64,
    pub usec: u64,
    pub text: &'a str,
}

/// Parses the first line of one record as `/dev/kmsg` returns it.
pub fn parse_record(raw: &str) -> Option<Record<'_>> {
    let first = raw.lines().next()?;
    let (head, text) = first.split_once(';')?;
    let mut fields = head.split(',');
    let _prio = fields.next()?;
    let seq = fields.next()?.parse().ok()?;
    let usec = fields.next()?.parse().ok()?;
    Some(Record { seq, usec, text })
}

/// The log line for a record, in dmesg's `[   12.345678] text` form.
pub fn log_line(r: &Record<'_>) -> String {
    format!(
        "[{:5}.{:06}] {}",
        r.usec / 1_000_000,
        r.usec % 1_000_000,
        r.text
    )
}

/// Reads `/dev/kmsg` until it fails, appending to `log`. Never returns
/// while the kernel runs.
pub fn follow(log: &Path, alerts: &[String]) -> io::Result<()> {
    let mut kmsg = File::open("/dev/kmsg")?;
    let mut out = OpenOptions::new().create(true).append(true).open(log)?;
    let stdout = io::stdout();
    // One read returns one record; records are at most about 1 KiB of text
    // plus the dictionary.
    let mut buf = vec![0u8; 16 * 1024];
    let mut next_seq: Option<u64> = None;
    loop {
        let n = match kmsg.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            // EPIPE: records were overwritten before we read them; the next
            // read returns the oldest record still there.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let raw = String::from_utf8_lossy(&buf[..n]);
        let Some(rec) = parse_record(&raw) else {
            continue;
        };
        if let Some(want) = next_seq {
            if rec.seq > want {
                writeln!(out, "mvv-kmsg: {} records lost", rec.seq - want)?;
            }
        }
        next_seq = Some(rec.seq + 1);
        let line = log_line(&rec);
        writeln!(out, "{line}")?;
        if alerts.iter().any(|a| rec.text.contains(a.as_str())) {
            let mut o = stdout.lock();
            let _ = writeln!(o, "{ALERT_PREFIX}{line}");
            let _ = o.flush();
        }
    }
}

/// Written to the kernel log (by [`mark`]) when a suite starts and stops
/// injecting allocation failures. Between the two, the reports that an
/// injected failure prints are expected (see [`drop_injected_fault_traces`]).
pub const FAULTS_ON: &str = "mvv-fault-injection: on";
/// See [`FAULTS_ON`].
pub const FAULTS_OFF: &str = "mvv-fault-injection: off";

/// The first line of a report that an injected allocation failure prints:
/// fault injection's own (`fail_dump`), and `warn_alloc`'s, which a failed
/// allocation deeper down prints (kvmalloc falling back to vmalloc).
const FAULT_HEADERS: &[&str] = &[
    "FAULT_INJECTION: forcing a failure",
    ": vmalloc error: size",
    " page allocation failure: order:",
];

/// What ref_tracker prints when it cannot allocate a tracker (the object's
/// references are then counted, not tracked): inside the window, dropped.
const TRACKER_ALLOC_FAILED: &str = "ref_tracker: memory allocation failure";

/// Writes `text` to the kernel log (`/dev/kmsg`, at KERN_NOTICE).
pub fn mark(text: &str) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")?
        .write_all(format!("<5>{text}\n").as_bytes())
}

/// The kernel log's lines (record texts, with or without the `[time] `
/// prefix) minus the `Call Trace:` lines of the reports that injected
/// allocation failures print: only between [`FAULTS_ON`] and
/// [`FAULTS_OFF`], and only from a report header of [`FAULT_HEADERS`] to
/// the end of its stack dump (`</TASK>`). Every other line is kept, so a
/// real report (`WARNING:`, `BUG:`, `KASAN:`, ...) printed inside the
/// window, even inside a fault's stack dump, is still seen. The same rule
/// as `mvv_drop_injected_faults` in tests/vm/lib.sh.
pub fn drop_injected_fault_traces<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut window = false;
    let mut in_fault = false;
    let mut out = Vec::new();
    for line in lines {
        let text = strip_time(line);
        if text.contains(FAULTS_ON) {
            window = true;
        } else if text.contains(FAULTS_OFF) {
            window = false;
            in_fault = false;
        } else if window && FAULT_HEADERS.iter().any(|h| text.contains(h)) {
            in_fault = true;
        } else if in_fault && text.trim() == "</TASK>" {
            in_fault = false;
        } else if (in_fault && text.trim() == "Call Trace:")
            || (window && text.starts_with(TRACKER_ALLOC_FAILED))
        {
            continue;
        }
        out.push(line);
    }
    out
}

/// A log line's text without dmesg's `[ seconds.micros] ` prefix.
fn strip_time(line: &str) -> &str {
    if line.starts_with('[') {
        if let Some((_, rest)) = line.split_once("] ") {
            return rest;
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_record_and_drops_its_dictionary() {
        let raw = "6,1234,5678901,-;veth0: entered promiscuous mode\n SUBSYSTEM=net\n";
        let r = parse_record(raw).unwrap();
        assert_eq!(
            r,
            Record {
                seq: 1234,
                usec: 5678901,
                text: "veth0: entered promiscuous mode"
            }
        );
        assert_eq!(
            log_line(&r),
            "[    5.678901] veth0: entered promiscuous mode"
        );
    }

    #[test]
    fn rejects_what_is_not_a_record() {
        assert_eq!(parse_record(""), None);
        assert_eq!(parse_record("no separator"), None);
        assert_eq!(parse_record("6,x,1,-;text"), None);
    }

    #[test]
    fn text_may_contain_semicolons() {
        let r = parse_record("4,1,2,c;a;b").unwrap();
        assert_eq!(r.text, "a;b");
    }

    #[test]
    fn injected_fault_traces_are_dropped_only_in_the_window() {
        let log = [
            "[    1.0] Call Trace:",
            "[    2.0] mvv-fault-injection: on",
            "[    2.1] FAULT_INJECTION: forcing a failure.\\x0aname failslab, interval 1",
            "[    2.1] CPU: 0 UID: 0 PID: 90 Comm: mvv-harness Not tainted 6.12.118 #1",
            "[    2.1] Call Trace:",
            "[    2.1]  <TASK>",
            "[    2.1]  dump_stack_lvl+0x5d/0x80",
            "[    2.1]  </TASK>",
            "[    2.2] Call Trace:",
            "[    2.3] mvv-harness: vmalloc error: size 8192, vm_struct allocation failed",
            "[    2.3] Call Trace:",
            "[    2.3] WARNING: CPU: 1 PID: 7 at net/core/dev.c:1 x+0x1/0x2",
            "[    2.3]  </TASK>",
            "[    2.35] ref_tracker: memory allocation failure, unreliable refcount tracker.",
            "[    2.4] mvv-fault-injection: off",
            "[    2.45] ref_tracker: memory allocation failure, unreliable refcount tracker.",
            "[    2.5] FAULT_INJECTION: forcing a failure.",
            "[    2.5] Call Trace:",
        ];
        let kept = drop_injected_fault_traces(log);
        let traces: Vec<&str> = kept
            .iter()
            .copied()
            .filter(|l| {
                l.contains("Call Trace:") || l.contains("WARNING:") || l.contains("ref_tracker")
            })
            .collect();
        assert_eq!(
            traces,
            [
                "[    1.0] Call Trace:",
                "[    2.2] Call Trace:",
                "[    2.3] WARNING: CPU: 1 PID: 7 at net/core/dev.c:1 x+0x1/0x2",
                "[    2.45] ref_tracker: memory allocation failure, unreliable refcount tracker.",
                "[    2.5] Call Trace:",
            ]
        );
    }
}
