# shellcheck shell=bash
# FRR vrrpd on two routers, for the frr suite (tests/vm/frr.sh), the
# lower-device matrix (tests/vm/lowers.sh) and the demo (tests/vm/demo.sh).
# Sourced after lib.sh. The seed topology:
#
#   gw 10.0.0.1 --- sw (bridge) --- r1 eth0 192.168.0.253/24, eth0v10 (priority 200)
#                               \-- r2 eth0 192.168.0.252/24, eth0v10 (priority 100)
#
# VRID 10, VMAC 00:00:5e:00:01:0a, VIP 10.0.0.2/24, VRRPv2, 1 s interval.
# The daemons run as user frr with per-router sockets under $run, as
# Debian's frr 8.4 allows when started by hand.
#
# Set before sourcing, to vary it:
#   P       prefix of the namespace names and of the run directory;
#   KIND    the routers' lower device: veth (eth0, the seed), vlan
#           (eth0.100), vlan-noreorder (eth0.100 with reorder_hdr off),
#           bond (bond0, active-backup over eth0 and eth1, each to its own
#           switch port), bond-vlan (bond0.100);
#   FAMILY  4 (VRRPv2, IPv4 VIPs) or 6 (VRRPv3, IPv6 VIPs fd00::N/64 on
#           uppers with VMAC 00:00:5e:00:02:VRID);
#   VRIDS   the groups on the lower device ("10" or "10 20"; group N's VIP
#           is 10.0.0.(N/10+1) or fd00::(N/10+1), its upper eth0vN).
# lowers.sh runs several such segments on one pair of routers, each on its
# own wires and bridge, and sets the names per segment (frr_segment).

P=${P:-}
KIND=${KIND:-veth}
FAMILY=${FAMILY:-4}
VRIDS=${VRIDS:-10}
INTERVAL_S=1
FRR=/usr/lib/frr
run=/tmp/mvv-frr/${P:-seed}
# Per segment: the subnet number (10.0.NET.0/24), the routers' NIC and the
# gateway's, the prefix of the upper devices' names and the suffix of the
# switch ports' names. The seed: eth0 everywhere, uppers eth0vN, ports
# sw-r1 (and sw-r1b for a bond's second slave).
NET=${NET:-0}
NIC=${NIC:-eth0} NIC_B=${NIC_B:-eth1} BOND=${BOND:-bond0} GWNIC=${GWNIC:-eth0}
UPPER_PREFIX=${UPPER_PREFIX:-eth0} SFX=${SFX:-}

vmac() { printf '00:00:5e:00:%02x:%02x' "$((FAMILY == 6 ? 2 : 1))" "$1"; }
net6() { if [ "$NET" = 0 ]; then echo "fd00:"; else echo "fd00:$NET:"; fi; }
vip() { if [ "$FAMILY" = 6 ]; then echo "$(net6):$(($1 / 10 + 1))"; else echo "10.0.$NET.$(($1 / 10 + 1))"; fi; }
upper() { echo "${UPPER_PREFIX}v$1"; }

# The names and addresses that follow from the settings above.
frr_derive() {
	case "$KIND" in
	veth) LOWER=$NIC GWDEV=$GWNIC ;;
	vlan | vlan-noreorder) LOWER=$NIC.100 GWDEV=$GWNIC.100 ;;
	bond) LOWER=$BOND GWDEV=$GWNIC ;;
	bond-vlan) LOWER=$BOND.100 GWDEV=$GWNIC.100 ;;
	*) echo "frr-lib: unknown KIND '$KIND'" >&2; return 1 ;;
	esac
	GW_IP=10.0.$NET.1
	[ "$FAMILY" = 6 ] && GW_IP=$(net6):1
	first_vrid=${VRIDS%% *}
	VMAC=$(vmac "$first_vrid")
	VIP=$(vip "$first_vrid")
	UPPER=$(upper "$first_vrid")
}
frr_derive || return 1

in_ns() { local ns=$1; shift; ip netns exec "$P$ns" "$@"; }
ipn() { local ns=$1; shift; ip -n "$P$ns" "$@"; }
# Sysctls by path, so that dotted device names (eth0.100) work; one
# process for all of them (each process start costs about half a second of
# CPU under TCG with the debug kernel, and several topologies run at once).
sysctl_set() { # router key=value...
	local r=$1
	shift
	in_ns "$r" sysctl -qw "$@"
}
mvv_nap 0

