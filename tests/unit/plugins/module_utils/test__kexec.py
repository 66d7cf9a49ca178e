# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import struct

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.capture import kallsyms, kexec
from ansible_collections.crashdump.kdump.plugins.module_utils.capture.kexec import (
    SECURE_BOOT_GUID,
    Capture,
    KexecError,
    boot_action,
    capture_cmdline,
    choose_syscall,
    decide,
    efi_secure_boot,
    fingerprint,
    fits,
    kexec_argv,
    lockdown_mode,
    needs_rebuild,
    unload_argv,
)

MIB = 1 << 20
PROC_CMDLINE = ("BOOT_IMAGE=/boot/vmlinuz-6.1.0-50-amd64 root=UUID=dce86a75-c9c4-429a-b8ac-6996f2e95c32"
                " ro console=ttyS0,115200n8 crashkernel=192M hugepages=16")


def test_debian_cmdline_as_kdump_config_builds_it():
    assert capture_cmdline("debian", PROC_CMDLINE, {}) == (
        "BOOT_IMAGE=/boot/vmlinuz-6.1.0-50-amd64 root=UUID=dce86a75-c9c4-429a-b8ac-6996f2e95c32"
        " ro console=ttyS0,115200n8 reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1"
        " irqpoll usbcore.nousb")


def test_debian_cmdline_overrides():
    config = {"KDUMP_CMDLINE": "root=/dev/vda1 ro", "KDUMP_CMDLINE_APPEND": "nr_cpus=1 x=y"}
    assert capture_cmdline("debian", PROC_CMDLINE, config) == "root=/dev/vda1 ro nr_cpus=1 x=y"
    assert capture_cmdline("debian", PROC_CMDLINE, {"KDUMP_CMDLINE_APPEND": ""}).endswith(
        "console=ttyS0,115200n8")


def test_redhat_cmdline_removes_and_appends():
    config = {"KDUMP_COMMANDLINE": "", "KDUMP_COMMANDLINE_REMOVE": "hugepages hugepagesz quiet",
              "KDUMP_COMMANDLINE_APPEND": "irqpoll nr_cpus=1 reset_devices"}
    assert capture_cmdline("redhat", PROC_CMDLINE + " quiet", config) == (
        "root=UUID=dce86a75-c9c4-429a-b8ac-6996f2e95c32 ro console=ttyS0,115200n8 irqpoll"
        " nr_cpus=1 reset_devices")


@pytest.mark.parametrize("requested,arch,secure,lockdown,expected", [
    ("auto", "x86_64", False, "none", ("file", None)),
    ("auto", "aarch64", False, "none", ("file", None)),
    ("auto", "ppc64", False, "none",
     ("load", "kexec_file_load is not available on ppc64; kexec_load is used")),
    ("auto", "ppc64", True, "none", ("file", None)),
    ("auto", "ppc64", False, "integrity", ("file", None)),
    ("load", "x86_64", False, "none", ("load", None)),
    ("file", "ppc64", False, "none", ("file", None)),
])
def test_syscall_choice(requested, arch, secure, lockdown, expected):
    assert choose_syscall(requested, arch, secure, lockdown) == expected


@pytest.mark.parametrize("secure,lockdown,pattern", [
    (True, "none", "under Secure Boot"), (False, "confidentiality", "lockdown=confidentiality")])
def test_kexec_load_refused_when_locked(secure, lockdown, pattern):
    with pytest.raises(KexecError, match=pattern):
        choose_syscall("load", "x86_64", secure, lockdown)


def test_argv():
    assert kexec_argv("/sbin/kexec", "file", "/boot/vmlinuz-6.1", "/var/lib/kdump/initrd.img-6.1",
                      "root=/dev/vda1 nr_cpus=1", ["--debug"]) == [
        "/sbin/kexec", "-p", "-s", "--debug", "--command-line=root=/dev/vda1 nr_cpus=1",
        "--initrd=/var/lib/kdump/initrd.img-6.1", "/boot/vmlinuz-6.1"]
    assert kexec_argv("kexec", "load", "k", None, "c") == ["kexec", "-p", "-c", "--command-line=c", "k"]
    assert unload_argv("kexec", "file") == ["kexec", "-p", "-u", "-s"]
    assert unload_argv("kexec", "load") == ["kexec", "-p", "-u"]


