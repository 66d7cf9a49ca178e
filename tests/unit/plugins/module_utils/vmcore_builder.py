# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic crash dumps holding a real-layout kernel log, for the tests.

The crashed kernel's memory is built page by page: the kernel image at
``__START_KERNEL_map + (phys - phys_base)`` (x86_64) or ``phys + kimage_voffset`` (aarch64),
the printk ring buffer as kernel/printk/printk_ringbuffer.c lays it out (descriptor ids and
states, data blocks that wrap to the start of the ring, get_next_lpos()), x86_64 page tables
for the direct map when the ring is a dynamic one (log_buf_len=), the old ``log_buf`` of
``printk_log`` records for 3.5-5.9 kernels. Then written as a kdump-compressed dump
(makedumpfile's diskdump_mod.h: header, sub header with VMCOREINFO, two bitmaps, page
descriptors, zlib or stored pages, one shared zero page), its flattened form (makedumpfile
-F) or an ELF core (PT_NOTE with VMCOREINFO, one PT_LOAD per run of pages).

The VMCOREINFO offsets and sizes are those a Debian 12 kernel (6.1, x86_64) exports: struct
printk_ringbuffer of 6.1 (prb_desc_ring with last_finalized_id: 48 bytes), printk_info 88.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct
import zlib

PAGE = 4096
START_KERNEL_MAP = 0xffffffff80000000
DESC_ID_MASK = (1 << 62) - 1

# A sysrq-c crash as Debian 12's kernel logs it: (text, timestamp in ns, caller id).
SYSRQ_CRASH_LOG = [
    ("Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org)", 0, "T0"),
    ("sysrq: Trigger a crash", 80100000000, "T1234"),
    ("Kernel panic - not syncing: sysrq triggered crash", 80100200000, "T1234"),
    ("CPU: 1 PID: 1234 Comm: bash Kdump: loaded Not tainted 6.1.0-18-amd64 #1  Debian 6.1.76-1", 80100300000, "T1234"),
    ("Call Trace:", 80100400000, "T1234"),
    (" <TASK>", 80100400001, "T1234"),
    (" dump_stack_lvl+0x44/0x5c", 80100400002, "T1234"),
    (" panic+0x118/0x2ed", 80100400003, "T1234"),
    (" sysrq_handle_crash+0x16/0x20", 80100400004, "T1234"),
    (" __handle_sysrq.cold+0x43/0x11b", 80100400005, "T1234"),
    (" write_sysrq_trigger+0x24/0x40", 80100400006, "T1234"),
    (" </TASK>", 80100400007, "T1234"),
]
FINALIZED, COMMITTED, RESERVED, REUSABLE = 2, 1, 0, 3

# What log_buf_vmcoreinfo_setup() writes on a 6.1 x86_64 kernel (Debian 12), in its order.
PRINTK_VMCOREINFO_6_1 = """SIZE(printk_ringbuffer)=88
OFFSET(printk_ringbuffer.desc_ring)=0
OFFSET(printk_ringbuffer.text_data_ring)=48
OFFSET(printk_ringbuffer.fail)=80
SIZE(prb_desc_ring)=48
OFFSET(prb_desc_ring.count_bits)=0
OFFSET(prb_desc_ring.descs)=8
OFFSET(prb_desc_ring.infos)=16
OFFSET(prb_desc_ring.head_id)=24
OFFSET(prb_desc_ring.tail_id)=32
SIZE(prb_desc)=24
OFFSET(prb_desc.state_var)=0
OFFSET(prb_desc.text_blk_lpos)=8
SIZE(prb_data_blk_lpos)=16
OFFSET(prb_data_blk_lpos.begin)=0
OFFSET(prb_data_blk_lpos.next)=8
SIZE(printk_info)=88
OFFSET(printk_info.seq)=0
OFFSET(printk_info.ts_nsec)=8
OFFSET(printk_info.text_len)=16
OFFSET(printk_info.caller_id)=20
OFFSET(printk_info.dev_info)=24
SIZE(dev_printk_info)=64
OFFSET(dev_printk_info.subsystem)=0
LENGTH(printk_info_subsystem)=16
OFFSET(dev_printk_info.device)=16
LENGTH(printk_info_device)=48
SIZE(prb_data_ring)=32
OFFSET(prb_data_ring.size_bits)=0
OFFSET(prb_data_ring.data)=8
OFFSET(prb_data_ring.head_lpos)=16
OFFSET(prb_data_ring.tail_lpos)=24
SIZE(atomic_long_t)=8
OFFSET(atomic_long_t.counter)=0
SIZE(latched_seq)=24
OFFSET(latched_seq.val)=8
"""

