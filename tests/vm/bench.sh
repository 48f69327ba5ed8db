#!/usr/bin/env bash
# make bench, inside the VM: every figure for the C macvlan.ko and for
# macvlan_vrrp.ko in this one boot, one driver after the other in every
# repetition (the order alternates), counted at points the driver does not
# own, and the same frames on the bare lower device with no macvlan module
# loaded (the reference of every path). Writes
# /tmp/mvv-bench.XXXXXX/{raw.tsv,results.md,results.json,cost.svg,fanout.svg}
# and prints them between MVV-BENCH-*-BEGIN/END markers for scripts/bench.
# See Documentation/benchmarks.rst.
#
#   MVV_BENCH_MODE     icount or wallclock, for the labels (scripts/bench
#                      boots the VM accordingly; default wallclock)
#   MVV_BENCH_FLAVOUR  the kernel flavour, for the labels (default release)
#   MVV_BENCH_ICOUNT_SHIFT  the icount shift, for the labels
#   MVV_BENCH_REPS     repetitions (default 5)
#   MVV_BENCH_SECONDS  measurement window of each rate, seconds (default 1)
#   MVV_BENCH_WARMUP   seconds of load before each window (default 0.25)
#   MVV_BENCH_BURST    pktgen burst in netif_receive mode (default 256)
#   MVV_BENCH_ONLY     space-separated subset of: rx fanout advert tx ctl
set -uo pipefail
. "$(dirname "$0")/lib.sh"
# scripts/bench writes the settings here: vm-run passes no environment.
[ -r "$MVV_TOP/target/bench/env" ] && . "$MVV_TOP/target/bench/env"

MODE=${MVV_BENCH_MODE:-wallclock}
FLAVOUR=${MVV_BENCH_FLAVOUR:-release}
REPS=${MVV_BENCH_REPS:-5}
SECS=${MVV_BENCH_SECONDS:-1}
WARM=${MVV_BENCH_WARMUP:-0.25}
BURST=${MVV_BENCH_BURST:-256}
ONLY=${MVV_BENCH_ONLY:-rx fanout advert tx ctl}
BENCH=${MVV_BENCH_BIN:-$MVV_TOP/target/release/mvv-bench}
VRRPCTL=${MVV_VRRPCTL:-$MVV_TOP/target/release/vrrpctl}
NS=mvvb
PG=/proc/net/pktgen
VMAC=00:00:5e:00:01:0a   # VRRP virtual MAC of VRID 10
DST_IP=198.18.0.42       # pktgen's benchmark address (RFC 2544 range)
GROUP_FAN=9 GROUP_A=11 GROUP_B=12
ACT_UPPER=100 ACT_PEER=101 ACT_LOWER=102
CTL_A=1000 CTL_TOTAL=4096

# The inner half runs in its own network namespace: udevd, in the initial
# one, never sees the uevents of thousands of devices.
if [ "${1:-}" != --inner ]; then
	for f in "$BENCH" "$VRRPCTL" "$MVV_KO"; do
		[ -e "$f" ] || { echo "error: $f is missing; run scripts/bench (it builds everything)" >&2; exit 1; }
	done
	for m in macvlan macvlan_vrrp; do
		[ -d /sys/module/$m ] && { echo "error: $m is loaded before the benchmark" >&2; exit 1; }
	done
	modprobe pktgen || { echo "error: modprobe pktgen failed" >&2; exit 1; }
	ip netns add "$NS" || exit 1
	ip netns exec "$NS" bash "$0" --inner
	rc=$?
	ip netns del "$NS"
	exit "$rc"
fi

OUT=$(mktemp -d /tmp/mvv-bench.XXXXXX)
RAW=$OUT/raw.tsv
: > "$RAW"
say() { echo "# $*"; }
rec() { # key driver rep value
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RAW"
	say "$1 [$2, rep $3] = $4"
}
note() { echo "#note $*" >> "$RAW"; echo "# NOTE: $*" >&2; }
meta() { echo "#meta $1 $2" >> "$RAW"; }
wants() { [[ " $ONLY " == *" $1 "* ]]; }
# N / D with three decimals, integer arithmetic only.
ratio3() {
	local q=$(( $1 * 1000 / $2 )) sign=
	((q < 0)) && { sign=-; q=$((-q)); }
	printf '%s%d.%03d' "$sign" $((q / 1000)) $((q % 1000))
}
# N per (microseconds / 1e6).
per_sec() { ratio3 $(( $1 * 1000000 )) $(( $2 > 0 ? $2 : 1 )); }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
meminfo() { # field -> kB
	local k v _
	while read -r k v _; do [ "$k" = "$1:" ] && { echo "$v"; return; }; done < /proc/meminfo
}

