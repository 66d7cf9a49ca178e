# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bootstrap pip into an empty virtual environment from the standard library.

ansible-test creates its sanity venvs without pip and then runs a cached
bootstrap script (~/.ansible/test/cache/get_pip_<version>.py) with the pip
arguments and packages it wants. ./dev installs this file there, so that
only the Python package index is needed: pip comes from ensurepip, then the
requested packages (the pinned pip among them) from the index.
"""

import ensurepip
import os
import subprocess
import sys

OWN_FLAGS = ("--no-setuptools", "--no-wheel")


def main():
    args = [arg for arg in sys.argv[1:] if arg not in OWN_FLAGS]
    # ensurepip clears PIP_* and points PIP_CONFIG_FILE at /dev/null in
    # os.environ; the install below must see the user's pip configuration.
    environ = dict(os.environ)
    ensurepip.bootstrap(upgrade=True)
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args, env=environ)


if __name__ == "__main__":
    main()
