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
  - Uses the kexec_file_load system call (C(kexec -s)) wherever the architecture has it and the
    running kernel is built with it (C(CONFIG_KEXEC_FILE) in C(/boot/config-RELEASE); Debian 12's
    arm64 kernels are not), and always under Secure Boot or kernel lockdown, where only it may
    load a (signed) kernel; elsewhere kexec_load (C(kexec -c)), with a note in the result.
  - On aarch64 kernels whose C(/proc/kallsyms) lists no C(_text) (built without
    C(CONFIG_KALLSYMS_ALL), as Debian 12's are), kexec-tools' kexec_load path writes a wrong crash
    header and the dump comes out empty. There the module writes a root-only copy of
    C(/proc/kallsyms) with C(_text) added (at C(_stext) less the distance the kernel's
    C(System.map) gives) to C(/run/crashdump-kdump/kallsyms), loads with it bind-mounted over
    C(/proc/kallsyms) in a transient unit (C(systemd-run)), and installs a drop-in for the kdump
    service (C(crashdump-kdump-kallsyms.conf)) with the program
    C(/usr/local/lib/crashdump-kdump/kallsyms.py) so that the load at boot does the same. They are
    removed where they are not needed, and with O(state=unloaded) and O(enabled=false).
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
      - V(built) builds the kdump initrd when it is missing (or always, with O(rebuild=always))
        and loads nothing - before the reboot that reserves the memory, so that
        M(crashdump.kdump.crashkernel_info) sizes the reservation for the initrd that will be
        loaded. It needs no reservation. A capture kernel already loaded stays loaded and keeps
        its record, so the next V(loaded) loads the new initrd.
    type: str
    choices: [loaded, reloaded, unloaded, built]
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
- name: Build the kdump initrd before the first reboot, to size the reservation for it
  crashdump.kdump.kexec_crash:
    state: built

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
kallsyms_text:
  description:
    - On aarch64 where C(/proc/kallsyms) lacks C(_text), the address given to kexec for it; the load then used the copy.
  returned: on aarch64 kernels without _text in /proc/kallsyms
  type: str
  sample: "0xffffa0c5b4a00000"
fingerprint:
  description: What identifies the loaded capture kernel (recorded for the next run).
  returned: when loaded
  type: dict
"""

from ansible_collections.crashdump.kdump.plugins.module_utils.common.module import checked_module
from ansible_collections.crashdump.kdump.plugins.module_utils.capture.service import Host, KexecCrash
from ansible_collections.crashdump.kdump.plugins.module_utils.family.records import NAMES
from ansible_collections.crashdump.kdump.plugins.module_utils.runner.command import CommandRunner


def main():
    module = checked_module(
        argument_spec=dict(
            state=dict(type="str", default="loaded", choices=["loaded", "reloaded", "unloaded", "built"]),
            method=dict(type="str", default="service", choices=["service", "direct"]),
            family=dict(type="str", default="auto", choices=["auto"] + list(NAMES)),
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
    runner = CommandRunner(module.run_command, module.get_bin_path)
    host = Host(runner, check_mode=module.check_mode, atomic_move=module.atomic_move)
    result, error = KexecCrash(host).run_params(module.params)
    if error:
        module.fail_json(msg=error, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
