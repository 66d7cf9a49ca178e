#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kdump_watch
short_description: Watch between runs whether this host would capture a crash, for Prometheus
version_added: 0.1.0
description:
  - Installs (O(state=present)) or removes (O(state=absent)) a systemd timer and a oneshot service,
    C(crashdump-kdump-watch.timer) and C(.service), that run a checker on the host every O(interval)
    minutes (and 2 minutes after boot). The checker needs no Ansible - it is a private copy of the
    collection's pure-Python module_utils it imports, in C(/usr/local/lib/crashdump-kdump/watch/), and
    the program C(/usr/local/lib/crashdump-kdump/kdump-watch.py).
  - Each run asks what M(crashdump.kdump.kdump_info) would say - readiness and its reasons, the
    reservation and the recommendation, the capture kernel, the proof record and its staleness, the
    target, the expected dump size, the dumps - and writes, atomically, C(kdump.prom) in O(textfile_dir)
    for node_exporter's textfile collector and C(/var/lib/crashdump-kdump/watch.json) (root-only) with the
    same facts and the reasons.
  - "Metrics (gauges): C(kdump_ready), C(kdump_crashkernel_reserved_bytes),
    C(kdump_crashkernel_recommended_bytes), C(kdump_capture_kernel_loaded),
    C(kdump_capture_matches_running_kernel), C(kdump_proof_timestamp_seconds) (0 - never proven),
    C(kdump_proof_stale) (1 also when there is no proof), C(kdump_target_free_bytes) and C(kdump_dumps)
    (local and fs targets only), C(kdump_expected_dump_bytes), and C(kdump_watch_info) with the labels
    C(family), C(kernel_release), C(target_type)."
  - Where systemd runs, the timer is enabled and started and, when something changed, the check runs
    once at once; elsewhere (a container, an image being built) the timer is enabled for the next boot
    and the checker is run directly.
  - O(state=absent) stops and disables the timer and removes the units, the program, its copy of the
    module_utils, C(kdump.prom) and C(watch.json).
author:
  - crashdump.kdump contributors (!UNKNOWN)
extends_documentation_fragment:
  - crashdump.kdump.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The units and the program; the copied module_utils are listed in RV(files).
  idempotent:
    support: full
options:
  state:
    description: Whether the watch should be installed.
    type: str
    choices: [present, absent]
    default: present
  interval:
    description: Minutes between two checks (1 to 1440).
    type: int
    default: 15
  textfile_dir:
    description:
      - The directory node_exporter's textfile collector reads (its C(--collector.textfile.directory)).
        Debian's and Ubuntu's prometheus-node-exporter read C(/var/lib/prometheus/node-exporter). Made
        (0755) when missing.
    type: path
    default: /var/lib/prometheus/node-exporter
  python:
    description:
      - The Python the service runs the checker with. Default - C(/usr/bin/python3) where it exists, else
        the interpreter running this module.
    type: path
seealso:
  - module: crashdump.kdump.kdump_info
  - module: crashdump.kdump.kdump_proof
"""

EXAMPLES = r"""
- name: Watch kdump's readiness every 15 minutes
  crashdump.kdump.kdump_watch:
    interval: 15

- name: Stop watching
  crashdump.kdump.kdump_watch:
    state: absent
"""

RETURN = r"""
files:
  description: The files written or removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
commands:
  description: The commands run that change the host (C(systemctl), the first check).
  returned: always
  type: list
  elements: list
metrics_file:
  description: The metrics file.
  returned: always
  type: str
  sample: /var/lib/prometheus/node-exporter/kdump.prom
