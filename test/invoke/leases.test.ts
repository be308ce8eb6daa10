import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalLeases } from '../../src/invoke/leases.js';

const LIVE = 'f\0live\x001';
const only = (id: string, n: number) => new Map([[id, n]]);
const throttled = (reason: string) => ({ name: 'TooManyRequestsException', extra: { Reason: reason, retryAfterSeconds: '1' } });

test('provisioned concurrency set again while its invocations run: they still give their place back', () => {
  const leases = new LocalLeases(10);
  leases.setProvisioned('f', only(LIVE, 2), false);
  const a = leases.acquire('f', null, LIVE);
  const b = leases.acquire('f', null, LIVE);
  assert.deepEqual([a.allocation, b.allocation], [LIVE, LIVE]);
  // A change event of the function (a tag, a permission) sets it again meanwhile.
  leases.setProvisioned('f', only(LIVE, 2), false);
  a.release();
  b.release();
  // Both places are free again: two more run on them, and the pool (10 - 2) is untouched.
  const c = leases.acquire('f', null, LIVE);
  const d = leases.acquire('f', null, LIVE);
  const others = Array.from({ length: 8 }, () => leases.acquire('g', null));
  assert.throws(() => leases.acquire('g', null), { name: 'TooManyRequestsException' });
  for (const l of [c, d, ...others]) l.release();
});

test('provisioned concurrency removed while in use: the last release forgets it', () => {
  const leases = new LocalLeases(4);
  leases.setProvisioned('f', only(LIVE, 1), false);
  const a = leases.acquire('f', null, LIVE);
  leases.setProvisioned('f', new Map(), false);
  a.release();
  // The pool is whole again: 4 on-demand invocations fit, of the alias too.
  const all = Array.from({ length: 4 }, () => leases.acquire('f', null, LIVE));
  assert.ok(all.every((l) => l.allocation === null));
  assert.throws(() => leases.acquire('f', null), { name: 'TooManyRequestsException' });
  for (const l of all) l.release();
});

test('an allocation is only for the invocations of its qualifier: exact counts', () => {
  const leases = new LocalLeases(10);
  leases.setProvisioned('f', only(LIVE, 3), false);
  // Unqualified (or another qualifier's) invocations: the pool, 10 - 3.
  const pooled = Array.from({ length: 7 }, () => leases.acquire('f', null));
  assert.throws(() => leases.acquire('f', null), throttled('ConcurrentInvocationLimitExceeded'));
  assert.throws(() => leases.acquire('f', null, 'f\x001\x001'), throttled('ConcurrentInvocationLimitExceeded'));
  // The alias's three still run on its provisioned concurrency; the fourth has nowhere to spill.
  const live = Array.from({ length: 3 }, () => leases.acquire('f', null, LIVE));
  assert.ok(live.every((l) => l.allocation === LIVE));
  assert.throws(() => leases.acquire('f', null, LIVE), throttled('ConcurrentInvocationLimitExceeded'));
  // One pooled place freed: the alias's next spills over to it, on demand.
  pooled.pop()!.release();
  const spilled = leases.acquire('f', null, LIVE);
  assert.equal(spilled.allocation, null);
  for (const l of [...pooled, ...live, spilled]) l.release();
});

test('a reserved function\'s provisioned concurrency comes out of its reservation', () => {
  const leases = new LocalLeases(10);
  leases.setTotalReserved(4);
  leases.setProvisioned('f', only(LIVE, 3), true);
  // The reservation less the provisioned concurrency for everything else; the pool keeps 10 - 4.
  const one = leases.acquire('f', 4);
  assert.throws(() => leases.acquire('f', 4), throttled('ReservedFunctionConcurrentInvocationLimitExceeded'));
  const live = Array.from({ length: 3 }, () => leases.acquire('f', 4, LIVE));
  assert.throws(() => leases.acquire('f', 4, LIVE), throttled('ReservedFunctionConcurrentInvocationLimitExceeded'));
  const others = Array.from({ length: 6 }, () => leases.acquire('g', null));
  assert.throws(() => leases.acquire('g', null), throttled('ConcurrentInvocationLimitExceeded'));
  for (const l of [one, ...live, ...others]) l.release();
});
