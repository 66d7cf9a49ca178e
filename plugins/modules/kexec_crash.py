#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kexec_crash
short_description: Load, reload or unload the capture kernel into the crash kernel reservation
version_added: 0.1.0
description:
  - Loads the kdump capture kernel with kexec into the memory reserved by C(crashkernel=),
    reloads it, or unloads it; rebuilds the kdump initrd first when it is missing, when the dump
    configuration it is built from changed since the last load, or when asked.
  - "V(service) goes through the distribution's tool: C(kdump-config load/unload/reload)
    (Debian, Ubuntu), C(kdumpctl start/stop/restart) (Fedora, RHEL), the C(kdump) service (SUSE).
    V(direct) runs C(kexec -p) itself with O(kernel), O(initrd) and O(cmdline)."
  - Uses the kexec_file_load system call (C(kexec -s)) wherever the architecture has it, and always
    under Secure Boot or kernel lockdown, where only it may load a (signed) kernel; elsewhere
    kexec_load (C(kexec -c)), with a note in the result.
  - Idempotent - after each load it records a fingerprint (kernel and initrd paths and SHA-256,
    capture command line, system call, checksums of the configuration the initrd is built from)
    in C(/var/lib/crashdump-kdump/kexec_crash.json), and loads again only when that changes or
    C(/sys/kernel/kexec_crash_loaded) is 0. A capture kernel the service loaded at boot from
    unchanged inputs is adopted without a reload.
  - Fails, changing nothing, when no memory is reserved, when the reservation is too small for the
    kernel and initrd (the message gives both sizes and the reservation), or when kexec or the
    service fails (its output is in the message).
author:
  - crashdump.kdump contributors (!UNKNOWN)
extends_documentation_fragment:
  - crashdump.kdump.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  state:
    description:
      - V(loaded) loads the capture kernel when it is not loaded or what should be loaded changed.
      - V(reloaded) always loads it again (after a change the caller knows of).
      - V(unloaded) unloads it; the reservation stays until a reboot without C(crashkernel=).
    type: str
    choices: [loaded, reloaded, unloaded]
    default: loaded
  method:
    description: V(service) uses the distribution's kdump tool; V(direct) runs kexec.
    type: str
    choices: [service, direct]
    default: service
  family:
    description: The kdump implementation. V(auto) reads C(/etc/os-release).
    type: str
    choices: [auto, debian, redhat, suse]
    default: auto
  kernel:
    description:
      - The capture kernel image. Default - C(/boot/vmlinuz-RELEASE) of the running kernel.
    type: path
  initrd:
    description:
      - The kdump initrd. Default - the family's (C(/var/lib/kdump/initrd.img-RELEASE),
        C(/boot/initramfs-RELEASEkdump.img), C(/boot/initrd-RELEASE-kdump)).
    type: path
  cmdline:
    description:
      - The capture kernel's command line for V(direct). Default - built the way the family's
        tool builds it, from C(/proc/cmdline) and its configuration (C(KDUMP_CMDLINE),
        C(KDUMP_CMDLINE_APPEND); C(KDUMP_COMMANDLINE), C(_REMOVE), C(_APPEND)).
    type: str
  kexec_args:
    description: More arguments for kexec (V(direct)), one per item.
    type: list
    elements: str
    default: []
  syscall:
    description: V(auto) as described above; V(file) forces kexec_file_load, V(load) kexec_load (refused under Secure Boot or lockdown).
    type: str
    choices: [auto, file, load]
    default: auto
  enabled:
    description:
      - Whether the distribution's kdump service (C(kdump-tools.service) on Debian and Ubuntu,
        C(kdump.service) elsewhere) loads the capture kernel at boot. V(true) enables it,
        V(false) disables it; unset leaves it as it is. Checked with C(systemctl is-enabled)
        and changed with C(systemctl enable) or C(disable) (the service is not started or
        stopped by this option).
    type: bool
  rebuild:
    description:
      - V(auto) rebuilds the kdump initrd when it is missing or the configuration it is built from
        changed since the last load; V(always) rebuilds it now; V(never) does not.
    type: str
    choices: [auto, always, never]
    default: auto
seealso:
  - module: crashdump.kdump.kdump_target
  - module: crashdump.kdump.kernel_cmdline
  - module: crashdump.kdump.kdump_info
"""

EXAMPLES = r"""
- name: Make sure the capture kernel is loaded (rebuilding the initrd if the target changed)
  crashdump.kdump.kexec_crash:

- name: Load it now and at every boot
  crashdump.kdump.kexec_crash:
    enabled: true

- name: Reload after kdump_target said so
  crashdump.kdump.kexec_crash:
    state: reloaded
  when: target.reload_required

- name: Load a specific kernel with kexec directly
  crashdump.kdump.kexec_crash:
    method: direct
    kernel: /boot/vmlinuz-6.1.0-50-amd64
    initrd: /var/lib/kdump/initrd.img-6.1.0-50-amd64
    cmdline: "root=UUID=dce86a75-c9c4-429a-b8ac-6996f2e95c32 ro console=ttyS0 nr_cpus=1 reset_devices"