"""

import importlib
import os
import pkgutil
import shutil
import sys

from ansible_collections.crashdump.kdump.plugins.module_utils.common.apply import Applier, ApplyError
from ansible_collections.crashdump.kdump.plugins.module_utils.common.module import checked_module
from ansible_collections.crashdump.kdump.plugins.module_utils.capture import watch
from ansible_collections.crashdump.kdump.plugins.module_utils.family import records
from ansible_collections.crashdump.kdump.plugins.module_utils.runner.command import CommandError, CommandRunner

TIMER = watch.UNIT + ".timer"
SERVICE_FILE = os.path.join(watch.UNIT_DIR, watch.UNIT + ".service")


def get_source(name):
    """The source of module ``name`` of this collection (from the module's own payload)."""
    package, leaf = name.rsplit(".", 1)
    try:
        if not hasattr(importlib.import_module(package), "__path__"):
            return None
        data = pkgutil.get_data(package, leaf + ".py")
    except (IOError, OSError, ImportError, ValueError):
        return None
    return None if data is None else data.decode("utf-8")


def read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def main():
    module = checked_module(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["present", "absent"]),
            interval=dict(type="int", default=15),
            textfile_dir=dict(type="path", default=watch.TEXTFILE_DIR),
            python=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    runner = CommandRunner(module.run_command, module.get_bin_path)
    booted = os.path.isdir("/run/systemd/system")
    old_dir = watch.previous_textfile_dir(read(SERVICE_FILE))
    prom = os.path.join(p["textfile_dir"], watch.PROM_NAME)
    result = {"changed": False, "files": [], "commands": runner.commands, "metrics_file": prom}
    try:
        if p["state"] == "present":
            python = p["python"] or ("/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable)
            family = records.detect(read("/etc/os-release") or "")
            wanted = watch.wanted_files(watch.closure(get_source), python, p["interval"],
                                        p["textfile_dir"], after=family.service if family else None)
            todo = watch.changes(wanted, read, watch.installed_files())
            if old_dir and old_dir != p["textfile_dir"] and os.path.exists(os.path.join(old_dir, watch.PROM_NAME)):
                todo[os.path.join(old_dir, watch.PROM_NAME)] = None
        else:
            python = None
            paths = watch.installed_files() + [watch.PROGRAM, SERVICE_FILE, os.path.join(watch.UNIT_DIR, TIMER),
                                               prom, watch.JSON_FILE]
            if old_dir:
                paths.append(os.path.join(old_dir, watch.PROM_NAME))
            todo = dict((path, None) for path in paths if os.path.exists(path))
    except watch.WatchError as exc:
        module.fail_json(msg=str(exc), **result)
    rc, out, _err = runner.probe(["systemctl", "is-enabled", TIMER])
    enabled = rc == 0 and out.strip() in ("enabled", "enabled-runtime")
    active = booted and runner.probe(["systemctl", "is-active", TIMER])[0] == 0
    want = p["state"] == "present"
    result["files"] = sorted(todo)
    result["changed"] = bool(todo) or enabled != want or (booted and active != want)
    if module._diff:
        result["diff"] = [{"before_header": path, "after_header": path, "before": read(path) or "",
                           "after": todo[path] or ""} for path in sorted(todo)
                          if not path.startswith(watch.LIB + "/")]
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)

    applier = Applier(module)
    try:
        if want:
            applier.replace_files(todo)
            if booted and todo:
                runner(["systemctl", "daemon-reload"], "reloading systemd's units")
            if not enabled or (booted and not active):
                runner(["systemctl", "enable"] + (["--now"] if booted else []) + [TIMER],
                       "enabling the watch's timer")
            if todo:
                # The first check now, so that the metrics are there before the timer's first run;
                # one that fails is a warning (the timer retries; its journal says why).
                first = runner.resolve(["systemctl", "start", watch.UNIT + ".service"] if booted else [
                    python, "-I", watch.PROGRAM, "--textfile-dir", p["textfile_dir"], "--json", watch.JSON_FILE])
                runner.commands.append(first)
                rc, out, err = runner.probe(first)
                if rc != 0:
                    module.warn("the watch is installed, but its first check failed (rc=%d): %s"
                                % (rc, (err or out).strip()[-500:]))
        else:
            if enabled or active:
                runner(["systemctl", "disable"] + (["--now"] if booted else []) + [TIMER],
                       "disabling the watch's timer")
            applier.replace_files(todo)
            if os.path.isdir(watch.LIB):
                shutil.rmtree(watch.LIB)
            for parent in (os.path.dirname(watch.PROGRAM), os.path.dirname(watch.JSON_FILE)):
                if os.path.isdir(parent) and not os.listdir(parent):
                    os.rmdir(parent)
            if booted and todo:
                runner(["systemctl", "daemon-reload"], "reloading systemd's units")
    except (ApplyError, CommandError, IOError, OSError) as exc:
        applier.restore()
        module.fail_json(msg="kdump_watch: %s" % exc, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
