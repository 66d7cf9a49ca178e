# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kdump role's choice of the crashkernel= value it puts on the command line, rendered
by Ansible's own templating from roles/kdump/tasks/present.yml: an estimate already on the
command line is kept while it is at least today's estimate (unless kdump_crashkernel_shrink),
and raised when it is smaller; the other policies take the recommendation."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

try:  # ansible-core 2.19 templates only strings marked as trusted templates
    from ansible.template import trust_as_template
except ImportError:  # earlier versions template every string
    def trust_as_template(text):
        return text

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
M = 1 << 20


def expression():
    with open(os.path.join(ROOT, "roles", "kdump", "tasks", "present.yml")) as handle:
        tasks = yaml.safe_load(handle)
    task = [t for t in tasks if t["name"] == "Put crashkernel= on the kernel command line"][0]
    return trust_as_template(task["crashdump.kdump.kernel_cmdline"]["args"]["crashkernel"])


def choose(policy, current, current_bytes, recommended, recommended_bytes, shrink=False):
    variables = {
        "kdump_crashkernel_policy": policy, "kdump_crashkernel_shrink": shrink,
        "__kdump_sizing": {
            "current": {"value": current, "requested_bytes": current_bytes},
            "recommended": {"value": recommended, "reserved_bytes": recommended_bytes}}}
    return str(Templar(loader=DataLoader(), variables=variables).template(expression())).strip()


@pytest.mark.parametrize("policy, current, current_bytes, recommended, recommended_bytes, shrink, chosen", [
    # The first estimate (boot initrd, an upper bound) stays when the next one is smaller.
    ("estimate", "crashkernel=208M", 208 * M, "128M", 128 * M, False, "208M"),
    ("estimate", "crashkernel=208M", 208 * M, "128M", 128 * M, True, "128M"),
    # A smaller reservation is raised.
    ("estimate", "crashkernel=112M", 112 * M, "128M", 128 * M, False, "128M"),
    ("estimate", "crashkernel=128M", 128 * M, "128M", 128 * M, False, "128M"),
    # No reservation yet, or ranges / several words: the recommendation.
    ("estimate", None, 0, "144M", 144 * M, False, "144M"),
    ("estimate", "crashkernel=256M crashkernel=64M,low", 256 * M, "144M", 144 * M, False, "144M"),
    # Other policies take the recommendation, larger or smaller.
    ("distro", "crashkernel=208M", 208 * M, "384M-:128M", 128 * M, False, "384M-:128M"),
    ("fixed", "crashkernel=512M", 512 * M, "256M", 256 * M, False, "256M"),
])
def test_the_value_put_on_the_command_line(policy, current, current_bytes, recommended, recommended_bytes,
                                           shrink, chosen):
    assert choose(policy, current, current_bytes, recommended, recommended_bytes, shrink) == chosen
