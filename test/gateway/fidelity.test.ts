import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import {
  ApiGatewayV2Client, CreateApiCommand, CreateDeploymentCommand, CreateIntegrationCommand, CreateRouteCommand, CreateStageCommand,
  DeleteDeploymentCommand, GetDeploymentCommand, GetDeploymentsCommand, GetIntegrationsCommand, GetRoutesCommand, GetStageCommand,
  GetIntegrationCommand, GetStagesCommand, UpdateDeploymentCommand, UpdateStageCommand,
  GetApiCommand, GetTagsCommand, TagResourceCommand, UntagResourceCommand, UpdateApiCommand,
} from '@aws-sdk/client-apigatewayv2';
import { CreateAliasCommand, CreateFunctionUrlConfigCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { serviceMissing } from '../helpers/services.js';
import { clientConfig } from '../helpers/server.js';
import { ECHO, createNodeFunction, fnArn, json, request, startGatewayServer } from './helpers.js';

const awsVersion = spawnSync('aws', ['--version'], { encoding: 'utf8' });
const hasAws = awsVersion.status === 0;
const AWS_ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '' };
const TRACE = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/;
const TRACED = `export const handler = async (event) => ({ header: event.headers['x-amzn-trace-id'], env: process.env._X_AMZN_TRACE_ID });\n`;
const WHOAMI = `export const handler = async (event, context) => ({ arn: context.invokedFunctionArn, stage: event.requestContext.stage });\n`;

