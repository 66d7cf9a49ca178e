# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.crashdump.kdump.plugins.filter import report
from ansible_collections.crashdump.kdump.plugins.filter.report import (
    describe_target, jmespath_query, kdump_report_row)

MIB = 1 << 20
READY = {
    "family": "debian", "kernel_release": "6.1.0-41-amd64", "system_ram": 1072693248,
    "reservation": {"requested": "crashkernel=384M-:128M", "reserved": 128 * MIB},
    "recommendation": {"crashkernel": "crashkernel=384M-:128M", "reserved_bytes": 128 * MIB,
                       "source": "Debian 12 kdump-tools default (amd64)"},
    "capture": {"loaded": True}, "service": {"enabled": True},
    "target": {"type": "local", "path": "/var/crash"},
    "dumps": [{"path": "/var/crash/202611261200/dump.202611261200", "valid": True, "size": 37 * MIB,
               "kernel": "6.1.0-41-amd64", "error": None}],
    "ready": True, "reasons": [],
}
FACTS = {"distribution": "Debian", "distribution_version": "12.11"}


class Lazy(Mapping):
    """A mapping that is not a dict, as the engine hands templates."""

    def __init__(self, data):
        self.data = data

    def __getitem__(self, key):
        return self.data[key]

    def __iter__(self):
        return iter(self.data)

    def __len__(self):
        return len(self.data)


def test_a_ready_host():
    row = kdump_report_row({"host": "web1", "info": READY, "facts": FACTS, "crash_test": None})
    assert row["ready"] is True and row["reachable"] is True
    assert row["distribution"] == "Debian 12.11" and row["kernel"] == "6.1.0-41-amd64"
    assert row["ram_human"] == "1023.0 MiB"
    assert row["reserved_human"] == "128.0 MiB" and row["reserved_enough"] is True
    assert row["target"] == "local /var/crash"
    assert row["dump"]["source"] == "target" and row["dump"]["valid"] is True
    assert row["dump"]["size_human"] == "37.0 MiB"


def test_less_than_recommended():
    info = dict(READY, reservation={"requested": "crashkernel=64M", "reserved": 64 * MIB})
    row = kdump_report_row({"host": "web1", "info": info, "facts": FACTS})
    assert row["reserved_enough"] is False


def test_the_crash_test_dump_when_the_target_is_remote():
    info = dict(READY, target={"type": "ssh", "ssh": "kdump@dumps", "ssh_port": 2222, "path": "/srv/kdump"},
                dumps=[])
    crash = {"host": "web1", "passed": True, "dump_host": "dumps", "dump_path": "/srv/kdump/x/dump.1",
             "size": 1000, "size_human": "1000 B", "kernel": "6.1.0-41-amd64", "reason": ""}
    row = kdump_report_row({"host": "web1", "info": info, "facts": FACTS, "crash_test": crash})
    assert row["target"] == "ssh kdump@dumps port 2222:/srv/kdump"
    assert row["dump"] == {"path": "dumps:/srv/kdump/x/dump.1", "valid": True, "kernel": "6.1.0-41-amd64",
                           "size": 1000, "size_human": "1000 B", "error": None, "source": "crash test"}


def test_a_host_that_could_not_be_asked():
    row = kdump_report_row({"host": "gone", "error": "Failed to connect to the host via ssh"})
    assert row["reachable"] is False and row["ready"] is False
    assert row["reasons"] == ["Failed to connect to the host via ssh"]
    assert row["distribution"] == "-" and row["dump"] is None and row["target"] == "-"


@pytest.mark.parametrize("target, text", [
    ({"type": "nfs", "nfs": "nfs1:/export/kdump"}, "nfs nfs1:/export/kdump"),
    ({"type": "raw", "device": "/dev/vdb"}, "raw /dev/vdb"),
    ({"type": "fs", "fstype": "xfs", "device": "LABEL=dumps", "path": "/crash"}, "xfs LABEL=dumps:/crash"),
    ({"type": "ssh", "ssh": "kdump@d", "ssh_port": 22, "path": "/srv"}, "ssh kdump@d:/srv"),
    (None, "-"),
])
def test_targets_in_words(target, text):
    assert describe_target(target) == text


def test_bad_row_input():
    with pytest.raises(AnsibleFilterError, match="expected a dict with host"):
        kdump_report_row(["web1"])


def test_jmespath_on_engine_containers():
    rows = [Lazy({"host": "a", "ready": True, "crash_test": Lazy({"passed": False})}),
            Lazy({"host": "b", "ready": False, "crash_test": None})]
    assert jmespath_query(rows, "length([?ready])") == 1
    assert jmespath_query(rows, "[?!ready].host") == ["b"]
    assert jmespath_query(rows, "[?crash_test.passed == `false`].host") == ["a"]


def test_jmespath_errors_name_the_query(monkeypatch):
    with pytest.raises(AnsibleFilterError, match="'length\\(' is not a valid query"):
        jmespath_query([], "length(")
    monkeypatch.setattr(report, "_jmespath", None)
    with pytest.raises(AnsibleFilterError, match="needs the Python library jmespath"):
        jmespath_query([], "@")
