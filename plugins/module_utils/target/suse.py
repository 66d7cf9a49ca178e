# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SLES, SLE Micro and openSUSE (kdump): the dump target in /etc/sysconfig/kdump, written and
read back by one class.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

KDUMP_SAVEDIR is a directory or a URL (file://, nfs://, ssh://, sftp://); an IPv6 host is
in brackets there. The host key goes into KDUMP_HOST_KEY. An fs target is the directory under
its fstab mount point, with the collection's record of the device beside it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import re

from ansible_collections.crashdump.kdump.plugins.module_utils.family.records import SUSE
from ansible_collections.crashdump.kdump.plugins.module_utils.target.common import (
    FamilyTarget,
    Plan,
    fs_dir,
    fs_record,
    makedumpfile_words,
    merge_words,
    read_fs_record,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.shellvars import ShellVars
from ansible_collections.crashdump.kdump.plugins.module_utils.target.types import (
    nfs_join,
    split_export,
    url_host,
)

(CONF,) = SUSE.files
FORMATS = {"zlib": "compressed", "lzo": "lzo", "snappy": "snappy", "zstd": "zstd", "none": "ELF"}
COMPRESSION_OF = dict((v, k) for k, v in FORMATS.items())
# The collection's records of an fs target's device and path and of an NFS target's export
# (KDUMP_SAVEDIR joins them), so that the file reads back as the target that was written.
FS_RECORD = "CRASHDUMP_KDUMP_FS"
NFS_RECORD = "CRASHDUMP_KDUMP_NFS_EXPORT"
# KDUMP_SAVEDIR: scheme://[user@]host[:port]/path, the host a name or [IPv6].
_URL = re.compile(r"^(\w+)://(?:([^@/]*)@)?(\[[^\]/]*\]|[^:/]*)(?::(\d+))?(/.*)?$")


class SuseTarget(FamilyTarget):
    family = SUSE
    hints = {"raw": "KDUMP_SAVEDIR takes a directory or URL"}

    def plan(self, target, files, facts, compression):
        self.check_supported(target)
        plan = Plan()
        conf = ShellVars(files[CONF])
        for name in ("makedumpfile_args", "extra_modules"):
            if getattr(target, name):
                self.unsupported(name)
        if target.failure_action not in (None, "reboot"):
            self.unsupported("failure_action %s" % target.failure_action)
        if target.final_action not in (None, "reboot"):
            self.unsupported("final_action %s" % target.final_action,
                             "KDUMP_IMMEDIATE_REBOOT only chooses whether to reboot")
        conf.unset(FS_RECORD)
        conf.unset(NFS_RECORD)
        savedir = getattr(self, "write_" + target.type)(target, conf, facts, plan)
        conf.set("KDUMP_SAVEDIR", savedir)
        conf.set("KDUMP_DUMPLEVEL", str(target.dump_level))
        conf.set("KDUMP_DUMPFORMAT", FORMATS[compression])
        if target.keep is not None:
            conf.set("KDUMP_KEEP_OLD_DUMPS", str(target.keep))
        if target.final_action == "reboot":
            conf.set("KDUMP_IMMEDIATE_REBOOT", "yes")
        if target.cmdline_append:
            conf.set(self.family.capture_append, merge_words(
                conf.get(self.family.capture_append), target.cmdline_append))
        plan.set(CONF, files[CONF], conf.render())
        plan.rebuild_initrd = plan.reload = bool(plan.files)
        plan.flattened = False
        plan.collector = "makedumpfile " + " ".join(makedumpfile_words(target, compression))
        return plan

    # --- one writer per type: each returns KDUMP_SAVEDIR ------------------------------------
    def write_local(self, target, conf, facts, plan):
        plan.local_dir = target.path
        return target.path

    def write_fs(self, target, conf, facts, plan):
        plan.local_dir, plan.mountpoint = fs_dir(target, facts, self.family.tool)
        conf.set(FS_RECORD, fs_record(target))
        return "file://" + plan.local_dir

    def write_nfs(self, target, conf, facts, plan):
        server, directory = nfs_join(target.nfs, target.path).rsplit(":/", 1)
        conf.set(NFS_RECORD, target.nfs)
        return "nfs://%s/%s" % (server, directory)

    def write_ssh(self, target, conf, facts, plan):
        # openSUSE kdump's module-setup.sh writes known_hosts as "HOST KDUMP_HOST_KEY" with
        # HOST as the URL holds it (port and brackets kept), and kdump-save pings HOST up to
        # its first ':' (tests/unit/fixtures/upstream/kdump_conf_parsing.md, B).
        if target.ssh_port != 22:
            self.unsupported("an SSH port other than 22",
                             "kdump writes the host key for 'HOST:PORT', which ssh never looks"
                             " up, so host-key checking fails; run the dump server's sshd on"
                             " port 22")
        if ":" in target.ssh_host:
            self.unsupported("an IPv6 SSH server address",
                             "kdump hands ssh 'ssh://user@[ADDRESS]' and pings '[' up to the first"
                             " ':'; give the dump server's host name")
        conf.set("KDUMP_SSH_IDENTITY", target.ssh_key)
        if target.ssh_host_key:
            # The key type too: a bare base64 key makes a known_hosts line ssh cannot match.
            conf.set("KDUMP_HOST_KEY", target.ssh_host_key)
        return "ssh://%s@%s:%d%s" % (target.ssh_user, url_host(target.ssh_host),
                                     target.ssh_port, target.path)

    # --- reading back ----------------------------------------------------------------------
    def read(self, files):
        conf = ShellVars(files[CONF])
        savedir = conf.get("KDUMP_SAVEDIR") or "/var/crash"
        keep = conf.get("KDUMP_KEEP_OLD_DUMPS")
        out = dict(dump_level=int(conf.get("KDUMP_DUMPLEVEL") or 31),
                   compression=COMPRESSION_OF.get(conf.get("KDUMP_DUMPFORMAT") or "compressed",
                                                  "zlib"),
                   # kdump reboots after a failed dump as after a saved one.
                   makedumpfile_args=[], failure_action="reboot",
                   final_action="reboot" if conf.get("KDUMP_IMMEDIATE_REBOOT") == "yes" else None,
                   # Unset: 0 (keep all) in kdump 2.x's reading; the package's file sets
                   # 5 on SLES 15 SP5 and older, 0 from kdump 2.x.
                   keep=int(keep) if keep and keep.isdigit() else 0,
                   cmdline_append=(conf.get(self.family.capture_append) or "").split(),
                   extra_modules=[])
        match = _URL.match(savedir)
        scheme = match.group(1) if match else "file"
        if not match:
            out.update(type="local", path=savedir)
        elif scheme == "file":
            out.update(self.read_fs(conf, match.group(5) or "/"))
        elif scheme == "nfs":
            out.update(split_export("%s:%s" % (match.group(3), match.group(5) or "/"),
                                    conf.get(NFS_RECORD)))
        else:
            host = match.group(3)
            out.update(type="ssh", ssh="%s@%s" % (match.group(2) or "root", host.strip("[]")),
                       ssh_port=int(match.group(4) or 22), path=match.group(5) or "/",
                       ssh_key=conf.get("KDUMP_SSH_IDENTITY"), ssh_host_key=None)
            key = conf.get("KDUMP_HOST_KEY")
            if key:
                out["ssh_host_key"] = self.host_key(key)
        return out

    def read_fs(self, conf, directory):
        return read_fs_record(conf.get(FS_RECORD), directory) or dict(type="local", path=directory)

    @staticmethod
    def host_key(blob):
        """``type base64`` of a KDUMP_HOST_KEY (``type base64``, or a bare base64 blob, which
        names its own type)."""
        if len(blob.split()) >= 2:
            return " ".join(blob.split()[:2])
        try:
            data = base64.b64decode(blob.encode("ascii"))
            size = int(binascii.hexlify(data[:4]), 16)
            return "%s %s" % (data[4:4 + size].decode("ascii"), blob)
        except (ValueError, TypeError, UnicodeError, binascii.Error):
            return blob
