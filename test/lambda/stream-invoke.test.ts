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
