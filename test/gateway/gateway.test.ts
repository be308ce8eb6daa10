import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ApiGatewayV2Client, CreateApiCommand, CreateIntegrationCommand, CreateRouteCommand, CreateStageCommand, DeleteApiCommand,
  DeleteRouteCommand, GetApiCommand, GetApisCommand, GetRoutesCommand, GetStagesCommand, UpdateApiCommand, UpdateRouteCommand,
  GetIntegrationCommand, DeleteIntegrationCommand,
} from '@aws-sdk/client-apigatewayv2';
import { LambdaClient, PutFunctionConcurrencyCommand } from '@aws-sdk/client-lambda';
import { clientConfig } from '../helpers/server.js';
import { ECHO, createNodeFunction, fnArn, json, request, startGatewayServer } from './helpers.js';

const BEHAVE = `
export const handler = async (event) => {
  const q = event.queryStringParameters || {};
  switch (q.mode) {
    case 'throw': throw new Error('boom');
    case 'malformed': return { statusCode: 'abc' };
    case 'objectbody': return { statusCode: 200, body: { a: 1 } };
    case 'badheader': return { statusCode: 200, headers: { 'x-bad': 'a\\nb' }, body: 'x' };
    case 'badname': return { statusCode: 200, headers: { 'x bad': 'v' }, body: 'x' };
    case 'badcookie': return { statusCode: 200, cookies: ['a=1\\r\\nx-injected: 1'], body: 'x' };
    case 'nocontent': return { statusCode: 204, headers: { 'x-n': '1' }, body: 'ignored' };
    case 'notmodified': return { statusCode: 304, headers: { etag: '"v1"' }, body: 'ignored' };
    case 'bare': return { hello: 'world' };
    case 'string': return 'hi';
    case 'sleep': await new Promise((r) => setTimeout(r, Number(q.ms))); return 'late';
    case 'binary': return { statusCode: 200, headers: { 'content-type': event.headers['content-type'] }, body: event.body, isBase64Encoded: event.isBase64Encoded };
    case 'cookies': return { statusCode: 201, cookies: ['a=1; Path=/', 'b=2'], headers: { 'x-custom': 'v' }, body: 'ok' };
    case 'multi': return { statusCode: 200, headers: { 'x-m': '0' }, multiValueHeaders: { 'x-m': ['1', '2'] }, body: 'mv' };
    default: return { statusCode: 200, body: JSON.stringify(event) };
  }
};
`;
/** Payload 1.0: every answer but ?mode=ok is malformed (no statusCode, not an object). */
const MALFORMED_V1 = `
export const handler = async (event) => {
  switch ((event.queryStringParameters || {}).mode) {
    case 'ok': return { statusCode: 200, body: 'fine' };
    case 'nostatus': return { body: 'x' };
    case 'string': return 'hi';
    default: return [1, 2];
  }
};
`;
const ECHO_V1 = `export const handler = async (event) => ({
  statusCode: 200,
  headers: { 'x-single': 's', 'x-m': '3', 'x-d': '1' },
  multiValueHeaders: { 'x-m': ['1', '2'], 'x-d': ['1', '2'] },
  body: JSON.stringify(event),
});\n`;