drv_name() { [ "$1" = c ] && echo macvlan || echo macvlan_vrrp; }
load() {
	case $1 in
	c) modprobe macvlan ;;
	rust) insmod "$MVV_KO" ;;
	esac
}
unload() { rmmod "$(drv_name "$1")"; }
# The device really is driven by the driver under test (ethtool -i).
is_driver() { # dev drv
	local d
	d=$(ethtool -i "$1" 2>/dev/null | sed -n 's/^driver: //p')
	[ "$d" = "$(drv_name "$2")" ] && return 0
	note "$1 is driven by '${d:-?}', expected $(drv_name "$2"); figure skipped"
	return 1
}

# --- pktgen (see samples/pktgen in the kernel tree) ---
pg() { # file command
	if ! echo "$2" > "$PG/$1"; then
		note "pktgen: '$2' > $1 failed: $(grep -h 'Result:' "$PG/$1" 2>/dev/null)"
		return 1
	fi
}
pg_dev() { # dev dst_mac mode(netif_receive|start_xmit) burst
	pg pgctrl reset || return 1
	pg kpktgend_0 "add_device $1" || return 1
	local c
	for c in "count 0" "pkt_size 60" "delay 0" "flag NO_TIMESTAMP" "dst_mac $2" \
		"dst_min $DST_IP" "dst_max $DST_IP" "xmit_mode $3" "burst $4"; do
		pg "$1" "$c" || return 1
	done
}
# Runs the configured pktgen device while mvv-bench samples the counters;
# prints the first counter's rate.
pg_rate() { # counter...
	echo start > "$PG/pgctrl" &
	local pid=$! out
	out=$("$BENCH" rate ${RATE_ARGS:-} --warmup "$WARM" --seconds "$SECS" "$@")
	local rc=$?
	echo stop > "$PG/pgctrl"
	wait "$pid"
	[ "$rc" = 0 ] || { note "mvv-bench rate ${RATE_ARGS:+$RATE_ARGS }$* failed"; return 1; }
	io_check "$out" "$*"
	local spec delta secs rate
	read -r spec delta secs rate <<<"$out"
	[ "$delta" -gt 0 ] 2>/dev/null || { note "no frames counted at $spec"; return 1; }
	echo "$rate"
}

# pg_rate over the guest's busy time, for paced pktgen (mvv-bench rate --busy).
pg_rate_busy() { RATE_ARGS=--busy pg_rate "$@"; }

