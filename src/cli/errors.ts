import { isStratusError } from '../core/errors.js';

/**
 * A failure the CLI itself detects (a file that is missing, a payload that is not JSON, a
 * function that returned an error). Errors a server reports arrive as StratusError (see
 * http.ts); commander's own usage errors exit 2 before any action runs.
 */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

/** Collapses whitespace so an error always prints as one line. */
function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * The one line printed for an error (without the `stratus: ` prefix): a server error names its
 * AWS error code in parentheses, like `Function not found: arn:... (ResourceNotFoundException)`.
 */
export function errorLine(e: unknown): string {
  if (isStratusError(e)) return `${oneLine(e.message || 'request failed')} (${e.code})`;
  if (e instanceof Error) return oneLine(e.message || e.name);
  return oneLine(String(e));
}

/** Exit status for an error: CliError says, everything else is 1. */
export function exitCodeOf(e: unknown): number {
  return e instanceof CliError ? e.exitCode : 1;
}
