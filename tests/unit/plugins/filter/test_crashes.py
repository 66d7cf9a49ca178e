# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet's crashes filter: grouping by signature, newest first, what is marked and what goes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.crashdump.kdump.plugins.filter.crashes import FilterModule, crashes, owner_and_base

T0 = 1764763200        # 2025-12-03T12:00:00Z
NULL = {"hash": "a1" * 8, "title": "BUG: kernel NULL pointer dereference, address: X in nullb_probe [nullb]",
        "frames": ["nullb_probe [nullb]", "really_probe"], "test": False}
SYSRQ = {"hash": "5c" * 8, "title": "Kernel panic - not syncing: sysrq triggered crash",
         "frames": ["sysrq_handle_crash", "write_sysrq_trigger"], "test": True}
HUNG = {"hash": "77" * 8, "title": "INFO: task blocked for more than N seconds", "frames": ["jbd2_journal_commit_transaction"],
        "test": False}


def dump(path, minutes, signature="null", valid=True, **extra):
    signature = NULL if signature == "null" else signature
    out = {"path": path, "mtime": T0 + minutes * 60 + 5, "crash_time": T0 + minutes * 60, "size": 46011556,
           "kernel": "6.1.0-41-amd64", "format": "kdump", "valid": valid, "reasons": [] if valid else ["truncated"],
           "dmesg_tail": ["[ 80.1] Kernel panic - not syncing: x"], "dmesg_panic": "[ 80.1] Kernel panic - not syncing: x",
           "dmesg_source": "file", "signature": signature}
    out.update(extra)
    return out


def local(host, *dumps, **extra):
    return dict({"host": host, "layout": "local", "directory": "/var/crash", "dumps": list(dumps)}, **extra)


def by_path(report):
    return dict((row["dump_host"] + ":" + row["path"], row) for row in report["dumps"])


def marked(report):
    return sorted(item["id"] for item in report["marked"])


def test_dumps_are_grouped_by_signature_across_the_fleet():
    report = crashes([
        local("web1", dump("/var/crash/202512031210/dump.202512031210", 10),
              dump("/var/crash/202512031230/dump.202512031230", 30, SYSRQ)),
        local("web2", dump("/var/crash/202512031220/dump.202512031220", 20)),
        {"host": "dumps1", "layout": "clients", "directory": "/srv/kdump",
         "dumps": [dump("/srv/kdump/db1/10.0.0.5-202512031240/dump.202512031240", 40)]},
    ])
    groups = dict((group["hash"], group) for group in report["signatures"])
    assert sorted(groups) == sorted([NULL["hash"], SYSRQ["hash"]])
    null = groups[NULL["hash"]]
    assert null["count"] == 3 and null["hosts"] == ["db1", "web1", "web2"]
    assert (null["first_seen"], null["last_seen"]) == (T0 + 600, T0 + 2400)
    assert null["first_seen_iso"] == "2025-12-03T12:10:00Z" and null["last_seen_iso"] == "2025-12-03T12:40:00Z"
    assert null["test"] is False and groups[SYSRQ["hash"]]["test"] is True
    assert null["newest"] == "dumps1:/srv/kdump/db1/10.0.0.5-202512031240/dump.202512031240"
    assert report["summary"]["hosts"] == 3 and report["summary"]["dumps"] == 4
    assert report["summary"]["test_crashes"] == 1


def test_dumps_are_newest_first_and_signatures_by_last_seen():
    report = crashes([
        local("web1", dump("/var/crash/1/dump.1", 5, HUNG), dump("/var/crash/3/dump.3", 50, SYSRQ)),
        local("web2", dump("/var/crash/2/dump.2", 30), dump("/var/crash/4/vmcore", 1, None)),
    ])
    assert [row["time"] for row in report["dumps"]] == [T0 + 3000, T0 + 1800, T0 + 300, T0 + 60]
    assert [group["hash"] for group in report["signatures"]] == [SYSRQ["hash"], NULL["hash"], HUNG["hash"]]


def test_without_a_crash_time_the_file_time_counts():
    report = crashes([local("web1", dump("/var/crash/1/dump.1", 5, crash_time=None),
                            dump("/var/crash/2/dump.2", 3))])
    first = report["dumps"][0]
    assert first["path"] == "/var/crash/1/dump.1" and first["time"] == T0 + 305 and first["time_source"] == "mtime"
    assert report["dumps"][1]["time_source"] == "crash"


