# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmcore_info run for real on this machine, on dumps laid out as the kdump tools write them
(built from the documented formats by the unit tests' builder)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os

from ansible_run import play

_PATH = os.path.join(os.path.dirname(__file__), "..", "unit", "plugins", "module_utils", "test__vmcore.py")
_SPEC = importlib.util.spec_from_file_location("vmcore_builder", _PATH)
builder = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(builder)


def crash_dir(root, stamp, data, name="dump", dmesg=True):
    directory = root / stamp
    directory.mkdir(parents=True)
    (directory / ("%s.%s" % (name, stamp))).write_bytes(data)
    if dmesg:
        (directory / ("dmesg." + stamp)).write_text("[  1.0] boot\n[ 80.1] sysrq: Trigger a crash\n"
                                                    "[ 80.1] Kernel panic - not syncing: sysrq triggered crash\n")
    return directory


def test_a_directory_of_dumps_newest_first(tmp_path):
    crash = tmp_path / "crash"
    old = crash_dir(crash, "202611250800", builder.kdump_file(release="6.1.0-49-amd64"))
    os.utime(str(old / "dump.202611250800"), (1000, 1000))
    crash_dir(crash, "202611260922", builder.flatten(builder.kdump_file()))
    rc, results = play(tmp_path, [{"crashdump.kdump.vmcore_info": {
        "path": str(crash), "kernel": "6.1.0-50-amd64", "dmesg_lines": 1}}])
    assert rc == 0, results
    result = results[0]
    assert result["changed"] is False and result["valid"] is True
    assert [d["path"].split("/")[-1] for d in result["dumps"]] == ["dump.202611260922", "dump.202611250800"]
    newest = result["newest"]
    assert newest["flattened"] is True and newest["kernel"] == "6.1.0-50-amd64"
    assert newest["dmesg_tail"] == ["[ 80.1] Kernel panic - not syncing: sysrq triggered crash"]
    assert result["dumps"][1]["valid"] is False
    assert result["dumps"][1]["reasons"] == ["the dump is of kernel 6.1.0-49-amd64, not 6.1.0-50-amd64"]


def test_newer_than_and_a_truncated_dump(tmp_path):
    crash = tmp_path / "crash"
    data = builder.kdump_file()
    crash_dir(crash, "202611260922", data[:-300])
    rc, results = play(tmp_path, [{"crashdump.kdump.vmcore_info": {"path": str(crash), "newer_than": 0}}])
    assert rc == 0
    assert results[0]["valid"] is False
    assert results[0]["newest"]["reasons"][0].startswith("truncated")
    args = {"path": str(crash), "newer_than": 4102444800}
    rc, results = play(tmp_path, [{"crashdump.kdump.vmcore_info": args}])
    assert results[0]["dumps"] == [] and results[0]["valid"] is False and results[0]["newest"] is None


def test_a_single_file_and_a_missing_path(tmp_path):
    path = tmp_path / "vmcore"
    path.write_bytes(b"not a dump at all")
    rc, results = play(tmp_path, [{"crashdump.kdump.vmcore_info": {"path": str(path)}}])
    assert rc == 0
    assert results[0]["newest"]["reasons"] == ["not a kdump-compressed, flattened or ELF dump"]
    rc, results = play(tmp_path, [{"crashdump.kdump.vmcore_info": {"path": str(tmp_path / "no")}}])
    assert rc != 0 and "does not exist" in results[0]["msg"]
    args = {"path": str(tmp_path / "no"), "allow_missing": True}
    rc, results = play(tmp_path, [{"crashdump.kdump.vmcore_info": args}])
    assert rc == 0 and results[0]["dumps"] == [] and results[0]["valid"] is False
