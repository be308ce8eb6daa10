import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { ExecutionOutcome } from '../../src/ports/execution.js';
import { fixture, invocation, isRoot, loopDevicesOf, sleep } from './helpers.js';

// Lambda's lifecycle guide: "If the Lambda function crashes or times out during the Invoke phase,
// Lambda resets the execution environment. [...] Lambda initializes the runtime and extensions as
// part of the next invocation. The Lambda reset does not clear the /tmp directory content prior to
// the next init phase." The next invocation runs the init again (a suppressed init: no INIT_START,
// no Init Duration) in the same log stream, and finds /tmp as the reset environment left it.

const NODE = `const fs = require('node:fs');
console.log('init ran');
let calls = 0;
exports.handler = async (event, context) => {
  calls++;
  if (event.write) fs.writeFileSync('/tmp/kept', event.write);
  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep));
  if (event.exit) process.exit(event.exit);
  let kept = null;
  try { kept = fs.readFileSync('/tmp/kept', 'utf8'); } catch { /* none */ }
  return { calls, kept, stream: context.logStreamName, envStream: process.env.AWS_LAMBDA_LOG_STREAM_NAME };
};
`;

const PY = `import os
print("init ran")
calls = 0
def handler(event, context):
    global calls
    calls += 1
    if event.get("write"):
        open("/tmp/kept", "w").write(event["write"])
    if event.get("crash"):
        os._exit(7)
    kept = open("/tmp/kept").read() if os.path.exists("/tmp/kept") else None
    dev = os.stat("/tmp").st_dev
    return {"calls": calls, "kept": kept, "stream": context.log_stream_name, "dev": "%d:%d" % (os.major(dev), os.minor(dev))}
`;

const ok = (o: ExecutionOutcome) => {
  assert.equal(o.status, 'ok', o.payload.toString());
  return JSON.parse(o.payload.toString()) as { calls: number; kept: string | null; stream: string; envStream?: string; dev?: string };
};

/** The file a loop device (major:minor) is attached to, '' once it is detached. */
const backing = (dev: string) => { try { return fs.readFileSync(`/sys/dev/block/${dev}/loop/backing_file`, 'utf8').trim(); } catch { return ''; } };

/** Waits (4 s at most) until the loop device no longer holds `file`. */
async function detached(dev: string, file: string): Promise<boolean> {
  for (let i = 0; i < 40 && backing(dev) === file; i++) await sleep(100);
  return backing(dev) !== file;
}