# mvv-bench's last lines count the guest's idle time and the virtio I/O
# interrupts (the 9p root) in the window. Load keeps the one vCPU busy
# through the whole window, so the guest's clock counts its instructions
# only: an idle guest's clock jumps to the next timer under icount, and one
# that waits for the host's I/O waits as long as the host takes. A window
# with idle time gets a note; the I/O interrupts alone (completions of
# readahead that nobody waits for, which cost only their handling) are
# summed in #meta io_irqs_in_windows (through a file: pg_rate runs in a
# command substitution).
io_check() { # mvv-bench-output what
	local n idle
	n=$(sed -n 's/^io-irqs \([0-9]*\) .*/\1/p' <<<"$1")
	idle=$(sed -n 's/^idle-ticks \([0-9]*\) .*/\1/p' <<<"$1")
	echo "${n:-0}" >> "$OUT/window-io"
	[ "${idle:-0}" = 0 ] || note "$2: the guest idled ${idle}0 ms inside the window (${n:-0} virtio I/O interrupts)"
	[[ $1 != *"boundaries"*moved* ]] || note "$2: the counters moved across a window boundary (rate --busy)"
}
# The same count around a timed command.
io_irqs() {
	local n=0 l f
	while read -r l; do
		[[ $l == *-requests ]] || continue
		for f in ${l#*:}; do
			[[ $f =~ ^[0-9]+$ ]] || break
			n=$((n + f))
		done
	done < /proc/interrupts
	echo "$n"
}

# Sets the mode of a macvlan device (ip cannot name mode 32: vrrpctl).
set_mode() { # dev mode
	local err
	if [ "$2" = vrrp ]; then
		err=$("$VRRPCTL" set "$1" --mode vrrp 2>&1)
	else
		err=$(ip link set "$1" type macvlan mode "$2" 2>&1)
	fi || { note "$1: setting mode $2 failed: $err"; return 1; }
}

# The words of a list, rotated left by N: the order of the modes changes
# from one repetition to the next.
rotate() { # n word...
	local n=$1; shift
	local a=("$@")
	n=$((n % ${#a[@]}))
	echo "${a[@]:n}" "${a[@]:0:n}"
}

# Compares mvv-bench's netlink reading of an idle counter with what tc or
# nft print for it: a check of the counting code itself.
cross_check() { # spec command...
	local spec=$1 ours theirs json
	shift
	json=$("$@" 2>&1)
	if [[ $json =~ \"packets\":\ ?([0-9]+) ]]; then
		theirs=${BASH_REMATCH[1]}
	else
		note "cross-check of $spec: no packet count in the output of $*"
		return
	fi
	ours=$("$BENCH" count "$spec")
	ours=${ours##* }
	if [ "$ours" = "$theirs" ]; then
		say "cross-check of $spec: mvv-bench and $1 both read $ours"
	else
		note "cross-check of $spec: mvv-bench read $ours, $1 printed $theirs"
	fi
}

tc_count_on() { # dev action-index
	tc qdisc add dev "$1" clsact &&
		tc filter add dev "$1" ingress matchall action gact drop index "$2"
}

# --- the figures ---

# The references, with no macvlan module loaded: the same frames on the
# bare lower device, counted the same way, for every path measured.
# rx.limit: the unicast frames of figure 1 dropped at tc ingress of vl0;
# fanout.bare: the broadcasts of figure 2, the same way; advert.bare and
# nonadvert.bare: the adverts and lookalikes of figure 3 counted in
# prerouting on vl0; tx.bare: pktgen
# start_xmit on vl0 itself, counted at vp0 as in figure 4.
bench_bare() { # rep
	local r out spec delta secs rate
	if wants rx || wants fanout; then
		if tc_count_on vl0 $ACT_LOWER; then
			if wants rx; then
				pg_dev vl0 "$VMAC" netif_receive "$BURST" && r=$(pg_rate tc:$ACT_LOWER) && rec rx.limit - "$1" "$r"
			fi
			if wants fanout; then
				pg_dev vl0 ff:ff:ff:ff:ff:ff netif_receive 1 && pg vl0 "delay $(fan_delay 1)" &&
					r=$(pg_rate_busy tc:$ACT_LOWER) && rec fanout.bare - "$1" "$r"
			fi
			pg pgctrl reset
			tc qdisc del dev vl0 clsact
		else
			note "tc on vl0 failed"
		fi
	fi
	if wants advert; then
		if nft_advert_table; then
			if out=$("$BENCH" inject --dev vp0 --src-mac "$VMAC" --warmup "$WARM" --seconds "$SECS" \
				nft:ip:mvvb:lower nft:ip:mvvb:upper); then
				io_check "$out" "advert bare"
				while read -r spec delta secs rate; do
					case $spec in
					offered) rec advert.offered.bare - "$1" "$rate" ;;
					*:lower) rec advert.bare - "$1" "$rate" ;;
					esac
				done <<<"$out"
			else
				note "mvv-bench inject (bare) failed"
			fi
			for kind in igmp lookalike; do
				if out=$("$BENCH" inject --dev vp0 --src-mac "$VMAC" --kind "$kind" --warmup "$WARM" \
					--seconds "$SECS" "nft:ip:mvvb:lower_$(nonadvert_counter "$kind")"); then
					io_check "$out" "$kind bare"
					while read -r spec delta secs rate; do
						[[ $spec == *:lower_* ]] && rec "$(nonadvert_key "$kind").bare" - "$1" "$rate"
					done <<<"$out"
				else
					note "mvv-bench inject --kind $kind (bare) failed"
				fi
			done
			nft delete table ip mvvb
		fi
	fi
	if wants tx; then
		pg_dev vl0 "$(cat /sys/class/net/vp0/address)" start_xmit 1 && r=$(pg_rate tc:$ACT_PEER) &&
			rec tx.bare - "$1" "$r"
		pg pgctrl reset
	fi
}

# 1. Unicast receive: pktgen netif_receive on the lower device, frames to
# the upper device's MAC, counted at the upper device's tc ingress. One
# device; its mode changes between measurements.
bench_rx() { # drv rep
	local mode r modes=(private bridge)
	[ "$1" = rust ] && modes+=(vrrp)
	if ! ip link add link vl0 name up0 address "$VMAC" type macvlan mode private || ! ip link set up0 up; then
		note "rx: creating up0 failed"
		return
	fi
	if is_driver up0 "$1" && tc_count_on up0 $ACT_UPPER && pg_dev vl0 "$VMAC" netif_receive "$BURST"; then
		for mode in $(rotate "$2" "${modes[@]}"); do
			set_mode up0 "$mode" && r=$(pg_rate tc:$ACT_UPPER) && rec "rx.$mode" "$1" "$2" "$r"
		done
	fi
	pg pgctrl reset
	tc qdisc del dev up0 clsact 2>/dev/null
	ip link del up0
}

# 2. Broadcast fan-out: 1, 16, 256 upper devices, all counted by one tc
# action on a shared ingress block. pktgen is paced (one frame every
# fan_delay ns, several times the work of a frame), so the queue's worker
# delivers each frame before the next comes; the rate is over the guest's
# busy time. Flat out, pktgen and the worker would share the CPU in ways
# that depend on timing (see Documentation/benchmarks.rst).
settle_operstate() { # dev: waits up to 3 s for its operstate to read up
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(cat "/sys/class/net/$1/operstate" 2>/dev/null)" = up ] && return 0
		sleep 0.01
	done
	return 1
}
fan_delay() { # uppers -> ns between frames
	case $1 in 1) echo 200000 ;; 16) echo 1000000 ;; *) echo 12000000 ;; esac
}
bench_fanout() { # drv rep
	local have=0 n i r batch=$OUT/fanout.batch
	for n in 1 16 256; do
		# Fixed addresses (locally administered, the device's number in
		# the last two bytes), not random: where they hash to is then the
		# same in every repetition and every run.
		for ((i = have + 1; i <= n; i++)); do
			printf 'link add link vl0 name f%d address 02:6d:76:62:%02x:%02x group %d up type macvlan mode bridge\n' \
				"$i" $((i >> 8)) $((i & 255)) $GROUP_FAN
		done > "$batch"
		ip -batch "$batch" || { note "fanout: creating $n devices failed"; break; }
		for ((i = have + 1; i <= n; i++)); do echo "qdisc add dev f$i ingress_block 1 clsact"; done > "$batch"
		tc -batch "$batch" || { note "fanout: tc on $n devices failed"; break; }
		# The new devices' link events are handled by linkwatch, at most
		# once a second: wait for it, so that it does not run (for up to
		# 256 devices at once) inside the window.
		settle_operstate "f$n" || note "fanout: f$n not up after 3 s"
		if [ "$have" = 0 ]; then
			is_driver f1 "$1" || break
			tc filter add block 1 matchall action gact drop index $ACT_UPPER || { note "tc block filter failed"; break; }
			pg_dev vl0 ff:ff:ff:ff:ff:ff netif_receive 1 || break
		fi
		have=$n
		pg vl0 "delay $(fan_delay "$n")" || break
		r=$(pg_rate_busy tc:$ACT_UPPER) && rec "fanout.$n" "$1" "$2" "$r"
	done
	pg pgctrl reset
	# Unregistering an up device with a clsact qdisc waits for RCU grace
	# periods, which TCG makes slow: 256 of them take about 10 s. This
	# teardown is not measured, so it runs with expedited grace periods.
	local exp
	exp=$(cat /sys/kernel/rcu_expedited 2>/dev/null)
	[ -n "$exp" ] && echo 1 > /sys/kernel/rcu_expedited
	ip link del group $GROUP_FAN 2>/dev/null
	[ -n "$exp" ] && echo "$exp" > /sys/kernel/rcu_expedited
}

# The non-adverts of figure 3: nft counter and raw-file key of each kind.
nonadvert_counter() { case $1 in igmp) echo igmp ;; lookalike) echo udp ;; esac; }
nonadvert_key() { case $1 in igmp) echo nonadvert ;; lookalike) echo lookalike ;; esac; }

