#!/usr/bin/env bash
# The in-VM test suite: loads macvlan_vrrp.ko, runs the netlink harness
# suites, and fails on any kernel splat or bad taint since boot. Prints one
# TAP stream and the closing "N passed, N failed[, N skipped]" line.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

pass=0 fail=0 skip=0 n=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1${2:+ # $2}"; }
skipped() { n=$((n + 1)); skip=$((skip + 1)); echo "ok $n $1 # SKIP $2"; }

echo "KTAP version 1"
echo "# kernel $(uname -r), accelerator: ${MVV_ACCEL:-unknown}"

if [ -z "$(mvv_splats)" ]; then ok boot_clean; else not_ok boot_clean "splat at boot"; fi

if [ -d /sys/module/macvlan ]; then
	not_ok c_driver_not_loaded "macvlan.ko is loaded; ours cannot own kind macvlan"
else
	ok c_driver_not_loaded
fi
if err=$(insmod "$MVV_KO" 2>&1); then ok module_load; else not_ok module_load "insmod: $err"; fi

# Each harness suite is a subtest: its lines are indented, and its summary
# counts are added to ours.
run_suite() {
	local name=$1; shift
	local out rc line
	if [ ! -x "$MVV_HARNESS" ]; then
		skipped "$name" "no harness binary at $MVV_HARNESS"
		return
	fi
	out=$(mktemp)
	"$MVV_HARNESS" "$@" > "$out" 2>&1
	rc=$?
	sed 's/^/    /' "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n1)
	if [ -z "$line" ]; then
		not_ok "$name" "harness printed no count line (status $rc)"
	else
		local p f s
		p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
		f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
		s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
		pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + ${s:-0}))
		if [ "$rc" = 0 ] && [ "$f" = 0 ]; then
			echo "# $name: $line"
		else
			not_ok "$name" "status $rc: $line"
		fi
	fi
	rm -f "$out"
}

if [ -d /sys/module/macvlan_vrrp ]; then
	# Suites in order; MVV_SUITES narrows the list while developing.
	for suite in ${MVV_SUITES:-foundation vrrp parity}; do
		if "$MVV_HARNESS" "$suite" --help >/dev/null 2>&1; then
			run_suite "$suite" "$suite" --module "$MVV_KO"
		else
			not_ok "$suite" "mvv-harness has no suite '$suite'"
		fi
	done
else
	skipped foundation "module not loaded"
fi

if [ -d /sys/module/macvlan_vrrp ]; then
	bash "$(dirname "$0")/netconsole.sh"
	case $? in
	0) ok netconsole_via_upper ;;
	77) skipped netconsole_via_upper "kernel without netconsole (CONFIG_NETCONSOLE_DYNAMIC)" ;;
	*) not_ok netconsole_via_upper "no netconsole output through the upper device" ;;
	esac
	if err=$(rmmod macvlan_vrrp 2>&1); then ok final_unload; else not_ok final_unload "rmmod: $err"; fi
fi

splats=$(mvv_splats)
if [ -z "$splats" ]; then
	ok no_kernel_splat
else
	not_ok no_kernel_splat "kernel reported problems"
	echo "$splats" | head -n 40 | sed 's/^/# /'
	dmesg | grep -E -A25 "$MVV_SPLAT_RE" | head -n 120 | sed 's/^/# dmesg: /'
fi
if mvv_bad_taint; then
	not_ok taint_clean "tainted=$(cat /proc/sys/kernel/tainted) has W or D"
else
	ok taint_clean
fi

echo "1..$n"
line="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && line="$line, $skip skipped"
echo "$line"
[ "$fail" = 0 ]
