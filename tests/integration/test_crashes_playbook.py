# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet's crashes (playbook crashes.yml) on this machine: synthetic dumps (built by the unit
tests' vmcore_builder) of two hosts and a dump server, all inventory aliases of this machine with
their own directories; crashes.json, the page in a browser, and what crashes_prune removes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from ansible_run import COLLECTION

_DIR = os.path.join(COLLECTION, "tests", "unit", "plugins", "module_utils")
_SPEC = importlib.util.spec_from_file_location("vmcore_builder", os.path.join(_DIR, "vmcore_builder.py"))
build = importlib.util.module_from_spec(_SPEC)
sys.modules.setdefault("vmcore_builder", build)
_SPEC.loader.exec_module(build)
_SPEC = importlib.util.spec_from_file_location(
    "lab_browser", os.path.join(COLLECTION, "tests", "lab", "browser.py"))
BROWSER = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(BROWSER)

HOSTILE = "<script>document.title='owned'</script> & more"
SYSRQ = build.SYSRQ_CRASH_LOG


def null_log(pid, address, extra=""):
    """The same NULL pointer bug, as two hosts log it (other PID, address, offsets)."""
    return "".join("[  %d.%06d] %s\n" % (100 + n, n, line) for n, line in enumerate([
        "BUG: kernel NULL pointer dereference, address: %016x" % address,
        "#PF: supervisor read access in kernel mode",
        "Oops: 0000 [#1] PREEMPT SMP NOPTI",
        "CPU: %d PID: %d Comm: modprobe Not tainted 6.1.0-18-amd64 #1 Debian 6.1.76-1" % (pid % 4, pid),
        "RIP: 0010:nullb_probe+0x%x/0x90 [nullb]" % (0x20 + pid % 8),
        "Call Trace:",
        " <TASK>",
        " really_probe+0xdb/0x380",
        " driver_probe_device+0x1e/0x90",
        " </TASK>",
        extra or "Modules linked in: nullb",
        "Kernel panic - not syncing: Fatal exception",
    ]))


def hung_log():
    return "".join("[  %d.000000] %s\n" % (300 + n, line) for n, line in enumerate([
        "INFO: task jbd2/sda1-8:311 blocked for more than 120 seconds.",
        "      Not tainted 5.14.0-427.el9.x86_64 #1",
        "Call Trace:",
        " <TASK>",
        " __schedule+0x21b/0x550",
        " schedule+0x2d/0x70",
        " jbd2_journal_commit_transaction+0x29a/0x1a10 [jbd2]",
        " kjournald2+0xaf/0x280 [jbd2]",
        " </TASK>",
        "Kernel panic - not syncing: hung_task: blocked tasks",
    ]))


T0 = 1795684400


def write_dump(directory, name, minutes, log=None, elf=False):
    """A kdump-compressed dump of a crash at T0 + minutes, in directory/name/, with the kernel log
    beside it (``log``) or only in the dump (sysrq-c)."""
    path = directory / name
    path.mkdir(parents=True)
    kernel, _ring = build.static_ring_kernel(SYSRQ)
    info = kernel.vmcoreinfo(symbols=kernel.symbols).replace("CRASHTIME=%d" % T0, "CRASHTIME=%d" % (T0 + 60 * minutes))
    if elf:     # kdumpctl: ADDRESS-DATE/vmcore and vmcore-dmesg.txt
        dump = path / "vmcore"
        dump.write_bytes(build.elf(kernel, info))
        (path / "vmcore-dmesg.txt").write_text(log)
    else:       # kdump-tools: TIMESTAMP/dump.TIMESTAMP and dmesg.TIMESTAMP
        dump = path / ("dump.%s" % name.rsplit("-", 1)[-1])
        dump.write_bytes(build.flatten(build.kdump(kernel, info)))
        if log is not None:
            (path / ("dmesg.%s" % name.rsplit("-", 1)[-1])).write_text(log)
    os.utime(str(dump), (T0 + 60 * minutes + 30,) * 2)
    return str(dump)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleet")
    a, b, srv = root / "a", root / "b", root / "srv"
    dumps = {
        "a_null": write_dump(a, "202612011200", 10, null_log(812, 8)),
        "a_test_old": write_dump(a, "202612011300", 20),
        "a_test_new": write_dump(a, "202612011400", 30),
        "b_null": write_dump(b, "202612011500", 40, null_log(1977, 0x10, HOSTILE)),
        "srv_a_null": write_dump(srv / "host-a", "10.0.0.1-202612011100", 5, null_log(77, 0x18)),
        "srv_c_test": write_dump(srv / "host-c", "host-c-202612011600", 50),
        # On the server's NFS export, below the path kdumpctl was given: whose it is, the directory's
        # name says (host-b's address).
        "nfs_b_hung": write_dump(root / "nfs" / "var" / "crash", "10.0.0.2-2026-12-01-09:00:00", 1, hung_log(),
                                 elf=True),
    }
    (srv / "host-a" / "README.txt").write_text("a note the client left\n")
    inventory = root / "inventory.ini"
    local = "ansible_connection=local ansible_python_interpreter=%s" % sys.executable
    inventory.write_text(
        "[kdump_hosts]\n"
        "host-a %s crashes_dump_dir=%s kdump_dump_host=missing-server\n"
        "host-b %s crashes_dump_dir=%s kdump_dump_server=server1 ansible_host=10.0.0.2\n"
        "gone.invalid ansible_host=127.0.0.1 ansible_port=1\n"
        "[dump_servers]\n"
        "server1 %s crashes_server_dir=%s crashes_server_nfs_dir=%s\n"
        % (local, a, local, b, local, srv, root / "nfs" / "var" / "crash"))
    return {"root": root, "inventory": str(inventory), "dumps": dumps}


