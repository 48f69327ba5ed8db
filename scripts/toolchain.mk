# The kernel toolchain, shared by the Makefile. See DEVELOPERS.md.
# rustc and bindgen are chosen for KDIR by scripts/kernel-tools (the rustc
# whose version text the kernel recorded, a bindgen at least the kernel's
# minimum), so that DKMS and make install need only KDIR; MVV_RUSTC and
# MVV_BINDGEN override the choice. Call with the KDIR:
# $(call mvv_rust_tools,$(KDIR)).
mvv_rust_tools = $(shell $(TOP)/scripts/kernel-tools $(1))

# A module must be built with the compiler its kernel was built with. Read it
# from KDIR's config, so that KDIR=<any tree> needs no other variable: a clang
# kernel gets LLVM=-<major> when that versioned clang is installed (Debian's
# clang-19), else LLVM=1; bindgen then loads the libclang of that major.
# Call with the KDIR: $(call mvv_compiler_vars,$(KDIR)).
mvv_kconfig = $(shell sed -n 's/^$(2)=//p' $(1)/.config 2>/dev/null)
mvv_clang_major = $(shell v=$(call mvv_kconfig,$(1),CONFIG_CLANG_VERSION); [ -n "$$v" ] && echo $$((v / 10000)))
define mvv_compiler_vars
$(if $(filter y,$(call mvv_kconfig,$(1),CONFIG_CC_IS_CLANG)),$(strip
  $(if $(shell command -v clang-$(call mvv_clang_major,$(1)) 2>/dev/null),
    LLVM=-$(call mvv_clang_major,$(1)),LLVM=1)))
endef
mvv_libclang_path = $(if $(filter y,$(call mvv_kconfig,$(1),CONFIG_CC_IS_CLANG)),$(wildcard /usr/lib/llvm-$(call mvv_clang_major,$(1))/lib))

# clippy-driver comes with the rustc it wraps.
mvv_clippy_driver = $(dir $(patsubst RUSTC=%,%,$(filter RUSTC=%,$(1))))clippy-driver
