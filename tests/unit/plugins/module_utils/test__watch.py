# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The readiness watch: its facts, the metrics file (read back with prometheus_client's parser
and linted by promtool when it is there), the private copy of the module_utils it runs from
(without Ansible), the units, and the shipped alert rules (promtool check and test)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pkgutil
import shutil
import stat
import subprocess
import sys

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.crashdump.kdump.plugins.module_utils.capture import proof, watch

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
RULES = os.path.join(COLLECTION, "extras", "prometheus", "kdump-alerts.yml")
RELEASE = "6.1.0-50-amd64"
MIB = 1 << 20
NOW = 1796300000


def get_source(name):
    package, leaf = name.rsplit(".", 1)
    try:
        module = __import__(package, fromlist=["_"])
        if not hasattr(module, "__path__"):
            return None
        data = pkgutil.get_data(package, leaf + ".py")
    except (IOError, OSError, ImportError):
        return None
    return None if data is None else data.decode("utf-8")


def host(tmp_path, kernel="/boot/vmlinuz-%s" % RELEASE, loaded=True, dumps=2):
    root = tmp_path / "root"
    for name, data in (("boot/vmlinuz-%s" % RELEASE, b"kernel"), ("boot/vmlinuz-6.1.0-49-amd64", b"old"),
                       ("var/lib/kdump/initrd.img-%s" % RELEASE, b"initrd"),
                       ("proc/cmdline", b"ro crashkernel=384M-:128M\n"), ("proc/stat", b"btime %d\n" % (NOW - 600))):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    for index in range(dumps):
        crash = root / "var" / "crash" / ("20261203100%d" % index)
        crash.mkdir(parents=True)
        (crash / ("dump.20261203100%d" % index)).write_bytes(b"KDUMP   " + b"\0" * 100)
    (root / "var" / "crash" / "202612031009").mkdir()
    (root / "var" / "crash" / "202612031009" / "dump-incomplete").write_bytes(b"x")
    info = {"family": "debian", "kernel_release": RELEASE, "ready": loaded,
            "reasons": [] if loaded else ["no capture kernel is loaded (/sys/kernel/kexec_crash_loaded is 0)"],
            "reservation": {"reserved": 128 * MIB}, "recommendation": {"reserved_bytes": 128 * MIB},
            "capture": {"loaded": loaded, "kernel": kernel, "initrd": "/var/lib/kdump/initrd.img-%s" % RELEASE,
                        "recorded": False},
            "target": {"type": "local", "path": "/var/crash", "directory": "/var/crash"},
            "expected_dump": {"bytes": 200 * MIB}, "warnings": [], "notes": []}

    def gather(root_, run=None, which=None, dumps=0):
        assert root_ == str(root) and dumps == 0
        return json.loads(json.dumps(info))

    return str(root), gather


def test_the_facts_of_a_ready_host(tmp_path):
    root, gather = host(tmp_path)
    found = watch.facts(root, None, lambda name: None, NOW, gather_=gather)
    assert found["ready"] is True and found["reasons"] == []
    assert found["reserved_bytes"] == 128 * MIB and found["recommended_bytes"] == 128 * MIB
    assert found["capture_loaded"] is True and found["capture_matches_running_kernel"] is True
    assert found["proof_timestamp"] == 0 and found["proof_stale"] is None
    assert found["proof_stale_metric"] is True          # never proven: not a proof that holds
    assert found["dumps"] == 2                           # the incomplete one is no dump
    assert found["target"] == "local /var/crash" and found["target_free_bytes"] > 0
    assert found["expected_dump_bytes"] == 200 * MIB and found["time"] == NOW


def test_a_fresh_proof_is_not_stale(tmp_path):
    root, gather = host(tmp_path)
    info = gather(root)
    record = proof.build(proof.basis(info, root, None, None), {"kernel": RELEASE, "dump_path": "/var/crash/x"},
                         NOW - 100)
    proof.write(os.path.join(root, proof.PROOF_FILE.lstrip("/")), record)
    found = watch.facts(root, None, None, NOW, gather_=gather)
    assert found["proof_timestamp"] == NOW - 100 and found["proof_age_seconds"] == 100
    assert found["proof_stale"] is False and found["proof_stale_metric"] is False


