# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks of module options that Ansible's argument spec does not make.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math


def nul_bytes(params, prefix=""):
    """The names of the string options (and list items, and dict keys of suboptions) that hold
    a NUL byte: no path, command line word or file line can hold one, and Python's os calls
    fail on it with an error of their own ("embedded null byte")."""
    found = []
    for name, value in sorted((params or {}).items()):
        where = prefix + str(name).replace("\x00", "\\0")
        if "\x00" in str(name):
            found.append(where)
        elif isinstance(value, str):
            if "\x00" in value:
                found.append(where)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                if isinstance(item, str) and "\x00" in item:
                    found.append("%s[%d]" % (where, index))
                elif isinstance(item, dict):
                    found += nul_bytes(item, "%s[%d]." % (where, index))
        elif isinstance(value, dict):
            found += nul_bytes(value, where + ".")
    return found


def refuse_nul_bytes(module):
    """fail_json, naming the options, when one holds a NUL byte; before anything is read."""
    found = nul_bytes(module.params)
    if found:
        module.fail_json(msg="%s: a NUL byte in the value; expected text without NUL bytes (a path, a"
                             " name or a command line word)" % ", ".join(found))


INT_RANGE = (-(2 ** 63), 2 ** 63 - 1)


def _shown(value):
    text = str(value)
    return text if len(text) <= 40 else "%s... (%d characters)" % (text[:20], len(text))


def number_problems(spec, params):
    """What is wrong with the raw int and float options in ``params`` before Ansible converts
    them: integers beyond 64 bits (Python refuses to read more than 4300 digits; nothing here
    counts that far), floats that are infinite, not a number or beyond a float's range."""
    problems = []
    for name, option in sorted((spec or {}).items()):
        value = (params or {}).get(name)
        kind = option.get("type")
        if value is None or isinstance(value, bool) or kind not in ("int", "float"):
            continue
        number = None
        if isinstance(value, (int, float)):
            number = value
        elif isinstance(value, str):
            text = value.strip().lstrip("+-")
            if text.isdigit() and len(text) > 19:
                number = float("inf")
            elif kind == "float" and text.lower() in ("inf", "infinity", "nan"):
                number = float("nan")
            elif kind == "float":
                try:
                    number = float(value) if len(value) < 400 else float("inf")
                except ValueError:
                    number = None
        if number is None:
            continue
        finite = not isinstance(number, float) or not (math.isnan(number) or math.isinf(number))
        if kind == "int" and finite and INT_RANGE[0] <= number <= INT_RANGE[1]:
            continue
        if kind == "float" and finite and (isinstance(number, float) or abs(number) < 2 ** 1000):
            continue
        problems.append("%s: %s is out of range; expected %s" % (
            name, _shown(value), "an integer from %d to %d" % INT_RANGE if kind == "int"
            else "a finite number"))
    return problems
