//! Links over rtnetlink: veth, bridge and macvlan create / change / get /
//! delete. Macvlan attributes are sent raw (`IFLA_MACVLAN_*` type + bytes),
//! so any mode value, valid or not (e.g. MACVLAN_MODE_VRRP = 32, or 3), can
//! be put on the wire exactly.

use std::os::fd::{AsRawFd, BorrowedFd};

use rtnetlink::packet_core::{DefaultNla, Nla, NLM_F_CREATE, NLM_F_EXCL};
use rtnetlink::packet_route::link::{
    InfoBridge, InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
    Stats64,
};
use rtnetlink::packet_route::RouteNetlinkMessage;

use crate::nl::{Nl, NlError};

/// include/uapi/linux/if_link.h: IFLA_MACVLAN_*
pub mod ifla_macvlan {
    pub const MODE: u16 = 1;
    pub const FLAGS: u16 = 2;
    pub const MACADDR_MODE: u16 = 3;
    pub const MACADDR: u16 = 4;
    pub const MACADDR_DATA: u16 = 5;
    pub const MACADDR_COUNT: u16 = 6;
    pub const BC_QUEUE_LEN: u16 = 7;
    pub const BC_QUEUE_LEN_USED: u16 = 8;
    pub const BC_CUTOFF: u16 = 9;
}

/// enum macvlan_mode, plus this project's VRRP mode.
pub mod macvlan_mode {
    pub const PRIVATE: u32 = 1;
    pub const VEPA: u32 = 2;
    pub const BRIDGE: u32 = 4;
    pub const PASSTHRU: u32 = 8;
    pub const SOURCE: u32 = 16;
    pub const VRRP: u32 = 32;

    /// Every mode with its name as `ip -d link show` prints it, plus
    /// "vrrp", which `ip` does not know.
    pub const NAMES: &[(u32, &str)] = &[
        (PRIVATE, "private"),
        (VEPA, "vepa"),
        (BRIDGE, "bridge"),
        (PASSTHRU, "passthru"),
        (SOURCE, "source"),
        (VRRP, "vrrp"),
    ];

    /// The name of a mode value, if it is one.
    pub fn name(mode: u32) -> Option<&'static str> {
        NAMES.iter().find(|(m, _)| *m == mode).map(|(_, n)| *n)
    }

    /// The mode value of a name (lower case, as `ip` spells them).
    pub fn from_name(name: &str) -> Option<u32> {
        NAMES.iter().find(|(_, n)| *n == name).map(|(m, _)| *m)
    }

    /// "vrrp (32)", or "unknown (3)".
    pub fn describe(mode: u32) -> String {
        format!("{} ({mode})", name(mode).unwrap_or("unknown"))
    }
}

/// One raw netlink attribute (type and payload, host byte order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawNla {
    pub kind: u16,
    pub value: Vec<u8>,
}

impl RawNla {
    pub fn u32(kind: u16, v: u32) -> Self {
        RawNla {
            kind,
            value: v.to_ne_bytes().to_vec(),
        }
    }
    pub fn u16(kind: u16, v: u16) -> Self {
        RawNla {
            kind,
            value: v.to_ne_bytes().to_vec(),
        }
    }
    pub fn bytes(kind: u16, v: &[u8]) -> Self {
        RawNla {
            kind,
            value: v.to_vec(),
        }
    }
    /// IFLA_MACVLAN_MODE with any value.
    pub fn macvlan_mode(mode: u32) -> Self {
        Self::u32(ifla_macvlan::MODE, mode)
    }
    /// The attribute as it goes on the wire: length, type, value, padding
    /// to a multiple of 4 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(8 + self.value.len());
        b.extend_from_slice(&((4 + self.value.len()) as u16).to_ne_bytes());
        b.extend_from_slice(&self.kind.to_ne_bytes());
        b.extend_from_slice(&self.value);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b
    }
}

fn macvlan_info(attrs: &[RawNla]) -> LinkAttribute {
    let data = InfoData::MacVlan(
        attrs
            .iter()
            .map(|a| InfoMacVlan::Other(DefaultNla::new(a.kind, a.value.clone())))
            .collect(),
    );
    LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::MacVlan),
        LinkInfo::Data(data),
    ])
}

