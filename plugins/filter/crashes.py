# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet's crashes (playbook crashdump.kdump.crashes): every dump that vmcore_info listed on
the hosts' local targets and on the dump servers, newest first, grouped by crash signature, with
the dumps that can go marked.

Pure logic: the playbook lists, this filter decides, the playbook removes. What is marked:

- never the newest dump of a signature, never a dump without a signature (nothing says it is a
  duplicate), never a dump whose file is still incomplete (it may be being written);
- test crashes (sysrq-c) beyond the newest valid one of their signature;
- other crashes beyond the ``keep`` newest valid dumps of their signature;
- never an older dump while no valid newer one of its signature is kept (a truncated newest
  dump does not push out the last good one).

What goes is the dump's own directory (kdump-tools ``/var/crash/TIMESTAMP/`` with ``dump.*`` and
``dmesg.*``; kdumpctl ``ADDRESS-DATE/`` with ``vmcore`` and ``vmcore-dmesg.txt``), or the file
alone when it lies directly in the listed directory (or a client's directory on a dump server) or
shares its directory with a dump that stays.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import math
import posixpath
import re
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

from ansible_collections.crashdump.kdump.plugins.module_utils.target.preflight import human
from ansible_collections.crashdump.kdump.plugins.plugin_utils._filters import guarded

UTC = datetime.timezone.utc
LAYOUTS = ("local", "clients", "named")
# How kdump tools name a dump's directory on a shared (NFS) target: ADDRESS-2026-12-03-12:00:00
# (kdumpctl), ADDRESS-202612031200 or HOSTNAME-202612031200 (kdump-tools).
_STAMP = re.compile(r"-(?:\d{4}-\d{2}-\d{2}-\d{2}:\d{2}(?::\d{2})?|\d{12,14})$")


def iso(epoch):
    """``1764763200`` -> ``2025-12-03T12:00:00Z`` (None for what is not a time)."""
    try:
        return datetime.datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and math.isfinite(value) and abs(value) < 1e13:
        return value
    return None


def _text(value):
    return value if isinstance(value, str) else None


def _inside(path, directory):
    """Whether ``path`` lies strictly below ``directory`` (both normalised, absolute)."""
    return path != directory and path.startswith(directory.rstrip("/") + "/")


def owner_and_base(source, path):
    """``(whose dump, the directory the dump's own directory lies in)`` for a dump at ``path``."""
    root = source["directory"]
    layout = source["layout"]
    if layout == "local":
        return source["host"], root
    relative = posixpath.relpath(path, root).split("/")
    if layout == "clients":
        # A crashdump.kdump.dump_server: one directory per client, named after it.
        if len(relative) < 2:
            return None, root
        return relative[0], posixpath.join(root, relative[0])
    # A shared export: the dump's directory says whose it is, as the kdump tool named it.
    if len(relative) < 2:
        return None, root
    name = _STAMP.sub("", relative[-2])
    if name == relative[-2]:
        return None, root
    aliases = source.get("aliases") or {}
    return aliases.get(name, name), posixpath.dirname(posixpath.dirname(path))


def _signature(value):
    if not isinstance(value, Mapping) or not _text(value.get("hash")):
        return None
    frames = value.get("frames")
    frames = [frame for frame in frames if isinstance(frame, str)] if isinstance(frames, list) else []
    return {"hash": value["hash"], "title": _text(value.get("title")) or "", "test": value.get("test") is True,
            "frames": frames}


def dump_row(source, dump):
    """One dump of a vmcore_info listing, for the report."""
    path = _text(dump.get("path"))
    if not path or not path.startswith("/"):
        raise AnsibleFilterError("crashes: a dump of %s without an absolute path: %r" % (source["host"], path))
    path = posixpath.normpath(path)
    if not _inside(path, source["directory"]):
        raise AnsibleFilterError("crashes: the dump %s of %s is not below the listed directory %s"
                                 % (path, source["host"], source["directory"]))
    owner, base = owner_and_base(source, path)
    crash_time, mtime = _number(dump.get("crash_time")), _number(dump.get("mtime"))
    when = crash_time if crash_time is not None else mtime
    size = _number(dump.get("size")) or 0
    tail = dump.get("dmesg_tail")
    log = [line for line in tail if isinstance(line, str)] if isinstance(tail, list) else []
    reasons = dump.get("reasons")
    return {
        "id": "%s:%s" % (source["host"], path),
        "host": owner or "unknown",
        "dump_host": source["host"],
        "source": source["layout"],
        "directory": source["directory"],
        "path": path,
        "base": base,
        "time": int(when) if when is not None else None,
        "time_iso": iso(when),
        "time_source": "crash" if crash_time is not None else ("mtime" if mtime is not None else None),
        "kernel": _text(dump.get("kernel")),
        "format": _text(dump.get("format")),
        "size": int(size),
        "size_human": human(int(size)),
        "valid": dump.get("valid") is True,
        "reasons": [reason for reason in reasons if isinstance(reason, str)] if isinstance(reasons, list) else [],
        "panic": _text(dump.get("dmesg_panic")),
        "dmesg_source": _text(dump.get("dmesg_source")),
        "log": log,
        "signature": _signature(dump.get("signature")),
        "incomplete": "incomplete" in posixpath.basename(path),
    }


def _source(value, index):
    if not isinstance(value, Mapping):
        raise AnsibleFilterError("crashes: source %d is %r; expected a dict with host, layout, directory"
                                 " and dumps" % (index, value))
    host, directory = _text(value.get("host")), _text(value.get("directory"))
    layout = value.get("layout", "local")
    if not host or not directory or not directory.startswith("/") or layout not in LAYOUTS:
        raise AnsibleFilterError("crashes: source %d needs host (a string), directory (an absolute path)"
                                 " and layout (one of %s); got %r, %r, %r"
                                 % (index, ", ".join(LAYOUTS), host, directory, layout))
    dumps = value.get("dumps") or []
    if not isinstance(dumps, Sequence) or isinstance(dumps, (str, bytes)) or \
            not all(isinstance(dump, Mapping) for dump in dumps):
        raise AnsibleFilterError("crashes: the dumps of %s (%s) are %r; expected vmcore_info's list of dicts"
                                 % (host, directory, dumps))
    aliases = value.get("aliases") or {}
    if not isinstance(aliases, Mapping):
        raise AnsibleFilterError("crashes: aliases of %s must be a dict, got %r" % (host, aliases))
    return {"host": host, "layout": layout, "directory": posixpath.normpath(directory), "dumps": list(dumps),
            "aliases": dict(aliases), "error": _text(value.get("error"))}


def _order(row):
    return (-(row["time"] if row["time"] is not None else -1), row["host"], row["dump_host"], row["path"])


def mark(rows, keep):
    """Set ``mark``, ``mark_reason`` and ``kept_for`` on each row (rows newest first)."""
    groups = {}
    for row in rows:
        row.update(mark=False, mark_reason=None, kept_for=None)
        if row["signature"] is not None:
            groups.setdefault(row["signature"]["hash"], []).append(row)
    for group in groups.values():
        limit = 1 if group[0]["signature"]["test"] else keep
        kept = []
        for position, row in enumerate(group):
            if position == 0 or row["incomplete"] or (row["valid"] and len(kept) < limit):
                if row["valid"]:
                    kept.append(row)
                continue
            if not kept:
                continue
            row["mark"] = True
            row["kept_for"] = kept[0]["id"]
            row["mark_reason"] = ("test crash; the newest test crash of this signature is kept"
                                  if row["signature"]["test"] else
                                  "duplicate; %d newer dump%s of this signature kept"
                                  % (len(kept), "" if len(kept) == 1 else "s"))
    # What goes: the dump's directory, unless it is the base or holds a dump that stays.
    staying = set((row["dump_host"], posixpath.dirname(row["path"])) for row in rows if not row["mark"])
    for row in rows:
        row["remove"] = None
        if row["mark"]:
            parent = posixpath.dirname(row["path"])
            whole = _inside(parent, row["base"]) and (row["dump_host"], parent) not in staying
            row["remove"] = parent if whole else row["path"]
    return groups


def _group(rows):
    newest, oldest = rows[0], rows[-1]
    times = [row["time"] for row in rows if row["time"] is not None]
    signature = newest["signature"]
    return {
        "hash": signature["hash"], "title": signature["title"], "test": signature["test"],
        "frames": signature["frames"], "count": len(rows),
        "hosts": sorted(set(row["host"] for row in rows)),
        "first_seen": min(times) if times else None, "first_seen_iso": iso(min(times)) if times else None,
        "last_seen": max(times) if times else None, "last_seen_iso": iso(max(times)) if times else None,
        "newest": newest["id"], "oldest": oldest["id"],
        "kernels": sorted(set(row["kernel"] for row in rows if row["kernel"])),
        "marked": sum(1 for row in rows if row["mark"]),
    }


@guarded("crashes", "a list of dicts with host, layout, directory and dumps (vmcore_info's), then keep (an int >= 1)")
def crashes(sources, keep=1):
    """The fleet's dumps, newest first, their signatures and the dumps marked for removal."""
    if not isinstance(sources, Sequence) or isinstance(sources, (str, bytes)):
        raise AnsibleFilterError("crashes: expected a list of sources, got %r" % (sources,))
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise AnsibleFilterError("crashes: keep must be an integer of at least 1, got %r" % (keep,))
    checked = [_source(value, index) for index, value in enumerate(sources)]
    rows, seen = [], set()
    for source in checked:
        for dump in source["dumps"]:
            row = dump_row(source, dump)
            if row["id"] in seen:       # a directory listed twice (a server that is also a client)
                continue
            seen.add(row["id"])
            rows.append(row)
    rows.sort(key=_order)
    groups = mark(rows, keep)
    signatures = sorted((_group(group) for group in groups.values()),
                        key=lambda item: (-(item["last_seen"] or -1), -item["count"], item["hash"]))
    for row in rows:
        del row["base"]
    marked = [row for row in rows if row["mark"]]
    return {
        "summary": {
            "dumps": len(rows), "signatures": len(signatures),
            "hosts": len(set(row["host"] for row in rows)),
            "test_crashes": sum(1 for row in rows if row["signature"] and row["signature"]["test"]),
            "unsigned": sum(1 for row in rows if row["signature"] is None),
            "invalid": sum(1 for row in rows if not row["valid"]),
            "marked": len(marked), "marked_bytes": sum(row["size"] for row in marked),
            "marked_human": human(sum(row["size"] for row in marked)),
        },
        "signatures": signatures,
        "dumps": rows,
        "marked": [{"id": row["id"], "host": row["host"], "dump_host": row["dump_host"], "path": row["path"],
                    "remove": row["remove"], "reason": row["mark_reason"], "kept_for": row["kept_for"]}
                   for row in marked],
        "errors": [{"host": source["host"], "directory": source["directory"], "error": source["error"]}
                   for source in checked if source["error"]],
    }


class FilterModule(object):
    """The fleet's crashes."""

    def filters(self):
        return {"crashes": crashes}
