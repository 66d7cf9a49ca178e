# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The readiness watch: between runs of the role, a systemd timer asks the host what kdump_info
would say and writes it for node_exporter's textfile collector (``kdump.prom``) and as JSON.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

The checker runs on the host without Ansible: the kdump_watch module installs a private copy of
this file and of the module_utils it imports (``closure``) below ``LIB``, and the program
``PROGRAM`` that calls ``main``. Its facts are status.gather's (the same answer as kdump_info's)
and the proof record's staleness (capture/proof.py).

Prometheus conventions: base units (bytes, seconds), ``_bytes`` / ``_seconds`` suffixes, 0/1
gauges for yes/no, one HELP and TYPE line per metric. Left out: the free space of a remote
(SSH, NFS) or raw target - measuring it needs the network or the device; the kdump_target
pre-flight measures it when the role runs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from ansible_collections.crashdump.kdump.plugins.module_utils.capture import proof
from ansible_collections.crashdump.kdump.plugins.module_utils.capture.status import gather
from ansible_collections.crashdump.kdump.plugins.module_utils.family import records
from ansible_collections.crashdump.kdump.plugins.module_utils.vmcore.reader import find_dumps

PREFIX = "ansible_collections.crashdump.kdump.plugins.module_utils"
ENTRY = PREFIX + ".capture.watch"
LIB = "/usr/local/lib/crashdump-kdump/watch"
PROGRAM = "/usr/local/lib/crashdump-kdump/kdump-watch.py"
UNIT = "crashdump-kdump-watch"
UNIT_DIR = "/etc/systemd/system"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
PROM_NAME = "kdump.prom"
JSON_FILE = "/var/lib/crashdump-kdump/watch.json"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_KERNEL_NAME = re.compile(r"^(?:vmlinuz|vmlinux|bzImage|zImage|Image|kernel)-(.+)$")

# name, help, the facts key (booleans become 0/1).
METRICS = (
    ("kdump_ready", "Whether a crash now would be captured (kdump_info's ready), 1 or 0.", "ready"),
    ("kdump_crashkernel_reserved_bytes", "Memory reserved for the capture kernel (/sys/kernel/kexec_crash_size).",
     "reserved_bytes"),
    ("kdump_crashkernel_recommended_bytes", "What the distribution's sizing recommends for this host.",
     "recommended_bytes"),
    ("kdump_capture_kernel_loaded", "Whether a capture kernel is loaded (/sys/kernel/kexec_crash_loaded), 1 or 0.",
     "capture_loaded"),
    ("kdump_capture_matches_running_kernel", "Whether the loaded capture kernel is the running kernel's, 1 or 0.",
     "capture_matches_running_kernel"),
    ("kdump_proof_timestamp_seconds", "When the last passed crash test proved this host (0: never).",
     "proof_timestamp"),
    ("kdump_proof_stale", "Whether anything the last proof depends on changed since, or there is none, 1 or 0.",
     "proof_stale_metric"),
    ("kdump_target_free_bytes", "Free space where a local or fs target's dumps go.", "target_free_bytes"),
    ("kdump_expected_dump_bytes", "How big a dump of this host would be now, with a margin.", "expected_dump_bytes"),
    ("kdump_dumps", "Complete dumps on the local or fs target.", "dumps"),
)


def _path(root, absolute):
    return os.path.join(root, absolute.lstrip("/"))


def capture_matches(info, root="/"):
    """Whether the loaded capture kernel is the running kernel's: the same file as the family's
    kernel for this release, or a file named for this release."""
    if not (info.get("capture") or {}).get("loaded"):
        return False
    kernel, _initrd = proof.loaded_files(info, root)
    if not kernel:
        return False
    release = info["kernel_release"]
    expected = records.get(info["family"]).kernel(release)
    real = os.path.realpath(_path(root, kernel))
    if real == os.path.realpath(_path(root, expected)):
        return True
    match = _KERNEL_NAME.match(os.path.basename(real))
    return bool(match) and match.group(1) == release


def free_bytes(root, directory):
    """Free bytes, as df shows them, in ``directory`` (or the nearest directory above it that
    exists, where the dump directory will be made); None when unknown."""
    path = _path(root, directory)
    while path and not os.path.isdir(path):
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent
    try:
        found = os.statvfs(path)
    except OSError:
        return None
    return found.f_bavail * found.f_frsize


def count_dumps(root, directory):
    if not os.path.isdir(_path(root, directory)):
        return 0
    return sum(1 for path in find_dumps(_path(root, directory))
               if "incomplete" not in os.path.basename(path))


