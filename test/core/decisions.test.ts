import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { functionArn, parseFunctionRef, resolveQualifier } from '../../src/core/arn.js';
import { decideAdmission, pooledProvisioned } from '../../src/core/concurrency.js';
import { pickAliasVersion, splitByWeight } from '../../src/core/routing.js';

const locale = { region: 'us-east-1', accountId: '000000000000' };

describe('function references', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['my-fn', 'my-fn', undefined],
    ['my-fn:live', 'my-fn', 'live'],
    ['my-fn:$LATEST', 'my-fn', '$LATEST'],
    ['000000000000:function:my-fn', 'my-fn', undefined],
    ['000000000000:function:my-fn:3', 'my-fn', '3'],
    ['arn:aws:lambda:us-east-1:000000000000:function:my-fn', 'my-fn', undefined],
    ['arn:aws:lambda:us-east-1:000000000000:function:my-fn:prod', 'my-fn', 'prod'],
  ];
  for (const [input, name, qualifier] of cases) {
    test(input, () => {
      const ref = parseFunctionRef(input, locale);
      assert.equal(ref.name, name);
      assert.equal(ref.qualifier, qualifier);
    });
  }
  for (const bad of ['', 'has space', 'a'.repeat(65), 'arn:aws:lambda:us-east-1:000000000000:function:', 'x'.repeat(171)]) {
    test(`refuses ${JSON.stringify(bad.slice(0, 20))}`, () => {
      assert.throws(() => parseFunctionRef(bad, locale), { code: 'ValidationException' });
    });
  }
  test('NamespacedFunctionName (Invoke, GetFunction, ...): dots, $LATEST.PUBLISHED, -iso regions; FunctionName: no dots', () => {
    assert.deepEqual(parseFunctionRef('f.1', locale, 'NamespacedFunctionName'), { name: 'f.1' });
    assert.deepEqual(parseFunctionRef('f1:$LATEST.PUBLISHED', locale, 'NamespacedFunctionName'), { name: 'f1', qualifier: '$LATEST.PUBLISHED' });
    assert.deepEqual(parseFunctionRef('arn:aws-iso-b:lambda:us-isob-east-1:000000000000:function:f.1:live', undefined, 'NamespacedFunctionName'),
      { name: 'f.1', qualifier: 'live', region: 'us-isob-east-1', accountId: '000000000000' });
    assert.deepEqual(parseFunctionRef('arn:aws:lambda:us-gov-west-1:000000000000:function:f:2'), { name: 'f', qualifier: '2', region: 'us-gov-west-1', accountId: '000000000000' });
    assert.deepEqual(parseFunctionRef('us-iso-east-1:f'), { name: 'f', region: 'us-iso-east-1' });
    for (const bad of ['f.1', 'f1:$LATEST.PUBLISHED', 'arn:aws:lambda:us-east-1:000000000000:function:f.1']) {
      assert.throws(() => parseFunctionRef(bad, locale), { code: 'ValidationException' }, bad);
    }
    assert.throws(() => parseFunctionRef('f1:$LATEST.X', locale, 'NamespacedFunctionName'), { code: 'ValidationException' });
  });
  test('another account is not found', () => {
    assert.throws(() => parseFunctionRef('111111111111:function:f', locale), { code: 'ResourceNotFoundException' });
  });
  test('qualifier in name and parameter must agree', () => {
    assert.equal(resolveQualifier({ name: 'f', qualifier: '1' }, '1'), '1');
    assert.equal(resolveQualifier({ name: 'f' }, 'live'), 'live');
    assert.throws(() => resolveQualifier({ name: 'f', qualifier: '1' }, '2'), { code: 'InvalidParameterValueException' });
  });
  test('ARN format', () => {
    assert.equal(functionArn(locale, 'f'), 'arn:aws:lambda:us-east-1:000000000000:function:f');
    assert.equal(functionArn(locale, 'f', 'live'), 'arn:aws:lambda:us-east-1:000000000000:function:f:live');
  });
});

