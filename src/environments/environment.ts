import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { FunctionErrorTypes } from '../core/errors.js';
import type { Clock } from '../ports/clock.js';
import type { ExecutionOutcome, ExecutionTarget, InitializationType, Invocation } from '../ports/execution.js';
import type { LogSink } from '../ports/logs.js';
import { type AwsClientVars, execWrapper, functionEnv, nodeStartupEnv, runtimeBootEnv, runtimeFds } from './env-vars.js';
import {
  billedMs, exitText, logStreamName, MAX_RESPONSE_BYTES, MAX_STREAMED_RESPONSE_BYTES, platformError, responseTooLargePayload,
  type RuntimeSpan, runtimeExited, streamedTooLargeError, SystemLog, timeoutLogLine, timeoutPayload, truncatedResponsePayload, truncatedStreamError,
} from './format.js';
import { LogWriter } from './log-writer.js';
import { ApiErrors, RuntimeApiServer, type RtRequest, type RtResponse, type RuntimeApiHandler } from './runtime-api.js';
import { presentedRuntime, type RuntimeFamily } from './runtimes.js';
import { CodeView, entrypoint, type EntrypointRules } from './code-view.js';
import { StreamFlow } from './stream-flow.js';
import { OPT_ROOT, TASK_ROOT } from './sandbox/task-root.js';
import { Extensions, extensionHiddenVars, extensionLauncher, MAX_EXTENSIONS, RUNTIME_SHUTDOWN_MS, SHUTDOWN_GRACE_MS } from './extensions.js';
import type { SandboxBequest, SandboxDriver, SandboxHandle, SandboxLimits } from './sandbox/types.js';
import { next, transition, type EnvEvent, type EnvState } from './state.js';

/** Lambda's init phase bound. */
export const INIT_TIMEOUT_MS = 10_000;
/** The init of an environment of provisioned concurrency: at least this long (or the function's timeout). */
export const PROVISIONED_INIT_TIMEOUT_MS = 130_000;
/**
 * How long an environment stays idle before it is stopped (Lambda freezes it once the runtime and
 * its extensions have asked for their next event). Not at once: an environment invoked back to
 * back would pay a stop and a resume per invocation; what a function leaves running after its
 * result (a timer, a late rejection) waits for the next invocation all the same.
 */
export const FREEZE_AFTER_MS = 20;
/**
 * A Node.js runtime that served this many invocations since it last compacted its heap compacts it
 * before it is frozen, asked with SIGWINCH (runtimes/nodejs/idle-gc.cjs: frozen, it would keep all
 * a burst left behind, its own timer for it never firing). Not at once: a collection shrinks V8's
 * young generation only after a quiet while (its allocation-rate window is 5 s; collected right
 * after a burst, the busiest environment of the benchmark kept 10.7-11.6 MiB against 9.7), and V8
 * gives pages back after it, its memory reducer 8 s later (frozen 250 ms after the collection,
 * 14.1-16.9 MiB; 10 s after, 8.7). Such an environment stays unfrozen for COMPACT_QUIET_MS, is
 * asked, and is frozen COMPACT_MS later; others are frozen at once.
 */
const COMPACT_EVERY = 100;
const COMPACT_QUIET_MS = 6000;
const COMPACT_MS = 10_000;

/** A runtime process that has booted (prewarmed) but has no function yet. */
export interface BootedRuntime {
  envId: string;
  family: 'node' | 'python';
  handle: SandboxHandle;
  logs: LogWriter;
  runtimeDir: string;
  /** Its Runtime API listener, already listening (the port goes into the assignment). */
  api: RuntimeApiServer;
}

/** Frees a pooled runtime that will never serve a function. */
export function discardBooted(b: BootedRuntime): Promise<void> {
  b.api.close();
  return b.handle.destroy();
}

export interface EnvDeps {
  driver: SandboxDriver;
  logSink: LogSink;
  clock: Clock;
  region: string;
  /** AWS_ENDPOINT_URL_<SERVICE> and credential variables for a new environment (env-vars.awsClientVars). */
  clientVars(): AwsClientVars;
  /** Called once when the environment is dead (pool bookkeeping). */
  onDead(env: Environment): void;
  /** Called once, as it dies, for an environment that is to be reset (its successor may start at once). */
  onReset(env: Environment, reset: EnvReset): void;
}

export interface InitResult {
  ok: boolean;
  initDurationMs: number;
  /** Failure: the error the first invocation reports. */
  errorType?: string;
  /** The runtime's own error document (/runtime/init/error). */
  payload?: Buffer;
  /**
   * Or the platform's account of the failure, Lambda's words after "Error: " ("Runtime exited
   * with error: exit status 2"): the first invocation reports and logs it with its RequestId.
   */
  reason?: string;
  /** The init ran out of time (Lambda's 10 s, or a suppressed init's function timeout). */
  timedOut?: boolean;
  /** Failure: the environment's peak memory, read before its sandbox went. */
  maxMemoryUsedMB?: number;
}

/**
 * A suppressed init (Lambda's second attempt at a failed on-demand init, within the first
 * invocation): the failed environment's log stream and log tail so far, and the time it has.
 */
export interface InitRetry {
  stream: string;
  tail: string | undefined;
  /** The function's timeout, as INIT_REPORT reports a suppressed init that runs out of it. */
  timeoutMs: number;
  /** When it runs out (performance.now()): the invocation's deadline, whose clock started before the launch. */
  deadlineHr: number;
}

/**
 * What an environment that died during its invoke phase (timed out, or its runtime exited or was
 * killed) leaves for its reset, as Lambda resets it instead of replacing it: the next invocation
 * that needs an environment initializes a new runtime in its place, as part of that invocation
 * (a suppressed init), writing on in its log stream and finding its /tmp as it was.
 */
export interface EnvReset {
  stream: string;
  /** Its /tmp and uid once its sandbox is gone; null where the driver cannot keep them. */
  bequest: Promise<SandboxBequest | null>;
}

/** How an invoke phase that went on past its result ended, when not by the runtime's next /next. */
interface PhaseEnd {
  status: 'error' | 'timeout';
  errorType: string;
}

interface Current {
  inv: Invocation;
  requestId: string;
  deadline: number;
  startHr: number;
  delivered: boolean;
  /** The runtime has started posting this invocation's response or error (its body may still be arriving). */
  responding: boolean;
  done: boolean;
  coldInitMs: number | undefined;
  /** The invocation began with a suppressed init: a cold start without an Init Duration of its own. */
  suppressedInit: boolean;
  timer: NodeJS.Timeout | null;
  /** The runtime's result, in and waiting for the end of this I/O phase (see `settle`). */
  pending: (() => void) | null;
  /** The runtime is streaming its response to the client. */
  streaming?: boolean;
  /** That stream's flow control: held back while its client is behind or past its bandwidth. */
  flow?: StreamFlow;
  /** That stream was cut (the runtime's connection closed mid-body, or it exited): the client's has ended. */
  streamCut?: boolean;
  /**
   * With DEBUG system logs only (runtimeDone's spans, see Environment.spans): when the runtime was
   * handed the invocation, began posting its response and had posted all of it (performance.now()).
   */
  deliveredHr?: number;
  respondHr?: number;
  respondedHr?: number;
  /**
   * The runtime's connection closed before the body of its result (a response, streamed or not,
   * or an error) ended: that result counts as sent, as RAPID counts it (see failWhenCut).
   */
  cut?: boolean;
  resolve(o: ExecutionOutcome): void;
}

/**
 * How long an invocation whose result was cut (its response stream, or the body of a buffered
 * response or error) waits for its runtime to exit, so that a crash is logged as one (the
 * runtime's exit is seen a few milliseconds after its connection closes).
 */
const STREAM_CUT_EXIT_MS = 200;

/** Ends the client's side of a cut response stream, once. */
function cutStream(c: Current): void {
  if (c.streamCut) return;
  c.streamCut = true;
  c.inv.stream?.end(truncatedStreamError);
}

export function newEnvId(): string {
  return randomBytes(16).toString('hex');
}

const limitsOf = (t: ExecutionTarget): SandboxLimits => ({ memoryMB: t.config.memorySize, ephemeralMB: t.config.ephemeralStorage });

