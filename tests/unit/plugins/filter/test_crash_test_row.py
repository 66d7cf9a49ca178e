# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.crashdump.kdump.plugins.filter.crash_test import crash_test_row


def test_a_passed_host():
    row = crash_test_row(["web1", {"passed": True, "size": 46011556, "dump_path": "/var/crash/1/dump.1",
                                   "timings": {"trigger_to_back": 61.2}, "format": "kdump",
                                   "triggered_at": 1764158400}])
    assert row["passed"] is True and row["reason"] == ""
    assert row["tested_at"] == "2025-11-26T12:00:00Z"
    assert row["size_human"] == "43.9 MiB" and row["recover_seconds"] == 61.2


def test_a_failed_host_keeps_the_table_intact():
    row = crash_test_row(["web2", {"passed": False, "failed": True, "failed_step": "dump",
                                   "msg": "dump: no new dump | arrived\nsee journal"}])
    assert row["passed"] is False and row["failed_step"] == "dump"
    assert row["reason"] == "dump: no new dump / arrived see journal"
    assert row["size_human"] == "-" and row["dump_path"] == "-" and row["recover_seconds"] == "-"
    assert row["tested_at"] is None


def test_bad_input():
    with pytest.raises(AnsibleFilterError, match="expected \\[host, crash_test result\\]"):
        crash_test_row("web1")
