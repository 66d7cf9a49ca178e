# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""crash_test's pure helpers: the SSH banner probe, where the dump is looked for."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import socket
import threading

import pytest

from ansible_collections.crashdump.kdump.plugins.action.crash_test import (
    ActionModule,
    StepFailed,
    _memtotal_kib,
    ssh_banner,
)


def serve_once(reply):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer():
        conn, _addr = server.accept()
        if reply:
            conn.sendall(reply)
        conn.close()
        server.close()

    threading.Thread(target=answer, daemon=True).start()
    return server.getsockname()[1]


def test_banner_of_an_ssh_server():
    assert ssh_banner("127.0.0.1", serve_once(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), 2) is True


def test_something_else_or_nothing_is_down():
    assert ssh_banner("127.0.0.1", serve_once(b"HTTP/1.1 400\r\n"), 2) is False
    assert ssh_banner("127.0.0.1", serve_once(b""), 2) is False
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    assert ssh_banner("127.0.0.1", port, 1) is False


def test_memtotal():
    content = base64.b64encode(b"MemTotal:        1004064 kB\nMemFree: 1 kB\n")
    assert _memtotal_kib(content) == 1004064
    assert _memtotal_kib(base64.b64encode(b"")) == 0


class _Server:
    """Stands for the action: answers the stat it runs on the dump host."""

    def __init__(self, dirs=()):
        self.dirs, self.asked = set(dirs), []

    def _on_other_host(self, other, module, module_args, task_vars):
        self.asked.append((other, module, module_args["path"]))
        return {"stat": {"exists": True, "isdir": True}} if module_args["path"] in self.dirs \
            else {"stat": {"exists": False}}


SSH = {"type": "ssh", "ssh": "kdump@10.0.2.2", "path": "/srv/kdump"}


@pytest.mark.parametrize("target,args,task_vars,dirs,expected", [
    ({"type": "local", "path": "/var/crash"}, {}, {}, (), ("web1", "/var/crash")),
    ({"type": "local", "path": "/srv/dumps/crash"}, {"dump_path": "/x"}, {}, (), ("web1", "/x")),
    # A dump_server of this collection: the fact it published, or the host's directory there.
    (SSH, {"dump_host": "dumps"}, {"hostvars": {"dumps": {"dump_server_client_dirs": {"web1": "/srv/kdump/web1"}}}},
     (), ("dumps", "/srv/kdump/web1")),
    (SSH, {"dump_host": "dumps"}, {"hostvars": {"dumps": {}}}, ("/srv/kdump/web1",), ("dumps", "/srv/kdump/web1")),
    # Another SSH server: the target's path itself.
    (SSH, {"dump_host": "dumps"}, {"hostvars": {"dumps": {}}}, (), ("dumps", "/srv/kdump")),
    (SSH, {"dump_host": "dumps", "dump_path": "/elsewhere"}, {}, (), ("dumps", "/elsewhere")),
    ({"type": "nfs", "nfs": "10.0.2.2:/srv/kdump-nfs"}, {"dump_host": "dumps"}, {}, (),
     ("dumps", "/srv/kdump-nfs")),
    # The export and the path below it (as kdump_info reads them back on every family).
    ({"type": "nfs", "nfs": "10.0.2.2:/srv/kdump-nfs", "path": "/clients"}, {"dump_host": "dumps"},
     {}, (), ("dumps", "/srv/kdump-nfs/clients")),
    ({"type": "nfs", "nfs": "[2001:db8::2]:/export", "path": "/"}, {"dump_host": "dumps"},
     {}, (), ("dumps", "/export")),
    # An fs target: the directory below its mount point that kdump_info found.
    ({"type": "fs", "device": "LABEL=kdumpdisk", "path": "/crash", "directory": "/srv/dumps/crash"},
     {}, {}, (), ("web1", "/srv/dumps/crash")),
])
def test_where_the_dump_is_looked_for(target, args, task_vars, dirs, expected):
    assert ActionModule._where(_Server(dirs), "web1", target, args, task_vars) == expected


@pytest.mark.parametrize("target,pattern", [
    ({"type": "ssh", "ssh": "k@h", "path": "/p"}, "set dump_host"),
    ({"type": "raw", "device": "/dev/vdb"}, "cannot find dumps of a raw target"),
    ({}, "cannot find dumps of a unknown target"),
])
def test_where_refuses(target, pattern):
    with pytest.raises(StepFailed, match=pattern):
        ActionModule._where(_Server(), "web1", target, {}, {})


def dump(path):
    return {"path": path}


def test_the_one_complete_dump_of_the_crash():
    new = [dump("/var/crash/202611261116/dmesg-like-dump.202611261116")]
    assert ActionModule._the_new_dump(None, new, "/var/crash", "web1", "web1", {}) == new[0]


def test_only_incomplete_files_is_no_dump():
    new = [dump("/srv/full/crash/202611261116/vmcore-incomplete"),
           dump("/srv/full/crash/202611261116/dump-incomplete")]
    with pytest.raises(StepFailed, match="no complete dump arrived in /srv/full/crash/202611261116:"
                                         " the capture kernel left only vmcore-incomplete,"
                                         " dump-incomplete"):
        ActionModule._the_new_dump(ActionModule.__new__(ActionModule), new, "/srv/full/crash",
                                   "web1", "web1", {})


def test_two_crashes_are_not_one():
    new = [dump("/var/crash/1/dump.1"), dump("/var/crash/2/dump.2")]
    with pytest.raises(StepFailed, match="2 new crash directories"):
        ActionModule._the_new_dump(None, new, "/var/crash", "web1", "web1", {})
