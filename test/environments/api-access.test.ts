import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateQueueCommand, GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const isRoot = process.getuid?.() === 0;

/** A function that calls Stratus's own API from inside its environment and reports the answers. */
const PROBE = `
exports.handler = async (e) => {
  const base = process.env.STRATUS_URL;
  const call = async (method, path, body, target) => {
    const headers = { 'content-type': target ? 'application/x-amz-json-1.1' : 'application/json' };
    if (target) headers['x-amz-target'] = target;
    const r = await fetch(base + path, { method, headers, body });
    return { status: r.status, type: r.headers.get('x-amzn-errortype'), text: await r.text() };
  };
  // One raw HTTP/1.1 request on a socket of its own, optionally bound to a local address and port.
  const raw = (head, bind) => new Promise((resolve) => {
    const u = new URL(base);
    const s = require('node:net').connect({ host: u.hostname, port: Number(u.port), ...(bind ?? {}) });
    let text = '';
    s.on('data', (d) => { text += d; });
    s.on('error', (e) => resolve({ status: 0, type: e.code, text: String(e) }));
    s.on('close', () => resolve({ status: Number(text.split(' ')[1]), type: /x-amzn-errortype: *([^\\r:]+)/i.exec(text)?.[1], text }));
    s.write(head + '\\r\\nHost: ' + u.host + '\\r\\nConnection: close\\r\\n\\r\\n');
  });
  const port = new URL(base).port;
  return {
    // Ways around the check: an X-Amz-Target naming an open operation on a REST path, an encoded
    // or absolute-form path, a connection from another loopback address bound to the server's port.
    withOpenTarget: await call('GET', '/2015-03-31/functions/secret', undefined, 'AWSEvents.PutEvents'),
    encoded: await raw('GET /2015%2D03-31/functions/secret HTTP/1.1'),
    encodedDelete: await raw('DELETE /%32015-03-31/functions/secret HTTP/1.1'),
    absolute: await raw('GET ' + base + '/2015-03-31/functions/secret HTTP/1.1'),
    ...Object.fromEntries(await Promise.all([2, 3, 4, 5].map(async (i) =>
      ['boundToServerPort' + i, await raw('GET /2015-03-31/functions/secret HTTP/1.1', { localAddress: '127.0.0.' + i, localPort: Number(port) })]))),
    // A request whose socket is closed (or reset) at once, while the server is kept busy: the
    // kernel lists a closed socket past its FIN as uid 0, which once passed for a caller on the host.
    orphaned: await (async () => {
      const net = require('node:net');
      const u = new URL(base);
      const body = JSON.stringify({ Description: 'set from inside' });
      const put = 'PUT /2015-03-31/functions/secret/configuration HTTP/1.1\\r\\nHost: ' + u.host + '\\r\\nContent-Type: application/json\\r\\nContent-Length: ' + body.length + '\\r\\n\\r\\n' + body;
      const junk = [];
      for (let i = 0; i < 50; i++) {
        const j = net.connect({ host: u.hostname, port: Number(u.port) });
        j.on('error', () => {});
        j.resume();
        j.write('GET /2015-03-31/functions HTTP/1.1\\r\\nHost: ' + u.host + '\\r\\n\\r\\n');
        junk.push(j);
      }
      for (let i = 0; i < 5; i++) {
        const s = net.connect({ host: u.hostname, port: Number(u.port) });
        s.on('error', () => {});
        s.write(put, () => s.destroy());
      }
      // Reset rather than closed: the server still serves the request, but can no longer read
      // the peer's address from the socket.
      for (let i = 0; i < 5; i++) {
        const s = net.connect({ host: u.hostname, port: Number(u.port) });
        s.on('error', () => {});
        s.write(put, () => s.resetAndDestroy());
      }
      await new Promise((r) => setTimeout(r, 1500));
      for (const j of junk) j.destroy();
      return 'sent';
    })(),
    config: await call('GET', '/2015-03-31/functions/secret/configuration'),
    list: await call('GET', '/2015-03-31/functions'),
    code: await call('GET', '/2015-03-31/functions/secret'),
    del: await call('DELETE', '/2015-03-31/functions/secret'),
    logs: await call('POST', '/', JSON.stringify({ logGroupName: '/aws/lambda/secret' }), 'Logs_20140328.FilterLogEvents'),
    invoke: await call('POST', '/2015-03-31/functions/secret/invocations', '{}'),
    queue: await call('POST', '/', JSON.stringify({ QueueName: 'from-fn' }), 'AmazonSQS.GetQueueUrl'),
    // The SQS query protocol: the action is in a form body, not in a header.
    ...Object.fromEntries(await Promise.all(Object.entries({
      queryDelete: ['/000000000000/guarded', 'Action=DeleteQueue'],
      queryCreate: ['/', 'Action=CreateQueue&QueueName=evil'],
      queryAttributes: ['/', 'Action=SetQueueAttributes&QueueUrl=' + encodeURIComponent(base + '/000000000000/guarded') + '&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=999'],
      querySend: ['/000000000000/guarded', 'Action=SendMessage&MessageBody=hi'],
    }).map(async ([k, [path, body]]) => {
      const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      return [k, { status: r.status, text: await r.text() }];
    }))),
  };
};`;