- name: Unload it
  crashdump.kdump.kexec_crash:
    state: unloaded
"""

RETURN = r"""
enabled:
  description:
    - Whether the kdump service starts at boot afterwards (in check mode, whether it would).
  returned: when O(enabled) is set
  type: bool
loaded:
  description: Whether a capture kernel is loaded afterwards (C(/sys/kernel/kexec_crash_loaded)).
  returned: always
  type: bool
reserved:
  description: Bytes reserved for the capture kernel (C(/sys/kernel/kexec_crash_size)).
  returned: always
  type: int
  sample: 201326592
family:
  description: The kdump implementation.
  returned: always
  type: str
method:
  description: V(service) or V(direct).
  returned: always
  type: str
syscall:
  description: V(file) (kexec_file_load) or V(load) (kexec_load) with V(direct); V(service) when the service chooses.
  returned: always
  type: str
kernel:
  description: The capture kernel image.
  returned: always
  type: str
  sample: /boot/vmlinuz-6.1.0-50-amd64
initrd:
  description: The kdump initrd.
  returned: always
  type: str
  sample: /var/lib/kdump/initrd.img-6.1.0-50-amd64
cmdline:
  description: The capture kernel's command line.
  returned: always
  type: str
actions:
  description: What was done (or would be in check mode), in order - unload, rebuild, load.
  returned: always
  type: list
  elements: str
  sample: [rebuild, load]
reasons:
  description: Why.
  returned: always
  type: list
  elements: str
rebuilt:
  description: Whether the kdump initrd was rebuilt.
  returned: always
  type: bool
commands:
  description: The commands run.
  returned: always
  type: list
  elements: list
notes:
  description: Things worth knowing, such as the fallback to kexec_load.
  returned: always
  type: list
  elements: str
fingerprint:
  description: What identifies the loaded capture kernel (recorded for the next run).
  returned: when loaded
  type: dict