def test_the_newest_of_a_signature_stays_and_duplicates_are_marked():
    report = crashes([
        local("web1", dump("/var/crash/a/dump.a", 10), dump("/var/crash/c/dump.c", 30)),
        local("web2", dump("/var/crash/b/dump.b", 20), dump("/var/crash/d/dump.d", 5, HUNG)),
    ])
    rows = by_path(report)
    assert rows["web1:/var/crash/c/dump.c"]["mark"] is False
    assert marked(report) == ["web1:/var/crash/a/dump.a", "web2:/var/crash/b/dump.b"]
    assert rows["web1:/var/crash/a/dump.a"]["kept_for"] == "web1:/var/crash/c/dump.c"
    assert rows["web1:/var/crash/a/dump.a"]["mark_reason"].startswith("duplicate; 1 newer dump of")
    assert rows["web2:/var/crash/d/dump.d"]["mark"] is False          # the only one of its signature
    assert report["summary"]["marked"] == 2 and report["summary"]["marked_bytes"] == 2 * 46011556


@pytest.mark.parametrize("keep, expected", [
    (1, ["web1:/var/crash/1/dump.1", "web1:/var/crash/2/dump.2", "web1:/var/crash/3/dump.3"]),
    (2, ["web1:/var/crash/1/dump.1", "web1:/var/crash/2/dump.2"]),
    (4, []),
])
def test_keep_more_than_one_of_a_real_crash(keep, expected):
    report = crashes([local("web1", *[dump("/var/crash/%d/dump.%d" % (n, n), n) for n in range(1, 5)])], keep)
    assert marked(report) == expected


def test_test_crashes_keep_only_the_newest_whatever_keep_says():
    report = crashes([local("web1", *[dump("/var/crash/%d/dump.%d" % (n, n), n, SYSRQ) for n in range(1, 4)])], 3)
    assert marked(report) == ["web1:/var/crash/1/dump.1", "web1:/var/crash/2/dump.2"]
    assert all(item["reason"].startswith("test crash") for item in report["marked"])
    assert by_path(report)["web1:/var/crash/3/dump.3"]["mark"] is False


def test_a_truncated_newest_dump_does_not_push_out_the_last_good_one():
    report = crashes([local("web1", dump("/var/crash/1/dump.1", 1), dump("/var/crash/2/dump.2", 2),
                            dump("/var/crash/3/dump.3", 3, valid=False))])
    # The newest (invalid) stays, the newest valid one stays, the older valid one goes.
    assert marked(report) == ["web1:/var/crash/1/dump.1"]
    assert report["marked"][0]["kept_for"] == "web1:/var/crash/2/dump.2"


def test_an_invalid_older_dump_stays_while_no_valid_one_is_kept():
    report = crashes([local("web1", dump("/var/crash/1/dump.1", 1, valid=False),
                            dump("/var/crash/2/dump.2", 2, valid=False))])
    assert marked(report) == []


def test_dumps_without_a_signature_or_still_incomplete_stay():
    report = crashes([local("web1", dump("/var/crash/1/vmcore", 1, None), dump("/var/crash/2/vmcore", 2, None),
                            dump("/var/crash/3/dump-incomplete", 3, valid=False), dump("/var/crash/0/dump.0", 0),
                            dump("/var/crash/4/dump.4", 4))])
    assert marked(report) == ["web1:/var/crash/0/dump.0"]
    assert report["summary"]["unsigned"] == 2 and report["summary"]["invalid"] == 1


def test_what_goes_is_the_dumps_directory_or_the_file():
    report = crashes([
        local("web1", dump("/var/crash/1/dump.1", 1), dump("/var/crash/vmcore", 2), dump("/var/crash/9/dump.9", 9)),
        local("web2", dump("/var/crash/5/vmcore.1", 1), dump("/var/crash/5/vmcore.2", 9, HUNG),
              dump("/var/crash/6/vmcore", 0, HUNG)),
        {"host": "dumps1", "layout": "clients", "directory": "/srv/kdump",
         "dumps": [dump("/srv/kdump/db1/dump.7", 0, SYSRQ), dump("/srv/kdump/db1/8/dump.8", 8, SYSRQ)]},
    ])
    removes = dict((item["id"], item["remove"]) for item in report["marked"])
    assert removes == {
        "web1:/var/crash/1/dump.1": "/var/crash/1",                 # kdump-tools: the whole TIMESTAMP/
        "web1:/var/crash/vmcore": "/var/crash/vmcore",              # directly in the target: the file
        "web2:/var/crash/5/vmcore.1": "/var/crash/5/vmcore.1",      # its directory holds a dump that stays
        "web2:/var/crash/6/vmcore": "/var/crash/6",
        "dumps1:/srv/kdump/db1/dump.7": "/srv/kdump/db1/dump.7",    # never the client's directory
    }


