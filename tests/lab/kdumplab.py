# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The crashdump.kdump lab: Debian VM images built from Debian packages, run under QEMU.

    kdumplab.py build   [--release 12] [--boot B] [--arch A]   build (or reuse) the cached image
    kdumplab.py start   NAME [--release 12] [--boot B] [--arch A] [--memory 1024] [--cpus 2] [--disks N]
                        [--disk-size 2G] [--forward [HOSTPORT:]PORT ...] [--wait SECONDS]
    kdumplab.py stop    NAME                     power the VM off (kill its QEMU)
    kdumplab.py destroy [NAME ...|--all]         stop, and remove overlays and state
    kdumplab.py status  [NAME]                   JSON: what runs, ports, console logs
    kdumplab.py ssh     NAME [-- COMMAND ...]    print the ssh command line (or run it)
    kdumplab.py console NAME                     path of the console log of the current boot
    kdumplab.py accel                            the accelerator the lab uses (kvm or tcg)
    kdumplab.py prune                            remove cached images no longer used
    kdumplab.py wait-ssh NAME [--timeout 600]    wait until the VM answers on SSH

Images are cached in $KDUMP_LAB_CACHE (default: $XDG_CACHE_HOME/crashdump-kdump/lab,
i.e. ~/.cache/crashdump-kdump/lab), keyed by everything that goes into them. VMs run on
copy-on-write overlays in $KDUMP_LAB_STATE (default: build/lab of the checkout), with
their pid files, console logs (one file per boot) and a known_hosts file that pins the
image's host key. KDUMP_LAB_ACCEL=kvm|tcg forces the accelerator.

