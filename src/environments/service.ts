import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { StratusConfig } from '../app/config.js';
import { Errors } from '../core/errors.js';
import { systemClock, type Clock } from '../ports/clock.js';
import type { ExecutionOutcome, ExecutionService, ExecutionTarget, InitializationType, Invocation, ProvisionProgress, TcpEndpoint } from '../ports/execution.js';
import type { LogSink } from '../ports/logs.js';
import { billedMs, platformError, timeoutPayload } from './format.js';
import { awsClientVars, execWrapper, localUrl, nodeStartupEnv } from './env-vars.js';
import { Environment, type EnvDeps, type EnvReset, type InitResult, type InitRetry } from './environment.js';
import { POOL_LIMITS, PrewarmPool } from './prewarm.js';
import { familyOf, pythonExecutable, runtimesDir, shippedRuntime, type RuntimeFamily, type RuntimeLaunch } from './runtimes.js';
import { isHostAddress, peerOwner } from './peer.js';
import { CodeView } from './code-view.js';
import { listExtensions } from './extensions.js';
import { chooseDriver } from './sandbox/detect.js';
import { OPT_ROOT, TASK_ROOT } from './sandbox/task-root.js';
import { isEnvironmentUid } from './sandbox/uids.js';
import type { SandboxBequest, SandboxDriver } from './sandbox/types.js';

/** How long a cold start's first invocation may run before the prewarm pool refills beside it. */
const FIRST_INVOKE_REFILL_MS = 1000;

export interface ExecutionServiceOptions {
  config: StratusConfig;
  logSink: LogSink;
  /** The unpacked code of a version (unpacked once per codeKey) and the gid that may read it. */
  codeDirFor(codeKey: string): Promise<{ dir: string; gid: number | null }>;
  /** A function's layers merged into one dir, in order (once per list of layer code keys), and the gid that may read it. */
  layersDirFor?(codeKeys: readonly string[]): Promise<{ dir: string; gid: number | null }>;
  clock?: Clock;
  /** Replaces the shipped runtime bootstraps (tests, benchmarks): same start-up protocol. */
  runtimeOverrides?: Partial<Record<'node' | 'python', RuntimeLaunch>>;
  /**
   * The URL Stratus's APIs listen on, once they do: functions' SDKs are pointed at it for the
   * services Stratus serves (env-vars.awsClientVars). Absent or empty: no endpoint variables.
   */
  serviceUrl?: () => string;
}

export interface PoolStats {
  driver: string;
  environments: number;
  idle: number;
  busy: number;
  coldStarts: number;
  warmStarts: number;
  prewarm: ReturnType<PrewarmPool['stats']>;
  /**
   * Environments reset after a failed invoke phase (or a failed suppressed init) that no
   * invocation has taken yet: each keeps its /tmp volume and uid until one does, or the idle time passes.
   */
  resets: number;
  /** Pooled runtimes that could not be given their function (a runtime was started for it instead), and the last reason. */
  pooledStartFailures: { count: number; last: string | null };
}

/** What starting an environment of one target needs (Service.prepare). */
interface Launch {
  target: ExecutionTarget;
  family: RuntimeFamily;
  runtime: RuntimeLaunch | undefined;
  code: { dir: string; gid: number | null };
  layers: { dir: string; gid: number | null } | undefined;
  extensions: string[];
  /** A prewarmed runtime may take it. */
  pooled: boolean;
  /** Host paths the environment sees: its code, and its layers. */
  paths: string[];
}

/** One provisioned concurrency allocation (Service.provision). */
interface Allocation {
  id: string;
  target: ExecutionTarget;
  /** Its target's slot key. */
  key: string;
  count: number;
  /** Initialized and kept: idle in its slot, or serving an invocation. */
  envs: Set<Environment>;
  /** Being started and initialized. */
  starting: number;
  /** Why an init failed: nothing more is started until the allocation is asked for again. */
  failure: string | undefined;
  progress: (p: ProvisionProgress) => void;
}