describe('HTTP API fidelity: event shapes, front-door headers, deployments, the AWS CLI', () => {
  let server: Awaited<ReturnType<typeof startGatewayServer>>;
  let gw: ApiGatewayV2Client;
  let lambda: LambdaClient;

  before(async () => {
    server = await startGatewayServer();
    gw = new ApiGatewayV2Client(clientConfig(server.endpoint));
    lambda = new LambdaClient(clientConfig(server.endpoint));
    await createNodeFunction(lambda, 'echo', ECHO);
    await createNodeFunction(lambda, 'traced', TRACED);
  });
  after(async () => {
    gw?.destroy();
    lambda?.destroy();
    await server?.stop();
  });

  const viaPath = (id: string, path: string, opts: Partial<Parameters<typeof request>[0]> = {}) =>
    request({ port: server.port, path: `/_apis/${id}${path}`, ...opts });

  /** An API with one integration of the given payload version and the given routes. */
  const makeApi = async (name: string, version: '1.0' | '2.0', routeKeys: string[], stage?: { name: string; autoDeploy: boolean }) => {
    const apiId = (await gw.send(new CreateApiCommand({ Name: name, ProtocolType: 'HTTP' }))).ApiId!;
    const integ = await gw.send(new CreateIntegrationCommand({ ApiId: apiId, IntegrationType: 'AWS_PROXY', IntegrationUri: fnArn('echo'), PayloadFormatVersion: version }));
    for (const k of routeKeys) await gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: k, Target: `integrations/${integ.IntegrationId}` }));
    if (stage) await gw.send(new CreateStageCommand({ ApiId: apiId, StageName: stage.name, AutoDeploy: stage.autoDeploy }));
    return { apiId, integrationId: integ.IntegrationId! };
  };

  test('payload 2.0 event: exactly the documented fields, front-door headers added', async () => {
    const { apiId } = await makeApi('v2shape', '2.0', ['POST /things/{id}'], { name: '$default', autoDeploy: true });
    const r = await viaPath(apiId, '/things/9?x=1', {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: 'a=1', 'user-agent': 'ua/1', 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'gopher' },
      body: '{"k":1}',
    });
    assert.equal(r.status, 200, r.body.toString());
    const ev = json(r);
    assert.deepEqual(Object.keys(ev).sort(), [
      'body', 'cookies', 'headers', 'isBase64Encoded', 'pathParameters', 'queryStringParameters', 'rawPath', 'rawQueryString', 'requestContext', 'routeKey', 'version',
    ]);
    assert.deepEqual(Object.keys(ev.requestContext).sort(), ['accountId', 'apiId', 'domainName', 'domainPrefix', 'http', 'requestId', 'routeKey', 'stage', 'time', 'timeEpoch']);
    assert.deepEqual(Object.keys(ev.requestContext.http).sort(), ['method', 'path', 'protocol', 'sourceIp', 'userAgent']);
    assert.equal(ev.requestContext.domainName, `${apiId}.execute-api.localhost`);
    assert.equal(ev.requestContext.domainPrefix, apiId);
    assert.equal(ev.requestContext.http.protocol, 'HTTP/1.1');
    assert.equal(ev.requestContext.routeKey, 'POST /things/{id}');
    // What the front door adds: the client's X-Forwarded-For chain with the caller appended,
    // the listener's port and protocol (the client's own values are replaced), a trace id.
    assert.equal(ev.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(ev.headers['x-forwarded-proto'], 'http');
    assert.equal(ev.headers['x-forwarded-port'], String(server.port));
    assert.match(ev.headers['x-amzn-trace-id'], TRACE);
    for (const k of Object.keys(ev.headers)) assert.equal(k, k.toLowerCase(), `2.0 header names are lower-cased: ${k}`);
    const traced = json(await viaPath(apiId, '/things/9', { method: 'POST', headers: { 'x-amzn-trace-id': 'Root=1-00000000-000000000000000000000000' } }));
    assert.equal(traced.headers['x-amzn-trace-id'], 'Root=1-00000000-000000000000000000000000', 'a client trace id is kept');
  });

  test('payload 1.0 event: exactly the documented fields', async () => {
    const { apiId } = await makeApi('v1shape', '1.0', ['GET /legacy/{id}'], { name: 'v1', autoDeploy: true });
    const r = await viaPath(apiId, '/v1/legacy/3?m=1&m=2', { headers: { 'X-Custom': 'a', 'user-agent': 'ua/1' } });
    assert.equal(r.status, 200, r.body.toString());
    const ev = json(r);
    assert.deepEqual(Object.keys(ev).sort(), [
      'body', 'headers', 'httpMethod', 'isBase64Encoded', 'multiValueHeaders', 'multiValueQueryStringParameters', 'path', 'pathParameters',
      'queryStringParameters', 'requestContext', 'resource', 'stageVariables', 'version',
    ]);
    assert.deepEqual(Object.keys(ev.requestContext).sort(), [
      'accountId', 'apiId', 'authorizer', 'domainName', 'domainPrefix', 'extendedRequestId', 'httpMethod', 'identity', 'path', 'protocol',
      'requestId', 'requestTime', 'requestTimeEpoch', 'resourceId', 'resourcePath', 'stage',
    ]);
    assert.deepEqual(Object.keys(ev.requestContext.identity).sort(), [
      'accessKey', 'accountId', 'caller', 'cognitoAuthenticationProvider', 'cognitoAuthenticationType', 'cognitoIdentityId', 'cognitoIdentityPoolId',
      'principalOrgId', 'sourceIp', 'user', 'userAgent', 'userArn',
    ]);
    assert.equal(ev.resource, '/legacy/{id}');
    assert.equal(ev.path, '/v1/legacy/3');
    assert.equal(ev.requestContext.path, '/v1/legacy/3');
    assert.equal(ev.requestContext.resourcePath, '/legacy/{id}');
    assert.equal(ev.requestContext.stage, 'v1');
    assert.deepEqual(ev.requestContext.authorizer, { claims: null, scopes: null });
    assert.equal(ev.body, null);
    assert.equal(ev.stageVariables, null);
    assert.deepEqual(ev.multiValueQueryStringParameters, { m: ['1', '2'] });
    // "All header names are lowercased", in payload 1.0 as in 2.0.
    assert.equal(ev.headers['x-custom'], 'a');
    assert.match(ev.headers.host, /^127\.0\.0\.1:\d+$/);
    assert.equal(ev.headers['user-agent'], 'ua/1');
    assert.equal(ev.headers['x-forwarded-for'], '127.0.0.1');
    assert.deepEqual(ev.multiValueHeaders['x-forwarded-proto'], ['http']);
    assert.deepEqual(ev.multiValueHeaders['x-custom'], ['a']);
    for (const k of [...Object.keys(ev.headers), ...Object.keys(ev.multiValueHeaders)]) assert.equal(k, k.toLowerCase(), `1.0 header names are lower-cased: ${k}`);
  });

  test('function URL events get the front-door headers too', async () => {
    const cfg = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'echo', AuthType: 'NONE' }));
    const id = /^http:\/\/([a-z0-9]+)\.lambda-url\./.exec(cfg.FunctionUrl!)![1]!;
    const ev = json(await request({ port: server.port, path: `/_urls/${id}/x`, headers: { 'x-forwarded-for': '198.51.100.1' } }));
    assert.equal(ev.headers['x-forwarded-for'], '198.51.100.1, 127.0.0.1');
    assert.equal(ev.headers['x-forwarded-proto'], 'http');
    assert.equal(ev.headers['x-forwarded-port'], String(server.port));
    assert.match(ev.headers['x-amzn-trace-id'], TRACE);
  });

  test('the function runs under the trace id the request carries (gateway and function URL)', async () => {
    const api = await gw.send(new CreateApiCommand({ Name: 'traced', ProtocolType: 'HTTP', Target: fnArn('traced') }));
    const cfg = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'traced', AuthType: 'NONE' }));
    const urlId = /^http:\/\/([a-z0-9]+)\.lambda-url\./.exec(cfg.FunctionUrl!)![1]!;
    for (const path of [`/_apis/${api.ApiId}/t`, `/_urls/${urlId}/t`]) {
      const generated = json(await request({ port: server.port, path }));
      assert.match(generated.header, TRACE);
      assert.match(generated.env, new RegExp(`^${generated.header};Parent=[0-9a-f]{16};Sampled=0$`), path);
      const given = 'Root=1-5e6f7a8b-0123456789abcdef01234567';
      // The event has the request's header as it came; the function runs in its trace, under a segment of its own.
      const run = json(await request({ port: server.port, path, headers: { 'x-amzn-trace-id': given } }));
      assert.equal(run.header, given);
      assert.match(run.env, new RegExp(`^${given};Parent=[0-9a-f]{16};Sampled=0$`));
    }
  });

  test('quick create marks its route, integration and stage as API Gateway managed', async () => {
    const api = await gw.send(new CreateApiCommand({ Name: 'managed', ProtocolType: 'HTTP', Target: fnArn('echo'), RouteKey: 'GET /m' }));
    const [route] = (await gw.send(new GetRoutesCommand({ ApiId: api.ApiId }))).Items!;
    const [integ] = (await gw.send(new GetIntegrationsCommand({ ApiId: api.ApiId }))).Items!;
    const [stage] = (await gw.send(new GetStagesCommand({ ApiId: api.ApiId }))).Items!;
    assert.equal(route!.RouteKey, 'GET /m');
    assert.equal(route!.ApiGatewayManaged, true);
    assert.equal(integ!.ApiGatewayManaged, true);
    assert.equal(integ!.PayloadFormatVersion, '2.0');
    assert.equal(stage!.ApiGatewayManaged, true);
    assert.equal(stage!.AutoDeploy, true);
  });

  test('UpdateApi Target and RouteKey update the quick create integration and route', async () => {
    const api = await gw.send(new CreateApiCommand({ Name: 'requick', ProtocolType: 'HTTP', Target: fnArn('echo'), RouteKey: 'GET /q' }));
    const apiId = api.ApiId!;
    assert.equal(json(await viaPath(apiId, '/q')).routeKey, 'GET /q');
    await gw.send(new UpdateApiCommand({ ApiId: apiId, Target: fnArn('traced'), RouteKey: 'POST /r' }));
    const [route] = (await gw.send(new GetRoutesCommand({ ApiId: apiId }))).Items!;
    const [integ] = (await gw.send(new GetIntegrationsCommand({ ApiId: apiId }))).Items!;
    assert.equal(route!.RouteKey, 'POST /r');
    assert.equal(integ!.IntegrationUri, fnArn('traced'));
    assert.equal(integ!.IntegrationType, 'AWS_PROXY');
    assert.equal((await viaPath(apiId, '/q')).status, 404);
    const r = await viaPath(apiId, '/r', { method: 'POST' });
    assert.equal(r.status, 200, r.body.toString());
    assert.ok('header' in json(r), 'the new target (traced) answered');
    // RouteKey alone keeps the target.
    await gw.send(new UpdateApiCommand({ ApiId: apiId, RouteKey: 'GET /s' }));
    assert.ok('header' in json(await viaPath(apiId, '/s')));
    // Checked as CreateApi checks them; a refused update changes nothing.
    await assert.rejects(gw.send(new UpdateApiCommand({ ApiId: apiId, Target: 'https://example.com', Name: 'renamed' })), { name: 'BadRequestException' });
    await assert.rejects(gw.send(new UpdateApiCommand({ ApiId: apiId, RouteKey: 'FETCH /x' })), { name: 'BadRequestException' });
    assert.equal((await gw.send(new GetApiCommand({ ApiId: apiId }))).Name, 'requick');
    assert.equal((await viaPath(apiId, '/s')).status, 200);
    // An API not made by quick create has no quick create target or route to update.
    const { apiId: plain } = await makeApi('plain', '2.0', ['GET /p']);
    await assert.rejects(gw.send(new UpdateApiCommand({ ApiId: plain, Target: fnArn('traced') })), { name: 'BadRequestException', message: /quick create/ });
    await assert.rejects(gw.send(new UpdateApiCommand({ ApiId: plain, RouteKey: 'GET /other' })), { name: 'BadRequestException', message: /quick create/ });
    assert.deepEqual((await gw.send(new GetRoutesCommand({ ApiId: plain }))).Items!.map((x) => x.RouteKey), ['GET /p']);
  });

  test('TagResource, GetTags and UntagResource work on the tags of APIs and stages', async () => {
    const apiId = (await gw.send(new CreateApiCommand({ Name: 'tagged', ProtocolType: 'HTTP', Tags: { a: '1' } }))).ApiId!;
    await gw.send(new CreateStageCommand({ ApiId: apiId, StageName: 'dev', Tags: { s: '1' } }));
    await gw.send(new CreateStageCommand({ ApiId: apiId, StageName: '$default' }));
    const apiArn = `arn:aws:apigateway:us-east-1::/apis/${apiId}`;
    const stageArn = `${apiArn}/stages/dev`;

    assert.deepEqual((await gw.send(new GetTagsCommand({ ResourceArn: apiArn }))).Tags, { a: '1' });
    await gw.send(new TagResourceCommand({ ResourceArn: apiArn, Tags: { b: '2', a: 'one' } }));
    assert.deepEqual((await gw.send(new GetTagsCommand({ ResourceArn: apiArn }))).Tags, { a: 'one', b: '2' });
    assert.deepEqual((await gw.send(new GetApiCommand({ ApiId: apiId }))).Tags, { a: 'one', b: '2' });
    await gw.send(new UntagResourceCommand({ ResourceArn: apiArn, TagKeys: ['a'] }));
    assert.deepEqual((await gw.send(new GetTagsCommand({ ResourceArn: apiArn }))).Tags, { b: '2' });

    await gw.send(new TagResourceCommand({ ResourceArn: stageArn, Tags: { t: '2' } }));
    assert.deepEqual((await gw.send(new GetStageCommand({ ApiId: apiId, StageName: 'dev' }))).Tags, { s: '1', t: '2' });
    await gw.send(new UntagResourceCommand({ ResourceArn: stageArn, TagKeys: ['s', 't'] }));
    assert.deepEqual((await gw.send(new GetTagsCommand({ ResourceArn: stageArn }))).Tags, {});
    await gw.send(new TagResourceCommand({ ResourceArn: `${apiArn}/stages/$default`, Tags: { d: 'x' } }));
    assert.deepEqual((await gw.send(new GetStageCommand({ ApiId: apiId, StageName: '$default' }))).Tags, { d: 'x' });
    assert.deepEqual((await gw.send(new GetTagsCommand({ ResourceArn: apiArn }))).Tags, { b: '2' }, 'stage tags are not the API\'s');

    await assert.rejects(gw.send(new GetTagsCommand({ ResourceArn: 'arn:aws:apigateway:us-east-1::/apis/nope123456' })), { name: 'NotFoundException' });
    await assert.rejects(gw.send(new TagResourceCommand({ ResourceArn: `${apiArn}/stages/nosuch`, Tags: { a: '1' } })), { name: 'NotFoundException' });
    await assert.rejects(gw.send(new UntagResourceCommand({ ResourceArn: fnArn('echo'), TagKeys: ['a'] })), { name: 'BadRequestException' });
  });

  test('a stage without autoDeploy serves its deployment, and nothing before it has one', async () => {
    const { apiId, integrationId } = await makeApi('deploys', '2.0', ['GET /a'], { name: 'prod', autoDeploy: false });
    await gw.send(new CreateStageCommand({ ApiId: apiId, StageName: 'live', AutoDeploy: true }));
    const none = await viaPath(apiId, '/prod/a');
    assert.equal(none.status, 404, 'not deployed yet');
    assert.deepEqual(json(none), { message: 'Not Found' });
    assert.equal((await viaPath(apiId, '/live/a')).status, 200, 'an autoDeploy stage serves at once');

    const d1 = await gw.send(new CreateDeploymentCommand({ ApiId: apiId, StageName: 'prod', Description: 'first' }));
    assert.match(d1.DeploymentId!, /^[a-z0-9]+$/);
    assert.equal(d1.DeploymentStatus, 'DEPLOYED');
    assert.equal(d1.AutoDeployed, false);
    assert.ok(d1.CreatedDate instanceof Date);
    assert.equal((await gw.send(new GetStageCommand({ ApiId: apiId, StageName: 'prod' }))).DeploymentId, d1.DeploymentId);
    assert.equal(json(await viaPath(apiId, '/prod/a')).routeKey, 'GET /a');

    // A route added later is live on the autoDeploy stage only, until the next deployment.
    await gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: 'GET /b', Target: `integrations/${integrationId}` }));
    assert.equal((await viaPath(apiId, '/live/b')).status, 200);
    assert.equal((await viaPath(apiId, '/prod/b')).status, 404);
    const d2 = await gw.send(new CreateDeploymentCommand({ ApiId: apiId }));
    assert.equal((await viaPath(apiId, '/prod/b')).status, 404, 'a deployment without StageName moves no stage');
    await gw.send(new UpdateStageCommand({ ApiId: apiId, StageName: 'prod', DeploymentId: d2.DeploymentId }));
    assert.equal((await viaPath(apiId, '/prod/b')).status, 200);

    const list = await gw.send(new GetDeploymentsCommand({ ApiId: apiId }));
    // The others are the autoDeploy stage's automatic deployments.
    assert.deepEqual(list.Items!.filter((d) => !d.AutoDeployed).map((d) => d.DeploymentId), [d1.DeploymentId, d2.DeploymentId]);
    assert.equal((await gw.send(new GetDeploymentCommand({ ApiId: apiId, DeploymentId: d1.DeploymentId }))).Description, 'first');
    assert.equal((await gw.send(new UpdateDeploymentCommand({ ApiId: apiId, DeploymentId: d2.DeploymentId, Description: 'second' }))).Description, 'second');
    const raw = (await (await fetch(`${server.endpoint}/v2/apis/${apiId}/deployments/${d1.DeploymentId}`)).json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(raw).sort(), ['autoDeployed', 'createdDate', 'deploymentId', 'deploymentStatus', 'description']);

    await assert.rejects(gw.send(new DeleteDeploymentCommand({ ApiId: apiId, DeploymentId: d2.DeploymentId })), { name: 'BadRequestException' });
    await gw.send(new DeleteDeploymentCommand({ ApiId: apiId, DeploymentId: d1.DeploymentId }));
    await assert.rejects(gw.send(new GetDeploymentCommand({ ApiId: apiId, DeploymentId: d1.DeploymentId })), { name: 'NotFoundException' });
    await assert.rejects(gw.send(new CreateStageCommand({ ApiId: apiId, StageName: 'qa', DeploymentId: 'nosuch' })), { name: 'NotFoundException' });
    await assert.rejects(gw.send(new CreateDeploymentCommand({ ApiId: apiId, StageName: 'nosuch' })), { name: 'NotFoundException' });

    // Turning autoDeploy on makes the stage serve the live routes.
    await gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: 'GET /c', Target: `integrations/${integrationId}` }));
    assert.equal((await viaPath(apiId, '/prod/c')).status, 404);
    await gw.send(new UpdateStageCommand({ ApiId: apiId, StageName: 'prod', AutoDeploy: true }));
    assert.equal((await viaPath(apiId, '/prod/c')).status, 200);

    // Turning it off again keeps what the stage served, as an automatic deployment.
    const off = await gw.send(new UpdateStageCommand({ ApiId: apiId, StageName: 'live', AutoDeploy: false }));
    assert.ok(off.DeploymentId);
    assert.equal((await gw.send(new GetDeploymentCommand({ ApiId: apiId, DeploymentId: off.DeploymentId }))).AutoDeployed, true);
    assert.equal((await viaPath(apiId, '/live/c')).status, 200);
    await gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: 'GET /d', Target: `integrations/${integrationId}` }));
    assert.equal((await viaPath(apiId, '/live/d')).status, 404);
    assert.equal((await viaPath(apiId, '/prod/d')).status, 200);
  });

  test('an autoDeploy stage records a deployment per change', async () => {
    const deployed = async (apiId: string, stageName: string) => {
      const stage = await gw.send(new GetStageCommand({ ApiId: apiId, StageName: stageName }));
      assert.match(stage.DeploymentId ?? '', /^[a-z0-9]+$/, `${stageName} has a deployment`);
      assert.equal(stage.LastDeploymentStatusMessage, `Successfully deployed stage with deployment ID '${stage.DeploymentId}'`);
      const d = await gw.send(new GetDeploymentCommand({ ApiId: apiId, DeploymentId: stage.DeploymentId }));
      assert.equal(d.AutoDeployed, true);
      assert.equal(d.DeploymentStatus, 'DEPLOYED');
      return stage.DeploymentId!;
    };
    const api = await gw.send(new CreateApiCommand({ Name: 'autodeploy', ProtocolType: 'HTTP', Target: fnArn('echo'), RouteKey: 'GET /a' }));
    const apiId = api.ApiId!;
    const first = await deployed(apiId, '$default');
    assert.deepEqual((await gw.send(new GetDeploymentsCommand({ ApiId: apiId }))).Items!.map((d) => [d.DeploymentId, d.AutoDeployed]), [[first, true]]);

    const [integ] = (await gw.send(new GetIntegrationsCommand({ ApiId: apiId }))).Items!;
    await gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: 'GET /b', Target: `integrations/${integ!.IntegrationId}` }));
    const second = await deployed(apiId, '$default');
    assert.notEqual(second, first);
    // The stage moved on: the automatic deployment it had is used by no stage and is dropped (each
    // holds a copy of the API; kept, they would grow with every change).
    assert.deepEqual((await gw.send(new GetDeploymentsCommand({ ApiId: apiId }))).Items!.map((d) => d.DeploymentId), [second]);
    assert.equal((await viaPath(apiId, '/b')).status, 200);

    // A new autoDeploy stage is deployed at once; a stage without autoDeploy is not.
    await gw.send(new CreateStageCommand({ ApiId: apiId, StageName: 'live', AutoDeploy: true }));
    const live = await deployed(apiId, 'live');
    await gw.send(new CreateStageCommand({ ApiId: apiId, StageName: 'manual' }));
    const manual = await gw.send(new GetStageCommand({ ApiId: apiId, StageName: 'manual' }));
    assert.equal(manual.DeploymentId, undefined);
    assert.equal(manual.LastDeploymentStatusMessage, undefined);

    // Stage settings are no change to the routes: no new deployment.
    await gw.send(new UpdateStageCommand({ ApiId: apiId, StageName: 'live', StageVariables: { a: 'b' } }));
    assert.equal(await deployed(apiId, 'live'), live);
    // Turning autoDeploy off keeps the stage on its last deployment.
    const off = await gw.send(new UpdateStageCommand({ ApiId: apiId, StageName: 'live', AutoDeploy: false }));
    assert.equal(off.DeploymentId, live);
    assert.deepEqual((await gw.send(new GetDeploymentsCommand({ ApiId: apiId }))).Items!.map((d) => d.DeploymentId).sort(), [second, live].sort());
    // Many changes later, still one deployment per auto-deployed stage.
    for (let i = 0; i < 5; i++) await gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: `GET /c${i}`, Target: `integrations/${integ!.IntegrationId}` }));
    assert.equal((await gw.send(new GetDeploymentsCommand({ ApiId: apiId }))).Items!.length, 2);
  });

  test('stage variables in Lambda integration URIs pick the function per stage', async () => {
    await createNodeFunction(lambda, 'whoami', WHOAMI);
    await lambda.send(new CreateAliasCommand({ FunctionName: 'whoami', Name: 'live', FunctionVersion: '$LATEST' }));
    const apiId = (await gw.send(new CreateApiCommand({ Name: 'stagevars', ProtocolType: 'HTTP' }))).ApiId!;
    // The forms API Gateway documents: the invocation ARN, and the function ARN, with ${stageVariables.NAME}
    // as the alias or as the function name.
    const uris: Record<string, string> = {
      '/invocation': `arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${fnArn('whoami')}:\${stageVariables.alias}/invocations`,
      '/name': fnArn('${stageVariables.fn}'),
      '/alias': `${fnArn('whoami')}:\${stageVariables.alias}`,
    };
    for (const [path, uri] of Object.entries(uris)) {
      const integ = await gw.send(new CreateIntegrationCommand({ ApiId: apiId, IntegrationType: 'AWS_PROXY', IntegrationUri: uri, PayloadFormatVersion: '2.0' }));
      assert.equal((await gw.send(new GetIntegrationCommand({ ApiId: apiId, IntegrationId: integ.IntegrationId }))).IntegrationUri, uri);
      await gw.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: `GET ${path}`, Target: `integrations/${integ.IntegrationId}` }));
    }
    await gw.send(new CreateStageCommand({ ApiId: apiId, StageName: 'blue', AutoDeploy: true, StageVariables: { alias: 'live', fn: 'whoami' } }));
    await gw.send(new CreateStageCommand({ ApiId: apiId, StageName: 'green', StageVariables: { alias: 'live', fn: 'whoami' } }));
    await gw.send(new CreateDeploymentCommand({ ApiId: apiId, StageName: 'green' }));
    await gw.send(new CreateStageCommand({ ApiId: apiId, StageName: 'bare', AutoDeploy: true }));
    for (const stage of ['blue', 'green']) {
      for (const [path, arn] of [['/invocation', fnArn('whoami', 'live')], ['/name', fnArn('whoami')], ['/alias', fnArn('whoami', 'live')]] as const) {
        const r = await viaPath(apiId, `/${stage}${path}`);
        assert.equal(r.status, 200, `${stage}${path}: ${r.body}`);
        assert.deepEqual(json(r), { arn, stage }, `${stage}${path}`);
      }
    }
    // A variable the stage does not define: the integration fails.
    for (const path of Object.keys(uris)) {
      const r = await viaPath(apiId, `/bare${path}`);
      assert.equal(r.status, 500, `bare${path}: ${r.body}`);
      assert.deepEqual(json(r), { message: 'Internal Server Error' });
    }
    await assert.rejects(
      gw.send(new CreateIntegrationCommand({ ApiId: apiId, IntegrationType: 'AWS_PROXY', IntegrationUri: `${fnArn('whoami')}:\${stageVariables.a}:x`, PayloadFormatVersion: '2.0' })),
      { name: 'BadRequestException' },
    );
  });

  test('the aws CLI (apigatewayv2) manages an API that then serves traffic', async (t) => {
    if (!hasAws) return serviceMissing(t, 'the aws CLI', 'aws is not on PATH');
    const aws = (...args: string[]) => new Promise<any>((resolve, reject) => {
      execFile('aws', ['apigatewayv2', ...args, '--endpoint-url', server.endpoint, '--output', 'json'], { env: AWS_ENV, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`aws apigatewayv2 ${args.join(' ')}: ${stderr}`));
        else resolve(stdout.trim() ? JSON.parse(stdout) : {});
      });
    });
    const api = await aws('create-api', '--name', 'cli', '--protocol-type', 'HTTP', '--target', fnArn('echo'), '--route-key', 'GET /hi/{name}');
    assert.match(api.ApiId, /^[a-z0-9]{10}$/);
    const hi = await viaPath(api.ApiId, '/hi/bob?x=1');
    assert.equal(hi.status, 200, hi.body.toString());
    assert.deepEqual(json(hi).pathParameters, { name: 'bob' });

    const integ = await aws('create-integration', '--api-id', api.ApiId, '--integration-type', 'AWS_PROXY', '--integration-uri', fnArn('echo'), '--payload-format-version', '1.0');
    const route = await aws('create-route', '--api-id', api.ApiId, '--route-key', 'ANY /v1/{proxy+}', '--target', `integrations/${integ.IntegrationId}`);
    assert.equal(route.RouteKey, 'ANY /v1/{proxy+}');
    const stage = await aws('create-stage', '--api-id', api.ApiId, '--stage-name', 'dev', '--stage-variables', 'color=blue');
    assert.equal(stage.AutoDeploy ?? false, false);
    assert.equal((await viaPath(api.ApiId, '/dev/v1/a/b', { method: 'PUT' })).status, 404, 'dev has no deployment yet');
    const dep = await aws('create-deployment', '--api-id', api.ApiId, '--stage-name', 'dev');
    assert.equal(dep.DeploymentStatus, 'DEPLOYED');
    const v1 = json(await viaPath(api.ApiId, '/dev/v1/a/b', { method: 'PUT' }));
    assert.equal(v1.version, '1.0');
    assert.deepEqual(v1.pathParameters, { proxy: 'a/b' });
    assert.deepEqual(v1.stageVariables, { color: 'blue' });

    await aws('update-api', '--api-id', api.ApiId, '--cors-configuration', 'AllowOrigins=https://app.example,AllowMethods=GET');
    const pre = await viaPath(api.ApiId, '/hi/bob', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example');
    const routes = await aws('get-routes', '--api-id', api.ApiId);
    assert.deepEqual(routes.Items.map((r: { RouteKey: string }) => r.RouteKey).sort(), ['ANY /v1/{proxy+}', 'GET /hi/{name}']);
    const stages = await aws('get-stages', '--api-id', api.ApiId);
    assert.deepEqual(stages.Items.map((s: { StageName: string }) => s.StageName).sort(), ['$default', 'dev']);
    await assert.rejects(aws('get-route', '--api-id', api.ApiId, '--route-id', 'nope'), /NotFoundException/);
    await aws('delete-api', '--api-id', api.ApiId);
    assert.equal((await viaPath(api.ApiId, '/hi/bob')).status, 404);
  });

  test('the aws CLI (lambda) manages function URLs', async (t) => {
    if (!hasAws) return serviceMissing(t, 'the aws CLI', 'aws is not on PATH');
    await createNodeFunction(lambda, 'urlcli', ECHO);
    const aws = (...args: string[]) => new Promise<any>((resolve, reject) => {
      execFile('aws', ['lambda', ...args, '--endpoint-url', server.endpoint, '--output', 'json'], { env: AWS_ENV, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`aws lambda ${args.join(' ')}: ${stderr}`));
        else resolve(stdout.trim() ? JSON.parse(stdout) : {});
      });
    });
    const created = await aws('create-function-url-config', '--function-name', 'urlcli', '--auth-type', 'NONE', '--cors', 'AllowOrigins=https://a.example,MaxAge=60');
    assert.match(created.FunctionUrl, /^http:\/\/[a-z0-9]{32}\.lambda-url\.localhost:\d+\/$/);
    assert.deepEqual(created.Cors, { AllowOrigins: ['https://a.example'], MaxAge: 60 });
    const id = /^http:\/\/([a-z0-9]+)\./.exec(created.FunctionUrl)![1]!;
    assert.equal(json(await request({ port: server.port, path: `/_urls/${id}/p?q=1` })).rawPath, '/p');
    const updated = await aws('update-function-url-config', '--function-name', 'urlcli', '--invoke-mode', 'RESPONSE_STREAM');
    assert.equal(updated.InvokeMode, 'RESPONSE_STREAM');
    assert.equal((await aws('get-function-url-config', '--function-name', 'urlcli')).InvokeMode, 'RESPONSE_STREAM');
    const list = await aws('list-function-url-configs', '--function-name', 'urlcli');
    assert.deepEqual(list.FunctionUrlConfigs.map((c: { FunctionUrl: string }) => c.FunctionUrl), [created.FunctionUrl]);
    await aws('delete-function-url-config', '--function-name', 'urlcli');
    await assert.rejects(aws('get-function-url-config', '--function-name', 'urlcli'), /ResourceNotFoundException/);
    assert.equal((await request({ port: server.port, path: `/_urls/${id}/` })).status, 404);
  });
});
