# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The roles' argument specs: a misspelt key of a dict variable fails before anything runs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible_run import COLLECTION, play


def _spec(role):
    with open(os.path.join(COLLECTION, "roles", role, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def _validate(role, arguments):
    return {"ansible.builtin.validate_argument_spec": {"argument_spec": _spec(role),
                                                       "provided_arguments": arguments}}


@pytest.mark.parametrize("role, variables, key", [
    ("kdump", {"kdump_target": {"tpye": "nfs", "nfs": "server:/export"}}, "tpye"),
    ("kdump", {"kdump_target": {"type": "ssh", "ssh": "kdump@dumps", "ssh_prot": 2222}}, "ssh_prot"),
    ("dump_server", {"dump_server_ssh_clients": [{"name": "web01", "publik_key": "ssh-ed25519 AAAA"}]},
     "publik_key"),
])
def test_the_role_refuses_a_misspelt_key_before_its_first_task(tmp_path, role, variables, key):
    # The role as a playbook includes it: its argument validation is the first task; nothing
    # after it runs (the sizing module would be the next one).
    rc, results = play(tmp_path, [{"ansible.builtin.include_role": {"name": "crashdump.kdump." + role},
                                   "vars": variables}])
    assert rc != 0
    assert len(results) == 1 and results[0]["status"] == "fatal", results
    assert key in results[0]["msg"], results[0]["msg"]
    assert "argument" in results[0]["msg"].lower()


@pytest.mark.parametrize("value, error", [
    ({"type": "local", "path": "/var/crash"}, None),
    ({"type": "fs", "device": "LABEL=kdump", "fstype": "ext4", "path": "/"}, None),
    ({"type": "raw", "device": "/dev/vdb"}, None),
    ({"type": "nfs", "nfs": "dumps:/srv/kdump-nfs", "path": "/"}, None),
    ({"type": "ssh", "ssh": "kdump@dumps", "ssh_port": 2222, "ssh_host_key": "ssh-ed25519 AAAA",
      "path": "/srv/kdump"}, None),
    ({"type": "tftp"}, "tftp"),
    ({"type": "fs", "fstype": "ntfs"}, "ntfs"),
    ({"type": "ssh", "ssh_port": "twenty-two"}, "ssh_port"),
])
def test_every_documented_target_key_is_accepted_and_values_are_checked(tmp_path, value, error):
    rc, results = play(tmp_path, [_validate("kdump", {"kdump_target": value})])
    if error is None:
        assert rc == 0, results
    else:
        assert rc != 0 and error in results[-1]["msg"], results


def test_the_default_target_is_valid(tmp_path):
    with open(os.path.join(COLLECTION, "roles", "kdump", "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    rc, results = play(tmp_path, [_validate("kdump", defaults)])
    assert rc == 0, results


def test_every_dict_and_list_variable_is_typed():
    # A dict without options, or a list without elements, lets any key or item through.
    untyped = []
    for role in ("kdump", "dump_server"):
        with open(os.path.join(COLLECTION, "roles", role, "meta", "argument_specs.yml")) as handle:
            entry_points = yaml.safe_load(handle)["argument_specs"]
        for entry, spec in entry_points.items():
            for name, option in spec.get("options", {}).items():
                if option.get("type") == "dict" and not option.get("options"):
                    untyped.append("%s/%s: %s" % (role, entry, name))
                if option.get("type") == "list" and not option.get("elements"):
                    untyped.append("%s/%s: %s" % (role, entry, name))
                if option.get("elements") == "dict" and not option.get("options"):
                    untyped.append("%s/%s: %s" % (role, entry, name))
    assert not untyped