# Linux 5.4 (printk_log with CONFIG_PRINTK_CALLER, as Ubuntu 20.04 builds it).
LOG_BUF_VMCOREINFO_5_4 = """SIZE(printk_log)=24
OFFSET(printk_log.ts_nsec)=0
OFFSET(printk_log.len)=8
OFFSET(printk_log.text_len)=10
OFFSET(printk_log.dict_len)=12
OFFSET(printk_log.caller_id)=16
"""


class Memory(object):
    """Physical memory, by page; pages never written are not in the dump."""

    def __init__(self, ram=128 << 20):
        self.pages = {}
        self.ram = ram

    def write(self, paddr, data):
        while data:
            pfn, within = divmod(paddr, PAGE)
            page = self.pages.setdefault(pfn, bytearray(PAGE))
            piece = data[:PAGE - within]
            page[within:within + len(piece)] = piece
            paddr += len(piece)
            data = data[len(piece):]

    def u64(self, paddr, value):
        self.write(paddr, struct.pack("<Q", value & ((1 << 64) - 1)))


class Kernel(object):
    """Where a kernel's structures are, and how its virtual addresses map to physical ones."""

    def __init__(self, machine="x86_64", phys_base=0x3c00000, release="6.1.0-18-amd64"):
        self.machine = machine
        self.release = release
        self.memory = Memory() if machine == "x86_64" else Memory(ram=0x40000000 + (128 << 20))
        if machine == "x86_64":
            self.phys_base = phys_base
            self.text = 0xffffffff81000000                 # _stext
            self.page_offset = 0xffff9a4b40000000          # a KASLR direct map base
        else:                                              # aarch64, 48-bit VA, 5.4+ layout
            self.phys_offset = 0x40000000
            self.text = 0xffffb8a9d4410000                 # _stext with KASLR
            self.kimage_voffset = self.text - 0x40410000
            self.page_offset = 0xffff000000000000
        self.top_pgt = None

    # Kernel image: symbols and static data.
    def image_phys(self, vaddr):
        if self.machine == "x86_64":
            return vaddr - START_KERNEL_MAP + self.phys_base
        return vaddr - self.kimage_voffset

    def image(self, offset):
        return self.text + offset

    def write_virt(self, vaddr, data):
        self.memory.write(self.virt_to_phys(vaddr), data)

    def linear(self, paddr):
        if self.machine == "x86_64":
            return self.page_offset + paddr
        return self.page_offset + (paddr - self.phys_offset)

    def virt_to_phys(self, vaddr):
        if self.text - (1 << 30) <= vaddr < self.text + (1 << 30):
            return self.image_phys(vaddr)
        if self.machine == "x86_64":
            return vaddr - self.page_offset
        return vaddr - self.page_offset + self.phys_offset

    def map_direct(self, paddr, length, huge=False):
        """x86_64 page tables from init_top_pgt mapping ``paddr`` at the direct map (4 KiB
        pages, or one 2 MiB page)."""
        if self.top_pgt is None:
            self.top_pgt = self.image(0x1600000)
            self._tables = {self.image_phys(self.top_pgt): {}}
            self._next_table = self.image_phys(self.image(0x1610000))
        vaddr = self.linear(paddr)
        end = vaddr + length
        while vaddr < end:
            table = self.image_phys(self.top_pgt)
            for shift in (39, 30, 21):
                slot = table + ((vaddr >> shift) & 0x1ff) * 8
                if huge and shift == 21:
                    phys = self.virt_to_phys(vaddr) & ~((1 << 21) - 1)
                    self.memory.u64(slot, phys | 0x80 | 0x63)
                    break
                entry = self._tables[table].get(slot)
                if entry is None:
                    entry = self._next_table
                    self._next_table += PAGE
                    self._tables[table][slot] = entry
                    self._tables[entry] = {}
                    self.memory.u64(slot, entry | 0x63)
                table = entry
            else:
                slot = table + ((vaddr >> 12) & 0x1ff) * 8
                self.memory.u64(slot, (self.virt_to_phys(vaddr) & ~0xfff) | 0x163)
            vaddr = (vaddr & ~(((1 << 21) if huge else PAGE) - 1)) + ((1 << 21) if huge else PAGE)

    def vmcoreinfo(self, printk=PRINTK_VMCOREINFO_6_1, symbols=(), extra="", drop=()):
        lines = ["OSRELEASE=%s" % self.release, "BUILD-ID=6f1e0c0ffee0ddba11", "PAGESIZE=4096",
                 "SYMBOL(init_uts_ns)=%x" % self.image(0x1a16f40), "OFFSET(uts_namespace.name)=0",
                 "SYMBOL(_stext)=%x" % self.text, "SIZE(page)=64", "NUMBER(PG_lru)=4"]
        lines += ["SYMBOL(%s)=%x" % item for item in symbols]
        lines += printk.splitlines()
        if self.machine == "x86_64":
            lines += ["NUMBER(phys_base)=%d" % self.phys_base,
                      "SYMBOL(init_top_pgt)=%x" % (self.top_pgt or self.image(0x1600000)),
                      "NUMBER(pgtable_l5_enabled)=0", "KERNELOFFSET=%x" % (self.text - 0xffffffff81000000),
                      "NUMBER(KERNEL_IMAGE_SIZE)=1073741824", "NUMBER(sme_mask)=0"]
        else:
            lines += ["NUMBER(VA_BITS)=48", "NUMBER(kimage_voffset)=0x%x" % self.kimage_voffset,
                      "NUMBER(PHYS_OFFSET)=0x%x" % self.phys_offset, "NUMBER(TCR_EL1_T1SZ)=0x10",
                      "KERNELOFFSET=%x" % (self.text - 0xffff800008010000)]
        lines += [line for line in extra.splitlines() if line]
        lines.append("CRASHTIME=1795684400")
        lines = [line for line in lines if line.split("=")[0] not in drop]
        return "\n".join(lines) + "\n"


