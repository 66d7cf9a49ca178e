# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sizing policies: every distribution table row and add-on, the estimate, fixed values."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.crashkernel import (
    GIB,
    MIB,
    CrashkernelError,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.policy import (
    ESTIMATE_FLOOR,
    ESTIMATE_MARGIN,
    ESTIMATE_STEP,
    HostFacts,
    SizingError,
    add_to_sizes,
    ansible_os_family,
    estimate_parts,
    family_of,
    recommend,
)

M = MIB
G = GIB


def facts(**kw):
    base = dict(arch="x86_64", system_ram=8 * G, ram_below_4g=3 * G, distribution="debian",
                version="12", kernel_release="6.1.0-27-amd64", kernel_size=8 * M,
                kernel_memory=40 * M, initrd_size=7 * M, initrd_is_kdump=True)
    base.update(kw)
    return HostFacts(**base)


# --- distribution tables: one row per line of the reference table -----------

@pytest.mark.parametrize("kw, value", [
    # Debian
    (dict(distribution="debian", version="12"), "384M-:128M"),
    (dict(distribution="debian", version="11"), "384M-:128M"),
    (dict(distribution="debian", version="13"), "512M-:192M"),
    (dict(distribution="debian", version="14"), "512M-:192M"),
    (dict(distribution="debian", version="12", arch="aarch64"),
     "2G-4G:320M,4G-32G:512M,32G-64G:1G,64G-128G:2G,128G-:4G"),
    (dict(distribution="debian", version="13", arch="arm64"),
     "2G-4G:320M,4G-32G:512M,32G-64G:1G,64G-128G:2G,128G-:4G"),
    (dict(distribution="debian", version="12", arch="ppc64le"),
     "2G-4G:320M,4G-32G:512M,32G-64G:1G,64G-128G:2G,128G-:4G"),
    (dict(distribution="debian", version="13", arch="ppc64el"),
     "2G-4G:320M,4G-32G:512M,32G-64G:1G,64G-128G:2G,128G-:4G"),
    (dict(distribution="debian", version="12", arch="s390x"), "384M-:128M"),
    (dict(distribution="raspbian", id_like=("debian",), version="12"), "384M-:128M"),
    # Ubuntu
    (dict(distribution="ubuntu", version="24.04"),
     "2G-4G:320M,4G-32G:512M,32G-64G:1G,64G-128G:2G,128G-:4G"),
    (dict(distribution="ubuntu", version="26.04"),
     "2G-4G:320M,4G-32G:512M,32G-64G:1G,64G-128G:2G,128G-:4G"),
    (dict(distribution="ubuntu", version="22.04"), "512M-:192M"),
    (dict(distribution="ubuntu", version="22.04", arch="aarch64"),
     "2G-4G:320M,4G-32G:512M,32G-64G:1G,64G-128G:2G,128G-:4G"),
    (dict(distribution="pop", id_like=("ubuntu", "debian"), version="24.04"),
     "2G-4G:320M,4G-32G:512M,32G-64G:1G,64G-128G:2G,128G-:4G"),
    # kdump-utils (Fedora >= 41, RHEL 10) and before 2025 (RHEL 9, Fedora 40)
    (dict(distribution="fedora", tool_version=("kdump-utils", "1.0.61"), version="41"), "2G-64G:256M,64G-:512M"),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0"), "2G-64G:256M,64G-:512M"),
    # AlmaLinux 10.0 without kdump-utils installed: the 1.0.51 it shipped, before the 2G table.
    (dict(distribution="almalinux", id_like=("rhel", "centos", "fedora"), version="10.0"),
     "1G-4G:192M,4G-64G:256M,64G-:512M"),
    (dict(distribution="centos", tool_version=("kdump-utils", "1.0.61"), version="10"), "2G-64G:256M,64G-:512M"),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", arch="s390x"), "2G-64G:256M,64G-:512M"),
    (dict(distribution="rhel", version="9.4"), "1G-4G:192M,4G-64G:256M,64G-:512M"),
    (dict(distribution="rocky", id_like=("rhel", "centos", "fedora"), version="9.5"),
     "1G-4G:192M,4G-64G:256M,64G-:512M"),
    (dict(distribution="fedora", version="40"), "1G-4G:192M,4G-64G:256M,64G-:512M"),
    (dict(distribution="rhel", version="9.4", arch="s390x"), "1G-4G:192M,4G-64G:256M,64G-:512M"),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", arch="aarch64"), "2G-4G:256M,4G-64G:320M,64G-:576M"),
    (dict(distribution="rhel", version="9.4", arch="aarch64"), "1G-4G:256M,4G-64G:320M,64G-:576M"),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", arch="ppc64le"),
     "2G-4G:385M,4G-16G:513M,16G-64G:1025M,64G-128G:2049M,128G-:4097M"),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", arch="ppc64le", fadump=True, system_ram=8 * G),
     # kdump-utils 1.0.60+: one megabyte per capture CPU before the fadump table is chosen.
     "4G-16G:769M,16G-64G:1025M,64G-128G:2049M,128G-1T:4097M,1T-2T:6145M,2T-4T:12289M,"
     "4T-8T:20481M,8T-16T:36865M,16T-32T:65537M,32T-64T:131073M,64T-:184321M"),
    # SUSE
    (dict(distribution="sles", version="15.6"), "192M"),
    (dict(distribution="opensuse-leap", id_like=("suse", "opensuse"), version="15.6"), "192M"),
    (dict(distribution="sles", version="15.6", arch="ppc64le"), "384M"),
    (dict(distribution="sles", version="15.6", suse_calibrate={"low": 72, "high": 0}), "72M"),
    (dict(distribution="sles", version="15.6", suse_calibrate={"low": 72, "high": 180}),
     "180M,high 72M,low"),
])
def test_distro_tables(kw, value):
    rec = recommend(facts(**kw), "distro")
    assert rec.crashkernel.format(prefix=False) == value


