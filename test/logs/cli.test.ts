import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { serviceMissing } from '../helpers/services.js';
import { awsEnv, startLogsServer, type LogsServer } from './harness.js';

/**
 * The AWS CLI against the logs API. The server runs in this process: the CLI must run
 * asynchronously (never spawnSync while the server has to answer).
 */
const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TAIL_REQUESTS = path.join(REPO, 'test/logs/fixtures/tail_requests.py');

const awsVersion = spawnSync('aws', ['--version'], { encoding: 'utf8' });
const haveAws = awsVersion.status === 0;
/** `aws logs tail` exists in AWS CLI v2 only. */
const haveTail = haveAws && /^aws-cli\/2\./.test(`${awsVersion.stdout}${awsVersion.stderr}`);
const haveBoto3 = spawnSync('python3', ['-c', 'import boto3'], { encoding: 'utf8' }).status === 0;

let server: LogsServer;
const GROUP = '/aws/lambda/cli-fn';
const STREAM_A = '2026/01/01/[$LATEST]aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const STREAM_B = '2026/01/01/[$LATEST]bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

before(async () => {
  server = await startLogsServer();
  const now = Date.now();
  // Written as a function's environment writes: through the log service, one event per line.
  server.service.write(GROUP, STREAM_A, [
    { timestamp: now - 3000, message: 'START RequestId: r1 Version: $LATEST\n' },
    { timestamp: now - 2900, message: 'hello from A\n' },
    { timestamp: now - 2800, message: 'ERROR something broke in A\n' },
  ]);
  server.service.write(GROUP, STREAM_B, [
    { timestamp: now - 2000, message: 'hello from B\n' },
    { timestamp: now - 1900, message: 'ERROR something broke in B\n' },
  ]);
  // An old line, outside `--since 5m`.
  server.service.write(GROUP, STREAM_A, [{ timestamp: now - 3_600_000, message: 'an hour ago\n' }]);
});
after(async () => {
  await server?.stop();
});

async function aws(...args: string[]): Promise<string> {
  const r = await run('aws', ['--endpoint-url', server.endpoint, ...args], { env: awsEnv(), timeout: 60_000 });
  return r.stdout;
}

function needAws(t: { skip(msg?: string): void }): boolean {
  if (haveAws) return true;
  serviceMissing(t, 'the aws CLI', 'aws is not on PATH');
  return false;
}

/** Spawns a long-running follower and resolves once its output matches, then kills it. */
function follow(cmd: string, args: string[], until: RegExp, onStarted: (out: string) => Promise<void>, started: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(cmd, args, { env: awsEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let fired = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`follower did not print ${until} in time; stdout:\n${out}\nstderr:\n${err}`));
    }, 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!fired && started.test(out)) {
        fired = true;
        onStarted(out).catch(reject);
      }
      if (fired && until.test(out)) {
        clearTimeout(timer);
        child.kill('SIGINT');
        child.once('exit', () => resolve(out));
      }
    });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

