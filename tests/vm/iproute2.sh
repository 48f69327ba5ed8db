#!/usr/bin/env bash
# The patched iproute2 (patches/iproute2/, built by scripts/build-iproute2)
# against macvlan_vrrp.ko, then against the C macvlan.ko, which must refuse
# mode vrrp and create nothing. Runs with macvlan_vrrp loaded and leaves it
# loaded. Prints TAP and the closing count line.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

IP=${MVV_IP:-}
ns=mvv-ip2
vmac=00:00:5e:00:01:0a
n=0 pass=0 fail=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1${2:+ # $2}"; }
check() { if [ "$2" = 0 ]; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }
finish() {
	ip netns del "$ns" 2>/dev/null
	echo "1..$n"
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
}

echo "KTAP version 1"
if [ -z "$IP" ] || [ ! -x "$IP" ]; then
	not_ok patched_ip "no patched ip at '${IP}' (scripts/build-iproute2)"
	finish
fi
echo "# patched ip: $IP ($("$IP" -V))"
ok patched_ip

ipn() { "$IP" -n "$ns" "$@"; }
# The field of the first device of `ip -d -j link show DEV`.
# (sed, not python3: a python3 start costs seconds under TCG.)
json_mode() {
	local m
	m=$(ipn -d -j link show "$1" | grep -o '"info_data":{[^}]*}' | grep -o '"mode":"[^"]*"')
	m=${m#\"mode\":\"}
	echo "${m%\"}"
}
driver() { ip netns exec "$ns" ethtool -i "$1" 2>/dev/null | sed -n 's/^driver: //p'; }

ip netns add "$ns"
ipn link add eth0 type veth peer name peer0
ipn link set eth0 up

out=$("$IP" link help macvlan 2>&1)
grep -q 'MODE: .*| vrrp' <<<"$out"
check help_lists_vrrp $? "ip link help macvlan: $(head -n3 <<<"$out" | tr '\n' ' ')"

err=$(ipn link add link eth0 name eth0v10 address "$vmac" type macvlan mode vrrp 2>&1)
check create_mode_vrrp $? "$err"
d=$(driver eth0v10)
[ "$d" = macvlan_vrrp ]
check created_by_ours $? "driver '$d'"

out=$(ipn -d link show eth0v10)
grep -q 'macvlan mode vrrp ' <<<"$out"
check show_mode_vrrp $? "$(grep macvlan <<<"$out")"

m=$(json_mode eth0v10)
[ "$m" = vrrp ]
check json_mode_vrrp $? "\"mode\": \"$m\""

grep -q "link/ether $vmac " <<<"$out"
check vmac_set $? "$(grep link/ether <<<"$out")"

ipn link set eth0v10 type macvlan mode private &&
	[ "$(json_mode eth0v10)" = private ] &&
	ipn link set eth0v10 type macvlan mode vrrp &&
	[ "$(json_mode eth0v10)" = vrrp ]
check change_private_and_back $? "mode now $(json_mode eth0v10)"

err=$(ipn link add link eth0 name bad0 type macvlan mode vrrrp 2>&1)
rc=$?
[ "$rc" != 0 ] && grep -q 'argument of "mode" must be .*"vrrp", not "vrrrp"' <<<"$err" &&
	! ipn link show bad0 >/dev/null 2>&1
check unknown_mode_refused $? "status $rc: $err"

ipn link del eth0v10 && ! ipn link show eth0v10 >/dev/null 2>&1
check delete $?

# The C driver refuses mode 32 with EINVAL and creates nothing.
if rmmod macvlan_vrrp && modprobe macvlan; then
	err=$(ipn link add link eth0 name eth0v10 address "$vmac" type macvlan mode vrrp 2>&1)
	rc=$?
	[ "$rc" != 0 ] && grep -q 'RTNETLINK answers: Invalid argument' <<<"$err" &&
		! ipn link show eth0v10 >/dev/null 2>&1
	check c_driver_refuses_vrrp $? "status $rc: $err"
	ipn link add link eth0 name eth0v11 type macvlan mode private &&
		[ "$(driver eth0v11)" = macvlan ] && ipn link del eth0v11
	check c_driver_still_private $?
	rmmod macvlan
else
	not_ok c_driver_refuses_vrrp "could not swap to the C driver"
	not_ok c_driver_still_private "could not swap to the C driver"
fi
err=$(insmod "$MVV_KO" 2>&1)
check reload_ours $? "$err"
finish
