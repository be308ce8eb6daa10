import { randomUUID } from 'node:crypto';
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { restJsonError, sendAwsJsonError, sendRestJsonError, withRequestId } from '../api/errors.js';
import type { JsonTargetRouter } from '../api/json-target.js';
import { installClaims } from '../api/raw.js';
import { sandboxMayCall } from '../api/sandbox-access.js';
import { Errors, StratusError } from '../core/errors.js';
import { socketEnds } from '../environments/index.js';
import type { TcpEndpoint } from '../ports/execution.js';

/** Largest request body the server reads at all (code uploads: base64 of a 50 MB zip + JSON). */
export const MAX_BODY_BYTES = 80 * 1024 * 1024;

/**
 * The HTTP server every API shares. REST services (Lambda, API Gateway v2) register their own
 * routes; AWS JSON services (Logs, SQS, EventBridge, ...) are dispatched by X-Amz-Target on any
 * POST path that no other route claims (the SQS SDK posts to the queue URL).
 */
export interface HttpServerOptions {
  /**
   * Tells whether a connection comes from inside an execution environment (by its sandbox uid);
   * such callers get only what functions may do (api/sandbox-access.ts).
   */
  fromEnvironment?: (client: TcpEndpoint, server: TcpEndpoint) => Promise<boolean>;
  /** How long a response may stay stuck in the server's memory (STALLED_WRITE_MS; tests shorten it). */
  stalledWriteMs?: number;
}

/** Each server's answer to "does this connection come from inside an execution environment?" (see createHttpServer). */
const environmentCallers = new WeakMap<FastifyInstance, (sock: Socket) => Promise<boolean>>();

/** Each server's sandbox guard (see createHttpServer), for what its hook cannot see: query-protocol actions, in the body. */
const refusals = new WeakMap<FastifyInstance, (req: FastifyRequest, target: string | undefined) => Promise<StratusError | null>>();

export function createHttpServer(opts: HttpServerOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: MAX_BODY_BYTES,
    keepAliveTimeout: 65_000,
    return503OnClosing: false,
    // close() closes idle connections at once; closeGracefully waits for the others' requests.
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
  } as any) as unknown as FastifyInstance;
  app.setErrorHandler((err, _req, reply) => {
    sendRestJsonError(reply, err);
  });
  answerHeaderOverflow(app);
  const guard = opts.fromEnvironment;
  if (guard) {
    // Asked once per connection, and its answer (a promise: found off the event loop) shared by
    // the connection's requests.
    const inside = new WeakMap<Socket, Promise<boolean>>();
    // Both ends of each connection, read when it is accepted: a client that resets its connection
    // right after its request is still served, but by then its socket has no peer address to
    // read (getpeername fails), and an unknown caller must not pass for one from elsewhere.
    const ends = new WeakMap<Socket, { client: TcpEndpoint; server: TcpEndpoint }>();
    app.server.on('connection', (s: Socket) => ends.set(s, socketEnds(s)));
    /** Whether a connection comes from inside an environment, asked once per connection. */
    const fromEnvironment = (sock: Socket): Promise<boolean> => {
      let fromEnv = inside.get(sock);
      if (fromEnv === undefined) {
        const e = ends.get(sock) ?? socketEnds(sock);
        fromEnv = guard(e.client, e.server);
        inside.set(sock, fromEnv);
      }
      return fromEnv;
    };
    /** The refusal of a request that code inside an environment may not make; null when it may. */
    const refusal = async (req: FastifyRequest, target: string | undefined): Promise<StratusError | null> => {
      // The route decides first: what functions may call anyway (invoke, queues, HTTP traffic)
      // never pays for finding out who the caller is (a /proc/net/tcp read, ~2 ms here).
      const d = sandboxMayCall(req.method, req.routeOptions.url, target);
      if (d.allow) return null;
      if (!await fromEnvironment(req.raw.socket)) return null;
      return new StratusError('AccessDeniedException', 403,
        `Stratus refuses ${d.action} from inside an execution environment: functions may invoke functions, use queues, put events and write logs, not read or change functions or other resources (a server started with STRATUS_SANDBOX_API_ACCESS=full allows it).`);
    };
    refusals.set(app, refusal);
    environmentCallers.set(app, fromEnvironment);
    app.addHook('onRequest', async (req, reply) => {
      const target = req.headers['x-amz-target'] as string | undefined;
      const err = await refusal(req, target);
      if (!err) return;
      if (target) sendAwsJsonError(reply, err, 'application/x-amz-json-1.1');
      else sendRestJsonError(reply, err);
      return reply;
    });
  }
  app.setNotFoundHandler((req, reply) => {
    sendRestJsonError(reply, new StratusError(
      'UnknownOperationException', 404, `Unknown operation ${req.method} ${req.url.split('?')[0]}`,
    ));
  });
  // Invoke, HTTP APIs and function URLs (claimTraffic): ahead of Fastify on the main server, and
  // after the guard above on any other (their traffic is what functions may do anyway).
  installClaims(app);
  cutStalledReaders(app, opts.stalledWriteMs ?? STALLED_WRITE_MS);
  return app;
}

