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

CRASH = build.SYSRQ_CRASH_LOG


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
