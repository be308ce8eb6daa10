import { runtimeVersion } from '../core/arn.js';
import type { InitializationType } from '../ports/execution.js';

/** Lambda's exact texts: log lines, REPORT, runtime failure payloads. Pure functions. */

export const MAX_RESPONSE_BYTES = 6291556;
/** A streamed response's limit: Lambda documents 200 MB (configuration-response-streaming.html). */
export const MAX_STREAMED_RESPONSE_BYTES = 200 * 1024 * 1024;

export function logStreamName(now: Date, version: string, hex32: string, functionName?: string): string {
  const y = now.getUTCFullYear();
  const m = String(now.getUTCMonth() + 1).padStart(2, '0');
  const d = String(now.getUTCDate()).padStart(2, '0');
  return `${y}/${m}/${d}/${functionName ?? ''}[${version}]${hex32}`;
}

/** What the system log lines need of a function's LoggingConfig. */
export interface SystemLogConfig { logFormat: 'Text' | 'JSON'; systemLogLevel?: string }

/** The function version whose environment writes the lines (its JSON records name it). */
export interface SystemLogFunction {
  functionName: string; version: string; functionArn: string; memorySizeMB: number;
  /** How the environment was initialized (JSON records' initializationType): on demand unless said. */
  initializationType?: InitializationType;
}

export interface ReportFields {
  requestId: string; durationMs: number; billedMs: number; memorySizeMB: number; maxMemoryUsedMB: number; initDurationMs?: number;
  /** REPORT's Status field: only when the invocation timed out or its runtime failed. */
  status?: 'error' | 'timeout'; errorType?: string;
  /** The invocation's trace header: a sampled one adds REPORT's XRAY line (its tracing member in JSON). */
  traceId?: string;
  /** The invocation's tenant (tenant isolation): the JSON record's tenantId. */
  tenantId?: string;
}

/** A sampled trace header's root and parent ids; null when it is not sampled. */
export function sampledTrace(header: string | undefined): { root: string; parent: string } | null {
  if (!header || !/(^|;)\s*Sampled=1(;|$)/.test(header)) return null;
  const root = /(?:^|;)\s*Root=([^;]+)/.exec(header)?.[1];
  const parent = /(?:^|;)\s*Parent=([^;]+)/.exec(header)?.[1];
  return root ? { root, parent: parent ?? '' } : null;
}

const SYSTEM_LEVELS = ['DEBUG', 'INFO', 'WARN'];
const ms3 = (n: number) => Math.round(n * 1000) / 1000;

/**
 * A part of the runtime's work on an invocation, as platform.runtimeDone's spans report it
 * (responseLatency, responseDuration, runtimeOverhead): when it began (epoch ms) and how long it took.
 */
export interface RuntimeSpan { name: string; startMs: number; durationMs: number }

/**
 * The lines Lambda writes into a function's log stream itself (INIT_START, START, END, REPORT),
 * in the function's log format: Lambda's text lines, or with LogFormat JSON its platform event
 * records ({"time", "type", "record"}), which SystemLogLevel filters: platform.initStart,
 * platform.start, the platform.initReport of a failed init and platform.report are INFO records
 * (what CloudWatch gets at the default level); platform.initRuntimeDone, the platform.initReport of
 * a successful init and platform.runtimeDone (with its spans) DEBUG ones, as a captured Lambda
 * LogResult at DEBUG has them; WARN leaves none. Each method returns the line, or null when it is
 * filtered out.
 */
export class SystemLog {
  private constructor(private readonly json: boolean, private readonly level: number, private readonly fn: SystemLogFunction | null) {}

  static of(c: SystemLogConfig, fn: SystemLogFunction | null = null): SystemLog {
    const json = c.logFormat === 'JSON';
    return new SystemLog(json, SYSTEM_LEVELS.indexOf(c.systemLogLevel ?? 'INFO'), fn);
  }

  /** Whether DEBUG records are written (JSON at DEBUG): what only they report need not be measured otherwise. */
  get debug(): boolean {
    return this.json && this.level <= SYSTEM_LEVELS.indexOf('DEBUG');
  }

