# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The calibration core: bisection steps and their bound, a probe's verdict, the margin, the
groups of identical hosts and the files written for them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.crashdump.kdump.plugins.module_utils.sizing import calibrate as core

GIB = 1 << 30


def bisect(low, high, step, threshold):
    """Run the bisection against a host on which every size >= threshold works."""
    probes = []
    while True:
        size = core.next_size(probes, low, high, step)
        if size is None:
            return probes
        assert size not in [p["mib"] for p in probes], "probed %d twice" % size
        probes.append({"mib": size, "passed": size >= threshold, "verdict": "pass" if size >= threshold else "fail"})
        assert len(probes) <= core.max_probes(low, high, step), probes


@pytest.mark.parametrize("low, high, step, expected", [
    (64, 192, 16, 5),    # 128 / 16 = 8 = 2**3: high, low, 3 halvings
    (64, 200, 16, 6),    # 8.5 steps: 4 halvings
    (64, 80, 16, 2),     # one step apart: high and low only
    (64, 70, 16, 2),
    (64, 512, 16, 7),    # 28 steps: 5 halvings
    (1, 2, 1, 2),
    (64, 256, 8, 7),     # the reservation benchmark's setting: 24 steps
])
def test_max_probes(low, high, step, expected):
    assert core.max_probes(low, high, step) == expected


@pytest.mark.parametrize("threshold, sizes", [
    # The lab: Debian 12 at 1 GiB works from 112M (the reservation benchmark, 8 MiB steps).
    (112, [192, 64, 128, 96, 112]),
    (100, [192, 64, 128, 96, 112]),
    (65, [192, 64, 128, 96, 80]),
    (64, [192, 64]),       # low works: nothing to bisect
    (1, [192, 64]),
    (192, [192, 64, 128, 160, 176]),
    (193, [192]),          # high fails: nothing to bisect either
])
def test_the_sizes_probed(threshold, sizes):
    assert [p["mib"] for p in bisect(64, 192, 16, threshold)] == sizes


@given(st.integers(1, 4096), st.integers(1, 4096), st.integers(1, 256), st.integers(1, 5000))
def test_bisection_is_bounded_and_finds_the_threshold_within_a_step(low, span, step, threshold):
    high = low + span
    probes = bisect(low, high, step, threshold)
    assert len(probes) <= core.max_probes(low, high, step)
    good, bad = core.bounds(probes)
    if threshold > high:
        assert good is None and [p["mib"] for p in probes] == [high]
    elif threshold <= low:
        assert good == low and bad is None
    else:
        assert threshold <= good < threshold + step
        assert bad < threshold and good - bad <= step
    outcome = core.result(probes, low, high, step, 15)
    assert outcome["status"] == ("high fails" if threshold > high else "low works" if threshold <= low
                                 else "calibrated")


@pytest.mark.parametrize("args, message", [
    ((64, 64, 16), "calibrate_high \\(64 MiB\\) must be above calibrate_low \\(64 MiB\\)"),
    ((64, 32, 16), "must be above"),
    ((64, 192, 0), "calibrate_step must be at least 1, got 0"),
    (("a lot", 192, 16), "calibrate_low must be a whole number of MiB, got 'a lot'"),
    ((True, 192, 16), "calibrate_low must be a whole number"),
    ((0, 192, 16), "calibrate_low must be at least 1"),
])
def test_plan_refuses(args, message):
    with pytest.raises(core.CalibrateError, match=message):
        core.plan(*args)


def test_plan_accepts_strings_from_extra_vars():
    assert core.plan("64", " 192 ", "16") == {"low": 64, "high": 192, "step": 16, "max_probes": 5}


@pytest.mark.parametrize("minimum, margin, step, expected", [
    (112, 15, 16, 144),   # 128.8 -> 144
    (96, 15, 16, 112),    # 110.4 -> 112
    (112, 0, 16, 112),
    (112, 0, 8, 112),
    (128, 25, 16, 160),   # 160 exactly stays 160
    (100, 15, 1, 115),
    (101, 15, 1, 117),    # 116.15 rounds up, never down
])
def test_margin_rounds_up_to_the_step(minimum, margin, step, expected):
    assert core.with_margin(minimum, margin, step) == expected


READY = {"ready": True, "reasons": [], "reservation": {"reserved": 112 << 20}}


