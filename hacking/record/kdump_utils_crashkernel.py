# SPDX-License-Identifier: GPL-3.0-or-later
"""Record what kdump-utils' own default-crashkernel logic prints, revision by revision.

    python3 hacking/record/kdump_utils_crashkernel.py GIT_DIR [-o OUT.json] [--jobs N] [--no-scan] [--recorded DATE]

GIT_DIR is a git directory of rhkdump/kdump-utils (a bare mirror will do). Its history holds
the Fedora kexec-tools dist-git era (kexec-tools.spec, 2.0.x) and the kdump-utils tags v1.0.x.

For every selected revision the upstream kdump-lib.sh (with kdump-lib-initramfs.sh and
kdump-logger.sh beside it) is taken out of GIT_DIR with `git show REV:path` into a temporary
directory and sourced, unchanged, by a small bash harness, which then calls
kdump_get_arch_recommend_crashkernel (and kdump_get_arch_recommend_size) the way kdumpctl does.
Nothing of upstream is kept in this repository: only what the functions print ends up in the
fixture.

Each case runs in its own mount namespace (unshare -m, so run this as root); inside it:
  * /usr/lib gets a read-only overlay whose top layer holds kdump/ with the three upstream files,
    so `. /usr/lib/kdump/kdump-lib-initramfs.sh` and `. /lib/kdump/...` resolve as installed;
  * /proc/iomem is a bind mount of a one-line file ("00000000-<size> : System RAM");
  * /sys/bus/pci/drivers is a bind mount of a directory holding mlx5_core/ or nothing;
  * /sys/devices/platform is a bind mount of a directory holding arm-smmu-v3.0.auto/ or nothing;
  * PATH starts with shims for uname (-m, -r), lscpu, journalctl, dmesg, lspci and lsmod,
    which answer from environment variables and log their calls;
  * the harness sources a generated sysconfig file (KDUMP_COMMANDLINE_APPEND,
    FADUMP_COMMANDLINE_APPEND; or the revision's own default sysconfig), sets DEFAULT_DUMP_MODE
    as kdumpctl's determine_dump_mode would, sources kdump-lib.sh, then points
    FADUMP_ENABLED_SYS_NODE (a variable of kdump-lib.sh) at a file holding 1 or 0.
The kdump-logger functions (ddebug, dinfo, dwarn, derror) are stubbed to write to stderr.
The host's files are not touched: all mounts live and die in the case's namespace.

With the scan (the default), every "Release" commit of kexec-tools.spec and every v1.0.x tag
is run through the same matrix and listed with the selected revisions whose outputs it matches.
"""

import argparse
import concurrent.futures
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(ROOT, "tests", "unit", "fixtures", "upstream", "kdump_utils_crashkernel.json")
UPSTREAM = "rhkdump/kdump-utils"
LIB_FILES = ("kdump-lib.sh", "kdump-lib-initramfs.sh", "kdump-logger.sh")
FUNCTIONS = (
    "kdump_get_arch_recommend_crashkernel",
    "kdump_get_arch_recommend_size",
    "get_recommend_size",
    "get_system_size",
    "is_fadump_capable",
    "is_sme_or_sev_active",
    "has_mlx5",
    "has_aarch64_smmu",
    "find_nr_cpus",
    "_crashkernel_add",
    "_get_kdump_kernel_version",
)
GIB = 1 << 30

# Distribution evidence. Sources are given per entry; "unconfirmed" marks what rests only on a
# version number or a date. RHEL's kexec-tools/kdump-utils builds come from RHEL's own dist-git
# branches (with backports), which are not in this history: a matching version number does not
# prove identical code.
S_SPEC = ("kexec-tools.spec %changelog in this history: the 'Rebuilt for Fedora_N_Mass_Rebuild' "
          "entries show the rawhide version when Fedora N was mass-rebuilt before branching")
S_EL8_AUTO = ("RHEL 8 uses the kernel's crashkernel=auto, not a kexec-tools default "
              "(docs.redhat.com RHEL 8 'Configuring kdump on the command line'; "
              "linux-system-roles/kdump PR #135: reset-crashkernel only on RHEL 9 and later)")
