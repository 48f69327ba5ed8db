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
#   make clippy     build the module with the pinned clippy-driver
#   make rust-analyzer  write rust-project.json for the module
#
# KDIR=/path/to/your/kernel builds against your own Rust-enabled kernel tree.

SHELL := /bin/bash
TOP := $(CURDIR)
include $(TOP)/scripts/toolchain.mk

KDIR ?= $(shell $(TOP)/scripts/build-kernel --print-kdir)
KMAKE = $(MAKE) -C $(KDIR) M=$(TOP) $(KERNEL_TOOLCHAIN)
# bindgen (the kernel's and scripts/module-bindgen) loads libclang at run
# time: the one of the kernel's clang.
MVV_LIBCLANG := $(call mvv_libclang_path,$(KDIR))
ifneq ($(MVV_LIBCLANG),)
export LIBCLANG_PATH := $(MVV_LIBCLANG)
endif

.PHONY: all module modules kernel setup check check-full demo bench clippy rust-analyzer \
	rustfmt rustfmt-check \
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

kernel:
	$(TOP)/scripts/build-kernel --flavour $(or $(KERNEL_FLAVOUR),debug) >/dev/null

setup:
	$(TOP)/scripts/setup

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
