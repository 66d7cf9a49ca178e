#!/bin/sh
# mmdebstrap customize hook of the crashdump.kdump lab image.
#   $1                 the root of the new system
#   LAB_PUBKEY         root's authorized SSH key
#   LAB_ROOT_UUID      UUID of the root filesystem
#   LAB_REPO_PACKAGES  packages (with their dependencies) for the offline apt repository
#   LAB_SUITE          the Debian suite
#   LAB_BOOT           bios (SeaBIOS, GRUB), uefi (OVMF, GRUB for EFI), secureboot (shim,
#                      signed GRUB, signed kernel) or systemd-boot
#   LAB_ESP_UUID       volume id of the ESP (XXXX-XXXX), not for bios
#   LAB_ARCH           amd64 (default) or arm64 (uefi only: AAVMF, GRUB for EFI)
#   LAB_CONSOLE        the serial console: ttyS0 (default), ttyAMA0 on arm64
# Runs on the build host as root and changes only what is inside "$1"; for another
# architecture it runs inside the tree's own stage-2 VM with "$1" = /.
set -eu
root="$1"

# --- identity, filesystems, network, console ---------------------------------
echo kdumplab > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tkdumplab\n' > "$root/etc/hosts"
printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$LAB_ROOT_UUID" > "$root/etc/fstab"
boot=${LAB_BOOT:-bios}
arch=${LAB_ARCH:-amd64}
console=${LAB_CONSOLE:-ttyS0}
if [ "$boot" != bios ]; then
  printf 'UUID=%s /boot/efi vfat umask=0077 0 1\n' "$LAB_ESP_UUID" >> "$root/etc/fstab"
  mkdir -p "$root/boot/efi" "$root/etc/default/grub.d"
fi

mkdir -p "$root/etc/systemd/network"
cat > "$root/etc/systemd/network/10-lab.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
EOF
chroot "$root" systemctl enable systemd-networkd.service ssh.service "serial-getty@$console.service"

# Boot through GRUB on the serial console, quickly. On arm64 the firmware's console is the
# serial port (AAVMF), which GRUB for EFI uses as its console.
if [ "$arch" = amd64 ]; then
  cat > "$root/etc/default/grub.d/10-kdumplab.cfg" <<'EOF'
GRUB_TIMEOUT=1
GRUB_TERMINAL="serial console"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_CMDLINE_LINUX="console=ttyS0,115200n8"
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_DISABLE_OS_PROBER=true
EOF
else
  cat > "$root/etc/default/grub.d/10-kdumplab.cfg" <<EOF
GRUB_TIMEOUT=1
GRUB_TERMINAL=console
GRUB_CMDLINE_LINUX="console=$console,115200n8"
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_DISABLE_OS_PROBER=true
EOF
fi

# Later rebuilds of the boot initrd (installing kdump-tools triggers one) take only
# the modules this VM uses: minutes less under TCG. The initrd made here, in the
# chroot, keeps Debian's MODULES=most, so the first boot finds its disk.
printf 'MODULES=dep\n' > "$root/etc/initramfs-tools/conf.d/kdumplab.conf"

# --- SSH: root by key only ----------------------------------------------------
install -d -m 0700 "$root/root/.ssh"
printf '%s\n' "$LAB_PUBKEY" > "$root/root/.ssh/authorized_keys"
chmod 0600 "$root/root/.ssh/authorized_keys"
cat > "$root/etc/ssh/sshd_config.d/10-kdumplab.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF
# One host key per image, recorded by the lab driver for pinning.
rm -f "$root"/etc/ssh/ssh_host_*
chroot "$root" ssh-keygen -q -A

# --- kexec must never take over a plain reboot (LOAD_KEXEC pitfall) -----------
printf 'kexec-tools kexec-tools/load_kexec boolean false\nkdump-tools kdump-tools/use_kdump boolean true\n' \
  | chroot "$root" debconf-set-selections

