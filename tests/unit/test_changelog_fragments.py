# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every changelog fragment is YAML that antsibull-changelog accepts.

ansible-test's yamllint and changelog sanity tests catch a broken fragment too, but only
after the long sanity stage has started; this test fails in seconds.
"""
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FRAGMENTS = sorted((ROOT / "changelogs" / "fragments").glob("*.y*ml"))


def _sections():
    config = yaml.safe_load((ROOT / "changelogs" / "config.yaml").read_text())
    names = {name for name, _title in config["sections"]}
    names.add(config.get("trivial_section_name", "trivial"))
    return names


SECTIONS = _sections()


def test_there_are_fragments():
    assert FRAGMENTS, "changelogs/fragments holds no fragment"


@pytest.mark.parametrize("path", FRAGMENTS, ids=lambda p: p.name)
def test_fragment_parses_into_known_sections(path):
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:  # the message names line and column
        pytest.fail(f"{path.name}: not valid YAML: {exc}")
    assert isinstance(data, dict) and data, f"{path.name}: expected a mapping of sections"
    unknown = set(data) - SECTIONS
    assert not unknown, f"{path.name}: unknown sections {sorted(unknown)}"
    for section, entries in data.items():
        assert isinstance(entries, list) and entries, f"{path.name}: {section} is not a list"
        for entry in entries:
            assert isinstance(entry, str) and entry.strip(), (
                f"{path.name}: {section} holds {entry!r}, expected a text entry")
