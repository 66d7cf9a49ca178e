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


# --- arm64: the image key, QEMU's argv, the two-stage build's pure parts ----------------

def test_arm64_images_have_their_own_key_and_boot_only_by_uefi(monkeypatch):
    monkeypatch.setenv("KDUMP_LAB_MIRROR", "http://mirror.example/debian")
    key, spec = kdumplab.image_key("12", "uefi", "arm64")
    assert key.startswith("debian12-arm64-uefi-") and spec["arch"] == "arm64"
    assert "linux-image-arm64" in spec["packages"] and "grub-efi-arm64" in spec["packages"]
    assert "linux-image-amd64" not in spec["packages"] and "grub-pc" not in spec["packages"]
    # amd64 keys carry no arch: images cached before arm64 existed keep their names
    assert "arch" not in kdumplab.image_key("12", "uefi")[1]
    assert key != kdumplab.image_key("12", "uefi")[0]
    for boot in ("bios", "secureboot", "systemd-boot"):
        with pytest.raises(kdumplab.LabError, match="boot %s on arm64: expected one of uefi" % boot):
            kdumplab.image_key("12", boot, "arm64")
    with pytest.raises(kdumplab.LabError, match="arch riscv64"):
        kdumplab.image_key("12", "uefi", "riscv64")


def test_arm64_runs_on_the_virt_machine_with_aavmf():
    efi = {"code": "/c.fd", "vars": "/v.fd", "secure": False, "machine": "virt"}
    argv = kdumplab.qemu_argv("tcg", 2048, 2, "disk.raw", [], None, None, efi, "arm64", "raw")
    assert argv[0] == "qemu-system-aarch64"
    assert argv[argv.index("-machine") + 1] == "virt"
    assert argv[argv.index("-accel") + 1] == "tcg"          # MTTCG: the x86 livelock is x86's
    assert argv[argv.index("-cpu") + 1] == "cortex-a57"
    assert "-vga" not in argv
    assert "if=pflash,format=raw,unit=0,readonly=on,file=/c.fd" in argv
    assert "file=disk.raw,if=virtio,format=raw,cache=unsafe" in argv
    assert kdumplab.boot_machine("uefi", "arm64") == "virt"


def test_a_foreign_guest_never_gets_kvm(monkeypatch):
    monkeypatch.setattr(kdumplab, "HOST_ARCH", "amd64")
    monkeypatch.setenv("KDUMP_LAB_ACCEL", "kvm")
    assert kdumplab.choose_accel("/nonexistent", "arm64") == "tcg"


def test_tree_path_resolves_links_inside_the_tree(tmp_path):
    root = tmp_path / "tree"
    (root / "usr/lib/aarch64-linux-gnu").mkdir(parents=True)
    (root / "usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1").write_bytes(b"ELF")
    (root / "lib").symlink_to("usr/lib")
    # an absolute link means the tree's /lib..., never the build host's
    (root / "usr/lib/ld-linux-aarch64.so.1").symlink_to("/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1")
    found = kdumplab.tree_path(str(root), "lib/ld-linux-aarch64.so.1")
    assert found == str(root / "usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1")
    assert kdumplab.tree_path(str(root), "lib/missing.so") is None
    (root / "loop").symlink_to("loop")
    with pytest.raises(kdumplab.LabError, match="too many symbolic links"):
        kdumplab.tree_path(str(root), "loop/x")


def test_module_closure_loads_dependencies_first(tmp_path):
    (tmp_path / "modules.dep").write_text(
        "kernel/fs/ext4/ext4.ko.xz: kernel/fs/jbd2/jbd2.ko.xz kernel/fs/mbcache.ko.xz kernel/lib/crc16.ko.xz\n"
        "kernel/fs/jbd2/jbd2.ko.xz:\n"
        "kernel/fs/mbcache.ko.xz:\n"
        "kernel/lib/crc16.ko.xz:\n"
        "kernel/drivers/block/virtio_blk.ko.xz:\n"
        "kernel/crypto/crc32c_generic.ko.xz:\n")
    order = kdumplab._module_closure(str(tmp_path), ("virtio_blk", "crc32c_generic", "ext4", "virtio"))
    assert order[0] == "kernel/drivers/block/virtio_blk.ko.xz"
    assert order.index("kernel/fs/jbd2/jbd2.ko.xz") < order.index("kernel/fs/ext4/ext4.ko.xz")
    assert order[-1] == "kernel/fs/ext4/ext4.ko.xz" and len(order) == 6


def _read_newc(data):
    """(name, mode, data) of each entry of an uncompressed cpio newc archive."""
    out, pos = [], 0
    while True:
        assert data[pos:pos + 6] == b"070701"
        fields = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        size, namesize = fields[6], fields[11]
        name_at = pos + 110
        name = data[name_at:name_at + namesize - 1].decode()
        body_at = name_at + namesize + (-(110 + namesize) % 4)
        if name == "TRAILER!!!":
            return out
        out.append((name, fields[1], data[body_at:body_at + size]))
        pos = body_at + size + (-size % 4)


def test_the_stage2_initramfs_format_reads_back(tmp_path):
    entries = [("bin", 0o40755, b""), ("bin/busybox", 0o100755, b"\x7fELF12345"),
               ("bin/sh", 0o120777, "busybox"), ("init", 0o100755, kdumplab.STAGE2_INIT)]
    path = tmp_path / "i.cpio"
    kdumplab.write_newc(str(path), entries)
    got = _read_newc(path.read_bytes())
    assert [(n, m) for n, m, _d in got] == [(n, m) for n, m, _d in entries]
    assert got[1][2] == b"\x7fELF12345" and got[2][2] == b"busybox"
    assert got[3][2].startswith(b"#!/bin/sh\n")


def test_the_stage2_kernel_package_is_the_image_not_its_debug_symbols(tmp_path):
    archives = tmp_path / "var/cache/apt/archives"
    archives.mkdir(parents=True)
    for name in ("linux-image-6.1.0-50-arm64-dbg_6.1.176-1_arm64.deb",
                 "linux-image-6.1.0-50-arm64_6.1.176-1_arm64.deb",
                 "linux-image-arm64_6.1.176-1_arm64.deb", "busybox_1%3a1.35.0-4_arm64.deb"):
        (archives / name).write_bytes(b"")
    found = kdumplab._archive(str(tmp_path), kdumplab.KERNEL_DEB, "linux-image")
    assert os.path.basename(found) == "linux-image-6.1.0-50-arm64_6.1.176-1_arm64.deb"
    with pytest.raises(kdumplab.LabError, match="no zstd package downloaded by debootstrap"):
        kdumplab._archive(str(tmp_path), r"zstd_.*\.deb$", "zstd")
