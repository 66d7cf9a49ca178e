# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.crashdump.kdump.plugins.module_utils.target.plan import (
    DEBIAN_CONF,
    DEBIAN_KNOWN_HOSTS,
    DEBIAN_SSH_CONFIG,
    REDHAT_CONF,
    REDHAT_KNOWN_HOSTS,
    REDHAT_SYSCONFIG,
    SUSE_SYSCONFIG,
    Target,
    TargetError,
    check_dump_dir,
    choose_compression,
    expected_dump_bytes,
    fstab_mount,
    parse_host_key,
    parse_makedumpfile_version,
    parse_meminfo,
    plan,
    read_back,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.shellvars import ShellVars

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")
GOLDEN = os.path.join(FIXTURES, "kdump_target")
HOST_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEGsCJq0F4VWxm1xC0jXbmE0LEKQ8n4Ob7I0XkKyW3Gj"
            " root@dumps")
FSTAB = ("# /etc/fstab\nUUID=0b6c4f1e-7a2b-4d55-9d0e-1f2a3b4c5d6e / ext4 errors=remount-ro 0 1\n"
         "LABEL=kdump /srv/dumps ext4 defaults,nofail 0 2\n")
# makedumpfile -v of Debian 12 (1:1.7.2-1), copied from the lab VM.
MAKEDUMPFILE_V = ("makedumpfile: version 1.7.2 (released on 20 Oct 2022)\n"
                  "lzo\tenabled\nsnappy\tdisabled\nzstd\tdisabled\n\n")
FACTS = dict(compressions=set(["zlib", "lzo", "snappy", "zstd"]), fstab=FSTAB)


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts)) as handle:
        return handle.read()


def files_for(family):
    if family == "debian":
        return {DEBIAN_CONF: fixture("debian12", "kdump-tools"), DEBIAN_SSH_CONFIG: None,
                DEBIAN_KNOWN_HOSTS: None}
    if family == "redhat":
        return {REDHAT_CONF: fixture("rhel9", "kdump.conf"),
                REDHAT_SYSCONFIG: fixture("rhel9", "sysconfig-kdump"), REDHAT_KNOWN_HOSTS: None}
    return {SUSE_SYSCONFIG: fixture("sles15", "sysconfig-kdump")}


TARGETS = {
    "local": dict(type="local", path="/var/crash", keep=3),
    "fs": dict(type="fs", device="LABEL=kdump", path="/dumps", fstype="ext4"),
    "raw": dict(type="raw", device="/dev/vdb"),
    "nfs": dict(type="nfs", nfs="dumps.example.com:/srv/kdump", path="/clients",
                compression="lzo"),
    "ssh": dict(type="ssh", ssh="kdump@dumps.example.com", ssh_port=22,
                ssh_key="/root/.ssh/kdump_id_ed25519", ssh_host_key=HOST_KEY, path="/srv/kdump"),
}
UNSUPPORTED = {("debian", "raw"), ("suse", "raw")}
KEEP_UNSUPPORTED = {"redhat"}


def make(family, kind, **extra):
    options = dict(TARGETS[kind])
    if family in KEEP_UNSUPPORTED:
        options.pop("keep", None)
    options.update(extra)
    return Target(**options)


def render_plan(change):
    out = []
    for path in sorted(change.files):
        text = change.files[path]
        kind = "deleted" if text is None else "%o" % change.modes[path]
        out.append("==> %s (%s)\n%s" % (path, kind, text or ""))
    out.append("==> result\nlocation=%s\ncollector=%s\ncompression=%s\nflattened=%s\n"
               "rebuild_initrd=%s\nreload=%s\nlocal_dir=%s\n" % (
                   change.location, change.collector, change.compression, change.flattened,
                   change.rebuild_initrd, change.reload, change.local_dir))
    return "".join(out)


@pytest.mark.parametrize("family", ["debian", "redhat", "suse"])
@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_golden(family, kind):
    """Every supported family x target type renders exactly the reviewed golden file."""
    if (family, kind) in UNSUPPORTED:
        with pytest.raises(TargetError, match="raw device target is not supported"):
            plan(family, make(family, kind), files_for(family), FACTS)
        return
    got = render_plan(plan(family, make(family, kind), files_for(family), FACTS))
    path = os.path.join(GOLDEN, "%s-%s.txt" % (family, kind))
    if os.environ.get("KDUMP_UPDATE_GOLDEN"):
        with open(path, "w") as handle:
            handle.write(got)
    with open(path) as handle:
        assert got == handle.read()


