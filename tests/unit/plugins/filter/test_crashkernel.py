# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The crashkernel_* filters called directly (through Ansible in tests/integration)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.crashdump.kdump.plugins.filter.crashkernel import (
    FilterModule,
    crashkernel_format,
    crashkernel_parse,
    crashkernel_size,
)

M = 1 << 20
G = 1 << 30


def test_filters_are_registered():
    assert sorted(FilterModule().filters()) == [
        "crashkernel_format", "crashkernel_parse", "crashkernel_size"]


@pytest.mark.parametrize("value, ram, args, expected", [
    ("1G-4G:192M,4G-64G:256M,64G-:512M", 8589934592, (), 268435456),
    ("crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M", 8589934592, (), 268435456),
    ("1G-4G:192M,4G-64G:256M", "4227858432", (), 256 * M),
    ("1G-4G:192M,4G-64G:256M", 4227858432, ("x86_64", "5.10.0"), 192 * M),
    ("1G,high", "64G", ("aarch64",), G + 128 * M),
    ("1G,high", "64G", ("ppc64le",), 0),
    ({"size": "256M"}, 8 * G, (), 256 * M),
    ("2G-:256M", G, (), 0),
])
def test_crashkernel_size(value, ram, args, expected):
    assert crashkernel_size(value, ram, *args) == expected


@pytest.mark.parametrize("value, ram, message", [
    ("1G-512M:64M", 8 * G, "range end 512M is not above its start 1G"),
    ("abc", 8 * G, "'abc' is not a size"),
    ("64X", 8 * G, "unknown suffix 'X'"),
    ("", 8 * G, "empty size"),
    ("256M", "lots", "system_ram 'lots' is not a number"),
    ("256M", True, "system_ram must be bytes"),
    (None, 8 * G, "expects a string"),
    (["256M"], 8 * G, "expects a string"),
])
def test_crashkernel_size_errors(value, ram, message):
    with pytest.raises(AnsibleFilterError) as info:
        crashkernel_size(value, ram)
    assert message in str(info.value)
    assert str(info.value).startswith("crashkernel_size: ")


def test_crashkernel_parse_and_format_round_trip():
    parsed = crashkernel_parse("1G-4G:192M,4G-:256M")
    assert parsed["ranges"] == [{"start": G, "end": 4 * G, "size": 192 * M},
                                {"start": 4 * G, "end": None, "size": 256 * M}]
    assert crashkernel_format(parsed) == "crashkernel=1G-4G:192M,4G-:256M"
    assert crashkernel_format(parsed, False) == "1G-4G:192M,4G-:256M"
    assert crashkernel_format("crashkernel=262144K", False) == "256M"
    assert crashkernel_format({"high": "2G", "low": 256 * M}) == \
        "crashkernel=2G,high crashkernel=256M,low"


@pytest.mark.parametrize("func, value, message", [
    (crashkernel_parse, "1G-4G:192M,2G-8G:256M", "overlap"),
    (crashkernel_parse, {"size": 1}, "expects a string"),
    (crashkernel_format, {}, "nothing to format"),
    (crashkernel_format, {"ranges": [{"start": "4G", "end": "1G", "size": "1M"}]}, "end is not above"),
    (crashkernel_format, "1G-512M:64M", "range end 512M is not above its start 1G"),
])
def test_parse_and_format_errors(func, value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        func(value)
