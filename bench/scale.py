# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet scale: controller cost per host of a check-mode crashdump.kdump.site over N
inventory hosts that use the local connection (this machine as every host), with forks 10
and 50: wall seconds and controller CPU seconds (ansible-playbook and everything it runs),
per host.

    ./dev bench scale [--hosts 1,10,50,200] [--forks 10,50]

Every host runs the whole role in check mode except the boot loader and package steps
(--skip-tags kdump_crashkernel,kdump_packages: this machine has no boot loader to read, and
the package manager's cost is the managed host's, not the controller's). With the local
connection the modules run on the controller too, so the CPU figures are an upper bound of
what a controller spends per SSH-managed host.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import sys

import common


def inventory(work, count):
    hosts = dict(("h%03d" % index, None) for index in range(1, count + 1))
    path = os.path.join(work, "scale-%d.json" % count)
    with open(path, "w") as handle:
        json.dump({"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                           "children": {"kdump_hosts": {"hosts": hosts}}}}, handle)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="1,10,50,200")
    parser.add_argument("--forks", default="10,50")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.hosts.split(",")]
    forks = [int(n) for n in args.forks.split(",")]
    info = common.machine()
    work = common.workdir()
    rows = []
    for count in counts:
        inv = inventory(work, count)
        for fork in forks:
            if fork > count and fork != forks[0]:
                continue
            common.say("site.yml --check over %d hosts, forks %d" % (count, fork))
            out = common.ansible(inv, "crashdump.kdump.site", "--check",
                                 "--skip-tags", "kdump_crashkernel,kdump_packages", forks=fork)
            failed = sum(r["failed"] + r["unreachable"] for r in out["recap"].values())
            if failed or len(out["recap"]) != count:
                sys.stdout.write(out["stdout"][-4000:])
                raise SystemExit("%d hosts failed (or the recap lists %d hosts, not %d)" % (
                    failed, len(out["recap"]), count))
            tasks = sum(sum(r[k] for k in ("ok", "changed", "skipped")) for r in out["recap"].values())
            rows.append({"hosts": count, "forks": fork, "wall": out["seconds"], "cpu": out["cpu"],
                         "tasks": tasks, "wall_per_host": round(out["seconds"] / count, 3),
                         "cpu_per_host": round(out["cpu"] / count, 3)})
            common.say("  %.1f s wall, %.1f s CPU, %d task results" % (out["seconds"], out["cpu"], tasks))
    lines = ["| hosts | forks | wall (s) | controller CPU (s) | wall / host (s) | CPU / host (s) | task results |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append("| %(hosts)d | %(forks)d | %(wall).1f | %(cpu).1f | %(wall_per_host).3f | %(cpu_per_host).3f |"
                     " %(tasks)d |" % row)
    table = ("check-mode `site.yml` with the local connection, `--skip-tags kdump_crashkernel,kdump_packages`"
             " (see bench/scale.py).\n\n%s\n" % "\n".join(lines))
    common.save("scale", {"machine": info, "rows": rows}, table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
