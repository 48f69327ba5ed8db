# shellcheck shell=bash
# Helpers for scripts that run inside the test VM. Sourced.

MVV_TOP=${MVV_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MVV_KO=${MVV_KO:-$MVV_TOP/macvlan_vrrp.ko}
MVV_HARNESS=${MVV_HARNESS:-$MVV_TOP/target/release/mvv-harness}

# Kernel messages that fail a run, wherever they appear since boot.
# Lockdep reports begin with "WARNING:" too; the explicit phrases catch
# them should the format change.
MVV_SPLAT_RE='BUG:|WARNING:|Oops|KASAN:|UBSAN:|general protection fault|Kernel panic|possible recursive locking|possible circular locking|inconsistent lock state|suspicious RCU usage|rcu: INFO: rcu_.* detected stalls|self-detected stall|refcount_t:|kmemleak:|unreferenced object 0x|Call Trace:'

# Taint flags that fail a run: W (warning, bit 9) and D (died, bit 7).
mvv_bad_taint() {
	local t
	t=$(cat /proc/sys/kernel/tainted)
	(( t & (1 << 9 | 1 << 7) ))
}

mvv_splats() {
	dmesg | grep -E "$MVV_SPLAT_RE" || true
}
