import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  CreateFunctionCommand, DeleteFunctionCommand, GetFunctionCodeSigningConfigCommand, GetFunctionCommand, GetFunctionConfigurationCommand,
  GetRuntimeManagementConfigCommand, PutRuntimeManagementConfigCommand, InvokeCommand, LambdaClient,
  ListFunctionsCommand, ListVersionsByFunctionCommand, PublishVersionCommand, UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand, paginateListFunctions, waitUntilFunctionActiveV2, waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';
import { clientConfig, startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const ARN = (name: string, q?: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}${q ? `:${q}` : ''}`;
const LAMBDA_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const decode = (p?: Uint8Array) => (p ? Buffer.from(p).toString('utf8') : '');

describe('Lambda API: functions', () => {
  let server: TestServer;
  let lambda: LambdaClient;
  let zip: Buffer;
  before(async () => {
    server = await startServer();
    lambda = new LambdaClient(clientConfig(server.endpoint));
    zip = await makeZip({ 'index.js': "exports.handler = async (e) => ({ got: e, v: process.env.GREETING ?? null });" });
  });
  after(async () => server?.stop());

  test('CreateFunction returns the configuration Lambda returns', async () => {
    const out = await lambda.send(new CreateFunctionCommand({
      FunctionName: 'shape', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip },
      Description: 'a function', MemorySize: 256, Timeout: 10, Environment: { Variables: { GREETING: 'hi' } },
      EphemeralStorage: { Size: 1024 }, Architectures: ['arm64'], Tags: { team: 'a' },
    }));
    assert.equal(out.$metadata.httpStatusCode, 201);
    assert.equal(out.FunctionName, 'shape');
    assert.equal(out.FunctionArn, ARN('shape'));
    assert.equal(out.Runtime, 'nodejs20.x');
    assert.equal(out.Handler, 'index.handler');
    assert.equal(out.Role, ROLE);
    assert.equal(out.Description, 'a function');
    assert.equal(out.MemorySize, 256);
    assert.equal(out.Timeout, 10);
    assert.equal(out.Version, '$LATEST');
    assert.equal(out.CodeSha256, createHash('sha256').update(zip).digest('base64'));
    assert.equal(out.CodeSize, zip.length);
    assert.match(out.LastModified!, LAMBDA_TIME);
    assert.match(out.RevisionId!, UUID);
    // As Lambda answers a create: Pending, being created (no LastUpdateStatus yet). Stratus is
    // done by the time it answers: the next read says Active, and the waiters return at once.
    assert.deepEqual([out.State, out.StateReason, out.StateReasonCode, out.LastUpdateStatus], ['Pending', 'The function is being created.', 'Creating', undefined]);
    const read = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'shape' }));
    assert.deepEqual([read.State, read.StateReason, read.StateReasonCode, read.LastUpdateStatus], ['Active', undefined, undefined, 'Successful']);
    await waitUntilFunctionActiveV2({ client: lambda, maxWaitTime: 5 }, { FunctionName: 'shape' });
    assert.equal(out.PackageType, 'Zip');
    assert.deepEqual(out.Architectures, ['arm64']);
    assert.deepEqual(out.EphemeralStorage, { Size: 1024 });
    assert.deepEqual(out.Environment?.Variables, { GREETING: 'hi' });
    assert.deepEqual(out.TracingConfig, { Mode: 'PassThrough' });
    assert.equal(out.LoggingConfig?.LogGroup, '/aws/lambda/shape');
    assert.equal(out.LoggingConfig?.LogFormat, 'Text');
    // The runtime version its environments start, the ARN their INIT_START line names.
    assert.match(out.RuntimeVersionConfig?.RuntimeVersionArn ?? '', /^arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}$/);
  });

  test('the code signing and runtime management configs read as a function that never set them', async () => {
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'reads', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip } }));
    const csc = await lambda.send(new GetFunctionCodeSigningConfigCommand({ FunctionName: ARN('reads') }));
    assert.deepEqual([csc.CodeSigningConfigArn, csc.FunctionName], ['', 'reads']);
    const rm = await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'reads' }));
    assert.deepEqual([rm.UpdateRuntimeOn, rm.FunctionArn, rm.RuntimeVersionArn], ['Auto', ARN('reads'), undefined]);
    await assert.rejects(lambda.send(new GetFunctionCodeSigningConfigCommand({ FunctionName: 'nosuch' })), /ResourceNotFoundException|Function not found/);
    // Auto, what it is, can be set (a no-op); the modes that pin a runtime version cannot.
    const put = await lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'reads', UpdateRuntimeOn: 'Auto' }));
    assert.deepEqual([put.UpdateRuntimeOn, put.FunctionArn, put.RuntimeVersionArn], ['Auto', ARN('reads'), undefined]);
    await assert.rejects(lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'reads', UpdateRuntimeOn: 'Manual', RuntimeVersionArn: rm.FunctionArn })),
      { name: 'InvalidParameterValueException' });
    await assert.rejects(lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'reads', UpdateRuntimeOn: 'Sometimes' as any })), { name: 'ValidationException' });
    await assert.rejects(lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'nosuch', UpdateRuntimeOn: 'Auto' })), { name: 'ResourceNotFoundException' });
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'reads' }));
  });

  test('KMSKeyArn: kept and returned; an empty one removes it', async () => {
    const key = 'arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const made = await lambda.send(new CreateFunctionCommand({ FunctionName: 'kms', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip }, KMSKeyArn: key }));
    assert.equal(made.KMSKeyArn, key);
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'kms', Timeout: 5 }));
    assert.equal((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'kms' }))).KMSKeyArn, key, 'an update that does not name it keeps it');
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'kms', KMSKeyArn: '' }));
    assert.equal((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'kms' }))).KMSKeyArn, undefined);
    await assert.rejects(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'kms', KMSKeyArn: 'not-an-arn' })), /ValidationException|kMSKeyArn/);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'kms' }));
  });

  test('ListFunctions: at most 50 in a page, even when MaxItems asks for more', async () => {
    for (let i = 0; i < 51; i++) {
      await lambda.send(new CreateFunctionCommand({ FunctionName: `many-${String(i).padStart(2, '0')}`, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip } }));
    }
    const page = await lambda.send(new ListFunctionsCommand({ MaxItems: 1000 }));
    assert.equal(page.Functions?.length, 50);
    assert.ok(page.NextMarker);
    for (let i = 0; i < 51; i++) await lambda.send(new DeleteFunctionCommand({ FunctionName: `many-${String(i).padStart(2, '0')}` }));
  });

  test('defaults: 128 MB, 3 s, 512 MB /tmp, x86_64', async () => {
    const out = await lambda.send(new CreateFunctionCommand({ FunctionName: 'defaults', Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Code: { ZipFile: await makeZip({ 'app.py': 'def handler(e, c):\n  return 1\n' }) } }));
    assert.equal(out.MemorySize, 128);
    assert.equal(out.Timeout, 3);
    assert.deepEqual(out.EphemeralStorage, { Size: 512 });
    assert.deepEqual(out.Architectures, ['x86_64']);
    assert.equal(out.Environment, undefined);
    assert.deepEqual(out.SnapStart, { ApplyOn: 'None', OptimizationStatus: 'Off' });
  });

  test('LoggingConfig: a log level with the Text format is refused in Lambda\'s words, and nothing is created', async () => {
    for (const LoggingConfig of [{ LogFormat: 'Text' as const, ApplicationLogLevel: 'DEBUG' as const }, { SystemLogLevel: 'WARN' as const }]) {
      const err = await lambda.send(new CreateFunctionCommand({
        FunctionName: 'textlevel', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip }, LoggingConfig,
      })).then(() => null, (e: Error & { $metadata?: { httpStatusCode?: number } }) => e);
      assert.equal(err?.name, 'InvalidParameterValueException');
      assert.equal(err?.$metadata?.httpStatusCode, 400);
      assert.equal(err?.message, 'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the LogFormat to "JSON" and try again.');
      await assert.rejects(lambda.send(new GetFunctionCommand({ FunctionName: 'textlevel' })), { name: 'ResourceNotFoundException' });
    }
  });

  test('SnapStart: kept for the runtimes Lambda takes it for, On in published versions, refused elsewhere', async () => {
    const py = await makeZip({ 'app.py': 'def handler(e, c):\n  return 1\n' });
    const out = await lambda.send(new CreateFunctionCommand({
      FunctionName: 'snap', Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Code: { ZipFile: py }, SnapStart: { ApplyOn: 'PublishedVersions' },
    }));
    assert.deepEqual(out.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'Off' });
    const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: 'snap' }));
    assert.deepEqual(v1.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'On' });
    const got = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'snap', Qualifier: v1.Version }));
    assert.deepEqual(got.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'On' });
    const ran = await lambda.send(new InvokeCommand({ FunctionName: 'snap', Qualifier: v1.Version }));
    assert.equal(decode(ran.Payload), '1');

    const refused = async (input: Record<string, unknown>, name: string, message: string | RegExp, update = false) => {
      await assert.rejects(
        update ? lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'snap', ...input })) : lambda.send(new CreateFunctionCommand({
          FunctionName: 'snap-refused', Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Code: { ZipFile: py }, ...input,
        })),
        (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
          assert.equal(e.name, name);
          assert.equal(e.$metadata?.httpStatusCode, 400);
          assert.match(e.message, typeof message === 'string' ? new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : message);
          return true;
        },
      );
    };
    await refused({ Runtime: 'nodejs20.x', Handler: 'index.handler', SnapStart: { ApplyOn: 'PublishedVersions' } }, 'InvalidParameterValueException', 'nodejs20.x is not supported for SnapStart enabled functions.');
    await refused({ Runtime: 'provided.al2023', SnapStart: { ApplyOn: 'PublishedVersions' } }, 'InvalidParameterValueException', 'provided.al2023 is not supported for SnapStart enabled functions.');
    await refused({ SnapStart: { ApplyOn: 'Always' } }, 'ValidationException', /Value 'Always' at 'snapStart.applyOn' failed to satisfy constraint: Member must satisfy enum value set: \[PublishedVersions, None\]/);
    await refused({ SnapStart: { ApplyOn: 'PublishedVersions' }, EphemeralStorage: { Size: 1024 } }, 'InvalidParameterValueException', /ephemeral storage greater than 512 MB/);
    // On a function that has it: a runtime without it is refused, and nothing changes.
    await refused({ Runtime: 'nodejs22.x', Handler: 'index.handler' }, 'InvalidParameterValueException', 'nodejs22.x is not supported for SnapStart enabled functions.', true);
    const still = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'snap' }));
    assert.equal(still.Runtime, 'python3.12');
    await assert.rejects(lambda.send(new GetFunctionCommand({ FunctionName: 'snap-refused' })), { name: 'ResourceNotFoundException' });
    const off = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'snap', SnapStart: { ApplyOn: 'None' } }));
    assert.deepEqual(off.SnapStart, { ApplyOn: 'None', OptimizationStatus: 'Off' });
  });

  test('GetFunction: Configuration, Code.Location serving the zip, Tags; by name, partial ARN and ARN', async () => {
    for (const FunctionName of ['shape', '000000000000:function:shape', ARN('shape')]) {
      const got = await lambda.send(new GetFunctionCommand({ FunctionName }));
      assert.equal(got.Configuration?.FunctionName, 'shape');
      assert.equal(got.Configuration?.FunctionArn, ARN('shape'));
      assert.deepEqual(got.Tags, { team: 'a' });
      assert.equal(got.Code?.RepositoryType, 'S3');
      const res = await fetch(got.Code!.Location!);
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), zip);
    }
    const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'shape' }));
    const forged = got.Code!.Location!.replace(/X-Stratus-Signature=[0-9a-f]/, 'X-Stratus-Signature=z');
    assert.equal((await fetch(forged)).status, 403);
    const cfg = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'shape' }));
    assert.equal(cfg.RevisionId, got.Configuration?.RevisionId);
    const q = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'shape', Qualifier: '$LATEST' }));
    assert.equal(q.FunctionArn, ARN('shape', '$LATEST'));
  });

  test('Code.Location names the server as the client reached it (its Host header), not its listen address', async () => {
    // A server behind a port mapping or a tunnel, or listening on 0.0.0.0, is reached at another
    // address than its own: the URL must be one the caller can fetch, as a presigned S3 URL is.
    const port = new URL(server!.endpoint).port;
    const get = (host: string) => new Promise<any>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/2015-03-31/functions/shape', headers: { host } }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve(JSON.parse(body)));
      }).on('error', reject);
    });
    const viaName = await get(`localhost:${port}`);
    assert.match(viaName.Code.Location, new RegExp(`^http://localhost:${port}/_stratus/code/shape/`));
    assert.deepEqual(Buffer.from(await (await fetch(viaName.Code.Location)).arrayBuffer()), zip);
    assert.match((await get('stratus.example:19070')).Code.Location, /^http:\/\/stratus\.example:19070\/_stratus\/code\/shape\//);
    // Not a host name: the listen address.
    assert.ok((await get('a b/c')).Code.Location.startsWith(`${server!.endpoint}/_stratus/code/shape/`));
  });

  test('UpdateFunctionConfiguration changes RevisionId and LastModified, keeps code; new settings reach the function', async () => {
    const before = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'shape' }));
    await new Promise((r) => setTimeout(r, 5));
    const out = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'shape', Environment: { Variables: { GREETING: 'hello' } }, Timeout: 20 }));
    assert.notEqual(out.RevisionId, before.RevisionId);
    assert.equal(out.Timeout, 20);
    assert.equal(out.MemorySize, 256, 'fields not given are kept');
    assert.equal(out.CodeSha256, before.CodeSha256);
    // As Lambda answers an update: in progress; the next read says Successful.
    assert.deepEqual([out.State, out.LastUpdateStatus, out.LastUpdateStatusReason, out.LastUpdateStatusReasonCode], ['Active', 'InProgress', 'The function is being created.', undefined]);
    await waitUntilFunctionUpdatedV2({ client: lambda, maxWaitTime: 5 }, { FunctionName: 'shape' });
    assert.equal((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'shape' }))).LastUpdateStatus, 'Successful');
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'shape', Payload: Buffer.from('{"a":1}') }));
    assert.deepEqual(JSON.parse(decode(r.Payload)), { got: { a: 1 }, v: 'hello' });
    const cleared = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'shape', Environment: { Variables: {} } }));
    assert.equal(cleared.Environment, undefined);
  });

  test('UpdateFunctionCode: new CodeSha256, RevisionId precondition, Publish, DryRun', async () => {
    const current = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'shape' }));
    const zip2 = await makeZip({ 'index.js': "exports.handler = async () => 'two';" });
    await assert.rejects(
      lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'shape', ZipFile: zip2, RevisionId: '00000000-0000-0000-0000-000000000000' })),
      (e: any) => e.name === 'PreconditionFailedException' && e.$metadata.httpStatusCode === 412,
    );
    const dry = await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'shape', ZipFile: zip2, DryRun: true }));
    assert.equal(dry.CodeSha256, createHash('sha256').update(zip2).digest('base64'));
    assert.equal((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'shape' }))).CodeSha256, current.CodeSha256, 'DryRun changes nothing');
    assert.equal(dry.LastUpdateStatus, 'Successful', 'nothing in progress after a dry run');
    const plain = await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'shape', ZipFile: zip }));
    assert.deepEqual([plain.State, plain.LastUpdateStatus, plain.LastUpdateStatusReason], ['Active', 'InProgress', 'The function is being created.']);
    current.RevisionId = plain.RevisionId;
    const out = await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'shape', ZipFile: zip2, RevisionId: current.RevisionId, Publish: true }));
    assert.equal(out.Version, '1');
    assert.equal(out.FunctionArn, ARN('shape', '1'));
    assert.equal(out.CodeSha256, dry.CodeSha256);
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'shape', Qualifier: '1' }));
    assert.equal(JSON.parse(decode(r.Payload)), 'two');
    assert.equal(r.ExecutedVersion, '1');
  });

  test('CreateFunction with Publish returns version 1', async () => {
    const out = await lambda.send(new CreateFunctionCommand({ FunctionName: 'pub', Runtime: 'nodejs22.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip }, Publish: true }));
    assert.equal(out.Version, '1');
    const versions = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'pub' }));
    assert.deepEqual(versions.Versions?.map((v) => v.Version), ['$LATEST', '1']);
    assert.equal(versions.Versions?.[0]?.FunctionArn, ARN('pub', '$LATEST'));
  });

  test('ListFunctions pages with Marker/MaxItems; FunctionVersion=ALL lists every version', async () => {
    for (let i = 0; i < 7; i++) {
      await lambda.send(new CreateFunctionCommand({ FunctionName: `list-${i}`, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip } }));
    }
    const names: string[] = [];
    let pages = 0;
    for await (const page of paginateListFunctions({ client: lambda, pageSize: 3 }, {})) {
      pages++;
      assert.ok((page.Functions?.length ?? 0) <= 3);
      names.push(...(page.Functions ?? []).map((f) => f.FunctionName!));
    }
    assert.ok(pages >= 4);
    assert.deepEqual(names, [...names].sort(), 'ordered by name');
    assert.equal(new Set(names).size, names.length, 'no duplicates across pages');
    for (let i = 0; i < 7; i++) assert.ok(names.includes(`list-${i}`));
    const one = await lambda.send(new ListFunctionsCommand({ MaxItems: 1 }));
    assert.equal(one.Functions?.length, 1);
    assert.ok(one.NextMarker);
    assert.equal(one.Functions?.[0]?.Version, '$LATEST');
    assert.equal(one.Functions?.[0]?.FunctionArn, ARN(one.Functions![0]!.FunctionName!));
    // Lambda lists a subset of each configuration: states and the runtime version are GetFunction's.
    const notListed = ['State', 'StateReason', 'StateReasonCode', 'LastUpdateStatus', 'LastUpdateStatusReason', 'LastUpdateStatusReasonCode', 'RuntimeVersionConfig'];
    assert.deepEqual(Object.keys(one.Functions![0]!).filter((k) => notListed.includes(k)), []);
    assert.equal((await lambda.send(new GetFunctionCommand({ FunctionName: one.Functions![0]!.FunctionName! }))).Configuration?.State, 'Active');

    const all: string[] = [];
    let marker: string | undefined;
    do {
      const page = await lambda.send(new ListFunctionsCommand({ FunctionVersion: 'ALL', MaxItems: 2, Marker: marker }));
      all.push(...page.Functions!.map((f) => `${f.FunctionName}:${f.Version}`));
      for (const f of page.Functions!) assert.deepEqual(Object.keys(f).filter((k) => notListed.includes(k)), []);
      marker = page.NextMarker;
    } while (marker);
    assert.ok(all.includes('pub:$LATEST') && all.includes('pub:1') && all.includes('shape:1'));
    assert.equal(new Set(all).size, all.length);
  });

  test('ListFunctions with MasterRegion lists Lambda@Edge replicas only (none here), with FunctionVersion=ALL', async () => {
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'edge-none', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip } }));
    for (const MasterRegion of ['ALL', 'us-east-1', 'us-gov-west-1']) {
      const page = await lambda.send(new ListFunctionsCommand({ MasterRegion, FunctionVersion: 'ALL' }));
      assert.deepEqual(page.Functions, []);
      assert.equal(page.NextMarker, undefined);
    }
    await assert.rejects(lambda.send(new ListFunctionsCommand({ MasterRegion: 'us-east-1' })), (e: any) =>
      e.name === 'InvalidParameterValueException' && e.message === 'If MasterRegion is specified, you must set FunctionVersion to ALL.');
    await assert.rejects(lambda.send(new ListFunctionsCommand({ MasterRegion: 'mars', FunctionVersion: 'ALL' })), (e: any) =>
      e.name === 'ValidationException'
      && e.message === "1 validation error detected: Value 'mars' at 'masterRegion' failed to satisfy constraint: Member must satisfy regular expression pattern: ALL|[a-z]{2}(-gov)?-[a-z]+-\\d{1}");
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'edge-none' }));
  });

  test('DeleteFunction of one version, then of the whole function', async () => {
    await lambda.send(new PublishVersionCommand({ FunctionName: 'pub' })); // no change: returns version 1 again
    const del = await lambda.send(new DeleteFunctionCommand({ FunctionName: 'pub', Qualifier: '1' }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    const versions = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'pub' }));
    assert.deepEqual(versions.Versions?.map((v) => v.Version), ['$LATEST']);
    await assert.rejects(lambda.send(new InvokeCommand({ FunctionName: 'pub', Qualifier: '1' })), { name: 'ResourceNotFoundException' });
    // Version numbers are never reused.
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'pub', Description: 'changed' }));
    assert.equal((await lambda.send(new PublishVersionCommand({ FunctionName: 'pub' }))).Version, '2');
    await lambda.send(new DeleteFunctionCommand({ FunctionName: ARN('pub') }));
    await assert.rejects(lambda.send(new GetFunctionCommand({ FunctionName: 'pub' })), (e: any) =>
      e.name === 'ResourceNotFoundException' && e.$metadata.httpStatusCode === 404 && e.message === `Function not found: ${ARN('pub')}`);
    await assert.rejects(lambda.send(new InvokeCommand({ FunctionName: 'pub' })), { name: 'ResourceNotFoundException' });
    await assert.rejects(lambda.send(new DeleteFunctionCommand({ FunctionName: 'pub' })), { name: 'ResourceNotFoundException' });
  });
});
