# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The dump server's forced command under attack, run as sshd runs it: as an unprivileged
account, SSH_ORIGINAL_COMMAND, stdin; with OpenSSH's own scp (both protocols) and sftp.

Each attack returns what went wrong (an empty list when the receiver held); the same attacks
are run against deliberately weakened copies of the receiver, which they must catch."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import os
import stat
import struct
import subprocess
import threading

import pytest

from receive_server import PREFIX, SCRIPT, Server, SftpClient, _s

pytestmark = pytest.mark.ansible_independent

DIR = PREFIX + "/10.0.2.15-2026-12-02-01:00:00"


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.close()


def a_path(server, *names):
    return os.path.join(server.client_dir("a"), *names)


# ---------------------------------------------------------------------------------------------
# Attacks: each returns a list of problems

def _unchanged(server, before, what):
    after = server.snapshot()
    changed = sorted(set(before) ^ set(after)) + sorted(k for k in before if k in after and before[k] != after[k])
    return ["%s changed %s" % (what, changed[:5])] if changed else []


EXEC_ATTACKS = [
    ("cat /etc/passwd", b""),
    ("sh -c id", b""),
    ("dd of=%s/../b/10.0.2.16-2026-12-01-10:00:00/vmcore" % PREFIX, b"overwritten"),
    ("dd of=%s/../../public/x" % PREFIX, b"escaped"),
    ("dd of=/tmp/x", b"escaped"),
    ("dd of=%s/x/../../public/y" % PREFIX, b"escaped"),
    ("mkdir -p %s/../../public/evil" % PREFIX, b""),
    ("mkdir -p /etc/evil", b""),
    ("mv %s/../b/10.0.2.16-2026-12-01-10:00:00/vmcore %s/stolen" % (PREFIX, DIR), b""),
    ("ls %s/.." % PREFIX, b""),
    ("ls /", b""),
    ("df /", b""),
    ("mkdir -p %s | id" % DIR, b""),
    ("mkdir -p %s; cat /etc/passwd" % DIR, b""),
    ("mkdir -p %s && rm -rf %s" % (DIR, PREFIX), b""),
    ("mkdir -p $(id)", b""),
    ("mkdir -p `id`", b""),
    ("dd of=%s/f < /etc/passwd" % DIR, b""),
    ("echo x > %s/../../public/x" % PREFIX, b""),
    ("echo success kdump_test_id=1 > %s/../../public/vmcore-creation.status" % PREFIX, b""),
    ("cat > %s/../../etc/passwd" % PREFIX, b"root::0:0::/:/bin/sh\n"),
    ("scp -t %s/../../public" % PREFIX, b"C0644 3 x\nabc\0"),
    ("scp -f %s/../b/10.0.2.16-2026-12-01-10:00:00/vmcore" % PREFIX, b"\0\0\0"),
    ("scp -f /etc/passwd", b"\0\0\0"),
    ("rmdir %s/../b/10.0.2.16-2026-12-01-10:00:00" % PREFIX, b""),
    ("mktemp -dqp %s/../../public" % PREFIX, b""),
    ("mkdir -p %s/.hidden" % PREFIX, b""),
    ("dd of=%s/x\x1b[2J" % DIR, b""),
]


def attack_exec(server):
    problems = []
    before = server.snapshot()
    for command, stdin in EXEC_ATTACKS:
        result = server.run(command, stdin)
        text = result.stdout + result.stderr
        if b"root:x:0:0" in text or b"uid=" in text or b"b's memory" in text:
            problems.append("%r leaked %r" % (command, text[:80]))
        if b"Traceback" in text or server.root.encode() in text:
            problems.append("%r showed %r" % (command, text[:120]))
    return problems + _unchanged(server, before, "exec attacks")


# Names only the server's real tree has (client b's dump, the files beside the dump root, the
# real root's usr): seen in a listing, the client looked outside its directory.
SERVER_MARKS = (b"10.0.2.16", b"ssh-a", b"usr")


