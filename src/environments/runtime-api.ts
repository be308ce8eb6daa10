import type { Socket } from 'node:net';
import { heldBy, peerSocket, socketEnds } from './peer.js';
import { RtServer, type RtRequest, type RtResponse } from './runtime-http.js';

export type { RtRequest, RtResponse } from './runtime-http.js';

/** The Lambda Runtime API (2018-06-01) as one environment sees it. */
export interface RuntimeApiHandler {
  next(req: RtRequest, res: RtResponse): void;
  response(id: string, req: RtRequest, res: RtResponse): void;
  error(id: string, req: RtRequest, res: RtResponse): void;
  initError(req: RtRequest, res: RtResponse): void;
}

/** The Extensions API (2020-01-01), for environments whose function has extensions. */
export interface ExtensionsApiHandler {
  register(req: RtRequest, res: RtResponse): void;
  next(req: RtRequest, res: RtResponse): void;
  initError(req: RtRequest, res: RtResponse): void;
  exitError(req: RtRequest, res: RtResponse): void;
  /** The extension launcher's report of an extension's exit (POST EXIT_REPORT_PATH). */
  exitReport(req: RtRequest, res: RtResponse): void;
}

const EXTENSION_PREFIX = '/2020-01-01/extension/';
/**
 * Where the extension launcher reports an extension's exit (extensions.ts: extensionLauncher),
 * as Lambda's supervisor tells RAPID of it: no path of Lambda's APIs.
 */
export const EXIT_REPORT_PATH = '/stratus/extension-exited';

const PREFIX = '/2018-06-01/runtime/';
const NEXT = 'invocation/next';

const JSON_HEADERS = ['Content-Type', 'application/json'] as const;

/** A JSON reply, ended by a newline as RAPID's JSON encoder ends it. */
export function sendJson(res: RtResponse, status: number, body: string | Buffer): void {
  res.send(status, JSON_HEADERS, typeof body === 'string' ? `${body}\n` : body);
}

/** The body of every accepted result (once per invocation: not converted from a string each time). */
const ACCEPTED = Buffer.from('{"status":"OK"}\n');

/** Lambda's Runtime API error shapes. */
export const ApiErrors = {
  accepted: (res: RtResponse) => sendJson(res, 202, ACCEPTED),
  invalidRequestId: (res: RtResponse) =>
    sendJson(res, 400, '{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}'),
  invalidResponseMode: (res: RtResponse) =>
    sendJson(res, 400, '{"errorMessage":"Invalid function response mode","errorType":"InvalidFunctionResponseMode"}'),
  invalidState: (res: RtResponse, from: string, to: string) =>
    sendJson(res, 403, JSON.stringify({
      errorMessage: `State transition from ${from} to ${to} failed for runtime. Error: State transition is not allowed`,
      errorType: 'InvalidStateTransition',
    })),
  tooLarge: (res: RtResponse, max: number) =>
    sendJson(res, 413, JSON.stringify({ errorMessage: `Exceeded maximum allowed payload size (${max} bytes).`, errorType: 'RequestEntityTooLarge' })),
  // What RAPID's router (go-chi) answers for a path it has no route for, and for a method a route does not take.
  notFound: (res: RtResponse) => res.send(404, ['Content-Type', 'text/plain; charset=utf-8', 'X-Content-Type-Options', 'nosniff'], '404 page not found\n'),
  methodNotAllowed: (res: RtResponse) => res.send(405, [], ''),
};

/**
 * One loopback listener per environment. With an `owner`, every accepted connection must come
 * from a socket of its uid (checked in /proc/net/tcp) that one of its processes holds, so no other
 * sandbox can take this environment's invocations even if it finds the port.
 */
export class RuntimeApiServer {
  private readonly server: RtServer;
  private listening: Promise<number> | null = null;
  /** Set by `bind`; until then (a pooled runtime's listener, before its function is known) connections are refused. */
  private h: RuntimeApiHandler | null = null;
  private ext: ExtensionsApiHandler | null = null;
  port = 0;
  /**
   * Whose connections are admitted: sockets of this uid held by one of these processes (the
   * environment's, host pids). Null: any (the driver gives environments no uid of their own).
   */
  owner: { uid: number; members: () => number[] } | null = null;
  refused = 0;

  constructor() {
    this.server = new RtServer((req, res) => this.route(req, res), (s) => this.admit(s));
  }

