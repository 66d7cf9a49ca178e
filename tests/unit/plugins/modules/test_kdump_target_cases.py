# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kdump_target's work for each family, driven by kdump_target.yml (TargetWork over a host
tree and a table of command answers)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml
from family_os_release import OS_RELEASE

from ansible_collections.crashdump.kdump.plugins.module_utils.capture.service import Host
from ansible_collections.crashdump.kdump.plugins.module_utils.runner.command import CommandRunner
from ansible_collections.crashdump.kdump.plugins.module_utils.target.plan import (
    expected_dump_bytes,
    parse_meminfo,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.service import TargetWork

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "..", "..", "fixtures")
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEGsCJq0F4VWxm1xC0jXbmE0LEKQ8n4Ob7I0XkKyW3Gj"
with open(os.path.join(HERE, "kdump_target.yml")) as _handle:
    CASES = yaml.safe_load(_handle)
PARAMS = dict(state="present", family="auto", type="local", path=None, device=None, fstype=None,
              nfs=None, ssh=None, ssh_port=22, ssh_key="/root/.ssh/kdump_id_ed25519",
              ssh_host_key=None, dump_level=31, compression="auto", makedumpfile_args=[],
              failure_action=None, final_action=None, keep=None, cmdline_append=[],
              extra_modules=[], preflight=False, required_space=None, dump_dir_mode="0700",
              backup=False, auto_reset_crashkernel=None)
MAKEDUMPFILE_V = ("makedumpfile: version 1.7.2 (released on 20 Oct 2022)\nlzo\tenabled\n"
                  "snappy\tdisabled\nzstd\tenabled\n")


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts)) as handle:
        return handle.read()


def text_of(value):
    if isinstance(value, dict):
        return fixture(*value["fixture"])
    return value


MEM_USAGE = "/usr/sbin/makedumpfile --mem-usage /proc/kcore"
# makedumpfile --mem-usage where no crash kernel is reserved (show_mem_usage() refuses).
NOT_RESERVED = [1, "", "show_mem_usage: No memory is reserved for crashkernel!\n"]


def work(tmp_path, case, as_root=True):
    """kdump_target's work on a host tree made from ``case``: ``(result, error, writes,
    runner, asked)``."""
    root = str(tmp_path)
    files = dict(case.get("files") or {})
    files["/etc/os-release"] = OS_RELEASE[case["os"]]
    files.setdefault("/proc/meminfo", "MemTotal: 1000000 kB\nMemFree: 500000 kB\n")
    for path, value in files.items():
        full = os.path.join(root, path.lstrip("/"))
        if not os.path.isdir(os.path.dirname(full)):
            os.makedirs(os.path.dirname(full))
        with open(full, "w") as handle:
            handle.write(text_of(value))
    answers = dict(case.get("commands") or {})
    answers.setdefault("/usr/sbin/makedumpfile -v", [0, MAKEDUMPFILE_V, ""])
    answers.setdefault(MEM_USAGE, NOT_RESERVED)
    asked = []

    def run_command(argv, environ_update=None):
        asked.append(" ".join(argv))
        assert " ".join(argv) in answers, "unexpected command %r" % (argv,)
        return tuple(answers[" ".join(argv)])

    tools = set(a.split()[0].rsplit("/", 1)[1] for a in answers)
    runner = CommandRunner(run_command, lambda n: "/usr/sbin/" + n if n in tools else None)
    params = dict(PARAMS, **case["params"])
    if params.get("ssh_host_key") == "HOSTKEY":
        params["ssh_host_key"] = HOST_KEY
    result, error, writes = TargetWork(Host(runner, root=root, uname=case.get("uname")),
                                       as_root=as_root).run(params)
    return result, error, writes, runner, asked


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_kdump_target(tmp_path, case):
    result, error, writes, runner, _asked = work(tmp_path, case)
    if "error" in case:
        assert error is not None and case["error"] in error, error
        assert writes is None
        return
    assert error is None, error
    for key, value in (case.get("result") or {}).items():
        assert result[key] == value, (key, result[key])
    for path, expected in (case.get("writes") or {}).items():
        text = writes.files[path]
        for piece in expected:
            if piece.startswith("!"):
                assert piece[1:] not in text, (path, piece)
            else:
                assert piece in text, (path, piece, text)
    # Nothing ran that changes the host: the module writes the files itself.
    assert runner.commands == []


