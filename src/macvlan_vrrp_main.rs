// SPDX-License-Identifier: GPL-2.0

//! macvlan_vrrp: the macvlan driver in Rust, with `MACVLAN_MODE_VRRP`.
//!
//! It registers the rtnl link kind "macvlan", so it replaces the C
//! `macvlan.ko` (which must not be loaded at the same time). VRRP mode is
//! private mode, except that VRRP advertisements whose source MAC is a local
//! VRRP-mode device stay on the lower device, where the VRRP daemon listens.
//! See `Documentation/macvlan-vrrp.rst`.

// pin_init! of the port, with a work item in it, nests deeply.
#![recursion_limit = "256"]

#[path = "../rust/net/mod.rs"]
mod net;

mod macvlan;
mod mode;
mod netdev;
mod netlink;
mod notifier;
mod port;
mod rx;
mod source;
// Shared with the userspace test crate, where these items are public API.
#[allow(dead_code, unreachable_pub)]
mod vrrp_classify;

use kernel::prelude::*;
use net::link::LinkRegistration;
use net::notifier::{Notifier, NotifierRegistration};

module! {
    type: MacvlanVrrpModule,
    name: "macvlan_vrrp",
    author: "macvlan-vrrp developers",
    description: "macvlan in Rust, with a VRRP mode that keeps advertisements on the lower device",
    license: "GPL",
}

static LOWER_NOTIFIER: Notifier = Notifier::new::<notifier::LowerNotifier>();

struct MacvlanVrrpModule {
    // Dropped in declaration order: the link kind first (deleting every
    // device), then the notifier.
    _link: LinkRegistration<macvlan::Macvlan>,
    _notifier: NotifierRegistration,
    // Last: wait for the RCU callbacks that device teardown queued.
    _rcu_barrier: net::rcu_list::RcuBarrier,
}

impl kernel::Module for MacvlanVrrpModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let notifier = NotifierRegistration::register(&LOWER_NOTIFIER)?;
        let link = LinkRegistration::<macvlan::Macvlan>::register().inspect_err(|e| {
            if *e == EEXIST {
                pr_err!("link kind \"macvlan\" is taken: unload macvlan.ko (and macvtap) first\n");
            }
        })?;
        Ok(Self {
            _link: link,
            _notifier: notifier,
            _rcu_barrier: net::rcu_list::RcuBarrier,
        })
    }
}
