# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet readiness report (playbook report.yml) on this machine, checked in a browser."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from ansible_run import COLLECTION, play

_SPEC = importlib.util.spec_from_file_location(
    "lab_browser", os.path.join(COLLECTION, "tests", "lab", "browser.py"))
BROWSER = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(BROWSER)
HOSTILE = "<script>document.title='owned'</script> & no dump"


def inventory(tmp_path):
    path = tmp_path / "inventory.ini"
    path.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n"
                    "gone.invalid ansible_host=127.0.0.1 ansible_port=1\n" % sys.executable)
    return str(path)


def verify_rows():
    passed = {"host": "localhost", "passed": True, "failed_step": None, "dump_host": None,
              "dump_path": "/var/crash/202611261200/dump.202611261200", "format": "kdump",
              "size": 46011556, "size_human": "43.9 MiB", "kernel": "6.1.0-41-amd64",
              "recover_seconds": 61.2, "reason": "", "tested_at": "2026-11-26T12:00:00Z",
              "timings": {"trigger_to_down": 3.1, "trigger_to_dump_complete": 34.7,
                          "trigger_to_back": 61.2}}
    failed = {"host": "gone.invalid", "passed": False, "failed_step": "dump", "dump_host": None,
              "dump_path": "-", "format": None, "size": None, "size_human": "-", "kernel": None,
              "recover_seconds": "-", "reason": HOSTILE, "tested_at": "2026-11-26T12:05:00Z",
              "timings": {}}
    return [passed, failed]


PROOF = "/var/lib/crashdump-kdump/proof.json"


@pytest.fixture(scope="module")
def proven(tmp_path_factory):
    """A proof record on this machine, as a passed crash test leaves one (kdump_proof with the
    basis kdump_info gives); removed afterwards. None when the machine has one of its own."""
    if os.path.exists(PROOF) or os.geteuid() != 0:
        yield None
        return
    made = not os.path.exists(os.path.dirname(PROOF))
    tmp_path = tmp_path_factory.mktemp("proof")
    rc, results = play(tmp_path, [
        {"crashdump.kdump.kdump_info": {"dumps": 0}, "register": "info"},
        {"crashdump.kdump.kdump_proof": {
            "basis": "{{ info.proof_basis }}",
            "proven": {"kernel": "{{ info.kernel_release }}", "dump_path": "/var/crash/202612031200/dump.202612031200",
                       "format": "kdump", "size": 46011556, "timings": {"trigger_to_back": 61.2}}}}])
    assert rc == 0, results
    yield results[1]["record"]
    os.unlink(PROOF)
    if made:
        os.rmdir(os.path.dirname(PROOF))


@pytest.fixture(scope="module")
def report(tmp_path_factory, proven):
    tmp_path = tmp_path_factory.mktemp("report")
    verify = tmp_path / "verify.json"
    verify.write_text(json.dumps(verify_rows()))
    out_dir = tmp_path / "out"
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
           "-i", inventory(tmp_path), os.path.join(COLLECTION, "playbooks/report.yml"),
           "-e", "report_dir=%s" % out_dir, "-e", "report_verify_json=%s" % verify]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, env=dict(os.environ, ANSIBLE_NOCOLOR="1"),
                         check=False)
    assert out.returncode == 0, out.stdout
    return {"dir": out_dir, "stdout": out.stdout, "proven": proven,
            "json": json.loads((out_dir / "report.json").read_text())}


def test_the_json_report(report):
    data = report["json"]
    hosts = dict((row["host"], row) for row in data["hosts"])
    assert sorted(hosts) == ["gone.invalid", "localhost"]
    summary = data["summary"]
    assert summary["hosts"] == 2
    assert summary["unreachable"] == ["gone.invalid"]
    assert summary["crash_tested"] == 2 and summary["crash_passed"] == 1
    assert summary["crash_failed"] == ["gone.invalid"]
    assert summary["slowest_recovery"] == {"host": "localhost", "seconds": 61.2}
    local = hosts["localhost"]
    assert local["reachable"] is True
    assert local["ram_bytes"] > 0 and local["kernel"] == os.uname()[2]
    assert local["recommended"].startswith("crashkernel=")
    assert local["crash_test"]["passed"] is True
    assert local["dump"]["source"] in ("target", "crash test")
    gone = hosts["gone.invalid"]
    assert gone["reachable"] is False and gone["ready"] is False
    assert "port 1" in gone["reasons"][0]
    assert "0 of 2 hosts ready, 1 of 2 crash tests passed" in " ".join(report["stdout"].split())
    assert gone["proof"] is None


def test_the_proof_in_the_json_report(report):
    if report["proven"] is None:
        pytest.skip("this machine has a proof record of its own (or the tests do not run as root)")
    data = report["json"]
    local = dict((row["host"], row) for row in data["hosts"])["localhost"]
    assert local["proof"]["stale"] is False and local["proof"]["stale_reasons"] == []
    assert local["proof"]["kernel"] == os.uname()[2] and local["proof"]["on_running_kernel"] is True
    assert local["proof"]["proven_at"] == report["proven"]["proven_at_iso"]
    assert local["proof"]["dump_size"] == 46011556
    assert 0 <= local["proof"]["age_seconds"] < 600
    assert data["summary"]["proven"] == 1 and data["summary"]["proof_stale"] == []
    assert data["summary"]["unproven"] == []
    assert "1 proven on their running kernel" in " ".join(report["stdout"].split())


def browser():
    exe = BROWSER.find_browser()
    if exe:
        return exe
    if os.environ.get("KDUMP_TEST_BROWSER_REQUIRED"):
        pytest.fail("no Chromium on this machine (%s); ./dev installs the Debian package chromium"
                    % ", ".join(BROWSER.BROWSERS))
    pytest.skip("no Chromium on this machine")


def test_the_page_in_a_browser(report):
    exe = browser()
    shot = str(report["dir"] / "report.png")
    cells, dom = BROWSER.look(exe, str(report["dir"] / "report.html"), shot)
    assert BROWSER.png_size(shot) == BROWSER.WINDOW
    assert os.path.getsize(shot) > 20000     # a rendered page, not a blank one
    local, gone = cells.cells["localhost"], cells.cells["gone.invalid"]
    assert local["host"] == "localhost"
    assert local["crash-test"] == "passed, back in 61.2 s"
    assert local["kernel"] == os.uname()[2]
    assert local["recommended"].endswith("MiB")
    assert gone["ready"] == "no" and gone["crash-test"] == "failed"
    assert cells.summary["crash-tests"].startswith("1 / 2")
    assert cells.summary["ready"].split(" hosts")[0].endswith("/ 2")
    assert gone["proof"] == "none"
    if report["proven"] is not None:
        assert cells.summary["proven"] == "1 / 2 hosts proven on their running kernel"
        assert local["proof"].startswith("holds, ") and local["proof"].endswith(" min old")
        assert "proven at %s" % report["proven"]["proven_at_iso"] in dom
    # A failure message is text, never markup: no script ran and none was added.
    assert "script" not in cells.tags
    assert "owned" not in dom.split("<title>")[1].split("</title>")[0]
    assert "&lt;script&gt;document.title" in dom


def test_the_lab_check_fails_a_fleet_that_is_not_all_green(report, capsys):
    browser()
    assert BROWSER.main([str(report["dir"]), "--expect-all-passed"]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM: gone.invalid is not ready" in out
    assert "PROBLEM: gone.invalid did not pass its crash test: <script>" in out
    assert "PROBLEM: localhost is not ready" in out      # kdump is not set up on this machine
    assert BROWSER.main([str(report["dir"])]) == 0