REVISIONS = [
    {
        "ref": "6be14c2bcde068b97e9eb2aeed5aac2d6a4790bd",
        "why": "kexec-tools 2.0.20 line (the upstream version RHEL 8.2-8.5 built on); no default-crashkernel function yet",
        "shipped_in": [
            "Fedora 33 (2.0.20 line)",
            "RHEL 8.4 (kexec-tools-2.0.20-46.el8: version line only)",
            "RHEL 8.5 (kexec-tools-2.0.20-57.el8_5.1: version line only)",
        ],
        "shipped_in_source": S_SPEC + " (2.0.20-15/16 at Fedora_33). RHEL 8.4/8.5 builds: kernel-QE test "
        "comments 'Fixed in RHEL-8.4 kexec-tools-2.0.20-46', 'Fixed in RHEL-8.5 kexec-tools-2.0.20-57' and "
        "el8_5 dnf logs in the public code index. " + S_EL8_AUTO + ".",
    },
    {
        "ref": "7232f5bff204d4271c02bfd421aef2e8974bd888",
        "why": "first release with kdump_get_arch_recommend_size (kdumpctl estimate baseline, RHEL 8 crashkernel=auto tables)",
        "shipped_in": ["Fedora 34 (2.0.21 line; unconfirmed which build)"],
        "shipped_in_source": S_SPEC + " (2.0.21-5 at Fedora_34).",
    },
    {
        "ref": "302be5c34b400b6dcb948f18fd1ee6d254a3d8bd",
        "why": "kdumpctl estimate added (commit e9e6a2c); lscpu names fixed to AARCH64/S390X and 0M below the first range (commit 4537783)",
        "shipped_in": ["Fedora 35 rawhide before branching (unconfirmed)"],
        "shipped_in_source": S_SPEC + " (2.0.22-5 at Fedora_35, 2021-07-22, after this 2021-06-20 release); unconfirmed.",
    },
    {
        "ref": "6ea954d5182a7cbd42e0888e0c09ef9770eb9e88",
        "why": "last release before kdump_get_arch_recommend_crashkernel: crashkernel.default from the kernel package, else tables",
        "shipped_in": ["Fedora 35 (2.0.22 line; unconfirmed which build)"],
        "shipped_in_source": S_SPEC + " (2.0.22-5 at Fedora_35).",
    },
    {
        "ref": "1e569fd8a88ea146ca31bd0ac467fe657521f9eb",
        "why": "kdump_get_arch_recommend_crashkernel introduced (commit 105c016); output still has the 102400T upper bound",
        "shipped_in": ["Fedora 36 rawhide (2.0.23 line)", "RHEL 9.0 (2.0.23 line; unconfirmed)"],
        "shipped_in_source": S_SPEC + " (2.0.23-3 at Fedora_36). RHEL 9.0 version: unconfirmed; RHEL 9 docs "
        "(docs.redhat.com RHEL 9 'Configuring kdump memory usage') say kexec-tools keeps the default and "
        "crashkernel=auto is gone.",
    },
    {
        "ref": "d6298a1dec83aa83df19cd994d7ace976822d3b9",
        "why": "upper bound removed from the printed value (commit c67a836)",
        "shipped_in": ["Fedora 36 (2.0.23 line)", "RHEL 9.0 (2.0.23 line; unconfirmed)"],
        "shipped_in_source": S_SPEC + " (2.0.23-3 at Fedora_36, 2022-01-20). autotest/tp-qemu PR #3481 "
        "(2022-09) quotes the RHEL 9 x86_64 default 1G-4G:192M,4G-64G:256M,64G-:512M.",
    },
    {
        "ref": "c735539b3549ca29ca72d824de5a3226ee8fc17f",
        "why": "aarch64 table for 4k pages 1G-4G:256M,4G-64G:320M,64G-:576M (commit b92bc6e); same logic through 2.0.26-1",
        "shipped_in": [
            "Fedora 37 (2.0.24/2.0.25 line; unconfirmed)",
            "RHEL 9.1 (unconfirmed)",
            "RHEL 9.2 (kexec-tools-2.0.25-13.el9_2: version line only)",
            "RHEL 8.7 (kexec-tools-2.0.24-6.el8: version line only; RHEL 8 uses crashkernel=auto)",
            "RHEL 8.8 (kexec-tools-2.0.25-3.el8: version line only; RHEL 8 uses crashkernel=auto)",
        ],
        "shipped_in_source": "autotest/tp-qemu PR #3481 (2022-09-26) gives the RHEL 9 defaults x86_64 "
        "1G-4G:192M,4G-64G:256M,64G-:512M and aarch64 1G-4G:256M,4G-64G:320M,64G-:576M. el9_2 and el8_7 "
        "package lists and a kernel-QE comment 'Fixed in RHEL-8.8 kexec-tools-2.0.25-3.el8' in the public "
        "code index. " + S_EL8_AUTO + ".",
    },
    {
        "ref": "471c136481a7de4c21cef84aab82b97b57b3d0e4",
        "why": "aarch64 64k kernel, arm-smmu and mlx5 terms (commits 05c4861, 7a2c4cb, 51efbcf)",
        "shipped_in": [
            "Fedora 38 updates (unconfirmed)",
            "Fedora 39 (2.0.26 line)",
            "RHEL 9.3 (kexec-tools-2.0.26-8.el9: version line only)",
        ],
        "shipped_in_source": S_SPEC + " (2.0.26-2 at Fedora_38, 2.0.26-8 at Fedora_39). el9_3 package list "
        "(kexec-tools-2.0.26-8.el9 beside kernel 5.14.0-362.13.1.el9_3) in the public code index.",
    },
    {
        "ref": "5058cef90c2e24ff3a17a9c5560e16363e3281f5",
        "why": "_crashkernel_add hardened (commit 64f2827)",
        "shipped_in": ["Fedora 39 updates (unconfirmed)"],
        "shipped_in_source": "release date only (2023-10-13); unconfirmed.",
    },
    {
        "ref": "cb761c7224fc09c08731a8535eb4b44db010355c",
        "why": "x86_64/s390x +64M when AMD SME/SEV is active (commit 4841bc6)",
        "shipped_in": [
            "Fedora 39/40 updates (unconfirmed)",
            "RHEL 9.4 (kexec-tools-2.0.27-8.el9_4.3: version line only)",
        ],
        "shipped_in_source": "release date (2023-11-08); a RHEL 9.4 sosreport-style listing "
        "'kexec-tools-2.0.27-8.el9_4.3.x86_64' in the public code index.",
    },
    {
        "ref": "f9986edd25e8b414b2fc7f11f08d6d8f51a9b843",
        "why": "last kexec-tools.spec release in this history before the kdump-utils split (same logic as 2.0.27-4)",
        "shipped_in": [
            "Fedora 40 (2.0.28 line, kexec-tools with the kdump scripts at GA)",
            "RHEL 9.5 (kexec-tools-2.0.28-1.x.el9_5 per an Oracle Linux rebuild: version line only)",
        ],
        "shipped_in_source": S_SPEC + " (2.0.28-2/-3 at Fedora_40, 2024-01). Oracle Linux "
        "'kexec-tools-2.0.28-1.0.10.el9_5' quoted in a public mailing-list thread in the code index.",
    },
    {
        "ref": "v1.0.42",
        "why": "first kdump-utils tag (same logic as 2.0.27-4)",
        "shipped_in": [
            "Fedora 40 updates (kdump-utils split landed via FEDORA-2024-d70dfd026e; version unconfirmed)",
            "Fedora 41 rawhide",
        ],
        "shipped_in_source": "cockpit-project/cockpit PR #20661 (2024-06-26): bodhi FEDORA-2024-d70dfd026e lands "
        "the kexec-tools/kdump-utils split in Fedora 40. minimization/content-resolver-input PR #1136 "
        "(2024-04): kdump-utils added in Fedora rawhide and RHEL 10.",
    },
    {
        "ref": "v1.0.51",
        "why": "upstream version of the RHEL 10.0 build (same upstream logic as v1.0.42)",
        "shipped_in": [
            "RHEL 10.0 (kdump-utils-1.0.51-11.el10_0; downstream patches may differ, see source)",
            "Fedora 41/42 updates (unconfirmed)",
        ],
        "shipped_in_source": "AlmaLinux 10.0 vault URL 'kdump-utils-1.0.51-11.el10_0' in public recipes in the "
        "code index (AlmaLinux rebuilds RHEL 10.0). The RHEL 10 docs (docs.redhat.com RHEL 10 'Memory "
        "requirements for kdump') list x86_64 2 GB-64 GB: 256 MB, i.e. the v1.0.53 x86_64 table, so the el10 "
        "build likely carries that change as a backport (unconfirmed).",
    },
    {
        "ref": "v1.0.53",
        "why": "x86_64/s390x table starts at 2G: 2G-64G:256M,64G-:512M (commit fe18f93)",
        "shipped_in": ["Fedora 42 (unconfirmed which kdump-utils build at GA)", "Fedora 41 updates (unconfirmed)"],
        "shipped_in_source": ".packit.yaml (propose_downstream/koji_build/bodhi_update to fedora-all since "
        "commit 08da772): each tag is proposed to every active Fedora branch; release date 2025-03-06 "
        "precedes Fedora 42 GA. unconfirmed.",
    },
    {
        "ref": "v1.0.54",
        "why": "aarch64 table starts at 2G (commit ca42bd6)",
        "shipped_in": ["Fedora 42 updates (unconfirmed)", "Fedora 43 (unconfirmed)"],
        "shipped_in_source": ".packit.yaml fedora-all policy and release date 2025-05-08; unconfirmed.",
    },
    {
        "ref": "v1.0.60",
        "why": "ppc64le +1M per capture-kernel CPU (nr_cpus=) (commit 0d38985); default sysconfig nr_cpus=16 (commit 4f7970e)",
        "shipped_in": ["Fedora 44 (unconfirmed)", "Fedora 42/43 updates (unconfirmed)"],
        "shipped_in_source": ".packit.yaml fedora-all policy and release date 2026-02-25; unconfirmed.",
    },
    {
        "ref": "v1.0.61",
        "why": "latest tag",
        "shipped_in": [
            "Fedora 44 (kdump-utils-1.0.61 seen on a 6.19.10-300.fc44 system; unconfirmed)",
            "an el10 build kdump-utils-1.0.61-2.el10 (RHEL 10.x or CentOS Stream 10; unconfirmed)",
        ],
        "shipped_in_source": "project notes in the public code index quoting installed package versions; "
        "unconfirmed.",
    },
]