def attack_sftp(server):
    problems = []
    before = server.snapshot()
    server.run("mkdir -p %s" % DIR)
    proc = server.popen("internal-sftp")
    client = SftpClient(proc)
    outside = ["%s/../b/10.0.2.16-2026-12-01-10:00:00/vmcore" % PREFIX, "%s/../../public/x" % PREFIX,
               "../../public/x", "/etc/passwd", "/tmp/x", server.public + "/x",
               "%s/../../etc/passwd" % PREFIX]
    for path in outside:
        for flags in (1, 2 | 8 | 16, 2 | 4, 2):
            handle = client.open(path, flags)
            if handle is not None:
                problems.append("sftp opened %s with flags %d" % (path, flags))
                reply = client.call(5, _s(handle) + struct.pack(">QI", 0, 4096))
                if reply[0] == 103:
                    problems.append("sftp read %s: %r" % (path, reply[2][:40]))
                client.write(handle, 0, b"sftp was here")
                client.close_handle(handle)
    for kind, payload in [
            (14, _s("%s/../../public/evil" % PREFIX) + struct.pack(">I", 0)),    # MKDIR
            (14, _s("/tmp/evil") + struct.pack(">I", 0)),
            (18, _s("%s/../b/10.0.2.16-2026-12-01-10:00:00/vmcore" % PREFIX) + _s(DIR + "/x")),
            (18, _s(DIR + "/a-incomplete") + _s("%s/../../public/a" % PREFIX)),  # RENAME
            (13, _s("%s/../b/10.0.2.16-2026-12-01-10:00:00/vmcore" % PREFIX)),   # REMOVE
            (20, _s(DIR + "/link") + _s("/etc/passwd")),                        # SYMLINK
            (9, _s(PREFIX) + struct.pack(">II", 4, 0o777)),                     # SETSTAT
            (9, _s(DIR) + struct.pack(">II", 4, 0o4777)),
            (200, _s("posix-rename@openssh.com") + _s(DIR) + _s("/tmp/x")),
            (200, _s("hardlink@openssh.com") + _s("/etc/passwd") + _s(DIR + "/h")),
            (11, _s("%s/.." % PREFIX)),                                          # OPENDIR
            (11, _s("/")),
            (16, _s("/etc/../..")),                                             # REALPATH
            (99, b"junk")]:
        reply, code, body = client.call(kind, payload)
        if reply == 104 and kind == 11:
            pass
        if reply == 102 and kind == 11:
            handle = body[4:4 + struct.unpack(">I", body[:4])[0]]
            listing = client.call(12, _s(handle))
            if any(mark in listing[2] for mark in SERVER_MARKS):
                problems.append("sftp listed outside: %r" % listing[2][:80])
    # Hostile framing: an absurd length, then garbage; no traceback, no server path.
    proc.stdin.write(struct.pack(">I", 0x7FFFFFFF) + b"\x03")
    try:
        err = client.close()[1]
    except (BrokenPipeError, OSError):
        err = proc.stderr.read()
    if b"Traceback" in err or server.root.encode() in err:
        problems.append("sftp showed %r" % err[:200])
    for mode_of in (server.client_dir("a"), a_path(server, os.path.basename(DIR))):
        if stat.S_IMODE(os.stat(mode_of).st_mode) != 0o700:
            problems.append("%s is mode %o" % (mode_of, stat.S_IMODE(os.stat(mode_of).st_mode)))
    return problems + _unchanged(server, before, "sftp attacks")


