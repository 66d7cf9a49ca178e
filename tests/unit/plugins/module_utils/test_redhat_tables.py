# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Fedora/RHEL default crashkernel= by the kdump-utils / kexec-tools version a host has,
against kdump-lib.sh's own kdump_get_arch_recommend_crashkernel run unchanged at 17
revisions of rhkdump/kdump-utils (tests/unit/fixtures/upstream/kdump_utils_crashkernel.json,
recorded by hacking/record/kdump_utils_crashkernel.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.hostinfo import parse_nr_cpus
from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.policy import (
    HostFacts,
    distro_value,
    redhat_table,
)

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "upstream",
                       "kdump_utils_crashkernel.json")
with open(FIXTURE) as _handle:
    RECORDED = json.load(_handle)


def tool_of(version):
    return ("kexec-tools" if version.startswith("2.") else "kdump-utils", version)


def recorded_cases():
    out = []
    for revision in RECORDED["revisions"]:
        for index, case in enumerate(revision["cases"]):
            out.append(pytest.param(revision["version"], case,
                                    id="%s-%d-%s" % (revision["version"], index, case["arch"])))
    return out


def nr_cpus(case):
    # kdump-lib.sh's find_nr_cpus reads the append variable of the running dump mode.
    key = "fadump_commandline_append" if case["default_dump_mode"] == "fadump" else \
        "kdump_commandline_append"
    return parse_nr_cpus(case[key] or "")


@pytest.mark.parametrize("version,case", recorded_cases())
def test_table_is_what_kdump_lib_prints(version, case):
    value, _addons = redhat_table(tool_of(version), case["arch"], case["kernel_release"],
                                  case["fadump"], case["sme"], case["mlx5"], case["arm_smmu"],
                                  nr_cpus(case))
    want = (case["output"] or "").strip() or None
    assert value == want


def test_every_recorded_revision_is_checked():
    assert len(RECORDED["revisions"]) >= 17
    assert sum(len(r["cases"]) for r in RECORDED["revisions"]) >= 17 * 25


def test_ppc64le_fadump_gets_the_per_cpu_megabyte_from_1_0_60():
    """kdump-lib.sh adds nr_cpus x 1M before choosing the fadump table: 4G-16G is 784M with
    FADUMP_COMMANDLINE_APPEND's nr_cpus=16, not 768M; releases before 1.0.60 add nothing."""
    value, addons = redhat_table(("kdump-utils", "1.0.61"), "ppc64le", fadump=True, nr_cpus=16)
    assert value.startswith("4G-16G:784M,16G-64G:1040M,")
    value, addons = redhat_table(("kdump-utils", "1.0.54"), "ppc64le", fadump=True, nr_cpus=16)
    assert value.startswith("4G-16G:768M,")
    value, addons = redhat_table(("kdump-utils", "1.0.54"), "ppc64le", nr_cpus=16)
    assert value == "2G-4G:384M,4G-16G:512M,16G-64G:1G,64G-128G:2G,128G-:4G" and addons == []


@pytest.mark.parametrize("facts,tool,want", [
    # Fedora 41 and RHEL 10.0 shipped before the 2G table (kdump-utils 1.0.53).
    (dict(distribution="fedora", version="41"), None, "1G-4G:192M,4G-64G:256M,64G-:512M"),
    (dict(distribution="rhel", id_like=("fedora",), version="10.0"), None,
     "1G-4G:192M,4G-64G:256M,64G-:512M"),
    (dict(distribution="rhel", id_like=("fedora",), version="10.1"), None, "2G-64G:256M,64G-:512M"),
    (dict(distribution="almalinux", id_like=("rhel", "centos", "fedora"), version="9.4"), None,
     "1G-4G:192M,4G-64G:256M,64G-:512M"),
    # The installed version decides over the release (a backport, an update).
    (dict(distribution="rhel", id_like=("fedora",), version="10.0"), ("kdump-utils", "1.0.54-3.el10"),
     "2G-64G:256M,64G-:512M"),
    (dict(distribution="fedora", version="43"), ("kdump-utils", "1.0.51-1.fc41"),
     "1G-4G:192M,4G-64G:256M,64G-:512M"),
])
def test_the_version_on_the_host_decides(facts, tool, want):
    host = HostFacts(arch="x86_64", system_ram=8 << 30, tool_version=tool, **facts)
    value, source, _addons = distro_value(host)
    assert value == want, source


def test_kdumpctls_own_answer_comes_first():
    host = HostFacts(arch="x86_64", system_ram=8 << 30, distribution="rhel", version="9.7",
                     tool_version=("kexec-tools", "2.0.29-7.el9"), tool_default="2G-64G:256M,64G-:512M")
    value, source, _addons = distro_value(host)
    assert value == "2G-64G:256M,64G-:512M" and "kdumpctl get-default-crashkernel" in source