@pytest.mark.parametrize("family", ["debian", "redhat", "suse"])
@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_applying_the_plan_twice_changes_nothing(family, kind):
    if (family, kind) in UNSUPPORTED:
        return
    files = files_for(family)
    first = plan(family, make(family, kind), files, FACTS)
    files.update(first.files)
    second = plan(family, make(family, kind), files, FACTS)
    assert second.files == {}
    assert not second.rebuild_initrd and not second.reload


@pytest.mark.parametrize("family,compression", [
    ("debian", "zlib"), ("redhat", "lzo"), ("suse", "zlib")])
def test_round_trip_of_the_package_default_is_byte_identical(family, compression):
    """Read the package's file back, describe exactly that, and nothing is written."""
    files = files_for(family)
    current = read_back(family, files)
    assert current["type"] == "local" and current["path"] == "/var/crash"
    change = plan(family, Target(type="local", path=current["path"], compression=compression),
                  files, FACTS)
    assert change.files == {}


def test_debian_round_trip_of_an_already_configured_file_is_byte_identical():
    files = files_for("debian")
    target = make("debian", "local")
    files.update(plan("debian", target, files, FACTS).files)
    text = files[DEBIAN_CONF]
    assert plan("debian", target, files, FACTS).files == {}
    assert files[DEBIAN_CONF] == text


def test_comments_and_unknown_keys_are_kept():
    files = files_for("debian")
    files[DEBIAN_CONF] += "# site comment\nMY_SITE_SETTING='keep me'\nHOSTTAG=hostname\n"
    change = plan("debian", make("debian", "ssh"), files, FACTS)
    text = change.files[DEBIAN_CONF]
    assert "# site comment\nMY_SITE_SETTING='keep me'\nHOSTTAG=hostname\n" in text
    for line in fixture("debian12", "kdump-tools").splitlines():
        if line.startswith("#") or not line.strip():
            assert line in text.splitlines()


def test_managed_values_are_replaced_in_place():
    files = files_for("debian")
    files[DEBIAN_CONF] = files[DEBIAN_CONF].replace('KDUMP_COREDIR="/var/crash"',
                                                    'KDUMP_COREDIR="/old/place"')
    text = plan("debian", make("debian", "local"), files, FACTS).files[DEBIAN_CONF]
    old_lines = files[DEBIAN_CONF].splitlines()
    new_lines = text.splitlines()
    assert new_lines.index("KDUMP_COREDIR=/var/crash") == old_lines.index('KDUMP_COREDIR="/old/place"')
    assert "/old/place" not in text


def test_makedumpfile_args_after_commented_default():
    text = plan("debian", make("debian", "local"), files_for("debian"), FACTS).files[DEBIAN_CONF]
    lines = text.splitlines()
    assert lines[lines.index('#MAKEDUMP_ARGS="-c -d 31"') + 1] == "MAKEDUMP_ARGS='-z -d 31'"


@pytest.mark.parametrize("value", ["a b", "$(reboot)", "`id`", "it's", 'say "hi"', "x;y", "a\\b"])
def test_hostile_values_are_quoted_so_the_shell_reads_them_back(value):
    files = files_for("debian")
    target = make("debian", "local")
    files.update(plan("debian", target, files, FACTS).files)
    conf = ShellVars(files[DEBIAN_CONF])
    conf.set("HOSTTAG", value)
    script = conf.render() + '\nprintf %s "$HOSTTAG"\n'
    out = subprocess.run(["sh", "-c", script], stdout=subprocess.PIPE, check=True).stdout
    assert out.decode() == value


@pytest.mark.parametrize("option,value", [
    ("path", "/var/crash dir"), ("path", "/x$(reboot)"), ("path", "relative"),
    ("path", "/a\nb"), ("makedumpfile_args", ["--x y"]), ("makedumpfile_args", ["$(id)"]),
    ("cmdline_append", ["a b"]), ("cmdline_append", ["x'y"]), ("extra_modules", ["a;b"]),
])
def test_hostile_values_are_refused(option, value):
    with pytest.raises(TargetError, match=option):
        Target(**dict(TARGETS["local"], **{option: value}))


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
@settings(max_examples=200, deadline=None)
def test_any_path_is_either_refused_or_safe(path):
    try:
        target = Target(type="local", path=path)
    except TargetError:
        return
    assert target.path.startswith("/")
    assert not set(target.path) & set(" \t\n'\"$`\\;&|<>(){}*?[]!#~")


