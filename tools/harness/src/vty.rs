//! A client of FRR daemons' vty sockets, as `vtysh` talks to them: the
//! command and a NUL go in; the output comes back ended by three NULs and a
//! status byte. The FRR suite reads the daemons' state this way, several
//! daemons in one process, because each `vtysh` start costs over a second
//! under TCG with the debug kernel.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Runs `command` on the daemon behind `socket` (`<dir>/<daemon>.vty`) and
/// returns its output.
pub fn command(socket: &Path, command: &str) -> io::Result<String> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(command.as_bytes())?;
    s.write_all(&[0])?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the vty before the end marker",
            ));
        }
        out.extend_from_slice(&buf[..n]);
        if let Some(text) = strip_end_marker(&out) {
            return Ok(String::from_utf8_lossy(text).into_owned());
        }
    }
}

/// The output without its end marker (three NULs and a status byte), once
/// the marker has arrived.
fn strip_end_marker(out: &[u8]) -> Option<&[u8]> {
    let n = out.len();
    (n >= 4 && out[n - 4..n - 1] == [0, 0, 0]).then(|| &out[..n - 4])
}

/// The value of a `show` output row `label`, its last word. FRR pads each
/// label to a column, so the label is followed by at least two spaces.
pub fn field<'a>(output: &'a str, label: &str) -> Option<&'a str> {
    output.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix(label)?;
        rest.starts_with("  ")
            .then(|| rest.split_whitespace().last())?
    })
}

/// One row of values: `label`'s value from each socket, `?` where the
/// daemon did not answer or has no such row, joined by spaces.
pub fn row(sockets: &[PathBuf], command: &str, label: &str) -> String {
    sockets
        .iter()
        .map(|s| match self::command(s, command) {
            Ok(out) => field(&out, label).unwrap_or("?").to_string(),
            Err(_) => "?".to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a [`watch`] waits for.
#[derive(Clone, Debug)]
pub enum Watch {
    /// Until every command's row is its entry (one per command).
    Until(Vec<String>),
    /// Fails as soon as a command's row is not its entry.
    While(Vec<String>),
    /// Fails as soon as any command's row is this.
    Never(String),
}

/// Polls the rows of `commands` every `interval` for at most `limit` (one
/// process instead of one per sample: a process start costs a few hundred
/// milliseconds under TCG with the debug kernel). Returns whether the watch
/// held, the last rows ("; " between commands), the samples taken and the
/// time of the last one.
pub fn watch(
    sockets: &[PathBuf],
    commands: &[String],
    label: &str,
    what: &Watch,
    interval: Duration,
    limit: Duration,
) -> (bool, String, usize, Duration) {
    let start = Instant::now();
    let mut samples = 0;
    loop {
        let rows: Vec<String> = commands.iter().map(|c| row(sockets, c, label)).collect();
        samples += 1;
        let elapsed = start.elapsed();
        let text = rows.join("; ");
        let done = match what {
            Watch::Until(want) => rows == *want,
            Watch::While(want) => rows != *want,
            Watch::Never(bad) => rows.iter().any(|r| r == bad),
        };
        if done {
            return (matches!(what, Watch::Until(_)), text, samples, elapsed);
        }
        if elapsed + interval > limit {
            return (!matches!(what, Watch::Until(_)), text, samples, elapsed);
        }
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_marker() {
        assert_eq!(strip_end_marker(b"abc"), None);
        assert_eq!(strip_end_marker(b"abc\0\0\0\0"), Some(&b"abc"[..]));
        assert_eq!(strip_end_marker(b"\0\0\0\x01"), Some(&b""[..]));
    }

    #[test]
    fn fields() {
        let out = " Virtual Router ID                       10                  \n \
                   Status (v4)                             Master              \n \
                   Status (v6)                             Initialize          \n \
                   Advertisements Rx (v4)                  17                  \n";
        assert_eq!(field(out, "Status (v4)"), Some("Master"));
        assert_eq!(field(out, "Advertisements Rx (v4)"), Some("17"));
        assert_eq!(field(out, "Status"), None);
        assert_eq!(field(out, "Advertisements Rx"), None);
        assert_eq!(field(out, "Priority"), None);
    }
}
