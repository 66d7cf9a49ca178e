# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parse, format and evaluate the kernel's ``crashkernel=`` parameter.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.

The grammar and the evaluation follow the kernel (kernel/crash_reserve.c,
formerly kernel/crash_core.c):

* ``SIZE[@OFFSET]``
* ``START-[END]:SIZE[,START-[END]:SIZE...][@OFFSET]`` (START inclusive, END
  exclusive, no END = open-ended)
* ``SIZE,high``, ``SIZE,low``, ``SIZE,cma``

Numbers are read like the kernel's ``memparse()``: decimal, ``0x`` hex or
leading-``0`` octal digits, then an optional case-insensitive K/M/G/T/P/E
suffix (binary multiples).  On a command line with several ``crashkernel=``
words the kernel uses the LAST word without a suffix; ``,high``, ``,low`` and
``,cma`` words are looked up separately (again the last of each kind).

The parser is stricter than the kernel in three places, because a value that
the kernel half-understands is a mistake worth reporting: text after the
matching range is checked too, overlapping ranges are rejected, and
``0,high`` (which the kernel refuses) is refused here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

PREFIX = "crashkernel="
SUFFIXES = ("high", "low", "cma")
MIB = 1 << 20
GIB = 1 << 30

_SHIFT = {"k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
# Units used when formatting, largest first. P and E are accepted on input
# but never needed for real reservations; T is enough for RAM range bounds.
_FORMAT_UNITS = (("T", 40), ("G", 30), ("M", 20), ("K", 10))

_EXPECTED = (
    "expected SIZE, SIZE@OFFSET, START-[END]:SIZE[,START-[END]:SIZE...][@OFFSET],"
    " or SIZE,high / SIZE,low / SIZE,cma, where a size is a number with an"
    " optional K, M, G or T suffix"
)

# Architectures where the kernel uses the generic reservation code and so
# understands ",high" and ",low" (CONFIG_ARCH_HAS_GENERIC_CRASHKERNEL_RESERVATION).
HIGH_LOW_ARCHES = ("x86_64", "aarch64", "arm64", "riscv64", "loongarch64")

# First kernel release that rounds System RAM up to 128 MiB before matching
# ranges ("kdump: round up the total memory size to 128M for crashkernel
# reservation", merged for Linux 5.17).
RAM_ROUNDING_SINCE = (5, 17)


class CrashkernelError(ValueError):
    """A crashkernel value that cannot be used; the message quotes it."""


def _fail(text, problem):
    raise CrashkernelError(
        "crashkernel value '%s': %s; %s" % (text, problem, _EXPECTED))


# The most digits of a number below 2**64 in each base (with leading zeros allowed a little).
_MAX_DIGITS = {10: 24, 8: 26, 16: 20}


def memparse(text, pos=0):
    """Read one number the way the kernel's memparse() does.

    Returns ``(value, end_position)``; ``end_position == pos`` means that no
    digit was found (the kernel's "memory value expected").
    """
    n = len(text)
    start = pos
    base = 10
    if pos < n and text[pos] == "0":
        if (pos + 2 < n and text[pos + 1] in "xX"
                and text[pos + 2] in "0123456789abcdefABCDEF"):
            base = 16
            pos += 2
        else:
            base = 8
    digits = {10: "0123456789", 8: "01234567", 16: "0123456789abcdefABCDEF"}[base]
    first = pos
    while pos < n and text[pos] in digits:
        pos += 1
    if pos == first:
        return 0, start
    if pos - first > _MAX_DIGITS[base]:
        raise CrashkernelError("the number %s... has %d digits; a size is at most 64 bits (the"
                               " kernel reads it as an unsigned long long)" % (text[start:start + 20], pos - first))
    value = int(text[first:pos], base)
    if pos < n and text[pos].lower() in _SHIFT:
        value <<= _SHIFT[text[pos].lower()]
        pos += 1
    if value >= 1 << 64:
        raise CrashkernelError("%s is more than 64 bits; a size is at most 16E" % text[start:pos])
    return value, pos


def parse_size(text, what="size"):
    """Parse a whole string as one size (``'256M'``, ``'0x1000'``, ``'1024'``)."""
    if text is None or text == "":
        raise CrashkernelError("empty %s; expected a number with an optional"
                               " K, M, G or T suffix" % what)
    value, end = memparse(text)
    if end == 0:
        raise CrashkernelError("%s '%s' is not a number; expected a number with"
                               " an optional K, M, G or T suffix" % (what, text))
    if end != len(text):
        raise CrashkernelError("%s '%s' has an unknown suffix '%s'; expected K, M,"
                               " G or T" % (what, text, text[end:]))
    return value


def format_size(value):
    """Format bytes with the largest exact binary unit: 268435456 -> '256M'."""
    value = int(value)
    if value < 0:
        raise CrashkernelError("size %d is negative; expected 0 or more bytes" % value)
    if value == 0:
        return "0"
    for unit, shift in _FORMAT_UNITS:
        if value % (1 << shift) == 0:
            return "%d%s" % (value >> shift, unit)
    return str(value)


def human_size(value):
    """Format bytes for people: '256 MiB', '1.5 GiB'."""
    value = int(value)
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if value >= 1 << shift:
            number = value / float(1 << shift)
            text = ("%.2f" % number).rstrip("0").rstrip(".")
            return "%s %s" % (text, unit)
    return "%d B" % value


class Range(object):
    """One ``START-[END]:SIZE`` entry; ``end`` is None for an open end."""

    __slots__ = ("start", "end", "size")

    def __init__(self, start, end, size):
        self.start = int(start)
        self.end = None if end is None else int(end)
        self.size = int(size)

    def contains(self, ram):
        return ram >= self.start and (self.end is None or ram < self.end)

    def overlaps(self, other):
        self_end = float("inf") if self.end is None else self.end
        other_end = float("inf") if other.end is None else other.end
        return self.start < other_end and other.start < self_end

    def format(self):
        end = "" if self.end is None else format_size(self.end)
        return "%s-%s:%s" % (format_size(self.start), end, format_size(self.size))

    def to_dict(self):
        return {"start": self.start, "end": self.end, "size": self.size}

    def __eq__(self, other):
        return isinstance(other, Range) and self.to_dict() == other.to_dict()

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.start, self.end, self.size))

    def __repr__(self):
        return "Range(%r, %r, %r)" % (self.start, self.end, self.size)


