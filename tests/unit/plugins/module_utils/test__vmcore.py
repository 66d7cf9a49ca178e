# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dump headers built from the documented layouts (makedumpfile's diskdump_mod.h)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils._vmcore import sniff


def disk_dump_header(release="6.1.0-50-amd64", machine="x86_64", status=0x2, seconds=1795684370,
                     signature=b"KDUMP   "):
    data = bytearray(4096)
    data[0:8] = signature
    struct.pack_into("<i", data, 8, 6)
    for index, value in enumerate(["Linux", "kdumplab", release, "#1 SMP", machine, "(none)"]):
        data[12 + index * 65:12 + index * 65 + len(value)] = value.encode()
    struct.pack_into("<qq", data, 408, seconds, 0)
    struct.pack_into("<Ii", data, 424, status, 4096)
    return bytes(data)


def flattened(header):
    head = bytearray(4096)
    head[0:12] = b"makedumpfile"
    struct.pack_into(">qq", head, 16, 1, 1)
    return bytes(head) + struct.pack(">qq", 0, len(header)) + header + struct.pack(">qq", -1, -1)


def test_kdump_compressed(tmp_path):
    path = tmp_path / "dump.202611260922"
    path.write_bytes(disk_dump_header() + b"\0" * 8192)
    info = sniff(str(path))
    assert info["format"] == "kdump" and info["error"] is None
    assert (info["kernel"], info["machine"], info["compression"]) == ("6.1.0-50-amd64", "x86_64", "lzo")
    assert info["crash_time"] == 1795684370 and info["incomplete"] is False
    assert info["size"] == 4096 + 8192


@pytest.mark.parametrize("status,compression,incomplete", [
    (0x1, "zlib", False), (0x20, "zstd", False), (0x4, "snappy", False), (0x0, "none", False),
    (0x2 | 0x8, "lzo", True)])
def test_status_flags(tmp_path, status, compression, incomplete):
    path = tmp_path / "vmcore"
    path.write_bytes(disk_dump_header(status=status))
    info = sniff(str(path))
    assert (info["compression"], info["incomplete"]) == (compression, incomplete)


def test_flattened(tmp_path):
    path = tmp_path / "vmcore.flat"
    path.write_bytes(flattened(disk_dump_header(release="5.14.0-427.el9.x86_64")))
    info = sniff(str(path))
    assert info["format"] == "flattened" and info["kernel"] == "5.14.0-427.el9.x86_64"


def test_elf(tmp_path):
    path = tmp_path / "vmcore"
    path.write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 200 + b"VMCOREINFO\0OSRELEASE=6.12.48+deb13-amd64\nPAGESIZE=4096\n")
    info = sniff(str(path))
    assert info["format"] == "elf" and info["kernel"] == "6.12.48+deb13-amd64"


@pytest.mark.parametrize("data,error", [
    (b"", "not a kdump"), (b"garbage" * 100, "not a kdump"), (b"KDUMP   \0\0", "truncated kdump header"),
    (b"makedumpfile" + b"\0" * 4084, "without data records"),
    (b"makedumpfile" + b"\0" * 4084 + struct.pack(">qq", 4096, 10) + b"x" * 10, "not a kdump header"),
])
def test_corrupt_input_gives_an_error_not_a_traceback(tmp_path, data, error):
    path = tmp_path / "vmcore"
    path.write_bytes(data)
    info = sniff(str(path))
    assert error in info["error"]


def test_missing_file(tmp_path):
    info = sniff(str(tmp_path / "nothing"))
    assert info["format"] == "unknown" and "No such file" in info["error"]
