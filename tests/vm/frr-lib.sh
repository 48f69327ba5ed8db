# shellcheck shell=bash
# FRR vrrpd on two routers in the seed topology, for the frr suite
# (tests/vm/frr.sh) and the demo (tests/vm/demo.sh). Sourced after lib.sh.
#
#   gw 10.0.0.1 --- sw (bridge) --- r1 eth0 192.168.0.253/24, eth0v10 (priority 200)
#                               \-- r2 eth0 192.168.0.252/24, eth0v10 (priority 100)
#
# VRID 10, VMAC 00:00:5e:00:01:0a, VIP 10.0.0.2/24, VRRPv2, 1 s interval.
# The daemons run as user frr with per-router sockets under $run, as
# Debian's frr 8.4 allows when started by hand.

VMAC=00:00:5e:00:01:0a
VIP=10.0.0.2
INTERVAL_S=1
FRR=/usr/lib/frr
run=/tmp/mvv-frr
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

teardown() {
	local r
	for r in r1 r2; do
		[ -d "$run/$r" ] || continue
		for d in vrrpd zebra; do
			[ -f "$run/$r/$d.pid" ] && kill "$(cat "$run/$r/$d.pid")" 2>/dev/null
		done
	done
	sleep 0.5
	for r in r1 r2; do
		for d in vrrpd zebra; do
			[ -f "$run/$r/$d.pid" ] && kill -9 "$(cat "$run/$r/$d.pid")" 2>/dev/null
		done
	done
	pkill -f "mvv-frr-listener" 2>/dev/null
	for ns in gw sw r1 r2; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$run"
}

# The topology, with upper devices of mode $1 made by `ip` $2.
topology() { # mode ip
	local mode=$1 ipcmd=$2 h r
	for ns in gw sw r1 r2; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
	ip -n sw link add br0 type bridge
	ip -n sw link set br0 up
	for h in gw r1 r2; do
		ip link add eth0 netns "$h" type veth peer name "sw-$h" netns sw
		ip -n sw link set "sw-$h" master br0 up
		ip -n "$h" link set eth0 up
	done
	ip -n gw addr add 10.0.0.1/24 dev eth0
	ip -n r1 addr add 192.168.0.253/24 dev eth0
	ip -n r2 addr add 192.168.0.252/24 dev eth0
	for r in r1 r2; do
		# As FRR's documentation creates them (addrgenmode random, so the
		# two routers' IPv6 link-locals differ), in mode $mode. 6.12 refuses
		# IFLA_AF_SPEC on a macvlan create (EAFNOSUPPORT, with either
		# driver), so addrgenmode is set after.
		"$ipcmd" -n "$r" link add link eth0 name eth0v10 address "$VMAC" \
			type macvlan mode "$mode" || return 1
		"$ipcmd" -n "$r" link set eth0v10 addrgenmode random || return 1
		in_ns "$r" sysctl -qw net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_filter=1 \
			net.ipv4.conf.eth0v10.arp_ignore=1 net.ipv4.conf.eth0v10.accept_local=1 \
			net.ipv4.conf.eth0v10.rp_filter=0 net.ipv4.conf.all.rp_filter=0
		ip -n "$r" addr add "$VIP/24" dev eth0v10
		ip -n "$r" link set eth0v10 up
		ip -n "$r" addr add 172.16.0.1/32 dev lo
	done
}

# zebra and vrrpd for router $1 with priority $2, as user frr.
start_frr() { # router priority
	local r=$1 prio=$2 d=$run/$1
	mkdir -p "$d"
	cat > "$d/vrrpd.conf" <<-EOF
	interface eth0
	 vrrp 10 version 2
	 vrrp 10 priority $prio
	 vrrp 10 advertisement-interval $((INTERVAL_S * 1000))
	 vrrp 10 ip $VIP
	EOF
	: > "$d/zebra.conf"
	chown -R frr:frr "$d"
	in_ns "$r" "$FRR/zebra" -d -u frr -g frr --vty_socket "$d" -z "$d/zserv.api" \
		-i "$d/zebra.pid" -f "$d/zebra.conf" --log "file:$d/zebra.log" >> "$d/start.log" 2>&1 || return 1
	local i
	for i in $(seq 50); do [ -S "$d/zserv.api" ] && break; sleep 0.1; done
	in_ns "$r" "$FRR/vrrpd" -d -u frr -g frr --vty_socket "$d" -z "$d/zserv.api" \
		-i "$d/vrrpd.pid" -f "$d/vrrpd.conf" --log "file:$d/vrrpd.log" >> "$d/start.log" 2>&1
}

