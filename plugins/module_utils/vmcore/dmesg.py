# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The crashed kernel's log, read from its dump, and printed as ``makedumpfile --dump-dmesg``.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

``read_log(path)`` finds the kernel's printk buffer through VMCOREINFO and returns its
records; ``format_log(records)`` prints them the way makedumpfile does.

Two layouts, both described by the offsets and sizes the kernel itself puts in VMCOREINFO
(kernel/printk/printk.c, log_buf_vmcoreinfo_setup), never by assumed struct layouts:

- Linux 5.10 and later, the lockless ring (kernel/printk/printk_ringbuffer.h):
  SYMBOL(prb) holds the address of a ``printk_ringbuffer``; its ``prb_desc_ring`` has
  ``1 << count_bits`` descriptors (``prb_desc``: state_var, text_blk_lpos) and as many
  ``printk_info`` (seq, ts_nsec, text_len, caller_id); its ``prb_data_ring`` has
  ``1 << size_bits`` bytes of data blocks, each an ``unsigned long`` id then the text. The
  records are the descriptors from tail_id to head_id whose state is committed or
  finalized, as makedumpfile's printk.c (dump_lockless_dmesg) reads them: a block that
  wraps has its text at the start of the ring, a text longer than its block is cut to it.
- Linux 3.5 to 5.9: ``log_buf`` of ``log_buf_len`` bytes holding ``printk_log`` records
  (ts_nsec, len, text_len, then the text) from log_first_idx to log_next_idx, a record of
  length 0 meaning "continue at the start" (makedumpfile.c, dump_dmesg). Older kernels keep
  unstructured text (SYMBOL(log_end)); they are refused with that reason.

Level, facility and flags are not in VMCOREINFO; they are read where the layout is the
kernel's usual one (the bytes after text_len, before caller_id), else left None.

Bounds: the ring's data, its descriptors and its infos (or log_buf) are each read once and
each at most 64 MiB (pages.MAX_READ); the walk visits at most one record per descriptor (per
minimal record for log_buf) and says so when the ring's ids or the records' lengths would
make it go round forever; a record points at most inside the data read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct
from collections import namedtuple

