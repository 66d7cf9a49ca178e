# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash signatures from kernel logs written here in the kernel's own formats.

The shapes follow the kernel's printing code (kernel/panic.c, lib/dump_stack.c,
kernel/hung_task.c, arch/x86/kernel/dumpstack.c, arch/arm64/kernel/traps.c) and published
logs of the same shapes: an x86_64 6.17 sysrq panic in microsoft/lisa pull request 4473, an
arm64 6.6 sysrq panic in raspberrypi/linux issue 6428, a 4.9 x86_64 sysrq Oops in
sonic-net/sonic-buildimage pull request 3276, hung task reports in
thesofproject/linux issue 3387. Names, addresses and numbers here are made up.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.crashdump.kdump.plugins.module_utils.vmcore.signature import (
    crash_signature,
    normalise,
    scan,
)


def log(text, start=80.0, step=0.000213, caller=None):
    """Lines as makedumpfile prints them, with made-up timestamps (and caller ids)."""
    out = []
    for index, line in enumerate(text.strip("\n").splitlines()):
        stamp = start + index * step
        prefix = "[%12.6f] " % stamp if stamp >= 10000 else "[%5d.%06d] " % (int(stamp), round(stamp % 1 * 1e6) % 1000000)
        if caller:
            prefix += "[%8s] " % caller
        out.append(prefix + line)
    return out


X86_SYSRQ_6_1 = """
sysrq: Trigger a crash
Kernel panic - not syncing: sysrq triggered crash
CPU: {cpu} PID: {pid} Comm: bash Kdump: loaded Not tainted 6.1.0-18-amd64 #1  Debian 6.1.76-1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
Call Trace:
 <TASK>
 dump_stack_lvl+0x44/0x5c
 panic+0x118/0x2ed
 sysrq_handle_crash+0x16/0x20
 __handle_sysrq.cold+0x43/0x11b
 write_sysrq_trigger+0x24/0x40
 proc_reg_write+0x56/0xa0
 vfs_write+0xc7/0x3c0
 ? do_user_addr_fault+0x1f4/0x590
 ksys_write+0x6b/0xf0
 do_syscall_64+0x58/0xc0
 entry_SYSCALL_64_after_hwframe+0x64/0xce
RIP: 0033:0x7f{rip}
Code: Unable to access opcode bytes at 0x7f0b6d7a4f2a.
RSP: 002b:00007ffd{rsp} EFLAGS: 00000246 ORIG_RAX: 0000000000000001
 </TASK>
"""

X86_SYSRQ_6_17 = """
sysrq: Trigger a crash
Kernel panic - not syncing: sysrq triggered crash
CPU: 18 UID: 0 PID: 8948 Comm: echo Kdump: loaded Not tainted 6.17.0-1008-azure #8~24.04.1-Ubuntu VOLUNTARY
Hardware name: Microsoft Corporation Virtual Machine/Virtual Machine, BIOS Hyper-V UEFI Release v4.1 02/25/2026
Call Trace:
 <TASK>
 dump_stack_lvl+0x27/0x70
 dump_stack+0x10/0x20
 vpanic+0x31f/0x3b0
 panic+0x5f/0x60
 sysrq_handle_crash+0x15/0x20
 __handle_sysrq+0xe0/0x250
 write_sysrq_trigger+0x4c/0x80
 proc_reg_write+0x5b/0xa0
 vfs_write+0xfb/0x480
 ksys_write+0x71/0xe0
 __x64_sys_write+0x19/0x30
 x64_sys_call+0x7e/0x2660
 do_syscall_64+0x81/0x970
 entry_SYSCALL_64_after_hwframe+0x76/0x7e
 </TASK>
"""

