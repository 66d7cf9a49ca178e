# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""crash_test's refusals, run for real on this machine - which must never be crashed: it is
reached with the local connection (refused before anything runs), and it has no kdump (refused
as not ready even if that check were passed). The crashes themselves run on lab VMs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

from ansible_run import COLLECTION, play


def test_refused_without_confirmation(tmp_path):
    rc, results = play(tmp_path, [{"crashdump.kdump.crash_test": {}}])
    assert rc != 0
    result = results[0]
    assert result["failed_step"] == "confirm" and result["passed"] is False
    assert "crashes localhost on purpose" in result["msg"]
    assert "Set confirm: true to go ahead" in result["msg"]


def test_refused_over_a_local_connection(tmp_path):
    rc, results = play(tmp_path, [{"crashdump.kdump.crash_test": {"confirm": True}}])
    assert rc != 0
    assert "needs an SSH connection to localhost (it has local)" in results[0]["msg"]


def test_check_mode_crashes_nothing(tmp_path):
    rc, results = play(tmp_path, [{"crashdump.kdump.crash_test": {"confirm": True},
                                   "check_mode": True}])
    assert rc == 0
    assert results[0]["status"] == "skipping" and "is not crashed" in results[0]["msg"]


def test_verify_playbook_writes_its_report_even_when_refused(tmp_path):
    report = tmp_path / "report"
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
           "-i", os.path.join(COLLECTION, "tests/integration/inventory.ini"),
           os.path.join(COLLECTION, "playbooks/verify.yml"),
           "-e", "verify_hosts=localhost", "-e", "verify_keep_going=true",
           "-e", "verify_report_dir=%s" % report]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, env=env, check=False)
    assert out.returncode == 0, out.stdout
    rows = json.loads((report / "verify.json").read_text())
    assert [row["host"] for row in rows] == ["localhost"]
    assert rows[0]["passed"] is False and rows[0]["failed_step"] == "confirm"
    table = (report / "verify.md").read_text()
    assert "| host | passed | dump size | seconds to recover | dump | reason |" in table
    assert "| localhost | NO | - | - | - | confirm: " not in table   # the message has no step prefix
    assert "| localhost | NO | - | - | - | crash_test crashes localhost on purpose" in table
    assert "0 of 1" in out.stdout
