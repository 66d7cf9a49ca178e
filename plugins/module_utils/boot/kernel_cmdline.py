# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Boot loader backends of the kernel_cmdline module.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Runs on the managed host with Python 3.8+.

A backend reads the host through a ``BootFiles`` (files below a root
directory, read-only commands through ``run``) and returns a ``Plan``: the
files to write (full new text, or None to delete) and the commands to run
afterwards, in order. Nothing here writes: the module applies the plan, so
check mode and diff mode are computed from the same plan.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import glob
import os

from ansible_collections.crashdump.kdump.plugins.module_utils.boot import bls as _bls, grub as _grub
from ansible_collections.crashdump.kdump.plugins.module_utils.boot.cmdline import (
    apply,
    join,
    managed_values,
    split,
    validate_args,
    word_name,
)

BACKENDS = ("grub", "grubby", "zipl", "systemd_boot", "ostree")


class BootError(Exception):
    """The boot configuration cannot be changed as asked; the message says why."""


class BootFiles(object):
    """Files below ``root`` and read-only commands through ``run(argv)``."""

    def __init__(self, root="/", run=None, which=None):
        self.root = root
        self._run = run
        self.which = which or (lambda name: None)

    def path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def read(self, path):
        try:
            with open(self.path(path)) as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    def exists(self, path):
        return os.path.exists(self.path(path))

    def glob(self, pattern):
        prefix = self.root.rstrip("/")
        return sorted(p[len(prefix):] if prefix else p for p in glob.glob(self.path(pattern)))

    def run(self, argv):
        if self._run is None:
            raise BootError("cannot run %s here" % argv[0])
        return self._run(argv)

    def tool(self, name):
        return self.which(name)


class Plan(object):
    def __init__(self, backend, files=None, commands=None, validate=None, regenerated=None,
                 checks=None):
        self.backend = backend
        self.checks = checks or []        # argv lists that check the regenerated configuration
        self.files = files or {}          # path -> new text, or None to delete
        self.commands = commands or []    # argv lists, run in order after the writes
        self.validate = validate or {}    # path -> argv to check the new file (path appended)
        self.regenerated = regenerated or []  # files the commands rewrite (restored on failure)

    def is_empty(self):
        return not self.files and not self.commands


def changed_files(files, wanted):
    """Keep only the files whose content would change."""
    return dict((path, text) for path, text in wanted.items() if files.read(path) != text)


# --- detection -----------------------------------------------------------------------

def detect(files, arch):
    """The backend this host boots with."""
    if files.exists("/run/ostree-booted"):
        return "ostree"
    if arch == "s390x" and (files.exists("/etc/zipl.conf") or files.tool("zipl")):
        return "zipl"
    if files.tool("grubby") and files.glob("/boot/loader/entries/*.conf"):
        return "grubby"
    if files.tool("update-grub") or files.tool("grub2-mkconfig") or files.tool("grub-mkconfig"):
        return "grub"
    if files.exists("/etc/kernel/cmdline") or files.tool("bootctl"):
        return "systemd_boot"
    raise BootError("no supported boot loader found: expected grub (update-grub or"
                    " grub2-mkconfig), grubby with BLS entries, zipl, systemd-boot or"
                    " rpm-ostree")


def make_backend(name, files, arch):
    classes = {"grub": GrubBackend, "grubby": GrubbyBackend, "zipl": ZiplBackend,
               "systemd_boot": SystemdBootBackend, "ostree": OstreeBackend}
    if name == "auto":
        name = detect(files, arch)
    if name not in classes:
        raise BootError("backend %r: expected auto or one of %s" % (name, ", ".join(BACKENDS)))
    backend = classes[name](files, arch)
    backend.check_host()
    return backend


