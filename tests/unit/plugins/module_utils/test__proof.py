# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The proof record: its basis on fixture trees, build, the atomic root-only write, read back,
and every reason it goes stale."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json
import os
import stat

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.capture import proof

MIB = 1 << 20
RELEASE = "6.1.0-50-amd64"
NOW = 1796300000


def tree(tmp_path, family="debian", boot=NOW - 600, load_record_at=None):
    """A host below tmp_path: the running kernel's files, the family's configuration."""
    root = tmp_path / "root"
    files = {
        "debian": {"boot/vmlinuz-%s" % RELEASE: b"kernel", "var/lib/kdump/initrd.img-%s" % RELEASE: b"initrd",
                   "etc/default/kdump-tools": b"USE_KDUMP=1\n"},
        "redhat": {"boot/vmlinuz-%s" % RELEASE: b"kernel", "boot/initramfs-%skdump.img" % RELEASE: b"initrd",
                   "etc/kdump.conf": b"path /var/crash\n", "etc/sysconfig/kdump": b"KEXEC_ARGS=-s\n"},
    }[family]
    files["proc/cmdline"] = b"root=UUID=x ro crashkernel=384M-:128M quiet\n"
    files["proc/stat"] = b"cpu 1 2 3\nbtime %d\n" % boot
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if load_record_at is not None:
        record = root / proof.LOAD_RECORD.lstrip("/")
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text("{}")
        os.utime(str(record), (load_record_at, load_record_at))
    return str(root)


def info(family="debian", **capture):
    record = {"debian": ("/boot/vmlinuz-%s" % RELEASE, "/var/lib/kdump/initrd.img-%s" % RELEASE),
              "redhat": ("/boot/vmlinuz-%s" % RELEASE, "/boot/initramfs-%skdump.img" % RELEASE)}[family]
    out = {"family": family, "kernel_release": RELEASE,
           "capture": dict({"kernel": record[0], "initrd": record[1], "recorded": False}, **capture),
           "reservation": {"reserved": 128 * MIB, "requested": "crashkernel=384M-:128M"},
           "target": {"type": "local", "path": "/var/crash"}, "notes": []}
    return out


class Packages(object):
    """dpkg-query / rpm answers: {package: version}; records the argv it is asked."""

    def __init__(self, versions, have=("dpkg-query",)):
        self.versions, self.have, self.calls = dict(versions), have, []

    def which(self, name):
        return "/usr/bin/" + name if name in self.have else None

    def run(self, argv):
        self.calls.append(argv)
        version = self.versions.get(argv[-1])
        if version is None:
            return 1, "", "dpkg-query: no packages found matching %s\n" % argv[-1]
        return 0, version + ("\n" if "rpm" in argv[0] else ""), ""


DEBIAN_VERSIONS = {"kdump-tools": "1:1.8.1", "kexec-tools": "1:2.0.25-3+b1", "makedumpfile": "1:1.7.2-1"}


def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_the_basis_of_a_debian_host(tmp_path):
    root = tree(tmp_path)
    host = Packages(DEBIAN_VERSIONS)
    found = proof.basis(info(), root, host.run, host.which)
    assert found == {
        "family": "debian", "kernel_release": RELEASE,
        "capture": {"kernel": "/boot/vmlinuz-%s" % RELEASE, "kernel_sha256": sha(b"kernel"),
                    "initrd": "/var/lib/kdump/initrd.img-%s" % RELEASE, "initrd_sha256": sha(b"initrd")},
        "config_sha256": {"/etc/default/kdump-tools": sha(b"USE_KDUMP=1\n")},
        "versions": DEBIAN_VERSIONS,
        "reservation": {"reserved_bytes": 128 * MIB, "crashkernel": "crashkernel=384M-:128M"},
        "target": "local /var/crash",
    }
    # argv lists, one query per package, dpkg-query's own format.
    assert host.calls == [["/usr/bin/dpkg-query", "-W", "-f", "${Version}", name]
                          for name in ("kdump-tools", "kexec-tools", "makedumpfile")]


