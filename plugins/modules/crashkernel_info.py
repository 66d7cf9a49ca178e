#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: crashkernel_info
short_description: Report the current and the recommended crash kernel reservation
version_added: 0.1.0
description:
  - Reads what sizing the crash kernel reservation needs from the host - architecture,
    page size, System RAM from C(/proc/iomem), kernel and initrd sizes, loaded module sizes,
    LUKS keyslot memory, CPUs, C(/proc/cmdline) and C(/sys/kernel/kexec_crash_size) - and
    returns the current C(crashkernel=) setting with what it reserves, next to the value a
    sizing policy recommends for this host.
  - System RAM is what the kernel matches C(crashkernel=) ranges against, the sum of the
    C(System RAM) regions of C(/proc/iomem), not C(MemTotal). Reading it needs root, so
    run the module with C(become=true).
  - Changes nothing on the host.
author:
  - crashdump.kdump contributors (!UNKNOWN)
extends_documentation_fragment:
  - crashdump.kdump.attributes
  - crashdump.kdump.attributes.info_module
options:
  policy:
    description:
      - How to size the reservation.
      - V(distro) uses the default of the host's distribution, release, architecture and
        page size, with the add-ons it applies (SME/SEV, mlx5, arm-smmu, 64k pages, fadump,
        capture CPUs). Debian, Ubuntu, Fedora/RHEL and clones, and SUSE are known.
      - V(estimate) computes a host estimate from the kernel's in-memory size, three times
        the kdump initrd, the loaded modules in it, LUKS keyslot memory, capture CPUs and
        makedumpfile bitmaps, plus 15 %, rounded up to 16M with a 128M floor. See
        C(docs/sizing.md) in the collection for the formula.
      - V(fixed) validates O(value) against this host.
      - V(none) reads the host only (RV(host), RV(family), RV(current)) and recommends nothing;
        RV(recommended) is null. The kdump role uses it to take kdump away.
    type: str
    choices: [distro, estimate, fixed, none]
    default: distro
  value:
    description:
      - The C(crashkernel=) value for O(policy=fixed), with or without the leading
        C(crashkernel=), for example V(256M), V(2G-64G:256M,64G-:512M) or
        V(crashkernel=1G,high crashkernel=256M,low).
      - Required when O(policy=fixed), ignored otherwise.
    type: str
  placement:
    description:
      - Where an O(policy=estimate) or plain O(policy=fixed) size goes on x86_64 and aarch64.
      - V(auto) writes C(SIZE,high) (the kernel adds its default low area) when the host
        has RAM above 4 GiB and the size is 1 GiB or more, or more than a quarter of the
        System RAM below 4 GiB; otherwise a plain C(SIZE).
      - V(low) always writes a plain size, V(high) always C(SIZE,high).
      - Distribution tables are returned as the distribution writes them.
    type: str
    choices: [auto, low, high]
    default: auto
  kernel_path:
    description:
      - The kernel image to size for. Default is the running kernel's image in C(/boot).
    type: path
  initrd_path:
    description:
      - The kdump initrd to size for. Default is the kdump initrd of the running kernel
        (C(/var/lib/kdump/initrd.img-RELEASE), C(/boot/initramfs-RELEASEkdump.img) or
        C(/boot/initrd-RELEASE-kdump)); when none is built yet, the boot initrd, which
        over-estimates.
    type: path
  detect_luks:
    description:
      - Run C(lsblk) and C(cryptsetup luksDump) to add the memory of the most expensive
        LUKS keyslot, which the capture kernel needs to unlock an encrypted dump target.
    type: bool
    default: true
notes:
  - The kernel rounds System RAM up to 128 MiB before matching ranges (Linux 5.17 and
    later) and rejects a value whose range visited before the match asks for at least that
    much; the reported sizes follow the running kernel's rules.
seealso:
  - name: Kernel documentation for crashkernel=
    description: The syntax of the parameter.
    link: https://docs.kernel.org/admin-guide/kdump/kdump.html
"""

EXAMPLES = r"""
- name: What does this host reserve, and what would its distribution reserve?
  crashdump.kdump.crashkernel_info:
  become: true
  register: ck

- name: Show both
  ansible.builtin.debug:
    msg: >-
      current {{ ck.current.value | default('none', true) }}
      ({{ ck.current.requested_bytes }} bytes),
      recommended {{ ck.recommended.crashkernel }}
      ({{ ck.recommended.reserved_bytes }} bytes)

- name: Size from this host's own kernel, initrd and modules
  crashdump.kdump.crashkernel_info:
    policy: estimate
  become: true
  register: estimate

- name: Check that a value reserves something sensible here
  crashdump.kdump.crashkernel_info:
    policy: fixed
    value: 1G-4G:192M,4G-64G:256M,64G-:512M
  become: true
