# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Boot Loader Specification entries, /etc/kernel/cmdline, zipl.conf and grubby output.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.

Every edit keeps the lines it does not change byte for byte.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import shlex

from ansible_collections.crashdump.kdump.plugins.module_utils.boot.cmdline import (
    apply,
    join,
    split,
)


class BlsError(ValueError):
    """A boot entry file that cannot be read or edited; the message names it."""


_KEY = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_-]*)(\s+)(.*?)(\s*)$")


def parse_entry(text):
    """A BLS entry as ``{key: value}`` (the first of each key; options joined)."""
    entry = {}
    options = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _KEY.match(line)
        if not match:
            continue
        key, value = match.group(2), match.group(4)
        if key == "options":
            options.append(value)
        elif key not in entry:
            entry[key] = value
    entry["options"] = " ".join(options)
    return entry


def edit_entry_options(text, args, state, grubenv_kernelopts=None):
    """New entry text with ``args`` applied to its ``options`` line.

    An entry whose options are ``$kernelopts`` (RHEL 8) takes its arguments
    from grubenv; such an entry is returned unchanged and the caller edits
    grubenv (grubby does that). Without an options line one is added.
    """
    lines = text.splitlines(True)
    for i, line in enumerate(lines):
        match = _KEY.match(line.rstrip("\n"))
        if match and match.group(2) == "options":
            if "$kernelopts" in match.group(4):
                return text
            words = apply(split(match.group(4)), args, state)
            newline = "\n" if line.endswith("\n") else ""
            lines[i] = "%soptions%s%s%s" % (match.group(1), match.group(3), join(words), newline)
            return "".join(lines)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    words = apply([], args, state)
    if words:
        lines.append("options %s\n" % join(words))
    return "".join(lines)


def drop_entry_words(text, names):
    """Entry text with the words named ``names`` (``crashkernel``) taken off its options
    lines, ``$kernelopts`` and every other word kept."""
    lines = text.splitlines(True)
    for i, line in enumerate(lines):
        match = _KEY.match(line.rstrip("\n"))
        if match and match.group(2) == "options":
            words = [w for w in split(match.group(4)) if w.split("=", 1)[0] not in names]
            newline = "\n" if line.endswith("\n") else ""
            lines[i] = "%soptions%s%s%s" % (match.group(1), match.group(3), join(words), newline)
    return "".join(lines)


def edit_kernel_cmdline_file(text, args, state):
    """/etc/kernel/cmdline: one line of arguments, seeds kernels installed later."""
    body = (text or "").strip("\n")
    if "\n" in body:
        raise BlsError("/etc/kernel/cmdline has several lines; expected one line of kernel"
                       " arguments")
    words = apply(split(body), args, state)
    return join(words) + "\n"


# --- zipl.conf ----------------------------------------------------------------------

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_PARAMETERS = re.compile(r'^(\s*parameters\s*=\s*)(["\']?)(.*?)(\2)(\s*)$')


def zipl_sections(text):
    """``{section: parameters}`` of /etc/zipl.conf (sections without parameters map to None)."""
    sections = {}
    current = None
    for line in text.splitlines():
        header = _SECTION.match(line)
        if header:
            current = header.group(1).strip()
            sections[current] = None
            continue
        if current is not None:
            match = _PARAMETERS.match(line)
            if match:
                sections[current] = match.group(3)
    return sections


def zipl_default(text):
    """The section named by ``default=`` in [defaultboot], or None."""
    in_defaultboot = False
    for line in text.splitlines():
        header = _SECTION.match(line)
        if header:
            in_defaultboot = header.group(1).strip() == "defaultboot"
            continue
        if in_defaultboot:
            match = re.match(r"^\s*default\s*=\s*(\S+)\s*$", line)
            if match:
                return match.group(1)
    return None


def edit_zipl(text, args, state, sections=None):
    """Apply ``args`` to the ``parameters=`` of the boot sections (all, or those named)."""
    lines = text.splitlines(True)
    current = None
    seen = set()
    for i, line in enumerate(lines):
        header = _SECTION.match(line)
        if header:
            current = header.group(1).strip()
            continue
        if current in (None, "defaultboot") or (sections and current not in sections):
            continue
        match = _PARAMETERS.match(line.rstrip("\n"))
        if match:
            words = apply(split(match.group(3)), args, state)
            newline = "\n" if line.endswith("\n") else ""
            lines[i] = '%s"%s"%s%s' % (match.group(1), join(words), match.group(5), newline)
            seen.add(current)
    missing = set(sections or ()) - seen
    if missing:
        raise BlsError("/etc/zipl.conf: no parameters= line in section(s) %s"
                       % ", ".join(sorted(missing)))
    return "".join(lines)


# --- grubby ----------------------------------------------------------------------------

def parse_grubby_info(text):
    """``grubby --info=...`` output -> list of ``{index, kernel, args, root, title, id}``."""
    entries = []
    current = None
    for line in text.splitlines():
        if "=" not in line:
            continue
        key, _sep, value = line.partition("=")
        key = key.strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if key == "index":
            current = {"index": int(value) if value.isdigit() else value}
            entries.append(current)
        elif current is not None:
            current[key] = value
    return entries


def grubby_argv(grubby, kernels, args, state):
    """The grubby command for ``args`` (argv list; values never pass through a shell)."""
    words = []
    for name, values in args:
        for value in values:
            words.append(name if value is None else "%s=%s" % (name, value))
    target = "--update-kernel=%s" % ("ALL" if kernels == "all" else
                                     "DEFAULT" if kernels == "default" else kernels)
    if state == "present":
        names = sorted(set(name for name, _values in args))
        return [[grubby, target, "--remove-args=%s" % " ".join(names)],
                [grubby, target, "--args=%s" % " ".join(words)]]
    if all(values == [None] for _name, values in args):
        return [[grubby, target, "--remove-args=%s" % " ".join(name for name, _v in args)]]
    return [[grubby, target, "--remove-args=%s" % " ".join(words)]]


def quote_for_display(argv):
    """An argv list as a shell would need it, for messages only."""
    return " ".join(shlex.quote(a) for a in argv)
