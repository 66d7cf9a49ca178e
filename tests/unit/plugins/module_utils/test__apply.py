# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The file applier: check every new file first, replace atomically, put back on failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import stat
import subprocess

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.common.apply import Applier, ApplyError


class FakeModule(object):
    def __init__(self):
        self.backups = []

    def run_command(self, argv, environ_update=None):
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, check=False)
        return out.returncode, out.stdout, out.stderr

    def atomic_move(self, src, dest):
        os.rename(src, dest)

    def backup_local(self, path):
        copy = path + ".bak"
        shutil.copy(path, copy)
        self.backups.append(copy)
        return copy


def test_replace_create_delete_with_modes_and_backups(tmp_path):
    keep = tmp_path / "conf"
    keep.write_text("A=1\n")
    keep.chmod(0o640)
    gone = tmp_path / "old"
    gone.write_text("x")
    new = tmp_path / "sub" / "known_hosts"
    applier = Applier(FakeModule())
    backups = applier.replace_files({str(keep): "A=2\n", str(gone): None, str(new): "h k\n"},
                                    validate={str(keep): ["sh", "-n"]}, backup=True,
                                    modes={str(new): 0o600})
    assert keep.read_text() == "A=2\n" and stat.S_IMODE(keep.stat().st_mode) == 0o640
    assert not gone.exists()
    assert new.read_text() == "h k\n" and stat.S_IMODE(new.stat().st_mode) == 0o600
    assert sorted(os.path.basename(b) for b in backups) == ["conf.bak", "old.bak"]
    applier.restore()
    assert keep.read_text() == "A=1\n" and gone.read_text() == "x" and not new.exists()


def test_a_file_that_fails_its_check_changes_nothing(tmp_path):
    conf = tmp_path / "conf"
    conf.write_text("A=1\n")
    other = tmp_path / "other"
    applier = Applier(FakeModule())
    with pytest.raises(ApplyError, match="does not pass sh -n"):
        applier.replace_files({str(other): "ok\n", str(conf): "A='unterminated\n"},
                              validate={str(conf): ["sh", "-n"]})
    assert conf.read_text() == "A=1\n" and not other.exists()
    assert sorted(os.listdir(str(tmp_path))) == ["conf"]
