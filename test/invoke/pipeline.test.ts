import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateAliasCommand, CreateFunctionCommand, DeleteFunctionCommand, InvokeCommand, LambdaClient, PublishVersionCommand,
  PutFunctionConcurrencyCommand, UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import type { StratusExecutionService } from '../../src/environments/index.js';
import { alive, descendants, type ProcId } from '../cli/helpers.js';
import { clientConfig, sharedBase, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';

async function create(lambda: LambdaClient, name: string, code: string, extra: Record<string, unknown> = {}) {
  await lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
    Code: { ZipFile: await makeZip({ 'index.js': code }) }, Timeout: 30, ...extra,
  }));
}

const decode = (p?: Uint8Array) => (p ? Buffer.from(p).toString('utf8') : '');

describe('invoke pipeline: concurrency admission', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  before(async () => {
    server = await startServer({ accountConcurrency: 5, unreservedConcurrencyMin: 1 });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    const slow = "exports.handler = async (e) => { await new Promise(r => setTimeout(r, 1500)); return e.i; };";
    await create(lambda, 'reserved', slow);
    await create(lambda, 'pooled', slow);
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'reserved', ReservedConcurrentExecutions: 3 }));
  });
  after(async () => server?.stop());

  async function burst(name: string, n: number) {
    const outcomes = await Promise.allSettled(
      Array.from({ length: n }, (_, i) => lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify({ i })) }))),
    );
    const ok = outcomes.filter((o) => o.status === 'fulfilled') as PromiseFulfilledResult<any>[];
    const refused = outcomes.filter((o) => o.status === 'rejected') as PromiseRejectedResult[];
    return { ok, refused };
  }

  test('N concurrent invocations over reserved K: exactly N-K refused, none of K lost', async () => {
    const { ok, refused } = await burst('reserved', 8);
    assert.equal(ok.length, 3);
    assert.equal(refused.length, 5);
    for (const r of refused) {
      assert.equal(r.reason.name, 'TooManyRequestsException');
      assert.equal(r.reason.$metadata.httpStatusCode, 429);
      assert.equal(r.reason.Reason, 'ReservedFunctionConcurrentInvocationLimitExceeded');
    }
    for (const o of ok) assert.equal(o.value.FunctionError, undefined, decode(o.value.Payload));
    const values = ok.map((o) => Number(decode(o.value.Payload))).sort();
    assert.equal(new Set(values).size, 3);
  });

  test('unreserved pool = account limit - reservations (5 - 3 = 2)', async () => {
    const { ok, refused } = await burst('pooled', 6);
    assert.equal(ok.length, 2);
    assert.equal(refused.length, 4);
    for (const r of refused) assert.equal(r.reason.Reason, 'ConcurrentInvocationLimitExceeded');
  });

  test('reserved concurrency 0 throttles every invocation', async () => {
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'reserved', ReservedConcurrentExecutions: 0 }));
    await assert.rejects(lambda.send(new InvokeCommand({ FunctionName: 'reserved' })), (e: any) =>
      e.name === 'TooManyRequestsException' && e.Reason === 'ReservedFunctionConcurrentInvocationLimitExceeded');
  });
});