interface Slot {
  key: string;
  /** The key of its revision (slotKey): a tenant's slot's key adds the tenant to it. */
  revision: string;
  /** The tenant whose environments it holds (tenant isolation), else undefined. */
  tenant: string | undefined;
  /** A tenant's slot: invocations assigned to it that have not finished (it is not dropped meanwhile). */
  active: number;
  fnVersion: string;
  functionName: string;
  idle: Environment[];
  all: Set<Environment>;
  retired: boolean;
  /** Environments whose invocation is over but whose runtime has not asked for the next one yet. */
  finishing: Set<Environment>;
  /** Environments being initialized for an invocation that waits for them (a cold start, a suppressed init). */
  coldStarts: Set<Environment>;
  /**
   * The targets of the cold starts in progress on it (until their invocation is over: a retried
   * init starts its environment after the failed one has ended) and of provisioned environments
   * being launched (until they are in `all`), counted from before their code is asked for. Their
   * code is in use (liveTargets), and a retired slot stays in `slots` while there is one: else
   * the environment it starts would run unseen, its code swept from under it.
   */
  launching: ExecutionTarget[];
  /** Invocations waiting a moment for one of those (see FINISHING_WAIT_MS), each for its kind. */
  waiting: Waiter[];
  /**
   * Environments that died during an invoke phase, to be reset by the next cold start (Lambda
   * resets them, keeping /tmp and the log stream); reaped after the idle time as idle ones are.
   */
  resets: Array<EnvReset & { at: number }>;
}

interface Waiter {
  /** The allocation whose environment it waits for; null: an on-demand one. */
  provisionedBy: string | null;
  run(env: Environment | null): void;
}

/**
 * How long an invocation that finds no idle environment waits for one whose runtime is about
 * to ask for its next invocation, before it starts a new one. A custom runtime asks in a
 * separate request after its result (curl: a few milliseconds later): a client that invokes again
 * as soon as it has the result should find the warm environment, not start a second one. One
 * that exits instead of asking (Node after an uncaught exception) hands the wait to a cold start
 * at once; one that goes on working after its result for longer is not waited for.
 */
const FINISHING_WAIT_MS = 100;

export interface StratusExecutionService extends ExecutionService {
  stats(): PoolStats;
  /** Detection lines: what was checked and which driver runs. */
  readonly detection: string[];
  /** Where functions see the code of `codeDir` (a host path): /var/task, or the path itself. */
  taskRoot(codeDir: string): string;
  /** The targets of every environment there is, starting, idle, busy or kept for an allocation: their code is in use. */
  liveTargets(): ExecutionTarget[];
}

class Service implements StratusExecutionService {
  private readonly slots = new Map<string, Slot>();
  private readonly pooledStartFailures: { count: number; last: string | null } = { count: 0, last: null };
  /** Provisioned concurrency: the environments kept initialized, per allocation id (see provision). */
  private readonly allocations = new Map<string, Allocation>();
  /** functionName\0version -> current key (revision) */
  private readonly current = new Map<string, string>();
  /** Revisions (slot keys) that have tenants' slots besides their own. */
  private readonly tenanted = new Set<string>();
  private readonly reaper: NodeJS.Timeout;
  private readonly deps: EnvDeps;
  private coldStarts = 0;
  private warmStarts = 0;
  private stopped = false;
  private readonly keepPaths: string[];

  constructor(
    private readonly opts: ExecutionServiceOptions,
    private readonly driver: SandboxDriver,
    private readonly prewarm: PrewarmPool,
    readonly detection: string[],
    keepPaths: string[],
  ) {
    this.keepPaths = keepPaths;
    const clock = opts.clock ?? systemClock;
    const serviceUrl = opts.serviceUrl ?? (() => '');
    this.deps = {
      driver, logSink: opts.logSink, clock, region: opts.config.region, onDead: (e) => this.onDead(e), onReset: (e, r) => this.onReset(e, r),
      clientVars: () => awsClientVars(localUrl(serviceUrl()), opts.config.functionCredentials),
    };
    const every = Math.max(50, Math.min(30_000, Math.floor(Math.min(opts.config.idleTimeoutMs, opts.config.envMaxLifetimeMs) / 2)));
    this.reaper = setInterval(() => this.reap(), every);
    this.reaper.unref();
  }

  taskRoot(codeDir: string): string {
    return this.driver.taskRoot(codeDir);
  }

  liveTargets(): ExecutionTarget[] {
    const out: ExecutionTarget[] = [];
    for (const s of this.slots.values()) out.push(...s.launching, ...[...s.all].map((e) => e.target));
    for (const a of this.allocations.values()) out.push(a.target);
    return out;
  }

  describe() {
    const d = this.driver.describe();
    return { driver: d.driver, isolation: [...d.isolation, ...this.detection], warnings: d.warnings };
  }

