# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pre-flight checks of a dump target: will the dump fit, and will it arrive?

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.

Every check returns ``{"check", "ok", "message"}``; a failed one says which
target and what to fix. Commands go through ``run(argv) -> (rc, out, err)``
(argv lists only) and the file system through a ``System`` object, so that
tests can drive every path without a real device, NFS server or SSH server.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import tempfile

from ansible_collections.crashdump.kdump.plugins.module_utils.target.plan import (
    known_hosts_name,
    nfs_join,
)

ST_RDONLY = 1


def human(size):
    size = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return ("%d %s" % (size, unit)) if unit == "B" else ("%.1f %s" % (size, unit))
        size /= 1024.0
    return str(size)


class System(object):
    """The host, as the checks see it. Tests replace it."""

    def exists(self, path):
        return os.path.exists(path)

    def realpath(self, path):
        return os.path.realpath(path)

    def lstat_mode(self, path):
        return os.stat(path).st_mode

    def statvfs(self, path):
        st = os.statvfs(path)
        return st.f_bavail * st.f_frsize, bool(st.f_flag & ST_RDONLY)

    def writable(self, path):
        return os.access(path, os.W_OK)

    def read(self, path):
        try:
            with open(path) as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    def listdir(self, path):
        try:
            return os.listdir(path)
        except OSError:
            return []

    def mkdtemp(self):
        return tempfile.mkdtemp(prefix="crashdump-kdump-nfs-")

    def rmdir(self, path):
        os.rmdir(path)

    def probe(self, directory):
        """Create and remove a file in ``directory``; None or the error text."""
        path = os.path.join(directory, ".crashdump-kdump-probe-%d" % os.getpid())
        try:
            with open(path, "w") as handle:
                handle.write("probe\n")
            os.unlink(path)
        except (IOError, OSError) as exc:
            return str(exc)
        return None


def _result(check, ok, message):
    return {"check": check, "ok": bool(ok), "message": message}


def _existing_ancestor(system, path):
    while path not in ("", "/") and not system.exists(path):
        path = os.path.dirname(path)
    return path or "/"


def mounts(system):
    """``[(source, mountpoint)]`` from /proc/mounts."""
    out = []
    for line in (system.read("/proc/mounts") or "").splitlines():
        words = line.split()
        if len(words) >= 2:
            out.append((words[0], words[1].replace("\\040", " ")))
    return out


def check_directory(system, label, directory, need, mountpoint=None):
    """local/fs: free space and writability of the directory the dump is written to."""
    checks = []
    if mountpoint is not None and mountpoint not in [m for _s, m in mounts(system)]:
        return [_result("mounted", False,
                        "%s: %s is not mounted now, so its free space cannot be checked; mount it"
                        " (mount %s) and run again" % (label, mountpoint, mountpoint))]
    anchor = _existing_ancestor(system, directory)
    free, readonly = system.statvfs(anchor)
    if readonly or not system.writable(anchor):
        checks.append(_result("writable", False, "%s: %s is not writable by root%s; choose a"
                              " writable path" % (label, anchor, " (read-only filesystem)"
                                                  if readonly else "")))
    else:
        checks.append(_result("writable", True, "%s: %s is writable" % (label, anchor)))
    if free < need:
        checks.append(_result("space", False, "%s: %s free on the filesystem of %s, the dump may"
                              " need %s; free space there or choose another target"
                              % (label, human(free), anchor, human(need))))
    else:
        checks.append(_result("space", True, "%s: %s free, dump estimate %s"
                              % (label, human(free), human(need))))
    return checks


def _block_name(system, device):
    return os.path.basename(system.realpath(device))