def test_the_basis_of_a_redhat_host_asks_rpm(tmp_path):
    root = tree(tmp_path, "redhat")
    host = Packages({"kdump-utils": "1.0.54-1.fc42", "kexec-tools": "2.0.30-2.fc42",
                     "makedumpfile": "1.7.6-3.fc42"}, have=("rpm", "dpkg-query"))
    found = proof.basis(info("redhat"), root, host.run, host.which)
    assert sorted(found["config_sha256"]) == ["/etc/kdump.conf", "/etc/sysconfig/kdump"]
    assert found["versions"] == {"kdump-utils": "1.0.54-1.fc42", "kexec-tools": "2.0.30-2.fc42",
                                 "makedumpfile": "1.7.6-3.fc42"}
    assert host.calls[0] == ["/usr/bin/rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}\\n", "kdump-utils"]


def test_no_package_database_and_missing_files(tmp_path):
    root = str(tmp_path / "empty")
    found = proof.basis(info(), root, None, lambda name: None)
    assert found["versions"] == {"kdump-tools": None, "kexec-tools": None, "makedumpfile": None}
    assert found["capture"]["kernel_sha256"] is None and found["capture"]["initrd_sha256"] is None
    assert found["config_sha256"] == {"/etc/default/kdump-tools": None}
    assert found["reservation"]["crashkernel"] is None


def test_a_not_installed_answer_is_none(tmp_path):
    host = Packages({"kdump-tools": "1:1.8.1", "kexec-tools": "", "makedumpfile": "1:1.7.2-1"})
    versions = proof.package_versions("debian", host.run, host.which)
    # dpkg-query -W answers an empty version for a package removed but not purged.
    assert versions == {"kdump-tools": "1:1.8.1", "kexec-tools": None, "makedumpfile": "1:1.7.2-1"}


@pytest.mark.parametrize("written, expected", [
    # A kexec_crash record of this boot: its files.
    (NOW - 60, "/boot/vmlinuz-6.1.0-49-amd64"),
    # One from before this boot: the kdump service loaded the running kernel's files at boot.
    (NOW - 6000, "/boot/vmlinuz-%s" % RELEASE),
])
def test_the_capture_files_of_this_boot(tmp_path, written, expected):
    root = tree(tmp_path, load_record_at=written)
    data = info(kernel="/boot/vmlinuz-6.1.0-49-amd64", initrd="/var/lib/kdump/initrd.img-6.1.0-49-amd64",
                recorded=True)
    assert proof.loaded_files(data, root)[0] == expected


def test_the_kernel_of_a_symlink_is_its_real_file(tmp_path):
    root = tree(tmp_path)
    os.symlink("/boot/vmlinuz-%s" % RELEASE, os.path.join(root, "boot", "vmlinuz"))
    os.symlink("vmlinuz-%s" % RELEASE, os.path.join(root, "boot", "vmlinuz.rel"))
    found = proof.basis(info(kernel="/boot/vmlinuz.rel"), root, None, None)
    assert found["capture"]["kernel"] == "/boot/vmlinuz-%s" % RELEASE


PROVEN = {"kernel": RELEASE, "dump_host": "web1", "dump_path": "/var/crash/202612031010/dump.202612031010",
          "format": "kdump", "size": 46011556, "compression": "lzo", "dump_level": 31,
          "crash_time": 1796299990, "timings": {"trigger_to_down": 3.1, "trigger_to_back": 61.2},
          "triggered_at": 1796299988}


def basis_now(tmp_path):
    host = Packages(DEBIAN_VERSIONS)
    return proof.basis(info(), tree(tmp_path), host.run, host.which)


def test_build_the_record(tmp_path):
    current = basis_now(tmp_path)
    record = proof.build(current, PROVEN, NOW)
    assert record["format"] == 1
    assert record["proven_at"] == NOW and record["proven_at_iso"] == "2026-12-03T12:13:20Z"
    assert record["kernel_release"] == RELEASE and record["capture"] == current["capture"]
    assert record["dump"] == {"host": "web1", "path": PROVEN["dump_path"], "format": "kdump",
                              "size": 46011556, "compression": "lzo", "dump_level": 31,
                              "crash_time": 1796299990}
    assert record["timings"] == PROVEN["timings"] and record["triggered_at"] == 1796299988
    assert record["target"] == "local /var/crash"
    assert proof.staleness(record, current) == []