teardown() {
	local r d
	for r in r1 r2; do
		for d in vrrpd zebra; do
			[ -f "$run/$r/$d.pid" ] && kill "$(cat "$run/$r/$d.pid")" 2>/dev/null
		done
	done
	mvv_nap 0.5
	for r in r1 r2; do
		for d in vrrpd zebra; do
			[ -f "$run/$r/$d.pid" ] && kill -9 "$(cat "$run/$r/$d.pid")" 2>/dev/null
		done
	done
	for r in r1 r2; do
		[ -f "$run/$r/listener.pid" ] && kill "$(cat "$run/$r/listener.pid")" 2>/dev/null
	done
	for ns in gw sw r1 r2; do ip netns del "$P$ns" 2>/dev/null; done
	rm -rf "$run"
}

# The switch ports of router $1 (both slaves' for a bond).
ports() { # router
	case "$KIND" in
	bond*) echo "sw-$1$SFX sw-$1${SFX}b" ;;
	*) echo "sw-$1$SFX" ;;
	esac
}

# Router $1's cable: all its switch ports $2 (up or down).
cable() { # router up|down
	local p
	for p in $(ports "$1"); do echo "link set $p $2"; done | ipn sw -batch -
}

# The `ip -batch` lines that make host $1's lower device $LOWER, of kind
# $KIND, from its $NIC (and $NIC_B; the gateway's is $GWNIC).
lower_lines() { # host
	local h=$1 reorder=on
	if [ "$h" = gw ]; then
		echo "link set $GWNIC up"
		if [ "$GWDEV" != "$GWNIC" ]; then
			echo "link add link $GWNIC name $GWDEV type vlan id 100"
			echo "link set $GWDEV up"
		fi
		return 0
	fi
	case "$KIND" in
	veth) echo "link set $NIC up" ;;
	vlan | vlan-noreorder)
		[ "$KIND" = vlan-noreorder ] && reorder=off
		echo "link set $NIC up"
		echo "link add link $NIC name $NIC.100 type vlan id 100 reorder_hdr $reorder"
		echo "link set $NIC.100 up"
		;;
	bond | bond-vlan)
		echo "link add $BOND type bond mode active-backup miimon 100"
		echo "link set $NIC master $BOND"
		echo "link set $NIC_B master $BOND"
		echo "link set $BOND up"
		if [ "$KIND" = bond-vlan ]; then
			echo "link add link $BOND name $BOND.100 type vlan id 100"
			echo "link set $BOND.100 up"
		fi
		;;
	esac
}

# The namespaces, with lo up, and 172.16.0.1 on the routers' lo (the NAT
# test's inside address).
topology_namespaces() {
	local ns
	mkdir -p "$run"
	for ns in gw sw r1 r2; do
		ip netns add "$P$ns" || return 1
		ipn "$ns" link set lo up || return 1
	done
	ipn r1 addr add 172.16.0.1/32 dev lo && ipn r2 addr add 172.16.0.1/32 dev lo
}