# --- the offline apt repository -----------------------------------------------
repo=/opt/kdumplab-repo
mkdir -p "$root$repo"
rm -f "$root"/var/cache/apt/archives/*.deb
# shellcheck disable=SC2086
chroot "$root" apt-get install -y -q --download-only --no-install-recommends $LAB_REPO_PACKAGES
mv "$root"/var/cache/apt/archives/*.deb "$root$repo/"
(cd "$root$repo" && apt-ftparchive packages . > Packages)
rm -f "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/*
printf 'deb [trusted=yes] file:%s ./\n' "$repo" > "$root/etc/apt/sources.list"
chroot "$root" apt-get update -q
rm -rf "$root"/var/cache/apt/*.bin

# --- first boot: install the boot loader into the disk, then power off ----------
case "$boot" in
bios)
  install='grub-install --target=i386-pc /dev/vda
update-grub'
  ;;
uefi)
  # --removable: EFI/BOOT/BOOTX64.EFI (BOOTAA64.EFI), found by the firmware without a boot entry.
  target=x86_64-efi
  [ "$arch" = amd64 ] || target=arm64-efi
  install="grub-install --target=$target --efi-directory=/boot/efi --removable --no-nvram --no-uefi-secure-boot
update-grub"
  ;;
secureboot)
  # shim (signed by Microsoft) as BOOTX64.EFI, then Debian's signed GRUB, which reads
  # EFI/debian/grub.cfg; no fallback (fbx64.efi would try to write boot entries and reset).
  install='grub-install --target=x86_64-efi --efi-directory=/boot/efi --removable --no-nvram --uefi-secure-boot
rm -f /boot/efi/EFI/BOOT/fbx64.efi
mkdir -p /boot/efi/EFI/debian
printf "search.fs_uuid %s root\nset prefix=(\$root)/boot/grub\nconfigfile \$prefix/grub.cfg\n" "$(findmnt -no UUID /)" > /boot/efi/EFI/debian/grub.cfg
cp /boot/efi/EFI/debian/grub.cfg /boot/efi/EFI/BOOT/grub.cfg
update-grub'
  ;;
systemd-boot)
  # kernel-install writes BLS entries (and copies kernel and initrd) into the ESP; the
  # command line is /etc/kernel/cmdline.
  printf 'root=UUID=%s rw console=%s,115200n8\n' "$LAB_ROOT_UUID" "$console" > "$root/etc/kernel/cmdline"
  printf 'layout=bls\n' > "$root/etc/kernel/install.conf"
  install='bootctl install --esp-path=/boot/efi --no-variables
printf "timeout 1\nconsole-mode keep\n" > /boot/efi/loader/loader.conf
for kernel in /boot/vmlinuz-*; do
  version=${kernel#/boot/vmlinuz-}
  kernel-install add "$version" "$kernel" "/boot/initrd.img-$version"
done
ls /boot/efi/loader/entries'
  ;;
*)
  echo "customize.sh: LAB_BOOT=$boot: expected bios, uefi, secureboot or systemd-boot" >&2
  exit 2
  ;;
esac
mount_esp=
[ "$boot" = bios ] || mount_esp='mountpoint -q /boot/efi || mount /boot/efi'
cat > "$root/usr/local/sbin/kdumplab-firstboot" <<EOF
#!/bin/sh
set -eu
$mount_esp
$install
systemctl disable kdumplab-firstboot.service
rm -f /etc/systemd/system/kdumplab-firstboot.service /usr/local/sbin/kdumplab-firstboot
echo KDUMPLAB-FIRSTBOOT-OK > /dev/$console
sync
systemctl poweroff
EOF
chmod 0755 "$root/usr/local/sbin/kdumplab-firstboot"
cat > "$root/etc/systemd/system/kdumplab-firstboot.service" <<'EOF'
[Unit]
Description=Install the boot loader into the lab disk (first boot only)
After=local-fs.target
ConditionPathExists=/usr/local/sbin/kdumplab-firstboot

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/kdumplab-firstboot
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
EOF
chroot "$root" systemctl enable kdumplab-firstboot.service
echo "kdumplab $LAB_SUITE $boot $arch" > "$root/etc/kdumplab-release"
