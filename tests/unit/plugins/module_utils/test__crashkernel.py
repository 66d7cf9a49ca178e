# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The crashkernel= grammar and the kernel's evaluation rules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.crashkernel import (
    GIB,
    MIB,
    Crashkernel,
    CrashkernelError,
    Range,
    Word,
    evaluate,
    format_size,
    from_dict,
    memparse,
    parse,
    parse_size,
    parse_word,
)

K = 1 << 10
M = MIB
G = GIB
T = 1 << 40


# --- numbers -----------------------------------------------------------------

@pytest.mark.parametrize("text, value, end", [
    ("0", 0, 1),
    ("64", 64, 2),
    ("64K", 64 * K, 3),
    ("64k", 64 * K, 3),
    ("256M", 256 * M, 4),
    ("256m", 256 * M, 4),
    ("2G", 2 * G, 2),
    ("2g", 2 * G, 2),
    ("1T", T, 2),
    ("1t", T, 2),
    ("1P", 1 << 50, 2),
    ("1E", 1 << 60, 2),
    ("0x10M", 16 * M, 5),
    ("0X1f", 31, 4),
    ("010", 8, 3),          # leading zero: octal, as simple_strtoull(base 0)
    ("08", 0, 1),           # '8' is no octal digit: the number is 0
    ("0x", 0, 1),           # no hex digit after 0x: just 0
    ("64X", 64, 2),         # unknown suffix stays unread
    ("M", 0, 0),            # no digit at all
    ("", 0, 0),
])
def test_memparse_follows_the_kernel(text, value, end):
    assert memparse(text) == (value, end)


@pytest.mark.parametrize("value, text", [
    (0, "0"),
    (1, "1"),
    (1023, "1023"),
    (1024, "1K"),
    (1536 * K, "1536K"),
    (256 * M, "256M"),
    (1024 * M, "1G"),
    (1536 * M, "1536M"),
    (4 * G, "4G"),
    (1024 * G, "1T"),
    (64 * T, "64T"),
])
def test_format_size_uses_the_largest_exact_unit(value, text):
    assert format_size(value) == text
    assert parse_size(text) == value


@pytest.mark.parametrize("text, message", [
    ("", "empty size"),
    ("abc", "'abc' is not a number"),
    ("64X", "unknown suffix 'X'"),
    ("1GB", "unknown suffix 'B'"),
])
def test_parse_size_errors(text, message):
    with pytest.raises(CrashkernelError, match=message):
        parse_size(text)


# --- every syntax form --------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("256M", {"size": 256 * M}),
    ("crashkernel=256M", {"size": 256 * M}),
    ("  crashkernel=256M  ", {"size": 256 * M}),
    ("262144K", {"size": 256 * M}),
    ("0x10000000", {"size": 256 * M}),
    ("268435456", {"size": 256 * M}),
    ("0", {"size": 0}),
    ("64M@16M", {"size": 64 * M, "offset": 16 * M}),
    ("64M@0", {"size": 64 * M, "offset": 0}),
    ("512M-:192M", {"ranges": [{"start": 512 * M, "end": None, "size": 192 * M}]}),
    ("1G-4G:192M,4G-64G:256M,64G-:512M", {"ranges": [
        {"start": G, "end": 4 * G, "size": 192 * M},
        {"start": 4 * G, "end": 64 * G, "size": 256 * M},
        {"start": 64 * G, "end": None, "size": 512 * M}]}),
    ("1G-4G:192M,4G-:256M@16M", {"offset": 16 * M, "ranges": [
        {"start": G, "end": 4 * G, "size": 192 * M},
        {"start": 4 * G, "end": None, "size": 256 * M}]}),
    ("0-2G:128M,2G-:256M", {"ranges": [
        {"start": 0, "end": 2 * G, "size": 128 * M},
        {"start": 2 * G, "end": None, "size": 256 * M}]}),
    ("4G-:256M,1G-4G:192M", {"ranges": [          # order kept, no overlap
        {"start": 4 * G, "end": None, "size": 256 * M},
        {"start": G, "end": 4 * G, "size": 192 * M}]}),
    ("512M,high", {"high": 512 * M}),
    ("128M,low", {"low": 128 * M}),
    ("0,low", {"low": 0}),
    ("1G,cma", {"cma": G}),
    ("2g,high", {"high": 2 * G}),
])
def test_parse_forms(text, expected):
    full = {"size": None, "ranges": [], "offset": None, "high": None, "low": None,
            "cma": None, "ignored": []}
    full.update(expected)
    assert parse(text).to_dict() == full


