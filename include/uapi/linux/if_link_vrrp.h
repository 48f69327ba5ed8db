/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * MACVLAN_MODE_VRRP: the uapi addition proposed in
 * patches/linux/0001-macvlan-add-MACVLAN_MODE_VRRP.patch.
 *
 * Until it is upstream, userspace and this module take the value from here.
 * It is the next free bit of enum macvlan_mode after MACVLAN_MODE_SOURCE
 * (16). The 2014 VyOS patch used 16, which now means SOURCE.
 */
#ifndef _UAPI_LINUX_IF_LINK_VRRP_H
#define _UAPI_LINUX_IF_LINK_VRRP_H

#include <linux/if_link.h>

#ifndef MACVLAN_MODE_VRRP
/* private, except VRRP adverts from a local VRRP-mode MAC stay on the lower device */
#define MACVLAN_MODE_VRRP 32
#endif

#endif /* _UAPI_LINUX_IF_LINK_VRRP_H */
