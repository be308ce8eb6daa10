import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, invocation, sleep } from './helpers.js';

// Lambda: "Lambda terminates execution environments every few hours to allow for runtime updates
// and maintenance—even for functions that are invoked continuously." Stratus ends an on-demand
// environment older than envMaxLifetimeMs at the first reap that finds it idle.

const NODE = "exports.handler = async (e, context) => ({ stream: context.logStreamName, pid: process.pid });\n";

test('an environment invoked continuously is ended once older than its maximum lifetime, and the next invocation is a cold start', async () => {
  const f = await fixture({ envMaxLifetimeMs: 1500 });
  try {
    const t = f.target(f.code({ 'index.js': NODE }), { runtime: 'nodejs20.x', handler: 'index.handler' }, 'lifetime');
    const seen: Array<{ stream: string; cold: boolean; at: number }> = [];
    const start = performance.now();
    // Back to back, every 50 ms, for at most 8 s: the environment is never idle for long.
    while (performance.now() - start < 8000) {
      const o = await f.svc.execute(t, invocation('{}'));
      assert.equal(o.status, 'ok', o.payload.toString());
      const r = JSON.parse(o.payload.toString()) as { stream: string };
      seen.push({ stream: r.stream, cold: o.coldStart, at: performance.now() - start });
      if (new Set(seen.map((s) => s.stream)).size >= 2) break;
      await sleep(50);
    }
    const streams = [...new Set(seen.map((s) => s.stream))];
    assert.equal(streams.length, 2, `a second environment replaced the first: ${JSON.stringify(seen.slice(-3))}`);
    // The first lived its lifetime, not less: every invocation in its first second went to it.
    assert.ok(seen.filter((s) => s.at < 1000).every((s) => s.stream === streams[0]), JSON.stringify(seen.slice(0, 5)));
    const replaced = seen.findIndex((s) => s.stream === streams[1]);
    assert.ok(seen[replaced]!.cold, 'the replacement ran its init: a cold start');
    assert.ok(seen[replaced]!.at >= 1400, `replaced after ${seen[replaced]!.at} ms`);
    // Only one environment at a time: the old one is gone.
    for (let i = 0; i < 50 && f.svc.stats().environments > 1; i++) await sleep(100);
    assert.equal(f.svc.stats().environments, 1);
  } finally {
    await f.stop();
  }
});
