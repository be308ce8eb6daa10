import assert from 'node:assert/strict';
import dns from 'node:dns';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { claimTraffic } from '../../src/api/raw.js';
import { createHttpServer } from '../../src/app/server.js';

/** Sends raw HTTP/1.1 requests on one kept-alive socket and reads one response per request. */
class Conn {
  private buf = '';
  private waiting: { resolve: (text: string) => void; reject: (e: Error) => void } | null = null;
  closed = false;
  constructor(private readonly sock: net.Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => { this.buf += d; this.take(); });
    sock.on('error', () => { /* reported as the close below */ });
    sock.on('close', () => {
      this.closed = true;
      this.waiting?.reject(new Error('the server closed the connection'));
      this.waiting = null;
    });
  }
  static open(port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }
  private take(): void {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0 || !this.waiting) return;
    const len = Number(/content-length: (\d+)/i.exec(this.buf.slice(0, end))?.[1] ?? 0);
    if (this.buf.length < end + 4 + len) return;
    const text = this.buf.slice(0, end + 4 + len);
    this.buf = this.buf.slice(end + 4 + len);
    const w = this.waiting;
    this.waiting = null;
    w.resolve(text);
  }
  request(method: string, path: string, headers = ''): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('the server closed the connection'));
      this.waiting = { resolve, reject };
      this.sock.write(`${method} ${path} HTTP/1.1\r\nHost: localhost\r\n${headers}Content-Length: 0\r\n\r\n`);
    });
  }
  end(): void { this.sock.destroy(); }
}

async function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

const ipv6Loopback = await hasIpv6Loopback();

describe('the shared HTTP server', () => {
  let app: FastifyInstance;
  let port: number;
  let reachedFastify = 0;

  before(async () => {
    app = createHttpServer();
    claimTraffic(app, (req) => req.url!.startsWith('/claimed/'), async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
      res.end('first');
    });
    claimTraffic(app, (req) => req.url!.startsWith('/claimed/') || req.url!.startsWith('/second/'), async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '6' });
      res.end('second');
    });
    claimTraffic(app, (req) => req.url === '/broken', async () => { throw new Error('boom'); });
    claimTraffic(app, (req) => { if (req.url === '/bad-match') throw new Error('matcher'); return false; }, async () => {});
    claimTraffic(app, (req) => req.url === '/sync-throw', (() => { throw new Error('not async'); }) as never);
    app.get('/routed', async () => ({ routed: true }));
    app.addHook('onRequest', (_req, _reply, done) => { reachedFastify++; done(); });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });
  after(async () => { await app.close(); });

  test('claimed traffic goes to the first claim that matches, the rest to the routes, errors as 500', async () => {
    const c = await Conn.open(port);
    assert.match(await c.request('GET', '/claimed/x'), /^HTTP\/1\.1 200[^]*\r\n\r\nfirst$/);
    assert.match(await c.request('POST', '/second/y'), /\r\n\r\nsecond$/);
    assert.equal(reachedFastify, 0, 'claimed traffic is served before Fastify (no routing, no hooks)');
    assert.match(await c.request('GET', '/routed'), /^HTTP\/1\.1 200[^]*\r\n\r\n\{"routed":true\}$/);
    assert.equal(reachedFastify, 1);
    assert.match(await c.request('GET', '/nowhere'), /^HTTP\/1\.1 404[^]*UnknownOperationException/);
    assert.match(await c.request('GET', '/broken'), /^HTTP\/1\.1 500[^]*Internal Server Error/);
    // A claim that throws synchronously answers 500 too; the server goes on serving.
    assert.match(await c.request('GET', '/bad-match'), /^HTTP\/1\.1 500/);
    assert.match(await c.request('GET', '/sync-throw'), /^HTTP\/1\.1 500/);
    assert.match(await c.request('GET', '/claimed/again'), /first$/);
    c.end();
  });

  test('an idle kept-alive connection outlives node\'s 5 s default (SDK clients reuse theirs)', async () => {
    const c = await Conn.open(port);
    assert.match(await c.request('GET', '/claimed/a'), /first$/);
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal(c.closed, false, 'the server closed an idle connection after less than 6 s');
    assert.match(await c.request('GET', '/routed'), /routed/);
    c.end();
  });

  test('listening on a name with two addresses (localhost: 127.0.0.1 and ::1), both serve claims and routes', { skip: !ipv6Loopback && 'no ::1 here' }, async () => {
    const lookup = dns.lookup;
    // As on a dual-stack machine, where Fastify opens a second server for the second address.
    (dns as { lookup: unknown }).lookup = (host: string, o: unknown, cb: unknown) => {
      if (host !== 'localhost') return (lookup as Function).call(dns, host, o, cb);
      const done = (typeof o === 'function' ? o : cb) as (e: null, a: unknown, f?: number) => void;
      const all = typeof o === 'object' && o !== null && (o as { all?: boolean }).all;
      if (all) process.nextTick(() => done(null, [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]));
      else process.nextTick(() => done(null, '127.0.0.1', 4));
    };
    const dual = createHttpServer();
    try {
      claimTraffic(dual, (req) => req.url!.startsWith('/claimed/'), async (_req, res) => { res.writeHead(200, { 'content-length': '2' }); res.end('ok'); });
      dual.get('/routed', async () => ({ routed: true }));
      await dual.listen({ port: 0, host: 'localhost' });
      const p = (dual.server.address() as AddressInfo).port;
      for (const host of ['127.0.0.1', '[::1]']) {
        const claimed = await fetch(`http://${host}:${p}/claimed/x`);
        assert.equal(`${claimed.status} ${await claimed.text()}`, '200 ok', host);
        const routed = await fetch(`http://${host}:${p}/routed`);
        assert.deepEqual([routed.status, await routed.json()], [200, { routed: true }], host);
      }
    } finally {
      (dns as { lookup: unknown }).lookup = lookup;
      await dual.close();
    }
  });

  test('claimTraffic refuses a Fastify instance it did not make', async () => {
    const Fastify = (await import('fastify')).default;
    const other = Fastify();
    assert.throws(() => claimTraffic(other as unknown as FastifyInstance, () => true, async () => {}), /not a server made by createHttpServer/);
    await other.close();
  });
});