describe('what a function may ask of Stratus from inside its environment', () => {
  let server: TestServer | undefined;
  let lambda: LambdaClient;
  let sqs: SQSClient;
  before(async () => {
    if (!isRoot) return;
    server = await startServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
    sqs = new SQSClient(clientConfig(server.endpoint));
    await sqs.send(new CreateQueueCommand({ QueueName: 'guarded' }));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'secret', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE,
      Environment: { Variables: { API_KEY: 'hunter2' } }, Code: { ZipFile: await makeZip({ 'index.js': "exports.handler = async () => 'secret ran';" }) },
    }));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'probe', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 20,
      Environment: { Variables: { STRATUS_URL: server.endpoint } }, Code: { ZipFile: await makeZip({ 'index.js': PROBE }) },
    }));
  });
  after(async () => server?.stop());

  test('reading or changing other functions is AccessDeniedException; invoking and queues work', async (t) => {
    if (!isRoot || server!.stratus.describe().lines[0]!.startsWith('sandbox: process')) {
      return t.skip('needs the namespace sandbox (root): without per-environment uids functions cannot be told apart from other local callers');
    }
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'probe' }));
    const out = JSON.parse(Buffer.from(r.Payload!).toString());
    assert.equal(r.FunctionError, undefined, JSON.stringify(out));
    for (const k of ['config', 'list', 'code', 'del', 'logs', 'withOpenTarget', 'encoded', 'encodedDelete', 'absolute', 'boundToServerPort2', 'boundToServerPort3', 'boundToServerPort4', 'boundToServerPort5']) {
      assert.equal(out[k].status, 403, `${k}: ${JSON.stringify(out[k])}`);
      assert.equal(out[k].type, 'AccessDeniedException', k);
      assert.doesNotMatch(out[k].text, /hunter2/);
    }
    assert.equal(out.invoke.status, 200);
    assert.equal(JSON.parse(out.invoke.text), 'secret ran');
    assert.notEqual(out.queue.status, 403, 'queue operations are open to functions');
    for (const k of ['queryDelete', 'queryCreate', 'queryAttributes']) {
      assert.equal(out[k].status, 403, `${k}: ${JSON.stringify(out[k])}`);
      assert.match(out[k].text, /<ErrorResponse[^>]*><Error><Type>Sender<\/Type><Code>AccessDenied(Exception)?<\/Code>/, k);
    }
    assert.equal(out.querySend.status, 200, JSON.stringify(out.querySend));
    const queues = await sqs.send(new ListQueuesCommand({}));
    assert.deepEqual(queues.QueueUrls?.map((u) => u.split('/').pop()), ['guarded'], 'the queue was neither deleted nor joined');
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queues.QueueUrls![0]!, AttributeNames: ['VisibilityTimeout'] }));
    assert.equal(attrs.Attributes?.VisibilityTimeout, '30');
    assert.equal((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'secret' }))).Description, '', 'the orphaned request was refused');
    // The function still exists: the DELETE was refused.
    const again = await lambda.send(new InvokeCommand({ FunctionName: 'secret' }));
    assert.equal(JSON.parse(Buffer.from(again.Payload!).toString()), 'secret ran');
  });

  test('a Runtime API connection of the environment\'s uid but from outside its processes is refused', async (t) => {
    if (!isRoot || server!.stratus.describe().lines[0]!.startsWith('sandbox: process')) return t.skip('needs the namespace sandbox (root)');
    // A socket keeps the uid of whoever made it: one made in an environment whose uid is later
    // another function's, and handed over a Unix socket to a process elsewhere, passed for that
    // function's runtime, took its invocations and answered them. Here: a process of that uid
    // outside the environment.
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'whoami', Runtime: 'provided.al2023', Handler: 'x', Role: ROLE, Timeout: 10,
      Code: { ZipFile: await makeZip({ bootstrap: { content: WHOAMI_BOOTSTRAP, mode: 0o755 } }) },
    }));
    const first = await lambda.send(new InvokeCommand({ FunctionName: 'whoami' }));
    const me = JSON.parse(Buffer.from(first.Payload!).toString()) as { uid: number; api: string };
    assert.ok(me.uid > 0 && /^127\.0\.0\.1:\d+$/.test(me.api), JSON.stringify(me));
    // A process of that uid on the host (not the test's own process: it serves the API). node, not
    // python: the uid may not reach a python installed under root's home.
    const { execFile } = await import('node:child_process');
    const knock = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['-e', `
const s = require('node:net').connect(${me.api.split(':')[1]}, '127.0.0.1');
let got = '';
s.setTimeout(5000, () => { console.log('timeout'); process.exit(0); });
s.on('data', (d) => { got += d; });
s.on('error', (e) => { console.log('error ' + e.code); process.exit(0); });
s.on('close', () => { console.log(got ? 'answered ' + got.split('\\r\\n')[0] : 'closed'); process.exit(0); });
s.write('GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n');
`], { uid: me.uid, gid: me.uid, env: {}, encoding: 'utf8', timeout: 10_000 }, (err, stdout, stderr) => resolve({ status: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
    });
    assert.equal(knock.status, 0, knock.stderr);
    // Refused: the connection is closed without an answer (an admitted /next would have waited for the next event).
    assert.match(knock.stdout.trim(), /^(closed|error ECONNRESET)$/, knock.stdout);
    // The runtime's own connections (curl, in the environment) still get through: the same
    // environment (its listener's port) serves the next invocation, once its runtime has asked
    // for it (a bash runtime takes a few hundred milliseconds on a busy machine).
    await new Promise((r) => setTimeout(r, 1500));
    const again = await lambda.send(new InvokeCommand({ FunctionName: 'whoami' }));
    assert.deepEqual(JSON.parse(Buffer.from(again.Payload!).toString()), me);
  });

  test('another environment\'s Runtime API channel is out of reach: no socket file, no other environment\'s process', async (t) => {
    if (!isRoot || server!.stratus.describe().lines[0]!.startsWith('sandbox: process')) return t.skip('needs the namespace sandbox (root)');
    // 'secret' ran above, so its environment (and its runtime's channel) exists. The channel is a
    // descriptor of that runtime process only: reachable through /proc/<pid>/fd, if at all.
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'knocker', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 10,
      Code: { ZipFile: await makeZip({ 'index.js': KNOCK }) },
    }));
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'knocker', Payload: Buffer.from(JSON.stringify({ dataDir: server!.dataDir })) }));
    const out = JSON.parse(Buffer.from(r.Payload!).toString()) as { socketFiles: string[]; processes: { pid: string; uid: number }[]; myUid: number };
    assert.equal(r.FunctionError, undefined, JSON.stringify(out));
    assert.deepEqual(out.socketFiles, [], 'no Unix socket of Stratus to connect to');
    // Only its own environment: pid 1 (the namespace's root sh) and processes of its own uid.
    for (const p of out.processes) assert.ok(p.pid === '1' || p.uid === out.myUid, JSON.stringify(p));
  });
});

