#!/bin/bash
# Own code (not upstream). Runs a command in a private mount namespace
# (unshare -m, propagation private) so upstream scripts that read or write
# fixed paths (/etc/sysconfig/kdump, /etc/kdump.conf, /tmp/...) see
# scratch copies; the host's files are never changed.
#
# usage: ns_run.sh SCRATCH_DIR [--overlay DIR]... [--tmpfs DIR[=SOURCE]]...
#                  [--put SRC=DEST]... [--mkdir DIR]... -- CMD [ARG]...
#   --overlay DIR   overlayfs over DIR (lower: DIR, upper: under SCRATCH_DIR),
#                   so DIR can be written inside the namespace only
#   --tmpfs DIR     an empty tmpfs on DIR (DIR=SOURCE names the mount source)
#   --mkdir DIR     mkdir -p DIR (after the mounts above; DIR must lie in an
#                   overlay or tmpfs)
#   --put SRC=DEST  copy SRC to DEST (after the mounts; same rule)
#   --bind SRC=DEST bind-mount the file SRC over the existing file DEST
#                   (e.g. a fixed /proc/cmdline)
# Options are applied in the order given. With NS_RUN_PIDNS=1 the command
# also gets its own PID namespace and /proc (unshare -p -f --mount-proc), so
# a reboot(2) from a script under test can only end that namespace.
set -e
if [[ -z $NS_RUN_INSIDE ]]; then
	if [[ ${NS_RUN_PIDNS:-0} == 1 ]]; then
		exec unshare -m -p -f --mount-proc --propagation private env NS_RUN_INSIDE=1 "$0" "$@"
	fi
	exec unshare -m --propagation private env NS_RUN_INSIDE=1 "$0" "$@"
fi
scratch=$1; shift
n=0
while [[ $# -gt 0 ]]; do
	case "$1" in
	--overlay)
		n=$((n + 1))
		mkdir -p "$scratch/ovl$n/upper" "$scratch/ovl$n/work"
		mount -t overlay "ovl$n" -o "lowerdir=$2,upperdir=$scratch/ovl$n/upper,workdir=$scratch/ovl$n/work" "$2"
		shift 2 ;;
	--tmpfs)
		d=${2%%=*}; src=tmpfs; [[ $2 == *=* ]] && src=${2#*=}
		mount -t tmpfs "$src" "$d"
		shift 2 ;;
	--mkdir)
		mkdir -p "$2"; shift 2 ;;
	--put)
		cp "${2%%=*}" "${2#*=}"; shift 2 ;;
	--bind)
		mount --bind "${2%%=*}" "${2#*=}"; shift 2 ;;
	--)
		shift; break ;;
	*)
		echo "ns_run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
set +e
exec "$@"