class Backend(object):
    name = None

    def __init__(self, files, arch):
        self.files = files
        self.arch = arch

    def check_host(self):
        """Fail unless this host really boots with this backend."""

    def require_tool(self, name):
        path = self.files.tool(name)
        if not path:
            raise BootError("backend %s: %s is not installed" % (self.name, name))
        return path

    def kernel_cmdline_file(self, args, state, kernels, fallback=None):
        """The new /etc/kernel/cmdline (what kernels installed later get), as a plan entry."""
        if kernels != "all":
            return {}
        text = self.files.read("/etc/kernel/cmdline")
        if text is None:
            if fallback is None:
                return {}
            text = fallback
        try:
            return {"/etc/kernel/cmdline": _bls.edit_kernel_cmdline_file(text, args, state)}
        except _bls.BlsError as exc:
            raise BootError(str(exc))

    def entries_for(self, paths, kernels, default_paths=None):
        """The BLS entry files of ``kernels``: all, the default one, or a kernel path's."""
        if kernels == "all":
            return paths
        if kernels == "default":
            return default_paths if default_paths is not None else paths[-1:]
        chosen = [p for p in paths
                  if _bls.parse_entry(self.files.read(p) or "").get("linux", "").endswith(
                      os.path.basename(kernels))]
        if not chosen:
            raise BootError("no boot entry for kernel %s" % kernels)
        return chosen

    def plan(self, args, state, kernels):
        raise BootError("backend %s cannot plan" % self.name)

    def next_boot(self, kernels="default"):
        """The command line the default kernel boots with next, as written."""
        raise BootError("backend %s cannot read the next boot" % self.name)


# --- GRUB ------------------------------------------------------------------------------

