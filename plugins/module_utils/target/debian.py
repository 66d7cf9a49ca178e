# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Debian and Ubuntu (kdump-tools): the dump target in /etc/default/kdump-tools, written and
read back by one class.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

The capture kernel boots the real root filesystem, so fstab mounts apply there: an fs target
is the directory under its fstab mount point (and a record of the device, so that reading the
file back gives the fs target, not a local one). kdump-tools runs ``ssh user@host`` without a
port or host-key option, so an SSH target is reached through a host alias in an ssh_config
drop-in owned by the collection (port, key, and a pinned known_hosts file of its own).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.crashdump.kdump.plugins.module_utils.family.records import DEBIAN
from ansible_collections.crashdump.kdump.plugins.module_utils.target.common import (
    FamilyTarget,
    Plan,
    fs_dir,
    makedumpfile_words,
    merge_words,
    fs_record,
    parse_makedumpfile_words,
    pin,
    pinned_key,
    read_fs_record,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.shellvars import ShellVars
from ansible_collections.crashdump.kdump.plugins.module_utils.target.types import (
    TargetError,
    nfs_join,
    split_export,
)

CONF, SSH_CONFIG, KNOWN_HOSTS = DEBIAN.files
# kdump-config's MAKEDUMP_ARGS when it is unset.
MAKEDUMP_ARGS = "-c -d 31"
# kdump-config's SSH_KEY when it is unset.
SSH_KEY = "/root/.ssh/kdump_id_rsa"
# The collection's record of an fs target's device and path, and of an NFS target's export
# (kdump-tools reads only KDUMP_COREDIR and NFS, which join them): reading the file back
# gives the target that was written, not a local directory or a longer export.
FS_RECORD = "CRASHDUMP_KDUMP_FS"
NFS_RECORD = "CRASHDUMP_KDUMP_NFS_EXPORT"
ALIAS_PREFIX = "crashdump-kdump-"


def ssh_alias(target):
    return ALIAS_PREFIX + target.ssh_host.replace(":", "-")


def ssh_config(target):
    return "".join([
        "# Managed by crashdump.kdump (kdump_target): how kdump-tools reaches its SSH dump\n",
        "# target. kdump-tools runs 'ssh user@%s'; this block gives the real host,\n" % ssh_alias(target),
        "# port, key and pinned host key.\n",
        "Host %s\n" % ssh_alias(target),
        "    HostName %s\n" % target.ssh_host,
        "    Port %d\n" % target.ssh_port,
        "    User %s\n" % target.ssh_user,
        "    IdentityFile %s\n" % target.ssh_key,
        "    IdentitiesOnly yes\n",
        "    BatchMode yes\n",
        "    StrictHostKeyChecking yes\n",
        "    UserKnownHostsFile %s\n" % KNOWN_HOSTS,
        "    ConnectTimeout 30\n",
    ])


def parse_ssh_config(text):
    """``{alias: {keyword: value}}`` of the drop-in's Host blocks (keywords lower-case)."""
    hosts, current = {}, None
    for line in (text or "").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        key = words[0].lower()
        if key == "host":
            current = hosts.setdefault(words[1], {})
        elif current is not None:
            current.setdefault(key, " ".join(words[1:]))
    return hosts


class DebianTarget(FamilyTarget):
    family = DEBIAN
    hints = {"raw": "kdump-tools writes dumps to a directory; use type fs with a filesystem on"
                    " the device"}

    def plan(self, target, files, facts, compression):
        self.check_supported(target)
        plan = Plan()
        conf = ShellVars(files[CONF])
        before_append = conf.get("KDUMP_CMDLINE_APPEND")
        if target.extra_modules:
            self.unsupported("extra_modules",
                             "the capture kernel boots the root filesystem and loads modules from"
                             " it; modules needed to reach the root filesystem belong in"
                             " /etc/initramfs-tools/modules")
        if target.failure_action in ("shell", "dump_to_rootfs"):
            self.unsupported("failure_action %s" % target.failure_action,
                             "kdump-tools runs KDUMP_FAIL_CMD without a console; use reboot, halt"
                             " or poweroff")
        if target.final_action not in (None, "reboot"):
            self.unsupported("final_action %s" % target.final_action,
                             "kdump-tools always reboots after saving the dump")
        if target.keep and target.remote:
            self.unsupported("keep with an %s target" % target.type,
                             "kdump-tools prunes only local dumps; leave keep at 0 and prune on"
                             " the dump server")
        for key in ("SSH", "NFS", "FTP", "SSH_KEY", FS_RECORD, NFS_RECORD):
            conf.unset(key)
        getattr(self, "write_" + target.type)(target, conf, facts, plan)
        args = " ".join(makedumpfile_words(target, compression))
        if conf.get("MAKEDUMP_ARGS") is not None or args != MAKEDUMP_ARGS:
            conf.set("MAKEDUMP_ARGS", args)
        if target.keep:
            conf.set("KDUMP_NUM_DUMPS", str(target.keep))
        elif target.keep == 0:
            conf.unset("KDUMP_NUM_DUMPS")
        if target.failure_action in (None, "reboot"):
            conf.unset("KDUMP_FAIL_CMD")
        else:
            conf.set("KDUMP_FAIL_CMD", "%s -f" % target.failure_action)
        if target.cmdline_append:
            conf.set("KDUMP_CMDLINE_APPEND", merge_words(
                self.family.capture_append_default if before_append is None else before_append,
                target.cmdline_append))
        plan.set(CONF, files[CONF], conf.render())
        if target.type == "ssh":
            plan.set(SSH_CONFIG, files.get(SSH_CONFIG), ssh_config(target))
            if target.ssh_host_key:
                old = files.get(KNOWN_HOSTS)
                plan.set(KNOWN_HOSTS, old,
                         pin(old, target.ssh_host, target.ssh_port, target.ssh_host_key), 0o600)
        else:
            for path in (SSH_CONFIG, KNOWN_HOSTS):
                if files.get(path) is not None:
                    plan.files[path] = None
        # kdump-tools reads its file again in the capture kernel (it boots the root
        # filesystem): only what goes on the kexec command line needs a reload.
        plan.reload = conf.get("KDUMP_CMDLINE_APPEND") != before_append
        plan.flattened = True
        plan.collector = "makedumpfile -F " + " ".join(makedumpfile_words(target, compression))
        return plan

    # --- one writer per type ---------------------------------------------------------------
    def write_local(self, target, conf, facts, plan):
        conf.set("KDUMP_COREDIR", target.path)
        plan.local_dir = target.path

    def write_fs(self, target, conf, facts, plan):
        plan.local_dir, plan.mountpoint = fs_dir(target, facts, self.family.tool)
        conf.set("KDUMP_COREDIR", plan.local_dir)
        conf.set(FS_RECORD, fs_record(target))

    def write_nfs(self, target, conf, facts, plan):
        # kdump-tools mounts NFS on KDUMP_COREDIR (a local mount point) and writes the dump
        # at the top of the mount: the export's directory is the dump directory.
        conf.set("NFS", nfs_join(target.nfs, target.path))
        conf.set(NFS_RECORD, target.nfs)
        if conf.get("KDUMP_COREDIR") is None:
            conf.set("KDUMP_COREDIR", "/var/crash")

    def write_ssh(self, target, conf, facts, plan):
        conf.set("SSH", "%s@%s" % (target.ssh_user, ssh_alias(target)))
        conf.set("SSH_KEY", target.ssh_key)
        conf.set("KDUMP_COREDIR", target.path)

    # --- reading back ----------------------------------------------------------------------
    def read(self, files):
        conf = ShellVars(files[CONF])
        level, compression, _flat, other = parse_makedumpfile_words(
            (conf.get("MAKEDUMP_ARGS") or MAKEDUMP_ARGS).split())
        append = (conf.get("KDUMP_CMDLINE_APPEND") or "").split()
        defaults = self.family.capture_append_default.split()
        fail = (conf.get("KDUMP_FAIL_CMD") or "").split()
        out = dict(path=conf.get("KDUMP_COREDIR") or "/var/crash", dump_level=level,
                   compression=compression, makedumpfile_args=other,
                   # kdump-tools reboots when the dump fails (no KDUMP_FAIL_CMD) and after it.
                   failure_action=fail[0] if fail else "reboot", final_action="reboot",
                   keep=int(conf.get("KDUMP_NUM_DUMPS") or 0),
                   cmdline_append=[w for w in append if w not in defaults], extra_modules=[])
        if conf.get("SSH"):
            out.update(self.read_ssh(conf, files))
        elif conf.get("NFS"):
            out.update(self.read_nfs(conf))
        elif conf.get(FS_RECORD):
            out.update(self.read_fs(conf, out["path"]))
        else:
            out.update(type="local")
        return out

    def read_fs(self, conf, directory):
        # The record is the collection's; KDUMP_COREDIR is what kdump-tools uses. They agree
        # when the directory ends with the recorded path.
        found = read_fs_record(conf.get(FS_RECORD), directory)
        return found or dict(type="local")

    def read_nfs(self, conf):
        return split_export(conf.get("NFS"), conf.get(NFS_RECORD))

    def read_ssh(self, conf, files):
        user, _sep, host = conf.get("SSH").partition("@")
        out = dict(type="ssh", ssh="%s@%s" % (user, host), ssh_port=22,
                   ssh_key=conf.get("SSH_KEY") or SSH_KEY, ssh_host_key=None)
        block = parse_ssh_config(files.get(SSH_CONFIG)).get(host)
        if block and host.startswith(ALIAS_PREFIX):
            real = block.get("hostname", host)
            out["ssh"] = "%s@%s" % (block.get("user", user), real)
            try:
                out["ssh_port"] = int(block.get("port", "22"))
            except ValueError:
                raise TargetError("%s: Port %r of Host %s is not a number"
                                  % (SSH_CONFIG, block.get("port"), host))
            out["ssh_host_key"] = pinned_key(files.get(KNOWN_HOSTS), real, out["ssh_port"])
        return out
