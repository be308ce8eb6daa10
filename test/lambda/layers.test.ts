import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AddLayerVersionPermissionCommand, CreateFunctionCommand, DeleteFunctionCommand, DeleteLayerVersionCommand, GetFunctionCommand, GetFunctionConfigurationCommand,
  GetLayerVersionByArnCommand, GetLayerVersionCommand, GetLayerVersionPolicyCommand, InvokeCommand, LambdaClient, ListLayersCommand,
  ListLayerVersionsCommand, PublishLayerVersionCommand, RemoveLayerVersionPermissionCommand, UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { pythonExecutable } from '../../src/environments/runtimes.js';
import { rejects } from '../helpers/errors.js';
import { clientConfig, startServer, type TestServer, SANDBOX_MODES } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const LAYER = (name: string, v?: number) => `arn:aws:lambda:us-east-1:000000000000:layer:${name}${v === undefined ? '' : `:${v}`}`;
const LAMBDA_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/;
const decode = (p?: Uint8Array) => (p ? Buffer.from(p).toString('utf8') : '');

/** A layer's archive: a module for Node.js and Python, a program in bin/, and a file both layers hold. */
async function layerZip(tag: string): Promise<Buffer> {
  return makeZip({
    'nodejs/node_modules/greet/index.js': `module.exports = (n) => '${tag} hello ' + n;\n`,
    'nodejs/node_modules/esmgreet/package.json': '{"name":"esmgreet","type":"module","exports":"./index.js"}\n',
    'nodejs/node_modules/esmgreet/index.js': `export default (n) => '${tag} hello ' + n;\n`,
    'python/greet.py': `def greet(n):\n    return '${tag} hi ' + n\n`,
    // Built for python3.12 (pip install -t python/lib/python3.12/site-packages), whatever python3 the host has.
    'python/lib/python3.12/site-packages/sitepkg.py': `WHERE = '${tag} 3.12'\n`,
    'shared.txt': `from ${tag}`,
    'bin/tool': { content: `#!/bin/sh\necho tool ${tag}\n`, mode: 0o755 },
  });
}

const NODE_HANDLER = `const fs = require('node:fs');
const { execSync } = require('node:child_process');
exports.handler = async () => {
  // Only where /opt is the environment's own (under the process driver it would be the host's).
  let write = null;
  if (process.env.TRY_WRITE) try { fs.writeFileSync('/opt/x', 'x'); write = 'ALLOWED'; } catch (e) { write = e.code; }
  let shared = null;
  try { shared = fs.readFileSync('/opt/shared.txt', 'utf8'); } catch { /* the process driver has no /opt of its own */ }
  return { greet: require('greet')('node'), shared, tool: execSync('tool').toString().trim(), write };
};
`;

const PY_HANDLER = `import sys, greet, sitepkg
def handler(event, context):
    try:
        shared = open('/opt/shared.txt').read()
    except OSError:
        shared = None
    return {'greet': greet.greet('py'), 'shared': shared, 'path': sys.path[1:3], 'sitepkg': sitepkg.WHERE}
`;

/** A bash custom runtime: the bootstrap a layer ships, answering with what /opt/shared.txt holds. */
const BOOTSTRAP = `#!/bin/bash
set -euo pipefail
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  # The headers on stdout, not in a file: under the process sandbox /tmp is the host's.
  H=$(curl -sS -LD - "$API/invocation/next" -o /dev/null)
  ID=$(printf '%s\n' "$H" | grep -Fi Lambda-Runtime-Aws-Request-Id | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -X POST "$API/invocation/$ID/response" -d "\\"bootstrap $(cat /opt/shared.txt)\\"" -o /dev/null
done
`;

