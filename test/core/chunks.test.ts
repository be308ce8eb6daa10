import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statementChunks } from '../../src/core/chunks.js';

test('statementChunks: every row once, in order, in sizes from the ladder only', () => {
  const ladder = new Set([256, 64, 16, 4, 1]);
  const seen = new Set<number>();
  for (const n of [0, 1, 3, 4, 5, 17, 255, 256, 257, 1000, 1799, 5000]) {
    const rows = Array.from({ length: n }, (_, i) => i);
    const chunks = statementChunks(rows, 256);
    assert.deepEqual(chunks.flat(), rows, `n=${n}`);
    for (const c of chunks) {
      assert.ok(ladder.has(c.length), `n=${n}: chunk of ${c.length}`);
      seen.add(c.length);
    }
    // largest first: sizes never grow
    for (let i = 1; i < chunks.length; i++) assert.ok(chunks[i]!.length <= chunks[i - 1]!.length);
  }
  assert.deepEqual([...seen].sort((a, b) => a - b), [1, 4, 16, 64, 256]);
});

test('statementChunks: a ladder that does not divide evenly still ends at single rows', () => {
  assert.deepEqual(statementChunks([1, 2, 3, 4, 5, 6, 7], 5).map((c) => c.length), [5, 1, 1]);
  assert.deepEqual(statementChunks([1, 2], 1).map((c) => c.length), [1, 1]);
});
