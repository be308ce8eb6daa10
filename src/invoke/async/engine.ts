import diagnostics_channel from 'node:diagnostics_channel';
import { functionArn } from '../../core/arn.js';
import { isStratusError } from '../../core/errors.js';
import type { Locale } from '../../core/model.js';
import { decideAfterAttempt, isExpired, policyOf, type AttemptOutcome, type FailureCondition } from '../../core/retry.js';
import type { Clock, ControlSnapshot, EventQueue, LeasedEventEntry, TargetDispatcher } from '../../ports/index.js';
import type { AsyncInvokeQueue, InvokeRequest, InvokeResult, Invoker } from '../types.js';
import type { EventInvokeConfigs } from './configs.js';
import { errorMessageOf, invocationRecord, type RecordCondition } from './record.js';

export const ASYNC_QUEUE = 'async';

/** Observability: every state change of an async event is published here (off the hot path). */
export const asyncChannel = diagnostics_channel.channel('stratus:async');

/** What the engine keeps per event in the queue entry's meta (see `stratus events`). */
export interface AsyncEventMeta {
  /** FunctionName as the caller gave it (name or ARN, maybe qualified). */
  fn: string;
  /** Explicit Qualifier parameter, if any. */
  qual?: string;
  /** The qualifier the event was resolved through: '$LATEST', a version, or an alias (config key). */
  cq: string;
  attempts: number;
  backoffs: number;
  trace?: string;
  /** The tenant it was invoked for (X-Amz-Tenant-Id): each attempt runs in that tenant's environments. */
  tenant?: string;
  lastError?: string;
  lastStatus?: number;
  executedVersion?: string;
  /**
   * The last attempt's function error (X-Amz-Function-Error) and its error payload (UTF-8, at
   * most LAST_PAYLOAD_MAX bytes): an event whose age runs out between retries reports them.
   */
  lastFunctionError?: InvokeResult['functionError'];
  lastPayload?: string;
  condition?: RecordCondition;
  nextAttemptAt?: number;
  destinationError?: string;
  source?: string;
}

/** The largest error payload kept with an event between its attempts (see AsyncEventMeta.lastPayload). */
const LAST_PAYLOAD_MAX = 256 * 1024;

export interface AsyncEngineDeps {
  queue: EventQueue;
  invoker: Invoker;
  snapshot: ControlSnapshot;
  targets: TargetDispatcher;
  configs: EventInvokeConfigs;
  locale: Locale;
  clock: Clock;
  timeScale: number;
  /** Events processed at once (bounded pull). */
  concurrency: number;
  /** Lease length; held leases are extended every third of it. */
  leaseMs?: number;
  /** Idle poll interval (other nodes' events, expired leases). */
  pollMs?: number;
  /** Recover every running entry at start (true on a single embedded node). */
  releaseOnStart: boolean;
  /** Finished entries are kept this long for `stratus events`. */
  retentionMs?: number;
}

/**
 * The asynchronous invocation engine: Event invocations are stored durably (enqueue resolves
 * after the commit), bounded pull workers lease them, run them through the one invoker, apply
 * Lambda's retry policy, send destinations / the DLQ, and only then acknowledge.
 */
export class AsyncEngine implements AsyncInvokeQueue {
  private running = false;
  /**
   * Set once stop() gave up waiting: late outcomes are not recorded, and an attempt that ends
   * after it is handed back as it ends (see handBackCutOff).
   */
  private abandoned = false;
  private inflight = new Map<string, LeasedEventEntry>();
  /**
   * Every event this node leased and has not acknowledged (running, decided, or left unfinished
   * by a shutdown): what a stop hands back so that it runs elsewhere at once, not a lease later.
   */
  private held = new Map<string, LeasedEventEntry>();
  /**
   * Events whose outcome is decided and whose record or dead letter is being delivered, before
   * their acknowledgement: a stop waits for them (bounded) and never hands them back (they would
   * run and be delivered again).
   */
  private decided = new Set<string>();
  /**
   * Events whose outcome is decided and whose acknowledgement (complete / retryAt) is being
   * group-committed: they no longer hold a worker slot, but still hold their lease. Bounded
   * (ackLimit): when that many are pending the pump leases nothing more.
   */
  private acking = new Map<string, LeasedEventEntry>();
  private readonly ackLimit: number;
  private wakeResolve: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private timers = new Set<NodeJS.Timeout>();
  private heartbeat: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly leaseMs: number;
  private readonly pollMs: number;