@pytest.mark.parametrize("kernel, loaded, matches", [
    ("/boot/vmlinuz-%s" % RELEASE, True, True),
    ("/boot/vmlinuz-6.1.0-49-amd64", True, False),
    ("/boot/vmlinuz-%s" % RELEASE, False, False),
    (None, True, False),
])
def test_the_capture_kernel_and_the_running_one(tmp_path, kernel, loaded, matches):
    root, gather = host(tmp_path, kernel=kernel, loaded=loaded)
    assert watch.capture_matches(gather(root), root) is matches


def test_a_symlink_named_otherwise_that_points_at_the_running_kernel(tmp_path):
    root, gather = host(tmp_path, kernel="/var/lib/kdump/vmlinuz")
    os.symlink("/boot/vmlinuz-%s" % RELEASE, os.path.join(root, "var/lib/kdump/vmlinuz"))
    assert watch.capture_matches(gather(root), root) is True


def test_free_space_of_a_directory_not_made_yet(tmp_path):
    assert watch.free_bytes(str(tmp_path), "/not/made/yet") == watch.free_bytes(str(tmp_path), "/")


def families(text):
    return dict((family.name, family) for family in text_string_to_metric_families(text))


def test_the_metrics_read_back_with_prometheus_client(tmp_path):
    root, gather = host(tmp_path)
    found = watch.facts(root, None, None, NOW, gather_=gather)
    parsed = families(watch.metrics(found))
    assert sorted(parsed) == sorted([name for name, _help, _key in watch.METRICS] + ["kdump_watch_info"])
    for family in parsed.values():
        assert family.type == "gauge" and family.documentation
    values = dict((name, family.samples[0].value) for name, family in parsed.items())
    assert values["kdump_ready"] == 1 and values["kdump_capture_kernel_loaded"] == 1
    assert values["kdump_crashkernel_reserved_bytes"] == 128 * MIB
    assert values["kdump_proof_stale"] == 1 and values["kdump_proof_timestamp_seconds"] == 0
    assert values["kdump_dumps"] == 2 and values["kdump_expected_dump_bytes"] == 200 * MIB
    info = parsed["kdump_watch_info"].samples[0]
    assert info.labels == {"family": "debian", "kernel_release": RELEASE, "target_type": "local"}


def test_unknown_facts_leave_their_metric_out_and_labels_are_escaped():
    found = {"ready": False, "reserved_bytes": 0, "recommended_bytes": None, "capture_loaded": False,
             "capture_matches_running_kernel": False, "proof_timestamp": 0, "proof_stale_metric": True,
             "target_free_bytes": None, "expected_dump_bytes": 1, "dumps": None,
             "family": "debian", "kernel_release": 'odd"release\\with\nnewline', "target_type": None}
    text = watch.metrics(found)
    parsed = families(text)
    assert "kdump_target_free_bytes" not in parsed and "kdump_dumps" not in parsed
    assert "kdump_crashkernel_recommended_bytes" not in parsed
    assert parsed["kdump_ready"].samples[0].value == 0
    assert parsed["kdump_watch_info"].samples[0].labels["kernel_release"] == 'odd"release\\with\nnewline'
    assert text.endswith("\n") and "\n\n" not in text


def promtool():
    # ./dev unpacks Debian's prometheus package for it (not installed, no service started).
    exe = os.environ.get("KDUMP_TEST_PROMTOOL") or shutil.which("promtool")
    if not exe and os.environ.get("KDUMP_TEST_PROMTOOL_REQUIRED"):
        pytest.fail("KDUMP_TEST_PROMTOOL_REQUIRED is set but there is no promtool")
    if not exe:
        pytest.skip("no promtool on this machine (Debian's package prometheus has it)")
    return exe