class GrubBackend(Backend):
    """Debian/Ubuntu (grub.d drop-in + update-grub) or RHEL 7/SUSE (GRUB_CMDLINE_LINUX + grub2-mkconfig)."""

    name = "grub"

    def check_host(self):
        # Debian and Ubuntu: update-grub, and a drop-in in /etc/default/grub.d.
        # RHEL 7 and SUSE: GRUB_CMDLINE_LINUX in /etc/default/grub, grub2-mkconfig.
        update_grub = self.files.tool("update-grub")
        self.debian = bool(update_grub)
        self.mkconfig = update_grub or self.files.tool("grub2-mkconfig") or self.files.tool("grub-mkconfig")
        if not self.mkconfig:
            raise BootError("backend grub: neither update-grub nor grub2-mkconfig is installed")
        if not self.debian and self.files.read("/etc/default/grub") is None:
            raise BootError("backend grub: /etc/default/grub does not exist")
        self.cfg = self.grub_cfg_path()

    def grub_cfg_path(self):
        if self.debian:
            return "/boot/grub/grub.cfg"
        for candidate in sorted(self.files.glob("/boot/efi/EFI/*/grub.cfg")):
            text = self.files.read(candidate) or ""
            # RHEL 9+ and current Fedora keep a stub there that loads /boot/grub2/grub.cfg.
            if "configfile" not in text:
                return candidate
        return "/boot/grub2/grub.cfg"

    def effective_without_dropin(self):
        """GRUB_CMDLINE_LINUX and _DEFAULT from every file but our drop-in."""
        script = _grub.EFFECTIVE_SCRIPT.replace(
            'if [ -e "$x" ]; then . "$x"; fi',
            'if [ -e "$x" ] && [ "$x" != "$root%s" ]; then . "$x"; fi' % _grub.DROPIN)
        rc, out, err = self.files.run(["sh", "-c", script, "sh", self.files.root])
        if rc != 0:
            raise BootError("cannot read /etc/default/grub and /etc/default/grub.d: %s"
                            % (err or out).strip())
        linux, _sep, default = out.partition("\0")
        return split(linux) + split(default)

    def plan(self, args, state, kernels):
        if kernels not in ("all", "default"):
            raise BootError("backend grub sets the arguments of every kernel it generates"
                            " entries for; kernels must be all or default, not %r" % kernels)
        if self.debian:
            return self._plan_dropin(args, state)
        return self._plan_default_grub(args, state)

    def _plan_dropin(self, args, state):
        try:
            managed = _grub.parse_dropin(self.files.read(_grub.DROPIN) or "")
        except _grub.GrubError as exc:
            raise BootError(str(exc))
        others = self.effective_without_dropin() if state == "absent" else None
        managed = _grub.merge(managed, args, state, others)
        text = _grub.render_dropin(managed)
        files = changed_files(self.files, {_grub.DROPIN: text})
        validate = {_grub.DROPIN: ["sh", "-n"]} if text else {}
        commands = [[self.mkconfig]] if files else []
        return Plan(self.name, files, commands, validate, [self.cfg] if files else [],
                    self.script_checks() if files else [])

    def script_checks(self):
        checker = self.files.tool("grub-script-check") or self.files.tool("grub2-script-check")
        return [[checker, self.cfg]] if checker else []

    def _plan_default_grub(self, args, state):
        # grub2-mkconfig writes GRUB_CMDLINE_LINUX, then GRUB_CMDLINE_LINUX_DEFAULT:
        # a managed argument left in the second (SUSE keeps crashkernel= there)
        # would come last and win, so it is removed from there and set in the first.
        text = self.files.read("/etc/default/grub")
        new = text
        try:
            default = _grub.get_shell_var(text, "GRUB_CMDLINE_LINUX_DEFAULT")
            if default is not None:
                names = dict((name, None) for name, _values in validate_args(args))
                stripped = join(apply(split(default), names, "absent"))
                if stripped != default:
                    new = _grub.set_shell_var(new, "GRUB_CMDLINE_LINUX_DEFAULT", stripped)
            current = _grub.get_shell_var(new, "GRUB_CMDLINE_LINUX") or ""
            new = _grub.set_shell_var(new, "GRUB_CMDLINE_LINUX", join(apply(split(current), args, state)))
        except _grub.GrubError as exc:
            raise BootError(str(exc))
        files = changed_files(self.files, {"/etc/default/grub": new})
        commands = [[self.mkconfig, "-o", self.cfg]] if files else []
        return Plan(self.name, files, commands, {"/etc/default/grub": ["sh", "-n"]} if files else {},
                    [self.cfg] if files else [], self.script_checks() if files else [])

    def next_boot(self, kernels="default"):
        text = self.files.read(self.cfg)
        if text is None:
            raise BootError("%s does not exist: the boot loader configuration was never generated"
                            % self.cfg)
        entries = _grub.parse_grub_cfg(text)
        defaults = self.files.read("/etc/default/grub") or ""
        grubenv = self.files.read(os.path.join(os.path.dirname(self.cfg), "grubenv")) or ""
        saved = None
        for line in grubenv.splitlines():
            if line.startswith("saved_entry="):
                saved = line.split("=", 1)[1]
        try:
            entry = _grub.default_entry(entries, _grub.get_shell_var(defaults, "GRUB_DEFAULT"), saved)
        except _grub.GrubError as exc:
            raise BootError("%s: %s" % (self.cfg, exc))
        if entry["cmdline"] is None:
            raise BootError("%s: the default entry %r has no linux line" % (self.cfg, entry["title"]))
        return entry["cmdline"]


# --- grubby (BLS) -------------------------------------------------------------------------

