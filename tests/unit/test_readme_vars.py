# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The README's role variable tables are those meta/argument_specs.yml generates."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SPEC = importlib.util.spec_from_file_location("readme_vars", os.path.join(ROOT, "hacking", "readme_vars.py"))
readme_vars = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(readme_vars)


def test_the_readme_tables_are_up_to_date():
    with open(os.path.join(ROOT, "README.md")) as handle:
        text = handle.read()
    assert "<!-- role-variables: kdump -->" in text and "<!-- role-variables: dump_server -->" in text
    assert readme_vars.render(text) == text, "run python3 hacking/readme_vars.py"


def test_each_role_has_a_readme_with_its_tables():
    # The Galaxy importer refuses a collection whose roles have no README.
    for role, blocks in (("kdump", ["kdump", "kdump:ssh_key"]), ("dump_server", ["dump_server"])):
        path = os.path.join(ROOT, "roles", role, "README.md")
        with open(path) as handle:
            text = handle.read()
        for block in blocks:
            assert "<!-- role-variables: %s -->" % block in text, path
        assert readme_vars.render(text) == text, "run python3 hacking/readme_vars.py"
        assert "## Example" in text and "## Entry points" in text


def test_dict_keys_are_rows_of_their_own():
    table = readme_vars.table("kdump")
    assert "| `kdump_target.type` | str |" in table and "`ssh`" in table
    assert "| `dump_server_ssh_clients[].public_key` | str | - |" in readme_vars.table("dump_server")


def test_every_variable_of_each_role_is_in_its_table():
    with open(os.path.join(ROOT, "README.md")) as handle:
        text = handle.read()
    for role in ("kdump", "dump_server"):
        block = text.split("<!-- role-variables: %s -->" % role)[1].split("<!-- /role-variables -->")[0]
        with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml")) as handle:
            names = [line.split(":")[0] for line in handle if line[:1].isalpha()]
        assert names
        for name in names:
            assert "| `%s` |" % name in block, "%s of role %s is not documented" % (name, role)


def test_markup_becomes_markdown():
    assert readme_vars.plain("O(kdump_state=absent) and M(crashdump.kdump.kdump_info), V(x)") == \
        "`kdump_state=absent` and crashdump.kdump.kdump_info, `x`"
    assert readme_vars.plain("P(crashdump.kdump.site#playbook)") == "crashdump.kdump.site"
