import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  CreateFunctionCommand, DeleteFunctionCommand, InvokeCommand, LambdaClient, PublishLayerVersionCommand, UpdateFunctionCodeCommand,
  waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';
import { clientConfig, sharedBase, sharedConfig, startServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

// Unpacked code is kept while a version or an environment uses it, and removed once neither does:
// a server whose functions are created, updated and deleted all day does not fill its disk with
// the code of functions that are gone.

const SWEEP_MS = 150;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROLE = 'arn:aws:iam::000000000000:role/r';

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await sleep(25);
  }
}

test('the unpacked code of replaced code, deleted functions and unused layer merges goes; what is in use stays', async () => {
  const server = await startServer({ codeSweepMs: SWEEP_MS });
  const lambda = new LambdaClient(clientConfig(server.endpoint));
  const codeDir = (key: string) => path.join(server.dataDir, 'code', key);
  try {
    const v1 = await makeZip({ 'index.js': "exports.handler = async () => 'one';\n" });
    const v2 = await makeZip({ 'index.js': "exports.handler = async () => 'two';\n" });
    const kept = await makeZip({ 'index.js': "exports.handler = async () => 'kept';\n" });
    const layerZip = await makeZip({ 'nodejs/node_modules/greeting/index.js': "module.exports = 'hi';\n" });
    const layer = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'greet', Content: { ZipFile: layerZip } }));

    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'swept', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: v1 },
      Layers: [layer.LayerVersionArn!],
    }));
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'kept', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: kept } }));
    for (const name of ['swept', 'kept']) assert.equal((await lambda.send(new InvokeCommand({ FunctionName: name }))).FunctionError, undefined);
    const merged = fs.readdirSync(path.join(server.dataDir, 'code')).filter((n) => n.startsWith('layers-'));
    assert.equal(merged.length, 1, 'the layer merge is there');
    for (const d of [codeDir(sha(v1)), codeDir(sha(kept)), codeDir(sha(layerZip)), codeDir(merged[0]!)]) assert.ok(fs.existsSync(d), d);

    // An update replaces the code: the old one goes, the new one and everything else in use stays.
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'swept', ZipFile: v2 }));
    await waitUntilFunctionUpdatedV2({ client: lambda, maxWaitTime: 30 }, { FunctionName: 'swept' });
    assert.equal(Buffer.from((await lambda.send(new InvokeCommand({ FunctionName: 'swept' }))).Payload!).toString(), '"two"');
    await until('the replaced code is gone', () => !fs.existsSync(codeDir(sha(v1))));
    await sleep(SWEEP_MS * 4);
    for (const d of [codeDir(sha(v2)), codeDir(sha(kept)), codeDir(sha(layerZip)), codeDir(merged[0]!)]) assert.ok(fs.existsSync(d), `${d} is in use`);

    // A function deleted while an invocation of it runs: its code stays until that invocation is over.
    const slow = await makeZip({ 'index.js': "exports.handler = async () => { await new Promise((r) => setTimeout(r, 1500)); return require('fs').readFileSync(__filename, 'utf8').length; };\n" });
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'kept', ZipFile: slow }));
    await waitUntilFunctionUpdatedV2({ client: lambda, maxWaitTime: 30 }, { FunctionName: 'kept' });
    const slowKey = sha(slow);
    const running = lambda.send(new InvokeCommand({ FunctionName: 'kept' }));
    running.catch(() => undefined); // awaited below: a failure fails the test there
    await sleep(300);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'kept' }));
    await sleep(SWEEP_MS * 5);
    assert.ok(fs.existsSync(codeDir(slowKey)), 'the code of the invocation still running is there');
    const r = await running;
    assert.equal(r.FunctionError, undefined, Buffer.from(r.Payload ?? []).toString());
    await until('the deleted function\'s code is gone', () => !fs.existsSync(codeDir(slowKey)));

    // The last function is deleted: its code and its layer merge go; the layer version's own stays
    // unpacked no longer either (no function uses it), though the layer version itself remains.
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'swept' }));
    await until('everything unpacked is gone', () => fs.readdirSync(path.join(server.dataDir, 'code')).filter((n) => !n.startsWith('.')).length === 0);
  } finally {
    lambda.destroy();
    await server.stop();
  }
});

test('the code of an environment started for a function deleted during its cold start stays while it runs', async () => {
  // A cold start whose first init fails starts a second environment (Lambda's suppressed init)
  // after the first has ended: a slot retired meanwhile (the function was deleted) is empty for
  // that moment, yet the invocation still runs, on the code of the version that is gone.
  const gate = fs.mkdtempSync(path.join(sharedBase(), 'stratus-sweep-'));
  fs.chmodSync(gate, 0o777);
  const server = await startServer({ codeSweepMs: SWEEP_MS, ...sharedConfig() });
  const lambda = new LambdaClient(clientConfig(server.endpoint));
  const codeDir = (key: string) => path.join(server.dataDir, 'code', key);
  const at = (name: string) => path.join(gate, name);
  try {
    // The first init says so and waits for the file go, then fails; the retry succeeds. The
    // handler says it runs, waits for the file read, then reads a file of its code.
    const code = await makeZip({
      'index.js': `const fs = require('fs');
const gate = process.env.GATE;
if (!fs.existsSync(gate + '/tried')) {
  fs.writeFileSync(gate + '/tried', '');
  while (!fs.existsSync(gate + '/go')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  throw new Error('the first init fails');
}
exports.handler = async () => {
  fs.writeFileSync(gate + '/running', '');
  while (!fs.existsSync(gate + '/read')) await new Promise((r) => setTimeout(r, 20));
  return fs.readFileSync(__dirname + '/data.txt', 'utf8');
};
`,
      'data.txt': 'still here',
    });
    // Another function's code, deleted once the invocation runs: when it is gone, the sweeps that
    // would have taken the running invocation's code have been.
    const witness = await makeZip({ 'index.js': "exports.handler = async () => 'witness';\n" });
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'retried', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: code }, Timeout: 60,
      Environment: { Variables: { GATE: gate } },
    }));
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'witness', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: witness } }));
    await until('the witness\'s code is unpacked', () => fs.existsSync(codeDir(sha(witness))));

    const running = lambda.send(new InvokeCommand({ FunctionName: 'retried' }));
    running.catch(() => undefined); // awaited below: a failure fails the test there
    await until('the first init runs', () => fs.existsSync(at('tried')), 30_000);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'retried' }));
    fs.writeFileSync(at('go'), '');
    await until('the invocation runs, after the retried init', () => fs.existsSync(at('running')), 30_000);

    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'witness' }));
    await until('the witness\'s code is gone', () => !fs.existsSync(codeDir(sha(witness))));
    assert.ok(fs.existsSync(codeDir(sha(code))), 'the code of the invocation still running is there');
    fs.writeFileSync(at('read'), '');
    const r = await running;
    assert.equal(r.FunctionError, undefined, Buffer.from(r.Payload ?? []).toString());
    assert.equal(JSON.parse(Buffer.from(r.Payload!).toString()), 'still here');
    // Once it is over, the environment ends and its code goes.
    await until('the deleted function\'s code is gone', () => !fs.existsSync(codeDir(sha(code))));
  } finally {
    lambda.destroy();
    await server.stop();
    fs.rmSync(gate, { recursive: true, force: true });
  }
});
