import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { parseAuthorizerResponse } from '../../core/gateway-auth.js';
import type { Clock } from '../../ports/index.js';
import type { Invoker } from '../../invoke/types.js';
import { integrationFunction } from './service.js';
import type { AuthorizerSpec } from './types.js';

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/**
 * JWT verification as HTTP API JWT authorizers do it: keys from the issuer's JWKS (found through
 * OpenID discovery at ISSUER/.well-known/openid-configuration, else ISSUER/.well-known/jwks.json),
 * signature, `iss`, `exp`/`nbf`, and `aud` or `client_id` against the configured audience.
 */
export class JwtVerifier {
  private readonly keySets = new Map<string, Promise<KeySet>>();

  private keySet(issuer: string): Promise<KeySet> {
    let p = this.keySets.get(issuer);
    if (!p) {
      p = discoverJwksUri(issuer).then((uri) => createRemoteJWKSet(new URL(uri), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 }));
      p.catch(() => this.keySets.delete(issuer));
      this.keySets.set(issuer, p);
    }
    return p;
  }

  /** The token's claims when valid; throws otherwise. */
  async verify(token: string, cfg: NonNullable<AuthorizerSpec['jwtConfiguration']>): Promise<JWTPayload> {
    const issuer = cfg.issuer!;
    const keys = await this.keySet(issuer);
    const { payload } = await jwtVerify(token, keys, { issuer, clockTolerance: 0 });
    const audience = cfg.audience ?? [];
    if (audience.length) {
      const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
      const clientId = typeof payload.client_id === 'string' ? payload.client_id : undefined;
      if (!aud.some((a) => audience.includes(a)) && !(clientId && audience.includes(clientId))) {
        throw new Error('audience does not match');
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

  async authorize(a: AuthorizerSpec, identity: string[], event: Record<string, unknown>, arn: string): Promise<LambdaAuthResult> {
    const ttl = a.authorizerResultTtlInSeconds ?? 0;
    const key = `${a.authorizerId}\u0000${identity.join('\u0000')}`;
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
}