# Appends one segment's set-up to $run/batch.NS (`ip -batch` lines for
# each namespace, and "root") and $run/sysctl.ROUTER: its wires, bridge
# br$NET, lower devices, addresses and upper devices of mode $1.
segment_lines() { # mode
	local mode=$1 r vrid up p
	{
		echo "link add $GWNIC netns ${P}gw type veth peer name sw-gw$SFX netns ${P}sw"
		for r in r1 r2; do
			echo "link add $NIC netns $P$r type veth peer name sw-$r$SFX netns ${P}sw"
			case "$KIND" in
			bond*) echo "link add $NIC_B netns $P$r type veth peer name sw-$r${SFX}b netns ${P}sw" ;;
			esac
		done
	} >> "$run/batch.root"
	{
		echo "link add br$NET type bridge"
		echo "link set br$NET up"
		for p in sw-gw$SFX $(ports r1) $(ports r2); do echo "link set $p master br$NET up"; done
	} >> "$run/batch.sw"
	{
		lower_lines gw
		if [ "$FAMILY" = 6 ]; then
			echo "addr add $GW_IP/64 dev $GWDEV nodad"
		else
			echo "addr add $GW_IP/24 dev $GWDEV"
		fi
	} >> "$run/batch.gw"
	for r in r1 r2; do
		printf '%s\n' "net/ipv4/conf/$LOWER/arp_ignore=1" "net/ipv4/conf/$LOWER/arp_filter=1" \
			net/ipv4/conf/all/rp_filter=0 >> "$run/sysctl.$r"
		{
			lower_lines "$r"
			if [ "$FAMILY" = 4 ]; then
				case "$r" in
				r1) echo "addr add 192.168.$NET.253/24 dev $LOWER" ;;
				*) echo "addr add 192.168.$NET.252/24 dev $LOWER" ;;
				esac
			fi
			for vrid in $VRIDS; do
				up=$(upper "$vrid")
				# As FRR's documentation creates them (addrgenmode random,
				# so the two routers' IPv6 link-locals differ), in mode
				# $mode. 6.12 refuses IFLA_AF_SPEC on a macvlan create
				# (EAFNOSUPPORT, with either driver), so addrgenmode is
				# set after, before the device is up.
				echo "link add link $LOWER name $up address $(vmac "$vrid") type macvlan mode $mode"
				echo "link set $up addrgenmode random"
				if [ "$FAMILY" = 6 ]; then
					echo "addr add $(vip "$vrid")/64 dev $up nodad"
				else
					echo "addr add $(vip "$vrid")/24 dev $up"
				fi
				echo "link set $up up"
			done
		} >> "$run/batch.$r"
		for vrid in $VRIDS; do
			up=$(upper "$vrid")
			printf '%s\n' "net/ipv4/conf/$up/arp_ignore=1" "net/ipv4/conf/$up/accept_local=1" \
				"net/ipv4/conf/$up/rp_filter=0" >> "$run/sysctl.$r"
		done
	done
}

# Runs what segment_lines appended, one `ip -batch` per namespace (the
# routers' with `ip` $1) and one sysctl per router, and forgets it.
run_batches() { # ip
	local r kv rc=0
	mkdir -p "$run"
	ip -batch "$run/batch.root" && ipn sw -batch "$run/batch.sw" && ipn gw -batch "$run/batch.gw" || rc=1
	for r in r1 r2; do
		[ "$rc" = 0 ] || break
		mapfile -t kv < "$run/sysctl.$r"
		"$1" -n "$P$r" -batch "$run/batch.$r" && sysctl_set "$r" "${kv[@]}" || rc=1
	done
	rm -f "$run"/batch.* "$run"/sysctl.*
	return "$rc"
}

# One segment, set up at once.
topology_segment() { # mode ip
	segment_lines "$1" && run_batches "$2"
}

# The seed topology (one segment), with upper devices of mode $1 made by
# `ip` $2.
topology() { # mode ip
	topology_namespaces && topology_segment "$@"
}

# The vrrpd configuration of $LOWER's groups. $1 is the priority, the same
# for every group, or one per group in $VRIDS' order ("200 100").
vrrpd_lines() { # priorities
	local vrid i=0 prio
	local -a prios
	read -r -a prios <<<"$1"
	echo "interface $LOWER"
	for vrid in $VRIDS; do
		prio=${prios[$i]:-${prios[0]}}
		i=$((i + 1))
		echo " vrrp $vrid version $((FAMILY == 6 ? 3 : 2))"
		echo " vrrp $vrid priority $prio"
		echo " vrrp $vrid advertisement-interval $((INTERVAL_S * 1000))"
		if [ "$FAMILY" = 6 ]; then
			echo " vrrp $vrid ipv6 $(vip "$vrid")"
		else
			echo " vrrp $vrid ip $(vip "$vrid")"
		fi
	done
}