--arch arm64 builds and runs Debian arm64 (QEMU's virt machine, AAVMF, GRUB for EFI). The image
is always built in two stages, so that no arm64 code runs on the build host and binfmt_misc is
not needed: debootstrap --foreign unpacks the tree on
the host, then a first arm64 VM (its kernel from the tree's own package, a small busybox
initramfs) runs debootstrap's second stage and the image hook inside the tree.

All host-visible traffic stays on 127.0.0.1: each VM uses QEMU user networking, its SSH
port (and any --forward port) is forwarded to 127.0.0.1, and one VM reaches another
through the user network's host alias 10.0.2.2 and that forwarded port. A forwarded
port is a free one unless given as HOSTPORT:PORT (for clients that cannot be told a
port, such as NFS mounts by kdump-tools: --forward 2049:2049).
"""

from __future__ import print_function

import argparse
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(os.path.dirname(HERE))
BUILDER_VERSION = "5"
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)

RELEASES = {"12": "bookworm", "13": "trixie"}
IMAGE_PACKAGES = [
    "systemd-sysv", "udev", "kmod", "dbus", "linux-image-amd64", "initramfs-tools",
    "grub-pc", "openssh-server", "python3", "python3-apt", "iproute2", "procps",
    "ca-certificates", "file", "less", "e2fsprogs", "zstd",
    # Installed up front because installing it later rebuilds the boot initrd,
    # minutes under TCG, for nothing the scenarios test.
    "busybox",
]
# Offered to the VM by its offline apt repository: what the collection installs.
REPO_PACKAGES = [
    "kdump-tools", "kexec-tools", "makedumpfile", "nfs-common", "nfs-kernel-server",
    "cryptsetup-bin", "rsync",
]
DISK_SIZE = "4G"
DISK_MIB = int(DISK_SIZE.rstrip("G")) * 1024
# How an image boots: SeaBIOS and GRUB (the first lab images), or UEFI (OVMF) with GRUB, with
# Secure Boot enforced (shim -> Debian's signed GRUB -> Debian's signed kernel), or with
# systemd-boot. A non-bios image has a GPT disk with an ESP mounted at /boot/efi.
BOOTS = ("bios", "uefi", "secureboot", "systemd-boot")
BOOT_PACKAGES = {
    "uefi": ["grub-efi-amd64"],
    "secureboot": ["grub-efi-amd64", "grub-efi-amd64-signed", "shim-signed", "mokutil"],
    "systemd-boot": ["systemd-boot"],
}
ESP_MIB = 256
# Debian's ovmf package: the 4 MiB builds, with and without Secure Boot; the variable store
# with Microsoft's keys enrolled (Secure Boot on) and the empty one.
OVMF_DIR = "/usr/share/OVMF"
OVMF_CODE = {"plain": "OVMF_CODE_4M.fd", "secure": "OVMF_CODE_4M.secboot.fd"}
OVMF_VARS = {"plain": "OVMF_VARS_4M.fd", "secure": "OVMF_VARS_4M.ms.fd"}
# Per Debian architecture: QEMU, the kernel and boot-loader packages, the serial console.
# arm64 boots only by UEFI (AAVMF from qemu-efi-aarch64) with GRUB for EFI.
ARCHES = {
    "amd64": {"qemu": "qemu-system-x86_64", "kernel": "linux-image-amd64", "console": "ttyS0",
              "boots": BOOTS},
    "arm64": {"qemu": "qemu-system-aarch64", "kernel": "linux-image-arm64", "console": "ttyAMA0",
              "boots": ("uefi",), "grub": "grub-efi-arm64",
              # cortex-a57: ARMv8.0 without pointer authentication, which TCG emulates slowly.
              "machine": "virt", "cpu": "cortex-a57"},
}
AAVMF_DIR = "/usr/share/AAVMF"
AAVMF_CODE = "AAVMF_CODE.fd"
AAVMF_VARS = "AAVMF_VARS.fd"
# What the stage-2 initramfs loads to reach its disk and network (with their dependencies).
# The kernel image package of the tree (linux-image-VERSION-FLAVOUR, not its -dbg symbols).
KERNEL_DEB = r"linux-image-\d[^_]*(?<!-dbg)_.*\.deb$"
STAGE2_MODULES = ("virtio_pci", "virtio_mmio", "virtio_blk", "virtio_net", "crc32c_generic", "ext4")
HOST_ALIAS = "10.0.2.2"
GUEST_ADDRESS = "10.0.2.15"


class LabError(Exception):
    """A lab step failed; the message says which and why."""


# --- locations ------------------------------------------------------------------

def cache_dir():
    base = os.environ.get("KDUMP_LAB_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "crashdump-kdump", "lab")
    return base


def state_dir():
    return os.environ.get("KDUMP_LAB_STATE") or os.path.join(PROJECT, "build", "lab")


def vm_dir(name):
    if not re.match(r"^[a-z0-9][a-z0-9-]{0,30}$", name):
        raise LabError("VM name %r: use lowercase letters, digits and '-'" % name)
    return os.path.join(state_dir(), "vms", name)


def log(msg):
    sys.stderr.write("kdumplab: %s\n" % msg)
    sys.stderr.flush()


def run(argv, **kwargs):
    """Run a command; it reads /dev/null unless given input, never the caller's stdin, and
    its output goes to stderr: stdout carries only this program's JSON answer."""
    log("$ " + " ".join(argv))
    if "input" not in kwargs:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
    kwargs.setdefault("stdout", sys.stderr.fileno())
    try:
        return subprocess.run(argv, check=True, **kwargs)
    except subprocess.CalledProcessError as exc:
        raise LabError("%s failed with exit status %s" % (argv[0], exc.returncode))
    except OSError as exc:
        raise LabError("cannot run %s: %s" % (argv[0], exc))


# --- image ------------------------------------------------------------------------

def debian_mirror():
    """The Debian mirror this machine's apt uses (deb822 or one-line sources).

    KDUMP_LAB_MIRROR overrides it.
    """
    if os.environ.get("KDUMP_LAB_MIRROR"):
        return os.environ["KDUMP_LAB_MIRROR"].rstrip("/")
    candidates = []
    for path in ["/etc/apt/sources.list"] + sorted(
            os.path.join("/etc/apt/sources.list.d", f) for f in os.listdir("/etc/apt/sources.list.d")
            if f.endswith((".list", ".sources"))) if os.path.isdir("/etc/apt/sources.list.d") else []:
        try:
            text = open(path).read()
        except OSError:
            continue
        candidates += re.findall(r"^\s*URIs:\s*(\S+)", text, re.MULTILINE)
        candidates += re.findall(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.MULTILINE)
    for uri in candidates:
        if "security" not in uri and "debian" in uri:
            return uri.rstrip("/")
    raise LabError("no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d;"
                   " set KDUMP_LAB_MIRROR to the mirror's URL")


def image_packages(boot, arch="amd64"):
    if arch != "amd64":
        spec = ARCHES[arch]
        # apt-utils: the image hook's apt-ftparchive runs inside the tree there
        return [spec["kernel"] if p == "linux-image-amd64" else p
                for p in IMAGE_PACKAGES if p != "grub-pc"] + [spec["grub"], "apt-utils"]
    if boot == "bios":
        return IMAGE_PACKAGES
    return [p for p in IMAGE_PACKAGES if p != "grub-pc"] + BOOT_PACKAGES[boot]


def check_arch(arch, boot):
    if arch not in ARCHES:
        raise LabError("arch %s: expected one of %s" % (arch, ", ".join(sorted(ARCHES))))
    if boot not in ARCHES[arch]["boots"]:
        raise LabError("boot %s on %s: expected one of %s"
                       % (boot, arch, ", ".join(ARCHES[arch]["boots"])))


def foreign(arch):
    """True when the image's architecture is not the build host's: a two-stage build."""
    return arch != HOST_ARCH


def image_key(release, boot="bios", arch="amd64"):
    if boot not in BOOTS:
        raise LabError("boot %s: expected one of %s" % (boot, ", ".join(BOOTS)))
    check_arch(arch, boot)
    spec = {
        "builder": BUILDER_VERSION,
        "suite": RELEASES[release],
        "mirror": debian_mirror(),
        "packages": image_packages(boot, arch),
        "repo": REPO_PACKAGES,
        "disk": DISK_SIZE,
        "hook": hashlib.sha256(open(os.path.join(HERE, "customize.sh"), "rb").read()).hexdigest(),
    }
    name = "debian%s" % release
    if arch != "amd64":
        # Everything else in the key is as for amd64, so amd64 keys stay as they were.
        spec["arch"] = arch
        spec["stage2"] = [STAGE2_MODULES, hashlib.sha256(
            (STAGE2_INIT + STAGE2_SCRIPT).encode()).hexdigest()]
        name += "-" + arch
    if boot != "bios":
        spec["boot"] = boot
        name += "-" + boot
    return "%s-%s" % (name, hashlib.sha256(
        json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]), spec


def firmware(boot, arch="amd64"):
    """The OVMF (AAVMF) code and variable-store template of a non-bios boot (None for bios)."""
    if boot == "bios":
        return None
    if arch == "arm64":
        code, template = (os.path.join(AAVMF_DIR, f) for f in (AAVMF_CODE, AAVMF_VARS))
        for path in (code, template):
            if not os.path.exists(path):
                raise LabError("%s is missing: the arm64 lab needs Debian's qemu-efi-aarch64"
                               " package (apt-get install qemu-efi-aarch64)" % path)
        return {"code": code, "vars": template, "secure": False}
    kind = "secure" if boot == "secureboot" else "plain"
    code = os.path.join(OVMF_DIR, OVMF_CODE[kind])
    template = os.path.join(OVMF_DIR, OVMF_VARS[kind])
    for path in (code, template):
        if not os.path.exists(path):
            raise LabError("%s is missing: the %s lab boot needs Debian's ovmf package"
                           " (apt-get install ovmf)" % (path, boot))
    return {"code": code, "vars": template, "secure": kind == "secure"}


def image_paths(release, boot="bios", arch="amd64"):
    key, _spec = image_key(release, boot, arch)
    base = os.path.join(cache_dir(), "images", key)
    return {
        "dir": base,
        "disk": os.path.join(base, "disk.qcow2"),
        "kernel": os.path.join(base, "vmlinuz"),
        "initrd": os.path.join(base, "initrd.img"),
        "key": os.path.join(base, "id_ed25519"),
        "host_key": os.path.join(base, "ssh_host_ed25519_key.pub"),
        "ready": os.path.join(base, "READY"),
        # the firmware's variables after the provisioning boot (non-bios), copied per VM
        "efivars": os.path.join(base, "efivars.fd"),
    }


def build(release, accel=None, boot="bios", arch="amd64"):
    """Build the image of a Debian release (booting as ``boot``) unless the cache has it."""
    paths = image_paths(release, boot, arch)
    if os.path.exists(paths["ready"]):
        log("image cached: %s" % paths["dir"])
        return paths
    key, spec = image_key(release, boot, arch)
    os.makedirs(os.path.join(cache_dir(), "images"), exist_ok=True)
    work = tempfile.mkdtemp(prefix=key + ".", dir=os.path.join(cache_dir(), "images"))
    try:
        if arch != "amd64":
            _build_two_stage(work, spec, arch)
        elif foreign(arch):
            raise LabError("amd64 images are built on amd64 hosts only (this is %s)" % HOST_ARCH)
        else:
            _build_into(work, release, spec, accel, boot)
        if os.path.exists(paths["dir"]):
            shutil.rmtree(paths["dir"])
        os.rename(work, paths["dir"])
    except BaseException:
        # The consoles of a failed build stay (in images/failed-KEY) to say why.
        logs = [f for f in os.listdir(work) if f.endswith(".log")] if os.path.isdir(work) else []
        if logs:
            failed = os.path.join(cache_dir(), "images", "failed-" + key)
            shutil.rmtree(failed, ignore_errors=True)
            os.makedirs(failed)
            for name in logs:
                shutil.move(os.path.join(work, name), os.path.join(failed, name))
            log("console logs of the failed build: %s" % failed)
        shutil.rmtree(work, ignore_errors=True)
        raise
    log("image ready: %s" % paths["dir"])
    return paths


def _build_into(work, release, spec, accel, boot="bios"):
    started = time.time()
    firmware(boot)  # a missing firmware package fails now, not after the tree is built
    rootfs = os.path.join(work, "rootfs")
    pubkey, root_uuid, esp_id = new_identity(work)
    env = dict(os.environ, **hook_env(pubkey, root_uuid, esp_id, spec, boot, "amd64"))
    preseed = "grub-pc grub-pc/install_devices_empty boolean true"
    run(["mmdebstrap", "--variant=important", "--mode=root", "--format=directory",
         "--skip=cleanup/apt/lists",
         "--include=" + ",".join(spec["packages"]),
         "--essential-hook=echo '%s' | chroot \"$1\" debconf-set-selections" % preseed,
         "--customize-hook=sh %s \"$1\"" % os.path.join(HERE, "customize.sh"),
         spec["suite"], rootfs, spec["mirror"]], env=env)
    kernels = sorted(f for f in os.listdir(os.path.join(rootfs, "boot")) if f.startswith("vmlinuz-"))
    if not kernels:
        raise LabError("no kernel in %s/boot" % rootfs)
    release_name = kernels[-1][len("vmlinuz-"):]
    shutil.copy(os.path.join(rootfs, "boot", "vmlinuz-" + release_name), os.path.join(work, "vmlinuz"))
    shutil.copy(os.path.join(rootfs, "boot", "initrd.img-" + release_name), os.path.join(work, "initrd.img"))
    shutil.copy(os.path.join(rootfs, "etc/ssh/ssh_host_ed25519_key.pub"),
                os.path.join(work, "ssh_host_ed25519_key.pub"))
    fs_img = os.path.join(work, "root.ext4")
    make_root_fs(rootfs, fs_img, root_uuid, boot)
    disk = assemble_disk(work, fs_img, boot, esp_id)
    accel = accel or choose_accel(os.path.join(work, "vmlinuz"))
    provision(work, disk, root_uuid, boot, "amd64", accel)
    mark_ready(work, spec, release_name, root_uuid, boot, started)


def new_identity(work):
    """The image's root key pair (in WORK), root filesystem UUID and ESP volume id."""
    keyfile = os.path.join(work, "id_ed25519")
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kdumplab", "-f", keyfile])
    return open(keyfile + ".pub").read().strip(), str(uuid.uuid4()), uuid.uuid4().hex[:8].upper()


def hook_env(pubkey, root_uuid, esp_id, spec, boot, arch):
    """The variables customize.sh reads."""
    return {"LAB_PUBKEY": pubkey, "LAB_ROOT_UUID": root_uuid,
            "LAB_REPO_PACKAGES": " ".join(REPO_PACKAGES), "LAB_SUITE": spec["suite"],
            "LAB_BOOT": boot, "LAB_ARCH": arch, "LAB_CONSOLE": ARCHES[arch]["console"],
            "LAB_ESP_UUID": "%s-%s" % (esp_id[:4], esp_id[4:])}


def make_root_fs(rootfs, fs_img, root_uuid, boot):
    """The root filesystem image (ext4) made from the tree ROOTFS, which is removed."""
    _root_start, root_mib = root_layout(boot)
    run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "kdumplab-root", "-U", root_uuid,
         "-d", rootfs, fs_img, "%dM" % root_mib])
    shutil.rmtree(rootfs)


