# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""kdump_target run for real on this machine.

The machine running the tests must not get its kdump configuration changed, so
what runs here is the pre-flight (``state: checked``, real statvfs, real
devices, real mount and ssh commands) and check mode; writing the native files
and crashing into each target type is done on lab VMs by the Molecule scenarios
``ssh``, ``nfs`` and ``raw``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

import pytest

from ansible_run import play


def task(check_mode=False, **args):
    out = {"crashdump.kdump.kdump_target": args}
    if check_mode:
        out["check_mode"] = True
    return out


def test_local_preflight_measures_the_real_filesystem(tmp_path):
    directory = tmp_path / "dumps"
    rc, results = play(tmp_path, [task(state="checked", family="debian", path=str(directory))])
    assert rc == 0, results
    result = results[0]
    assert result["changed"] is False and result["files"] == []
    assert [c["check"] for c in result["preflight"]] == ["writable", "space"]
    assert all(c["ok"] for c in result["preflight"])
    assert result["expected_dump_size"] > 64 << 20
    assert not directory.exists()


@pytest.mark.parametrize("path", ["/etc", "/var/crash/../../usr"])
def test_a_system_directory_is_refused_before_any_check(tmp_path, path):
    rc, results = play(tmp_path, [task(state="checked", family="debian", path=path)])
    assert rc != 0 and results[0]["status"] == "fatal"
    assert "is a system directory" in results[0]["msg"]


def test_a_link_to_a_system_directory_is_refused(tmp_path):
    # The module makes the dump directory root's and 0700: through a link that would be /etc.
    link = tmp_path / "dumps"
    link.symlink_to("/etc")
    before = os.stat("/etc")
    rc, results = play(tmp_path, [task(state="checked", family="debian", path=str(link))])
    assert rc != 0 and results[0]["status"] == "fatal"
    assert "dump directory %s (resolved) /etc: /etc is a system directory" % link in results[0]["msg"]
    after = os.stat("/etc")
    assert (after.st_mode, after.st_uid) == (before.st_mode, before.st_uid)


def test_the_family_is_read_from_os_release(tmp_path):
    rc, results = play(tmp_path, [task(state="checked", path=str(tmp_path))])
    assert rc == 0, results
    assert results[0]["family"] in ("debian", "redhat", "suse")


def test_full_local_target_fails_and_names_it(tmp_path):
    rc, results = play(tmp_path, [task(state="checked", family="debian", path=str(tmp_path),
                                       required_space="1P")])
    assert rc != 0
    assert results[0]["status"] == "fatal"
    assert "local target %s:" % tmp_path in results[0]["msg"]
    assert "the dump may need 1024.0 TiB" in results[0]["msg"]


def test_raw_preflight_refuses_a_character_device(tmp_path):
    rc, results = play(tmp_path, [task(state="checked", family="redhat", type="raw",
                                       device="/dev/null")])
    assert rc != 0
    assert "raw target /dev/null: /dev/null is not a block device" in results[0]["msg"]


def test_nfs_preflight_reports_the_mount_failure(tmp_path):
    # Nothing serves NFS on loopback here: the mount must fail, quickly, and be reported.
    rc, results = play(tmp_path, [task(state="checked", family="debian", type="nfs",
                                       nfs="127.0.0.1:/nonexistent", path="/")])
    assert rc != 0
    assert "cannot mount 127.0.0.1:/nonexistent" in results[0]["msg"]
    assert not [line for line in open("/proc/mounts") if "crashdump-kdump-nfs" in line]


def test_ssh_preflight_needs_the_key(tmp_path):
    key = tmp_path / "missing_key"
    rc, results = play(tmp_path, [task(state="checked", family="debian", type="ssh",
                                       ssh="kdump@127.0.0.1", ssh_key=str(key))])
    assert rc != 0
    assert "the private key %s does not exist" % key in results[0]["msg"]


def test_ssh_preflight_never_accepts_an_unknown_host_key(tmp_path):
    key = tmp_path / "kdump_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    rc, results = play(tmp_path, [task(state="checked", family="debian", type="ssh",
                                       ssh="kdump@127.0.0.1", ssh_port=2222, ssh_key=str(key))])
    assert rc != 0
    assert [c["check"] for c in results[0]["preflight"]] == ["host_key"]
    assert "the host key of [127.0.0.1]:2222 is not pinned" in results[0]["msg"]


def test_writing_needs_the_package(tmp_path):
    if os.path.exists("/etc/default/kdump-tools"):
        pytest.skip("kdump-tools is installed on this machine")
    rc, results = play(tmp_path, [task(check_mode=True, family="debian", preflight=False)])
    assert rc != 0
    assert "/etc/default/kdump-tools does not exist: install kdump-tools first" in results[0]["msg"]


@pytest.mark.parametrize("args, fragment", [
    ({"type": "fs"}, "type is fs but all of the following are missing: device"),
    ({"type": "ssh", "ssh": "no-user-here"}, "expected USER@HOST"),
    ({"path": "/var/crash; reboot"}, "path: '/var/crash; reboot' is not valid"),
    ({"dump_level": 40}, "dump_level: 40"),
    ({"dump_dir_mode": "rwx"}, "dump_dir_mode: 'rwx' is not a permission mode"),
    ({"required_space": "lots"}, "required_space:"),
    ({"family": "debian", "type": "raw", "device": "/dev/vdb", "preflight": False},
     "a raw device target is not supported by kdump-tools"),
])
def test_bad_input_fails_cleanly(tmp_path, args, fragment):
    args = dict(args)
    args.setdefault("family", "debian")
    args.setdefault("state", "checked")
    rc, results = play(tmp_path, [task(**args)])
    assert rc != 0
    assert results[0]["status"] == "fatal"
    assert fragment in results[0]["msg"], results[0]["msg"]
    assert "Traceback" not in results[0].get("module_stderr", "")
