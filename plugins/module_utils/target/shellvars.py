# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sourced shell configuration files (KEY=value), edited in place.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.

For /etc/default/kdump-tools (Debian, Ubuntu) and /etc/sysconfig/kdump
(SUSE, Fedora/RHEL). Lines the caller does not change stay byte for byte;
a changed key is replaced where it is assigned, or written after its
commented-out default (``#KEY=...``), or appended. Values are quoted so that
the shell reads back exactly the string given.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")
_COMMENTED = re.compile(r"^\s*#\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")
_SAFE = re.compile(r"^[A-Za-z0-9_@%+=:,./-]*$")


class ShellVarsError(ValueError):
    """A value or file that cannot be written safely; the message names it."""


def quote(value):
    """Quote a string for a sourced shell file; newlines and NUL are refused."""
    value = str(value)
    if "\n" in value or "\r" in value or "\0" in value:
        raise ShellVarsError("value %r contains a line break or NUL; a sourced configuration"
                             " file cannot hold it on one line" % value)
    if value and _SAFE.match(value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def unquote(text):
    """The value of the right-hand side of an assignment, for the quoting forms written here
    and the plain forms distributions use (no expansions are evaluated)."""
    text = text.strip()
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "'":
            end = text.index("'", i + 1) if "'" in text[i + 1:] else len(text)
            out.append(text[i + 1:end])
            i = end + 1
        elif char == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                if text[j] == "\\" and j + 1 < len(text) and text[j + 1] in '"\\$`':
                    j += 1
                out.append(text[j])
                j += 1
            i = j + 1
        elif char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif char.isspace() or char == "#":
            break
        else:
            out.append(char)
            i += 1
    return "".join(out)


class ShellVars(object):
    """A sourced KEY=value file as its lines."""

    def __init__(self, text=""):
        self.lines = (text or "").splitlines(True)

    def render(self):
        return "".join(self.lines)

    def _last_assignment(self, key):
        found = None
        for index, line in enumerate(self.lines):
            match = _ASSIGN.match(line)
            if match and match.group(1) == key:
                found = index
        return found

    def get(self, key, default=None):
        index = self._last_assignment(key)
        if index is None:
            return default
        return unquote(self.lines[index].split("=", 1)[1])

    def keys(self):
        seen = []
        for line in self.lines:
            match = _ASSIGN.match(line)
            if match and match.group(1) not in seen:
                seen.append(match.group(1))
        return seen

    def set(self, key, value):
        """Set ``key`` to ``value``; returns True when the text changed."""
        if not _KEY.match(str(key)):
            raise ShellVarsError("key %r: expected a shell variable name" % (key,))
        if self.get(key) == str(value) and self._last_assignment(key) is not None:
            return False
        new = "%s=%s\n" % (key, quote(value))
        index = self._last_assignment(key)
        if index is not None:
            self.lines[index] = new
            return True
        for position, line in enumerate(self.lines):
            match = _COMMENTED.match(line)
            if match and match.group(1) == key:
                self.lines.insert(position + 1, new)
                return True
        if self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"
        self.lines.append(new)
        return True

    def unset(self, key):
        """Remove every assignment of ``key``; returns True when the text changed."""
        before = len(self.lines)
        self.lines = [line for line in self.lines
                      if not (_ASSIGN.match(line) and _ASSIGN.match(line).group(1) == key)]
        return len(self.lines) != before
