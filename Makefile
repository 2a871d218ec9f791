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
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
PROFILE ?= uefi
IMAGE_DIR := build/image
# VARIANT=gpu: the image with the NVIDIA driver (mkosi.profiles/gpu), and
# llama.cpp built with CUDA when this host has the toolkit (nvcc).
VARIANT ?=
IMAGE_NAME := noos$(if $(VARIANT),-$(VARIANT))
IMAGE := $(IMAGE_DIR)/$(IMAGE_NAME).raw
ifeq ($(VARIANT),gpu)
MKOSI_PROFILE := --profile=gpu
CUDA_TOOLKIT := $(shell command -v nvcc)
# Turing to Hopper: the build host may have no GPU to take the architecture from.
export LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF$(if $(CUDA_TOOLKIT), -DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=75;80;86;89;90)
endif
PYTEST_ARGS ?=

PACKAGES := sdk services shell
PACKAGE_FILES := $(shell find $(PACKAGES) -type f \( -name '*.py' -o -name '*.toml' -o -name '*.xml' -o -name '*.tcss' -o -name py.typed \) -not -path '*/build/*' -not -path '*.egg-info*')
MKOSI_FILES := $(shell find mkosi.conf mkosi.conf.d mkosi.extra mkosi.repart mkosi.pkgmngr mkosi.profiles mkosi.postinst.chroot -type f 2>/dev/null)
LOCKS := requirements/image.lock requirements/dev.lock requirements/models.lock

.PHONY: run test image dev bench clean setup lint unit integration security e2e lock wheelhouse models

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

## The bootable disk image (build/image/noos.raw, with noos.efi, noos.vmlinuz, noos.initrd).
image: setup $(IMAGE)

$(IMAGE): build/wheels/.stamp $(VENV)/.stamp $(MKOSI_FILES) $(LOCKS) tools/build-wheelhouse.sh tools/stage-models.py
	@if [ "$(VARIANT)" = gpu ] && [ -z "$(CUDA_TOOLKIT)" ]; then \
	  echo "image: no CUDA toolkit (nvcc) on this host: $(IMAGE_NAME) gets llama.cpp's CPU build (its scheduler says so)" >&2; fi
	@wheelhouse=$$(bash tools/build-wheelhouse.sh); models=$$($(VENV)/bin/python tools/stage-models.py); \
	start=$$(date +%s); \
	mkosi --force $(MKOSI_PROFILE) \
	  --cache-dir="$(NOOS_CACHE)/mkosi/incremental" \
	  --package-cache-dir="$(NOOS_CACHE)/mkosi/packages" \
	  --build-sources=".,$$wheelhouse:wheelhouse" \
	  --extra-tree="$$models:/usr/share/noos/models" \
	  build; \
	echo "image: built $(IMAGE) in $$(( $$(date +%s) - start )) s"
	@mkdir -p $(NOOS_CACHE)/mkosi/incremental $(NOOS_CACHE)/mkosi/packages

## Boot the image in QEMU on this terminal (PROFILE=uefi|direct|gpu; Ctrl-A X quits).
## PROFILE=gpu GPU=0000:01:00.0 passes that GPU's IOMMU group through (exit 77: host not ready).
run: image
	@PYTHONPATH=qemu $(PYTHON) -m noos_qemu run --profile $(PROFILE) --image-name $(IMAGE_NAME)$(if $(GPU), --gpu $(GPU))

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

## The image booted in QEMU (E2E_ARGS="--e2e-shuffle=SEED" runs them in a random order).
e2e: dev image
	$(VENV)/bin/pytest tests/e2e $(PYTEST_ARGS) $(E2E_ARGS)

## Every phase in turn, timed: set-up, image, lint, unit, integration, security, e2e.
test:
	@bash tools/test-phases.sh

## Benchmarks: ratios against a baseline measured in the same run.
bench: dev
	$(VENV)/bin/python -m tests.bench

## Re-resolve the lock files (needs PyPI); commit the result.
lock:
	$(PYTHON) -m venv build/lock-venv && build/lock-venv/bin/pip install -q pip-tools
	cd requirements && ../build/lock-venv/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-header -o image.lock image.in
	cd requirements && ../build/lock-venv/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-header -o dev.lock dev.in
	$(PYTHON) tools/lock-models.py

clean:
	rm -rf build $(VENV) .mypy_cache .ruff_cache .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