for (const mode of SANDBOX_MODES) {
  describe(`Layers in execution environments (${mode.label})`, () => {
    let server: TestServer;
    let lambda: LambdaClient;
    const process_ = mode.config.sandbox === 'process';
    before(async () => {
      server = await startServer(mode.config);
      lambda = new LambdaClient(clientConfig(server.endpoint));
    });
    after(async () => server?.stop());

    test('layers are merged in order (later ones win) and reach node, python and a custom runtime', async () => {
      const a = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'a', Content: { ZipFile: await layerZip('A') } }));
      const b = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'b', Content: { ZipFile: await makeZip({ 'shared.txt': 'from B', bootstrap: { content: BOOTSTRAP, mode: 0o755 } }) } }));
      await lambda.send(new CreateFunctionCommand({
        FunctionName: 'node-layers', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'index.js': NODE_HANDLER }) },
        Layers: [a.LayerVersionArn!, b.LayerVersionArn!], ...(process_ ? {} : { Environment: { Variables: { TRY_WRITE: '1' } } }),
      }));
      const nodeOut = await lambda.send(new InvokeCommand({ FunctionName: 'node-layers' }));
      assert.equal(nodeOut.FunctionError, undefined, decode(nodeOut.Payload));
      const node = JSON.parse(decode(nodeOut.Payload));
      // Under the process driver the layers are at their path in the data dir, not a read-only /opt.
      if (process_) assert.deepEqual({ greet: node.greet, tool: node.tool }, { greet: 'A hello node', tool: 'tool A' });
      else assert.deepEqual(node, { greet: 'A hello node', shared: 'from B', tool: 'tool A', write: 'EROFS' });

      await lambda.send(new CreateFunctionCommand({
        FunctionName: 'py-layers', Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'app.py': PY_HANDLER }) },
        Layers: [b.LayerVersionArn!, a.LayerVersionArn!],
      }));
      const py = JSON.parse(decode((await lambda.send(new InvokeCommand({ FunctionName: 'py-layers' }))).Payload));
      assert.equal(py.greet, 'A hi py');
      assert.equal(py.sitepkg, 'A 3.12');
      if (!process_) {
        assert.equal(py.shared, 'from A', 'the order of this function\'s list: A last');
        assert.equal(py.path[0], '/opt/python/lib/python3.12/site-packages');
        assert.match(py.path[1], /^\/opt\/python(\/lib\/python3\.\d+\/site-packages)?$/);
      }

      // An ES module imports the layer's package as a CommonJS module requires it (node's own ES
      // module resolution ignores NODE_PATH: "Cannot find package 'greet' imported from /var/task/index.mjs").
      await lambda.send(new CreateFunctionCommand({
        FunctionName: 'esm-layers', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
        Code: { ZipFile: await makeZip({ 'index.mjs': "import greet from 'greet';\nexport const handler = async () => greet('esm');\n" }) },
        Layers: [a.LayerVersionArn!],
      }));
      const esm = await lambda.send(new InvokeCommand({ FunctionName: 'esm-layers' }));
      assert.equal(esm.FunctionError, undefined, decode(esm.Payload));
      assert.equal(JSON.parse(decode(esm.Payload)), 'A hello esm');
      // So does a CommonJS handler's import() (an ES module package, which require() cannot load).
      await lambda.send(new CreateFunctionCommand({
        FunctionName: 'cjs-import-layers', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
        Code: { ZipFile: await makeZip({ 'index.js': "exports.handler = async () => (await import('esmgreet')).default('cjs');\n" }) },
        Layers: [a.LayerVersionArn!],
      }));
      const cjs = await lambda.send(new InvokeCommand({ FunctionName: 'cjs-import-layers' }));
      assert.equal(cjs.FunctionError, undefined, decode(cjs.Payload));
      assert.equal(JSON.parse(decode(cjs.Payload)), 'A hello cjs');

      if (process_) return; // a bootstrap reading /opt itself needs /opt
      await lambda.send(new CreateFunctionCommand({
        FunctionName: 'custom-layers', Runtime: 'provided.al2023', Handler: 'x', Role: ROLE, Code: { ZipFile: await makeZip({ 'README': 'no bootstrap here' }) },
        Layers: [b.LayerVersionArn!],
      }));
      const custom = await lambda.send(new InvokeCommand({ FunctionName: 'custom-layers' }));
      assert.equal(custom.FunctionError, undefined, decode(custom.Payload));
      assert.equal(JSON.parse(decode(custom.Payload)), 'bootstrap from B');
    });

    test('every cold start sees its layers, however soon after its runtime was started; a wrapper script in a layer starts the runtime (named under /opt, where the process sandbox presents the layers elsewhere too)', async () => {
      const v = await lambda.send(new PublishLayerVersionCommand({
        LayerName: 'many', Content: { ZipFile: await makeZip({
          'nodejs/node_modules/many/index.js': 'module.exports = 7;',
          wrap: { content: '#!/bin/sh\nexport WRAPPED=yes\nexec "$@"\n', mode: 0o755 },
        }) },
      }));
      const code = { ZipFile: await makeZip({ 'index.js': "exports.handler = async () => [require('many'), process.env.WRAPPED ?? null];" }) };
      // One after the other: each takes the runtime the pool started for the one before.
      for (let i = 0; i < 10; i++) {
        await lambda.send(new CreateFunctionCommand({ FunctionName: `many-${i}`, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: code, Layers: [v.LayerVersionArn!] }));
        const out = await lambda.send(new InvokeCommand({ FunctionName: `many-${i}` }));
        assert.equal(out.FunctionError, undefined, `many-${i}: ${decode(out.Payload)}`);
        assert.deepEqual(JSON.parse(decode(out.Payload)), [7, null]);
      }
      await lambda.send(new CreateFunctionCommand({
        FunctionName: 'wrapped', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: code, Layers: [v.LayerVersionArn!],
        Environment: { Variables: { AWS_LAMBDA_EXEC_WRAPPER: '/opt/wrap' } },
      }));
      const out = await lambda.send(new InvokeCommand({ FunctionName: 'wrapped' }));
      assert.equal(out.FunctionError, undefined, decode(out.Payload));
      assert.deepEqual(JSON.parse(decode(out.Payload)), [7, 'yes']);
    });

    test('Python loads the bytecode a package ships (in its code or a layer): file times are kept', async () => {
      // Two sources of one size and time: the cached bytecode of the first, shipped with the second.
      // Python takes the bytecode only if the source's time and size match what it recorded.
      const mtime = new Date('2024-03-05T06:07:09Z');
      const compiled = execFileSync(pythonExecutable()!, ['-c', `
import importlib.util, marshal, sys, time
src = b"WHERE = 'bytecode'\\n"
code = compile(src, 'shipped.py', 'exec')
data = bytearray(importlib.util.MAGIC_NUMBER) + (0).to_bytes(4, 'little') + (${mtime.getTime() / 1000}).to_bytes(4, 'little') + len(src).to_bytes(4, 'little') + marshal.dumps(code)
sys.stdout.buffer.write(importlib.util.cache_from_source('shipped.py').encode() + b'\\0' + bytes(data))
`]);
      const nul = compiled.indexOf(0);
      const pycName = compiled.subarray(0, nul).toString();
      const pyc = compiled.subarray(nul + 1);
      const files = (dir: string) => ({
        [`${dir}shipped.py`]: { content: "WHERE = 'source!!'\n", mtime },
        [`${dir}${pycName}`]: { content: pyc, mtime },
      });
      const layer = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'pyc', Content: { ZipFile: await makeZip(files('python/')) } }));
      await lambda.send(new CreateFunctionCommand({
        FunctionName: 'pyc-code', Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Layers: [layer.LayerVersionArn!],
        Code: { ZipFile: await makeZip({ 'app.py': 'import shipped\ndef handler(e, c):\n    return shipped.WHERE\n', ...files('vendored/') }) },
      }));
      const code = await lambda.send(new CreateFunctionCommand({
        FunctionName: 'pyc-both', Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Layers: [layer.LayerVersionArn!],
        Code: { ZipFile: await makeZip({ 'app.py': 'import sys\nsys.path.insert(0, "vendored")\nimport shipped\ndef handler(e, c):\n    return shipped.WHERE\n', ...files('vendored/') }) },
      }));
      assert.ok(code.FunctionArn);
      for (const name of ['pyc-code', 'pyc-both']) {
        const out = await lambda.send(new InvokeCommand({ FunctionName: name }));
        assert.equal(JSON.parse(decode(out.Payload)), 'bytecode', name);
      }
    });

    test('a function keeps its layer after the layer version is deleted; new references are refused', async () => {
      const v = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'gone', Content: { ZipFile: await layerZip('G') } }));
      await lambda.send(new CreateFunctionCommand({
        FunctionName: 'keeps', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
        Code: { ZipFile: await makeZip({ 'index.js': "exports.handler = async () => require('greet')('k');" }) }, Layers: [v.LayerVersionArn!],
      }));
      await lambda.send(new DeleteLayerVersionCommand({ LayerName: 'gone', VersionNumber: 1 }));
      // A new configuration (new environments) still gets the deleted version's content.
      await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'keeps', Description: 'changed' }));
      const out = await lambda.send(new InvokeCommand({ FunctionName: 'keeps' }));
      assert.equal(JSON.parse(decode(out.Payload)), 'G hello k');
      const cfg = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'keeps' }));
      assert.deepEqual(cfg.Layers?.map((l) => l.Arn), [LAYER('gone', 1)]);
      await rejects(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'keeps', Layers: [LAYER('gone', 1)] })),
        'InvalidParameterValueException', `Layer version ${LAYER('gone', 1)} does not exist.`, 400);
      // Its last user gone, the archive goes too.
      const blob = path.join(server.dataDir, 'blobs', Buffer.from(v.Content!.CodeSha256!, 'base64').toString('hex').slice(0, 2), Buffer.from(v.Content!.CodeSha256!, 'base64').toString('hex'));
      assert.ok(fs.existsSync(blob), blob);
      await lambda.send(new DeleteFunctionCommand({ FunctionName: 'keeps' }));
      assert.ok(!fs.existsSync(blob), 'removed with the last function that used it');
    });
  });
}

