# SPDX-License-Identifier: GPL-2.0
#
# macvlan-vrrp: the out-of-tree Rust macvlan module with MACVLAN_MODE_VRRP.
#
#   make            build macvlan_vrrp.ko against KDIR (default: the cached kernel)
#   make demo       set up, build, boot a VM and run the two-router demo
#   make check      set up, build, host tests, then the VM test suite
#   make check-full the same with every suite at its full size
#   make bench      set up, build, then C macvlan.ko vs macvlan_vrrp.ko in one VM boot
#   make kernel     build (or find) the cached Rust-enabled 6.12 debug kernel
#                   (KERNEL_FLAVOUR=release: the kernel of make bench)
#   make setup      install the toolchain and packages (idempotent)
#   make keepalived build (or find) the patched keepalived (vmac_vrrp_mode)
#                   in the cache; prints its path
#   make clippy     build the module with the pinned clippy-driver
#   make rust-analyzer  write rust-project.json for the module
#   make install    build, then install the module (signed when the kernel
#                   signs its modules) and the modprobe.d file, run depmod;
#                   for the running kernel unless KDIR= is given;
#                   INSTALL_MOD_PATH= installs under another root
#   make uninstall  remove what make install installed, run depmod
#   make deb        target/deb/: macvlan-vrrp-dkms_<version>_all.deb and
#                   macvlan-vrrp-tools_<version>_<arch>.deb (vrrpctl)
#
# KDIR=/path/to/your/kernel builds against your own Rust-enabled kernel tree.

SHELL := /bin/bash
TOP := $(CURDIR)
include $(TOP)/scripts/toolchain.mk

# KDIR: the cached test kernel; for make install and uninstall, the running
# kernel's build tree, as for any out-of-tree module.
ifeq ($(origin KDIR),undefined)
ifneq ($(filter install uninstall,$(MAKECMDGOALS)),)
KDIR := /lib/modules/$(shell uname -r)/build
else
KDIR := $(shell $(TOP)/scripts/build-kernel --print-kdir)
endif
endif
RUST_TOOLS := $(call mvv_rust_tools,$(KDIR))
KERNEL_COMPILER := $(call mvv_compiler_vars,$(KDIR))
KERNEL_TOOLCHAIN := $(RUST_TOOLS) $(KERNEL_COMPILER)
# For a clang kernel, LLVM= names the kernel's clang and lld: a CC= or LD=
# given to this make (DKMS adds "CC=clang LD=ld.lld", which may not exist
# when only clang-19 is installed) must not reach the kernel's make.
ifneq ($(KERNEL_COMPILER),)
MAKEOVERRIDES := $(filter-out CC=% LD=%,$(MAKEOVERRIDES))
endif
MVV_CLIPPY_DRIVER ?= $(call mvv_clippy_driver,$(RUST_TOOLS))
KMAKE = $(MAKE) -C $(KDIR) M=$(TOP) $(KERNEL_TOOLCHAIN)
# bindgen (the kernel's and scripts/module-bindgen) loads libclang at run
# time: the one of the kernel's clang.
MVV_LIBCLANG := $(call mvv_libclang_path,$(KDIR))
ifneq ($(MVV_LIBCLANG),)
export LIBCLANG_PATH := $(MVV_LIBCLANG)
endif

.PHONY: all module modules kernel keepalived setup check check-full demo bench clippy rust-analyzer \
	rustfmt rustfmt-check install uninstall deb \
	host-test vm-test clean

all: module

module modules:
	@$(TOP)/scripts/check-kdir $(KDIR)
	$(KMAKE) modules

clippy:
	@$(TOP)/scripts/check-kdir $(KDIR)
	$(KMAKE) CLIPPY=1 CLIPPY_DRIVER=$(MVV_CLIPPY_DRIVER) modules

rust-analyzer:
	@$(TOP)/scripts/check-kdir $(KDIR)
	$(KMAKE) rust-analyzer

# The version of the packages and of the DKMS source (dkms.conf says it once).
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' $(TOP)/dkms.conf)
KVER = $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)
INSTALL_MOD_PATH ?=
INSTALL_MOD_DIR ?= updates
MODPROBE_CONF := $(INSTALL_MOD_PATH)/etc/modprobe.d/macvlan-vrrp.conf

# modules_install signs the module with the kernel's key when the kernel
# has CONFIG_MODULE_SIG_ALL, as it does the kernel's own modules.
install: module
	$(KMAKE) INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) modules_install
	install -D -m 0644 $(TOP)/packaging/modprobe.d/macvlan-vrrp.conf $(MODPROBE_CONF)
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KVER)

uninstall:
	rm -f $(INSTALL_MOD_PATH)/lib/modules/$(KVER)/$(INSTALL_MOD_DIR)/macvlan_vrrp.ko* $(MODPROBE_CONF)
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KVER)

deb:
	$(TOP)/scripts/package --version $(VERSION) --out $(TOP)/target/deb

kernel:
	$(TOP)/scripts/build-kernel --flavour $(or $(KERNEL_FLAVOUR),debug) >/dev/null

setup:
	$(TOP)/scripts/setup

keepalived:
	$(TOP)/scripts/build-keepalived

host-test:
	cargo test --workspace --release

vm-test:
	$(TOP)/scripts/vm-run --suite

check:
	$(TOP)/scripts/check

# The suites at their full sizes (parity: 4096 uppers), beyond make
# check's time budget.
check-full:
	MVV_SIZE=full $(TOP)/scripts/check

rustfmt-check:
	@$(TOP)/scripts/check-kdir $(KDIR)
	rustfmt --check --config-path $(KDIR)/.rustfmt.toml src/macvlan_vrrp_main.rs

rustfmt:
	@$(TOP)/scripts/check-kdir $(KDIR)
	rustfmt --config-path $(KDIR)/.rustfmt.toml src/macvlan_vrrp_main.rs

demo:
	$(TOP)/scripts/demo

bench:
	$(TOP)/scripts/bench

clean:
	-[ -d "$(KDIR)" ] && $(KMAKE) clean
	rm -rf generated
