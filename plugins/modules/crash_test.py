#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: crash_test
short_description: Crash a host on purpose and prove that a valid dump of that crash arrives
version_added: 0.1.0
description:
  - Refuses unless O(confirm=true), and refuses a host that M(crashdump.kdump.kdump_info) does not
    report ready (its reasons in the message) unless O(force=true).
  - Records the boot id, the dumps already on the target (on this host for local targets, on
    O(dump_host) for SSH and NFS targets) and the host's time; syncs and triggers sysrq-c detached,
    so that the connection loss is expected; watches the host's SSH port go silent and answer
    again; checks that the boot id changed (the capture kernel's own reboot is part of the wait).
  - Then finds exactly the new dump and validates it with the pure-Python reader of
    M(crashdump.kdump.vmcore_info) - a complete dump, of the kernel that crashed, with a crash time
    after the trigger where the dump records one, and a saved kernel log that ends with the sysrq
    crash.
  - RV(passed) is true only then. A failure names the step that failed (RV(failed_step)) and where
    the evidence is.
  - After a passed test it leaves the proof record on the host (M(crashdump.kdump.kdump_proof),
    C(/var/lib/crashdump-kdump/proof.json), root-only) - what was proven - the kernel, the capture kernel
    and initrd and the configuration with their SHA-256 and the tools' versions as they were before the
    crash, the reservation, the target, the dump and the timings. M(crashdump.kdump.kdump_info) reads it
    back and says whether it still holds. A record that cannot be written is a warning, not a failure.
  - This is an action plugin; it runs M(crashdump.kdump.kdump_info), M(crashdump.kdump.vmcore_info),
    C(ansible.builtin.slurp), C(ansible.builtin.command) and M(crashdump.kdump.kdump_proof) on the host
    (and M(crashdump.kdump.vmcore_info)
    on O(dump_host) through a connection of its own).
author:
  - crashdump.kdump contributors (!UNKNOWN)
extends_documentation_fragment:
  - crashdump.kdump.attributes
  - crashdump.kdump.attributes.action
attributes:
  check_mode:
    support: none
    details: In check mode nothing is crashed and the task is skipped.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run crashes the host.
options:
  confirm:
    description: Must be V(true); the host is crashed and everything running on it is lost.
    type: bool
    default: false
  force:
    description: Crash even when M(crashdump.kdump.kdump_info) says the host is not ready (to prove that it fails).
    type: bool
    default: false
  dump_host:
    description:
      - The inventory host that receives the dump of an SSH or NFS target; required for those.
    type: str
  dump_path:
    description:
      - Where to look for the dump - on the host for local and fs targets (default, the configured
        directory), on O(dump_host) for remote ones (default, for SSH the directory of this host on a
        server set up by the C(crashdump.kdump.dump_server) role - its fact C(dump_server_client_dirs)
        - else the SSH target's path; for NFS the export's path).
    type: path
  down_timeout:
    description: Seconds the host may take to stop answering SSH after the trigger.
    type: int
    default: 120
  boot_timeout:
    description:
      - Seconds from the trigger until the host is back. Default - 600 plus 60 per GiB of RAM
        (saving the dump takes longer on a larger host).
    type: int
  sysrq_delay:
    description: Seconds between the detached trigger and the crash, for the task to return first.
    type: int
    default: 2
  poll:
    description: Seconds between checks of the SSH port.
    type: float
    default: 2
notes:
  - Needs an SSH connection to the host (C(ansible_host) and C(ansible_port) are watched from the
    controller).
  - The host variable C(kdump_console_dir), when set (the lab sets it), is named as evidence in
    failure messages.
seealso:
  - module: crashdump.kdump.kdump_info
  - module: crashdump.kdump.kdump_proof
  - module: crashdump.kdump.vmcore_info
"""

EXAMPLES = r"""
- name: Prove that a crash of this host produces a valid dump
  crashdump.kdump.crash_test:
    confirm: true
  register: crash

- name: A host that dumps over SSH to dumps.example.com
  crashdump.kdump.crash_test:
    confirm: true
    dump_host: dumps.example.com
"""

RETURN = r"""
passed:
  description: Whether a valid dump of this crash arrived.
  returned: always
  type: bool
failed_step:
  description: The step that failed - confirm, readiness, record, trigger, down, boot, dump or validate.
  returned: always
  type: str
dump_path:
  description: The new dump.
  returned: always
  type: str
  sample: /var/crash/202611260922/dump.202611260922
dump_host:
  description: The host the dump is on.
  returned: always
  type: str
format:
  description: The dump's format (C(kdump) or C(flattened kdump), C(elf)).
  returned: always
  type: str
size:
  description: The dump's size in bytes.
  returned: always
  type: int
kernel:
  description: The release of the kernel that was crashed.
  returned: always
  type: str
triggered_at:
  description: When sysrq-c was triggered, in seconds since the epoch (the controller's clock).
  returned: when the host was crashed
  type: int
timings:
  description: Seconds from the trigger.
  returned: always
  type: dict
  contains:
    trigger_to_down:
      description: Until the host stopped answering SSH.
      type: float
    trigger_to_dump_complete:
      description: Until the dump file was last written (the host's clock).
      type: float
    trigger_to_back:
      description: Until the host answered again after its reboot.
      type: float
compression:
  description: The dump's page compression.
  returned: when a new dump was found
  type: str
dump_level:
  description: makedumpfile's dump level of the new dump.
  returned: when a new dump was found
  type: int
crash_time:
  description: The crash time recorded in the dump (VMCOREINFO CRASHTIME), if any.
  returned: when a new dump was found
  type: int
dmesg:
  description: The kernel log saved beside the dump.
  returned: when a new dump was found
  type: str
dmesg_panic:
  description: Its last "Kernel panic" line.
  returned: when a new dump was found
  type: str
msg:
  description: What happened, in one sentence; on failure the step and the reason.
  returned: always
  type: str
record:
  description: What was recorded before the crash (boot id, number of dumps, host time, boot timeout).
  returned: when the host was crashed
  type: dict
proof:
  description: The proof record written on the host after a passed test, or null (not passed, or not written - a warning says why).
  returned: always
  type: str
  sample: /var/lib/crashdump-kdump/proof.json
target:
  description: The dump target as M(crashdump.kdump.kdump_info) read it.
  returned: when the host was checked
  type: dict
"""
