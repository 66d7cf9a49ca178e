# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The proof record: what a passed crash test proved, kept on the host, and whether it still holds.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+ (the readiness
watch runs it on the host without Ansible).

A crash test proves one combination: the running kernel, the capture kernel and initrd the
kdump tool loads, the kdump configuration, the tools' versions, the reservation and the
target. ``basis(info, ...)`` says what that combination is now (from kdump_info's answer);
``build`` turns a basis taken before the crash and the crash test's result into the record
written to ``PROOF_FILE``; ``staleness(record, basis)`` names, in plain words, every part of
the combination that changed since.

Files are read below ``root`` (tests use fixture trees); commands go through
``run(argv) -> (rc, out, err)`` and ``which(name) -> path or None``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re
import tempfile
import time

from ansible_collections.crashdump.kdump.plugins.module_utils.family import records

PROOF_FILE = "/var/lib/crashdump-kdump/proof.json"
# kexec_crash's record of its last load (capture/kexec.py STATE_FILE; repeated here so that
# this file needs nothing but the family records).
LOAD_RECORD = "/var/lib/crashdump-kdump/kexec_crash.json"
FORMAT = 1
# How each package database answers "which version of PACKAGE is installed" (argv lists; the
# package name is appended). The family's own database is asked first.
QUERIES = {
    "dpkg-query": ["-W", "-f", "${Version}"],
    "rpm": ["-q", "--qf", "%{VERSION}-%{RELEASE}\\n"],
}
QUERY_ORDER = {"debian": ("dpkg-query", "rpm"), "redhat": ("rpm", "dpkg-query"),
               "suse": ("rpm", "dpkg-query")}
_VERSION = re.compile(r"^[0-9][0-9A-Za-z.+~:_-]*$")


class ProofError(Exception):
    """A proof record that cannot be built or written; the message names the file or value."""


def _path(root, absolute):
    return os.path.join(root, absolute.lstrip("/"))


def _relative(root, path):
    """``path`` (below ``root``) as the host sees it."""
    if root in ("", "/"):
        return path
    return "/" + os.path.relpath(path, root)


def sha256(root, absolute):
    """``(real path, sha256)`` of a file as the host sees it; sha256 None when it is missing or
    unreadable."""
    if not absolute:
        return None, None
    real = os.path.realpath(_path(root, absolute))
    digest = hashlib.sha256()
    try:
        with open(real, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except (IOError, OSError):
        return _relative(root, real), None
    return _relative(root, real), digest.hexdigest()


def tool_packages(family):
    """The packages whose versions a proof records: the family's kdump tool, makedumpfile and
    kexec-tools (kdump-tools, kdump-utils or kdump; Fedora/RHEL before the split: kexec-tools)."""
    record = records.get(family)
    return sorted(set(record.packages) | set(record.tool_packages))


def package_versions(family, run, which):
    """``{package: version or None}`` from the package database the host has (dpkg-query or
    rpm, the family's first)."""
    packages = tool_packages(family)
    for name in QUERY_ORDER.get(family, ("dpkg-query", "rpm")):
        binary = which(name) if which else None
        if not binary or run is None:
            continue
        out = {}
        for package in packages:
            rc, text, _err = run([binary] + QUERIES[name] + [package])
            lines = (text or "").strip().splitlines()
            version = lines[0].strip() if rc == 0 and lines else ""
            out[package] = version if _VERSION.match(version) else None
        return out
    return dict((package, None) for package in packages)


def config_files(family):
    """The family's kdump configuration files (the tool's file, and its sysconfig file)."""
    record = records.get(family)
    return [path for path in (record.config, record.sysconfig) if path]


def crashkernel_words(cmdline):
    """The ``crashkernel=`` words of a kernel command line, as written, or None."""
    words = [word for word in (cmdline or "").split() if word.startswith("crashkernel=")]
    return " ".join(words) or None


def target_text(target):
    """A read-back target in words: ``local /var/crash``, ``ssh kdump@dumps:/srv/kdump``."""
    if not target:
        return "-"
    kind = target.get("type") or "local"
    if kind == "ssh":
        port = target.get("ssh_port")
        return "ssh %s%s:%s" % (target.get("ssh"), " port %s" % port if port and port != 22 else "",
                                target.get("path") or "")
    if kind == "nfs":
        return "nfs %s%s" % (target.get("nfs"), "" if (target.get("path") or "/") == "/"
                             else " path %s" % target.get("path"))
    if kind == "raw":
        return "raw %s" % target.get("device")
    if kind == "fs":
        return "%s %s:%s" % (target.get("fstype") or "fs", target.get("device"), target.get("path") or "/")
    return "local %s" % target.get("path")


def boot_time(root):
    """The host's boot time (``btime`` of /proc/stat), or None."""
    try:
        with open(_path(root, "/proc/stat")) as handle:
            for line in handle:
                if line.startswith("btime "):
                    return int(line.split()[1])
    except (IOError, OSError, ValueError, IndexError):
        pass
    return None


def loaded_files(info, root="/"):
    """``(kernel, initrd)`` the capture kernel of this boot was loaded from: what kdump_info
    reports, unless that comes from a kexec_crash record written before this boot - then the
    kdump service loaded at boot, from the family's files for the running kernel."""
    capture = info.get("capture") or {}
    kernel, initrd = capture.get("kernel"), capture.get("initrd")
    if capture.get("recorded"):
        booted = boot_time(root)
        try:
            written = os.path.getmtime(_path(root, LOAD_RECORD))
        except OSError:
            written = None
        if booted is not None and written is not None and written < booted:
            record = records.get(info["family"])
            kernel = record.kernel(info["kernel_release"])
            initrd = record.initrd(info["kernel_release"])
    return kernel, initrd


def basis(info, root="/", run=None, which=None):
    """What a crash test now would prove, from kdump_info's answer ``info`` (status.gather):
    kernel, capture files and their checksums, configuration checksums, tool versions,
    reservation and target."""
    family = info["family"]
    kernel, initrd = loaded_files(info, root)
    kernel_real, kernel_sum = sha256(root, kernel)
    initrd_real, initrd_sum = sha256(root, initrd)
    try:
        with open(_path(root, "/proc/cmdline")) as handle:
            cmdline = handle.read()
    except (IOError, OSError):
        cmdline = ""
    reservation = info.get("reservation") or {}
    return {
        "family": family,
        "kernel_release": info["kernel_release"],
        "capture": {"kernel": kernel_real, "kernel_sha256": kernel_sum,
                    "initrd": initrd_real, "initrd_sha256": initrd_sum},
        "config_sha256": dict((path, sha256(root, path)[1]) for path in config_files(family)),
        "versions": package_versions(family, run, which),
        "reservation": {"reserved_bytes": int(reservation.get("reserved") or 0),
                        "crashkernel": crashkernel_words(cmdline)},
        "target": target_text(info.get("target")),
    }


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


PROVEN_KEYS = ("dump_host", "dump_path", "format", "size", "compression", "dump_level", "crash_time")


def build(basis_, proven, now):
    """The record of a passed crash test: ``basis_`` (taken before the crash) and ``proven``
    (the crash test's result: kernel, dump_host, dump_path, format, size, compression,
    dump_level, crash_time, timings, triggered_at)."""
    for key, kind in (("kernel_release", str), ("family", str), ("capture", dict),
                      ("config_sha256", dict), ("versions", dict), ("reservation", dict)):
        if not isinstance(basis_.get(key), kind):
            raise ProofError("basis: %s is %r; expected a %s (the proof_basis kdump_info returns)"
                             % (key, basis_.get(key), kind.__name__))
    if not isinstance(proven, dict) or not proven.get("dump_path"):
        raise ProofError("proven: %r has no dump_path; expected the result of a passed crash test"
                         % (proven,))
    crashed = proven.get("kernel")
    if crashed and crashed != basis_["kernel_release"]:
        raise ProofError("proven: the dump is of kernel %s but the basis was taken on %s; expected"
                         " the basis of the kernel that crashed" % (crashed, basis_["kernel_release"]))
    record = {"format": FORMAT, "proven_at": int(now), "proven_at_iso": iso(now)}
    record.update((key, basis_[key]) for key in (
        "family", "kernel_release", "capture", "config_sha256", "versions", "reservation"))
    record["target"] = basis_.get("target") or "-"
    record["dump"] = dict((key[5:] if key in ("dump_host", "dump_path") else key, proven.get(key))
                          for key in PROVEN_KEYS)
    record["timings"] = dict(proven.get("timings") or {})
    record["triggered_at"] = proven.get("triggered_at")
    return record


def dumps(record):
    return json.dumps(record, indent=1, sort_keys=True) + "\n"


def write(path, record, move=None):
    """Write ``record`` to ``path`` atomically (a temporary file beside it, then ``move``,
    os.rename by default): the directory 0700, the file 0600, both root-only."""
    move = move or os.rename
    directory = os.path.dirname(path)
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        if os.stat(directory).st_mode & 0o077:
            os.chmod(directory, 0o700)
        handle, tmp = tempfile.mkstemp(dir=directory, prefix=".proof-")
        try:
            with os.fdopen(handle, "w") as out:
                out.write(dumps(record))
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o600)
            move(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        os.chmod(path, 0o600)
    except (IOError, OSError) as exc:
        raise ProofError("cannot write the proof record %s: %s" % (path, exc.strerror or exc))


def read(path):
    """``(record, error)``: the record at ``path``; (None, None) when there is none; (None,
    message) when the file is not a proof record."""
    try:
        with open(path) as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        if not os.path.exists(path):
            return None, None
        return None, "cannot read the proof record %s: %s" % (path, exc.strerror or exc)
    try:
        record = json.loads(text)
    except ValueError as exc:
        return None, "the proof record %s is not JSON (%s); the next passed crash test replaces it" % (
            path, exc)
    if not isinstance(record, dict) or not isinstance(record.get("proven_at"), int) \
            or not isinstance(record.get("kernel_release"), str):
        return None, ("the proof record %s is not one this collection wrote (no proven_at and"
                      " kernel_release); the next passed crash test replaces it" % path)
    return record, None


def _mib(value):
    return "%d MiB" % (int(value or 0) >> 20)


def staleness(record, current):
    """Why ``record`` no longer proves the host as it is (``current``: a basis taken now), in
    plain words; empty when nothing changed."""
    reasons = []
    if current.get("kernel_release") != record.get("kernel_release"):
        reasons.append("the running kernel is %s; the proof is of %s" % (
            current.get("kernel_release"), record.get("kernel_release")))
    old, new = record.get("capture") or {}, current.get("capture") or {}
    for key, noun, verb in (("kernel", "capture kernel", "changed"),
                            ("initrd", "capture initrd", "was rebuilt")):
        if old.get(key) != new.get(key):
            reasons.append("the %s is now %s; the proof used %s" % (
                noun, new.get(key) or "none", old.get(key) or "none"))
        elif new.get(key + "_sha256") is None and old.get(key + "_sha256") is not None:
            reasons.append("the %s %s the proof used does not exist now" % (noun, old.get(key)))
        elif old.get(key + "_sha256") != new.get(key + "_sha256"):
            reasons.append("the %s %s %s since the proof (its sha256 changed)" % (
                noun, new.get(key), verb))
    old, new = record.get("config_sha256") or {}, current.get("config_sha256") or {}
    for path in sorted(set(old) | set(new)):
        if old.get(path) == new.get(path):
            continue
        if new.get(path) is None:
            reasons.append("the configuration %s is gone since the proof" % path)
        elif old.get(path) is None:
            reasons.append("the configuration %s appeared since the proof" % path)
        else:
            reasons.append("the configuration %s changed since the proof" % path)
    old, new = record.get("versions") or {}, current.get("versions") or {}
    for package in sorted(set(old) | set(new)):
        if old.get(package) != new.get(package):
            reasons.append("%s changed: %s -> %s" % (package, old.get(package) or "not installed",
                                                     new.get(package) or "not installed"))
    old, new = record.get("reservation") or {}, current.get("reservation") or {}
    if old.get("reserved_bytes") != new.get("reserved_bytes") or old.get("crashkernel") != new.get("crashkernel"):
        reasons.append("the reservation is now %s (%s); the proof had %s (%s)" % (
            _mib(new.get("reserved_bytes")), new.get("crashkernel") or "no crashkernel=",
            _mib(old.get("reserved_bytes")), old.get("crashkernel") or "no crashkernel="))
    if record.get("target") != current.get("target"):
        reasons.append("the dump target is now %s; the proof's was %s" % (
            current.get("target"), record.get("target")))
    return reasons


def summary(path, current, now):
    """kdump_info's ``proof``, ``proof_stale``, ``proof_stale_reasons`` and the note when the
    file is not a proof record: the record at ``path`` with its age in seconds, compared with
    ``current``."""
    record, error = read(path)
    if record is None:
        return {"proof": None, "proof_stale": None, "proof_stale_reasons": []}, error
    reasons = staleness(record, current)
    proof = dict(record, age_seconds=max(0, int(now) - record["proven_at"]))
    return {"proof": proof, "proof_stale": bool(reasons), "proof_stale_reasons": reasons}, None


def report(info, root="/", run=None, which=None, now=None, path=PROOF_FILE):
    """What kdump_info adds to ``info`` (status.gather's answer): ``proof_basis`` (what a crash
    test now would prove), ``proof``, ``proof_stale`` and ``proof_stale_reasons``; a record that
    cannot be read becomes a note."""
    now = time.time() if now is None else now
    current = basis(info, root, run, which)
    found, error = summary(_path(root, path), current, now)
    found["proof_basis"] = current
    if error:
        found["notes"] = list(info.get("notes") or []) + [error]
    return found
