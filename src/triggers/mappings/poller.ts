import { batchItemFailures, fifoFailureClosure, MAX_BATCH_PAYLOAD_BYTES, nextBatchStep } from '../../core/batching.js';
import { isStratusError } from '../../core/errors.js';
import { RECURSION_LIMIT } from '../../core/recursion.js';
import { compileFilterCriteria, recordPassesFilters, sqsFilterView } from '../../core/filter-criteria.js';
import type { CompiledPattern } from '../../core/event-pattern.js';
import { parseQueueArn } from '../../core/sqs-attributes.js';
import type { Invoker } from '../../invoke/types.js';
import type { ReceivedMessage, SqsService } from '../sqs/index.js';
import { sqsRecord } from './records.js';
import type { MappingRecord } from './store.js';

/** Concurrent invocations of a mapping without ScalingConfig.MaximumConcurrency. */
export const DEFAULT_MAPPING_CONCURRENCY = 5;
const ERROR_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

export type PollerState = 'idle' | 'running' | 'stopping' | 'stopped';
const TRANSITIONS: Record<PollerState, PollerState[]> = {
  idle: ['running', 'stopped'],
  running: ['stopping'],
  stopping: ['stopped'],
  stopped: [],
};

export interface PollerDeps {
  sqs: SqsService;
  invoker: Invoker;
  region: string;
  /** Records the last processing result (for diagnostics); never throws. */
  report?: (uuid: string, result: string) => void;
}

/**
 * The worker of one enabled mapping: pull-based and bounded. One receiver long-polls the queue
 * for a batch only when an invocation slot is free, so at most `concurrency` batches are in
 * flight (one receiver: two could both see the last free slot, and would split one batching
 * window into two batches); invocations run beside it;
 * messages are deleted only after the function succeeded (or per its partial batch response);
 * failed ones reappear after the queue's visibility timeout, and its redrive policy moves them to
 * the dead-letter queue. FIFO order per group is kept by the queue (an in-flight group is held).
 */
export class MappingPoller {
  private state: PollerState = 'idle';
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly filters: CompiledPattern[];
  private readonly concurrency: number;
  private slotWaiters: (() => void)[] = [];
  private lastReport = '';

  constructor(readonly mapping: MappingRecord, private readonly deps: PollerDeps) {
    this.filters = compileFilterCriteria(mapping.config.FilterCriteria);
    this.concurrency = mapping.config.ScalingConfig?.MaximumConcurrency ?? DEFAULT_MAPPING_CONCURRENCY;
  }

  get current(): PollerState {
    return this.state;
  }

  private go(to: PollerState): boolean {
    if (!TRANSITIONS[this.state].includes(to)) return false;
    this.state = to;
    return true;
  }

  start(): void {
    if (!this.go('running')) return;
    this.loops.push(this.receiveLoop());
  }

