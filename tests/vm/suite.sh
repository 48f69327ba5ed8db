#!/usr/bin/env bash
# The in-VM test suite: starts the kernel-log reader, prepares kmemleak,
# loads macvlan_vrrp.ko, runs the netlink harness suites, and fails on any
# kernel report since boot, any kmemleak report after a suite, bad taint,
# an unexpected skip, or a suite that runs a different number of checks
# than tests/vm/plan says. Prints one TAP stream with its plan and the
# closing "N passed, N failed[, N skipped]" line.
#
# MVV_SUITES narrows the harness suites while developing; under CI=true a
# narrowed run fails. MVV_SIZE=full (make check-full) runs the suites at
# their full sizes; the default is the CI size that fits make check's time
# budget.
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"

# Harness subcommands (mvv-harness <suite>) and shell suites
# (tests/vm/<suite>.sh), in order. packaging is last: it turns on module
# signature enforcement, which cannot be turned off.
all_suites=(foundation vrrp parity iproute2 frr upstream lowers keepalived hostile fuzz churn packaging)

declare -A planned=() shard_of=()
while read -r name count part; do
	case "$name" in ''|\#*) continue ;; esac
	planned[$name]=$count
	shard_of[$name]=${part:-1}
done < "$here/plan"

# MVV_SHARD=i/n: this VM runs the suites that tests/vm/plan gives shard i;
# the other shards run in VMs of their own (scripts/check). A suite with no
# shard in 1..n would run nowhere: that fails suites_complete.
shard=${MVV_SHARD:-} unsharded=()
if [ -n "$shard" ]; then
	mine=()
	for s in "${all_suites[@]}"; do
		part=${shard_of[$s]:-0}
		[ "$part" -ge 1 ] && [ "$part" -le "${shard#*/}" ] || unsharded+=("$s")
		[ "$part" = "${shard%/*}" ] && mine+=("$s")
	done
	all_suites=("${mine[@]}")
fi
suites=(${MVV_SUITES:-${all_suites[@]}})

# Sizes: CI (default) and full.
case "${MVV_SIZE:-ci}" in
full) parity_uppers=4096 hostile_frames=1000000 fuzz_requests=200000 fuzz_fault_stride=1 churn_seconds=300 ;;
*) parity_uppers=256 hostile_frames=100000 fuzz_requests=20000 fuzz_fault_stride=32 churn_seconds=30 ;;
esac
# Development runs only (a few hundred requests); make check never sets it.
fuzz_requests=${MVV_FUZZ_REQUESTS:-$fuzz_requests}
fuzz_fault_stride=${MVV_FUZZ_FAULT_STRIDE:-$fuzz_fault_stride}

