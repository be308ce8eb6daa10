/**
 * The durable event queue behind asynchronous invocation (and any other "accept now, run at
 * least once later" work). Embedded: a SQLite table; cluster: Postgres (same queries) or a
 * NATS JetStream work queue.
 *
 * Each entry has a state, a time it becomes visible (`visibleAt`) and a lease count. `lease()`
 * hands out visible entries and hides them until the lease expires; an entry whose lease expired
 * (its worker died) is visible again and is handed out anew, so every entry runs at least once.
 * The lease count is also a fencing token: `complete`/`retryAt`/`extend` with a stale count do
 * nothing. Finished entries stay listable (without their body) until pruned.
 */
export type EventEntryState = 'queued' | 'running' | 'retrying' | 'succeeded' | 'failed';

export interface NewEventEntry {
  id: string;
  /** Logical queue ('async', ...): workers lease from one queue. */
  queue: string;
  /** Grouping key for listing (the function name for async invocations). */
  group: string;
  body: Buffer;
  /** Small mutable JSON state owned by the consumer (attempt counts, last error...). */
  meta: Record<string, unknown>;
  enqueuedAt: number;
  /** When the entry may first be leased (default: enqueuedAt). */
  visibleAt?: number;
}

export interface LeasedEventEntry {
  id: string;
  queue: string;
  group: string;
  body: Buffer;
  meta: Record<string, unknown>;
  enqueuedAt: number;
  /** How many times the entry was leased, this lease included (fencing token). */
  leases: number;
  /** State before this lease: 'queued', 'retrying', or 'running' when a lease expired. */
  previousState: EventEntryState;
}

export interface EventEntryInfo {
  id: string;
  queue: string;
  group: string;
  state: EventEntryState;
  meta: Record<string, unknown>;
  enqueuedAt: number;
  updatedAt: number;
  /** Null once finished. */
  visibleAt: number | null;
  leases: number;
}

export interface EventLeaseRef {
  id: string;
  leases: number;
}

export interface EventQueue {
  /** Persists the entries; resolves only once they are durable (committed). */
  enqueue(entries: NewEventEntry[]): Promise<void>;
  /** Leases up to `max` visible entries of `queue`, oldest visibility first, until now + leaseMs. */
  lease(queue: string, max: number, now: number, leaseMs: number): Promise<LeasedEventEntry[]>;
  /** Pushes the lease expiry of entries still held (heartbeat). */
  extend(refs: EventLeaseRef[], until: number): Promise<void>;
  /** Returns a leased entry to the queue, visible at `visibleAt` (state 'retrying'). */
  retryAt(ref: EventLeaseRef, visibleAt: number, meta: Record<string, unknown>, now: number): Promise<boolean>;
  /** Finishes a leased entry (acknowledge): drops its body, keeps its record for listing. */
  complete(ref: EventLeaseRef, state: 'succeeded' | 'failed', meta: Record<string, unknown>, now: number): Promise<boolean>;
  /**
   * Hands leased entries back unfinished (a node stopping gracefully): each one still held under
   * that lease count is visible again at once, back in its state before the lease, its meta
   * untouched (an attempt cut off counts as none, as when a lease expires). Returns how many.
   */
  release(refs: EventLeaseRef[], now: number): Promise<number>;
  /** Startup recovery on a single node: every running entry of `queue` is visible again, back in its state before the lease ('queued' or 'retrying'). */
  releaseAll(queue: string, now: number): Promise<number>;
  get(id: string): Promise<EventEntryInfo | undefined>;
  /** Newest first. */
  list(queue: string, opts: { group?: string; states?: EventEntryState[]; limit: number }): Promise<EventEntryInfo[]>;
  /** Counts per state for a queue (optionally one group). */
  counts(queue: string, group?: string): Promise<Record<EventEntryState, number>>;
  /** Deletes finished entries updated before `before`. Returns how many. */
  prune(queue: string, before: number): Promise<number>;
}
