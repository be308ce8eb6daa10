import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { SqlLogStore } from '../../src/adapters/sql/log-store.js';
import { DAY_MS } from '../../src/core/log-retention.js';
import { createRetentionSweeper, logsRetentionChannel, type LogsRetentionMessage } from '../../src/observe/index.js';
import type { Clock, LogStore, SqlDatabase } from '../../src/ports/index.js';
import { serviceMissing } from '../helpers/services.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { awsEnv, openLogsSqlite } from './harness.js';

/**
 * Retention (PutRetentionPolicy): events older than their group's retention are deleted by a
 * sweep, as CloudWatch deletes them, and storedBytes follows.
 */
describe('the retention sweep, on the real SQLite store with an injected clock', () => {
  let dir: string;
  let sql: SqlDatabase;
  let store: SqlLogStore;
  let now = 1_750_000_000_000;
  const clock: Clock = { now: () => now };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-retention-'));
    sql = await openLogsSqlite(dir);
    store = new SqlLogStore(sql, clock);
  });
  after(async () => {
    await sql?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const line = (ageMs: number, message: string) => ({ timestamp: now - ageMs, message });
  const messages = async (g: string) => (await store.query({ logGroupName: g, limit: 10_000 })).map((e) => e.message);
  const bytes = async (g: string) => ({
    group: (await store.getGroup(g))!.storedBytes,
    streams: (await store.describeStreams(g, { orderBy: 'LogStreamName', descending: false, offset: 0, limit: 50 })).map((s) => s.storedBytes),
  });

  test('deletes what is past each group\'s retention, in batches; keeps the rest and groups without one', async () => {
    now = 1_750_000_000_000;
    const old = Array.from({ length: 23 }, (_, i) => line(2 * DAY_MS + i, `old ${String(i).padStart(2, '0')}\n`)); // 7 bytes each
    await store.append('/r/one-day', 'a', [...old.slice(0, 12), line(12 * 3600_000, 'half a day\n')]);
    await store.append('/r/one-day', 'b', [...old.slice(12), line(0, 'now\n')]);
    await store.append('/r/three-days', 'a', [line(2 * DAY_MS, 'two days\n'), line(4 * DAY_MS, 'four days\n')]);
    await store.append('/r/forever', 'a', [line(10 * DAY_MS, 'ten days\n')]);
    await store.putRetention('/r/one-day', 1);
    await store.putRetention('/r/three-days', 3);
    assert.deepEqual(await bytes('/r/one-day'), { group: 23 * 7 + 11 + 4, streams: [12 * 7 + 11, 11 * 7 + 4] });

    const sweeps: LogsRetentionMessage[] = [];
    const seen = (m: unknown) => sweeps.push(m as LogsRetentionMessage);
    diagnostics_channel.subscribe(logsRetentionChannel.name, seen);
    try {
      const sweeper = createRetentionSweeper(store, clock, { batchEvents: 5 });
      assert.equal(await sweeper.sweep(), 23 + 1);
      assert.deepEqual(sweeps, [{ groups: 2, deleted: 24, errors: [] }]);
      assert.deepEqual(await messages('/r/one-day'), ['half a day\n', 'now\n']);
      assert.deepEqual(await bytes('/r/one-day'), { group: 11 + 4, streams: [11, 4] });
      assert.deepEqual(await messages('/r/three-days'), ['two days\n']);
      assert.deepEqual(await bytes('/r/three-days'), { group: 9, streams: [9] });
      assert.deepEqual(await messages('/r/forever'), ['ten days\n'], 'no retention policy: kept forever');

      assert.equal(await sweeper.sweep(), 0, 'a second sweep finds nothing');
      // A day later the half-day-old line is past its day; without its policy a group keeps all.
      now += DAY_MS;
      await store.putRetention('/r/three-days', null);
      assert.equal(await sweeper.sweep(), 1);
      assert.deepEqual(await messages('/r/one-day'), ['now\n']);
      assert.deepEqual(await bytes('/r/one-day'), { group: 4, streams: [0, 4] }, 'an emptied stream stays, with 0 bytes');
      assert.deepEqual(await messages('/r/three-days'), ['two days\n']);
    } finally {
      diagnostics_channel.unsubscribe(logsRetentionChannel.name, seen);
    }
    assert.equal(await store.deleteGroup('/r/one-day'), true, 'deleting a swept group still works');
  });

  test('start() sweeps at once and then every interval; stop() ends a sweep under way between batches', async () => {
    now = 1_750_000_000_000;
    await store.append('/r/timer', 's', Array.from({ length: 40 }, (_, i) => line(3 * DAY_MS - i, `x${i}\n`)));
    await store.putRetention('/r/timer', 1);
    const sweeps: LogsRetentionMessage[] = [];
    const seen = (m: unknown) => sweeps.push(m as LogsRetentionMessage);
    diagnostics_channel.subscribe(logsRetentionChannel.name, seen);
    try {
      // Started: the first sweep runs now, a batch of one event at a time; stop() comes while
      // the fifth batch is under way (the real store, watched).
      let batches = 0;
      let stopping: Promise<void> | undefined;
      const watched: LogStore = Object.assign(Object.create(store) as SqlLogStore, {
        expireEvents: async (group: string, before: number, limit: number) => {
          const n = await store.expireEvents(group, before, limit);
          if (++batches === 5) stopping = slow.stop();
          return n;
        },
      });
      const slow = createRetentionSweeper(watched, clock, { batchEvents: 1, intervalMs: 3_600_000 });
      slow.start();
      const deadline0 = Date.now() + 10_000;
      while (!stopping && Date.now() < deadline0) await new Promise((r) => setTimeout(r, 5));
      await stopping;
      assert.equal(batches, 5, 'no batch after stop()');
      assert.equal((await messages('/r/timer')).length, 35);
      assert.deepEqual(sweeps, [{ groups: 1, deleted: 5, errors: [] }], 'the stopped sweep reports what it did');
      assert.equal(await slow.sweep(), 0, 'a stopped sweeper deletes nothing');

      // The interval: a short one sweeps again without being asked.
      await store.append('/r/timer', 't', [line(2 * DAY_MS, 'late\n')]);
      const quick = createRetentionSweeper(store, clock, { batchEvents: 100, intervalMs: 20 });
      quick.start();
      const deadline = Date.now() + 10_000;
      while ((await messages('/r/timer')).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await quick.stop();
      assert.deepEqual(await messages('/r/timer'), []);
      assert.deepEqual(await bytes('/r/timer'), { group: 0, streams: [0, 0] });
      const count = sweeps.length;
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(sweeps.length, count, 'no sweep after stop()');
    } finally {
      diagnostics_channel.unsubscribe(logsRetentionChannel.name, seen);
    }
  });
});

/** The whole server with the AWS CLI: a restart sweeps what is past the retention a user set. */
describe('aws logs put-retention-policy (CLI v1) on a running server', () => {
  const run = promisify(execFile);
  const haveAws = spawnSync('aws', ['--version'], { encoding: 'utf8' }).status === 0;
  let dataDir: string;
  let server: TestServer | undefined;

  before(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-retention-e2e-'));
  });
  after(async () => {
    await server?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  // Asynchronously: the server answers in this process.
  const aws = async (...args: string[]) =>
    JSON.parse((await run('aws', ['--endpoint-url', server!.endpoint, 'logs', ...args], { env: awsEnv(), timeout: 60_000 })).stdout || '{}');

  test('events older than the retention are deleted; describe-log-groups storedBytes follows', async (t) => {
    if (!haveAws) return serviceMissing(t, 'the aws CLI', 'aws is not on PATH');
    const G = '/e2e/retention';
    server = await startServer({ dataDir });
    await aws('create-log-group', '--log-group-name', G);
    await aws('create-log-stream', '--log-group-name', G, '--log-stream-name', 's');
    const now = Date.now();
    const events = (at: number, ...msgs: string[]) => JSON.stringify(msgs.map((message, i) => ({ timestamp: at + i, message })));
    // Two days old (CloudWatch takes events up to 14 days old), then fresh ones.
    const put = await aws('put-log-events', '--log-group-name', G, '--log-stream-name', 's', '--log-events', events(now - 2 * DAY_MS, 'old one', 'old two'));
    assert.equal(put.rejectedLogEventsInfo, undefined);
    await aws('put-log-events', '--log-group-name', G, '--log-stream-name', 's', '--log-events', events(now - 1000, 'fresh'));
    const storedBytes = async () => (await aws('describe-log-groups', '--log-group-name-prefix', G)).logGroups[0].storedBytes;
    assert.equal(await storedBytes(), 7 + 7 + 5);
    await aws('put-retention-policy', '--log-group-name', G, '--retention-in-days', '1');

    // The sweep runs when a server starts (and hourly): a restart applies it now.
    await server.stop({ keepData: true });
    server = await startServer({ dataDir });
    const deadline = Date.now() + 20_000;
    let bytesNow = await storedBytes();
    while (bytesNow !== 5 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      bytesNow = await storedBytes();
    }
    assert.equal(bytesNow, 5, 'storedBytes counts the fresh event only');
    const read = await aws('get-log-events', '--log-group-name', G, '--log-stream-name', 's', '--start-from-head');
    assert.deepEqual(read.events.map((e: { message: string }) => e.message), ['fresh']);
    const groups = await aws('describe-log-groups', '--log-group-name-prefix', G);
    assert.equal(groups.logGroups[0].storedBytes, 5);
    assert.equal(groups.logGroups[0].retentionInDays, 1);

    // The policy can still be removed, and the group deleted.
    await aws('delete-retention-policy', '--log-group-name', G);
    assert.equal((await aws('describe-log-groups', '--log-group-name-prefix', G)).logGroups[0].retentionInDays, undefined);
    await aws('delete-log-group', '--log-group-name', G);
    assert.deepEqual((await aws('describe-log-groups', '--log-group-name-prefix', G)).logGroups, []);
    await server.stop({ keepData: true });
    server = undefined;
  });
});