# A row of `show vrrp 10` of each router's vrrpd, read from its vty socket
# as vtysh does, in one process (each vtysh start costs over a second under
# TCG with the debug kernel). Prints the values in the routers' order.
vrrp_field() { # label router...
	local label=$1 r args=()
	shift
	for r in "$@"; do args+=(--socket "$run/$r/vrrpd.vty"); done
	"$MVV_HARNESS" vty "${args[@]}" --command 'show vrrp 10' --field "$label"
}
# "Master", "Backup", "Initialize" or "?" for router $1, from its vrrpd.
status() { vrrp_field "Status (v4)" "$1"; }
# Advertisements received by router $1's vrrpd (IPv4), -1 if unknown.
adverts_rx() { local v; v=$(vrrp_field "Advertisements Rx (v4)" "$1"); [ "$v" = "?" ] && v=-1; echo "$v"; }
steered() { in_ns "$1" ethtool -S eth0v10 2>/dev/null | sed -n 's/^ *vrrp_adverts_to_lower: //p'; }
both() { local s; read -r -a s <<<"$(vrrp_field "Status (v4)" r1 r2)"; echo "r1 ${s[0]:-?}, r2 ${s[1]:-?}"; }
# Waits up to $1 seconds for `both` to print $2; prints what it saw last.
wait_for() { # seconds want
	local end=$((SECONDS + $1)) s
	while :; do
		s=$(both)
		[ "$s" = "$2" ] && { echo "$s"; return 0; }
		[ "$SECONDS" -ge "$end" ] && { echo "$s"; return 1; }
		sleep 0.3
	done
}
# Samples the states every second for $1 seconds; fails on two masters.
never_two_masters() { # seconds
	local i s
	for i in $(seq "$1"); do
		s=$(both)
		[ "$s" = "r1 Master, r2 Master" ] && { echo "two masters after $i s"; return 1; }
		sleep 1
	done
	echo "one master in each of $1 samples (last: $s)"
}

# Inbound DNAT and outbound SNAT that name the upper device, on router $1:
# the gateway's TCP connection to the VIP's port 2323 is DNATed to a
# listener on 172.16.0.1:2324 that answers with the router's name, and a
# ping from 172.16.0.1 (no route back from the gateway) works only if SNAT
# rewrote it to the VIP on the way out of eth0v10.
nat_rules() { # router
	in_ns "$1" nft -f - <<-'EOF'
	table ip mvvnat {
		chain pre {
			type nat hook prerouting priority dstnat;
			iifname "eth0v10" tcp dport 2323 counter dnat to 172.16.0.1:2324
		}
		chain post {
			type nat hook postrouting priority srcnat;
			oifname "eth0v10" ip saddr 172.16.0.1 counter snat to 10.0.0.2
		}
	}
	EOF
	in_ns "$1" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("172.16.0.1", 2324)); s.listen(4)
while True:
    c, _ = s.accept(); c.sendall((sys.argv[1] + "\n").encode()); c.close()
' "$1" mvv-frr-listener >/dev/null 2>&1 &
	# Python takes seconds to start under TCG: wait until it listens.
	local i
	for i in $(seq 100); do
		in_ns "$1" ss -Hltn 'sport = :2324' | grep -q 172.16.0.1 && return 0
		sleep 0.2
	done
	echo "# $1: the NAT test listener did not start"
	return 1
}
nat_works() { # router
	local who
	who=$(in_ns gw timeout 5 bash -c 'exec 3<>/dev/tcp/10.0.0.2/2323 && read -r line <&3 && echo "$line"' 2>&1)
	[ "$who" = "$1" ] || { echo "DNAT: the gateway's connection to $VIP:2323 answered '$who', expected $1"; return 1; }
	in_ns "$1" ping -c 2 -i 0.3 -W 2 -I 172.16.0.1 10.0.0.1 >/dev/null ||
		{ echo "SNAT: ping from 172.16.0.1 through eth0v10 failed"; return 1; }
	echo "DNAT to $1's listener and SNAT to the VIP through eth0v10"
}

# r2's master-down interval (3 x interval + skew, priority 100) plus 2 s:
# how long a failover may take. Under TCG with the debug kernel the guest's
# daemons and timers run late by seconds (measured: 4.3 s to 6.8 s for a
# 3.6 s master-down interval), so there the slack is 4 s.
skew_ms=$(( (256 - 100) * INTERVAL_S * 1000 / 256 ))
slack_ms=2000
case "${MVV_ACCEL:-}" in TCG*) slack_ms=4000 ;; esac
failover_limit_ms=$(( 3 * INTERVAL_S * 1000 + skew_ms + slack_ms ))

# Pulls r1's cable (its switch port down) and prints the milliseconds from
# the moment the port is down until r2's vrrpd is master, or "never" after
# $1 ms.
failover_ms() { # give-up-ms
	local t0 now
	ip -n sw link set sw-r1 down
	t0=$(date +%s%N)
	while :; do
		now=$(( ($(date +%s%N) - t0) / 1000000 ))
		[ "$(status r2)" = Master ] && { echo "$now"; return 0; }
		[ "$now" -gt "$1" ] && { echo never; return 1; }
		sleep 0.1
	done
}
