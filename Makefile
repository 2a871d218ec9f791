# noos: build, boot and test an AI-native Debian image.
#   make run    boot the image in QEMU on this terminal (builds what is missing)
#   make test   lint, unit, integration and security tests, then the QEMU end-to-end tests
# Everything a fresh Debian 12 machine lacks is installed by these targets
# themselves (tools/host-setup.sh); heavy artifacts are cached outside the repo
# in $(NOOS_CACHE), so a second run, or a fresh clone, reuses them.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
NOOS_CACHE ?= $(HOME)/.cache/noos
export NOOS_CACHE
# The disk room one image build needs at its peak (three copies of the root
# tree: mkosi's, repart's ext4, the disk; measured 9.7-11.3 GB over the
# build's start), checked before mkosi starts (docs/image.md#disk-room).
IMAGE_ROOM_GIB ?= 12
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
PROFILE ?= uefi
# VARIANT=gpu: the image with the NVIDIA driver (mkosi.profiles/gpu), and
# llama.cpp built with CUDA when this host has the toolkit (nvcc).
VARIANT ?=
IMAGE_NAME := noos$(if $(VARIANT),-$(VARIANT))
# What each image is for (mkosi.profiles/, docs/image.md#profiles), each in a
# directory of its own: build/image/ what a user installs (`make image`);
# build/image-demo/ the default plus console autologin (`make run`);
# build/image-test/ the demo plus the test driver's backdoor (`make e2e`).
image_dir = build/image$(if $(1),-$(1))
IMAGE := $(call image_dir,)/$(IMAGE_NAME).raw
DEMO_IMAGE := $(call image_dir,demo)/$(IMAGE_NAME).raw
TEST_IMAGE := $(call image_dir,test)/$(IMAGE_NAME).raw
ifeq ($(VARIANT),gpu)
MKOSI_PROFILE := --profile=gpu
CUDA_TOOLKIT := $(shell command -v nvcc)
# Turing to Hopper: the build host may have no GPU to take the architecture from.
export LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF$(if $(CUDA_TOOLKIT), -DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=75;80;86;89;90)
endif
# The Debian packages that go into the image (docs/image.md#the-debian-lock):
# each build is compared with the lock, and what the mirror moved is printed
# (warn: the live mirror moves outside our commits); DEBIAN_LOCK=check fails
# the build instead (`make lock-check`, `make repro`), DEBIAN_LOCK=write
# records the build's (`make lock`). VARIANT=gpu has a lock of its own.
DEBIAN_LOCK_FILE := requirements/debian$(if $(VARIANT),-$(VARIANT)).lock
DEBIAN_LOCK ?= warn
# Secure Boot (docs/image.md#secure-boot): SECURE_BOOT_KEY= and
# SECURE_BOOT_CERT= (PEM) sign systemd-boot and the UKI of the default and
# demo images (mkosi's SecureBoot=); the pair is checked before anything is
# built. Unset, those images are unsigned. The test image is always signed,
# with a throwaway pair made here per build directory (build/keys/, never
# committed), so that the e2e suite boots a signed build under Secure Boot.
SECURE_BOOT_KEY ?=
SECURE_BOOT_CERT ?=
TEST_KEY := build/keys/noos-test.key
TEST_CERT := build/keys/noos-test.crt
# Which pair signed the default and demo images: a build with another (or
# none) is a new build, though no file changed.
SIGNER_STAMP := build/secure-boot-signer
# The build's version in the image's os-release (IMAGE_VERSION=).
IMAGE_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
PYTEST_ARGS ?=

