import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { signalText } from './format.js';
import { EXIT_REPORT_PATH, sendJson, type RtRequest, type RtResponse } from './runtime-api.js';
import type { CodeView } from './code-view.js';
import { findExecutable } from './sandbox/shell.js';
import { OPT_ROOT } from './sandbox/task-root.js';

/** Lambda's limit on extensions per function. */
export const MAX_EXTENSIONS = 10;
/** How long extensions may take over a SHUTDOWN event (Lambda: 2,000 ms with external extensions). */
export const SHUTDOWN_GRACE_MS = 2000;
/**
 * What the runtime gets of it, after its SIGTERM, before the extensions' SHUTDOWN: "Lambda
 * reserves up to 300 ms (500 ms for a runtime with an internal extension) for the runtime process
 * to perform a graceful shutdown" (Stratus runs no internal extensions).
 */
export const RUNTIME_SHUTDOWN_MS = 300;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EVENTS = ['INVOKE', 'SHUTDOWN'] as const;
type EventType = (typeof EVENTS)[number];

/**
 * The external extensions of a function's layers: the entries of /opt/extensions that are not
 * directories, by name, as Lambda lists them. The directory is found as the function sees it
 * (`view`): an `extensions` that is a symlink out of its code and layers is not listed.
 */
export function listExtensions(view: CodeView): string[] {
  return view.list(`${OPT_ROOT}/extensions`).filter((e) => !e.isDirectory()).map((e) => e.name).sort();
}

/**
 * The variables a function's extensions do not get of its environment, as Lambda leaves them out:
 * those starting with `_` and the ones only the runtime uses.
 */
export function extensionHiddenVars(env: Record<string, string>): string[] {
  const runtimeOnly = new Set(['AWS_EXECUTION_ENV', 'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME', 'LAMBDA_TASK_ROOT',
    'LAMBDA_RUNTIME_DIR', 'AWS_XRAY_CONTEXT_MISSING', 'AWS_XRAY_DAEMON_ADDRESS']);
  return Object.keys(env).filter((k) => k.startsWith('_') || runtimeOnly.has(k));
}

const BASH = findExecutable('bash');

/** A quoted word for sh. */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The command that starts a function's extensions inside its sandbox and then, once the platform
 * says on stdin that every one has registered (a line `go`), becomes the runtime (`"$@"`), as
 * Lambda starts the runtime only after its extensions registered. Each extension gets the
 * function's environment without `hidden`, no stdin and none of the runtime's descriptors; the
 * runtime gets the environment as it was (the shell's own SHLVL, `_`, PWD and OLDPWD removed,
 * unless the function sets them itself).
 *
 * With bash, each extension runs under a subshell that waits for it and reports its exit to the
 * Runtime API at `api` (POST EXIT_REPORT_PATH, "<its index in names> <its status>", 128+N for
 * signal N), as Lambda's supervisor tells RAPID of every exit of an extension's process (see
 * Extensions.exitReport): nothing else in the sandbox is its parent (the launcher becomes the
 * runtime), and the server sees none of them. Without bash (no /dev/tcp), exits go unreported.
 */
export function extensionLauncher(
  dir: string, names: readonly string[], hidden: readonly string[], functionEnv: Readonly<Record<string, string>>, runtimeFds: readonly number[], api: string,
): string[] {
  // What sh adds of its own to the environment it hands on (unless the function sets them).
  const shellVars = ['SHLVL', '_', 'PWD', 'OLDPWD'].filter((k) => !(k in functionEnv));
  const unset = [...hidden, ...shellVars].map((k) => `-u ${sq(k)}`).join(' ');
  // bash closes any descriptor; a POSIX sh (dash) only single-digit ones.
  const shell = BASH ?? '/bin/sh';
  const closed = [...new Set([3, 4, 5, 6, 7, 8, 9, ...(BASH ? runtimeFds : [])])].map((fd) => `${fd}>&-`).join(' ');
  const run = `env ${unset} ${sq(dir)}/"$name"`;
  const [host, port] = [api.slice(0, api.lastIndexOf(':')), api.slice(api.lastIndexOf(':') + 1)];
  // The subshell itself quiet (bash's own word on a command killed by a signal, "Killed", and
  // its connect error when the environment is gone already), the extension's stderr as it was.
  // Once it has exited: its status, the report, and the answer awaited (the environment may end
  // first, and this subshell with it).
  const watched = `exec 9>&2 2>/dev/null; ${run} 2>&9 9>&-; s="$i $?"; exec 9>&- 3<>/dev/tcp/${host}/${port} || exit 0; `
    + `printf 'POST ${EXIT_REPORT_PATH} HTTP/1.1\\r\\nHost: %s\\r\\nContent-Length: %d\\r\\n\\r\\n%s' ${sq(api)} "\${#s}" "$s" >&3; read -r _ <&3`;
  const script = [
    'i=0',
    `for name in ${names.map(sq).join(' ')}; do`,
    `  ( ${BASH ? watched : `exec ${run}`} ) </dev/null ${closed} &`,
    '  i=$((i + 1))',
    'done',
    'read -r go || exit 1',
    '[ "$go" = go ] || exit 1',
    `exec env ${shellVars.map((k) => `-u ${k}`).join(' ')} "$@"`,
  ].join('\n');
  return [shell, '-c', script, 'stratus-extensions'];
}

