# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sourced KEY=value files: in-place edits, byte-for-byte round trips, hostile values."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.crashdump.kdump.plugins.module_utils.target.shellvars import (
    ShellVars,
    ShellVarsError,
    quote,
    unquote,
)

# The start of Debian 12's /etc/default/kdump-tools (kdump-tools 1:1.8.1).
DEBIAN = """# kdump-tools configuration
# ---------------------------------------------------------------------------
# USE_KDUMP - controls kdump will be configured
#     0 - kdump kernel will not be loaded
#     1 - kdump kernel will be loaded and kdump is configured
#
USE_KDUMP=1


# ---------------------------------------------------------------------------
# Kdump Kernel:
# KDUMP_KERNEL - A full pathname to a kdump kernel.
# KDUMP_INITRD - A full pathname to the kdump initrd (if used).
#     If these are not set, kdump-config will try to use the current kernel
#     and initrd if it is relocatable.  Otherwise, you will need to specify
#     these manually.
KDUMP_KERNEL=/var/lib/kdump/vmlinuz
KDUMP_INITRD=/var/lib/kdump/initrd.img


# ---------------------------------------------------------------------------
# vmcore Handling:
# KDUMP_COREDIR - local path to save the vmcore to.
# KDUMP_FAIL_CMD - This variable can be used to cause a reboot or
#     start a shell if saving the vmcore fails.  If not set, "reboot -f"
#     is the default.
#     Example - start a shell if the vmcore copy fails:
#         KDUMP_FAIL_CMD="echo 'makedumpfile FAILED.'; /bin/bash; reboot -f"
# KDUMP_DUMP_DMESG - This variable controls if the dmesg buffer is dumped.
#     If unset or set to 1, the dmesg buffer is dumped. If set to 0, the dmesg
#     buffer is not dumped.
# KDUMP_NUM_DUMPS - This variable controls how many dump files are kept on
#     the machine to prevent running out of disk space. If set to 0 or unset,
#     the variable is ignored and no dump files are automatically purged.
# KDUMP_COMPRESSION - Compress the dumpfile. No compression is used by default.
#     Supported compressions: bzip2, gzip, lz4, xz
KDUMP_COREDIR="/var/crash"
#KDUMP_FAIL_CMD="reboot -f"
#KDUMP_DUMP_DMESG=
#KDUMP_NUM_DUMPS=
#KDUMP_COMPRESSION=
"""


def sourced(text, key):
    out = subprocess.run(["sh", "-c", '. /dev/stdin; printf "%s" "$' + key + '"'],
                         input=text.encode(), stdout=subprocess.PIPE, check=True)
    return out.stdout.decode()


def test_round_trip_is_byte_for_byte():
    assert ShellVars(DEBIAN).render() == DEBIAN
    assert ShellVars("A=1").render() == "A=1"


def test_get_reads_the_last_assignment():
    conf = ShellVars(DEBIAN)
    assert conf.get("USE_KDUMP") == "1"
    assert conf.get("KDUMP_COREDIR") == "/var/crash"
    assert conf.get("KDUMP_FAIL_CMD") is None
    assert conf.keys() == ["USE_KDUMP", "KDUMP_KERNEL", "KDUMP_INITRD", "KDUMP_COREDIR"]


def test_set_in_place_after_the_commented_default_or_at_the_end():
    conf = ShellVars(DEBIAN)
    assert conf.set("KDUMP_COREDIR", "/srv/crash")
    assert conf.set("KDUMP_NUM_DUMPS", "3")
    assert conf.set("MAKEDUMP_ARGS", "-c -d 31")
    assert not conf.set("USE_KDUMP", "1")
    text = conf.render()
    assert 'KDUMP_COREDIR=/srv/crash\n#KDUMP_FAIL_CMD' in text
    assert "#KDUMP_NUM_DUMPS=\nKDUMP_NUM_DUMPS=3\n" in text
    assert text.endswith("MAKEDUMP_ARGS='-c -d 31'\n")
    assert len(text.splitlines()) == len(DEBIAN.splitlines()) + 2
    for key, value in (("KDUMP_COREDIR", "/srv/crash"), ("KDUMP_NUM_DUMPS", "3"),
                       ("MAKEDUMP_ARGS", "-c -d 31")):
        assert sourced(text, key) == value


def test_set_then_unset_restores_a_file_without_the_key():
    conf = ShellVars(DEBIAN)
    conf.set("SSH", "kdump@server")
    assert conf.unset("SSH")
    assert conf.render() == DEBIAN
    assert not conf.unset("SSH")


@pytest.mark.parametrize("value", [
    "plain", "", "with space", "dollar $HOME", "back`tick`", "quote'single", 'quote"double',
    "semi;colon", "glob *", "back\\slash", "-F -l --message-level 7 -d 31",
])
def test_hostile_values_read_back_exactly(value):
    conf = ShellVars("")
    conf.set("VALUE", value)
    assert sourced(conf.render(), "VALUE") == value
    assert conf.get("VALUE") == value


@pytest.mark.parametrize("value", ["two\nlines", "cr\rhere", "nul\0"])
def test_line_breaks_are_refused(value):
    with pytest.raises(ShellVarsError, match="line break or NUL"):
        quote(value)


def test_bad_key():
    with pytest.raises(ShellVarsError, match="shell variable name"):
        ShellVars("").set("NOT A KEY", "x")


@pytest.mark.parametrize("text, value", [
    ('"a b"', "a b"), ("'a b'", "a b"), ("a\\ b", "a b"), ('"a\\"b"', 'a"b'),
    ("x # comment", "x"), ("'it'\\''s'", "it's"), ("", ""),
])
def test_unquote(text, value):
    assert unquote(text) == value


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\0"),
               max_size=30))
def test_any_value_survives_the_shell(value):
    conf = ShellVars(DEBIAN)
    conf.set("KDUMP_COREDIR", value)
    assert conf.get("KDUMP_COREDIR") == value
    assert sourced(conf.render(), "KDUMP_COREDIR") == value
