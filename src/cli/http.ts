import { StratusError } from '../core/errors.js';
import { CliError } from './errors.js';

/**
 * The one HTTP client of the `stratus` command. It speaks to a Stratus server only over HTTP
 * (fetch): REST-JSON services (Lambda, API Gateway v2, Stratus' own /_stratus paths) and AWS
 * JSON services addressed by X-Amz-Target (CloudWatch Logs, SQS, EventBridge). A non-2xx answer
 * becomes a StratusError carrying the AWS error name the server sent.
 */

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:9070';

/** The endpoint commands use unless --endpoint says otherwise: $STRATUS_ENDPOINT, else port 9070 (or $STRATUS_PORT) on loopback. */
export function defaultEndpoint(): string {
  if (process.env.STRATUS_ENDPOINT) return process.env.STRATUS_ENDPOINT;
  return process.env.STRATUS_PORT ? `http://127.0.0.1:${process.env.STRATUS_PORT}` : DEFAULT_ENDPOINT;
}

/** Validates an endpoint URL and drops trailing slashes: `http://127.0.0.1:9070/` -> `http://127.0.0.1:9070`. */
export function normalizeEndpoint(endpoint: string): string {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw new CliError(`invalid endpoint ${JSON.stringify(endpoint)}: expected a URL like ${DEFAULT_ENDPOINT}`, 2);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new CliError(`invalid endpoint ${JSON.stringify(endpoint)}: only http and https URLs are supported`, 2);
  }
  return endpoint.replace(/\/+$/, '');
}

/** Builds `?a=1&b=2` from the defined entries ('' when none). */
export function queryString(query: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** The error a failed response stands for: name from x-amzn-ErrorType or __type, message from message/Message. */
export function errorFromResponse(status: number, headers: Headers, body: Buffer | string, statusText = ''): StratusError {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  let parsed: Record<string, unknown> = {};
  try {
    const v = text ? JSON.parse(text) : {};
    if (v && typeof v === 'object' && !Array.isArray(v)) parsed = v as Record<string, unknown>;
  } catch {
    /* not JSON: a proxy page or a plain-text error */
  }
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  // AWS JSON names the error in __type (`com.amazonaws.sqs#QueueDoesNotExist`); REST-JSON in the
  // header (which may carry a `:http://...` suffix).
  const fromType = str(parsed.__type)?.replace(/^.*#/, '').split(':')[0];
  const fromHeader = headers.get('x-amzn-errortype')?.split(':')[0]?.trim();
  const code = fromType || fromHeader || str(parsed.code) || `HTTP ${status}`;
  const firstLine = text.trim().split('\n')[0]?.slice(0, 200);
  const message = str(parsed.message) ?? str(parsed.Message) ?? str(parsed.errorMessage) ?? (Object.keys(parsed).length === 0 && firstLine ? firstLine : undefined) ?? (statusText || `request failed with status ${status}`);
  return new StratusError(code, status, message);
}

/** fetch, with a connection failure turned into one clear line that names the endpoint. */
async function send(url: string, init: RequestInit): Promise<RawResponse> {
  let r: Response;
  try {
    r = await fetch(url, init);
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    throw new CliError(`cannot reach Stratus at ${new URL(url).origin} (${why}); is \`stratus up\` running? (set --endpoint or STRATUS_ENDPOINT)`);
  }
  const body = Buffer.from(await r.arrayBuffer());
  if (r.status >= 300) throw errorFromResponse(r.status, r.headers, body, r.statusText);
  return { status: r.status, headers: r.headers, body };
}

export interface RestOptions {
  /** Query parameters (undefined entries are left out). */
  query?: Record<string, string | number | undefined>;
  /** JSON body (serialized) or raw bytes/text sent as-is. */
  json?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

/** One REST call; returns the raw answer (status, headers, bytes) or throws the server's error. */
export function restRaw(endpoint: string, method: string, path: string, opts: RestOptions = {}): Promise<RawResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | Buffer | undefined;
  if (opts.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.raw !== undefined) {
    body = opts.raw;
  }
  return send(`${normalizeEndpoint(endpoint)}${path}${queryString(opts.query ?? {})}`, { method, headers, body: body as BodyInit | undefined });
}

/** One REST-JSON call; returns the parsed JSON body ({} when empty). */
export async function restJson(endpoint: string, method: string, path: string, opts: RestOptions = {}): Promise<any> {
  const r = await restRaw(endpoint, method, path, opts);
  return parseJsonBody(r.body);
}

/**
 * One AWS JSON call: POST / with X-Amz-Target `<target>` (e.g. `Logs_20140328.FilterLogEvents`)
 * and content type application/x-amz-json-<version>.
 */
export async function awsJson(endpoint: string, target: string, input: Record<string, unknown>, jsonVersion: '1.0' | '1.1' = '1.1'): Promise<any> {
  const r = await send(`${normalizeEndpoint(endpoint)}/`, {
    method: 'POST',
    headers: { 'content-type': `application/x-amz-json-${jsonVersion}`, 'x-amz-target': target },
    body: JSON.stringify(input),
  });
  return parseJsonBody(r.body);
}

function parseJsonBody(body: Buffer): any {
  const text = body.toString('utf8');
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`the server answered with something that is not JSON: ${text.trim().split('\n')[0]!.slice(0, 200)}`);
  }
}

/** Path segment encoding for names and ARNs (`my-fn`, `arn:aws:lambda:...:function:my-fn`). */
export function seg(s: string): string {
  return encodeURIComponent(s);
}