def facts(root="/", run=None, which=None, now=None, gather_=gather):
    """Everything the watch writes, from status.gather (as kdump_info) and the proof record."""
    now = time.time() if now is None else now
    info = gather_(root, run=run, which=which, dumps=0)
    info.update(proof.report(info, root, run, which, now))
    target = info.get("target") or {}
    directory = target.get("directory") if target.get("type") in ("local", "fs") else None
    record = info.get("proof") or {}
    return {
        "time": int(now),
        "ready": bool(info["ready"]),
        "reasons": list(info["reasons"]),
        "family": info["family"],
        "kernel_release": info["kernel_release"],
        "reserved_bytes": int((info.get("reservation") or {}).get("reserved") or 0),
        "recommended_bytes": (info.get("recommendation") or {}).get("reserved_bytes"),
        "capture_loaded": bool((info.get("capture") or {}).get("loaded")),
        "capture_kernel": proof.loaded_files(info, root)[0],
        "capture_matches_running_kernel": capture_matches(info, root),
        "proof_timestamp": record.get("proven_at", 0),
        "proof_age_seconds": record.get("age_seconds"),
        "proof_stale": info["proof_stale"],
        "proof_stale_metric": info["proof_stale"] is not False,
        "proof_stale_reasons": list(info["proof_stale_reasons"]),
        "target": proof.target_text(info.get("target")),
        "target_type": target.get("type"),
        "target_directory": directory,
        "target_free_bytes": free_bytes(root, directory) if directory else None,
        "expected_dump_bytes": (info.get("expected_dump") or {}).get("bytes"),
        "dumps": count_dumps(root, directory) if directory else None,
        "warnings": list(info.get("warnings") or []),
        "notes": list(info.get("notes") or []),
    }


def label_value(text):
    """A label value in the text format: backslash, double quote and newline escaped."""
    return str(text).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def metrics(found):
    """The text-format file node_exporter's textfile collector reads: HELP and TYPE lines, one
    sample each; a fact that is unknown (None) leaves its metric out."""
    lines = []
    for name, text, key in METRICS:
        value = found.get(key)
        if value is None:
            continue
        lines += ["# HELP %s %s" % (name, text), "# TYPE %s gauge" % name,
                  "%s %d" % (name, int(value))]
    labels = ",".join('%s="%s"' % (key, label_value(found.get(key) or "")) for key in (
        "family", "kernel_release", "target_type"))
    lines += ["# HELP kdump_watch_info The host's kdump family, running kernel and target type (always 1).",
              "# TYPE kdump_watch_info gauge", "kdump_watch_info{%s} 1" % labels]
    return "\n".join(lines) + "\n"


def write_atomic(path, text, mode=0o644):
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename, so
    that a reader (node_exporter) never sees half a file."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".kdump-watch-")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def run_command(argv, timeout=300):
    """``(rc, stdout, stderr)`` of ``argv`` (a list), in the C locale, never raising."""
    env = dict(os.environ, LC_ALL="C", LANG="C", PATH=PATH)
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, env=env,
                              timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return 127, "", str(exc)
    return done.returncode, done.stdout, done.stderr


def which(name):
    return shutil.which(name, path=PATH)