SHIMS = {
    "uname": r"""#!/bin/bash
printf 'uname %s\n' "$*" >> "$STUB_LOG"
case "$*" in
-m) printf '%s\n' "$FAKE_UNAME_M" ;;
-r) printf '%s\n' "$FAKE_UNAME_R" ;;
*) echo "uname shim: unsupported arguments: $*" >&2; exit 2 ;;
esac
""",
    "lscpu": r"""#!/bin/bash
printf 'lscpu %s\n' "$*" >> "$STUB_LOG"
printf 'Architecture:                    %s\n' "$FAKE_UNAME_M"
""",
    "journalctl": r"""#!/bin/bash
printf 'journalctl %s\n' "$*" >> "$STUB_LOG"
# only the "journalctl -q --dmesg --grep REGEX" query is answered: a match exits 0, none exits 1
if [[ $FAKE_SME == 1 && " $* " == *" --dmesg "* && " $* " == *" --grep "* ]]; then
	echo "Memory Encryption Features active: AMD SME"
	exit 0
fi
exit 1
""",
    "dmesg": r"""#!/bin/bash
printf 'dmesg %s\n' "$*" >> "$STUB_LOG"
[[ $FAKE_SME == 1 ]] && echo "[    0.000000] Memory Encryption Features active: AMD SME"
exit 0
""",
    "lspci": r"""#!/bin/bash
printf 'lspci %s\n' "$*" >> "$STUB_LOG"
[[ $FAKE_MLX5 == 1 ]] && echo "01:00.0 Ethernet controller: Mellanox Technologies MT28800 Family [ConnectX-5 Ex]"
exit 0
""",
    "lsmod": r"""#!/bin/bash
printf 'lsmod %s\n' "$*" >> "$STUB_LOG"
echo "Module                  Size  Used by"
[[ $FAKE_MLX5 == 1 ]] && echo "mlx5_core            2592768  1 mlx5_ib"
exit 0
""",
}

