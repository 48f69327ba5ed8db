#!/usr/bin/env bash
# keepalived on two routers, on macvlan_vrrp.ko: the failover suite of the
# frr and lowers suites (election, the backup hears the master, no split
# brain, the gateway's ping and neighbour entry on the upper, NAT on the
# upper before and after failover, cable pull with the failover time,
# preemption), driven by keepalived, whose state is read from keepalived
# itself (its notify_fifo, read by a bash loop, and its SIGUSR2 stats).
# Two segments run at the same time, each with its own namespaces:
#
#   gw 10.0.0.1, fd00::1 --- sw (bridge) --- r1 eth0 192.168.0.253/24 (priority 200)
#                                        \-- r2 eth0 192.168.0.252/24 (priority 100)
#
#   vrrp     the patched keepalived (patches/keepalived/, MVV_KEEPALIVED)
#            with use_vmac + vmac_vrrp_mode: VMACs in VRRP mode, adverts
#            received on eth0 and sent from the VMAC. Instances: v4 (VRID 10,
#            VRRPv2, 1 s, VIP 10.0.0.2 on eth0v10v4), v4v3 (VRID 20, VRRPv3,
#            0.5 s, VIP 10.0.0.3 on eth0v20v4), v6 (VRID 10, VRRPv3, 0.5 s,
#            VIP fd00::2 on eth0v10v6). r2 starts with a private-mode
#            eth0v10v4 left over, which keepalived must re-create in VRRP
#            mode.
#   private  Debian's keepalived 2.2.7, unmodified (/usr/sbin/keepalived),
#            plain use_vmac: private-mode VMACs on our module, as stock
#            keepalived has them on the C driver. Instances v4 and v6 as
#            above.
#
# Then, with the C macvlan.ko loaded instead of ours, the patched
# keepalived must refuse vmac_vrrp_mode (keepalived -t and start-up) and
# leave no macvlan behind.
#
# Runs with macvlan_vrrp loaded and leaves it loaded. Prints TAP and the
# closing count line.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

IP=${MVV_IP:-}
KA_PATCHED=${MVV_KEEPALIVED:-}
KA_STOCK=/usr/sbin/keepalived
out=$(mktemp -d /tmp/mvv-ka.XXXXXX)
base_run=/tmp/mvv-ka-run

n=0 pass=0 fail=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1${2:+ # $2}"; }
# Inside a segment's subshell: "CHECK<tab>rc<tab>name<tab>detail" lines and
# "# text" notes; the parent numbers them.
check() { printf 'CHECK\t%s\t%s\t%s\n' "$2" "$1" "${3:-}"; }
note() { echo "# $*"; }
# The parent's own checks.
pcheck() { if [ "$2" = 0 ]; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }
finish() {
	echo "1..$n"
	echo "$pass passed, $fail failed"
	rm -rf "$out"
	[ "$fail" = 0 ]
	exit
}

echo "KTAP version 1"
if [ -z "$IP" ] || [ ! -x "$IP" ] || [ -z "$KA_PATCHED" ] || [ ! -x "$KA_PATCHED" ] || [ ! -x "$KA_STOCK" ]; then
	not_ok keepalived_tools "need the patched ip (MVV_IP='$IP'), the patched keepalived (MVV_KEEPALIVED='$KA_PATCHED', scripts/build-keepalived) and Debian's $KA_STOCK"
	finish
fi
v_patched=$("$KA_PATCHED" --version 2>&1 | head -n1)
v_stock=$("$KA_STOCK" --version 2>&1 | head -n1)
echo "# patched: $KA_PATCHED ($v_patched); stock: $KA_STOCK ($v_stock)"
ok keepalived_tools

# frr-lib's topology helpers (cable, NAT, the gateway's view); its FRR
# parts are not used here.
P=ka-
. "$here/frr-lib.sh"

# nsenter, not `ip netns exec`: only setns(), without ip's new mount
# namespace and sysfs remount, which cost seconds under TCG with the debug
# kernel. What runs here reads no sysfs (ethtool uses ioctls, /proc/sys/net
# follows the reader's namespace).
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$P$ns" -- "$@"; }

# ---- per segment -------------------------------------------------------
# The instances of a segment: name family VRRP-version VRID interval-ms
# VIP VMAC-name gateway. Each in its own subnet: two VMACs in one subnet
# would send ARP from each other's VIP.
instances_vrrp=(
	"v4 4 2 10 1000 10.0.0.2 eth0v10v4 10.0.0.1"
	"v4v3 4 3 20 500 10.0.1.2 eth0v20v4 10.0.1.1"
	"v6 6 3 10 500 fd00::2 eth0v10v6 fd00::1"
)
# Debian's keepalived sets up nftables for its VMACs, which takes it tens
# of seconds under TCG with the debug kernel, and its timers then run late:
# 1 s adverts for its IPv6 instance.
instances_private=(
	"v4 4 2 10 1000 10.0.0.2 eth0v10v4 10.0.0.1"
	"v6 6 3 10 1000 fd00::2 eth0v10v6 fd00::1"
)

# Sets the globals of segment $1 (vrrp or private).
segment() { # label
	SEG=$1
	case "$SEG" in
	# --vrrp (no checker process) exists only in builds with LVS, as
	# Debian's; the patched one is built without LVS.
	vrrp) P=kv- KA=$KA_PATCHED KA_OPTS=() MODE=vrrp insts=("${instances_vrrp[@]}") ;;
	private) P=ks- KA=$KA_STOCK KA_OPTS=(--vrrp) MODE=private insts=("${instances_private[@]}") ;;
	esac
	run=$base_run/$SEG
	KIND=veth NET=0 NIC=eth0 GWNIC=eth0 GWDEV=eth0 SFX=
	LOWER=eth0 GW_IP=10.0.0.1
}
# Sets the globals of instance row $1 (frr-lib's VIP, UPPER, VMAC, GW_IP,
# FAMILY, for its NAT and gateway helpers).
inst() { # row
	read -r I FAMILY VERSION VRID IV_MS VIP UPPER GW_IP <<<"$1"
	printf -v VMAC '00:00:5e:00:%02x:%02x' "$((FAMILY == 6 ? 2 : 1))" "$VRID"
}

