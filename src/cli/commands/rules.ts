import type { Command } from 'commander';
import { awsJson, defaultEndpoint } from '../http.js';
import { formatTable } from '../table.js';

/** Calls the EventBridge JSON API (AWS JSON 1.1, X-Amz-Target AWSEvents.<op>). */
function events(base: string, op: string, input: Record<string, unknown>): Promise<any> {
  return awsJson(base, `AWSEvents.${op}`, input, '1.1');
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
  return formatTable(head, data);
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
