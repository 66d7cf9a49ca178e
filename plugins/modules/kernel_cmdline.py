#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kernel_cmdline
short_description: Put kernel arguments such as crashkernel= on the next boot's command line
version_added: 0.1.0
description:
  - Adds, replaces or removes kernel arguments for the next boot with the host's boot loader,
    regenerates the boot configuration, reads the command line of the default entry back from
    what was generated, and says whether a reboot is needed.
  - "Backends:"
  - "V(grub) on Debian and Ubuntu: the module owns one drop-in,
    C(/etc/default/grub.d/zz-crashdump-kdump.cfg), which grub-mkconfig sources after every other
    file. It removes the managed arguments from C(GRUB_CMDLINE_LINUX) and
    C(GRUB_CMDLINE_LINUX_DEFAULT), whatever set them (Debian's kdump-tools.cfg appends its own
    C(crashkernel=)), and appends the requested words to C(GRUB_CMDLINE_LINUX_DEFAULT); then it
    runs C(update-grub). Files it does not own are never edited."
  - "V(grub) on RHEL 7 and SUSE: C(GRUB_CMDLINE_LINUX) in C(/etc/default/grub), edited in place,
    then C(grub2-mkconfig -o) the grub.cfg the firmware reads (C(/boot/grub2/grub.cfg), or the
    EFI one under C(/boot/efi/EFI/*/) when that is not a stub)."
  - "V(grubby) on RHEL 8 and later and Fedora (BLS): C(grubby --update-kernel=ALL|DEFAULT|PATH
    --args/--remove-args), and C(/etc/kernel/cmdline) so that kernels installed later inherit
    the arguments."
  - "V(zipl) on s390x: C(parameters=) of C(/etc/zipl.conf), or the C(options) lines of the BLS
    entries where they exist, then C(zipl)."
  - "V(systemd_boot): the C(options) lines of the loader entries on the ESP, and
    C(/etc/kernel/cmdline) for kernels installed later."
  - "V(ostree): C(rpm-ostree kargs --append/--delete) when C(/run/ostree-booted) exists."
  - Every new file is checked before it replaces the old one (C(sh -n) for shell files) and written
    atomically; when regenerating the boot configuration fails, or the generated configuration
    does not carry the requested arguments, the previous files are put back and the module fails.
author:
  - crashdump.kdump contributors (!UNKNOWN)
extends_documentation_fragment:
  - crashdump.kdump.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  args:
    description:
      - Kernel arguments, name to value. A null value is a bare flag (V(nokaslr)); a list of values
        writes several words of one name (V(crashkernel=1G,high) and V(crashkernel=256M,low)).
      - With O(state=present) every existing word of a named argument is replaced by the given
        words; with O(state=absent) a null value removes every word of that name, values remove
        only those words.
      - Names are letters, digits, C(_), C(-) and C(.); values may not hold spaces, quotes, C($),
        backquotes, backslashes or shell operators.
    type: dict
    required: true
  state:
    description: Whether the arguments should be on the command line.
    type: str
    choices: [present, absent]
    default: present
  kernels:
    description:
      - Which boot entries to change. V(all) also changes what future kernels inherit.
        V(default) only the default entry, or a kernel image path (V(grubby), V(zipl) with BLS,
        V(systemd_boot)). V(grub) and V(ostree) apply to all entries and accept V(all) or V(default).
    type: str
    default: all
  backend:
    description: The boot loader. V(auto) detects it from the host.
    type: str
    choices: [auto, grub, grubby, zipl, systemd_boot, ostree]
    default: auto
  backup:
    description: Keep a timestamped copy of each file the module changes.
    type: bool
    default: false
  update_bootloader:
    description:
      - Regenerate the boot configuration (C(update-grub), C(grub2-mkconfig), C(zipl)) after the
        change. Without it the change reaches the next boot only when something else regenerates
        it, and the returned next-boot command line is the old one.
    type: bool
    default: true
notes:
  - The module never reboots. Use RV(reboot_required) to decide.
  - With V(grub) on Debian, O(state=absent) keeps stripping an argument that another file (such
    as kdump-tools.cfg) still adds; when nothing else adds it, the drop-in entry is removed, and the
    drop-in itself when it manages nothing.
seealso:
  - module: crashdump.kdump.crashkernel_info
"""

EXAMPLES = r"""
- name: Reserve memory for the capture kernel on the next boot
  crashdump.kdump.kernel_cmdline:
    args:
      crashkernel: 256M
  become: true
  register: cmdline

- name: Reboot when the reservation changed
  ansible.builtin.reboot:
  become: true
  when: cmdline.reboot_required

- name: A reservation above 4 GiB with an explicit low area
  crashdump.kdump.kernel_cmdline:
    args:
      crashkernel:
        - 1G,high
        - 256M,low
  become: true

- name: Use the value crashkernel_info recommends
  crashdump.kdump.kernel_cmdline:
    args:
      crashkernel: "{{ ck.recommended.value }}"
  become: true

- name: Only the default kernel of a RHEL host, through grubby
  crashdump.kdump.kernel_cmdline:
    args:
      crashkernel: 2G-64G:256M,64G-:512M
    kernels: default
    backend: grubby
  become: true

- name: Remove crashkernel= and a debugging flag
  crashdump.kdump.kernel_cmdline:
    args:
      crashkernel:
      nokaslr:
    state: absent
  become: true
"""

RETURN = r"""
backend:
  description: The backend used.
  returned: always
  type: str
  sample: grub
next_boot_cmdline:
  description: The command line of the default boot entry as read back from the generated boot configuration.
  returned: always
  type: str
  sample: root=UUID=0e5b ro console=ttyS0,115200n8 quiet crashkernel=256M
running_cmdline:
  description: The running kernel's C(/proc/cmdline).
  returned: always
  type: str
reboot_required:
  description: Whether a managed argument of the running command line differs from the next boot's.
  returned: always
  type: bool
  sample: true
commands:
  description: The commands run (in check mode, those that would run), as argv lists.
  returned: always
  type: list
  elements: list
  sample: [["/usr/sbin/update-grub"]]
files:
  description: The files changed (in check mode, those that would change).
  returned: always
  type: list
  elements: str
  sample: [/etc/default/grub.d/zz-crashdump-kdump.cfg]
backup_files:
  description: Backup copies made when O(backup=true).
  returned: changed
  type: list
  elements: str
"""

import os

from ansible_collections.crashdump.kdump.plugins.module_utils.common.module import checked_module
from ansible_collections.crashdump.kdump.plugins.module_utils.common.apply import Applier, ApplyError
from ansible_collections.crashdump.kdump.plugins.module_utils.boot.cmdline import CmdlineError
from ansible_collections.crashdump.kdump.plugins.module_utils.boot.kernel_cmdline import (
    BootError,
    BootFiles,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.boot.service import (
    CmdlineWork,
    running_cmdline,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.runner.command import ENV


def main():
    module = checked_module(
        argument_spec=dict(
            args=dict(type="dict", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            kernels=dict(type="str", default="all"),
            backend=dict(type="str", default="auto",
                         choices=["auto", "grub", "grubby", "zipl", "systemd_boot", "ostree"]),
            backup=dict(type="bool", default=False),
            update_bootloader=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    files = BootFiles("/", run=lambda argv: module.run_command(argv, environ_update=dict(ENV)),
                      which=module.get_bin_path)
    work = CmdlineWork(files, os.uname()[4], running_cmdline(files))
    try:
        plan = work.prepare(module.params)
    except (BootError, CmdlineError) as exc:
        module.fail_json(msg=str(exc))
    diff = dict(diff=work.diff()) if module._diff else {}
    if not work.changes() or module.check_mode:
        module.exit_json(**dict(work.preview(), **diff))
    applier = Applier(module)
    try:
        backups = applier.replace_files(plan.files, plan.validate, module.params["backup"],
                                        snapshot=plan.regenerated)
        result = work.finish(applier.run, module.warn)
    except (ApplyError, BootError, CmdlineError, OSError) as exc:
        applier.restore()
        module.fail_json(msg="%s; the previous boot configuration was restored" % exc,
                         commands=applier.commands)
    result.update(diff, commands=applier.commands)
    if backups:
        result["backup_files"] = backups
    module.exit_json(**result)


if __name__ == "__main__":
    main()
