# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every family's target writer shares: the plan, makedumpfile's words, fstab,
known_hosts pinning and the system directories no dump goes to.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

from ansible_collections.crashdump.kdump.plugins.module_utils.target.types import TargetError

# makedumpfile's flag per page compression; -c (zlib) is always built in.
FLAGS = {"zlib": "-c", "lzo": "-l", "snappy": "-p", "zstd": "-z"}
AUTO_ORDER = ("zstd", "lzo", "zlib")


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
        self.notes = []

    def is_empty(self):
        return not self.files

    def set(self, path, old, new, mode=0o644):
        if old != new:
            self.files[path] = new
            self.modes[path] = mode


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


def parse_makedumpfile_words(words):
    """``(dump_level, compression, flattened, other args)`` of makedumpfile's arguments
    (the inverse of makedumpfile_words; ``--message-level N`` is dropped)."""
    level, compression, flattened, other = 31, "none", False, []
    by_flag = dict((flag, name) for name, flag in FLAGS.items())
    index = 0
    while index < len(words):
        word = words[index]
        if word == "-d" and index + 1 < len(words):
            try:
                level = int(words[index + 1])
            except ValueError:
                other += [word, words[index + 1]]
            index += 2
            continue
        if word.startswith("-d") and word[2:].isdigit():
            level = int(word[2:])
        elif word == "--message-level" and index + 1 < len(words):
            index += 2
            continue
        elif word in by_flag:
            compression = by_flag[word]
        elif word == "-F":
            flattened = True
        else:
            other.append(word)
        index += 1
    return level, compression, flattened, other


def merge_words(current, extra):
    words = (current or "").split()
    for word in extra:
        if word not in words:
            words.append(word)
    return " ".join(words)


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


def join_under(mountpoint, path):
    return posixpath.normpath(mountpoint.rstrip("/") + "/" + path.lstrip("/"))


def relative_to(mountpoint, directory):
    """``directory`` as a path inside the filesystem mounted on ``mountpoint`` (None when it
    is not below it)."""
    mountpoint = posixpath.normpath(mountpoint)
    directory = posixpath.normpath(directory)
    if mountpoint == "/":
        return directory
    if directory == mountpoint:
        return "/"
    if directory.startswith(mountpoint + "/"):
        return directory[len(mountpoint):]
    return None


def fs_dir(target, facts, package):
    """``(directory, mountpoint)`` of an fs target on this host, from its fstab entry."""
    mount = fstab_mount(facts.get("fstab", ""), target.device, facts.get("device_aliases", ()))
    if mount is None:
        raise TargetError("fs target %s is not in /etc/fstab: %s mounts the dump filesystem from"
                          " fstab when the capture kernel boots, so add it there (with its"
                          " mount point) first" % (target.device, package))
    return join_under(mount[0], target.path), mount[0]


def fs_record(target):
    """The collection's record of an fs target beside the directory the tool uses (Debian,
    SUSE): ``DEVICE PATH [FSTYPE]`` (none of them holds a space)."""
    return " ".join([target.device, target.path] + ([target.fstype] if target.fstype else []))


def read_fs_record(record, directory):
    """The fs target a record describes, when ``directory`` (where the tool writes) ends with
    its path; else None (the file was changed by hand since: a local directory)."""
    words = (record or "").split()
    if len(words) not in (2, 3):
        return None
    path = posixpath.normpath(words[1])
    if path != "/" and not posixpath.normpath(directory).endswith(path):
        return None
    return dict(type="fs", device=words[0], path=path,
                fstype=words[2] if len(words) == 3 else None)


def known_hosts_name(host, port):
    if port == 22:
        return host
    return "[%s]:%d" % (host, port)


def pin(text, host, port, key):
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


def pinned_key(text, host, port):
    """The first pinned key (``type base64``) for ``host`` in a known_hosts text, or None."""
    name = known_hosts_name(host, port)
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) >= 3 and not line.startswith("#") and name in words[0].split(","):
            return "%s %s" % (words[1], words[2])
    return None


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


class FamilyTarget(object):
    """Base of a family's writer and reader. ``family`` is its record (family/records.py);
    ``plan`` (calling ``write_<type>``) and ``read`` are the family's."""

    family = None

    def unsupported(self, what, hint=""):
        raise TargetError("%s is not supported by %s on this family (%s)%s" % (
            what, self.family.tool, self.family.name, "; " + hint if hint else ""))

    def check_supported(self, target):
        if not self.family.supports(target.type):
            self.unsupported("a " + target.kind.noun, self.hints.get(target.type, ""))

    hints = {}
