#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kdump_target
short_description: Configure where and how kdump saves the crash dump, and check that it will fit and arrive
version_added: 0.1.0
description:
  - Writes one distribution-neutral dump target description into the native configuration of the
    host's kdump tools, and checks before any crash that the dump will fit and arrive (pre-flight).
  - "Debian and Ubuntu (kdump-tools): C(/etc/default/kdump-tools). kdump-tools runs
    C(ssh user@host) with no port or host key option, so an V(ssh) target is reached through a host
    alias that this module defines in C(/etc/ssh/ssh_config.d/crashdump-kdump.conf) (real host,
    port, key, and the pinned host key in C(/etc/crashdump-kdump/known_hosts)). Both files are
    removed when the target stops being V(ssh)."
  - "Fedora, RHEL and clones (kdump-utils or kexec-tools): C(/etc/kdump.conf), plus
    C(KDUMP_COMMANDLINE_APPEND) in C(/etc/sysconfig/kdump); the host key of an V(ssh) target is
    pinned in C(/root/.ssh/known_hosts), which the kdump initrd copies."
  - "SUSE (kdump): C(/etc/sysconfig/kdump), the target as a C(KDUMP_SAVEDIR) URL, the host key in
    C(KDUMP_HOST_KEY)."
  - Comments and settings the module does not manage stay as they were; managed values are
    replaced where they are. Shell files are written with quoting that the shell reads back
    exactly. A combination that the family's tools cannot do (a V(raw) target with kdump-tools, a
    port other than 22 with kdump.conf, ...) fails with a message that says so, and nothing is
    written.
  - The module does not rebuild the kdump initrd or reload the capture kernel; it returns
    RV(rebuild_initrd) and RV(reload_required) for the step that does.
  - The expected dump size is measured with C(makedumpfile --mem-usage /proc/kcore) at O(dump_level) when
    makedumpfile is installed and the module runs as root, else estimated from C(/proc/meminfo) (see
    O(required_space)).
author:
  - crashdump.kdump contributors (!UNKNOWN)
extends_documentation_fragment:
  - crashdump.kdump.attributes