def check_raw(system, label, device, need):
    if not system.exists(device):
        return [_result("device", False, "%s: %s does not exist; give the path of the block device"
                        " to dump to" % (label, device))]
    if not stat.S_ISBLK(system.lstat_mode(device)):
        return [_result("device", False, "%s: %s is not a block device" % (label, device))]
    real = system.realpath(device)
    name = _block_name(system, device)
    # The device or any of its partitions.
    names = set(["/dev/" + name])
    for entry in system.listdir("/sys/class/block/%s" % name):
        if entry.startswith(name):
            names.add("/dev/" + entry)
    in_use = [m for s, m in mounts(system) if system.realpath(s) in names or s == real]
    swaps = [line.split()[0] for line in (system.read("/proc/swaps") or "").splitlines()[1:]
             if line.split() and system.realpath(line.split()[0]) in names]
    checks = [_result("device", True, "%s: %s is a block device" % (label, device))]
    if in_use or swaps:
        checks.append(_result("unused", False, "%s: %s is in use (%s); a raw dump overwrites the"
                              " device, so give one that is not mounted or used as swap"
                              % (label, device, ", ".join(["mounted on " + m for m in in_use]
                                                          + ["swap"] * bool(swaps)))))
    else:
        checks.append(_result("unused", True, "%s: %s is not mounted" % (label, device)))
    sectors = (system.read("/sys/class/block/%s/size" % name) or "0").strip()
    size = int(sectors) * 512 if sectors.isdigit() else 0
    if size < need:
        checks.append(_result("space", False, "%s: %s holds %s, the dump may need %s; give a"
                              " larger device" % (label, device, human(size), human(need))))
    else:
        checks.append(_result("space", True, "%s: %s holds %s, dump estimate %s"
                              % (label, device, human(size), human(need))))
    return checks


def check_nfs(system, run, label, source, subdir, need, options):
    """Mount ``source`` in a temporary directory, write and remove a probe file in ``subdir``
    below it, read the free space, unmount."""
    mnt = system.mkdtemp()
    argv = ["mount", "-t", "nfs", "-o", options, source, mnt]
    rc, out, err = run(argv)
    if rc != 0:
        system.rmdir(mnt)
        return [_result("mount", False, "%s: cannot mount %s (%s): %s; check that the server is"
                        " reachable, exports it to this host, and that nfs-common is installed"
                        % (label, source, " ".join(argv[:-1]), (err or out).strip()))]
    checks = [_result("mount", True, "%s: %s mounts" % (label, source))]
    try:
        directory = os.path.join(mnt, subdir.lstrip("/")) if subdir else mnt
        if not system.exists(directory):
            checks.append(_result("writable", False, "%s: %s does not exist on %s; create it on"
                                  " the server" % (label, subdir, source)))
            return checks
        error = system.probe(directory)
        if error:
            checks.append(_result("writable", False, "%s: cannot write to %s%s as root: %s;"
                                  " export it read-write with no_root_squash" % (
                                      label, source, subdir or "", error)))
        else:
            checks.append(_result("writable", True, "%s: a probe file was written and removed"
                                  % label))
        free, _readonly = system.statvfs(directory)
        if free < need:
            checks.append(_result("space", False, "%s: %s free on %s, the dump may need %s"
                                  % (label, human(free), source, human(need))))
        else:
            checks.append(_result("space", True, "%s: %s free, dump estimate %s"
                                  % (label, human(free), human(need))))
    finally:
        rc, out, err = run(["umount", mnt])
        if rc == 0:
            system.rmdir(mnt)
        else:
            checks.append(_result("unmount", False, "%s: umount %s failed: %s"
                                  % (label, mnt, (err or out).strip())))
    return checks


def ssh_argv(target, known_hosts, *command):
    return ["ssh", "-i", target.ssh_key, "-p", str(target.ssh_port),
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", "UserKnownHostsFile=%s" % known_hosts, "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=15",
            "%s@%s" % (target.ssh_user, target.ssh_host)] + list(command)


