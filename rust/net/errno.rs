// SPDX-License-Identifier: GPL-2.0

//! Error codes the netdev API needs that 6.12's `kernel::error::code`
//! does not declare.

use super::bindings;
use kernel::error::Error;

fn from_uapi(code: u32) -> Error {
    // CAST: errno values are small positive numbers.
    Error::from_errno(-(code as i32))
}

/// Cannot assign requested address.
#[allow(non_snake_case)]
pub(crate) fn EADDRNOTAVAIL() -> Error {
    from_uapi(bindings::EADDRNOTAVAIL)
}

/// Address already in use.
#[allow(non_snake_case)]
pub(crate) fn EADDRINUSE() -> Error {
    from_uapi(bindings::EADDRINUSE)
}

/// Operation not supported.
#[allow(non_snake_case)]
pub(crate) fn EOPNOTSUPP() -> Error {
    from_uapi(bindings::EOPNOTSUPP)
}

/// Message too long (netlink message full).
#[allow(non_snake_case)]
pub(crate) fn EMSGSIZE() -> Error {
    from_uapi(bindings::EMSGSIZE)
}