def attack_openssh_clients(server, tmp_path):
    """OpenSSH's scp (sftp and legacy protocol) and sftp, aimed outside and at client b."""
    problems = []
    before = server.snapshot()
    local = tmp_path / "payload"
    local.write_bytes(b"payload")
    os.chmod(str(local), 0o4777)
    for legacy in (False, True):
        for remote in ("%s/../b/10.0.2.16-2026-12-01-10:00:00/vmcore" % PREFIX, "%s/../../public/x" % PREFIX,
                       "/tmp/x", "../../public/x", server.public + "/x"):
            server.scp("-p", str(local), "host:" + remote, legacy=legacy)
        result = server.scp("host:%s/../b/10.0.2.16-2026-12-01-10:00:00/vmcore" % PREFIX,
                            str(tmp_path / "stolen"), legacy=legacy)
        if (tmp_path / "stolen").exists():
            problems.append("scp%s downloaded b's vmcore" % (" -O" if legacy else ""))
    result = server.sftp("\n".join([
        "-mkdir %s/../../public/evil" % PREFIX, "-put %s %s/../../public/y" % (local, PREFIX),
        "-rename %s/../b/10.0.2.16-2026-12-01-10:00:00 %s/x" % (PREFIX, PREFIX),
        "-chmod 777 %s" % PREFIX, "-get %s/../b/10.0.2.16-2026-12-01-10:00:00/vmcore %s/got" % (PREFIX, tmp_path),
        "-ls %s/../b" % PREFIX, "-ls /", "-symlink /etc/passwd %s/l" % PREFIX, "-rm %s/../b/*/*" % PREFIX]))
    # sftp echoes each command on stdout; anything else there is a listing.
    listed = [line for line in result.stdout.splitlines() if not line.startswith(b"sftp>")]
    if (tmp_path / "got").exists() or any(mark in line for mark in SERVER_MARKS for line in listed):
        problems.append("sftp reached client b or the server: %r" % listed[:5])
    if stat.S_IMODE(os.stat(server.client_dir("a")).st_mode) != 0o700:
        problems.append("sftp chmod changed the client directory")
    return problems + _unchanged(server, before, "OpenSSH clients")


def attack_links(server):
    """Links planted in the client's directory (by anyone who can) are never followed."""
    problems = []
    server.run("mkdir -p %s" % DIR)
    dump = a_path(server, os.path.basename(DIR))
    target = os.path.join(server.public, "target")
    with open(target, "w") as out:
        out.write("server file\n")
    os.chmod(target, 0o666)
    os.symlink(target, os.path.join(dump, "dump-incomplete"))
    os.symlink(server.public, a_path(server, "linkdir"))
    os.symlink("/", os.path.join(dump, "up"))
    os.link(target, os.path.join(dump, "hard-incomplete"))
    before = server.snapshot()
    for command, stdin in [
            ("dd of=%s/dump-incomplete" % DIR, b"through a symlink"),
            ("cat > %s/hard-incomplete" % DIR, b"through a hard link"),
            ("mv %s/hard-incomplete %s/hard" % (DIR, DIR), b""),
            ("mkdir -p %s/linkdir/evil" % PREFIX, b""),
            ("dd of=%s/linkdir/x/y" % PREFIX, b"x"),
            ("dd of=%s/up/tmp/x" % DIR, b"x"),
            ("scp -t %s/linkdir" % PREFIX, b"C0600 1 x\nx\0"),
            ("echo fail kdump_test_id=1 > %s/linkdir/vmcore-creation.status" % PREFIX, b"")]:
        server.run(command, stdin)
    with open(target) as source:
        if source.read() != "server file\n":
            problems.append("a link was followed: %s changed" % target)
    return problems + _unchanged(server, before, "link attacks")


def attack_race(server, rounds=40):
    """A racer swaps a directory of the client for a symbolic link to a public directory while
    the client writes into it: nothing may land outside."""
    problems = []
    victim = a_path(server, "race")
    stop = threading.Event()

    def racer():
        while not stop.is_set():
            for make in (lambda: os.mkdir(victim), lambda: os.symlink(server.public, victim)):
                try:
                    make()
                except OSError:
                    pass
                try:
                    if os.path.islink(victim):
                        os.unlink(victim)
                    else:
                        os.rmdir(victim)
                except OSError:
                    pass
    thread = threading.Thread(target=racer)
    thread.start()
    try:
        for index in range(rounds):
            server.run("mkdir -p %s/race/d%d" % (PREFIX, index))
            server.run("dd of=%s/race/f%d" % (PREFIX, index), b"raced")
    finally:
        stop.set()
        thread.join()
    leaked = [name for name in os.listdir(server.public) if name.startswith(("d", "f"))]
    if leaked:
        problems.append("the race won %d times: %s" % (len(leaked), leaked[:5]))
    return problems


