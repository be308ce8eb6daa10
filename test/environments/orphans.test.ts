import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { isRoot, pidsOfUid, sleep } from './helpers.js';

test('SIGKILL of the server leaves no environment process behind', { skip: !isRoot && 'namespace driver needs root', timeout: 60_000 }, async () => {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'host-child.js');
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  for (let i = 0; i < 300 && !out.includes('RUNNING'); i++) await sleep(100);
  const m = /UID (\d+) DATA (\S+)/.exec(out);
  assert.ok(m && out.includes('RUNNING'), `child output: ${out}`);
  const uid = Number(m![1]);
  assert.ok(pidsOfUid(uid).length >= 3, 'the environment runs background processes');
  child.kill('SIGKILL');
  let left = pidsOfUid(uid);
  for (let i = 0; i < 100 && left.length > 0; i++) { await sleep(100); left = pidsOfUid(uid); }
  assert.deepEqual(left, [], 'no process of the environment survives');
  fs.rmSync(m![2]!, { recursive: true, force: true });
});