/**
 * A custom runtime (bash + curl, its Runtime API over TCP) that answers each event with its uid
 * and Runtime API address.
 */
const WHOAMI_BOOTSTRAP = `#!/bin/bash
while true; do
  H=$(mktemp)
  curl -sS -D "$H" -o /dev/null "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next"
  ID=$(grep -i '^lambda-runtime-aws-request-id:' "$H" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$ID/response" -d "{\\"uid\\":$(id -u),\\"api\\":\\"$AWS_LAMBDA_RUNTIME_API\\"}" >/dev/null
done
`;

/** Reports the bound Unix sockets under the data dir and the processes the function can see. */
const KNOCK = `
const fs = require('node:fs');
exports.handler = async (e) => {
  const socketFiles = fs.readFileSync('/proc/net/unix', 'utf8').split('\\n').slice(1)
    .map((l) => l.trim().split(/\\s+/)[7]).filter((p) => p && p.startsWith(e.dataDir));
  const processes = fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).map((pid) => {
    try { return { pid, uid: Number(/^Uid:\\s+(\\d+)/m.exec(fs.readFileSync('/proc/' + pid + '/status', 'utf8'))[1]) }; } catch { return null; }
  }).filter(Boolean);
  return { socketFiles, processes, myUid: process.getuid() };
};`;