  /**
   * Fails closed: a caller whose owner cannot be told (see peerOwner) is taken for an environment.
   * Only what functions may not do asks (the route decides first), and a client on the host that
   * reads its answers has an established, owned socket.
   */
  async fromEnvironment(client: TcpEndpoint, server: TcpEndpoint): Promise<boolean> {
    if (!this.driver.verifiesPeers) return false;
    // Environments share the host's network: their connections come from its own addresses. One
    // from elsewhere (a server listening beyond loopback) is not theirs, and not in /proc/net.
    // A connection whose address could not be read (reset before it was) is not known to be one.
    if (net.isIP(client.address) === 0) return true;
    if (!isHostAddress(client.address)) return false;
    const uid = await peerOwner(client, server);
    return uid === null || isEnvironmentUid(uid);
  }

  stats(): PoolStats {
    let environments = 0; let idle = 0; let busy = 0; let resets = 0;
    for (const s of this.slots.values()) {
      environments += s.all.size;
      resets += s.resets.length;
      idle += s.idle.length;
      for (const e of s.all) if (e.state === 'busy') busy++;
    }
    return {
      driver: this.driver.name, environments, idle, busy, resets, coldStarts: this.coldStarts, warmStarts: this.warmStarts, prewarm: this.prewarm.stats(),
      pooledStartFailures: { ...this.pooledStartFailures },
    };
  }

  execute(target: ExecutionTarget, inv: Invocation): Promise<ExecutionOutcome> {
    if (this.stopped) return Promise.reject(Errors.service('execution service is stopped'));
    if (inv.tenantId !== undefined) return this.executeForTenant(target, inv, inv.tenantId);
    const key = slotKey(target);
    let slot = this.slots.get(key);
    if (!slot) slot = this.newSlot(key, target, undefined);
    return this.assign(slot, target, inv);
  }

  /**
   * Tenant isolation: a tenant's invocations run in environments of their own, never given to
   * another tenant ("a function's execution environments are only used to serve invocations from
   * the specified end-user or tenant"): a slot per tenant, found warm or started for it.
   */
  private executeForTenant(target: ExecutionTarget, inv: Invocation, tenant: string): Promise<ExecutionOutcome> {
    const key = `${slotKey(target)}\0${tenant}`;
    const slot = this.slots.get(key) ?? this.newSlot(key, target, tenant);
    slot.active++;
    const p = this.assign(slot, target, inv);
    const done = () => { slot.active--; };
    p.then(done, done);
    return p;
  }

  /** Stage 3: a warm environment of the slot, one about to be, or a cold start. */
  private assign(slot: Slot, target: ExecutionTarget, inv: Invocation): Promise<ExecutionOutcome> {
    // Admitted on provisioned concurrency: one of its allocation's environments first (one about
    // to be free included), as Lambda runs it; else, as every other invocation, an on-demand one.
    for (const by of inv.allocation === undefined ? ON_DEMAND : [inv.allocation, null]) {
      const env = takeIdle(slot, by);
      if (env) {
        this.warmStarts++;
        return this.run(slot, env, inv);
      }
      if (count(slot.finishing, by) > count(slot.waiting, by)) return this.afterFinishing(slot, target, inv, by);
    }
    return this.cold(slot, target, inv);
  }

  provision(id: string, target: ExecutionTarget, count: number, progress: (p: ProvisionProgress) => void): void {
    const key = slotKey(target);
    let a = this.allocations.get(id);
    if (a && (a.key !== key || count <= 0)) {
      this.letGo(a, a.envs.size);
      this.allocations.delete(id);
      a = undefined;
    }
    if (count <= 0 || this.stopped) { progress({ allocated: 0 }); return; }
    if (!a) {
      a = { id, target, key, count, envs: new Set(), starting: 0, failure: undefined, progress };
      this.allocations.set(id, a);
    }
    a.count = count;
    a.progress = progress;
    a.failure = undefined;
    this.fill(a);
  }

  /** Starts what an allocation lacks, lets go of what it has too many of, and reports. */
  private fill(a: Allocation): void {
    if (this.allocations.get(a.id) !== a || this.stopped) return;
    const surplus = a.envs.size - a.count;
    if (surplus > 0) this.letGo(a, surplus);
    if (a.failure === undefined) {
      for (let n = a.count - a.envs.size - a.starting; n > 0; n--) {
        a.starting++;
        void this.allocate(a);
      }
    }
    a.progress({ allocated: a.envs.size, ...(a.failure !== undefined ? { failure: a.failure } : {}) });
  }

