//! A thin rtnetlink request layer: one socket (in whatever netns it was
//! created in), NETLINK_EXT_ACK on, kernel errors returned with their errno
//! and extended-ack message, and every request bounded by a timeout.

use std::fmt;
use std::time::Duration;

use futures::StreamExt;
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::AsyncSocket;

/// No kernel request in this harness legitimately takes this long; a reply
/// that never comes (or one netlink-packet-route cannot decode and drops)
/// must not hang the VM run.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The bound on one request, in milliseconds: [`REQUEST_TIMEOUT`] unless a
/// program sets another with [`set_request_timeout`].
static TIMEOUT_MS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(REQUEST_TIMEOUT.as_millis() as u64);

/// Bounds every later request of this process by `d` instead of
/// [`REQUEST_TIMEOUT`] (for requests that may legitimately take longer,
/// such as one that makes the kernel run modprobe on a loaded machine).
pub fn set_request_timeout(d: Duration) {
    TIMEOUT_MS.store(d.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
}

fn request_timeout() -> Duration {
    Duration::from_millis(TIMEOUT_MS.load(std::sync::atomic::Ordering::Relaxed))
}

// include/uapi/linux/netlink.h: enum nlmsgerr_attrs
pub const NLMSGERR_ATTR_MSG: u16 = 1;
pub const NLMSGERR_ATTR_OFFS: u16 = 2;
pub const NLMSGERR_ATTR_COOKIE: u16 = 3;
pub const NLMSGERR_ATTR_POLICY: u16 = 4;
pub const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;
pub const NLMSGERR_ATTR_MISS_NEST: u16 = 6;

const NLMSG_HDRLEN: usize = 16;

/// The decoded extended-ack TLVs of an NLMSG_ERROR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtAck {
    pub msg: Option<String>,
    pub offset: Option<u32>,
    pub miss_type: Option<u32>,
}

/// Parse the payload of an NLMSG_ERROR after its 4-byte error code, i.e. the
/// echoed request (`capped`: header only, as with NETLINK_CAP_ACK) followed
/// by the NLMSGERR_ATTR_* TLVs.
pub fn parse_ext_ack(after_code: &[u8], capped: bool) -> ExtAck {
    let mut ack = ExtAck::default();
    if after_code.len() < NLMSG_HDRLEN {
        return ack;
    }
    let start = if capped {
        NLMSG_HDRLEN
    } else {
        let len = u32::from_ne_bytes(after_code[0..4].try_into().unwrap()) as usize;
        align4(len.max(NLMSG_HDRLEN))
    };
    let mut rest = match after_code.get(start..) {
        Some(r) => r,
        None => return ack,
    };
    while rest.len() >= 4 {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            break;
        }
        let value = &rest[4..len];
        match kind {
            NLMSGERR_ATTR_MSG => {
                let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                ack.msg = Some(String::from_utf8_lossy(&value[..end]).into_owned());
            }
            NLMSGERR_ATTR_OFFS if value.len() >= 4 => {
                ack.offset = Some(u32::from_ne_bytes(value[..4].try_into().unwrap()));
            }
            NLMSGERR_ATTR_MISS_TYPE if value.len() >= 4 => {
                ack.miss_type = Some(u32::from_ne_bytes(value[..4].try_into().unwrap()));
            }
            _ => {}
        }
        let step = align4(len);
        if step >= rest.len() {
            break;
        }
        rest = &rest[step..];
    }
    ack
}

pub fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NlError {
    /// The kernel answered with NLMSG_ERROR.
    Kernel { errno: i32, ext: ExtAck },
    /// No answer, a closed connection, or an unexpected reply.
    Transport(String),
}

impl NlError {
    pub fn errno(&self) -> Option<i32> {
        match self {
            NlError::Kernel { errno, .. } => Some(*errno),
            NlError::Transport(_) => None,
        }
    }

    pub fn ext_msg(&self) -> Option<&str> {
        match self {
            NlError::Kernel { ext, .. } => ext.msg.as_deref(),
            NlError::Transport(_) => None,
        }
    }
}

impl fmt::Display for NlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NlError::Kernel { errno, ext } => {
                write!(f, "{} ({})", errno_name(*errno), strerror(*errno))?;
                if let Some(m) = &ext.msg {
                    write!(f, ", extack \"{m}\"")?;
                }
                if let Some(o) = ext.offset {
                    write!(f, ", bad attribute at offset {o}")?;
                }
                if let Some(t) = ext.miss_type {
                    write!(f, ", missing attribute type {t}")?;
                }
                Ok(())
            }
            NlError::Transport(s) => write!(f, "netlink transport error: {s}"),
        }
    }
}

impl std::error::Error for NlError {}

pub fn strerror(errno: i32) -> String {
    std::io::Error::from_raw_os_error(errno).to_string()
}

/// Symbolic name for the errnos this harness expects to see.
pub fn errno_name(errno: i32) -> String {
    let s = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::ENOMEM => "ENOMEM",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ERANGE => "ERANGE",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ELOOP => "ELOOP",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        _ => return format!("errno {errno}"),
    };
    s.to_string()
}

