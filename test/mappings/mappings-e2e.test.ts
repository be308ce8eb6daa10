import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateEventSourceMappingCommand, CreateFunctionCommand, DeleteEventSourceMappingCommand, DeleteFunctionCommand,
  GetEventSourceMappingCommand, LambdaClient, ListEventSourceMappingsCommand, ListTagsCommand, TagResourceCommand, UntagResourceCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import {
  CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient,
} from '@aws-sdk/client-sqs';
import type { StratusModule } from '../../src/app/module.js';
import { sharedBase, sharedConfig } from '../helpers/server.js';
import { sdkConfig } from '../sqs/harness.js';

const ROLE = 'arn:aws:iam::000000000000:role/test';
const QARN = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;

/** Appends each event to OUT; reports bodies starting with "fail" as batch item failures; throws on "crash". */
const HANDLER = `
const fs = require('node:fs');
exports.handler = async (event) => {
  fs.appendFileSync(process.env.OUT, JSON.stringify(event) + '\\n');
  if (event.Records.some((r) => r.body === 'crash')) throw new Error('crash');
  return { batchItemFailures: event.Records.filter((r) => r.body.startsWith('fail')).map((r) => ({ itemIdentifier: r.messageId })) };
};
`;

/** Writes a start and an end line per invocation (to measure how many ran at once); sleeps 300 ms. */
const TIMED = `
const fs = require('node:fs');
exports.handler = async (event, context) => {
  fs.appendFileSync(process.env.OUT, JSON.stringify({ start: Date.now(), id: context.awsRequestId, n: event.Records.length }) + '\\n');
  await new Promise((r) => setTimeout(r, 300));
  fs.appendFileSync(process.env.OUT, JSON.stringify({ end: Date.now(), id: context.awsRequestId }) + '\\n');
};
`;

/** Fails the first batch holding "A2" (the whole batch returns to the queue), records what it processed otherwise. */
const ORDERLY = `
const fs = require('node:fs');
exports.handler = async (event) => {
  const bodies = event.Records.map((r) => r.body);
  const marker = process.env.OUT + '.failed';
  if (bodies.includes('A2') && !fs.existsSync(marker)) {
    fs.writeFileSync(marker, '1');
    throw new Error('A2 fails once');
  }
  fs.appendFileSync(process.env.OUT, JSON.stringify(event) + '\\n');
};
`;

