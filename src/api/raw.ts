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

/** A claim: traffic `match` picks from the raw request, served by `handle`. */
export interface TrafficClaim {
  match: (req: IncomingMessage) => boolean;
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

/** Each server's claims, in the order they were made (see claimingListener). */
const claimsOf = new WeakMap<FastifyInstance, TrafficClaim[]>();

/**
 * The HTTP server's request listener: claimed traffic goes to its handler before Fastify sees
 * it (no routing, request or reply objects, hooks); other requests to `fastify`, Fastify's own
 * handler. The first of `claims` that matches takes the request; claimTraffic adds to them once
 * they are bound to the Fastify instance (bindClaims).
 */
export function claimingListener(
  claims: readonly TrafficClaim[],
  fastify: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    for (let i = 0; i < claims.length; i++) {
      const c = claims[i]!;
      if (c.match(req)) {
        serveClaimed(c, req, res);
        return;
      }
    }
    fastify(req, res);
  };
}

/** Makes claimTraffic on `http` add to `claims`. */
export function bindClaims(http: FastifyInstance, claims: TrafficClaim[]): void {
  claimsOf.set(http, claims);
}

function serveClaimed(c: TrafficClaim, req: IncomingMessage, res: ServerResponse): void {
  c.handle(req, res).catch(() => {
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Internal Server Error' }));
    } else {
      res.destroy();
    }
  });
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
  if (!claims) throw new Error('claimTraffic: not a server made by createHttpServer');
  claims.push({ match, handle });
}
