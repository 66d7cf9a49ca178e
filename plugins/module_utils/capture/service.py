# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kexec_crash module's work: load, reload or unload the capture kernel, through the
family's service or directly with kexec, and start it at boot or not.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

``KexecCrash(host).run(params)`` returns ``(result, error)``: the module's result, and the
message to fail with (None on success). ``host`` (``Host``) gives the root the files are read
below, the command runner, check mode and uname, so that a test runs every family's branch
with a table of command answers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pkgutil
import sys
import tempfile

from ansible_collections.crashdump.kdump.plugins.module_utils.capture import kallsyms
from ansible_collections.crashdump.kdump.plugins.module_utils.capture.kexec import (
    ARM64_DROPIN,
    ARM64_PROGRAM,
    INITRD_INPUTS,
    STATE_FILE,
    Capture,
    KexecError,
    boot_action,
    capture_cmdline,
    choose_syscall,
    decide,
    fingerprint,
    fits,
    kexec_argv,
    kexec_file_in_config,
    unload_argv,
    arm64_dropin,
    with_kallsyms,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.family import records
from ansible_collections.crashdump.kdump.plugins.module_utils.runner.command import CommandError


class Host(object):
    """The host a module acts on: files below ``root``, commands through ``runner``."""

    def __init__(self, runner, root="/", check_mode=False, uname=None, atomic_move=None):
        self.runner = runner
        self.root = root
        self.check_mode = check_mode
        self.uname = uname or (os.uname()[2], os.uname()[4])
        self._atomic_move = atomic_move or os.rename

    def path(self, absolute):
        return os.path.join(self.root, absolute.lstrip("/"))

    def isfile(self, absolute):
        return os.path.isfile(self.path(absolute))

    def exists(self, absolute):
        return os.path.exists(self.path(absolute))

    def unlink(self, absolute):
        os.unlink(self.path(absolute))

    def write_text(self, absolute, text, mode=0o644):
        """Write ``text`` atomically; True when the file changed."""
        target = self.path(absolute)
        try:
            with open(target) as handle:
                if handle.read() == text:
                    return False
        except (IOError, OSError):
            pass
        directory = os.path.dirname(target)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        handle, tmp = tempfile.mkstemp(dir=directory, prefix=".kexec_crash-")
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(tmp, mode)
        self._atomic_move(tmp, target)
        return True

    def write_json(self, absolute, data, mode=0o644):
        """Write ``data`` atomically (temporary file beside it, then a rename)."""
        target = self.path(absolute)
        directory = os.path.dirname(target)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        handle, tmp = tempfile.mkstemp(dir=directory, prefix=".kexec_crash-")
        with os.fdopen(handle, "w") as out:
            json.dump(data, out, indent=1, sort_keys=True)
        os.chmod(tmp, mode)
        self._atomic_move(tmp, target)


class KexecCrash(object):
    def __init__(self, host):
        self.host = host
        self.run = host.runner
        self.capture = Capture(host.root)
        self.kallsyms_mark = None

    def fingerprint(self, kernel, initrd, cmdline, syscall, config_files):
        path = self.host.path
        return fingerprint(path(kernel), path(initrd) if initrd else initrd, cmdline, syscall,
                           [path(p) for p in config_files])

    def run_params(self, p):
        """``(result, error)`` for the module's parameters ``p``."""
        try:
            return self._run(p)
        except (KexecError, CommandError, OSError) as exc:
            return self.result, str(exc)

    def _run(self, p):
        host, capture = self.host, self.capture
        family = p["family"]
        self.result = result = dict(changed=False, family=family, method=p["method"])
        if family == "auto":
            family = records.detect_name(capture.read_text("/etc/os-release"))
            if family is None:
                return result, ("/etc/os-release: cannot tell the kdump implementation of this"
                                " distribution; set family")
        record = records.get(family)
        if p["method"] == "service" and (p["kernel"] or p["initrd"] or p["cmdline"] or p["kexec_args"]):
            return result, ("kernel, initrd, cmdline and kexec_args are for method=direct; the"
                            " service takes them from its own configuration")
        release, arch = host.uname
        default_kernel, default_initrd = capture.defaults(family, release)
        kernel = p["kernel"] or default_kernel
        initrd = p["initrd"] or default_initrd
        cmdline = p["cmdline"] or capture_cmdline(family, capture.read_text("/proc/cmdline", ""),
                                                  capture.config(family))
        notes = []
        result.update(family=family, kernel=kernel, initrd=initrd, cmdline=cmdline, actions=[],
                      reasons=[], rebuilt=False, commands=self.run.commands, notes=notes)
        reserved = capture.reserved() or 0
        loaded = capture.loaded()
        secure_boot, lockdown = capture.secure()
        kexec_file = kexec_file_in_config(capture.read_text("/boot/config-%s" % release, ""))
        syscall, note = choose_syscall(p["syscall"], arch, secure_boot, lockdown, kexec_file)
        if p["method"] == "service":
            # The tool picks the system call itself (kdump-config: -s under Secure Boot).
            syscall, note = "service", None
        if note:
            notes.append(note)
        result.update(reserved=reserved, loaded=loaded, syscall=syscall)

        if p["state"] == "built" and p["method"] == "direct":
            return result, ("state=built builds the initrd with the service's tool; it is for"
                            " method=service")
        if p["state"] not in ("unloaded", "built"):
            if reserved == 0:
                return result, ("no memory is reserved for a capture kernel"
                                " (/sys/kernel/kexec_crash_size is 0): put crashkernel= on the"
                                " kernel command line (kernel_cmdline) and reboot first")
            if not host.isfile(kernel):
                return result, ("the capture kernel %s does not exist; install the kernel or set"
                                " kernel" % kernel)
        initrd_exists = host.isfile(initrd)
        config_files = list(INITRD_INPUTS[family])
        current = None
        if initrd_exists and host.isfile(kernel):
            current = self.fingerprint(kernel, initrd, cmdline, syscall, config_files)
        stored = capture.stored()
        rebuild = p["rebuild"]
        if p["method"] == "direct" and not record.rebuild_by_load and rebuild != "never" and not initrd_exists:
            return result, ("%s does not exist; method=direct builds the initrd only on Debian"
                            " (kdump-tools' hook); build it with the service or set initrd" % initrd)
        # arm64 without _text in /proc/kallsyms (capture/kallsyms.py): loads see a copy with it.
        text_at = None
        if arch == "aarch64" and syscall != "file":
            text_at = kallsyms.missing_text(
                capture.read_text(kallsyms.KALLSYMS, ""),
                capture.read_text(kallsyms.SYSTEM_MAP.format(release=release), ""))
        fix_needed = text_at is not None and p["state"] not in ("unloaded", "built")
        dropin = ARM64_DROPIN.format(unit=record.service)
        if text_at is not None:
            result["kallsyms_text"] = "0x%x" % text_at
            # The fingerprint says the copy is used, not the address: KASLR moves it at every
            # boot, and the load at boot sees the same fix.
            self.kallsyms_mark = "provided"
            if current is not None:
                current["kallsyms_text"] = self.kallsyms_mark
        actions, reasons = decide(p["state"], loaded, stored, current, initrd_exists, rebuild)
        if fix_needed and loaded and "load" not in actions and not host.isfile(dropin) \
                and (stored is None or "kallsyms_text" not in stored):
            # Loaded (at boot) from a /proc/kallsyms without _text: its crash header is wrong.
            actions, reasons = ["unload"] + [a for a in actions if a != "unload"] + ["load"], \
                reasons + ["the capture kernel was loaded while /proc/kallsyms had no _text"]
        if loaded and stored is None and not actions and current is not None:
            notes.append("the capture kernel the service loaded is adopted: its inputs are"
                         " recorded for the next run")
        result.update(actions=actions, reasons=reasons)
        if current is not None and "load" in actions and "rebuild" not in actions:
            problem = fits(reserved, host.path(kernel), host.path(initrd))
            if problem:
                return result, problem

        if p["enabled"] is not None:
            error = self.boot(p["enabled"], record.service)
            if error:
                return result, error
            result["enabled"] = p["enabled"]
        remove = not fix_needed and (text_at is None or p["enabled"] is False)
        error = self.kallsyms_dropin(dropin, fix_needed, remove)
        if error:
            return result, error

        if not actions:
            if loaded and stored is None and current is not None and not host.check_mode:
                host.write_json(STATE_FILE, current)
            if loaded and current is not None:
                result["fingerprint"] = current
            return result, None
        result["changed"] = True
        if host.check_mode:
            return result, None
        try:
            self.act(p, record, actions, release, initrd, initrd_exists, kernel, cmdline, syscall,
                     reserved)
            result["loaded"] = capture.loaded()
            if p["state"] == "built":
                # What is loaded (if anything) keeps its record: it was loaded from the old
                # initrd, so the next state=loaded sees the difference and loads again.
                if not host.isfile(initrd):
                    ran = " ".join(self.run.commands[-1]) if self.run.commands else "the build"
                    raise KexecError("%s reported success but %s does not exist" % (ran, initrd))
                return result, None
            if "load" in actions and not result["loaded"]:
                raise KexecError("%s reported success but /sys/kernel/kexec_crash_loaded is still 0"
                                 % " ".join(self.run.commands[-1]))
            if result["loaded"]:
                if not host.isfile(initrd):
                    raise KexecError("the capture kernel is loaded but %s does not exist: the"
                                     " service loaded another initrd; set initrd" % initrd)
                current = self.fingerprint(kernel, initrd, cmdline, syscall, config_files)
                if self.kallsyms_mark:
                    current["kallsyms_text"] = self.kallsyms_mark
                host.write_json(STATE_FILE, current)
                result["fingerprint"] = current
            elif host.exists(STATE_FILE):
                host.unlink(STATE_FILE)
        except (KexecError, CommandError, OSError) as exc:
            result["loaded"] = capture.loaded()
            return result, str(exc)
        return result, None

    def kallsyms_dropin(self, dropin, install, remove):
        """Install (or remove) the unit drop-in and program that give the boot-time load a
        kallsyms with _text; an error message or None."""
        host = self.host
        present = host.isfile(dropin) or host.isfile(ARM64_PROGRAM)
        if not install and not (remove and present):
            return None
        python = sys.executable if sys.executable and os.path.isabs(sys.executable) \
            else "/usr/bin/python3"
        program = pkgutil.get_data(kallsyms.__name__.rsplit(".", 1)[0], "kallsyms.py")
        program = program.decode("utf-8") if isinstance(program, bytes) else program
        if host.check_mode:
            if remove or not (host.isfile(dropin) and host.isfile(ARM64_PROGRAM)):
                self.result["changed"] = True
            return None
        try:
            if install:
                changed = host.write_text(ARM64_PROGRAM, program, 0o700)
                changed = host.write_text(dropin, arm64_dropin(python)) or changed
                kallsyms.provide(host.root, host.uname[0])
            else:
                for path in (dropin, ARM64_PROGRAM):
                    if host.isfile(path):
                        host.unlink(path)
                changed = True
            if changed:
                self.result["changed"] = True
                systemctl = self.run.which("systemctl")
                if systemctl:
                    self.run([systemctl, "daemon-reload"], "reloading systemd's units")
        except (IOError, OSError) as exc:
            return "the kallsyms copy for kexec on arm64 (%s): %s" % (dropin, exc)
        except CommandError as exc:
            return str(exc)
        return None

    def boot(self, wanted, unit):
        """Enable or disable ``unit`` at boot as ``wanted`` says; an error message or None."""
        systemctl = self.run.which("systemctl")
        if systemctl is None:
            return "enabled=%s needs systemctl, which is not on this host's PATH" % wanted
        rc, out, err = self.run.probe([systemctl, "is-enabled", unit])
        try:
            action = boot_action(wanted, unit, rc, out or err)
        except KexecError as exc:
            return str(exc)
        if action:
            self.result["changed"] = True
            if not self.host.check_mode:
                try:
                    self.run([systemctl, action, unit], "%s %s at boot" % (action[:-1] + "ing", unit))
                except CommandError as exc:
                    return str(exc)
        return None

    def act(self, p, record, actions, release, initrd, initrd_exists, kernel, cmdline, syscall,
            reserved):
        kexec = self.run.which("kexec")
        if p["method"] == "direct" and kexec is None:
            raise KexecError("method=direct needs kexec, which is not on this host's PATH"
                             " (install kexec-tools)")
        for action in actions:
            if action == "unload":
                if p["method"] == "service":
                    self.run(record.argv("unload"), "unloading")
                else:
                    self.run(unload_argv(kexec, syscall), "unloading")
            elif action == "rebuild":
                if record.rebuild_by_load:
                    # The service's load builds a missing initrd (kdump-config's kernel hook);
                    # with nothing to load (state=built), the hook builds it.
                    if initrd_exists:
                        self.host.unlink(initrd)
                    if p["method"] == "direct" or p["state"] == "built":
                        self.run(record.argv("rebuild", release), "building the kdump initrd")
                else:
                    self.run(record.argv("rebuild", release), "rebuilding the kdump initrd")
                self.result["rebuilt"] = True
            elif action == "load":
                wrap = with_kallsyms if self.result.get("kallsyms_text") else list
                if p["method"] == "service":
                    argv = record.argv("load")
                    # A load through systemctl runs in the unit, which has the drop-in.
                    self.run(argv if argv[0] == "systemctl" else wrap(argv), "loading")
                else:
                    problem = fits(reserved, self.host.path(kernel), self.host.path(initrd))
                    if problem:
                        raise KexecError(problem)
                    self.run(wrap(kexec_argv(kexec, syscall, kernel, initrd, cmdline,
                                             p["kexec_args"])), "loading")
