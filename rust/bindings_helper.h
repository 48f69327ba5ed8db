/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Headers for the module-local bindgen run (scripts/module-bindgen).
 *
 * Upstream 6.12's kernel::bindings leaves struct net_device opaque and has
 * none of the netdev API, so the module generates its own bindings.
 */
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_macvlan.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <net/ip.h>
#include <net/netlink.h>
#include <net/rtnetlink.h>

#include "helpers.h"
#include "../include/uapi/linux/if_link_vrrp.h"

