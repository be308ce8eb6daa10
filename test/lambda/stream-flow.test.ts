import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  CreateFunctionCommand, CreateFunctionUrlConfigCommand, InvokeWithResponseStreamCommand, LambdaClient, type InvokeWithResponseStreamResponseEvent,
} from '@aws-sdk/client-lambda';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const MiB = 1024 * 1024;

// A full collection on demand, so that what the server holds is measured, not garbage not yet collected.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The process's buffers in use: collected, and swept (V8 frees them in the background), twice over. */
async function heldBytes(): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(30);
    least = Math.min(least, process.memoryUsage().arrayBuffers);
  }
  return least;
}

/**
 * Streams `mb` chunks of 1 MiB (the event's, or a function URL's query string's), each one waiting for the stream to take the previous one (as a
 * handler that respects backpressure does). Chunk i is filled with the byte i, its first 8 bytes
 * the time it was written: the function's own account of when it was let go on.
 */
const STREAMER = `export const handler = awslambda.streamifyResponse(async (e, stream) => {
  stream.setContentType('application/octet-stream');
  const mb = e.mb ?? Number(e.queryStringParameters?.mb);
  for (let i = 0; i < mb; i++) {
    const b = Buffer.alloc(${MiB}, i & 0xff);
    b.writeDoubleBE(Date.now(), 0);
    if (!stream.write(b)) await new Promise((r) => stream.once('drain', r));
  }
  stream.end();
});
`;

/** Splits a streamed body back into the function's chunks: their write times, checking every byte. */
function chunksOf(body: Buffer, mb: number): number[] {
  assert.equal(body.length, mb * MiB, 'the whole response arrives');
  const times: number[] = [];
  for (let i = 0; i < mb; i++) {
    const c = body.subarray(i * MiB, (i + 1) * MiB);
    times.push(c.readDoubleBE(0));
    const rest = c.subarray(8);
    assert.ok(rest.every((x) => x === (i & 0xff)), `chunk ${i} intact`);
  }
  return times;
}

async function payloadOf(stream: AsyncIterable<InvokeWithResponseStreamResponseEvent> | undefined): Promise<{ body: Buffer; complete: InvokeWithResponseStreamResponseEvent['InvokeComplete'] }> {
  const parts: Buffer[] = [];
  let complete: InvokeWithResponseStreamResponseEvent['InvokeComplete'];
  for await (const e of stream ?? []) {
    if (e.PayloadChunk?.Payload) parts.push(Buffer.from(e.PayloadChunk.Payload));
    if (e.InvokeComplete) complete = e.InvokeComplete;
  }
  return { body: Buffer.concat(parts), complete };
}

