# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sizing policies for the crash kernel reservation.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.

Three policies turn a description of a host (HostFacts) into a
Recommendation:

* ``distro``: the default of the host's own distribution, release,
  architecture and page size, with the add-ons that distribution applies;
* ``estimate``: a per-host estimate from measured inputs (see ESTIMATE_* and
  docs/sizing.md for the formula and the reasons for each constant);
* ``fixed``: a value the user gives, validated against this host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.crashdump.kdump.plugins.module_utils.family import records
from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.crashkernel import (
    GIB,
    MIB,
    Crashkernel,
    CrashkernelError,
    Range,
    Word,
    evaluate,
    format_size,
    human_size,
    parse,
)

POLICIES = ("distro", "estimate", "fixed")
PLACEMENTS = ("auto", "low", "high")

# --- distribution tables (REFERENCE: kdump-utils kdump-lib.sh, Debian and
# Ubuntu kdump-tools grub.d files, SUSE kdumptool) ---------------------------
DEBIAN_12_AMD64 = "384M-:128M"
DEBIAN_13_AMD64 = "512M-:192M"
DEBIAN_LARGE = "2G-4G:320M,4G-32G:512M,32G-64G:1024M,64G-128G:2048M,128G-:4096M"
UBUNTU_OLD_AMD64 = "512M-:192M"
SUSE_FALLBACK = "192M"
SUSE_FALLBACK_PPC64 = "384M"

# The add-ons of kdump-utils' newest table (family/records.py), which the estimate counts too.
_NEWEST = records.crashkernel_era(records.REDHAT.crashkernel_history[-1]["since"])
SME_SEV_EXTRA = _NEWEST["sme_sev"] * MIB
MLX5_EXTRA_4K = _NEWEST["mlx5_4k"] * MIB
MLX5_EXTRA_64K = _NEWEST["mlx5_64k"] * MIB
ARM64_64K_EXTRA = _NEWEST["arm64_64k"] * MIB
ARM_SMMU_64K_EXTRA = _NEWEST["arm_smmu_64k"] * MIB

# --- estimate constants ------------------------------------------------------
# kdumpctl estimate: 16M of capture-kernel runtime memory.
ESTIMATE_RUNTIME = 16 * MIB
# The kdump initrd is unpacked into tmpfs: kdumpctl counts it three times.
ESTIMATE_INITRD_FACTOR = 3
# Per capture CPU: per-CPU areas, stacks and makedumpfile buffers.
ESTIMATE_PER_CPU = 2 * MIB
# makedumpfile bitmaps: 96 bytes per 128M of RAM, at most 32M (SUSE calibrate).
ESTIMATE_BITMAP_PER_128M = 96
ESTIMATE_BITMAP_MAX = 32 * MIB
# LUKS: largest keyslot's memory cost plus 20M (+50M on aarch64), as kdumpctl.
ESTIMATE_LUKS_EXTRA = 20 * MIB
ESTIMATE_LUKS_EXTRA_ARM64 = 50 * MIB
# When the kernel's in-memory size is unknown: this many times the vmlinuz
# file (kdump-tools' VMLINUX_FACTOR).
VMLINUX_FACTOR = {"x86_64": 6, "s390x": 6, "ppc64le": 2, "ppc64": 2}
VMLINUX_FACTOR_DEFAULT = 4
# Safety margin on the sum, the floor, and the step the result is rounded up
# to so that a fleet converges on few distinct values. Tuned with the reservation
# benchmark (docs/sizing.md): the smallest working reservation was at most 7.5 %
# above the sum; the margin is twice that.
ESTIMATE_MARGIN = 0.15
ESTIMATE_FLOOR = 128 * MIB
ESTIMATE_STEP = 16 * MIB

# Automatic ,high placement (x86_64 and arm64 only): a reservation goes above
# 4 GiB when the host has RAM there and the area is 1 GiB or more, or more
# than a quarter of the System RAM below 4 GiB.
HIGH_THRESHOLD = 1 * GIB
HIGH_LOW_RAM_FRACTION = 4
PLACEMENT_ARCHES = ("x86_64", "aarch64", "arm64")


class SizingError(ValueError):
    """The policy cannot produce a value for this host; the message says why."""


