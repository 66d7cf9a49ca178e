# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Record what Fedora's grubby-bls (the ``grubby`` of Fedora / RHEL 8+) does, as test fixtures.

Usage (as root; needs unshare(1), mount(8), chroot(8) and git)::

    python3 hacking/record/grubby_bls.py GIT_DIR REV [REV ...] [--out PATH]

GIT_DIR is a git directory of the dist-git repository fedora-riscv/grubby (for example the
one the ``fetch`` tool returns); each REV is a commit of it.  The script ``grubby-bls`` is
read from each commit with ``git show REV:grubby-bls`` at run time and run unchanged; no
upstream code is stored in this project, only what it printed and wrote.

Every case runs in a fresh sandbox: a private mount namespace (``unshare --mount``) in which
a tmpfs is mounted over an empty temporary directory and made a minimal root tree:
read-only bind mounts of the host's /usr/bin, /usr/lib and /usr/lib64 (bash, sed, grep,
sort, tac, getopt, mountpoint, ...), our own /etc and /boot (a separate tmpfs when the case
says /boot is its own file system, as on a default RHEL install), /dev/null, /proc, and the
shims below.  grubby runs as ``chroot ROOT /usr/sbin/grubby ARGS`` with
PATH=/shims:/usr/sbin:/usr/bin and LC_ALL=C.  The host's /boot and /etc are never touched;
everything disappears with the namespace.

Shims (written here, in /shims or where grubby expects them):
  uname            fixed answers: -m x86_64, -r 5.14.0-427.13.1.el9_4.x86_64.
  grub2-editenv    FILE list|set K=V...|unset K...|create over a 1024-byte GRUB environment
                   block ("# GRUB Environment Block" line, key=value lines, '#' padding),
                   replacing a variable in place or appending it, creating a missing block.
  grub2-mkconfig   does nothing (only logged).
  /usr/libexec/grubby/rpm-sort   (older revisions sort entries with it) ``sort -V``.
Every shim call is logged and recorded per step ("shim_calls").

Output: tests/unit/fixtures/upstream/grubby_bls.json (see grubby_bls.md next to it).
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile

UPSTREAM = "fedora-riscv/grubby"
SCRIPT = "grubby-bls"
SPEC = "grubby.spec"

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(REPO, "tests", "unit", "fixtures", "upstream", "grubby_bls.json")

# Why a revision was picked (only a note in the JSON; any commit can be recorded).
REV_NOTES = {
    "d6967109223a4e10698fd8fc5a717637bce85d94":
        "newest commit of the mirror (main and rawhide)",
    "1faea2de0a46e339913c4e6a1598062d1fffe2e7":
        "first revision that handles /etc/kernel/cmdline ('Handle updating /etc/kernel/cmdline')",
    "810b5eee5ab449318cc97f3706e0023a273d8a1b":
        "closest to RHEL 9 that the %changelog allows: last revision before any /etc/kernel/cmdline "
        "handling; its grubby-bls is Fedora's 8.40-53 (June 2021) .. 8.40-63 script apart from -h, "
        "the line RHEL 9 was branched from; the changelog holds no el9 entries, so later RHEL 9 "
        "backports of 8.40-64/-66 cannot be told from it",
}

MID = "0123456789abcdef0123456789abcdef"
K1 = "5.14.0-427.13.1.el9_4.x86_64"
K2 = "5.14.0-362.24.1.el9_3.x86_64"
CK_RANGE = "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M"
ROOT = "root=/dev/mapper/rhel-root"
REST = "resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet"
OPTS9 = "%s ro %s %s" % (ROOT, CK_RANGE, REST)
ENTRIES = "/boot/loader/entries"
GRUBENV = "/boot/grub2/grubenv"

SHIM_LOG = "/shim-calls.log"
# Directories that exist on a RHEL host even when no file of a case is in them
# (systemd-udev owns /etc/kernel/install.d).
DIRS = ["/etc/kernel/install.d", "/boot/loader/entries", "/boot/grub2"]
PATH = "/shims:/usr/sbin:/usr/bin"

# --- shims (our own code, written into the sandbox) ------------------------------------------