attributes:
  check_mode:
    support: full
    details: Pre-flight checks still run in check mode; an NFS check mounts and unmounts the export.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  state:
    description:
      - V(present) writes the configuration (after the pre-flight checks when O(preflight=true)).
      - V(checked) only runs the pre-flight checks against the described target and changes
        nothing; the kdump package need not be installed yet.
    type: str
    choices: [present, checked]
    default: present
  family:
    description: The kdump implementation. V(auto) reads C(/etc/os-release).
    type: str
    choices: [auto, debian, redhat, suse]
    default: auto
  type:
    description:
      - V(local) a directory on the root filesystem (O(path)).
      - V(fs) a directory O(path) on the filesystem O(device). kdump-tools and SUSE write to it
        through its C(/etc/fstab) mount point, which the capture boot mounts; kdump.conf names it
        directly (C(ext4 UUID=...)).
      - V(raw) the block device O(device) (kdump.conf only); the dump overwrites it.
      - V(nfs) the directory O(path) below the export O(nfs).
      - V(ssh) the directory O(path) on O(ssh), logged in with O(ssh_key).
    type: str
    choices: [local, fs, raw, nfs, ssh]
    default: local
  path:
    description:
      - The dump directory. V(local), V(nfs) and V(ssh) default to V(/var/crash); for V(fs) it is
        relative to the filesystem's root and defaults to V(/).
    type: str
  device:
    description: For V(fs) a device path, V(UUID=), V(LABEL=) or V(PARTUUID=); for V(raw) a device path.
    type: str
  fstype:
    description: For V(fs) on kdump.conf, the filesystem type; read with blkid or from fstab when not given.
    type: str
    choices: [ext2, ext3, ext4, xfs, btrfs, minix, virtiofs]
  nfs:
    description: For V(nfs), V(SERVER:/EXPORT).
    type: str
  ssh:
    description:
      - For V(ssh), V(USER@HOST). An IPv6 address is written bare, as kdump.conf documents it
        (V(kdump@2001:db8::1)); V(kdump@[2001:db8::1]) means the same. SUSE's kdump cannot
        reach an IPv6 SSH server, so there it is refused.
    type: str
  ssh_port:
    description:
      - For V(ssh), the server's SSH port. Ports other than 22 work with kdump-tools only,
        since kdump.conf has no port setting and SUSE's kdump pins the host key under
        C(HOST:PORT), which ssh never looks up.
    type: int
    default: 22
  ssh_key:
    description:
      - For V(ssh), the private key kdump logs in with. It must exist and be readable by root
        only; its C(.pub) goes to the dump server (see the P(crashdump.kdump.dump_server#role) role).
    type: path
    default: /root/.ssh/kdump_id_ed25519
  ssh_host_key:
    description:
      - For V(ssh), the server's public host key (a line such as the server's
        C(/etc/ssh/ssh_host_ed25519_key.pub)). It is pinned where the family's tools read it.
        Without it, the key must already be known there; an unknown key is never accepted.
    type: str
  dump_level:
    description: makedumpfile's C(-d) page filter, 0 (keep all) to 31 (only kernel pages).
    type: int
    default: 31
  compression:
    description:
      - Page compression. V(auto) picks the best the host's makedumpfile has (C(makedumpfile -v)),
        zstd, then lzo, then zlib. V(none) writes uncompressed pages (ELF on SUSE).
    type: str
    choices: [auto, zstd, lzo, snappy, zlib, none]
    default: auto
  makedumpfile_args:
    description:
      - More makedumpfile arguments, one per item (for example V(--message-level), V(7)). Flags the
        module sets itself (C(-d), C(-c), C(-l), C(-p), C(-z), C(-F), C(-E)) are refused.
        Flattened output (C(-F)) is added where the transport needs it.
    type: list
    elements: str
    default: []
  failure_action:
    description:
      - What the capture kernel does when saving fails. Null leaves the tool's default.
        kdump-tools accepts reboot, halt and poweroff; SUSE only reboot.
    type: str
    choices: [reboot, halt, poweroff, shell, dump_to_rootfs]
  final_action:
    description: What the capture kernel does after saving (kdump.conf; others always reboot). Null leaves the default.
    type: str
    choices: [reboot, halt, poweroff]
  keep:
    description:
      - Keep the newest N dumps, delete older ones after saving; V(0) keeps all; null leaves the
        tool's setting (kdump-tools keeps all; SUSE's package file says 5 on SLES 15 SP5 and
        older, 0 from kdump 2.x). kdump-tools (local and fs targets) and SUSE only (SUSE prunes
        local and fs targets only).
    type: int
  cmdline_append:
    description: Words to add to the capture kernel's command line; words already there stay.
    type: list
    elements: str
    default: []
  extra_modules:
    description: Kernel modules to add to the kdump initrd (kdump.conf C(extra_modules)).
    type: list
    elements: str
    default: []
  preflight:
    description: Run the pre-flight checks; with O(state=present) nothing is written when one fails.
    type: bool
    default: true
  required_space:
    description:
      - Free space the target must have, as a size (V(2G), V(512M)). The default is an estimate
        of the dump before compression at O(dump_level), measured on the host when it can be
        (RV(expected_dump_source)).
      - Measured with C(makedumpfile --mem-usage /proc/kcore) (root, makedumpfile installed, a
        crash kernel reserved) - the pages makedumpfile would keep at O(dump_level), with a page
        descriptor each, plus 10%, its two bitmaps and 16 MiB for headers. This runs once per task,
        also in check mode, and takes a few seconds.
      - Otherwise from C(/proc/meminfo) now - the RAM makedumpfile keeps (without page cache for
        bit 2/4, user pages for 8, free pages for 16) plus 10% and 16 MiB.
    type: str
  dump_dir_mode:
    description:
      - For V(local) and V(fs) targets, the dump directory is created, or changed, to be owned by
        root with this mode. A vmcore holds all of the host's memory, secrets included, so the
        default lets only root in.
      - A directory with the sticky bit is shared with other programs (Ubuntu's apport uses
        C(/var/crash), mode 1777); it is left alone with a warning - give the dumps a path of
        their own.
    type: raw
    default: "0700"
  backup:
    description: Keep a timestamped copy of each changed file.
    type: bool
    default: false
  auto_reset_crashkernel:
    description:
      - Fedora and RHEL (kdump-utils) only. kdumpctl, with C(auto_reset_crashkernel yes) in
        C(/etc/kdump.conf) (its default), writes its own default C(crashkernel=) into every boot
        entry after a kdump-utils update and when a kernel is installed
        (C(92-crashkernel.install)), replacing a value set by M(crashdump.kdump.kernel_cmdline).
        V(false) writes C(auto_reset_crashkernel no), which the role does while it manages the
        reservation; V(true) writes C(yes); unset leaves the file's setting.
      - Ignored on Debian, Ubuntu and SUSE, whose tools do not rewrite the reservation.
    type: bool
