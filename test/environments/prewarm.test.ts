import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { discardBooted, type BootedRuntime } from '../../src/environments/environment.js';
import { PrewarmPool } from '../../src/environments/prewarm.js';
import { ProcessDriver } from '../../src/environments/sandbox/process.js';
import type { LogSink } from '../../src/ports/logs.js';
import { fixture, invocation, miniRuntime, sleep } from './helpers.js';

const HANDLER = 'export const handler = async (e) => ({ uid: process.getuid(), cwd: process.cwd(), fn: process.env.AWS_LAMBDA_FUNCTION_NAME, secret: process.env.STRATUS_SECRET_TEST ?? null, e });\n';

describe('shipped-runtime protocol and the prewarm pool', async () => {
  process.env.STRATUS_SECRET_TEST = 'leak';
  const fx = await fixture({ prewarmPerRuntime: 1 }, { runtimeOverrides: { node: miniRuntime() } });
  const cold = await fixture({ prewarmPerRuntime: 0 }, { runtimeOverrides: { node: miniRuntime() } });
  delete process.env.STRATUS_SECRET_TEST;
  after(async () => { await fx.stop(); await cold.stop(); });

  test('a prewarmed runtime takes the function and answers', async () => {
    for (let i = 0; i < 100 && fx.svc.stats().prewarm.node.ready < 1; i++) await sleep(20);
    assert.equal(fx.svc.stats().prewarm.node.ready, 1);
    const key = fx.code({ 'index.mjs': HANDLER });
    const t = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 128 }, 'pw');
    const o = await fx.svc.execute(t, invocation('{"x":1}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    const r = JSON.parse(o.payload.toString());
    assert.equal(r.fn, 'pw');
    assert.equal(r.cwd, fx.taskRoot(key));
    assert.equal(r.secret, null);
    assert.deepEqual(r.e, { x: 1 });
    if (fx.svc.describe().driver === 'namespace') assert.ok(r.uid >= 1_000_000);
    assert.equal(fx.svc.stats().prewarm.node.hits, 1);
    const o2 = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o2.coldStart, false);
    // refilled in the background
    for (let i = 0; i < 100 && fx.svc.stats().prewarm.node.ready < 1; i++) await sleep(20);
    assert.ok(fx.svc.stats().prewarm.node.ready >= 1);
  });

  test('stopping another execution service in the same process leaves this one\'s environments alone', async () => {
    for (let i = 0; i < 100 && fx.svc.stats().prewarm.node.ready < 1; i++) await sleep(20);
    assert.equal(fx.svc.stats().prewarm.node.ready, 1);
    const other = await fixture({ prewarmPerRuntime: 1 }, { runtimeOverrides: { node: miniRuntime() } });
    for (let i = 0; i < 100 && other.svc.stats().prewarm.node.ready < 1; i++) await sleep(20);
    await other.stop();
    // The cgroups share the process's directory: the other's stop used to remove (and kill) these too.
    const hits = fx.svc.stats().prewarm.node.hits;
    const key = fx.code({ 'index.mjs': HANDLER });
    const o = await fx.svc.execute(fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 128 }, 'survivor'), invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    assert.equal(fx.svc.stats().prewarm.node.hits, hits + 1, 'the pooled runtime was still there');
  });

  test('the replacement of a pooled runtime boots after the cold start, or a second into a long first invocation', async () => {
    for (let i = 0; i < 100 && fx.svc.stats().prewarm.node.ready < 1; i++) await sleep(20);
    assert.equal(fx.svc.stats().prewarm.node.ready, 1);
    const key = fx.code({ 'index.mjs': 'export const handler = async (e) => { await new Promise((r) => setTimeout(r, e.ms)); return e.ms; };\n' });
    const t = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 128, timeout: 10 }, 'slowfirst');
    const hits = fx.svc.stats().prewarm.node.hits;
    let finished = false;
    const first = fx.svc.execute(t, invocation('{"ms":4000}')).finally(() => { finished = true; });
    await sleep(400);
    assert.equal(fx.svc.stats().prewarm.node.hits, hits + 1, 'the cold start took the pooled runtime');
    assert.equal(fx.svc.stats().prewarm.node.ready, 0, 'no replacement booting beside the cold start');
    for (let i = 0; i < 150 && fx.svc.stats().prewarm.node.ready < 1; i++) await sleep(20);
    assert.equal(fx.svc.stats().prewarm.node.ready, 1, 'replaced');
    assert.equal(finished, false, 'replaced while the long first invocation still runs');
    const o = await first;
    assert.equal(o.status, 'ok', o.payload.toString());
    assert.equal(o.payload.toString(), '4000');
  });

  test('settings that do not fit the pooled sandbox cold-start', async () => {
    const key = fx.code({ 'index.mjs': HANDLER });
    const t = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 1769, ephemeralStorage: 1024 }, 'bigtmp');
    const before = fx.svc.stats().prewarm.node.misses;
    const o = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    if (fx.svc.describe().driver === 'namespace') assert.equal(fx.svc.stats().prewarm.node.misses, before + 1);
  });

  test('without the pool: cold start of the same runtime; import errors are init errors', async () => {
    const key = cold.code({ 'index.mjs': HANDLER });
    const o = await cold.svc.execute(cold.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 1769 }, 'nopool'), invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    assert.equal(o.coldStart, true);
    const bad = cold.code({ 'index.mjs': 'import "does-not-exist";\n' });
    const o2 = await cold.svc.execute(cold.target(bad, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 1769 }, 'badimport'), invocation('{}'));
    assert.equal(o2.errorType, 'Runtime.ImportModuleError');
  });
});

