#!/bin/sh
# mmdebstrap customize hook of the UEFI lab images, run after customize.sh.
#   $1             the root of the new system
#   LAB_BOOT       uefi (GRUB), secureboot (shim, signed GRUB, signed kernel) or systemd-boot
#   LAB_ROOT_UUID  UUID of the root filesystem
#   LAB_ESP_UUID   volume id of the ESP (XXXX-XXXX)
# Runs on the build host as root; everything it changes is inside "$1". The first boot
# (under OVMF, without Secure Boot) installs the boot loader into the ESP and powers off.
set -eu
root="$1"

printf 'UUID=%s / ext4 errors=remount-ro 0 1\nUUID=%s /boot/efi vfat umask=0077 0 1\n' \
  "$LAB_ROOT_UUID" "$LAB_ESP_UUID" > "$root/etc/fstab"
mkdir -p "$root/boot/efi"

case "$LAB_BOOT" in
uefi)
  # --removable: EFI/BOOT/BOOTX64.EFI, found by the firmware without a boot entry.
  install='grub-install --target=x86_64-efi --efi-directory=/boot/efi --removable --no-nvram --no-uefi-secure-boot
update-grub'
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
  printf 'root=UUID=%s rw console=ttyS0,115200n8\n' "$LAB_ROOT_UUID" > "$root/etc/kernel/cmdline"
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
  echo "customize-efi.sh: LAB_BOOT=$LAB_BOOT: expected uefi, secureboot or systemd-boot" >&2
  exit 2
  ;;
esac

cat > "$root/usr/local/sbin/kdumplab-firstboot" <<EOF
#!/bin/sh
set -eu
mountpoint -q /boot/efi || mount /boot/efi
$install
systemctl disable kdumplab-firstboot.service
rm -f /etc/systemd/system/kdumplab-firstboot.service /usr/local/sbin/kdumplab-firstboot
echo KDUMPLAB-FIRSTBOOT-OK > /dev/ttyS0
sync
systemctl poweroff
EOF
chmod 0755 "$root/usr/local/sbin/kdumplab-firstboot"
echo "kdumplab $LAB_SUITE $LAB_BOOT" > "$root/etc/kdumplab-release"
