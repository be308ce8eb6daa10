import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEventPattern, parseIp, testEventPattern } from '../../src/core/event-pattern.js';

const event = {
  version: '0',
  id: 'e-1',
  'detail-type': 'Order Placed',
  source: 'com.shop.orders',
  account: '000000000000',
  time: '2026-01-01T00:00:00Z',
  region: 'us-east-1',
  resources: ['arn:aws:s3:::bucket/a.png', 'arn:aws:s3:::bucket/b.jpg'],
  detail: {
    state: 'shipped',
    amount: 42.5,
    count: 3,
    flag: true,
    nothing: null,
    empty: '',
    ip: '10.0.3.7',
    ip6: '2001:db8::1',
    Customer: 'ALICE@example.com',
    file: 'photos/2026/cat.PNG',
    tags: ['red', 'green'],
    items: [
      { sku: 'a', qty: 1 },
      { sku: 'b', qty: 5 },
    ],
    nested: { deep: { leaf: 'x' } },
    emptyList: [],
  },
};

// [name, pattern, expected]
const cases: Array<[string, unknown, boolean]> = [
  // exact
  ['exact string', { source: ['com.shop.orders'] }, true],
  ['exact string miss', { source: ['com.shop.other'] }, false],
  ['exact in list', { source: ['x', 'com.shop.orders'] }, true],
  ['exact number', { detail: { count: [3] } }, true],
  ['exact number float equality', { detail: { amount: [42.5] } }, true],
  ['number does not match string', { detail: { state: [3] } }, false],
  ['string does not match number', { detail: { count: ['3'] } }, false],
  ['exact boolean', { detail: { flag: [true] } }, true],
  ['exact boolean miss', { detail: { flag: [false] } }, false],
  ['null matches null', { detail: { nothing: [null] } }, true],
  ['null does not match missing', { detail: { missing: [null] } }, false],
  ['empty string', { detail: { empty: [''] } }, true],
  ['case-sensitive', { detail: { state: ['SHIPPED'] } }, false],
  ['array value: any element', { detail: { tags: ['green'] } }, true],
  ['array value miss', { detail: { tags: ['blue'] } }, false],
  ['resources array', { resources: ['arn:aws:s3:::bucket/b.jpg'] }, true],
  ['several fields all must match', { source: ['com.shop.orders'], 'detail-type': ['Nope'] }, false],
  ['missing field', { detail: { nope: ['x'] } }, false],
  ['nested', { detail: { nested: { deep: { leaf: ['x'] } } } }, true],
  ['nested miss', { detail: { nested: { deep: { leaf: ['y'] } } } }, false],
  ['leaf pattern on object value', { detail: { nested: ['x'] } }, false],
  // prefix / suffix
  ['prefix', { source: [{ prefix: 'com.shop' }] }, true],
  ['prefix miss', { source: [{ prefix: 'org.' }] }, false],
  ['prefix empty matches any string', { source: [{ prefix: '' }] }, true],
  ['prefix on number', { detail: { count: [{ prefix: '3' }] } }, false],
  ['prefix ignore case', { detail: { Customer: [{ prefix: { 'equals-ignore-case': 'alice' } }] } }, true],
  ['prefix case-sensitive miss', { detail: { Customer: [{ prefix: 'alice' }] } }, false],
  ['suffix', { detail: { file: [{ suffix: '.PNG' }] } }, true],
  ['suffix miss', { detail: { file: [{ suffix: '.png' }] } }, false],
  ['suffix ignore case', { detail: { file: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, true],
  ['suffix in array', { resources: [{ suffix: '.jpg' }] }, true],
  // equals-ignore-case
  ['equals-ignore-case', { detail: { Customer: [{ 'equals-ignore-case': 'alice@EXAMPLE.com' }] } }, true],
  ['equals-ignore-case miss', { detail: { Customer: [{ 'equals-ignore-case': 'bob@example.com' }] } }, false],
  // anything-but
  ['anything-but string', { detail: { state: [{ 'anything-but': 'pending' }] } }, true],
  ['anything-but string hit', { detail: { state: [{ 'anything-but': 'shipped' }] } }, false],
  ['anything-but list', { detail: { state: [{ 'anything-but': ['pending', 'shipped'] }] } }, false],
  ['anything-but list pass', { detail: { state: [{ 'anything-but': ['pending', 'cancelled'] }] } }, true],
  ['anything-but number', { detail: { count: [{ 'anything-but': 3 }] } }, false],
  ['anything-but numbers pass', { detail: { count: [{ 'anything-but': [1, 2] }] } }, true],
  ['anything-but missing field', { detail: { nope: [{ 'anything-but': 'x' }] } }, false],
  ['anything-but prefix', { detail: { state: [{ 'anything-but': { prefix: 'ship' } }] } }, false],
  ['anything-but prefix pass', { detail: { state: [{ 'anything-but': { prefix: 'pend' } }] } }, true],
  ['anything-but suffix', { detail: { file: [{ 'anything-but': { suffix: '.PNG' } }] } }, false],
  ['anything-but suffix pass', { detail: { file: [{ 'anything-but': { suffix: '.gif' } }] } }, true],
  ['anything-but ignore case', { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['SHIPPED'] } }] } }, false],
  ['anything-but ignore case pass', { detail: { state: [{ 'anything-but': { 'equals-ignore-case': 'PENDING' } }] } }, true],
  ['anything-but wildcard', { detail: { file: [{ 'anything-but': { wildcard: 'photos/*' } }] } }, false],
  ['anything-but wildcard pass', { detail: { file: [{ 'anything-but': { wildcard: 'docs/*' } }] } }, true],
  ['anything-but on array: some element differs', { detail: { tags: [{ 'anything-but': 'red' }] } }, true],
  // numeric
  ['numeric >', { detail: { amount: [{ numeric: ['>', 40] }] } }, true],
  ['numeric > miss', { detail: { amount: [{ numeric: ['>', 42.5] }] } }, false],
  ['numeric >=', { detail: { amount: [{ numeric: ['>=', 42.5] }] } }, true],
  ['numeric <', { detail: { count: [{ numeric: ['<', 3] }] } }, false],
  ['numeric <=', { detail: { count: [{ numeric: ['<=', 3] }] } }, true],
  ['numeric =', { detail: { count: [{ numeric: ['=', 3] }] } }, true],
  ['numeric range', { detail: { amount: [{ numeric: ['>', 0, '<=', 50] }] } }, true],
  ['numeric range miss', { detail: { amount: [{ numeric: ['>', 0, '<', 42.5] }] } }, false],
  ['numeric on string', { detail: { state: [{ numeric: ['>', 0] }] } }, false],
  ['numeric in array of objects', { detail: { items: { qty: [{ numeric: ['>=', 5] }] } } }, true],
  // exists
  ['exists true', { detail: { state: [{ exists: true }] } }, true],
  ['exists true missing', { detail: { nope: [{ exists: true }] } }, false],
  ['exists true on null', { detail: { nothing: [{ exists: true }] } }, true],
  ['exists false missing', { detail: { nope: [{ exists: false }] } }, true],
  ['exists false present', { detail: { state: [{ exists: false }] } }, false],
  ['exists false on object (not a leaf)', { detail: { nested: [{ exists: false }] } }, true],
  ['exists false on empty array', { detail: { emptyList: [{ exists: false }] } }, true],
  ['exists false, parent missing', { detail: { ghost: { x: [{ exists: false }] } } }, true],
  ['exists false or value', { detail: { state: [{ exists: false }, 'shipped'] } }, true],
  // wildcard
  ['wildcard', { detail: { file: [{ wildcard: 'photos/*/cat.PNG' }] } }, true],
  ['wildcard middle miss', { detail: { file: [{ wildcard: 'photos/*/dog.*' }] } }, false],
  ['wildcard star only', { detail: { state: [{ wildcard: '*' }] } }, true],
  ['wildcard in array', { resources: [{ wildcard: 'arn:aws:s3:::bucket/*.png' }] }, true],
  ['wildcard escaped star', { detail: { state: [{ wildcard: 'ship\\*' }] } }, false],
  ['wildcard regex chars literal', { detail: { file: [{ wildcard: 'photos/2026/cat.P?G' }] } }, false],
  // cidr
  ['cidr v4', { detail: { ip: [{ cidr: '10.0.0.0/16' }] } }, true],
  ['cidr v4 miss', { detail: { ip: [{ cidr: '10.1.0.0/16' }] } }, false],
  ['cidr v4 /32', { detail: { ip: [{ cidr: '10.0.3.7/32' }] } }, true],
  ['cidr v6', { detail: { ip6: [{ cidr: '2001:db8::/32' }] } }, true],
  ['cidr v6 miss', { detail: { ip6: [{ cidr: '2001:db9::/32' }] } }, false],
  ['cidr v4 pattern vs v6 value', { detail: { ip6: [{ cidr: '0.0.0.0/0' }] } }, false],
  // $or
  ['$or one branch', { $or: [{ source: ['nope'] }, { 'detail-type': ['Order Placed'] }] }, true],
  ['$or none', { $or: [{ source: ['nope'] }, { 'detail-type': ['nope'] }] }, false],
  ['$or with sibling', { source: ['com.shop.orders'], $or: [{ detail: { count: [1] } }, { detail: { count: [3] } }] }, true],
  ['$or with failing sibling', { source: ['x'], $or: [{ detail: { count: [3] } }, { detail: { count: [4] } }] }, false],
  ['$or nested', { detail: { $or: [{ state: ['x'] }, { amount: [{ numeric: ['>', 40] }] }] } }, true],
  ['$or nested in $or', { $or: [{ source: ['x'] }, { $or: [{ source: ['y'] }, { region: ['us-east-1'] }] }] }, true],
  // array consistency for arrays of objects
  ['array of objects, same element', { detail: { items: { sku: ['b'], qty: [5] } } }, true],
  ['array of objects, fields from different elements', { detail: { items: { sku: ['a'], qty: [5] } } }, false],
];