@pytest.mark.parametrize("path, found", [
    ("/", "/"), ("/etc", "/etc"), ("/var/crash/../../etc", "/etc"), ("/var/crash/..", "/var"),
    ("//etc//", "/etc"), ("/etc/kdump", "/etc"), ("/usr/local/crash", "/usr"), ("/boot", "/boot"),
    ("/bin", "/bin"), ("/sbin", "/sbin"), ("/lib", "/lib"), ("/lib64", "/lib64"), ("/libx32/x", "/libx32"),
    ("/proc/self", "/proc"), ("/sys", "/sys"), ("/dev/shm", "/dev"), ("/run/kdump", "/run"),
    ("/var", "/var"), ("/var/.", "/var"), ("/./", "/"),
    ("/home", "/home"), ("/root", "/root"), ("/var/lib", "/var/lib"), ("/var/log/", "/var/log"),
    ("/srv", "/srv"), ("/opt", "/opt"), ("/tmp", "/tmp"), ("/var/spool", "/var/spool"),
])
@pytest.mark.parametrize("family", ["debian", "redhat", "suse"])
def test_system_directories_are_refused_as_dump_directories(family, path, found):
    with pytest.raises(TargetError, match="%s is a system directory" % found):
        plan(family, Target(type="local", path=path), files_for(family), FACTS)
    with pytest.raises(TargetError, match="system directory"):
        check_dump_dir(path)


@pytest.mark.parametrize("path", ["/var/crash", "/var/crash/kdump", "/srv/kdump", "/crash", "/library",
                                  "/data/var", "/home/dumps", "/var/lib/kdump"])
def test_ordinary_directories_are_dump_directories(path):
    check_dump_dir(path)
    plan("debian", Target(type="local", path=path), files_for("debian"), FACTS)


def test_an_ssh_server_directory_is_checked_too():
    with pytest.raises(TargetError, match="path \\(on the dump server\\) /etc: /etc is a system directory"):
        plan("redhat", make("redhat", "ssh", path="/etc"), files_for("redhat"), FACTS)


def test_an_fs_target_at_the_root_of_the_root_filesystem_is_refused():
    # LABEL=root mounted on /, path / : the dump directory would be / itself.
    facts = dict(FACTS, fstab="LABEL=root / ext4 defaults 0 1\n")
    with pytest.raises(TargetError, match="/ is a system directory"):
        plan("debian", Target(type="fs", device="LABEL=root", path="/", fstype="ext4"),
             files_for("debian"), facts)


@pytest.mark.parametrize("options,pattern", [
    (dict(type="floppy"), "type: 'floppy' is not a target type"),
    (dict(type="fs"), "device: None is not valid"),
    (dict(type="raw", device="LABEL=x"), "raw target is a block device path"),
    (dict(type="nfs", nfs="server"), "expected SERVER:/EXPORT"),
    (dict(type="ssh", ssh="dumps.example.com"), "expected USER@HOST"),
    (dict(type="ssh", ssh="k@h", ssh_port=70000), "ssh_port: 70000"),
    (dict(type="ssh", ssh="k@h", ssh_host_key="not a key"), "not an OpenSSH public key"),
    (dict(type="ssh", ssh="k@h", ssh_host_key="ssh-ed25519 !!!"), "not base64"),
    (dict(dump_level=32), "dump_level: 32"),
    (dict(compression="bzip2"), "compression: 'bzip2'"),
    (dict(makedumpfile_args=["-d", "1"]), "set by the module"),
    (dict(makedumpfile_args=["-F"]), "set by the module"),
    (dict(failure_action="explode"), "failure_action: 'explode'"),
    (dict(final_action="shell"), "final_action: 'shell'"),
    (dict(keep=-1), "keep: -1"),
    (dict(type="fs", device="/dev/vdb", fstype="ntfs"), "fstype: 'ntfs'"),
])
def test_bad_descriptions_name_the_value(options, pattern):
    with pytest.raises(TargetError, match=pattern.replace("(", r"\(").replace(")", r"\)")):
        Target(**options)