/// One rtnetlink socket. Cloning shares the socket.
#[derive(Clone)]
pub struct Nl {
    handle: rtnetlink::Handle,
    /// Where the socket lives, for messages.
    pub netns: String,
}

/// Keeps the connection task alive; dropping it aborts the task and so closes
/// the socket (a socket holds a reference on its netns).
pub struct NlTask(tokio::task::JoinHandle<()>);

impl Drop for NlTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Nl {
    /// Open a NETLINK_ROUTE socket in the calling thread's current netns and
    /// spawn its connection task on the current tokio runtime.
    pub fn open_here(netns: &str) -> std::io::Result<(Nl, NlTask)> {
        let (mut conn, handle, _messages) = rtnetlink::new_connection()?;
        let sock = conn.socket_mut().socket_mut();
        sock.set_ext_ack(true)?;
        // Echo only the request header in errors, so the TLVs start at a
        // fixed offset (see parse_ext_ack).
        sock.set_cap_ack(true)?;
        let task = tokio::spawn(conn);
        Ok((
            Nl {
                handle,
                netns: netns.to_string(),
            },
            NlTask(task),
        ))
    }

    /// Send one request and collect the inner replies until the kernel says
    /// it is done. `flags` are ORed into NLM_F_REQUEST.
    pub async fn request(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = NLM_F_REQUEST | flags;
        let mut handle = self.handle.clone();
        let fut = async move {
            let mut stream = handle
                .request(req)
                .map_err(|e| NlError::Transport(e.to_string()))?;
            let mut out = Vec::new();
            while let Some(reply) = stream.next().await {
                match reply.payload {
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    NetlinkPayload::Error(e) => {
                        if let Some(code) = e.code {
                            return Err(NlError::Kernel {
                                errno: code.get().abs(),
                                ext: parse_ext_ack(&e.header, true),
                            });
                        }
                    }
                    NetlinkPayload::Done(_) | NetlinkPayload::Noop => {}
                    other => return Err(NlError::Transport(format!("unexpected reply {other:?}"))),
                }
            }
            Ok(out)
        };
        let bound = request_timeout();
        match tokio::time::timeout(bound, fut).await {
            Ok(r) => r,
            Err(_) => Err(NlError::Transport(format!(
                "no complete reply within {}s (kernel silent, or a reply \
                 netlink-packet-route could not decode and dropped)",
                bound.as_secs()
            ))),
        }
    }

    /// A request that only expects an ACK (or an error).
    pub async fn ack(&self, msg: RouteNetlinkMessage, flags: u16) -> Result<(), NlError> {
        self.request(msg, NLM_F_ACK | flags).await.map(|_| ())
    }

    /// A dump request.
    pub async fn dump(
        &self,
        msg: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        self.request(msg, NLM_F_DUMP).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        crate::link::RawNla::bytes(kind, value).encode()
    }

    fn hdr(len: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&len.to_ne_bytes());
        h.extend_from_slice(&16u16.to_ne_bytes()); // RTM_NEWLINK
        h.extend_from_slice(&0x605u16.to_ne_bytes());
        h.extend_from_slice(&7u32.to_ne_bytes());
        h.extend_from_slice(&0u32.to_ne_bytes());
        h
    }

    #[test]
    fn ext_ack_capped() {
        let mut p = hdr(64);
        p.extend(nla(NLMSGERR_ATTR_MSG, b"invalid macvlan mode\0"));
        p.extend(nla(NLMSGERR_ATTR_OFFS, &52u32.to_ne_bytes()));
        let a = parse_ext_ack(&p, true);
        assert_eq!(a.msg.as_deref(), Some("invalid macvlan mode"));
        assert_eq!(a.offset, Some(52));
        assert_eq!(a.miss_type, None);
    }

    #[test]
    fn ext_ack_uncapped_skips_echoed_request() {
        // 16-byte header + 6 bytes of payload, padded to 24.
        let mut p = hdr(22);
        p.extend_from_slice(&[0xaa; 8]);
        p.extend(nla(NLMSGERR_ATTR_MISS_TYPE, &3u32.to_ne_bytes()));
        p.extend(nla(NLMSGERR_ATTR_MSG, b"x\0"));
        let a = parse_ext_ack(&p, false);
        assert_eq!(a.miss_type, Some(3));
        assert_eq!(a.msg.as_deref(), Some("x"));
    }

    #[test]
    fn ext_ack_absent_or_truncated() {
        assert_eq!(parse_ext_ack(&[], true), ExtAck::default());
        assert_eq!(parse_ext_ack(&hdr(16), true), ExtAck::default());
        let mut p = hdr(16);
        p.extend_from_slice(&[200, 0, 1, 0]); // TLV claiming 200 bytes
        assert_eq!(parse_ext_ack(&p, true), ExtAck::default());
    }

    #[test]
    fn error_display() {
        let e = NlError::Kernel {
            errno: libc::EINVAL,
            ext: ExtAck {
                msg: Some("bad mode".into()),
                ..Default::default()
            },
        };
        let s = e.to_string();
        assert!(s.starts_with("EINVAL ("), "{s}");
        assert!(s.ends_with("extack \"bad mode\""), "{s}");
        assert_eq!(e.errno(), Some(libc::EINVAL));
        assert_eq!(e.ext_msg(), Some("bad mode"));
    }
}
