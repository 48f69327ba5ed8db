#!/usr/bin/env bash
# The upstream series' C driver against macvlan_vrrp, in one boot: the
# patched C macvlan.ko (built and staged in target/upstream/ by
# scripts/upstream-check) and macvlan_vrrp.ko each run the series'
# kselftest (tools/testing/selftests/net/macvlan_vrrp.sh, with the patched
# ip), and the two transcripts must be identical check by check. The FRR
# vrrpd failover checks (tests/vm/frr-lib.sh) also run on the patched C
# driver's VRRP mode.
#
# The harness's vrrp suite (the VyOS scenario, 24 checks) runs on the
# patched C driver too, with a transcript of each check's observations
# (mvv-harness vrrp --driver c-patched --transcript); the vrrp suite's run
# on macvlan_vrrp earlier in this boot wrote ours ($MVV_VRRP_TRANSCRIPT;
# when it did not run in this boot, this suite runs it). mvv-harness
# vrrp-diff compares the two check by check: any difference but the
# driver-specific observations fails.
#
# Driver-specific observations are printed and not compared: the driver
# name (`ethtool -i`) and the vrrp_adverts_to_lower counter (`ethtool -S`),
# which only macvlan_vrrp has; the FRR checks read that counter only where
# the driver has it (STEER_COUNTER=0 here).
#
# Runs with macvlan_vrrp loaded and leaves it loaded. Prints TAP and the
# closing count line.
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
P=upc- STEER_COUNTER=0
. "$here/frr-lib.sh"

IP=${MVV_IP:-}
stage=$MVV_TOP/target/upstream
C_KO=$stage/macvlan.ko
KSFT=$stage/selftests/macvlan_vrrp.sh
# The kselftest's checks, in order (its ALL_TESTS).
KSFT_CHECKS=6

# The checks of mvv-harness vrrp-diff: the transcripts' headers and one per
# vrrp check.
VRRP_CHECKS=24
VRRP_DIFF_CHECKS=$((1 + VRRP_CHECKS))
# The hostile suite's checks, and its frames on the patched C driver.
HOSTILE_CHECKS=6
HOSTILE_C_FRAMES=${HOSTILE_C_FRAMES:-10000}

n=0 pass=0 fail=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1${2:+ # $2}"; }
check() { if [ "$2" = 0 ]; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }
note() { echo "# $*"; }
finish() {
	ip netns del upprobe 2>/dev/null
	echo "1..$n"
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
}

echo "KTAP version 1"
missing=
[ -f "$C_KO" ] || missing="$missing $C_KO (scripts/upstream-check);"
[ -f "$KSFT" ] && [ -f "$stage/selftests/lib.sh" ] || missing="$missing $KSFT and lib.sh;"
[ -n "$IP" ] && [ -x "$IP" ] || missing="$missing the patched ip (MVV_IP='$IP');"
command -v mausezahn >/dev/null || missing="$missing mausezahn (netsniff-ng);"
[ -z "$missing" ]
check upstream_staged $? "missing:$missing"

# The kselftest's directory is read-only here; `ip` on its PATH is the
# patched one.
bin=$(mktemp -d /tmp/mvv-upstream-bin.XXXXXX)
[ -n "$IP" ] && ln -s "$IP" "$bin/ip"

# Runs the kselftest; its output goes to $1, how long it took to $1.time.
kselftest() { # out
	local rc t0=$(date +%s)
	(cd "$stage/selftests" && PATH="$bin:$PATH" bash ./macvlan_vrrp.sh) > "$1" 2>&1
	rc=$?
	echo "$(( $(date +%s) - t0 ))" > "$1.time"
	return "$rc"
}

# A kselftest run passed: status 0 and $KSFT_CHECKS checks, all OK.
ksft_passed() { # out status
	local total oks
	total=$(grep -c '^TEST: ' "$1")
	oks=$(grep -c '^TEST: .*\[ OK \]$' "$1")
	sed 's/^/# /' "$1"
	[ "$2" = 0 ] && [ "$total" = "$KSFT_CHECKS" ] && [ "$oks" = "$KSFT_CHECKS" ] && return 0
	echo "status $2, $oks of $total checks OK, $KSFT_CHECKS expected"
	return 1
}

# The driver-specific observations for one driver: its name, and what
# `ethtool -S` says after three IPv4 adverts from the VMAC of a VRRP-mode
# upper. Prints "driver NAME; stats: ...". Fails when the device cannot be
# made in VRRP mode.
ADV4="01:00:5e:00:00:12:00:00:5e:00:01:0a:08:00:45:00:00:28:00:00:00:00:ff:70:19:50:c0:00:02:03:e0:00:00:12:21:0a:64:01:00:01:b7:f4:c0:00:02:fe:00:00:00:00:00:00:00:00"
probe() {
	local drv stats
	ip netns del upprobe 2>/dev/null
	ip netns add upprobe &&
		"$IP" -n upprobe -batch - <<-EOF || return 1
			link add name pa type veth peer name pb
			link set pa up
			link set pb up
			link add link pb name vmac4 address 00:00:5e:00:01:0a type macvlan mode vrrp
			link set vmac4 up
		EOF
	ip netns exec upprobe mausezahn pa -q -c 3 -d 1msec "$ADV4"
	mvv_nap 0.5
	drv=$(ip netns exec upprobe ethtool -i vmac4 | sed -n 's/^driver: //p')
	stats=$(ip netns exec upprobe ethtool -S vmac4 2>&1 | grep -E 'vrrp_adverts_to_lower|no stats' | tr -s ' ' | tr '\n' ' ')
	ip netns del upprobe
	echo "driver $drv; stats: ${stats:-none}"
}

# A harness suite that must pass all of its $2 checks, none skipped; its
# output indented as diagnostics.
harness_passed() { # out checks status
	local line
	sed 's/^/#     /' "$1"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n1)
	[ "$3" = 0 ] && [ "$line" = "$2 passed, 0 failed" ] && return 0
	echo "status $3: ${line:-no count line}, $2 checks expected to pass"
	return 1
}

