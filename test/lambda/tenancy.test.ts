import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateFunctionCommand, CreateFunctionUrlConfigCommand, GetFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, InvokeWithResponseStreamCommand, LambdaClient,
  ListFunctionsCommand, PublishVersionCommand, PutProvisionedConcurrencyConfigCommand, UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { sharedDir, waitFor } from '../async/server.js';
import { clientConfig, sharedConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const decode = (p?: Uint8Array) => (p ? Buffer.from(p).toString('utf8') : '');
const PER_TENANT = { TenantIsolationMode: 'PER_TENANT' as const };

/**
 * A handler that answers with an id of its process (random: in the namespace sandbox every
 * environment's runtime has the same pid), a per-process counter and the tenant it was told.
 */
const NODE = `const pid = require('node:crypto').randomUUID();
let n = 0;
exports.handler = async (e, ctx) => ({ pid, n: ++n, tenant: ctx.tenantId ?? null });`;
const PYTHON = `import uuid
pid = str(uuid.uuid4())
n = 0
def handler(event, context):
    global n
    n += 1
    return {"pid": pid, "n": n, "tenant": context.tenant_id}
`;

describe('Tenant isolation (TenancyConfig)', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  before(async () => {
    server = await startServer(sharedConfig()); // the Event test's function writes to a shared dir
    lambda = new LambdaClient(clientConfig(server.endpoint));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'iso', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'index.js': NODE }) }, TenancyConfig: PER_TENANT,
    }));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'shared', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'index.js': NODE }) },
    }));
  });
  after(async () => server?.stop());

  const invoke = async (FunctionName: string, TenantId?: string) => {
    const r = await lambda.send(new InvokeCommand({ FunctionName, ...(TenantId !== undefined ? { TenantId } : {}) }));
    assert.equal(r.FunctionError, undefined, decode(r.Payload));
    return JSON.parse(decode(r.Payload)) as { pid: string; n: number; tenant: string | null };
  };

  test('CreateFunction keeps TenancyConfig: Get, GetConfiguration, List and published versions return it', async () => {
    const got = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'iso' }));
    assert.deepEqual(got.TenancyConfig, PER_TENANT);
    assert.deepEqual((await lambda.send(new GetFunctionCommand({ FunctionName: 'iso' }))).Configuration?.TenancyConfig, PER_TENANT);
    const listed = (await lambda.send(new ListFunctionsCommand({}))).Functions ?? [];
    assert.deepEqual(listed.find((f) => f.FunctionName === 'iso')?.TenancyConfig, PER_TENANT);
    assert.equal(listed.find((f) => f.FunctionName === 'shared')?.TenancyConfig, undefined);
    const v = await lambda.send(new PublishVersionCommand({ FunctionName: 'iso' }));
    assert.deepEqual(v.TenancyConfig, PER_TENANT);
    assert.equal((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'shared' }))).TenancyConfig, undefined);
  });

  test('a TenantIsolationMode outside the enum, or none, is a ValidationException; nothing is created', async () => {
    const code = { ZipFile: await makeZip({ 'index.js': NODE }) };
    const base = { Runtime: 'nodejs20.x' as const, Handler: 'index.handler', Role: ROLE, Code: code };
    await assert.rejects(
      lambda.send(new CreateFunctionCommand({ ...base, FunctionName: 'bad-mode', TenancyConfig: { TenantIsolationMode: 'PER_REQUEST' as 'PER_TENANT' } })),
      (e: Error) => e.name === 'ValidationException'
        && e.message === "1 validation error detected: Value 'PER_REQUEST' at 'tenancyConfig.tenantIsolationMode' failed to satisfy constraint: Member must satisfy enum value set: [PER_TENANT]",
    );
    await assert.rejects(
      lambda.send(new CreateFunctionCommand({ ...base, FunctionName: 'bad-mode', TenancyConfig: {} as typeof PER_TENANT })),
      (e: Error) => e.name === 'ValidationException' && /'tenancyConfig.tenantIsolationMode' failed to satisfy constraint: Member must not be null/.test(e.message),
    );
    await assert.rejects(lambda.send(new GetFunctionCommand({ FunctionName: 'bad-mode' })), { name: 'ResourceNotFoundException' });
  });

  test('SnapStart is refused with tenant isolation, on create and on update', async () => {
    const base = { Runtime: 'python3.12' as const, Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'index.py': PYTHON }) } };
    await assert.rejects(
      lambda.send(new CreateFunctionCommand({ ...base, FunctionName: 'snap', TenancyConfig: PER_TENANT, SnapStart: { ApplyOn: 'PublishedVersions' } })),
      { name: 'InvalidParameterValueException' },
    );
    await assert.rejects(lambda.send(new GetFunctionCommand({ FunctionName: 'snap' })), { name: 'ResourceNotFoundException' });
    await lambda.send(new CreateFunctionCommand({ ...base, FunctionName: 'snap', TenancyConfig: PER_TENANT }));
    await assert.rejects(
      lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'snap', SnapStart: { ApplyOn: 'PublishedVersions' } })),
      { name: 'InvalidParameterValueException' },
    );
    assert.equal((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'snap' }))).SnapStart?.ApplyOn, 'None');
  });

  test('UpdateFunctionConfiguration leaves it as it was', async () => {
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'iso', Description: 'changed' }));
    const got = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'iso' }));
    assert.equal(got.Description, 'changed');
    assert.deepEqual(got.TenancyConfig, PER_TENANT);
  });

  test('a tenant id is required by a function with tenant isolation and refused by one without', async () => {
    for (const InvocationType of ['RequestResponse', 'Event', 'DryRun'] as const) {
      await assert.rejects(lambda.send(new InvokeCommand({ FunctionName: 'iso', InvocationType })), { name: 'InvalidParameterValueException' }, InvocationType);
      await assert.rejects(lambda.send(new InvokeCommand({ FunctionName: 'shared', InvocationType, TenantId: 'blue' })), { name: 'InvalidParameterValueException' }, InvocationType);
    }
    await assert.rejects(lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'iso' })), { name: 'InvalidParameterValueException' });
    assert.equal((await invoke('shared')).tenant, null);
    assert.equal((await lambda.send(new InvokeCommand({ FunctionName: 'iso', InvocationType: 'DryRun', TenantId: 'blue' }))).StatusCode, 204);
  });

  test('a tenant id outside the model\'s pattern or length is a ValidationException', async () => {
    const post = (tenant: string) => fetch(`${server.endpoint}/2015-03-31/functions/iso/invocations`, { method: 'POST', body: '{}', headers: { 'x-amz-tenant-id': tenant } });
    const long = 'a'.repeat(257);
    for (const [tenant, rule] of [
      ['blue!', 'Member must satisfy regular expression pattern: [a-zA-Z0-9\\._:\\/=+\\-@ ]+'],
      [long, 'Member must have length less than or equal to 256'],
    ]) {
      const r = await post(tenant!);
      assert.equal(r.status, 400);
      assert.equal(r.headers.get('x-amzn-errortype')?.split(':')[0], 'ValidationException');
      const body = await r.json() as { message?: string; Message?: string };
      assert.equal(body.message ?? body.Message, `1 validation error detected: Value '${tenant}' at 'tenantId' failed to satisfy constraint: ${rule}`);
    }
    const ok = await post('Tenant_1.a:b/c=d+e-f@g h');
    assert.equal(ok.status, 200);
    assert.equal((await ok.json() as { tenant: string }).tenant, 'Tenant_1.a:b/c=d+e-f@g h');
    assert.equal((await invoke('iso', 'x'.repeat(256))).tenant, 'x'.repeat(256));
  });

  test('each tenant has environments of its own, reused for that tenant only (Node.js: context.tenantId)', async () => {
    const a1 = await invoke('iso', 'tenant-a');
    const b1 = await invoke('iso', 'tenant-b');
    const a2 = await invoke('iso', 'tenant-a');
    const b2 = await invoke('iso', 'tenant-b');
    assert.equal(a1.tenant, 'tenant-a');
    assert.equal(b1.tenant, 'tenant-b');
    assert.notEqual(a1.pid, b1.pid);
    assert.equal(b1.n, 1, 'tenant-b was not given tenant-a\'s environment');
    assert.deepEqual([a2.pid, a2.n, a2.tenant], [a1.pid, a1.n + 1, 'tenant-a']);
    assert.deepEqual([b2.pid, b2.n, b2.tenant], [b1.pid, b1.n + 1, 'tenant-b']);
    // Two tenants at once: still each on its own.
    const [a3, b3] = await Promise.all([invoke('iso', 'tenant-a'), invoke('iso', 'tenant-b')]);
    assert.equal(a3.pid, a1.pid);
    assert.equal(b3.pid, b1.pid);
    // A function without tenant isolation: one environment for every invocation, as before.
    const s1 = await invoke('shared');
    const s2 = await invoke('shared');
    assert.equal(s2.pid, s1.pid);
  });

  test('InvokeWithResponseStream runs in the tenant\'s environment', async () => {
    const a = await invoke('iso', 'stream-a');
    const r = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'iso', TenantId: 'stream-a' }));
    let body = '';
    for await (const ev of r.EventStream!) if (ev.PayloadChunk?.Payload) body += decode(ev.PayloadChunk.Payload);
    const s = JSON.parse(body) as { pid: string; n: number; tenant: string };
    assert.deepEqual([s.pid, s.n, s.tenant], [a.pid, a.n + 1, 'stream-a']);
  });

  test('JSON log records carry the tenant id (Node.js console, Python logging)', async () => {
    const node = `exports.handler = async () => { console.log('hello'); console.warn({ a: 1 }); return 1; };`;
    const py = `import logging
logger = logging.getLogger()
def handler(event, context):
    logger.info("hello")
    logger.warning("again", extra={"k": "v"})
    return 1
`;
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'json-node', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'index.js': node }) },
      TenancyConfig: PER_TENANT, LoggingConfig: { LogFormat: 'JSON' },
    }));
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'json-py', Runtime: 'python3.12', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'index.py': py }) },
      TenancyConfig: PER_TENANT, LoggingConfig: { LogFormat: 'JSON' },
    }));
    const records = async (FunctionName: string) => {
      const r = await lambda.send(new InvokeCommand({ FunctionName, TenantId: 'blue', LogType: 'Tail' }));
      const lines = Buffer.from(r.LogResult!, 'base64').toString('utf8').split('\n').filter((l) => l.startsWith('{'));
      const all = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      // The platform's records too: platform.start and platform.report name the tenant.
      const platform = all.filter((o) => o.type === 'platform.start' || o.type === 'platform.report');
      assert.deepEqual(platform.map((o) => [o.type, (o.record as { tenantId?: string }).tenantId]), [['platform.start', 'blue'], ['platform.report', 'blue']]);
      return all.filter((o) => o.type === undefined);
    };
    const n = await records('json-node');
    assert.deepEqual(n.map((r) => [Object.keys(r), r.tenantId]), [
      [['timestamp', 'level', 'requestId', 'tenantId', 'message'], 'blue'],
      [['timestamp', 'level', 'requestId', 'tenantId', 'message'], 'blue'],
    ]);
    const p = await records('json-py');
    assert.deepEqual(p.map((r) => [Object.keys(r), r.tenantId]), [
      [['timestamp', 'level', 'message', 'logger', 'requestId', 'tenantId'], 'blue'],
      [['timestamp', 'level', 'message', 'logger', 'requestId', 'tenantId', 'k'], 'blue'],
    ]);
  });

  test('provisioned concurrency and function URLs are refused for a function with tenant isolation', async () => {
    const v = await lambda.send(new PublishVersionCommand({ FunctionName: 'iso' }));
    await assert.rejects(
      lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'iso', Qualifier: v.Version, ProvisionedConcurrentExecutions: 1 })),
      { name: 'InvalidParameterValueException' },
    );
    await assert.rejects(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'iso', AuthType: 'NONE' })), { name: 'InvalidParameterValueException' });
    // Neither for a function without it.
    await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'shared', AuthType: 'NONE' }));
  });

  test('an Event invocation runs in its tenant\'s environment', async () => {
    const shared = sharedDir();
    try {
      const out = shared.file('events.jsonl');
      const code = `const fs = require('node:fs');
const pid = require('node:crypto').randomUUID();
exports.handler = async (e, ctx) => { fs.appendFileSync(process.env.OUT, JSON.stringify({ pid, tenant: ctx.tenantId, tag: e.tag }) + '\\n'); return pid; };`;
      await lambda.send(new CreateFunctionCommand({
        FunctionName: 'iso-async', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'index.js': code }) },
        TenancyConfig: PER_TENANT, Environment: { Variables: { OUT: out } },
      }));
      const sync = JSON.parse(decode((await lambda.send(new InvokeCommand({ FunctionName: 'iso-async', TenantId: 'red', Payload: Buffer.from('{"tag":"sync"}') }))).Payload)) as string;
      const r = await lambda.send(new InvokeCommand({ FunctionName: 'iso-async', InvocationType: 'Event', TenantId: 'red', Payload: Buffer.from('{"tag":"async"}') }));
      assert.equal(r.StatusCode, 202);
      const line = await waitFor('the Event invocation', () => shared.lines('events.jsonl').map((l) => JSON.parse(l) as { pid: string; tenant: string; tag: string }).find((l) => l.tag === 'async'));
      assert.deepEqual(line, { pid: sync, tenant: 'red', tag: 'async' });
    } finally {
      shared.cleanup();
    }
  });

  test('Python: context.tenant_id, and environments per tenant', async () => {
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'iso-py', Runtime: 'python3.12', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'index.py': PYTHON }) }, TenancyConfig: PER_TENANT,
    }));
    const a1 = await invoke('iso-py', 'blue');
    const b1 = await invoke('iso-py', 'green');
    const a2 = await invoke('iso-py', 'blue');
    assert.equal(a1.tenant, 'blue');
    assert.equal(b1.tenant, 'green');
    assert.notEqual(a1.pid, b1.pid);
    assert.equal(b1.n, 1);
    assert.deepEqual([a2.pid, a2.n], [a1.pid, 2]);
  });
});
