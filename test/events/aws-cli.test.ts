import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serviceMissing } from '../helpers/services.js';
import type { TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';
import { startAsyncServer, waitFor } from '../async/server.js';

const version = spawnSync('aws', ['--version'], { encoding: 'utf8' });
const hasAws = version.status === 0;
const v2 = /aws-cli\/2\./.test(`${version.stdout}${version.stderr}`);
const RAW = v2 ? ['--cli-binary-format', 'raw-in-base64-out'] : [];
const ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '' };
const QARN = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;

/**
 * The installed AWS CLI (v1, botocore's events JSON 1.1, sqs JSON 1.0 and lambda rest-json
 * models) against a real server: EventBridge rules and events, async invoke configs, and event
 * source mappings.
 */
describe('the AWS CLI: events, async invocation settings, event source mappings', () => {
  let server: TestServer;
  let dir: string;
  // Asynchronous: the server runs in this process, so a synchronous spawn would block it.
  const run = (...args: string[]) => new Promise<{ status: number; out: string; err: string }>((resolve) => {
    execFile('aws', [...args, '--endpoint-url', server.endpoint, '--output', 'json'], { env: ENV, encoding: 'utf8', cwd: dir, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out: stdout, err: stderr });
    });
  });
  const aws = async (...args: string[]): Promise<any> => {
    const r = await run(...args);
    assert.equal(r.status, 0, `aws ${args.join(' ')}: ${r.err}`);
    return r.out.trim() ? JSON.parse(r.out) : {};
  };

  before(async () => {
    if (!hasAws) return;
    server = await startAsyncServer({ asyncTimeScale: 0.001 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-awscli-events-'));
    fs.writeFileSync(path.join(dir, 'fn.zip'), await makeZip({ 'index.js': 'exports.handler = async (e) => { if (e.fail) throw new Error(e.fail); return { got: e }; };' }));
  });
  after(async () => {
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('aws events: rules, targets, put-events delivered to a queue, test-event-pattern', async (t) => {
    if (!hasAws) return serviceMissing(t, 'the aws CLI', 'aws is not on PATH');
    const { QueueUrl } = await aws('sqs', 'create-queue', '--queue-name', 'cli-events');
    const rule = await aws('events', 'put-rule', '--name', 'cli-orders', '--event-pattern', JSON.stringify({ source: ['cli.shop'], detail: { total: [{ numeric: ['>', 10] }] } }));
    assert.equal(rule.RuleArn, 'arn:aws:events:us-east-1:000000000000:rule/cli-orders');
    const put = await aws('events', 'put-targets', '--rule', 'cli-orders', '--targets', JSON.stringify([{ Id: 'q', Arn: QARN('cli-events'), InputPath: '$.detail' }]));
    assert.equal(put.FailedEntryCount, 0);
    const described = await aws('events', 'describe-rule', '--name', 'cli-orders');
    assert.equal(described.State, 'ENABLED');
    assert.equal(described.EventBusName, 'default');
    assert.deepEqual(JSON.parse(described.EventPattern), { source: ['cli.shop'], detail: { total: [{ numeric: ['>', 10] }] } });
    const listed = await aws('events', 'list-rules', '--name-prefix', 'cli-');
    assert.deepEqual(listed.Rules.map((r: any) => r.Name), ['cli-orders']);
    const targets = await aws('events', 'list-targets-by-rule', '--rule', 'cli-orders');
    assert.deepEqual(targets.Targets, [{ Id: 'q', Arn: QARN('cli-events'), InputPath: '$.detail' }]);

    const sent = await aws('events', 'put-events', '--entries', JSON.stringify([
      { Source: 'cli.shop', DetailType: 'Order', Detail: JSON.stringify({ total: 50, id: 'big' }) },
      { Source: 'cli.shop', DetailType: 'Order', Detail: JSON.stringify({ total: 5, id: 'small' }) },
    ]));
    assert.equal(sent.FailedEntryCount, 0);
    assert.equal(sent.Entries.length, 2);
    const got = await aws('sqs', 'receive-message', '--queue-url', QueueUrl, '--wait-time-seconds', '2', '--max-number-of-messages', '10');
    assert.deepEqual(got.Messages.map((m: any) => JSON.parse(m.Body)), [{ total: 50, id: 'big' }], 'only the matching event, its detail (InputPath)');

    const tested = await aws('events', 'test-event-pattern', '--event-pattern', '{"source":[{"prefix":"cli."}]}', '--event',
      JSON.stringify({ id: '1', account: '000000000000', source: 'cli.shop', time: '2026-01-01T00:00:00Z', region: 'us-east-1', 'detail-type': 'x', resources: [], detail: {} }));
    assert.equal(tested.Result, true);

    await aws('events', 'disable-rule', '--name', 'cli-orders');
    assert.equal((await aws('events', 'describe-rule', '--name', 'cli-orders')).State, 'DISABLED');
    const refused = await run('events', 'delete-rule', '--name', 'cli-orders');
    assert.notEqual(refused.status, 0, 'a rule with targets cannot be deleted');
    assert.match(refused.err, /ValidationException/);
    await aws('events', 'remove-targets', '--rule', 'cli-orders', '--ids', 'q');
    await aws('events', 'delete-rule', '--name', 'cli-orders');
    const gone = await run('events', 'describe-rule', '--name', 'cli-orders');
    assert.match(gone.err, /ResourceNotFoundException/);
  });

  test('aws lambda: event invoke config, an Event invocation, event source mappings', async (t) => {
    if (!hasAws) return serviceMissing(t, 'the aws CLI', 'aws is not on PATH');
    await aws('lambda', 'create-function', '--function-name', 'cli-async', '--runtime', 'nodejs20.x', '--handler', 'index.handler',
      '--role', 'arn:aws:iam::000000000000:role/cli', '--zip-file', 'fileb://fn.zip', '--timeout', '5');
    const { QueueUrl } = await aws('sqs', 'create-queue', '--queue-name', 'cli-async-failures');
    const cfg = await aws('lambda', 'put-function-event-invoke-config', '--function-name', 'cli-async', '--maximum-retry-attempts', '0',
      '--destination-config', JSON.stringify({ OnFailure: { Destination: QARN('cli-async-failures') } }));
    assert.equal(cfg.MaximumRetryAttempts, 0);
    assert.equal(cfg.FunctionArn, 'arn:aws:lambda:us-east-1:000000000000:function:cli-async:$LATEST');
    const listed = await aws('lambda', 'list-function-event-invoke-configs', '--function-name', 'cli-async');
    assert.equal(listed.FunctionEventInvokeConfigs.length, 1);

    const inv = await aws('lambda', 'invoke', '--function-name', 'cli-async', '--invocation-type', 'Event', ...RAW, '--payload', '{"fail":"from the cli"}', 'out.json');
    assert.equal(inv.StatusCode, 202);
    const record = await waitFor('the failure record', async () => {
      const r = await aws('sqs', 'receive-message', '--queue-url', QueueUrl, '--wait-time-seconds', '1');
      return r.Messages?.[0] ? JSON.parse(r.Messages[0].Body) : undefined;
    });
    assert.equal(record.requestContext.condition, 'RetriesExhausted');
    assert.deepEqual(record.requestPayload, { fail: 'from the cli' });

    await aws('sqs', 'create-queue', '--queue-name', 'cli-source', '--attributes', 'VisibilityTimeout=30');
    const created = await aws('lambda', 'create-event-source-mapping', '--function-name', 'cli-async', '--event-source-arn', QARN('cli-source'),
      '--batch-size', '5', '--no-enabled');
    assert.equal(created.State, 'Creating');
    assert.equal(created.BatchSize, 5);
    const mappings = await aws('lambda', 'list-event-source-mappings', '--function-name', 'cli-async');
    assert.deepEqual(mappings.EventSourceMappings.map((m: any) => [m.UUID, m.State, m.EventSourceArn]), [[created.UUID, 'Disabled', QARN('cli-source')]]);
    const updated = await aws('lambda', 'update-event-source-mapping', '--uuid', created.UUID, '--enabled', '--batch-size', '10');
    assert.equal(updated.State, 'Enabling');
    assert.equal((await aws('lambda', 'get-event-source-mapping', '--uuid', created.UUID)).State, 'Enabled');
    const deleted = await aws('lambda', 'delete-event-source-mapping', '--uuid', created.UUID);
    assert.equal(deleted.State, 'Deleting');
    const gone = await run('lambda', 'get-event-source-mapping', '--uuid', created.UUID);
    assert.match(gone.err, /ResourceNotFoundException/);
  });
});