def mark_ready(work, spec, release_name, root_uuid, boot, started):
    with open(os.path.join(work, "spec.json"), "w") as handle:
        json.dump(dict(spec, kernel=release_name, root_uuid=root_uuid, boot=boot,
                       seconds=round(time.time() - started)), handle, indent=1)
    open(os.path.join(work, "READY"), "w").close()


def root_layout(boot):
    """(first MiB, size in MiB) of the root partition: from 1 MiB (bios, an MBR disk), or
    after the ESP on a GPT disk, which keeps a backup table in its last 33 sectors."""
    root_start = 1 if boot == "bios" else 1 + ESP_MIB
    return root_start, DISK_MIB - root_start - (0 if boot == "bios" else 1)


def assemble_disk(work, fs_img, boot, esp_id):
    """The image's disk (qcow2) from its root filesystem: one ext4 partition from 1 MiB
    (bios), or GPT with an empty ESP from 1 MiB and the root partition after it."""
    raw = os.path.join(work, "disk.raw")
    root_start, root_mib = root_layout(boot)
    with open(raw, "wb") as handle:
        handle.truncate(DISK_MIB << 20)
    if boot == "bios":
        run(["sfdisk", "-q", raw], input=b"label: dos\nstart=2048, type=83, bootable\n")
    else:
        table = ("label: gpt\nstart=2048, size=%d, type=uefi, name=esp\n"
                 "start=%d, size=%d, type=linux, name=root\n"
                 % (ESP_MIB * 2048, root_start * 2048, root_mib * 2048))
        run(["sfdisk", "-q", raw], input=table.encode())
        esp_img = os.path.join(work, "esp.vfat")
        run(["mkfs.vfat", "-F", "32", "-n", "ESP", "-i", esp_id, "-C", esp_img,
             str(ESP_MIB * 1024)])
        run(["dd", "if=" + esp_img, "of=" + raw, "bs=1M", "seek=1", "conv=notrunc,sparse",
             "status=none"])
        os.unlink(esp_img)
    run(["dd", "if=" + fs_img, "of=" + raw, "bs=1M", "seek=%d" % root_start,
         "conv=notrunc,sparse", "status=none"])
    os.unlink(fs_img)
    disk = os.path.join(work, "disk.qcow2")
    run(["qemu-img", "convert", "-q", "-O", "qcow2", raw, disk])
    os.unlink(raw)
    return disk


