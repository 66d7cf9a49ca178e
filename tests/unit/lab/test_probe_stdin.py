# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The KVM probe boots a real kernel under real QEMU and leaves the caller's stdin as it was.

QEMU's stdio chardev sets O_NONBLOCK on the open file it gets as stdin and leaves it set
when it is killed; ansible-playbook then refuses to start from that terminal or pipe. The
probe runs in a child process whose stdin is a pipe (as in a script) or a pseudo-terminal
(as in a terminal) that this test keeps open, and the test reads the flag afterwards on
its own descriptor of the same open file.

It needs qemu-system-x86_64 and a kernel: $KDUMP_LAB_KERNEL, else the cached Debian 12
lab image's. ./dev runs it after building the image, with KDUMP_TEST_QEMU_REQUIRED=1 so
that a missing QEMU or kernel fails instead of skipping.
"""

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "lab", "kdumplab.py")
_SPEC = importlib.util.spec_from_file_location("kdumplab", _PATH)
kdumplab = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(kdumplab)


def _kernel():
    kernel = os.environ.get("KDUMP_LAB_KERNEL")
    if not kernel:
        try:
            kernel = kdumplab.image_paths("12")["kernel"]
        except kdumplab.LabError:
            kernel = None
    missing = []
    if not shutil.which("qemu-system-x86_64"):
        missing.append("qemu-system-x86_64")
    if not kernel or not os.path.exists(kernel):
        missing.append("a kernel (KDUMP_LAB_KERNEL or the cached Debian 12 lab image)")
    if missing:
        if os.environ.get("KDUMP_TEST_QEMU_REQUIRED"):
            pytest.fail("the probe test needs %s" % ", ".join(missing))
        pytest.skip("needs %s" % ", ".join(missing))
    return kernel


_CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("kdumplab", sys.argv[1])
lab = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lab)
if sys.argv[3] == "kvm-probe":
    booted = lab.probe_kvm(sys.argv[2], timeout=8)
else:
    booted = lab.probe_boot(sys.argv[2], sys.argv[3])
print(json.dumps(booted))
"""


def _stdin(kind):
    """(descriptor given to the child as stdin, descriptors to close at the end)."""
    if kind == "pipe":
        read, write = os.pipe()
        return read, [read, write]
    master, slave = os.openpty()
    return slave, [master, slave]


def _probe(kernel, accel, stdin):
    out = subprocess.run([sys.executable, "-c", _CHILD, os.path.abspath(_PATH), kernel, accel],
                         stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize("kind", ["pipe", "tty"])
def test_a_real_tcg_boot_leaves_stdin_blocking(kind):
    # TCG always gets as far as the serial console: this is the probe's QEMU command line
    # really running, whatever the machine's KVM does.
    kernel = _kernel()
    stdin, fds = _stdin(kind)
    try:
        assert os.get_blocking(stdin)
        booted = _probe(kernel, "tcg", stdin)
        assert booted == "true", "the kernel did not print its banner under TCG"
        assert os.get_blocking(stdin), "the probe left the caller's %s non-blocking" % kind
    finally:
        for fd in fds:
            os.close(fd)


@pytest.mark.parametrize("kind", ["pipe", "tty"])
def test_the_kvm_probe_leaves_stdin_blocking(kind):
    # The probe as the lab runs it: where /dev/kvm exists QEMU starts, works or fails.
    kernel = _kernel()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("no /dev/kvm: the probe starts no QEMU here (the TCG test covers QEMU)")
    stdin, fds = _stdin(kind)
    try:
        assert _probe(kernel, "kvm-probe", stdin) in ("true", "false")
        assert os.get_blocking(stdin), "the KVM probe left the caller's %s non-blocking" % kind
    finally:
        for fd in fds:
            os.close(fd)
