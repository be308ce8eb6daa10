import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isStratusError } from '../../core/errors.js';
import { iamCaller, sigV4AccessKey, type IamCaller } from '../../core/gateway-auth.js';
import { applyCors, isPreflight, preflightHeaders } from '../../core/gateway-cors.js';
import { buildEventV2, headerValue, joinedHeaders } from '../../core/gateway-event.js';
import { mapResponseV2, unsendableHeader, type HttpResponse } from '../../core/gateway-response.js';
import { HTTP_INTEGRATION_CONTENT_TYPE, PreludeParser } from '../../core/stream-prelude.js';
import type { Locale } from '../../core/model.js';
import type { Invoker } from '../../invoke/types.js';
import type { Clock, ResponseStreamSink } from '../../ports/index.js';
import { domainOf, readBody, requestInfo, sendResponse, splitUrl, whenDrained } from '../gateway/index.js';
import type { UrlStore, UrlConfig } from './store.js';

/** Function URLs accept request payloads up to 6 MB (the synchronous invoke limit). */
export const URL_MAX_BODY = 6 * 1024 * 1024;
export const URL_PATH_PREFIX = '/_urls/';
const HOST_RE = /^([a-z0-9]+)\.lambda-url\./;
const HOST_RE_ANY_CASE = /^[a-z0-9]+\.lambda-url\./i;

const json = (statusCode: number, body: unknown): HttpResponse => ({
  statusCode,
  headers: [['content-type', 'application/json']],
  body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
});

export const UrlResponses = {
  notFound: () => json(404, { Message: 'Not Found' }),
  forbidden: () => json(403, { Message: 'Forbidden' }),
  functionError: () => json(502, 'Internal Server Error'),
  throttled: () => json(429, { Message: 'Rate Exceeded.' }),
  tooLarge: () => json(413, { Message: 'Request must be smaller than 6291456 bytes for the InvokeFunction operation' }),
  internal: () => json(500, { Message: 'Internal Server Error' }),
};

export function isUrlRequest(req: IncomingMessage): boolean {
  const url = req.url ?? '';
  if (url.startsWith(URL_PATH_PREFIX)) return true;
  const host = req.headers.host;
  // Host names are case-insensitive: ID.LAMBDA-URL.localhost is the same URL.
  return host !== undefined && HOST_RE_ANY_CASE.test(host);
}

/** The data plane's view of function URLs: urlId -> config, refreshed on change events. */
export class UrlTable {
  private readonly byId = new Map<string, UrlConfig>();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly store: UrlStore) {}

  /** Every URL read from the store (at start, and again at a resync: the ones gone meanwhile are dropped). */
  async load(): Promise<void> {
    const all = await this.store.all();
    const ids = new Set(all.map((c) => c.urlId));
    for (const c of all) this.byId.set(c.urlId, c);
    for (const id of [...this.byId.keys()]) if (!ids.has(id)) this.byId.delete(id);
  }

  get(urlId: string): UrlConfig | undefined {
    return this.byId.get(urlId);
  }

  /** Forgets every URL of a deleted function. */
  /** The URLs of one function. */
  ofFunction(functionName: string): UrlConfig[] {
    return [...this.byId.values()].filter((c) => c.functionName === functionName);
  }

  dropFunction(functionName: string): void {
    for (const [id, c] of this.byId) if (c.functionName === functionName) this.byId.delete(id);
  }

  refresh(urlId: string): Promise<void> {
    const p = this.store.byUrlId(urlId).then((c) => {
      if (c) this.byId.set(urlId, c);
      else this.byId.delete(urlId);
    }, () => undefined);
    this.pending.add(p);
    void p.then(() => this.pending.delete(p));
    return p;
  }

  async settle(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}

export interface UrlServeDeps {
  table: UrlTable;
  invoker: Invoker;
  clock: Clock;
  locale: Locale;
}

