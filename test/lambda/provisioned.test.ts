import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateAliasCommand, CreateFunctionCommand, DeleteAliasCommand, DeleteProvisionedConcurrencyConfigCommand, GetProvisionedConcurrencyConfigCommand,
  InvokeCommand, LambdaClient, ListProvisionedConcurrencyConfigsCommand, PublishVersionCommand, PutFunctionConcurrencyCommand,
  PutProvisionedConcurrencyConfigCommand, UpdateAliasCommand, UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import type { StratusExecutionService } from '../../src/environments/index.js';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const decode = (p?: Uint8Array) => (p ? Buffer.from(p).toString('utf8') : '');
const logOf = (b64?: string) => Buffer.from(b64 ?? '', 'base64').toString('utf8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reports how it was initialized, when, and in which process; exits when asked to. */
const handler = (tag: string) => makeZip({
  'index.js': `const initAt = Date.now();
console.log('init ${tag}', process.env.AWS_LAMBDA_INITIALIZATION_TYPE);
exports.handler = async (e) => {
  if (e && e.exit) process.exit(3);
  if (e && e.sleep) await new Promise((r) => setTimeout(r, e.sleep));
  return { tag: '${tag}', type: process.env.AWS_LAMBDA_INITIALIZATION_TYPE, initAt, pid: process.pid };
};`,
});

describe('provisioned concurrency', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  const environments = () => (server.stratus.internals.ctx.execution as StratusExecutionService).stats().environments;
  const busy = () => (server.stratus.internals.ctx.execution as StratusExecutionService).stats().busy;

  /** Polls GetProvisionedConcurrencyConfig until `status` (bounded: 15 s). */
  async function until(fn: string, qualifier: string, status: string) {
    for (let i = 0; i < 300; i++) {
      const c = await lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: fn, Qualifier: qualifier }));
      if (c.Status === status) return c;
      await sleep(50);
    }
    assert.fail(`${fn}:${qualifier} never reached ${status}`);
  }

  before(async () => {
    // A short idle time: on-demand environments are reaped within the test, provisioned ones must not be.
    server = await startServer({ idleTimeoutMs: 400 });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'pc', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await handler('one') }, Publish: true }));
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'pc', ZipFile: await handler('two'), Publish: true }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'pc', Name: 'live', FunctionVersion: '1' }));
  });
  after(async () => server?.stop());

  test('environments initialized ahead of invocations: they serve them warm, and are never reaped', async () => {
    const put = await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'live', ProvisionedConcurrentExecutions: 2 }));
    assert.equal(put.$metadata.httpStatusCode, 202);
    assert.equal(put.RequestedProvisionedConcurrentExecutions, 2);
    assert.equal(put.Status, 'IN_PROGRESS');
    assert.match(put.LastModified!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    const ready = await until('pc', 'live', 'READY');
    assert.equal(ready.AllocatedProvisionedConcurrentExecutions, 2);
    assert.equal(ready.AvailableProvisionedConcurrentExecutions, 2);
    assert.equal(environments(), 2);
    const readyAt = Date.now();
    // Longer than the idle time: the provisioned environments stay.
    await sleep(1200);
    assert.equal(environments(), 2, 'provisioned environments are not reaped when idle');
    const res = await lambda.send(new InvokeCommand({ FunctionName: 'pc', Qualifier: 'live', LogType: 'Tail' }));
    const out = JSON.parse(decode(res.Payload));
    assert.equal(out.tag, 'one');
    assert.equal(out.type, 'provisioned-concurrency');
    assert.ok(out.initAt <= readyAt, 'its init ran before the invocation');
    const log = logOf(res.LogResult);
    assert.match(log, /^REPORT RequestId: /m);
    assert.doesNotMatch(log, /Init Duration/, 'no cold start in the REPORT');
    // Its init ran before any invocation: none of its lines in the invocation's tail.
    assert.match(log, /^START RequestId: /);
    assert.doesNotMatch(log, /INIT_START|init one/);
    assert.equal(environments(), 2);

    const list = await lambda.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 'pc' }));
    assert.deepEqual(list.ProvisionedConcurrencyConfigs!.map((c) => [c.FunctionArn, c.RequestedProvisionedConcurrentExecutions, c.Status]),
      [['arn:aws:lambda:us-east-1:000000000000:function:pc:live', 2, 'READY']]);
  });

  test('beyond the provisioned environments, invocations start on-demand ones, which are reaped', async () => {
    // Four at once, each long enough that none can wait for another's environment.
    const results = await Promise.all([0, 1, 2, 3].map(() => lambda.send(new InvokeCommand({ FunctionName: 'pc', Qualifier: 'live', Payload: Buffer.from('{"sleep":500}') }))));
    const types = results.map((r) => JSON.parse(decode(r.Payload)).type).sort();
    assert.deepEqual(types, ['on-demand', 'on-demand', 'provisioned-concurrency', 'provisioned-concurrency']);
    for (let i = 0; i < 100 && environments() > 2; i++) await sleep(50);
    assert.equal(environments(), 2, 'the on-demand ones went after the idle time');
  });

  test('an environment that dies is replaced', async () => {
    const res = await lambda.send(new InvokeCommand({ FunctionName: 'pc', Qualifier: 'live', Payload: Buffer.from('{"exit":true}') }));
    assert.equal(res.FunctionError, 'Unhandled');
    for (let i = 0; i < 200; i++) {
      const c = await lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'live' }));
      if (c.AllocatedProvisionedConcurrentExecutions === 2 && environments() >= 2) break;
      await sleep(50);
    }
    const c = await lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'live' }));
    assert.equal(c.AllocatedProvisionedConcurrentExecutions, 2);
    assert.equal(c.Status, 'READY');
  });

  test('lowered while its environments start or run: the ones no longer kept end, and never serve on-demand invocations', async () => {
    await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'live', ProvisionedConcurrentExecutions: 4 }));
    await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'live', ProvisionedConcurrentExecutions: 1 }));
    assert.equal((await until('pc', 'live', 'READY')).AllocatedProvisionedConcurrentExecutions, 1);
    const burst = async () => (await Promise.all([0, 1, 2, 3].map(() => lambda.send(new InvokeCommand({ FunctionName: 'pc', Qualifier: 'live', Payload: Buffer.from('{"sleep":400}') })))))
      .map((r) => JSON.parse(decode(r.Payload)).type).sort();
    // Once the two started before the change are through their init (they may still be starting when READY is).
    await sleep(300);
    assert.deepEqual(await burst(), ['on-demand', 'on-demand', 'on-demand', 'provisioned-concurrency']);
    // Lowered while all of them run: the busy ones end after their invocation, not kept for on-demand ones.
    await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'live', ProvisionedConcurrentExecutions: 3 }));
    await until('pc', 'live', 'READY');
    const running = Promise.all([0, 1, 2].map(() => lambda.send(new InvokeCommand({ FunctionName: 'pc', Qualifier: 'live', Payload: Buffer.from('{"sleep":1500}') }))));
    for (let i = 0; i < 250 && busy() < 3; i++) await sleep(20);
    assert.equal(busy(), 3, 'the three run');
    await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'live', ProvisionedConcurrentExecutions: 1 }));
    assert.deepEqual((await running).map((r) => JSON.parse(decode(r.Payload)).type), ['provisioned-concurrency', 'provisioned-concurrency', 'provisioned-concurrency']);
    assert.deepEqual(await burst(), ['on-demand', 'on-demand', 'on-demand', 'provisioned-concurrency']);
    await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'live', ProvisionedConcurrentExecutions: 2 }));
    await until('pc', 'live', 'READY');
  });

  test('an alias pointed at another version moves its provisioned concurrency there', async () => {
    await lambda.send(new UpdateAliasCommand({ FunctionName: 'pc', Name: 'live', FunctionVersion: '2' }));
    await until('pc', 'live', 'READY');
    for (let i = 0; i < 100 && environments() !== 2; i++) await sleep(50);
    assert.equal(environments(), 2, 'version 1\'s provisioned environments ended');
    const out = JSON.parse(decode((await lambda.send(new InvokeCommand({ FunctionName: 'pc', Qualifier: 'live' }))).Payload));
    assert.deepEqual([out.tag, out.type], ['two', 'provisioned-concurrency']);
  });

  test('deleting the config ends its environments', async () => {
    const del = await lambda.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'live' }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    for (let i = 0; i < 100 && environments() > 0; i++) await sleep(50);
    assert.equal(environments(), 0);
    await assert.rejects(lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'live' })), (e: any) =>
      e.name === 'ProvisionedConcurrencyConfigNotFoundException' && e.$metadata.httpStatusCode === 404 && e.message === 'No Provisioned Concurrency Config found for this function');
    await assert.rejects(lambda.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'live' })), { name: 'ProvisionedConcurrencyConfigNotFoundException' });
    const out = JSON.parse(decode((await lambda.send(new InvokeCommand({ FunctionName: 'pc', Qualifier: 'live' }))).Payload));
    assert.equal(out.type, 'on-demand');
  });

  test('a function whose init fails: FAILED, FUNCTION_ERROR_INIT_FAILURE', async () => {
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'pc-bad', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Publish: true, Code: { ZipFile: await makeZip({ 'index.js': 'throw new Error("no");' }) },
    }));
    await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pc-bad', Qualifier: '1', ProvisionedConcurrentExecutions: 1 }));
    const failed = await until('pc-bad', '1', 'FAILED');
    assert.equal(failed.StatusReason, 'FUNCTION_ERROR_INIT_FAILURE');
    assert.equal(failed.AllocatedProvisionedConcurrentExecutions, 0);
  });

  test('refused: $LATEST, an alias of $LATEST, a missing version, fewer than one, more than the reservation', async () => {
    const put = (Qualifier: string, n: number, FunctionName = 'pc') =>
      lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName, Qualifier, ProvisionedConcurrentExecutions: n }));
    const unpublished = (e: any) => e.name === 'InvalidParameterValueException' && e.message === 'Provisioned Concurrency Configs cannot be applied to unpublished function versions.';
    await assert.rejects(put('$LATEST', 1), unpublished);
    await lambda.send(new CreateAliasCommand({ FunctionName: 'pc', Name: 'dev', FunctionVersion: '$LATEST' }));
    await assert.rejects(put('dev', 1), unpublished);
    await assert.rejects(put('9', 1), (e: any) => e.name === 'ResourceNotFoundException' && e.message === 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:pc:9');
    await assert.rejects(put('1', 0), (e: any) => e.name === 'ValidationException' && /provisionedConcurrentExecutions.*greater than or equal to 1/.test(e.message));
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'pc', ReservedConcurrentExecutions: 2 }));
    await assert.rejects(put('1', 3), (e: any) => e.name === 'InvalidParameterValueException' && /reservedConcurrentExecution/.test(e.message));
    await assert.rejects(lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: '1' })), { name: 'ProvisionedConcurrencyConfigNotFoundException' });
  });

  test('a config goes with its alias', async () => {
    await lambda.send(new CreateAliasCommand({ FunctionName: 'pc', Name: 'gone', FunctionVersion: '1' }));
    await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'gone', ProvisionedConcurrentExecutions: 1 }));
    await until('pc', 'gone', 'READY');
    await lambda.send(new DeleteAliasCommand({ FunctionName: 'pc', Name: 'gone' }));
    for (let i = 0; i < 100 && environments() > 0; i++) await sleep(50);
    assert.equal(environments(), 0);
    const list = await lambda.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 'pc' }));
    assert.deepEqual(list.ProvisionedConcurrencyConfigs, []);
  });

  test('a weighted alias moved to another second version gets READY again; a reservation must hold it', async () => {
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'pc', ZipFile: await handler('three'), Publish: true }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'pc', Name: 'wt', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } }));
    // Not on an alias that routes by weight (as Lambda refuses it)...
    await assert.rejects(lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'wt', ProvisionedConcurrentExecutions: 2 })), (e: any) =>
      e.name === 'InvalidParameterValueException' && e.message === 'Alias with weights can not be used with Provisioned Concurrency');
    // ...but weights may be added to an alias that has provisioned concurrency: it is spread over both versions.
    await lambda.send(new UpdateAliasCommand({ FunctionName: 'pc', Name: 'wt', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: {} } }));
    await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'wt', ProvisionedConcurrentExecutions: 2 }));
    await until('pc', 'wt', 'READY');
    await lambda.send(new UpdateAliasCommand({ FunctionName: 'pc', Name: 'wt', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } }));
    await until('pc', 'wt', 'READY');
    // Version 1's share stays as it was; version 2's moves to 3.
    await lambda.send(new UpdateAliasCommand({ FunctionName: 'pc', Name: 'wt', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '3': 0.5 } } }));
    const ready = await until('pc', 'wt', 'READY');
    assert.equal(ready.AllocatedProvisionedConcurrentExecutions, 2);
    // The function's reservation (2) holds its provisioned concurrency: it cannot go below it.
    await assert.rejects(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'pc', ReservedConcurrentExecutions: 1 })), (e: any) =>
      e.name === 'InvalidParameterValueException' && /ProvisionedConcurrentExecutions/.test(e.message));
    await lambda.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: 'wt' }));
    for (let i = 0; i < 100 && environments() > 0; i++) await sleep(50);
  });
});

