import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { InvokeCommand, LambdaClient, PutFunctionEventInvokeConfigCommand } from '@aws-sdk/client-lambda';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { eventually, run, up, writeDir, type RunResult, type UpProcess } from '../cli/helpers.js';
import { clientConfig } from '../helpers/server.js';

const FN = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

/**
 * `stratus events`, `stratus queues`, `stratus send`, `stratus rules` and `stratus logs` (for
 * async results): the stratus executable against a real `stratus up` child process, with
 * Lambda's real retry waits (a failed event stays 'retrying' for a minute).
 */
describe('stratus CLI for queues, rules and async events against stratus up', () => {
  let server: UpProcess;
  let lambda: LambdaClient;
  const dirs: string[] = [];
  const cli = (...args: string[]): Promise<RunResult> => run([...args, '--endpoint', server.url]);
  const ok = async (...args: string[]): Promise<string> => {
    const r = await cli(...args);
    assert.equal(r.code, 0, `stratus ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const deploy = async (name: string, source: string) => {
    const dir = writeDir({ 'index.js': source });
    dirs.push(dir);
    await ok('deploy-function', name, dir, '--timeout', '30');
  };
  const invokeAsync = async (name: string, payload: unknown) =>
    (await lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }))).$metadata.requestId!;

  before(async () => {
    server = await up();
    lambda = new LambdaClient(clientConfig(server.url));
  });
  after(async () => {
    lambda?.destroy();
    await server?.stop();
    fs.rmSync(server.dataDir, { recursive: true, force: true });
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('stratus events FUNCTION shows each event with its state and attempts; one event can be followed', async () => {
    const code = `exports.handler = async (e) => {
      if (e.sleepMs) await new Promise((r) => setTimeout(r, e.sleepMs));
      if (e.fail) throw new Error(e.fail);
      return 'ok';
    };`;
    await deploy('tracked', code);
    await deploy('final', code);
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'final', MaximumRetryAttempts: 0 }));

    const good = await invokeAsync('tracked', { n: 1 });
    const retrying = await invokeAsync('tracked', { fail: 'try again later' });
    const slow = await invokeAsync('tracked', { sleepMs: 8000 });
    const failed = await invokeAsync('final', { fail: 'no retries' });

    type Row = { requestId: string; state: string; attempts: number; nextAttemptAt?: string; lastError?: string; condition?: string };
    const rows = async (fn: string) => (JSON.parse(await ok('events', fn, '--json')) as { events: Row[]; counts: Record<string, number> });
    const seen = await eventually('succeeded, retrying and running events', async () => {
      const r = await rows('tracked');
      const by = new Map(r.events.map((e) => [e.requestId, e]));
      return by.get(good)?.state === 'succeeded' && by.get(retrying)?.state === 'retrying' && by.get(slow)?.state === 'running' ? { by, counts: r.counts } : undefined;
    });
    assert.equal(seen.by.get(good)!.attempts, 1);
    assert.equal(seen.by.get(retrying)!.attempts, 1);
    assert.equal(seen.by.get(retrying)!.lastError, 'Error');
    const wait = Date.parse(seen.by.get(retrying)!.nextAttemptAt!) - Date.now();
    assert.ok(wait > 30_000, `Lambda's first retry waits about a minute (${wait} ms left)`);
    assert.deepEqual(seen.counts, { queued: 0, running: 1, retrying: 1, succeeded: 1, failed: 0 });

    const fin = await eventually('the failed event', async () => (await rows('final')).events.find((e) => e.requestId === failed && e.state === 'failed'));
    assert.equal(fin.attempts, 1);
    assert.equal(fin.condition, 'RetriesExhausted');

    // The table: one line per event, newest first, with the detail column.
    const table = (await ok('events', 'tracked')).split('\n').filter(Boolean);
    assert.match(table[0]!, /^REQUEST ID\s+STATE\s+ATTEMPTS\s+QUEUED AT\s+UPDATED AT\s+DETAIL$/);
    assert.match(table.find((l) => l.startsWith(retrying))!, /\sretrying\s+1\s.*next attempt \S+; last error Error$/);
    assert.match(table.find((l) => l.startsWith(good))!, /\ssucceeded\s+1\s/);
    assert.match(table.at(-1)!, /^queued 0, running 1, retrying 1, succeeded 1, failed 0$/);
    assert.match(await ok('events', 'tracked', '--state', 'retrying'), new RegExp(`^${retrying}\\s+retrying`, 'm'));

    // Following one event ends when it finishes.
    const followed = await ok('events', 'tracked', slow, '--follow');
    const states = followed.split('\n').filter((l) => l.startsWith(slow)).map((l) => l.split(/\s+/)[1]);
    assert.equal(states.at(-1), 'succeeded');
    assert.ok(states.includes('running'), `followed through running: ${states.join(' -> ')}`);

    // Async results are in the function's log.
    const logs = await ok('logs', 'tracked');
    for (const id of [good, retrying, slow]) assert.match(logs, new RegExp(`START RequestId: ${id}`));
    assert.match(logs, /try again later/);
  });

  test('stratus send and stratus queues', async () => {
    const sqs = new SQSClient(clientConfig(server.url));
    try {
      await sqs.send(new CreateQueueCommand({ QueueName: 'jobs-dlq' }));
      await sqs.send(new CreateQueueCommand({
        QueueName: 'jobs',
        Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:jobs-dlq', maxReceiveCount: 4 }) },
      }));
      await sqs.send(new CreateQueueCommand({ QueueName: 'jobs.fifo', Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' } }));
    } finally {
      sqs.destroy();
    }
    assert.match((await ok('send', 'jobs', 'first')).trim(), /^[0-9a-f-]{36}$/);
    const piped = await run(['send', 'jobs', '-', '--endpoint', server.url], { input: 'from stdin' });
    assert.equal(piped.code, 0, piped.stderr);
    await ok('send', 'jobs', 'later', '--delay', '300');
    assert.match((await ok('send', 'jobs.fifo', 'ordered', '--group', 'g')).trim(), /^[0-9a-f-]{36} \(sequence \d+\)$/);
    const table = (await ok('queues')).split('\n');
    assert.match(table[0]!, /^NAME\s+TYPE\s+VISIBLE\s+IN FLIGHT\s+DELAYED\s+DEAD-LETTER QUEUE$/);
    assert.match(table.find((l) => l.startsWith('jobs '))!, /^jobs\s+standard\s+2\s+0\s+1\s+jobs-dlq \(after 4\)$/);
    assert.match(table.find((l) => l.startsWith('jobs.fifo'))!, /^jobs\.fifo\s+fifo\s+1\s+0\s+0\s*$/);
    assert.match(table.find((l) => l.startsWith('jobs-dlq'))!, /^jobs-dlq\s+standard\s+0\s+0\s+0\s*$/);
    const err = await cli('send', 'nope', 'x');
    assert.equal(err.code, 1);
    assert.match(err.stderr, /QueueDoesNotExist/);
  });

  test('stratus rules lists patterns, schedules, states and targets', async () => {
    const eb = new EventBridgeClient(clientConfig(server.url));
    try {
      await eb.send(new PutRuleCommand({ Name: 'orders', EventPattern: JSON.stringify({ source: ['shop'] }) }));
      await eb.send(new PutTargetsCommand({ Rule: 'orders', Targets: [{ Id: 'fn', Arn: FN('tracked') }] }));
      await eb.send(new PutRuleCommand({ Name: 'nightly', ScheduleExpression: 'cron(0 3 * * ? *)', State: 'DISABLED' }));
    } finally {
      eb.destroy();
    }
    const table = (await ok('rules')).split('\n');
    assert.match(table[0]!, /^NAME\s+BUS\s+STATE\s+PATTERN \/ SCHEDULE\s+TARGETS$/);
    assert.match(table.find((l) => l.startsWith('orders'))!, new RegExp(`^orders\\s+default\\s+ENABLED\\s+\\{"source":\\["shop"\\]\\}\\s+fn=${FN('tracked')}$`));
    assert.match(table.find((l) => l.startsWith('nightly'))!, /^nightly\s+default\s+DISABLED\s+cron\(0 3 \* \* \? \*\)\s*$/);
  });
});
