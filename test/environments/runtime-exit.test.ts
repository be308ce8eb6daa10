import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { BASH_BOOTSTRAP, fixture, invocation } from './helpers.js';

/**
 * A runtime that must exit after an invocation (Node: an unhandled rejection or an uncaught
 * exception) reports the error for that invocation and exits before it asks for another one, as
 * Lambda's runtime does: the next invocation gets a new environment, not the dying one.
 */
describe('an invocation ends when the runtime asks for the next one', async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  after(() => fx.stop());

  for (const [kind, expected] of [['rejection', 'Runtime.UnhandledPromiseRejection'], ['throw', 'Error']] as const) {
    test(`node, ${kind}: that invocation fails, the next one succeeds in a new environment`, async () => {
      const key = fx.code({
        'index.js': `let n = 0;
exports.handler = async (event) => {
  n++;
  if (event.fail) {
    if (event.kind === 'rejection') Promise.reject(new Error('floating'));
    else setTimeout(() => { throw new Error('thrown in a timer'); }, 1);
    await new Promise((r) => setTimeout(r, 200));
  }
  return n;
};`,
      });
      const t = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 256 }, `exit-${kind}`);
      const first = await fx.svc.execute(t, invocation(JSON.stringify({ kind, fail: true })));
      assert.equal(first.status, 'error', first.payload.toString());
      assert.equal(first.errorType, expected);
      const next = await fx.svc.execute(t, invocation(JSON.stringify({ kind, fail: false })));
      assert.equal(next.status, 'ok', next.payload.toString());
      assert.equal(next.coldStart, true, 'a new environment');
      assert.equal(next.payload.toString(), '1');
      const warm = await fx.svc.execute(t, invocation(JSON.stringify({ kind, fail: false })));
      assert.equal(warm.coldStart, false);
      assert.equal(warm.payload.toString(), '2');
    });
  }

  test('custom runtime: work after the result is posted keeps the environment until it asks for the next one', async () => {
    // After posting, the bootstrap works on (AFTER seconds) before its next /next.
    const bootstrap = BASH_BOOTSTRAP.replace(
      '--data-binary @/tmp/.out\n',
      '--data-binary @/tmp/.out\n    echo "after the result of $REQ"; sleep "$(cat after)"; echo "done after $REQ"\n',
    );
    assert.notEqual(bootstrap, BASH_BOOTSTRAP);
    const key = fx.code({ bootstrap: { text: bootstrap, mode: 0o755 }, 'handler.sh': 'handle() { echo "\\"$2\\""; }\n', after: '1.5\n' });
    const t = fx.target(key, { memorySize: 256, timeout: 3 }, 'after-result');
    const a = invocation('{}');
    const ra = await fx.svc.execute(t, a);
    assert.equal(ra.status, 'ok', ra.payload.toString());
    assert.ok(ra.durationMs < 1000, `the caller has the result before the work after it (${ra.durationMs} ms)`);
    // Meanwhile the environment is not free: the next invocation gets another one, and runs at once.
    const b = invocation('{}');
    const rb = await fx.svc.execute(t, b);
    assert.equal(rb.status, 'ok', rb.payload.toString());
    assert.equal(rb.coldStart, true);
    assert.ok(rb.durationMs < 1000, `not held up by the first environment's work (${rb.durationMs} ms)`);
    // Once it asked for its next invocation, the first environment is reused.
    await new Promise((r) => setTimeout(r, 2000));
    const rc = await fx.svc.execute(t, invocation('{}'));
    const rd = await fx.svc.execute(t, invocation('{}'));
    assert.deepEqual([rc.coldStart, rd.coldStart], [false, false]);
    const lines = fx.sink.events.filter((e) => e.group === t.logGroupName).map((e) => e.e.message);
    const startB = lines.findIndex((l) => l.startsWith(`START RequestId: ${b.requestId}`));
    const endB = lines.findIndex((l) => l.startsWith(`END RequestId: ${b.requestId}`));
    assert.ok(!lines.slice(startB, endB).some((l) => l.includes(a.requestId)), 'nothing of the first invocation in the second');
  });

  test('custom runtime: one that does not ask for its next invocation by the deadline is replaced', async () => {
    const bootstrap = BASH_BOOTSTRAP.replace('--data-binary @/tmp/.out\n', '--data-binary @/tmp/.out\n    sleep 30\n');
    const key = fx.code({ bootstrap: { text: bootstrap, mode: 0o755 }, 'handler.sh': 'handle() { echo \'"ok"\'; }\n' });
    const t = fx.target(key, { memorySize: 256, timeout: 1 }, 'never-next');
    const before = fx.svc.stats().environments;
    const ra = await fx.svc.execute(t, invocation('{}'));
    assert.equal(ra.status, 'ok', ra.payload.toString());
    assert.equal(fx.svc.stats().environments, before + 1);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(fx.svc.stats().environments, before, 'killed at the deadline');
    const rb = await fx.svc.execute(t, invocation('{}'));
    assert.equal(rb.status, 'ok', rb.payload.toString());
    assert.equal(rb.coldStart, true);
  });
});