class Ring(object):
    """A printk_ringbuffer filled as the kernel fills it."""

    def __init__(self, count_bits=6, data_bits=11, first_id=None):
        self.count_bits = count_bits
        self.count = 1 << count_bits
        self.size = 1 << data_bits
        self.data_bits = data_bits
        self.data = bytearray(self.size)
        self.descs = bytearray(24 * self.count)
        self.infos = bytearray(88 * self.count)
        # DESC0_ID: the first id the kernel hands out wraps the descriptor index at once.
        self.next_id = first_id if first_id is not None else (self.count * 5 + 3)
        self.head_id = self.tail_id = None
        self.lpos = self.size * 3 + 100          # logical positions go round several times
        self.seq = 0
        self.written = []                        # (id, begin, next)

    def add(self, text, ts_nsec, caller="T1", level=6, facility=0, state=FINALIZED, dataless=False):
        ident = self.next_id & DESC_ID_MASK
        self.next_id += 1
        raw = text.encode("utf-8") if isinstance(text, str) else text
        size = (8 + len(raw) + 7) & ~7
        if dataless:
            begin = nxt = 0x1                    # FAILED_LPOS
        else:
            begin = self.lpos
            nxt = begin + size
            struct.pack_into("<Q", self.data, begin % self.size, ident)
            if begin // self.size != nxt // self.size:           # get_next_lpos(): wraps
                nxt = (nxt // self.size) * self.size + size
            start = (nxt - size) % self.size
            struct.pack_into("<Q", self.data, start, ident)
            self.data[start + 8:start + 8 + len(raw)] = raw
            self.lpos = nxt
        index = ident % self.count
        struct.pack_into("<QQQ", self.descs, index * 24, (state << 62) | ident, begin, nxt)
        cid = int(caller[1:]) | (0x80000000 if caller[0] == "C" else 0)
        info = bytearray(88)
        struct.pack_into("<QQHBBI", info, 0, self.seq, ts_nsec, len(raw), facility,
                         (level << 5) | 0x2, cid)
        self.infos[index * 88:(index + 1) * 88] = info
        self.seq += 1
        self.written.append((ident, begin, nxt))
        self.head_id = ident
        # The tail: the oldest record whose descriptor and data are both still there.
        oldest = [(i, b) for i, b, n in self.written
                  if i > ident - self.count and (b == 0x1 or b >= self.lpos - self.size)]
        self.tail_id = oldest[0][0]
        return ident

    def place(self, kernel, prb_var, prb, descs, infos, data):
        """Writes the ring into the kernel's memory at these virtual addresses."""
        kernel.write_virt(prb_var, struct.pack("<Q", prb))
        head = bytearray(88)
        struct.pack_into("<IxxxxQQQQQ", head, 0, self.count_bits, descs, infos, self.head_id,
                         self.tail_id, self.head_id)
        struct.pack_into("<IxxxxQQQQ", head, 48, self.data_bits, data, self.lpos, 0, 0)
        kernel.write_virt(prb, bytes(head))
        kernel.write_virt(descs, bytes(self.descs))
        kernel.write_virt(infos, bytes(self.infos))
        kernel.write_virt(data, bytes(self.data))


def static_ring_kernel(messages, machine="x86_64", ring=None, **kernel_args):
    """A kernel whose log is the static ring in its image (``messages``: (text, ts, caller))."""
    kernel = Kernel(machine=machine, **kernel_args)
    ring = ring or Ring()
    for message in messages:
        ring.add(*message) if isinstance(message, tuple) else ring.add(**message)
    prb_var = kernel.image(0x168e6f8)
    ring.place(kernel, prb_var, kernel.image(0x168e700), kernel.image(0x1690000),
               kernel.image(0x16a0000), kernel.image(0x1800000))
    kernel.symbols = [("prb", prb_var)]
    return kernel, ring


def dynamic_ring_kernel(messages, huge=False, **kernel_args):
    """log_buf_len=: the ring's arrays in memblock memory, at the direct (x86_64, through
    page tables) or linear (aarch64) map."""
    kernel = Kernel(**kernel_args)
    ring = Ring()
    for message in messages:
        ring.add(*message)
    if kernel.machine == "x86_64":
        phys = 0x6e00000
        kernel.map_direct(phys, 1 << 21, huge=huge)
    else:
        phys = kernel.phys_offset + 0x6e00000
    prb_var = kernel.image(0x168e6f8)
    ring.place(kernel, prb_var, kernel.image(0x168e700), kernel.linear(phys),
               kernel.linear(phys + 0x10000), kernel.linear(phys + 0x20000))
    kernel.symbols = [("prb", prb_var)]
    return kernel, ring


def log_buf_kernel(messages, buf_len=4096, start=0):
    """A 5.4 kernel: log_buf of printk_log records (24-byte header with caller_id) from
    ``start``; a record that does not fit before the end goes to the start of the buffer,
    after a record of length 0."""
    kernel = Kernel(release="5.4.0-150-generic")
    buf = bytearray(buf_len)
    position = start
    for text, ts, caller in messages:
        raw = text.encode()
        length = (24 + len(raw) + 7) & ~7
        if position + length + 24 > buf_len:      # log_store(): room for the marker
            struct.pack_into("<QH", buf, position, 0, 0)
            position = 0
        cid = int(caller[1:]) | (0x80000000 if caller[0] == "C" else 0)
        struct.pack_into("<QHHHBBI", buf, position, ts, length, len(raw), 0, 0, (6 << 5) | 2, cid)
        buf[position + 24:position + 24 + len(raw)] = raw
        position += length
    log_buf = kernel.image(0x1900000)
    symbols = {"log_buf": kernel.image(0x16b0000), "log_buf_len": kernel.image(0x16b0008),
               "log_first_idx": kernel.image(0x16b0010), "log_next_idx": kernel.image(0x16b0014)}
    kernel.write_virt(symbols["log_buf"], struct.pack("<Q", log_buf))
    kernel.write_virt(symbols["log_buf_len"], struct.pack("<I", buf_len))
    kernel.write_virt(symbols["log_first_idx"], struct.pack("<I", start))
    kernel.write_virt(symbols["log_next_idx"], struct.pack("<I", position))
    kernel.write_virt(log_buf, bytes(buf))
    kernel.symbols = sorted(symbols.items())
    kernel.log_buf = log_buf
    kernel.log_symbols = symbols
    return kernel


def kdump(kernel, info, compression="zlib", machine=None, version=6, zero_pages=True, phys_base=None):
    """A kdump-compressed dump of ``kernel``'s memory (only the pages written are in it)."""
    memory = kernel.memory
    max_mapnr = memory.ram // PAGE
    bitmap_half = ((max_mapnr + 7) // 8 + PAGE - 1) // PAGE * PAGE
    bitmap_blocks = 2 * bitmap_half // PAGE
    header = bytearray(PAGE)
    header[0:8] = b"KDUMP   "
    struct.pack_into("<i", header, 8, version)
    for index, value in enumerate(["Linux", "kdumplab", kernel.release, "#1 SMP PREEMPT_DYNAMIC",
                                   machine or kernel.machine, "(none)"]):
        header[12 + index * 65:12 + index * 65 + len(value)] = value.encode()
    struct.pack_into("<qq", header, 408, 1795684370, 0)
    status = {"zlib": 0x1, "none": 0x0, "lzo": 0x2, "snappy": 0x4, "zstd": 0x20}[compression]
    struct.pack_into("<IiiIIIIIIi", header, 424, status, PAGE, 1, bitmap_blocks,
                     min(max_mapnr, 0xffffffff), 0, 0, 0, 0, 2)
    raw_info = info.encode()
    sub = bytearray(PAGE)
    vmcoreinfo_at = PAGE + 112
    if phys_base is None:
        phys_base = kernel.phys_base if kernel.machine == "x86_64" else 0
    struct.pack_into("<qiiqqqqqqqqQQQ", sub, 0, phys_base, 31, 0, 0, max_mapnr,
                     vmcoreinfo_at, len(raw_info), 0, 0, 0, 0, 0, max_mapnr, max_mapnr)
    sub[112:112 + len(raw_info)] = raw_info
    pfns = sorted(pfn for pfn in memory.pages if pfn < max_mapnr)
    bitmap1 = bytearray(bitmap_half)
    bitmap2 = bytearray(bitmap_half)
    for pfn in range(max_mapnr):
        bitmap1[pfn // 8] |= 1 << (pfn % 8)
    for pfn in pfns:
        bitmap2[pfn // 8] |= 1 << (pfn % 8)
    descs_at = (2 + bitmap_blocks) * PAGE
    desc_bytes = (len(pfns) * 24 + PAGE - 1) // PAGE * PAGE
    data_at = descs_at + desc_bytes
    descs = bytearray(desc_bytes)
    data = bytearray()
    zero_desc = None
    if zero_pages:
        zero_desc = (data_at, PAGE, 0)
        data += bytes(PAGE)
    for index, pfn in enumerate(pfns):
        page = bytes(memory.pages[pfn])
        if zero_desc and page == bytes(PAGE):
            desc = zero_desc
        else:
            payload, flags = page, 0
            if compression == "zlib":
                packed = zlib.compress(page)
                if len(packed) < PAGE:
                    payload, flags = packed, 0x1
            elif compression != "none":
                # No lzo/snappy/zstd here: the page as it is, flagged so (the tests' fake
                # decompressor gives it back).
                payload, flags = page, status
            desc = (data_at + len(data), len(payload), flags)
            data += payload
        struct.pack_into("<qIIQ", descs, index * 24, desc[0], desc[1], desc[2], 0)
    return bytes(header) + bytes(sub) + bytes(bitmap1) + bytes(bitmap2) + bytes(descs) + bytes(data)


def flatten(dump, chunk=5000):
    """makedumpfile -F: a 4096-byte header, then {offset, size, data} records (big-endian)."""
    head = bytearray(PAGE)
    head[0:12] = b"makedumpfile"
    struct.pack_into(">qq", head, 16, 1, 1)
    out = [bytes(head)]
    # Headers first, then the rest in pieces, in a scrambled order as makedumpfile writes
    # descriptors and data to two places at once.
    pieces = [(offset, dump[offset:offset + chunk]) for offset in range(0, len(dump), chunk)]
    pieces = pieces[:2] + pieces[2:][::-1]
    for offset, piece in pieces:
        out.append(struct.pack(">qq", offset, len(piece)) + piece)
    out.append(struct.pack(">qq", -1, -1))
    return b"".join(out)


def elf(kernel, info, machine=None):
    """An ELF vmcore: PT_NOTE with VMCOREINFO, a PT_LOAD per run of consecutive pages."""
    memory = kernel.memory
    name = b"VMCOREINFO\0\0"
    desc = info.encode()
    desc += b"\0" * ((4 - len(desc) % 4) % 4)
    note = struct.pack("<III", 11, len(desc), 0) + name + desc
    runs = []
    for pfn in sorted(memory.pages):
        if runs and runs[-1][1] == pfn:
            runs[-1][1] = pfn + 1
        else:
            runs.append([pfn, pfn + 1])
    phnum = 1 + len(runs)
    offset = 64 + 56 * phnum
    phdrs = struct.pack("<IIQQQQQQ", 4, 0, offset, 0, 0, len(note), len(note), 0)
    offset += len(note)
    body = []
    for start, end in runs:
        size = (end - start) * PAGE
        paddr = start * PAGE
        phdrs += struct.pack("<IIQQQQQQ", 1, 7, offset, kernel.linear(paddr), paddr, size, size, 0)
        body.append(b"".join(bytes(memory.pages[pfn]) for pfn in range(start, end)))
        offset += size
    header = bytearray(64)
    header[0:7] = b"\x7fELF\x02\x01\x01"
    struct.pack_into("<HHI", header, 16, 4, {"x86_64": 62, "aarch64": 183}[machine or kernel.machine], 1)
    struct.pack_into("<Q", header, 32, 64)
    struct.pack_into("<HHHH", header, 52, 64, 56, phnum, 0)
    return bytes(header) + phdrs + note + b"".join(body)
