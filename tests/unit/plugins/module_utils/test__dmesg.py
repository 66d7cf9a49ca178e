# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kernel log read from synthetic dumps (vmcore_builder: a real-layout printk ring in
kdump-compressed, flattened and ELF dumps of x86_64 and aarch64 kernels), printed as
makedumpfile --dump-dmesg prints it, and damaged dumps refused with a reason."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import struct
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import vmcore_builder as build  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.crashdump.kdump.plugins.module_utils.vmcore import dmesg, pages  # noqa: E402
from ansible_collections.crashdump.kdump.plugins.module_utils.vmcore.reader import DumpError  # noqa: E402

MESSAGES = [
    ("Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC", 0, "T0"),
    ("Command line: BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 crashkernel=256M", 1234567890, "T1"),
    ("first line\nsecond line", 2000000999, "T1"),
    (b"tab\there, control \x01 and a high byte \xe9", 81123456789, "C3"),
    ("sysrq: Trigger a crash", 12345678901234, "T4021"),
]
# As makedumpfile 1.7.5+ (printk.c dump_record) writes them for an x86_64 dump.
EXPECTED = (
    "[    0.000000] [      T0] Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org)"
    " #1 SMP PREEMPT_DYNAMIC\n"
    "[    1.234567] [      T1] Command line: BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 crashkernel=256M\n"
    "[    2.000000] [      T1] first line\n"
    "                          second line\n"
    "[   81.123456] [      C3] tab\there, control \\x01 and a high byte \\xffffffe9\n"
    "[12345.678901] [   T4021] sysrq: Trigger a crash\n"
)


def _write(tmp_path, data, name="dump.202612011200"):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _static(machine="x86_64", messages=None, **kwargs):
    kernel, _ring = build.static_ring_kernel(messages or MESSAGES, machine=machine, **kwargs)
    return kernel, kernel.vmcoreinfo(symbols=kernel.symbols)


CONTAINERS = {
    "kdump-zlib": lambda k, i: build.kdump(k, i, "zlib"),
    "kdump-none": lambda k, i: build.kdump(k, i, "none"),
    "kdump-v5": lambda k, i: build.kdump(k, i, "zlib", version=5),
    "flattened": lambda k, i: build.flatten(build.kdump(k, i, "zlib")),
    "flattened-small-records": lambda k, i: build.flatten(build.kdump(k, i, "none"), chunk=700),
    "elf": build.elf,
}


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_x86_64_static_ring_in_every_container(tmp_path, container):
    kernel, info = _static()
    path = _write(tmp_path, CONTAINERS[container](kernel, info))
    log = dmesg.read_log(path)
    assert log["layout"] == "printk_ringbuffer" and log["machine"] == "x86_64"
    assert dmesg.format_log(log["records"]) == EXPECTED
    first = log["records"][0]
    assert (first.seq, first.ts_nsec, first.caller_id, first.level, first.facility) == (0, 0, 0, 6, 0)
    assert log["records"][3].caller_id == 0x80000003
    assert log["records"][2].text == b"first line\nsecond line"


@pytest.mark.parametrize("container", ["kdump-zlib", "elf"])
def test_aarch64_static_ring(tmp_path, container):
    kernel, info = _static("aarch64")
    log = dmesg.read_log(_write(tmp_path, CONTAINERS[container](kernel, info)))
    assert log["machine"] == "aarch64"
    # char is unsigned on aarch64: makedumpfile writes 0xe9 as \xe9 there.
    assert dmesg.format_log(log["records"], signed_char=dmesg.signed_char_of("aarch64")) == \
        EXPECTED.replace("\\xffffffe9", "\\xe9")


def test_the_format_of_makedumpfile_before_1_7_5_has_no_caller_ids(tmp_path):
    kernel, info = _static()
    log = dmesg.read_log(_write(tmp_path, build.kdump(kernel, info)))
    text = dmesg.format_log(log["records"][:3], caller=False)
    assert text == ("[    0.000000] Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org)"
                    " #1 SMP PREEMPT_DYNAMIC\n"
                    "[    1.234567] Command line: BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 crashkernel=256M\n"
                    "[    2.000000] first line\n"
                    "               second line\n")