/** One execution environment: a sandboxed runtime, its Runtime API listener, its log stream. */
export class Environment implements RuntimeApiHandler {
  state: EnvState = 'starting';
  readonly id: string;
  lastUsed = 0;
  /** When it was made (the clock's ms): its age counts from here, across resets. */
  readonly createdAt: number;
  invocations = 0;
  private handle!: SandboxHandle;
  private logs!: LogWriter;
  private readonly api: RuntimeApiServer;
  private parked: RtResponse | null = null;
  /**
   * The acknowledgement (202) of a result whose runtime already asked for its next invocation in
   * the same write: it goes out together with that next invocation, in one write.
   */
  private pendingAck: RtResponse | null = null;
  private cur: Current | null = null;
  private initStartHr = 0;
  private initTimer: NodeJS.Timeout | null = null;
  /** `ready` has resolved: the init's outcome is reported, once. */
  private initSettled = false;
  private readyResolve!: (r: InitResult) => void;
  readonly ready: Promise<InitResult>;
  /** How init failed, once known; `logged` once its INIT_REPORT is written. */
  private initFailure: { errorType: string; payload?: Buffer; reason?: string; logged: boolean; timedOut?: boolean; posted?: boolean } | null = null;
  /** Lambda's INIT_REPORT phase: `invoke` for a suppressed init (InitRetry). */
  private initPhase: 'init' | 'invoke' = 'init';
  private initTimeoutMs = INIT_TIMEOUT_MS;
  /** The peak memory of a failed init, read while the sandbox is still there. */
  private initPeakMB: number | null = null;
  private killReason: { errorType: string; exit: string } | null = null;
  private deadNotified = false;
  /** The init succeeded: a death from here on, unless asked for, is a reset (EnvReset). */
  private initOk = false;
  private resetting = false;
  /**
   * Retired (an update, a delete) while its invocation ran, which has now ended: it ends as an
   * idle one retired does, SHUTDOWN to its extensions first.
   */
  private retiredInFlight = false;
  /** An on-demand init that failed: its /tmp and uid, for the retry (endForRetry). */
  private retryBequest: Promise<SandboxBequest | null> | null = null;
  /** endSandbox ran: the sandbox is ended once, whoever asks again. */
  private sandboxEnded = false;
  /**
   * Called when an invocation's result is in but its caller waits for the end of its invoke phase
   * (LogType Tail, the runtime still at work): the environment is finishing, not busy.
   */
  onResultAwaitingPhase: (() => void) | null = null;
  /** The provisioned concurrency allocation that keeps this environment (ExecutionService.provision), if one does. */
  provisionedBy: string | null = null;
  /** Waiting for the runtime's next /next after a result (see `whenReadyForNext`). */
  private nextWait: (() => void) | null = null;
  /** The end of the last invocation's invoke phase is awaited past its result: its deadline. */
  private phaseTimer: NodeJS.Timeout | null = null;
  /** The function's external extensions (its layers' /opt/extensions), when it has any. */
  private ext: Extensions | null = null;
  /** The runtime asked for its first invocation before every extension was ready: init ends when they are. */
  private initWaitsForExtensions = false;
  /**
   * The last invocation, while its invoke phase goes on past its result (see finish): its END and
   * REPORT, written once the phase is over, as it ended, or (`end`) ended by the runtime's exit
   * or the deadline.
   */
  private pendingReport: { requestId: string; write: (end?: PhaseEnd) => void } | null = null;
  /** Its extensions have their SHUTDOWN event ('grace'); the sandbox ends when they are done ('over'). */
  private shuttingDown: false | 'grace' | 'over' = false;
  /** Stopped while idle (see FREEZE_AFTER_MS), and when it last became idle. */
  private frozen = false;
  private freezeTimer: NodeJS.Timeout | null = null;
  private idleSinceHr = 0;
  /** `invocations` when the runtime was last asked to compact its heap. */
  private compactedAt = 0;

  /** INIT_START, START, END and REPORT in the function's log format. */
  private readonly sys: SystemLog;
  /**
   * platform.runtimeDone's spans are written (JSON system logs at DEBUG): only then are their
   * moments read, so the warm path of every other function reads no clock for them.
   */
  private readonly spans: boolean;
  /** When the runtime last asked for its next invocation after a result (with `spans` only). */
  private nextHr = 0;

  private constructor(
    readonly key: string, readonly target: ExecutionTarget, readonly family: RuntimeFamily, private readonly deps: EnvDeps, id: string,
    api: RuntimeApiServer | undefined, readonly initializationType: InitializationType,
  ) {
    this.id = id;
    this.createdAt = deps.clock.now();
    this.sys = SystemLog.of(target.config.loggingConfig, {
      functionName: target.functionName, version: target.version, functionArn: target.functionArn, memorySizeMB: target.config.memorySize, initializationType,
    });
    this.spans = this.sys.debug;
    this.api = api ?? new RuntimeApiServer();
    this.api.bind(this);
    this.ready = new Promise((r) => { this.readyResolve = r; });
  }