ARM64_SYSRQ_6_6 = """
sysrq: Trigger a crash
Kernel panic - not syncing: sysrq triggered crash
CPU: 2 PID: 118 Comm: sh Kdump: loaded Not tainted 6.6.57-v8+ #1
Hardware name: Raspberry Pi 3 Model B Rev 1.2 (DT)
Call trace:
 dump_backtrace+0x9c/0x100
 show_stack+0x20/0x38
 dump_stack_lvl+0x48/0x60
 dump_stack+0x18/0x28
 panic+0x320/0x388
 sysrq_handle_crash+0x24/0x30
 __handle_sysrq+0xec/0x1e8
 write_sysrq_trigger+0x7c/0xc0
 proc_reg_write+0xa4/0x100
 vfs_write+0xd0/0x330
 ksys_write+0x7c/0x120
 __arm64_sys_write+0x24/0x38
 invoke_syscall+0x50/0x120
 el0_svc_common.constprop.0+0x48/0xf0
 do_el0_svc+0x24/0x38
 el0_svc+0x40/0xe8
 el0t_64_sync_handler+0x120/0x130
 el0t_64_sync+0x190/0x198
SMP: stopping secondary CPUs
Starting crashdump kernel...
Bye!
"""

X86_OOPS_MODULE = """
nullb: loading out-of-tree module taints kernel.
BUG: kernel NULL pointer dereference, address: 00000000000000{addr}
#PF: supervisor read access in kernel mode
#PF: error_code(0x0000) - not-present page
PGD 0 P4D 0
Oops: 0000 [#1] PREEMPT SMP NOPTI
CPU: {cpu} PID: {pid} Comm: modprobe Tainted: G           OE      6.1.0-18-amd64 #1  Debian 6.1.76-1
Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
RIP: 0010:nullb_probe+0x2d/0x{size} [nullb {buildid}]
Code: 48 89 e5 41 54 53 48 8b 47 08 <8b> 40 10 85 c0 74 0c 5b 41 5c 5d c3 cc cc cc cc
RSP: 0018:ffffb4{rsp} EFLAGS: 00010246
RAX: 0000000000000000 RBX: ffff9a4b4{rbx} RCX: 0000000000000000
Call Trace:
 <TASK>
 ? __die+0x23/0x70
 ? page_fault_oops+0x17d/0x4c0
 ? exc_page_fault+0x7f/0x180
 ? asm_exc_page_fault+0x26/0x30
 ? nullb_probe+0x2d/0x{size} [nullb {buildid}]
 nullb_init+0x4a/0xff0 [nullb {buildid}]
 do_one_initcall+0x5b/0x320
 do_init_module+0x4c/0x240
 __do_sys_finit_module+0xac/0x120
 do_syscall_64+0x58/0xc0
 entry_SYSCALL_64_after_hwframe+0x64/0xce
 </TASK>
Modules linked in: nullb(OE+) nls_ascii nls_cp437 vfat fat ext4 crc16 mbcache jbd2 virtio_net
CR2: 00000000000000{addr}
---[ end trace 0000000000000000 ]---
Kernel panic - not syncing: Fatal exception
Kernel Offset: 0x{kaslr}000000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)
"""

X86_BUG_6_1 = """
------------[ cut here ]------------
kernel BUG at mm/slub.c:{line}!
invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
CPU: 1 PID: 2231 Comm: kworker/1:2 Not tainted 6.1.0-18-amd64 #1  Debian 6.1.76-1
Workqueue: events free_work
RIP: 0010:__slab_free+0x2a5/0x2e0
Call Trace:
 <TASK>
 ? __die_body.cold+0x1a/0x1f
 ? die+0x2a/0x50
 ? do_trap+0xc5/0x110
 kmem_cache_free+0x2b1/0x2f0
 ? update_load_avg+0x7e/0x6e0
 free_work+0x1c/0x30
 process_one_work+0x1c7/0x380
 worker_thread+0x4d/0x380
 kthread+0xd7/0x100
 ret_from_fork+0x22/0x30
 </TASK>
---[ end trace 0000000000000000 ]---
Kernel panic - not syncing: Fatal exception
"""