describe('the shipped Node.js runtime in the prewarm pool', () => {
  test('its warm-up leaves nothing behind for the function: no request id, no listener, no handle', async (t) => {
    const fx = await fixture({ prewarmPerRuntime: 1 });
    t.after(() => fx.stop());
    // A pooled runtime runs one invocation's worth of its own Runtime API client before its
    // assignment (runtimes/nodejs/warm-up.cjs). The function must not be able to tell.
    for (let i = 0; i < 250 && fx.svc.stats().prewarm.node.ready < 1; i++) await sleep(20);
    assert.equal(fx.svc.stats().prewarm.node.ready, 1);
    await sleep(300); // let it finish the warm-up
    const key = fx.code({
      'index.js': [
        "console.log('init beforeExit listeners', process.listenerCount('beforeExit'));",
        "console.log('init env', Object.keys(process.env).filter((k) => k.startsWith('STRATUS')).join(',') || 'none');",
        'exports.handler = (event, context, callback) => {',
        '  const t0 = Date.now();',
        '  setTimeout(() => console.log("timer fired"), 300);',
        "  callback(null, { id: context.awsRequestId, waited: Date.now() - t0, resources: process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap') });",
        '};',
      ].join('\n'),
    });
    const target = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 128, timeout: 10 }, 'pooledshipped');
    const hits = fx.svc.stats().prewarm.node.hits;
    const inv = invocation('{}');
    const o = await fx.svc.execute(target, inv);
    assert.equal(o.status, 'ok', o.payload.toString());
    if (fx.svc.describe().driver === 'namespace') assert.equal(fx.svc.stats().prewarm.node.hits, hits + 1, 'served by the pooled runtime');
    const r = JSON.parse(o.payload.toString());
    assert.equal(r.id, inv.requestId);
    // What keeps its event loop: its own timer and the runtime's Runtime API channel, nothing of
    // the warm-up's (its server's end of the connection stayed open until the first invocation).
    assert.deepEqual(r.resources.sort(), ['PipeWrap', 'Timeout']);
    // callbackWaitsForEmptyEventLoop: the result waits for the timer, so nothing else keeps the loop.
    assert.ok(o.durationMs >= 290, `result posted after the event loop drained (${o.durationMs} ms)`);
    await sleep(300);
    const logs = fx.sink.text();
    assert.match(logs, /\tundefined\tINFO\tinit beforeExit listeners 0\n/, logs);
    assert.match(logs, /\tINFO\tinit env none\n/);
    assert.match(logs, /timer fired/);
    assert.doesNotMatch(logs, /00000000-0000-4000-8000-000000000000/);
  });

  test('it is booted with the Node.js features Lambda turns off for its function\'s runtime name off; a function whose NODE_OPTIONS turns one on gets its own', async (t) => {
    const fx = await fixture({ prewarmPerRuntime: 1 });
    t.after(() => fx.stop());
    const ready = async (runtime: string) => {
      for (let i = 0; i < 250 && !fx.svc.stats().prewarm.node.readyByRuntime[runtime]; i++) await sleep(20);
      assert.ok(fx.svc.stats().prewarm.node.readyByRuntime[runtime], JSON.stringify(fx.svc.stats().prewarm));
    };
    const key = fx.code({
      'index.js': 'export const handler = async () => "esm syntax";\n',
      'req.js': 'const lib = require("./lib.mjs");\nexports.handler = async () => lib.x;\n',
      'lib.mjs': 'export const x = "required";\n',
    });
    let n = 0;
    const run = (runtime: string, handler: string, environment: Record<string, string> = {}) =>
      fx.svc.execute(fx.target(key, { runtime, handler, memorySize: 128, environment }, `features${n++}`), invocation('{}'));
    // Booted before any cold start: for Stratus's default runtime (nodejs20.x), which does not fit
    // nodejs22.x (syntax detection is on in Lambda's Node.js 20). Started for it (its init
    // retried maybe by a runtime the pool booted for it meanwhile), and one for it is booted.
    await ready('nodejs20.x');
    const esm = await run('nodejs22.x', 'index.handler');
    assert.equal(esm.errorType, 'Runtime.UserCodeSyntaxError', esm.payload.toString());
    assert.match(JSON.parse(esm.payload.toString()).errorMessage, /^SyntaxError: Unexpected token 'export'$/);
    await ready('nodejs22.x');
    const hits = fx.svc.stats().prewarm.node.hits;
    const req = await run('nodejs22.x', 'req.handler');
    assert.equal(fx.svc.stats().prewarm.node.hits, hits + 1, 'served by the pool');
    assert.equal(JSON.parse(req.payload.toString()).errorType, 'Error', req.payload.toString());
    assert.match(JSON.parse(req.payload.toString()).errorMessage, /^require\(\) of ES Module \S+\/lib\.mjs from \S+\/req\.js not supported\./);
    // nodejs20.x has require(esm) off too.
    const req20 = await run('nodejs20.x', 'req.handler');
    assert.match(JSON.parse(req20.payload.toString()).errorMessage, /^require\(\) of ES Module /, req20.payload.toString());
    // nodejs24.x keeps both: the pool's runtimes do not fit it. NODE_OPTIONS turns require(esm)
    // back on for nodejs22.x (never a pooled runtime).
    await ready('nodejs22.x');
    const before = fx.svc.stats().prewarm.node.hits;
    const esm24 = await run('nodejs24.x', 'index.handler');
    assert.equal(fx.svc.stats().prewarm.node.hits, before, 'started for it');
    assert.equal(esm24.status, 'ok', esm24.payload.toString());
    assert.equal(esm24.payload.toString(), '"esm syntax"');
    const on = await run('nodejs22.x', 'req.handler', { NODE_OPTIONS: '--experimental-require-module' });
    assert.equal(on.status, 'ok', on.payload.toString());
    assert.equal(on.payload.toString(), '"required"');
  });
});

