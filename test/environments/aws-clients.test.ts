import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, LambdaClient, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { StratusConfig } from '../../src/app/config.js';
import { awsClientVars, localUrl, SERVED_SERVICE_ENDPOINTS } from '../../src/environments/env-vars.js';
import { serviceMissing } from '../helpers/services.js';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const hasAws = spawnSync('aws', ['--version'], { encoding: 'utf8' }).status === 0;

/**
 * Reports what an AWS SDK would find in the function's environment, and calls the SQS endpoint it
 * finds there from inside the sandbox (the JSON protocol, as the SDK speaks it).
 */
const PROBE = `
exports.handler = async () => {
  const env = {};
  for (const k of Object.keys(process.env)) if (/^AWS_(ENDPOINT_URL|ACCESS_KEY|SECRET_ACCESS_KEY|SESSION_TOKEN|REGION|DEFAULT_REGION)/.test(k)) env[k] = process.env[k];
  const r = await fetch(process.env.AWS_ENDPOINT_URL_SQS, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.GetQueueUrl' },
    body: JSON.stringify({ QueueName: 'inbox' }),
  });
  return { env, status: r.status, queue: await r.json() };
};`;

/** The real SDK v3, in a process whose environment is the function's (and nothing else): no endpoint, no credentials in code. */
const SDK_SCRIPT = `
const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');
const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
(async () => {
  await new SQSClient({}).send(new SendMessageCommand({ QueueUrl: process.argv[1], MessageBody: 'sent with the function\\'s environment' }));
  const r = await new LambdaClient({}).send(new InvokeCommand({ FunctionName: 'echo', Payload: JSON.stringify({ via: 'sdk' }) }));
  process.stdout.write(Buffer.from(r.Payload).toString());
})().catch((e) => { console.error(e.name, e.message); process.exit(1); });`;

function run(cmd: string, args: string[], env: Record<string, string>, cwd: string): Promise<{ status: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, cwd, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out: stdout, err: stderr });
    });
  });
}

describe('an AWS SDK inside a function reaches Stratus as it reaches Lambda\'s services', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  let sqs: SQSClient;
  let queueUrl: string;
  let home: string;

  async function start(overrides: Partial<StratusConfig> = {}) {
    server = await startServer(overrides);
    lambda = new LambdaClient(clientConfig(server.endpoint));
    sqs = new SQSClient(clientConfig(server.endpoint));
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'inbox' }))).QueueUrl!;
    for (const [name, code] of [['probe', PROBE], ['echo', 'exports.handler = async (e) => ({ echoed: e });']] as const) {
      await lambda.send(new CreateFunctionCommand({
        FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 20,
        Code: { ZipFile: await makeZip({ 'index.js': code }) },
      }));
    }
  }
  async function probe(): Promise<{ env: Record<string, string>; status: number; queue: { QueueUrl?: string } }> {
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'probe' }));
    const out = JSON.parse(Buffer.from(r.Payload!).toString());
    assert.equal(r.FunctionError, undefined, JSON.stringify(out));
    return out;
  }

  before(() => { home = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-home-')); });
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  describe('default: endpoints and session credentials', () => {
    before(() => start());
    after(() => server?.stop());

    test('the function finds Stratus\'s endpoints and STS-shaped credentials, and reaches SQS from its sandbox', async () => {
      const out = await probe();
      for (const s of SERVED_SERVICE_ENDPOINTS) assert.equal(out.env[`AWS_ENDPOINT_URL_${s}`], server.endpoint, s);
      assert.equal(out.env.AWS_ENDPOINT_URL, undefined, 'services Stratus does not serve keep their AWS endpoints');
      assert.match(out.env.AWS_ACCESS_KEY_ID!, /^ASIA[A-Z2-7]{16}$/);
      assert.equal(out.env.AWS_ACCESS_KEY, out.env.AWS_ACCESS_KEY_ID, 'Lambda\'s list names it twice');
      assert.match(out.env.AWS_SECRET_ACCESS_KEY!, /^[A-Za-z0-9+/]{40}$/);
      assert.match(out.env.AWS_SESSION_TOKEN!, /^[A-Za-z0-9+/=]{200,}$/);
      assert.equal(out.status, 200);
      assert.equal(out.queue.QueueUrl, queueUrl);
    });

    test('the real SDK v3 and the AWS CLI need nothing but that environment', async (t) => {
      const { env } = await probe();
      // Only the function's variables: no credentials file or profile of the host's user.
      const clean = { PATH: process.env.PATH ?? '', HOME: home, ...env };
      const sdk = await run(process.execPath, ['-e', SDK_SCRIPT, queueUrl], clean, repoRoot);
      assert.equal(sdk.status, 0, sdk.err);
      assert.deepEqual(JSON.parse(sdk.out), { echoed: { via: 'sdk' } });
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 5 }));
      assert.equal(got.Messages?.[0]?.Body, 'sent with the function\'s environment');

      if (!hasAws) return serviceMissing(t, 'the aws CLI', 'aws is not on PATH');
      // (AWS CLI v1 pins SQS to its legacy endpoint whatever the environment says; Lambda it does not.)
      const cli = await run('aws', ['lambda', 'get-function-configuration', '--function-name', 'echo', '--output', 'json'], { ...clean, AWS_PAGER: '' }, home);
      assert.equal(cli.status, 0, cli.err);
      assert.equal(JSON.parse(cli.out).FunctionArn, `arn:aws:lambda:us-east-1:000000000000:function:echo`);
    });

    test('a function\'s own AWS_ENDPOINT_URL_<SERVICE> wins; each environment has its own credentials', async () => {
      const before = (await probe()).env;
      await lambda.send(new UpdateFunctionConfigurationCommand({
        FunctionName: 'probe', Environment: { Variables: { AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:1' } },
      }));
      const out = await probe();
      assert.equal(out.env.AWS_ENDPOINT_URL_LAMBDA, 'http://127.0.0.1:1');
      assert.equal(out.env.AWS_ENDPOINT_URL_SQS, server.endpoint);
      assert.notEqual(out.env.AWS_ACCESS_KEY_ID, before.AWS_ACCESS_KEY_ID, 'a new environment, new credentials');
    });
  });

  describe('functionCredentials none and host', () => {
    after(() => server?.stop());

    test('none: no credential variables (an SDK goes on to what the host offers); endpoints stay', async () => {
      await start({ functionCredentials: 'none' });
      const out = await probe();
      for (const k of ['AWS_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) assert.equal(out.env[k], undefined, k);
      assert.equal(out.env.AWS_ENDPOINT_URL_SQS, server.endpoint);
    });

    test('host: the server\'s own credential variables', () => {
      const vars = awsClientVars('', 'host', { AWS_ACCESS_KEY_ID: 'AKIAHOST', AWS_SECRET_ACCESS_KEY: 'shh', HOME: '/root' });
      assert.deepEqual(vars, { endpoints: {}, credentials: { AWS_ACCESS_KEY_ID: 'AKIAHOST', AWS_SECRET_ACCESS_KEY: 'shh', AWS_ACCESS_KEY: 'AKIAHOST' } });
    });
  });

  test('a wildcard listen address is reached on loopback', () => {
    assert.equal(localUrl('http://0.0.0.0:9070'), 'http://127.0.0.1:9070');
    assert.equal(localUrl('http://[::]:9070'), 'http://[::1]:9070');
    assert.equal(localUrl('http://127.0.0.1:9070'), 'http://127.0.0.1:9070');
    assert.equal(localUrl(''), '');
  });
});