export async function serveUrl(deps: UrlServeDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { path: urlPath, query } = splitUrl(req.url ?? '/');
  let urlId: string;
  let path: string;
  if (urlPath.startsWith(URL_PATH_PREFIX)) {
    const rest = urlPath.slice(URL_PATH_PREFIX.length);
    const slash = rest.indexOf('/');
    urlId = slash < 0 ? rest : rest.slice(0, slash);
    path = slash < 0 ? '/' : rest.slice(slash);
  } else {
    urlId = HOST_RE.exec((req.headers.host ?? '').toLowerCase())?.[1] ?? '';
    path = urlPath;
  }
  let cfg = deps.table.get(urlId);
  if (!cfg) {
    await deps.table.settle();
    cfg = deps.table.get(urlId);
  }
  const requestId = randomUUID();
  const idHeader: Array<[string, string]> = [['x-amzn-requestid', requestId]];
  const reply = (r: HttpResponse) => {
    req.resume();
    sendResponse(req, res, r, idHeader, UrlResponses.functionError);
  };
  if (!cfg) return reply(UrlResponses.notFound());
  // AWS_IAM: a SigV4-signed request, by any credentials (Stratus has no IAM: it checks no
  // signature anywhere); an unsigned one is refused, as Lambda refuses it.
  let iam: IamCaller | undefined;
  if (cfg.authType === 'AWS_IAM') {
    const accessKey = sigV4AccessKey(req.headers.authorization, query);
    if (!accessKey) return reply(UrlResponses.forbidden());
    iam = iamCaller(accessKey, deps.locale.accountId);
  }

  const body = await readBody(req, URL_MAX_BODY);
  if (body === 'too-large') return reply(UrlResponses.tooLarge());
  const method = req.method ?? 'GET';
  const headers = joinedHeaders(req.rawHeaders);
  const cors = cfg.cors;
  if (cors && isPreflight(method, headers)) {
    return reply({ statusCode: 200, headers: preflightHeaders(cors, headers), body: Buffer.alloc(0) });
  }
  const withCors = (h: Array<[string, string]>) => (cors ? applyCors(cors, headers, h) : h);
  const finish = (r: HttpResponse) => reply({ ...r, headers: withCors(r.headers) });

  const now = deps.clock.now();
  const info = requestInfo(req, path, query, body, domainOf(req, urlId, 'lambda-url'), now);
  const event = buildEventV2(info, {
    // An AuthType NONE URL's caller is nobody's: Lambda's event says "anonymous".
    accountId: cfg.authType === 'NONE' ? 'anonymous' : deps.locale.accountId,
    apiId: urlId,
    stage: '$default',
    routeKey: '$default',
    pathParameters: {},
    requestId,
    timeEpoch: now,
    ...(iam ? { authorizer: { iam } } : {}),
  });
  const qualifier = cfg.qualifier === '$LATEST' ? undefined : cfg.qualifier;
  const sink = cfg.invokeMode === 'RESPONSE_STREAM' ? new HttpStreamSink(req, res, (h) => [...withCors(h), ...idHeader]) : undefined;
  let result;
  try {
    result = await deps.invoker.invoke({
      functionName: cfg.functionName,
      qualifier,
      payload: Buffer.from(JSON.stringify(event)),
      invocationType: 'RequestResponse',
      source: 'url',
      requestId,
      traceId: headerValue(info.rawHeaders, 'x-amzn-trace-id'),
      stream: sink,
    });
  } catch (err) {
    if (sink?.started) return sink.abort();
    if (isStratusError(err) && (err.status === 429 || err.code === 'TooManyRequestsException')) return finish(UrlResponses.throttled());
    if (isStratusError(err) && err.status === 413) return finish(UrlResponses.tooLarge());
    return finish(UrlResponses.internal());
  }
  if (result.streamed || sink?.started) {
    sink?.finish();
    return;
  }
  if (result.functionError) return finish(UrlResponses.functionError());
  const mapped = mapResponseV2(result.payload);
  if ('malformed' in mapped) return finish(UrlResponses.functionError());
  return finish(mapped);
}

/**
 * Writes a streamed response to the client as chunks arrive. With the http-integration content
 * type, the JSON prelude (status, headers, cookies) is read first, up to the 8 NUL bytes.
 * The status line waits for the first body byte (or the end): a function that fails before
 * producing anything is answered 502, not an empty 200. Chunks go at the client's pace (write
 * says when it is behind).
 */