/** An external extension (bash + curl) that logs what it gets, as extensions in layers do. */
const EXTENSION = `#!/bin/bash
set -euo pipefail
API="http://\${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
echo "ext env: handler=\${_HANDLER:-unset} task=\${LAMBDA_TASK_ROOT:-unset} fn=\${AWS_LAMBDA_FUNCTION_NAME}"
echo "ext no id: $(curl -sS -w ' %{http_code}' "$API/event/next")"
echo ready > /tmp/ext-ready
H=$(mktemp)
REG=$(curl -sS -D "$H" -X POST "$API/register" -H "Lambda-Extension-Name: $(basename "$0")" -H 'Lambda-Extension-Accept-Feature: accountId' -d '{"events":["INVOKE","SHUTDOWN"]}')
ID=$(grep -i Lambda-Extension-Identifier "$H" | tr -d '[:space:]' | cut -d: -f2)
echo "ext registered $REG"
echo "ext again: $(curl -sS -w ' %{http_code}' -X POST "$API/register" -H "Lambda-Extension-Name: $(basename "$0")" -d '{"events":["INVOKE"]}')"
while true; do
  EV=$(curl -sS "$API/event/next" -H "Lambda-Extension-Identifier: $ID")
  echo "ext event $EV"
  case "$EV" in *SHUTDOWN*) echo "ext bye"; exit 0;; esac
done
`;

/**
 * A log group's messages (without their final newline) once the EXTENSION probe's last line ("ext
 * bye", after its SHUTDOWN) is among them, or after `tries` polls 100 ms apart.
 */
async function messagesOnceBye(logs: CloudWatchLogsClient, group: string, tries = 60): Promise<string[]> {
  let messages: string[] = [];
  for (let i = 0; i < tries && !messages.includes('ext bye'); i++) {
    await new Promise((r) => setTimeout(r, 100));
    messages = ((await logs.send(new FilterLogEventsCommand({ logGroupName: group }))).events ?? []).map((e) => (e.message ?? '').replace(/\n$/, ''));
  }
  return messages;
}

describe('Extensions in layers (namespace sandbox)', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  let logs: CloudWatchLogsClient;
  before(async () => {
    server = await startServer({ idleTimeoutMs: 1500 });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    logs = new CloudWatchLogsClient(clientConfig(server.endpoint));
  });
  after(async () => server?.stop());

  test('an extension registers before the runtime starts, gets INVOKE and SHUTDOWN events, and logs to the function\'s stream', async () => {
    const layer = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'ext', Content: { ZipFile: await makeZip({ 'extensions/probe': { content: EXTENSION, mode: 0o755 } }) } }));
    const handler = `const fs = require('node:fs');
const atInit = fs.existsSync('/tmp/ext-ready');
exports.handler = async () => ({ atInit, shellVars: ['SHLVL', '_', 'PWD', 'OLDPWD'].filter((k) => k in process.env) });`;
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'with-ext', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'index.js': handler }) }, Layers: [layer.LayerVersionArn!],
    }));
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'with-ext', LogType: 'Tail' }));
    assert.equal(out.FunctionError, undefined, decode(out.Payload));
    assert.deepEqual(JSON.parse(decode(out.Payload)), { atInit: true, shellVars: [] }, 'the runtime started after the extension registered; its environment is the function\'s');
    const requestId = out.$metadata.requestId!;
    // Idle past the idle timeout: the environment ends, its extension gets SHUTDOWN first.
    const messages = await messagesOnceBye(logs, '/aws/lambda/with-ext', 100);
    const at = (re: RegExp) => messages.findIndex((m) => re.test(m));
    assert.ok(at(/^ext env: handler=unset task=unset fn=with-ext$/) >= 0, messages.join('\n'));
    // (JSON replies end with a newline, as RAPID's do: curl's status comes on a line of its own.)
    assert.ok(at(/^ext no id: \{"errorMessage":"Missing Lambda-Extension-Identifier header","errorType":"Extension.MissingExtensionIdentifier"\}$/) >= 0, messages.join('\n'));
    assert.ok(at(/^ext registered \{"functionName":"with-ext","functionVersion":"\$LATEST","handler":"index.handler","accountId":"000000000000"\}$/) >= 0, messages.join('\n'));
    assert.ok(at(/^ext again: \{"errorMessage":"State transition from Registered to Registered failed for extension probe. Error: State transition is not allowed","errorType":"Extension.InvalidExtensionState"\}$/) >= 0, messages.join('\n'));
    assert.equal(messages.filter((m) => m === ' 403').length, 2, messages.join('\n'));
    const extLine = at(/^EXTENSION\tName: probe\tState: Ready\tEvents: \[INVOKE,SHUTDOWN\]$/);
    assert.ok(extLine >= 0 && extLine < at(/^START RequestId/), messages.join('\n'));
    const invoke = at(new RegExp(`^ext event \\{"eventType":"INVOKE","deadlineMs":\\d+,"requestId":"${requestId}","invokedFunctionArn":"arn:aws:lambda:us-east-1:000000000000:function:with-ext","tracing":\\{"type":"X-Amzn-Trace-Id","value":"Root=`));
    assert.ok(invoke > at(/^START RequestId/) && invoke < at(/^END RequestId/), messages.join('\n'));
    assert.ok(at(/^ext event \{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":\d+\}$/) > at(/^REPORT RequestId/), messages.join('\n'));
    assert.ok(at(/^ext bye$/) >= 0, messages.join('\n'));
  });
});