@pytest.mark.parametrize("load, info, crash, verdict, reason", [
    ({}, READY, {"passed": True, "dump_path": "/var/crash/1/dump.1", "timings": {"trigger_to_back": 70.5}},
     "pass", "valid dump /var/crash/1/dump.1"),
    ({"failed": True, "msg": "kexec: locate_hole failed"},
     {"ready": False, "reasons": ["no capture kernel is loaded"], "reservation": {"reserved": 64 << 20}}, None,
     "fail", "the capture kernel does not load: kexec_crash: kexec: locate_hole failed; no capture kernel is loaded"),
    ({}, {"ready": False, "reasons": []}, None, "fail", "the capture kernel does not load: not ready"),
    ({"failed": False, "failed_when_result": False, "msg": "kexec: locate_hole failed"},
     {"ready": False, "reasons": ["not loaded"]}, None, "fail",
     "the capture kernel does not load: kexec_crash: kexec: locate_hole failed; not loaded"),
    ({"loaded": True, "msg": "loaded"}, {"ready": False, "reasons": ["service failed"]}, None, "fail",
     "the capture kernel does not load: service failed"),
    ({}, READY, {"passed": False, "failed_step": "dump", "msg": "dump: no new dump\narrived"},
     "fail", "dump: no new dump arrived"),
    ({}, READY, {"passed": False, "failed_step": "validate", "msg": "validate: incomplete"}, "fail", "validate: incomplete"),
    ({}, READY, {"passed": False, "failed_step": "readiness", "msg": "not ready"}, "fail", "not ready"),
    ({}, READY, {"passed": False, "failed_step": "boot", "msg": "boot: did not come back"}, "lost",
     "boot: did not come back"),
    ({}, READY, {"passed": False, "failed_step": "down", "msg": "down: still answered"}, "error", "down: still answered"),
    ({}, READY, {"passed": False, "failed_step": "confirm", "msg": "needs ssh"}, "error", "needs ssh"),
    ({}, READY, None, "error", "crash_test did not pass"),
])
def test_probe_verdicts(load, info, crash, verdict, reason):
    row = core.probe(112, load, info, crash, 300)
    assert (row["verdict"], row["reason"]) == (verdict, reason)
    assert row["passed"] is (verdict == "pass")
    assert row["mib"] == 112 and row["seconds"] == 300


def test_a_passing_probe_keeps_its_numbers():
    row = core.probe("112", {}, READY, {"passed": True, "dump_path": "/d", "size": 42, "timings": {"trigger_to_back": 70.5}})
    assert row["trigger_to_back"] == 70.5 and row["dump_size"] == 42 and row["reserved_bytes"] == 112 << 20


def p(mib, passed, verdict=None):
    return {"mib": mib, "passed": passed, "verdict": verdict or ("pass" if passed else "fail")}


@pytest.mark.parametrize("probes, status, minimum, failing", [
    ([p(192, True), p(64, False), p(128, True), p(96, False), p(112, True)], "calibrated", 112, 96),
    ([p(192, True), p(64, True)], "low works", 64, None),
    ([p(192, False)], "high fails", None, 192),
    ([p(192, True), p(64, False)], "incomplete", 192, 64),
    ([p(192, True), p(64, False), p(128, False, "error")], "incomplete", 192, 64),
    ([], "incomplete", None, None),
])
def test_result(probes, status, minimum, failing):
    out = core.result(probes, 64, 192, 16, 15)
    assert (out["status"], out["minimum_mib"], out["largest_failing_mib"]) == (status, minimum, failing)
    assert out["recommended"] == (None if minimum is None else "%dM" % core.with_margin(minimum, 15, 16))


HOST = {"arch": "x86_64", "kernel_release": "6.1.0-50-amd64", "system_ram": 1073086464, "cpus": 2,
        "distribution": "debian", "version": "12"}


