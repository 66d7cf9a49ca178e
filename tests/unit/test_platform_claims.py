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


def table():
    with open(os.path.join(ROOT, "README.md")) as handle:
        text = handle.read()
    section = text.split("## Supported platforms", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]


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
