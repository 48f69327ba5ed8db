#!/usr/bin/env bash
# FRR vrrpd (Debian's, unmodified) on two routers whose upper devices are
# VRRP-mode macvlans made with the patched ip, in the seed topology:
#
#   gw 10.0.0.1 --- sw (bridge) --- r1 eth0 192.168.0.253/24, eth0v10 (priority 200)
#                               \-- r2 eth0 192.168.0.252/24, eth0v10 (priority 100)
#
# VRID 10, VMAC 00:00:5e:00:01:0a, VIP 10.0.0.2/24, VRRPv2, 1 s interval.
# All state is read from the daemons (vtysh show vrrp json). Then the
# contrast that proves the mode matters: private-mode uppers split the
# brain, with our driver and with the C driver.
#
# Runs with macvlan_vrrp loaded and leaves it loaded. Prints TAP and the
# closing count line. MVV_FRR_LOWER picks the lower device kind (see
# lower_setup; default veth).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/frr-lib.sh"

IP=${MVV_IP:-}
n=0 pass=0 fail=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1${2:+ # $2}"; }
check() { if [ "$2" = 0 ]; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }
finish() {
	teardown
	echo "1..$n"
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
}

echo "KTAP version 1"
if [ -z "$IP" ] || [ ! -x "$IP" ] || [ ! -x "$FRR/vrrpd" ] || ! command -v vtysh >/dev/null; then
	not_ok frr_tools "need the patched ip (MVV_IP='$IP') and Debian's frr ($FRR/vrrpd, vtysh)"
	finish
fi
echo "# $($FRR/vrrpd -v | head -n1), patched ip $IP"
ok frr_tools

# ---- 1-7: VRRP mode, our driver ---------------------------------------
rm -rf "$run"
if ! topology vrrp "$IP" || ! start_frr r1 200 || ! start_frr r2 100; then
	not_ok frr_setup "topology or daemons failed to start"
	finish
fi
ok frr_setup

s=$(wait_for 20 "r1 Master, r2 Backup")
check frr_election $? "$s"
echo "# election: $s"

rx0=$(adverts_rx r2) st0=$(steered r2)
sleep $((3 * INTERVAL_S))
rx1=$(adverts_rx r2) st1=$(steered r2)
[ "$rx1" -gt "$rx0" ] && [ "${st1:-0}" -gt "${st0:-0}" ]
check frr_backup_hears_master $? "r2 vrrpd adverRx $rx0 -> $rx1, r2 eth0v10 vrrp_adverts_to_lower ${st0:-?} -> ${st1:-?}"
echo "# r2 vrrpd adverRx $rx0 -> $rx1; r2 eth0v10 vrrp_adverts_to_lower ${st0:-?} -> ${st1:-?}"

out=$(never_two_masters 10)
check frr_no_split_brain $? "$out"
echo "# $out"

f=
in_ns gw ping -c 3 -i 0.3 -W 2 "$VIP" >/dev/null || f="gateway cannot ping $VIP;"
gwmac=$(in_ns gw ip neigh show "$VIP" dev eth0 | awk '{print $3}')
[ "$gwmac" = "$VMAC" ] || f="$f gateway maps $VIP to '$gwmac';"
in_ns r1 ping -c 2 -i 0.3 -W 2 10.0.0.1 >/dev/null || f="$f r1 cannot ping the gateway;"
gw_on_upper=$(in_ns r1 ip neigh show 10.0.0.1 dev eth0v10)
grep -qE 'REACHABLE|STALE|DELAY' <<<"$gw_on_upper" || f="$f r1's eth0v10 has no entry for the gateway ('$gw_on_upper');"
[ -z "$f" ]
check frr_gateway_and_arp $? "$f"
echo "# gateway: $VIP at $gwmac; r1 eth0v10: $gw_on_upper"

nat_rules r1
nat_rules r2
out=$(nat_works r1)
check frr_nat_on_master $? "$out"

# Cable pull: r1's switch port down. r2 must take over within the
# master-down interval (3 x interval + skew) plus 2 s.
before=$(both)
took=$(failover_ms $((failover_limit_ms + 3000)))
if [ "$before" != "r1 Master, r2 Backup" ]; then
	not_ok frr_failover_time "before the cable pull: $before"
elif [ "$took" != never ] && [ "$took" -le "$failover_limit_ms" ]; then
	ok frr_failover_time
else
	not_ok frr_failover_time "r2 master after $took ms, limit $failover_limit_ms ms"
fi
echo "# failover: r2 became master $took ms after the cable pull (limit $failover_limit_ms ms = 3 x ${INTERVAL_S} s + skew $skew_ms ms + $((slack_ms / 1000)) s)"
# What r2's vrrpd said about the transition (why it took over).
grep -iE 'priority 0|-> Master|master down' "$run/r2/vrrpd.log" | tail -n 3 | sed 's/^/# r2 vrrpd: /'
f=
in_ns gw ping -c 3 -i 0.3 -W 2 "$VIP" >/dev/null || f="gateway cannot ping $VIP through r2;"
out=$(nat_works r2) || f="$f $out"
[ -z "$f" ]
check frr_vip_and_nat_after_failover $? "$f"

ip -n sw link set sw-r1 up
s=$(wait_for 15 "r1 Master, r2 Backup")
rc=$?
out=$(never_two_masters 5)
rc2=$?
[ "$rc" = 0 ] && [ "$rc2" = 0 ]
check frr_preemption $? "$s; $out"
echo "# cable back: $s; $out"
teardown

# ---- 8: the contrast, private mode splits the brain ----------------------
# With private-mode uppers the backup's upper device swallows the master's
# advertisements, so vrrpd on eth0 never hears them: both routers master.
contrast() { # driver-label
	rm -rf "$run"
	topology private ip || { echo "topology failed"; return 1; }
	local drv
	drv=$(in_ns r1 ethtool -i eth0v10 | sed -n 's/^driver: //p')
	[ "$drv" = "$2" ] || { echo "eth0v10 is driven by '$drv', not $2"; return 1; }
	start_frr r1 200 && start_frr r2 100 || { echo "daemons failed"; return 1; }
	local s
	s=$(wait_for 15 "r1 Master, r2 Master") || { echo "expected both master, saw: $s"; return 1; }
	sleep 3
	s=$(both)
	[ "$s" = "r1 Master, r2 Master" ] || { echo "expected both master, saw: $s"; return 1; }
	echo "private mode, $2: $s (r2 vrrpd adverRx $(adverts_rx r2))"
}
out=$(contrast ours macvlan_vrrp)
check frr_private_splits_brain_ours $? "$out"
echo "# $out"
teardown
if rmmod macvlan_vrrp && modprobe macvlan; then
	out=$(contrast c macvlan)
	check frr_private_splits_brain_c $? "$out"
	echo "# $out"
	teardown
	rmmod macvlan
else
	not_ok frr_private_splits_brain_c "could not swap to the C driver"
fi
err=$(insmod "$MVV_KO" 2>&1)
check reload_ours $? "$err"
finish
