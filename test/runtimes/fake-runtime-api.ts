/**
 * A minimal Lambda Runtime API (2018-06-01) for testing the shipped runtimes in isolation: test
 * infrastructure standing in for the platform's server. One invocation at a time, in order.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

export interface InvokeOptions {
  requestId?: string;
  /** Absolute deadline (epoch ms); default now + 30 s. */
  deadlineMs?: number;
  arn?: string;
  traceId?: string | null;
  clientContext?: string;
  cognitoIdentity?: string;
  /** Sent as is instead of JSON.stringify(event). */
  rawBody?: string;
}

export interface InvokeResult {
  kind: 'response' | 'error';
  requestId: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Each 'data' event of the request body, in arrival order. */
  chunks: Buffer[];
  trailers: Record<string, string | undefined>;
  json<T = any>(): T;
}

interface Pending {
  id: string;
  event: string;
  headers: Record<string, string>;
  resolve: (r: InvokeResult) => void;
  chunks: Buffer[];
  chunkWaiters: { n: number; res: http.ServerResponse }[];
}

export interface PostedInitError {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json<T = any>(): T;
}

const PREFIX = '/2018-06-01/runtime/';

export class FakeRuntimeApi {
  private server: http.Server;
  port = 0;
  private queue: Pending[] = [];
  private parked: http.ServerResponse[] = [];
  private active = new Map<string, Pending>();
  readonly initErrors: PostedInitError[] = [];
  private initWaiters: ((e: PostedInitError) => void)[] = [];
  /** How many /next requests arrived. */
  nextCount = 0;
  /** Distinct client connections seen. */
  connections = 0;
  /** Answer every request with Connection: close (the runtime must reconnect). */
  closeAfterEach = false;

  constructor() {
    this.server = http.createServer((req, res) => this.route(req, res));
    this.server.keepAliveTimeout = 0;
    this.server.requestTimeout = 0;
    this.server.on('connection', () => { this.connections++; });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Serves a connection made elsewhere (a runtime's own channel) as if it had connected. */
  adopt(socket: import('node:net').Socket): void {
    this.server.emit('connection', socket);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Queues an invocation; resolves with what the runtime posted for it. */
  invoke(event: unknown, o: InvokeOptions = {}): Promise<InvokeResult> {
    return new Promise((resolve) => {
      const id = o.requestId ?? randomUUID();
      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        'Lambda-Runtime-Aws-Request-Id': id,
        'Lambda-Runtime-Deadline-Ms': String(o.deadlineMs ?? Date.now() + 30_000),
        'Lambda-Runtime-Invoked-Function-Arn': o.arn ?? 'arn:aws:lambda:us-east-1:123456789012:function:fn',
      };
      if (o.traceId !== null) headers['Lambda-Runtime-Trace-Id'] = o.traceId ?? 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
      if (o.clientContext !== undefined) headers['Lambda-Runtime-Client-Context'] = o.clientContext;
      if (o.cognitoIdentity !== undefined) headers['Lambda-Runtime-Cognito-Identity'] = o.cognitoIdentity;
      const p: Pending = { id, event: o.rawBody ?? JSON.stringify(event), headers, resolve, chunks: [], chunkWaiters: [] };
      this.queue.push(p);
      this.dispatch();
    });
  }

  /** Resolves with the first (next) init error posted. */
  initError(): Promise<PostedInitError> {
    if (this.initErrors.length) return Promise.resolve(this.initErrors[0]!);
    return new Promise((r) => this.initWaiters.push(r));
  }

  private dispatch(): void {
    while (this.queue.length && this.parked.length) {
      const p = this.queue.shift()!;
      const res = this.parked.shift()!;
      // A /next that was pipelined on a connection closed since (or destroyed) cannot take it.
      if (res.destroyed || res.req.socket.destroyed) { this.queue.unshift(p); continue; }
      this.active.set(p.id, p);
      res.writeHead(200, p.headers).end(p.event);
    }
  }

  /** Connections that already had their one request (closeAfterEach). */
  private readonly servedSockets = new WeakSet<object>();

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.closeAfterEach) {
      // After answering with Connection: close nothing more is served on that connection (a
      // request pipelined behind the first is dropped, as the runtime must expect).
      if (this.servedSockets.has(req.socket)) return;
      this.servedSockets.add(req.socket);
      res.shouldKeepAlive = false;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/test/chunks') {
      // Answers once the named streaming response has delivered at least n body chunks.
      const p = this.active.get(url.searchParams.get('id') ?? '');
      const n = Number(url.searchParams.get('n') ?? '1');
      if (!p) { res.writeHead(404).end(); return; }
      if (p.chunks.length >= n) res.end(String(p.chunks.length));
      else p.chunkWaiters.push({ n, res });
      return;
    }
    if (!url.pathname.startsWith(PREFIX)) { res.writeHead(404).end(); return; }
    const rest = url.pathname.slice(PREFIX.length);
    if (rest === 'invocation/next' && req.method === 'GET') {
      this.nextCount++;
      this.parked.push(res);
      this.dispatch();
      return;
    }
    if (rest === 'init/error' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const e: PostedInitError = { headers: req.headers, body, json: () => JSON.parse(body.toString()) };
        this.initErrors.push(e);
        for (const w of this.initWaiters.splice(0)) w(e);
        res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"status":"OK"}');
      });
      return;
    }
    const m = /^invocation\/([^/]+)\/(response|error)$/.exec(rest);
    if (m && req.method === 'POST') {
      const id = decodeURIComponent(m[1]!);
      const p = this.active.get(id);
      if (!p) {
        req.resume();
        res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}');
        return;
      }
      req.on('data', (c: Buffer) => {
        p.chunks.push(c);
        for (const w of p.chunkWaiters.filter((x) => p.chunks.length >= x.n)) {
          w.res.end(String(p.chunks.length));
          p.chunkWaiters.splice(p.chunkWaiters.indexOf(w), 1);
        }
      });
      req.on('end', () => {
        this.active.delete(id);
        const body = Buffer.concat(p.chunks);
        res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"status":"OK"}');
        p.resolve({
          kind: m[2] as 'response' | 'error',
          requestId: id,
          headers: req.headers,
          body,
          chunks: p.chunks,
          trailers: { ...req.trailers },
          json: () => JSON.parse(body.toString()),
        });
      });
      return;
    }
    res.writeHead(404).end();
  }

  close(): void {
    for (const r of this.parked) r.destroy();
    this.server.closeAllConnections();
    this.server.close();
  }
}
