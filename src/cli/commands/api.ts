import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { defaultEndpoint, restJson, seg } from '../http.js';
import { formatTable } from '../table.js';

const call = (base: string, method: string, path: string, body?: unknown) => restJson(base, method, path, body === undefined ? {} : { json: body });

/** `GET /hello=my-fn` -> { routeKey: 'GET /hello', fn: 'my-fn' }; the function may be a name or ARN. */
export function parseRouteSpec(spec: string): { routeKey: string; fn: string } {
  const eq = spec.lastIndexOf('=');
  if (eq <= 0 || eq === spec.length - 1) throw new CliError(`invalid --route ${JSON.stringify(spec)}: expected "METHOD /path=FUNCTION" or "$default=FUNCTION"`, 2);
  return { routeKey: spec.slice(0, eq).trim(), fn: spec.slice(eq + 1).trim() };
}

function fnArn(fn: string, region: string, account: string): string {
  return fn.startsWith('arn:') ? fn : `arn:aws:lambda:${region}:${account}:function:${fn}`;
}

/** The path form of an API's URL, reachable without *.localhost name resolution. */
function pathUrl(base: string, apiId: string, stage: string): string {
  return `${base}/_apis/${apiId}${stage === '$default' ? '' : `/${stage}`}/`;
}

/**
 * `stratus api create NAME --route "GET /hello=FUNCTION" ...`, `stratus api ls`, `stratus api rm ID`:
 * HTTP APIs through the API Gateway v2 management paths.
 */
export function registerApiCommand(program: Command): void {
  const api = program.command('api').description('HTTP APIs (API Gateway v2 compatible): create, list, remove');

  api
    .command('create')
    .argument('<name>', 'API name')
    .description('create an HTTP API routing to functions')
    .option('--endpoint <url>', 'Stratus endpoint', defaultEndpoint())
    .option('--route <spec>', 'route "METHOD /path=FUNCTION" (repeatable; {param} and {proxy+} allowed)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--stage <name>', 'stage name', '$default')
    .option('--payload <version>', 'payload format version: 2.0 or 1.0', '2.0')
    .option('--cors <origins>', 'enable CORS for these origins (comma-separated, or *)')
    .option('--region <region>', 'region of function ARNs', process.env.STRATUS_REGION ?? 'us-east-1')
    .option('--account <id>', 'account of function ARNs', process.env.STRATUS_ACCOUNT_ID ?? '000000000000')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { endpoint: string; route: string[]; stage: string; payload: string; cors?: string; region: string; account: string; json?: boolean }) => {
      const base = opts.endpoint.replace(/\/$/, '');
      const routes = opts.route.map(parseRouteSpec);
      if (routes.length === 0) throw new CliError('at least one --route "METHOD /path=FUNCTION" is required', 2);
      const body: Record<string, unknown> = { name, protocolType: 'HTTP' };
      if (opts.cors) body.corsConfiguration = { allowOrigins: opts.cors.split(',').map((s) => s.trim()), allowMethods: ['*'], allowHeaders: ['*'] };
      const created = await call(base, 'POST', '/v2/apis', body);
      const apiId: string = created.apiId;
      try {
        const integrations = new Map<string, string>();
        for (const r of routes) {
          const arn = fnArn(r.fn, opts.region, opts.account);
          let integrationId = integrations.get(arn);
          if (!integrationId) {
            const integ = await call(base, 'POST', `/v2/apis/${apiId}/integrations`, { integrationType: 'AWS_PROXY', integrationUri: arn, payloadFormatVersion: opts.payload });
            integrationId = integ.integrationId as string;
            integrations.set(arn, integrationId);
          }
          await call(base, 'POST', `/v2/apis/${apiId}/routes`, { routeKey: r.routeKey, target: `integrations/${integrationId}` });
        }
        await call(base, 'POST', `/v2/apis/${apiId}/stages`, { stageName: opts.stage, autoDeploy: true });
      } catch (e) {
        await call(base, 'DELETE', `/v2/apis/${apiId}`).catch(() => undefined);
        throw e;
      }
      const stagePart = opts.stage === '$default' ? '' : `/${opts.stage}`;
      if (opts.json) {
        console.log(JSON.stringify({ apiId, name, endpoint: `${created.apiEndpoint}${stagePart}/`, pathUrl: pathUrl(base, apiId, opts.stage), routes }, null, 2));
        return;
      }
      console.log(`created API ${name} (${apiId})`);
      for (const r of routes) console.log(`  ${r.routeKey} -> ${r.fn}`);
      console.log(`url:       ${created.apiEndpoint}${stagePart}/`);
      console.log(`path form: ${pathUrl(base, apiId, opts.stage)}`);
    });

  api
    .command('ls')
    .description('list HTTP APIs with their routes and URLs')
    .option('--endpoint <url>', 'Stratus endpoint', defaultEndpoint())
    .option('--json', 'print JSON')
    .action(async (opts: { endpoint: string; json?: boolean }) => {
      const base = opts.endpoint.replace(/\/$/, '');
      const rows: Array<{ apiId: string; name: string; routes: string[]; stages: string[]; url: string }> = [];
      let token: string | undefined;
      do {
        const page = await call(base, 'GET', `/v2/apis${token ? `?nextToken=${encodeURIComponent(token)}` : ''}`);
        for (const a of page.items ?? []) {
          const routes = await call(base, 'GET', `/v2/apis/${a.apiId}/routes`);
          const stages = await call(base, 'GET', `/v2/apis/${a.apiId}/stages`);
          rows.push({
            apiId: a.apiId,
            name: a.name,
            routes: (routes.items ?? []).map((r: { routeKey: string }) => r.routeKey),
            stages: (stages.items ?? []).map((s: { stageName: string }) => s.stageName),
            url: a.apiEndpoint,
          });
        }
        token = page.nextToken;
      } while (token);
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      if (rows.length === 0) return console.log('no APIs');
      console.log(formatTable(['ID', 'NAME', 'STAGES', 'ROUTES', 'URL'], rows.map((r) => [r.apiId, r.name, r.stages.join(','), r.routes.join(', '), r.url])));
    });

  api
    .command('rm')
    .argument('<apiId>', 'API id')
    .description('delete an HTTP API')
    .option('--endpoint <url>', 'Stratus endpoint', defaultEndpoint())
    .action(async (apiId: string, opts: { endpoint: string }) => {
      await call(opts.endpoint.replace(/\/$/, ''), 'DELETE', `/v2/apis/${seg(apiId)}`);
      console.log(`deleted API ${apiId}`);
    });
}
