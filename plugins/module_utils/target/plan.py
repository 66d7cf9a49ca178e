# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One distribution-neutral dump target, written in each family's native configuration.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

``Target`` (target/types.py) validates the description; ``plan(family, target, files,
facts)`` returns the new text of every file to change (None: delete), whether the kdump
initrd must be rebuilt and the capture kernel reloaded, and what the dump location and
collector will be. ``read_back(family, files)`` parses the native files back into the
neutral description (used by kdump_info); ``read_back(f, plan(f, t).files) == t.describe()``
for every family, type and option the family supports (tests/unit: the generated
round-trip test). The writer and reader of each family are one class: target/debian.py,
target/redhat.py, target/suse.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.crashdump.kdump.plugins.module_utils.family import records
from ansible_collections.crashdump.kdump.plugins.module_utils.target.common import (
    Plan,
    check_dump_dir,
    choose_compression,
    fstab_mount,
    join_under,
    known_hosts_name,
    makedumpfile_words,
    parse_fstab,
    pin,
    parse_makedumpfile_version,
    system_dir,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.debian import DebianTarget
from ansible_collections.crashdump.kdump.plugins.module_utils.target.kdumpconf import KdumpConfError
from ansible_collections.crashdump.kdump.plugins.module_utils.target.redhat import RedhatTarget
from ansible_collections.crashdump.kdump.plugins.module_utils.target.shellvars import ShellVarsError
from ansible_collections.crashdump.kdump.plugins.module_utils.target.suse import SuseTarget
from ansible_collections.crashdump.kdump.plugins.module_utils.target.types import (
    OPTIONS,
    TYPES,
    Target,
    TargetError,
    nfs_join,
    parse_host_key,
)

# Re-exported for the modules and tests, which import the target API from here.
__all__ = ["FAMILIES", "FILES", "KNOWN_HOSTS", "MAIN_FILE", "OPTIONS", "PACKAGE", "PRIVATE_FILES",
           "Plan", "SHELL_FILES", "TYPES", "Target", "TargetError", "check_dump_dir",
           "choose_compression", "detect_family", "dump_dir", "expected_dump_bytes", "fstab_mount",
           "known_hosts_name", "makedumpfile_words", "nfs_join", "parse_fstab", "parse_host_key",
           "parse_makedumpfile_version", "parse_meminfo", "pin", "plan", "read_back",
           "system_dir"]
FAMILIES = records.NAMES
DEBIAN_CONF, DEBIAN_SSH_CONFIG, DEBIAN_KNOWN_HOSTS = records.DEBIAN.files
REDHAT_CONF, REDHAT_SYSCONFIG, REDHAT_KNOWN_HOSTS = records.REDHAT.files
(SUSE_SYSCONFIG,) = records.SUSE.files
WRITERS = {"debian": DebianTarget(), "redhat": RedhatTarget(), "suse": SuseTarget()}
FILES = dict((f.name, f.files) for f in records.FAMILIES)
# Files whose absence means the family's kdump tools are not installed.
MAIN_FILE = dict((f.name, f.config) for f in records.FAMILIES)
# The files that are shell (checked with sh -n before they are written).
SHELL_FILES = tuple(sorted(set(p for f in records.FAMILIES for p in (f.config, f.sysconfig)
                               if p and p != records.REDHAT.config)))
# The files that hold a pinned host key (root-only), per family (SUSE: KDUMP_HOST_KEY).
KNOWN_HOSTS = {"debian": DEBIAN_KNOWN_HOSTS, "redhat": REDHAT_KNOWN_HOSTS}
PRIVATE_FILES = tuple(sorted(KNOWN_HOSTS.values()))
# The package that owns each family's configuration, for messages.
PACKAGE = dict((f.name, f.tool_label) for f in records.FAMILIES)


def _writer(family):
    if family not in WRITERS:
        raise TargetError("family: %r is not supported; expected one of %s"
                          % (family, ", ".join(FAMILIES)))
    return WRITERS[family]


def _require(files, family):
    record = records.get(family)
    if files.get(record.config) is None:
        raise TargetError("%s does not exist: install %s first (the dump configuration is"
                          " written into the package's own file)" % (record.config, record.tool_label))


def plan(family, target, files, facts, installed=True):
    """The changes that make ``files`` (path -> text or None) describe ``target``.

    ``facts``: ``compressions`` (set from makedumpfile -v), ``fstab`` (text),
    ``device_aliases`` and ``device_fstype`` (from blkid, for fs targets),
    ``auto_reset_crashkernel`` (kdump-utils: True/False to write, None to leave).
    With ``installed=False`` a missing package file counts as empty (to check a
    target before the package is installed).
    """
    writer = _writer(family)
    if installed:
        _require(files, family)
    else:
        files = dict(files)
        files[MAIN_FILE[family]] = files.get(MAIN_FILE[family]) or ""
    compression = choose_compression(target.compression, facts.get("compressions") or set(["zlib"]))
    try:
        result = writer.plan(target, files, facts, compression)
    except (ShellVarsError, KdumpConfError) as exc:
        raise TargetError(str(exc))
    result.compression = compression
    result.location = target.location(result.mountpoint)
    # The directory this host makes root's and 0700, and an SSH server's directory.
    check_dump_dir(result.local_dir)
    if target.type == "ssh":
        check_dump_dir(target.path, "path (on the dump server)")
    return result


def read_back(family, files):
    """The neutral description of what the native files configure now (what the family's
    tool would use, its defaults filled in), or None when the package's file is missing.
    A ``problems`` list says what the tool would refuse (two dump targets)."""
    writer = _writer(family)
    if files.get(MAIN_FILE[family]) is None:
        return None
    try:
        return writer.read(files)
    except (ShellVarsError, KdumpConfError) as exc:
        raise TargetError(str(exc))


def dump_dir(description, fstab_text=""):
    """The directory on this host that dumps of a read-back description land in, or None
    (a remote or raw target, or an fs target whose device is not in fstab)."""
    if not description:
        return None
    if description.get("type") == "local":
        return description.get("path")
    if description.get("type") == "fs":
        mount = fstab_mount(fstab_text, description.get("device"))
        return join_under(mount[0], description.get("path") or "/") if mount else None
    return None


def detect_family(os_release):
    """The kdump family name of an /etc/os-release text (family/records.py), or None."""
    return records.detect_name(os_release)


# --- expected dump size ------------------------------------------------------

def parse_meminfo(text):
    """/proc/meminfo as bytes per field."""
    values = {}
    for line in (text or "").splitlines():
        match = re.match(r"^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?", line)
        if match:
            values[match.group(1)] = int(match.group(2)) * 1024
    return values


def expected_dump_bytes(meminfo, dump_level):
    """An upper estimate of the dump's size, before compression: the RAM that makedumpfile
    keeps at ``dump_level`` judged from /proc/meminfo now, plus 10 % and 16 MiB for headers,
    bitmaps and growth. Bit 2/4 drops page cache (Cached + Buffers, bit 2 keeps shared
    memory), bit 8 user pages (AnonPages), bit 16 free pages (MemFree); bit 1 (zero pages)
    cannot be judged and is not counted. Compression only makes the dump smaller."""
    total = meminfo.get("MemTotal", 0)
    keep = total
    if dump_level & 4:
        keep -= meminfo.get("Cached", 0) + meminfo.get("Buffers", 0)
    elif dump_level & 2:
        keep -= max(0, meminfo.get("Cached", 0) - meminfo.get("Shmem", 0)) + meminfo.get("Buffers", 0)
    if dump_level & 8:
        keep -= meminfo.get("AnonPages", 0)
    if dump_level & 16:
        keep -= meminfo.get("MemFree", 0)
    keep = max(keep, min(total, 64 << 20))
    return int(keep * 1.1) + (16 << 20)
