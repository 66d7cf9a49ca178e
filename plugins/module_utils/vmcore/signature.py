# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A crash's signature, from the kernel log: the same bug on two hosts gives the same one.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.6+.

``crash_signature(lines)`` finds the report that crashed the kernel and returns
``{"hash", "title", "frames", "test", "line"}``:

- The report: the last ``Kernel panic - not syncing:`` line, unless its message only says
  that an earlier report was fatal (``Fatal exception``, ``hung_task: blocked tasks``,
  ``softlockup: hung tasks``, ``panic_on_warn set``, ...): then that report - the last
  ``BUG:``/``kernel BUG at``/``Unable to handle kernel``/``WARNING:``/Oops/general protection
  fault before it, or for hung tasks the first ``INFO: task ... blocked`` of the last burst.
  Without a panic line (panic_on_oops makes the kernel jump to the capture kernel from the
  Oops itself), the last report in the log.
- ``frames``: the crashing function (the ``RIP:``/``pc :`` line) and the first reliable frames
  of the crashing context's call trace (frames marked ``?`` are guesses and left out; an
  interrupt's frames end at ``</IRQ>``), without the frames every report has at its top
  (dump_stack, panic, the fault and trap handlers; for a hung task the scheduler and lock
  waits), at most ``FRAMES``.
- Normalised: timestamps, caller ids, addresses, ``+0x../0x..`` offsets, module build ids
  (``[mod 0123abcd...]`` -> ``[mod]``), compiler clone suffixes (``.cold``, ``.isra.0``,
  ``.constprop.0``), CPU, PID, task names, taint flags, the Oops counter and every other
  number are taken out, so that only what the bug is stays.
- ``title``: the report's normalised first line, with `` in <function>`` where it names one;
  ``hash``: the first 16 hex digits of the SHA-256 of the title and the frames.
- ``test``: the crash was asked for with sysrq-c (``sysrq: Trigger a crash``, the panic
  ``sysrq triggered crash``, or ``sysrq_handle_crash`` as the crashing function or a frame).

