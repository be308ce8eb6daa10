/**
 * CORS as API Gateway HTTP APIs and function URLs apply it when configured: the gateway itself
 * answers preflight requests, and replaces the integration's CORS headers on actual responses.
 */

export interface CorsConfig {
  allowOrigins?: string[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  maxAge?: number;
  allowCredentials?: boolean;
}

function originAllowed(cors: CorsConfig, origin: string): string | undefined {
  const list = cors.allowOrigins ?? [];
  const o = origin.toLowerCase();
  for (const allowed of list) {
    const a = allowed.toLowerCase();
    if (a === '*') return cors.allowCredentials ? origin : '*';
    if (a === o) return origin;
    if (a.includes('*')) {
      const re = new RegExp('^' + a.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$');
      if (re.test(o)) return origin;
    }
  }
  return undefined;
}

/** A preflight: OPTIONS with Origin and Access-Control-Request-Method. */
export function isPreflight(method: string, headers: Record<string, string>): boolean {
  return method === 'OPTIONS' && headers.origin !== undefined && headers['access-control-request-method'] !== undefined;
}

/** Headers of the gateway's 204 answer to a preflight (empty when the origin is not allowed). */
export function preflightHeaders(cors: CorsConfig, headers: Record<string, string>): Array<[string, string]> {
  const origin = headers.origin ?? '';
  const allowedOrigin = originAllowed(cors, origin);
  if (!allowedOrigin) return [];
  const out: Array<[string, string]> = [['access-control-allow-origin', allowedOrigin]];
  const requestMethod = (headers['access-control-request-method'] ?? '').toUpperCase();
  const methods = cors.allowMethods ?? [];
  if (methods.length && !methods.some((m) => m === '*' || m.toUpperCase() === requestMethod)) return [];
  if (methods.length) out.push(['access-control-allow-methods', methods.includes('*') ? (requestMethod || '*') : methods.join(',')]);
  const allowHeaders = cors.allowHeaders ?? [];
  if (allowHeaders.length) {
    const requested = headers['access-control-request-headers'];
    out.push(['access-control-allow-headers', allowHeaders.includes('*') && requested ? requested : allowHeaders.join(',')]);
  }
  if (cors.maxAge !== undefined && cors.maxAge >= 0) out.push(['access-control-max-age', String(cors.maxAge)]);
  if (cors.allowCredentials) out.push(['access-control-allow-credentials', 'true']);
  if (allowedOrigin !== '*') out.push(['vary', 'Origin']);
  return out;
}

/** CORS headers for an actual (non-preflight) response; integration CORS headers are dropped. */
export function applyCors(cors: CorsConfig, requestHeaders: Record<string, string>, responseHeaders: Array<[string, string]>): Array<[string, string]> {
  const out = responseHeaders.filter(([k]) => !k.toLowerCase().startsWith('access-control-'));
  const origin = requestHeaders.origin;
  if (origin === undefined) return out;
  const allowedOrigin = originAllowed(cors, origin);
  if (!allowedOrigin) return out;
  out.push(['access-control-allow-origin', allowedOrigin]);
  if (cors.exposeHeaders?.length) out.push(['access-control-expose-headers', cors.exposeHeaders.join(',')]);
  if (cors.allowCredentials) out.push(['access-control-allow-credentials', 'true']);
  if (allowedOrigin !== '*') out.push(['vary', 'Origin']);
  return out;
}
