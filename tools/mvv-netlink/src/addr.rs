//! IPv4 addresses, the default route and the neighbour table over
//! rtnetlink.

use std::net::{IpAddr, Ipv4Addr};

use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};
use rtnetlink::packet_route::route::RouteMessage;
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::nl::{Nl, NlError};

/// One address as reported by RTM_GETADDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr {
    pub index: u32,
    pub addr: IpAddr,
    pub prefix_len: u8,
}

/// One neighbour entry as reported by RTM_GETNEIGH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neigh {
    pub index: u32,
    pub dst: Option<IpAddr>,
    pub lladdr: Option<Vec<u8>>,
    pub state: NeighbourState,
}

impl Neigh {
    /// Resolved, in use or being re-confirmed: not INCOMPLETE, FAILED, NONE.
    pub fn is_resolved(&self) -> bool {
        matches!(
            self.state,
            NeighbourState::Reachable
                | NeighbourState::Stale
                | NeighbourState::Delay
                | NeighbourState::Probe
        )
    }
}

pub fn state_name(s: &NeighbourState) -> String {
    match s {
        NeighbourState::Incomplete => "INCOMPLETE".into(),
        NeighbourState::Reachable => "REACHABLE".into(),
        NeighbourState::Stale => "STALE".into(),
        NeighbourState::Delay => "DELAY".into(),
        NeighbourState::Probe => "PROBE".into(),
        NeighbourState::Failed => "FAILED".into(),
        NeighbourState::Noarp => "NOARP".into(),
        NeighbourState::Permanent => "PERMANENT".into(),
        NeighbourState::None => "NONE".into(),
        other => format!("{other:?}"),
    }
}

pub use crate::vrrp::fmt_mac;

/// RTM_NEWADDR body for `ip addr add <ip>/<prefix> dev <index>`.
pub fn addr4_msg(index: u32, ip: Ipv4Addr, prefix_len: u8) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.prefix_len = prefix_len;
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(IpAddr::V4(ip)));
    m.attributes.push(AddressAttribute::Address(IpAddr::V4(ip)));
    m
}

/// RTM_DELNEIGH body for `ip neigh del <ip> dev <index>`.
pub fn neigh4_msg(index: u32, ip: Ipv4Addr) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.ifindex = index;
    m.attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)));
    m
}

/// RTM_NEWROUTE body for `ip route add default via <gw>` (main table).
pub fn route4_default_msg(gw: Ipv4Addr) -> RouteMessage {
    rtnetlink::RouteMessageBuilder::<Ipv4Addr>::new()
        .gateway(gw)
        .build()
}

