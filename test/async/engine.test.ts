import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SqlEventQueue } from '../../src/adapters/sql/event-queue.js';
import { StratusError } from '../../src/core/errors.js';
import type { FunctionSnapshot, VersionRecord } from '../../src/core/model.js';
import { AsyncEngine, EventInvokeConfigs } from '../../src/invoke/async/index.js';
import type { InvokeRequest, InvokeResult, Invoker } from '../../src/invoke/types.js';
import type { ChangeEvent, ChangeFeed, ControlSnapshot, SqlDatabase, TargetDispatcher, TargetMessage } from '../../src/ports/index.js';
import { openTestSqlite } from './sqlite.js';
import { waitFor } from './wait.js';

/**
 * The engine on a real SQLite queue, with a scripted pipeline standing in for execution
 * environments (the end-to-end suite runs real functions): retry decisions, destinations, DLQ.
 */
const locale = { region: 'us-east-1', accountId: '000000000000' };

function version(fn: string, dlq: string | null): VersionRecord {
  return {
    functionName: fn, version: '$LATEST', codeSha256: '', codeKey: '', codeSize: 0, revisionId: 'r', lastModified: '',
    state: 'Active', stateReason: null, stateReasonCode: null, lastUpdateStatus: 'Successful', lastUpdateStatusReason: null, lastUpdateStatusReasonCode: null,
    config: {
      runtime: 'nodejs20.x', handler: 'index.handler', role: 'r', memorySize: 128, timeout: 3, description: '', environment: {},
      ephemeralStorage: 512, architectures: ['x86_64'], packageType: 'Zip', deadLetterTargetArn: dlq, tracingMode: 'PassThrough', layers: [],
      loggingConfig: { logFormat: 'Text', logGroup: null },
    },
  };
}

class Snapshot implements ControlSnapshot {
  readonly fns = new Map<string, FunctionSnapshot>();
  add(name: string, opts: { dlq?: string; reserved?: number | null } = {}) {
    this.fns.set(name, {
      fn: { name, createdAt: '', tags: {}, reservedConcurrency: opts.reserved ?? null, recursiveLoop: 'Terminate', lastVersion: 0 },
      versions: new Map([['$LATEST', version(name, opts.dlq ?? null)]]),
      aliases: new Map(),
    });
  }
  get(n: string) { return this.fns.get(n); }
  names() { return this.fns.keys(); }
  async settle() {}
  async lookup(n: string) { return this.fns.get(n); }
}

class Feed implements ChangeFeed {
  private ls = new Set<(e: ChangeEvent) => void>();
  async publish(e: ChangeEvent) { for (const l of this.ls) l(e); }
  subscribe(l: (e: ChangeEvent) => void) { this.ls.add(l); return () => this.ls.delete(l); }
  async close() {}
}

type Script = (attempt: number, req: InvokeRequest) => InvokeResult | Error;

