# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""kernel_cmdline backends on fixture trees: the exact files written and commands run."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.crashdump.kdump.plugins.module_utils.boot import grub as _grub
from ansible_collections.crashdump.kdump.plugins.module_utils.boot.kernel_cmdline import (
    BootError,
    BootFiles,
    detect,
    make_backend,
    managed_state,
    satisfied,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")
KDUMP_TOOLS_CFG = 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M"\n'


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts)) as handle:
        return handle.read()


class Host(object):
    """A fixture tree with tools; 'sh' really runs, other tools answer from a table."""

    def __init__(self, root, tools, answers=None):
        self.root = str(root)
        self.tools = tools
        self.answers = answers or {}
        self.calls = []

    def which(self, name):
        return "/usr/sbin/" + name if name in self.tools else None

    def run(self, argv):
        self.calls.append(list(argv))
        if argv[0] == "sh":
            out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
            return out.returncode, out.stdout.decode(), out.stderr.decode()
        key = " ".join([os.path.basename(argv[0])] + list(argv[1:]))
        if key not in self.answers:
            raise AssertionError("unexpected command %r" % key)
        return self.answers[key]

    def files(self):
        return BootFiles(self.root, run=self.run, which=self.which)

    def write(self, path, text):
        full = os.path.join(self.root, path.lstrip("/"))
        if text is None:
            os.unlink(full)
            return
        if not os.path.isdir(os.path.dirname(full)):
            os.makedirs(os.path.dirname(full))
        with open(full, "w") as handle:
            handle.write(text)

    def apply(self, plan):
        for path, text in plan.files.items():
            self.write(path, text)

    def snapshot(self):
        tree = {}
        for base, _dirs, names in os.walk(self.root):
            for name in names:
                full = os.path.join(base, name)
                with open(full, "rb") as handle:
                    tree[os.path.relpath(full, self.root)] = handle.read()
        return tree


def debian_host(tmp_path):
    host = Host(tmp_path, {"update-grub", "grub-mkconfig", "grub-script-check"})
    host.write("/etc/default/grub", fixture("debian12", "default-grub"))
    host.write("/etc/default/grub.d/kdump-tools.cfg", KDUMP_TOOLS_CFG)
    host.write("/boot/grub/grub.cfg", fixture("debian12", "grub.cfg"))
    return host


# --- grub, Debian --------------------------------------------------------------------

def test_debian_present_writes_only_the_dropin_and_runs_update_grub(tmp_path):
    host = debian_host(tmp_path)
    backend = make_backend("auto", host.files(), "x86_64")
    assert backend.name == "grub" and backend.debian
    plan = backend.plan({"crashkernel": "256M"}, "present", "all")
    assert sorted(plan.files) == [_grub.DROPIN]
    assert plan.commands == [["/usr/sbin/update-grub"]]
    assert plan.validate == {_grub.DROPIN: ["sh", "-n"]}
    assert plan.regenerated == ["/boot/grub/grub.cfg"]
    assert plan.checks == [["/usr/sbin/grub-script-check", "/boot/grub/grub.cfg"]]
    host.apply(plan)
    assert _grub.parse_dropin(host.files().read(_grub.DROPIN)) == {"crashkernel": ["256M"]}
    # idempotent: nothing more to do
    assert backend.plan({"crashkernel": "256M"}, "present", "all").is_empty()


def test_debian_next_boot_reads_the_default_grub_entry(tmp_path):
    backend = make_backend("grub", debian_host(tmp_path).files(), "x86_64")
    nxt = backend.next_boot()
    assert nxt.startswith("root=UUID=") and nxt.endswith("crashkernel=384M-:128M")


def test_debian_absent_keeps_stripping_what_kdump_tools_adds(tmp_path):
    host = debian_host(tmp_path)
    backend = make_backend("grub", host.files(), "x86_64")
    plan = backend.plan({"crashkernel": None}, "absent", "all")
    assert _grub.parse_dropin(plan.files[_grub.DROPIN]) == {"crashkernel": None}


def test_debian_apply_then_remove_is_byte_for_byte(tmp_path):
    host = debian_host(tmp_path)
    before = host.snapshot()
    backend = make_backend("grub", host.files(), "x86_64")
    host.apply(backend.plan({"nokaslr": None, "panic": "10"}, "present", "all"))
    assert host.snapshot() != before
    plan = backend.plan({"nokaslr": None, "panic": "10"}, "absent", "all")
    assert plan.files == {_grub.DROPIN: None}
    host.apply(plan)
    assert host.snapshot() == before


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
       st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9,:.-]{1,8}", fullmatch=True)))
