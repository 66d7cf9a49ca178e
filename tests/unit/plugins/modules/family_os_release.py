# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""/etc/os-release of each distribution the per-family case tests stand a host up as."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

OS_RELEASE = {
    'almalinux': 'ID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
    'debian': 'ID=debian\nVERSION_ID="12"\n',
    'fedora': 'ID=fedora\nVERSION_ID=41\n',
    'opensuse-leap': 'ID="opensuse-leap"\nID_LIKE="suse opensuse"\nVERSION_ID="15.6"\n',
    'rhel': 'ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n',
    'rocky': 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
    'sles': 'ID="sles"\nID_LIKE="suse"\nVERSION_ID="15.6"\n',
    'ubuntu': 'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n',
    'unknown': 'ID=plan9\n',
}
