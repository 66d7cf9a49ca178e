# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kdump_info's gathering on fixture trees of each family: /proc, /sys, config files and
the outputs of the commands it runs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.capture.status import gather
from test__vmcore import kdump_file

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "..", "..", "fixtures")
MIB = 1 << 20
IOMEM_1G = ("00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n"
            "00100000-3ffdffff : System RAM\n  01000000-01e02a66 : Kernel code\n"
            "  33000000-3effffff : Crash kernel\n")
IOMEM_8G = ("00001000-0009fbff : System RAM\n00100000-bffdffff : System RAM\n"
            "  a5000000-b4ffffff : Crash kernel\n100000000-23fffffff : System RAM\n")
DEBIAN_READY = ("USE_KDUMP:        1\nKDUMP_COREDIR:    /var/crash\ncrashkernel addr: 0x33000000\n"
                "   /var/lib/kdump/vmlinuz: symbolic link to /boot/vmlinuz-6.1.0-50-amd64\n"
                "current state   : ready to kdump\n")
DEBIAN_NOT_READY = "current state   : Not ready to kdump\n"

HOSTS = {
    "debian12": dict(
        os_release='PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
        release="6.1.0-50-amd64", cmdline="BOOT_IMAGE=/boot/vmlinuz-6.1.0-50-amd64 root=UUID=x ro"
        " console=ttyS0,115200n8 crashkernel=192M", iomem=IOMEM_1G, size=192 * MIB,
        files={"etc/default/kdump-tools": ("debian12", "kdump-tools")}, family="debian",
        commands={("kdump-config", "status"): (0, DEBIAN_READY, "")}),
    "debian13": dict(
        os_release='ID=debian\nVERSION_ID="13"\n', release="6.12.48+deb13-amd64",
        cmdline="root=UUID=x ro crashkernel=384M-:128M", iomem=IOMEM_1G, size=192 * MIB,
        files={"etc/default/kdump-tools": ("debian12", "kdump-tools")}, family="debian",
        commands={("kdump-config", "status"): (0, DEBIAN_READY, "")}),
    "rhel9": dict(
        os_release='ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n', release="5.14.0-427.13.1.el9_4.x86_64",
        cmdline="BOOT_IMAGE=(hd0,gpt2)/vmlinuz root=/dev/mapper/rhel-root ro"
        " crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M", iomem=IOMEM_8G, size=256 * MIB,
        files={"etc/kdump.conf": ("rhel9", "kdump.conf"),
               "etc/sysconfig/kdump": ("rhel9", "sysconfig-kdump")}, family="redhat",
        commands={("kdumpctl", "status"): (0, "kdump: Kdump is operational\n", "")}),
    "rhel10": dict(
        os_release='ID="rhel"\nID_LIKE="centos fedora"\nVERSION_ID="10.0"\n',
        release="6.12.0-55.9.1.el10_0.x86_64", cmdline="root=/dev/vda4 crashkernel=2G-64G:256M,64G-:512M",
        iomem=IOMEM_8G, size=256 * MIB,
        files={"etc/kdump.conf": ("rhel9", "kdump.conf"),
               "etc/sysconfig/kdump": ("rhel9", "sysconfig-kdump")}, family="redhat",
        commands={("kdumpctl", "status"): (0, "kdump: Kdump is operational\n", "")}),
    "fedora41": dict(
        os_release='ID=fedora\nVERSION_ID=41\n', release="6.11.4-301.fc41.x86_64",
        cmdline="root=UUID=x crashkernel=2G-64G:256M,64G-:512M", iomem=IOMEM_8G, size=256 * MIB,
        files={"etc/kdump.conf": ("rhel9", "kdump.conf"),
               "etc/sysconfig/kdump": ("rhel9", "sysconfig-kdump")}, family="redhat",
        commands={("kdumpctl", "status"): (0, "kdump: Kdump is operational\n", "")}),
    "sles15": dict(
        os_release='ID="sles"\nID_LIKE="suse"\nVERSION_ID="15.5"\n', release="5.14.21-150500.55.39-default",
        cmdline="root=UUID=x crashkernel=245M,high crashkernel=72M,low", iomem=IOMEM_8G,
        size=(245 + 72) * MIB, files={"etc/sysconfig/kdump": ("sles15", "sysconfig-kdump")},
        family="suse", commands={}),
}


