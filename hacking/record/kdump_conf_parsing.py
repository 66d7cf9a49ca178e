#!/usr/bin/env python3
"""Record what the upstream kdump tools' OWN parsing code makes of
configuration files, as test fixtures.

Upstream code is never copied into this repository: every run extracts the
upstream files from the given git directories (git archive) into a scratch
directory under /dev/shm and runs them unchanged:

* kdump-utils (v1.0.61) and its kexec-tools predecessor (Fedora dist-git
  "Release 2.0.25-1", the RHEL 9 line): kdumpctl is sourced with
  __SOURCED__=1 (kdumpctl's own test hook) by
  kdump_conf_parsing/kdump_utils_driver.sh, which then calls one function
  (kdump_read_conf, kdump_get_conf_val, parse_config, is_*_dump_target,
  get_remote_host, main _reset-crashkernel-after-update, load_kdump, ...).
* openSUSE kdump, shell generation (branch SLE-15-SP6 and tag v2.1.9):
  kdump-read-config.sh --print, init/mkdumprd, dracut/module-setup.sh's
  kdump_init_ssh and dracut/kdump-save.
* openSUSE kdump, C++ generation (branch SLE-15-SP5): kdumptool's
  URLParser/RootDirURL and Configuration/ShellConfigParser, compiled with
  g++ together with kdump_conf_parsing/suse_kdumptool_driver.cc.

Everything runs in a private mount namespace (kdump_conf_parsing/ns_run.sh:
overlays and tmpfs over /etc, /tmp, /root, ... so fixed upstream paths such
as /etc/sysconfig/kdump see scratch files); external commands are PATH shims
(kdump_conf_parsing/shims) that log their argv. The host's files are not
changed. Needs root, unshare(1), overlayfs, git, bash, g++ and OpenSSH's
ssh/ssh-keygen (used for "ssh -G" and for host-OpenSSH observations against
loopback only).

usage: kdump_conf_parsing.py KDUMP_UTILS_GIT_DIR OPENSUSE_KDUMP_GIT_DIR
           [--out FILE] [--jobs N]
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DRV = os.path.join(HERE, 'kdump_conf_parsing')
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(
    REPO, 'tests', 'unit', 'fixtures', 'upstream', 'kdump_conf_parsing.json')

KU = 'rhkdump/kdump-utils'
SUSE = 'openSUSE/kdump'

# source key -> (upstream, git dir arg, ref, version label, note, paths)
SOURCES = [
    ('ku61', KU, 'ku', 'v1.0.61', 'kdump-utils 1.0.61',
     'kdump-utils as in Fedora 42+ / RHEL 10', None),
    ('ku25', KU, 'ku', 'aa842443462d588b825c8cbfd5c2112695ddf549',
     'kexec-tools 2.0.25-1',
     "Fedora kexec-tools dist-git commit 'Release 2.0.25-1' (kdumpctl, "
     "kdump-lib*.sh before kdump-utils was split out): the RHEL 9.1/9.2 "
     "generation, before 'Simplify the management of the kernel parameter "
     "crashkernel' (5b31b09, 2023)", None),
    ('sp6', SUSE, 'suse', 'SLE-15-SP6', None,
     'shell generation as on SLES 15 SP6 (branch SLE-15-SP6)',
     ['kdump-read-config.sh', 'dracut', 'init']),
    ('v219', SUSE, 'suse', 'v2.1.9', None,
     'shell generation, newest tag (openSUSE Tumbleweed / SLES 16)',
     ['kdump-read-config.sh', 'dracut', 'init']),
    ('sp5', SUSE, 'suse', 'SLE-15-SP5', None,
     'C++ kdumptool generation as on SLES 15 SP5 and older (branch '
     'SLE-15-SP5)', ['kdumptool', 'config.h.in']),
]

PROC_CMDLINE = (
    'BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-427.13.1.el9_4.x86_64 '
    'root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M '
    'resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap '
    'rhgb quiet\n')
FAKE_IOMEM = (
    '00000000-00000fff : Reserved\n'
    '00001000-0009fbff : System RAM\n'
    '00100000-bffdffff : System RAM\n'
    '100000000-23fffffff : System RAM\n')
HOST_KEY = ('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII4blCoc11m++LjBI+RXvtDtSfCCd'
            '/CLEn1g0iC4CHax')
BASE_ENV = {
    'PATH': '/usr/sbin:/usr/bin:/sbin:/bin',
    'HOME': '/root',
    'LC_ALL': 'C',
    'TERM': 'dumb',
}


def git(gitdir, *args):
    return subprocess.run(['git', '--git-dir=' + gitdir] + list(args),
                          check=True, capture_output=True,
                          text=True).stdout.strip()


class Recorder:
    def __init__(self, gitdirs, work):
        self.gitdirs = gitdirs
        self.work = work
        self.src = {}
        self.meta = {}
        self.counter = 0

    # ------------------------------------------------------------ sources
    def prepare(self):
        for key, upstream, gkey, ref, version, note, paths in SOURCES:
            gd = self.gitdirs[gkey]
            sha = git(gd, 'rev-parse', ref + '^{commit}')
            date = git(gd, 'log', '-1', '--format=%cI', sha)
            subject = git(gd, 'log', '-1', '--format=%s', sha)
            if version is None:
                version = git(gd, 'describe', '--tags', sha)
            dest = os.path.join(self.work, 'src-' + key)
            os.makedirs(dest)
            arch = subprocess.run(
                ['git', '--git-dir=' + gd, 'archive', sha] + (paths or []),
                check=True, capture_output=True).stdout
            subprocess.run(['tar', '-x', '-C', dest], input=arch, check=True)
            self.src[key] = dest
            self.meta[key] = {'upstream': upstream, 'rev': sha,
                              'ref': ref, 'version': version,
                              'date': date, 'subject': subject,
                              'note': note}
        self.build_kdumptool()

    def build_kdumptool(self):
        """g++ the C++ URL/config parser of SLE-15-SP5, unchanged."""
        src = os.path.join(self.src['sp5'], 'kdumptool')
        with open(os.path.join(self.src['sp5'], 'config.h.in')) as f:
            tmpl = f.read()
        # what CMake's configure_file would write (no libesmtp, no FADUMP)
        subst = {'@PACKAGE_STRING@': 'kdump ' + self.meta['sp5']['version'],
                 '@PACKAGE_VERSION@': self.meta['sp5']['version'],
                 '@ESMTP_FOUND@': '0', '@HAVE_FADUMP@': '0'}
        for k, v in subst.items():
            tmpl = tmpl.replace(k, v)
        with open(os.path.join(src, 'config.h'), 'w') as f:
            f.write(tmpl)
        units = ['urlparser.cc', 'rootdirurl.cc', 'stringutil.cc',
                 'stringvector.cc', 'debug.cc', 'global.cc', 'fileutil.cc',
                 'process.cc', 'charv.cc', 'multiplexio.cc',
                 'dataprovider.cc', 'progress.cc', 'configuration.cc',
                 'configparser.cc', 'quotedstring.cc']
        self.kdumptool_units = units
        self.kdumptool = os.path.join(self.work, 'suse_kdumptool_driver')
        subprocess.run(
            ['g++', '-std=gnu++11', '-O0', '-w', '-I', src, '-o',
             self.kdumptool, os.path.join(DRV, 'suse_kdumptool_driver.cc')]
            + [os.path.join(src, u) for u in units], check=True)

    # ------------------------------------------------------------ running
    def scratch(self):
        self.counter += 1
        d = tempfile.mkdtemp(prefix='case%04d.' % self.counter, dir=self.work)
        return d

    def normalize(self, text, scratch, src):
        text = text.replace(scratch, '$SCRATCH')
        if src:
            text = text.replace(src, '$SRC')
        text = text.replace(DRV, '$DRIVER')
        text = text.replace(self.work, '$WORK')
        # dates and times kdump-save / kexec-tools put into names and traces
        text = re.sub(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d', '<ISODATE>', text)
        text = re.sub(r'\d{4}-\d\d-\d\d-\d\d-\d\d', '<DUMPTIME>', text)
        text = re.sub(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d', '<DATE>', text)
        text = re.sub(r'/tmp/kdump\.\w{4}', '/tmp/kdump.XXXX', text)
        return text

    def run(self, argv, scratch, src, env=None, ns=None, pidns=False,
            timeout=120):
        full_env = dict(BASE_ENV)
        full_env['STUB_LOG'] = os.path.join(scratch, 'shim_calls.log')
        full_env.update(env or {})
        if ns is not None:
            argv = [os.path.join(DRV, 'ns_run.sh'),
                    os.path.join(scratch, '.ns')] + ns + ['--'] + argv
            if pidns:
                full_env['NS_RUN_PIDNS'] = '1'
        p = subprocess.run(argv, env=full_env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout, cwd=scratch)
        out = p.stdout.decode('utf-8', 'backslashreplace')
        err = p.stderr.decode('utf-8', 'backslashreplace')
        return (self.normalize(out, scratch, src),
                self.normalize(err, scratch, src), p.returncode)

    def shim_calls(self, scratch, src):
        """argv of the PATH shims (shell-quoted), in call order."""
        p = os.path.join(scratch, 'shim_calls.log')
        if not os.path.exists(p):
            return []
        with open(p, encoding='utf-8', errors='backslashreplace') as f:
            text = f.read()
        os.unlink(p)
        return self.normalize(text, scratch, src).splitlines()


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', newline='') as f:
        f.write(text)


# ======================================================================
# kdump-utils / kexec-tools
# ======================================================================

def has_function(src, name):
    pat = re.compile(r'^' + re.escape(name) + r'\(\)', re.M)
    for f in ('kdumpctl', 'kdump-lib.sh', 'kdump-lib-initramfs.sh'):
        p = os.path.join(src, f)
        if os.path.exists(p):
            with open(p, encoding='utf-8', errors='replace') as fh:
                if pat.search(fh.read()):
                    return True
    return False


def ku_case(rec, key, area, conf, argv, *, env=None, sysconfig=None,
            grubby=None, tmp_files=None, grub_cfg=False, default_grub=None,
            files_after=(), driver_set=None, extra_files=None, note=None,
            name=None):
    """Run kdump_utils_driver.sh for one upstream revision."""
    src = rec.src[key]
    scratch = rec.scratch()
    inp = {}
    if conf is not None:
        write(os.path.join(scratch, 'kdump.conf'),
              conf.replace('{SCRATCH}', scratch))
        inp['kdump.conf'] = conf
    write(os.path.join(scratch, 'iomem'), FAKE_IOMEM)
    write(os.path.join(scratch, 'cmdline'), PROC_CMDLINE)
    # _OSBUILD_ENVIRON_PATH (/proc/1/environ upstream): not an osbuild run
    write(os.path.join(scratch, 'environ'), 'container=\0')
    ns = ['--overlay', '/etc', '--bind',
          os.path.join(scratch, 'cmdline') + '=/proc/cmdline']
    if sysconfig is not None:
        write(os.path.join(scratch, 'sysconfig-kdump'), sysconfig)
        ns += ['--mkdir', '/etc/sysconfig', '--put',
               os.path.join(scratch, 'sysconfig-kdump')
               + '=/etc/sysconfig/kdump']
        inp['/etc/sysconfig/kdump'] = sysconfig
    if tmp_files is not None:
        ns += ['--tmpfs', '/tmp']
        for path, text in sorted(tmp_files.items()):
            local = os.path.join(scratch, 'tmp-' + os.path.basename(path))
            write(local, text)
            ns += ['--put', local + '=' + path]
        inp['tmp_files'] = tmp_files
    full_env = {}
    if grubby is not None:
        write(os.path.join(scratch, 'grubby-entries'),
              ''.join('%s\t%s\n' % e for e in grubby))
        full_env['STUB_GRUBBY_ENTRIES'] = os.path.join(scratch,
                                                       'grubby-entries')
        inp['grubby_entries'] = [{'index': i, 'kernel': k, 'args': a}
                                 for i, (k, a) in enumerate(grubby)]
    if grub_cfg:
        write(os.path.join(scratch, 'grub.cfg'), '# fake\n')
        inp['GRUB_CFG'] = 'present'
    if default_grub is not None:
        write(os.path.join(scratch, 'default-grub'), default_grub)
        inp['GRUB_ETC_DEFAULT'] = default_grub
    for fname, text in (extra_files or {}).items():
        write(os.path.join(scratch, fname), text)
    if extra_files:
        inp['scratch_files'] = extra_files
    if driver_set:
        full_env['DRIVER_SET'] = '\n'.join(
            '%s=%s' % kv for kv in driver_set.items())
        inp['DRIVER_SET'] = driver_set
    if env:
        full_env.update(env)
        inp['env'] = env
    inp['argv'] = argv
    out, err, rc = rec.run(
        ['/bin/bash', os.path.join(DRV, 'kdump_utils_driver.sh'), src,
         scratch] + argv, scratch, src, env=full_env, ns=ns)
    case = {'name': name, 'area': area, 'upstream': rec.meta[key]['upstream'],
            'rev': rec.meta[key]['rev'], 'version': rec.meta[key]['version'],
            'function': function_label(argv), 'input': inp,
            'stdout': out, 'stderr': err, 'rc': rc,
            'shim_calls': rec.shim_calls(scratch, src)}
    if files_after:
        fa = {}
        for fname in files_after:
            p = os.path.join(scratch, fname)
            if os.path.exists(p):
                with open(p, encoding='utf-8', errors='replace') as fh:
                    fa['$SCRATCH/' + fname] = rec.normalize(fh.read(),
                                                            scratch, src)
            else:
                fa['$SCRATCH/' + fname] = None
        case['files_after'] = fa
    if note:
        case['note'] = note
    return case


def function_label(argv):
    mode = argv[0]
    if mode in ('call', 'call+opt'):
        return ' '.join(argv[1:]) + (' (then OPT[])' if mode == 'call+opt'
                                     else '')
    if mode == 'chain':
        key, funcs = argv[1], argv[2:]
        expr = 'kdump_get_conf_val %s' % key
        for f in funcs:
            expr = '%s "$(%s)"' % (f, expr)
        return expr
    if mode == 'calls':
        return ' && '.join(argv[1:])
    if mode == 'vars':
        return 'declare -p ' + ' '.join(argv[1:])
    return ' '.join(argv)


READ_CONF_INPUTS = [
    ('trailing_comment_spaced', 'path /var/crash  # x\n', ['path']),
    ('trailing_comment_glued', 'path /var/crash#x\n', ['path']),
    ('double_quoted_path', 'path "/var/crash"\n', ['path']),
    ('single_quoted_sshkey', "sshkey '/root/.ssh/k'\n", ['sshkey']),
    ('single_quoted_path', "path '/var/crash'\n", ['path']),
    ('double_quoted_with_comment', 'path "/var/crash" # c\n', ['path']),
    ('double_quoted_with_space', 'sshkey "/root/.ssh/kdump id"\n',
     ['sshkey']),
    ('tabs', 'path\t/var/crash\ncore_collector\tmakedumpfile\t-l\t-d 31\n',
     ['path', 'core_collector']),
    ('leading_whitespace',
     '   path /var/crash\n\t\tcore_collector makedumpfile -l\n',
     ['path', 'core_collector']),
    ('trailing_whitespace', 'path /var/crash   \t\n', ['path']),
    ('duplicate_path', 'path /first\npath /second\n', ['path']),
    ('blank_and_comment_lines',
     '# comment\n\n   \n   # indented comment\n\t# tab comment\n'
     'path /var/crash\n', ['path']),
    ('core_collector_default',
     'core_collector makedumpfile -l --message-level 7 -d 31\n',
     ['core_collector']),
    ('core_collector_quoted_comment',
     'core_collector "makedumpfile -l -d 31"  # quoted, trailing comment\n',
     ['core_collector']),
    ('no_newline_at_eof', 'path /var/crash', ['path']),
    ('crlf', 'path /var/crash\r\ncore_collector makedumpfile -l\r\n',
     ['path', 'core_collector']),
    ('value_is_comment', 'path #/var/crash\n', ['path']),
    ('dracut_args_mount',
     'dracut_args --mount "host:/export /var/crash nfs defaults"\n',
     ['dracut_args']),
    ('option_without_value', 'force_rebuild\npath /var/crash\n',
     ['force_rebuild', 'path']),
    ('path_duplicate_slashes', 'path //var//crash/\n', ['path']),
]


def kdump_utils_cases(rec):
    jobs = []
    fixture_conf = read_repo_file('tests/unit/fixtures/rhel9/kdump.conf')
    inputs = list(READ_CONF_INPUTS)
    if fixture_conf is not None:
        inputs.append(('project_fixture_rhel9_kdump_conf', fixture_conf,
                       ['path', 'core_collector', 'auto_reset_crashkernel']))
    for key in ('ku61', 'ku25'):
        src = rec.src[key]
        # ---------------------------------------------------- read_conf
        for name, conf, keys in inputs:
            jobs.append(('read_conf/%s/%s/kdump_read_conf' % (key, name),
                         key, 'read_conf', conf, ['call', 'kdump_read_conf']))
            for k in keys:
                jobs.append(('read_conf/%s/%s/get_conf_val_%s'
                             % (key, name, k), key, 'read_conf', conf,
                             ['call', 'kdump_get_conf_val', k]))
            if 'path' in keys:
                jobs.append(('read_conf/%s/%s/get_save_path' % (key, name),
                             key, 'read_conf', conf,
                             ['call', 'get_save_path']))
            jobs.append(('read_conf/%s/%s/parse_config' % (key, name), key,
                         'read_conf', conf, ['call+opt', 'parse_config']))
        # ---------------------------------------------------- targets
        funcs = ['is_user_configured_dump_target', 'is_ssh_dump_target',
                 'is_nfs_dump_target', 'is_raw_dump_target',
                 'is_virtiofs_dump_target', 'is_mount_in_dracut_args',
                 'get_save_path']
        for name, conf, env in TARGET_INPUTS:
            jobs.append(('targets/%s/%s/parse_config' % (key, name), key,
                         'targets', conf, ['call+opt', 'parse_config'], env))
            for f in funcs:
                if has_function(src, f):
                    jobs.append(('targets/%s/%s/%s' % (key, name, f), key,
                                 'targets', conf, ['call', f], env))
            if 'dracut_args' in conf:
                for f in ('get_dracut_args_target', 'get_dracut_args_fstype'):
                    jobs.append(('targets/%s/%s/%s' % (key, name, f), key,
                                 'targets', conf,
                                 ['chain', 'dracut_args', f], env))
        # ---------------------------------------------------- ssh
        for name, conf in SSH_INPUTS:
            base = 'ssh/%s/%s/' % (key, name)
            jobs.append((base + 'parse_config', key, 'ssh', conf,
                         ['call+opt', 'parse_config']))
            jobs.append((base + 'is_ssh_dump_target', key, 'ssh', conf,
                         ['call', 'is_ssh_dump_target']))
            jobs.append((base + 'get_remote_host', key, 'ssh', conf,
                         ['chain', 'ssh', 'get_remote_host']))
            jobs.append((base + 'is_ipv6_address', key, 'ssh', conf,
                         ['chain', 'ssh', 'is_ipv6_address']))
            jobs.append((base + 'is_hostname_of_remote_host', key, 'ssh',
                         conf, ['chain', 'ssh', 'get_remote_host',
                                'is_hostname']))
            jobs.append((base + 'check_and_wait_network_ready', key, 'ssh',
                         conf, ['calls', 'parse_config',
                                'check_and_wait_network_ready']))
            jobs.append((base + 'propagate_ssh_key', key, 'ssh',
                         conf + 'sshkey {SCRATCH}/kdump_id_rsa\n',
                         ['call', 'propagate_ssh_key'], None,
                         {'kdump_id_rsa': 'not a real key\n'}))
    results = []
    with concurrent.futures.ThreadPoolExecutor(rec.jobs) as ex:
        futs = []
        for job in jobs:
            name, key, area, conf, argv = job[:5]
            env = job[5] if len(job) > 5 else None
            extra = job[6] if len(job) > 6 else None
            futs.append(ex.submit(ku_case, rec, key, area, conf, argv,
                                  env=env, extra_files=extra, name=name))
        results = [f.result() for f in futs]
    results += auto_reset_cases(rec)
    results += sysconfig_cases(rec)
    return results


TARGET_INPUTS = [
    ('ext4_uuid', 'ext4 UUID=0a1b2c3d-1111-2222-3333-444455556666\n'
     'path /var/crash\n', None),
    ('xfs_device', 'xfs /dev/vdb1\npath /dumps\n', None),
    ('btrfs_label', 'btrfs LABEL=dumps\n', None),
    ('minix', 'minix /dev/vdb3\n', None),
    ('raw', 'raw /dev/vdc\n', None),
    ('nfs', 'nfs nfs.example.com:/export/dumps\n', None),
    ('nfs_ipv6', 'nfs [2001:db8::1]:/export/dumps\n', None),
    ('ssh', 'ssh kdump@dump.example.com\n', None),
    ('virtiofs', 'virtiofs myfs\n', None),
    ('dracut_args_mount_nfs',
     'dracut_args --mount "host:/export /var/crash nfs defaults"\n', None),
    ('dracut_args_mount_nfs4',
     'dracut_args --mount "host:/export /var/crash nfs4 defaults"\n', None),
    ('dracut_args_mount_equals',
     'dracut_args --mount="host:/export /var/crash nfs defaults"\n', None),
    ('dracut_args_mount_virtiofs',
     'dracut_args --mount "myfs /var/crash virtiofs defaults"\n', None),
    ('dracut_args_mount_ext4',
     'dracut_args --mount "/dev/vdb1 /var/crash ext4 defaults"\n', None),
    ('dracut_args_two_mounts',
     'dracut_args --mount "a:/x /m1 nfs defaults" --mount "b:/y /m2 nfs '
     'defaults"\n', None),
    ('dracut_args_no_mount', 'dracut_args --omit-drivers "nouveau"\n', None),
    ('two_targets_ext4_nfs', 'ext4 /dev/vdb1\nnfs host:/export\n', None),
    ('two_targets_nfs_nfs', 'nfs a:/x\nnfs b:/y\n', None),
    ('ssh_and_dracut_args_mount',
     'ssh kdump@host.example.com\n'
     'dracut_args --mount "host:/export /var/crash nfs defaults"\n', None),
    ('nfs_and_dracut_args_mount',
     'nfs a:/x\ndracut_args --mount "host:/export /var/crash nfs defaults"\n',
     None),
    ('no_target_path_on_xfs', 'path /var/crash\n', {'STUB_FSTYPE': 'xfs'}),
    ('no_target_path_on_nfs4', 'path /var/crash\n', {'STUB_FSTYPE': 'nfs4'}),
    ('ssh_without_user', 'ssh dump.example.com\n', None),
    ('commented_target', '#nfs host:/export\npath /var/crash\n', None),
    ('target_with_trailing_comment', 'nfs host:/export # the filer\n', None),
]

SSH_INPUTS = [
    ('ipv6_bare', 'ssh kdump@2001:db8::1\n'),
    ('ipv6_bracketed', 'ssh kdump@[2001:db8::1]\n'),
    ('hostname', 'ssh kdump@dump.example.com\n'),
    ('ipv4', 'ssh kdump@192.0.2.1\n'),
    ('hostname_with_port', 'ssh kdump@dump.example.com:2222\n'),
    ('ipv6_link_local_zone', 'ssh kdump@fe80::1%eth0\n'),
]

AUTO_RESET_INPUTS = [
    ('yes', 'auto_reset_crashkernel yes\n'),
    ('no', 'auto_reset_crashkernel no\n'),
    ('absent', 'path /var/crash\n'),
    ('commented_no', '#auto_reset_crashkernel no\npath /var/crash\n'),
    ('capital_No', 'auto_reset_crashkernel No\n'),
    ('no_trailing_comment', 'auto_reset_crashkernel no # keep mine\n'),
    ('quoted_no', 'auto_reset_crashkernel "no"\n'),
    ('zero', 'auto_reset_crashkernel 0\n'),
    ('false', 'auto_reset_crashkernel false\n'),
    ('no_then_yes', 'auto_reset_crashkernel no\nauto_reset_crashkernel yes\n'),
    ('yes_then_no', 'auto_reset_crashkernel yes\nauto_reset_crashkernel no\n'),
    ('empty_value', 'auto_reset_crashkernel\n'),
]

GRUBBY_61 = [
    ('/boot/vmlinuz-6.12.0-55.el10.x86_64',
     'ro crashkernel=2G-64G:256M,64G-:512M rhgb quiet'),
    ('/boot/vmlinuz-6.12.0-50.el10.x86_64',
     'ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M rhgb quiet'),
    ('/boot/vmlinuz-6.12.0-40.el10.x86_64', 'ro crashkernel=512M rhgb quiet'),
    ('/boot/vmlinuz-6.12.0-30.el10.x86_64', 'ro rhgb quiet'),
]
GRUBBY_25 = [
    ('/boot/vmlinuz-5.14.0-70.el9.x86_64',
     'ro crashkernel=1G-4G:160M,4G-64G:192M,64G-:256M rhgb quiet'),
    ('/boot/vmlinuz-5.14.0-60.el9.x86_64',
     'ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M rhgb quiet'),
    ('/boot/vmlinuz-5.14.0-50.el9.x86_64', 'ro crashkernel=512M rhgb quiet'),
    ('/boot/vmlinuz-5.14.0-40.el9.x86_64', 'ro crashkernel=auto rhgb quiet'),
    ('/boot/vmlinuz-5.14.0-30.el9.x86_64', 'ro rhgb quiet'),
]
OLD_DEFAULT_25 = '1G-4G:160M,4G-64G:192M,64G-:256M'
DEFAULT_GRUB_25 = (
    'GRUB_TIMEOUT=5\n'
    'GRUB_CMDLINE_LINUX="resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root '
    'crashkernel=1G-4G:160M,4G-64G:192M,64G-:256M rhgb quiet"\n'
    'GRUB_ENABLE_BLSCFG=true\n')


def auto_reset_cases(rec):
    jobs = []
    for key in ('ku61', 'ku25'):
        src = rec.src[key]
        after = ('_reset-crashkernel-after-update' if key == 'ku61'
                 else 'reset-crashkernel-after-update')
        installed = ('_reset-crashkernel-for-installed_kernel'
                     if key == 'ku61'
                     else 'reset-crashkernel-for-installed_kernel')
        if key == 'ku61':
            common = dict(grubby=GRUBBY_61, grub_cfg=True)
            krel = {'STUB_KREL': '6.12.0-55.el10.x86_64'}
        else:
            common = dict(grubby=GRUBBY_25,
                          tmp_files={'/tmp/old_default_crashkernel':
                                     OLD_DEFAULT_25 + '\n'},
                          default_grub=DEFAULT_GRUB_25,
                          files_after=('default-grub',))
            krel = {'STUB_KREL': '5.14.0-70.el9.x86_64'}
        for name, conf in AUTO_RESET_INPUTS:
            base = 'auto_reset/%s/%s/' % (key, name)
            jobs.append(dict(name=base + 'get_conf_val', key=key, conf=conf,
                             argv=['call', 'kdump_get_conf_val',
                                   'auto_reset_crashkernel']))
            if has_function(src, '_should_reset_crashkernel'):
                jobs.append(dict(name=base + '_should_reset_crashkernel',
                                 key=key, conf=conf,
                                 argv=['call', '_should_reset_crashkernel']))
            jobs.append(dict(name=base + 'main_after_update', key=key,
                             conf=conf, argv=['call', 'main', after],
                             env=krel, **common))
        # kdump.service disabled / no boot loader / kernel install
        if key == 'ku61':
            jobs.append(dict(
                name='auto_reset/ku61/yes/main_after_update_kdump_disabled',
                key=key, conf='auto_reset_crashkernel yes\n',
                argv=['call', 'main', after],
                env=dict(krel, STUB_KDUMP_ENABLED='no'), **common))
            jobs.append(dict(
                name='auto_reset/ku61/yes/main_after_update_no_grub_cfg',
                key=key, conf='auto_reset_crashkernel yes\n',
                argv=['call', 'main', after], env=krel, grubby=GRUBBY_61))
            jobs.append(dict(
                name='auto_reset/ku61/yes/_should_reset_kdump_disabled',
                key=key, conf='auto_reset_crashkernel yes\n',
                argv=['call', '_should_reset_crashkernel'],
                env={'STUB_KDUMP_ENABLED': 'no'}))
            for rel in ('6.12.0-40.el10.x86_64', '6.12.0-30.el10.x86_64',
                        '6.12.0-50.el10.x86_64'):
                for name, conf in (('yes', 'auto_reset_crashkernel yes\n'),
                                   ('no', 'auto_reset_crashkernel no\n')):
                    jobs.append(dict(
                        name='auto_reset/ku61/%s/main_installed_kernel_%s'
                        % (name, rel), key=key, conf=conf,
                        argv=['call', 'main', installed, rel], env=krel,
                        **common))
            jobs.append(dict(
                name='auto_reset/ku61/absent/get_default_crashkernel',
                key=key, conf='path /var/crash\n',
                argv=['call', 'main', 'get-default-crashkernel', 'kdump'],
                env=krel))
        else:
            jobs.append(dict(
                name='auto_reset/ku25/yes/main_after_update_fresh_install',
                key=key, conf='auto_reset_crashkernel yes\n',
                argv=['call', 'main', after], env=krel, grubby=GRUBBY_25,
                tmp_files={}, default_grub=DEFAULT_GRUB_25,
                files_after=('default-grub',),
                note='no /tmp/old_default_crashkernel (what %pre writes only '
                     'on upgrade)'))
            for rel in ('5.14.0-50.el9.x86_64', '5.14.0-30.el9.x86_64'):
                jobs.append(dict(
                    name='auto_reset/ku25/yes/main_installed_kernel_%s' % rel,
                    key=key, conf='auto_reset_crashkernel yes\n',
                    argv=['call', 'main', installed, rel], env=krel,
                    grubby=GRUBBY_25))
            jobs.append(dict(
                name='auto_reset/ku25/absent/get_default_crashkernel',
                key=key, conf='path /var/crash\n',
                argv=['call', 'main', 'get-default-crashkernel', 'kdump'],
                env=krel))
    with concurrent.futures.ThreadPoolExecutor(rec.jobs) as ex:
        futs = []
        for j in jobs:
            j = dict(j)
            name, key, conf, argv = (j.pop('name'), j.pop('key'),
                                     j.pop('conf'), j.pop('argv'))
            futs.append(ex.submit(ku_case, rec, key, 'auto_reset', conf,
                                  argv, name=name, **j))
        return [f.result() for f in futs]


SYSCONFIG_INPUTS = [
    ('single_quotes',
     "KDUMP_COMMANDLINE_APPEND='irqpoll nr_cpus=1 reset_devices'\n"
     "KEXEC_ARGS='-s'\n"),
    ('unquoted_with_spaces',
     'KDUMP_COMMANDLINE_APPEND=irqpoll nr_cpus=1 reset_devices\n'),
    ('unquoted_single_word', 'KEXEC_ARGS=-s\n'),
    ('export_and_comments',
     'export KEXEC_ARGS="-s -d"  # trailing comment\n'
     'KDUMP_COMMANDLINE_APPEND="irqpoll" # another\n'),
    ('shell_expansion',
     'KDUMP_COMMANDLINE_APPEND="irqpoll $(echo nr_cpus=1) '
     '${KDUMP_COMMANDLINE_REMOVE%% *}"\n'),
    ('duplicate_assignment',
     'KDUMP_COMMANDLINE_APPEND="a=1"\nKDUMP_COMMANDLINE_APPEND="b=2"\n'),
    ('crlf', 'KDUMP_COMMANDLINE_APPEND="irqpoll nr_cpus=1"\r\n'
     'KEXEC_ARGS="-s"\r\n'),
    ('unterminated_quote',
     'KDUMP_COMMANDLINE_APPEND="irqpoll\nKEXEC_ARGS="-s"\n'),
    ('fadump_append',
     'FADUMP_COMMANDLINE_APPEND="nr_cpus=16 numa=off cgroup_disable=memory"\n'
     'KDUMP_COMMANDLINE_APPEND="irqpoll"\n'),
    ('append_with_inner_quotes',
     'KDUMP_COMMANDLINE_APPEND="irqpoll dyndbg=\\"file drivers/x +p\\""\n'),
    ('explicit_commandline_and_remove',
     'KDUMP_COMMANDLINE="ro root=/dev/vda3 quiet rhgb console=ttyS0 '
     'crashkernel=512M"\nKDUMP_COMMANDLINE_REMOVE="quiet rhgb"\n'
     'KDUMP_COMMANDLINE_APPEND="irqpoll nr_cpus=1"\nKEXEC_ARGS="-s -d"\n'),
    ('kexec_args_multiple_spaces', 'KEXEC_ARGS="  -s   --elf64-core-headers "\n'),
]
SYSCONFIG_VARS = ['KDUMP_COMMANDLINE', 'KDUMP_COMMANDLINE_REMOVE',
                  'KDUMP_COMMANDLINE_APPEND', 'FADUMP_COMMANDLINE_APPEND',
                  'KEXEC_ARGS', 'KDUMP_KERNELVER', 'KDUMP_IMG',
                  'KDUMP_IMG_EXT']
LOAD_SET = {'TARGET_INITRD':
            '/var/lib/kdump/initramfs-5.14.0-427.13.1.el9_4.x86_64kdump.img',
            'KDUMP_KERNEL': '/boot/vmlinuz-5.14.0-427.13.1.el9_4.x86_64'}


def sysconfig_cases(rec):
    inputs = list(SYSCONFIG_INPUTS)
    fixture = read_repo_file('tests/unit/fixtures/rhel9/sysconfig-kdump')
    if fixture is not None:
        inputs.insert(0, ('project_fixture_rhel9_sysconfig', fixture))
    inputs.insert(0, ('absent', None))
    jobs = []
    for key in ('ku61', 'ku25'):
        src = rec.src[key]
        for name, sc in inputs:
            base = 'sysconfig/%s/%s/' % (key, name)
            jobs.append(dict(name=base + 'vars', key=key,
                             argv=['vars'] + SYSCONFIG_VARS, sysconfig=sc))
            jobs.append(dict(name=base + 'load_kdump', key=key,
                             argv=['call', 'load_kdump'], sysconfig=sc,
                             driver_set=LOAD_SET,
                             files_after=('kdump.log',) if key == 'ku25'
                             else ()))
            if has_function(src, 'fadump_bootargs_append'):
                jobs.append(dict(name=base + 'fadump_bootargs_append',
                                 key=key,
                                 argv=['call', 'fadump_bootargs_append'],
                                 sysconfig=sc,
                                 extra_files={'fadump_bootargs_append': ''},
                                 files_after=('fadump_bootargs_append',)))
    with concurrent.futures.ThreadPoolExecutor(rec.jobs) as ex:
        futs = []
        for j in jobs:
            j = dict(j)
            name, key, argv = j.pop('name'), j.pop('key'), j.pop('argv')
            futs.append(ex.submit(ku_case, rec, key, 'sysconfig',
                                  'path /var/crash\n', argv, name=name, **j))
        return [f.result() for f in futs]


# ----------------------------------------------------------------------
# host OpenSSH: what ssh/scp do with the destinations kdump builds
# ----------------------------------------------------------------------

def openssh_cases(rec):
    ver = subprocess.run(['/usr/bin/ssh', '-V'], capture_output=True,
                         text=True).stderr.strip()
    cases = []

    def one(name, argv, about):
        scratch = rec.scratch()
        out, err, rc = rec.run(['timeout', '20'] + argv, scratch, None)
        if argv[0].endswith('ssh') and '-G' in argv:
            out = ''.join(l + '\n' for l in out.splitlines()
                          if l.split(' ')[0] in ('user', 'hostname', 'port'))
        cases.append({'name': name, 'area': 'ssh',
                      'upstream': 'OpenSSH client of the recording host',
                      'rev': None, 'version': ver,
                      'function': ' '.join(argv), 'input': {'argv': argv},
                      'stdout': out, 'stderr': err, 'rc': rc,
                      'note': about})
    for dest in ('kdump@2001:db8::1', 'kdump@[2001:db8::1]',
                 'kdump@dump.example.com', 'kdump@192.0.2.1',
                 'kdump@dump.example.com:2222',
                 'ssh://kdump@dump.example.com:2222',
                 'ssh://kdump:secret@dump.example.com',
                 'ssh://kdump@[2001:db8::1]',
                 'ssh://kdump@[2001:db8::1]:2222'):
        one('openssh/ssh_G/' + dest,
            ['/usr/bin/ssh', '-F', 'none', '-G', dest],
            'not kdump code: ssh -G (no connection) prints the user, '
            'hostname and port OpenSSH derives from a destination; kdumpctl '
            'check_ssh_config compares this hostname with the part after @')
    opts = ['-F', 'none', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=3']
    for dest in ('kdump@::1', 'kdump@[::1]'):
        one('openssh/ssh_connect/' + dest,
            ['/usr/bin/ssh'] + opts + [dest, 'true'],
            'not kdump code: connection attempt to loopback (nothing '
            'listens): whether ssh can resolve the destination as given')
    for dest in ('kdump@::1:/var/crash/x', 'kdump@[::1]:/var/crash/x'):
        one('openssh/scp_connect/' + dest,
            ['/usr/bin/scp'] + opts + ['/etc/hostname', dest],
            'not kdump code: scp to loopback (nothing listens): whether the '
            'IPv6 destination parses with or without brackets')
    return cases


# ======================================================================
# openSUSE kdump
# ======================================================================

SUSE_URLS = [
    '/var/crash', 'file:///var/crash', 'FILE:///var/crash',
    'file://localhost/var/crash', 'file://var/crash', 'var/crash',
    'file:///mnt/dumps', 'nfs://server/export/path',
    'nfs://[2001:db8::1]/export', 'nfs://server:2049/export',
    'ssh://user@host/path', 'ssh://user@host:2222/path',
    'ssh://host/path', 'ssh://user:secret@host/path',
    'ssh://user@[2001:db8::1]/path', 'ssh://user@[2001:db8::1]:2222/path',
    'ssh://user@2001:db8::1/path', 'ssh://user%40example.com@host/path',
    'sftp://user@host/path', 'sftp://user@host:2222/path',
    'sftp://user:pw@[2001:db8::1]/path', 'scp://user@host/path',
    'ftp://host/path', 'ftp://user:pw@host:2121/path',
    'cifs://user:pw@server/share/dir', 'smb://server/share',
    'http://host/path', '', '/var/crash file:///mnt/dumps',
    'ssh://user@host', 'nfs://server',
]

SUSE_OPTION_INPUTS = [
    ('dumpformat_ELF', 'KDUMP_DUMPFORMAT="ELF"\n'),
    ('dumpformat_lowercase_elf', 'KDUMP_DUMPFORMAT="elf"\n'),
    ('dumpformat_bogus', 'KDUMP_DUMPFORMAT="gzip"\n'),
    ('keep_old_dumps_5', 'KDUMP_KEEP_OLD_DUMPS=5\n'),
    ('keep_old_dumps_minus1', 'KDUMP_KEEP_OLD_DUMPS=-1\n'),
    ('keep_old_dumps_word', 'KDUMP_KEEP_OLD_DUMPS="five"\n'),
    ('keep_old_dumps_space', 'KDUMP_KEEP_OLD_DUMPS=" 5"\n'),
    ('keep_old_dumps_empty', 'KDUMP_KEEP_OLD_DUMPS=""\n'),
    ('host_key', 'KDUMP_HOST_KEY="%s"\n' % HOST_KEY),
    ('host_key_star', 'KDUMP_HOST_KEY="*"\n'),
    ('ssh_identity_list',
     'KDUMP_SSH_IDENTITY="/root/.ssh/kdump_id_ed25519 id_rsa"\n'),
    ('bool_yes', 'KDUMP_IMMEDIATE_REBOOT="yes"\n'),
    ('bool_NO', 'KDUMP_IMMEDIATE_REBOOT="NO"\n'),
    ('bool_0', 'KDUMP_IMMEDIATE_REBOOT=0\n'),
    ('bool_bogus', 'KDUMP_AUTO_RESIZE="maybe"\n'),
    ('bool_TRUE', 'KDUMP_AUTO_RESIZE="TRUE"\n'),
    ('cpus_empty', 'KDUMP_CPUS=""\n'),
    ('commandline_append_unquoted',
     'KDUMP_COMMANDLINE_APPEND=nr_cpus=1 irqpoll\n'),
    ('value_with_double_spaces',
     'KDUMP_COMMANDLINE_APPEND="a  b"\nKDUMP_SAVEDIR="/var/crash"\n'),
    ('value_with_newline', 'KDUMP_COMMANDLINE_APPEND="a\nb"\n'),
    ('fadump_commandline_append',
     'FADUMP_COMMANDLINE_APPEND="nr_cpus=16 numa=off"\n'),
    ('deprecated_option', 'KDUMP_COPY_KERNEL="yes"\n'),
]


def suse_case(rec, key, area, function, argv, inp, *, env=None, ns=None,
              pidns=False, name=None, files=None, note=None, scratch=None):
    src = rec.src[key]
    scratch = scratch or rec.scratch()
    for fname, text in (files or {}).items():
        write(os.path.join(scratch, fname), text)
    argv = [a.replace('{SCRATCH}', scratch).replace('{SRC}', src)
            for a in argv]
    if ns is not None:
        ns = [a.replace('{SCRATCH}', scratch).replace('{SRC}', src)
              for a in ns]
    full_env = {k: v.replace('{SCRATCH}', scratch).replace('{SRC}', src)
                for k, v in (env or {}).items()}
    out, err, rc = rec.run(argv, scratch, src, env=full_env, ns=ns,
                           pidns=pidns)
    case = {'name': name, 'area': area, 'upstream': rec.meta[key]['upstream'],
            'rev': rec.meta[key]['rev'], 'version': rec.meta[key]['version'],
            'function': function, 'input': inp, 'stdout': out,
            'stderr': err, 'rc': rc,
            'shim_calls': rec.shim_calls(scratch, src)}
    if note:
        case['note'] = note
    return case


def sysconfig_text(savedir):
    return 'KDUMP_SAVEDIR="%s"\n' % savedir


def suse_cases(rec):
    jobs = []
    sles_fixture = read_repo_file('tests/unit/fixtures/sles15/sysconfig-kdump')
    # --------------------------------------------- C++ (SLE-15-SP5)
    for u in SUSE_URLS:
        jobs.append(dict(
            key='sp5', area='suse_url', name='suse_url/sp5/url/' + u,
            function='RootDirURL(url, ROOT) per whitespace-separated '
                     'element (URLParser::URLParser)',
            argv=[rec.kdumptool, 'url', u, '{SCRATCH}/root'],
            inp={'KDUMP_SAVEDIR': u, 'rootdir': '$SCRATCH/root'},
            files={'root/.keep': ''}))
    cfg_inputs = [('savedir ' + u, sysconfig_text(u)) for u in
                  ('/var/crash', 'ssh://user@[2001:db8::1]:2222/path',
                   'file:///mnt/dumps  nfs://server/export')]
    cfg_inputs += [('absent', None), ('empty_file', '')]
    cfg_inputs += SUSE_OPTION_INPUTS
    if sles_fixture is not None:
        cfg_inputs.append(('project_fixture_sles15_sysconfig', sles_fixture))
    for name, text in cfg_inputs:
        area = 'suse_url' if name.startswith('savedir') else 'sysconfig'
        files = {'root/.keep': ''}
        if text is not None:
            files['sysconfig-kdump'] = text
        jobs.append(dict(
            key='sp5', area=area, name='%s/sp5/config/%s' % (area, name),
            function='Configuration::readFile (ShellConfigParser via '
                     '/bin/sh), then RootDirURL on KDUMP_SAVEDIR',
            argv=[rec.kdumptool, 'config', '{SCRATCH}/sysconfig-kdump',
                  '{SCRATCH}/root'],
            inp={'/etc/sysconfig/kdump': text}, files=files,
            note='/bin/sh of the recording host is '
                 + os.path.realpath('/bin/sh')))
    for key in ('sp6', 'v219'):
        # --------------------------------------- kdump-read-config.sh
        rc_inputs = [('savedir ' + u, sysconfig_text(u)) for u in SUSE_URLS]
        rc_inputs += [('absent', None)] + SUSE_OPTION_INPUTS
        if sles_fixture is not None:
            rc_inputs.append(('project_fixture_sles15_sysconfig',
                              sles_fixture))
        for name, text in rc_inputs:
            area = 'suse_url' if name.startswith('savedir') else 'sysconfig'
            files, env = {}, {}
            if text is not None:
                files['sysconfig-kdump'] = text
                env['KDUMP_CONF'] = '{SCRATCH}/sysconfig-kdump'
            else:
                env['KDUMP_CONF'] = '{SCRATCH}/absent'
            jobs.append(dict(
                key=key, area=area,
                name='%s/%s/read_config/%s' % (area, key, name),
                function='KDUMP_CONF=FILE kdump-read-config.sh --print',
                argv=['/bin/bash', '{SRC}/kdump-read-config.sh', '--print'],
                inp={'/etc/sysconfig/kdump': text}, files=files, env=env,
                note=None if text is not None else
                'KDUMP_CONF names a missing file'))
        # --------------------------------------- init/mkdumprd get_mount
        for u in ('/var/crash', 'file:///var/crash', 'file:///mnt/dumps',
                  'file:///mnt/dumps/sub/dir', 'nfs://server/export/path',
                  'nfs://[2001:db8::1]/export', 'nfs://server:2049/export',
                  'cifs://user:pw@server/share/dir',
                  'ssh://user@host:2222/path'):
            jobs.append(dict(
                key=key, area='suse_url',
                name='suse_url/%s/mkdumprd/%s' % (key, u),
                function='init/mkdumprd -f (get_mount -> dracut --mount); '
                         'dracut is a shim that logs its argv',
                argv=['/bin/bash', '{SRC}/init/mkdumprd', '-f', '-I',
                      '{SCRATCH}/initrd', '-K',
                      '{SCRATCH}/vmlinuz-6.4.0-150600.23-default'],
                inp={'/etc/sysconfig/kdump': sysconfig_text(u),
                     'mounts': {'/mnt': 'tmpfs', '/mnt/dumps':
                                'tmpfs named dumpsfs (a separate fs)',
                                '/var': 'tmpfs named varfs'}},
                files={'sysconfig-kdump': sysconfig_text(u),
                       'vmlinuz-6.4.0-150600.23-default': 'fake kernel\n'},
                env={'KDUMP_CONF': '{SCRATCH}/sysconfig-kdump',
                     'PATH': DRV + '/shims:/usr/sbin:/usr/bin:/sbin:/bin'},
                ns=['--overlay', '/usr/lib', '--mkdir', '/usr/lib/kdump',
                    '--put', '{SRC}/kdump-read-config.sh='
                    '/usr/lib/kdump/kdump-read-config.sh',
                    '--tmpfs', '/var=varfs', '--overlay', '/etc',
                    '--tmpfs', '/mnt', '--mkdir', '/mnt/dumps',
                    '--tmpfs', '/mnt/dumps=dumpsfs']))
        # --------------------------------------- kdump_init_ssh
        init_ssh = [
            ('host_key_port', 'ssh://user@host:2222/path', HOST_KEY, '',
             None, 'host [host]:2222'),
            ('host_key_ipv6', 'ssh://user@[2001:db8::1]/path', HOST_KEY, '',
             None, '2001:db8::1 [2001:db8::1]'),
            ('host_key_ipv6_port', 'ssh://user@[2001:db8::1]:2222/path',
             HOST_KEY, '', None, '[2001:db8::1]:2222'),
            ('host_key_base64_only', 'ssh://user@host/path',
             HOST_KEY.split(' ', 1)[1], '', None, 'host'),
            ('host_key_star_sftp', 'sftp://user@host/path', '*', '', None,
             ''),
            ('host_key_from_known_hosts', 'ssh://user@host/path', '', '',
             HOST_KEY, 'host'),
            ('host_key_unknown', 'ssh://user@host/path', '', '', None, ''),
            ('identity_absolute', 'ssh://user@host/path', HOST_KEY,
             '/root/.ssh/kdump_key', None, ''),
            ('identity_relative_list', 'ssh://user@host/path', HOST_KEY,
             'kdump_key id_ed25519', None, ''),
            ('identity_default', 'ssh://user@host/path', HOST_KEY, '', None,
             ''),
            ('identity_missing', 'ssh://user@host/path', HOST_KEY,
             '/etc/ssh/other_key', None, ''),
        ]
        for name, u, hk, ident, known, lookups in init_ssh:
            text = ('KDUMP_SAVEDIR="%s"\nKDUMP_HOST_KEY="%s"\n'
                    'KDUMP_SSH_IDENTITY="%s"\n' % (u, hk, ident))
            files = {'sysconfig-kdump': text}
            ns = ['--tmpfs', '/root', '--mkdir', '/root/.ssh']
            for f in ('kdump_key', 'kdump_key.pub', 'id_ed25519',
                      'id_ed25519.pub', 'id_rsa'):
                files['dot-ssh/' + f] = 'dummy %s\n' % f
                ns += ['--put', '{SCRATCH}/dot-ssh/%s=/root/.ssh/%s' % (f, f)]
            env = {'KDUMP_CONF': '{SCRATCH}/sysconfig-kdump',
                   'LOOKUP_NAMES': lookups}
            if known:
                env['STUB_KNOWN_HOST_KEY'] = known
            jobs.append(dict(
                key=key, area='suse_url',
                name='suse_url/%s/kdump_init_ssh/%s' % (key, name),
                function='dracut/module-setup.sh kdump_init_ssh',
                argv=['/bin/bash', DRV + '/suse_init_ssh_driver.sh', '{SRC}',
                      '{SCRATCH}'],
                inp={'/etc/sysconfig/kdump': text,
                     '/root/.ssh': sorted(f for f in files
                                          if f.startswith('dot-ssh/')),
                     'ssh-keygen -F answers': known,
                     'LOOKUP_NAMES': lookups},
                files=files, env=env, ns=ns))
        # --------------------------------------- kdump-save
        save_inputs = [
            ('ssh_port', 'ssh://user@host:2222/path', 'compressed'),
            ('ssh_ipv6', 'ssh://user@[2001:db8::1]/path', 'compressed'),
            ('ssh_ipv6_port', 'ssh://user@[2001:db8::1]:2222/path',
             'compressed'),
            ('ssh_password', 'ssh://user:secret@host/path', 'compressed'),
            ('sftp_port', 'sftp://user@host:2222/path', 'compressed'),
            ('sftp_password_ipv6', 'sftp://user:pw@[2001:db8::1]/path',
             'compressed'),
            ('ftp', 'ftp://user:pw@host/path', 'compressed'),
        ]
        for fmt in ('lzo', 'snappy', 'zstd', 'ELF', 'raw', 'none', 'elf',
                    'gzip'):
            save_inputs.append(('dumpformat_' + fmt, 'ssh://user@host/path',
                                fmt))
        for name, u, fmt in save_inputs:
            jobs.append(dict(kind='kdump-save', key=key, name=name, url=u,
                             fmt=fmt))
    results = []
    with concurrent.futures.ThreadPoolExecutor(rec.jobs) as ex:
        futs = []
        for j in jobs:
            j = dict(j)
            if j.get('kind') == 'kdump-save':
                futs.append(ex.submit(kdump_save_case, rec, j['key'],
                                      j['name'], j['url'], j['fmt']))
                continue
            key, area = j.pop('key'), j.pop('area')
            function, argv, inp = j.pop('function'), j.pop('argv'), j.pop(
                'inp')
            futs.append(ex.submit(suse_case, rec, key, area, function, argv,
                                  inp, **j))
        results = [f.result() for f in futs]
    return results


def kdump_save_case(rec, key, name, url, fmt):
    """openSUSE dracut/kdump-save (2nd kernel) with the /etc/kdump.conf that
    module-setup.sh's install() writes (kdump-read-config.sh --print)."""
    src = rec.src[key]
    scratch = rec.scratch()
    text = ('KDUMP_SAVEDIR="%s"\nKDUMP_DUMPFORMAT="%s"\n'
            'KDUMP_CONTINUE_ON_ERROR="false"\n' % (url, fmt))
    write(os.path.join(scratch, 'sysconfig-kdump'), text)
    out, err, rc = rec.run(
        ['/bin/bash', os.path.join(src, 'kdump-read-config.sh'), '--print'],
        scratch, src, env={'KDUMP_CONF': os.path.join(scratch,
                                                       'sysconfig-kdump')})
    if rc != 0:
        raise RuntimeError('kdump-read-config.sh failed: ' + err)
    write(os.path.join(scratch, 'kdump.conf'), out)
    rec.shim_calls(scratch, src)
    write(os.path.join(scratch, 'hostname.kdump'), 'testhost\n')
    write(os.path.join(scratch, 'cpuinfo'), ''.join(
        'processor\t: %d\nmodel name\t: fake\n\n' % i for i in range(4)))
    ns = ['--bind', os.path.join(scratch, 'cpuinfo') + '=/proc/cpuinfo',
          '--overlay', '/etc',
          '--put', os.path.join(scratch, 'kdump.conf') + '=/etc/kdump.conf',
          '--put', os.path.join(scratch, 'hostname.kdump')
          + '=/etc/hostname.kdump',
          '--tmpfs', '/tmp']
    env = {'PATH': '%s/shims-2nd-kernel:%s/shims:/usr/sbin:/usr/bin:/sbin:'
                   '/bin' % (DRV, DRV)}
    out, err, rc = rec.run(
        ['timeout', '60', '/bin/bash', os.path.join(src, 'dracut',
                                                    'kdump-save')],
        scratch, src, env=env, ns=ns, pidns=True)
    calls = rec.shim_calls(scratch, src)
    area = 'sysconfig' if name.startswith('dumpformat') else 'suse_url'
    return {'name': '%s/%s/kdump-save/%s' % (area, key, name),
            'area': area,
            'upstream': rec.meta[key]['upstream'], 'rev': rec.meta[key]['rev'],
            'version': rec.meta[key]['version'],
            'function': 'dracut/kdump-save (main), /etc/kdump.conf = '
                        'kdump-read-config.sh --print of the input',
            'input': {'/etc/sysconfig/kdump': text,
                      '/etc/hostname.kdump': 'testhost\n'},
            'stdout': out, 'stderr': err, 'rc': rc,
            'shim_calls': [c for c in calls
                           if not c.startswith('makedumpfile ')],
            'shim_calls_background': [c for c in calls
                                      if c.startswith('makedumpfile ')],
            'note': 'KDUMP_CONTINUE_ON_ERROR=false so that the missing '
                    '/proc/vmcore (fatal_error) only starts the debug shell '
                    '(a shim that returns) and the save steps still run; '
                    'ssh/lftp/makedumpfile/ping/umount/reboot are shims that '
                    'log their argv (makedumpfile runs in the background '
                    'next to the save command, so its calls are listed '
                    'apart in shim_calls_background); own PID namespace; '
                    '/proc/cpuinfo shows 4 CPUs'}