describe('event pattern matching', () => {
  for (const [name, pattern, expected] of cases) {
    test(name, () => {
      assert.equal(testEventPattern(JSON.stringify(pattern), event), expected);
    });
  }
});

const invalid: Array<[string, string]> = [
  ['not JSON', '{source:'],
  ['not an object', '["a"]'],
  ['empty object', '{}'],
  ['leaf not array', '{"source":"a"}'],
  ['empty array', '{"source":[]}'],
  ['nested empty object', '{"detail":{}}'],
  ['unknown operator', '{"source":[{"regex":"a"}]}'],
  ['two operators in one object', '{"source":[{"prefix":"a","suffix":"b"}]}'],
  ['prefix not string', '{"source":[{"prefix":1}]}'],
  ['exists not boolean', '{"source":[{"exists":"yes"}]}'],
  ['numeric bad operator', '{"n":[{"numeric":["!=",1]}]}'],
  ['numeric odd length', '{"n":[{"numeric":[">"]}]}'],
  ['numeric wrong order', '{"n":[{"numeric":["<",5,">",1]}]}'],
  ['numeric bottom >= top', '{"n":[{"numeric":[">",5,"<",1]}]}'],
  ['numeric out of range', '{"n":[{"numeric":[">",6e9]}]}'],
  ['numeric value not number', '{"n":[{"numeric":[">","1"]}]}'],
  ['numeric = with others', '{"n":[{"numeric":["=",1,"<",5]}]}'],
  ['anything-but null', '{"s":[{"anything-but":null}]}'],
  ['anything-but nested list', '{"s":[{"anything-but":[["a"]]}]}'],
  ['anything-but empty list', '{"s":[{"anything-but":[]}]}'],
  ['anything-but unknown', '{"s":[{"anything-but":{"numeric":[">",1]}}]}'],
  ['anything-but list of numbers and strings', '{"s":[{"anything-but":["a",1]}]}'],
  ['anything-but empty prefix', '{"s":[{"anything-but":{"prefix":""}}]}'],
  ['anything-but empty suffix', '{"s":[{"anything-but":{"suffix":""}}]}'],
  ['wildcard consecutive stars', '{"s":[{"wildcard":"a**b"}]}'],
  ['wildcard bad escape', '{"s":[{"wildcard":"a\\\\b"}]}'],
  ['equals-ignore-case number', '{"s":[{"equals-ignore-case":1}]}'],
  ['cidr malformed', '{"s":[{"cidr":"10.0.0/8"}]}'],
  ['cidr prefix too big', '{"s":[{"cidr":"10.0.0.0/33"}]}'],
  ['$or not array', '{"$or":{"a":["b"]}}'],
  ['$or with non-objects', '{"$or":["a","b"]}'],
  ['nested array', '{"s":[["a"]]}'],
];