class FakeHost(object):
    def __init__(self, commands):
        self.commands = dict(commands)
        self.commands.setdefault(("systemctl", "is-enabled"), (0, "enabled\n", ""))
        self.commands.setdefault(("systemctl", "is-active"), (0, "active\n", ""))
        self.commands.setdefault(("makedumpfile", "-v"), (
            0, "makedumpfile: version 1.7.2 (released on 20 Oct 2022)\nlzo\tenabled\nsnappy\tdisabled\n"
               "zstd\tdisabled\n", ""))
        self.calls = []

    def which(self, name):
        return "/usr/sbin/" + name if any(key[0] == name for key in self.commands) else None

    def run(self, argv):
        self.calls.append(argv)
        name = os.path.basename(argv[0])
        return self.commands.get((name, argv[1]), (1, "", "unexpected %r" % argv))


def build(tmp_path, host, loaded="1", size=None, cmdline=None, extra=None):
    root = tmp_path / "root"
    files = {"etc/os-release": host["os_release"], "proc/cmdline": (cmdline or host["cmdline"]) + "\n",
             "proc/iomem": host["iomem"], "sys/kernel/kexec_crash_loaded": loaded + "\n",
             "sys/kernel/kexec_crash_size": "%d\n" % (host["size"] if size is None else size),
             "proc/meminfo": "MemTotal: 1000000 kB\nMemFree: 500000 kB\n"}
    for path, parts in host["files"].items():
        with open(os.path.join(FIXTURES, *parts)) as handle:
            files[path] = handle.read()
    files.update(extra or {})
    for path, text in files.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text)
    boot = root / "boot"
    boot.mkdir(exist_ok=True)
    (boot / ("vmlinuz-" + host["release"])).write_bytes(b"\0" * (8 * MIB))
    return root


def info_for(tmp_path, name, **overrides):
    host = HOSTS[name]
    root = build(tmp_path, host, **overrides)
    fake = FakeHost(host["commands"])
    return gather(str(root), run=fake.run, which=fake.which, release=host["release"], arch="x86_64"), fake


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_a_configured_host_is_ready(tmp_path, name):
    info, _fake = info_for(tmp_path, name)
    assert info["family"] == HOSTS[name]["family"]
    assert info["installed"] is True
    assert info["reasons"] == [] and info["ready"] is True
    assert info["reservation"]["reserved"] == HOSTS[name]["size"]
    assert info["reservation"]["requested"].startswith("crashkernel=")
    assert info["reservation"]["regions"]
    assert info["capture"]["loaded"] is True
    assert info["target"]["type"] == "local"
    assert info["makedumpfile"] == {"version": "1.7.2", "compressions": ["lzo", "zlib"]}
    assert info["recommendation"]["crashkernel"].startswith("crashkernel=")
    assert info["kernel_release"] == HOSTS[name]["release"]
    # System RAM as /proc/iomem lists it (1 GiB or 8 GiB fixtures, minus holes).
    assert info["system_ram"] in ((0x9fc00 - 0x1000) + (0x3ffe0000 - 0x100000),
                                  (0x9fc00 - 0x1000) + (0xbffe0000 - 0x100000) + (0x240000000 - 0x100000000))


def test_the_reservation_matches_the_command_line(tmp_path):
    info, _fake = info_for(tmp_path, "rhel9")
    assert info["reservation"]["requested_bytes"] == 256 * MIB
    sles, _fake = info_for(tmp_path / "s", "sles15")
    assert sles["reservation"]["high"] and sles["reservation"]["low"]


