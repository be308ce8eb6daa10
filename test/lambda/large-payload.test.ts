import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
/** Invoke's request limit, and the largest response Lambda returns (6 MB + 100 bytes). */
const REQUEST_LIMIT = 6_291_456;
const RESPONSE_LIMIT = 6_291_556;

describe('Invoke at the payload limits, at 128 MB', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  before(async () => {
    server = await startServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
    const zip = await makeZip({
      'index.js': `
exports.seen = async (event, context) => ({ remaining: context.getRemainingTimeInMillis(), length: event.length, ends: event.slice(0, 5) + event.slice(-3) });
exports.big = async () => 'y'.repeat(${RESPONSE_LIMIT - 3});
`,
    });
    for (const [FunctionName, Handler] of [['seen', 'index.seen'], ['big', 'index.big']]) {
      await lambda.send(new CreateFunctionCommand({ FunctionName, Runtime: 'nodejs20.x', Handler, Role: ROLE, Code: { ZipFile: zip }, MemorySize: 128, Timeout: 5 }));
    }
  });
  after(async () => server?.stop());

  test('a 6 MB event reaches a Node.js handler with most of its timeout left', async () => {
    // Warm, so that what the handler reports is delivery time alone.
    await lambda.send(new InvokeCommand({ FunctionName: 'seen', Payload: Buffer.from('"warm"') }));
    const event = `start${'x'.repeat(REQUEST_LIMIT - 2 - 8)}end`;
    const payload = Buffer.from(JSON.stringify(event));
    assert.equal(payload.length, REQUEST_LIMIT);
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'seen', Payload: payload }));
    assert.equal(r.FunctionError, undefined, Buffer.from(r.Payload!).toString());
    const got = JSON.parse(Buffer.from(r.Payload!).toString());
    assert.equal(got.length, event.length);
    assert.equal(got.ends, 'startend');
    // The deadline starts when the event is handed over: reading it took 3.4–4 s of the 5 s here
    // while the runtime's client copied its buffer at every socket read; ~0.3 s without that.
    assert.ok(got.remaining > 5000 - 1500, `${5000 - got.remaining} ms of the 5 s timeout went before the handler ran`);
  });

  test('a response just under the 6 MB response limit comes back whole', async () => {
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'big' }));
    assert.equal(r.FunctionError, undefined, Buffer.from(r.Payload!).subarray(0, 300).toString());
    assert.equal(r.Payload!.length, RESPONSE_LIMIT - 1);
    const text = Buffer.from(r.Payload!).toString();
    assert.equal(text, JSON.stringify('y'.repeat(RESPONSE_LIMIT - 3)));
  });
});