# keepalived.conf for router $1 at priority $2 (printf, not cat: a process
# start costs about half a second of CPU under TCG with the debug kernel).
ka_conf() { # router priority
	local r=$1 prio=$2 row iv len
	printf '%s\n' "global_defs {" "    router_id $r" "    notify_fifo $run/$r/fifo" "}"
	for row in "${insts[@]}"; do
		inst "$row"
		printf -v iv '%d.%03d' $((IV_MS / 1000)) $((IV_MS % 1000))
		len=24
		[ "$FAMILY" = 6 ] && len=64
		printf '%s\n' "vrrp_instance $I {" "    state BACKUP" "    interface eth0" \
			"    virtual_router_id $VRID" "    priority $prio" "    version $VERSION" \
			"    advert_int $iv" "    use_vmac $UPPER"
		if [ "$MODE" = vrrp ]; then echo "    vmac_vrrp_mode"; fi
		printf '%s\n' "    virtual_ipaddress {" "        $VIP/$len" "    }" "}"
	done
}

# The namespaces, wires, bridge and addresses of the segment: one ip -batch
# for the root namespace and one per namespace. The routers' eth0 get a
# link-local address without DAD (keepalived's IPv6 source); no sysctl is
# set on them: keepalived must set its own.
ka_topology() {
	rm -rf "$run"
	mkdir -p "$run/r1" "$run/r2"
	local r
	{
		for ns in gw sw r1 r2; do echo "netns add $P$ns"; done
	} | ip -batch - || return 1
	{
		echo "link add eth0 netns ${P}gw type veth peer name sw-gw netns ${P}sw"
		for r in r1 r2; do echo "link add eth0 netns $P$r type veth peer name sw-$r netns ${P}sw"; done
	} | ip -batch - || return 1
	printf '%s\n' "link set lo up" "link add br0 type bridge" "link set br0 up" \
		"link set sw-gw master br0 up" "link set sw-r1 master br0 up" "link set sw-r2 master br0 up" |
		ipn sw -batch - || return 1
	printf '%s\n' "link set lo up" "link set eth0 up" "addr add 10.0.0.1/24 dev eth0" \
		"addr add 10.0.1.1/24 dev eth0" "addr add fd00::1/64 dev eth0 nodad" | ipn gw -batch - || return 1
	for r in r1 r2; do
		{
			echo "link set lo up"
			echo "addr add 172.16.0.1/32 dev lo"
			echo "link set eth0 addrgenmode none"
			echo "link set eth0 up"
			if [ "$r" = r1 ]; then
				echo "addr add 192.168.0.253/24 dev eth0"
				echo "addr add fe80::253/64 dev eth0 nodad"
			else
				echo "addr add 192.168.0.252/24 dev eth0"
				echo "addr add fe80::252/64 dev eth0 nodad"
				# A private-mode VMAC left over from a run without
				# vmac_vrrp_mode: keepalived must re-create it.
				if [ "$MODE" = vrrp ]; then
					echo "link add link eth0 name eth0v10v4 address $(FAMILY=4 vmac 10) type macvlan mode private"
				fi
			fi
		} | "$IP" -n "$P$r" -batch - || return 1
	done
}

