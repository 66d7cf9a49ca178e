# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One distribution-neutral dump target, written in each family's native configuration.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.

``Target`` validates the description; ``plan(family, target, files, facts)``
returns the new text of every file to change (None: delete), whether the
kdump initrd must be rebuilt and the capture kernel reloaded, and what the
dump location and collector will be. ``read_back(family, files)`` parses the
native files back into the neutral description (used by kdump_info).

Families:

- ``debian`` (kdump-tools): /etc/default/kdump-tools. The capture kernel boots
  the real root filesystem, so fstab mounts apply there. kdump-tools runs
  ``ssh user@host`` without a port or host-key option, so an SSH target is
  reached through a host alias in an ssh_config drop-in owned by this module
  (port, key, and a pinned known_hosts file of its own).
- ``redhat`` (kdump-utils / kexec-tools): /etc/kdump.conf and
  /etc/sysconfig/kdump; the host key is pinned in /root/.ssh/known_hosts,
  which mkdumprd copies into the kdump initrd.
- ``suse`` (kdump): /etc/sysconfig/kdump, KDUMP_SAVEDIR as a URL; the host key
  in KDUMP_HOST_KEY.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import posixpath
import re

from ansible_collections.crashdump.kdump.plugins.module_utils.target.kdumpconf import (
    FS_TYPES,
    TARGET_DIRECTIVES,
    KdumpConf,
    KdumpConfError,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.shellvars import (
    ShellVars,
    ShellVarsError,
)

FAMILIES = ("debian", "redhat", "suse")
TYPES = ("local", "fs", "raw", "nfs", "ssh")
COMPRESSIONS = ("auto", "zstd", "lzo", "snappy", "zlib", "none")
# makedumpfile's flag per page compression; -c (zlib) is always built in.
FLAGS = {"zlib": "-c", "lzo": "-l", "snappy": "-p", "zstd": "-z"}
AUTO_ORDER = ("zstd", "lzo", "zlib")
ACTIONS = ("reboot", "halt", "poweroff", "shell", "dump_to_rootfs")
FINAL_ACTIONS = ("reboot", "halt", "poweroff")

DEBIAN_CONF = "/etc/default/kdump-tools"
DEBIAN_SSH_CONFIG = "/etc/ssh/ssh_config.d/crashdump-kdump.conf"
DEBIAN_KNOWN_HOSTS = "/etc/crashdump-kdump/known_hosts"
DEBIAN_MAKEDUMP_ARGS = "-c -d 31"   # kdump-config's value when MAKEDUMP_ARGS is unset
DEBIAN_CMDLINE_APPEND = ("reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1"
                         " irqpoll usbcore.nousb")
REDHAT_CONF = "/etc/kdump.conf"
REDHAT_SYSCONFIG = "/etc/sysconfig/kdump"
REDHAT_KNOWN_HOSTS = "/root/.ssh/known_hosts"
SUSE_SYSCONFIG = "/etc/sysconfig/kdump"
SUSE_FORMATS = {"zlib": "compressed", "lzo": "lzo", "snappy": "snappy", "zstd": "zstd",
                "none": "ELF"}

FILES = {
    "debian": (DEBIAN_CONF, DEBIAN_SSH_CONFIG, DEBIAN_KNOWN_HOSTS),
    "redhat": (REDHAT_CONF, REDHAT_SYSCONFIG, REDHAT_KNOWN_HOSTS),
    "suse": (SUSE_SYSCONFIG,),
}
SHELL_FILES = (DEBIAN_CONF, REDHAT_SYSCONFIG, SUSE_SYSCONFIG)
# Files whose absence means the family's kdump tools are not installed.
MAIN_FILE = {"debian": DEBIAN_CONF, "redhat": REDHAT_CONF, "suse": SUSE_SYSCONFIG}
PACKAGE = {"debian": "kdump-tools", "redhat": "kdump-utils (kexec-tools before Fedora 40"
           " and RHEL 10)", "suse": "kdump"}

_USER = r"[a-z_][a-z0-9_.-]*"
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
_SSH = re.compile(r"^(%s)@(%s)$" % (_USER, _HOST))
_NFS = re.compile(r"^(%s):(/[^\s]*)$" % _HOST)
_DEVICE = re.compile(r"^(?:/dev/[A-Za-z0-9._/:+-]+|UUID=[A-Za-z0-9-]+|LABEL=[A-Za-z0-9._-]+"
                     r"|PARTUUID=[A-Za-z0-9-]+)$")
_PATH = re.compile(r"^/[A-Za-z0-9._/+@:-]*$")
_ARG = re.compile(r"^[A-Za-z0-9._/=:,+@-]+$")
_MODULE = re.compile(r"^[A-Za-z0-9_-]+$")
_KEYTYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
             "sk-ecdsa-sha2-nistp256@openssh.com")


