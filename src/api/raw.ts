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
 * Claims requests before routing: `match` decides from the raw request (host or path prefix)
 * whether this traffic is ours; other requests (Lambda API, AWS JSON services) pass untouched.
 * The handler owns the raw request and response (body unread, any content type).
 */
export function claimTraffic(
  http: FastifyInstance,
  match: (req: IncomingMessage) => boolean,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): void {
  http.addHook('onRequest', (request, reply, done) => {
    if (!match(request.raw)) return done();
    reply.hijack();
    const res = reply.raw;
    handle(request.raw, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Internal Server Error' }));
      } else {
        res.destroy();
      }
    });
    done();
  });
}
