import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { alive, descendants, oneErrorLine, run, up, writeDir, type RunResult } from './helpers.js';

const HANDLER = `export const handler = async (event) => ({ ok: true, got: event });\n`;

test('up --port 0 prints its lines, then exactly one listening line naming the real port', async () => {
  const s = await up();
  try {
    assert.notEqual(s.port, 0);
    const out = s.stdout();
    assert.equal(out.match(/Stratus listening on/g)?.length, 1);
    assert.match(out, /^sandbox: /m);
    assert.match(out, new RegExp(`^data dir: ${s.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    // The line comes once the server accepts requests.
    const r = await run(['ls', '--endpoint', s.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'no functions');
  } finally {
    assert.deepEqual(await s.stop(), { code: 0, signal: null });
    fs.rmSync(s.dataDir, { recursive: true, force: true });
  }
});

test('up refuses a non-loopback host without --insecure: one line, exit 1, never listens', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cli-'));
  try {
    const r = await run(['up', '--host', '0.0.0.0', '--port', '0', '--data-dir', dataDir]);
    const line = oneErrorLine(r);
    assert.match(line, /^stratus: refusing to listen on non-loopback address 0\.0\.0\.0.*--insecure/);
    assert.doesNotMatch(r.stdout, /listening/);
    // Usage errors exit 2, as commander reports them.
    oneErrorLine(await run(['up', '--port', 'many']), 2);
    oneErrorLine(await run(['up', '--no-such-flag']), 2);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

/** Settings from the environment that make no sense: each must stop `stratus up` before it listens. */
const INVALID_SETTINGS: Record<string, string>[] = [
  { STRATUS_PORT: 'abc' }, { STRATUS_PORT: '70000' }, { STRATUS_PORT: '80.5' },
  { STRATUS_ACCOUNT_CONCURRENCY: 'abc' }, { STRATUS_ACCOUNT_CONCURRENCY: '0' }, { STRATUS_ACCOUNT_CONCURRENCY: '-3' }, { STRATUS_ACCOUNT_CONCURRENCY: '2.5' },
  { STRATUS_UNRESERVED_MIN: '-5' }, { STRATUS_UNRESERVED_MIN: 'none' },
  // More than the account may run: every PutFunctionConcurrency would be refused.
  { STRATUS_ACCOUNT_CONCURRENCY: '10', STRATUS_UNRESERVED_MIN: '11' },
  { STRATUS_IDLE_TIMEOUT_MS: '0' }, { STRATUS_IDLE_TIMEOUT_MS: '10m' }, { STRATUS_ENV_MAX_LIFETIME_MS: '2h' },
  { STRATUS_PREWARM: '-1' }, { STRATUS_PREWARM: 'two' },
  { STRATUS_ASYNC_TIME_SCALE: '0' }, { STRATUS_ASYNC_TIME_SCALE: '-1' }, { STRATUS_ASYNC_TIME_SCALE: 'fast' }, { STRATUS_ASYNC_TIME_SCALE: 'Infinity' },
  { STRATUS_ASYNC_CONCURRENCY: '0' }, { STRATUS_ASYNC_CONCURRENCY: 'many' }, { STRATUS_SCHEDULE_TIME_SCALE: '0' }, { STRATUS_SCHEDULE_TIME_SCALE: 'x' },
  { STRATUS_SHUTDOWN_GRACE_MS: '-1' }, { STRATUS_SHUTDOWN_GRACE_MS: ' ' },
  { STRATUS_SANDBOX: 'bogus' }, { STRATUS_SANDBOX_API_ACCESS: 'FULL' },
  { STRATUS_SHARED_DIRS: 'relative/dir' }, { STRATUS_SHARED_DIRS: '/srv/a:b' },
];

test('up refuses an invalid setting from the environment: one line naming the variable and its value, exit 1, never listens', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cli-'));
  const started: string[] = [];
  const tryOne = async (env: Record<string, string>) => {
    const [name, value] = Object.entries(env).at(-1)!;
    const s = await up({ dataDir: path.join(dataDir, String(INVALID_SETTINGS.indexOf(env))), env }).catch((e: Error & RunResult) => e);
    if (!(s instanceof Error)) {
      started.push(JSON.stringify(env));
      await s.stop();
      return;
    }
    const line = oneErrorLine(s);
    assert.ok(line.startsWith(`stratus: ${name} `) && line.includes(`"${value}"`), `${JSON.stringify(env)}: ${line}`);
  };
  try {
    // A few at a time: each is a process of its own.
    for (let i = 0; i < INVALID_SETTINGS.length; i += 6) await Promise.all(INVALID_SETTINGS.slice(i, i + 6).map(tryOne));
    assert.deepEqual(started, [], 'started although a setting makes no sense');
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('up takes concurrency settings at their bounds, and GetAccountSettings reports them', async () => {
  const s = await up({ env: { STRATUS_ACCOUNT_CONCURRENCY: '7', STRATUS_UNRESERVED_MIN: '7', STRATUS_IDLE_TIMEOUT_MS: '1', STRATUS_ASYNC_TIME_SCALE: '0.5', STRATUS_PREWARM: '0' } });
  const lambda = new LambdaClient({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  try {
    const { AccountLimit } = await lambda.send(new GetAccountSettingsCommand({}));
    assert.equal(AccountLimit?.ConcurrentExecutions, 7);
    assert.equal(AccountLimit?.UnreservedConcurrentExecutions, 7);
  } finally {
    lambda.destroy();
    assert.deepEqual(await s.stop(), { code: 0, signal: null });
    fs.rmSync(s.dataDir, { recursive: true, force: true });
  }
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} stops the server with exit 0 and leaves no environment process behind`, async () => {
    const s = await up();
    const fn = writeDir({ 'index.mjs': HANDLER });
    try {
      assert.equal((await run(['deploy-function', 'sig', fn, '--endpoint', s.url])).code, 0);
      const r = await run(['invoke', 'sig', '--endpoint', s.url]);
      assert.equal(r.code, 0, r.stderr);
      // The warm environment (its runtime bootstrap, in a pid namespace or not) runs under the server.
      const before = descendants(s.proc.pid!);
      const cmdline = (pid: number) => { try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { return ''; } };
      assert.ok(before.some((p) => cmdline(p.pid).includes('bootstrap.cjs')), `an environment runs under the server: ${JSON.stringify(before.map((p) => cmdline(p.pid)))}`);
      assert.deepEqual(await s.stop(signal), { code: 0, signal: null });
      assert.match(s.stdout(), /Stratus stopped/);
      const left = before.filter(alive);
      assert.deepEqual(left, [], `processes left behind: ${JSON.stringify(left)}`);
    } finally {
      await s.stop('SIGKILL');
      fs.rmSync(s.dataDir, { recursive: true, force: true });
      fs.rmSync(fn, { recursive: true, force: true });
    }
  });
}

/** A raw POST to the Invoke API: its status and body, or the error that ended it. */
function invokeRaw(url: string, name: string, payload: string): Promise<{ status?: number; body?: string; error?: string; at: number }> {
  return fetch(`${url}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: payload }).then(
    async (r) => ({ status: r.status, body: await r.text(), at: Date.now() }),
    (e: Error) => ({ error: String((e.cause as Error | undefined)?.message ?? e.message), at: Date.now() }),
  );
}

// Sleeps, then (with event.then) invokes another function through Stratus's API, as a function would.
const SLEEPER = `export const handler = async (event) => {
  await new Promise((r) => setTimeout(r, event.ms));
  if (!event.then) return { slept: event.ms };
  const r = await fetch(process.env.AWS_ENDPOINT_URL_LAMBDA + '/2015-03-31/functions/' + event.then + '/invocations', { method: 'POST', body: '{"ms":1}' });
  return { slept: event.ms, then: r.status, got: await r.json() };
};\n`;

test('SIGTERM lets a synchronous invocation in flight finish, and what it asks of Stratus meanwhile; new requests from outside get 503', async () => {
  const s = await up();
  const fn = writeDir({ 'index.mjs': SLEEPER });
  try {
    assert.equal((await run(['deploy-function', 'slow', fn, '--timeout', '30', '--endpoint', s.url])).code, 0);
    assert.equal((await invokeRaw(s.url, 'slow', '{"ms":1}')).status, 200);
    const inFlight = invokeRaw(s.url, 'slow', '{"ms":2500,"then":"slow"}');
    await new Promise((r) => setTimeout(r, 500));
    const signalled = Date.now();
    s.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const late = await invokeRaw(s.url, 'slow', '{"ms":1}');
    assert.equal(late.status, 503, `a request from outside after the signal: ${JSON.stringify(late)}`);
    assert.equal(JSON.parse(late.body!).message, 'Stratus is stopping: it takes no new requests.');
    const r = await inFlight;
    assert.equal(r.status, 200, JSON.stringify(r));
    assert.deepEqual(JSON.parse(r.body!), { slept: 2500, then: 200, got: { slept: 1 } }, 'the function reached Stratus while it stopped');
    assert.deepEqual(await s.exited, { code: 0, signal: null });
    assert.ok(r.at - signalled >= 1500, 'answered when the function was done, not cut at the signal');
  } finally {
    await s.stop('SIGKILL');
    fs.rmSync(s.dataDir, { recursive: true, force: true });
    fs.rmSync(fn, { recursive: true, force: true });
  }
});

test('SIGTERM waits for requests in flight at most STRATUS_SHUTDOWN_GRACE_MS, then cuts them and exits', async () => {
  const s = await up({ env: { STRATUS_SHUTDOWN_GRACE_MS: '700' } });
  const fn = writeDir({ 'index.mjs': SLEEPER });
  try {
    assert.equal((await run(['deploy-function', 'slower', fn, '--timeout', '60', '--endpoint', s.url])).code, 0);
    const inFlight = invokeRaw(s.url, 'slower', '{"ms":30000}');
    await new Promise((r) => setTimeout(r, 500));
    const signalled = Date.now();
    s.proc.kill('SIGTERM');
    const r = await inFlight;
    assert.ok(r.error !== undefined, `cut, not answered: ${JSON.stringify(r)}`);
    assert.deepEqual(await s.exited, { code: 0, signal: null });
    assert.ok(Date.now() - signalled < 15_000, `stopped ${Date.now() - signalled} ms after the signal`);
    assert.ok(r.at - signalled >= 600, `cut after the grace time, not at once (${r.at - signalled} ms)`);
  } finally {
    await s.stop('SIGKILL');
    fs.rmSync(s.dataDir, { recursive: true, force: true });
    fs.rmSync(fn, { recursive: true, force: true });
  }
});

test('a restart on the same data dir keeps functions, versions and aliases', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cli-'));
  const fn = writeDir({ 'index.mjs': HANDLER });
  let s = await up({ dataDir });
  try {
    assert.equal((await run(['deploy-function', 'keep', fn, '--memory', '256', '--endpoint', s.url])).code, 0);
    const v = await run(['publish', 'keep', '--json', '--endpoint', s.url]);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(JSON.parse(v.stdout).Version, '1');
    assert.equal((await run(['alias', 'keep', 'live', '1', '--endpoint', s.url])).code, 0);
    assert.deepEqual(await s.stop(), { code: 0, signal: null });

    s = await up({ dataDir });
    const ls = await run(['ls', '--json', '--endpoint', s.url]);
    assert.equal(ls.code, 0, ls.stderr);
    const keep = (JSON.parse(ls.stdout) as Array<{ FunctionName: string; MemorySize: number }>).find((f) => f.FunctionName === 'keep');
    assert.equal(keep?.MemorySize, 256);
    const viaAlias = await run(['invoke', 'keep', '--qualifier', 'live', '--payload', '{"n":1}', '--endpoint', s.url]);
    assert.equal(viaAlias.code, 0, viaAlias.stderr);
    assert.deepEqual(JSON.parse(viaAlias.stdout).got, { n: 1 });
    assert.match(viaAlias.stderr, /^executed version 1$/m);
    // The alias survived as an alias: updating it (not creating it) is what the CLI reports.
    const again = await run(['alias', 'keep', 'live', '1', '--endpoint', s.url]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^updated alias keep:live -> 1$/m);
  } finally {
    await s.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(fn, { recursive: true, force: true });
  }
});

test('file descriptors the server inherited open are closed before any function runs', { skip: !fs.existsSync('/bin/bash') && 'needs bash to leave fd 200 open' }, async () => {
  // A parent that leaves descriptors open without close-on-exec (a shell's `exec 200<file`, a
  // supervisor) would otherwise hand them to every execution environment: here a file the
  // functions must not reach, as fds 7 and 200. (Node marks inherited fds close-on-exec at start
  // only up to the first closed one above 15: 7 is marked, 200 is not.)
  const secret = path.join(os.tmpdir(), `stratus-inherited-${process.pid}`);
  fs.writeFileSync(secret, 'INHERITED-SECRET', { mode: 0o600 });
  const s = await up({ wrap: ['/bin/bash', '-c', 'exec 7<"$0" 200<"$0"; exec "$@"', secret] });
  const fn = writeDir({
    'index.mjs': `import fs from 'node:fs';
export const handler = async () => fs.readdirSync('/proc/self/fd').map((n) => { try { return fs.readlinkSync('/proc/self/fd/' + n); } catch { return ''; } });\n`,
  });
  try {
    assert.equal((await run(['deploy-function', 'fds', fn, '--endpoint', s.url])).code, 0);
    const r = await run(['invoke', 'fds', '--endpoint', s.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /socket:|pipe:/, `the function listed its descriptors: ${r.stdout}`);
    assert.doesNotMatch(r.stdout, /stratus-inherited-/, r.stdout);
  } finally {
    await s.stop();
    fs.rmSync(s.dataDir, { recursive: true, force: true });
    fs.rmSync(secret, { force: true });
  }
});