def provision(work, disk, root_uuid, boot, arch, accel):
    """The one direct-kernel boot: it installs the boot loader into the disk and powers off.

    A UEFI image is provisioned under its firmware without Secure Boot (a direct kernel boot
    is not signed), with the variable store the image's VMs start from."""
    fw = firmware(boot, arch)
    console = os.path.join(work, "provision-console.log")
    efi = None
    if fw:
        shutil.copy(fw["vars"], os.path.join(work, "efivars.fd"))
        code = fw["code"] if arch != "amd64" else os.path.join(OVMF_DIR, OVMF_CODE["plain"])
        efi = dict(fw, code=code, secure=False, vars=os.path.join(work, "efivars.fd"),
                   machine=boot_machine(boot, arch))
    argv = qemu_argv(accel, 1024, 2, disk, [], None, None, efi, arch) + [
        "-kernel", os.path.join(work, "vmlinuz"), "-initrd", os.path.join(work, "initrd.img"),
        "-append", "root=UUID=%s rw console=%s,115200n8" % (root_uuid, ARCHES[arch]["console"]),
        "-serial", "file:" + console, "-no-reboot"]
    log("provisioning boot (%s), console in %s" % (accel, console))
    minutes = 20 if accel == "kvm" or arch == "amd64" else 60
    try:
        run(argv, timeout=minutes * 60)
    except subprocess.TimeoutExpired:
        raise LabError("the provisioning boot did not finish in %d minutes; see %s"
                       % (minutes, console))
    if "KDUMPLAB-FIRSTBOOT-OK" not in open(console, errors="replace").read():
        raise LabError("the boot loader was not installed on the first boot; see %s" % console)


# --- two-stage build of a foreign architecture (no binfmt_misc needed) -------------------

STAGE2_INIT = """#!/bin/sh
# kdumplab stage 2, in the initramfs: load the disk's and network's modules, mount the
# tree and run its second stage there.
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r module; do insmod "/modules/$module" || echo "kdumplab: insmod $module failed"; done < /modules/order
for i in $(seq 60); do [ -b /dev/vda ] && break; sleep 1; done
mount -t ext4 /dev/vda /newroot || { echo KDUMPLAB-STAGE2-FAILED no root; poweroff -f; }
umount /sys /proc /dev
exec switch_root /newroot /bin/sh /kdumplab-stage2
"""

STAGE2_SCRIPT = """#!/bin/sh
# kdumplab stage 2, in the tree: debootstrap's second stage, then the image hook.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
# PID 1 exiting panics the kernel (panic=-1: reboot), and QEMU (-no-reboot) stops.
fail() { echo "KDUMPLAB-STAGE2-FAILED $*" > /dev/console; sync; exit 1; }
mounts() {
  mountpoint -q /proc || mount -t proc proc /proc
  mountpoint -q /sys || mount -t sysfs sysfs /sys
  mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
  mkdir -p /dev/pts && { mountpoint -q /dev/pts || mount -t devpts devpts /dev/pts; }
}
mounts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
/debootstrap/debootstrap --second-stage || { tail -50 /debootstrap/debootstrap.log 2>/dev/null; fail second stage; }
# debootstrap unmounts what it found mounted when it exits
mounts
ip link set lo up && ip link set eth0 up && ip addr add %(guest)s/24 dev eth0 \
  && ip route add default via %(host)s || fail network
printf 'nameserver 10.0.2.3\n' > /etc/resolv.conf
printf 'deb %(mirror)s %(suite)s main\n' > /etc/apt/sources.list
apt-get update -q || fail apt-get update
set -a; . /kdumplab-env; set +a
sh /kdumplab-customize.sh / || fail customize
rm -f /kdumplab-env /kdumplab-customize.sh /kdumplab-stage2 /etc/resolv.conf
sync
echo KDUMPLAB-STAGE2-OK > /dev/console
echo o > /proc/sysrq-trigger
sleep 60
"""


def tree_path(rootfs, rel):
    """The host path of REL inside the tree ROOTFS, its symbolic links (absolute ones too)
    resolved inside the tree; None if it is not there."""
    parts = [p for p in rel.split("/") if p]
    current = ""
    for _hop in range(64):
        if not parts:
            full = os.path.join(rootfs, current)
            return full if os.path.exists(full) else None
        name = parts.pop(0)
        candidate = os.path.join(current, name)
        full = os.path.join(rootfs, candidate)
        if os.path.islink(full):
            target = os.readlink(full)
            parts = [p for p in target.split("/") if p] + parts
            current = "" if target.startswith("/") else current
            continue
        if name == "..":
            current = os.path.dirname(current)
            continue
        current = candidate
    raise LabError("%s: too many symbolic links under %s" % (rel, rootfs))


def _deb_extract(deb, into):
    run(["dpkg-deb", "-x", deb, into])


def _archive(rootfs, pattern, what):
    """The newest .deb whose file name matches PATTERN that debootstrap --foreign downloaded
    into the tree."""
    archives = os.path.join(rootfs, "var/cache/apt/archives")
    found = sorted(f for f in os.listdir(archives) if re.match(pattern, f))
    if not found:
        raise LabError("%s: no %s package downloaded by debootstrap" % (archives, what))
    return os.path.join(archives, found[-1])


def _module_closure(modules_dir, wanted):
    """Module files (relative to modules_dir) for WANTED with their dependencies, in load
    order, from modules.dep (made by depmod)."""
    deps = {}
    for line in open(os.path.join(modules_dir, "modules.dep")):
        name, _sep, rest = line.partition(":")
        deps[name.strip()] = rest.split()
    by_name = {}
    for path in deps:
        base = os.path.basename(path).split(".ko")[0].replace("-", "_")
        by_name[base] = path
    order = []

    def add(path):
        if path in order:
            return
        for dep in deps.get(path, []):
            add(dep)
        order.append(path)
    for name in wanted:
        if name in by_name:
            add(by_name[name])
        else:
            log("stage 2: %s is built into the kernel (not in modules.dep)" % name)
    return order


def write_newc(path, entries):
    """An uncompressed initramfs (cpio newc) of ENTRIES: (name, mode, data or link target)."""
    with open(path, "wb") as out:
        for ino, (name, mode, data) in enumerate(entries + [("TRAILER!!!", 0, b"")], 1):
            if isinstance(data, str):
                data = data.encode()
            name = name.encode()
            fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
            header = b"070701" + b"".join(b"%08X" % f for f in fields)
            out.write(header + name + b"\0")
            out.write(b"\0" * (-(len(header) + len(name) + 1) % 4))
            out.write(data)
            out.write(b"\0" * (-len(data) % 4))


