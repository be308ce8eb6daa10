import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { SqlLogStore } from '../../src/adapters/sql/log-store.js';
import {
  createLogService, logsChannel, type LogsDroppedMessage, type LogsPersistedMessage,
} from '../../src/observe/index.js';
import { systemClock, type LogBatch, type LogStore, type SqlDatabase } from '../../src/ports/index.js';
import { openLogsSqlite, sdkConfig, startLogsServer } from './harness.js';

let dir: string;
let sql: SqlDatabase;
let store: SqlLogStore;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-logsvc-'));
  sql = await openLogsSqlite(dir);
  store = new SqlLogStore(sql);
});
after(async () => {
  await sql?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The real store behind a gate and a failure switch, counting the calls that reach it. */
class GatedStore {
  calls = 0;
  failuresLeft = 0;
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;

  constructor(readonly inner: SqlLogStore) {}

  stall(): void {
    this.gate = new Promise((resolve) => { this.openGate = resolve; });
  }

  release(): void {
    this.openGate?.();
    this.gate = null;
  }

  asStore(): LogStore {
    const self = this;
    return new Proxy(this.inner, {
      get(target, prop, receiver) {
        if (prop === 'appendBatch') {
          return async (batches: LogBatch[]) => {
            self.calls++;
            if (self.gate) await self.gate;
            if (self.failuresLeft > 0) {
              self.failuresLeft--;
              throw new Error('SQLITE_BUSY: database is locked (injected)');
            }
            return target.appendBatch(batches);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  }
}

async function messagesOf(group: string): Promise<string[]> {
  const events = await store.query({ logGroupName: group, limit: 1_000_000 });
  return events.map((e) => e.message);
}

function line(i: number) {
  return [{ timestamp: Date.now(), message: `line ${i}\n` }];
}

test('flush resolves when everything written before it is persisted, batched', async () => {
  const gated = new GatedStore(store);
  const svc = createLogService(gated.asStore(), systemClock, { flushIntervalMs: 60_000 });
  const group = '/svc/flush';
  await svc.flush(); // nothing buffered: resolves at once
  for (let i = 0; i < 1000; i++) svc.write(group, `s${i % 3}`, line(i));
  assert.equal(svc.stats().bufferedEvents, 1000);
  await svc.flush();
  assert.equal((await messagesOf(group)).length, 1000);
  assert.equal(gated.calls, 1, 'a thousand writes made in one go are one store call');

  // Writes that arrive while a batch is in flight are part of the next one; a flush covers both.
  gated.stall();
  svc.write(group, 's0', line(1000));
  const first = svc.flush();
  await waitFor(() => gated.calls === 2);
  svc.write(group, 's1', line(1001));
  const second = svc.flush();
  gated.release();
  await Promise.all([first, second]);
  const all = await messagesOf(group);
  assert.equal(all.length, 1002);
  assert.deepEqual(all.slice(-2), ['line 1000\n', 'line 1001\n']);
  assert.deepEqual(svc.stats(), {
    accepted: 1002, persisted: 1002, droppedBufferFull: 0, droppedStoreError: 0, droppedClosed: 0, bufferedEvents: 0, bufferedBytes: 0, storeErrors: 0,
  });
  await svc.close();
});

test('lines reach the store on their own (timer), in the order they were written', async () => {
  const svc = createLogService(store, systemClock, { flushIntervalMs: 20 });
  const group = '/svc/timer';
  for (let i = 0; i < 5; i++) svc.write(group, i % 2 ? 'odd' : 'even', line(i));
  await waitFor(async () => (await messagesOf(group)).length === 5);
  assert.deepEqual(await messagesOf(group), ['line 0\n', 'line 1\n', 'line 2\n', 'line 3\n', 'line 4\n'], 'ids follow the order of writes across streams');
  await svc.close();
});

test('what arrives while a batch is written waits for the next interval, unless it is a batch\'s worth', async () => {
  const gated = new GatedStore(store);
  const svc = createLogService(gated.asStore(), systemClock, { flushIntervalMs: 1000, batchEvents: 50 });
  const group = '/svc/interval';
  gated.stall();
  svc.write(group, 's', line(0));
  await waitFor(() => gated.calls === 1, 5000); // the timer started the first batch
  svc.write(group, 's', line(1));
  const released = Date.now();
  gated.release();
  await waitFor(async () => (await messagesOf(group)).length === 1);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(gated.calls, 1, 'a line that came in meanwhile is not written back to back');
  await waitFor(() => gated.calls === 2, 5000);
  assert.ok(Date.now() - released >= 900, 'it goes with the next interval');
  assert.deepEqual(await messagesOf(group), ['line 0\n', 'line 1\n']);

  // A batch's worth that came in meanwhile is written at once.
  gated.stall();
  svc.write(group, 's', line(2));
  const first = svc.flush();
  await waitFor(() => gated.calls === 3, 2000);
  for (let i = 3; i < 53; i++) svc.write(group, 's', line(i));
  gated.release();
  await first;
  await waitFor(() => gated.calls === 4, 500);
  await waitFor(async () => (await messagesOf(group)).length === 53, 2000);
  await svc.close();
});

test('the buffer is bounded when the store stalls: drops are counted and noted in the stream', async () => {
  const gated = new GatedStore(store);
  gated.stall();
  const dropped: LogsDroppedMessage[] = [];
  const onDropped = (m: unknown) => dropped.push(m as LogsDroppedMessage);
  diagnostics_channel.subscribe('stratus:logs:dropped', onDropped);
  try {
    const svc = createLogService(gated.asStore(), systemClock, { flushIntervalMs: 1, maxBufferedEvents: 1000, batchEvents: 100 });
    const group = '/svc/bounded';
    svc.write(group, 'only', line(0));
    await waitFor(() => gated.calls === 1); // that line's batch is now stuck in the store
    for (let i = 1; i <= 5000; i++) svc.write(group, 'only', line(i));
    const s = svc.stats();
    assert.equal(s.accepted, 1000);
    assert.equal(s.droppedBufferFull, 4001);
    assert.equal(s.bufferedEvents, 1000);
    assert.equal(dropped.filter((d) => d.reason === 'buffer-full').reduce((n, d) => n + d.events, 0), 4001);
    // Memory stays bounded however long the stall lasts.
    for (let i = 0; i < 100_000; i++) svc.write(group, 'only', line(i));
    assert.equal(svc.stats().bufferedEvents, 1000);
    assert.equal(svc.stats().droppedBufferFull, 104_001);

    gated.release();
    await svc.flush();
    const msgs = await messagesOf(group);
    assert.equal(msgs.length, 1001);
    assert.deepEqual(msgs.slice(0, 3), ['line 0\n', 'line 1\n', 'line 2\n']);
    assert.equal(msgs[999], 'line 999\n');
    assert.equal(msgs[1000], '[stratus] 104001 log events dropped: the log buffer was full (the log store is falling behind)\n');
    await svc.close();
  } finally {
    diagnostics_channel.unsubscribe('stratus:logs:dropped', onDropped);
  }
});

test('the byte cap bounds the buffer too', async () => {
  const gated = new GatedStore(store);
  gated.stall();
  const svc = createLogService(gated.asStore(), systemClock, { flushIntervalMs: 1, maxBufferedBytes: 1024 * 1024 });
  const big = 'x'.repeat(100 * 1024);
  for (let i = 0; i < 50; i++) svc.write('/svc/bytes', 'big', [{ timestamp: Date.now(), message: big }]);
  const s = svc.stats();
  assert.ok(s.bufferedBytes <= 1024 * 1024, `buffered ${s.bufferedBytes}`);
  assert.ok(s.droppedBufferFull >= 45);
  gated.release();
  await svc.close();
  const msgs = await messagesOf('/svc/bytes');
  assert.equal(msgs.length, s.accepted + 1);
  assert.match(msgs[msgs.length - 1]!, /^\[stratus\] \d+ log events dropped/);
});

test('a failing store is retried; a batch that keeps failing is counted, reported and noted', async () => {
  const gated = new GatedStore(store);
  const svc = createLogService(gated.asStore(), systemClock, { flushIntervalMs: 60_000, attempts: 3, retryDelayMs: 1 });
  gated.failuresLeft = 2;
  svc.write('/svc/retry', 's', line(1));
  await svc.flush();
  assert.deepEqual(await messagesOf('/svc/retry'), ['line 1\n']);
  assert.equal(svc.stats().storeErrors, 2);
  assert.equal(svc.stats().droppedStoreError, 0);

  const dropped: LogsDroppedMessage[] = [];
  const onDropped = (m: unknown) => dropped.push(m as LogsDroppedMessage);
  diagnostics_channel.subscribe('stratus:logs:dropped', onDropped);
  try {
    gated.failuresLeft = 6; // the batch (3 attempts) and then its notice (3 attempts) fail
    svc.write('/svc/retry', 's', [{ timestamp: Date.now(), message: 'lost a\n' }, { timestamp: Date.now(), message: 'lost b\n' }]);
    await svc.flush(); // resolves: the batch was given up on, not silently kept forever
    await svc.flush(); // and the notice about it, written after that batch, was tried too
    assert.equal(svc.stats().droppedStoreError, 3); // two lines, then the notice about them
    assert.equal(dropped[0]!.reason, 'store-error');
    assert.equal(dropped[0]!.events, 2);
    assert.match(String((dropped[0]!.error as Error).message), /injected/);
    assert.deepEqual(await messagesOf('/svc/retry'), ['line 1\n']);

    // The next batch fails too; the store recovers in time for the notice about it.
    gated.failuresLeft = 3;
    svc.write('/svc/retry', 's', line(2));
    await svc.flush();
    await svc.flush();
    const notice = '[stratus] 1 log events lost: the log store failed to persist them\n';
    assert.deepEqual(await messagesOf('/svc/retry'), ['line 1\n', notice]);
    svc.write('/svc/retry', 's', line(3));
    await svc.flush();
    assert.deepEqual(await messagesOf('/svc/retry'), ['line 1\n', notice, 'line 3\n']);
    assert.equal(svc.stats().droppedStoreError, 4);
  } finally {
    diagnostics_channel.unsubscribe('stratus:logs:dropped', onDropped);
  }
  await svc.close();
});

test('every persisted batch is published on the stratus:logs channel', async () => {
  const seen: LogsPersistedMessage[] = [];
  const onBatch = (m: unknown) => seen.push(m as LogsPersistedMessage);
  logsChannel.subscribe(onBatch);
  try {
    const svc = createLogService(store, systemClock, { flushIntervalMs: 60_000 });
    svc.write('/svc/channel', 'a', line(1));
    svc.write('/svc/channel', 'b', line(2));
    await svc.flush();
    const mine = seen.flatMap((m) => m.batches).filter((b) => b.group === '/svc/channel');
    assert.deepEqual(mine.map((b) => [b.stream, b.events.map((e) => e.message)]), [['a', ['line 1\n']], ['b', ['line 2\n']]]);
    await svc.close();
  } finally {
    logsChannel.unsubscribe(onBatch);
  }
});

test('write never throws and close stops a stalled store in bounded time', async () => {
  const gated = new GatedStore(store);
  gated.stall();
  const svc = createLogService(gated.asStore(), systemClock, { flushIntervalMs: 1, closeTimeoutMs: 50 });
  assert.doesNotThrow(() => svc.write('/svc/close', 's', null as never));
  assert.doesNotThrow(() => svc.write('/svc/close', 's', [{ timestamp: 1, message: undefined as never }]));
  svc.write('/svc/close', 's', line(1));
  await svc.close(); // the store never answers: close gives up, counting what was left
  assert.equal(svc.stats().droppedStoreError, svc.stats().accepted);
  svc.write('/svc/close', 's', line(2)); // after close: dropped, not buffered
  assert.equal(svc.stats().droppedClosed, 1);
  assert.equal(svc.stats().bufferedEvents, svc.stats().accepted);
  gated.release();
});

test('restart keeps logs: the server is stopped and started again on the same SQLite file', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-logs-restart-'));
  try {
    const first = await startLogsServer({ dataDir, service: { flushIntervalMs: 60_000 } });
    first.service.write('/aws/lambda/keep', '2026/01/01/[$LATEST]00000000000000000000000000000000', [
      { timestamp: Date.now(), message: 'before the restart\n' },
    ]);
    await first.stop(); // close() persists what is buffered
    const second = await startLogsServer({ dataDir });
    const logs = new CloudWatchLogsClient(sdkConfig(second.endpoint));
    try {
      const got = await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/keep' }));
      assert.deepEqual(got.events!.map((e) => e.message), ['before the restart\n']);
    } finally {
      logs.destroy();
      await second.stop();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
