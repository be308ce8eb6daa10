import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { identityValues, parseAuthorizerResponse, policyAllows, routeArn, scopesAllow, stringifyClaims, tokenScopes } from '../../src/core/gateway-auth.js';
import { applyCors, isPreflight, preflightHeaders } from '../../src/core/gateway-cors.js';
import { buildEventV1, buildEventV2, clfTime, isTextContentType, type HttpRequestInfo } from '../../src/core/gateway-event.js';
import { mapResponseV1, mapResponseV2, type HttpResponse } from '../../src/core/gateway-response.js';
import { hasStageVariables, substituteStageVariables } from '../../src/core/gateway-stage-variables.js';
import { RouteTable, parseRouteKey } from '../../src/core/route-match.js';
import { PreludeParser } from '../../src/core/stream-prelude.js';

describe('route keys', () => {
  for (const ok of ['$default', 'GET /', 'GET /items/{id}', 'ANY /{proxy+}', 'POST /a/b/{c}/d', 'DELETE /files/{path+}']) {
    test(`accepts ${ok}`, () => assert.ok(!('error' in parseRouteKey(ok))));
  }
  for (const bad of ['GET', 'get /x', 'FETCH /x', 'GET x', 'GET /{proxy+}/x', 'GET /a//b', 'GET /{a}/{a}', 'GET /a{b}', '']) {
    test(`refuses ${JSON.stringify(bad)}`, () => assert.ok('error' in parseRouteKey(bad)));
  }
});

describe('route matching precedence', () => {
  const keys = [
    'GET /pets/dog/1',
    'GET /pets/dog/{id}',
    'GET /pets/{type}/{id}',
    'ANY /pets/{type}/{id}',
    'GET /pets/{proxy+}',
    'ANY /{proxy+}',
    'GET /',
    'POST /items',
    'ANY /items',
    'GET /files/{path+}',
    'GET /files/static/{path+}',
    '$default',
  ];
  const table = new RouteTable(keys.map((k) => ({ routeKey: k, value: k })));
  const cases: Array<[string, string, string, Record<string, string>]> = [
    ['GET', '/pets/dog/1', 'GET /pets/dog/1', {}],
    ['GET', '/pets/dog/2', 'GET /pets/dog/{id}', { id: '2' }],
    ['GET', '/pets/cat/2', 'GET /pets/{type}/{id}', { type: 'cat', id: '2' }],
    ['PUT', '/pets/cat/2', 'ANY /pets/{type}/{id}', { type: 'cat', id: '2' }],
    ['GET', '/pets/cat/2/toys', 'GET /pets/{proxy+}', { proxy: 'cat/2/toys' }],
    ['GET', '/pets', 'ANY /{proxy+}', { proxy: 'pets' }],
    ['DELETE', '/pets/cat/2/toys', 'ANY /{proxy+}', { proxy: 'pets/cat/2/toys' }],
    ['GET', '/', 'GET /', {}],
    ['POST', '/', '$default', {}],
    ['POST', '/items', 'POST /items', {}],
    ['PATCH', '/items', 'ANY /items', {}],
    // HTTP APIs keep the trailing slash significant: `/items/` is not `/items`.
    ['GET', '/items/', 'ANY /{proxy+}', { proxy: 'items/' }],
    ['GET', '/files/', 'GET /files/{path+}', { path: '' }],
    ['GET', '/pets/dog/', 'GET /pets/{proxy+}', { proxy: 'dog/' }],
    ['GET', '/files/a/b.txt', 'GET /files/{path+}', { path: 'a/b.txt' }],
    ['GET', '/files/static/x.css', 'GET /files/static/{path+}', { path: 'x.css' }],
    ['GET', '/pets/a%20b/7', 'GET /pets/{type}/{id}', { type: 'a b', id: '7' }],
  ];
  for (const [method, path, want, params] of cases) {
    test(`${method} ${path} -> ${want}`, () => {
      const m = table.match(method, path);
      assert.ok(m);
      assert.equal(m.routeKey, want);
      assert.deepEqual(m.pathParameters, params);
    });
  }
  test('no $default: unmatched is undefined', () => {
    const t = new RouteTable([{ routeKey: 'GET /a', value: 1 }]);
    assert.equal(t.match('GET', '/b'), undefined);
    assert.equal(t.match('POST', '/a'), undefined);
    assert.equal(t.match('GET', '/a')?.route, 1);
  });
  test('greedy needs at least one segment', () => {
    const t = new RouteTable([{ routeKey: 'GET /x/{proxy+}', value: 1 }]);
    assert.equal(t.match('GET', '/x'), undefined);
    assert.ok(t.match('GET', '/x/y'));
  });
  test('a trailing slash is significant; an empty segment fills no {param}', () => {
    const t = new RouteTable([{ routeKey: 'GET /a', value: 1 }, { routeKey: 'GET /b/{id}', value: 2 }, { routeKey: 'GET /', value: 3 }]);
    assert.equal(t.match('GET', '/a')?.route, 1);
    assert.equal(t.match('GET', '/a/'), undefined);
    assert.equal(t.match('GET', '/b/'), undefined);
    assert.equal(t.match('GET', '/b//'), undefined);
    assert.deepEqual(t.match('GET', '/b/7')?.pathParameters, { id: '7' });
    assert.equal(t.match('GET', '/')?.route, 3);
    assert.equal(t.match('HEAD', '/a'), undefined, 'GET routes do not catch HEAD');
  });
});

