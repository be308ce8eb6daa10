import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { batchItemFailures, fifoFailureClosure, nextBatchStep } from '../../src/core/batching.js';
import { isStratusError } from '../../src/core/errors.js';
import { compileFilterCriteria, recordPassesFilters, sqsFilterView, validateFilterCriteria } from '../../src/core/filter-criteria.js';

describe('batch steps', () => {
  const table: [string, Parameters<typeof nextBatchStep>[0], ReturnType<typeof nextBatchStep>][] = [
    ['empty: long poll up to 10', { batchSize: 10, windowMs: 0, collected: 0, now: 0 }, { kind: 'receive', max: 10, waitSeconds: 20 }],
    ['empty small batch', { batchSize: 3, windowMs: 0, collected: 0, now: 0 }, { kind: 'receive', max: 3, waitSeconds: 20 }],
    ['full', { batchSize: 3, windowMs: 0, collected: 3, firstAt: 0, now: 0 }, { kind: 'invoke' }],
    ['window open', { batchSize: 100, windowMs: 5000, collected: 10, firstAt: 1000, now: 2500 }, { kind: 'receive', max: 10, waitSeconds: 4 }],
    ['window closed', { batchSize: 100, windowMs: 5000, collected: 10, firstAt: 1000, now: 6000 }, { kind: 'invoke' }],
    ['rest of batch', { batchSize: 25, windowMs: 5000, collected: 20, firstAt: 0, now: 1 }, { kind: 'receive', max: 5, waitSeconds: 5 }],
  ];
  for (const [name, input, want] of table) test(name, () => assert.deepEqual(nextBatchStep(input), want));
});

describe('partial batch responses', () => {
  const ids = ['m1', 'm2', 'm3'];
  const table: [string, string, string][] = [
    ['empty response', '', 'success'],
    ['null', 'null', 'success'],
    ['string', '"done"', 'success'],
    ['empty object', '{}', 'success'],
    ['null list', '{"batchItemFailures":null}', 'success'],
    ['empty list', '{"batchItemFailures":[]}', 'success'],
    ['one failure', '{"batchItemFailures":[{"itemIdentifier":"m2"}]}', 'partial:m2'],
    ['two failures', '{"batchItemFailures":[{"itemIdentifier":"m1"},{"itemIdentifier":"m3"}]}', 'partial:m1,m3'],
    ['unknown id', '{"batchItemFailures":[{"itemIdentifier":"zz"}]}', 'failure'],
    ['empty id', '{"batchItemFailures":[{"itemIdentifier":""}]}', 'failure'],
    ['bad key', '{"batchItemFailures":[{"id":"m1"}]}', 'failure'],
    ['not a list', '{"batchItemFailures":"m1"}', 'failure'],
    ['invalid JSON', '{nope', 'failure'],
  ];
  for (const [name, response, want] of table) {
    test(name, () => {
      const o = batchItemFailures(response, ids);
      const got = o.kind === 'partial' ? `partial:${[...o.failed].sort().join(',')}` : o.kind;
      assert.equal(got, want);
    });
  }

  test('FIFO: a failure fails the rest of its group', () => {
    const records = [{ id: 'a1', groupId: 'A' }, { id: 'b1', groupId: 'B' }, { id: 'a2', groupId: 'A' }, { id: 'b2', groupId: 'B' }];
    assert.deepEqual([...fifoFailureClosure(records, new Set(['a1']))].sort(), ['a1', 'a2']);
    assert.deepEqual([...fifoFailureClosure(records, new Set(['b2']))], ['b2']);
  });
});

describe('filter criteria', () => {
  const rec = (body: string) => ({ messageId: '1', body, attributes: { ApproximateReceiveCount: '1' }, messageAttributes: {}, eventSource: 'aws:sqs' });
  const table: [string, string[], string, boolean][] = [
    ['no filters keep all', [], 'x', true],
    ['json field match', ['{"body":{"type":["order"]}}'], '{"type":"order"}', true],
    ['json field mismatch', ['{"body":{"type":["order"]}}'], '{"type":"refund"}', false],
    ['numeric', ['{"body":{"n":[{"numeric":[">",10]}]}}'], '{"n":11}', true],
    ['plain body exact', ['{"body":["hello"]}'], 'hello', true],
    ['plain body vs field pattern', ['{"body":{"type":["order"]}}'], 'hello', false],
    ['prefix on plain body', ['{"body":[{"prefix":"he"}]}'], 'hello', true],
    ['any of filters', ['{"body":{"a":[1]}}', '{"body":{"b":[2]}}'], '{"b":2}', true],
    ['attributes', ['{"attributes":{"ApproximateReceiveCount":["1"]}}'], 'x', true],
  ];
  for (const [name, patterns, body, want] of table) {
    test(name, () => {
      const c = validateFilterCriteria({ Filters: patterns.map((Pattern) => ({ Pattern })) });
      assert.equal(recordPassesFilters(compileFilterCriteria(c), sqsFilterView(rec(body))), want);
    });
  }

  test('invalid criteria are InvalidParameterValueException', () => {
    for (const bad of [{ Filters: [{ Pattern: '{not json' }] }, { Filters: 'x' }, { Filters: Array.from({ length: 6 }, () => ({ Pattern: '{}' })) }]) {
      assert.throws(() => validateFilterCriteria(bad), (e) => isStratusError(e) && e.code === 'InvalidParameterValueException');
    }
  });
});