@pytest.mark.parametrize("kw, value, addon", [
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", sme_sev=True), "2G-64G:320M,64G-:576M", "SME/SEV"),
    (dict(distribution="rhel", version="9.4", sme_sev=True),
     "1G-4G:256M,4G-64G:320M,64G-:576M", "SME/SEV"),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", arch="aarch64", mlx5=True),
     "2G-4G:406M,4G-64G:470M,64G-:726M", "mlx5"),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", arch="aarch64", page_size=65536),
     "2G-4G:356M,4G-64G:420M,64G-:676M", "64 KiB"),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", arch="aarch64",
          kernel_release="6.12.0-55.el10.aarch64+64k"),
     "2G-4G:356M,4G-64G:420M,64G-:676M", "64 KiB"),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", arch="aarch64", page_size=65536, arm_smmu=True),
     "2G-4G:740M,4G-64G:804M,64G-:1060M", "arm-smmu"),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", arch="aarch64", page_size=65536, mlx5=True),
     "2G-4G:556M,4G-64G:620M,64G-:876M", "mlx5"),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", arch="aarch64", page_size=65536, mlx5=True,
          arm_smmu=True),
     "2G-4G:940M,4G-64G:1004M,64G-:1260M", "arm-smmu"),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", arch="aarch64", arm_smmu=True),
     "2G-4G:256M,4G-64G:320M,64G-:576M", None),      # arm-smmu costs nothing with 4k pages
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", arch="ppc64le", capture_cpus=16),
     "2G-4G:400M,4G-16G:528M,16G-64G:1040M,64G-128G:2064M,128G-:4112M", "16 capture CPUs"),
    (dict(distribution="debian", version="12", sme_sev=True, mlx5=True), "384M-:128M", None),
])
def test_distro_addons(kw, value, addon):
    rec = recommend(facts(**kw), "distro")
    assert rec.crashkernel.format(prefix=False) == value
    reasons = [a["reason"] for a in rec.details["addons"]]
    if addon is None:
        assert reasons == []
    else:
        assert any(addon in r for r in reasons)
        assert addon in rec.explanation


@pytest.mark.parametrize("kw, reserved", [
    (dict(distribution="debian", version="12", system_ram=1073086464), 128 * M),
    (dict(distribution="debian", version="12", system_ram=256 * M), 0),
    (dict(distribution="debian", version="13", system_ram=2 * G), 192 * M),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", system_ram=1 * G), 0),     # kdumpctl: < 2G nothing
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", system_ram=2 * G - 100 * M), 256 * M),  # rounds up
    (dict(distribution="rhel", version="9.4", system_ram=4227858432), 256 * M),
    (dict(distribution="rhel", tool_version=("kdump-utils", "1.0.61"), version="10.0", arch="ppc64le", fadump=True, system_ram=3 * G), 0),
])
def test_distro_reserved_bytes_on_this_host(kw, reserved):
    rec = recommend(facts(**kw), "distro")
    assert rec.reserved.total == reserved
    if reserved == 0:
        assert "reserves nothing" in rec.explanation


def test_distro_explanation_names_the_source_and_the_host():
    rec = recommend(facts(system_ram=1073086464), "distro")
    assert rec.source == "Debian 12 kdump-tools default (amd64)"
    assert "crashkernel=384M-:128M reserves 128 MiB" in rec.explanation