class GrubbyBackend(Backend):
    name = "grubby"

    def check_host(self):
        self.grubby = self.require_tool("grubby")

    def info(self, which):
        rc, out, err = self.files.run([self.grubby, "--info=%s" % which])
        if rc != 0:
            raise BootError("grubby --info=%s failed: %s" % (which, (err or out).strip()))
        return _bls.parse_grubby_info(out)

    GRUBENV = ("/boot/grub2/grubenv", "/boot/efi/EFI/redhat/grubenv")

    def entry_file(self, entry):
        """``(path, text)`` of the BLS file of a ``grubby --info`` entry (its ``id`` is the
        file name), or ``(None, None)`` when it cannot be read."""
        ident = entry.get("id") or ""
        if not ident or "/" in ident:
            return None, None
        path = "/boot/loader/entries/%s.conf" % ident
        text = self.files.read(path)
        return (path, text) if text is not None else (None, None)

    def kernelopts(self):
        for path in self.GRUBENV:
            for line in (self.files.read(path) or "").splitlines():
                if line.startswith("kernelopts="):
                    return line[len("kernelopts="):]
        return ""

    def effective(self, entry):
        """The arguments an entry boots with, read from its file (``$kernelopts`` expanded
        from grubenv) rather than from ``grubby --info``, which shows grubenv's value for an
        entry that has its own options too and nothing for an entry without an options line.
        ``(words, path, text)``; path None when the file is not found (then --info's args)."""
        path, text = self.entry_file(entry)
        if path is None:
            return split(entry.get("args", "")), None, None
        options = _bls.parse_entry(text).get("options", "")
        return split(options.replace("$kernelopts", self.kernelopts())), path, text

    def plan(self, args, state, kernels):
        checked = validate_args(args)
        target = {"all": "ALL", "default": "DEFAULT"}.get(kernels, kernels)
        if kernels not in ("all", "default") and not self.files.exists(kernels):
            raise BootError("kernel %s does not exist" % kernels)
        entries = self.info(target)
        names = set(a.split("=", 1)[0] for a in args)
        needs = False
        files = {}
        for entry in entries:
            words, path, text = self.effective(entry)
            if words == apply(words, args, state):
                continue
            own = _bls.parse_entry(text).get("options", "") if text is not None else None
            if path is None:
                needs = True
            elif not own.strip():
                # grubby adds nothing to an entry without an options line (it reports success
                # and the entry stays as it was): the entry is edited here.
                files[path] = _bls.edit_entry_options(text, args, state)
            elif "$kernelopts" in own:
                # grubby edits grubenv's kernelopts; the entry's own words for these arguments
                # would stay beside it (and win), so they go here.
                literal = [w for w in split(own.replace("$kernelopts", " "))
                           if w.split("=", 1)[0] in names]
                if literal:
                    files[path] = _bls.drop_entry_words(text, names)
                needs = True
            else:
                needs = True
        commands = _bls.grubby_argv(self.grubby, kernels, checked, state) if needs else []
        files.update(changed_files(self.files, self.kernel_cmdline_file(args, state, kernels)))
        return Plan(self.name, files, commands)

    def next_boot(self, kernels="default"):
        entries = self.info("DEFAULT")
        if not entries:
            raise BootError("grubby --info=DEFAULT shows no entry")
        return join(self.effective(entries[0])[0])


# --- zipl ------------------------------------------------------------------------------------

class ZiplBackend(Backend):
    name = "zipl"

    def check_host(self):
        self.zipl = self.require_tool("zipl")
        self.bls = bool(self.files.glob("/boot/loader/entries/*.conf"))
        if not self.bls and self.files.read("/etc/zipl.conf") is None:
            raise BootError("backend zipl: neither /etc/zipl.conf nor BLS entries exist")

    def plan(self, args, state, kernels):
        validate_args(args)
        wanted = {}
        if self.bls:
            for path in self.entry_paths(kernels):
                wanted[path] = _bls.edit_entry_options(self.files.read(path), args, state)
        else:
            text = self.files.read("/etc/zipl.conf")
            sections = None
            if kernels == "default":
                default = _bls.zipl_default(text)
                sections = [default] if default else None
            elif kernels != "all":
                raise BootError("backend zipl without BLS entries: kernels must be all or default")
            try:
                wanted["/etc/zipl.conf"] = _bls.edit_zipl(text, args, state, sections)
            except _bls.BlsError as exc:
                raise BootError(str(exc))
        wanted.update(self.kernel_cmdline_file(args, state, kernels))
        files = changed_files(self.files, wanted)
        return Plan(self.name, files, [[self.zipl]] if files else [])

    def entry_paths(self, kernels):
        return self.entries_for(self.files.glob("/boot/loader/entries/*.conf"), kernels)

    def next_boot(self, kernels="default"):
        if self.bls:
            paths = self.entry_paths("default")
            return _bls.parse_entry(self.files.read(paths[0]) or "")["options"] if paths else ""
        text = self.files.read("/etc/zipl.conf") or ""
        sections = _bls.zipl_sections(text)
        default = _bls.zipl_default(text)
        return sections.get(default) or ""


# --- systemd-boot ------------------------------------------------------------------------------

