import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  ApiGatewayV2Client, CreateApiCommand, CreateAuthorizerCommand, CreateIntegrationCommand, CreateRouteCommand, CreateStageCommand,
  GetAuthorizerCommand, ResetAuthorizersCacheCommand,
} from '@aws-sdk/client-apigatewayv2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { clientConfig } from '../helpers/server.js';
import { ECHO, createNodeFunction, fnArn, json, request, startGatewayServer } from './helpers.js';

const SIMPLE_AUTH = `
let n = 0;
export const handler = async (event) => {
  n++;
  const token = event.headers.authorization;
  if (token === 'deny') return { isAuthorized: false };
  if (token === 'crash') throw new Error('authorizer failed');
  return { isAuthorized: true, context: { n, token, routeArn: event.routeArn, type: event.type, ids: event.identitySource.join('|') } };
};
`;
const ECHO_AUTH_V1 = `
export const handler = async (event) => ({
  principalId: 'echo',
  policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }] },
  context: { authorizationToken: event.authorizationToken, identitySource: event.identitySource, methodArn: event.methodArn, type: event.type, resource: event.resource, path: event.path, httpMethod: event.httpMethod, hasBody: 'body' in event },
});
`;
const POLICY_AUTH_V2 = `
let n = 0;
export const handler = async (event) => {
  n++;
  // Allows GET on /p2/* only: the cached policy is evaluated again for every route.
  const base = event.routeArn.split('/').slice(0, 2).join('/');
  return {
    principalId: 'v2user',
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: base + '/GET/p2/*' }] },
    context: { n, version: event.version, ids: event.identitySource.join('|') },
  };
};
`;
const POLICY_AUTH = `
export const handler = async (event) => ({
  principalId: 'p1',
  policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: event.authorizationToken === 'allow' ? 'Allow' : 'Deny', Resource: event.methodArn }] },
  context: { via: 'policy', version: event.version },
});
`;

/** SHA-256 (HMAC when given a secret) for @smithy/signature-v4, from node:crypto. */
type Bytes = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: Bytes) => (typeof d === 'string' ? d : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d));
class Sha256 {
  private h: Hash | Hmac;
  constructor(private readonly secret?: Bytes) {
    this.h = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }
  update(data: Bytes): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.h.digest();
  }
  reset(): void {
    this.h = this.fresh();
  }
}

