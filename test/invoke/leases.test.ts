import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalLeases } from '../../src/invoke/leases.js';

test('provisioned concurrency set again while its invocations run: they still give their place back', () => {
  const leases = new LocalLeases(10);
  leases.setProvisioned('f', 2, false);
  const a = leases.acquire('f', null);
  const b = leases.acquire('f', null);
  // A change event of the function (a tag, a permission) sets it again meanwhile.
  leases.setProvisioned('f', 2, false);
  a();
  b();
  // Both places are free again: two more run on them, and the pool (10 - 2) is untouched.
  const c = leases.acquire('f', null);
  const d = leases.acquire('f', null);
  const others = Array.from({ length: 8 }, () => leases.acquire('g', null));
  assert.throws(() => leases.acquire('g', null), { name: 'TooManyRequestsException' });
  for (const r of [c, d, ...others]) r();
});

test('provisioned concurrency removed while in use: the last release forgets it', () => {
  const leases = new LocalLeases(4);
  leases.setProvisioned('f', 1, false);
  const a = leases.acquire('f', null);
  leases.setProvisioned('f', 0, false);
  a();
  // The pool is whole again: 4 on-demand invocations fit.
  const all = Array.from({ length: 4 }, () => leases.acquire('f', null));
  assert.throws(() => leases.acquire('f', null), { name: 'TooManyRequestsException' });
  for (const r of all) r();
});