def test_debian_round_trip_property(tmp_path_factory, name, value):
    host = debian_host(tmp_path_factory.mktemp("deb"))
    before = host.snapshot()
    backend = make_backend("grub", host.files(), "x86_64")
    if name in ("crashkernel", "root", "ro", "console", "quiet"):
        return
    host.apply(backend.plan({name: value}, "present", "all"))
    host.apply(backend.plan({name: value}, "absent", "all"))
    assert host.snapshot() == before


def test_debian_refuses_a_foreign_dropin(tmp_path):
    host = debian_host(tmp_path)
    host.write(_grub.DROPIN, 'GRUB_CMDLINE_LINUX="x"\n')
    backend = make_backend("grub", host.files(), "x86_64")
    with pytest.raises(BootError, match="not written by this collection"):
        backend.plan({"crashkernel": "256M"}, "present", "all")


def test_grub_kernels_must_be_all_or_default(tmp_path):
    backend = make_backend("grub", debian_host(tmp_path).files(), "x86_64")
    with pytest.raises(BootError, match="kernels must be all or default"):
        backend.plan({"crashkernel": "256M"}, "present", "/boot/vmlinuz-x")


def test_ubuntu_2404_cloud_image(tmp_path):
    host = Host(tmp_path, {"update-grub"})
    host.write("/etc/default/grub", fixture("ubuntu2404", "default-grub"))
    host.write("/etc/default/grub.d/kdump-tools.cfg", fixture("ubuntu2404", "kdump-tools.cfg"))
    host.write("/etc/default/grub.d/50-cloudimg-settings.cfg",
               fixture("ubuntu2404", "50-cloudimg-settings.cfg"))
    backend = make_backend("auto", host.files(), "x86_64")
    words = backend.effective_without_dropin()
    assert words[-1].startswith("crashkernel=2G-4G:320M") and "console=ttyS0" in words
    host.apply(backend.plan({"crashkernel": "512M"}, "present", "all"))
    out = subprocess.run(["sh", "-c", _grub.EFFECTIVE_SCRIPT, "sh", host.root],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    assert out.split("\0") == ["", "console=tty1 console=ttyS0 crashkernel=512M"]


# --- grub, RHEL 7 / SUSE ----------------------------------------------------------------

RHEL7_GRUB = """GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR="$(sed 's, release .*$,,g' /etc/system-release)"
GRUB_DEFAULT=saved
GRUB_DISABLE_SUBMENU=true
GRUB_TERMINAL_OUTPUT="console"
GRUB_CMDLINE_LINUX="crashkernel=auto rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet"
GRUB_DISABLE_RECOVERY="true"
"""


@pytest.mark.parametrize("efi, cfg", [(False, "/boot/grub2/grub.cfg"),
                                      (True, "/boot/efi/EFI/redhat/grub.cfg")])
def test_rhel7_edits_grub_cmdline_linux_in_place(tmp_path, efi, cfg):
    host = Host(tmp_path, {"grub2-mkconfig"})
    host.write("/etc/default/grub", RHEL7_GRUB)
    if efi:
        host.write("/boot/efi/EFI/redhat/grub.cfg", "### generated\n")
    backend = make_backend("auto", host.files(), "x86_64")
    assert backend.name == "grub" and not backend.debian
    plan = backend.plan({"crashkernel": "1G-4G:192M,4G-64G:256M,64G-:512M"}, "present", "all")
    assert plan.files == {"/etc/default/grub": RHEL7_GRUB.replace(
        "crashkernel=auto", "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M")}
    assert plan.commands == [["/usr/sbin/grub2-mkconfig", "-o", cfg]]


def test_sles15_moves_crashkernel_out_of_the_default_variable(tmp_path):
    host = Host(tmp_path, {"grub2-mkconfig"})
    text = fixture("sles15", "default-grub")
    host.write("/etc/default/grub", text)
    backend = make_backend("auto", host.files(), "x86_64")
    plan = backend.plan({"crashkernel": "256M"}, "present", "all")
    new = plan.files["/etc/default/grub"]
    assert _grub.get_shell_var(new, "GRUB_CMDLINE_LINUX") == "crashkernel=256M"
    assert _grub.get_shell_var(new, "GRUB_CMDLINE_LINUX_DEFAULT") == (
        "splash=silent resume=/dev/disk/by-uuid/5bd7b1a4-4e21-4b6e-a1d4-6f4f5f0f1f1f"
        " mitigations=auto quiet security=apparmor")
    changed = [(a, b) for a, b in zip(text.splitlines(), new.splitlines()) if a != b]
    assert len(changed) == 2 and len(text.splitlines()) == len(new.splitlines())
    assert plan.commands == [["/usr/sbin/grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"]]


def test_rhel9_efi_stub_is_not_the_target(tmp_path):
    host = Host(tmp_path, {"grub2-mkconfig"})
    host.write("/etc/default/grub", RHEL7_GRUB)
    stub = "search --no-floppy --fs-uuid --set=dev x\nconfigfile ($dev)/grub2/grub.cfg\n"
    host.write("/boot/efi/EFI/redhat/grub.cfg", stub)
    assert make_backend("grub", host.files(), "x86_64").cfg == "/boot/grub2/grub.cfg"


# --- grubby ----------------------------------------------------------------------------------

def rhel9_host(tmp_path, info=None):
    host = Host(tmp_path, {"grubby"}, {
        "grubby --info=ALL": (0, info or fixture("rhel9", "grubby-info.txt"), ""),
        "grubby --info=DEFAULT": (0, (info or fixture("rhel9", "grubby-info.txt")).split("index=1")[0], ""),
    })
    host.write("/boot/loader/entries/0d1c-5.14.0-427.13.1.el9_4.x86_64.conf", fixture("rhel9", "entry.conf"))
    host.write("/etc/kernel/cmdline", fixture("rhel9", "kernel-cmdline"))
    return host


def test_grubby_plan(tmp_path):
    host = rhel9_host(tmp_path)
    backend = make_backend("auto", host.files(), "x86_64")
    assert backend.name == "grubby"
    plan = backend.plan({"crashkernel": "2G-64G:256M,64G-:512M"}, "present", "all")
    assert plan.commands == [
        ["/usr/sbin/grubby", "--update-kernel=ALL", "--remove-args=crashkernel"],
        ["/usr/sbin/grubby", "--update-kernel=ALL", "--args=crashkernel=2G-64G:256M,64G-:512M"]]
    assert plan.files["/etc/kernel/cmdline"].split()[2] == "crashkernel=2G-64G:256M,64G-:512M"
    assert ["/usr/sbin/grubby", "--info=ALL"] in host.calls
    assert "crashkernel=1G-4G:192M" in backend.next_boot()


def test_grubby_nothing_to_do(tmp_path):
    host = rhel9_host(tmp_path)
    host.write("/etc/kernel/cmdline", fixture("rhel9", "kernel-cmdline"))
    backend = make_backend("grubby", host.files(), "x86_64")
    assert backend.plan({"crashkernel": "1G-4G:192M,4G-64G:256M,64G-:512M"}, "present", "all").is_empty()


def test_grubby_kernel_path_must_exist(tmp_path):
    backend = make_backend("grubby", rhel9_host(tmp_path).files(), "x86_64")
    with pytest.raises(BootError, match="kernel /boot/vmlinuz-nope does not exist"):
        backend.plan({"crashkernel": "256M"}, "present", "/boot/vmlinuz-nope")


# --- zipl ----------------------------------------------------------------------------------------

def test_zipl_plan(tmp_path):
    host = Host(tmp_path, {"zipl"})
    host.write("/etc/zipl.conf", fixture("s390x", "zipl.conf"))
    backend = make_backend("auto", host.files(), "s390x")
    assert backend.name == "zipl"
    plan = backend.plan({"crashkernel": "256M"}, "present", "default")
    assert plan.commands == [["/usr/sbin/zipl"]]
    assert 'crashkernel=256M resume=' in plan.files["/etc/zipl.conf"]
    assert plan.files["/etc/zipl.conf"].count("crashkernel=") == 1    # failsafe untouched
    host.apply(plan)
    assert "crashkernel=256M" in backend.next_boot()


# --- systemd-boot ------------------------------------------------------------------------------

def test_systemd_boot_plan(tmp_path):
    host = Host(tmp_path, set())
    entry = ("title Fedora Linux 41\nversion 6.11.4-301.fc41.x86_64\n"
             "linux /0c3e/6.11.4-301.fc41.x86_64/linux\ninitrd /0c3e/6.11.4-301.fc41.x86_64/initrd\n"
             "options root=UUID=1f2e ro rhgb quiet\n")
    host.write("/efi/loader/entries/0c3e-6.11.4-301.fc41.x86_64.conf", entry)
    host.write("/efi/loader/loader.conf", "timeout 3\ndefault 0c3e-*\n")
    host.write("/etc/kernel/cmdline", "root=UUID=1f2e ro rhgb quiet\n")
    backend = make_backend("auto", host.files(), "x86_64")
    assert backend.name == "systemd_boot" and backend.esp == "/efi"
    plan = backend.plan({"crashkernel": "256M"}, "present", "all")
    assert plan.commands == []
    assert plan.files == {
        "/efi/loader/entries/0c3e-6.11.4-301.fc41.x86_64.conf": entry.replace("quiet\n", "quiet crashkernel=256M\n"),
        "/etc/kernel/cmdline": "root=UUID=1f2e ro rhgb quiet crashkernel=256M\n"}
    host.apply(plan)
    assert backend.next_boot().endswith("crashkernel=256M")
    assert backend.plan({"crashkernel": "256M"}, "present", "all").is_empty()


# --- ostree ----------------------------------------------------------------------------------------

def test_ostree_plan(tmp_path):
    host = Host(tmp_path, {"rpm-ostree"}, {
        "rpm-ostree kargs": (0, "rhgb quiet root=UUID=ab rw crashkernel=512M\n", "")})
    host.write("/run/ostree-booted", "")
    backend = make_backend("auto", host.files(), "x86_64")
    assert backend.name == "ostree"
    plan = backend.plan({"crashkernel": "256M"}, "present", "all")
    assert plan.commands == [["/usr/sbin/rpm-ostree", "kargs", "--delete=crashkernel=512M",
                              "--append=crashkernel=256M"]]
    assert backend.plan({"crashkernel": "512M"}, "present", "all").is_empty()
    assert backend.plan({"crashkernel": None}, "absent", "all").commands == [
        ["/usr/sbin/rpm-ostree", "kargs", "--delete=crashkernel=512M"]]


# --- detection and errors ------------------------------------------------------------------------

def test_nothing_detected(tmp_path):
    with pytest.raises(BootError, match="no supported boot loader found"):
        detect(Host(tmp_path, set()).files(), "x86_64")


@pytest.mark.parametrize("name, message", [
    ("grub", "neither update-grub nor grub2-mkconfig"),
    ("grubby", "grubby is not installed"),
    ("zipl", "zipl is not installed"),
    ("systemd_boot", "no ESP with loader/entries"),
    ("ostree", "rpm-ostree is not installed"),
    ("lilo", "expected auto or one of"),
])
def test_wrong_backend_for_this_host(tmp_path, name, message):
    with pytest.raises(BootError, match=message):
        make_backend(name, Host(tmp_path, set()).files(), "x86_64")


def test_satisfied_and_managed_state():
    line = "ro quiet crashkernel=1G,high crashkernel=256M,low"
    assert satisfied(line, {"crashkernel": ["1G,high", "256M,low"]}, "present")
    assert not satisfied(line, {"crashkernel": "1G,high"}, "present")
    assert satisfied(line, {"nokaslr": None}, "absent")
    assert not satisfied(line, {"crashkernel": None}, "absent")
    assert satisfied(line, {"crashkernel": "2G"}, "absent")
    assert managed_state(line, {"crashkernel": None}) == {"crashkernel": ["1G,high", "256M,low"]}


# --- grubby, against the recorded behaviour of Fedora's grubby-bls --------------------------
# tests/unit/fixtures/upstream/grubby_bls.json: grubby-bls of fedora-riscv/grubby, run
# unchanged (hacking/record/grubby_bls.py); each step's stdout and the files it changed.

def recorded(name, rev="d6967109"):
    with open(os.path.join(FIXTURES, "upstream", "grubby_bls.json")) as handle:
        data = json.load(handle)
    return [c for c in data["cases"] if c["name"] == name and c["rev"].startswith(rev)][0]


def replay_host(tmp_path, case):
    """A host holding the case's files before its first step; grubby answers --info from
    the first recorded --info of that form."""
    answers = {}
    for step in case["steps"]:
        key = " ".join(step["argv"])
        if "--info" in key and key not in answers:
            answers[key] = (step["rc"], step["stdout"], step["stderr"])
    if "grubby --info=DEFAULT" not in answers:
        # saved_entry is the index 0 entry in these cases: DEFAULT is --info=ALL's first.
        rc, out, err = answers["grubby --info=ALL"]
        answers["grubby --info=DEFAULT"] = (rc, out.split("index=1")[0], err)
    host = Host(tmp_path, {"grubby"}, answers)
    for path, text in case["files_before"].items():
        host.write(path, text)
    return host


def run_recorded(host, case, argv):
    """Apply what the recorded grubby did for ``argv`` (its files_after) to the host."""
    key = " ".join(["grubby"] + list(argv[1:]))
    steps = [s for s in case["steps"] if " ".join(s["argv"]) == key]
    assert steps, "no recorded step for %s" % key
    for path, text in (steps[0]["files_after"] or {}).items():
        host.write(path, text)


def test_grubby_entry_without_options_line_converges(tmp_path):
    """grubby-bls adds nothing to an entry without an options line (it reports success):
    the entries are edited by the backend, and the second plan is empty."""
    case = recorded("case2_no_options_line")
    host = replay_host(tmp_path, case)
    backend = make_backend("grubby", host.files(), "x86_64")
    plan = backend.plan({"crashkernel": "256M"}, "present", "all")
    entries = [p for p in plan.files if p.startswith("/boot/loader/entries/")]
    assert len(entries) == 3
    host.apply(plan)
    for argv in plan.commands:
        run_recorded(host, case, argv)
    backend = make_backend("grubby", host.files(), "x86_64")
    again = backend.plan({"crashkernel": "256M"}, "present", "all")
    assert [p for p in again.files if p.startswith("/boot/loader/")] == [] and again.commands == []
    assert "crashkernel=256M" in backend.next_boot().split()


def test_grubby_kernelopts_entry_with_its_own_crashkernel_loses_it(tmp_path):
    """'options $kernelopts crashkernel=256M': grubby-bls --remove-args edits grubenv only and
    the entry keeps its own value (recorded); the backend takes it off the entry, and the
    next boot read from the files (not --info) has no crashkernel= left."""
    case = recorded("case6c_kernelopts_plus_own_crashkernel")
    host = replay_host(tmp_path, case)
    backend = make_backend("grubby", host.files(), "x86_64")
    plan = backend.plan({"crashkernel": None}, "absent", "all")
    assert plan.commands == [["/usr/sbin/grubby", "--update-kernel=ALL", "--remove-args=crashkernel"]]
    host.apply(plan)
    run_recorded(host, case, plan.commands[0])
    with open(os.path.join(str(tmp_path), "boot/loader/entries/"
              "0123456789abcdef0123456789abcdef-5.14.0-427.13.1.el9_4.x86_64.conf")) as handle:
        assert "options $kernelopts\n" in handle.read()
    backend = make_backend("grubby", host.files(), "x86_64")
    assert "crashkernel" not in backend.next_boot()
    assert backend.plan({"crashkernel": None}, "absent", "all").commands == []


def test_grubby_next_boot_reads_the_entry_not_info(tmp_path):
    """After the recorded --remove-args, grubby --info still shows the entry's own value; a
    host whose --info said nothing would not fool the check either: the file is read."""
    case = recorded("case6c_kernelopts_plus_own_crashkernel")
    host = replay_host(tmp_path, case)
    run_recorded(host, case, ["grubby", "--update-kernel=ALL", "--remove-args=crashkernel"])
    host.answers["grubby --info=DEFAULT"] = (0, 'index=0\nkernel="/boot/vmlinuz-5.14.0-427.13.1'
                                             '.el9_4.x86_64"\nargs="ro quiet"\nid="0123456789abcdef'
                                             '0123456789abcdef-5.14.0-427.13.1.el9_4.x86_64"\n', "")
    backend = make_backend("grubby", host.files(), "x86_64")
    assert "crashkernel=256M" in backend.next_boot().split()
