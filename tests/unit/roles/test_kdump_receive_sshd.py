# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kdump-receive behind a real OpenSSH sshd, on loopback in a network namespace this test makes.

The authorized_keys lines are the ones the dump_server role writes (its template, rendered
here); two clients a and b, each with its key. Client a delivers a dump with ssh ... dd, scp
(both protocols) and sftp, then tries with its key to reach b's dump and the server's files,
to get a shell, a pty or a forwarding. The namespace has its own loopback, /run and a
passwd with the test account, so nothing of this machine's network or accounts is touched.
As root only (sshd must switch users); ./dev test provides sshd and requires it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import subprocess
import textwrap

import jinja2
import pytest

from receive_server import GID, PREFIX, PYTHON, UID, Server

pytestmark = pytest.mark.ansible_independent

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "..", "..", "..", "roles", "dump_server", "templates", "authorized_keys.j2")
SSHD = os.environ.get("KDUMP_TEST_SSHD") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else "")
REQUIRED = os.environ.get("KDUMP_TEST_SSHD_REQUIRED") == "1"
PORT = 2222

# In the namespace: loopback up, a /run of its own, the passwd with the test account, sshd.
SETUP = """
set -e
ip link set lo up
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -m 0755 /run/sshd
mount --bind "$BASE/passwd" /etc/passwd
LD_LIBRARY_PATH="$SSHD_LIBS" "$SSHD" -f "$BASE/sshd_config" -E "$BASE/sshd.log"
for i in $(seq 1 100); do
  ssh-keyscan -p {port} 127.0.0.1 >/dev/null 2>&1 && break
  sleep 0.1
done
OPTS="-F /dev/null -o BatchMode=yes -o UserKnownHostsFile=$BASE/known_hosts -o StrictHostKeyChecking=yes"
SSH="ssh $OPTS -p {port} -o IdentitiesOnly=yes"
SCP="scp $OPTS -P {port} -i $BASE/key-a -q"
SFTP="sftp $OPTS -P {port} -i $BASE/key-a"
run() {{
  name=$1; shift
  if "$@" > "$BASE/out.$name" 2> "$BASE/err.$name" < "${{STDIN:-/dev/null}}"; then rc=0; else rc=$?; fi
  echo "$name $rc" >> "$BASE/results"
}}
""".format(port=PORT)

CLIENT_A = """
A="$SSH -i $BASE/key-a kdumptest@127.0.0.1"
D={prefix}/10.0.2.15-2026-12-02-01:00:00
run mkdir $A "mkdir -p $D"
STDIN=$BASE/payload run dd $A "umask 0077 && dd bs=512 of='$D/vmcore-incomplete'"
run mv $A "mv '$D/vmcore-incomplete' '$D/vmcore.flat'"
run scp $SCP "$BASE/payload" "kdumptest@127.0.0.1:$D/kexec-dmesg.log"
run scp-legacy $SCP -O "$BASE/payload" "kdumptest@127.0.0.1:$D/dmesg.legacy"
printf 'put %s %s/sftp-file\\n' "$BASE/payload" "$D" > "$BASE/batch-put"
run sftp $SFTP -b "$BASE/batch-put" kdumptest@127.0.0.1
run df $A "df --output=avail {prefix}"
# Attacks with a's key
B={prefix}/../b/10.0.2.16-2026-12-01-10:00:00
run x-cat $A "cat /etc/passwd"
run x-shell $SSH -i $BASE/key-a -tt kdumptest@127.0.0.1
run x-b-dd $A "dd of=$B/vmcore"
run x-b-mv $A "mv $B/vmcore {prefix}/stolen-incomplete"
run x-b-scp-get $SCP "kdumptest@127.0.0.1:$B/vmcore" "$BASE/stolen"
run x-b-scp-put $SCP "$BASE/payload" "kdumptest@127.0.0.1:$B/vmcore"
printf -- '-get %s/vmcore %s/stolen2\\n-rm %s/vmcore\\n' "$B" "$BASE" "$B" > "$BASE/batch-evil"
printf -- '-put %s %s/../../public/x\\n-chmod 777 %s\\n-ls %s\\n' "$BASE/payload" {prefix} {prefix} "$B" >> "$BASE/batch-evil"
run x-sftp $SFTP -b "$BASE/batch-evil" kdumptest@127.0.0.1
run x-remote-forward $SSH -i $BASE/key-a -o ExitOnForwardFailure=yes -R 2224:127.0.0.1:{port} kdumptest@127.0.0.1 "df {prefix}"
run x-tcp-forward $SSH -i $BASE/key-a -W 127.0.0.1:{port} kdumptest@127.0.0.1
kill "$(cat "$BASE/sshd.pid")"
""".format(port=PORT, prefix=PREFIX)


def _authorized_keys(server, keys):
    template = jinja2.Template(open(TEMPLATE).read())
    return template.render(
        ansible_managed="managed", dump_server_python=PYTHON, dump_server_receive_command=server.script,
        dump_server_path=server.root, dump_server_keep=5, dump_server_quota="0",
        dump_server_ssh_clients=[{"name": name, "public_key": key} for name, key in keys])