async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('event source mappings through the whole server', () => {
  let stop: (() => Promise<void>) | undefined;
  let skip: string | undefined;
  let lambda: LambdaClient;
  let sqs: SQSClient;
  let endpoint = '';
  const base = sharedBase();
  const shared = fs.mkdtempSync(path.join(base, 'stratus-esm-'));
  fs.chmodSync(shared, 0o777);
  const out = (fn: string) => {
    const f = path.join(shared, `${fn}.jsonl`);
    if (!fs.existsSync(f)) {
      fs.writeFileSync(f, '');
      fs.chmodSync(f, 0o666);
    }
    return f;
  };
  const events = (fn: string): any[] => fs.readFileSync(out(fn), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const bodies = (fn: string) => events(fn).flatMap((e) => e.Records.map((r: any) => r.body));

  before(async () => {
    let app: typeof import('../../src/app/index.js');
    let mods: typeof import('../../src/app/modules.js');
    try {
      app = await import('../../src/app/index.js');
      mods = await import('../../src/app/modules.js');
    } catch (e) {
      skip = `the composition root is not built yet: ${(e as Error).message.split('\n')[0]}`;
      return;
    }
    const { sqsModule } = await import('../../src/triggers/sqs/index.js');
    const { eventSourceMappingsModule } = await import('../../src/triggers/mappings/index.js');
    const list: StratusModule[] = mods.featureModules();
    if (!list.some((m) => m.name === 'sqs')) list.push(sqsModule());
    if (!list.some((m) => m.name === 'event-source-mappings')) list.push(eventSourceMappingsModule());
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-test-'));
    const stratus = await app.createStratus({ port: 0, host: '127.0.0.1', prewarmPerRuntime: 0, idleTimeoutMs: 60_000, dataDir, ...sharedConfig() }, list);
    const { url } = await stratus.start();
    endpoint = url;
    stop = async () => {
      await stratus.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    };
    lambda = new LambdaClient(sdkConfig(url));
    sqs = new SQSClient(sdkConfig(url));
    const { makeZip } = await import('../helpers/zip.js');
    const code: Record<string, string> = { consumer: HANDLER, other: HANDLER, doomed: HANDLER, batcher: HANDLER, poisoned: HANDLER, limited: TIMED, orderly: ORDERLY };
    // Lambda wants the queue's visibility timeout (1-2 s here, to see redeliveries soon) to be at least the function's timeout.
    const timeouts: Record<string, number> = { orderly: 1, poisoned: 1, limited: 10 };
    for (const [fn, handler] of Object.entries(code)) {
      await lambda.send(new CreateFunctionCommand({
        FunctionName: fn, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: timeouts[fn] ?? 2,
        Code: { ZipFile: await makeZip({ 'index.js': handler }) }, Environment: { Variables: { OUT: out(fn) } },
      }));
    }
  });
  after(async () => {
    lambda?.destroy();
    sqs?.destroy();
    await stop?.();
    fs.rmSync(shared, { recursive: true, force: true });
  });

  const queue = async (name: string, attrs: Record<string, string> = {}) =>
    (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '2', ...attrs } }))).QueueUrl!;

  test('API: create, get, list, update, delete, and Lambda errors', async (t) => {
    if (skip) return t.skip(skip);
    await queue('api-q');
    const created = await lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'other', EventSourceArn: QARN('api-q'), Enabled: false }));
    assert.equal(created.State, 'Creating');
    assert.equal(created.BatchSize, 10);
    assert.equal(created.MaximumBatchingWindowInSeconds, 0);
    assert.equal(created.FunctionArn, 'arn:aws:lambda:us-east-1:000000000000:function:other');
    assert.equal(created.EventSourceArn, QARN('api-q'));
    assert.ok(created.LastModified instanceof Date);
    const uuid = created.UUID!;
    const got = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
    assert.equal(got.State, 'Disabled');
    assert.equal(got.StateTransitionReason, 'USER_INITIATED');
    const listed = await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: 'other' }));
    assert.deepEqual(listed.EventSourceMappings!.map((m) => m.UUID), [uuid]);
    const bySource = await lambda.send(new ListEventSourceMappingsCommand({ EventSourceArn: QARN('api-q') }));
    assert.equal(bySource.EventSourceMappings!.length, 1);
    const upd = await lambda.send(new UpdateEventSourceMappingCommand({
      UUID: uuid, BatchSize: 100, MaximumBatchingWindowInSeconds: 1, ScalingConfig: { MaximumConcurrency: 2 },
      FilterCriteria: { Filters: [{ Pattern: '{"body":{"k":["v"]}}' }] }, FunctionResponseTypes: ['ReportBatchItemFailures'],
    }));
    assert.equal(upd.State, 'Updating');
    assert.equal(upd.BatchSize, 100);
    assert.deepEqual(upd.ScalingConfig, { MaximumConcurrency: 2 });
    assert.deepEqual(upd.FilterCriteria, { Filters: [{ Pattern: '{"body":{"k":["v"]}}' }] });
    assert.deepEqual(upd.FunctionResponseTypes, ['ReportBatchItemFailures']);
    const bad = async (input: any, name: string) =>
      assert.rejects(lambda.send(new CreateEventSourceMappingCommand(input)), (e: any) => e.name === name || assert.fail(`${e.name}: ${e.message}`));
    // Lambda's answers, as recorded against AWS in LocalStack's aws-validated snapshots
    // (test_event_source_mapping_exceptions, test_create_starting_position_validation_exceptions[sqs]):
    // the source is recognized first, then the function is looked up (before the queue is), and
    // StartingPosition is the model's enum before it is refused for a queue.
    const refused = (name: string, message: string) => (e: any) =>
      (e.name === name && e.$metadata.httpStatusCode === 400 && e.message === message) || assert.fail(`${e.name}: ${e.message}`);
    const create = (input: any) => lambda.send(new CreateEventSourceMappingCommand(input));
    await assert.rejects(create({ FunctionName: 'nope' }), refused('InvalidParameterValueException', 'Unrecognized event source.'));
    // The model's one required member, checked first (the CLI and boto3 check it before sending; raw callers do not).
    const raw = await fetch(`${endpoint}/2015-03-31/event-source-mappings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ EventSourceArn: QARN('api-q') }) });
    assert.equal(raw.status, 400);
    assert.equal(raw.headers.get('x-amzn-errortype'), 'ValidationException');
    assert.equal((await raw.json()).message, "1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member must not be null");
    await assert.rejects(create({ FunctionName: 'nope', EventSourceArn: QARN('api-q') }), refused('InvalidParameterValueException', 'Function does not exist'));
    await assert.rejects(create({ FunctionName: 'nope', EventSourceArn: QARN('missing') }), refused('InvalidParameterValueException', 'Function does not exist'));
    await assert.rejects(create({ FunctionName: 'consumer', EventSourceArn: QARN('api-q'), StartingPosition: '0' }), refused('ValidationException',
      "1 validation error detected: Value '0' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"));
    for (const input of [{ StartingPosition: 'LATEST' }, { StartingPosition: 'TRIM_HORIZON' }, { StartingPosition: 'AT_TIMESTAMP', StartingPositionTimestamp: new Date() }]) {
      await assert.rejects(create({ FunctionName: 'consumer', EventSourceArn: QARN('api-q'), ...input }),
        refused('InvalidParameterValueException', 'StartingPosition is not valid for SQS event sources.'));
    }
    await bad({ FunctionName: 'other', EventSourceArn: QARN('missing') }, 'InvalidParameterValueException');
    await bad({ FunctionName: 'other', EventSourceArn: QARN('api-q') }, 'ResourceConflictException');
    await bad({ FunctionName: 'consumer', EventSourceArn: QARN('api-q'), BatchSize: 11 }, 'InvalidParameterValueException');
    await bad({ FunctionName: 'consumer', EventSourceArn: QARN('api-q'), FilterCriteria: { Filters: [{ Pattern: '{bad' }] } }, 'InvalidParameterValueException');
    // Model constraints (BatchSize 1-10000, window 0-300, the response type enum, MaximumConcurrency 2-1000) are ValidationException.
    const invalid = (message: string) => (e: any) =>
      (e.name === 'ValidationException' && e.$metadata.httpStatusCode === 400 && e.message === message) || assert.fail(`${e.name}: ${e.message}`);
    const constraint = async (input: any, message: string) => {
      await assert.rejects(lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'consumer', EventSourceArn: QARN('api-q'), ...input })), invalid(message));
      await assert.rejects(lambda.send(new UpdateEventSourceMappingCommand({ UUID: uuid, ...input })), invalid(message));
    };
    await constraint({ ScalingConfig: { MaximumConcurrency: 1 } },
      "1 validation error detected: Value '1' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 2");
    await constraint({ BatchSize: 10001 },
      "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000");
    await constraint({ MaximumBatchingWindowInSeconds: 301 },
      "1 validation error detected: Value '301' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 300");
    await constraint({ FunctionResponseTypes: ['Nope'] },
      `1 validation error detected: Value '["Nope"]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy enum value set: [ReportBatchItemFailures]`);
    await constraint({ BatchSize: 0, MaximumBatchingWindowInSeconds: -1 },
      "2 validation errors detected: Value '0' at 'batchSize' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '-1' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 0");
    // Semantic checks stay InvalidParameterValueException.
    await bad({ FunctionName: 'consumer', EventSourceArn: QARN('api-q'), BatchSize: 100 }, 'InvalidParameterValueException');
    await assert.rejects(lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'limited', EventSourceArn: QARN('api-q') })), (e: any) =>
      e.name === 'InvalidParameterValueException' && e.message === 'Invalid request provided: Queue visibility timeout: 2 seconds is less than Function timeout: 10 seconds');
    await assert.rejects(lambda.send(new UpdateEventSourceMappingCommand({ UUID: uuid, FunctionName: 'limited' })), { name: 'InvalidParameterValueException' });
    const del = await lambda.send(new DeleteEventSourceMappingCommand({ UUID: uuid }));
    assert.equal(del.State, 'Deleting');
    await assert.rejects(lambda.send(new GetEventSourceMappingCommand({ UUID: uuid })), (e: any) => e.name === 'ResourceNotFoundException');
  });

  test("a queue's MetricsConfig, ProvisionedPollerConfig and KMSKeyArn are kept and returned; Kafka-only options are refused", async (t) => {
    if (skip) return t.skip(skip);
    await queue('opts-q');
    const KEY = 'arn:aws:kms:us-east-1:000000000000:key/0a1b2c3d-0000-0000-0000-000000000000';
    const created = await lambda.send(new CreateEventSourceMappingCommand({
      FunctionName: 'other', EventSourceArn: QARN('opts-q'), Enabled: false, MetricsConfig: { Metrics: ['EventCount'] },
      ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 10 }, KMSKeyArn: KEY,
    }));
    const uuid = created.UUID!;
    try {
      const shown = (m: any) => ({ MetricsConfig: m.MetricsConfig, ProvisionedPollerConfig: m.ProvisionedPollerConfig, KMSKeyArn: m.KMSKeyArn });
      const all = { MetricsConfig: { Metrics: ['EventCount'] }, ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 10 }, KMSKeyArn: KEY };
      assert.deepEqual(shown(created), all);
      assert.deepEqual(shown(await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }))), all);
      const listed = await lambda.send(new ListEventSourceMappingsCommand({ EventSourceArn: QARN('opts-q') }));
      assert.deepEqual(listed.EventSourceMappings!.map(shown), [all]);
      // An update leaves what it does not name; an empty Metrics list, an empty poller config and '' remove them.
      const batch = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: uuid, BatchSize: 5, ProvisionedPollerConfig: { MinimumPollers: 3, MaximumPollers: 3 } }));
      assert.deepEqual(shown(batch), { ...all, ProvisionedPollerConfig: { MinimumPollers: 3, MaximumPollers: 3 } });
      const cleared = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: uuid, MetricsConfig: { Metrics: [] }, ProvisionedPollerConfig: {}, KMSKeyArn: '' }));
      assert.deepEqual(shown(cleared), { MetricsConfig: undefined, ProvisionedPollerConfig: undefined, KMSKeyArn: undefined });
      assert.deepEqual(shown(await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }))), shown(cleared));

      const invalid = (message: string) => (e: any) =>
        (e.name === 'ValidationException' && e.$metadata.httpStatusCode === 400 && e.message === message) || assert.fail(`${e.name}: ${e.message}`);
      const refused = (message: string) => (e: any) =>
        (e.name === 'InvalidParameterValueException' && e.$metadata.httpStatusCode === 400 && e.message === message) || assert.fail(`${e.name}: ${e.message}`);
      const both = async (input: any, check: (e: any) => boolean) => {
        await assert.rejects(lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'consumer', EventSourceArn: QARN('opts-q'), ...input })), check);
        await assert.rejects(lambda.send(new UpdateEventSourceMappingCommand({ UUID: uuid, ...input })), check);
      };
      // The model's constraints (botocore lambda 2015-03-31).
      await both({ MetricsConfig: { Metrics: ['Nope'] } }, invalid(
        `1 validation error detected: Value '["Nope"]' at 'metricsConfig.metrics' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [EventCount, ErrorCount, KafkaMetrics]]`));
      await both({ ProvisionedPollerConfig: { MinimumPollers: 0, MaximumPollers: 2001 } }, invalid(
        "2 validation errors detected: Value '0' at 'provisionedPollerConfig.minimumPollers' failed to satisfy constraint: Member must have value greater than or equal to 1; " +
        "Value '2001' at 'provisionedPollerConfig.maximumPollers' failed to satisfy constraint: Member must have value less than or equal to 2000"));
      await both({ KMSKeyArn: 'key' }, invalid(
        "1 validation error detected: Value 'key' at 'kMSKeyArn' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()"));
      // What a queue's mapping takes: EventCount only, at least 2 pollers, no more at least than at most, no poller group.
      await both({ MetricsConfig: { Metrics: ['EventCount', 'KafkaMetrics'] } }, refused('Unsupported metrics KafkaMetrics for given event source.'));
      await both({ ProvisionedPollerConfig: { MinimumPollers: 1 } }, refused('MinimumPollers must be at least 2 for SQS event sources.'));
      await both({ ProvisionedPollerConfig: { MaximumPollers: 1 } }, refused('MaximumPollers must be at least 2 for SQS event sources.'));
      await both({ ProvisionedPollerConfig: { MinimumPollers: 5, MaximumPollers: 4 } }, refused('MinimumPollers must be less than or equal to MaximumPollers.'));
      await both({ ProvisionedPollerConfig: { MinimumPollers: 2, PollerGroupName: 'g' } }, refused('Unsupported PollerGroupName parameter for given event source.'));
      // Kafka's and brokers' options, as the other stream-only ones.
      await both({ LoggingConfig: { SystemLogLevel: 'INFO' } }, refused('Unsupported LoggingConfig parameter for given event source.'));
      await both({ SourceAccessConfigurations: [{ Type: 'BASIC_AUTH', URI: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:s' }] },
        refused('Unsupported SourceAccessConfigurations parameter for given event source.'));
    } finally {
      await lambda.send(new DeleteEventSourceMappingCommand({ UUID: uuid }));
    }
  });

  test('UpdateEventSourceMapping cannot move a mapping to a function that already has one for the queue', async (t) => {
    if (skip) return t.skip(skip);
    await queue('pair-q');
    const first = await lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'other', EventSourceArn: QARN('pair-q'), Enabled: false }));
    const second = await lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'consumer', EventSourceArn: QARN('pair-q'), Enabled: false }));
    try {
      const message = `An event source mapping with SQS arn (" ${QARN('pair-q')} ") and function (" other ") already exists. Please update or delete the existing mapping with UUID ${first.UUID}`;
      const conflict = (e: any) => (e.name === 'ResourceConflictException' && e.$metadata.httpStatusCode === 409 && e.message === message) || assert.fail(`${e.name}: ${e.message}`);
      // What CreateEventSourceMapping answers for the pair, and UpdateEventSourceMapping the same.
      await assert.rejects(lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'other', EventSourceArn: QARN('pair-q') })), conflict);
      await assert.rejects(lambda.send(new UpdateEventSourceMappingCommand({ UUID: second.UUID, FunctionName: 'other' })), conflict);
      await assert.rejects(lambda.send(new UpdateEventSourceMappingCommand({ UUID: second.UUID, FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:other' })), conflict);
      const got = await lambda.send(new GetEventSourceMappingCommand({ UUID: second.UUID }));
      assert.equal(got.FunctionArn, 'arn:aws:lambda:us-east-1:000000000000:function:consumer', 'the refused update changed nothing');
      // A mapping naming its own function again is no conflict.
      const same = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: first.UUID, FunctionName: 'other', BatchSize: 5 }));
      assert.equal(same.BatchSize, 5);
    } finally {
      await lambda.send(new DeleteEventSourceMappingCommand({ UUID: first.UUID }));
      await lambda.send(new DeleteEventSourceMappingCommand({ UUID: second.UUID }));
    }
  });

  test('tags of a mapping: given at its creation, listed, added and removed by its EventSourceMappingArn (what Terraform reads)', async (t) => {
    if (skip) return t.skip(skip);
    await queue('tags-q');
    const created = await lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'other', EventSourceArn: QARN('tags-q'), Enabled: false, Tags: { team: 'a' } }));
    const arn = created.EventSourceMappingArn!;
    assert.equal(arn, `arn:aws:lambda:us-east-1:000000000000:event-source-mapping:${created.UUID}`);
    assert.deepEqual((await lambda.send(new ListTagsCommand({ Resource: arn }))).Tags, { team: 'a' });
    await lambda.send(new TagResourceCommand({ Resource: arn, Tags: { env: 'dev', tier: 'x' } }));
    await lambda.send(new UntagResourceCommand({ Resource: arn, TagKeys: ['team', 'tier'] }));
    assert.deepEqual((await lambda.send(new ListTagsCommand({ Resource: arn }))).Tags, { env: 'dev' });
    // An update of the mapping keeps them; its tags are checked as a function's are.
    await lambda.send(new UpdateEventSourceMappingCommand({ UUID: created.UUID, BatchSize: 5 }));
    assert.deepEqual((await lambda.send(new ListTagsCommand({ Resource: arn }))).Tags, { env: 'dev' });
    await assert.rejects(lambda.send(new TagResourceCommand({ Resource: arn, Tags: { 'aws:x': 'y' } })), { name: 'InvalidParameterValueException' });
    await assert.rejects(lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'consumer', EventSourceArn: QARN('tags-q'), Tags: { 'aws:x': 'y' } })),
      { name: 'InvalidParameterValueException' });
    await lambda.send(new DeleteEventSourceMappingCommand({ UUID: created.UUID }));
    const gone = (e: any) => (e.name === 'ResourceNotFoundException' && e.$metadata.httpStatusCode === 404) || assert.fail(`${e.name}: ${e.message}`);
    await assert.rejects(lambda.send(new ListTagsCommand({ Resource: arn })), gone);
    await assert.rejects(lambda.send(new TagResourceCommand({ Resource: arn, Tags: { a: 'b' } })), gone);
    // Code signing configs do not exist in Stratus.
    await assert.rejects(lambda.send(new ListTagsCommand({ Resource: 'arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdefg' })), gone);
  });

  test('ListEventSourceMappings returns at most 100 mappings a page, whatever MaxItems asks', async (t) => {
    if (skip) return t.skip(skip);
    const made: string[] = [];
    for (let i = 0; i < 101; i++) {
      await queue(`many-q-${i}`);
      made.push((await lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'other', EventSourceArn: QARN(`many-q-${i}`), Enabled: false }))).UUID!);
    }
    try {
      const pages: string[][] = [];
      let Marker: string | undefined;
      do {
        const page = await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: 'other', MaxItems: 1000, Marker }));
        pages.push(page.EventSourceMappings!.map((m) => m.UUID!));
        Marker = page.NextMarker;
      } while (Marker);
      assert.equal(pages[0]!.length, 100);
      assert.ok(pages.length >= 2 && pages.every((p) => p.length <= 100));
      // Outside the model's 1..10000: ValidationException, as for the other list operations.
      await assert.rejects(lambda.send(new ListEventSourceMappingsCommand({ MaxItems: 0 })), (e: any) =>
        e.name === 'ValidationException' && /Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1/.test(e.message));
      const seen = new Set(pages.flat());
      for (const u of made) assert.ok(seen.has(u), u);
    } finally {
      for (const UUID of made) await lambda.send(new DeleteEventSourceMappingCommand({ UUID }));
    }
  });

  test('delivery with the exact Records shape, partial batch response, filters', async (t) => {
    if (skip) return t.skip(skip);
    const url = await queue('work-q');
    const m = await lambda.send(new CreateEventSourceMappingCommand({
      FunctionName: 'consumer', EventSourceArn: QARN('work-q'), BatchSize: 5, FunctionResponseTypes: ['ReportBatchItemFailures'],
      FilterCriteria: { Filters: [{ Pattern: '{"body":[{"anything-but":"skip me"}]}' }] },
    }));
    await waitFor('mapping enabled', async () => (await lambda.send(new GetEventSourceMappingCommand({ UUID: m.UUID! }))).State === 'Enabled');
    await sqs.send(new SendMessageBatchCommand({
      QueueUrl: url,
      Entries: [
        { Id: 'a', MessageBody: 'hello', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } },
        { Id: 'b', MessageBody: 'fail-once' },
        { Id: 'c', MessageBody: 'skip me' },
      ],
    }));
    // "fail-once" is reported as failed every time: it returns after the visibility timeout (2 s).
    await waitFor('fail-once redelivered', () => bodies('consumer').filter((b) => b === 'fail-once').length >= 2);
    assert.equal(bodies('consumer').filter((b) => b === 'hello').length, 1, 'a success is deleted, not redelivered');
    assert.ok(!bodies('consumer').includes('skip me'), 'filtered out');
    const rec = events('consumer').flatMap((e) => e.Records).find((r: any) => r.body === 'hello');
    assert.deepEqual(Object.keys(rec), ['messageId', 'receiptHandle', 'body', 'attributes', 'messageAttributes', 'md5OfBody', 'md5OfMessageAttributes', 'eventSource', 'eventSourceARN', 'awsRegion']);
    const plain = events('consumer').flatMap((e) => e.Records).find((r: any) => r.body === 'fail-once');
    assert.ok(!('md5OfMessageAttributes' in plain), 'no attributes, no digest');
    assert.deepEqual(rec.messageAttributes, { k: { stringValue: 'v', stringListValues: [], binaryListValues: [], dataType: 'String' } });
    assert.equal(rec.eventSourceARN, QARN('work-q'));
    await lambda.send(new DeleteEventSourceMappingCommand({ UUID: m.UUID! }));
  });

  test('disabling stops delivery; enabling resumes it', async (t) => {
    if (skip) return t.skip(skip);
    const url = await queue('toggle-q');
    const m = await lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'other', EventSourceArn: QARN('toggle-q') }));
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'one' }));
    await waitFor('one delivered', () => bodies('other').includes('one'));
    const off = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: m.UUID!, Enabled: false }));
    assert.equal(off.State, 'Disabling');
    assert.equal((await lambda.send(new GetEventSourceMappingCommand({ UUID: m.UUID! }))).State, 'Disabled');
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'two' }));
    await new Promise((r) => setTimeout(r, 1500));
    const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes!;
    assert.equal(a.ApproximateNumberOfMessages, '1', 'the disabled mapping left the message alone');
    assert.ok(!bodies('other').includes('two'));
    const on = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: m.UUID!, Enabled: true }));
    assert.equal(on.State, 'Enabling');
    await waitFor('two delivered', () => bodies('other').includes('two'));
  });

  test("a deleted function's mapping stops", async (t) => {
    if (skip) return t.skip(skip);
    const url = await queue('doomed-q');
    await lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'doomed', EventSourceArn: QARN('doomed-q') }));
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'before' }));
    await waitFor('delivered', () => bodies('doomed').includes('before'));
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'doomed' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'after' }));
    await new Promise((r) => setTimeout(r, 1500));
    const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes!;
    assert.equal(a.ApproximateNumberOfMessages, '1');
  });

  test('MaximumBatchingWindowInSeconds gathers messages sent one by one into one batch', async (t) => {
    if (skip) return t.skip(skip);
    const url = await queue('window-q', { VisibilityTimeout: '10' });
    const m = await lambda.send(new CreateEventSourceMappingCommand({
      FunctionName: 'batcher', EventSourceArn: QARN('window-q'), BatchSize: 100, MaximumBatchingWindowInSeconds: 5,
    }));
    await waitFor('mapping enabled', async () => (await lambda.send(new GetEventSourceMappingCommand({ UUID: m.UUID! }))).State === 'Enabled');
    for (let i = 0; i < 4; i++) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `w${i}` }));
    await waitFor('the batch', () => bodies('batcher').length >= 4);
    assert.deepEqual(events('batcher').map((e) => e.Records.map((r: any) => r.body).sort()), [['w0', 'w1', 'w2', 'w3']], 'one invocation with all four');
    await lambda.send(new DeleteEventSourceMappingCommand({ UUID: m.UUID! }));
  });

  test('ScalingConfig.MaximumConcurrency bounds the invocations running at once', async (t) => {
    if (skip) return t.skip(skip);
    const url = await queue('limited-q', { VisibilityTimeout: '60' });
    for (let b = 0; b < 2; b++) {
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: Array.from({ length: 10 }, (_, i) => ({ Id: `m${i}`, MessageBody: `b${b}-${i}` })) }));
    }
    const m = await lambda.send(new CreateEventSourceMappingCommand({
      FunctionName: 'limited', EventSourceArn: QARN('limited-q'), BatchSize: 1, ScalingConfig: { MaximumConcurrency: 2 },
    }));
    await waitFor('all twenty processed', () => events('limited').filter((e) => e.end).length >= 20, 90_000);
    const lines = events('limited');
    const points = lines.map((l) => (l.start ? { at: l.start, d: 1 } : { at: l.end, d: -1 })).sort((a, b) => a.at - b.at || a.d - b.d);
    let now = 0;
    let most = 0;
    for (const p of points) most = Math.max(most, (now += p.d));
    assert.ok(most <= 2, `at most 2 invocations at once, saw ${most}`);
    assert.equal(lines.filter((l) => l.start).length, 20, 'each message once');
    await lambda.send(new DeleteEventSourceMappingCommand({ UUID: m.UUID! }));
  });

  test('FIFO: order per message group is kept across a failed batch', async (t) => {
    if (skip) return t.skip(skip);
    const url = await queue('orderly.fifo', { FifoQueue: 'true', VisibilityTimeout: '1' });
    for (let i = 1; i <= 5; i++) {
      for (const g of ['A', 'B']) {
        await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `${g}${i}`, MessageGroupId: g, MessageDeduplicationId: `${g}${i}` }));
      }
    }
    const m = await lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'orderly', EventSourceArn: QARN('orderly.fifo'), BatchSize: 2 }));
    await waitFor('all ten processed', () => new Set(bodies('orderly')).size >= 10, 90_000);
    const done = bodies('orderly');
    assert.ok(fs.existsSync(out('orderly') + '.failed'), 'the batch with A2 failed once');
    assert.deepEqual(done.filter((b) => b.startsWith('A')), ['A1', 'A2', 'A3', 'A4', 'A5']);
    assert.deepEqual(done.filter((b) => b.startsWith('B')), ['B1', 'B2', 'B3', 'B4', 'B5']);
    const rec = events('orderly')[0].Records[0];
    assert.deepEqual(Object.keys(rec.attributes), [
      'ApproximateReceiveCount', 'SentTimestamp', 'SequenceNumber', 'MessageGroupId', 'SenderId', 'MessageDeduplicationId', 'ApproximateFirstReceiveTimestamp',
    ]);
    await lambda.send(new DeleteEventSourceMappingCommand({ UUID: m.UUID! }));
  });

  test("a message the function keeps failing moves to the queue's dead-letter queue after maxReceiveCount", async (t) => {
    if (skip) return t.skip(skip);
    const dlqUrl = await queue('poison-dlq');
    const url = await queue('poison-q', {
      VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: QARN('poison-dlq'), maxReceiveCount: 2 }),
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'crash' }));
    const m = await lambda.send(new CreateEventSourceMappingCommand({ FunctionName: 'poisoned', EventSourceArn: QARN('poison-q') }));
    const dead = await waitFor('the message in the DLQ', async () =>
      (await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }))).Messages?.[0]);
    assert.equal(dead.Body, 'crash');
    const tries = events('poisoned').map((e) => e.Records[0].attributes.ApproximateReceiveCount);
    assert.deepEqual(tries, ['1', '2'], 'delivered maxReceiveCount times, then moved');
    await lambda.send(new DeleteEventSourceMappingCommand({ UUID: m.UUID! }));
  });
});
