import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { python } from '../runtimes/harness.js';
import { bashFunction, fixture, invocation } from './helpers.js';

/**
 * What a function writes before its result is logged between its START and END, on every warm
 * invocation: small lines, output larger than one pipe read, stdout and stderr, and output of a
 * child process. (Stratus reads the pipes in the same pass of its event loop as the result.)
 */
describe('function output lands between START and END', async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  after(() => fx.stop());

  const BIG = 150_000;
  const check = async (name: string, t: ReturnType<typeof fx.target>, rounds: number) => {
    for (let i = 0; i < rounds; i++) {
      const inv = invocation(JSON.stringify({ i }), { wantLogTail: false });
      const o = await fx.svc.execute(t, inv);
      assert.equal(o.status, 'ok', `${name} #${i}: ${o.payload.toString()}`);
      // END comes when the runtime asks for its next invocation: with the result (the shipped
      // runtimes), or a moment after it (the bash runtime's next curl).
      let lines: string[] = [];
      let start = -1;
      let end = -1;
      for (let w = 0; w < 50 && end < 0; w++) {
        if (w) await new Promise((r) => setTimeout(r, 20));
        lines = fx.sink.events.filter((e) => e.group === t.logGroupName).map((e) => e.e.message);
        start = lines.findIndex((l) => l.startsWith(`START RequestId: ${inv.requestId}`));
        end = lines.findIndex((l) => l.startsWith(`END RequestId: ${inv.requestId}`));
      }
      assert.ok(start >= 0 && end > start, `${name} #${i}: START and END`);
      const between = lines.slice(start + 1, end).join('');
      for (const marker of [`first ${i}`, `err ${i}`, `child ${i}`, `last ${i}`]) {
        assert.ok(between.includes(marker), `${name} #${i}: "${marker}" before END (${between.length} bytes between)`);
      }
      assert.ok(between.length > BIG, `${name} #${i}: the large output is in (${between.length} bytes)`);
    }
  };

  test('node', async () => {
    const key = fx.code({
      'index.js': `const { execFileSync } = require('node:child_process');
exports.handler = async (e) => {
  console.log('first ' + e.i);
  console.error('err ' + e.i);
  process.stdout.write('x'.repeat(${BIG}) + '\\n');
  process.stdout.write(execFileSync('/bin/echo', ['child ' + e.i]));
  console.log('last ' + e.i);
  return e.i;
};`,
    });
    await check('node', fx.target(key, { runtime: 'nodejs20.x', handler: 'index.handler', memorySize: 512, timeout: 10 }, 'order-node'), 25);
  });

  test('python', { skip: !python() && 'python3 not installed' }, async () => {
    const key = fx.code({
      'app.py': `import subprocess, sys
def handler(e, context):
    print('first %d' % e['i'])
    print('err %d' % e['i'], file=sys.stderr)
    sys.stdout.write('x' * ${BIG} + '\\n')
    sys.stdout.flush()
    subprocess.run(['/bin/echo', 'child %d' % e['i']], check=True)
    print('last %d' % e['i'])
    return e['i']
`,
    });
    await check('python', fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 512, timeout: 10 }, 'order-py'), 25);
  });

  test('bash custom runtime', async () => {
    const key = fx.code(bashFunction(`I=$(echo "$1" | sed 's/[^0-9]//g')
echo "first $I" >&2
echo "err $I" >&2
head -c ${BIG} /dev/zero | tr '\\0' 'x' >&2; echo >&2
/bin/echo "child $I" >&2
echo "last $I" >&2
echo "$I"`));
    await check('bash', fx.target(key, { runtime: 'provided.al2023', handler: 'handler', memorySize: 512, timeout: 10 }, 'order-bash'), 10);
  });
});

/**
 * A Python function's print, logging records and sys.stderr writes are logged in the order the
 * code wrote them, with timestamps that never go back, in both log formats: Lambda's runtime
 * writes them unbuffered. (Read from three pipes as they came, a loop of the three was logged
 * grouped by pipe.) A line printed without its newline is logged when its phase ends.
 */
describe('python: print, logging and sys.stderr in code order', { skip: !python() && 'python3 not installed' }, async () => {
  const fx = await fixture({ prewarmPerRuntime: 0 });
  after(() => fx.stop());
  const APP = `import logging, sys
print("init without a newline", end="")
def handler(e, c):
    for i in range(6):
        print("print", i)
        logging.getLogger().warning("log %d", i)
        sys.stderr.write("err %d\\n" % i)
    print("unfinished", end="")
    return 1
`;
  const expected = [...Array(6).keys()].flatMap((i) => [`print ${i}`, `log ${i}`, `err ${i}`]).concat('unfinished');

  for (const logFormat of ['Text', 'JSON'] as const) {
    test(`${logFormat} logs`, async () => {
      const key = fx.code({ 'app.py': APP });
      const t = fx.target(key, { runtime: 'python3.12', handler: 'app.handler', memorySize: 1769, loggingConfig: { logFormat, logGroup: null } }, `py-order-${logFormat}`);
      // What a record or line says: the message of a JSON record, the text after the request id of a text one.
      const said = (m: string) => {
        if (m.startsWith('{')) return String((JSON.parse(m) as { message?: unknown }).message ?? '');
        return m.replace(/^\[WARNING\]\t\S+\t\S+\t/, '').replace(/\n$/, '');
      };
      for (let round = 0; round < 3; round++) {
        const inv = invocation('{}');
        const o = await fx.svc.execute(t, inv);
        assert.equal(o.status, 'ok', o.payload.toString());
        // The invocation's LogResult tail (the unfinished line runs into the next, END or its
        // record, as a line without its newline does in Lambda's LogResult)...
        const tail = o.logTail!.split('\n').slice(0, -1).map((l) => said(l.replace(/^unfinished(?=END |\{)/, 'unfinished\n').split('\n')[0]!))
          .filter((l) => /^(print|log|err) \d$|^unfinished$/.test(l));
        assert.deepEqual(tail, expected, `${logFormat} #${round}: LogResult\n${o.logTail}`);
        // ... and the stored events (what filter-log-events returns), between START and END.
        const events = fx.sink.events.filter((e) => e.group === t.logGroupName).map((e) => e.e);
        const start = events.findIndex((e) => e.message.includes(inv.requestId) && /START|platform\.start/.test(e.message));
        const end = events.findIndex((e, i) => i > start && e.message.includes(inv.requestId) && /END|platform\.report/.test(e.message));
        const between = events.slice(start + 1, end);
        assert.deepEqual(between.map((e) => said(e.message)), expected, `${logFormat} #${round}: stored events`);
        for (let i = 1; i < between.length; i++) {
          assert.ok(between[i]!.timestamp >= between[i - 1]!.timestamp, `${logFormat} #${round}: timestamps never go back (${between.map((e) => e.timestamp)})`);
        }
      }
      const first = fx.sink.events.find((e) => e.group === t.logGroupName && e.e.message.startsWith('init without a newline'));
      assert.ok(first, 'the unfinished line of init is logged');
    });
  }
});
