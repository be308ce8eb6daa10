import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateFunctionCommand, InvokeWithResponseStreamCommand, LambdaClient, type InvokeWithResponseStreamResponseEvent,
} from '@aws-sdk/client-lambda';
import { eventStreamMessage } from '../../src/api/lambda/stream-invoke.js';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';

async function events(stream: AsyncIterable<InvokeWithResponseStreamResponseEvent> | undefined): Promise<InvokeWithResponseStreamResponseEvent[]> {
  const out: InvokeWithResponseStreamResponseEvent[] = [];
  for await (const e of stream ?? []) out.push(e);
  return out;
}

describe('InvokeWithResponseStream through the AWS SDK', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  before(async () => {
    server = await startServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
    const fns: Record<string, string> = {
      streamer: 'export const handler = awslambda.streamifyResponse(async (e, stream) => { stream.setContentType("text/plain"); stream.write("one "); await new Promise((r) => setTimeout(r, 30)); stream.write("two"); stream.end(); });\n',
      plain: 'export const handler = async (e) => { if (e.fail) throw new TypeError("nope"); console.log("plain ran"); return { ok: e }; };\n',
      breaker: [
        'export const handler = awslambda.streamifyResponse(async (e, stream) => {',
        '  if (e.destroy) { stream.write("partial"); stream.destroy(new TypeError("destroyed")); return; }',
        '  if (e.throw) { stream.write("partial"); throw new TypeError("thrown"); }',
        '  stream.end(String(process.pid));',
        '});\n',
      ].join('\n'),
    };
    for (const [name, code] of Object.entries(fns)) {
      await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'index.mjs': code }) } }));
    }
  });
  after(() => server?.stop());

  test('a streaming function\'s chunks arrive as PayloadChunk events, then InvokeComplete', async () => {
    const r = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'streamer', Payload: Buffer.from('{}') }));
    assert.equal(r.StatusCode, 200);
    assert.equal(r.ExecutedVersion, '$LATEST');
    const evs = await events(r.EventStream);
    const chunks = evs.filter((e) => e.PayloadChunk).map((e) => Buffer.from(e.PayloadChunk!.Payload!).toString());
    assert.deepEqual(chunks, ['one ', 'two']);
    assert.deepEqual(evs.at(-1)!.InvokeComplete, {});
  });

  test('any other function: its result as one chunk; LogResult with LogType Tail; a failure in InvokeComplete', async () => {
    const r = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'plain', Payload: Buffer.from('{"a":1}'), LogType: 'Tail' }));
    const evs = await events(r.EventStream);
    assert.equal(Buffer.from(evs[0]!.PayloadChunk!.Payload!).toString(), '{"ok":{"a":1}}');
    assert.match(Buffer.from(evs[1]!.InvokeComplete!.LogResult!, 'base64').toString(), /plain ran/);
    const f = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'plain', Payload: Buffer.from('{"fail":1}') }));
    const fe = await events(f.EventStream);
    assert.equal(fe.length, 1);
    assert.deepEqual(fe[0]!.InvokeComplete, { ErrorCode: 'TypeError', ErrorDetails: 'nope' });
  });

  test('a stream the function destroys with an error ends as one whose handler threw mid-stream; the environment stays warm', async () => {
    const text = async (payload: object, tail = false) => {
      const r = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'breaker', Payload: Buffer.from(JSON.stringify(payload)), ...(tail ? { LogType: 'Tail' } : {}) }));
      const evs = await events(r.EventStream);
      return { chunks: evs.filter((e) => e.PayloadChunk).map((e) => Buffer.from(e.PayloadChunk!.Payload!).toString()).join(''), complete: evs.at(-1)!.InvokeComplete! };
    };
    const pid = (await text({})).chunks;
    const thrown = await text({ throw: 1 });
    assert.deepEqual(thrown, { chunks: 'partial', complete: { ErrorCode: 'TypeError', ErrorDetails: 'thrown' } });
    const destroyed = await text({ destroy: 1 }, true);
    assert.equal(destroyed.chunks, 'partial');
    assert.deepEqual({ ...destroyed.complete, LogResult: undefined }, { ErrorCode: 'TypeError', ErrorDetails: 'destroyed', LogResult: undefined });
    const log = Buffer.from(destroyed.complete.LogResult!, 'base64').toString();
    assert.match(log, /\tERROR\tInvoke Error \t\{"errorType":"TypeError","errorMessage":"destroyed"/, log);
    assert.doesNotMatch(log, /Uncaught Exception|Runtime\.ExitError/, log);
    // The same runtime process serves the next invocation: no init.
    const next = await text({}, true);
    assert.equal(next.chunks, pid);
    assert.doesNotMatch(Buffer.from(next.complete.LogResult!, 'base64').toString(), /Init Duration/);
  });

  test('DryRun is 204; errors before the function runs are the API\'s own', async () => {
    const d = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'plain', InvocationType: 'DryRun' }));
    assert.equal(d.StatusCode, 204);
    await assert.rejects(lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'missing' })), { name: 'ResourceNotFoundException' });
    await assert.rejects(lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'plain', InvocationType: 'Event' as 'DryRun' })), { name: 'ValidationException' });
  });

  test('the event stream encoding: prelude, headers, payload and both CRCs', () => {
    const m = eventStreamMessage({ ':event-type': 'PayloadChunk' }, Buffer.from('hi'));
    // 12 prelude + (1 + 11 + 1 + 2 + 12) headers + 2 payload + 4 CRC
    assert.equal(m.readUInt32BE(0), m.length);
    assert.equal(m.length, 12 + 27 + 2 + 4);
    assert.equal(m.readUInt32BE(4), 27);
    assert.equal(m.subarray(12 + 27, 12 + 27 + 2).toString(), 'hi');
  });
});
