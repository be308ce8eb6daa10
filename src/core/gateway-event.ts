/**
 * Events as API Gateway HTTP APIs and Lambda function URLs send them to a function:
 * payload format 2.0 and 1.0 (the REST proxy shape). Pure: the caller passes the request as
 * received plus the routing decision, clock reading and request id.
 */

import type { IamCaller } from './gateway-auth.js';

export interface HttpRequestInfo {
  method: string;
  /** Path as the client sent it, percent-encoded, without the query string. */
  rawPath: string;
  rawQueryString: string;
  /** Node's rawHeaders: [name, value, name, value, ...] in arrival order. */
  rawHeaders: string[];
  body: Buffer;
  sourceIp: string;
  protocol: string;
  /** Host the request reached (without port), e.g. `abc123.execute-api.localhost`. */
  domainName: string;
}

export interface EventContext {
  accountId: string;
  apiId: string;
  stage: string;
  routeKey: string;
  /** Resource path of the matched route (`/items/{id}`), for 1.0's `resource`. */
  resourcePath?: string;
  pathParameters: Record<string, string>;
  stageVariables?: Record<string, string>;
  requestId: string;
  timeEpoch: number;
  /** requestContext.authorizer as built by the authorizer step. */
  authorizer?: Record<string, unknown>;
  /** The SigV4 caller of an AWS_IAM route: 1.0 has it in requestContext.identity (2.0 in authorizer.iam). */
  iam?: IamCaller;
}

/** Content types API Gateway passes as text; anything else reaches the function base64-encoded. */
export function isTextContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const ct = contentType.split(';')[0]!.trim().toLowerCase();
  if (ct.startsWith('text/')) return true;
  if (ct.endsWith('+json') || ct.endsWith('+xml')) return true;
  return /^application\/(json|xml|javascript|x-javascript|ecmascript|yaml|x-yaml|graphql)$/.test(ct);
}

/** `12/Mar/2020:19:03:58 +0000`, as requestContext.time. */
export function clfTime(ms: number): string {
  const d = new Date(ms);
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Query parameters in order, names and values decoded. */
export function parseQuery(raw: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!raw) return out;
  for (const part of raw.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    out.push([decode(k), decode(v)]);
  }
  return out;
}

/** Lower-cased header map with repeated values comma-joined (2.0). */
export function joinedHeaders(rawHeaders: string[]): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const k = rawHeaders[i]!.toLowerCase();
    const v = rawHeaders[i + 1]!;
    h[k] = h[k] === undefined ? v : `${h[k]},${v}`;
  }
  return h;
}

export function headerValue(rawHeaders: string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === name) found = found === undefined ? rawHeaders[i + 1]! : `${found},${rawHeaders[i + 1]}`;
  }
  return found;
}

/** Cookie header(s) split into `name=value` strings, as 2.0's `cookies`. */
export function splitCookies(rawHeaders: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'cookie') continue;
    for (const c of rawHeaders[i + 1]!.split(';')) {
      const t = c.trim();
      if (t) out.push(t);
    }
  }
  return out;
}

function bodyFields(req: HttpRequestInfo, contentType: string | undefined): { body?: string; isBase64Encoded: boolean } {
  if (req.body.length === 0) return { isBase64Encoded: false };
  if (isTextContentType(contentType)) return { body: req.body.toString('utf8'), isBase64Encoded: false };
  return { body: req.body.toString('base64'), isBase64Encoded: true };
}