SHIM_HEAD = """#!/bin/bash
# recorder shim (hacking/record/grubby_bls.py)
{ printf '%%q' "${0##*/}"; printf ' %%q' "$@"; printf '\\n'; } >> %s
""" % SHIM_LOG

SHIM_UNAME = SHIM_HEAD + """m=x86_64
r=%s
[[ $# -eq 0 ]] && set -- -s
out=()
for a in "$@"; do
    case $a in
        -m|--machine|-p|--processor|-i|--hardware-platform) out+=("$m") ;;
        -r|--kernel-release) out+=("$r") ;;
        -s|--kernel-name) out+=(Linux) ;;
        -n|--nodename) out+=(rhel9) ;;
        -o|--operating-system) out+=(GNU/Linux) ;;
        -a|--all) out+=(Linux rhel9 "$r" "#1 SMP PREEMPT_DYNAMIC" "$m" "$m" "$m" GNU/Linux) ;;
        *) echo "uname: invalid option -- '$a'" >&2; exit 1 ;;
    esac
done
echo "${out[*]}"
""" % K1

SHIM_EDITENV = SHIM_HEAD + r"""sig='# GRUB Environment Block'
file=$1
cmd=$2
if [[ -z $file || -z $cmd ]]; then
    echo "grub2-editenv: error: FILENAME and COMMAND are required (recorder shim)." >&2
    exit 1
fi
shift 2
keys=()
vals=()
store() {
    local out="$sig"$'\n' i
    for i in "${!keys[@]}"; do
        out+="${keys[$i]}=${vals[$i]}"$'\n'
    done
    local LC_ALL=C
    if (( ${#out} > 1024 )); then
        echo "grub2-editenv: error: environment block too small." >&2
        exit 1
    fi
    { printf '%s' "$out"; printf '%*s' $((1024 - ${#out})) '' | tr ' ' '#'; } > "$file" || exit 1
}
load() {
    [[ -e $file ]] || store
    local line n=0
    while IFS= read -r line || [[ -n $line ]]; do
        n=$((n + 1))
        if (( n == 1 )); then
            if [[ $line != "$sig" ]]; then
                echo "grub2-editenv: error: invalid environment block." >&2
                exit 1
            fi
            continue
        fi
        [[ $line == \#* || $line != *=* ]] && continue
        keys+=("${line%%=*}")
        vals+=("${line#*=}")
    done < "$file"
}
find_key() {
    local i
    for i in "${!keys[@]}"; do
        [[ ${keys[$i]} == "$1" ]] && { echo "$i"; return; }
    done
    echo -1
}
case $cmd in
    create)
        store ;;
    list)
        load
        for i in "${!keys[@]}"; do
            printf '%s=%s\n' "${keys[$i]}" "${vals[$i]}"
        done ;;
    set)
        load
        for a in "$@"; do
            if [[ $a != *=* ]]; then
                echo "grub2-editenv: error: invalid parameter $a." >&2
                exit 1
            fi
            k=${a%%=*}
            i=$(find_key "$k")
            if (( i < 0 )); then
                keys+=("$k")
                vals+=("${a#*=}")
            else
                vals[$i]=${a#*=}
            fi
        done
        store ;;
    unset)
        load
        for a in "$@"; do
            i=$(find_key "$a")
            (( i >= 0 )) && { unset "keys[$i]"; unset "vals[$i]"; keys=("${keys[@]}"); vals=("${vals[@]}"); }
        done
        store ;;
    *)
        echo "grub2-editenv: error: unknown command \`$cmd'." >&2
        exit 1 ;;
esac
exit 0
"""

SHIM_MKCONFIG = SHIM_HEAD + "exit 0\n"

SHIM_RPMSORT = SHIM_HEAD + "exec sort -V\n"

SHIMS = {
    "/shims/uname": SHIM_UNAME,
    "/shims/grub2-editenv": SHIM_EDITENV,
    "/shims/grub2-mkconfig": SHIM_MKCONFIG,
    "/usr/libexec/grubby/rpm-sort": SHIM_RPMSORT,
}

