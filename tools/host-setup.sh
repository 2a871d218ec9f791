#!/usr/bin/env bash
# Installs the host tools that build, boot and test the noos image. Idempotent:
# a second run checks each package and installs nothing when all are there.
set -euo pipefail

# mkosi 24 and the systemd >= 254 it needs come from bookworm-backports;
# bookworm's own mkosi 14 cannot build this image. e2fsprogs too: mke2fs
# clamps the root's inode times to SOURCE_DATE_EPOCH from 1.47.1 on (bookworm
# has 1.47.0; docs/image.md#reproducible-builds). python3-virt-firmware
# (virt-fw-vars) writes OVMF's Secure Boot variables with our key enrolled
# (the Secure Boot e2e test); bookworm has none.
BACKPORTS=(mkosi systemd systemd-container systemd-boot systemd-boot-efi
           libsystemd-dev e2fsprogs python3-virt-firmware)
# sbsigntool: mkosi's SecureBoot= signs with sbsign and writes systemd-boot's
# auto-enrollment files with sbsiglist and sbvarsign; openssl checks the pair
# and makes the test image's (noos_image.secure_boot, the Makefile).
PACKAGES=(kmod dosfstools mtools cpio zstd python3-pefile
          debian-archive-keyring qemu-system-x86 qemu-utils ovmf dbus
          pkg-config cmake build-essential git socat polkitd sbsigntool openssl)

missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

sources=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$sources" ]; then
  $SUDO tee "$sources" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  updated=""
fi

need_bp=$(missing "${BACKPORTS[@]}")
need=$(missing "${PACKAGES[@]}")
# An old mkosi (bookworm's 14) counts as missing.
if command -v mkosi >/dev/null && ! mkosi --version | grep -qE 'mkosi (2[4-9]|[3-9][0-9])'; then
  need_bp="$need_bp mkosi"
fi
if ! dpkg --compare-versions "$(dpkg-query -W -f='${Version}' e2fsprogs 2>/dev/null || echo 0)" ge 1.47.1; then
  need_bp="$need_bp e2fsprogs"
fi
if [ -n "$need_bp$need" ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # shellcheck disable=SC2086
  [ -z "$need_bp" ] || $SUDO apt-get install -y -q --no-install-recommends -t bookworm-backports $need_bp
  # shellcheck disable=SC2086
  [ -z "$need" ] || $SUDO apt-get install -y -q --no-install-recommends $need
fi
echo "host-setup: all host packages present ($(mkosi --version), e2fsprogs $(dpkg-query -W -f='${Version}' e2fsprogs))"