HUNG_TASK = """
INFO: task jbd2/vda1-8:{pid} blocked for more than {secs} seconds.
      Not tainted 6.1.0-18-amd64 #1 Debian 6.1.76-1
"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
task:jbd2/vda1-8     state:D stack:0     pid:{pid}   ppid:2      flags:0x00004000
Call Trace:
 <TASK>
 __schedule+0x351/0xa20
 schedule+0x5d/0xe0
 io_schedule+0x42/0x70
 bit_wait_io+0xd/0x60
 __wait_on_bit+0x48/0x150
 out_of_line_wait_on_bit+0x8c/0xb0
 jbd2_journal_commit_transaction+0x1590/0x1a40 [jbd2]
 kjournald2+0xab/0x270 [jbd2]
 kthread+0xda/0x100
 ret_from_fork+0x22/0x30
 </TASK>
INFO: task systemd-journal:{pid2} blocked for more than {secs} seconds.
      Not tainted 6.1.0-18-amd64 #1 Debian 6.1.76-1
"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
task:systemd-journal state:D stack:0     pid:{pid2}   ppid:1      flags:0x00000002
Call Trace:
 <TASK>
 __schedule+0x351/0xa20
 schedule+0x5d/0xe0
 wait_transaction_locked+0x8a/0xd0 [jbd2]
 add_transaction_credits+0xdd/0x2b0 [jbd2]
 </TASK>
Kernel panic - not syncing: hung_task: blocked tasks
CPU: 0 PID: 38 Comm: khungtaskd Not tainted 6.1.0-18-amd64 #1  Debian 6.1.76-1
Call Trace:
 <TASK>
 dump_stack_lvl+0x44/0x5c
 panic+0x118/0x2ed
 watchdog.cold+0x23/0x23
 kthread+0xda/0x100
 ret_from_fork+0x22/0x30
 </TASK>
"""

ARM64_OOPS = """
Unable to handle kernel NULL pointer dereference at virtual address 0000000000000010
Mem abort info:
  ESR = 0x0000000096000005
  EC = 0x25: DABT (current EL), IL = 32 bits
Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP
Modules linked in: nullb(O) nls_ascii nls_cp437 vfat fat
CPU: {cpu} PID: {pid} Comm: insmod Tainted: G           O       6.1.0-18-arm64 #1  Debian 6.1.76-1
Hardware name: linux,dummy-virt (DT)
pstate: 60400005 (nZCv daif +PAN -UAO -TCO -DIT -SSBS BTYPE=--)
pc : nullb_probe+0x1c/0x40 [nullb]
lr : nullb_init+0x30/0x1000 [nullb]
sp : ffff80000a{sp}
Call trace:
 nullb_probe+0x1c/0x40 [nullb]
 nullb_init+0x30/0x1000 [nullb]
 do_one_initcall+0x50/0x2a0
 do_init_module+0x50/0x1f0
 load_module+0x1d60/0x2060
Code: d503233f a9bf7bfd 910003fd f9400400 (b9401000)
---[ end trace 0000000000000000 ]---
"""

WARN_PANIC = """
------------[ cut here ]------------
WARNING: CPU: 3 PID: 1 at drivers/gpu/drm/virtio/virtgpu_vq.c:{line} virtio_gpu_queue_ctrl_sgs+0x1d4/0x1e0 [virtio_gpu]
Modules linked in: virtio_gpu(+) virtio_dma_buf drm_shmem_helper
CPU: 3 PID: 1 Comm: systemd-udevd Not tainted 6.1.0-18-amd64 #1  Debian 6.1.76-1
RIP: 0010:virtio_gpu_queue_ctrl_sgs+0x1d4/0x1e0 [virtio_gpu]
Call Trace:
 <TASK>
 ? __warn+0x7d/0xc0
 ? report_bug+0xe2/0x150
 virtio_gpu_queue_fenced_ctrl_buffer+0x5f/0x150 [virtio_gpu]
 virtio_gpu_cmd_get_display_info+0x8f/0xa0 [virtio_gpu]
 virtio_gpu_init+0x4f0/0x6e0 [virtio_gpu]
 </TASK>
Kernel panic - not syncing: kernel: panic_on_warn set ...
"""


