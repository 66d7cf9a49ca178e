# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writing a module's files atomically, and putting them back when a later step fails.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Runs on Python 3.8+; ``module`` is an AnsibleModule
(only ``run_command`` and ``atomic_move`` are used).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

ENV = {"LC_ALL": "C", "LANG": "C"}


class ApplyError(Exception):
    """A new file failed its check, or a command failed; the message says which."""


class Applier(object):
    """Writes a plan's files, runs its commands, and undoes both on failure."""

    def __init__(self, module):
        self.module = module
        self.saved = {}       # path -> previous text (None: did not exist)
        self.commands = []

    def run(self, argv):
        self.commands.append(list(argv))
        rc, out, err = self.module.run_command(argv, environ_update=ENV)
        return rc, out, err

    def check_new_file(self, path, text, validate):
        """Write ``text`` to a temporary file beside ``path`` (creating the directory), check
        it with the ``validate`` argv when given, and return its name."""
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        handle, tmp = tempfile.mkstemp(dir=directory, prefix=".crashdump-kdump-")
        try:
            with os.fdopen(handle, "w") as out:
                out.write(text)
            if validate:
                rc, out_text, err = self.module.run_command(validate + [tmp], environ_update=ENV)
                if rc != 0:
                    raise ApplyError("the new %s does not pass %s: %s" % (
                        path, " ".join(validate), (err or out_text).strip()))
        except BaseException:
            os.unlink(tmp)
            raise
        return tmp

    def snapshot(self, path):
        if path not in self.saved:
            try:
                with open(path) as handle:
                    self.saved[path] = handle.read()
            except (IOError, OSError):
                self.saved[path] = None

    def write(self, path, tmp, mode=0o644):
        """Move ``tmp`` over ``path``: an existing file keeps its owner and mode, a new one
        gets ``mode``."""
        self.snapshot(path)
        if os.path.exists(path):
            shutil.copymode(path, tmp)
            stat = os.stat(path)
            os.chown(tmp, stat.st_uid, stat.st_gid)
        else:
            os.chmod(tmp, mode)
        self.module.atomic_move(tmp, path)

    def delete(self, path):
        self.snapshot(path)
        if os.path.exists(path):
            os.unlink(path)

    def restore(self):
        for path, text in self.saved.items():
            if text is None:
                if os.path.exists(path):
                    os.unlink(path)
                continue
            handle, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".")
            with os.fdopen(handle, "w") as out:
                out.write(text)
            if os.path.exists(path):
                shutil.copymode(path, tmp)
            self.module.atomic_move(tmp, path)

    def replace_files(self, files, validate=None, backup=False, modes=None, snapshot=()):
        """Check every new file of ``files`` (path -> text, None to delete), then replace them
        all; returns the backup copies made. ``snapshot``: more paths to put back on
        :meth:`restore` (files a later command regenerates). On failure the temporary files
        are removed and the error raised; :meth:`restore` puts back what was replaced."""
        validate = validate or {}
        modes = modes or {}
        tmps = {}
        backups = []
        try:
            for path, text in files.items():
                if text is not None:
                    tmps[path] = self.check_new_file(path, text, validate.get(path))
            for path in snapshot:
                self.snapshot(path)
            for path, text in files.items():
                if backup and os.path.exists(path):
                    backups.append(self.module.backup_local(path))
                if text is None:
                    self.delete(path)
                else:
                    self.write(path, tmps.pop(path), mode=modes.get(path, 0o644))
        finally:
            for tmp in tmps.values():
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return backups
