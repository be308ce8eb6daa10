import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { parseAuthorizerResponse } from '../../core/gateway-auth.js';
import type { Clock } from '../../ports/index.js';
import type { Invoker } from '../../invoke/types.js';
import { integrationFunction } from './service.js';
import type { AuthorizerSpec, JwtConfiguration } from './types.js';

type KeySet = JWTVerifyGetKey;

/** A token API Gateway refuses, with the `error_description` its WWW-Authenticate carries. */
export class InvalidTokenError extends Error {}

function describe(err: unknown): string {
  const e = err as { code?: string; claim?: string };
  if (e?.code === 'ERR_JWT_EXPIRED') return 'the token has expired';
  if (e?.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    if (e.claim === 'iss') return 'the token does not have a valid issuer';
    if (e.claim === 'nbf') return 'the token is not valid yet';
    return `the token has an invalid ${e.claim ?? 'claim'}`;
  }
  if (e?.code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return 'the token signature is invalid';
  if (e?.code === 'ERR_JWKS_NO_MATCHING_KEY') return 'no key in the JWKS matches the token';
  if (e?.code === 'ERR_JWS_INVALID' || e?.code === 'ERR_JWT_INVALID') return 'the token is malformed';
  return 'the token is invalid';
}

/**
 * JWT verification as HTTP API JWT authorizers do it: keys from the issuer's JWKS (found through
 * OpenID discovery at ISSUER/.well-known/openid-configuration, else ISSUER/.well-known/jwks.json;
 * or the Stratus extensions jwksUri / inline jwks), signature, `iss`, `exp`/`nbf`, and `aud` or
 * `client_id` against the configured audience.
 */
export class JwtVerifier {
  private readonly keySets = new Map<string, Promise<KeySet>>();

  private keySet(cfg: JwtConfiguration): Promise<KeySet> {
    const id = cfg.jwks ? `inline:${JSON.stringify(cfg.jwks)}` : cfg.jwksUri ? `uri:${cfg.jwksUri}` : `issuer:${cfg.issuer}`;
    let p = this.keySets.get(id);
    if (!p) {
      if (cfg.jwks) {
        const jwks = cfg.jwks as unknown as JSONWebKeySet;
        p = Promise.resolve(createLocalJWKSet(jwks));
      } else {
        const uri = cfg.jwksUri ? Promise.resolve(cfg.jwksUri) : discoverJwksUri(cfg.issuer!);
        p = uri.then((u) => createRemoteJWKSet(new URL(u), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 }));
      }
      p.catch(() => this.keySets.delete(id));
      if (this.keySets.size >= 1000) this.keySets.delete(this.keySets.keys().next().value!);
      this.keySets.set(id, p);
    }
    return p;
  }

  /** The token's claims when valid; throws InvalidTokenError otherwise. */
  async verify(token: string, cfg: JwtConfiguration): Promise<JWTPayload> {
    const issuer = cfg.issuer!;
    let payload: JWTPayload;
    try {
      const keys = await this.keySet(cfg);
      ({ payload } = await jwtVerify(token, keys, { issuer, clockTolerance: 0 }));
    } catch (err) {
      throw new InvalidTokenError(describe(err));
    }
    const audience = cfg.audience ?? [];
    if (audience.length) {
      const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
      const clientId = typeof payload.client_id === 'string' ? payload.client_id : undefined;
      if (!aud.some((a) => audience.includes(a)) && !(clientId && audience.includes(clientId))) {
        throw new InvalidTokenError('the token does not have a valid audience');
      }
    }
    return payload;
  }
}

async function discoverJwksUri(issuer: string): Promise<string> {
  const base = issuer.replace(/\/$/, '');
  try {
    const res = await fetch(`${base}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
    if (res.ok) {
      const doc = (await res.json()) as { jwks_uri?: unknown };
      if (typeof doc.jwks_uri === 'string') return doc.jwks_uri;
    } else {
      await res.arrayBuffer();
    }
  } catch {
    /* fall through to the conventional location */
  }
  return `${base}/.well-known/jwks.json`;
}

interface CachedResponse {
  payload: Buffer;
  expiresAt: number;
}

const MAX_CACHE = 10_000;

export type LambdaAuthResult =
  | { kind: 'allow'; context: Record<string, unknown>; principalId?: string }
  | { kind: 'deny' }
  | { kind: 'error' };

/**
 * Lambda (REQUEST) authorizers: invoke through the one pipeline, parse simple or IAM policy
 * responses, cache responses for the TTL keyed by authorizer and identity source values.
 */
export class LambdaAuthorizers {
  private readonly cache = new Map<string, CachedResponse>();

  constructor(private readonly deps: { invoker: Invoker; clock: Clock }) {}

  /**
   * `scope` is API_ID/STAGE: results are cached per stage (ResetAuthorizersCache clears one),
   * per authorizer (and its function), per identity source values.
   */
  async authorize(a: AuthorizerSpec, identity: string[], event: Record<string, unknown>, arn: string, scope = ''): Promise<LambdaAuthResult> {
    const ttl = a.authorizerResultTtlInSeconds ?? 0;
    const key = `${scope}\u0000${a.authorizerId}\u0000${a.authorizerUri ?? ''}\u0000${identity.join('\u0000')}`;
    const now = this.deps.clock.now();
    let payload: Buffer | undefined;
    if (ttl > 0) {
      const hit = this.cache.get(key);
      if (hit && hit.expiresAt > now) payload = hit.payload;
      else if (hit) this.cache.delete(key);
    }
    if (!payload) {
      const fn = integrationFunction(a.authorizerUri ?? '');
      if (!fn) return { kind: 'error' };
      try {
        const result = await this.deps.invoker.invoke({
          functionName: fn.functionName,
          qualifier: fn.qualifier,
          payload: Buffer.from(JSON.stringify(event)),
          invocationType: 'RequestResponse',
          source: 'gateway',
        });
        if (result.functionError) return { kind: 'error' };
        payload = result.payload;
      } catch {
        return { kind: 'error' };
      }
      const check = parseAuthorizerResponse(payload, a.enableSimpleResponses === true, arn);
      if ('malformed' in check) return { kind: 'error' };
      if (ttl > 0) {
        if (this.cache.size >= MAX_CACHE) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(key, { payload, expiresAt: now + ttl * 1000 });
      }
    }
    const d = parseAuthorizerResponse(payload, a.enableSimpleResponses === true, arn);
    if ('malformed' in d) return { kind: 'error' };
    if (!d.authorized) return { kind: 'deny' };
    const out: LambdaAuthResult = { kind: 'allow', context: d.context };
    if (d.principalId !== undefined) out.principalId = d.principalId;
    return out;
  }

  /** Forgets cached results of one stage (`API_ID/STAGE`), as ResetAuthorizersCache does. */
  reset(scope: string): void {
    for (const k of this.cache.keys()) if (k.startsWith(`${scope}\u0000`)) this.cache.delete(k);
  }
}