/// RTM_NEWLINK body for `ip link add <name> link <lower> type macvlan ...`.
pub fn macvlan_msg(name: &str, lower: u32, attrs: &[RawNla]) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    m.attributes.push(LinkAttribute::Link(lower));
    if attrs.is_empty() {
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::MacVlan,
            )]));
    } else {
        m.attributes.push(macvlan_info(attrs));
    }
    m
}

/// Adds IFLA_ADDRESS (the link-layer address) to a link message.
pub fn with_address(mut m: LinkMessage, mac: &[u8]) -> LinkMessage {
    m.attributes.push(LinkAttribute::Address(mac.to_vec()));
    m
}

/// RTM_NEWLINK body (without NLM_F_CREATE) for `ip link set <index> type
/// macvlan ...`, i.e. changelink.
pub fn macvlan_change_msg(index: u32, attrs: &[RawNla]) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.attributes.push(macvlan_info(attrs));
    m
}

/// `ip link add <name> type veth peer name <peer>`, both in the socket's netns.
pub fn veth_msg(name: &str, peer: &str) -> LinkMessage {
    rtnetlink::LinkVeth::new(name, peer).build()
}

/// `ip link add <name> type bridge` (created up).
pub fn bridge_msg(name: &str) -> LinkMessage {
    rtnetlink::LinkBridge::new(name).build()
}

/// A bridge (created up) with multicast snooping off, so that it floods
/// every multicast frame like a dumb switch, whether or not a querier or
/// MLD/IGMP reports were seen.
pub fn bridge_nosnoop_msg(name: &str) -> LinkMessage {
    rtnetlink::LinkBridge::new(name)
        .append_info_data(InfoBridge::MulticastSnooping(false))
        .build()
}

fn index_msg(index: u32) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m
}

/// IFF_UP on or off.
pub fn updown_msg(index: u32, up: bool) -> LinkMessage {
    let mut m = index_msg(index);
    if up {
        m.header.flags = LinkFlags::Up;
    }
    m.header.change_mask = LinkFlags::Up;
    m
}

/// IFLA_MTU.
pub fn mtu_msg(index: u32, mtu: u32) -> LinkMessage {
    let mut m = index_msg(index);
    m.attributes.push(LinkAttribute::Mtu(mtu));
    m
}

/// IFLA_ADDRESS: the link-layer address (`ip link set X address M`).
pub fn address_msg(index: u32, mac: &[u8]) -> LinkMessage {
    with_address(index_msg(index), mac)
}

/// IFLA_MASTER = master (0 releases).
pub fn master_msg(index: u32, master: u32) -> LinkMessage {
    let mut m = index_msg(index);
    m.attributes.push(LinkAttribute::Controller(master));
    m
}

/// IFLA_NET_NS_FD: move the link into the namespace behind `fd`.
pub fn netns_msg(index: u32, fd: BorrowedFd<'_>) -> LinkMessage {
    let mut m = index_msg(index);
    m.attributes.push(LinkAttribute::NetNsFd(fd.as_raw_fd()));
    m
}

/// IFLA_NET_NS_FD plus IFLA_IFNAME: move the link into the namespace behind
/// `fd` and give it `new_name` there (`ip link set X netns N name Y`).
pub fn netns_rename_msg(index: u32, fd: BorrowedFd<'_>, new_name: &str) -> LinkMessage {
    let mut m = netns_msg(index, fd);
    m.attributes
        .push(LinkAttribute::IfName(new_name.to_string()));
    m
}

/// What the harness reads back from RTM_GETLINK.
#[derive(Debug, Clone)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub flags: LinkFlags,
    /// IFLA_LINK
    pub link: Option<u32>,
    /// IFLA_MASTER
    pub master: Option<u32>,
    /// IFLA_INFO_KIND
    pub kind: Option<String>,
    pub address: Option<Vec<u8>>,
    /// IFLA_INFO_DATA when the kind is macvlan.
    pub macvlan: Vec<InfoMacVlan>,
    pub raw: LinkMessage,
}

