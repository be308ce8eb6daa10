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
      const lines = fx.sink.events.filter((e) => e.group === t.logGroupName).map((e) => e.e.message);
      const start = lines.findIndex((l) => l.startsWith(`START RequestId: ${inv.requestId}`));
      const end = lines.findIndex((l) => l.startsWith(`END RequestId: ${inv.requestId}`));
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
