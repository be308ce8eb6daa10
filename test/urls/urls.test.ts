import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  CreateAliasCommand, CreateFunctionUrlConfigCommand, DeleteAliasCommand, DeleteFunctionCommand, DeleteFunctionUrlConfigCommand, GetFunctionUrlConfigCommand,
  LambdaClient, ListFunctionUrlConfigsCommand, PublishVersionCommand, UpdateFunctionUrlConfigCommand,
} from '@aws-sdk/client-lambda';
import { clientConfig } from '../helpers/server.js';
import { ECHO, createNodeFunction, fnArn, json, request, startGatewayServer } from '../gateway/helpers.js';

const STREAMER = `
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const gate = event.queryStringParameters.gate;
  const stream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201, headers: { 'content-type': 'text/plain', 'x-s': 'yes' }, cookies: ['s=1'] });
  stream.write('first;');
  let opened = false;
  for (let i = 0; i < 400 && !opened; i++) {
    try { const r = await fetch(gate); opened = (await r.text()) === 'open'; } catch {}
    if (!opened) await new Promise((r) => setTimeout(r, 50));
  }
  stream.write(opened ? 'second:opened' : 'second:timeout');
  stream.end();
});
`;
const PLAIN_STREAM = `
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('text/csv');
  responseStream.write('a,b\\n');
  responseStream.end('1,2\\n');
});
`;
/** Buffered answers the gateway must refuse (bad headers) or send without a body (204, 304). */
const ANSWERS = `
export const handler = async (event) => {
  switch (event.queryStringParameters?.mode) {
    case 'badheader': return { statusCode: 200, headers: { 'x-bad': 'a\\nb' }, body: 'x' };
    case 'badname': return { statusCode: 200, headers: { 'x bad': 'v' }, body: 'x' };
    case 'malformed': return { statusCode: 'abc' };
    case 'nocontent': return { statusCode: 204, headers: { 'x-n': '1' }, body: 'ignored' };
    case 'notmodified': return { statusCode: 304, headers: { etag: '"v1"' }, body: 'ignored' };
    default: return { statusCode: 200, body: 'ok' };
  }
};
`;
const THROWS = `export const handler = async () => { throw new Error('nope'); };\n`;
const STREAM_FAILS = `
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const mode = event.queryStringParameters?.mode;
  if (mode === 'early') throw new Error('failed before the first byte');
  if (mode === 'badheader') {
    const s = awslambda.HttpResponseStream.from(responseStream, { statusCode: 200, headers: { 'x-bad': 'a\\nb' } });
    s.write('x');
    s.end();
    return;
  }
  responseStream.setContentType('text/plain');
  responseStream.write('partial;');
  if (mode !== 'at-once') await new Promise((r) => setTimeout(r, 50));
  throw new Error('failed mid-stream');
});
`;

