# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""read_back(plan(t)) == t, generated over every family x target type x option value the
family supports (family/records.py and the target registry say which), each option alone
and all of them at once; a combination a family refuses must be refused with a message that
says so, never written."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
import os

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.family import records
from ansible_collections.crashdump.kdump.plugins.module_utils.target.plan import (
    Target,
    TargetError,
    plan,
    read_back,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.shellvars import ShellVars
from ansible_collections.crashdump.kdump.plugins.module_utils.target.types import (
    COMMON_OPTIONS,
    REGISTRY,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEGsCJq0F4VWxm1xC0jXbmE0LEKQ8n4Ob7I0XkKyW3Gj"
FSTAB = ("UUID=0b6c4f1e-7a2b-4d55-9d0e-1f2a3b4c5d6e / ext4 errors=remount-ro 0 1\n"
         "LABEL=kdump /srv/dumps ext4 defaults,nofail 0 2\n"
         "UUID=5d0e-1f2a /mnt/crash xfs defaults 0 2\n"
         "/dev/vdb1 /var/crash-disk ext4 defaults 0 2\n")
FACTS = dict(compressions=set(["zlib", "lzo", "snappy", "zstd"]), fstab=FSTAB,
             device_fstype="ext4")


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts)) as handle:
        return handle.read()


PRISTINE = {
    "debian": {"/etc/default/kdump-tools": ("debian12", "kdump-tools")},
    "redhat": {"/etc/kdump.conf": ("rhel9", "kdump.conf"),
               "/etc/sysconfig/kdump": ("rhel9", "sysconfig-kdump")},
    "suse": {"/etc/sysconfig/kdump": ("sles15", "sysconfig-kdump")},
}


def pristine(family):
    files = dict((path, None) for path in records.get(family).files)
    for path, parts in PRISTINE[family].items():
        files[path] = fixture(*parts)
    return files


# The base description of each type, and the values each option is tried with.
BASE = {
    "local": dict(type="local"),
    "fs": dict(type="fs", device="LABEL=kdump"),
    "raw": dict(type="raw", device="/dev/vdc"),
    "nfs": dict(type="nfs", nfs="nfs.example.com:/srv/kdump"),
    "ssh": dict(type="ssh", ssh="kdump@dumps.example.com"),
}
VALUES = {
    "path": ["/var/crash/kdump", "/dumps"],
    "device": ["LABEL=kdump", "UUID=5d0e-1f2a", "/dev/vdb1"],
    "fstype": ["xfs", "ext4"],
    "nfs": ["nfs.example.com:/srv/kdump", "[2001:db8::2]:/export", "192.0.2.7:/"],
    "ssh": ["kdump@dumps.example.com", "kdump@2001:db8::1", "kdump@[2001:db8::1]",
            "kdump@192.0.2.10"],
    "ssh_port": [22, 2222],
    "ssh_key": ["/root/.ssh/other_key"],
    "ssh_host_key": [HOST_KEY],
    "dump_level": [0, 1, 17, 31],
    "compression": ["auto", "zlib", "lzo", "snappy", "zstd", "none"],
    "makedumpfile_args": [["--num-threads=2"]],
    "failure_action": ["reboot", "halt", "poweroff", "shell", "dump_to_rootfs"],
    "final_action": ["reboot", "halt", "poweroff"],
    "keep": [0, 3],
    "cmdline_append": [["nr_cpus=2"], ["nr_cpus=2", "numa=off"]],
    "extra_modules": [["nvme"]],
}
RAW_FIXED = ("path",)


def expected(family, target, facts):
    """What reading back must give: the description, with what it leaves to the tool (None)
    taken from the pristine files, lists merged with what they held, compression resolved."""
    want = target.describe()
    before = read_back(family, pristine(family)) or {}
    change = plan(family, target, pristine(family), facts)
    want["compression"] = change.compression
    for name in COMMON_OPTIONS:
        if want[name] is None:
            want[name] = before.get(name)
    if target.cmdline_append:
        old = before.get("cmdline_append") or []
        want["cmdline_append"] = old + [w for w in target.cmdline_append if w not in old]
    else:
        want["cmdline_append"] = before.get("cmdline_append") or []
    if family == "redhat":
        old = before.get("extra_modules") or []
        want["extra_modules"] = old + [w for w in target.extra_modules if w not in old]
        if target.type == "fs" and target.fstype is None:
            want["fstype"] = facts["device_fstype"]
    return want


def cases():
    out = []
    for family in records.NAMES:
        for name, kind in sorted(REGISTRY.items()):
            if not records.get(family).supports(name):
                out.append((family, name, "unsupported", dict(BASE[name])))
                continue
            options = [o for o in kind.options + COMMON_OPTIONS
                       if not (name == "raw" and o in RAW_FIXED)]
            for option in options:
                for value in VALUES.get(option, []):
                    values = dict(BASE[name])
                    values[option] = value
                    out.append((family, name, "%s=%s" % (option, value), values))
            out.append((family, name, "base", dict(BASE[name])))
    return out


def attempt(family, values, facts=None):
    """``(target, None)`` or ``(None, message)`` when the family refuses the combination."""
    facts = FACTS if facts is None else facts
    try:
        target = Target(**values)
        plan(family, target, pristine(family), facts)
        return target, None
    except TargetError as exc:
        return None, str(exc)


@pytest.mark.parametrize("family,kind,label,values", cases(),
                         ids=["%s-%s-%s" % c[:3] for c in cases()])
