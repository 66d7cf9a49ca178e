# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Will this host capture a crash, and where will the dump go?

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.

``gather(root, run, which, ...)`` reads a host below ``root`` (tests use fixture
trees) and runs read-only commands through ``run``; every field is present on
a host where kdump was never installed, and ``ready`` is then false with the
reasons.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.crashkernel import (
    CrashkernelError,
    evaluate,
    parse,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.hostinfo import (
    HostInfoError,
    HostReader,
    parse_iomem,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.family import records
from ansible_collections.crashdump.kdump.plugins.module_utils.target.plan import (
    FILES,
    MAIN_FILE,
    PACKAGE,
    detect_family,
    dump_dir,
    parse_makedumpfile_version,
    read_back,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.capture import kallsyms
from ansible_collections.crashdump.kdump.plugins.module_utils.capture.kexec import (
    ARM64_DROPIN,
    STATE_FILE,
    Capture,
    KexecError,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.memusage import (
    estimate,
    free_page_warning,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.shellvars import ShellVars
from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.policy import (
    HostFacts,
    SizingError,
    recommend,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.vmcore.reader import (
    dmesg_beside,
    find_dumps,
    sniff,
)

UNIT = dict((f.name, f.service) for f in records.FAMILIES)


def list_dumps(directory, limit=20):
    """Dumps in ``directory`` (each crash has a directory of its own), newest first, with
    what their headers say."""
    found = []
    for path in find_dumps(directory):
        try:
            found.append((os.path.getmtime(path), path))
        except OSError:
            continue
    found.sort(reverse=True)
    out = []
    for mtime, path in found[:limit]:
        info = sniff(path)
        info["mtime"] = int(mtime)
        info["dmesg"] = dmesg_beside(path)
        if "incomplete" in os.path.basename(path):
            info["valid"] = False
            info["error"] = info["error"] or "still named incomplete: the capture kernel did not finish"
        for key in ("reasons", "vmcoreinfo", "flattened", "pages", "header_version", "segments"):
            info.pop(key, None)
        out.append(info)
    return out


def reservation(cmdline, iomem_text, reserved, system_ram, arch, release):
    out = {"requested": None, "requested_bytes": 0, "reserved": reserved or 0, "regions": [],
           "high": False, "low": False, "error": None}
    if iomem_text:
        out["regions"] = parse_iomem(iomem_text)["crash_regions"]
    if "crashkernel=" not in (cmdline or ""):
        return out
    try:
        ck = parse(cmdline)
    except CrashkernelError as exc:
        out["error"] = str(exc)
        return out
    out["requested"] = ck.format(prefix=True)
    out["high"] = ",high" in out["requested"]
    out["low"] = ",low" in out["requested"]
    if system_ram:
        out["requested_bytes"] = evaluate(ck, system_ram, arch, release).total
    return out


def service_state(family, run, which, loaded):
    """installed, enabled, active and ready as the family's tool and systemd say."""
    unit = UNIT[family]
    out = {"unit": unit, "enabled": False, "active": False, "ready": False, "status": None}
    systemctl = which("systemctl")
    if systemctl:
        rc, text, _err = run([systemctl, "is-enabled", unit])
        out["enabled"] = text.strip() in ("enabled", "enabled-runtime", "static", "alias")
        rc, text, _err = run([systemctl, "is-active", unit])
        out["active"] = text.strip() == "active"
    record = records.get(family)
    status = record.argv("status")
    tool = which(status[0]) if status else None
    if tool:
        rc, text, err = run([tool] + status[1:])
        if record.ready_text:
            out["status"] = (text or err).strip()
            out["ready"] = record.ready_text in text and "Not ready" not in text
        else:
            out["status"] = (text + err).strip()
            out["ready"] = rc == 0
    else:
        out["ready"] = out["active"] and loaded
    return out


def expected_dump(reader, run, makedumpfile, as_root, dump_level, version, release):
    """``(expected_dump, warnings, notes)``: the dump's size at ``dump_level``, measured with
    makedumpfile --mem-usage when it can be (root, makedumpfile installed), and the warning
    when makedumpfile cannot find the running kernel's free pages."""
    found = estimate(dump_level, reader.read_text("proc/meminfo", ""),
                     run if as_root else None, makedumpfile)
    warnings, notes = [], []
    if found["free_pages"]:
        warnings.append(free_page_warning(found["free_pages"], version, release, dump_level))
    if found["error"]:
        notes.append("expected dump size from the /proc/meminfo model: %s" % found["error"])
    return dict((key, found[key]) for key in ("bytes", "source", "dump_level")), warnings, notes


def gather(root="/", run=None, which=None, family=None, policy="distro", release=None,
           arch=None, dumps=20, as_root=None):
    """``as_root``: whether this runs as root, which makedumpfile --mem-usage needs (default:
    the effective user id says)."""
    which = which or (lambda name: None)
    run = run or (lambda argv: (1, "", "not run"))
    as_root = os.geteuid() == 0 if as_root is None else as_root
    reader = HostReader(root, run=run, which=which)
    capture = Capture(root)
    notes = []
    reasons = []
    os_release = reader.read_text("etc/os-release", "")
    family = family or detect_family(os_release) or "debian"
    files = dict((path, reader.read_text(path)) for path in FILES[family])
    installed = files.get(MAIN_FILE[family]) is not None
    release = release or os.uname()[2]
    arch = arch or os.uname()[4]
    cmdline = (reader.read_text("proc/cmdline", "") or "").strip()

    try:
        reserved = capture.reserved() or 0
        loaded = capture.loaded()
    except KexecError as exc:
        notes.append(str(exc))
        reserved, loaded = 0, False
    recommendation = None
    system_ram = None
    try:
        raw_facts, _state = reader.gather(detect_luks=False, uname=(release, arch),
                                          estimate_inputs=policy == "estimate")
        facts = HostFacts(**raw_facts)
        system_ram = facts.system_ram
        recommendation = recommend(facts, policy, None, "auto").to_dict()
    except (HostInfoError, SizingError, CrashkernelError) as exc:
        notes.append("no sizing recommendation: %s" % exc)
    notes.extend(reader.notes)

    res = reservation(cmdline, reader.read_text("proc/iomem"), reserved, system_ram, arch, release)
    stored = capture.stored() or {}
    default_kernel, default_initrd = capture.defaults(family, release)
    if stored.get("kernel") and stored["kernel"] != default_kernel and release not in stored["kernel"]:
        # Recorded by a load under another kernel (before a kernel update and reboot): the
        # service loaded this kernel's own files at boot.
        notes.append("the kexec_crash record (%s) is of kernel %s, not the running %s; the capture"
                     " kernel of this boot is the service's %s" % (
                         STATE_FILE, stored["kernel"], release, default_kernel))
        stored = {}
    initrd = stored.get("initrd") or default_initrd
    secure_boot, lockdown = capture.secure()
    capture_info = {
        "loaded": loaded,
        "kernel": stored.get("kernel") or default_kernel,
        "initrd": initrd,
        "initrd_exists": os.path.isfile(capture.path(initrd)),
        "cmdline": stored.get("cmdline"),
        "syscall": stored.get("syscall"),
        "recorded": bool(stored),
        # Where only kexec_file_load may load a (signed) capture kernel.
        "secure_boot": secure_boot,
        "lockdown": lockdown,
    }
    service = service_state(family, run, which, loaded) if installed else {
        "unit": UNIT[family], "enabled": False, "active": False, "ready": False, "status": None}
    target = read_back(family, files) if installed else None
    version, compressions = (None, [])
    if which("makedumpfile"):
        rc, out, err = run([which("makedumpfile"), "-v"])
        version, found = parse_makedumpfile_version((out or "") + (err or ""))
        compressions = sorted(found)
    # The dump level the configured target uses (31, makedumpfile's usual, when none is).
    level = (target or {}).get("dump_level")
    expected, warnings, more_notes = expected_dump(
        reader, run, which("makedumpfile"), as_root, 31 if level is None else level, version, release)
    notes.extend(more_notes)
    found = []
    directory = dump_dir(target, reader.read_text("etc/fstab", "") or "")
    if target is not None:
        # Where this host's dumps land (local and fs targets), for people and crash_test.
        target = dict(target, directory=directory)
    if directory and dumps > 0:
        found = list_dumps(os.path.join(root, directory.lstrip("/")), dumps)
        for dump in found:
            if root not in ("", "/"):
                dump["path"] = "/" + os.path.relpath(dump["path"], root)
                if dump["dmesg"]:
                    dump["dmesg"] = "/" + os.path.relpath(dump["dmesg"], root)

    if not installed:
        reasons.append("%s is not installed (%s does not exist)" % (PACKAGE[family], MAIN_FILE[family]))
    if family == "debian" and installed:
        if ShellVars(files[MAIN_FILE[family]]).get("USE_KDUMP") == "0":
            reasons.append("USE_KDUMP=0 in /etc/default/kdump-tools: kdump-tools will not load a"
                           " capture kernel")
    if res["requested"] is None:
        reasons.append("no crashkernel= on the kernel command line: reserve memory"
                       " (kernel_cmdline) and reboot")
    elif res["error"]:
        reasons.append("the kernel rejects %s: %s" % (cmdline, res["error"]))
    if not reserved:
        reasons.append("no memory is reserved for a capture kernel (/sys/kernel/kexec_crash_size"
                       " is 0)")
    if not loaded:
        reasons.append("no capture kernel is loaded (/sys/kernel/kexec_crash_loaded is 0)")
    if installed and not service["enabled"]:
        reasons.append("%s is not enabled: no capture kernel will be loaded after the next boot"
                       % service["unit"])
    if arch == "aarch64" and capture_info["syscall"] != "file":
        text_at = kallsyms.missing_text(
            reader.read_text(kallsyms.KALLSYMS, ""),
            reader.read_text(kallsyms.SYSTEM_MAP.format(release=release), ""))
        capture_info["kallsyms_text"] = text_at is None
        # kexec_crash's fix (capture/kallsyms.py): the unit drop-in, and the copy with _text
        # written for this boot.
        copy = reader.read_text(kallsyms.PROVIDED, "") or ""
        provided = text_at is not None and os.path.isfile(reader.path(
            ARM64_DROPIN.format(unit=service["unit"]))) and copy.startswith(
                "%016x T _text\n" % text_at)
        capture_info["kallsyms_provided"] = provided
        if text_at is not None and not provided:
            reasons.append(
                "/proc/kallsyms has no _text (a kernel built without CONFIG_KALLSYMS_ALL):"
                " kexec_load (kexec -p) then writes a wrong crash header and the dump is empty;"
                " _text would be at 0x%x (kexec_crash loads with a copy that has it)" % text_at)
    if installed and loaded and not service["ready"] and service["status"]:
        reasons.append("the kdump tool does not report ready: %s" % service["status"].splitlines()[-1])

    return {
        "family": family,
        "installed": installed,
        "package": PACKAGE[family],
        "kernel_release": release,
        "system_ram": system_ram,
        "reservation": res,
        "capture": capture_info,
        "service": service,
        "target": target,
        "makedumpfile": {"version": version, "compressions": compressions},
        "expected_dump": expected,
        "dumps": found,
        "recommendation": recommendation,
        "ready": not reasons,
        "reasons": reasons,
        "warnings": warnings,
        "notes": notes,
    }
