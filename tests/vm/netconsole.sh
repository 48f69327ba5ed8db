#!/usr/bin/env bash
# netconsole through a macvlan_vrrp upper device: the kernel's netpoll path
# (ndo_netpoll_setup on the upper device, netpoll transmit on the lower
# device). netconsole binds devices of the initial netns only, and veth
# refuses netpoll (IFF_DISABLE_NETPOLL), so the lower device is a dummy,
# which counts what netpoll hands it: the message must show up in the dummy's
# tx counters and not through the upper device's qdisc path.
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
	ip link del ncdummy0 2>/dev/null
}
trap cleanup EXIT

ip link add ncdummy0 type dummy
ip link set ncdummy0 up
ip link add link ncdummy0 name ncmv0 type macvlan mode private
drv=$(ethtool -i ncmv0 | sed -n 's/^driver: //p')
[ "$drv" = macvlan_vrrp ] || { echo "# ncmv0 is driven by '$drv', not macvlan_vrrp"; exit 1; }
# Quiet: no IPv6 (DAD, MLD) or other traffic of the upper device's own.
sysctl -qw net.ipv6.conf.ncmv0.disable_ipv6=1 2>/dev/null || true
ip addr add 10.77.0.2/24 dev ncmv0
ip link set ncmv0 up
tx_packets() { cat "/sys/class/net/$1/statistics/tx_packets"; }

mkdir "$nc/mvv"
echo ncmv0 > "$nc/mvv/dev_name"
echo 10.77.0.2 > "$nc/mvv/local_ip"
echo 10.77.0.1 > "$nc/mvv/remote_ip"
echo 6666 > "$nc/mvv/remote_port"
echo 02:00:00:00:77:01 > "$nc/mvv/remote_mac"
if ! echo 1 > "$nc/mvv/enabled"; then
	echo "# enabling netconsole on ncmv0 failed: $(dmesg | grep -i netpoll | tail -n 3 | tr '\n' ' ')"
	exit 1
fi
lower0=$(tx_packets ncdummy0) upper0=$(tx_packets ncmv0)
old=$(cut -f1 /proc/sys/kernel/printk)
dmesg -n 8
for i in 1 2 3; do echo "<6>$probe $i" > /dev/kmsg; done
dmesg -n "$old"
lower=$(( $(tx_packets ncdummy0) - lower0 )) upper=$(( $(tx_packets ncmv0) - upper0 ))
echo "# 3 netconsole lines: lower ncdummy0 sent $lower frames, upper ncmv0's own tx path $upper"
# Through the driver's netpoll, the lower device sends them without the
# upper device's own transmit path (which would call dev_queue_xmit with
# interrupts off and splat). Anything else the upper device sends goes
# through both counters, so the difference counts netpoll frames.
[ $((lower - upper)) -ge 3 ]
