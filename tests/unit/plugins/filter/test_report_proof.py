# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The proof column of the fleet report: the row's proof, its age, and the summary's counts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.crashdump.kdump.plugins.filter import report
from ansible_collections.crashdump.kdump.plugins.filter.report import jmespath_query, kdump_report_row
from test_report_filters import FACTS, READY

PLAYBOOK = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "playbooks", "report.yml")


def summary_query():
    """The summary query of playbooks/report.yml itself."""
    with open(PLAYBOOK) as handle:
        plays = yaml.safe_load(handle)
    return plays[1]["vars"]["report_summary_query"]


PROOF = {"proven_at": 1796300000, "proven_at_iso": "2026-12-03T12:13:20Z", "age_seconds": 93784,
         "kernel_release": "6.1.0-41-amd64", "dump": {"path": "/var/crash/1/dump.1", "size": 1000}}


@pytest.mark.parametrize("info, expected", [
    (READY, None),
    (dict(READY, proof=PROOF, proof_stale=False, proof_stale_reasons=[]),
     {"proven_at": "2026-12-03T12:13:20Z", "age_seconds": 93784, "age_human": "1 d 2 h",
      "kernel": "6.1.0-41-amd64", "stale": False, "stale_reasons": [], "dump_path": "/var/crash/1/dump.1",
      "dump_size": 1000, "on_running_kernel": True}),
    (dict(READY, kernel_release="6.1.0-42-amd64", proof=dict(PROOF, age_seconds=300), proof_stale=True,
          proof_stale_reasons=["the running kernel is 6.1.0-42-amd64; the proof is of 6.1.0-41-amd64"]),
     {"proven_at": "2026-12-03T12:13:20Z", "age_seconds": 300, "age_human": "5 min",
      "kernel": "6.1.0-41-amd64", "stale": True,
      "stale_reasons": ["the running kernel is 6.1.0-42-amd64; the proof is of 6.1.0-41-amd64"],
      "dump_path": "/var/crash/1/dump.1", "dump_size": 1000, "on_running_kernel": False}),
])
def test_the_proof_of_a_host(info, expected):
    assert kdump_report_row({"host": "web1", "info": info, "facts": FACTS})["proof"] == expected


def test_the_proof_summary():
    fresh = dict(READY, proof=PROOF, proof_stale=False, proof_stale_reasons=[])
    stale = dict(fresh, proof_stale=True, proof_stale_reasons=["kdump-tools changed: 1 -> 2"])
    rows = [kdump_report_row({"host": name, "info": data, "facts": FACTS})
            for name, data in (("a", fresh), ("b", stale), ("c", READY))]
    rows.append(kdump_report_row({"host": "gone", "error": "unreachable"}))
    found = jmespath_query(rows, summary_query())
    assert (found["proven"], found["proof_stale"], found["unproven"]) == (1, ["b"], ["c"])


@pytest.mark.parametrize("seconds, text", [(0, "0 min"), (59, "0 min"), (3600, "1 h 0 min"),
                                           (86399, "23 h 59 min"), (86400, "1 d 0 h"), (-5, "0 min")])
def test_age_text(seconds, text):
    assert report.age_text(seconds) == text