impl Nl {
    /// `ip route add default via <gw>`.
    pub async fn route4_add_default(&self, gw: Ipv4Addr) -> Result<(), NlError> {
        self.ack(
            RouteNetlinkMessage::NewRoute(route4_default_msg(gw)),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .await
    }

    /// `ip neigh del <ip> dev <index>`; a missing entry is not an error.
    pub async fn neigh4_del(&self, index: u32, ip: Ipv4Addr) -> Result<(), NlError> {
        match self
            .ack(RouteNetlinkMessage::DelNeighbour(neigh4_msg(index, ip)), 0)
            .await
        {
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(()),
            r => r,
        }
    }

    /// `ip addr del <ip>/<prefix> dev <index>`.
    pub async fn addr4_del(&self, index: u32, ip: Ipv4Addr, prefix_len: u8) -> Result<(), NlError> {
        self.ack(
            RouteNetlinkMessage::DelAddress(addr4_msg(index, ip, prefix_len)),
            0,
        )
        .await
    }

    pub async fn addr4_add(&self, index: u32, ip: Ipv4Addr, prefix_len: u8) -> Result<(), NlError> {
        self.ack(
            RouteNetlinkMessage::NewAddress(addr4_msg(index, ip, prefix_len)),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .await
    }

    /// IPv4 addresses, optionally only those on `index`.
    pub async fn addr4_dump(&self, index: Option<u32>) -> Result<Vec<Addr>, NlError> {
        let mut req = AddressMessage::default();
        req.header.family = AddressFamily::Inet;
        let replies = self.dump(RouteNetlinkMessage::GetAddress(req)).await?;
        let mut out = Vec::new();
        for r in replies {
            let RouteNetlinkMessage::NewAddress(m) = r else {
                continue;
            };
            if m.header.family != AddressFamily::Inet {
                continue;
            }
            if index.is_some_and(|i| i != m.header.index) {
                continue;
            }
            // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the
            // peer on point-to-point links.
            let mut local = None;
            let mut address = None;
            for a in &m.attributes {
                match a {
                    AddressAttribute::Local(ip) => local = Some(*ip),
                    AddressAttribute::Address(ip) => address = Some(*ip),
                    _ => {}
                }
            }
            if let Some(addr) = local.or(address) {
                out.push(Addr {
                    index: m.header.index,
                    addr,
                    prefix_len: m.header.prefix_len,
                });
            }
        }
        Ok(out)
    }

    /// IPv4 neighbour entries, optionally only those on `index`.
    pub async fn neigh4_dump(&self, index: Option<u32>) -> Result<Vec<Neigh>, NlError> {
        let mut req = NeighbourMessage::default();
        req.header.family = AddressFamily::Inet;
        let replies = self.dump(RouteNetlinkMessage::GetNeighbour(req)).await?;
        let mut out = Vec::new();
        for r in replies {
            let RouteNetlinkMessage::NewNeighbour(m) = r else {
                continue;
            };
            if index.is_some_and(|i| i != m.header.ifindex) {
                continue;
            }
            let mut n = Neigh {
                index: m.header.ifindex,
                dst: None,
                lladdr: None,
                state: m.header.state,
            };
            for a in m.attributes {
                match a {
                    NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => {
                        n.dst = Some(IpAddr::V4(ip))
                    }
                    NeighbourAttribute::Destination(NeighbourAddress::Inet6(ip)) => {
                        n.dst = Some(IpAddr::V6(ip))
                    }
                    NeighbourAttribute::LinkLayerAddress(l) => n.lladdr = Some(l),
                    _ => {}
                }
            }
            out.push(n);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::packet_core::Emitable;

    #[test]
    fn addr4_encoding() {
        let m = addr4_msg(5, Ipv4Addr::new(10, 11, 0, 2), 24);
        let mut b = vec![0u8; m.buffer_len()];
        m.emit(&mut b);
        // struct ifaddrmsg: family, prefixlen, flags, scope, index
        assert_eq!(b[0], libc::AF_INET as u8);
        assert_eq!(b[1], 24);
        assert_eq!(u32::from_ne_bytes(b[4..8].try_into().unwrap()), 5);
        // IFA_LOCAL (2) then IFA_ADDRESS (1), each 8 bytes.
        let nla_hdr = |kind: u16| [8u16.to_ne_bytes(), kind.to_ne_bytes()].concat();
        assert_eq!(b[8..12], nla_hdr(2)[..]);
        assert_eq!(b[12..16], [10, 11, 0, 2]);
        assert_eq!(b[16..20], nla_hdr(1)[..]);
        assert_eq!(b[20..24], [10, 11, 0, 2]);
    }

    #[test]
    fn default_route_encoding() {
        let m = route4_default_msg(Ipv4Addr::new(10, 0, 0, 1));
        let mut b = vec![0u8; m.buffer_len()];
        m.emit(&mut b);
        // struct rtmsg: family, dst_len, src_len, tos, table, protocol,
        // scope, type, flags
        assert_eq!(b[0], libc::AF_INET as u8);
        assert_eq!(b[1], 0, "default route: dst_len 0");
        assert_eq!(b[4], 254, "main table");
        assert_eq!(b[7], 1, "RTN_UNICAST");
        // RTA_GATEWAY (5) somewhere in the attributes.
        let gw = [8u16.to_ne_bytes(), 5u16.to_ne_bytes()].concat();
        let at = b
            .windows(4)
            .position(|w| w == &gw[..])
            .expect("RTA_GATEWAY");
        assert_eq!(b[at + 4..at + 8], [10, 0, 0, 1]);
    }

    #[test]
    fn neigh_del_encoding() {
        let m = neigh4_msg(7, Ipv4Addr::new(192, 168, 1, 254));
        let mut b = vec![0u8; m.buffer_len()];
        m.emit(&mut b);
        // struct ndmsg: family, pad, pad, ifindex, state, flags, type
        assert_eq!(b[0], libc::AF_INET as u8);
        assert_eq!(u32::from_ne_bytes(b[4..8].try_into().unwrap()), 7);
        // NDA_DST (1)
        let nla = [8u16.to_ne_bytes(), 1u16.to_ne_bytes()].concat();
        assert_eq!(b[12..16], nla[..]);
        assert_eq!(b[16..20], [192, 168, 1, 254]);
    }

    #[test]
    fn neigh_states() {
        let mut n = Neigh {
            index: 1,
            dst: None,
            lladdr: None,
            state: NeighbourState::Stale,
        };
        assert!(n.is_resolved());
        for s in [
            NeighbourState::Failed,
            NeighbourState::Incomplete,
            NeighbourState::None,
        ] {
            n.state = s;
            assert!(!n.is_resolved(), "{}", state_name(&n.state));
        }
        assert_eq!(fmt_mac(&[0, 0x1b, 0xff]), "00:1b:ff");
    }
}
