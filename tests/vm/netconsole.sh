#!/usr/bin/env bash
# netconsole through a macvlan_vrrp upper device: the kernel's netpoll path
# (ndo_netpoll_setup on the upper device, netpoll transmit through the
# lower device). netconsole only binds devices of the initial netns, so the
# upper device lives there; the receiver is in its own namespace.
#
# Exit: 0 passed, 1 failed, 77 cannot run here (no netconsole in the kernel).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

nc=/sys/kernel/config/netconsole
[ -d /sys/kernel/config ] || exit 77
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config 2>/dev/null
[ -d "$nc" ] || exit 77

probe="mvv-netconsole-probe-$$"
cleanup() {
	[ -d "$nc/mvv" ] && { echo 0 > "$nc/mvv/enabled"; rmdir "$nc/mvv"; } 2>/dev/null
	ip link del ncmv0 2>/dev/null
	ip link del ncv0 2>/dev/null
	ip netns del ncpeer 2>/dev/null
}
trap cleanup EXIT

ip netns add ncpeer
ip link add ncv0 type veth peer name ncv1 netns ncpeer
ip -n ncpeer link set ncv1 up
ip -n ncpeer addr add 10.77.0.1/24 dev ncv1
ip link set ncv0 up
ip link add link ncv0 name ncmv0 type macvlan mode private
drv=$(ethtool -i ncmv0 | sed -n 's/^driver: //p')
[ "$drv" = macvlan_vrrp ] || { echo "# ncmv0 is driven by '$drv', not macvlan_vrrp"; exit 1; }
ip addr add 10.77.0.2/24 dev ncmv0
ip link set ncmv0 up
peer_mac=$(cat /sys/class/net/ncv1/address 2>/dev/null || ip -n ncpeer -j link show ncv1 | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["address"])')

out=$(mktemp)
ip netns exec ncpeer python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.77.0.1", 6666)); s.settimeout(8)
try:
    while True:
        data, peer = s.recvfrom(4096)
        sys.stdout.write("%s %s\n" % (peer[0], data.decode(errors="replace").strip())); sys.stdout.flush()
except socket.timeout:
    pass
' > "$out" &
listener=$!
sleep 1

mkdir "$nc/mvv"
echo ncmv0 > "$nc/mvv/dev_name"
echo 10.77.0.2 > "$nc/mvv/local_ip"
echo 10.77.0.1 > "$nc/mvv/remote_ip"
echo 6666 > "$nc/mvv/remote_port"
echo "$peer_mac" > "$nc/mvv/remote_mac"
if ! echo 1 > "$nc/mvv/enabled"; then
	echo "# enabling netconsole on ncmv0 failed: $(dmesg | grep -i netpoll | tail -n 3 | tr '\n' ' ')"
	exit 1
fi
old=$(cut -f1 /proc/sys/kernel/printk)
dmesg -n 8
echo "<6>$probe" > /dev/kmsg
dmesg -n "$old"
wait "$listener"
if grep -q "^10.77.0.2 .*$probe" "$out"; then
	echo "# netconsole line received from 10.77.0.2 through ncmv0"
	rc=0
else
	echo "# no netconsole line from 10.77.0.2; received: $(head -c 300 "$out")"
	rc=1
fi
rm -f "$out"
exit "$rc"
