# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One way to run a command: argv lists only, LC_ALL=C, one error format.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

In the manner of community.general's CmdRunner: a module makes one ``CommandRunner`` from
its ``run_command`` and ``get_bin_path`` (or a test from a table of answers), and every
command it runs goes through it, is recorded in ``commands`` (returned to the user:
what changed the host; queries are not recorded), and fails as ``WHAT: COMMAND failed (rc=N): STDERR``. Never a shell string: an argv that is not
a list of strings is refused before anything runs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

ENV = {"LC_ALL": "C", "LANG": "C"}


class CommandError(Exception):
    """A command failed, or could not run; the message names it, its rc and its stderr."""

    def __init__(self, what, argv, rc, out, err):
        self.argv = list(argv)
        self.rc = rc
        self.out = out
        self.err = err
        detail = (err or out or "").strip()
        super(CommandError, self).__init__("%s: %s failed (rc=%s)%s" % (
            what, " ".join(self.argv), rc, ": " + detail if detail else ""))


class CommandRunner(object):
    """``run_command(argv, environ_update=...) -> (rc, out, err)`` and ``which(name)``
    (a path or None) come from the module (AnsibleModule.run_command, get_bin_path)."""

    def __init__(self, run_command, which=None):
        self._run = run_command
        self._which = which or (lambda name: None)
        self.commands = []

    def which(self, name):
        return self._which(name)

    def resolve(self, argv):
        """``argv`` with its program found on PATH when it is a bare name (unchanged when not
        found: the error then names it)."""
        argv = self.check(argv)
        if "/" not in argv[0]:
            found = self._which(argv[0])
            if found:
                argv = [found] + argv[1:]
        return argv

    @staticmethod
    def check(argv):
        if isinstance(argv, (str, bytes)) or not argv or not all(
                isinstance(word, str) for word in argv):
            raise TypeError("a command is a non-empty list of strings, got %r" % (argv,))
        return list(argv)

    def probe(self, argv):
        """Ask ``argv`` a question: ``(rc, out, err)``, never raising on rc (a query such as
        ``systemctl is-enabled`` answers through its exit code). Not recorded."""
        return self._run(self.resolve(argv), environ_update=dict(ENV))

    def __call__(self, argv, what, ok=(0,)):
        """Run ``argv``, which changes the host; its stdout, or CommandError naming ``what``
        when rc is not in ``ok``. Recorded in ``commands``."""
        argv = self.resolve(argv)
        self.commands.append(argv)
        rc, out, err = self._run(argv, environ_update=dict(ENV))
        if rc not in ok:
            raise CommandError(what, self.commands[-1], rc, out, err)
        return out