# The counters of figure 3: IPv4 prerouting, one per input device.
nft_advert_table() {
	nft -f - <<-EOF || { note "advert: nft set-up failed"; return 1; }
	table ip mvvb {
		counter lower { }
		counter upper { }
		counter lower_udp { }
		counter upper_udp { }
		counter lower_igmp { }
		counter upper_igmp { }
		chain pre {
			type filter hook prerouting priority raw; policy accept;
			iifname "vl0" ip protocol 112 counter name "lower" drop
			iifname "vr0" ip protocol 112 counter name "upper" drop
			iifname "vl0" ip protocol udp counter name "lower_udp" drop
			iifname "vr0" ip protocol udp counter name "upper_udp" drop
			iifname "vl0" ip protocol igmp counter name "lower_igmp" drop
			iifname "vr0" ip protocol igmp counter name "upper_igmp" drop
		}
	}
	EOF
}

# 3. VRRP adverts, and lookalikes (UDP for VRRP: the dearest non-advert
# for the classifier), from the peer's VRRP MAC, injected with AF_PACKET into
# the veth peer, counted where they land: nftables counters in IPv4
# prerouting, which runs after the rx handler, one per input device.
bench_advert() { # drv rep
	local mode out spec delta secs rate off lower upper modes=(private)
	[ "$1" = rust ] && modes+=(vrrp)
	if ! ip link add link vl0 name vr0 address "$VMAC" type macvlan mode private || ! ip link set vr0 up; then
		note "advert: creating vr0 failed"
		return
	fi
	is_driver vr0 "$1" || { ip link del vr0; return; }
	nft_advert_table || { ip link del vr0; return; }
	for mode in $(rotate "$2" "${modes[@]}"); do
		set_mode vr0 "$mode" || continue
		if ! out=$("$BENCH" inject --dev vp0 --src-mac "$VMAC" --warmup "$WARM" --seconds "$SECS" \
			nft:ip:mvvb:lower nft:ip:mvvb:upper); then
			note "mvv-bench inject failed"
			continue
		fi
		io_check "$out" "advert $1 $mode"
		off= lower= upper=
		while read -r spec delta secs rate; do
			case $spec in
			offered) off=$rate ;;
			*:lower) lower=$rate ;;
			*:upper) upper=$rate ;;
			esac
		done <<<"$out"
		rec "advert.offered.$mode" "$1" "$2" "$off"
		if [ "$mode" = vrrp ]; then
			rec advert.vrrp.lower "$1" "$2" "$lower"
			[ "${upper%.*}" = 0 ] || note "$1 VRRP mode: $upper adverts/s reached the upper device (expected 0)"
		else
			rec advert.private.upper "$1" "$2" "$upper"
			[ "${lower%.*}" = 0 ] || note "$1 private mode: $lower adverts/s stayed on the lower device (expected 0)"
		fi
		# Non-adverts from the same MAC: C in private mode, ours in VRRP
		# mode, where the classifier looks at them and says no.
		[ "$mode" = vrrp ] || [ "$1" = c ] || continue
		for kind in igmp lookalike; do
			local ctr key
			ctr=$(nonadvert_counter "$kind") key=$(nonadvert_key "$kind")
			if ! out=$("$BENCH" inject --dev vp0 --src-mac "$VMAC" --kind "$kind" --warmup "$WARM" \
				--seconds "$SECS" "nft:ip:mvvb:lower_$ctr" "nft:ip:mvvb:upper_$ctr"); then
				note "mvv-bench inject --kind $kind failed"
				continue
			fi
			io_check "$out" "$kind $1 $mode"
			lower= upper=
			while read -r spec delta secs rate; do
				case $spec in
				*:lower_*) lower=$rate ;;
				*:upper_*) upper=$rate ;;
				esac
			done <<<"$out"
			rec "$key.$mode.upper" "$1" "$2" "$upper"
			[ "${lower%.*}" = 0 ] || note "$1 $mode mode: $lower $kind frames/s stayed on the lower device (expected 0)"
		done
	done
	[ "$2" = 1 ] && cross_check nft:ip:mvvb:upper nft -j list counter ip mvvb upper
	nft delete table ip mvvb
	ip link del vr0
}

