# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module options with a NUL byte fail with the module's own message naming the option,
before anything is read or changed (check mode, on this machine)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_run import play


@pytest.mark.parametrize("module, args, named", [
    ("crashkernel_info", {"kernel_path": "/boot/vm\x00linuz"}, "kernel_path"),
    ("kdump_target", {"state": "checked", "family": "debian", "path": "/var/cr\x00sh"}, "path"),
    ("kdump_target", {"state": "checked", "family": "debian", "cmdline_append": ["quiet", "a\x00b"]},
     "cmdline_append[1]"),
    ("kernel_cmdline", {"args": {"crashkernel": "256M\x00"}, "backend": "grub"}, "args.crashkernel"),
    ("kernel_cmdline", {"args": {"crash\x00kernel": "256M"}, "backend": "grub"}, "args.crash\\0kernel"),
    ("kexec_crash", {"state": "loaded", "method": "direct", "kernel": "/boot/vmlinuz\x00"}, "kernel"),
    ("vmcore_info", {"path": "/var/crash/dump\x00"}, "path"),
])
def test_a_nul_byte_is_refused_naming_the_option(tmp_path, module, args, named):
    rc, results = play(tmp_path, [{"crashdump.kdump." + module: args, "check_mode": True}])
    assert rc != 0 and results[0]["status"] == "fatal", results
    message = results[0]["msg"]
    assert "Traceback" not in message and "Module failed" not in message, message
    if message.startswith("Failed to log to syslog"):
        # ansible-core 2.20 and later log a module's arguments to syslog inside AnsibleModule,
        # before the module runs, and refuse the NUL byte there with a message of their own.
        return
    assert message.startswith(named + ": a NUL byte in the value"), message
    assert "embedded null byte" not in message
