//! Raw netlink messages on any netlink protocol, over a blocking socket:
//! a message builder (fixed family header, attributes, nests), an attribute
//! (TLV) parser, and a socket that sends one request and collects its
//! replies. For families that netlink-packet-route does not model, or models
//! differently from what a caller must put on the wire (tc actions over
//! NETLINK_ROUTE, nftables objects over NETLINK_NETFILTER), and for callers
//! that must not start an async runtime or fork a tool between two samples.
//!
//! Everything is in host byte order except what the caller puts in a value.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use rtnetlink::packet_core::{
    NLA_F_NESTED, NLA_TYPE_MASK, NLMSG_DONE, NLMSG_ERROR, NLM_F_MULTIPART,
};

/// NLM_F_REQUEST, re-exported for the flags of [`MsgBuilder::new`].
pub use rtnetlink::packet_core::NLM_F_REQUEST;

use crate::link::RawNla;
use crate::nl::align4;

/// sizeof(struct nlmsghdr)
const NLMSG_HDRLEN: usize = 16;

/// Builds one netlink message: header, fixed family header (e.g. struct
/// tcamsg, struct nfgenmsg), attributes. Length and sequence number are
/// filled in by [`MsgBuilder::finish`].
pub struct MsgBuilder {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl MsgBuilder {
    /// A message of type `kind` with `flags` (NLM_F_*); the family header is
    /// padded to a multiple of 4 bytes.
    pub fn new(kind: u16, flags: u16, family_header: &[u8]) -> Self {
        let mut buf = vec![0u8; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(family_header);
        buf.resize(align4(buf.len()), 0);
        MsgBuilder {
            buf,
            nests: Vec::new(),
        }
    }

    /// One attribute with `value` as its payload, padded.
    pub fn attr(&mut self, kind: u16, value: &[u8]) -> &mut Self {
        self.buf
            .extend_from_slice(&RawNla::bytes(kind, value).encode());
        self
    }

    /// A NUL-terminated string attribute (NLA_NUL_STRING / NLA_STRING).
    pub fn attr_str(&mut self, kind: u16, value: &str) -> &mut Self {
        let mut v = value.as_bytes().to_vec();
        v.push(0);
        self.attr(kind, &v)
    }

    /// Opens a nested attribute (type `kind | NLA_F_NESTED`); what follows
    /// goes inside it until the matching [`MsgBuilder::end_nest`].
    pub fn begin_nest(&mut self, kind: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    /// Closes the innermost open nest, writing its length.
    ///
    /// # Panics
    /// If no nest is open.
    pub fn end_nest(&mut self) -> &mut Self {
        let start = self.nests.pop().expect("end_nest without begin_nest");
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// The message as it goes on the wire, with `seq` as its sequence
    /// number (nlmsg_pid stays 0: the kernel fills it in).
    ///
    /// # Panics
    /// If a nest is still open.
    pub fn finish(mut self, seq: u32) -> Vec<u8> {
        assert!(self.nests.is_empty(), "unclosed nest");
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

/// Iterates over the attributes in `bytes` as (type without the
/// NLA_F_NESTED / NLA_F_NET_BYTEORDER bits, value). Stops at the first
/// attribute whose length is impossible.
pub fn attrs(bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > rest.len() {
            return None;
        }
        let value = &rest[4..len];
        rest = rest.get(align4(len)..).unwrap_or(&[]);
        Some((kind, value))
    })
}

/// The value of the first attribute of type `kind` in `bytes`.
pub fn attr(bytes: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(bytes).find(|&(k, _)| k == kind).map(|(_, v)| v)
}

/// Walks the netlink messages of one received datagram, answering request
/// `seq`: appends to `out` the payload (after the netlink header) of each
/// message of type `reply_kind`, and says whether the answer is complete
/// (NLMSG_DONE, an ACK, or a reply without NLM_F_MULTIPART). Messages for
/// other sequence numbers are skipped; an NLMSG_ERROR with a non-zero code
/// becomes an `io::Error` with its errno.
fn take_replies(
    datagram: &[u8],
    seq: u32,
    reply_kind: u16,
    out: &mut Vec<Vec<u8>>,
) -> io::Result<bool> {
    let mut rest = datagram;
    let mut done = false;
    while rest.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        let flags = u16::from_ne_bytes([rest[6], rest[7]]);
        let rseq = u32::from_ne_bytes(rest[8..12].try_into().unwrap());
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "truncated netlink message",
            ));
        }
        let payload = &rest[NLMSG_HDRLEN..len];
        if rseq == seq {
            match kind {
                NLMSG_ERROR => {
                    let code = i32::from_ne_bytes(
                        payload.get(0..4).unwrap_or(&[0; 4]).try_into().unwrap(),
                    );
                    if code != 0 {
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                    done = true;
                }
                NLMSG_DONE => done = true,
                k if k == reply_kind => {
                    out.push(payload.to_vec());
                    // A non-multipart reply is the whole answer.
                    if flags & NLM_F_MULTIPART == 0 {
                        done = true;
                    }
                }
                _ => {}
            }
        }
        rest = rest.get(align4(len)..).unwrap_or(&[]);
    }
    Ok(done)
}

/// A blocking netlink socket of one protocol (NETLINK_ROUTE,
/// NETLINK_NETFILTER, ...), in the network namespace of the caller.
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
}

