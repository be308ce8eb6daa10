/**
 * The Node.js runtime's Runtime API client (runtimes/nodejs/http-client.cjs) with large bodies:
 * a 6 MB event arrives in ~100 socket reads, and the client must not copy what it already holds
 * at every read (quadratic: 3.7 s of a 128 MB function's timeout went to it).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { RUNTIMES_DIR } from './harness.js';

const { Connection } = createRequire(import.meta.url)(path.join(RUNTIMES_DIR, 'nodejs', 'http-client.cjs')) as {
  Connection: new (hostPort: string) => {
    request(method: string, path: string, extraHeaders: string, body: Buffer | string | null): Promise<{ status: number; headers: Record<string, string>; body: Buffer }>;
  };
};

/** The Invoke limit: the largest event a function can be sent. */
const BIG = 6_291_456;
const body = Buffer.alloc(BIG, 0x61);
body.write('"start', 0);
body.write('end"', BIG - 4);

/** Serves one canned answer per request, written in 64 KiB pieces as a runtime API peer would. */
async function server(answer: (req: number) => Buffer[]): Promise<{ address: string; close(): void }> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const s = net.createServer((c) => {
    sockets.add(c);
    c.on('error', () => {});
    c.on('data', () => {
      for (const piece of answer(n++)) {
        if (piece.length === 0) { c.end(); return; }
        for (let i = 0; i < piece.length; i += 65536) c.write(piece.subarray(i, i + 65536));
      }
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(s.address() as net.AddressInfo).port}`,
    close: () => { s.close(); for (const c of sockets) c.destroy(); },
  };
}

/** Bytes the client copies with Buffer.concat while `f` runs. */
async function copiedBy<T>(f: () => Promise<T>): Promise<{ result: T; copied: number }> {
  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = function (list: readonly Uint8Array[], total?: number) {
    if (new Error().stack?.includes('http-client.cjs')) copied += total ?? list.reduce((a, b) => a + b.length, 0);
    return concat.call(Buffer, list, total);
  } as typeof Buffer.concat;
  try {
    return { result: await f(), copied };
  } finally {
    Buffer.concat = concat;
  }
}

const closers: Array<() => void> = [];
after(() => { for (const c of closers) c(); });

describe('nodejs runtime: Runtime API client with large bodies', () => {
  test('a 6 MB Content-Length body is copied once, not once per socket read; the pipelined answer behind it is read too', async () => {
    const srv = await server((i) => i === 0
      ? [Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${BIG}\r\n\r\n`), body, Buffer.from('HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok')]
      : [Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain')]);
    closers.push(srv.close);
    const c = new Connection(srv.address);
    const { result: r, copied } = await copiedBy(() => c.request('GET', '/next', '', null));
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(body), 'the body as sent');
    // Concatenating every 64 KiB read onto what came before copies ~300 MB for 6 MB.
    assert.ok(copied <= 2 * BIG, `copied ${copied} bytes for a ${BIG}-byte body`);
    const second = await c.request('GET', '/next', '', null);
    assert.equal(second.status, 202, 'the answer that came right behind the big body');
    assert.equal(second.body.toString(), 'ok');
    const third = await c.request('GET', '/next', '', null);
    assert.equal(third.body.toString(), 'again', 'the connection is still in step');
  });

  test('a 6 MB chunk of a chunked body, and a 6 MB body read until the connection closes', async () => {
    const chunked = await server(() => [
      Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${BIG.toString(16)}\r\n`), body, Buffer.from('\r\n3\r\nxyz\r\n0\r\nX-T: 1\r\n\r\n'),
    ]);
    closers.push(chunked.close);
    const a = await copiedBy(() => new Connection(chunked.address).request('GET', '/x', '', null));
    assert.ok(a.result.body.equals(Buffer.concat([body, Buffer.from('xyz')])), 'the chunks, joined');
    assert.ok(a.copied <= 3 * BIG, `copied ${a.copied} bytes for a chunked ${BIG}-byte body`);

    const untilClose = await server(() => [Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), body, Buffer.alloc(0)]);
    closers.push(untilClose.close);
    const b = await copiedBy(() => new Connection(untilClose.address).request('GET', '/x', '', null));
    assert.ok(b.result.body.equals(body), 'everything up to the close');
    assert.ok(b.copied <= 2 * BIG, `copied ${b.copied} bytes for a ${BIG}-byte body read until close`);
  });
});