def main(argv=None, out=None):
    """The checker: ``--textfile-dir DIR`` gets kdump.prom, ``--json FILE`` the facts."""
    out = out or sys.stderr
    parser = argparse.ArgumentParser(prog="kdump-watch", description=__doc__.splitlines()[0])
    parser.add_argument("--textfile-dir", default=TEXTFILE_DIR)
    parser.add_argument("--json", default=JSON_FILE)
    parser.add_argument("--root", default="/", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        found = facts(args.root, run_command, which)
        write_atomic(os.path.join(args.textfile_dir, PROM_NAME), metrics(found), 0o644)
        json_dir = os.path.dirname(args.json)
        if not os.path.isdir(json_dir):
            os.makedirs(json_dir, 0o700)
        write_atomic(args.json, json.dumps(found, indent=1, sort_keys=True) + "\n", 0o600)
    except (IOError, OSError) as exc:
        out.write("kdump-watch: cannot write %s: %s\n" % (getattr(exc, "filename", None) or "its files",
                                                          exc.strerror or exc))
        return 1
    out.write("kdump-watch: %s%s\n" % ("ready" if found["ready"] else "NOT ready: ",
                                       "" if found["ready"] else "; ".join(found["reasons"])))
    return 0


# --- what kdump_watch installs ----------------------------------------------------------

def program_text(lib=LIB):
    return (
        "# crashdump.kdump (kdump_watch): the readiness check the %s.timer runs.\n"
        "import sys\n"
        "sys.path.insert(0, %r)\n"
        "from %s import main\n"
        "sys.exit(main())\n" % (UNIT, lib, ENTRY))


def service_text(python, textfile_dir, after=None, json_file=JSON_FILE):
    return (
        "# crashdump.kdump (kdump_watch): writes %s/%s and %s.\n"
        "[Unit]\n"
        "Description=Check that kdump would capture a crash (crashdump.kdump)\n"
        "%s"
        "[Service]\n"
        "Type=oneshot\n"
        "ExecStart=%s -I %s --textfile-dir %s --json %s\n"
        "Nice=10\n"
        "IOSchedulingClass=idle\n"
        "PrivateTmp=yes\n"
        "NoNewPrivileges=yes\n" % (
            textfile_dir, PROM_NAME, json_file,
            "After=%s\n" % after if after else "", python, PROGRAM, textfile_dir, json_file))


def timer_text(interval):
    return (
        "# crashdump.kdump (kdump_watch)\n"
        "[Unit]\n"
        "Description=Check kdump's readiness every %d minutes (crashdump.kdump)\n"
        "[Timer]\n"
        "OnBootSec=2min\n"
        "OnUnitActiveSec=%dmin\n"
        "RandomizedDelaySec=30\n"
        "[Install]\n"
        "WantedBy=timers.target\n" % (interval, interval))


class WatchError(Exception):
    """A value the watch cannot be installed with; the message names it."""


def closure(get_source, entry=ENTRY):
    """``{module name: source}`` of ``entry`` and every module_utils of this collection it
    imports, directly or not. ``get_source(name)`` is the source of a module, or None (not a
    module: a package, or a name imported from a module). WatchError when one of them imports
    Ansible - the checker runs without it."""
    found, todo = {}, [entry]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        source = get_source(name)
        if source is None:
            raise WatchError("the checker needs %s, which cannot be read" % name)
        found[name] = source
        for node in ast.walk(ast.parse(source)):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + ["%s.%s" % (node.module, alias.name) for alias in node.names]
            for imported in names:
                if imported == "ansible" or imported.startswith("ansible."):
                    raise WatchError("%s imports %s: the checker runs without Ansible" % (name, imported))
                if imported.startswith(PREFIX + ".") and imported not in found \
                        and get_source(imported) is not None:
                    todo.append(imported)
    return found


def files(sources, lib=LIB):
    """``{path: text}`` of the private copy: each module below ``lib``, an empty __init__.py in
    every package on the way (so that no other ansible_collections on the host is mixed in)."""
    out = {}
    for name, source in sources.items():
        parts = name.split(".")
        out[os.path.join(lib, *parts) + ".py"] = source
        for depth in range(1, len(parts)):
            init = os.path.join(lib, *(parts[:depth] + ["__init__.py"]))
            out.setdefault(init, "")
    return out


def check_options(interval, textfile_dir):
    if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval <= 1440:
        raise WatchError("interval: %r is not a number of minutes; expected 1 to 1440" % (interval,))
    if not textfile_dir.startswith("/") or re.search(r"[\s\"'\\%$;]", textfile_dir) \
            or "/../" in textfile_dir + "/":
        raise WatchError("textfile_dir: %r is not a plain absolute directory; expected a path"
                         " without spaces, quotes, %%, $ or .. (the unit's command line holds it)"
                         % (textfile_dir,))


def previous_textfile_dir(service):
    """The --textfile-dir an installed service file names, or None."""
    match = re.search(r"--textfile-dir (\S+)", service or "")
    return match.group(1) if match else None


def installed_files(lib=LIB):
    """Every file below the private copy now (Python's byte-code caches left out)."""
    found = []
    for current, dirs, names in os.walk(lib):
        dirs[:] = [name for name in dirs if name != "__pycache__"]
        found.extend(os.path.join(current, name) for name in names)
    return sorted(found)


def wanted_files(sources, python, interval, textfile_dir, after=None, lib=LIB):
    """``{path: text}`` of everything state=present installs."""
    check_options(interval, textfile_dir)
    out = files(sources, lib)
    out[PROGRAM] = program_text(lib)
    out[os.path.join(UNIT_DIR, UNIT + ".service")] = service_text(python, textfile_dir, after)
    out[os.path.join(UNIT_DIR, UNIT + ".timer")] = timer_text(interval)
    return out


def changes(wanted, read, present_files):
    """``{path: text or None}``: what must be written (text) or removed (None) so that the host
    has exactly ``wanted`` - ``read(path)`` is a file's text or None, ``present_files`` the files
    of the private copy there now (an older copy's extra modules are removed)."""
    out = {}
    for path, text in sorted(wanted.items()):
        if read(path) != text:
            out[path] = text
    for path in present_files:
        if path not in wanted:
            out[path] = None
    return out