# Runs inside the case's mount namespace, as root.
WRAPPER = r"""#!/bin/bash
set -e
case_dir=$1 layer=$2 work=$3
mount --make-rprivate /
mount -t overlay kdump-layer -o "lowerdir=$layer:/usr/lib" /usr/lib
if [[ ! -L /lib ]]; then
	mount -t overlay kdump-layer -o "lowerdir=$layer:/lib" /lib
fi
mount --bind "$case_dir/iomem" /proc/iomem
mount --bind "$case_dir/pci_drivers" /sys/bus/pci/drivers
mount --bind "$case_dir/platform" /sys/devices/platform
set +e
exec env -i PATH="$work/shims:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/root LANG=C LC_ALL=C \
	STUB_LOG="$case_dir/stub.log" FAKE_UNAME_M="$(<"$case_dir/uname_m")" \
	FAKE_UNAME_R="$(<"$case_dir/uname_r")" FAKE_SME="$(<"$case_dir/sme")" FAKE_MLX5="$(<"$case_dir/mlx5")" \
	/bin/bash --noprofile --norc "$work/harness.sh" "$case_dir" 2> "$case_dir/stderr"
"""

# Emulates what kdumpctl does before it asks kdump-lib.sh for the default crashkernel.
HARNESS = r"""#!/bin/bash
case_dir=$1
for _f in ddebug dinfo dwarn derror; do
	eval "$_f() { printf 'kdump-log:$_f: %s\n' \"\$*\" >&2; }"
done
dlog() { printf 'kdump-log:dlog: %s\n' "$*" >&2; }
# kdumpctl: ". /etc/sysconfig/kdump"
. "$case_dir/sysconfig"
printf '%s' "${KDUMP_COMMANDLINE_APPEND-}" > "$case_dir/seen_kdump_append"
printf '%s' "${FADUMP_COMMANDLINE_APPEND-}" > "$case_dir/seen_fadump_append"
# kdumpctl: DEFAULT_DUMP_MODE="kdump", determine_dump_mode() -> "fadump" when fadump is enabled
DEFAULT_DUMP_MODE=$(<"$case_dir/default_dump_mode")
# kdumpctl: ". /lib/kdump/kdump-lib.sh" (older kdumpctl: /usr/lib/kdump/kdump-lib.sh)
. /usr/lib/kdump/kdump-lib.sh
# path variable of kdump-lib.sh, pointed at this case's file
FADUMP_ENABLED_SYS_NODE="$case_dir/fadump_enabled"
call=$(<"$case_dir/call")
case $call in
introspect)
	for _f in FUNCTIONS_PLACEHOLDER; do
		declare -F "$_f" > /dev/null && printf '%s\n' "$_f"
	done > "$case_dir/out"
	rc=0
	;;
crashkernel)
	if declare -F kdump_get_arch_recommend_crashkernel > /dev/null; then
		# kdumpctl: get-default-crashkernel MODE / reset-crashkernel: kdump_get_arch_recommend_crashkernel "$_dump_mode"
		kdump_get_arch_recommend_crashkernel "$(<"$case_dir/mode_arg")" > "$case_dir/out"
		rc=$?
	else
		: > "$case_dir/out"
		rc=127
	fi
	;;
size)
	if declare -F kdump_get_arch_recommend_size > /dev/null; then
		# kdumpctl estimate / showmem: baseline=$(kdump_get_arch_recommend_size)
		kdump_get_arch_recommend_size > "$case_dir/out"
		rc=$?
	else
		: > "$case_dir/out"
		rc=127
	fi
	;;
esac
printf '%s\n' "$rc" > "$case_dir/rc"
"""