interface Agent {
  id: string;
  name: string;
  events: Set<EventType>;
  /** Lambda's agent states, as the EXTENSION log line names them. */
  state: 'Registered' | 'Ready' | 'Running' | 'InitError' | 'ExitError';
  /** The error type it reported with init/error or exit/error (the EXTENSION line's Error Type). */
  errorType?: string;
  /** Its /event/next, waiting for an event. */
  parked: RtResponse | null;
  /** Whether it has called /event/next since it was last handed an event (or since it registered). */
  waiting: boolean;
  /** An event for it that found no /event/next waiting (its connection had closed). */
  pending: string | null;
  /** Its process exited. */
  gone: boolean;
}

export interface ExtensionEventContext {
  functionName: string;
  functionVersion: string;
  handler: string;
  /** The account the function is in (register answers it to an extension that accepts the feature). */
  accountId: string;
}

/**
 * The Extensions API (2020-01-01) of one environment, for the external extensions its layers
 * hold: registration during init, the INVOKE and SHUTDOWN events, and init and exit errors, in
 * Lambda's shapes and with its refusals (403 and {errorMessage, errorType}).
 */
export class Extensions {
  private readonly agents = new Map<string, Agent>();
  private readonly byName = new Map<string, Agent>();
  private readonly launchErrors = new Map<string, string>();
  private open = true;
  /** Called once every expected extension has registered. */
  onRegistered: (() => void) | null = null;
  /** Called whenever an extension becomes ready (it asked for its next event). */
  onReady: (() => void) | null = null;
  /** Called when an extension posts /init/error (its name, its error type). */
  onInitError: ((name: string, errorType: string) => void) | null = null;
  /**
   * Called when an extension's process exits: how, in RAPID's words ("exit status 5", "signal:
   * killed", "exit code 0"), and the error type that makes of it (see exitReport).
   */
  onExit: ((how: string, errorType: string) => void) | null = null;
  /** While a SHUTDOWN is handled: checks whether every extension it went to is done (or gone). */
  private shutdownCheck: (() => void) | null = null;

  constructor(readonly expected: readonly string[], private readonly context: () => ExtensionEventContext) {}

  get allRegistered(): boolean {
    return this.expected.every((n) => this.byName.has(n));
  }

  /** Every registered extension is waiting for an event (init done; an invocation's work done). */
  get idle(): boolean {
    for (const a of this.agents.values()) if (!a.waiting) return false;
    return true;
  }

  /** Whether any extension registered (then Lambda's shutdown sends the runtime SIGTERM). */
  get any(): boolean {
    return this.agents.size > 0;
  }

  get subscribesToShutdown(): boolean {
    for (const a of this.agents.values()) if (a.events.has('SHUTDOWN')) return true;
    return false;
  }

  /** Registration ends with the init. */
  closeRegistration(): void {
    this.open = false;
  }

