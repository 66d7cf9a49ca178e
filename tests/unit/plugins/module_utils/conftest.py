# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures of the module_utils tests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import importlib

import pytest


@pytest.fixture
def kexec_crash_size_busy(monkeypatch):
    """Make reads of kexec_crash_size fail with EBUSY ``times`` times (set it; -1: always),
    as the kernel answers while a capture kernel is being loaded. Returns the counter."""
    # Imported here: a conftest is loaded before the collection's import path is ready.
    _hostinfo = importlib.import_module("ansible_collections.crashdump.kdump.plugins.module_utils.sizing.hostinfo")
    real_open = open
    busy = {"left": 1}

    def fake_open(path, *args, **kwargs):
        if str(path).endswith("kexec_crash_size") and busy["left"]:
            busy["left"] -= 1
            raise OSError(errno.EBUSY, "Device or resource busy")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(_hostinfo, "open", fake_open, raising=False)
    monkeypatch.setattr(_hostinfo.time, "sleep", lambda seconds: None)
    return busy