ARCH_KERNEL = {
    "x86_64": "5.14.0-503.11.1.el9_5.x86_64",
    "aarch64": "5.14.0-503.11.1.el9_5.aarch64",
    "aarch64+64k": "5.14.0-503.11.1.el9_5.aarch64+64k",
    "ppc64le": "5.14.0-503.11.1.el9_5.ppc64le",
    "s390x": "5.14.0-503.11.1.el9_5.s390x",
}
NON_PPC_APPEND = "irqpoll nr_cpus=1 reset_devices"
# (label, KDUMP_COMMANDLINE_APPEND, FADUMP_COMMANDLINE_APPEND)
PPC_APPENDS = [
    ("nr_cpus absent", "irqpoll reset_devices", "numa=off"),
    ("nr_cpus=1 in KDUMP_COMMANDLINE_APPEND", "irqpoll nr_cpus=1 reset_devices", "numa=off"),
    ("nr_cpus=16 in KDUMP_COMMANDLINE_APPEND", "irqpoll nr_cpus=16 reset_devices", "numa=off"),
    ("nr_cpus=1 in FADUMP_COMMANDLINE_APPEND", "irqpoll reset_devices", "nr_cpus=1 numa=off"),
    ("nr_cpus=16 in FADUMP_COMMANDLINE_APPEND", "irqpoll reset_devices", "nr_cpus=16 numa=off"),
    ("nr_cpus=4 in KDUMP_, nr_cpus=16 in FADUMP_COMMANDLINE_APPEND", "irqpoll nr_cpus=4 reset_devices",
     "nr_cpus=16 numa=off"),
]
SIZES_GIB = (1, 2, 4, 16, 64, 128, 1024)


def case(arch, kernel, fadump=False, kappend=NON_PPC_APPEND, fappend="", sme=False, mlx5=False, smmu=False,
         default_dump_mode=None, sysconfig="synthetic", call="crashkernel", ram_gib=16, label=None):
    return {
        "arch": arch, "kernel_release": kernel, "fadump": fadump, "kdump_commandline_append": kappend,
        "fadump_commandline_append": fappend, "sme": sme, "mlx5": mlx5, "arm_smmu": smmu,
        "default_dump_mode": default_dump_mode or ("fadump" if fadump else "kdump"),
        "sysconfig": sysconfig, "call": call, "ram_gib": ram_gib, "label": label,
    }


def crashkernel_cases():
    out = []
    x86 = ARCH_KERNEL["x86_64"]
    out += [case("x86_64", x86), case("x86_64", x86, sme=True), case("x86_64", x86, mlx5=True)]
    for kname in ("aarch64", "aarch64+64k"):
        for mlx5 in (False, True):
            for smmu in (False, True):
                out.append(case("aarch64", ARCH_KERNEL[kname], mlx5=mlx5, smmu=smmu))
    for fadump in (False, True):
        for label, kap, fap in PPC_APPENDS:
            out.append(case("ppc64le", ARCH_KERNEL["ppc64le"], fadump=fadump, kappend=kap, fappend=fap, label=label))
    out += [case("s390x", ARCH_KERNEL["s390x"]), case("s390x", ARCH_KERNEL["s390x"], sme=True)]
    return out


def mismatch_cases():
    """ppc64le: dump mode argument and DEFAULT_DUMP_MODE disagree (reset-crashkernel --fadump=on on a
    system running in kdump mode, and --fadump=off on one running in fadump mode)."""
    out = []
    for fadump, ddm in ((True, "kdump"), (False, "fadump")):
        for label, kap, fap in PPC_APPENDS:
            out.append(case("ppc64le", ARCH_KERNEL["ppc64le"], fadump=fadump, kappend=kap, fappend=fap,
                            default_dump_mode=ddm, label=label))
    return out


def default_sysconfig_cases():
    return [
        case("x86_64", ARCH_KERNEL["x86_64"], sysconfig="revision-default"),
        case("aarch64", ARCH_KERNEL["aarch64"], sysconfig="revision-default"),
        case("aarch64", ARCH_KERNEL["aarch64+64k"], sysconfig="revision-default"),
        case("ppc64le", ARCH_KERNEL["ppc64le"], sysconfig="revision-default"),
        case("ppc64le", ARCH_KERNEL["ppc64le"], fadump=True, sysconfig="revision-default"),
        case("s390x", ARCH_KERNEL["s390x"], sysconfig="revision-default"),
    ]


