import { createHash } from 'node:crypto';

/**
 * Lambda's recursive loop detection: past this many invocations of a function in the same chain of
 * requests (an event that makes the function write to what invokes it again), Lambda stops the
 * function's invocations unless its recursion config says Allow ("drops requests after exceeding
 * 16 invocations").
 */
export const RECURSION_LIMIT = 16;

/**
 * The invocations Lambda follows along a chain: those of the Invoke API (synchronous, and the
 * asynchronous ones as they run) and of SQS queues. Their trace header carries the chain; an
 * SDK in the function passes it on (X-Amzn-Trace-Id from _X_AMZN_TRACE_ID) to what it calls,
 * and a queue keeps it with its messages (AWSTraceHeader).
 */
export const RECURSION_SOURCES: ReadonlySet<string> = new Set(['api', 'async', 'sqs']);

/** Functions followed per chain at most (the oldest entries go first). */
const MAX_ENTRIES = 10;
const LINEAGE = /(^|;)\s*Lineage=([^;]*)/;
/** What a chain entry's key may be (ours: 8 hex digits; Lambda's have a version before them). */
const ENTRY_KEY = /^[0-9A-Za-z:]{1,32}$/;

/** A function's key in a chain: 8 hex digits of the hash of its unqualified ARN. */
export function lineageKey(functionArn: string): string {
  return createHash('sha256').update(functionArn).digest('hex').slice(0, 8);
}

/**
 * Counts one more invocation of the function `key` in the chain `trace` carries (its Lineage
 * field: `<key>:<count>` entries joined by `|`): the trace the invocation runs with, which
 * carries the count on, and the count (1 for the first invocation in the chain).
 */
export function countInChain(trace: string, key: string): { trace: string; count: number } {
  const m = LINEAGE.exec(trace);
  // A chain's first invocation (every Invoke API call from outside Lambda): nothing to parse.
  if (!m) return { trace: `${trace};Lineage=${key}:1`, count: 1 };
  const entries = new Map<string, number>();
  for (const e of m[2]!.split('|')) {
    const colon = e.lastIndexOf(':');
    const n = Number(e.slice(colon + 1));
    if (colon > 0 && Number.isSafeInteger(n) && n >= 0 && ENTRY_KEY.test(e.slice(0, colon))) entries.set(e.slice(0, colon), n);
  }
  const count = (entries.get(key) ?? 0) + 1;
  entries.delete(key);
  entries.set(key, count);
  while (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
  const value = [...entries].map(([k, n]) => `${k}:${n}`).join('|');
  // A replacer function: the caller's text is never read as a replacement pattern ($&, $1).
  return { trace: trace.replace(LINEAGE, (_all, start: string) => `${start}Lineage=${value}`), count };
}
