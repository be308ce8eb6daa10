import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ApiGatewayV2Client, CreateApiCommand, CreateAuthorizerCommand, CreateIntegrationCommand, CreateRouteCommand, CreateStageCommand } from '@aws-sdk/client-apigatewayv2';
import { LambdaClient } from '@aws-sdk/client-lambda';
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
const POLICY_AUTH = `
export const handler = async (event) => ({
  principalId: 'p1',
  policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: event.authorizationToken === 'allow' ? 'Allow' : 'Deny', Resource: event.methodArn }] },
  context: { via: 'policy', version: event.version },
});
`;

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
