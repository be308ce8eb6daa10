import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SqlDatabase } from '../../src/ports/sql.js';
import { SqsStore, type NewMessage } from '../../src/triggers/sqs/store.js';
import { openSqsSqlite } from './harness.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-sqs-store-'));
let db: SqlDatabase;
let store: SqsStore;
let n = 0;

const msg = (at: number, extra: Partial<NewMessage> = {}): NewMessage => ({
  id: `m${++n}`, body: `body ${n}`, md5Body: 'x', attrs: {}, sender: 'me', sentAt: at, visibleAt: at, ...extra,
});
const queue = (name: string, fifo = false) =>
  store.createQueue({ name, fifo, attributes: { VisibilityTimeout: '30' }, tags: {}, createdAt: 1, modifiedAt: 1 });
const recv = (name: string, fifo: boolean, now: number, max = 10, extra: object = {}) =>
  store.receive(name, fifo, { max, now, visibleAt: now + 30_000, nonce: `n${now}`, minSentAt: 0, ...extra });

before(async () => {
  db = await openSqsSqlite(path.join(dir, 'q.db'));
  store = new SqsStore(db);
});
after(async () => {
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('SQS store on a SQLite file', () => {
  test('queues: create once, list by prefix, delete with messages', async () => {
    assert.equal(await queue('alpha'), true);
    assert.equal(await queue('alpha'), false);
    await queue('alpine');
    await queue('beta');
    assert.deepEqual((await store.listQueues('alp', undefined, 10)).map((q) => q.name), ['alpha', 'alpine']);
    assert.deepEqual((await store.listQueues(undefined, 'alpine', 10)).map((q) => q.name), ['beta']);
    await store.send('beta', [msg(1)]);
    assert.equal(await store.deleteQueue('beta'), true);
    assert.equal(await store.getQueue('beta'), undefined);
    assert.equal((await store.counts('beta', 10, 0)).visible, 0);
  });

  test('receive hides, counts, and honours the receipt nonce', async () => {
    await queue('std');
    const [a] = await store.send('std', [msg(100), msg(100, { visibleAt: 5000 })]);
    assert.ok(a!.seq > 0);
    assert.deepEqual(await store.counts('std', 200, 0), { visible: 1, notVisible: 0, delayed: 1 });
    const r1 = await recv('std', false, 200);
    assert.equal(r1.messages.length, 1);
    assert.equal(r1.messages[0]!.receiveCount, 1);
    assert.equal(r1.messages[0]!.firstReceiveAt, 200);
    assert.deepEqual(await store.counts('std', 201, 0), { visible: 0, notVisible: 1, delayed: 1 });
    assert.equal(await store.nextVisibleAt('std', 201), 5000);
    assert.equal((await recv('std', false, 201)).messages.length, 0);
    // Visible again after the timeout; the old receipt no longer deletes.
    const r2 = await recv('std', false, 200 + 30_000);
    assert.equal(r2.messages.length, 2);
    const again = r2.messages.find((m) => m.id === a!.id)!;
    assert.equal(again.receiveCount, 2);
    assert.equal(again.firstReceiveAt, 200);
    assert.equal(await store.deleteMessage('std', a!.id, 'n200'), false);
    assert.equal(await store.deleteMessage('std', a!.id, again.receipt!), true);
  });

  test('visibility change: ok, not in flight, missing', async () => {
    await queue('vis');
    await store.send('vis', [msg(0)]);
    const [m] = (await recv('vis', false, 10)).messages;
    assert.equal(await store.changeVisibility('vis', m!.id, m!.receipt!, 10, 10), 'ok');
    assert.equal(await store.changeVisibility('vis', m!.id, m!.receipt!, 50, 20), 'not-inflight');
    assert.equal(await store.changeVisibility('vis', m!.id, 'other', 50, 20), 'missing');
  });

  test('FIFO: order per group, group held while in flight, dedup window', async () => {
    await queue('f.fifo', true);
    const send = (g: string, d: string, at: number) =>
      store.sendFifo('f.fifo', [{ ...msg(at, { groupId: g, dedupId: d }), dedupScope: '' } as any], 300_000);
    await send('A', 'a1', 1);
    await send('B', 'b1', 2);
    await send('A', 'a2', 3);
    const dup = await send('A', 'a1', 4);
    assert.equal(dup[0]!.duplicate, true);
    const first = await recv('f.fifo', true, 10, 1);
    assert.equal(first.messages[0]!.dedupId, 'a1');
    // A is in flight: only B is deliverable.
    const second = await recv('f.fifo', true, 11, 10);
    assert.deepEqual(second.messages.map((m) => m.dedupId), ['b1']);
    await store.deleteMessage('f.fifo', first.messages[0]!.id, first.messages[0]!.receipt!);
    const third = await recv('f.fifo', true, 12, 10);
    assert.deepEqual(third.messages.map((m) => m.dedupId), ['a2']);
    // After the window the same id is accepted again.
    const later = await send('A', 'a1', 400_000);
    assert.equal(later[0]!.duplicate, false);
  });

  test('redrive: the receive after maxReceiveCount moves to the DLQ', async () => {
    await queue('src');
    await queue('dlq');
    await store.send('src', [msg(0)]);
    const redrive = { dlq: 'dlq', maxReceiveCount: 2, sourceArn: 'arn:aws:sqs:us-east-1:000000000000:src' };
    assert.equal((await recv('src', false, 1, 10, { redrive })).messages.length, 1);
    assert.equal((await recv('src', false, 40_000, 10, { redrive })).messages.length, 1);
    const third = await recv('src', false, 80_000, 10, { redrive });
    assert.equal(third.messages.length, 0);
    assert.equal(third.moved, 1);
    const inDlq = await recv('dlq', false, 80_001);
    assert.equal(inDlq.messages.length, 1);
    // The count carries over (2 receives in the source, 1 in the DLQ), so does the first receive.
    assert.equal(inDlq.messages[0]!.receiveCount, 3);
    assert.equal(inDlq.messages[0]!.firstReceiveAt, 1);
    assert.equal(inDlq.messages[0]!.dlqSource, 'arn:aws:sqs:us-east-1:000000000000:src');
  });

  test('retention: expired messages are not delivered and are swept', async () => {
    await store.createQueue({ name: 'ret', fifo: false, attributes: { MessageRetentionPeriod: '60' }, tags: {}, createdAt: 1, modifiedAt: 1 });
    await store.send('ret', [msg(0), msg(100_000)]);
    const r = await store.receive('ret', false, { max: 10, now: 100_001, visibleAt: 200_000, nonce: 'x', minSentAt: 100_001 - 60_000 });
    assert.equal(r.messages.length, 1);
    assert.ok((await store.sweep(100_002)) >= 1);
    assert.equal((await store.counts('ret', 100_002, 0)).notVisible, 1);
  });
});
