# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""/etc/kdump.conf: in-place directives, one dump target, byte-for-byte round trips."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.target.kdumpconf import (
    KdumpConf,
    KdumpConfError,
)

# The directives of kdump-utils' default /etc/kdump.conf, with two of its comments.
RHEL = """# This file contains a series of commands to perform (in order) in the kdump
# kernel after a kernel crash in the crash kernel(1st kernel) has happened.
#raw /dev/vg/lv_kdump
#ext4 /dev/vg/lv_kdump
#ext4 LABEL=/boot
#ext4 UUID=03138356-5e61-4ab3-b58e-27507ac41937
#virtiofs myfs
#nfs my.server.com:/export/tmp
#nfs [2001:db8::1:2:3:4]:/export/tmp
#ssh user@my.server.com
#ssh user@2001:db8::1:2:3:4
#sshkey /root/.ssh/kdump_id_rsa
path /var/crash
core_collector makedumpfile -l --message-level 7 -d 31
#core_collector scp
#kdump_post /var/crash/scripts/kdump-post.sh
#kdump_pre /var/crash/scripts/kdump-pre.sh
#extra_bins /usr/bin/lftp
#extra_modules gfs2
#failure_action shell
#force_rebuild 1
#force_no_rebuild 1
#dracut_args --omit-drivers "cfg80211 snd" --add-drivers "ext2 ext3"
#fence_kdump_args -p 7410 -f auto -c 0 -i 10
#fence_kdump_nodes node1 node2
auto_reset_crashkernel yes
"""


def test_round_trip_and_reads():
    conf = KdumpConf(RHEL)
    assert conf.render() == RHEL
    assert conf.get("path") == "/var/crash"
    assert conf.get("core_collector") == "makedumpfile -l --message-level 7 -d 31"
    assert conf.target() is None
    assert conf.directives()[0] == ("path", "/var/crash")


def test_set_target_keeps_one_target_and_the_comments():
    conf = KdumpConf(RHEL)
    assert conf.set_target("ssh", "kdump@dumpserver")
    assert conf.set("sshkey", "/root/.ssh/kdump_id_ed25519")
    assert conf.set("core_collector", "makedumpfile -F -l --message-level 7 -d 31")
    assert not conf.set_target("ssh", "kdump@dumpserver")
    assert conf.set_target("nfs", "server:/export/crash")
    assert conf.target() == ("nfs", "server:/export/crash")
    text = conf.render()
    assert "\nssh kdump@dumpserver" not in text and "#ssh user@my.server.com\n" in text
    assert "core_collector makedumpfile -F -l --message-level 7 -d 31\n" in text
    assert text.count("\ncore_collector ") == 1


def test_set_then_unset_restores_the_file():
    conf = KdumpConf(RHEL)
    conf.set("failure_action", "reboot")
    conf.unset("failure_action")
    assert conf.render() == RHEL


@pytest.mark.parametrize("call, message", [
    (lambda c: c.set("colour", "blue"), "unknown directive 'colour'"),
    (lambda c: c.set("path", "a\nb"), "one non-empty line"),
    (lambda c: c.set("path", "/var/crash # x"), "without '#'"),
    (lambda c: c.set("path", ""), "one non-empty line"),
    (lambda c: c.set_target("ftp", "x"), "is not a dump target"),
])
def test_bad_input(call, message):
    with pytest.raises(KdumpConfError, match=message):
        call(KdumpConf(RHEL))


def test_a_new_directive_goes_after_its_commented_example():
    conf = KdumpConf("#raw /dev/vg/lv_kdump\n#ssh user@my.server.com\n#sshkey /root/.ssh/kdump_id_rsa\n"
                     "path /var/crash\n")
    assert conf.set_target("ssh", "kdump@dumps")
    assert conf.set("sshkey", "/root/.ssh/k")
    assert conf.render() == ("#raw /dev/vg/lv_kdump\n#ssh user@my.server.com\nssh kdump@dumps\n"
                             "#sshkey /root/.ssh/kdump_id_rsa\nsshkey /root/.ssh/k\npath /var/crash\n")


def test_a_comment_that_only_mentions_a_directive_is_not_an_example():
    conf = KdumpConf("# path <path> - where to save\n")
    assert conf.set("path", "/srv")
    assert conf.render() == "# path <path> - where to save\npath /srv\n"
