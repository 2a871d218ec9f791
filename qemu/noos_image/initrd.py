"""What an initrd holds: the paths in its cpio archives, and its kernel modules.

mkosi's initrd (`noos.initrd` beside the disk; the UKI's `.initrd` section)
is its default initrd (systemd, udev) and the kernel-modules cpio built from
`KernelModulesInitrdInclude=` (mkosi.conf.d/11-initrd.conf), each a
zstd-compressed newc cpio archive, joined with NUL bytes up to 4-byte
alignment between them, as the kernel reads them. The zstd tool stops at that
padding, so each frame is found here (its header and block headers say where
it ends) and decompressed alone.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Skippable frames: magic 0x184D2A50 to 0x184D2A5F (little-endian), then a 4-byte size.
SKIPPABLE_MAGIC, SKIPPABLE_MASK = 0x184D2A50, 0xFFFFFFF0
NEWC_MAGICS = (b"070701", b"070702")
NEWC_HEADER = 110
TRAILER = "TRAILER!!!"
MODULE = re.compile(r"^/?usr/lib/modules/[^/]+/kernel/.+/([^/]+)\.ko(\.[a-z]+)?$")


class InitrdError(ValueError):
    """Not an initrd this module can read."""


def _zstd_frame_end(data: bytes, start: int) -> int:
    """The offset just past the zstd frame at `start` (RFC 8878, section 3.1.1)."""
    descriptor = data[start + 4]
    size_flag, single_segment = descriptor >> 6, descriptor >> 5 & 1
    checksum, dictionary_flag = descriptor >> 2 & 1, descriptor & 3
    offset = start + 5 + (0 if single_segment else 1)
    offset += (0, 1, 2, 4)[dictionary_flag]
    offset += (1 if single_segment else 0, 2, 4, 8)[size_flag]
    while True:
        header = int.from_bytes(data[offset : offset + 3], "little")
        last, kind, size = header & 1, header >> 1 & 3, header >> 3
        if kind == 3:
            raise InitrdError(f"reserved zstd block type at offset {offset}")
        offset += 3 + (1 if kind == 1 else size)
        if last:
            return offset + (4 if checksum else 0)


def _word(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "little")


def decompressed(data: bytes) -> Iterator[bytes]:
    """Each part of an initrd as the kernel unpacks it: zstd frames decompressed,
    an uncompressed cpio as it is, the NUL padding between them skipped."""
    offset = 0
    while offset < len(data):
        if data[offset] == 0:
            offset += 1
        elif data.startswith(ZSTD_MAGIC, offset):
            end = _zstd_frame_end(data, offset)
            yield subprocess.run(
                ["zstd", "--decompress", "--stdout", "--quiet"],
                input=data[offset:end],
                capture_output=True,
                check=True,
            ).stdout
            offset = end
        elif _word(data, offset) & SKIPPABLE_MASK == SKIPPABLE_MAGIC:
            offset += 8 + int.from_bytes(data[offset + 4 : offset + 8], "little")
        elif data.startswith(NEWC_MAGICS, offset):
            yield data[offset:]
            return
        else:
            raise InitrdError(f"neither zstd nor a newc cpio at offset {offset}")


def cpio_paths(stream: bytes) -> Iterator[str]:
    """The paths in one or more newc cpio archives one after the other."""
    offset = 0
    while offset < len(stream):
        if stream[offset] == 0:
            offset += 1
            continue
        if not stream.startswith(NEWC_MAGICS, offset):
            raise InitrdError(f"no newc cpio header at offset {offset}")
        fields = stream[offset + 6 : offset + NEWC_HEADER]
        file_size = int(fields[6 * 8 : 7 * 8], 16)
        name_size = int(fields[11 * 8 : 12 * 8], 16)
        name_start = offset + NEWC_HEADER
        name = stream[name_start : name_start + name_size - 1].decode()
        data_start = _align4(name_start + name_size)
        offset = _align4(data_start + file_size)
        if name != TRAILER:
            yield name


def _align4(offset: int) -> int:
    return (offset + 3) & ~3


def paths(initrd: Path) -> list[str]:
    """Every path in the initrd, in the order of its archives."""
    return [path for part in decompressed(initrd.read_bytes()) for path in cpio_paths(part)]


def kernel_modules(listing: list[str]) -> dict[str, str]:
    """The kernel modules among `listing`: module name (with `_`, as the kernel
    names them: usb-storage.ko is usb_storage) -> its path under kernel/."""
    found = {}
    for path in listing:
        if match := MODULE.match(path):
            found[match.group(1).replace("-", "_")] = path.split("/kernel/", 1)[1]
    return found
