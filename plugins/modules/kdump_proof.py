#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kdump_proof
short_description: Keep on the host the record of what a passed crash test proved
version_added: 0.1.0
description:
  - Writes (O(state=present)) or removes (O(state=absent)) the proof record of this host, by
    default C(/var/lib/crashdump-kdump/proof.json) - the directory mode 0700 and the file 0600,
    written atomically (a temporary file beside it, then a rename).
  - The record holds when the test passed (epoch and ISO 8601), the kernel that crashed, the capture
    kernel and initrd the kdump tool loads and their SHA-256, the SHA-256 of the family's kdump
    configuration files, the versions of the kdump tool, makedumpfile and kexec-tools, the reservation
    (C(/sys/kernel/kexec_crash_size) and the C(crashkernel=) words), the target, and the dump with its
    size, format and the test's timings.
  - M(crashdump.kdump.crash_test) calls it after a passed test, with the O(basis) it took before the
    crash; M(crashdump.kdump.kdump_info) reads the record back and says whether it is stale.
author:
  - crashdump.kdump contributors (!UNKNOWN)
extends_documentation_fragment:
  - crashdump.kdump.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: partial
    details: Every O(state=present) records a new proof (its time differs); O(state=absent) is idempotent.
options:
  state:
    description: Whether the record should be there.
    type: str
    choices: [present, absent]
    default: present
  proven:
    description:
      - The passed crash test's result (the return values of M(crashdump.kdump.crash_test) - C(kernel),
        C(dump_host), C(dump_path), C(format), C(size), C(compression), C(dump_level), C(crash_time),
        C(timings), C(triggered_at)). Required with O(state=present).
    type: dict
  basis:
    description:
      - What the host was when it crashed - RV(crashdump.kdump.kdump_info#module:proof_basis) taken
        before the crash. Default - what kdump_info would say now.
    type: dict
  path:
    description: The record's file.
    type: path
    default: /var/lib/crashdump-kdump/proof.json
  backup:
    description: Keep a copy of the record it replaces, with a timestamp in its name.
    type: bool
    default: false
seealso:
  - module: crashdump.kdump.crash_test
  - module: crashdump.kdump.kdump_info
"""

EXAMPLES = r"""
- name: Record what the crash test proved
  crashdump.kdump.kdump_proof:
    proven: "{{ crash }}"
  when: crash.passed

- name: Forget the proof
  crashdump.kdump.kdump_proof:
    state: absent
"""

RETURN = r"""
path:
  description: The record's file.
  returned: always
  type: str
  sample: /var/lib/crashdump-kdump/proof.json
record:
  description: The record written (or that would be, in check mode); null with O(state=absent).
  returned: always
  type: dict
backup_file:
  description: The copy of the record it replaced.
  returned: when O(backup=true) and a record was replaced
  type: str
"""

import os
import time

from ansible_collections.crashdump.kdump.plugins.module_utils.common.module import checked_module
from ansible_collections.crashdump.kdump.plugins.module_utils.capture import proof
from ansible_collections.crashdump.kdump.plugins.module_utils.capture.status import gather

ENV = {"LC_ALL": "C", "LANG": "C"}


def main():
    module = checked_module(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["present", "absent"]),
            proven=dict(type="dict"),
            basis=dict(type="dict"),
            path=dict(type="path", default=proof.PROOF_FILE),
            backup=dict(type="bool", default=False),
        ),
        required_if=[("state", "present", ("proven",))],
        supports_check_mode=True,
    )
    p = module.params
    path = p["path"]
    before, _error = proof.read(path)
    try:
        with open(path) as handle:
            before_text = handle.read()
    except (IOError, OSError):
        before_text = ""
    result = {"changed": False, "path": path, "record": None}

    if p["state"] == "absent":
        result["changed"] = bool(before_text) or before is not None
        if result["changed"] and not module.check_mode:
            if p["backup"]:
                result["backup_file"] = module.backup_local(path)
            try:
                os.unlink(path)
            except OSError as exc:
                module.fail_json(msg="cannot remove the proof record %s: %s" % (path, exc.strerror), **result)
    else:
        def run(argv):
            return module.run_command(argv, environ_update=ENV)

        basis = p["basis"]
        if not basis:
            basis = proof.basis(gather("/", run=run, which=module.get_bin_path, dumps=0), "/", run,
                                module.get_bin_path)
        try:
            record = proof.build(basis, p["proven"], time.time())
        except proof.ProofError as exc:
            module.fail_json(msg=str(exc), **result)
        result.update(changed=True, record=record)
        if not module.check_mode:
            if p["backup"] and before_text:
                result["backup_file"] = module.backup_local(path)
            try:
                proof.write(path, record, move=module.atomic_move)
            except proof.ProofError as exc:
                module.fail_json(msg=str(exc), **result)
    if module._diff:
        after = "" if result["record"] is None else proof.dumps(result["record"])
        result["diff"] = {"before": before_text, "after": after, "before_header": path,
                          "after_header": path}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