# --- inputs ------------------------------------------------------------------------------------


def grubenv(*pairs):
    """A GRUB environment block as grub2-editenv writes it."""
    text = "# GRUB Environment Block\n" + "".join("%s=%s\n" % kv for kv in pairs)
    return text + "#" * (1024 - len(text.encode()))


def entry(version, options=None, osver="9.4 (Plow)", linux_prefix="", extra_options=(),
          title=None, initrd_extra=" $tuned_initrd"):
    """A BLS entry in the layout kernel-install writes on RHEL 9."""
    rescue = version.startswith("0-rescue")
    lines = ["title %s" % (title or "Red Hat Enterprise Linux (%s) %s" % (version, osver)),
             "version %s" % version,
             "linux %s/vmlinuz-%s" % (linux_prefix, version),
             "initrd %s/initramfs-%s.img%s" % (linux_prefix, version,
                                               "" if rescue else initrd_extra)]
    if options is not None:
        lines.append(("options %s" % options) if options else "options")
    lines.extend("options %s" % o for o in extra_options)
    lines += ["grub_users $grub_users", "grub_arg --unrestricted", "grub_class rhel"]
    return "\n".join(lines) + "\n"


def path_of(version, mid=MID, suffix=""):
    return "%s/%s-%s%s.conf" % (ENTRIES, mid, version, suffix)


RESCUE = "0-rescue-" + MID
RESCUE_FILE = "%s/%s-0-rescue.conf" % (ENTRIES, MID)

ETC_COMMON = {
    "/etc/machine-id": MID + "\n",
    "/etc/os-release": 'NAME="Red Hat Enterprise Linux"\nVERSION="9.4 (Plow)"\nID="rhel"\n'
                       'ID_LIKE="fedora"\nVERSION_ID="9.4"\nPLATFORM_ID="platform:el9"\n'
                       'PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"\n',
    "/etc/system-release": "Red Hat Enterprise Linux release 9.4 (Plow)\n",
    "/etc/sysconfig/kernel": "# UPDATEDEFAULT specifies if kernel-install should make\n"
                             "# new kernels the default\nUPDATEDEFAULT=yes\n\n"
                             "# DEFAULTKERNEL specifies the default kernel package type\n"
                             "DEFAULTKERNEL=kernel-core\n",
}


def default_grub(cmdline_linux, extra=""):
    return ('GRUB_TIMEOUT=5\n'
            'GRUB_DISTRIBUTOR="$(sed \'s, release .*$,,g\' /etc/system-release)"\n'
            'GRUB_DEFAULT=saved\nGRUB_DISABLE_SUBMENU=true\nGRUB_TERMINAL_OUTPUT="console"\n'
            'GRUB_CMDLINE_LINUX="%s"\n%sGRUB_DISABLE_RECOVERY="true"\nGRUB_ENABLE_BLSCFG=true\n'
            % (cmdline_linux, extra))


GRUB_LINUX9 = "%s %s" % (CK_RANGE, REST)


def rhel9(entries=None, env=None, kernel_cmdline=True, etc_default=None):
    """Files of a RHEL 9.4 host: two kernels and the rescue entry, explicit options lines."""
    files = dict(ETC_COMMON)
    files["/etc/default/grub"] = etc_default if etc_default is not None else default_grub(GRUB_LINUX9)
    if kernel_cmdline:
        files["/etc/kernel/cmdline"] = OPTS9 + "\n"
    if entries is None:
        entries = {
            path_of(K1): entry(K1, OPTS9 + " $tuned_params"),
            path_of(K2): entry(K2, OPTS9 + " $tuned_params", osver="9.3 (Plow)"),
            RESCUE_FILE: entry(RESCUE, OPTS9),
        }
    files.update(entries)
    files[GRUBENV] = env if env is not None else grubenv(
        ("saved_entry", "%s-%s" % (MID, K1)), ("menu_auto_hide", "1"), ("boot_success", "1"))
    return files


def steps(*argvs):
    return [["grubby"] + list(a) for a in argvs]


ALL = "--update-kernel=ALL"
VM1 = "/boot/vmlinuz-" + K1
VM2 = "/boot/vmlinuz-" + K2