impl Socket {
    /// socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, `protocol`).
    pub fn open(protocol: i32) -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Socket { fd, seq: 1 })
    }

    /// Sends one request (with the next sequence number) to the kernel and
    /// returns the payloads (after the netlink header) of the replies of
    /// type `reply_kind`. A kernel error becomes an `io::Error` with its
    /// errno. Blocks until the answer is complete: a reply without
    /// NLM_F_MULTIPART, NLMSG_DONE, or an ACK; so a request that gets none
    /// of these must ask for NLM_F_ACK in its flags.
    pub fn request(&mut self, msg: MsgBuilder, reply_kind: u16) -> io::Result<Vec<Vec<u8>>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let req = msg.finish(seq);
        // SAFETY: sockaddr_nl is plain data; zero is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: req and addr outlive the call; lengths are theirs.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                req.as_ptr().cast(),
                req.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: buf is writable for its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if take_replies(&buf[..n as usize], seq, reply_kind, &mut out)? {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An nlmsghdr followed by `payload`, padded.
    fn nlmsg(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = ((NLMSG_HDRLEN + payload.len()) as u32)
            .to_ne_bytes()
            .to_vec();
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m.resize(align4(m.len()), 0);
        m
    }

    #[test]
    fn builder_and_parser_agree() {
        let mut m = MsgBuilder::new(50, NLM_F_REQUEST, &[0, 0, 0, 0]);
        m.begin_nest(1)
            .begin_nest(1)
            .attr_str(1, "gact")
            .attr(3, &100u32.to_ne_bytes())
            .end_nest()
            .end_nest();
        let bytes = m.finish(7);
        assert_eq!(
            u32::from_ne_bytes(bytes[0..4].try_into().unwrap()) as usize,
            bytes.len()
        );
        assert_eq!(u32::from_ne_bytes(bytes[8..12].try_into().unwrap()), 7);
        let body = &bytes[NLMSG_HDRLEN + 4..];
        let tab = attr(body, 1).unwrap();
        let one = attr(tab, 1).unwrap();
        assert_eq!(attr(one, 1).unwrap(), b"gact\0");
        assert_eq!(attr(one, 3).unwrap(), 100u32.to_ne_bytes());
        assert!(attr(one, 4).is_none());
    }

    #[test]
    fn builder_encoding_is_exact() {
        // A 2-byte family header is padded to 4; a 3-byte value to 4; nests
        // carry NLA_F_NESTED and their full length.
        let mut m = MsgBuilder::new(0x0a13, NLM_F_REQUEST, &[2, 0]);
        m.attr_str(1, "ab")
            .begin_nest(4)
            .attr(2, &[9, 8, 7, 6, 5])
            .end_nest();
        let b = m.finish(0x01020304);
        let mut want = Vec::new();
        want.extend_from_slice(&44u32.to_ne_bytes());
        want.extend_from_slice(&0x0a13u16.to_ne_bytes());
        want.extend_from_slice(&1u16.to_ne_bytes());
        want.extend_from_slice(&0x01020304u32.to_ne_bytes());
        want.extend_from_slice(&0u32.to_ne_bytes());
        want.extend_from_slice(&[2, 0, 0, 0]);
        want.extend_from_slice(&7u16.to_ne_bytes());
        want.extend_from_slice(&1u16.to_ne_bytes());
        want.extend_from_slice(b"ab\0\0");
        want.extend_from_slice(&16u16.to_ne_bytes());
        want.extend_from_slice(&0x8004u16.to_ne_bytes());
        want.extend_from_slice(&9u16.to_ne_bytes());
        want.extend_from_slice(&2u16.to_ne_bytes());
        want.extend_from_slice(&[9, 8, 7, 6, 5, 0, 0, 0]);
        assert_eq!(b, want);
    }

    #[test]
    #[should_panic(expected = "unclosed nest")]
    fn unclosed_nest_panics() {
        let mut m = MsgBuilder::new(1, NLM_F_REQUEST, &[]);
        m.begin_nest(1);
        m.finish(1);
    }

    #[test]
    fn parser_stops_on_garbage() {
        assert_eq!(attrs(&[0xff, 0xff, 1, 0]).count(), 0);
        assert_eq!(attrs(&[2, 0, 1, 0]).count(), 0);
        assert_eq!(attrs(&[]).count(), 0);
    }

    #[test]
    fn parser_masks_flags_and_skips_padding() {
        let mut b = RawNla::bytes(0x8001, &[1]).encode();
        b.extend(RawNla::bytes(2, &[2, 3]).encode());
        let all: Vec<_> = attrs(&b).collect();
        assert_eq!(all, vec![(1, &[1u8][..]), (2, &[2u8, 3][..])]);
    }

    #[test]
    fn replies_single_multipart_and_foreign() {
        let mut out = Vec::new();
        // A non-multipart reply completes the answer.
        let d = nlmsg(50, 0, 2, &[1, 2, 3, 4]);
        assert!(take_replies(&d, 2, 50, &mut out).unwrap());
        assert_eq!(out, vec![vec![1, 2, 3, 4]]);

        // Multipart replies wait for NLMSG_DONE; another seq and another
        // type are ignored.
        out.clear();
        let mut d = nlmsg(50, NLM_F_MULTIPART, 3, &[5; 4]);
        d.extend(nlmsg(50, NLM_F_MULTIPART, 9, &[6; 4]));
        d.extend(nlmsg(51, NLM_F_MULTIPART, 3, &[7; 4]));
        assert!(!take_replies(&d, 3, 50, &mut out).unwrap());
        assert!(take_replies(&nlmsg(NLMSG_DONE, 0, 3, &[0; 4]), 3, 50, &mut out).unwrap());
        assert_eq!(out, vec![vec![5; 4]]);
    }

    #[test]
    fn replies_errors() {
        let mut out = Vec::new();
        let nack = nlmsg(NLMSG_ERROR, 0, 4, &(-libc::ENOENT).to_ne_bytes());
        let e = take_replies(&nack, 4, 50, &mut out).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        // An ACK (error code 0) completes the answer.
        let ack = nlmsg(NLMSG_ERROR, 0, 4, &0i32.to_ne_bytes());
        assert!(take_replies(&ack, 4, 50, &mut out).unwrap());
        // A header claiming more than the datagram holds.
        let mut d = nlmsg(50, 0, 4, &[0; 4]);
        d[0] = 200;
        let e = take_replies(&d, 4, 50, &mut out).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(out.is_empty());
    }

    #[test]
    fn loopback_getlink_round_trip() {
        // RTM_GETLINK for ifindex 1 (lo), which every namespace has; skipped
        // where netlink sockets are not allowed.
        const RTM_NEWLINK: u16 = 16;
        const RTM_GETLINK: u16 = 18;
        const IFLA_IFNAME: u16 = 3;
        let Ok(mut sock) = Socket::open(libc::NETLINK_ROUTE) else {
            return;
        };
        // struct ifinfomsg: family, pad, type, index, flags, change
        let mut ifi = [0u8; 16];
        ifi[4..8].copy_from_slice(&1i32.to_ne_bytes());
        let replies = sock
            .request(
                MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST, &ifi),
                RTM_NEWLINK,
            )
            .unwrap();
        assert_eq!(replies.len(), 1);
        assert_eq!(attr(&replies[0][16..], IFLA_IFNAME), Some(&b"lo\0"[..]));
        // A second request gets its own sequence number and answer.
        ifi[4..8].copy_from_slice(&(-1i32).to_ne_bytes());
        let e = sock
            .request(
                MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST, &ifi),
                RTM_NEWLINK,
            )
            .unwrap_err();
        assert!(e.raw_os_error().is_some(), "{e}");
    }
}
