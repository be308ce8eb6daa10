import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { startSqsServer, type SqsServer } from './harness.js';

// The AWS SDK for JavaScript v2: SQS's query protocol, as it is still spoken by code written for
// it (and by Java SDK v1, boto3 before 1.34). It checks the MD5 digests of what it sends and receives.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1';
const AWS = createRequire(import.meta.url)('aws-sdk');

describe('SQS query protocol (AWS SDK for JavaScript v2)', () => {
  let server: SqsServer;
  let sqs: any;

  before(async () => {
    server = await startSqsServer();
    sqs = new AWS.SQS({
      endpoint: server.endpoint, region: 'us-east-1', credentials: new AWS.Credentials('test', 'test'), maxRetries: 0,
    });
  });
  after(async () => server?.stop());

  test('queues: create with attributes and tags, URL, list, attributes, tags, delete', async () => {
    const { QueueUrl } = await sqs.createQueue({ QueueName: 'q-one', Attributes: { VisibilityTimeout: '45', DelaySeconds: '0' }, tags: { team: 'a' } }).promise();
    assert.match(QueueUrl, /\/000000000000\/q-one$/);
    assert.equal((await sqs.getQueueUrl({ QueueName: 'q-one' }).promise()).QueueUrl, QueueUrl);
    await sqs.createQueue({ QueueName: 'q-two' }).promise();
    const listed = await sqs.listQueues({ QueueNamePrefix: 'q-' }).promise();
    assert.deepEqual(listed.QueueUrls.map((u: string) => u.split('/').pop()).sort(), ['q-one', 'q-two']);
    const attrs = await sqs.getQueueAttributes({ QueueUrl, AttributeNames: ['VisibilityTimeout', 'QueueArn'] }).promise();
    assert.deepEqual(attrs.Attributes, { VisibilityTimeout: '45', QueueArn: 'arn:aws:sqs:us-east-1:000000000000:q-one' });
    await sqs.setQueueAttributes({ QueueUrl, Attributes: { VisibilityTimeout: '10' } }).promise();
    assert.equal((await sqs.getQueueAttributes({ QueueUrl, AttributeNames: ['All'] }).promise()).Attributes.VisibilityTimeout, '10');
    await sqs.tagQueue({ QueueUrl, Tags: { env: 'test' } }).promise();
    assert.deepEqual((await sqs.listQueueTags({ QueueUrl }).promise()).Tags, { team: 'a', env: 'test' });
    await sqs.untagQueue({ QueueUrl, TagKeys: ['team'] }).promise();
    assert.deepEqual((await sqs.listQueueTags({ QueueUrl }).promise()).Tags, { env: 'test' });
    await sqs.deleteQueue({ QueueUrl: listed.QueueUrls.find((u: string) => u.endsWith('q-two')) }).promise();
  });

  test('messages: send with attributes, batch, receive, visibility, delete (the SDK checks every MD5)', async () => {
    const { QueueUrl } = await sqs.createQueue({ QueueName: 'msgs' }).promise();
    const sent = await sqs.sendMessage({
      QueueUrl, MessageBody: 'héllo <world> & "you"',
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'greeting' }, n: { DataType: 'Number', StringValue: '2' }, raw: { DataType: 'Binary', BinaryValue: Buffer.from([1, 2, 3]) } },
    }).promise();
    assert.match(sent.MessageId, /^[0-9a-f-]{36}$/);
    assert.ok(sent.MD5OfMessageAttributes);
    const batch = await sqs.sendMessageBatch({ QueueUrl, Entries: [{ Id: 'a', MessageBody: 'one' }, { Id: 'b', MessageBody: 'two', DelaySeconds: 0 }, { Id: 'bad!', MessageBody: 'x' }] }).promise().catch((e: any) => e);
    assert.equal(batch.code, 'AWS.SimpleQueueService.InvalidBatchEntryId', 'an invalid id refuses the batch');
    const ok = await sqs.sendMessageBatch({ QueueUrl, Entries: [{ Id: 'a', MessageBody: 'one' }, { Id: 'b', MessageBody: 'two' }] }).promise();
    assert.deepEqual(ok.Successful.map((e: any) => e.Id).sort(), ['a', 'b']);
    assert.deepEqual(ok.Failed, []);

    const got = await sqs.receiveMessage({ QueueUrl, MaxNumberOfMessages: 10, AttributeNames: ['All'], MessageAttributeNames: ['All'], VisibilityTimeout: 30 }).promise();
    assert.equal(got.Messages.length, 3);
    const first = got.Messages.find((m: any) => m.MessageId === sent.MessageId);
    assert.equal(first.Body, 'héllo <world> & "you"');
    assert.equal(first.Attributes.ApproximateReceiveCount, '1');
    assert.equal(first.MessageAttributes.kind.StringValue, 'greeting');
    assert.equal(first.MessageAttributes.n.DataType, 'Number');
    assert.deepEqual(Buffer.from(first.MessageAttributes.raw.BinaryValue), Buffer.from([1, 2, 3]));

    await sqs.changeMessageVisibility({ QueueUrl, ReceiptHandle: first.ReceiptHandle, VisibilityTimeout: 0 }).promise();
    const others = got.Messages.filter((m: any) => m !== first);
    const del = await sqs.deleteMessageBatch({ QueueUrl, Entries: others.map((m: any, i: number) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) }).promise();
    assert.equal(del.Successful.length, 2);
    const again = await sqs.receiveMessage({ QueueUrl, WaitTimeSeconds: 1 }).promise();
    assert.equal(again.Messages.length, 1);
    assert.equal(again.Messages[0].MessageId, sent.MessageId);
    const vis = await sqs.changeMessageVisibilityBatch({ QueueUrl, Entries: [{ Id: 'v', ReceiptHandle: again.Messages[0].ReceiptHandle, VisibilityTimeout: 60 }] }).promise();
    assert.deepEqual(vis.Successful, [{ Id: 'v' }]);
    await sqs.deleteMessage({ QueueUrl, ReceiptHandle: again.Messages[0].ReceiptHandle }).promise();
    const none = await sqs.receiveMessage({ QueueUrl }).promise();
    assert.equal(none.Messages, undefined);
  });

  test('an empty answer keeps its Result element; a parameter naming __proto__ reaches no object', async () => {
    const form = async (body: string) => {
      const r = await fetch(server.endpoint + '/', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      return { status: r.status, text: await r.text() };
    };
    const { QueueUrl } = await sqs.createQueue({ QueueName: 'empty-q' }).promise();
    const empty = await form(`Action=ReceiveMessage&QueueUrl=${encodeURIComponent(QueueUrl)}&Version=2012-11-05`);
    assert.equal(empty.status, 200);
    // Query clients (botocore's parser) look the Result element up by name.
    assert.match(empty.text, /<ReceiveMessageResponse [^>]*><ReceiveMessageResult><\/ReceiveMessageResult><ResponseMetadata>/);
    const polluted = await form(`Action=ListQueues&__proto__.QueueUrl=${encodeURIComponent(QueueUrl)}&constructor.prototype.x=1`);
    assert.equal(polluted.status, 200);
    assert.equal(({} as Record<string, unknown>).QueueUrl, undefined);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  test('FIFO queues and errors in the query shape', async () => {
    const { QueueUrl } = await sqs.createQueue({ QueueName: 'jobs.fifo', Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' } }).promise();
    const sent = await sqs.sendMessage({ QueueUrl, MessageBody: 'job', MessageGroupId: 'g' }).promise();
    assert.match(sent.SequenceNumber, /^\d+$/);
    await assert.rejects(sqs.getQueueUrl({ QueueName: 'missing' }).promise(), (e: any) =>
      e.code === 'AWS.SimpleQueueService.NonExistentQueue' && e.statusCode === 400 && e.message === 'The specified queue does not exist.');
    await assert.rejects(sqs.sendMessage({ QueueUrl, MessageBody: 'no group' }).promise(), (e: any) => e.code === 'MissingParameter' && e.statusCode === 400);
    await assert.rejects(sqs.createQueue({ QueueName: 'jobs.fifo', Attributes: { FifoQueue: 'true', VisibilityTimeout: '99' } }).promise(), (e: any) => e.code === 'QueueAlreadyExists');
  });
});
