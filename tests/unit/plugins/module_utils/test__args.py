# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The option checks Ansible's argument spec does not make."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.common.args import nul_bytes, number_problems

SPEC = {"n": {"type": "int"}, "f": {"type": "float"}, "s": {"type": "str"}}


@pytest.mark.parametrize("params", [
    {"n": 31}, {"n": "31"}, {"n": -5}, {"n": 2 ** 63 - 1}, {"n": "9223372036854775807"},
    {"n": "abc"}, {"n": True}, {"n": None}, {"n": 1.5}, {"f": 1.5}, {"f": "2.5"}, {"f": 10 ** 300},
    {"f": "x"}, {"s": "9" * 5000}, {},
])
def test_numbers_ansible_handles_itself_pass(params):
    # Out-of-type values ("abc", 1.5 for an int) are left to Ansible, whose message is its own.
    assert number_problems(SPEC, params) == []


@pytest.mark.parametrize("params, named", [
    ({"n": "9" * 5000}, "n: 99999999999999999999... (5000 characters) is out of range"),
    ({"n": "-" + "9" * 30}, "n: -" + "9" * 30 + " is out of range"),
    ({"n": 2 ** 63}, "n: 9223372036854775808 is out of range; expected an integer from"),
    ({"n": 1e308}, "n: 1e+308 is out of range"),
    ({"n": float("nan")}, "n: nan is out of range"),
    ({"f": 10 ** 400}, "f: 10000000000000000000... (401 characters) is out of range; expected a finite number"),
    ({"f": "1e400"}, "f: 1e400 is out of range; expected a finite number"),
    ({"f": "nan"}, "f: nan is out of range"),
    ({"f": float("-inf")}, "f: -inf is out of range"),
    ({"f": "9" * 5000}, "f: 99999999999999999999... (5000 characters) is out of range"),
])
def test_numbers_python_cannot_convert_are_refused(params, named):
    problems = number_problems(SPEC, params)
    assert len(problems) == 1 and problems[0].startswith(named), problems


def test_nul_bytes_are_named():
    assert nul_bytes({"a": "x\x00", "b": ["ok", "n\x00"], "c": {"k\x00": "v"}}) == ["a", "b[1]", "c.k\\0"]