  /**
   * `n` environments of an allocation are no longer kept for it: idle ones end now, busy ones
   * once their invocation is over (release).
   */
  private letGo(a: Allocation, n: number): void {
    const slot = this.slots.get(a.key);
    const idleFirst = [...a.envs].sort((x, y) => Number(x.state !== 'idle') - Number(y.state !== 'idle'));
    for (const env of idleFirst.slice(0, n)) {
      a.envs.delete(env);
      env.provisionedBy = null;
      const i = slot ? slot.idle.indexOf(env) : -1;
      if (i >= 0) {
        slot!.idle.splice(i, 1);
        env.destroy();
      }
    }
  }

  /**
   * One environment of an allocation: started and initialized ahead of any invocation (Lambda's
   * provisioned-concurrency initialization type), then idle in its slot for invocations to find.
   */
  private async allocate(a: Allocation): Promise<void> {
    try {
      const l = await this.prepare(a.target);
      if (this.allocations.get(a.id) !== a || this.stopped) return;
      const slot = this.slots.get(a.key) ?? this.newSlot(a.key, a.target, undefined);
      let taken = false;
      const env = await this.launching(slot, a.target, async () => {
        const e = await this.launch(slot, l, { initializationType: 'provisioned-concurrency', onTaken: () => { taken = true; } });
        slot.all.add(e);
        return e;
      });
      const init = await env.ready;
      if (taken) this.prewarm.refill(l.family as 'node' | 'python');
      if (!init.ok) {
        // Lambda's status reason when a function's init fails under provisioned concurrency.
        a.failure = 'FUNCTION_ERROR_INIT_FAILURE';
        env.destroy();
        return;
      }
      if (this.allocations.get(a.id) === a && !slot.retired && a.envs.size < a.count) {
        env.provisionedBy = a.id;
        a.envs.add(env);
      }
      // Waiting invocations may take it at once; otherwise it waits, idle.
      if (env.readyForNext) this.release(slot, env);
      else {
        slot.finishing.add(env);
        env.whenReadyForNext(() => this.release(slot, env));
      }
    } catch (e) {
      a.failure = e instanceof Error ? e.message : String(e);
    } finally {
      a.starting--;
      this.fill(a);
    }
  }

  /** Waits for a finishing environment of the slot, `by` that allocation or on demand (FINISHING_WAIT_MS at most), else starts one. */
  private afterFinishing(slot: Slot, target: ExecutionTarget, inv: Invocation, by: string | null): Promise<ExecutionOutcome> {
    return new Promise<ExecutionOutcome>((resolve, reject) => {
      const w: Waiter = {
        provisionedBy: by,
        run: (env: Environment | null) => {
          clearTimeout(timer);
          const i = slot.waiting.indexOf(w);
          if (i >= 0) slot.waiting.splice(i, 1);
          if (env) this.warmStarts++;
          else if (this.stopped) { reject(Errors.service('execution service is stopped')); return; }
          (env ? this.run(slot, env, inv) : this.cold(slot, target, inv)).then(resolve, reject);
        },
      };
      const timer = setTimeout(() => w.run(null), FINISHING_WAIT_MS);
      slot.waiting.push(w);
    });
  }

  private newSlot(key: string, t: ExecutionTarget, tenant: string | undefined): Slot {
    const fnVersion = `${t.functionName}\0${t.version}`;
    const revision = tenant === undefined ? key : slotKey(t);
    const prev = this.current.get(fnVersion);
    if (prev && prev !== revision) {
      // New code or configuration: idle environments of the old revision go, busy ones finish
      // (every tenant's of it too).
      const old = this.slots.get(prev);
      if (old) this.retireSlot(old, false);
      if (this.tenanted.delete(prev)) {
        for (const s of [...this.slots.values()]) if (s.revision === prev && !s.retired) this.retireSlot(s, false);
      }
    }
    const slot: Slot = {
      key, revision, tenant, active: 0, fnVersion, functionName: t.functionName, idle: [], all: new Set(), retired: false, finishing: new Set(), coldStarts: new Set(), waiting: [], resets: [], launching: [],
    };
    this.slots.set(key, slot);
    this.current.set(fnVersion, revision);
    if (tenant !== undefined) this.tenanted.add(revision);
    return slot;
  }