def run(fleet, out_dir, *extra):
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
           "-i", fleet["inventory"], os.path.join(COLLECTION, "playbooks/crashes.yml"),
           "-e", "crashes_report_dir=%s" % out_dir] + list(extra)
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, env=dict(os.environ, ANSIBLE_NOCOLOR="1"), check=False)
    assert out.returncode == 0, out.stdout
    return {"dir": out_dir, "stdout": out.stdout, "json": json.loads((out_dir / "crashes.json").read_text())}


@pytest.fixture(scope="module")
def report(fleet):
    return run(fleet, fleet["root"] / "report")


def ids(fleet, *names, **hosts):
    return sorted("%s:%s" % (hosts.get(name) or ("server1" if name.startswith("srv") else "host-" + name[0]),
                             fleet["dumps"][name]) for name in names)


def test_every_dump_is_listed_newest_first(fleet, report):
    data = report["json"]
    rows = data["dumps"]
    assert [row["path"] for row in rows] == [fleet["dumps"][name] for name in (
        "srv_c_test", "b_null", "a_test_new", "a_test_old", "a_null", "srv_a_null", "nfs_b_hung")]
    assert [row["time"] for row in rows] == [T0 + 60 * n for n in (50, 40, 30, 20, 10, 5, 1)]
    assert [row["host"] for row in rows] == ["host-c", "host-b", "host-a", "host-a", "host-a", "host-a", "host-b"]
    assert [row["dump_host"] for row in rows] == ["server1", "host-b", "host-a", "host-a", "host-a", "server1",
                                                  "server1"]
    assert [row["source"] for row in rows] == ["clients", "local", "local", "local", "local", "clients", "named"]
    assert rows[-1]["format"] == "elf" and rows[-1]["signature"]["title"].startswith("INFO: task blocked")
    assert all(row["valid"] and row["kernel"] == "6.1.0-18-amd64" for row in rows)
    assert rows[1]["panic"].endswith("Kernel panic - not syncing: Fatal exception")
    assert rows[1]["dmesg_source"] == "file" and rows[2]["dmesg_source"] == "dump"
    assert HOSTILE in "\n".join(rows[1]["log"])
    assert data["summary"]["dumps"] == 7 and data["summary"]["hosts"] == 3
    assert data["prune"] is False and data["check_mode"] is False and data["removed"] == []
    errors = dict((item["host"], item) for item in data["errors"])
    assert sorted(errors) == ["gone.invalid", "missing-server"]
    assert "port 1" in errors["gone.invalid"]["error"]
    assert errors["missing-server"] == {"host": "missing-server", "directory": "-",
                                        "error": "a host names it as its dump server, but it is not in the inventory"}


def test_signatures_group_the_same_bug_across_hosts(fleet, report):
    groups = report["json"]["signatures"]
    assert [(group["count"], group["test"]) for group in groups] == [(3, True), (3, False), (1, False)]
    test, null, hung = groups
    assert hung["hosts"] == ["host-b"] and hung["marked"] == 0
    assert null["hosts"] == ["host-a", "host-b"] and test["hosts"] == ["host-a", "host-c"]
    assert null["title"].startswith("BUG: kernel NULL pointer dereference, address: X in nullb_probe [nullb]")
    assert (null["first_seen"], null["last_seen"]) == (T0 + 300, T0 + 2400)
    assert test["title"] == "Kernel panic - not syncing: sysrq triggered crash"
    assert report["json"]["summary"]["test_crashes"] == 3