notes:
  - Supports the formats of kdump-tools 1.8 and later, kdump-utils 1.0 and kexec-tools 2.0.2x, SUSE kdump 1.x.
seealso:
  - module: crashdump.kdump.kernel_cmdline
  - module: crashdump.kdump.crashkernel_info
"""

EXAMPLES = r"""
- name: Local directory on the root filesystem, keep the three newest dumps
  crashdump.kdump.kdump_target:
    type: local
    path: /var/crash
    keep: 3

- name: A dedicated filesystem, given by label (on Debian it must be in /etc/fstab)
  crashdump.kdump.kdump_target:
    type: fs
    device: LABEL=kdump
    path: /dumps

- name: A raw partition (Fedora/RHEL); the dump overwrites it
  crashdump.kdump.kdump_target:
    type: raw
    device: /dev/disk/by-partlabel/kdump

- name: An NFS export, lzo compression
  crashdump.kdump.kdump_target:
    type: nfs
    nfs: dumps.example.com:/srv/kdump
    path: /clients
    compression: lzo

- name: An SSH dump server with a pinned host key, on a non-standard port (kdump-tools only)
  crashdump.kdump.kdump_target:
    type: ssh
    ssh: kdump@dumps.example.com
    ssh_port: 2222
    ssh_key: /root/.ssh/kdump_id_ed25519
    ssh_host_key: "{{ hostvars['dumps.example.com'].dump_server_host_key }}"
    path: /srv/kdump
  register: target

- name: Only check that the configured target can take a dump now
  crashdump.kdump.kdump_target:
    state: checked
    type: ssh
    ssh: kdump@dumps.example.com
"""

RETURN = r"""
family:
  description: The kdump implementation written for.
  returned: always
  type: str
  sample: debian
location:
  description: Where dumps go.
  returned: always
  type: str
  sample: "ssh:kdump@dumps.example.com:/srv/kdump port 2222"
local_dir:
  description: The directory on this host the dump is written to (local and fs targets).
  returned: always
  type: str
  sample: /var/crash
collector:
  description: The makedumpfile command line the capture kernel runs.
  returned: always
  type: str
  sample: makedumpfile -F -z -d 31
compression:
  description: The compression chosen (after V(auto)).
  returned: always
  type: str
  sample: zstd
flattened:
  description: Whether makedumpfile writes flattened output (C(-F)) for this target.
  returned: always
  type: bool
makedumpfile_version:
  description: From C(makedumpfile -v); null when makedumpfile is not installed.
  returned: always
  type: str
  sample: 1.7.2
expected_dump_size:
  description: The space in bytes the pre-flight checks required.
  returned: always
  type: int
  sample: 268435456
expected_dump_source:
  description:
    - Where RV(expected_dump_size) comes from - V(makedumpfile --mem-usage) (measured on this host),
      V(/proc/meminfo model) (makedumpfile missing, not root, or the measurement failed) or V(required_space).
  returned: always
  type: str
  sample: makedumpfile --mem-usage
makedumpfile_warning:
  description:
    - Set when the measurement shows that makedumpfile cannot find the running kernel's free pages
      (makedumpfile before 1.7.7 on kernel 6.12), so a dump level with bit 16 still writes the free memory
      into every dump; names makedumpfile's version, the kernel and the size. Also given as a warning.
  returned: when found
  type: str
files:
  description: The files changed (or that would change), including deleted ones and the dump directory.
  returned: always
  type: list
  elements: str
  sample: ["/etc/default/kdump-tools"]
rebuild_initrd:
  description: Whether the kdump initrd must be rebuilt for the change to take effect.
  returned: always
  type: bool
reload_required:
  description: Whether the capture kernel must be reloaded for the change to take effect.
  returned: always
  type: bool