# Relays a harness's TAP lines as this suite's checks, prefixed with $2:
# ok stays ok, a skip is a failure; diagnostics pass through.
relay() { # out prefix
	local l name rest
	while IFS= read -r l; do
		case "$l" in
		"ok "*" # SKIP"*)
			rest=${l#ok * }
			not_ok "$2${rest%% *}" "unexpected skip: ${rest#* # SKIP }"
			;;
		"ok "*) rest=${l#ok * }; ok "$2${rest%% *}" ;;
		"not ok "*)
			rest=${l#not ok * }
			name=${rest%% *}
			rest=${rest#"$name"}
			not_ok "$2$name" "${rest# \# }"
			;;
		"#"*) echo "$l" ;;
		esac
	done < "$1"
}

c_out=$(mktemp) r_out=$(mktemp) c_tr=$(mktemp) r_tr=$(mktemp) h_out=$(mktemp)
trap 'rm -rf "$c_out" "$r_out" "$c_out.time" "$c_out.rc" "$r_out.time" "$bin" "$c_tr" "$r_tr" "$h_out"' EXIT

# ---- the patched C driver ----------------------------------------------
c_loaded=1
if rmmod macvlan_vrrp && err=$(insmod "$C_KO" 2>&1); then
	c_loaded=0
	check load_patched_c 0
else
	check load_patched_c 1 "rmmod macvlan_vrrp / insmod $C_KO: ${err:-}"
fi
if [ "$c_loaded" = 0 ]; then
	c_probe=$(probe)
	rc=$?
	grep -q '^driver macvlan;' <<<"$c_probe" || rc=1
	check c_driver_takes_mode_vrrp "$rc" "$c_probe"

	# The harness's vrrp suite on the patched C driver, with its transcript.
	t0=$(date +%s)
	"$MVV_HARNESS" vrrp --module "$MVV_KO" --driver c-patched --c-module "$C_KO" \
		--transcript "$c_tr" > "$h_out" 2>&1 < /dev/null
	out=$(harness_passed "$h_out" "$VRRP_CHECKS" $?)
	check vrrp_suite_c $? "$(tail -n1 <<<"$out")"
	echo "$out" | grep '^#'
	note "the vrrp suite on the patched C driver took $(( $(date +%s) - t0 )) s"

	# The hostile suite's mutated adverts (the first $HOSTILE_C_FRAMES of
	# its fixed-seed stream, which the hostile suite sends to ours) on the
	# patched C driver: each class must land where the userspace build of
	# src/vrrp_classify.rs and the receive-path model predict, counted by
	# the receiving device (the C driver has no steering counter).
	t0=$(date +%s)
	"$MVV_HARNESS" hostile --driver c-patched --frames "$HOSTILE_C_FRAMES" > "$h_out" 2>&1 < /dev/null
	out=$(harness_passed "$h_out" "$HOSTILE_CHECKS" $?)
	check hostile_c $? "$(tail -n1 <<<"$out")"
	echo "$out" | grep '^#'
	note "$HOSTILE_C_FRAMES hostile frames on the patched C driver took $(( $(date +%s) - t0 )) s"

	# FRR vrrpd, unmodified, on the patched C driver's VRRP mode, with the
	# kselftest beside it: its namespaces are its own (setup_ns), and FRR
	# spends most of its time waiting for VRRP timers, so the two overlap
	# (the kselftest is done before the cable pull the failover time is
	# measured from).
	(kselftest "$c_out"; echo $? > "$c_out.rc") &
	ksft_pid=$!
	rm -rf "$run"
	t0=$(date +%s)
	if topology vrrp "$IP" && start_frr r1 200 && start_frr r2 100; then
		check frr_topology_c 0
		failover_suite
	else
		check frr_topology_c 1 "topology or daemons failed"
		for c in frr_election frr_backup_hears_master frr_no_split_brain frr_gateway_and_neighbour \
			frr_nat_on_master frr_failover_time frr_vip_after_failover frr_preemption; do
			not_ok "$c" "no topology"
		done
	fi
	teardown
	note "FRR failover on the patched C driver took $(( $(date +%s) - t0 )) s"
	wait "$ksft_pid"
	out=$(ksft_passed "$c_out" "$(cat "$c_out.rc" 2>/dev/null || echo 1)")
	check kselftest_c $? "$(tail -n1 <<<"$out")"
	echo "$out" | grep '^#'
	note "kselftest on the patched C driver took $(cat "$c_out.time") s, beside FRR"
	rmmod macvlan