def size_cases():
    configs = [
        dict(arch="x86_64", kernel=ARCH_KERNEL["x86_64"]),
        dict(arch="x86_64", kernel=ARCH_KERNEL["x86_64"], sme=True),
        dict(arch="aarch64", kernel=ARCH_KERNEL["aarch64"]),
        dict(arch="aarch64", kernel=ARCH_KERNEL["aarch64+64k"], mlx5=True, smmu=True),
        dict(arch="ppc64le", kernel=ARCH_KERNEL["ppc64le"], kappend="irqpoll reset_devices", fappend="numa=off"),
        dict(arch="ppc64le", kernel=ARCH_KERNEL["ppc64le"], fadump=True, kappend="irqpoll reset_devices",
             fappend="numa=off"),
        dict(arch="s390x", kernel=ARCH_KERNEL["s390x"]),
    ]
    return [case(call="size", ram_gib=gib, **cfg) for cfg in configs for gib in SIZES_GIB]


class Git:
    def __init__(self, git_dir):
        self.git_dir = git_dir

    def run(self, *args, check=True):
        proc = subprocess.run(["git", "--git-dir", self.git_dir, *args], capture_output=True, text=True)
        if check and proc.returncode:
            raise RuntimeError("git %s: %s" % (" ".join(args), proc.stderr.strip()))
        return proc.stdout

    def blob(self, rev, path):
        proc = subprocess.run(["git", "--git-dir", self.git_dir, "show", "%s:%s" % (rev, path)],
                              capture_output=True)
        return proc.stdout if proc.returncode == 0 else None

    def files(self, rev):
        return set(self.run("ls-tree", "--name-only", rev).split())


def describe(git, sha):
    tags = sorted(git.run("tag", "--points-at", sha).split())
    if tags:
        return tags[0]
    subject = git.run("show", "-s", "--format=%s", sha).strip()
    return "%s (\"%s\")" % (sha[:7], subject)


def spec_field(text, name):
    m = re.search(r"^%s:\s*(\S+)" % name, text, re.M)
    return m.group(1) if m else None


def version_of(git, sha):
    tags = [t for t in git.run("tag", "--points-at", sha).split() if re.match(r"^v\d", t)]
    if tags:
        tag = sorted(tags)[0]
        src = "git tag %s" % tag
        spec = git.blob(sha, "kdump-utils.spec")
        if spec:
            v = spec_field(spec.decode(), "Version")
            if v and v != tag[1:]:
                src += " (kdump-utils.spec at this tag still says Version: %s)" % v
        return tag[1:], src
    for name in ("kexec-tools.spec", "kdump-utils.spec"):
        spec = git.blob(sha, name)
        if spec:
            text = spec.decode()
            v, r = spec_field(text, "Version"), spec_field(text, "Release")
            r = (r or "").replace("%{?dist}", "")
            return ("%s-%s" % (v, r) if r else v), "%s Version/Release" % name
    return None, "no spec file"


def default_sysconfig(git, sha, arch, tmp):
    """The revision's own /etc/sysconfig/kdump for ARCH: gen-kdump-sysconfig.sh output or kdump.sysconfig.ARCH."""
    files = git.files(sha)
    if "gen-kdump-sysconfig.sh" in files:
        script = os.path.join(tmp, "gen-kdump-sysconfig.sh")
        with open(script, "wb") as f:
            f.write(git.blob(sha, "gen-kdump-sysconfig.sh"))
        proc = subprocess.run(["env", "-i", "PATH=/usr/bin:/bin", "LC_ALL=C", "/bin/bash", script, arch],
                              capture_output=True, cwd=tmp)
        if proc.returncode:
            raise RuntimeError("gen-kdump-sysconfig.sh %s at %s: %s" % (arch, sha, proc.stderr.decode()))
        return proc.stdout, "gen-kdump-sysconfig.sh %s" % arch
    name = "kdump.sysconfig.%s" % arch
    if name in files:
        return git.blob(sha, name), name
    return git.blob(sha, "kdump.sysconfig"), "kdump.sysconfig"


def sq(value):
    return "'" + value.replace("'", "'\\''") + "'"


