# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""crashkernel_info and the filters, run for real on this machine through Ansible.

The machine running the suite is the managed host (local connection, as
root, with its system Python).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import struct
import subprocess
import sys

import pytest

from ansible_run import play

MODULE = "crashdump.kdump.crashkernel_info"
M = 1 << 20
COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(ansible_module, **args):
    contacted = getattr(ansible_module, MODULE)(**args)
    assert list(contacted.keys()) == ["localhost"]
    return contacted["localhost"]


def debug(expr):
    return {"ansible.builtin.debug": {"msg": expr}}


def system_ram_from_iomem():
    """Independent reading of /proc/iomem: top-level System RAM lines."""
    total = 0
    with open("/proc/iomem") as handle:
        for line in handle:
            if not line.startswith(" ") and line.rstrip().endswith(": System RAM"):
                start, end = line.split(" : ")[0].split("-")
                total += int(end, 16) - int(start, 16) + 1
    return total


def assert_clean_failure(res, *fragments):
    assert res.get("failed") is True
    for fragment in fragments:
        assert fragment in res["msg"]
    assert "Traceback" not in res.get("module_stderr", "")
    assert "exception" not in res or "Traceback" not in str(res.get("exception"))


@pytest.fixture
def fake_kernel(tmp_path):
    """A bzImage header that says 40M, and a 7 MB kdump initrd."""
    data = bytearray(0x1000)
    data[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", data, 0x206, 0x020F)
    struct.pack_into("<I", data, 0x260, 40 * M)
    kernel = tmp_path / "vmlinuz-test"
    kernel.write_bytes(bytes(data))
    initrd = tmp_path / "initrd.img-test"
    initrd.write_bytes(b"\0" * (7 * M))
    return str(kernel), str(initrd)


def test_distro_policy_reads_this_host(ansible_module):
    res = run(ansible_module)
    assert res.get("failed") is not True, res.get("msg")
    assert res["changed"] is False
    assert res["host"]["system_ram"] == system_ram_from_iomem()
    assert res["host"]["system_ram"] > (res["host"]["memtotal"] or 0)
    assert res["host"]["page_size"] == os.sysconf("SC_PAGE_SIZE")
    assert res["host"]["arch"] == os.uname()[4]
    with open("/proc/cmdline") as handle:
        assert res["current"]["cmdline"] == handle.read().strip()
    rec = res["recommended"]
    assert rec["policy"] == "distro"
    assert rec["crashkernel"].startswith("crashkernel=")
    assert rec["explanation"]
    assert isinstance(res["matches"], bool)


def test_estimate_policy_with_given_kernel_and_initrd(ansible_module, fake_kernel):
    kernel, initrd = fake_kernel
    res = run(ansible_module, policy="estimate", kernel_path=kernel, initrd_path=initrd,
              detect_luks=False)
    assert res.get("failed") is not True, res.get("msg")
    assert res["host"]["kernel_memory"] == 40 * M
    assert res["host"]["initrd_size"] == 7 * M
    parts = dict((p["name"], p["bytes"]) for p in res["recommended"]["details"]["parts"])
    assert parts["kernel"] == 40 * M
    assert parts["initrd"] == 21 * M
    size = res["recommended"]["reserved_bytes"]
    assert size % (32 * M) == 0
    assert size >= res["recommended"]["details"]["sum"] * 1.25


def test_fixed_policy_and_the_filter_agree(ansible_module, tmp_path):
    res = run(ansible_module, policy="fixed", value="1G-4G:192M,4G-64G:256M,64G-:512M",
              placement="low")
    assert res.get("failed") is not True, res.get("msg")
    ram = res["host"]["system_ram"]
    expr = "{{ '%s' | crashdump.kdump.crashkernel_size(%d) }}" % (res["recommended"]["value"], ram)
    rc, results = play(tmp_path, [debug(expr)])
    assert rc == 0
    assert int(results[0]["msg"]) == res["recommended"]["reserved_bytes"]


@pytest.mark.parametrize("value, fragment", [
    ("1G-512M:64M", "range end 512M is not above its start 1G"),
    ("64X", "unknown suffix 'X'"),
    ("abc", "'abc' is not a size"),
    ("1G-4G:192M,2G-8G:256M", "overlap"),
])
def test_malformed_fixed_value_fails_cleanly(ansible_module, value, fragment):
    res = run(ansible_module, policy="fixed", value=value)
    assert_clean_failure(res, fragment, "'%s'" % value)


def test_fixed_needs_a_value(ansible_module):
    res = run(ansible_module, policy="fixed")
    assert_clean_failure(res, "policy is fixed", "value")


def test_filters_through_ansible(tmp_path):
    rc, results = play(tmp_path, [
        debug("{{ '1G-4G:192M,4G-64G:256M,64G-:512M'"
              " | crashdump.kdump.crashkernel_size(8589934592) }}"),
        debug("{{ 'crashkernel=2G,high crashkernel=256M,low' | crashdump.kdump.crashkernel_parse }}"),
        debug("{{ {'high': '2G', 'low': '256M'} | crashdump.kdump.crashkernel_format }}"),
        debug("{{ '2G,high 256M,low' | crashdump.kdump.crashkernel_parse"
              " | crashdump.kdump.crashkernel_format(false) }}"),
    ])
    assert rc == 0
    assert int(results[0]["msg"]) == 268435456
    assert results[1]["msg"]["high"] == 2 << 30 and results[1]["msg"]["low"] == 256 * M
    assert results[2]["msg"] == "crashkernel=2G,high crashkernel=256M,low"
    assert results[3]["msg"] == "2G,high 256M,low"


@pytest.mark.parametrize("expr, fragment", [
    ("{{ '1G-512M:64M' | crashdump.kdump.crashkernel_size(8589934592) }}",
     "range end 512M is not above its start 1G"),
    ("{{ 'abc' | crashdump.kdump.crashkernel_parse }}", "'abc' is not a size"),
    ("{{ {} | crashdump.kdump.crashkernel_format }}", "nothing to format"),
])
def test_malformed_filter_input_fails_cleanly(tmp_path, expr, fragment):
    rc, results = play(tmp_path, [debug(expr)])
    assert rc != 0
    assert results[0]["status"] == "fatal"
    assert fragment in results[0]["msg"]
    assert "Traceback" not in results[0]["msg"]


def test_report_playbook_in_check_mode():
    """The report playbook changes nothing and runs the same in check mode."""
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
           "-i", os.path.join(COLLECTION, "tests/integration/inventory.ini"),
           "--check", "--diff", "-e", "crashkernel_report_policy=distro",
           os.path.join(COLLECTION, "playbooks/crashkernel_report.yml")]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, cwd=COLLECTION, check=False)
    assert out.returncode == 0, out.stdout
    assert "changed=0" in out.stdout
    assert "recommended crashkernel=" in out.stdout


def test_policy_none_reads_the_family_and_recommends_nothing(ansible_module):
    res = run(ansible_module, policy="none")
    assert res.get("failed") is not True, res.get("msg")
    assert res["recommended"] is None
    assert res["matches"] is False
    # This machine is Debian: the family record's packages, unit and files.
    assert res["family"]["name"] == "debian"
    assert res["family"]["os_family"] == "Debian"
    assert res["family"]["packages"] == ["kdump-tools", "makedumpfile", "kexec-tools"]
    assert res["family"]["service"] == "kdump-tools.service"
    assert res["family"]["config_file"] == "/etc/default/kdump-tools"
    assert res["family"]["package_manager"] == "apt"
    assert res["host"]["distribution"] == "debian"
    # The same family with a sizing policy.
    assert run(ansible_module)["family"] == res["family"]