impl Link {
    pub fn from_msg(m: LinkMessage) -> Link {
        let mut l = Link {
            index: m.header.index,
            name: String::new(),
            flags: m.header.flags,
            link: None,
            master: None,
            kind: None,
            address: None,
            macvlan: Vec::new(),
            raw: m.clone(),
        };
        for a in m.attributes {
            match a {
                LinkAttribute::IfName(n) => l.name = n,
                LinkAttribute::Link(i) => l.link = Some(i),
                LinkAttribute::Controller(i) => l.master = Some(i),
                LinkAttribute::Address(a) => l.address = Some(a),
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        match i {
                            LinkInfo::Kind(k) => l.kind = Some(k.to_string()),
                            LinkInfo::Data(InfoData::MacVlan(v)) => l.macvlan = v,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        l
    }

    /// IFLA_MACVLAN_MODE as a number.
    pub fn macvlan_mode(&self) -> Option<u32> {
        self.macvlan.iter().find_map(|a| match a {
            InfoMacVlan::Mode(m) => Some(u32::from(*m)),
            InfoMacVlan::Other(n) if n.kind() == ifla_macvlan::MODE => {
                let mut v = vec![0u8; n.value_len()];
                n.emit_value(&mut v);
                v.get(..4)
                    .map(|b| u32::from_ne_bytes(b.try_into().unwrap()))
            }
            _ => None,
        })
    }

    pub fn is_up(&self) -> bool {
        self.flags.contains(LinkFlags::Up)
    }

    /// IFLA_LINK_NETNSID: set when the lower device lives in another
    /// namespace, where IFLA_LINK is an index.
    pub fn link_netnsid(&self) -> Option<i32> {
        self.raw.attributes.iter().find_map(|a| match a {
            LinkAttribute::LinkNetNsId(id) => Some(*id),
            _ => None,
        })
    }

    /// IFLA_STATS64 (the counters `ip -s link` prints).
    pub fn stats64(&self) -> Option<Stats64> {
        self.raw.attributes.iter().find_map(|a| match a {
            LinkAttribute::Stats64(s) => Some(*s),
            _ => None,
        })
    }
}

impl Nl {
    /// RTM_NEWLINK with NLM_F_CREATE | NLM_F_EXCL.
    pub async fn link_add(&self, m: LinkMessage) -> Result<(), NlError> {
        self.ack(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
            .await
    }

    /// RTM_NEWLINK on an existing link (changelink).
    pub async fn link_change(&self, m: LinkMessage) -> Result<(), NlError> {
        self.ack(RouteNetlinkMessage::NewLink(m), 0).await
    }

    /// RTM_SETLINK.
    pub async fn link_set(&self, m: LinkMessage) -> Result<(), NlError> {
        self.ack(RouteNetlinkMessage::SetLink(m), 0).await
    }

    /// RTM_DELLINK by index.
    pub async fn link_del(&self, index: u32) -> Result<(), NlError> {
        self.ack(RouteNetlinkMessage::DelLink(index_msg(index)), 0)
            .await
    }

    async fn link_get(&self, m: LinkMessage) -> Result<Option<Link>, NlError> {
        match self.request(RouteNetlinkMessage::GetLink(m), 0).await {
            Ok(replies) => {
                for r in replies {
                    if let RouteNetlinkMessage::NewLink(l) = r {
                        return Ok(Some(Link::from_msg(l)));
                    }
                }
                Err(NlError::Transport(
                    "RTM_GETLINK: no RTM_NEWLINK in reply".into(),
                ))
            }
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// RTM_GETLINK by name; `None` if there is no such link (ENODEV).
    pub async fn link_by_name(&self, name: &str) -> Result<Option<Link>, NlError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        self.link_get(m).await
    }

    /// RTM_GETLINK by index; `None` if there is no such link (ENODEV).
    pub async fn link_by_index(&self, index: u32) -> Result<Option<Link>, NlError> {
        self.link_get(index_msg(index)).await
    }

    /// Like [`Nl::link_by_name`] but a missing link is an error.
    pub async fn link_required(&self, name: &str) -> Result<Link, NlError> {
        self.link_by_name(name)
            .await?
            .ok_or_else(|| NlError::Kernel {
                errno: libc::ENODEV,
                ext: Default::default(),
            })
    }

    /// All links (RTM_GETLINK dump).
    pub async fn link_dump(&self) -> Result<Vec<Link>, NlError> {
        let replies = self
            .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))
            .await?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(Link::from_msg(l)),
                _ => None,
            })
            .collect())
    }

