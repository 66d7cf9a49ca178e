# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kernel_cmdline module's work: check the request, plan the boot loader's change, say
what it will do, and after the files are written run the loader's commands and check the
next boot.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

``CmdlineWork(files, arch, running).prepare(params)`` plans (raising BootError or
CmdlineError with the message to fail with); ``preview()`` is the result when nothing is
written (no change, or check mode); ``finish(run, warn)`` runs the plan's commands through
``run(argv) -> (rc, out, err)`` once the module has written ``plan.files`` and returns the
result. The module keeps only the file application and its undo, so a test drives every
backend through this class with a host tree and a table of command answers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.crashdump.kdump.plugins.module_utils.boot.cmdline import (
    apply,
    join,
    split,
    validate_args,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.boot.kernel_cmdline import (
    BootError,
    make_backend,
    managed_state,
    satisfied,
)

# Backends whose commands regenerate a configuration from the written files (grub-mkconfig,
# zipl): update_bootloader=false may leave them for the operator.
REGENERATING = ("grub", "zipl")


def running_cmdline(files):
    """The running kernel's command line (empty when /proc/cmdline cannot be read)."""
    return (files.read("/proc/cmdline") or "").strip()


class CmdlineWork(object):
    def __init__(self, files, arch, running):
        self.files = files
        self.arch = arch
        self.running = running
        self.params = None
        self.backend = None
        self.plan = None
        self.before_next = ""

    def prepare(self, p):
        """Check ``p`` (the module's parameters) and plan the change."""
        self.params = p
        validate_args(p["args"])
        kernels = p["kernels"]
        if kernels not in ("all", "default") and not os.path.isfile(self.files.path(kernels)):
            raise BootError("kernels: %s is not a kernel image on this host; expected all,"
                            " default or the path of an installed kernel" % kernels)
        self.backend = make_backend(p["backend"], self.files, self.arch)
        self.plan = self.backend.plan(p["args"], p["state"], kernels)
        try:
            self.before_next = self.backend.next_boot()
        except BootError:
            self.before_next = ""
        return self.plan

    def changes(self):
        return not self.plan.is_empty()

    def result(self):
        return dict(changed=self.changes(), backend=self.backend.name,
                    running_cmdline=self.running, files=sorted(self.plan.files), commands=[])

    def diff(self):
        """Before/after of each file, or of the next boot's command line when the loader
        changes it by commands alone (grubby, ostree)."""
        p = self.params
        diffs = []
        for path, text in sorted(self.plan.files.items()):
            diffs.append(dict(before=self.files.read(path) or "", after=text or "",
                              before_header=path, after_header=path))
        if not self.plan.files and self.plan.commands:
            after = join(apply(split(self.before_next), p["args"], p["state"]))
            diffs.append(dict(before=self.before_next + "\n", after=after + "\n",
                              before_header="next boot command line",
                              after_header="next boot command line"))
        return diffs

    def reboot_required(self, next_boot):
        args = self.params["args"]
        return managed_state(self.running, args) != managed_state(next_boot, args)

    def preview(self):
        """The result when nothing is written: nothing to change, or check mode."""
        p = self.params
        result = self.result()
        result["next_boot_cmdline"] = self.before_next
        if self.changes():
            result["commands"] = self.plan.commands
            result["reboot_required"] = not satisfied(self.running, p["args"], p["state"])
        else:
            result["reboot_required"] = self.reboot_required(self.before_next)
        return result

    def finish(self, run, warn):
        """After the plan's files were written: run its commands and checks through ``run``,
        and check that the next boot carries the request. Raises BootError."""
        p = self.params
        plan = self.plan
        regenerate = plan.backend in REGENERATING
        runs = p["update_bootloader"] or not regenerate
        if plan.commands and runs:
            for argv in plan.commands:
                rc, out, err = run(argv)
                if rc != 0:
                    raise BootError("%s failed (rc=%d): %s"
                                    % (" ".join(argv), rc, (err or out).strip()))
            for argv in plan.checks:
                rc, out, err = run(argv)
                if rc != 0:
                    raise BootError("the regenerated configuration does not parse: %s: %s"
                                    % (" ".join(argv), (err or out).strip()))
        elif plan.commands:
            warn("update_bootloader=false: run %s before rebooting, or the change does not"
                 " reach the next boot" % " ".join(plan.commands[0]))
        next_boot = self.backend.next_boot(p["kernels"])
        if runs and not satisfied(next_boot, p["args"], p["state"]):
            raise BootError("the regenerated boot configuration does not carry the requested"
                            " arguments: the default entry boots with %r" % next_boot)
        result = self.result()
        result.update(next_boot_cmdline=next_boot, reboot_required=self.reboot_required(next_boot))
        return result