describe('authorizers', () => {
  let server: Awaited<ReturnType<typeof startGatewayServer>>;
  let gw: ApiGatewayV2Client;
  let lambda: LambdaClient;
  let idp: http.Server;
  let issuer: string;
  let apiId: string;
  let signingKey: CryptoKey;
  let otherKey: CryptoKey;

  before(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    signingKey = pair.privateKey as CryptoKey;
    otherKey = (await generateKeyPair('RS256')).privateKey as CryptoKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    idp = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
      else if (req.url === '/keys') res.end(JSON.stringify({ keys: [jwk] }));
      else { res.statusCode = 404; res.end('{}'); }
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;

    server = await startGatewayServer();
    gw = new ApiGatewayV2Client(clientConfig(server.endpoint));
    lambda = new LambdaClient(clientConfig(server.endpoint));
    await createNodeFunction(lambda, 'echo', ECHO);
    await createNodeFunction(lambda, 'auth-simple', SIMPLE_AUTH);
    await createNodeFunction(lambda, 'auth-policy', POLICY_AUTH);

    apiId = (await gw.send(new CreateApiCommand({ Name: 'secured', ProtocolType: 'HTTP' }))).ApiId!;
    const integ = await gw.send(new CreateIntegrationCommand({ ApiId: apiId, IntegrationType: 'AWS_PROXY', IntegrationUri: fnArn('echo'), PayloadFormatVersion: '2.0' }));
    const jwtAuth = await gw.send(new CreateAuthorizerCommand({
      ApiId: apiId, Name: 'jwt', AuthorizerType: 'JWT', IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: issuer, Audience: ['my-api'] },
    }));
    const simple = await gw.send(new CreateAuthorizerCommand({
      ApiId: apiId, Name: 'simple', AuthorizerType: 'REQUEST', IdentitySource: ['$request.header.Authorization'],
      AuthorizerUri: `arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${fnArn('auth-simple')}/invocations`,
      AuthorizerPayloadFormatVersion: '2.0', EnableSimpleResponses: true, AuthorizerResultTtlInSeconds: 300,
    }));
    const policy = await gw.send(new CreateAuthorizerCommand({
      ApiId: apiId, Name: 'policy', AuthorizerType: 'REQUEST', IdentitySource: ['$request.header.Authorization'],
      AuthorizerUri: fnArn('auth-policy'), AuthorizerPayloadFormatVersion: '1.0',
    }));
    const target = `integrations/${integ.IntegrationId}`;
    await gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: 'GET /jwt', Target: target, AuthorizationType: 'JWT', AuthorizerId: jwtAuth.AuthorizerId }));
    await gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: 'GET /admin', Target: target, AuthorizationType: 'JWT', AuthorizerId: jwtAuth.AuthorizerId, AuthorizationScopes: ['admin'] }));
    await gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: 'GET /simple', Target: target, AuthorizationType: 'CUSTOM', AuthorizerId: simple.AuthorizerId }));
    await gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: 'GET /policy', Target: target, AuthorizationType: 'CUSTOM', AuthorizerId: policy.AuthorizerId }));
    await gw.send(new CreateStageCommand({ ApiId: apiId, StageName: '$default', AutoDeploy: true }));
  });
  after(async () => {
    gw?.destroy();
    lambda?.destroy();
    await server?.stop();
    await new Promise((r) => idp?.close(r));
  });

  const get = (path: string, authorization?: string) =>
    request({ port: server.port, path: `/_apis/${apiId}${path}`, headers: authorization ? { authorization } : {} });

  const token = (claims: Record<string, unknown>, opts: { key?: CryptoKey; exp?: string | number; aud?: string; iss?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(opts.iss ?? issuer)
      .setAudience(opts.aud ?? 'my-api')
      .setSubject('user-1')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '10m')
      .sign(opts.key ?? signingKey);

  test('JWT: valid token reaches the function with claims and scopes', async () => {
    const r = await get('/jwt', `Bearer ${await token({ scope: 'read admin' })}`);
    assert.equal(r.status, 200, r.body.toString());
    const ev = json(r);
    assert.equal(ev.requestContext.authorizer.jwt.claims.sub, 'user-1');
    assert.equal(ev.requestContext.authorizer.jwt.claims.aud, 'my-api');
    assert.equal(ev.requestContext.authorizer.jwt.claims.iss, issuer);
    assert.deepEqual(ev.requestContext.authorizer.jwt.scopes, ['read', 'admin']);
    assert.equal((await get('/admin', await token({ scope: 'admin' }))).status, 200, 'token without Bearer prefix');
  });

  test('JWT: missing, expired, wrong audience, wrong issuer, bad signature are 401; missing scope is 403', async () => {
    const missing = await get('/jwt');
    assert.equal(missing.status, 401);
    assert.deepEqual(json(missing), { message: 'Unauthorized' });
    const now = Math.floor(Date.now() / 1000);
    assert.equal((await get('/jwt', `Bearer ${await token({}, { exp: now - 60 })}`)).status, 401, 'expired');
    assert.equal((await get('/jwt', `Bearer ${await token({}, { aud: 'other-api' })}`)).status, 401, 'audience');
    assert.equal((await get('/jwt', `Bearer ${await token({}, { iss: 'https://elsewhere.example' })}`)).status, 401, 'issuer');
    assert.equal((await get('/jwt', `Bearer ${await token({}, { key: otherKey })}`)).status, 401, 'signature');
    assert.equal((await get('/jwt', 'Bearer not.a.jwt')).status, 401, 'garbage');
    const noScope = await get('/admin', `Bearer ${await token({ scope: 'read' })}`);
    assert.equal(noScope.status, 403);
    assert.deepEqual(json(noScope), { message: 'Forbidden' });
  });

  test('Lambda authorizer (simple responses) with caching by identity source', async () => {
    const a1 = json(await get('/simple', 'alice'));
    const a2 = json(await get('/simple', 'alice'));
    const ctx1 = a1.requestContext.authorizer.lambda;
    const ctx2 = a2.requestContext.authorizer.lambda;
    assert.equal(ctx1.token, 'alice');
    assert.equal(ctx1.type, 'REQUEST');
    assert.equal(ctx1.ids, 'alice');
    assert.equal(ctx1.routeArn, `arn:aws:execute-api:us-east-1:000000000000:${apiId}/$default/GET/simple`);
    assert.equal(ctx2.n, ctx1.n, 'second request served from the cache: the authorizer ran once');
    const b = json(await get('/simple', 'bob')).requestContext.authorizer.lambda;
    assert.equal(b.token, 'bob');
    assert.ok(b.n > ctx1.n, 'a new identity invokes the authorizer again');
    assert.equal((await get('/simple', 'deny')).status, 403);
    assert.equal((await get('/simple', 'crash')).status, 500);
    assert.equal((await get('/simple')).status, 401, 'missing identity source');
  });

  test('Lambda authorizer (IAM policy, payload 1.0)', async () => {
    const ok = await get('/policy', 'allow');
    assert.equal(ok.status, 200, ok.body.toString());
    assert.deepEqual(json(ok).requestContext.authorizer.lambda, { via: 'policy', version: '1.0' });
    assert.equal((await get('/policy', 'nope')).status, 403);
  });
});