describe('admission', () => {
  const base = { accountLimit: 10, totalReserved: 4, reserved: null as number | null, inFlightFunction: 0, inFlightUnreserved: 0 };
  const table: Array<[string, Partial<typeof base> & { reserved?: number | null }, string | true]> = [
    ['unreserved below pool', { inFlightUnreserved: 5 }, true],
    ['unreserved pool full (10 - 4 reserved)', { inFlightUnreserved: 6 }, 'ConcurrentInvocationLimitExceeded'],
    ['reserved below its limit', { reserved: 4, inFlightFunction: 3, inFlightUnreserved: 6 }, true],
    ['reserved at its limit', { reserved: 4, inFlightFunction: 4 }, 'ReservedFunctionConcurrentInvocationLimitExceeded'],
    ['reserved zero always throttles', { reserved: 0 }, 'ReservedFunctionConcurrentInvocationLimitExceeded'],
    ['reservations above the limit leave no pool', { totalReserved: 12 }, 'ConcurrentInvocationLimitExceeded'],
    ['provisioned concurrency is out of the pool (10 - 4 reserved - 3 provisioned)', { inFlightUnreserved: 3, totalProvisioned: 3 } as any, 'ConcurrentInvocationLimitExceeded'],
    ['below it, the pool admits', { inFlightUnreserved: 2, totalProvisioned: 3 } as any, true],
    ['a function runs on its provisioned concurrency first, pool full or not', { provisioned: 2, inFlightProvisioned: 1, inFlightUnreserved: 6 } as any, 'provisioned'],
    ['beyond it, on the pool (spillover)', { provisioned: 2, inFlightProvisioned: 2, inFlightUnreserved: 2, totalProvisioned: 2 } as any, true],
    ['beyond it, the pool full: throttled', { provisioned: 2, inFlightProvisioned: 2, inFlightUnreserved: 4, totalProvisioned: 2 } as any, 'ConcurrentInvocationLimitExceeded'],
    ['a reserved function runs on its provisioned concurrency first', { reserved: 4, inFlightFunction: 1, provisioned: 3, inFlightProvisioned: 2, functionProvisioned: 3 } as any, 'provisioned'],
    ['a reserved function\'s on demand: its reservation less its provisioned concurrency', { reserved: 4, inFlightFunction: 1, functionProvisioned: 3 } as any, 'ReservedFunctionConcurrentInvocationLimitExceeded'],
    ['below it, the reservation admits', { reserved: 4, inFlightFunction: 0, functionProvisioned: 3, inFlightProvisioned: 3, provisioned: 3 } as any, true],
  ];
  for (const [name, input, expected] of table) {
    test(name, () => {
      const d = decideAdmission({ ...base, ...input } as any);
      if (expected === true) assert.deepEqual(d, { admit: true });
      else if (expected === 'provisioned') assert.deepEqual(d, { admit: true, provisioned: true });
      else assert.deepEqual(d, { admit: false, reason: expected });
    });
  }
});

describe('provisioned concurrency out of the unreserved pool', () => {
  test('only functions without a reservation count, the one asking left out', () => {
    const totals = new Map([['a', { total: 3, reserved: false }], ['b', { total: 5, reserved: true }], ['c', { total: 2, reserved: false }]]);
    assert.equal(pooledProvisioned(totals), 5);
    assert.equal(pooledProvisioned(totals, 'a'), 2);
    assert.equal(pooledProvisioned(totals, 'b'), 5);
    assert.equal(pooledProvisioned(new Map()), 0);
  });
});

describe('alias routing', () => {
  test('weights split by the random draw', () => {
    assert.equal(pickAliasVersion('1', {}, 0.99), '1');
    assert.equal(pickAliasVersion('1', { '2': 0.1 }, 0.05), '2');
    assert.equal(pickAliasVersion('1', { '2': 0.1 }, 0.1), '1');
    assert.equal(pickAliasVersion('1', { '2': 1 }, 0.999), '2');
  });
});

describe('provisioned concurrency of a weighted alias', () => {
  const table: Array<[number, string, Record<string, number>, Array<{ version: string; count: number }>]> = [
    [3, '1', {}, [{ version: '1', count: 3 }]],
    [10, '1', { '2': 0.3 }, [{ version: '1', count: 7 }, { version: '2', count: 3 }]],
    [1, '1', { '2': 0.3 }, [{ version: '1', count: 1 }]],
    [2, '1', { '2': 0.5 }, [{ version: '1', count: 1 }, { version: '2', count: 1 }]],
    [4, '1', { '2': 1 }, [{ version: '2', count: 4 }]],
  ];
  for (const [count, primary, weights, expected] of table) {
    test(`${count} over ${primary} + ${JSON.stringify(weights)}`, () => {
      assert.deepEqual(splitByWeight(count, primary, weights), expected);
    });
  }
});
