/** A day in milliseconds: CloudWatch Logs' retention is counted in days. */
export const DAY_MS = 24 * 3600_000;

/**
 * The timestamp before which a log group's events are past its retention (PutLogEvents refuses
 * them as expired; the retention sweep deletes them); -Infinity for a group that keeps its
 * events forever (no retention policy).
 */
export function expiredBefore(now: number, retentionInDays: number | null): number {
  return retentionInDays === null ? -Infinity : now - retentionInDays * DAY_MS;
}