  /**
   * Starts an environment for `target`: either hands the function to a prewarmed runtime, or
   * launches one (shipped runtime, or the function's own bootstrap for custom runtimes).
   */
  static async start(o: {
    key: string; target: ExecutionTarget; family: RuntimeFamily; codeDir: string; codeGid: number | null; deps: EnvDeps;
    /** The function's layers merged into one dir (none: it has no layers) and the gid that may read it. */
    layers?: { dir: string; gid: number | null };
    /** The external extensions in its layers (file names under extensions/), never with `booted`. */
    extensions?: string[];
    booted?: BootedRuntime; runtime?: { command: string[]; runtimeDir: string }; keepPaths: string[]; retry?: InitRetry;
    /** A reset's: the /tmp of the environment this one replaces (the launch takes it; never with `booted`). */
    bequest?: SandboxBequest;
    /** Provisioned concurrency's: initialized ahead of invocations, its init bounded by PROVISIONED_INIT_TIMEOUT_MS or the function's timeout. */
    initializationType?: InitializationType;
  }): Promise<Environment> {
    const initializationType = o.initializationType ?? 'on-demand';
    const env = new Environment(o.key, o.target, o.family, o.deps, o.booted?.envId ?? newEnvId(), o.booted?.api, initializationType);
    env.initStartHr = performance.now();
    // "The 10-second timeout doesn't apply to functions that are using provisioned concurrency":
    // 130 seconds or the function's timeout, whichever is higher.
    if (initializationType === 'provisioned-concurrency') env.initTimeoutMs = Math.max(PROVISIONED_INIT_TIMEOUT_MS, o.target.config.timeout * 1000);
    if (o.retry) {
      env.initPhase = 'invoke';
      env.initTimeoutMs = o.retry.timeoutMs;
    }
    let port: number;
    let presenting: Promise<void> | undefined;
    try {
      port = await env.api.listen();
    } catch (e) {
      // A taken pooled runtime goes with it; nothing else exists yet.
      if (o.booted) void discardBooted(o.booted);
      else env.api.close();
      o.bequest?.release();
      throw e;
    }
    // Where the function sees its code: /var/task as in Lambda where the sandbox can present it.
    const taskRoot = o.deps.driver.taskRoot(o.codeDir);
    // In a log group of the function's choosing (shared, maybe, with other functions), Lambda's
    // streams name the function too: YYYY/MM/DD/<function>[<version>]<environment id>.
    const custom = o.target.config.loggingConfig.logGroup ? o.target.functionName : undefined;
    const stream = o.retry?.stream ?? logStreamName(new Date(o.deps.clock.now()), o.target.version, randomBytes(16).toString('hex'), custom);
    // Where it sees its runtime: /var/runtime as in Lambda where the sandbox presents it there
    // (a custom runtime's is empty), else the runtime's host path (a custom runtime's: its code).
    const root = o.deps.driver.runtimeRoot();
    const shown = o.runtime ? presentedRuntime(o.runtime, root) : undefined;
    const runtimeDir = o.booted?.runtimeDir ?? shown?.runtimeDir ?? root ?? taskRoot;
    // Where it sees its layers: /opt, as in Lambda, where the sandbox presents them there.
    const optRoot = o.deps.driver.optRoot(o.layers?.dir);
    const vars = functionEnv(o.target, {
      family: o.family, region: o.deps.region, runtimeApi: `127.0.0.1:${port}`, taskRoot, runtimeDir, logStream: stream, optRoot,
      client: o.deps.clientVars(), initializationType,
    });
    const groups = [o.codeGid, o.layers?.gid ?? null].filter((g): g is number => g !== null);
    let keepEnv = false;
    if (o.booted) {
      env.handle = o.booted.handle;
      env.logs = o.booted.logs;
      o.bequest?.release();
    } else {
      const custom = o.family === 'custom';
      const startup = o.family === 'node' ? nodeStartupEnv(o.target) : null;
      // The code and layers as the function sees them: the server looks at them only through
      // this, which never follows one of the function's symlinks out of them on the host.
      const view = new CodeView({ codeDir: o.codeDir, layersDir: o.layers?.dir, taskRoot, optRoot });
      // Under the namespace driver the environment's uid owns none of the files: they must be executable by others.
      const isolated = o.deps.driver.name === 'namespace';
      const rules = { lambdaLayout: taskRoot === TASK_ROOT && optRoot === OPT_ROOT, isolated, asOther: isolated };
      // A custom runtime's bootstrap: the code's, else one of its layers' (Lambda looks in /var/task, then /opt).
      const fromLayers = custom && o.layers !== undefined && view.find(`${TASK_ROOT}/bootstrap`).kind === 'missing' && view.find(`${OPT_ROOT}/bootstrap`).kind !== 'missing';
      const boot = custom ? entrypoint(view, fromLayers ? `${OPT_ROOT}/bootstrap` : `${TASK_ROOT}/bootstrap`, fromLayers ? `${optRoot}/bootstrap` : `${taskRoot}/bootstrap`,
        `Couldn't find valid bootstrap(s): [${taskRoot}/bootstrap ${optRoot}/bootstrap]`, rules) : null;
      // A wrapper script starts the runtime (AWS_LAMBDA_EXEC_WRAPPER): with the function's
      // environment, as the environment's uid, in the task root; the runtime keeps the
      // environment the wrapper gives it.
      const wrapper = presentedWrapper(execWrapper(o.target, o.family), view, { taskRoot, optRoot, layers: o.layers !== undefined }, rules);
      const unusable = boot?.problem ?? wrapper?.problem ?? null;
      if (unusable) env.initFailure = { errorType: FunctionErrorTypes.invalidEntrypoint, reason: unusable, logged: false };
      const extensions = o.extensions?.length ? o.extensions : null;
      const extProblem = extensions && o.layers ? extensionLaunchProblem(o.codeDir, o.layers.dir, extensions, { taskRoot, optRoot }, rules) : null;
      if (extProblem && !unusable) env.initFailure = { errorType: 'Extension.LaunchError', reason: extProblem.reason, logged: false };
      // Extensions (in the layers' extensions/) start first, as the environment's uid, then the
      // runtime once they have registered: a launcher starts them and becomes the runtime.
      if (extensions) env.startExtensions(extensions, vars);
      if (extProblem?.name) env.ext?.launchFailed(extProblem.name, extProblem.agentError);
      const launcher = extensions
        ? extensionLauncher(`${optRoot}/extensions`, extensions, [...extensionHiddenVars(vars), ...(custom ? [] : Object.keys(runtimeFds(o.deps.driver)))], o.target.config.environment,
          custom ? [] : [o.deps.driver.logFd, o.deps.driver.apiFd], vars.AWS_LAMBDA_RUNTIME_API!)
        : [];
      keepEnv = wrapper !== null || (extensions !== null && !custom);
      try {
        env.handle = o.deps.driver.launch({
          envId: env.id,
          // A bootstrap that cannot run: the environment starts as any other (its log stream,
          // INIT_START, INIT_REPORT) around a stand-in that exits at once, and reports why.
          command: unusable || extProblem ? ['/bin/sh', '-c', 'exit 126'] : [...launcher, ...(boot ? [boot.launch] : wrapper ? [wrapper.launch, ...shown!.command] : shown!.command)],
          runtimeDir: o.runtime?.runtimeDir,
          env: custom ? vars : keepEnv ? { ...vars, ...runtimeFds(o.deps.driver) } : runtimeBootEnv(o.deps.driver, startup ?? {}),
          framedLog: !custom,
          apiChannel: !custom,
          limits: limitsOf(o.target),
          // NODE_OPTIONS (--require ./x.js) is read as node starts: node must start as the
          // environment's uid already, not drop to it after the code it names has run; a
          // wrapper script is the function's own code.
          dropPrivileges: custom || startup !== null || keepEnv,
          shipped: !custom,
          interpreter: keepEnv && !custom ? shown!.command[0] : undefined,
          groups,
          keepPaths: o.keepPaths,
          // In the task root, as Lambda starts its bootstrap (NODE_OPTIONS=--require ./x.js resolves there).
          cwd: custom || startup || keepEnv ? taskRoot : undefined,
          code: o.codeDir,
          layers: o.layers?.dir,
          deferCpuLimit: true,
          bequest: o.bequest,
        });
      } catch (e) {
        env.api.close();
        throw e;
      }
      env.logs = new LogWriter(o.deps.logSink, o.deps.clock, env.handle.child.stdout, env.handle.child.stderr, env.handle.logStream);
    }
    env.api.owner = o.deps.driver.verifiesPeers && env.handle.uid !== null ? { uid: env.handle.uid, members: env.handle.members } : null;
    const child = env.handle.child;
    child.stdin?.on('error', () => { /* runtime closed stdin */ });
    if (o.family !== 'custom') {
      // First, so that the runtime gets going while the rest below runs. Nothing it writes or
      // asks is read before all of this is done: a runtime does nothing but take its assignment
      // until it has loaded the function's code, and from the code's presence at the task root
      // on this function runs in one turn of the event loop.
      const h = env.handle;
      if (h.apiChannel) env.api.attach(h.apiChannel);
      const assignment = JSON.stringify({
        ...(keepEnv ? { keepEnv: true } : { env: vars }), taskRoot, ...(optRoot !== OPT_ROOT ? { optRoot } : {}), uid: h.uid, gid: h.gid, groups,
        ...(o.booted ? { taskRootPending: true } : {}),
      }) + '\n';
      if (o.booted) {
        // A pooled runtime was launched before its function was known: it takes its assignment
        // (its privilege drop and environment take longer than a bind) while its code goes to
        // /var/task, and enters the task root only once told it is there. So the assignment
        // leaves first: the runtime's wake-up and work are the longer of the two.
        child.stdin?.write(assignment);
        presenting = o.booted.handle.presentCode(o.codeDir, o.layers?.dir);
        presenting.catch(() => { /* awaited below */ });
      } else if (env.ext) env.ext.onRegistered = () => child.stdin?.end(`go\n${assignment}`);
      else child.stdin?.end(assignment);
    } else if (env.ext) {
      env.ext.onRegistered = () => child.stdin?.end('go\n');
    }
    if (o.booted) {
      // A pooled runtime booted under the pool's limits: the function's, microseconds after the
      // assignment, long before the runtime has read it, dropped its privileges and loaded code.
      env.handle.setLimits(limitsOf(o.target));
      // It drops its privileges and takes its environment while its code is bound (each ~1 ms
      // here), then waits for the word that the code is there.
      try {
        await presenting;
      } catch (e) {
        void discardBooted(o.booted);
        throw e;
      }
      child.stdin?.end('ready\n');
    }
    env.logs.setStream(o.target.logGroupName, stream);
    const lc = o.target.config.loggingConfig;
    env.logs.filterLevel(lc.logFormat === 'JSON' ? lc.applicationLogLevel ?? 'INFO' : null);
    // The init phase's lines are kept for a tail: the first invocation's LogResult begins with
    // them, whether the init failed or not (invoke's begin() carries them on a cold start). A
    // suppressed init continues the failed one's stream and tail, without a second INIT_START.
    env.logs.begin(true, o.retry?.tail);
    if (!o.retry) env.systemLine(env.sys.initStart(o.target.config.runtime, o.deps.region, o.deps.clock.now(), stream));
    env.to('assign');
    if (child.exitCode !== null || child.signalCode !== null) queueMicrotask(() => env.onExit(child.exitCode, child.signalCode));
    else child.once('exit', (code, signal) => env.onExit(code, signal));
    env.initTimer = setTimeout(() => env.initTimedOut(), o.retry ? Math.max(0, o.retry.deadlineHr - performance.now()) : env.initTimeoutMs);
    return env;
  }

  get logStream(): string | null { return this.logs?.streamName ?? null; }

  /** Serves the Extensions API for the function's extensions `names` (their launch is the launcher's). */
  private startExtensions(names: string[], vars: Record<string, string>): void {
    const ext = new Extensions(names, () => ({ functionName: this.target.functionName, functionVersion: this.target.version, handler: vars._HANDLER ?? '', accountId: this.target.functionArn.split(':')[4] ?? '' }));
    this.ext = ext;
    ext.onReady = () => this.extensionReady();
    // An extension that reports an init error ends the init (it is expected to exit at once).
    ext.onInitError = (name, type) => {
      if (this.state !== 'initializing' || this.initFailure) return;
      this.initFailure = { errorType: 'Extension.InitError', reason: `extension ${name} reported ${type}`, logged: false };
      this.resetAfterSuppressedInit();
      this.kill();
    };
    ext.onExit = (how, errorType) => this.extensionExited(how, errorType);
    this.api.bind(this, {
      register: (req, res) => ext.register(req, res, (done) => readBody(req, 64 * 1024, done)),
      next: (req, res) => ext.next(req, res),
      initError: (req, res) => ext.error(req, res, 'init'),
      exitError: (req, res) => ext.error(req, res, 'exit'),
      exitReport: (req, res) => ext.exitReport(req, res, (done) => readBody(req, 64, done)),
    });
  }

  /**
   * An extension's process exited (`how`: "exit status 5"). As Lambda's RAPID, that is a crash
   * (Extension.Crash) unless it follows the extension's SHUTDOWN, and it ends at once whatever
   * is under way: an init fails (and is retried within the first invocation, as other init
   * failures are); an invocation the runtime has not answered fails (the caller gets the error);
   * one it has answered keeps its result, its invoke phase failed (END and REPORT say so). The
   * environment is then reset, not held to the invocation's deadline: the next invocation has a
   * new one. Its other extensions get no SHUTDOWN (as after a runtime's crash).
   */
  private extensionExited(how: string, errorType: string): void {
    // Its SHUTDOWN's end, or the environment ending anyway.
    if (this.shuttingDown || this.state === 'dead') return;
    if (!this.initSettled) {
      // The init failed already (an init error reported): that error stands.
      if (this.initFailure) return;
      this.initFailure = { errorType, reason: how, logged: false };
      this.resetAfterSuppressedInit();
      this.kill();
      return;
    }
    // A result in but not yet settled came first.
    this.settle(this.cur);
    if (this.state === 'busy' || this.state === 'idle') this.resetting = true;
    const c = this.cur;
    if ((c && !c.done) || this.pendingReport) {
      // What the function and its extensions wrote until now comes first.
      this.logs.drainNow();
      this.logs.flushPartial();
    }
    if (c && !c.done) {
      if (c.streaming) cutStream(c);
      const failed = platformError(c.requestId, errorType, how);
      this.systemLine(this.sys.text(failed.logLines));
      this.finish(c, 'error', Buffer.from(JSON.stringify(failed.payload)), errorType, { reportStatus: 'error', dying: true, streamed: c.streamCut });
    } else if (this.pendingReport) {
      this.systemLine(this.sys.text(platformError(this.pendingReport.requestId, errorType, how).logLines));
      this.writePendingReport({ status: 'error', errorType });
    }
    this.kill({ errorType, exit: how });
  }

