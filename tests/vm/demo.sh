#!/usr/bin/env bash
# make demo: the two-router scenario from the 2014 VyOS write-up, with real
# daemons. Debian's FRR vrrpd, unmodified, runs on both routers; their
# upper devices are VRRP-mode macvlans made with the patched ip:
#
#   gw 10.0.0.1 --- sw (bridge) --- r1 eth0 192.168.0.253/24, eth0v10 (priority 200)
#                               \-- r2 eth0 192.168.0.252/24, eth0v10 (priority 100)
#
# It shows the election, the backup hearing the master on its lower device,
# the neighbour tables, then a cable pull with the measured failover time
# and the return. It checks what it shows: it exits non-zero if the
# backup's counters stay 0, a ping fails, or both routers are master.
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
. "$here/frr-lib.sh"

IP=${MVV_IP:-}
bad=0
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
fail() { echo "  FAILED: $*"; bad=1; }

mvv_kmsg_start || { echo "error: no kernel log reader ($MVV_HARNESS kmsg)" >&2; exit 1; }
mvv_kmemleak_prepare || echo "note: kernel without kmemleak; no leak check" >&2
[ -x "$IP" ] || { echo "error: no patched ip (scripts/build-iproute2)" >&2; exit 1; }
[ -d /sys/module/macvlan ] && { echo "error: the C macvlan.ko is loaded" >&2; exit 1; }
insmod "$MVV_KO"
trap teardown EXIT

say "1. Two routers; each has eth0v10 with the virtual MAC, made by the patched ip:"
echo "   ip link add link eth0 name eth0v10 address $VMAC type macvlan mode vrrp; ip link set eth0v10 addrgenmode random"
topology vrrp "$IP" || { echo "error: topology failed" >&2; exit 1; }
in_ns r1 "$IP" -d link show eth0v10 | sed -n '1,3p'
echo "   driver: $(in_ns r1 ethtool -i eth0v10 | sed -n 's/^driver: //p')"

say "2. FRR vrrpd on both (VRID 10, VRRPv2, 1 s; r1 priority 200, r2 100): election"
start_frr r1 200 && start_frr r2 100 || { echo "error: FRR did not start" >&2; exit 1; }
s=$(wait_for 20 "r1 Master, r2 Backup") || fail "election: $s"
echo "   $s"
vtysh --vty_socket "$run/r2" -c 'show vrrp summary' | sed 's/^/   r2> /'

say "3. The backup hears the master on eth0, where vrrpd listens:"
rx0=$(adverts_rx r2) st0=$(steered r2)
sleep 3
rx1=$(adverts_rx r2) st1=$(steered r2)
echo "   r2 vrrpd adverts received: $rx0 -> $rx1"
echo "   r2 eth0v10 vrrp_adverts_to_lower (left on eth0 for vrrpd): $st0 -> $st1"
[ "$rx1" -gt "$rx0" ] && [ "${st1:-0}" -gt "${st0:-0}" ] || fail "the backup's counters did not rise"
echo "   In private mode r2's eth0v10 would swallow them, and both would be master."

say "4. The gateway pings the VIP; the ARP entries are where they belong:"
in_ns gw ping -c 3 -i 0.3 -W 2 "$VIP" | tail -n 2 | sed 's/^/   /' || fail "gateway ping"
in_ns gw ping -c 1 -W 2 "$VIP" >/dev/null || fail "gateway ping"
in_ns r1 ping -c 2 -i 0.3 -W 2 10.0.0.1 >/dev/null || fail "r1 cannot reach the gateway"
echo "   gw:            $(in_ns gw ip neigh show "$VIP" dev eth0)"
echo "   r1 eth0v10:    $(in_ns r1 ip neigh show 10.0.0.1 dev eth0v10)"
echo "   The gateway's ARP reply stayed on r1's eth0v10 (the 2014 mode moved it to eth0)."

say "5. Cable pull: r1's switch port goes down."
took=$(failover_ms $((failover_limit_ms + 5000)))
echo "   r2 became master after $took ms (limit $failover_limit_ms ms: 3 x 1 s + skew + $((slack_ms / 1000)) s)"
[ "$took" != never ] && [ "$took" -le "$failover_limit_ms" ] || fail "failover took $took ms"
in_ns gw ping -c 3 -i 0.3 -W 2 "$VIP" | tail -n 2 | sed 's/^/   /'
in_ns gw ping -c 1 -W 2 "$VIP" >/dev/null || fail "gateway cannot reach the VIP through r2"

say "6. Cable back: r1 preempts, and there is one master."
cable r1 up
s=$(wait_for 15 "r1 Master, r2 Backup") || fail "preemption: $s"
echo "   $s"
out=$(never_two_masters 4) || fail "$out"
echo "   $out"

teardown
trap - EXIT
rmmod macvlan_vrrp
leaks=
[ -w "$MVV_KMEMLEAK" ] && leaks=$(mvv_kmemleak_scan)
splats=$(mvv_splats)
if [ -n "$splats" ] || [ -n "$leaks" ] || mvv_bad_taint; then
	echo "error: kernel report during the demo:" >&2
	echo "$splats" >&2
	echo "$leaks" | head -n 40 >&2
	exit 1
fi
[ "$bad" = 0 ] || { echo "demo FAILED (above)" >&2; exit 1; }
say "demo done: election, failover and return with FRR vrrpd; no kernel report, no leak"
