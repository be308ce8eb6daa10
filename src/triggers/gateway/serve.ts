import type { IncomingMessage, ServerResponse } from 'node:http';
import { isStratusError } from '../../core/errors.js';
import { bearerToken, iamCaller, identityValues, routeArn, scopesAllow, sigV4AccessKey, stringifyClaims, tokenScopes } from '../../core/gateway-auth.js';
import { applyCors, isPreflight, preflightHeaders } from '../../core/gateway-cors.js';
import { buildEventV1, buildEventV2, headerValue, joinedHeaders, parseQuery, type EventContext, type HttpRequestInfo } from '../../core/gateway-event.js';
import { gatewayError, mapResponseV1, mapResponseV2, type HttpResponse } from '../../core/gateway-response.js';
import type { Locale } from '../../core/model.js';
import type { Invoker } from '../../invoke/types.js';
import type { Clock } from '../../ports/index.js';
import { InvalidTokenError, type JwtVerifier, type LambdaAuthorizers } from './authorizers.js';
import { randomString } from '../../invoke/index.js';
import { domainOf, readBody, requestInfo, sendResponse, splitUrl } from './http-io.js';
import { integrationTarget, type CompiledApi, type CompiledRoute, type GatewayTable } from './table.js';
import { DEFAULT_STAGE, type StageSpec } from './types.js';

/** HTTP APIs accept request payloads up to 10 MB. */
export const GATEWAY_MAX_BODY = 10 * 1024 * 1024;
export const PATH_PREFIX = '/_apis/';
const HOST_RE = /^([a-z0-9]+)\.execute-api\./;

export const GatewayResponses = {
  notFound: () => gatewayError(404, 'Not Found'),
  forbidden: (challenge?: string) => gatewayError(403, 'Forbidden', challenge ? [['www-authenticate', challenge]] : []),
  /** With a JWT authorizer the answer carries a WWW-Authenticate challenge (RFC 6750). */
  unauthorized: (challenge?: string) => gatewayError(401, 'Unauthorized', challenge ? [['www-authenticate', challenge]] : []),
  /** Also a malformed Lambda response: HTTP APIs answer 500 where REST APIs answer 502. */
  internal: () => gatewayError(500, 'Internal Server Error'),
  unavailable: () => gatewayError(503, 'Service Unavailable'),
  /** An integration past its TimeoutInMillis: HTTP APIs answer 503, not REST APIs' 504 "Endpoint request timed out". */
  timeout: () => gatewayError(503, 'Service Unavailable'),
  /** Over the gateway's own 10 MB; what Lambda refuses (over 6 MB, throttled) is internal(). */
  tooLarge: () => gatewayError(413, 'Request Entity Too Large'),
};

/** True for traffic addressed to an HTTP API (host or path form). */
export function isGatewayRequest(req: IncomingMessage): boolean {
  const url = req.url ?? '';
  if (url.startsWith(PATH_PREFIX)) return true;
  // Host names are case-insensitive: ABC.EXECUTE-API.localhost is the same API.
  const host = req.headers.host?.toLowerCase();
  return host !== undefined && host.includes('.execute-api.') && HOST_RE.test(host);
}

export interface GatewayDeps {
  table: GatewayTable;
  invoker: Invoker;
  jwt: JwtVerifier;
  lambdaAuth: LambdaAuthorizers;
  clock: Clock;
  locale: Locale;
}

function requestId(): string {
  return randomString(11, 'base64');
}