@pytest.mark.parametrize("huge", [False, True])
def test_a_dynamic_ring_at_the_kaslr_direct_map_through_the_page_tables(tmp_path, huge):
    kernel, _ring = build.dynamic_ring_kernel(MESSAGES, huge=huge)
    path = _write(tmp_path, build.kdump(kernel, kernel.vmcoreinfo(symbols=kernel.symbols)))
    assert dmesg.format_log(dmesg.read_log(path)["records"]) == EXPECTED


def test_an_aarch64_dynamic_ring_in_the_linear_map(tmp_path):
    kernel, _ring = build.dynamic_ring_kernel(MESSAGES, machine="aarch64")
    assert kernel.linear(kernel.phys_offset) == 0xffff000000000000
    path = _write(tmp_path, build.elf(kernel, kernel.vmcoreinfo(symbols=kernel.symbols)))
    assert dmesg.format_log(dmesg.read_log(path)["records"], signed_char=False) == \
        EXPECTED.replace("\\xffffffe9", "\\xe9")


def test_phys_base_from_the_sub_header_when_vmcoreinfo_lacks_it(tmp_path):
    kernel, _ring = build.static_ring_kernel(MESSAGES)
    info = kernel.vmcoreinfo(symbols=kernel.symbols, drop=("NUMBER(phys_base)",))
    assert "phys_base" not in info
    log = dmesg.read_log(_write(tmp_path, build.kdump(kernel, info)))
    assert dmesg.format_log(log["records"]) == EXPECTED
    info_wrong = build.kdump(kernel, info, phys_base=0x1000000)
    with pytest.raises(DumpError):
        dmesg.read_log(_write(tmp_path, info_wrong, "dump.wrong"))