export class HttpStreamSink implements ResponseStreamSink {
  started = false;
  private parser: PreludeParser | undefined;
  private headWritten = false;
  private pendingHead: { status: number; headers: Array<[string, string]> } | undefined;
  private ended = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly decorate: (h: Array<[string, string]>) => Array<[string, string]>,
  ) {}

  start(contentType: string | undefined): void {
    this.started = true;
    this.req.resume();
    if (contentType && contentType.split(';')[0]!.trim() === HTTP_INTEGRATION_CONTENT_TYPE) {
      this.parser = new PreludeParser();
      return;
    }
    this.pendingHead = { status: 200, headers: [['content-type', contentType ?? 'application/octet-stream']] };
  }

  private flushPendingHead(): void {
    const h = this.pendingHead;
    if (!h) return;
    this.pendingHead = undefined;
    this.writeHead(h.status, h.headers);
  }

  /**
   * Writes the status line and headers. Headers that cannot be sent (checked before writing: a
   * writeHead that throws has already set the status line) make the prelude malformed: the
   * answer is the 502 of a failed invocation, and false says the response is over.
   */
  private writeHead(status: number, headers: Array<[string, string]>): boolean {
    if (this.headWritten || this.res.destroyed) return !this.ended;
    const decorated = this.decorate(headers);
    if (unsendableHeader(decorated) !== undefined) {
      this.fail();
      return false;
    }
    this.headWritten = true;
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of decorated) {
      const key = k.toLowerCase();
      if (key === 'content-length' || key === 'transfer-encoding' || key === 'connection') continue;
      const cur = out[key];
      if (cur === undefined) out[key] = v;
      else if (key === 'set-cookie') out[key] = Array.isArray(cur) ? [...cur, v] : [cur, v];
      else out[key] = `${cur},${v}`;
    }
    if (!out['content-type']) out['content-type'] = 'application/octet-stream';
    this.res.writeHead(status, out);
    this.res.flushHeaders();
    return true;
  }

  /** Before the head went out: the whole 502 of a failed invocation. */
  private fail(): void {
    if (this.headWritten || this.res.destroyed) return;
    this.headWritten = true;
    this.ended = true;
    const body = 'Internal Server Error';
    const head: Array<[string, string]> = [['content-type', 'application/json'], ['content-length', String(body.length)]];
    // The request id and CORS headers as on any answer (unless those are what cannot be sent).
    const decorated = [...this.decorate([]).filter(([k]) => k.toLowerCase() !== 'content-type'), ...head];
    this.res.writeHead(502, unsendableHeader(decorated) === undefined ? decorated.flat() : head.flat());
    this.res.end(body);
  }

  write(chunk: Buffer): boolean {
    if (this.ended || this.res.destroyed) return true;
    if (this.parser) {
      const step = this.parser.push(chunk);
      if (step.state === 'need-more') return true;
      this.parser = undefined;
      if (step.state === 'malformed') {
        this.fail();
        return true;
      }
      if (!this.writeHead(step.prelude.statusCode, step.prelude.headers)) return true;
      return step.rest.length && this.req.method !== 'HEAD' ? this.res.write(step.rest) : true;
    }
    if (chunk.length === 0) return true;
    this.flushPendingHead();
    if (this.ended) return true;
    return this.req.method !== 'HEAD' ? this.res.write(chunk) : true;
  }

  drained(f: () => void): void {
    whenDrained(this.res, f);
  }

  end(error?: { errorType: string; errorMessage: string }): void {
    if (this.ended) return;
    if (!error) this.flushPendingHead();
    this.pendingHead = undefined;
    if (!this.headWritten) {
      if (error) return this.fail();
      // A prelude that never completed: nothing but the status line to send.
      this.writeHead(200, []);
    }
    if (this.ended) return;
    this.ended = true;
    // An error after the head was sent truncates the body, as Lambda does: what was written goes
    // out first, then the connection closes without the chunked body's end.
    if (error) {
      const socket = this.res.socket;
      if (socket) socket.end();
      else this.res.destroy();
    }
    else this.res.end();
  }

  /** Called once the invocation resolved. */
  finish(): void {
    if (!this.ended) this.end();
  }

  abort(): void {
    if (!this.ended) this.end({ errorType: 'Stratus.InvokeFailed', errorMessage: 'invocation failed' });
  }
}