describe('HTTP APIs', () => {
  let server: Awaited<ReturnType<typeof startGatewayServer>>;
  let gw: ApiGatewayV2Client;
  let lambda: LambdaClient;
  let quickId: string;
  let apiId: string;

  before(async () => {
    server = await startGatewayServer();
    gw = new ApiGatewayV2Client(clientConfig(server.endpoint));
    lambda = new LambdaClient(clientConfig(server.endpoint));
    await createNodeFunction(lambda, 'behave', BEHAVE);
    await createNodeFunction(lambda, 'echo', ECHO);
    await createNodeFunction(lambda, 'echo1', ECHO_V1);
    await createNodeFunction(lambda, 'malformed1', MALFORMED_V1);
  });
  after(async () => {
    gw?.destroy();
    lambda?.destroy();
    await server?.stop();
  });

  const viaPath = (id: string, path: string, opts: Parameters<typeof request>[0] extends infer O ? Partial<O> : never = {}) =>
    request({ port: server.port, path: `/_apis/${id}${path}`, ...opts });
  const viaHost = (id: string, path: string, opts: Partial<Parameters<typeof request>[0]> = {}) =>
    request({ port: server.port, path, host: `${id}.execute-api.localhost:${server.port}`, ...opts });

  test('quick create: $default route and stage, GetApi(s), endpoint', async () => {
    const api = await gw.send(new CreateApiCommand({ Name: 'quick', ProtocolType: 'HTTP', Target: fnArn('behave') }));
    quickId = api.ApiId!;
    assert.match(quickId, /^[a-z0-9]{10}$/);
    assert.equal(api.ApiEndpoint, `http://${quickId}.execute-api.localhost:${server.port}`);
    assert.equal(api.RouteSelectionExpression, '$request.method $request.path');
    const routes = await gw.send(new GetRoutesCommand({ ApiId: quickId }));
    assert.deepEqual(routes.Items?.map((r) => r.RouteKey), ['$default']);
    const stages = await gw.send(new GetStagesCommand({ ApiId: quickId }));
    assert.deepEqual(stages.Items?.map((s) => [s.StageName, s.AutoDeploy]), [['$default', true]]);
    const got = await gw.send(new GetApiCommand({ ApiId: quickId }));
    assert.equal(got.Name, 'quick');
    assert.ok(got.CreatedDate instanceof Date);
    const all = await gw.send(new GetApisCommand({}));
    assert.ok(all.Items?.some((a) => a.ApiId === quickId));
  });

  test('management errors use API Gateway names', async () => {
    await assert.rejects(gw.send(new GetApiCommand({ ApiId: 'nope123456' })), { name: 'NotFoundException' });
    await assert.rejects(gw.send(new CreateApiCommand({ Name: 'x', ProtocolType: 'WEBSOCKET' })), { name: 'BadRequestException' });
    await assert.rejects(gw.send(new CreateRouteCommand({ ApiId: quickId, RouteKey: 'FETCH /x' })), { name: 'BadRequestException' });
    await assert.rejects(gw.send(new CreateRouteCommand({ ApiId: quickId, RouteKey: '$default' })), { name: 'ConflictException' });
    await assert.rejects(gw.send(new CreateRouteCommand({ ApiId: quickId, RouteKey: 'GET /x', Target: 'integrations/missing' })), { name: 'BadRequestException' });
    await assert.rejects(gw.send(new CreateIntegrationCommand({ ApiId: quickId, IntegrationType: 'AWS_PROXY', IntegrationUri: fnArn('echo'), PayloadFormatVersion: '3.0' })), { name: 'BadRequestException' });
    await assert.rejects(gw.send(new CreateStageCommand({ ApiId: quickId, StageName: '$default' })), { name: 'ConflictException' });
  });

  test('quick-created API serves through both address forms', async () => {
    // Host names are case-insensitive.
    const viaUpperHost = (id: string, path: string) => request({ port: server.port, path, host: `${id.toUpperCase()}.EXECUTE-API.Localhost:${server.port}` });
    for (const send of [viaPath, viaHost, viaUpperHost]) {
      const r = await send(quickId, '/anything/here?x=1');
      assert.equal(r.status, 200, r.body.toString());
      assert.ok(r.headers['apigw-requestid']);
      const ev = json(r);
      assert.equal(ev.version, '2.0');
      assert.equal(ev.routeKey, '$default');
      assert.equal(ev.rawPath, '/anything/here');
      assert.equal(ev.requestContext.stage, '$default');
      assert.equal(ev.requestContext.apiId, quickId);
    }
  });

  test('payload 2.0 response mapping: inference, cookies, headers', async () => {
    const bare = await viaPath(quickId, '/?mode=bare');
    assert.equal(bare.status, 200);
    assert.equal(bare.headers['content-type'], 'application/json');
    assert.deepEqual(json(bare), { hello: 'world' });
    const str = await viaPath(quickId, '/?mode=string');
    assert.equal(str.status, 200);
    assert.equal(str.body.toString(), '"hi"');
    const c = await viaPath(quickId, '/?mode=cookies');
    assert.equal(c.status, 201);
    assert.deepEqual(c.headers['set-cookie'], ['a=1; Path=/', 'b=2']);
    assert.equal(c.headers['x-custom'], 'v');
    assert.equal(c.body.toString(), 'ok');
    // Payload 2.0 has no multiValueHeaders: the field is ignored, headers win.
    const m = await viaPath(quickId, '/?mode=multi');
    assert.equal(m.headers['x-m'], '0');
  });

  test('binary bodies round-trip as base64; text stays text', async () => {
    const bin = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const r = await viaPath(quickId, '/?mode=binary', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bin });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, bin);
    const ev = json(await viaPath(quickId, '/', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'héllo' }));
    assert.equal(ev.isBase64Encoded, false);
    assert.equal(ev.body, 'héllo');
    const ev2 = json(await viaPath(quickId, '/', { method: 'POST', headers: { 'content-type': 'image/png' }, body: bin }));
    assert.equal(ev2.isBase64Encoded, true);
    assert.equal(ev2.body, bin.toString('base64'));
  });

  test('204 and 304 from the function go out without a body or Content-Length (RFC 9110)', async () => {
    for (const [mode, status] of [['nocontent', 204], ['notmodified', 304]] as const) {
      const r = await viaPath(quickId, `/?mode=${mode}`);
      assert.equal(r.status, status, mode);
      assert.ok(r.headers['apigw-requestid'], mode);
      assert.equal(r.headers['content-length'], undefined, mode);
      assert.equal(r.headers['transfer-encoding'], undefined, mode);
      assert.equal(r.body.length, 0, mode);
    }
    assert.equal((await viaPath(quickId, '/?mode=nocontent')).headers['x-n'], '1');
    assert.equal((await viaPath(quickId, '/?mode=notmodified')).headers.etag, '"v1"');
  });

  test('errors: 404, 500 on function error or malformed response, 413 over 10 MB', async () => {
    const nf = await viaPath('unknownapi', '/');
    assert.equal(nf.status, 404);
    assert.deepEqual(json(nf), { message: 'Not Found' });
    const e = await viaPath(quickId, '/?mode=throw');
    assert.equal(e.status, 500);
    assert.deepEqual(json(e), { message: 'Internal Server Error' });
    // HTTP APIs answer a malformed Lambda response with 500, not REST APIs' 502.
    // Headers that cannot go on the wire (a newline in a value, a space in a name) make it malformed
    // too: a whole, ordinary 500, not a half-written response.
    for (const mode of ['malformed', 'objectbody', 'badheader', 'badname', 'badcookie']) {
      const m = await viaPath(quickId, `/?mode=${mode}`);
      assert.equal(m.status, 500, mode);
      assert.deepEqual(json(m), { message: 'Internal Server Error' }, mode);
      assert.equal(m.statusMessage, 'Internal Server Error', mode);
      assert.ok(m.headers['apigw-requestid'], mode);
      assert.equal(m.headers['content-length'], String(m.body.length), mode);
      assert.equal(m.headers['transfer-encoding'], undefined, mode);
      assert.equal(m.headers['x-injected'], undefined, mode);
    }
    const v1 = await gw.send(new CreateApiCommand({ Name: 'malformed1', ProtocolType: 'HTTP' }));
    const integ = await gw.send(new CreateIntegrationCommand({ ApiId: v1.ApiId, IntegrationType: 'AWS_PROXY', IntegrationUri: fnArn('malformed1'), PayloadFormatVersion: '1.0' }));
    await gw.send(new CreateRouteCommand({ ApiId: v1.ApiId, RouteKey: '$default', Target: `integrations/${integ.IntegrationId}` }));
    await gw.send(new CreateStageCommand({ ApiId: v1.ApiId, StageName: '$default', AutoDeploy: true }));
    assert.equal((await viaPath(v1.ApiId!, '/?mode=ok')).body.toString(), 'fine');
    for (const mode of ['nostatus', 'string', 'array']) {
      const m = await viaPath(v1.ApiId!, `/?mode=${mode}`);
      assert.equal(m.status, 500, `1.0 ${mode}`);
      assert.deepEqual(json(m), { message: 'Internal Server Error' }, `1.0 ${mode}`);
    }
    const big = await viaPath(quickId, '/', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(10 * 1024 * 1024 + 1) });
    assert.equal(big.status, 413);
    assert.deepEqual(json(big), { message: 'Request Entity Too Large' });
  });

  test('503 Service Unavailable after the integration timeout, as HTTP APIs answer', async () => {
    const api = await gw.send(new CreateApiCommand({ Name: 'slow', ProtocolType: 'HTTP' }));
    const integ = await gw.send(new CreateIntegrationCommand({ ApiId: api.ApiId, IntegrationType: 'AWS_PROXY', IntegrationUri: fnArn('behave'), PayloadFormatVersion: '2.0', TimeoutInMillis: 200 }));
    assert.equal(integ.TimeoutInMillis, 200);
    await gw.send(new CreateRouteCommand({ ApiId: api.ApiId, RouteKey: 'GET /slow', Target: `integrations/${integ.IntegrationId}` }));
    await gw.send(new CreateStageCommand({ ApiId: api.ApiId, StageName: '$default', AutoDeploy: true }));
    const r = await viaPath(api.ApiId!, '/slow?mode=sleep&ms=5000');
    assert.equal(r.status, 503);
    assert.deepEqual(json(r), { message: 'Service Unavailable' });
    await gw.send(new DeleteApiCommand({ ApiId: api.ApiId }));
    assert.equal((await viaPath(api.ApiId!, '/slow')).status, 404);
  });

  test('500 when Lambda refuses the invocation: throttled, or an event over 6 MB', async () => {
    // "If the Lambda API rejects the invocation request, API Gateway returns a 500 error code."
    await createNodeFunction(lambda, 'throttled', ECHO);
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'throttled', ReservedConcurrentExecutions: 0 }));
    const api = await gw.send(new CreateApiCommand({ Name: 'thr', ProtocolType: 'HTTP', Target: fnArn('throttled') }));
    const r = await viaPath(api.ApiId!, '/');
    assert.equal(r.status, 500);
    assert.deepEqual(json(r), { message: 'Internal Server Error' });
    // Under the gateway's 10 MB, over Lambda's 6 MB for a synchronous invocation.
    const big = await viaPath(quickId, '/', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: Buffer.alloc(7 * 1024 * 1024, 'a') });
    assert.equal(big.status, 500);
    assert.deepEqual(json(big), { message: 'Internal Server Error' });
  });

  describe('routes, stages, payload versions', () => {
    before(async () => {
      const api = await gw.send(new CreateApiCommand({
        Name: 'shop',
        ProtocolType: 'HTTP',
        CorsConfiguration: { AllowOrigins: ['https://app.example'], AllowMethods: ['GET', 'POST'], AllowHeaders: ['content-type'], MaxAge: 300, ExposeHeaders: ['x-custom'] },
      }));
      apiId = api.ApiId!;
      const v2 = await gw.send(new CreateIntegrationCommand({ ApiId: apiId, IntegrationType: 'AWS_PROXY', IntegrationUri: fnArn('echo'), PayloadFormatVersion: '2.0' }));
      const v1 = await gw.send(new CreateIntegrationCommand({
        ApiId: apiId, IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '1.0',
        IntegrationUri: `arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${fnArn('echo1')}/invocations`,
      }));
      for (const key of ['GET /items/{id}', 'GET /items/special', 'ANY /items/{id}', 'ANY /files/{proxy+}', 'GET /files/static/{rest+}']) {
        await gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: key, Target: `integrations/${v2.IntegrationId}` }));
      }
      await gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: 'POST /legacy/{thing}', Target: `integrations/${v1.IntegrationId}` }));
      await gw.send(new CreateStageCommand({ ApiId: apiId, StageName: 'dev', AutoDeploy: true, StageVariables: { env: 'dev' } }));
    });

    test('precedence and path parameters', async () => {
      const cases: Array<[string, string, string, Record<string, string> | undefined]> = [
        ['GET', '/dev/items/special', 'GET /items/special', undefined],
        ['GET', '/dev/items/42', 'GET /items/{id}', { id: '42' }],
        ['DELETE', '/dev/items/42', 'ANY /items/{id}', { id: '42' }],
        ['GET', '/dev/files/a/b/c.txt', 'ANY /files/{proxy+}', { proxy: 'a/b/c.txt' }],
        ['GET', '/dev/files/static/x/y.css', 'GET /files/static/{rest+}', { rest: 'x/y.css' }],
        ['GET', '/dev/items/caf%C3%A9', 'GET /items/{id}', { id: 'café' }],
      ];
      for (const [method, path, key, params] of cases) {
        const r = await viaHost(apiId, path, { method });
        assert.equal(r.status, 200, `${method} ${path}: ${r.body}`);
        const ev = json(r);
        assert.equal(ev.routeKey, key, path);
        assert.deepEqual(ev.pathParameters, params, path);
        assert.equal(ev.requestContext.stage, 'dev');
        assert.equal(ev.rawPath, path);
        assert.deepEqual(ev.stageVariables, { env: 'dev' });
      }
      assert.equal((await viaHost(apiId, '/dev/nothing')).status, 404);
      assert.equal((await viaHost(apiId, '/items/42')).status, 404, 'no $default stage');
    });

    test('query strings, cookies, multi-value headers (2.0)', async () => {
      const ev = json(await viaPath(apiId, '/dev/items/1?a=1&a=2&b=hello%20world&empty=', {
        headers: { cookie: 'c1=v1; c2=v2', 'x-multi': ['one', 'two'], 'user-agent': 'gw-test' },
      }));
      assert.equal(ev.rawQueryString, 'a=1&a=2&b=hello%20world&empty=');
      assert.deepEqual(ev.queryStringParameters, { a: '1,2', b: 'hello world', empty: '' });
      assert.deepEqual(ev.cookies, ['c1=v1', 'c2=v2']);
      assert.equal(ev.headers.cookie, undefined);
      assert.equal(ev.headers['x-multi'], 'one,two');
      assert.equal(ev.requestContext.http.userAgent, 'gw-test');
      assert.equal(ev.requestContext.http.method, 'GET');
      assert.equal(ev.requestContext.http.sourceIp, '127.0.0.1');
      assert.equal(ev.requestContext.accountId, '000000000000');
      assert.match(ev.requestContext.time, /^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
      assert.equal(typeof ev.requestContext.timeEpoch, 'number');
    });

    test('payload 1.0: REST proxy event and multiValueHeaders response', async () => {
      const r = await viaPath(apiId, '/dev/legacy/box?x=1&x=2', { method: 'POST', headers: { 'content-type': 'application/json', 'x-multi': ['a', 'b'] }, body: '{"n":1}' });
      assert.equal(r.status, 200, r.body.toString());
      // headers and multiValueHeaders merge into one list; a pair in both is sent once.
      assert.equal(r.headers['x-m'], '1, 2, 3');
      assert.equal(r.headers['x-d'], '1, 2');
      assert.equal(r.headers['x-single'], 's');
      const ev = json(r);
      assert.equal(ev.version, '1.0');
      assert.equal(ev.resource, '/legacy/{thing}');
      assert.equal(ev.httpMethod, 'POST');
      assert.deepEqual(ev.pathParameters, { thing: 'box' });
      assert.deepEqual(ev.queryStringParameters, { x: '2' });
      assert.deepEqual(ev.multiValueQueryStringParameters, { x: ['1', '2'] });
      assert.deepEqual(ev.multiValueHeaders['x-multi'], ['a', 'b']);
      assert.equal(ev.body, '{"n":1}');
      assert.equal(ev.isBase64Encoded, false);
      assert.equal(ev.requestContext.stage, 'dev');
    });

    test('CORS: the gateway answers preflight and decorates responses', async () => {
      const pre = await viaPath(apiId, '/dev/items/1', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example');
      assert.equal(pre.headers['access-control-allow-methods'], 'GET,POST');
      assert.equal(pre.headers['access-control-allow-headers'], 'content-type');
      assert.equal(pre.headers['access-control-max-age'], '300');
      const bad = await viaPath(apiId, '/dev/items/1', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
      assert.equal(bad.status, 204);
      assert.equal(bad.headers['access-control-allow-origin'], undefined);
      const actual = await viaPath(apiId, '/dev/items/1', { headers: { origin: 'https://app.example' } });
      assert.equal(actual.status, 200);
      assert.equal(actual.headers['access-control-allow-origin'], 'https://app.example');
      assert.equal(actual.headers['access-control-expose-headers'], 'x-custom');
    });

    test('route updates and deletes take effect at once', async () => {
      const routes = await gw.send(new GetRoutesCommand({ ApiId: apiId }));
      const special = routes.Items!.find((r) => r.RouteKey === 'GET /items/special')!;
      await gw.send(new UpdateRouteCommand({ ApiId: apiId, RouteId: special.RouteId, RouteKey: 'GET /items/extra' }));
      assert.equal(json(await viaPath(apiId, '/dev/items/special')).routeKey, 'GET /items/{id}');
      assert.equal(json(await viaPath(apiId, '/dev/items/extra')).routeKey, 'GET /items/extra');
      await gw.send(new DeleteRouteCommand({ ApiId: apiId, RouteId: special.RouteId }));
      assert.equal(json(await viaPath(apiId, '/dev/items/extra')).routeKey, 'GET /items/{id}');
      const integ = await gw.send(new GetIntegrationCommand({ ApiId: apiId, IntegrationId: special.Target!.split('/')[1] }));
      assert.equal(integ.PayloadFormatVersion, '2.0');
      await assert.rejects(gw.send(new DeleteIntegrationCommand({ ApiId: apiId, IntegrationId: integ.IntegrationId })), { name: 'ConflictException' });
      const upd = await gw.send(new UpdateApiCommand({ ApiId: apiId, Description: 'shop api' }));
      assert.equal(upd.Description, 'shop api');
    });
  });
});