@pytest.mark.skipif(os.getuid() != 0 and not REQUIRED, reason="sshd switches users: as root only")
def test_through_a_real_sshd(tmp_path):
    if not SSHD and not REQUIRED:
        pytest.skip("no sshd here (./dev test provides one)")
    assert SSHD and os.path.exists(SSHD), "KDUMP_TEST_SSHD=%r: no sshd" % SSHD
    assert shutil.which("unshare") and shutil.which("ip"), "unshare (util-linux) and ip (iproute2) are needed"
    server = Server()
    base = server.base
    try:
        keys = []
        for name in ("a", "b", "host"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f",
                            os.path.join(base, "key-" + name)], check=True)
            keys.append((name, open(os.path.join(base, "key-%s.pub" % name)).read().strip()))
        home = os.path.join(base, "home")
        os.makedirs(os.path.join(home, ".ssh"), 0o755)
        # The role renders dump_server_path into the command; here the dump root is the
        # server's temporary one, the clients still name PREFIX.
        lines = _authorized_keys(server, keys[:2]).replace("--prefix %s" % server.root, "--prefix %s" % PREFIX)
        with open(os.path.join(home, ".ssh", "authorized_keys"), "w") as out:
            out.write(lines)
        with open(os.path.join(base, "known_hosts"), "w") as out:
            out.write("[127.0.0.1]:%d %s\n" % (PORT, " ".join(keys[2][1].split()[:2])))
        with open("/etc/passwd") as source:
            passwd = [line for line in source if not line.startswith(("kdumptest:", "sshd:"))]
        passwd += ["kdumptest:x:%d:%d::%s:/bin/sh\n" % (UID, GID, home),
                   "sshd:x:%d:%d::/run/sshd:/usr/sbin/nologin\n" % (UID, GID)]
        with open(os.path.join(base, "passwd"), "w") as out:
            out.writelines(passwd)
        os.chmod(os.path.join(base, "passwd"), 0o644)
        with open(os.path.join(base, "sshd_config"), "w") as out:
            out.write(textwrap.dedent("""\
                Port {port}
                ListenAddress 127.0.0.1
                HostKey {base}/key-host
                PidFile {base}/sshd.pid
                AuthorizedKeysFile {home}/.ssh/authorized_keys
                AllowUsers kdumptest
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                UsePAM no
                StrictModes no
                Subsystem sftp /usr/lib/openssh/sftp-server
                LogLevel VERBOSE
                """).format(port=PORT, base=base, home=home))
        with open(os.path.join(base, "payload"), "wb") as out:
            out.write(b"KDUMP   " + os.urandom(200000))
        before = server.snapshot()
        env = dict(os.environ, BASE=base, SSHD=SSHD, SSHD_LIBS=os.environ.get("KDUMP_TEST_SSHD_LIBS", ""))
        result = subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork", "bash", "-c", SETUP + CLIENT_A],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300,
                                stdin=subprocess.DEVNULL, check=False)
        log = open(os.path.join(base, "sshd.log")).read() if os.path.exists(os.path.join(base, "sshd.log")) else ""
        assert result.returncode == 0, (result.stdout.decode(), log)
        results = dict(line.split() for line in open(os.path.join(base, "results")))

        def err(name):
            return open(os.path.join(base, "err." + name)).read()

        for name in ("mkdir", "dd", "mv", "scp", "scp-legacy", "sftp", "df"):
            assert results[name] == "0", (name, err(name), log[-2000:])
        dump = os.path.join(server.client_dir("a"), "10.0.2.15-2026-12-02-01:00:00")
        payload = open(os.path.join(base, "payload"), "rb").read()
        for name in ("vmcore.flat", "kexec-dmesg.log", "dmesg.legacy", "sftp-file"):
            path = os.path.join(dump, name)
            assert open(path, "rb").read() == payload, name
            assert os.stat(path).st_mode & 0o7777 == 0o600 and os.stat(path).st_uid == UID
        for name in [key for key in results if key.startswith("x-")]:
            assert results[name] != "0" or name == "x-sftp", (name, err(name))
        assert "kdump-receive: refused" in err("x-cat")
        assert "PTY allocation request failed" in err("x-shell") or results["x-shell"] != "0"
        assert not os.path.exists(os.path.join(base, "stolen")) and not os.path.exists(os.path.join(base, "stolen2"))
        listing = [line for line in open(os.path.join(base, "out.x-sftp")) if not line.startswith("sftp>")]
        assert not any("10.0.2.16" in line or "vmcore" in line for line in listing), listing
        assert open(os.path.join(server.b_dump, "vmcore"), "rb").read() == b"KDUMP   b's memory"
        assert os.stat(server.client_dir("a")).st_mode & 0o777 == 0o700
        after = server.snapshot()
        assert {k: v for k, v in after.items() if not k.startswith(base)} == \
            {k: v for k, v in before.items() if not k.startswith(base)}
        changed = sorted(path for path in set(before) | set(after)
                         if before.get(path) != after.get(path) and path.startswith(server.root))
        assert changed == [], changed
    finally:
        server.close()
