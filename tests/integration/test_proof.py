# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""kdump_proof and the proof fields of kdump_info, run for real on this machine: the record is
written root-only, check mode writes nothing, diff mode shows it, state=absent is idempotent, and
kdump_info says when a record no longer holds."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

import pytest

from ansible_run import play
from test_fuzz_module_args import RAW, hostile

PROOF = "/var/lib/crashdump-kdump/proof.json"
PROVEN = {"kernel": "{{ info.kernel_release }}", "dump_path": "/var/crash/202612031200/dump.202612031200",
          "format": "kdump", "size": 46011556, "dump_level": 31, "timings": {"trigger_to_back": 61.2}}
INFO = {"crashdump.kdump.kdump_info": {"dumps": 0}, "register": "info"}


def proof_task(path, **extra):
    args = {"path": str(path), "basis": "{{ info.proof_basis }}", "proven": PROVEN}
    args.update(extra.pop("args", {}))
    task = {"crashdump.kdump.kdump_proof": args}
    task.update(extra)
    return task


def test_check_mode_writes_nothing_and_diff_shows_the_record(tmp_path):
    path = tmp_path / "state" / "proof.json"
    rc, results = play(tmp_path, [INFO, proof_task(path, check_mode=True, diff=True, register="proof"),
                                  {"ansible.builtin.debug": {"var": "proof.diff"}}])
    assert rc == 0, results
    result, diff = results[1], results[2]["proof.diff"]
    assert result["changed"] is True and not path.exists() and not path.parent.exists()
    assert diff["before"] == ""
    assert json.loads(diff["after"]) == result["record"]
    assert result["record"]["kernel_release"] == os.uname()[2]


def test_the_record_is_root_only_and_absent_is_idempotent(tmp_path):
    path = tmp_path / "state" / "proof.json"
    rc, results = play(tmp_path, [INFO, proof_task(path), proof_task(path, args={"backup": True})])
    assert rc == 0, results
    first, second = results[1], results[2]
    assert first["changed"] is True and second["changed"] is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == second["record"]
    assert os.path.exists(second["backup_file"])
    record = second["record"]
    assert record["dump"]["path"] == PROVEN["dump_path"] and record["dump"]["dump_level"] == 31
    assert set(record["versions"]) >= {"kexec-tools", "makedumpfile"}
    absent = {"crashdump.kdump.kdump_proof": {"path": str(path), "state": "absent"}}
    rc, results = play(tmp_path, [dict(absent, check_mode=True), absent, absent])
    assert rc == 0, results
    assert [r["changed"] for r in results] == [True, True, False]
    assert not path.exists()


def test_a_proof_of_another_crash_is_refused(tmp_path):
    path = tmp_path / "proof.json"
    proven = dict(PROVEN, kernel="0.0.1-not-this-one")
    rc, results = play(tmp_path, [INFO, proof_task(path, args={"proven": proven})])
    assert rc != 0
    assert results[1]["msg"].startswith("proven: the dump is of kernel 0.0.1-not-this-one but the basis"
                                        " was taken on %s" % os.uname()[2])
    assert not path.exists()


@pytest.fixture
def default_record():
    """The default record path is free on this machine (removed afterwards, with its directory
    when the test made it)."""
    if os.path.exists(PROOF) or os.geteuid() != 0:
        pytest.skip("this machine has a proof record of its own (or the tests do not run as root)")
    made = not os.path.exists(os.path.dirname(PROOF))
    yield PROOF
    if os.path.exists(PROOF):
        os.unlink(PROOF)
    if made and os.path.isdir(os.path.dirname(PROOF)):
        os.rmdir(os.path.dirname(PROOF))


def test_kdump_info_reads_the_record_back_and_says_when_it_is_stale(tmp_path, default_record):
    rc, results = play(tmp_path, [INFO])
    assert rc == 0, results
    assert results[0]["proof"] is None and results[0]["proof_stale"] is None
    assert results[0]["proof_stale_reasons"] == []
    basis = results[0]["proof_basis"]
    assert basis["kernel_release"] == os.uname()[2] and "capture" in basis
    # A proof of this host as it is: it holds.
    rc, results = play(tmp_path, [INFO, proof_task(default_record), INFO])
    assert rc == 0, results
    again = results[2]
    assert again["proof"]["proven_at"] == results[1]["record"]["proven_at"]
    assert 0 <= again["proof"]["age_seconds"] < 300
    assert again["proof_stale"] is False and again["proof_stale_reasons"] == []
    # A proof taken when makedumpfile was another version: stale, saying which.
    stale = {"crashdump.kdump.kdump_proof": {
        "path": default_record, "proven": PROVEN,
        "basis": "{{ info.proof_basis | combine({'versions': info.proof_basis.versions"
                 " | combine({'makedumpfile': '0.0.1-old'})}) }}"}}
    rc, results = play(tmp_path, [INFO, stale, INFO])
    assert rc == 0, results
    assert results[2]["proof_stale"] is True
    now = results[2]["proof_basis"]["versions"]["makedumpfile"] or "not installed"
    assert results[2]["proof_stale_reasons"] == ["makedumpfile changed: 0.0.1-old -> %s" % now]


def test_hostile_option_values(tmp_path):
    """As tests/integration/test_fuzz_module_args.py does for the other modules."""
    base = {"path": str(tmp_path / "proof.json"), "proven": {"dump_path": "/x"}, "basis": {"x": 1}}
    options = {"state": {"type": "str", "choices": ["present", "absent"]}, "proven": {"type": "dict"},
               "basis": {"type": "dict"}, "path": {"type": "path"}, "backup": {"type": "bool"}}
    tasks, cases = [], []
    for option, spec in sorted(options.items()):
        for value in hostile(spec):
            tasks.append({"crashdump.kdump.kdump_proof": dict(base, **{option: value}),
                          "check_mode": True, "ignore_errors": True})
            cases.append((option, value))
    rc, results = play(tmp_path, tasks)
    assert len(results) == len(tasks)
    problems = []
    for (option, value), result in zip(cases, results):
        text = "%s %s %s" % (result.get("msg", ""), result.get("module_stderr", ""), result.get("exception", ""))
        if any(raw in text for raw in RAW) or (result["status"] == "fatal" and not text.strip()):
            problems.append("%s=%r: %s" % (option, repr(value)[:60], text[:300]))
    assert problems == []
