# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read what crash kernel sizing needs from a Linux host.

PRIVATE to the crashdump.kdump collection: this is not a public API and may
change without notice. Runs on the managed host with Python 3.8+.

The parsers take text or bytes and return data. ``gather()`` reads files
below a root directory (``/`` on a host, a fixture tree in tests) and runs
external commands only through the ``run`` callable it is given, which takes
an argv list and returns ``(rc, stdout, stderr)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import glob
import gzip
import io
import os
import re
import struct
import time

from ansible_collections.crashdump.kdump.plugins.module_utils.common.files import open_regular
from ansible_collections.crashdump.kdump.plugins.module_utils.family import records

FOUR_GIB = 4 << 30
GZIP_MAGIC = b"\x1f\x8b"
# The decompressed arm64 Image header is in the first 64 bytes; never
# decompress more than this from a vmlinuz.
_DECOMPRESS_LIMIT = 1 << 16

KDUMP_INITRD_PATTERNS = tuple(f.initrd_path.lstrip("/").replace("{release}", "{rel}")
                              for f in records.FAMILIES)
BOOT_INITRD_PATTERNS = tuple(p.lstrip("/").replace("{release}", "{rel}")
                             for p in records.BOOT_INITRD_PATHS)
KERNEL_PATTERNS = (
    "boot/vmlinuz-{rel}",
    "boot/Image-{rel}",
    "boot/vmlinux-{rel}",
    "boot/image-{rel}",
)


class HostInfoError(Exception):
    """A host file could not be read or understood; the message names it."""


def parse_iomem(text):
    """Sum the "System RAM" regions of /proc/iomem.

    Returns ``system_ram``, ``ram_below_4g``, ``crash_regions`` (list of
    ``{start, end, size}``) and ``hidden`` (True when every address reads as
    zero, which is what a reader without CAP_SYS_ADMIN sees).
    """
    total = 0
    below = 0
    regions = []
    crash = []
    seen_nonzero = False
    for line in text.splitlines():
        if not line.strip() or ":" not in line:
            continue
        span, _sep, name = line.strip().partition(" : ")
        if "-" not in span:
            continue
        start_text, _sep, end_text = span.partition("-")
        try:
            start = int(start_text, 16)
            end = int(end_text, 16)
        except ValueError:
            continue
        if start or end:
            seen_nonzero = True
        name = name.strip()
        if name == "System RAM":
            if any(s <= start and end <= e for s, e in regions):
                continue
            regions.append((start, end))
            size = end - start + 1
            total += size
            if start < FOUR_GIB:
                below += min(end + 1, FOUR_GIB) - start
        elif name == "Crash kernel":
            crash.append({"start": start, "end": end, "size": end - start + 1})
    return {
        "system_ram": total,
        "ram_below_4g": below,
        "crash_regions": crash,
        "hidden": bool(regions or crash) and not seen_nonzero,
    }


def parse_os_release(text):
    return records.parse_os_release(text)


def parse_proc_modules(text):
    """/proc/modules -> {name: size in bytes}."""
    sizes = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1].isdigit():
            sizes[fields[0]] = int(fields[1])
    return sizes


_KO = re.compile(r"([^/\s]+)\.ko(?:\.(?:xz|zst|gz|bz2))?$")


def initrd_module_names(listing):
    """Module names (with '_' for '-') from an lsinitramfs/lsinitrd listing."""
    names = set()
    for line in listing.splitlines():
        match = _KO.search(line.strip())
        if match:
            names.add(match.group(1).replace("-", "_"))
    return names


def parse_luks_dump(text):
    """Largest keyslot "Memory:" (KiB in cryptsetup luksDump) -> bytes; 0 if none."""
    largest = 0
    for match in re.finditer(r"^\s*Memory:\s*(\d+)", text, re.MULTILINE):
        largest = max(largest, int(match.group(1)) * 1024)
    return largest


def parse_calibrate(text):
    """SUSE ``kdumptool calibrate`` output -> {'low': MiB, 'high': MiB}."""
    values = {}
    for line in text.splitlines():
        key, _sep, value = line.partition(":")
        key = key.strip().lower()
        if key in ("low", "high") and value.strip().isdigit():
            values[key] = int(value.strip())
    if "low" not in values:
        raise HostInfoError("kdumptool calibrate printed no 'Low:' line: %r" % text[:200])
    return values


def kernel_memory_size(data):
    """The memory a kernel image needs once loaded, from its header.

    x86 bzImage: ``init_size`` (boot protocol 2.10+). arm64 Image (also
    inside a gzip vmlinuz): ``image_size``. Returns None when the image is of
    another kind or the header does not say.
    """
    if len(data) >= 0x264 and data[0x202:0x206] == b"HdrS":
        version = struct.unpack_from("<H", data, 0x206)[0]
        if version >= 0x020A:
            init_size = struct.unpack_from("<I", data, 0x260)[0]
            return init_size or None
        return None
    if data[:2] == GZIP_MAGIC:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
                head = handle.read(_DECOMPRESS_LIMIT)
        except (OSError, EOFError, ValueError):
            return None
        return kernel_memory_size(head) if head[:2] != GZIP_MAGIC else None
    if len(data) >= 64 and data[0x38:0x3C] == b"ARM\x64":
        image_size = struct.unpack_from("<Q", data, 16)[0]
        return image_size or None
    return None