describe('invoke pipeline: versions, aliases and payloads', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  before(async () => {
    server = await startServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
  });
  after(async () => server?.stop());

  test('alias weights split traffic and report the executed version', async () => {
    await create(lambda, 'weighted', "exports.handler = async () => 'v1';");
    const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: 'weighted' }));
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'weighted', ZipFile: await makeZip({ 'index.js': "exports.handler = async () => 'v2';" }) }));
    const v2 = await lambda.send(new PublishVersionCommand({ FunctionName: 'weighted' }));
    assert.equal(v1.Version, '1');
    assert.equal(v2.Version, '2');
    await lambda.send(new CreateAliasCommand({
      FunctionName: 'weighted', Name: 'live', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } },
    }));
    const seen = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const r = await lambda.send(new InvokeCommand({ FunctionName: 'weighted', Qualifier: 'live' }));
      const body = JSON.parse(decode(r.Payload));
      assert.equal(body, `v${r.ExecutedVersion}`, 'payload comes from the version reported as executed');
      seen.set(r.ExecutedVersion!, (seen.get(r.ExecutedVersion!) ?? 0) + 1);
    }
    assert.ok((seen.get('1') ?? 0) > 0 && (seen.get('2') ?? 0) > 0, `both versions ran: ${[...seen]}`);
    const latest = await lambda.send(new InvokeCommand({ FunctionName: 'weighted:$LATEST' }));
    assert.equal(latest.ExecutedVersion, '$LATEST');
    const byArn = await lambda.send(new InvokeCommand({ FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:weighted:1' }));
    assert.equal(JSON.parse(decode(byArn.Payload)), 'v1');
  });

  test('missing function, version and alias are ResourceNotFoundException', async () => {
    for (const [FunctionName, Qualifier] of [['nope', undefined], ['weighted', '99'], ['weighted', 'nosuchalias']] as const) {
      await assert.rejects(lambda.send(new InvokeCommand({ FunctionName, Qualifier })), (e: any) => {
        assert.equal(e.name, 'ResourceNotFoundException');
        assert.equal(e.$metadata.httpStatusCode, 404);
        assert.match(e.message, /Function not found: arn:aws:lambda:us-east-1:000000000000:function:/);
        return true;
      });
    }
  });

  test('payload over 6 MB is RequestEntityTooLargeException (as Lambda answers; the model calls it RequestTooLargeException); non-JSON is InvalidRequestContentException', async () => {
    await create(lambda, 'echo', 'exports.handler = async (e) => e;');
    const big = Buffer.from(JSON.stringify({ a: 'x'.repeat(6 * 1024 * 1024) }));
    await assert.rejects(lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: big })), (e: any) =>
      e.name === 'RequestEntityTooLargeException' && e.$metadata.httpStatusCode === 413);
    await assert.rejects(lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: Buffer.from('{not json') })), (e: any) =>
      e.name === 'InvalidRequestContentException' && e.$metadata.httpStatusCode === 400);
  });

  test('DryRun answers 204 without running; client context reaches the function', async () => {
    const dry = await lambda.send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'DryRun' }));
    assert.equal(dry.StatusCode, 204);
    await create(lambda, 'ctx', 'exports.handler = async (e, c) => c.clientContext;');
    const cc = Buffer.from(JSON.stringify({ custom: { k: 'v' }, env: { platform: 'test' } })).toString('base64');
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'ctx', ClientContext: cc }));
    const got = JSON.parse(decode(r.Payload));
    assert.deepEqual(got.custom, { k: 'v' });
    // Any character: the context's bytes reach the function as they were sent (UTF-8).
    const wide = Buffer.from(JSON.stringify({ custom: { note: '€100 日本 ☃ 😀 é' } })).toString('base64');
    const w = await lambda.send(new InvokeCommand({ FunctionName: 'ctx', ClientContext: wide }));
    assert.deepEqual(JSON.parse(decode(w.Payload)).custom, { note: '€100 日本 ☃ 😀 é' });
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'ctx-py', Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE,
      Code: { ZipFile: await makeZip({ 'app.py': 'def handler(e, c):\n    return c.client_context.custom\n' }) },
    }));
    const p = await lambda.send(new InvokeCommand({ FunctionName: 'ctx-py', ClientContext: wide }));
    assert.deepEqual(JSON.parse(decode(p.Payload)), { note: '€100 日本 ☃ 😀 é' });
  });

  test('function error is X-Amz-Function-Error Unhandled with the error payload; Tail returns the log', async () => {
    await create(lambda, 'fails', "exports.handler = async () => { console.log('about to fail'); throw new TypeError('boom'); };");
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'fails', LogType: 'Tail' }));
    assert.equal(r.StatusCode, 200);
    assert.equal(r.FunctionError, 'Unhandled');
    const err = JSON.parse(decode(r.Payload));
    assert.equal(err.errorType, 'TypeError');
    assert.equal(err.errorMessage, 'boom');
    const log = Buffer.from(r.LogResult!, 'base64').toString('utf8');
    assert.match(log, /START RequestId: [0-9a-f-]{36} Version: \$LATEST/);
    assert.match(log, /about to fail/);
    assert.match(log, /REPORT RequestId: [0-9a-f-]{36}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB/);
  });

  test('an update sends new invocations to the new code', async () => {
    await create(lambda, 'changing', "exports.handler = async () => 'old';");
    assert.equal(JSON.parse(decode((await lambda.send(new InvokeCommand({ FunctionName: 'changing' }))).Payload)), 'old');
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'changing', ZipFile: await makeZip({ 'index.js': "exports.handler = async () => 'new';" }) }));
    assert.equal(JSON.parse(decode((await lambda.send(new InvokeCommand({ FunctionName: 'changing' }))).Payload)), 'new');
  });
});

describe('invoke pipeline: a function deleted during an invocation', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  const gate = fs.mkdtempSync(path.join(sharedBase(), 'stratus-deleted-'));
  fs.chmodSync(gate, 0o755);
  before(async () => {
    server = await startServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
  });
  after(async () => {
    await server?.stop();
    fs.rmSync(gate, { recursive: true, force: true });
  });
  const stats = () => (server.stratus.internals.ctx.execution as StratusExecutionService).stats();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const key = (p: ProcId) => `${p.pid}:${p.start}`;

  test('the invocation in flight gets its own result (Lambda lets it finish), then nothing of the function is left; new invocations find no function, and one of the same name created meanwhile runs its own code', async () => {
    const base = new Set(descendants(process.pid).map(key));
    // It runs until the test creates the file go.
    await create(lambda, 'doomed', `const fs = require('node:fs');
exports.handler = async () => {
  while (!fs.existsSync(process.env.GATE + '/go')) await new Promise((r) => setTimeout(r, 50));
  return 'old';
};`, { Environment: { Variables: { GATE: gate } } });
    const inFlight = lambda.send(new InvokeCommand({ FunctionName: 'doomed' }));
    for (let i = 0; i < 400 && stats().busy === 0; i++) await sleep(50);
    assert.equal(stats().busy, 1);
    const procs = descendants(process.pid).filter((p) => !base.has(key(p)));
    assert.ok(procs.length > 0, 'the environment runs under the server');

    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'doomed' }));
    await assert.rejects(lambda.send(new InvokeCommand({ FunctionName: 'doomed' })), (e: any) => e.name === 'ResourceNotFoundException');
    await create(lambda, 'doomed', "exports.handler = async () => 'new';");
    assert.equal(JSON.parse(decode((await lambda.send(new InvokeCommand({ FunctionName: 'doomed' }))).Payload)), 'new');

    fs.writeFileSync(path.join(gate, 'go'), '');
    const r = await inFlight;
    assert.equal(r.StatusCode, 200);
    assert.equal(r.FunctionError, undefined, decode(r.Payload));
    assert.equal(JSON.parse(decode(r.Payload)), 'old');
    for (let i = 0; i < 400 && procs.some(alive); i++) await sleep(50);
    assert.deepEqual(procs.filter(alive), [], 'no process of the deleted function is left');
    // The new function's environment is its own, and stays warm.
    assert.equal(stats().environments, 1);
    assert.equal(JSON.parse(decode((await lambda.send(new InvokeCommand({ FunctionName: 'doomed' }))).Payload)), 'new');
    assert.equal(stats().environments, 1);
  });
});