describe('a caller that stops reading its response', () => {
  let app: FastifyInstance;
  let port: number;
  /** The server's end of each connection, in the order they came. */
  const ends: net.Socket[] = [];
  const BIG = Buffer.alloc(16 * 1024 * 1024, 'x');
  /** Long enough that a busy host's pauses (the test process's own timers late) are not taken for a stall. */
  const STALL_MS = 4000;
  before(async () => {
    app = createHttpServer({ stalledWriteMs: STALL_MS });
    app.get('/big', async (_req, reply) => reply.type('application/octet-stream').send(BIG));
    app.server.on('connection', (s: net.Socket) => ends.push(s));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });
  after(() => app.close());

  /** Asks for /big, then reads as `read` says; resolves with the bytes read once all arrived. */
  const ask = (read: (s: net.Socket) => void) => {
    let bytes = 0;
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
      read(s);
    });
    s.on('error', () => {});
    const all = new Promise<number>((resolve) => {
      s.on('data', (d: Buffer) => { bytes += d.length; if (bytes >= BIG.length) { s.destroy(); resolve(bytes); } });
      s.on('close', () => resolve(bytes));
    });
    return { s, all };
  };

  test('is cut once its response has stayed in the server\'s memory past the limit', async () => {
    const t0 = performance.now();
    const n = ends.length;
    // Reads nothing at all after its request (paused, it would not see the cut either).
    const { s } = ask((c) => c.pause());
    let end: net.Socket | undefined;
    for (let i = 0; i < 300 && !(end = ends[n])?.destroyed; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(end?.destroyed, 'the server kept the connection');
    assert.ok(performance.now() - t0 >= STALL_MS, 'cut before the limit');
    s.destroy();
  });

  test('a slow reader is not cut: all of its response arrives', async () => {
    // 64 KiB every 20 ms at most: 16 MiB take more than the limit, and some always moves.
    const t0 = performance.now();
    const got = await new Promise<number>((resolve) => {
      let bytes = 0;
      const c = net.connect({ port, host: '127.0.0.1' }, () => c.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'));
      c.on('error', () => {});
      const tick = setInterval(() => {
        const d = c.read(65536) as Buffer | null ?? c.read() as Buffer | null;
        if (d) bytes += d.length;
        if (bytes >= BIG.length) c.destroy();
      }, 20);
      c.on('close', () => { clearInterval(tick); resolve(bytes); });
    });
    assert.ok(got >= BIG.length, `cut after ${got} bytes`);
    assert.ok(performance.now() - t0 > STALL_MS, 'read faster than the limit: the test shows nothing');
  });
;
});
