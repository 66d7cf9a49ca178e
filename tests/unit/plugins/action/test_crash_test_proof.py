# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""crash_test leaves the proof record after a passed test: kdump_proof with the basis kdump_info
gave before the crash and what the test proved; a record that cannot be written is a warning."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleError

from ansible_collections.crashdump.kdump.plugins.action.crash_test import PROVEN, ActionModule

RESULT = {"passed": True, "kernel": "6.1.0-50-amd64", "dump_host": "web1",
          "dump_path": "/var/crash/202612031200/dump.202612031200", "format": "kdump", "size": 46011556,
          "compression": "lzo", "dump_level": 31, "crash_time": 1796300001,
          "timings": {"trigger_to_back": 61.2}, "triggered_at": 1796300000, "msg": "...", "target": {}}
BASIS = {"kernel_release": "6.1.0-50-amd64", "family": "debian"}


class _Host(object):
    """Stands for the action: answers the module call."""

    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def _execute_module(self, module_name, module_args, task_vars):
        self.calls.append((module_name, module_args))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_the_record_is_written_with_the_basis_and_what_was_proven():
    host = _Host({"changed": True, "path": "/var/lib/crashdump-kdump/proof.json"})
    result = dict(RESULT)
    assert ActionModule._record_proof(host, BASIS, result, {}) == "/var/lib/crashdump-kdump/proof.json"
    name, args = host.calls[0]
    assert name == "crashdump.kdump.kdump_proof"
    assert args["basis"] == BASIS
    assert args["proven"] == dict((key, RESULT[key]) for key in PROVEN)
    assert "msg" not in args["proven"] and "warnings" not in result


def test_a_record_that_cannot_be_written_is_a_warning():
    for answer in ({"failed": True, "msg": "cannot write the proof record /var/lib/x: Read-only file system"},
                   AnsibleError("connection lost")):
        result = dict(RESULT)
        assert ActionModule._record_proof(_Host(answer), BASIS, result, {}) is None
        assert result["passed"] is True
        assert result["warnings"][0].startswith("the dump is proven, but the proof record was not written"
                                                " on the host: ")