DEBIAN_LOCAL = dict(name="debian local", os="debian", params={"type": "local"},
                    files={"/etc/default/kdump-tools": {"fixture": ["debian12", "kdump-tools"]},
                           "/proc/meminfo": {"fixture": ["memusage", "debian12-6.1.0-50-amd64-1.7.2.meminfo"]}})
# expected_bytes of the Debian 12 recording at dump level 31 (test__memusage.py works it out).
MEASURED_31 = 206116847


def meminfo_model(level):
    return expected_dump_bytes(parse_meminfo(fixture("memusage", "debian12-6.1.0-50-amd64-1.7.2.meminfo")),
                               level)


def test_the_measured_dump_size_is_used(tmp_path):
    case = dict(DEBIAN_LOCAL, commands={MEM_USAGE: [
        0, fixture("memusage", "debian12-6.1.0-50-amd64-1.7.2.mem-usage"), ""]})
    result, error, _writes, runner, asked = work(tmp_path, case)
    assert error is None, error
    assert asked.count(MEM_USAGE) == 1
    assert result["expected_dump_size"] == MEASURED_31
    assert result["expected_dump_source"] == "makedumpfile --mem-usage"
    assert "makedumpfile_warning" not in result and "warnings" not in result
    assert runner.commands == []


@pytest.mark.parametrize("answer", [NOT_RESERVED, [0, "Commandline parameter is invalid.\n", ""]])
def test_a_failed_measurement_falls_back_to_the_meminfo_model(tmp_path, answer):
    result, error, _writes, _runner, asked = work(tmp_path, dict(DEBIAN_LOCAL, commands={MEM_USAGE: answer}))
    assert error is None, error
    assert MEM_USAGE in asked
    assert result["expected_dump_size"] == meminfo_model(31)
    assert result["expected_dump_source"] == "/proc/meminfo model"


def test_no_measurement_without_root_or_with_required_space(tmp_path):
    case = dict(DEBIAN_LOCAL, commands={MEM_USAGE: [
        0, fixture("memusage", "debian12-6.1.0-50-amd64-1.7.2.mem-usage"), ""]})
    result, _error, _writes, _runner, asked = work(tmp_path / "user", case, as_root=False)
    assert MEM_USAGE not in asked
    assert (result["expected_dump_size"], result["expected_dump_source"]) == (
        meminfo_model(31), "/proc/meminfo model")
    given = dict(case, params={"type": "local", "required_space": "2G"})
    result, _error, _writes, _runner, asked = work(tmp_path / "given", given)
    assert MEM_USAGE not in asked
    assert (result["expected_dump_size"], result["expected_dump_source"]) == (2 << 30, "required_space")


def test_a_makedumpfile_blind_to_free_pages_is_warned_about(tmp_path):
    case = dict(DEBIAN_LOCAL, uname=("6.12.48+deb13-amd64", "x86_64"), commands={
        MEM_USAGE: [0, fixture("memusage", "derived-debian13-6.12-free0-from-debian12.mem-usage"), ""],
        # Only the version line, which is what is read.
        "/usr/sbin/makedumpfile -v": [0, "makedumpfile: version 1.7.6\n", ""]})
    result, error, _writes, _runner, _asked = work(tmp_path, case)
    assert error is None, error
    assert result["expected_dump_source"] == "makedumpfile --mem-usage"
    # The free pages that makedumpfile takes for kernel data are in the size it asks for.
    assert result["expected_dump_size"] > MEASURED_31 + 600 * (1 << 20)
    warning = result["makedumpfile_warning"]
    assert warning.startswith("makedumpfile 1.7.6 cannot find the free pages of kernel 6.12.48+deb13-amd64:")
    assert "about 657.3 MiB of free memory into every dump" in warning
    assert "makedumpfile 1.7.7 fixes this for kernel 6.12" in warning
    assert result["warnings"] == [warning]