/**
 * A response held in the server's memory (past the socket's own buffers) for longer than this
 * without any of it going out ends its connection. A caller that never reads a 6 MB Invoke
 * response otherwise kept about 3 MB of it in the server for as long as it kept the connection
 * open: a hundred such connections (a function may open them) held 330 MB.
 */
export const STALLED_WRITE_MS = 30_000;
/**
 * Only connections holding at least this much are cut: a streamed response under flow control
 * holds far less (the runtime's connection is paused once the client's socket is behind), and a
 * slow stream's client may read nothing for a while.
 */
const STALLED_WRITE_BYTES = 256 * 1024;

/**
 * Cuts the connections whose pending response data stays above STALLED_WRITE_BYTES with no byte
 * of it sent for `stalledMs`. One sweep over the open connections every few seconds; nothing
 * per request.
 */
function cutStalledReaders(app: FastifyInstance, stalledMs: number): void {
  const open = new Map<Socket, { pending: number; since: number }>();
  app.server.on('connection', (s: Socket) => {
    open.set(s, { pending: 0, since: 0 });
    s.once('close', () => open.delete(s));
  });
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const [s, seen] of open) {
      if (s.writableLength < STALLED_WRITE_BYTES) { seen.pending = 0; continue; }
      // What is still to go, this write's unsent part included: writableLength counts a write
      // whole until the kernel has taken all of it, the handle's queue (what net.Socket's own
      // bufferSize reads) what it has not taken yet.
      const pending = s.writableLength + ((s as unknown as { _handle?: { writeQueueSize?: number } })._handle?.writeQueueSize ?? 0);
      // Some of it went out since the last sweep (or it grew): the caller is reading.
      if (seen.pending === 0 || pending !== seen.pending) { seen.pending = pending; seen.since = now; continue; }
      if (now - seen.since >= stalledMs) s.destroy();
    }
  }, Math.min(5_000, stalledMs / 3));
  sweep.unref();
  app.server.once('close', () => clearInterval(sweep));
}

/**
 * Closes the server as a graceful shutdown does, for at most `graceMs`: the requests in flight (an
 * invocation may run for minutes) are answered, each connection is closed after its response and
 * idle ones at once, and new requests from outside get 503 ServiceException. The server goes on
 * listening meanwhile, for the functions still running: what they ask of Stratus (invoking
 * another function, sending to a queue, writing logs) is served. Then every connection left is
 * cut, and the server closed.
 */
export async function closeGracefully(app: FastifyInstance, graceMs: number): Promise<void> {
  const server = app.server;
  const fromEnvironment = environmentCallers.get(app);
  const serve = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    res.shouldKeepAlive = false;
    const pass = () => { for (const l of serve) l.call(server, req, res); };
    // Without a guard (STRATUS_SANDBOX_API_ACCESS=full) callers cannot be told apart: all are served.
    if (!fromEnvironment) return pass();
    fromEnvironment(req.socket).then((inside) => (inside ? pass() : refuseWhileStopping(res)), () => refuseWhileStopping(res));
  });
  const deadline = Date.now() + graceMs;
  for (;;) {
    server.closeIdleConnections();
    const open = await new Promise<number>((resolve) => server.getConnections((e, n) => resolve(e ? 0 : n)));
    if (open === 0 || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(50, Math.max(0, deadline - Date.now()))));
  }
  server.closeAllConnections();
  await app.close();
}

