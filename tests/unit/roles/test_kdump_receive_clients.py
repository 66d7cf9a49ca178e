# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every kdump client family's SSH command sequences, replayed against the confined receiver.

fixtures/kdump_client_commands.json records them from the clients' sources (repository and
revision per family): kdump-utils (kdumpctl, mkdumprd, the kdump initrd's kdump.sh), RHEL 8-era
kexec-tools, openSUSE kdump (the current shell kdump-save and the legacy kdumptool) and Debian's
kdump-tools (kdump-config). Exec commands are sent as recorded; scp steps run OpenSSH's scp
with both of its protocols (sftp, as OpenSSH >= 9 clients use, and the legacy one); the sftp
steps with OpenSSH's sftp (for lftp) and with this suite's SFTP client (kdumptool's own)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import struct

import pytest

from receive_server import PREFIX, Server, SftpClient, _s

pytestmark = pytest.mark.ansible_independent

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "kdump_client_commands.json")
with open(FIXTURE) as _source:
    RECORDED = json.load(_source)

VALUES = {"{PATH}": PREFIX, "{IP}": "10.0.2.15", "{STAMP}": "2026-12-02-01:00:00", "{ID}": "4711",
          "{EXT}": "", "{REL}": "6.1.0-28-amd64", "{KERNEL}": "vmlinuz-6.1.0-28-amd64",
          "{HOSTNAME}": "client1"}
DUMP = b"KDUMP   " + bytes(range(256)) * 400      # ~100 KiB, several SFTP writes


def _fill(text, values):
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def sequences():
    for family in RECORDED["families"]:
        for sequence in family["sequences"]:
            steps = [step for step in sequence["steps"]
                     if "instead of" not in step.get("condition", "")
                     and "fallback" not in step.get("condition", "")]
            if steps:
                yield pytest.param(family, sequence, steps,
                                   id="%s: %s" % (family["family"].split(" (")[0], sequence["name"]))


def _dir_for(family):
    if "kdump-tools" in family["family"]:
        return PREFIX + "/10.0.2.15-202612020100"
    if "openSUSE" in family["family"]:
        return PREFIX + "/2026-12-02-01:00"
    return PREFIX + "/10.0.2.15-2026-12-02-01:00:00"


def _replay_sftp_kdumptool(server, directory, files):
    """kdumptool's own SFTP v3 client: STAT, MKDIR, OPEN WRITE|CREAT|TRUNC, 8 KiB WRITEs, CLOSE."""
    client = SftpClient(server.popen("internal-sftp"))
    reply, code, _body = client.call(17, _s(directory))
    assert reply == 101 and code == 2, "STAT of a missing directory must say NO_SUCH_FILE"
    reply, code, _body = client.call(17, _s(PREFIX))
    assert reply == 105
    assert client.call(14, _s(directory) + struct.pack(">I", 0))[1] == 0
    for name in files:
        handle = client.open(directory + "/" + name, 0x1a)
        assert handle is not None, name
        for offset in range(0, len(DUMP), 8192):
            assert client.write(handle, offset, DUMP[offset:offset + 8192]) == 0
        assert client.close_handle(handle) == 0
    client.close()


@pytest.mark.parametrize("legacy", [False, True], ids=["scp-sftp", "scp-legacy"])
@pytest.mark.parametrize("family,sequence,steps", list(sequences()))
def test_replay(tmp_path, family, sequence, steps, legacy):
    server = Server()
    try:
        values = dict(VALUES, **{"{DIR}": _dir_for(family)})
        local = tmp_path / "upload"
        local.write_bytes(DUMP)
        if any(step.get("scp") == "download" for step in steps):
            # What the capture kernel wrote during the test (the sequence before this one).
            for command in ("mkdir -p {PATH}/kdump-test-{ID}",
                            "echo success kdump_test_id={ID} > {PATH}/kdump-test-{ID}/vmcore-creation.status"):
                assert server.run(_fill(command, values)).returncode == 0
        for step in steps:
            if "command" in step:
                command = _fill(step["command"], values)
                stdin = DUMP if step.get("stdin") == "data" else b""
                result = server.run(command, stdin)
                assert result.returncode == 0, (command, result.stderr)
                if command.startswith("mktemp"):
                    values["{TMPDIR}"] = result.stdout.decode().strip()
                    assert values["{TMPDIR}"].startswith(PREFIX + "/tmp.")
                if command.startswith("df"):
                    words = result.stdout.decode().split()
                    number = words[-1] if "--output=avail" in command else words[-3]
                    assert int(number) > 0, result.stdout
            elif step.get("scp") == "upload":
                remote = _fill(step["remote"], values)
                result = server.scp("-q", str(local), "host:" + remote, legacy=legacy)
                assert result.returncode == 0, (remote, result.stderr)
            elif step.get("scp") == "download":
                remote = _fill(step["remote"], values)
                result = server.scp("-q", "host:" + remote, str(tmp_path) + "/", legacy=legacy)
                assert result.returncode == 0, (remote, result.stderr)
                assert (tmp_path / os.path.basename(remote)).read_text().startswith(("fail", "success"))
            elif "sftp" in step and "lftp" in step["sftp"][0]:
                directory = values["{DIR}"]
                for name in ("README.txt", "dmesg", "vmcore", "README.txt"):
                    result = server.sftp("-mkdir %s\nchmod 700 %s\nput %s %s/%s\n"
                                         % (directory, directory, local, directory, name))
                    assert result.returncode == 0, (name, result.stderr)
            elif "sftp" in step:
                _replay_sftp_kdumptool(server, values["{DIR}"], ["dmesg.txt", "vmcore", "README.txt"])
            else:
                pytest.fail("a step this replay does not know: %r" % step)
        # Whatever was written is in client a's directory, 0600 files in 0700 directories.
        for path, dirs, files in os.walk(server.client_dir("a")):
            assert oct(os.stat(path).st_mode & 0o777) == oct(0o700), path
            for name in files:
                assert oct(os.stat(os.path.join(path, name)).st_mode & 0o777) == oct(0o600), name
    finally:
        server.close()


def test_every_family_is_replayed():
    families = {family["family"].split(" (")[0] for family in RECORDED["families"]}
    assert families == {"kdump-utils", "kexec-tools", "openSUSE kdump", "openSUSE kdump legacy",
                        "Debian kdump-tools"}
    assert all(len(family["revision"]) == 40 for family in RECORDED["families"])


def test_kdumpctl_status_overwrites_and_reads_back(tmp_path):
    """kdumpctl test: 'fail' at the start, 'success' after the dump, read back with scp."""
    server = Server()
    try:
        status = PREFIX + "/kdump-test-4711/vmcore-creation.status"
        assert server.run("mkdir -p %s/kdump-test-4711" % PREFIX).returncode == 0
        assert server.run("echo fail kdump_test_id=4711 > %s" % status).returncode == 0
        assert server.run("echo success kdump_test_id=4711 > %s" % status).returncode == 0
        for legacy in (False, True):
            result = server.scp("-q", "host:" + status, str(tmp_path / "got"), legacy=legacy)
            assert result.returncode == 0, result.stderr
            assert (tmp_path / "got").read_text() == "success kdump_test_id=4711\n"
            (tmp_path / "got").unlink()
        # Only that file can be read back.
        assert server.run("mkdir -p %s/d" % PREFIX).returncode == 0
        assert server.run("dd of=%s/d/vmcore" % PREFIX, b"secret").returncode == 0
        result = server.scp("-q", "host:%s/d/vmcore" % PREFIX, str(tmp_path / "got"))
        assert result.returncode != 0 and not (tmp_path / "got").exists()
    finally:
        server.close()


def test_a_quota_refusal_reaches_the_client(tmp_path):
    """A full server: the client's dd fails with the reason on its stderr (kdump logs it)."""
    server = Server(quota="64K")
    try:
        directory = PREFIX + "/10.0.2.15-2026-12-02-01:00:00"
        assert server.run("mkdir -p %s" % directory).returncode == 0
        result = server.run("umask 0077 && dd bs=512 of='%s/vmcore-incomplete'" % directory, DUMP)
        assert result.returncode == 1
        assert b"quota for a is reached" in result.stderr
        local = tmp_path / "vmcore"
        local.write_bytes(DUMP)
        result = server.scp("-q", str(local), "host:%s/vmcore-2" % directory)
        assert result.returncode != 0 and b"quota for a is reached" in result.stderr
    finally:
        server.close()


def _oldest_python():
    """A Python 3.6 of this machine (RHEL 8's platform Python is 3.6), when it has one."""
    import glob
    import subprocess
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.6*/bin/python3.6")))
    candidates += [path for path in ("/usr/bin/python3.6", "/usr/libexec/platform-python3.6")
                   if os.path.exists(path)]
    for path in candidates:   # not pyenv's shim: it may name a version it does not have
        if subprocess.run([path, "-c", "pass"], check=False).returncode == 0:
            return path
    return None


@pytest.mark.skipif(_oldest_python() is None, reason="no Python 3.6 on this machine")
def test_the_receiver_runs_on_python_3_6():
    """Every family's exec commands, the receiver run by Python 3.6 (as the caller: a Python
    under root's home is out of the unprivileged account's reach)."""
    import subprocess
    server = Server()
    os.chown(server.client_dir("a"), os.getuid(), os.getgid())
    try:
        for number, family in enumerate(RECORDED["families"]):
            for index, sequence in enumerate(family["sequences"]):
                values = dict(VALUES, **{"{DIR}": "%s-%d-%d" % (_dir_for(family), number, index),
                                         "{ID}": "%d%d" % (number, index)})
                for step in sequence["steps"]:
                    command = step.get("command")
                    if step.get("scp") == "upload":
                        # The scp protocols are the same code; here the file goes by dd.
                        remote = step["remote"]
                        if remote.endswith("/"):
                            remote += os.path.basename(step["local"].split()[0])
                        command = "dd of=%s" % remote
                    if not command or "{TMPDIR}" in command or "instead of" in step.get("condition", "") \
                            or "fallback" in step.get("condition", ""):
                        continue
                    command = _fill(command, values)
                    argv = [_oldest_python()] + server.argv("a")[1:]
                    result = subprocess.run(argv, input=b"" if step.get("stdin") == "none" else DUMP,
                                            env={"SSH_ORIGINAL_COMMAND": command, "PATH": "/usr/bin:/bin"},
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
                    assert result.returncode == 0, (command, result.stderr)
    finally:
        server.close()