def test_promtool_lints_the_metrics(tmp_path):
    exe = promtool()
    root, gather = host(tmp_path)
    text = watch.metrics(watch.facts(root, None, None, NOW, gather_=gather))
    done = subprocess.run([exe, "check", "metrics"], input=text, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout


def test_promtool_checks_the_alert_rules():
    exe = promtool()
    done = subprocess.run([exe, "check", "rules", RULES], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    assert done.returncode == 0, done.stdout
    assert "SUCCESS: 5 rules found" in done.stdout


ALERT_TESTS = """
rule_files: [%s]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'kdump_ready{instance="web1"}'
        values: '0+0x180'
      - series: 'kdump_ready{instance="web2"}'
        values: '1+0x180'
      - series: 'kdump_proof_stale{instance="web1"}'
        values: '0+0x180'
      - series: 'kdump_proof_stale{instance="web2"}'
        values: '1+0x180'
      - series: 'kdump_target_free_bytes{instance="web1"}'
        values: '100000000+0x180'
      - series: 'kdump_expected_dump_bytes{instance="web1"}'
        values: '200000000+0x180'
      - series: 'kdump_target_free_bytes{instance="web2"}'
        values: '900000000+0x180'
      - series: 'kdump_expected_dump_bytes{instance="web2"}'
        values: '200000000+0x180'
      - series: 'kdump_capture_kernel_loaded{instance="web1"}'
        values: '1+0x180'
      - series: 'kdump_capture_matches_running_kernel{instance="web1"}'
        values: '0+0x180'
      - series: 'kdump_capture_kernel_loaded{instance="web2"}'
        values: '1+0x180'
      - series: 'kdump_capture_matches_running_kernel{instance="web2"}'
        values: '1+0x180'
    alert_rule_test:
      - eval_time: 2h
        alertname: KdumpNotReady
        exp_alerts:
          - exp_labels: {severity: critical, instance: web1}
      - eval_time: 2h
        alertname: KdumpProofStale
        exp_alerts:
          - exp_labels: {severity: warning, instance: web2}
      - eval_time: 2h
        alertname: KdumpTargetTooSmall
        exp_alerts:
          - exp_labels: {severity: critical, instance: web1}
      - eval_time: 2h
        alertname: KdumpCaptureKernelMismatch
        exp_alerts:
          - exp_labels: {severity: warning, instance: web1}
      - eval_time: 10m
        alertname: KdumpNotReady
        exp_alerts: []
"""


def expected_annotations(alert, instance, value):
    """The annotations of ``alert`` as Prometheus renders them for ``instance``."""
    with open(RULES) as handle:
        rules = yaml.safe_load(handle)["groups"][0]["rules"]
    rule = [rule for rule in rules if rule["alert"] == alert][0]
    return dict((key, text.replace("{{ $labels.instance }}", instance)
                 .replace("{{ $value | humanize1024 }}", value)) for key, text in rule["annotations"].items())


def test_promtool_fires_each_alert_on_the_host_it_is_about(tmp_path):
    exe = promtool()
    spec = yaml.safe_load(ALERT_TESTS % json.dumps(RULES))
    for case in spec["tests"][0]["alert_rule_test"]:
        for alert in case["exp_alerts"]:
            # 100000000 bytes free, as humanize1024 writes it.
            alert["exp_annotations"] = expected_annotations(case["alertname"], alert["exp_labels"]["instance"],
                                                            "95.37Mi")
    path = tmp_path / "alerts_test.yml"
    path.write_text(yaml.safe_dump(spec))
    done = subprocess.run([exe, "test", "rules", str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    assert done.returncode == 0, done.stdout


def test_the_closure_is_what_the_checker_imports_and_nothing_of_ansible():
    sources = watch.closure(get_source)
    names = set(sources)
    prefix = watch.PREFIX + "."
    assert {watch.ENTRY, prefix + "capture.status", prefix + "capture.proof", prefix + "capture.kallsyms",
            prefix + "capture.kexec", prefix + "family.records", prefix + "vmcore.reader",
            prefix + "target.plan", prefix + "sizing.policy"} <= names
    # The module glue (it imports ansible) is not needed and not copied.
    assert prefix + "common.module" not in names
    assert sources[watch.ENTRY] == get_source(watch.ENTRY)


def test_the_closure_refuses_a_module_that_imports_ansible():
    fake = {watch.ENTRY: "from ansible_collections.crashdump.kdump.plugins.module_utils.x import y\n",
            watch.PREFIX + ".x": "from ansible.module_utils.basic import AnsibleModule\n"}
    with pytest.raises(watch.WatchError, match=r"\.x imports ansible.module_utils.basic: the checker runs"
                                               " without Ansible"):
        watch.closure(fake.get)


def test_the_private_copy_runs_without_ansible(tmp_path):
    """Installed as kdump_watch installs it, the program runs in an isolated Python without
    site-packages (so without Ansible) and writes both files."""
    lib = str(tmp_path / "lib")
    for path, text in watch.files(watch.closure(get_source), lib).items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    for directory in ("ansible_collections", "ansible_collections/crashdump/kdump/plugins/module_utils"):
        assert os.path.isfile(os.path.join(lib, directory, "__init__.py"))
    program = tmp_path / "kdump-watch.py"
    program.write_text(watch.program_text(lib))
    out_dir, state = tmp_path / "textfile", tmp_path / "state" / "watch.json"
    done = subprocess.run([sys.executable, "-I", "-S", str(program), "--textfile-dir", str(out_dir),
                           "--json", str(state), "--root", str(tmp_path / "empty")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("kdump-watch: NOT ready: ")
    prom = out_dir / "kdump.prom"
    assert families(prom.read_text())["kdump_ready"].samples[0].value == 0
    assert stat.S_IMODE(prom.stat().st_mode) == 0o644 and stat.S_IMODE(state.stat().st_mode) == 0o600
    data = json.loads(state.read_text())
    assert data["ready"] is False and data["reasons"]
    assert sorted(os.listdir(str(out_dir))) == ["kdump.prom"]       # no temporary file left


def test_main_names_what_it_cannot_write(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    rc = watch.main(["--textfile-dir", str(blocker / "sub"), "--json", str(tmp_path / "w.json"),
                     "--root", str(tmp_path / "empty")])
    assert rc == 1
    assert capsys.readouterr().err.startswith("kdump-watch: cannot write %s" % (blocker / "sub"))


def test_the_units():
    service = watch.service_text("/usr/bin/python3", "/var/lib/prometheus/node-exporter", "kdump-tools.service")
    assert ("ExecStart=/usr/bin/python3 -I /usr/local/lib/crashdump-kdump/kdump-watch.py --textfile-dir"
            " /var/lib/prometheus/node-exporter --json /var/lib/crashdump-kdump/watch.json\n") in service
    assert "Type=oneshot\n" in service and "After=kdump-tools.service\n" in service
    timer = watch.timer_text(15)
    assert "OnBootSec=2min\n" in timer and "OnUnitActiveSec=15min\n" in timer
    assert "WantedBy=timers.target\n" in timer


@pytest.mark.parametrize("interval, directory, message", [
    (0, "/var/lib/x", "interval: 0 is not a number of minutes"),
    (1441, "/var/lib/x", "interval: 1441"),
    (True, "/var/lib/x", "interval: True"),
    (15, "relative/dir", "textfile_dir: 'relative/dir' is not a plain absolute directory"),
    (15, "/var/lib/x y", "textfile_dir: '/var/lib/x y'"),
    (15, "/var/lib/%h", "textfile_dir: '/var/lib/%h'"),
    (15, "/var/../etc", "textfile_dir: '/var/../etc'"),
])
def test_options_the_unit_cannot_hold(interval, directory, message):
    with pytest.raises(watch.WatchError, match=message):
        watch.wanted_files({}, "/usr/bin/python3", interval, directory)


def test_changes_write_what_differs_and_remove_what_is_left_over():
    wanted = {"/l/a.py": "a", "/l/b.py": "b", "/u/t.timer": "t"}
    present = {"/l/a.py": "a", "/l/b.py": "old", "/l/gone.py": "g"}
    assert watch.changes(wanted, present.get, sorted(present)) == {
        "/l/b.py": "b", "/u/t.timer": "t", "/l/gone.py": None}
    assert watch.changes(wanted, wanted.get, sorted(wanted)) == {}


def test_the_textfile_dir_a_service_names():
    assert watch.previous_textfile_dir(watch.service_text("/p", "/srv/tf")) == "/srv/tf"
    assert watch.previous_textfile_dir(None) is None
