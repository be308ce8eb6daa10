import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { peerUid } from './peer.js';

/** The Lambda Runtime API (2018-06-01) as one environment sees it. */
export interface RuntimeApiHandler {
  next(req: http.IncomingMessage, res: http.ServerResponse): void;
  response(id: string, req: http.IncomingMessage, res: http.ServerResponse): void;
  error(id: string, req: http.IncomingMessage, res: http.ServerResponse): void;
  initError(req: http.IncomingMessage, res: http.ServerResponse): void;
}

const PREFIX = '/2018-06-01/runtime/';
const NEXT = 'invocation/next';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

export function sendJson(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, JSON_HEADERS).end(body);
}

/** Lambda's Runtime API error shapes. */
export const ApiErrors = {
  accepted: (res: http.ServerResponse) => sendJson(res, 202, '{"status":"OK"}'),
  invalidRequestId: (res: http.ServerResponse) =>
    sendJson(res, 400, '{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}'),
  invalidState: (res: http.ServerResponse, from: string, to: string) =>
    sendJson(res, 403, JSON.stringify({
      errorMessage: `State transition from ${from} to ${to} failed for runtime. Error: State transition is not allowed`,
      errorType: 'InvalidStateTransition',
    })),
  tooLarge: (res: http.ServerResponse, max: number) =>
    sendJson(res, 413, JSON.stringify({ errorMessage: `Exceeded maximum allowed payload size (${max} bytes).`, errorType: 'RequestEntityTooLarge' })),
  notFound: (res: http.ServerResponse) =>
    sendJson(res, 404, '{"errorMessage":"Unknown Runtime API endpoint","errorType":"NotFound"}'),
  methodNotAllowed: (res: http.ServerResponse) =>
    sendJson(res, 405, '{"errorMessage":"Method not allowed","errorType":"MethodNotAllowed"}'),
};

/**
 * One loopback listener per environment. With `expectedUid`, every accepted connection must come
 * from a process of that uid (checked in /proc/net/tcp), so no other sandbox can take this
 * environment's invocations even if it finds the port.
 */
export class RuntimeApiServer {
  private readonly server: http.Server;
  port = 0;
  expectedUid: number | null = null;
  refused = 0;

  constructor(private readonly h: RuntimeApiHandler) {
    this.server = http.createServer({ keepAliveTimeout: 0, requestTimeout: 0, headersTimeout: 60_000 } as http.ServerOptions, (req, res) => this.route(req, res));
    this.server.keepAliveTimeout = 0; // no idle cut-off: the runtime holds its connection
    this.server.requestTimeout = 0; // /next is a long poll
    this.server.on('connection', (s: Socket) => this.onConnection(s));
    this.server.on('clientError', (_e, s) => s.destroy());
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  private onConnection(s: Socket): void {
    s.setNoDelay(true);
    if (this.expectedUid === null) return;
    const uid = peerUid(s.remotePort ?? 0, this.port);
    if (uid !== this.expectedUid) {
      this.refused++;
      s.destroy();
    }
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '';
    if (!url.startsWith(PREFIX)) return ApiErrors.notFound(res);
    const rest = url.slice(PREFIX.length);
    if (rest === NEXT) {
      if (req.method !== 'GET') return ApiErrors.methodNotAllowed(res);
      return this.h.next(req, res);
    }
    if (rest.startsWith('invocation/')) {
      const slash = rest.lastIndexOf('/');
      const id = decodeURIComponent(rest.slice(11, slash));
      const verb = rest.slice(slash + 1);
      if (slash > 11 && (verb === 'response' || verb === 'error')) {
        if (req.method !== 'POST') return ApiErrors.methodNotAllowed(res);
        return verb === 'response' ? this.h.response(id, req, res) : this.h.error(id, req, res);
      }
    } else if (rest === 'init/error') {
      if (req.method !== 'POST') return ApiErrors.methodNotAllowed(res);
      return this.h.initError(req, res);
    }
    return ApiErrors.notFound(res);
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }
}