@pytest.mark.parametrize("family,options,pattern", [
    ("debian", dict(type="raw", device="/dev/vdb"), "raw device target is not supported by"
     " kdump-tools"),
    ("debian", dict(extra_modules=["nvme"]), "extra_modules is not supported"),
    ("debian", dict(failure_action="shell"), "failure_action shell is not supported"),
    ("debian", dict(final_action="halt"), "always reboots"),
    ("debian", dict(type="nfs", nfs="s:/e", keep=2), "prunes only local dumps"),
    ("debian", dict(type="fs", device="LABEL=other"), "not in /etc/fstab"),
    ("redhat", dict(keep=2), "keeps every dump"),
    ("redhat", dict(type="ssh", ssh="k@h", ssh_port=2222), "no port setting"),
    ("redhat", dict(type="fs", device="/dev/vdz"), "cannot tell its filesystem type"),
    ("suse", dict(type="raw", device="/dev/vdb"), "not supported by kdump"),
    ("suse", dict(makedumpfile_args=["--num-threads=2"]), "makedumpfile_args is not supported"),
    ("suse", dict(final_action="halt"), "only chooses whether to reboot"),
])
def test_what_a_family_cannot_do_fails_and_says_so(family, options, pattern):
    files = files_for(family)
    with pytest.raises(TargetError, match=pattern):
        plan(family, Target(**options), files, FACTS)


@pytest.mark.parametrize("family", ["debian", "redhat", "suse"])
def test_missing_package_file_says_what_to_install(family):
    files = dict((path, None) for path in files_for(family))
    with pytest.raises(TargetError, match="does not exist: install"):
        plan(family, Target(), files, FACTS)


def test_debian_ssh_with_port_goes_through_the_alias():
    files = files_for("debian")
    change = plan("debian", make("debian", "ssh", ssh_port=2222, ssh="kdump@10.0.2.2"), files, FACTS)
    conf = ShellVars(change.files[DEBIAN_CONF])
    assert conf.get("SSH") == "kdump@crashdump-kdump-10.0.2.2"
    config = change.files[DEBIAN_SSH_CONFIG]
    assert "Host crashdump-kdump-10.0.2.2\n    HostName 10.0.2.2\n    Port 2222\n" in config
    assert "StrictHostKeyChecking yes" in config
    assert change.files[DEBIAN_KNOWN_HOSTS] == "[10.0.2.2]:2222 " + " ".join(HOST_KEY.split()[:2]) + "\n"
    assert change.location == "ssh:kdump@10.0.2.2:/srv/kdump port 2222"


def test_debian_leaving_ssh_removes_the_alias_files():
    files = files_for("debian")
    files.update(plan("debian", make("debian", "ssh"), files, FACTS).files)
    change = plan("debian", make("debian", "local"), files, FACTS)
    assert change.files[DEBIAN_SSH_CONFIG] is None and change.files[DEBIAN_KNOWN_HOSTS] is None
    conf = ShellVars(change.files[DEBIAN_CONF])
    assert conf.get("SSH") is None and conf.get("SSH_KEY") is None


def test_pinning_replaces_an_old_key_of_the_same_type_and_keeps_others():
    files = files_for("redhat")
    files[REDHAT_KNOWN_HOSTS] = ("other.example.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ==\n"
                                 "dumps.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOLD\n")
    text = plan("redhat", make("redhat", "ssh"), files, FACTS).files[REDHAT_KNOWN_HOSTS]
    assert text.splitlines() == [
        "other.example.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ==",
        "dumps.example.com " + " ".join(HOST_KEY.split()[:2])]


def test_debian_reload_only_when_the_capture_command_line_changes():
    files = files_for("debian")
    change = plan("debian", make("debian", "nfs"), files, FACTS)
    assert not change.reload and not change.rebuild_initrd
    change = plan("debian", make("debian", "local", cmdline_append=["console=ttyS0"]), files, FACTS)
    assert change.reload
    assert ShellVars(change.files[DEBIAN_CONF]).get("KDUMP_CMDLINE_APPEND") == (
        "reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1 irqpoll usbcore.nousb"
        " console=ttyS0")


def test_redhat_any_change_rebuilds_and_reloads():
    change = plan("redhat", make("redhat", "nfs"), files_for("redhat"), FACTS)
    assert change.rebuild_initrd and change.reload


def test_redhat_fstype_from_blkid_or_fstab():
    facts = dict(FACTS, device_fstype="xfs")
    change = plan("redhat", Target(type="fs", device="/dev/vdb1"), files_for("redhat"), facts)
    assert "\nxfs /dev/vdb1\n" in change.files[REDHAT_CONF]
    change = plan("redhat", Target(type="fs", device="LABEL=kdump"), files_for("redhat"), FACTS)
    assert "\next4 LABEL=kdump\n" in change.files[REDHAT_CONF]
    assert change.local_dir == "/srv/dumps" and change.mountpoint == "/srv/dumps"


