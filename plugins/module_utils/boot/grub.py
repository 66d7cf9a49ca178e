# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""GRUB configuration text: the managed grub.d drop-in, /etc/default/grub, grub.cfg.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.

On Debian and Ubuntu the collection never edits files it does not own: it
writes one drop-in, /etc/default/grub.d/zz-crashdump-kdump.cfg, which
grub-mkconfig sources after every other file (distributions drop their own
``crashkernel=`` there, Debian's kdump-tools.cfg among them). The drop-in
strips the managed arguments from both GRUB_CMDLINE_LINUX variables, whatever
set them, and appends the requested words, so the EFFECTIVE value is the
requested one. Its first line records the managed arguments as JSON, so the
module can read back what it manages.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.crashdump.kdump.plugins.module_utils.boot.cmdline import (
    CmdlineError,
    make_word,
    split,
    validate_args,
    word_name,
    word_value,
)

DROPIN = "/etc/default/grub.d/zz-crashdump-kdump.cfg"
HEADER = "# crashdump.kdump managed arguments: "
VARIABLES = ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT")

# Sourced the way grub-mkconfig does, then prints both variables NUL-separated.
# $1 is the root directory (/ on a host).
EFFECTIVE_SCRIPT = r"""
set -e
root=$1
if [ -f "$root/etc/default/grub" ]; then . "$root/etc/default/grub"; fi
for x in "$root"/etc/default/grub.d/*.cfg; do
  if [ -e "$x" ]; then . "$x"; fi
done
printf '%s\0%s' "${GRUB_CMDLINE_LINUX-}" "${GRUB_CMDLINE_LINUX_DEFAULT-}"
"""


class GrubError(ValueError):
    """A GRUB file that cannot be read or written as asked; the message says which."""


def parse_dropin(text):
    """The managed arguments recorded in the drop-in: ``{name: [values] or None}``.

    A value list means "present with these values"; None means "absent".
    """
    if not text:
        return {}
    first = text.splitlines()[0] if text.splitlines() else ""
    if not first.startswith(HEADER):
        raise GrubError("%s does not start with the crashdump.kdump header; it was not"
                        " written by this collection, so it is left alone" % DROPIN)
    try:
        data = json.loads(first[len(HEADER):])
    except ValueError:
        raise GrubError("%s: the header line is not valid JSON: %r" % (DROPIN, first))
    if not isinstance(data, dict):
        raise GrubError("%s: the header line holds %r, expected a mapping" % (DROPIN, data))
    return data


def merge(managed, args, state, others=None):
    """New managed arguments after applying ``args`` with ``state``.

    With absent, an argument the drop-in no longer sets stays recorded as
    "strip" (None) while another file still adds it: ``others`` are the words
    the other files put on the command line. Without ``others`` (unknown) it
    is always kept as "strip".
    """
    result = dict(managed)
    for name, values in validate_args(args):
        if state == "present":
            result[name] = values
            continue
        if state != "absent":
            raise CmdlineError("state %r: expected present or absent" % state)
        current = result.pop(name, None) or []
        if values != [None]:
            kept = [v for v in current if v not in values]
            if kept:
                result[name] = kept
                continue
        if others is None or any(word_name(w) == name and (values == [None] or word_value(w) in values)
                                 for w in others):
            result[name] = None
    return result


def render_dropin(managed, variable="GRUB_CMDLINE_LINUX_DEFAULT"):
    """The drop-in text for the managed arguments (None when nothing is managed)."""
    if not managed:
        return None
    if variable not in VARIABLES:
        raise GrubError("variable %r: expected one of %s" % (variable, ", ".join(VARIABLES)))
    names = sorted(managed)
    validate_args(dict((n, managed[n] if managed[n] is not None else [None]) for n in names))
    words = []
    for name in names:
        for value in managed[name] or []:
            words.append(make_word(name, value))
    patterns = " | ".join("%s | %s=*" % (n, n) for n in names)
    lines = [
        HEADER + json.dumps(managed, sort_keys=True, separators=(",", ":")),
        "# Written by the crashdump.kdump.kernel_cmdline module; edit with it, not by hand.",
        "# Sourced last by grub-mkconfig: removes the managed arguments from both",
        "# GRUB_CMDLINE_LINUX variables, whatever set them, then adds the requested ones.",
        "crashdump_kdump_strip() {",
        "  crashdump_kdump_out=",
        "  case $- in *f*) crashdump_kdump_noglob=1 ;; *) crashdump_kdump_noglob=; set -f ;; esac",
        "  for crashdump_kdump_word in $1; do",
        "    case $crashdump_kdump_word in",
        "      %s) ;;" % patterns,
        '      *) crashdump_kdump_out="${crashdump_kdump_out:+$crashdump_kdump_out }$crashdump_kdump_word" ;;',
        "    esac",
        "  done",
        '  [ -n "$crashdump_kdump_noglob" ] || set +f',
        "}",
    ]
    for var in VARIABLES:
        lines.append('crashdump_kdump_strip "${%s-}"' % var)
        if var == variable and words:
            lines.append('%s="${crashdump_kdump_out:+$crashdump_kdump_out }%s"' % (var, " ".join(words)))
        else:
            lines.append('%s="$crashdump_kdump_out"' % var)
    lines.append("unset -f crashdump_kdump_strip")
    lines.append("unset crashdump_kdump_out crashdump_kdump_word crashdump_kdump_noglob")
    return "\n".join(lines) + "\n"


_ASSIGN = re.compile(r'^(\s*)(export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$')


def _shell_unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def get_shell_var(text, name):
    """The last plain assignment of ``name`` in a sourced shell file, or None."""
    found = None
    for line in text.splitlines():
        match = _ASSIGN.match(line)
        if match and match.group(3) == name:
            found = _shell_unquote(match.group(4))
    return found


def set_shell_var(text, name, value):
    """Set ``name="value"`` in place (its last assignment), or append it.

    Other lines, comments and assignments stay byte for byte.
    """
    if any(c in value for c in '"$`\\'):
        raise GrubError("value %r for %s would break the shell quoting of the file" % (value, name))
    lines = text.splitlines(True)
    index = None
    for i, line in enumerate(lines):
        match = _ASSIGN.match(line.rstrip("\n"))
        if match and match.group(3) == name:
            index = i
    new = '%s="%s"\n' % (name, value)
    if index is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(new)
    else:
        match = _ASSIGN.match(lines[index].rstrip("\n"))
        lines[index] = "%s%s%s" % (match.group(1), match.group(2) or "", new)
    return "".join(lines)


# --- grub.cfg ------------------------------------------------------------------------

_MENUENTRY = re.compile(r"^\s*menuentry\s+(['\"])(.*?)\1(.*)\{\s*$")
_SUBMENU = re.compile(r"^\s*submenu\s+(['\"])(.*?)\1(.*)\{\s*$")
_ID = re.compile(r"\$menuentry_id_option\s+'([^']*)'")
_LINUX = re.compile(r"^\s*linux(?:efi|16)?\s+(\S+)\s*(.*)$")


def parse_grub_cfg(text):
    """Menu entries of a generated grub.cfg, in menu order.

    Each is ``{title, id, path (e.g. "1>2"), kernel, cmdline}``; entries in a
    submenu have a ``parent>child`` path as GRUB_DEFAULT uses.
    """
    entries = []
    stack = []          # (kind, index, title, id)
    top = [0]           # next index at each level
    current = None
    for line in text.splitlines():
        sub = _SUBMENU.match(line)
        entry = _MENUENTRY.match(line)
        if sub or entry:
            match = sub or entry
            ident = _ID.search(match.group(3))
            index = top[-1]
            top[-1] += 1
            if sub:
                stack.append(("submenu", index, match.group(2), ident.group(1) if ident else None))
                top.append(0)
            else:
                path = ">".join([str(s[1]) for s in stack] + [str(index)])
                current = {"title": match.group(2), "id": ident.group(1) if ident else None,
                           "path": path, "kernel": None, "cmdline": None,
                           "parents": [s[2] for s in stack],
                           "parent_ids": [s[3] for s in stack]}
                entries.append(current)
                stack.append(("entry", index, match.group(2), None))
            continue
        if current is not None and stack and stack[-1][0] == "entry":
            linux = _LINUX.match(line)
            if linux:
                current["kernel"] = linux.group(1)
                current["cmdline"] = linux.group(2).strip()
        if line.strip() == "}" and stack:
            kind = stack.pop()[0]
            if kind == "submenu":
                top.pop()
            else:
                current = None
    return entries


def default_entry(entries, grub_default="0", saved_entry=None):
    """The entry GRUB boots: GRUB_DEFAULT as index, path, id or title, or 'saved'."""
    if not entries:
        raise GrubError("grub.cfg has no menu entry")
    wanted = grub_default if grub_default not in (None, "") else "0"
    if wanted == "saved":
        wanted = saved_entry if saved_entry else "0"
    for entry in entries:
        if wanted in (entry["path"], entry["id"], entry["title"]):
            return entry
        full_title = ">".join(entry["parents"] + [entry["title"]])
        full_id = ">".join([p or "" for p in entry["parent_ids"]] + [entry["id"] or ""])
        if wanted in (full_title, full_id):
            return entry
    # GRUB falls back to the first entry when the default does not exist.
    return entries[0]


def cmdline_words(entry):
    """The words of an entry's kernel command line (without BOOT_IMAGE)."""
    return split(entry["cmdline"] or "")
