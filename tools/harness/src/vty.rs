//! A client of FRR daemons' vty sockets, as `vtysh` talks to them: the
//! command and a NUL go in; the output comes back ended by three NULs and a
//! status byte. The FRR suite reads the daemons' state this way, several
//! daemons in one process, because each `vtysh` start costs over a second
//! under TCG with the debug kernel.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

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