# The notify_fifo reader of router $1: one bash loop, no process per event;
# state.<instance> holds the instance's last state, events every change with
# its time in microseconds.
fifo_reader() { # router
	local d=$run/$1
	(
		exec {fd}<>"$d/fifo"
		while read -r -u "$fd" kind name state _; do
			[ "$kind" = INSTANCE ] || continue
			name=${name//\"/}
			printf '%s %s %s\n' "${EPOCHREALTIME/./}" "$name" "$state" >> "$d/events"
			# States only, not events such as MASTER_RX_LOWER_PRI
			case "$state" in
			MASTER | BACKUP | FAULT | STOP) printf '%s\n' "$state" > "$d/state.$name" ;;
			esac
		done
	) &
	echo $! > "$d/reader.pid"
}

# keepalived (VRRP only, in the foreground, logging to a file) on router
# $1 at priority $2.
start_ka() { # router priority
	local r=$1 d=$run/$1
	ka_conf "$r" "$2" > "$d/keepalived.conf"
	: > "$d/events"
	fifo_reader "$r"
	(
		export TMPDIR=$d
		exec nsenter --net="/run/netns/$P$r" -- "$KA" -n -l -D -G "${KA_OPTS[@]}" -f "$d/keepalived.conf" \
			-p "$d/keepalived.pid" -r "$d/vrrp.pid" > "$d/keepalived.log" 2>&1
	) &
	echo $! > "$d/ka.pid"
}

stop_segment() {
	local r pid i
	for r in r1 r2; do
		[ -f "$run/$r/ka.pid" ] && read -r pid < "$run/$r/ka.pid" && kill "$pid" 2>/dev/null
	done
	for r in r1 r2; do
		[ -f "$run/$r/ka.pid" ] || continue
		read -r pid < "$run/$r/ka.pid"
		for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; mvv_nap 0.1; done
		kill -9 "$pid" 2>/dev/null
	done
	for r in r1 r2; do
		[ -f "$run/$r/reader.pid" ] && read -r pid < "$run/$r/reader.pid" && kill "$pid" 2>/dev/null
		[ -f "$run/$r/listener.pid" ] && read -r pid < "$run/$r/listener.pid" && kill "$pid" 2>/dev/null
	done
	for ns in gw sw r1 r2; do echo "netns del $P$ns"; done | ip -batch - 2>/dev/null
}

# keepalived's state of instance $2 on router $1, from its notify_fifo,
# into S (no fork: the loops below poll often, and a fork is costly under
# TCG with the debug kernel).
st() { # router instance
	S=
	read -r S 2>/dev/null < "$run/$1/state.$2"
	S=${S:-?}
}
# "r1 X, r2 Y" for instance $1, into B.
st2() { local a; st r1 "$1"; a=$S; st r2 "$1"; B="r1 $a, r2 $S"; }
both() { st2 "$1"; echo "$B"; }
ka_state() { st "$1" "$2"; echo "$S"; }
# Waits up to $1 s until every instance is "r1 $2, r2 $3"; prints each
# instance's states.
wait_states() { # seconds r1-state r2-state
	local end=$((SECONDS + $1)) row all
	while :; do
		all=1
		for row in "${insts[@]}"; do
			inst "$row"
			st2 "$I"
			[ "$B" = "r1 $2, r2 $3" ] || all=
		done
		[ -n "$all" ] && break
		[ "$SECONDS" -ge "$end" ] && break
		mvv_nap 0.2
	done
	for row in "${insts[@]}"; do inst "$row"; st2 "$I"; printf '%s: %s; ' "$I" "$B"; done
	echo
	[ -n "$all" ]
}
# Waits up to $1 s until r2 is master of every instance.
wait_r2_master() { # seconds
	local end=$((SECONDS + $1)) row all
	while :; do
		all=1
		for row in "${insts[@]}"; do inst "$row"; st r2 "$I"; [ "$S" = MASTER ] || all=; done
		[ -n "$all" ] || [ "$SECONDS" -ge "$end" ] && break
		mvv_nap 0.1
	done
	for row in "${insts[@]}"; do inst "$row"; st2 "$I"; printf '%s: %s; ' "$I" "$B"; done
	echo
	[ -n "$all" ]
}
# Samples every instance's states every 0.5 s for $1 s; fails on two
# masters of one instance.
never_two_masters() { # seconds
	local end=$((SECONDS + $1)) row samples=0
	while [ "$SECONDS" -lt "$end" ]; do
		samples=$((samples + 1))
		for row in "${insts[@]}"; do
			inst "$row"
			st2 "$I"
			if [ "$B" = "r1 MASTER, r2 MASTER" ]; then
				echo "two masters of $I at sample $samples"
				return 1
			fi
		done
		mvv_nap 0.5
	done
	echo "one master per instance in $samples samples over $1 s"
}