describe('async engine on SQLite', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-engine-'));
  let sql: SqlDatabase;
  let engine: AsyncEngine;
  let configs: EventInvokeConfigs;
  const snapshot = new Snapshot();
  const scripts = new Map<string, Script>();
  const calls: InvokeRequest[] = [];
  const delivered: Array<{ arn: string; msg: TargetMessage }> = [];
  const invoker: Invoker = {
    async invoke(req) {
      calls.push(req);
      const n = calls.filter((c) => c.requestId === req.requestId).length;
      const r = scripts.get(req.functionName)!(n, req);
      if (r instanceof Error) throw r;
      return r;
    },
  };
  const targets: TargetDispatcher = {
    register() {},
    serves: () => true,
    async deliver(arn, msg) { delivered.push({ arn, msg }); },
  };
  const ok = (payload: unknown): InvokeResult => ({ statusCode: 200, requestId: '', payload: Buffer.from(JSON.stringify(payload)), executedVersion: '$LATEST' });
  const err = (message: string): InvokeResult => ({
    statusCode: 200, requestId: '', payload: Buffer.from(JSON.stringify({ errorType: 'Error', errorMessage: message })),
    executedVersion: '$LATEST', functionError: 'Unhandled', errorType: 'Error',
  });
  let seq = 0;
  async function send(fn: string, payload: unknown): Promise<string> {
    const requestId = `req-${++seq}`;
    await engine.enqueue({ functionName: fn, payload: Buffer.from(JSON.stringify(payload)), invocationType: 'Event', requestId, source: 'api' }, { functionName: fn, qualifier: '$LATEST' });
    return requestId;
  }
  const recordOf = (id: string) => waitFor(`record for ${id}`, () => delivered.find((d) => d.msg.body.includes(`"requestId":"${id}"`)));
  const attemptsOf = (id: string) => calls.filter((c) => c.requestId === id).length;

  before(async () => {
    sql = await openTestSqlite(path.join(dir, 'e.db'));
    const feed = new Feed();
    configs = new EventInvokeConfigs({ sql, snapshot, changes: feed, locale, clock: { now: () => Date.now() } });
    engine = new AsyncEngine({
      queue: new SqlEventQueue(sql), invoker, snapshot, targets, configs, locale, clock: { now: () => Date.now() },
      timeScale: 0.001, concurrency: 4, releaseOnStart: true, pollMs: 50,
    });
    await engine.start();
  });
  after(async () => {
    await engine.stop();
    configs.close();
    await sql.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('function error: 3 attempts with the same request id, OnFailure record, DLQ with attributes', async () => {
    snapshot.add('bad', { dlq: 'arn:aws:sqs:us-east-1:000000000000:dlq' });
    scripts.set('bad', () => err('kaput'));
    await configs.put({ FunctionName: 'bad', DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:us-east-1:000000000000:fail' } } });
    const id = await send('bad', { a: 1 });
    const rec = await recordOf(id);
    assert.equal(rec.arn, 'arn:aws:sqs:us-east-1:000000000000:fail');
    const r = JSON.parse(rec.msg.body);
    assert.equal(r.requestContext.condition, 'RetriesExhausted');
    assert.equal(r.requestContext.approximateInvokeCount, 3);
    assert.equal(attemptsOf(id), 3);
    assert.ok(calls.filter((c) => c.requestId === id).every((c) => c.source === 'async' && c.invocationType === 'RequestResponse'));
    const dlq = await waitFor('dlq message', () => delivered.find((d) => d.arn.endsWith(':dlq') && d.msg.attributes?.RequestID === id));
    assert.equal(dlq.msg.body, '{"a":1}', 'the DLQ gets the original payload');
    assert.deepEqual(dlq.msg.attributes, { RequestID: id, ErrorCode: '200', ErrorMessage: 'kaput' });
    assert.deepEqual(dlq.msg.attributeDataTypes, { ErrorCode: 'Number' });
  });

  test('throttles and system errors do not use attempts; a later success wins', async () => {
    snapshot.add('crowded');
    scripts.set('crowded', (n) =>
      n <= 3 ? Errors429() : n === 4 ? new Error('socket hang up') : ok({ done: n }));
    await configs.put({ FunctionName: 'crowded', MaximumRetryAttempts: 0, DestinationConfig: { OnSuccess: { Destination: 'arn:aws:sqs:us-east-1:000000000000:ok' } } });
    const id = await send('crowded', {});
    const rec = JSON.parse((await recordOf(id)).msg.body);
    assert.equal(rec.requestContext.condition, 'Success');
    assert.equal(rec.requestContext.approximateInvokeCount, 1, 'only the attempt that ran counts');
    assert.deepEqual(rec.responsePayload, { done: 5 });
    assert.equal(attemptsOf(id), 5);
  });

  test('permanent errors fail at once', async () => {
    snapshot.add('gone');
    snapshot.add('x'); // a function destination must exist
    scripts.set('gone', () => new StratusError('ResourceNotFoundException', 404, 'Function not found'));
    await configs.put({ FunctionName: 'gone', DestinationConfig: { OnFailure: { Destination: 'arn:aws:lambda:us-east-1:000000000000:function:x' } } });
    const id = await send('gone', {});
    const rec = JSON.parse((await recordOf(id)).msg.body);
    assert.equal(rec.requestContext.condition, 'RetriesExhausted');
    assert.equal(attemptsOf(id), 1);
  });

  test('an event older than its maximum age is not attempted; the record and the DLQ say what its last attempt answered', async () => {
    snapshot.add('old', { dlq: 'arn:aws:sqs:us-east-1:000000000000:olddlq' });
    scripts.set('old', () => err('x'));
    await configs.put({ FunctionName: 'old', MaximumEventAgeInSeconds: 60, DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:us-east-1:000000000000:aged' } } });
    const id = await send('old', {});
    const rec = JSON.parse((await recordOf(id)).msg.body);
    assert.equal(rec.requestContext.condition, 'EventAgeExceeded');
    assert.equal(rec.requestContext.approximateInvokeCount, 1);
    assert.equal(attemptsOf(id), 1);
    assert.deepEqual(rec.responseContext, { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' });
    assert.deepEqual(rec.responsePayload, { errorType: 'Error', errorMessage: 'x' });
    const dlq = await waitFor('dlq message', () => delivered.find((d) => d.arn.endsWith(':olddlq') && d.msg.attributes?.RequestID === id));
    assert.equal(dlq.msg.attributes?.ErrorMessage, 'x', 'the error\'s message, not its type');
  });

  test('reserved concurrency 0: DLQ with 429, no attempt', async () => {
    snapshot.add('off', { reserved: 0, dlq: 'arn:aws:sqs:us-east-1:000000000000:offdlq' });
    scripts.set('off', () => ok(1));
    const id = await send('off', { z: 1 });
    const dlq = await waitFor('dlq message', () => delivered.find((d) => d.arn.endsWith(':offdlq')));
    assert.equal(dlq.msg.attributes?.RequestID, id);
    assert.equal(dlq.msg.attributes?.ErrorCode, '429');
    assert.equal(attemptsOf(id), 0);
  });
});

function Errors429(): Error {
  return new StratusError('TooManyRequestsException', 429, 'Rate exceeded', { Reason: 'ConcurrentInvocationLimitExceeded' });
}

/**
 * Two engines on one queue, as two nodes of a cluster: the first is stopped gracefully while it
 * holds events, one running (cut off after the grace) and one taken but not started yet. The one
 * not started must be free for the other node at once, the running one as soon as its
 * environment is stopped (never while it still runs here): not when the first node's lease runs
 * out.
 */
describe('async engine: a graceful stop hands back the events it holds', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-engine-stop-'));
  const LEASE_MS = 60_000;
  let sql: SqlDatabase;
  let configs: EventInvokeConfigs;
  let engines: AsyncEngine[] = [];
  // Resolved when the first node's environments are stopped (the app's execution.stop()).
  let hangRelease: () => void = () => undefined;
  const hang = new Promise<void>((r) => { hangRelease = r; });
  const shared = new Snapshot();

  before(async () => {
    sql = await openTestSqlite(path.join(dir, 'e.db'));
    configs = new EventInvokeConfigs({ sql, snapshot: shared, changes: new Feed(), locale, clock: { now: () => Date.now() } });
  });
  after(async () => {
    hangRelease();
    for (const e of engines) await e.stop(0);
    configs.close();
    await sql.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function node(snapshot: ControlSnapshot, invoke: (req: InvokeRequest) => Promise<InvokeResult>, beforeDelivery: () => Promise<void> = async () => undefined) {
    const calls: InvokeRequest[] = [];
    const delivered: Array<{ arn: string; msg: TargetMessage }> = [];
    const engine = new AsyncEngine({
      queue: new SqlEventQueue(sql),
      invoker: { invoke: (req) => { calls.push(req); return invoke(req); } },
      snapshot,
      targets: { register() {}, serves: () => true, async deliver(arn, msg) { await beforeDelivery(); delivered.push({ arn, msg }); } },
      configs, locale, clock: { now: () => Date.now() },
      timeScale: 0.001, concurrency: 4, releaseOnStart: false, pollMs: 50, leaseMs: LEASE_MS,
    });
    engines.push(engine);
    return { engine, calls, delivered };
  }

  test('the one not started runs on the other node at once, the running one once its environment is stopped; the cut-off attempt counts as none', async () => {
    shared.add('hang');
    shared.add('late');
    // On the first node 'late' is not known yet: its lookup waits until the node is stopping.
    let lookedUp: () => void = () => undefined;
    const lookupStarted = new Promise<void>((r) => { lookedUp = r; });
    let openLookup: () => void = () => undefined;
    const gate = new Promise<void>((r) => { openLookup = r; });
    const first: ControlSnapshot = {
      get: (n) => (n === 'late' ? undefined : shared.get(n)),
      names: () => shared.names(),
      settle: async () => {},
      lookup: async (n) => {
        if (n === 'late') { lookedUp(); await gate; }
        return shared.get(n);
      },
    };
    const ok: InvokeResult = { statusCode: 200, requestId: '', payload: Buffer.from('"done"'), executedVersion: '$LATEST' };
    const a = node(first, async (req) => {
      if (req.functionName === 'hang') {
        await hang;
        throw new Error('environment stopped');
      }
      return ok;
    });
    await a.engine.start();
    for (const fn of ['hang', 'late']) {
      await configs.put({ FunctionName: fn, DestinationConfig: { OnSuccess: { Destination: `arn:aws:sqs:us-east-1:000000000000:${fn}-ok` } } });
      await a.engine.enqueue({ functionName: fn, payload: Buffer.from('{}'), invocationType: 'Event', requestId: `stop-${fn}`, source: 'api' }, { functionName: fn, qualifier: '$LATEST' });
    }
    await waitFor('the first node running hang', () => a.calls.some((c) => c.functionName === 'hang'));
    await lookupStarted;

    const stopped = a.engine.stop(200);
    openLookup();
    await stopped;
    assert.equal(a.calls.filter((c) => c.functionName === 'late').length, 0, 'a stopping node starts nothing more');
    const queue = new SqlEventQueue(sql);
    assert.equal((await queue.get('stop-hang'))?.state, 'running', 'an attempt still running on the stopping node is not handed back');

    const b = node(shared, async () => ok);
    await b.engine.start();
    // Well within the first node's lease: without the hand-back they would wait for it to run out.
    const ranOnB = async (fn: string) => {
      const rec = await waitFor(`${fn} run by the other node`, () => b.delivered.find((d) => d.arn.endsWith(`:${fn}-ok`)), LEASE_MS / 4);
      const r = JSON.parse(rec.msg.body);
      assert.equal(r.requestContext.requestId, `stop-${fn}`);
      assert.equal(r.requestContext.condition, 'Success');
      assert.equal(r.requestContext.approximateInvokeCount, 1, 'the attempt cut off by the stop is not counted, as after a crash');
      assert.equal(b.calls.filter((c) => c.requestId === `stop-${fn}`).length, 1);
    };
    await ranOnB('late');
    assert.equal(b.calls.filter((c) => c.requestId === 'stop-hang').length, 0, 'the other node does not run it while it runs on the first');
    assert.equal((await queue.get('stop-hang'))?.state, 'running');

    // The first node's environments are stopped: the cut-off attempt ends, and its event goes back.
    hangRelease();
    await a.engine.handBackCutOff();
    await ranOnB('hang');
    assert.equal(a.delivered.length, 0, 'the stopped node records no outcome');
  });

  test('an event whose outcome is decided is not handed back while its record is being delivered: it is not run or recorded twice', async () => {
    shared.add('decided');
    await configs.put({ FunctionName: 'decided', DestinationConfig: { OnSuccess: { Destination: 'arn:aws:sqs:us-east-1:000000000000:decided-ok' } } });
    const ok: InvokeResult = { statusCode: 200, requestId: '', payload: Buffer.from('"done"'), executedVersion: '$LATEST' };
    let delivering: () => void = () => undefined;
    const deliveryStarted = new Promise<void>((r) => { delivering = r; });
    let openDelivery: () => void = () => undefined;
    const gate = new Promise<void>((r) => { openDelivery = r; });
    const a = node(shared, async () => ok, async () => { delivering(); await gate; });
    await a.engine.start();
    await a.engine.enqueue({ functionName: 'decided', payload: Buffer.from('{}'), invocationType: 'Event', requestId: 'stop-decided', source: 'api' }, { functionName: 'decided', qualifier: '$LATEST' });
    await deliveryStarted;
    // The grace runs out while the OnSuccess record is still on its way; the other node starts meanwhile.
    await a.engine.stop(100);
    const b = node(shared, async () => ok);
    await b.engine.start();
    await new Promise((r) => setTimeout(r, 500));
    // The end of the stop (before the app closes the store) waits for the record and its acknowledgement.
    const finished = a.engine.handBackCutOff(LEASE_MS);
    openDelivery();
    await finished;
    assert.equal((await new SqlEventQueue(sql).get('stop-decided'))?.state, 'succeeded', 'acknowledged before the stop ends');
    assert.ok(a.delivered.find((d) => d.arn.endsWith(':decided-ok')), 'the first node delivered its record');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(b.calls.filter((c) => c.requestId === 'stop-decided').length, 0, 'the other node does not run it again');
    assert.equal(b.delivered.length, 0, 'nor deliver its record again');
    assert.equal(a.calls.length, 1);
  });
});
