# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kdump_target module's work: validate the target, plan the family's files, run the
pre-flight, and say what to write.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

``TargetWork(host).run(params)`` returns ``(result, error, writes)``: the module's result,
the message to fail with (None on success) and, when files must change, a ``Writes`` the
module applies atomically (with the validators and modes it holds). Files are read below
``host.root``; commands go through ``host.runner``; so a test runs every family's branch.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import tempfile

from ansible_collections.crashdump.kdump.plugins.module_utils.family import records
from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.crashkernel import (
    CrashkernelError,
    parse_size,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.plan import (
    KNOWN_HOSTS,
    OPTIONS,
    PRIVATE_FILES,
    FILES,
    REDHAT_KNOWN_HOSTS,
    SHELL_FILES,
    Target,
    TargetError,
    check_dump_dir,
    known_hosts_name,
    parse_makedumpfile_version,
    plan,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.memusage import (
    estimate,
    free_page_warning,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.preflight import preflight


class Writes(object):
    """What the module writes: ``files`` (path -> text, None deletes), the shell check of
    each shell file, root-only modes, and the dump directory to create or restrict."""

    def __init__(self, files, dump_dir=None, dir_mode=0o700):
        self.files = files
        self.validate = dict((path, ["sh", "-n"]) for path in SHELL_FILES)
        self.modes = dict((path, 0o600) for path in PRIVATE_FILES)
        self.dump_dir = dump_dir
        self.dir_mode = dir_mode


def parse_mode(value):
    try:
        mode = int(str(value), 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise TargetError("dump_dir_mode: %r is not a permission mode; expected octal such as"
                          " '0700'" % (value,))
    return mode


def dump_dir_change(path, mode):
    """What the dump directory needs: None, 'create', 'restrict', or 'shared' for a sticky
    directory other programs write to (Ubuntu's apport uses /var/crash, mode 1777), which
    is left alone."""
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return "create"
    if st.st_mode & stat.S_ISVTX:
        return "shared"
    if stat.S_IMODE(st.st_mode) != mode or st.st_uid != 0 or st.st_gid != 0:
        return "restrict"
    return None


class TargetWork(object):
    """``as_root``: whether the module runs as root, which makedumpfile --mem-usage needs
    (default: the effective user id says)."""

    def __init__(self, host, as_root=None):
        self.host = host
        self.run_cmd = host.runner
        self.as_root = os.geteuid() == 0 if as_root is None else as_root

    def read(self, absolute):
        try:
            with open(self.host.path(absolute)) as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    def device_facts(self, device):
        """Aliases (DEVNAME, UUID=, LABEL=, PARTUUID=) and the filesystem type of ``device``."""
        blkid = self.run_cmd.which("blkid")
        if not blkid or not device:
            return (), None
        if device.startswith("/dev/"):
            argv = [blkid, "-o", "export", device]
        else:
            argv = [blkid, "-o", "export", "-t", device]
        rc, out, _err = self.run_cmd.probe(argv)
        if rc != 0:
            return (), None
        fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        aliases = [fields[k] for k in ("DEVNAME",) if k in fields]
        aliases += ["%s=%s" % (k, fields[k]) for k in ("UUID", "LABEL", "PARTUUID") if k in fields]
        if "DEVNAME" in fields:
            aliases.append(os.path.realpath(fields["DEVNAME"]))
        return tuple(aliases), fields.get("TYPE")

    def run(self, p):
        """``(result, error, writes)`` for the module's parameters ``p``."""
        result = dict(changed=False)
        try:
            return self._run(p, result)
        except TargetError as exc:
            return result, str(exc), None

    def _run(self, p, result):
        dir_mode = parse_mode(p["dump_dir_mode"])
        family = p["family"]
        if family == "auto":
            family = records.detect_name(self.read("/etc/os-release"))
            if family is None:
                return result, ("/etc/os-release: cannot tell the kdump implementation of this"
                                " distribution; expected a Debian, Ubuntu, Fedora, RHEL-like or"
                                " SUSE ID; set family"), None
        result["family"] = family
        target = Target(**dict((name, p.get(name)) for name in OPTIONS))

        makedumpfile = self.run_cmd.which("makedumpfile")
        version, compressions = None, set(["zlib"])
        if makedumpfile:
            rc, out, err = self.run_cmd.probe([makedumpfile, "-v"])
            version, compressions = parse_makedumpfile_version(out + err)
        facts = dict(compressions=compressions, fstab=self.read("/etc/fstab") or "",
                     auto_reset_crashkernel=p.get("auto_reset_crashkernel"))
        if target.type == "fs":
            facts["device_aliases"], facts["device_fstype"] = self.device_facts(target.device)
        files = dict((path, self.read(path)) for path in FILES[family])
        change = plan(family, target, files, facts, installed=p["state"] == "present")
        # The directory as it is on this host: a symbolic link must not lead the chmod elsewhere.
        local = self.host.path(change.local_dir) if change.local_dir else None
        if local and os.path.lexists(local):
            check_dump_dir("/" + os.path.relpath(os.path.realpath(local), self.host.path("/")),
                           "dump directory %s (resolved)" % change.local_dir)

        if p["required_space"]:
            try:
                need = parse_size(p["required_space"])
            except CrashkernelError as exc:
                return result, "required_space: %s" % exc, None
            result["expected_dump_source"] = "required_space"
        else:
            # Measured once per run (it takes seconds), also in check mode: it changes nothing.
            expected = estimate(target.dump_level, self.read("/proc/meminfo"),
                                self.run_cmd.probe if self.as_root else None, makedumpfile)
            need = expected["bytes"]
            result["expected_dump_source"] = expected["source"]
            if expected["free_pages"]:
                warning = free_page_warning(expected["free_pages"], version, self.host.uname[0],
                                            target.dump_level)
                result["makedumpfile_warning"] = warning
                result.setdefault("warnings", []).append(warning)

        present = p["state"] == "present"
        result.update(
            location=change.location, local_dir=change.local_dir, collector=change.collector,
            compression=change.compression, flattened=change.flattened,
            makedumpfile_version=version, expected_dump_size=need, preflight=[],
            files=sorted(change.files) if present else [],
            rebuild_initrd=change.rebuild_initrd and present,
            reload_required=change.reload and present)

        if p["preflight"] or not present:
            checks = self.preflight(family, target, change, files, need)
            result["preflight"] = checks
            failed = [check["message"] for check in checks if not check["ok"]]
            if failed:
                return result, "pre-flight failed, nothing was written: " + "; ".join(failed), None

        if not present:
            return result, None, None
        dir_change = dump_dir_change(local, dir_mode)
        if dir_change == "shared":
            result.setdefault("warnings", []).append(
                "%s is a shared directory (sticky bit, e.g. apport's /var/crash), so it is left as"
                " it is and other users may read the dumps written there; give a path of its own,"
                " such as %s/kdump" % (change.local_dir, change.local_dir.rstrip("/")))
            dir_change = None
        if dir_change:
            result["files"] = sorted(result["files"] + [change.local_dir])
        if change.is_empty() and not dir_change:
            return result, None, None
        result["changed"] = True
        result["diff"] = [dict(before=files.get(path) or "", after=text or "",
                               before_header=path, after_header=path)
                          for path, text in sorted(change.files.items())]
        return result, None, Writes(change.files, change.local_dir if dir_change else None,
                                    dir_mode)

    def preflight(self, family, target, change, files, need):
        known_hosts = None
        tmp_known = None
        if target.type == "ssh":
            pinned = KNOWN_HOSTS.get(family, REDHAT_KNOWN_HOSTS)
            text = change.files.get(pinned, files.get(pinned)) if pinned in files else None
            if family == "suse" and target.ssh_host_key:
                text = "%s %s\n" % (known_hosts_name(target.ssh_host, target.ssh_port),
                                    target.ssh_host_key)
            handle, tmp_known = tempfile.mkstemp(prefix="crashdump-kdump-known-")
            with os.fdopen(handle, "w") as out:
                out.write(text or "")
            known_hosts = tmp_known
        try:
            return preflight(family, target, change, need, self.run_cmd.probe, known_hosts)
        finally:
            if tmp_known:
                os.unlink(tmp_known)
