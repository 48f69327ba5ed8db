#!/usr/bin/env bash
# VRRP mode on the lower devices routers use, with Debian's FRR vrrpd on
# two routers. One pair of routers (one zebra and one vrrpd each) carries
# nine segments, each on its own wires, switch bridge and gateway NIC, so
# that a cable pull or a slave failure in one leaves the others alone:
#
#   veth            s1a, a veth (the contrast with private mode, on the
#                   same topology, is tests/vm/frr.sh)
#   vlan            s2a.100 on a veth, reorder_hdr on
#   vlan_noreorder  s3a.100 with reorder_hdr off: the VLAN core puts the
#                   tag back in the frame, the classifier reads past it
#   bond            bond4, active-backup over two veths, each to its own
#                   switch port; the active slave of the backup, then of the
#                   master, fails in steady state
#   bond_vlan       bond5.100, the usual production stack
#   v6_veth, v6_vlan  VRRPv3 with an IPv6 VIP on a 00:00:5e:00:02:0a upper
#   private         the same veth set-up with private-mode uppers: the
#                   backup's upper swallows the master's adverts and both
#                   routers are master (the C driver's run of this contrast
#                   is tests/vm/frr.sh)
#   two_groups      VRIDs 10 and 20 on one veth, masters on different
#                   routers; a router's own two uppers never deliver to each
#                   other (bridge mode does, measured as the contrast); and
#                   a tagged advert for a VLAN with no device (tag in the
#                   skb's metadata) is handled as in private mode
#
# Segment N uses 10.0.N.0/24 or fd00:N::/64, router NICs sNa (and sNb),
# uppers sNvVRID, gateway NIC gN, switch ports sw-rM-N. The segments' checks
# run at the same time and are printed in the order above. One process
# start costs about half a second of CPU under TCG with the debug kernel,
# so the daemons are started once, not once per lower device.
#
# Runs with macvlan_vrrp loaded and leaves it loaded. Prints TAP and the
# closing count line.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

IP=${MVV_IP:-}
FRR=/usr/lib/frr
out=$(mktemp -d /tmp/mvv-lowers.XXXXXX)

