# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Headers of crash dump files: kdump-compressed, flattened, ELF.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.

``sniff(path)`` reads only the first blocks of a dump: its format, the crashed
kernel's release and machine, the dump time, the compression, and whether
makedumpfile marked it incomplete. Never raises on bad input: the result then
has ``format: unknown`` and an ``error``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import struct

KDUMP_SIGNATURES = (b"KDUMP   ", b"DISKDUMP")
FLAT_SIGNATURE = b"makedumpfile"
FLAT_HEADER_SIZE = 4096
UTS_LEN = 65
# struct disk_dump_header on 64-bit hosts: signature[8], int header_version,
# new_utsname (6 x 65), padding to 8, struct timeval (2 x 8), then 32-bit fields.
OFF_UTSNAME = 12
OFF_TIMESTAMP = 408
OFF_STATUS = 424
OFF_BLOCK_SIZE = 428
STATUS_INCOMPLETE = 0x8
COMPRESSION_FLAGS = ((0x1, "zlib"), (0x2, "lzo"), (0x4, "snappy"), (0x20, "zstd"))


def _cstr(data):
    return data.split(b"\0", 1)[0].decode("ascii", "replace")


def parse_disk_dump_header(data):
    """The fields of a ``disk_dump_header`` at the start of ``data``, or None."""
    if len(data) < OFF_BLOCK_SIZE + 4 or data[:8] not in KDUMP_SIGNATURES:
        return None
    version = struct.unpack_from("<i", data, 8)[0]
    uts = [_cstr(data[OFF_UTSNAME + i * UTS_LEN:OFF_UTSNAME + (i + 1) * UTS_LEN]) for i in range(6)]
    seconds = struct.unpack_from("<q", data, OFF_TIMESTAMP)[0]
    status, block_size = struct.unpack_from("<Ii", data, OFF_STATUS)
    compression = [name for flag, name in COMPRESSION_FLAGS if status & flag]
    return {
        "signature": data[:8].decode("ascii").strip(),
        "header_version": version,
        "nodename": uts[1],
        "kernel": uts[2],
        "machine": uts[4],
        "crash_time": seconds if seconds > 0 else None,
        "incomplete": bool(status & STATUS_INCOMPLETE),
        "compression": compression[0] if compression else "none",
        "page_size": block_size,
    }


def _elf_release(handle):
    """OSRELEASE= of the VMCOREINFO note of an ELF core, looked for in the first MiB."""
    handle.seek(0)
    head = handle.read(1 << 20)
    match = re.search(rb"OSRELEASE=([^\n\0]+)", head)
    return match.group(1).decode("ascii", "replace") if match else None


def sniff(path):
    out = {"path": path, "format": "unknown", "kernel": None, "machine": None,
           "crash_time": None, "incomplete": None, "compression": None, "error": None}
    try:
        out["size"] = os.path.getsize(path)
        with open(path, "rb") as handle:
            head = handle.read(FLAT_HEADER_SIZE)
            if head[:8] in KDUMP_SIGNATURES:
                header = parse_disk_dump_header(head)
                if header is None:
                    out["error"] = "truncated kdump header"
                    return out
                out.update(format="kdump", **_pick(header))
            elif head[:len(FLAT_SIGNATURE)] == FLAT_SIGNATURE:
                out["format"] = "flattened"
                record = handle.read(16)
                if len(record) < 16:
                    out["error"] = "flattened dump without data records"
                    return out
                offset, size = struct.unpack(">qq", record)
                data = handle.read(min(size, FLAT_HEADER_SIZE)) if offset == 0 and size > 0 else b""
                header = parse_disk_dump_header(data)
                if header is None:
                    out["error"] = "the first record of the flattened dump is not a kdump header"
                    return out
                out.update(_pick(header))
            elif head[:4] == b"\x7fELF":
                out["format"] = "elf"
                out["kernel"] = _elf_release(handle)
                out["compression"] = "none"
            else:
                out["error"] = "not a kdump, flattened or ELF dump"
    except (IOError, OSError) as exc:
        out["error"] = str(exc)
    return out


def _pick(header):
    return dict((key, header[key]) for key in ("kernel", "machine", "crash_time", "incomplete",
                                                "compression"))