@pytest.mark.parametrize("kw, message", [
    (dict(distribution="arch", version=""), "no distribution table for 'arch'"),
    (dict(distribution="debian", arch="riscv64"), "no default reservation for riscv64"),
    (dict(distribution="rhel", version="9", arch="riscv64"), "no default reservation for riscv64"),
])
def test_distro_unknown(kw, message):
    with pytest.raises(SizingError, match=message):
        recommend(facts(**kw), "distro")


@pytest.mark.parametrize("dist, like, family", [
    ("debian", (), "debian"), ("ubuntu", ("debian",), "ubuntu"), ("linuxmint", ("ubuntu",), "ubuntu"),
    ("kali", ("debian",), "debian"), ("rhel", (), "redhat"), ("ol", ("fedora",), "redhat"),
    ("sles", (), "suse"), ("opensuse-tumbleweed", ("opensuse", "suse"), "suse"),
    ("alpine", (), None),
])
def test_family_of(dist, like, family):
    assert family_of(HostFacts(distribution=dist, id_like=like)) == family


@pytest.mark.parametrize("dist, like, os_family", [
    ("debian", (), "Debian"), ("ubuntu", ("debian",), "Debian"), ("rhel", (), "RedHat"),
    ("fedora", (), "RedHat"), ("almalinux", ("rhel", "centos", "fedora"), "RedHat"),
    ("sles", (), "Suse"), ("opensuse-leap", ("suse", "opensuse"), "Suse"), ("alpine", (), ""),
])
def test_ansible_os_family(dist, like, os_family):
    assert ansible_os_family(HostFacts(distribution=dist, id_like=like)) == os_family


def test_add_to_sizes_keeps_ranges_and_offset():
    assert add_to_sizes("1G-4G:192M,4G-:256M@16M", 64 * M) == "1G-4G:256M,4G-:320M@16M"
    assert add_to_sizes("256M", 64 * M) == "320M"
    with pytest.raises(CrashkernelError):
        add_to_sizes("256M,high", 64 * M)


# --- estimate -------------------------------------------------------------------

def test_estimate_formula_and_rounding():
    f = facts(kernel_memory=80 * M, initrd_size=7 * M, modules_size=2 * M, capture_cpus=1,
              system_ram=1073086464)
    parts = dict((n, b) for n, b, _note in estimate_parts(f))
    assert parts["kernel"] == 80 * M
    assert parts["initrd"] == 21 * M
    assert parts["modules"] == 2 * M
    assert parts["runtime"] == 16 * M
    assert parts["cpus"] == 2 * M
    assert parts["bitmap"] == 8 * 96
    rec = recommend(f, "estimate")
    raw = sum(parts.values())
    assert rec.details["sum"] == raw
    size = rec.crashkernel.plain.size
    assert size % ESTIMATE_STEP == 0
    assert size >= raw * (1 + ESTIMATE_MARGIN)
    assert size - ESTIMATE_STEP < raw * (1 + ESTIMATE_MARGIN)
    # 121 MiB + 15 % = 139.2 MiB, rounded up to 16M.
    assert rec.crashkernel.format() == "crashkernel=144M"


def test_estimate_floor():
    rec = recommend(facts(kernel_memory=8 * M, initrd_size=1 * M), "estimate")
    assert rec.crashkernel.plain.size == ESTIMATE_FLOOR


def test_estimate_uses_the_file_size_factor_without_a_header():
    f = facts(kernel_memory=None, kernel_size=10 * M)
    parts = dict((n, (b, note)) for n, b, note in estimate_parts(f))
    assert parts["kernel"] == (60 * M, "6 x the kernel file (in-memory size unknown)")
    f = facts(kernel_memory=None, kernel_size=10 * M, arch="ppc64le")
    assert dict((n, b) for n, b, _note in estimate_parts(f))["kernel"] == 20 * M
    f = facts(kernel_memory=None, kernel_size=10 * M, arch="riscv64")
    assert dict((n, b) for n, b, _note in estimate_parts(f))["kernel"] == 40 * M