"""

import json
import os
import tempfile


from ansible_collections.crashdump.kdump.plugins.module_utils.common.module import checked_module
from ansible_collections.crashdump.kdump.plugins.module_utils.family import records
from ansible_collections.crashdump.kdump.plugins.module_utils.capture.kexec import (
    BOOT_UNIT,
    INITRD_INPUTS,
    SERVICE,
    STATE_FILE,
    Capture,
    KexecError,
    boot_action,
    capture_cmdline,
    choose_syscall,
    decide,
    fingerprint,
    fits,
    kexec_argv,
    unload_argv,
)

ENV = {"LC_ALL": "C", "LANG": "C"}


class Runner(object):
    def __init__(self, module):
        self.module = module
        self.commands = []

    def __call__(self, argv, what):
        self.commands.append(list(argv))
        rc, out, err = self.module.run_command(argv, environ_update=ENV)
        if rc != 0:
            raise KexecError("%s: %s failed (rc=%d): %s" % (
                what, " ".join(argv), rc, (err or out).strip()))
        return out


def save_state(module, data):
    directory = os.path.dirname(STATE_FILE)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".kexec_crash-")
    with os.fdopen(handle, "w") as out:
        json.dump(data, out, indent=1, sort_keys=True)
    os.chmod(tmp, 0o644)
    module.atomic_move(tmp, STATE_FILE)


def main():
    module = checked_module(
        argument_spec=dict(
            state=dict(type="str", default="loaded", choices=["loaded", "reloaded", "unloaded"]),
            method=dict(type="str", default="service", choices=["service", "direct"]),
            family=dict(type="str", default="auto", choices=["auto", "debian", "redhat", "suse"]),
            kernel=dict(type="path"),
            initrd=dict(type="path"),
            cmdline=dict(type="str"),
            kexec_args=dict(type="list", elements="str", default=[]),
            syscall=dict(type="str", default="auto", choices=["auto", "file", "load"]),
            rebuild=dict(type="str", default="auto", choices=["auto", "always", "never"]),
            enabled=dict(type="bool"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    capture = Capture("/")
    family = p["family"]
    if family == "auto":
        family = records.detect_name(capture.read_text("/etc/os-release"))
        if family is None:
            module.fail_json(msg="/etc/os-release: cannot tell the kdump implementation of this"
                                 " distribution; set family")
    if p["method"] == "service" and (p["kernel"] or p["initrd"] or p["cmdline"] or p["kexec_args"]):
        module.fail_json(msg="kernel, initrd, cmdline and kexec_args are for method=direct; the"
                             " service takes them from its own configuration")
    release = os.uname()[2]
    default_kernel, default_initrd = capture.defaults(family, release)
    kernel = p["kernel"] or default_kernel
    initrd = p["initrd"] or default_initrd
    cmdline = p["cmdline"] or capture_cmdline(family, capture.read_text("/proc/cmdline", ""),
                                              capture.config(family))
    notes = []
    result = dict(changed=False, family=family, method=p["method"], kernel=kernel, initrd=initrd,
                  cmdline=cmdline, actions=[], reasons=[], rebuilt=False, commands=[], notes=notes)
    try:
        reserved = capture.reserved() or 0
        loaded = capture.loaded()
        secure_boot, lockdown = capture.secure()
        syscall, note = choose_syscall(p["syscall"], os.uname()[4], secure_boot, lockdown)
    except KexecError as exc:
        module.fail_json(msg=str(exc), **result)
    if p["method"] == "service":
        # The tool picks the system call itself (kdump-config: -s under Secure Boot).
        syscall, note = "service", None
    if note:
        notes.append(note)
    result.update(reserved=reserved, loaded=loaded, syscall=syscall)

    if p["state"] != "unloaded":
        if reserved == 0:
            module.fail_json(msg="no memory is reserved for a capture kernel"
                                 " (/sys/kernel/kexec_crash_size is 0): put crashkernel= on the"
                                 " kernel command line (kernel_cmdline) and reboot first", **result)
        if not os.path.isfile(kernel):
            module.fail_json(msg="the capture kernel %s does not exist; install the kernel or set"
                                 " kernel" % kernel, **result)
    initrd_exists = os.path.isfile(initrd)
    config_files = list(INITRD_INPUTS[family])
    current = None
    if initrd_exists and os.path.isfile(kernel):
        current = fingerprint(kernel, initrd, cmdline, syscall, config_files)
    stored = capture.stored()
    rebuild = p["rebuild"]
    if p["method"] == "direct" and family != "debian" and rebuild != "never" and not initrd_exists:
        module.fail_json(msg="%s does not exist; method=direct builds the initrd only on Debian"
                             " (kdump-tools' hook); build it with the service or set initrd"
                             % initrd, **result)
    actions, reasons = decide(p["state"], loaded, stored, current, initrd_exists, rebuild)
    if loaded and stored is None and not actions and current is not None:
        notes.append("the capture kernel the service loaded is adopted: its inputs are recorded"
                     " for the next run")
    result.update(actions=actions, reasons=reasons)
    if current is not None and "load" in actions and "rebuild" not in actions:
        problem = fits(reserved, kernel, initrd)
        if problem:
            module.fail_json(msg=problem, **result)

    # One record of every command run, the boot step's and the load's alike.
    run = Runner(module)
    result["commands"] = run.commands
    if p["enabled"] is not None:
        unit = BOOT_UNIT[family]
        systemctl = module.get_bin_path("systemctl")
        if systemctl is None:
            module.fail_json(msg="enabled=%s needs systemctl, which is not on this host's PATH"
                                 % p["enabled"], **result)
        rc, out, err = module.run_command([systemctl, "is-enabled", unit], environ_update=ENV)
        try:
            boot = boot_action(p["enabled"], unit, rc, out or err)
        except KexecError as exc:
            module.fail_json(msg=str(exc), **result)
        if boot:
            result["changed"] = True
            if not module.check_mode:
                try:
                    run([systemctl, boot, unit], "%s %s at boot" % (boot[:-1] + "ing", unit))
                except KexecError as exc:
                    module.fail_json(msg=str(exc), **result)
        result["enabled"] = p["enabled"]

    if not actions:
        if loaded and stored is None and current is not None and not module.check_mode:
            save_state(module, current)
        if loaded and current is not None:
            result["fingerprint"] = current
        module.exit_json(**result)
    result["changed"] = True
    if module.check_mode:
        module.exit_json(**result)

    load_cmd, unload_cmd, _reload_cmd = SERVICE[family]
    kexec = module.get_bin_path("kexec", required=p["method"] == "direct")
    try:
        for action in actions:
            if action == "unload":
                if p["method"] == "service":
                    run(list(unload_cmd), "unloading")
                else:
                    run(unload_argv(kexec, syscall), "unloading")
            elif action == "rebuild":
                record = records.get(family)
                if record.rebuild_by_load:
                    # The service's load builds a missing initrd (kdump-config's kernel hook).
                    if initrd_exists:
                        os.unlink(initrd)
                    if p["method"] == "direct":
                        run(record.argv("rebuild", release), "building the kdump initrd")
                else:
                    run(record.argv("rebuild", release), "rebuilding the kdump initrd")
                result["rebuilt"] = True
            elif action == "load":
                if p["method"] == "service":
                    run(list(load_cmd), "loading")
                else:
                    problem = fits(reserved, kernel, initrd)
                    if problem:
                        raise KexecError(problem)
                    run(kexec_argv(kexec, syscall, kernel, initrd, cmdline, p["kexec_args"]),
                        "loading")
        result["loaded"] = capture.loaded()
        if "load" in actions and not result["loaded"]:
            raise KexecError("%s reported success but /sys/kernel/kexec_crash_loaded is still 0"
                             % " ".join(run.commands[-1]))
        if result["loaded"]:
            if not os.path.isfile(initrd):
                raise KexecError("the capture kernel is loaded but %s does not exist: the service"
                                 " loaded another initrd; set initrd" % initrd)
            current = fingerprint(kernel, initrd, cmdline, syscall, config_files)
            save_state(module, current)
            result["fingerprint"] = current
        elif os.path.exists(STATE_FILE):
            os.unlink(STATE_FILE)
    except (KexecError, OSError) as exc:
        result["loaded"] = capture.loaded()
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
