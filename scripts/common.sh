# shellcheck shell=bash
# Shared settings for the macvlan-vrrp scripts. Sourced, never run.

MVV_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The pinned kernel toolchain (see DEVELOPERS.md).
MVV_RUST_DEB_VERSION=${MVV_RUST_DEB_VERSION:-1.85.0+dfsg3-1~deb12u3}
MVV_RUSTC=${MVV_RUSTC:-/usr/bin/rustc}
MVV_RUSTDOC=${MVV_RUSTDOC:-/usr/bin/rustdoc}
MVV_CLIPPY_DRIVER=${MVV_CLIPPY_DRIVER:-/usr/bin/clippy-driver}
MVV_BINDGEN_VERSION=0.71.1
MVV_BINDGEN=${MVV_BINDGEN:-$(command -v bindgen || echo "$HOME/.cargo/bin/bindgen")}
MVV_VNG_VERSION=1.42
MVV_KERNEL_PKG=linux-source-6.12

MVV_CACHE=${MVV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/macvlan-vrrp}
MVV_JOBS=${MVV_JOBS:-$(( $(nproc) + 1 ))}

die() { echo "error: $*" >&2; exit 1; }
note() { echo ">>> $*" >&2; }

mvv_kernel_make_vars() {
	echo "RUSTC=$MVV_RUSTC RUSTDOC=$MVV_RUSTDOC BINDGEN=$MVV_BINDGEN"
}

# The cache key: kernel source version, config fragment, toolchain versions.
mvv_kernel_key() {
	local srcver
	srcver=$(dpkg-query -W -f='${Version}' "$MVV_KERNEL_PKG" 2>/dev/null) ||
		die "$MVV_KERNEL_PKG is not installed; run scripts/setup"
	{
		echo "$srcver"
		sha256sum "$MVV_TOP/kernel/vrrp.config" | cut -d' ' -f1
		"$MVV_RUSTC" --version
		"$MVV_BINDGEN" --version
		gcc --version | head -n1
	} | sha256sum | cut -c1-12 | sed "s/^/${srcver%%-*}-/"
}

# KDIR of the cached kernel build for the current key.
mvv_kdir() {
	echo "$MVV_CACHE/kernel/$(mvv_kernel_key)/linux"
}