class Word(object):
    """One ``crashkernel=`` word.

    ``kind`` is ``plain`` (fixed size or ranges), ``high``, ``low`` or ``cma``.
    A plain word has either ``size`` or ``ranges``; ``offset`` is only for
    plain words.
    """

    __slots__ = ("kind", "size", "ranges", "offset")

    def __init__(self, kind, size=None, ranges=(), offset=None):
        self.kind = kind
        self.size = None if size is None else int(size)
        self.ranges = tuple(ranges)
        self.offset = None if offset is None else int(offset)

    def format(self):
        if self.kind != "plain":
            return "%s,%s" % (format_size(self.size), self.kind)
        if self.ranges:
            text = ",".join(r.format() for r in self.ranges)
        else:
            text = format_size(self.size)
        if self.offset is not None:
            text += "@" + format_size(self.offset)
        return text

    def __eq__(self, other):
        return isinstance(other, Word) and (
            (self.kind, self.size, self.ranges, self.offset)
            == (other.kind, other.size, other.ranges, other.offset))

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return "Word(%r)" % self.format()


def _strip_prefix(word):
    if word.startswith(PREFIX):
        return word[len(PREFIX):]
    return word


def _parse_ranges(text, body):
    ranges = []
    for entry in body.split(","):
        if entry == "":
            _fail(text, "empty range entry (a stray comma)")
        pos = 0
        start, pos2 = memparse(entry, pos)
        if pos2 == pos:
            _fail(text, "range '%s' does not start with a number" % entry)
        pos = pos2
        if pos >= len(entry) or entry[pos] != "-":
            _fail(text, "range '%s' needs '-' after its start" % entry)
        pos += 1
        end = None
        if pos < len(entry) and entry[pos] != ":":
            end, pos2 = memparse(entry, pos)
            if pos2 == pos:
                _fail(text, "range '%s' has an end that is not a number" % entry)
            pos = pos2
            if end <= start:
                _fail(text, "range end %s is not above its start %s (START is"
                            " inclusive, END exclusive)"
                      % (entry[entry.index("-") + 1:pos], entry[:entry.index("-")]))
        if pos >= len(entry) or entry[pos] != ":":
            _fail(text, "range '%s' needs ':' before its size" % entry)
        pos += 1
        if pos == len(entry):
            _fail(text, "range '%s' has an empty size" % entry)
        size, pos2 = memparse(entry, pos)
        if pos2 == pos:
            _fail(text, "range '%s' has a size that is not a number" % entry)
        if pos2 != len(entry):
            _fail(text, "range '%s' has an unknown suffix '%s' on its size"
                  % (entry, entry[pos2:]))
        new = Range(start, end, size)
        for old in ranges:
            if old.overlaps(new):
                _fail(text, "ranges '%s' and '%s' overlap" % (old.format(), new.format()))
        ranges.append(new)
    return ranges


