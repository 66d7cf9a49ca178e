# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""kernel_cmdline on this machine: bad input fails cleanly, in check mode, changing nothing.

The module's real work (GRUB, reboots) is checked on the lab VM by the Molecule
scenario ``cmdline``; every task here runs in check mode so that the machine
running the tests never gets its boot configuration changed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_run import play


def task(**args):
    return {"crashdump.kdump.kernel_cmdline": args, "check_mode": True}


@pytest.mark.parametrize("args, fragment", [
    ({"args": {"crash kernel": "1G"}}, "no spaces"),
    ({"args": {"crashkernel": "1G 2G"}}, "would break"),
    ({"args": {"crashkernel": '256M"'}}, "would break"),
    ({"args": {"crashkernel": "$(reboot)"}}, "would break"),
    ({"args": {}}, "non-empty mapping"),
    ({"args": {"crashkernel": "256M"}, "kernels": "/boot/vmlinuz-does-not-exist"},
     "is not a kernel image on this host"),
    ({"args": {"crashkernel": "256M"}, "backend": "zipl"}, "backend zipl"),
    ({"args": {"crashkernel": "256M"}, "backend": "lilo"}, "value of backend must be one of"),
])
def test_bad_input_fails_cleanly(tmp_path, args, fragment):
    rc, results = play(tmp_path, [task(**args)])
    assert rc != 0
    assert results[0]["status"] == "fatal"
    assert fragment in results[0]["msg"], results[0]["msg"]
    assert "Traceback" not in results[0].get("module_stderr", "")
