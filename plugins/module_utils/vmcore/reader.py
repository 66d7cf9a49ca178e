# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash dump files read in pure Python: kdump-compressed, flattened, ELF.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.

``inspect(path)`` reads a dump's headers - never its whole page data - and says
what it is (format, header version, the crashed kernel's release and machine,
page size, crash time, dump level, compression, the incomplete flag) and
whether it is complete and usable (``valid`` with ``reasons``). A flattened
dump (makedumpfile -F, as written over SSH and by kdump-tools) is read through
an index of its records, without reassembling it. Bad input never raises:
it gives ``valid: false`` and a reason.

Layouts (makedumpfile's diskdump_mod.h and IMPLEMENTATION, 64-bit hosts):
disk_dump_header in block 0 (signature, header_version, new_utsname 6x65,
timeval at 408, status at 424, block_size, sub_hdr_size, bitmap_blocks,
max_mapnr ...); kdump_sub_header in block 1 (phys_base, dump_level, split,
start_pfn, end_pfn, offset/size of vmcoreinfo (v3+), note (v4), eraseinfo
(v5), 64-bit pfns (v6)); then the 1st and 2nd bitmaps (bitmap_blocks blocks
together), then one 24-byte page descriptor (offset, size, flags,
page_flags) per page set in the 2nd bitmap, then the page data.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bisect
import collections
import os
import re
import struct

from ansible_collections.crashdump.kdump.plugins.module_utils.common.files import open_regular

KDUMP_SIGNATURES = (b"KDUMP   ", b"DISKDUMP")
FLAT_SIGNATURE = b"makedumpfile"
FLAT_HEADER_SIZE = 4096
UTS_LEN = 65
OFF_UTSNAME = 12
OFF_TIMESTAMP = 408
OFF_STATUS = 424
HEADER_STRUCT = "<IiiIIIIIIi"     # status .. nr_cpus, from OFF_STATUS
STATUS_INCOMPLETE = 0x8
COMPRESSION_FLAGS = ((0x1, "zlib"), (0x2, "lzo"), (0x4, "snappy"), (0x20, "zstd"))
PAGE_DESC_SIZE = 24
SUB_HEADER = "<qiiqqqqqqqqQQQ"    # phys_base .. max_mapnr_64
ELF_MAGIC = b"\x7fELF"
DUMP_NAME = re.compile(r"^(dump\..*|dump-incomplete.*|vmcore(\.flat)?|vmcore-incomplete|vmcore\.\d+)$")
PT_LOAD = 1
PT_NOTE = 4
# Bounds on what a file a client wrote can make this code hold or read: a chunk of a bitmap
# in memory at once, the program header table of an ELF core, the end of a saved kernel log
# that is read (32 MiB: CONFIG_LOG_BUF_SHIFT's largest buffer; log_buf_len= can set more,
# and then only its last 32 MiB, where a crash is, are read) and one line of it.
CHUNK = 1 << 20
ELF_TABLE_LIMIT = 16 << 20
LOG_LIMIT = 32 << 20
LINE_LIMIT = 64 << 10


class DumpError(Exception):
    """The dump cannot be read as its format says; the message is the reason."""


def _cstr(data):
    return data.split(b"\0", 1)[0].decode("ascii", "replace")


class PlainSource(object):
    def __init__(self, handle, size):
        self.handle = handle
        self.size = size
        self.data_bytes = size

    def restricted(self, offset, length):
        """Reads of a range cost the same everywhere in a plain file."""
        return self

    def read_at(self, offset, length):
        if offset < 0 or offset + length > self.size:
            raise DumpError("truncated: needs bytes %d-%d, the file has %d" % (
                offset, offset + length, self.size))
        self.handle.seek(offset)
        return self.handle.read(length)


class FlatSource(object):
    """A flattened dump: 4096-byte header, then records ``{int64 offset, int64 size, data}``
    (big-endian) that place data at offsets of the dump they stand for, ended by offset -1.

    makedumpfile writes only what it has: the padding after a header is never written,
    and ``makedumpfile -R`` leaves such holes as zeros. So bytes inside the dump that no
    record covers read as zeros; only bytes past the last record are missing."""

    def __init__(self, handle, file_size):
        self.handle = handle
        self.records = []          # (logical offset, size, file offset of data)
        self.ended = False
        self.truncated = None
        position = FLAT_HEADER_SIZE
        while True:
            handle.seek(position)
            raw = handle.read(16)
            if len(raw) < 16:
                self.truncated = "the flattened dump ends at byte %d without its end marker" % position
                break
            offset, size = struct.unpack(">qq", raw)
            if offset == -1:
                self.ended = True
                break
            if offset < 0 or size < 0:
                self.truncated = "a record header at byte %d is corrupt" % position
                break
            if position + 16 + size > file_size:
                self.truncated = ("the record at byte %d holds %d bytes but the file ends after %d"
                                  % (position, size, file_size - position - 16))
                break
            self.records.append((offset, size, position + 16))
            position += 16 + size
        self.size = max([offset + size for offset, size, _pos in self.records] or [0])
        # What the file really holds of the dump: a record may claim a far offset, not more data.
        self.data_bytes = sum(size for _offset, size, _pos in self.records)
        self._index = None

    def _build_index(self):
        """Records sorted by their start, with the largest end so far: a read finds the
        records it overlaps by bisection instead of walking all of them (a flattened dump
        holds thousands; reading its kernel log reads hundreds of small pieces)."""
        order = sorted(range(len(self.records)), key=lambda i: (self.records[i][0], i))
        starts = [self.records[i][0] for i in order]
        reach = []
        furthest = 0
        for i in order:
            furthest = max(furthest, self.records[i][0] + self.records[i][1])
            reach.append(furthest)
        self._index = (order, starts, reach)

    def _overlapping(self, offset, length):
        """The indexes of the records overlapping ``offset``..``offset+length``, in file order
        (a later record wins where two overlap, as ``makedumpfile -R`` writes them)."""
        if self._index is None:
            self._build_index()
        order, starts, reach = self._index
        found = []
        position = bisect.bisect_left(starts, offset + length) - 1
        while position >= 0 and reach[position] > offset:
            index = order[position]
            start, size, _pos = self.records[index]
            if start + size > offset:
                found.append(index)
            position -= 1
        return sorted(found)

    def restricted(self, offset, length):
        """The same source with only the records that overlap ``offset``..``offset+length``
        (in their order), so that many reads in that range do not each walk every record."""
        view = FlatSource.__new__(FlatSource)
        view.handle, view.size, view.ended, view.truncated = self.handle, self.size, self.ended, self.truncated
        view.data_bytes = self.data_bytes
        view.records = [r for r in self.records if r[0] < offset + length and r[0] + r[1] > offset]
        view._index = None
        return view

    def read_at(self, offset, length):
        if offset < 0 or offset + length > self.size:
            raise DumpError("truncated: bytes %d-%d of the dump are not in the flattened file,"
                            " whose records end at %d" % (offset, offset + length, self.size))
        out = bytearray(length)
        for index in self._overlapping(offset, length):
            start, size, position = self.records[index]
            end = start + size
            lo, hi = max(start, offset), min(end, offset + length)
            self.handle.seek(position + lo - start)
            out[lo - offset:hi - offset] = self.handle.read(hi - lo)
        return bytes(out)


def dump_source(handle, size):
    """``(source, head)``: the dump in an open file read as itself (a plain file) or through
    the records of its flattened form, and its first 4096 bytes (what is there of them)."""
    handle.seek(0)
    head = handle.read(FLAT_HEADER_SIZE)
    if head[:len(FLAT_SIGNATURE)] == FLAT_SIGNATURE:
        source = FlatSource(handle, size)
        head = source.read_at(0, FLAT_HEADER_SIZE) if source.records else b""
        return source, head
    return PlainSource(handle, size), head


def parse_disk_dump_header(data):
    """The fields of a ``disk_dump_header`` at the start of ``data``, or None."""
    if len(data) < OFF_STATUS + struct.calcsize(HEADER_STRUCT) or data[:8] not in KDUMP_SIGNATURES:
        return None
    version = struct.unpack_from("<i", data, 8)[0]
    uts = [_cstr(data[OFF_UTSNAME + i * UTS_LEN:OFF_UTSNAME + (i + 1) * UTS_LEN]) for i in range(6)]
    seconds = struct.unpack_from("<q", data, OFF_TIMESTAMP)[0]
    (status, block_size, sub_hdr_size, bitmap_blocks, max_mapnr, _total, _device, _written,
     _cpu, nr_cpus) = struct.unpack_from(HEADER_STRUCT, data, OFF_STATUS)
    compression = [name for flag, name in COMPRESSION_FLAGS if status & flag]
    return {
        "signature": data[:8].decode("ascii").strip(),
        "header_version": version,
        "nodename": uts[1],
        "kernel": uts[2],
        "machine": uts[4],
        "dump_time": seconds if seconds > 0 else None,
        "incomplete": bool(status & STATUS_INCOMPLETE),
        "compression": compression[0] if compression else "none",
        "page_size": block_size,
        "sub_hdr_size": sub_hdr_size,
        "bitmap_blocks": bitmap_blocks,
        "max_mapnr": max_mapnr,
        "nr_cpus": nr_cpus,
    }


def parse_vmcoreinfo(text):
    """``KEY=value`` lines of a VMCOREINFO note."""
    out = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep and key and " " not in key:
            out[key] = value
    return out


def _popcount(data):
    return bin(int.from_bytes(data, "little")).count("1") if data else 0


def _popcount_at(source, offset, length):
    """The bits set in ``length`` bytes at ``offset``, read a chunk at a time."""
    source = source.restricted(offset, length)
    count = 0
    for start in range(0, length, CHUNK):
        count += _popcount(source.read_at(offset + start, min(CHUNK, length - start)))
    return count


def _read_kdump(source, header, out, reasons, check_pages):
    block = header["page_size"]
    if block <= 0 or block & (block - 1) or header["sub_hdr_size"] <= 0 or header["bitmap_blocks"] <= 0:
        raise DumpError("the kdump header is corrupt (block size %d, sub header %d blocks, bitmap"
                        " %d blocks)" % (block, header["sub_hdr_size"], header["bitmap_blocks"]))
    sub = source.read_at(block, struct.calcsize(SUB_HEADER))
    fields = struct.unpack(SUB_HEADER, sub)
    out["dump_level"] = fields[1]
    offset_info, size_info = fields[5], fields[6]
    if header["header_version"] >= 3 and 0 < size_info < (1 << 20) and offset_info > 0:
        info = parse_vmcoreinfo(source.read_at(offset_info, size_info).decode("ascii", "replace"))
        out["vmcoreinfo"] = dict((key, info[key]) for key in ("OSRELEASE", "PAGESIZE", "CRASHTIME",
                                                              "BUILD-ID") if key in info)
    if not check_pages:
        return
    bitmap_bytes = header["bitmap_blocks"] * block // 2
    if 2 * bitmap_bytes > source.data_bytes:
        raise DumpError("the header claims bitmaps of %d bytes, more than the %d bytes of dump the"
                        " file holds" % (2 * bitmap_bytes, source.data_bytes))
    pages = _popcount_at(source, (1 + header["sub_hdr_size"]) * block + bitmap_bytes, bitmap_bytes)
    out["pages"] = pages
    if pages == 0:
        reasons.append("the dump holds no pages")
        return
    descs = (1 + header["sub_hdr_size"] + header["bitmap_blocks"]) * block
    last = source.read_at(descs + (pages - 1) * PAGE_DESC_SIZE, PAGE_DESC_SIZE)
    data_offset, data_size = struct.unpack_from("<qi", last, 0)
    if data_offset <= 0 or data_size <= 0 or data_size > block:
        reasons.append("the descriptor of the last page is corrupt (offset %d, size %d)"
                       % (data_offset, data_size))
        return
    source.read_at(data_offset, data_size)


def elf_program_headers(handle, size):
    """``(e_machine, phentsize, phnum, table)`` of the 64-bit little-endian ELF core open as
    ``handle`` (``size`` bytes); DumpError when it is not one or its table is corrupt."""
    handle.seek(0)
    ident = handle.read(64)
    if len(ident) < 64 or ident[4] != 2 or ident[5] != 1:
        raise DumpError("only 64-bit little-endian ELF cores are read")
    e_type, e_machine = struct.unpack_from("<HH", ident, 16)
    if e_type != 4:
        raise DumpError("an ELF file of type %d, not a core (4)" % e_type)
    phoff, = struct.unpack_from("<Q", ident, 32)
    phentsize, phnum = struct.unpack_from("<HH", ident, 54)
    if phentsize < 56 or phnum == 0 or phoff + phentsize * phnum > size:
        raise DumpError("the ELF program headers are corrupt or truncated")
    if phentsize * phnum > ELF_TABLE_LIMIT:
        raise DumpError("the ELF program header table claims %d bytes (%d entries), more than the"
                        " %d this reader takes" % (phentsize * phnum, phnum, ELF_TABLE_LIMIT))
    handle.seek(phoff)
    return e_machine, phentsize, phnum, handle.read(phentsize * phnum)


def _read_elf(handle, size, out, reasons):
    _machine, phentsize, phnum, table = elf_program_headers(handle, size)
    end = 0
    loads = 0
    info = {}
    for index in range(phnum):
        p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", table, index * phentsize)
        end = max(end, p_offset + p_filesz)
        if p_type == PT_LOAD:
            loads += 1
        elif p_type == PT_NOTE and p_offset + p_filesz <= size and p_filesz < (16 << 20):
            handle.seek(p_offset)
            info.update(vmcoreinfo_from_notes(handle.read(p_filesz)))
    out["pages"] = None
    out["segments"] = loads
    if info:
        out["vmcoreinfo"] = dict((key, info[key]) for key in ("OSRELEASE", "PAGESIZE", "CRASHTIME",
                                                              "BUILD-ID") if key in info)
    if loads == 0:
        reasons.append("the ELF core has no memory segments (PT_LOAD)")
    if end > size:
        reasons.append("truncated: the segments end at byte %d, the file has %d" % (end, size))


def vmcoreinfo_from_notes(data):
    """VMCOREINFO (parsed) from the ELF notes ``data``, or {} when there is none."""
    position = 0
    while position + 12 <= len(data):
        namesz, descsz, _type = struct.unpack_from("<III", data, position)
        name_start = position + 12
        desc_start = name_start + ((namesz + 3) & ~3)
        name = data[name_start:name_start + namesz].rstrip(b"\0")
        if name == b"VMCOREINFO":
            return parse_vmcoreinfo(data[desc_start:desc_start + descsz].decode("ascii", "replace"))
        position = desc_start + ((descsz + 3) & ~3)
        if namesz == 0 and descsz == 0:
            break
    return {}


def inspect(path, expected_kernel=None, check_pages=True):
    """What the dump at ``path`` is, and whether it is valid (see the module docstring)."""
    out = {"path": path, "size": None, "format": "unknown", "header_version": None,
           "kernel": None, "machine": None, "page_size": None, "crash_time": None,
           "dump_time": None, "dump_level": None, "compression": None, "incomplete": None,
           "flattened": False, "pages": None, "vmcoreinfo": {}, "valid": False, "reasons": []}
    reasons = out["reasons"]
    try:
        with open_regular(path) as handle:
            out["size"] = size = os.fstat(handle.fileno()).st_size
            source, head = dump_source(handle, size)
            if isinstance(source, FlatSource):
                out["flattened"] = True
                if source.truncated:
                    reasons.append(source.truncated)
            if head[:8] in KDUMP_SIGNATURES:
                header = parse_disk_dump_header(head)
                if header is None:
                    raise DumpError("truncated: the kdump header is incomplete")
                out["format"] = "kdump"
                for key in ("header_version", "kernel", "machine", "page_size", "dump_time",
                            "incomplete", "compression"):
                    out[key] = header[key]
                if header["incomplete"]:
                    reasons.append("makedumpfile marked the dump incomplete (it ran out of space"
                                   " or was interrupted)")
                _read_kdump(source, header, out, reasons, check_pages)
            elif head[:4] == ELF_MAGIC and not out["flattened"]:
                out["format"] = "elf"
                out["compression"] = "none"
                out["incomplete"] = False
                _read_elf(handle, size, out, reasons)
            elif out["flattened"]:
                raise DumpError("the flattened file does not hold a kdump dump")
            else:
                raise DumpError("not a kdump-compressed, flattened or ELF dump")
    except DumpError as exc:
        reasons.append(str(exc))
    except (IOError, OSError) as exc:
        reasons.append("cannot read %s: %s" % (path, exc))
    except (struct.error, ValueError, OverflowError, MemoryError) as exc:
        reasons.append("corrupt: %s" % exc)
    info = out["vmcoreinfo"]
    if info.get("OSRELEASE"):
        out["kernel"] = out["kernel"] or info["OSRELEASE"]
        if out["format"] == "kdump" and info["OSRELEASE"] != out["kernel"]:
            reasons.append("the header says kernel %s, VMCOREINFO %s" % (out["kernel"], info["OSRELEASE"]))
    if info.get("PAGESIZE", "").isdigit():
        out["page_size"] = out["page_size"] or int(info["PAGESIZE"])
    if info.get("CRASHTIME", "").isdigit():
        out["crash_time"] = int(info["CRASHTIME"])
    if expected_kernel and out["kernel"] and out["kernel"] != expected_kernel:
        reasons.append("the dump is of kernel %s, not %s" % (out["kernel"], expected_kernel))
    out["valid"] = out["format"] != "unknown" and not reasons
    return out


def sniff(path):
    """A quick look (headers only, no page check), for listings."""
    info = inspect(path, check_pages=False)
    info["error"] = "; ".join(info["reasons"]) or None
    return info


SYSRQ_MARKERS = ("sysrq: Trigger a crash", "SysRq : Trigger a crash")


def _last_lines(handle):
    """The lines of the last LOG_LIMIT bytes of the open log ``handle``, from a line's start."""
    size = os.fstat(handle.fileno()).st_size
    if size > LOG_LIMIT:
        handle.seek(size - LOG_LIMIT - 1)
        if handle.read(1) != b"\n":
            for _skipped in _bounded_lines(handle, limit=LINE_LIMIT * 16):
                break
    return _bounded_lines(handle)


def crash_lines(path):
    """``(sysrq, panic)`` of a saved kernel log: whether it records a sysrq-c crash, and its
    last "Kernel panic" line (or None)."""
    sysrq, panic = False, None
    try:
        with open_regular(path) as handle:
            # The crash is at the end.
            for line in _last_lines(handle):
                if any(marker in line for marker in SYSRQ_MARKERS):
                    sysrq = True
                if "Kernel panic - not syncing" in line:
                    panic = line
    except (IOError, OSError):
        return False, None
    return sysrq, panic


def log_lines(path, keep=20000):
    """The last ``keep`` lines of a saved kernel log (of its last LOG_LIMIT bytes, each line
    cut at LINE_LIMIT bytes), or None when it cannot be read."""
    kept = collections.deque(maxlen=keep)
    try:
        with open_regular(path) as handle:
            kept.extend(_last_lines(handle))
    except (IOError, OSError):
        return None
    return list(kept)


def _bounded_lines(handle, limit=LOG_LIMIT, line_limit=LINE_LIMIT):
    """The lines of the first ``limit`` bytes, each cut at ``line_limit`` bytes (the rest of
    an overlong line is skipped a chunk at a time, never held)."""
    left = limit
    while left > 0:
        raw = handle.readline(min(line_limit, left))
        if not raw:
            return
        left -= len(raw)
        if not raw.endswith(b"\n") and len(raw) == line_limit:
            while left > 0:
                rest = handle.readline(min(line_limit, left))
                left -= len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
        yield raw.decode("utf-8", "replace").rstrip()


def tail(path, lines=20):
    """The last ``lines`` lines of a text file (a dmesg saved beside a dump), or None."""
    try:
        with open_regular(path) as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return None
    return data.splitlines()[-lines:]


def find_dumps(directory, depth=2):
    """Dump files in ``directory`` and up to ``depth`` levels below it (kdump tools write one
    directory per crash), without following symbolic links."""
    found = []
    base = directory.rstrip("/").count("/")
    for current, dirs, files in os.walk(directory):
        if current.rstrip("/").count("/") - base >= depth:
            dirs[:] = []
        dirs[:] = [name for name in dirs if not os.path.islink(os.path.join(current, name))]
        for name in files:
            path = os.path.join(current, name)
            if DUMP_NAME.match(name) and os.path.isfile(path) and not os.path.islink(path):
                found.append(path)
    return sorted(found)


def dmesg_beside(path):
    """The kernel log the kdump tools save beside a dump (dmesg.*, vmcore-dmesg.txt), or None."""
    directory = os.path.dirname(path)
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return None
    for name in names:
        if name.startswith("dmesg") or name == "vmcore-dmesg.txt":
            return os.path.join(directory, name)
    return None