def test_read_back_returns_what_was_written(family, kind, label, values):
    target, refused = attempt(family, values)
    if label == "unsupported":
        assert refused and "not supported" in refused, refused
        return
    if refused:
        # Only what the family's tool cannot do is refused, and the message says so.
        assert ("not supported" in refused or "no port setting" in refused
                or "keeps every dump" in refused or "a raw target is a block device" in refused
                ), refused
        return
    files = pristine(family)
    change = plan(family, target, files, FACTS)
    files.update(change.files)
    got = read_back(family, files)
    want = expected(family, target, FACTS)
    assert dict((k, got.get(k)) for k in want) == want
    extra = set(got) - set(want)
    assert extra <= set(["auto_reset_crashkernel", "problems"]), extra
    assert not got.get("problems")
    # And a second plan over the written files changes nothing.
    assert plan(family, target, files, FACTS).files == {}


@pytest.mark.parametrize("family", records.NAMES)
@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_option_at_once(family, kind):
    """All the options a family accepts for a type, together (the first accepted value of
    each), round-trip as well."""
    if not records.get(family).supports(kind):
        return
    values = dict(BASE[kind])
    for option in REGISTRY[kind].options + COMMON_OPTIONS:
        if kind == "raw" and option in RAW_FIXED:
            continue
        for value in reversed(VALUES.get(option, [])):
            trial = dict(values)
            trial[option] = value
            if attempt(family, trial)[0] is not None:
                values = trial
                break
    target, refused = attempt(family, values)
    assert refused is None
    files = pristine(family)
    files.update(plan(family, target, files, FACTS).files)
    got = read_back(family, files)
    want = expected(family, target, FACTS)
    assert dict((k, got.get(k)) for k in want) == want


def test_the_generator_covers_every_supported_pair():
    pairs = set((f, k) for f, k, label, _v in cases() if label != "unsupported")
    for family in records.FAMILIES:
        for kind in REGISTRY:
            assert ((family.name, kind) in pairs) == family.supports(kind)
    assert len(cases()) > 250


@pytest.mark.parametrize("family", ["redhat"])
def test_auto_reset_crashkernel_round_trips(family):
    for value in (False, True):
        files = pristine(family)
        facts = dict(FACTS, auto_reset_crashkernel=value)
        files.update(plan(family, Target(type="local"), files, facts).files)
        assert read_back(family, files)["auto_reset_crashkernel"] is value
        assert ("auto_reset_crashkernel %s\n" % ("yes" if value else "no")) in files["/etc/kdump.conf"]


def test_ipv6_ssh_is_written_as_each_tool_reads_it():
    target = Target(type="ssh", ssh="kdump@[2001:db8::1]", ssh_host_key=HOST_KEY)
    assert target.ssh == "kdump@2001:db8::1"
    red = plan("redhat", target, pristine("redhat"), FACTS).files
    assert "\nssh kdump@2001:db8::1\n" in red["/etc/kdump.conf"]
    assert red["/root/.ssh/known_hosts"].startswith("2001:db8::1 ssh-ed25519 ")
    # openSUSE kdump cannot reach an IPv6 SSH server nor pin a key on another port (recorded:
    # kdump_conf_parsing.md B): refused, with the reason.
    with pytest.raises(TargetError, match="IPv6 SSH server address is not supported by kdump"):
        plan("suse", Target(type="ssh", ssh="kdump@2001:db8::1"), pristine("suse"), FACTS)
    with pytest.raises(TargetError, match="port other than 22 is not supported by kdump"):
        plan("suse", Target(type="ssh", ssh="kdump@dumps", ssh_port=2222), pristine("suse"), FACTS)
    suse = plan("suse", Target(type="ssh", ssh="kdump@dumps", ssh_host_key=HOST_KEY),
                pristine("suse"), FACTS).files["/etc/sysconfig/kdump"]
    assert ShellVars(suse).get("KDUMP_HOST_KEY") == HOST_KEY
    deb = plan("debian", Target(type="ssh", ssh="kdump@2001:db8::1", ssh_port=2222,
                                ssh_host_key=HOST_KEY), pristine("debian"), FACTS).files
    assert "HostName 2001:db8::1\n" in deb["/etc/ssh/ssh_config.d/crashdump-kdump.conf"]
    assert deb["/etc/crashdump-kdump/known_hosts"].startswith("[2001:db8::1]:2222 ssh-ed25519 ")


def test_combinations_are_many():
    # Not a test of the product: a guard that the generated matrix stays generated.
    assert len(list(itertools.product(records.NAMES, REGISTRY))) == 15


def test_the_documented_choices_are_the_registry():
    """A new target type is declared in target/types.py; the module's and the role's option
    documents list the types, and this holds them to the registry."""
    import yaml
    from ansible_collections.crashdump.kdump.plugins.modules import kdump_target
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
    doc = yaml.safe_load(kdump_target.DOCUMENTATION)
    assert doc["options"]["type"]["choices"] == list(REGISTRY)
    assert doc["options"]["family"]["choices"] == ["auto"] + list(records.NAMES)
    with open(os.path.join(root, "roles", "kdump", "meta", "argument_specs.yml")) as handle:
        spec = yaml.safe_load(handle)
    options = spec["argument_specs"]["main"]["options"]["kdump_target"]["options"]
    assert options["type"]["choices"] == list(REGISTRY)
