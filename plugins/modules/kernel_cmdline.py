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
from ansible_collections.crashdump.kdump.plugins.module_utils.boot.cmdline import (
    CmdlineError,
    apply,
    join,
    split,
    validate_args,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.boot.kernel_cmdline import (
    BootError,
    BootFiles,
    make_backend,
    managed_state,
    satisfied,
)

ENV = {"LC_ALL": "C", "LANG": "C"}


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
    p = module.params

    def read_only(argv):
        return module.run_command(argv, environ_update=ENV)

    try:
        validate_args(p["args"])
    except CmdlineError as exc:
        module.fail_json(msg=str(exc))
    if p["kernels"] not in ("all", "default") and not os.path.isfile(p["kernels"]):
        module.fail_json(msg="kernels: %s is not a kernel image on this host; expected all,"
                             " default or the path of an installed kernel" % p["kernels"])
    files = BootFiles("/", run=read_only, which=module.get_bin_path)
    try:
        with open("/proc/cmdline") as handle:
            running = handle.read().strip()
    except (IOError, OSError):
        running = ""
    try:
        backend = make_backend(p["backend"], files, os.uname()[4])
        plan = backend.plan(p["args"], p["state"], p["kernels"])
        before_next = _safe_next(backend)
    except (BootError, CmdlineError) as exc:
        module.fail_json(msg=str(exc))

    result = dict(changed=not plan.is_empty(), backend=backend.name, running_cmdline=running,
                  files=sorted(plan.files), commands=[])
    if module._diff:
        diffs = []
        for path, text in sorted(plan.files.items()):
            diffs.append(dict(before=files.read(path) or "", after=text or "",
                              before_header=path, after_header=path))
        if not plan.files and plan.commands:
            after = join(apply(split(before_next), p["args"], p["state"]))
            diffs.append(dict(before=before_next + "\n", after=after + "\n",
                              before_header="next boot command line",
                              after_header="next boot command line"))
        result["diff"] = diffs

    if plan.is_empty() or module.check_mode:
        result["commands"] = plan.commands if not plan.is_empty() else []
        result["next_boot_cmdline"] = before_next
        if plan.is_empty():
            result["reboot_required"] = (managed_state(running, p["args"])
                                         != managed_state(before_next, p["args"]))
        else:
            result["reboot_required"] = not satisfied(running, p["args"], p["state"])
        module.exit_json(**result)

    applier = Applier(module)
    backups = []
    try:
        backups = applier.replace_files(plan.files, plan.validate, p["backup"],
                                        snapshot=plan.regenerated)
        regenerate = plan.backend in ("grub", "zipl")
        if plan.commands and (p["update_bootloader"] or not regenerate):
            for argv in plan.commands:
                rc, out, err = applier.run(argv)
                if rc != 0:
                    raise BootError("%s failed (rc=%d): %s" % (" ".join(argv), rc, (err or out).strip()))
            for argv in plan.checks:
                rc, out, err = applier.run(argv)
                if rc != 0:
                    raise BootError("the regenerated configuration does not parse: %s: %s"
                                    % (" ".join(argv), (err or out).strip()))
        elif plan.commands:
            module.warn("update_bootloader=false: run %s before rebooting, or the change does not"
                        " reach the next boot" % " ".join(plan.commands[0]))
        next_boot = backend.next_boot(p["kernels"])
        if (p["update_bootloader"] or not regenerate) and not satisfied(next_boot, p["args"], p["state"]):
            raise BootError("the regenerated boot configuration does not carry the requested"
                            " arguments: the default entry boots with %r" % next_boot)
    except (ApplyError, BootError, CmdlineError, OSError) as exc:
        applier.restore()
        module.fail_json(msg="%s; the previous boot configuration was restored" % exc,
                         commands=applier.commands)
    result.update(commands=applier.commands, next_boot_cmdline=next_boot,
                  reboot_required=managed_state(running, p["args"]) != managed_state(next_boot, p["args"]))
    if backups:
        result["backup_files"] = backups
    module.exit_json(**result)


def _safe_next(backend):
    try:
        return backend.next_boot()
    except BootError:
        return ""


if __name__ == "__main__":
    main()
