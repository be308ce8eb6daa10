import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { UIDS_PER_BLOCK, UidAllocator } from '../../src/environments/sandbox/uids.js';

test('uids: never-used ones first, then the one released longest ago (what a uid leaves in the kernel has the longest to go)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-uids-'));
  const a = new UidAllocator(dir);
  try {
    const [lo, hi] = a.range;
    assert.equal(hi - lo + 1, UIDS_PER_BLOCK);
    const first = a.allocate();
    assert.equal(first, lo);
    a.release(first);
    // Released, but fresh ones come first: a function's uid does not go straight to the next function.
    assert.equal(a.allocate(), lo + 1);
    const rest: number[] = [];
    for (let i = 2; i < UIDS_PER_BLOCK; i++) rest.push(a.allocate());
    assert.equal(rest.at(-1), hi);
    for (const u of [rest[10]!, rest[3]!, rest[7]!]) a.release(u);
    assert.deepEqual([a.allocate(), a.allocate(), a.allocate(), a.allocate()], [first, rest[10], rest[3], rest[7]]);
    assert.throws(() => a.allocate(), /environment uids exhausted/);
    // A long queue is trimmed as it is used, and keeps its order.
    for (const u of rest) a.release(u);
    for (const u of rest) assert.equal(a.allocate(), u);
  } finally {
    a.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