def parse_word(word):
    """Parse one crashkernel value (with or without ``crashkernel=``)."""
    if word is None:
        _fail("", "no value given")
    text = _strip_prefix(str(word).strip())
    if text == "":
        _fail(word, "empty size")
    if text == "auto":
        _fail(word, "'auto' is a RHEL 7/8 downstream keyword that upstream kernels"
                    " do not understand")
    if any(c.isspace() for c in text):
        _fail(word, "a single value must not contain spaces")
    for suffix in SUFFIXES:
        if text.endswith("," + suffix):
            body = text[:-(len(suffix) + 1)]
            if body == "":
                _fail(word, "empty size before ',%s'" % suffix)
            if ":" in body or "@" in body:
                _fail(word, "',%s' takes a single size, not ranges or an offset" % suffix)
            try:
                size = parse_size(body)
            except CrashkernelError as exc:
                _fail(word, str(exc))
            if suffix == "high" and size == 0:
                _fail(word, "the kernel refuses a zero ',high' size")
            return Word(suffix, size=size)
    offset = None
    body = text
    if "@" in text:
        body, _sep, offset_text = text.rpartition("@")
        if offset_text == "":
            _fail(word, "empty offset after '@'")
        try:
            offset = parse_size(offset_text, "offset")
        except CrashkernelError as exc:
            _fail(word, str(exc))
        if body == "":
            _fail(word, "empty size before '@'")
    if ":" in body:
        return Word("plain", ranges=_parse_ranges(word, body), offset=offset)
    if "," in body:
        _fail(word, "unknown suffix ',%s'" % body.split(",", 1)[1])
    if "-" in body:
        _fail(word, "range '%s' needs ':' before its size" % body)
    size, end = memparse(body)
    if end == 0:
        _fail(word, "'%s' is not a size" % body)
    if end != len(body):
        _fail(word, "unknown suffix '%s' on size '%s'" % (body[end:], body))
    return Word("plain", size=size, offset=offset)


class Crashkernel(object):
    """The effective set of crashkernel= words of one command line."""

    __slots__ = ("plain", "high", "low", "cma", "ignored")

    def __init__(self, plain=None, high=None, low=None, cma=None, ignored=()):
        self.plain = plain
        self.high = high
        self.low = low
        self.cma = cma
        self.ignored = tuple(ignored)

    def words(self):
        return [w for w in (self.plain, self.high, self.low, self.cma) if w is not None]

    def is_empty(self):
        return not self.words()

    def format(self, prefix=True):
        """Words joined by spaces, each with ``crashkernel=`` when ``prefix``."""
        lead = PREFIX if prefix else ""
        return " ".join(lead + w.format() for w in self.words())

    def to_dict(self):
        plain = self.plain
        return {
            "size": plain.size if plain is not None and not plain.ranges else None,
            "ranges": [r.to_dict() for r in plain.ranges] if plain is not None else [],
            "offset": plain.offset if plain is not None else None,
            "high": self.high.size if self.high is not None else None,
            "low": self.low.size if self.low is not None else None,
            "cma": self.cma.size if self.cma is not None else None,
            "ignored": list(self.ignored),
        }

    def __eq__(self, other):
        return isinstance(other, Crashkernel) and self.words() == other.words()

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return "Crashkernel(%r)" % self.format()


