import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ENV_FD, EXEC_REPORT_FD, SHIM_FD, execErrorText, openExecReport, readExecReport, shimExecutable } from '../../src/environments/sandbox/exec.js';
import { findExecutable } from '../../src/environments/sandbox/shell.js';

/**
 * The exec shim (sandbox/exec.ts) run directly: one execve, the kernel's errno on the report
 * descriptor, no shell fallback, and neither of its descriptors left to the program it starts.
 * The arm64 shim runs under qemu-aarch64 where that is installed (its execve is the host's).
 */
describe('the exec shim', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-shim-test-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string | Buffer) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text, { mode: 0o755 });
    return f;
  };
  const noShebang = file('no-shebang', 'echo ran-by-a-shell\nexit 3\n');
  const crlf = file('crlf', '#!/bin/sh\r\necho ran-by-a-shell\n');
  const foreignElf = file('foreign-elf', Buffer.concat([Buffer.from('\x7fELF', 'latin1'), Buffer.alloc(60)]));
  const script = file('script', '#!/bin/sh\necho "argv: $0 $*"; ls /proc/self/fd\n');
  const notExecutable = file('not-executable', '#!/bin/sh\necho ran\n');
  fs.chmodSync(notExecutable, 0o644);

  const qemu = findExecutable('qemu-aarch64');
  const arches: Array<[string, string[] | null, string | false]> = [
    ['x64', [], process.arch !== 'x64' && 'not an x86-64 host'],
    ['arm64', process.arch === 'arm64' ? [] : qemu ? [qemu] : null, process.arch !== 'arm64' && !qemu && 'not an arm64 host and no qemu-aarch64'],
  ];
  for (const [arch, runner, skip] of arches) {
    test(`${arch}: starts a program with one execve, reports what the kernel refuses`, { skip }, () => {
      const shim = file(`shim-${arch}`, shimExecutable(arch)!);
      // `extra`: descriptors at ENV_FD (the environment to start with) and beyond.
      const run = (args: string[], extra: Record<number, number> = {}) => {
        const report = openExecReport();
        try {
          const stdio: Array<'pipe' | 'ignore' | number> = ['ignore', 'pipe', 'pipe'];
          while (stdio.length < EXEC_REPORT_FD) stdio.push('ignore');
          stdio[EXEC_REPORT_FD] = report;
          stdio[SHIM_FD] = report; // stands in for the shim's own descriptor: closed on exec too
          for (const [fd, f] of Object.entries(extra)) {
            while (stdio.length < Number(fd)) stdio.push('ignore');
            stdio[Number(fd)] = f;
          }
          const r = spawnSync(runner![0] ?? shim, [...runner!.slice(1), ...(runner!.length ? [shim] : []), ...args], { stdio, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
          return { status: r.status, out: r.stdout + r.stderr, errno: readExecReport(report) };
        } finally {
          fs.closeSync(report);
        }
      };
      const E = os.constants.errno;
      assert.deepEqual(run([noShebang]), { status: 127, out: '', errno: E.ENOEXEC });
      assert.deepEqual(run([crlf]), { status: 127, out: '', errno: E.ENOENT });
      assert.deepEqual(run([foreignElf]), { status: 127, out: '', errno: E.ENOEXEC });
      assert.deepEqual(run([notExecutable]), { status: 127, out: '', errno: E.EACCES });
      assert.deepEqual(run([path.join(dir, 'missing')]), { status: 127, out: '', errno: E.ENOENT });
      assert.deepEqual(run([]), { status: 127, out: '', errno: E.EFAULT }, 'nothing to run');
      const ok = run([script, 'a', 'b c']);
      assert.equal(ok.status, 0, ok.out);
      assert.equal(ok.errno, null, 'nothing reported when the program starts');
      const lines = ok.out.trim().split('\n');
      assert.equal(lines[0], `argv: ${script} a b c`, 'argv[0] is the path, the rest as given');
      const fds = lines.slice(1).map(Number);
      assert.ok(!fds.includes(EXEC_REPORT_FD) && !fds.includes(SHIM_FD), `the program has neither descriptor: ${fds}`);

      // The environment from ENV_FD, read from its start whatever its offset, as given (a
      // shell's own names too); the shim's own environment without it. ENV_FD and every
      // descriptor past it (what a server inherited) are closed in the program.
      const envFile = file(`env-${arch}`, 'A=1\0B=two words\nline $x `y` \'q\'\0UID=5\0');
      const envFd = fs.openSync(envFile, 'r');
      const inherited = fs.openSync(envFile, 'r');
      try {
        fs.readSync(envFd, Buffer.alloc(4), 0, 4, null);
        const printer = file(`printenv-${arch}`, '#!/bin/sh\nexec /usr/bin/env -0\n');
        const given = run([printer], { [ENV_FD]: envFd });
        assert.equal(given.status, 0, given.out);
        // (sorted: the printer, a shell, exports them in its own order; it adds PWD)
        assert.deepEqual(given.out.split('\0').filter(Boolean).filter((l) => !/^(PWD|SHLVL|_)=/.test(l)).sort(), ['A=1', "B=two words\nline $x `y` 'q'", 'UID=5']);
        const own = run([printer]);
        assert.deepEqual(own.out.split('\0').filter(Boolean).filter((l) => !/^(PWD|SHLVL|_)=/.test(l)), ['PATH=/usr/bin:/bin']);
        const listed = run(['/bin/ls', '/proc/self/fd'], { [ENV_FD]: envFd, 20: inherited });
        const open = listed.out.trim().split('\n').map(Number);
        assert.ok(!open.includes(ENV_FD) && !open.includes(20), `the program has neither descriptor: ${open}`);
      } finally {
        fs.closeSync(envFd);
        fs.closeSync(inherited);
      }
    });
  }

  test('unknown architectures have no shim; errors read as Go prints them', () => {
    assert.equal(shimExecutable('ia32'), null);
    assert.equal(execErrorText('/var/task/bootstrap', os.constants.errno.ENOEXEC), 'fork/exec /var/task/bootstrap: exec format error');
    assert.equal(execErrorText('/var/task/bootstrap', os.constants.errno.ENOENT), 'fork/exec /var/task/bootstrap: no such file or directory');
    assert.equal(execErrorText('/var/task/bootstrap', os.constants.errno.EACCES), 'fork/exec /var/task/bootstrap: permission denied');
    assert.equal(execErrorText('/x', 4095), 'fork/exec /x: errno 4095');
  });
});