@pytest.mark.parametrize("text, message", [
    ("1G-512M:64M", "range end 512M is not above its start 1G"),
    ("1G-1G:64M", "range end 1G is not above its start 1G"),
    ("abc", "'abc' is not a size"),
    ("64X", "unknown suffix 'X'"),
    ("", "empty size"),
    ("crashkernel=", "empty size"),
    ("1G-4G:", "empty size"),
    ("1G-4G:192M,", "empty range entry"),
    ("1G-4G:192M,,4G-:256M", "empty range entry"),
    (",high", "empty size before ',high'"),
    ("1G-4G:192M,2G-8G:256M", "ranges '1G-4G:192M' and '2G-8G:256M' overlap"),
    ("1G-:192M,2G-:256M", "overlap"),
    ("2G-:256M,0-4G:128M", "overlap"),
    ("1G:192M", "needs '-' after its start"),
    ("-4G:192M", "does not start with a number"),
    ("1G-4G192M", "needs ':' before its size"),
    ("1G-xG:192M", "end that is not a number"),
    ("1G-4G:abc", "size that is not a number"),
    ("1G-4G:192Q", "unknown suffix 'Q'"),
    ("256M@", "empty offset"),
    ("@16M", "empty size before '@'"),
    ("256M@16Q", "unknown suffix 'Q'"),
    ("256M,hi", "unknown suffix ',hi'"),
    ("256M,high,low", "'256M,high' has an unknown suffix"),
    ("1G-4G:192M,high", "takes a single size"),
    ("256M@16M,low", "takes a single size"),
    ("0,high", "zero ',high'"),
    ("auto", "RHEL 7/8 downstream keyword"),
    ("256M 512M", None),  # two bare words: the last wins, no error
])
def test_parse_errors_quote_the_value(text, message):
    if message is None:
        assert parse(text).plain.size == 512 * M
        return
    with pytest.raises(CrashkernelError) as info:
        parse(text)
    assert message in str(info.value)
    assert "'%s'" % text.strip() in str(info.value) or text.strip() == ""
    assert "expected" in str(info.value)


def test_single_word_rejects_spaces():
    with pytest.raises(CrashkernelError, match="must not contain spaces"):
        parse_word("256M 512M")


# --- several words on one command line ---------------------------------------

def test_last_plain_word_wins_and_earlier_ones_are_ignored():
    ck = parse("BOOT_IMAGE=/vmlinuz root=/dev/vda1 crashkernel=128M quiet crashkernel=256M")
    assert ck.plain.size == 256 * M
    assert ck.ignored == ("crashkernel=128M",)


def test_suffixed_words_are_looked_up_separately():
    ck = parse("crashkernel=1G,high crashkernel=256M crashkernel=128M,low crashkernel=64M,low")
    assert ck.plain.size == 256 * M
    assert ck.high.size == G
    assert ck.low.size == 64 * M
    assert ck.ignored == ("crashkernel=128M,low",)


def test_an_overridden_malformed_word_is_ignored_like_the_kernel_does():
    ck = parse("crashkernel=garbage crashkernel=192M")
    assert ck.plain.size == 192 * M
    assert ck.ignored == ("crashkernel=garbage",)


def test_a_command_line_without_crashkernel_words_is_all_values():
    assert parse("512M,high 128M,low").format() == "crashkernel=512M,high crashkernel=128M,low"


def test_other_parameters_that_end_like_crashkernel_are_not_taken():
    ck = parse("root=/dev/sda xcrashkernel=1G crashkernel=256M")
    assert ck.plain.size == 256 * M


# --- evaluation against System RAM -------------------------------------------

RHEL9 = "1G-4G:192M,4G-64G:256M,64G-:512M"


