import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { LambdaClient, PublishLayerVersionCommand } from '@aws-sdk/client-lambda';
import { makeZip } from '../helpers/zip.js';
import { bin, childEnv, closedPort, eventually, oneErrorLine, repoRoot, run, up, writeDir, type UpProcess } from './helpers.js';

const V1 = `export const handler = async (event, context) => {
  if (event.log) console.log(event.log);
  if (event.fail) throw new TypeError(event.fail);
  return { code: 1, got: event, greeting: process.env.GREETING ?? null, memory: Number(context.memoryLimitInMB) };
};
`;
const V2 = V1.replace('code: 1', 'code: 2');

let s: UpProcess;
const dirs: string[] = [];
const dir = (files: Parameters<typeof writeDir>[0]) => {
  const d = writeDir(files);
  dirs.push(d);
  return d;
};
/** `stratus ARGS --endpoint <the test server>` */
const cli = (...args: string[]) => run([...args, '--endpoint', s.url]);
const ok = async (...args: string[]) => {
  const r = await cli(...args);
  assert.equal(r.code, 0, `stratus ${args.join(' ')} failed: ${r.stderr}`);
  return r;
};
const json = async (...args: string[]) => JSON.parse((await ok(...args, '--json')).stdout);

before(async () => {
  s = await up();
});
after(async () => {
  await s?.stop();
  if (s) fs.rmSync(s.dataDir, { recursive: true, force: true });
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('deploy-function creates from a directory, then updates code and only the settings given', async () => {
  const src = dir({ 'index.mjs': V1 });
  const created = await ok('deploy-function', 'greeter', src, '--timeout', '10', '--description', 'first');
  assert.match(created.stdout, /^created function greeter from directory /m);
  for (const re of [/^FunctionName\s+greeter$/m, /^Version\s+\$LATEST$/m, /^Runtime\s+nodejs20\.x$/m, /^Handler\s+index\.handler$/m, /^MemorySize\s+128 MB$/m, /^Timeout\s+10 s$/m, /^CodeSha256\s+\S{44}$/m, /^State\s+Active$/m]) {
    assert.match(created.stdout, re);
  }
  const first = JSON.parse((await ok('invoke', 'greeter', '--payload', '{"hi":1}')).stdout);
  assert.deepEqual(first, { code: 1, got: { hi: 1 }, greeting: null, memory: 128 });

  const v2 = dir({ 'index.mjs': V2 });
  const updated = await json('deploy-function', 'greeter', v2, '--memory', '256', '--env', 'GREETING=hello', '--env', 'EMPTY=');
  assert.equal(updated.MemorySize, 256);
  assert.equal(updated.Timeout, 10, 'a setting not given is left alone');
  assert.equal(updated.Description, 'first');
  assert.equal(updated.Runtime, 'nodejs20.x');
  assert.deepEqual(updated.Environment?.Variables, { GREETING: 'hello', EMPTY: '' });
  assert.notEqual(updated.CodeSha256, undefined);
  const second = JSON.parse((await ok('invoke', 'greeter')).stdout);
  assert.deepEqual(second, { code: 2, got: {}, greeting: 'hello', memory: 256 });

  // Code only: the configuration stays as it is.
  const codeOnly = await json('deploy-function', 'greeter', src);
  assert.equal(codeOnly.MemorySize, 256);
  assert.deepEqual(codeOnly.Environment?.Variables, { GREETING: 'hello', EMPTY: '' });
  assert.equal(JSON.parse((await ok('invoke', 'greeter')).stdout).code, 1);
});

test('deploy-function --layer: the function gets those layers, in order', async () => {
  const lambda = new LambdaClient({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  const layer = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'cli-layer', Content: { ZipFile: await makeZip({ 'nodejs/node_modules/hello/index.js': "module.exports = 'from the layer';" }) } }));
  const src = dir({ 'index.js': "exports.handler = async () => require('hello');\n" });
  const created = await ok('deploy-function', 'layered', src, '--layer', layer.LayerVersionArn!);
  assert.match(created.stdout, new RegExp(`^Layers\\s+${layer.LayerVersionArn}$`, 'm'));
  assert.equal(JSON.parse((await ok('invoke', 'layered')).stdout), 'from the layer');
});

test('deploy-function infers python from a directory of .py files, and takes a .zip file', async () => {
  const py = dir({ 'lambda_function.py': 'def lambda_handler(event, context):\n    return {"lang": "python", "got": event}\n' });
  const cfg = await json('deploy-function', 'pyfn', py);
  assert.equal(cfg.Runtime, 'python3.12');
  assert.equal(cfg.Handler, 'lambda_function.lambda_handler');
  assert.deepEqual(JSON.parse((await ok('invoke', 'pyfn', '--payload', '[1,2]')).stdout), { lang: 'python', got: [1, 2] });

  const { makeZip } = await import('../helpers/zip.js');
  const zipFile = path.join(dir({}), 'code.zip');
  fs.writeFileSync(zipFile, await makeZip({ 'app.mjs': 'export const main = async () => "from a zip";\n' }));
  const z = await ok('deploy-function', 'zipfn', zipFile, '--handler', 'app.main');
  assert.match(z.stdout, /^created function zipfn from zip /m);
  assert.equal((await ok('invoke', 'zipfn')).stdout.trim(), '"from a zip"');
});

test('deploy-function picks provided.al2023 for an executable bootstrap (a bash custom runtime)', async () => {
  const { bashFunction } = await import('../environments/helpers.js');
  const files = Object.fromEntries(
    Object.entries(bashFunction('echo "{\\"custom\\":$1}"')).map(([k, v]) => [k, typeof v === 'string' ? v : { content: v.text, mode: v.mode }]),
  );
  const cfg = await json('deploy-function', 'bashfn', dir(files));
  assert.equal(cfg.Runtime, 'provided.al2023');
  assert.deepEqual(JSON.parse((await ok('invoke', 'bashfn', '--payload', '{"n":7}')).stdout), { custom: { n: 7 } });
});

test('invoke: payload inline, from @file and stdin; --log tail on stderr; function errors exit 1', async () => {
  const src = dir({ 'index.mjs': V1 });
  await ok('deploy-function', 'inv', src);
  const file = path.join(dir({}), 'event.json');
  fs.writeFileSync(file, '{"from":"file"}');
  assert.deepEqual(JSON.parse((await ok('invoke', 'inv', '--payload', `@${file}`)).stdout).got, { from: 'file' });
  const piped = await run(['invoke', 'inv', '--payload', '@-', '--endpoint', s.url], { input: '{"from":"stdin"}' });
  assert.equal(piped.code, 0, piped.stderr);
  assert.deepEqual(JSON.parse(piped.stdout).got, { from: 'stdin' });

  const marker = `tail-${process.pid}-${Date.now()}`;
  const logged = await ok('invoke', 'inv', '--log', '--payload', JSON.stringify({ log: marker }));
  assert.deepEqual(JSON.parse(logged.stdout).got, { log: marker }, 'stdout is the payload only');
  assert.match(logged.stderr, new RegExp(marker));
  assert.doesNotMatch(logged.stdout, new RegExp(`^${marker}`, 'm'));
  const tail = await json('invoke', 'inv', '--log', '--payload', JSON.stringify({ log: marker }));
  assert.equal(tail.StatusCode, 200);
  assert.match(tail.LogResult, new RegExp(marker));

  const failed = await cli('invoke', 'inv', '--payload', '{"fail":"boom"}');
  const line = oneErrorLine(failed);
  assert.match(line, /^stratus: function inv failed with TypeError: boom \(Unhandled\)$/);
  const payload = JSON.parse(failed.stdout);
  assert.equal(payload.errorType, 'TypeError');
  assert.equal(payload.errorMessage, 'boom');
});

test('invoke --async is accepted with a request id, and the event runs', async () => {
  await ok('deploy-function', 'later', dir({ 'index.mjs': V1 }));
  const marker = `async-${process.pid}-${Date.now()}`;
  const r = await ok('invoke', 'later', '--async', '--payload', JSON.stringify({ log: marker }));
  assert.match(r.stdout, /^accepted: later runs asynchronously, request id [0-9a-f-]{36} /);
  const j = await json('invoke', 'later', '--async');
  assert.equal(j.StatusCode, 202);
  assert.match(j.RequestId, /^[0-9a-f-]{36}$/);
  await eventually('the async event to log its marker', async () => {
    const l = await cli('logs', 'later', '--filter', marker);
    return l.code === 0 && l.stdout.includes(marker) ? true : undefined;
  }, 60_000);
});

test('publish, alias (create, --weight, update), --qualifier, rm a version and the function', async () => {
  const src = dir({ 'index.mjs': V1 });
  await ok('deploy-function', 'ver', src);
  const p1 = await ok('publish', 'ver', '--description', 'one');
  assert.match(p1.stdout, /^published version 1 of ver /);
  await ok('deploy-function', 'ver', dir({ 'index.mjs': V2 }));
  const v2 = await json('publish', 'ver');
  assert.equal(v2.Version, '2');
  assert.equal(v2.FunctionArn.endsWith(':ver:2'), true);

  const created = await ok('alias', 'ver', 'live', '1', '--weight', '2=0.25', '--description', 'canary');
  assert.match(created.stdout, /^created alias ver:live -> 1 \(2: 25%\)$/m);
  const weighted = await json('alias', 'ver', 'live', '1', '--weight', '2=0.5');
  assert.equal(weighted.FunctionVersion, '1');
  assert.deepEqual(weighted.RoutingConfig, { AdditionalVersionWeights: { '2': 0.5 } });
  assert.equal(weighted.Description, 'canary', 'an update without --description keeps it');
  const moved = await ok('alias', 'ver', 'live', '2');
  assert.match(moved.stdout, /^updated alias ver:live -> 2$/m, 'an update without --weight clears the routing');

  const one = await ok('invoke', 'ver', '--qualifier', '1');
  assert.equal(JSON.parse(one.stdout).code, 1);
  assert.match(one.stderr, /^executed version 1$/m);
  const live = await ok('invoke', 'ver', '--qualifier', 'live');
  assert.equal(JSON.parse(live.stdout).code, 2);
  assert.match(live.stderr, /^executed version 2$/m);
  const latest = await ok('invoke', 'ver');
  assert.equal(latest.stderr, '', 'nothing on stderr for $LATEST');

  assert.match((await ok('rm', 'ver', '--qualifier', '1')).stdout, /^deleted version 1 of ver$/m);
  oneErrorLine(await cli('invoke', 'ver', '--qualifier', '1'));
  const listed = await ok('ls');
  assert.match(listed.stdout.split('\n')[0]!, /^NAME\s+RUNTIME\s+MEMORY\s+TIMEOUT\s+LAST MODIFIED$/);
  assert.match(listed.stdout, /^ver\s+nodejs20\.x\s+128 MB\s+3s\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/m);
  assert.deepEqual(await json('rm', 'ver'), { FunctionName: 'ver', Qualifier: null, StatusCode: 204 });
  const names = (await json('ls')).map((f: { FunctionName: string }) => f.FunctionName);
  assert.equal(names.includes('ver'), false);
});

test('ls pages through more functions than one page holds', async () => {
  const src = dir({ 'index.mjs': V1 });
  // A zip per function would be slow through the CLI: create them straight through the API.
  const { zipDirectory } = await import('../../src/code/index.js');
  const zip = (await zipDirectory(src)).toString('base64');
  for (let i = 0; i < 55; i++) {
    const r = await fetch(`${s.url}/2015-03-31/functions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ FunctionName: `page-${String(i).padStart(2, '0')}`, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'arn:aws:iam::000000000000:role/x', Code: { ZipFile: zip } }),
    });
    assert.equal(r.status, 201, await r.text());
  }
  const names: string[] = (await json('ls')).map((f: { FunctionName: string }) => f.FunctionName);
  assert.equal(names.filter((n) => n.startsWith('page-')).length, 55);
  assert.equal(new Set(names).size, names.length);
});

test('logs: --since, --until, --filter, and --follow printing a line written after it started, once', async () => {
  await ok('deploy-function', 'talk', dir({ 'index.mjs': V1 }));
  const tag = `${process.pid}-${Date.now()}`;
  await ok('invoke', 'talk', '--payload', JSON.stringify({ log: `early-${tag}` }));
  await eventually('the first line in the logs', async () => {
    const r = await cli('logs', 'talk');
    return r.code === 0 && r.stdout.includes(`early-${tag}`) ? true : undefined;
  });
  await new Promise((r) => setTimeout(r, 20));
  const between = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 20));
  await ok('invoke', 'talk', '--payload', JSON.stringify({ log: `late-${tag}` }));
  await eventually('the second line in the logs', async () => {
    const r = await cli('logs', 'talk', '--since', '5m');
    return r.stdout.includes(`late-${tag}`) ? true : undefined;
  });

  const all = await ok('logs', 'talk', '--since', '1h');
  const lines = all.stdout.split('\n').filter(Boolean);
  assert.ok(lines.every((l) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z \S+ /.test(l)), all.stdout);
  assert.ok(lines.findIndex((l) => l.includes(`early-${tag}`)) < lines.findIndex((l) => l.includes(`late-${tag}`)));
  const since = (await ok('logs', 'talk', '--since', between)).stdout;
  assert.equal(since.includes(`early-${tag}`), false);
  assert.equal(since.includes(`late-${tag}`), true);
  const until = (await ok('logs', 'talk', '--since', '1h', '--until', between)).stdout;
  assert.equal(until.includes(`early-${tag}`), true);
  assert.equal(until.includes(`late-${tag}`), false);
  const filtered = (await ok('logs', 'talk', '--since', '1h', '--filter', `late-${tag}`)).stdout.split('\n').filter(Boolean);
  assert.equal(filtered.length, 1);
  assert.match(filtered[0]!, new RegExp(`late-${tag}$`));
  const events = (await ok('logs', 'talk', '--json')).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.ok(events.every((e) => typeof e.eventId === 'string' && typeof e.timestamp === 'number' && typeof e.logStreamName === 'string'));

  // --follow: starts, prints what exists, then a line written after it started, never twice.
  const follow = spawn(process.execPath, [bin, 'logs', 'talk', '--follow', '--json', '--since', '1h', '--endpoint', s.url], { env: childEnv(), cwd: repoRoot });
  let out = '';
  follow.stdout.on('data', (c: Buffer) => (out += c.toString()));
  let err = '';
  follow.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => follow.on('exit', (code) => r(code)));
  try {
    await eventually('follow to print the existing lines', async () => (out.includes(`late-${tag}`) ? true : undefined));
    await ok('invoke', 'talk', '--payload', JSON.stringify({ log: `followed-${tag}` }));
    await eventually('follow to print the new line', async () => (out.includes(`followed-${tag}`) ? true : undefined));
    await ok('invoke', 'talk', '--payload', JSON.stringify({ log: `again-${tag}` }));
    await eventually('follow to print another line', async () => (out.includes(`again-${tag}`) ? true : undefined));
    follow.kill('SIGINT');
    assert.equal(await exited, 0, err);
    const seen = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { eventId: string; message: string });
    assert.equal(new Set(seen.map((e) => e.eventId)).size, seen.length, 'no event printed twice');
    assert.equal(seen.filter((e) => e.message.includes(`followed-${tag}`)).length, 1);
  } finally {
    follow.kill('SIGKILL');
  }
});

test('the other registered commands work through the shared client: url, api, events, queues, send, rules', async () => {
  await ok('deploy-function', 'others', dir({ 'index.mjs': V1 }));
  const url = await ok('url', 'others');
  assert.match(url.stdout, /^https?:\/\/\S+\/$/m);
  assert.match(oneErrorLine(await cli('url', 'no-such-fn')), /\(ResourceNotFoundException\)$/);
  assert.equal((await ok('api', 'ls')).stdout.trim(), 'no APIs');
  const api = await json('api', 'create', 'shop', '--route', 'GET /hi=others');
  assert.match(api.apiId, /^\w+$/);
  assert.match((await ok('api', 'ls')).stdout, new RegExp(`^${api.apiId}\\s+shop\\s`, 'm'));
  assert.match((await ok('api', 'rm', api.apiId)).stdout, /^deleted API /);
  oneErrorLine(await cli('api', 'create', 'x', '--route', 'nonsense'), 2);
  await ok('invoke', 'others', '--async');
  const events = await ok('events', 'others');
  assert.match(events.stdout.split('\n')[0]!, /^REQUEST ID\s+STATE\s+ATTEMPTS/);
  assert.equal((await ok('queues')).stdout.trim(), 'no queues');
  assert.match(oneErrorLine(await cli('send', 'no-such-queue', 'x')), /^stratus: The specified queue does not exist\. \(QueueDoesNotExist\)$/);
  const rules = await ok('rules', '--json');
  assert.ok(Array.isArray(JSON.parse(rules.stdout)));
});

test('every error path prints one line and exits 1; usage errors exit 2', async () => {
  const nf = oneErrorLine(await cli('invoke', 'no-such-fn'));
  assert.match(nf, /^stratus: Function not found: arn:aws:lambda:[a-z0-9-]+:\d{12}:function:no-such-fn \(ResourceNotFoundException\)$/);
  assert.match(oneErrorLine(await cli('rm', 'no-such-fn')), /\(ResourceNotFoundException\)$/);
  assert.match(oneErrorLine(await cli('publish', 'no-such-fn')), /\(ResourceNotFoundException\)$/);
  assert.match(oneErrorLine(await cli('logs', 'no-such-fn')), /^stratus: no logs for no-such-fn: .* \(ResourceNotFoundException\)$/);
  // events on an unknown function fails like every other command, not with an empty table.
  assert.match(oneErrorLine(await cli('events', 'no-such-fn')), /^stratus: Function not found: arn:aws:lambda:[a-z0-9-]+:\d{12}:function:no-such-fn \(ResourceNotFoundException\)$/);
  assert.match(oneErrorLine(await cli('deploy-function', 'x', '/no/such/dir')), /^stratus: \/no\/such\/dir: no such file or directory$/);
  assert.match(oneErrorLine(await cli('invoke', 'x', '--payload', '{not json')), /^stratus: the payload is not valid JSON/);

  await ok('deploy-function', 'errs', dir({ 'index.mjs': V1 }));
  assert.match(oneErrorLine(await cli('deploy-function', 'errs2', dir({ 'index.mjs': V1 }), '--memory', '64')), /\((ValidationException|InvalidParameterValueException)\)$/);
  assert.match(oneErrorLine(await cli('alias', 'errs', 'live', '42')), /\((ResourceNotFoundException|InvalidParameterValueException)\)$/);
  assert.match(oneErrorLine(await cli('invoke', 'errs', '--qualifier', 'nope')), /\(ResourceNotFoundException\)$/);
  // DeleteFunction answers 204 for a version that never was; rm does not claim to have deleted it.
  const rmMissing = await cli('rm', 'errs', '--qualifier', '9');
  assert.match(oneErrorLine(rmMissing), /^stratus: Function not found: arn:aws:lambda:[a-z0-9-]+:\d{12}:function:errs:9 \(ResourceNotFoundException\)$/);
  assert.equal(rmMissing.stdout, '');
  assert.match(oneErrorLine(await cli('invoke', 'errs', '--async', '--log'), 2), /^stratus: --log and --async do not go together/);
  // A symlink leaving the directory is refused here, by the CLI: no server error code on it.
  const linked = dir({ 'index.mjs': V1 });
  fs.symlinkSync('../elsewhere', path.join(linked, 'outside'));
  const refused = oneErrorLine(await cli('deploy-function', 'linked', linked));
  assert.match(refused, /^stratus: Cannot zip outside: symlink target '\.\.\/elsewhere' is outside the directory$/);

  const port = await closedPort();
  const down = oneErrorLine(await run(['ls', '--endpoint', `http://127.0.0.1:${port}`]));
  assert.match(down, new RegExp(`^stratus: cannot reach Stratus at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
  // The environment names the default endpoint.
  assert.match(oneErrorLine(await run(['ls'], { env: { STRATUS_ENDPOINT: `http://127.0.0.1:${port}` } })), /ECONNREFUSED/);
  oneErrorLine(await run(['ls', '--endpoint', 'not a url']), 2);

  oneErrorLine(await cli('ls', '--bogus'), 2);
  oneErrorLine(await run(['no-such-command']), 2);
  oneErrorLine(await cli('invoke'), 2);
  oneErrorLine(await cli('alias', 'errs', 'live', '1', '--weight', '2=7'), 2);
  oneErrorLine(await cli('logs', 'errs', '--since', 'last tuesday'), 2);
  oneErrorLine(await cli('deploy-function', 'errs', '.', '--env', 'NOEQUALS'), 2);
});

test('logs --follow on a function that does not exist yet says so once on stderr, and keeps waiting', async () => {
  const follow = spawn(process.execPath, [bin, 'logs', 'not-yet-fn', '--follow', '--endpoint', s.url], { env: childEnv(), cwd: repoRoot });
  let err = '';
  follow.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => follow.on('exit', (code) => r(code)));
  try {
    await eventually('the notice', async () => (err.includes('\n') ? true : undefined));
    assert.equal(err, 'waiting for log group /aws/lambda/not-yet-fn: it does not exist yet\n');
    await ok('deploy-function', 'not-yet-fn', dir({ 'index.mjs': V1 }));
    const marker = `created-later-${process.pid}`;
    let out = '';
    follow.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await ok('invoke', 'not-yet-fn', '--payload', JSON.stringify({ log: marker }));
    await eventually('follow to print the first line', async () => (out.includes(marker) ? true : undefined));
    assert.equal(err.split('\n').filter(Boolean).length, 1, 'the notice is printed once');
    follow.kill('SIGINT');
    assert.equal(await exited, 0, err);
  } finally {
    follow.kill('SIGKILL');
  }
});

test('--version and help', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const v = await run(['--version']);
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), pkg.version);
  const h = await run(['help']);
  assert.equal(h.code, 0);
  for (const c of ['up', 'deploy-function', 'invoke', 'logs', 'ls', 'rm', 'publish', 'alias', 'api', 'url', 'events', 'send', 'queues', 'rules']) {
    assert.match(h.stdout, new RegExp(`^  ${c} `, 'm'), c);
  }
  const d = await run(['help', 'deploy-function']);
  assert.equal(d.code, 0);
  const text = d.stdout.replace(/\s+/g, ' ');
  assert.match(text, /provided\.al2023 when the package has an executable bootstrap, python3\.12 when it has \.py files and no \.js\/\.mjs\/\.cjs, else nodejs20\.x/);
  assert.match(text, /lambda_function\.lambda_handler when lambda_function\.py exists/);
});