function refuseWhileStopping(res: ServerResponse): void {
  const { status, headers, body } = restJsonError(new StratusError('ServiceException', 503, 'Stratus is stopping: it takes no new requests.'));
  res.writeHead(status, { ...headers, 'x-amzn-RequestId': randomUUID(), 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

/**
 * A request whose headers pass node's limit (http.maxHeaderSize, 16 KB) never reaches a route:
 * node hands it to 'clientError', where Fastify would answer a 431 in its own shape. AWS clients
 * get an AWS error instead: InvalidRequestContentException, Lambda's for "a request header is
 * invalid" (an oversized X-Amz-Client-Context, above all). Other client errors stay Fastify's.
 */
function answerHeaderOverflow(app: FastifyInstance): void {
  const server = app.server;
  const fastify = server.listeners('clientError')[0] as ((err: Error, socket: Duplex) => void) | undefined;
  if (!fastify) return;
  server.removeListener('clientError', fastify);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code !== 'HPE_HEADER_OVERFLOW' || socket.destroyed) return fastify(err, socket);
    const { status, headers, body } = restJsonError(Errors.invalidRequestContent(`Request headers must be at most ${maxHeaderSize} bytes in all.`));
    const lines = Object.entries({ ...headers, 'x-amzn-RequestId': randomUUID(), 'content-length': String(Buffer.byteLength(body)), connection: 'close' })
      .map(([k, v]) => `${k}: ${v}\r\n`).join('');
    if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${lines}\r\n${body}`);
    socket.destroy(err);
  });
}

/** Registers the X-Amz-Target dispatcher in its own context (its own body parsers). */
export function registerJsonTargets(app: FastifyInstance, router: JsonTargetRouter): void {
  app.register(async (ctx) => {
    ctx.removeAllContentTypeParsers();
    ctx.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    const handler = async (req: any, reply: any) => {
      const target = req.headers['x-amz-target'] as string | undefined;
      const type = String(req.headers['content-type'] ?? '');
      if (!target && router.query && type.startsWith('application/x-www-form-urlencoded')) {
        const params = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');
        for (const [k, v] of new URLSearchParams(((req.body as Buffer | undefined) ?? Buffer.alloc(0)).toString('utf8'))) params.append(k, v);
        // The action is in the body, which the guard's hook has not read: it is judged here, as
        // the JSON protocol's X-Amz-Target is (SQS is the one query-protocol service).
        const refuse = refusals.get(app);
        return router.query(params, req, reply, refuse ? async (action) => { const e = await refuse(req, `AmazonSQS.${action}`); if (e) throw e; } : undefined);
      }
      const found = router.find(target);
      if (!found) {
        return sendRestJsonError(reply, new StratusError(
          'UnknownOperationException', 404, target ? `Unknown operation ${target}` : `Unknown operation POST ${req.url.split('?')[0]}`,
        ));
      }
      const { service, operation } = found;
      try {
        const raw: Buffer = req.body ?? Buffer.alloc(0);
        let input: Record<string, unknown> = {};
        if (raw.length > 0) {
          try {
            input = JSON.parse(raw.toString('utf8'));
          } catch {
            throw Errors.validation('Invalid JSON in request body');
          }
          if (input === null || typeof input !== 'object' || Array.isArray(input)) throw Errors.validation('Request body must be a JSON object');
        }
        const out = await service.handle(operation, input, req, reply);
        if (reply.sent) return reply;
        withRequestId(reply);
        reply.header('content-type', service.contentType);
        return reply.code(200).send(JSON.stringify(out ?? {}));
      } catch (err) {
        return sendAwsJsonError(reply, err, service.contentType);
      }
    };
    ctx.post('/', handler);
    ctx.post('/*', handler);
  });
}
