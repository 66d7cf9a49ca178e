# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kdump role's per-family vars say what the family records say (family/records.py):
packages, unit, configuration file, the package's default file, the files kept to put back,
NFS client packages."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.crashdump.kdump.plugins.module_utils.family import records

VARS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "kdump", "vars")
# vars file -> (record, the packages it installs)
FILES = {
    "Debian.yml": (records.DEBIAN, records.DEBIAN.packages),
    "RedHat.yml": (records.REDHAT, records.REDHAT.packages_before_split),
    "RedHat_10.yml": (records.REDHAT, records.REDHAT.packages),
    "Fedora.yml": (records.REDHAT, records.REDHAT.packages),
    "Suse.yml": (records.SUSE, records.SUSE.packages),
}


def load(name):
    with open(os.path.join(VARS, name)) as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("name", sorted(FILES))
def test_role_vars_follow_the_family_record(name):
    record, packages = FILES[name]
    values = load(name)
    if name == "RedHat_10.yml":
        values = dict(load("RedHat.yml"), **values)
    assert values["__kdump_packages"] == list(packages)
    assert values["__kdump_service"] == record.service
    assert values["__kdump_config_file"] == record.config
    assert values["__kdump_package_config"] == record.package_config
    assert values["__kdump_pristine_files"] == list(record.pristine_files)
    assert values["__kdump_nfs_packages"] == list(record.nfs_packages)


def test_every_vars_file_is_checked():
    names = set(n for n in os.listdir(VARS) if n.endswith(".yml")) - set(["main.yml"])
    assert names == set(FILES)