def stage2_initramfs(rootfs, work):
    """The stage-2 kernel (from the tree's downloaded linux-image package) and an initramfs
    of busybox (dynamically linked, with the tree's own C library) and the modules that
    reach the disk and the network. Returns (kernel, initramfs)."""
    import lzma
    kdir = os.path.join(work, "stage2-kernel")
    _deb_extract(_archive(rootfs, KERNEL_DEB, "linux-image"), kdir)
    bdir = os.path.join(work, "stage2-busybox")
    _deb_extract(_archive(rootfs, r"busybox_.*\.deb$", "busybox"), bdir)
    moddirs = [d for d in ("lib/modules", "usr/lib/modules") if os.path.isdir(os.path.join(kdir, d))]
    if not moddirs:
        raise LabError("%s: the kernel package has no modules" % kdir)
    version = sorted(os.listdir(os.path.join(kdir, moddirs[0])))[-1]
    modules_dir = os.path.join(kdir, moddirs[0], version)
    if moddirs[0] != "lib/modules":  # depmod -b looks in BASE/lib/modules
        os.makedirs(os.path.join(kdir, "lib"), exist_ok=True)
        os.symlink(os.path.join("..", moddirs[0]), os.path.join(kdir, "lib", "modules"))
    run(["depmod", "-b", kdir, version])
    entries = [("bin", 0o40755, b""), ("modules", 0o40755, b""), ("lib", 0o40755, b""),
               ("lib/aarch64-linux-gnu", 0o40755, b"")]
    busybox = os.path.join(bdir, "bin", "busybox")
    if not os.path.exists(busybox):
        busybox = os.path.join(bdir, "usr", "bin", "busybox")
    entries.append(("bin/busybox", 0o100755, open(busybox, "rb").read()))
    for applet in ("sh", "mount", "umount", "mkdir", "insmod", "sleep", "seq", "switch_root", "poweroff",
                   "echo", "cat"):
        entries.append(("bin/" + applet, 0o120777, "busybox"))
    for lib in ("libc.so.6", "libresolv.so.2", "libm.so.6"):
        path = tree_path(rootfs, "lib/aarch64-linux-gnu/" + lib)
        if path:
            entries.append(("lib/aarch64-linux-gnu/" + lib, 0o100755, open(path, "rb").read()))
    loader = tree_path(rootfs, "lib/ld-linux-aarch64.so.1")
    if loader is None:
        raise LabError("%s: no /lib/ld-linux-aarch64.so.1 in the tree" % rootfs)
    entries.append(("lib/ld-linux-aarch64.so.1", 0o100755, open(loader, "rb").read()))
    order = []
    for rel in _module_closure(modules_dir, STAGE2_MODULES):
        data = open(os.path.join(modules_dir, rel), "rb").read()
        name = os.path.basename(rel)
        if name.endswith(".xz"):
            data, name = lzma.decompress(data), name[:-3]
        elif name.endswith(".zst"):
            raise LabError("%s: zstd-compressed modules are not handled" % rel)
        entries.append(("modules/" + name, 0o100644, data))
        order.append(name)
    entries.append(("modules/order", 0o100644, "\n".join(order) + "\n"))
    entries.append(("init", 0o100755, STAGE2_INIT))
    initramfs = os.path.join(work, "stage2.cpio")
    write_newc(initramfs, entries)
    kernel = os.path.join(work, "stage2-vmlinuz")
    shutil.copy(os.path.join(kdir, "boot", "vmlinuz-" + version), kernel)
    shutil.rmtree(kdir)
    shutil.rmtree(bdir)
    return kernel, initramfs


def _debugfs_get(fs_img, path, dest):
    run(["debugfs", "-R", 'dump -p "%s" "%s"' % (path, dest), fs_img], stderr=subprocess.DEVNULL)
    if not os.path.exists(dest) or os.path.getsize(dest) == 0:
        raise LabError("%s: %s could not be read from the built tree" % (fs_img, path))


def _build_two_stage(work, spec, arch):
    """Build a foreign-architecture image without running its code on the host: stage 1
    (host) debootstrap --foreign; stage 2 (an arm64 VM) the second stage and the image hook;
    then the disk as for amd64 and the provisioning boot under AAVMF."""
    started = time.time()
    boot = spec.get("boot", "uefi")
    fw = firmware(boot, arch)
    rootfs = os.path.join(work, "rootfs")
    pubkey, root_uuid, esp_id = new_identity(work)
    env = hook_env(pubkey, root_uuid, esp_id, spec, boot, arch)
    t0 = time.time()
    try:
        run(["debootstrap", "--foreign", "--arch=" + arch,
             "--include=" + ",".join(spec["packages"]), spec["suite"], rootfs, spec["mirror"]])
    except LabError:
        stage1_log = os.path.join(rootfs, "debootstrap", "debootstrap.log")
        if os.path.exists(stage1_log):
            shutil.copy(stage1_log, os.path.join(work, "stage1-debootstrap.log"))
        raise
    log("stage 1 (debootstrap --foreign) took %ds" % (time.time() - t0))
    kernel, initramfs = stage2_initramfs(rootfs, work)
    with open(os.path.join(rootfs, "kdumplab-env"), "w") as handle:
        for key in sorted(env):
            handle.write("%s='%s'\n" % (key, env[key].replace("'", "'\\''")))
    shutil.copy(os.path.join(HERE, "customize.sh"), os.path.join(rootfs, "kdumplab-customize.sh"))
    with open(os.path.join(rootfs, "kdumplab-stage2"), "w") as handle:
        handle.write(STAGE2_SCRIPT % {"guest": GUEST_ADDRESS, "host": HOST_ALIAS,
                                      "mirror": spec["mirror"], "suite": spec["suite"]})
    fs_img = os.path.join(work, "root.ext4")
    make_root_fs(rootfs, fs_img, root_uuid, boot)
    console = os.path.join(work, "stage2-console.log")
    stage_vars = os.path.join(work, "stage2-vars.fd")
    shutil.copy(fw["vars"], stage_vars)
    efi = dict(fw, vars=stage_vars, machine=boot_machine(boot, arch))
    argv = qemu_argv("tcg", 2048, 2, fs_img, [], "user,id=net0,net=10.0.2.0/24,host=%s"
                     % HOST_ALIAS, None, efi, arch, disk_format="raw") + [
        "-kernel", kernel, "-initrd", initramfs,
        "-append", "console=%s panic=-1 rdinit=/init" % ARCHES[arch]["console"],
        "-serial", "file:" + console, "-no-reboot"]
    t0 = time.time()
    log("stage 2 (the second stage and the image hook in an %s VM, TCG), console in %s"
        % (arch, console))
    try:
        run(argv, timeout=150 * 60)
    except subprocess.TimeoutExpired:
        raise LabError("stage 2 did not finish in 150 minutes; see %s" % console)
    except LabError as exc:
        raise LabError("stage 2: %s; see %s" % (exc, console))
    text = open(console, errors="replace").read()
    failed = re.search(r"KDUMPLAB-STAGE2-FAILED[^\n]*", text)
    if failed or "KDUMPLAB-STAGE2-OK" not in text:
        raise LabError("stage 2 failed (%s); see %s"
                       % (failed.group(0) if failed else "no result", console))
    # The tree was not unmounted (its init cannot): replay the journal before reading it.
    rc = subprocess.call(["e2fsck", "-fy", fs_img], stdin=subprocess.DEVNULL,
                         stdout=sys.stderr.fileno(), stderr=sys.stderr.fileno())
    if rc not in (0, 1):
        raise LabError("e2fsck -fy %s after stage 2 exited %d" % (fs_img, rc))
    log("stage 2 took %ds" % (time.time() - t0))
    os.unlink(stage_vars)
    for leftover in (kernel, initramfs):
        os.unlink(leftover)
    listing = subprocess.run(["debugfs", "-R", "ls -p /boot", fs_img], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, check=True).stdout.decode()
    kernels = sorted(set(re.findall(r"/vmlinuz-([^/]+)/", listing)))
    if not kernels:
        raise LabError("no kernel in /boot of %s" % fs_img)
    release_name = kernels[-1]
    _debugfs_get(fs_img, "/boot/vmlinuz-" + release_name, os.path.join(work, "vmlinuz"))
    _debugfs_get(fs_img, "/boot/initrd.img-" + release_name, os.path.join(work, "initrd.img"))
    _debugfs_get(fs_img, "/etc/ssh/ssh_host_ed25519_key.pub",
                 os.path.join(work, "ssh_host_ed25519_key.pub"))
    disk = assemble_disk(work, fs_img, boot, esp_id)
    provision(work, disk, root_uuid, boot, arch, "tcg")
    mark_ready(work, spec, release_name, root_uuid, boot, started)


