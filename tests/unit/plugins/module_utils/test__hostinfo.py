# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host readers: /proc/iomem, kernel headers, luksDump, calibrate, and a fake host tree."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import gzip
import os
import struct

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.hostinfo import (
    HostInfoError,
    HostReader,
    initrd_module_names,
    kernel_memory_size,
    parse_calibrate,
    parse_iomem,
    parse_luks_dump,
    parse_nr_cpus,
    parse_os_release,
    parse_proc_modules,
    read_sysfs_int,
)

M = 1 << 20
G = 1 << 30

# A 1 GiB QEMU guest (i440fx) with a 128M reservation, as root sees it.
IOMEM_1G = """\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-0009ffff : Reserved
000a0000-000bffff : PCI Bus 0000:00
000f0000-000fffff : Reserved
  000f0000-000fffff : System ROM
00100000-3ffdffff : System RAM
  1b000000-22ffffff : Crash kernel
  2f600000-30402626 : Kernel code
  30600000-30eb2fff : Kernel rodata
3ffe0000-3fffffff : Reserved
40000000-febfffff : PCI Bus 0000:00
fffc0000-ffffffff : Reserved
"""

# A 6 GiB guest: RAM above 4 GiB too, and ,high plus ,low areas.
IOMEM_6G = """\
00001000-0009fbff : System RAM
00100000-bffdffff : System RAM
  ab000000-baffffff : Crash kernel
100000000-1bfffffff : System RAM
  1b0000000-1bfffffff : Crash kernel
"""

IOMEM_HIDDEN = """\
00000000-00000000 : Reserved
00000000-00000000 : System RAM
00000000-00000000 : System RAM
  00000000-00000000 : Crash kernel
"""


def test_parse_iomem_sums_system_ram_not_memtotal():
    info = parse_iomem(IOMEM_1G)
    expected = (0x9fbff - 0x1000 + 1) + (0x3ffdffff - 0x100000 + 1)
    assert info["system_ram"] == expected == 1073212416
    assert info["ram_below_4g"] == expected
    assert info["crash_regions"] == [{"start": 0x1b000000, "end": 0x22ffffff, "size": 128 * M}]
    assert info["hidden"] is False


def test_parse_iomem_above_4g():
    info = parse_iomem(IOMEM_6G)
    above = 0x1bfffffff - 0x100000000 + 1
    assert info["system_ram"] - info["ram_below_4g"] == above == 3 * G
    assert [r["size"] for r in info["crash_regions"]] == [256 * M, 256 * M]


def test_parse_iomem_hidden_for_non_root():
    assert parse_iomem(IOMEM_HIDDEN)["hidden"] is True


def test_parse_iomem_ignores_noise():
    assert parse_iomem("garbage\n\nzz-yy : System RAM\n")["system_ram"] == 0


