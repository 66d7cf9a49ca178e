# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The readiness watch installed for real on this machine through the role's watch.yml (as
present.yml and absent.yml include it): check mode changes nothing, the first run installs the
units, the program and its module_utils and writes kdump.prom, the second run changes nothing,
kdump_watch: false takes it all away. systemd does not run here (a container): the timer is
enabled for the next boot and the first check runs directly, as the module does there."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import stat

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_run import play
from test_fuzz_module_args import RAW, hostile

UNITS = ("/etc/systemd/system/crashdump-kdump-watch.service", "/etc/systemd/system/crashdump-kdump-watch.timer")
WANTS = "/etc/systemd/system/timers.target.wants/crashdump-kdump-watch.timer"
PROGRAM = "/usr/local/lib/crashdump-kdump/kdump-watch.py"
LIB = "/usr/local/lib/crashdump-kdump/watch"
STATE = "/var/lib/crashdump-kdump"


@pytest.fixture
def free_machine():
    """This machine has no watch and no collection state of its own (put back as it was)."""
    if os.geteuid() != 0 or not os.path.isdir("/etc/systemd/system"):
        pytest.skip("needs root and /etc/systemd/system")
    if any(os.path.lexists(path) for path in UNITS + (WANTS, PROGRAM, LIB, STATE)):
        pytest.skip("this machine has a readiness watch or collection state of its own")
    yield
    for path in UNITS + (WANTS, PROGRAM):
        if os.path.lexists(path):
            os.unlink(path)
    for path in (os.path.dirname(PROGRAM), STATE):
        shutil.rmtree(path, ignore_errors=True)


def role(watch, textfile_dir, check_mode=False, extra=None):
    task = {"ansible.builtin.include_role": {"name": "crashdump.kdump.kdump", "tasks_from": "watch"},
            "vars": dict({"kdump_watch": watch, "kdump_watch_textfile_dir": str(textfile_dir)}, **(extra or {}))}
    if check_mode:
        task["ansible.builtin.include_role"]["apply"] = {"check_mode": True}
    return task


def test_install_idempotence_and_removal(tmp_path, free_machine):
    textfile = tmp_path / "node-exporter"
    rc, results = play(tmp_path, [role(True, textfile, check_mode=True)])
    assert rc == 0, results
    assert results[-1]["changed"] is True and results[-1]["files"]
    assert not any(os.path.lexists(path) for path in UNITS + (WANTS, PROGRAM, LIB))

    rc, results = play(tmp_path, [role(True, textfile), role(True, textfile),
                                  role(True, textfile, check_mode=True)])
    assert rc == 0, results
    first, second, check = [r for r in results if "files" in r]
    assert first["changed"] is True
    assert second["changed"] is False and second["files"] == [] and second["commands"] == []
    assert check["changed"] is False
    assert [argv[1:] for argv in first["commands"] if argv[0].endswith("systemctl")] == [
        ["enable", "crashdump-kdump-watch.timer"]]
    assert os.path.islink(WANTS)
    timer = open(UNITS[1]).read()
    assert "OnUnitActiveSec=15min" in timer and "OnBootSec=2min" in timer
    assert "--textfile-dir %s " % textfile in open(UNITS[0]).read()
    assert os.path.isfile(os.path.join(LIB, "ansible_collections/crashdump/kdump/plugins/module_utils/capture/watch.py"))
    # The first check ran: the metrics and the JSON are there.
    prom = textfile / "kdump.prom"
    names = [family.name for family in text_string_to_metric_families(prom.read_text())]
    assert "kdump_ready" in names and "kdump_proof_stale" in names
    assert stat.S_IMODE(prom.stat().st_mode) == 0o644
    facts = json.loads(open(os.path.join(STATE, "watch.json")).read())
    assert facts["kernel_release"] == os.uname()[2] and isinstance(facts["reasons"], list)
    assert stat.S_IMODE(os.stat(os.path.join(STATE, "watch.json")).st_mode) == 0o600

    # Another interval rewrites the timer only; another directory moves kdump.prom.
    moved = tmp_path / "elsewhere"
    rc, results = play(tmp_path, [role(True, moved, extra={"kdump_watch_interval": 5})])
    assert rc == 0, results
    assert sorted(results[-1]["files"]) == sorted([str(prom)] + list(UNITS))
    assert "OnUnitActiveSec=5min" in open(UNITS[1]).read()
    assert not prom.exists() and (moved / "kdump.prom").exists()

    rc, results = play(tmp_path, [role(False, moved, check_mode=True)])
    assert rc == 0 and results[-1]["changed"] is True and os.path.exists(UNITS[1])
    rc, results = play(tmp_path, [role(False, moved), role(False, moved)])
    assert rc == 0, results
    removed, again = [r for r in results if "files" in r]
    assert removed["changed"] is True and again["changed"] is False
    assert not any(os.path.lexists(path) for path in UNITS + (WANTS, PROGRAM, LIB))
    assert not (moved / "kdump.prom").exists()
    assert not os.path.exists(os.path.dirname(PROGRAM)) and not os.path.exists(STATE)


def test_hostile_option_values(tmp_path):
    """Check mode, as tests/integration/test_fuzz_module_args.py does for the other modules."""
    options = {"state": {"type": "str", "choices": ["present", "absent"]}, "interval": {"type": "int"},
               "textfile_dir": {"type": "path"}, "python": {"type": "path"}}
    tasks, cases = [], []
    for option, spec in sorted(options.items()):
        for value in hostile(spec) + ([-1, 100000] if option == "interval" else []):
            tasks.append({"crashdump.kdump.kdump_watch": {option: value}, "check_mode": True,
                          "ignore_errors": True})
            cases.append((option, value))
    rc, results = play(tmp_path, tasks)
    assert len(results) == len(tasks)
    problems = []
    for (option, value), result in zip(cases, results):
        text = "%s %s %s" % (result.get("msg", ""), result.get("module_stderr", ""), result.get("exception", ""))
        if any(raw in text for raw in RAW) or (result["status"] == "fatal" and not text.strip()):
            problems.append("%s=%r: %s" % (option, repr(value)[:60], text[:300]))
        if option == "interval" and value in (-1, 100000):
            assert "interval: %d is not a number of minutes" % value in text
    assert problems == []
