# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""makedumpfile --mem-usage: the report, the dump size per dump level, and free pages that a
makedumpfile cannot see (tests/unit/fixtures/memusage, see its README)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.target.memusage import (
    MEM_USAGE_ARGV,
    SOURCE_MEASURED,
    SOURCE_MODEL,
    MemUsageError,
    estimate,
    expected_bytes,
    free_page_filtering,
    free_page_warning,
    parse_mem_usage,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.target.plan import (
    expected_dump_bytes,
    parse_meminfo,
)

MEMUSAGE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "memusage")
DEBIAN12 = "debian12-6.1.0-50-amd64-1.7.2"
DERIVED_613 = "derived-debian13-6.12-free0-from-debian12.mem-usage"
MIB = 1 << 20


def fixture(name):
    with open(os.path.join(MEMUSAGE, name)) as handle:
        return handle.read()


REPORT = fixture(DEBIAN12 + ".mem-usage")
MEMINFO = fixture(DEBIAN12 + ".meminfo")
BROKEN = fixture(DERIVED_613)

# The Debian 12 table, copied by hand from the recording.
ZERO, NON_PRI_CACHE, PRI_CACHE, USER, FREE, KERN_DATA = 6556, 18741, 3607, 3990, 167944, 41765
TOTAL_PAGES, PAGE = 242603, 4096


def by_hand(kept_pages):
    """The margin worked out by hand: 24 bytes of page descriptor per kept page, 10 % growth,
    two bitmaps of one bit per page (242603 * 2 / 8 = 60650.75, rounded up), 16 MiB."""
    data = kept_pages * (PAGE + 24)
    return data + data // 10 + 60651 + 16 * MIB


def test_parse_the_debian12_recording():
    report = parse_mem_usage(REPORT)
    assert report["pages"] == {"ZERO": ZERO, "NON_PRI_CACHE": NON_PRI_CACHE, "PRI_CACHE": PRI_CACHE,
                               "USER": USER, "FREE": FREE, "KERN_DATA": KERN_DATA}
    assert report["page_size"] == PAGE
    assert report["total_pages"] == TOTAL_PAGES
    assert report["total_bytes"] == 993701888 == TOTAL_PAGES * PAGE
    assert report["warnings"] == ["The kernel version is not supported.",
                                  "The makedumpfile operation may be incomplete."]
    # The rows add up to the total on this host (no hwpoisoned or offline pages).
    assert sum(report["pages"].values()) == TOTAL_PAGES


def test_a_report_without_warnings_has_none():
    text = REPORT.split("\n\n", 1)[1]
    assert parse_mem_usage(text)["warnings"] == []


@pytest.mark.parametrize("level, kept", [
    (0, ZERO + NON_PRI_CACHE + PRI_CACHE + USER + FREE + KERN_DATA),   # everything: 242603
    (1, NON_PRI_CACHE + PRI_CACHE + USER + FREE + KERN_DATA),          # no zero pages
    (2, ZERO + PRI_CACHE + USER + FREE + KERN_DATA),                   # no cache without private
    (4, ZERO + USER + FREE + KERN_DATA),                               # no cache at all
    (8, ZERO + NON_PRI_CACHE + PRI_CACHE + FREE + KERN_DATA),          # no user pages
    (16, ZERO + NON_PRI_CACHE + PRI_CACHE + USER + KERN_DATA),         # no free pages
    (31, KERN_DATA),                                                   # kernel data only
])
def test_expected_bytes_per_dump_level(level, kept):
    assert expected_bytes(parse_mem_usage(REPORT), level) == by_hand(kept)


def test_expected_bytes_in_numbers():
    """The three levels worked out in full: 0 keeps 242603 pages, 1 keeps 236047, 31 keeps
    the 41765 pages of kernel data."""
    report = parse_mem_usage(REPORT)
    assert expected_bytes(report, 0) == 993701888 + 5822472 + 99952436 + 60651 + 16777216
    assert expected_bytes(report, 1) == 966848512 + 5665128 + 97251364 + 60651 + 16777216
    assert expected_bytes(report, 31) == 171069440 + 1002360 + 17207180 + 60651 + 16777216
    assert expected_bytes(report, 31) == 206116847


def test_a_row_of_a_later_makedumpfile_counts_as_kept():
    text = REPORT.replace("KERN_DATA\t", "HWPOISON\t5               \tyes\t\tHardware poisoned pages\nKERN_DATA\t")
    report = parse_mem_usage(text)
    assert report["pages"]["HWPOISON"] == 5
    assert expected_bytes(report, 31) == by_hand(KERN_DATA + 5)


def test_a_working_makedumpfile_filters_free_pages():
    assert free_page_filtering(parse_mem_usage(REPORT), parse_meminfo(MEMINFO)) is None


def test_makedumpfile_that_finds_no_free_pages_is_reported():
    report = parse_mem_usage(BROKEN)
    assert report["pages"]["FREE"] == 0 and report["pages"]["KERN_DATA"] == KERN_DATA + FREE
    memfree = 673036 * 1024
    assert free_page_filtering(report, parse_meminfo(MEMINFO)) == {
        "free_pages": 0, "free_bytes": 0, "memfree_bytes": memfree, "unfiltered_bytes": memfree}
    # The free pages are now kernel data, so level 31 keeps them, and the size says so.
    assert expected_bytes(report, 31) == by_hand(KERN_DATA + FREE)


