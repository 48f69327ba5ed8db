//! nftables through the `nft` binary, run inside a namespace: load a
//! ruleset, read named counters back.

use std::io::Write;
use std::process::Stdio;

use crate::kmod::{run, Run};
use crate::netns::Netns;

/// `nft -f -` with `ruleset` on stdin, inside `ns`.
pub fn load(ns: &Netns, ruleset: &str) -> Result<(), String> {
    let mut cmd = ns.command("nft");
    cmd.args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("running nft in {}: {e}", ns.name()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(ruleset.as_bytes())
            .map_err(|e| format!("writing the ruleset to nft: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for nft: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "nft -f in {}: {}: {}{}",
            ns.name(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Packets and bytes of a named counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}

/// Reads "packets N bytes M" out of `nft list counter ...` output.
pub fn parse_counter(text: &str) -> Option<Counter> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "packets")?;
    let packets = words.get(at + 1)?.parse().ok()?;
    let bytes = match words.get(at + 2) {
        Some(&"bytes") => words.get(at + 3)?.parse().ok()?,
        _ => return None,
    };
    Some(Counter { packets, bytes })
}

/// `nft list counter <family> <table> <name>` inside `ns`.
pub fn counter(ns: &Netns, family: &str, table: &str, name: &str) -> Result<Counter, String> {
    let mut cmd = ns.command("nft");
    cmd.args(["list", "counter", family, table, name]);
    let r: Run = run(&mut cmd);
    if !r.success {
        return Err(format!(
            "nft list counter {family} {table} {name} in {}: {}",
            ns.name(),
            r.summary()
        ));
    }
    parse_counter(&r.output).ok_or_else(|| {
        format!(
            "no \"packets N bytes M\" in nft output for counter {name}: {}",
            r.output.trim()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nft_counter_listing() {
        let out = "table inet mvv {\n\tcounter in_v10 {\n\t\tpackets 12 bytes 1008\n\t}\n}\n";
        assert_eq!(
            parse_counter(out),
            Some(Counter {
                packets: 12,
                bytes: 1008
            })
        );
        assert_eq!(parse_counter("table inet mvv {\n}\n"), None);
        assert_eq!(parse_counter("packets x bytes 1"), None);
        assert_eq!(parse_counter("packets 1"), None);
    }
}