def test_fs_by_alias_from_blkid():
    facts = dict(FACTS, device_aliases=("LABEL=kdump", "/dev/vdb"))
    change = plan("debian", Target(type="fs", device="/dev/vdb", path="/dumps"), files_for("debian"), facts)
    assert ShellVars(change.files[DEBIAN_CONF]).get("KDUMP_COREDIR") == "/srv/dumps/dumps"


def test_fstab_ignores_swap_noauto_and_comments():
    text = ("#LABEL=kdump /x ext4 defaults 0 0\nLABEL=kdump none swap sw 0 0\n"
            "LABEL=kdump /y ext4 noauto 0 0\nLABEL=kdump /mnt/dump\\040dir ext4 defaults 0 0\n")
    assert fstab_mount(text, "LABEL=kdump") == ("/mnt/dump dir", "ext4")
    assert fstab_mount(text, "LABEL=other") is None


@pytest.mark.parametrize("text,version,found", [
    (MAKEDUMPFILE_V, "1.7.2", {"zlib", "lzo"}),
    ("makedumpfile: version 1.7.6 (released on 17 Sep 2024)\nlzo\tenabled\nsnappy\tenabled\n"
     "zstd\tenabled\n", "1.7.6", {"zlib", "lzo", "snappy", "zstd"}),
    ("makedumpfile: version 1.6.7 (released on 16 Jan 2020)\nlzo\tenabled\nsnappy\tdisabled\n"
     "zstd\tdisabled\n", "1.6.7", {"zlib", "lzo"}),
    ("", None, {"zlib"}),
])
def test_makedumpfile_version(text, version, found):
    assert parse_makedumpfile_version(text) == (version, found)


def test_auto_compression_order_and_missing_ones():
    assert choose_compression("auto", parse_makedumpfile_version(MAKEDUMPFILE_V)[1]) == "lzo"
    assert choose_compression("auto", {"zlib", "lzo", "zstd"}) == "zstd"
    assert choose_compression("auto", {"zlib", "lzo", "snappy"}) == "lzo"
    assert choose_compression("auto", {"zlib"}) == "zlib"
    assert choose_compression("none", {"zlib"}) == "none"
    with pytest.raises(TargetError, match="not built with zstd"):
        choose_compression("zstd", {"zlib", "lzo"})


def test_host_key_parsing():
    assert parse_host_key(HOST_KEY)[0] == "ssh-ed25519"
    with pytest.raises(TargetError):
        parse_host_key("ssh-ed25519 AAAA")


MEMINFO = """MemTotal:        1000000 kB
MemFree:          400000 kB
Buffers:           10000 kB
Cached:           300000 kB
Shmem:             20000 kB
AnonPages:        100000 kB
"""


@pytest.mark.parametrize("level,kept_kb", [
    (0, 1000000), (1, 1000000), (2, 1000000 - 280000 - 10000), (4, 1000000 - 310000),
    (8, 900000), (16, 600000), (31, 1000000 - 310000 - 100000 - 400000),
])
def test_expected_dump_size(level, kept_kb):
    expected = int(kept_kb * 1024 * 1.1) + (16 << 20)
    assert expected_dump_bytes(parse_meminfo(MEMINFO), level) == expected


def test_expected_dump_size_never_below_a_floor():
    meminfo = parse_meminfo("MemTotal: 1000000 kB\nMemFree: 990000 kB\n")
    assert expected_dump_bytes(meminfo, 31) >= (64 << 20)


@pytest.mark.parametrize("family", ["debian", "redhat", "suse"])
@pytest.mark.parametrize("kind", ["local", "nfs", "ssh"])
def test_read_back_finds_what_was_written(family, kind):
    files = files_for(family)
    files.update(plan(family, make(family, kind), files, FACTS).files)
    back = read_back(family, files)
    assert back["type"] == kind
    if kind == "ssh" and family != "debian":
        assert back["ssh"] == "kdump@dumps.example.com"


def test_read_back_without_the_package():
    assert read_back("debian", {DEBIAN_CONF: None}) is None


def test_a_target_can_be_planned_before_the_package_is_installed():
    files = dict((path, None) for path in files_for("redhat"))
    change = plan("redhat", Target(type="raw", device="/dev/vdc"), files, FACTS, installed=False)
    assert change.files[REDHAT_CONF].startswith("raw /dev/vdc\n")
