# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the calibration playbook (crashdump.kdump.calibrate): calibrate_plan,
calibrate_next, calibrate_probe, calibrate_report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.crashdump.kdump.plugins.module_utils.sizing import calibrate as core
from ansible_collections.crashdump.kdump.plugins.plugin_utils._filters import guarded


def _probes(value, name):
    if not isinstance(value, list) or not all(isinstance(p, Mapping) and "mib" in p for p in value):
        raise AnsibleFilterError("%s: expects the list of probes so far (dicts with mib and passed),"
                                 " got %r" % (name, value))
    return [dict(p, passed=bool(p.get("passed")), verdict=p.get("verdict") or ("pass" if p.get("passed") else "fail"))
            for p in value]


@guarded("calibrate_plan", "calibrate_low, then calibrate_high and calibrate_step (MiB)")
def calibrate_plan(low, high, step):
    """low, high, step -> {low, high, step, max_probes} (checked)."""
    try:
        return core.plan(low, high, step)
    except core.CalibrateError as exc:
        raise AnsibleFilterError("calibrate_plan: %s" % exc)


@guarded("calibrate_next", "the list of probes so far, then low, high and step (MiB)")
def calibrate_next(probes, low, high, step):
    """The next size to probe (MiB), or 0 when the bisection is done (0 survives templating as
    a number on every ansible-core, where None may become a string)."""
    try:
        return core.next_size(_probes(probes, "calibrate_next"), low, high, step) or 0
    except core.CalibrateError as exc:
        raise AnsibleFilterError("calibrate_next: %s" % exc)


@guarded("calibrate_probe", "a size (MiB), then the registered kexec_crash, kdump_info and crash_test results")
def calibrate_probe(size, load=None, info=None, crash=None, seconds=None):
    """The verdict of one probe from what the playbook registered."""
    for name, value in (("load", load), ("info", info), ("crash", crash)):
        if value is not None and not isinstance(value, Mapping):
            raise AnsibleFilterError("calibrate_probe: %s must be a registered result (a dict), got %r" % (name, value))
    try:
        return core.probe(size, load, info, crash, seconds)
    except core.CalibrateError as exc:
        raise AnsibleFilterError("calibrate_probe: %s" % exc)


@guarded("calibrate_report", "the list of host outcomes, then the margin (percent), the step (MiB) and a date")
def calibrate_report(outcomes, margin_percent, step, date):
    """Host outcomes -> {json, markdown, group_vars}."""
    if not isinstance(outcomes, list) or not all(isinstance(o, Mapping) and "host" in o and "plan" in o
                                                 for o in outcomes):
        raise AnsibleFilterError("calibrate_report: expects a list of host outcomes (dicts with host, plan,"
                                 " probes), got %r" % (outcomes,))
    try:
        return core.report([dict(o, probes=_probes(list(o.get("probes") or []), "calibrate_report"))
                            for o in outcomes], margin_percent, step, date)
    except core.CalibrateError as exc:
        raise AnsibleFilterError("calibrate_report: %s" % exc)


class FilterModule(object):
    """Calibration filters."""

    def filters(self):
        return {
            "calibrate_plan": calibrate_plan,
            "calibrate_next": calibrate_next,
            "calibrate_probe": calibrate_probe,
            "calibrate_report": calibrate_report,
        }
