# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab driver's pure parts: boot splitting, image keys, VM names, ssh command line."""

import importlib.util
import os
import socket

import pytest

_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "lab", "kdumplab.py")
_SPEC = importlib.util.spec_from_file_location("kdumplab", _PATH)
kdumplab = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(kdumplab)

GRUB = b"\x1b[H\x1b[J\x1b[1;1H\x1b[2;24HGNU GRUB  version 2.06-13+deb12u2\r"
KERNEL = b"[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org)"


def boots(lines):
    splitter = kdumplab.BootSplitter()
    out = []
    for line in lines:
        if splitter.starts_boot(line):
            out.append([])
        out[-1].append(line)
    return out


def test_a_crash_cycle_gives_one_file_per_boot():
    lines = [GRUB, b"menu", KERNEL, b"login:", b"sysrq: Trigger a crash",   # boot 1
             KERNEL, b"kdump-tools: saved vmcore",                         # capture kernel
             b"reboot: Restarting system", GRUB, KERNEL, b"login:"]        # boot 3
    split = boots(lines)
    assert len(split) == 3
    assert split[0][0] == GRUB and b"sysrq: Trigger a crash" in split[0]
    assert split[1][0] == KERNEL and b"kdump-tools: saved vmcore" in split[1]
    assert split[2][0] == GRUB


def test_a_direct_kernel_boot_starts_at_the_kernel():
    assert len(boots([KERNEL, b"login:"])) == 1
    assert len(boots([b"noise before", KERNEL])) == 1


def test_seabios_banner_starts_a_boot():
    assert len(boots([b"SeaBIOS (version 1.16.2)", GRUB, KERNEL, b"SeaBIOS (version 1.16.2)"])) == 2


@pytest.mark.parametrize("name", ["vm1", "kdump-debian12", "a"])
def test_good_vm_names(name, tmp_path, monkeypatch):
    monkeypatch.setenv("KDUMP_LAB_STATE", str(tmp_path))
    assert kdumplab.vm_dir(name) == os.path.join(str(tmp_path), "vms", name)


@pytest.mark.parametrize("name", ["", "../x", "VM", "a/b", "x" * 40])
def test_bad_vm_names(name):
    with pytest.raises(kdumplab.LabError, match="use lowercase"):
        kdumplab.vm_dir(name)


def test_image_key_depends_on_what_goes_in(monkeypatch):
    key12, spec = kdumplab.image_key("12")
    assert key12.startswith("debian12-") and spec["suite"] == "bookworm"
    assert kdumplab.image_key("12")[0] == key12
    assert kdumplab.image_key("13")[0] != key12
    monkeypatch.setattr(kdumplab, "REPO_PACKAGES", kdumplab.REPO_PACKAGES + ["extra"])
    assert kdumplab.image_key("12")[0] != key12


def test_ssh_pins_the_host_key():
    argv = kdumplab.ssh_argv({"known_hosts": "/k", "identity_file": "/i", "port": 2222}, ["true"])
    assert "StrictHostKeyChecking=yes" in argv and "UserKnownHostsFile=/k" in argv
    assert argv[-2:] == ["root@127.0.0.1", "true"]


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KDUMP_LAB_CACHE", str(tmp_path))
    assert kdumplab.cache_dir() == str(tmp_path)
    monkeypatch.delenv("KDUMP_LAB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kdumplab.cache_dir() == os.path.join(str(tmp_path), "crashdump-kdump", "lab")


def test_mirror_override(monkeypatch):
    monkeypatch.setenv("KDUMP_LAB_MIRROR", "http://mirror.example/debian/")
    assert kdumplab.debian_mirror() == "http://mirror.example/debian"


def test_forced_accelerator(monkeypatch):
    monkeypatch.setenv("KDUMP_LAB_ACCEL", "tcg")
    assert kdumplab.choose_accel("/nonexistent") == "tcg"
    monkeypatch.setenv("KDUMP_LAB_ACCEL", "xen")
    with pytest.raises(kdumplab.LabError, match="use kvm or tcg"):
        kdumplab.choose_accel("/nonexistent")


def test_parse_forward():
    host, guest = kdumplab.parse_forward("2049")
    assert guest == 2049 and host > 1024
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    busy = sock.getsockname()[1]
    try:
        with pytest.raises(kdumplab.LabError, match="is in use"):
            kdumplab.parse_forward("%d:2049" % busy)
    finally:
        sock.close()
    assert kdumplab.parse_forward("%d:2049" % busy) == (busy, 2049)
    for bad in ("x", "1:2:3", "0", "70000", "a:22"):
        with pytest.raises(kdumplab.LabError, match="expected PORT or HOSTPORT:PORT"):
            kdumplab.parse_forward(bad)


def test_tcg_runs_single_threaded_and_kvm_uses_the_host_cpu():
    tcg = kdumplab.qemu_argv("tcg", 1024, 2, "disk.qcow2", [], None, None)
    assert tcg[tcg.index("-accel") + 1] == "tcg,thread=single"
    assert "-cpu" not in tcg
    assert "pvpanic" not in tcg   # a panic without a capture kernel must reboot, not stop QEMU
    kvm = kdumplab.qemu_argv("kvm", 1024, 2, "disk.qcow2", [], None, None)
    assert kvm[kvm.index("-accel") + 1] == "kvm" and kvm[kvm.index("-cpu") + 1] == "host"


def test_commands_run_by_the_lab_never_write_to_its_stdout(capfd):
    """stdout carries only the JSON answer that Molecule's create reads (an image build on
    the way must not put a tool's output in front of it)."""
    kdumplab.run(["sh", "-c", "echo from-the-tool; echo on-stderr >&2"])
    out, err = capfd.readouterr()
    assert out == ""
    assert "from-the-tool" in err and "on-stderr" in err
    # a caller that wants the output still gets it
    done = kdumplab.run(["echo", "captured"], stdout=kdumplab.subprocess.PIPE)
    assert done.stdout == b"captured\n"
