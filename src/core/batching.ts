/**
 * Event source mapping batching decisions (SQS): how much to receive next, when a batch is
 * complete, and what the function's answer means for each message.
 */

/** Lambda's synchronous invoke payload limit: a batch stays under it. */
export const MAX_BATCH_PAYLOAD_BYTES = 6 * 1024 * 1024 - 1024;

export interface BatchProgress {
  batchSize: number;
  /** MaximumBatchingWindowInSeconds, in ms. */
  windowMs: number;
  collected: number;
  /** When the first record of the batch arrived (undefined while empty). */
  firstAt?: number;
  now: number;
}

/**
 * What the poller does next: invoke with what it has, or receive more (how many, and how long
 * to wait). While empty it long-polls (20 s); once it holds records it waits at most for the
 * rest of the batching window.
 */
export function nextBatchStep(p: BatchProgress): { kind: 'invoke' } | { kind: 'receive'; max: number; waitSeconds: number } {
  if (p.collected >= p.batchSize) return { kind: 'invoke' };
  const max = Math.min(10, p.batchSize - p.collected);
  if (p.collected === 0 || p.firstAt === undefined) return { kind: 'receive', max, waitSeconds: 20 };
  const left = p.firstAt + p.windowMs - p.now;
  if (left <= 0) return { kind: 'invoke' };
  return { kind: 'receive', max, waitSeconds: Math.min(20, Math.ceil(left / 1000)) };
}

export type BatchOutcome =
  | { kind: 'success' }
  | { kind: 'failure'; reason: string }
  | { kind: 'partial'; failed: Set<string> };

/**
 * Interprets a successful invocation's response under ReportBatchItemFailures (Lambda's rules):
 * an empty or null batchItemFailures, or an empty/null response, is full success; a response that
 * is not JSON, or an item without a valid itemIdentifier of this batch, fails the whole batch.
 */
export function batchItemFailures(response: string, messageIds: readonly string[]): BatchOutcome {
  const text = response.trim();
  if (text === '') return { kind: 'success' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'failure', reason: 'function response is not valid JSON' };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { kind: 'success' };
  const list = (json as Record<string, unknown>).batchItemFailures;
  if (list === undefined || list === null) return { kind: 'success' };
  if (!Array.isArray(list)) return { kind: 'failure', reason: 'batchItemFailures is not a list' };
  if (list.length === 0) return { kind: 'success' };
  const ids = new Set(messageIds);
  const failed = new Set<string>();
  for (const item of list) {
    const id = item && typeof item === 'object' ? (item as Record<string, unknown>).itemIdentifier : undefined;
    if (typeof id !== 'string' || id === '' || !ids.has(id)) {
      return { kind: 'failure', reason: `invalid itemIdentifier ${JSON.stringify(id ?? null)}` };
    }
    failed.add(id);
  }
  return { kind: 'partial', failed };
}

/**
 * FIFO queues keep order per message group: once a message of a group fails, every later
 * message of that group in the batch is treated as failed too (it must not overtake).
 */
export function fifoFailureClosure(
  records: readonly { id: string; groupId: string }[],
  failed: ReadonlySet<string>,
): Set<string> {
  const out = new Set<string>();
  const brokenGroups = new Set<string>();
  for (const r of records) {
    if (failed.has(r.id) || brokenGroups.has(r.groupId)) {
      out.add(r.id);
      brokenGroups.add(r.groupId);
    }
  }
  return out;
}