def parse(text):
    """Parse a value, several values, or a whole kernel command line.

    Accepts ``'256M'``, ``'crashkernel=256M'``,
    ``'crashkernel=512M,high crashkernel=128M,low'`` and a full
    ``/proc/cmdline``.  When any word starts with ``crashkernel=``, words
    without it are ignored (they are other kernel parameters); otherwise
    every word is a crashkernel value.  Only the words the kernel would use
    are parsed strictly; earlier words of the same kind are returned in
    ``ignored`` as the kernel ignores them.
    """
    if text is None:
        _fail("", "no value given")
    text = str(text).strip()
    if text == "":
        _fail(text, "empty size")
    words = text.split()
    if any(w.startswith(PREFIX) for w in words):
        words = [w for w in words if w.startswith(PREFIX)]
    last = {}
    ignored = []
    for w in words:
        kind = "plain"
        for suffix in SUFFIXES:
            if w.endswith("," + suffix):
                kind = suffix
        if kind in last:
            ignored.append(last[kind])
        last[kind] = w
    parsed = dict((kind, parse_word(w)) for kind, w in last.items())
    return Crashkernel(ignored=ignored, **parsed)


def from_dict(data):
    """Build a Crashkernel from the dict that ``to_dict()`` returns."""
    if not isinstance(data, dict):
        raise CrashkernelError("expected a dict with keys size, ranges, offset, high,"
                               " low, cma; got %r" % (data,))
    unknown = set(data) - set(("size", "ranges", "offset", "high", "low", "cma", "ignored"))
    if unknown:
        raise CrashkernelError("unknown keys %s in %r; expected size, ranges, offset,"
                               " high, low, cma" % (", ".join(sorted(unknown)), data))

    def size_of(key, value):
        if isinstance(value, bool):
            raise CrashkernelError("%s must be a size, got %r" % (key, value))
        if isinstance(value, int):
            if value < 0:
                raise CrashkernelError("%s must not be negative, got %r" % (key, value))
            if value >= 1 << 64:
                raise CrashkernelError("%s must be below 2**64 bytes, got a number of %d bits"
                                       % (key, value.bit_length()))
            return value
        if not isinstance(value, str):
            raise CrashkernelError("%s must be a size such as '256M' or a number of bytes, got %s"
                                   % (key, type(value).__name__))
        return parse_size(value, key)

    plain = None
    ranges = data.get("ranges") or []
    size = data.get("size")
    offset = data.get("offset")
    if ranges and size is not None:
        raise CrashkernelError("give either size or ranges, not both: %r" % (data,))
    if ranges:
        built = []
        for item in ranges:
            if not isinstance(item, dict) or "start" not in item or "size" not in item:
                raise CrashkernelError("each range needs start, end and size: %r" % (item,))
            end = item.get("end")
            new = Range(size_of("start", item["start"]),
                        None if end is None else size_of("end", end),
                        size_of("size", item["size"]))
            if new.end is not None and new.end <= new.start:
                raise CrashkernelError("range %r: end is not above start" % (item,))
            for old in built:
                if old.overlaps(new):
                    raise CrashkernelError("ranges %s and %s overlap"
                                           % (old.format(), new.format()))
            built.append(new)
        plain = Word("plain", ranges=built,
                     offset=None if offset is None else size_of("offset", offset))
    elif size is not None:
        plain = Word("plain", size=size_of("size", size),
                     offset=None if offset is None else size_of("offset", offset))
    elif offset is not None:
        raise CrashkernelError("an offset needs a size or ranges: %r" % (data,))
    extra = {}
    for kind in SUFFIXES:
        if data.get(kind) is not None:
            extra[kind] = Word(kind, size=size_of(kind, data[kind]))
    if "high" in extra and extra["high"].size == 0:
        raise CrashkernelError("the kernel refuses a zero ',high' size: %r" % (data,))
    result = Crashkernel(plain=plain, **extra)
    if result.is_empty():
        raise CrashkernelError("nothing to format in %r; expected size, ranges or"
                               " high" % (data,))
    return result


def default_low_size(arch):
    """The low area the kernel adds to a ``,high`` reservation with no ``,low``.

    x86_64: max(swiotlb + 8M, 256M) with the default 64M swiotlb = 256M;
    arm64, riscv64 and loongarch64: 128M.
    """
    if arch == "x86_64":
        return 256 * MIB
    return 128 * MIB


def kernel_rounds_ram(kernel_release):
    """True when this kernel rounds System RAM up to 128M (Linux >= 5.17)."""
    if not kernel_release:
        return True
    match = re.match(r"(\d+)\.(\d+)", kernel_release)
    if not match:
        return True
    return (int(match.group(1)), int(match.group(2))) >= RAM_ROUNDING_SINCE


