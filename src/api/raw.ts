import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

/**
 * Raw routes: traffic handled on node's request and response directly, before Fastify parses a
 * body or builds a reply. For user traffic (HTTP APIs, function URLs: any content type, the body
 * read by the handler) and for the one hot API route, Invoke.
 */

/** Reads the whole request body; resolves 'too-large' (after draining) past `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  return new Promise((resolve, reject) => {
    if (declared > limit) {
      req.resume();
      req.once('end', () => resolve('too-large'));
      req.once('error', reject);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.once('end', () => resolve(over ? 'too-large' : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

/**
 * Calls `f` once `res` has written out what it queued (its 'drain'), or is closed: at once when
 * nothing waits. For a streamed answer, to go at the client's pace.
 */
export function whenDrained(res: ServerResponse, f: () => void): void {
  if (res.destroyed || res.writableFinished || !res.writableNeedDrain) return f();
  const done = () => {
    res.off('drain', done);
    res.off('close', done);
    f();
  };
  res.on('drain', done);
  res.on('close', done);
}

/** A claim: traffic `match` picks from the raw request, served by `handle`. */
export interface TrafficClaim {
  match: (req: IncomingMessage) => boolean;
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

/** Each server's claims, in the order they were made (see installClaims). */
const claimsOf = new WeakMap<FastifyInstance, TrafficClaim[]>();

/**
 * Serves claimed traffic (claimTraffic) on `http`, which createHttpServer makes:
 * - on its main server, before Fastify sees the request: no routing, request or reply objects,
 *   hooks (~7% of the server's JavaScript time per warm invocation went to them before a claim
 *   took the request);
 * - on any other server Fastify opens for the instance (listening on a name with several
 *   addresses, e.g. localhost on 127.0.0.1 and ::1: those call Fastify's handler directly), in
 *   an onRequest hook, added after the hooks already there.
 * The first claim that matches takes the request.
 */
export function installClaims(http: FastifyInstance): void {
  const claims: TrafficClaim[] = [];
  claimsOf.set(http, claims);
  const server = http.server;
  const listeners = server.listeners('request');
  if (listeners.length === 1) {
    const fastify = listeners[0] as (req: IncomingMessage, res: ServerResponse) => void;
    server.removeListener('request', fastify);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const c = findClaim(claims, req);
      if (c === null) fastify(req, res);
      else serveClaimed(c, req, res);
    });
  }
  http.addHook('onRequest', (request, reply, done) => {
    const c = findClaim(claims, request.raw);
    if (c === null) return done();
    reply.hijack();
    serveClaimed(c, request.raw, reply.raw);
    done();
  });
}

/** The claim that takes `req`, null if none does, 'failed' if a matcher threw. */
function findClaim(claims: readonly TrafficClaim[], req: IncomingMessage): TrafficClaim | null | 'failed' {
  try {
    for (let i = 0; i < claims.length; i++) if (claims[i]!.match(req)) return claims[i]!;
    return null;
  } catch {
    return 'failed';
  }
}

function serveClaimed(c: TrafficClaim | 'failed', req: IncomingMessage, res: ServerResponse): void {
  if (c === 'failed') return internalError(res);
  try {
    c.handle(req, res).catch(() => internalError(res));
  } catch {
    internalError(res);
  }
}

const INTERNAL_ERROR = JSON.stringify({ message: 'Internal Server Error' });

function internalError(res: ServerResponse): void {
  if (!res.headersSent) {
    res.writeHead(500, { 'content-type': 'application/json', 'content-length': String(INTERNAL_ERROR.length) });
    res.end(INTERNAL_ERROR);
  } else {
    res.destroy();
  }
}

/**
 * Claims requests before routing: `match` decides from the raw request (host or path prefix)
 * whether this traffic is ours; other requests (Lambda API, AWS JSON services) pass untouched.
 * The handler owns the raw request and response (body unread, any content type). Claims are
 * tried in the order they are made; `http` is the server made by createHttpServer.
 */
export function claimTraffic(
  http: FastifyInstance,
  match: (req: IncomingMessage) => boolean,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): void {
  const claims = claimsOf.get(http);
  if (!claims) throw new Error('claimTraffic: not a server made by createHttpServer (installClaims)');
  claims.push({ match, handle });
}
