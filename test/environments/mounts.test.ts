import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { NamespaceDriver, hostDirsToHide, installPrefix, keptPathIn, mountTable, sharedDirs } from '../../src/environments/sandbox/namespace.js';
import { readOnlyMounts } from '../../src/environments/sandbox/read-only.js';
import { isRoot } from './helpers.js';

describe('the mount table of a namespace environment', () => {
  test('tmpfs /tmp, kept paths under it bound back in order, an empty read-only /dev/shm; odd characters escaped', () => {
    const t = mountTable(512, ['/tmp/a dir/code', '/srv/not-hidden', '/dev/shm/x', '/tmp/tab\there\\back']);
    assert.equal(t, [
      'stratus-tmp /tmp tmpfs size=512m,mode=1777,nosuid,nodev 0 0',
      '/proc/self/fd/4 /tmp/a\\040dir/code none bind,X-mount.mkdir 0 0',
      '/proc/self/fd/7 /tmp/tab\\011here\\134back none bind,X-mount.mkdir 0 0',
      // Lambda has no /dev/shm: nothing can be made there (a kept path under it is bound back first).
      'stratus-shm /dev/shm tmpfs size=1m,mode=755,nosuid,nodev 0 0',
      '/proc/self/fd/6 /dev/shm/x none bind,X-mount.mkdir 0 0',
      'stratus-shm /dev/shm tmpfs remount,ro,nosuid,nodev 0 0',
      '',
    ].join('\n'));
    assert.match(mountTable(512, []), /\nstratus-shm \/dev\/shm tmpfs size=1m,mode=755,nosuid,nodev,ro 0 0\n$/);
    // The environment's passwd goes first, while its file under /tmp is still the host's.
    assert.match(mountTable(512, [], '/tmp/etc dir/passwd-7'), /^\/tmp\/etc\\040dir\/passwd-7 \/etc\/passwd none bind,ro 0 0\nstratus-tmp \/tmp /);
    assert.match(mountTable(512, [], undefined, '/usr/bin/bash'), /^\/usr\/bin\/bash \/bin\/sh none bind,ro 0 0\nstratus-tmp \/tmp /);
  });

  test('kept paths that are only bind sources go to a 0700 tmpfs over /root, out of /tmp; the code bound from there', () => {
    const t = mountTable(512, ['/tmp/d/code', '/tmp/node'], undefined, undefined, ['/opt'], '/tmp/d/code/abc', '/tmp/checkout/runtimes/nodejs', '/tmp/d/code/layers-1', [true, false]);
    assert.equal(t, [
      '/tmp/checkout/runtimes/nodejs /var/runtime none bind,ro,nosuid,nodev 0 0',
      'stratus-tmp /tmp tmpfs size=512m,mode=1777,nosuid,nodev 0 0',
      '/proc/self/fd/5 /tmp/node none bind,X-mount.mkdir 0 0',
      'stratus-shm /dev/shm tmpfs size=1m,mode=755,nosuid,nodev,ro 0 0',
      'stratus-hide /opt tmpfs size=1m,mode=755,nosuid,nodev,ro 0 0',
      'stratus-kept /root tmpfs size=1m,mode=700,nosuid,nodev 0 0',
      '/proc/self/fd/4 /root/0 none bind,X-mount.mkdir 0 0',
      '/root/0/abc /var/task none bind,ro,nosuid,nodev 0 0',
      '/root/0/layers-1 /opt none bind,ro,nosuid,nodev 0 0',
      '',
    ].join('\n'));
    assert.equal(keptPathIn(['/tmp/d/code', '/tmp/node'], [true, false], '/tmp/d/code/abc'), '/root/0/abc');
    assert.equal(keptPathIn(['/tmp/d/code', '/tmp/node'], [true, false], '/tmp/node/bin'), '/tmp/node/bin');
    assert.equal(keptPathIn(['/tmp/d/code'], [true], '/tmp/d/codex'), '/tmp/d/codex');
  });

  test('the host directories hidden: real paths of those that exist, a nested one once', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-hide-'));
    try {
      const outer = fs.mkdtempSync('/var/tmp/stratus-hide-');
      try {
        fs.mkdirSync(path.join(outer, 'inner'));
        fs.symlinkSync(path.join(outer, 'inner'), path.join(d, 'link'));
        // Under /tmp: its own tmpfs hides it already. A link counts as its target; missing ones are skipped.
        assert.deepEqual(hostDirsToHide([d, path.join(d, 'link'), outer, '/nonexistent-stratus']), [outer]);
        assert.deepEqual(hostDirsToHide([path.join(d, 'link')]), [path.join(outer, 'inner')]);
      } finally {
        fs.rmSync(outer, { recursive: true, force: true });
      }
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  test('/var/runtime: a shipped runtime\'s directory bound first (its host path may be under /tmp or /opt); a custom runtime\'s empty', () => {
    assert.equal(mountTable(512, [], undefined, undefined, ['/opt'], '/srv/code', '/tmp/checkout/runtimes/nodejs'), [
      '/tmp/checkout/runtimes/nodejs /var/runtime none bind,ro,nosuid,nodev 0 0',
      'stratus-tmp /tmp tmpfs size=512m,mode=1777,nosuid,nodev 0 0',
      'stratus-shm /dev/shm tmpfs size=1m,mode=755,nosuid,nodev,ro 0 0',
      'stratus-hide /opt tmpfs size=1m,mode=755,nosuid,nodev,ro 0 0',
      '/srv/code /var/task none bind,ro,nosuid,nodev 0 0',
      '',
    ].join('\n'));
    assert.match(mountTable(512, [], undefined, undefined, [], undefined, null), /^stratus-runtime \/var\/runtime tmpfs size=1m,mode=755,ro,nosuid,nodev 0 0\nstratus-tmp /);
    assert.doesNotMatch(mountTable(512, []), /var\/runtime/);
  });

  test('an empty read-only /opt; kept paths under it bound back before it is made read-only', () => {
    assert.equal(mountTable(512, ['/tmp/code'], undefined, undefined, ['/opt']), [
      'stratus-tmp /tmp tmpfs size=512m,mode=1777,nosuid,nodev 0 0',
      '/proc/self/fd/4 /tmp/code none bind,X-mount.mkdir 0 0',
      'stratus-shm /dev/shm tmpfs size=1m,mode=755,nosuid,nodev,ro 0 0',
      'stratus-hide /opt tmpfs size=1m,mode=755,nosuid,nodev,ro 0 0',
      '',
    ].join('\n'));
    assert.equal(mountTable(512, ['/tmp/code', '/opt/node/20'], undefined, undefined, ['/opt']), [
      'stratus-tmp /tmp tmpfs size=512m,mode=1777,nosuid,nodev 0 0',
      '/proc/self/fd/4 /tmp/code none bind,X-mount.mkdir 0 0',
      'stratus-shm /dev/shm tmpfs size=1m,mode=755,nosuid,nodev,ro 0 0',
      'stratus-hide /opt tmpfs size=1m,mode=755,nosuid,nodev 0 0',
      '/proc/self/fd/5 /opt/node/20 none bind,X-mount.mkdir 0 0',
      'stratus-hide /opt tmpfs remount,ro,nosuid,nodev 0 0',
      '',
    ].join('\n'));
    // Every hidden directory in turn, each with its own kept paths bound back.
    assert.equal(mountTable(64, ['/var/tmp/data'], undefined, undefined, ['/opt', '/var/tmp']), [
      'stratus-tmp /tmp tmpfs size=64m,mode=1777,nosuid,nodev 0 0',
      'stratus-shm /dev/shm tmpfs size=1m,mode=755,nosuid,nodev,ro 0 0',
      'stratus-hide /opt tmpfs size=1m,mode=755,nosuid,nodev,ro 0 0',
      'stratus-hide /var/tmp tmpfs size=1m,mode=755,nosuid,nodev 0 0',
      '/proc/self/fd/4 /var/tmp/data none bind,X-mount.mkdir 0 0',
      'stratus-hide /var/tmp tmpfs remount,ro,nosuid,nodev 0 0',
      '',
    ].join('\n'));
    assert.equal(installPrefix('/opt/hostedtoolcache/node/20.11.0/x64/bin/node'), '/opt/hostedtoolcache/node/20.11.0/x64');
    assert.equal(installPrefix('/opt/tools/python3'), '/opt/tools');
  });

  test('the host\'s mounts made read-only first (the root as "/.", which mount -a does not skip), each with its other options; shared directories bound before', () => {
    const info = [
      // Listed before the root, as on hosts whose root was switched to at boot.
      '22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw',
      '24 27 0:5 / /dev rw,nosuid,relatime - devtmpfs udev rw,size=100k',
      '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard',
      '25 27 0:25 / /run rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755',
      '26 25 0:26 / /run/lock rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,size=5120k',
      '28 25 0:27 / /run/user/1000 rw,nosuid,nodev,relatime - tmpfs tmpfs rw,mode=700',
      '29 27 7:1 / /snap/core/1 ro,nodev,relatime - squashfs /dev/loop1 ro',
      '30 27 254:1 / /srv/my\\040data rw,noatime - ext4 /dev/vdb rw',
      '31 27 0:40 / /tmp/x rw,relatime - tmpfs tmpfs rw',
      '32 27 254:2 / /home rw,relatime - ext4 /dev/vdc rw',
      // on the first /home: what /home leads to
      '33 32 254:3 / /home rw,nosuid,relatime - ext4 /dev/vdd rw',
      '34 27 254:4 / /mnt/old rw,relatime - ext4 /dev/vde rw',
      // over /mnt/old, which is out of sight
      '35 27 254:5 / /mnt rw,relatime - ext4 /dev/vdf rw',
      '36 27 0:50 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw',
      '',
    ].join('\n');
    const ro = readOnlyMounts(info, ['/tmp', '/dev/shm', '/run/lock']);
    assert.deepEqual(ro.map((m) => [m.at, m.options.join(',')]), [
      ['/', 'relatime'], ['/run', 'nosuid,nodev,noexec,relatime'], ['/srv/my data', 'noatime'], ['/home', 'nosuid,relatime'], ['/mnt', 'relatime'],
    ]);
    assert.equal(mountTable(64, [], '/tmp/etc/passwd-7', undefined, [], undefined, undefined, undefined, [], { readOnly: ro, shared: ['/srv/shared'] }), [
      '/tmp/etc/passwd-7 /etc/passwd none bind,ro 0 0',
      '/srv/shared /srv/shared none bind,nosuid,nodev 0 0',
      'none /. none remount,bind,ro,relatime 0 0',
      'none /run none remount,bind,ro,nosuid,nodev,noexec,relatime 0 0',
      'none /srv/my\\040data none remount,bind,ro,noatime 0 0',
      'none /home none remount,bind,ro,nosuid,relatime 0 0',
      'none /mnt none remount,bind,ro,relatime 0 0',
      'stratus-tmp /tmp tmpfs size=64m,mode=1777,nosuid,nodev 0 0',
      'stratus-shm /dev/shm tmpfs size=1m,mode=755,nosuid,nodev,ro 0 0',
      '',
    ].join('\n'));
    // What the shared directories are (or hold) stays as it is; a read-only root is left alone.
    assert.deepEqual(readOnlyMounts(info, ['/tmp', '/srv/my data', '/home']).map((m) => m.at), ['/', '/run', '/run/lock', '/mnt']);
    assert.deepEqual(readOnlyMounts('1 0 8:1 / / ro,relatime - ext4 /dev/sda ro\n', []), []);
  });

  test('shared directories: real paths, once each; refused with the variable named when missing or where environments have their own', () => {
    // Outside /tmp, which environments have of their own.
    const d = fs.mkdtempSync(path.join(isRoot && fs.existsSync('/var/lib') ? '/var/lib' : os.homedir(), 'stratus-shared-'));
    try {
      fs.mkdirSync(path.join(d, 'inner'));
      fs.symlinkSync(path.join(d, 'inner'), path.join(d, 'link'));
      assert.deepEqual(sharedDirs([path.join(d, 'link'), d, d], []), [d]);
      assert.deepEqual(sharedDirs([path.join(d, 'link')], []), [path.join(d, 'inner')]);
      for (const [dir, why] of [[path.join(d, 'nope'), 'does not exist'], ['/tmp', 'is /tmp, which every environment has of its own'],
        ['/proc/self', 'under /proc'], ['/', 'whole file system'], [d, `is ${d}, which every environment`]] as const) {
        assert.throws(() => sharedDirs([dir], [d]), (e: Error) => e.message.startsWith(`STRATUS_SHARED_DIRS names "${dir}", which `) && e.message.includes(why), dir);
      }
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('mounts inside a namespace environment', { skip: !isRoot && 'namespace driver needs root (CI runs these as root)' }, () => {
  const driver = new NamespaceDriver();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus kept dir '));
  const hostOnly = path.join(os.tmpdir(), `stratus-host-only-${process.pid}`);
  after(async () => {
    await driver.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(hostOnly, { force: true });
  });

  /** Runs a shell script in a new environment (of `o.driver`, else `driver`): its exit code and what it wrote. */
  async function run(envId: string, script: string, o: { dropPrivileges: boolean; keepPaths: string[]; driver?: NamespaceDriver }): Promise<{ code: number | null; out: string }> {
    const h = (o.driver ?? driver).launch({
      envId, command: ['/bin/sh', '-c', script], env: { PATH: '/usr/bin:/bin' },
      limits: { memoryMB: 256, ephemeralMB: 100 }, dropPrivileges: o.dropPrivileges, groups: [], keepPaths: o.keepPaths, deferCpuLimit: false,
    });
    let out = '';
    h.child.stdout!.on('data', (d: Buffer) => { out += d; });
    h.child.stderr!.on('data', (d: Buffer) => { out += d; });
    const code = await new Promise<number | null>((resolve) => h.child.on('close', (c) => resolve(c)));
    await h.destroy();
    return { code, out };
  }

  test('a kept path under /tmp (with spaces in its name) stays visible; the rest of /tmp and /dev/shm are private', async () => {
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, 'f.txt'), 'KEPT');
    fs.writeFileSync(hostOnly, 'HOST');
    const script = [
      `cat ${JSON.stringify(path.join(dir, 'f.txt'))}; echo`,
      `test -e ${JSON.stringify(hostOnly)} && echo HOST-VISIBLE || echo host-hidden`,
      'ls /dev/shm | wc -l',
      'grep -E " /(tmp|dev/shm) " /proc/self/mountinfo | sed "s/.* - //; s/ r[ow],.*//"',
      'ls -l /proc/self/fd/ | tail -n +2',
    ].join('; ');
    const { code, out } = await run(`mounts${process.pid}`, script, { dropPrivileges: true, keepPaths: [dir] });
    assert.equal(code, 0, out);
    const lines = out.trim().split('\n');
    assert.equal(lines[0], 'KEPT', out);
    assert.equal(lines[1], 'host-hidden', out);
    assert.equal(lines[2]!.trim(), '0', out);
    assert.ok(lines.includes('tmpfs stratus-tmp'), out);
    assert.ok(lines.includes('tmpfs stratus-shm'), out);
    // The mount table's fd and the kept paths' fds are closed before the command runs: fd 3 is
    // free again (ls takes it for its own directory) and nothing points at the kept directory.
    assert.ok(lines.some((l) => / 3 -> \/proc\/\d+\/fd$/.test(l)), out);
    assert.ok(!lines.some((l) => l.includes('stratus kept dir') || l.includes('(deleted)')), out);
  });

  test('/opt is empty and read-only, but for a kept path under it', { skip: !fs.existsSync('/opt') && 'the host has no /opt' }, async () => {
    // A directory of the host's /opt stands in for an interpreter installed there (kept), another
    // for anything else of the host's (hidden).
    const opt = fs.realpathSync('/opt');
    const keptDir = fs.mkdtempSync(path.join(opt, 'stratus-kept-'));
    const hostOnlyDir = fs.mkdtempSync(path.join(opt, 'stratus-host-only-'));
    try {
      fs.chmodSync(keptDir, 0o755);
      fs.writeFileSync(path.join(keptDir, 'f.txt'), 'KEPT');
      for (const [keep, expectList] of [[[] as string[], ''], [[keptDir], path.basename(keptDir)]] as const) {
        const script = [
          'ls -A /opt | tr "\\n" " "; echo',
          `cat ${JSON.stringify(path.join(keptDir, 'f.txt'))} 2>/dev/null; echo`,
          'touch /opt/x 2>&1 | sed "s/.*: //"',
        ].join('; ');
        const { code, out } = await run(`opt${process.pid}${keep.length}`, script, { dropPrivileges: false, keepPaths: [...keep] });
        assert.equal(code, 0, out);
        const [list, kept, touch] = out.split('\n');
        assert.equal(list!.trim(), expectList, `what /opt holds: ${out}`);
        assert.equal(kept, keep.length ? 'KEPT' : '', out);
        assert.equal(touch, 'Read-only file system', out);
      }
    } finally {
      fs.rmSync(keptDir, { recursive: true, force: true });
      fs.rmSync(hostOnlyDir, { recursive: true, force: true });
    }
  });
  test('the host\'s shared writable directories (/var/tmp, /run/lock) are empty and read-only: environments share no writable directory', async () => {
    const hide = hostDirsToHide(['/var/tmp', '/run/lock']);
    if (hide.length === 0) return;
    const marks = hide.map((d) => path.join(d, `stratus-host-mark-${process.pid}`));
    for (const m of marks) fs.writeFileSync(m, 'HOST');
    try {
      const script = hide.map((d) => `echo "${d}: $(ls -A ${d} | wc -l) $(touch ${d}/x 2>&1 | sed "s/.*: //")"`).join('; ');
      for (const dropPrivileges of [true, false]) {
        const { code, out } = await run(`shared${process.pid}${dropPrivileges}`, script, { dropPrivileges, keepPaths: [] });
        assert.equal(code, 0, out);
        assert.deepEqual(out.trim().split('\n'), hide.map((d) => `${d}: 0 Read-only file system`));
      }
    } finally {
      for (const m of marks) fs.rmSync(m, { force: true });
    }
  });

  test('the host\'s file system is read-only inside, as Lambda\'s but /tmp (EROFS, as root too); /proc, devices and a shared directory stay writable; the host\'s own is untouched', async () => {
    // Lambda: `open('/newfile.txt', 'w')` fails with "[Errno 30] Read-only file system"
    const shared = fs.mkdtempSync(path.join(fs.existsSync('/run') ? '/run' : '/var/lib', 'stratus-shared-'));
    fs.chmodSync(shared, 0o777);
    const ro = new NamespaceDriver({ sharedDirs: [shared] });
    const probe = `stratus-probe-${process.pid}`;
    const dirs = ['/', '/etc', '/var', '/usr/local', '/mnt', '/run', '/home'].filter((d) => fs.existsSync(d) && fs.statSync(d).isDirectory());
    const hostMounts = () => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ').slice(4).join(' ')).sort();
    const before = hostMounts();
    try {
      await ro.init();
      assert.ok(ro.describe().isolation.some((l) => l.includes('the host\'s file system read-only')), JSON.stringify(ro.describe()));
      const script = [
        ...dirs.map((d) => `echo "${d}: $(touch ${path.join(d, probe)} 2>&1 | sed 's/.*: //')"`),
        `echo "mkdir: $(mkdir /${probe} 2>&1 | sed 's/.*: //')"`,
        'echo x > /tmp/x && echo "/tmp: ok"',
        'echo x > /dev/null && echo "/dev/null: ok"',
        'echo probe > /proc/self/comm && echo "/proc: ok"',
        `echo x > ${shared}/from-$(id -u) && echo "shared: ok"`,
      ].join('; ');
      for (const dropPrivileges of [true, false]) {
        const { code, out } = await run(`ro${process.pid}${dropPrivileges}`, script, { dropPrivileges, keepPaths: [], driver: ro });
        assert.equal(code, 0, out);
        assert.deepEqual(out.trim().split('\n'), [
          ...dirs.map((d) => `${d}: Read-only file system`), 'mkdir: Read-only file system', '/tmp: ok', '/dev/null: ok', '/proc: ok', 'shared: ok',
        ], `${dropPrivileges ? 'as its uid' : 'as root'}`);
      }
      assert.equal(fs.readdirSync(shared).length, 2, 'what both wrote to the shared directory is on the host');
      // The host: the same mounts as before, its root still writable, none of the probes there.
      assert.deepEqual(hostMounts(), before);
      for (const d of dirs) assert.equal(fs.existsSync(path.join(d, probe)), false, d);
      fs.writeFileSync(`/${probe}-host`, 'x');
    } finally {
      await ro.stop();
      for (const d of dirs) fs.rmSync(path.join(d, probe), { recursive: true, force: true });
      fs.rmSync(`/${probe}-host`, { force: true });
      fs.rmSync(shared, { recursive: true, force: true });
    }
  });

  test("a passwd folder a killed server left behind goes at the next server's first environment; a live server's stays", async () => {
    // The pid of a process that has exited stands for a server killed with SIGKILL.
    const gone = spawnSync('true').pid!;
    const stale = fs.mkdtempSync(path.join(os.tmpdir(), `stratus-etc-${gone}-`));
    const live = fs.mkdtempSync(path.join(os.tmpdir(), `stratus-etc-${process.ppid}-`));
    try {
      fs.writeFileSync(path.join(stale, 'passwd-1000001'), 'x');
      const other = new NamespaceDriver();
      try {
        const h = other.launch({
          envId: `etc${process.pid}`, command: ['/bin/true'], env: {}, limits: { memoryMB: 128, ephemeralMB: 16 },
          dropPrivileges: true, groups: [], keepPaths: [], deferCpuLimit: false,
        });
        await new Promise((resolve) => h.child.on('close', resolve));
        await h.destroy();
      } finally {
        await other.stop();
      }
      assert.equal(fs.existsSync(stale), false, 'the dead server\'s folder is removed');
      assert.equal(fs.existsSync(live), true, 'a running server\'s folder stays');
    } finally {
      fs.rmSync(stale, { recursive: true, force: true });
      fs.rmSync(live, { recursive: true, force: true });
    }
  });
});
