# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The calibration filters: the core's answers, and AnsibleFilterError for anything else."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.crashdump.kdump.plugins.filter.calibrate import FilterModule

F = FilterModule().filters()


def test_plan_and_next():
    assert F["calibrate_plan"](64, "192", 16)["max_probes"] == 5
    assert F["calibrate_next"]([], 64, 192, 16) == 192
    assert F["calibrate_next"]([{"mib": 192, "passed": True}], 64, 192, 16) == 64
    assert F["calibrate_next"]([{"mib": 192, "passed": True}, {"mib": 64, "passed": True}], 64, 192, 16) == 0


def test_probe_and_report():
    row = F["calibrate_probe"](112, {}, {"ready": True}, {"passed": True, "dump_path": "/d"}, 250)
    assert row["verdict"] == "pass"
    out = F["calibrate_report"]([{"host": "a", "plan": {"low": 64, "high": 192, "step": 16}, "probes": [row],
                                  "facts": {}}], 15, 16, "today")
    assert out["json"]["hosts"][0]["status"] == "incomplete"


def test_report_takes_extra_vars_as_strings():
    probes = [{"mib": 192, "passed": True}, {"mib": 64, "passed": True}]
    out = F["calibrate_report"]([{"host": "a", "plan": {"low": "64", "high": "192", "step": "16"}, "probes": probes,
                                  "facts": {"cpus": 2}}], "15", "16", "today")
    (text,) = out["group_vars"].values()
    assert "plus 15 % margin, rounded up to 16 MiB" in text and 'kdump_crashkernel: "80M"' in text


@pytest.mark.parametrize("name, args, message", [
    ("calibrate_plan", (64, 64, 16), "calibrate_plan: calibrate_high \\(64 MiB\\) must be above"),
    ("calibrate_next", ("x", 64, 192, 16), "calibrate_next: expects the list of probes"),
    ("calibrate_next", ([], 64, 192, 0), "calibrate_next: calibrate_step must be at least 1"),
    ("calibrate_probe", (112, "loaded", None, None), "calibrate_probe: load must be a registered result"),
    ("calibrate_probe", (0, None, None, None), "calibrate_probe: size must be at least 1"),
    ("calibrate_report", ({}, 15, 16, "today"), "calibrate_report: expects a list of host outcomes"),
    ("calibrate_report", ([{"host": "a", "plan": {"low": 64, "high": 192, "step": 16}}], -1, 16, "t"),
     "calibrate_report: calibrate_margin_percent must be at least 0"),
])
def test_bad_input(name, args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        F[name](*args)


ANY = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                             st.just("9" * 5000)),
                   lambda inner: st.one_of(st.lists(inner, max_size=3),
                                           st.dictionaries(st.sampled_from(["mib", "passed", "host", "plan", "probes",
                                                                            "low", "high", "step", "ready"]), inner,
                                                           max_size=4)), max_leaves=8)


@pytest.mark.parametrize("name, arity", [("calibrate_plan", 3), ("calibrate_next", 4), ("calibrate_probe", 5),
                                         ("calibrate_report", 4)])
@settings(deadline=None)
@given(data=st.data())
def test_hostile_input_gives_a_filter_error_or_a_result(name, arity, data):
    args = [data.draw(ANY) for _position in range(arity)]
    try:
        F[name](*args)
    except AnsibleFilterError as exc:
        assert name in str(exc)
