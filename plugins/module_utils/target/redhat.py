# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fedora, RHEL and clones (kdump-utils, kexec-tools before it): the dump target in
/etc/kdump.conf and /etc/sysconfig/kdump, written and read back by one class.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

kdump.conf is read the way kdumpctl reads it (target/kdumpconf.py): trailing comments and
spaces stripped, the last line of a directive wins, and ``dracut_args --mount`` is a dump
target of its own. The host key is pinned in /root/.ssh/known_hosts, which mkdumprd copies
into the kdump initrd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.crashdump.kdump.plugins.module_utils.family.records import REDHAT
from ansible_collections.crashdump.kdump.plugins.module_utils.target.common import (
    FamilyTarget,
    Plan,
    fstab_mount,
    join_under,
    makedumpfile_words,
    merge_words,
    parse_makedumpfile_words,
    pin,
    pinned_key,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.kdumpconf import (
    FS_TYPES,
    TARGET_DIRECTIVES,
    KdumpConf,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.shellvars import ShellVars
from ansible_collections.crashdump.kdump.plugins.module_utils.target.types import TargetError

CONF, SYSCONFIG, KNOWN_HOSTS = REDHAT.files
# kdumpctl's defaults when kdump.conf does not say.
COLLECTOR = "makedumpfile -l --message-level 7 -d 31"
SSH_KEY = "/root/.ssh/kdump_id_rsa"
MESSAGE_LEVEL = 7


class RedhatTarget(FamilyTarget):
    family = REDHAT

    def plan(self, target, files, facts, compression):
        self.check_supported(target)
        plan = Plan()
        conf = KdumpConf(files[CONF])
        if target.keep:
            self.unsupported("keep other than 0", "kdump-utils keeps every dump; prune them with a timer or on"
                             " the dump server")
        # One dump target: every other target line, and a --mount in dracut_args (kdumpctl
        # counts it as one), goes.
        conf.drop_dracut_mounts()
        for kind in TARGET_DIRECTIVES:
            conf.unset(kind)
        getattr(self, "write_" + target.type)(target, conf, facts, plan)
        if target.type != "ssh":
            conf.unset("sshkey")
        plan.flattened = target.type in ("ssh", "raw")
        words = makedumpfile_words(target, compression, plan.flattened, message_level=MESSAGE_LEVEL)
        conf.set("core_collector", "makedumpfile " + " ".join(words))
        for directive, value in (("failure_action", target.failure_action),
                                 ("final_action", target.final_action)):
            if value is not None:
                conf.unset("default" if directive == "failure_action" else directive)
                conf.set(directive, value)
        if target.extra_modules:
            conf.set("extra_modules", merge_words(conf.get("extra_modules"), target.extra_modules))
        reset = facts.get("auto_reset_crashkernel")
        if reset is not None:
            conf.set("auto_reset_crashkernel", "yes" if reset else "no")
        plan.set(CONF, files[CONF], conf.render())
        if target.cmdline_append:
            sysconfig = ShellVars(files.get(SYSCONFIG) or "")
            sysconfig.set(self.family.capture_append, merge_words(
                sysconfig.get(self.family.capture_append), target.cmdline_append))
            plan.set(SYSCONFIG, files.get(SYSCONFIG), sysconfig.render())
        if target.type == "ssh" and target.ssh_host_key:
            old = files.get(KNOWN_HOSTS)
            plan.set(KNOWN_HOSTS, old,
                     pin(old, target.ssh_host, target.ssh_port, target.ssh_host_key), mode=0o600)
        # kdumpctl rebuilds the initrd when kdump.conf is newer than it; say so explicitly.
        plan.rebuild_initrd = plan.reload = bool(plan.files)
        plan.collector = conf.get("core_collector")
        return plan

    # --- one writer per type ---------------------------------------------------------------
    def write_local(self, target, conf, facts, plan):
        conf.set("path", target.path)
        plan.local_dir = target.path

    def write_fs(self, target, conf, facts, plan):
        fstype = target.fstype
        mount = fstab_mount(facts.get("fstab", ""), target.device, facts.get("device_aliases", ()))
        if fstype is None:
            fstype = facts.get("device_fstype") or (mount[1] if mount else None)
        if fstype not in FS_TYPES:
            raise TargetError("fs target %s: cannot tell its filesystem type (found %r); set"
                              " fstype to one of %s" % (target.device, fstype, ", ".join(FS_TYPES)))
        conf.set(fstype, target.device)
        conf.set("path", target.path)
        if mount:
            plan.mountpoint = mount[0]
            plan.local_dir = join_under(mount[0], target.path)

    def write_raw(self, target, conf, facts, plan):
        conf.set("raw", target.device)
        conf.unset("path")

    def write_nfs(self, target, conf, facts, plan):
        conf.set("nfs", target.nfs)
        conf.set("path", target.path)

    def write_ssh(self, target, conf, facts, plan):
        if target.ssh_port != 22:
            self.unsupported("an SSH port other than 22",
                             "kdump.conf has no port setting; run the dump server's sshd on port 22")
        # kdump.conf's documented form: an IPv6 address without brackets.
        conf.set("ssh", target.ssh)
        conf.set("sshkey", target.ssh_key)
        conf.set("path", target.path)

    # --- reading back ----------------------------------------------------------------------
    def read(self, files):
        conf = KdumpConf(files[CONF])
        level, compression, _flat, other = parse_makedumpfile_words(
            (conf.get("core_collector") or COLLECTOR).split()[1:])
        sysconfig = ShellVars(files.get(SYSCONFIG) or "")
        reset = conf.get("auto_reset_crashkernel")
        out = dict(path=conf.get("path") or "/var/crash", dump_level=level,
                   compression=compression, makedumpfile_args=other,
                   failure_action=conf.get("failure_action") or conf.get("default"),
                   # kdump-utils keeps every dump.
                   final_action=conf.get("final_action"), keep=0,
                   cmdline_append=(sysconfig.get(self.family.capture_append) or "").split(),
                   extra_modules=(conf.get("extra_modules") or "").split(),
                   # kdumpctl: off only for the exact value "no" (No, 0, false mean on).
                   auto_reset_crashkernel=None if reset is None else reset != "no")
        problems = conf.problems()
        if problems:
            out["problems"] = problems
        targets = conf.targets()
        kind = targets[-1] if targets else None
        if kind is None:
            out["type"] = "local"
        else:
            out.update(getattr(self, "read_" + {"raw": "raw", "nfs": "nfs", "ssh": "ssh",
                                                "mount": "mount"}.get(kind[0], "fs"))(
                kind, conf, files))
        return out

    def read_fs(self, kind, conf, files):
        return dict(type="fs", fstype=kind[0], device=kind[1])

    def read_raw(self, kind, conf, files):
        return dict(type="raw", device=kind[1], path="/")

    def read_nfs(self, kind, conf, files):
        return dict(type="nfs", nfs=kind[1])

    def read_mount(self, kind, conf, files):
        # dracut_args --mount "SOURCE MOUNTPOINT FSTYPE OPTIONS": kdumpctl dumps to
        # MOUNTPOINT/path on that mount; an NFS source is an nfs target.
        source, fstype = kind[1], kind[2]
        if fstype.startswith("nfs"):
            return dict(type="nfs", nfs=source)
        return dict(type="fs", device=source, fstype=fstype)

    def read_ssh(self, kind, conf, files):
        user, _sep, host = kind[1].partition("@")
        host = host.strip("[]")
        return dict(type="ssh", ssh="%s@%s" % (user, host), ssh_port=22,
                    ssh_key=conf.get("sshkey") or SSH_KEY,
                    ssh_host_key=pinned_key(files.get(KNOWN_HOSTS), host, 22))
