# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The roles' meta platforms and the README's platform table claim the same releases, and
every row of the table says what proves it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import yaml

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
# Galaxy's platform names -> how the README's table names them.
NAMES = {"Debian": "Debian", "Ubuntu": "Ubuntu", "EL": "RHEL", "Fedora": "Fedora",
         "SLES": "SLES", "opensuse": "openSUSE"}
CODENAMES = {"bookworm": "12", "trixie": "13", "jammy": "22.04", "noble": "24.04"}


def tables():
    """The tables of the README's platform section, each as its rows (header left out)."""
    with open(os.path.join(ROOT, "README.md")) as handle:
        text = handle.read()
    section = text.split("## Supported platforms", 1)[1].split("\n## ", 1)[0]
    found, rows = [], None
    for line in section.splitlines():
        if line.startswith("|"):
            if rows is None:
                rows = []
                found.append(rows)
                continue  # the header
            if "---" not in line:
                rows.append(line)
        else:
            rows = None
    return found


def table():
    """The family x release table."""
    return tables()[0]


def matrix():
    """The architecture x firmware x boot loader table."""
    return tables()[1]


def test_every_row_says_what_proves_it():
    rows = table()
    assert len(rows) == 4
    for row in rows:
        proof = row.split("|")[4]
        assert re.search(r"booted|recorded|not tested", proof), row


def test_meta_platforms_agree_with_the_readme():
    rows = table()
    for role in ("kdump", "dump_server"):
        with open(os.path.join(ROOT, "roles", role, "meta", "main.yml")) as handle:
            meta = yaml.safe_load(handle)
        for platform in meta["galaxy_info"]["platforms"]:
            name = NAMES[platform["name"]]
            matching = [r for r in rows if name in r.split("|")[1] or name in r.split("|")[2]]
            assert matching, platform
            for version in platform["versions"]:
                if version == "all":
                    continue
                number = CODENAMES.get(version, version)
                assert any(number in r.split("|")[2] for r in matching), (platform, version)
    assert "Debian | 11" not in "\n".join(rows)


def test_matrix_booted_claims_name_scenarios_that_exist():
    rows = matrix()
    assert len(rows) >= 8
    scenarios = set(os.listdir(os.path.join(ROOT, "molecule")))
    with open(os.path.join(ROOT, "tests", "lab", "inventory", "hosts.yml")) as handle:
        fleet_hosts = set(re.findall(r"^ +(lab-[a-z0-9-]+):", handle.read(), re.M))
    assert fleet_hosts
    booted = 0
    for row in rows:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert len(cells) == 4, row
        proof = cells[3]
        assert re.match(r"(booted|recorded|not tested|not booted)\b", proof), row
        if proof.startswith("booted"):
            booted += 1
            named = re.findall(r"`([a-z0-9_-]+)`", proof)
            assert named or "lab fleet" in proof, row
            for name in named:
                # A Molecule scenario, or a host of the lab fleet (tests/lab/inventory).
                assert name in (fleet_hosts if name.startswith("lab-") else scenarios), (name, row)
    assert booted >= 4
