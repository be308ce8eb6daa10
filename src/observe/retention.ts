import diagnostics_channel from 'node:diagnostics_channel';
import { expiredBefore } from '../core/log-retention.js';
import type { Clock } from '../ports/clock.js';
import type { LogStore } from '../ports/logs.js';

/**
 * How often a node sweeps log events past their group's retention (and once when it starts).
 * CloudWatch deletes expired events "typically within 72 hours"; an hour keeps a chatty
 * function's logs from outgrowing its retention by more than an hour's worth.
 */
export const RETENTION_SWEEP_INTERVAL_MS = 60 * 60_000;
/**
 * Events deleted per transaction. SQLite runs a statement synchronously, on the connection that
 * also serves invocations: a batch holds the event loop and the database for a few milliseconds
 * (1,000 events of 120 bytes took 3-28 ms here, 5,000 took 25-50), then requests waiting for
 * the database go first.
 */
export const RETENTION_SWEEP_BATCH = 500;
/** Log groups read per page while looking for those with a retention policy. */
const GROUP_PAGE = 100;

/** Every finished sweep: `{ groups, deleted, errors }`. */
export const logsRetentionChannel = diagnostics_channel.channel('stratus:logs:retention');

export interface LogsRetentionMessage {
  /** Groups with a retention policy that were swept. */
  groups: number;
  /** Events deleted. */
  deleted: number;
  /** What failed (a group's failure does not stop the others; the next sweep tries again). */
  errors: unknown[];
}

export interface RetentionSweeperOptions {
  intervalMs?: number;
  batchEvents?: number;
}

/** Deletes log events once they are past their group's retention, as CloudWatch Logs does. */
export interface RetentionSweeper {
  /** Sweeps now, then every interval (the timer does not keep the process alive). */
  start(): void;
  /** One sweep (joins the one under way); resolves to how many events it deleted. */
  sweep(): Promise<number>;
  /** Stops the timer and waits for a sweep under way to finish its current batch. */
  stop(): Promise<void>;
}

/**
 * The retention sweep: every group with a retention policy loses the events whose timestamp is
 * past it, in bounded batches (each its own transaction, which also keeps storedBytes right).
 * Several nodes may sweep one database at once: the store makes a delete count once.
 * Reads are not filtered meanwhile: CloudWatch too may return expired events until it deletes
 * them (PutRetentionPolicy's documentation).
 */
export function createRetentionSweeper(store: LogStore, clock: Clock, opts: RetentionSweeperOptions = {}): RetentionSweeper {
  const intervalMs = opts.intervalMs ?? RETENTION_SWEEP_INTERVAL_MS;
  const batch = Math.max(1, opts.batchEvents ?? RETENTION_SWEEP_BATCH);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = false;

  async function expireGroup(group: string, retentionInDays: number): Promise<number> {
    const before = expiredBefore(clock.now(), retentionInDays);
    let deleted = 0;
    while (!stopped) {
      const n = await store.expireEvents(group, before, batch);
      deleted += n;
      if (n < batch) break;
      // Between batches, requests waiting for the database go first.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return deleted;
  }

  async function run(): Promise<number> {
    const out: LogsRetentionMessage = { groups: 0, deleted: 0, errors: [] };
    try {
      let after: string | undefined;
      while (!stopped) {
        const page = await store.describeGroups(undefined, after, GROUP_PAGE);
        for (const g of page) {
          if (stopped) break;
          if (g.retentionInDays === null) continue;
          out.groups++;
          try {
            out.deleted += await expireGroup(g.logGroupName, g.retentionInDays);
          } catch (e) {
            out.errors.push(e);
          }
        }
        if (page.length < GROUP_PAGE) break;
        after = page[page.length - 1]!.logGroupName;
      }
    } catch (e) {
      out.errors.push(e);
    }
    if (logsRetentionChannel.hasSubscribers) logsRetentionChannel.publish(out);
    return out.deleted;
  }

  function sweep(): Promise<number> {
    running ??= run().finally(() => { running = undefined; });
    return running;
  }

  return {
    start() {
      stopped = false;
      if (timer) return;
      void sweep();
      timer = setInterval(() => void sweep(), intervalMs);
      timer.unref();
    },
    sweep,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
