# SPDX-License-Identifier: GPL-2.0
#
# macvlan-vrrp: the out-of-tree Rust macvlan module with MACVLAN_MODE_VRRP.
#
#   make            build macvlan_vrrp.ko against KDIR (default: the cached kernel)
#   make demo       set up, build, boot a VM and run the two-router demo
#   make check      set up, build, host tests, then the VM test suite
#   make bench      set up, build, then C macvlan.ko vs macvlan_vrrp.ko in one VM boot
#   make kernel     build (or find) the cached Rust-enabled 6.12 kernel
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

.PHONY: all module modules kernel setup check demo bench clippy rust-analyzer \
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
	$(TOP)/scripts/build-kernel >/dev/null

setup:
	$(TOP)/scripts/setup

host-test:
	cargo test --workspace --release

vm-test:
	$(TOP)/scripts/vm-run --suite

check:
	$(TOP)/scripts/check

demo:
	$(TOP)/scripts/demo

bench:
	$(TOP)/scripts/bench

clean:
	-[ -d "$(KDIR)" ] && $(KMAKE) clean
	rm -rf generated
