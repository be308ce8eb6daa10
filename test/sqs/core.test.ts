import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isStratusError } from '../../src/core/errors.js';
import {
  defaultQueueAttributes, differingAttribute, parseQueueArn, queueNameFromUrl, queueSettings, requestedQueueAttributes,
  validateQueueAttributes, validateQueueName,
} from '../../src/core/sqs-attributes.js';
import { contentDeduplicationId, dedupScopeKey, formatSequenceNumber, selectFifoMessages, type FifoGroupState } from '../../src/core/sqs-fifo.js';
import { md5OfBody, md5OfMessageAttributes } from '../../src/core/sqs-md5.js';
import {
  decodeReceiptHandle, encodeReceiptHandle, intParam, parseMessageAttributes, requestedSystemAttributes, selectMessageAttributes,
  validateBatchEntries, validateBody,
} from '../../src/core/sqs-messages.js';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isStratusError(e)) return `${e.code}/${e.status}/${String(e.extra.queryErrorCode)}`;
    throw e;
  }
  return 'ok';
}

describe('SQS MD5s', () => {
  test('message attribute MD5 matches SQS for known vectors', () => {
    const cases: [Record<string, { DataType: string; StringValue?: string; BinaryValue?: Buffer }>, string][] = [
      [{ SellerName: { DataType: 'String', StringValue: 'Example Store' } }, 'cd28f3b68aeee4b2eac9c66f2f694b58'],
      [{ ordinal: { DataType: 'Number', StringValue: '1' }, category: { DataType: 'String', StringValue: 'test' } }, 'd21ae90c49061e927f57df5f5d72be1f'],
      [{ timestamp: { DataType: 'Number', StringValue: '1493147359900' } }, '235c5c510d26fb653d073faed50ae77c'],
    ];
    for (const [attrs, md5] of cases) assert.equal(md5OfMessageAttributes(attrs), md5, JSON.stringify(attrs));
    assert.equal(md5OfMessageAttributes({}), undefined);
    // Binary uses transport type 2: differs from the same bytes as a string.
    const bin = md5OfMessageAttributes({ b: { DataType: 'Binary', BinaryValue: Buffer.from('abc') } });
    const str = md5OfMessageAttributes({ b: { DataType: 'Binary', StringValue: 'abc' } });
    assert.notEqual(bin, str);
  });

  test('body MD5 is the hex MD5 of the UTF-8 bytes', () => {
    assert.equal(md5OfBody('hello'), '5d41402abc4b2a76b9719d911017c592');
    assert.equal(md5OfBody('\u00fc'), 'c03410a5204b21cd8229ff754688d743');
  });
});

