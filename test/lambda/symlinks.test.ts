import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateFunctionCommand, GetFunctionCommand, GetLayerVersionCommand, InvokeCommand, LambdaClient, PublishLayerVersionCommand,
} from '@aws-sdk/client-lambda';
import yauzl from 'yauzl';
import { clientConfig, startServer, type TestServer, SANDBOX_MODES } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

/**
 * Deployment packages and layers holding symlinks that point out of the code: Lambda keeps them
 * (`bootstrap -> /opt/bootstrap`, `node_modules -> /opt/nodejs/node_modules`, see
 * aws/aws-sam-cli#4364) and they resolve in the environment, where /opt is the function's layers.
 * The server stores them as links and never follows one on the host.
 */

const ROLE = 'arn:aws:iam::000000000000:role/test';
const decode = (p?: Uint8Array) => (p ? Buffer.from(p).toString('utf8') : '');

/** A bash custom runtime answering every invocation with `reply` and the path it was started as. */
const bootstrap = (reply: string) => `#!/bin/bash
set -euo pipefail
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  # The headers on stdout, not in a file: under the process sandbox /tmp is the host's.
  H=$(curl -sS -LD - "$API/invocation/next" -o /dev/null)
  ID=$(printf '%s\n' "$H" | grep -Fi Lambda-Runtime-Aws-Request-Id | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -X POST "$API/invocation/$ID/response" -d "{\\"reply\\":\\"${reply}\\",\\"as\\":\\"$0\\"}" -o /dev/null
done
`;

/** `zip -qry` of a directory made of `files` (content, or { link } for a symlink): what a user uploads. */
function zipTree(files: Record<string, string | { link: string } | { content: string; mode: number }>): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-links-src-'));
  try {
    for (const [name, v] of Object.entries(files)) {
      const p = path.join(dir, name);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      if (typeof v === 'string') fs.writeFileSync(p, v);
      else if ('link' in v) fs.symlinkSync(v.link, p);
      else fs.writeFileSync(p, v.content, { mode: v.mode });
    }
    execFileSync('zip', ['-qry', 'out.zip', ...new Set(Object.keys(files).map((n) => n.split('/')[0]!))], { cwd: dir });
    return fs.readFileSync(path.join(dir, 'out.zip'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The symlink entries of a zip: name -> target. */
function zipLinks(zip: Buffer): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true }, (err, z) => {
      if (err || !z) return reject(err);
      const out: Record<string, string> = {};
      z.on('entry', (e: yauzl.Entry) => {
        if (((e.externalFileAttributes >>> 16) & 0o170000) !== 0o120000) return z.readEntry();
        z.openReadStream(e, (err2, s) => {
          if (err2 || !s) return reject(err2);
          const chunks: Buffer[] = [];
          s.on('data', (c: Buffer) => chunks.push(c));
          s.on('end', () => { out[e.fileName] = Buffer.concat(chunks).toString(); z.readEntry(); });
        });
      });
      z.on('end', () => resolve(out));
      z.readEntry();
    });
  });
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('base64');