def attack_completed_dump(server):
    """A finished dump can be neither overwritten, appended to, renamed nor removed."""
    problems = []
    assert server.run("mkdir -p %s" % DIR).returncode == 0
    assert server.run("dd of=%s/vmcore-incomplete" % DIR, b"KDUMP   one").returncode == 0
    assert server.run("mv %s/vmcore-incomplete %s/vmcore" % (DIR, DIR)).returncode == 0
    final = a_path(server, os.path.basename(DIR), "vmcore")
    for command, stdin in [("dd of=%s/vmcore" % DIR, b"two"), ("cat > %s/vmcore" % DIR, b"two"),
                           ("scp -t %s/vmcore" % DIR, b"C0600 3 vmcore\ntwo\0"),
                           ("mv %s/vmcore %s/vmcore-incomplete" % (DIR, DIR), b""),
                           ("mv %s/vmcore %s/other" % (DIR, DIR), b""),
                           ("rmdir %s" % DIR, b"")]:
        server.run(command, stdin)
    proc = server.popen("internal-sftp")
    client = SftpClient(proc)
    for flags in (2, 2 | 4, 2 | 8 | 16, 2 | 8):
        handle = client.open(DIR + "/vmcore", flags)
        if handle is not None:
            client.write(handle, 0, b"two")
            client.close_handle(handle)
    client.call(13, _s(DIR + "/vmcore"))
    client.close()
    if not os.path.exists(final) or open(final, "rb").read() != b"KDUMP   one":
        problems.append("the completed dump changed")
    return problems


ATTACKS = {
    "exec": lambda server, tmp_path: attack_exec(server),
    "sftp": lambda server, tmp_path: attack_sftp(server),
    "openssh": attack_openssh_clients,
    "links": lambda server, tmp_path: attack_links(server),
    "race": lambda server, tmp_path: attack_race(server),
    "completed": lambda server, tmp_path: attack_completed_dump(server),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack(server, tmp_path, name):
    assert ATTACKS[name](server, tmp_path) == []


# ---------------------------------------------------------------------------------------------
# The suite fails against weakened receivers

NO_NAME_CHECK = ('    if not name or name in (".", "..") or len(name) > 200 or name.startswith(".") \\\n'
                 '            or not set(name) <= NAME_CHARS:\n', '    if not name:\n')
WEAKENINGS = {
    # No kernel confinement and no name checks: the path checks' second line is gone too.
    "unconfined": [("        confine(directory)\n        store = Store(\"/\",",
                    "        os.chdir(directory)\n        store = Store(directory,"),
                   NO_NAME_CHECK],
    # Existing files opened for writing (no O_EXCL): completed dumps can be overwritten.
    "overwrite": [("os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW\n",
                   "os.O_WRONLY | os.O_CREAT | os.O_TRUNC\n")],
    # Links followed (no O_NOFOLLOW while walking).
    "follow": [("os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,\n",
                "os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC,\n"),
               ("        confine(directory)\n        store = Store(\"/\",",
                "        os.chdir(directory)\n        store = Store(directory,")],
}


def weakened(tmp_path, name):
    with open(SCRIPT) as source:
        text = source.read()
    for old, new in WEAKENINGS[name]:
        assert old in text, "the weakening %s no longer applies: %r" % (name, old)
        text = text.replace(old, new)
    path = tmp_path / ("kdump-receive-" + name)
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("name,attacks", [("unconfined", ["exec", "sftp", "openssh"]),
                                          ("overwrite", ["completed"]),
                                          ("follow", ["links"])])
def test_weakened_receiver_is_caught(tmp_path, name, attacks):
    script = weakened(tmp_path, name)
    for attack in attacks:
        srv = Server(script=script)
        try:
            assert ATTACKS[attack](srv, tmp_path) != [], "attack %s missed the weakening %s" % (attack, name)
        finally:
            srv.close()


def test_the_kernel_alone_confines(tmp_path):
    """With the receiver's name checks removed, the kernel's view still holds: '..' of the
    client's root is the client's root."""
    text = open(SCRIPT).read()
    assert NO_NAME_CHECK[0] in text
    text = text.replace(*NO_NAME_CHECK)
    path = tmp_path / "kdump-receive-nochecks"
    path.write_text(text)
    for attack in (attack_exec, attack_sftp, attack_links):
        srv = Server(script=str(path))
        try:
            assert attack(srv) == []
        finally:
            srv.close()


# ---------------------------------------------------------------------------------------------
# What clients do, confined

def test_self_test(server):
    argv = server.argv("a") + ["--self-test"]
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                            **server._demote())
    assert result.returncode == 0 and result.stdout == b"confined\n", result.stderr


