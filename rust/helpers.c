// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for macvlan_vrrp: thin wrappers around static inlines and
 * macros, so that the Rust crate can call them. See helpers.h.
 */
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_vlan.h>
#include <linux/netpoll.h>
#include <linux/rtnetlink.h>
#include <net/netlink.h>

#include "helpers.h"

void *mvv_netdev_priv(const struct net_device *dev)
{
	return netdev_priv(dev);
}

void mvv_dev_hold(struct net_device *dev)
{
	dev_hold(dev);
}

void mvv_dev_put(struct net_device *dev)
{
	dev_put(dev);
}

struct net *mvv_dev_net(const struct net_device *dev)
{
	return dev_net(dev);
}

void *mvv_rx_handler_data_rtnl(const struct net_device *dev)
{
	return rtnl_dereference(dev->rx_handler_data);
}

rx_handler_func_t *mvv_rx_handler_rtnl(const struct net_device *dev)
{
	return rtnl_dereference(dev->rx_handler);
}

void mvv_dev_core_stats_rx_dropped_inc(struct net_device *dev)
{
	dev_core_stats_rx_dropped_inc(dev);
}

int mvv_dev_hard_header(struct sk_buff *skb, struct net_device *dev,
			unsigned short type, const void *daddr,
			const void *saddr, unsigned int len)
{
	return dev_hard_header(skb, dev, type, daddr, saddr, len);
}

void mvv_dev_addr_set(struct net_device *dev, const u8 *addr)
{
	dev_addr_set(dev, addr);
}

void mvv_eth_hw_addr_inherit(struct net_device *dst, struct net_device *src)
{
	eth_hw_addr_inherit(dst, src);
}

bool mvv_netdev_dismantle(const struct net_device *dev)
{
	return dev->dismantle;
}

/* After ether_setup(), which has set dev->min_mtu to ETH_MIN_MTU. */
void mvv_stacked_setup(struct net_device *dev)
{
	dev->max_mtu = ETH_MAX_MTU;
	dev->priv_flags &= ~IFF_TX_SKB_SHARING;
	netif_keep_dst(dev);
	dev->priv_flags |= IFF_UNICAST_FLT | IFF_NO_QUEUE;
	dev->change_proto_down = true;
}

/*
 * The features of a device stacked on a lower device, as the C macvlan and
 * ipvlan drivers define them: what it may take over from the lower device,
 * and the software offloads it always has.
 */
#define MVV_STACKED_FEATURES \
	(NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_HIGHDMA | NETIF_F_FRAGLIST | \
	 NETIF_F_GSO | NETIF_F_TSO | NETIF_F_LRO | \
	 NETIF_F_TSO_ECN | NETIF_F_TSO6 | NETIF_F_GRO | NETIF_F_RXCSUM | \
	 NETIF_F_HW_VLAN_CTAG_FILTER | NETIF_F_HW_VLAN_STAG_FILTER)
#define MVV_STACKED_ALWAYS_ON_OFFLOADS \
	(NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_GSO_SOFTWARE | \
	 NETIF_F_GSO_ROBUST | NETIF_F_GSO_ENCAP_ALL)
#define MVV_STACKED_ALWAYS_ON_FEATURES MVV_STACKED_ALWAYS_ON_OFFLOADS
#define MVV_STATE_MASK \
	((1 << __LINK_STATE_NOCARRIER) | (1 << __LINK_STATE_DORMANT))

void mvv_stacked_inherit_lower(struct net_device *dev, struct net_device *lower)
{
	dev->state = (dev->state & ~MVV_STATE_MASK) |
		     (lower->state & MVV_STATE_MASK);
	dev->features = lower->features & MVV_STACKED_FEATURES;
	dev->features |= MVV_STACKED_ALWAYS_ON_FEATURES;
	dev->hw_features |= NETIF_F_LRO;
	dev->vlan_features = lower->vlan_features & MVV_STACKED_FEATURES;
	dev->vlan_features |= MVV_STACKED_ALWAYS_ON_OFFLOADS;
	dev->hw_enc_features |= dev->features;
	dev->lltx = true;
	netif_inherit_tso_max(dev, lower);
	dev->hard_header_len = lower->hard_header_len;
	dev->needed_headroom = lower->needed_headroom;
	dev->needed_tailroom = lower->needed_tailroom;
}

void mvv_for_each_mc_addr(struct net_device *dev,
			  void (*cb)(void *ctx, const u8 *addr, int synced),
			  void *ctx)
{
	struct netdev_hw_addr *ha;

	netdev_for_each_mc_addr(ha, dev)
		cb(ctx, ha->addr, ha->synced);
}

void mvv_eth_hw_addr_random(struct net_device *dev)
{
	eth_hw_addr_random(dev);
}

void mvv_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}

/* An out-of-line function only with CONFIG_TRACEPOINTS; else an inline. */
void mvv_consume_skb(struct sk_buff *skb)
{
	consume_skb(skb);
}

struct sk_buff *mvv_skb_share_check(struct sk_buff *skb)
{
	return skb_share_check(skb, GFP_ATOMIC);
}

