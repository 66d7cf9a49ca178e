# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A dump server on this machine for the tests of kdump-receive: a dump root with two clients'
directories, files outside them that no client may change, the receiver run as sshd runs it
(as an unprivileged account, SSH_ORIGINAL_COMMAND, stdin), and an SFTP client of its own."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "roles",
                      "dump_server", "files", "kdump-receive")
# The receiver runs with the system's Python 3 as the server would (any Python 3.6+).
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
PREFIX = "/srv/kdump"
# As root, the receiver runs as nobody, the way sshd runs it as the dump account.
UID, GID = (65534, 65534) if os.getuid() == 0 else (os.getuid(), os.getgid())


class Server:
    def __init__(self, script=SCRIPT, keep=0, quota=0):
        self.base = tempfile.mkdtemp(prefix="kdump-receive-", dir="/tmp")
        os.chmod(self.base, 0o755)
        self.root = os.path.join(self.base, "srv")
        self.script = os.path.join(self.base, "kdump-receive")
        self.keep, self.quota = keep, quota
        shutil.copy(script, self.script)
        os.chmod(self.script, 0o644)
        os.mkdir(self.root, 0o755)
        for client in ("a", "b"):
            path = self.client_dir(client)
            os.mkdir(path, 0o700)
            os.chown(path, UID, GID)
        # Client b's finished dump, and places outside every client directory: one the
        # account could write to if it ever got there (mode 0777), one with a server file.
        self.b_dump = os.path.join(self.client_dir("b"), "10.0.2.16-2026-12-01-10:00:00")
        os.mkdir(self.b_dump, 0o700)
        with open(os.path.join(self.b_dump, "vmcore"), "wb") as out:
            out.write(b"KDUMP   b's memory")
        os.chmod(os.path.join(self.b_dump, "vmcore"), 0o600)
        for path in (self.b_dump, os.path.join(self.b_dump, "vmcore")):
            os.chown(path, UID, GID)
        self.public = os.path.join(self.base, "public")
        os.mkdir(self.public)
        os.chmod(self.public, 0o1777)
        self.etc = os.path.join(self.base, "etc")
        os.mkdir(self.etc, 0o755)
        with open(os.path.join(self.etc, "passwd"), "w") as out:
            out.write("root:x:0:0::/root:/bin/sh\n")
        self.wrapper = self._wrapper()

    def close(self):
        shutil.rmtree(self.base, ignore_errors=True)

    def client_dir(self, client):
        return os.path.join(self.root, client)

    def argv(self, client="a", keep=None, quota=None):
        return [PYTHON, self.script, "--client", client, "--prefix", PREFIX,
                "--keep", str(self.keep if keep is None else keep),
                "--quota", str(self.quota if quota is None else quota), self.root]

    def _demote(self):
        return dict(user=UID, group=GID, extra_groups=[]) if os.getuid() == 0 else {}

    def run(self, command, stdin=b"", client="a", **kw):
        env = {"PATH": "/usr/bin:/bin", "SSH_ORIGINAL_COMMAND": command}
        return subprocess.run(self.argv(client, **kw), input=stdin, env=env, cwd="/",
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                              check=False, **self._demote())

    def popen(self, command, client="a", **kw):
        env = {"PATH": "/usr/bin:/bin", "SSH_ORIGINAL_COMMAND": command}
        return subprocess.Popen(self.argv(client, **kw), env=env, cwd="/", stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, **self._demote())

    def _wrapper(self, client="a"):
        """An ``ssh`` for scp -S and sftp -D: runs the receiver as sshd would for ``client``."""
        path = os.path.join(self.base, "ssh-%s" % client)
        with open(path, "w") as out:
            out.write("#!%s\n" % PYTHON)
            out.write("import os, sys\n")
            out.write("args = sys.argv[1:]\n")
            out.write("sftp = not args or '-s' in args\n")
            out.write("os.environ['SSH_ORIGINAL_COMMAND'] = '/usr/lib/openssh/sftp-server' if sftp"
                      " else args[-1]\n")
            out.write("if os.getuid() == 0:\n    os.setgroups([]); os.setgid(%d); os.setuid(%d)\n"
                      % (GID, UID))
            out.write("os.execv(%r, %r)\n" % (PYTHON, self.argv(client)))
        os.chmod(path, 0o755)
        return path

    def scp(self, *args, legacy=False):
        argv = ["scp", "-S", self.wrapper, "-o", "BatchMode=yes"] + (["-O"] if legacy else []) \
            + list(args)
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                              check=False, stdin=subprocess.DEVNULL)

    def sftp(self, script):
        return subprocess.run(["sftp", "-D", self.wrapper, "-b", "-"], input=script.encode(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                              check=False)

    def snapshot(self, client="a"):
        """Everything a client must not change: the server's tree outside ``client``'s
        directory, and this machine's /etc, /root (top) and /srv."""
        seen = {}
        mine = self.client_dir(client)
        for top, recurse in ((self.base, True), ("/etc", True), ("/srv", True), ("/root", False)):
            if not os.path.isdir(top):
                continue
            for path, dirs, files in os.walk(top):
                if path == mine or path.startswith(mine + os.sep):
                    dirs[:] = []
                    continue
                for name in dirs + files:
                    full = os.path.join(path, name)
                    if full == mine:
                        continue
                    try:
                        info = os.lstat(full)
                    except OSError:
                        continue
                    seen[full] = (info.st_mode, info.st_uid, info.st_size,
                                  None if stat.S_ISDIR(info.st_mode) else info.st_mtime_ns)
                if not recurse:
                    dirs[:] = []
        return seen


# SFTP version 3, enough to send any request the tests want.

def _s(data):
    if isinstance(data, str):
        data = data.encode()
    return struct.pack(">I", len(data)) + data


class SftpClient:
    def __init__(self, proc):
        self.proc, self.rid = proc, 0
        self.send(1, struct.pack(">I", 3), with_id=False)
        kind, body = self.receive()
        assert kind == 2, (kind, body)

    def send(self, kind, payload, with_id=True):
        if with_id:
            self.rid += 1
            payload = struct.pack(">I", self.rid) + payload
        self.proc.stdin.write(struct.pack(">IB", len(payload) + 1, kind) + payload)
        self.proc.stdin.flush()

    def receive(self):
        head = self.proc.stdout.read(4)
        if len(head) < 4:
            return None, b""
        size = struct.unpack(">I", head)[0]
        body = self.proc.stdout.read(size)
        return body[0], body[1:]

    def call(self, kind, payload):
        """Send a request; (reply type, status code or None, body after the id)."""
        self.send(kind, payload)
        reply, body = self.receive()
        if reply is None:
            return None, None, b""
        assert struct.unpack(">I", body[:4])[0] == self.rid
        code = struct.unpack(">I", body[4:8])[0] if reply == 101 else None
        return reply, code, body[4:]

    def open(self, path, flags, perm=None):
        attrs = struct.pack(">II", 4, perm) if perm is not None else struct.pack(">I", 0)
        reply, code, body = self.call(3, _s(path) + struct.pack(">I", flags) + attrs)
        if reply == 102:
            return body[4:4 + struct.unpack(">I", body[:4])[0]]
        return None

    def write(self, handle, offset, data):
        return self.call(6, _s(handle) + struct.pack(">Q", offset) + _s(data))[1]

    def close_handle(self, handle):
        return self.call(4, _s(handle))[1]

    def close(self):
        self.proc.stdin.close()
        out = self.proc.stdout.read()
        err = self.proc.stderr.read()
        self.proc.wait(timeout=60)
        return out, err