  private async run(slot: Slot, env: Environment, inv: Invocation, coldInitMs?: number, since?: { startHr: number; deadline: number }): Promise<ExecutionOutcome> {
    // A caller waiting for the end of the invoke phase (LogType Tail): meanwhile the environment
    // is finishing, and a concurrent invocation waits for it rather than starting another.
    env.onResultAwaitingPhase = () => slot.finishing.add(env);
    let outcome: ExecutionOutcome;
    try {
      outcome = await env.invoke(inv, coldInitMs, since);
    } finally {
      env.onResultAwaitingPhase = null;
    }
    if (env.state === 'idle') {
      if (env.readyForNext) this.release(slot, env);
      else {
        slot.finishing.add(env);
        env.whenReadyForNext(() => this.release(slot, env));
      }
    }
    return outcome;
  }

  /** The merged layers of a function that has any. */
  private async layersOf(target: ExecutionTarget): Promise<{ dir: string; gid: number | null } | undefined> {
    const keys = target.config.layers.map((l) => l.codeKey);
    if (keys.length === 0) return undefined;
    if (!this.opts.layersDirFor) throw Errors.service('This Stratus host cannot present layers to environments.');
    return this.opts.layersDirFor(keys);
  }

  /** An environment whose runtime asked for its next invocation: reusable. */
  private release(slot: Slot, env: Environment): void {
    slot.finishing.delete(env);
    if (env.state !== 'idle') return;
    if (slot.retired || this.stopped) { env.destroy(); return; }
    // Initialized for provisioned concurrency that no allocation keeps any more (lowered while
    // it started, or while it ran an invocation): it ends, as Lambda's do. On-demand invocations
    // get on-demand environments (AWS_LAMBDA_INITIALIZATION_TYPE says which they run in).
    if (env.initializationType === 'provisioned-concurrency' && env.provisionedBy === null) {
      env.destroy();
      // An on-demand invocation waiting for a finishing environment may have counted on it.
      wakeForGone(slot, null);
      return;
    }
    const w = slot.waiting.find((x) => x.provisionedBy === env.provisionedBy);
    if (w) w.run(env);
    else slot.idle.push(env);
  }

  /** What starting an environment of `target` needs: its runtime, code, layers and extensions. */
  private async prepare(target: ExecutionTarget): Promise<Launch> {
    const family = familyOf(target.config.runtime);
    if (!family) throw Errors.invalidRuntime(`The runtime ${target.config.runtime} is not supported by Stratus.`);
    const runtime = family === 'custom' ? undefined
      : this.opts.runtimeOverrides?.[family] ?? shippedRuntime(family, target.config.memorySize, target.config.runtime, target.config.environment.NODE_OPTIONS);
    if (family !== 'custom' && !runtime) throw Errors.invalidRuntime(`The ${target.config.runtime} runtime is not installed on this Stratus host.`);
    const code = await this.opts.codeDirFor(target.codeKey);
    const layers = await this.layersOf(target);
    // External extensions (its layers' extensions/): started before the runtime, which is then not a pooled one.
    const extensions = layers ? listExtensions(new CodeView({ codeDir: code.dir, layersDir: layers.dir, taskRoot: TASK_ROOT, optRoot: OPT_ROOT })) : [];
    // NODE_OPTIONS and the like act when node starts: a function that sets one gets a runtime started with it.
    // So does a wrapper script (AWS_LAMBDA_EXEC_WRAPPER), which starts the runtime itself.
    const pooled = !(family === 'custom' || (family === 'node' && nodeStartupEnv(target)) || execWrapper(target, family) || extensions.length > 0);
    return { target, family, runtime: runtime ?? undefined, code, layers, extensions, pooled, paths: layers ? [code.dir, layers.dir] : [code.dir] };
  }

  /**
   * Starts an environment: a pooled runtime given the function when it can take it (`onTaken`
   * hears that one was taken), else a runtime started for it. A reset's successor that keeps its
   * predecessor's /tmp is launched with it, not pooled.
   */
  private async launch(
    slot: Slot, l: Launch, o: { retry?: InitRetry; bequest?: SandboxBequest; initializationType?: InitializationType; onTaken?: () => void } = {},
  ): Promise<Environment> {
    const { target, family } = l;
    const booted = l.pooled && l.runtime && !o.bequest
      ? this.prewarm.take(family as 'node' | 'python', { launch: l.runtime, memoryMB: target.config.memorySize, runtime: target.config.runtime ?? '' },
        { memoryMB: target.config.memorySize, ephemeralMB: target.config.ephemeralStorage }, l.paths) : null;
    if (booted) o.onTaken?.();
    const start = {
      key: slot.key, target, family, codeDir: l.code.dir, codeGid: l.code.gid, layers: l.layers, extensions: l.extensions, deps: this.deps,
      booted: booted ?? undefined, runtime: l.runtime ?? undefined, keepPaths: [...this.keepPaths, ...l.paths], retry: o.retry, bequest: o.bequest,
      initializationType: o.initializationType,
    };
    if (!booted) return Environment.start(start);
    // A pooled runtime that could not be given the function (its code could not be bound at
    // /var/task, say) is gone: one started for the function takes its place.
    try {
      return await Environment.start(start);
    } catch (e) {
      if (this.stopped) throw e;
      this.pooledStartFailures.count++;
      this.pooledStartFailures.last = e instanceof Error ? e.message : String(e);
      return Environment.start({ ...start, booted: undefined });
    }
  }

