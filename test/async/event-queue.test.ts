import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { SqlEventQueue } from '../../src/adapters/sql/event-queue.js';
import { describeEachDatabase } from '../contract/db.js';
import { openTestSqlite } from './sqlite.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-queue-'));

const entry = (id: string, at: number, extra: Partial<{ group: string; visibleAt: number; body: string }> = {}) => ({
  id,
  queue: 'async',
  group: extra.group ?? 'fn-a',
  body: Buffer.from(extra.body ?? `{"id":"${id}"}`),
  meta: { attempts: 0 },
  enqueuedAt: at,
  ...(extra.visibleAt !== undefined ? { visibleAt: extra.visibleAt } : {}),
});

after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describeEachDatabase('SQL event queue', (db) => {
  let q: SqlEventQueue;
  before(() => {
    q = new SqlEventQueue(db().sql);
  });

  test('enqueue, lease in visibility order, complete', async () => {
    await q.enqueue([entry('a1', 1000), entry('a2', 1001), entry('later', 1002, { visibleAt: 5000 })]);
    const leased = await q.lease('async', 10, 2000, 30_000);
    assert.deepEqual(leased.map((l) => l.id), ['a1', 'a2']);
    assert.equal(leased[0]!.body.toString(), '{"id":"a1"}');
    assert.equal(leased[0]!.leases, 1);
    assert.equal(leased[0]!.previousState, 'queued');
    assert.deepEqual(await q.lease('async', 10, 2000, 30_000), [], 'leased entries are hidden');
    assert.equal(await q.complete(leased[0]!, 'succeeded', { attempts: 1 }, 2100), true);
    const info = await q.get('a1');
    assert.equal(info?.state, 'succeeded');
    assert.deepEqual(info?.meta, { attempts: 1 });
    assert.equal(info?.visibleAt, null);
    assert.equal(await q.complete(leased[0]!, 'failed', {}, 2200), false, 'a finished entry cannot finish again');
    assert.equal(await q.complete(leased[1]!, 'failed', { attempts: 3 }, 2100), true);
    const [l3] = await q.lease('async', 10, 5000, 30_000);
    assert.equal(l3?.id, 'later');
    await q.complete(l3!, 'succeeded', {}, 5001);
  });

  test('retryAt hides until the time, keeps meta, counts leases', async () => {
    await q.enqueue([entry('r1', 10_000)]);
    const [l] = await q.lease('async', 1, 10_000, 30_000);
    assert.equal(await q.retryAt(l!, 20_000, { attempts: 1, lastError: 'Boom' }, 10_001), true);
    assert.equal((await q.get('r1'))?.state, 'retrying');
    assert.deepEqual(await q.lease('async', 1, 19_999, 30_000), []);
    const [again] = await q.lease('async', 1, 20_000, 30_000);
    assert.equal(again?.id, 'r1');
    assert.equal(again?.leases, 2);
    assert.equal(again?.previousState, 'retrying');
    assert.deepEqual(again?.meta, { attempts: 1, lastError: 'Boom' });
    await q.complete(again!, 'succeeded', {}, 20_001);
  });

  test('an expired lease is handed out again and fences the old holder', async () => {
    await q.enqueue([entry('x1', 30_000)]);
    const [first] = await q.lease('async', 1, 30_000, 1000);
    assert.deepEqual(await q.lease('async', 1, 30_500, 1000), []);
    const [second] = await q.lease('async', 1, 31_000, 1000);
    assert.equal(second?.id, 'x1');
    assert.equal(second?.previousState, 'running');
    assert.equal(await q.complete(first!, 'succeeded', {}, 31_001), false, 'stale lease is refused');
    assert.equal(await q.retryAt(first!, 40_000, {}, 31_001), false);
    await q.extend([second!], 60_000);
    assert.deepEqual(await q.lease('async', 1, 50_000, 1000), [], 'extended lease still held');
    assert.equal(await q.complete(second!, 'succeeded', {}, 31_002), true);
  });

  test('releaseAll returns running entries at once (startup recovery)', async () => {
    await q.enqueue([entry('k1', 70_000), entry('k2', 70_001)]);
    const held = await q.lease('async', 2, 70_001, 3_600_000);
    assert.equal(held.length, 2);
    assert.equal(await q.releaseAll('async', 70_010), 2);
    const k1 = await q.get('k1');
    assert.equal(k1?.state, 'queued', 'no longer shown as running: nobody runs it');
    assert.equal(k1?.visibleAt, 70_001, 'visible again at its old place (the lease time), ahead of newer entries');
    await q.enqueue([entry('k3', 70_005)]);
    const back = await q.lease('async', 2, 70_010, 1000);
    assert.deepEqual(back.map((b) => b.id).sort(), ['k1', 'k2'], 'recovered entries come before the newer k3');
    const [k3] = await q.lease('async', 1, 70_010, 1000);
    await q.complete(k3!, 'succeeded', {}, 70_020);
    for (const b of back) await q.complete(b, 'succeeded', {}, 70_020);
  });

  test('release hands back only what is still held under that lease, unfinished, meta untouched', async () => {
    await q.enqueue([entry('h1', 75_000), entry('h2', 75_001)]);
    const [h1, h2] = await q.lease('async', 2, 75_001, 30_000);
    assert.equal(await q.retryAt(h2!, 75_002, { attempts: 1 }, 75_001), true);
    const [h2again] = await q.lease('async', 1, 75_002, 30_000);
    assert.equal(h2again?.id, 'h2');
    assert.equal(await q.release([h1!, h2!], 75_010), 1, 'h2\'s old lease is stale: its new holder keeps it');
    const info = await q.get('h1');
    assert.equal(info?.state, 'queued');
    assert.deepEqual(info?.meta, { attempts: 0 }, 'an attempt cut off counts as none');
    assert.equal(info?.visibleAt, 75_001, 'visible at once, at its old place');
    assert.equal(await q.release([h2again!], 75_020), 1);
    assert.equal((await q.get('h2'))?.state, 'retrying', 'back in its state before the lease');
    const back = await q.lease('async', 2, 75_020, 30_000);
    assert.deepEqual(back.map((b) => b.id).sort(), ['h1', 'h2'], 'released entries are leased again without waiting for the lease to run out');
    assert.equal(await q.complete(h1!, 'succeeded', {}, 75_030), false, 'the releasing holder is fenced off');
    for (const b of back) await q.complete(b, 'succeeded', {}, 75_030);
  });

  test('list, counts and prune', async () => {
    await q.enqueue([entry('g1', 80_000, { group: 'fn-b' }), entry('g2', 80_001, { group: 'fn-b' })]);
    const list = await q.list('async', { group: 'fn-b', limit: 10 });
    assert.deepEqual(list.map((e) => e.id), ['g2', 'g1'], 'newest first');
    assert.deepEqual(await q.counts('async', 'fn-b'), { queued: 2, running: 0, retrying: 0, succeeded: 0, failed: 0 });
    const all = await q.counts('async');
    assert.ok(all.succeeded >= 5 && all.failed >= 1, JSON.stringify(all));
    const failedOnly = await q.list('async', { states: ['failed'], limit: 10 });
    assert.deepEqual(failedOnly.map((e) => e.id), ['a2']);
    const pruned = await q.prune('async', 40_000);
    assert.ok(pruned >= 3, `pruned ${pruned}`);
    assert.equal(await q.get('a1'), undefined);
    assert.ok(await q.get('g1'), 'pending entries are never pruned');
  });

  test('finishes issued together are written together, each fenced by its own lease', async () => {
    await q.enqueue(Array.from({ length: 10 }, (_, i) => ({ ...entry(`f${i}`, 100_000 + i), queue: 'fin' })));
    const held = await q.lease('fin', 10, 100_100, 600_000);
    assert.equal(held.length, 10);
    const stale = (e: (typeof held)[number]) => ({ id: e.id, leases: e.leases + 1 });
    const results = await Promise.all(held.map((e, i) =>
      i < 4 ? q.complete(e, i % 2 ? 'failed' : 'succeeded', { i }, 100_200)
        : i < 7 ? q.retryAt(e, 200_000 + i, { i, retry: true }, 100_200)
          : q.complete(stale(e), 'succeeded', {}, 100_200)));
    assert.deepEqual(results, [true, true, true, true, true, true, true, false, false, false]);
    const info = await Promise.all(held.map((e) => q.get(e.id)));
    assert.deepEqual(info.map((x) => x?.state), ['succeeded', 'failed', 'succeeded', 'failed', 'retrying', 'retrying', 'retrying', 'running', 'running', 'running']);
    assert.deepEqual(info[1]?.meta, { i: 1 });
    assert.equal(info[5]?.visibleAt, 200_005);
    const [back] = await q.lease('fin', 1, 200_004, 60_000);
    assert.equal(back?.id, 'f4');
    assert.equal(back?.body.toString(), '{"id":"f4"}', 'a retry keeps the body');
    assert.deepEqual(back?.meta, { i: 4, retry: true });
    for (const e of [back!, ...held.slice(7)]) assert.equal(await q.complete(e, 'succeeded', {}, 200_010), true);
  });

  test('concurrent enqueues are group-committed and all durable', async () => {
    const n = 1500;
    await Promise.all(Array.from({ length: n }, (_, i) => q.enqueue([entry(`bulk-${i}`, 90_000 + i, { group: 'bulk' })])));
    assert.equal((await q.counts('async', 'bulk')).queued, n);
    await assert.rejects(q.enqueue([entry('bulk-1', 1)]), 'duplicate ids are refused');
  });
});

describe('SQL event queue on a SQLite file', () => {
  test('an acknowledged enqueue survives kill -9 of the writer', async () => {
    const childFile = path.join(dir, 'killed.db');
    const here = path.dirname(fileURLToPath(import.meta.url));
    const script = `
      import { openTestSqlite } from ${JSON.stringify(path.join(here, 'sqlite.js'))};
      import { SqlEventQueue } from ${JSON.stringify(path.resolve(here, '../../src/adapters/sql/event-queue.js'))};
      const db = await openTestSqlite(${JSON.stringify(childFile)});
      const q = new SqlEventQueue(db);
      await Promise.all(Array.from({ length: 300 }, (_, i) => q.enqueue([{ id: 'k' + i, queue: 'async', group: 'g', body: Buffer.from('x'), meta: {}, enqueuedAt: i }])));
      process.kill(process.pid, 'SIGKILL');
    `;
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(res.signal, 'SIGKILL', res.stderr);
    const db2 = await openTestSqlite(childFile);
    try {
      const q2 = new SqlEventQueue(db2);
      assert.equal((await q2.counts('async', 'g')).queued, 300);
    } finally {
      await db2.close();
    }
  });
});
