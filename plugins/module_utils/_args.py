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
