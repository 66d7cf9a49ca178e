# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters over the crashkernel= engine: crashkernel_parse, crashkernel_size, crashkernel_format."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.crashdump.kdump.plugins.module_utils.sizing.crashkernel import (
    CrashkernelError,
    evaluate,
    from_dict,
    parse,
    parse_size,
)
from ansible_collections.crashdump.kdump.plugins.plugin_utils._filters import guarded


def _text(value, name):
    if isinstance(value, (dict, list)) or value is None:
        raise AnsibleFilterError("%s: expects a string such as '256M' or"
                                 " 'crashkernel=1G-4G:192M,4G-:256M', got %r" % (name, value))
    return to_text(value)


@guarded("crashkernel_parse", "a crashkernel= value or a kernel command line (a string)")
def crashkernel_parse(value):
    """'crashkernel=...' (or a whole command line) -> structured dict."""
    try:
        return parse(_text(value, "crashkernel_parse")).to_dict()
    except CrashkernelError as exc:
        raise AnsibleFilterError("crashkernel_parse: %s" % exc)


@guarded("crashkernel_size", "a crashkernel= value (a string, or the dict crashkernel_parse returns), then"
         " system_ram in bytes (an integer or a size such as '8G'), an architecture and a kernel release")
def crashkernel_size(value, system_ram, arch="x86_64", kernel_release=None):
    """Bytes the kernel reserves for a crashkernel value on a host with system_ram bytes."""
    if isinstance(system_ram, bool):
        raise AnsibleFilterError("crashkernel_size: system_ram must be bytes, got %r" % (system_ram,))
    try:
        if isinstance(system_ram, int):
            ram = system_ram
        else:
            ram = parse_size(to_text(system_ram).strip(), "system_ram")
        if isinstance(value, dict):
            ck = from_dict(value)
        else:
            ck = parse(_text(value, "crashkernel_size"))
        return evaluate(ck, ram, to_text(arch), kernel_release).total
    except CrashkernelError as exc:
        raise AnsibleFilterError("crashkernel_size: %s" % exc)


@guarded("crashkernel_format", "the dict crashkernel_parse returns, or a crashkernel= value (a string)")
def crashkernel_format(value, prefix=True):
    """Structured dict (as crashkernel_parse returns) -> 'crashkernel=...' words."""
    try:
        if isinstance(value, dict):
            ck = from_dict(value)
        else:
            ck = parse(_text(value, "crashkernel_format"))
        return ck.format(prefix=bool(prefix))
    except CrashkernelError as exc:
        raise AnsibleFilterError("crashkernel_format: %s" % exc)


class FilterModule(object):
    """crashkernel= filters."""

    def filters(self):
        return {
            "crashkernel_parse": crashkernel_parse,
            "crashkernel_size": crashkernel_size,
            "crashkernel_format": crashkernel_format,
        }
