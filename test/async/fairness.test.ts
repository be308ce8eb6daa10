import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { clientConfig, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';
import { startAsyncServer, waitFor } from './server.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';

describe('asynchronous invocation: one function\'s backlog does not hold up another\'s events', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  const SLOW = 33;

  before(async () => {
    // More concurrency than the engine once had workers (32): the account's limit is the bound.
    server = await startAsyncServer({ accountConcurrency: 40, unreservedConcurrencyMin: 1 });
    lambda = new LambdaClient(clientConfig(server.endpoint));
    const fn = async (name: string, code: string) => lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 60, Code: { ZipFile: await makeZip({ 'index.js': code }) },
    }));
    await fn('hog', 'exports.handler = async () => { await new Promise((r) => setTimeout(r, 12000)); return "slow"; };');
    await fn('quick', 'exports.handler = async () => "quick";');
  });
  after(async () => server?.stop());

  test('events of a function with concurrency to spare run while another function\'s are still running', async () => {
    const send = async (name: string) => (await lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: Buffer.from('{}') }))).$metadata.requestId!;
    const hogs = await Promise.all(Array.from({ length: SLOW }, () => send('hog')));
    const status = async (id: string) => {
      const r = await fetch(`${server.endpoint}/_stratus/async/events/${id}`);
      return r.status === 200 ? (await r.json() as { state: string }) : undefined;
    };
    // Every hog event is running (each holds its environment for 12 s).
    await waitFor('the hog events to run', async () => {
      const states = await Promise.all(hogs.map(status));
      return states.every((s) => s?.state === 'running') || undefined;
    }, 10_000);
    const sent = Date.now();
    const id = await send('quick');
    const done = await waitFor('the quick event', async () => {
      const s = await status(id);
      return s?.state === 'succeeded' ? s : undefined;
    }, 11_000);
    assert.equal(done.state, 'succeeded');
    assert.ok(Date.now() - sent < 11_000);
    const still = await Promise.all(hogs.map(status));
    assert.ok(still.some((s) => s?.state === 'running'), 'it ran while the hog events were still running');
  });
});
