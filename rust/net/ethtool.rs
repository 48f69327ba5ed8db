// SPDX-License-Identifier: GPL-2.0

//! The `ethtool_ops` of a [`Link`] type: driver information and counters
//! from the trait, link settings and timestamping from the lower device.

use super::bindings;
use super::link::{Link, Upper};
use core::mem::MaybeUninit;
use kernel::str::CStr;

/// The `ethtool_ops` of `T`.
pub(super) const fn table<T: Link>() -> bindings::ethtool_ops {
    bindings::ethtool_ops {
        get_link: Some(bindings::ethtool_op_get_link),
        get_drvinfo: Some(get_drvinfo_tramp::<T>),
        get_link_ksettings: Some(get_link_ksettings_tramp::<T>),
        get_ts_info: Some(get_ts_info_tramp::<T>),
        get_sset_count: Some(get_sset_count_tramp::<T>),
        get_strings: Some(get_strings_tramp::<T>),
        get_ethtool_stats: if T::HAS_STATS {
            Some(get_ethtool_stats_tramp::<T>)
        } else {
            None
        },
        // SAFETY: all-zero is valid: unset callbacks are NULL.
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    }
}

/// # Safety
///
/// Only as `ethtool_ops.get_ts_info` of a link type `T` device, with `info`
/// valid for the call.
unsafe extern "C" fn get_ts_info_tramp<T: Link>(
    dev: *mut bindings::net_device,
    info: *mut bindings::kernel_ethtool_ts_info,
) -> i32 {
    // SAFETY: timestamping is the lower (real) device's.
    unsafe {
        bindings::ethtool_get_ts_info_by_layer(T::lower(Upper::<T>::from_raw(dev)).as_ptr(), info)
    }
}

fn copy_cstr(dst: &mut [u8], src: &CStr) {
    let bytes = src.as_bytes();
    let n = bytes.len().min(dst.len().saturating_sub(1));
    dst[..n].copy_from_slice(&bytes[..n]);
    if let Some(end) = dst.get_mut(n) {
        *end = 0;
    }
}

/// # Safety
///
/// Only as `ethtool_ops.get_drvinfo`, with `info` valid for the call.
unsafe extern "C" fn get_drvinfo_tramp<T: Link>(
    _dev: *mut bindings::net_device,
    info: *mut bindings::ethtool_drvinfo,
) {
    // SAFETY: `info` is valid for the call.
    let info = unsafe { &mut *info };
    copy_cstr(&mut info.driver, T::DRIVER_NAME);
    copy_cstr(&mut info.version, T::DRIVER_VERSION);
}

/// # Safety
///
/// Only as `ethtool_ops.get_link_ksettings` of a link type `T` device,
/// under RTNL, with `cmd` valid for the call.
unsafe extern "C" fn get_link_ksettings_tramp<T: Link>(
    dev: *mut bindings::net_device,
    cmd: *mut bindings::ethtool_link_ksettings,
) -> i32 {
    // SAFETY: one of our devices under RTNL; `cmd` valid for the call.
    unsafe {
        bindings::mvv_ethtool_link_ksettings_lower(
            T::lower(Upper::<T>::from_raw(dev)).as_ptr(),
            cmd,
        )
    }
}

/// # Safety
///
/// Only as `ethtool_ops.get_sset_count`.
unsafe extern "C" fn get_sset_count_tramp<T: Link>(
    _dev: *mut bindings::net_device,
    sset: i32,
) -> i32 {
    if sset == bindings::ethtool_stringset_ETH_SS_STATS as i32 {
        // CAST: a handful of counters.
        T::STATS_NAMES.len() as i32
    } else {
        super::errno::EOPNOTSUPP().to_errno()
    }
}

/// # Safety
///
/// Only as `ethtool_ops.get_strings`, with `data` sized as
/// `get_sset_count` said.
unsafe extern "C" fn get_strings_tramp<T: Link>(
    _dev: *mut bindings::net_device,
    sset: u32,
    data: *mut u8,
) {
    if sset != bindings::ethtool_stringset_ETH_SS_STATS {
        return;
    }
    const LEN: usize = bindings::ETH_GSTRING_LEN as usize;
    for (i, name) in T::STATS_NAMES.iter().enumerate() {
        // SAFETY: the core sized `data` as `get_sset_count` said: one
        // `ETH_GSTRING_LEN` slot per counter.
        let slot = unsafe { core::slice::from_raw_parts_mut(data.add(i * LEN), LEN) };
        copy_cstr(slot, name);
    }
}

/// # Safety
///
/// Only as `ethtool_ops.get_ethtool_stats` of a link type `T` device, with
/// `data` sized as `get_sset_count` said.
unsafe extern "C" fn get_ethtool_stats_tramp<T: Link>(
    dev: *mut bindings::net_device,
    _stats: *mut bindings::ethtool_stats,
    data: *mut u64,
) {
    // SAFETY: `data` has one slot per counter, as `get_sset_count` said;
    // one of our devices.
    unsafe {
        let out = core::slice::from_raw_parts_mut(data, T::STATS_NAMES.len());
        T::stats(Upper::<T>::from_raw(dev), out)
    }
}