@pytest.mark.parametrize("value, ram, expected", [
    (RHEL9, 8 * G, 256 * M),                 # the documented example
    (RHEL9, G - 1, 192 * M),                 # rounds up to 1G: range start is inclusive
    (RHEL9, 1024 * M - 128 * M, 0),          # 896M: below the first range
    (RHEL9, 896 * M + 1, 192 * M),           # rounds up to 1G
    (RHEL9, 4 * G, 256 * M),                 # end is exclusive: 4G is in the second range
    (RHEL9, 4 * G - 128 * M, 192 * M),
    (RHEL9, 4 * G - 128 * M + 1, 256 * M),   # rounds up to 4G
    (RHEL9, 4227858432, 256 * M),            # a "4 GiB" guest: 3.94 GiB of System RAM
    (RHEL9, 64 * G, 512 * M),
    (RHEL9, 64 * G - 1, 512 * M),            # rounds up to 64G
    (RHEL9, 64 * G - 128 * M, 256 * M),
    (RHEL9, 16 * T, 512 * M),                # open end
    ("384M-:128M", 384 * M, 128 * M),
    ("384M-:128M", 256 * M + 1, 128 * M),    # rounds up to 384M
    ("384M-:128M", 256 * M, 0),
    ("512M-:192M", 1 * G, 192 * M),
    ("2G-64G:256M,64G-:512M", 2 * G - 128 * M, 0),
    ("2G-64G:256M,64G-:512M", 2 * G, 256 * M),
    ("256M", 8 * G, 256 * M),
    ("256M", 256 * M, 0),                    # size >= System RAM: the kernel refuses
    ("256M", 256 * M + 1, 256 * M),
    ("0", 8 * G, 0),
    ("64M@16M", 8 * G, 64 * M),
])
def test_evaluate_like_the_kernel(value, ram, expected):
    assert evaluate(value, ram).total == expected


def test_evaluate_without_rounding_on_old_kernels():
    # Linux 5.16 compared raw System RAM: 3.94 GiB is below 4G, so 192M.
    assert evaluate(RHEL9, 4227858432, kernel_release="5.16.0").total == 192 * M
    assert evaluate(RHEL9, 4227858432, kernel_release="5.17.0").total == 256 * M
    assert evaluate(RHEL9, 4227858432, kernel_release="6.1.0-27-amd64").total == 256 * M


def test_a_range_asking_for_all_ram_invalidates_the_whole_value():
    # The kernel checks each range it visits before the match.
    res = evaluate("0-1G:8G,1G-:128M", 8 * G)
    assert res.total == 0
    assert "rejects" in res.reason
    # ... but a big size in a range after the match does not matter.
    assert evaluate("0-2G:128M,2G-:64G", G).total == 128 * M


def test_no_matching_range_reserves_nothing_with_a_reason():
    res = evaluate("2G-4G:256M", G)
    assert res.total == 0
    assert "no range matches 1 GiB" in res.reason


@pytest.mark.parametrize("value, arch, size, low", [
    ("1G,high", "x86_64", G, 256 * M),
    ("1G,high", "aarch64", G, 128 * M),
    ("1G,high", "riscv64", G, 128 * M),
    ("1G,high 512M,low", "x86_64", G, 512 * M),
    ("1G,high 0,low", "x86_64", G, 0),
])
def test_high_and_low(value, arch, size, low):
    res = evaluate(value, 64 * G, arch)
    assert (res.size, res.low, res.high, res.total) == (size, low, True, size + low)


def test_plain_word_takes_priority_over_high():
    res = evaluate("crashkernel=1G,high crashkernel=256M", 64 * G)
    assert (res.total, res.high) == (256 * M, False)


def test_high_is_not_understood_everywhere():
    assert evaluate("1G,high", 64 * G, "ppc64le").total == 0
    assert evaluate("1G,high", 64 * G, "s390x").total == 0


def test_low_alone_and_cma_alone_reserve_nothing():
    assert evaluate("256M,low", 8 * G).total == 0
    assert evaluate("256M,cma", 8 * G).total == 0


def test_cma_is_reported_separately():
    res = evaluate("crashkernel=256M crashkernel=1G,cma", 64 * G)
    assert (res.total, res.cma) == (256 * M, G)


def test_evaluate_refuses_nonsense_ram():
    with pytest.raises(CrashkernelError, match="positive"):
        evaluate("256M", 0)


# --- dicts and formatting ----------------------------------------------------

def test_format_canonicalises():
    assert parse("crashkernel=1024M-4096M:196608K").format() == "crashkernel=1G-4G:192M"
    assert parse("512m-:192m").format(prefix=False) == "512M-:192M"


