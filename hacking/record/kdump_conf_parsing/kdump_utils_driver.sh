#!/bin/bash
# Own code (not upstream). Sources kdump-utils' / kexec-tools' kdumpctl
# UNCHANGED (with __SOURCED__=1, its own test hook: it then loads
# ./kdump-lib.sh, ./kdump-lib-initramfs.sh and ./kdump-logger.sh from the
# current directory and returns before running main), points the path
# variables that upstream keeps in shell variables at scratch files, replaces
# a few host probes with fixed answers, and calls one upstream function.
#
# usage: kdump_utils_driver.sh SRC_DIR SCRATCH_DIR MODE ARG...
#   SRC_DIR     extracted upstream tree (kdumpctl, kdump-lib*.sh at its top)
#   SCRATCH_DIR holds kdump.conf (KDUMP_CONFIG_FILE) and the fake
#               grub.cfg / default-grub / iomem / fadump node
#   MODE call FUNC ARG...      run FUNC; exit with its status
#        call+opt FUNC ARG...  same, then print kdumpctl's OPT[] array
#                              (what parse_config stored), one "key=value" a
#                              line, sorted
#        vars NAME...          print "declare -p NAME" for each variable
#                              (after kdumpctl sourced /etc/sysconfig/kdump)
#        chain KEY FUNC...     v=$(kdump_get_conf_val KEY), then each FUNC
#                              but the last: v=$(FUNC "$v"); the last FUNC
#                              runs as FUNC "$v" (its output and status are
#                              the result), e.g. chain ssh get_remote_host
#        calls "F A.." "G B.." run F A.., then G B.. (words split on
#                              blanks), stop at the first failure
#   DRIVER_SET  optional lines NAME=VALUE assigned after kdumpctl was sourced
#               (e.g. TARGET_INITRD / KDUMP_KERNEL, which kdumpctl's start()
#               would otherwise compute from /boot)
#
# Stub answers (environment):
#   STUB_ARCH     uname -m (x86_64)          STUB_KREL  uname -r
#   STUB_FSTYPE   findmnt's FSTYPE for the device df reports for a path (xfs)
#   STUB_KDUMP_ENABLED, STUB_GRUBBY_ENTRIES, STUB_SSH_RC: see shims/
src=$1 scratch=$2 mode=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)

export PATH="$here/shims:/usr/sbin:/usr/bin:/sbin:/bin"
export __SOURCED__=1
# kdumpctl sources "$dracutbasedir"/dracut-functions.sh (a dracut file)
dracutbasedir="$here/stub-dracut"
# kdump-logger.sh: messages to stderr only (no syslog, no /dev/kmsg)
KDUMP_STDLOGLVL=${KDUMP_STDLOGLVL:-3}
KDUMP_SYSLOGLVL=0
KDUMP_KMSGLOGLVL=0

cd "$src" || exit 90
# shellcheck source=/dev/null
. ./kdumpctl

# --- paths upstream keeps in variables -> scratch files
KDUMP_CONFIG_FILE="$scratch/kdump.conf"
GRUB_CFG="$scratch/grub.cfg"                 # _is_bootloader_installed
GRUB_ETC_DEFAULT="$scratch/default-grub"     # kexec-tools 2.0.2x: sed -i target
PROC_IOMEM="$scratch/iomem"                  # get_system_size
FADUMP_ENABLED_SYS_NODE="$scratch/fadump_enabled"
FADUMP_REGISTER_SYS_NODE="$scratch/fadump_registered"
FADUMP_APPEND_ARGS_SYS_NODE="$scratch/fadump_bootargs_append"
_OSBUILD_ENVIRON_PATH="$scratch/environ"
KEXEC="$here/shims/kexec"
VMCORE_CREATION_STATUS="$scratch/vmcore-creation.status"
KDUMP_LOG_PATH="$scratch"                    # kexec-tools 2.0.2x: kdump.log
while IFS= read -r _line; do
	[[ -n $_line ]] && declare -g "${_line%%=*}=${_line#*=}"
done <<< "${DRIVER_SET:-}"
unset _line

# --- host probes (external commands) with fixed answers
uname()
{
	case "$1" in
	-m) echo "${STUB_ARCH:-x86_64}" ;;
	-r) echo "${STUB_KREL:-6.12.0-55.el10.x86_64}" ;;
	*) command uname "$@" ;;
	esac
}
hostname()
{
	case "$1" in
	-I) echo "192.0.2.10 " ;;
	*) echo "testhost.example.com" ;;
	esac
}
df()
{
	# every path lives on /dev/vda3 mounted on /
	echo "Filesystem     1K-blocks    Used Available Use% Mounted on"
	echo "/dev/vda3       20000000 5000000  15000000  25% /"
}
findmnt()
{
	local a prev=""
	for a in "$@"; do
		if [[ $prev == -o ]]; then
			case "$a" in
			FSTYPE) echo "${STUB_FSTYPE:-xfs}" ;;
			TARGET | TARGET,SOURCE) echo "/ /dev/vda3" ;;
			SOURCE) echo "/dev/vda3" ;;
			OPTIONS) echo "rw,relatime" ;;
			esac
			return 0
		fi
		prev=$a
	done
	return 1
}
blkid() { return 2; }
# upstream probe functions that read /proc/cpuinfo and /sys/class/watchdog
# of the host: fixed answers so the command line does not depend on the host
get_bootcpu_apicid() { :; }
get_watchdog_drvs() { :; }

case "$mode" in
call)
	"$@"
	exit $?
	;;
call+opt)
	"$@"
	rc=$?
	for k in "${!OPT[@]}"; do printf '%s=%s\n' "$k" "${OPT[$k]}"; done | LC_ALL=C sort
	exit $rc
	;;
vars)
	for v in "$@"; do
		if declare -p "$v" > /dev/null 2>&1; then
			declare -p "$v"
		else
			echo "$v is unset"
		fi
	done
	exit 0
	;;
chain)
	_v=$(kdump_get_conf_val "$1")
	shift
	while [[ $# -gt 1 ]]; do
		_v=$("$1" "$_v")
		shift
	done
	"$1" "$_v"
	exit $?
	;;
calls)
	for _c in "$@"; do
		read -r -a _w <<< "$_c"
		"${_w[@]}" || exit $?
	done
	exit 0
	;;
*)
	echo "unknown mode $mode" >&2
	exit 91
	;;
esac