else
	for c in c_driver_takes_mode_vrrp kselftest_c vrrp_suite_c hostile_c frr_topology_c frr_election \
		frr_backup_hears_master frr_no_split_brain frr_gateway_and_neighbour \
		frr_nat_on_master frr_failover_time frr_vip_after_failover frr_preemption; do
		not_ok "$c" "patched C driver not loaded"
	done
fi

# ---- macvlan_vrrp -------------------------------------------------------
err=$(insmod "$MVV_KO" 2>&1)
check reload_ours $? "$err"
r_probe=$(probe)
rc=$?
grep -q '^driver macvlan_vrrp;' <<<"$r_probe" || rc=1
check rust_driver_takes_mode_vrrp "$rc" "$r_probe"
kselftest "$r_out"
out=$(ksft_passed "$r_out" $?)
check kselftest_rust $? "$(tail -n1 <<<"$out")"
echo "$out" | grep '^#'
note "kselftest on macvlan_vrrp took $(cat "$r_out.time") s"

# ---- the differential transcript -----------------------------------------
echo "# differential transcript: each kselftest check, C driver | macvlan_vrrp"
echo "# driver-specific, not compared: C: ${c_probe:-none} | macvlan_vrrp: ${r_probe:-none}"
mapfile -t c_lines < <(grep '^TEST: ' "$c_out")
mapfile -t r_lines < <(grep '^TEST: ' "$r_out")
[ "${#c_lines[@]}" = "$KSFT_CHECKS" ] && [ "${#r_lines[@]}" = "$KSFT_CHECKS" ]
check differential_same_checks $? "C ran ${#c_lines[@]}, macvlan_vrrp ${#r_lines[@]}, $KSFT_CHECKS expected"
for ((i = 0; i < KSFT_CHECKS; i++)); do
	c=${c_lines[$i]:-} r=${r_lines[$i]:-}
	echo "#   C:    ${c:-(none)}"
	echo "#   Rust: ${r:-(none)}"
	[ -n "$c" ] && [ "$c" = "$r" ]
	check "differential_$((i + 1))" $? "the two drivers differ"
done

# ---- the vrrp suite's differential transcript ------------------------------
# Ours: the vrrp suite's transcript from this boot, else a run here.
boot=$(cat /proc/sys/kernel/random/boot_id)
if [ -s "${MVV_VRRP_TRANSCRIPT:-}" ] && grep -qx "boot $boot" "$MVV_VRRP_TRANSCRIPT"; then
	cp "$MVV_VRRP_TRANSCRIPT" "$r_tr"
	check vrrp_transcript_rust 0
	note "macvlan_vrrp's vrrp transcript: the vrrp suite's run earlier in this boot"
else
	t0=$(date +%s)
	"$MVV_HARNESS" vrrp --module "$MVV_KO" --transcript "$r_tr" > "$h_out" 2>&1 < /dev/null
	out=$(harness_passed "$h_out" "$VRRP_CHECKS" $?)
	check vrrp_transcript_rust $? "$(tail -n1 <<<"$out")"
	echo "$out" | grep '^#'
	note "no vrrp transcript from this boot: the vrrp suite on macvlan_vrrp ran here, $(( $(date +%s) - t0 )) s"
fi
"$MVV_HARNESS" vrrp-diff --c "$c_tr" --rust "$r_tr" > "$h_out" 2>&1 < /dev/null
rc=$?
before=$n
relay "$h_out" vrrp_
# Every check reported (a difference is its own failed check above);
# status 2 is vrrp-diff's own set-up error.
[ "$((n - before))" = "$VRRP_DIFF_CHECKS" ] && [ "$rc" -le 1 ]
check vrrp_differential_complete $? "vrrp-diff: status $rc, $((n - before)) checks, $VRRP_DIFF_CHECKS expected: $(tail -n1 "$h_out")"
finish