preflight:
  description: The checks run - name, result and a message naming the target.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: mounted, writable, space, device, unused, mount, unmount, key, host_key or login.
      type: str
    ok:
      description: Whether it passed.
      type: bool
    message:
      description: What was found; on failure what to fix.
      type: str
backup_files:
  description: Backup copies made when O(backup=true).
  returned: when backups were made
  type: list
  elements: str
"""

import os

from ansible_collections.crashdump.kdump.plugins.module_utils.capture.service import Host
from ansible_collections.crashdump.kdump.plugins.module_utils.common.apply import Applier, ApplyError
from ansible_collections.crashdump.kdump.plugins.module_utils.common.module import checked_module
from ansible_collections.crashdump.kdump.plugins.module_utils.family.records import NAMES
from ansible_collections.crashdump.kdump.plugins.module_utils.runner.command import CommandRunner
from ansible_collections.crashdump.kdump.plugins.module_utils.target.kdumpconf import FS_TYPES
from ansible_collections.crashdump.kdump.plugins.module_utils.target.service import TargetWork
from ansible_collections.crashdump.kdump.plugins.module_utils.target.types import (
    ACTIONS,
    COMPRESSIONS,
    DEFAULT_SSH_KEY,
    FINAL_ACTIONS,
    TYPES,
)


def main():
    module = checked_module(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["present", "checked"]),
            family=dict(type="str", default="auto", choices=["auto"] + list(NAMES)),
            type=dict(type="str", default="local", choices=list(TYPES)),
            path=dict(type="str"),
            device=dict(type="str"),
            fstype=dict(type="str", choices=list(FS_TYPES)),
            nfs=dict(type="str"),
            ssh=dict(type="str"),
            ssh_port=dict(type="int", default=22),
            ssh_key=dict(type="path", default=DEFAULT_SSH_KEY),
            ssh_host_key=dict(type="str", no_log=False),
            dump_level=dict(type="int", default=31),
            compression=dict(type="str", default="auto", choices=list(COMPRESSIONS)),
            makedumpfile_args=dict(type="list", elements="str", default=[]),
            failure_action=dict(type="str", choices=list(ACTIONS)),
            final_action=dict(type="str", choices=list(FINAL_ACTIONS)),
            keep=dict(type="int", no_log=False),
            cmdline_append=dict(type="list", elements="str", default=[]),
            extra_modules=dict(type="list", elements="str", default=[]),
            preflight=dict(type="bool", default=True),
            required_space=dict(type="str"),
            dump_dir_mode=dict(type="raw", default="0700"),
            backup=dict(type="bool", default=False),
            auto_reset_crashkernel=dict(type="bool"),
        ),
        required_if=[
            ("type", "fs", ("device",)),
            ("type", "raw", ("device",)),
            ("type", "nfs", ("nfs",)),
            ("type", "ssh", ("ssh",)),
        ],
        supports_check_mode=True,
    )
    runner = CommandRunner(module.run_command, module.get_bin_path)
    result, error, writes = TargetWork(Host(runner, check_mode=module.check_mode)).run(module.params)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    diff = result.pop("diff", None)
    if error:
        module.fail_json(msg=error, **result)
    if writes is None or module.check_mode:
        if diff is not None and module._diff:
            result["diff"] = diff
        module.exit_json(**result)
    if module._diff:
        result["diff"] = diff
    applier = Applier(module)
    try:
        backups = applier.replace_files(writes.files, writes.validate, module.params["backup"],
                                        writes.modes)
    except (ApplyError, OSError) as exc:
        applier.restore()
        module.fail_json(msg="%s; the previous files were restored" % exc, **result)
    if writes.dump_dir:
        try:
            if not os.path.isdir(writes.dump_dir):
                os.makedirs(writes.dump_dir, writes.dir_mode)
            os.chown(writes.dump_dir, 0, 0)
            os.chmod(writes.dump_dir, writes.dir_mode)
        except OSError as exc:
            module.fail_json(msg="dump directory %s: cannot make it root's with mode %o: %s"
                                 % (writes.dump_dir, writes.dir_mode, exc), **result)
    if backups:
        result["backup_files"] = backups
    module.exit_json(**result)


if __name__ == "__main__":
    main()
