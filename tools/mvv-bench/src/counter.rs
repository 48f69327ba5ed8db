// SPDX-License-Identifier: GPL-2.0

//! In-kernel packet counters that do not belong to the driver under test:
//! a tc action (`tc:INDEX`, a gact action shared by every filter that counts
//! for a figure) and an nftables named counter (`nft:FAMILY:TABLE:NAME`).

use std::fmt;
use std::io;

use mvv_netlink::raw::{self, MsgBuilder, Socket, NLM_F_REQUEST};

// include/uapi/linux/rtnetlink.h, pkt_cls.h, gen_stats.h
const RTM_GETACTION: u16 = 50;
const TCA_ACT_TAB: u16 = 1;
const TCA_ACT_KIND: u16 = 1;
const TCA_ACT_INDEX: u16 = 3;
const TCA_ACT_STATS: u16 = 4;
const TCA_STATS_BASIC: u16 = 1;
const TCA_STATS_PKT64: u16 = 8;

// include/uapi/linux/netfilter/nfnetlink.h, nf_tables.h
const NETLINK_NETFILTER: i32 = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWOBJ: u16 = 18;
const NFT_MSG_GETOBJ: u16 = 19;
const NFTA_OBJ_TABLE: u16 = 1;
const NFTA_OBJ_NAME: u16 = 2;
const NFTA_OBJ_TYPE: u16 = 3;
const NFTA_OBJ_DATA: u16 = 4;
const NFT_OBJECT_COUNTER: u32 = 1;
const NFTA_COUNTER_PACKETS: u16 = 2;

/// Where a counter lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spec {
    /// A tc gact action by index.
    TcAction { index: u32 },
    /// An nftables named counter object.
    Nft {
        family: u8,
        table: String,
        name: String,
    },
}

impl Spec {
    pub fn parse(s: &str) -> Result<Spec, String> {
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            ["tc", index] => index
                .parse()
                .map(|index| Spec::TcAction { index })
                .map_err(|_| format!("{s}: tc:INDEX wants a number")),
            ["nft", family, table, name] => {
                let family = match *family {
                    "ip" => libc::NFPROTO_IPV4 as u8,
                    "ip6" => libc::NFPROTO_IPV6 as u8,
                    "inet" => libc::NFPROTO_INET as u8,
                    "netdev" => libc::NFPROTO_NETDEV as u8,
                    other => return Err(format!("{s}: unknown nft family {other}")),
                };
                Ok(Spec::Nft {
                    family,
                    table: table.to_string(),
                    name: name.to_string(),
                })
            }
            _ => Err(format!("{s}: expected tc:INDEX or nft:FAMILY:TABLE:NAME")),
        }
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spec::TcAction { index } => write!(f, "tc:{index}"),
            Spec::Nft {
                family,
                table,
                name,
            } => write!(f, "nft:{family}:{table}:{name}"),
        }
    }
}

/// An open counter: the spec and a socket to read it with.
pub struct Counter {
    pub spec: Spec,
    sock: Socket,
}

impl Counter {
    pub fn open(spec: Spec) -> io::Result<Self> {
        let proto = match spec {
            Spec::TcAction { .. } => libc::NETLINK_ROUTE,
            Spec::Nft { .. } => NETLINK_NETFILTER,
        };
        Ok(Counter {
            spec,
            sock: Socket::open(proto)?,
        })
    }

