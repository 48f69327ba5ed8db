// SPDX-License-Identifier: GPL-2.0

//! Module-local bindings for the netdev API.
//!
//! Generated at build time by `scripts/module-bindgen` from
//! `rust/bindings_helper.h`, with the kernel's own bindgen flags. Types that
//! `kernel::bindings` already has (`sk_buff`) are re-exported from there so
//! that the two sets interoperate.

#![allow(
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn
)]

use kernel::ffi;

// The kernel's bindgen flags blocklist these; define them as
// `kernel::bindings` does.
type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;

include!("../../generated/bindings_generated.rs");