struct sk_buff *mvv_skb_clone_atomic(struct sk_buff *skb)
{
	return skb_clone(skb, GFP_ATOMIC);
}

const void *mvv_skb_header_pointer(const struct sk_buff *skb, int offset,
				   int len, void *buffer)
{
	return skb_header_pointer(skb, offset, len, buffer);
}

bool mvv_skb_vlan_tag_present(const struct sk_buff *skb)
{
	return skb_vlan_tag_present(skb);
}

void mvv_skb_reset_mac_header(struct sk_buff *skb)
{
	skb_reset_mac_header(skb);
}

void **mvv_skb_cb_ptr(struct sk_buff *skb)
{
	BUILD_BUG_ON(sizeof(void *) > sizeof(skb->cb));
	return (void **)&skb->cb[0];
}

void mvv_skb_queue_head_init(struct sk_buff_head *q)
{
	skb_queue_head_init(q);
}

/*
 * Detaches every skb of @q under its lock; returns the first of a
 * NULL-terminated chain through skb->next, or NULL.
 */
struct sk_buff *mvv_skb_queue_detach_all(struct sk_buff_head *q)
{
	struct sk_buff_head batch;
	struct sk_buff *first;

	__skb_queue_head_init(&batch);
	spin_lock_bh(&q->lock);
	skb_queue_splice_tail_init(q, &batch);
	spin_unlock_bh(&q->lock);
	if (skb_queue_empty(&batch))
		return NULL;
	first = batch.next;
	batch.prev->next = NULL;
	first->prev = NULL;
	return first;
}

/* Takes @skb off a chain from mvv_skb_queue_detach_all; returns the next. */
struct sk_buff *mvv_skb_chain_next(struct sk_buff *skb)
{
	struct sk_buff *next = skb->next;

	skb->next = NULL;
	skb->prev = NULL;
	return next;
}

bool mvv_skb_queue_tail_limited(struct sk_buff_head *q, struct sk_buff *skb,
				u32 limit)
{
	bool queued = false;

	spin_lock(&q->lock);
	if (skb_queue_len(q) < limit) {
		__skb_queue_tail(q, skb);
		queued = true;
	}
	spin_unlock(&q->lock);
	return queued;
}

void mvv_rcu_read_lock(void)
{
	rcu_read_lock();
}

void mvv_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

void mvv_synchronize_net(void)
{
	synchronize_net();
}

bool mvv_rtnl_is_locked(void)
{
	return rtnl_is_locked();
}

u32 mvv_nla_get_u32(const struct nlattr *nla)
{
	return nla_get_u32(nla);
}

u16 mvv_nla_get_u16(const struct nlattr *nla)
{
	return nla_get_u16(nla);
}

s32 mvv_nla_get_s32(const struct nlattr *nla)
{
	return nla_get_s32(nla);
}

int mvv_nla_len(const struct nlattr *nla)
{
	return nla_len(nla);
}

const void *mvv_nla_data(const struct nlattr *nla)
{
	return nla_data(nla);
}

int mvv_nla_put_u32(struct sk_buff *skb, int type, u32 value)
{
	return nla_put_u32(skb, type, value);
}

int mvv_nla_put_u16(struct sk_buff *skb, int type, u16 value)
{
	return nla_put_u16(skb, type, value);
}

int mvv_nla_put_s32(struct sk_buff *skb, int type, s32 value)
{
	return nla_put_s32(skb, type, value);
}

size_t mvv_nla_total_size(int payload)
{
	return nla_total_size(payload);
}

void mvv_extack_set_msg(struct netlink_ext_ack *extack, const char *msg,
			const struct nlattr *bad_attr)
{
	/* NL_SET_ERR_MSG_ATTR() takes only string literals. */
	if (extack) {
		extack->_msg = msg;
		extack->bad_attr = bad_attr;
	}
}

int mvv_ethtool_link_ksettings_lower(struct net_device *lower,
				     struct ethtool_link_ksettings *cmd)
{
	return __ethtool_get_link_ksettings(lower, cmd);
}

static struct lock_class_key mvv_netdev_addr_lock_key;

void mvv_set_lockdep_class(struct net_device *dev)
{
	netdev_lockdep_set_classes(dev);
	lockdep_set_class(&dev->addr_list_lock, &mvv_netdev_addr_lock_key);
}

netdev_features_t mvv_stacked_fix_features(struct net_device *dev,
				   struct net_device *lower,
				   netdev_features_t features)
{
	netdev_features_t lower_features = lower->features;
	netdev_features_t mask;

	features |= NETIF_F_ALL_FOR_ALL;
	mask = features;
	lower_features &= (features | ~NETIF_F_LRO);
	features = netdev_increment_features(lower_features, features, mask);
	features |= MVV_STACKED_ALWAYS_ON_FEATURES;
	features &= (MVV_STACKED_ALWAYS_ON_FEATURES | MVV_STACKED_FEATURES);
	return features;
}