# zebra and vrrpd for router $1, as user frr, with $run/$1/vrrpd.conf.
start_daemons() { # router
	local r=$1 d=$run/$1 i
	: > "$d/zebra.conf"
	chown -R frr:frr "$d"
	in_ns "$r" "$FRR/zebra" -d -u frr -g frr --vty_socket "$d" -z "$d/zserv.api" \
		-i "$d/zebra.pid" -f "$d/zebra.conf" --log "file:$d/zebra.log" >> "$d/start.log" 2>&1 || return 1
	for ((i = 0; i < 50; i++)); do [ -S "$d/zserv.api" ] && break; mvv_nap 0.1; done
	in_ns "$r" "$FRR/vrrpd" -d -u frr -g frr --vty_socket "$d" -z "$d/zserv.api" \
		-i "$d/vrrpd.pid" -f "$d/vrrpd.conf" --log "file:$d/vrrpd.log" >> "$d/start.log" 2>&1
}

# zebra and vrrpd for router $1 running $LOWER's groups at priorities $2
# (see vrrpd_lines).
start_frr() { # router priorities
	mkdir -p "$run/$1"
	vrrpd_lines "$2" > "$run/$1/vrrpd.conf"
	start_daemons "$1"
}

# The vty command that shows group $1 on $LOWER (one vrrpd may run groups
# of the same VRID on several lower devices).
vrrp_show() { echo "show vrrp interface $LOWER $1"; }
# A row of `show vrrp VRID` of each router's vrrpd, read from its vty
# socket as vtysh does, in one process (each vtysh start costs over a
# second under TCG with the debug kernel). Prints the values in the
# routers' order.
vrrp_field() { # vrid label router...
	local vrid=$1 label=$2 r args=()
	shift 2
	for r in "$@"; do args+=(--socket "$run/$r/vrrpd.vty"); done
	"$MVV_HARNESS" vty "${args[@]}" --command "$(vrrp_show "$vrid")" --field "$label"
}
# "Master", "Backup", "Initialize" or "?" for router $1, from its vrrpd.
status() { vrrp_field "${2:-$first_vrid}" "Status (v$FAMILY)" "$1"; }
# Advertisements received by router $1's vrrpd, -1 if unknown.
adverts_rx() { # router [vrid]
	local v
	v=$(vrrp_field "${2:-$first_vrid}" "Advertisements Rx (v$FAMILY)" "$1")
	[ "$v" = "?" ] && v=-1
	echo "$v"
}
steered() { # router [vrid]
	in_ns "$1" ethtool -S "$(upper "${2:-$first_vrid}")" 2>/dev/null | sed -n 's/^ *vrrp_adverts_to_lower: //p'
}
both() { # [vrid]
	local s
	read -r -a s <<<"$(vrrp_field "${1:-$first_vrid}" "Status (v$FAMILY)" r1 r2)"
	echo "r1 ${s[0]:-?}, r2 ${s[1]:-?}"
}
# "r1 X, r2 Y" from a watch's "X Y (N samples, T ms)".
as_both() { local a b; read -r a b _ <<<"$1"; echo "r1 ${a:-?}, r2 ${b:-?}"; }
# Waits up to $1 seconds for `both` to print $2; prints what it saw last.
# One watching process polls the daemons: a process start costs a few
# hundred milliseconds of CPU under TCG with the debug kernel, and several
# topologies poll at once.
wait_for() { # seconds want [vrid]
	local want out rc a b
	read -r _ a _ b <<<"${2//,/}"
	out=$(vrrp_watch "${3:-$first_vrid}" --until "$a $b" --seconds "$1" --interval-ms 300)
	rc=$?
	as_both "$out"
	return "$rc"
}
# The vty watch of group $1's status on both routers.
vrrp_watch() { # vrid watch-args...
	local vrid=$1
	shift
	"$MVV_HARNESS" vty --socket "$run/r1/vrrpd.vty" --socket "$run/r2/vrrpd.vty" \
		--command "$(vrrp_show "$vrid")" --field "Status (v$FAMILY)" "$@"
}
# Samples every group's states every second for $1 seconds; fails on two
# masters in any group.
never_two_masters() { # seconds
	local vrid out rc args=()
	for vrid in $VRIDS; do args+=(--command "$(vrrp_show "$vrid")"); done
	out=$("$MVV_HARNESS" vty --socket "$run/r1/vrrpd.vty" --socket "$run/r2/vrrpd.vty" \
		"${args[@]}" --field "Status (v$FAMILY)" --never "Master Master" \
		--seconds "$1" --interval-ms 1000)
	rc=$?
	local rows=${out% (*} meta=${out##*(}
	meta=${meta%)}
	if [ "$rc" = 0 ]; then
		echo "one master per group in $meta (last: $rows)"
	else
		echo "two masters ($rows) at the sample $meta"
	fi
	return "$rc"
}

# Inbound DNAT and outbound SNAT that name the upper device, on router $1:
# the gateway's TCP connection to the VIP's port 2323 is DNATed to a
# listener on 172.16.0.1:2324 that answers with the router's name, and a
# ping from 172.16.0.1 (no route back from the gateway) works only if SNAT
# rewrote it to the VIP on the way out of the upper. IPv4 only.
nat_rules() { # router
	in_ns "$1" nft -f - <<-EOF
	table ip mvvnat$NET {
		chain pre {
			type nat hook prerouting priority dstnat;
			iifname "$UPPER" tcp dport 2323 counter dnat to 172.16.0.1:2324
		}
		chain post {
			type nat hook postrouting priority srcnat;
			oifname "$UPPER" ip saddr 172.16.0.1 counter snat to $VIP
		}
	}
	EOF
	nat_listener "$1"
}
# The NAT test's listener on router $1, once per router.
nat_listener() { # router
	[ -e "$run/$1/listener.ready" ] && return 0
	mkdir -p "$run/$1"
	in_ns "$1" "$MVV_HARNESS" tcp-answer --listen 172.16.0.1:2324 --text "$1" \
		--ready "$run/$1/listener.ready" >/dev/null 2>&1 &
	echo $! > "$run/$1/listener.pid"
	local i
	for ((i = 0; i < 100; i++)); do
		[ -e "$run/$1/listener.ready" ] && return 0
		mvv_nap 0.2
	done
	echo "# $1: the NAT test listener did not start"
	return 1
}
nat_works() { # router
	local who
	# 10 s: with nine segments at once under TCG, a bash start, the
	# connection (a lost SYN costs a 1 s retransmission, then 3 s) and the
	# listener's answer have taken more than 5 s.
	who=$(in_ns gw timeout 10 bash -c "exec 3<>/dev/tcp/$VIP/2323 && read -r line <&3 && echo \"\$line\"" 2>&1)
	[ "$who" = "$1" ] || { echo "DNAT: the gateway's connection to $VIP:2323 answered '$who', expected $1"; return 1; }
	in_ns "$1" ping -c 2 -i 0.3 -W 2 -I 172.16.0.1 "$GW_IP" >/dev/null ||
		{ echo "SNAT: ping from 172.16.0.1 through $UPPER failed"; return 1; }
	echo "DNAT to $1's listener and SNAT to the VIP through $UPPER"
}

# r2's master-down interval (3 x interval + skew, priority 100) plus 2 s:
# how long a failover may take. Under TCG with the debug kernel the guest's
# daemons and timers run late by seconds (measured: 4.3 s to 6.8 s for a
# 3.6 s master-down interval with the host to itself, up to 8.5 s with a
# second VM and builds beside it, as make check runs two VMs at once), so
# there the slack is 6 s.
skew_ms=$(((256 - 100) * INTERVAL_S * 1000 / 256))
slack_ms=2000
case "${MVV_ACCEL:-}" in TCG*) slack_ms=6000 ;; esac
failover_limit_ms=$((3 * INTERVAL_S * 1000 + skew_ms + slack_ms))

