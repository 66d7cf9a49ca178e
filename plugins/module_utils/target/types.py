# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The dump target types, declared once each, and the neutral target description.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

A target type is a ``TargetType`` in ``REGISTRY``: the options it takes, how they are
validated, how its location reads, which pre-flight check proves it and which extra
packages it needs (a key into each family's ``type_packages``). Each family's class
(target/debian.py, target/redhat.py, target/suse.py) writes and reads back the types that
family supports; adding a type is a declaration here and a ``write_<type>`` /
``read_<type>`` pair in each family class (docs/architecture.md).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import posixpath
import re

from ansible_collections.crashdump.kdump.plugins.module_utils.target.kdumpconf import FS_TYPES

COMPRESSIONS = ("auto", "zstd", "lzo", "snappy", "zlib", "none")
ACTIONS = ("reboot", "halt", "poweroff", "shell", "dump_to_rootfs")
FINAL_ACTIONS = ("reboot", "halt", "poweroff")
DEFAULT_SSH_KEY = "/root/.ssh/kdump_id_ed25519"

_USER = r"[a-z_][a-z0-9_.-]*"
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
_IPV6 = r"[0-9A-Fa-f]*:[0-9A-Fa-f:.]*"
# A host: a name or IPv4 address, an IPv6 address bare (the form kdump-utils documents:
# ssh kdump@2001:db8::1) or in brackets.
_HOST = r"(?:%s|%s|\[%s\])" % (_NAME, _IPV6, _IPV6)
_SSH = re.compile(r"^(%s)@(%s)$" % (_USER, _HOST))
# NFS: SERVER:/EXPORT; an IPv6 server needs its brackets there, the colon separates.
_NFS = re.compile(r"^(%s|\[%s\]):(/[^\s]*)$" % (_NAME, _IPV6))
_DEVICE = re.compile(r"^(?:/dev/[A-Za-z0-9._/:+-]+|UUID=[A-Za-z0-9-]+|LABEL=[A-Za-z0-9._-]+"
                     r"|PARTUUID=[A-Za-z0-9-]+)$")
_PATH = re.compile(r"^/[A-Za-z0-9._/+@:-]*$")
_ARG = re.compile(r"^[A-Za-z0-9._/=:,+@-]+$")
_MODULE = re.compile(r"^[A-Za-z0-9_-]+$")
_KEYTYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
             "sk-ecdsa-sha2-nistp256@openssh.com")
# makedumpfile's flags the module sets itself (dump level, compression, flattening).
RESERVED_ARGS = ("-F", "-c", "-l", "-p", "-z", "-E", "-R")


class TargetError(ValueError):
    """A description that cannot be written as meant; the message names the value and why."""


def check(pattern, name, value, expected):
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


def split_ssh(value):
    """``(user, host)`` of ``user@host``; an IPv6 host loses its brackets."""
    user, host = value.split("@", 1)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return user, host


def is_ipv6(host):
    return ":" in host


def url_host(host):
    """A host as it goes into a URL or ``host:port``: an IPv6 address in brackets."""
    return "[%s]" % host if is_ipv6(host) else host


def nfs_join(export, path):
    server, directory = export.rsplit(":/", 1)
    directory = "/" + directory
    if path and path != "/":
        directory = posixpath.normpath(directory.rstrip("/") + "/" + path.lstrip("/"))
    return "%s:%s" % (server, directory)


def split_export(joined, export):
    """The nfs target of ``joined`` (EXPORT/PATH as one, as kdump-tools' NFS and SUSE's URL
    hold it): ``export`` and the path below it when ``joined`` lies in ``export``, else the
    whole as the export with path ``/``."""
    if export and ":/" in export:
        base = export.rstrip("/")
        if joined == export or joined == base or joined.startswith(base + "/"):
            return dict(type="nfs", nfs=export, path=joined[len(base):] or "/")
    return dict(type="nfs", nfs=joined, path="/")


# --- the registry --------------------------------------------------------------------------

def _validate_device(target, values):
    target.device = check(_DEVICE, "device", values.get("device"),
                          "/dev/NAME, UUID=, LABEL= or PARTUUID=")