def test_estimate_adds_luks_and_hardware():
    base = sum(b for _name, b, _note in estimate_parts(facts()))
    luks = dict((n, b) for n, b, _note in estimate_parts(facts(luks_memory=1 * G)))
    assert luks["luks"] == G + 20 * M
    luks64 = dict((n, b) for n, b, _note in estimate_parts(facts(luks_memory=G, arch="aarch64")))
    assert luks64["luks"] == G + 70 * M
    hw = dict((n, b) for n, b, _note in estimate_parts(
        facts(arch="aarch64", page_size=65536, arm_smmu=True, mlx5=True, sme_sev=False)))
    assert (hw["page_64k"], hw["arm_smmu"], hw["mlx5"]) == (100 * M, 384 * M, 200 * M)
    sev = sum(b for _name, b, _note in estimate_parts(facts(sme_sev=True)))
    assert sev - base == 64 * M


def test_estimate_marks_a_boot_initrd_as_an_upper_bound():
    parts = estimate_parts(facts(initrd_is_kdump=False))
    note = [note for n, _b, note in parts if n == "initrd"][0]
    assert "upper bound" in note


@pytest.mark.parametrize("kw, message", [
    (dict(kernel_memory=None, kernel_size=None), "needs the kernel image"),
    (dict(initrd_size=None), "needs an initrd"),
])
def test_estimate_needs_inputs(kw, message):
    with pytest.raises(SizingError, match=message):
        recommend(facts(**kw), "estimate")


def test_estimate_goes_high_on_big_hosts():
    f = facts(system_ram=512 * G, ram_below_4g=3 * G, luks_memory=G)
    rec = recommend(f, "estimate")
    assert rec.crashkernel.high is not None and rec.crashkernel.plain is None
    assert rec.reserved.high
    assert rec.reserved.low == 256 * M
    # never on a host without RAM above 4 GiB
    small = facts(system_ram=3 * G, ram_below_4g=3 * G, luks_memory=G)
    assert recommend(small, "estimate").crashkernel.plain is not None
    # a quarter of low RAM is the other trigger
    f = facts(system_ram=6 * G, ram_below_4g=500 * M)
    assert recommend(f, "estimate").crashkernel.high is not None
    # placement low and high are obeyed
    assert recommend(facts(system_ram=512 * G, luks_memory=G), "estimate",
                     placement="low").crashkernel.plain is not None
    assert recommend(facts(), "estimate", placement="high").crashkernel.high is not None
    # never on arches without ,high
    assert recommend(facts(arch="ppc64le", system_ram=512 * G, luks_memory=G),
                     "estimate").crashkernel.plain is not None
    with pytest.raises(SizingError, match="not supported on s390x"):
        recommend(facts(arch="s390x"), "estimate", placement="high")


# --- fixed ------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected, reserved", [
    ("256M", "crashkernel=256M", 256 * M),
    ("crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M", "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M",
     256 * M),
    ("2G", "crashkernel=2G,high", 2 * G + 256 * M),   # placement auto on a host with high RAM
    ("512M,high 128M,low", "crashkernel=512M,high crashkernel=128M,low", 640 * M),
    ("256M@16M", "crashkernel=256M@16M", 256 * M),
])
def test_fixed(value, expected, reserved):
    rec = recommend(facts(), "fixed", value)
    assert rec.crashkernel.format() == expected
    assert rec.reserved.total == reserved


@pytest.mark.parametrize("value, message", [
    (None, "needs a value"),
    ("", "needs a value"),
    ("1G-512M:64M", "range end 512M is not above its start 1G"),
    ("64X", "unknown suffix 'X'"),
    ("16G-:256M", "reserves nothing on this host: no range matches"),
    ("16G", "reserves nothing on this host: the kernel rejects"),
    ("256M 512M", "several words of the same kind"),
])
def test_fixed_errors(value, message):
    with pytest.raises((SizingError, CrashkernelError), match=message):
        recommend(facts(), "fixed", value)


def test_recommend_rejects_unknown_policy_placement_and_missing_ram():
    with pytest.raises(SizingError, match="policy 'guess'"):
        recommend(facts(), "guess")
    with pytest.raises(SizingError, match="placement 'middle'"):
        recommend(facts(), "distro", placement="middle")
    with pytest.raises(SizingError, match="System RAM is unknown"):
        recommend(facts(system_ram=0), "distro")


def test_recommendation_dict_shape():
    data = recommend(facts(system_ram=1073086464), "distro").to_dict()
    assert data["crashkernel"] == "crashkernel=384M-:128M"
    assert data["value"] == "384M-:128M"
    assert data["reserved_bytes"] == 128 * M
    assert data["parsed"]["ranges"] == [{"start": 384 * M, "end": None, "size": 128 * M}]
    assert data["reservation"]["matched_range"] == {"start": 384 * M, "end": None, "size": 128 * M}


def test_host_facts_reject_unknown_fields():
    with pytest.raises(TypeError, match="unknown host facts: colour"):
        HostFacts(colour="blue")