  bind(h: RuntimeApiHandler, ext?: ExtensionsApiHandler): void {
    this.h = h;
    this.ext = ext ?? null;
  }

  /** Starts listening once; every call answers the same port. */
  listen(): Promise<number> {
    this.listening ??= this.server.listen(0, '127.0.0.1').then((port) => { this.port = port; return port; });
    return this.listening;
  }

  /**
   * The same API on the runtime's own channel (LaunchSpec.apiChannel), which the shipped runtimes
   * use: no peer check is needed (no other process holds it), no connect on the cold start, and
   * a round trip is cheaper than over TCP. AWS_LAMBDA_RUNTIME_API stays TCP.
   */
  attach(channel: Socket): void {
    this.server.adopt(channel);
  }

  /** The admissions of this environment's connections, one at a time (see admit). */
  private admissions: Promise<unknown> = Promise.resolve();

  /**
   * Decided off the event loop (the tables and descriptors are read in the threadpool), and one
   * connection at a time: an environment that connects again and again, or fills itself with
   * descriptors, keeps one read at a time busy, and only its own connections wait.
   */
  private admit(s: Socket): boolean | Promise<boolean> {
    if (this.h === null) return false;
    if (this.owner === null) return true;
    const owner = this.owner;
    const { client, server } = socketEnds(s);
    const decided = this.admissions.then(async () => {
      // Closed while waiting for its turn (the server's close, or an error): nothing to check.
      if (s.destroyed) return false;
      const sock = await peerSocket(client, server);
      // Its uid, and held by one of the environment's processes: a socket made under a uid that
      // another environment had before (and handed elsewhere) keeps that uid.
      if (sock && sock.uid === owner.uid && await heldBy(owner.members(), sock.inode)) return true;
      this.refused++;
      return false;
    });
    this.admissions = decided.catch(() => {});
    return decided;
  }

  private route(req: RtRequest, res: RtResponse): void {
    // Routed on the path alone, as RAPID's router does: a query string does not change the endpoint.
    const q = req.url.indexOf('?');
    const url = q < 0 ? req.url : req.url.slice(0, q);
    const h = this.h;
    if (this.ext && url.startsWith(EXTENSION_PREFIX)) return this.routeExtension(url.slice(EXTENSION_PREFIX.length), req, res, this.ext);
    if (this.ext && url === EXIT_REPORT_PATH) {
      if (req.method !== 'POST') return ApiErrors.methodNotAllowed(res);
      return this.ext.exitReport(req, res);
    }
    if (!h || !url.startsWith(PREFIX)) return ApiErrors.notFound(res);
    const rest = url.slice(PREFIX.length);
    if (rest === NEXT) {
      if (req.method !== 'GET') return ApiErrors.methodNotAllowed(res);
      return h.next(req, res);
    }
    if (rest.startsWith('invocation/')) {
      const slash = rest.lastIndexOf('/');
      const verb = rest.slice(slash + 1);
      if (slash > 11 && (verb === 'response' || verb === 'error')) {
        if (req.method !== 'POST') return ApiErrors.methodNotAllowed(res);
        let id: string;
        try { id = decodeURIComponent(rest.slice(11, slash)); } catch { return ApiErrors.invalidRequestId(res); }
        return verb === 'response' ? h.response(id, req, res) : h.error(id, req, res);
      }
    } else if (rest === 'init/error') {
      if (req.method !== 'POST') return ApiErrors.methodNotAllowed(res);
      return h.initError(req, res);
    }
    return ApiErrors.notFound(res);
  }

  private routeExtension(rest: string, req: RtRequest, res: RtResponse, ext: ExtensionsApiHandler): void {
    const routes: Record<string, [string, (req: RtRequest, res: RtResponse) => void]> = {
      register: ['POST', (q, r) => ext.register(q, r)],
      'event/next': ['GET', (q, r) => ext.next(q, r)],
      'init/error': ['POST', (q, r) => ext.initError(q, r)],
      'exit/error': ['POST', (q, r) => ext.exitError(q, r)],
    };
    const route = routes[rest];
    if (!route) return ApiErrors.notFound(res);
    if (req.method !== route[0]) return ApiErrors.methodNotAllowed(res);
    route[1](req, res);
  }

  close(): void {
    this.server.close();
  }
}