@pytest.mark.parametrize("change, name", [
    ({}, "calibrated_debian_12_x86_64_6_1_0_50_amd64_1gib_2cpu"),
    ({"system_ram": 3 * GIB // 2}, "calibrated_debian_12_x86_64_6_1_0_50_amd64_2gib_2cpu"),   # half rounds up
    ({"system_ram": 4 * GIB - 200 * (1 << 20)}, "calibrated_debian_12_x86_64_6_1_0_50_amd64_4gib_2cpu"),
    ({"cpus": 4}, "calibrated_debian_12_x86_64_6_1_0_50_amd64_1gib_4cpu"),
    ({"arch": "aarch64", "kernel_release": "6.1.0-50-arm64"}, "calibrated_debian_12_aarch64_6_1_0_50_arm64_1gib_2cpu"),
    ({"distribution": "rhel", "version": "9.4"}, "calibrated_rhel_9_4_x86_64_6_1_0_50_amd64_1gib_2cpu"),
])
def test_group_key(change, name):
    assert core.group_key(dict(HOST, **change))["name"] == name


def outcome(host, probes, **facts):
    return {"host": host, "plan": {"low": 64, "high": 192, "step": 16, "max_probes": 5}, "probes": probes,
            "facts": dict(HOST, **facts), "previous": "crashkernel=384M-:128M",
            "restored": "crashkernel=384M-:128M (128 MiB reserved, kdump ready)", "error": None}


CALIBRATED_112 = [p(192, True), p(64, False), p(128, True), p(96, False), p(112, True)]
CALIBRATED_96 = [p(192, True), p(64, False), p(128, True), p(96, True), p(80, False)]


def test_a_group_takes_the_largest_minimum_of_its_members():
    out = core.report([outcome("b", CALIBRATED_96), outcome("a", CALIBRATED_112), outcome("c", CALIBRATED_96, cpus=4),
                       dict(outcome("d", [p(192, True)]), error="d did not come back")],
                      15, 16, "2026-12-03 17:30 UTC")
    groups = dict((g["name"], g) for g in out["json"]["groups"])
    two = groups["calibrated_debian_12_x86_64_6_1_0_50_amd64_1gib_2cpu"]
    # d stopped after one probe: 192 works there, but that is no minimum, so it does not count.
    assert two["hosts"] == ["a", "b"] and two["without_result"] == ["d"]
    assert two["minimum_mib"] == 112 and two["recommended"] == "144M"
    four = groups["calibrated_debian_12_x86_64_6_1_0_50_amd64_1gib_4cpu"]
    assert four["minimum_mib"] == 96 and four["recommended"] == "112M"
    assert [h["host"] for h in out["json"]["hosts"]] == ["a", "b", "c", "d"]
    assert out["json"]["hosts"][3]["status"] == "error"


def test_a_host_without_a_minimum_does_not_lower_or_raise_its_group():
    out = core.report([outcome("a", CALIBRATED_112), dict(outcome("d", [p(192, False)]))], 15, 16, "today")
    (group,) = out["json"]["groups"]
    assert group["hosts"] == ["a"] and group["without_result"] == ["d"]
    assert group["minimum_mib"] == 112 and group["recommended"] == "144M"


def test_group_vars_are_ready_for_the_role():
    out = core.report([outcome("a", CALIBRATED_112), outcome("b", CALIBRATED_96)], 15, 16, "2026-12-03 17:30 UTC")
    (name, text), = out["group_vars"].items()
    assert name == "group_vars/calibrated_debian_12_x86_64_6_1_0_50_amd64_1gib_2cpu.yml"
    assert yaml.safe_load(text) == {"kdump_crashkernel_policy": "fixed", "kdump_crashkernel": "144M"}
    assert text.startswith("---\n# Written by crashdump.kdump.calibrate on 2026-12-03 17:30 UTC")
    assert "on a, b (the largest of their minimums)" in text and "was 112 MiB; plus 15 % margin" in text


def test_no_group_vars_for_a_group_without_a_result():
    out = core.report([outcome("a", [p(192, False)])], 15, 16, "today")
    assert out["group_vars"] == {} and out["json"]["groups"][0]["recommended"] is None
    with pytest.raises(core.CalibrateError, match="has no calibrated host"):
        core.group_vars(out["json"]["groups"][0], 15, 16, "today")


def test_markdown():
    rows = [dict(p(192, True), reason="valid dump /d|x", seconds=301), dict(p(64, False), reason="does not load", seconds=120)]
    text = core.report([outcome("a", rows)], 15, 16, "2026-12-03")["markdown"]
    lines = text.splitlines()
    assert lines[0] == "# crashkernel= calibration"
    assert "| a | 64-192 MiB | incomplete | 192 MiB | 64 MiB | 224M | 2 | crashkernel=384M-:128M (128 MiB reserved, kdump ready) | - |" in lines
    assert "| a | 192 MiB | pass | 301 | valid dump /d/x |" in lines
    assert "| a | 64 MiB | fail | 120 | does not load |" in lines
    assert ("| calibrated_debian_12_x86_64_6_1_0_50_amd64_1gib_2cpu | debian 12 | 6.1.0-50-amd64 | x86_64 | 1 GiB | 2 | a"
            " (no result) | - | - |") in lines
