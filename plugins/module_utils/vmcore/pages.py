# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The crashed kernel's memory, read from its dump: physical pages, and kernel virtual
addresses translated to them.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

``open_dump(path)`` gives a ``Dump`` (a context manager) with the dump's full VMCOREINFO,
its machine and ``read(vaddr, length)`` for kernel virtual addresses.

Pages (layouts: makedumpfile's diskdump_mod.h, IMPLEMENTATION, readpage_kdump_compressed
and readpage_elf in makedumpfile.c):

- kdump-compressed (and its flattened form, through the record index of reader.FlatSource):
  a pfn is in the dump when its bit is set in the 2nd bitmap; its 24-byte page descriptor
  (offset, size, flags, page_flags) is the n-th after the bitmaps, n the number of bits set
  before it. The data is zlib-compressed (flag 0x1, always readable: the standard library),
  lzo (0x2, with the python-lzo module), snappy (0x4, with python-snappy) or zstd (0x20, with
  the zstandard module or Python 3.14's compression.zstd), or stored as is (no flag, the size
  is the page size). Zero pages stay in the bitmap and share one descriptor.
- ELF: the PT_LOAD segments by physical address; bytes of a segment past its file size
  (p_filesz < p_memsz) read as zeros.

Virtual addresses (makedumpfile's arch/x86_64.c and arch/arm64.c):

- x86_64: the kernel image (__START_KERNEL_map 0xffffffff80000000 up to KERNEL_IMAGE_SIZE)
  is at ``vaddr - __START_KERNEL_map + phys_base`` (NUMBER(phys_base) of VMCOREINFO, else the
  kdump sub header's, else the kernel PT_LOAD's); anything else, such as the direct map,
  whose base (page_offset_base) KASLR moves and VMCOREINFO does not export, by walking the
  page tables from SYMBOL(init_top_pgt): 4 or 5 levels (NUMBER(pgtable_l5_enabled)), 1 GiB
  and 2 MiB pages, the SME mask (NUMBER(sme_mask)) taken off the entries. At most 5 reads.
- aarch64: the linear map at ``(vaddr & ~PAGE_OFFSET) + PHYS_OFFSET``, everything else (the
  kernel image) at ``vaddr - kimage_voffset`` (NUMBER(kimage_voffset), NUMBER(PHYS_OFFSET),
  NUMBER(VA_BITS), NUMBER(TCR_EL1_T1SZ) for the bits really used; the linear map at the
  bottom of the kernel's half since 5.4, at the top before).

Every read is bounded (``MAX_READ``); a page that is not in the dump, a descriptor that
points outside the file, a page that does not decompress to one page give a DumpError that
says which.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import struct
import zlib
from collections import OrderedDict

from ansible_collections.crashdump.kdump.plugins.module_utils.common.files import open_regular
from ansible_collections.crashdump.kdump.plugins.module_utils.vmcore.reader import (
    ELF_MAGIC,
    KDUMP_SIGNATURES,
    PAGE_DESC_SIZE,
    PT_LOAD,
    PT_NOTE,
    SUB_HEADER,
    DumpError,
    FlatSource,
    dump_source,
    elf_program_headers,
    parse_disk_dump_header,
    parse_vmcoreinfo,
    vmcoreinfo_from_notes,
)

try:  # python-lzo
    import lzo as _lzo
except ImportError:
    _lzo = None
try:  # python-snappy
    import snappy as _snappy
except ImportError:
    _snappy = None
try:  # Python 3.14 and later
    from compression import zstd as _zstd_std
except ImportError:
    _zstd_std = None
try:
    import zstandard as _zstandard
except ImportError:
    _zstandard = None

# The most one read of kernel memory may ask for (the largest ring of a kernel log; the
# kernel allows 2 GiB with log_buf_len=, such a log is refused with its size).
MAX_READ = 64 << 20
# The largest VMCOREINFO note read (the kernel's is one page, VMCOREINFO_BYTES).
VMCOREINFO_LIMIT = 1 << 20
# Pages kept decompressed.
PAGE_CACHE = 256
# The 2nd bitmap counted at most this far (64 TiB of 4 KiB pages).
BITMAP_LIMIT = 2 << 30

FLAG_ZLIB, FLAG_LZO, FLAG_SNAPPY, FLAG_ZSTD = 0x1, 0x2, 0x4, 0x20
ELF_MACHINES = {62: "x86_64", 183: "aarch64"}
START_KERNEL_MAP = 0xffffffff80000000
MASK64 = (1 << 64) - 1


def _count_bits(data):
    number = int.from_bytes(data, "little")
    counter = getattr(number, "bit_count", None)
    return counter() if counter else bin(number).count("1")


def _lzo_page(data, size):
    return _lzo.decompress(data, False, size)


def _snappy_page(data, size):
    return _snappy.uncompress(data)


def _zstd_page(data, size):
    if _zstd_std is not None:
        return _zstd_std.decompress(data)
    return _zstandard.ZstdDecompressor().decompress(data, max_output_size=size)


def _zlib_page(data, size):
    engine = zlib.decompressobj()
    out = engine.decompress(data, size)
    if engine.unconsumed_tail:
        raise DumpError("more than one page")
    return out


def decompressors():
    """``{flag: (name, function or None, why not)}`` for the compressions makedumpfile writes."""
    return {
        FLAG_ZLIB: ("zlib", _zlib_page, None),
        FLAG_LZO: ("lzo", _lzo_page if _lzo is not None else None,
                   "reading lzo-compressed pages needs the python-lzo module"),
        FLAG_SNAPPY: ("snappy", _snappy_page if _snappy is not None else None,
                      "reading snappy-compressed pages needs the python-snappy module"),
        FLAG_ZSTD: ("zstd", _zstd_page if (_zstd_std is not None or _zstandard is not None) else None,
                    "reading zstd-compressed pages needs the zstandard module (or Python 3.14)"),
    }


def supported_compressions():
    """The page compressions this host's Python can read."""
    return sorted(name for name, function, _why in decompressors().values() if function)


class Pages(object):
    """Physical memory of a dump, one page at a time (``_page(pfn)`` in the subclasses)."""

    page_size = 4096

    def __init__(self):
        self._cache = OrderedDict()

    def page(self, pfn):
        data = self._cache.get(pfn)
        if data is not None:
            self._cache.move_to_end(pfn)
            return data
        data = self._page(pfn)
        self._cache[pfn] = data
        if len(self._cache) > PAGE_CACHE:
            self._cache.popitem(last=False)
        return data

    def _page(self, pfn):
        raise NotImplementedError

    def read(self, paddr, length):
        if length < 0 or length > MAX_READ:
            raise DumpError("a read of %d bytes of memory, more than the %d this reader takes"
                            % (length, MAX_READ))
        if paddr < 0:
            raise DumpError("physical address %#x is not valid" % paddr)
        out = []
        while length > 0:
            pfn, within = divmod(paddr, self.page_size)
            piece = min(length, self.page_size - within)
            out.append(self.page(pfn)[within:within + piece])
            paddr += piece
            length -= piece
        return b"".join(out)


class KdumpPages(Pages):
    """The pages of a kdump-compressed dump (plain or flattened)."""

    def __init__(self, source, header, max_mapnr, dump_level=None):
        Pages.__init__(self)
        self.source = source
        self.page_size = block = header["page_size"]
        self.max_mapnr = max_mapnr
        self.dump_level = dump_level
        bitmap_start = (1 + header["sub_hdr_size"]) * block
        self.bitmap_bytes = header["bitmap_blocks"] * block // 2
        self.bitmap2 = bitmap_start + self.bitmap_bytes
        self.descs = (1 + header["sub_hdr_size"] + header["bitmap_blocks"]) * block
        if self.bitmap_bytes > BITMAP_LIMIT:
            raise DumpError("the header claims bitmaps of %d bytes, more than the %d this reader"
                            " takes" % (2 * self.bitmap_bytes, 2 * BITMAP_LIMIT))
        self.chunk = block               # bitmap bytes per counted chunk
        self._counts = [0]               # bits set before each chunk, as far as counted
        self._bitmap_cache = OrderedDict()
        self._decompressors = decompressors()

    def _bitmap_chunk(self, index):
        data = self._bitmap_cache.get(index)
        if data is None:
            start = index * self.chunk
            length = min(self.chunk, self.bitmap_bytes - start)
            data = self.source.read_at(self.bitmap2 + start, length)
            self._bitmap_cache[index] = data
            if len(self._bitmap_cache) > 64:
                self._bitmap_cache.popitem(last=False)
        return data

    def dumpable(self, pfn):
        byte = pfn // 8
        if pfn < 0 or pfn >= self.max_mapnr or byte >= self.bitmap_bytes:
            return False
        chunk = self._bitmap_chunk(byte // self.chunk)
        return bool(chunk[byte % self.chunk] >> (pfn % 8) & 1)

    def _position(self, pfn):
        """The index of ``pfn``'s descriptor: the bits set before it in the 2nd bitmap."""
        byte = pfn // 8
        index = byte // self.chunk
        counts = self._counts
        if len(counts) <= index:
            # Counted once up to here, a MiB of bitmap at a time.
            step = max(1, (1 << 20) // self.chunk)
            while len(counts) <= index:
                first = len(counts) - 1
                many = min(step, index + 1 - first)
                start = first * self.chunk
                data = self.source.read_at(self.bitmap2 + start,
                                           min(many * self.chunk, self.bitmap_bytes - start))
                for number in range(many):
                    piece = data[number * self.chunk:(number + 1) * self.chunk]
                    counts.append(counts[-1] + _count_bits(piece))
        chunk = self._bitmap_chunk(index)
        within = byte % self.chunk
        before = _count_bits(chunk[:within]) + _count_bits(bytes([chunk[within] & ((1 << (pfn % 8)) - 1)]))
        return counts[index] + before

    def _page(self, pfn):
        if not self.dumpable(pfn):
            if pfn >= self.max_mapnr:
                raise DumpError("page %#x is beyond the dump's last page %#x" % (pfn, self.max_mapnr - 1))
            raise DumpError("page %#x is not in the dump (left out by dump level %s)"
                            % (pfn, self.dump_level))
        position = self._position(pfn)
        raw = self.source.read_at(self.descs + position * PAGE_DESC_SIZE, PAGE_DESC_SIZE)
        offset, size, flags, _page_flags = struct.unpack("<qIIQ", raw)
        block = self.page_size
        if offset <= 0 or size == 0 or size > block or offset + size > self.source.size:
            raise DumpError("the descriptor of page %#x is corrupt (data at %d, %d bytes, the dump"
                            " has %d)" % (pfn, offset, size, self.source.size))
        data = self.source.read_at(offset, size)
        compressed = [flag for flag in (FLAG_ZLIB, FLAG_LZO, FLAG_SNAPPY, FLAG_ZSTD) if flags & flag]
        if not compressed:
            if size != block:
                raise DumpError("page %#x is stored in %d bytes without compression, not %d"
                                % (pfn, size, block))
            return data
        name, function, why = self._decompressors[compressed[0]]
        if function is None:
            raise DumpError("page %#x is %s-compressed: %s" % (pfn, name, why))
        try:
            out = function(data, block)
        except DumpError as exc:
            raise DumpError("page %#x does not decompress (%s): %s" % (pfn, name, exc))
        except Exception as exc:  # pylint: disable=broad-except
            # Each decompressor has exceptions of its own (zlib.error, lzo.error, ...).
            raise DumpError("page %#x does not decompress (%s): %s" % (pfn, name, exc))
        if len(out) != block:
            raise DumpError("page %#x decompresses (%s) to %d bytes, not %d" % (pfn, name, len(out), block))
        return out


class ElfPages(Pages):
    """The pages of an ELF vmcore, by the physical addresses of its PT_LOAD segments."""

    def __init__(self, handle, size, segments, page_size=4096):
        Pages.__init__(self)
        self.handle = handle
        self.size = size
        self.page_size = page_size
        # (paddr, memsz, file offset, filesz), by address.
        self.segments = sorted(segments)

    def _page(self, pfn):
        start = pfn * self.page_size
        end = start + self.page_size
        out = bytearray(self.page_size)
        covered = 0
        for paddr, memsz, offset, filesz in self.segments:
            if paddr >= end or paddr + memsz <= start:
                continue
            lo, hi = max(start, paddr), min(end, paddr + memsz)
            covered += hi - lo
            file_hi = min(hi, paddr + filesz)
            if file_hi > lo:
                if offset + (file_hi - paddr) > self.size:
                    raise DumpError("truncated: page %#x is beyond the end of the ELF core (%d bytes)"
                                    % (pfn, self.size))
                self.handle.seek(offset + lo - paddr)
                out[lo - start:file_hi - start] = self.handle.read(file_hi - lo)
        if not covered:
            raise DumpError("page %#x is in no memory segment of the ELF core" % pfn)
        return bytes(out)


def number(info, key):
    """A NUMBER()/KERNELOFFSET value of VMCOREINFO (the kernel writes some in decimal, some
    with 0x), or None."""
    value = info.get(key)
    if value is None:
        return None
    text = value.strip().lower()
    try:
        if key == "KERNELOFFSET":
            return int(text, 16)
        negative = text.startswith("-")
        digits = text[1:] if negative else text
        result = int(digits[2:], 16) if digits.startswith("0x") else int(digits, 10)
        return -result if negative else result
    except ValueError:
        raise DumpError("VMCOREINFO %s=%s is not a number" % (key, value))


def symbol(info, name):
    """SYMBOL(name) of VMCOREINFO (hexadecimal), or None."""
    value = info.get("SYMBOL(%s)" % name)
    if value is None:
        return None
    try:
        return int(value.strip(), 16)
    except ValueError:
        raise DumpError("VMCOREINFO SYMBOL(%s)=%s is not an address" % (name, value))


def decimal(info, key):
    """An OFFSET()/SIZE()/LENGTH() value of VMCOREINFO, or None."""
    value = info.get(key)
    if value is None:
        return None
    try:
        return int(value.strip(), 10)
    except ValueError:
        raise DumpError("VMCOREINFO %s=%s is not a number" % (key, value))


class X86_64(object):
    """x86_64 kernel virtual addresses (see the module docstring)."""

    def __init__(self, pages, info, phys_base):
        self.pages = pages
        self.phys_base = phys_base
        self.image_size = number(info, "NUMBER(KERNEL_IMAGE_SIZE)") or (1 << 30)
        self.five_levels = bool(number(info, "NUMBER(pgtable_l5_enabled)"))
        top = symbol(info, "init_top_pgt")
        if top is None:
            top = symbol(info, "init_level4_pgt")
        self.top = top
        self.entry_mask = 0x000ffffffffff000 & ~(number(info, "NUMBER(sme_mask)") or 0)

    def translate(self, vaddr):
        if START_KERNEL_MAP <= vaddr < START_KERNEL_MAP + self.image_size:
            if self.phys_base is None:
                raise DumpError("the dump records no phys_base (VMCOREINFO NUMBER(phys_base))")
            return vaddr - START_KERNEL_MAP + self.phys_base
        if self.top is None:
            raise DumpError("cannot translate %#x: VMCOREINFO has no SYMBOL(init_top_pgt)" % vaddr)
        if not START_KERNEL_MAP <= self.top < START_KERNEL_MAP + self.image_size or self.phys_base is None:
            raise DumpError("cannot translate %#x: SYMBOL(init_top_pgt)=%#x is not in the kernel image"
                            " or phys_base is unknown" % (vaddr, self.top))
        table = self.top - START_KERNEL_MAP + self.phys_base
        levels = [48, 39, 30, 21, 12] if self.five_levels else [39, 30, 21, 12]
        for shift in levels:
            slot = table + ((vaddr >> shift) & 0x1ff) * 8
            entry = struct.unpack("<Q", self.pages.read(slot, 8))[0]
            if not entry & 0x1:
                raise DumpError("cannot translate %#x: the page table entry at %#x is not present"
                                % (vaddr, slot))
            base = entry & self.entry_mask
            if shift in (30, 21) and entry & 0x80:      # a 1 GiB or 2 MiB page
                size = 1 << shift
                return (base & ~(size - 1)) + (vaddr & (size - 1))
            table = base
        return table + (vaddr & 0xfff)


class Arm64(object):
    """aarch64 kernel virtual addresses (see the module docstring)."""

    def __init__(self, info, anchor):
        self.kimage_voffset = number(info, "NUMBER(kimage_voffset)")
        self.phys_offset = number(info, "NUMBER(PHYS_OFFSET)")
        va_bits = number(info, "NUMBER(VA_BITS)")
        if va_bits is None or self.phys_offset is None or not 36 <= va_bits <= 52:
            raise DumpError("VMCOREINFO lacks the aarch64 layout (NUMBER(VA_BITS)=%s,"
                            " NUMBER(PHYS_OFFSET)=%s)" % (info.get("NUMBER(VA_BITS)"),
                                                          info.get("NUMBER(PHYS_OFFSET)")))
        t1sz = number(info, "NUMBER(TCR_EL1_T1SZ)")
        self.vabits = 64 - t1sz if t1sz else va_bits
        if not 36 <= self.vabits <= 52:
            raise DumpError("VMCOREINFO NUMBER(TCR_EL1_T1SZ)=%s is not an aarch64 layout" % t1sz)
        page_end = (MASK64 - (1 << (min(va_bits, 48) - 1)) + 1) & MASK64
        self.flipped = anchor is not None and anchor > page_end
        if self.flipped:
            self.page_offset = (MASK64 - (1 << self.vabits) + 1) & MASK64
        else:
            self.page_offset = (MASK64 - (1 << (self.vabits - 1)) + 1) & MASK64

    def linear(self, vaddr):
        bit = vaddr & (1 << (self.vabits - 1))
        return not bit if self.flipped else bool(bit)

    def translate(self, vaddr):
        if self.kimage_voffset is None or self.linear(vaddr):
            return (vaddr & ~self.page_offset & MASK64) + self.phys_offset
        return (vaddr - self.kimage_voffset) & MASK64


class Dump(object):
    """An open dump: ``machine``, ``format``, ``vmcoreinfo`` (every key), ``pages`` and
    ``read(vaddr, length)`` / ``u64`` / ``u32`` for the crashed kernel's virtual addresses."""

    def __init__(self, handle):
        self.handle = handle
        self.format = None
        self.machine = None
        self.vmcoreinfo = {}
        self.pages = None
        self.flattened = False
        self._phys_base_hint = None
        self._space = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def space(self):
        if self._space is None:
            info = self.vmcoreinfo
            if self.machine == "x86_64":
                phys_base = number(info, "NUMBER(phys_base)")
                if phys_base is None:
                    phys_base = self._phys_base_hint
                self._space = X86_64(self.pages, info, phys_base)
            elif self.machine == "aarch64":
                anchor = symbol(info, "_stext") or symbol(info, "prb") or symbol(info, "log_buf")
                self._space = Arm64(info, anchor)
            else:
                raise DumpError("reading kernel memory from a dump of a %s kernel is not supported"
                                " (x86_64 and aarch64 are)" % (self.machine or "unknown machine"))
        return self._space

    def translate(self, vaddr):
        return self.space().translate(vaddr & MASK64)

    def read(self, vaddr, length):
        """``length`` bytes at kernel virtual address ``vaddr``, translated a page at a time."""
        if length < 0 or length > MAX_READ:
            raise DumpError("a read of %d bytes of kernel memory, more than the %d this reader takes"
                            % (length, MAX_READ))
        page = self.pages.page_size
        out = []
        while length > 0:
            piece = min(length, page - vaddr % page)
            out.append(self.pages.read(self.translate(vaddr), piece))
            vaddr += piece
            length -= piece
        return b"".join(out)

    def u64(self, vaddr):
        return struct.unpack("<Q", self.read(vaddr, 8))[0]

    def u32(self, vaddr):
        return struct.unpack("<I", self.read(vaddr, 4))[0]


def _open_kdump(dump, source, head):
    header = parse_disk_dump_header(head)
    if header is None:
        raise DumpError("truncated: the kdump header is incomplete")
    block = header["page_size"]
    if block <= 0 or block & (block - 1) or header["sub_hdr_size"] <= 0 or header["bitmap_blocks"] <= 0:
        raise DumpError("the kdump header is corrupt (block size %d, sub header %d blocks, bitmap"
                        " %d blocks)" % (block, header["sub_hdr_size"], header["bitmap_blocks"]))
    fields = struct.unpack(SUB_HEADER, source.read_at(block, struct.calcsize(SUB_HEADER)))
    phys_base, dump_level = fields[0], fields[1]
    offset_info, size_info = fields[5], fields[6]
    max_mapnr = header["max_mapnr"]
    if header["header_version"] >= 6 and fields[13]:
        max_mapnr = fields[13]
    if header["header_version"] < 3 or size_info <= 0 or offset_info <= 0:
        raise DumpError("the dump has no VMCOREINFO (kdump header version %d)" % header["header_version"])
    if size_info > VMCOREINFO_LIMIT:
        raise DumpError("the sub header claims a VMCOREINFO of %d bytes, more than the %d this"
                        " reader takes" % (size_info, VMCOREINFO_LIMIT))
    dump.vmcoreinfo = parse_vmcoreinfo(source.read_at(offset_info, size_info).decode("ascii", "replace"))
    dump.format = "kdump"
    dump.machine = header["machine"]
    dump._phys_base_hint = phys_base
    if header["bitmap_blocks"] * block > source.data_bytes:
        raise DumpError("the header claims bitmaps of %d bytes, more than the %d bytes of dump the"
                        " file holds" % (header["bitmap_blocks"] * block, source.data_bytes))
    dump.pages = KdumpPages(source, header, max_mapnr, dump_level)


def _open_elf(dump, handle, size):
    e_machine, phentsize, phnum, table = elf_program_headers(handle, size)
    segments = []
    kernel_paddr = None
    for index in range(phnum):
        p_type, _flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz = struct.unpack_from(
            "<IIQQQQQ", table, index * phentsize)
        if p_type == PT_LOAD:
            segments.append((p_paddr, max(p_memsz, p_filesz), p_offset, p_filesz))
            if p_vaddr >= START_KERNEL_MAP and kernel_paddr is None:
                kernel_paddr = p_paddr - (p_vaddr - START_KERNEL_MAP)
        elif p_type == PT_NOTE and p_offset + p_filesz <= size and p_filesz < VMCOREINFO_LIMIT * 16:
            handle.seek(p_offset)
            dump.vmcoreinfo.update(vmcoreinfo_from_notes(handle.read(p_filesz)))
    if not segments:
        raise DumpError("the ELF core has no memory segments (PT_LOAD)")
    if not dump.vmcoreinfo:
        raise DumpError("the ELF core has no VMCOREINFO note")
    dump.format = "elf"
    dump.machine = ELF_MACHINES.get(e_machine, "ELF machine %d" % e_machine)
    dump._phys_base_hint = kernel_paddr
    page_size = decimal(dump.vmcoreinfo, "PAGESIZE") or 4096
    if page_size <= 0 or page_size & (page_size - 1) or page_size > (1 << 16):
        raise DumpError("VMCOREINFO PAGESIZE=%s is not a page size" % page_size)
    dump.pages = ElfPages(handle, size, segments, page_size)


def open_dump(path):
    """The dump at ``path`` opened for reading its memory; DumpError (or IOError) says why not."""
    handle = open_regular(path)
    dump = Dump(handle)
    try:
        size = os.fstat(handle.fileno()).st_size
        source, head = dump_source(handle, size)
        dump.flattened = isinstance(source, FlatSource)
        if head[:8] in KDUMP_SIGNATURES:
            _open_kdump(dump, source, head)
        elif head[:4] == ELF_MAGIC and not dump.flattened:
            _open_elf(dump, handle, size)
        elif dump.flattened:
            raise DumpError("the flattened file does not hold a kdump dump")
        else:
            raise DumpError("not a kdump-compressed, flattened or ELF dump")
    except (struct.error, ValueError, OverflowError) as exc:
        dump.close()
        raise DumpError("corrupt: %s" % exc)
    except BaseException:
        dump.close()
        raise
    return dump