def test_from_dict_accepts_strings_and_bytes():
    ck = from_dict({"ranges": [{"start": "1G", "end": "4G", "size": "192M"},
                               {"start": 4 * G, "end": None, "size": 256 * M}]})
    assert ck.format() == "crashkernel=1G-4G:192M,4G-:256M"
    assert from_dict({"high": "2G", "low": 256 * M}).format() == \
        "crashkernel=2G,high crashkernel=256M,low"


@pytest.mark.parametrize("data, message", [
    ({}, "nothing to format"),
    ({"size": 1, "ranges": [{"start": 0, "end": None, "size": 1}]}, "either size or ranges"),
    ({"offset": 16 * M}, "offset needs a size"),
    ({"size": -1}, "must not be negative"),
    ({"size": True}, "must be a size"),
    ({"size": "1X"}, "unknown suffix"),
    ({"ranges": [{"start": 0}]}, "each range needs"),
    ({"ranges": [{"start": "4G", "end": "1G", "size": "1M"}]}, "end is not above start"),
    ({"ranges": [{"start": 0, "end": None, "size": 1}, {"start": G, "end": None, "size": 1}]},
     "overlap"),
    ({"high": 0}, "zero ',high'"),
    ({"sizes": 1}, "unknown keys sizes"),
    ("256M", "expected a dict"),
])
def test_from_dict_errors(data, message):
    with pytest.raises(CrashkernelError, match=message):
        from_dict(data)


# --- round trip properties ----------------------------------------------------

UNITS = st.sampled_from([1, K, M, G, T])
SIZES = st.builds(lambda n, u: n * u, st.integers(min_value=1, max_value=4096), UNITS)


@st.composite
def range_lists(draw):
    bounds = sorted(set(draw(st.lists(SIZES, min_size=1, max_size=6))))
    if draw(st.booleans()):
        bounds = [0] + bounds
    ranges = []
    for start, end in zip(bounds, bounds[1:]):
        ranges.append(Range(start, end, draw(SIZES)))
    if draw(st.booleans()) or not ranges:
        ranges.append(Range(bounds[-1], None, draw(SIZES)))
    if draw(st.booleans()):
        ranges.reverse()
    return ranges


@st.composite
def crashkernels(draw):
    offset = draw(st.one_of(st.none(), SIZES))
    plain = draw(st.one_of(
        st.none(),
        st.builds(lambda s, o: Word("plain", size=s, offset=o), SIZES, st.just(offset)),
        st.builds(lambda r, o: Word("plain", ranges=r, offset=o), range_lists(), st.just(offset)),
    ))
    high = draw(st.one_of(st.none(), st.builds(lambda s: Word("high", size=s), SIZES)))
    low = draw(st.one_of(st.none(), st.builds(lambda s: Word("low", size=s),
                                              st.one_of(st.just(0), SIZES))))
    cma = draw(st.one_of(st.none(), st.builds(lambda s: Word("cma", size=s), SIZES)))
    ck = Crashkernel(plain=plain, high=high, low=low, cma=cma)
    if ck.is_empty():
        ck = Crashkernel(plain=Word("plain", size=draw(SIZES)))
    return ck


@settings(max_examples=300, deadline=None)
@given(crashkernels(), st.booleans())
def test_format_parse_round_trip(ck, prefix):
    text = ck.format(prefix=prefix)
    again = parse(text)
    assert again == ck
    assert again.format(prefix=prefix) == text


@settings(max_examples=300, deadline=None)
@given(crashkernels())
def test_dict_round_trip(ck):
    assert from_dict(ck.to_dict()) == ck
    assert parse(from_dict(ck.to_dict()).format()).to_dict() == ck.to_dict()


@settings(max_examples=200, deadline=None)
@given(range_lists(), st.integers(min_value=1, max_value=1 << 50))
def test_evaluate_matches_a_direct_reading_of_the_rule(ranges, ram):
    ck = Crashkernel(plain=Word("plain", ranges=ranges))
    total = (ram + 128 * M - 1) // (128 * M) * (128 * M)
    expected = 0
    for rng in ranges:
        if rng.size >= total:
            expected = 0
            break
        if rng.start <= total and (rng.end is None or total < rng.end):
            expected = rng.size if rng.size < ram else 0
            break
    assert evaluate(ck, ram).total == expected


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789KMGTkmgtx-:,@ highlowcma", max_size=30))
def test_parse_never_raises_anything_but_crashkernel_error(text):
    try:
        parse(text)
    except CrashkernelError:
        pass
