# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The capture kernel: what to load, how, and whether what is loaded is still right.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.

Files are read below ``root`` (tests use fixture trees); commands go through
``run(argv) -> (rc, out, err)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re

from ansible_collections.crashdump.kdump.plugins.module_utils.capture import kallsyms
from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.hostinfo import (
    HostInfoError,
    HostReader,
    kernel_memory_size,
    read_sysfs_int,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.family import records
from ansible_collections.crashdump.kdump.plugins.module_utils.target.shellvars import ShellVars

SYS_LOADED = "/sys/kernel/kexec_crash_loaded"
SYS_SIZE = "/sys/kernel/kexec_crash_size"
STATE_FILE = "/var/lib/crashdump-kdump/kexec_crash.json"
EFIVARS = "/sys/firmware/efi/efivars"
SECURE_BOOT_GUID = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
# Files whose change needs the kdump initrd rebuilt, per family (the target configuration).
INITRD_INPUTS = dict((f.name, f.initrd_inputs) for f in records.FAMILIES)
# (load, unload, reload) through the distribution's tool.
SERVICE = dict((f.name, (f.argv("load"), f.argv("unload"), f.argv("reload")))
               for f in records.FAMILIES)
# The unit that loads the capture kernel at boot, per family.
BOOT_UNIT = dict((f.name, f.service) for f in records.FAMILIES)
# What `systemctl is-enabled` prints for a unit that starts at boot (or is pulled in).
STARTS_AT_BOOT = ("enabled", "enabled-runtime", "alias", "static", "indirect", "generated", "transient")
# ... and for one that `systemctl disable` turns off.
DISABLEABLE = ("enabled", "enabled-runtime")


# kexec_file_load: these architectures have it in every kernel the collection supports.
FILE_LOAD_ARCHES = ("x86_64", "aarch64", "ppc64le", "s390x", "riscv64", "loongarch64")


# arm64 kernels whose /proc/kallsyms lacks _text: capture/kallsyms.py (the fix and why).
ARM64_DROPIN = "/etc/systemd/system/{unit}.d/crashdump-kdump-kallsyms.conf"
ARM64_PROGRAM = "/usr/local/lib/crashdump-kdump/kallsyms.py"


def arm64_dropin(python):
    """The unit drop-in that gives the boot-time load a kallsyms with _text."""
    return (
        "# crashdump.kdump (kexec_crash): this kernel's /proc/kallsyms has no _text, which\n"
        "# kexec-tools needs on arm64 to write the crash header; the load sees a copy that has\n"
        "# it (%s writes it before each start).\n"
        "[Service]\n"
        "ExecStartPre=-+%s %s\n"
        "BindReadOnlyPaths=-%s:%s\n"
        % (ARM64_PROGRAM, python, ARM64_PROGRAM, kallsyms.PROVIDED, kallsyms.KALLSYMS))


def with_kallsyms(argv):
    """``argv`` run in a transient unit that sees the kallsyms copy over /proc/kallsyms."""
    return ["systemd-run", "--quiet", "--wait", "--pipe", "--collect",
            "--property=BindReadOnlyPaths=%s:%s" % (kallsyms.PROVIDED, kallsyms.KALLSYMS),
            "--"] + list(argv)


def kexec_file_in_config(config_text):
    """From a kernel's /boot/config-RELEASE: True (CONFIG_KEXEC_FILE=y), False (not set), or
    None (no config to tell)."""
    for line in (config_text or "").splitlines():
        line = line.strip()
        if line == "CONFIG_KEXEC_FILE=y":
            return True
        if line == "# CONFIG_KEXEC_FILE is not set":
            return False
    return None


class KexecError(Exception):
    """Something that stops the capture kernel from loading; the message says what to do."""


def words_without(cmdline, names):
    """The words of ``cmdline`` whose name (before ``=``) is not in ``names``."""
    names = set(names)
    return [word for word in (cmdline or "").split() if word.split("=", 1)[0] not in names]


def capture_cmdline(family, proc_cmdline, config):
    """The capture kernel's command line the way the family's tool builds it.

    ``config``: the family's settings (dict of the sourced shell variables).
    """
    record = records.get(family)
    if family == "debian":
        base = config.get("KDUMP_CMDLINE") or " ".join(
            words_without(proc_cmdline, record.capture_remove))
        append = config.get(record.capture_append)
        append = record.capture_append_default if append is None else append
        return " ".join((base + " " + append).split())
    key = "KDUMP_COMMANDLINE"
    base = config.get(key) or proc_cmdline
    remove = list(record.capture_remove) + (config.get(key + "_REMOVE") or "").split()
    words = words_without(base, remove)
    return " ".join(words + (config.get(record.capture_append) or "").split())


def efi_secure_boot(root="/"):
    """True when the firmware enforces Secure Boot (SecureBoot=1 and SetupMode=0)."""
    directory = os.path.join(root, EFIVARS.lstrip("/"))

    def byte(name):
        try:
            with open(os.path.join(directory, "%s-%s" % (name, SECURE_BOOT_GUID)), "rb") as handle:
                data = handle.read()
        except (IOError, OSError):
            return None
        # 4 bytes of attributes, then the value.
        return data[4] if len(data) > 4 else None

    return byte("SecureBoot") == 1 and byte("SetupMode") == 0


def lockdown_mode(text):
    """The selected mode of /sys/kernel/security/lockdown (``none`` when absent)."""
    match = re.search(r"\[(\w+)\]", text or "")
    return match.group(1) if match else "none"


def choose_syscall(requested, arch, secure_boot, lockdown, kexec_file=None):
    """``(syscall, note)``: ``file`` (kexec_file_load, ``kexec -s``) or ``load`` (``-c``).

    Secure Boot and lockdown allow only signed kernels, which only kexec_file_load
    checks; ``auto`` prefers it wherever the architecture has it and the running kernel was
    built with it (``kexec_file``: CONFIG_KEXEC_FILE from the kernel's config, None when
    unknown; Debian 12's arm64 kernels have none).
    """
    locked = secure_boot or lockdown != "none"
    if requested == "load":
        if locked:
            raise KexecError("syscall=load is refused under %s: only kexec_file_load (kexec -s)"
                             " may load a kernel there" % (
                                 "Secure Boot" if secure_boot else "lockdown=" + lockdown))
        return "load", None
    if kexec_file is False:
        if requested == "file" or locked:
            raise KexecError("the running kernel is built without CONFIG_KEXEC_FILE (its"
                             " /boot/config says so): kexec_file_load (kexec -s) is not there%s"
                             % (" and %s refuses kexec_load" % (
                                 "Secure Boot" if secure_boot else "lockdown=" + lockdown)
                                if locked else "; use syscall=load or auto"))
        return "load", ("the running kernel is built without CONFIG_KEXEC_FILE: kexec_load is"
                        " used")
    if requested == "file" or locked or arch in FILE_LOAD_ARCHES:
        return "file", None
    return "load", "kexec_file_load is not available on %s; kexec_load is used" % arch


def kexec_argv(kexec, syscall, kernel, initrd, cmdline, extra=()):
    argv = [kexec, "-p", "-s" if syscall == "file" else "-c"] + list(extra)
    argv.append("--command-line=%s" % cmdline)
    if initrd:
        argv.append("--initrd=%s" % initrd)
    return argv + [kernel]


def unload_argv(kexec, syscall):
    return [kexec, "-p", "-u"] + (["-s"] if syscall == "file" else [])


def boot_action(wanted, unit, rc, out):
    """``enable``, ``disable`` or None: what must change so that ``unit`` starts at boot when
    ``wanted`` is true and does not when it is false, from ``systemctl is-enabled UNIT``'s
    exit code and output. None for ``wanted`` None. A unit that is not installed or masked
    cannot be enabled (KexecError)."""
    if wanted is None:
        return None
    lines = (out or "").strip().splitlines()
    state = lines[0].strip() if lines else ""
    if wanted:
        if rc == 0 and state in STARTS_AT_BOOT:
            return None
        if state == "masked" or state == "masked-runtime":
            raise KexecError("%s is masked (systemctl is-enabled: %s): unmask it to load the capture"
                             " kernel at boot" % (unit, state))
        if state in ("", "not-found") or (rc != 0 and state not in ("disabled", "linked", "linked-runtime")):
            raise KexecError("%s cannot be enabled (systemctl is-enabled: %s): is the kdump package"
                             " installed?" % (unit, state or "no answer"))
        return "enable"
    return "disable" if state in DISABLEABLE else None


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(kernel, initrd, cmdline, syscall, config_files=()):
    """What identifies a load: the files' real paths and checksums, the command line, the
    syscall, and the checksums of the configuration the kdump initrd is built from."""
    out = {"kernel": os.path.realpath(kernel), "cmdline": cmdline, "syscall": syscall,
           "kernel_sha256": sha256_file(kernel)}
    if initrd:
        out["initrd"] = os.path.realpath(initrd)
        out["initrd_sha256"] = sha256_file(initrd)
    config = {}
    for path in config_files:
        config[path] = sha256_file(path) if os.path.exists(path) else None
    out["config_sha256"] = config
    return out


def needs_rebuild(old, new):
    """The initrd must be rebuilt when the configuration it is built from changed."""
    return bool(old) and old.get("config_sha256") != new.get("config_sha256")


def fits(reserved, kernel_path, initrd_path):
    """None when the kernel and initrd fit the reservation, else the message that says why not.

    The capture kernel needs its in-memory size (init_size of a bzImage, image_size of an
    arm64 Image; the file size otherwise) plus the initrd inside the reserved region."""
    with open(kernel_path, "rb") as handle:
        head = handle.read(1 << 20)
    kernel_file = os.path.getsize(kernel_path)
    kernel_need = max(kernel_memory_size(head) or 0, kernel_file)
    initrd = os.path.getsize(initrd_path) if initrd_path else 0
    if kernel_need + initrd <= reserved:
        return None
    return ("the reservation is too small: the capture kernel %s needs %d MiB in memory and the"
            " initrd %s is %d MiB, %d MiB together, but only %d MiB are reserved; raise"
            " crashkernel= (kernel_cmdline) and reboot, or make the initrd smaller" % (
                kernel_path, kernel_need >> 20, initrd_path or "(none)", initrd >> 20,
                (kernel_need + initrd) >> 20, reserved >> 20))


class Capture(HostReader):
    """The state of the capture kernel on a host below ``root`` (files are read with
    HostReader's ``path`` and ``read_text``)."""

    def __init__(self, root="/", sleep=None):
        super(Capture, self).__init__(root)
        self.sleep = sleep

    def sysfs_int(self, absolute):
        kwargs = {"sleep": self.sleep} if self.sleep else {}
        try:
            return read_sysfs_int(self.path(absolute), **kwargs)
        except HostInfoError as exc:
            raise KexecError(str(exc))

    def reserved(self):
        return self.sysfs_int(SYS_SIZE)

    def loaded(self):
        return bool(self.sysfs_int(SYS_LOADED))

    def config(self, family):
        """The sourced settings that shape the capture command line."""
        record = records.get(family)
        path = record.sysconfig or record.config
        vars_ = ShellVars(self.read_text(path, ""))
        return dict((key, vars_.get(key)) for key in vars_.keys())

    def defaults(self, family, release):
        """``(kernel, initrd)`` the family's tool loads for kernel ``release``."""
        record = records.get(family)
        return record.kernel(release), record.initrd(release)

    def stored(self):
        text = self.read_text(STATE_FILE)
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def secure(self):
        return efi_secure_boot(self.root), lockdown_mode(self.read_text("/sys/kernel/security/lockdown"))


def decide(state, loaded, stored, current, initrd_exists, rebuild="auto"):
    """``(actions, reasons)``: which of ``unload``, ``rebuild``, ``load`` to run, in that
    order, and why. ``current`` is None when the inputs cannot be fingerprinted yet (the
    kdump initrd does not exist); ``stored`` is what the last load recorded."""
    reasons = []
    if state == "unloaded":
        return (["unload"], ["the capture kernel is loaded"]) if loaded else ([], [])
    if state == "built":
        # The initrd only (before the reboot that reserves memory): nothing is loaded.
        if rebuild == "always":
            return ["rebuild"], ["rebuild=always"]
        if rebuild == "auto" and not initrd_exists:
            return ["rebuild"], ["the kdump initrd does not exist"]
        return [], []
    build = False
    if rebuild == "always":
        build, why = True, "rebuild=always"
    elif rebuild == "auto" and not initrd_exists:
        build, why = True, "the kdump initrd does not exist"
    elif rebuild == "auto" and current is not None and needs_rebuild(stored, current):
        build, why = True, "the dump configuration changed since the last load"
    if build:
        reasons.append(why)
    load = False
    if state == "reloaded":
        load = True
        reasons.append("state=reloaded")
    elif not loaded:
        load = True
        reasons.append("no capture kernel is loaded (/sys/kernel/kexec_crash_loaded is 0)")
    elif build:
        load = True
    elif stored is not None and current is not None and stored != current:
        load = True
        changed = sorted(key for key in set(stored) | set(current)
                         if stored.get(key) != current.get(key))
        reasons.append("what is loaded differs from what should be (%s)" % ", ".join(changed))
    actions = []
    if load and loaded:
        actions.append("unload")
    if build:
        actions.append("rebuild")
    if load:
        actions.append("load")
    return actions, reasons
