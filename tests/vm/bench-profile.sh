#!/usr/bin/env bash
# Where the per-frame cost goes, inside the VM: perf's cpu-clock samples of
# pktgen's thread in unicast receive (private mode) and transmit (bridge
# mode), for the C macvlan.ko and macvlan_vrrp.ko. Under icount the guest's
# clock counts instructions, so the samples do too. Not part of make bench:
#
#   make bench   # builds the module and the tools first
#   MVV_VM_CPUS=1 scripts/vm-run --flavour release --icount 3 \
#           --exec "bash $PWD/tests/vm/bench-profile.sh"
#
# perf does not find the symbols of a module insmod'ed from the repository,
# so the addresses in macvlan_vrrp.ko are resolved with nm (its .text is the
# start of the module's text). See Documentation/benchmarks.rst, "Profile".
set -uo pipefail
. "$(dirname "$0")/lib.sh"

PG=/proc/net/pktgen
VMAC=00:00:5e:00:01:0a
SECS=${MVV_PROFILE_SECONDS:-4}
command -v perf > /dev/null || { echo "error: no perf on the host" >&2; exit 1; }
modprobe pktgen || exit 1
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip link add vl0 type veth peer name vp0 && ip link set vl0 up && ip link set vp0 up || exit 1
SYMS=$(mktemp)
nm -n --defined-only "$MVV_KO" | awk '$2 ~ /^[tT]$/ { print $1, $3 }' > "$SYMS"

pg() { echo "$2" > "$PG/$1"; }

# perf report lines "PCT% [dso] [k] SYM" of one module, addresses resolved
# and summed per function.
module_symbols() { # perf-data dso
	perf report -q -i "$1" --comms kpktgend_0 --sort dso,sym --stdio 2> /dev/null |
		awk -v dso="[$2]" -v syms="$SYMS" '
		function hex(h,  i, v) {
			sub(/^0x/, "", h); h = tolower(h); v = 0
			for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
			return v
		}
		BEGIN { while ((getline l < syms) > 0) { split(l, f, " "); n++; a[n] = hex(f[1]); s[n] = f[2] } }
		$2 == dso {
			sym = $4
			if (sym ~ /^0x/) {
				x = hex(sym); lo = 1; hi = n
				while (lo < hi) { mid = int((lo + hi + 1) / 2); if (a[mid] <= x) lo = mid; else hi = mid - 1 }
				sym = s[lo]
			}
			sub(/%/, "", $1); t[sym] += $1; total += $1
		}
		END {
			printf "  %6.2f%%  %s in all\n", total, dso
			for (k in t) printf "  %6.2f%%  %s\n", t[k], k | "sort -rn"
		}'
}

profile() { # dev dst-mac xmit-mode burst label drv
	pg pgctrl reset
	pg kpktgend_0 "add_device $1"
	local c data=/dev/shm/perf.$5
	for c in "count 0" "pkt_size 60" "delay 0" "flag NO_TIMESTAMP" "dst_mac $2" \
		"dst_min 198.18.0.42" "dst_max 198.18.0.42" "xmit_mode $3" "burst $4"; do
		pg "$1" "$c"
	done
	echo start > "$PG/pgctrl" &
	sleep 0.3
	perf record -q -e cpu-clock -c 100000 -a -o "$data" -- sleep "$SECS" 2> /dev/null
	echo stop > "$PG/pgctrl"
	wait
	echo "=== $5: pktgen's thread, by symbol (% of its samples)"
	perf report -q -i "$data" --comms kpktgend_0 --sort dso,sym --stdio 2> /dev/null |
		grep -v '^$' | grep -v "\[$(drv_mod "$6")\]" | head -n 30
	echo "=== $5: the module's functions"
	module_symbols "$data" "$(drv_mod "$6")"
	rm -f "$data"
}
drv_mod() { [ "$1" = c ] && echo macvlan || echo macvlan_vrrp; }

for drv in c rust; do
	if [ "$drv" = c ]; then modprobe macvlan; else insmod "$MVV_KO"; fi || exit 1
	ip link add link vl0 name up0 address "$VMAC" type macvlan mode private && ip link set up0 up &&
		tc qdisc add dev up0 clsact && tc filter add dev up0 ingress matchall action gact drop || exit 1
	profile vl0 "$VMAC" netif_receive 256 "rx-private-$drv" "$drv"
	ip link del up0
	ip link add link vl0 name tx0 type macvlan mode bridge && ip link set tx0 up || exit 1
	profile tx0 "$(cat /sys/class/net/vp0/address)" start_xmit 1 "tx-bridge-$drv" "$drv"
	ip link del tx0
	pg pgctrl reset
	rmmod "$(drv_mod "$drv")"
done
rm -f "$SYMS"