  private record(now: number, type: string, record: Record<string, unknown>, level = 'INFO'): string | null {
    if (this.level > SYSTEM_LEVELS.indexOf(level)) return null;
    return `${JSON.stringify({ time: new Date(now).toISOString(), type, record })}\n`;
  }

  /** `instanceId`: the environment's log stream, as Lambda names the instance. */
  initStart(runtime: string | null | undefined, region: string, now: number, instanceId?: string): string | null {
    const { version, arn } = runtimeVersion(runtime, region);
    if (!this.json) return `INIT_START Runtime Version: ${version}\tRuntime Version ARN: ${arn}\n`;
    const record: Record<string, unknown> = { initializationType: this.fn?.initializationType ?? 'on-demand', phase: 'init', runtimeVersion: version, runtimeVersionArn: arn };
    const fn = this.fn;
    if (fn) {
      record.functionName = fn.functionName;
      record.functionVersion = fn.version;
      if (instanceId) record.instanceId = instanceId;
      record.instanceMaxMemory = fn.memorySizeMB * 1024 * 1024;
    }
    return this.record(now, 'platform.initStart', record);
  }

  /**
   * START; in JSON platform.start, with the invocation's tenant when it has one ("The tenantId
   * property is included for platform events (like platform.start and platform.report)", Lambda's
   * tenant isolation monitoring page; where in the record is not documented).
   */
  start(requestId: string, version: string, now: number, tenantId?: string): string | null {
    if (!this.json) return startLine(requestId, version);
    const fn = this.fn;
    const functionArn = fn ? (version === '$LATEST' ? fn.functionArn : `${fn.functionArn}:${version}`) : undefined;
    const record: Record<string, unknown> = functionArn ? { requestId, functionArn, version } : { requestId, version };
    if (tenantId !== undefined) record.tenantId = tenantId;
    return this.record(now, 'platform.start', record);
  }

  /**
   * END; in JSON the runtime's part of the invocation (platform.runtimeDone, a DEBUG record), with
   * the spans of its response when it posted one.
   */
  end(requestId: string, now: number, done: {
    status: 'success' | 'error' | 'timeout'; errorType?: string; durationMs: number; producedBytes: number; spans?: RuntimeSpan[];
  }): string | null {
    if (!this.json) return endLine(requestId);
    const record: Record<string, unknown> = { requestId, status: done.status };
    if (done.status !== 'success' && done.errorType) record.errorType = done.errorType;
    if (done.spans) record.spans = done.spans.map((s) => ({ name: s.name, start: new Date(s.startMs).toISOString(), durationMs: ms3(s.durationMs) }));
    record.metrics = { durationMs: ms3(done.durationMs), producedBytes: done.producedBytes };
    return this.record(now, 'platform.runtimeDone', record, 'DEBUG');
  }

  /**
   * The runtime's part of an init is over (platform.initRuntimeDone, a DEBUG record; none in
   * text): it asked for its first invocation, or failed. An init that times out has none (Lambda's
   * RAPID sends none for a timeout).
   */
  initRuntimeDone(now: number, r: { status: 'success' | 'error'; errorType?: string; phase: 'init' | 'invoke' }): string | null {
    if (!this.json) return null;
    return this.record(now, 'platform.initRuntimeDone', this.initRecord(r.phase, r.status, r.errorType), 'DEBUG');
  }

  /**
   * INIT_REPORT of an init that failed or timed out; a successful init has none in text, and in
   * JSON its platform.initReport is a DEBUG record. Phase `invoke`: the suppressed init, Lambda's
   * second attempt within the first invocation.
   */
  initReport(now: number, r: { status: 'success' | 'error' | 'timeout'; errorType?: string; durationMs: number; phase?: 'init' | 'invoke' }): string | null {
    const phase = r.phase ?? 'init';
    if (!this.json) {
      if (r.status === 'success') return null;
      return `INIT_REPORT Init Duration: ${r.durationMs.toFixed(2)} ms\tPhase: ${phase}\tStatus: ${r.status}` +
        (r.status === 'error' && r.errorType ? `\tError Type: ${r.errorType}` : '') + '\n';
    }
    const record = this.initRecord(phase, r.status, r.errorType);
    record.metrics = { durationMs: ms3(r.durationMs) };
    return this.record(now, 'platform.initReport', record, r.status === 'success' ? 'DEBUG' : 'INFO');
  }