@pytest.mark.parametrize("basis_, proven, message", [
    ({}, PROVEN, "basis: kernel_release is None; expected a str"),
    ("basis", PROVEN, None),
    (None, {"kernel": RELEASE}, "proven: .* has no dump_path"),
    (None, dict(PROVEN, kernel="6.1.0-51-amd64"),
     "the dump is of kernel 6.1.0-51-amd64 but the basis was taken on 6.1.0-50-amd64"),
])
def test_build_refuses(tmp_path, basis_, proven, message):
    current = basis_now(tmp_path) if basis_ is None else basis_
    if isinstance(current, str):
        current = dict(basis_now(tmp_path), versions="1.0")
        message = "basis: versions is '1.0'; expected a dict"
    with pytest.raises(proof.ProofError, match=message):
        proof.build(current, proven, NOW)


def test_write_is_root_only_and_atomic(tmp_path):
    directory = tmp_path / "state"
    directory.mkdir(mode=0o755)
    path = str(directory / "proof.json")
    moves = []

    def move(src, dst):
        moves.append((os.path.dirname(src), dst))
        os.rename(src, dst)

    record = proof.build(basis_now(tmp_path), PROVEN, NOW)
    proof.write(path, record, move=move)
    assert moves == [(str(directory), path)]          # a temporary file beside it, then a rename
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(directory)).st_mode) == 0o700
    assert os.listdir(str(directory)) == ["proof.json"]
    assert proof.read(path) == (record, None)
    # A new directory is made root-only too.
    deeper = str(tmp_path / "new" / "dir" / "proof.json")
    proof.write(deeper, record)
    assert stat.S_IMODE(os.stat(os.path.dirname(deeper)).st_mode) == 0o700


def test_a_failed_write_names_the_file_and_leaves_nothing(tmp_path):
    directory = tmp_path / "state"
    directory.mkdir()
    path = str(directory / "proof.json")

    def move(src, dst):
        raise OSError(28, "No space left on device")

    with pytest.raises(proof.ProofError, match="cannot write the proof record %s: No space left on device" % path):
        proof.write(path, {"proven_at": 1}, move=move)
    assert os.listdir(str(directory)) == []


@pytest.mark.parametrize("text, error", [
    (None, None),
    ("{not json", "is not JSON"),
    ('["a list"]', "is not one this collection wrote"),
    ('{"proven_at": "yesterday", "kernel_release": "x"}', "is not one this collection wrote"),
])
def test_read_what_is_not_a_record(tmp_path, text, error):
    path = tmp_path / "proof.json"
    if text is not None:
        path.write_text(text)
    record, found = proof.read(str(path))
    assert record is None
    if error is None:
        assert found is None
    else:
        assert str(path) in found and error in found


def changed(current, change):
    new = copy.deepcopy(current)
    change(new)
    return new


