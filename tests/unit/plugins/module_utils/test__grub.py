# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The managed GRUB drop-in, sourced by a real shell, and grub.cfg parsing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.crashdump.kdump.plugins.module_utils.boot.cmdline import CmdlineError
from ansible_collections.crashdump.kdump.plugins.module_utils.boot.grub import (
    DROPIN,
    EFFECTIVE_SCRIPT,
    GrubError,
    cmdline_words,
    default_entry,
    get_shell_var,
    merge,
    parse_dropin,
    parse_grub_cfg,
    render_dropin,
    set_shell_var,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")

DEBIAN_DEFAULT_GRUB = """\
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX=""
"""
KDUMP_TOOLS_CFG = 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M"\n'


def tree(tmp_path, dropin=None, extra=None):
    etc = tmp_path / "etc" / "default"
    (etc / "grub.d").mkdir(parents=True)
    (etc / "grub").write_text(DEBIAN_DEFAULT_GRUB)
    (etc / "grub.d" / "kdump-tools.cfg").write_text(KDUMP_TOOLS_CFG)
    for name, text in (extra or {}).items():
        (etc / "grub.d" / name).write_text(text)
    if dropin is not None:
        (tmp_path / DROPIN.lstrip("/")).write_text(dropin)
    return str(tmp_path)


def effective(root):
    out = subprocess.run(["sh", "-c", EFFECTIVE_SCRIPT, "sh", root], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, check=True).stdout.decode()
    linux, default = out.split("\0")
    return linux, default


def test_without_the_dropin_debian_kdump_tools_wins(tmp_path):
    assert effective(tree(tmp_path)) == ("", "quiet crashkernel=384M-:128M")


def test_the_dropin_makes_the_requested_value_effective(tmp_path):
    text = render_dropin(merge({}, {"crashkernel": "256M"}, "present"))
    root = tree(tmp_path, text, {"50-cloud.cfg": 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX crashkernel=1G"\n'})
    assert effective(root) == ("", "quiet crashkernel=256M")
    subprocess.run(["sh", "-n", os.path.join(root, DROPIN.lstrip("/"))], check=True)


def test_absent_strips_every_source(tmp_path):
    text = render_dropin(merge({}, {"crashkernel": None}, "absent"))
    assert effective(tree(tmp_path, text)) == ("", "quiet")


def test_several_words_and_flags(tmp_path):
    managed = merge({}, {"crashkernel": ["1G,high", "256M,low"], "nokaslr": None}, "present")
    root = tree(tmp_path, render_dropin(managed))
    assert effective(root) == ("", "quiet crashkernel=1G,high crashkernel=256M,low nokaslr")


def test_glob_characters_in_other_arguments_are_kept(tmp_path):
    text = render_dropin(merge({}, {"crashkernel": "256M"}, "present"))
    root = tree(tmp_path, text, {"10-x.cfg": 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT a=* b=?"\n'})
    (tmp_path / "afile").write_text("")
    assert effective(root)[1] == "quiet a=* b=? crashkernel=256M"


def test_dropin_round_trip_and_header():
    managed = merge({}, {"crashkernel": "256M", "nokaslr": None}, "present")
    text = render_dropin(managed)
    assert parse_dropin(text) == {"crashkernel": ["256M"], "nokaslr": [None]}
    assert render_dropin(parse_dropin(text)) == text
    assert render_dropin({}) is None


def test_merge_present_absent():
    managed = merge({}, {"crashkernel": ["1G,high", "256M,low"]}, "present")
    assert merge(managed, {"crashkernel": "256M,low"}, "absent") == {"crashkernel": ["1G,high"]}
    assert merge(managed, {"crashkernel": None}, "absent") == {"crashkernel": None}
    with pytest.raises(CmdlineError, match="present or absent"):
        merge({}, {"a": None}, "maybe")


@pytest.mark.parametrize("text, message", [
    ("GRUB_CMDLINE_LINUX=x\n", "not written by this collection"),
    ("# crashdump.kdump managed arguments: {oops\n", "not valid JSON"),
    ("# crashdump.kdump managed arguments: [1]\n", "expected a mapping"),
])
def test_foreign_or_broken_dropin(text, message):
    with pytest.raises(GrubError, match=message):
        parse_dropin(text)


def test_render_rejects_bad_values():
    with pytest.raises(CmdlineError, match="would break"):
        render_dropin({"crashkernel": ['256M"; reboot; "']})


def test_shell_vars_in_place():
    text = set_shell_var(DEBIAN_DEFAULT_GRUB, "GRUB_CMDLINE_LINUX", "crashkernel=256M")
    assert text == DEBIAN_DEFAULT_GRUB.replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="crashkernel=256M"')
    assert get_shell_var(text, "GRUB_CMDLINE_LINUX") == "crashkernel=256M"
    assert get_shell_var(text, "GRUB_CMDLINE_LINUX_DEFAULT") == "quiet"
    appended = set_shell_var("A=1", "B", "2")
    assert appended == 'A=1\nB="2"\n'
    with pytest.raises(GrubError, match="break the shell quoting"):
        set_shell_var(DEBIAN_DEFAULT_GRUB, "GRUB_CMDLINE_LINUX", 'x"y')


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"[A-Za-z0-9=,:._-]{0,30}", fullmatch=True))
def test_set_then_restore_is_byte_for_byte(value):
    original = get_shell_var(DEBIAN_DEFAULT_GRUB, "GRUB_CMDLINE_LINUX")
    changed = set_shell_var(DEBIAN_DEFAULT_GRUB, "GRUB_CMDLINE_LINUX", value)
    assert set_shell_var(changed, "GRUB_CMDLINE_LINUX", original) == DEBIAN_DEFAULT_GRUB


def test_parse_a_real_debian_grub_cfg():
    with open(os.path.join(FIXTURES, "debian12", "grub.cfg")) as handle:
        entries = parse_grub_cfg(handle.read())
    assert entries[0]["kernel"].startswith("/boot/vmlinuz-")
    assert "crashkernel=384M-:128M" in cmdline_words(entries[0])
    assert entries[0]["path"] == "0"
    advanced = [e for e in entries if e["parents"]]
    assert advanced and advanced[0]["path"] == "1>0"
    assert default_entry(entries, "0") is entries[0]
    assert default_entry(entries, "1>1") is advanced[1]
    assert default_entry(entries, advanced[1]["id"]) is advanced[1]
    assert default_entry(entries, "saved", "1>0") is advanced[0]
    assert default_entry(entries, "no such entry") is entries[0]
    with pytest.raises(GrubError, match="no menu entry"):
        default_entry([], "0")
