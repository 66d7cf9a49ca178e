# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""/etc/kdump.conf of kdump-utils (Fedora, RHEL), edited in place.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.

The file holds one directive per line (``directive value...``) and ``#``
comments. Values are read as kdumpctl reads them (kdump-lib-initramfs.sh's
kdump_get_conf_val): everything from a ``#`` on is a comment, trailing spaces go,
and the last line of a directive wins. kdumpctl accepts one dump target: ``raw``,
``nfs``, ``ssh``, ``virtiofs``, a filesystem type followed by a device, UUID= or
LABEL=, or a ``--mount`` in ``dracut_args`` (which kdumpctl counts as a target).
Lines the caller does not change stay byte for byte.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

FS_TYPES = ("ext2", "ext3", "ext4", "xfs", "btrfs", "minix", "virtiofs")
TARGET_DIRECTIVES = ("raw", "nfs", "ssh") + FS_TYPES
KNOWN = TARGET_DIRECTIVES + (
    "path", "sshkey", "core_collector", "kdump_post", "kdump_pre", "extra_bins",
    "extra_modules", "failure_action", "default", "final_action", "force_rebuild",
    "force_no_rebuild", "dracut_args", "fence_kdump_args", "fence_kdump_nodes",
    "auto_reset_crashkernel",
)
_COMMENTED = re.compile(r"^#([A-Za-z_][A-Za-z0-9_]*)\s+\S")
_LINE = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*)(\s+)(.*?)(\s*)$")
# dracut_args' --mount "SOURCE MOUNTPOINT FSTYPE [OPTIONS]" (quoted with " or ').
_MOUNT = re.compile(r"""--mount\s+(?:"([^"]*)"|'([^']*)'|(\S+))""")


class KdumpConfError(ValueError):
    """A directive or value that kdumpctl would not read as meant; the message says which."""


def check_value(directive, value):
    value = str(value)
    if not value or "\n" in value or "\r" in value or "#" in value:
        raise KdumpConfError("/etc/kdump.conf %s: value %r must be one non-empty line without"
                             " '#'" % (directive, value))
    return value