class HostFacts(object):
    """What a policy needs to know about a host. Sizes are in bytes."""

    FIELDS = {
        "arch": "x86_64",
        "page_size": 4096,
        "system_ram": 0,
        "ram_below_4g": None,
        "distribution": "",
        "id_like": (),
        "version": "",
        "kernel_release": "",
        "cpus": 1,
        "capture_cpus": 1,
        "kernel_size": None,
        "kernel_memory": None,
        "initrd_size": None,
        "initrd_is_kdump": False,
        "modules_size": 0,
        "luks_memory": 0,
        "sme_sev": False,
        "mlx5": False,
        "arm_smmu": False,
        "fadump": False,
        "suse_calibrate": None,
        # Fedora/RHEL: ("kdump-utils" or "kexec-tools", version) installed, and kdumpctl's
        # own default (`kdumpctl get-default-crashkernel`) when it could answer.
        "tool_version": None,
        "tool_default": None,
    }

    def __init__(self, **kwargs):
        unknown = set(kwargs) - set(self.FIELDS)
        if unknown:
            raise TypeError("unknown host facts: %s" % ", ".join(sorted(unknown)))
        for key, default in self.FIELDS.items():
            setattr(self, key, kwargs.get(key, default))
        self.arch = normalise_arch(self.arch)
        self.distribution = (self.distribution or "").lower()
        self.id_like = tuple(x.lower() for x in (self.id_like or ()))
        if self.tool_version is not None:
            self.tool_version = tuple(self.tool_version)

    @property
    def page_64k(self):
        return int(self.page_size or 4096) >= 65536

    def to_dict(self):
        return dict((key, getattr(self, key)) for key in self.FIELDS)


class Recommendation(object):
    """A crashkernel setting, the bytes it reserves here, and why."""

    def __init__(self, policy, crashkernel, reserved, explanation, source, details=None):
        self.policy = policy
        self.crashkernel = crashkernel
        self.reserved = reserved
        self.explanation = explanation
        self.source = source
        self.details = details or {}

    def to_dict(self):
        return {
            "policy": self.policy,
            "crashkernel": self.crashkernel.format(prefix=True),
            "value": self.crashkernel.format(prefix=False),
            "parsed": self.crashkernel.to_dict(),
            "reserved_bytes": self.reserved.total,
            "reservation": self.reserved.to_dict(),
            "explanation": self.explanation,
            "source": self.source,
            "details": self.details,
        }


def normalise_arch(arch):
    arch = (arch or "").strip()
    return {"amd64": "x86_64", "arm64": "aarch64", "ppc64el": "ppc64le"}.get(arch, arch)


def _major_minor(version):
    match = re.match(r"(\d+)(?:\.(\d+))?", str(version or ""))
    if not match:
        return None
    return (int(match.group(1)), int(match.group(2) or 0))


def family_of(facts):
    """``debian``, ``ubuntu``, ``redhat``, ``suse`` or None: the family (family/records.py),
    with Ubuntu and its derivatives apart from Debian (their kdump-tools tables differ)."""
    family = records.detect_ids(facts.distribution, facts.id_like)
    if family is None:
        return None
    if family.name == "debian" and (facts.distribution == "ubuntu" or (
            facts.distribution != "debian" and "ubuntu" in facts.id_like)):
        return "ubuntu"
    return family.name


def ansible_os_family(facts):
    """The os_family fact Ansible would report for this host (``Debian``, ``RedHat``,
    ``Suse``), or ``""`` for a distribution the collection does not know."""
    family = records.detect_ids(facts.distribution, facts.id_like)
    return family.ansible_os_family if family else ""


def add_to_sizes(value, delta):
    """Add ``delta`` bytes to every size of a plain value (kdump-utils' add-ons)."""
    ck = parse(value)
    word = ck.plain
    if word is None:
        raise CrashkernelError("crashkernel value '%s': add-ons apply to plain values only"
                               % value)
    if word.ranges:
        new = Word("plain", ranges=[Range(r.start, r.end, r.size + delta) for r in word.ranges],
                   offset=word.offset)
    else:
        new = Word("plain", size=word.size + delta, offset=word.offset)
    return new.format()


