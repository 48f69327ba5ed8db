# shellcheck shell=bash
# Helpers for scripts that run inside the test VM. Sourced.

MVV_TOP=${MVV_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MVV_KO=${MVV_KO:-$MVV_TOP/macvlan_vrrp.ko}
MVV_HARNESS=${MVV_HARNESS:-$MVV_TOP/target/release/mvv-harness}
# The vrrp suite's transcript of macvlan_vrrp (suite.sh writes it; the
# upstream suite compares the patched C driver's with it).
MVV_VRRP_TRANSCRIPT=${MVV_VRRP_TRANSCRIPT:-/tmp/mvv-vrrp-rust.transcript}

# Kernel reports that fail a run, wherever they appear since boot:
# oopses, BUG/WARN (lockdep, KASAN, the workqueue watchdog, sleeping in
# atomic context and DEBUG_NET's checks print one of these), UBSAN,
# refcount_t and ref_tracker leaks, debug-objects, RCU stalls, hung tasks,
# kmemleak's report, a netdev whose references never drop, and the kmsg
# reader's own record of lost records. Lockdep reports begin with
# "WARNING:" too; the explicit phrases catch them should the format change.
MVV_SPLAT_RE='(^|[^A-Z])BUG:|WARNING:|Oops|KASAN:|UBSAN:|general protection fault|Kernel panic|possible recursive locking|possible circular locking|inconsistent lock state|suspicious RCU usage|rcu: INFO: rcu_.* detected stalls|self-detected stall|refcount_t:|ref_tracker: .* has [0-9]+/[0-9]+ users|ODEBUG: .* object type:|INFO: task .* blocked for more than|workqueue lockup|kmemleak: [0-9]+ new suspected memory leaks|unreferenced object 0x|unregister_netdevice: waiting for|Call Trace:|mvv-kmsg: [0-9]+ records lost'

# Printed on the console the moment they appear (the host's vm-run stops the
# VM on the first "waiting for": rmmod then sleeps uninterruptibly).
MVV_KMSG_ALERTS=('unregister_netdevice: waiting for' 'BUG:' 'WARNING:' 'UBSAN:' 'Kernel panic' 'INFO: task ')

MVV_KMSG_LOG=${MVV_KMSG_LOG:-/tmp/mvv-kmsg.log}
MVV_KMEMLEAK=/sys/kernel/debug/kmemleak

# Taint flags that fail a run: W (warning, bit 9) and D (died, bit 7).
mvv_bad_taint() {
	local t
	t=$(cat /proc/sys/kernel/tainted)
	(( t & (1 << 9 | 1 << 7) ))
}

# Starts the continuous kernel-log reader (first thing in a VM run): from
# the oldest record still in the ring buffer, then every new one.
mvv_kmsg_start() {
	[ -n "${MVV_KMSG_PID:-}" ] && return 0
	[ -x "$MVV_HARNESS" ] || return 1
	: > "$MVV_KMSG_LOG"
	local args=() a
	for a in "${MVV_KMSG_ALERTS[@]}"; do args+=(--alert "$a"); done
	"$MVV_HARNESS" kmsg --log "$MVV_KMSG_LOG" "${args[@]}" &
	MVV_KMSG_PID=$!
	# Until it has read the backlog, a check would miss the boot messages.
	local i
	for i in $(seq 50); do
		[ -s "$MVV_KMSG_LOG" ] && break
		sleep 0.1
	done
	[ -s "$MVV_KMSG_LOG" ]
}

# The kernel log since boot: the reader's file, or dmesg without a reader.
mvv_kernel_log() {
	if [ -n "${MVV_KMSG_PID:-}" ]; then
		cat "$MVV_KMSG_LOG"
	else
		dmesg
	fi
}

mvv_splats() {
	mvv_kernel_log | mvv_drop_injected_faults | grep -E "$MVV_SPLAT_RE" || true
}

# The report lines and what follows them, for a failure's diagnostics.
mvv_splat_context() {
	mvv_kernel_log | mvv_drop_injected_faults | grep -E -A25 "$MVV_SPLAT_RE" | head -n "${1:-120}"
}

# Deliberate allocation failures (the fuzz suite's FAILSLAB and fail-nth)
# print a report with a call trace: "FAULT_INJECTION: forcing a failure",
# or warn_alloc's "vmalloc error" / "page allocation failure" when the
# failed allocation was a vmalloc fallback's. The suite writes
# "mvv-fault-injection: on" and "... off" to the kernel log around them.
# Inside that window, and only from such a header to the end of its stack
# dump ("</TASK>"), the "Call Trace:" line is dropped; every other line is
# kept, so a real report (WARNING:, BUG:, KASAN:, ...) inside the window,
# even inside a fault's stack dump, still fails the run. The same rule as
# drop_injected_fault_traces in tools/harness/src/kmsg.rs.
mvv_drop_injected_faults() {
	awk '
	{ t = $0; sub(/^\[[ 0-9.]+\] /, "", t) }
	index(t, "mvv-fault-injection: on") { win = 1; print; next }
	index(t, "mvv-fault-injection: off") { win = 0; inf = 0; print; next }
	win && (index(t, "FAULT_INJECTION: forcing a failure") || index(t, ": vmalloc error: size") || index(t, " page allocation failure: order:")) { inf = 1; print; next }
	inf && t ~ /^[ \t]*<\/TASK>[ \t]*$/ { inf = 0; print; next }
	inf && t ~ /^[ \t]*Call Trace:[ \t]*$/ { next }
	{ print }'
}

# kmemleak: automatic scanning off, and what the kernel itself leaked while
# booting forgotten, before the module loads. Returns 1 without kmemleak.
mvv_kmemleak_prepare() {
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
	[ -w "$MVV_KMEMLEAK" ] || return 1
	echo scan=off > "$MVV_KMEMLEAK" || return 1
	echo scan > "$MVV_KMEMLEAK" || return 1
	echo clear > "$MVV_KMEMLEAK"
}

# Two scans a few seconds apart (kmemleak reports an object only when it is
# older than 5 s and unchanged since the previous scan); prints the reports.
mvv_kmemleak_scan() {
	echo scan > "$MVV_KMEMLEAK" || { echo "kmemleak: scan failed"; return; }
	sleep 6
	echo scan > "$MVV_KMEMLEAK" || { echo "kmemleak: scan failed"; return; }
	cat "$MVV_KMEMLEAK"
}

# Sleeps $1 seconds without starting a process (a process start costs
# about half a second of CPU under TCG with the debug kernel): a read that
# times out on a FIFO that nobody writes.
mvv_nap() {
	if [ -z "${MVV_NAP_FD:-}" ]; then
		local f
		f=$(mktemp -u /tmp/mvv-nap.XXXXXX)
		mkfifo "$f" || return 1
		exec {MVV_NAP_FD}<>"$f"
		rm -f "$f"
	fi
	read -r -t "$1" -u "$MVV_NAP_FD" _ || true
}
