/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers for macvlan_vrrp.
 *
 * Each helper wraps a static inline function or a macro of the netdev API
 * that bindgen cannot see, so that the Rust side can call it. They contain
 * no logic of their own. The few non-trivial ones (noted below) exist
 * because the C type cannot be expressed in Rust without bitfield or union
 * accessors that bindgen does not generate.
 */
#ifndef MACVLAN_VRRP_HELPERS_H
#define MACVLAN_VRRP_HELPERS_H

#include <linux/etherdevice.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <net/rtnetlink.h>

/* netdevice.h */
void *mvv_netdev_priv(const struct net_device *dev);
void mvv_dev_hold(struct net_device *dev);
void mvv_dev_put(struct net_device *dev);
struct net *mvv_dev_net(const struct net_device *dev);
void *mvv_rx_handler_data_rtnl(const struct net_device *dev);
rx_handler_func_t *mvv_rx_handler_rtnl(const struct net_device *dev);
void mvv_dev_core_stats_rx_dropped_inc(struct net_device *dev);
int mvv_dev_hard_header(struct sk_buff *skb, struct net_device *dev,
			unsigned short type, const void *daddr,
			const void *saddr, unsigned int len);
void mvv_dev_addr_set(struct net_device *dev, const u8 *addr);
void mvv_eth_hw_addr_inherit(struct net_device *dst, struct net_device *src);
bool mvv_netdev_dismantle(const struct net_device *dev);

/*
 * Flags and fields of struct net_device that are bitfields: bindgen does
 * not generate stable accessors for them.
 */
void mvv_stacked_setup(struct net_device *dev);
void mvv_stacked_inherit_lower(struct net_device *dev, struct net_device *lower);

/* Calls @cb for each multicast address of @dev with its sync count. */
void mvv_for_each_mc_addr(struct net_device *dev,
			  void (*cb)(void *ctx, const u8 *addr, int synced),
			  void *ctx);

/* etherdevice.h */
void mvv_eth_hw_addr_random(struct net_device *dev);

/* skbuff.h */
void mvv_kfree_skb(struct sk_buff *skb);
void mvv_consume_skb(struct sk_buff *skb);
struct sk_buff *mvv_skb_share_check(struct sk_buff *skb);
struct sk_buff *mvv_skb_clone_atomic(struct sk_buff *skb);
const void *mvv_skb_header_pointer(const struct sk_buff *skb, int offset,
				   int len, void *buffer);
bool mvv_skb_vlan_tag_present(const struct sk_buff *skb);
void mvv_skb_reset_mac_header(struct sk_buff *skb);
void **mvv_skb_cb_ptr(struct sk_buff *skb);

/* Locked skb queues (SkbQueue in rust/net/skb.rs). */
void mvv_skb_queue_head_init(struct sk_buff_head *q);
/* Appends @skb unless the queue holds @limit skbs already; true if queued. */
bool mvv_skb_queue_tail_limited(struct sk_buff_head *q, struct sk_buff *skb,
				u32 limit);
/* Empties @q under its lock into a NULL-terminated chain; its first skb. */
struct sk_buff *mvv_skb_queue_detach_all(struct sk_buff_head *q);
/* Takes @skb off such a chain; the next skb of the chain. */
struct sk_buff *mvv_skb_chain_next(struct sk_buff *skb);

/* RCU and RTNL */
void mvv_rcu_read_lock(void);
void mvv_rcu_read_unlock(void);
void mvv_synchronize_net(void);
bool mvv_rtnl_is_locked(void);

/* Attribute payloads. */
u32 mvv_nla_get_u32(const struct nlattr *nla);
u16 mvv_nla_get_u16(const struct nlattr *nla);
s32 mvv_nla_get_s32(const struct nlattr *nla);
int mvv_nla_len(const struct nlattr *nla);
const void *mvv_nla_data(const struct nlattr *nla);
int mvv_nla_put_u32(struct sk_buff *skb, int type, u32 value);
int mvv_nla_put_u16(struct sk_buff *skb, int type, u16 value);
int mvv_nla_put_s32(struct sk_buff *skb, int type, s32 value);
size_t mvv_nla_total_size(int payload);
struct nlattr *mvv_nla_nest_start(struct sk_buff *skb, int type);
void mvv_nla_nest_end(struct sk_buff *skb, struct nlattr *start);
void mvv_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start);
void mvv_extack_set_msg(struct netlink_ext_ack *extack, const char *msg,
			const struct nlattr *bad_attr);

/* ethtool */
int mvv_ethtool_link_ksettings_lower(struct net_device *lower,
				     struct ethtool_link_ksettings *cmd);

/* Lockdep classes for a device stacked on another, as the C driver sets. */
void mvv_set_lockdep_class(struct net_device *dev);
/* Feature arithmetic of the C driver's ndo_fix_features. */
netdev_features_t mvv_stacked_fix_features(struct net_device *dev,
				   struct net_device *lower,
				   netdev_features_t features);
void mvv_stacked_follow_features(struct net_device *dev,
				    struct net_device *lower);
void mvv_set_mtu(struct net_device *dev, unsigned int mtu);
void mvv_init_list_head(struct list_head *head);
bool mvv_netdev_unregistering(const struct net_device *dev);
bool mvv_netdev_uninitialized(const struct net_device *dev);
void mvv_cond_resched(void);
bool mvv_work_pending(struct work_struct *work);

/*
 * Per-CPU counters, the C driver's struct vlan_pcpu_stats: packets, bytes
 * and multicast under u64_stats sync, rx_errors and tx_dropped as u32.
 */
struct vlan_pcpu_stats;
struct vlan_pcpu_stats __percpu *mvv_pcpu_stats_alloc(void);
void mvv_pcpu_stats_free(struct vlan_pcpu_stats __percpu *stats);
void mvv_pcpu_count_rx(struct vlan_pcpu_stats __percpu *stats,
		       unsigned int len, bool success, bool multicast);
void mvv_pcpu_count_tx(struct vlan_pcpu_stats __percpu *stats,
		       unsigned int len, bool success);
void mvv_pcpu_stats_fold(struct vlan_pcpu_stats __percpu *stats,
			 struct rtnl_link_stats64 *out);
bool mvv_net_is_init_net(const struct net_device *dev);

#ifdef CONFIG_NET_POLL_CONTROLLER
/* netpoll (netconsole) through an upper device: the lower device does it. */
struct netpoll;
struct netpoll *mvv_netpoll_setup(struct net_device *lower);
void mvv_netpoll_free(struct netpoll *np);
bool mvv_netpoll_tx_running(struct net_device *dev);
netdev_tx_t mvv_netpoll_send_skb(struct netpoll *np, struct sk_buff *skb);
#endif

#endif /* MACVLAN_VRRP_HELPERS_H */