const req = (over: Partial<HttpRequestInfo> = {}): HttpRequestInfo => ({
  method: 'POST',
  rawPath: '/dev/items/42',
  rawQueryString: 'a=1&a=2&b=x%20y&flag',
  rawHeaders: ['Host', 'abc.execute-api.localhost:9070', 'User-Agent', 'test/1', 'X-Multi', 'one', 'x-multi', 'two', 'Cookie', 'c1=v1; c2=v2', 'Content-Type', 'application/json'],
  body: Buffer.from('{"k":1}'),
  sourceIp: '127.0.0.1',
  protocol: 'HTTP/1.1',
  domainName: 'abc.execute-api.localhost',
  ...over,
});
const ctx = {
  accountId: '000000000000',
  apiId: 'abc',
  stage: 'dev',
  routeKey: 'POST /items/{id}',
  resourcePath: '/items/{id}',
  pathParameters: { id: '42' },
  stageVariables: { env: 'test' },
  requestId: 'rid=',
  timeEpoch: Date.UTC(2020, 2, 12, 19, 3, 58),
};

describe('events', () => {
  test('payload 2.0', () => {
    const ev = buildEventV2(req(), ctx);
    assert.deepEqual(ev, {
      version: '2.0',
      routeKey: 'POST /items/{id}',
      rawPath: '/dev/items/42',
      rawQueryString: 'a=1&a=2&b=x%20y&flag',
      cookies: ['c1=v1', 'c2=v2'],
      headers: { host: 'abc.execute-api.localhost:9070', 'user-agent': 'test/1', 'x-multi': 'one,two', 'content-type': 'application/json' },
      queryStringParameters: { a: '1,2', b: 'x y', flag: '' },
      requestContext: {
        accountId: '000000000000',
        apiId: 'abc',
        domainName: 'abc.execute-api.localhost',
        domainPrefix: 'abc',
        http: { method: 'POST', path: '/dev/items/42', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test/1' },
        requestId: 'rid=',
        routeKey: 'POST /items/{id}',
        stage: 'dev',
        time: '12/Mar/2020:19:03:58 +0000',
        timeEpoch: ctx.timeEpoch,
      },
      pathParameters: { id: '42' },
      stageVariables: { env: 'test' },
      body: '{"k":1}',
      isBase64Encoded: false,
    });
  });
  test('payload 2.0 binary body and omitted fields', () => {
    const bin = Buffer.from([0, 1, 2, 255]);
    const ev = buildEventV2(req({ rawQueryString: '', rawHeaders: ['Content-Type', 'image/png'], body: bin }), { ...ctx, pathParameters: {}, stageVariables: undefined });
    assert.equal(ev.isBase64Encoded, true);
    assert.equal(ev.body, bin.toString('base64'));
    for (const k of ['cookies', 'queryStringParameters', 'pathParameters', 'stageVariables']) assert.equal(k in ev, false, k);
    const empty = buildEventV2(req({ body: Buffer.alloc(0) }), ctx);
    assert.equal('body' in empty, false);
    assert.equal(empty.isBase64Encoded, false);
  });
  test('payload 1.0', () => {
    const ev = buildEventV1(req(), ctx) as any;
    assert.equal(ev.version, '1.0');
    assert.equal(ev.resource, '/items/{id}');
    assert.equal(ev.path, '/dev/items/42');
    assert.equal(ev.httpMethod, 'POST');
    // HTTP APIs lower-case header names in 1.0 too: the same name in two cases is one header.
    assert.deepEqual(ev.headers, { host: 'abc.execute-api.localhost:9070', 'user-agent': 'test/1', 'x-multi': 'two', cookie: 'c1=v1; c2=v2', 'content-type': 'application/json' });
    assert.deepEqual(ev.multiValueHeaders, {
      host: ['abc.execute-api.localhost:9070'], 'user-agent': ['test/1'], 'x-multi': ['one', 'two'], cookie: ['c1=v1; c2=v2'], 'content-type': ['application/json'],
    });
    assert.deepEqual(ev.queryStringParameters, { a: '2', b: 'x y', flag: '' });
    assert.deepEqual(ev.multiValueQueryStringParameters, { a: ['1', '2'], b: ['x y'], flag: [''] });
    assert.deepEqual(ev.pathParameters, { id: '42' });
    assert.equal(ev.requestContext.identity.sourceIp, '127.0.0.1');
    assert.equal(ev.requestContext.requestTime, '12/Mar/2020:19:03:58 +0000');
    assert.equal(ev.body, '{"k":1}');
    const bare = buildEventV1(req({ rawQueryString: '' }), { ...ctx, pathParameters: {}, stageVariables: undefined }) as any;
    assert.equal(bare.queryStringParameters, null);
    assert.equal(bare.pathParameters, null);
    assert.equal(bare.stageVariables, null);
  });
  const textTypes: Array<[string | undefined, boolean]> = [
    ['text/plain', true], ['text/html; charset=utf-8', true], ['application/json', true], ['application/vnd.api+json', true],
    ['application/xml', true], ['application/javascript', true], ['image/png', false], ['application/octet-stream', false],
    ['application/x-www-form-urlencoded', false], ['multipart/form-data; boundary=x', false], [undefined, false],
  ];
  for (const [ct, text] of textTypes) test(`content type ${ct} is ${text ? 'text' : 'base64'}`, () => assert.equal(isTextContentType(ct), text));
  test('clf time', () => assert.equal(clfTime(Date.UTC(2021, 0, 5, 1, 2, 3)), '05/Jan/2021:01:02:03 +0000'));
});

const ok = (r: ReturnType<typeof mapResponseV2>): HttpResponse => {
  assert.ok(!('malformed' in r), JSON.stringify(r));
  return r as HttpResponse;
};

describe('responses', () => {
  test('2.0 structured with cookies, base64 and scalar header values', () => {
    const r = ok(mapResponseV2(Buffer.from(JSON.stringify({
      statusCode: 201, headers: { 'x-a': 'b', 'x-n': 5 }, cookies: ['a=1', 'b=2; Path=/'], body: Buffer.from([1, 2, 3]).toString('base64'), isBase64Encoded: true,
    }))));
    assert.equal(r.statusCode, 201);
    assert.deepEqual(r.headers, [['x-a', 'b'], ['x-n', '5'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2; Path=/']]);
    assert.deepEqual([...r.body], [1, 2, 3]);
  });
  test('2.0 inference for bare values', () => {
    for (const v of ['"hello"', '{"a":1}', '[1,2]', '42', 'null']) {
      const r = ok(mapResponseV2(Buffer.from(v)));
      assert.equal(r.statusCode, 200);
      assert.deepEqual(r.headers, [['content-type', 'application/json']]);
      assert.equal(r.body.toString(), v);
    }
  });
  test('malformed responses', () => {
    for (const bad of ['not json', '{"statusCode":"abc"}', '{"statusCode":99}', '{"statusCode":200,"body":{"x":1}}', '{"statusCode":200,"headers":[]}', '{"statusCode":200,"cookies":"a=b"}']) {
      assert.ok('malformed' in mapResponseV2(Buffer.from(bad)), bad);
    }
    for (const bad of ['"hello"', '{"body":"x"}', 'nope']) assert.ok('malformed' in mapResponseV1(Buffer.from(bad)), bad);
  });
  test('1.0 merges headers and multiValueHeaders into one list; a pair in both appears once', () => {
    const r = ok(mapResponseV1(Buffer.from(JSON.stringify({
      statusCode: 200,
      headers: { 'x-one': 'h', 'x-two': 'h2', 'x-three': 'same' },
      multiValueHeaders: { 'x-one': ['m1', 'm2'], 'Set-Cookie': ['a=1', 'b=2'], 'X-Three': ['same', 'other'] },
      body: 'ok',
    }))));
    assert.deepEqual(r.headers, [
      ['x-one', 'm1'], ['x-one', 'm2'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['X-Three', 'same'], ['X-Three', 'other'], ['x-one', 'h'], ['x-two', 'h2'],
    ]);
    assert.equal(r.body.toString(), 'ok');
  });
});

describe('stage variables in integration URIs', () => {
  const vars: Record<string, string> = { fn: 'echo', alias: 'live' };
  const cases: Array<[string, string | undefined]> = [
    ['arn:aws:lambda:us-east-1:000000000000:function:echo', 'arn:aws:lambda:us-east-1:000000000000:function:echo'],
    ['arn:aws:lambda:us-east-1:000000000000:function:${stageVariables.fn}', 'arn:aws:lambda:us-east-1:000000000000:function:echo'],
    ['function:${stageVariables.fn}:${stageVariables.alias}', 'function:echo:live'],
    ['function:echo:${stageVariables.missing}', undefined],
    ['function:${stageVariables.}', 'function:${stageVariables.}'],
  ];
  for (const [template, want] of cases) {
    test(`${template} -> ${want}`, () => assert.equal(substituteStageVariables(template, (n) => vars[n]), want));
  }
  test('which URIs name stage variables', () => {
    assert.equal(hasStageVariables('function:echo:${stageVariables.alias}'), true);
    assert.equal(hasStageVariables('function:echo:${stageVariables.alias}'), true, 'the check is repeatable');
    assert.equal(hasStageVariables('function:echo'), false);
    assert.equal(hasStageVariables('function:${stageVariables.}'), false);
  });
});

describe('cors', () => {
  const cors = { allowOrigins: ['https://a.example', 'https://*.b.example'], allowMethods: ['GET', 'POST'], allowHeaders: ['content-type', 'authorization'], exposeHeaders: ['x-id'], maxAge: 600, allowCredentials: true };
  test('preflight allowed', () => {
    const h = { origin: 'https://a.example', 'access-control-request-method': 'POST' };
    assert.ok(isPreflight('OPTIONS', h));
    assert.deepEqual(preflightHeaders(cors, h), [
      ['access-control-allow-origin', 'https://a.example'],
      ['access-control-allow-methods', 'GET,POST'],
      ['access-control-allow-headers', 'content-type,authorization'],
      ['access-control-max-age', '600'],
      ['access-control-allow-credentials', 'true'],
      ['vary', 'Origin'],
    ]);
  });
  test('preflight: wildcard subdomain, refused origin and method', () => {
    assert.equal(preflightHeaders(cors, { origin: 'https://x.b.example', 'access-control-request-method': 'GET' })[0]![1], 'https://x.b.example');
    assert.deepEqual(preflightHeaders(cors, { origin: 'https://evil.example', 'access-control-request-method': 'GET' }), []);
    assert.deepEqual(preflightHeaders(cors, { origin: 'https://a.example', 'access-control-request-method': 'DELETE' }), []);
    assert.equal(isPreflight('OPTIONS', { origin: 'x' }), false);
  });
  test('actual response replaces integration CORS headers', () => {
    const out = applyCors(cors, { origin: 'https://a.example' }, [['Access-Control-Allow-Origin', '*'], ['x', 'y']]);
    assert.deepEqual(out, [['x', 'y'], ['access-control-allow-origin', 'https://a.example'], ['access-control-expose-headers', 'x-id'], ['access-control-allow-credentials', 'true'], ['vary', 'Origin']]);
    assert.deepEqual(applyCors({ allowOrigins: ['*'] }, { origin: 'https://z' }, []), [['access-control-allow-origin', '*']]);
  });
});

describe('authorizer decisions', () => {
  const inputs = { headers: { authorization: 'Bearer t', 'x-k': 'v' }, query: { q: '1' }, stageVariables: { s: 'sv' }, context: { stage: 'dev' } };
  test('identity sources', () => {
    assert.deepEqual(identityValues(['$request.header.Authorization', '$request.querystring.q', '$stageVariables.s', '$context.stage'], inputs), ['Bearer t', '1', 'sv', 'dev']);
    assert.equal(identityValues(['$request.header.Missing'], inputs), undefined);
    assert.deepEqual(identityValues([], inputs), []);
  });
  const arn = routeArn('us-east-1', '000000000000', 'abc', '$default', 'GET', '/items/1');
  test('route ARN', () => assert.equal(arn, 'arn:aws:execute-api:us-east-1:000000000000:abc/$default/GET/items/1'));
  test('IAM policies', () => {
    const allow = (r: string) => ({ Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: r }] });
    assert.equal(policyAllows(allow(arn), arn), true);
    assert.equal(policyAllows(allow('arn:aws:execute-api:us-east-1:000000000000:abc/*/GET/*'), arn), true);
    assert.equal(policyAllows(allow('arn:aws:execute-api:us-east-1:000000000000:abc/*/POST/*'), arn), false);
    assert.equal(policyAllows({ Statement: [allow('*').Statement[0], { Action: '*', Effect: 'Deny', Resource: [arn] }] }, arn), false);
    assert.equal(policyAllows({}, arn), false);
  });
  test('simple and policy responses', () => {
    assert.deepEqual(parseAuthorizerResponse(Buffer.from('{"isAuthorized":true,"context":{"u":"x"}}'), true, arn), { authorized: true, context: { u: 'x' } });
    assert.deepEqual(parseAuthorizerResponse(Buffer.from('{"isAuthorized":false}'), true, arn), { authorized: false, context: {} });
    assert.ok('malformed' in parseAuthorizerResponse(Buffer.from('{"isAuthorized":"yes"}'), true, arn));
    const pol = { principalId: 'me', policyDocument: { Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: arn }] }, context: { a: 1 } };
    assert.deepEqual(parseAuthorizerResponse(Buffer.from(JSON.stringify(pol)), false, arn), { authorized: true, context: { a: 1 }, principalId: 'me' });
    assert.ok('malformed' in parseAuthorizerResponse(Buffer.from('{"isAuthorized":true}'), false, arn));
  });
  test('scopes and claims', () => {
    assert.deepEqual(tokenScopes({ scope: 'read write' }), ['read', 'write']);
    assert.deepEqual(tokenScopes({ scp: ['a', 'b'] }), ['a', 'b']);
    assert.equal(scopesAllow(['write'], ['read', 'write']), true);
    assert.equal(scopesAllow(['admin'], ['read']), false);
    assert.equal(scopesAllow(undefined, []), true);
    assert.deepEqual(stringifyClaims({ sub: 'u', exp: 5, aud: ['a', 'b'], ok: true }), { sub: 'u', exp: '5', aud: '[a b]', ok: 'true' });
  });
});

describe('stream prelude', () => {
  test('split across chunks', () => {
    const p = new PreludeParser();
    const prelude = Buffer.from(JSON.stringify({ statusCode: 201, headers: { 'x-a': 'b' }, cookies: ['c=1'] }));
    assert.equal(p.push(prelude.subarray(0, 5)).state, 'need-more');
    assert.equal(p.push(Buffer.concat([prelude.subarray(5), Buffer.alloc(4)])).state, 'need-more');
    const step = p.push(Buffer.concat([Buffer.alloc(4), Buffer.from('body')]));
    assert.equal(step.state, 'done');
    if (step.state !== 'done') return;
    assert.deepEqual(step.prelude, { statusCode: 201, headers: [['x-a', 'b'], ['set-cookie', 'c=1']] });
    assert.equal(step.rest.toString(), 'body');
  });
  test('malformed prelude', () => {
    const step = new PreludeParser().push(Buffer.concat([Buffer.from('{nope'), Buffer.alloc(8)]));
    assert.equal(step.state, 'malformed');
  });
});
