# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One record per kdump family: everything the collection knows about a distribution's
kdump tools, as data.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

A family is the implementation of kdump a distribution ships:

- ``debian``: kdump-tools (Debian, Ubuntu and their derivatives);
- ``redhat``: kdump-utils, or kexec-tools before it (Fedora, RHEL and its clones);
- ``suse``: kdump (SLES, SLE Micro, openSUSE).

Modules, sizing, kdump_info, the action plugin and (through crashkernel_info's ``family``)
the kdump role read these records;
nothing else names a family's packages, units, files or commands. ``detect`` turns an
/etc/os-release into a family with one set of rules.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re


class Family(object):
    """A family's facts. Paths are absolute; argv are lists (``{release}`` is replaced)."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)

    def argv(self, name, release=""):
        """The argv of command ``name`` (``load``, ``unload``, ``reload``, ``status``,
        ``rebuild``) with ``{release}`` filled in; None when the family has none."""
        argv = self.commands.get(name)
        if argv is None:
            return None
        return [word.replace("{release}", release) for word in argv]

    def kernel(self, release):
        return self.kernel_path.replace("{release}", release)

    def initrd(self, release):
        return self.initrd_path.replace("{release}", release)

    def supports(self, target_type):
        return target_type in self.target_types

    def shipped_tool(self, distribution, version):
        """The (package, version) of the kdump tool release ``distribution`` ``version`` (a
        tuple of ints) shipped, from ``shipped``; None when the release is not in the table
        (older than every entry, or a distribution ``release_lines`` maps to None)."""
        line = self.release_lines.get(distribution, self.release_line_default)
        if line is None or version is None:
            return None
        found = None
        for key, tool in self.shipped:
            if key[0] == line and tuple(key[1:]) <= tuple(version):
                found = tool
        return found

    def install_packages(self, distribution, version):
        """The packages kdump needs on ``distribution`` ``version`` (a tuple of ints, or None):
        on Fedora/RHEL the split into kdump-utils decides (kexec-tools held kdumpctl before)."""
        if not self.shipped:
            return self.packages
        tool = self.shipped_tool(distribution, version)
        return self.packages if tool and tool[0] == "kdump-utils" else self.packages_before_split

    def role_vars(self, distribution, version):
        """What the kdump role needs of this family on one host: packages, unit, files."""
        return {
            "name": self.name,
            "os_family": self.ansible_os_family,
            "packages": list(self.install_packages(distribution, version)),
            "nfs_packages": list(self.nfs_packages),
            "package_manager": self.package_manager,
            "service": self.service,
            "config_file": self.config,
            "package_config": self.package_config,
            "pristine_files": list(self.pristine_files),
        }

    def to_dict(self):
        out = dict(self.__dict__)
        out["commands"] = dict((k, list(v)) for k, v in self.commands.items())
        return out


DEBIAN = Family(
    name="debian",
    label="Debian and Ubuntu (kdump-tools)",
    ansible_os_family="Debian",
    # os-release ID values that are this family, and ID_LIKE words that make a derivative one.
    ids=("debian", "ubuntu", "raspbian", "linuxmint", "pop", "elementary", "kali", "devuan"),
    id_like=("debian", "ubuntu"),
    tool="kdump-tools",
    tool_label="kdump-tools",
    tool_packages=("kdump-tools",),
    packages=("kdump-tools", "makedumpfile", "kexec-tools"),
    nfs_packages=("nfs-common",),
    package_manager="apt",
    # The package's own default configuration (kdump_state=absent puts it back).
    package_config="/usr/share/kdump-tools/kdump-tools.conf",
    version_query=["dpkg-query", "-W", "-f", "${Version}", "kdump-tools"],
    service="kdump-tools.service",
    config="/etc/default/kdump-tools",
    # Every file the family's target configuration lives in (the first is the package's).
    files=("/etc/default/kdump-tools", "/etc/ssh/ssh_config.d/crashdump-kdump.conf",
           "/etc/crashdump-kdump/known_hosts"),
    # Files whose change needs the kdump initrd rebuilt (kdump-tools reads its file again
    # in the capture kernel, which boots the real root filesystem).
    initrd_inputs=(),
    pristine_files=(),
    sysconfig=None,
    capture_append="KDUMP_CMDLINE_APPEND",
    # kdump-config's capture command line when KDUMP_CMDLINE_APPEND is unset.
    capture_append_default=("reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1"
                            " irqpoll usbcore.nousb"),
    capture_remove=("crashkernel", "hugepages", "hugepagesz", "abm"),
    kernel_path="/boot/vmlinuz-{release}",
    initrd_path="/var/lib/kdump/initrd.img-{release}",
    commands={
        "load": ["kdump-config", "load"],
        "unload": ["kdump-config", "unload"],
        "reload": ["kdump-config", "reload"],
        "status": ["kdump-config", "status"],
        # kdump-tools' kernel hook builds /var/lib/kdump/initrd.img-RELEASE.
        "rebuild": ["/etc/kernel/postinst.d/kdump-tools", "{release}"],
    },
    # kdump-config load builds a missing initrd itself: a rebuild deletes it and loads.
    rebuild_by_load=True,
    ready_text="ready to kdump",
    target_types=("local", "fs", "nfs", "ssh"),
    shipped=(),
    release_lines={},
    release_line_default=None,
)

REDHAT = Family(
    name="redhat",
    label="Fedora, RHEL and clones (kdump-utils; kexec-tools before Fedora 40 and RHEL 10)",
    ansible_os_family="RedHat",
    ids=("rhel", "centos", "fedora", "rocky", "almalinux", "ol", "circle", "eurolinux",
         "cloudlinux", "navy", "virtuozzo", "amzn"),
    id_like=("rhel", "fedora", "centos"),
    tool="kdump-utils",
    tool_label="kdump-utils (kexec-tools before Fedora 40 and RHEL 10)",
    # Which package holds kdumpctl: kdump-utils, or kexec-tools before the split.
    tool_packages=("kdump-utils", "kexec-tools"),
    packages=("kdump-utils", "makedumpfile", "kexec-tools"),
    # Releases whose kexec-tools still holds kdumpctl (before the split into kdump-utils).
    packages_before_split=("kexec-tools",),
    nfs_packages=("nfs-utils",),
    # dnf, dnf5 or yum by release: Ansible's own detection (ansible.builtin.package use=auto).
    package_manager="auto",
    package_config="",
    version_query=["rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}\\n"],
    service="kdump.service",
    config="/etc/kdump.conf",
    files=("/etc/kdump.conf", "/etc/sysconfig/kdump", "/root/.ssh/known_hosts"),
    initrd_inputs=("/etc/kdump.conf",),
    pristine_files=("/etc/kdump.conf", "/etc/sysconfig/kdump"),
    sysconfig="/etc/sysconfig/kdump",
    capture_append="KDUMP_COMMANDLINE_APPEND",
    capture_append_fadump="FADUMP_COMMANDLINE_APPEND",
    capture_append_default="",
    capture_remove=("crashkernel", "BOOT_IMAGE"),
    kernel_path="/boot/vmlinuz-{release}",
    initrd_path="/boot/initramfs-{release}kdump.img",
    commands={
        "load": ["kdumpctl", "start"],
        "unload": ["kdumpctl", "stop"],
        "reload": ["kdumpctl", "restart"],
        "status": ["kdumpctl", "status"],
        "rebuild": ["kdumpctl", "rebuild"],
    },
    rebuild_by_load=False,
    ready_text=None,
    target_types=("local", "fs", "raw", "nfs", "ssh"),
    # kdumpctl's own default, asked on the host when it can answer (kdump-utils and
    # kexec-tools from 2.0.23-2): `kdumpctl get-default-crashkernel kdump|fadump`.
    default_crashkernel=["kdumpctl", "get-default-crashkernel"],
    # kdump-lib.sh's kdump_get_arch_recommend_crashkernel by the tool version that has it
    # (tests/unit/fixtures/upstream/kdump_utils_crashkernel.json records its output at 17
    # revisions of rhkdump/kdump-utils). Each era lists what changed from the one before;
    # versions are ("kexec-tools", "2.0.23-2") or ("kdump-utils", "1.0.53").
    crashkernel_history=(
        dict(since=("kexec-tools", "2.0.23-2"),
             x86_64="1G-4G:192M,4G-64G:256M,64G-102400T:512M",
             s390x="1G-4G:192M,4G-64G:256M,64G-102400T:512M",
             aarch64="2G-102400T:448M",
             ppc64le="2G-4G:384M,4G-16G:512M,16G-64G:1G,64G-128G:2G,128G-102400T:4G",
             ppc64le_fadump=("4G-16G:768M,16G-64G:1G,64G-128G:2G,128G-1T:4G,1T-2T:6G,2T-4T:12G,"
                             "4T-8T:20G,8T-16T:36G,16T-32T:64G,32T-64T:128G,64T-102400T:180G")),
        dict(since=("kexec-tools", "2.0.23-4"),
             x86_64="1G-4G:192M,4G-64G:256M,64G-:512M",
             s390x="1G-4G:192M,4G-64G:256M,64G-:512M",
             aarch64="2G-:448M",
             ppc64le="2G-4G:384M,4G-16G:512M,16G-64G:1G,64G-128G:2G,128G-:4G",
             ppc64le_fadump=("4G-16G:768M,16G-64G:1G,64G-128G:2G,128G-1T:4G,1T-2T:6G,2T-4T:12G,"
                             "4T-8T:20G,8T-16T:36G,16T-32T:64G,32T-64T:128G,64T-:180G")),
        dict(since=("kexec-tools", "2.0.24-4"), aarch64="1G-4G:256M,4G-64G:320M,64G-:576M"),
        # aarch64: +100M for a 64k kernel, +384M more with arm-smmu; mlx5 +200M (64k) or +150M.
        dict(since=("kexec-tools", "2.0.26-7"), arm64_64k=100, arm_smmu_64k=384, mlx5_64k=200,
             mlx5_4k=150),
        # x86_64 (and the s390x branch): +64M while AMD SME/SEV is active.
        dict(since=("kexec-tools", "2.0.27-4"), sme_sev=64),
        dict(since=("kdump-utils", "1.0.53"), x86_64="2G-64G:256M,64G-:512M",
             s390x="2G-64G:256M,64G-:512M"),
        dict(since=("kdump-utils", "1.0.54"), aarch64="2G-4G:256M,4G-64G:320M,64G-:576M"),
        # ppc64le: +1M per capture CPU (nr_cpus of KDUMP_ or FADUMP_COMMANDLINE_APPEND, as the
        # running dump mode says; 1 when absent), before the kdump/fadump table is chosen.
        dict(since=("kdump-utils", "1.0.60"), ppc64le_per_cpu=1),
    ),
    # The tool version a release shipped, for a host whose kdump-utils / kexec-tools is not
    # installed yet (tests/unit/fixtures/upstream/kdump_utils_crashkernel.md: sources; RHEL
    # builds carry backports, so the installed version and kdumpctl's own answer come first).
    shipped=(
        (("fedora", 36), ("kexec-tools", "2.0.23-3")),
        (("fedora", 38), ("kexec-tools", "2.0.26-2")),
        (("fedora", 39), ("kexec-tools", "2.0.26-8")),
        (("fedora", 40), ("kdump-utils", "1.0.42")),
        (("fedora", 41), ("kdump-utils", "1.0.47")),
        (("fedora", 42), ("kdump-utils", "1.0.54")),
        (("rhel", 8), ("kexec-tools", "2.0.26-14")),
        (("rhel", 9), ("kexec-tools", "2.0.29-5")),
        (("rhel", 10), ("kdump-utils", "1.0.51")),
        (("rhel", 10, 1), ("kdump-utils", "1.0.54")),
    ),
    # Which line of ``shipped`` an os-release ID follows: Fedora its own, RHEL's clones RHEL's
    # (their VERSION_ID is RHEL's); Amazon Linux numbers its releases apart (2, 2023) and its
    # kexec-tools still holds kdumpctl, so it is in no line.
    release_lines={"fedora": "fedora", "amzn": None},
    release_line_default="rhel",
)

SUSE = Family(
    name="suse",
    label="SLES, SLE Micro and openSUSE (kdump)",
    ansible_os_family="Suse",
    ids=("sles", "sled", "sles_sap", "sle-micro", "sl-micro", "opensuse", "opensuse-leap",
         "opensuse-tumbleweed", "opensuse-microos", "opensuse-slowroll"),
    id_like=("suse", "sles", "opensuse"),
    tool="kdump",
    tool_label="kdump",
    tool_packages=("kdump",),
    packages=("kdump", "makedumpfile", "kexec-tools"),
    nfs_packages=("nfs-client",),
    # zypper is not in ansible-core (community.general has it): Ansible's own detection.
    package_manager="auto",
    package_config="",
    version_query=["rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}\\n"],
    service="kdump.service",
    config="/etc/sysconfig/kdump",
    files=("/etc/sysconfig/kdump",),
    initrd_inputs=("/etc/sysconfig/kdump",),
    pristine_files=("/etc/sysconfig/kdump",),
    sysconfig="/etc/sysconfig/kdump",
    capture_append="KDUMP_COMMANDLINE_APPEND",
    capture_append_default="",
    capture_remove=("crashkernel", "BOOT_IMAGE"),
    kernel_path="/boot/vmlinuz-{release}",
    initrd_path="/boot/initrd-{release}-kdump",
    commands={
        "load": ["systemctl", "start", "kdump.service"],
        "unload": ["systemctl", "stop", "kdump.service"],
        "reload": ["systemctl", "restart", "kdump.service"],
        "status": None,
        "rebuild": ["mkdumprd", "-f"],
    },
    rebuild_by_load=False,
    ready_text=None,
    target_types=("local", "fs", "nfs", "ssh"),
    calibrate=["kdumptool", "calibrate"],
    shipped=(),
    release_lines={},
    release_line_default=None,
)

FAMILIES = (DEBIAN, REDHAT, SUSE)
BY_NAME = dict((f.name, f) for f in FAMILIES)
NAMES = tuple(f.name for f in FAMILIES)
# Where a boot initrd lives, per layout (for sizing before the kdump initrd exists).
BOOT_INITRD_PATHS = ("/boot/initrd.img-{release}", "/boot/initramfs-{release}.img",
                     "/boot/initrd-{release}")


class FamilyError(ValueError):
    """A family name or a host the collection does not know; the message says which."""


def version_key(package_version):
    """Sort key of ``(package, version)``: every kdump-utils after every kexec-tools (it was
    split out of it), versions by their numbers (``2.0.27-8.el9`` -> 2, 0, 27, 8)."""
    package, version = package_version
    numbers = tuple(int(n) for n in re.findall(r"\d+", (version or "").split(".el")[0])[:4])
    return (1 if package == "kdump-utils" else 0,) + numbers


def crashkernel_era(package_version):
    """kdump-lib.sh's default-crashkernel data for a tool version (the eras up to it merged),
    or None for a version that has no such function (before kexec-tools 2.0.23-2)."""
    key = version_key(package_version)
    merged = None
    for era in REDHAT.crashkernel_history:
        if version_key(era["since"]) <= key:
            merged = dict(merged or {}, **era)
    return merged


def get(name):
    """The record of family ``name``."""
    try:
        return BY_NAME[name]
    except (KeyError, TypeError):
        raise FamilyError("family: %r is not supported; expected one of %s"
                          % (name, ", ".join(NAMES)))


def parse_os_release(text):
    """The variables of an os-release file (quotes removed)."""
    out = {}
    for line in (text or "").splitlines():
        match = re.match(r"^\s*([A-Z0-9_]+)=(.*)$", line)
        if not match:
            continue
        value = match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[match.group(1)] = value
    return out


def detect_ids(distribution, id_like=()):
    """The family of an os-release ``ID`` and ``ID_LIKE`` words, or None.

    ``ID`` decides first (an exact match of a family's ids); then each ``ID_LIKE`` word in
    order, so that a derivative follows the distribution it names first."""
    distribution = (distribution or "").strip().lower()
    for family in FAMILIES:
        if distribution in family.ids:
            return family
    for word in id_like or ():
        word = word.strip().lower()
        for family in FAMILIES:
            if word in family.ids or word in family.id_like:
                return family
    return None


def detect(os_release_text):
    """The family of an /etc/os-release text, or None."""
    values = parse_os_release(os_release_text)
    return detect_ids(values.get("ID", ""), values.get("ID_LIKE", "").split())


def detect_name(os_release_text):
    family = detect(os_release_text)
    return family.name if family else None
