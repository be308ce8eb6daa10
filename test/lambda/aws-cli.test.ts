import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serviceMissing } from '../helpers/services.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const version = spawnSync('aws', ['--version'], { encoding: 'utf8' });
const hasAws = version.status === 0;
/** AWS CLI v2 reads --payload as base64 unless told otherwise; v1 has no such flag (and no `logs tail`). */
const v2 = /aws-cli\/2\./.test(`${version.stdout}${version.stderr}`);
const RAW = v2 ? ['--cli-binary-format', 'raw-in-base64-out'] : [];
const ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '' };

describe('the AWS CLI against Stratus', () => {
  let server: TestServer;
  let dir: string;
  // Asynchronous: the server runs in this process, so a synchronous spawn would block it.
  const aws = (...args: string[]) => new Promise<{ status: number; out: string; err: string; json(): any }>((resolve) => {
    execFile('aws', [...args, '--endpoint-url', server.endpoint, '--output', 'json'], { env: ENV, encoding: 'utf8', cwd: dir, timeout: 60_000 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ status, out: stdout, err: stderr, json: () => JSON.parse(stdout) });
    });
  });
  before(async () => {
    if (!hasAws) return;
    server = await startServer();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-awscli-'));
    fs.writeFileSync(path.join(dir, 'fn.zip'), await makeZip({ 'index.js': "exports.handler = async (e) => { console.log('cli says', e.who); return { hello: e.who }; };" }));
  });
  after(async () => {
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('create-function, invoke, get-function, publish, alias, list, logs, delete', async (t) => {
    if (!hasAws) return serviceMissing(t, 'the aws CLI', 'aws is not on PATH');
    const created = await aws('lambda', 'create-function', '--function-name', 'cli-fn', '--runtime', 'nodejs20.x', '--handler', 'index.handler',
      '--role', 'arn:aws:iam::000000000000:role/cli', '--zip-file', 'fileb://fn.zip');
    assert.equal(created.status, 0, created.err);
    assert.equal(created.json().FunctionArn, 'arn:aws:lambda:us-east-1:000000000000:function:cli-fn');

    const inv = await aws('lambda', 'invoke', '--function-name', 'cli-fn', ...RAW, '--payload', '{"who":"cli"}', '--log-type', 'Tail', 'out.json');
    assert.equal(inv.status, 0, inv.err);
    const meta = inv.json();
    assert.equal(meta.StatusCode, 200);
    assert.equal(meta.ExecutedVersion, '$LATEST');
    assert.match(Buffer.from(meta.LogResult, 'base64').toString(), /cli says cli/);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'out.json'), 'utf8')), { hello: 'cli' });

    const got = await aws('lambda', 'get-function', '--function-name', 'cli-fn');
    assert.equal(got.json().Configuration.Runtime, 'nodejs20.x');
    assert.equal((await aws('lambda', 'publish-version', '--function-name', 'cli-fn')).json().Version, '1');
    const alias = await aws('lambda', 'create-alias', '--function-name', 'cli-fn', '--name', 'prod', '--function-version', '1');
    assert.equal(alias.json().AliasArn, 'arn:aws:lambda:us-east-1:000000000000:function:cli-fn:prod');
    const viaAlias = await aws('lambda', 'invoke', '--function-name', 'cli-fn', '--qualifier', 'prod', ...RAW, '--payload', '{"who":"alias"}', 'out3.json');
    assert.equal(viaAlias.json().ExecutedVersion, '1');
    const list = await aws('lambda', 'list-functions');
    assert.ok(list.json().Functions.some((f: any) => f.FunctionName === 'cli-fn'));
    const versions = await aws('lambda', 'list-versions-by-function', '--function-name', 'cli-fn');
    assert.deepEqual(versions.json().Versions.map((v: any) => v.Version), ['$LATEST', '1']);
    const settings = await aws('lambda', 'get-account-settings');
    assert.ok(settings.json().AccountLimit.ConcurrentExecutions > 0);

    // The logs the invocations wrote, through the CLI's logs commands.
    const filtered = await aws('logs', 'filter-log-events', '--log-group-name', '/aws/lambda/cli-fn', '--filter-pattern', '"cli says"');
    assert.equal(filtered.status, 0, filtered.err);
    assert.ok(filtered.json().events.some((e: any) => /cli says cli/.test(e.message)));
    const streams = await aws('logs', 'describe-log-streams', '--log-group-name', '/aws/lambda/cli-fn');
    const stream = streams.json().logStreams[0].logStreamName;
    const events = await aws('logs', 'get-log-events', '--log-group-name', '/aws/lambda/cli-fn', '--log-stream-name', stream, '--start-from-head');
    assert.ok(events.json().events.some((e: any) => e.message.startsWith('START RequestId: ')));
    if (v2) {
      const tail = await aws('logs', 'tail', '/aws/lambda/cli-fn', '--since', '10m');
      assert.equal(tail.status, 0, tail.err);
      assert.match(tail.out, /cli says cli/);
    }

    const missing = await aws('lambda', 'get-function', '--function-name', 'nope');
    assert.notEqual(missing.status, 0);
    assert.match(missing.err, /ResourceNotFoundException/);
    assert.equal((await aws('lambda', 'delete-function', '--function-name', 'cli-fn')).status, 0);
    const gone = await aws('lambda', 'get-function', '--function-name', 'cli-fn');
    assert.match(gone.err, /ResourceNotFoundException/);
  });

  test('invoke --client-context: base64 of a JSON object reaches the function; text that is not base64 is refused', async (t) => {
    if (!hasAws) return serviceMissing(t, 'the aws CLI', 'aws is not on PATH');
    fs.writeFileSync(path.join(dir, 'ctx.zip'), await makeZip({ 'index.js': 'exports.handler = async (e, c) => c.clientContext ?? null;' }));
    const created = await aws('lambda', 'create-function', '--function-name', 'cli-ctx', '--runtime', 'nodejs20.x', '--handler', 'index.handler',
      '--role', 'arn:aws:iam::000000000000:role/cli', '--zip-file', 'fileb://ctx.zip');
    assert.equal(created.status, 0, created.err);
    // The CLI sends the text as it is given: `base64`'s output, padded.
    const context = Buffer.from(JSON.stringify({ custom: { k: 'v>>>?' } })).toString('base64');
    const ok = await aws('lambda', 'invoke', '--function-name', 'cli-ctx', '--client-context', context, 'ctx.json');
    assert.equal(ok.status, 0, ok.err);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'ctx.json'), 'utf8')).custom, { k: 'v>>>?' });
    for (const type of ['RequestResponse', 'DryRun']) {
      const bad = await aws('lambda', 'invoke', '--function-name', 'cli-ctx', '--invocation-type', type, '--client-context', 'e3$0=', 'bad.json');
      assert.notEqual(bad.status, 0, type);
      assert.match(bad.err, /\(InvalidRequestContentException\) when calling the Invoke operation: Client context must be a valid Base64-encoded JSON object\./, type);
    }
  });
});