@pytest.mark.parametrize("layout, path, owner, base", [
    ("clients", "/srv/kdump/web1/10.0.0.1-202512031200/dump.202512031200", "web1", "/srv/kdump/web1"),
    ("clients", "/srv/kdump/vmcore", None, "/srv/kdump"),
    ("named", "/srv/kdump-nfs/10.0.0.7-2025-12-03-12:00:01/vmcore", "web7", "/srv/kdump-nfs"),
    ("named", "/srv/kdump-nfs/var/crash/db2-202512031200/dump.202512031200", "db2", "/srv/kdump-nfs/var/crash"),
    ("named", "/srv/kdump-nfs/crash/vmcore", None, "/srv/kdump-nfs"),
    ("local", "/var/crash/202512031200/dump.202512031200", "web9", "/var/crash"),
])
def test_whose_dump_it_is(layout, path, owner, base):
    root = {"clients": "/srv/kdump", "named": "/srv/kdump-nfs", "local": "/var/crash"}[layout]
    source = {"host": "web9", "layout": layout, "directory": root, "aliases": {"10.0.0.7": "web7"}}
    assert owner_and_base(source, path) == (owner, base)


def test_a_dump_server_that_is_also_listed_as_a_client_counts_its_dumps_once():
    one = dump("/srv/kdump/web1/1/dump.1", 1)
    report = crashes([{"host": "dumps1", "layout": "clients", "directory": "/srv/kdump", "dumps": [one]},
                      {"host": "dumps1", "layout": "clients", "directory": "/srv/kdump/", "dumps": [one]}])
    assert report["summary"]["dumps"] == 1


def test_listing_errors_are_reported():
    report = crashes([local("web1", error="kdump_info failed"), local("web2")])
    assert report["errors"] == [{"host": "web1", "directory": "/var/crash", "error": "kdump_info failed"}]
    assert report["dumps"] == [] and report["signatures"] == []


@pytest.mark.parametrize("sources, keep, message", [
    ("web1", 1, "expected a list of sources"),
    ([{"host": "web1", "directory": "var/crash", "dumps": []}], 1, "directory (an absolute path)"),
    ([{"host": "web1", "directory": "/var/crash", "layout": "nfs", "dumps": []}], 1, "layout (one of"),
    ([local("web1", dump("/etc/passwd", 1))], 1, "is not below the listed directory /var/crash"),
    ([local("web1", dump("/var/crash/../../etc/x", 1))], 1, "is not below the listed directory"),
    ([local("web1", dump("relative/dump.1", 1))], 1, "without an absolute path"),
    ([local("web1", "not a dump")], 1, "expected vmcore_info's list of dicts"),
    ([local("web1")], 0, "keep must be an integer of at least 1"),
    ([local("web1")], True, "keep must be an integer"),
])
def test_bad_input_is_named(sources, keep, message):
    with pytest.raises(AnsibleFilterError, match="crashes") as err:
        crashes(sources, keep)
    assert message in str(err.value)


VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
                      lambda inner: st.one_of(st.lists(inner, max_size=3),
                                              st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=10)
DUMPS = st.fixed_dictionaries({"path": st.sampled_from(["/var/crash/1/dump.1", "/var/crash/vmcore", "/x"])},
                              optional={"signature": VALUES, "valid": VALUES, "crash_time": VALUES, "mtime": VALUES,
                                        "size": VALUES, "dmesg_tail": VALUES, "reasons": VALUES, "kernel": VALUES})


@settings(max_examples=200, deadline=None)
@given(dumps=st.lists(st.one_of(DUMPS, VALUES), max_size=4), extra=VALUES)
def test_hostile_input_gives_a_filter_error_or_a_report(dumps, extra):
    try:
        crashes([local("web1", *dumps), extra])
    except AnsibleFilterError as exc:
        assert "crashes" in str(exc)


def test_the_filter_is_registered():
    assert FilterModule().filters() == {"crashes": crashes}