describe('authorizers: event shapes, policies, caching, key sources', () => {
  let server: Awaited<ReturnType<typeof startGatewayServer>>;
  let gw: ApiGatewayV2Client;
  let lambda: LambdaClient;
  let idp: http.Server;
  let issuer: string;
  let apiId: string;
  let target: string;
  let signingKey: CryptoKey;
  let publicJwk: Record<string, unknown>;

  before(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    signingKey = pair.privateKey as CryptoKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k9', alg: 'RS256', use: 'sig' };
    // An identity provider without OpenID discovery: the keys live at /certs only.
    idp = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/certs') res.end(JSON.stringify({ keys: [publicJwk] }));
      else { res.statusCode = 404; res.end('{}'); }
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    server = await startGatewayServer();
    gw = new ApiGatewayV2Client(clientConfig(server.endpoint));
    lambda = new LambdaClient(clientConfig(server.endpoint));
    await createNodeFunction(lambda, 'echo', ECHO);
    await createNodeFunction(lambda, 'auth-echo1', ECHO_AUTH_V1);
    await createNodeFunction(lambda, 'auth-policy2', POLICY_AUTH_V2);
    await createNodeFunction(lambda, 'auth-simple', SIMPLE_AUTH);
    apiId = (await gw.send(new CreateApiCommand({ Name: 'shapes', ProtocolType: 'HTTP' }))).ApiId!;
    const integ = await gw.send(new CreateIntegrationCommand({ ApiId: apiId, IntegrationType: 'AWS_PROXY', IntegrationUri: fnArn('echo'), PayloadFormatVersion: '2.0' }));
    target = `integrations/${integ.IntegrationId}`;
    await gw.send(new CreateStageCommand({ ApiId: apiId, StageName: '$default', AutoDeploy: true }));
  });
  after(async () => {
    gw?.destroy();
    lambda?.destroy();
    await server?.stop();
    await new Promise((r) => idp?.close(r));
  });

  const get = (path: string, headers: Record<string, string> = {}) => request({ port: server.port, path: `/_apis/${apiId}${path}`, headers });
  const route = async (routeKey: string, authorizerId: string, type: 'CUSTOM' | 'JWT' = 'CUSTOM', scopes?: string[]) =>
    gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: routeKey, Target: target, AuthorizationType: type, AuthorizerId: authorizerId, AuthorizationScopes: scopes }));
  const sign = (claims: Record<string, unknown>, kid = 'k9', exp: string | number = '10m') =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).setIssuer(issuer).setAudience('aud-1').setSubject('s').setExpirationTime(exp).sign(signingKey);

  test('payload 1.0 authorizer event: identitySource and authorizationToken carry every source comma-joined', async () => {
    const a = await gw.send(new CreateAuthorizerCommand({
      ApiId: apiId, Name: 'echo1', AuthorizerType: 'REQUEST', AuthorizerUri: fnArn('auth-echo1'), AuthorizerPayloadFormatVersion: '1.0',
      IdentitySource: ['$request.header.X-User', '$request.querystring.tenant'],
    }));
    await route('POST /v1auth/{id}', a.AuthorizerId!);
    const r = await request({ port: server.port, method: 'POST', path: `/_apis/${apiId}/v1auth/7?tenant=acme`, headers: { 'x-user': 'alice', 'content-type': 'text/plain' }, body: 'secret body' });
    assert.equal(r.status, 200, r.body.toString());
    const ctx = json(r).requestContext.authorizer.lambda;
    assert.equal(ctx.authorizationToken, 'alice,acme');
    assert.equal(ctx.identitySource, 'alice,acme');
    assert.equal(ctx.type, 'REQUEST');
    assert.equal(ctx.methodArn, `arn:aws:execute-api:us-east-1:000000000000:${apiId}/$default/POST/v1auth/7`);
    assert.equal(ctx.resource, '/v1auth/{id}');
    assert.equal(ctx.path, '/v1auth/7');
    assert.equal(ctx.httpMethod, 'POST');
    assert.equal(ctx.hasBody, false, 'authorizers never see the request body');
    const missing = await request({ port: server.port, method: 'POST', path: `/_apis/${apiId}/v1auth/7`, headers: { 'x-user': 'alice' } });
    assert.equal(missing.status, 401, 'a missing query-string identity source is 401 without invoking the authorizer');
  });

  test('payload 2.0 IAM policy response: the cached policy is evaluated per route, context reaches the function', async () => {
    const a = await gw.send(new CreateAuthorizerCommand({
      ApiId: apiId, Name: 'pol2', AuthorizerType: 'REQUEST', AuthorizerUri: fnArn('auth-policy2'), AuthorizerPayloadFormatVersion: '2.0',
      IdentitySource: ['$request.header.Authorization'], AuthorizerResultTtlInSeconds: 300,
    }));
    await route('GET /p2/{x}', a.AuthorizerId!);
    await route('POST /p2/{x}', a.AuthorizerId!);
    const ok = await get('/p2/one', { authorization: 'tok' });
    assert.equal(ok.status, 200, ok.body.toString());
    const ctx = json(ok).requestContext.authorizer.lambda;
    assert.equal(ctx.version, '2.0');
    assert.equal(ctx.ids, 'tok');
    const again = json(await get('/p2/two', { authorization: 'tok' })).requestContext.authorizer.lambda;
    assert.equal(again.n, ctx.n, 'same identity: served from the cache');
    const denied = await request({ port: server.port, method: 'POST', path: `/_apis/${apiId}/p2/one`, headers: { authorization: 'tok' } });
    assert.equal(denied.status, 403, 'the cached policy does not allow POST');
    assert.deepEqual(json(denied), { message: 'Forbidden' });
  });

  test('Lambda authorizer cache: TTL expiry, shared across routes, ResetAuthorizersCache', async () => {
    const a = await gw.send(new CreateAuthorizerCommand({
      ApiId: apiId, Name: 'ttl', AuthorizerType: 'REQUEST', AuthorizerUri: fnArn('auth-simple'), AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true, IdentitySource: ['$request.header.Authorization'], AuthorizerResultTtlInSeconds: 1,
    }));
    assert.equal((await gw.send(new GetAuthorizerCommand({ ApiId: apiId, AuthorizerId: a.AuthorizerId }))).AuthorizerResultTtlInSeconds, 1);
    await route('GET /ttl/a', a.AuthorizerId!);
    await route('GET /ttl/b', a.AuthorizerId!);
    const n = async (path: string) => {
      const r = await get(path, { authorization: 'carol' });
      assert.equal(r.status, 200, r.body.toString());
      return json(r).requestContext.authorizer.lambda.n as number;
    };
    const first = await n('/ttl/a');
    assert.equal(await n('/ttl/b'), first, 'one cached result serves every route of the authorizer');
    await new Promise((r) => setTimeout(r, 1300));
    const afterTtl = await n('/ttl/a');
    assert.ok(afterTtl > first, 'after the TTL the authorizer runs again');
    assert.equal(await n('/ttl/a'), afterTtl);
    await gw.send(new ResetAuthorizersCacheCommand({ ApiId: apiId, StageName: '$default' }));
    assert.ok((await n('/ttl/a')) > afterTtl, 'ResetAuthorizersCache drops the cached result');
    await assert.rejects(gw.send(new ResetAuthorizersCacheCommand({ ApiId: apiId, StageName: 'nope' })), { name: 'NotFoundException' });
  });

  test('JWT: keys from an explicit jwksUri or an inline JWK Set (Stratus extensions), scp scopes, WWW-Authenticate', async () => {
    const post = async (body: unknown) => {
      const res = await fetch(`${server.endpoint}/v2/apis/${apiId}/authorizers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(res.status, 201, await res.clone().text());
      return (await res.json()) as { authorizerId: string; jwtConfiguration: Record<string, unknown> };
    };
    const byUri = await post({ name: 'uri', authorizerType: 'JWT', identitySource: ['$request.header.Authorization'], jwtConfiguration: { issuer, audience: ['aud-1'], jwksUri: `${issuer}/certs` } });
    assert.equal(byUri.jwtConfiguration.jwksUri, `${issuer}/certs`);
    const inline = await post({ name: 'inline', authorizerType: 'JWT', identitySource: ['$request.querystring.access_token'], jwtConfiguration: { issuer, audience: ['aud-1'], jwks: { keys: [publicJwk] } } });
    await route('GET /jwt-uri', byUri.authorizerId, 'JWT', ['read']);
    await route('GET /jwt-inline', inline.authorizerId, 'JWT');
    const good = await sign({ scp: ['read', 'write'] });
    const r1 = await get('/jwt-uri', { authorization: `Bearer ${good}` });
    assert.equal(r1.status, 200, r1.body.toString());
    assert.deepEqual(json(r1).requestContext.authorizer.jwt.scopes, ['read', 'write']);
    const r2 = await get(`/jwt-inline?access_token=${good}`);
    assert.equal(r2.status, 200, r2.body.toString());
    assert.equal(json(r2).requestContext.authorizer.jwt.claims.sub, 's');

    const expired = await get('/jwt-uri', { authorization: `Bearer ${await sign({ scp: 'read' }, 'k9', Math.floor(Date.now() / 1000) - 30)}` });
    assert.equal(expired.status, 401);
    assert.deepEqual(json(expired), { message: 'Unauthorized' });
    assert.match(String(expired.headers['www-authenticate']), /^Bearer .*error="invalid_token".*the token has expired/);
    assert.equal((await get('/jwt-inline?access_token=' + (await sign({}, 'unknown-kid')))).status, 401, 'a kid the JWK Set lacks');
    const noScope = await get('/jwt-uri', { authorization: `Bearer ${await sign({ scp: ['write'] })}` });
    assert.equal(noScope.status, 403);
    assert.match(String(noScope.headers['www-authenticate']), /error="insufficient_scope"/);
    const bad = await fetch(`${server.endpoint}/v2/apis/${apiId}/authorizers`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bad', authorizerType: 'JWT', identitySource: ['$request.header.Authorization'], jwtConfiguration: { issuer, jwks: { keys: 'nope' } } }),
    });
    assert.equal(bad.status, 400);
  });

  test('AWS_IAM: a SigV4-signed request reaches the function with its caller (2.0 authorizer.iam, 1.0 identity); unsigned is 403', async () => {
    const iamApi = (await gw.send(new CreateApiCommand({ Name: 'iam', ProtocolType: 'HTTP' }))).ApiId!;
    const v2 = await gw.send(new CreateIntegrationCommand({ ApiId: iamApi, IntegrationType: 'AWS_PROXY', IntegrationUri: fnArn('echo'), PayloadFormatVersion: '2.0' }));
    const v1 = await gw.send(new CreateIntegrationCommand({ ApiId: iamApi, IntegrationType: 'AWS_PROXY', IntegrationUri: fnArn('echo'), PayloadFormatVersion: '1.0' }));
    await gw.send(new CreateRouteCommand({ ApiId: iamApi, RouteKey: 'GET /iam', Target: `integrations/${v2.IntegrationId}`, AuthorizationType: 'AWS_IAM' }));
    await gw.send(new CreateRouteCommand({ ApiId: iamApi, RouteKey: 'POST /iam1', Target: `integrations/${v1.IntegrationId}`, AuthorizationType: 'AWS_IAM' }));
    await gw.send(new CreateStageCommand({ ApiId: iamApi, StageName: '$default', AutoDeploy: true }));

    const signer = new SignatureV4({
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
      region: 'us-east-1', service: 'execute-api', sha256: Sha256,
    });
    const host = `${iamApi}.execute-api.localhost:${server.port}`;
    const signed = async (method: string, path: string, body?: string) => {
      const req = await signer.sign({
        method, protocol: 'http:', hostname: `${iamApi}.execute-api.localhost`, port: server.port, path, query: {},
        headers: { host, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body } : {}),
      });
      return request({ port: server.port, path, method, host, headers: req.headers, ...(body ? { body } : {}) });
    };

    const unsigned = await request({ port: server.port, path: '/iam', host });
    assert.equal(unsigned.status, 403);
    assert.deepEqual(json(unsigned), { message: 'Forbidden' });
    assert.equal((await request({ port: server.port, path: '/iam', host, headers: { authorization: 'Bearer x' } })).status, 403);

    const r2 = await signed('GET', '/iam');
    assert.equal(r2.status, 200, r2.body.toString());
    assert.deepEqual(json(r2).requestContext.authorizer, {
      iam: {
        accessKey: 'AKIAIOSFODNN7EXAMPLE', accountId: '000000000000', callerId: 'AKIAIOSFODNN7EXAMPLE', cognitoIdentity: null,
        principalOrgId: null, userArn: 'arn:aws:iam::000000000000:root', userId: 'AKIAIOSFODNN7EXAMPLE',
      },
    });

    // A presigned URL (X-Amz-* query parameters) is signed too.
    const pre = await signer.presign({ method: 'GET', protocol: 'http:', hostname: `${iamApi}.execute-api.localhost`, port: server.port, path: '/iam', query: {}, headers: { host } });
    const qs = new URLSearchParams(pre.query as Record<string, string>).toString();
    const r3 = await request({ port: server.port, path: `/iam?${qs}`, host });
    assert.equal(r3.status, 200, r3.body.toString());
    assert.equal(json(r3).requestContext.authorizer.iam.accessKey, 'AKIAIOSFODNN7EXAMPLE');

    const r1 = await signed('POST', '/iam1', '{"a":1}');
    assert.equal(r1.status, 200, r1.body.toString());
    const id = json(r1).requestContext.identity;
    assert.deepEqual(
      { accessKey: id.accessKey, accountId: id.accountId, caller: id.caller, user: id.user, userArn: id.userArn },
      { accessKey: 'AKIAIOSFODNN7EXAMPLE', accountId: '000000000000', caller: 'AKIAIOSFODNN7EXAMPLE', user: 'AKIAIOSFODNN7EXAMPLE', userArn: 'arn:aws:iam::000000000000:root' },
    );
    assert.equal((await request({ port: server.port, path: '/iam1', method: 'POST', host })).status, 403);
  });
});
