import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { SqlLogStore } from '../../src/adapters/sql/log-store.js';
import { up as upLogs } from '../../src/adapters/sql/migrations/002-logs.js';
import type { Clock, LogEvent } from '../../src/ports/index.js';
import { describeEachDatabase } from './db.js';

/**
 * The LogStore contract, run against every database the store supports: SQLite always,
 * Postgres when STRATUS_TEST_DATABASE_URL is set (or CI is set), on the migrated schema.
 */
describeEachDatabase('SqlLogStore', (db) => {
  let store: SqlLogStore;
  let now = 1_700_000_000_000;
  const clock: Clock = { now: () => now };

  before(async () => {
    await upLogs(db().sql.db, db().dialect); // a second run is a no-op
    store = new SqlLogStore(db().sql, clock);
  });

  const ev = (timestamp: number, message: string): LogEvent => ({ timestamp, message });

  test('append creates the group and the stream and keeps their statistics', async () => {
    now = 1_700_000_000_000;
    await store.append('/a/stats', 's1', [ev(1000, 'one\n'), ev(900, 'two\n')]);
    now += 5;
    await store.append('/a/stats', 's1', [ev(2000, 'héllo\n')]);
    const g = await store.getGroup('/a/stats');
    assert.deepEqual(g, { logGroupName: '/a/stats', creationTime: 1_700_000_000_000, retentionInDays: null, storedBytes: 4 + 4 + 7, logGroupClass: 'STANDARD', kmsKeyId: null });
    const [s] = await store.describeStreams('/a/stats', { orderBy: 'LogStreamName', descending: false, offset: 0, limit: 10 });
    assert.deepEqual(s, {
      logStreamName: 's1', creationTime: 1_700_000_000_000, firstEventTimestamp: 900, lastEventTimestamp: 2000,
      lastIngestionTime: 1_700_000_000_005, storedBytes: 15,
    });
    const events = await store.query({ logGroupName: '/a/stats', limit: 10 });
    // Read in timestamp order; ids increase in insertion order.
    assert.deepEqual(events.map((e) => [e.logStreamName, e.timestamp, e.message, e.ingestionTime]), [
      ['s1', 900, 'two\n', 1_700_000_000_000],
      ['s1', 1000, 'one\n', 1_700_000_000_000],
      ['s1', 2000, 'héllo\n', 1_700_000_000_005],
    ]);
    assert.ok(events[1]!.id < events[0]!.id && events[0]!.id < events[2]!.id, 'ids increase in insertion order');
    assert.equal(await store.getGroup('/a/none'), undefined);
  });

  test('appendBatch writes many streams in order, in one go, also past one insert chunk', async () => {
    const many = Array.from({ length: 2500 }, (_, i) => ev(10_000 + i, `line ${i}\n`));
    await store.appendBatch([
      { group: '/b/one', stream: 'x', events: [ev(1, 'x1\n')] },
      { group: '/b/two', stream: 'y', events: [ev(2, 'y1\n')] },
      { group: '/b/one', stream: 'x', events: [ev(3, 'x2\n')] },
      { group: '/b/one', stream: 'big', events: many },
      { group: '/b/one', stream: 'empty', events: [] },
    ]);
    const one = await store.query({ logGroupName: '/b/one', limit: 10_000 });
    assert.equal(one.length, 2502);
    assert.deepEqual(one.slice(0, 3).map((e) => e.message), ['x1\n', 'x2\n', 'line 0\n']);
    assert.equal(one[one.length - 1]!.message, 'line 2499\n');
    const streams = await store.describeStreams('/b/one', { orderBy: 'LogStreamName', descending: false, offset: 0, limit: 10 });
    assert.deepEqual(streams.map((s) => s.logStreamName), ['big', 'x'], 'an empty batch creates nothing');
    assert.equal((await store.query({ logGroupName: '/b/two', limit: 10 }))[0]!.message, 'y1\n');
    await store.appendBatch([]);
  });

  test('a batch that fails part-way leaves nothing of itself behind', async () => {
    await store.append('/b/atomic', 'kept', [ev(1, 'before\n')]);
    const rows = Array.from({ length: 600 }, (_, i) => ev(100 + i, `row ${i}\n`));
    await assert.rejects(store.appendBatch([
      { group: '/b/atomic', stream: 'kept', events: rows },
      { group: '/b/atomic', stream: 'new', events: [ev(Number.NaN, 'no time\n')] },
    ]));
    assert.deepEqual((await store.query({ logGroupName: '/b/atomic', limit: 10_000 })).map((e) => e.message), ['before\n']);
    assert.deepEqual((await store.describeStreams('/b/atomic', { orderBy: 'LogStreamName', descending: false, offset: 0, limit: 10 })).map((s) => [s.logStreamName, s.storedBytes]), [['kept', 7]]);
  });

  test('concurrent appends to one stream all land and add up', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.append('/c/conc', 'same', [ev(i, `${i}`.padStart(4, '0'))])));
    const events = await store.query({ logGroupName: '/c/conc', limit: 100 });
    assert.equal(events.length, 20);
    assert.equal((await store.getGroup('/c/conc'))!.storedBytes, 80);
    const [s] = await store.describeStreams('/c/conc', { orderBy: 'LogStreamName', descending: false, offset: 0, limit: 1 });
    assert.equal(s!.storedBytes, 80);
    assert.equal(s!.firstEventTimestamp, 0);
    assert.equal(s!.lastEventTimestamp, 19);
  });

  test('query: streams, prefix, time range, terms, order, cursors, limit', async () => {
    const g = '/q/query';
    await store.append(g, 'app[1]', [ev(100, 'START a\n'), ev(110, 'ERROR Disk full\n'), ev(120, 'done 100%_ok\n')]);
    await store.append(g, 'app[2]', [ev(105, 'error disk\n'), ev(115, 'ERROR disk full\n')]);
    await store.append(g, 'apX', [ev(130, 'ERROR other\n')]);
    await store.append(g, 'worker', [ev(140, 'ERROR disk full worker\n')]);
    const msgs = (q: Partial<Parameters<SqlLogStore['query']>[0]>) =>
      store.query({ logGroupName: g, limit: 100, ...q }).then((r) => r.map((e) => e.message.trim()));

    assert.equal((await msgs({})).length, 7);
    assert.deepEqual(await msgs({ logStreamNames: ['app[2]'] }), ['error disk', 'ERROR disk full']);
    assert.deepEqual(await msgs({ logStreamNames: ['app[2]', 'worker'] }), ['error disk', 'ERROR disk full', 'ERROR disk full worker']);
    assert.deepEqual(await msgs({ logStreamNames: [] }), []);
    // Prefixes are literal ("[" and "_" are not patterns) and case-sensitive.
    assert.deepEqual(await msgs({ logStreamNamePrefix: 'app[' }), ['START a', 'error disk', 'ERROR Disk full', 'ERROR disk full', 'done 100%_ok']);
    assert.deepEqual(await msgs({ logStreamNamePrefix: 'ap' }), ['START a', 'error disk', 'ERROR Disk full', 'ERROR disk full', 'done 100%_ok', 'ERROR other']);
    assert.deepEqual(await msgs({ logStreamNamePrefix: 'APP' }), []);
    // startTime inclusive, endTime exclusive.
    assert.deepEqual(await msgs({ startTime: 110, endTime: 120 }), ['ERROR Disk full', 'ERROR disk full']);
    // Terms: all must appear, case-sensitive, literal ("%" and "_" are not wildcards).
    assert.deepEqual(await msgs({ terms: ['ERROR', 'disk'] }), ['ERROR disk full', 'ERROR disk full worker']);
    assert.deepEqual(await msgs({ terms: ['Disk'] }), ['ERROR Disk full']);
    assert.deepEqual(await msgs({ terms: ['%_'] }), ['done 100%_ok']);
    assert.deepEqual(await msgs({ terms: ['_'] }), ['done 100%_ok']);
    assert.deepEqual(await msgs({ terms: ['ERROR', 'nothing'] }), []);
    assert.deepEqual(await msgs({ terms: [] }), await msgs({}));

    // Timestamp order across streams, whatever order the events came in.
    const all = await store.query({ logGroupName: g, limit: 100 });
    assert.deepEqual(all.map((e) => e.timestamp), [100, 105, 110, 115, 120, 130, 140]);
    const at = (i: number) => ({ timestamp: all[i]!.timestamp, id: all[i]!.id });
    const after = await store.query({ logGroupName: g, limit: 2, after: at(2) });
    assert.deepEqual(after.map((e) => e.id), [all[3]!.id, all[4]!.id]);
    const desc = await store.query({ logGroupName: g, limit: 3, descending: true });
    assert.deepEqual(desc.map((e) => e.id), [all[6]!.id, all[5]!.id, all[4]!.id]);
    const before = await store.query({ logGroupName: g, limit: 2, descending: true, before: at(4) });
    assert.deepEqual(before.map((e) => e.id), [all[3]!.id, all[2]!.id]);
    const window = await store.query({ logGroupName: g, limit: 10, after: at(1), before: at(4) });
    assert.deepEqual(window.map((e) => e.id), [all[2]!.id, all[3]!.id]);
    assert.deepEqual(await store.query({ logGroupName: g, limit: 0 }), []);
    assert.deepEqual(await store.query({ logGroupName: '/q/none', limit: 10 }), []);
    const combined = await msgs({ logStreamNamePrefix: 'app', terms: ['ERROR'], startTime: 111, descending: true });
    assert.deepEqual(combined, ['ERROR disk full']);
  });

  test('groups: create once, list by prefix in bytewise order with a cursor, retention, delete', async () => {
    for (const n of ['/l/b', '/l/B', '/l/a', '/l/a/x', '/l_', '/m']) assert.equal(await store.createGroup(n, 42), true);
    assert.equal(await store.createGroup('/l/a', 43), false);
    const names = async (prefix: string | undefined, afterName?: string, limit = 100) =>
      (await store.describeGroups(prefix, afterName, limit)).map((x) => x.logGroupName);
    assert.deepEqual(await names('/l/'), ['/l/B', '/l/a', '/l/a/x', '/l/b']);
    assert.deepEqual(await names('/l/', '/l/a', 2), ['/l/a/x', '/l/b']);
    assert.deepEqual(await names('/l_'), ['/l_']);
    assert.deepEqual(await names('/l/A'), []);
    const everything = await names(undefined);
    assert.ok(everything.indexOf('/l/B') < everything.indexOf('/l/a') && everything.indexOf('/l/b') < everything.indexOf('/l_'));
    const [a] = await store.describeGroups('/l/a', undefined, 1);
    assert.deepEqual(a, { logGroupName: '/l/a', creationTime: 42, retentionInDays: null, storedBytes: 0, logGroupClass: 'STANDARD', kmsKeyId: null });
    // The class and the KMS key CreateLogGroup names are kept.
    assert.equal(await store.createGroup('/l/ia', 43, {}, { logGroupClass: 'INFREQUENT_ACCESS', kmsKeyId: 'arn:aws:kms:us-east-1:000000000000:key/k' }), true);
    const ia = (await store.getGroup('/l/ia'))!;
    assert.deepEqual([ia.logGroupClass, ia.kmsKeyId], ['INFREQUENT_ACCESS', 'arn:aws:kms:us-east-1:000000000000:key/k']);
    assert.equal(await store.deleteGroup('/l/ia'), true);

    assert.equal(await store.putRetention('/l/a', 30), true);
    assert.equal((await store.getGroup('/l/a'))!.retentionInDays, 30);
    assert.equal(await store.putRetention('/l/a', null), true);
    assert.equal((await store.getGroup('/l/a'))!.retentionInDays, null);
    assert.equal(await store.putRetention('/l/none', 30), false);

    await store.append('/l/a', 's', [ev(1, 'gone\n')]);
    assert.equal(await store.deleteGroup('/l/a'), true);
    assert.equal(await store.getGroup('/l/a'), undefined);
    assert.deepEqual(await store.describeStreams('/l/a', { orderBy: 'LogStreamName', descending: false, offset: 0, limit: 10 }), []);
    assert.deepEqual(await store.query({ logGroupName: '/l/a', limit: 10 }), []);
    assert.equal(await store.deleteGroup('/l/a'), false);
    assert.deepEqual(await names('/l/a'), ['/l/a/x'], 'a group that shares the prefix is untouched');
    // Recreated from scratch: no statistics carried over.
    await store.append('/l/a', 's', [ev(5, 'new\n')]);
    assert.equal((await store.getGroup('/l/a'))!.storedBytes, 4);
  });

  test('tags: kept from creation, changed atomically, gone with their group', async () => {
    assert.equal(await store.createGroup('/t/tags', 1, { a: '1' }), true);
    assert.deepEqual(await store.getTags('/t/tags'), { a: '1' });
    assert.deepEqual(await store.updateTags('/t/tags', (t) => ({ ...t, b: '2' })), { a: '1', b: '2' });
    await assert.rejects(store.updateTags('/t/tags', () => { throw new Error('refused'); }), /refused/);
    assert.deepEqual(await store.getTags('/t/tags'), { a: '1', b: '2' });
    await Promise.all(['c', 'd', 'e'].map((k) => store.updateTags('/t/tags', (t) => ({ ...t, [k]: k }))));
    assert.deepEqual(Object.keys((await store.getTags('/t/tags'))!).sort(), ['a', 'b', 'c', 'd', 'e'], 'no change lost');
    await store.append('/t/implicit', 's', [ev(1, 'x')]);
    assert.deepEqual(await store.getTags('/t/implicit'), {}, 'a group made by a write has none');
    assert.equal(await store.getTags('/t/none'), undefined);
    assert.equal(await store.updateTags('/t/none', (t) => t), undefined);
    await store.deleteGroup('/t/tags');
    await store.createGroup('/t/tags', 2);
    assert.deepEqual(await store.getTags('/t/tags'), {});
  });

  test('streams: create once, order by name or last event time, offset paging, delete', async () => {
    const g = '/s/streams';
    await store.createGroup(g, 1);
    assert.equal(await store.createStream(g, 'idle', 7), true);
    assert.equal(await store.createStream(g, 'idle', 8), false);
    await store.append(g, 'late', [ev(300, 'x')]);
    await store.append(g, 'early', [ev(100, 'x')]);
    await store.append(g, 'mid', [ev(200, 'x')]);
    const list = async (orderBy: 'LogStreamName' | 'LastEventTime', descending: boolean, offset = 0, limit = 10, prefix?: string) =>
      (await store.describeStreams(g, { orderBy, descending, offset, limit, prefix })).map((s) => s.logStreamName);
    assert.deepEqual(await list('LogStreamName', false), ['early', 'idle', 'late', 'mid']);
    assert.deepEqual(await list('LogStreamName', true), ['mid', 'late', 'idle', 'early']);
    assert.deepEqual(await list('LastEventTime', false), ['idle', 'early', 'mid', 'late']);
    assert.deepEqual(await list('LastEventTime', true), ['late', 'mid', 'early', 'idle']);
    assert.deepEqual(await list('LogStreamName', false, 1, 2), ['idle', 'late']);
    assert.deepEqual(await list('LogStreamName', false, 4, 2), []);
    assert.deepEqual(await list('LogStreamName', false, 0, 10, 'm'), ['mid']);
    const [idle] = await store.describeStreams(g, { orderBy: 'LogStreamName', descending: false, offset: 0, limit: 1, prefix: 'idle' });
    assert.deepEqual(idle, { logStreamName: 'idle', creationTime: 7, firstEventTimestamp: null, lastEventTimestamp: null, lastIngestionTime: null, storedBytes: 0 });

    assert.equal((await store.getGroup(g))!.storedBytes, 3);
    assert.equal(await store.deleteStream(g, 'late'), true);
    assert.equal(await store.deleteStream(g, 'late'), false);
    assert.deepEqual(await list('LogStreamName', false), ['early', 'idle', 'mid']);
    assert.deepEqual((await store.query({ logGroupName: g, limit: 10 })).map((e) => e.logStreamName), ['early', 'mid']);
    assert.equal((await store.getGroup(g))!.storedBytes, 2);
  });

  /** What the store holds for a group: its events' messages, and storedBytes of it and its streams. */
  const holdings = async (g: string) => ({
    messages: (await store.query({ logGroupName: g, limit: 10_000 })).map((e) => e.message),
    group: (await store.getGroup(g))?.storedBytes,
    streams: Object.fromEntries((await store.describeStreams(g, { orderBy: 'LogStreamName', descending: false, offset: 0, limit: 50 }))
      .map((s) => [s.logStreamName, s.storedBytes])),
  });

  test('retention: expireEvents deletes the oldest events before the cutoff, a batch at a time, and takes their bytes off', async () => {
    const g = '/x/expire';
    await store.append(g, 'a', [ev(100, 'a-old1\n'), ev(300, 'a-old3\n'), ev(1000, 'a-new\n')]);
    await store.append(g, 'b', [ev(200, 'b-old2 é\n'), ev(499, 'b-old4\n'), ev(500, 'b-edge\n')]);
    await store.append('/x/other', 'a', [ev(100, 'other group\n')]);
    assert.deepEqual((await holdings(g)).streams, { a: 7 + 7 + 6, b: 10 + 7 + 7 });

    assert.equal(await store.expireEvents(g, 500, 2), 2, 'one batch: the two oldest');
    assert.deepEqual(await holdings(g), {
      messages: ['a-old3\n', 'b-old4\n', 'b-edge\n', 'a-new\n'],
      group: 7 + 6 + 7 + 7, streams: { a: 7 + 6, b: 7 + 7 },
    });
    assert.equal(await store.expireEvents(g, 500, 2), 2);
    assert.equal(await store.expireEvents(g, 500, 2), 0, 'nothing left before the cutoff (which is exclusive)');
    assert.deepEqual(await holdings(g), { messages: ['b-edge\n', 'a-new\n'], group: 13, streams: { a: 6, b: 7 } });
    assert.deepEqual((await holdings('/x/other')).messages, ['other group\n'], 'another group is untouched');
    assert.equal(await store.expireEvents('/x/none', 500, 10), 0);
    assert.equal(await store.expireEvents(g, -Infinity, 10), 0, 'no retention: nothing is expired');

    // Deleting a stream or the group afterwards still adds up.
    assert.equal(await store.deleteStream(g, 'b'), true);
    assert.equal((await store.getGroup(g))!.storedBytes, 6);
    assert.equal(await store.deleteGroup(g), true);
    assert.equal(await store.getGroup(g), undefined);
  });

  test('retention: two sweeps and a stream delete at once (two nodes) delete each event once, bytes add up', async () => {
    const g = '/x/peers';
    const streams = ['s1', 's2', 's3', 'gone'];
    for (const s of streams) {
      await store.append(g, s, [
        ...Array.from({ length: 150 }, (_, i) => ev(i, `${s} old ${String(i).padStart(3, '0')}\n`)),
        ev(5000, `${s} new\n`),
      ]);
    }
    const peer = new SqlLogStore(await db().peer(), clock);
    const drain = async (s: SqlLogStore) => {
      let n = 0;
      for (let k = -1; k !== 0;) n += (k = await s.expireEvents(g, 1000, 7));
      return n;
    };
    const [a, b] = await Promise.all([drain(store), drain(peer), peer.deleteStream(g, 'gone')]);
    assert.ok(a + b <= 4 * 150 && a + b >= 3 * 150, `deleted ${a} + ${b}`);
    const after = await holdings(g);
    assert.deepEqual(after.messages, ['s1 new\n', 's2 new\n', 's3 new\n']);
    assert.deepEqual(after.streams, { s1: 7, s2: 7, s3: 7 });
    assert.equal(after.group, 21);
  });

  test('messages are stored as given, except NUL (which Postgres text cannot hold)', async () => {
    const odd = ['tab\tand\r\nnewline\n', 'emoji 😀 and ünïcödé', '\u0000nul\u0000', "quote ' and \" and \\"];
    await store.append('/n/odd', 's', odd.map((m, i) => ev(i, m)));
    const got = (await store.query({ logGroupName: '/n/odd', limit: 10 })).map((e) => e.message);
    assert.deepEqual(got, [odd[0], odd[1], '\uFFFDnul\uFFFD', odd[3]]);
    assert.deepEqual((await store.query({ logGroupName: '/n/odd', limit: 10, terms: ['😀'] })).length, 1);
    assert.deepEqual((await store.query({ logGroupName: '/n/odd', limit: 10, terms: ['\u0000nul'] })).length, 1);
  });

  test('another connection (a restart, or a second node) sees the same logs and appends after them', async () => {
    await store.append('/r/restart', 's', [ev(1, 'before\n')]);
    const other = await db().connect();
    try {
      const again = new SqlLogStore(other, clock);
      assert.deepEqual((await again.query({ logGroupName: '/r/restart', limit: 10 })).map((e) => e.message), ['before\n']);
      await again.append('/r/restart', 's', [ev(2, 'after\n')]);
      const both = await store.query({ logGroupName: '/r/restart', limit: 10 });
      assert.deepEqual(both.map((e) => e.message), ['before\n', 'after\n']);
      assert.ok(both[0]!.id < both[1]!.id);
    } finally {
      await other.close();
    }
  });

  test('two writers appending to the same streams at once both land, statistics add up', async () => {
    const peer = new SqlLogStore(await db().peer(), clock);
    const batch = (tag: string) => ['a', 'b', 'c'].map((stream) => ({ group: '/p/peer', stream, events: [ev(1, `${tag}-${stream}`)] }));
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? store : peer).appendBatch(batch(`w${i}`))));
    assert.equal((await store.query({ logGroupName: '/p/peer', limit: 100 })).length, 30);
    assert.equal((await store.getGroup('/p/peer'))!.storedBytes, 30 * 4);
    const streams = await store.describeStreams('/p/peer', { orderBy: 'LogStreamName', descending: false, offset: 0, limit: 10 });
    assert.deepEqual(streams.map((s) => s.storedBytes), [40, 40, 40]);
  });
});
