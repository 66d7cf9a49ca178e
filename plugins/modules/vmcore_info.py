#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vmcore_info
short_description: Read and validate crash dumps (vmcores) without external tools
version_added: 0.1.0
description:
  - Reads kdump-compressed dumps, their flattened form (makedumpfile C(-F), as written over SSH
    and by kdump-tools; read through an index of its records, never reassembled) and ELF vmcores,
    in pure Python - no makedumpfile or crash needed on the host.
  - Returns for each dump its format, header version, the crashed kernel's release and machine
    (from the header and VMCOREINFO), page size, crash time (VMCOREINFO C(CRASHTIME)), dump level,
    compression, the incomplete flag, size, and V(valid) with the reasons when it is not - the
    incomplete flag, a truncated file (the last page's data, or the ELF segments, beyond its end),
    a flattened file without its end marker, a header that disagrees with VMCOREINFO, another kernel
    than O(kernel).
  - Also reads the kernel log saved beside the dump (C(dmesg.*), C(vmcore-dmesg.txt)) and returns
    its last lines. Without such a file (and with O(read_log=auto)) it reads the log from the dump
    itself, as C(makedumpfile --dump-dmesg) prints it - the printk ring buffer of Linux 5.10 and later,
    the C(log_buf) of Linux 3.5 to 5.9, found through VMCOREINFO - from kdump-compressed (zlib or
    uncompressed pages; lzo, snappy and zstd where their Python modules are installed), flattened and
    ELF dumps of x86_64 and aarch64 kernels. RV(dumps[].dmesg_source) says where the log came from,
    RV(dumps[].dmesg_error) why it could not be read from the dump.
  - Returns a crash signature from the log (RV(dumps[].signature)) - the report that crashed the
    kernel and the first frames of its call trace, without addresses, offsets, build ids, CPU, PID,
    taint or timestamps - so that the same bug on two hosts gives the same hash.
  - Corrupt or truncated input gives V(valid=false) and a reason, never a traceback.
author:
  - crashdump.kdump contributors (!UNKNOWN)
extends_documentation_fragment:
  - crashdump.kdump.attributes
  - crashdump.kdump.attributes.info_module
options:
  path:
    description:
      - A dump file, or a directory - every dump in it and in its subdirectories (one per crash,
        as kdump tools write them), newest first.
    type: path
    required: true
  kernel:
    description: The kernel release the dumps must be of (for example the crashed host's C(uname -r)).
    type: str
  newer_than:
    description: Only dumps modified after this time (seconds since the epoch).
    type: float
  allow_missing:
    description: Return no dumps, instead of failing, when O(path) does not exist (a dump directory not created yet).
    type: bool
    default: false
  dmesg_lines:
    description: How many of the last lines of the saved kernel log to return.
    type: int
    default: 20
  check_pages:
    description: Check that the data of the last page is in the file (reads the page bitmap; a few MiB for a large host).
    type: bool
    default: true
  read_log:
    description:
      - V(auto) reads the kernel log from the dump when no log was saved beside it (at most 64 MiB of
        the ring and the pages it is in, plus the page bitmap up to them); V(never) does not.
    type: str
    choices: [auto, never]
    default: auto
seealso:
  - module: crashdump.kdump.kdump_info
"""

EXAMPLES = r"""
- name: The dumps on this host's local target
  crashdump.kdump.vmcore_info:
    path: /var/crash
  register: dumps

- name: The newest one is a complete dump of the running kernel
  crashdump.kdump.vmcore_info:
    path: /var/crash
    kernel: "{{ ansible_facts.kernel }}"
  register: newest
  failed_when: not newest.valid

- name: On the dump server, the dumps of one client since a time
  crashdump.kdump.vmcore_info:
    path: /srv/kdump
    newer_than: "{{ crash.trigger_time }}"
  delegate_to: dumps.example.com
"""

RETURN = r"""
valid:
  description: Whether the newest dump found is valid (false when none is found).
  returned: always
  type: bool
newest:
  description: The newest dump (as an element of RV(dumps)), or null.
  returned: always
  type: dict
dumps:
  description: The dumps found, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The dump file.
      type: str
    size:
      description: Its size in bytes.
      type: int
    mtime:
      description: When it was last written (seconds since the epoch).
      type: float
    format:
      description: V(kdump), V(elf) or V(unknown).
      type: str
    flattened:
      description: Whether the file is in makedumpfile's flattened form.
      type: bool
    header_version:
      description: The kdump header version.
      type: int
    kernel:
      description: The crashed kernel's release.
      type: str
    machine:
      description: The crashed kernel's machine.
      type: str
    page_size:
      description: The page size.
      type: int
    crash_time:
      description: When the kernel crashed (VMCOREINFO C(CRASHTIME)), where recorded.
      type: int
    dump_time:
      description: The time in the kdump header.
      type: int
    dump_level:
      description: makedumpfile's dump level.
      type: int
    compression:
      description: V(zlib), V(lzo), V(snappy), V(zstd) or V(none).
      type: str
    incomplete:
      description: Whether makedumpfile marked the dump incomplete.
      type: bool
    pages:
      description: The number of pages in a kdump dump (with O(check_pages)).
      type: int
    segments:
      description: The number of memory segments (PT_LOAD) of an ELF core.
      type: int
      returned: for ELF cores
    vmcoreinfo:
      description: OSRELEASE, PAGESIZE, CRASHTIME and BUILD-ID from VMCOREINFO.
      type: dict
    valid:
      description: Whether the dump is complete and usable.
      type: bool
    reasons:
      description: Why it is not.
      type: list
      elements: str
    dmesg:
      description: The kernel log saved beside the dump, or null.
      type: str
    dmesg_source:
      description:
        - Where the kernel log of RV(dumps[].dmesg_tail) comes from - V(file) (RV(dumps[].dmesg)),
          V(dump) (read from the dump), or null when there is none.
      type: str
    dmesg_error:
      description: Why the kernel log could not be read from the dump (when no log is beside it), or null.
      type: str
    dmesg_records:
      description: The number of records of the kernel log read from the dump (null for a log file).
      type: int
    dmesg_tail:
      description: The last O(dmesg_lines) lines of the kernel log (from the dump, as C(makedumpfile --dump-dmesg) prints them).
      type: list
      elements: str
    dmesg_sysrq:
      description: Whether the kernel log records a sysrq-c crash (null without a log).
      type: bool
    dmesg_panic:
      description: The last "Kernel panic - not syncing" line of the kernel log, or null.
      type: str
    signature:
      description: The crash's signature from the kernel log, or null when it records no crash (or there is no log).
      type: dict
      contains:
        hash:
          description: 16 hexadecimal digits of the SHA-256 of the title and the frames - the same for the same bug.
          type: str
        title:
          description: The normalised first line of the report that crashed the kernel, with the function it names.
          type: str
          sample: "BUG: kernel NULL pointer dereference, address: X in nullb_probe [nullb]"
        frames:
          description: The crashing function and the first frames of its call trace, normalised.
          type: list
          elements: str
        test:
          description: Whether the crash was a test crash asked for with sysrq-c.
          type: bool
        line:
          description: The report's first line as logged (without its timestamp).
          type: str
"""

import os


from ansible_collections.crashdump.kdump.plugins.module_utils.common.module import checked_module
from ansible_collections.crashdump.kdump.plugins.module_utils.vmcore.dmesg import dump_log
from ansible_collections.crashdump.kdump.plugins.module_utils.vmcore.reader import (
    dmesg_beside,
    find_dumps,
    inspect,
    log_lines,
)
from ansible_collections.crashdump.kdump.plugins.module_utils.vmcore.signature import crash_signature, scan


def kernel_log(path, info, count, read_log):
    """The dmesg_* keys and the signature of one dump: from the log beside it, else (with
    ``read_log=auto``, for a dump whose format is known) from the dump itself."""
    out = {"dmesg": dmesg_beside(path), "dmesg_source": None, "dmesg_error": None,
           "dmesg_records": None, "dmesg_tail": None, "dmesg_sysrq": None, "dmesg_panic": None,
           "signature": None}
    lines = None
    if out["dmesg"]:
        lines = log_lines(out["dmesg"])
        out["dmesg_source"] = "file" if lines is not None else None
    elif read_log == "auto" and info.get("format") in ("kdump", "elf"):
        log = dump_log(path)
        out["dmesg_error"] = log["error"]
        if log["error"] is None:
            lines = log["lines"]
            out["dmesg_source"] = "dump"
            out["dmesg_records"] = log["records"]
    if lines is not None:
        out["dmesg_tail"] = lines[-count:] if count > 0 else []
        out["dmesg_sysrq"], out["dmesg_panic"] = scan(lines)
        out["signature"] = crash_signature(lines)
    return out


def main():
    module = checked_module(
        argument_spec=dict(
            path=dict(type="path", required=True),
            kernel=dict(type="str"),
            newer_than=dict(type="float"),
            allow_missing=dict(type="bool", default=False),
            dmesg_lines=dict(type="int", default=20),
            check_pages=dict(type="bool", default=True),
            read_log=dict(type="str", default="auto", choices=["auto", "never"]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not os.path.exists(p["path"]):
        if p["allow_missing"]:
            module.exit_json(changed=False, dumps=[], newest=None, valid=False)
        module.fail_json(msg="%s does not exist; expected a dump file or a directory of dumps"
                             % p["path"])
    paths = [p["path"]] if os.path.isfile(p["path"]) else find_dumps(p["path"])
    dumps = []
    for path in paths:
        try:
            mtime = os.path.getmtime(path)
        except OSError:
            continue
        if p["newer_than"] is not None and mtime <= p["newer_than"]:
            continue
        info = inspect(path, expected_kernel=p["kernel"], check_pages=p["check_pages"])
        info["mtime"] = mtime
        info.update(kernel_log(path, info, p["dmesg_lines"], p["read_log"]))
        dumps.append(info)
    dumps.sort(key=lambda item: item["mtime"], reverse=True)
    newest = dumps[0] if dumps else None
    module.exit_json(changed=False, dumps=dumps, newest=newest,
                     valid=bool(newest and newest["valid"]))


if __name__ == "__main__":
    main()