@pytest.mark.parametrize("text,mode", [
    ("[none] integrity confidentiality\n", "none"), ("none [integrity] confidentiality", "integrity"),
    (None, "none")])
def test_lockdown(text, mode):
    assert lockdown_mode(text) == mode


@pytest.mark.parametrize("secure,setup,expected", [(1, 0, True), (0, 0, False), (1, 1, False),
                                                   (None, None, False)])
def test_secure_boot_from_efivars(tmp_path, secure, setup, expected):
    efivars = tmp_path / "sys" / "firmware" / "efi" / "efivars"
    efivars.mkdir(parents=True)
    for name, value in (("SecureBoot", secure), ("SetupMode", setup)):
        if value is not None:
            (efivars / ("%s-%s" % (name, SECURE_BOOT_GUID))).write_bytes(b"\x06\x00\x00\x00" + bytes([value]))
    assert efi_secure_boot(str(tmp_path)) is expected


def bzimage(init_size, total):
    data = bytearray(total)
    data[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", data, 0x206, 0x020F)
    struct.pack_into("<I", data, 0x260, init_size)
    return bytes(data)


def test_fits_uses_the_kernels_in_memory_size(tmp_path):
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(bzimage(40 * MIB, 2 * MIB))
    initrd = tmp_path / "initrd"
    initrd.write_bytes(b"\0" * (30 * MIB))
    assert fits(128 * MIB, str(kernel), str(initrd)) is None
    message = fits(64 * MIB, str(kernel), str(initrd))
    assert "needs 40 MiB in memory and the initrd %s is 30 MiB, 70 MiB together, but only 64 MiB" \
           " are reserved" % initrd in message
    assert "raise crashkernel=" in message


def test_fingerprint_and_rebuild(tmp_path):
    kernel = tmp_path / "k"
    kernel.write_bytes(b"kernel")
    initrd = tmp_path / "i"
    initrd.write_bytes(b"initrd")
    conf = tmp_path / "kdump.conf"
    conf.write_text("path /var/crash\n")
    first = fingerprint(str(kernel), str(initrd), "c", "file", [str(conf)])
    assert first == fingerprint(str(kernel), str(initrd), "c", "file", [str(conf)])
    conf.write_text("ssh kdump@dumps\n")
    second = fingerprint(str(kernel), str(initrd), "c", "file", [str(conf)])
    assert needs_rebuild(first, second)
    assert not needs_rebuild(None, second)
    initrd.write_bytes(b"other")
    assert fingerprint(str(kernel), str(initrd), "c", "file", [str(conf)])["initrd_sha256"] != \
        second["initrd_sha256"]


FP = {"kernel": "/boot/vmlinuz", "initrd_sha256": "a", "cmdline": "c", "config_sha256": {}}


@pytest.mark.parametrize("state,loaded,stored,current,initrd,rebuild,actions", [
    ("loaded", False, None, FP, True, "auto", ["load"]),
    ("loaded", True, None, FP, True, "auto", []),                     # adopt the service's load
    ("loaded", True, FP, FP, True, "auto", []),                       # idempotent
    ("loaded", True, FP, dict(FP, cmdline="d"), True, "auto", ["unload", "load"]),
    ("loaded", True, FP, dict(FP, config_sha256={"/etc/kdump.conf": "x"}), True, "auto",
     ["unload", "rebuild", "load"]),
    ("loaded", True, FP, dict(FP, config_sha256={"/etc/kdump.conf": "x"}), True, "never",
     ["unload", "load"]),
    ("loaded", False, None, None, False, "auto", ["rebuild", "load"]),
    ("loaded", True, FP, FP, True, "always", ["unload", "rebuild", "load"]),
    ("reloaded", True, FP, FP, True, "auto", ["unload", "load"]),
    ("reloaded", False, FP, FP, True, "auto", ["load"]),
    ("unloaded", True, FP, FP, True, "auto", ["unload"]),
    ("unloaded", False, FP, FP, True, "auto", []),
    ("built", False, None, None, False, "auto", ["rebuild"]),
    ("built", True, FP, FP, True, "auto", []),
    ("built", True, FP, dict(FP, config_sha256={"/etc/kdump.conf": "x"}), True, "auto", []),
    ("built", True, FP, FP, True, "always", ["rebuild"]),
    ("built", False, None, None, False, "never", []),
])
def test_decide(state, loaded, stored, current, initrd, rebuild, actions):
    got, reasons = decide(state, loaded, stored, current, initrd, rebuild)
    assert got == actions
    assert bool(reasons) == bool(actions)


def test_decide_names_what_differs():
    _actions, reasons = decide("loaded", True, FP, dict(FP, cmdline="d", kernel="/boot/other"), True)
    assert reasons == ["what is loaded differs from what should be (cmdline, kernel)"]


def make_root(tmp_path, size="201326592\n", loaded="1\n"):
    sysdir = tmp_path / "sys" / "kernel"
    sysdir.mkdir(parents=True)
    (sysdir / "kexec_crash_size").write_text(size)
    (sysdir / "kexec_crash_loaded").write_text(loaded)
    return Capture(str(tmp_path), sleep=lambda seconds: None)


def test_reads_the_reservation(tmp_path):
    capture = make_root(tmp_path)
    assert capture.reserved() == 192 * MIB and capture.loaded() is True


def test_kexec_crash_size_is_read_again_on_ebusy(tmp_path, kexec_crash_size_busy):
    capture = make_root(tmp_path)
    kexec_crash_size_busy["left"] = 2
    assert capture.reserved() == 192 * MIB
    assert kexec_crash_size_busy["left"] == 0


def test_kexec_crash_size_busy_for_good_is_an_error(tmp_path, kexec_crash_size_busy):
    capture = make_root(tmp_path)
    kexec_crash_size_busy["left"] = -1
    with pytest.raises(KexecError, match="kexec_crash_size"):
        capture.reserved()


def test_state_file_and_defaults(tmp_path):
    capture = make_root(tmp_path)
    assert capture.stored() is None
    state = tmp_path / "var" / "lib" / "crashdump-kdump"
    state.mkdir(parents=True)
    (state / "kexec_crash.json").write_text('{"cmdline": "c"}')
    assert capture.stored() == {"cmdline": "c"}
    (state / "kexec_crash.json").write_text("not json")
    assert capture.stored() is None
    assert capture.defaults("redhat", "5.14.0-427.el9.x86_64") == (
        "/boot/vmlinuz-5.14.0-427.el9.x86_64", "/boot/initramfs-5.14.0-427.el9.x86_64kdump.img")
    assert capture.defaults("suse", "6.4.0-150600.23-default")[1] == "/boot/initrd-6.4.0-150600.23-default-kdump"


@pytest.mark.parametrize("wanted, rc, out, action", [
    (None, 1, "disabled\n", None),
    (True, 0, "enabled\n", None),
    (True, 0, "static\n", None),
    (True, 0, "enabled-runtime\n", None),
    (True, 1, "disabled\n", "enable"),
    (True, 1, "linked\n", "enable"),
    (False, 0, "enabled\n", "disable"),
    (False, 0, "static\n", None),
    (False, 1, "disabled\n", None),
    (False, 1, "masked\n", None),
])
def test_boot_action(wanted, rc, out, action):
    assert boot_action(wanted, "kdump-tools.service", rc, out) == action


@pytest.mark.parametrize("rc, out, pattern", [
    (1, "masked\n", "kdump.service is masked"),
    (1, "not-found\n", "kdump.service cannot be enabled .*not-found.*installed"),
    (1, "", "no answer"),
])
def test_boot_action_refuses_what_cannot_be_enabled(rc, out, pattern):
    with pytest.raises(KexecError, match=pattern):
        boot_action(True, "kdump.service", rc, out)


@pytest.mark.parametrize("text, expected", [
    # Debian 12 arm64 (6.1, no CONFIG_KALLSYMS_ALL): _text is 64 KiB before _stext
    ("ffff800008010000 T _stext\nffff800008010000 t __bp_harden_el1_vectors\n", 0xffff800008000000),
    # with KASLR the same distance
    ("ffffa3c1d2a10000 T _stext\n", 0xffffa3c1d2a00000),
    # Debian 13 arm64 (6.12, KALLSYMS_ALL): listed, nothing to supply
    ("ffff800080000000 T _text\nffff800080010000 T _stext\n", None),
    # kptr_restrict hides every address as zeros: nothing can be told
    ("0000000000000000 T _stext\n", None),
    ("", None),
    (None, None),
    # a module's symbol named _stext is not the kernel's
    ("ffff800001234000 t _stext\t[evil]\n", None),
    ("zzzz T _stext\n", None),
])
def test_arm64_missing_text(text, expected):
    assert kallsyms.missing_text(text) == expected


SYSTEM_MAP = "ffff800008000000 T _text\nffff800008000000 T _head\nffff800008010000 T _stext\n"


def test_arm64_text_follows_the_distance_system_map_gives():
    assert kallsyms.text_offset(SYSTEM_MAP) == 0x10000
    # another layout: the distance is the kernel's own, not a constant
    other = "ffff800008000000 T _text\nffff800008020000 T _stext\n"
    assert kallsyms.missing_text("ffffa3c1d2a20000 T _stext\n", other) == 0xffffa3c1d2a00000
    # a System.map without both symbols, or nonsense distances: the 64 KiB default
    assert kallsyms.text_offset("ffff800008010000 T _stext\n") == 0x10000
    assert kallsyms.text_offset("ffff800008010000 T _text\nffff800008000000 T _stext\n") == 0x10000


def test_arm64_copy_has_text_first_and_everything_else_unchanged():
    text = "ffffa3c1d2a10000 T _stext\nffffa3c1d2b00000 T printk\n"
    copy = kallsyms.with_text(text, SYSTEM_MAP)
    assert copy == "ffffa3c1d2a00000 T _text\n" + text
    assert kallsyms.missing_text(copy) is None
    assert kallsyms.with_text(copy) is None


def test_arm64_provide_writes_a_root_only_copy_and_removes_it_when_not_needed(tmp_path):
    root = str(tmp_path)
    os.makedirs(os.path.join(root, "proc"))
    os.makedirs(os.path.join(root, "boot"))
    with open(os.path.join(root, "proc", "kallsyms"), "w") as handle:
        handle.write("ffffa3c1d2a10000 T _stext\n")
    with open(os.path.join(root, "boot", "System.map-6.1.0-41-arm64"), "w") as handle:
        handle.write(SYSTEM_MAP)
    path, address = kallsyms.provide(root, "6.1.0-41-arm64")
    assert address == 0xffffa3c1d2a00000
    assert path == os.path.join(root, "run", "crashdump-kdump", "kallsyms")
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    with open(path) as handle:
        assert handle.read().startswith("ffffa3c1d2a00000 T _text\n")
    with open(os.path.join(root, "proc", "kallsyms"), "w") as handle:
        handle.write("ffff800080000000 T _text\nffff800080010000 T _stext\n")
    assert kallsyms.provide(root, "6.1.0-41-arm64") == (path, None)
    assert not os.path.exists(path)


def test_the_boot_dropin_runs_the_program_unsandboxed_and_binds_the_copy():
    text = kexec.arm64_dropin("/usr/bin/python3")
    lines = text.splitlines()
    assert "[Service]" in lines
    assert "ExecStartPre=-+/usr/bin/python3 /usr/local/lib/crashdump-kdump/kallsyms.py" in lines
    assert "BindReadOnlyPaths=-/run/crashdump-kdump/kallsyms:/proc/kallsyms" in lines


def test_kexec_file_from_the_kernel_config():
    assert kexec.kexec_file_in_config("CONFIG_KEXEC=y\nCONFIG_KEXEC_FILE=y\n") is True
    assert kexec.kexec_file_in_config("# CONFIG_KEXEC_FILE is not set\n") is False
    assert kexec.kexec_file_in_config("") is None
    assert choose_syscall("auto", "aarch64", False, "none", False)[0] == "load"
    assert choose_syscall("auto", "aarch64", False, "none", True) == ("file", None)
    with pytest.raises(KexecError, match="CONFIG_KEXEC_FILE"):
        choose_syscall("file", "aarch64", False, "none", False)
    with pytest.raises(KexecError, match="lockdown=integrity refuses kexec_load"):
        choose_syscall("auto", "aarch64", False, "integrity", False)
