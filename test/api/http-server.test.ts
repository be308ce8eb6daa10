import assert from 'node:assert/strict';
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

describe('the shared HTTP server', () => {
  let app: FastifyInstance;
  let port: number;

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
    app.get('/routed', async () => ({ routed: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });
  after(async () => { await app.close(); });

  test('claimed traffic goes to the first claim that matches, the rest to the routes, errors as 500', async () => {
    const c = await Conn.open(port);
    assert.match(await c.request('GET', '/claimed/x'), /^HTTP\/1\.1 200[^]*\r\n\r\nfirst$/);
    assert.match(await c.request('POST', '/second/y'), /\r\n\r\nsecond$/);
    assert.match(await c.request('GET', '/routed'), /^HTTP\/1\.1 200[^]*\r\n\r\n\{"routed":true\}$/);
    assert.match(await c.request('GET', '/nowhere'), /^HTTP\/1\.1 404[^]*UnknownOperationException/);
    assert.match(await c.request('GET', '/broken'), /^HTTP\/1\.1 500[^]*Internal Server Error/);
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

  test('claimTraffic refuses a Fastify instance it did not make', async () => {
    const Fastify = (await import('fastify')).default;
    const other = Fastify();
    assert.throws(() => claimTraffic(other as unknown as FastifyInstance, () => true, async () => {}), /not a server made by createHttpServer/);
    await other.close();
  });
});
