# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile values for every option of every module, in check mode on this machine: each run
either succeeds or fails with a message that names the option - never a traceback, never
Python's own exception text.

The options and their types are read from each module's documentation, so a new option is
fuzzed without a change here. crash_test is left out: its options are checked by its action
plugin before anything else, in tests/integration/test_crash_test.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import os

import pytest
import yaml

from ansible_run import COLLECTION, play

# Valid options each module runs with in check mode; the fuzzed option replaces one of them.
BASE = {
    "crashkernel_info": {},
    "kdump_info": {},
    "kdump_proof": {"state": "absent"},
    "kdump_watch": {"state": "absent"},
    "kdump_target": {"state": "checked", "family": "debian"},
    "kernel_cmdline": {"args": {"crashkernel": "256M"}, "backend": "grub"},
    "kexec_crash": {"state": "loaded", "method": "direct", "kernel": "/boot/vmlinuz"},
    "vmcore_info": {"path": "/var/crash"},
}

# Raw Python errors that must never be the message a user reads.
RAW = ("Traceback", "MODULE FAILURE", "Exceeds the limit", "int too large", "embedded null byte",
       "object has no attribute", "KeyError", "TypeError:", "ValueError:", "OverflowError",
       "UnicodeEncodeError", "UnicodeDecodeError", "not subscriptable", "unhashable type",
       "object is not iterable", "invalid literal for int")

HUGE = "9" * 5000


def hostile(option):
    """A few hostile values for an option of this type."""
    kind = option.get("type", "str")
    values = {
        "str": ["\x1b[2J\r\nfake: ok" + "x" * 70000, {"a": [1]}],
        "path": ["\x1b]0;x\x07/../" + "a/" * 3000, ["/a"]],
        "int": [HUGE, 2 ** 70, 1e308, ["1"]],
        "float": [HUGE, "nan", 10 ** 400],
        "bool": ["maybe", ["yes"]],
        "list": [[HUGE, {"a": [1]}, None]],
        "dict": [[1, 2], {"": "", "k" * 5000: {"nested": [1]}}],
        "raw": [HUGE, {"a": [None]}, "\x00"],
    }.get(kind, ["x" * 70000, [None]])
    if option.get("choices"):
        values.append("not-one-of-the-choices")
    return values


def modules():
    found = []
    for name in sorted(BASE):
        path = os.path.join(COLLECTION, "plugins", "modules", name + ".py")
        tree = ast.parse(open(path).read())
        doc = next(node.value.value if hasattr(node.value, "value") else node.value.s
                   for node in tree.body if isinstance(node, ast.Assign)
                   and getattr(node.targets[0], "id", None) == "DOCUMENTATION")
        found.append((name, yaml.safe_load(doc).get("options") or {}))
    return found


@pytest.mark.parametrize("module, options", modules(), ids=[name for name, _options in modules()])
def test_hostile_option_values(tmp_path, module, options):
    tasks = []
    cases = []
    for option, spec in sorted(options.items()):
        for value in hostile(spec):
            args = dict(BASE[module])
            args[option] = value
            tasks.append({"name": "%s %s" % (module, option), "crashdump.kdump." + module: args,
                          "check_mode": True, "ignore_errors": True})
            cases.append((option, value))
    rc, results = play(tmp_path, tasks)
    assert len(results) == len(tasks), [r.get("msg") for r in results][-3:]
    problems = []
    for (option, value), result in zip(cases, results):
        text = "%s %s %s" % (result.get("msg", ""), result.get("module_stderr", ""),
                             result.get("exception", ""))
        shown = repr(value)[:60]
        if any(raw in text for raw in RAW):
            problems.append("%s=%s: %s" % (option, shown, text[:300]))
        elif result["status"] == "fatal" and not text.strip():
            problems.append("%s=%s: failed without a message" % (option, shown))
    assert problems == []