describe('queue names and attributes', () => {
  const table: [string, () => unknown, string][] = [
    ['plain name', () => validateQueueName('orders-1_x', false), 'ok'],
    ['fifo name', () => validateQueueName('orders.fifo', true), 'ok'],
    ['fifo name, standard queue', () => validateQueueName('orders.fifo', false), 'InvalidParameterValue/400/InvalidParameterValue;Sender'],
    ['FIFO queue without .fifo', () => validateQueueName('orders', true), 'InvalidParameterValue/400/InvalidParameterValue;Sender'],
    ['FIFO queue name too long', () => validateQueueName(`${'a'.repeat(76)}.fifo`, true), 'InvalidParameterValue/400/InvalidParameterValue;Sender'],
    ['bad char', () => validateQueueName('bad name', false), 'InvalidParameterValue/400/InvalidParameterValue;Sender'],
    ['too long', () => validateQueueName('a'.repeat(81), false), 'InvalidParameterValue/400/InvalidParameterValue;Sender'],
    ['missing', () => validateQueueName(undefined, false), 'MissingParameter/400/MissingParameter;Sender'],
    ['unknown attribute', () => validateQueueAttributes({ Foo: '1' }, { creating: true, fifo: false }), 'InvalidAttributeName/400/InvalidAttributeName;Sender'],
    ['visibility too big', () => validateQueueAttributes({ VisibilityTimeout: '43201' }, { creating: true, fifo: false }), 'InvalidAttributeValue/400/InvalidAttributeValue;Sender'],
    ['delay ok', () => validateQueueAttributes({ DelaySeconds: '900' }, { creating: true, fifo: false }), 'ok'],
    ['delay not a number', () => validateQueueAttributes({ DelaySeconds: 'x' }, { creating: true, fifo: false }), 'InvalidAttributeValue/400/InvalidAttributeValue;Sender'],
    ['size too small', () => validateQueueAttributes({ MaximumMessageSize: '1023' }, { creating: true, fifo: false }), 'InvalidAttributeValue/400/InvalidAttributeValue;Sender'],
    ['content dedup on standard', () => validateQueueAttributes({ ContentBasedDeduplication: 'true' }, { creating: true, fifo: false }), 'InvalidAttributeName/400/InvalidAttributeName;Sender'],
    ['FifoQueue on set', () => validateQueueAttributes({ FifoQueue: 'true' }, { creating: false, fifo: true }), 'InvalidAttributeName/400/InvalidAttributeName;Sender'],
    ['FifoQueue without .fifo', () => validateQueueAttributes({ FifoQueue: 'true' }, { creating: true, fifo: false }), 'InvalidAttributeValue/400/InvalidAttributeValue;Sender'],
    ['redrive missing count', () => validateQueueAttributes({ RedrivePolicy: '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:d"}' }, { creating: true, fifo: false }), 'InvalidAttributeValue/400/InvalidAttributeValue;Sender'],
    ['redrive count 1001', () => validateQueueAttributes({ RedrivePolicy: '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:d","maxReceiveCount":1001}' }, { creating: true, fifo: false }), 'InvalidAttributeValue/400/InvalidAttributeValue;Sender'],
    ['redrive ok', () => validateQueueAttributes({ RedrivePolicy: '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:d","maxReceiveCount":"3"}' }, { creating: true, fifo: false }), 'ok'],
    ['get All', () => requestedQueueAttributes(['All']), 'ok'],
    ['get unknown', () => requestedQueueAttributes(['Nope']), 'InvalidAttributeName/400/InvalidAttributeName;Sender'],
  ];
  for (const [name, fn, want] of table) test(name, () => assert.equal(code(fn), want));

  test('normalisation, defaults and settings', () => {
    const a = validateQueueAttributes({ VisibilityTimeout: '0045', RedrivePolicy: '{"maxReceiveCount":"2","deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:d"}' }, { creating: true, fifo: false });
    assert.equal(a.VisibilityTimeout, '45');
    assert.deepEqual(JSON.parse(a.RedrivePolicy!), { deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:d', maxReceiveCount: 2 });
    const s = queueSettings({ ...defaultQueueAttributes(true), ...a });
    assert.equal(s.fifo, true);
    assert.equal(s.visibilityTimeout, 45);
    assert.equal(s.redrive?.maxReceiveCount, 2);
    assert.equal(s.maximumMessageSize, 1048576);
    assert.equal(differingAttribute({ VisibilityTimeout: '30' }, { VisibilityTimeout: '30' }), undefined);
    assert.equal(differingAttribute({ VisibilityTimeout: '30' }, { VisibilityTimeout: '31' }), 'VisibilityTimeout');
  });

  test('queue URLs and ARNs', () => {
    assert.equal(queueNameFromUrl('http://127.0.0.1:9070/000000000000/q1', '000000000000'), 'q1');
    assert.equal(queueNameFromUrl('http://localhost/queue/q2.fifo', '000000000000'), 'q2.fifo');
    assert.equal(queueNameFromUrl('http://localhost/111111111111/q1', '000000000000'), undefined);
    assert.equal(queueNameFromUrl('not a url', '000000000000'), undefined);
    assert.deepEqual(parseQueueArn('arn:aws:sqs:us-east-1:000000000000:q.fifo'), { region: 'us-east-1', accountId: '000000000000', name: 'q.fifo' });
    assert.equal(parseQueueArn('arn:aws:sns:us-east-1:000000000000:q'), undefined);
  });
});

describe('messages', () => {
  const table: [string, () => unknown, string][] = [
    ['empty body', () => validateBody(''), 'MissingParameter/400/MissingParameter;Sender'],
    ['control char', () => validateBody('a\u0001b'), 'InvalidMessageContents/400/InvalidMessageContents;Sender'],
    ['emoji ok', () => validateBody('ok \u{1F600} \t\n'), 'ok'],
    ['11 attributes', () => parseMessageAttributes(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, { DataType: 'String', StringValue: 'v' }]))), 'InvalidParameterValue/400/InvalidParameterValue;Sender'],
    ['reserved name', () => parseMessageAttributes({ 'AWS.x': { DataType: 'String', StringValue: 'v' } }), 'InvalidParameterValue/400/InvalidParameterValue;Sender'],
    ['bad type', () => parseMessageAttributes({ a: { DataType: 'Blob', StringValue: 'v' } }), 'InvalidParameterValue/400/InvalidParameterValue;Sender'],
    ['empty value', () => parseMessageAttributes({ a: { DataType: 'String', StringValue: '' } }), 'InvalidParameterValue/400/InvalidParameterValue;Sender'],
    ['not a number', () => parseMessageAttributes({ a: { DataType: 'Number', StringValue: 'x1' } }), 'InvalidParameterValue/400/InvalidParameterValue;Sender'],
    ['custom type', () => parseMessageAttributes({ a: { DataType: 'Number.float', StringValue: '1.5e3' } }), 'ok'],
    ['binary', () => parseMessageAttributes({ a: { DataType: 'Binary', BinaryValue: 'AAEC' } }), 'ok'],
    ['system attr other than trace', () => parseMessageAttributes({ Foo: { DataType: 'String', StringValue: 'x' } }, true), 'InvalidParameterValue/400/InvalidParameterValue;Sender'],
    ['empty batch', () => validateBatchEntries([], 'SendMessageBatch'), 'EmptyBatchRequest/400/AWS.SimpleQueueService.EmptyBatchRequest;Sender'],
    ['11 entries', () => validateBatchEntries(Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}` })), 'X'), 'TooManyEntriesInBatchRequest/400/AWS.SimpleQueueService.TooManyEntriesInBatchRequest;Sender'],
    ['same id', () => validateBatchEntries([{ Id: 'a' }, { Id: 'a' }], 'X'), 'BatchEntryIdsNotDistinct/400/AWS.SimpleQueueService.BatchEntryIdsNotDistinct;Sender'],
    ['bad id', () => validateBatchEntries([{ Id: 'a b' }], 'X'), 'InvalidBatchEntryId/400/AWS.SimpleQueueService.InvalidBatchEntryId;Sender'],
    ['max 11', () => intParam({ MaxNumberOfMessages: 11 }, 'MaxNumberOfMessages', 1, 10), 'InvalidParameterValue/400/InvalidParameterValue;Sender'],
    ['max 10', () => intParam({ MaxNumberOfMessages: 10 }, 'MaxNumberOfMessages', 1, 10), 'ok'],
    ['unknown system attribute', () => requestedSystemAttributes(['Bogus']), 'InvalidAttributeName/400/InvalidAttributeName;Sender'],
  ];
  for (const [name, fn, want] of table) test(name, () => assert.equal(code(fn), want));

  test('attribute size counts names, types and values; binary decoded', () => {
    const p = parseMessageAttributes({ ab: { DataType: 'String', StringValue: 'xyz' }, b: { DataType: 'Binary', BinaryValue: Buffer.from([1, 2]).toString('base64') } });
    assert.equal(p.size, 2 + 6 + 3 + 1 + 6 + 2);
    assert.deepEqual(p.attributes.b!.BinaryValue, Buffer.from([1, 2]));
  });

  test('selecting message attributes: All, .*, names, prefixes', () => {
    const attrs = { 'a.x': { DataType: 'String', StringValue: '1' }, 'a.y': { DataType: 'String', StringValue: '2' }, b: { DataType: 'String', StringValue: '3' } };
    assert.deepEqual(Object.keys(selectMessageAttributes(attrs, ['All'])), ['a.x', 'a.y', 'b']);
    assert.deepEqual(Object.keys(selectMessageAttributes(attrs, ['.*'])), ['a.x', 'a.y', 'b']);
    assert.deepEqual(Object.keys(selectMessageAttributes(attrs, ['a.*'])), ['a.x', 'a.y']);
    assert.deepEqual(Object.keys(selectMessageAttributes(attrs, ['b', 'zzz'])), ['b']);
    assert.deepEqual(selectMessageAttributes(attrs, undefined), {});
  });

  test('system attribute names: All expands, queue names are ignored', () => {
    assert.ok(requestedSystemAttributes(['All']).has('ApproximateFirstReceiveTimestamp'));
    assert.deepEqual([...requestedSystemAttributes(['SentTimestamp'], ['MessageGroupId', 'QueueArn'])], ['SentTimestamp', 'MessageGroupId']);
  });

  test('receipt handles round-trip and reject garbage', () => {
    const h = encodeReceiptHandle('q.fifo', 'm-1', 'n0nce');
    assert.deepEqual(decodeReceiptHandle(h), { queue: 'q.fifo', messageId: 'm-1', nonce: 'n0nce' });
    for (const bad of ['', 'not base64!', Buffer.from('only\ntwo').toString('base64'), 42]) assert.equal(decodeReceiptHandle(bad), undefined);
  });
});

describe('FIFO decisions', () => {
  const c = (id: string, seq: number, groupId: string) => ({ id, seq, groupId });
  const g = (firstInvisibleSeq: number, inFlight: boolean): FifoGroupState => ({ firstInvisibleSeq, inFlight });
  const table: [string, ReturnType<typeof c>[], [string, FifoGroupState][], number, string[]][] = [
    ['in order across groups', [c('b1', 2, 'B'), c('a1', 1, 'A'), c('a2', 3, 'A')], [], 10, ['a1', 'b1', 'a2']],
    ['max respected', [c('a1', 1, 'A'), c('a2', 2, 'A'), c('a3', 3, 'A')], [], 2, ['a1', 'a2']],
    ['group in flight is held', [c('a2', 2, 'A'), c('b1', 3, 'B')], [['A', g(1, true)]], 10, ['b1']],
    ['delayed message holds later ones', [c('a1', 1, 'A'), c('a3', 3, 'A')], [['A', g(2, false)]], 10, ['a1']],
    ['nothing visible', [], [['A', g(1, true)]], 10, []],
  ];
  for (const [name, cands, groups, max, want] of table) {
    test(name, () => assert.deepEqual(selectFifoMessages(cands, new Map(groups), max), want));
  }

  test('dedup ids, scopes and sequence numbers', () => {
    assert.equal(contentDeduplicationId('x'), '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
    assert.equal(dedupScopeKey('queue', 'g'), '');
    assert.equal(dedupScopeKey('messageGroup', 'g'), 'g');
    assert.equal(formatSequenceNumber(12), '00000000000000000012');
    assert.ok(formatSequenceNumber(9) < formatSequenceNumber(10));
  });
});