def test_test_crashes_and_duplicates_are_marked_never_the_newest(fleet, report):
    data = report["json"]
    marked = dict((item["id"], item) for item in data["marked"])
    assert sorted(marked) == ids(fleet, "a_test_old", "a_test_new", "a_null", "srv_a_null")
    assert marked[ids(fleet, "a_null")[0]]["kept_for"] == ids(fleet, "b_null")[0]
    assert marked[ids(fleet, "a_test_new")[0]]["reason"].startswith("test crash")
    assert marked[ids(fleet, "a_null")[0]]["remove"] == os.path.dirname(fleet["dumps"]["a_null"])
    assert all(os.path.exists(path) for path in fleet["dumps"].values())      # nothing removed yet
    assert "4 marked for removal" in " ".join(report["stdout"].split())


def browser():
    exe = BROWSER.find_browser()
    if exe:
        return exe
    if os.environ.get("KDUMP_TEST_BROWSER_REQUIRED"):
        pytest.fail("no Chromium on this machine (%s); ./dev installs the Debian package chromium"
                    % ", ".join(BROWSER.BROWSERS))
    pytest.skip("no Chromium on this machine")


def test_the_page_in_a_browser(fleet, report):
    exe = browser()
    shot = str(report["dir"] / "crashes.png")
    cells, dom = BROWSER.look(exe, str(report["dir"] / "crashes.html"), shot)
    assert BROWSER.png_size(shot) == BROWSER.WINDOW
    assert os.path.getsize(shot) > 20000
    assert cells.summary["dumps"] == "7 dumps"
    assert cells.summary["signatures"] == "3 crash signatures"
    assert cells.summary["marked"].startswith("4 marked for removal")
    assert cells.summary["removed"].startswith("0 removed")
    groups = report["json"]["signatures"]
    null = cells.cells["signature-" + groups[1]["hash"]]
    assert null["count"] == "3" and null["hosts"] == "host-a, host-b" and null["test"] == "no"
    assert cells.cells["signature-" + groups[0]["hash"]]["test"] == "yes"
    newest = cells.cells[ids(fleet, "b_null")[0]]
    assert newest["host"] == "host-b" and newest["valid"] == "yes" and newest["removal"] == "kept"
    assert newest["panic"].endswith("Kernel panic - not syncing: Fatal exception")
    old = cells.cells[ids(fleet, "a_test_old")[0]]
    assert old["removal"].startswith("marked: test crash") and old["signature"].endswith("test")
    # Log text is text, never markup: no script ran and none was added.
    assert "script" not in cells.tags
    assert "owned" not in dom.split("<title>")[1].split("</title>")[0]
    assert "&lt;script&gt;document.title" in dom
    assert "gone.invalid /var/crash: " in dom and "missing-server -: a host names it" in dom


def test_prune_removes_only_the_marked_dumps(fleet, report):
    pruned = run(fleet, fleet["root"] / "pruned", "-e", "crashes_prune=true")
    data = pruned["json"]
    gone = ("a_test_old", "a_test_new", "a_null", "srv_a_null")
    assert data["prune"] is True
    assert sorted(item["id"] for item in data["removed"]) == ids(fleet, *gone)
    assert data["remove_failed"] == []
    for name, path in fleet["dumps"].items():
        assert os.path.exists(path) is (name not in gone), name
        if name in gone:
            assert not os.path.exists(os.path.dirname(path))    # the dump's directory, with its dmesg
    # The newest of each signature stays, and the client directories on the server with it.
    assert os.path.isdir(str(fleet["root"] / "srv" / "host-a"))
    assert (fleet["root"] / "srv" / "host-a" / "README.txt").exists()
    out = " ".join(pruned["stdout"].split())
    assert "removed host-a:%s (test crash" % os.path.dirname(fleet["dumps"]["a_test_old"]) in out
    assert "4 removed" in out
    again = run(fleet, fleet["root"] / "again", "-e", "crashes_prune=true")["json"]
    assert again["summary"]["dumps"] == 3 and again["marked"] == [] and again["removed"] == []