def test_missing_reservation(tmp_path):
    info, _fake = info_for(tmp_path, "debian12", loaded="0", size=0, cmdline="root=UUID=x ro")
    assert info["ready"] is False
    assert info["reasons"][:3] == [
        "no crashkernel= on the kernel command line: reserve memory (kernel_cmdline) and reboot",
        "no memory is reserved for a capture kernel (/sys/kernel/kexec_crash_size is 0)",
        "no capture kernel is loaded (/sys/kernel/kexec_crash_loaded is 0)"]
    assert info["reservation"]["requested"] is None


def test_not_loaded_and_tool_not_ready(tmp_path):
    host = dict(HOSTS["debian12"], commands={("kdump-config", "status"): (0, DEBIAN_NOT_READY, "")})
    root = build(tmp_path, host, loaded="0")
    fake = FakeHost(host["commands"])
    info = gather(str(root), run=fake.run, which=fake.which, release=host["release"], arch="x86_64")
    assert info["ready"] is False
    assert info["service"]["ready"] is False
    assert "no capture kernel is loaded (/sys/kernel/kexec_crash_loaded is 0)" in info["reasons"]


def test_service_disabled_is_a_reason(tmp_path):
    host = dict(HOSTS["rhel9"])
    root = build(tmp_path, host)
    commands = dict(host["commands"])
    commands[("systemctl", "is-enabled")] = (1, "disabled\n", "")
    fake = FakeHost(commands)
    info = gather(str(root), run=fake.run, which=fake.which, release=host["release"], arch="x86_64")
    assert info["reasons"] == ["kdump.service is not enabled: no capture kernel will be loaded"
                               " after the next boot"]


def test_never_installed(tmp_path):
    host = dict(HOSTS["debian12"], files={})
    root = build(tmp_path, host, loaded="0", size=0, cmdline="root=UUID=x ro")
    fake = FakeHost({})
    info = gather(str(root), run=fake.run, which=lambda name: None, release=host["release"],
                  arch="x86_64")
    assert info["installed"] is False and info["ready"] is False
    assert info["reasons"][0] == "kdump-tools is not installed (/etc/default/kdump-tools does not exist)"
    assert info["target"] is None and info["dumps"] == []
    assert info["makedumpfile"] == {"version": None, "compressions": []}
    assert set(info) == {"family", "installed", "package", "kernel_release", "system_ram", "reservation",
                         "capture",
                         "service", "target", "makedumpfile", "expected_dump", "dumps", "recommendation",
                         "ready", "reasons", "warnings", "notes"}
    assert info["expected_dump"]["source"] == "/proc/meminfo model"
    assert info["expected_dump"]["dump_level"] == 31 and info["warnings"] == []


def test_use_kdump_zero(tmp_path):
    info, _fake = info_for(tmp_path, "debian12")
    root = tmp_path / "root"
    conf = root / "etc" / "default" / "kdump-tools"
    conf.write_text(conf.read_text().replace("USE_KDUMP=1", "USE_KDUMP=0"))
    fake = FakeHost(HOSTS["debian12"]["commands"])
    info = gather(str(root), run=fake.run, which=fake.which, release="6.1.0-50-amd64", arch="x86_64")
    assert info["reasons"][0].startswith("USE_KDUMP=0")


def test_ebusy_on_kexec_crash_size_is_retried(tmp_path, kexec_crash_size_busy):
    info, _fake = info_for(tmp_path, "debian12")
    assert info["reservation"]["reserved"] == 192 * MIB and kexec_crash_size_busy["left"] == 0