def read_repo_file(rel):
    p = os.path.join(REPO, rel)
    if not os.path.exists(p):
        return None
    with open(p, newline='') as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('kdump_utils_git')
    ap.add_argument('opensuse_kdump_git')
    ap.add_argument('--out', default=DEFAULT_OUT)
    ap.add_argument('--jobs', type=int, default=8)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('needs root (unshare -m, overlayfs)')
    for tool in ('gawk', 'g++', 'unshare', '/usr/bin/ssh', 'ssh-keygen'):
        if not shutil.which(tool):
            sys.exit('needs %s (Debian: apt-get install gawk g++ '
                     'openssh-client util-linux)' % tool)
    base = '/dev/shm' if os.access('/dev/shm', os.W_OK) else None
    work = tempfile.mkdtemp(prefix='kdump_conf_parsing.', dir=base)
    try:
        rec = Recorder({'ku': os.path.abspath(args.kdump_utils_git),
                        'suse': os.path.abspath(args.opensuse_kdump_git)},
                       work)
        rec.jobs = args.jobs
        rec.prepare()
        cases = []
        cases += kdump_utils_cases(rec)
        cases += openssh_cases(rec)
        cases += suse_cases(rec)
        doc = {
            'sources': [{'upstream': rec.meta[k]['upstream'],
                         'rev': rec.meta[k]['rev'],
                         'ref': rec.meta[k]['ref'],
                         'version': rec.meta[k]['version'],
                         'date': rec.meta[k]['date'],
                         'subject': rec.meta[k]['subject'],
                         'note': rec.meta[k]['note']}
                        for k, *_ in SOURCES],
            'command': 'python3 hacking/record/kdump_conf_parsing.py %s %s'
                       % (args.kdump_utils_git, args.opensuse_kdump_git),
            'recorded': datetime.date.today().isoformat(),
            'host': {'bash': subprocess.run(
                         ['bash', '--version'], capture_output=True,
                         text=True).stdout.splitlines()[0],
                     'openssh': subprocess.run(
                         ['/usr/bin/ssh', '-V'], capture_output=True,
                         text=True).stderr.strip(),
                     'bin_sh': os.path.realpath('/bin/sh'),
                     'kdumptool_units': rec.kdumptool_units},
            'layout': (
                "One case = one run of unchanged upstream code in a fresh "
                "scratch directory ($SCRATCH; $SRC = the extracted upstream "
                "tree, $DRIVER = hacking/record/kdump_conf_parsing) inside a "
                "private mount namespace. input: the files the code read "
                "(kdump.conf = KDUMP_CONFIG_FILE, /etc/sysconfig/kdump, "
                "fake grubby entries, /tmp files, ...) and argv of "
                "kdump_utils_driver.sh (modes call / call+opt = then "
                "kdumpctl's OPT[] array / chain / calls / vars). stderr holds "
                "kdumpctl's messages ('kdump: ...'); shim_calls: argv of the "
                "PATH shims (ssh, grubby, dracut, kexec, ...; shell-quoted) "
                "in call order. files_after: scratch "
                "files after the run (null: absent). Timestamps are replaced "
                "by <DATE>/<ISODATE>/<DUMPTIME>. Stubbed host probes of the "
                "kdump-utils driver: uname -m x86_64, df -> /dev/vda3 on /, "
                "findmnt FSTYPE -> STUB_FSTYPE (xfs), hostname "
                "testhost.example.com / 192.0.2.10, blkid fails, "
                "get_bootcpu_apicid and get_watchdog_drvs print nothing, "
                "/proc/cmdline bind-mounted to a fixed RHEL 9 line, "
                "PROC_IOMEM 8 GiB."),
            'cases': cases,
        }
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(doc, f, indent=1, ensure_ascii=False, sort_keys=False)
            f.write('\n')
        print('%d cases -> %s' % (len(cases), args.out))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
