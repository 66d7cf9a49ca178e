# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every filter of the collection, fed hostile input: it returns or raises AnsibleFilterError
with a message that names the filter - never another exception."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.crashdump.kdump.plugins.filter.calibrate import FilterModule as CalibrateFilters
from ansible_collections.crashdump.kdump.plugins.filter.crash_test import FilterModule as CrashTestFilters
from ansible_collections.crashdump.kdump.plugins.filter.crashes import FilterModule as CrashesFilters
from ansible_collections.crashdump.kdump.plugins.filter.crashkernel import FilterModule as CrashkernelFilters
from ansible_collections.crashdump.kdump.plugins.filter.report import FilterModule as ReportFilters

FILTERS = dict(CrashkernelFilters().filters(), **CrashTestFilters().filters())
FILTERS.update(ReportFilters().filters())
FILTERS.update(CalibrateFilters().filters())
FILTERS.update(CrashesFilters().filters())

# Scalars a template can hand a filter, the hostile ones among them.
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10 ** 300, max_value=10 ** 5000),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["9" * 5000, "0x" + "f" * 5000, "1G-4G:192M", "crashkernel=1G-4G:192M,4G-:256M",
                     "256M,high", "1" * 4400 + "M", "\x00", "256M\x00", "1e309", "-1", "1G-:0M",
                     "crashkernel=", "@", "256M@" + "9" * 5000, "ram", "[", "{}"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), inner,
                                                 max_size=4)), max_leaves=12)
DICTS = st.fixed_dictionaries({}, optional={
    "ranges": VALUES, "size": VALUES, "offset": VALUES, "high": VALUES, "low": VALUES, "words": VALUES,
    "host": VALUES, "info": VALUES, "facts": VALUES, "crash_test": VALUES, "error": VALUES,
    "reservation": VALUES, "dumps": VALUES, "target": VALUES, "timings": VALUES, "size_human": VALUES})
INPUT = st.one_of(VALUES, DICTS, st.lists(st.one_of(VALUES, DICTS), max_size=3))


def call(name, *args):
    try:
        FILTERS[name](*args)
    except AnsibleFilterError as exc:
        message = str(exc)
        assert name.split(".")[-1] in message or "jmespath" in message, message
        assert "Traceback" not in message
        assert len(message) < 2000, "a message of %d characters" % len(message)


# How many arguments after the input each filter takes (fewest, most).
ARITY = {"crashkernel_parse": (0, 0), "crashkernel_size": (1, 3), "crashkernel_format": (0, 1),
         "crash_test_row": (0, 0), "kdump_report_row": (0, 0), "jmespath": (1, 1),
         "calibrate_plan": (2, 2), "calibrate_next": (3, 3), "calibrate_probe": (0, 4),
         "calibrate_report": (3, 3), "crashes": (0, 1)}


def test_every_filter_is_fuzzed():
    assert sorted(ARITY) == sorted(FILTERS)


@pytest.mark.parametrize("name", sorted(FILTERS))
@given(data=st.data(), value=INPUT)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_hostile_input_gives_a_filter_error_or_a_result(name, data, value):
    low, high = ARITY[name]
    extra = data.draw(st.lists(VALUES, min_size=low, max_size=high))
    call(name, value, *extra)


@pytest.mark.parametrize("name, args", [
    ("crashkernel_size", ["256M", "9" * 5000]),
    ("crashkernel_size", ["9" * 5000 + "M", 1 << 30]),
    ("crashkernel_size", ["256M", 10 ** 5000]),
    ("crashkernel_size", ["256M", 1e309]),
    ("crashkernel_size", [{"ranges": 5}, 1 << 30]),
    ("crashkernel_size", [{1: 2}, 1 << 30]),
    ("crashkernel_size", ["256M", 1 << 30, 5]),
    ("crashkernel_size", ["0x" + "f" * 5000 + "M", 1 << 30]),
    ("crashkernel_format", [{"ranges": [{"start": "9" * 5000}]}]),
    ("crashkernel_format", [{"size": 10 ** 5000}]),
    ("crashkernel_parse", ["crashkernel=" + "9" * 5000 + "M"]),
    ("crashkernel_parse", [5]),
    ("crash_test_row", [["h", {"size": 10 ** 5000, "triggered_at": 10 ** 5000}]]),
    ("crash_test_row", [["h", "not a dict"]]),
    ("kdump_report_row", [{"host": "h", "info": {"system_ram": 10 ** 5000, "dumps": [5]}}]),
    ("kdump_report_row", [{"host": "h", "info": "x"}]),
    ("jmespath", [{"a": 1}, 5]),
])
def test_recorded_hostile_cases(name, args):
    call(name, *args)