    pub async fn link_up(&self, index: u32) -> Result<(), NlError> {
        self.link_set(updown_msg(index, true)).await
    }

    pub async fn link_down(&self, index: u32) -> Result<(), NlError> {
        self.link_set(updown_msg(index, false)).await
    }

    pub async fn set_master(&self, index: u32, master: u32) -> Result<(), NlError> {
        self.link_set(master_msg(index, master)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::packet_core::Emitable;
    use rtnetlink::packet_core::Parseable;
    use std::os::fd::AsFd;

    fn emit(m: &LinkMessage) -> Vec<u8> {
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf);
        buf
    }

    /// Find the first attribute of `kind` in a flat NLA stream.
    fn find(mut b: &[u8], kind: u16) -> Option<Vec<u8>> {
        while b.len() >= 4 {
            let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
            let k = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
            if len < 4 || len > b.len() {
                return None;
            }
            if k == kind {
                return Some(b[4..len].to_vec());
            }
            let step = (len + 3) & !3;
            if step >= b.len() {
                return None;
            }
            b = &b[step..];
        }
        None
    }

    const IFINFOMSG_LEN: usize = 16;
    const IFLA_IFNAME: u16 = 3;
    const IFLA_LINK: u16 = 5;
    const IFLA_MASTER: u16 = 10;
    const IFLA_LINKINFO: u16 = 18;
    const IFLA_INFO_KIND: u16 = 1;
    const IFLA_INFO_DATA: u16 = 2;

    fn macvlan_data(bytes: &[u8]) -> Vec<u8> {
        let attrs = &bytes[IFINFOMSG_LEN..];
        let linkinfo = find(attrs, IFLA_LINKINFO).expect("IFLA_LINKINFO");
        assert_eq!(find(&linkinfo, IFLA_INFO_KIND).unwrap(), b"macvlan\0");
        find(&linkinfo, IFLA_INFO_DATA).expect("IFLA_INFO_DATA")
    }

    #[test]
    fn raw_nla_encoding_is_padded() {
        let b = RawNla::bytes(7, &[1, 2, 3, 4, 5]).encode();
        let mut want = 9u16.to_ne_bytes().to_vec();
        want.extend_from_slice(&7u16.to_ne_bytes());
        want.extend_from_slice(&[1, 2, 3, 4, 5, 0, 0, 0]);
        assert_eq!(b, want);
    }

    #[test]
    fn macvlan_vrrp_mode_is_encoded_raw() {
        let m = macvlan_msg("mv0", 7, &[RawNla::macvlan_mode(macvlan_mode::VRRP)]);
        let b = emit(&m);
        let attrs = &b[IFINFOMSG_LEN..];
        assert_eq!(find(attrs, IFLA_IFNAME).unwrap(), b"mv0\0");
        assert_eq!(find(attrs, IFLA_LINK).unwrap(), 7u32.to_ne_bytes());
        let data = macvlan_data(&b);
        // Exactly one attribute: len 8, type 1, value 32.
        let mut want = Vec::new();
        want.extend_from_slice(&8u16.to_ne_bytes());
        want.extend_from_slice(&1u16.to_ne_bytes());
        want.extend_from_slice(&32u32.to_ne_bytes());
        assert_eq!(data, want);
    }

    #[test]
    fn invalid_mode_and_extra_attrs_go_out_unchanged() {
        let m = macvlan_msg(
            "mvbad",
            2,
            &[
                RawNla::macvlan_mode(3),
                RawNla::u16(ifla_macvlan::FLAGS, 0xbeef),
                RawNla::bytes(99, &[1, 2, 3]),
            ],
        );
        let data = macvlan_data(&emit(&m));
        assert_eq!(find(&data, ifla_macvlan::MODE).unwrap(), 3u32.to_ne_bytes());
        assert_eq!(
            find(&data, ifla_macvlan::FLAGS).unwrap(),
            0xbeefu16.to_ne_bytes()
        );
        assert_eq!(find(&data, 99).unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn macvlan_without_attrs_has_kind_only() {
        let b = emit(&macvlan_msg("mv0", 2, &[]));
        let linkinfo = find(&b[IFINFOMSG_LEN..], IFLA_LINKINFO).unwrap();
        assert_eq!(find(&linkinfo, IFLA_INFO_KIND).unwrap(), b"macvlan\0");
        assert!(find(&linkinfo, IFLA_INFO_DATA).is_none());
    }

    #[test]
    fn master_and_updown() {
        let b = emit(&master_msg(4, 9));
        assert_eq!(u32::from_ne_bytes(b[4..8].try_into().unwrap()), 4);
        assert_eq!(
            find(&b[IFINFOMSG_LEN..], IFLA_MASTER).unwrap(),
            9u32.to_ne_bytes()
        );
        let b = emit(&updown_msg(4, true));
        // ifi_flags at 8, ifi_change at 12; IFF_UP = 1.
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 1);
        assert_eq!(u32::from_ne_bytes(b[12..16].try_into().unwrap()), 1);
        let b = emit(&updown_msg(4, false));
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 0);
        assert_eq!(u32::from_ne_bytes(b[12..16].try_into().unwrap()), 1);
    }

    #[test]
    fn mode_names_round_trip() {
        for (m, n) in macvlan_mode::NAMES {
            assert_eq!(macvlan_mode::name(*m), Some(*n));
            assert_eq!(macvlan_mode::from_name(n), Some(*m));
        }
        assert_eq!(macvlan_mode::from_name("vrrp"), Some(32));
        assert_eq!(macvlan_mode::from_name("private"), Some(1));
        assert_eq!(macvlan_mode::from_name("bridge"), Some(4));
        assert_eq!(macvlan_mode::from_name("vepa"), Some(2));
        assert_eq!(macvlan_mode::name(32), Some("vrrp"));
        assert_eq!(macvlan_mode::name(3), None);
        assert_eq!(macvlan_mode::name(0), None);
        assert_eq!(macvlan_mode::from_name("VRRP"), None);
        assert_eq!(macvlan_mode::from_name(""), None);
        assert_eq!(macvlan_mode::describe(32), "vrrp (32)");
        assert_eq!(macvlan_mode::describe(3), "unknown (3)");
    }

    #[test]
    fn address_and_rename_attrs() {
        let m = with_address(macvlan_msg("v", 2, &[]), &[0, 0, 0x5e, 0, 1, 10]);
        let b = emit(&m);
        assert_eq!(
            find(&b[IFINFOMSG_LEN..], 1).unwrap(),
            vec![0, 0, 0x5e, 0, 1, 10]
        );
        let f = std::fs::File::open("/dev/null").unwrap();
        let b = emit(&netns_rename_msg(5, f.as_fd(), "eth0"));
        assert_eq!(find(&b[IFINFOMSG_LEN..], IFLA_IFNAME).unwrap(), b"eth0\0");
        assert_eq!(u32::from_ne_bytes(b[4..8].try_into().unwrap()), 5);
    }

    #[test]
    fn bridge_without_snooping() {
        const IFLA_BR_MCAST_SNOOPING: u16 = 23;
        let b = emit(&bridge_nosnoop_msg("br0"));
        let linkinfo = find(&b[IFINFOMSG_LEN..], IFLA_LINKINFO).unwrap();
        assert_eq!(find(&linkinfo, IFLA_INFO_KIND).unwrap(), b"bridge\0");
        let data = find(&linkinfo, IFLA_INFO_DATA).unwrap();
        assert_eq!(find(&data, IFLA_BR_MCAST_SNOOPING).unwrap(), vec![0]);
    }

    #[test]
    fn getlink_reply_round_trip() {
        // What the kernel would report for a VRRP-mode macvlan.
        let m = macvlan_msg("mv0", 7, &[RawNla::macvlan_mode(macvlan_mode::VRRP)]);
        let b = emit(&m);
        let parsed = LinkMessage::parse(&b[..]).unwrap();
        let l = Link::from_msg(parsed);
        assert_eq!(l.name, "mv0");
        assert_eq!(l.link, Some(7));
        assert_eq!(l.kind.as_deref(), Some("macvlan"));
        assert_eq!(l.macvlan_mode(), Some(macvlan_mode::VRRP));

        let l = Link::from_msg(m);
        assert_eq!(l.macvlan_mode(), Some(macvlan_mode::VRRP));
    }
}