  private writePendingReport(end?: PhaseEnd): void {
    const r = this.pendingReport;
    this.pendingReport = null;
    if (this.phaseTimer) { clearTimeout(this.phaseTimer); this.phaseTimer = null; }
    r?.write(end);
  }

  /**
   * The runtime asked for its next invocation, or an extension for its next event: when all of
   * them have, the last invocation's invoke phase is over (its END and REPORT are written) and
   * the environment can take the next one.
   */
  private phaseMayBeOver(): void {
    if (!this.readyForNext) return;
    this.writePendingReport();
    const ready = this.nextWait;
    if (ready) {
      this.nextWait = null;
      ready();
    }
  }

  /**
   * The deadline of an invocation passed between its result and the end of its invoke phase (the
   * runtime, or an extension, still at work on it): a timeout, as Lambda reports one, and a reset.
   */
  private phaseTimedOut(): void {
    this.phaseTimer = null;
    const p = this.pendingReport;
    if (!p) return;
    this.systemLine(this.sys.text(timeoutLogLine(new Date(this.deps.clock.now()), p.requestId, this.target.config.timeout)));
    this.writePendingReport({ status: 'timeout', errorType: FunctionErrorTypes.timedOut });
    this.killReason ??= { errorType: FunctionErrorTypes.timedOut, exit: 'timeout' };
    this.resetAfterTimeout();
  }

  /**
   * Lambda resets an environment after a timeout, and a reset sends SHUTDOWN (reason "timeout")
   * to the extensions that asked for it, with their grace time, before the sandbox ends. The
   * runtime is not handed anything meanwhile.
   */
  private resetAfterTimeout(): void {
    this.resetting = true;
    if (this.ext?.subscribesToShutdown) {
      this.shutdownExtensions('timeout');
      return;
    }
    this.kill();
  }

  /** An extension asked for its next event: the init, or an invocation's work, may be over. */
  private extensionReady(): void {
    const ext = this.ext;
    if (!ext?.idle) return;
    if (this.initWaitsForExtensions && this.state === 'initializing') {
      this.initWaitsForExtensions = false;
      // The init lasted until the last of them was ready, as Lambda's Init Duration counts it.
      this.completeInit(performance.now() - this.initStartHr);
      return;
    }
    this.phaseMayBeOver();
    if (this.state === 'idle') this.freezeWhenIdle();
  }

  /** The log tail of the init phase so far (INIT_START, the init's output, INIT_REPORT). */
  takeInitTail(): string | undefined { return this.logs.takeTail(); }

  /**
   * Logs the invocation of an environment whose suppressed init failed, as Lambda reports it
   * (START, the platform's error lines, END, REPORT with the invocation's duration, the
   * environment's peak memory and the init's error) and returns its log tail: the last 4 KB of
   * both init attempts' lines and of these.
   */
  logFailedInit(inv: Invocation, f: { errorType: string; durationMs: number; maxMemoryUsedMB: number; reason?: string; timedOut?: boolean }): string | undefined {
    const now = this.deps.clock.now();
    this.systemLine(this.sys.start(inv.requestId, this.target.version, now, inv.tenantId));
    if (f.timedOut) this.systemLine(this.sys.text(timeoutLogLine(new Date(now), inv.requestId, this.target.config.timeout)));
    else if (f.reason !== undefined) this.systemLine(this.sys.text(platformError(inv.requestId, f.errorType, f.reason).logLines));
    const status = f.timedOut ? 'timeout' : 'error';
    this.systemLine(this.sys.end(inv.requestId, now, { status, errorType: f.errorType, durationMs: f.durationMs, producedBytes: 0 }));
    this.systemLine(this.sys.report({
      requestId: inv.requestId, durationMs: f.durationMs, billedMs: billedMs(f.durationMs), memorySizeMB: this.target.config.memorySize,
      maxMemoryUsedMB: f.maxMemoryUsedMB, status, errorType: f.errorType, traceId: inv.traceId, tenantId: inv.tenantId,
    }, now));
    const tail = this.logs.takeTail();
    return inv.wantLogTail ? tail : undefined;
  }

  private systemLine(line: string | null): void {
    if (line !== null) this.logs.system(line);
  }

  /**
   * Whether the runtime has asked for its next invocation. Lambda's invoke phase ends there, not
   * when the result is posted: a runtime may go on working after its result (the caller has it
   * already) and is handed nothing new until it asks; one that exits instead (Node after an
   * uncaught exception) is replaced. The shipped runtimes ask in the same write as the result.
   */
  get readyForNext(): boolean { return this.parked !== null && (this.ext?.idle ?? true); }

  /**
   * Calls `ready` once the runtime asks for its next invocation (and the extensions for their next
   * event). One that has not by the last invocation's deadline is killed (see phaseTimedOut).
   */
  whenReadyForNext(ready: () => void): void {
    if (this.readyForNext) { ready(); return; }
    this.nextWait = ready;
  }
  get peakMemoryMB(): number { return this.handle.peakMemoryMB(); }
  get pid(): number | undefined { return this.handle?.child.pid; }

  private to(e: EnvEvent): void {
    this.state = next(this.state, e);
  }

  // ---- init -----------------------------------------------------------------------------------

  private initDone(r: InitResult): void {
    if (this.initTimer) { clearTimeout(this.initTimer); this.initTimer = null; }
    this.initSettled = true;
    if (!r.ok) r.maxMemoryUsedMB = this.notePeak();
    this.readyResolve(r);
  }

  /** The peak memory of a failing init, read once, before the sandbox is destroyed. */
  private notePeak(): number {
    if (this.initPeakMB === null) this.initPeakMB = this.handle?.peakMemoryMB() ?? 0;
    return this.initPeakMB;
  }

  private initTimedOut(): void {
    this.initTimer = null;
    if (this.state !== 'initializing') return;
    // The init failed already (posted) and the runtime did not exit by the limit: it ends here,
    // with the error it posted.
    if (this.initFailure?.posted) { this.kill(); return; }
    this.initFailure = { errorType: FunctionErrorTypes.timedOut, logged: true, timedOut: true };
    this.notePeak();
    this.logExtensionStates();
    this.systemLine(this.sys.initReport(this.deps.clock.now(), { status: 'timeout', durationMs: this.initTimeoutMs, phase: this.initPhase }));
    this.resetAfterSuppressedInit();
    this.kill();
  }

  // ---- invocations ------------------------------------------------------------------------------

  /**
   * Runs one invocation; the environment must be idle. `coldInitMs` marks the cold start's first.
   * `since`: the invocation began earlier, with a suppressed init (InitRetry) that is part of it:
   * its duration, deadline and log tail count from there.
   */
  invoke(inv: Invocation, coldInitMs?: number, since?: { startHr: number; deadline: number }): Promise<ExecutionOutcome> {
    this.to('invoke');
    this.thaw();
    this.invocations++;
    const timeoutMs = this.target.config.timeout * 1000;
    const logs = this.logs;
    // The invocation that ran the environment's on-demand init (a cold start, or a suppressed
    // init) begins its tail with the init's lines, as Lambda's LogResult of a cold start does;
    // a provisioned environment's init ran before any invocation, and its first is no cold start.
    logs.begin(inv.wantLogTail, inv.wantLogTail && (since || coldInitMs !== undefined) ? logs.takeTail() : undefined);
    this.systemLine(this.sys.start(inv.requestId, this.target.version, this.deps.clock.now(), inv.tenantId));
    // Max Memory Used is the environment's peak so far, as Lambda reports it (it never decreases
    // between warm invocations), so the peak is not reset here.
    return new Promise<ExecutionOutcome>((resolve) => {
      const startHr = since?.startHr ?? performance.now();
      const c: Current = {
        inv, requestId: inv.requestId, deadline: since?.deadline ?? this.deps.clock.now() + timeoutMs, startHr, delivered: false, responding: false, done: false,
        coldInitMs, suppressedInit: since !== undefined, timer: null, pending: null, resolve,
      };
      c.timer = setTimeout(() => this.timedOut(c), since ? Math.max(0, timeoutMs - (performance.now() - startHr)) : timeoutMs);
      this.cur = c;
      const p = this.parked;
      if (p) {
        this.parked = null;
        this.deliver(p, c);
      }
    });
  }

  private deliver(res: RtResponse, c: Current): void {
    const inv = c.inv;
    if (!c.delivered && this.ext) this.ext.invoke({ deadlineMs: c.deadline, requestId: c.requestId, invokedFunctionArn: inv.invokedFunctionArn, traceId: inv.traceId });
    if (this.spans && !c.delivered) c.deliveredHr = performance.now();
    c.delivered = true;
    const h: string[] = [
      'Content-Type', 'application/json',
      'Lambda-Runtime-Aws-Request-Id', c.requestId,
      'Lambda-Runtime-Deadline-Ms', String(c.deadline),
      'Lambda-Runtime-Invoked-Function-Arn', inv.invokedFunctionArn,
      'Lambda-Runtime-Trace-Id', inv.traceId,
    ];
    if (inv.clientContext !== undefined) h.push('Lambda-Runtime-Client-Context', inv.clientContext);
    if (inv.cognitoIdentity !== undefined) h.push('Lambda-Runtime-Cognito-Identity', inv.cognitoIdentity);
    if (inv.tenantId !== undefined) h.push('Lambda-Runtime-Aws-Tenant-Id', inv.tenantId);
    this.sendPendingAck();
    res.send(200, h, inv.payload);
  }

