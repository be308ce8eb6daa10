import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { pythonExecutable } from '../../src/environments/runtimes.js';
import { bashFunction, fixture, invocation, isRoot } from './helpers.js';

// AWS_LAMBDA_EXEC_WRAPPER (Lambda's "wrapper scripts"): the runtime is started by the function's
// executable, with the interpreter's path and the runtime's arguments as its arguments and the
// function's environment; what it changes (arguments, variables) is what the runtime and the
// function get. Supported on the language runtimes, ignored on the OS-only ones.
const WRAPPER = `#!/bin/bash
echo "wrapper: $# args, uid $(id -u), in $PWD, function $AWS_LAMBDA_FUNCTION_NAME" >&2
export WRAPPED="by $(basename "$0")"
args=("$@")
exec "\${args[0]}" EXTRA "\${args[@]:1}"
`;
const wrapperFor = (extra: string) => ({ text: WRAPPER.replace('EXTRA', extra), mode: 0o755 });

describe('wrapper scripts (AWS_LAMBDA_EXEC_WRAPPER)', { skip: !isRoot && 'the namespace driver needs root (CI runs these as root)' }, async () => {
  const fx = await fixture({ sandbox: 'namespace', prewarmPerRuntime: 1 });
  after(() => fx.stop());
  const base = { memorySize: 1769, environment: { AWS_LAMBDA_EXEC_WRAPPER: '/var/task/wrapper.sh' } };

  test('Node.js: the wrapper starts the runtime with its own arguments and variables, as the environment\'s uid, in the task root', async () => {
    const key = fx.code({
      'wrapper.sh': wrapperFor('--no-deprecation'),
      'index.js': `exports.handler = async () => ({
        wrapped: process.env.WRAPPED, execArgv: process.execArgv, noDeprecation: process.noDeprecation, uid: process.getuid(),
        wrapper: process.env.AWS_LAMBDA_EXEC_WRAPPER, fn: process.env.AWS_LAMBDA_FUNCTION_NAME,
        platform: Object.keys(process.env).filter((k) => /^_?STRATUS|^MALLOC_/.test(k)) });\n`,
    });
    const hits = fx.svc.stats().prewarm.node.hits;
    const o = await fx.svc.execute(fx.target(key, { ...base, runtime: 'nodejs20.x', handler: 'index.handler' }, 'wrapped-node'), invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    const r = JSON.parse(o.payload.toString());
    assert.equal(r.wrapped, 'by wrapper.sh');
    // Inserted before the runtime's own (Lambda's node flags: the largest header size, require(esm)
    // off for nodejs20.x, the heap for 1769 MB).
    assert.deepEqual(r.execArgv, [
      '--no-deprecation', '--max-http-header-size=81920', '--no-experimental-require-module', '--v8-pool-size=1', '--max-semi-space-size=88', '--max-old-space-size=1593',
    ]);
    assert.equal(r.noDeprecation, true);
    assert.notEqual(r.uid, 0);
    assert.equal(r.wrapper, '/var/task/wrapper.sh');
    assert.equal(r.fn, 'wrapped-node');
    assert.deepEqual(r.platform, [], 'none of the platform\'s own variables');
    // The wrapper's output is the init phase's, in the environment's log stream.
    assert.match(fx.sink.text(), new RegExp(`wrapper: 7 args, uid ${r.uid}, in /var/task, function wrapped-node\n`));
    assert.equal(fx.svc.stats().prewarm.node.hits, hits, 'never a pooled runtime');
  });

  test('Python: the same', { skip: !pythonExecutable() && 'no python3' }, async () => {
    const key = fx.code({
      'wrapper.sh': wrapperFor('-X utf8'),
      'app.py': 'import os, sys\ndef handler(e, c):\n    return {"wrapped": os.environ.get("WRAPPED"), "utf8": sys.flags.utf8_mode, "uid": os.getuid()}\n',
    });
    const o = await fx.svc.execute(fx.target(key, { ...base, runtime: 'python3.12', handler: 'app.handler' }, 'wrapped-python'), invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    const r = JSON.parse(o.payload.toString());
    assert.equal(r.wrapped, 'by wrapper.sh');
    assert.equal(r.utf8, 1);
    assert.notEqual(r.uid, 0);
  });

  test('a wrapper that is missing or not executable: Runtime.InvalidEntrypoint; one that does not start the runtime: Runtime.ExitError', async () => {
    for (const [name, files, errorType, reason, ...rest] of [
      ['wrapper-missing', { 'index.js': 'exports.handler = async () => 1;\n' }, 'Runtime.InvalidEntrypoint', 'fork/exec /var/task/wrapper.sh: no such file or directory'],
      ['wrapper-noexec', { 'wrapper.sh': { text: WRAPPER, mode: 0o644 }, 'index.js': 'exports.handler = async () => 1;\n' }, 'Runtime.InvalidEntrypoint', 'fork/exec /var/task/wrapper.sh: permission denied'],
      ['wrapper-exits', { 'wrapper.sh': { text: '#!/bin/bash\necho not today >&2\nexit 3\n', mode: 0o755 }, 'index.js': 'exports.handler = async () => 1;\n' }, 'Runtime.ExitError', 'Runtime exited with error: exit status 3'],
      // Outside the code, looked at only from inside the sandbox (as the environment's uid).
      ['wrapper-elsewhere', { 'index.js': 'exports.handler = async () => 1;\n' }, 'Runtime.InvalidEntrypoint', 'fork/exec /nonexistent/wrapper: no such file or directory', '/nonexistent/wrapper'],
    ] as const) {
      const key = fx.code(files);
      const inv = invocation('{}');
      const environment = { AWS_LAMBDA_EXEC_WRAPPER: (rest[0] as string | undefined) ?? '/var/task/wrapper.sh' };
      const o = await fx.svc.execute(fx.target(key, { ...base, environment, runtime: 'nodejs20.x', handler: 'index.handler' }, name), inv);
      assert.equal(o.errorType, errorType, name);
      assert.deepEqual(JSON.parse(o.payload.toString()), { errorType, errorMessage: `RequestId: ${inv.requestId} Error: ${reason}` }, name);
    }
  });

  test('a wrapper named in the host\'s hidden /opt is not run, nor does it bring /opt into sight', { skip: !fs.existsSync('/opt') && 'the host has no /opt' }, async () => {
    const dir = fs.mkdtempSync(path.join(fs.realpathSync('/opt'), 'stratus-wrap-'));
    try {
      fs.chmodSync(dir, 0o755);
      fs.writeFileSync(path.join(dir, 'w.sh'), WRAPPER, { mode: 0o755 });
      const shown = path.join(dir, 'w.sh');
      const key = fx.code({ 'index.js': 'exports.handler = async () => 1;\n' });
      const inv = invocation('{}');
      const o = await fx.svc.execute(fx.target(key, { ...base, environment: { AWS_LAMBDA_EXEC_WRAPPER: shown }, runtime: 'nodejs20.x', handler: 'index.handler' }, 'wrapper-host-opt'), inv);
      assert.equal(o.errorType, 'Runtime.InvalidEntrypoint', o.payload.toString());
      assert.equal(JSON.parse(o.payload.toString()).errorMessage, `RequestId: ${inv.requestId} Error: fork/exec ${shown}: no such file or directory`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an OS-only runtime ignores it: its bootstrap starts as it is', async () => {
    const key = fx.code(bashFunction('echo "\\"$AWS_LAMBDA_EXEC_WRAPPER\\""'));
    const o = await fx.svc.execute(fx.target(key, { ...base, environment: { AWS_LAMBDA_EXEC_WRAPPER: '/var/task/nothing-here' } }, 'wrapper-custom'), invocation('{}'));
    assert.equal(o.status, 'ok', o.payload.toString());
    assert.equal(JSON.parse(o.payload.toString()), '/var/task/nothing-here');
  });
});