def test_dumps_newest_first_with_their_headers(tmp_path):
    info, _fake = info_for(tmp_path, "debian12")
    crash = tmp_path / "root" / "var" / "crash"
    old = crash / "202611250800"
    new = crash / "202611260922"
    for directory, release, status in ((old, "6.1.0-49-amd64", 0x2), (new, "6.1.0-50-amd64", 0x2 | 0x8)):
        directory.mkdir(parents=True)
        (directory / ("dump." + directory.name)).write_bytes(kdump_file(release=release, status=status))
        (directory / ("dmesg." + directory.name)).write_text("[0.0] Linux version\n")
    os.utime(str(old / "dump.202611250800"), (1000, 1000))
    fake = FakeHost(HOSTS["debian12"]["commands"])
    info = gather(str(tmp_path / "root"), run=fake.run, which=fake.which, release="6.1.0-50-amd64",
                  arch="x86_64")
    assert [d["path"] for d in info["dumps"]] == ["/var/crash/202611260922/dump.202611260922",
                                                  "/var/crash/202611250800/dump.202611250800"]
    assert info["dumps"][0]["incomplete"] is True and info["dumps"][0]["valid"] is False
    assert info["dumps"][1]["kernel"] == "6.1.0-49-amd64" and info["dumps"][1]["valid"] is True
    assert info["dumps"][1]["dmesg"] == "/var/crash/202611250800/dmesg.202611250800"


@pytest.mark.parametrize("family_host", ["debian12", "sles15"])
def test_an_fs_target_reads_back_with_its_directory_and_dumps(tmp_path, family_host):
    """kdump_target writes an fs target as the directory below its fstab mount, with a record
    of the device; kdump_info reads the fs target back (not a local directory), says where its
    dumps land, and lists them there."""
    from ansible_collections.crashdump.kdump.plugins.module_utils.target.plan import Target, plan
    host = HOSTS[family_host]
    root = build(tmp_path, host)
    fstab = "LABEL=kdumpdisk /srv/dumps ext4 defaults 0 2\n"
    (root / "etc" / "fstab").write_text(fstab)
    path, = host["files"]
    files = {"/" + path: (root / path).read_text()}
    change = plan(host["family"], Target(type="fs", device="LABEL=kdumpdisk", path="/crash"),
                  files, {"fstab": fstab})
    (root / path).write_text(change.files["/" + path])
    dump = root / "srv" / "dumps" / "crash" / "202612020101"
    dump.mkdir(parents=True)
    (dump / "dump.202612020101").write_bytes(b"KDUMP   " + b"\0" * 4096)
    fake = FakeHost(host["commands"])
    info = gather(str(root), run=fake.run, which=fake.which, release=host["release"], arch="x86_64")
    target = info["target"]
    assert (target["type"], target["device"], target["path"]) == ("fs", "LABEL=kdumpdisk", "/crash")
    assert target["directory"] == "/srv/dumps/crash"
    assert [d["path"] for d in info["dumps"]] == ["/srv/dumps/crash/202612020101/dump.202612020101"]


def test_secure_boot_and_lockdown_are_reported(tmp_path):
    """Off on a BIOS host; on with the EFI variables and the lockdown file of a host booted
    with Secure Boot (Debian's kernel then selects integrity)."""
    info, _fake = info_for(tmp_path / "plain", "debian12")
    assert info["capture"]["secure_boot"] is False and info["capture"]["lockdown"] == "none"
    guid = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
    efivars = "sys/firmware/efi/efivars/"
    info, _fake = info_for(tmp_path / "sb", "debian12", extra={
        efivars + "SecureBoot-" + guid: "\x06\x00\x00\x00\x01",
        efivars + "SetupMode-" + guid: "\x06\x00\x00\x00\x00",
        "sys/kernel/security/lockdown": "none [integrity] confidentiality\n"})
    assert info["capture"]["secure_boot"] is True
    assert info["capture"]["lockdown"] == "integrity"


# Debian 12's 6.1 arm64 kernel (CONFIG_KALLSYMS_ALL unset): nothing before _stext.
KALLSYMS_NO_TEXT = ("ffff800008010000 T _stext\nffff800008010000 t __bp_harden_el1_vectors\n"
                    "ffff800008020000 T __irqentry_text_start\n")
KALLSYMS_WITH_TEXT = "ffff800008000000 T _text\n" + KALLSYMS_NO_TEXT