  private sendPendingAck(): void {
    const ack = this.pendingAck;
    if (ack) {
      this.pendingAck = null;
      ApiErrors.accepted(ack);
    }
  }

  /**
   * Acknowledges a result. When the runtime already sent its next /next (pipelined, now parked),
   * the 202 waits for the next invocation and both leave in one write; otherwise it is sent after
   * the caller's reply, which is on the critical path.
   */
  private acknowledge(res: RtResponse): void {
    // Decided once the rest of the runtime's write is parsed: a pipelined /next is parked by then.
    // (The connection writes responses in request order, so the 202 never overtakes the 200.)
    queueMicrotask(() => {
      if (this.parked && !this.pendingAck && this.state !== 'dead') this.pendingAck = res;
      else setImmediate(() => ApiErrors.accepted(res));
    });
  }

  /**
   * Ends the invocation with the result the runtime posted, once the event loop is through the
   * I/O it is processing. Whatever the function wrote to stdout/stderr before posting its result
   * is already in the pipes, so their readiness came in the same poll as the result and their
   * data is read (and logged, before END) in this same phase: no probing read of each pipe per
   * invocation. Until then the result is pending: a timeout or an exit that comes in between
   * settles it first, since it arrived before them.
   */
  private complete(c: Current, status: 'ok' | 'error', payload: Buffer, errorType: string | undefined): void {
    if (c.done || c.pending) return;
    c.pending = () => this.finish(c, status, payload, errorType, { drained: true });
    setImmediate(() => this.settle(c));
  }

  private settle(c: Current | null): void {
    const f = c?.pending;
    if (f) {
      c!.pending = null;
      f();
    }
  }

  /** Ends the current invocation. */
  private finish(c: Current, status: 'ok' | 'error', payload: Buffer, errorType: string | undefined, extra: {
    streamed?: boolean; reportStatus?: string; dying?: boolean; drained?: boolean;
  } = {}): void {
    if (c.done) return;
    c.done = true;
    c.pending = null;
    if (c.timer) clearTimeout(c.timer);
    c.flow?.stop();
    if (this.cur === c) this.cur = null;
    // A timed-out invocation's duration is its timeout, as Lambda reports it (production REPORT
    // lines of timeouts read "Duration: 31000.00 ms" for a 31 s timeout, billed with the Init
    // Duration added).
    const durationMs = extra.reportStatus === 'timeout' ? this.target.config.timeout * 1000 : performance.now() - c.startHr;
    const logs = this.logs;
    if (!extra.drained) logs.drainNow();
    logs.flushPartial();
    const maxMem = this.handle.peakMemoryMB();
    const memorySize = this.target.config.memorySize;
    const now = this.deps.clock.now();
    const reportStatus = extra.reportStatus === 'timeout' ? 'timeout' : extra.reportStatus === 'error' ? 'error' : undefined;
    const billed = billedMs(durationMs, c.coldInitMs);
    const report = (at: number, ms: number, peakMB: number, end?: PhaseEnd) => {
      const st = end?.status ?? reportStatus;
      this.systemLine(this.sys.end(c.requestId, at, {
        status: st ?? (status === 'error' ? 'error' : 'success'), errorType: end?.errorType ?? errorType, durationMs: ms, producedBytes: payload.length,
        spans: this.spans ? this.runtimeSpans(c, at, end) : undefined,
      }));
      this.systemLine(this.sys.report({
        requestId: c.requestId, durationMs: ms, billedMs: billedMs(ms, c.coldInitMs), memorySizeMB: memorySize, maxMemoryUsedMB: peakMB, initDurationMs: c.coldInitMs,
        status: st, errorType: end?.errorType ?? errorType, traceId: c.inv.traceId, tenantId: c.inv.tenantId,
      }, at));
    };
    const outcome: ExecutionOutcome = {
      status, payload, errorType, durationMs, billedDurationMs: billed, maxMemoryUsedMB: maxMem,
      coldStart: c.coldInitMs !== undefined || c.suppressedInit, initDurationMs: c.coldInitMs,
    };
    if (extra.streamed) outcome.streamed = true;
    // The invoke phase lasts until the runtime asks for its next invocation and every extension
    // for its next event, not until the result (Lambda: "The runtime and each extension indicate
    // completion by sending a Next API request"): END and REPORT wait for it, the duration counts
    // the work done after the result, and what is written meanwhile is this invocation's. An exit
    // meanwhile is this invocation's error, the deadline its timeout. The caller has the result
    // at once; with LogType Tail, once the phase is over (its tail ends with the REPORT). The
    // shipped runtimes ask in the same write as the result: over by now.
    const deferred = !extra.dying && !this.readyForNext;
    const tailLater = deferred && c.inv.wantLogTail;
    if (deferred) {
      const write = (end?: PhaseEnd) => {
        const ms = end?.status === 'timeout' ? this.target.config.timeout * 1000 : performance.now() - c.startHr;
        report(this.deps.clock.now(), ms, Math.max(maxMem, this.handle.peakMemoryMB()), end);
        if (tailLater) {
          // The caller waited for the REPORT: its figures are the REPORT's.
          outcome.durationMs = ms;
          outcome.billedDurationMs = billedMs(ms, c.coldInitMs);
          outcome.logTail = logs.takeTail();
          c.resolve(outcome);
        }
      };
      this.pendingReport = { requestId: c.requestId, write };
      this.phaseTimer = setTimeout(() => this.phaseTimedOut(), Math.max(0, c.deadline - now));
      if (tailLater) this.onResultAwaitingPhase?.();
    } else {
      report(now, durationMs, maxMem);
      outcome.logTail = logs.takeTail();
    }
    if (!extra.dying && this.state === 'busy') { this.to('complete'); this.freezeWhenIdle(); }
    else if (!extra.dying && this.state === 'draining') { this.to('complete'); this.retiredInFlight = true; this.destroy(); }
    this.lastUsed = now;
    if (!tailLater) c.resolve(outcome);
  }

  private timedOut(c: Current): void {
    c.timer = null;
    this.settle(c);
    if (c.done) return;
    const sec = this.target.config.timeout;
    // node's timers run on the loop's millisecond clock, which may lag performance.now(): a timer
    // can fire a fraction of a millisecond before the timeout has really passed. Lambda's timed
    // out invocations always last at least their timeout.
    const left = sec * 1000 - (performance.now() - c.startHr);
    if (left > 0) {
      c.timer = setTimeout(() => this.timedOut(c), Math.ceil(left));
      return;
    }
    // What the function wrote until now, an unfinished line too, comes before the timeout line,
    // as Lambda's log capture logs it.
    this.logs.drainNow();
    this.logs.flushPartial();
    this.systemLine(this.sys.text(timeoutLogLine(new Date(this.deps.clock.now()), c.requestId, sec)));
    this.killReason = { errorType: FunctionErrorTypes.timedOut, exit: 'timeout' };
    this.finish(c, 'error', Buffer.from(JSON.stringify(timeoutPayload(c.requestId, sec))), FunctionErrorTypes.timedOut, { reportStatus: 'timeout', dying: true });
    this.resetAfterTimeout();
  }

  /**
   * platform.runtimeDone's spans, as the Runtime API server saw the runtime's work: from the
   * invocation's delivery to the first byte of its response (responseLatency), the response
   * (responseDuration), and from its end to the runtime's next /next (runtimeOverhead: not when
   * the invoke phase ended otherwise). None without a response (an error post, a timeout, a crash
   * before it), as Lambda's RAPID reports none then. `at`: now, on the wall clock.
   */
  private runtimeSpans(c: Current, at: number, end: PhaseEnd | undefined): RuntimeSpan[] | undefined {
    const { deliveredHr, respondHr, respondedHr } = c;
    if (deliveredHr === undefined || respondHr === undefined || respondedHr === undefined) return undefined;
    const wall = at - performance.now();
    const spans: RuntimeSpan[] = [
      { name: 'responseLatency', startMs: wall + deliveredHr, durationMs: respondHr - deliveredHr },
      { name: 'responseDuration', startMs: wall + respondHr, durationMs: respondedHr - respondHr },
    ];
    if (!end && this.nextHr >= respondedHr) spans.push({ name: 'runtimeOverhead', startMs: wall + respondedHr, durationMs: this.nextHr - respondedHr });
    return spans;
  }

  /**
   * SHUTDOWN to the extensions that asked for it; the environment ends once they are done with it
   * (each asked for its next event, or exited) or their grace time is over.
   */
  private shutdownExtensions(reason: 'spindown' | 'timeout'): void {
    this.state = 'dead';
    this.shuttingDown = 'grace';
    const deadline = Date.now() + SHUTDOWN_GRACE_MS;
    // Spun down, a runtime with extensions gets SIGTERM first (Lambda: "it sends a SIGTERM signal
    // to the runtime and then a SHUTDOWN event to each registered external extension"), and up to
    // RUNTIME_SHUTDOWN_MS of the grace time. After a timeout, it is the runtime that is stuck.
    const runtimeDone = reason === 'spindown' ? this.handle.terminateRuntime(RUNTIME_SHUTDOWN_MS) : Promise.resolve();
    void runtimeDone.then(() => this.ext!.shutdown(reason, deadline)).then(() => {
      this.shuttingDown = 'over';
      this.destroy();
    });
  }