  private cold(slot: Slot, target: ExecutionTarget, inv: Invocation): Promise<ExecutionOutcome> {
    return this.launching(slot, target, () => this.coldStart(slot, target, inv));
  }

  /** Runs `go`, which starts environments of `target` in `slot`, as one of the slot's launches (Slot.launching). */
  private async launching<T>(slot: Slot, target: ExecutionTarget, go: () => Promise<T>): Promise<T> {
    slot.launching.push(target);
    try {
      return await go();
    } finally {
      slot.launching.splice(slot.launching.indexOf(target), 1);
      this.dropIfDone(slot);
    }
  }

  /** A retired slot goes once nothing runs or starts in it any more. */
  private dropIfDone(slot: Slot): void {
    if (slot.retired && slot.all.size === 0 && slot.launching.length === 0 && this.slots.get(slot.key) === slot) this.slots.delete(slot.key);
  }

  private async coldStart(slot: Slot, target: ExecutionTarget, inv: Invocation): Promise<ExecutionOutcome> {
    const l = await this.prepare(target);
    this.coldStarts++;
    // A pooled runtime's replacement boots once this cold start is done (or a second into a
    // long first invocation), not beside it.
    let taken = 0;
    const refill = () => { for (; taken > 0; taken--) this.prewarm.refill(l.family as 'node' | 'python'); };
    const start = (retry?: InitRetry, bequest?: SandboxBequest) => this.launch(slot, l, { retry, bequest, onTaken: () => { taken++; } });
    let timer: NodeJS.Timeout | undefined;
    const reset = slot.resets.shift();
    try {
      if (reset) return await this.suppressedInit(slot, target, inv, { stream: reset.stream, tail: undefined, bequest: await reset.bequest }, start);
      const env = await start();
      slot.all.add(env);
      slot.coldStarts.add(env);
      const init = await env.ready;
      slot.coldStarts.delete(env);
      if (!init.ok) {
        const stream = env.logStream;
        const tail = env.takeInitTail();
        const bequest = await env.endForRetry();
        return await this.suppressedInit(slot, target, inv, { stream: stream ?? '', tail, bequest }, start);
      }
      if (taken) timer = setTimeout(refill, FIRST_INVOKE_REFILL_MS).unref();
      return await this.run(slot, env, inv, init.initDurationMs);
    } finally {
      clearTimeout(timer);
      refill();
    }
  }

  /**
   * Lambda's suppressed init: a new runtime initialized as part of an invocation, within the
   * function's timeout, for an environment whose on-demand init failed or ran past 10 s ("Lambda
   * retries the Init phase at the time of the first function invocation with the configured
   * function timeout"), or that was reset after its invoke phase failed (EnvReset: "Lambda
   * initializes the runtime and extensions as part of the next invocation", /tmp as it was).
   * Its lines continue the environment's log stream, with no INIT_START (INIT_REPORT with
   * Phase: invoke when it fails); its time counts in the invocation's duration, with no Init
   * Duration of its own, and the handler's deadline is the invocation's.
   */
  private async suppressedInit(
    slot: Slot, target: ExecutionTarget, inv: Invocation, from: { stream: string; tail: string | undefined; bequest?: SandboxBequest | null },
    start: (retry: InitRetry, bequest?: SandboxBequest) => Promise<Environment>,
  ): Promise<ExecutionOutcome> {
    if (this.stopped) {
      from.bequest?.release();
      throw Errors.service('execution service is stopped');
    }
    const startHr = performance.now();
    const timeoutMs = target.config.timeout * 1000;
    const deadline = this.deps.clock.now() + timeoutMs;
    const env = await start({ stream: from.stream, tail: from.tail, timeoutMs, deadlineHr: startHr + timeoutMs }, from.bequest ?? undefined);
    slot.all.add(env);
    slot.coldStarts.add(env);
    const init = await env.ready;
    slot.coldStarts.delete(env);
    if (!init.ok) return this.initFailed(env, inv, init, init.timedOut ? timeoutMs : performance.now() - startHr);
    return this.run(slot, env, inv, undefined, { startHr, deadline });
  }

