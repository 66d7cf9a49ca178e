# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Calibration of crashkernel= with real crashes (playbook crashdump.kdump.calibrate): the
bisection, the verdict of one probe, the margin, the groups of identical hosts and the
group_vars written for them. Plain data in, plain data out; the playbook does the crashing.

PRIVATE to the crashdump.kdump collection: this is not a public API and may change without
notice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

MIB = 1 << 20
GIB = 1 << 30

# crash_test steps that say nothing about the size: the host was not crashed (or not as it
# should be), so the probe is an error, not a failing size. "boot" is the host that did not
# come back; it is lost for the rest of the calibration.
NOT_A_VERDICT = ("confirm", "record", "trigger", "down")
LOST = "boot"


class CalibrateError(ValueError):
    """A calibration input that cannot be used; the message names it and what was expected."""


def _int(value, name, minimum):
    if isinstance(value, bool):
        raise CalibrateError("%s must be a whole number of MiB, got %r" % (name, value))
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise CalibrateError("%s must be a whole number of MiB, got %r" % (name, value))
    if number < minimum:
        raise CalibrateError("%s must be at least %d, got %d" % (name, minimum, number))
    return number


def max_probes(low, high, step):
    """The most probes a bisection of (low, high] in ``step`` MiB can take: high, low, then
    ceil(log2((high - low) / step)) halvings. Integer arithmetic: the smallest k with
    step * 2**k >= high - low."""
    halvings = 0
    while step << halvings < high - low:
        halvings += 1
    return halvings + 2


def plan(low, high, step):
    """The checked bisection settings: ``{low, high, step, max_probes}``."""
    low = _int(low, "calibrate_low", 1)
    high = _int(high, "calibrate_high", 1)
    step = _int(step, "calibrate_step", 1)
    if high <= low:
        raise CalibrateError("calibrate_high (%d MiB) must be above calibrate_low (%d MiB)" % (high, low))
    return {"low": low, "high": high, "step": step, "max_probes": max_probes(low, high, step)}


def bounds(probes):
    """(smallest passing size, largest failing size below it) of the probes so far; None
    where there is none."""
    good = [p["mib"] for p in probes if p["passed"]]
    smallest = min(good) if good else None
    bad = [p["mib"] for p in probes if not p["passed"] and (smallest is None or p["mib"] < smallest)]
    return smallest, (max(bad) if bad else None)


