# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the staged collection importable as ansible_collections.crashdump.kdump."""

import os
import sys

_COLLECTION = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PARTS = _COLLECTION.split(os.sep)
if _PARTS[-3:-1] == ["ansible_collections", "crashdump"]:
    _ROOT = os.sep.join(_PARTS[:-3])
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)
else:  # pragma: no cover - the suite is meant to run from the staged tree
    raise RuntimeError(
        "run the tests from build/collections/ansible_collections/crashdump/kdump"
        " (./dev unit stages it)")
