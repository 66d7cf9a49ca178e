# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reservation size: for each lab configuration, the smallest crashkernel= (in 8 MiB steps)
with which the capture kernel saves a complete, valid dump, found by bisection with real
crashes, and the largest that fails (and how). Then, per configuration, that minimum next to
the distribution's default, the kdump-utils x86_64 default for that RAM, and what the
policies distro and estimate recommend, each as a ratio to the minimum.

    ./dev bench reservation [--configs 12:1024,12:2048,12:4096,13:2048] [--low 64] [--high 256] [--replace]

A configuration is RELEASE:MIB or RELEASE:MIB:ARCH (amd64, the default, booting by BIOS, or
arm64, booting by UEFI: 12:2048:arm64). The distro and estimate columns are what the
collection's crashkernel_info recommends on that VM, so an arm64 row has the arm64 host's own
table and parts; the kdump-utils column is the x86_64 default for that RAM on every row.

Rows of configurations a run does not measure are kept from the last results (with their
date) unless --replace is given. --table-only measures nothing and writes the table again
from the saved results (the estimate column follows the estimate's current constants).

A probe: crashkernel=SIZE on the command line, reboot, kdump_info (does the capture kernel
load?), crash_test (is a valid dump of that crash saved?). A size that does not load or does
not save a valid dump fails; the serial console of the capture kernel tells how (out of
memory, no dump, an incomplete dump).
"""

from __future__ import absolute_import, division, print_function

import argparse
import glob
import json
import os
import re
import sys

import common

MIB = 1 << 20


def evaluate(value, ram):
    """Bytes ``value`` reserves with ``ram`` bytes of System RAM (the collection's engine)."""
    return common.module_utils("sizing.crashkernel").evaluate(value, ram, "x86_64").total


def estimate_sum(row):
    """The sum of the estimate's measured parts on that host, in bytes."""
    if row["estimate"].get("sum_bytes"):
        return row["estimate"]["sum_bytes"]
    match = re.search(r"measured sum ([0-9.]+) MiB", row["estimate"]["explanation"])
    return int(float(match.group(1)) * MIB)


def estimate_now(row):
    """What the estimate policy recommends today for the host the row measured: the current
    margin, step and floor applied to the sum of the parts the host measured (the rest of the
    policy is that sum)."""
    size = common.module_utils("sizing.policy").estimate_size(estimate_sum(row))
    return size, "crashkernel=%dM" % (size // MIB)


def capture_failure(console_dir, since):
    """How the capture kernel failed, from its console log after ``since``."""
    for path in sorted(glob.glob(os.path.join(console_dir, "boot-*.log")), reverse=True):
        if os.path.getmtime(path) < since:
            break
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
        # The capture kernel's boot: elfcorehdr= on its command line (x86_64), or the header
        # handed over in the device tree (arm64: "Reserving ... for elfcorehdr").
        if "elfcorehdr=" not in text and "for elfcorehdr" not in text:
            continue
        lowered = text.lower()
        if "out of memory" in lowered or "oom-kill" in lowered or "oom_reaper" in lowered:
            return "out of memory in the capture kernel"
        if "kernel panic" in lowered:
            return "the capture kernel panicked"
        if "dump-incomplete" in text or "vmcore-incomplete" in text:
            return "incomplete dump"
        return "no dump saved"
    return "the capture kernel did not boot"


class Probe(object):
    """Crash one VM with a given crashkernel= and say whether a valid dump arrived."""

    def __init__(self, vm, work):
        self.vm, self.work = vm, work
        self.inventory = common.inventory([vm], work)
        self.count = 0

    def run(self, size_mib):
        self.count += 1
        out = os.path.join(self.work, "probe-%d.json" % self.count)
        since = common.time.time()
        book = common.playbook(self.work, "probe.yml", [{
            "name": "probe", "hosts": "all", "gather_facts": False, "tasks": [
                {"name": "Reserve", "crashdump.kdump.kernel_cmdline": {"args": {"crashkernel": "%dM" % size_mib}},
                 "register": "cmdline"},
                {"name": "Reboot", "ansible.builtin.reboot": {"reboot_timeout": 900},
                 "when": "cmdline.reboot_required"},
                {"name": "Info", "crashdump.kdump.kdump_info": {"dumps": 0}, "register": "info"},
                {"name": "Crash", "crashdump.kdump.crash_test": {"confirm": True}, "register": "crash",
                 "when": "info.ready", "ignore_errors": True},
                {"name": "Save", "ansible.builtin.copy": {
                    "content": "{{ {'info': info, 'crash': crash} | to_json }}", "dest": out, "mode": "0600"},
                 "delegate_to": "localhost"}]}])
        common.ansible(self.inventory, book)
        with open(out) as handle:
            result = json.load(handle)
        info, crash = result["info"], result["crash"]
        if not info["ready"]:
            how = "the capture kernel does not load: %s" % "; ".join(info["reasons"])
            common.say("  %dM: FAIL (%s)" % (size_mib, how))
            return False, how
        if crash.get("passed"):
            back = crash["timings"]["trigger_to_back"]
            common.say("  %dM: pass (%s, back in %.0f s)" % (size_mib, crash["format"], back))
            return True, "valid dump"
        how = "%s (%s)" % (capture_failure(self.vm["console_dir"], since), crash.get("msg", "")[:160])
        common.say("  %dM: FAIL (%s)" % (size_mib, how))
        return False, how


ARCHES = {"amd64": "bios", "arm64": "uefi"}  # the architectures, and how each boots


def parse_config(config):
    """RELEASE:MIB[:ARCH] -> (release, memory, arch, boot)."""
    parts = config.split(":")
    if len(parts) not in (2, 3):
        raise SystemExit("config %s: expected RELEASE:MIB or RELEASE:MIB:ARCH" % config)
    arch = parts[2] if len(parts) == 3 else "amd64"
    if arch not in ARCHES:
        raise SystemExit("config %s: arch %s, expected one of %s" % (config, arch, ", ".join(sorted(ARCHES))))
    return parts[0], int(parts[1]), arch, ARCHES[arch]


def arch_of(row):
    """A row's architecture (the rows saved before arm64 was measured are amd64)."""
    return row.get("arch", "amd64")


def key(row):
    return (int(row["release"]), row["memory"], arch_of(row) != "amd64", arch_of(row))


def label(row):
    return "Debian %s, %d MiB%s" % (row["release"], row["memory"],
                                    "" if arch_of(row) == "amd64" else ", " + arch_of(row))


def bisect(probe, low, high, step=8):
    """Smallest passing size in ``step`` MiB steps in (low, high]; ``high`` must pass."""
    steps = []
    ok, how = probe.run(high)
    steps.append((high, ok, how))
    if not ok:
        raise SystemExit("%dM does not work either: raise --high (%s)" % (high, how))
    ok, how = probe.run(low)
    steps.append((low, ok, how))
    if ok:
        return low, None, None, steps
    fail, fail_how, good = low, how, high
    while good - fail > step:
        mid = fail + ((good - fail) // (2 * step)) * step or fail + step
        ok, how = probe.run(mid)
        steps.append((mid, ok, how))
        if ok:
            good = mid
        else:
            fail, fail_how = mid, how
    return good, fail, fail_how, steps


def merge(rows, keep):
    """This run's rows, plus (when ``keep``) the saved rows of the configurations it did not
    measure, each with the date it was measured; sorted by release and memory."""
    saved = []
    if keep:
        try:
            with open(os.path.join(common.RESULTS, "reservation.json")) as handle:
                old = json.load(handle)
        except (OSError, ValueError):
            old = {"rows": []}
        done = set(key(row) for row in rows)
        for row in old.get("rows", []):
            if key(row) not in done:
                row.setdefault("measured", old.get("machine", {}).get("date", "?"))
                saved.append(row)
    return sorted(rows + saved, key=key)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="12:1024,12:2048,12:4096,13:2048")
    parser.add_argument("--low", type=int, default=64, help="MiB, the first size tried below --high")
    parser.add_argument("--high", type=int, default=256, help="MiB, a size that must work")
    parser.add_argument("--step", type=int, default=8, help="MiB, the bisection's resolution")
    parser.add_argument("--replace", action="store_true",
                        help="drop the saved rows of configurations this run does not measure")
    parser.add_argument("--table-only", action="store_true",
                        help="measure nothing; write the table again from bench/results/reservation.json")
    args = parser.parse_args(argv)
    if args.table_only:
        return table_only()
    info = common.machine()
    rows = []
    for config in args.configs.split(","):
        release, memory, arch, boot = parse_config(config)
        name = "bench-res-%s-%d%s" % (release, memory, "" if arch == "amd64" else "-" + arch)
        work = common.workdir()
        common.say("Debian %s, %d MiB, %s: fresh VM %s" % (release, memory, arch, name))
        started = common.time.time()
        vm = common.start_vm(name, release=release, memory=memory, boot=boot, arch=arch)
        try:
            inv = common.inventory([vm], work)
            common.ansible(inv, common.playbook(work, "setup.yml", [{
                "name": "kdump", "hosts": "all", "gather_facts": False,
                "roles": [{"role": "crashdump.kdump.kdump", "vars": {
                    "kdump_reboot_ok": True, "kdump_crashkernel_policy": "fixed",
                    "kdump_crashkernel": "%dM" % args.high, "kdump_keep": 1,
                    # A capture kernel that panics (out of memory) reboots instead of hanging.
                    "kdump_cmdline_append": ["panic=10"]}}]}]))
            recs = {}
            for policy in ("distro", "estimate"):
                recs[policy] = common.task_result(inv, work, "size-%s" % policy,
                                                  {"crashdump.kdump.crashkernel_info": {"policy": policy}})
            ram = recs["distro"]["host"]["system_ram"]
            good, fail, fail_how, steps = bisect(Probe(vm, work), args.low, args.high, args.step)
        finally:
            common.lab.destroy([name])
        minimum = good * MIB
        kdump_utils = evaluate("2G-64G:256M,64G-:512M", ram)
        row = {"release": release, "memory": memory, "arch": arch, "boot": boot,
               "accel": common.lab.choose_accel(None, arch) if arch != "amd64" else info["accel"],
               "system_ram": ram, "minimum_mib": good,
               "largest_failing_mib": fail, "failure": fail_how,
               "steps": [{"mib": s, "passed": ok, "how": how} for s, ok, how in steps],
               "distro": {"value": recs["distro"]["recommended"]["crashkernel"],
                          "bytes": recs["distro"]["recommended"]["reserved_bytes"]},
               "estimate": {"value": recs["estimate"]["recommended"]["crashkernel"],
                            "bytes": recs["estimate"]["recommended"]["reserved_bytes"],
                            "explanation": recs["estimate"]["recommended"]["explanation"],
                            "sum_bytes": recs["estimate"]["recommended"]["details"]["sum"]},
               "kdump_utils_x86_64_bytes": kdump_utils, "measured": info["date"],
               "bisection": [args.low, args.high], "step_mib": args.step,
               "seconds": round(common.time.time() - started)}
        rows.append(row)
        common.say("%s: minimum %dM, largest failing %sM (%s)" % (label(row), good, fail, fail_how))

    rows = merge(rows, not args.replace)
    table = render(rows)
    common.save("reservation", {"machine": info, "rows": rows}, table)
    print(table)
    return 0


def render(rows):
    """The Markdown table of the rows: each configuration's minimum next to the defaults and
    the policies, as ratios. The estimate is today's formula on the sum the host measured."""
    def ratio(value, minimum):
        return "%.2f" % (float(value) / minimum) if value else "0 (nothing reserved)"
    lines = ["| configuration | minimum that saves a valid dump | largest that fails, and how |"
             " distribution default = policy `distro` | kdump-utils x86_64 | policy `estimate` (measured sum) | measured |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        minimum = row["minimum_mib"] * MIB
        estimate_bytes, estimate_value = estimate_now(row)
        failure = row["failure"].split(" (")[0] if row["failure"] else ""
        lines.append("| %s | %d MiB | %s | %s = %s | %d MiB = %s | %s = %s (%.1f MiB) | %s |" % (
            label(row), row["minimum_mib"],
            "%s MiB: %s" % (row["largest_failing_mib"], failure) if row["largest_failing_mib"] else "-",
            row["distro"]["value"], ratio(row["distro"]["bytes"], minimum),
            row["kdump_utils_x86_64_bytes"] // MIB, ratio(row["kdump_utils_x86_64_bytes"], minimum),
            estimate_value, ratio(estimate_bytes, minimum), estimate_sum(row) / float(MIB), row["measured"]))
    return ("Ratios are to the measured minimum (8 MiB steps unless a row's step_mib says otherwise, bisection with real crashes; every probe of"
            " each row is in bench/results/reservation.json). The estimate column applies today's margin,"
            " step and floor to the sum of the parts the host measured.\n\n%s\n" % "\n".join(lines))


def table_only():
    """Render the table again from the saved results (after the estimate's constants change)."""
    with open(os.path.join(common.RESULTS, "reservation.json")) as handle:
        data = json.load(handle)
    for row in data["rows"]:
        row.setdefault("measured", data["machine"]["date"])
    table = render(data["rows"])
    common.save("reservation", data, table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