# Pulls r1's cable (its switch ports down) and prints the milliseconds from
# the moment the ports are down until r2's vrrpd is master of group $2, or
# "never" after $1 ms.
failover_ms() { # give-up-ms [vrid]
	local t0 now
	cable r1 down
	t0=${EPOCHREALTIME/./}
	"$MVV_HARNESS" vty --socket "$run/r2/vrrpd.vty" --command "$(vrrp_show "${2:-$first_vrid}")" \
		--field "Status (v$FAMILY)" --until Master --seconds "$(($1 / 1000))" --interval-ms 100 >/dev/null
	local rc=$?
	now=$(((${EPOCHREALTIME/./} - t0) / 1000))
	if [ "$rc" = 0 ]; then echo "$now"; else echo never; return 1; fi
}

# The gateway reaches the VIP and maps it to the VMAC (ARP, or neighbour
# discovery for IPv6); prints what is wrong, if anything.
gateway_reaches_vip() {
	local f= gwmac
	in_ns gw ping -c 3 -i 0.3 -W 2 "$VIP" >/dev/null || f="gateway cannot ping $VIP;"
	gwmac=$(in_ns gw ip neigh show "$VIP" dev "$GWDEV" | awk '{print $3}')
	[ "$gwmac" = "$VMAC" ] || f="$f gateway maps $VIP to '$gwmac';"
	echo "$f"
}