def parse_nr_cpus(text):
    """nr_cpus=N (or maxcpus=N) from a capture command line; 1 when absent."""
    match = re.search(r"(?:^|\s|\")(?:nr_cpus|maxcpus)=(\d+)", text or "")
    return int(match.group(1)) if match else 1


def read_sysfs_int(path, attempts=5, delay=0.05, sleep=time.sleep):
    """Read an integer from a sysfs file, retrying on EBUSY (kexec_crash_size)."""
    for attempt in range(attempts):
        try:
            with open(path) as handle:
                return int(handle.read().strip() or 0)
        except (IOError, OSError) as exc:
            if exc.errno == errno.EBUSY and attempt + 1 < attempts:
                sleep(delay)
                continue
            if exc.errno == errno.ENOENT:
                return None
            raise HostInfoError("cannot read %s: %s" % (path, exc))
        except ValueError:
            raise HostInfoError("%s does not hold an integer" % path)
    return None


class HostReader(object):
    """Reads a host below ``root``; commands go through ``run(argv)``."""

    def __init__(self, root="/", run=None, which=None):
        self.root = root
        self.run = run
        self.which = which or (lambda name: None)
        self.notes = []

    def path(self, relative):
        return os.path.join(self.root, relative.lstrip("/"))

    def read_text(self, relative, default=None):
        try:
            with open(self.path(relative)) as handle:
                return handle.read()
        except (IOError, OSError):
            return default

    def first_existing(self, patterns, release):
        for pattern in patterns:
            candidate = self.path(pattern.format(rel=release))
            if os.path.isfile(candidate):
                return candidate
        return None

    def command(self, name, args, quiet=False):
        """Run a tool if the host has it; None when it is missing or fails (a note says so,
        unless ``quiet``: a question whose "no" is an answer)."""
        binary = self.which(name)
        if not binary or self.run is None:
            return None
        rc, out, err = self.run([binary] + list(args))
        if rc != 0:
            detail = (err or out or "").strip()[:200]
            if not quiet:
                self.notes.append("%s %s failed (rc=%s): %s"
                                  % (name, " ".join(args), rc, detail))
            return None
        return out

    def memory(self):
        text = self.read_text("proc/iomem")
        if text is None:
            raise HostInfoError("cannot read %s" % self.path("proc/iomem"))
        info = parse_iomem(text)
        if info["hidden"]:
            raise HostInfoError("%s shows only zero addresses: System RAM can only be read"
                                " as root (use become: true)" % self.path("proc/iomem"))
        if not info["system_ram"]:
            raise HostInfoError("%s has no 'System RAM' region" % self.path("proc/iomem"))
        return info

    def kernel(self, release, kernel_path=None):
        path = kernel_path or self.first_existing(KERNEL_PATTERNS, release)
        if not path:
            self.notes.append("no kernel image found for %s in /boot" % release)
            return None, None, None
        try:
            with open_regular(path) as handle:
                size = os.fstat(handle.fileno()).st_size
                head = handle.read(1 << 20)
        except (IOError, OSError) as exc:
            raise HostInfoError("cannot read kernel image %s: %s" % (path, exc))
        return path, size, kernel_memory_size(head)

    def initrd(self, release, initrd_path=None):
        if initrd_path:
            if not os.path.isfile(initrd_path):
                raise HostInfoError("initrd %s does not exist" % initrd_path)
            return initrd_path, os.path.getsize(initrd_path), True
        path = self.first_existing(KDUMP_INITRD_PATTERNS, release)
        if path:
            return path, os.path.getsize(path), True
        path = self.first_existing(BOOT_INITRD_PATTERNS, release)
        if path:
            return path, os.path.getsize(path), False
        self.notes.append("no initrd found for %s" % release)
        return None, None, False

    def modules_size(self, initrd_path, is_kdump):
        loaded = parse_proc_modules(self.read_text("proc/modules", ""))
        if not loaded or not initrd_path:
            return 0
        listing = None
        if is_kdump:
            listing = self.command("lsinitramfs", [initrd_path])
            if listing is None:
                listing = self.command("lsinitrd", [initrd_path])
        if listing is None:
            self.notes.append("modules: the kdump initrd could not be listed, so no loaded"
                              " module sizes were added")
            return 0
        names = initrd_module_names(listing)
        return sum(size for name, size in loaded.items() if name in names)

    def luks_memory(self):
        out = self.command("lsblk", ["-l", "-n", "-p", "-o", "NAME,FSTYPE"])
        if out is None:
            return 0
        largest = 0
        for line in out.splitlines():
            fields = line.split()
            if len(fields) == 2 and fields[1] == "crypto_LUKS":
                dump = self.command("cryptsetup", ["luksDump", fields[0]])
                if dump:
                    largest = max(largest, parse_luks_dump(dump))
        return largest

    def sme_sev(self, arch):
        if arch != "x86_64":
            return False
        out = self.command("dmesg", [])
        if out is None:
            return False
        return bool(re.search(r"Memory Encryption Features active: AMD (SME|SEV)", out))

    def capture_cpus(self, fadump=False):
        """nr_cpus= of the capture kernel's appended command line (1 when absent): the
        family's KDUMP_COMMANDLINE_APPEND, or FADUMP_COMMANDLINE_APPEND under fadump, which
        kdump-utils reads there instead."""
        for family in records.FAMILIES:
            path = family.sysconfig or family.config
            key = family.capture_append
            if fadump and getattr(family, "capture_append_fadump", None):
                key = family.capture_append_fadump
            text = self.read_text(path.lstrip("/"))
            if text:
                for line in text.splitlines():
                    if line.strip().startswith(key + "="):
                        return parse_nr_cpus(line)
        return 1

    def redhat_tool(self, fadump=False):
        """``((package, version), default)``: the kdump-utils (or, before it, kexec-tools)
        installed, and what its kdumpctl says the default crashkernel= is here; Nones where
        the host cannot say."""
        tool = None
        query = records.REDHAT.version_query
        for package in records.REDHAT.tool_packages:
            out = self.command(query[0], query[1:] + [package], quiet=True)
            line = (out or "").strip().splitlines()
            if line and re.match(r"^\d[\w.+~-]*$", line[0]) and "not installed" not in line[0]:
                tool = (package, line[0])
                break
        argv = records.REDHAT.default_crashkernel
        out = self.command(argv[0], argv[1:] + ["fadump" if fadump else "kdump"], quiet=True)
        default = (out or "").strip()
        if not re.match(r"^[0-9][0-9A-Za-z:,.@-]*$", default):
            default = None
        return tool, default

    def suse_calibrate(self):
        argv = records.SUSE.calibrate
        out = self.command(argv[0], argv[1:])
        if out is None:
            return None
        try:
            return parse_calibrate(out)
        except HostInfoError as exc:
            self.notes.append(str(exc))
            return None

    def gather(self, kernel_path=None, initrd_path=None, detect_luks=True, uname=None, estimate_inputs=True):
        """Return ``(facts, state)``: the sizing inputs and the current state.

        ``uname`` is ``(release, machine)``; the running kernel's by default. Without
        ``estimate_inputs`` the inputs only the estimate policy uses, and that cost the most to
        measure (listing the kdump initrd, LUKS keyslots), are not measured and read 0.
        """
        if uname is None:
            uname = (os.uname()[2], os.uname()[4])
        release, arch = uname
        mem = self.memory()
        os_release = parse_os_release(self.read_text("etc/os-release", "")
                                      or self.read_text("usr/lib/os-release", ""))
        kpath, ksize, kmem = self.kernel(release, kernel_path)
        ipath, isize, is_kdump = self.initrd(release, initrd_path)
        cmdline = (self.read_text("proc/cmdline", "") or "").strip()
        fadump = (self.read_text("sys/kernel/fadump/enabled", "0") or "0").strip() == "1"
        facts = {
            "arch": arch,
            "page_size": os.sysconf("SC_PAGE_SIZE"),
            "system_ram": mem["system_ram"],
            "ram_below_4g": mem["ram_below_4g"],
            "distribution": os_release.get("ID", ""),
            "id_like": tuple(os_release.get("ID_LIKE", "").split()),
            "version": os_release.get("VERSION_ID", ""),
            "kernel_release": release,
            "cpus": os.cpu_count() or 1,
            "capture_cpus": self.capture_cpus(fadump),
            "kernel_size": ksize,
            "kernel_memory": kmem,
            "initrd_size": isize,
            "initrd_is_kdump": is_kdump,
            "modules_size": self.modules_size(ipath, is_kdump) if estimate_inputs else 0,
            "luks_memory": self.luks_memory() if detect_luks and estimate_inputs else 0,
            "sme_sev": self.sme_sev(arch),
            "mlx5": os.path.isdir(self.path("sys/bus/pci/drivers/mlx5_core")),
            "arm_smmu": bool(glob.glob(self.path("sys/devices/platform/arm-smmu-*"))),
            "fadump": fadump,
            "suse_calibrate": self.suse_calibrate() if _is_suse(os_release) else None,
        }
        if _family(os_release) is records.REDHAT:
            facts["tool_version"], facts["tool_default"] = self.redhat_tool(fadump)
        state = {
            "cmdline": cmdline,
            "kexec_crash_size": read_sysfs_int(self.path("sys/kernel/kexec_crash_size")),
            "kexec_crash_loaded": read_sysfs_int(self.path("sys/kernel/kexec_crash_loaded")),
            "crash_regions": mem["crash_regions"],
            "kernel_path": kpath,
            "initrd_path": ipath,
            "memtotal": _memtotal(self.read_text("proc/meminfo", "")),
        }
        return facts, state


def _family(os_release):
    return records.detect_ids(os_release.get("ID", ""), os_release.get("ID_LIKE", "").split())


def _is_suse(os_release):
    return _family(os_release) is records.SUSE


def _memtotal(text):
    match = re.search(r"^MemTotal:\s+(\d+)\s*kB", text or "", re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None
