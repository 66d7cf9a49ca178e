# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kernel command line words: split, apply and remove, keeping what is not managed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.crashdump.kdump.plugins.module_utils.boot.cmdline import (
    CmdlineError,
    apply,
    join,
    managed_values,
    split,
    validate_args,
    word_value,
)

DEBIAN = ("BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=UUID=0e5b ro quiet"
          " crashkernel=384M-:128M")


@pytest.mark.parametrize("text, words", [
    ("", []),
    ("  ro   quiet ", ["ro", "quiet"]),
    ('root=/dev/vda1 dyndbg="file x.c +p" quiet', ["root=/dev/vda1", 'dyndbg="file x.c +p"', "quiet"]),
    ("a\tb\nc", ["a", "b", "c"]),
])
def test_split(text, words):
    assert split(text) == words


def test_word_value():
    assert word_value("ro") is None
    assert word_value("a=") == ""
    assert word_value('dyndbg="x y"') == "x y"
    assert word_value("crashkernel=1G-:256M") == "1G-:256M"


@pytest.mark.parametrize("args, state, expected", [
    ({"crashkernel": "256M"}, "present",
     "BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=UUID=0e5b ro quiet crashkernel=256M"),
    ({"crashkernel": None}, "absent", "BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=UUID=0e5b ro quiet"),
    ({"crashkernel": "999M"}, "absent", DEBIAN),                     # other value stays
    ({"crashkernel": "384M-:128M"}, "absent", "BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=UUID=0e5b ro quiet"),
    ({"crashkernel": ["1G,high", "256M,low"]}, "present",
     "BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=UUID=0e5b ro quiet crashkernel=1G,high crashkernel=256M,low"),
    ({"nokaslr": None}, "present", DEBIAN + " nokaslr"),
    ({"quiet": None}, "absent", "BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=UUID=0e5b ro crashkernel=384M-:128M"),
    ({"fadump": "on", "crashkernel": "2G"}, "present", DEBIAN.replace("384M-:128M", "2G") + " fadump=on"),
])
def test_apply(args, state, expected):
    assert join(apply(split(DEBIAN), args, state)) == expected


def test_apply_replaces_duplicates_in_place_of_the_first():
    words = split("crashkernel=128M ro crashkernel=256M quiet")
    assert apply(words, {"crashkernel": "512M"}) == ["crashkernel=512M", "ro", "quiet"]


def test_apply_is_idempotent():
    once = apply(split(DEBIAN), {"crashkernel": "256M", "nokaslr": None})
    assert apply(once, {"crashkernel": "256M", "nokaslr": None}) == once


@pytest.mark.parametrize("args, message", [
    ({}, "non-empty mapping"),
    ("crashkernel=1G", "non-empty mapping"),
    ({"crash kernel": "1G"}, "no spaces"),
    ({'crash"kernel': "1G"}, "no spaces, quotes"),
    ({"crashkernel=": "1G"}, "or '='"),
    ({"crashkernel": "1G 2G"}, "would break"),
    ({"crashkernel": '1G"'}, "would break"),
    ({"crashkernel": "$(reboot)"}, "would break"),
    ({"crashkernel": "`id`"}, "would break"),
    ({"crashkernel": ""}, "non-empty value"),
    ({"crashkernel": []}, "empty list"),
    # "$" of a plain match is true before a final newline; control characters in values.
    ({"crashkernel\n": "1G"}, "no spaces"),
    ({"crashkernel": "1G\n"}, "would break"),
    ({"crashkernel": "1G\x00"}, "control characters"),
    ({"crashkernel": "1G\x1b[2J"}, "control characters"),
    ({"crashkernel": "1G\x7f"}, "would break"),
])
def test_bad_args(args, message):
    with pytest.raises(CmdlineError, match=message.replace("(", r"\(").replace("$", r"\$")):
        validate_args(args)


def test_bad_state():
    with pytest.raises(CmdlineError, match="present or absent"):
        apply(["ro"], {"a": None}, "gone")


def test_managed_values():
    words = split("crashkernel=1G,high ro crashkernel=256M,low quiet")
    assert managed_values(words, ["crashkernel", "nokaslr"]) == {
        "crashkernel": ["1G,high", "256M,low"], "nokaslr": []}


WORD = st.from_regex(r"[a-z][a-z0-9_.]{0,8}(=[A-Za-z0-9,:@./-]{1,10})?", fullmatch=True)
VALUE = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9,:@.-]{1,10}", fullmatch=True))


@settings(max_examples=300, deadline=None)
@given(st.lists(WORD, max_size=10), st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), VALUE)
def test_apply_then_remove_restores_a_line_without_the_name(words, name, value):
    base = [w for w in words if w.split("=", 1)[0] != name]
    added = apply(base, {name: value})
    assert apply(added, {name: None}, "absent") == base
    assert split(join(added)) == added