describe('provisioned concurrency and the account\'s concurrency', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  before(async () => {
    server = await startServer({ accountConcurrency: 6, unreservedConcurrencyMin: 1 });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    for (const name of ['warm', 'other']) {
      await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await handler(name) }, Publish: true }));
    }
  });
  after(async () => server?.stop());

  test('it is taken out of the unreserved pool; the function runs on it first, even with the pool full', async () => {
    await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'warm', Qualifier: '1', ProvisionedConcurrentExecutions: 3 }));
    for (let i = 0; i < 300; i++) {
      const c = await lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'warm', Qualifier: '1' }));
      if (c.Status === 'READY') break;
      await sleep(50);
    }
    const slow = Buffer.from('{"sleep":1500}');
    const outcome = (p: Promise<unknown>) => p.then(() => 'ok', (e: any) => `${e.name}:${e.Reason ?? ''}`);
    // 6 - 3 provisioned leaves 3 for everyone else: the fourth at once is throttled.
    const others = [0, 1, 2, 3].map(() => outcome(lambda.send(new InvokeCommand({ FunctionName: 'other', Payload: slow }))));
    await sleep(300);
    // Meanwhile, the pool full, the provisioned function still runs its three.
    const warm = await Promise.all([0, 1, 2].map(() => outcome(lambda.send(new InvokeCommand({ FunctionName: 'warm', Qualifier: '1', Payload: Buffer.from('{"sleep":200}') })))));
    assert.deepEqual(warm, ['ok', 'ok', 'ok']);
    const got = (await Promise.all(others)).sort();
    assert.deepEqual(got, ['TooManyRequestsException:ConcurrentInvocationLimitExceeded', 'ok', 'ok', 'ok']);
  });
});

