#!/usr/bin/env python3
"""Zeroes the CUDA kernels of other GPUs in a shared library's .nv_fatbin section, in place.

    python3 scripts/fatbin-keep-arch.py LIB --sm 90 [--sm 100 ...]

A CUDA library carries its kernels once per GPU architecture (mlx's CUDA wheel: sm 75 to 121,
64 MiB of 146 MiB), and the CUDA runtime only loads the entry built for the device it runs on.
Every cubin (kind 2) and PTX (kind 1) entry whose SM arch is not kept gets its payload zeroed;
headers, sizes and offsets stay, so the file's layout is unchanged and zeros compress to nothing.
scripts/offline-pack.sh uses it to fit the wheel in the uploads to the offline GPU host.

Layout of .nv_fatbin: consecutive containers, maybe separated by padding (found by scanning in
8-byte steps for the magic), each a header `<IHHQ` (magic 0xBA55ED50, version, header size, size
of the entries that follow) and entries up to header size + that size. An entry header starts
`<HHIQ` (kind, version, entry header size, padded payload size) and holds the SM arch as u32 at
byte 28 (90, 100, 120, ...); the payload follows the entry header.

Prints one line per arch (entries, MiB kept or zeroed); warns when a container (one compilation
unit's kernels) has no entry for a kept arch, as those kernels could no longer load. Fails, writing
nothing, when LIB has no .nv_fatbin section or no entry for one of the kept archs. Python standard
library only.
"""

from __future__ import annotations

import argparse
import struct
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

FATBIN_MAGIC = 0xBA55ED50
CONTAINER_HEADER = struct.Struct("<IHHQ")
ENTRY_HEADER = struct.Struct("<HHIQ")
ENTRY_ARCH_AT = 28
KIND_NAMES = {1: "PTX", 2: "ELF"}
MIB = 1 << 20


class FatbinError(Exception):
    pass


@dataclass
class Entry:
    kind: int
    sm_arch: int
    payload_start: int
    """Offset of the payload in the section, bytes."""
    payload_size: int
    """Padded payload size, bytes."""
    container: int
    """Index of its container in the section."""


def section_extent(elf: bytes, name: str) -> tuple[int, int] | None:
    """(file offset, size) in bytes of the named section of a little-endian ELF64 file."""
    if elf[:6] != b"\x7fELF\x02\x01":
        raise FatbinError("not a little-endian ELF64 file")
    (shoff,) = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    names_offset = headers[shstrndx][4]
    for sh_name, sh_type, _, _, sh_offset, sh_size, *_ in headers:
        end = elf.index(b"\0", names_offset + sh_name)
        if elf[names_offset + sh_name : end].decode() == name:
            if sh_type == 8:  # SHT_NOBITS: nothing in the file
                return None
            return sh_offset, sh_size
    return None


def fatbin_entries(section: bytes) -> list[Entry]:
    """Every entry of every container in a .nv_fatbin section."""
    entries: list[Entry] = []
    container = 0
    pos = 0
    while pos + CONTAINER_HEADER.size <= len(section):
        magic, _, header_size, fat_size = CONTAINER_HEADER.unpack_from(section, pos)
        if magic != FATBIN_MAGIC:
            pos += 8
            continue
        at, end = pos + header_size, pos + header_size + fat_size
        if end > len(section):
            raise FatbinError(f"container at section offset {pos:#x} runs past the section's end")
        while at < end:
            kind, _, entry_header_size, padded_size = ENTRY_HEADER.unpack_from(section, at)
            (sm_arch,) = struct.unpack_from("<I", section, at + ENTRY_ARCH_AT)
            payload_start = at + entry_header_size
            if entry_header_size < ENTRY_ARCH_AT + 4 or payload_start + padded_size > end:
                raise FatbinError(f"entry at section offset {at:#x} runs past its container's end")
            entries.append(Entry(kind, sm_arch, payload_start, padded_size, container))
            at = payload_start + padded_size
        container += 1
        pos = max((end + 7) & ~7, pos + 8)
    return entries


def keep_arch(lib: Path, kept: set[int]) -> list[str]:
    """Zeroes the payloads of entries for archs not in kept; returns the per-arch summary lines."""
    data = bytearray(lib.read_bytes())
    extent = section_extent(data, ".nv_fatbin")
    if extent is None:
        raise FatbinError(f"{lib} has no .nv_fatbin section")
    offset, size = extent
    section = memoryview(data)[offset : offset + size]
    entries = fatbin_entries(section)
    present = {e.sm_arch for e in entries if e.kind in KIND_NAMES}
    if missing := sorted(kept - present):
        raise FatbinError(
            f"{lib}: no fatbin entry for sm {', '.join(map(str, missing))} "
            f"(present: {', '.join(map(str, sorted(present))) or 'none'}); nothing changed"
        )
    # A container is one compilation unit's kernels: without a kept entry, they cannot load at all.
    containers = {e.container for e in entries}
    served = {e.container for e in entries if e.sm_arch in kept and e.kind in KIND_NAMES}
    if unserved := len(containers - served):
        print(f"fatbin-keep-arch: warning: {unserved} of {len(containers)} containers in {lib} have no entry for "
              f"sm {', '.join(map(str, sorted(kept)))}: their kernels will not load on such a GPU", file=sys.stderr)
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    bytes_per_arch: dict[int, int] = defaultdict(int)
    for e in entries:
        if e.kind not in KIND_NAMES:
            continue  # neither cubin nor PTX: left as it is
        counts[e.sm_arch][KIND_NAMES[e.kind]] += 1
        bytes_per_arch[e.sm_arch] += e.payload_size
        if e.sm_arch not in kept:
            section[e.payload_start : e.payload_start + e.payload_size] = bytes(e.payload_size)
    section.release()
    with lib.open("r+b") as f:
        f.seek(offset)
        f.write(data[offset : offset + size])
    lines = []
    for arch in sorted(counts):
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(counts[arch].items()))
        fate = "kept" if arch in kept else "zeroed"
        lines.append(f"sm {arch}: {sum(counts[arch].values())} entries ({kinds}), {bytes_per_arch[arch] / MIB:.1f} MiB {fate}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lib", type=Path, help="ELF shared library, rewritten in place")
    parser.add_argument("--sm", type=int, action="append", required=True, help="SM arch to keep (90 for H100/H200); repeatable")
    args = parser.parse_args()
    try:
        lines = keep_arch(args.lib, set(args.sm))
    except FatbinError as err:
        print(f"fatbin-keep-arch: {err}", file=sys.stderr)
        return 1
    except struct.error as err:
        print(f"fatbin-keep-arch: {args.lib}: truncated or malformed ELF or fatbin ({err})", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
