# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``_text`` for kexec-tools on arm64 kernels whose /proc/kallsyms does not list it.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, standard library only, runs on Python 3.6+; it is also
the program kexec_crash installs on such hosts (``python3 kallsyms.py``), so it imports
nothing of the collection.

kexec-tools' kexec_load path on arm64 (``kexec -p`` without ``-s``, what kdump-tools runs)
takes the kernel image's virtual start, and from it page_offset, from ``_text`` in
/proc/kallsyms. A kernel built without CONFIG_KALLSYMS_ALL (Debian 12's 6.1 arm64 kernels,
which also lack CONFIG_KEXEC_FILE) lists no symbol before ``_stext``: kexec-tools logs "Can't
get the symbol of _text to calculate page_offset", the crash header it writes is wrong, and in
the capture kernel makedumpfile cannot read /proc/vmcore (the dump is empty).

The fix gives kexec-tools a copy of /proc/kallsyms with ``_text`` added, bind-mounted over
/proc/kallsyms for the load only (a kdump-tools.service drop-in at boot, a transient unit when
kexec_crash loads). ``_text`` is at ``_stext`` minus the distance the kernel's System.map
gives between the two (KASLR moves both by the same offset); without a System.map, one
SEGMENT_ALIGN (64 KiB), where arm64's linker script puts ``_stext``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys
import tempfile

KALLSYMS = "/proc/kallsyms"
# The copy with _text (root-only: it holds the kernel's randomised addresses).
PROVIDED = "/run/crashdump-kdump/kallsyms"
SYSTEM_MAP = "/boot/System.map-{release}"
STEXT_OFFSET = 0x10000


def _symbols(text, names):
    """``{name: address}`` of the built-in symbols ``names`` in a kallsyms or System.map text
    (module symbols, ``[module]``, are left out; a zero address counts as unknown)."""
    found = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[2] not in names or parts[2] in found:
            continue
        if len(parts) > 3 and parts[3].startswith("["):
            continue
        try:
            address = int(parts[0], 16)
        except ValueError:
            continue
        if address:
            found[parts[2]] = address
    return found


def text_offset(system_map):
    """``_stext - _text`` from a System.map text, or the arm64 default (64 KiB)."""
    found = _symbols(system_map, ("_text", "_stext"))
    if "_text" in found and "_stext" in found and 0 < found["_stext"] - found["_text"] < 1 << 24:
        return found["_stext"] - found["_text"]
    return STEXT_OFFSET


def missing_text(kallsyms, system_map=None):
    """The address ``_text`` has, when the kallsyms text lacks it; None when it lists it, or
    when it tells nothing (no ``_stext``, or every address hidden as zero by kptr_restrict)."""
    for line in (kallsyms or "").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "_text":
            return None
    stext = _symbols(kallsyms, ("_stext",)).get("_stext")
    offset = text_offset(system_map)
    if not stext or stext < offset:
        return None
    return stext - offset


def with_text(kallsyms, system_map=None):
    """The kallsyms text with a ``_text`` line first, or None when nothing is missing."""
    address = missing_text(kallsyms, system_map)
    if address is None:
        return None
    return "%016x T _text\n%s" % (address, kallsyms)


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def write_private(path, text):
    """Write ``text`` to ``path`` atomically, root-only (directory 0700, file 0600)."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    os.chmod(directory, 0o700)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".kallsyms-")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def provide(root="/", release=None):
    """Write (or remove) the copy for the running kernel; ``(path, address)``, address None
    when /proc/kallsyms needs no copy (and then there is none)."""
    release = release or os.uname()[2]
    kallsyms = _read(os.path.join(root, KALLSYMS.lstrip("/")))
    system_map = _read(os.path.join(root, SYSTEM_MAP.format(release=release).lstrip("/")))
    target = os.path.join(root, PROVIDED.lstrip("/"))
    text = with_text(kallsyms, system_map)
    if text is None:
        if os.path.exists(target):
            os.unlink(target)
        return target, None
    write_private(target, text)
    return target, missing_text(kallsyms, system_map)


def main(argv=None):
    """``python3 kallsyms.py``: run by the kdump-tools.service drop-in before it loads."""
    try:
        path, address = provide()
    except (IOError, OSError) as exc:
        sys.stderr.write("crashdump-kdump kallsyms: %s\n" % exc)
        return 1
    if address is None:
        sys.stdout.write("crashdump-kdump kallsyms: /proc/kallsyms lists _text; no copy needed\n")
    else:
        sys.stdout.write("crashdump-kdump kallsyms: %s has _text at 0x%x for kexec\n"
                         % (path, address))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