describe('aws logs (CLI v1 commands)', () => {
  test('describe-log-groups and describe-log-streams', async (t) => {
    if (!needAws(t)) return;
    const groups = JSON.parse(await aws('logs', 'describe-log-groups', '--log-group-name-prefix', '/aws/lambda/'));
    assert.deepEqual(groups.logGroups.map((g: { logGroupName: string }) => g.logGroupName), [GROUP]);
    const streams = JSON.parse(await aws('logs', 'describe-log-streams', '--log-group-name', GROUP, '--order-by', 'LastEventTime', '--descending'));
    assert.deepEqual(streams.logStreams.map((s: { logStreamName: string }) => s.logStreamName), [STREAM_B, STREAM_A]);
  });

  test('filter-log-events pages through everything and filters by pattern', async (t) => {
    if (!needAws(t)) return;
    const all = JSON.parse(await aws('logs', 'filter-log-events', '--log-group-name', GROUP, '--page-size', '2'));
    assert.equal(all.events.length, 6);
    assert.equal(all.nextToken, undefined);
    const errors = JSON.parse(await aws('logs', 'filter-log-events', '--log-group-name', GROUP, '--filter-pattern', 'ERROR broke'));
    assert.deepEqual(errors.events.map((e: { message: string }) => e.message), ['ERROR something broke in A\n', 'ERROR something broke in B\n']);
    const text = await aws('logs', 'filter-log-events', '--log-group-name', GROUP, '--log-stream-names', STREAM_B, '--output', 'text', '--query', 'events[].message');
    assert.match(text, /hello from B/);
    assert.doesNotMatch(text, /hello from A/);
    const missing = await run('aws', ['--endpoint-url', server.endpoint, 'logs', 'filter-log-events', '--log-group-name', '/nope'], { env: awsEnv() })
      .then(() => '', (e: { stderr: string }) => e.stderr);
    assert.match(missing, /ResourceNotFoundException.*The specified log group does not exist\./);
  });

  test('get-log-events reads a stream from the head and from the tail', async (t) => {
    if (!needAws(t)) return;
    const head = JSON.parse(await aws('logs', 'get-log-events', '--log-group-name', GROUP, '--log-stream-name', STREAM_A, '--start-from-head'));
    // In timestamp order: the old line written last comes first.
    assert.deepEqual(head.events.map((e: { message: string }) => e.message), [
      'an hour ago\n', 'START RequestId: r1 Version: $LATEST\n', 'hello from A\n', 'ERROR something broke in A\n',
    ]);
    assert.match(head.nextForwardToken, /^f\//);
    assert.match(head.nextBackwardToken, /^b\//);
    const tail = JSON.parse(await aws('logs', 'get-log-events', '--log-group-name', GROUP, '--log-stream-name', STREAM_A, '--limit', '1'));
    assert.deepEqual(tail.events.map((e: { message: string }) => e.message), ['ERROR something broke in A\n']);
    const again = JSON.parse(await aws('logs', 'get-log-events', '--log-group-name', GROUP, '--log-stream-name', STREAM_A, '--next-token', head.nextForwardToken));
    assert.deepEqual(again.events, []);
    assert.equal(again.nextForwardToken, head.nextForwardToken);
  });
});

describe('aws logs tail', () => {
  test('the requests aws logs tail makes, through botocore (since, filter pattern, follow)', async (t) => {
    if (!haveBoto3) return serviceMissing(t, 'python3 with boto3', 'import boto3 failed');
    const env = awsEnv();
    const since = await run('python3', [TAIL_REQUESTS, GROUP, server.endpoint, '--since', '300'], { env, timeout: 60_000 });
    const lines = since.stdout.trim().split('\n');
    assert.equal(lines.length, 5, since.stdout);
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 2026\/01\/01\/\[\$LATEST\]a{32} START RequestId: r1/);
    assert.doesNotMatch(since.stdout, /an hour ago/);
    const filtered = await run('python3', [TAIL_REQUESTS, GROUP, server.endpoint, '--filter-pattern', 'ERROR'], { env, timeout: 60_000 });
    assert.equal(filtered.stdout.trim().split('\n').length, 2);

    let written = false;
    const out = await follow('python3', [TAIL_REQUESTS, GROUP, server.endpoint, '--follow'], /written after the follower started/, async () => {
      if (written) return;
      written = true;
      server.service.write(GROUP, STREAM_B, [{ timestamp: Date.now(), message: 'written after the follower started\n' }]);
    }, /ERROR something broke in B/);
    const printed = out.trim().split('\n');
    assert.equal(printed.filter((l) => l.includes('written after the follower started')).length, 1);
    assert.equal(printed.filter((l) => l.includes('hello from B')).length, 1, 'no event printed twice');
  });

  test('aws logs tail itself (AWS CLI v2)', async (t) => {
    if (!haveAws) return serviceMissing(t, 'the aws CLI', 'aws is not on PATH');
    if (!haveTail) {
      // Not a missing service: the installed CLI is v1, which has no `logs tail`.
      t.skip(`aws logs tail needs AWS CLI v2; installed: ${(awsVersion.stdout || awsVersion.stderr).trim()}`);
      return;
    }
    const since = await aws('logs', 'tail', GROUP, '--since', '5m', '--format', 'short');
    assert.match(since, /hello from A/);
    assert.doesNotMatch(since, /an hour ago/);
    const filtered = await aws('logs', 'tail', GROUP, '--filter-pattern', 'ERROR');
    assert.equal(filtered.trim().split('\n').length, 2);
    let written = false;
    const out = await follow('aws', ['--endpoint-url', server.endpoint, 'logs', 'tail', GROUP, '--follow'], /tail follow line/, async () => {
      if (written) return;
      written = true;
      server.service.write(GROUP, STREAM_A, [{ timestamp: Date.now(), message: 'tail follow line\n' }]);
    }, /ERROR something broke in B/);
    assert.match(out, /tail follow line/);
  });
});
