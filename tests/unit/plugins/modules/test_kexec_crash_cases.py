# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kexec_crash's work for each family, driven by kexec_crash.yml: a host tree, the commands
that must run in order (with their answers and effects), and the result. The Fedora/RHEL and
SUSE rebuild and load branches run here, which no lab boot can reach."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml
from family_os_release import OS_RELEASE

from ansible_collections.crashdump.kdump.plugins.module_utils.capture.service import Host, KexecCrash
from ansible_collections.crashdump.kdump.plugins.module_utils.runner.command import CommandRunner

HERE = os.path.dirname(__file__)
RELEASE = "6.1.0-41-amd64"
with open(os.path.join(HERE, "kexec_crash.yml")) as _handle:
    CASES = yaml.safe_load(_handle)
TOOLS = {"kdump-config": "/usr/sbin", "kdumpctl": "/usr/bin", "mkdumprd": "/usr/sbin",
         "systemctl": "/usr/bin", "kexec": "/usr/sbin", "systemd-run": "/usr/bin"}
BASE_FILES = {
    "/proc/cmdline": "BOOT_IMAGE=/boot/vmlinuz-@R@ root=/dev/vda1 ro crashkernel=256M\n",
    "/sys/kernel/kexec_crash_size": "268435456\n",
    "/sys/kernel/kexec_crash_loaded": "0\n",
    "/boot/vmlinuz-@R@": "kernel",
}


class Commands(object):
    """run_command: each call must be the next expected command; its writes land in root."""

    def __init__(self, root, expected, queries):
        self.root = root
        self.expected = list(expected)
        self.queries = queries or {}

    def __call__(self, argv, environ_update=None):
        assert environ_update == {"LC_ALL": "C", "LANG": "C"}
        key = " ".join(argv)
        if key in self.queries:
            return tuple(self.queries[key])
        assert self.expected, "unexpected command %r" % (argv,)
        step = self.expected.pop(0)
        assert argv == [fill(a) for a in step["argv"]]
        for path, text in (step.get("writes") or {}).items():
            write(self.root, fill(path), text)
        return step.get("rc", 0), step.get("out", ""), step.get("err", "")


def fill(text):
    return text.replace("@R@", RELEASE)


def write(root, path, text):
    full = os.path.join(root, path.lstrip("/"))
    if not os.path.isdir(os.path.dirname(full)):
        os.makedirs(os.path.dirname(full))
    with open(full, "w") as handle:
        handle.write(text)


PARAMS = dict(state="loaded", method="service", family="auto", kernel=None, initrd=None,
              cmdline=None, kexec_args=[], syscall="auto", rebuild="auto", enabled=None)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_kexec_crash(tmp_path, case):
    root = str(tmp_path)
    files = dict(BASE_FILES)
    files["/etc/os-release"] = OS_RELEASE[case["os"]]
    files.update(case.get("files") or {})
    for path, text in files.items():
        write(root, fill(path), fill(text))
    commands = Commands(root, case["commands"], case.get("queries"))
    runner = CommandRunner(commands, lambda name: os.path.join(TOOLS[name], name) if name in TOOLS else None)
    host = Host(runner, root=root, check_mode=case.get("check_mode", False),
                uname=(RELEASE, case.get("arch", "x86_64")))
    result, error = KexecCrash(host).run_params(dict(PARAMS, **case["params"]))
    if "error" in case:
        assert error is not None and fill(case["error"]) in error, error
    else:
        assert error is None, error
    assert commands.expected == [], "not run: %r" % commands.expected
    for key, value in (case.get("result") or {}).items():
        assert result[key] == value, (key, result[key])
    assert result["commands"] == [[fill(a) for a in c["argv"]] for c in case["commands"]
                                  if not case.get("check_mode")][:len(result["commands"])]
    # What the host holds afterwards: files that start with a text, files that are gone.
    for path, start in (case.get("after") or {}).items():
        full = os.path.join(root, fill(path).lstrip("/"))
        if start is None:
            assert not os.path.exists(full), path
        else:
            with open(full) as handle:
                assert handle.read().startswith(fill(start)), path


def test_arm64_with_the_kallsyms_copy_is_idempotent(tmp_path):
    """The second run after a load with the copy changes nothing (the record says it was used)."""
    case = [c for c in CASES if c["name"].startswith("debian arm64 without _text loads")][0]
    root = str(tmp_path)
    files = dict(BASE_FILES)
    files["/etc/os-release"] = OS_RELEASE[case["os"]]
    files.update(case["files"])
    for path, text in files.items():
        write(root, fill(path), fill(text))
    for expected in (case["commands"], []):
        commands = Commands(root, expected, None)
        runner = CommandRunner(commands, lambda name: os.path.join(TOOLS[name], name) if name in TOOLS else None)
        host = Host(runner, root=root, uname=(RELEASE, "aarch64"))
        result, error = KexecCrash(host).run_params(dict(PARAMS))
        assert error is None, error
        assert commands.expected == []
    assert result["changed"] is False and result["actions"] == [], result
    assert result["fingerprint"]["kallsyms_text"] == "provided"