PACKAGES := sdk services shell
PACKAGE_FILES := $(shell find $(PACKAGES) -type f \( -name '*.py' -o -name '*.toml' -o -name '*.xml' -o -name '*.tcss' -o -name py.typed \) -not -path '*/build/*' -not -path '*.egg-info*')
# The demo and test profiles' trees are inputs of their images alone.
MKOSI_FILES := $(shell find mkosi.conf mkosi.reproducible.conf mkosi.conf.d mkosi.extra mkosi.repart mkosi.pkgmngr mkosi.profiles mkosi.postinst.chroot mkosi.finalize -type f -not -path 'mkosi.profiles/demo/*' -not -path 'mkosi.profiles/test/*' 2>/dev/null)
DEMO_FILES := $(shell find mkosi.profiles/demo -type f)
TEST_FILES := $(shell find mkosi.profiles/test -type f)
NOOS_IMAGE_FILES := $(wildcard qemu/noos_image/*.py)
LOCKS := requirements/image.lock requirements/dev.lock requirements/models.lock

FORCE:
.PHONY: FORCE run test image image-demo image-test usb lock-debian lock-check repro repro-check dev bench clean setup lint unit integration security e2e lock wheelhouse models

## Host packages (mkosi 24 and systemd 254 from bookworm-backports, QEMU, OVMF, ...).
setup:
	@bash tools/host-setup.sh

## The development venv: the image's dependencies from the wheelhouse, the dev
## tools from requirements/dev.lock, and the three distributions editable.
dev: setup $(VENV)/.stamp

$(VENV)/.stamp: $(LOCKS) sdk/pyproject.toml services/pyproject.toml shell/pyproject.toml tools/build-wheelhouse.sh tools/build-llama-wheel.sh
	@wheelhouse=$$(bash tools/build-wheelhouse.sh); \
	rm -rf $(VENV); $(PYTHON) -m venv $(VENV); \
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-index --find-links "$$wheelhouse" -r "$$wheelhouse/requirements.txt"; \
	$(VENV)/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements/dev.lock; \
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps $(addprefix -e ./,$(PACKAGES)); \
	touch $@

wheelhouse: setup
	@bash tools/build-wheelhouse.sh

## The models tree (/usr/share/noos/models); the venv's Python exports MiniLM to ONNX.
models: dev
	@$(VENV)/bin/python tools/stage-models.py

## The project's own wheels, installed into the image's venv.
build/wheels/.stamp: $(PACKAGE_FILES)
	@rm -rf build/wheels $(addsuffix /build,$(PACKAGES)); mkdir -p build/wheels
	@$(PYTHON) -m pip wheel -q --disable-pip-version-check --no-deps -w build/wheels $(addprefix ./,$(PACKAGES))
	@touch $@

## The bootable disk image (build/image/noos.raw, with noos.efi, noos.vmlinuz,
## noos.initrd, noos.manifest and noos.files); image-demo and image-test
## build the demo and test profiles' beside it (build/image-demo/, build/image-test/).
image: setup $(IMAGE)
image-demo: setup $(DEMO_IMAGE)
image-test: setup $(TEST_IMAGE)

IMAGE_INPUTS := build/wheels/.stamp $(VENV)/.stamp $(MKOSI_FILES) $(LOCKS) $(wildcard $(DEBIAN_LOCK_FILE)) $(NOOS_IMAGE_FILES) tools/build-wheelhouse.sh tools/stage-models.py

$(IMAGE): $(SIGNER_STAMP) $(IMAGE_INPUTS)
	@$(call build_image,,,,$(SECURE_BOOT_KEY),$(SECURE_BOOT_CERT))
$(DEMO_IMAGE): $(SIGNER_STAMP) $(IMAGE_INPUTS) $(DEMO_FILES)
	@$(call build_image,demo,,,$(SECURE_BOOT_KEY),$(SECURE_BOOT_CERT))
$(TEST_IMAGE): $(IMAGE_INPUTS) $(DEMO_FILES) $(TEST_FILES) $(TEST_CERT)
	@$(call build_image,test,,,$(TEST_KEY),$(TEST_CERT))

# Rewritten only when the pair (its paths, or the certificate's bytes) changed;
# a bad pair stops `make image` here, before the wheels and the venv are built.
$(SIGNER_STAMP): FORCE
	@said=$$(PYTHONPATH=qemu $(PYTHON) -m noos_image secure-boot "$(SECURE_BOOT_KEY)" "$(SECURE_BOOT_CERT)" 2>&1) \
	  || { echo "$$said" >&2; exit 1; }; \
	mkdir -p $(@D); \
	signer="$(SECURE_BOOT_KEY) $(SECURE_BOOT_CERT) $$({ cat "$(SECURE_BOOT_CERT)" 2>/dev/null || true; } | sha256sum)"; \
	[ -f $@ ] && [ "$$(cat $@)" = "$$signer" ] || echo "$$signer" > $@

# The test image's throwaway pair: RSA-2048, what every firmware checks.
$(TEST_CERT):
	@mkdir -p $(@D); \
	openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=noos test image (throwaway)/" \
	  -keyout $(TEST_KEY) -out $@ 2>/dev/null; \
	chmod 600 $(TEST_KEY)

# $(1): the profile ("" for the default image); $(2): the output directory
# (its profile's by default); $(3): more mkosi options; $(4), $(5): the Secure
# Boot key and certificate (none: unsigned), checked first. No signed PCR
# policy in the UKI (SignExpectedPcr=no): nothing in noos binds secrets to
# the TPM, and systemd-measure would need the TPM2 libraries on the build
# host. mkosi 24.3 builds a single
# Profile= (a second --profile replaces the first), so the variant is the
# profile and the purpose, whose directory holds only files, is included.
# A build that DEBIAN_LOCK=check fails leaves no disk behind.
define build_image
PYTHONPATH=qemu $(PYTHON) -m noos_image secure-boot "$(4)" "$(5)"; \
if [ "$(VARIANT)" = gpu ] && [ -z "$(CUDA_TOOLKIT)" ]; then \
  echo "image: no CUDA toolkit (nvcc) on this host: $(IMAGE_NAME) gets llama.cpp's CPU build (its scheduler says so)" >&2; fi; \
wheelhouse=$$(bash tools/build-wheelhouse.sh); models=$$($(VENV)/bin/python tools/stage-models.py); \
output=$(or $(2),$(call image_dir,$(1))); \
PYTHONPATH=qemu $(PYTHON) -m noos_image room $(IMAGE_ROOM_GIB) "$$output" "$${TMPDIR:-/var/tmp}" "$(NOOS_CACHE)" || exit 1; \
start=$$(date +%s); \
mkosi --force $(MKOSI_PROFILE) $(if $(1),--include=mkosi.profiles/$(1)) $(3) \
  $(if $(4),--secure-boot=yes --secure-boot-key="$(4)" --secure-boot-certificate="$(5)" --sign-expected-pcr=no) \
  --output-dir="$$output" \
  --image-version="$(IMAGE_VERSION)" \
  --environment=NOOS_DEBIAN_LOCK="$$(PYTHONPATH=qemu $(PYTHON) -m noos_image lock digest $(DEBIAN_LOCK_FILE))" \
  --cache-dir="$(NOOS_CACHE)/mkosi/incremental" \
  --package-cache-dir="$(NOOS_CACHE)/mkosi/packages" \
  --build-sources=".,$$wheelhouse:wheelhouse" \
  --extra-tree="$$models:/usr/share/noos/models" \
  build; \
echo "image: built $$output/$(IMAGE_NAME).raw$(if $(1), (profile $(1))) in $$(( $$(date +%s) - start )) s"; \
PYTHONPATH=qemu $(PYTHON) -m noos_image lock $(DEBIAN_LOCK) "$$output/$(IMAGE_NAME).manifest" $(DEBIAN_LOCK_FILE) \
  || { rm -f "$$output/$(IMAGE_NAME).raw"; exit 1; }; \
mkdir -p $(NOOS_CACHE)/mkosi/incremental $(NOOS_CACHE)/mkosi/packages
endef

## The default image written to a whole disk (a USB stick) to install noos on
## bare metal: `make usb DEVICE=/dev/sdX`. DEVICE is checked before anything is
## built and again before dd: unset, not a block device, a partition, mounted,
## or the disk of this host's / /usr /boot is refused, nothing written.
usb:
	@PYTHONPATH=qemu $(PYTHON) -m noos_image usb-check "$(DEVICE)"
	@$(MAKE) --no-print-directory image
	@PYTHONPATH=qemu $(PYTHON) -m noos_image usb "$(DEVICE)" $(IMAGE)

## The default image built twice, each from empty mkosi caches (no incremental
## tree, no cached default initrd; the downloaded packages are kept), and its
## disk, UKI, kernel and initrd compared by sha256 (docs/image.md#reproducible-builds).
REPRO_DIR := build/repro
repro: DEBIAN_LOCK := check
repro: setup build/wheels/.stamp $(VENV)/.stamp
	@rm -rf $(REPRO_DIR); \
	for build in 1 2; do \
	  $(call build_image,,$(REPRO_DIR)/$$build,--incremental=no); \
	done; \
	PYTHONPATH=qemu $(PYTHON) -m noos_image repro $(REPRO_DIR)/1 $(REPRO_DIR)/2 $(IMAGE_NAME)

## CI's reproducibility check (make test's repro phase): the default image
## built once more from empty mkosi caches and compared with build/image by
## sha256, then its disk removed (docs/image.md#reproducible-builds). A
## mirror that moved between the two builds is reported, not failed.
REPRO_CHECK_DIR := $(REPRO_DIR)/check
repro-check: setup image
	@rm -rf $(REPRO_CHECK_DIR); \
	$(call build_image,,$(REPRO_CHECK_DIR),--incremental=no); \
	PYTHONPATH=qemu $(PYTHON) -m noos_image repro --moved-mirror-passes $(dir $(IMAGE)) $(REPRO_CHECK_DIR) $(IMAGE_NAME); \
	status=$$?; rm -f $(REPRO_CHECK_DIR)/$(IMAGE_NAME).raw; exit $$status

## Boot the demo image in QEMU on this terminal (PROFILE=uefi|direct|gpu; Ctrl-A X quits).
## PROFILE=gpu GPU=0000:01:00.0 passes that GPU's IOMMU group through (exit 77: host not ready).
## SECURE_BOOT_VARS=vars.fd enforces Secure Boot from those OVMF variables
## (`python -m noos_qemu enroll CERT vars.fd`; docs/image.md#secure-boot).
run: image-demo
	@PYTHONPATH=qemu $(PYTHON) -m noos_qemu run --profile $(PROFILE) --image-dir $(dir $(DEMO_IMAGE)) --image-name $(IMAGE_NAME)$(if $(GPU), --gpu $(GPU))$(if $(SECURE_BOOT_VARS), --secure-boot $(SECURE_BOOT_VARS))

lint: dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## Pure tests: no bus, no QEMU.
unit: dev
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

## The services on a private dbus-daemon, the SDK, the CLI and the shell against them.
integration: dev
	$(VENV)/bin/pytest tests/integration $(PYTEST_ARGS)

## Fuzzing, faults and attacks from other uids against the services on a private bus.
security: dev
	$(VENV)/bin/pytest tests/security $(PYTEST_ARGS)

## The test image booted in QEMU, and the default image compared with it
## (E2E_ARGS="--e2e-shuffle=SEED" runs them in a random order).
e2e: dev image image-test
	NOOS_IMAGE_DIR=$(dir $(TEST_IMAGE)) $(VENV)/bin/pytest tests/e2e $(PYTEST_ARGS) $(E2E_ARGS)

## Every phase in turn, timed: set-up, image, repro (a second build of the default
## image, compared), image-test, lint, unit, integration, security, e2e.
test:
	@bash tools/test-phases.sh

## Benchmarks: ratios against a baseline measured in the same run.
bench: dev
	$(VENV)/bin/python -m tests.bench

## Re-resolve the lock files (needs PyPI and the Debian mirror); commit the result.
lock: lock-debian
	$(PYTHON) -m venv build/lock-venv && build/lock-venv/bin/pip install -q pip-tools
	cd requirements && ../build/lock-venv/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-header -o image.lock image.in
	cd requirements && ../build/lock-venv/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-header -o dev.lock dev.in
	$(PYTHON) tools/lock-models.py

## The Debian lock afresh: mkosi's incremental cache is dropped, so the
## packages come from the mirror as it is now; the build's manifest is recorded.
lock-debian: setup
	rm -rf $(NOOS_CACHE)/mkosi/incremental $(IMAGE)
	$(MAKE) --no-print-directory image DEBIAN_LOCK=write

## The default image (VARIANT=gpu: the gpu image) built, failing if its
## Debian packages are not the lock's (a build only warns).
lock-check: image
	PYTHONPATH=qemu $(PYTHON) -m noos_image lock check $(IMAGE:.raw=.manifest) $(DEBIAN_LOCK_FILE)

clean:
	rm -rf build $(VENV) .mypy_cache .ruff_cache .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