# keepalived's advert counters on router $1 (SIGUSR2 to its VRRP process,
# which writes $TMPDIR/keepalived.stats): prints "instance received" lines.
ka_rx() { # router
	local d=$run/$1 pid lines=() i want name
	want=$((19 * ${#insts[@]}))
	: > "$d/keepalived.stats"
	read -r pid < "$d/vrrp.pid" || return 1
	kill -USR2 "$pid" || return 1
	for ((i = 0; i < 50; i++)); do
		mapfile -t lines < "$d/keepalived.stats"
		[ "${#lines[@]}" -ge "$want" ] && break
		mvv_nap 0.1
	done
	for ((i = 0; i < ${#lines[@]}; i++)); do
		case "${lines[$i]}" in
		"VRRP Instance: "*) name=${lines[$i]#VRRP Instance: } ;;
		"  Advertisements:") echo "$name ${lines[$((i + 1))]##* }" ;;
		esac
	done
}
rx_of() { # "instance count" lines, instance
	local a b
	while read -r a b; do [ "$a" = "$2" ] && { echo "$b"; return; }; done <<<"$1"
	echo -1
}

# The VMACs on both routers: in mode $MODE, with the virtual MAC, and the
# first one driven by macvlan_vrrp. One ip and one ethtool process per
# router; the JSON is read by bash (a grep or sed start costs about half a
# second of CPU under TCG with the debug kernel).
vmacs_ok() {
	local r row f= j obj mac mode drv re_mac='"address":"([^"]*)"' re_mode='"info_data":\{[^}]*"mode":"([^"]*)"'
	for r in r1 r2; do
		j=$("$IP" -n "$P$r" -d -j link show type macvlan)
		for row in "${insts[@]}"; do
			inst "$row"
			obj=${j#*\"ifname\":\"$UPPER\"}
			[ "$obj" != "$j" ] || { f="$f $r has no $UPPER;"; continue; }
			mac= mode=
			[[ $obj =~ $re_mac ]] && mac=${BASH_REMATCH[1]}
			[[ $obj =~ $re_mode ]] && mode=${BASH_REMATCH[1]}
			[ "$mac" = "$VMAC" ] || f="$f $r $UPPER: MAC '$mac';"
			[ "$mode" = "$MODE" ] || f="$f $r $UPPER: mode '$mode';"
		done
		inst "${insts[0]}"
		drv=$(in_ns "$r" ethtool -i "$UPPER" 2>/dev/null)
		[[ $drv == *"driver: macvlan_vrrp"* ]] || f="$f $r $UPPER not driven by macvlan_vrrp ('${drv%%$'\n'*}');"
	done
	echo "${f:-$MODE mode, virtual MACs, macvlan_vrrp on both routers}"
	[ -z "$f" ]
}

# The sysctls keepalived sets for an IPv4 VMAC and its base interface.
sysctls_ok() {
	local r row paths=() vals=() want=() i f=
	for row in "${insts[@]}"; do
		inst "$row"
		[ "$FAMILY" = 4 ] || continue
		paths+=("/proc/sys/net/ipv4/conf/$UPPER/arp_ignore" "/proc/sys/net/ipv4/conf/$UPPER/accept_local"
			"/proc/sys/net/ipv4/conf/$UPPER/rp_filter")
		want+=(1 1 0)
	done
	paths+=(/proc/sys/net/ipv4/conf/eth0/arp_ignore /proc/sys/net/ipv4/conf/eth0/arp_filter)
	want+=(1 1)
	for r in r1 r2; do
		mapfile -t vals < <(in_ns "$r" cat "${paths[@]}")
		for i in "${!paths[@]}"; do
			[ "${vals[$i]:-?}" = "${want[$i]}" ] || f="$f $r ${paths[$i]#/proc/sys/net/ipv4/conf/}=${vals[$i]:-?} (want ${want[$i]});"
		done
	done
	echo "$f"
	[ -z "$f" ]
}

# Where the switch learnt the instances' virtual MACs: every VMAC on port
# sw-$1 (the master's), so the adverts left with the virtual MAC as source.
vmacs_learnt_on() { # router
	local fdb row f=
	fdb=$'\n'$(bridge -n "${P}sw" fdb show br br0)
	for row in "${insts[@]}"; do
		inst "$row"
		[[ $fdb == *$'\n'"$VMAC dev sw-$1 "* ]] || f="$f $VMAC not on sw-$1;"
	done
	echo "$f"
	[ -z "$f" ]
}

# The gateway reaches instance $I's VIP at its VMAC, and r1 (the master)
# reaches the gateway through the VMAC and has a neighbour entry for it.
# frr-lib's, with two pings instead of three.
gateway_reaches_vip() {
	local f= gwmac
	in_ns gw ping -c 2 -i 0.2 -W 2 "$VIP" >/dev/null || f="gateway cannot ping $VIP;"
	gwmac=$(in_ns gw ip neigh show "$VIP" dev "$GWDEV")
	[[ $gwmac == *" lladdr $VMAC "* ]] || f="$f gateway maps $VIP to '$gwmac';"
	echo "$f"
}
gateway_and_neighbour() { # router
	local f nb
	f=$(gateway_reaches_vip)
	in_ns "$1" ping -c 2 -i 0.2 -W 2 -I "$UPPER" "$GW_IP" >/dev/null 2>&1 || f="$f $1 cannot ping the gateway through $UPPER;"
	nb=$(in_ns "$1" ip neigh show "$GW_IP" dev "$UPPER")
	grep -qE 'REACHABLE|STALE|DELAY|PROBE' <<<"$nb" || f="$f $1's $UPPER has no entry for the gateway ('$nb');"
	echo "$f"
	[ -z "$f" ]
}

# The failover time of instance $I: microseconds from $1 to r2's first
# MASTER event after it, in ms, or "never".
master_after() { # t0-us
	local ts name state
	while read -r ts name state; do
		if [ "$name" = "$I" ] && [ "$state" = MASTER ] && [ "$ts" -ge "$1" ]; then
			echo $(((ts - $1) / 1000))
			return
		fi
	done < "$run/r2/events"
	echo never
}
limit_ms() { # interval-ms
	local slack=2000
	case "${MVV_ACCEL:-}" in TCG*) slack=4000 ;; esac
	echo $((3 * $1 + (256 - 100) * $1 / 256 + slack))
}

# The checks of the running segment, in one subshell per segment.
segment_checks() {
	local row s rc f o rx0 rx1 st0 st1 t0 took lim before nb
	local -A steer0
	s=$(wait_states 120 MASTER BACKUP)
	rc=$?
	for row in "${insts[@]}"; do
		inst "$row"
		st2 "$I"
		[ "$B" = "r1 MASTER, r2 BACKUP" ]
		check "${I}_election" $? "$s"
	done
	note "election at $((SECONDS - start)) s: $s"
	if [ "$MODE" = vrrp ]; then
		# (keepalived re-creates it with the same ifindex.)
		local j mode= log re_mode='"info_data":\{[^}]*"mode":"([^"]*)"'
		j=$("$IP" -n "${P}r2" -d -j link show eth0v10v4)
		[[ $j =~ $re_mode ]] && mode=${BASH_REMATCH[1]}
		log=$(grep -m1 'VMAC interface eth0v10v4' "$run/r2/keepalived.log")
		[[ $log == *"Re-creating VMAC interface eth0v10v4: it is a private mode macvlan, vrrp mode is configured"* ]] &&
			[ "$mode" = vrrp ]
		check existing_private_vmac_recreated $? "eth0v10v4 now in mode '$mode'; log: $log"
		note "r2's private-mode eth0v10v4, left before the start, is now in mode '$mode': ${log#*: }"
	fi


	o=$(vmacs_ok)
	check vmacs_mode_$MODE $? "$o"
	o=$(sysctls_ok)
	check vmac_sysctls $? "$o"

	# The backup's keepalived counts the master's adverts (and, in VRRP
	# mode, macvlan_vrrp counts them steered to eth0).
	rx0=$(ka_rx r2)
	for row in "${insts[@]}"; do inst "$row"; steer0[$I]=$(in_ns r2 ethtool -S "$UPPER" 2>/dev/null | sed -n 's/^ *vrrp_adverts_to_lower: //p'); done
	mvv_nap 2
	rx1=$(ka_rx r2)
	for row in "${insts[@]}"; do
		inst "$row"
		st0=${steer0[$I]:-} st1=$(in_ns r2 ethtool -S "$UPPER" 2>/dev/null | sed -n 's/^ *vrrp_adverts_to_lower: //p')
		a=$(rx_of "$rx0" "$I") b=$(rx_of "$rx1" "$I")
		if [ "$MODE" = vrrp ]; then
			[ "$b" -gt "$a" ] && [ "$a" -ge 0 ] && [ "${st1:-0}" -gt "${st0:-0}" ]
		else
			[ "$b" -gt "$a" ] && [ "$a" -ge 0 ]
		fi
		check "${I}_backup_hears_master" $? "r2 keepalived adverts received $a -> $b; $UPPER vrrp_adverts_to_lower ${st0:-?} -> ${st1:-?}"
		note "$I: r2 keepalived adverts received $a -> $b, $UPPER vrrp_adverts_to_lower ${st0:-?} -> ${st1:-?}"
	done

	note "adverts counted at $((SECONDS - start)) s"
	o=$(never_two_masters 5)
	rc=$?
	for row in "${insts[@]}"; do
		inst "$row"
		[ "$rc" = 0 ]
		check "${I}_no_split_brain" $? "$o"
	done
	note "$o"

	for row in "${insts[@]}"; do
		inst "$row"
		o=$(gateway_and_neighbour r1)
		check "${I}_gateway_and_neighbour" $? "$o"
		note "$I: gateway: $(in_ns gw ip neigh show "$VIP" dev eth0)"
	done
	inst "${insts[0]}"
	nat_rules r1 && nat_rules r2
	o=$(nat_works r1)
	check "${I}_nat_on_master" $? "$o"
	note "$I: $o"

	before=$(vmacs_learnt_on r1)
	local before_rc=$?
	note "gateway and NAT checked at $((SECONDS - start)) s"

	# Cable pull: r1's switch port down; every instance fails over to r2.
	local states_before=
	for row in "${insts[@]}"; do inst "$row"; st2 "$I"; states_before="$states_before$I: $B; "; done
	cable r1 down
	t0=${EPOCHREALTIME/./}
	lim=$(limit_ms 1000)
	s=$(wait_r2_master $((lim / 1000 + 4)))
	for row in "${insts[@]}"; do
		inst "$row"
		took=$(master_after "$t0")
		lim=$(limit_ms "$IV_MS")
		if [[ "$states_before" != *"$I: r1 MASTER, r2 BACKUP;"* ]]; then
			check "${I}_failover_time" 1 "before the cable pull: $states_before"
		elif [ "$took" != never ] && [ "$took" -le "$lim" ]; then
			check "${I}_failover_time" 0
		else
			check "${I}_failover_time" 1 "r2 master after $took ms, limit $lim ms"
		fi
		note "$I failover: r2 became master $took ms after the cable pull (limit $lim ms = 3 x $IV_MS ms + skew + slack; $s)"
	done
	local after after_rc
	for row in "${insts[@]}"; do
		inst "$row"
		f=$(gateway_reaches_vip)
		if [ "$row" = "${insts[0]}" ]; then o=$(nat_works r2) || f="$f $o"; fi
		[ -z "$f" ]
		check "${I}_vip_after_failover" $? "$f"
	done
	after=$(vmacs_learnt_on r2)
	after_rc=$?
	[ "$before_rc" = 0 ] && [ "$after_rc" = 0 ]
	check adverts_from_vmac $? "master r1:$before; after failover, r2:$after"
	note "the switch learnt every VMAC on the master's port: r1 before the cable pull, r2 after${before:+ (r1:$before)}${after:+ (r2:$after)}"

	note "failover checked at $((SECONDS - start)) s"
	cable r1 up
	s=$(wait_states 20 MASTER BACKUP)
	rc=$?
	o=$(never_two_masters 4)
	local rc2=$?
	for row in "${insts[@]}"; do
		inst "$row"
		[ "$rc" = 0 ] && [ "$rc2" = 0 ]
		check "${I}_preemption" $? "$s; $o"
	done
	note "cable back: $s; $o"
}

# ---- the parent ----------------------------------------------------------
# MVV_KEEPALIVED_ONLY="vrrp private cdrv" (a subset) runs only those parts,
# while developing; suite.sh's count then fails.
only=" ${MVV_KEEPALIVED_ONLY:-vrrp private cdrv} "
segs=()
for SEG in vrrp private; do [[ $only == *" $SEG "* ]] && segs+=("$SEG"); done
t0=$SECONDS
for SEG in vrrp private; do segment "$SEG"; stop_segment; done
rm -rf "$base_run"

# keepalived -t with vmac_vrrp_mode on our module: the probe passes.
segment vrrp
mkdir -p "$run/r1"
ka_conf r1 200 > "$out/vrrp-test.conf"
o=$(ip netns add ka-t && printf '%s\n' "link add eth0 type veth peer name p0" "link set eth0 up" \
	"addr add 192.168.0.253/24 dev eth0" | ip -n ka-t -batch - &&
	ip netns exec ka-t "$KA_PATCHED" -t -f "$out/vrrp-test.conf" 2>&1)
rc=$?
ip netns del ka-t 2>/dev/null
o=${o//$'\n'/ / }
[ "$rc" = 0 ]
pcheck configtest_accepts_vmac_vrrp_mode $? "keepalived -t (status $rc): $o"
echo "# keepalived -t with vmac_vrrp_mode on macvlan_vrrp: status $rc${o:+: $o}"

# The segments' topologies at the same time (the processes' starts keep
# both CPUs busy), then the NAT listeners and keepalived.
topology_bg() { # segment
	segment "$1"
	ka_topology || { echo "$1: topology failed"; return 1; }
	mkfifo "$run/r1/fifo" "$run/r2/fifo" || return 1
	touch "$run/topology.ok"
	echo "# $1: topology at $((SECONDS - t0)) s"
}
setup() {
	local seg tp=()
	for seg in "${segs[@]}"; do
		topology_bg "$seg" &
		tp+=($!)
	done
	wait "${tp[@]}"
	for seg in "${segs[@]}"; do
		segment "$seg"
		[ -f "$run/topology.ok" ] || return 1
		nat_listener r1 && nat_listener r2 || { echo "$seg: NAT listeners did not start"; return 1; }
		echo "# $seg: NAT listeners at $((SECONDS - t0)) s"
	done
	for seg in "${segs[@]}"; do
		segment "$seg"
		start_ka r1 200 && start_ka r2 100 || { echo "$seg: keepalived did not start"; return 1; }
	done
}
# Into a file, not through a pipe: the listeners and daemons it starts would
# hold a command substitution's pipe open.
if setup > "$out/setup.log" 2>&1; then
	ok keepalived_setup
	grep '^#' "$out/setup.log"
	echo "# set-up of ${#segs[@]} segments: $((SECONDS - t0)) s"
else
	not_ok keepalived_setup "$(tail -n 3 "$out/setup.log" | tr '\n' ' ')"
	for SEG in vrrp private; do segment "$SEG"; stop_segment; done
	finish
fi

pids=()
for SEG in "${segs[@]}"; do
	(
		start=$SECONDS
		segment "$SEG"
		segment_checks
		echo "# $SEG: $((SECONDS - start)) s"
	) > "$out/$SEG" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
for SEG in "${segs[@]}"; do
	segment "$SEG"
	cp "$run/r1/keepalived.log" "$out/$SEG.r1.log" 2>/dev/null
	cp "$run/r2/keepalived.log" "$out/$SEG.r2.log" 2>/dev/null
	stop_segment
done

for SEG in "${segs[@]}"; do
	while IFS= read -r line; do
		case "$line" in
		CHECK$'\t'*)
			IFS=$'\t' read -r _ rc name detail <<<"$line"
			if [ "$rc" = 0 ]; then ok "${SEG}_$name"; else not_ok "${SEG}_$name" "$detail"; fi
			;;
		'#'*) echo "# $SEG: ${line#\# }" ;;
		*) echo "# $SEG: $line" ;;
		esac
	done < "$out/$SEG"
	if grep -q $'^CHECK\t[1-9]' "$out/$SEG"; then
		for r in r1 r2; do
			echo "# $SEG $r keepalived log (tail):"
			grep -v -e 'gratuitous ARP' -e 'Neighbour Advert' "$out/$SEG.$r.log" 2>/dev/null | head -n 40 | sed "s/^/#   /"
		done
	fi
done
echo "# failover segments: $((SECONDS - t0)) s"

# ---- the C driver refuses, nothing half-created -------------------------
# The patched keepalived with vmac_vrrp_mode while the C macvlan.ko owns
# kind macvlan: keepalived -t and start-up refuse with the message, and no
# macvlan is left, in the router's namespace or elsewhere.
c_driver() {
	segment vrrp
	P=kc- run=$base_run/cdrv
	rm -rf "$run"
	mkdir -p "$run/r1"
	ip netns add kc-r1 &&
		printf '%s\n' "link add eth0 type veth peer name peer0" "link set eth0 up" "link set peer0 up" \
			"addr add 192.168.0.253/24 dev eth0" | ip -n kc-r1 -batch - || { echo "set-up failed"; return 1; }
	ka_conf r1 200 > "$run/r1/keepalived.conf"
	local o rc f= m
	o=$(ip netns exec kc-r1 "$KA_PATCHED" -t -f "$run/r1/keepalived.conf" 2>&1)
	rc=$?
	m="refuses MACVLAN_MODE_VRRP (mode 32): Invalid argument"
	[ "$rc" != 0 ] && grep -q "$m" <<<"$o"
	echo "CHECK	$?	c_driver_configtest_refused	keepalived -t status $rc: $(grep -m1 vmac_vrrp_mode <<<"$o")"
	echo "# keepalived -t: status $rc: $(grep -m1 vmac_vrrp_mode <<<"$o")"
	o=$(cd "$run/r1" && TMPDIR=$run/r1 timeout 60 ip netns exec kc-r1 "$KA_PATCHED" -n -l -G \
		-f "$run/r1/keepalived.conf" -p "$run/r1/k.pid" -r "$run/r1/v.pid" 2>&1)
	rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "$m" <<<"$o" && grep -q 'exited with permanent error CONFIG' <<<"$o"
	echo "CHECK	$?	c_driver_startup_refused	status $rc: $(grep -m1 vmac_vrrp_mode <<<"$o"); $(grep -m1 'permanent error' <<<"$o")"
	echo "# start-up: status $rc: $(grep -m1 'permanent error' <<<"$o")"
	local here_links root_links drv
	here_links=$(ip -n kc-r1 -o link show type macvlan)
	root_links=$(ip -o link show type macvlan)
	drv=$(cat /sys/module/macvlan/refcnt 2>/dev/null)
	[ -z "$here_links" ] && [ -z "$root_links" ] && [ -d /sys/module/macvlan ] && [ ! -d /sys/module/macvlan_vrrp ]
	echo "CHECK	$?	c_driver_nothing_created	macvlans in kc-r1: '${here_links}', in the root namespace: '${root_links}'; macvlan.ko loaded: $([ -d /sys/module/macvlan ] && echo yes || echo no)"
	ip netns del kc-r1
}
if [[ $only != *" cdrv "* ]]; then
	echo "# the C driver part skipped (MVV_KEEPALIVED_ONLY)"
elif rmmod macvlan_vrrp && modprobe macvlan; then
	c_driver > "$out/cdrv" 2>&1
	while IFS= read -r line; do
		case "$line" in
		CHECK$'\t'*)
			IFS=$'\t' read -r _ rc name detail <<<"$line"
			if [ "$rc" = 0 ]; then ok "$name"; else not_ok "$name" "$detail"; fi
			;;
		*) echo "# c_driver: ${line#\# }" ;;
		esac
	done < "$out/cdrv"
	rmmod macvlan
else
	not_ok c_driver_configtest_refused "could not swap to the C driver"
	not_ok c_driver_startup_refused "could not swap to the C driver"
	not_ok c_driver_nothing_created "could not swap to the C driver"
fi
if [[ $only == *" cdrv "* ]]; then
	err=$(insmod "$MVV_KO" 2>&1)
	pcheck reload_ours $? "$err"
fi
rm -rf "$base_run"
echo "# keepalived suite: $((SECONDS - t0)) s"
finish