n=0 pass=0 fail=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1${2:+ # $2}"; }

# label  KIND  FAMILY  VRIDS  r1's and r2's priorities  extra checks, in
# the order they are reported.
matrix=(
	"veth veth 4 10 200 100 -"
	"vlan vlan 4 10 200 100 -"
	"vlan_noreorder vlan-noreorder 4 10 200 100 -"
	"bond bond 4 10 200 100 bond_slaves"
	"bond_vlan bond-vlan 4 10 200 100 -"
	"v6_veth veth 6 10 200 100 -"
	"v6_vlan vlan 6 10 200 100 -"
	"private veth 4 10 200 100 private_splits_brain"
	"two_groups veth 4 10_20 200_100 100_200 two_groups"
)

# MVV_LOWERS_ONLY="label..." runs only those segments (while developing,
# or to show a fix failing on an old module); suite.sh's count then fails.
if [ -n "${MVV_LOWERS_ONLY:-}" ]; then
	kept=()
	for row in "${matrix[@]}"; do
		[[ " $MVV_LOWERS_ONLY " == *" ${row%% *} "* ]] && kept+=("$row")
	done
	matrix=("${kept[@]}")
fi

echo "KTAP version 1"
if [ -z "$IP" ] || [ ! -x "$IP" ] || [ ! -x "$FRR/vrrpd" ] || ! command -v vtysh >/dev/null; then
	not_ok lowers_tools "need the patched ip (MVV_IP='$IP') and Debian's frr ($FRR/vrrpd, vtysh)"
	echo "1..$n"
	echo "$pass passed, $fail failed"
	exit 1
fi
ok lowers_tools

# ---- inside one segment's subshell -----------------------------------
# Checks are written as "CHECK<tab>rc<tab>name<tab>detail" lines and notes
# as "# text"; the parent numbers them.
check() { printf 'CHECK\t%s\t%s\t%s\n' "$2" "$1" "${3:-}"; }
note() { echo "# $*"; }

# An AF_PACKET sender: $4 copies of the frame $3 (hex) out of device $2.
send_frames() { # ns dev hex count
	in_ns "$1" "$MVV_HARNESS" send --dev "$2" --hex "$3" --count "$4"
}
dev_stat() { in_ns "$1" cat "/sys/class/net/$2/statistics/$3"; }

# A VRRPv2 advertisement of VRID 10 from its VMAC (00:00:5e:00:01:0a) to
# 224.0.0.18, priority 50, VIP 10.0.0.2, from 192.168.0.99, checksums
# right. Spelled out: a python3 start costs seconds under TCG.
advert_hex() {
	echo 01005e00001200005e00010a08004500002800000000ff701a48c0a80063e0000012210a32010001a2f10a0000020000000000000000
}

# An active-backup slave of router $1 fails (its switch port down) while
# r1 is master: no role change for 6 s, no second master, and r2's vrrpd
# still hears r1.
slave_fails() { # router
	local r=$1 active port s rx0 rx1 bad= now
	active=$(in_ns "$r" cat "/sys/class/net/$BOND/bonding/active_slave")
	case "$active" in
	"$NIC") port=sw-$r$SFX ;;
	"$NIC_B") port=sw-$r${SFX}b ;;
	*) echo "$r has no active slave ('$active')"; return 1 ;;
	esac
	rx0=$(adverts_rx r2)
	ipn sw link set "$port" down
	s=$(vrrp_watch "$first_vrid" --while "Master Backup" --seconds 6 --interval-ms 500) ||
		bad="role change: $(as_both "$s") after ${s##*, }"
	rx1=$(adverts_rx r2)
	now=$(in_ns "$r" cat "/sys/class/net/$BOND/bonding/active_slave")
	ipn sw link set "$port" up
	[ -n "$bad" ] && { echo "$r lost $active: $bad"; return 1; }
	[ "$now" != "$active" ] || { echo "$r's bond did not leave $active"; return 1; }
	[ "$rx1" -gt "$rx0" ] || { echo "$r lost $active: r2 vrrpd adverRx $rx0 -> $rx1"; return 1; }
	echo "$r lost $active, bond moved to $now: r1 Master, r2 Backup throughout; r2 adverRx $rx0 -> $rx1"
}

bond_slaves() {
	local o
	wait_for 15 "r1 Master, r2 Backup" >/dev/null
	o=$(slave_fails r2)
	check frr_backup_slave_fails $? "$o"
	note "$o"
	mvv_nap 2
	o=$(slave_fails r1)
	check frr_master_slave_fails $? "$o"
	note "$o"
}