  register(req: RtRequest, res: RtResponse, readBody: (done: (b: Buffer | null) => void) => void): void {
    const name = req.headers['lambda-extension-name'] ?? '';
    readBody((body) => {
      if (!name) return refuse(res, 'Extension.InvalidExtensionName', 'Empty extension name');
      let events: unknown;
      try {
        events = (JSON.parse(body?.toString('utf8') ?? '') as { events?: unknown }).events ?? [];
      } catch (e) {
        return refuse(res, 'InvalidRequestFormat', (e as Error).message);
      }
      if (!Array.isArray(events)) return refuse(res, 'InvalidRequestFormat', 'events must be a list');
      for (const e of events) {
        if (!EVENTS.includes(e as EventType)) return refuse(res, 'Extension.InvalidEventType', `${String(e)}: ErrorInvalidEventType`);
      }
      const known = this.byName.get(name);
      if (known) return refuse(res, 'Extension.InvalidExtensionState', `State transition from ${known.state} to Registered failed for extension ${name}. Error: State transition is not allowed`);
      if (!this.open || !this.expected.includes(name)) {
        // Lambda takes another name during init for an internal extension; Stratus runs only its layers' files.
        return refuse(res, 'Extension.RegistrationClosed', this.open ? `No extension named ${name} in /opt/extensions` : 'Extension registration closed already');
      }
      const agent: Agent = { id: randomUUID(), name, events: new Set(events as EventType[]), state: 'Registered', parked: null, waiting: false, pending: null, gone: false };
      this.agents.set(agent.id, agent);
      this.byName.set(name, agent);
      const ctx = this.context();
      const out: Record<string, string> = { functionName: ctx.functionName, functionVersion: ctx.functionVersion, handler: ctx.handler };
      // Lambda-Extension-Accept-Feature: the optional fields the extension takes (Lambda's one: accountId).
      const accepts = String(req.headers['lambda-extension-accept-feature'] ?? '').split(',').map((f) => f.trim());
      if (accepts.includes('accountId')) out.accountId = ctx.accountId;
      res.send(200, ['Content-Type', 'application/json', 'Lambda-Extension-Identifier', agent.id], `${JSON.stringify(out)}\n`);
      if (this.allRegistered) {
        const f = this.onRegistered;
        this.onRegistered = null;
        f?.();
      }
    });
  }

  next(req: RtRequest, res: RtResponse): void {
    req.resume();
    const agent = this.agent(req, res, 'next');
    if (!agent) return;
    if (agent.state === 'InitError' || agent.state === 'ExitError') {
      return refuse(res, 'Extension.InvalidExtensionState', `State transition from ${agent.state} to Ready failed for extension ${agent.id}. Error: State transition is not allowed`);
    }
    if (agent.parked) agent.parked.destroy();
    if (agent.pending !== null) {
      const body = agent.pending;
      agent.pending = null;
      agent.state = 'Running';
      res.send(200, EVENT_HEADERS(), body);
      return;
    }
    agent.parked = res;
    res.onClose = () => { if (agent.parked === res) agent.parked = null; };
    agent.state = 'Ready';
    if (!agent.waiting) {
      agent.waiting = true;
      this.onReady?.();
    }
  }

  /** init/error and exit/error: the extension's state; an init error ends the init (onInitError). */
  error(req: RtRequest, res: RtResponse, kind: 'init' | 'exit'): void {
    req.resume();
    const agent = this.agent(req, res, 'error');
    if (!agent) return;
    const type = req.headers['lambda-extension-function-error-type'];
    if (!type) return refuse(res, 'Extension.MissingHeader', 'Lambda-Extension-Function-Error-Type not found');
    agent.state = kind === 'init' ? 'InitError' : 'ExitError';
    agent.errorType = type;
    sendJson(res, 202, '{"status":"OK"}');
    if (kind === 'init') this.onInitError?.(agent.name, type);
  }

  /** Hands an invocation to the extensions that asked for INVOKE events (as the runtime gets it). */
  invoke(e: { deadlineMs: number; requestId: string; invokedFunctionArn: string; traceId?: string }): void {
    const body: Record<string, unknown> = { eventType: 'INVOKE', deadlineMs: e.deadlineMs, requestId: e.requestId, invokedFunctionArn: e.invokedFunctionArn };
    if (e.traceId) body.tracing = { type: 'X-Amzn-Trace-Id', value: e.traceId };
    this.send('INVOKE', `${JSON.stringify(body)}\n`);
  }

