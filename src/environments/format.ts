/** Lambda's exact texts: log lines, REPORT, runtime failure payloads. Pure functions. */

export const MAX_RESPONSE_BYTES = 6291556;

export function logStreamName(now: Date, version: string, hex32: string): string {
  const y = now.getUTCFullYear();
  const m = String(now.getUTCMonth() + 1).padStart(2, '0');
  const d = String(now.getUTCDate()).padStart(2, '0');
  return `${y}/${m}/${d}/[${version}]${hex32}`;
}

export const startLine = (requestId: string, version: string) => `START RequestId: ${requestId} Version: ${version}\n`;
export const endLine = (requestId: string) => `END RequestId: ${requestId}\n`;

/** Billed duration: 1 ms granularity, rounded up, at least 1 ms. */
export function billedMs(durationMs: number): number {
  return Math.max(1, Math.ceil(durationMs));
}

export function reportLine(r: {
  requestId: string; durationMs: number; memorySizeMB: number; maxMemoryUsedMB: number; initDurationMs?: number;
}): string {
  let s = `REPORT RequestId: ${r.requestId}\tDuration: ${r.durationMs.toFixed(2)} ms\tBilled Duration: ${billedMs(r.durationMs)} ms\t` +
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

/** How Lambda (Go's ProcessState) describes a runtime exit: "exit status 1", "signal: killed". */
export function exitText(code: number | null, signal: string | null): string {
  if (signal) return `signal: ${SIGNAL_TEXT[signal] ?? signal}`;
  return `exit status ${code ?? 0}`;
}

export function runtimeExitPayload(requestId: string | undefined, errorType: string, exit: string): { errorType: string; errorMessage: string } {
  const prefix = requestId ? `RequestId: ${requestId} ` : '';
  return { errorType, errorMessage: `${prefix}Error: Runtime exited with error: ${exit}` };
}

export const responseTooLargePayload = {
  errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
  errorType: 'Function.ResponseSizeTooLarge',
};
