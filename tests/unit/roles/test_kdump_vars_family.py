# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kdump role takes its family facts (packages, unit, files) from crashkernel_info's
``family``, which the family records make (records.Family.role_vars): the role's vars only
point at it, and each release gets the packages it has."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import pytest
import yaml

from ansible_collections.crashdump.kdump.plugins.module_utils.family import records
from ansible_collections.crashdump.kdump.plugins.module_utils.sizing import policy

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "kdump")


def load(*path):
    with open(os.path.join(ROLE, *path)) as handle:
        return yaml.safe_load(handle)


def test_the_role_has_no_family_data_of_its_own():
    assert sorted(os.listdir(os.path.join(ROLE, "vars"))) == ["main.yml"]
    values = load("vars", "main.yml")
    keys = set(records.DEBIAN.role_vars("debian", (12, 0)))
    pointers = dict((name, value) for name, value in values.items()
                    if name not in ("__kdump_family", "__kdump_configured"))
    assert values["__kdump_family"] == "{{ __kdump_sizing.family }}"
    for name, value in pointers.items():
        match = re.match(r"^\{\{ __kdump_family\.(\w+) \}\}$", value)
        assert match, (name, value)
        assert match.group(1) in keys, (name, value)
    # Every field the record gives is used under the name the tasks read.
    assert set(re.match(r"^\{\{ __kdump_family\.(\w+) \}\}$", v).group(1)
               for v in pointers.values()) == keys - set(["name"])


def test_the_tasks_read_only_defined_family_vars():
    defined = set(load("vars", "main.yml"))
    text = ""
    for name in os.listdir(os.path.join(ROLE, "tasks")):
        with open(os.path.join(ROLE, "tasks", name)) as handle:
            text += handle.read()
    used = set(re.findall(r"\b(__kdump_(?:family|os_family|packages|nfs_packages|package_manager|"
                          r"service|config_file|package_config|pristine_files)\w*)", text))
    assert used and used <= defined


@pytest.mark.parametrize("distribution,version,expected", [
    ("debian", "12", ["kdump-tools", "makedumpfile", "kexec-tools"]),
    ("ubuntu", "24.04", ["kdump-tools", "makedumpfile", "kexec-tools"]),
    # kdumpctl moved from kexec-tools into kdump-utils in Fedora 40 and RHEL 10.
    ("fedora", "39", ["kexec-tools"]),
    ("fedora", "40", ["kdump-utils", "makedumpfile", "kexec-tools"]),
    ("fedora", "42", ["kdump-utils", "makedumpfile", "kexec-tools"]),
    ("rhel", "9.6", ["kexec-tools"]),
    ("rhel", "10.0", ["kdump-utils", "makedumpfile", "kexec-tools"]),
    ("rocky", "9.5", ["kexec-tools"]),
    ("almalinux", "10.0", ["kdump-utils", "makedumpfile", "kexec-tools"]),
    ("ol", "8.10", ["kexec-tools"]),
    ("centos", "10", ["kdump-utils", "makedumpfile", "kexec-tools"]),
    # Amazon Linux numbers its releases apart; its kexec-tools holds kdumpctl.
    ("amzn", "2023", ["kexec-tools"]),
    ("sles", "15.6", ["kdump", "makedumpfile", "kexec-tools"]),
    ("opensuse-tumbleweed", "20251201", ["kdump", "makedumpfile", "kexec-tools"]),
])
def test_each_release_gets_the_packages_it_has(distribution, version, expected):
    facts = policy.HostFacts(distribution=distribution, version=version)
    got = policy.family_vars(facts)
    assert got["packages"] == expected
    family = records.detect_ids(distribution)
    assert got["service"] == family.service
    assert got["config_file"] == family.config
    assert got["os_family"] == family.ansible_os_family


def test_a_derivative_follows_its_id_like_and_an_unknown_host_has_no_family():
    facts = policy.HostFacts(distribution="linuxlite", id_like=["ubuntu"], version="7")
    assert policy.family_vars(facts)["name"] == "debian"
    assert policy.family_vars(policy.HostFacts(distribution="arch", version="")) is None