def test_unknown_client_is_refused(server):
    result = server.run("mkdir -p %s" % DIR, client="c")
    assert result.returncode == 1
    assert b"no dump directory for c" in result.stderr


def test_kdump_tools_sequence(server, tmp_path):
    """What kdump-config sends over SSH, in order (see the replay tests for the recorded ones)."""
    stamp = PREFIX + "/10.0.2.15-202612020100"
    assert server.run("mkdir -p %s" % stamp).returncode == 0
    dmesg = tmp_path / "dmesg"
    dmesg.write_bytes(b"[    0.000000] Linux version\n")
    result = server.scp(str(dmesg), "host:%s/dmesg.202612020100" % stamp, legacy=True)
    assert result.returncode == 0, result.stderr
    result = server.run("dd of=%s/dump-incomplete" % stamp, b"KDUMP   data")
    assert result.returncode == 0, result.stderr
    assert server.run("mv %s/dump-incomplete %s/dump.202612020100" % (stamp, stamp)).returncode == 0
    dump = a_path(server, "10.0.2.15-202612020100", "dump.202612020100")
    assert open(dump, "rb").read() == b"KDUMP   data"
    assert stat.S_IMODE(os.stat(dump).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(dump)).st_mode) == 0o700


@pytest.mark.parametrize("legacy", [False, True])
def test_scp_upload_is_0600_whatever_the_mode(server, tmp_path, legacy):
    server.run("mkdir -p %s" % DIR)
    local = tmp_path / "vmcore"
    local.write_bytes(b"x" * 100000)
    os.chmod(str(local), 0o6777)
    result = server.scp("-p", str(local), "host:%s/" % DIR, legacy=legacy)
    assert result.returncode == 0, result.stderr
    uploaded = a_path(server, os.path.basename(DIR), "vmcore")
    assert os.path.getsize(uploaded) == 100000
    assert stat.S_IMODE(os.stat(uploaded).st_mode) == 0o600


def test_sftp_put_and_rename(server, tmp_path):
    local = tmp_path / "vmcore"
    local.write_bytes(b"y" * 70000)
    result = server.sftp("-mkdir %s\nput %s %s/vmcore-incomplete\nrename %s/vmcore-incomplete %s/vmcore\n"
                         % (DIR, local, DIR, DIR, DIR))
    assert result.returncode == 0, result.stderr
    assert os.path.getsize(a_path(server, os.path.basename(DIR), "vmcore")) == 70000


def _wait_for(path):
    """Until the writer holds ``path`` (created, locked and being written)."""
    for _attempt in range(400):
        if os.path.exists(path) and os.path.getsize(path):
            return
        threading.Event().wait(0.05)
    raise AssertionError("%s never appeared" % path)


def test_concurrent_writers_to_one_name(server):
    server.run("mkdir -p %s" % DIR)
    first = server.popen("dd of=%s/vmcore-incomplete" % DIR)
    first.stdin.write(b"first " * 1000)
    first.stdin.flush()
    _wait_for(a_path(server, os.path.basename(DIR), "vmcore-incomplete"))
    second = server.run("dd of=%s/vmcore-incomplete" % DIR, b"second")
    first.stdin.close()
    assert first.wait(timeout=60) == 0
    assert second.returncode == 1 and b"exists" in second.stderr
    assert open(a_path(server, os.path.basename(DIR), "vmcore-incomplete"), "rb").read() == b"first " * 1000


