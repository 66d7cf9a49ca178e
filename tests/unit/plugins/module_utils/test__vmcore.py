# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dumps built in the test from the documented layouts (makedumpfile's diskdump_mod.h and
IMPLEMENTATION, the ELF core layout), then read back, whole, flattened, truncated, corrupt."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.vmcore.reader import (
    crash_lines,
    inspect,
    parse_vmcoreinfo,
    sniff,
    tail,
)

BLOCK = 4096
RELEASE = "6.1.0-50-amd64"
VMCOREINFO = "OSRELEASE=%s\nPAGESIZE=4096\nCRASHTIME=1795684400\nSYMBOL(init_uts_ns)=ffffffff\n"


def disk_dump_header(release=RELEASE, machine="x86_64", status=0x2, seconds=1795684370,
                     signature=b"KDUMP   ", version=6, sub_hdr_size=1, bitmap_blocks=2):
    data = bytearray(BLOCK)
    data[0:8] = signature
    struct.pack_into("<i", data, 8, version)
    for index, value in enumerate(["Linux", "kdumplab", release, "#1 SMP", machine, "(none)"]):
        data[12 + index * 65:12 + index * 65 + len(value)] = value.encode()
    struct.pack_into("<qq", data, 408, seconds, 0)
    struct.pack_into("<IiiIIIIIIi", data, 424, status, BLOCK, sub_hdr_size, bitmap_blocks,
                     32768, 3, 0, 0, 0, 1)
    return bytes(data)


