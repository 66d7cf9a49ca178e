# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the benchmarks share: lab VMs, ansible-playbook runs against them, timing, and the
results (JSON in bench/results/, a table in docs/benchmarks.md).

Run a benchmark with ./dev bench NAME (the collection staged, the venv on PATH)."""

from __future__ import absolute_import, division, print_function

import datetime
import importlib
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "results")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")

_SPEC = importlib.util.spec_from_file_location("kdumplab", os.path.join(ROOT, "tests", "lab", "kdumplab.py"))
lab = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(lab)

RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)",
                   re.M)


def module_utils(name):
    """The collection's module_utils NAME (pure Python), imported from the collection
    ansible-playbook uses (ANSIBLE_COLLECTIONS_PATH), else the one ./dev bench stages."""
    paths = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    for staged in reversed(paths or [os.path.join(ROOT, "build", "collections")]):
        if staged not in sys.path:
            sys.path.insert(0, staged)
    return importlib.import_module("ansible_collections.crashdump.kdump.plugins.module_utils." + name)


def say(message):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def machine():
    """The machine the numbers come from."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "kernel": platform.release(), "accel": lab.choose_accel(lab.build("12")["kernel"]),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "ansible_core": ansible_core()}


def ansible_core():
    out = subprocess.run(["ansible", "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, universal_newlines=True, check=False)
    match = re.search(r"core ([0-9.]+)", out.stdout)
    return match.group(1) if match else "?"


def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 1) if values else None


def start_vm(name, release="12", memory=1024, cpus=2, fresh=True, boot="bios", arch="amd64"):
    """A running lab VM (a fresh overlay unless fresh is false); its vm dict."""
    if fresh:
        lab.destroy([name])
    vm = lab.start(name, release=release, memory=memory, cpus=cpus, wait=1200, boot=boot, arch=arch)
    return vm


def inventory(vms, directory, host_vars=None):
    """An inventory file for these lab VMs (host keys pinned); its path."""
    host_vars = host_vars or {}
    hosts = {}
    for vm in vms:
        entry = {"ansible_host": vm["address"], "ansible_port": vm["port"], "ansible_user": vm["user"],
                 "ansible_ssh_private_key_file": vm["identity_file"],
                 "ansible_python_interpreter": "auto_silent",
                 "ansible_ssh_common_args": (
                     "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
                     " -o ControlMaster=no -o ServerAliveInterval=5 -o ServerAliveCountMax=12"
                     % vm["known_hosts"]),
                 "kdump_console_dir": vm["console_dir"]}
        entry.update(host_vars.get(vm["name"], {}))
        hosts[vm["name"]] = entry
    path = os.path.join(directory, "inventory.json")
    with open(path, "w") as handle:
        json.dump({"all": {"children": {"kdump_hosts": {"hosts": hosts}}}}, handle, indent=1)
    return path


def playbook(directory, name, plays):
    path = os.path.join(directory, name)
    with open(path, "w") as handle:
        json.dump(plays, handle, indent=1)
    return path


def ansible(inventory_path, book, *extra, **kwargs):
    """Run ansible-playbook; return dict(seconds, cpu (user+sys of the controller's process
    tree), rc, recap {host: {ok, changed, ...}}, tasks (task results), stdout)."""
    env = dict(os.environ, ANSIBLE_PIPELINING="true", ANSIBLE_TIMEOUT="60", ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOST_KEY_CHECKING="true", ANSIBLE_FORKS=str(kwargs.get("forks", 5)),
               ANSIBLE_DEPRECATION_WARNINGS="false")
    env.update(kwargs.get("env", {}))
    before = os.times()
    start = time.time()
    out = subprocess.run(["ansible-playbook", "-i", inventory_path, book] + list(extra),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                         env=env, check=False)
    seconds = time.time() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    recap = {}
    for host, ok, changed, unreachable, failed, skipped in RECAP.findall(out.stdout):
        recap[host] = {"ok": int(ok), "changed": int(changed), "unreachable": int(unreachable),
                       "failed": int(failed), "skipped": int(skipped)}
    if kwargs.get("check", True) and out.returncode != 0:
        sys.stdout.write(out.stdout[-6000:])
        raise SystemExit("ansible-playbook %s failed (%d)" % (book, out.returncode))
    return {"seconds": round(seconds, 2), "cpu": round(cpu, 2), "rc": out.returncode, "recap": recap,
            "stdout": out.stdout}


def task_result(inventory_path, work, name, task):
    """Run one task (a dict: module and its options) on the inventory's host; return what it
    registered, as the controller saw it."""
    out = os.path.join(work, name + ".json")
    book = playbook(work, name + ".yml", [{"name": name, "hosts": "all", "gather_facts": False, "tasks": [
        dict(task, name=name, register="bench_result"),
        {"name": "Keep the result", "delegate_to": "localhost",
         "ansible.builtin.copy": {"content": "{{ bench_result | to_json }}", "dest": out, "mode": "0600"}}]}])
    ansible(inventory_path, book)
    with open(out) as handle:
        return json.load(handle)


def save(name, data, table):
    """bench/results/NAME.json, and the table in docs/benchmarks.md between
    <!-- bench: NAME --> and <!-- /bench --> (replaced, date and machine included)."""
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, name + ".json"), "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.write("\n")
    info = data["machine"]
    block = ("_%s; %s, %s cores, lab VMs under %s; ansible-core %s._\n\n%s" % (
        info["date"], info["cpu"], info["cores"], info["accel"].upper(), info.get("ansible_core", "?"), table))
    try:
        with open(DOC) as handle:
            text = handle.read()
    except OSError:
        text = "# Benchmarks\n"
    start, end = "<!-- bench: %s -->\n" % name, "<!-- /bench: %s -->" % name
    if start in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + start + block + end + after
    else:
        text = text.rstrip("\n") + "\n\n" + start + block + end + "\n"
    with open(DOC, "w") as handle:
        handle.write(text)
    say("results: %s and %s" % (os.path.relpath(os.path.join(RESULTS, name + ".json"), ROOT),
                                os.path.relpath(DOC, ROOT)))


def workdir():
    return tempfile.mkdtemp(prefix="kdump-bench-")