  /** The invocation of an environment whose suppressed init failed too: Lambda reports the init's error. */
  private initFailed(env: Environment, inv: Invocation, init: InitResult, durationMs: number): ExecutionOutcome {
    const errorType = init.errorType!;
    const sec = env.target.config.timeout;
    const payload = init.timedOut ? Buffer.from(JSON.stringify(timeoutPayload(inv.requestId, sec)))
      : init.reason !== undefined ? Buffer.from(JSON.stringify(platformError(inv.requestId, errorType, init.reason).payload)) : init.payload!;
    const maxMemoryUsedMB = init.maxMemoryUsedMB ?? 0;
    const logTail = env.logFailedInit(inv, { errorType, durationMs, maxMemoryUsedMB, reason: init.reason, timedOut: init.timedOut });
    env.destroy();
    return {
      status: 'error', payload, errorType, durationMs, billedDurationMs: billedMs(durationMs), maxMemoryUsedMB, coldStart: true, logTail,
    };
  }

  private onReset(env: Environment, reset: EnvReset): void {
    const slot = this.slots.get(env.key);
    if (slot && !slot.retired && !this.stopped) slot.resets.push({ ...reset, at: this.deps.clock.now() });
    else dropReset(reset);
  }

  private onDead(env: Environment): void {
    const slot = this.slots.get(env.key);
    if (!slot) return;
    slot.all.delete(env);
    slot.coldStarts.delete(env);
    const i = slot.idle.indexOf(env);
    if (i >= 0) slot.idle.splice(i, 1);
    // A finishing environment that died instead of asking for more: whoever waited for it starts one.
    const by = env.provisionedBy;
    if (slot.finishing.delete(env)) wakeForGone(slot, by);
    // One of an allocation's environments died (a crash, a timeout): another takes its place.
    const a = env.provisionedBy === null ? undefined : this.allocations.get(env.provisionedBy);
    if (a?.envs.delete(env)) setImmediate(() => this.fill(a));
    this.dropIfDone(slot);
  }

  /**
   * No invocation is given the slot's environments any more: idle ones end now, and (unless
   * `killBusy`: the service stops) an invocation in flight runs to its end on its environment,
   * which then ends (run and release end what a retired slot hands back). In flight: its
   * environment busy, finishing (its result given, its invoke phase not over), or being
   * initialized for it (a cold start). Anything else (a provisioned environment's init) ends now.
   */
  private retireSlot(slot: Slot, killBusy: boolean): void {
    slot.retired = true;
    if (this.current.get(slot.fnVersion) === slot.revision) this.current.delete(slot.fnVersion);
    const idle = slot.idle.splice(0);
    for (const e of idle) e.destroy();
    for (const r of slot.resets.splice(0)) dropReset(r);
    for (const e of [...slot.all]) {
      if (killBusy) e.kill({ errorType: 'Retired', exit: 'signal: killed' });
      else if (!slot.finishing.has(e) && !slot.coldStarts.has(e)) e.drain();
    }
    this.dropIfDone(slot);
  }

  /**
   * A deleted function: retired as an update retires a revision. Lambda lets the invocations
   * already running finish (new ones find no function); their environments end after them, and
   * its provisioned concurrency ends with it.
   */
  async retireFunction(functionName: string): Promise<void> {
    for (const a of [...this.allocations.values()]) if (a.target.functionName === functionName) this.allocations.delete(a.id);
    for (const s of [...this.slots.values()]) {
      if (s.functionName === functionName) {
        this.tenanted.delete(s.revision);
        this.retireSlot(s, false);
      }
    }
  }