def next_size(probes, low, high, step):
    """The size to probe next, in MiB, or None when the bisection is done.

    The sizes are the grid ``low + k * step`` up to ``high`` (``high`` itself is the last
    point, also when it is off the grid). First ``high`` (it must work, or there is nothing to
    bisect), then ``low``, then the grid point halfway between the largest failing and the
    smallest passing size, until they are neighbours. Halving the gap of grid points takes
    ceil(log2(points)) probes, so the whole takes at most :func:`max_probes`."""
    settings = plan(low, high, step)
    low, high, step = settings["low"], settings["high"], settings["step"]
    probed = set(p["mib"] for p in probes)
    if high not in probed:
        return high
    good, bad = bounds(probes)
    if good is None:
        return None  # high failed
    if low not in probed:
        return low if low < good else None
    if bad is None:
        return None  # low works

    def index(size):
        return -(-(high - low) // step) if size >= high else (size - low) // step

    middle = (index(bad) + index(good)) // 2
    if middle <= index(bad):
        return None
    return min(low + middle * step, high)


def round_up(mib, step):
    return -(-mib // step) * step


def with_margin(minimum, margin_percent, step):
    """``minimum`` MiB plus ``margin_percent``, rounded up to a multiple of ``step``."""
    margin = _int(margin_percent, "calibrate_margin_percent", 0)
    step = _int(step, "calibrate_step", 1)
    return round_up(-(-minimum * (100 + margin) // 100), step)


def probe(size, load=None, info=None, crash=None, seconds=None):
    """The verdict of one probe at ``size`` MiB from what the playbook registered: the
    kexec_crash load, kdump_info after the reboot and the crash_test result.

    ``verdict`` is ``pass`` (a valid dump of the crash arrived), ``fail`` (the capture kernel
    did not load, or no valid dump arrived: the size does not work), ``error`` (the host was
    not crashed as it should be: no verdict on the size) or ``lost`` (the host did not come
    back)."""
    load, info, crash = load or {}, info or {}, crash or {}
    row = {"mib": _int(size, "size", 1), "passed": False, "verdict": "fail", "reason": "",
           "failed_step": None, "reserved_bytes": (info.get("reservation") or {}).get("reserved"),
           "seconds": seconds, "trigger_to_back": (crash.get("timings") or {}).get("trigger_to_back"),
           "dump_path": crash.get("dump_path"), "dump_size": crash.get("size")}
    if not info.get("ready"):
        reasons = list(info.get("reasons") or [])
        # The playbook registers the load with failed_when: false, so a failed load shows as
        # a message without "loaded".
        if load.get("msg") and not load.get("loaded"):
            reasons.insert(0, "kexec_crash: %s" % load["msg"])
        row["reason"] = "the capture kernel does not load: %s" % ("; ".join(reasons) or "not ready")
        row["failed_step"] = "load"
        return row
    if crash.get("passed"):
        row.update(passed=True, verdict="pass", reason="valid dump %s" % crash.get("dump_path"))
        return row
    step = crash.get("failed_step")
    row["failed_step"] = step
    row["reason"] = " ".join(str(crash.get("msg") or "crash_test did not pass").split())
    if step == LOST:
        row["verdict"] = "lost"
    elif step in NOT_A_VERDICT or not crash:
        row["verdict"] = "error"
    return row


def result(probes, low, high, step, margin_percent):
    """One host's outcome: the smallest working size, the largest failing one, the
    recommendation with the margin, and a status - ``calibrated``, ``low works`` (the
    minimum is at most ``low``: lower calibrate_low to know more), ``high fails`` (nothing
    up to ``high`` works) or ``incomplete`` (the bisection stopped early)."""
    settings = plan(low, high, step)
    verdicts = [p for p in probes if p["verdict"] in ("pass", "fail")]
    good, bad = bounds(verdicts)
    done = bool(verdicts) and next_size(verdicts, low, high, step) is None and len(verdicts) == len(probes)
    if good is None:
        status = "high fails" if done else "incomplete"
    elif not done:
        status = "incomplete"
    elif good == settings["low"]:
        status = "low works"
    else:
        status = "calibrated"
    recommended = with_margin(good, margin_percent, step) if good is not None else None
    return {"minimum_mib": good, "largest_failing_mib": bad, "status": status,
            "recommended_mib": recommended,
            "recommended": "%dM" % recommended if recommended is not None else None,
            "margin_percent": _int(margin_percent, "calibrate_margin_percent", 0),
            "probes": len(probes)}


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "unknown"


def group_key(host):
    """The key of identical hardware and kernel, from crashkernel_info's ``host``:
    architecture, kernel release, System RAM rounded to GiB, CPUs and distribution."""
    ram = int(host.get("system_ram") or 0)
    key = {"arch": host.get("arch") or "unknown", "kernel_release": host.get("kernel_release") or "unknown",
           "ram_gib": (ram + GIB // 2) // GIB, "cpus": int(host.get("cpus") or 0),
           "distribution": "%s %s" % (host.get("distribution") or "unknown", host.get("version") or "")}
    key["distribution"] = key["distribution"].strip()
    # A group name Ansible accepts without warnings: letters, digits and underscores.
    key["name"] = "calibrated_%s_%s_%s_%dgib_%dcpu" % (
        _slug(key["distribution"]), _slug(key["arch"]), _slug(key["kernel_release"]), key["ram_gib"], key["cpus"])
    return key


def groups(hosts, margin_percent, step):
    """Hosts (each with ``host``, ``key``, ``status`` and ``minimum_mib``) grouped by key: per
    group the largest of the members' minimums and the recommendation from it. Only finished
    bisections count (``calibrated``, ``low works``); an unfinished one's smallest working size
    is not a minimum, so such a host is listed in ``without_result``."""
    found = {}
    for entry in hosts:
        key = entry["key"]
        group = found.setdefault(key["name"], dict(key, hosts=[], without_result=[]))
        if entry.get("minimum_mib") is None or entry.get("status") not in ("calibrated", "low works"):
            group["without_result"].append(entry["host"])
        else:
            group["hosts"].append(entry["host"])
            group["minimum_mib"] = max(group.get("minimum_mib") or 0, entry["minimum_mib"])
    out = []
    for name in sorted(found):
        group = found[name]
        minimum = group.setdefault("minimum_mib", None)
        group["recommended_mib"] = with_margin(minimum, margin_percent, step) if minimum is not None else None
        group["recommended"] = "%dM" % group["recommended_mib"] if minimum is not None else None
        out.append(group)
    return out


def group_vars(group, margin_percent, step, date):
    """The group_vars file of a group, ready for the kdump role."""
    if group.get("recommended") is None:
        raise CalibrateError("group %s has no calibrated host, so no value to write" % group.get("name"))
    lines = [
        "---",
        "# Written by crashdump.kdump.calibrate on %s: the smallest crashkernel= with which" % date,
        "# a real crash saved a valid dump, on %s (%s)," % (
            ", ".join(group["hosts"]), "the largest of their minimums" if len(group["hosts"]) > 1 else "its minimum"),
        "# was %d MiB; plus %s %% margin, rounded up to %d MiB." % (group["minimum_mib"], margin_percent, step),
        "# Hosts: %s, kernel %s, %s, %d GiB, %d CPUs." % (
            group["distribution"], group["kernel_release"], group["arch"], group["ram_gib"], group["cpus"]),
    ]
    if group["without_result"]:
        lines.append("# Not calibrated (no result): %s." % ", ".join(group["without_result"]))
    lines += ["kdump_crashkernel_policy: fixed", "kdump_crashkernel: %s" % json.dumps(group["recommended"]), ""]
    return "\n".join(lines)


def _cell(value):
    if value is None or value == "":
        return "-"
    return str(value).replace("|", "/").replace("\n", " ")


def markdown(report):
    """calibrate.md: per host, per probe, per group."""
    settings = report["settings"]
    out = ["# crashkernel= calibration", "",
           "%s. Bisection in %s MiB steps, margin %s %%; each probe is a real crash and a reboot." % (
               report["date"], settings["step"], settings["margin_percent"]),
           "", "| host | bisected | status | minimum that works | largest that fails | recommended | probes"
           " | restored | error |",
           "|---|---|---|---|---|---|---|---|---|"]
    for host in report["hosts"]:
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % tuple(_cell(v) for v in (
            host["host"], "%d-%d MiB" % (host["plan"]["low"], host["plan"]["high"]), host["status"], host["minimum_mib"] and "%d MiB" % host["minimum_mib"],
            host["largest_failing_mib"] and "%d MiB" % host["largest_failing_mib"], host["recommended"],
            host["probes"], host.get("restored"), host.get("error"))))
    out += ["", "## Probes", "", "| host | size | verdict | seconds | reason |", "|---|---|---|---|---|"]
    for host in report["hosts"]:
        for row in host["steps"]:
            out.append("| %s | %d MiB | %s | %s | %s |" % (
                _cell(host["host"]), row["mib"], row.get("verdict"), _cell(row.get("seconds")), _cell(row.get("reason"))))
    out += ["", "## Groups of identical hosts", "",
            "| group | distribution | kernel | arch | RAM | CPUs | hosts | max of minimums | recommended |",
            "|---|---|---|---|---|---|---|---|---|"]
    for group in report["groups"]:
        out.append("| %s | %s | %s | %s | %d GiB | %d | %s | %s | %s |" % (
            group["name"], _cell(group["distribution"]), _cell(group["kernel_release"]), _cell(group["arch"]),
            group["ram_gib"], group["cpus"], _cell(", ".join(group["hosts"] + [h + " (no result)" for h in group["without_result"]])),
            _cell(group["minimum_mib"] and "%d MiB" % group["minimum_mib"]), _cell(group["recommended"])))
    return "\n".join(out) + "\n"


def report(outcomes, margin_percent, step, date):
    """The whole report from each host's outcome (as the playbook records it: host, plan,
    probes, the crashkernel_info host, previous, restored, error):
    ``{json: the report, markdown: calibrate.md, group_vars: {file name: text}}``."""
    # Extra vars arrive as strings (-e calibrate_step=16).
    margin_percent = _int(margin_percent, "calibrate_margin_percent", 0)
    step = _int(step, "calibrate_step", 1)
    hosts = []
    settings = None
    for outcome in outcomes:
        steps = list(outcome.get("probes") or [])
        this = plan(**dict((k, outcome["plan"][k]) for k in ("low", "high", "step")))
        settings = settings or dict(this, margin_percent=margin_percent)
        entry = result(steps, this["low"], this["high"], this["step"], margin_percent)
        if outcome.get("error"):
            entry["status"] = "error" if entry["status"] == "incomplete" else entry["status"]
        entry.update(host=outcome["host"], key=group_key(outcome.get("facts") or {}), steps=steps,
                     previous=outcome.get("previous"), restored=outcome.get("restored") or None,
                     error=outcome.get("error") or None, plan=this)
        hosts.append(entry)
    hosts.sort(key=lambda h: h["host"])
    grouped = groups(hosts, margin_percent, step)
    data = {"date": date, "settings": settings or {"low": None, "high": None, "step": step,
                                                   "margin_percent": margin_percent},
            "hosts": hosts, "groups": grouped}
    files = dict(("group_vars/%s.yml" % g["name"], group_vars(g, margin_percent, step, date))
                 for g in grouped if g["recommended"] is not None)
    return {"json": data, "markdown": markdown(data), "group_vars": files}
