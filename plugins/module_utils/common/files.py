# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Opening files that someone else may have put there (dumps, their logs, kernel images).

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Pure Python, no Ansible import, runs on Python 3.8+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat


def open_regular(path):
    """``path`` opened for binary reading if it is a regular file (links followed).

    Opened non-blocking first, so that a FIFO without a writer, or a device, is refused at
    once instead of hanging the read; IOError names what the path is instead.
    """
    # Refused before opening where the path says so (opening a device can have effects of its
    # own); checked again on the open file, which is what is read.
    _refuse_unless_regular(path, os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        _refuse_unless_regular(path, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _refuse_unless_regular(path, mode):
    if not stat.S_ISREG(mode):
        kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a directory" if stat.S_ISDIR(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a file")
        raise IOError("%s is %s, not a regular file" % (path, kind))