class Runner:
    def __init__(self, git, work):
        self.git = git
        self.work = work
        shim_dir = os.path.join(work, "shims")
        os.makedirs(shim_dir)
        for name, text in SHIMS.items():
            path = os.path.join(shim_dir, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        with open(os.path.join(work, "wrapper.sh"), "w") as f:
            f.write(WRAPPER)
        with open(os.path.join(work, "harness.sh"), "w") as f:
            f.write(HARNESS.replace("FUNCTIONS_PLACEHOLDER", " ".join(FUNCTIONS)))

    def prepare_revision(self, sha):
        rdir = os.path.join(self.work, "rev-" + sha)
        layer = os.path.join(rdir, "layer")
        os.makedirs(os.path.join(layer, "kdump"))
        present = []
        for name in LIB_FILES:
            data = self.git.blob(sha, name)
            if data is not None:
                with open(os.path.join(layer, "kdump", name), "wb") as f:
                    f.write(data)
                present.append(name)
        sysconfigs = {}
        for arch in ("x86_64", "aarch64", "ppc64le", "s390x"):
            data, src = default_sysconfig(self.git, sha, arch, rdir)
            sysconfigs[arch] = (data, src)
        return {"dir": rdir, "layer": layer, "files": present, "sysconfigs": sysconfigs}

    def run_case(self, rev, c):
        cdir = tempfile.mkdtemp(prefix="case-", dir=rev["dir"])
        def put(name, value):
            with open(os.path.join(cdir, name), "wb" if isinstance(value, bytes) else "w") as f:
                f.write(value)
        os.makedirs(os.path.join(cdir, "pci_drivers"))
        os.makedirs(os.path.join(cdir, "platform"))
        if c["mlx5"]:
            os.makedirs(os.path.join(cdir, "pci_drivers", "mlx5_core"))
        if c["arm_smmu"]:
            os.makedirs(os.path.join(cdir, "platform", "arm-smmu-v3.0.auto"))
        put("iomem", "00000000-%x : System RAM\n" % (c["ram_gib"] * GIB))
        put("uname_m", c["arch"])
        put("uname_r", c["kernel_release"])
        put("sme", "1" if c["sme"] else "0")
        put("mlx5", "1" if c["mlx5"] else "0")
        put("fadump_enabled", "1\n" if c["default_dump_mode"] == "fadump" else "0\n")
        put("default_dump_mode", c["default_dump_mode"])
        put("mode_arg", "fadump" if c["fadump"] else "kdump")
        put("call", c["call"])
        if c["sysconfig"] == "revision-default":
            put("sysconfig", rev["sysconfigs"][c["arch"]][0])
        else:
            put("sysconfig", "KDUMP_COMMANDLINE_APPEND=%s\nFADUMP_COMMANDLINE_APPEND=%s\n"
                % (sq(c["kdump_commandline_append"]), sq(c["fadump_commandline_append"])))
        proc = subprocess.run(["unshare", "-m", "--", "/bin/bash", os.path.join(self.work, "wrapper.sh"),
                               cdir, rev["layer"], self.work], capture_output=True, text=True)
        def get(name):
            try:
                with open(os.path.join(cdir, name)) as f:
                    return f.read()
            except FileNotFoundError:
                return None
        rc = get("rc")
        if proc.returncode and rc is None:
            raise RuntimeError("case did not run (%s): %s" % (proc.returncode, proc.stderr))
        stderr = [l for l in (get("stderr") or "").splitlines() if not l.startswith("kdump-log:")]
        stubs = sorted({l.split(" ", 1)[0] for l in (get("stub.log") or "").splitlines() if l})
        result = {
            "out": get("out"), "rc": int(rc), "stderr": stderr, "stubs": stubs,
            "kdump_append": get("seen_kdump_append"), "fadump_append": get("seen_fadump_append"),
        }
        shutil.rmtree(cdir)
        return result


def render(c, res, with_size=False):
    d = {
        "arch": c["arch"],
        "kernel_release": c["kernel_release"],
        "fadump": c["fadump"],
        "kdump_commandline_append": res["kdump_append"],
        "fadump_commandline_append": res["fadump_append"],
        "sme": c["sme"],
        "mlx5": c["mlx5"],
        "arm_smmu": c["arm_smmu"],
        "default_dump_mode": c["default_dump_mode"],
        "sysconfig": c["sysconfig"],
    }
    if c["label"]:
        d["nr_cpus_placement"] = c["label"]
    if with_size:
        d["system_ram_gib"] = c["ram_gib"]
        d["proc_iomem"] = "00000000-%x : System RAM" % (c["ram_gib"] * GIB)
    d["output"] = res["out"] if res["rc"] != 127 else None
    d["exit_status"] = res["rc"]
    if res["stderr"]:
        d["stderr"] = res["stderr"]
    return d


def run_revision(runner, sha, pool):
    rev = runner.prepare_revision(sha)
    intro = runner.run_case(rev, case("x86_64", ARCH_KERNEL["x86_64"], call="introspect"))
    functions = [f for f in (intro["out"] or "").split() if f]
    groups = {
        "cases": crashkernel_cases(),
        "dump_mode_mismatch_cases": mismatch_cases(),
        "default_sysconfig_cases": default_sysconfig_cases(),
        "size_cases": size_cases(),
    }
    futures = {k: [pool.submit(runner.run_case, rev, c) for c in v] for k, v in groups.items()}
    results = {k: [f.result() for f in v] for k, v in futures.items()}
    out = {"functions_present": functions, "files": rev["files"],
           "default_sysconfig_source": {a: s for a, (_, s) in rev["sysconfigs"].items()}}
    stubs = set()
    for k, cs in groups.items():
        out[k] = [render(c, r, with_size=(k == "size_cases")) for c, r in zip(cs, results[k])]
        for r in results[k]:
            stubs.update(r["stubs"])
    out["stubs_invoked"] = sorted(stubs)
    shutil.rmtree(rev["dir"])
    return out


def fingerprint(rec):
    keys = ("cases", "dump_mode_mismatch_cases", "size_cases")
    data = [[(c["output"], c["exit_status"]) for c in rec[k]] for k in keys]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def scan_revisions(git):
    """Every kexec-tools.spec 'Release' commit on the way to v1.0.42 and every v1.0.x tag."""
    shas = []
    for line in git.run("log", "--reverse", "--format=%H %s", "v1.0.42").splitlines():
        sha, subject = line.split(" ", 1)
        if re.match(r"^Release \d", subject) and git.blob(sha, "kexec-tools.spec") is not None:
            shas.append(sha)
    first = git.run("rev-parse", REVISIONS[0]["ref"] + "^{commit}").strip()
    if first in shas:
        shas = shas[shas.index(first):]
    tags = sorted((t for t in git.run("tag").split() if re.match(r"^v\d+\.\d+\.\d+$", t)),
                  key=lambda t: [int(x) for x in t[1:].split(".")])
    for t in tags:
        sha = git.run("rev-parse", t + "^{commit}").strip()
        if sha not in shas:
            shas.append(sha)
    return shas


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("git_dir", help="git directory of rhkdump/kdump-utils")
    ap.add_argument("-o", "--output", default=DEFAULT_OUT)
    ap.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1))
    ap.add_argument("--no-scan", action="store_true", help="skip the equivalence scan of all releases and tags")
    ap.add_argument("--recorded", default=datetime.date.today().isoformat(), help="date for 'recorded' (default: today)")
    args = ap.parse_args()

    if os.geteuid() != 0:
        sys.exit("run as root: every case mounts in its own namespace (unshare -m)")
    for path in ("/sys/bus/pci/drivers", "/sys/devices/platform", "/proc/iomem", "/usr/lib"):
        if not os.path.exists(path):
            sys.exit("missing %s, needed as a mount point" % path)
    git = Git(args.git_dir)
    command = " ".join(shlex.quote(a) for a in ["python3"] + sys.argv)

    work = tempfile.mkdtemp(prefix="kdump-ck-")
    try:
        runner = Runner(git, work)
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            revisions = []
            prints = {}
            for entry in REVISIONS:
                sha = git.run("rev-parse", entry["ref"] + "^{commit}").strip()
                version, vsrc = version_of(git, sha)
                rec = {
                    "rev": sha,
                    "tag_or_describe": describe(git, sha),
                    "version": version,
                    "version_source": vsrc,
                    "date": git.run("show", "-s", "--format=%cI", sha).strip(),
                    "why_selected": entry["why"],
                    "shipped_in": entry["shipped_in"],
                    "shipped_in_source": entry["shipped_in_source"],
                }
                print("recording %s %s" % (rec["tag_or_describe"], version), file=sys.stderr)
                rec.update(run_revision(runner, sha, pool))
                prints.setdefault(fingerprint(rec), []).append(rec["tag_or_describe"])
                revisions.append(rec)
            scan = []
            if not args.no_scan:
                for sha in scan_revisions(git):
                    version, _ = version_of(git, sha)
                    print("scanning %s %s" % (sha[:7], version), file=sys.stderr)
                    rec = run_revision(runner, sha, pool)
                    scan.append({
                        "rev": sha,
                        "tag_or_describe": describe(git, sha),
                        "version": version,
                        "date": git.run("show", "-s", "--format=%cI", sha).strip(),
                        "functions_present": rec["functions_present"],
                        "same_outputs_as": prints.get(fingerprint(rec), []),
                    })
    finally:
        shutil.rmtree(work, ignore_errors=True)

    doc = {
        "upstream": UPSTREAM,
        "command": command,
        "recorded": args.recorded,
        "notes": [
            "output: what kdump_get_arch_recommend_crashkernel printed, called with one argument "
            "(\"kdump\" or \"fadump\", the fadump flag) as kdumpctl get-default-crashkernel / reset-crashkernel "
            "do; the kernel release comes from the uname -r shim. null with exit_status 127: the function does "
            "not exist at that revision.",
            "default_dump_mode: the DEFAULT_DUMP_MODE global kdumpctl derives from /sys/kernel/fadump/enabled; "
            "find_nr_cpus (v1.0.60+) chooses FADUMP_COMMANDLINE_APPEND or KDUMP_COMMANDLINE_APPEND by it, not "
            "by the dump-mode argument. cases: it agrees with fadump; dump_mode_mismatch_cases: it does not.",
            "sysconfig: 'synthetic' means only the two *_COMMANDLINE_APPEND variables shown; 'revision-default' "
            "means the revision's own default /etc/sysconfig/kdump for that arch (default_sysconfig_source).",
            "size_cases: kdump_get_arch_recommend_size (kdumpctl estimate baseline) with /proc/iomem holding one "
            "System RAM range of system_ram_gib GiB; it takes the dump mode from FADUMP_ENABLED_SYS_NODE.",
            "same_outputs_as in equivalence_scan compares output and exit_status of cases, "
            "dump_mode_mismatch_cases and size_cases.",
        ],
        "revisions": revisions,
        "equivalence_scan": scan,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote %s" % args.output, file=sys.stderr)


if __name__ == "__main__":
    main()