from ansible_collections.crashdump.kdump.plugins.module_utils.vmcore.pages import (
    MAX_READ,
    decimal,
    open_dump,
    symbol,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.vmcore.reader import DumpError

LogRecord = namedtuple("LogRecord", "seq ts_nsec facility level flags caller_id text")

ID_MASK = (1 << 62) - 1                    # DESC_ID_MASK: the state is in the top 2 bits
STATE_COMMITTED, STATE_FINALIZED = 0x1, 0x2
CALLER_CPU = 0x80000000
STRUCT_LIMIT = 4096                        # a struct VMCOREINFO describes is at most this big
PID_CHARS_DEFAULT = 8                      # makedumpfile.h: width of the caller id


def _u16(data, offset):
    return struct.unpack_from("<H", data, offset)[0]


def _u32(data, offset):
    return struct.unpack_from("<I", data, offset)[0]


def _u64(data, offset):
    return struct.unpack_from("<Q", data, offset)[0]


class _Layout(object):
    """The OFFSET()/SIZE() entries one reader needs, each checked to exist and to fit."""

    def __init__(self, info, what):
        self.info = info
        self.what = what
        self.missing = []

    def get(self, key, required=True):
        value = decimal(self.info, key)
        if value is None:
            if required:
                self.missing.append(key)
            return None
        if not 0 <= value <= STRUCT_LIMIT:
            raise DumpError("VMCOREINFO %s=%d is not a %s layout" % (key, value, self.what))
        return value

    def check(self):
        if self.missing:
            raise DumpError("VMCOREINFO lacks %s (the kernel's %s)" % (", ".join(self.missing), self.what))


def _fits(what, size, *offsets_and_widths):
    for offset, width in offsets_and_widths:
        if offset is not None and offset + width > size:
            raise DumpError("VMCOREINFO puts a %d-byte field of %s at %d, beyond its size %d"
                            % (width, what, offset, size))


def _level_facility(data, text_len_offset, caller_offset):
    """(facility, level, flags) where the struct has the kernel's usual layout: u16 text_len,
    u8 facility, u8 flags:5 level:3 (little-endian bit fields), then the u32 caller_id."""
    if caller_offset is not None and caller_offset != text_len_offset + 4:
        return None, None, None
    facility = data[text_len_offset + 2]
    packed = data[text_len_offset + 3]
    return facility, packed >> 5, packed & 0x1f


def _log_level_facility(data, text_len_offset, caller_offset, size):
    """The same for a ``printk_log``: u16 text_len, u16 dict_len, u8 facility, u8 flags:5
    level:3, then (CONFIG_PRINTK_CALLER) the u32 caller_id."""
    if text_len_offset + 6 > size or (caller_offset is not None and caller_offset != text_len_offset + 6):
        return None, None, None
    packed = data[text_len_offset + 5]
    return data[text_len_offset + 4], packed >> 5, packed & 0x1f


def _ring_records(dump):
    info = dump.vmcoreinfo
    layout = _Layout(info, "printk ring buffer layout")
    size_prb = layout.get("SIZE(printk_ringbuffer)")
    desc_ring = layout.get("OFFSET(printk_ringbuffer.desc_ring)")
    text_ring = layout.get("OFFSET(printk_ringbuffer.text_data_ring)")
    count_bits = layout.get("OFFSET(prb_desc_ring.count_bits)")
    descs_at = layout.get("OFFSET(prb_desc_ring.descs)")
    infos_at = layout.get("OFFSET(prb_desc_ring.infos)")
    head_at = layout.get("OFFSET(prb_desc_ring.head_id)")
    tail_at = layout.get("OFFSET(prb_desc_ring.tail_id)")
    size_desc = layout.get("SIZE(prb_desc)")
    state_at = layout.get("OFFSET(prb_desc.state_var)")
    lpos_at = layout.get("OFFSET(prb_desc.text_blk_lpos)")
    begin_at = layout.get("OFFSET(prb_data_blk_lpos.begin)")
    next_at = layout.get("OFFSET(prb_data_blk_lpos.next)")
    size_info = layout.get("SIZE(printk_info)")
    seq_at = layout.get("OFFSET(printk_info.seq)", required=False)
    ts_at = layout.get("OFFSET(printk_info.ts_nsec)", required=False)
    if ts_at is None:   # a kernel that keeps several clocks: ts.mono is what printk prints
        mono = layout.get("OFFSET(ktime_timestamps.mono)", required=False)
        ts = layout.get("OFFSET(printk_info.ts)", required=False)
        ts_at = ts + mono if ts is not None and mono is not None else None
        if ts_at is None:
            layout.missing.append("OFFSET(printk_info.ts_nsec)")
    text_len_at = layout.get("OFFSET(printk_info.text_len)")
    caller_at = layout.get("OFFSET(printk_info.caller_id)", required=False)
    size_bits = layout.get("OFFSET(prb_data_ring.size_bits)")
    data_at = layout.get("OFFSET(prb_data_ring.data)")
    counter = layout.get("OFFSET(atomic_long_t.counter)", required=False) or 0
    layout.check()
    _fits("printk_ringbuffer", size_prb, (desc_ring + count_bits, 4), (desc_ring + descs_at, 8),
          (desc_ring + infos_at, 8), (desc_ring + head_at + counter, 8),
          (desc_ring + tail_at + counter, 8), (text_ring + size_bits, 4), (text_ring + data_at, 8))
    _fits("prb_desc", size_desc, (state_at + counter, 8), (lpos_at + begin_at, 8), (lpos_at + next_at, 8))
    _fits("printk_info", size_info, (seq_at, 8), (ts_at, 8), (text_len_at, 2), (caller_at, 4),
          (text_len_at, 4))

    prb = dump.read(dump.u64(symbol(info, "prb")), size_prb)
    bits = _u32(prb, desc_ring + count_bits)
    data_bits = _u32(prb, text_ring + size_bits)
    if bits > 30 or (size_desc << bits) > MAX_READ or (size_info << bits) > MAX_READ:
        raise DumpError("the descriptor ring claims 2^%d descriptors, more than this reader takes"
                        " (%d MiB of descriptors and infos at most)" % (bits, MAX_READ >> 20))
    if data_bits > 40 or (1 << data_bits) > MAX_READ:
        raise DumpError("the ring's text data claims 2^%d bytes, more than the %d MiB this reader"
                        " takes" % (data_bits, MAX_READ >> 20))
    count = 1 << bits
    data_size = 1 << data_bits
    head = _u64(prb, desc_ring + head_at + counter) & ID_MASK
    tail = _u64(prb, desc_ring + tail_at + counter) & ID_MASK
    apart = (head - tail) & ID_MASK
    if apart >= count:
        raise DumpError("the descriptor ring's tail id %#x and head id %#x are %d apart, more than"
                        " its %d descriptors: the ring is corrupt" % (tail, head, apart, count))
    descs = dump.read(_u64(prb, desc_ring + descs_at), size_desc * count)
    infos = dump.read(_u64(prb, desc_ring + infos_at), size_info * count)
    data = dump.read(_u64(prb, text_ring + data_at), data_size)

    records = []
    ident = tail
    for _step in range(apart + 1):
        index = ident % count
        desc = index * size_desc
        state_var = _u64(descs, desc + state_at + counter)
        state = state_var >> 62
        if state_var & ID_MASK == ident and state in (STATE_COMMITTED, STATE_FINALIZED):
            begin = _u64(descs, desc + lpos_at + begin_at) % data_size
            after = _u64(descs, desc + lpos_at + next_at) % data_size
            if begin != after:                      # a record without data has begin == next
                record = infos[index * size_info:(index + 1) * size_info]
                text_len = _u16(record, text_len_at)
                if begin > after:                   # the block wrapped: its text is at the start
                    begin = 0
                begin += 8                          # the block's id
                if after >= begin and after - begin < text_len:
                    text_len = after - begin
                facility, level, flags = _level_facility(record, text_len_at, caller_at)
                records.append(LogRecord(
                    seq=_u64(record, seq_at) if seq_at is not None else None,
                    ts_nsec=_u64(record, ts_at),
                    facility=facility, level=level, flags=flags,
                    caller_id=_u32(record, caller_at) if caller_at is not None else None,
                    text=bytes(data[begin:begin + text_len])))
        ident = (ident + 1) & ID_MASK
    return records


def _log_buf_records(dump):
    info = dump.vmcoreinfo
    if "SYMBOL(log_end)" in info:
        raise DumpError("the kernel keeps its log as plain text (SYMBOL(log_end), Linux before"
                        " 3.5): not supported")
    name = "printk_log" if "SIZE(printk_log)" in info else "log"
    layout = _Layout(info, "log_buf record layout")
    size_record = layout.get("SIZE(%s)" % name)
    ts_at = layout.get("OFFSET(%s.ts_nsec)" % name)
    len_at = layout.get("OFFSET(%s.len)" % name)
    text_len_at = layout.get("OFFSET(%s.text_len)" % name)
    caller_at = layout.get("OFFSET(%s.caller_id)" % name, required=False)
    for key in ("SYMBOL(log_buf)", "SYMBOL(log_buf_len)", "SYMBOL(log_first_idx)", "SYMBOL(log_next_idx)"):
        if key not in info:
            layout.missing.append(key)
    layout.check()
    _fits(name, size_record, (ts_at, 8), (len_at, 2), (text_len_at, 4), (caller_at, 4))
    if size_record < 8:
        raise DumpError("VMCOREINFO SIZE(%s)=%d is not a log record layout" % (name, size_record))
    buf_len = dump.u32(symbol(info, "log_buf_len"))
    if buf_len > MAX_READ:
        raise DumpError("log_buf_len is %d bytes, more than the %d MiB this reader takes"
                        % (buf_len, MAX_READ >> 20))
    first = dump.u32(symbol(info, "log_first_idx"))
    last = dump.u32(symbol(info, "log_next_idx"))
    if first >= max(buf_len, 1) or last >= max(buf_len, 1):
        raise DumpError("log_first_idx %d or log_next_idx %d is outside the %d-byte log_buf"
                        % (first, last, buf_len))
    buf = dump.read(dump.u64(symbol(info, "log_buf")), buf_len)
    seq = None
    if "SYMBOL(log_first_seq)" in info:
        seq = struct.unpack("<Q", dump.read(symbol(info, "log_first_seq"), 8))[0]

    def length_at(position):
        if position + size_record > buf_len:
            raise DumpError("a log record at %d runs past the end of the %d-byte log_buf"
                            % (position, buf_len))
        return _u16(buf, position + len_at)

    records = []
    position = first
    for _step in range(buf_len // size_record + 2):
        if position == last:
            return records
        record = position
        length = length_at(record)
        if length == 0:                             # the end of the buffer: go on at its start
            record = 0
            length = length_at(0)
        if length < size_record or record + length > buf_len:
            raise DumpError("the log record at %d claims %d bytes (a record has %d to %d)"
                            % (record, length, size_record, buf_len - record))
        head = buf[record:record + size_record]
        text_len = min(_u16(head, text_len_at), length - size_record)
        facility, level, flags = _log_level_facility(head, text_len_at, caller_at, size_record)
        records.append(LogRecord(
            seq=seq, ts_nsec=_u64(head, ts_at), facility=facility, level=level, flags=flags,
            caller_id=_u32(head, caller_at) if caller_at is not None else None,
            text=bytes(buf[record + size_record:record + size_record + text_len])))
        if seq is not None:
            seq += 1
        position = record + length
    raise DumpError("the log records never reach log_next_idx %d: they form a cycle" % last)


def records_of(dump):
    """``(layout, records)`` of an open pages.Dump: layout ``printk_ringbuffer`` or ``log_buf``."""
    if "SYMBOL(prb)" in dump.vmcoreinfo:
        return "printk_ringbuffer", _ring_records(dump)
    if "SYMBOL(log_buf)" in dump.vmcoreinfo:
        return "log_buf", _log_buf_records(dump)
    raise DumpError("VMCOREINFO has neither SYMBOL(prb) nor SYMBOL(log_buf): no kernel log to read")


def read_log(path):
    """The kernel log in the dump at ``path``: ``{"records", "layout", "machine", "format"}``.
    Raises DumpError (or IOError) with the reason it cannot be read."""
    with open_dump(path) as dump:
        try:
            layout, records = records_of(dump)
        except (struct.error, IndexError, ValueError, OverflowError) as exc:
            raise DumpError("corrupt: %s" % exc)
        return {"records": records, "layout": layout, "machine": dump.machine,
                "format": dump.format, "flattened": dump.flattened}


def _escapes(signed_char):
    """What makedumpfile writes for each byte of a text: printable and space characters of
    the C locale as they are, others as ``\\x%02x`` of the C char - which is signed on x86_64
    (0xe9 is written ``\\xffffffe9``) and unsigned on aarch64 (``\\xe9``)."""
    table = []
    for byte in range(256):
        if 0x20 <= byte <= 0x7e or byte in (0x09, 0x0b, 0x0c, 0x0d):
            table.append(chr(byte))
        elif signed_char and byte >= 0x80:
            table.append("\\x%02x" % (byte - 256 & 0xffffffff))
        else:
            table.append("\\x%02x" % byte)
    return table


_ESCAPES = {True: _escapes(True), False: _escapes(False)}


def format_record(record, caller=True, signed_char=True):
    """One record as ``makedumpfile --dump-dmesg`` prints it: ``[%5lu.%06lu] `` then, where the
    kernel records one (and ``caller``: makedumpfile 1.7.5 and later), the caller id as
    ``[%8s] `` (``T<pid>`` or ``C<cpu>``), then the text, each newline in it followed by as
    many spaces as that prefix is long, then a newline."""
    seconds, nanos = divmod(record.ts_nsec, 1000000000)
    prefix = "[%5d.%06d] " % (seconds, nanos // 1000)
    if caller and record.caller_id is not None:
        ident = record.caller_id
        prefix += "[%*s] " % (PID_CHARS_DEFAULT, "%s%d" % ("C" if ident & CALLER_CPU else "T",
                                                           ident & ~CALLER_CPU & 0xffffffff))
    table = _ESCAPES[bool(signed_char)]
    newline = "\n" + " " * len(prefix)
    return prefix + "".join(newline if byte == 0x0a else table[byte]
                            for byte in bytearray(record.text)) + "\n"


def format_log(records, caller=True, signed_char=True):
    """All records as ``makedumpfile --dump-dmesg`` writes them (see format_record)."""
    return "".join(format_record(record, caller, signed_char) for record in records)


def signed_char_of(machine):
    """Whether C's ``char`` is signed where makedumpfile runs for a dump of ``machine``."""
    return machine not in ("aarch64", "arm64", "ppc64le", "ppc64", "s390x", "riscv64")


def dump_log(path, keep=20000):
    """The kernel log of the dump at ``path`` for a report: ``{"lines"`` (the last ``keep``
    lines as makedumpfile prints them), ``"records"``, ``"layout"``, ``"error"}``; never raises
    for a bad dump (``error`` says why, the rest is None)."""
    try:
        log = read_log(path)
    except DumpError as exc:
        return {"lines": None, "records": None, "layout": None, "error": str(exc)}
    except (IOError, OSError) as exc:
        return {"lines": None, "records": None, "layout": None, "error": "cannot read %s: %s" % (path, exc)}
    except MemoryError:
        return {"lines": None, "records": None, "layout": None, "error": "out of memory reading the log"}
    text = format_log(log["records"][-keep:], signed_char=signed_char_of(log["machine"]))
    return {"lines": text.splitlines()[-keep:], "records": len(log["records"]),
            "layout": log["layout"], "error": None}