@pytest.mark.parametrize("free_pages, memfree_kb, broken", [
    (0, 673036, True),
    (16825, 673036, True),      # 65.7 MiB found of 657 MiB free: under 10 %
    (16826, 673036, False),     # 10 % found
    (0, 65536, False),          # 64 MiB free: too little to judge
    (0, 65537, True),
])
def test_the_free_page_threshold(free_pages, memfree_kb, broken):
    report = parse_mem_usage(REPORT)
    report["pages"]["FREE"] = free_pages
    problem = free_page_filtering(report, {"MemFree": memfree_kb * 1024})
    assert (problem is not None) is broken
    if broken:
        assert problem["unfiltered_bytes"] == memfree_kb * 1024 - free_pages * PAGE


def test_the_warning_names_versions_kernel_and_size():
    problem = free_page_filtering(parse_mem_usage(BROKEN), parse_meminfo(MEMINFO))
    text = free_page_warning(problem, "1.7.6", "6.12.48+deb13-amd64", 31)
    assert text == (
        "makedumpfile 1.7.6 cannot find the free pages of kernel 6.12.48+deb13-amd64: --mem-usage"
        " counts 0 free pages (0 B) while /proc/meminfo has 657.3 MiB free, so dump level 31 still"
        " writes about 657.3 MiB of free memory into every dump; makedumpfile 1.7.7 fixes this for"
        " kernel 6.12 (upstream commit 72c3414)")
    assert "(version unknown)" in free_page_warning(problem, None, "6.12.48+deb13-amd64", 31)


@pytest.mark.parametrize("text, missing", [
    ("", "no TYPE PAGES table"),
    ("makedumpfile: invalid option -- '-mem-usage'\n", "it begins \"makedumpfile: invalid option"),
    ("The kernel version is not supported.\n", "no TYPE PAGES table"),
    (REPORT.replace("PRI_CACHE\t3607", "PRICACHE\t3607"), "without PRI_CACHE"),
    (REPORT.split("page size:")[0], "without page size, total pages"),
    (REPORT.replace("Total pages on system:\t242603", "Total pages:"), "without total pages"),
    (REPORT.replace("4096   ", "0   "), "without page size"),
    (REPORT.replace("ZERO\t\t6556", "ZERO\t\tmany"), "without ZERO"),
])
def test_garbage_is_refused_naming_what_is_missing(text, missing):
    with pytest.raises(MemUsageError) as info:
        parse_mem_usage(text)
    assert missing in str(info.value)
    assert isinstance(info.value, ValueError)


def runner(answer):
    calls = []

    def run(argv):
        calls.append(argv)
        return answer

    return run, calls


def test_estimate_measures_with_the_argv():
    run, calls = runner((0, REPORT, ""))
    found = estimate(31, MEMINFO, run, "/usr/sbin/makedumpfile")
    assert calls == [["/usr/sbin/makedumpfile", "--mem-usage", "/proc/kcore"]]
    assert list(MEM_USAGE_ARGV) == ["makedumpfile", "--mem-usage", "/proc/kcore"]
    assert found == {"bytes": 206116847, "source": SOURCE_MEASURED, "dump_level": 31,
                     "free_pages": None, "error": None}


@pytest.mark.parametrize("answer, error", [
    ((1, "", "show_mem_usage: No memory is reserved for crashkernel!\n"),
     "/usr/sbin/makedumpfile --mem-usage /proc/kcore failed (rc=1): show_mem_usage: No memory is"
     " reserved for crashkernel!"),
    ((0, "Commandline parameter is invalid.\n", ""),
     "not a makedumpfile --mem-usage report: no TYPE PAGES table (it begins 'Commandline parameter"
     " is invalid.')"),
])
def test_estimate_falls_back_to_the_meminfo_model(answer, error):
    run, _calls = runner(answer)
    found = estimate(31, MEMINFO, run, "/usr/sbin/makedumpfile")
    assert found["source"] == SOURCE_MODEL and found["error"] == error
    assert found["bytes"] == expected_dump_bytes(parse_meminfo(MEMINFO), 31)


def test_estimate_without_makedumpfile_or_root_runs_nothing():
    run, calls = runner((0, REPORT, ""))
    assert estimate(31, MEMINFO, run, None)["source"] == SOURCE_MODEL
    assert estimate(31, MEMINFO, None, "/usr/sbin/makedumpfile")["source"] == SOURCE_MODEL
    assert calls == []


def test_estimate_reports_free_pages_only_where_the_level_excludes_them():
    run, _calls = runner((0, BROKEN, ""))
    assert estimate(31, MEMINFO, run, "/usr/sbin/makedumpfile")["free_pages"]["free_pages"] == 0
    # Dump level 15 writes free pages anyway: nothing is lost.
    assert estimate(15, MEMINFO, run, "/usr/sbin/makedumpfile")["free_pages"] is None
