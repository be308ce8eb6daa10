import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parsePath, select, targetInput, validateTargetInput } from '../../src/triggers/events/transform.js';

const event = {
  version: '0',
  id: 'id-1',
  'detail-type': 'Order Placed',
  source: 'shop',
  account: '000000000000',
  time: '2026-01-01T00:00:00Z',
  region: 'us-east-1',
  resources: ['r1'],
  detail: {
    order: { id: 'o-1', total: 12.5, items: ['a', 'b'] }, 'with-dash': 'yes', quote: 'say "hi"',
    lines: [{ id: 'l-1', qty: 2 }, { id: 'l-2', qty: 1 }, { qty: 9 }],
    empty: [],
  },
};
const ctx = { ruleArn: 'arn:aws:events:us-east-1:000000000000:rule/r', ruleName: 'r', ingestionTime: '2026-01-01T00:00:01Z' };

describe('json paths', () => {
  const cases: Array<[string, unknown]> = [
    ['$', event],
    ['$.detail.order.id', 'o-1'],
    ['$.detail.order.items[1]', 'b'],
    ["$.detail['with-dash']", 'yes'],
    ['$["detail-type"]', 'Order Placed'],
    ['$.detail.nope.deeper', undefined],
    ['$.detail.order.items.length', undefined],
    ['$.detail.constructor', undefined],
    // Wildcards ("Amazon EventBridge input transformation" lists them): the array of what they reach.
    ['$.detail.lines[*].id', ['l-1', 'l-2']],
    ['$.detail.lines.*.qty', [2, 1, 9]],
    ['$.detail.order.*', ['o-1', 12.5, ['a', 'b']]],
    ['$.detail.order[*]', ['o-1', 12.5, ['a', 'b']]],
    ['$.detail.order.items[*]', ['a', 'b']],
    ['$.detail.lines[1].id', 'l-2'],
    ['$.detail.lines[*].nope', undefined],
    ['$.detail.empty[*]', undefined],
    ['$.detail.quote.*', undefined],
  ];
  for (const [p, v] of cases) test(p, () => assert.deepEqual(select(event, p), v));
  for (const bad of ['detail', '$..a', '$.a[', '$.a[x]', '$.a[*', '$.a[-1]', '$.a[?(@.b)]']) test(`refuses ${bad}`, () => assert.equal(parsePath(bad), undefined));
});