describe('an environment whose invoke phase fails is reset, as Lambda resets it', { skip: !isRoot && 'the namespace driver (root) keeps /tmp on a volume of its own' }, async () => {
  const fx = await fixture({ sandbox: 'namespace', prewarmPerRuntime: 1 });
  after(() => fx.stop());

  test('after a timeout and after a crash: the init runs again inside the next invocation, in the same stream, with /tmp as it was', async () => {
    const t = fx.target(fx.code({ 'index.js': NODE }), { runtime: 'nodejs20.x', handler: 'index.handler', timeout: 2 }, 'reset-node');
    const first = ok(await fx.svc.execute(t, invocation('{"write":"A"}')));
    assert.equal(first.calls, 1);
    assert.equal(first.kept, 'A');

    const timedOut = await fx.svc.execute(t, invocation('{"sleep":5000}'));
    assert.equal(timedOut.errorType, 'Sandbox.Timedout');

    const afterTimeout = await fx.svc.execute(t, invocation('{}'));
    const a = ok(afterTimeout);
    assert.equal(a.calls, 1, 'a new runtime ran the init again');
    assert.equal(a.kept, 'A', '/tmp is kept across the reset');
    assert.equal(a.stream, first.stream, 'the same log stream');
    assert.equal(a.envStream, first.stream);
    assert.equal(afterTimeout.coldStart, true);
    assert.equal(afterTimeout.initDurationMs, undefined);
    // The suppressed init's lines, then the invocation's: no INIT_START, no Init Duration.
    assert.match(afterTimeout.logTail!, /^[^\n]*\tundefined\tINFO\tinit ran\nSTART RequestId: [^\n]+\nEND RequestId: [^\n]+\nREPORT RequestId: [^\n]*Max Memory Used: \d+ MB\t\n$/);
    assert.doesNotMatch(afterTimeout.logTail!, /INIT_START|Init Duration/);

    const crashed = await fx.svc.execute(t, invocation('{"exit":3}'));
    assert.equal(crashed.errorType, 'Runtime.ExitError');
    const b = ok(await fx.svc.execute(t, invocation('{}')));
    assert.deepEqual([b.calls, b.kept, b.stream], [1, 'A', first.stream]);

    // The stream holds one INIT_START, for the environment's first init only.
    const lines = fx.sink.events.filter((e) => e.group === '/aws/lambda/reset-node').map((e) => ({ stream: e.stream, m: e.e.message }));
    assert.deepEqual([...new Set(lines.map((l) => l.stream))], [first.stream]);
    assert.equal(lines.filter((l) => l.m.startsWith('INIT_START')).length, 1);
    assert.equal(lines.filter((l) => l.m.includes('init ran')).length, 3);
    assert.equal(lines.filter((l) => /Init Duration/.test(l.m)).length, 1);
  });

  test('a warm invocation after the reset reuses the new runtime', async () => {
    const t = fx.target(fx.code({ 'app.py': PY }), { runtime: 'python3.12', handler: 'app.handler', timeout: 5 }, 'reset-py');
    const first = ok(await fx.svc.execute(t, invocation('{"write":"P"}')));
    const crashed = await fx.svc.execute(t, invocation('{"crash":true}'));
    assert.equal(crashed.errorType, 'Runtime.ExitError');
    assert.match(crashed.payload.toString(), /Runtime exited with error: exit status 7/);
    const a = ok(await fx.svc.execute(t, invocation('{}')));
    assert.deepEqual([a.calls, a.kept, a.stream], [1, 'P', first.stream]);
    const warm = await fx.svc.execute(t, invocation('{}'));
    assert.equal(warm.coldStart, false);
    assert.deepEqual(ok(warm).calls, 2);
  });

  test('one invocation takes a reset: others that arrive with it start environments of their own', async () => {
    const t = fx.target(fx.code({ 'app.py': PY }), { runtime: 'python3.12', handler: 'app.handler', timeout: 5 }, 'reset-many');
    const first = ok(await fx.svc.execute(t, invocation('{"write":"M"}')));
    assert.equal((await fx.svc.execute(t, invocation('{"crash":true}'))).errorType, 'Runtime.ExitError');
    assert.equal(fx.svc.stats().resets, 1);
    const all = (await Promise.all([0, 1, 2, 3].map(() => fx.svc.execute(t, invocation('{}'))))).map(ok);
    assert.deepEqual(all.filter((r) => r.kept === 'M').map((r) => r.stream), [first.stream]);
    assert.equal(all.filter((r) => r.kept === null && r.stream !== first.stream).length, 3);
    assert.equal(fx.svc.stats().resets, 0);
  });

  test('a suppressed init that fails leaves the environment to be reset again: same stream, /tmp as it was', async () => {
    // The init fails once after the handler left /tmp/poison, and succeeds the second time.
    const src = `import os, time
n = int(open("/tmp/count").read()) if os.path.exists("/tmp/count") else 0
if os.path.exists("/tmp/poison"):
    open("/tmp/count", "w").write(str(n + 1))
    if n < 1:
        raise Exception("poisoned")
def handler(event, context):
    if event.get("poison"):
        open("/tmp/poison", "w").write("x")
        time.sleep(10)
    return {"count": n, "stream": context.log_stream_name}
`;
    const t = fx.target(fx.code({ 'app.py': src }), { runtime: 'python3.12', handler: 'app.handler', timeout: 2 }, 'reset-poison');
    const first = ok(await fx.svc.execute(t, invocation('{}')));
    assert.equal((await fx.svc.execute(t, invocation('{"poison":true}'))).errorType, 'Sandbox.Timedout');
    const failed = await fx.svc.execute(t, invocation('{}'));
    assert.equal(failed.status, 'error');
    assert.match(failed.payload.toString(), /poisoned/);
    assert.match(failed.logTail!, /INIT_REPORT Init Duration: [\d.]+ ms\tPhase: invoke\tStatus: error\tError Type: Runtime.Unknown\n/);
    assert.doesNotMatch(failed.logTail!, /^INIT_START/m);
    const again = ok(await fx.svc.execute(t, invocation('{}')));
    assert.deepEqual(again, { count: 1, stream: first.stream });
    const events = fx.sink.events.filter((e) => e.group === '/aws/lambda/reset-poison');
    assert.deepEqual([...new Set(events.map((e) => e.stream))], [first.stream]);
    assert.equal(events.filter((e) => e.e.message.startsWith('INIT_START')).length, 1);
  });

  test('an init that fails is retried within the first invocation in the same sandbox: /tmp as the failed init left it', async () => {
    // Lambda retries a failed init "at the time of the first function invocation" in the same
    // execution environment: what the first attempt wrote to /tmp is there for the second.
    const src = `import os
n = int(open("/tmp/attempts").read()) if os.path.exists("/tmp/attempts") else 0
open("/tmp/attempts", "w").write(str(n + 1))
if n == 0:
    raise Exception("first init fails")
def handler(event, context):
    return {"attempts": n + 1}
`;
    const t = fx.target(fx.code({ 'app.py': src }), { runtime: 'python3.12', handler: 'app.handler', timeout: 5 }, 'retry-keeps-tmp');
    const o = await fx.svc.execute(t, invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    assert.deepEqual(JSON.parse(o.payload.toString()), { attempts: 2 });
    assert.match(o.logTail!, /INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\tError Type: Runtime.Unknown\n/);
  });

  test('a runtime that posts its result but does not ask for the next invocation by the deadline is reset too', async () => {
    // A bash custom runtime that, on "linger", goes on working after its response until it is killed.
    const boot = `#!/bin/bash
n=0
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
while true; do
  event=$(curl -sS -D /tmp/headers "$api/next")
  req=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' /tmp/headers | tr -d '[:space:]' | cut -d: -f2)
  n=$((n+1))
  if [ -f /tmp/kept ]; then kept=1; else kept=0; fi
  echo x > /tmp/kept
  curl -sS -o /dev/null -X POST "$api/$req/response" -d "{\\"n\\":$n,\\"kept\\":$kept,\\"stream\\":\\"$AWS_LAMBDA_LOG_STREAM_NAME\\"}"
  case "$event" in *linger*) sleep 30;; esac
done
`;
    const t = fx.target(fx.code({ bootstrap: { text: boot, mode: 0o755 } }), { timeout: 1, memorySize: 1769 }, 'reset-linger');
    const lingering = await fx.svc.execute(t, invocation('"linger"'));
    assert.equal(lingering.status, 'ok', 'the caller has its result');
    const first = JSON.parse(lingering.payload.toString());
    assert.deepEqual([first.n, first.kept], [1, 0]);
    // Past the deadline the runtime is killed: the next invocation resets it.
    await sleep(1200);
    assert.equal(fx.svc.stats().resets, 1);
    const after = await fx.svc.execute(t, invocation('{}'));
    assert.equal(after.status, 'ok', after.payload.toString());
    assert.deepEqual(JSON.parse(after.payload.toString()), { n: 1, kept: 1, stream: first.stream });
  });

  test('a runtime that exits right after its result (a promise the handler did not await rejects): the result stands, the next invocation is a reset, never the one to fail', async () => {
    const t = fx.target(fx.code({ 'index.js': "exports.handler = async (e) => { (async () => { throw new Error('HelloError'); })(); return e; };\n" }),
      { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 1769 }, 'reset-unawaited');
    // Back to back, as a busy function's invocations come: each one finds the runtime of the one
    // before it exiting, or gone.
    for (let i = 0; i < 4; i++) {
      const inv = invocation(String(i));
      const o = await fx.svc.execute(t, inv);
      assert.equal(o.status, 'ok', `invocation ${i}: ${o.payload.toString()}`);
      assert.equal(o.payload.toString(), String(i));
      // Its ERROR line is within it, before END.
      const tail = o.logTail!;
      assert.ok(tail.indexOf(`\t${inv.requestId}\tERROR\tUnhandled Promise Rejection \t`) > 0 && tail.indexOf(`\t${inv.requestId}\tERROR`) < tail.indexOf(`END RequestId: ${inv.requestId}`), tail);
      if (i > 0) assert.doesNotMatch(tail, /Init Duration/, 'a reset: its init is part of the invocation');
    }
  });

  test('a reset nobody takes within the idle time is dropped: its /tmp volume goes, and the next environment starts afresh', async () => {
    const f = await fixture({ sandbox: 'namespace', prewarmPerRuntime: 0, idleTimeoutMs: 300 });
    try {
      const dir = path.join(f.dataDir, 'ephemeral');
      const t = f.target(f.code({ 'app.py': PY }), { runtime: 'python3.12', handler: 'app.handler', timeout: 5 }, 'reset-expired');
      const first = ok(await f.svc.execute(t, invocation('{"write":"gone"}')));
      const file = backing(first.dev!);
      assert.ok(file.startsWith(dir + path.sep), `${first.dev} is ${file}`);
      assert.equal((await f.svc.execute(t, invocation('{"crash":true}'))).errorType, 'Runtime.ExitError');
      // Held for the reset meanwhile, then let go.
      await sleep(50);
      assert.equal(backing(first.dev!), file);
      assert.ok(await detached(first.dev!, file), 'the reset environment\'s volume is detached');
      const o = await f.svc.execute(t, invocation('{}'));
      const a = ok(o);
      assert.equal(a.kept, null);
      assert.notEqual(a.stream, first.stream);
      assert.match(o.logTail!, /Init Duration: /);
      assert.ok(f.sink.events.some((e) => e.stream === a.stream && e.e.message.startsWith('INIT_START')));

      // A new revision of the function: a pending reset of the old one goes at once.
      const file2 = backing(a.dev!);
      assert.equal((await f.svc.execute(t, invocation('{"crash":true}'))).errorType, 'Runtime.ExitError');
      assert.equal(f.svc.stats().resets, 1);
      ok(await f.svc.execute({ ...t, revisionId: 'r2' }, invocation('{}')));
      assert.equal(f.svc.stats().resets, 0);
      assert.equal(f.sink.events.filter((e) => e.e.message.startsWith('INIT_START')).length, 3);
      assert.ok(await detached(a.dev!, file2), 'the dropped reset\'s volume is detached');
    } finally {
      await f.stop();
    }
  });

  test('stopping the service with a reset pending leaves no volume attached', async () => {
    const f = await fixture({ sandbox: 'namespace', prewarmPerRuntime: 0 });
    const dir = path.join(f.dataDir, 'ephemeral');
    try {
      const t = f.target(f.code({ 'app.py': PY }), { runtime: 'python3.12', handler: 'app.handler', timeout: 5 }, 'reset-stop');
      ok(await f.svc.execute(t, invocation('{"write":"S"}')));
      assert.equal((await f.svc.execute(t, invocation('{"crash":true}'))).errorType, 'Runtime.ExitError');
      assert.equal(f.svc.stats().resets, 1);
    } finally {
      await f.stop();
    }
    let left = loopDevicesOf(dir);
    for (let i = 0; i < 50 && left.length; i++) { await sleep(100); left = loopDevicesOf(dir); }
    assert.deepEqual(left, []);
  });
});