  /** What the init records (initRuntimeDone, initReport) say of the init: its kind, phase, status and error. */
  private initRecord(phase: 'init' | 'invoke', status: string, errorType: string | undefined): Record<string, unknown> {
    const record: Record<string, unknown> = { initializationType: this.fn?.initializationType ?? 'on-demand', phase, status };
    if (status === 'error' && errorType) record.errorType = errorType;
    return record;
  }

  /** An extension's state at the end of an init (Lambda's EXTENSION line; platform.extension in JSON). */
  extension(now: number, e: { name: string; state: string; events: string[]; errorType?: string }): string | null {
    if (!this.json) {
      return `EXTENSION\tName: ${e.name}\tState: ${e.state}\tEvents: [${e.events.join(',')}]${e.errorType ? `\tError Type: ${e.errorType}` : ''}\n`;
    }
    return this.record(now, 'platform.extension', { name: e.name, state: e.state, events: e.events, ...(e.errorType ? { errorType: e.errorType } : {}) });
  }

  /**
   * The text lines Lambda writes when an invocation times out or its runtime exits. With JSON
   * system logs their facts are in the platform.report record (status, errorType): none.
   */
  text(line: string): string | null {
    return this.json ? null : line;
  }

  report(r: ReportFields, now: number): string | null {
    const trace = sampledTrace(r.traceId);
    if (!this.json) {
      let line = reportLine(r);
      if (r.status) line = line.slice(0, -1) + `Status: ${r.status}\t` + (r.errorType && r.status === 'error' ? `Error Type: ${r.errorType}\t` : '') + '\n';
      // A sampled invocation's trace, on a line of its own in the same event.
      if (trace) line += `XRAY TraceId: ${trace.root}\tSegmentId: ${trace.parent}\tSampled: true\t\n`;
      return line;
    }
    const metrics: Record<string, number> = {
      durationMs: ms3(r.durationMs), billedDurationMs: r.billedMs, memorySizeMB: r.memorySizeMB, maxMemoryUsedMB: r.maxMemoryUsedMB,
    };
    if (r.initDurationMs !== undefined) metrics.initDurationMs = ms3(r.initDurationMs);
    const record: Record<string, unknown> = { requestId: r.requestId, metrics };
    if (trace) record.tracing = { spanId: trace.parent, type: 'X-Amzn-Trace-Id', value: r.traceId };
    record.status = r.status ?? 'success';
    if (r.status === 'error' && r.errorType) record.errorType = r.errorType;
    if (r.tenantId !== undefined) record.tenantId = r.tenantId;
    return this.record(now, 'platform.report', record);
  }
}

export const startLine = (requestId: string, version: string) => `START RequestId: ${requestId} Version: ${version}\n`;
export const endLine = (requestId: string) => `END RequestId: ${requestId}\n`;

/**
 * Billed duration: 1 ms granularity, rounded up, at least 1 ms. The init phase of a cold start is
 * billed with its first invocation (Lambda bills INIT for every configuration since August 2025:
 * "Duration: 133.61 ms  Billed Duration: 214 ms ... Init Duration: 80.00 ms"), a timed-out
 * invocation for its measured duration ("Duration: 3016.78 ms ... Billed Duration: 3101 ms ...
 * Init Duration: 84.00 ms Status: timeout").
 */
export function billedMs(durationMs: number, initDurationMs = 0): number {
  return Math.max(1, Math.ceil(durationMs + initDurationMs));
}

