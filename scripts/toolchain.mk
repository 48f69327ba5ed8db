# The pinned kernel toolchain, shared by the Makefile. See DEVELOPERS.md.
MVV_RUSTC ?= /usr/bin/rustc
MVV_RUSTDOC ?= /usr/bin/rustdoc
MVV_CLIPPY_DRIVER ?= /usr/bin/clippy-driver
MVV_BINDGEN ?= $(or $(shell command -v bindgen 2>/dev/null),$(HOME)/.cargo/bin/bindgen)
KERNEL_TOOLCHAIN := RUSTC=$(MVV_RUSTC) RUSTDOC=$(MVV_RUSTDOC) BINDGEN=$(MVV_BINDGEN)