describe('target input', () => {
  test('default: the whole event', () => assert.deepEqual(JSON.parse(targetInput({}, event, ctx)), event));
  test('Input: constant', () => assert.equal(targetInput({ Input: '{"fixed":true}' }, event, ctx), '{"fixed":true}'));
  test('InputPath', () => assert.deepEqual(JSON.parse(targetInput({ InputPath: '$.detail.order' }, event, ctx)), event.detail.order));
  test('InputPath missing -> null', () => assert.equal(targetInput({ InputPath: '$.detail.none' }, event, ctx), 'null'));
  test('InputTransformer JSON template: values as JSON outside quotes, text inside', () => {
    const out = targetInput(
      {
        InputTransformer: {
          InputPathsMap: { id: '$.detail.order.id', total: '$.detail.order.total', items: '$.detail.order.items', q: '$.detail.quote', none: '$.detail.x' },
          InputTemplate: '{"orderId": <id>, "total": <total>, "items": <items>, "msg": "order <id> costs <total>, <q>", "none": <none>, "rule": "<aws.events.rule-name>", "arn": <aws.events.rule-arn>, "at": "<aws.events.event.ingestion-time>"}',
        },
      },
      event,
      ctx,
    );
    assert.deepEqual(JSON.parse(out), {
      orderId: 'o-1', total: 12.5, items: ['a', 'b'], msg: 'order o-1 costs 12.5, say "hi"', none: null, rule: 'r', arn: ctx.ruleArn, at: '2026-01-01T00:00:01Z',
    });
  });
  test('InputPath with a wildcard: the array of matches', () => {
    assert.deepEqual(JSON.parse(targetInput({ InputPath: '$.detail.lines[*].id' }, event, ctx)), ['l-1', 'l-2']);
    assert.equal(targetInput({ InputPath: '$.detail.lines[*].none' }, event, ctx), 'null');
  });
  test('InputTransformer with wildcards: an array as a JSON value, without inner quotes inside a string', () => {
    const out = targetInput(
      {
        InputTransformer: {
          InputPathsMap: { ids: '$.detail.lines[*].id', first: '$.detail.lines[0].id', none: '$.detail.lines[*].x', obj: '$.detail.order' },
          InputTemplate: '{"ids": <ids>, "first": <first>, "msg": "ids <ids>", "none": <none>, "noneText": "x<none>x", "obj": "<obj>"}',
        },
      },
      event,
      ctx,
    );
    assert.deepEqual(JSON.parse(out), { ids: ['l-1', 'l-2'], first: 'l-1', msg: 'ids [l-1,l-2]', none: null, noneText: 'xx', obj: '{id:o-1,total:12.5,items:[a,b]}' });
  });
  test('InputTransformer string template', () => {
    const out = targetInput({ InputTransformer: { InputPathsMap: { id: '$.detail.order.id' }, InputTemplate: '"Order <id> placed"' } }, event, ctx);
    assert.equal(JSON.parse(out), 'Order o-1 placed');
  });
  test('InputTransformer plain text template', () => {
    const out = targetInput({ InputTransformer: { InputPathsMap: { id: '$.detail.order.id' }, InputTemplate: 'Order <id> placed <unknown>' } }, event, ctx);
    assert.equal(out, 'Order o-1 placed <unknown>');
  });
  test('event placeholders: <aws.events.event> without its detail, <aws.events.event.json> whole', () => {
    const out = targetInput({ InputTransformer: { InputTemplate: '{"e": <aws.events.event>, "j": <aws.events.event.json>}' } }, event, ctx);
    const { detail: _, ...envelope } = event;
    assert.deepEqual(JSON.parse(out), { e: envelope, j: event });
  });
});

describe('target input validation', () => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ['two kinds', { Id: 't', Input: '{}', InputPath: '$' }],
    ['Input not JSON', { Id: 't', Input: '{nope' }],
    ['bad InputPath', { Id: 't', InputPath: 'detail' }],
    ['no template', { Id: 't', InputTransformer: { InputPathsMap: {} } }],
    ['reserved key', { Id: 't', InputTransformer: { InputPathsMap: { 'aws.x': '$' }, InputTemplate: 'x' } }],
    ['bad path in map', { Id: 't', InputTransformer: { InputPathsMap: { a: 'x' }, InputTemplate: 'x' } }],
    ['key with a dot', { Id: 't', InputTransformer: { InputPathsMap: { 'a.b': '$' }, InputTemplate: 'x' } }],
    ['key over 256 characters', { Id: 't', InputTransformer: { InputPathsMap: { ['k'.repeat(257)]: '$' }, InputTemplate: 'x' } }],
    ['path in map over 256 characters', { Id: 't', InputTransformer: { InputPathsMap: { a: `$.${'a'.repeat(255)}` }, InputTemplate: 'x' } }],
    ['InputPath over 256 characters', { Id: 't', InputPath: `$.${'a'.repeat(255)}` }],
    ['more than 100 paths', { Id: 't', InputTransformer: { InputPathsMap: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, '$'])), InputTemplate: 'x' } }],
  ];
  for (const [name, t] of bad) {
    test(name, () => assert.throws(() => validateTargetInput(t as { Id: string }), { code: 'ValidationException' }));
  }
  test('valid', () => validateTargetInput({ Id: 't', InputTransformer: { InputPathsMap: { a: '$.detail' }, InputTemplate: '<a>' } }));
  test('valid with wildcards and indexes', () => {
    validateTargetInput({ Id: 't', InputPath: '$.detail.*' });
    validateTargetInput({ Id: 't', InputTransformer: { InputPathsMap: { ids: '$.detail.items[*].id', one: '$.detail.items[0].id' }, InputTemplate: '<ids>' } });
  });
});