def test_rename_of_a_file_being_written_is_refused(server):
    server.run("mkdir -p %s" % DIR)
    writer = server.popen("dd of=%s/vmcore-incomplete" % DIR)
    writer.stdin.write(b"part")
    writer.stdin.flush()
    _wait_for(a_path(server, os.path.basename(DIR), "vmcore-incomplete"))
    result = server.run("mv %s/vmcore-incomplete %s/vmcore" % (DIR, DIR))
    writer.stdin.close()
    writer.wait(timeout=60)
    assert result.returncode == 1 and b"still being written" in result.stderr


def test_errors_name_client_paths_only(server):
    for command in ("dd of=%s/nodir/x" % PREFIX, "mv %s/a %s/b" % (DIR, DIR), "bogus", "mkdir -p /etc"):
        result = server.run(command)
        assert result.returncode == 1
        assert result.stderr.startswith(b"kdump-receive: ")
        assert server.root.encode() not in result.stderr and b"Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------
# Retention and quota

MARKER = ".kdump-receive-started"


def _dump(server, name, size, **kw):
    path = PREFIX + "/" + name
    results = [server.run("mkdir -p %s" % path, **kw),
               server.run("dd of=%s/vmcore-incomplete" % path, b"k" * size, **kw)]
    if results[-1].returncode == 0:
        results.append(server.run("mv %s/vmcore-incomplete %s/vmcore" % (path, path), **kw))
    return results


def _age(server, name, when):
    """When the server saw the dump ``name`` start (its marker), in seconds since the epoch."""
    os.utime(a_path(server, name, MARKER), (when, when))


def _names(server):
    return sorted(name for name in os.listdir(server.client_dir("a")) if not name.startswith("."))


def test_keep_the_newest_dumps(server):
    for index in range(4):
        assert all(r.returncode == 0 for r in _dump(server, "d%d" % index, 1000, keep=2))
        _age(server, "d%d" % index, 1000 + index)
    assert _names(server) == ["d2", "d3"]


def test_keep_counts_dumps_by_when_they_started_not_by_later_changes(server):
    for index in range(2):
        assert all(r.returncode == 0 for r in _dump(server, "d%d" % index, 1000, keep=2))
        _age(server, "d%d" % index, 1000 + index)
    # A later file in the oldest dump does not make it the newest.
    assert server.run("dd of=%s/d0/extra" % PREFIX, b"x", keep=2).returncode == 0
    assert all(r.returncode == 0 for r in _dump(server, "d2", 1000, keep=2))
    assert _names(server) == ["d1", "d2"]


def test_empty_directories_are_not_dumps_and_push_none_out(server):
    """A client key cannot erase its complete dumps with empty (or young incomplete) ones."""
    for index in range(2):
        assert all(r.returncode == 0 for r in _dump(server, "d%d" % index, 1000, keep=2))
        _age(server, "d%d" % index, 1000 + index)
    for index in range(6):
        assert server.run("mkdir -p %s/z%d" % (PREFIX, index), keep=2).returncode == 0
    assert _names(server) == ["d0", "d1"] + ["z%d" % index for index in range(6)]