describe('invalid event patterns', () => {
  for (const [name, text] of invalid) {
    test(name, () => {
      assert.throws(() => parseEventPattern(text), { code: 'InvalidEventPatternException' });
    });
  }
  // event-ruler's reasons (the library EventBridge matches with), with the field they are at.
  const reasons: Array<[string, string]> = [
    ['{"s":[{"anything-but":["a",1]}]}', 'Inside anything but list, either all values are number or string, mixed type is not supported at "s"'],
    ['{"s":[{"anything-but":{"prefix":""}}]}', 'Null prefix/suffix not allowed at "s"'],
    ['{"s":[{"anything-but":{"suffix":""}}]}', 'Null prefix/suffix not allowed at "s"'],
  ];
  for (const [text, reason] of reasons) {
    test(`reason: ${text}`, () => {
      assert.throws(() => parseEventPattern(text), { code: 'InvalidEventPatternException', message: `Event pattern is not valid. Reason: ${reason}` });
    });
  }
  // An empty prefix or suffix of its own is a pattern event-ruler compiles: it matches any string.
  test('an empty prefix or suffix alone is valid', () => {
    assert.equal(testEventPattern('{"s":[{"prefix":""}]}', { s: 'x' }), true);
    assert.equal(testEventPattern('{"s":[{"suffix":""}]}', { s: 5 }), false);
  });
});

describe('ip parsing', () => {
  const cases: Array<[string, string | undefined]> = [
    ['10.0.0.1', '167772161'],
    ['255.255.255.255', '4294967295'],
    ['256.0.0.1', undefined],
    ['::1', '1'],
    ['::', '0'],
    ['2001:db8::', (0x20010db8n << 96n).toString()],
    ['::ffff:1.2.3.4', ((0xffffn << 32n) | 0x01020304n).toString()],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['hello', undefined],
  ];
  for (const [input, value] of cases) {
    test(input, () => assert.equal(parseIp(input)?.value.toString(), value));
  }
});
