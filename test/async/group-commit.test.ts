import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GroupCommit } from '../../src/core/group-commit.js';

/** The group-commit helper behind the event queue's enqueues and acknowledgements (and SQS sends). */
describe('GroupCommit', () => {
  const recorder = () => {
    const batches: number[][] = [];
    const gc = (maxBatch: number, lingerMs = 0) =>
      new GroupCommit<number, number>(async (items) => {
        batches.push(items);
        return items.map((i) => i * 10);
      }, maxBatch, lingerMs);
    return { batches, gc };
  };

  test('items added in one turn are flushed together; each caller gets its own result', async () => {
    const { batches, gc } = recorder();
    const g = gc(100);
    const results = await Promise.all([1, 2, 3].map((i) => g.add(i)));
    assert.deepEqual(results, [10, 20, 30]);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  test('maxBatch splits a flush', async () => {
    const { batches, gc } = recorder();
    const g = gc(2);
    await Promise.all([1, 2, 3, 4, 5].map((i) => g.add(i)));
    assert.deepEqual(batches, [[1, 2], [3, 4], [5]]);
  });

  test('with lingerMs, items added over several turns within the linger share one flush', async () => {
    const { batches, gc } = recorder();
    const g = gc(100, 1000);
    const pending = [g.add(1)];
    await new Promise((r) => setImmediate(r));
    pending.push(g.add(2));
    await new Promise((r) => setTimeout(r, 5));
    pending.push(g.add(3));
    assert.deepEqual(await Promise.all(pending), [10, 20, 30]);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  test('with lingerMs, reaching maxBatch flushes at once', async () => {
    const { batches, gc } = recorder();
    const g = gc(3, 60_000); // a linger that would time the test out if waited for
    const all = await Promise.all([1, 2, 3].map((i) => g.add(i)));
    assert.deepEqual(all, [10, 20, 30]);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  test('a failed flush rejects every caller of that batch, and the next batch still runs', async () => {
    let n = 0;
    const g = new GroupCommit<number, number>(async (items) => {
      if (n++ === 0) throw new Error('disk full');
      return items;
    }, 2);
    const first = [g.add(1), g.add(2)].map((p) => p.then(() => 'ok', (e: Error) => e.message));
    const third = g.add(3);
    assert.deepEqual(await Promise.all(first), ['disk full', 'disk full']);
    assert.equal(await third, 3);
  });
});
