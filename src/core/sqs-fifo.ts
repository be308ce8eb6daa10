import { createHash } from 'node:crypto';

/**
 * FIFO delivery rules. Within a message group, messages are delivered in send order; while a
 * group has a message in flight (received, not yet deleted, visibility not expired), nothing more
 * of that group is delivered. A delayed message also holds back the messages after it.
 */
export interface FifoCandidate {
  id: string;
  seq: number;
  groupId: string;
}

/** Per group, what is not visible now. */
export interface FifoGroupState {
  /** Lowest seq of the group's messages that are not visible (in flight or delayed). */
  firstInvisibleSeq: number;
  /** True when one of them is in flight (has been received). */
  inFlight: boolean;
}

/**
 * Picks up to `max` of the visible candidates (in seq order) that may be delivered now.
 * Returns their ids in delivery order.
 */
export function selectFifoMessages(
  candidates: readonly FifoCandidate[],
  groups: ReadonlyMap<string, FifoGroupState>,
  max: number,
): string[] {
  const sorted = [...candidates].sort((a, b) => a.seq - b.seq);
  const out: string[] = [];
  for (const c of sorted) {
    if (out.length >= max) break;
    const g = groups.get(c.groupId);
    if (g && (g.inFlight || c.seq > g.firstInvisibleSeq)) continue;
    out.push(c.id);
  }
  return out;
}

/** ContentBasedDeduplication: the SHA-256 of the body (attributes are not part of it). */
export function contentDeduplicationId(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

/** The deduplication interval of FIFO queues. */
export const DEDUP_WINDOW_MS = 5 * 60 * 1000;

/** SequenceNumber as SQS shows it: a large, increasing decimal string (20 digits here). */
export function formatSequenceNumber(seq: number): string {
  return String(seq).padStart(20, '0');
}

/** Key under which a deduplication id is remembered (DeduplicationScope queue or messageGroup). */
export function dedupScopeKey(scope: 'queue' | 'messageGroup', groupId: string): string {
  return scope === 'messageGroup' ? groupId : '';
}