void mvv_stacked_follow_features(struct net_device *dev,
				    struct net_device *lower)
{
	netif_inherit_tso_max(dev, lower);
	dev->needed_headroom = lower->needed_headroom;
	dev->needed_tailroom = lower->needed_tailroom;
	netdev_update_features(dev);
}

void mvv_set_mtu(struct net_device *dev, unsigned int mtu)
{
	WRITE_ONCE(dev->mtu, mtu);
}

void mvv_init_list_head(struct list_head *head)
{
	INIT_LIST_HEAD(head);
}

bool mvv_netdev_unregistering(const struct net_device *dev)
{
	return dev->reg_state == NETREG_UNREGISTERING;
}

bool mvv_netdev_uninitialized(const struct net_device *dev)
{
	return dev->reg_state == NETREG_UNINITIALIZED;
}

void mvv_cond_resched(void)
{
	cond_resched();
}

bool mvv_work_pending(struct work_struct *work)
{
	return work_pending(work);
}

struct vlan_pcpu_stats __percpu *mvv_pcpu_stats_alloc(void)
{
	return netdev_alloc_pcpu_stats(struct vlan_pcpu_stats);
}

void mvv_pcpu_stats_free(struct vlan_pcpu_stats __percpu *stats)
{
	free_percpu(stats);
}

void mvv_pcpu_count_rx(struct vlan_pcpu_stats __percpu *stats,
		       unsigned int len, bool success, bool multicast)
{
	struct vlan_pcpu_stats *p;

	if (unlikely(!success)) {
		this_cpu_inc(stats->rx_errors);
		return;
	}
	p = get_cpu_ptr(stats);
	u64_stats_update_begin(&p->syncp);
	u64_stats_inc(&p->rx_packets);
	u64_stats_add(&p->rx_bytes, len);
	if (multicast)
		u64_stats_inc(&p->rx_multicast);
	u64_stats_update_end(&p->syncp);
	put_cpu_ptr(stats);
}

void mvv_pcpu_count_tx(struct vlan_pcpu_stats __percpu *stats,
		       unsigned int len, bool success)
{
	struct vlan_pcpu_stats *p;

	if (unlikely(!success)) {
		this_cpu_inc(stats->tx_dropped);
		return;
	}
	p = this_cpu_ptr(stats);
	u64_stats_update_begin(&p->syncp);
	u64_stats_inc(&p->tx_packets);
	u64_stats_add(&p->tx_bytes, len);
	u64_stats_update_end(&p->syncp);
}

void mvv_pcpu_stats_fold(struct vlan_pcpu_stats __percpu *stats,
			 struct rtnl_link_stats64 *out)
{
	u32 rx_errors = 0, tx_dropped = 0;
	int i;

	for_each_possible_cpu(i) {
		const struct vlan_pcpu_stats *p = per_cpu_ptr(stats, i);
		u64 rx_packets, rx_bytes, rx_multicast, tx_packets, tx_bytes;
		unsigned int start;

		do {
			start = u64_stats_fetch_begin(&p->syncp);
			rx_packets = u64_stats_read(&p->rx_packets);
			rx_bytes = u64_stats_read(&p->rx_bytes);
			rx_multicast = u64_stats_read(&p->rx_multicast);
			tx_packets = u64_stats_read(&p->tx_packets);
			tx_bytes = u64_stats_read(&p->tx_bytes);
		} while (u64_stats_fetch_retry(&p->syncp, start));

		out->rx_packets += rx_packets;
		out->rx_bytes += rx_bytes;
		out->multicast += rx_multicast;
		out->tx_packets += tx_packets;
		out->tx_bytes += tx_bytes;
		/* u32 counters, updated without syncp, as in the C driver */
		rx_errors += READ_ONCE(p->rx_errors);
		tx_dropped += READ_ONCE(p->tx_dropped);
	}
	out->rx_errors = rx_errors;
	out->rx_dropped = rx_errors;
	out->tx_dropped = tx_dropped;
}

bool mvv_net_is_init_net(const struct net_device *dev)
{
	return net_eq(dev_net(dev), &init_net);
}

struct nlattr *mvv_nla_nest_start(struct sk_buff *skb, int type)
{
	return nla_nest_start_noflag(skb, type);
}

void mvv_nla_nest_end(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_end(skb, start);
}

void mvv_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_cancel(skb, start);
}

#ifdef CONFIG_NET_POLL_CONTROLLER
struct netpoll *mvv_netpoll_setup(struct net_device *lower)
{
	struct netpoll *np = kzalloc(sizeof(*np), GFP_KERNEL);
	int err;

	if (!np)
		return ERR_PTR(-ENOMEM);
	err = __netpoll_setup(np, lower);
	if (err) {
		kfree(np);
		return ERR_PTR(err);
	}
	return np;
}

void mvv_netpoll_free(struct netpoll *np)
{
	__netpoll_free(np);
}

bool mvv_netpoll_tx_running(struct net_device *dev)
{
	return netpoll_tx_running(dev);
}

netdev_tx_t mvv_netpoll_send_skb(struct netpoll *np, struct sk_buff *skb)
{
	return netpoll_send_skb(np, skb);
}
#endif