class SystemdBootBackend(Backend):
    name = "systemd_boot"

    def check_host(self):
        self.esp = None
        bootctl = self.files.tool("bootctl")
        if bootctl:
            rc, out, _err = self.files.run([bootctl, "--print-esp-path"])
            if rc == 0 and out.strip():
                self.esp = out.strip()
        if self.esp is None:
            for candidate in ("/efi", "/boot/efi", "/boot"):
                if self.files.glob(candidate + "/loader/entries/*.conf"):
                    self.esp = candidate
                    break
        if self.esp is None:
            raise BootError("backend systemd_boot: no ESP with loader/entries found")

    def entry_paths(self, kernels):
        paths = self.files.glob(self.esp + "/loader/entries/*.conf")
        default = None
        if kernels == "default":
            loader = self.files.read(self.esp + "/loader/loader.conf") or ""
            for line in loader.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == "default":
                    chosen = [p for p in paths if fnmatch.fnmatch(os.path.basename(p), parts[1])]
                    default = chosen[-1:] or None
        return self.entries_for(paths, kernels, default)

    def plan(self, args, state, kernels):
        validate_args(args)
        wanted = {}
        for path in self.entry_paths(kernels):
            wanted[path] = _bls.edit_entry_options(self.files.read(path), args, state)
        # Without /etc/kernel/cmdline, kernel-install uses the running command line.
        running = join(w for w in split(self.files.read("/proc/cmdline") or "")
                       if not w.startswith(("BOOT_IMAGE=", "initrd=")))
        wanted.update(self.kernel_cmdline_file(args, state, kernels, fallback=running))
        return Plan(self.name, changed_files(self.files, wanted), [])

    def next_boot(self, kernels="default"):
        paths = self.entry_paths("default")
        if not paths:
            raise BootError("no loader entry in %s/loader/entries" % self.esp)
        return _bls.parse_entry(self.files.read(paths[0]) or "")["options"]


# --- ostree --------------------------------------------------------------------------------------

class OstreeBackend(Backend):
    name = "ostree"

    def check_host(self):
        self.tool = self.require_tool("rpm-ostree")
        if not self.files.exists("/run/ostree-booted"):
            raise BootError("backend ostree: /run/ostree-booted does not exist; this host"
                            " does not boot an ostree deployment")

    def current(self):
        rc, out, err = self.files.run([self.tool, "kargs"])
        if rc != 0:
            raise BootError("rpm-ostree kargs failed: %s" % (err or out).strip())
        return split(out.strip())

    def plan(self, args, state, kernels):
        if kernels not in ("all", "default"):
            raise BootError("backend ostree changes the next deployment; kernels must be all"
                            " or default")
        checked = validate_args(args)
        words = self.current()
        if apply(words, args, state) == words:
            return Plan(self.name)
        argv = [self.tool, "kargs"]
        for name, values in checked:
            present = [w for w in words if word_name(w) == name]
            if state == "present":
                wanted = [name if v is None else "%s=%s" % (name, v) for v in values]
                for word in present:
                    if word not in wanted:
                        argv.append("--delete=%s" % word)
                for word in wanted:
                    if word not in present:
                        argv.append("--append=%s" % word)
            else:
                for word in present:
                    if values == [None] or word.partition("=")[2] in values:
                        argv.append("--delete=%s" % word)
        return Plan(self.name, {}, [argv])

    def next_boot(self, kernels="default"):
        return join(self.current())


def managed_state(cmdline, args):
    """``{name: [values]}`` of the managed names on a command line."""
    return managed_values(split(cmdline), [name for name, _values in validate_args(args)])


def satisfied(cmdline, args, state):
    """Whether a command line has ``args`` present (exactly these words) or absent."""
    words = split(cmdline)
    for name, values in validate_args(args):
        have = [w for w in words if word_name(w) == name]
        wanted = [name if v is None else "%s=%s" % (name, v) for v in values]
        if state == "present" and have != wanted:
            return False
        if state == "absent" and (have if values == [None] else set(have) & set(wanted)):
            return False
    return True
