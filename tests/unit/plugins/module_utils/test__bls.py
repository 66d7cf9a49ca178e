# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""BLS entries, /etc/kernel/cmdline, zipl.conf and grubby: edits keep everything else."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.crashdump.kdump.plugins.module_utils.boot.bls import (
    BlsError,
    edit_entry_options,
    edit_kernel_cmdline_file,
    edit_zipl,
    grubby_argv,
    parse_entry,
    parse_grubby_info,
    zipl_default,
    zipl_sections,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.boot.cmdline import validate_args

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts)) as handle:
        return handle.read()


def test_bls_entry_edit_changes_only_the_options_line():
    text = fixture("rhel9", "entry.conf")
    new = edit_entry_options(text, {"crashkernel": "256M"}, "present")
    old_lines, new_lines = text.splitlines(), new.splitlines()
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b]
    assert len(old_lines) == len(new_lines) and changed == [4]
    assert parse_entry(new)["options"].split()[2] == "crashkernel=256M"
    assert "$tuned_params" in parse_entry(new)["options"]


def test_bls_entry_apply_then_remove_is_byte_for_byte():
    text = fixture("rhel9", "entry.conf")
    added = edit_entry_options(text, {"nokaslr": None}, "present")
    assert added != text
    assert edit_entry_options(added, {"nokaslr": None}, "absent") == text


def test_bls_kernelopts_entries_are_left_to_grubenv():
    text = "title x\nlinux /vmlinuz\noptions $kernelopts $tuned_params\n"
    assert edit_entry_options(text, {"crashkernel": "256M"}, "present") == text


def test_bls_entry_without_options_gets_one():
    assert edit_entry_options("title x\nlinux /vmlinuz", {"crashkernel": "256M"}, "present") == \
        "title x\nlinux /vmlinuz\noptions crashkernel=256M\n"


def test_kernel_cmdline_file():
    text = fixture("rhel9", "kernel-cmdline")
    new = edit_kernel_cmdline_file(text, {"crashkernel": "2G-64G:256M,64G-:512M"}, "present")
    assert "crashkernel=2G-64G:256M,64G-:512M resume=" in new and new.endswith("\n")
    assert edit_kernel_cmdline_file(new, {"crashkernel": "2G-64G:256M,64G-:512M"}, "absent") == \
        text.replace(" crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M", "")
    with pytest.raises(BlsError, match="several lines"):
        edit_kernel_cmdline_file("a\nb\n", {"x": None}, "present")


def test_zipl():
    text = fixture("s390x", "zipl.conf")
    assert zipl_default(text) == "linux"
    assert "crashkernel=128M" in zipl_sections(text)["linux"]
    new = edit_zipl(text, {"crashkernel": "256M"}, "present")
    assert "crashkernel=256M" in zipl_sections(new)["linux"]
    assert "crashkernel=256M" in zipl_sections(new)["failsafe"]
    only = edit_zipl(text, {"crashkernel": "256M"}, "present", sections=["linux"])
    assert zipl_sections(only)["failsafe"] == zipl_sections(text)["failsafe"]
    assert sum(1 for a, b in zip(text.splitlines(), only.splitlines()) if a != b) == 1
    with pytest.raises(BlsError, match="no parameters= line in section"):
        edit_zipl(text, {"crashkernel": "256M"}, "present", sections=["nosuch"])


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
       st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9,:.-]{1,8}", fullmatch=True)))
def test_zipl_apply_then_remove_is_byte_for_byte(name, value):
    text = fixture("s390x", "zipl.conf")
    if any(w.split("=")[0] == name for w in zipl_sections(text)["linux"].split()):
        return
    added = edit_zipl(text, {name: value}, "present")
    assert edit_zipl(added, {name: None}, "absent") == text


def test_grubby_info():
    entries = parse_grubby_info(fixture("rhel9", "grubby-info.txt"))
    assert [e["index"] for e in entries] == [0, 1]
    assert entries[0]["kernel"] == "/boot/vmlinuz-5.14.0-427.13.1.el9_4.x86_64"
    assert "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M" in entries[0]["args"].split()


@pytest.mark.parametrize("kernels, args, state, expected", [
    ("all", {"crashkernel": "256M"}, "present",
     [["grubby", "--update-kernel=ALL", "--remove-args=crashkernel"],
      ["grubby", "--update-kernel=ALL", "--args=crashkernel=256M"]]),
    ("default", {"crashkernel": ["1G,high", "256M,low"]}, "present",
     [["grubby", "--update-kernel=DEFAULT", "--remove-args=crashkernel"],
      ["grubby", "--update-kernel=DEFAULT", "--args=crashkernel=1G,high crashkernel=256M,low"]]),
    ("/boot/vmlinuz-x", {"crashkernel": None}, "absent",
     [["grubby", "--update-kernel=/boot/vmlinuz-x", "--remove-args=crashkernel"]]),
    ("all", {"nokaslr": None, "fadump": "on"}, "absent",
     [["grubby", "--update-kernel=ALL", "--remove-args=nokaslr fadump=on"]]),
])
def test_grubby_argv(kernels, args, state, expected):
    assert grubby_argv("grubby", kernels, validate_args(args), state) == expected
