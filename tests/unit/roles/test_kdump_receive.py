# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The dump server's forced command, run as sshd runs it: SSH_ORIGINAL_COMMAND, stdin."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "dump_server", "files",
                      "kdump-receive")


def receive(root, command, stdin=b""):
    env = dict(os.environ, SSH_ORIGINAL_COMMAND=command)
    return subprocess.run([sys.executable, SCRIPT, str(root)], input=stdin, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "dumps"
    path.mkdir()
    return path


def test_kdump_tools_sequence(root):
    """What kdump-config savecore sends over SSH, in order."""
    stamp = root / "10.0.2.15-202611261000"
    assert receive(root, "mkdir -p %s" % stamp).returncode == 0
    result = receive(root, "dd of=%s/dump-incomplete" % stamp, b"KDUMP   data")
    assert result.returncode == 0, result.stderr
    assert receive(root, "mv %s/dump-incomplete %s/dump.202611261000" % (stamp, stamp)).returncode == 0
    dump = stamp / "dump.202611261000"
    assert dump.read_bytes() == b"KDUMP   data"
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert stat.S_IMODE(stamp.stat().st_mode) == 0o700


def test_kdumpctl_sequence(root):
    """What kdump-utils sends: a umask prefix, dd with a block size, single-quoted paths."""
    stamp = root / "10.0.2.15-2026-11-26-10:00:00"
    assert receive(root, "mkdir -p '%s'" % stamp).returncode == 0
    result = receive(root, "umask 0077 && dd bs=512 of='%s/vmcore-incomplete'" % stamp, b"x" * 5000)
    assert result.returncode == 0, result.stderr
    assert receive(root, "mv '%s/vmcore-incomplete' '%s/vmcore.flat'" % (stamp, stamp)).returncode == 0
    assert (stamp / "vmcore.flat").stat().st_size == 5000


def test_df_of_a_directory_not_created_yet(root):
    result = receive(root, "df -Pk %s/not/yet" % root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("Filesystem") and len(lines) == 2


def test_ls(root):
    (root / "a").mkdir()
    result = receive(root, "ls -1 %s" % root)
    assert result.stdout.decode().split() == ["a"]


@pytest.mark.parametrize("command", [
    "cat /etc/shadow", "sh -c id", "rm -rf /", "mkdir /tmp/x", "mkdir -p /tmp/x",
    "mkdir -p {root}/../escape", "dd of=/tmp/owned", "dd if=/etc/shadow of={root}/x",
    "mv {root}/a /tmp/a", "ls /etc", "df /", "scp -f {root}/x", "scp -r -t {root}",
    "mkdir -p {root}/x; reboot", "umask 0000 && dd of={root}/x", "", "'unterminated",
    "dd of={root}/link/x",
])
def test_everything_else_is_refused(root, tmp_path, command):
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    (root / "a").write_text("a")
    result = receive(root, command.format(root=root))
    assert result.returncode == 1
    assert result.stderr.decode().startswith("kdump-receive: ")
    assert list(outside.iterdir()) == []
    assert not os.path.exists("/tmp/owned")


def test_symlinked_file_is_not_followed(root, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (root / "dump").symlink_to(victim)
    result = receive(root, "dd of=%s/dump" % root, b"overwrite")
    assert result.returncode == 1
    assert victim.read_text() == "keep"


def test_needs_an_absolute_root(root):
    env = dict(os.environ, SSH_ORIGINAL_COMMAND="ls")
    result = subprocess.run([sys.executable, SCRIPT, "relative"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, check=False)
    assert result.returncode == 1 and b"usage" in result.stderr
