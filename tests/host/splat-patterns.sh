#!/usr/bin/env bash
# Checks the VM suite's splat pattern against real report headers and
# against benign boot lines, so that the splat check can fail (and only
# when it should). Prints TAP; exits non-zero on a mismatch.
set -uo pipefail
. "$(dirname "$0")/../vm/lib.sh"
n=0 fail=0
expect() {
	local want=$1 line=$2 got=no
	grep -qE "$MVV_SPLAT_RE" <<<"$line" && got=yes
	n=$((n + 1))
	if [ "$got" = "$want" ]; then echo "ok $n splat_re $want: $line"; else fail=$((fail + 1)); echo "not ok $n splat_re $want: $line"; fi
}
expect yes '[   12.3] BUG: unable to handle page fault for address: 0000000000000008'
expect yes '[   12.3] WARNING: CPU: 1 PID: 7 at net/core/dev.c:11050 unregister_netdevice_many+0x1/0x2'
expect yes '[   12.3] WARNING: possible recursive locking detected'
expect yes '[   12.3] WARNING: suspicious RCU usage'
expect yes '[   12.3] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:'
expect yes '[   12.3] refcount_t: underflow; use-after-free.'
expect yes '[   12.3] Oops: general protection fault, probably for non-canonical address'
expect yes '[   12.3] BUG: KASAN: slab-use-after-free in macvlan_handle_frame'
expect yes 'unreferenced object 0xffff888003a1c000 (size 64):'
expect yes '[   12.3] kmemleak: 1 new suspected memory leaks'
expect no  '[    0.25] rcu: 	RCU lockdep checking is enabled.'
expect no  '[    0.28] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar'
expect no  '[    6.12] macvlan_vrrp: loading out-of-tree module taints kernel.'
expect no  '[    7.57] veth0: entered promiscuous mode'
echo "1..$n"
echo "$((n - fail)) passed, $fail failed"
[ "$fail" = 0 ]
