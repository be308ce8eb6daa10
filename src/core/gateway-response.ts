/**
 * Function responses turned into HTTP responses as API Gateway HTTP APIs and function URLs do:
 * payload 2.0 (with inference when the function returns a bare value) and 1.0 (REST proxy).
 */

import { validateHeaderName, validateHeaderValue } from 'node:http';

export interface HttpResponse {
  statusCode: number;
  /** In order; a name may repeat (set-cookie). Names as the function gave them. */
  headers: Array<[string, string]>;
  body: Buffer;
}

export type MappedResponse = HttpResponse | { malformed: string };

/** Headers the gateway computes itself. */
const DROPPED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);

/**
 * The first header that cannot go on the wire (a name that is not an HTTP token, a value with a
 * control character such as a newline), as Node's own check before writing finds it.
 */
export function unsendableHeader(headers: Array<[string, string]>): string | undefined {
  for (const [k, v] of headers) {
    try {
      validateHeaderName(k);
      validateHeaderValue(k, v);
    } catch {
      return k;
    }
  }
  return undefined;
}

/** Statuses that carry no body, and so no Content-Length (RFC 9110 8.6, 15.2, 15.3.5, 15.4.5). */
export function isBodiless(statusCode: number): boolean {
  return statusCode < 200 || statusCode === 204 || statusCode === 304;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function scalar(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function statusOf(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 100 || n > 599) return undefined;
  return n;
}

/**
 * A structured response of payload format 1.0 (`multiValueHeaders`, no cookies) or 2.0 (and
 * function URLs: `cookies`; no `multiValueHeaders`, which they ignore).
 */
function structured(obj: Record<string, unknown>, format: '1.0' | '2.0'): MappedResponse {
  const allowCookies = format === '2.0';
  const statusCode = statusOf(obj.statusCode);
  if (statusCode === undefined) return { malformed: `statusCode must be an integer between 100 and 599, got ${JSON.stringify(obj.statusCode)}` };
  const headers: Array<[string, string]> = [];
  // 1.0: headers and multiValueHeaders merge into one list; a name-value pair in both appears once.
  const multiPairs = new Set<string>();
  if (format === '1.0' && obj.multiValueHeaders !== undefined && obj.multiValueHeaders !== null) {
    if (!isObject(obj.multiValueHeaders)) return { malformed: 'multiValueHeaders must be an object' };
    for (const [k, vs] of Object.entries(obj.multiValueHeaders)) {
      if (!Array.isArray(vs)) return { malformed: `multiValueHeaders.${k} must be an array` };
      for (const v of vs) {
        const s = scalar(v);
        if (s === undefined) return { malformed: `multiValueHeaders.${k} has a non-scalar value` };
        multiPairs.add(`${k.toLowerCase()}\n${s}`);
        if (!DROPPED.has(k.toLowerCase())) headers.push([k, s]);
      }
    }
  }
  if (obj.headers !== undefined && obj.headers !== null) {
    if (!isObject(obj.headers)) return { malformed: 'headers must be an object' };
    for (const [k, v] of Object.entries(obj.headers)) {
      const s = scalar(v);
      if (s === undefined) return { malformed: `headers.${k} must be a string` };
      if (multiPairs.has(`${k.toLowerCase()}\n${s}`) || DROPPED.has(k.toLowerCase())) continue;
      headers.push([k, s]);
    }
  }
  if (allowCookies && obj.cookies !== undefined && obj.cookies !== null) {
    if (!Array.isArray(obj.cookies) || obj.cookies.some((c) => typeof c !== 'string')) return { malformed: 'cookies must be an array of strings' };
    for (const c of obj.cookies as string[]) headers.push(['set-cookie', c]);
  }
  // API Gateway and Lambda treat such a header as a malformed response, like a bad statusCode.
  const bad = unsendableHeader(headers);
  if (bad !== undefined) return { malformed: `header ${JSON.stringify(bad)} cannot be sent` };
  let body = Buffer.alloc(0);
  if (obj.body !== undefined && obj.body !== null) {
    if (typeof obj.body !== 'string') return { malformed: 'body must be a string' };
    body = obj.isBase64Encoded === true ? Buffer.from(obj.body, 'base64') : Buffer.from(obj.body, 'utf8');
  }
  return { statusCode, headers, body };
}

/** Payload 2.0: an object with statusCode is a response; any other valid JSON is the body of a 200. */
export function mapResponseV2(payload: Buffer): MappedResponse {
  let value: unknown;
  const text = payload.toString('utf8');
  try {
    value = JSON.parse(text);
  } catch {
    return { malformed: 'function response is not valid JSON' };
  }
  if (isObject(value) && 'statusCode' in value) return structured(value, '2.0');
  return { statusCode: 200, headers: [['content-type', 'application/json']], body: payload };
}

/** Payload 1.0: the response must be an object with statusCode. */
export function mapResponseV1(payload: Buffer): MappedResponse {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return { malformed: 'function response is not valid JSON' };
  }
  if (!isObject(value)) return { malformed: 'function response must be an object with statusCode' };
  return structured(value, '1.0');
}

/** The JSON error bodies the gateway answers with. */
export function gatewayError(statusCode: number, message: string, extraHeaders: Array<[string, string]> = []): HttpResponse {
  return {
    statusCode,
    headers: [['content-type', 'application/json'], ...extraHeaders],
    body: Buffer.from(JSON.stringify({ message })),
  };
}