# Counts frames of the test ethertype 0x88b5 received on device $2 of
# namespace $1 (an nft netdev ingress counter named $3), so that no other
# frame (ARP, neighbour discovery, the daemons' adverts) is counted.
probe_add() { # ns dev name
	in_ns "$1" nft -f - <<-EOF
	table netdev mvvprobe_$3 {
		chain c {
			type filter hook ingress device "$2" priority 0;
			ether type 0x88b5 counter
		}
	}
	EOF
}
probe_count() { # ns name
	in_ns "$1" nft list table netdev "mvvprobe_$2" | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

# 50 frames from r1's upper of VRID 10 to the MAC of its upper of VRID 20,
# in mode $1:
# where they land. Prints "local L wire W".
own_uppers() { # mode
	local l0 w0 l1 w1 frame
	printf 'link set %s type macvlan mode %s\n' "$(upper 10)" "$1" "$(upper 20)" "$1" |
		"$IP" -n "${P}r1" -batch - || return 1
	frame="$(vmac 20 | tr -d :)$(vmac 10 | tr -d :)88b5$(printf '%0100d' 0)"
	l0=$(probe_count r1 local) w0=$(probe_count sw wire)
	send_frames r1 "$(upper 10)" "$frame" 50
	mvv_nap 0.5
	l1=$(probe_count r1 local) w1=$(probe_count sw wire)
	echo "local $((l1 - l0)) wire $((w1 - w0))"
}

# Tagged adverts for VID 200, which has no VLAN device on r2: the core
# leaves the tag in the skb's metadata. Never counted as steered; handed to
# the upper as private mode does (the C driver's private mode delivers them
# to the upper too, where the core then drops them as for another host).
# The same adverts untagged are the control: they are steered.
tag_in_metadata() {
	local st0 st1 st2 rx1 rx2 plain tagged
	plain=$(advert_hex)
	# The same with an 802.1Q tag of VID 200 after the MAC addresses.
	tagged=${plain:0:24}810000c8${plain:24}
	st0=$(steered r2)
	send_frames gw "$GWNIC" "$plain" 20
	mvv_nap 0.5
	st1=$(steered r2) rx1=$(dev_stat r2 "$UPPER" rx_packets)
	send_frames gw "$GWNIC" "$tagged" 20
	mvv_nap 0.5
	st2=$(steered r2) rx2=$(dev_stat r2 "$UPPER" rx_packets)
	local msg="untagged: steered +$((st1 - st0)); tagged VID 200: steered +$((st2 - st1)), upper rx +$((rx2 - rx1))"
	[ $((st1 - st0)) -ge 20 ] && [ "$st2" = "$st1" ] && [ $((rx2 - rx1)) -ge 20 ] || { echo "$msg"; return 1; }
	echo "$msg"
}

two_groups() {
	local s o rc
	s=$(wait_for 20 "r1 Master, r2 Backup" 10)
	rc=$?
	o=$(wait_for 20 "r1 Backup, r2 Master" 20)
	[ "$rc" = 0 ] && [ $? = 0 ]
	check frr_election $? "VRID 10: $s; VRID 20: $o"
	note "VRID 10: $s; VRID 20: $o"
	o=$(never_two_masters 8)
	check frr_no_split_brain $? "$o"
	note "$o"
	probe_add r1 "$(upper 20)" local && probe_add sw "sw-r1$SFX" wire
	o=$(own_uppers vrrp)
	[ "$o" = "local 0 wire 50" ]
	check own_uppers_not_local $? "VRRP mode: $o (want local 0 wire 50)"
	note "r1 $(upper 10) -> $(upper 20)'s MAC, 50 frames, VRRP mode: $o"
	o=$(own_uppers bridge)
	[ "$o" = "local 50 wire 0" ]
	check bridge_mode_contrast $? "bridge mode: $o (want local 50 wire 0)"
	note "the same in bridge mode: $o"
	own_uppers vrrp >/dev/null
}

# Private-mode uppers: the backup's upper device swallows the master's
# advertisements, so vrrpd on the lower never hears them: both master.
private_splits_brain() {
	local s drv
	drv=$(in_ns r1 ethtool -i "$UPPER" | sed -n 's/^driver: //p')
	s=$(wait_for 20 "r1 Master, r2 Master")
	local rc=$?
	if [ "$rc" = 0 ]; then
		mvv_nap 3
		s=$(both)
	fi
	[ "$rc" = 0 ] && [ "$s" = "r1 Master, r2 Master" ] && [ "$drv" = macvlan_vrrp ]
	check frr_splits_brain $? "expected both master with macvlan_vrrp's private mode, saw: $s (driver $drv)"
	note "private mode, macvlan_vrrp: $s (r2 vrrpd adverRx $(adverts_rx r2))"
}

# The settings of segment $1 (its row's index from 1) for frr-lib.
segment() { # number label kind family vrids
	NET=$1 KIND=$3 FAMILY=$4 VRIDS=${5//_/ }
	NIC=s$1a NIC_B=s$1b BOND=bond$1 GWNIC=g$1 UPPER_PREFIX=s$1 SFX=-$1
	frr_derive
}

# ---- the parent ------------------------------------------------------
P=lw-
. "$here/frr-lib.sh"
t0=$SECONDS
teardown
setup() {
	local k=0 row label kind family vrids p1 p2 extra
	topology_namespaces || return 1
	mkdir -p "$run/r1" "$run/r2"
	: > "$run/r1/vrrpd.conf"
	: > "$run/r2/vrrpd.conf"
	for row in "${matrix[@]}"; do
		read -r label kind family vrids p1 p2 extra <<<"$row"
		k=$((k + 1))
		segment "$k" "$label" "$kind" "$family" "$vrids"
		case "$extra" in
		private_splits_brain) segment_lines private || return 1 ;;
		*) segment_lines vrrp || return 1 ;;
		esac
		vrrpd_lines "${p1//_/ }" >> "$run/r1/vrrpd.conf"
		vrrpd_lines "${p2//_/ }" >> "$run/r2/vrrpd.conf"
	done
	run_batches "$IP" || { echo "the segments' set-up failed"; return 1; }
	# Before the daemons send adverts, which would be steered too.
	k=0
	for row in "${matrix[@]}"; do
		read -r label kind family vrids p1 p2 extra <<<"$row"
		k=$((k + 1))
		[ "$extra" = two_groups ] || continue
		segment "$k" "$label" "$kind" "$family" "$vrids"
		local o
		o=$(tag_in_metadata)
		check tag_in_metadata_not_steered $? "$o" > "$out/$label.pre"
		note "$o" >> "$out/$label.pre"
	done
	nat_listener r1 && nat_listener r2 || { echo "NAT listeners did not start"; return 1; }
	start_daemons r1 && start_daemons r2 || { echo "daemons failed to start"; return 1; }
}
# Into a file, not through a pipe: the listeners and daemons it starts
# would hold a command substitution's pipe open.
if setup > "$out/setup.log" 2>&1; then
	ok lowers_setup
	echo "# set-up of ${#matrix[@]} segments: $((SECONDS - t0)) s"
