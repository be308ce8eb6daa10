import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, LambdaClient, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import { CloudWatchLogsClient, DescribeLogStreamsCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

// In Lambda an environment without extensions is shut down (reaped when idle, or retired by an
// update) without its runtime noticing: nothing of the runtime's follows the last REPORT of its
// log stream. Stratus's must not be woken to find its /next connection closed and have what it
// says about it logged (curl's "(52) Empty reply from server", the Node.js runtime's "Runtime API
// connection closed", a Python traceback).

const ROLE = 'arn:aws:iam::000000000000:role/test';
const decode = (p?: Uint8Array) => (p ? Buffer.from(p).toString('utf8') : '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A bash + curl custom runtime looping on /next, curl saying what went wrong (-sS). */
const BOOTSTRAP = `#!/bin/bash
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  # The headers on stdout, not in a file: under the process sandbox /tmp is the host's.
  H=$(curl -sS -D - "$API/invocation/next" -o /dev/null)
  ID=$(printf '%s\n' "$H" | grep -Fi Lambda-Runtime-Aws-Request-Id | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -X POST "$API/invocation/$ID/response" -d '"ok"' -o /dev/null
done
`;

const FUNCTIONS = [
  { kind: 'bash', Runtime: 'provided.al2023' as const, Handler: 'x', zip: () => makeZip({ bootstrap: { content: BOOTSTRAP, mode: 0o755 } }) },
  { kind: 'node', Runtime: 'nodejs20.x' as const, Handler: 'index.handler', zip: () => makeZip({ 'index.js': 'exports.handler = async () => "ok";\n' }) },
  { kind: 'python', Runtime: 'python3.12' as const, Handler: 'app.handler', zip: () => makeZip({ 'app.py': 'def handler(event, context):\n    return "ok"\n' }) },
];

/**
 * Several environments of a function, spun down together: a runtime that gets to run between its
 * /next closing and its end does not in every one of them.
 */
const ENVS = 6;

async function invokeAtOnce(lambda: LambdaClient, name: string): Promise<void> {
  const outs = await Promise.all(Array.from({ length: ENVS }, () => lambda.send(new InvokeCommand({ FunctionName: name }))));
  for (const out of outs) assert.equal(out.FunctionError, undefined, decode(out.Payload));
}

/** Each log stream of `group` (one per environment), with what follows its last REPORT. */
async function afterLastReports(logs: CloudWatchLogsClient, group: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const streams = (await logs.send(new DescribeLogStreamsCommand({ logGroupName: group }))).logStreams ?? [];
  for (const { logStreamName } of streams) {
    const events = (await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName, startFromHead: true }))).events ?? [];
    const messages = events.map((e) => e.message ?? '');
    const last = messages.map((m) => m.startsWith('REPORT RequestId: ')).lastIndexOf(true);
    assert.ok(last >= 0, `a REPORT in ${logStreamName}:\n${messages.join('')}`);
    out[logStreamName!] = messages.slice(last + 1);
  }
  return out;
}

/** Nothing after any stream's last REPORT. */
function assertQuietAfterReports(tails: Record<string, string[]>): void {
  const noisy = Object.entries(tails).filter(([, t]) => t.length > 0);
  assert.deepEqual(noisy, [], noisy.map(([s, t]) => `${s}:\n${t.join('')}`).join('\n'));
}

for (const sandbox of ['namespace', 'process'] as const) {
  describe(`An environment spun down without extensions logs nothing after its last REPORT (${sandbox} sandbox)`, () => {
    let reaping: TestServer;
    let keeping: TestServer;
    const clients = (s: TestServer) => ({ lambda: new LambdaClient(clientConfig(s.endpoint)), logs: new CloudWatchLogsClient(clientConfig(s.endpoint)) });
    before(async () => {
      [reaping, keeping] = await Promise.all([startServer({ sandbox, idleTimeoutMs: 1000 }), startServer({ sandbox, idleTimeoutMs: 60_000 })]);
    });
    after(async () => { await Promise.all([reaping?.stop(), keeping?.stop()]); });

    for (const f of FUNCTIONS) {
      test(`${f.kind}: reaped once idle`, async () => {
        const { lambda, logs } = clients(reaping);
        const name = `reaped-${f.kind}`;
        await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: f.Runtime, Handler: f.Handler, Role: ROLE, Code: { ZipFile: await f.zip() } }));
        await invokeAtOnce(lambda, name);
        // Idle past the idle time (1 s, the reaper looks every 500 ms), then a while longer.
        await sleep(3000);
        const tails = await afterLastReports(logs, `/aws/lambda/${name}`);
        assert.ok(Object.keys(tails).length >= 2, Object.keys(tails).join(', '));
        assertQuietAfterReports(tails);
      });

      test(`${f.kind}: retired by UpdateFunctionCode`, async () => {
        const { lambda, logs } = clients(keeping);
        const name = `retired-${f.kind}`;
        await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: f.Runtime, Handler: f.Handler, Role: ROLE, Code: { ZipFile: await f.zip() } }));
        await invokeAtOnce(lambda, name);
        await sleep(200); // frozen by now, as idle environments are
        await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: await f.zip() }));
        // The next invocation goes to a new environment; the old ones are retired.
        const next = await lambda.send(new InvokeCommand({ FunctionName: name }));
        assert.equal(next.FunctionError, undefined, decode(next.Payload));
        await sleep(1500);
        const tails = await afterLastReports(logs, `/aws/lambda/${name}`);
        assert.ok(Object.keys(tails).length >= 3, Object.keys(tails).join(', '));
        assertQuietAfterReports(tails);
      });
    }
  });
}
