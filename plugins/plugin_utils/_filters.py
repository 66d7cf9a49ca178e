# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The last line of every filter of the collection: input the filter did not foresee gives an
AnsibleFilterError that names the filter, the value and what was expected - never a Python
exception's own text.

PRIVATE to the crashdump.kdump collection: this is not a public API and may change without
notice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

from ansible.errors import AnsibleFilterError

# Errors that hostile or mistyped input raises in plain Python code.
_INPUT_ERRORS = (ArithmeticError, AttributeError, LookupError, TypeError, ValueError, RecursionError,
                 UnicodeError, MemoryError)


def describe(value, limit=120):
    """A short, safe description of a value: its type and the start of its text."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return "an integer of %d bits" % value.bit_length()
    try:
        text = repr(value)
    except _INPUT_ERRORS:
        text = "<%s>" % type(value).__name__
    if len(text) > limit:
        text = "%s... (%d characters)" % (text[:limit], len(text))
    return "%s %s" % (type(value).__name__, text)


def guarded(name, expected):
    """Decorate a filter: unforeseen input errors become AnsibleFilterError."""
    def decorate(function):
        @functools.wraps(function)
        def wrapper(value, *args, **kwargs):
            try:
                return function(value, *args, **kwargs)
            except AnsibleFilterError as exc:
                message = str(exc)
                if len(message) <= 1000:
                    raise
                raise AnsibleFilterError("%s... (%d characters)" % (message[:1000], len(message)))
            except _INPUT_ERRORS as exc:
                described = ", ".join(describe(arg) for arg in (value,) + args)
                # The original error stays attached (shown with -vvv), not in the message.
                raise AnsibleFilterError("%s: cannot use %s; expected %s (%s in the filter)"
                                         % (name, described, expected, type(exc).__name__), orig_exc=exc)
        return wrapper
    return decorate