  // ---- Runtime API --------------------------------------------------------------------------------

  next(_req: RtRequest, res: RtResponse): void {
    // After an init error the runtime is on its way out: nothing more is handed to it.
    if (this.state === 'initializing' && this.initFailure?.posted) return ApiErrors.invalidState(res, 'InitError', 'Ready');
    if (this.state === 'initializing') {
      // The runtime's part of the init is over (its extensions' may not be).
      if (!this.parked) this.systemLine(this.sys.initRuntimeDone(this.deps.clock.now(), { status: 'success', phase: this.initPhase }));
      this.parked = res;
      // With extensions, the init ends when they too have asked for their first event.
      if (this.ext && !this.ext.idle) {
        this.initWaitsForExtensions = true;
        return;
      }
      this.completeInit(performance.now() - this.initStartHr);
      return;
    }
    if (this.state === 'dead') { res.destroy(); return; }
    const c = this.cur;
    if (c && !c.delivered) return this.deliver(res, c);
    // A /next while the invocation it got is running, before any result: Lambda's Runtime API
    // (RAPID) allows it (Running -> Ready is no transition) and answers the current invocation again.
    if (c && c.delivered && !c.done && !c.responding) return this.deliver(res, c);
    // A /next pipelined behind the response post (sent in the same write) waits for the next invocation.
    if (this.parked) return ApiErrors.invalidState(res, 'Ready', 'Ready');
    this.parked = res;
    if (this.spans) this.nextHr = performance.now();
    res.onClose = () => { if (this.parked === res) this.parked = null; };
    this.phaseMayBeOver();
    if (this.state === 'idle') this.freezeWhenIdle();
  }

  /** Lambda's EXTENSION line for each extension, at the end of every init attempt. */
  private logExtensionStates(): void {
    for (const e of this.ext?.states() ?? []) this.systemLine(this.sys.extension(this.deps.clock.now(), e));
  }

  /** The init is over: the runtime (and every extension) asked for the first invocation. */
  private completeInit(initDurationMs: number): void {
    this.to('ready');
    this.initOk = true;
    // The invocation's CPU share, once its event is on its way (the cold start's first delivery
    // follows from here in promise callbacks; these writes to the cgroup need not come before it).
    setImmediate(() => this.handle.applyCpuLimit());
    this.ext?.closeRegistration();
    this.logExtensionStates();
    // Its report: in JSON at DEBUG only (Lambda's INFO records have none for a successful init, nor its text lines).
    this.systemLine(this.sys.initReport(this.deps.clock.now(), { status: 'success', durationMs: initDurationMs, phase: this.initPhase }));
    this.initDone({ ok: true, initDurationMs });
    // An init with no invocation waiting for it (its first comes at once on a cold start) is
    // frozen until one comes, as Lambda freezes an initialized environment.
    this.freezeWhenIdle();
  }

  /**
   * The runtime's state as Lambda's Runtime API (RAPID, core/states.go) names it, for its
   * refusals: Started until its first /next, Ready from then on (waiting for an invocation or
   * running one), InvocationResponse while posting a result, RuntimeResponseSentState from the
   * result (or a result cut mid-body) to its next /next, InitError once it posted one.
   */
  private runtimeStateName(): string {
    if (this.state === 'initializing' && this.initFailure?.posted) return 'InitError';
    const c = this.cur;
    if (c && c.responding && !c.done) return c.cut ? 'RuntimeResponseSentState' : 'InvocationResponse';
    if (this.parked || (c && c.delivered && !c.done)) return 'Ready';
    return this.state === 'initializing' ? 'Started' : 'RuntimeResponseSentState';
  }

  /**
   * The invocation a result is posted for. As RAPID: the state first (a result is a transition
   * only from Ready: 403 InvalidStateTransition otherwise, whatever the id), then the id (400
   * InvalidRequestID unless it is the invocation the runtime is running).
   */
  private check(id: string, res: RtResponse, verb: string): Current | null {
    const state = this.runtimeStateName();
    if (state !== 'Ready') {
      ApiErrors.invalidState(res, state, verb);
      return null;
    }
    const c = this.cur;
    if (c && c.delivered && !c.done && c.requestId === id) {
      c.responding = true;
      return c;
    }
    ApiErrors.invalidRequestId(res);
    return null;
  }

  /**
   * Ends the invocation with `fail` when the runtime's connection closes before the body of the
   * result it is posting ends. RAPID takes such a body as the runtime's result (ErrTruncatedResponse:
   * the response is marked sent, and the post answered 400 TruncatedHTTPRequest, which here has no
   * connection left to go to) instead of waiting for another until the timeout; the runtime lives
   * on, and the environment stays warm. A stream's client is told at once. When the runtime
   * crashed (out of memory, say), its exit ends the invocation as any exit does (the "Runtime
   * exited" lines, REPORT's error type); one that lives on is failed STREAM_CUT_EXIT_MS later.
   */
  private failWhenCut(c: Current, res: RtResponse, fail: () => void): void {
    res.onClose = () => {
      if (c.done) return;
      c.cut = true;
      if (c.streaming) cutStream(c);
      setTimeout(() => { if (!c.done) fail(); }, STREAM_CUT_EXIT_MS);
    };
  }