    /// The number of packets counted so far.
    pub fn read(&mut self) -> io::Result<u64> {
        match &self.spec {
            Spec::TcAction { index } => {
                let mut m = MsgBuilder::new(RTM_GETACTION, NLM_F_REQUEST, &[0u8; 4]);
                m.begin_nest(TCA_ACT_TAB)
                    .begin_nest(1)
                    .attr_str(TCA_ACT_KIND, "gact")
                    .attr(TCA_ACT_INDEX, &index.to_ne_bytes())
                    .end_nest()
                    .end_nest();
                let replies = self.sock.request(m, RTM_GETACTION)?;
                let reply = replies
                    .first()
                    .ok_or_else(|| invalid("no RTM_GETACTION reply"))?;
                tc_packets(reply.get(4..).unwrap_or(&[]))
                    .ok_or_else(|| invalid("no action stats in the reply"))
            }
            Spec::Nft {
                family,
                table,
                name,
            } => {
                let mut m = MsgBuilder::new(
                    NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETOBJ,
                    NLM_F_REQUEST,
                    &[*family, 0, 0, 0],
                );
                m.attr_str(NFTA_OBJ_TABLE, table)
                    .attr_str(NFTA_OBJ_NAME, name)
                    .attr(NFTA_OBJ_TYPE, &NFT_OBJECT_COUNTER.to_be_bytes());
                let replies = self
                    .sock
                    .request(m, NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWOBJ)?;
                let reply = replies
                    .first()
                    .ok_or_else(|| invalid("no NFT_MSG_NEWOBJ reply"))?;
                nft_packets(reply.get(4..).unwrap_or(&[]))
                    .ok_or_else(|| invalid("no counter data in the reply"))
            }
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Packets from the attributes of an RTM_GETACTION reply (after tcamsg).
fn tc_packets(body: &[u8]) -> Option<u64> {
    let tab = raw::attr(body, TCA_ACT_TAB)?;
    let (_, act) = raw::attrs(tab).next()?;
    let stats = raw::attr(act, TCA_ACT_STATS)?;
    if let Some(p64) = raw::attr(stats, TCA_STATS_PKT64) {
        return Some(u64::from_ne_bytes(p64.get(..8)?.try_into().ok()?));
    }
    // struct gnet_stats_basic { __u64 bytes; __u32 packets; }
    let basic = raw::attr(stats, TCA_STATS_BASIC)?;
    Some(u32::from_ne_bytes(basic.get(8..12)?.try_into().ok()?) as u64)
}

/// Packets from the attributes of an NFT_MSG_NEWOBJ reply (after nfgenmsg).
fn nft_packets(body: &[u8]) -> Option<u64> {
    let data = raw::attr(body, NFTA_OBJ_DATA)?;
    let p = raw::attr(data, NFTA_COUNTER_PACKETS)?;
    Some(u64::from_be_bytes(p.get(..8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mvv_netlink::link::RawNla;

    fn tlv(kind: u16, v: &[u8]) -> Vec<u8> {
        RawNla::bytes(kind, v).encode()
    }

    #[test]
    fn parses_specs() {
        assert_eq!(Spec::parse("tc:100"), Ok(Spec::TcAction { index: 100 }));
        assert_eq!(
            Spec::parse("nft:ip:mvvb:lower"),
            Ok(Spec::Nft {
                family: 2,
                table: "mvvb".into(),
                name: "lower".into()
            })
        );
        assert!(Spec::parse("tc:x").is_err());
        assert!(Spec::parse("nft:ipx:a:b").is_err());
        assert!(Spec::parse("foo").is_err());
    }

    #[test]
    fn tc_reply_basic_and_pkt64() {
        let mut basic = 1234u64.to_ne_bytes().to_vec();
        basic.extend_from_slice(&42u32.to_ne_bytes());
        basic.extend_from_slice(&[0; 4]);
        let stats = tlv(TCA_ACT_STATS, &tlv(TCA_STATS_BASIC, &basic));
        let mut act = tlv(TCA_ACT_KIND, b"gact\0");
        act.extend(stats);
        let body = tlv(TCA_ACT_TAB, &tlv(1, &act));
        assert_eq!(tc_packets(&body), Some(42));

        let mut s = tlv(TCA_STATS_BASIC, &basic);
        s.extend(tlv(TCA_STATS_PKT64, &(5u64 << 32).to_ne_bytes()));
        let body = tlv(TCA_ACT_TAB, &tlv(1, &tlv(TCA_ACT_STATS, &s)));
        assert_eq!(tc_packets(&body), Some(5u64 << 32));
    }

    #[test]
    fn nft_reply() {
        let mut data = tlv(1, &7u64.to_be_bytes());
        data.extend(tlv(NFTA_COUNTER_PACKETS, &99u64.to_be_bytes()));
        let mut body = tlv(NFTA_OBJ_TABLE, b"mvvb\0");
        body.extend(tlv(NFTA_OBJ_DATA, &data));
        assert_eq!(nft_packets(&body), Some(99));
    }
}