def bzimage(version=0x020F, init_size=0x2800000):
    data = bytearray(0x400)
    data[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", data, 0x206, version)
    struct.pack_into("<I", data, 0x260, init_size)
    return bytes(data)


def arm64_image(image_size=0x2C10000):
    data = bytearray(0x100)
    struct.pack_into("<Q", data, 16, image_size)
    data[0x38:0x3C] = b"ARM\x64"
    return bytes(data)


@pytest.mark.parametrize("data, expected", [
    (bzimage(), 0x2800000),
    (bzimage(version=0x0209), None),      # before boot protocol 2.10: no init_size
    (bzimage(init_size=0), None),
    (arm64_image(), 0x2C10000),
    (arm64_image(image_size=0), None),
    (gzip.compress(arm64_image()), 0x2C10000),
    (gzip.compress(b"not a kernel" * 10), None),
    (b"\x1f\x8b\x08truncated", None),
    (b"\x7fELF" + b"\0" * 100, None),
    (b"", None),
])
def test_kernel_memory_size(data, expected):
    assert kernel_memory_size(data) == expected


def test_parse_luks_dump_takes_the_largest_keyslot():
    text = """LUKS header information
Version:        2
Keyslots:
  0: luks2
        Key:        512 bits
        PBKDF:      argon2id
        Time cost:  4
        Memory:     1048576
        Threads:    4
  1: luks2
        PBKDF:      argon2id
        Memory:     262144
"""
    assert parse_luks_dump(text) == 1048576 * 1024
    assert parse_luks_dump("Version: 1\nKey Slot 0: ENABLED\n") == 0


def test_parse_calibrate():
    out = "Low: 72\nHigh: 180\nMinLow: 72\nMaxLow: 3274\nMinHigh: 0\nMaxHigh: 45056\nTotal: 4095\n"
    assert parse_calibrate(out) == {"low": 72, "high": 180}
    with pytest.raises(HostInfoError, match="no 'Low:' line"):
        parse_calibrate("oops")


def test_parse_os_release():
    text = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n# c\nID_LIKE=\'x y\'\n'
    data = parse_os_release(text)
    assert (data["ID"], data["VERSION_ID"], data["ID_LIKE"]) == ("debian", "12", "x y")


def test_parse_proc_modules_and_initrd_listing():
    mods = parse_proc_modules("virtio_net 69632 0 - Live 0x0\next4 1064960 1 - Live 0x0\nbad line\n")
    assert mods == {"virtio_net": 69632, "ext4": 1064960}
    listing = ("usr/lib/modules/6.1.0-27-amd64/kernel/drivers/net/virtio_net.ko\n"
               "usr/lib/modules/6.1.0-27-amd64/kernel/fs/ext4/ext4.ko.xz\n"
               "usr/lib/modules/6.1.0-27-amd64/kernel/drivers/block/virtio-blk.ko.zst\n"
               "usr/bin/kmod\n")
    assert initrd_module_names(listing) == {"virtio_net", "ext4", "virtio_blk"}


@pytest.mark.parametrize("text, cpus", [
    ('KDUMP_CMDLINE_APPEND="reset_devices nr_cpus=1 irqpoll"', 1),
    ('KDUMP_COMMANDLINE_APPEND="irqpoll nr_cpus=16 reset_devices"', 16),
    ('KDUMP_COMMANDLINE_APPEND="irqpoll maxcpus=2"', 2),
    ('KDUMP_COMMANDLINE_APPEND="irqpoll"', 1),
    (None, 1),
])
def test_parse_nr_cpus(text, cpus):
    assert parse_nr_cpus(text) == cpus


def test_read_sysfs_int_retries_on_ebusy(tmp_path, monkeypatch):
    target = tmp_path / "kexec_crash_size"
    target.write_text("134217728\n")
    calls = {"n": 0}
    real_open = open

    def flaky_open(path, *args, **kwargs):
        if str(path) == str(target) and calls["n"] < 2:
            calls["n"] += 1
            raise IOError(errno.EBUSY, "Device or resource busy")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", flaky_open)
    assert read_sysfs_int(str(target), sleep=lambda _s: None) == 128 * M
    assert calls["n"] == 2


def test_read_sysfs_int_missing_and_bad(tmp_path):
    assert read_sysfs_int(str(tmp_path / "nope")) is None
    bad = tmp_path / "bad"
    bad.write_text("x\n")
    with pytest.raises(HostInfoError, match="does not hold an integer"):
        read_sysfs_int(str(bad))


# --- a whole fake host ---------------------------------------------------------------

REL = "6.1.0-27-amd64"


def make_host(root, iomem=IOMEM_1G, os_release='ID=debian\nVERSION_ID="12"\n', kdump_initrd=True):
    files = {
        "proc/iomem": iomem,
        "proc/cmdline": "BOOT_IMAGE=/boot/vmlinuz-%s root=/dev/vda1 ro crashkernel=384M-:128M\n" % REL,
        "proc/meminfo": "MemTotal:        1007345 kB\n",
        "proc/modules": "virtio_net 69632 0 - Live 0x0\next4 1064960 1 - Live 0x0\nsnd 1000000 0\n",
        "etc/os-release": os_release,
        "etc/default/kdump-tools": 'USE_KDUMP=1\nKDUMP_CMDLINE_APPEND="reset_devices nr_cpus=1"\n',
        "sys/kernel/kexec_crash_size": "134217728\n",
        "sys/kernel/kexec_crash_loaded": "1\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    boot = root / "boot"
    boot.mkdir(exist_ok=True)
    (boot / ("vmlinuz-" + REL)).write_bytes(bzimage(init_size=40 * M) + b"\0" * 4096)
    (boot / ("initrd.img-" + REL)).write_bytes(b"\0" * 30000)
    if kdump_initrd:
        kd = root / "var/lib/kdump"
        kd.mkdir(parents=True, exist_ok=True)
        (kd / ("initrd.img-" + REL)).write_bytes(b"\0" * 7000)
    return root


class FakeRunner(object):
    def __init__(self, outputs):
        self.outputs = outputs
        self.calls = []

    def which(self, name):
        return "/usr/bin/" + name if name in self.outputs else None

    def __call__(self, argv):
        self.calls.append(argv)
        return self.outputs[os.path.basename(argv[0])]


def debian_runner():
    """A Debian host's tools: a kdump initrd with virtio_net, a LUKS disk, SEV active."""
    return FakeRunner({
        "lsinitramfs": (0, "lib/modules/%s/kernel/drivers/net/virtio_net.ko\n" % REL, ""),
        "lsblk": (0, "/dev/vda1 ext4\n/dev/vdb crypto_LUKS\n", ""),
        "cryptsetup": (0, "Keyslots:\n  0: luks2\n        Memory:     65536\n", ""),
        "dmesg": (0, "[0.0] Memory Encryption Features active: AMD SEV\n", ""),
    })


def test_gather_reads_a_debian_host(tmp_path):
    root = make_host(tmp_path)
    runner = debian_runner()
    reader = HostReader(str(root), run=runner, which=runner.which)
    facts, state = reader.gather(uname=(REL, "x86_64"))
    assert facts["system_ram"] == 1073212416
    assert facts["distribution"] == "debian" and facts["version"] == "12"
    assert facts["kernel_memory"] == 40 * M
    assert facts["initrd_size"] == 7000 and facts["initrd_is_kdump"] is True
    assert facts["modules_size"] == 69632
    assert facts["luks_memory"] == 65536 * 1024
    assert facts["sme_sev"] is True
    assert facts["capture_cpus"] == 1
    assert facts["suse_calibrate"] is None
    assert state["kexec_crash_size"] == 128 * M
    assert state["kexec_crash_loaded"] == 1
    assert state["memtotal"] == 1007345 * 1024
    assert state["initrd_path"].endswith("var/lib/kdump/initrd.img-" + REL)
    assert ["/usr/bin/lsinitramfs", state["initrd_path"]] in runner.calls
    assert ["/usr/bin/cryptsetup", "luksDump", "/dev/vdb"] in runner.calls
    assert reader.notes == []


def test_gather_without_estimate_inputs_lists_nothing(tmp_path):
    root = make_host(tmp_path)
    runner = debian_runner()
    reader = HostReader(str(root), run=runner, which=runner.which)
    facts, _state = reader.gather(uname=(REL, "x86_64"), estimate_inputs=False)
    assert facts["modules_size"] == 0 and facts["luks_memory"] == 0
    assert facts["initrd_size"] == 7000
    assert [c for c in runner.calls if os.path.basename(c[0]) in ("lsinitramfs", "lsblk", "cryptsetup")] == []


def test_gather_falls_back_to_the_boot_initrd_and_notes_missing_tools(tmp_path):
    root = make_host(tmp_path, kdump_initrd=False)
    reader = HostReader(str(root), run=FakeRunner({}), which=lambda name: None)
    facts, state = reader.gather(uname=(REL, "x86_64"), detect_luks=False)
    assert facts["initrd_is_kdump"] is False
    assert facts["initrd_size"] == 30000
    assert facts["modules_size"] == 0
    assert any("could not be listed" in n for n in reader.notes)


def test_gather_runs_calibrate_on_suse_and_records_failures(tmp_path):
    root = make_host(tmp_path, os_release='ID="sles"\nVERSION_ID="15.6"\nID_LIKE="suse"\n')
    runner = FakeRunner({"kdumptool": (0, "Low: 72\nHigh: 0\n", ""),
                         "lsblk": (1, "", "lsblk: boom")})
    reader = HostReader(str(root), run=runner, which=runner.which)
    facts, _state = reader.gather(uname=(REL, "x86_64"))
    assert facts["suse_calibrate"] == {"low": 72, "high": 0}
    assert any("lsblk" in n and "boom" in n for n in reader.notes)


def test_gather_refuses_hidden_iomem(tmp_path):
    root = make_host(tmp_path, iomem=IOMEM_HIDDEN)
    reader = HostReader(str(root))
    with pytest.raises(HostInfoError, match="only be read as root"):
        reader.gather(uname=(REL, "x86_64"))


def test_gather_without_iomem(tmp_path):
    reader = HostReader(str(tmp_path))
    with pytest.raises(HostInfoError, match="cannot read .*proc/iomem"):
        reader.gather(uname=(REL, "x86_64"))


def test_explicit_initrd_must_exist(tmp_path):
    root = make_host(tmp_path)
    reader = HostReader(str(root))
    with pytest.raises(HostInfoError, match="initrd /nonexistent does not exist"):
        reader.gather(uname=(REL, "x86_64"), initrd_path="/nonexistent")


def test_a_fifo_as_kernel_path_is_refused_without_blocking(tmp_path):
    import time
    fifo = str(tmp_path / "vmlinuz")
    os.mkfifo(fifo)
    start = time.time()
    with pytest.raises(HostInfoError, match="cannot read kernel image .*: .* is a FIFO, not a regular file"):
        HostReader().kernel("6.1.0-50-amd64", kernel_path=fifo)
    assert time.time() - start < 2
