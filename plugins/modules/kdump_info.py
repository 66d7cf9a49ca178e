#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kdump_info
short_description: Will this host capture a crash, and where will the dump go?
version_added: 0.1.0
description:
  - Gathers, without changing anything, what decides whether a crash of this host is captured -
    the reservation, the capture kernel, the kdump service, the configured dump target and
    collector, makedumpfile, the dumps already on a local target, and the sizing engine's
    recommendation - and answers with RV(ready) and, when not ready, plain-language RV(reasons).
  - Works on hosts where kdump was never installed - every field is present, RV(ready) is false
    and the reasons say what is missing.
  - Run as root with makedumpfile installed, it measures how big a dump would be with
    C(makedumpfile --mem-usage /proc/kcore) (a few seconds) and warns when makedumpfile cannot find the
    running kernel's free pages (RV(expected_dump), RV(warnings)).
  - Reads the proof record a passed M(crashdump.kdump.crash_test) left on the host
    (C(/var/lib/crashdump-kdump/proof.json), root-only) and says whether it still proves the host as
    it is now (RV(proof), RV(proof_stale), RV(proof_stale_reasons)) - same running kernel, same capture
    kernel and initrd (SHA-256), same configuration files, same tool versions, same reservation and
    target. Whether the target is reachable now is not checked (M(crashdump.kdump.kdump_target)'s
    pre-flight does that), so it is no reason here.
author:
  - crashdump.kdump contributors (!UNKNOWN)
extends_documentation_fragment:
  - crashdump.kdump.attributes
  - crashdump.kdump.attributes.info_module
options:
  family:
    description: The kdump implementation. V(auto) reads C(/etc/os-release).
    type: str
    choices: [auto, debian, redhat, suse]
    default: auto
  policy:
    description: The sizing policy of the recommendation (see M(crashdump.kdump.crashkernel_info)).
    type: str
    choices: [distro, estimate]
    default: distro
  dumps:
    description: How many of the newest dumps on a local target to list (0 for none).
    type: int
    default: 20
seealso:
  - module: crashdump.kdump.crashkernel_info
  - module: crashdump.kdump.kdump_target
  - module: crashdump.kdump.kexec_crash
"""

EXAMPLES = r"""
- name: Is this host ready to capture a crash?
  crashdump.kdump.kdump_info:
  register: kdump

- name: Say why not
  ansible.builtin.assert:
    that: kdump.ready
    fail_msg: "{{ kdump.reasons | join('; ') }}"
"""

RETURN = r"""
ready:
  description: Whether a crash now would be captured.
  returned: always
  type: bool
reasons:
  description: Why not, in plain language; empty when ready.
  returned: always
  type: list
  elements: str
  sample: ["no crashkernel= on the kernel command line: reserve memory (kernel_cmdline) and reboot"]
family:
  description: The kdump implementation.
  returned: always
  type: str
  sample: debian
installed:
  description: Whether the family's kdump package is installed (its configuration file exists).
  returned: always
  type: bool
package:
  description: The family's kdump package.
  returned: always
  type: str
  sample: kdump-tools
kernel_release:
  description: The running kernel.
  returned: always
  type: str
system_ram:
  description:
    - Bytes of System RAM in C(/proc/iomem), the amount C(crashkernel=) ranges are matched
      against; V(null) when it cannot be read.
  returned: always
  type: int
reservation:
  description: The crash kernel reservation.
  returned: always
  type: dict
  contains:
    requested:
      description: The crashkernel= words of the running command line, or null.
      type: str
    requested_bytes:
      description: What they ask for on this host by the kernel's rules.
      type: int
    reserved:
      description: Bytes reserved (C(/sys/kernel/kexec_crash_size)).
      type: int
    regions:
      description: The Crash kernel regions of C(/proc/iomem) (start, end, size).
      type: list
      elements: dict
    high:
      description: Whether a C(,high) reservation was requested.
      type: bool
    low:
      description: Whether a C(,low) reservation was requested.
      type: bool
    error:
      description: Why the kernel rejects the requested value, or null.
      type: str
