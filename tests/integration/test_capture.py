# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""kdump_info and kexec_crash run for real on this machine, which has no crash kernel
reservation: the facts must say so, and loading must fail cleanly, changing nothing.
Loading and unloading for real is done on the lab VM by the Molecule scenario ``modules``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_run import play


def reserved():
    try:
        with open("/sys/kernel/kexec_crash_size") as handle:
            return int(handle.read().strip() or 0)
    except (IOError, OSError, ValueError):
        return 0


needs_no_reservation = pytest.mark.skipif(reserved() > 0, reason="this machine reserves crash memory")


@pytest.mark.parametrize("check_mode", [False, True])
def test_kdump_info_on_a_host_without_kdump(tmp_path, check_mode):
    task = {"crashdump.kdump.kdump_info": {}}
    if check_mode:
        task["check_mode"] = True
    rc, results = play(tmp_path, [task])
    assert rc == 0, results
    info = results[0]
    assert info["changed"] is False
    for field in ("family", "installed", "package", "kernel_release", "reservation", "capture",
                  "service", "target", "makedumpfile", "dumps", "recommendation", "ready",
                  "reasons", "notes"):
        assert field in info, field
    assert info["kernel_release"] == os.uname()[2]
    if not os.path.exists("/etc/default/kdump-tools") and info["family"] == "debian":
        assert info["ready"] is False
        assert info["reasons"][0] == ("kdump-tools is not installed (/etc/default/kdump-tools"
                                      " does not exist)")
        assert info["target"] is None


@needs_no_reservation
@pytest.mark.parametrize("check_mode", [False, True])
def test_kexec_crash_refuses_without_a_reservation(tmp_path, check_mode):
    task = {"crashdump.kdump.kexec_crash": {"family": "debian"}}
    if check_mode:
        task["check_mode"] = True
    rc, results = play(tmp_path, [task])
    assert rc != 0
    assert results[0]["msg"].startswith("no memory is reserved for a capture kernel"
                                        " (/sys/kernel/kexec_crash_size is 0)")
    assert results[0]["commands"] == []
    assert not os.path.exists("/var/lib/crashdump-kdump/kexec_crash.json")


@needs_no_reservation
def test_unloading_what_is_not_loaded_changes_nothing(tmp_path):
    args = {"family": "debian", "state": "unloaded"}
    rc, results = play(tmp_path, [{"crashdump.kdump.kexec_crash": args}])
    assert rc == 0, results
    assert results[0]["changed"] is False and results[0]["actions"] == []


def test_service_method_refuses_direct_options(tmp_path):
    args = {"family": "debian", "kernel": "/boot/x"}
    rc, results = play(tmp_path, [{"crashdump.kdump.kexec_crash": args}])
    assert rc != 0
    assert "are for method=direct" in results[0]["msg"]


UNIT = "/etc/systemd/system/kdump.service"
WANTS = "/etc/systemd/system/multi-user.target.wants/kdump.service"


@pytest.fixture
def stand_in_unit():
    """A kdump.service unit file on this machine (systemctl enables and disables unit files
    without a running systemd), removed afterwards."""
    if os.path.exists(UNIT) or os.path.lexists(WANTS) or not os.path.isdir("/etc/systemd/system"):
        pytest.skip("this machine has a kdump.service of its own")
    with open(UNIT, "w") as handle:
        handle.write("[Unit]\nDescription=stand-in\n[Service]\nType=oneshot\nExecStart=/bin/true\n"
                     "[Install]\nWantedBy=multi-user.target\n")
    yield UNIT
    for path in (WANTS, UNIT):
        if os.path.lexists(path):
            os.unlink(path)


@needs_no_reservation
def test_enabled_turns_the_service_on_and_off_at_boot(tmp_path, stand_in_unit):
    def run(enabled, check_mode=False):
        task = {"crashdump.kdump.kexec_crash": {"family": "suse", "state": "unloaded", "enabled": enabled}}
        if check_mode:
            task["check_mode"] = True
        rc, results = play(tmp_path, [task])
        assert rc == 0, results
        return results[0]

    result = run(True, check_mode=True)
    assert result["changed"] is True and result["enabled"] is True
    assert not os.path.lexists(WANTS)
    result = run(True)
    assert result["changed"] is True and result["commands"][0][1:] == ["enable", "kdump.service"]
    assert os.path.islink(WANTS)
    result = run(True)
    assert result["changed"] is False and result["commands"] == []
    result = run(False)
    assert result["changed"] is True and result["commands"][0][1:] == ["disable", "kdump.service"]
    assert not os.path.lexists(WANTS)
    assert run(False)["changed"] is False


def test_enabled_refuses_a_service_that_is_not_installed(tmp_path):
    if os.path.exists("/etc/systemd/system/kdump-tools.service") or os.path.exists(
            "/lib/systemd/system/kdump-tools.service"):
        pytest.skip("kdump-tools is installed here")
    args = {"family": "debian", "state": "unloaded", "enabled": True}
    rc, results = play(tmp_path, [{"crashdump.kdump.kexec_crash": args}])
    assert rc != 0
    assert results[0]["msg"].startswith("kdump-tools.service cannot be enabled (systemctl is-enabled: ")
    assert results[0]["msg"].endswith("is the kdump package installed?")
    assert results[0]["commands"] == []