def test_keep_never_removes_a_dump_being_written(server):
    assert all(r.returncode == 0 for r in _dump(server, "d0", 10, keep=1))
    _age(server, "d0", 1000)
    # Another session still writes d1 (holds its lock), started long ago.
    server.run("mkdir -p %s/d1" % PREFIX, keep=1)
    _age(server, "d1", 1001)
    fd = os.open(a_path(server, "d1"), os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        assert all(r.returncode == 0 for r in _dump(server, "d2", 10, keep=1))
    finally:
        os.close(fd)
    assert _names(server) == ["d1", "d2"]


def test_abandoned_incomplete_dumps_go_when_a_new_one_starts(server):
    for name in ("old", "young"):
        server.run("mkdir -p %s/%s" % (PREFIX, name), keep=3)
        server.run("dd of=%s/%s/vmcore-incomplete" % (PREFIX, name), b"half", keep=3)
    _age(server, "old", 1000)
    # "young" may still get its next session (kdump-tools sends a dump in several).
    assert all(r.returncode == 0 for r in _dump(server, "new", 10, keep=3))
    assert _names(server) == ["new", "young"]


def test_quota_prunes_old_then_refuses(server):
    quota = 256 * 1024
    assert all(r.returncode == 0 for r in _dump(server, "d0", 150000, quota=quota))
    _age(server, "d0", 1000)
    # d0 is the newest complete dump: kept, so d1 does not fit; the client is told why.
    results = _dump(server, "d1", 150000, quota=quota)
    assert results[1].returncode == 1 and b"quota for a is reached" in results[1].stderr
    assert open(a_path(server, "d0", "vmcore"), "rb").read() == b"k" * 150000
    _age(server, "d1", 1001)
    # A smaller dump fits; once it is complete, d0 is no longer the newest and goes for d3.
    assert all(r.returncode == 0 for r in _dump(server, "d2", 10000, quota=quota))
    _age(server, "d2", 1002)
    assert all(r.returncode == 0 for r in _dump(server, "d3", 150000, quota=quota))
    # d1 (incomplete) went first, as abandoned long ago; then d0.
    assert _names(server) == ["d2", "d3"]


def test_concurrent_sessions_share_one_quota(server):
    """Eight sessions at once, 2 MiB each, 6 MiB of quota: the client gets no more than that
    (each session used to count for itself: 8 x 9 MiB were taken against a 10 MiB quota)."""
    quota = 6 << 20
    for index in range(8):
        assert server.run("mkdir -p %s/p%d" % (PREFIX, index), quota=quota).returncode == 0
    writers = [server.popen("dd of=%s/p%d/vmcore-incomplete" % (PREFIX, index), quota=quota)
               for index in range(8)]

    def feed(writer):
        try:
            writer.stdin.write(b"q" * (2 << 20))
        except BrokenPipeError:     # refused: the quota is reached
            pass
        finally:
            try:
                writer.stdin.close()
            except BrokenPipeError:
                pass
    threads = [threading.Thread(target=feed, args=(writer,)) for writer in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = [writer.wait(timeout=120) for writer in writers]
    used = sum(os.path.getsize(os.path.join(path, name))
               for path, _dirs, files in os.walk(server.client_dir("a")) for name in files)
    # Interleaved, the sessions reach the quota together: some are refused part way.
    assert used <= quota, (used, codes)
    assert used > quota // 2 and 1 in codes


def test_a_client_has_at_most_10000_files_and_directories(server):
    proc = server.popen("internal-sftp")
    client = SftpClient(proc)
    codes = [client.call(14, _s("%s/n%d" % (PREFIX, index)) + struct.pack(">I", 0))[1]
             for index in range(10001)]
    client.close()
    assert codes[:9999] == [0] * 9999 and codes[-1] != 0


def test_mktemp_only_at_the_top(server):
    server.run("mkdir -p %s/old/b" % PREFIX)
    result = server.run("mktemp -dqp %s/old/b" % PREFIX)
    assert result.returncode == 1 and b"only in /srv/kdump itself" in result.stderr


def test_names_that_are_not_utf8_are_refused_cleanly(server):
    env = {b"PATH": b"/usr/bin:/bin", b"SSH_ORIGINAL_COMMAND": b"mkdir -p /srv/kdump/x\xff"}
    result = subprocess.run(server.argv("a"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            check=False, **server._demote())
    assert result.returncode == 1 and result.stderr.startswith(b"kdump-receive: refused: the name")
    assert b"Traceback" not in result.stderr


def test_full_quota_refuses_a_new_dump(server):
    """The quota was lowered below what the kept (newest) dump uses."""
    assert all(r.returncode == 0 for r in _dump(server, "d0", 5000, quota="64K"))
    result = server.run("mkdir -p %s/d1" % PREFIX, quota=8192)
    assert result.returncode == 1 and b"the dump server is full for a" in result.stderr


def test_df_reports_the_quota_left(server):
    """Each file and directory costs its blocks, at least 4 KiB: 4 KiB + 12 KiB here."""
    _dump(server, "d0", 1024 * 10, quota="1M")
    result = server.run("df --output=avail %s" % PREFIX, quota="1M")
    assert result.stdout.decode().splitlines()[-1].strip() == str(1024 - 16)
    result = server.run("df -Pk %s" % PREFIX, quota="1M")
    assert result.stdout.decode().splitlines()[-1].split()[3] == str(1024 - 16)
