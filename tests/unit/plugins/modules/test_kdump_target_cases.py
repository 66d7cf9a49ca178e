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


def text_of(value):
    if isinstance(value, dict):
        with open(os.path.join(FIXTURES, *value["fixture"])) as handle:
            return handle.read()
    return value


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_kdump_target(tmp_path, case):
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
    answers["/usr/sbin/makedumpfile -v"] = [0, MAKEDUMPFILE_V, ""]
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
    result, error, writes = TargetWork(Host(runner, root=root)).run(params)
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