KOPTS8 = "%s ro crashkernel=auto %s" % (ROOT, REST)

CASES = [
    {
        "name": "case1_options_line_replace_then_remove",
        "about": "RHEL 9.4 layout: each entry has its own options line with a crashkernel range. "
                 "--args replaces the value (run twice to see whether it is stable), --info, "
                 "then --remove-args.",
        "files": rhel9(),
        "steps": steps([ALL, "--args=crashkernel=320M"], [ALL, "--args=crashkernel=320M"],
                       ["--info=ALL"], ["--info=" + VM1], [ALL, "--remove-args=crashkernel"],
                       ["--info=ALL"]),
    },
    {
        "name": "case2_no_options_line",
        "about": "Entries without any options line; grubenv without kernelopts. Does grubby "
                 "add an options line (ALL and one kernel path)? /etc/kernel/cmdline and "
                 "/etc/default/grub are the RHEL 9.4 ones.",
        "files": rhel9(entries={path_of(K1): entry(K1), path_of(K2): entry(K2, osver="9.3 (Plow)"),
                                RESCUE_FILE: entry(RESCUE)}),
        "steps": steps([ALL, "--args=crashkernel=256M"], ["--info=ALL"],
                       ["--update-kernel=" + VM1, "--args=crashkernel=256M"], ["--info=" + VM1],
                       [ALL, "--remove-args=crashkernel"], ["--info=ALL"]),
    },
    {
        "name": "case2b_no_options_line_grubenv_kernelopts",
        "about": "Entries without any options line, but grubenv holds kernelopts (as RHEL 8 "
                 "writes it): which of entries / grubenv / --info change?",
        "files": rhel9(entries={path_of(K1): entry(K1), path_of(K2): entry(K2, osver="9.3 (Plow)")},
                       env=grubenv(("saved_entry", "%s-%s" % (MID, K1)), ("kernelopts", KOPTS8),
                                   ("boot_success", "1")),
                       kernel_cmdline=False),
        "steps": steps(["--info=ALL"], [ALL, "--args=crashkernel=256M"], ["--info=ALL"],
                       [ALL, "--remove-args=crashkernel"], ["--info=ALL"]),
    },
    {
        "name": "case2c_bare_options_keyword",
        "about": "One entry has an 'options' line with no value, the other none at all.",
        "files": rhel9(entries={path_of(K1): entry(K1, ""), path_of(K2): entry(K2, osver="9.3 (Plow)")}),
        "steps": steps(["--info=ALL"], [ALL, "--args=crashkernel=256M"], ["--info=ALL"]),
    },
    {
        "name": "case3_kernelopts_in_grubenv",
        "about": "RHEL 8 layout: 'options $kernelopts $tuned_params' (rescue: 'options "
                 "$kernelopts'), kernelopts in grubenv, no /etc/kernel/cmdline; same kernels "
                 "as the other cases. ALL, then one kernel path, then --remove-args.",
        "files": rhel9(entries={path_of(K1): entry(K1, "$kernelopts $tuned_params"),
                                path_of(K2): entry(K2, "$kernelopts $tuned_params", osver="9.3 (Plow)"),
                                RESCUE_FILE: entry(RESCUE, "$kernelopts")},
                       env=grubenv(("saved_entry", "%s-%s" % (MID, K1)), ("kernelopts", KOPTS8),
                                   ("boot_success", "1")),
                       kernel_cmdline=False,
                       etc_default=default_grub("crashkernel=auto " + REST)),
        "steps": steps(["--info=ALL"], [ALL, "--args=crashkernel=320M"], ["--info=ALL"],
                       ["--update-kernel=" + VM2, "--args=crashkernel=512M"], ["--info=ALL"],
                       [ALL, "--remove-args=crashkernel"], ["--info=ALL"]),
    },
    {
        "name": "case4_default_and_path_and_etc_files",
        "about": "--update-kernel=DEFAULT, =/boot/vmlinuz-<release>, then ALL: what happens "
                 "to /etc/kernel/cmdline and GRUB_CMDLINE_LINUX; then the two-command "
                 "sequence the kernel_cmdline module runs (--remove-args NAME, --args NAME=V).",
        "files": rhel9(),
        "steps": steps(["--update-kernel=DEFAULT", "--args=crashkernel=320M"],
                       ["--update-kernel=" + VM2, "--args=crashkernel=384M"], ["--info=ALL"],
                       ["--info=DEFAULT"], [ALL, "--args=crashkernel=448M"],
                       [ALL, "--remove-args=crashkernel"], [ALL, "--args=crashkernel=512M"],
                       ["--update-kernel=DEFAULT", "--remove-args=crashkernel"],
                       ["--update-kernel=DEFAULT", "--args=crashkernel=256M"], ["--info=ALL"]),
    },
    {
        "name": "case4b_no_etc_grub_update",
        "about": "--no-etc-grub-update as the last option, then in the middle of the options.",
        "files": rhel9(),
        "steps": steps([ALL, "--args=crashkernel=448M", "--no-etc-grub-update"],
                       [ALL, "--no-etc-grub-update", "--args=crashkernel=512M"],
                       ["--no-etc-grub-update", ALL, "--args=crashkernel=512M"]),
    },
    {
        "name": "case4c_no_etc_kernel_cmdline",
        "about": "RHEL 9 entries but no /etc/kernel/cmdline: which entry seeds it, if any?",
        "files": rhel9(kernel_cmdline=False),
        "steps": steps([ALL, "--args=crashkernel=320M"], [ALL, "--remove-args=crashkernel"]),
    },
    {
        "name": "case4c2_no_etc_kernel_directory",
        "about": "As case4c, and /etc/kernel does not exist at all (not so on a RHEL host).",
        "files": rhel9(kernel_cmdline=False),
        "dirs": ["/boot/loader/entries", "/boot/grub2"],
        "steps": steps([ALL, "--args=crashkernel=320M"]),
    },
    {
        "name": "case4d_grub_cmdline_linux_default",
        "about": "/etc/default/grub has GRUB_CMDLINE_LINUX_DEFAULT after GRUB_CMDLINE_LINUX.",
        "files": rhel9(etc_default=default_grub(
            GRUB_LINUX9, 'GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0,115200n8 no_timer_check"\n')),
        "steps": steps([ALL, "--args=crashkernel=320M"]),
    },
    {
        "name": "case4e_empty_grub_cmdline_linux",
        "about": 'GRUB_CMDLINE_LINUX="" in /etc/default/grub.',
        "files": rhel9(etc_default=default_grub("")),
        "steps": steps([ALL, "--args=crashkernel=320M"]),
    },
    {
        "name": "case4f_default_stale_or_missing_saved_entry",
        "about": "saved_entry names an entry that no longer exists; then --set-default.",
        "files": rhel9(env=grubenv(("saved_entry", "%s-5.14.0-70.13.1.el9_0.x86_64" % MID),
                                   ("boot_success", "1"))),
        "steps": steps(["--info=DEFAULT"], ["--default-index"], ["--default-kernel"],
                       ["--update-kernel=DEFAULT", "--args=crashkernel=320M"],
                       ["--set-default=" + VM2],
                       ["--info=DEFAULT"],
                       ["--update-kernel=DEFAULT", "--args=crashkernel=320M"]),
    },
    {
        "name": "case4g_no_saved_entry",
        "about": "grubenv without saved_entry: what DEFAULT means.",
        "files": rhel9(env=grubenv(("boot_success", "1"))),
        "steps": steps(["--info=DEFAULT"], ["--default-index"],
                       ["--update-kernel=DEFAULT", "--args=crashkernel=320M"]),
    },
    {
        "name": "case5_info_kernel_path_matching_two_entries",
        "about": "A second entry for the same kernel image (the '.0~custom' name grubby "
                 "--add-kernel gives a duplicate, with its own crashkernel), plus the rescue "
                 "entry: --info by path (with and without /boot, bare name), by index, "
                 "by TITLE=, an unknown path, then --update-kernel by that path.",
        "files": rhel9(entries={
            path_of(K1): entry(K1, OPTS9 + " $tuned_params"),
            path_of(K1, suffix=".0~custom"): entry(
                K1, "%s ro crashkernel=512M %s" % (ROOT, REST),
                title="Red Hat Enterprise Linux (%s) 9.4 (Plow) custom" % K1, initrd_extra=""),
            path_of(K2): entry(K2, OPTS9 + " $tuned_params", osver="9.3 (Plow)"),
            RESCUE_FILE: entry(RESCUE, OPTS9)}),
        "steps": steps(["--info=" + VM1], ["--info=/vmlinuz-" + K1], ["--info=vmlinuz-" + K1],
                       ["--info=/boot/vmlinuz-" + RESCUE], ["--info=2"],
                       ["--info=TITLE=Red Hat Enterprise Linux (%s) 9.3 (Plow)" % K2],
                       ["--info=/boot/vmlinuz-5.14.0-1.el9.x86_64"],
                       ["--update-kernel=" + VM1, "--args=crashkernel=320M"], ["--info=" + VM1],
                       ["--info=ALL"]),
    },
    {
        "name": "case5b_boot_not_a_separate_mount",
        "about": "/boot is a directory of the root file system (not a mount point); entries "
                 "say 'linux /boot/vmlinuz-...'.",
        "boot_mount": False,
        "files": rhel9(entries={
            path_of(K1): entry(K1, OPTS9, linux_prefix="/boot"),
            path_of(K2): entry(K2, OPTS9, linux_prefix="/boot", osver="9.3 (Plow)")}),
        "steps": steps(["--info=ALL"], ["--info=" + VM1], ["--info=/vmlinuz-" + K1],
                       ["--update-kernel=" + VM1, "--args=crashkernel=320M"],
                       ["--default-kernel"], ["--info=" + VM1]),
    },
    {
        "name": "case6a_two_options_lines",
        "about": "An entry with two options lines (the BLS specification concatenates them).",
        "files": rhel9(entries={
            path_of(K1): entry(K1, "%s ro %s" % (ROOT, REST), extra_options=[CK_RANGE]),
            path_of(K2): entry(K2, OPTS9, osver="9.3 (Plow)")}),
        "steps": steps(["--info=ALL"], [ALL, "--args=crashkernel=320M"], ["--info=ALL"],
                       [ALL, "--remove-args=crashkernel"], ["--info=ALL"]),
    },
    {
        "name": "case6b_kernelopts_entry_without_grubenv_value",
        "about": "'options $kernelopts' but grubenv has no kernelopts.",
        "files": rhel9(entries={path_of(K1): entry(K1, "$kernelopts $tuned_params"),
                                path_of(K2): entry(K2, "$kernelopts", osver="9.3 (Plow)")},
                       kernel_cmdline=False),
        "steps": steps(["--info=ALL"], [ALL, "--args=crashkernel=320M"], ["--info=ALL"],
                       ["--update-kernel=" + VM1, "--args=crashkernel=320M"], ["--info=ALL"]),
    },
    {
        "name": "case6c_kernelopts_plus_own_crashkernel",
        "about": "'options $kernelopts crashkernel=256M': grubenv kernelopts holds "
                 "crashkernel=auto, the entry adds its own value.",
        "files": rhel9(entries={path_of(K1): entry(K1, "$kernelopts crashkernel=256M"),
                                path_of(K2): entry(K2, "$kernelopts", osver="9.3 (Plow)")},
                       env=grubenv(("saved_entry", "%s-%s" % (MID, K1)), ("kernelopts", KOPTS8)),
                       kernel_cmdline=False),
        "steps": steps(["--info=ALL"], [ALL, "--args=crashkernel=320M"], ["--info=ALL"],
                       [ALL, "--remove-args=crashkernel"], ["--info=ALL"]),
    },
    {
        "name": "case6e_own_options_and_leftover_grubenv_kernelopts",
        "about": "RHEL 9 entries with their own options, and a kernelopts left in grubenv "
                 "(as after an upgrade from RHEL 8): which one does --info show, which do "
                 "ALL / DEFAULT edit?",
        "files": rhel9(env=grubenv(("saved_entry", "%s-%s" % (MID, K1)), ("kernelopts", KOPTS8),
                                   ("boot_success", "1"))),
        "steps": steps(["--info=DEFAULT"], [ALL, "--args=crashkernel=320M"],
                       ["--update-kernel=DEFAULT", "--args=crashkernel=512M"], ["--info=ALL"]),
    },
    {
        "name": "case6d_duplicate_crashkernel_and_exact_remove",
        "about": "crashkernel twice in one options line; --remove-args with an exact value, "
                 "with a value that is not there, and with the name only.",
        "files": rhel9(entries={
            path_of(K1): entry(K1, "%s ro crashkernel=256M %s crashkernel=256M" % (ROOT, REST)),
            path_of(K2): entry(K2, "%s ro crashkernel=512M %s" % (ROOT, REST), osver="9.3 (Plow)")}),
        "steps": steps(["--update-kernel=" + VM1, "--remove-args=crashkernel=256M"], ["--info=ALL"],
                       ["--update-kernel=" + VM2, "--remove-args=crashkernel=999M"], ["--info=" + VM2],
                       ["--update-kernel=" + VM1, "--remove-args=crashkernel"], ["--info=" + VM1]),
    },
]

