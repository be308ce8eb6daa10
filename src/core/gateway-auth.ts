/**
 * Authorizer decisions for HTTP APIs: identity sources, Lambda authorizer responses (simple and
 * IAM policy), JWT scopes, SigV4 callers (AWS_IAM). Pure; the gateway does the token verification
 * and invocations.
 */

export interface IdentityInputs {
  /** Lower-cased, comma-joined request headers. */
  headers: Record<string, string>;
  /** Query parameters, repeated values comma-joined. */
  query: Record<string, string>;
  stageVariables: Record<string, string>;
  context: Record<string, string>;
}

/**
 * Values of the identity sources, in order; undefined when one is missing or empty (API Gateway
 * then answers 401 without calling the authorizer).
 */
export function identityValues(sources: string[], inputs: IdentityInputs): string[] | undefined {
  const out: string[] = [];
  for (const src of sources) {
    let v: string | undefined;
    let m: RegExpExecArray | null;
    if ((m = /^\$request\.header\.(.+)$/.exec(src))) v = inputs.headers[m[1]!.toLowerCase()];
    else if ((m = /^\$request\.querystring\.(.+)$/.exec(src))) v = inputs.query[m[1]!];
    else if ((m = /^\$stageVariables\.(.+)$/.exec(src))) v = inputs.stageVariables[m[1]!];
    else if ((m = /^\$context\.(.+)$/.exec(src))) v = inputs.context[m[1]!];
    if (v === undefined || v === '') return undefined;
    out.push(v);
  }
  return out;
}

export function isValidIdentitySource(src: string): boolean {
  return /^\$(request\.header|request\.querystring|stageVariables|context)\.[^\s]+$/.test(src);
}

/** Strips a `Bearer ` prefix (API Gateway accepts the token with or without it). */
export function bearerToken(value: string): string {
  return value.replace(/^Bearer\s+/i, '').trim();
}

/** arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH */
export function routeArn(region: string, accountId: string, apiId: string, stage: string, method: string, path: string): string {
  return `arn:aws:execute-api:${region}:${accountId}:${apiId}/${stage}/${method}${path.startsWith('/') ? path : '/' + path}`;
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp('^' + pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('') + '$');
  return re.test(value);
}

function asList(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

/** IAM policy evaluation for execute-api:Invoke on the route ARN: an explicit Deny wins. */
export function policyAllows(policyDocument: unknown, arn: string): boolean {
  const doc = policyDocument as { Statement?: unknown } | undefined;
  const statements = Array.isArray(doc?.Statement) ? doc!.Statement : doc?.Statement ? [doc.Statement] : [];
  let allowed = false;
  for (const s of statements as Array<Record<string, unknown>>) {
    if (!s || typeof s !== 'object') continue;
    const actions = asList(s.Action);
    if (!actions.some((a) => globMatch(a, 'execute-api:Invoke'))) continue;
    if (!asList(s.Resource).some((r) => globMatch(r, arn))) continue;
    if (s.Effect === 'Deny') return false;
    if (s.Effect === 'Allow') allowed = true;
  }
  return allowed;
}

export type AuthorizerDecision = { authorized: boolean; context: Record<string, unknown>; principalId?: string } | { malformed: string };

/** Parses a Lambda authorizer's response: simple ({isAuthorized, context}) or IAM policy. */
export function parseAuthorizerResponse(payload: Buffer, simple: boolean, arn: string): AuthorizerDecision {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return { malformed: 'authorizer response is not valid JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { malformed: 'authorizer response must be an object' };
  const o = v as Record<string, unknown>;
  const context = typeof o.context === 'object' && o.context !== null && !Array.isArray(o.context) ? (o.context as Record<string, unknown>) : {};
  if (simple) {
    if (typeof o.isAuthorized !== 'boolean') return { malformed: 'isAuthorized must be a boolean' };
    return { authorized: o.isAuthorized, context };
  }
  if (typeof o.policyDocument !== 'object' || o.policyDocument === null) return { malformed: 'policyDocument is required' };
  const d: AuthorizerDecision = { authorized: policyAllows(o.policyDocument, arn), context };
  if (typeof o.principalId === 'string') d.principalId = o.principalId;
  return d;
}

/** Scopes a JWT carries: `scope` (space-separated) or `scp` (list or string). */
export function tokenScopes(claims: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (typeof claims.scope === 'string') out.push(...claims.scope.split(' ').filter(Boolean));
  if (typeof claims.scp === 'string') out.push(...claims.scp.split(' ').filter(Boolean));
  else if (Array.isArray(claims.scp)) out.push(...claims.scp.filter((s): s is string => typeof s === 'string'));
  return out;
}

/** A route with AuthorizationScopes admits a token carrying at least one of them. */
export function scopesAllow(routeScopes: string[] | undefined, scopes: string[]): boolean {
  if (!routeScopes || routeScopes.length === 0) return true;
  return routeScopes.some((s) => scopes.includes(s));
}

/** requestContext.authorizer.jwt.claims: API Gateway passes claim values as strings. */
export function stringifyClaims(claims: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(claims)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v)) out[k] = `[${v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ')}]`;
    else if (typeof v === 'object' && v !== null) out[k] = JSON.stringify(v);
    else out[k] = String(v);
  }
  return out;
}

/**
 * The access key a SigV4-signed request names: its Authorization header's
 * `AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, SignedHeaders=..., Signature=...`,
 * or a presigned URL's X-Amz-Credential with X-Amz-Signature. Null when it is not signed so.
 */
export function sigV4AccessKey(authorization: string | undefined, rawQuery: string): string | null {
  const m = authorization ? /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/[^,]+,\s*SignedHeaders=[^,]+,\s*Signature=[0-9a-f]+\s*$/i.exec(authorization) : null;
  if (m) return m[1]!;
  const q = new URLSearchParams(rawQuery);
  const cred = q.get('X-Amz-Credential');
  const sig = q.get('X-Amz-Signature');
  if (typeof cred === 'string' && typeof sig === 'string' && /^[0-9a-f]+$/i.test(sig) && cred.includes('/')) return cred.split('/')[0]!;
  return null;
}

/**
 * The caller of an AWS_IAM request, as payload 2.0's requestContext.authorizer.iam gives it. Any
 * access key is taken as the account's root (Stratus has no IAM users to look it up in).
 */
export interface IamCaller {
  accessKey: string;
  accountId: string;
  callerId: string;
  cognitoIdentity: null;
  principalOrgId: null;
  userArn: string;
  userId: string;
}

export function iamCaller(accessKey: string, accountId: string): IamCaller {
  return {
    accessKey, accountId, callerId: accessKey, cognitoIdentity: null, principalOrgId: null,
    userArn: `arn:aws:iam::${accountId}:root`, userId: accessKey,
  };
}