  /**
   * Ends idle on-demand environments unused for the idle timeout, or older than the maximum
   * lifetime: Lambda ends environments "every few hours ... even for functions that are invoked
   * continuously", and so does Stratus (a busy one is ended at a reap that finds it idle): what
   * a long-lived runtime accumulates (a function's caches, leaks) goes with it.
   */
  private reap(): void {
    const now = this.deps.clock.now();
    const cutoff = now - this.opts.config.idleTimeoutMs;
    const bornBefore = now - this.opts.config.envMaxLifetimeMs;
    for (const s of this.slots.values()) {
      for (let i = s.idle.length - 1; i >= 0; i--) {
        const e = s.idle[i]!;
        if ((e.lastUsed < cutoff || e.createdAt < bornBefore) && e.provisionedBy === null) { s.idle.splice(i, 1); e.destroy(); }
      }
      while (s.resets.length && s.resets[0]!.at < cutoff) dropReset(s.resets.shift()!);
      // A tenant's slot with nothing left in it goes (a slot per tenant ever seen would pile up);
      // the tenant's next invocation starts one again.
      if (s.tenant !== undefined && s.active === 0 && s.all.size === 0 && s.resets.length === 0 && s.waiting.length === 0) this.slots.delete(s.key);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.allocations.clear();
    clearInterval(this.reaper);
    for (const s of [...this.slots.values()]) this.retireSlot(s, true);
    await this.prewarm.stop();
    await this.driver.stop();
  }
}

/** Environments are reused only for the same function, version and revision (code and configuration). */
function slotKey(t: ExecutionTarget): string {
  return `${t.functionName}\0${t.version}\0${t.revisionId}`;
}

/** The kinds of environment an invocation not admitted on provisioned concurrency may run on (one array for all). */
const ON_DEMAND: readonly (string | null)[] = [null];

/**
 * The most recently used idle environment of the slot kept by allocation `by` (null: an on-demand
 * one), taken out of the idle list.
 */
function takeIdle(slot: Slot, by: string | null): Environment | undefined {
  for (let i = slot.idle.length - 1; i >= 0; i--) {
    const env = slot.idle[i]!;
    // One that ended while idle (an extension of its exited) and is not yet gone: its exit
    // comes (onDead, onReset); no invocation is given it meanwhile.
    if (env.state !== 'idle') {
      slot.idle.splice(i, 1);
      continue;
    }
    if (env.provisionedBy === by) return slot.idle.splice(i, 1)[0];
  }
  return undefined;
}

/** How many of these environments (or waiting invocations) are of allocation `by` (null: on demand). */
/**
 * A finishing environment of kind `by` is gone (left `finishing`) without being released: when
 * more invocations wait for one of that kind than there are finishing, one of them starts one.
 */
function wakeForGone(slot: Slot, by: string | null): void {
  if (count(slot.waiting, by) > count(slot.finishing, by)) slot.waiting.find((w) => w.provisionedBy === by)!.run(null);
}

function count(of: Iterable<{ provisionedBy: string | null }>, by: string | null): number {
  let n = 0;
  for (const x of of) if (x.provisionedBy === by) n++;
  return n;
}

/** Frees what a reset environment kept for a successor that will not come. */
function dropReset(r: EnvReset): void {
  void r.bequest.then((b) => b?.release(), () => undefined);
}

export async function createExecutionService(opts: ExecutionServiceOptions): Promise<StratusExecutionService> {
  const { driver, detection } = await chooseDriver(opts.config.sandbox, {
    favorDynmods: opts.config.cgroupFavorDynmods, python: pythonExecutable(), sharedDirs: opts.config.sharedDirs,
    // Environments' /tmp volumes (ephemeral.ts): on the data dir's disk, never the host's /tmp.
    ephemeralDir: path.join(opts.config.dataDir, 'ephemeral'), defaultEphemeralMB: POOL_LIMITS.ephemeralMB,
  });
  const clock = opts.clock ?? systemClock;
  const codeRoot = path.join(opts.config.dataDir, 'code');
  try {
    fs.mkdirSync(codeRoot, { recursive: true, mode: 0o711 });
    if (driver.name === 'namespace') {
      // traversable, not listable: an environment reaches its own code dir by its exact name only
      fs.chmodSync(opts.config.dataDir, 0o711);
      fs.chmodSync(codeRoot, 0o711);
    }
  } catch { /* the data dir is the app's; best effort */ }
  const rtDir = runtimesDir();
  const overrides = Object.values(opts.runtimeOverrides ?? {}).map((r) => r.runtimeDir);
  const keepPaths = [codeRoot, ...(rtDir ? [rtDir] : []), ...overrides];
  const prewarm = new PrewarmPool(driver, opts.config.prewarmPerRuntime, keepPaths, opts.logSink, clock,
    (f, memoryMB, runtime) => opts.runtimeOverrides?.[f] ?? shippedRuntime(f, memoryMB, runtime));
  const svc = new Service(opts, driver, prewarm, detection, keepPaths);
  prewarm.start();
  return svc;
}
