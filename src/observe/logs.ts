import diagnostics_channel from 'node:diagnostics_channel';
import type { Clock } from '../ports/clock.js';
import type { LogBatch, LogEvent, LogSink, LogStore } from '../ports/logs.js';

/** Every batch the log service persisted: `{ batches: LogBatch[] }`. */
export const logsChannel = diagnostics_channel.channel('stratus:logs');
/** Events the log service had to give up on: `{ reason, events, error? }`. */
export const logsDroppedChannel = diagnostics_channel.channel('stratus:logs:dropped');

export interface LogsPersistedMessage {
  batches: LogBatch[];
}

export interface LogsDroppedMessage {
  reason: 'buffer-full' | 'store-error' | 'closed';
  /** How many events were dropped. */
  events: number;
  group?: string;
  stream?: string;
  error?: unknown;
}

export interface LogServiceOptions {
  /**
   * How long a written line may wait in memory before a write to the store starts; a line
   * written while a write is under way waits for that write and then this long.
   */
  flushIntervalMs?: number;
  /** A batch is written at once when this many events are buffered. */
  batchEvents?: number;
  /** Buffer caps (events waiting and being written): past them new events are dropped and counted. */
  maxBufferedEvents?: number;
  maxBufferedBytes?: number;
  /** Attempts to write one batch before it is given up on (counted and reported). */
  attempts?: number;
  /** First retry delay; doubles per attempt. */
  retryDelayMs?: number;
  /** close() waits this long for the last writes of a stalled store, then counts them as dropped. */
  closeTimeoutMs?: number;
}

export interface LogServiceStats {
  /** Events accepted into the buffer. */
  accepted: number;
  /** Events persisted (including the service's own notice lines). */
  persisted: number;
  /** Events dropped because the buffer was full. */
  droppedBufferFull: number;
  /** Events given up on after the store failed every attempt (or never answered before close). */
  droppedStoreError: number;
  /** Events written after close(). */
  droppedClosed: number;
  /** Events waiting or being written right now. */
  bufferedEvents: number;
  bufferedBytes: number;
  /** Store failures seen (each failed attempt). */
  storeErrors: number;
}

/**
 * Where execution environments' lines go (a LogSink that never blocks and never throws),
 * persisted in batches off the invoke path.
 */
export interface LogService extends LogSink {
  /** Resolves when everything written before the call is persisted (or was given up on and counted). */
  flush(): Promise<void>;
  /** Flushes, then stops the timers; later writes are dropped and counted. */
  close(): Promise<void>;
  stats(): LogServiceStats;
}

interface Entry {
  seq: number;
  group: string;
  stream: string;
  events: LogEvent[];
  bytes: number;
}

/** What an event costs in memory, roughly: its message (UTF-16) plus the object around it. */
function sizeOf(events: LogEvent[]): number {
  let n = 0;
  for (const e of events) n += e.message.length * 2 + 64;
  return n;
}

const NOTICE = '[stratus]';

/**
 * The log service: an in-memory buffer in front of the log store. `write` appends to the
 * buffer and returns; a timer (or a full batch, or a `flush()`) starts a write of everything
 * buffered in one store call, one at a time. The buffer is bounded: when the store falls
 * behind, new events are dropped and counted, and one notice line per affected stream says how
 * many once there is room again. A failed store write is retried with backoff; a batch that
 * still fails is counted, reported on `stratus:logs:dropped`, and noted in its streams.
 */
