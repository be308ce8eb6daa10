import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { isRoot, loopDevicesOf, pidsOfUid, sleep } from './helpers.js';

/** Children of `ppid` that hold the favordynmods hierarchy mounted. */
function dynmodsHolders(ppid: number): number[] {
  const found: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const status = fs.readFileSync(`/proc/${d}/status`, 'utf8');
      if (Number(/PPid:\s+(\d+)/.exec(status)?.[1]) !== ppid) continue;
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('name=stratus-dynmods')) found.push(Number(d));
    } catch { /* gone */ }
  }
  return found;
}

test('SIGKILL of the server leaves no environment process behind', { skip: !isRoot && 'namespace driver needs root', timeout: 60_000 }, async () => {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'host-child.js');
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  try {
    for (let i = 0; i < 300 && !out.includes('RUNNING'); i++) await sleep(100);
    const m = /UID (\d+) DATA (\S+)/.exec(out);
    assert.ok(m && out.includes('RUNNING'), `child output: ${out}`);
    const uid = Number(m![1]);
    assert.ok(pidsOfUid(uid).length >= 3, 'the environment runs background processes');
    // The process holding the cgroup favordynmods mount (sandbox/cgroups.ts), in its own mount
    // namespace: the host's mount table does not show it.
    const holders = dynmodsHolders(child.pid!);
    assert.equal(holders.length, 1, 'one favordynmods holder');
    assert.match(fs.readFileSync(`/proc/${holders[0]}/mountinfo`, 'utf8'), /favordynmods.*name=stratus-dynmods|name=stratus-dynmods.*favordynmods/);
    assert.doesNotMatch(fs.readFileSync('/proc/self/mountinfo', 'utf8'), /stratus-dynmods/);
    // The environment's /tmp volume (sandbox/ephemeral.ts) and the ready ones: loop devices over
    // files of the data dir, which go with the server's helper and the environments' namespaces.
    const volumes = path.join(m![2]!, 'ephemeral');
    // (Unless the disk is too full for one: then /tmp is a tmpfs, see ephemeral.test.)
    const free = fs.statfsSync(m![2]!);
    if ((free.bavail * free.bsize) / 2 ** 30 >= 4) assert.ok(loopDevicesOf(volumes).length >= 1, 'the environment has a /tmp volume');
    child.kill('SIGKILL');
    let left = pidsOfUid(uid);
    for (let i = 0; i < 100 && left.length > 0; i++) { await sleep(100); left = pidsOfUid(uid); }
    assert.deepEqual(left, [], 'no process of the environment survives');
    for (let i = 0; i < 50 && fs.existsSync(`/proc/${holders[0]}`); i++) await sleep(100);
    assert.equal(fs.existsSync(`/proc/${holders[0]}`), false, 'the favordynmods holder goes with the server');
    let devices = loopDevicesOf(volumes);
    for (let i = 0; i < 50 && devices.length; i++) { await sleep(100); devices = loopDevicesOf(volumes); }
    assert.deepEqual(devices, [], 'no loop device of the server is left attached');
    fs.rmSync(m![2]!, { recursive: true, force: true });
  } finally {
    child.kill('SIGKILL');
  }
});