def prune():
    """Remove cached images that no current key names and no lab VM is based on."""
    base = os.path.join(cache_dir(), "images")
    keep = set(image_key(release, boot, arch)[0] for release in RELEASES
               for arch in ARCHES for boot in ARCHES[arch]["boots"])
    for name in all_vms():
        try:
            keep.add(os.path.basename(load_vm(name)["image"]))
        except (LabError, KeyError):
            continue
    removed = []
    for entry in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        path = os.path.join(base, entry)
        if ("." in entry or entry.startswith("failed-")) and time.time() - os.path.getmtime(path) < 86400:
            continue  # a build in progress
        if entry not in keep:
            shutil.rmtree(os.path.join(base, entry), ignore_errors=True)
            removed.append(entry)
    return removed


# --- accelerator ---------------------------------------------------------------------

def choose_accel(kernel, arch="amd64"):
    """kvm only when a guest really boots with it here; tcg otherwise (always for a guest of
    another architecture than the host's)."""
    if foreign(arch):
        return "tcg"
    forced = os.environ.get("KDUMP_LAB_ACCEL")
    if forced:
        if forced not in ("kvm", "tcg"):
            raise LabError("KDUMP_LAB_ACCEL=%s: use kvm or tcg" % forced)
        return forced
    if arch != "amd64":
        return "kvm" if os.access("/dev/kvm", os.W_OK) else "tcg"
    cache = os.path.join(state_dir(), "accel.json")
    boot_id = open("/proc/sys/kernel/random/boot_id").read().strip()
    try:
        saved = json.load(open(cache))
        if saved.get("boot_id") == boot_id:
            return saved["accel"]
    except (OSError, ValueError):
        pass
    accel = "kvm" if probe_kvm(kernel) else "tcg"
    os.makedirs(state_dir(), exist_ok=True)
    with open(cache, "w") as handle:
        json.dump({"boot_id": boot_id, "accel": accel}, handle)
    return accel


def probe_kvm(kernel, timeout=30):
    """Boot the kernel under KVM with no disk; KVM works if it prints its banner."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    return probe_boot(kernel, "kvm", timeout)


def probe_boot(kernel, accel, timeout=30):
    """Boot the kernel with no disk under ACCEL; True if it printed its banner in time.

    QEMU's stdio chardev sets O_NONBLOCK on the open file it is given as stdin and leaves
    it set when QEMU is killed; every ansible-playbook started later from the same
    terminal or pipe would then refuse to run ("Non-blocking file handles detected").
    So QEMU reads /dev/null here, never the caller's stdin.
    """
    argv = ["qemu-system-x86_64", "-accel", accel, "-m", "256", "-display", "none",
            "-nodefaults", "-no-reboot", "-serial", "stdio", "-kernel", kernel,
            "-append", "console=ttyS0 panic=-1"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    seen = b""
    deadline = time.time() + timeout
    try:
        os.set_blocking(proc.stdout.fileno(), False)
        while time.time() < deadline and proc.poll() is None:
            chunk = proc.stdout.read() or b""
            seen += chunk
            if b"Linux version" in seen:
                return True
            time.sleep(0.2)
        return b"Linux version" in seen + (proc.stdout.read() or b"")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def boot_machine(boot, arch="amd64"):
    """QEMU's machine type: Secure Boot's OVMF needs SMM, which QEMU has on q35; arm64 runs
    on QEMU's virt machine."""
    if arch != "amd64":
        return ARCHES[arch]["machine"]
    return "q35,smm=on" if boot == "secureboot" else "pc"


def qemu_argv(accel, memory, cpus, disk, extra_disks, netdev, chardev, efi=None, arch="amd64",
              disk_format="qcow2"):
    """``efi``: None (SeaBIOS) or {code, vars, secure, machine}: OVMF's (AAVMF's) code
    read-only and the VM's own variable store."""
    spec = ARCHES[arch]
    if arch == "amd64":
        # TCG runs the vCPUs in one thread: with one thread per vCPU (MTTCG) a guest patching
        # its own code on all CPUs (static keys flipped while booting) was seen to livelock
        # in int3 handlers, a hang that only TCG has.
        accel_arg = accel if accel == "kvm" else "tcg,thread=single"
    else:
        accel_arg = accel
    machine = efi["machine"] if efi else "pc"
    argv = [spec["qemu"], "-machine", machine, "-accel", accel_arg, "-m", str(memory),
            "-smp", str(cpus), "-display", "none", "-nodefaults"]
    if arch == "amd64":
        argv += ["-vga", "none"]
    elif accel == "kvm":
        argv += ["-cpu", "host"]
    else:
        argv += ["-cpu", spec["cpu"]]
    if efi:
        if efi["secure"]:
            # Only SMM code may write the variable store: what makes Secure Boot enforceable.
            argv += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
        argv += ["-drive", "if=pflash,format=raw,unit=0,readonly=on,file=%s" % efi["code"],
                 "-drive", "if=pflash,format=raw,unit=1,file=%s" % efi["vars"]]
    argv += ["-drive", "file=%s,if=virtio,format=%s,cache=unsafe" % (disk, disk_format)]
    if accel == "kvm" and arch == "amd64":
        argv += ["-cpu", "host"]
    for path in extra_disks:
        argv += ["-drive", "file=%s,if=virtio,format=qcow2,cache=unsafe" % path]
    if netdev:
        argv += ["-netdev", netdev, "-device", "virtio-net-pci,netdev=net0,romfile="]
    else:
        argv += ["-nic", "none"]
    if chardev:
        argv += ["-chardev", chardev, "-serial", "chardev:con0"]
    # No pvpanic device: QEMU would stop the VM when the guest panics without a capture
    # kernel; a real host reboots after kernel.panic seconds, and so must the lab's.
    return argv