The line formats are the kernel's: kernel/panic.c, lib/dump_stack.c, kernel/hung_task.c,
kernel/watchdog.c, arch/x86/kernel/dumpstack.c (``Call Trace:``, ``<TASK>``, ``? `` for
unreliable frames, ``RIP: 0010:``), arch/arm64/kernel/traps.c and stacktrace.c (``Internal
error: Oops``, ``pc :``, ``Call trace:``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

FRAMES = 5
LINES_LIMIT = 20000
LOOK_BACK = 12            # lines from an Oops line back to the report's first line
TRACE_LINES = 300         # lines from a report to its call trace and through it

_PREFIX = re.compile(r"^(?:<\d+>)?(?:\[\s*\d+\.\d+\]\s?)?(?:\[\s*[TC]\d+\]\s?)?")
_PANIC = re.compile(r"Kernel panic - not syncing: ?(.*)$")
_CONSEQUENCE = re.compile(
    r"Fatal exception|^Oops|hung_task: blocked tasks|softlockup: hung tasks|panic_on_warn set|"
    r"panic_on_oops|[Hh]ard LOCKUP|RCU Stall|rcu_sched|Fatal Machine check|Fatal hardware error")
_FIRST = re.compile(
    r"^(?:BUG: |kernel BUG at |Unable to handle kernel |WARNING: |INFO: task \S.* blocked for more than |"
    r"watchdog: BUG: |general protection fault|stack segment: |double fault: |"
    r"Oops: general protection fault|Oops: stack segment|UBSAN: |KASAN: |"
    r"(?:rcu: )?INFO: rcu_\w+ (?:self-)?detected stall)")
_SECOND = re.compile(r"^(?:Oops|Internal error: |invalid opcode: |Oops: invalid opcode)")
_HUNG = re.compile(r"^INFO: task \S.* blocked for more than ")
_TRACE = re.compile(r"^Call [Tt]race:")
_FRAME = re.compile(
    r"^(\? )?(?:\[<[0-9a-f]+>\] )?(\? )?([A-Za-z_.$][\w.$]*)\+0x[0-9a-f]+/0x[0-9a-f]+"
    r"(?: \[(\w+)(?: [0-9a-f]+)?\])?(?: \([A-Z]\))?$")
_IP = re.compile(r"^(?:RIP|IP|pc)\s*: ")
_SYMBOL = re.compile(r"([A-Za-z_.$][\w.$]*)\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[(\w+)(?: [0-9a-f]+)?\])?")
_CLONE = re.compile(r"(?:\.(?:cold|isra|constprop|part|llvm|lto_priv|localalias)(?:\.\d+)*)+$")
_SYSRQ_LINES = ("sysrq: Trigger a crash", "SysRq : Trigger a crash")

# Frames every report has at its top, whatever the bug.
_GENERIC = frozenset((
    "dump_stack", "dump_stack_lvl", "show_stack", "dump_backtrace", "panic", "vpanic",
    "nmi_panic", "__warn", "warn_slowpath_fmt", "report_bug", "handle_bug", "exc_invalid_op",
    "asm_exc_invalid_op", "do_error_trap", "do_trap", "die", "__die", "__die_body", "oops_end",
    "die_kernel_fault", "__do_kernel_fault", "do_page_fault", "do_translation_fault",
    "do_mem_abort", "el1_abort", "el1_da", "el1_dbg", "el1h_64_sync_handler", "el1h_64_sync",
    "el1_sync", "el1_sync_handler", "bug_handler", "brk_handler", "do_debug_exception",
    "call_break_hook", "page_fault_oops", "kernelmode_fixup_or_oops", "__bad_area_nosemaphore",
    "bad_area_nosemaphore", "do_user_addr_fault", "exc_page_fault", "asm_exc_page_fault",
    "do_kern_addr_fault", "no_context", "exc_general_protection", "asm_exc_general_protection",
    "check_panic_on_warn", "watchdog_timer_fn", "__hrtimer_run_queues",
))
# Frames every blocked task has at its top.
_BLOCKING = ("__switch_to", "context_switch", "__schedule", "schedule", "io_schedule",
             "preempt_schedule", "__mutex_lock", "mutex_lock", "rwsem_down", "down_read",
             "down_write", "__down", "down", "wait_for_completion", "__wait_for_common",
             "bit_wait", "__wait_on_bit", "out_of_line_wait_on_bit", "folio_wait", "__folio_lock",
             "wait_on_page_bit", "__lock_page", "rt_mutex", "__rt_mutex")

_NORMALISE = (
    (re.compile(r"\[(\w+) [0-9a-f]{8,}\]"), r"[\1]"),                       # module build ids
    (re.compile(r"([A-Za-z_.$][\w.$]*)\+0x[0-9a-f]+/0x[0-9a-f]+"), r"\1"),  # offsets
    (re.compile(r"\bCPU: \d+ (?:UID: \d+ )?PID: \d+(?: Comm: \S+)?"), ""),
    (re.compile(r"\b(?:Not tainted|Tainted: [A-Z ]+?)(?= \d|$)"), ""),
    (re.compile(r"\btask \S+:\d+ blocked"), "task blocked"),
    (re.compile(r" \[\S+:\d+\]$"), ""),                                      # [comm:pid]
    (re.compile(r"(?::\s*[0-9a-f]{4,16})?\s*\[#\d+\].*$"), ""),              # Oops code, [#1] ...
    (re.compile(r"^Oops: (?=general protection|stack segment|invalid opcode)"), ""),
    (re.compile(r"\b0x[0-9a-f]{9,}\b|\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b"), "X"),  # addresses
    (re.compile(r"(?<![A-Za-z_\d])\d+"), "N"),
    (re.compile(r"\s+"), " "),
)


def strip_prefix(line):
    """A log line without its timestamp and caller id (``[   80.1] [  T123] ``)."""
    return _PREFIX.sub("", line.rstrip("\n"), count=1)


def normalise(text):
    """``text`` with what differs between two hosts hitting the same bug taken out."""
    for pattern, replacement in _NORMALISE:
        text = pattern.sub(replacement, text)
    return text.strip().rstrip(".")


def _function(name, module=None):
    name = _CLONE.sub("", name)
    return "%s [%s]" % (name, module) if module else name


def _frame(text):
    """``(function, reliable)`` of a call trace line, or None."""
    match = _FRAME.match(text)
    if not match:
        return None
    return _function(match.group(3), match.group(4)), not (match.group(1) or match.group(2))


def _report_start(texts, index):
    """The first line of the report whose Oops line is at ``index``."""
    if _SECOND.match(texts[index]):
        for back in range(index - 1, max(-1, index - LOOK_BACK), -1):
            if _FIRST.match(texts[back]):
                return back
            if _PANIC.search(texts[back]) or _TRACE.match(texts[back]):
                break
    return index


def _crash_function(texts, start, end):
    for index in range(start, end):
        if _IP.match(texts[index]):
            match = _SYMBOL.search(texts[index])
            if match:
                return _function(match.group(1), match.group(2))
    return None


def _trace(texts, start, end):
    """The reliable frames of the first call trace between ``start`` and ``end``."""
    for index in range(start, end):
        if _TRACE.match(texts[index]):
            break
    else:
        return []
    frames = []
    for text in texts[index + 1:end]:
        if text.startswith("</"):
            if frames:
                break
            continue
        if text.startswith("<") and text.endswith(">"):
            continue
        frame = _frame(text)
        if frame is None:
            if frames:
                break
            continue
        if frame[1]:
            frames.append(frame[0])
    return frames


def _choose(texts):
    """``(index of the report's first line, whether it is a panic line)``, or None."""
    panic = None
    for index in range(len(texts) - 1, -1, -1):
        if _PANIC.search(texts[index]):
            panic = index
            break
    limit = panic if panic is not None else len(texts)
    if panic is not None and not _CONSEQUENCE.search(_PANIC.search(texts[panic]).group(1)):
        return panic, True
    for index in range(limit - 1, -1, -1):
        if _FIRST.match(texts[index]) or _SECOND.match(texts[index]):
            start = _report_start(texts, index)
            if _HUNG.match(texts[start]):
                # The first task of the last burst of hung task reports.
                for back in range(start - 1, -1, -1):
                    if _HUNG.match(texts[back]):
                        start = back
                    elif _FIRST.match(texts[back]) or _SECOND.match(texts[back]) or _PANIC.search(texts[back]):
                        break
            return start, False
    if panic is not None:
        return panic, True
    return None


def crash_signature(lines):
    """The signature of the crash recorded at the end of the kernel log ``lines`` (see the
    module docstring), or None when the log records no crash."""
    lines = list(lines)[-LINES_LIMIT:]
    texts = [strip_prefix(line).strip() for line in lines]
    chosen = _choose(texts)
    if chosen is None:
        return None
    start, is_panic = chosen
    end = min(len(texts), start + TRACE_LINES)
    for index in range(start + 1, end):
        if texts[index].startswith("---[ end trace") or (not is_panic and _PANIC.search(texts[index])):
            end = index
            break
    function = None if is_panic else _crash_function(texts, start, end)
    frames = _trace(texts, start + 1, end)
    skip = _GENERIC
    while frames and frames[0].split(" ")[0] in skip:
        frames.pop(0)
    if _HUNG.match(texts[start]):
        while frames and frames[0].split(" ")[0].startswith(_BLOCKING):
            frames.pop(0)
        function = frames[0] if frames else None
    if function and (not frames or frames[0] != function):
        frames.insert(0, function)
    frames = frames[:FRAMES]
    title = normalise(texts[start])
    if function:
        title = "%s in %s" % (title, function)
    test = (any(marker in text for marker in _SYSRQ_LINES for text in texts)
            or "sysrq triggered crash" in texts[start]
            or any(frame.split(" ")[0] == "sysrq_handle_crash" for frame in frames))
    digest = hashlib.sha256("\n".join([title] + frames).encode("utf-8")).hexdigest()[:16]
    return {"hash": digest, "title": title, "frames": frames, "test": bool(test), "line": texts[start]}


def scan(lines):
    """``(sysrq, panic)`` of log lines, as reader.crash_lines gives them for a file: whether
    the log records a sysrq-c crash, and its last "Kernel panic" line (or None)."""
    sysrq, panic = False, None
    for line in lines:
        if any(marker in line for marker in _SYSRQ_LINES):
            sysrq = True
        if "Kernel panic - not syncing" in line:
            panic = line.rstrip("\n")
    return sysrq, panic
