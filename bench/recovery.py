# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash to recovery: on one lab VM, for each collector setting, crash it --crashes times and
report the median seconds from sysrq-c to the host answering SSH again, the seconds
makedumpfile took (from the capture kernel's log on the serial console), and the dump size;
ratios against the distribution's default (makedumpfile -c -d 31).

    ./dev bench recovery [--crashes 3] [--release 12] [--memory 1024]
"""

from __future__ import absolute_import, division, print_function

import argparse
import glob
import os
import re
import sys

import common

VM = "bench-recovery"
# name, kdump_target options, what it is
SETTINGS = [
    ("default", {"compression": "zlib", "dump_level": 31}, "distribution default: -c -d 31 (zlib)"),
    ("lzo", {"compression": "lzo", "dump_level": 31}, "-l -d 31"),
    ("zstd", {"compression": "zstd", "dump_level": 31}, "-z -d 31"),
    ("d1", {"compression": "zlib", "dump_level": 1}, "-c -d 1 (zero pages only excluded)"),
]
STAMP = re.compile(r"^\[\s*([0-9]+\.[0-9]+)\]")


def collector_seconds(console_dir, since):
    """Seconds between kdump-tools starting makedumpfile on /proc/vmcore and saying the vmcore
    is saved, in the newest capture-kernel boot log written after ``since``."""
    for path in sorted(glob.glob(os.path.join(console_dir, "boot-*.log")), reverse=True):
        if os.path.getmtime(path) < since:
            break
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace").replace("\r", "")
        if "elfcorehdr=" not in text:
            continue
        begin = end = None
        for line in text.splitlines():
            match = STAMP.match(line)
            if not match:
                continue
            if begin is None and "makedumpfile" in line and "/proc/vmcore" in line and "--dump-dmesg" not in line:
                begin = float(match.group(1))
            if begin is not None and "saved vmcore" in line:
                end = float(match.group(1))
                break
        if begin is not None and end is not None:
            return round(end - begin, 1)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crashes", type=int, default=3)
    parser.add_argument("--release", default="12")
    parser.add_argument("--memory", type=int, default=1024)
    args = parser.parse_args(argv)
    info = common.machine()
    work = common.workdir()
    common.say("fresh Debian %s VM %s (%d MiB)" % (args.release, VM, args.memory))
    vm = common.start_vm(VM, release=args.release, memory=args.memory)
    inv = common.inventory([vm], work)
    rows = []
    try:
        common.ansible(inv, common.playbook(work, "converge.yml", [{
            "name": "kdump", "hosts": "all", "gather_facts": False,
            "roles": [{"role": "crashdump.kdump.kdump", "vars": {"kdump_reboot_ok": True, "kdump_keep": 1}}]}]))
        have = common.task_result(inv, work, "info", {"crashdump.kdump.kdump_info": {"dumps": 0}})["makedumpfile"]
        for name, options, what in SETTINGS:
            if options["compression"] not in have["compressions"]:
                common.say("%s: skipped, makedumpfile %s has no %s" % (name, have["version"], options["compression"]))
                rows.append({"setting": name, "what": what, "skipped": "makedumpfile %s has no %s" % (
                    have["version"], options["compression"])})
                continue
            common.ansible(inv, common.playbook(work, "target.yml", [{
                "name": "target", "hosts": "all", "gather_facts": False, "tasks": [
                    {"name": "Collector", "crashdump.kdump.kdump_target": dict(
                        type="local", path="/var/crash", keep=1, **options)},
                    {"name": "Capture kernel", "crashdump.kdump.kexec_crash": {"state": "loaded"}}]}]))
            runs = []
            for index in range(args.crashes):
                common.say("%s (%s): crash %d/%d" % (name, what, index + 1, args.crashes))
                since = common.time.time()
                result = common.task_result(inv, work, "crash-%s-%d" % (name, index),
                                            {"crashdump.kdump.crash_test": {"confirm": True}})
                runs.append({"back": result["timings"]["trigger_to_back"],
                             "dump_complete": result["timings"].get("trigger_to_dump_complete"),
                             "collector": collector_seconds(vm["console_dir"], since),
                             "size": result["size"], "format": result["format"]})
                common.say("  back after %.1f s, makedumpfile %s s, %d bytes" % (
                    runs[-1]["back"], runs[-1]["collector"], runs[-1]["size"]))
            rows.append({"setting": name, "what": what, "runs": runs,
                         "back": common.median([r["back"] for r in runs]),
                         "collector": common.median([r["collector"] for r in runs]),
                         "size": int(common.median([r["size"] for r in runs]))})
    finally:
        common.lab.destroy([VM])
    base = rows[0]
    lines = ["| collector | makedumpfile | trigger to back (median s) | ratio | makedumpfile (s) | ratio |"
             " dump size (MiB) | ratio |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if "skipped" in row:
            lines.append("| %s | %s | skipped: %s | | | | | |" % (row["setting"], row["what"], row["skipped"]))
            continue

        def ratio(key, row=row):
            return "%.2f" % (row[key] / base[key]) if row[key] and base[key] else "-"
        lines.append("| %s | %s | %.1f | %s | %s | %s | %.1f | %s |" % (
            row["setting"], row["what"], row["back"], ratio("back"), row["collector"], ratio("collector"),
            row["size"] / 1048576.0, ratio("size")))
    table = "Debian %s, %d MiB, %d crashes per setting, makedumpfile %s.\n\n%s\n" % (
        args.release, args.memory, args.crashes, have["version"], "\n".join(lines))
    common.save("recovery", {"machine": info, "release": args.release, "memory": args.memory,
                             "makedumpfile": have, "rows": rows}, table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