# --- VMs ------------------------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_pid(path):
    try:
        pid = int(open(path).read().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return None
    try:
        # "pid (comm) S ...": a zombie has exited and only waits to be reaped.
        if open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "Z":
            return None
    except (OSError, IndexError):
        return None
    return pid


def load_vm(name):
    path = os.path.join(vm_dir(name), "vm.json")
    try:
        return json.load(open(path))
    except OSError:
        raise LabError("no VM %s (start it first)" % name)


def parse_forward(spec):
    """``(host port, guest port)`` of ``PORT`` (a free host port) or ``HOSTPORT:PORT``."""
    text = str(spec)
    host, _sep, guest = text.rpartition(":")
    if not guest.isdigit() or (host and not host.isdigit()) or not 0 < int(guest) < 65536:
        raise LabError("--forward %s: expected PORT or HOSTPORT:PORT" % text)
    if not host:
        return free_port(), int(guest)
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", int(host)))
    except OSError:
        raise LabError("--forward %s: 127.0.0.1:%s is in use" % (text, host))
    finally:
        sock.close()
    return int(host), int(guest)


def start(name, release="12", memory=1024, cpus=2, disks=0, disk_size="2G", forward=(),
          wait=0, boot="bios", arch="amd64"):
    directory = vm_dir(name)
    if os.path.exists(os.path.join(directory, "qemu.pid")) and read_pid(
            os.path.join(directory, "qemu.pid")):
        log("VM %s already runs" % name)
        return load_vm(name)
    paths = build(release, boot=boot, arch=arch)
    os.makedirs(directory, exist_ok=True)
    overlay = os.path.join(directory, "disk.qcow2")
    if not os.path.exists(overlay):
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", paths["disk"], overlay])
    efi = None
    fw = firmware(boot, arch)
    if fw:
        # Each VM has its own firmware variables, from the image's (boot entries, keys).
        efivars = os.path.join(directory, "efivars.fd")
        if not os.path.exists(efivars):
            shutil.copy(paths["efivars"], efivars)
        efi = dict(fw, vars=efivars, machine=boot_machine(boot, arch))
    extra = []
    for index in range(disks):
        path = os.path.join(directory, "extra%d.qcow2" % index)
        if not os.path.exists(path):
            run(["qemu-img", "create", "-q", "-f", "qcow2", path, disk_size])
        extra.append(path)
    ssh_port = free_port()
    ports = {"22": ssh_port}
    fwd = ["hostfwd=tcp:127.0.0.1:%d-:22" % ssh_port]
    for spec in forward:
        host_port, port = parse_forward(spec)
        ports[str(port)] = host_port
        fwd.append("hostfwd=tcp:127.0.0.1:%d-:%d" % (host_port, port))
    netdev = "user,id=net0,net=10.0.2.0/24,host=%s,%s" % (HOST_ALIAS, ",".join(fwd))
    known_hosts = os.path.join(directory, "known_hosts")
    host_key = open(paths["host_key"]).read().split()
    with open(known_hosts, "w") as handle:
        handle.write("[127.0.0.1]:%d %s %s\n" % (ssh_port, host_key[0], host_key[1]))
    # A new VM's console logs replace those of the previous run with this name.
    consoles = os.path.join(directory, "console")
    shutil.rmtree(consoles, ignore_errors=True)
    os.makedirs(consoles)
    sock = os.path.join(directory, "console.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    # The console logger listens first; QEMU connects to it.
    logger = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "_console-logger", sock, consoles],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(
            os.path.join(directory, "console-logger.err"), "a"), start_new_session=True)
    with open(os.path.join(directory, "logger.pid"), "w") as handle:
        handle.write(str(logger.pid))
    for _attempt in range(50):
        if os.path.exists(sock):
            break
        time.sleep(0.1)
    accel = choose_accel(paths["kernel"], arch)
    argv = qemu_argv(accel, memory, cpus, overlay, extra, netdev,
                     "socket,id=con0,path=%s" % sock, efi, arch) + [
        "-name", "kdumplab-" + name, "-pidfile", os.path.join(directory, "qemu.pid"),
        "-daemonize"]
    with open(os.path.join(directory, "qemu.err"), "a") as err:
        log("$ " + " ".join(argv))
        if subprocess.call(argv, stdin=subprocess.DEVNULL, stderr=err, stdout=err) != 0:
            stop(name)
            raise LabError("QEMU did not start; see %s" % os.path.join(directory, "qemu.err"))
    vm = {
        "name": name, "instance": name, "release": release, "boot": boot, "arch": arch,
        "accel": accel,
        "memory": memory, "cpus": cpus,
        "address": "127.0.0.1", "port": ssh_port, "user": "root",
        "identity_file": paths["key"], "known_hosts": known_hosts, "ports": ports,
        "guest_address": GUEST_ADDRESS, "host_alias": HOST_ALIAS,
        "extra_disks": ["/dev/vd%s" % chr(ord("b") + i) for i in range(disks)],
        "console_dir": consoles, "image": paths["dir"], "started": time.time(),
    }
    with open(os.path.join(directory, "vm.json"), "w") as handle:
        json.dump(vm, handle, indent=1)
    if wait:
        wait_ssh(name, wait)
    return vm


def ssh_argv(vm, command=()):
    return ["ssh", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + vm["known_hosts"],
            "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
            "-i", vm["identity_file"], "-p", str(vm["port"]), "root@127.0.0.1"] + list(command)