class TargetError(ValueError):
    """A description that cannot be written as meant; the message names the value and why."""


def _check(pattern, name, value, expected):
    if value is None or not pattern.match(str(value)):
        raise TargetError("%s: %r is not valid; expected %s" % (name, value, expected))
    return str(value)


def parse_host_key(text):
    """``(keytype, base64)`` of an OpenSSH public key line (an optional comment is dropped)."""
    words = str(text or "").split()
    if len(words) < 2 or words[0] not in _KEYTYPES:
        raise TargetError("ssh_host_key: %r is not an OpenSSH public key; expected a line such"
                          " as the server's /etc/ssh/ssh_host_ed25519_key.pub ('ssh-ed25519"
                          " AAAA...')" % (text,))
    try:
        blob = base64.b64decode(words[1].encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise TargetError("ssh_host_key: the key data of %r is not base64" % (text,))
    # The blob starts with the key type as an SSH string (uint32 length, bytes).
    size = int(binascii.hexlify(blob[:4]), 16) if len(blob) >= 4 else -1
    if size != len(words[0]) or blob[4:4 + size] != words[0].encode("ascii") or len(blob) < 4 + size + 16:
        raise TargetError("ssh_host_key: the key data of %r is not an OpenSSH key blob" % (text,))
    return words[0], words[1]


class Target(object):
    """The neutral description, validated. Attribute names match the module options."""

    def __init__(self, type="local", path=None, device=None, fstype=None, nfs=None, ssh=None,
                 ssh_port=22, ssh_key=None, ssh_host_key=None, dump_level=31,
                 compression="auto", makedumpfile_args=None, failure_action=None,
                 final_action=None, keep=None, cmdline_append=None, extra_modules=None):
        if type not in TYPES:
            raise TargetError("type: %r is not a target type; expected one of %s"
                              % (type, ", ".join(TYPES)))
        self.type = type
        default_path = "/var/crash" if type in ("local", "nfs", "ssh") else "/"
        self.path = posixpath.normpath(_check(
            _PATH, "path", default_path if path in (None, "") else path,
            "an absolute path of letters, digits and ._/+@:-"))
        self.device = self.fstype = self.nfs = self.ssh = self.ssh_key = None
        self.ssh_host_key = None
        self.ssh_port = 22
        if type in ("fs", "raw"):
            self.device = _check(_DEVICE, "device", device,
                                 "/dev/NAME, UUID=, LABEL= or PARTUUID=")
            if type == "raw" and not self.device.startswith("/dev/"):
                raise TargetError("device: %r: a raw target is a block device path (/dev/...),"
                                  " since nothing on it names it" % (self.device,))
        if type == "fs" and fstype is not None:
            if fstype not in FS_TYPES:
                raise TargetError("fstype: %r is not supported by kdump; expected one of %s"
                                  % (fstype, ", ".join(FS_TYPES)))
            self.fstype = fstype
        if type == "nfs":
            self.nfs = _check(_NFS, "nfs", nfs, "SERVER:/EXPORT")
        if type == "ssh":
            self.ssh = _check(_SSH, "ssh", ssh, "USER@HOST (a lower-case user name)")
            try:
                self.ssh_port = int(ssh_port)
            except (TypeError, ValueError):
                self.ssh_port = 0
            if not 0 < self.ssh_port < 65536:
                raise TargetError("ssh_port: %r is not a TCP port; expected 1-65535" % (ssh_port,))
            self.ssh_key = _check(_PATH, "ssh_key", ssh_key or "/root/.ssh/kdump_id_ed25519",
                                  "the absolute path of the private key")
            if ssh_host_key:
                keytype, blob = parse_host_key(ssh_host_key)
                self.ssh_host_key = "%s %s" % (keytype, blob)
        try:
            self.dump_level = int(dump_level)
        except (TypeError, ValueError):
            self.dump_level = -1
        if not 0 <= self.dump_level <= 31:
            raise TargetError("dump_level: %r is not a makedumpfile dump level; expected 0-31"
                              % (dump_level,))
        if compression not in COMPRESSIONS:
            raise TargetError("compression: %r is not supported; expected one of %s"
                              % (compression, ", ".join(COMPRESSIONS)))
        self.compression = compression
        self.makedumpfile_args = []
        for arg in makedumpfile_args or []:
            arg = _check(_ARG, "makedumpfile_args", arg,
                         "one argument per item, without spaces, quotes or shell characters")
            if arg in ("-F", "-c", "-l", "-p", "-z", "-E", "-R") or arg.startswith("-d"):
                raise TargetError("makedumpfile_args: %r is set by the module (use dump_level,"
                                  " compression; flattening follows the transport)" % arg)
            self.makedumpfile_args.append(arg)
        for name, value, choices in (("failure_action", failure_action, ACTIONS),
                                     ("final_action", final_action, FINAL_ACTIONS)):
            if value is not None and value not in choices:
                raise TargetError("%s: %r is not an action; expected one of %s"
                                  % (name, value, ", ".join(choices)))
        self.failure_action = failure_action
        self.final_action = final_action
        try:
            self.keep = None if keep is None else int(keep)
        except (TypeError, ValueError):
            self.keep = -1
        if self.keep is not None and self.keep < 0:
            raise TargetError("keep: %r is not a number of dumps; expected 0 (keep all) or more"
                              % (keep,))
        self.cmdline_append = [_check(_ARG, "cmdline_append", word,
                                      "one kernel argument per item, without spaces or quotes")
                               for word in cmdline_append or []]
        self.extra_modules = [_check(_MODULE, "extra_modules", name, "a kernel module name")
                              for name in extra_modules or []]

    @property
    def remote(self):
        return self.type in ("nfs", "ssh")

    @property
    def ssh_user(self):
        return self.ssh.split("@", 1)[0]

    @property
    def ssh_host(self):
        return self.ssh.split("@", 1)[1].strip("[]")

    def location(self, mountpoint=None):
        """Where the dumps go, for people: ``/var/crash``, ``UUID=...:/dumps``, ``user@host:/p``."""
        if self.type == "local":
            return self.path
        if self.type == "fs":
            return "%s:%s" % (self.device, self.path) + (
                " (mounted on %s)" % mountpoint if mountpoint else "")
        if self.type == "raw":
            return self.device
        if self.type == "nfs":
            return "nfs:%s" % nfs_join(self.nfs, self.path)
        port = "" if self.ssh_port == 22 else " port %d" % self.ssh_port
        return "ssh:%s:%s%s" % (self.ssh, self.path, port)


def detect_family(os_release):
    """The kdump family of an /etc/os-release text (ID, then ID_LIKE), or None."""
    ids = []
    for line in (os_release or "").splitlines():
        match = re.match(r'^(ID|ID_LIKE)=["\']?([^"\']*)', line)
        if match:
            ids += match.group(2).lower().split()
    for name in ids:
        if name in ("debian", "ubuntu"):
            return "debian"
        if name in ("rhel", "fedora", "centos", "rocky", "almalinux", "ol"):
            return "redhat"
        if name in ("suse", "sles", "opensuse", "opensuse-leap", "opensuse-tumbleweed"):
            return "suse"
    return None


def nfs_join(export, path):
    server, directory = export.split(":", 1)
    if path and path != "/":
        directory = posixpath.normpath(directory.rstrip("/") + "/" + path.lstrip("/"))
    return "%s:%s" % (server, directory)


def parse_makedumpfile_version(text):
    """``(version, set of page compressions)`` from ``makedumpfile -v`` output."""
    version = None
    match = re.search(r"makedumpfile:\s+version\s+([0-9][0-9.]*)", text or "")
    if match:
        version = match.group(1)
    found = set(["zlib"])
    for line in (text or "").splitlines():
        words = line.lower().split()
        if len(words) >= 2 and words[1] == "enabled" and words[0] in FLAGS:
            found.add(words[0])
    return version, found


def choose_compression(requested, available):
    """The compression to use: ``auto`` picks zstd, then lzo, then zlib from ``available``."""
    if requested == "auto":
        for name in AUTO_ORDER:
            if name in available:
                return name
        return "zlib"
    if requested != "none" and requested not in available:
        raise TargetError("compression: this host's makedumpfile is not built with %s (it has %s)"
                          % (requested, ", ".join(sorted(available))))
    return requested


def makedumpfile_words(target, compression, flatten=False, message_level=None):
    words = []
    if compression in FLAGS:
        words.append(FLAGS[compression])
    if message_level is not None:
        words += ["--message-level", str(message_level)]
    words += ["-d", str(target.dump_level)]
    if flatten:
        words.append("-F")
    return words + target.makedumpfile_args


def parse_fstab(text):
    """``[(source, mountpoint, fstype, options)]`` of /etc/fstab or /proc/mounts."""
    entries = []
    for line in (text or "").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 3:
            entries.append((_unescape(words[0]), _unescape(words[1]), words[2],
                            words[3] if len(words) > 3 else "defaults"))
    return entries


def _unescape(text):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def fstab_mount(fstab_text, device, aliases=()):
    """``(mountpoint, fstype)`` of the fstab entry for ``device`` (or any of its aliases:
    the other names blkid knows it by), or None."""
    names = set([device]) | set(aliases)
    for source, mountpoint, fstype, options in parse_fstab(fstab_text):
        if source in names and fstype not in ("swap", "none") and "noauto" not in options.split(","):
            return mountpoint, fstype
    return None


class Plan(object):
    def __init__(self):
        self.files = {}          # path -> new text, or None to delete
        self.modes = {}          # path -> mode for a new file
        self.rebuild_initrd = False
        self.reload = False
        self.location = ""
        self.collector = ""
        self.compression = ""
        self.flattened = False
        self.local_dir = None    # the directory on this host the dump is written to, if local
        self.mountpoint = None   # for fs targets: where fstab mounts the filesystem

    def is_empty(self):
        return not self.files


def _require(files, family):
    path = MAIN_FILE[family]
    if files.get(path) is None:
        raise TargetError("%s does not exist: install %s first (the dump configuration is"
                          " written into the package's own file)" % (path, PACKAGE[family]))


def _unsupported(family, what, hint=""):
    raise TargetError("%s is not supported by %s on this family (%s)%s" % (
        what, PACKAGE[family], family, "; " + hint if hint else ""))


def _merge_words(current, extra):
    words = (current or "").split()
    for word in extra:
        if word not in words:
            words.append(word)
    return " ".join(words)


def _fs_dir(target, facts, family):
    mount = fstab_mount(facts.get("fstab", ""), target.device, facts.get("device_aliases", ()))
    if mount is None:
        raise TargetError("fs target %s is not in /etc/fstab: %s mounts the dump filesystem from"
                          " fstab when the capture kernel boots, so add it there (with its"
                          " mount point) first" % (target.device, PACKAGE[family]))
    mountpoint = mount[0]
    return posixpath.normpath(mountpoint.rstrip("/") + "/" + target.path.lstrip("/")), mountpoint


def _set(plan, path, old, new, mode=0o644):
    if old != new:
        plan.files[path] = new
        plan.modes[path] = mode


def _ssh_alias(target):
    return "crashdump-kdump-%s" % target.ssh_host.replace(":", "-")


def known_hosts_name(host, port):
    if port == 22:
        return host
    return "[%s]:%d" % (host, port)


def debian_ssh_config(target):
    return "".join([
        "# Managed by crashdump.kdump (kdump_target): how kdump-tools reaches its SSH dump\n",
        "# target. kdump-tools runs 'ssh user@%s'; this block gives the real host,\n" % _ssh_alias(target),
        "# port, key and pinned host key.\n",
        "Host %s\n" % _ssh_alias(target),
        "    HostName %s\n" % target.ssh_host,
        "    Port %d\n" % target.ssh_port,
        "    User %s\n" % target.ssh_user,
        "    IdentityFile %s\n" % target.ssh_key,
        "    IdentitiesOnly yes\n",
        "    BatchMode yes\n",
        "    StrictHostKeyChecking yes\n",
        "    UserKnownHostsFile %s\n" % DEBIAN_KNOWN_HOSTS,
        "    ConnectTimeout 30\n",
    ])


def _pin(text, host, port, key):
    """``text`` of a known_hosts file with ``key`` pinned for ``host``: other keys of the same
    type for that host are replaced (a re-installed server), other lines kept."""
    name = known_hosts_name(host, port)
    keytype = key.split()[0]
    kept = []
    for line in (text or "").splitlines(True):
        words = line.split()
        if (len(words) >= 3 and not line.startswith("#") and name in words[0].split(",")
                and words[1] == keytype):
            if " ".join(words[:3]) == "%s %s" % (name, key):
                return text
            continue
        kept.append(line)
    body = "".join(kept)
    if body and not body.endswith("\n"):
        body += "\n"
    return body + "%s %s\n" % (name, key)


def _plan_debian(target, files, facts, compression):
    plan = Plan()
    conf = ShellVars(files[DEBIAN_CONF])
    before_append = conf.get("KDUMP_CMDLINE_APPEND")
    if target.type == "raw":
        _unsupported("debian", "a raw device target",
                     "kdump-tools writes dumps to a directory; use type fs with a filesystem on"
                     " the device")
    if target.extra_modules:
        _unsupported("debian", "extra_modules",
                     "the capture kernel boots the root filesystem and loads modules from it;"
                     " modules needed to reach the root filesystem belong in"
                     " /etc/initramfs-tools/modules")
    if target.failure_action in ("shell", "dump_to_rootfs"):
        _unsupported("debian", "failure_action %s" % target.failure_action,
                     "kdump-tools runs KDUMP_FAIL_CMD without a console; use reboot, halt or"
                     " poweroff")
    if target.final_action not in (None, "reboot"):
        _unsupported("debian", "final_action %s" % target.final_action,
                     "kdump-tools always reboots after saving the dump")
    if target.keep and target.remote:
        _unsupported("debian", "keep with an %s target" % target.type,
                     "kdump-tools prunes only local dumps; leave keep at 0 and prune on the"
                     " dump server")
    for key in ("SSH", "NFS", "FTP"):
        conf.unset(key)
    if target.type == "local":
        conf.set("KDUMP_COREDIR", target.path)
        plan.local_dir = target.path
    elif target.type == "fs":
        plan.local_dir, plan.mountpoint = _fs_dir(target, facts, "debian")
        conf.set("KDUMP_COREDIR", plan.local_dir)
    elif target.type == "nfs":
        conf.set("NFS", nfs_join(target.nfs, target.path))
        if conf.get("KDUMP_COREDIR") is None:
            conf.set("KDUMP_COREDIR", "/var/crash")
    elif target.type == "ssh":
        conf.set("SSH", "%s@%s" % (target.ssh_user, _ssh_alias(target)))
        conf.set("SSH_KEY", target.ssh_key)
        conf.set("KDUMP_COREDIR", target.path)
    if target.type != "ssh":
        conf.unset("SSH_KEY")
    args = " ".join(makedumpfile_words(target, compression))
    if conf.get("MAKEDUMP_ARGS") is not None or args != DEBIAN_MAKEDUMP_ARGS:
        conf.set("MAKEDUMP_ARGS", args)
    if target.keep:
        conf.set("KDUMP_NUM_DUMPS", str(target.keep))
    elif target.keep == 0:
        conf.unset("KDUMP_NUM_DUMPS")
    if target.failure_action in (None, "reboot"):
        conf.unset("KDUMP_FAIL_CMD")
    else:
        conf.set("KDUMP_FAIL_CMD", "%s -f" % target.failure_action)
    if target.cmdline_append:
        conf.set("KDUMP_CMDLINE_APPEND",
                 _merge_words(before_append or DEBIAN_CMDLINE_APPEND, target.cmdline_append))
    _set(plan, DEBIAN_CONF, files[DEBIAN_CONF], conf.render())
    if target.type == "ssh":
        _set(plan, DEBIAN_SSH_CONFIG, files.get(DEBIAN_SSH_CONFIG), debian_ssh_config(target))
        if target.ssh_host_key:
            old = files.get(DEBIAN_KNOWN_HOSTS)
            _set(plan, DEBIAN_KNOWN_HOSTS, old,
                 _pin(old, target.ssh_host, target.ssh_port, target.ssh_host_key))
    else:
        for path in (DEBIAN_SSH_CONFIG, DEBIAN_KNOWN_HOSTS):
            if files.get(path) is not None:
                plan.files[path] = None
    # kdump-tools reads its file again in the capture kernel (it boots the root
    # filesystem): only what goes on the kexec command line needs a reload.
    plan.reload = conf.get("KDUMP_CMDLINE_APPEND") != before_append
    plan.flattened = True
    plan.collector = "makedumpfile -F " + " ".join(makedumpfile_words(target, compression))
    return plan


def _plan_redhat(target, files, facts, compression):
    plan = Plan()
    conf = KdumpConf(files[REDHAT_CONF])
    if target.keep:
        _unsupported("redhat", "keep", "kdump-utils keeps every dump; prune them with a timer or"
                     " on the dump server")
    if target.type == "ssh" and target.ssh_port != 22:
        _unsupported("redhat", "an SSH port other than 22",
                     "kdump.conf has no port setting; run the dump server's sshd on port 22")
    if target.type == "local":
        for kind in TARGET_DIRECTIVES:
            conf.unset(kind)
        conf.set("path", target.path)
        plan.local_dir = target.path
    elif target.type == "fs":
        fstype = target.fstype
        mount = fstab_mount(facts.get("fstab", ""), target.device, facts.get("device_aliases", ()))
        if fstype is None:
            fstype = facts.get("device_fstype") or (mount[1] if mount else None)
        if fstype not in FS_TYPES:
            raise TargetError("fs target %s: cannot tell its filesystem type (found %r); set"
                              " fstype to one of %s" % (target.device, fstype, ", ".join(FS_TYPES)))
        conf.set_target(fstype, target.device)
        conf.set("path", target.path)
        if mount:
            plan.mountpoint = mount[0]
            plan.local_dir = posixpath.normpath(mount[0].rstrip("/") + "/" + target.path.lstrip("/"))
    elif target.type == "raw":
        conf.set_target("raw", target.device)
        conf.unset("path")
    elif target.type == "nfs":
        conf.set_target("nfs", target.nfs)
        conf.set("path", target.path)
    elif target.type == "ssh":
        conf.set_target("ssh", target.ssh)
        conf.set("sshkey", target.ssh_key)
        conf.set("path", target.path)
    if target.type != "ssh":
        conf.unset("sshkey")
    plan.flattened = target.type in ("ssh", "raw")
    words = makedumpfile_words(target, compression, plan.flattened, message_level=7)
    conf.set("core_collector", "makedumpfile " + " ".join(words))
    for directive, value in (("failure_action", target.failure_action),
                             ("final_action", target.final_action)):
        if value is not None:
            conf.unset("default" if directive == "failure_action" else directive)
            conf.set(directive, value)
    if target.extra_modules:
        conf.set("extra_modules", _merge_words(conf.get("extra_modules"), target.extra_modules))
    _set(plan, REDHAT_CONF, files[REDHAT_CONF], conf.render())
    if target.cmdline_append:
        sysconfig = ShellVars(files.get(REDHAT_SYSCONFIG) or "")
        sysconfig.set("KDUMP_COMMANDLINE_APPEND", _merge_words(
            sysconfig.get("KDUMP_COMMANDLINE_APPEND"), target.cmdline_append))
        _set(plan, REDHAT_SYSCONFIG, files.get(REDHAT_SYSCONFIG), sysconfig.render())
    if target.type == "ssh" and target.ssh_host_key:
        old = files.get(REDHAT_KNOWN_HOSTS)
        _set(plan, REDHAT_KNOWN_HOSTS, old,
             _pin(old, target.ssh_host, target.ssh_port, target.ssh_host_key), mode=0o600)
    # kdumpctl rebuilds the initrd when kdump.conf is newer than it; say so explicitly.
    plan.rebuild_initrd = plan.reload = bool(plan.files)
    plan.collector = conf.get("core_collector")
    return plan


def _plan_suse(target, files, facts, compression):
    plan = Plan()
    conf = ShellVars(files[SUSE_SYSCONFIG])
    if target.type == "raw":
        _unsupported("suse", "a raw device target", "KDUMP_SAVEDIR takes a directory or URL")
    for name in ("makedumpfile_args", "extra_modules"):
        if getattr(target, name):
            _unsupported("suse", name)
    if target.failure_action not in (None, "reboot"):
        _unsupported("suse", "failure_action %s" % target.failure_action)
    if target.final_action not in (None, "reboot"):
        _unsupported("suse", "final_action %s" % target.final_action,
                     "KDUMP_IMMEDIATE_REBOOT only chooses whether to reboot")
    if target.type == "local":
        savedir = target.path
        plan.local_dir = target.path
    elif target.type == "fs":
        plan.local_dir, plan.mountpoint = _fs_dir(target, facts, "suse")
        savedir = "file://" + plan.local_dir
    elif target.type == "nfs":
        server, directory = nfs_join(target.nfs, target.path).split(":", 1)
        savedir = "nfs://%s%s" % (server, directory)
    else:
        savedir = "ssh://%s@%s:%d%s" % (
            target.ssh_user, target.ssh_host, target.ssh_port, target.path)
    conf.set("KDUMP_SAVEDIR", savedir)
    if target.type == "ssh":
        conf.set("KDUMP_SSH_IDENTITY", target.ssh_key)
        if target.ssh_host_key:
            conf.set("KDUMP_HOST_KEY", target.ssh_host_key.split()[1])
    conf.set("KDUMP_DUMPLEVEL", str(target.dump_level))
    conf.set("KDUMP_DUMPFORMAT", SUSE_FORMATS[compression])
    if target.keep is not None:
        conf.set("KDUMP_KEEP_OLD_DUMPS", str(target.keep))
    if target.final_action == "reboot":
        conf.set("KDUMP_IMMEDIATE_REBOOT", "yes")
    if target.cmdline_append:
        conf.set("KDUMP_COMMANDLINE_APPEND", _merge_words(conf.get("KDUMP_COMMANDLINE_APPEND"),
                                                          target.cmdline_append))
    _set(plan, SUSE_SYSCONFIG, files[SUSE_SYSCONFIG], conf.render())
    plan.rebuild_initrd = plan.reload = bool(plan.files)
    plan.flattened = False
    plan.collector = "makedumpfile " + " ".join(makedumpfile_words(target, compression))
    return plan


_PLANNERS = {"debian": _plan_debian, "redhat": _plan_redhat, "suse": _plan_suse}


# Directories that are never a dump directory: the module makes its dump directory root's
# with mode 0700 (dump_dir_mode), which on these would break the system or expose it.
# These themselves (the dump directory may lie below them); the trees with everything below them.
SYSTEM_DIRS = ("/", "/var", "/home", "/root", "/opt", "/srv", "/mnt", "/media", "/tmp", "/var/lib",
               "/var/log", "/var/spool", "/var/cache", "/var/tmp", "/var/mail", "/var/opt", "/var/home",
               "/var/www", "/var/backups", "/var/local")
SYSTEM_TREES = ("/etc", "/usr", "/boot", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
                "/sys", "/dev", "/run")


def system_dir(path):
    """The system directory that ``path`` is or lies in (after normalisation), or None."""
    if not path:
        return None
    norm = posixpath.normpath("/" + path.lstrip("/"))
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    if norm in SYSTEM_DIRS:
        return norm
    top = "/" + norm.split("/")[1]
    if top in SYSTEM_TREES:
        return top
    return None


def check_dump_dir(path, what="dump directory"):
    """Refuse a system directory as a dump directory, naming it."""
    found = system_dir(path)
    if found:
        raise TargetError("%s %s: %s is a system directory (%s, and %s with what is below them), not a"
                          " place for crash dumps; give a directory of its own, such as /var/crash"
                          % (what, path, found, ", ".join(SYSTEM_DIRS), ", ".join(SYSTEM_TREES)))


def plan(family, target, files, facts, installed=True):
    """The changes that make ``files`` (path -> text or None) describe ``target``.

    ``facts``: ``compressions`` (set from makedumpfile -v), ``fstab`` (text),
    ``device_aliases`` and ``device_fstype`` (from blkid, for fs targets).
    With ``installed=False`` a missing package file counts as empty (to check a
    target before the package is installed).
    """
    if family not in FAMILIES:
        raise TargetError("family: %r is not supported; expected one of %s"
                          % (family, ", ".join(FAMILIES)))
    if installed:
        _require(files, family)
    else:
        files = dict(files)
        files[MAIN_FILE[family]] = files.get(MAIN_FILE[family]) or ""
    compression = choose_compression(target.compression, facts.get("compressions") or set(["zlib"]))
    try:
        result = _PLANNERS[family](target, files, facts, compression)
    except (ShellVarsError, KdumpConfError) as exc:
        raise TargetError(str(exc))
    result.compression = compression
    result.location = target.location(result.mountpoint)
    # The directory this host makes root's and 0700, and an SSH server's directory.
    check_dump_dir(result.local_dir)
    if target.type == "ssh":
        check_dump_dir(target.path, "path (on the dump server)")
    return result


def read_back(family, files):
    """The neutral description of what the native files configure now (best effort: what the
    tool would use, defaults filled in)."""
    if files.get(MAIN_FILE.get(family)) is None:
        return None
    if family == "debian":
        conf = ShellVars(files[DEBIAN_CONF])
        args = (conf.get("MAKEDUMP_ARGS") or "-c -d 31").split()
        out = dict(makedumpfile_args=args, keep=int(conf.get("KDUMP_NUM_DUMPS") or 0))
        if conf.get("SSH"):
            out.update(type="ssh", ssh=conf.get("SSH"), ssh_key=conf.get(
                "SSH_KEY") or "/root/.ssh/kdump_id_rsa", path=conf.get("KDUMP_COREDIR") or "/var/crash")
        elif conf.get("NFS"):
            out.update(type="nfs", nfs=conf.get("NFS"))
        else:
            out.update(type="local", path=conf.get("KDUMP_COREDIR") or "/var/crash")
        return out
    if family == "redhat":
        conf = KdumpConf(files[REDHAT_CONF])
        kind = conf.target()
        out = dict(path=conf.get("path") or "/var/crash",
                   makedumpfile_args=(conf.get("core_collector") or
                                      "makedumpfile -l --message-level 7 -d 31").split()[1:],
                   failure_action=conf.get("failure_action") or conf.get("default"),
                   final_action=conf.get("final_action"))
        if kind is None:
            out["type"] = "local"
        elif kind[0] == "raw":
            out.update(type="raw", device=kind[1])
        elif kind[0] == "nfs":
            out.update(type="nfs", nfs=kind[1])
        elif kind[0] == "ssh":
            out.update(type="ssh", ssh=kind[1], ssh_key=conf.get("sshkey") or "/root/.ssh/kdump_id_rsa")
        else:
            out.update(type="fs", fstype=kind[0], device=kind[1])
        return out
    conf = ShellVars(files[SUSE_SYSCONFIG])
    savedir = conf.get("KDUMP_SAVEDIR") or "/var/crash"
    out = dict(keep=int(conf.get("KDUMP_KEEP_OLD_DUMPS") or 0),
               dump_level=int(conf.get("KDUMP_DUMPLEVEL") or 31),
               format=conf.get("KDUMP_DUMPFORMAT") or "compressed")
    match = re.match(r"^(\w+)://([^/]*)(/.*)?$", savedir)
    if not match or match.group(1) == "file":
        out.update(type="local", path=match.group(3) if match else savedir)
    elif match.group(1) == "nfs":
        out.update(type="nfs", nfs="%s:%s" % (match.group(2), match.group(3) or "/"))
    else:
        host, _sep, port = match.group(2).partition(":")
        out.update(type="ssh", ssh=host, ssh_port=int(port) if port.isdigit() else 22,
                   path=match.group(3) or "/")
    return out


# --- expected dump size ------------------------------------------------------

def parse_meminfo(text):
    """/proc/meminfo as bytes per field."""
    values = {}
    for line in (text or "").splitlines():
        match = re.match(r"^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?", line)
        if match:
            values[match.group(1)] = int(match.group(2)) * 1024
    return values


def expected_dump_bytes(meminfo, dump_level):
    """An upper estimate of the dump's size, before compression: the RAM that makedumpfile
    keeps at ``dump_level`` judged from /proc/meminfo now, plus 10 % and 16 MiB for headers,
    bitmaps and growth. Bit 2/4 drops page cache (Cached + Buffers, bit 2 keeps shared
    memory), bit 8 user pages (AnonPages), bit 16 free pages (MemFree); bit 1 (zero pages)
    cannot be judged and is not counted. Compression only makes the dump smaller."""
    total = meminfo.get("MemTotal", 0)
    keep = total
    if dump_level & 4:
        keep -= meminfo.get("Cached", 0) + meminfo.get("Buffers", 0)
    elif dump_level & 2:
        keep -= max(0, meminfo.get("Cached", 0) - meminfo.get("Shmem", 0)) + meminfo.get("Buffers", 0)
    if dump_level & 8:
        keep -= meminfo.get("AnonPages", 0)
    if dump_level & 16:
        keep -= meminfo.get("MemFree", 0)
    keep = max(keep, min(total, 64 << 20))
    return int(keep * 1.1) + (16 << 20)
