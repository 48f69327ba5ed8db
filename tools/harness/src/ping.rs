//! iputils `ping` run as a child inside a namespace.

use std::net::Ipv4Addr;

use crate::kmod::{run, Run};
use crate::netns::Netns;

#[derive(Debug)]
pub struct PingResult {
    pub transmitted: Option<u32>,
    pub received: Option<u32>,
    pub run: Run,
}

impl PingResult {
    pub fn replies(&self) -> u32 {
        self.received.unwrap_or(0)
    }

    /// "2/3 replies" (or what is known).
    pub fn ratio(&self) -> String {
        match (self.received, self.transmitted) {
            (Some(r), Some(t)) => format!("{r}/{t} replies"),
            _ => format!("no ping summary ({})", self.run.summary()),
        }
    }

    /// The summary line of ping's output, for a diagnostic.
    pub fn summary_line(&self) -> Option<&str> {
        self.run
            .output
            .lines()
            .find(|l| l.contains("packets transmitted"))
    }
}

/// Parse "3 packets transmitted, 2 received, ..." into (transmitted, received).
pub fn parse_summary(output: &str) -> (Option<u32>, Option<u32>) {
    for line in output.lines() {
        if !line.contains("packets transmitted") {
            continue;
        }
        let mut tx = None;
        let mut rx = None;
        for part in line.split(',') {
            let mut words = part.split_whitespace();
            let n = words.next().and_then(|w| w.parse::<u32>().ok());
            match words.next() {
                Some("packets") => tx = n,
                Some("received") => rx = n,
                _ => {}
            }
        }
        return (tx, rx);
    }
    (None, None)
}

/// `ping -c <count> -W 2 -i 0.3 <dst>` inside `ns`.
pub fn ping(ns: &Netns, dst: Ipv4Addr, count: u32) -> PingResult {
    let mut cmd = ns.command("ping");
    cmd.args([
        "-c",
        &count.to_string(),
        "-W",
        "2",
        "-i",
        "0.3",
        &dst.to_string(),
    ]);
    let run = run(&mut cmd);
    let (transmitted, received) = parse_summary(&run.output);
    PingResult {
        transmitted,
        received,
        run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iputils_summaries() {
        let ok = "PING 10.11.0.2 (10.11.0.2) 56(84) bytes of data.\n\
                  64 bytes from 10.11.0.2: icmp_seq=1 ttl=64 time=0.1 ms\n\n\
                  --- 10.11.0.2 ping statistics ---\n\
                  3 packets transmitted, 3 received, 0% packet loss, time 601ms\n\
                  rtt min/avg/max/mdev = 0.05/0.07/0.1/0.02 ms\n";
        assert_eq!(parse_summary(ok), (Some(3), Some(3)));
        let bad = "--- 10.11.0.2 ping statistics ---\n\
                   3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 2040ms\n";
        assert_eq!(parse_summary(bad), (Some(3), Some(0)));
        assert_eq!(
            parse_summary("ping: connect: Network is unreachable\n"),
            (None, None)
        );
    }
}