def test_a_ring_that_went_round_keeps_the_newest_records_and_wrapped_blocks(tmp_path):
    texts = ["message number %03d %s" % (i, "x" * (i % 37)) for i in range(300)]
    kernel, ring = build.static_ring_kernel([(text, i * 1000, "T1") for i, text in enumerate(texts)])
    log = dmesg.read_log(_write(tmp_path, build.kdump(kernel, kernel.vmcoreinfo(symbols=kernel.symbols))))
    got = [record.text.decode() for record in log["records"]]
    assert got == texts[-len(got):] and len(got) > 10
    assert [record.seq for record in log["records"]] == list(range(300 - len(got), 300))
    wrapped = [b for _i, b, n in ring.written if b // ring.size != (n - 1) // ring.size]
    assert wrapped, "the test ring must hold a block that wraps"


def test_records_not_committed_and_dataless_ones_are_left_out(tmp_path):
    messages = [
        dict(text="kept one", ts_nsec=1000),
        dict(text="being written", ts_nsec=2000, state=build.RESERVED),
        dict(text="committed, kept", ts_nsec=3000, state=build.COMMITTED),
        dict(text="", ts_nsec=4000, dataless=True),
        dict(text="freed", ts_nsec=5000, state=build.REUSABLE),
        dict(text="kept two", ts_nsec=6000),
    ]
    kernel, _info = _static(messages=messages)
    log = dmesg.read_log(_write(tmp_path, build.kdump(kernel, kernel.vmcoreinfo(symbols=kernel.symbols))))
    assert [r.text for r in log["records"]] == [b"kept one", b"committed, kept", b"kept two"]


def test_a_text_longer_than_its_block_is_cut_to_the_block(tmp_path):
    kernel, ring = build.static_ring_kernel([("short", 1, "T1"), ("after", 2, "T1")])
    # Claim 200 bytes of text for the first record: makedumpfile cuts it at its block's end.
    struct.pack_into("<H", ring.infos, (ring.written[0][0] % ring.count) * 88 + 16, 200)
    ring.place(kernel, kernel.symbols[0][1], kernel.image(0x168e700), kernel.image(0x1690000),
               kernel.image(0x16a0000), kernel.image(0x1800000))
    log = dmesg.read_log(_write(tmp_path, build.kdump(kernel, kernel.vmcoreinfo(symbols=kernel.symbols))))
    assert log["records"][0].text == b"short\0\0\0" and log["records"][1].text == b"after"


def test_the_log_buf_of_a_5_4_kernel_with_its_wrap_marker(tmp_path):
    texts = ["old format %02d" % i for i in range(20)]      # 10 at the end, 10 from the start
    kernel = build.log_buf_kernel([(t, i * 1000000, "T%d" % i) for i, t in enumerate(texts)],
                                  buf_len=1024, start=600)
    info = kernel.vmcoreinfo(printk=build.LOG_BUF_VMCOREINFO_5_4, symbols=kernel.symbols)
    log = dmesg.read_log(_write(tmp_path, build.kdump(kernel, info)))
    assert log["layout"] == "log_buf"
    assert [r.text.decode() for r in log["records"]] == texts
    assert (log["records"][0].level, log["records"][0].facility) == (6, 0)
    assert dmesg.format_log(log["records"][1:2]) == "[    0.001000] [      T1] old format 01\n"


def test_a_kernel_before_3_5_is_refused_with_the_reason(tmp_path):
    kernel = build.log_buf_kernel([("x", 1, "T1")])
    info = kernel.vmcoreinfo(printk="", symbols=kernel.symbols + [("log_end", kernel.image(0x16b0020))])
    with pytest.raises(DumpError, match="plain text .* before 3.5.*not supported"):
        dmesg.read_log(_write(tmp_path, build.kdump(kernel, info)))


# --- damaged dumps: a reason, never a hang or an unbounded read ---------------------------

def _ring_dump(tmp_path, mutate=None, info_edit=None, name="dump.bad"):
    kernel, ring = build.static_ring_kernel(MESSAGES)
    if mutate:
        mutate(kernel, ring)
    info = kernel.vmcoreinfo(symbols=kernel.symbols)
    if info_edit:
        info = info_edit(info)
    return _write(tmp_path, build.kdump(kernel, info), name)


def _prb_field(offset, fmt, value):
    def mutate(kernel, ring):
        kernel.write_virt(kernel.image(0x168e700) + offset, struct.pack(fmt, value))
    return mutate


@pytest.mark.parametrize("mutate,info_edit,reason", [
    (_prb_field(32, "<Q", 5), None, "are .* apart, more than its 64 descriptors: the ring is corrupt"),
    (_prb_field(0, "<I", 31), None, "claims 2\\^31 descriptors, more than this reader takes"),
    (_prb_field(48, "<I", 30), None, "claims 2\\^30 bytes, more than the 64 MiB"),
    (_prb_field(16, "<Q", 0xffffffff81f00000), None, "page 0x.* is not in the dump"),
    (_prb_field(8, "<Q", 0xffff9a4b40000000 + (64 << 20)), None, "page 0x6200 is not in the dump"),
    (None, lambda i: i.replace("SYMBOL(prb)", "SYMBOL(not_prb)"),
     "neither SYMBOL\\(prb\\) nor SYMBOL\\(log_buf\\)"),
    (None, lambda i: i.replace("OFFSET(prb_desc.state_var)=0\n", ""),
     "lacks OFFSET\\(prb_desc.state_var\\)"),
    (None, lambda i: i.replace("SIZE(printk_info)=88", "SIZE(printk_info)=12"),
     "field of printk_info at 8, beyond its size 12"),
    (None, lambda i: i.replace("SIZE(prb_desc)=24", "SIZE(prb_desc)=99999"), "is not a printk ring buffer layout"),
])
def test_a_damaged_ring_gives_a_reason(tmp_path, mutate, info_edit, reason):
    path = _ring_dump(tmp_path, mutate, info_edit)
    with pytest.raises(DumpError, match=reason):
        dmesg.read_log(path)
    assert dmesg.dump_log(path)["error"]


def test_log_buf_records_that_never_reach_the_end_are_a_cycle(tmp_path):
    kernel = build.log_buf_kernel([("a", 1, "T1"), ("b", 2, "T1")], buf_len=1024)
    # log_next_idx at a place no record ends: the walk would go round the buffer for ever.
    kernel.write_virt(kernel.log_symbols["log_next_idx"], struct.pack("<I", 20))
    info = kernel.vmcoreinfo(printk=build.LOG_BUF_VMCOREINFO_5_4, symbols=kernel.symbols)
    path = _write(tmp_path, build.kdump(kernel, info))
    start = time.time()
    with pytest.raises(DumpError, match="record at .* claims 0 bytes|form a cycle"):
        dmesg.read_log(path)
    assert time.time() - start < 5


def test_a_log_buf_record_shorter_than_its_header_is_refused(tmp_path):
    kernel = build.log_buf_kernel([("a", 1, "T1"), ("b", 2, "T1"), ("c", 3, "T1")], buf_len=4096)
    kernel.write_virt(kernel.log_buf + 32 + 8, struct.pack("<H", 8))
    info = kernel.vmcoreinfo(printk=build.LOG_BUF_VMCOREINFO_5_4, symbols=kernel.symbols)
    with pytest.raises(DumpError, match="the log record at 32 claims 8 bytes"):
        dmesg.read_log(_write(tmp_path, build.kdump(kernel, info)))


def test_log_buf_records_in_a_loop_are_a_cycle(tmp_path):
    kernel = build.log_buf_kernel([("a", 1, "T1"), ("b", 2, "T1"), ("c", 3, "T1")], buf_len=4096)
    # The second record's length points back at itself... by a zero-length marker at 0 that
    # sends the walk to the first record again: a loop that never reaches log_next_idx.
    kernel.write_virt(kernel.log_buf + 32 + 8, struct.pack("<H", 0))
    kernel.write_virt(kernel.log_symbols["log_next_idx"], struct.pack("<I", 4000))
    info = kernel.vmcoreinfo(printk=build.LOG_BUF_VMCOREINFO_5_4, symbols=kernel.symbols)
    with pytest.raises(DumpError, match="form a cycle"):
        dmesg.read_log(_write(tmp_path, build.kdump(kernel, info)))


def test_a_huge_log_buf_len_is_refused_before_it_is_read(tmp_path):
    kernel = build.log_buf_kernel([("a", 1, "T1")])
    kernel.write_virt(kernel.log_symbols["log_buf_len"], struct.pack("<I", 1 << 31))
    info = kernel.vmcoreinfo(printk=build.LOG_BUF_VMCOREINFO_5_4, symbols=kernel.symbols)
    with pytest.raises(DumpError, match="log_buf_len is 2147483648 bytes, more than the 64 MiB"):
        dmesg.read_log(_write(tmp_path, build.kdump(kernel, info)))


def _kdump_with(tmp_path, edit):
    kernel, info = _static()
    data = bytearray(build.kdump(kernel, info, "zlib"))
    edit(data)
    return _write(tmp_path, bytes(data))


def _descs_at(data):
    bitmap_blocks = struct.unpack_from("<I", data, 424 + 12)[0]
    return (2 + bitmap_blocks) * 4096


@pytest.mark.parametrize("edit,reason", [
    (lambda d: struct.pack_into("<q", d, _descs_at(d) + 24, 1 << 40), "the descriptor of page .* is corrupt"),
    (lambda d: struct.pack_into("<I", d, _descs_at(d) + 24 + 8, 8192), "the descriptor of page .* is corrupt"),
    (lambda d: struct.pack_into("<I", d, _descs_at(d) + 24 + 12, 0x2), "lzo-compressed: .*python-lzo"),
    (lambda d: struct.pack_into("<I", d, _descs_at(d) + 24 + 12, 0x20), "zstd-compressed: .*zstandard"),
    (lambda d: struct.pack_into("<I", d, _descs_at(d) + 24 + 12, 0x0), "stored in .* bytes without compression"),
    (lambda d: struct.pack_into("<Q", d, 4096 + 40, 1 << 30), "VMCOREINFO of 1073741824 bytes"),
    (lambda d: d.__setitem__(slice(12 + 4 * 65, 12 + 4 * 65 + 7), b"ppc64le"), "ppc64le kernel is not supported"),
])
def test_a_damaged_kdump_dump_gives_a_reason(tmp_path, edit, reason):
    path = _kdump_with(tmp_path, edit)
    if "lzo" in reason and pages._lzo is not None or "zstd" in reason and pages.supported_compressions().count("zstd"):
        pytest.skip("the decompressor is installed here")
    with pytest.raises(DumpError, match=reason):
        dmesg.read_log(path)


def test_garbage_in_a_zlib_page_does_not_decompress(tmp_path):
    def edit(data):
        for index in range(5):
            offset, size, flags = struct.unpack_from("<qII", data, _descs_at(data) + index * 24)
            if flags == 1:
                data[offset:offset + size] = b"\x78\x9c" + b"\xff" * (size - 2)
    with pytest.raises(DumpError, match="does not decompress \\(zlib\\)"):
        dmesg.read_log(_kdump_with(tmp_path, edit))


def test_an_optional_decompressor_is_used_when_importable(tmp_path, monkeypatch):
    class FakeLzo(object):
        calls = []

        @classmethod
        def decompress(cls, data, header, size):
            cls.calls.append((header, size))
            return data                     # the builder stores the page as it is
    kernel, info = _static()
    path = _write(tmp_path, build.kdump(kernel, info, "lzo"))
    if pages._lzo is None:
        with pytest.raises(DumpError, match="lzo-compressed: reading lzo-compressed pages needs the python-lzo"):
            dmesg.read_log(path)
    monkeypatch.setattr(pages, "_lzo", FakeLzo)
    assert "lzo" in pages.supported_compressions()
    assert dmesg.format_log(dmesg.read_log(path)["records"]) == EXPECTED
    assert FakeLzo.calls and set(FakeLzo.calls) == {(False, 4096)}


@pytest.mark.parametrize("cut", [100, 5000, 30000, 60000])
def test_truncated_dumps_give_the_whole_log_or_a_reason(tmp_path, cut):
    kernel, info = _static()
    for name, data in (("kdump", build.kdump(kernel, info)), ("flat", build.flatten(build.kdump(kernel, info))),
                       ("elf", build.elf(kernel, info))):
        if cut >= len(data):
            continue
        path = _write(tmp_path, data[:len(data) - cut], "dump." + name)
        log = dmesg.dump_log(path)
        # Either the pages of the log are still there (and the log is whole), or a reason.
        assert log["lines"] == EXPECTED.splitlines() or log["error"], (name, log)
        if name == "elf":                 # its last segment is the ring's text: cut
            assert "truncated" in log["error"]


def test_random_damage_never_raises_anything_else_nor_hangs(tmp_path):
    import random
    generator = random.Random(21)
    kernel, info = _static()
    base = build.kdump(kernel, info, "zlib")
    start = time.time()
    for round_ in range(60):
        data = bytearray(base)
        for _flip in range(30):
            data[generator.randrange(len(data))] = generator.randrange(256)
        log = dmesg.dump_log(_write(tmp_path, bytes(data), "fuzz%d" % round_))
        assert log["error"] is None or isinstance(log["error"], str)
    assert time.time() - start < 60


def test_dump_log_for_the_module(tmp_path):
    kernel, info = _static()
    log = dmesg.dump_log(_write(tmp_path, build.kdump(kernel, info)))
    assert log["error"] is None and log["records"] == 5 and log["layout"] == "printk_ringbuffer"
    assert log["lines"] == EXPECTED.splitlines()
    assert dmesg.dump_log(str(tmp_path / "none"))["error"].startswith("cannot read")


# --- real lab dumps, compared with makedumpfile --dump-dmesg --------------------------------

# VMCORE_LAB_DUMPS: a directory of dumps copied from lab VMs, each with makedumpfile
# --dump-dmesg's output beside it as DUMP.dump-dmesg.txt.
LAB_DUMPS = os.environ.get("VMCORE_LAB_DUMPS", "")
REAL = sorted(path for path in glob.glob(os.path.join(LAB_DUMPS, "**", "*"), recursive=True)
              if LAB_DUMPS
              if os.path.basename(path).startswith(("dump.", "vmcore")) and not path.endswith(".txt")
              and os.path.isfile(path))


@pytest.mark.skipif(not REAL, reason="no lab dumps (set VMCORE_LAB_DUMPS to a directory of dump.* or vmcore* with"
                    " DUMP.dump-dmesg.txt beside each)")
@pytest.mark.parametrize("path", REAL or ["none"])
def test_real_dumps_match_makedumpfile(path):
    expected = sorted(glob.glob(path + "*.dump-dmesg.txt")) or sorted(
        glob.glob(os.path.join(os.path.dirname(path), "*.dump-dmesg.txt")))
    if not expected:
        pytest.skip("no makedumpfile --dump-dmesg output beside %s" % path)
    with open(expected[0], "rb") as handle:
        want = handle.read().decode("utf-8", "replace")
    log = dmesg.read_log(path)
    got = dmesg.format_log(log["records"], signed_char=dmesg.signed_char_of(log["machine"]))
    if got != want:
        got_old = dmesg.format_log(log["records"], caller=False, signed_char=dmesg.signed_char_of(log["machine"]))
        assert got_old == want, "differs from %s (with or without caller ids)" % expected[0]