@pytest.mark.parametrize("arch, kallsyms, ready", [
    ("aarch64", KALLSYMS_NO_TEXT, False),
    ("aarch64", KALLSYMS_WITH_TEXT, True),
    ("x86_64", KALLSYMS_NO_TEXT, True),    # only arm64's kexec_load path needs _text
])
def test_arm64_without_text_in_kallsyms_is_not_ready(tmp_path, arch, kallsyms, ready):
    host = HOSTS["debian12"]
    root = build(tmp_path, host, extra={"proc/kallsyms": kallsyms})
    fake = FakeHost(host["commands"])
    info = gather(str(root), run=fake.run, which=fake.which, release=host["release"], arch=arch)
    assert info["ready"] is ready, info["reasons"]
    text_reasons = [r for r in info["reasons"] if "_text" in r]
    if ready:
        assert text_reasons == []
    else:
        assert text_reasons == [
            "/proc/kallsyms has no _text (a kernel built without CONFIG_KALLSYMS_ALL): kexec_load"
            " (kexec -p) then writes a wrong crash header and the dump is empty; _text would be"
            " at 0xffff800008000000 (kexec_crash loads with a copy that has it)"]
        assert info["capture"]["kallsyms_text"] is False
        assert info["capture"]["kallsyms_provided"] is False


DROPIN = "etc/systemd/system/kdump-tools.service.d/crashdump-kdump-kallsyms.conf"


@pytest.mark.parametrize("extra, provided", [
    # kexec_crash's fix in place for this boot: the drop-in and the copy with _text
    ({DROPIN: "[Service]\n", "run/crashdump-kdump/kallsyms": KALLSYMS_WITH_TEXT}, True),
    # the copy of another boot (another KASLR offset) does not count
    ({DROPIN: "[Service]\n", "run/crashdump-kdump/kallsyms": "ffffa3c1d2a00000 T _text\n"}, False),
    # a copy without the drop-in: the boot-time load did not see it
    ({"run/crashdump-kdump/kallsyms": KALLSYMS_WITH_TEXT}, False),
    ({DROPIN: "[Service]\n"}, False),
])
def test_arm64_without_text_is_ready_when_the_copy_is_provided(tmp_path, extra, provided):
    host = HOSTS["debian12"]
    root = build(tmp_path, host, extra=dict(extra, **{"proc/kallsyms": KALLSYMS_NO_TEXT}))
    fake = FakeHost(host["commands"])
    info = gather(str(root), run=fake.run, which=fake.which, release=host["release"],
                  arch="aarch64")
    assert info["capture"]["kallsyms_provided"] is provided
    assert info["ready"] is provided, info["reasons"]


MEMUSAGE = os.path.join(FIXTURES, "memusage")


def memusage(name):
    with open(os.path.join(MEMUSAGE, name)) as handle:
        return handle.read()


MEMINFO = memusage("debian12-6.1.0-50-amd64-1.7.2.meminfo")
RECORDED = memusage("debian12-6.1.0-50-amd64-1.7.2.mem-usage")
DERIVED_612 = memusage("derived-debian13-6.12-free0-from-debian12.mem-usage")
MAKEDUMPFILE_176 = "makedumpfile: version 1.7.6\n"   # only the version line, which is what is read


def measured_info(tmp_path, name, report, version_text=None, as_root=True, extra=None):
    host = HOSTS[name]
    root = build(tmp_path, host, extra=dict({"proc/meminfo": MEMINFO}, **(extra or {})))
    commands = dict(host["commands"])
    if report is not None:
        commands[("makedumpfile", "--mem-usage")] = (0, report, "")
    if version_text:
        commands[("makedumpfile", "-v")] = (0, version_text, "")
    fake = FakeHost(commands)
    info = gather(str(root), run=fake.run, which=fake.which, release=host["release"], arch="x86_64",
                  as_root=as_root)
    return info, fake


