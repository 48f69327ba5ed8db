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
expect yes '[   12.3] BUG: KASAN: use-after-free in _RNvMs_NtCsb_12macvlan_vrrp4port'
expect yes '[   12.3] UBSAN: array-index-out-of-bounds in net/core/dev.c:123:4'
expect yes '[   12.3] unregister_netdevice: waiting for mv0 to become free. Usage count = 2'
expect yes '[   12.3] ref_tracker: netdev@ffff888004c2e5c8 has 1/1 users at'
expect yes '[  246.1] INFO: task rmmod:171 blocked for more than 122 seconds.'
expect yes '[   99.9] BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 33s!'
expect yes '[   12.3] ODEBUG: free active (active state 0) object: ffff8880 object type: work_struct hint: 0x0'
expect yes '[   12.3] BUG: sleeping function called from invalid context at mm/slub.c:4090'
expect yes 'unreferenced object 0xffff888003a1c000 (size 64):'
expect yes '[   12.3] kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)'
expect yes 'mvv-kmsg: 12 records lost'
expect no  '[    0.00] kmemleak: Kernel memory leak detector initialized (mem pool available: 15666)'
expect no  '[    0.31] kmemleak: Automatic memory scanning thread started'
expect no  '[    0.00] kasan: KernelAddressSanitizer initialized'
expect no  '[    0.20] ODEBUG: selftest passed'
expect no  '[    6.12] macvlan_vrrp: module verification failed: signature and/or required key missing - tainting kernel'
expect no  '[    0.25] rcu: 	RCU lockdep checking is enabled.'
expect no  '[    0.28] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar'
expect no  '[    6.12] macvlan_vrrp: loading out-of-tree module taints kernel.'
expect no  '[    7.57] veth0: entered promiscuous mode'
# Deliberate allocation failures: only their own call trace, inside the
# window the fuzz suite marks, is dropped (mvv_drop_injected_faults).
faults() {
	local want=$1 what=$2 got=no
	[ -n "$(mvv_drop_injected_faults | grep -E "$MVV_SPLAT_RE")" ] && got=yes
	n=$((n + 1))
	if [ "$got" = "$want" ]; then echo "ok $n injected_faults $want: $what"; else fail=$((fail + 1)); echo "not ok $n injected_faults $want: $what"; fi
}
fault_report='[   20.1] FAULT_INJECTION: forcing a failure.\x0aname failslab, interval 1, probability 0, space 0, times 1
[   20.1] CPU: 0 UID: 0 PID: 90 Comm: mvv-harness Tainted: G           O       6.12.118 #1
[   20.1] Call Trace:
[   20.1]  <TASK>
[   20.1]  dump_stack_lvl+0x5d/0x80
[   20.1]  should_fail_ex+0x3c5/0x4a0
[   20.1]  </TASK>'
vmalloc_report='[   20.2] mvv-harness: vmalloc error: size 8192, vm_struct allocation failed, mode:0xdc0(GFP_KERNEL|__GFP_ZERO), nodemask=(null)
[   20.2] Call Trace:
[   20.2]  <TASK>
[   20.2]  </TASK>'
on='[   19.0] mvv-fault-injection: on' off='[   30.0] mvv-fault-injection: off'
faults no "a fault report inside the window" < <(printf '%s\n' "$on" "$fault_report" "$vmalloc_report" "$off")
faults yes "a fault report outside the window" < <(printf '%s\n' "$fault_report")
faults yes "a fault report after the window" < <(printf '%s\n' "$on" "$off" "$fault_report")
faults yes "a WARNING inside a fault's stack dump" < <(printf '%s\n' "$on" "$(head -n4 <<<"$fault_report")" '[   20.1] WARNING: CPU: 1 PID: 7 at net/core/dev.c:1 x+0x1/0x2' '[   20.1]  </TASK>' "$off")
faults yes "a KASAN report inside the window" < <(printf '%s\n' "$on" "$fault_report" '[   21.0] BUG: KASAN: slab-use-after-free in macvlan_handle_frame' "$off")
faults yes "a call trace after a fault's stack dump" < <(printf '%s\n' "$on" "$fault_report" '[   22.0] Call Trace:' "$off")
echo "1..$n"
echo "$((n - fail)) passed, $fail failed"
[ "$fail" = 0 ]