  response(id: string, req: RtRequest, res: RtResponse): void {
    const c = this.check(id, res, 'InvocationResponse');
    if (!c) { req.resume(); return; }
    if (this.spans) c.respondHr = performance.now();
    // Lambda-Runtime-Function-Response-Mode: "streaming" or "buffered" in any case, as Lambda's
    // Runtime API reads it; another value fails the invocation (Runtime.InvalidResponseModeHeader,
    // no payload) and is answered 400 InvalidFunctionResponseMode.
    const mode = req.headers['lambda-runtime-function-response-mode']?.toLowerCase();
    if (mode !== undefined && mode !== 'streaming' && mode !== 'buffered') {
      req.resume();
      ApiErrors.invalidResponseMode(res);
      if (!c.done) this.finish(c, 'error', Buffer.alloc(0), FunctionErrorTypes.invalidResponseMode);
      return;
    }
    const streaming = mode === 'streaming';
    const sink = streaming ? c.inv.stream : undefined;
    if (sink) {
      sink.start(req.headers['content-type']);
      // Ends the invocation with a platform-detected failure of the stream (its bytes so far went out).
      const failStream = (e: { errorType: string; errorMessage: string }) => {
        sink.end(e);
        this.finish(c, 'error', Buffer.alloc(0), e.errorType, { streamed: true });
      };
      let size = 0;
      // The runtime's body goes on at its sink's pace (its client's, within the bandwidth the
      // invoker allows); finish stops holding it back.
      const flow = new StreamFlow(req, sink);
      c.flow = flow;
      req.onData = (chunk) => {
        if (c.done) return;
        size += chunk.length;
        if (size <= MAX_STREAMED_RESPONSE_BYTES) return flow.write(chunk);
        // Past the limit: the bytes up to it are sent, the stream ends with the error, the
        // runtime is answered 413 at once (the rest of its body is read and dropped).
        const fit = chunk.length - (size - MAX_STREAMED_RESPONSE_BYTES);
        if (fit > 0) sink.write(chunk.subarray(0, fit));
        failStream(streamedTooLargeError);
        ApiErrors.tooLarge(res, MAX_STREAMED_RESPONSE_BYTES);
      };
      // The runtime's connection closed mid-body: the stream cannot end, and the client's ends at
      // once with Runtime.TruncatedResponse (see failWhenCut).
      c.streaming = true;
      this.failWhenCut(c, res, () => this.finish(c, 'error', Buffer.alloc(0), truncatedStreamError.errorType, { streamed: true }));
      req.onEnd = () => {
        if (this.spans) c.respondedHr = performance.now();
        const t = req.trailers;
        const et = t['lambda-runtime-function-error-type'];
        if (c.done) return void ApiErrors.accepted(res);
        if (et) {
          const bodyB64 = t['lambda-runtime-function-error-body'];
          let errorMessage = '';
          try { errorMessage = bodyB64 ? JSON.parse(Buffer.from(bodyB64, 'base64').toString()).errorMessage ?? '' : ''; } catch { /* raw */ }
          sink.end({ errorType: et, errorMessage });
          this.finish(c, 'error', Buffer.alloc(0), et, { streamed: true });
        } else {
          sink.end();
          this.finish(c, 'ok', Buffer.alloc(0), undefined, { streamed: true });
        }
        this.acknowledge(res);
      };
      return;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = declared > MAX_RESPONSE_BYTES;
    req.onData = (chunk) => {
      size += chunk.length;
      if (tooLarge) return;
      if (size > MAX_RESPONSE_BYTES) { tooLarge = true; chunks.length = 0; return; }
      chunks.push(chunk);
    };
    // Cut mid-body: Runtime.TruncatedResponse, or, past the limit already (RAPID reads no more
    // than the limit and a byte), the response is too large.
    this.failWhenCut(c, res, () => {
      if (size > MAX_RESPONSE_BYTES) this.finish(c, 'error', Buffer.from(JSON.stringify(responseTooLargePayload)), responseTooLargePayload.errorType);
      else this.finish(c, 'error', Buffer.from(JSON.stringify(truncatedResponsePayload)), FunctionErrorTypes.truncatedResponse);
    });
    req.onEnd = () => {
      if (this.spans) c.respondedHr = performance.now();
      res.onClose = null;
      if (tooLarge) {
        ApiErrors.tooLarge(res, MAX_RESPONSE_BYTES);
        if (!c.done) this.finish(c, 'error', Buffer.from(JSON.stringify(responseTooLargePayload)), responseTooLargePayload.errorType);
        return;
      }
      if (!c.done) {
        const et = streaming ? req.trailers['lambda-runtime-function-error-type'] : undefined;
        const payload = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
        if (et) this.complete(c, 'error', errorPayload(et, req.trailers['lambda-runtime-function-error-body']), et);
        else this.complete(c, 'ok', payload, undefined);
      }
      this.acknowledge(res);
    };
  }

  error(id: string, req: RtRequest, res: RtResponse): void {
    const c = this.check(id, res, 'InvocationErrorResponse');
    if (!c) { req.resume(); return; }
    // Cut mid-body: RAPID sends the error it was posting without the body it could not read.
    this.failWhenCut(c, res, () => this.finish(c, 'error', Buffer.alloc(0), req.headers['lambda-runtime-function-error-type'] || 'Unhandled'));
    // An error document is a payload like a response, with the same limit (RAPID sends both the same way).
    readBody(req, MAX_RESPONSE_BYTES, (body) => {
      res.onClose = null;
      if (body === null) {
        ApiErrors.tooLarge(res, MAX_RESPONSE_BYTES);
        if (!c.done) this.finish(c, 'error', Buffer.from(JSON.stringify(responseTooLargePayload)), responseTooLargePayload.errorType);
        return;
      }
      if (!c.done) {
        const { payload, errorType } = errorFromRuntime(req, body);
        this.complete(c, 'error', payload, errorType);
      }
      this.acknowledge(res);
    });
  }

  initError(req: RtRequest, res: RtResponse): void {
    const from = this.runtimeStateName();
    if (from !== 'Started') {
      req.resume();
      return ApiErrors.invalidState(res, from, 'InitError');
    }
    readBody(req, MAX_RESPONSE_BYTES, (body) => {
      ApiErrors.accepted(res);
      if (this.state !== 'initializing' || this.initFailure) return;
      const posted = body !== null ? errorFromRuntime(req, body) : null;
      const payload = posted?.payload ?? Buffer.from(JSON.stringify(responseTooLargePayload));
      const errorType = posted ? initErrorType(req) : responseTooLargePayload.errorType;
      // As RAPID: the init phase ends when the runtime exits (or at its limit), not at the post.
      // What it writes after the post is the init's, INIT_REPORT's duration runs to its exit
      // (onExit reports it), and it is asked for nothing more.
      this.initFailure = { errorType, payload, logged: false, posted: true };
      this.resetAfterSuppressedInit();
    });
  }

  // ---- end of life ----------------------------------------------------------------------------------

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    // The runtime died on its own (crashed, exited, killed for its memory) after its init: Lambda
    // resets the environment. Not one being destroyed or retired (dead or draining already).
    if (this.initOk && (this.state === 'busy' || this.state === 'idle')) this.resetting = true;
    if (this.state === 'initializing') this.resetAfterSuppressedInit();
    let st = this.handle.exitStatus(code, signal);
    // The sandbox's pid 1 reports a death by signal N as status 128+N, so an exit with such a
    // status reads as a signal. Stratus's Node.js runtime exits 129 after an uncaught exception,
    // as Lambda's does ("exit status 129"): taken for that, not for a hangup no one sends it.
    if (this.family === 'node' && code === 129 && st.signal === 'SIGHUP') st = { code: 129, signal: null };
    // Killed for its memory: the kernel's OOM killer (or the memory poller) sends SIGKILL. A runtime
    // that exits on its own after a child of its was killed so ("exit status 3") is not. Read before
    // a result it posted is settled: that reads the peak, which moves the count of kills already seen.
    const oom = st.signal === 'SIGKILL' && this.handle.oomKilled();
    this.settle(this.cur);
    const exit = exitText(st.code, st.signal);
    const reason = this.killReason;
    const errorType = oom ? FunctionErrorTypes.outOfMemory : FunctionErrorTypes.exit;
    this.logs.drainNow();
    this.logs.flushPartial();
    // Init not reported yet (still running, timed out and killed, or a pooled runtime never assigned).
    if (!this.initSettled) {
      const r = reason && reason.errorType !== 'Retired' ? reason : null;
      // A command the kernel refused to start (the sandbox's exec reports the errno): as Lambda
      // reports a bootstrap it cannot exec, "fork/exec <path>: exec format error".
      const refused = this.handle.execError();
      const f = this.initFailure ?? (refused !== null ? { errorType: FunctionErrorTypes.invalidEntrypoint, reason: refused, logged: false } : {
        errorType: r?.errorType ?? errorType, reason: runtimeExited(reason ? 'signal: killed' : exit), logged: false,
      });
      if (!f.logged) {
        this.systemLine(this.sys.initRuntimeDone(this.deps.clock.now(), { status: 'error', errorType: f.errorType, phase: this.initPhase }));
        this.logExtensionStates();
        this.systemLine(this.sys.initReport(this.deps.clock.now(), {
          status: 'error', errorType: f.errorType, durationMs: performance.now() - this.initStartHr, phase: this.initPhase,
        }));
      }
      this.initDone({
        ok: false, initDurationMs: performance.now() - this.initStartHr, errorType: f.errorType, payload: f.payload, reason: f.reason, timedOut: f.timedOut,
      });
    }
    const c = this.cur;
    if (c && !c.done) {
      // A response stream in progress ends as a cut one, whichever of the exit and the closed
      // connection is seen first.
      if (c.streaming) cutStream(c);
      const et = reason?.errorType === 'Retired' ? FunctionErrorTypes.exit : errorType;
      const text = reason ? 'signal: killed' : exit;
      const failed = platformError(c.requestId, et, runtimeExited(text));
      this.systemLine(this.sys.text(failed.logLines));
      this.finish(c, 'error', Buffer.from(JSON.stringify(failed.payload)), et, { reportStatus: 'error', dying: true, streamed: c.streamCut });
    } else if (this.pendingReport && !reason) {
      // The runtime (or an extension's exit took it down) died after its result, before asking
      // for its next invocation: as Lambda, that invocation's invoke phase failed.
      this.systemLine(this.sys.text(platformError(this.pendingReport.requestId, errorType, runtimeExited(exit)).logLines));
      this.writePendingReport({ status: 'error', errorType });
    }
    this.destroy();
  }

  /** Kills the runtime; the exit handler fails whatever is in flight. */
  kill(reason?: { errorType: string; exit: string }): void {
    if (this.shuttingDown === 'grace') return; // its extensions' SHUTDOWN grace ends it
    this.thaw();
    if (reason && !this.killReason) this.killReason = reason;
    if (this.state !== 'dead') {
      const s = transition(this.state, 'kill');
      if (s) this.state = s;
    }
    this.endSandbox();
  }

  /**
   * Stops the environment once it has been idle for FREEZE_AFTER_MS, its runtime (and extensions)
   * waiting for their next event. One timer per environment, not one per invocation: when it
   * fires early (the environment was used meanwhile) it waits for the rest.
   */
  private freezeWhenIdle(): void {
    this.idleSinceHr = performance.now();
    if (!this.freezeTimer && !this.frozen) this.armFreeze(FREEZE_AFTER_MS);
  }

  private armFreeze(ms: number): void {
    this.freezeTimer = setTimeout(() => {
      this.freezeTimer = null;
      // Busy or on its way out: the end of the invocation arms it again.
      if (this.state !== 'idle' || !this.readyForNext || this.shuttingDown || this.frozen) return;
      const idleFor = performance.now() - this.idleSinceHr;
      if (idleFor < FREEZE_AFTER_MS - 1) { this.armFreeze(FREEZE_AFTER_MS - idleFor); return; }
      if (this.family === 'node' && this.invocations - this.compactedAt >= COMPACT_EVERY) {
        if (idleFor < COMPACT_QUIET_MS - 1) { this.armFreeze(COMPACT_QUIET_MS - idleFor); return; }
        // SIGWINCH: ignored by default (no terminal here), handled by Stratus's Node.js runtime.
        if (this.handle.signal('SIGWINCH')) {
          this.compactedAt = this.invocations;
          this.armFreeze(COMPACT_MS);
          return;
        }
      }
      // SIGSTOP, not the cgroup freezer: a frozen process ignores SIGKILL until thawed, and would
      // outlive a server killed with SIGKILL; a stopped one dies with it.
      this.frozen = this.handle.signal('SIGSTOP');
    }, ms);
    this.freezeTimer.unref();
  }

  /** Resumes a stopped environment. */
  private thaw(): void {
    if (!this.frozen) return;
    this.frozen = false;
    this.handle.signal('SIGCONT');
  }

  /**
   * A suppressed init that failed leaves the environment to be reset again, as Lambda keeps it:
   * the next invocation retries the init in the same log stream (Phase: invoke), /tmp as it was.
   */
  private resetAfterSuppressedInit(): void {
    if (this.initPhase === 'invoke') this.resetting = true;
  }