def round_ram(system_ram):
    """System RAM rounded up to 128 MiB, as kernels >= 5.17 do."""
    step = 128 * MIB
    return (int(system_ram) + step - 1) // step * step


class Reservation(object):
    """What the kernel reserves for a crashkernel setting on one host."""

    __slots__ = ("size", "low", "cma", "offset", "high", "source", "matched", "reason")

    def __init__(self, size=0, low=0, cma=0, offset=None, high=False, source=None,
                 matched=None, reason=""):
        self.size = size
        self.low = low
        self.cma = cma
        self.offset = offset
        self.high = high
        self.source = source
        self.matched = matched
        self.reason = reason

    @property
    def total(self):
        """Bytes in the crash kernel areas: the main area plus the low area.

        This is what /sys/kernel/kexec_crash_size reports; the ``,cma`` area
        is separate.
        """
        return self.size + self.low

    def to_dict(self):
        return {
            "total": self.total,
            "size": self.size,
            "low": self.low,
            "cma": self.cma,
            "offset": self.offset,
            "high": self.high,
            "source": self.source,
            "matched_range": self.matched.to_dict() if self.matched is not None else None,
            "reason": self.reason,
        }


def evaluate(value, system_ram, arch="x86_64", kernel_release=None):
    """Bytes the kernel reserves for ``value`` on a host with ``system_ram``.

    ``value`` is a string (anything ``parse`` accepts) or a Crashkernel.
    ``system_ram`` is the kernel's System RAM (the sum of the "System RAM"
    regions of /proc/iomem), not MemTotal.  Returns a Reservation whose
    ``total`` is 0 when the kernel would reserve nothing, with the reason.
    """
    ck = value if isinstance(value, Crashkernel) else parse(value)
    system_ram = int(system_ram)
    if system_ram <= 0:
        raise CrashkernelError("System RAM must be a positive number of bytes, got %r"
                               % (system_ram,))
    generic = arch in HIGH_LOW_ARCHES
    cma = ck.cma.size if (ck.cma is not None and generic) else 0
    plain = ck.plain
    if plain is not None:
        if plain.ranges:
            total_mem = round_ram(system_ram) if kernel_rounds_ram(kernel_release) else system_ram
            for rng in plain.ranges:
                if rng.size >= total_mem:
                    return Reservation(cma=0, source="plain", reason=(
                        "the kernel rejects the value: range %s asks for %s, not less than"
                        " the %s of System RAM it compares with" % (
                            rng.format(), human_size(rng.size), human_size(total_mem))))
                if rng.contains(total_mem):
                    return _checked(Reservation(size=rng.size, cma=cma, offset=plain.offset,
                                                source="plain", matched=rng,
                                                reason="range %s matches %s of System RAM"
                                                % (rng.format(), human_size(total_mem))),
                                    system_ram)
            return Reservation(source="plain", reason=(
                "no range matches %s of System RAM: nothing is reserved"
                % human_size(total_mem)))
        if plain.size == 0:
            return Reservation(source="plain", reason="a zero size reserves nothing")
        return _checked(Reservation(size=plain.size, cma=cma, offset=plain.offset,
                                    source="plain", reason="fixed size"), system_ram)
    if ck.high is not None:
        if not generic:
            return Reservation(source="high", reason=(
                "',high' is not supported on %s: nothing is reserved" % arch))
        low = ck.low.size if ck.low is not None else default_low_size(arch)
        why = ("',high' area plus %s ',low' area" % ("the given" if ck.low is not None
                                                     else "the kernel's default"))
        return _checked(Reservation(size=ck.high.size, low=low, cma=cma, high=True,
                                    source="high", reason=why), system_ram)
    if ck.low is not None:
        return Reservation(source="low", reason="',low' without ',high' is ignored by the kernel")
    return Reservation(source="cma", reason="',cma' alone reserves no crash kernel area")


def _checked(reservation, system_ram):
    if reservation.size >= system_ram:
        return Reservation(source=reservation.source, reason=(
            "the kernel rejects a reservation of %s on a host with %s of System RAM"
            % (human_size(reservation.size), human_size(system_ram))))
    return reservation
