// SPDX-License-Identifier: GPL-2.0

//! Userspace build of the VRRP advertisement classifier.
//!
//! The classifier lives in `src/vrrp_classify.rs` at the top of the
//! repository, where the kernel module compiles it as a module. This crate
//! compiles the very same file (not a copy) so that it can be unit-tested,
//! property-tested and fuzzed in userspace. The library is `no_std` outside
//! of `cargo test`, which proves the shared file needs nothing from `std`.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[path = "../../../src/vrrp_classify.rs"]
mod vrrp_classify;

pub use vrrp_classify::{
    classify, classify_frame, is_vrrp_group_mac, link_header_len, Advert, ETH_HLEN, IPPROTO_VRRP,
    IPV4_MAX_HLEN, IPV6_HLEN, MAX_INSPECT_LEN, MAX_LINK_HLEN, MAX_VLAN_TAGS, VLAN_HLEN,
    VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_MAC_V4, VRRP_MAC_V6,
};