"""

RETURN = r"""
host:
  description: The measured inputs of the sizing policies. Sizes in bytes.
  returned: always
  type: dict
  contains:
    arch: {description: Machine architecture (C(uname -m)), type: str, sample: x86_64}
    page_size: {description: Page size of the running kernel, type: int, sample: 4096}
    system_ram: {description: Sum of the System RAM regions of /proc/iomem, type: int, sample: 1073086464}
    ram_below_4g: {description: The part of System RAM below 4 GiB, type: int, sample: 1073086464}
    distribution: {description: C(ID) from os-release, type: str, sample: debian}
    version: {description: C(VERSION_ID) from os-release, type: str, sample: "12"}
    os_family:
      description:
        - The family as Ansible's C(os_family) fact names it (V(Debian), V(RedHat), V(Suse)), from
          C(ID) and C(ID_LIKE); empty for a distribution the collection does not know.
      type: str
      sample: Debian
    kernel_release: {description: Running kernel release, type: str, sample: 6.1.0-27-amd64}
    cpus: {description: Online CPUs, type: int, sample: 2}
    capture_cpus: {description: C(nr_cpus) of the capture kernel command line (1 when not set), type: int, sample: 1}
    kernel_size: {description: Size of the kernel image file, type: int, sample: 8082112}
    kernel_memory: {description: In-memory size from the kernel image header (null when unknown), type: int, sample: 39452672}
    initrd_size: {description: Size of the initrd used for the estimate, type: int, sample: 6815744}
    initrd_is_kdump: {description: Whether that initrd is the kdump initrd, type: bool, sample: true}
    modules_size:
      description: Sum of the sizes of the loaded modules that are in the kdump initrd (measured for O(policy=estimate) only, 0 otherwise).
      type: int
      sample: 1327104
    luks_memory:
      description: Memory cost of the most expensive LUKS keyslot (measured for O(policy=estimate) only, 0 otherwise).
      type: int
      sample: 0
    sme_sev: {description: AMD SME or SEV is active, type: bool, sample: false}
    mlx5: {description: An mlx5 NIC driver is bound, type: bool, sample: false}
    arm_smmu: {description: An arm-smmu is present, type: bool, sample: false}
    fadump: {description: Firmware-assisted dump is enabled (ppc64le), type: bool, sample: false}
    suse_calibrate: {description: Low and high MiB from C(kdumptool calibrate) on SUSE, type: dict, sample: null}
    kernel_path: {description: The kernel image measured (null when none was found), type: str, sample: /boot/vmlinuz-6.1.0-27-amd64}
    initrd_path: {description: The initrd measured (null when none was found), type: str, sample: /var/lib/kdump/initrd.img-6.1.0-27-amd64}
    memtotal: {description: MemTotal of /proc/meminfo in bytes (for comparison only), type: int, sample: 1007345664}