def distro_value(facts):
    """The distribution default for this host.

    Returns ``(value, source, addons)`` where ``addons`` is a list of
    ``(reason, bytes)`` already included in ``value``.
    """
    family = family_of(facts)
    arch = facts.arch
    version = _major_minor(facts.version)
    if family == "debian":
        if arch == "x86_64":
            if version is not None and version[0] >= 13:
                return DEBIAN_13_AMD64, "Debian %s kdump-tools default (amd64)" % facts.version, []
            return DEBIAN_12_AMD64, "Debian %s kdump-tools default (amd64)" % facts.version, []
        if arch in ("aarch64", "ppc64le"):
            return DEBIAN_LARGE, "Debian kdump-tools default (%s)" % arch, []
        if arch == "s390x":
            return DEBIAN_12_AMD64, "Debian kdump-tools default (s390x, zipl)", []
        raise SizingError("Debian's kdump-tools has no default reservation for %s;"
                          " use policy estimate or fixed" % arch)
    if family == "ubuntu":
        if arch == "x86_64" and version is not None and version < (24, 4):
            return UBUNTU_OLD_AMD64, "Ubuntu %s kdump-tools default (amd64)" % facts.version, []
        if arch == "s390x":
            return DEBIAN_12_AMD64, "Ubuntu kdump-tools default (s390x, zipl)", []
        if arch in ("x86_64", "aarch64", "ppc64le"):
            return DEBIAN_LARGE, "Ubuntu %s kdump-tools default (%s)" % (facts.version, arch), []
        raise SizingError("Ubuntu's kdump-tools has no default reservation for %s;"
                          " use policy estimate or fixed" % arch)
    if family == "redhat":
        return _kdump_utils_value(facts, version)
    if family == "suse":
        calibrated = facts.suse_calibrate
        if calibrated and calibrated.get("high"):
            return ("%dM,high %dM,low" % (calibrated["high"], calibrated.get("low") or 0),
                    "SUSE kdumptool calibrate (high and low)", [])
        if calibrated and calibrated.get("low"):
            return "%dM" % calibrated["low"], "SUSE kdumptool calibrate", []
        if arch in ("ppc64le", "ppc64"):
            return SUSE_FALLBACK_PPC64, "SUSE kdump fallback (ppc64, kdumptool not available)", []
        return SUSE_FALLBACK, "SUSE kdump fallback (kdumptool not available)", []
    raise SizingError("no distribution table for '%s' %s; supported: Debian, Ubuntu,"
                      " Fedora/RHEL and clones, SUSE; use policy estimate or fixed"
                      % (facts.distribution or "unknown", facts.version))


def redhat_table(tool, arch, kernel_release="", fadump=False, sme_sev=False, mlx5=False,
                 arm_smmu=False, nr_cpus=1, page_64k=False):
    """What kdump-lib.sh's kdump_get_arch_recommend_crashkernel of kdump-utils / kexec-tools
    version ``tool`` (``(package, version)``) prints for this host, and the add-ons it
    applied as ``[(reason, bytes)]``; ``(None, [])`` when that version has no such function
    or no value for ``arch``."""
    era = records.crashkernel_era(tool)
    if era is None:
        return None, []
    addons = []
    if arch in ("x86_64", "s390x"):
        value = era[arch]
        if sme_sev and era.get("sme_sev"):
            addons.append(("AMD SME/SEV active", era["sme_sev"] * MIB))
    elif arch == "aarch64":
        value = era["aarch64"]
        if (page_64k or "64k" in (kernel_release or "")) and era.get("arm64_64k"):
            addons.append(("64 KiB page kernel", era["arm64_64k"] * MIB))
            if arm_smmu:
                addons.append(("arm-smmu with 64 KiB pages", era["arm_smmu_64k"] * MIB))
            if mlx5:
                addons.append(("mlx5 NIC with 64 KiB pages", era["mlx5_64k"] * MIB))
        elif mlx5 and era.get("mlx5_4k"):
            addons.append(("mlx5 NIC", era["mlx5_4k"] * MIB))
    elif arch == "ppc64le":
        value = era["ppc64le_fadump" if fadump else "ppc64le"]
        if era.get("ppc64le_per_cpu"):
            cpus = max(1, int(nr_cpus or 1))
            addons.append(("%d capture CPU%s (nr_cpus)" % (cpus, "" if cpus == 1 else "s"),
                           cpus * era["ppc64le_per_cpu"] * MIB))
    else:
        return None, []
    delta = sum(b for _r, b in addons)
    return (add_to_sizes(value, delta) if delta else value), addons


def family_vars(facts):
    """What the kdump role needs of the host's family (records.Family.role_vars), or None for
    a distribution the collection does not know."""
    family = records.detect_ids(facts.distribution, facts.id_like)
    if family is None:
        return None
    return family.role_vars(facts.distribution, _major_minor(facts.version))


def shipped_tool(facts):
    """The kdump-utils / kexec-tools version the host's release shipped (family/records.py),
    for a host where it is not installed yet; None when the release is unknown."""
    return records.REDHAT.shipped_tool(facts.distribution, _major_minor(facts.version))