# The checks of this script, besides each suite's own: kmsg_reader,
# boot_clean, kmemleak_ready, suites_complete, c_driver_not_loaded,
# module_load, one per suite (its status), netconsole_via_upper,
# final_unload, kmemleak_clean, no_kernel_splat, taint_clean.
own=$((11 + ${#suites[@]}))
expected=$own
for s in "${suites[@]}"; do
	expected=$((expected + ${planned[$s]:-0}))
done

pass=0 fail=0 skip=0 n=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1${2:+ # $2}"; }
check() { if [ "$2" = 0 ]; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }

echo "KTAP version 1"
echo "1..$expected"
echo "# kernel $(uname -r), accelerator: ${MVV_ACCEL:-unknown}, size ${MVV_SIZE:-ci}"
[ -n "$shard" ] && echo "# shard $shard: ${all_suites[*]}"

if mvv_kmsg_start; then ok kmsg_reader; else not_ok kmsg_reader "no kernel log reader ($MVV_HARNESS kmsg)"; fi
if [ -z "$(mvv_splats)" ]; then ok boot_clean; else not_ok boot_clean "report at boot: $(mvv_splats | head -n1)"; fi
t0=$(date +%s)
if mvv_kmemleak_prepare; then
	ok kmemleak_ready
	echo "# kmemleak: boot scan and clear took $(( $(date +%s) - t0 )) s"
else
	not_ok kmemleak_ready "no writable $MVV_KMEMLEAK (kernel without CONFIG_DEBUG_KMEMLEAK?)"
fi

if [ "${#unsharded[@]}" -gt 0 ]; then
	not_ok suites_complete "no shard of $shard in tests/vm/plan for: ${unsharded[*]}"
elif [ "${#suites[@]}" = "${#all_suites[@]}" ]; then
	ok suites_complete
elif [ "${CI:-}" = true ]; then
	not_ok suites_complete "MVV_SUITES='${MVV_SUITES:-}' narrows the run under CI"
else
	ok suites_complete
	echo "# narrowed by MVV_SUITES to: ${suites[*]} (a CI run fails this)"
fi

if [ -d /sys/module/macvlan ]; then
	not_ok c_driver_not_loaded "macvlan.ko is loaded; ours cannot own kind macvlan"
else
	ok c_driver_not_loaded
fi
if err=$(insmod "$MVV_KO" 2>&1); then ok module_load; else not_ok module_load "insmod: $err"; fi

# At the end: two kmemleak scans; a report fails the check. (A report's
# backtrace names the allocation; one scan per suite would cost about 20 s
# each under TCG.)
kmemleak_check() {
	local report t0=$(date +%s)
	report=$(mvv_kmemleak_scan)
	echo "# kmemleak: two scans in $(( $(date +%s) - t0 )) s"
	if [ -z "$report" ]; then
		ok kmemleak_clean
	else
		not_ok kmemleak_clean "$(grep -c '^unreferenced object' <<<"$report") suspected leaks"
		echo "$report" | head -n 80 | sed 's/^/# kmemleak: /'
	fi
}

# Each suite is a subtest: its lines are indented, and its counts are added
# to ours. Its count must be the planned one, and none may skip.
run_suite() { # name command...
	local name=$1; shift
	local out rc line p f s total t0=$(date +%s)
	out=$(mktemp)
	# Streamed as it runs, so a stuck check shows where it is.
	"$@" 2>&1 < /dev/null | tee "$out" | sed -u 's/^/    /'
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n1)
	rm -f "$out"
	echo "# suite $name took $(( $(date +%s) - t0 )) s"
	if [ -z "$line" ]; then
		not_ok "$name" "harness printed no count line (status $rc)"
		return
	fi
	p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
	s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
	s=${s:-0}
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	n=$((n + p + f + s))
	total=$((p + f + s))
	if [ "$total" != "${planned[$name]:-}" ]; then
		not_ok "$name" "ran $total checks, tests/vm/plan says ${planned[$name]:-none}"
	elif [ "$s" != 0 ]; then
		not_ok "$name" "$s unexpected skips"
	elif [ "$rc" != 0 ] || [ "$f" != 0 ]; then
		not_ok "$name" "status $rc: $line"
	else
		ok "$name"
	fi
}

for suite in "${suites[@]}"; do
	if [ -z "${planned[$suite]:-}" ]; then
		not_ok "$suite" "no count for '$suite' in tests/vm/plan"
	elif [ ! -d /sys/module/macvlan_vrrp ]; then
		not_ok "$suite" "module not loaded"
	elif [ -f "$here/$suite.sh" ]; then
		run_suite "$suite" bash "$here/$suite.sh"
	elif ! "$MVV_HARNESS" "$suite" --help >/dev/null 2>&1; then
		not_ok "$suite" "mvv-harness has no suite '$suite'"
	elif [ "$suite" = hostile ]; then
		run_suite "$suite" "$MVV_HARNESS" hostile --frames "$hostile_frames"
	elif [ "$suite" = fuzz ]; then
		run_suite "$suite" "$MVV_HARNESS" fuzz --module "$MVV_KO" --requests "$fuzz_requests" --fault-stride "$fuzz_fault_stride"
	elif [ "$suite" = churn ]; then
		run_suite "$suite" "$MVV_HARNESS" churn --module "$MVV_KO" --seconds "$churn_seconds"
	elif [ "$suite" = vrrp ]; then
		run_suite "$suite" "$MVV_HARNESS" vrrp --module "$MVV_KO" --transcript "$MVV_VRRP_TRANSCRIPT"
	elif [ "$suite" = parity ]; then
		run_suite "$suite" "$MVV_HARNESS" parity --module "$MVV_KO" --uppers "$parity_uppers"
	else
		run_suite "$suite" "$MVV_HARNESS" "$suite" --module "$MVV_KO"
	fi
done

if [ -d /sys/module/macvlan_vrrp ]; then
	bash "$here/netconsole.sh"
	case $? in
	0) ok netconsole_via_upper ;;
	77) not_ok netconsole_via_upper "unexpected skip: kernel without netconsole (CONFIG_NETCONSOLE_DYNAMIC)" ;;
	*) not_ok netconsole_via_upper "no netconsole output through the upper device" ;;
	esac
else
	not_ok netconsole_via_upper "module not loaded"
fi
if err=$(rmmod macvlan_vrrp 2>&1); then ok final_unload; else not_ok final_unload "rmmod: $err"; fi
kmemleak_check

splats=$(mvv_splats)
if [ -z "$splats" ]; then
	ok no_kernel_splat
else
	not_ok no_kernel_splat "kernel reported problems"
	echo "$splats" | head -n 40 | sed 's/^/# /'
	mvv_splat_context | sed 's/^/# kernel log: /'
fi
if mvv_bad_taint; then
	not_ok taint_clean "tainted=$(cat /proc/sys/kernel/tainted) has W or D"
else
	ok taint_clean
fi

[ "$n" = "$expected" ] || not_ok plan_complete "reported $n checks of the $expected planned"
echo "# $n checks of $expected planned"
line="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && line="$line, $skip skipped"
echo "$line"
[ "$fail" = 0 ] && [ "$n" = "$expected" ]
