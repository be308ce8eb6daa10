import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpRequestInfo } from '../../core/gateway-event.js';
import { isBodiless, unsendableHeader, type HttpResponse } from '../../core/gateway-response.js';
import { randomString } from '../../invoke/index.js';

export { claimTraffic, readBody, whenDrained } from '../../api/raw.js';

/** Host without port, lower-cased. */
export function hostName(req: IncomingMessage): string {
  const h = (req.headers.host ?? '').toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const i = h.indexOf(':');
  return i < 0 ? h : h.slice(0, i);
}

/** The domain a request addressed: its Host, or API_ID.SUFFIX.localhost for the path forms. */
export function domainOf(req: IncomingMessage, id: string, suffix: string): string {
  const host = hostName(req);
  return host.startsWith(`${id}.${suffix}.`) ? host : `${id}.${suffix}.localhost`;
}

export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-port', 'x-forwarded-proto']);

/** Root=1-{epoch seconds, hex}-{96 random bits, hex}: an X-Ray trace id, as the front door adds. */
export function traceId(nowMs: number): string {
  return `Root=1-${Math.floor(nowMs / 1000).toString(16).padStart(8, '0')}-${randomString(12, 'hex')}`;
}

/**
 * The headers the function sees: the client's, plus what API Gateway and function URLs add in
 * front of the function: X-Forwarded-For (the client's chain with the caller appended),
 * X-Forwarded-Port and X-Forwarded-Proto (the listener's, replacing the client's), and an
 * X-Amzn-Trace-Id when the client sent none.
 */
export function forwardedHeaders(req: IncomingMessage, sourceIp: string, nowMs: number): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let xff: string | undefined;
  let trace = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (FORWARDED.has(k)) {
      if (k === 'x-forwarded-for') xff = xff === undefined ? raw[i + 1]! : `${xff}, ${raw[i + 1]}`;
      continue;
    }
    if (k === 'x-amzn-trace-id') trace = true;
    out.push(raw[i]!, raw[i + 1]!);
  }
  out.push('X-Forwarded-For', xff ? `${xff}, ${sourceIp}` : sourceIp);
  out.push('X-Forwarded-Port', String(req.socket.localPort ?? ''));
  out.push('X-Forwarded-Proto', 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http');
  if (!trace) out.push('X-Amzn-Trace-Id', traceId(nowMs));
  return out;
}

export function requestInfo(req: IncomingMessage, rawPath: string, rawQueryString: string, body: Buffer, domainName: string, nowMs: number = Date.now()): HttpRequestInfo {
  const sourceIp = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  return {
    method: req.method ?? 'GET',
    rawPath,
    rawQueryString,
    rawHeaders: forwardedHeaders(req, sourceIp, nowMs),
    body,
    sourceIp,
    protocol: `HTTP/${req.httpVersion}`,
    domainName,
  };
}

/**
 * Writes a whole response. `malformed` is what goes out instead when a header cannot be sent
 * (function URLs 502, HTTP APIs 500): checked before anything is written, since a writeHead that
 * throws has already set the status line.
 */
export function sendResponse(req: IncomingMessage, res: ServerResponse, r: HttpResponse, extraHeaders: Array<[string, string]>, malformed: () => HttpResponse): void {
  if (res.headersSent || res.destroyed) return;
  if (unsendableHeader(r.headers) !== undefined) r = malformed();
  const headers: Record<string, string | string[]> = {};
  const add = (k: string, v: string) => {
    const key = k.toLowerCase();
    const cur = headers[key];
    // Repeated values go out as repeated header lines (clients join them with ', ').
    if (cur === undefined || key === 'content-type') headers[key] = v;
    else headers[key] = Array.isArray(cur) ? [...cur, v] : [cur, v];
  };
  for (const [k, v] of r.headers) add(k, v);
  for (const [k, v] of extraHeaders) add(k, v);
  // 204, 304 and 1xx have no body: neither a Content-Length nor the function's body goes out.
  const bodiless = isBodiless(r.statusCode);
  if (!bodiless) headers['content-length'] = String(r.body.length);
  res.writeHead(r.statusCode, headers);
  res.end(req.method === 'HEAD' || bodiless ? undefined : r.body);
}