# 4. Transmit: pktgen start_xmit on the upper device (burst 1: macvlan
# clears IFF_TX_SKB_SHARING), counted at the veth peer's tc ingress.
bench_tx() { # drv rep
	local mode r
	if ! ip link add link vl0 name tx0 type macvlan mode private || ! ip link set tx0 up; then
		note "tx: creating tx0 failed"
		return
	fi
	if is_driver tx0 "$1" && pg_dev tx0 "$(cat /sys/class/net/vp0/address)" start_xmit 1; then
		for mode in $(rotate "$2" private bridge); do
			set_mode tx0 "$mode" && r=$(pg_rate tc:$ACT_PEER) && rec "tx.$mode" "$1" "$2" "$r"
		done
	fi
	pg pgctrl reset
	ip link del tx0
}

# The ip of the timed control-plane commands runs from tmpfs: the binary,
# its libraries and the loader are copied under $OUT, and /etc/iproute2
# (ip reads its group names) is copied up into /etc's tmpfs overlay. The
# guest's root is the host's, over 9p without a page cache: an exec from
# it would wait for the host's I/O inside the timed interval, and how long
# that takes in guest time depends on the host's load, even under icount.
IP=(ip)
stage_ip() {
	local d=$OUT/ip bin lib loader f
	mkdir -p "$d"
	bin=$(readlink -f "$(command -v ip)") && cp "$bin" "$d/ip" || return 1
	for lib in $(ldd "$bin" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p'); do
		cp -L "$lib" "$d/" || return 1
	done
	loader=$(ldd "$bin" | sed -n 's/^[[:space:]]*\(\/[^ ]*ld-linux[^ ]*\) .*/\1/p')
	cp -L "$loader" "$d/ld.so" || return 1
	for f in /etc/iproute2/*; do
		[ -f "$f" ] && cat "$f" > "$f.mvv" && mv -f "$f.mvv" "$f"
	done
	"$d/ld.so" --library-path "$d" "$d/ip" -V > /dev/null || return 1
	IP=("$d/ld.so" --library-path "$d" "$d/ip")
}

# 5. Control plane: create 1000 devices, then 3096 more (4096), with
# ip -batch; delete the 3096, then the 1000, each group in one request.
# Memory per device from /proc/meminfo around the first 1000.
bench_ctl() { # drv rep
	local t0 t1 t2a t2 t3 t4 slab0 avail0 slab1 avail1 io0 io1 io2
	slab0=$(meminfo Slab) avail0=$(meminfo MemAvailable)
	io0=$(io_irqs)
	t0=$(now_us)
	"${IP[@]}" -batch "$OUT/ctl-a.batch" || { note "ctl: creating $CTL_A devices failed"; ip link del group $GROUP_A 2>/dev/null; return; }
	t1=$(now_us)
	io1=$(io_irqs)
	slab1=$(meminfo Slab) avail1=$(meminfo MemAvailable)
	if ! is_driver c1 "$1"; then
		ip link del group $GROUP_A
		return
	fi
	io2=$(io_irqs)
	t2a=$(now_us)
	"${IP[@]}" -batch "$OUT/ctl-b.batch" || { note "ctl: creating $CTL_TOTAL devices failed"; ip link del group $GROUP_B 2>/dev/null; ip link del group $GROUP_A; return; }
	t2=$(now_us)
	"${IP[@]}" link del group $GROUP_B || note "ctl: deleting group $GROUP_B failed"
	t3=$(now_us)
	"${IP[@]}" link del group $GROUP_A || note "ctl: deleting group $GROUP_A failed"
	t4=$(now_us)
	io0=$((io1 - io0 + $(io_irqs) - io2))
	[ "$io0" = 0 ] || note "ctl $1 rep $2: $io0 virtio I/O interrupts in the timed commands (host I/O)"
	rec create.1000 "$1" "$2" "$(per_sec $CTL_A $((t1 - t0)))"
	rec create.4096 "$1" "$2" "$(per_sec $CTL_TOTAL $((t1 - t0 + t2 - t2a)))"
	rec delete.1000 "$1" "$2" "$(per_sec $CTL_A $((t4 - t3)))"
	rec delete.4096 "$1" "$2" "$(per_sec $CTL_TOTAL $((t4 - t2)))"
	rec mem.slab "$1" "$2" "$(ratio3 $((slab1 - slab0)) $CTL_A)"
	rec mem.available "$1" "$2" "$(ratio3 $((avail0 - avail1)) $CTL_A)"
}

slot() { # drv rep
	local fig t
	for fig in rx fanout advert tx ctl; do
		wants "$fig" || continue
		t=$SECONDS
		"bench_$fig" "$@"
		say "$1: $fig took $((SECONDS - t)) s"
	done
}

# --- set-up ---
start=$SECONDS
meta mode "$MODE"
meta flavour "$FLAVOUR"
[ -n "${MVV_BENCH_ICOUNT_SHIFT:-}" ] && meta icount_shift "$MVV_BENCH_ICOUNT_SHIFT"
meta accelerator "${MVV_ACCEL:-unknown}"
meta kernel "$(uname -r)"
meta cpus "$(nproc)"
meta reps "$REPS"
meta seconds "$SECS"
meta warmup "$WARM"
meta pktgen_burst "$BURST"
meta date "$(date -u +%Y-%m-%dT%H:%MZ)"
say "mode: $MODE; $FLAVOUR kernel; accelerator: ${MVV_ACCEL:-unknown}; $REPS repetitions, ${SECS} s windows; figures: $ONLY"

# No IPv6: no DAD or MLD frames from thousands of devices.
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip link set lo up
ip link add vl0 type veth peer name vp0 || exit 1
if wants ctl && ! stage_ip; then
	note "ctl: staging ip in tmpfs failed; the timed commands exec ip from the 9p root"
	IP=(ip)
fi
ip link set vl0 up && ip link set vp0 up || exit 1
[ -w "$PG/pgctrl" ] || { echo "error: no $PG/pgctrl in this namespace" >&2; exit 1; }
tc actions add action gact drop index $ACT_UPPER &&
	tc_count_on vp0 $ACT_PEER || { echo "error: tc set-up failed" >&2; exit 1; }
for ((i = 1; i <= CTL_A; i++)); do
	echo "link add link vl0 name c$i group $GROUP_A type macvlan mode bridge"
done > "$OUT/ctl-a.batch"
for ((i = CTL_A + 1; i <= CTL_TOTAL; i++)); do
	echo "link add link vl0 name c$i group $GROUP_B type macvlan mode bridge"
done > "$OUT/ctl-b.batch"

for ((rep = 1; rep <= REPS; rep++)); do
	say "repetition $rep of $REPS ($((SECONDS - start)) s so far)"
	bench_bare "$rep"
	order="c rust"
	((rep % 2 == 0)) && order="rust c"
	for drv in $order; do
		if [ -d /sys/module/macvlan ] || [ -d /sys/module/macvlan_vrrp ]; then
			note "a macvlan driver is still loaded; skipping $drv in repetition $rep"
			continue
		fi
		if ! err=$(load "$drv" 2>&1); then
			note "loading $(drv_name "$drv") failed: $err"
			continue
		fi
		slot "$drv" "$rep"
		err=$(unload "$drv" 2>&1) || note "rmmod $(drv_name "$drv") failed: $err"
	done
done

cross_check tc:$ACT_UPPER tc -s -j actions get action gact index $ACT_UPPER
cross_check tc:$ACT_PEER tc -s -j actions get action gact index $ACT_PEER

splats=$(mvv_splats)
if [ -n "$splats" ]; then
	note "kernel splats during the run: $(echo "$splats" | head -n 3 | tr '\n' ' ')"
	mvv_splat_context 60 | sed 's/^/# dmesg: /'
fi
mvv_bad_taint && note "kernel taint $(cat /proc/sys/kernel/tainted) has W or D"
meta io_irqs_in_windows "$(awk '{ n += $1 } END { print n + 0 }' "$OUT/window-io" 2>/dev/null)"
meta bench_seconds "$((SECONDS - start))"

if ! "$BENCH" report --raw "$RAW" --out-dir "$OUT" > /dev/null; then
	echo "error: mvv-bench report failed" >&2
	exit 1
fi
for part in MD:results.md JSON:results.json COST:cost.svg SVG:fanout.svg RAW:raw.tsv; do
	echo "MVV-BENCH-${part%%:*}-BEGIN"
	cat "$OUT/${part#*:}"
	echo "MVV-BENCH-${part%%:*}-END"
done
say "benchmark took $((SECONDS - start)) s in the guest"