def wait_ssh(name, timeout=600):
    vm = load_vm(name)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not read_pid(os.path.join(vm_dir(name), "qemu.pid")):
            raise LabError("VM %s stopped while waiting for SSH; console: %s"
                           % (name, current_console(name)))
        if subprocess.call(ssh_argv(vm, ["true"]), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
            log("VM %s answers on SSH after %ds" % (name, time.time() - vm["started"]))
            return vm
        time.sleep(3)
    raise LabError("VM %s did not answer on SSH within %ss; console: %s"
                   % (name, timeout, current_console(name)))


def _kill(pidfile, name):
    pid = read_pid(pidfile)
    if pid is None:
        return False
    try:
        cmdline = open("/proc/%d/cmdline" % pid, "rb").read()
    except OSError:
        return False
    if name.encode() not in cmdline:
        if cmdline:  # an empty command line is a process that has already exited
            log("pid %d in %s is not ours; left alone" % (pid, pidfile))
        return False
    os.kill(pid, signal.SIGTERM)
    for _attempt in range(50):
        if read_pid(pidfile) is None:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    return True


def stop(name):
    directory = vm_dir(name)
    stopped = _kill(os.path.join(directory, "qemu.pid"), "kdumplab-" + name)
    _kill(os.path.join(directory, "logger.pid"), "_console-logger")
    for leftover in ("qemu.pid", "logger.pid", "console.sock"):
        try:
            os.unlink(os.path.join(directory, leftover))
        except OSError:
            pass
    return stopped


def destroy(names):
    for name in names:
        stop(name)
        directory = vm_dir(name)
        for leftover in os.listdir(directory) if os.path.isdir(directory) else []:
            if leftover.endswith(".qcow2"):
                os.unlink(os.path.join(directory, leftover))
        # Console logs stay as artifacts of the run; the rest of the state goes.
        for leftover in ("vm.json", "known_hosts"):
            try:
                os.unlink(os.path.join(directory, leftover))
            except OSError:
                pass


def all_vms():
    base = os.path.join(state_dir(), "vms")
    return sorted(os.listdir(base)) if os.path.isdir(base) else []


def current_console(name):
    consoles = os.path.join(vm_dir(name), "console")
    files = sorted(f for f in os.listdir(consoles) if f.startswith("boot-")) if os.path.isdir(
        consoles) else []
    return os.path.join(consoles, files[-1]) if files else None


def status(names):
    out = []
    for name in names:
        directory = vm_dir(name)
        try:
            vm = load_vm(name)
        except LabError:
            vm = {"name": name}
        vm["running"] = read_pid(os.path.join(directory, "qemu.pid")) is not None
        vm["console"] = current_console(name)
        out.append(vm)
    return out


# --- console logger: one file per boot ------------------------------------------------

FIRMWARE_BANNER = re.compile(rb"SeaBIOS \(version")
GRUB_BANNER = re.compile(rb"GNU GRUB +version")
KERNEL_BANNER = re.compile(rb"Linux version \d")


class BootSplitter(object):
    """Tells which console line starts a new boot.

    A boot starts at the firmware or GRUB banner, or at a kernel banner when
    the current boot already had a kernel (a kernel started by kexec, such as
    the capture kernel, comes without firmware or GRUB).
    """

    def __init__(self):
        self.phase = None  # None, "unknown", "firmware", "grub" or "kernel"

    def starts_boot(self, line):
        new_boot = self.phase is None
        if FIRMWARE_BANNER.search(line):
            new_boot, self.phase = True, "firmware"
        elif GRUB_BANNER.search(line):
            new_boot = new_boot or self.phase != "firmware"
            self.phase = "grub"
        elif KERNEL_BANNER.search(line):
            new_boot = new_boot or self.phase == "kernel"
            self.phase = "kernel"
        elif self.phase is None:
            self.phase = "unknown"
        return new_boot


def console_logger(sock_path, directory):
    """Accept QEMU's serial connection and write one file per boot."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    conn, _addr = server.accept()
    number = len([f for f in os.listdir(directory) if f.startswith("boot-")])
    splitter = BootSplitter()
    out = None
    pending = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if splitter.starts_boot(line):
                if out is not None:
                    out.close()
                number += 1
                out = open(os.path.join(directory, "boot-%03d.log" % number), "ab")
            out.write(line + b"\n")
            out.flush()
    if out is not None:
        if pending:
            out.write(pending)
        out.close()


# --- command line ---------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("build")
    p.add_argument("--release", default="12", choices=sorted(RELEASES))
    p.add_argument("--boot", default="bios", choices=BOOTS)
    p.add_argument("--arch", default="amd64", choices=sorted(ARCHES))
    p = sub.add_parser("start")
    p.add_argument("name")
    p.add_argument("--release", default="12", choices=sorted(RELEASES))
    p.add_argument("--boot", default="bios", choices=BOOTS,
                   help="firmware and boot loader (bios: SeaBIOS and GRUB)")
    p.add_argument("--arch", default="amd64", choices=sorted(ARCHES),
                   help="Debian architecture (arm64: QEMU virt, AAVMF, GRUB for EFI)")
    p.add_argument("--memory", type=int, default=1024, help="MiB")
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--disks", type=int, default=0, help="extra empty virtio disks")
    p.add_argument("--disk-size", default="2G")
    p.add_argument("--forward", action="append", default=[],
                   help="guest TCP port to forward to 127.0.0.1 ([HOSTPORT:]PORT)")
    p.add_argument("--wait", type=int, default=0, help="wait this many seconds for SSH")
    p = sub.add_parser("stop")
    p.add_argument("name")
    p = sub.add_parser("destroy")
    p.add_argument("names", nargs="*")
    p.add_argument("--all", action="store_true")
    p = sub.add_parser("status")
    p.add_argument("names", nargs="*")
    p = sub.add_parser("ssh")
    p.add_argument("name")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = sub.add_parser("console")
    p.add_argument("name")
    p = sub.add_parser("wait-ssh")
    p.add_argument("name")
    p.add_argument("--timeout", type=int, default=600)
    sub.add_parser("accel")
    sub.add_parser("prune")
    p = sub.add_parser("_console-logger")
    p.add_argument("socket")
    p.add_argument("directory")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "build":
            print(json.dumps(build(args.release, boot=args.boot, arch=args.arch), indent=1))
        elif args.cmd == "start":
            print(json.dumps(start(args.name, args.release, args.memory, args.cpus, args.disks,
                                   args.disk_size, args.forward, args.wait, args.boot,
                                   args.arch),
                             indent=1))
        elif args.cmd == "stop":
            stop(args.name)
        elif args.cmd == "destroy":
            destroy(all_vms() if args.all else args.names)
        elif args.cmd == "status":
            print(json.dumps(status(args.names or all_vms()), indent=1))
        elif args.cmd == "ssh":
            command = args.command[1:] if args.command[:1] == ["--"] else args.command
            argv_ = ssh_argv(load_vm(args.name), command)
            if command:
                os.execvp(argv_[0], argv_)
            print(" ".join(argv_))
        elif args.cmd == "console":
            print(current_console(args.name) or "")
        elif args.cmd == "wait-ssh":
            wait_ssh(args.name, args.timeout)
        elif args.cmd == "prune":
            print(json.dumps(prune(), indent=1))
        elif args.cmd == "accel":
            print(choose_accel(image_paths("12")["kernel"]))
        elif args.cmd == "_console-logger":
            console_logger(args.socket, args.directory)
    except LabError as exc:
        log("error: %s" % exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