capture:
  description: The capture kernel.
  returned: always
  type: dict
  contains:
    loaded:
      description: C(/sys/kernel/kexec_crash_loaded).
      type: bool
    kernel:
      description: The capture kernel image (as recorded by M(crashdump.kdump.kexec_crash), else the family default).
      type: str
    initrd:
      description: The kdump initrd.
      type: str
    initrd_exists:
      description: Whether the kdump initrd exists.
      type: bool
    cmdline:
      description: The capture command line recorded at the last load by M(crashdump.kdump.kexec_crash), or null.
      type: str
    syscall:
      description: V(file) or V(load), as recorded, or null.
      type: str
    recorded:
      description: Whether M(crashdump.kdump.kexec_crash) recorded the load.
      type: bool
    secure_boot:
      description:
        - Whether the firmware enforces Secure Boot (C(SecureBoot) 1 and C(SetupMode) 0 in the EFI variables).
        - There only kexec_file_load (C(kexec -s)) may load the capture kernel, and only a signed one.
      type: bool
    lockdown:
      description:
        - The kernel's lockdown mode (V(none), V(integrity) or V(confidentiality)) from C(/sys/kernel/security/lockdown);
          V(none) where the file does not exist. Under V(integrity) or V(confidentiality) kexec_load is refused.
      type: str
    kallsyms_text:
      description:
        - On aarch64 where the capture kernel is not loaded with kexec_file_load, whether C(/proc/kallsyms) lists C(_text).
          Kernels built without C(CONFIG_KALLSYMS_ALL) (Debian 12's arm64 kernels) do not; kexec-tools' kexec_load path
          then builds a wrong crash header, and the host is not ready (a reason says so) unless RV(capture.kallsyms_provided).
          Absent on other hosts.
      type: bool
      returned: on aarch64 without kexec_file_load
    kallsyms_provided:
      description:
        - Where C(/proc/kallsyms) lacks C(_text), whether M(crashdump.kdump.kexec_crash)'s fix is in place for this boot - the unit
          drop-in that lets the kdump service's load see a copy of C(/proc/kallsyms) with C(_text), and that copy, written for the
          running kernel. Then the host can be ready.
      type: bool
      returned: on aarch64 without kexec_file_load
service:
  description: The kdump service.
  returned: always
  type: dict
  contains:
    unit:
      description: The systemd unit.
      type: str
    enabled:
      description: Whether it starts at boot.
      type: bool
    active:
      description: Whether it is active.
      type: bool
    ready:
      description: Whether the family's tool reports ready (C(kdump-config status), C(kdumpctl status)).
      type: bool
    status:
      description: The tool's status output.
      type: str
target:
  description: The configured dump target and collector, read back from the native files (null when not installed).
  returned: always
  type: dict
  sample: {"type": "local", "path": "/var/crash", "makedumpfile_args": ["-c", "-d", "31"], "keep": 0}
makedumpfile:
  description: The installed makedumpfile.
  returned: always
  type: dict
  contains:
    version:
      description: Its version, or null when not installed.
      type: str
    compressions:
      description: The page compressions it has.
      type: list
      elements: str
expected_dump:
  description: How big a dump of this host would be now, before compression.
  returned: always
  type: dict
  contains:
    bytes:
      description:
        - The expected size in bytes at RV(expected_dump.dump_level), with a margin for headers, bitmaps and growth
          (the size M(crashdump.kdump.kdump_target)'s pre-flight requires).
      type: int
      sample: 206116847
    source:
      description:
        - V(makedumpfile --mem-usage) when measured on this host (root, makedumpfile installed, a crash kernel reserved),
          else V(/proc/meminfo model); RV(notes) says why a measurement was not used.
      type: str
      sample: makedumpfile --mem-usage
    dump_level:
      description: The dump level of the configured target (31 when none is configured).
      type: int
      sample: 31
dumps:
  description: Dumps on a local target, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The dump file.
      type: str
    size:
      description: Its size in bytes.
      type: int
    mtime:
      description: When it was written (seconds since the epoch).
      type: int
    format:
      description: kdump, flattened, elf or unknown.
      type: str
    kernel:
      description: The crashed kernel's release from the header.
      type: str
    machine:
      description: The crashed kernel's machine from the header.
      type: str
    crash_time:
      description: The crash time from VMCOREINFO (CRASHTIME), where recorded.
      type: int
    dump_time:
      description: The time in the kdump header.
      type: int
    page_size:
      description: The page size.
      type: int
    dump_level:
      description: makedumpfile's dump level.
      type: int
    compression:
      description: The page compression.
      type: str
    incomplete:
      description: Whether makedumpfile marked it incomplete.
      type: bool
    valid:
      description: Whether the header reads as a complete dump.
      type: bool
    error:
      description: What is wrong with the header, or null.
      type: str
    dmesg:
      description: The kernel log saved beside it, or null.
      type: str
recommendation:
  description: The sizing engine's recommendation for this host (as M(crashdump.kdump.crashkernel_info) returns it), or null.
  returned: always
  type: dict
warnings:
  description:
    - What will make dumps worse without making the host not ready - for example a makedumpfile that cannot find the
      running kernel's free pages (makedumpfile before 1.7.7 on kernel 6.12), so that every dump at a dump level with
      bit 16 also carries the free memory; the warning names makedumpfile's version, the kernel and the size.
    - Not reasons - RV(ready) does not depend on them. They are given as Ansible warnings, so this is Ansible's own
      C(warnings) key, present when there are any.
  returned: when there are any
  type: list
  elements: str
proof:
  description:
    - The proof record of the last passed crash test on this host, with its age, or V(null) when there is
      none (or it cannot be read - RV(notes) says why).
  returned: always
  type: dict
  contains:
    proven_at:
      description: When the crash test passed (seconds since the epoch, the host's clock).
      type: int
    proven_at_iso:
      description: The same in ISO 8601, UTC.
      type: str
      sample: "2026-12-03T10:15:00Z"
    age_seconds:
      description: Seconds since then.
      type: int
    kernel_release:
      description: The kernel that crashed.
      type: str
    family:
      description: The kdump implementation.
      type: str
    capture:
      description: The capture kernel and initrd (real paths) and their SHA-256.
      type: dict
    config_sha256:
      description: The SHA-256 of each kdump configuration file of the family (null for a missing one).
      type: dict
    versions:
      description: The versions of the kdump tool, makedumpfile and kexec-tools (null when not installed).
      type: dict
    reservation:
      description: C(reserved_bytes) (C(/sys/kernel/kexec_crash_size)) and C(crashkernel) (the command line's words).
      type: dict
    target:
      description: The dump target in words.
      type: str
    dump:
      description: The dump that proved it (host, path, format, size, compression, level, crash time).
      type: dict
    timings:
      description: The crash test's timings (seconds from the trigger).
      type: dict
    triggered_at:
      description: When the crash was triggered (the controller's clock).
      type: int
proof_stale:
  description: Whether anything the proof depends on changed since; V(null) when there is no proof.
  returned: always
  type: bool
proof_stale_reasons:
  description: What changed, in plain words (tool versions as C(from -> to)); empty when the proof holds.
  returned: always
  type: list
  elements: str
  sample: ["the running kernel is 6.1.0-51-amd64; the proof is of 6.1.0-50-amd64", "makedumpfile changed: 1:1.7.2-1 -> 1:1.7.6-1"]
proof_basis:
  description:
    - What a crash test now would prove (the same fields as RV(proof) has before the test's own) - what
      M(crashdump.kdump.crash_test) records before it crashes the host.
  returned: always
  type: dict
notes:
  description: What could not be read, and why.
  returned: always
  type: list
  elements: str
"""


from ansible_collections.crashdump.kdump.plugins.module_utils.common.module import checked_module
from ansible_collections.crashdump.kdump.plugins.module_utils.capture.status import gather
from ansible_collections.crashdump.kdump.plugins.module_utils.capture.proof import report
from ansible_collections.crashdump.kdump.plugins.module_utils.family.records import NAMES

ENV = {"LC_ALL": "C", "LANG": "C"}


def main():
    module = checked_module(
        argument_spec=dict(
            family=dict(type="str", default="auto", choices=["auto"] + list(NAMES)),
            policy=dict(type="str", default="distro", choices=["distro", "estimate"]),
            dumps=dict(type="int", default=20),
        ),
        supports_check_mode=True,
    )
    p = module.params

    def run(argv):
        return module.run_command(argv, environ_update=ENV)

    info = gather("/", run=run, which=module.get_bin_path,
                  family=None if p["family"] == "auto" else p["family"], policy=p["policy"],
                  dumps=p["dumps"])
    info.update(report(info, "/", run=run, which=module.get_bin_path))
    # Ansible's own warnings (passing them to exit_json is deprecated).
    for warning in info.pop("warnings"):
        module.warn(warning)
    module.exit_json(changed=False, **info)


if __name__ == "__main__":
    main()