# The failover checks on the running topology: election, the backup hears
# the master, no split brain, the gateway and the master's neighbour entry
# on the upper, NAT on the upper (IPv4), cable pull, preemption. Reports
# through the caller's `check NAME RC DETAIL` and `note TEXT`.
failover_suite() {
	local s rc rc2 out f rx0 rx1 st0 st1 nb before took
	s=$(wait_for 20 "r1 Master, r2 Backup")
	check frr_election $? "$s"
	note "election: $s"

	rx0=$(adverts_rx r2) st0=$(steered r2)
	mvv_nap $((3 * INTERVAL_S))
	rx1=$(adverts_rx r2) st1=$(steered r2)
	# STEER_COUNTER=0: a driver without the vrrp_adverts_to_lower counter
	# (the upstream series' C driver); vrrpd's count alone decides.
	[ "$rx1" -gt "$rx0" ] && { [ "${STEER_COUNTER:-1}" = 0 ] || [ "${st1:-0}" -gt "${st0:-0}" ]; }
	check frr_backup_hears_master $? "r2 vrrpd adverRx $rx0 -> $rx1, r2 $UPPER vrrp_adverts_to_lower ${st0:-?} -> ${st1:-?}"
	note "r2 vrrpd adverRx $rx0 -> $rx1; r2 $UPPER vrrp_adverts_to_lower ${st0:-?} -> ${st1:-?}"

	out=$(never_two_masters 10)
	check frr_no_split_brain $? "$out"
	note "$out"

	f=$(gateway_reaches_vip)
	in_ns r1 ping -c 2 -i 0.3 -W 2 "$GW_IP" >/dev/null || f="$f r1 cannot ping the gateway;"
	nb=$(in_ns r1 ip neigh show "$GW_IP" dev "$UPPER")
	grep -qE 'REACHABLE|STALE|DELAY' <<<"$nb" || f="$f r1's $UPPER has no entry for the gateway ('$nb');"
	[ -z "$f" ]
	check frr_gateway_and_neighbour $? "$f"
	note "gateway: $VIP at $(in_ns gw ip neigh show "$VIP" dev "$GWDEV" | awk '{print $3}'); r1 $UPPER: $nb"

	if [ "$FAMILY" = 4 ]; then
		nat_rules r1
		nat_rules r2
		out=$(nat_works r1)
		check frr_nat_on_master $? "$out"
	fi

	# Cable pull: r1's switch ports down. r2 must take over within the
	# master-down interval (3 x interval + skew) plus 2 s.
	before=$(both)
	took=$(failover_ms $((failover_limit_ms + 3000)))
	if [ "$before" != "r1 Master, r2 Backup" ]; then
		check frr_failover_time 1 "before the cable pull: $before"
	elif [ "$took" != never ] && [ "$took" -le "$failover_limit_ms" ]; then
		check frr_failover_time 0
	else
		check frr_failover_time 1 "r2 master after $took ms, limit $failover_limit_ms ms"
	fi
	note "failover: r2 became master $took ms after the cable pull (limit $failover_limit_ms ms = 3 x ${INTERVAL_S} s + skew $skew_ms ms + $((slack_ms / 1000)) s)"
	f=$(gateway_reaches_vip)
	if [ "$FAMILY" = 4 ]; then out=$(nat_works r2) || f="$f $out"; fi
	[ -z "$f" ]
	check frr_vip_after_failover $? "$f"

	cable r1 up
	s=$(wait_for 15 "r1 Master, r2 Backup")
	rc=$?
	out=$(never_two_masters 5)
	rc2=$?
	[ "$rc" = 0 ] && [ "$rc2" = 0 ]
	check frr_preemption $? "$s; $out"
	note "cable back: $s; $out"
}