describe('function URLs', () => {
  let server: Awaited<ReturnType<typeof startGatewayServer>>;
  let lambda: LambdaClient;
  let echoUrl: string;

  before(async () => {
    server = await startGatewayServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
    await createNodeFunction(lambda, 'echo', ECHO);
    await createNodeFunction(lambda, 'streamer', STREAMER);
    await createNodeFunction(lambda, 'plainstream', PLAIN_STREAM);
    await createNodeFunction(lambda, 'throws', THROWS);
    await createNodeFunction(lambda, 'answers', ANSWERS);
    await createNodeFunction(lambda, 'streamfails', STREAM_FAILS);
  });
  after(async () => {
    lambda?.destroy();
    await server?.stop();
  });

  const urlId = (u: string) => /^http:\/\/([a-z0-9]+)\.lambda-url\.localhost:\d+\/$/.exec(u)![1]!;
  const viaPath = (id: string, path: string, opts: Partial<Parameters<typeof request>[0]> = {}) =>
    request({ port: server.port, path: `/_urls/${id}${path}`, ...opts });

  test('create, get, update, list, conflicts and errors', async () => {
    const created = await lambda.send(new CreateFunctionUrlConfigCommand({
      FunctionName: 'echo', AuthType: 'NONE', Cors: { AllowOrigins: ['https://app.example'], AllowMethods: ['GET'], MaxAge: 60 },
    }));
    echoUrl = created.FunctionUrl!;
    assert.match(echoUrl, new RegExp(`^http://[a-z0-9]{32}\\.lambda-url\\.localhost:${server.port}/$`));
    assert.equal(created.FunctionArn, fnArn('echo'));
    assert.equal(created.AuthType, 'NONE');
    assert.equal(created.InvokeMode, 'BUFFERED');
    assert.deepEqual(created.Cors, { AllowOrigins: ['https://app.example'], AllowMethods: ['GET'], MaxAge: 60 });
    await assert.rejects(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'echo', AuthType: 'NONE' })), { name: 'ResourceConflictException' });
    await assert.rejects(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'missing', AuthType: 'NONE' })), { name: 'ResourceNotFoundException' });
    await assert.rejects(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'echo', AuthType: 'BOGUS' as any })), (e: any) => e.$metadata.httpStatusCode === 400);
    await assert.rejects(lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'throws' })), { name: 'ResourceNotFoundException' });

    const got = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'echo' }));
    assert.equal(got.FunctionUrl, echoUrl);
    assert.ok(got.LastModifiedTime);
    const upd = await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'echo', Cors: { AllowOrigins: ['https://app.example'], AllowMethods: ['GET', 'POST'], AllowHeaders: ['x-h'] } }));
    assert.equal(upd.FunctionUrl, echoUrl);
    assert.deepEqual(upd.Cors?.AllowMethods, ['GET', 'POST']);

    await lambda.send(new PublishVersionCommand({ FunctionName: 'echo' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'echo', Name: 'live', FunctionVersion: '1' }));
    const aliased = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'echo', Qualifier: 'live', AuthType: 'NONE' }));
    assert.equal(aliased.FunctionArn, fnArn('echo', 'live'));
    assert.notEqual(aliased.FunctionUrl, echoUrl);
    const list = await lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName: 'echo' }));
    assert.equal(list.FunctionUrlConfigs?.length, 2);
    await lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: 'echo', Qualifier: 'live' }));
    assert.equal((await viaPath(urlId(aliased.FunctionUrl!), '/')).status, 404);
  });

  test('the request is validated before the function is looked up; Cors.MaxAge names the bound it crosses', async () => {
    const validation = (message: string) => (e: any) => {
      assert.equal(e.name, 'ValidationException');
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.equal(e.message, message);
      return true;
    };
    const badAuth = "1 validation error detected: Value 'FOO' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]";
    // An alias that does not exist, a function that does not exist: the bad AuthType is what is reported.
    await assert.rejects(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'echo', Qualifier: 'nope', AuthType: 'FOO' as any })), validation(badAuth));
    await assert.rejects(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'missing', AuthType: 'FOO' as any })), validation(badAuth));
    await assert.rejects(
      lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'missing' } as any)),
      validation("1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null"),
    );
    await assert.rejects(
      lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'echo', Qualifier: 'nope', InvokeMode: 'FAST' as any })),
      validation("1 validation error detected: Value 'FAST' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]"),
    );
    await assert.rejects(
      lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'missing', AuthType: 'NONE', Cors: { MaxAge: -1 } })),
      validation("1 validation error detected: Value '-1' at 'cors.maxAge' failed to satisfy constraint: Member must have value greater than or equal to 0"),
    );
    await assert.rejects(
      lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'echo', Cors: { MaxAge: 86401 } })),
      validation("1 validation error detected: Value '86401' at 'cors.maxAge' failed to satisfy constraint: Member must have value less than or equal to 86400"),
    );
    // With a valid request, the lookup decides.
    await assert.rejects(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'echo', Qualifier: 'nope', AuthType: 'NONE' })), { name: 'ResourceNotFoundException' });
  });

  test('BUFFERED traffic: payload 2.0 through host and path forms', async () => {
    const id = urlId(echoUrl);
    for (const r of [
      await viaPath(id, '/some/path?q=1&q=2', { headers: { cookie: 'a=b' } }),
      await request({ port: server.port, path: '/some/path?q=1&q=2', host: `${id}.lambda-url.localhost:${server.port}`, headers: { cookie: 'a=b' } }),
      // Host names are case-insensitive.
      await request({ port: server.port, path: '/some/path?q=1&q=2', host: `${id.toUpperCase()}.LAMBDA-URL.localhost:${server.port}`, headers: { cookie: 'a=b' } }),
    ]) {
      assert.equal(r.status, 200, r.body.toString());
      assert.ok(r.headers['x-amzn-requestid']);
      const ev = json(r);
      assert.equal(ev.version, '2.0');
      assert.equal(ev.routeKey, '$default');
      assert.equal(ev.rawPath, '/some/path');
      assert.deepEqual(ev.queryStringParameters, { q: '1,2' });
      assert.deepEqual(ev.cookies, ['a=b']);
      assert.equal(ev.requestContext.apiId, id);
      assert.equal(ev.requestContext.stage, '$default');
      assert.equal(ev.requestContext.accountId, 'anonymous', 'an AuthType NONE caller is nobody\'s');
    }
  });

  test('CORS preflight and headers', async () => {
    const id = urlId(echoUrl);
    const pre = await viaPath(id, '/', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET,POST');
    const actual = await viaPath(id, '/', { headers: { origin: 'https://app.example' } });
    assert.equal(actual.headers['access-control-allow-origin'], 'https://app.example');
  });

  test('function errors are 502; AWS_IAM: unsigned requests refused with 403, signed ones reach the function with their caller', async () => {
    const t = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'throws', AuthType: 'NONE' }));
    const r = await viaPath(urlId(t.FunctionUrl!), '/');
    assert.equal(r.status, 502);
    await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'throws', AuthType: 'AWS_IAM' }));
    const unsigned = await viaPath(urlId(t.FunctionUrl!), '/');
    assert.deepEqual([unsigned.status, json(unsigned)], [403, { Message: 'Forbidden' }]);
    // Signed with any credentials (Stratus checks no signature, as everywhere): the caller is in the event.
    await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'echo', AuthType: 'AWS_IAM' }));
    try {
      const id = urlId((await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'echo' }))).FunctionUrl!);
      const authorization = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7';
      const signed = await viaPath(id, '/', { headers: { authorization, 'x-amz-date': '20261207T000000Z' } });
      assert.equal(signed.status, 200, signed.body.toString());
      const ev = json(signed);
      assert.deepEqual(ev.requestContext.authorizer.iam, {
        accessKey: 'AKIDEXAMPLE', accountId: '000000000000', callerId: 'AKIDEXAMPLE', cognitoIdentity: null, principalOrgId: null,
        userArn: 'arn:aws:iam::000000000000:root', userId: 'AKIDEXAMPLE',
      });
      assert.equal(ev.requestContext.accountId, '000000000000');
      const presigned = await viaPath(id, '/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDPRESIGN%2F20261207%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Signature=abc123');
      assert.equal(json(presigned).requestContext.authorizer.iam.accessKey, 'AKIDPRESIGN');
      assert.equal((await viaPath(id, '/', { headers: { authorization: 'Bearer x' } })).status, 403);
    } finally {
      await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'echo', AuthType: 'NONE' }));
    }
  });

  test('a response with headers that cannot be sent is malformed: a whole 502 like any other; 204/304 have no body or Content-Length', async () => {
    const cfg = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'answers', AuthType: 'NONE' }));
    const id = urlId(cfg.FunctionUrl!);
    const reference = await viaPath(id, '/?mode=malformed');
    assert.equal(reference.status, 502);
    for (const mode of ['badheader', 'badname']) {
      const r = await viaPath(id, `/?mode=${mode}`);
      assert.equal(r.status, 502, mode);
      assert.equal(r.statusMessage, 'Bad Gateway', mode);
      assert.equal(r.body.toString(), reference.body.toString(), mode);
      assert.equal(r.headers['content-type'], reference.headers['content-type'], mode);
      assert.ok(r.headers['x-amzn-requestid'], mode);
      assert.equal(r.headers['content-length'], String(r.body.length), mode);
      assert.equal(r.headers['transfer-encoding'], undefined, mode);
    }
    for (const [mode, status] of [['nocontent', 204], ['notmodified', 304]] as const) {
      const r = await viaPath(id, `/?mode=${mode}`);
      assert.equal(r.status, status, mode);
      assert.ok(r.headers['x-amzn-requestid'], mode);
      assert.equal(r.headers['content-length'], undefined, mode);
      assert.equal(r.body.length, 0, mode);
    }
  });

  test('RESPONSE_STREAM: prelude headers, chunks arrive while the handler runs', async () => {
    let open = false;
    const gate = http.createServer((_req, res) => res.end(open ? 'open' : 'closed'));
    await new Promise<void>((r) => gate.listen(0, '127.0.0.1', r));
    try {
      const gateUrl = `http://127.0.0.1:${(gate.address() as AddressInfo).port}/`;
      const cfg = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'streamer', AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' }));
      assert.equal(cfg.InvokeMode, 'RESPONSE_STREAM');
      const id = urlId(cfg.FunctionUrl!);
      const result = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; chunks: string[] }>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: server.port, path: `/_urls/${id}/?gate=${encodeURIComponent(gateUrl)}`, agent: false }, (res) => {
          const chunks: string[] = [];
          res.on('data', (c: Buffer) => {
            chunks.push(c.toString());
            // The handler is still waiting at the gate: the first chunk arrived before it finished.
            if (chunks.join('').includes('first;')) open = true;
          });
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, chunks }));
          res.on('error', reject);
        });
        req.on('error', reject);
      });
      assert.equal(result.status, 201);
      assert.equal(result.headers['content-type'], 'text/plain');
      assert.equal(result.headers['x-s'], 'yes');
      assert.deepEqual(result.headers['set-cookie'], ['s=1']);
      assert.equal(result.chunks.join(''), 'first;second:opened');
    } finally {
      await new Promise((r) => gate.close(r));
    }
  });

  test('RESPONSE_STREAM without a prelude uses the declared content type', async () => {
    const cfg = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'plainstream', AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' }));
    const r = await viaPath(urlId(cfg.FunctionUrl!), '/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/csv');
    assert.equal(r.body.toString(), 'a,b\n1,2\n');
  });

  test('RESPONSE_STREAM errors: 502 before the first byte, a truncated body after it', async () => {
    const cfg = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'streamfails', AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' }));
    const id = urlId(cfg.FunctionUrl!);
    const early = await viaPath(id, '/?mode=early');
    assert.equal(early.status, 502, 'a stream that never produced a byte is a failed invocation');
    assert.equal(early.body.toString(), 'Internal Server Error');
    const cutOff = (mode: string) => new Promise<{ status: number; body: string; complete: boolean }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: server.port, path: `/_urls/${id}/?mode=${mode}`, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        const done = () => resolve({ status: res.statusCode!, body, complete: res.complete });
        res.on('end', done);
        res.on('aborted', done);
        res.on('error', done);
      });
      req.on('error', reject);
    });
    // A prelude whose headers cannot be sent: the same 502, not a half-written head.
    const badHead = await viaPath(id, '/?mode=badheader');
    assert.deepEqual([badHead.status, badHead.statusMessage, badHead.body.toString()], [502, 'Bad Gateway', 'Internal Server Error']);
    assert.ok(badHead.headers['x-amzn-requestid']);
    const late = await cutOff('late');
    assert.equal(late.status, 200);
    assert.equal(late.body, 'partial;');
    assert.equal(late.complete, false, 'the response is cut off, not ended cleanly');
    // Written right before the error: still delivered before the cut.
    for (let i = 0; i < 5; i++) {
      const now = await cutOff('at-once');
      assert.deepEqual([now.status, now.body, now.complete], [200, 'partial;', false]);
    }
  });

  test('request bodies over 6 MB are refused with 413', async () => {
    const id = urlId(echoUrl);
    const r = await viaPath(id, '/', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(6 * 1024 * 1024 + 1) });
    assert.equal(r.status, 413);
  });

  test('deleting an alias drops its URL: an alias made again under that name has none', async () => {
    await lambda.send(new CreateAliasCommand({ FunctionName: 'echo', Name: 'pub', FunctionVersion: '1' }));
    const url = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'echo', Qualifier: 'pub', AuthType: 'NONE' }));
    const id = urlId(url.FunctionUrl!);
    assert.equal((await viaPath(id, '/')).status, 200);
    await lambda.send(new DeleteAliasCommand({ FunctionName: 'echo', Name: 'pub' }));
    const list = await lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName: 'echo' }));
    assert.ok(!list.FunctionUrlConfigs!.some((c) => c.FunctionArn === fnArn('echo', 'pub')), 'not listed once its alias is gone');
    await lambda.send(new CreateAliasCommand({ FunctionName: 'echo', Name: 'pub', FunctionVersion: '1' }));
    assert.equal((await viaPath(id, '/')).status, 404, 'the old address does not come back with the new alias');
    await assert.rejects(lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'echo', Qualifier: 'pub' })), { name: 'ResourceNotFoundException' });
  });

  test('deleting the function drops its URL', async () => {
    const id = urlId(echoUrl);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'echo' }));
    let status = 0;
    for (let i = 0; i < 100; i++) {
      status = (await viaPath(id, '/')).status;
      if (status === 404) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 404);
  });
});
