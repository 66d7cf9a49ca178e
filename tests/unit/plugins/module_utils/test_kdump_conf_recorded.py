# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kdump.conf read as kdumpctl reads it: against kdump-utils' and kexec-tools' own functions
(kdump_get_conf_val, parse_config, get_remote_host, _should_reset_crashkernel) run unchanged
on the same files (tests/unit/fixtures/upstream/kdump_conf_parsing.json, recorded by
hacking/record/kdump_conf_parsing.py from rhkdump/kdump-utils v1.0.61 and aa842443)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.target.kdumpconf import KdumpConf
from ansible_collections.crashdump.kdump.plugins.module_utils.target.plan import (
    Target,
    TargetError,
    plan,
    read_back,
)

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "upstream",
                       "kdump_conf_parsing.json")
with open(FIXTURE) as _handle:
    RECORDED = json.load(_handle)
NEW = "63f248c9"   # kdump-utils 1.0.61
OLD = "aa842443"   # kexec-tools 2.0.25-1
# Where the collection reads differently from a revision, and why (the writer never writes
# these forms, so only reading is affected).
DIVERGES = {
    # kexec-tools 2.0.25 keeps double quotes in values; kdump-utils 1.0.61 takes them off.
    (OLD, "double_quoted"): "2.0.25 keeps quotes",
    (OLD, "core_collector_quoted"): "2.0.25 keeps quotes",
    # A CRLF file: kdumpctl keeps the carriage return in the value; read-back reports it.
    (NEW, "crlf"): "CRLF", (OLD, "crlf"): "CRLF",
    # virtiofs is a target only from kdump-utils 1.0.x.
    (OLD, "virtiofs"): "no virtiofs in 2.0.25",
    # dracut_args --mount=...: both versions fail to parse it; read here as no --mount.
    (NEW, "dracut_args_mount_equals"): "--mount= form", (OLD, "dracut_args_mount_equals"): "--mount= form",
}


def cases(area, function_prefix):
    out = []
    for case in RECORDED["cases"]:
        rev = (case.get("rev") or "")[:8]
        if case["area"] != area or rev not in (NEW, OLD):
            continue
        if not case["function"].startswith(function_prefix):
            continue
        label = case["name"].split("/")[2]
        if any(rev == r and label.startswith(k) for (r, k) in DIVERGES):
            continue
        out.append(pytest.param(case, id=case["name"]))
    return out


@pytest.mark.parametrize("case", cases("read_conf", "kdump_get_conf_val "))
def test_a_value_reads_as_kdump_get_conf_val_prints_it(case):
    directive = case["function"].split()[1]
    got = KdumpConf(case["input"]["kdump.conf"]).get(directive)
    assert (got or "") == case["stdout"].rstrip("\n")


def targets_of(stdout):
    values = dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)
    return values.get("_fstype"), values.get("_target"), values.get("path")


@pytest.mark.parametrize("case", cases("read_conf", "parse_config") + cases("targets", "parse_config"))
def test_what_parse_config_refuses_is_a_problem_and_its_target_is_ours(case):
    text = case["input"]["kdump.conf"]
    conf = KdumpConf(text)
    problems = read_back("redhat", {"/etc/kdump.conf": text}).get("problems") or []
    if case["rc"] != 0:
        assert problems, case["stderr"]
        return
    assert problems == [], problems
    fstype, target, path = targets_of(case["stdout"])
    found = conf.targets()
    if fstype is None:
        assert found == []
    else:
        assert len(found) == 1
        kind = found[0]
        if kind[0] == "mount":
            assert (kind[2], kind[1]) == (fstype, target)
        else:
            assert kind == (fstype, target)
    if path and "path" in text:
        assert conf.get("path").rstrip("/") == path.rstrip("/")


@pytest.mark.parametrize("case", cases("ssh", "get_remote_host"))
def test_an_ssh_host_reads_as_get_remote_host_says(case):
    value = KdumpConf(case["input"]["kdump.conf"]).get("ssh")
    host = case["stdout"].strip()
    try:
        target = Target(type="ssh", ssh=value)
    except TargetError:
        # host:2222 (no port in kdump.conf) and a link-local zone: refused when written.
        assert ":" in host and ("%" in host or host.count(":") == 1)
        return
    assert target.ssh_host == host
    got = read_back("redhat", {"/etc/kdump.conf": case["input"]["kdump.conf"]})
    assert got["ssh"] == "kdump@" + host
    # The bracketed form passes kdumpctl's check but breaks every ssh call (recorded: ssh -G
    # and scp cases): read as the address, and reported.
    assert bool(got.get("problems")) == ("@[" in value)


@pytest.mark.parametrize("case", [c for c in cases("auto_reset", "_should_reset_crashkernel")
                                  if not (c.values[0].get("input") or {}).get("env")])
def test_auto_reset_is_off_only_when_kdumpctl_says_so(case):
    """_should_reset_crashkernel returns 1 (no reset) only for the exact value 'no'."""
    got = read_back("redhat", {"/etc/kdump.conf": case["input"]["kdump.conf"]})
    reset = got.get("auto_reset_crashkernel")
    assert (reset is False) == (case["rc"] == 1)


def test_the_collection_writes_the_off_value_kdumpctl_recognises():
    files = {"/etc/kdump.conf": "auto_reset_crashkernel yes\npath /var/crash\n"}
    text = plan("redhat", Target(type="local"), files,
                {"auto_reset_crashkernel": False}).files["/etc/kdump.conf"]
    off = [c for c in RECORDED["cases"] if c["area"] == "auto_reset" and c["rc"] == 1
           and c["function"] == "_should_reset_crashkernel" and not c["input"].get("env")]
    assert "auto_reset_crashkernel no\n" in text
    assert any(c["input"]["kdump.conf"] == "auto_reset_crashkernel no\n" for c in off)


def test_a_second_target_and_a_dracut_mount_are_replaced_not_added():
    """'More than one dump targets specified' (recorded rc 1 for ssh + dracut_args --mount):
    writing an ssh target takes the --mount out of dracut_args and keeps its other words."""
    text = ('dracut_args --omit-drivers nouveau --mount "host:/export /var/crash nfs defaults"\n'
            "ext4 /dev/vdb1\npath /var/crash\npath /var/crash  # twice\n")
    assert len(KdumpConf(text).problems()) >= 2
    new = plan("redhat", Target(type="ssh", ssh="kdump@dumps.example.com"),
               {"/etc/kdump.conf": text}, {}).files["/etc/kdump.conf"]
    conf = KdumpConf(new)
    assert conf.targets() == [("ssh", "kdump@dumps.example.com")]
    assert conf.get("dracut_args") == "--omit-drivers nouveau"
    assert conf.problems() == []
    assert new.count("\npath ") + new.startswith("path ") == 1


def test_recorded_cases_are_many():
    assert len(cases("read_conf", "")) > 60 and len(cases("targets", "parse_config")) > 40
