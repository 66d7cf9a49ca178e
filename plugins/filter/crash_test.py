# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.crashdump.kdump.plugins.module_utils.target.preflight import human
from ansible_collections.crashdump.kdump.plugins.plugin_utils._filters import guarded

UTC = datetime.timezone.utc


def tested_at(epoch):
    """``1764158400`` -> ``2025-11-26T12:00:00Z`` (None stays None)."""
    if epoch is None:
        return None
    try:
        return datetime.datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError, OSError):
        return None


@guarded("crash_test_row", "[host, the result of crashdump.kdump.crash_test (a dict)]")
def crash_test_row(pair):
    """``[host, crash_test result]`` -> one row of the fleet report."""
    try:
        host, result = pair
    except (TypeError, ValueError):
        raise AnsibleFilterError("crash_test_row: expected [host, crash_test result], got %r" % (pair,))
    result = result or {}
    timings = result.get("timings") or {}
    passed = bool(result.get("passed"))
    reason = "" if passed else (result.get("msg") or "not run").replace("|", "/").replace("\n", " ")
    if result.get("skipped"):
        reason = result.get("msg") or "skipped"
    return {
        "host": host,
        "passed": passed,
        "failed_step": result.get("failed_step"),
        "dump_host": result.get("dump_host"),
        "dump_path": result.get("dump_path") or "-",
        "format": result.get("format"),
        "size": result.get("size"),
        "size_human": human(result["size"]) if result.get("size") else "-",
        "kernel": result.get("kernel"),
        "recover_seconds": timings.get("trigger_to_back", "-"),
        "timings": timings,
        "tested_at": tested_at(result.get("triggered_at")),
        "reason": reason,
    }


class FilterModule(object):
    """Crash test filters."""

    def filters(self):
        return {"crash_test_row": crash_test_row}