def _set(path, value):
    def change(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


STALE = [
    ("kernel_release", _set(["kernel_release"], "6.1.0-51-amd64"),
     "the running kernel is 6.1.0-51-amd64; the proof is of 6.1.0-50-amd64"),
    ("initrd rebuilt", _set(["capture", "initrd_sha256"], "0" * 64),
     "the capture initrd /var/lib/kdump/initrd.img-6.1.0-50-amd64 was rebuilt since the proof (its sha256 changed)"),
    ("initrd gone", _set(["capture", "initrd_sha256"], None),
     "the capture initrd /var/lib/kdump/initrd.img-6.1.0-50-amd64 the proof used does not exist now"),
    ("kernel changed", _set(["capture", "kernel_sha256"], "1" * 64),
     "the capture kernel /boot/vmlinuz-6.1.0-50-amd64 changed since the proof (its sha256 changed)"),
    ("another kernel", _set(["capture", "kernel"], "/boot/vmlinuz-6.1.0-51-amd64"),
     "the capture kernel is now /boot/vmlinuz-6.1.0-51-amd64; the proof used /boot/vmlinuz-6.1.0-50-amd64"),
    ("config", _set(["config_sha256", "/etc/default/kdump-tools"], "2" * 64),
     "the configuration /etc/default/kdump-tools changed since the proof"),
    ("config gone", _set(["config_sha256", "/etc/default/kdump-tools"], None),
     "the configuration /etc/default/kdump-tools is gone since the proof"),
    ("tool", _set(["versions", "makedumpfile"], "1:1.7.7-1"),
     "makedumpfile changed: 1:1.7.2-1 -> 1:1.7.7-1"),
    ("tool removed", _set(["versions", "kdump-tools"], None),
     "kdump-tools changed: 1:1.8.1 -> not installed"),
    ("reservation", _set(["reservation"], {"reserved_bytes": 192 * MIB, "crashkernel": "crashkernel=512M-:192M"}),
     "the reservation is now 192 MiB (crashkernel=512M-:192M); the proof had 128 MiB (crashkernel=384M-:128M)"),
    ("target", _set(["target"], "ssh kdump@dumps:/srv/kdump"),
     "the dump target is now ssh kdump@dumps:/srv/kdump; the proof's was local /var/crash"),
]


@pytest.mark.parametrize("name, change, reason", STALE, ids=[case[0] for case in STALE])
def test_each_change_is_one_reason(tmp_path, name, change, reason):
    current = basis_now(tmp_path)
    record = proof.build(current, PROVEN, NOW)
    assert proof.staleness(record, changed(current, change)) == [reason]


def test_a_config_file_that_appeared(tmp_path):
    current = basis_now(tmp_path)
    record = proof.build(current, PROVEN, NOW)
    later = changed(current, _set(["config_sha256", "/etc/sysconfig/kdump"], "3" * 64))
    assert proof.staleness(record, later) == ["the configuration /etc/sysconfig/kdump appeared since the proof"]


def test_a_rebuilt_initrd_on_disk_is_found(tmp_path):
    """Through the files, not the dicts: the kdump initrd is rebuilt after the proof."""
    root = tree(tmp_path)
    host = Packages(DEBIAN_VERSIONS)
    record = proof.build(proof.basis(info(), root, host.run, host.which), PROVEN, NOW)
    with open(os.path.join(root, "var/lib/kdump/initrd.img-%s" % RELEASE), "wb") as handle:
        handle.write(b"rebuilt initrd")
    reasons = proof.staleness(record, proof.basis(info(), root, host.run, host.which))
    assert reasons == ["the capture initrd /var/lib/kdump/initrd.img-%s was rebuilt since the proof"
                       " (its sha256 changed)" % RELEASE]


def test_report_adds_the_proof_with_its_age(tmp_path):
    root = tree(tmp_path)
    host = Packages(DEBIAN_VERSIONS)
    data = info()
    assert proof.report(data, root, host.run, host.which, now=NOW) == {
        "proof": None, "proof_stale": None, "proof_stale_reasons": [],
        "proof_basis": proof.basis(data, root, host.run, host.which)}
    record = proof.build(proof.basis(data, root, host.run, host.which), PROVEN, NOW - 7200)
    proof.write(os.path.join(root, proof.PROOF_FILE.lstrip("/")), record)
    found = proof.report(data, root, host.run, host.which, now=NOW)
    assert found["proof"] == dict(record, age_seconds=7200)
    assert found["proof_stale"] is False and found["proof_stale_reasons"] == []
    host.versions["makedumpfile"] = "1:1.7.7-1"
    found = proof.report(data, root, host.run, host.which, now=NOW)
    assert found["proof_stale"] is True
    assert found["proof_stale_reasons"] == ["makedumpfile changed: 1:1.7.2-1 -> 1:1.7.7-1"]


def test_report_notes_a_broken_record(tmp_path):
    root = tree(tmp_path)
    path = os.path.join(root, proof.PROOF_FILE.lstrip("/"))
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        handle.write("garbage")
    found = proof.report(info(), root, None, None, now=NOW)
    assert found["proof"] is None and found["proof_stale"] is None
    assert found["notes"][-1].startswith("the proof record %s is not JSON" % path)


def test_the_record_is_json_a_person_can_read(tmp_path):
    text = proof.dumps(proof.build(basis_now(tmp_path), PROVEN, NOW))
    assert text.endswith("}\n") and json.loads(text)["kernel_release"] == RELEASE
    assert '\n "capture": {' in text          # indented, keys sorted


@pytest.mark.parametrize("target, text", [
    (None, "-"),
    ({"type": "local", "path": "/var/crash"}, "local /var/crash"),
    ({"type": "nfs", "nfs": "nfs1:/export", "path": "/clients"}, "nfs nfs1:/export path /clients"),
    ({"type": "fs", "fstype": "xfs", "device": "LABEL=dumps", "path": "/crash"}, "xfs LABEL=dumps:/crash"),
])
def test_target_text(target, text):
    assert proof.target_text(target) == text