def kdump_file(release=RELEASE, status=0x2, pages=5, dump_level=31, info_release=None):
    """A complete small kdump-compressed dump: header, sub header with VMCOREINFO, two
    one-block bitmaps, ``pages`` page descriptors and their (fake compressed) data."""
    header = disk_dump_header(release=release, status=status)
    info = (VMCOREINFO % (info_release or release)).encode()
    sub = bytearray(BLOCK)
    struct.pack_into("<qiiqqqqqqqqQQQ", sub, 0, 0, dump_level, 0, 0, 32768, BLOCK + 112, len(info),
                     0, 0, 0, 0, 0, 32768, 32768)
    sub[112:112 + len(info)] = info
    bitmap1 = bytearray(BLOCK)
    bitmap2 = bytearray(BLOCK)
    for pfn in range(pages):
        bitmap1[pfn // 8] |= 1 << (pfn % 8)
        bitmap2[pfn // 8] |= 1 << (pfn % 8)
    descs_start = 4 * BLOCK
    desc_bytes = ((pages * 24 + BLOCK - 1) // BLOCK) * BLOCK
    data_start = descs_start + desc_bytes
    descs = bytearray(desc_bytes)
    data = bytearray()
    for pfn in range(pages):
        payload = bytes([pfn % 256]) * 100
        struct.pack_into("<qiIQ", descs, pfn * 24, data_start + len(data), len(payload), 0x2, 0)
        data += payload
    return header + bytes(sub) + bytes(bitmap1) + bytes(bitmap2) + bytes(descs) + bytes(data)


def flatten(dump, chunk=3000, end=True):
    head = bytearray(BLOCK)
    head[0:12] = b"makedumpfile"
    struct.pack_into(">qq", head, 16, 1, 1)
    out = bytes(head)
    for offset in range(0, len(dump), chunk):
        piece = dump[offset:offset + chunk]
        out += struct.pack(">qq", offset, len(piece)) + piece
    if end:
        out += struct.pack(">qq", -1, -1)
    return out


def flatten_sparse(dump):
    """As makedumpfile writes it: the header struct alone, the sub header and VMCOREINFO alone,
    then the rest - the padding of blocks 0 and 1 is never written."""
    head = bytearray(BLOCK)
    head[0:12] = b"makedumpfile"
    struct.pack_into(">qq", head, 16, 1, 1)
    pieces = [(0, 464), (BLOCK, 112), (BLOCK + 112, 200), (2 * BLOCK, len(dump) - 2 * BLOCK)]
    out = bytes(head)
    for offset, size in pieces:
        out += struct.pack(">qq", offset, size) + dump[offset:offset + size]
    return out + struct.pack(">qq", -1, -1)


def elf_core(release=RELEASE, truncate_segment=False):
    name = b"VMCOREINFO\0\0"
    desc = (VMCOREINFO % release).encode()
    desc += b"\0" * ((4 - len(desc) % 4) % 4)
    note = struct.pack("<III", 11, len(desc), 0) + name + desc
    phoff = 64
    note_off = phoff + 2 * 56
    load_off = note_off + len(note)
    load_size = 8192
    header = bytearray(64)
    header[0:7] = b"\x7fELF\x02\x01\x01"
    struct.pack_into("<HHI", header, 16, 4, 62, 1)
    struct.pack_into("<Q", header, 32, phoff)
    struct.pack_into("<HHHH", header, 52, 64, 56, 2, 0)
    phdrs = struct.pack("<IIQQQQQQ", 4, 0, note_off, 0, 0, len(note), len(note), 0)
    phdrs += struct.pack("<IIQQQQQQ", 1, 7, load_off, 0xffffffff81000000, 0x1000000, load_size,
                         load_size, 0)
    body = bytes(header) + phdrs + note + b"\xaa" * load_size
    return body[:-100] if truncate_segment else body


def write(tmp_path, data, name="dump.202611260922"):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_a_complete_kdump_dump_is_valid(tmp_path):
    info = inspect(write(tmp_path, kdump_file()), expected_kernel=RELEASE)
    assert info["reasons"] == [] and info["valid"] is True
    assert info["format"] == "kdump" and info["header_version"] == 6
    assert (info["kernel"], info["machine"], info["page_size"]) == (RELEASE, "x86_64", 4096)
    assert (info["dump_level"], info["compression"], info["incomplete"]) == (31, "lzo", False)
    assert info["crash_time"] == 1795684400 and info["dump_time"] == 1795684370
    assert info["pages"] == 5 and info["flattened"] is False
    assert info["vmcoreinfo"]["OSRELEASE"] == RELEASE


@pytest.mark.parametrize("chunk", [100, 3000, 1 << 20])
def test_a_flattened_dump_reads_the_same_without_reassembly(tmp_path, chunk):
    info = inspect(write(tmp_path, flatten(kdump_file(), chunk=chunk)))
    assert info["valid"] is True, info["reasons"]
    assert info["flattened"] is True and info["format"] == "kdump"
    assert (info["kernel"], info["dump_level"], info["pages"]) == (RELEASE, 31, 5)


def test_a_flattened_dump_with_holes_reads_them_as_zeros(tmp_path):
    info = inspect(write(tmp_path, flatten_sparse(kdump_file())))
    assert info["valid"] is True, info["reasons"]
    assert (info["kernel"], info["dump_level"], info["pages"]) == (RELEASE, 31, 5)


def test_an_elf_core(tmp_path):
    info = inspect(write(tmp_path, elf_core("6.12.48+deb13-amd64"), "vmcore"))
    assert info["valid"] is True, info["reasons"]
    assert (info["format"], info["kernel"], info["page_size"]) == ("elf", "6.12.48+deb13-amd64", 4096)
    assert info["crash_time"] == 1795684400 and info["segments"] == 1


@pytest.mark.parametrize("status,compression", [
    (0x1, "zlib"), (0x20, "zstd"), (0x4, "snappy"), (0x0, "none")])
def test_compression_flags(tmp_path, status, compression):
    assert inspect(write(tmp_path, kdump_file(status=status)))["compression"] == compression


def test_incomplete_flag(tmp_path):
    info = inspect(write(tmp_path, kdump_file(status=0x2 | 0x8)))
    assert info["valid"] is False and info["incomplete"] is True
    assert "makedumpfile marked the dump incomplete" in info["reasons"][0]


def test_another_kernel(tmp_path):
    info = inspect(write(tmp_path, kdump_file()), expected_kernel="6.1.0-49-amd64")
    assert info["reasons"] == ["the dump is of kernel 6.1.0-50-amd64, not 6.1.0-49-amd64"]


def test_header_and_vmcoreinfo_disagree(tmp_path):
    info = inspect(write(tmp_path, kdump_file(info_release="6.1.0-49-amd64")))
    assert "the header says kernel 6.1.0-50-amd64, VMCOREINFO 6.1.0-49-amd64" in info["reasons"]


@pytest.mark.parametrize("cut", [10, 500, BLOCK + 50, 3 * BLOCK, 5 * BLOCK - 10])
def test_truncated_kdump_dumps_are_invalid(tmp_path, cut):
    data = kdump_file()
    info = inspect(write(tmp_path, data[:len(data) - cut]))
    assert info["valid"] is False
    assert info["reasons"], info


def test_truncated_flattened_dump(tmp_path):
    data = flatten(kdump_file(), end=False)
    info = inspect(write(tmp_path, data))
    assert info["valid"] is False
    assert "without its end marker" in info["reasons"][0]
    info = inspect(write(tmp_path, flatten(kdump_file())[:-500], "cut"))
    assert info["valid"] is False and "the file ends after" in " ".join(info["reasons"])


def test_truncated_elf(tmp_path):
    info = inspect(write(tmp_path, elf_core(truncate_segment=True), "vmcore"))
    assert info["valid"] is False and info["reasons"][0].startswith("truncated: the segments end")


@pytest.mark.parametrize("data,reason", [
    (b"", "not a kdump-compressed, flattened or ELF dump"),
    (b"garbage" * 100, "not a kdump-compressed, flattened or ELF dump"),
    (b"KDUMP   \0\0", "the kdump header is incomplete"),
    (b"\x7fELF\x01\x01" + b"\0" * 100, "only 64-bit little-endian ELF cores"),
    (disk_dump_header(sub_hdr_size=0) + b"\0" * BLOCK, "the kdump header is corrupt"),
])
def test_corrupt_input_gives_a_reason_not_a_traceback(tmp_path, data, reason):
    info = inspect(write(tmp_path, data))
    assert info["valid"] is False
    assert reason in " ".join(info["reasons"])


def test_corrupt_last_descriptor(tmp_path):
    data = bytearray(kdump_file())
    struct.pack_into("<qi", data, 4 * BLOCK + 4 * 24, -5, 0)
    info = inspect(write(tmp_path, bytes(data)))
    assert "the descriptor of the last page is corrupt" in info["reasons"][0]


def test_random_bytes_never_raise(tmp_path):
    import random
    generator = random.Random(7)
    base = kdump_file()
    for round_ in range(200):
        data = bytearray(base)
        for _flip in range(20):
            data[generator.randrange(len(data))] = generator.randrange(256)
        info = inspect(write(tmp_path, bytes(data), "fuzz%d" % round_))
        assert isinstance(info["valid"], bool)


def test_missing_file(tmp_path):
    info = inspect(str(tmp_path / "nothing"))
    assert info["valid"] is False and "No such file" in info["reasons"][0]


def test_sniff_skips_the_page_check(tmp_path):
    data = kdump_file()
    info = sniff(write(tmp_path, data[:4 * BLOCK + 10]))
    assert info["error"] is None and info["pages"] is None


def test_vmcoreinfo_and_tail(tmp_path):
    assert parse_vmcoreinfo("OSRELEASE=6.1\nSYMBOL(x)=1\nbad line\n") == {"OSRELEASE": "6.1", "SYMBOL(x)": "1"}
    path = tmp_path / "dmesg.202611260922"
    path.write_text("".join("[%d.0] line %d\n" % (i, i) for i in range(100)) + "sysrq: Trigger a crash\n")
    assert tail(str(path), 2) == ["[99.0] line 99", "sysrq: Trigger a crash"]
    assert tail(str(tmp_path / "none")) is None


def test_crash_lines(tmp_path):
    path = tmp_path / "dmesg"
    path.write_text("[ 1.0] boot\n[80.1] sysrq: Trigger a crash\n"
                    "[80.1] Kernel panic - not syncing: sysrq triggered crash\n"
                    + "".join("[80.%d] trace line\n" % i for i in range(60)))
    assert crash_lines(str(path)) == (True, "[80.1] Kernel panic - not syncing: sysrq triggered crash")
    path.write_text("[1.0] Kernel panic - not syncing: Out of memory\n")
    assert crash_lines(str(path)) == (False, "[1.0] Kernel panic - not syncing: Out of memory")
    assert crash_lines(str(tmp_path / "none")) == (False, None)


# --- hostile files: memory and time bounded by what the file really holds -----------------

def _peak(function, *args):
    import tracemalloc
    tracemalloc.start()
    try:
        result = function(*args)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_small_flattened_file_claiming_a_huge_bitmap_is_refused_cheaply(tmp_path):
    # 8 KiB on disk; the header claims 8192 bitmap blocks (32 MiB of bitmaps) and one record
    # claims data at a far offset, so that the dump's logical size covers the bitmaps.
    header = bytearray(disk_dump_header(bitmap_blocks=8192))
    dump = bytes(header) + bytes(BLOCK)
    flat = bytearray(flatten(dump, end=False))
    flat += struct.pack(">qq", 1 << 40, 1) + b"x" + struct.pack(">qq", -1, -1)
    path = write(tmp_path, bytes(flat))
    info, peak = _peak(inspect, path)
    assert not info["valid"]
    assert any("more than the" in reason and "bytes of dump the file holds" in reason
               for reason in info["reasons"]), info["reasons"]
    assert peak < 2 << 20, "inspect held %d bytes for an %d-byte file" % (peak, len(flat))


def test_a_plain_file_claiming_a_bitmap_beyond_its_end_is_truncated(tmp_path):
    path = write(tmp_path, disk_dump_header(bitmap_blocks=1 << 20) + bytes(BLOCK))
    info, peak = _peak(inspect, path)
    assert not info["valid"] and "more than the" in "; ".join(info["reasons"])
    assert peak < 2 << 20


def test_a_large_real_bitmap_is_counted_a_chunk_at_a_time(tmp_path):
    # A plain dump whose bitmaps are 8 MiB: counted without holding them.
    blocks = 2048
    header = disk_dump_header(bitmap_blocks=blocks)
    sub = bytes(BLOCK)
    path = tmp_path / "dump.big"
    with open(str(path), "wb") as handle:
        handle.write(header + sub)
        handle.truncate(2 * BLOCK + blocks * BLOCK + BLOCK)
    info, peak = _peak(inspect, str(path))
    assert info["reasons"] == ["the dump holds no pages"]
    assert peak < 4 << 20


def test_a_log_without_newlines_is_read_in_bounded_lines(tmp_path):
    path = tmp_path / "dmesg.202612011200"
    with open(str(path), "wb") as handle:
        handle.write(b"sysrq: Trigger a crash\n")
        handle.write(b"A" * (24 << 20))           # 24 MiB, no newline
        handle.write(b"\nKernel panic - not syncing: sysrq triggered crash\n")
    (sysrq, panic), peak = _peak(crash_lines, str(path))
    assert (sysrq, panic) == (True, "Kernel panic - not syncing: sysrq triggered crash")
    assert peak < 2 << 20, peak


def test_only_the_end_of_a_huge_log_is_read_where_the_crash_is(tmp_path):
    # log_buf_len= can make a log larger than 32 MiB: its last 32 MiB are read.
    path = tmp_path / "dmesg.202612011201"
    with open(str(path), "wb") as handle:
        handle.write(b"Kernel panic - not syncing: an old line, outside the window\n")
        handle.write((b"x" * 99 + b"\n") * (400 << 10))          # 40 MiB of lines
        handle.write(b"sysrq: Trigger a crash\nKernel panic - not syncing: sysrq triggered crash\n")
    (sysrq, panic), peak = _peak(crash_lines, str(path))
    assert (sysrq, panic) == (True, "Kernel panic - not syncing: sysrq triggered crash")
    assert peak < 2 << 20, peak


@pytest.mark.parametrize("reader", [inspect, crash_lines, tail])
def test_a_fifo_is_refused_without_blocking(tmp_path, reader):
    import os
    import time
    fifo = str(tmp_path / "dmesg.fifo")
    os.mkfifo(fifo)
    start = time.time()
    result = reader(fifo)
    assert time.time() - start < 2
    if reader is inspect:
        assert not result["valid"]
        assert "is a FIFO, not a regular file" in "; ".join(result["reasons"])
    elif reader is crash_lines:
        assert result == (False, None)
    else:
        assert result is None


def test_a_device_is_refused(tmp_path):
    info = inspect("/dev/zero")
    assert not info["valid"] and "is a device, not a regular file" in "; ".join(info["reasons"])


def test_an_elf_core_claiming_a_huge_program_header_table_is_refused(tmp_path):
    core = bytearray(elf_core())
    struct.pack_into("<HH", core, 54, 65535, 300)   # 19 MiB of program headers
    core += bytes(65535 * 300)
    path = write(tmp_path, bytes(core))
    info = inspect(path)
    assert not info["valid"] and "program header table claims" in "; ".join(info["reasons"])