export function createLogService(store: LogStore, clock: Clock, opts: LogServiceOptions = {}): LogService {
  const flushIntervalMs = opts.flushIntervalMs ?? 200;
  const batchEvents = opts.batchEvents ?? 5000;
  const maxEvents = opts.maxBufferedEvents ?? 100_000;
  const maxBytes = opts.maxBufferedBytes ?? 64 * 1024 * 1024;
  const attempts = Math.max(1, opts.attempts ?? 5);
  const retryDelayMs = opts.retryDelayMs ?? 100;
  const closeTimeoutMs = opts.closeTimeoutMs ?? 15_000;

  let buffer: Entry[] = [];
  let seq = 0; // last sequence number handed out
  let done = 0; // every entry with seq <= done is persisted or given up on
  let bufferedEvents = 0;
  let bufferedBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let closed = false;
  let retryWait: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  const waiters: Array<{ seq: number; resolve: () => void }> = [];
  /** Streams that lost events, and how many, not yet noted in the stream. */
  const lost = new Map<string, { group: string; stream: string; full: number; failed: number }>();
  const stats = { accepted: 0, persisted: 0, droppedBufferFull: 0, droppedStoreError: 0, droppedClosed: 0, storeErrors: 0 };

  const storeBatch = store.appendBatch
    ? (b: LogBatch[]) => store.appendBatch!(b)
    : async (b: LogBatch[]) => { for (const x of b) await store.append(x.group, x.stream, x.events); };

  function noteLost(group: string, stream: string, kind: 'full' | 'failed', n: number): void {
    const k = `${group}\u0000${stream}`;
    let l = lost.get(k);
    if (!l) lost.set(k, (l = { group, stream, full: 0, failed: 0 }));
    l[kind] += n;
  }

  function publishDropped(msg: LogsDroppedMessage): void {
    if (logsDroppedChannel.hasSubscribers) logsDroppedChannel.publish(msg);
  }

  function schedule(now: boolean): void {
    if (running) return; // the running loop picks the buffer up when it is done
    if (now) {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void run(), 0);
    } else if (!timer) {
      timer = setTimeout(() => void run(), flushIntervalMs);
    }
    timer.unref?.();
  }

  function write(group: string, stream: string, events: LogEvent[]): void {
    try {
      if (!events || events.length === 0) return;
      if (closed) {
        stats.droppedClosed += events.length;
        publishDropped({ reason: 'closed', events: events.length, group, stream });
        return;
      }
      const bytes = sizeOf(events);
      if (bufferedEvents + events.length > maxEvents || bufferedBytes + bytes > maxBytes) {
        stats.droppedBufferFull += events.length;
        noteLost(group, stream, 'full', events.length);
        publishDropped({ reason: 'buffer-full', events: events.length, group, stream });
        return;
      }
      // The caller may reuse its array: keep our own copy of the list (events are plain data).
      buffer.push({ seq: ++seq, group, stream, events: events.slice(), bytes });
      bufferedEvents += events.length;
      bufferedBytes += bytes;
      stats.accepted += events.length;
      schedule(bufferedEvents >= batchEvents);
    } catch {
      // never throw into the invoke path
    }
  }

  /** Notice lines for streams that lost events; they bypass the caps (one small line per stream). */
  function takeNotices(): Entry[] {
    if (lost.size === 0) return [];
    const now = clock.now();
    const out: Entry[] = [];
    for (const l of lost.values()) {
      const parts: string[] = [];
      if (l.full) parts.push(`${l.full} log events dropped: the log buffer was full (the log store is falling behind)`);
      if (l.failed) parts.push(`${l.failed} log events lost: the log store failed to persist them`);
      const events = parts.map((p) => ({ timestamp: now, message: `${NOTICE} ${p}\n` }));
      const bytes = sizeOf(events);
      out.push({ seq: ++seq, group: l.group, stream: l.stream, events, bytes });
      bufferedEvents += events.length;
      bufferedBytes += bytes;
    }
    lost.clear();
    return out;
  }

  function settle(upTo: number): void {
    if (upTo > done) done = upTo;
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.seq <= done) {
        const w = waiters[i]!;
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      // Not unref'd: a batch being retried is work in progress that a flush() may wait for.
      const t = setTimeout(() => { retryWait = undefined; resolve(); }, ms);
      retryWait = { timer: t, resolve };
    });
  }

  /**
   * Takes entries from the buffer head up to one batch's worth. They go to the store in the
   * order they were written (one LogBatch per write), so event ids follow the order lines came in.
   */
  function takeBatch(): Entry[] {
    let k = 0;
    let n = 0;
    while (k < buffer.length && (k === 0 || n + buffer[k]!.events.length <= batchEvents)) {
      n += buffer[k]!.events.length;
      k++;
    }
    return buffer.splice(0, k);
  }

  async function run(): Promise<void> {
    if (running) return;
    running = true;
    let persistedOnce = false;
    if (timer) { clearTimeout(timer); timer = undefined; }
    try {
      for (;;) {
        // Notices take the newest sequence numbers: they go after what is already buffered.
        buffer.push(...takeNotices());
        if (buffer.length === 0) break;
        // What came in while the last batch was written waits for the next interval, unless it
        // is a batch's worth or someone waits for it: back to back, every small batch would
        // pay a transaction's fixed cost (at 7,000 invocations per second, a commit every
        // ~50 ms instead of every interval).
        if (persistedOnce && !closed && waiters.length === 0 && bufferedEvents < batchEvents) break;
        persistedOnce = true;
        const entries = takeBatch();
        const batches: LogBatch[] = entries.map((e) => ({ group: e.group, stream: e.stream, events: e.events }));
        const count = entries.reduce((s, e) => s + e.events.length, 0);
        const bytes = entries.reduce((s, e) => s + e.bytes, 0);
        let ok = false;
        let lastError: unknown;
        for (let attempt = 1; attempt <= attempts; attempt++) {
          try {
            await storeBatch(batches);
            ok = true;
            break;
          } catch (err) {
            lastError = err;
            stats.storeErrors++;
            if (attempt < attempts) await sleep(retryDelayMs * 2 ** (attempt - 1));
          }
        }
        bufferedEvents -= count;
        bufferedBytes -= bytes;
        if (ok) {
          stats.persisted += count;
          if (logsChannel.hasSubscribers) logsChannel.publish({ batches } satisfies LogsPersistedMessage);
        } else {
          stats.droppedStoreError += count;
          for (const b of batches) {
            // A notice that itself failed is not renoted (no loop on a dead store).
            const own = b.events.filter((e) => e.message.startsWith(NOTICE)).length;
            if (b.events.length > own) noteLost(b.group, b.stream, 'failed', b.events.length - own);
            publishDropped({ reason: 'store-error', events: b.events.length, group: b.group, stream: b.stream, error: lastError });
          }
          if (closed) lost.clear(); // closing on a failing store: report, do not retry forever
        }
        settle(entries[entries.length - 1]!.seq);
      }
    } finally {
      running = false;
      if (buffer.length === 0) {
        // Nothing is waiting in the buffer (the loop drained it), so every seq handed out is done.
        settle(seq);
      } else {
        schedule(bufferedEvents >= batchEvents);
      }
    }
  }

  function flush(): Promise<void> {
    const target = seq;
    if (target <= done && !running && lost.size === 0) return Promise.resolve();
    const p = new Promise<void>((resolve) => waiters.push({ seq: target, resolve }));
    if (!running) {
      if (timer) { clearTimeout(timer); timer = undefined; }
      void run();
    }
    return p;
  }

  async function close(): Promise<void> {
    closed = true;
    let t: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      flush().then(() => false),
      new Promise<boolean>((resolve) => { t = setTimeout(() => resolve(true), closeTimeoutMs); }),
    ]);
    clearTimeout(t);
    if (timer) { clearTimeout(timer); timer = undefined; }
    if (retryWait) { clearTimeout(retryWait.timer); retryWait.resolve(); retryWait = undefined; }
    if (timedOut && bufferedEvents > 0) {
      // The store never answered: what is still buffered is given up on, counted and reported.
      stats.droppedStoreError += bufferedEvents;
      publishDropped({ reason: 'closed', events: bufferedEvents });
      settle(seq);
    }
  }

  return {
    write,
    flush,
    close,
    stats: () => ({ ...stats, bufferedEvents, bufferedBytes }),
  };
}
