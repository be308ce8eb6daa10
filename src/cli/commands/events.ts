import type { Command } from 'commander';

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

export function defaultEndpoint(): string {
  return process.env.STRATUS_ENDPOINT ?? `http://127.0.0.1:${process.env.STRATUS_PORT ?? '9070'}`;
}

async function getJson(url: string): Promise<any> {
  const r = await fetch(url);
  const text = await r.text();
  const body = text ? JSON.parse(text) : {};
  if (!r.ok) throw new Error(`${body.message ?? body.Message ?? r.statusText} (${r.headers.get('x-amzn-errortype') ?? r.status})`);
  return body;
}

export function formatEvents(rows: AsyncEventRow[], counts?: Record<string, number>): string {
  const head = ['REQUEST ID', 'STATE', 'ATTEMPTS', 'QUEUED AT', 'UPDATED AT', 'DETAIL'];
  const data = rows.map((e) => [
    e.requestId,
    e.state,
    String(e.attempts),
    e.enqueuedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    e.updatedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    [
      e.nextAttemptAt ? `next attempt ${e.nextAttemptAt}` : '',
      e.lastError ? `last error ${e.lastError}` : '',
      e.condition ?? '',
      e.destinationError ? `destination: ${e.destinationError}` : '',
    ].filter(Boolean).join('; '),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...data.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(head), ...data.map(line)];
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
      const base = opts.endpoint.replace(/\/$/, '');
      if (requestId) {
        let last = '';
        for (;;) {
          const e = (await getJson(`${base}/_stratus/async/events/${encodeURIComponent(requestId)}`)) as AsyncEventRow;
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
        const body = (await getJson(`${base}/_stratus/async/events?${q}`)) as { events: AsyncEventRow[]; counts: Record<string, number> };
        console.log(opts.json ? JSON.stringify(body, null, 2) : formatEvents(body.events, body.counts));
        const pending = body.counts.queued! + body.counts.running! + body.counts.retrying!;
        if (!opts.follow || pending === 0) return;
        await new Promise((r) => setTimeout(r, 2000));
        if (!opts.json) console.log('');
      }
    });
}