  /**
   * Sends SHUTDOWN to the extensions that asked for it and resolves once each has asked for its
   * next event again (done) or gone, or at `deadlineMs`.
   */
  shutdown(reason: 'spindown' | 'timeout' | 'failure', deadlineMs: number): Promise<void> {
    const targets = this.send('SHUTDOWN', `${JSON.stringify({ eventType: 'SHUTDOWN', shutdownReason: reason, deadlineMs })}\n`);
    if (targets.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.shutdownCheck = null;
        resolve();
      };
      const timer = setTimeout(finish, Math.max(0, deadlineMs - Date.now()));
      const prev = this.onReady;
      this.shutdownCheck = () => { if (targets.every((a) => a.waiting || a.gone)) finish(); };
      this.onReady = () => {
        prev?.();
        this.shutdownCheck?.();
      };
      // Every one of them may have exited already (while the runtime was being stopped).
      this.shutdownCheck();
    });
  }

  /** What Lambda logs of each extension at the end of an init (its EXTENSION lines). */
  states(): Array<{ name: string; state: string; events: string[]; errorType?: string }> {
    return this.expected.map((name) => {
      const launch = this.launchErrors.get(name);
      if (launch) return { name, state: 'LaunchError', events: [], errorType: launch };
      const a = this.byName.get(name);
      const state = a?.state ?? 'Started';
      return { name, state, events: a ? [...a.events] : [], ...(a?.errorType !== undefined && (state === 'InitError' || state === 'ExitError') ? { errorType: a.errorType } : {}) };
    });
  }

  /**
   * An extension that could not be started: its EXTENSION line says LaunchError, with RAPID's
   * type for why (PermissionDenied, TooManyExtensions, UnknownError).
   */
  launchFailed(name: string, errorType: string): void {
    this.launchErrors.set(name, errorType);
  }

  /**
   * The launcher's report of an extension's exit (extensionLauncher): "<index> <status>". RAPID
   * takes every exit of an extension's process for a crash (its supervisor's event; the
   * environment ignores those during a SHUTDOWN): Extension.Crash, or Extension.ExitError for one
   * that reported an exit error first (RAPID keeps the first fatal error). Its words for how:
   * "exit status N", "signal: <name>" (Go's names) and, for a clean exit, "exit code 0".
   */
  exitReport(req: RtRequest, res: RtResponse, readBody: (done: (b: Buffer | null) => void) => void): void {
    readBody((body) => {
      const m = /^(\d+) (\d+)$/.exec(body?.toString('latin1') ?? '');
      const name = m ? this.expected[Number(m[1])] : undefined;
      if (!m || name === undefined) return sendJson(res, 400, '{"status":"unknown extension"}');
      sendJson(res, 202, '{"status":"OK"}');
      const agent = this.byName.get(name);
      if (agent) agent.gone = true;
      this.shutdownCheck?.();
      this.onExit?.(exitStatusText(Number(m[2])), agent?.state === 'ExitError' ? 'Extension.ExitError' : 'Extension.Crash');
    });
  }

  /** Ends every waiting request (the environment is gone). */
  close(): void {
    for (const a of this.agents.values()) {
      a.parked?.destroy();
      a.parked = null;
    }
  }

  private send(event: EventType, body: string): Agent[] {
    const targets = [...this.agents.values()].filter((a) => a.events.has(event));
    for (const a of targets) {
      a.waiting = false;
      a.state = 'Running';
      const res = a.parked;
      a.parked = null;
      if (res) res.send(200, EVENT_HEADERS(), body);
      else a.pending = body;
    }
    return targets;
  }

  private agent(req: RtRequest, res: RtResponse, op: 'next' | 'error'): Agent | null {
    const id = req.headers['lambda-extension-identifier'];
    if (!id) { refuse(res, 'Extension.MissingExtensionIdentifier', 'Missing Lambda-Extension-Identifier header'); return null; }
    if (!UUID.test(id)) { refuse(res, 'Extension.InvalidExtensionIdentifier', 'Invalid Lambda-Extension-Identifier'); return null; }
    const agent = this.agents.get(id);
    if (!agent) { refuse(res, 'Extension.UnknownExtensionIdentifier', op === 'next' ? `Unknown extension ${id}` : 'Unknown Lambda-Extension-Identifier'); return null; }
    return agent;
  }
}

/** A shell's status of a process as RAPID words its exit: 128+N is signal N, as bash reports one. */
function exitStatusText(status: number): string {
  if (status > 128 && status < 128 + 32) {
    const signal = Object.entries(os.constants.signals).find(([, n]) => n === status - 128)?.[0];
    if (signal) return `signal: ${signalText(signal)}`;
  }
  return status === 0 ? 'exit code 0' : `exit status ${status}`;
}

const EVENT_HEADERS = () => ['Content-Type', 'application/json', 'Lambda-Extension-Event-Identifier', randomUUID()];

function refuse(res: RtResponse, errorType: string, errorMessage: string): void {
  sendJson(res, 403, JSON.stringify({ errorMessage, errorType }));
}
