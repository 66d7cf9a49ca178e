# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters of the fleet readiness report (playbook crashdump.kdump.report)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

from ansible_collections.crashdump.kdump.plugins.module_utils.capture.proof import target_text
from ansible_collections.crashdump.kdump.plugins.module_utils.target.preflight import human
from ansible_collections.crashdump.kdump.plugins.plugin_utils._filters import guarded

try:
    import jmespath as _jmespath
except ImportError:  # pragma: no cover - reported when the filter is used
    _jmespath = None


def plain(data):
    """Plain dicts and lists (jmespath does not know the engine's own container types)."""
    if isinstance(data, Mapping):
        return dict((key, plain(value)) for key, value in data.items())
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return [plain(value) for value in data]
    return data


@guarded("crashdump.kdump.jmespath", "data, then a JMESPath query (a string)")
def jmespath_query(data, expression):
    """Evaluate a JMESPath ``expression`` on ``data``."""
    if _jmespath is None:
        raise AnsibleFilterError("crashdump.kdump.jmespath needs the Python library jmespath on the"
                                 " controller (pip install jmespath)")
    try:
        return _jmespath.search(expression, plain(data))
    except _jmespath.exceptions.JMESPathError as exc:
        raise AnsibleFilterError("crashdump.kdump.jmespath: %r is not a valid query: %s" % (expression, exc))


# ``{type: ssh, ssh: kdump@dumps, path: /srv/kdump}`` -> ``ssh kdump@dumps:/srv/kdump`` (the
# same words the proof record keeps).
describe_target = target_text


def age_text(seconds):
    """``93784`` -> ``1 d 2 h``: a proof's age for people."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return "%d d %d h" % (days, hours)
    if hours:
        return "%d h %d min" % (hours, minutes)
    return "%d min" % minutes


def proof_row(info):
    """The proof of a kdump_info answer for the report: when, how old, of which kernel,
    whether it still holds and why not; None when the host has none."""
    record = info.get("proof")
    if not isinstance(record, Mapping):
        return None
    reasons = list(info.get("proof_stale_reasons") or [])
    age = _bytes(record.get("age_seconds"))
    dump = record.get("dump") or {}
    return {"proven_at": record.get("proven_at_iso"), "age_seconds": age, "age_human": age_text(age),
            "kernel": record.get("kernel_release"), "stale": bool(info.get("proof_stale")) or bool(reasons),
            "stale_reasons": reasons, "dump_path": dump.get("path"), "dump_size": _bytes(dump.get("size")),
            "on_running_kernel": record.get("kernel_release") == info.get("kernel_release")}


def _bytes(value):
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@guarded("kdump_report_row", "a dict with host, info (a kdump_info result, a dict), facts (a dict) and"
         " crash_test (a crash_test_row or null)")
def kdump_report_row(entry):
    """``{host, info (kdump_info), facts (setup), crash_test (a crash_test_row or None)}`` ->
    one host of the fleet readiness report."""
    if not isinstance(entry, dict) or "host" not in entry:
        raise AnsibleFilterError("kdump_report_row: expected a dict with host, info, facts and"
                                 " crash_test, got %r" % (entry,))
    host = entry["host"]
    info = entry.get("info") or {}
    facts = entry.get("facts") or {}
    crash = entry.get("crash_test") or None
    unreachable = entry.get("error")
    reservation = info.get("reservation") or {}
    recommendation = info.get("recommendation") or {}
    capture = info.get("capture") or {}
    service = info.get("service") or {}
    reserved = _bytes(reservation.get("reserved"))
    recommended = _bytes(recommendation.get("reserved_bytes"))
    ram = _bytes(info.get("system_ram"))
    dumps = info.get("dumps") or []
    newest = dumps[0] if dumps else None
    if newest is not None:
        dump = {"path": newest.get("path"), "valid": bool(newest.get("valid")),
                "kernel": newest.get("kernel"), "size": _bytes(newest.get("size")),
                "size_human": human(_bytes(newest.get("size"))), "error": newest.get("error"),
                "source": "target"}
    elif crash and crash.get("dump_path") not in (None, "-"):
        dump = {"path": "%s:%s" % (crash.get("dump_host") or host, crash.get("dump_path")),
                "valid": bool(crash.get("passed")), "kernel": crash.get("kernel"),
                "size": _bytes(crash.get("size")), "size_human": crash.get("size_human") or "-",
                "error": None if crash.get("passed") else crash.get("reason"), "source": "crash test"}
    else:
        dump = None
    reasons = list(info.get("reasons") or [])
    if unreachable:
        reasons = [unreachable]
    distribution = " ".join(str(part) for part in (facts.get("distribution"),
                                                   facts.get("distribution_version")) if part)
    return {
        "host": host,
        "reachable": not unreachable,
        "distribution": distribution or "-",
        "kernel": info.get("kernel_release") or "-",
        "family": info.get("family"),
        "ram_bytes": ram,
        "ram_human": human(ram) if ram else "-",
        "requested": reservation.get("requested"),
        "reserved_bytes": reserved,
        "reserved_human": human(reserved) if reserved else "none",
        "recommended_bytes": recommended,
        "recommended_human": human(recommended) if recommended else "-",
        "recommended": recommendation.get("crashkernel"),
        "recommended_source": recommendation.get("source"),
        "reserved_enough": bool(reserved) and reserved >= recommended,
        "loaded": bool(capture.get("loaded")),
        "service_enabled": bool(service.get("enabled")),
        "target": describe_target(info.get("target")),
        "target_type": (info.get("target") or {}).get("type"),
        "dump": dump,
        "crash_test": crash,
        "proof": None if unreachable else proof_row(info),
        "ready": bool(info.get("ready")) and not unreachable,
        "reasons": reasons,
    }


class FilterModule(object):
    """Fleet report filters."""

    def filters(self):
        return {"jmespath": jmespath_query, "kdump_report_row": kdump_report_row}
