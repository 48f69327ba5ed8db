#!/usr/bin/env bash
# The guest half of the packaging checks, on what scripts/package-test left
# in target/pkg/ (make check runs it first):
#
#   - the module DKMS built loads, and the foundation suite passes on it;
#   - with no macvlan module loaded, "ip link add ... type macvlan" loads
#     the C macvlan.ko, and with packaging/modprobe.d/macvlan-vrrp.conf and
#     make install's module in place, it loads ours and never macvlan.ko;
#   - with module signatures enforced, the unsigned module (the build's) is
#     refused and the signed one (make install's) loads.
#
# The guest's /lib/modules and /etc are the host's, read-only: writable
# copies are bind-mounted over /lib/modules/$(uname -r) and
# /etc/modprobe.d, and depmod runs there. The kernel's modprobe helper runs
# in this mount namespace, so it sees them.
#
# Enforcement is switched on through /sys/module/module/parameters/
# sig_enforce, the runtime form of module.sig_enforce=1, which can only be
# turned on: so this suite runs last, after the suites that load the
# unsigned C macvlan.ko, and in the same boot. It leaves the signed module
# loaded. Prints TAP and the closing count line.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

pkg=$MVV_TOP/target/pkg
kver=$(uname -r)
moddir=/lib/modules/$kver
n=0 pass=0 fail=0
t0=$SECONDS
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n $1 # at $((SECONDS - t0)) s"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n $1${2:+ # $2}"; }
check() { if [ "$2" = 0 ]; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }
mounted=()
cleanup() {
	ip link del mvvpkg0 2>/dev/null
	ip link del mvvpkg1 2>/dev/null
	# Lazily: udevd's libkmod keeps the modules directory's indexes open.
	local m
	for m in "${mounted[@]}"; do umount -l "$m" || echo "# umount $m failed"; done
	mounted=()
}
finish() {
	cleanup
	echo "1..$n"
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
}
loaded() { [ -d "/sys/module/$1" ]; }
unload_all() { ip link del mvvpkg0 2>/dev/null; rmmod macvlan_vrrp 2>/dev/null; rmmod macvlan 2>/dev/null; ! loaded macvlan_vrrp && ! loaded macvlan; }

echo "KTAP version 1"
signed=$pkg/root/lib/modules/$kver/updates/macvlan_vrrp.ko
conf=$pkg/root/etc/modprobe.d/macvlan-vrrp.conf
if [ ! -f "$pkg/dkms.ko" ] || [ ! -f "$signed" ] || [ ! -f "$conf" ]; then
	not_ok packaging_artifacts "no $pkg/dkms.ko, $signed or $conf: run scripts/package-test (make check does) before the VM"
	finish
fi
ok packaging_artifacts

# ---- the module DKMS built ---------------------------------------------
unload_all
err=$(insmod "$pkg/dkms.ko" 2>&1)
rc=$?
want=$(modinfo -F srcversion "$pkg/dkms.ko")
got=$(cat /sys/module/macvlan_vrrp/srcversion 2>/dev/null)
check dkms_module_loads "$([ "$rc" = 0 ] && [ "$got" = "$want" ]; echo $?)" "insmod: ${err:-ok}; srcversion $got, DKMS's $want"
planned=$(awk '$1 == "foundation" {print $2}' "$here/plan")
out=$("$MVV_HARNESS" foundation --module "$pkg/dkms.ko" 2>&1 < /dev/null)
sed 's/^/    /' <<<"$out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n1)
check dkms_foundation "$([ "$line" = "$planned passed, 0 failed" ]; echo $?)" "foundation on the DKMS module: '${line:-no count line}', planned $planned"

# ---- autoload, without and with the modprobe.d file --------------------
unload_all || { not_ok autoload_setup "cannot unload the macvlan modules"; finish; }
tmp=$(mktemp -d /tmp/mvv-pkg.XXXXXX)
why=
if [ ! -d "$moddir" ] || [ ! -d /etc/modprobe.d ]; then
	why="no $moddir or /etc/modprobe.d in the guest"
else
	mkdir -p "$tmp/modules"
	cp -a "$moddir/." "$tmp/modules/"
	install -D -m 0644 "$signed" "$tmp/modules/updates/macvlan_vrrp.ko"
	mkdir -p "$tmp/modprobe.d"
	cp -a /etc/modprobe.d/. "$tmp/modprobe.d/"
	if mount --bind "$tmp/modules" "$moddir"; then mounted+=("$moddir"); else why="bind mount over $moddir failed"; fi
	if mount --bind "$tmp/modprobe.d" /etc/modprobe.d; then mounted+=(/etc/modprobe.d); else why="bind mount over /etc/modprobe.d failed"; fi
	[ -z "$why" ] && { depmod -a "$kver" || why="depmod failed"; }
fi
if [ -n "$why" ]; then not_ok autoload_setup "$why"; finish; fi
ok autoload_setup

lower_add() { ip link add mvvpkg1 type dummy && ip link set mvvpkg1 up; }
# The modules loaded after "ip link add ... type macvlan", or "none".
autoload_with() {
	ip link add mvvpkg0 link mvvpkg1 type macvlan mode private 2>&1 >/dev/null | sed 's/^/# ip: /'
	local m out=
	for m in macvlan macvlan_vrrp; do loaded "$m" && out="$out${out:+ }$m"; done
	echo "${out:-none}"
}
lower_add
got=$(autoload_with)
check autoload_c_without_conf "$([ "$got" = macvlan ]; echo $?)" "loaded: $got (expected the C macvlan only)"
unload_all

install -m 0644 "$conf" /etc/modprobe.d/macvlan-vrrp.conf
got=$(autoload_with)
drv=$(ethtool -i mvvpkg0 2>/dev/null | sed -n 's/^driver: //p')
check autoload_ours_with_conf "$([ "$got" = macvlan_vrrp ] && [ "$drv" = macvlan_vrrp ]; echo $?)" \
	"loaded: $got, driver of mvvpkg0: ${drv:-none} (expected macvlan_vrrp only)"
out=$(modprobe macvlan 2>&1)
rc=$?
check conf_keeps_c_driver_out "$([ "$rc" != 0 ] && ! loaded macvlan; echo $?)" "modprobe macvlan: status $rc ${out}"
ip link del mvvpkg0 2>/dev/null
ip link del mvvpkg1 2>/dev/null
unload_all
cleanup
rm -rf "$tmp"

# ---- signatures enforced ------------------------------------------------
enforce=/sys/module/module/parameters/sig_enforce
if [ ! -w "$enforce" ] || ! echo 1 > "$enforce" || [ "$(cat "$enforce")" != Y ]; then
	not_ok unsigned_refused_when_enforced "cannot enforce signatures through $enforce (CONFIG_MODULE_SIG?)"
	not_ok signed_loads_when_enforced "not tried"
	finish
fi
err=$(insmod "$MVV_KO" 2>&1)
rc=$?
check unsigned_refused_when_enforced "$([ "$rc" != 0 ] && ! loaded macvlan_vrrp && grep -qi 'key was rejected' <<<"$err"; echo $?)" \
	"insmod of the unsigned module: status $rc: ${err:-loaded}"
rmmod macvlan_vrrp 2>/dev/null
err=$(insmod "$signed" 2>&1)
check signed_loads_when_enforced $? "insmod of make install's signed module: $err"
finish