def _validate_fs(target, values):
    _validate_device(target, values)
    fstype = values.get("fstype")
    if fstype is not None:
        if fstype not in FS_TYPES:
            raise TargetError("fstype: %r is not supported by kdump; expected one of %s"
                              % (fstype, ", ".join(FS_TYPES)))
        target.fstype = fstype


def _validate_raw(target, values):
    _validate_device(target, values)
    if not target.device.startswith("/dev/"):
        raise TargetError("device: %r: a raw target is a block device path (/dev/...),"
                          " since nothing on it names it" % (target.device,))


def _validate_nfs(target, values):
    target.nfs = check(_NFS, "nfs", values.get("nfs"),
                       "SERVER:/EXPORT (an IPv6 server in brackets: [2001:db8::1]:/export)")


def _validate_ssh(target, values):
    target.ssh = check(_SSH, "ssh", values.get("ssh"),
                       "USER@HOST (a lower-case user name; an IPv6 address bare, as"
                       " kdump@2001:db8::1, or in brackets)")
    user, host = split_ssh(target.ssh)
    # One spelling: an IPv6 address without brackets (the form kdump.conf documents).
    target.ssh = "%s@%s" % (user, host)
    port = values.get("ssh_port", 22)
    try:
        target.ssh_port = int(22 if port is None else port)
    except (TypeError, ValueError):
        target.ssh_port = 0
    if not 0 < target.ssh_port < 65536:
        raise TargetError("ssh_port: %r is not a TCP port; expected 1-65535" % (port,))
    target.ssh_key = check(_PATH, "ssh_key", values.get("ssh_key") or DEFAULT_SSH_KEY,
                           "the absolute path of the private key")
    if values.get("ssh_host_key"):
        keytype, blob = parse_host_key(values["ssh_host_key"])
        target.ssh_host_key = "%s %s" % (keytype, blob)


def _location_local(target, mountpoint):
    return target.path


def _location_fs(target, mountpoint):
    return "%s:%s" % (target.device, target.path) + (
        " (mounted on %s)" % mountpoint if mountpoint else "")


def _location_raw(target, mountpoint):
    return target.device


def _location_nfs(target, mountpoint):
    return "nfs:%s" % nfs_join(target.nfs, target.path)


def _location_ssh(target, mountpoint):
    port = "" if target.ssh_port == 22 else " port %d" % target.ssh_port
    return "ssh:%s:%s%s" % (target.ssh, target.path, port)


class TargetType(object):
    """One target type: ``options`` it takes beyond the common ones, ``required`` among
    them, the default ``path``, its validation, its location text, the pre-flight check
    (a function name in target/preflight.py), whether the dump leaves the host, and the
    extra packages it needs (a key into each family's ``type_packages``)."""

    def __init__(self, name, options, required, default_path, validate, location, preflight,
                 remote=False, packages=None, summary="", noun=None):
        self.name = name
        self.noun = noun or "%s target" % name
        self.options = tuple(options)
        self.required = tuple(required)
        self.default_path = default_path
        self.validate = validate
        self.location = location
        self.preflight = preflight
        self.remote = remote
        self.packages = packages
        self.summary = summary


REGISTRY = {}
for _type in (
        TargetType("local", (), (), "/var/crash", lambda t, v: None, _location_local,
                   "check_local", summary="a directory on the root filesystem"),
        TargetType("fs", ("device", "fstype"), ("device",), "/", _validate_fs, _location_fs,
                   "check_local", summary="a directory on another filesystem, by device,"
                   " UUID= or LABEL="),
        TargetType("raw", ("device",), ("device",), "/", _validate_raw, _location_raw,
                   "check_raw", summary="a block device the dump is written to",
                   noun="raw device target"),
        TargetType("nfs", ("nfs",), ("nfs",), "/var/crash", _validate_nfs, _location_nfs,
                   "check_nfs", remote=True, packages="nfs", summary="a directory on an NFS export"),
        TargetType("ssh", ("ssh", "ssh_port", "ssh_key", "ssh_host_key"), ("ssh",), "/var/crash",
                   _validate_ssh, _location_ssh, "check_ssh", remote=True,
                   summary="a directory on an SSH dump server"),
):
    REGISTRY[_type.name] = _type
