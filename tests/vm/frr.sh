#!/usr/bin/env bash
# The contrast that proves the mode matters: Debian's FRR vrrpd
# (unmodified) on two routers whose upper devices are private-mode
# macvlans, in the seed topology of tests/vm/frr-lib.sh:
#
#   gw 10.0.0.1 --- sw (bridge) --- r1 eth0 192.168.0.253/24, eth0v10 (priority 200)
#                               \-- r2 eth0 192.168.0.252/24, eth0v10 (priority 100)
#
# VRID 10, VMAC 00:00:5e:00:01:0a, VIP 10.0.0.2/24, VRRPv2, 1 s interval.
# The backup's upper device swallows the master's advertisements, so both
# routers are master, here with the C driver (macvlan_vrrp's private mode
# splits the brain the same way in the lowers matrix's "private" segment).
# The same daemons on VRRP-mode uppers (election, failover, NAT,
# preemption) run in tests/vm/lowers.sh, over a veth as here and over the
# other lower devices.
#
# Runs with macvlan_vrrp loaded and leaves it loaded. Prints TAP and the
# closing count line.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/frr-lib.sh"

IP=${MVV_IP:-}
n=0 pass=0 fail=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1${2:+ # $2}"; }
check() { if [ "$2" = 0 ]; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }
note() { echo "# $*"; }
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

# ---- the contrast, private mode splits the brain ----------------------
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