else
	not_ok lowers_setup "$(tail -n 3 "$out/setup.log" | tr '\n' ' ')"
	teardown
	echo "1..$n"
	echo "$pass passed, $fail failed"
	exit 1
fi

k=0 pids=()
for row in "${matrix[@]}"; do
	read -r label kind family vrids p1 p2 extra <<<"$row"
	k=$((k + 1))
	(
		start=$SECONDS
		segment "$k" "$label" "$kind" "$family" "$vrids"
		[ -f "$out/$label.pre" ] && cat "$out/$label.pre"
		case "$extra" in
		two_groups) two_groups ;;
		private_splits_brain) private_splits_brain ;;
		*) failover_suite; [ "$extra" = - ] || "$extra" ;;
		esac
		echo "# $label: $((SECONDS - start)) s"
	) > "$out/$label" 2>&1 &
	pids+=($!)
done
# Only the segments: the NAT listeners are this shell's jobs too.
wait "${pids[@]}"
teardown

for row in "${matrix[@]}"; do
	read -r label _ <<<"$row"
	while IFS= read -r line; do
		case "$line" in
		CHECK$'\t'*)
			IFS=$'\t' read -r _ rc name detail <<<"$line"
			if [ "$rc" = 0 ]; then ok "${label}_${name#frr_}"; else not_ok "${label}_${name#frr_}" "$detail"; fi
			;;
		'#'*) echo "# $label: ${line#\# }" ;;
		*) echo "# $label: $line" ;;
		esac
	done < "$out/$label"
done
echo "# matrix: $((SECONDS - t0)) s, ${#matrix[@]} segments on one pair of routers"
rm -rf "$out"
echo "1..$n"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
