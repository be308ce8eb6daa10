import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { clientConfig } from '../helpers/server.js';
import { ECHO, createNodeFunction, json, request, startGatewayServer } from './helpers.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/stratus.js');
const HELLO = `export const handler = async () => ({ statusCode: 200, headers: { 'content-type': 'text/plain' }, body: 'hello from stratus' });\n`;
const STREAM = `export const handler = awslambda.streamifyResponse(async (_e, s) => { s.setContentType('text/plain'); s.write('a'); s.end('b'); });\n`;

/** `stratus ...args` as a child process (asynchronous: the server runs in this process). */
function stratus(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.STRATUS_ENDPOINT;
    const p = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Requests a printed URL (http://ID.execute-api.localhost:PORT/... or a path form) without DNS. */
function fetchPrinted(url: string, opts: { method?: string; headers?: Record<string, string> } = {}) {
  const u = new URL(url);
  return request({ port: Number(u.port), path: `${u.pathname}${u.search}`, host: u.host, method: opts.method, headers: opts.headers });
}

describe('stratus api / stratus url', () => {
  let server: Awaited<ReturnType<typeof startGatewayServer>>;
  let lambda: LambdaClient;

  before(async () => {
    server = await startGatewayServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
    await createNodeFunction(lambda, 'hello', HELLO);
    await createNodeFunction(lambda, 'echo', ECHO);
    await createNodeFunction(lambda, 'streamer', STREAM);
  });
  after(async () => {
    lambda?.destroy();
    await server?.stop();
  });

  const cli = (...args: string[]) => stratus(...args, '--endpoint', server.endpoint);

  test('api create prints URLs that serve the routes; api ls lists them', async () => {
    const empty = await cli('api', 'ls');
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout.trim(), 'no APIs');

    const created = await cli('api', 'create', 'shop', '--route', 'GET /hello=hello', '--route', 'POST /items/{id}=echo', '--route', 'ANY /files/{proxy+}=echo');
    assert.equal(created.code, 0, created.stderr);
    const apiId = /created API shop \(([a-z0-9]+)\)/.exec(created.stdout)?.[1];
    assert.ok(apiId, created.stdout);
    const url = /^url:\s+(\S+)$/m.exec(created.stdout)![1]!;
    const pathForm = /^path form:\s+(\S+)$/m.exec(created.stdout)![1]!;
    assert.equal(url, `http://${apiId}.execute-api.localhost:${server.port}/`);
    assert.equal(pathForm, `${server.endpoint}/_apis/${apiId}/`);

    for (const base of [url, pathForm]) {
      const hello = await fetchPrinted(`${base}hello`);
      assert.equal(hello.status, 200, hello.body.toString());
      assert.equal(hello.body.toString(), 'hello from stratus');
      const item = json(await fetchPrinted(`${base}items/42`, { method: 'POST' }));
      assert.equal(item.routeKey, 'POST /items/{id}');
      assert.deepEqual(item.pathParameters, { id: '42' });
      const file = json(await fetchPrinted(`${base}files/a/b.txt`, { method: 'DELETE' }));
      assert.deepEqual(file.pathParameters, { proxy: 'a/b.txt' });
      assert.equal((await fetchPrinted(`${base}nothing`)).status, 404);
    }

    const ls = await cli('api', 'ls');
    assert.equal(ls.code, 0, ls.stderr);
    const row = ls.stdout.split('\n').find((l) => l.startsWith(apiId!))!;
    assert.ok(row, ls.stdout);
    assert.match(row, /\bshop\b/);
    assert.match(row, /\$default/);
    for (const k of ['GET /hello', 'POST /items/{id}', 'ANY /files/{proxy+}']) assert.ok(row.includes(k), `${k} in ${row}`);
    const lsJson = JSON.parse((await cli('api', 'ls', '--json')).stdout) as Array<{ apiId: string; routes: string[]; url: string }>;
    const mine = lsJson.find((a) => a.apiId === apiId)!;
    assert.deepEqual([...mine.routes].sort(), ['ANY /files/{proxy+}', 'GET /hello', 'POST /items/{id}']);
    assert.equal(mine.url, `http://${apiId}.execute-api.localhost:${server.port}`);
  });

  test('api create with a named stage, payload 1.0 and CORS', async () => {
    const r = await cli('api', 'create', 'legacy', '--route', 'GET /old/{id}=echo', '--stage', 'v1', '--payload', '1.0', '--cors', 'https://app.example', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { apiId: string; endpoint: string; pathUrl: string };
    assert.equal(out.endpoint, `http://${out.apiId}.execute-api.localhost:${server.port}/v1/`);
    const ev = json(await fetchPrinted(`${out.pathUrl}old/7`));
    assert.equal(ev.version, '1.0');
    assert.equal(ev.requestContext.stage, 'v1');
    assert.deepEqual(ev.pathParameters, { id: '7' });
    const pre = await fetchPrinted(`${out.endpoint}old/7`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example');
    const bad = await cli('api', 'create', 'x', '--route', 'GET /x');
    assert.equal(bad.code, 2, 'a route without =FUNCTION is a usage error');
    const badKey = await cli('api', 'create', 'y', '--route', 'FETCH /x=echo');
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /BadRequestException/);
    assert.ok(!(await cli('api', 'ls')).stdout.includes(' y '), 'a failed create leaves no half-made API behind');
  });

  test('url NAME prints a URL to curl, creating it once; --stream; --no-create', async () => {
    const first = await cli('url', 'hello');
    assert.equal(first.code, 0, first.stderr);
    const [url, pathLine] = first.stdout.trim().split('\n');
    assert.match(url!, new RegExp(`^http://[a-z0-9]{32}\\.lambda-url\\.localhost:${server.port}/$`));
    const again = await cli('url', 'hello');
    assert.equal(again.stdout.split('\n')[0], url, 'the same URL the second time');
    const r = await fetchPrinted(url!);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hello from stratus');
    const pathForm = /^path form: (\S+)$/.exec(pathLine!)![1]!;
    assert.equal((await fetchPrinted(pathForm)).body.toString(), 'hello from stratus');

    const s = await cli('url', 'streamer', '--stream', '--json');
    assert.equal(s.code, 0, s.stderr);
    const cfg = JSON.parse(s.stdout) as { FunctionUrl: string; InvokeMode: string; AuthType: string };
    assert.equal(cfg.InvokeMode, 'RESPONSE_STREAM');
    assert.equal(cfg.AuthType, 'NONE');
    const streamed = await fetchPrinted(cfg.FunctionUrl);
    assert.equal(streamed.headers['transfer-encoding'], 'chunked');
    assert.equal(streamed.body.toString(), 'ab');

    const none = await cli('url', 'echo', '--no-create');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /ResourceNotFoundException/);
    const missing = await cli('url', 'no-such-function');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Function not found/);
  });
});
