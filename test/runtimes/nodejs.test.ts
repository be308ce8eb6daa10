import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeFeatureFlags } from '../../src/environments/runtimes.js';
import { checkTaskRootPending, isRoot, startRuntime, stopAll, within, type RuntimeProc } from './harness.js';

after(stopAll);

const ECHO_CJS = `
exports.handler = async (event, context) => ({
  event,
  fields: {
    functionName: context.functionName, functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn, memoryLimitInMB: context.memoryLimitInMB,
    awsRequestId: context.awsRequestId, logGroupName: context.logGroupName, logStreamName: context.logStreamName,
    identity: context.identity, clientContext: context.clientContext,
    callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
  },
  remaining: context.getRemainingTimeInMillis(),
  trace: process.env._X_AMZN_TRACE_ID,
  cwd: process.cwd(),
  type: typeof require,
});
`;

async function node(files: Record<string, string>, handler: string, extra: Partial<Parameters<typeof startRuntime>[0]> = {}): Promise<RuntimeProc> {
  return startRuntime({ lang: 'node', files, handler, ...extra });
}

describe('nodejs runtime: loading', () => {
  test('CommonJS handler with the full context, over one kept-alive connection', async () => {
    const rt = await node({ 'index.js': ECHO_CJS }, 'index.handler');
    const deadline = Date.now() + 10_000;
    const r = await within(rt.api.invoke({ a: 1 }, {
      requestId: 'req-1', deadlineMs: deadline, traceId: 'Root=1-abc',
      clientContext: JSON.stringify({ custom: { k: 'v' } }), cognitoIdentity: JSON.stringify({ cognitoIdentityId: 'id-1' }),
    }), rt, 'invoke');
    assert.equal(r.kind, 'response');
    assert.equal(r.headers['content-type'], 'application/json');
    const b = r.json();
    assert.deepEqual(b.event, { a: 1 });
    assert.deepEqual(b.fields, {
      functionName: 'fn', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:fn',
      memoryLimitInMB: '256', awsRequestId: 'req-1', logGroupName: '/aws/lambda/fn', logStreamName: rt.env.AWS_LAMBDA_LOG_STREAM_NAME,
      identity: { cognitoIdentityId: 'id-1' }, clientContext: { custom: { k: 'v' } }, callbackWaitsForEmptyEventLoop: true,
    });
    assert.ok(b.remaining > 0 && b.remaining <= 10_000, `remaining ${b.remaining}`);
    assert.equal(b.trace, 'Root=1-abc');
    assert.equal(b.cwd, rt.taskRoot);
    assert.equal(b.type, 'function');
    for (let i = 0; i < 3; i++) {
      const again = await within(rt.api.invoke({ i }), rt, 'invoke again');
      assert.deepEqual(again.json().event, { i });
    }
    assert.equal(rt.api.connections, 1, 'one kept-alive connection');
    await rt.stop();
  });

  test('the context follows the function\'s changes to its variables, as Lambda reads them at every invocation', async () => {
    const index = `exports.handler = async (e, ctx) => {
  const seen = [ctx.functionName, ctx.logStreamName];
  if (e.set) process.env.AWS_LAMBDA_FUNCTION_NAME = e.set;
  if (e.del) delete process.env.AWS_LAMBDA_LOG_STREAM_NAME;
  if (e.define) Object.defineProperty(process.env, 'AWS_LAMBDA_FUNCTION_NAME', { value: e.define, writable: true, enumerable: true, configurable: true });
  if (e.replace) process.env = { ...process.env, AWS_LAMBDA_FUNCTION_NAME: e.replace };
  return seen;
};`;
    const rt = await node({ 'index.js': index }, 'index.handler');
    const seen = async (event: object) => (await within(rt.api.invoke(event), rt, 'invoke')).json();
    const stream = rt.env.AWS_LAMBDA_LOG_STREAM_NAME;
    assert.deepEqual(await seen({ set: 'renamed' }), ['fn', stream]);
    assert.deepEqual(await seen({ del: true }), ['renamed', stream]);
    assert.deepEqual(await seen({ define: 'defined' }), ['renamed', null]);
    assert.deepEqual(await seen({ replace: 'replaced' }), ['defined', null]);
    assert.deepEqual(await seen({}), ['replaced', null]);
    await rt.stop();
  });

  test('the Runtime API over the descriptor the boot environment names (_STRATUS_API_FD), not TCP', async () => {
    // AWS_LAMBDA_RUNTIME_API names a closed port: any TCP connection would fail the invocations.
    // A child process the function starts does not get the descriptor.
    const index = `const { execSync } = require('node:child_process');
exports.handler = async (e) => ({
  got: e, api: process.env.AWS_LAMBDA_RUNTIME_API,
  childHas11: execSync('ls /proc/self/fd').toString().split(/\\s+/).includes('11'),
});`;
    const rt = await startRuntime({ lang: 'node', files: { 'index.js': index }, handler: 'index.handler', channelFd: 11 });
    for (let i = 0; i < 3; i++) {
      const r = await within(rt.api.invoke({ i }), rt, 'invoke over the channel');
      assert.deepEqual(r.json(), { got: { i }, api: rt.env.AWS_LAMBDA_RUNTIME_API, childHas11: false });
    }
    assert.equal(rt.api.connections, 1, 'the channel only');
    await rt.stop();
  });

  test('ES module (.mjs), "type": "module" .js, .cjs and a nested handler path', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ 'app.mjs': 'export const handler = async (e) => ({ kind: "mjs", e, meta: typeof import.meta.url });' }, 'app.handler'],
      [{ 'package.json': '{"type":"module"}', 'app.js': 'export async function handler(e) { return { kind: "esm-js", e, req: typeof require }; }' }, 'app.handler'],
      [{ 'app.cjs': 'module.exports.handler = async (e) => ({ kind: "cjs", e });' }, 'app.handler'],
      [{ 'src/lib/app.js': 'module.exports = { handlers: { main: async (e) => ({ kind: "nested", e }) } };' }, 'src/lib/app.handlers.main'],
    ];
    const expected = [{ kind: 'mjs', e: 1, meta: 'string' }, { kind: 'esm-js', e: 1, req: 'undefined' }, { kind: 'cjs', e: 1 }, { kind: 'nested', e: 1 }];
    for (let i = 0; i < cases.length; i++) {
      const [files, handler] = cases[i]!;
      const rt = await node(files, handler);
      const r = await within(rt.api.invoke(1), rt, handler);
      assert.equal(r.kind, 'response', r.body.toString());
      assert.deepEqual(r.json(), expected[i]);
      await rt.stop();
    }
  });

  test('a CommonJS handler import()s an ES module package of its layers (NODE_PATH), at init or in a module required later', async (t) => {
    const opt = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-opt-'));
    t.after(() => fs.rmSync(opt, { recursive: true, force: true }));
    const pkg = path.join(opt, 'nodejs', 'node_modules', 'esmpkg');
    fs.mkdirSync(pkg, { recursive: true });
    fs.writeFileSync(path.join(pkg, 'package.json'), '{"name":"esmpkg","type":"module","exports":"./index.js"}');
    fs.writeFileSync(path.join(pkg, 'index.js'), 'export default "esm from a layer";\n');
    fs.chmodSync(opt, 0o755);
    const env = { NODE_PATH: `${path.join(opt, 'nodejs', 'node_modules')}:/var/runtime/node_modules:/var/runtime` };
    const cases: [Record<string, string>, string][] = [
      [{ 'index.js': 'const p = import("esmpkg");\nexports.handler = async () => (await p).default;\n' }, 'index.handler'],
      [{ 'index.js': 'exports.handler = async () => require("./later.js")();\n', 'later.js': 'module.exports = async () => (await import("esmpkg")).default;\n' }, 'index.handler'],
    ];
    for (const [files, handler] of cases) {
      const rt = await node(files, handler, { env });
      const r = await within(rt.api.invoke({}), rt, Object.keys(files).join(' '));
      assert.equal(r.kind, 'response', r.body.toString());
      assert.equal(r.json(), 'esm from a layer');
      await rt.stop();
    }
  });

  test('nodejs24.x: callback handlers are refused at init; the context has no callback-era members', async () => {
    const env = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x' };
    const cb = await node({ 'index.js': 'exports.handler = (e, c, callback) => callback(null, 1);' }, 'index.handler', { env });
    const e = await within(cb.api.initError(), cb, 'init error');
    assert.equal(e.json().errorType, 'Runtime.CallbackHandlerDeprecated');
    assert.match(e.json().errorMessage, /^ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node\.js 24\. /);
    assert.equal((await within(cb.exited, cb, 'exit')).code, 129);
    await cb.stop();

    const files = {
      'index.mjs': 'export const handler = async (e, ctx) => ({ keys: Object.keys(ctx).sort(), xray: ctx.xRayTraceId, arn: ctx.invokedFunctionArn });\n' +
        // A streaming handler takes three parameters by design: still allowed.
        'export const streamer = awslambda.streamifyResponse(async (e, stream, ctx) => { stream.end("ok"); });\n',
    };
    const rt = await node(files, 'index.handler', { env });
    const r = (await within(rt.api.invoke({}, { traceId: 'Root=1-24' }), rt, 'invoke')).json();
    for (const k of ['callbackWaitsForEmptyEventLoop', 'succeed', 'fail', 'done']) assert.ok(!r.keys.includes(k), `${k} in ${r.keys}`);
    assert.equal(r.xray, 'Root=1-24');
    assert.ok(r.keys.includes('getRemainingTimeInMillis'));
    await rt.stop();
    const streaming = await node(files, 'index.streamer', { env });
    assert.notEqual((await within(streaming.api.invoke({}), streaming, 'stream')).kind, 'error');
    await streaming.stop();

    // nodejs22.x keeps the callback model, and warns at init about a callback handler.
    const old = await node({ 'index.js': 'exports.handler = (e, c, callback) => callback(null, Object.keys(c).includes("callbackWaitsForEmptyEventLoop"));' }, 'index.handler', { env: { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' } });
    assert.equal((await within(old.api.invoke({}), old, 'nodejs22.x')).json(), true);
    await old.waitLine((l) => /\tundefined\tWARN\tAWS Lambda plans to remove support for callback-based function handlers starting with Node\.js 24\./.test(l), 'callback warning');
    await old.stop();
    const quiet = await node({ 'index.js': 'exports.handler = (e, c, callback) => callback(null, 1);' }, 'index.handler', { env: { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING: '1' } });
    assert.equal((await within(quiet.api.invoke({}), quiet, 'quiet')).json(), 1);
    assert.ok(!quiet.lines.some((l) => l.includes('plans to remove support')), quiet.lines.join('\n'));
    await quiet.stop();
  });

  test('nodejs24.x: a default export\'s handler is found, functions are not walked into; records outside an invocation show the request id as -', async () => {
    const env = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x' };
    const files = {
      'index.mjs': 'console.log("at init");\nexport default { handler: async (e) => ({ from: "default", e }) };\n',
      'app.js': 'exports.app = function () {};\nexports.app.handler = async () => 1;\n',
    };
    const rt = await node(files, 'index.handler', { env });
    assert.deepEqual((await within(rt.api.invoke(1), rt, 'default export')).json(), { from: 'default', e: 1 });
    await rt.waitLine((l) => /^\S+\t-\tINFO\tat init$/.test(l), 'init record with -');
    await rt.stop();
    const json = await node(files, 'index.handler', { env: { ...env, AWS_LAMBDA_LOG_FORMAT: 'JSON' } });
    await within(json.api.invoke(1), json, 'json');
    assert.equal(JSON.parse(json.lines.find((l) => l.includes('"at init"'))!).requestId, '-');
    await json.stop();
    const nested = await node(files, 'app.app.handler', { env });
    const e = await within(nested.api.initError(), nested, 'not walked into');
    assert.deepEqual([e.json().errorType, e.json().errorMessage], ['Runtime.HandlerNotFound', 'app.app.handler is undefined or not exported']);
    await nested.stop();
    // Before Node.js 24: a function's properties are walked into, the request id is undefined at init.
    const old = await node(files, 'app.app.handler', { env: { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' } });
    assert.equal((await within(old.api.invoke({}), old, 'walked into')).json(), 1);
    await old.stop();
  });

  test('nodejs24.x: the awaited return value is the result, a plain one too; errors are formatted as its runtime client does', async () => {
    const env = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x' };
    const rt = await node({
      'index.js': `
exports.handler = (event) => {
  switch (event.how) {
    case 'sync': setTimeout(() => {}, 2000); return { sync: 42 };
    case 'reject-undefined': return Promise.reject();
    case 'reject-null': return Promise.reject(null);
    case 'circular': { const o = {}; o.o = o; return o; }
    case 'error-like': throw { name: 'Fake', message: 'not an Error', stack: 'Fake: not an Error' };
    case 'throw': throw new RangeError('bad\x7Fvalue');
    case 'function': return () => 1;
    default: return Promise.resolve(event.how);
  }
};`,
    }, 'index.handler', { env });
    const t0 = Date.now();
    const sync = await within(rt.api.invoke({ how: 'sync' }), rt, 'sync');
    assert.equal(sync.kind, 'response');
    assert.deepEqual(sync.json(), { sync: 42 });
    // At once: not once the pending 2 s timer has run (the callback model's empty event loop).
    assert.ok(Date.now() - t0 < 1500, `${Date.now() - t0} ms`);
    const expect = async (how: string, errorType: string, errorMessage: string) => {
      const r = await within(rt.api.invoke({ how }), rt, how);
      assert.equal(r.kind, 'error', how);
      assert.equal(r.json().errorType, errorType, how);
      assert.equal(r.json().errorMessage, errorMessage, how);
    };
    await expect('reject-undefined', 'undefined', 'undefined');
    await expect('reject-null', 'object', 'null');
    await expect('circular', 'Runtime.JSONStringifyError', 'Unable to stringify response body');
    await expect('error-like', 'object', '[object Object]');
    await expect('throw', 'RangeError', 'bad%7Fvalue');
    assert.equal((await within(rt.api.invoke({ how: 'plain' }), rt, 'plain')).json(), 'plain');
    // What JSON has no text for: Lambda's native client refuses the undefined body (rapid-client.cc, Done).
    await expect('function', 'TypeError', 'Wrong arguments');
    await rt.stop();
    const old = await node({ 'index.js': 'exports.handler = async () => Symbol("s");' }, 'index.handler');
    const sym = await within(old.api.invoke({}), old, 'symbol');
    assert.deepEqual([sym.kind, sym.json().errorType, sym.json().errorMessage], ['error', 'TypeError', 'Wrong arguments']);
    await old.stop();

    // A streaming handler: its stream's end ends the invocation, whatever the event loop still
    // holds (there is no callbackWaitsForEmptyEventLoop to turn off); its errors as above.
    const streaming = await node({
      'index.mjs': `setInterval(() => {}, 1000);
export const handler = awslambda.streamifyResponse(async (event, stream) => {
  if (event.reject) return Promise.reject();
  stream.write('hi ' + event.n);
  stream.end();
});`,
    }, 'index.handler', { env });
    for (let n = 0; n < 3; n++) {
      const r = await within(streaming.api.invoke({ n }), streaming, `stream ${n}`);
      assert.equal(r.body.toString(), `hi ${n}`);
    }
    const rejected = await within(streaming.api.invoke({ reject: true }), streaming, 'stream rejected');
    assert.equal(rejected.trailers['lambda-runtime-function-error-type'], 'undefined');
    await streaming.stop();
    // A non-async streaming handler: an Error of the runtime's (a string before Node.js 24).
    for (const [version, errorType] of [['nodejs24.x', 'Error'], ['nodejs22.x', 'string']] as const) {
      const sync = await node({ 'index.mjs': 'export const handler = awslambda.streamifyResponse((event, stream) => { stream.end("sync"); });\n' },
        'index.handler', { env: { AWS_EXECUTION_ENV: `AWS_Lambda_${version}` } });
      const r = await within(sync.api.invoke({}), sync, `non-async ${version}`);
      assert.equal(r.trailers['lambda-runtime-function-error-type'], errorType, version);
      await sync.stop();
    }

    // Init failures are logged as "Init Error" by this runtime client, with the invoke store's placeholder request id.
    const init = await node({ 'index.js': 'throw new TypeError("init failed");' }, 'index.handler', { env });
    assert.equal((await within(init.api.initError(), init, 'init error')).json().errorType, 'TypeError');
    await within(init.exited, init, 'exit');
    assert.ok(init.lines.some((l) => l.includes('\t-\tERROR\tInit Error \t{"errorType":"TypeError"')), init.lines.join('\n'));
    await init.stop();
  });

  test('init errors: ImportModuleError, HandlerNotFound, UserCodeSyntaxError, MalformedHandlerName', async () => {
    const cases: { files: Record<string, string>; handler: string; type: string; message: RegExp }[] = [
      { files: { 'index.js': '' }, handler: 'nope.handler', type: 'Runtime.ImportModuleError', message: /^Error: Cannot find module 'nope'\nRequire stack:\n- / },
      { files: { 'index.js': 'require("not-installed-pkg");' }, handler: 'index.handler', type: 'Runtime.ImportModuleError', message: /^Error: Cannot find module 'not-installed-pkg'/ },
      { files: { 'index.mjs': 'import x from "not-installed-pkg"; export const handler = x;' }, handler: 'index.handler', type: 'Error', message: /^Cannot find package 'not-installed-pkg' imported from \/\S+\/index\.mjs$/ },
      { files: { 'index.js': 'exports.handler = async () => 1;' }, handler: 'index.nope', type: 'Runtime.HandlerNotFound', message: /^index\.nope is undefined or not exported$/ },
      { files: { 'index.js': 'exports.notfn = 42;' }, handler: 'index.notfn', type: 'Runtime.HandlerNotFound', message: /^index\.notfn is not a function$/ },
      { files: { 'index.js': 'exports.handler = async () => {;' }, handler: 'index.handler', type: 'Runtime.UserCodeSyntaxError', message: /^SyntaxError: / },
      { files: { 'index.js': '' }, handler: 'index', type: 'Runtime.MalformedHandlerName', message: /^Bad handler$/ },
      { files: { 'index.js': '' }, handler: '../index.handler', type: 'Runtime.MalformedHandlerName', message: /^'\.\.\/index\.handler' is not a valid handler name\. Use absolute paths/ },
      { files: { 'index.js': 'throw new TypeError("init failed");' }, handler: 'index.handler', type: 'TypeError', message: /^init failed$/ },
    ];
    for (const c of cases) {
      const rt = await node(c.files, c.handler);
      const e = await within(rt.api.initError(), rt, `init error for ${c.handler}`);
      const body = e.json();
      assert.equal(body.errorType, c.type, JSON.stringify(body));
      assert.match(body.errorMessage, c.message);
      assert.ok(Array.isArray(body.trace));
      assert.equal(e.headers['lambda-runtime-function-error-type'], c.type);
      const ex = await within(rt.exited, rt, 'exit');
      assert.equal(ex.code, 129);
      assert.equal(rt.api.nextCount, 0);
      assert.ok(rt.lines.some((l) => l.includes('\tundefined\tERROR\tUncaught Exception \t{"errorType":"' + c.type + '"')), rt.lines.join('\n'));
      await rt.stop();
    }
  });

  test('Node.js features Lambda turns off, per runtime name: require() of an ES module, ES module syntax detection; NODE_OPTIONS turns one back on', async () => {
    const files = {
      'index.js': 'export const handler = async () => "esm syntax";\n',
      'req.js': 'const lib = require("./lib.mjs");\nexports.handler = async () => lib.x;\n',
      'lib.mjs': 'export const x = "required";\n',
      'imp.mjs': 'const { y } = await import("./plain.js");\nexport const handler = async () => y;\n',
      'plain.js': 'export const y = "detected";\n',
    };
    const syntax = { type: 'Runtime.UserCodeSyntaxError', message: /^SyntaxError: Unexpected token 'export'$/ };
    const requireEsm = { type: 'Error', message: /^require\(\) of ES Module \S+\/lib\.mjs from \S+\/req\.js not supported\./ };
    // What each handler gives: its result, or its init error. Lambda turns require(esm) off on
    // nodejs20.x and nodejs22.x, syntax detection on nodejs22.x; Node.js 18 has neither.
    const cases: { runtime: string; nodeOptions?: string; handler: string; want: string | { type: string; message: RegExp } }[] = [
      ...['nodejs18.x', 'nodejs20.x', 'nodejs22.x'].flatMap((runtime) => [
        { runtime, handler: 'index.handler', want: syntax },
        { runtime, handler: 'req.handler', want: requireEsm },
      ]),
      { runtime: 'nodejs18.x', handler: 'imp.handler', want: syntax },
      { runtime: 'nodejs20.x', handler: 'imp.handler', want: 'detected' },
      { runtime: 'nodejs22.x', handler: 'imp.handler', want: syntax },
      { runtime: 'nodejs24.x', handler: 'index.handler', want: 'esm syntax' },
      { runtime: 'nodejs24.x', handler: 'req.handler', want: 'required' },
      { runtime: 'nodejs24.x', handler: 'imp.handler', want: 'detected' },
      { runtime: 'nodejs22.x', nodeOptions: '--experimental-require-module', handler: 'req.handler', want: 'required' },
      { runtime: 'nodejs22.x', nodeOptions: '--max-old-space-size=100 --experimental-detect-module', handler: 'imp.handler', want: 'detected' },
    ];
    for (const c of cases) {
      const what = `${c.runtime} ${c.nodeOptions ?? ''} ${c.handler}`;
      const rt = await node(files, c.handler, { env: { AWS_EXECUTION_ENV: `AWS_Lambda_${c.runtime}`, ...(c.nodeOptions ? { NODE_OPTIONS: c.nodeOptions } : {}) } });
      if (typeof c.want === 'string') {
        const r = await within(rt.api.invoke({}), rt, what);
        assert.equal(r.kind, 'response', `${what}: ${r.body.toString()}`);
        assert.equal(r.json(), c.want, what);
      } else {
        const body = (await within(rt.api.initError(), rt, what)).json();
        assert.equal(body.errorType, c.want.type, `${what}: ${JSON.stringify(body)}`);
        assert.match(body.errorMessage, c.want.message, what);
      }
      await rt.stop();
    }
  });

  test('a Node.js feature Lambda turns off is left alone where this host\'s node does not know its option (node would not start)', () => {
    assert.deepEqual(nodeFeatureFlags('nodejs22.x'), ['--no-experimental-require-module', '--no-experimental-detect-module']);
    const known = Object.getOwnPropertyDescriptor(process, 'allowedNodeEnvironmentFlags')!;
    Object.defineProperty(process, 'allowedNodeEnvironmentFlags', { value: new Set(['--no-experimental-detect-module']), configurable: true });
    try {
      assert.deepEqual(nodeFeatureFlags('nodejs22.x'), ['--no-experimental-detect-module']);
      assert.deepEqual(nodeFeatureFlags('nodejs20.x'), []);
    } finally {
      Object.defineProperty(process, 'allowedNodeEnvironmentFlags', known);
    }
  });
});

describe('nodejs runtime: programming model', () => {
  test('callbacks: callbackWaitsForEmptyEventLoop true waits for pending timers, false does not', async () => {
    const rt = await node({
      'index.js': `
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  const r = { n: 1 };
  setTimeout(() => { r.n = 2; }, 50);
  callback(null, r);
};`,
    }, 'index.handler');
    assert.deepEqual((await within(rt.api.invoke({ wait: true }), rt, 'wait')).json(), { n: 2 });
    assert.deepEqual((await within(rt.api.invoke({ wait: false }), rt, 'no wait')).json(), { n: 1 });
    await rt.stop();
  });

  test('legacy context.succeed / done / fail, callback(err), and sync handlers', async () => {
    const rt = await node({
      'index.js': `
exports.handler = (event, context, callback) => {
  switch (event.how) {
    case 'succeed': return context.succeed({ ok: 1 });
    case 'done': return context.done(null, 'done!');
    case 'fail': return context.fail(new RangeError('failed'));
    case 'cberr': return callback(new TypeError('cb error'));
    case 'twice': callback(null, 'first'); callback(null, 'second'); return;
  }
};`,
      'sync.js': 'exports.handler = (event) => { return "ignored: not async, no callback"; };',
    }, 'index.handler');
    assert.deepEqual((await within(rt.api.invoke({ how: 'succeed' }), rt, 'succeed')).json(), { ok: 1 });
    assert.equal((await within(rt.api.invoke({ how: 'done' }), rt, 'done')).json(), 'done!');
    const f = await within(rt.api.invoke({ how: 'fail' }), rt, 'fail');
    assert.equal(f.kind, 'error');
    assert.equal(f.json().errorType, 'RangeError');
    const c = await within(rt.api.invoke({ how: 'cberr' }), rt, 'cberr');
    assert.equal(c.json().errorType, 'TypeError');
    assert.equal(c.json().errorMessage, 'cb error');
    assert.equal((await within(rt.api.invoke({ how: 'twice' }), rt, 'twice')).json(), 'first');
    await rt.stop();
    const s = await node({ 'sync.js': 'exports.handler = (event) => "not async, no callback";' }, 'sync.handler');
    const r = await within(s.api.invoke({}), s, 'sync');
    assert.equal(r.kind, 'response');
    assert.equal(r.body.toString(), 'null');
    await s.stop();
  });

  test('async handler that never settles: Runtime.NodeJsExit; unserializable result', async () => {
    const rt = await node({
      'index.js': `
exports.handler = async (event) => {
  if (event.never) return new Promise(() => {});
  const o = {}; o.self = o; return o;
};`,
    }, 'index.handler');
    const n = await within(rt.api.invoke({ never: true }), rt, 'never');
    assert.equal(n.kind, 'error');
    assert.equal(n.json().errorType, 'Runtime.NodeJsExit');
    const c = await within(rt.api.invoke({}), rt, 'circular');
    assert.equal(c.kind, 'error');
    assert.equal(c.json().errorMessage, 'Unable to stringify response body');
    await rt.stop();
  });

  test('error shapes: Error, custom error, thrown string; header and Invoke Error log line', async () => {
    const rt = await node({
      'index.mjs': `
class MyError extends Error { constructor(m) { super(m); this.name = 'MyError'; } }
export const handler = async (event) => {
  if (event.t === 'error') throw new Error('boom');
  if (event.t === 'custom') throw new MyError('mine');
  throw 'just a string';
};`,
    }, 'index.handler');
    const e = await within(rt.api.invoke({ t: 'error' }, { requestId: 'err-1' }), rt, 'error');
    assert.equal(e.kind, 'error');
    assert.equal(e.headers['lambda-runtime-function-error-type'], 'Error');
    const b = e.json();
    assert.deepEqual(Object.keys(b), ['errorType', 'errorMessage', 'trace']);
    assert.equal(b.errorType, 'Error');
    assert.equal(b.errorMessage, 'boom');
    assert.equal(b.trace[0], 'Error: boom');
    assert.match(b.trace[1], /^ {4}at /);
    const line = await rt.waitLine((l) => l.includes('\terr-1\tERROR\tInvoke Error \t'), 'Invoke Error line');
    const logged = JSON.parse(line.split('Invoke Error \t')[1]!);
    assert.equal(logged.errorType, 'Error');
    assert.equal(logged.errorMessage, 'boom');
    assert.ok(Array.isArray(logged.stack));
    const c = await within(rt.api.invoke({ t: 'custom' }), rt, 'custom');
    assert.equal(c.json().errorType, 'MyError');
    assert.equal(c.headers['lambda-runtime-function-error-type'], 'MyError');
    const s = await within(rt.api.invoke({ t: 'string' }), rt, 'string');
    assert.deepEqual(s.json(), { errorType: 'string', errorMessage: 'just a string', trace: [] });
    await rt.stop();
  });

  test('DEL characters in an error are escaped, as Lambda\'s client does since 3.1', async () => {
    const rt = await node({ 'index.js': "exports.handler = async () => { const e = new Error('bad\\x7Fvalue'); e.name = 'My\\x7FErr'; throw e; };\n" }, 'index.handler');
    const r = (await within(rt.api.invoke({}), rt, 'del')).json();
    assert.deepEqual([r.errorType, r.errorMessage], ['My%7FErr', 'bad%7Fvalue']);
    assert.ok(r.trace.every((l: string) => !l.includes('\x7F')));
    await rt.stop();
  });

  test('a promise the handler did not await, rejecting as it returns: its result stands, the rejection is logged within it, the runtime exits before it asks for more', async () => {
    const rt = await node({ 'index.js': "exports.handler = async (e) => { (async () => { throw new Error('HelloError'); })(); return 'hi ' + e; };\n" }, 'index.handler');
    const r = await within(rt.api.invoke('there', { requestId: 'unawaited-1' }), rt, 'unawaited');
    assert.equal(r.kind, 'response');
    assert.equal(r.json(), 'hi there');
    assert.equal((await within(rt.exited, rt, 'exit')).code, 128);
    assert.ok(rt.lines.some((l) => l.includes('\tunawaited-1\tERROR\tUnhandled Promise Rejection \t{"errorType":"Runtime.UnhandledPromiseRejection","errorMessage":"Error: HelloError"')), rt.lines.join('\n'));
    assert.equal(rt.api.nextCount, 1, 'the one /next that took the invocation, none after it');
    await rt.stop();
  });

  test('unhandled rejection and uncaught exception: reported for the invocation, then exit (logs flushed)', async () => {
    const files = {
      'index.js': `
exports.handler = async (event) => {
  for (let i = 0; i < 200; i++) console.log('line', i, 'x'.repeat(200));
  if (event.t === 'rejection') { Promise.reject(new Error('later')); }
  else { setTimeout(() => { throw new SyntaxError('thrown in timer'); }, 1); }
  return new Promise(() => {});
};`,
    };
    const rej = await node(files, 'index.handler');
    const r = await within(rej.api.invoke({ t: 'rejection' }, { requestId: 'rej-1' }), rej, 'rejection');
    assert.equal(r.kind, 'error');
    assert.equal(r.json().errorType, 'Runtime.UnhandledPromiseRejection');
    assert.equal(r.json().errorMessage, 'Error: later');
    assert.equal((await within(rej.exited, rej, 'exit')).code, 128);
    assert.ok(rej.lines.some((l) => l.includes('\trej-1\tERROR\tUnhandled Promise Rejection \t{"errorType":"Runtime.UnhandledPromiseRejection"')));
    assert.equal(rej.lines.filter((l) => l.includes('\tINFO\tline ')).length, 200);
    await rej.stop();

    const unc = await node(files, 'index.handler');
    const u = await within(unc.api.invoke({ t: 'throw' }), unc, 'uncaught');
    assert.equal(u.json().errorType, 'SyntaxError');
    assert.equal(u.json().errorMessage, 'thrown in timer');
    assert.equal((await within(unc.exited, unc, 'exit')).code, 129);
    assert.ok(unc.lines.some((l) => l.includes('\tERROR\tUncaught Exception \t{"errorType":"SyntaxError"')));
    await unc.stop();
  });

  test('console: Lambda text records, util.format, levels, one line per record, init-time request id', async () => {
    const rt = await node({
      'index.js': `
console.log('at init');
exports.handler = async () => {
  console.log('hello %s', 'world', { a: 1 });
  console.info('info'); console.warn('warn'); console.error('multi\\nline'); console.debug('debug'); console.trace('trace');
  return 'ok';
};`,
    }, 'index.handler');
    await within(rt.api.invoke({}, { requestId: 'log-1' }), rt, 'invoke');
    await rt.waitLine((l) => l.endsWith('\tlog-1\tTRACE\ttrace'), 'last record');
    const rec = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t([^\t]*)\t([A-Z]+)\t(.*)$/s;
    const init = rt.lines.find((l) => l.endsWith('at init'))!;
    assert.match(init, rec);
    assert.equal(rec.exec(init)![2], 'undefined');
    const got = rt.lines.filter((l) => l.includes('\tlog-1\t')).map((l) => {
      const m = rec.exec(l);
      assert.ok(m, l);
      assert.ok(Math.abs(Date.parse(m[1]!) - Date.now()) < 60_000);
      return [m[3], m[4]];
    });
    assert.deepEqual(got, [
      ['INFO', "hello world { a: 1 }"], ['INFO', 'info'], ['WARN', 'warn'], ['ERROR', 'multi\rline'], ['DEBUG', 'debug'], ['TRACE', 'trace'],
    ]);
    await rt.stop();
  });
  test('console: AWS_LAMBDA_LOG_FORMAT=JSON records and AWS_LAMBDA_LOG_LEVEL filtering', async () => {
    const rt = await node({
      'index.js': 'exports.handler = async () => { console.debug("hidden"); console.info("shown %d", 1); console.error(new Error("bad")); return 1; };',
    }, 'index.handler', { env: { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'INFO' } });
    await within(rt.api.invoke({}, { requestId: 'json-1' }), rt, 'invoke');
    const err = JSON.parse(await rt.waitLine((l) => l.includes('"level":"ERROR"'), 'error record'));
    assert.equal(err.requestId, 'json-1');
    assert.equal(err.message.errorMessage, 'bad');
    const info = JSON.parse(rt.lines.find((l) => l.includes('"level":"INFO"'))!);
    assert.deepEqual(Object.keys(info), ['timestamp', 'level', 'requestId', 'message']);
    assert.equal(info.message, 'shown 1');
    assert.ok(!rt.lines.some((l) => l.includes('hidden')));
    await rt.stop();
  });

  test('console: with AWS_LAMBDA_LOG_FORMAT=JSON the runtime\'s own Invoke Error record carries the error as an object', async () => {
    const rt = await node({ 'index.js': 'exports.handler = async () => { throw new TypeError("boom"); };' }, 'index.handler', { env: { AWS_LAMBDA_LOG_FORMAT: 'JSON' } });
    const r = await within(rt.api.invoke({}, { requestId: 'json-err' }), rt, 'invoke');
    assert.equal(r.kind, 'error');
    const rec = JSON.parse(await rt.waitLine((l) => l.includes('"level":"ERROR"') && l.includes('boom'), 'Invoke Error record'));
    assert.equal(rec.requestId, 'json-err');
    assert.equal(rec.message.errorType, 'TypeError');
    assert.equal(rec.message.errorMessage, 'boom');
    assert.ok(Array.isArray(rec.message.stackTrace));
    await rt.stop();
  });
});

describe('nodejs runtime: response streaming', () => {
  test('chunks arrive separately, with content type and streaming mode header', async () => {
    const rt = await node({
      'index.mjs': `
import http from 'node:http';
const arrived = (id, n) => new Promise((res, rej) => http.get('http://' + process.env.AWS_LAMBDA_RUNTIME_API + '/test/chunks?id=' + id + '&n=' + n, (r) => { r.resume(); r.on('end', res); }).on('error', rej));
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  responseStream.write('first;');
  await arrived(context.awsRequestId, 1);
  responseStream.write('second;');
  await arrived(context.awsRequestId, 2);
  responseStream.end('third');
});`,
    }, 'index.handler');
    const r = await within(rt.api.invoke({}), rt, 'stream');
    assert.equal(r.kind, 'response');
    assert.equal(r.headers['lambda-runtime-function-response-mode'], 'streaming');
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.headers['content-type'], 'text/plain');
    assert.equal(r.body.toString(), 'first;second;third');
    assert.ok(r.chunks.length >= 3, `chunks: ${r.chunks.length}`);
    assert.equal(r.chunks[0]!.toString(), 'first;');
    assert.equal(r.trailers['lambda-runtime-function-error-type'], undefined);
    // and the runtime moves on to the next invocation
    const again = await within(rt.api.invoke({}), rt, 'stream again');
    assert.equal(again.body.toString(), 'first;second;third');
    await rt.stop();
  });

  test('HttpResponseStream prelude, default content type, errors as trailers', async () => {
    const rt = await node({
      'index.js': `
const { pipeline } = require('node:stream/promises');
const { Readable } = require('node:stream');
exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  if (event.t === 'http') {
    stream = awslambda.HttpResponseStream.from(stream, { statusCode: 201, headers: { 'x-a': 'b' } });
    await pipeline(Readable.from(['hello ', 'world']), stream);
  } else if (event.t === 'plain') {
    stream.write(Buffer.from([1, 2, 3]));
    stream.end();
  } else {
    stream.write('partial');
    throw new TypeError('mid-stream');
  }
});`,
    }, 'index.handler');
    const h = await within(rt.api.invoke({ t: 'http' }), rt, 'http');
    assert.equal(h.headers['content-type'], 'application/vnd.awslambda.http-integration-response');
    const prelude = JSON.stringify({ statusCode: 201, headers: { 'x-a': 'b' } });
    assert.deepEqual(h.body, Buffer.concat([Buffer.from(prelude), Buffer.alloc(8), Buffer.from('hello world')]));
    const p = await within(rt.api.invoke({ t: 'plain' }), rt, 'plain');
    assert.equal(p.headers['content-type'], 'application/octet-stream');
    assert.deepEqual(p.body, Buffer.from([1, 2, 3]));
    const e = await within(rt.api.invoke({ t: 'error' }), rt, 'error');
    assert.equal(e.body.toString(), 'partial');
    assert.equal(e.trailers['lambda-runtime-function-error-type'], 'TypeError');
    const body = JSON.parse(Buffer.from(e.trailers['lambda-runtime-function-error-body']!, 'base64').toString());
    assert.equal(body.errorType, 'TypeError');
    assert.equal(body.errorMessage, 'mid-stream');
    await rt.stop();
  });

  test('responseStream.destroy(err) without an error listener fails the invocation as a handler throwing mid-stream does; the runtime stays', async () => {
    const rt = await node({
      'index.js': `
const { pipeline } = require('node:stream/promises');
const { Readable } = require('node:stream');
exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  if (event.t === 'pipe') {
    // pipeline destroys the stream with its source's error, and rejects with it.
    await pipeline(Readable.from((async function* () { yield 'partial'; throw new TypeError('piped mid-stream'); })()), stream);
  }
  if (event.t === 'destroy') {
    stream.write('partial');
    stream.destroy(new TypeError('destroyed mid-stream'));
    await new Promise((r) => setTimeout(r, 20));
    return;
  }
  if (event.t === 'throw') {
    stream.write('partial');
    throw new TypeError('thrown mid-stream');
  }
  stream.end(String(process.pid));
});`,
    }, 'index.handler');
    const pid = (await within(rt.api.invoke({}), rt, 'first')).body.toString();
    for (const [t, message] of [['destroy', 'destroyed mid-stream'], ['throw', 'thrown mid-stream'], ['pipe', 'piped mid-stream']] as const) {
      const e = await within(rt.api.invoke({ t }, { requestId: `req-${t}` }), rt, t);
      assert.equal(e.headers['lambda-runtime-function-response-mode'], 'streaming');
      assert.equal(e.body.toString(), 'partial', t);
      assert.equal(e.trailers['lambda-runtime-function-error-type'], 'TypeError', t);
      const body = JSON.parse(Buffer.from(e.trailers['lambda-runtime-function-error-body']!, 'base64').toString());
      assert.equal(body.errorType, 'TypeError');
      assert.equal(body.errorMessage, message);
      const line = await rt.waitLine((l) => l.includes(`\treq-${t}\tERROR\tInvoke Error \t`), `${t}: Invoke Error line`);
      assert.equal(JSON.parse(line.split('Invoke Error \t')[1]!).errorMessage, message);
      // The same process serves the next invocation.
      const next = await within(rt.api.invoke({}), rt, `after ${t}`);
      assert.equal(next.body.toString(), pid, `after ${t}: ${rt.stderr()}`);
    }
    assert.equal(rt.lines.filter((l) => l.includes('\tInvoke Error \t')).length, 3, 'one record each');
    assert.ok(!rt.lines.some((l) => l.includes('Uncaught Exception')), rt.lines.join('\n'));
    assert.equal(rt.child.exitCode, null);
    await rt.stop();
  });
});

describe('nodejs runtime: start-up protocol', () => {
  test('the environment is replaced entirely by the assignment', async () => {
    const rt = await node({ 'index.js': 'exports.handler = async () => ({ ...process.env });' }, 'index.handler', { env: { MY_VAR: 'mine' } });
    const env = (await within(rt.api.invoke({}, { traceId: 'Root=1-x' }), rt, 'env')).json();
    assert.equal(env.STRATUS_BOOT_SECRET, undefined);
    assert.deepEqual(env, { ...rt.env, _X_AMZN_TRACE_ID: 'Root=1-x' });
    await rt.stop();
  });

  test('as under Lambda\'s ES module entry point: require.main is undefined; a top-level await that never settles ends init with exit 13', async () => {
    const rt = await node({ 'index.js': 'exports.handler = async () => ({ main: require.main === undefined ? "undefined" : typeof require.main });' }, 'index.handler');
    assert.deepEqual((await within(rt.api.invoke({}), rt, 'require.main')).json(), { main: 'undefined' });
    await rt.stop();
    const hang = await node({ 'index.mjs': 'await new Promise(() => {});\nexport const handler = async () => 1;\n' }, 'index.handler');
    assert.equal((await within(hang.exited, hang, 'exit')).code, 13);
    await hang.stop();
  });

  test('_X_AMZN_TRACE_ID follows each invocation in process.env, its keys and child processes, without setenv', async () => {
    const rt = await node({
      'index.js': `
const { execFileSync } = require('node:child_process');
exports.handler = async () => ({
  read: process.env._X_AMZN_TRACE_ID ?? null,
  has: '_X_AMZN_TRACE_ID' in process.env,
  listed: Object.keys(process.env).includes('_X_AMZN_TRACE_ID'),
  json: JSON.parse(JSON.stringify(process.env))._X_AMZN_TRACE_ID ?? null,
  child: execFileSync('/bin/sh', ['-c', 'printf %s "$_X_AMZN_TRACE_ID"']).toString(),
  mine: (process.env.MINE = 42, typeof process.env.MINE),
  accessor: (() => { try { Object.defineProperty(process.env, '_X_AMZN_TRACE_ID', { get() { return 'x'; } }); return 'accepted'; } catch (e) { return e.code; } })(),
  keys: Object.keys(process.env).filter((k) => k === '_X_AMZN_TRACE_ID').length,
});`,
    }, 'index.handler');
    for (const traceId of ['Root=1-aaaa;Sampled=0', 'Root=1-bbbb;Sampled=1']) {
      const r = (await within(rt.api.invoke({}, { traceId }), rt, 'trace')).json();
      assert.deepEqual(r, { read: traceId, has: true, listed: true, json: traceId, child: traceId, mine: 'string', accessor: 'ERR_INVALID_OBJECT_DEFINE_PROPERTY', keys: 1 });
    }
    await rt.stop();
  });

  test('the context reads process.env at each invocation, and a function that replaced process.env gets the trace id on its object', async () => {
    const rt = await node({
      'index.js': `
exports.handler = async (event, context) => {
  const seen = { version: context.functionVersion, trace: process.env._X_AMZN_TRACE_ID ?? null };
  if (event.replace) process.env = { ...process.env, AWS_LAMBDA_FUNCTION_NAME: 'renamed' };
  else process.env.AWS_LAMBDA_FUNCTION_VERSION = '7';
  return { ...seen, name: context.functionName };
};`,
    }, 'index.handler');
    const call = async (event: unknown, traceId: string | null) => (await within(rt.api.invoke(event, { traceId }), rt, 'env')).json();
    assert.deepEqual(await call({}, 'Root=1-aaaa'), { version: '$LATEST', trace: 'Root=1-aaaa', name: rt.env.AWS_LAMBDA_FUNCTION_NAME });
    // The variable the last invocation set, read through the proxy; then process.env replaced.
    assert.deepEqual(await call({ replace: true }, 'Root=1-bbbb'), { version: '7', trace: 'Root=1-bbbb', name: rt.env.AWS_LAMBDA_FUNCTION_NAME });
    assert.deepEqual(await call({}, 'Root=1-cccc'), { version: '7', trace: 'Root=1-cccc', name: 'renamed' });
    assert.deepEqual(await call({}, null), { version: '7', trace: null, name: 'renamed' });
    await rt.stop();
  });

  test('privilege drop to the assigned uid/gid/groups', { skip: !isRoot && 'needs root' }, async () => {
    const rt = await node({
      'index.js': `
exports.handler = async () => {
  const status = require('fs').readFileSync('/proc/self/status', 'utf8');
  const field = (k) => status.split('\\n').find((l) => l.startsWith(k + ':')).split(':')[1].trim();
  return { uid: process.getuid(), euid: process.geteuid(), gid: process.getgid(), groups: process.getgroups(), capEff: field('CapEff'), capPrm: field('CapPrm') };
};`,
    }, 'index.handler', { uid: 65534, gid: 65534, groups: [65533] });
    const r = (await within(rt.api.invoke({}), rt, 'uid')).json();
    assert.equal(r.uid, 65534);
    assert.equal(r.euid, 65534);
    assert.equal(r.gid, 65534);
    assert.deepEqual(r.groups.filter((g: number) => g !== 65534), [65533]);
    assert.equal(r.capEff, '0000000000000000');
    assert.equal(r.capPrm, '0000000000000000');
    await rt.stop();
  });

  test('gc() is there for the function, as Lambda\'s bootstrap (node --expose-gc) provides it', async () => {
    const rt = await node({ 'index.js': 'exports.handler = async () => { gc(); return typeof globalThis.gc; };' }, 'index.handler');
    assert.equal((await within(rt.api.invoke({}), rt, 'gc')).json(), 'function');
    await rt.stop();
  });

  test('the heap sized as Lambda sizes it, with node\'s code cache still valid; the young generation stays small once tuned', async () => {
    // A pooled runtime tunes V8 before the first invocation; one started for its function (no
    // node:v8 in its cold start) shortly after its first invocation is reported.
    const files = {
      'index.js': `
const v8 = require('node:v8');
const initTag = v8.cachedDataVersionTag();
exports.handler = async (e) => {
  if (e.light) return null;
  let keep = [];
  for (let i = 0; i < 300000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 5000) keep = []; if (i % 1000 === 0) await null; }
  return { execArgv: process.execArgv, newSpaceMiB: v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576,
    heapMiB: v8.getHeapStatistics().heap_size_limit / 1048576, tag: initTag };
};`,
    };
    const plainTag = Number(spawnSync(process.execPath, ['-p', "require('node:v8').cachedDataVersionTag()"], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' }).stdout);
    for (const pooled of [true, false]) {
      const rt = await node(files, 'index.handler', pooled ? { bootEnv: { PATH: '/usr/bin:/bin', STRATUS_POOLED: '1' } } : {});
      if (!pooled) {
        await within(rt.api.invoke({ light: true }), rt, 'first invocation');
        await new Promise((r) => setTimeout(r, 300)); // the runtime tunes 50 ms after it
      }
      const r = (await within(rt.api.invoke({}), rt, 'young generation')).json();
      // Lambda's node options, V8's worker threads for the function's one vCPU (at most), and its
      // heap for the memory size (128 MB here: a tenth for the young generation, the rest old space)...
      assert.deepEqual(r.execArgv, ['--max-http-header-size=81920', '--no-experimental-require-module', '--v8-pool-size=1', '--max-semi-space-size=6', '--max-old-space-size=116']);
      assert.ok(r.heapMiB > 116 && r.heapMiB < 160, `heap limit ${r.heapMiB} MiB`);
      // ...whose V8 flags are set back as the runtime starts: node's code cache of its built-in
      // modules, checked against V8's flags, is taken by the function's init as by a node started
      // without any (the runtime's own tuning comes after the init).
      assert.equal(r.tag, plainTag, 'V8 flags as a plain node\'s');
      assert.ok(r.newSpaceMiB <= 2, `pooled ${pooled}: new space ${r.newSpaceMiB} MiB (V8's default grows it to 8 MiB and more under this churn)`);
      await rt.stop();
    }
  });

  test('reconnects when the Runtime API closes the connection', async () => {
    const rt = await node({ 'index.js': 'exports.handler = async (e) => e;' }, 'index.handler');
    rt.api.closeAfterEach = true;
    for (let i = 0; i < 3; i++) assert.equal((await within(rt.api.invoke(i), rt, `invoke ${i}`)).json(), i);
    assert.ok(rt.api.connections >= 3, `connections: ${rt.api.connections}`);
    await rt.stop();
  });

  test('boots before its assignment and waits for it', async () => {
    const rt = await node({ 'index.js': 'exports.handler = async (e) => e;' }, 'index.handler', { deferAssign: true });
    // The process is up (a pool member) and has not touched the Runtime API yet.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(rt.child.exitCode, null);
    assert.equal(rt.api.connections, 0);
    rt.assign();
    assert.equal((await within(rt.api.invoke('late'), rt, 'late')).json(), 'late');
    await rt.stop();
  });

  test('with taskRootPending, enters the task root only once told it is ready', async () => {
    await checkTaskRootPending((files, extra) => node(files, 'index.handler', extra), 'index.js', 'exports.handler = async (e) => e;');
  });
});