describe('a streamed response goes at its client\'s pace and within Lambda\'s bandwidth', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  let port: number;
  before(async () => {
    server = await startServer();
    port = Number(new URL(server.endpoint).port);
    lambda = new LambdaClient(clientConfig(server.endpoint));
    const zip = await makeZip({ 'index.mjs': STREAMER });
    for (const [name, timeout] of [['streamer', 60], ['short', 3]] as const) {
      await lambda.send(new CreateFunctionCommand({
        FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, MemorySize: 512, Timeout: timeout, Code: { ZipFile: zip },
      }));
    }
    const bootstrap = `#!/bin/bash
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  H=$(mktemp)
  curl -sS -D "$H" -o /dev/null "$API/invocation/next"
  REQ=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$H" | tr -d '\\r' | cut -d' ' -f2)
  rm -f "$H"
  head -c ${16 * MiB} /dev/zero | curl -sS -o /dev/null -X POST -H 'Lambda-Runtime-Function-Response-Mode: streaming' \\
    -H 'Transfer-Encoding: chunked' --data-binary @- "$API/invocation/$REQ/response"
done
`;
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'custom', Runtime: 'provided.al2023', Handler: 'x', Role: ROLE, MemorySize: 256, Timeout: 60,
      Code: { ZipFile: await makeZip({ bootstrap: { content: bootstrap, mode: 0o755 } }) },
    }));
    // Warm: what a cold start allocates in the server is not taken for what a stream holds.
    await payloadOf((await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'streamer', Payload: Buffer.from('{"mb":1}') }))).EventStream);
  });
  after(() => server?.stop());

  test('a client that does not read holds the function back; the server holds a little, not the response', async () => {
    const MB = 16;
    const base = await heldBytes();
    const r = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'streamer', Payload: Buffer.from(JSON.stringify({ mb: MB })) }));
    // Not read for 4 s: without flow control the function would be done by now and its whole
    // response (or, at 2 MB/s past the first 6 MB, 14 MB of it) in the server's memory.
    await sleep(4000);
    const held = (await heldBytes()) - base;
    const readFrom = Date.now();
    const { body, complete } = await payloadOf(r.EventStream);
    assert.deepEqual(complete, {});
    const times = chunksOf(body, MB);
    const writtenEarly = times.filter((t) => t < readFrom).length;
    console.log(`server held ${(held / MiB).toFixed(1)} MiB while the client did not read; the function wrote ${writtenEarly} of ${MB} MiB by then`);
    assert.ok(held < 4 * MiB, `the server held ${held} bytes of a ${MB} MiB response`);
    // What it wrote before the client read is what the sockets' buffers took, no more.
    assert.ok(writtenEarly <= 10, `the function wrote ${writtenEarly} MiB before its client read anything`);
  });

  test('a custom runtime (bash and curl, over TCP) is held back the same way', async () => {
    await payloadOf((await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'custom' }))).EventStream);
    const base = await heldBytes();
    const r = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'custom' }));
    await sleep(4000);
    const held = (await heldBytes()) - base;
    const { body, complete } = await payloadOf(r.EventStream);
    assert.deepEqual(complete, {});
    assert.equal(body.length, 16 * MiB);
    assert.ok(body.every((x) => x === 0));
    console.log(`custom: server held ${(held / MiB).toFixed(1)} MiB while the client did not read`);
    assert.ok(held < 4 * MiB, `the server held ${held} bytes of a 16 MiB response`);
  });

  test('past the first 6 MB, at most 2 MB/s: 12 MB take at least 3 s (a lower bound only)', async () => {
    const t0 = performance.now();
    const r = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'streamer', Payload: Buffer.from(JSON.stringify({ mb: 12 })) }));
    const { body, complete } = await payloadOf(r.EventStream);
    const ms = performance.now() - t0;
    assert.deepEqual(complete, {});
    chunksOf(body, 12);
    console.log(`12 MiB streamed in ${ms.toFixed(0)} ms`);
    assert.ok(ms >= 2500, `12 MiB streamed in ${ms.toFixed(0)} ms`);
  });

  test('a function held back past its timeout times out; what it wrote before arrives first', async () => {
    const r = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'short', Payload: Buffer.from(JSON.stringify({ mb: 40 })) }));
    await sleep(4000);
    const { body, complete } = await payloadOf(r.EventStream);
    assert.equal(complete?.ErrorCode, 'Sandbox.Timedout');
    assert.ok(body.length < 40 * MiB, `${body.length} bytes arrived`);
    for (let i = 0; i < Math.floor(body.length / MiB); i++) {
      assert.ok(body.subarray(i * MiB + 8, (i + 1) * MiB).every((x) => x === (i & 0xff)), `chunk ${i} intact`);
    }
  });

  test('a RESPONSE_STREAM function URL: a client that does not read holds the function back too', async () => {
    const MB = 16;
    const cfg = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'streamer', AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' }));
    const id = new URL(cfg.FunctionUrl!).hostname.split('.')[0]!;
    const base = await heldBytes();
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: `/_urls/${id}/?mb=${MB}`, agent: false }, resolve);
      req.on('error', reject);
    });
    assert.equal(res.statusCode, 200);
    // Paused: nothing is read from the connection past the stream's small buffer.
    res.pause();
    await sleep(4000);
    const held = (await heldBytes()) - base;
    const readFrom = Date.now();
    const parts: Buffer[] = [];
    for await (const c of res) parts.push(c as Buffer);
    const times = chunksOf(Buffer.concat(parts), MB);
    const writtenEarly = times.filter((t) => t < readFrom).length;
    console.log(`URL: server held ${(held / MiB).toFixed(1)} MiB while the client did not read; the function wrote ${writtenEarly} of ${MB} MiB by then`);
    assert.ok(held < 4 * MiB, `the server held ${held} bytes of a ${MB} MiB response`);
    assert.ok(writtenEarly <= 10, `the function wrote ${writtenEarly} MiB before its client read anything`);
  });
});
