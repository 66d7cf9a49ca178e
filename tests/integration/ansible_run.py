# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a play on this machine and read each task result (module tests helper)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import subprocess
import sys

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULT_LINE = re.compile(r"^(ok|changed|fatal|skipping): \[localhost\].*? => (\{.*\})$", re.MULTILINE)


def play(tmp_path, tasks, *extra):
    """Run tasks on localhost with ansible-playbook; return (rc, [task results])."""
    book = tmp_path / "play.yml"
    book.write_text(json.dumps([{"name": "test", "hosts": "localhost", "gather_facts": False,
                                 "tasks": tasks}]))
    env = dict(os.environ, ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_CALLBACK_FORMAT_PRETTY="false", ANSIBLE_DEPRECATION_WARNINGS="false",
               ANSIBLE_NOCOLOR="1")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-v",
           "-i", os.path.join(COLLECTION, "tests/integration/inventory.ini"), str(book)]
    out = subprocess.run(cmd + list(extra), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT,
                         universal_newlines=True, env=env, check=False)
    results = [dict(json.loads(m.group(2)), status=m.group(1))
               for m in RESULT_LINE.finditer(out.stdout)]
    assert results, out.stdout
    return out.returncode, results
