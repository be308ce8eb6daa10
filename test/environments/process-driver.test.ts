import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { shimExecutable } from '../../src/environments/sandbox/exec.js';
import { bashFunction, fixture, invocation } from './helpers.js';

const fx = await fixture({ sandbox: 'process' });
after(() => fx.stop());

test('process driver runs functions and warns loudly', async () => {
  const d = fx.svc.describe();
  assert.equal(d.driver, 'process');
  assert.ok(d.warnings.some((w) => w.includes('SANDBOX DISABLED')));
  const key = fx.code(bashFunction('echo "\\"$AWS_LAMBDA_FUNCTION_NAME\\""'));
  const t = fx.target(key, { memorySize: 256 }, 'plain');
  const o = await fx.svc.execute(t, invocation('{}'));
  assert.equal(o.payload.toString().trim(), '"plain"');
  assert.equal((await fx.svc.execute(t, invocation('{}'))).coldStart, false);
});

test('process driver: memory polling kills a runaway environment', async () => {
  const key = fx.code(bashFunction('x=aaaaaaaa; while :; do x="$x$x"; done'));
  const o = await fx.svc.execute(fx.target(key, { memorySize: 128, timeout: 30 }, 'plain-oom'), invocation('{}'));
  assert.equal(o.errorType, 'Runtime.OutOfMemory');
  // Past the limit between two polls, but the REPORT says no more than the memory size, as Lambda's.
  const report = fx.sink.events.map((x) => x.e.message).find((m) => m.startsWith('REPORT') && m.includes('Runtime.OutOfMemory'));
  const used = Number(/Max Memory Used: (\d+) MB/.exec(report ?? '')?.[1]);
  assert.ok(used > 0 && used <= 128, report);
});

test('process driver: a bootstrap the kernel cannot execute is Runtime.InvalidEntrypoint, not run by a shell', { skip: !shimExecutable() && `no exec shim for ${process.arch}` }, async () => {
  for (const [name, text, errno] of [
    ['plain-no-shebang', 'echo ran-by-a-shell\nexit 3\n', 'exec format error'],
    ['plain-crlf', '#!/bin/bash\r\necho ran-by-a-shell\n', 'no such file or directory'],
  ] as const) {
    const key = fx.code({ bootstrap: { text, mode: 0o755 } });
    const inv = invocation('{}');
    const o = await fx.svc.execute(fx.target(key, { memorySize: 256 }, name), inv);
    assert.equal(o.errorType, 'Runtime.InvalidEntrypoint', `${name}: ${o.payload.toString()}`);
    assert.equal(JSON.parse(o.payload.toString()).errorMessage, `RequestId: ${inv.requestId} Error: fork/exec ${fx.codeDir(key)}/bootstrap: ${errno}`);
    assert.doesNotMatch(o.logTail!, /ran-by-a-shell|setpriv/, name);
  }
});
