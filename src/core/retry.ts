/**
 * Lambda's retry policy for asynchronous invocation, as pure decisions (time is passed in).
 *
 * - Function errors and timeouts use up an attempt; the retries wait about 1 minute, then
 *   about 2 minutes (MaximumRetryAttempts 0-2, default 2).
 * - Throttles (429) and system errors are retried with exponential backoff from 1 second up to
 *   5 minutes, without using up attempts, until the event is older than MaximumEventAgeInSeconds
 *   (60-21600, default 21600).
 * - A retry that would fall after the event's maximum age is scheduled at the expiry instant, so
 *   the event then fails with EventAgeExceeded.
 * All waits and the maximum age are multiplied by `timeScale` (1 = Lambda's; tests use less).
 */

export const DEFAULT_MAX_RETRY_ATTEMPTS = 2;
export const DEFAULT_MAX_EVENT_AGE_SECONDS = 21_600;
export const MIN_EVENT_AGE_SECONDS = 60;
export const MAX_RETRY_ATTEMPTS_LIMIT = 2;

const FUNCTION_ERROR_WAITS_MS = [60_000, 120_000];
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_CAP_MS = 300_000;

export interface AsyncRetryPolicy {
  maximumRetryAttempts: number;
  maximumEventAgeSeconds: number;
  timeScale: number;
}

export type AttemptOutcome =
  | 'success'
  /** The function ran and failed (error, timeout, runtime crash). */
  | 'function-error'
  /** TooManyRequestsException from the pipeline (concurrency). */
  | 'throttle'
  /** The platform failed to run the function (5xx, unexpected errors). */
  | 'system-error'
  /** The request can never succeed (function or version gone, invalid request). */
  | 'permanent-error';

export type FailureCondition = 'RetriesExhausted' | 'EventAgeExceeded';

export interface EventProgress {
  enqueuedAt: number;
  /** Attempts that reached the function, including the one just finished. */
  attempts: number;
  /** Consecutive throttle / system-error retries so far (drives the backoff). */
  backoffs: number;
}

export type RetryDecision =
  | { action: 'succeed' }
  | { action: 'retry'; at: number; backoff: boolean }
  | { action: 'fail'; condition: FailureCondition };

export function maxAgeMs(policy: AsyncRetryPolicy): number {
  return policy.maximumEventAgeSeconds * 1000 * policy.timeScale;
}

export function expiresAt(policy: AsyncRetryPolicy, enqueuedAt: number): number {
  return enqueuedAt + maxAgeMs(policy);
}

/** True when the event is too old to be attempted (checked before each attempt). */
export function isExpired(policy: AsyncRetryPolicy, enqueuedAt: number, now: number): boolean {
  return now >= expiresAt(policy, enqueuedAt);
}

/** Wait before function-error retry number `retry` (1 or 2). */
export function functionErrorWaitMs(retry: number, timeScale: number): number {
  const base = FUNCTION_ERROR_WAITS_MS[Math.min(retry, FUNCTION_ERROR_WAITS_MS.length) - 1] ?? FUNCTION_ERROR_WAITS_MS[0]!;
  return base * timeScale;
}

/** Backoff before throttle/system-error retry number `n` (0-based): 1 s, 2 s, 4 s ... 5 min. */
export function backoffWaitMs(n: number, timeScale: number): number {
  return Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(n, 30)) * timeScale;
}

/** What to do after an attempt finished with `outcome` at `now`. */
export function decideAfterAttempt(policy: AsyncRetryPolicy, progress: EventProgress, outcome: AttemptOutcome, now: number): RetryDecision {
  const expiry = expiresAt(policy, progress.enqueuedAt);
  switch (outcome) {
    case 'success':
      return { action: 'succeed' };
    case 'permanent-error':
      return { action: 'fail', condition: 'RetriesExhausted' };
    case 'function-error': {
      const retriesDone = progress.attempts - 1;
      if (retriesDone >= policy.maximumRetryAttempts) return { action: 'fail', condition: 'RetriesExhausted' };
      const at = now + functionErrorWaitMs(retriesDone + 1, policy.timeScale);
      return { action: 'retry', at: Math.min(at, expiry), backoff: false };
    }
    case 'throttle':
    case 'system-error': {
      if (now >= expiry) return { action: 'fail', condition: 'EventAgeExceeded' };
      const at = now + backoffWaitMs(progress.backoffs, policy.timeScale);
      return { action: 'retry', at: Math.min(at, expiry), backoff: true };
    }
  }
}

export function policyOf(
  config: { maximumRetryAttempts?: number | null; maximumEventAgeInSeconds?: number | null } | undefined,
  timeScale: number,
): AsyncRetryPolicy {
  return {
    maximumRetryAttempts: config?.maximumRetryAttempts ?? DEFAULT_MAX_RETRY_ATTEMPTS,
    maximumEventAgeSeconds: config?.maximumEventAgeInSeconds ?? DEFAULT_MAX_EVENT_AGE_SECONDS,
    timeScale,
  };
}
