import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, LambdaClient, PublishLayerVersionCommand, type Runtime } from '@aws-sdk/client-lambda';
import { pythonExecutable } from '../../src/environments/runtimes.js';
import { isRoot } from '../environments/helpers.js';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const decode = (b?: Uint8Array) => Buffer.from(b ?? []).toString('utf8');

// "Lambda requires global read permissions on code files" (AWS Knowledge Center): a function runs
// as a user that owns none of its files, so the modes in its zip decide what it may read and run.
describe('file modes from the zip, as Lambda keeps them', { skip: !isRoot && 'the namespace driver (root) runs functions as a user of their own' }, () => {
  let server: TestServer;
  let lambda: LambdaClient;
  before(async () => {
    server = await startServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
  });
  after(async () => server?.stop());

  const create = async (name: string, runtime: Runtime, handler: string, files: Record<string, { content: string; mode: number }>) => {
    await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: runtime, Handler: handler, Role: ROLE, Code: { ZipFile: await makeZip(files) } }));
    const out = await lambda.send(new InvokeCommand({ FunctionName: name }));
    return { error: out.FunctionError, payload: JSON.parse(decode(out.Payload)) };
  };

  test('a module readable by its owner only cannot be loaded; a bootstrap executable by its owner only cannot be started', async () => {
    const node = await create('mode-node', 'nodejs20.x', 'index.handler', { 'index.js': { content: 'exports.handler = async () => "ok";\n', mode: 0o640 } });
    assert.equal(node.error, 'Unhandled');
    assert.equal(node.payload.errorMessage, "EACCES: permission denied, open '/var/task/index.js'");
    if (pythonExecutable()) {
      const py = await create('mode-py', 'python3.12', 'app.handler', { 'app.py': { content: 'def handler(e, c):\n    return "ok"\n', mode: 0o600 } });
      assert.equal(py.error, 'Unhandled');
      assert.equal(py.payload.errorType, 'PermissionError');
      assert.equal(py.payload.errorMessage, "[Errno 13] Permission denied: '/var/task/app.py'");
    }
    const custom = await create('mode-custom', 'provided.al2023', 'x', { bootstrap: { content: '#!/bin/sh\necho hi\n', mode: 0o744 } });
    assert.equal(custom.error, 'Unhandled');
    assert.equal(custom.payload.errorType, 'Runtime.InvalidEntrypoint');
    assert.match(custom.payload.errorMessage, /Error: fork\/exec \/var\/task\/bootstrap: permission denied$/);
    // An extension in a layer likewise, at once (not at the init's time limit).
    const layer = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'owner-only', Content: { ZipFile: await makeZip({ 'extensions/probe': { content: '#!/bin/sh\nsleep 60\n', mode: 0o700 } }) } }));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'mode-ext', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Layers: [layer.LayerVersionArn!],
      Code: { ZipFile: await makeZip({ 'index.js': { content: 'exports.handler = async () => "ok";\n', mode: 0o644 } }) },
    }));
    const t0 = Date.now();
    const ext = await lambda.send(new InvokeCommand({ FunctionName: 'mode-ext' }));
    assert.equal(ext.FunctionError, 'Unhandled');
    assert.deepEqual(JSON.parse(decode(ext.Payload)), { errorType: 'Extension.LaunchError', errorMessage: `RequestId: ${ext.$metadata.requestId} Error: fork/exec /opt/extensions/probe: permission denied` });
    assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
    // The usual modes work.
    const ok = await create('mode-ok', 'nodejs20.x', 'index.handler', { 'index.js': { content: 'exports.handler = async () => "ok";\n', mode: 0o644 } });
    assert.equal(ok.error, undefined, JSON.stringify(ok.payload));
  });
});