class KdumpConf(object):
    def __init__(self, text=""):
        self.lines = (text or "").splitlines(True)

    def render(self):
        return "".join(self.lines)

    def _entries(self):
        for index, line in enumerate(self.lines):
            # kdumpctl: a comment runs from '#' to the end of the line, then trailing space
            # goes; kdump-utils (1.0.61) also takes one pair of double quotes off the value.
            text = line.rstrip("\n").split("#", 1)[0].rstrip()
            match = _LINE.match(text)
            if match and match.group(4):
                value = match.group(4)
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                yield index, match.group(2), value

    def problems(self):
        """What kdumpctl's parse_config refuses in this file, one message each: a directive
        twice, a directive without a value, an unknown directive, two dump targets, two
        --mount in one dracut_args, carriage returns."""
        found = []
        seen = {}
        for index, line in enumerate(self.lines):
            text = line.rstrip("\n").split("#", 1)[0].strip()
            if not text:
                continue
            words = text.split(None, 1)
            name = words[0]
            if "\r" in line:
                found.append("/etc/kdump.conf line %d ends in a carriage return (CRLF), which"
                             " kdumpctl keeps in the value" % (index + 1))
            if len(words) < 2 or not words[1].strip():
                found.append("/etc/kdump.conf line %d: %s has no value" % (index + 1, name))
            elif name in seen:
                found.append("/etc/kdump.conf: %s is set twice (lines %d and %d); kdumpctl"
                             " refuses duplicated options" % (name, seen[name] + 1, index + 1))
            elif name not in KNOWN:
                found.append("/etc/kdump.conf line %d: %s is not a kdump.conf option"
                             % (index + 1, name))
            seen.setdefault(name, index)
        for _index, name, value in self._entries():
            if name == "dracut_args" and len(_MOUNT.findall(value)) > 1:
                found.append("/etc/kdump.conf: dracut_args has more than one --mount")
            if name == "ssh" and not re.match(r"^[^@\s]+@\S+$", value):
                found.append("/etc/kdump.conf: ssh %s is not USER@HOST, which kdumpctl"
                             " requires" % value)
            elif name == "ssh" and "@[" in value:
                found.append("/etc/kdump.conf: ssh %s: kdumpctl hands the brackets to ssh,"
                             " which cannot resolve them; write the address bare (%s)"
                             % (value, value.replace("[", "").replace("]", "")))
        targets = self.targets()
        if len(targets) > 1:
            found.append("/etc/kdump.conf: more than one dump target (%s); kdumpctl refuses to"
                         " start" % ", ".join(" ".join(t) for t in targets))
        return found

    def get(self, directive):
        """The value of the last ``directive`` line, or None."""
        found = None
        for _index, name, value in self._entries():
            if name == directive:
                found = value
        return found

    def directives(self):
        return [(name, value) for _index, name, value in self._entries()]

    def target(self):
        """``(type, value)`` of the dump target, or None for the default (local /var/crash)."""
        found = self.targets()
        return found[-1][:2] if found else None

    def targets(self):
        """Every dump target kdumpctl sees, in file order: ``(directive, value)``, and
        ``("mount", source, fstype)`` for a ``--mount`` in dracut_args."""
        found = []
        for _index, name, value in self._entries():
            if name in TARGET_DIRECTIVES:
                found.append((name, value))
            elif name == "dracut_args":
                for match in _MOUNT.finditer(value):
                    words = (match.group(1) or match.group(2) or match.group(3) or "").split()
                    if len(words) >= 3:
                        found.append(("mount", words[0], words[2]))
        return found

    def drop_dracut_mounts(self):
        """Remove every ``--mount ...`` from dracut_args (a second dump target to kdumpctl);
        a dracut_args line left empty goes. True when changed."""
        changed = False
        for index, name, value in list(self._entries()):
            if name != "dracut_args" or not _MOUNT.search(value):
                continue
            rest = " ".join(_MOUNT.sub(" ", value).split())
            self.lines[index] = "dracut_args %s\n" % rest if rest else ""
            changed = True
        self.lines = [line for line in self.lines if line != ""]
        return changed

    def set(self, directive, value):
        """Set one directive in place (its last line), or append it. True when changed."""
        if directive not in KNOWN:
            raise KdumpConfError("/etc/kdump.conf: unknown directive %r; expected one of %s"
                                 % (directive, ", ".join(KNOWN)))
        value = check_value(directive, value)
        if self.get(directive) == value and sum(
                1 for _i, name, _v in self._entries() if name == directive) == 1:
            return False
        last = None
        for index, name, _value in self._entries():
            if name == directive:
                last = index
        new = "%s %s\n" % (directive, value)
        if last is not None:
            # One line per directive: kdumpctl refuses a duplicated option.
            self.lines[last] = new
            drop = set(i for i, name, _v in self._entries() if name == directive and i != last)
            self.lines = [line for i, line in enumerate(self.lines) if i not in drop]
            return True
        # After the package's commented example of the directive, if there is one.
        for index in range(len(self.lines) - 1, -1, -1):
            match = _COMMENTED.match(self.lines[index])
            if match and match.group(1) == directive:
                self.lines.insert(index + 1, new)
                return True
        if self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"
        self.lines.append(new)
        return True

    def unset(self, directive):
        before = len(self.lines)
        drop = set(index for index, name, _value in self._entries() if name == directive)
        self.lines = [line for index, line in enumerate(self.lines) if index not in drop]
        return len(self.lines) != before

    def set_target(self, kind, value):
        """Make ``kind value`` the only dump target. True when changed."""
        if kind not in TARGET_DIRECTIVES:
            raise KdumpConfError("/etc/kdump.conf: %r is not a dump target; expected one of %s"
                                 % (kind, ", ".join(TARGET_DIRECTIVES)))
        value = check_value(kind, value)
        if self.target() == (kind, value) and sum(
                1 for _i, name, _v in self._entries() if name in TARGET_DIRECTIVES) == 1:
            return False
        changed = False
        for other in TARGET_DIRECTIVES:
            if other != kind:
                changed = self.unset(other) or changed
        return self.set(kind, value) or changed
