/**
 * Streaming responses to function URLs: when the runtime declares the content type
 * `application/vnd.awslambda.http-integration-response`, the stream starts with a JSON prelude
 * ({statusCode, headers, cookies}) followed by 8 NUL bytes, then the body bytes.
 */

export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const DELIMITER = Buffer.alloc(8, 0);
const MAX_PRELUDE = 64 * 1024;

export interface StreamPrelude {
  statusCode: number;
  headers: Array<[string, string]>;
}

export type PreludeStep =
  | { state: 'need-more' }
  | { state: 'done'; prelude: StreamPrelude; rest: Buffer }
  | { state: 'malformed'; reason: string };

/** Accumulates chunks until the prelude is complete. */
export class PreludeParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): PreludeStep {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const at = this.buf.indexOf(DELIMITER);
    if (at < 0) {
      if (this.buf.length > MAX_PRELUDE) return { state: 'malformed', reason: 'prelude larger than 64 KB' };
      return { state: 'need-more' };
    }
    const prelude = parsePrelude(this.buf.subarray(0, at));
    if ('reason' in prelude) return { state: 'malformed', reason: prelude.reason };
    return { state: 'done', prelude, rest: this.buf.subarray(at + DELIMITER.length) };
  }
}

export function parsePrelude(bytes: Buffer): StreamPrelude | { reason: string } {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8') || '{}');
  } catch {
    return { reason: 'prelude is not valid JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { reason: 'prelude must be an object' };
  const o = v as Record<string, unknown>;
  const statusCode = o.statusCode === undefined ? 200 : o.statusCode;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    return { reason: 'statusCode must be an integer between 100 and 599' };
  }
  const headers: Array<[string, string]> = [];
  if (o.headers && typeof o.headers === 'object' && !Array.isArray(o.headers)) {
    for (const [k, val] of Object.entries(o.headers as Record<string, unknown>)) {
      if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean') headers.push([k, String(val)]);
    }
  }
  if (Array.isArray(o.cookies)) for (const c of o.cookies) if (typeof c === 'string') headers.push(['set-cookie', c]);
  return { statusCode, headers };
}