test('the pool grows with a burst of cold starts and shrinks back once the burst is a minute old', async () => {
  let now = 1_000_000;
  const sink: LogSink = { write() { /* nothing logged */ } };
  // Runtimes that only sleep (no PATH: the boot environment is built from scratch): what is measured is the pool's size.
  const pool = new PrewarmPool(new ProcessDriver([]), 2, [], sink, { now: () => now }, () => ({ command: ['/bin/sleep', '600'], runtimeDir: '/' }));
  const ready = () => pool.stats().node.ready;
  const until = async (n: number) => { for (let i = 0; i < 300 && ready() !== n; i++) await sleep(20); assert.equal(ready(), n); };
  const taken: BootedRuntime[] = [];
  try {
    pool.start();
    await until(2);
    const boot = { launch: { command: ['/bin/sleep', '600'], runtimeDir: '/' }, memoryMB: 128, runtime: 'nodejs20.x' };
    for (let i = 0; i < 8; i++) {
      const b = pool.take('node', boot, { memoryMB: 128, ephemeralMB: 512 }, []);
      if (b) { taken.push(b); pool.refill('node'); }
      await sleep(30);
    }
    await until(8);
    pool.trim();
    assert.equal(ready(), 8, 'the burst is recent: the pool keeps what it asks for');
    now += 61_000;
    pool.trim();
    assert.equal(ready(), 2, 'a minute later only the base is kept');
  } finally {
    await pool.stop();
    await Promise.all(taken.map(discardBooted));
  }
});