TYPES = tuple(REGISTRY)
# Every option a type can take, and the options every type takes.
TYPE_OPTIONS = tuple(sorted(set(o for t in REGISTRY.values() for o in t.options)))
COMMON_OPTIONS = ("path", "dump_level", "compression", "makedumpfile_args", "failure_action",
                  "final_action", "keep", "cmdline_append", "extra_modules")
OPTIONS = ("type",) + TYPE_OPTIONS + COMMON_OPTIONS


def get_type(name):
    if name not in REGISTRY:
        raise TargetError("type: %r is not a target type; expected one of %s"
                          % (name, ", ".join(TYPES)))
    return REGISTRY[name]


class Target(object):
    """The neutral description, validated. Attribute names match the module options."""

    def __init__(self, type="local", **values):
        unknown = set(values) - set(OPTIONS)
        if unknown:
            raise TargetError("unknown target options: %s; expected %s"
                              % (", ".join(sorted(unknown)), ", ".join(OPTIONS)))
        kind = get_type(type)
        self.type = type
        self.kind = kind
        path = values.get("path")
        self.path = posixpath.normpath(check(
            _PATH, "path", kind.default_path if path in (None, "") else path,
            "an absolute path of letters, digits and ._/+@:-"))
        self.device = self.fstype = self.nfs = self.ssh = self.ssh_key = None
        self.ssh_host_key = None
        self.ssh_port = 22
        for name in kind.required:
            if values.get(name) in (None, ""):
                raise TargetError("%s: %r is not valid; a %s target needs it"
                                  % (name, values.get(name), type))
        kind.validate(self, values)
        dump_level = values.get("dump_level", 31)
        try:
            self.dump_level = int(31 if dump_level is None else dump_level)
        except (TypeError, ValueError):
            self.dump_level = -1
        if not 0 <= self.dump_level <= 31:
            raise TargetError("dump_level: %r is not a makedumpfile dump level; expected 0-31"
                              % (dump_level,))
        compression = values.get("compression") or "auto"
        if compression not in COMPRESSIONS:
            raise TargetError("compression: %r is not supported; expected one of %s"
                              % (compression, ", ".join(COMPRESSIONS)))
        self.compression = compression
        self.makedumpfile_args = []
        for arg in values.get("makedumpfile_args") or []:
            arg = check(_ARG, "makedumpfile_args", arg,
                        "one argument per item, without spaces, quotes or shell characters")
            if arg in RESERVED_ARGS or arg.startswith("-d"):
                raise TargetError("makedumpfile_args: %r is set by the module (use dump_level,"
                                  " compression; flattening follows the transport)" % arg)
            self.makedumpfile_args.append(arg)
        for name, choices in (("failure_action", ACTIONS), ("final_action", FINAL_ACTIONS)):
            value = values.get(name)
            if value is not None and value not in choices:
                raise TargetError("%s: %r is not an action; expected one of %s"
                                  % (name, value, ", ".join(choices)))
            setattr(self, name, value)
        keep = values.get("keep")
        try:
            self.keep = None if keep is None else int(keep)
        except (TypeError, ValueError):
            self.keep = -1
        if self.keep is not None and self.keep < 0:
            raise TargetError("keep: %r is not a number of dumps; expected 0 (keep all) or more"
                              % (keep,))
        self.cmdline_append = [check(_ARG, "cmdline_append", word,
                                     "one kernel argument per item, without spaces or quotes")
                               for word in values.get("cmdline_append") or []]
        self.extra_modules = [check(_MODULE, "extra_modules", name, "a kernel module name")
                              for name in values.get("extra_modules") or []]

    @property
    def remote(self):
        return self.kind.remote

    @property
    def ssh_user(self):
        return split_ssh(self.ssh)[0]

    @property
    def ssh_host(self):
        return split_ssh(self.ssh)[1]

    def location(self, mountpoint=None):
        """Where the dumps go, for people: ``/var/crash``, ``UUID=...:/dumps``, ``user@host:/p``."""
        return self.kind.location(self, mountpoint)

    def describe(self):
        """The options this description sets, as read_back returns them."""
        out = dict(type=self.type, path=self.path)
        for name in self.kind.options:
            out[name] = getattr(self, name)
        for name in COMMON_OPTIONS:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, list) else value
        return out
