# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AnsibleModule of this collection's modules, with the checks its argument spec does not make.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils import basic

from ansible_collections.crashdump.kdump.plugins.module_utils.common.args import number_problems, refuse_nul_bytes


def checked_module(**kwargs):
    """AnsibleModule(**kwargs), once the raw options hold no number that Ansible's own type
    conversion fails on with Python's text ("Exceeds the limit (4300 digits)", "int too large
    to convert to float"), and no NUL byte. Either fails the task naming the option."""
    # Through the module, so that a test harness that replaces them is obeyed.
    problems = number_problems(kwargs.get("argument_spec") or {}, basic._load_params())
    if problems:
        # A module only to fail with: every option raw (no conversion - even with bypass_checks,
        # Ansible converts and then logs the value, which fails on such a number again).
        spec = dict((name, {"type": "raw", "no_log": bool(option.get("no_log"))})
                    for name, option in kwargs["argument_spec"].items())
        module = basic.AnsibleModule(argument_spec=spec, bypass_checks=True,
                                     supports_check_mode=True)
        module.fail_json(msg="; ".join(problems))
    module = basic.AnsibleModule(**kwargs)
    refuse_nul_bytes(module)
    return module
