import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RtServer, type RtRequest, type RtResponse } from '../../src/environments/runtime-http.js';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  trailers: Record<string, string>;
  chunks: number;
}

/** A server that records every request and answers it as `answer` says (default: at once). */
function recorder(answer: (req: Seen, res: RtResponse) => void = (r, res) => res.send(200, ['Content-Type', 'text/plain'], `${r.method} ${r.url} ${r.body.length}`)) {
  const seen: Seen[] = [];
  const server = new RtServer((req: RtRequest, res) => {
    const parts: Buffer[] = [];
    req.onData = (c) => parts.push(c);
    req.onEnd = () => {
      const s = { method: req.method, url: req.url, headers: { ...req.headers }, body: Buffer.concat(parts), trailers: { ...req.trailers }, chunks: parts.length };
      seen.push(s);
      answer(s, res);
    };
  });
  return { server, seen };
}

/** Writes raw bytes (optionally in pieces) and collects everything the server sends back until it closes or `until` matches. */
function raw(port: number, pieces: (string | Buffer)[], until: (text: string) => boolean, gapMs = 5): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const done = () => { s.destroy(); resolve(out); };
    s.on('data', (d) => { out += d.toString('latin1'); if (until(out)) done(); });
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.on('connect', async () => {
      for (const p of pieces) {
        s.write(p);
        await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

const count = (text: string, what: string) => text.split(what).length - 1;

describe('Runtime API HTTP server', () => {
  const r = recorder();
  let port = 0;
  before(async () => { port = await r.server.listen(0, '127.0.0.1'); });
  after(() => r.server.close());

  test('content-length bodies, split across packets, keep-alive', async () => {
    const out = await raw(port, ['POST /a HTTP/1.1\r\nHost: x\r\nContent-Le', 'ngth: 11\r\n\r\nhello', ' world', 'GET /b HTTP/1.1\r\nHost: x\r\n\r\n'],
      (t) => count(t, 'HTTP/1.1 200') === 2);
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(out, /POST \/a 11/);
    assert.match(out, /GET \/b 0/);
    assert.equal(r.seen.find((s) => s.url === '/a')!.body.toString(), 'hello world');
  });

  test('chunked bodies with extensions and trailers', async () => {
    const body = '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nLambda-Runtime-Function-Error-Type: Oops\r\nX-Other: 1\r\n\r\n';
    await raw(port, ['POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', body.slice(0, 9), body.slice(9)], (t) => t.includes('POST /c'));
    const s = r.seen.find((x) => x.url === '/c')!;
    assert.equal(s.body.toString(), 'hello world');
    assert.ok(s.chunks >= 2, 'chunks are handed over as they arrive');
    assert.deepEqual(s.trailers, { 'lambda-runtime-function-error-type': 'Oops', 'x-other': '1' });
  });

  test('pipelined requests are answered in order, in one write when ready together', async () => {
    const out = await raw(port, ['GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /3 HTTP/1.1\r\n\r\n'], (t) => count(t, 'HTTP/1.1 200') === 3);
    const order = [...out.matchAll(/(GET|POST) \/(\d)/g)].map((m) => m[2]);
    assert.deepEqual(order, ['1', '2', '3']);
  });

  test('Expect: 100-continue is answered before the body is sent', async () => {
    const out = await raw(port, ['POST /e HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n'], (t) => t.includes('100 Continue'));
    assert.match(out, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
  });

  test('Connection: close and HTTP/1.0 close after the answer', async () => {
    const a = await raw(port, ['GET /x HTTP/1.1\r\nConnection: close\r\n\r\n'], () => false);
    assert.match(a, /Connection: close/);
    const b = await raw(port, ['GET /y HTTP/1.0\r\n\r\n'], () => false);
    assert.match(b, /^HTTP\/1\.1 200/);
  });

  test('malformed requests get 400 and the connection is closed', async () => {
    for (const bad of ['NOT HTTP\r\n\r\n', 'GET / HTTP/1.1\r\nno colon here\r\n\r\n', 'POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
      'POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']) {
      const out = await raw(port, [bad], () => false);
      assert.match(out, /^HTTP\/1\.1 400 Bad Request/, JSON.stringify(bad));
    }
    // A head past 1 MiB (Go's DefaultMaxHeaderBytes, RAPID's limit); a 90 KB header (a Java
    // runtime's X-Ray error cause) is fine.
    const huge = await raw(port, ['GET / HTTP/1.1\r\nX: ' + 'a'.repeat(1100 * 1024)], () => false);
    assert.match(huge, /^HTTP\/1\.1 400/);
    const big = await raw(port, ['GET /big-header HTTP/1.1\r\nX: ' + 'a'.repeat(90 * 1024) + '\r\nConnection: close\r\n\r\n'], () => false);
    assert.match(big, /^HTTP\/1\.1 200/);
  });

  test('heads with bare-LF line ends, and absolute-form targets, are taken as Go\'s net/http (Lambda\'s Runtime API) takes them', async () => {
    // Bare LF throughout, then a head mixing both, pipelined behind it; a body holding "\n\n" is not a head's end.
    const out = await raw(port, ['POST /lf HTTP/1.1\nHost: x\nContent-Length: 6\n\n"a\n\nb"GET /mixed HTTP/1.1\r\nHost: x\n\r\n'],
      (t) => count(t, 'HTTP/1.1 200') === 2);
    assert.match(out, /POST \/lf 6/);
    assert.match(out, /GET \/mixed 0/);
    assert.equal(r.seen.find((s) => s.url === '/lf')!.body.toString(), '"a\n\nb"');
    assert.equal(r.seen.find((s) => s.url === '/lf')!.headers.host, 'x');
    const absolute = await raw(port, ['POST http://127.0.0.1:9001/2018-06-01/runtime/invocation/x/response?q=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi',
      'GET http://127.0.0.1:9001 HTTP/1.1\r\n\r\n'], (t) => count(t, 'HTTP/1.1 200') === 2);
    assert.match(absolute, /POST \/2018-06-01\/runtime\/invocation\/x\/response\?q=1 2/);
    assert.match(absolute, /GET \/ 0/);
    // A target that is neither a path nor absolute-form is refused.
    assert.match(await raw(port, ['GET x/y HTTP/1.1\r\n\r\n'], () => false), /^HTTP\/1\.1 400/);
  });

  test('curl (what bash custom runtimes use) talks to it: long poll, chunked upload, big body with Expect', async () => {
    const curl = (...args: string[]) => new Promise<string>((resolve, reject) =>
      execFile('curl', ['-sS', ...args], { encoding: 'utf8', timeout: 20_000 }, (e, out, err) => (e ? reject(new Error(`${e.message} ${err}`)) : resolve(out))));
    assert.equal(await curl(`http://127.0.0.1:${port}/g`), 'GET /g 0');
    assert.equal(await curl('-X', 'POST', '-d', 'abc', `http://127.0.0.1:${port}/p`), 'POST /p 3');
    assert.equal(await curl('-X', 'POST', '-H', 'Transfer-Encoding: chunked', '--data-binary', 'streamed', `http://127.0.0.1:${port}/t`), 'POST /t 8');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rt-http-')), 'big');
    fs.writeFileSync(file, Buffer.alloc(2 * 1024 * 1024, 0x78));
    assert.equal(await curl('-X', 'POST', '-H', 'Expect: 100-continue', '--data-binary', `@${file}`, `http://127.0.0.1:${port}/big`), `POST /big ${2 * 1024 * 1024}`);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});

test('a response held back (long poll) does not block the connection\'s earlier answers, and a later one waits for it', async () => {
  let held: RtResponse | null = null;
  const r = recorder((s, res) => {
    if (s.url === '/hold') held = res;
    else res.send(200, [], s.url);
  });
  const port = await r.server.listen(0, '127.0.0.1');
  try {
    const got = raw(port, ['GET /first HTTP/1.1\r\n\r\nGET /hold HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n'], (t) => t.includes('/after'));
    await new Promise((res) => setTimeout(res, 100));
    held!.send(200, [], '/hold');
    const out = await got;
    assert.deepEqual([...out.matchAll(/\/(first|hold|after)/g)].map((m) => m[1]), ['first', 'hold', 'after']);
  } finally {
    r.server.close();
  }
});

test('an admission decided later: nothing is read until then; refused, admitted, or dropped by close()', async () => {
  const decisions: Array<(ok: boolean) => void> = [];
  const seen: string[] = [];
  const server = new RtServer((req, res) => { seen.push(req.url); req.onEnd = () => res.send(200, [], req.url); }, () => new Promise<boolean>((resolve) => decisions.push(resolve)));
  const port = await server.listen(0, '127.0.0.1');
  const until = async (n: number) => { while (decisions.length < n) await new Promise((r) => setTimeout(r, 5)); };
  // Closed without an answer: a reset, as the request was never read.
  const unanswered = (p: Promise<string>) => p.catch((e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? '' : Promise.reject(e)));
  try {
    const refused = unanswered(raw(port, ['GET /refused HTTP/1.1\r\n\r\n'], () => false));
    const admitted = raw(port, ['GET /admitted HTTP/1.1\r\n\r\n'], (t) => t.includes('/admitted'));
    await until(2);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen, [], 'no request is read before its connection is admitted');
    decisions[0]!(false);
    decisions[1]!(true);
    assert.equal(await refused, '');
    assert.match(await admitted, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\/admitted$/);
    assert.deepEqual(seen, ['/admitted']);
    // Pending when the server closes: closed, and never served even if admitted afterwards.
    const pending = unanswered(raw(port, ['GET /late HTTP/1.1\r\n\r\n'], () => false));
    await until(3);
    server.close();
    assert.equal(await pending, '');
    decisions[2]!(true);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen, ['/admitted']);
  } finally {
    server.close();
  }
});

test('a paused body: nothing more is delivered, the sender\'s writes back up; on resume the rest, then the requests pipelined behind it', async () => {
  const events: string[] = [];
  let body: RtRequest | null = null;
  let got = 0;
  const server = new RtServer((req, res) => {
    events.push(`${req.method} ${req.url}`);
    if (req.url === '/big') {
      body = req;
      req.onData = (c) => {
        if (got === 0) req.pause();
        got += c.length;
      };
    }
    req.onEnd = () => {
      events.push(`end ${req.url}`);
      res.send(200, [], req.url);
    };
  });
  const port = await server.listen(0, '127.0.0.1');
  const SIZE = 32 * 1024 * 1024;
  const s = net.connect(port, '127.0.0.1');
  try {
    let answers = '';
    s.on('data', (d) => { answers += d.toString('latin1'); });
    await new Promise((r) => s.once('connect', r));
    // A chunked body, then a request pipelined behind it, in one go.
    s.write('POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n');
    s.write(`${SIZE.toString(16)}\r\n`);
    s.write(Buffer.alloc(SIZE, 0x61));
    s.write('\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(got > 0 && got < 1024 * 1024, `${got} bytes delivered while paused`);
    assert.deepEqual(events, ['POST /big'], 'nothing behind the paused body is parsed');
    assert.ok(s.writableLength > SIZE / 2, `the sender's writes are held back (${s.writableLength} bytes not taken)`);
    body!.resume();
    while (!answers.includes('/next')) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got, SIZE);
    assert.deepEqual(events, ['POST /big', 'end /big', 'GET /next', 'end /next']);
    assert.deepEqual([...answers.matchAll(/\/(big|next)/g)].map((m) => m[1]), ['big', 'next']);
  } finally {
    s.destroy();
    server.close();
  }
});

test('pause and resume within a Content-Length body, several times: every byte once, in order', async () => {
  const parts: Buffer[] = [];
  let ended: () => void;
  const done = new Promise<void>((r) => { ended = r; });
  const server = new RtServer((req, res) => {
    req.onData = (c) => {
      parts.push(Buffer.from(c));
      req.pause();
      setTimeout(() => req.resume(), 1);
    };
    req.onEnd = () => { res.send(200, [], 'ok'); ended(); };
  });
  const port = await server.listen(0, '127.0.0.1');
  const body = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < body.length; i += 4) body.writeUInt32BE(i, i);
  try {
    const out = raw(port, [`POST /x HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n`, body], (t) => t.includes('ok'));
    await done;
    await out;
    assert.ok(parts.length > 1);
    assert.ok(Buffer.concat(parts).equals(body));
  } finally {
    server.close();
  }
});

test('a paused body whose sender closes: what it sent is delivered, then its end, or its close when the body was cut', async () => {
  const SIZE = 256 * 1024;
  for (const whole of [true, false]) {
    let got = 0;
    let outcome = '';
    let settled: () => void;
    const done = new Promise<void>((r) => { settled = r; });
    const server = new RtServer((req, res) => {
      // Paused at the first chunk and never resumed: a client that takes nothing in.
      req.onData = (c) => { got += c.length; req.pause(); };
      req.onEnd = () => { outcome = 'end'; res.send(202, []); settled(); };
      res.onClose = () => { outcome = 'close'; settled(); };
    });
    const port = await server.listen(0, '127.0.0.1');
    try {
      const s = net.connect(port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      s.write(`POST /x HTTP/1.1\r\nContent-Length: ${whole ? SIZE : SIZE + 1}\r\n\r\n`);
      s.end(Buffer.alloc(SIZE, 0x61));
      await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
      assert.equal(outcome, whole ? 'end' : 'close', 'the close is seen');
      assert.equal(got, SIZE, 'every byte sent before the close');
    } finally {
      server.close();
    }
  }
});