def parse_df(text):
    """Available bytes from ``df -Pk`` output, or None."""
    lines = (text or "").strip().splitlines()
    if len(lines) >= 2:
        words = lines[-1].split()
        if len(words) >= 4 and words[3].isdigit():
            return int(words[3]) * 1024
    return None


def check_ssh(system, run, label, target, known_hosts, need):
    key = target.ssh_key
    if not system.exists(key):
        return [_result("key", False, "%s: the private key %s does not exist; create it (ssh-keygen"
                        " -t ed25519 -N '' -f %s) and authorize its .pub on the server"
                        % (label, key, key))]
    if system.lstat_mode(key) & 0o077:
        return [_result("key", False, "%s: %s is readable by other users; ssh refuses such a key"
                        " (chmod 600 %s)" % (label, key, key))]
    name = known_hosts_name(target.ssh_host, target.ssh_port)
    rc, out, err = run(["ssh-keygen", "-F", name, "-f", known_hosts])
    if rc != 0 or not out.strip():
        return [_result("host_key", False, "%s: the host key of %s is not pinned in %s; pass"
                        " ssh_host_key (the server's /etc/ssh/ssh_host_ed25519_key.pub), it is"
                        " never accepted blindly" % (label, name, known_hosts))]
    checks = [_result("host_key", True, "%s: the host key of %s is pinned" % (label, name))]
    rc, out, err = run(ssh_argv(target, known_hosts, "mkdir", "-p", target.path))
    if rc != 0:
        text = (err or out).strip()
        if "Host key verification failed" in text or "REMOTE HOST IDENTIFICATION" in text:
            why = "the server's host key differs from the pinned one"
        elif "Permission denied" in text:
            why = "the key %s.pub is not authorized for %s there" % (key, target.ssh_user)
        elif rc == 255:
            why = "cannot connect"
        else:
            why = "the server refused mkdir -p %s" % target.path
        checks.append(_result("login", False, "%s: %s: %s (%s)" % (label, target.ssh, why, text)))
        return checks
    checks.append(_result("login", True, "%s: logged in with %s and created %s"
                          % (label, key, target.path)))
    rc, out, err = run(ssh_argv(target, known_hosts, "df", "-Pk", target.path))
    free = parse_df(out) if rc == 0 else None
    if free is None:
        checks.append(_result("space", False, "%s: cannot read the free space of %s on %s: %s"
                              % (label, target.path, target.ssh_host, (err or out).strip())))
    elif free < need:
        checks.append(_result("space", False, "%s: %s free in %s on %s, the dump may need %s"
                              % (label, human(free), target.path, target.ssh_host, human(need))))
    else:
        checks.append(_result("space", True, "%s: %s free, dump estimate %s"
                              % (label, human(free), human(need))))
    return checks


NFS_OPTIONS = "nolock,tcp,soft,timeo=100,retrans=2,retry=0"


def preflight(family, target, plan, need, run, known_hosts=None, system=None):
    """All checks for ``target`` as ``plan`` configures it; ``need`` is the expected dump size
    in bytes. ``known_hosts`` is the file with the pinned host key (ssh)."""
    system = system or System()
    label = "%s target %s" % (target.type, target.location(plan.mountpoint))
    if target.type in ("local", "fs"):
        directory = plan.local_dir
        if directory is None:
            return [_result("mounted", False, "%s: %s is not in /etc/fstab, so where it will be"
                            " mounted is unknown; add it to /etc/fstab" % (label, target.device))]
        return check_directory(system, label, directory, need, plan.mountpoint)
    if target.type == "raw":
        return check_raw(system, label, target.device, need)
    if target.type == "nfs":
        if family == "debian":
            # kdump-tools mounts the export's subdirectory itself.
            return check_nfs(system, run, label, nfs_join(target.nfs, target.path), "", need,
                             NFS_OPTIONS)
        return check_nfs(system, run, label, target.nfs, target.path, need, NFS_OPTIONS)
    return check_ssh(system, run, label, target, known_hosts, need)
