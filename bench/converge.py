# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Convergence cost: the kdump role's first converge of a fresh lab VM, its idempotent re-run,
and the floor - a playbook that only gathers facts and pings the same host - measured side
by side in one run (runs alternate; medians).

    ./dev bench converge [--runs 3]
"""

from __future__ import absolute_import, division, print_function

import argparse
import sys

import common

VM = "bench-converge"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    info = common.machine()
    work = common.workdir()
    common.say("fresh Debian 12 VM %s (1 GiB, 2 vCPUs)" % VM)
    vm = common.start_vm(VM)
    inv = common.inventory([vm], work)
    role = common.playbook(work, "converge.yml", [{
        "name": "kdump", "hosts": "all", "gather_facts": False,
        "roles": [{"role": "crashdump.kdump.kdump", "vars": {"kdump_reboot_ok": True}}]}])
    floor = common.playbook(work, "floor.yml", [{
        "name": "floor", "hosts": "all", "gather_facts": True,
        "tasks": [{"name": "Ping", "ansible.builtin.ping": {}}]}])
    try:
        common.say("first converge (installs kdump-tools, reboots for the reservation)")
        first = common.ansible(inv, role)
        reruns, floors = [], []
        for index in range(args.runs):
            common.say("run %d/%d: floor, then the idempotent re-run" % (index + 1, args.runs))
            floors.append(common.ansible(inv, floor))
            rerun = common.ansible(inv, role)
            if rerun["recap"][VM]["changed"]:
                raise SystemExit("the re-run changed %d things: not idempotent" % rerun["recap"][VM]["changed"])
            reruns.append(rerun)
    finally:
        common.lab.destroy([VM])
    tasks = sum(first["recap"][VM][k] for k in ("ok", "changed", "skipped"))
    rerun_tasks = sum(reruns[0]["recap"][VM][k] for k in ("ok", "changed", "skipped"))
    floor_s = common.median([r["seconds"] for r in floors])
    rerun_s = common.median([r["seconds"] for r in reruns])
    data = {
        "machine": info,
        "first_converge_seconds": first["seconds"], "first_converge_changed": first["recap"][VM]["changed"],
        "first_converge_tasks": tasks, "first_converge_controller_cpu": first["cpu"],
        "rerun_seconds": [r["seconds"] for r in reruns], "rerun_median": rerun_s,
        "rerun_tasks": rerun_tasks, "rerun_skipped": reruns[0]["recap"][VM]["skipped"],
        "rerun_controller_cpu": common.median([r["cpu"] for r in reruns]),
        "floor_seconds": [r["seconds"] for r in floors], "floor_median": floor_s,
        "floor_controller_cpu": common.median([r["cpu"] for r in floors]),
        "ratio_rerun_to_floor": round(rerun_s / floor_s, 2),
    }
    table = (
        "| measure | value |\n|---|---|\n"
        "| first converge (install, reservation, reboot, capture kernel) | %.1f s, %d tasks, %d changed |\n"
        "| idempotent re-run, median of %d | %.1f s, %d tasks (%d skipped), 0 changed |\n"
        "| floor: gather facts + ping, median of %d | %.1f s |\n"
        "| **re-run / floor** | **%.2f x** |\n"
        "| controller CPU: first converge, re-run, floor | %.1f s, %.1f s, %.1f s |\n" % (
            first["seconds"], tasks, first["recap"][VM]["changed"], args.runs, rerun_s, rerun_tasks,
            data["rerun_skipped"], args.runs, floor_s, data["ratio_rerun_to_floor"],
            first["cpu"], data["rerun_controller_cpu"], data["floor_controller_cpu"]))
    common.save("converge", data, table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