describe('provisioned concurrency is its version\'s or alias\'s own (account 10, 2 kept unreserved)', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  /** How an invocation went: its environment's initialization type, or the throttle. */
  const run = (FunctionName: string, Qualifier: string | undefined, sleepMs: number) =>
    lambda.send(new InvokeCommand({ FunctionName, Qualifier, Payload: Buffer.from(JSON.stringify({ sleep: sleepMs })) }))
      .then((r) => JSON.parse(decode(r.Payload)).type as string, (e: any) => `${e.name}:${e.Reason ?? ''}`);
  const burst = (n: number, fn: string, qualifier: string | undefined, sleepMs: number) =>
    Promise.all(Array.from({ length: n }, () => run(fn, qualifier, sleepMs))).then((all) => all.sort());
  const POOL_FULL = 'TooManyRequestsException:ConcurrentInvocationLimitExceeded';
  const RESERVATION_FULL = 'TooManyRequestsException:ReservedFunctionConcurrentInvocationLimitExceeded';
  const PC = 'provisioned-concurrency';
  const times = (n: number, s: string) => Array.from({ length: n }, () => s);
  /** The outcomes expected, in the order burst() gives them (sorted). */
  const outcomes = (...parts: Array<string | string[]>) => parts.flat().sort();

  async function ready(fn: string, qualifier: string) {
    for (let i = 0; i < 300; i++) {
      const c = await lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: fn, Qualifier: qualifier }));
      if (c.Status === 'READY') return;
      await sleep(50);
    }
    assert.fail(`${fn}:${qualifier} never got READY`);
  }

  before(async () => {
    server = await startServer({ accountConcurrency: 10, unreservedConcurrencyMin: 2 });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'p1', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await handler('p1') }, Publish: true }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'p1', Name: 'live', FunctionVersion: '1' }));
    await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'p1', Qualifier: 'live', ProvisionedConcurrentExecutions: 3 }));
    await ready('p1', 'live');
  });
  after(async () => server?.stop());

  test('invocations that do not name the alias cannot take its provisioned concurrency: exact counts under bursts', async () => {
    // The pool is 10 - 3 (live's): of nine unqualified invocations at once, exactly two are refused.
    const unqualified = burst(9, 'p1', undefined, 2500);
    await sleep(500);
    // Pool full: live's three run on its provisioned environments, the two beyond it have nowhere to spill.
    const live = await burst(5, 'p1', 'live', 300);
    const rest = await unqualified;
    assert.deepEqual(live, outcomes(times(3, PC), times(2, POOL_FULL)));
    assert.deepEqual(rest, outcomes(times(7, 'on-demand'), times(2, POOL_FULL)));
  });

  test('the alias\'s invocations take its provisioned environments first, then spill over to the pool', async () => {
    // Three on provisioned environments, two spill over and start on-demand ones (which, cold, end last).
    assert.deepEqual(await burst(5, 'p1', 'live', 500), outcomes(times(2, 'on-demand'), times(3, PC)));
    await sleep(200);
    // All idle now: three at once all go to the provisioned environments.
    assert.deepEqual(await burst(3, 'p1', 'live', 300), times(3, PC));
  });

  test('an invocation naming the version runs on demand, not on its alias\'s provisioned concurrency', async () => {
    assert.equal(await run('p1', '1', 0), 'on-demand');
  });

  test('an alias and the version it points to cannot both have provisioned concurrency', async () => {
    const put = (Qualifier: string, n = 1) => lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'p1', Qualifier, ProvisionedConcurrentExecutions: n }));
    await assert.rejects(put('1'), (e: any) => e.name === 'ResourceConflictException' && e.$metadata.httpStatusCode === 409
      && e.message === 'Version is pointed by a Provisioned Concurrency alias');
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'p1', ZipFile: await handler('p1-2'), Publish: true }));
    await put('2');
    await lambda.send(new CreateAliasCommand({ FunctionName: 'p1', Name: 'next', FunctionVersion: '2' }));
    await assert.rejects(put('next'), (e: any) => e.name === 'ResourceConflictException' && e.$metadata.httpStatusCode === 409
      && e.message === 'Alias can\'t be used for Provisioned Concurrency configuration on an already Provisioned version');
    const list = await lambda.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 'p1' }));
    assert.deepEqual(list.ProvisionedConcurrencyConfigs!.map((c) => c.FunctionArn!.split(':').pop()).sort(), ['2', 'live']);
    await lambda.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: 'p1', Qualifier: '2' }));
  });

  test('provisioned concurrency that would leave less than the minimum unreserved is refused in Lambda\'s words', async () => {
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'p2', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await handler('p2') }, Publish: true }));
    // 10 - 3 (p1's) - 6 = 1, below 2.
    await assert.rejects(lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'p2', Qualifier: '1', ProvisionedConcurrentExecutions: 6 })), (e: any) =>
      e.name === 'InvalidParameterValueException'
      && e.message === 'Specified ConcurrentExecutions for function decreases account\'s UnreservedConcurrentExecution below its minimum value of [2].');
  });

  test('a reserved function\'s provisioned concurrency comes out of its reservation: its other invocations get the rest', async () => {
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'r1', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await handler('r1') }, Publish: true }));
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'r1', ReservedConcurrentExecutions: 3 }));
    await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'r1', Qualifier: '1', ProvisionedConcurrentExecutions: 2 }));
    await ready('r1', '1');
    // 3 reserved - 2 provisioned: one unqualified invocation at a time.
    const unqualified = burst(3, 'r1', undefined, 2000);
    await sleep(500);
    // Version 1's two run on its provisioned concurrency; the third would spill into the reservation, which is full.
    assert.deepEqual(await burst(3, 'r1', '1', 300), outcomes(times(2, PC), RESERVATION_FULL));
    assert.deepEqual(await unqualified, outcomes('on-demand', times(2, RESERVATION_FULL)));
  });
});