describe('Extensions in layers: failures and retirement', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  let logs: CloudWatchLogsClient;
  before(async () => {
    server = await startServer({ idleTimeoutMs: 60_000 });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    logs = new CloudWatchLogsClient(clientConfig(server.endpoint));
  });
  after(async () => server?.stop());
  let handler: { ZipFile: Uint8Array };
  before(async () => { handler = { ZipFile: await makeZip({ 'index.js': 'exports.handler = async () => "ok";' }) }; });

  async function withExtension(name: string, files: Record<string, { content: string; mode: number }>, o: { code?: { ZipFile: Uint8Array }; timeout?: number } = {}) {
    const layer = await lambda.send(new PublishLayerVersionCommand({ LayerName: name, Content: { ZipFile: await makeZip(files) } }));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: o.code ?? handler, Layers: [layer.LayerVersionArn!], Timeout: o.timeout ?? 30,
    }));
  }

  /** The REPORT line of `requestId`, once it is in the function's log group. */
  async function reportOf(name: string, requestId: string): Promise<string | undefined> {
    for (let i = 0; i < 60; i++) {
      const ev = await logs.send(new FilterLogEventsCommand({ logGroupName: `/aws/lambda/${name}`, filterPattern: `"REPORT RequestId: ${requestId}"` }));
      if (ev.events?.[0]?.message) return ev.events[0].message;
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  }

  // Lambda's RAPID takes any exit of an extension's process, a clean one too, that does not follow
  // its SHUTDOWN for Extension.Crash ("exit status N"; "exit code 0" for a clean exit), and ends
  // the init or invocation it happens in at once.
  test('an extension that exits during the init, before or after it registered, fails the init (and its retry) at once with Extension.Crash', async () => {
    await withExtension('ext-early', { 'extensions/early': { content: '#!/bin/bash\necho "ext exiting early"\nexit 5\n', mode: 0o755 } }, { timeout: 10 });
    const t0 = Date.now();
    const a = await lambda.send(new InvokeCommand({ FunctionName: 'ext-early', LogType: 'Tail' }));
    // (The function's timeout is 10 s: the init's, and its retry's, would each take that long.)
    assert.ok(Date.now() - t0 < 5000, `answered in ${Date.now() - t0} ms`);
    assert.equal(a.FunctionError, 'Unhandled');
    assert.deepEqual(JSON.parse(decode(a.Payload)), { errorType: 'Extension.Crash', errorMessage: `RequestId: ${a.$metadata.requestId} Error: exit status 5` });
    const tail = Buffer.from(a.LogResult!, 'base64').toString();
    assert.match(tail, /^ext exiting early$/m);
    assert.match(tail, /^INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\tError Type: Extension\.Crash$/m);
    assert.match(tail, /^INIT_REPORT Init Duration: [\d.]+ ms\tPhase: invoke\tStatus: error\tError Type: Extension\.Crash$/m);
    assert.match(tail, /^REPORT RequestId: .*\tStatus: error\tError Type: Extension\.Crash\t$/m);

    const registered = EXTENSION.replace('echo "ext registered $REG"', 'echo "ext registered $REG"; exit 0');
    await withExtension('ext-regexit', { 'extensions/quitter': { content: registered, mode: 0o755 } }, { timeout: 10 });
    const t1 = Date.now();
    const b = await lambda.send(new InvokeCommand({ FunctionName: 'ext-regexit', LogType: 'Tail' }));
    assert.ok(Date.now() - t1 < 5000, `answered in ${Date.now() - t1} ms`);
    assert.equal(b.FunctionError, 'Unhandled');
    assert.deepEqual(JSON.parse(decode(b.Payload)), { errorType: 'Extension.Crash', errorMessage: `RequestId: ${b.$metadata.requestId} Error: exit code 0` });
    assert.match(Buffer.from(b.LogResult!, 'base64').toString(), /^EXTENSION\tName: quitter\tState: Registered\tEvents: \[INVOKE,SHUTDOWN\]$/m);

    // Killed by a signal: Go's words for it, and only the extension's own output in the log.
    await withExtension('ext-killed', { 'extensions/killed': { content: '#!/bin/bash\necho "ext going" >&2\nkill -9 $$\n', mode: 0o755 } }, { timeout: 10 });
    const c = await lambda.send(new InvokeCommand({ FunctionName: 'ext-killed', LogType: 'Tail' }));
    assert.deepEqual(JSON.parse(decode(c.Payload)), { errorType: 'Extension.Crash', errorMessage: `RequestId: ${c.$metadata.requestId} Error: signal: killed` });
    const killedTail = Buffer.from(c.LogResult!, 'base64').toString();
    assert.match(killedTail, /^ext going$/m);
    assert.doesNotMatch(killedTail, /Killed/);
  });

  /** An extension that exits (status 7) on its first INVOKE event only (/tmp outlives the environment's reset), after `delay`. */
  const crashOnInvoke = (delay: string) => EXTENSION.replace('echo "ext event $EV"',
    `echo "ext event $EV"; case "$EV" in *INVOKE*) if [ ! -e /tmp/crashed ]; then touch /tmp/crashed; ${delay} echo "ext crashing"; exit 7; fi;; esac`);
  /** Counts its invocations: a new runtime starts again from 1. */
  const counting = async () => ({ ZipFile: await makeZip({ 'index.js': 'let n = 0;\nexports.handler = async (e) => { n++; if (e.wait) await new Promise((r) => setTimeout(r, e.wait)); return n; };\n' }) });

  test('an extension that exits during an invocation fails it at once with Extension.Crash; the next invocation gets a new environment', async () => {
    await withExtension('ext-crash', { 'extensions/crasher': { content: crashOnInvoke(''), mode: 0o755 } }, { code: await counting(), timeout: 10 });
    const t0 = Date.now();
    // The handler would answer after 8 s: the caller has the extension's crash long before.
    const a = await lambda.send(new InvokeCommand({ FunctionName: 'ext-crash', Payload: Buffer.from('{"wait":8000}') }));
    assert.ok(Date.now() - t0 < 5000, `answered in ${Date.now() - t0} ms`);
    assert.equal(a.FunctionError, 'Unhandled');
    const id = a.$metadata.requestId!;
    assert.deepEqual(JSON.parse(decode(a.Payload)), { errorType: 'Extension.Crash', errorMessage: `RequestId: ${id} Error: exit status 7` });
    const report = await reportOf('ext-crash', id);
    assert.match(report ?? '', /\tStatus: error\tError Type: Extension\.Crash\t\n$/, report);
    const b = await lambda.send(new InvokeCommand({ FunctionName: 'ext-crash' }));
    assert.equal(b.FunctionError, undefined, decode(b.Payload));
    assert.equal(JSON.parse(decode(b.Payload)), 1, 'a new runtime');
    const messages = ((await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/ext-crash' }))).events ?? []).map((e) => e.message ?? '');
    assert.ok(messages.some((m) => m === `RequestId: ${id} Error: exit status 7\nExtension.Crash\n`), messages.join(''));
    assert.ok(!messages.some((m) => /Task timed out/.test(m)), messages.join(''));
  });

  test('an extension that exits after the runtime answered: the caller keeps the result, REPORT says Extension.Crash at once, and the next invocation gets a new environment', async () => {
    await withExtension('ext-late-crash', { 'extensions/crasher': { content: crashOnInvoke('sleep 1;'), mode: 0o755 } }, { code: await counting(), timeout: 10 });
    const a = await lambda.send(new InvokeCommand({ FunctionName: 'ext-late-crash' }));
    assert.equal(a.FunctionError, undefined, decode(a.Payload));
    assert.equal(JSON.parse(decode(a.Payload)), 1);
    const t0 = Date.now();
    const report = await reportOf('ext-late-crash', a.$metadata.requestId!);
    // Written once the extension exited (a second after its INVOKE), not at the 10 s deadline.
    assert.ok(Date.now() - t0 < 5000, `REPORT after ${Date.now() - t0} ms`);
    assert.match(report ?? '', /\tStatus: error\tError Type: Extension\.Crash\t\n$/, report);
    const duration = Number(/Duration: ([\d.]+) ms/.exec(report ?? '')?.[1]);
    assert.ok(duration >= 1000 && duration < 5000, report);
    const b = await lambda.send(new InvokeCommand({ FunctionName: 'ext-late-crash' }));
    assert.equal(b.FunctionError, undefined, decode(b.Payload));
    assert.equal(JSON.parse(decode(b.Payload)), 1, 'a new runtime');
  });

  test('an extension that cannot be started, or that reports an init error, fails the init at once', async () => {
    await withExtension('ext-noexec', { 'extensions/lazy': { content: EXTENSION, mode: 0o644 } });
    const t0 = Date.now();
    const a = await lambda.send(new InvokeCommand({ FunctionName: 'ext-noexec', LogType: 'Tail' }));
    assert.equal(a.FunctionError, 'Unhandled');
    assert.deepEqual(JSON.parse(decode(a.Payload)), { errorType: 'Extension.LaunchError', errorMessage: `RequestId: ${a.$metadata.requestId} Error: fork/exec /opt/extensions/lazy: permission denied` });
    // RAPID's EXTENSION line for an extension it could not start: LaunchError, and why.
    assert.match(Buffer.from(a.LogResult!, 'base64').toString(), /^EXTENSION\tName: lazy\tState: LaunchError\tEvents: \[\]\tError Type: PermissionDenied$/m);
    const initError = EXTENSION.replace('echo "ext registered $REG"', 'curl -sS -X POST "$API/init/error" -H "Lambda-Extension-Identifier: $ID" -H "Lambda-Extension-Function-Error-Type: Extension.ConfigInvalid" -d "{}"; exit 0');
    await withExtension('ext-initerror', { 'extensions/picky': { content: initError, mode: 0o755 } });
    const b = await lambda.send(new InvokeCommand({ FunctionName: 'ext-initerror', LogType: 'Tail' }));
    assert.equal(b.FunctionError, 'Unhandled');
    assert.equal(JSON.parse(decode(b.Payload)).errorType, 'Extension.InitError');
    // The error type the extension reported.
    assert.match(Buffer.from(b.LogResult!, 'base64').toString(), /^EXTENSION\tName: picky\tState: InitError\tEvents: \[[A-Z,]*\]\tError Type: Extension\.ConfigInvalid$/m);
    assert.ok(Date.now() - t0 < 8000, 'neither waits for the init timeout');
  });

  test('the caller has its result at once; END and REPORT wait for the extension, whose time counts in Duration', async () => {
    const slow = EXTENSION.replace('echo "ext event $EV"', 'echo "ext event $EV"; case "$EV" in *INVOKE*) sleep 2;; esac');
    await withExtension('ext-slow', { 'extensions/slow': { content: slow, mode: 0o755 } });
    await lambda.send(new InvokeCommand({ FunctionName: 'ext-slow' })); // the cold start
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'ext-slow' }));
    // (A warm invocation answers in a millisecond or two: a wide margin below the extension's 2 s.)
    assert.ok(Date.now() - t0 < 1500, `answered in ${Date.now() - t0} ms`);
    let report: string | undefined;
    for (let i = 0; i < 60 && !report; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const ev = await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/ext-slow', filterPattern: `"REPORT RequestId: ${out.$metadata.requestId}"` }));
      report = ev.events?.[0]?.message;
    }
    const duration = Number(/Duration: ([\d.]+) ms/.exec(report ?? '')?.[1]);
    assert.ok(duration >= 2000, report);
  });

  test('an invocation that times out resets the environment: its extensions get SHUTDOWN with reason timeout, and the next invocation works', async () => {
    const layer = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'ext-timeout', Content: { ZipFile: await makeZip({ 'extensions/probe': { content: EXTENSION, mode: 0o755 } }) } }));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'ext-timeout', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Layers: [layer.LayerVersionArn!], Timeout: 1,
      Code: { ZipFile: await makeZip({ 'index.js': 'exports.handler = async (e) => { if (e.hang) { console.log("hanging"); await new Promise(() => setInterval(() => {}, 1000)); } return "ok"; };' }) },
    }));
    const hung = await lambda.send(new InvokeCommand({ FunctionName: 'ext-timeout', Payload: Buffer.from('{"hang":true}') }));
    assert.equal(hung.FunctionError, 'Unhandled');
    assert.equal(JSON.parse(decode(hung.Payload)).errorType, 'Sandbox.Timedout');
    const messages = await messagesOnceBye(logs, '/aws/lambda/ext-timeout');
    const at = (re: RegExp) => messages.findIndex((m) => re.test(m));
    const shutdown = at(/^ext event \{"eventType":"SHUTDOWN","shutdownReason":"timeout","deadlineMs":\d+\}$/);
    assert.ok(shutdown > at(/Task timed out after 1\.00 seconds/), messages.join('\n'));
    assert.ok(at(/^ext bye$/) > shutdown, messages.join('\n'));
    // Its exit after SHUTDOWN is no crash.
    assert.ok(!messages.some((m) => m.includes('Extension.Crash')), messages.join('\n'));
    const next = await lambda.send(new InvokeCommand({ FunctionName: 'ext-timeout' }));
    assert.equal(next.FunctionError, undefined, decode(next.Payload));
    assert.equal(JSON.parse(decode(next.Payload)), 'ok');
  });

  test('an idle environment retired by an update gives its extensions their SHUTDOWN first', async () => {
    await withExtension('ext-retire', { 'extensions/probe': { content: EXTENSION, mode: 0o755 } });
    const first = await lambda.send(new InvokeCommand({ FunctionName: 'ext-retire' }));
    assert.equal(first.FunctionError, undefined, decode(first.Payload));
    // The next invocation goes to a new environment; the old one is retired.
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'ext-retire', Description: 'new' }));
    const second = await lambda.send(new InvokeCommand({ FunctionName: 'ext-retire' }));
    assert.equal(second.FunctionError, undefined, decode(second.Payload));
    const messages = await messagesOnceBye(logs, '/aws/lambda/ext-retire');
    assert.ok(messages.some((m) => /^ext event \{"eventType":"SHUTDOWN","shutdownReason":"spindown"/.test(m)), messages.join('\n'));
    assert.ok(messages.includes('ext bye'), messages.join('\n'));
    assert.ok(!messages.some((m) => m.includes('Extension.Crash')), messages.join('\n'));
  });

  test('an environment retired while its invocation runs gives its extensions their SHUTDOWN once the invocation ends', async () => {
    await withExtension('ext-retire-busy', { 'extensions/probe': { content: EXTENSION, mode: 0o755 } }, {
      code: { ZipFile: await makeZip({ 'index.js': 'exports.handler = async (e) => { if (e.wait) { console.log("waiting"); await new Promise((r) => setTimeout(r, 4000)); } return "ok"; };' }) },
    });
    const warm = await lambda.send(new InvokeCommand({ FunctionName: 'ext-retire-busy' }));
    assert.equal(warm.FunctionError, undefined, decode(warm.Payload));
    const busy = lambda.send(new InvokeCommand({ FunctionName: 'ext-retire-busy', Payload: Buffer.from('{"wait":true}') }));
    for (let i = 0; i < 100; i++) {
      const ev = await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/ext-retire-busy', filterPattern: '"waiting"' }));
      if (ev.events?.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // While it runs, an update and the next invocation (a new environment) retire its environment.
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'ext-retire-busy', Description: 'new' }));
    const second = await lambda.send(new InvokeCommand({ FunctionName: 'ext-retire-busy' }));
    assert.equal(second.FunctionError, undefined, decode(second.Payload));
    const first = await busy;
    assert.equal(JSON.parse(decode(first.Payload)), 'ok');
    const messages = await messagesOnceBye(logs, '/aws/lambda/ext-retire-busy');
    const at = (re: RegExp) => messages.findIndex((m) => re.test(m));
    const shutdown = at(/^ext event \{"eventType":"SHUTDOWN","shutdownReason":"spindown"/);
    assert.ok(shutdown >= 0, messages.join('\n'));
    assert.ok(at(/^ext bye$/) > shutdown, messages.join('\n'));
    assert.ok(!messages.some((m) => m.includes('Extension.Crash')), messages.join('\n'));
  });

  // Lambda: "When Lambda service is about to shut down the runtime, it sends a SIGTERM signal to
  // the runtime and then a SHUTDOWN event to each registered external extension." The runtime's
  // handler exits, and the extension still has its SHUTDOWN.
  const cases = [
    { runtime: 'nodejs20.x', handler: 'index.handler', file: 'index.js',
      code: `process.on('SIGTERM', () => { console.log('[runtime] SIGTERM received'); process.exit(0); });\nexports.handler = async () => 'ok';\n` },
    { runtime: 'python3.12', handler: 'app.handler', file: 'app.py',
      code: `import signal, sys\ndef on_term(signum, frame):\n    print("[runtime] SIGTERM received", flush=True)\n    sys.exit(0)\nsignal.signal(signal.SIGTERM, on_term)\ndef handler(event, context):\n    return "ok"\n` },
  ];
  for (const c of cases) {
    test(`${c.runtime}: spun down, the runtime gets SIGTERM before the extension's SHUTDOWN, which it still gets after the runtime exited`, async () => {
      const name = `term-${c.runtime.replace(/\W/g, '')}`;
      const layer = await lambda.send(new PublishLayerVersionCommand({ LayerName: name, Content: { ZipFile: await makeZip({ 'extensions/probe': { content: EXTENSION, mode: 0o755 } }) } }));
      await lambda.send(new CreateFunctionCommand({
        FunctionName: name, Runtime: c.runtime as 'nodejs20.x', Handler: c.handler, Role: ROLE, Layers: [layer.LayerVersionArn!], Timeout: 30,
        Code: { ZipFile: await makeZip({ [c.file]: c.code }) },
      }));
      const first = await lambda.send(new InvokeCommand({ FunctionName: name }));
      assert.equal(first.FunctionError, undefined, decode(first.Payload));
      // Retired by an update: spun down.
      await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Description: 'new' }));
      const second = await lambda.send(new InvokeCommand({ FunctionName: name }));
      assert.equal(second.FunctionError, undefined, decode(second.Payload));
      const messages = await messagesOnceBye(logs, `/aws/lambda/${name}`);
      const at = (re: RegExp) => messages.findIndex((m) => re.test(m));
      const term = at(/\[runtime\] SIGTERM received$/);
      const shutdown = at(/^ext event \{"eventType":"SHUTDOWN","shutdownReason":"spindown"/);
      assert.ok(term >= 0, messages.join('\n'));
      assert.ok(shutdown > term, messages.join('\n'));
      assert.ok(at(/^ext bye$/) > shutdown, messages.join('\n'));
    });
  }

  test('without extensions the runtime gets no SIGTERM: the environment ends at once, as Lambda ends one', async () => {
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'term-none', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 30, Code: { ZipFile: await makeZip({ 'index.js': cases[0]!.code }) },
    }));
    await lambda.send(new InvokeCommand({ FunctionName: 'term-none' }));
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'term-none', Description: 'new' }));
    await lambda.send(new InvokeCommand({ FunctionName: 'term-none' }));
    await new Promise((r) => setTimeout(r, 500));
    const messages = ((await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/term-none' }))).events ?? []).map((e) => e.message ?? '');
    assert.equal(messages.filter((m) => m.includes('SIGTERM received')).length, 0, messages.join(''));
  });
});

