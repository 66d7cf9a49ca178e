# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import stat

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.target.plan import (
    DEBIAN_CONF,
    Target,
    plan,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.preflight import (
    NFS_OPTIONS,
    parse_df,
    preflight,
)

GIB = 1 << 30
MIB = 1 << 20
KDUMP_TOOLS = 'KDUMP_COREDIR="/var/crash"\n'
FSTAB = "LABEL=kdump /srv/dumps ext4 defaults 0 2\n"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEGsCJq0F4VWxm1xC0jXbmE0LEKQ8n4Ob7I0XkKyW3Gj"


class FakeSystem(object):
    def __init__(self, exists=(), modes=None, free=None, readonly=(), unwritable=(), files=None,
                 dirs=None, probe_error=None):
        self.paths = set(exists)
        self.modes = modes or {}
        self.free = free or {}
        self.readonly = set(readonly)
        self.unwritable = set(unwritable)
        self.files = files or {}
        self.dirs = dirs or {}
        self.probe_error = probe_error
        self.probed = []
        self.removed = []

    def exists(self, path):
        return path in self.paths or path in self.files

    def realpath(self, path):
        return {"/dev/disk/by-label/raw": "/dev/vdb"}.get(path, path)

    def lstat_mode(self, path):
        return self.modes[path]

    def statvfs(self, path):
        return self.free.get(path, 0), path in self.readonly

    def writable(self, path):
        return path not in self.unwritable

    def read(self, path):
        return self.files.get(path)

    def listdir(self, path):
        return self.dirs.get(path, [])

    def mkdtemp(self):
        self.paths.add("/tmp/mnt")
        return "/tmp/mnt"

    def rmdir(self, path):
        self.removed.append(path)

    def probe(self, directory):
        self.probed.append(directory)
        return self.probe_error


class FakeRun(object):
    """Answers commands by their first words; records every argv."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        for prefix, answer in self.answers:
            if argv[:len(prefix)] == prefix:
                return answer
        raise AssertionError("unexpected command %r" % argv)


def planned(target, family="debian", fstab=FSTAB):
    files = {DEBIAN_CONF: KDUMP_TOOLS}
    if family == "redhat":
        files = {"/etc/kdump.conf": "path /var/crash\n"}
    return plan(family, target, files, dict(compressions={"zlib"}, fstab=fstab))


def failed(checks):
    return [c for c in checks if not c["ok"]]


def no_run(argv):
    raise AssertionError("no command expected, got %r" % argv)


# --- local and fs ----------------------------------------------------------------


def test_local_passes_with_space_and_write_access():
    target = Target(type="local", path="/var/crash/sub")
    system = FakeSystem(exists=["/var/crash"], free={"/var/crash": 5 * GIB})
    checks = preflight("debian", target, planned(target), GIB, no_run, system=system)
    assert failed(checks) == []
    assert [c["check"] for c in checks] == ["writable", "space"]


def test_local_full_target_names_the_sizes():
    target = Target(type="local")
    system = FakeSystem(exists=["/var/crash"], free={"/var/crash": 100 * MIB})
    (bad,) = failed(preflight("debian", target, planned(target), GIB, no_run, system=system))
    assert bad["check"] == "space"
    assert "local target /var/crash: 100.0 MiB free" in bad["message"]
    assert "may need 1.0 GiB" in bad["message"]


def test_local_read_only_filesystem():
    target = Target(type="local")
    system = FakeSystem(exists=["/var/crash"], free={"/var/crash": 5 * GIB},
                        readonly=["/var/crash"])
    (bad,) = failed(preflight("debian", target, planned(target), GIB, no_run, system=system))
    assert bad["check"] == "writable" and "read-only" in bad["message"]


def test_local_not_writable_by_root():
    target = Target(type="local")
    system = FakeSystem(exists=["/var/crash"], free={"/var/crash": 5 * GIB},
                        unwritable=["/var/crash"])
    (bad,) = failed(preflight("debian", target, planned(target), GIB, no_run, system=system))
    assert "not writable by root" in bad["message"]


def test_fs_must_be_mounted_now_to_measure_it():
    target = Target(type="fs", device="LABEL=kdump", path="/d")
    system = FakeSystem(files={"/proc/mounts": "/dev/vda1 / ext4 rw 0 0\n"})
    (bad,) = failed(preflight("debian", target, planned(target), GIB, no_run, system=system))
    assert bad["check"] == "mounted"
    assert "fs target LABEL=kdump:/d (mounted on /srv/dumps)" in bad["message"]
    assert "mount /srv/dumps" in bad["message"]


def test_fs_mounted_measures_its_own_filesystem():
    target = Target(type="fs", device="LABEL=kdump", path="/d")
    system = FakeSystem(exists=["/srv/dumps"], free={"/srv/dumps": 3 * GIB},
                        files={"/proc/mounts": "/dev/vdb /srv/dumps ext4 rw 0 0\n"})
    assert failed(preflight("debian", target, planned(target), GIB, no_run, system=system)) == []


def test_fs_on_kdump_conf_without_fstab_entry():
    target = Target(type="fs", device="/dev/vdb", fstype="xfs")
    change = planned(target, family="redhat", fstab="")
    (bad,) = failed(preflight("redhat", target, change, GIB, no_run, system=FakeSystem()))
    assert "not in /etc/fstab" in bad["message"]


# --- raw ---------------------------------------------------------------------------


def raw_system(mounts="", swaps="Filename Type Size Used Priority\n", sectors=str(4 * GIB // 512),
               mode=stat.S_IFBLK | 0o660):
    return FakeSystem(exists=["/dev/vdb"], modes={"/dev/vdb": mode},
                      files={"/proc/mounts": mounts, "/proc/swaps": swaps,
                             "/sys/class/block/vdb/size": sectors},
                      dirs={"/sys/class/block/vdb": ["vdb1", "size", "queue"]})


def raw_target():
    return Target(type="raw", device="/dev/vdb")


def test_raw_passes():
    change = planned(raw_target(), family="redhat")
    checks = preflight("redhat", raw_target(), change, GIB, no_run, system=raw_system())
    assert failed(checks) == []
    assert "holds 4.0 GiB" in checks[-1]["message"]


def test_raw_missing_device():
    change = planned(raw_target(), family="redhat")
    (bad,) = failed(preflight("redhat", raw_target(), change, GIB, no_run, system=FakeSystem()))
    assert bad["message"] == ("raw target /dev/vdb: /dev/vdb does not exist; give the path of the"
                              " block device to dump to")


def test_raw_not_a_block_device():
    change = planned(raw_target(), family="redhat")
    system = raw_system(mode=stat.S_IFREG | 0o600)
    (bad,) = failed(preflight("redhat", raw_target(), change, GIB, no_run, system=system))
    assert "is not a block device" in bad["message"]


def test_raw_partition_mounted():
    change = planned(raw_target(), family="redhat")
    system = raw_system(mounts="/dev/vdb1 /data ext4 rw 0 0\n")
    (bad,) = failed(preflight("redhat", raw_target(), change, GIB, no_run, system=system))
    assert bad["check"] == "unused" and "mounted on /data" in bad["message"]


def test_raw_used_as_swap():
    change = planned(raw_target(), family="redhat")
    system = raw_system(swaps="Filename Type Size Used Priority\n/dev/vdb partition 1 0 -2\n")
    (bad,) = failed(preflight("redhat", raw_target(), change, GIB, no_run, system=system))
    assert "swap" in bad["message"]


def test_raw_too_small():
    change = planned(raw_target(), family="redhat")
    system = raw_system(sectors=str(256 * MIB // 512))
    (bad,) = failed(preflight("redhat", raw_target(), change, GIB, no_run, system=system))
    assert "holds 256.0 MiB, the dump may need 1.0 GiB; give a larger device" in bad["message"]


# --- nfs ---------------------------------------------------------------------------


def nfs_target():
    return Target(type="nfs", nfs="10.0.2.2:/srv/kdump", path="/clients")


def test_nfs_debian_mounts_what_kdump_tools_mounts_and_cleans_up():
    run = FakeRun([(["mount"], (0, "", "")), (["umount"], (0, "", ""))])
    system = FakeSystem(free={"/tmp/mnt": 10 * GIB})
    checks = preflight("debian", nfs_target(), planned(nfs_target()), GIB, run, system=system)
    assert failed(checks) == []
    assert run.calls == [["mount", "-t", "nfs", "-o", NFS_OPTIONS, "10.0.2.2:/srv/kdump/clients",
                          "/tmp/mnt"], ["umount", "/tmp/mnt"]]
    assert system.probed == ["/tmp/mnt"] and system.removed == ["/tmp/mnt"]


def test_nfs_redhat_mounts_the_export_and_checks_the_path_below():
    run = FakeRun([(["mount"], (0, "", "")), (["umount"], (0, "", ""))])
    system = FakeSystem(exists=["/tmp/mnt/clients"], free={"/tmp/mnt/clients": 10 * GIB})
    change = planned(nfs_target(), family="redhat")
    assert failed(preflight("redhat", nfs_target(), change, GIB, run, system=system)) == []
    assert run.calls[0][-2:] == ["10.0.2.2:/srv/kdump", "/tmp/mnt"]
    assert system.probed == ["/tmp/mnt/clients"]


def test_nfs_unreachable_server():
    run = FakeRun([(["mount"], (32, "", "mount.nfs: Connection refused"))])
    system = FakeSystem()
    (bad,) = failed(preflight("debian", nfs_target(), planned(nfs_target()), GIB, run,
                              system=system))
    assert bad["check"] == "mount"
    assert "nfs target nfs:10.0.2.2:/srv/kdump/clients: cannot mount" in bad["message"]
    assert "Connection refused" in bad["message"]
    assert system.removed == ["/tmp/mnt"]


def test_nfs_root_squashed():
    run = FakeRun([(["mount"], (0, "", "")), (["umount"], (0, "", ""))])
    system = FakeSystem(free={"/tmp/mnt": 10 * GIB}, probe_error="[Errno 13] Permission denied")
    (bad,) = failed(preflight("debian", nfs_target(), planned(nfs_target()), GIB, run,
                              system=system))
    assert "no_root_squash" in bad["message"]
    assert run.calls[-1] == ["umount", "/tmp/mnt"]


def test_nfs_full_export():
    run = FakeRun([(["mount"], (0, "", "")), (["umount"], (0, "", ""))])
    system = FakeSystem(free={"/tmp/mnt": 10 * MIB})
    (bad,) = failed(preflight("debian", nfs_target(), planned(nfs_target()), GIB, run,
                              system=system))
    assert bad["check"] == "space"


def test_nfs_unmount_failure_is_reported():
    run = FakeRun([(["mount"], (0, "", "")), (["umount"], (16, "", "target is busy"))])
    system = FakeSystem(free={"/tmp/mnt": 10 * GIB})
    (bad,) = failed(preflight("debian", nfs_target(), planned(nfs_target()), GIB, run,
                              system=system))
    assert bad["check"] == "unmount" and "target is busy" in bad["message"]


# --- ssh ---------------------------------------------------------------------------


def ssh_target(**extra):
    options = dict(type="ssh", ssh="kdump@10.0.2.2", ssh_port=2222,
                   ssh_key="/root/.ssh/kdump_id_ed25519", path="/srv/kdump")
    options.update(extra)
    return Target(**options)


KEY_OK = FakeSystem(exists=["/root/.ssh/kdump_id_ed25519"],
                    modes={"/root/.ssh/kdump_id_ed25519": stat.S_IFREG | 0o600})
SSH_BASE = ["ssh", "-i", "/root/.ssh/kdump_id_ed25519", "-p", "2222", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/tmp/known",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
            "-o", "ConnectTimeout=15", "kdump@10.0.2.2"]
DF = ("Filesystem     1024-blocks    Used Available Capacity Mounted on\n"
      "/dev/vda1          4058224 1800000   2048000      47% /\n")


def ssh_run(**overrides):
    answers = dict(keygen=(0, "# Host [10.0.2.2]:2222 found: line 1\n[10.0.2.2]:2222 ssh-ed25519 A\n", ""),
                   mkdir=(0, "", ""), df=(0, DF, ""))
    answers.update(overrides)
    return FakeRun([
        (["ssh-keygen", "-F", "[10.0.2.2]:2222", "-f", "/tmp/known"], answers["keygen"]),
        (SSH_BASE + ["mkdir", "-p", "/srv/kdump"], answers["mkdir"]),
        (SSH_BASE + ["df", "-Pk", "/srv/kdump"], answers["df"]),
    ])


def ssh_check(run, system=KEY_OK, target=None, need=GIB):
    target = target or ssh_target()
    return preflight("debian", target, planned(target), need, run, known_hosts="/tmp/known",
                     system=system)


def test_ssh_passes_and_uses_exactly_these_commands():
    run = ssh_run()
    checks = ssh_check(run)
    assert failed(checks) == []
    assert [c["check"] for c in checks] == ["host_key", "login", "space"]
    assert run.calls == [["ssh-keygen", "-F", "[10.0.2.2]:2222", "-f", "/tmp/known"],
                         SSH_BASE + ["mkdir", "-p", "/srv/kdump"],
                         SSH_BASE + ["df", "-Pk", "/srv/kdump"]]


def test_ssh_missing_key():
    (bad,) = failed(ssh_check(ssh_run(), system=FakeSystem()))
    assert bad["check"] == "key" and "ssh-keygen -t ed25519" in bad["message"]


def test_ssh_key_readable_by_others():
    system = FakeSystem(exists=["/root/.ssh/kdump_id_ed25519"],
                        modes={"/root/.ssh/kdump_id_ed25519": stat.S_IFREG | 0o644})
    (bad,) = failed(ssh_check(ssh_run(), system=system))
    assert "chmod 600" in bad["message"]


def test_ssh_unknown_host_key_is_never_accepted():
    run = ssh_run(keygen=(1, "", ""))
    (bad,) = failed(ssh_check(run))
    assert bad["check"] == "host_key"
    assert "ssh target ssh:kdump@10.0.2.2:/srv/kdump port 2222" in bad["message"]
    assert "not pinned" in bad["message"] and "never accepted" in bad["message"]
    assert len(run.calls) == 1   # no login attempted


def test_ssh_changed_host_key():
    run = ssh_run(mkdir=(255, "", "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\n"
                                  "Host key verification failed."))
    (bad,) = failed(ssh_check(run))
    assert "differs from the pinned one" in bad["message"]


def test_ssh_key_not_authorized():
    run = ssh_run(mkdir=(255, "", "kdump@10.0.2.2: Permission denied (publickey)."))
    (bad,) = failed(ssh_check(run))
    assert "kdump_id_ed25519.pub is not authorized for kdump" in bad["message"]


def test_ssh_unreachable_server():
    run = ssh_run(mkdir=(255, "", "ssh: connect to host 10.0.2.2 port 2222: Connection refused"))
    (bad,) = failed(ssh_check(run))
    assert bad["check"] == "login" and "cannot connect" in bad["message"]
    assert "Connection refused" in bad["message"]


def test_ssh_forced_command_refuses():
    run = ssh_run(mkdir=(1, "", "kdump-receive: /etc is outside the dump directory"))
    (bad,) = failed(ssh_check(run))
    assert "refused mkdir -p /srv/kdump" in bad["message"]


def test_ssh_remote_full():
    (bad,) = failed(ssh_check(ssh_run(), need=4 * GIB))
    assert bad["check"] == "space" and "2.0 GiB free in /srv/kdump on 10.0.2.2" in bad["message"]


def test_ssh_df_unreadable():
    (bad,) = failed(ssh_check(ssh_run(df=(1, "", "df: not allowed"))))
    assert "cannot read the free space" in bad["message"]


@pytest.mark.parametrize("text,expected", [
    (DF, 2048000 * 1024), ("", None), ("Filesystem\n/dev/x 1 2 three 4% /\n", None)])
def test_parse_df(text, expected):
    assert parse_df(text) == expected
