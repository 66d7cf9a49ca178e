# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# SPDX-License-Identifier: GPL-3.0-or-later
"""site, verify and report as ansible-runner jobs against the running lab fleet.

    python3 tests/lab/runner_jobs.py [--jobs site,verify,report] [--data-dir DIR] [--tarball FILE]

The way AWX and Automation Platform run a job, without a container: one private data dir
(build/runner) with a project (playbooks that import the collection's), the inventory, env/
(envvars, extravars, settings) and the collection installed from the built tarball into the
data dir, as a job's collections/requirements.yml would; then `ansible-runner run DIR -p
PLAYBOOK` per job. It needs the fleet of `./dev lab` up (KDUMP_LAB_STATE) and the tarball of
`./dev build`; ./dev lab-runner does both checks. Each job must end `successful` with rc 0
and the report's page must show every host ready and passed; the timings and event counts
are written to DIR/runner.json and printed as a Markdown table.
"""

from __future__ import print_function

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(os.path.dirname(HERE))

PLAYBOOKS = {
    "site": "crashdump.kdump.site",
    "verify": "crashdump.kdump.verify",
    "report": "crashdump.kdump.report",
}


class JobError(Exception):
    pass


def run(argv, **kwargs):
    sys.stderr.write("runner_jobs: $ %s\n" % " ".join(argv))
    return subprocess.run(argv, stdin=subprocess.DEVNULL, check=False, **kwargs)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def prepare(data_dir, tarball, lab_state, report_dir):
    """The private data dir: project, inventory, env and the installed collection."""
    if os.path.exists(data_dir):
        shutil.rmtree(data_dir)
    for job, fqcn in PLAYBOOKS.items():
        write(os.path.join(data_dir, "project", job + ".yml"),
              "---\n- name: %s\n  ansible.builtin.import_playbook: %s\n" % (fqcn, fqcn))
    shutil.copytree(os.path.join(PROJECT, "tests", "lab", "inventory"), os.path.join(data_dir, "inventory"))
    collections = os.path.join(data_dir, "collections")
    out = run(["ansible-galaxy", "collection", "install", "--force", "-p", collections, tarball],
              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if out.returncode != 0:
        raise JobError("ansible-galaxy collection install %s failed:\n%s" % (tarball, out.stdout))
    envvars = {
        "ANSIBLE_COLLECTIONS_PATH": collections,
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_HOME": os.path.join(data_dir, "ansible-home"),
        "ANSIBLE_PIPELINING": "true",
        "ANSIBLE_TIMEOUT": "60",
        "KDUMP_LAB_STATE": lab_state,
    }
    write(os.path.join(data_dir, "env", "envvars"), json.dumps(envvars, indent=1) + "\n")
    write(os.path.join(data_dir, "env", "extravars"), json.dumps({
        "verify_confirm": True, "verify_report_dir": report_dir,
        "report_dir": report_dir, "report_verify_json": os.path.join(report_dir, "verify.json"),
    }, indent=1) + "\n")
    # No pexpect prompts to answer, no idle timeout; a crash test waits for the host itself.
    settings = {"idle_timeout": 0, "job_timeout": 3600, "suppress_ansible_output": True}
    write(os.path.join(data_dir, "env", "settings"), json.dumps(settings) + "\n")


def job(data_dir, name):
    start = time.time()
    out = run(["ansible-runner", "run", data_dir, "-p", name + ".yml", "--ident", name],
              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    seconds = time.time() - start
    artifacts = os.path.join(data_dir, "artifacts", name)
    status = open(os.path.join(artifacts, "status")).read().strip() if os.path.exists(
        os.path.join(artifacts, "status")) else "missing"
    rc = open(os.path.join(artifacts, "rc")).read().strip() if os.path.exists(
        os.path.join(artifacts, "rc")) else "missing"
    events = [json.load(open(path)) for path in glob.glob(os.path.join(artifacts, "job_events", "*.json"))]
    counts = {}
    for event in events:
        counts[event.get("event")] = counts.get(event.get("event"), 0) + 1
    stats = [e for e in events if e.get("event") == "playbook_on_stats"]
    result = {
        "job": name, "playbook": PLAYBOOKS[name], "status": status, "rc": rc,
        "runner_rc": out.returncode, "seconds": round(seconds, 1), "events": len(events),
        "ok": counts.get("runner_on_ok", 0), "failed": counts.get("runner_on_failed", 0),
        "unreachable": counts.get("runner_on_unreachable", 0),
        "changed": sum((stats[-1]["event_data"].get("changed") or {}).values()) if stats else None,
    }
    if status != "successful" or rc != "0":
        tail = open(os.path.join(artifacts, "stdout")).read()[-4000:] if os.path.exists(
            os.path.join(artifacts, "stdout")) else out.stdout[-4000:]
        raise JobError("job %s: status %s, rc %s\n%s" % (name, status, rc, tail))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--jobs", default="site,verify,report")
    parser.add_argument("--data-dir", default=os.path.join(PROJECT, "build", "runner"))
    parser.add_argument("--tarball")
    args = parser.parse_args(argv)
    lab_state = os.environ.get("KDUMP_LAB_STATE") or os.path.join(PROJECT, "build", "lab")
    tarball = args.tarball or (sorted(glob.glob(os.path.join(PROJECT, "build", "dist", "crashdump-kdump-*.tar.gz")))
                               or [None])[-1]
    try:
        if not tarball:
            raise JobError("no collection tarball in build/dist: run ./dev build")
        for vm in ("lab-debian12", "lab-debian13", "lab-dumps"):
            if not os.path.exists(os.path.join(lab_state, "vms", vm, "vm.json")):
                raise JobError("the lab fleet is not up (%s): run ./dev lab" % vm)
        data_dir = os.path.abspath(args.data_dir)
        report_dir = os.path.join(data_dir, "report")
        prepare(data_dir, tarball, lab_state, report_dir)
        results = []
        for name in args.jobs.split(","):
            results.append(job(data_dir, name))
            print("runner_jobs: %(job)s %(status)s rc %(rc)s in %(seconds)s s, %(events)s events" % results[-1])
        if "report" in args.jobs.split(","):
            out = run([sys.executable, os.path.join(HERE, "browser.py"), report_dir, "--expect-all-passed"])
            if out.returncode != 0:
                raise JobError("the report written by the runner job does not show every host ready and passed")
    except JobError as exc:
        sys.stderr.write("runner_jobs: %s\n" % exc)
        return 1
    write(os.path.join(data_dir, "runner.json"), json.dumps(results, indent=1) + "\n")
    print("| job | playbook | status | rc | wall time | events | ok | changed | failed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print("| %(job)s | `%(playbook)s` | %(status)s | %(rc)s | %(seconds)s s | %(events)s | %(ok)s | %(changed)s | %(failed)s |" % r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