/** Serves one request addressed to an HTTP API. */
export async function serveGateway(deps: GatewayDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { path: urlPath, query } = splitUrl(req.url ?? '/');
  let apiId: string;
  let path: string;
  if (urlPath.startsWith(PATH_PREFIX)) {
    const rest = urlPath.slice(PATH_PREFIX.length);
    const slash = rest.indexOf('/');
    apiId = slash < 0 ? rest : rest.slice(0, slash);
    path = slash < 0 ? '/' : rest.slice(slash);
  } else {
    apiId = HOST_RE.exec((req.headers.host ?? '').toLowerCase())?.[1] ?? '';
    path = urlPath;
  }
  let api = deps.table.get(apiId);
  if (!api) {
    await deps.table.settle();
    api = deps.table.get(apiId);
  }
  const reply = (r: HttpResponse, extra: Array<[string, string]> = []) => {
    req.resume();
    sendResponse(req, res, r, extra, GatewayResponses.internal);
  };
  if (!api) return reply(GatewayResponses.notFound());
  if (api.api.disableExecuteApiEndpoint) return reply(GatewayResponses.forbidden());

  // Stage: the first segment when it names a stage, else $default.
  const seg = path.split('/')[1] ?? '';
  let stage: StageSpec | undefined;
  let stagePath = path;
  const named = seg && seg !== DEFAULT_STAGE ? api.stages.get(safeDecode(seg)) : undefined;
  if (named) {
    stage = named;
    stagePath = path.slice(seg.length + 1) || '/';
  } else {
    stage = api.stages.get(DEFAULT_STAGE);
  }
  if (!stage) return reply(GatewayResponses.notFound());

  const rid = requestId();
  const idHeader: Array<[string, string]> = [['apigw-requestid', rid]];
  const body = await readBody(req, GATEWAY_MAX_BODY);
  if (body === 'too-large') return reply(GatewayResponses.tooLarge(), idHeader);

  const method = req.method ?? 'GET';
  const cors = api.api.corsConfiguration;
  const headers = joinedHeaders(req.rawHeaders);
  if (cors && isPreflight(method, headers)) {
    return reply({ statusCode: 204, headers: preflightHeaders(cors, headers), body: Buffer.alloc(0) }, idHeader);
  }
  const finish = (r: HttpResponse) => {
    const out = cors ? { ...r, headers: applyCors(cors, headers, r.headers) } : r;
    reply(out, idHeader);
  };

  // A stage without autoDeploy serves its deployment, and nothing before it has one.
  const match = api.stageRoutes.get(stage.stageName)?.match(method, stagePath);
  if (!match) return finish(GatewayResponses.notFound());
  const route = match.route;
  const integration = route.integration;
  if (!integration || (!integration.functionName && integration.uriTemplate === undefined)) return finish(GatewayResponses.notFound());

  const now = deps.clock.now();
  const info = requestInfo(req, path, query, body, domainOf(req, apiId, 'execute-api'), now);
  const ctx: EventContext = {
    accountId: deps.locale.accountId,
    apiId,
    stage: stage.stageName,
    routeKey: match.routeKey,
    resourcePath: route.resourcePath,
    pathParameters: match.pathParameters,
    stageVariables: stage.stageVariables,
    requestId: rid,
    timeEpoch: now,
  };
  const v1 = integration.spec.payloadFormatVersion === '1.0';

  const denied = await authorize(deps, api, route, info, ctx, headers, stagePath, v1);
  if (denied) return finish(denied);

  // A URI naming a variable this stage does not define fails as an integration.
  const target = integrationTarget(integration, stage.stageVariables);
  if (!target) return finish(GatewayResponses.internal());
  const event = v1 ? buildEventV1(info, ctx) : buildEventV2(info, ctx);
  const result = await invokeWithTimeout(deps.invoker, {
    functionName: target.functionName,
    qualifier: target.qualifier,
    payload: Buffer.from(JSON.stringify(event)),
    // The function's _X_AMZN_TRACE_ID is the trace the request carries.
    traceId: headerValue(info.rawHeaders, 'x-amzn-trace-id'),
  }, integration.spec.timeoutInMillis);
  if ('response' in result) return finish(result.response);
  if (result.functionError) return finish(GatewayResponses.internal());
  const mapped = v1 ? mapResponseV1(result.payload) : mapResponseV2(result.payload);
  if ('malformed' in mapped) return finish(GatewayResponses.internal());
  return finish(mapped);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Runs the route's authorizer; returns the error response, or undefined and sets ctx.authorizer. */
async function authorize(
  deps: GatewayDeps,
  api: CompiledApi,
  route: CompiledRoute,
  info: HttpRequestInfo,
  ctx: EventContext,
  headers: Record<string, string>,
  stagePath: string,
  v1: boolean,
): Promise<HttpResponse | undefined> {
  const type = route.route.authorizationType;
  if (type === 'NONE') return undefined;
  if (type === 'AWS_IAM') {
    // As function URLs: any SigV4-signed request passes (Stratus checks no signature anywhere);
    // an unsigned one is refused.
    const accessKey = sigV4AccessKey(headers.authorization, info.rawQueryString);
    if (!accessKey) return GatewayResponses.forbidden();
    const iam = iamCaller(accessKey, deps.locale.accountId);
    if (v1) ctx.iam = iam;
    else ctx.authorizer = { iam };
    return undefined;
  }
  const a = route.authorizer;
  if (!a) return GatewayResponses.internal();
  const queryMap: Record<string, string> = {};
  for (const [k, v] of parseQuery(info.rawQueryString)) queryMap[k] = queryMap[k] === undefined ? v : `${queryMap[k]},${v}`;
  const identity = identityValues(a.identitySource, {
    headers,
    query: queryMap,
    stageVariables: ctx.stageVariables ?? {},
    context: { requestId: ctx.requestId, stage: ctx.stage, routeKey: ctx.routeKey, apiId: ctx.apiId, httpMethod: info.method },
  });

  if (type === 'JWT') {
    if (!identity) return GatewayResponses.unauthorized('Bearer');
    let claims: Record<string, unknown>;
    try {
      claims = (await deps.jwt.verify(bearerToken(identity[0]!), a.jwtConfiguration ?? {})) as Record<string, unknown>;
    } catch (err) {
      const why = err instanceof InvalidTokenError ? err.message : 'the token is invalid';
      return GatewayResponses.unauthorized(`Bearer scope="" error="invalid_token" error_description="${why}"`);
    }
    const scopes = tokenScopes(claims);
    const wanted = route.route.authorizationScopes ?? [];
    if (!scopesAllow(wanted, scopes)) {
      return GatewayResponses.forbidden(`Bearer scope="${wanted.join(' ')}" error="insufficient_scope" error_description="expected scopes: [${wanted.join(' ')}]"`);
    }
    const jwt = { claims: stringifyClaims(claims), scopes: scopes.length ? scopes : null };
    ctx.authorizer = v1 ? jwt : { jwt };
    return undefined;
  }

  // CUSTOM: a Lambda (REQUEST) authorizer.
  if (a.identitySource.length > 0 && !identity) return GatewayResponses.unauthorized();
  const arn = routeArn(deps.locale.region, deps.locale.accountId, api.api.apiId, ctx.stage, info.method, stagePath);
  let event: Record<string, unknown>;
  if (a.authorizerPayloadFormatVersion === '1.0') {
    const base = buildEventV1(info, ctx);
    delete base.body;
    delete base.isBase64Encoded;
    // As documented for 1.0: identitySource and authorizationToken both carry the values comma-joined.
    const joined = (identity ?? []).join(',');
    event = { ...base, type: 'REQUEST', methodArn: arn, identitySource: joined, authorizationToken: joined };
  } else {
    const base = buildEventV2(info, ctx);
    delete base.body;
    delete base.isBase64Encoded;
    event = { version: '2.0', type: 'REQUEST', routeArn: arn, identitySource: identity ?? [], ...base };
    event.version = '2.0';
  }
  const r = await deps.lambdaAuth.authorize(a, identity ?? [], event, arn, `${api.api.apiId}/${ctx.stage}`);
  if (r.kind === 'error') return GatewayResponses.internal();
  if (r.kind === 'deny') return GatewayResponses.forbidden();
  if (v1) ctx.authorizer = { ...r.context, ...(r.principalId !== undefined ? { principalId: r.principalId } : {}) };
  else ctx.authorizer = { lambda: r.context };
  return undefined;
}

type InvokeOutcome = { response: HttpResponse } | { payload: Buffer; functionError?: string };

/** Invokes through the pipeline; the gateway answers 504 when the integration timeout passes first. */
export async function invokeWithTimeout(
  invoker: Invoker,
  req: { functionName: string; qualifier?: string; payload: Buffer; traceId?: string },
  timeoutMs: number,
): Promise<InvokeOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<InvokeOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ response: GatewayResponses.timeout() }), timeoutMs);
  });
  const run = invoker
    .invoke({ ...req, invocationType: 'RequestResponse', source: 'gateway' })
    .then((r): InvokeOutcome => ({ payload: r.payload, functionError: r.functionError }))
    .catch((err): InvokeOutcome => ({ response: invokeErrorResponse(err) }));
  try {
    return await Promise.race([run, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * "If the Lambda API rejects the invocation request, API Gateway returns a 500 error code": a
 * throttled function (429) or an event over Lambda's 6 MB (413) included.
 */
function invokeErrorResponse(err: unknown): HttpResponse {
  if (isStratusError(err) && err.status >= 500) return GatewayResponses.unavailable();
  return GatewayResponses.internal();
}