def sig(text, **values):
    return crash_signature(log(text.format(**values) if values else text))


def test_x86_64_sysrq_panic():
    result = sig(X86_SYSRQ_6_1, cpu=1, pid=1234, rip="0b6d7a4f00", rsp="c0a8b0e0")
    assert result["title"] == "Kernel panic - not syncing: sysrq triggered crash"
    assert result["frames"] == ["sysrq_handle_crash", "__handle_sysrq", "write_sysrq_trigger",
                                "proc_reg_write", "vfs_write"]
    assert result["test"] is True and len(result["hash"]) == 16


def test_the_same_crash_on_two_hosts_has_the_same_signature():
    one = sig(X86_SYSRQ_6_1, cpu=1, pid=1234, rip="0b6d7a4f00", rsp="c0a8b0e0")
    two = crash_signature(log(X86_SYSRQ_6_1.format(cpu=7, pid=99812, rip="aaaa6d7a4f00", rsp="ffff0000"),
                              start=12345.5, caller="T99812"))
    assert one == two
    # Another kernel build (6.17 adds vpanic, dump_stack, __x64_sys_write) and aarch64: the
    # same title and frames, the same bug.
    assert crash_signature(log(X86_SYSRQ_6_17))["hash"] == one["hash"]
    assert crash_signature(log(ARM64_SYSRQ_6_6))["hash"] == one["hash"]


def test_x86_64_oops_in_a_module():
    values = dict(addr="10", cpu=2, pid=4021, size="60", buildid="a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
                  rsp="c0c37cf0", rbx="0a1b000", kaslr="2a")
    result = sig(X86_OOPS_MODULE, **values)
    assert result["title"] == "BUG: kernel NULL pointer dereference, address: X in nullb_probe [nullb]"
    assert result["frames"] == ["nullb_probe [nullb]", "nullb_init [nullb]", "do_one_initcall",
                                "do_init_module", "__do_sys_finit_module"]
    assert result["test"] is False
    other = dict(addr="18", cpu=0, pid=77, size="80", buildid="ffffffffffeeeeeeeeee0000000000aaaaaaaaaa",
                 rsp="00000000", rbx="fffffff", kaslr="06")
    assert sig(X86_OOPS_MODULE, **other)["hash"] == result["hash"]


def test_kernel_bug_with_invalid_opcode():
    result = sig(X86_BUG_6_1, line=379)
    assert result["title"] == "kernel BUG at mm/slub.c:N! in __slab_free"
    assert result["frames"] == ["__slab_free", "kmem_cache_free", "free_work", "process_one_work",
                                "worker_thread"]
    assert sig(X86_BUG_6_1, line=402)["hash"] == result["hash"]


def test_hung_task_panic_is_the_first_blocked_task():
    result = sig(HUNG_TASK, pid=341, pid2=280, secs=120)
    assert result["title"] == "INFO: task blocked for more than N seconds in jbd2_journal_commit_transaction [jbd2]"
    assert result["frames"] == ["jbd2_journal_commit_transaction [jbd2]", "kjournald2 [jbd2]", "kthread",
                                "ret_from_fork"]
    assert result["test"] is False
    assert sig(HUNG_TASK, pid=12, pid2=13, secs=245)["hash"] == result["hash"]