  /**
   * Ends the sandbox: for a reset, keeping what its successor inherits; for an on-demand init
   * that failed, keeping what the retry within the first invocation inherits (endForRetry).
   */
  private endSandbox(): void {
    if (!this.handle || this.sandboxEnded) return;
    this.sandboxEnded = true;
    if (this.resetting && this.logs?.streamName) {
      this.deps.onReset(this, { stream: this.logs.streamName, bequest: this.handle.bequeath() });
    } else if (!this.initOk && this.initPhase === 'init') {
      this.retryBequest = this.handle.bequeath();
    } else {
      void this.handle.destroy();
    }
  }

  /**
   * Ends an environment whose init failed, leaving its /tmp (and the uid its files belong to) to
   * the runtime that retries the init within the first invocation: Lambda retries it in the same
   * sandbox.
   */
  endForRetry(): Promise<SandboxBequest | null> {
    this.destroy();
    const bequest = this.retryBequest ?? Promise.resolve(null);
    this.retryBequest = null;
    return bequest;
  }

  /** Retires an idle environment, or a busy one once its invocation completes. */
  drain(): void {
    if (this.state === 'busy') { this.to('drain'); return; }
    if (this.state !== 'draining') this.destroy();
  }

  destroy(): void {
    // An idle environment whose extensions asked for SHUTDOWN gives them their grace time first
    // (reaped, or retired by an update or a delete, also once the invocation it was running when
    // retired ends); asked again meanwhile, it goes on waiting.
    const ext = this.ext;
    if (this.shuttingDown === 'grace') return;
    this.writePendingReport();
    if (ext && (this.state === 'idle' || this.retiredInFlight) && ext.any && !this.shuttingDown) {
      // Resumed first: its runtime gets SIGTERM and its extensions their SHUTDOWN, and what they
      // write meanwhile is logged, as Lambda logs it.
      this.thaw();
      this.shutdownExtensions('spindown');
      return;
    }
    // Otherwise it ends as Lambda ends one, without its runtime noticing: not resumed (SIGKILL
    // ends a stopped process), what it writes from here on not logged, and killed before its
    // connections to the Runtime API close (a runtime woken to a closed /next would log its
    // error: curl's "Empty reply from server", a traceback).
    this.logs?.end();
    this.endSandbox();
    this.ext?.close();
    if (this.state !== 'dead') this.state = 'dead';
    if (this.initTimer) { clearTimeout(this.initTimer); this.initTimer = null; }
    this.nextWait = null;
    if (this.phaseTimer) { clearTimeout(this.phaseTimer); this.phaseTimer = null; }
    if (this.parked) { this.parked.destroy(); this.parked = null; }
    this.pendingAck = null;
    this.api.close();
    if (!this.deadNotified) {
      this.deadNotified = true;
      this.deps.onDead(this);
    }
  }

  get refusedConnections(): number { return this.api.refused; }
}

/**
 * Why the extensions `names` in a function's layers cannot all be started, in Lambda's words
 * (Extension.LaunchError), or null: as a bootstrap is checked. They are started by their names
 * (they register by them) where the sandbox presents the layers: what a link of theirs leads to is
 * looked for where the sandbox shows it, not at Lambda's /opt.
 */
function extensionLaunchProblem(
  codeDir: string, layersDir: string, names: readonly string[], roots: { taskRoot: string; optRoot: string }, rules: EntrypointRules,
): { reason: string; name?: string; agentError: string } | null {
  if (names.length > MAX_EXTENSIONS) return { reason: `Extension limit (${MAX_EXTENSIONS}) reached`, agentError: 'TooManyExtensions' };
  const view = new CodeView({ codeDir, layersDir, ...roots, lambdaNames: false });
  for (const name of names) {
    const shown = `${roots.optRoot}/extensions/${name}`;
    const { problem } = entrypoint(view, shown, shown, `fork/exec ${shown}: no such file or directory`, rules);
    // RAPID's types for the EXTENSION line: a permission error, or any other.
    if (problem) return { reason: problem, name, agentError: /permission denied$/.test(problem) ? 'PermissionDenied' : 'UnknownError' };
  }
  return null;
}

/**
 * A wrapper script as the function named it (`p`, null: none): what to start and, for one in its
 * code or layers (named under /var/task or /opt), why it cannot be started, which the server
 * checks before the launch (see `entrypoint`). Any other path is only ever looked at from inside
 * the sandbox, as the environment's uid: the server (root) tells nothing about host files the
 * function cannot see.
 */
function presentedWrapper(
  p: string | null, view: CodeView, roots: { taskRoot: string; optRoot: string; layers: boolean }, rules: EntrypointRules,
): { launch: string; problem: string | null } | null {
  if (!p) return null;
  const normal = path.posix.normalize(p);
  const under = normal.startsWith(`${TASK_ROOT}/`) ? { lambda: TASK_ROOT, shown: roots.taskRoot }
    : roots.layers && normal.startsWith(`${OPT_ROOT}/`) ? { lambda: OPT_ROOT, shown: roots.optRoot } : null;
  if (!under) return { launch: p, problem: null };
  const shown = `${under.shown}${normal.slice(under.lambda.length)}`;
  return entrypoint(view, normal, shown, `fork/exec ${shown}: no such file or directory`, rules);
}

/** Reads a whole body: null when it is longer than `max` (never a part of it). */
function readBody(req: RtRequest, max: number, done: (b: Buffer | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.onData = (c) => {
    if (size > max) return;
    size += c.length;
    if (size > max) chunks.length = 0;
    else chunks.push(c);
  };
  req.onEnd = () => done(size > max ? null : Buffer.concat(chunks, size));
}

function errorPayload(errorType: string, bodyB64: string | undefined): Buffer {
  if (bodyB64) {
    try { return Buffer.from(bodyB64, 'base64'); } catch { /* fall through */ }
  }
  return Buffer.from(JSON.stringify({ errorMessage: '', errorType }));
}

/** The content type of an error post whose body carries an X-Ray cause beside the error. */
const ERROR_WITH_CAUSE = 'application/vnd.aws.lambda.error.cause+json';

/**
 * The invoke payload and error type of a runtime's error post (/invocation/{id}/error and
 * /init/error). As Lambda's Runtime API does, the body is the payload as it is, JSON or not. A
 * body of type application/vnd.aws.lambda.error.cause+json is the exception: the caller gets its
 * errorMessage, errorType and stackTrace without the errorCause (meant for X-Ray), or the JSON
 * string "Invalid error body" when it does not parse as that shape.
 */
function errorFromRuntime(req: RtRequest, body: Buffer): { payload: Buffer; errorType: string } {
  const header = req.headers['lambda-runtime-function-error-type'];
  let payload = body;
  let parsed: { errorType?: unknown } | null = null;
  if (req.headers['content-type'] === ERROR_WITH_CAUSE) {
    const e = errorWithCause(body);
    payload = Buffer.from(JSON.stringify(e ?? 'Invalid error body'));
    parsed = e;
  } else {
    try { parsed = body.length ? JSON.parse(body.toString()) : null; } catch { parsed = null; }
  }
  // The header names the error (the Runtime API's Lambda-Runtime-Function-Error-Type); the body's
  // errorType stands in for a runtime that sends none.
  const bodyType = parsed !== null && typeof parsed === 'object' && typeof parsed.errorType === 'string' && parsed.errorType ? parsed.errorType : null;
  const errorType = typeof header === 'string' && header ? header : bodyType ?? 'Unhandled';
  return { payload, errorType };
}

/**
 * The type the platform records for an init error (INIT_REPORT's and the failed invocation's
 * Error Type): as Lambda's Runtime API takes Lambda-Runtime-Function-Error-Type, only a value
 * holding a name of the form Runtime.Xxx or Function.Xxx (letters after the dot, a capital first);
 * any other value, or none, is Runtime.Unknown (Function.Unknown if it starts with "Function."). A Node.js
 * init that throws a TypeError logs "Error Type: Runtime.Unknown"; its payload keeps the body's
 * own errorType.
 */
function initErrorType(req: RtRequest): string {
  const h = req.headers['lambda-runtime-function-error-type'];
  const t = typeof h === 'string' ? h : '';
  // RAPID's test is not anchored: the pattern anywhere in the value keeps it as posted.
  if (/(Runtime|Function)\.[A-Z][a-zA-Z]+/.test(t)) return t;
  return t.startsWith('Function.') ? 'Function.Unknown' : FunctionErrorTypes.unknown;
}

/** The error of an error-with-cause body, without its cause; null when the body is not that shape. */
function errorWithCause(body: Buffer): { errorMessage: string; errorType: string; stackTrace?: string[] } | null {
  let v: unknown;
  try { v = JSON.parse(body.toString()); } catch { return null; }
  if (v === null) return { errorMessage: '', errorType: '' };
  if (typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const str = (x: unknown) => x === undefined || x === null || typeof x === 'string';
  const trace = o.stackTrace;
  if (!str(o.errorMessage) || !str(o.errorType)) return null;
  if (trace !== undefined && trace !== null && !(Array.isArray(trace) && trace.every((l) => typeof l === 'string'))) return null;
  const out: { errorMessage: string; errorType: string; stackTrace?: string[] } = {
    errorMessage: (o.errorMessage as string | null | undefined) ?? '', errorType: (o.errorType as string | null | undefined) ?? '',
  };
  if (Array.isArray(trace) && trace.length > 0) out.stackTrace = trace as string[];
  return out;
}