def _kdump_utils_value(facts, version):
    label = "%s %s" % (facts.distribution, facts.version)
    if facts.tool_default:
        return (facts.tool_default, "%s default (kdumpctl get-default-crashkernel, %s %s on this"
                " host)" % (label, facts.tool_version[0], facts.tool_version[1])
                if facts.tool_version else "%s default (kdumpctl get-default-crashkernel)" % label,
                [])
    tool, how = facts.tool_version, "installed"
    if tool is None:
        tool, how = shipped_tool(facts), "as the release shipped it; not installed yet"
    if tool is None:
        tool, how = records.REDHAT.crashkernel_history[-1]["since"], "newest known; release unknown"
    value, addons = redhat_table(tool, facts.arch, facts.kernel_release, facts.fadump,
                                 facts.sme_sev, facts.mlx5, facts.arm_smmu, facts.capture_cpus,
                                 facts.page_64k)
    if value is None and facts.arch in ("x86_64", "s390x", "aarch64", "ppc64le"):
        # Before kexec-tools 2.0.23-2 the tool has no table (RHEL 8 used crashkernel=auto):
        # the first table it had.
        first = records.REDHAT.crashkernel_history[0]["since"]
        value, addons = redhat_table(first, facts.arch, facts.kernel_release, facts.fadump,
                                     facts.sme_sev, facts.mlx5, facts.arm_smmu,
                                     facts.capture_cpus, facts.page_64k)
        how += "; it has no default table, so kexec-tools %s's is used" % first[1]
    if value is None:
        raise SizingError("kdump-utils has no default reservation for %s; use policy"
                          " estimate or fixed" % facts.arch)
    mode = ", fadump" if facts.fadump and facts.arch == "ppc64le" else ""
    return value, "%s default (%s %s, %s%s)" % (label, tool[0], tool[1], how, mode), addons


def _explain(source, ck, reserved, facts):
    return "%s: %s reserves %s with %s of System RAM (%s)" % (
        source, ck.format(prefix=True), human_size(reserved.total),
        human_size(facts.system_ram), reserved.reason)


def policy_distro(facts):
    value, source, addons = distro_value(facts)
    ck = parse(value)
    reserved = evaluate(ck, facts.system_ram, facts.arch, facts.kernel_release)
    text = _explain(source, ck, reserved, facts)
    if addons:
        text += "; includes " + ", ".join("+%s for %s" % (format_size(b), r) for r, b in addons)
    if reserved.total == 0:
        text += "; the distribution reserves nothing on a host this size"
    return Recommendation("distro", ck, reserved, text, source,
                          {"addons": [{"reason": r, "bytes": b} for r, b in addons]})


def bitmap_bytes(system_ram):
    blocks = (int(system_ram) + 128 * MIB - 1) // (128 * MIB)
    return min(ESTIMATE_BITMAP_MAX, blocks * ESTIMATE_BITMAP_PER_128M)


def estimate_parts(facts):
    """The measured and fixed parts of the estimate, each ``(name, bytes, note)``."""
    parts = []
    if facts.kernel_memory:
        parts.append(("kernel", int(facts.kernel_memory), "in-memory size from the kernel image header"))
    elif facts.kernel_size:
        factor = VMLINUX_FACTOR.get(facts.arch, VMLINUX_FACTOR_DEFAULT)
        parts.append(("kernel", int(facts.kernel_size) * factor,
                      "%d x the kernel file (in-memory size unknown)" % factor))
    else:
        raise SizingError("the estimate needs the kernel image: no kernel file was found"
                          " for release %s (set kernel_path)" % (facts.kernel_release or "?"))
    if not facts.initrd_size:
        raise SizingError("the estimate needs an initrd: none was found for release %s"
                          " (set initrd_path)" % (facts.kernel_release or "?"))
    parts.append(("initrd", ESTIMATE_INITRD_FACTOR * int(facts.initrd_size),
                  "%d x the %s (unpacked into tmpfs)" % (
                      ESTIMATE_INITRD_FACTOR,
                      "kdump initrd" if facts.initrd_is_kdump
                      else "boot initrd; the kdump initrd is not built yet, so this is an upper bound")))
    if facts.modules_size:
        parts.append(("modules", int(facts.modules_size), "loaded modules the capture kernel loads"))
    parts.append(("runtime", ESTIMATE_RUNTIME, "capture kernel runtime (kdumpctl)"))
    cpus = int(facts.capture_cpus or 1)
    parts.append(("cpus", cpus * ESTIMATE_PER_CPU, "%d capture CPU%s" % (cpus, "" if cpus == 1 else "s")))
    parts.append(("bitmap", bitmap_bytes(facts.system_ram), "makedumpfile bitmaps"))
    if facts.luks_memory:
        extra = ESTIMATE_LUKS_EXTRA + (ESTIMATE_LUKS_EXTRA_ARM64 if facts.arch == "aarch64" else 0)
        parts.append(("luks", int(facts.luks_memory) + extra,
                      "largest LUKS keyslot memory cost + %s" % format_size(extra)))
    if facts.page_64k:
        parts.append(("page_64k", ARM64_64K_EXTRA, "64 KiB pages"))
        if facts.arm_smmu:
            parts.append(("arm_smmu", ARM_SMMU_64K_EXTRA, "arm-smmu queues with 64 KiB pages"))
    if facts.mlx5:
        parts.append(("mlx5", MLX5_EXTRA_64K if facts.page_64k else MLX5_EXTRA_4K, "mlx5 NIC driver"))
    if facts.sme_sev:
        parts.append(("sme_sev", SME_SEV_EXTRA, "AMD SME/SEV bounce buffers"))
    return parts


