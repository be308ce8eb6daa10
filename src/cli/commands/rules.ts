import type { Command } from 'commander';
import { defaultEndpoint } from './events.js';

async function events(base: string, op: string, input: Record<string, unknown>): Promise<any> {
  const r = await fetch(`${base}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AWSEvents.${op}` },
    body: JSON.stringify(input),
  });
  const text = await r.text();
  const body = text ? JSON.parse(text) : {};
  if (!r.ok) throw new Error(`${body.message ?? r.statusText} (${body.__type ?? r.status})`);
  return body;
}

export interface RuleRow {
  name: string;
  bus: string;
  state: string;
  trigger: string;
  targets: string[];
}

export function formatRules(rows: RuleRow[]): string {
  const head = ['NAME', 'BUS', 'STATE', 'PATTERN / SCHEDULE', 'TARGETS'];
  const data = rows.map((r) => [r.name, r.bus, r.state, r.trigger, r.targets.join(', ')]);
  const widths = head.map((h, i) => Math.max(h.length, ...data.map((d) => d[i]!.length)));
  return [head, ...data].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** `stratus rules [--bus NAME]`: event rules (pattern or schedule, state) and their targets. */
export function registerRulesCommand(program: Command): void {
  program
    .command('rules')
    .description('list event rules (patterns and schedules) with their state and targets')
    .option('--endpoint <url>', 'Stratus endpoint', defaultEndpoint())
    .option('--bus <name>', 'event bus (default: every bus)')
    .option('--prefix <prefix>', 'only rules whose name starts with this')
    .option('--json', 'print JSON')
    .action(async (opts: { endpoint: string; bus?: string; prefix?: string; json?: boolean }) => {
      const base = opts.endpoint.replace(/\/$/, '');
      const buses: string[] = [];
      if (opts.bus) buses.push(opts.bus);
      else {
        let token: string | undefined;
        do {
          const page = await events(base, 'ListEventBuses', token ? { NextToken: token } : {});
          for (const b of page.EventBuses ?? []) buses.push(b.Name);
          token = page.NextToken;
        } while (token);
      }
      const rows: RuleRow[] = [];
      for (const bus of buses) {
        let token: string | undefined;
        do {
          const page = await events(base, 'ListRules', { EventBusName: bus, ...(opts.prefix ? { NamePrefix: opts.prefix } : {}), ...(token ? { NextToken: token } : {}) });
          for (const r of page.Rules ?? []) {
            const t = await events(base, 'ListTargetsByRule', { Rule: r.Name, EventBusName: bus });
            rows.push({
              name: r.Name,
              bus,
              state: r.State,
              trigger: r.ScheduleExpression ?? r.EventPattern ?? '',
              targets: (t.Targets ?? []).map((x: { Id: string; Arn: string }) => `${x.Id}=${x.Arn}`),
            });
          }
          token = page.NextToken;
        } while (token);
      }
      console.log(opts.json ? JSON.stringify(rows, null, 2) : rows.length ? formatRules(rows) : 'no rules');
    });
}