family:
  description:
    - What the kdump role needs of the host's kdump family (Debian and Ubuntu with kdump-tools,
      Fedora/RHEL and clones with kdump-utils or kexec-tools, SUSE with kdump), from the
      collection's one record per family; null for a distribution the collection does not know.
  returned: always
  type: dict
  contains:
    name: {description: "The family: V(debian), V(redhat) or V(suse)", type: str, sample: debian}
    os_family: {description: The same as Ansible's C(os_family) fact names it, type: str, sample: Debian}
    packages:
      description: The packages kdump needs on this release (before Fedora 40 and RHEL 10, C(kexec-tools) holds C(kdumpctl)).
      type: list
      elements: str
      sample: [kdump-tools, makedumpfile, kexec-tools]
    nfs_packages: {description: The NFS client packages an NFS target needs, type: list, elements: str, sample: [nfs-common]}
    package_manager:
      description: The O(ansible.builtin.package#module:use) value for this family, V(apt), or V(auto) where Ansible detects it (dnf, dnf5, yum, zypper).
      type: str
      sample: apt
    service: {description: The unit that loads the capture kernel at boot, type: str, sample: kdump-tools.service}
    config_file: {description: The kdump configuration file, type: str, sample: /etc/default/kdump-tools}
    package_config:
      description: The package's own copy of the default configuration, or empty when it ships none.
      type: str
      sample: /usr/share/kdump-tools/kdump-tools.conf
    pristine_files:
      description: The files the kdump role keeps as installed, to put back when it takes kdump away.
      type: list
      elements: str
      sample: []
current:
  description: The crash kernel reservation as the host has it now.
  returned: always
  type: dict
  contains:
    cmdline:
      description: The running kernel command line.
      type: str
      sample: BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=UUID=... ro quiet crashkernel=384M-:128M
    value:
      description: The effective C(crashkernel=) words of the running command line, or null.
      type: str
      sample: crashkernel=384M-:128M
    parsed:
      description: Those words parsed, as returned by the P(crashdump.kdump.crashkernel_parse#filter) filter, or null.
      type: dict
    requested_bytes:
      description: What those words reserve on this host by the kernel's rules.
      type: int
      sample: 134217728
    reason:
      description: How the kernel arrives at RV(current.requested_bytes).
      type: str
      sample: range 384M-:128M matches 1 GiB of System RAM
    error:
      description: Why the running value could not be parsed, or null.
      type: str
    reserved_bytes:
      description: C(/sys/kernel/kexec_crash_size), the bytes actually reserved, or null when the file does not exist.
      type: int
      sample: 134217728
    regions:
      description: The C(Crash kernel) regions of /proc/iomem.
      type: list
      elements: dict
    loaded:
      description: Whether a capture kernel is loaded (C(/sys/kernel/kexec_crash_loaded)), or null.
      type: bool
recommended:
  description: What the chosen policy recommends for this host; null for O(policy=none).
  returned: always
  type: dict
  contains:
    policy: {description: The policy used, type: str, sample: distro}
    crashkernel: {description: The words to put on the kernel command line, type: str, sample: crashkernel=384M-:128M}
    value: {description: The same without the C(crashkernel=) prefix; several words are separated by spaces, type: str, sample: 384M-:128M}
    parsed: {description: The value parsed, type: dict}
    reserved_bytes: {description: What the value reserves on this host, type: int, sample: 134217728}
    reservation: {description: "Breakdown: size, low, cma, high, the matched range and the reason", type: dict}
    explanation: {description: One line on where the value comes from, type: str}
    source: {description: The table or method used, type: str, sample: Debian 12 kdump-tools default (amd64)}
    details: {description: Add-ons of the distro policy or the parts of the estimate, type: dict}
matches:
  description: Whether the running command line already has the recommended words.
  returned: always
  type: bool
  sample: true
notes:
  description: What could not be measured and how that affected the result.
  returned: always
  type: list
  elements: str
"""


from ansible_collections.crashdump.kdump.plugins.module_utils.common.module import checked_module
from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.crashkernel import (
    CrashkernelError,
    evaluate,
    parse,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.hostinfo import (
    HostInfoError,
    HostReader,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.policy import (
    HostFacts,
    SizingError,
    ansible_os_family,
    family_vars,
    recommend,
)


def current_state(facts, state):
    """The running crashkernel words and what they reserve."""
    result = {
        "cmdline": state["cmdline"],
        "value": None,
        "parsed": None,
        "requested_bytes": 0,
        "reason": "no crashkernel= on the kernel command line",
        "error": None,
        "reserved_bytes": state["kexec_crash_size"],
        "regions": state["crash_regions"],
        "loaded": None if state["kexec_crash_loaded"] is None else state["kexec_crash_loaded"] == 1,
    }
    if "crashkernel=" not in state["cmdline"]:
        return result, None
    try:
        ck = parse(state["cmdline"])
    except CrashkernelError as exc:
        result["error"] = str(exc)
        result["reason"] = "the kernel rejects the running value"
        return result, None
    reservation = evaluate(ck, facts.system_ram, facts.arch, facts.kernel_release)
    result.update({
        "value": ck.format(prefix=True),
        "parsed": ck.to_dict(),
        "requested_bytes": reservation.total,
        "reason": reservation.reason,
    })
    return result, ck


def main():
    module = checked_module(
        argument_spec=dict(
            policy=dict(type="str", default="distro",
                        choices=["distro", "estimate", "fixed", "none"]),
            value=dict(type="str"),
            placement=dict(type="str", default="auto", choices=["auto", "low", "high"]),
            kernel_path=dict(type="path"),
            initrd_path=dict(type="path"),
            detect_luks=dict(type="bool", default=True),
        ),
        required_if=[("policy", "fixed", ["value"])],
        supports_check_mode=True,
    )
    params = module.params
    run_env = {"LC_ALL": "C", "LANG": "C"}

    def run(argv):
        return module.run_command(argv, environ_update=run_env)

    reader = HostReader("/", run=run, which=module.get_bin_path)
    try:
        raw_facts, state = reader.gather(kernel_path=params["kernel_path"],
                                         initrd_path=params["initrd_path"],
                                         detect_luks=params["detect_luks"],
                                         estimate_inputs=params["policy"] == "estimate")
        facts = HostFacts(**raw_facts)
        current, current_ck = current_state(facts, state)
        recommendation = None
        if params["policy"] != "none":
            recommendation = recommend(facts, params["policy"], params["value"],
                                       params["placement"])
    except (HostInfoError, SizingError, CrashkernelError) as exc:
        module.fail_json(msg=str(exc), notes=reader.notes)

    module.exit_json(
        changed=False,
        host=dict(facts.to_dict(), kernel_path=state["kernel_path"],
                  initrd_path=state["initrd_path"], memtotal=state["memtotal"],
                  os_family=ansible_os_family(facts)),
        family=family_vars(facts),
        current=current,
        recommended=recommendation.to_dict() if recommendation else None,
        matches=(recommendation is not None and current_ck is not None
                 and current_ck == recommendation.crashkernel),
        notes=reader.notes,
    )


if __name__ == "__main__":
    main()
