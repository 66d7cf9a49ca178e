# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kernel command line words: split, join, and add or remove arguments.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.

The kernel splits its command line at spaces outside double quotes
(lib/cmdline.c ``next_arg``); a word is ``name`` or ``name=value`` and the
value may be quoted (``name="a b"``). This module keeps every word it does not
manage exactly as it was, in its place.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Matched with fullmatch: "$" alone would also match before a final newline.
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
# Characters a value may not hold: they would break a command line, a
# double-quoted shell assignment in /etc/default/grub, or a BLS options line;
# control characters too (sh drops a NUL without a word, ESC reaches terminals).
_BAD_VALUE = re.compile(r"[\s\"'`$\\;&|<>(){}\x00-\x1f\x7f]")


class CmdlineError(ValueError):
    """A kernel argument that cannot be written; the message says which and why."""


def split(cmdline):
    """Split a command line into words, keeping double-quoted parts whole."""
    words = []
    current = []
    in_quotes = False
    for char in cmdline or "":
        if char == '"':
            in_quotes = not in_quotes
            current.append(char)
        elif char.isspace() and not in_quotes:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


def join(words):
    return " ".join(words)


def word_name(word):
    return word.split("=", 1)[0]


def word_value(word):
    """The value of ``name=value`` (quotes removed), or None for a bare flag."""
    if "=" not in word:
        return None
    value = word.split("=", 1)[1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def make_word(name, value):
    return name if value is None else "%s=%s" % (name, value)


def validate_args(args):
    """Check names and values; return a list of ``(name, [values])``.

    ``args`` maps a name to a value, to None (a bare flag), or to a list of
    values (several words of one name, such as ``crashkernel=1G,high`` and
    ``crashkernel=256M,low``).
    """
    if not isinstance(args, dict) or not args:
        raise CmdlineError("args must be a non-empty mapping of argument names to values,"
                           " got %r" % (args,))
    checked = []
    for name, value in args.items():
        name = str(name)
        if not _NAME.fullmatch(name):
            raise CmdlineError("argument name %r: expected letters, digits, '_', '-' or '.',"
                               " with no spaces, quotes or '='" % name)
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values:
            raise CmdlineError("argument %s: an empty list of values" % name)
        clean = []
        for item in values:
            if item is None:
                clean.append(None)
                continue
            if isinstance(item, bool):
                item = "1" if item else "0"
            item = str(item)
            if item == "" or _BAD_VALUE.search(item):
                raise CmdlineError(
                    "argument %s: value %r would break the kernel command line or the shell"
                    " quoting of the boot loader configuration; expected a non-empty value"
                    " without spaces, quotes, '$', '`', '\\', control characters or shell operators"
                    % (name, item))
            clean.append(item)
        checked.append((name, clean))
    return checked


def apply(words, args, state="present"):
    """Return new words with ``args`` present or absent.

    present: every word of a managed name is replaced by the requested words,
    which take the place of the first old one (or go at the end). absent with
    a None value removes every word of that name; with values, only those.
    Other words keep their order and text.
    """
    checked = validate_args(args)
    result = list(words)
    for name, values in checked:
        positions = [i for i, w in enumerate(result) if word_name(w) == name]
        if state == "present":
            wanted = [make_word(name, v) for v in values]
            insert_at = positions[0] if positions else len(result)
            result = [w for w in result if word_name(w) != name]
            result[insert_at:insert_at] = wanted
        elif state == "absent":
            if values == [None]:
                result = [w for w in result if word_name(w) != name]
            else:
                drop = set(make_word(name, v) for v in values)
                result = [w for w in result if w not in drop]
        else:
            raise CmdlineError("state %r: expected present or absent" % state)
    return result


def managed_values(words, names):
    """``{name: [values]}`` for the given names as they appear in ``words``."""
    found = dict((name, []) for name in names)
    for word in words:
        name = word_name(word)
        if name in found:
            found[name].append(word_value(word))
    return found