export function reportLine(r: {
  requestId: string; durationMs: number; memorySizeMB: number; maxMemoryUsedMB: number; initDurationMs?: number; billedMs?: number;
}): string {
  const billed = r.billedMs ?? billedMs(r.durationMs, r.initDurationMs);
  let s = `REPORT RequestId: ${r.requestId}\tDuration: ${r.durationMs.toFixed(2)} ms\tBilled Duration: ${billed} ms\t` +
    `Memory Size: ${r.memorySizeMB} MB\tMax Memory Used: ${r.maxMemoryUsedMB} MB\t`;
  if (r.initDurationMs !== undefined) s += `Init Duration: ${r.initDurationMs.toFixed(2)} ms\t`;
  return s + '\n';
}

/** The log line Lambda writes when an invocation times out. */
export function timeoutLogLine(now: Date, requestId: string, timeoutSec: number): string {
  return `${now.toISOString()} ${requestId} Task timed out after ${timeoutSec.toFixed(2)} seconds\n`;
}

/** The invoke payload of a timed-out invocation (Lambda's current shape). */
export function timeoutPayload(requestId: string, timeoutSec: number): { errorType: string; errorMessage: string } {
  return { errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${requestId} Error: Task timed out after ${timeoutSec.toFixed(2)} seconds` };
}

const SIGNAL_TEXT: Record<string, string> = {
  SIGKILL: 'killed', SIGSEGV: 'segmentation fault', SIGABRT: 'aborted', SIGTERM: 'terminated', SIGINT: 'interrupt',
  SIGBUS: 'bus error', SIGFPE: 'floating point exception', SIGILL: 'illegal instruction', SIGHUP: 'hangup', SIGPIPE: 'broken pipe',
  SIGQUIT: 'quit', SIGTRAP: 'trace/breakpoint trap', SIGUSR1: 'user defined signal 1', SIGUSR2: 'user defined signal 2',
};

/**
 * The signals whose default action dumps core: Lambda's runtimes may dump core, and Go's
 * ProcessState says so ("signal: segmentation fault (core dumped)", as reports of Lambda's own
 * messages show).
 */
const CORE_SIGNALS = new Set(['SIGSEGV', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGQUIT', 'SIGTRAP', 'SIGSYS', 'SIGXCPU', 'SIGXFSZ']);

/** A signal as Go names it ("killed", "segmentation fault"). */
export const signalText = (signal: string): string => SIGNAL_TEXT[signal] ?? signal;

/** How Lambda (Go's ProcessState) describes a runtime exit: "exit status 1", "signal: killed". */
export function exitText(code: number | null, signal: string | null): string {
  if (signal) return `signal: ${signalText(signal)}${CORE_SIGNALS.has(signal) ? ' (core dumped)' : ''}`;
  return `exit status ${code ?? 0}`;
}

/** Lambda's sentence for a runtime's exit: a clean exit (status 0) gives no reason. */
export function runtimeExited(exit: string): string {
  return exit === 'exit status 0' ? 'Runtime exited without providing a reason' : `Runtime exited with error: ${exit}`;
}

/**
 * A failure the platform reports for an invocation (runtime exit, bad entrypoint): the payload
 * Lambda answers ("RequestId: X Error: <reason>") and the lines it logs between START and END.
 */
export function platformError(requestId: string, errorType: string, reason: string): { payload: { errorType: string; errorMessage: string }; logLines: string } {
  const message = `RequestId: ${requestId} Error: ${reason}`;
  return { payload: { errorType, errorMessage: message }, logLines: `${message}\n${errorType}\n` };
}

export const responseTooLargePayload = {
  errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
  errorType: 'Function.ResponseSizeTooLarge',
};

/** A streamed response cut at its limit: Lambda's RAPID ends the stream with this error type. */
export const streamedTooLargeError = {
  errorType: 'Function.ResponseSizeTooLarge',
  errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_STREAMED_RESPONSE_BYTES} bytes).`,
};

/** A streamed response whose connection closed before its end (RAPID's error type for a cut body). */
export const truncatedStreamError = { errorType: 'Runtime.TruncatedResponse', errorMessage: 'The response stream was closed before it ended.' };

/**
 * The invoke payload of a buffered response whose connection closed before its end: RAPID's
 * document for the error it reports (Runtime.TruncatedResponse, with no message).
 */
export const truncatedResponsePayload = { errorType: 'Runtime.TruncatedResponse' };
