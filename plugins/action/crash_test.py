# -*- coding: utf-8 -*-
# Copyright (c) crashdump.kdump contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of crashdump.kdump.crash_test: crash a host on purpose and prove the dump."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import posixpath
import socket
import time

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import connection_loader
from ansible.utils.display import Display

from ansible_collections.crashdump.kdump.plugins.module_utils.target.types import REGISTRY, nfs_join

LOCAL_DEFAULT = REGISTRY["local"].default_path
# What the proof record keeps of a passed crash test (crashdump.kdump.kdump_proof's proven).
PROVEN = ("kernel", "dump_host", "dump_path", "format", "size", "compression", "dump_level",
          "crash_time", "timings", "triggered_at")

display = Display()

# Run detached from the module's pipes, in a session of its own, so that the module returns
# before the kernel panics. The only value put into it is an integer delay.
TRIGGER = "exec </dev/null >/dev/null 2>&1; sync; sleep %d; echo c > /proc/sysrq-trigger"


class StepFailed(Exception):
    def __init__(self, step, message):
        super(StepFailed, self).__init__(message)
        self.step = step


def ssh_banner(host, port, timeout):
    """True when something at host:port answers with an SSH banner within ``timeout``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"SSH-")
    except (OSError, socket.timeout):
        return False


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("confirm", "force", "dump_host", "dump_path", "down_timeout",
                             "boot_timeout", "sysrq_delay", "poll"))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        host = task_vars.get("inventory_hostname")
        result.update(passed=False, dump_path=None, dump_host=None, format=None, size=None,
                      kernel=None, timings={}, failed_step=None, proof=None)
        if self._task.check_mode:
            result.update(skipped=True, msg="check mode: %s is not crashed" % host)
            return result
        if not boolean(args.get("confirm", False), strict=False):
            result.update(failed=True, failed_step="confirm", msg=(
                "crash_test crashes %s on purpose: the kernel panics (sysrq-c), everything running"
                " on it is lost, the capture kernel saves a dump and the host reboots. Set"
                " confirm: true to go ahead." % host))
            return result
        if self._connection.transport not in ("ssh", "paramiko", "paramiko_ssh",
                                              "ansible.builtin.ssh", "ansible.builtin.paramiko_ssh"):
            result.update(failed=True, failed_step="confirm", msg=(
                "crash_test needs an SSH connection to %s (it has %s): it watches the host go down"
                " and come back" % (host, self._connection.transport)))
            return result
        try:
            self._crash(host, args, task_vars, result)
        except StepFailed as exc:
            result.update(failed=True, failed_step=exc.step, msg="%s: %s" % (exc.step, exc))
        return result

    # --- steps ------------------------------------------------------------------------

    def _module(self, name, module_args, task_vars, step):
        out = self._execute_module(module_name=name, module_args=module_args, task_vars=task_vars)
        if out.get("failed"):
            raise StepFailed(step, "%s failed: %s" % (name, out.get("msg") or out))
        return out

    def _crash(self, host, args, task_vars, result):
        force = boolean(args.get("force", False), strict=False)
        delay = int(args.get("sysrq_delay", 2))
        poll = float(args.get("poll", 2))
        info = self._module("crashdump.kdump.kdump_info", {"dumps": 0}, task_vars, "readiness")
        if not info["ready"] and not force:
            raise StepFailed("readiness", "%s is not ready to capture a crash, so it is not crashed"
                             " (force: true overrides): %s" % (host, "; ".join(info["reasons"])))
        kernel = info["kernel_release"]
        target = info.get("target") or {}
        dump_host, dump_path = self._where(host, target, args, task_vars)
        result.update(kernel=kernel, dump_host=dump_host, target=target)

        meminfo = self._module("ansible.legacy.slurp", {"src": "/proc/meminfo"}, task_vars, "record")
        memory_kib = _memtotal_kib(meminfo["content"])
        down_timeout = float(args.get("down_timeout", 120))
        boot_timeout = float(args.get("boot_timeout") or 600 + 60 * (memory_kib >> 20))
        before = set(d["path"] for d in self._dumps(dump_host, host, dump_path, None, task_vars)["dumps"])
        boot_before = self._boot_id(task_vars, "record")
        host_time = int(self._module("ansible.legacy.command", {"argv": ["date", "+%s"]},
                                     task_vars, "record")["stdout"].strip())
        result["record"] = {"boot_id": boot_before, "dumps_before": len(before),
                            "host_time": host_time, "boot_timeout": boot_timeout}

        address, port = self._address(task_vars, host)
        self._module("ansible.legacy.command", {"argv": ["sysctl", "-q", "-w", "kernel.sysrq=1"]},
                     task_vars, "trigger")
        self._module("ansible.legacy.command",
                     {"argv": ["setsid", "-f", "sh", "-c", TRIGGER % delay]}, task_vars, "trigger")
        start = time.time() + delay
        result["triggered_at"] = int(start)
        try:
            self._connection.close()
        except Exception:  # pylint: disable=broad-except
            pass

        down = None
        while time.time() < start + down_timeout:
            if not ssh_banner(address, port, 3):
                down = time.time()
                break
            time.sleep(poll)
        if down is None:
            raise StepFailed("down", "%s still answered SSH %d s after sysrq-c: the kernel did not"
                             " crash (is sysrq allowed? kernel.sysrq)" % (host, down_timeout))
        result["timings"]["trigger_to_down"] = round(max(0.0, down - start), 1)

        back = None
        while time.time() < start + boot_timeout:
            time.sleep(poll)
            if ssh_banner(address, port, 3):
                back = time.time()
                break
        if back is None:
            raise StepFailed("boot", "%s did not come back within %d s after the crash; look at its"
                             " console%s" % (host, boot_timeout, self._evidence(task_vars)))
        boot_after = None
        last_error = None
        while time.time() < start + boot_timeout:
            try:
                self._connection.reset()
            except Exception:  # pylint: disable=broad-except
                pass
            try:
                boot_after = self._boot_id(task_vars, "boot")
                break
            except (StepFailed, AnsibleError) as exc:
                last_error = to_text(exc)
                display.vvv("crash_test: %s not ready yet: %s" % (host, last_error))
                time.sleep(poll)
        result["timings"]["trigger_to_back"] = round(time.time() - start, 1)
        if boot_after is None:
            raise StepFailed("boot", "%s answers SSH again but its boot id could not be read within"
                             " %d s of the crash: %s" % (host, boot_timeout, last_error))
        if boot_after == boot_before:
            raise StepFailed("boot", "%s answers but did not reboot (boot id %s)" % (host, boot_after))

        listing = self._dumps(dump_host, host, dump_path, kernel, task_vars)
        new = [d for d in listing["dumps"] if d["path"] not in before]
        if not new:
            raise StepFailed("dump", "no new dump arrived in %s%s after the crash; the capture kernel"
                             " failed to save it - see %s's journal of the previous boot"
                             " (journalctl -b -1) and its console%s" % (
                                 dump_path, " on " + dump_host if dump_host != host else "", host,
                                 self._evidence(task_vars)))
        dump = self._the_new_dump(new, dump_path, dump_host, host, task_vars)
        result.update(dump_path=dump["path"], format=("flattened " if dump["flattened"] else "")
                      + dump["format"], size=dump["size"], compression=dump["compression"],
                      dump_level=dump["dump_level"], crash_time=dump["crash_time"],
                      dmesg=dump["dmesg"], dmesg_panic=dump.get("dmesg_panic"))
        result["timings"]["trigger_to_dump_complete"] = round(dump["mtime"] - host_time - delay, 1)
        problems = list(dump["reasons"])
        if dump["crash_time"] is not None and dump["crash_time"] < host_time:
            problems.append("the dump's crash time %d is before the trigger (%d): an older crash"
                            % (dump["crash_time"], host_time))
        if dump["dmesg"] and not dump.get("dmesg_sysrq"):
            problems.append("the saved kernel log %s does not record the sysrq crash (its panic: %s)"
                            % (dump["dmesg"], dump.get("dmesg_panic")))
        if problems:
            raise StepFailed("validate", "the new dump %s is not a valid dump of this crash: %s"
                             % (dump["path"], "; ".join(problems)))
        result["passed"] = True
        result["changed"] = True
        result["msg"] = "%s crashed and came back in %.0f s; %s (%s, %d bytes) is a valid dump of %s" % (
            host, result["timings"]["trigger_to_back"], dump["path"], result["format"], dump["size"],
            kernel)
        result["proof"] = self._record_proof(info.get("proof_basis"), result, task_vars)

    # --- helpers ----------------------------------------------------------------------

    def _record_proof(self, basis, result, task_vars):
        """Leave the proof record on the host (kdump_proof, with what kdump_info said before the
        crash); its path, or None and a warning - the dump is proven either way."""
        proven = dict((key, result.get(key)) for key in PROVEN)
        try:
            out = self._execute_module(module_name="crashdump.kdump.kdump_proof",
                                       module_args={"proven": proven, "basis": basis or {}},
                                       task_vars=task_vars)
        except AnsibleError as exc:
            out = {"failed": True, "msg": to_text(exc)}
        if out.get("failed"):
            result.setdefault("warnings", []).append(
                "the dump is proven, but the proof record was not written on the host: %s"
                % (out.get("msg") or out))
            return None
        return out.get("path")

    def _the_new_dump(self, new, dump_path, dump_host, host, task_vars):
        """The one complete dump of this crash. The kdump tools write one directory per crash;
        a dump they could not finish keeps "incomplete" in its name (kdump-tools may leave
        both dump-incomplete and a raw vmcore-incomplete when makedumpfile fails)."""
        directories = sorted(set(posixpath.dirname(d["path"]) for d in new))
        if len(directories) > 1:
            raise StepFailed("dump", "%d new crash directories in %s, expected one: %s" % (
                len(directories), dump_path, ", ".join(directories)))
        complete = [d for d in new if "incomplete" not in posixpath.basename(d["path"])]
        if not complete:
            raise StepFailed("dump", "no complete dump arrived in %s%s: the capture kernel left only"
                             " %s (the target ran out of space, or saving failed) - see %s's journal"
                             " of the previous boot (journalctl -b -1) and its console%s" % (
                                 directories[0], " on " + dump_host if dump_host != host else "",
                                 ", ".join(posixpath.basename(d["path"]) for d in new), host,
                                 self._evidence(task_vars)))
        if len(complete) > 1:
            raise StepFailed("dump", "%d new dumps in %s, expected one: %s" % (
                len(complete), directories[0], ", ".join(d["path"] for d in complete)))
        return complete[0]

    def _where(self, host, target, args, task_vars):
        kind = target.get("type")
        dump_host = args.get("dump_host")
        path = args.get("dump_path")
        if kind in ("ssh", "nfs"):
            if not dump_host:
                raise StepFailed("record", "the dump of %s goes to an %s target; set dump_host to the"
                                 " inventory host that receives it" % (host, kind))
            if not path:
                # A crashdump.kdump.dump_server keeps each client's dumps in a directory of its own.
                client_dirs = task_vars.get("hostvars", {}).get(dump_host, {}).get("dump_server_client_dirs")
                if kind == "ssh" and isinstance(client_dirs, dict) and host in client_dirs:
                    path = client_dirs[host]
                elif kind == "ssh":
                    # A run without the dump_server role (its fact) still finds the host's own
                    # directory there, when the server has one.
                    path = target.get("path")
                    mine = "%s/%s" % ((path or "").rstrip("/"), host)
                    found = self._on_other_host(dump_host, "ansible.legacy.stat", {"path": mine}, task_vars)
                    if (found.get("stat") or {}).get("isdir"):
                        path = mine
                else:
                    # The export's directory, and the path below it the dump goes to.
                    joined = nfs_join(target.get("nfs") or ":/", target.get("path") or "/")
                    path = joined.rsplit(":/", 1)[1]
                    path = "/" + path
            return dump_host, path
        if kind in (None, "raw"):
            raise StepFailed("record", "crash_test cannot find dumps of a %s target" % (kind or "unknown"))
        # kdump_info's directory: a local path, or an fs target's directory below its mount.
        return host, path or target.get("directory") or target.get("path") or LOCAL_DEFAULT

    def _boot_id(self, task_vars, step):
        out = self._module("ansible.legacy.slurp", {"src": "/proc/sys/kernel/random/boot_id"},
                           task_vars, step)
        return base64.b64decode(out["content"]).decode().strip()

    def _dumps(self, dump_host, host, path, kernel, task_vars):
        module_args = {"path": path, "dmesg_lines": 30, "allow_missing": True}
        if kernel:
            module_args["kernel"] = kernel
        if dump_host == host:
            return self._module("crashdump.kdump.vmcore_info", module_args, task_vars, "dump")
        return self._on_other_host(dump_host, "crashdump.kdump.vmcore_info", module_args, task_vars)

    def _on_other_host(self, other, module, module_args, task_vars):
        """Run ``module`` on inventory host ``other`` through a connection of its own."""
        hostvars = task_vars.get("hostvars", {})
        if other not in hostvars:
            raise StepFailed("dump", "dump_host %s is not in the inventory" % other)
        variables = dict(task_vars)
        variables.update(hostvars[other])
        variables["inventory_hostname"] = other
        play_context = self._play_context.set_task_and_variable_override(
            task=self._task, variables=variables, templar=self._templar)
        play_context.remote_addr = self._render(variables.get("ansible_host", other))
        connection = connection_loader.get(variables.get("ansible_connection", "ssh"), play_context,
                                           None)
        option_vars = C.config.get_plugin_vars("connection", connection._load_name)
        options = dict((name, self._templar.template(variables[name])) for name in option_vars
                       if name in variables)
        options["_extras"] = {}
        connection.set_options(task_keys=self._task.dump_attrs(), var_options=options)
        saved = (self._connection, self._play_context)
        self._connection, self._play_context = connection, play_context
        try:
            out = self._execute_module(module_name=module, module_args=module_args,
                                       task_vars=variables)
        finally:
            self._connection, self._play_context = saved
            try:
                connection.close()
            except Exception:  # pylint: disable=broad-except
                pass
        if out.get("failed") or out.get("unreachable"):
            raise StepFailed("dump", "%s on %s failed: %s" % (module, other, out.get("msg") or out))
        return out

    def _address(self, task_vars, host):
        """Where the host's SSH answers: the connection's own (templated) options."""
        try:
            address = self._connection.get_option("host")
            port = self._connection.get_option("port")
        except (KeyError, AttributeError):
            address = port = None
        address = address or self._render(task_vars.get("ansible_host")) or host
        port = port or self._render(task_vars.get("ansible_port") or task_vars.get("ansible_ssh_port")) or 22
        return address, int(port)

    def _render(self, value):
        """A host variable as it is used (inventory values may be templates)."""
        templar = getattr(self, "_templar", None)
        return templar.template(value) if templar is not None and value is not None else value

    def _evidence(self, task_vars):
        console = self._render(task_vars.get("kdump_console_dir"))
        return " (%s)" % console if console else ""


def _memtotal_kib(content):
    for line in base64.b64decode(content).decode().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0