  /** Stops receiving, lets in-flight invocations finish, then resolves. */
  async stop(): Promise<void> {
    if (this.state === 'idle') {
      this.go('stopped');
      return;
    }
    if (!this.go('stopping')) return;
    this.abort.abort();
    for (const w of this.slotWaiters.splice(0)) w();
    await Promise.allSettled(this.loops);
    await Promise.allSettled([...this.running]);
    this.go('stopped');
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const signal = this.abort.signal;
      const t = setTimeout(done, ms);
      // The listener goes when the timer fires too: the signal lives as long as the mapping, and
      // a throttled or failing function makes it sleep after every batch.
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async slot(): Promise<void> {
    while (!this.stopped && this.running.size >= this.concurrency) {
      await new Promise<void>((r) => this.slotWaiters.push(r));
    }
  }

  private report(result: string): void {
    if (result === this.lastReport) return;
    this.lastReport = result;
    this.deps.report?.(this.mapping.uuid, result);
  }

  private async receiveLoop(): Promise<void> {
    const queue = parseQueueArn(this.mapping.eventSourceArn)?.name;
    if (!queue) return;
    let backoff = ERROR_BACKOFF_MS;
    while (!this.stopped) {
      await this.slot();
      if (this.stopped) return;
      let batch: ReceivedMessage[];
      try {
        batch = await this.collect(queue);
        backoff = ERROR_BACKOFF_MS;
      } catch (err) {
        this.report(`PROBLEM: ${(err as Error).message}`);
        await this.sleep(backoff);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
        continue;
      }
      if (batch.length === 0) continue;
      if (this.stopped) {
        // Stopped while holding a batch: hand it back at once.
        await this.deps.sqs.setVisibility(queue, batch.map((m) => m.receiptHandle), 0).catch(() => undefined);
        return;
      }
      const run = this.process(queue, batch).finally(() => {
        this.running.delete(run);
        this.slotWaiters.shift()?.();
      });
      this.running.add(run);
    }
  }

  /** Fills one batch: BatchSize records, the batching window, or the payload limit. */
  private async collect(queue: string): Promise<ReceivedMessage[]> {
    const { BatchSize, MaximumBatchingWindowInSeconds } = this.mapping.config;
    const batch: ReceivedMessage[] = [];
    const positions = new Map<string, number>();
    let bytes = 0;
    let firstAt: number | undefined;
    for (;;) {
      const step = nextBatchStep({
        batchSize: BatchSize, windowMs: MaximumBatchingWindowInSeconds * 1000, collected: batch.length,
        ...(firstAt !== undefined ? { firstAt } : {}), now: Date.now(),
      });
      if (step.kind === 'invoke' || this.stopped) return batch;
      const got = await this.deps.sqs.receiveFrom(queue, { max: step.max, waitSeconds: step.waitSeconds, signal: this.abort.signal });
      if (got.length === 0) {
        if (batch.length === 0 && this.stopped) return batch;
        if (batch.length > 0 && MaximumBatchingWindowInSeconds === 0) return batch;
        continue;
      }
      firstAt ??= Date.now();
      const overflow: ReceivedMessage[] = [];
      for (const m of got) {
        // Received again within the window (its visibility timeout ran out meanwhile): keep one
        // copy, with the newest receipt handle (the only one that still deletes it).
        const again = positions.get(m.messageId);
        if (again !== undefined) {
          batch[again] = m;
          continue;
        }
        const size = Buffer.byteLength(m.body) + 1024;
        if (batch.length > 0 && bytes + size > MAX_BATCH_PAYLOAD_BYTES) overflow.push(m);
        else {
          positions.set(m.messageId, batch.length);
          batch.push(m);
          bytes += size;
        }
      }
      if (overflow.length) {
        await this.deps.sqs.setVisibility(queue, overflow.map((m) => m.receiptHandle), 0);
        return batch;
      }
      if (MaximumBatchingWindowInSeconds === 0) return batch;
    }
  }

  private async process(queue: string, batch: ReceivedMessage[]): Promise<void> {
    const { sqs, invoker, region } = this.deps;
    const arn = this.mapping.eventSourceArn;
    const records = batch.map((m) => sqsRecord(m, arn, region));
    const keep: { m: ReceivedMessage; r: Record<string, unknown> }[] = [];
    const drop: string[] = [];
    batch.forEach((m, n) => {
      if (recordPassesFilters(this.filters, sqsFilterView(records[n]!))) keep.push({ m, r: records[n]! });
      else drop.push(m.receiptHandle);
    });
    try {
      if (drop.length) await sqs.deleteReceived(queue, drop);
      // Each message counts in the chain of requests its own trace carries (recursive loop
      // detection): those past the limit go in an invocation of their own, which Lambda stops
      // (unless the function allows loops), so that one message's trace never stops another's.
      const counted = keep.map((k) => ({ ...k, n: chainCountOf(invoker, this.mapping.functionName, k.m) }));
      const over = counted.filter((k) => k.n > RECURSION_LIMIT);
      const within = over.length ? counted.filter((k) => k.n <= RECURSION_LIMIT) : counted;
      for (const group of [within, over]) if (group.length) await this.deliver(queue, group);
    } catch (err) {
      this.report(`PROBLEM: ${(err as Error).message}`);
    }
  }

  /**
   * Invokes the function with `keep`'s records, in the trace of the one furthest along its chain
   * of requests (`n`, chainCountOf: a chain through the queue goes on), and deletes what it processed.
   */
  private async deliver(queue: string, keep: Array<{ m: ReceivedMessage; r: Record<string, unknown>; n: number }>): Promise<void> {
    const { sqs, invoker } = this.deps;
    const payload = Buffer.from(JSON.stringify({ Records: keep.map((k) => k.r) }));
    let trace: string | undefined;
    let furthest = -1;
    for (const k of keep) {
      if (k.m.attributes.AWSTraceHeader !== undefined && k.n > furthest) { trace = k.m.attributes.AWSTraceHeader; furthest = k.n; }
    }
    const req = {
      functionName: this.mapping.functionName,
      payload,
      invocationType: 'RequestResponse' as const,
      source: 'sqs',
      ...(this.mapping.qualifier !== undefined ? { qualifier: this.mapping.qualifier } : {}),
      ...(trace !== undefined ? { traceId: trace } : {}),
    };
    let result;
    try {
      result = await invoker.invoke(req);
    } catch (err) {
      if (isStratusError(err) && err.code === 'RecursiveInvocationException') {
        // A loop Lambda stops: the messages go to the queue's dead-letter queue (received again,
        // at once, until its maxReceiveCount), or are dropped.
        this.report(`PROBLEM: ${err.code}: ${err.message}`);
        const handles = keep.map((k) => k.m.receiptHandle);
        if (await sqs.redrives(queue)) await sqs.setVisibility(queue, handles, 0);
        else await sqs.deleteReceived(queue, handles);
        return;
      }
      // Throttled, function gone, service trouble: the messages come back after the visibility timeout.
      this.report(isStratusError(err) ? `PROBLEM: ${err.code}: ${err.message}` : `PROBLEM: ${(err as Error).message}`);
      await this.sleep(ERROR_BACKOFF_MS);
      return;
    }
    if (result.functionError) {
      this.report(`PROBLEM: Function call failed (${result.errorType ?? 'Unhandled'})`);
      return;
    }
    let toDelete = keep;
    if (this.mapping.config.FunctionResponseTypes.includes('ReportBatchItemFailures')) {
      const outcome = batchItemFailures(result.payload.toString('utf8'), keep.map((k) => k.m.messageId));
      if (outcome.kind === 'failure') {
        this.report(`PROBLEM: ${outcome.reason}`);
        return;
      }
      if (outcome.kind === 'partial') {
        const failed = keep[0]?.m.attributes.SequenceNumber !== undefined
          ? fifoFailureClosure(keep.map((k) => ({ id: k.m.messageId, groupId: k.m.groupId ?? '' })), outcome.failed)
          : outcome.failed;
        toDelete = keep.filter((k) => !failed.has(k.m.messageId));
      }
    }
    if (toDelete.length) await sqs.deleteReceived(queue, toDelete.map((k) => k.m.receiptHandle));
    this.report('OK');
  }
}

/** How far along its chain of requests a message's invocation of `functionName` would be (0: it carries no trace). */
function chainCountOf(invoker: Invoker, functionName: string, m: ReceivedMessage): number {
  const trace = m.attributes.AWSTraceHeader;
  return trace === undefined || !invoker.chainCount ? 0 : invoker.chainCount(functionName, trace);
}
