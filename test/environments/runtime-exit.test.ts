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
      // The runtime exits as Lambda's does, 128 after an unhandled rejection, 129 after an uncaught
      // exception, and the log says so (not "signal: hangup", what 128+1 would be for a signal).
      assert.match(first.logTail ?? '', new RegExp(`Error: Runtime exited with error: exit status ${kind === 'rejection' ? 128 : 129}\nRuntime.ExitError\n`), first.logTail);
      const next = await fx.svc.execute(t, invocation(JSON.stringify({ kind, fail: false })));
      assert.equal(next.status, 'ok', next.payload.toString());
      assert.equal(next.coldStart, true, 'a new environment');
      assert.equal(next.payload.toString(), '1');
      const warm = await fx.svc.execute(t, invocation(JSON.stringify({ kind, fail: false })));
      assert.equal(warm.coldStart, false);
      assert.equal(warm.payload.toString(), '2');
    });
  }

  /** A bash custom runtime that, after posting each result, runs `after` (shell) before its next /next. */
  const afterResult = (after: string, timeout: number, name: string) => {
    const bootstrap = BASH_BOOTSTRAP.replace('--data-binary @"${TMPDIR:-/tmp}/.out"\n', `--data-binary @"\${TMPDIR:-/tmp}/.out"\n    ${after}\n`);
    assert.notEqual(bootstrap, BASH_BOOTSTRAP);
    const key = fx.code({ bootstrap: { text: bootstrap, mode: 0o755 }, 'handler.sh': 'handle() { echo "\\"$2\\""; }\n', after: '1.5\n' });
    return fx.target(key, { memorySize: 256, timeout }, name);
  };
  /** The log lines of one invocation, START to REPORT in its environment's stream, once its REPORT is written. */
  const invocationLines = async (t: { logGroupName: string }, id: string): Promise<string[]> => {
    for (let i = 0; i < 100; i++) {
      const events = fx.sink.events.filter((e) => e.group === t.logGroupName);
      const stream = events.find((e) => e.e.message.startsWith(`START RequestId: ${id}`))?.stream;
      const lines = events.filter((e) => e.stream === stream).map((e) => e.e.message);
      const start = lines.findIndex((l) => l.startsWith(`START RequestId: ${id}`));
      const report = lines.findIndex((l) => l.startsWith(`REPORT RequestId: ${id}`));
      if (start >= 0 && report > start) return lines.slice(start, report + 1);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`no REPORT for ${id}`);
  };
  const durationOf = (report: string) => Number(/Duration: ([\d.]+) ms/.exec(report)![1]);

  test('custom runtime: work after the result is posted belongs to that invocation, which ends when the runtime asks for the next one', async () => {
    // After posting, the bootstrap works on (1.5 s) before its next /next. As Lambda: the caller
    // has the result at once; the environment is busy until the /next; what the runtime writes
    // meanwhile, and its time, are that invocation's (END and REPORT come at the /next).
    const t = afterResult('echo "after the result of $REQ"; sleep "$(cat after)"; echo "done after $REQ"', 3, 'after-result');
    const a = invocation('{}', { wantLogTail: false });
    const ra = await fx.svc.execute(t, a);
    assert.equal(ra.status, 'ok', ra.payload.toString());
    assert.ok(ra.durationMs < 1000, `the caller has the result before the work after it (${ra.durationMs} ms)`);
    // Meanwhile the environment is not free: the next invocation gets another one, and runs at once.
    const b = invocation('{}', { wantLogTail: false });
    const rb = await fx.svc.execute(t, b);
    assert.equal(rb.status, 'ok', rb.payload.toString());
    assert.equal(rb.coldStart, true);
    assert.ok(rb.durationMs < 1000, `not held up by the first environment's work (${rb.durationMs} ms)`);
    const linesA = await invocationLines(t, a.requestId);
    assert.ok(linesA.some((l) => l.includes(`after the result of ${a.requestId}`)) && linesA.some((l) => l.includes(`done after ${a.requestId}`)), linesA.join(''));
    assert.ok(linesA[linesA.length - 2]!.startsWith(`END RequestId: ${a.requestId}`));
    assert.ok(durationOf(linesA[linesA.length - 1]!) >= 1500, linesA[linesA.length - 1]);
    assert.doesNotMatch(linesA[linesA.length - 1]!, /Status:/);
    // Once it asked for its next invocation, the first environment is reused.
    const linesB = await invocationLines(t, b.requestId);
    assert.ok(!linesB.some((l) => l.includes(a.requestId)), 'nothing of the first invocation in the second');
    const rc = await fx.svc.execute(t, invocation('{}', { wantLogTail: false }));
    const rd = await fx.svc.execute(t, invocation('{}', { wantLogTail: false }));
    assert.deepEqual([rc.coldStart, rd.coldStart], [false, false]);
  });

  test('custom runtime: with LogType Tail the result comes with the whole invocation\'s log, up to its REPORT', async () => {
    const t = afterResult('echo "after the result of $REQ"; sleep "$(cat after)"', 3, 'after-result-tail');
    const a = invocation('{}');
    const ra = await fx.svc.execute(t, a);
    assert.equal(ra.status, 'ok', ra.payload.toString());
    const tail = ra.logTail!;
    assert.ok(ra.durationMs >= 1500, `the caller's duration is the REPORT's (${ra.durationMs} ms)`);
    assert.match(tail, new RegExp(`after the result of ${a.requestId}\n`));
    assert.match(tail, new RegExp(`END RequestId: ${a.requestId}\nREPORT RequestId: ${a.requestId}\tDuration: (1[5-9]\\d\\d|[2-9]\\d{3})\\.\\d{2} ms`));
  });

  test('custom runtime: an exit after the result fails that invocation\'s invoke phase (Runtime.ExitError), the caller keeps its result', async () => {
    const t = afterResult('exit 3', 3, 'exit-after-result');
    const a = invocation('{}');
    const ra = await fx.svc.execute(t, a);
    assert.equal(ra.status, 'ok', ra.payload.toString());
    assert.equal(ra.payload.toString().trim(), `"${a.requestId}"`);
    const lines = await invocationLines(t, a.requestId);
    assert.match(lines.join(''), new RegExp(`RequestId: ${a.requestId} Error: Runtime exited with error: exit status 3\nRuntime.ExitError\n`));
    assert.match(lines[lines.length - 1]!, /\tStatus: error\tError Type: Runtime\.ExitError/);
    assert.match(ra.logTail!, /Runtime exited with error: exit status 3[^]*Status: error\tError Type: Runtime\.ExitError\t\n$/);
    const next = await fx.svc.execute(t, invocation('{}', { wantLogTail: false }));
    assert.equal(next.coldStart, true, 'a new environment');
  });

  test('custom runtime: one that does not ask for its next invocation by the deadline times out and is replaced', async () => {
    const t = afterResult('sleep 30', 1, 'never-next');
    await new Promise((r) => setTimeout(r, 300)); // the environments of the tests before settled
    const before = fx.svc.stats().environments;
    const a = invocation('{}', { wantLogTail: false });
    const ra = await fx.svc.execute(t, a);
    assert.equal(ra.status, 'ok', ra.payload.toString());
    assert.equal(fx.svc.stats().environments, before + 1);
    const lines = await invocationLines(t, a.requestId);
    assert.ok(lines.some((l) => l.endsWith(`${a.requestId} Task timed out after 1.00 seconds\n`)), JSON.stringify(lines));
    assert.match(lines[lines.length - 1]!, /Duration: 1000\.00 ms\t.*\tStatus: timeout/);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(fx.svc.stats().environments, before, 'killed at the deadline');
    const rb = await fx.svc.execute(t, invocation('{}'));
    assert.equal(rb.status, 'ok', rb.payload.toString());
    assert.equal(rb.coldStart, true);
  });
});
