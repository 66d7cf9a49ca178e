# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How big the dump will be, measured on the running host with ``makedumpfile --mem-usage``.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

``makedumpfile --mem-usage /proc/kcore`` (root only, a reserved crash kernel, kernel 4.11 or
later) walks the running kernel's page structures with every filter on and prints how many
pages of each kind it found::

    TYPE            PAGES                   EXCLUDABLE      DESCRIPTION
    ----------------------------------------------------------------------
    ZERO            6556                    yes             Pages filled with zero
    ...
    KERN_DATA       41765                   no              Dumpable kernel data
    page size:              4096
    Total pages on system:  242603
    Total size on system:   993701888        Byte

``parse_mem_usage(text)`` reads that report, ``expected_bytes(report, dump_level)`` is the
size of the dump at a dump level before compression, ``free_page_filtering(report, meminfo)``
says when makedumpfile cannot see the kernel's free pages (makedumpfile before 1.7.7 on
kernel 6.12), and ``estimate(...)`` puts them together with the /proc/meminfo model as the
fallback, for kdump_target and kdump_info.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.crashdump.kdump.plugins.module_utils.target.plan import (
    expected_dump_bytes,
    parse_meminfo,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.preflight import human

# The measurement; argv[0] is replaced by the makedumpfile found on PATH.
MEM_USAGE_ARGV = ("makedumpfile", "--mem-usage", "/proc/kcore")
SOURCE_MEASURED = "makedumpfile --mem-usage"
SOURCE_MODEL = "/proc/meminfo model"

# The rows of the table, in makedumpfile's order (print_mem_usage() in makedumpfile.c).
TYPES = ("ZERO", "NON_PRI_CACHE", "PRI_CACHE", "USER", "FREE", "KERN_DATA")
# The dump level bits that exclude each row, as __exclude_unnecessary_pages() in
# makedumpfile.c tests them: 1 zero pages, 2 cache pages without the private flag, 4 cache
# pages with or without it (so 4 also drops NON_PRI_CACHE), 8 user pages, 16 free pages.
# KERN_DATA is never excluded. The rows are disjoint (each page is counted once); pages that
# are always excluded (hwpoisoned, offline) are in no row.
EXCLUDED_BY = {"ZERO": 1, "NON_PRI_CACHE": 2 | 4, "PRI_CACHE": 4, "USER": 8, "FREE": 16,
               "KERN_DATA": 0}

# The margin on top of the kept pages, each part of the kdump-compressed format
# (makedumpfile's diskdump_mod.h and write_kdump_header()/write_kdump_bitmap()):
# one page descriptor per written page - page_desc_t: off_t offset, unsigned int size,
# unsigned int flags, unsigned long long page_flags = 8 + 4 + 4 + 8 bytes.
PAGE_DESC_BYTES = 24
# The 1st and 2nd bitmaps, one bit per page each. makedumpfile sizes them by max_mapnr,
# which also counts memory holes; total_pages does not, and the growth below covers that.
BITMAP_BITS_PER_PAGE = 2
# disk_dump_header, kdump_sub_header, VMCOREINFO, the ELF notes (a few KiB per CPU) and
# the erase information: a few blocks and some KiB per CPU. 16 MiB is far above that and is
# the same fixed allowance the /proc/meminfo model has always added.
HEADER_ALLOWANCE = 16 << 20
# Memory use at crash time is not memory use now: the kept pages may grow by this much
# before a crash (the same 10 % the /proc/meminfo model adds).
GROWTH_PERCENT = 10

# Free-page filtering is judged only with this much free memory (a busy host has little
# MemFree, and a few MiB measured at a different moment say nothing).
FREE_CHECK_MIN_MEMFREE = 64 << 20
# makedumpfile must find at least this share of MemFree as free pages. A working one finds
# about all of it (the Debian 12 recording: 167944 pages = 656 MiB against MemFree 657 MiB);
# makedumpfile 1.7.6 on kernel 6.12 finds none.
FREE_FOUND_MIN_PERCENT = 10

ROW = re.compile(r"^([A-Z_]+)\s+(\d+)\s+(?:yes|no)\b")
FIELDS = (("page_size", re.compile(r"^page size:\s+(\d+)")),
          ("total_pages", re.compile(r"^Total pages on system:\s+(\d+)")),
          ("total_bytes", re.compile(r"^Total size on system:\s+(\d+)\s*Byte")))


class MemUsageError(ValueError):
    """The text is not a ``makedumpfile --mem-usage`` report; the message says what is missing."""


def parse_mem_usage(text):
    """``{"pages": {TYPE: count}, "page_size", "total_pages", "total_bytes", "warnings"}``
    from ``makedumpfile --mem-usage`` output; ``warnings`` are the lines printed before the
    table (such as "The kernel version is not supported."). MemUsageError names what is
    missing when ``text`` is not such a report."""
    lines = [line.rstrip() for line in (text or "").splitlines()]
    header = None
    for number, line in enumerate(lines):
        words = line.split()
        if words[:2] == ["TYPE", "PAGES"]:
            header = number
            break
    if header is None:
        first = next((line.strip() for line in lines if line.strip()), "")
        raise MemUsageError("not a makedumpfile --mem-usage report: no TYPE PAGES table"
                            " (it begins %r)" % first[:200])
    report = {"pages": {}, "warnings": [line.strip() for line in lines[:header] if line.strip()]}
    for line in lines[header + 1:]:
        match = ROW.match(line)
        if match:
            report["pages"][match.group(1)] = int(match.group(2))
        for name, pattern in FIELDS:
            match = pattern.match(line)
            if match:
                report[name] = int(match.group(1))
    missing = [name for name in TYPES if name not in report["pages"]]
    missing += [name.replace("_", " ") for name, _pattern in FIELDS[:2] if not report.get(name)]
    if missing:
        raise MemUsageError("makedumpfile --mem-usage report without %s" % ", ".join(missing))
    report.setdefault("total_bytes", report["page_size"] * report["total_pages"])
    return report


def kept_pages(report, dump_level):
    """The pages makedumpfile writes at ``dump_level``: the rows the level does not exclude.
    A row this module does not know (a later makedumpfile's) counts as kept."""
    return sum(count for name, count in report["pages"].items()
               if not dump_level & EXCLUDED_BY.get(name, 0))


def expected_bytes(report, dump_level):
    """The bytes makedumpfile writes at ``dump_level`` before compression: the kept pages
    with a page descriptor each, plus GROWTH_PERCENT of that, the two bitmaps and
    HEADER_ALLOWANCE. An upper estimate: the zero pages are counted after the other filters,
    so at a level that keeps free or cache pages more of them may be zero than the table says,
    and compression only makes the dump smaller."""
    data = kept_pages(report, dump_level) * (report["page_size"] + PAGE_DESC_BYTES)
    bitmaps = (report["total_pages"] * BITMAP_BITS_PER_PAGE + 7) // 8
    return data + data * GROWTH_PERCENT // 100 + bitmaps + HEADER_ALLOWANCE


def free_page_filtering(report, meminfo_bytes):
    """None when makedumpfile finds the kernel's free pages, else what it costs:
    ``{"free_pages", "free_bytes", "memfree_bytes", "unfiltered_bytes"}`` - the free pages it
    found, MemFree, and the free memory that dump level bit 16 should exclude but cannot
    (written into every dump). ``meminfo_bytes`` is /proc/meminfo as parse_meminfo reads it
    (bytes per field), read just before the measurement."""
    memfree = meminfo_bytes.get("MemFree", 0)
    found = report["pages"]["FREE"] * report["page_size"]
    if memfree <= FREE_CHECK_MIN_MEMFREE or found * 100 >= memfree * FREE_FOUND_MIN_PERCENT:
        return None
    return {"free_pages": report["pages"]["FREE"], "free_bytes": found, "memfree_bytes": memfree,
            "unfiltered_bytes": memfree - found}


def free_page_warning(problem, version, release, dump_level):
    """The warning for free_page_filtering's ``problem`` on makedumpfile ``version`` and
    kernel ``release``."""
    return ("makedumpfile %s cannot find the free pages of kernel %s: --mem-usage counts %d free"
            " pages (%s) while /proc/meminfo has %s free, so dump level %d still writes about %s"
            " of free memory into every dump; makedumpfile 1.7.7 fixes this for kernel 6.12"
            " (upstream commit 72c3414)" % (
                version or "(version unknown)", release, problem["free_pages"],
                human(problem["free_bytes"]), human(problem["memfree_bytes"]), dump_level,
                human(problem["unfiltered_bytes"])))


def estimate(dump_level, meminfo_text, run=None, makedumpfile=None):
    """The expected dump size of this host at ``dump_level``: measured by running
    MEM_USAGE_ARGV with the makedumpfile at ``makedumpfile`` through ``run`` (argv ->
    ``(rc, out, err)``) when both are given (the caller knows whether it is root), else, or
    when the measurement fails, the /proc/meminfo model of ``meminfo_text``.

    ``{"bytes", "source", "dump_level", "free_pages", "error"}``: ``free_pages`` is
    free_page_filtering's finding when dump level bit 16 is set (else None: free pages are
    written anyway), ``error`` why a measurement that was tried is not used (else None).
    """
    meminfo = parse_meminfo(meminfo_text)
    out = {"bytes": None, "source": SOURCE_MODEL, "dump_level": dump_level, "free_pages": None,
           "error": None}
    if run and makedumpfile:
        argv = [makedumpfile] + list(MEM_USAGE_ARGV[1:])
        rc, text, err = run(argv)
        if rc != 0:
            detail = (err or text or "").strip().splitlines()
            out["error"] = "%s failed (rc=%s)%s" % (" ".join(argv), rc,
                                                    ": " + detail[-1] if detail else "")
        else:
            try:
                report = parse_mem_usage(text)
            except MemUsageError as exc:
                out["error"] = str(exc)
            else:
                out["bytes"] = expected_bytes(report, dump_level)
                out["source"] = SOURCE_MEASURED
                if dump_level & EXCLUDED_BY["FREE"]:
                    out["free_pages"] = free_page_filtering(report, meminfo)
    if out["bytes"] is None:
        out["bytes"] = expected_dump_bytes(meminfo, dump_level)
    return out
