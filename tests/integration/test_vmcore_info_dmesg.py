# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmcore_info run for real on this machine: the kernel log read from a dump that has no log
beside it (built by the unit tests' vmcore_builder), its signature, and read_log=never."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os
import sys

from ansible_run import play

_DIR = os.path.join(os.path.dirname(__file__), "..", "unit", "plugins", "module_utils")
_SPEC = importlib.util.spec_from_file_location("vmcore_builder", os.path.join(_DIR, "vmcore_builder.py"))
build = importlib.util.module_from_spec(_SPEC)
sys.modules["vmcore_builder"] = build
_SPEC.loader.exec_module(build)

CRASH = [
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


def test_the_log_is_read_from_the_dump_without_a_file_beside_it(tmp_path):
    kernel, _ring = build.static_ring_kernel(CRASH)
    directory = tmp_path / "crash" / "202612011200"
    directory.mkdir(parents=True)
    (directory / "dump.202612011200").write_bytes(
        build.flatten(build.kdump(kernel, kernel.vmcoreinfo(symbols=kernel.symbols))))
    rc, results = play(tmp_path, [{"crashdump.kdump.vmcore_info": {
        "path": str(tmp_path / "crash"), "dmesg_lines": 2, "kernel": "6.1.0-18-amd64"}}])
    assert rc == 0, results
    newest = results[0]["newest"]
    assert newest["valid"] is True, newest["reasons"]
    assert (newest["dmesg"], newest["dmesg_source"], newest["dmesg_error"]) == (None, "dump", None)
    assert newest["dmesg_records"] == len(CRASH)
    assert newest["dmesg_tail"] == ["[   80.100400] [   T1234]  write_sysrq_trigger+0x24/0x40",
                                    "[   80.100400] [   T1234]  </TASK>"]
    assert newest["dmesg_sysrq"] is True
    assert newest["dmesg_panic"] == "[   80.100200] [   T1234] Kernel panic - not syncing: sysrq triggered crash"
    signature = newest["signature"]
    assert signature["title"] == "Kernel panic - not syncing: sysrq triggered crash"
    assert signature["frames"] == ["sysrq_handle_crash", "__handle_sysrq", "write_sysrq_trigger"]
    assert signature["test"] is True and len(signature["hash"]) == 16

    rc, results = play(tmp_path, [{"crashdump.kdump.vmcore_info": {
        "path": str(tmp_path / "crash"), "read_log": "never"}}])
    newest = results[0]["newest"]
    assert rc == 0 and newest["dmesg_source"] is None and newest["signature"] is None


def test_a_log_beside_the_dump_is_used_and_a_bad_dump_says_why(tmp_path):
    directory = tmp_path / "crash" / "202612011201"
    directory.mkdir(parents=True)
    kernel, _ring = build.static_ring_kernel(CRASH)
    info = kernel.vmcoreinfo(symbols=kernel.symbols).replace("SYMBOL(prb)", "SYMBOL(gone)")
    (directory / "dump.202612011201").write_bytes(build.kdump(kernel, info))
    rc, results = play(tmp_path, [{"crashdump.kdump.vmcore_info": {"path": str(tmp_path / "crash")}}])
    newest = results[0]["newest"]
    assert rc == 0 and newest["dmesg_source"] is None and newest["signature"] is None
    assert "neither SYMBOL(prb) nor SYMBOL(log_buf)" in newest["dmesg_error"]
    (directory / "dmesg.202612011201").write_text(
        "[ 80.1] sysrq: Trigger a crash\n[ 80.1] Kernel panic - not syncing: sysrq triggered crash\n")
    rc, results = play(tmp_path, [{"crashdump.kdump.vmcore_info": {"path": str(tmp_path / "crash")}}])
    newest = results[0]["newest"]
    assert newest["dmesg_source"] == "file" and newest["dmesg_error"] is None
    assert newest["signature"]["test"] is True and newest["dmesg_sysrq"] is True