def round_up(value, step):
    return (int(value) + step - 1) // step * step


def estimate_size(raw):
    """The estimate's size from the sum of its parts: the margin, then the step, then the floor."""
    return max(ESTIMATE_FLOOR, round_up(int(raw * (1 + ESTIMATE_MARGIN)), ESTIMATE_STEP))


def policy_estimate(facts, placement="auto"):
    parts = estimate_parts(facts)
    raw = sum(b for _n, b, _note in parts)
    size = estimate_size(raw)
    ck = place(size, facts, placement)
    reserved = evaluate(ck, facts.system_ram, facts.arch, facts.kernel_release)
    text = ("estimate: %s (measured sum %s + %d%% margin, rounded up to %s, floor %s)"
            % (ck.format(prefix=True), human_size(raw), int(ESTIMATE_MARGIN * 100),
               format_size(ESTIMATE_STEP), format_size(ESTIMATE_FLOOR)))
    if reserved.total == 0:
        raise SizingError("the estimate %s cannot be reserved on this host: %s"
                          % (ck.format(prefix=True), reserved.reason))
    details = {
        "parts": [{"name": n, "bytes": b, "note": note} for n, b, note in parts],
        "sum": raw,
        "margin": ESTIMATE_MARGIN,
        "step": ESTIMATE_STEP,
        "floor": ESTIMATE_FLOOR,
    }
    return Recommendation("estimate", ck, reserved, text, "host estimate", details)


def wants_high(size, facts, placement):
    """Whether a reservation of ``size`` bytes should be ``,high``."""
    if placement == "low":
        return False
    if facts.arch not in PLACEMENT_ARCHES:
        if placement == "high":
            raise SizingError("',high' reservations are not supported on %s" % facts.arch)
        return False
    if placement == "high":
        return True
    below = facts.ram_below_4g
    if below is None or facts.system_ram <= below:
        return False
    return size >= HIGH_THRESHOLD or size * HIGH_LOW_RAM_FRACTION > below


def place(size, facts, placement):
    if wants_high(size, facts, placement):
        return Crashkernel(high=Word("high", size=size))
    return Crashkernel(plain=Word("plain", size=size))


def policy_fixed(facts, value, placement="auto"):
    if value is None or str(value).strip() == "":
        raise SizingError("policy fixed needs a value, e.g. 256M or 2G-64G:256M,64G-:512M")
    ck = parse(value)
    if ck.ignored:
        raise SizingError("crashkernel value '%s': several words of the same kind (%s);"
                          " give each kind once" % (value, ", ".join(ck.ignored)))
    plain = ck.plain
    if (plain is not None and not plain.ranges and plain.offset is None
            and ck.high is None and ck.low is None):
        placed = place(plain.size, facts, placement)
        if placed.high is not None:
            ck = Crashkernel(high=placed.high, cma=ck.cma)
    reserved = evaluate(ck, facts.system_ram, facts.arch, facts.kernel_release)
    if reserved.total == 0:
        raise SizingError("crashkernel value '%s' reserves nothing on this host: %s"
                          % (value, reserved.reason))
    text = _explain("fixed", ck, reserved, facts)
    return Recommendation("fixed", ck, reserved, text, "user value")


def recommend(facts, policy="distro", value=None, placement="auto"):
    """Run one policy. Raises SizingError or CrashkernelError with a clear message."""
    if placement not in PLACEMENTS:
        raise SizingError("placement '%s' is not one of %s" % (placement, ", ".join(PLACEMENTS)))
    if not facts.system_ram or int(facts.system_ram) <= 0:
        raise SizingError("System RAM is unknown (read from /proc/iomem as root)")
    if policy == "distro":
        return policy_distro(facts)
    if policy == "estimate":
        return policy_estimate(facts, placement)
    if policy == "fixed":
        return policy_fixed(facts, value, placement)
    raise SizingError("policy '%s' is not one of %s" % (policy, ", ".join(POLICIES)))