for (const mode of SANDBOX_MODES) {
  describe(`Symlinks out of the code (${mode.label})`, () => {
    let server: TestServer;
    let lambda: LambdaClient;
    /** Host files the functions' links point at: the server must never run, read or write them. */
    let host: string;
    const processDriver = mode.config.sandbox === 'process';
    before(async () => {
      server = await startServer(mode.config);
      lambda = new LambdaClient(clientConfig(server.endpoint));
      host = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-links-host-'));
    });
    after(async () => {
      await server?.stop();
      if (host) fs.rmSync(host, { recursive: true, force: true });
    });

    test('provided.al2023: bootstrap -> /opt/bootstrap, the bootstrap a layer ships', async () => {
      const layer = await lambda.send(new PublishLayerVersionCommand({
        LayerName: 'runtime', Content: { ZipFile: zipTree({ bootstrap: { content: bootstrap('from the layer'), mode: 0o755 } }) },
      }));
      const zip = zipTree({ bootstrap: { link: '/opt/bootstrap' }, 'README.md': 'the runtime is in the layer' });
      assert.deepEqual(await zipLinks(zip), { bootstrap: '/opt/bootstrap' }, 'zip -y stored the link as a link');
      const created = await lambda.send(new CreateFunctionCommand({
        FunctionName: 'linked-bootstrap', Runtime: 'provided.al2023', Handler: 'x', Role: ROLE, Code: { ZipFile: zip }, Layers: [layer.LayerVersionArn!],
      }));
      assert.equal(created.CodeSize, zip.length);
      const out = await lambda.send(new InvokeCommand({ FunctionName: 'linked-bootstrap' }));
      assert.equal(out.FunctionError, undefined, decode(out.Payload));
      const body = JSON.parse(decode(out.Payload));
      assert.equal(body.reply, 'from the layer');
      // Started as Lambda starts it, by the path it looks for; where the sandbox presents the
      // layers at their own path (not /opt), by the file the link leads to there.
      if (!processDriver) assert.equal(body.as, '/var/task/bootstrap');
      else assert.match(body.as, /\/code\/layers-[0-9a-f]{64}\/bootstrap$/);
    });

    test('nodejs20.x: node_modules -> /opt/nodejs/node_modules, for require and for ES modules', async () => {
      const layer = await lambda.send(new PublishLayerVersionCommand({
        LayerName: 'modules', Content: { ZipFile: await makeZip({ 'nodejs/node_modules/greet/index.js': "module.exports = (n) => 'layer hello ' + n;\n" }) },
      }));
      const zip = zipTree({
        'node_modules': { link: '/opt/nodejs/node_modules' },
        // A relative link climbing out of /var/task reaches /opt too, in the environment.
        'lib/modules': { link: '../../../opt/nodejs/node_modules' },
        'index.js': `exports.handler = async () => {
  let climbed = null;
  try { climbed = require('./lib/modules/greet')('climb'); } catch (e) { climbed = e.code; }
  return { cjs: require('greet')('cjs'), climbed };
};
`,
        'esm.mjs': "import greet from 'greet';\nexport const handler = async () => greet('esm');\n",
      });
      assert.deepEqual(await zipLinks(zip), { node_modules: '/opt/nodejs/node_modules', 'lib/modules': '../../../opt/nodejs/node_modules' });
      for (const [name, handler] of [['linked-modules', 'index.handler'], ['linked-modules-esm', 'esm.handler']] as const) {
        await lambda.send(new CreateFunctionCommand({
          FunctionName: name, Runtime: 'nodejs20.x', Handler: handler, Role: ROLE, Code: { ZipFile: zip }, Layers: [layer.LayerVersionArn!],
        }));
      }
      const cjs = await lambda.send(new InvokeCommand({ FunctionName: 'linked-modules' }));
      assert.equal(cjs.FunctionError, undefined, decode(cjs.Payload));
      // Under the process sandbox code and layers are at their data-dir paths: a link to /opt
      // finds the host's (require falls back on NODE_PATH, which names the layers).
      assert.deepEqual(JSON.parse(decode(cjs.Payload)), { cjs: 'layer hello cjs', climbed: processDriver ? 'MODULE_NOT_FOUND' : 'layer hello climb' });
      const esm = await lambda.send(new InvokeCommand({ FunctionName: 'linked-modules-esm' }));
      assert.equal(esm.FunctionError, undefined, decode(esm.Payload));
      assert.equal(JSON.parse(decode(esm.Payload)), 'layer hello esm');
    });

    test('links to host files are stored and served as links: GetFunction\'s download is the zip uploaded, sizes count the links', async () => {
      const zip = await makeZip({
        'index.js': 'exports.handler = async () => "ok";',
        passwd: { link: '/etc/passwd' },
        data: { link: server.dataDir },
        node: { link: process.execPath },
        up: { link: '../../../../..' },
      });
      const created = await lambda.send(new CreateFunctionCommand({ FunctionName: 'host-links', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip } }));
      assert.equal(created.CodeSize, zip.length);
      assert.equal(created.CodeSha256, sha256(zip));
      const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'host-links' }));
      const served = Buffer.from(await (await fetch(got.Code!.Location!)).arrayBuffer());
      assert.ok(served.equals(zip), 'the archive as uploaded');
      assert.deepEqual(await zipLinks(served), { passwd: '/etc/passwd', data: server.dataDir, node: process.execPath, up: '../../../../..' });

      const layer = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'host-links', Content: { ZipFile: zip } }));
      assert.equal(layer.Content?.CodeSize, zip.length);
      const lv = await lambda.send(new GetLayerVersionCommand({ LayerName: 'host-links', VersionNumber: layer.Version! }));
      assert.ok(Buffer.from(await (await fetch(lv.Content!.Location!)).arrayBuffer()).equals(zip));

      const out = await lambda.send(new InvokeCommand({ FunctionName: 'host-links' }));
      assert.equal(JSON.parse(decode(out.Payload)), 'ok', decode(out.Payload));
      // Unpacked, they are links still, with the targets as given.
      const dir = path.join(server.dataDir, 'code', Buffer.from(created.CodeSha256!, 'base64').toString('hex'));
      assert.equal(fs.readlinkSync(path.join(dir, 'passwd')), '/etc/passwd');
      assert.equal(fs.readlinkSync(path.join(dir, 'data')), server.dataDir);
    });

    test('a bootstrap linked to a host file is never looked at on the host: it fails at invoke, in the sandbox (refused under the process sandbox)', async () => {
      // A host file outside any layer, which leaves a mark if anything runs it: executable by its
      // owner only, so that a server that looked at it on the host (as root) would say "permission
      // denied" where the environment, which cannot see it, says "no such file or directory".
      const mark = path.join(host, 'ran');
      const probe = path.join(host, 'probe');
      fs.writeFileSync(probe, `#!/bin/sh\ntouch '${mark}'\n`, { mode: 0o744 });
      for (const [name, target] of [['to-probe', probe], ['to-passwd', '/etc/passwd']] as const) {
        await lambda.send(new CreateFunctionCommand({
          FunctionName: name, Runtime: 'provided.al2023', Handler: 'x', Role: ROLE, Code: { ZipFile: await makeZip({ bootstrap: { link: target } }) },
        }));
        const out = await lambda.send(new InvokeCommand({ FunctionName: name }));
        assert.equal(out.FunctionError, 'Unhandled', decode(out.Payload));
        const err = JSON.parse(decode(out.Payload));
        assert.equal(err.errorType, 'Runtime.InvalidEntrypoint', decode(out.Payload));
        if (processDriver) {
          // The process sandbox's exec is the host's: refused before it, saying why.
          assert.match(err.errorMessage, new RegExp(`symlink /var/task/bootstrap -> ${target} leads out of the function's code and layers`));
        } else {
          // The environment's own exec, as its uid, in its own mount namespace: the host's /tmp is not
          // there, and its /etc/passwd is not executable.
          assert.match(err.errorMessage, name === 'to-probe' ? /fork\/exec \/var\/task\/bootstrap: no such file or directory/ : /fork\/exec \/var\/task\/bootstrap: permission denied/);
        }
      }
      assert.ok(!fs.existsSync(mark), 'the host file was never run');
    });

    test('layers: a link is replaced by a later layer\'s directory, never written through; an extensions link is not listed on the host', async () => {
      const target = path.join(host, 'planted');
      fs.mkdirSync(target);
      const extDir = path.join(host, 'extensions');
      fs.mkdirSync(extDir);
      const mark = path.join(host, 'extension-ran');
      fs.writeFileSync(path.join(extDir, 'probe'), `#!/bin/sh\ntouch '${mark}'\nsleep 5\n`, { mode: 0o755 });
      const a = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'link-a', Content: { ZipFile: await makeZip({ dir: { link: target }, extensions: { link: extDir } }) } }));
      const b = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'link-b', Content: { ZipFile: await makeZip({ 'dir/owned.txt': 'from B' }) } }));
      await lambda.send(new CreateFunctionCommand({
        FunctionName: 'layer-links', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Layers: [a.LayerVersionArn!, b.LayerVersionArn!],
        Code: { ZipFile: await makeZip({ 'index.js': "exports.handler = async () => { try { return require('node:fs').readFileSync('/opt/dir/owned.txt', 'utf8'); } catch (e) { return e.code; } };" }) },
      }));
      const out = await lambda.send(new InvokeCommand({ FunctionName: 'layer-links' }));
      assert.equal(out.FunctionError, undefined, decode(out.Payload));
      // The process sandbox has no /opt of the function's own.
      if (!processDriver) assert.equal(JSON.parse(decode(out.Payload)), 'from B');
      const merged = fs.readdirSync(path.join(server.dataDir, 'code')).filter((n) => n.startsWith('layers-')).map((n) => path.join(server.dataDir, 'code', n, 'dir'))
        .filter((d) => { try { fs.lstatSync(d); return true; } catch { return false; } });
      assert.equal(merged.length, 1);
      assert.ok(fs.lstatSync(merged[0]!).isDirectory());
      assert.equal(fs.readFileSync(path.join(merged[0]!, 'owned.txt'), 'utf8'), 'from B');
      assert.deepEqual(fs.readdirSync(target), [], 'nothing written through the link');
      assert.ok(!fs.existsSync(mark), 'no extension started from the host directory');
    });
  });
}
