#!/bin/sh
# mmdebstrap customize hook of the crashdump.kdump lab image.
#   $1                 the root of the new system
#   LAB_PUBKEY         root's authorized SSH key
#   LAB_ROOT_UUID      UUID of the root filesystem
#   LAB_REPO_PACKAGES  packages (with their dependencies) for the offline apt repository
#   LAB_SUITE          the Debian suite
# Runs on the build host as root; everything it changes is inside "$1".
set -eu
root="$1"

# --- identity, filesystems, network, console ---------------------------------
echo kdumplab > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tkdumplab\n' > "$root/etc/hosts"
printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$LAB_ROOT_UUID" > "$root/etc/fstab"

mkdir -p "$root/etc/systemd/network"
cat > "$root/etc/systemd/network/10-lab.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
EOF
chroot "$root" systemctl enable systemd-networkd.service ssh.service serial-getty@ttyS0.service

# Boot through GRUB on the serial console, quickly.
cat > "$root/etc/default/grub.d/10-kdumplab.cfg" <<'EOF'
GRUB_TIMEOUT=1
GRUB_TERMINAL="serial console"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_CMDLINE_LINUX="console=ttyS0,115200n8"
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_DISABLE_OS_PROBER=true
EOF

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

# --- first boot: install GRUB into the disk, then power off -------------------
cat > "$root/usr/local/sbin/kdumplab-firstboot" <<'EOF'
#!/bin/sh
set -eu
grub-install --target=i386-pc /dev/vda
update-grub
systemctl disable kdumplab-firstboot.service
rm -f /etc/systemd/system/kdumplab-firstboot.service /usr/local/sbin/kdumplab-firstboot
echo KDUMPLAB-FIRSTBOOT-OK > /dev/ttyS0
sync
systemctl poweroff
EOF
chmod 0755 "$root/usr/local/sbin/kdumplab-firstboot"
cat > "$root/etc/systemd/system/kdumplab-firstboot.service" <<'EOF'
[Unit]
Description=Install GRUB into the lab disk (first boot only)
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
echo "kdumplab $LAB_SUITE" > "$root/etc/kdumplab-release"
