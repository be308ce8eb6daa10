import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  backoffWaitMs, decideAfterAttempt, functionErrorWaitMs, isExpired, policyOf, type AttemptOutcome, type RetryDecision,
} from '../../src/core/retry.js';

const t0 = 1_000_000;
const MIN = 60_000;

describe('async retry decisions', () => {
  // [name, policy config, attempts, backoffs, outcome, now offset, expected]
  const cases: Array<[string, { maximumRetryAttempts?: number; maximumEventAgeInSeconds?: number }, number, number, AttemptOutcome, number, RetryDecision]> = [
    ['success', {}, 1, 0, 'success', 10, { action: 'succeed' }],
    ['first function error waits 1 minute', {}, 1, 0, 'function-error', 10, { action: 'retry', at: t0 + 10 + MIN, backoff: false }],
    ['second function error waits 2 minutes', {}, 2, 0, 'function-error', 70_000, { action: 'retry', at: t0 + 70_000 + 2 * MIN, backoff: false }],
    ['third function error exhausts the default 2 retries', {}, 3, 0, 'function-error', 200_000, { action: 'fail', condition: 'RetriesExhausted' }],
    ['MaximumRetryAttempts 0', { maximumRetryAttempts: 0 }, 1, 0, 'function-error', 10, { action: 'fail', condition: 'RetriesExhausted' }],
    ['MaximumRetryAttempts 1', { maximumRetryAttempts: 1 }, 2, 0, 'function-error', 70_000, { action: 'fail', condition: 'RetriesExhausted' }],
    ['retry clamped to the max age (then EventAgeExceeded)', { maximumEventAgeInSeconds: 60 }, 1, 0, 'function-error', 10, { action: 'retry', at: t0 + MIN, backoff: false }],
    ['throttle backs off 1 s without an attempt', {}, 0, 0, 'throttle', 10, { action: 'retry', at: t0 + 10 + 1000, backoff: true }],
    ['throttle backoff doubles', {}, 0, 3, 'throttle', 10, { action: 'retry', at: t0 + 10 + 8000, backoff: true }],
    ['throttle backoff capped at 5 minutes', {}, 0, 20, 'throttle', 10, { action: 'retry', at: t0 + 10 + 5 * MIN, backoff: true }],
    ['system error backs off', {}, 1, 1, 'system-error', 10, { action: 'retry', at: t0 + 10 + 2000, backoff: true }],
    ['throttle past the max age', { maximumEventAgeInSeconds: 60 }, 0, 5, 'throttle', MIN, { action: 'fail', condition: 'EventAgeExceeded' }],
    ['throttle clamped to expiry', { maximumEventAgeInSeconds: 60 }, 0, 10, 'throttle', 30_000, { action: 'retry', at: t0 + MIN, backoff: true }],
    ['permanent error fails at once', {}, 1, 0, 'permanent-error', 10, { action: 'fail', condition: 'RetriesExhausted' }],
  ];
  for (const [name, cfg, attempts, backoffs, outcome, dt, expected] of cases) {
    test(name, () => {
      const d = decideAfterAttempt(policyOf(cfg, 1), { enqueuedAt: t0, attempts, backoffs }, outcome, t0 + dt);
      assert.deepEqual(d, expected);
    });
  }

  test('time scale shrinks waits and the max age', () => {
    const p = policyOf({ maximumEventAgeInSeconds: 60 }, 0.001);
    assert.equal(functionErrorWaitMs(1, 0.001), 60);
    assert.equal(functionErrorWaitMs(2, 0.001), 120);
    assert.equal(backoffWaitMs(0, 0.001), 1);
    assert.equal(isExpired(p, t0, t0 + 59), false);
    assert.equal(isExpired(p, t0, t0 + 60), true);
    assert.deepEqual(decideAfterAttempt(p, { enqueuedAt: t0, attempts: 1, backoffs: 0 }, 'function-error', t0 + 5), {
      action: 'retry', at: t0 + 60, backoff: false,
    });
  });

  test('defaults are Lambda\'s', () => {
    assert.deepEqual(policyOf(undefined, 1), { maximumRetryAttempts: 2, maximumEventAgeSeconds: 21600, timeScale: 1 });
    assert.equal(isExpired(policyOf(undefined, 1), t0, t0 + 6 * 3600_000 - 1), false);
    assert.equal(isExpired(policyOf(undefined, 1), t0, t0 + 6 * 3600_000), true);
  });
});
