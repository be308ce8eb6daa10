import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { pythonExecutable } from '../../src/environments/runtimes.js';
import { fixture, invocation, sleep } from './helpers.js';

// Lambda's lifecycle: "Lambda freezes the execution environment when the runtime and each
// extension have completed and there are no pending events." What a function leaves running after
// its result (callbackWaitsForEmptyEventLoop = false, a background thread) does not run while the
// environment is idle; it goes on in the next invocation ("any outstanding events continue to run
// during the next invocation", the Node.js context guide).

for (const sandbox of ['namespace', 'process'] as const) {
  describe(`an idle environment is frozen (${sandbox} sandbox)`, async () => {
    const fx = await fixture({ sandbox, prewarmPerRuntime: 0 });
    after(() => fx.stop());
    if (fx.svc.describe().driver !== sandbox) return;

    const waitFor = async (re: RegExp) => {
      for (let i = 0; i < 100 && !re.test(fx.sink.text()); i++) await sleep(20);
      return fx.sink.text();
    };

    test('a Node.js timer left running after the result runs in the next invocation, not while idle', async () => {
      const key = fx.code({
        'index.js': `let n = 0;
exports.handler = (event, context, callback) => {
  n++;
  context.callbackWaitsForEmptyEventLoop = false;
  if (event.arm) setTimeout(() => console.log('late timer ran'), 300);
  callback(null, n);
};
`,
      });
      const t = fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 512 }, `freeze-node-${sandbox}`);
      const first = await fx.svc.execute(t, invocation('{"arm":true}'));
      assert.equal(first.payload.toString(), '1');
      await sleep(1000);
      assert.doesNotMatch(fx.sink.text(), /late timer ran/, 'the timer did not run while the environment was idle');
      const second = await fx.svc.execute(t, invocation('{}'));
      assert.equal(second.payload.toString(), '2', 'the same environment');
      const text = await waitFor(/late timer ran/);
      const starts = [...text.matchAll(/START RequestId/g)].map((m) => m.index!);
      assert.equal(starts.length, 2, text);
      assert.ok(text.indexOf('late timer ran') > starts[1]!, text);
    });

    test('the runtime\'s stdin is at its end: a child that reads it is not held up', async () => {
      const key = fx.code({
        'index.js': `const { spawnSync } = require('node:child_process');
exports.handler = async () => spawnSync('sh', ['-c', 'cat; echo done'], { stdio: ['inherit', 'pipe', 'pipe'], timeout: 2000 }).stdout.toString().trim();
`,
      });
      const o = await fx.svc.execute(fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 512, timeout: 5 }, `stdin-eof-${sandbox}`), invocation('{}'));
      assert.equal(o.status, 'ok', o.payload.toString());
      assert.equal(o.payload.toString(), '"done"');
    });

    test('a Python thread left running after the result is stopped while idle', { skip: !pythonExecutable() && 'no python3' }, async () => {
      const key = fx.code({
        'app.py': `import threading, time
def tick():
    for i in range(40):
        time.sleep(0.05)
        print("tick", i, flush=True)
def handler(event, context):
    if event.get("arm"):
        threading.Thread(target=tick, daemon=True).start()
    time.sleep(event.get("wait", 0))
    return "ok"
`,
      });
      const t = fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 512 }, `freeze-py-${sandbox}`);
      await fx.svc.execute(t, invocation('{"arm":true}'));
      await sleep(1000);
      const ticks = (fx.sink.text().match(/tick \d+/g) ?? []).length;
      assert.ok(ticks <= 2, `${ticks} ticks while idle`);
      await fx.svc.execute(t, invocation('{"wait":0.5}'));
      assert.ok((fx.sink.text().match(/tick \d+/g) ?? []).length > ticks + 3, 'it goes on in the next invocation');
    });
  });
}