/** Payload format 2.0. */
export function buildEventV2(req: HttpRequestInfo, ctx: EventContext): Record<string, unknown> {
  const headers = joinedHeaders(req.rawHeaders);
  const cookies = splitCookies(req.rawHeaders);
  delete headers.cookie;
  const query = parseQuery(req.rawQueryString);
  const domainPrefix = req.domainName.split('.')[0] ?? req.domainName;
  const ev: Record<string, unknown> = {
    version: '2.0',
    routeKey: ctx.routeKey,
    rawPath: req.rawPath,
    rawQueryString: req.rawQueryString,
  };
  if (cookies.length) ev.cookies = cookies;
  ev.headers = headers;
  if (query.length) {
    const q: Record<string, string> = {};
    for (const [k, v] of query) q[k] = q[k] === undefined ? v : `${q[k]},${v}`;
    ev.queryStringParameters = q;
  }
  const requestContext: Record<string, unknown> = {
    accountId: ctx.accountId,
    apiId: ctx.apiId,
  };
  if (ctx.authorizer) requestContext.authorizer = ctx.authorizer;
  Object.assign(requestContext, {
    domainName: req.domainName,
    domainPrefix,
    http: {
      method: req.method,
      path: req.rawPath,
      protocol: req.protocol,
      sourceIp: req.sourceIp,
      userAgent: headers['user-agent'] ?? '',
    },
    requestId: ctx.requestId,
    routeKey: ctx.routeKey,
    stage: ctx.stage,
    time: clfTime(ctx.timeEpoch),
    timeEpoch: ctx.timeEpoch,
  });
  ev.requestContext = requestContext;
  if (Object.keys(ctx.pathParameters).length) ev.pathParameters = ctx.pathParameters;
  if (ctx.stageVariables && Object.keys(ctx.stageVariables).length) ev.stageVariables = ctx.stageVariables;
  Object.assign(ev, bodyFields(req, headers['content-type']));
  return ev;
}

/**
 * Payload format 1.0: the REST API proxy shape, with multi-value maps. As in 2.0, HTTP APIs
 * lower-case header names: a name sent in two cases is one header (`headers` has its last value,
 * `multiValueHeaders` every value in order).
 */
export function buildEventV1(req: HttpRequestInfo, ctx: EventContext): Record<string, unknown> {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const k = req.rawHeaders[i]!.toLowerCase();
    const v = req.rawHeaders[i + 1]!;
    headers[k] = v;
    (multiValueHeaders[k] ??= []).push(v);
  }
  const query = parseQuery(req.rawQueryString);
  let qs: Record<string, string> | null = null;
  let mqs: Record<string, string[]> | null = null;
  if (query.length) {
    qs = {};
    mqs = {};
    for (const [k, v] of query) {
      qs[k] = v;
      (mqs[k] ??= []).push(v);
    }
  }
  const contentType = headerValue(req.rawHeaders, 'content-type');
  const userAgent = headerValue(req.rawHeaders, 'user-agent') ?? '';
  const resource = ctx.resourcePath ?? req.rawPath;
  const b = bodyFields(req, contentType);
  return {
    version: '1.0',
    resource,
    path: req.rawPath,
    httpMethod: req.method,
    headers,
    multiValueHeaders,
    queryStringParameters: qs,
    multiValueQueryStringParameters: mqs,
    requestContext: {
      accountId: ctx.accountId,
      apiId: ctx.apiId,
      authorizer: ctx.authorizer ?? { claims: null, scopes: null },
      domainName: req.domainName,
      domainPrefix: req.domainName.split('.')[0] ?? req.domainName,
      extendedRequestId: ctx.requestId,
      httpMethod: req.method,
      identity: {
        accessKey: ctx.iam?.accessKey ?? null,
        accountId: ctx.iam?.accountId ?? null,
        caller: ctx.iam?.callerId ?? null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: req.sourceIp,
        user: ctx.iam?.userId ?? null,
        userAgent,
        userArn: ctx.iam?.userArn ?? null,
      },
      path: req.rawPath,
      protocol: req.protocol,
      requestId: ctx.requestId,
      requestTime: clfTime(ctx.timeEpoch),
      requestTimeEpoch: ctx.timeEpoch,
      resourceId: ctx.routeKey,
      resourcePath: resource,
      stage: ctx.stage,
    },
    pathParameters: Object.keys(ctx.pathParameters).length ? ctx.pathParameters : null,
    stageVariables: ctx.stageVariables && Object.keys(ctx.stageVariables).length ? ctx.stageVariables : null,
    body: b.body ?? null,
    isBase64Encoded: b.isBase64Encoded,
  };
}
