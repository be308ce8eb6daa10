import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CgroupTree, procStartTime } from '../../src/environments/sandbox/cgroups.js';
import { procStat, removeStale } from '../../src/environments/sandbox/shell.js';
import { sleep } from './helpers.js';

/**
 * A process that has exited and is not reaped yet (a zombie), as a server killed with SIGKILL is
 * until its parent (a shell, a supervisor) waits for it: a `sleep` started by a shell that then
 * becomes `sleep 30`, which never waits (it ends after the exec: a shell that reaps its children
 * as they end, as bash does, has been replaced by then).
 */
async function zombie(): Promise<{ pid: number; stop(): void }> {
  const parent = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve) => parent.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  for (let i = 0; i < 300 && procStat(pid)?.state !== 'Z'; i++) await sleep(10);
  assert.equal(procStat(pid)?.state, 'Z', 'the process is a zombie');
  return { pid, stop: () => parent.kill('SIGKILL') };
}

test('what a server killed with SIGKILL left is removed by a restart at once, before the dead one is reaped', async () => {
  const z = await zombie();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-stale-'));
  try {
    assert.equal(procStartTime(z.pid), null, 'a zombie has no start time of a live process');
    assert.notEqual(procStartTime(process.pid), null);
    // Files of the data dir named after their server's pid: with more after it, or nothing (scratch).
    for (const n of [`stratus-tpl-${z.pid}-512`, `stratus-vol-${z.pid}-3`, `stratus-scratch-${z.pid}`, `stratus-scratch-${process.pid}`, `stratus-tpl-${process.pid}-512`]) {
      fs.mkdirSync(path.join(dir, n));
    }
    for (const p of ['stratus-tpl', 'stratus-vol', 'stratus-scratch']) removeStale(dir, p);
    assert.deepEqual(fs.readdirSync(dir).sort(), [`stratus-scratch-${process.pid}`, `stratus-tpl-${process.pid}-512`]);

    // The cgroups of a dead server (its instance directory is <pid>-<start time>) go too.
    const root = path.join(dir, 'cgroup');
    const st = procStat(z.pid)!;
    for (const c of ['memory', 'cpu', 'pids', 'freezer']) fs.mkdirSync(path.join(root, c, 'stratus', `${z.pid}-${st.start}`, 'env1'), { recursive: true });
    const tree = new CgroupTree(root);
    assert.equal(await tree.cleanStale(), 1);
    for (const c of ['memory', 'cpu', 'pids', 'freezer']) assert.deepEqual(fs.readdirSync(path.join(root, c, 'stratus')), [tree.instance]);
  } finally {
    z.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
