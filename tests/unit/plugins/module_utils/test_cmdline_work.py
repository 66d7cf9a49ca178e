# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kernel_cmdline's work (boot/service.py) per boot loader: the check-mode preview, the
commands run after the files are written, the next-boot check and the failure messages.
The module's main only writes the files this work plans and undoes them on failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from test__kernel_cmdline import Host, debian_host, fixture, recorded, replay_host, run_recorded

from ansible_collections.crashdump.kdump.plugins.module_utils.boot.cmdline import CmdlineError
from ansible_collections.crashdump.kdump.plugins.module_utils.boot.kernel_cmdline import BootError
from ansible_collections.crashdump.kdump.plugins.module_utils.boot.service import (
    CmdlineWork,
    running_cmdline,
)

RUNNING = "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro quiet"


def params(**kw):
    p = dict(args={"crashkernel": "256M"}, state="present", kernels="all", backend="auto",
             backup=False, update_bootloader=True)
    p.update(kw)
    return p


def systemd_boot_host(tmp_path):
    host = Host(tmp_path, set())
    host.write("/efi/loader/entries/0c3e-6.11.4-301.fc41.x86_64.conf",
               "title Fedora Linux 41\nversion 6.11.4-301.fc41.x86_64\n"
               "linux /0c3e/6.11.4-301.fc41.x86_64/linux\n"
               "options root=UUID=1f2e ro rhgb quiet\n")
    host.write("/efi/loader/loader.conf", "timeout 3\ndefault 0c3e-*\n")
    host.write("/etc/kernel/cmdline", "root=UUID=1f2e ro rhgb quiet\n")
    return host


def work_on(host, p, running=RUNNING, arch="x86_64"):
    work = CmdlineWork(host.files(), arch, running)
    work.prepare(p)
    return work


def test_running_cmdline_is_read_below_the_root(tmp_path):
    host = Host(tmp_path, set())
    assert running_cmdline(host.files()) == ""
    host.write("/proc/cmdline", RUNNING + "\n")
    assert running_cmdline(host.files()) == RUNNING


def test_systemd_boot_preview_then_finish(tmp_path):
    host = systemd_boot_host(tmp_path)
    work = work_on(host, params())
    preview = work.preview()
    assert preview["changed"] and preview["backend"] == "systemd_boot"
    assert preview["files"] == ["/efi/loader/entries/0c3e-6.11.4-301.fc41.x86_64.conf",
                                "/etc/kernel/cmdline"]
    assert preview["reboot_required"] and preview["commands"] == []
    assert "crashkernel" not in preview["next_boot_cmdline"]
    diff = work.diff()
    assert [d["before_header"] for d in diff] == preview["files"]
    assert "quiet crashkernel=256M" in diff[0]["after"]
    host.apply(work.plan)
    result = work.finish(host.run, pytest.fail)
    assert result["next_boot_cmdline"].endswith("crashkernel=256M")
    assert result["reboot_required"] and host.calls == []
    # converged: nothing to do, and once the running kernel has it, no reboot either
    again = work_on(host, params(), running=RUNNING + " crashkernel=256M")
    assert not again.changes()
    assert again.preview() == dict(changed=False, backend="systemd_boot",
                                   running_cmdline=RUNNING + " crashkernel=256M", files=[],
                                   commands=[], next_boot_cmdline=again.before_next,
                                   reboot_required=False)


def test_finish_refuses_a_next_boot_without_the_request(tmp_path):
    """The files were planned but not written (as if a loader ignored them): finish says so."""
    work = work_on(systemd_boot_host(tmp_path), params())
    with pytest.raises(BootError, match="does not carry the requested arguments"):
        work.finish(lambda argv: (0, "", ""), pytest.fail)


def test_grub_commands_fail_with_the_command_rc_and_stderr(tmp_path):
    host = debian_host(tmp_path)
    work = work_on(host, params())
    host.apply(work.plan)
    with pytest.raises(BootError, match=r"^/usr/sbin/update-grub failed \(rc=1\): no space$"):
        work.finish(lambda argv: (1, "", "no space\n"), pytest.fail)


def test_grub_config_that_does_not_parse(tmp_path):
    host = debian_host(tmp_path)
    work = work_on(host, params())
    answers = iter([(0, "", ""), (1, "", "syntax error at line 3")])
    with pytest.raises(BootError, match="does not parse: /usr/sbin/grub-script-check "
                                        "/boot/grub/grub.cfg: syntax error at line 3"):
        work.finish(lambda argv: next(answers), pytest.fail)


def test_grub_without_update_bootloader_warns_and_runs_nothing(tmp_path):
    host = debian_host(tmp_path)
    work = work_on(host, params(update_bootloader=False))
    host.apply(work.plan)
    warnings = []
    result = work.finish(pytest.fail, warnings.append)
    assert warnings == ["update_bootloader=false: run /usr/sbin/update-grub before rebooting,"
                        " or the change does not reach the next boot"]
    assert result["changed"] and result["files"] == ["/etc/default/grub.d/zz-crashdump-kdump.cfg"]


def test_grubby_runs_its_commands_and_reads_the_entries_back(tmp_path):
    case = recorded("case2_no_options_line")
    host = replay_host(tmp_path, case)
    work = work_on(host, params(backend="grubby"))
    assert work.preview()["commands"] == work.plan.commands
    host.apply(work.plan)
    ran = []

    def run(argv):
        ran.append(argv)
        run_recorded(host, case, argv)
        return 0, "", ""

    result = work.finish(run, pytest.fail)
    assert ran == work.plan.commands
    assert "crashkernel=256M" in result["next_boot_cmdline"].split()


def test_check_mode_preview_of_commands_only_change_diffs_the_next_boot(tmp_path):
    host = Host(tmp_path, {"rpm-ostree"}, {
        "rpm-ostree kargs": (0, "rhgb quiet root=UUID=ab rw crashkernel=512M\n", "")})
    host.write("/run/ostree-booted", "")
    work = work_on(host, params())
    assert work.diff() == [dict(before="rhgb quiet root=UUID=ab rw crashkernel=512M\n",
                                after="rhgb quiet root=UUID=ab rw crashkernel=256M\n",
                                before_header="next boot command line",
                                after_header="next boot command line")]
    assert work.preview()["commands"] == [["/usr/sbin/rpm-ostree", "kargs",
                                           "--delete=crashkernel=512M",
                                           "--append=crashkernel=256M"]]


def test_zipl_on_s390x(tmp_path):
    host = Host(tmp_path, {"zipl"})
    host.write("/etc/zipl.conf", fixture("s390x", "zipl.conf"))
    work = work_on(host, params(kernels="default"), arch="s390x")
    host.apply(work.plan)
    result = work.finish(lambda argv: (0, "", ""), pytest.fail)
    assert result["backend"] == "zipl" and "crashkernel=256M" in result["next_boot_cmdline"]


@pytest.mark.parametrize("p, error, message", [
    (params(kernels="/boot/vmlinuz-none"), BootError,
     "kernels: /boot/vmlinuz-none is not a kernel image on this host; expected all, default"),
    (params(args={"crash kernel": "1"}), CmdlineError, "crash kernel"),
    (params(backend="zipl"), BootError, "zipl"),
])
def test_bad_requests_are_refused_before_any_plan(tmp_path, p, error, message):
    host = systemd_boot_host(tmp_path)
    work = CmdlineWork(host.files(), "x86_64", RUNNING)
    with pytest.raises(error, match=message):
        work.prepare(p)
    assert work.plan is None and host.calls == []