# --- sandbox (inner process, in the private mount namespace) -----------------------------------


def sh(*argv):
    subprocess.run(argv, check=True)


def write(root, path, text, mode=0o644):
    full = root + path
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.chmod(full, mode)


def build(root, script, case):
    sh("mount", "-t", "tmpfs", "-o", "mode=755", "sandbox", root)
    for d in ("usr/bin", "usr/lib", "usr/lib64"):
        os.makedirs(os.path.join(root, d))
        sh("mount", "--bind", "/" + d, os.path.join(root, d))
        sh("mount", "-o", "remount,bind,ro", os.path.join(root, d))
    for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"),
                         ("sbin", "usr/sbin")):
        os.symlink(target, os.path.join(root, link))
    for d in ("usr/sbin", "dev", "proc", "tmp", "var/tmp", "root", "boot", "etc"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    os.mknod(os.path.join(root, "dev/null"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.chmod(os.path.join(root, "dev/null"), 0o666)
    sh("mount", "-t", "proc", "proc", os.path.join(root, "proc"))
    if case.get("boot_mount", True):
        sh("mount", "-t", "tmpfs", "-o", "mode=755", "boot", os.path.join(root, "boot"))
    write(root, "/usr/sbin/grubby", script, 0o755)
    for path, text in SHIMS.items():
        write(root, path, text, 0o755)
    for d in case.get("dirs", DIRS):
        os.makedirs(root + d, exist_ok=True)
    for path, text in case["files"].items():
        write(root, path, text, 0o600 if path.startswith(ENTRIES) else 0o644)
    write(root, SHIM_LOG, "")


def snapshot(root):
    files = {}
    for top in ("boot", "etc"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                rel = "/" + os.path.relpath(full, root)
                if os.path.islink(full):
                    files[rel] = "symlink -> " + os.readlink(full)
                    continue
                with open(full, "rb") as fh:
                    files[rel] = fh.read().decode("utf-8", "backslashreplace")
    return files


def run_case(root, script, case):
    build(root, script, case)
    try:
        before = snapshot(root)
        state = dict(before)
        out_steps = []
        for argv in case["steps"]:
            proc = subprocess.run(["chroot", root, "/usr/sbin/grubby"] + argv[1:],
                                  env={"PATH": PATH, "LC_ALL": "C", "HOME": "/root"},
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
            now = snapshot(root)
            changed = {p: now.get(p) for p in sorted(set(state) | set(now))
                       if state.get(p) != now.get(p)}
            with open(root + SHIM_LOG, encoding="utf-8") as fh:
                calls = fh.read().splitlines()
            write(root, SHIM_LOG, "")
            out_steps.append({
                "argv": argv,
                "stdout": proc.stdout.decode("utf-8", "backslashreplace"),
                "stderr": proc.stderr.decode("utf-8", "backslashreplace"),
                "rc": proc.returncode,
                "files_after": changed,
                "shim_calls": calls,
            })
            state = now
        final = {p: state.get(p) for p in sorted(set(before) | set(state))
                 if before.get(p) != state.get(p)}
        return before, out_steps, final
    finally:
        sh("umount", "-R", root)


def inner():
    job = json.load(sys.stdin)
    base = job["base"]
    sh("mount", "--make-rprivate", "/")
    results = []
    for n, rev in enumerate(job["revisions"]):
        for m, case in enumerate(CASES):
            root = os.path.join(base, "r%dc%d" % (n, m))
            os.makedirs(root)
            before, out_steps, final = run_case(root, rev["script"], case)
            os.rmdir(root)
            results.append({
                "name": case["name"],
                "rev": rev["rev"],
                "version": rev["version"],
                "about": case["about"],
                "boot_is_mountpoint": case.get("boot_mount", True),
                "files_before": before,
                "steps": out_steps,
                "files_after": final,
            })
    json.dump(results, sys.stdout)


# --- outer process -------------------------------------------------------------------------


def git(gitdir, *args):
    return subprocess.run(["git", "--git-dir", gitdir] + list(args), check=True,
                          capture_output=True).stdout.decode("utf-8")


def spec_version(spec):
    version = re.search(r"^Version:\s*(\S+)", spec, re.M).group(1)
    release = re.search(r"^Release:\s*(\S+)", spec, re.M).group(1).replace("%{?dist}", "")
    return "%s-%s" % (version, release)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        inner()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gitdir", help="git directory of fedora-riscv/grubby")
    parser.add_argument("revs", nargs="+", help="commits whose grubby-bls is run")
    parser.add_argument("--out", default=DEFAULT_OUT, help="JSON to write (default: %(default)s)")
    opts = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("needs root (unshare --mount, mount, chroot)")
    revisions = []
    for rev in opts.revs:
        sha = git(opts.gitdir, "rev-parse", "--verify", rev + "^{commit}").strip()
        script = git(opts.gitdir, "show", "%s:%s" % (sha, SCRIPT))
        revisions.append({
            "rev": sha,
            "version": spec_version(git(opts.gitdir, "show", "%s:%s" % (sha, SPEC))),
            "date": git(opts.gitdir, "show", "-s", "--format=%cI", sha).strip(),
            "subject": git(opts.gitdir, "show", "-s", "--format=%s", sha).strip(),
            "script_sha256": hashlib.sha256(script.encode("utf-8")).hexdigest(),
            "script": script,
        })
    base = tempfile.mkdtemp(prefix="grubby-bls-record.")
    try:
        job = json.dumps({"base": base, "revisions": revisions})
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "--",
                               sys.executable, os.path.abspath(__file__), "--inner"],
                              input=job.encode("utf-8"), capture_output=True, check=False)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
            return proc.returncode
        cases = json.loads(proc.stdout.decode("utf-8"))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for rev in revisions:
        del rev["script"]
        if rev["rev"] in REV_NOTES:
            rev["note"] = REV_NOTES[rev["rev"]]
    doc = {
        "upstream": UPSTREAM,
        "file": SCRIPT,
        "revisions": revisions,
        "command": " ".join(shlex.quote(a) for a in ["python3", os.path.relpath(
            os.path.abspath(__file__), REPO)] + sys.argv[1:]),
        "recorded": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "layout": "Each case is one fresh sandbox and runs its 'steps' in order. A case's "
                  "files_before is every file under /boot and /etc before the first step; a "
                  "step's files_after holds only the paths that step changed (null: removed); "
                  "the case's files_after holds every path whose content after the last step "
                  "differs from files_before (null: removed); paths not in it are unchanged. "
                  "argv[0] 'grubby' is /usr/sbin/grubby = grubby-bls of 'rev'. shim_calls: "
                  "the shims' argv (shell-quoted) in call order.",
        "cases": cases,
    }
    os.makedirs(os.path.dirname(opts.out), exist_ok=True)
    with open(opts.out, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    print("wrote %s (%d cases)" % (opts.out, len(cases)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
