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

# The kernel's compiler: clang of the LLVM major that rustc uses (Rust with
# KASAN needs CC_IS_CLANG), named in the kernel's versioned form (LLVM=-19).
MVV_LLVM_MAJOR=${MVV_LLVM_MAJOR:-19}
MVV_LLVM=-$MVV_LLVM_MAJOR
MVV_LIBCLANG_PATH=${MVV_LIBCLANG_PATH:-/usr/lib/llvm-$MVV_LLVM_MAJOR/lib}

# Kernel flavours: debug (make check, make demo) and release (make bench).
MVV_KERNEL_FLAVOUR=${MVV_KERNEL_FLAVOUR:-debug}

# Debian source packages built with the project's patches.
MVV_IPROUTE2_VERSION=6.1.0-3
MVV_KEEPALIVED_VERSION=1:2.2.7-1

MVV_CACHE=${MVV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/macvlan-vrrp}
MVV_JOBS=${MVV_JOBS:-$(( $(nproc) + 1 ))}

die() { echo "error: $*" >&2; exit 1; }
note() { echo ">>> $*" >&2; }

# The private apt configuration of mvv_apt_source and mvv_apt_orig_tarball:
# bookworm's deb-src list under $MVV_CACHE/apt, never the system's. Sets
# the array mvv_apt_opts and runs apt-get update with it.
mvv_apt_private() {
	local apt="$MVV_CACHE/apt"
	mkdir -p "$apt/lists/partial"
	echo "deb-src http://deb.debian.org/debian bookworm main" > "$apt/sources.list"
	mvv_apt_opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
	apt-get "${mvv_apt_opts[@]}" -qq update >/dev/null ||
		die "apt-get update with the private deb-src list failed (network?)"
}

# Downloads the Debian bookworm source package NAME=VERSION into DIR
# through a private apt configuration under the cache (its own deb-src list
# and lists directory), leaving the system's apt sources untouched.
mvv_apt_source() { # name version dir
	local name=$1 version=$2 dir=$3 apt="$MVV_CACHE/apt"
	[ -f "$dir/${name}_$version.dsc" ] && return 0
	mkdir -p "$dir"
	note "apt: fetching the source package $name $version (private deb-src list under $apt)"
	mvv_apt_private
	local opts=("${mvv_apt_opts[@]}")
	(cd "$dir" && apt-get "${opts[@]}" -qq source --download-only "$name=$version" >/dev/null) ||
		die "apt-get source $name=$version failed"
}

# Downloads only the upstream orig tarball of the Debian bookworm source
# package NAME=VERSION into DIR (for keepalived, whose Debian packaging
# tarball answers 404), through the same private apt configuration, with
# apt's own downloader checking the SHA256 that the signed Sources index
# gives. Prints the tarball's path.
mvv_apt_orig_tarball() { # name version dir
	local name=$1 version=$2 dir=$3 apt="$MVV_CACHE/apt" uri file hash f
	f=$(ls "$dir"/"${name}"_*.orig.tar.* 2>/dev/null | head -n1)
	if [ -n "$f" ] && [ -f "$dir/complete" ]; then
		echo "$f"
		return 0
	fi
	mkdir -p "$dir"
	note "apt: fetching the orig tarball of $name $version (private deb-src list under $apt)"
	mvv_apt_private
	local opts=("${mvv_apt_opts[@]}")
	read -r uri file _ hash < <(apt-get "${opts[@]}" -qq --print-uris source "$name=$version" |
		grep -E "^'[^']*/${name}_[^ ]*\.orig\.tar\.[a-z0-9]+' ") ||
		die "no orig tarball for $name=$version in the Sources index"
	uri=${uri//\'/}
	/usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file "$uri" "$dir/$file" "$hash" >/dev/null ||
		die "downloading $uri failed (or its $hash did not match)"
	touch "$dir/complete"
	echo "$dir/$file"
}

mvv_kernel_make_vars() {
	echo "LLVM=$MVV_LLVM RUSTC=$MVV_RUSTC RUSTDOC=$MVV_RUSTDOC BINDGEN=$MVV_BINDGEN"
}

# The config fragments of a flavour, in the order they are applied.
mvv_kernel_fragments() { # flavour
	case "$1" in
	release) echo "$MVV_TOP/kernel/vrrp.config" ;;
	debug) echo "$MVV_TOP/kernel/vrrp.config $MVV_TOP/kernel/debug.config" ;;
	*) die "unknown kernel flavour '$1' (debug or release)" ;;
	esac
}

# The cache key: flavour, kernel source version, config fragments, and the
# versions of every tool that goes into the build.
mvv_kernel_key() { # [flavour]
	local flavour=${1:-$MVV_KERNEL_FLAVOUR} srcver f
	srcver=$(dpkg-query -W -f='${Version}' "$MVV_KERNEL_PKG" 2>/dev/null) ||
		die "$MVV_KERNEL_PKG is not installed; run scripts/setup"
	{
		echo "$flavour $srcver"
		for f in $(mvv_kernel_fragments "$flavour"); do
			sha256sum "$f" | cut -d' ' -f1
		done
		"$MVV_RUSTC" --version
		"$MVV_BINDGEN" --version
		"clang$MVV_LLVM" --version | head -n1
		"ld.lld$MVV_LLVM" --version | head -n1
		echo "libclang $MVV_LIBCLANG_PATH"
	} | sha256sum | cut -c1-12 | sed "s/^/$flavour-${srcver%%-*}-/"
}

# KDIR of the cached kernel build for the current key.
mvv_kdir() { # [flavour]
	echo "$MVV_CACHE/kernel/$(mvv_kernel_key "${1:-}")/linux"
}

# Cargo's release target directory, kept in the cache between clones: a
# fresh clone starts from the last run's artifacts and cargo's fingerprints
# decide what to rebuild (the crates.io dependencies, the bulk of the
# build, are reused from any clone path; the workspace's own crates are
# rebuilt when their sources or the clone's path differ). A copy, not a
# link, so that two clones never write each other's binaries.
mvv_cargo_seed() {
	local saved="$MVV_CACHE/cargo-target/release"
	[ -d "$MVV_TOP/target/release" ] || [ ! -d "$saved" ] && return 0
	mkdir -p "$MVV_TOP/target"
	cp -a "$saved" "$MVV_TOP/target/release" || rm -rf "$MVV_TOP/target/release"
}
# Saves target/release. The saved copy drops the workspace crates'
# artifacts older than a week (other clones', older sources'), so that it
# does not grow with every clone.
mvv_cargo_save() {
	local saved="$MVV_CACHE/cargo-target/release"
	[ -d "$MVV_TOP/target/release" ] || return 0
	mkdir -p "$saved"
	rsync -a --delete "$MVV_TOP/target/release/" "$saved/"
	find "$saved/deps" "$saved/.fingerprint" "$saved/build" -mindepth 1 -maxdepth 1 -mtime +7 \
		-regextype egrep -regex '.*/(lib)?(mvv[-_](harness|bench|netlink)|vrrp[-_]classify|vrrpctl)-[0-9a-f]{16}.*' \
		-exec rm -rf {} + 2>/dev/null
	return 0
}
