#!/bin/bash
# Own code (not upstream). openSUSE kdump (shell generation, 2.x): sources
# kdump-read-config.sh (reads $KDUMP_CONF) and dracut/module-setup.sh
# UNCHANGED, then calls module-setup.sh's kdump_init_ssh, which writes the
# kdump initrd's /root/.ssh (config with StrictHostKeyChecking and
# IdentityFile lines, known_hosts from KDUMP_HOST_KEY or "ssh-keygen -F").
# Prints every file it wrote. Run inside ns_run.sh with a scratch /root.
#
# usage: suse_init_ssh_driver.sh SRC_DIR SCRATCH_DIR
#   LOOKUP_NAMES (optional): names to look up afterwards in the written
#   known_hosts with the host's real "ssh-keygen -F NAME -f FILE" (OpenSSH's
#   own matching, e.g. "[host]:2222" for a non-default port)
src=$1 scratch=$2
here=$(cd "$(dirname "$0")" && pwd)
export PATH="$here/shims:/usr/sbin:/usr/bin:/sbin:/bin"
KDUMP_LIBDIR=$src
# dracut's logging helpers used by module-setup.sh
dfatal() { echo "dfatal: $*" >&2; }
derror() { echo "derror: $*" >&2; }
dwarn() { echo "dwarn: $*" >&2; }

# shellcheck source=/dev/null
. "$src/kdump-read-config.sh" || exit 90
# shellcheck source=/dev/null
. "$src/dracut/module-setup.sh" || exit 91
initdir="$scratch/initrd"
mkdir -p "$initdir/root"
( kdump_init_ssh )
rc=$?
for f in "$initdir"/root/.ssh/*; do
	[[ -f $f ]] || continue
	echo "--- ${f#"$initdir"}"
	cat "$f"
done
if [[ -f $initdir/root/.ssh/known_hosts ]]; then
	for n in $LOOKUP_NAMES; do
		echo "--- host OpenSSH: ssh-keygen -F $n -f /root/.ssh/known_hosts"
		/usr/bin/ssh-keygen -F "$n" -f "$initdir/root/.ssh/known_hosts" 2>&1 | grep -v '^#'
		echo "rc=${PIPESTATUS[0]}"
	done
fi
exit $rc
