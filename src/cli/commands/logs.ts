import type { Command } from 'commander';
import { Errors, isStratusError } from '../../core/errors.js';
import { CliError } from '../errors.js';
import { awsJson } from '../http.js';
import { serverOptions, timeArg } from '../options.js';
import { TIME_FORMS } from '../time.js';

/** One event of FilterLogEvents (CloudWatch Logs FilteredLogEvent). */
export interface LogEvent {
  logStreamName: string;
  timestamp: number;
  message: string;
  ingestionTime?: number;
  eventId: string;
}

const DEFAULT_SINCE_MS = 10 * 60_000;
/** How far back each --follow poll looks again, for events that arrive late (dedupe by eventId). */
const FOLLOW_LOOKBACK_MS = 30_000;
const FOLLOW_INTERVAL_MS = 1000;

/** `TIMESTAMP STREAM MESSAGE`, as `aws logs tail` prints (the message without its trailing newline). */
export function formatLogEvent(e: LogEvent): string {
  return `${new Date(e.timestamp).toISOString()} ${e.logStreamName} ${e.message.replace(/\r?\n$/, '')}`;
}

/**
 * Remembers which events were printed, so a window polled again prints only what is new; ids
 * older than the window are forgotten, keeping memory bounded.
 */
export class EventDeduper {
  private readonly seen = new Map<string, number>();

  /** True the first time an event id is offered. */
  fresh(e: LogEvent): boolean {
    if (this.seen.has(e.eventId)) return false;
    this.seen.set(e.eventId, e.timestamp);
    return true;
  }

  /** Forgets events before `from` (they are outside every later window). */
  forgetBefore(from: number): void {
    for (const [id, ts] of this.seen) if (ts < from) this.seen.delete(id);
  }

  get size(): number {
    return this.seen.size;
  }
}

/** FilterLogEvents over [start, end], following nextToken; calls onEvent per event in order. */
async function filterAll(
  endpoint: string,
  input: { logGroupName: string; startTime: number; endTime?: number; filterPattern?: string },
  onEvent: (e: LogEvent) => void,
): Promise<void> {
  let nextToken: string | undefined;
  do {
    const page = await awsJson(endpoint, 'Logs_20140328.FilterLogEvents', { ...input, ...(nextToken ? { nextToken } : {}) });
    for (const e of (page.events ?? []) as LogEvent[]) onEvent(e);
    nextToken = page.nextToken || undefined;
  } while (nextToken);
}

interface LogsOptions {
  endpoint: string;
  json?: boolean;
  since?: number;
  until?: number;
  filter?: string;
  follow?: boolean;
}

function isMissingGroup(e: unknown): boolean {
  return isStratusError(e) && e.code === 'ResourceNotFoundException';
}

async function logs(name: string, opts: LogsOptions): Promise<void> {
  const logGroupName = name.startsWith('/') ? name : `/aws/lambda/${name}`;
  const since = opts.since ?? Date.now() - DEFAULT_SINCE_MS;
  if (opts.until !== undefined && opts.until < since) throw new CliError('--until is before --since', 2);
  if (opts.follow && opts.until !== undefined) throw new CliError('--follow and --until do not go together', 2);
  const filterPattern = opts.filter || undefined;
  const print = (e: LogEvent) => console.log(opts.json ? JSON.stringify(e) : formatLogEvent(e));

  if (!opts.follow) {
    try {
      await filterAll(opts.endpoint, { logGroupName, startTime: since, endTime: opts.until, filterPattern }, print);
    } catch (e) {
      if (isMissingGroup(e)) {
        throw Errors.resourceNotFound(`no logs for ${name}: log group ${logGroupName} does not exist (no such function, or it has not run yet)`);
      }
      throw e;
    }
    return;
  }

  const stop = () => process.exit(0);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const dedupe = new EventDeduper();
  let newest = since;
  let noticed = false;
  for (;;) {
    const from = Math.max(since, newest - FOLLOW_LOOKBACK_MS);
    try {
      await filterAll(opts.endpoint, { logGroupName, startTime: from, filterPattern }, (e) => {
        if (!dedupe.fresh(e)) return;
        newest = Math.max(newest, e.timestamp);
        print(e);
      });
    } catch (e) {
      // A function that has not logged yet (or not been created yet) has no group: keep waiting
      // for its first line, saying so once rather than waiting in silence.
      if (!isMissingGroup(e)) throw e;
      if (!noticed) console.error(`waiting for log group ${logGroupName}: it does not exist yet`);
      noticed = true;
    }
    dedupe.forgetBefore(Math.max(since, newest - FOLLOW_LOOKBACK_MS));
    await new Promise((r) => setTimeout(r, FOLLOW_INTERVAL_MS));
  }
}

/** `stratus logs NAME`: FilterLogEvents on /aws/lambda/NAME, or follow it. */
export function registerLogsCommand(program: Command): void {
  const cmd = program
    .command('logs')
    .description("print a function's log events (log group /aws/lambda/NAME), or follow them with --follow")
    .argument('<name>', 'function name (or a log group name starting with /)')
    .option('--since <time>', `start: ${TIME_FORMS} (default 10m)`, timeArg)
    .option('--until <time>', 'end, in the same forms (default: now)', timeArg)
    .option('--filter <pattern>', 'CloudWatch Logs filter pattern: terms all events must contain, e.g. ERROR or "\\"request id\\""')
    .option('-f, --follow', 'keep polling (about once a second) and print new events until Ctrl-C');
  serverOptions(cmd)
    .addHelpText('after', '\nLines are TIMESTAMP STREAM MESSAGE; --json prints each event as one JSON object per line.')
    .action(async (name: string, opts: LogsOptions) => logs(name, opts));
}