describe('Lambda API: layers', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  let zip: Buffer;
  before(async () => {
    server = await startServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
    zip = await layerZip('X');
  });
  after(async () => server?.stop());

  test('PublishLayerVersion answers 201 with Lambda\'s shape; Get, GetByArn and the download agree', async () => {
    const out = await lambda.send(new PublishLayerVersionCommand({
      LayerName: 'shape', Description: 'first', Content: { ZipFile: zip }, CompatibleRuntimes: ['nodejs20.x', 'python3.12'],
      CompatibleArchitectures: ['x86_64'], LicenseInfo: 'MIT',
    }));
    assert.equal(out.$metadata.httpStatusCode, 201);
    assert.equal(out.LayerArn, LAYER('shape'));
    assert.equal(out.LayerVersionArn, LAYER('shape', 1));
    assert.equal(out.Version, 1);
    assert.equal(out.Description, 'first');
    assert.match(out.CreatedDate!, LAMBDA_TIME);
    assert.deepEqual(out.CompatibleRuntimes, ['nodejs20.x', 'python3.12']);
    assert.deepEqual(out.CompatibleArchitectures, ['x86_64']);
    assert.equal(out.LicenseInfo, 'MIT');
    assert.equal(out.Content?.CodeSha256, createHash('sha256').update(zip).digest('base64'));
    assert.equal(out.Content?.CodeSize, zip.length);
    const download = await fetch(out.Content!.Location!);
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), zip);
    const tampered = await fetch(out.Content!.Location!.replace(/Signature=[0-9a-f]/, 'Signature=z'));
    assert.equal(tampered.status, 403);

    const got = await lambda.send(new GetLayerVersionCommand({ LayerName: 'shape', VersionNumber: 1 }));
    const byArn = await lambda.send(new GetLayerVersionByArnCommand({ Arn: LAYER('shape', 1) }));
    const byLayerArn = await lambda.send(new GetLayerVersionCommand({ LayerName: LAYER('shape'), VersionNumber: 1 }));
    for (const g of [got, byArn, byLayerArn]) {
      assert.equal(g.LayerVersionArn, out.LayerVersionArn);
      assert.equal(g.CreatedDate, out.CreatedDate);
      assert.equal(g.Content?.CodeSha256, out.Content?.CodeSha256);
    }
  });

  test('fields not given are left out; empty lists stay empty lists', async () => {
    const bare = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'bare', Content: { ZipFile: zip } }));
    assert.equal(bare.Description, '');
    assert.equal(bare.CompatibleRuntimes, undefined);
    assert.equal(bare.CompatibleArchitectures, undefined);
    assert.equal(bare.LicenseInfo, undefined);
    const empty = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'bare', Content: { ZipFile: zip }, CompatibleRuntimes: [], CompatibleArchitectures: [] }));
    assert.equal(empty.Version, 2);
    assert.deepEqual(empty.CompatibleRuntimes, []);
    assert.deepEqual(empty.CompatibleArchitectures, []);
  });

  test('version numbers are never reused, not even after every version is deleted; delete is idempotent', async () => {
    for (const n of [1, 2]) assert.equal((await lambda.send(new PublishLayerVersionCommand({ LayerName: 'numbers', Content: { ZipFile: zip } }))).Version, n);
    for (const n of [1, 2, 2, 7]) {
      const d = await lambda.send(new DeleteLayerVersionCommand({ LayerName: 'numbers', VersionNumber: n }));
      assert.equal(d.$metadata.httpStatusCode, 204);
    }
    await lambda.send(new DeleteLayerVersionCommand({ LayerName: 'never-was', VersionNumber: 1 }));
    const listed = await lambda.send(new ListLayersCommand({}));
    assert.ok(!listed.Layers?.some((l) => l.LayerName === 'numbers'), 'a layer without versions is not listed');
    assert.equal((await lambda.send(new PublishLayerVersionCommand({ LayerName: 'numbers', Content: { ZipFile: zip } }))).Version, 3);
    assert.deepEqual((await lambda.send(new ListLayerVersionsCommand({ LayerName: 'never-was' }))).LayerVersions, []);
  });

  test('ListLayerVersions: newest first, filters, pages; ListLayers: the latest matching version', async () => {
    await lambda.send(new PublishLayerVersionCommand({ LayerName: 'lst', Content: { ZipFile: zip }, CompatibleRuntimes: ['python3.12'], CompatibleArchitectures: ['arm64'] }));
    await lambda.send(new PublishLayerVersionCommand({ LayerName: 'lst', Content: { ZipFile: zip }, CompatibleRuntimes: ['nodejs20.x'] }));
    await lambda.send(new PublishLayerVersionCommand({ LayerName: 'lst', Content: { ZipFile: zip } }));
    const all = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'lst' }));
    assert.deepEqual(all.LayerVersions?.map((v) => v.Version), [3, 2, 1]);
    assert.equal(all.LayerVersions?.[0]?.LayerVersionArn, LAYER('lst', 3));
    assert.equal(all.NextMarker, undefined);
    const page1 = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'lst', MaxItems: 2 }));
    assert.deepEqual(page1.LayerVersions?.map((v) => v.Version), [3, 2]);
    const page2 = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'lst', MaxItems: 2, Marker: page1.NextMarker }));
    assert.deepEqual(page2.LayerVersions?.map((v) => v.Version), [1]);
    assert.equal(page2.NextMarker, undefined);
    const py = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'lst', CompatibleRuntime: 'python3.12' }));
    assert.deepEqual(py.LayerVersions?.map((v) => v.Version), [1]);
    const layers = await lambda.send(new ListLayersCommand({ CompatibleRuntime: 'nodejs20.x' }));
    const lst = layers.Layers?.find((l) => l.LayerName === 'lst');
    assert.equal(lst?.LayerArn, LAYER('lst'));
    assert.equal(lst?.LatestMatchingVersion?.Version, 2);
    const arm = await lambda.send(new ListLayersCommand({ CompatibleArchitecture: 'arm64' }));
    assert.deepEqual(arm.Layers?.map((l) => [l.LayerName, l.LatestMatchingVersion?.Version]), [['lst', 1]]);
    await rejects(lambda.send(new ListLayersCommand({ CompatibleRuntime: 'cobol' as never })), 'ValidationException',
      /^1 validation error detected: Value 'cobol' at 'compatibleRuntime' failed to satisfy constraint: Member must satisfy enum value set: \[/);
  });

  test('errors: missing versions, bad numbers and ARNs, bad runtimes, no content', async () => {
    await rejects(lambda.send(new GetLayerVersionCommand({ LayerName: 'nope', VersionNumber: 1 })), 'ResourceNotFoundException', 'The resource you requested does not exist.', 404);
    await rejects(lambda.send(new GetLayerVersionByArnCommand({ Arn: LAYER('nope', 1) })), 'ResourceNotFoundException', 'The resource you requested does not exist.', 404);
    await rejects(lambda.send(new GetLayerVersionCommand({ LayerName: 'nope', VersionNumber: 0 })), 'InvalidParameterValueException', 'Layer Version Cannot be less than 1', 400);
    await rejects(lambda.send(new GetLayerVersionByArnCommand({ Arn: LAYER('nope') })), 'ValidationException',
      `1 validation error detected: Value '${LAYER('nope')}' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+`);
    await rejects(lambda.send(new PublishLayerVersionCommand({ LayerName: 'bad', Content: { ZipFile: zip }, CompatibleRuntimes: ['cobol' as never], CompatibleArchitectures: ['sparc' as never] })),
      'ValidationException', /^2 validation errors detected: Value '\[cobol\]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy enum value set: \[.*\]; Value '\[sparc\]' at 'compatibleArchitectures' failed to satisfy constraint: Member must satisfy constraint: \[Member must satisfy enum value set: \[x86_64, arm64\]\]$/);
    await rejects(lambda.send(new PublishLayerVersionCommand({ LayerName: 'bad', Content: { ZipFile: Buffer.from('not a zip') } })), 'InvalidParameterValueException', 'Could not unzip uploaded file. Please check your file, then try to upload again.', 400);
    await rejects(lambda.send(new PublishLayerVersionCommand({ LayerName: 'bad', Content: { ZipFile: await makeZip({}) } })), 'InvalidParameterValueException', 'Uploaded file must be a non-empty zip', 400);
    await rejects(lambda.send(new PublishLayerVersionCommand({ LayerName: 'bad name!', Content: { ZipFile: zip } })), 'ValidationException', /at 'layerName' failed to satisfy constraint/);
    // Nothing of a refused publish is left: the name has no versions, and numbering starts at 1.
    assert.equal((await lambda.send(new PublishLayerVersionCommand({ LayerName: 'bad', Content: { ZipFile: zip } }))).Version, 1);
  });

  test('a function\'s Layers: shown with their sizes, at most five, each once, each existing', async () => {
    const code = { ZipFile: await makeZip({ 'index.js': 'exports.handler = async () => 1;' }) };
    const v = await Promise.all(['f1', 'f2', 'f3', 'f4', 'f5', 'f6'].map((n) => lambda.send(new PublishLayerVersionCommand({ LayerName: n, Content: { ZipFile: zip } }))));
    const arns = v.map((x) => x.LayerVersionArn!);
    const created = await lambda.send(new CreateFunctionCommand({ FunctionName: 'with-layers', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: code, Layers: arns.slice(0, 2) }));
    assert.deepEqual(created.Layers, [{ Arn: arns[0], CodeSize: zip.length }, { Arn: arns[1], CodeSize: zip.length }]);
    const fn = await lambda.send(new GetFunctionCommand({ FunctionName: 'with-layers' }));
    assert.deepEqual(fn.Configuration?.Layers?.map((l) => l.Arn), arns.slice(0, 2));
    const none = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'with-layers', Layers: [] }));
    assert.equal(none.Layers, undefined);
    await rejects(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'with-layers', Layers: arns })), 'InvalidParameterValueException', 'Cannot reference more than 5 layers.', 400);
    const again = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'f1', Content: { ZipFile: zip } }));
    await rejects(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'with-layers', Layers: [arns[0]!, again.LayerVersionArn!] })), 'InvalidParameterValueException',
      `Two different versions of the same layer are not allowed to be referenced in the same function. ${arns[0]} and ${again.LayerVersionArn} are versions of the same layer.`);
    await rejects(lambda.send(new CreateFunctionCommand({ FunctionName: 'missing-layer', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: code, Layers: [LAYER('f1', 9)] })),
      'InvalidParameterValueException', `Layer version ${LAYER('f1', 9)} does not exist.`, 400);
    await rejects(lambda.send(new CreateFunctionCommand({ FunctionName: 'other-region', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: code, Layers: ['arn:aws:lambda:eu-west-1:000000000000:layer:f1:1'] })),
      'InvalidParameterValueException', 'Layers are not in the same region as the function. Layers are expected to be in region us-east-1.');
    await rejects(lambda.send(new CreateFunctionCommand({ FunctionName: 'unversioned', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: code, Layers: [LAYER('f1')] })),
      'ValidationException', new RegExp(`^1 validation error detected: Value '\\[${LAYER('f1')}\\]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: \\[`));
    // A refused CreateFunction leaves no function behind.
    await rejects(lambda.send(new GetFunctionCommand({ FunctionName: 'missing-layer' })), 'ResourceNotFoundException', /Function not found/);
  });

  test('code and layers may unpack to 250 MB together, no more', async () => {
    // Zeros compress to almost nothing: two layers of 131,072,001 bytes unpacked each.
    const big = await makeZip({ 'big.bin': Buffer.alloc(131_072_001) });
    const a = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'big-a', Content: { ZipFile: big } }));
    const b = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'big-b', Content: { ZipFile: big } }));
    const source = 'exports.handler = async () => 1;';
    const code = { ZipFile: await makeZip({ 'index.js': source }) };
    const message = `Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is ${2 * 131_072_001 + source.length} bytes.`;
    await rejects(lambda.send(new CreateFunctionCommand({ FunctionName: 'too-big', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: code, Layers: [a.LayerVersionArn!, b.LayerVersionArn!] })),
      'InvalidParameterValueException', message, 400);
    await rejects(lambda.send(new GetFunctionCommand({ FunctionName: 'too-big' })), 'ResourceNotFoundException', /Function not found/);
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'almost', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: code, Layers: [a.LayerVersionArn!] }));
    await rejects(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'almost', Layers: [a.LayerVersionArn!, b.LayerVersionArn!] })), 'InvalidParameterValueException', message);
    const cfg = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'almost' }));
    assert.deepEqual(cfg.Layers?.map((l) => l.Arn), [a.LayerVersionArn], 'nothing changed');
  });

  test('layer version permissions: add, read, remove, with Lambda\'s refusals', async () => {
    await lambda.send(new PublishLayerVersionCommand({ LayerName: 'shared', Content: { ZipFile: zip } }));
    await rejects(lambda.send(new GetLayerVersionPolicyCommand({ LayerName: 'shared', VersionNumber: 1 })), 'ResourceNotFoundException', 'No policy is associated with the given resource.', 404);
    const added = await lambda.send(new AddLayerVersionPermissionCommand({ LayerName: 'shared', VersionNumber: 1, StatementId: 'acct', Action: 'lambda:GetLayerVersion', Principal: '123456789012' }));
    assert.equal(added.$metadata.httpStatusCode, 201);
    assert.deepEqual(JSON.parse(added.Statement!), {
      Sid: 'acct', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'lambda:GetLayerVersion', Resource: LAYER('shared', 1),
    });
    await rejects(lambda.send(new AddLayerVersionPermissionCommand({ LayerName: 'shared', VersionNumber: 1, StatementId: 'acct', Action: 'lambda:GetLayerVersion', Principal: '*' })),
      'ResourceConflictException', 'The statement id (acct) provided already exists. Please provide a new statement id, or remove the existing statement.', 409);
    await rejects(lambda.send(new AddLayerVersionPermissionCommand({ LayerName: 'shared', VersionNumber: 1, StatementId: 'x', Action: 'lambda:GetLayerVersion', Principal: '*', RevisionId: 'stale' })),
      'PreconditionFailedException', 'The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id', 412);
    const org = await lambda.send(new AddLayerVersionPermissionCommand({ LayerName: 'shared', VersionNumber: 1, StatementId: 'org', Action: 'lambda:GetLayerVersion', Principal: '*', OrganizationId: 'o-abcdefghij', RevisionId: added.RevisionId }));
    const policy = await lambda.send(new GetLayerVersionPolicyCommand({ LayerName: 'shared', VersionNumber: 1 }));
    assert.equal(policy.RevisionId, org.RevisionId);
    const doc = JSON.parse(policy.Policy!);
    assert.equal(doc.Version, '2012-10-17');
    assert.deepEqual(doc.Statement.map((s: { Sid: string }) => s.Sid), ['acct', 'org']);
    assert.deepEqual(doc.Statement[1].Condition, { StringEquals: { 'aws:PrincipalOrgID': 'o-abcdefghij' } });
    await rejects(lambda.send(new RemoveLayerVersionPermissionCommand({ LayerName: 'shared', VersionNumber: 1, StatementId: 'nope' })),
      'ResourceNotFoundException', 'Statement nope is not found in resource policy.', 404);
    for (const sid of ['acct', 'org']) await lambda.send(new RemoveLayerVersionPermissionCommand({ LayerName: 'shared', VersionNumber: 1, StatementId: sid }));
    await rejects(lambda.send(new GetLayerVersionPolicyCommand({ LayerName: 'shared', VersionNumber: 1 })), 'ResourceNotFoundException', 'No policy is associated with the given resource.');
    await rejects(lambda.send(new AddLayerVersionPermissionCommand({ LayerName: 'shared', VersionNumber: 5, StatementId: 'a', Action: 'lambda:GetLayerVersion', Principal: '*' })),
      'ResourceNotFoundException', `Layer version ${LAYER('shared', 5)} does not exist.`, 404);
    await rejects(lambda.send(new AddLayerVersionPermissionCommand({ LayerName: 'shared', VersionNumber: 1, StatementId: 'a', Action: '*', Principal: '*' })),
      'ValidationException', "1 validation error detected: Value '*' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: lambda:GetLayerVersion");
  });
});
