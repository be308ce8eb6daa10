import type { Command } from 'commander';
import { defaultEndpoint, restJson, seg } from '../http.js';
import { LambdaClient } from '../lambda.js';
import { formatTable, shortTime } from '../table.js';

export { defaultEndpoint } from '../http.js';

/** One async event as /_stratus/async/events returns it (src/invoke/async/status.ts AsyncEventView). */
export interface AsyncEventRow {
  requestId: string;
  functionName: string;
  qualifier: string;
  state: string;
  attempts: number;
  enqueuedAt: string;
  updatedAt: string;
  nextAttemptAt?: string;
  lastError?: string;
  condition?: string;
  destinationError?: string;
}

const FINAL = new Set(['succeeded', 'failed']);

export function formatEvents(rows: AsyncEventRow[], counts?: Record<string, number>): string {
  const head = ['REQUEST ID', 'STATE', 'ATTEMPTS', 'QUEUED AT', 'UPDATED AT', 'DETAIL'];
  const data = rows.map((e) => [
    e.requestId,
    e.state,
    String(e.attempts),
    shortTime(e.enqueuedAt),
    shortTime(e.updatedAt),
    [
      e.nextAttemptAt ? `next attempt ${e.nextAttemptAt}` : '',
      e.lastError ? `last error ${e.lastError}` : '',
      e.condition ?? '',
      e.destinationError ? `destination: ${e.destinationError}` : '',
    ].filter(Boolean).join('; '),
  ]);
  const out = [formatTable(head, data)];
  if (counts) out.push('', Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', '));
  return out.join('\n');
}

/**
 * `stratus events FUNCTION [REQUEST_ID]`: recent asynchronous events of a function with their
 * state (queued, running, retrying, succeeded, failed) and attempt count; with a request id (or
 * --follow) it follows one event until it finishes.
 */
export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description('list recent asynchronous events of a function (state, attempts); follow one by request id')
    .argument('<function>', 'function name')
    .argument('[requestId]', 'one event to show (and follow with --follow)')
    .option('--endpoint <url>', 'Stratus endpoint', defaultEndpoint())
    .option('--state <states>', 'only these states, comma-separated (queued,running,retrying,succeeded,failed)')
    .option('--limit <n>', 'how many events', '20')
    .option('-f, --follow', 'keep polling until the event(s) finish')
    .option('--json', 'print JSON')
    .action(async (fn: string, requestId: string | undefined, opts: { endpoint: string; state?: string; limit: string; follow?: boolean; json?: boolean }) => {
      const base = opts.endpoint;
      // The events routes list a queue and know nothing of functions: an unknown name would
      // print an empty table. GetFunctionConfiguration says "Function not found" as every other
      // command does.
      await new LambdaClient(base).getFunctionConfiguration(fn);
      if (requestId) {
        let last = '';
        for (;;) {
          const e = (await restJson(base, 'GET', `/_stratus/async/events/${seg(requestId)}`)) as AsyncEventRow;
          const text = opts.json ? JSON.stringify(e) : formatEvents([e]);
          if (text !== last) console.log(text);
          last = text;
          if (!opts.follow || FINAL.has(e.state)) return;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      const q = new URLSearchParams({ function: fn, limit: opts.limit });
      if (opts.state) q.set('state', opts.state);
      for (;;) {
        const body = (await restJson(base, 'GET', `/_stratus/async/events?${q}`)) as { events: AsyncEventRow[]; counts: Record<string, number> };
        console.log(opts.json ? JSON.stringify(body, null, 2) : formatEvents(body.events, body.counts));
        const pending = body.counts.queued! + body.counts.running! + body.counts.retrying!;
        if (!opts.follow || pending === 0) return;
        await new Promise((r) => setTimeout(r, 2000));
        if (!opts.json) console.log('');
      }
    });
}