def test_the_expected_dump_is_measured_with_makedumpfile(tmp_path):
    info, fake = measured_info(tmp_path, "debian12", RECORDED)
    assert ["/usr/sbin/makedumpfile", "--mem-usage", "/proc/kcore"] in fake.calls
    # expected_bytes of the recording at dump level 31 (test__memusage.py works it out).
    assert info["expected_dump"] == {"bytes": 206116847, "source": "makedumpfile --mem-usage",
                                     "dump_level": 31}
    assert info["warnings"] == [] and info["ready"] is True


def test_the_expected_dump_falls_back_to_the_meminfo_model(tmp_path):
    info, fake = measured_info(tmp_path, "debian12", None)
    assert ["/usr/sbin/makedumpfile", "--mem-usage", "/proc/kcore"] in fake.calls
    assert info["expected_dump"]["source"] == "/proc/meminfo model"
    assert "expected dump size from the /proc/meminfo model: /usr/sbin/makedumpfile --mem-usage" \
        " /proc/kcore failed (rc=1): unexpected" in " ".join(info["notes"])
    info, fake = measured_info(tmp_path / "user", "debian12", RECORDED, as_root=False)
    assert not [argv for argv in fake.calls if "--mem-usage" in argv]
    assert info["expected_dump"]["source"] == "/proc/meminfo model"


def test_a_makedumpfile_blind_to_free_pages_is_a_warning_not_a_reason(tmp_path):
    info, _fake = measured_info(tmp_path, "debian13", DERIVED_612, MAKEDUMPFILE_176)
    assert info["expected_dump"]["source"] == "makedumpfile --mem-usage"
    assert info["ready"] is True and info["reasons"] == []
    assert info["warnings"] == [
        "makedumpfile 1.7.6 cannot find the free pages of kernel 6.12.48+deb13-amd64: --mem-usage"
        " counts 0 free pages (0 B) while /proc/meminfo has 657.3 MiB free, so dump level 31 still"
        " writes about 657.3 MiB of free memory into every dump; makedumpfile 1.7.7 fixes this for"
        " kernel 6.12 (upstream commit 72c3414)"]


def test_the_dump_level_comes_from_the_configured_target(tmp_path):
    """MAKEDUMP_ARGS="-c -d 1" keeps free pages anyway, so a makedumpfile that cannot see
    them costs nothing and is not warned about."""
    with open(os.path.join(FIXTURES, "debian12", "kdump-tools")) as handle:
        conf = handle.read() + 'MAKEDUMP_ARGS="-c -d 1"\n'
    info, _fake = measured_info(tmp_path, "debian13", DERIVED_612, MAKEDUMPFILE_176,
                                extra={"etc/default/kdump-tools": conf})
    assert info["expected_dump"]["dump_level"] == 1
    assert info["expected_dump"]["bytes"] > 900 << 20
    assert info["warnings"] == []


def test_a_load_record_of_another_kernel_is_not_this_boots_capture_kernel(tmp_path):
    # After a kernel update and reboot, kexec_crash's record still names the old kernel's
    # files; the service loaded the running kernel's at boot.
    old = ('{"kernel": "/boot/vmlinuz-6.1.0-49-amd64", "initrd": "/var/lib/kdump/initrd.img-6.1.0-49-amd64",'
           ' "cmdline": "c", "syscall": "file"}')
    info, _fake = info_for(tmp_path, "debian12",
                           extra={"var/lib/crashdump-kdump/kexec_crash.json": old})
    assert info["capture"]["kernel"] == "/boot/vmlinuz-6.1.0-50-amd64"
    assert info["capture"]["initrd"] == "/var/lib/kdump/initrd.img-6.1.0-50-amd64"
    assert info["capture"]["recorded"] is False
    assert any("of kernel /boot/vmlinuz-6.1.0-49-amd64, not the running 6.1.0-50-amd64" in n
               for n in info["notes"])
    same = old.replace("6.1.0-49", "6.1.0-50")
    info, _fake = info_for(tmp_path / "same", "debian12",
                           extra={"var/lib/crashdump-kdump/kexec_crash.json": same})
    assert info["capture"]["recorded"] is True and info["capture"]["cmdline"] == "c"