def test_arm64_oops_without_a_panic_line():
    # panic_on_oops: the capture kernel starts from the Oops, no "Kernel panic" is printed.
    result = sig(ARM64_OOPS, cpu=0, pid=311, sp="14bb90")
    assert result["title"] == ("Unable to handle kernel NULL pointer dereference at virtual address X"
                               " in nullb_probe [nullb]")
    assert result["frames"][:3] == ["nullb_probe [nullb]", "nullb_init [nullb]", "do_one_initcall"]
    assert sig(ARM64_OOPS, cpu=3, pid=9, sp="2c0010")["hash"] == result["hash"]


def test_panic_on_warn_names_the_warning():
    result = sig(WARN_PANIC, line=392)
    assert result["title"] == ("WARNING: at drivers/gpu/drm/virtio/virtgpu_vq.c:N virtio_gpu_queue_ctrl_sgs"
                               " [virtio_gpu] in virtio_gpu_queue_ctrl_sgs [virtio_gpu]")
    assert result["frames"][1] == "virtio_gpu_queue_fenced_ctrl_buffer [virtio_gpu]"


def test_a_4_9_sysrq_oops_is_a_test():
    text = """
SysRq : Trigger a crash
BUG: unable to handle kernel NULL pointer dereference at           (null)
IP: [<ffffffffba828802>] sysrq_handle_crash+0x12/0x20
PGD 8000000154beb067
Oops: 0002 [#1] SMP
CPU: 0 PID: 30349 Comm: bash Tainted: G           O    4.9.0-8-2-amd64 #1 Debian 4.9.110-3+deb9u6
Call Trace:
 [<ffffffffba828ec2>] ? __handle_sysrq+0xf2/0x150
 [<ffffffffba82932b>] ? write_sysrq_trigger+0x2b/0x30
"""
    result = crash_signature(log(text))
    assert result["test"] is True
    # Without the sysrq line (lost from the ring), the crashing function still says so.
    assert crash_signature(log(text.replace("SysRq : Trigger a crash\n", "")))["test"] is True
    assert result["title"] == "BUG: unable to handle kernel NULL pointer dereference at (null) in sysrq_handle_crash"


def test_different_bugs_have_different_signatures():
    hashes = {
        sig(X86_SYSRQ_6_1, cpu=1, pid=1, rip="0", rsp="0")["hash"],
        sig(X86_OOPS_MODULE, addr="10", cpu=1, pid=1, size="60", buildid="ab" * 20, rsp="0", rbx="0", kaslr="1")["hash"],
        sig(X86_BUG_6_1, line=1)["hash"],
        sig(HUNG_TASK, pid=1, pid2=2, secs=120)["hash"],
        sig(ARM64_OOPS, cpu=0, pid=1, sp="0")["hash"],
        sig(WARN_PANIC, line=1)["hash"],
        crash_signature(log("Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"))["hash"],
        crash_signature(log("Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b"))["hash"],
    }
    assert len(hashes) == 8


def test_no_crash_no_signature():
    assert crash_signature(log("Linux version 6.1.0\nsystemd[1]: Started foo.service")) is None
    assert crash_signature([]) is None


@pytest.mark.parametrize("text,expected", [
    ("RIP: 0010:foo+0x1a/0x40 [mod 0123456789abcdef0123]", "RIP: N:foo [mod]"),
    ("BUG: soft lockup - CPU#3 stuck for 22s! [kworker/3:1:123]", "BUG: soft lockup - CPU#N stuck for Ns!"),
    ("general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] PREEMPT SMP NOPTI",
     "general protection fault, probably for non-canonical address X"),
    ("Oops: general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP",
     "general protection fault, probably for non-canonical address X"),
    ("CPU: 2 UID: 0 PID: 77 Comm: sh Tainted: G   OE   6.12.9 #1", "N.N.N #N"),
])
def test_normalise(text, expected):
    assert normalise(text) == expected


def test_scan():
    assert scan(log(X86_SYSRQ_6_1.format(cpu=1, pid=1, rip="0", rsp="0"))) == (
        True, "[   80.000213] Kernel panic - not syncing: sysrq triggered crash")
    assert scan(["nothing"]) == (False, None)