  constructor(private readonly deps: AsyncEngineDeps) {
    // Held leases are extended every third of it: an event only comes back to another node when
    // the one running it stopped extending (it died, or hung that long), so the lease can be
    // short. (Five minutes kept a SIGKILLed node's events from the others for five minutes.)
    this.leaseMs = deps.leaseMs ?? 30_000;
    this.pollMs = deps.pollMs ?? 250;
    this.ackLimit = Math.max(8, deps.concurrency * 4);
  }

  async enqueue(req: InvokeRequest & { requestId: string }, resolved: { functionName: string; qualifier: string }): Promise<void> {
    const now = this.deps.clock.now();
    const meta: AsyncEventMeta = { fn: req.functionName, cq: resolved.qualifier, attempts: 0, backoffs: 0 };
    if (req.qualifier) meta.qual = req.qualifier;
    if (req.traceId) meta.trace = req.traceId;
    if (req.tenantId !== undefined) meta.tenant = req.tenantId;
    if (req.source && req.source !== 'api') meta.source = req.source;
    await this.deps.queue.enqueue([
      { id: req.requestId, queue: ASYNC_QUEUE, group: resolved.functionName, body: req.payload, meta: meta as unknown as Record<string, unknown>, enqueuedAt: now },
    ]);
    if (asyncChannel.hasSubscribers) asyncChannel.publish({ type: 'enqueued', requestId: req.requestId, functionName: resolved.functionName });
    this.wake();
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.abandoned = false;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.deps.releaseOnStart) await this.deps.queue.releaseAll(ASYNC_QUEUE, this.deps.clock.now());
    this.running = true;
    this.loop = this.pump();
    this.heartbeat = setInterval(() => void this.extendLeases(), Math.max(1000, this.leaseMs / 3));
    this.heartbeat.unref();
    this.pruneTimer = setInterval(() => void this.prune(), 10 * 60_000);
    this.pruneTimer.unref();
  }

  /**
   * Stops leasing; waits (bounded) for in-flight events, then hands back the ones it holds and
   * runs no more: they are visible again at once, to another node or to this one after its
   * restart. (Kept leased, they came back only when the lease ran out: 30 s of every event a node
   * had taken, started or not, in a rolling restart.) An attempt still running after the grace is
   * not handed back while it runs (another node would run it at the same time): its lease is
   * still extended, and it goes back when the attempt ends, or at handBackCutOff, once the
   * environments are stopped. An attempt cut off counts as none, as after a crash: its outcome
   * is never recorded.
   */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await this.loop;
    await this.settle(graceMs);
    this.abandoned = true;
    // In flight: an attempt still running here, an event whose outcome is being delivered, or one
    // about to hand itself back unstarted. Acknowledgements still committing are left to commit
    // (their outcome is decided); should one fail, that event's lease runs out as after a crash.
    await this.handBack([...this.held.values()].filter((e) => !this.inflight.has(e.id) && !this.acking.has(e.id)));
  }

  /**
   * The end of a stop, once the execution environments are stopped (nothing runs here any more)
   * and before the store closes: waits (bounded) for the attempts cut off to end and for the
   * outcomes being delivered and acknowledged, then hands back what is still held. An event whose
   * record or dead letter is still on its way is not handed back: its lease runs out.
   */
  async handBackCutOff(graceMs = 5000): Promise<void> {
    if (this.running) return;
    await this.settle(graceMs);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await this.handBack([...this.held.values()].filter((e) => !this.acking.has(e.id) && !this.decided.has(e.id)));
  }

  /** Waits until no event is in flight or being acknowledged, at most graceMs. */
  private async settle(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while ((this.inflight.size > 0 || this.acking.size > 0) && Date.now() < deadline) await sleep(20);
  }

  /** Returns leased events unfinished (see stop); if the store is unreachable their leases run out instead. */
  private async handBack(events: LeasedEventEntry[]): Promise<void> {
    // Only those still held: one handed back already may be another node's by now.
    const mine = events.filter((e) => this.held.get(e.id) === e);
    if (mine.length === 0) return;
    for (const e of mine) this.held.delete(e.id);
    await this.deps.queue.release(mine.map((e) => ({ id: e.id, leases: e.leases })), this.deps.clock.now()).catch(() => 0);
  }

  private wake(): void {
    const r = this.wakeResolve;
    this.wakeResolve = undefined;
    r?.();
  }

  private wakeAt(at: number): void {
    const delay = Math.max(0, at - this.deps.clock.now());
    if (delay >= this.pollMs) return; // the idle poll will see it
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.wake();
    }, delay + 1);
    this.timers.add(t);
  }

  private async pump(): Promise<void> {
    let failures = 0;
    while (this.running) {
      const free = this.acking.size >= this.ackLimit ? 0 : this.deps.concurrency - this.inflight.size;
      let got = 0;
      if (free > 0) {
        try {
          const leased = await this.deps.queue.lease(ASYNC_QUEUE, Math.min(free, 256), this.deps.clock.now(), this.leaseMs);
          failures = 0;
          got = leased.length;
          for (const e of leased) {
            this.inflight.set(e.id, e);
            this.held.set(e.id, e);
            void this.process(e).finally(() => {
              this.inflight.delete(e.id);
              // Acknowledged by now (then `acking` holds it), or failed unexpectedly (then it is
              // handed back at a stop, or its lease runs out).
              this.decided.delete(e.id);
              // Refill in batches: wake the pump when half the slots are free (or all are).
              if (this.inflight.size === Math.floor(this.deps.concurrency / 2) || this.inflight.size === 0) this.wake();
            });
          }
        } catch {
          failures++;
          await sleep(Math.min(5000, 100 * 2 ** failures));
          continue;
        }
      }
      if (!this.running) break;
      if (got > 0 && this.inflight.size < this.deps.concurrency) continue;
      await new Promise<void>((resolve) => {
        this.wakeResolve = resolve;
        const t = setTimeout(resolve, this.pollMs);
        t.unref?.();
      });
    }
  }

  private async extendLeases(): Promise<void> {
    if (this.inflight.size === 0 && this.acking.size === 0) return;
    const refs = [...this.inflight.values(), ...this.acking.values()].map((e) => ({ id: e.id, leases: e.leases }));
    await this.deps.queue.extend(refs, this.deps.clock.now() + this.leaseMs).catch(() => undefined);
  }

  private async prune(): Promise<void> {
    const keep = this.deps.retentionMs ?? 24 * 3600_000;
    await this.deps.queue.prune(ASYNC_QUEUE, this.deps.clock.now() - keep).catch(() => undefined);
  }

  /** One leased event: attempt, decide, and finish or reschedule. */
  private async process(e: LeasedEventEntry): Promise<void> {
    const meta = e.meta as unknown as AsyncEventMeta;
    const { clock, locale } = this.deps;
    const fnName = e.group;
    const cfg = await this.deps.configs.lookup(fnName, meta.cq).catch(() => undefined);
    const policy = policyOf(cfg, this.deps.timeScale);
    // (lookup: in a cluster, a function created on another node a moment ago is read from the store.)
    const fs = this.deps.snapshot.get(fnName) ?? await this.deps.snapshot.lookup(fnName);
    const recordArn = functionArn(locale, fnName, meta.cq);

    if (!fs) {
      meta.lastError = 'ResourceNotFoundException';
      return this.finish(e, meta, 'failed');
    }
    if (fs.fn.reservedConcurrency === 0) {
      // Lambda sends new events of a function with reserved concurrency 0 straight to failure handling.
      meta.lastError = 'TooManyRequestsException';
      meta.lastStatus = 429;
      return this.fail(e, meta, 'RetriesExhausted', recordArn, cfg?.onFailure ?? null, undefined);
    }
    if (isExpired(policy, e.enqueuedAt, clock.now())) {
      return this.fail(e, meta, 'EventAgeExceeded', recordArn, cfg?.onFailure ?? null, undefined);
    }

    // Stopping: an event taken but not started yet goes back at once, without an attempt.
    if (!this.running) return this.handBack([e]);

    let outcome: AttemptOutcome;
    let result: InvokeResult | undefined;
    if (asyncChannel.hasSubscribers) asyncChannel.publish({ type: 'attempt', requestId: e.id, functionName: fnName, attempt: meta.attempts + 1 });
    // What this attempt answers replaces what the last one did.
    delete meta.lastFunctionError;
    delete meta.lastPayload;
    try {
      const req: InvokeRequest = {
        functionName: meta.fn,
        payload: e.body,
        invocationType: 'RequestResponse',
        requestId: e.id,
        source: 'async',
      };
      if (meta.qual) req.qualifier = meta.qual;
      if (meta.trace) req.traceId = meta.trace;
      if (meta.tenant !== undefined) req.tenantId = meta.tenant;
      result = await this.deps.invoker.invoke(req);
      meta.attempts++;
      meta.backoffs = 0;
      meta.lastStatus = result.statusCode;
      meta.executedVersion = result.executedVersion;
      if (result.functionError) {
        outcome = 'function-error';
        meta.lastError = result.errorType ?? 'Unhandled';
        meta.lastFunctionError = result.functionError;
        if (result.payload.length <= LAST_PAYLOAD_MAX) meta.lastPayload = result.payload.toString('utf8');
      } else {
        outcome = 'success';
        delete meta.lastError;
      }
    } catch (err) {
      if (isStratusError(err) && err.status === 429) outcome = 'throttle';
      else if (isStratusError(err) && err.status < 500) outcome = 'permanent-error';
      else outcome = 'system-error';
      meta.lastError = isStratusError(err) ? err.code : 'ServiceException';
      meta.lastStatus = isStratusError(err) ? err.status : 500;
    }
    // Cut off by a stop that gave up waiting: not recorded, and handed back now that it no longer
    // runs here; it runs again (elsewhere, or here after the restart) as the attempt it was.
    if (this.abandoned) return this.handBack([e]);
    // Shutting down: environments are being stopped, so this outcome says nothing about the
    // function. Leave it unacknowledged: stop() hands it back.
    if (!this.running && outcome !== 'success' && outcome !== 'function-error') return;

    const decision = decideAfterAttempt(policy, { enqueuedAt: e.enqueuedAt, attempts: meta.attempts, backoffs: meta.backoffs }, outcome, clock.now());
    switch (decision.action) {
      case 'succeed': {
        this.decided.add(e.id);
        if (cfg?.onSuccess) await this.sendRecord(cfg.onSuccess, meta, e, 'Success', recordArn, result);
        return this.finish(e, meta, 'succeeded');
      }
      case 'retry': {
        if (decision.backoff) meta.backoffs++;
        meta.nextAttemptAt = decision.at;
        this.acknowledge(e, this.deps.queue.retryAt(e, decision.at, meta as unknown as Record<string, unknown>, clock.now()), () => this.wakeAt(decision.at));
        if (asyncChannel.hasSubscribers) asyncChannel.publish({ type: 'retry', requestId: e.id, functionName: fnName, at: decision.at, outcome });
        return;
      }
      case 'fail':
        return this.fail(e, meta, decision.condition, recordArn, cfg?.onFailure ?? null, result);
    }
  }

  private async fail(
    e: LeasedEventEntry,
    meta: AsyncEventMeta,
    condition: FailureCondition,
    recordArn: string,
    onFailure: string | null,
    result: InvokeResult | undefined,
  ): Promise<void> {
    this.decided.add(e.id);
    meta.condition = condition;
    // An event whose age ran out between attempts: what its last attempt answered, as Lambda
    // reports it (functionError and the error in the record, the error's message in the DLQ's).
    result ??= lastAttempt(meta, e.id);
    if (onFailure) await this.sendRecord(onFailure, meta, e, condition, recordArn, result);
    const version = this.deps.snapshot.get(e.group)?.versions.get(meta.executedVersion ?? resolveVersion(this.deps.snapshot, e.group, meta.cq));
    const dlq = version?.config.deadLetterTargetArn;
    if (dlq) {
      const errorCode = String(meta.lastStatus ?? (result ? result.statusCode : 429));
      const errorMessage = errorMessageOf(result?.payload, meta.lastError ?? condition);
      try {
        await this.deps.targets.deliver(dlq, {
          body: e.body.toString('utf8'),
          attributes: { RequestID: e.id, ErrorCode: errorCode, ErrorMessage: errorMessage },
          attributeDataTypes: { ErrorCode: 'Number' },
        });
      } catch (err) {
        meta.destinationError = `DLQ ${dlq}: ${(err as Error).message}`;
      }
    }
    return this.finish(e, meta, 'failed');
  }

  private async sendRecord(
    destination: string,
    meta: AsyncEventMeta,
    e: LeasedEventEntry,
    condition: RecordCondition,
    recordArn: string,
    result: InvokeResult | undefined,
  ): Promise<void> {
    const response = result
      ? { statusCode: result.statusCode, executedVersion: result.executedVersion, payload: result.payload, ...(result.functionError ? { functionError: result.functionError } : {}) }
      : meta.lastStatus !== undefined
        ? { statusCode: meta.lastStatus, executedVersion: meta.executedVersion ?? resolveVersion(this.deps.snapshot, e.group, meta.cq) }
        : undefined;
    const record = invocationRecord({
      now: this.deps.clock.now(),
      requestId: e.id,
      functionArn: recordArn,
      condition,
      approximateInvokeCount: meta.attempts,
      requestPayload: e.body,
      ...(response ? { response } : {}),
    });
    const body = JSON.stringify(record);
    try {
      await this.deps.targets.deliver(destination, {
        body,
        event: {
          source: 'lambda',
          detailType: condition === 'Success' ? 'Lambda Function Invocation Result - Success' : 'Lambda Function Invocation Result - Failure',
          // The bus's ARN, then the function's, as Lambda's destination events name them (the
          // event's target is only ever an event bus).
          resources: [destination, recordArn],
        },
      });
    } catch (err) {
      meta.destinationError = `${destination}: ${(err as Error).message}`;
    }
  }

  /**
   * Hands an acknowledgement to the queue without holding the worker slot: the slot is free for
   * the next event while acknowledgements are group-committed together. Until it commits, the
   * event keeps its lease (a crash now runs it again: at least once).
   */
  private acknowledge(e: LeasedEventEntry, ack: Promise<boolean>, then?: () => void): void {
    this.acking.set(e.id, e);
    void ack.catch(() => false).then(() => {
      if (this.acking.get(e.id) === e) this.acking.delete(e.id);
      if (this.held.get(e.id) === e) this.held.delete(e.id);
      then?.();
      if (this.acking.size === this.ackLimit - 1) this.wake();
    });
  }

  private async finish(e: LeasedEventEntry, meta: AsyncEventMeta, state: 'succeeded' | 'failed'): Promise<void> {
    delete meta.nextAttemptAt;
    this.acknowledge(e, this.deps.queue.complete(e, state, meta as unknown as Record<string, unknown>, this.deps.clock.now()));
    if (asyncChannel.hasSubscribers) asyncChannel.publish({ type: state, requestId: e.id, functionName: e.group, condition: meta.condition });
  }
}

function resolveVersion(snapshot: ControlSnapshot, fn: string, qualifier: string): string {
  const alias = snapshot.get(fn)?.aliases.get(qualifier);
  return alias ? alias.functionVersion : qualifier;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The last attempt's result, when it was a function error kept with the event (AsyncEventMeta.lastPayload). */
function lastAttempt(meta: AsyncEventMeta, requestId: string): InvokeResult | undefined {
  const { lastFunctionError: functionError, lastPayload, lastStatus, executedVersion } = meta;
  if (functionError === undefined || lastPayload === undefined || lastStatus === undefined || executedVersion === undefined) return undefined;
  return { statusCode: lastStatus, requestId, executedVersion, payload: Buffer.from(lastPayload, 'utf8'), functionError, ...(meta.lastError ? { errorType: meta.lastError } : {}) };
}
