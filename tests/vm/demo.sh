#!/usr/bin/env bash
# The two-router demo from the 2014 VyOS write-up, inside the VM:
#
#   gw (10.0.0.1) --- sw (bridge) --- r1 eth0 192.168.0.253/24, eth0v10 10.0.0.2/24 (master)
#                                 \-- r2 eth0 192.168.0.252/24, eth0v10 (backup, down)
#
# eth0v10 is a macvlan with the VRRP virtual MAC 00:00:5e:00:01:0a, created
# by macvlan_vrrp.ko. The demo pings the gateway from the master and prints
# each router's neighbour tables.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MODE=${MVV_DEMO_MODE:-vrrp}
VMAC=00:00:5e:00:01:0a
CLI=$MVV_TOP/target/release/vrrpctl

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

insmod "$MVV_KO"
[ -d /sys/module/macvlan ] && { echo "error: the C macvlan.ko is loaded" >&2; exit 1; }

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

make_vmac() { # ns
	if [ "$MODE" = vrrp ] && [ -x "$CLI" ]; then
		in_ns "$1" "$CLI" create eth0v10 --link eth0 --vrid 10
	else
		ip -n "$1" link add link eth0 name eth0v10 address "$VMAC" type macvlan mode private
	fi
	# The router sysctls VRRP daemons set (see Documentation/macvlan-vrrp.rst).
	in_ns "$1" sysctl -qw net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_filter=1 \
		net.ipv4.conf.eth0v10.arp_ignore=1 net.ipv4.conf.eth0v10.accept_local=1 \
		net.ipv4.conf.eth0v10.rp_filter=0 net.ipv4.conf.all.rp_filter=0
}
make_vmac r1
make_vmac r2
ip -n r1 addr add 10.0.0.2/24 dev eth0v10
ip -n r1 link set eth0v10 up
ip -n r1 route add default via 10.0.0.1
# r2 is the backup: its upper device exists but is down.

say "Driver of r1's eth0v10 (must be macvlan_vrrp, not the C macvlan):"
in_ns r1 ethtool -i eth0v10 | head -n 2
in_ns r1 ip -d link show eth0v10 | sed -n '1,3p'

say "r1 (master) pings the gateway 10.0.0.1 through eth0v10:"
in_ns r1 ping -c 3 -i 0.3 -W 2 10.0.0.1 || true

say "r1 neighbour table on eth0v10 (the VIP's device):"
in_ns r1 ip neigh show dev eth0v10
echo "  -> The gateway's ARP reply to 00:00:5e:00:01:0a stayed on eth0v10, so the"
echo "     entry is resolved. The VyOS 2014 mode moved it to eth0 and left it FAILED."
say "r1 neighbour table on eth0 (the lower device):"
in_ns r1 ip neigh show dev eth0
say "gateway neighbour table:"
in_ns gw ip neigh show
echo "  -> The gateway maps the VIP 10.0.0.2 to the virtual MAC $VMAC."
say "r2 (backup) neighbour tables:"
in_ns r2 ip neigh show
echo "  -> r2 has not talked to the gateway: its eth0v10 carries no address."

say "r1 sends 5 VRRPv2 advertisements for group 10 from $VMAC."
echo "  r2's eth0v10 is up with the same MAC, quiet (no address, no IPv6), as a backup's is."
in_ns r2 sysctl -qw net.ipv6.conf.eth0v10.disable_ipv6=1 2>/dev/null || true
ip -n r2 link set eth0v10 up
in_ns r2 tcpdump -l -n -i eth0 -c 5 'ip proto 112' > /tmp/demo-r2-eth0.txt 2>/dev/null &
dump=$!
sleep 1
in_ns r1 python3 - "$VMAC" <<'PY'
import socket, struct, sys
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
vrrp = bytearray(struct.pack("!BBBBBBH4s", 0x21, 10, 200, 1, 0, 1, 0, socket.inet_aton("10.0.0.2")))
vrrp[6:8] = struct.pack("!H", csum(bytes(vrrp)))
ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(vrrp), 0, 0, 255, 112, 0,
                           socket.inet_aton("192.168.0.253"), socket.inet_aton("224.0.0.18")))
ip[10:12] = struct.pack("!H", csum(bytes(ip)))
mac = bytes(int(x, 16) for x in sys.argv[1].split(":"))
frame = bytes.fromhex("01005e000012") + mac + b"\x08\x00" + bytes(ip) + bytes(vrrp)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0v10", 0))
for _ in range(5):
    s.send(frame)
PY
sleep 2
kill "$dump" 2>/dev/null || true
wait "$dump" 2>/dev/null || true
say "r2: advertisements captured on eth0 (tcpdump taps before the rx handler; the counter below says where they went):"
cat /tmp/demo-r2-eth0.txt
say "r2: vrrpctl show eth0v10"
in_ns r2 "$CLI" show eth0v10 || in_ns r2 ethtool -S eth0v10
echo "  -> vrrp_adverts_to_lower counts the advertisements left on eth0 for the"
echo "     VRRP daemon. In private mode r2's eth0v10 would have swallowed them."

for ns in gw sw r1 r2; do ip netns del "$ns"; done
rmmod macvlan_vrrp
splats=$(mvv_splats)
if [ -n "$splats" ] || mvv_bad_taint; then
	echo "error: kernel splat during the demo:" >&2
	echo "$splats" >&2
	exit 1
fi
say "demo done: no kernel splat, taint $(cat /proc/sys/kernel/tainted) (O: out-of-tree module)"
