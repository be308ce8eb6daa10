import type { Command } from 'commander';

function endpoint(): string {
  return process.env.STRATUS_ENDPOINT ?? `http://127.0.0.1:${process.env.STRATUS_PORT ?? '9070'}`;
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; type: string | null }> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : {}, type: r.headers.get('x-amzn-errortype') };
}

/**
 * `stratus url NAME`: prints the function's URL to curl, creating it (AuthType NONE) when the
 * function has none yet; `--stream` asks for InvokeMode RESPONSE_STREAM on creation.
 */
export function registerUrlCommand(program: Command): void {
  program
    .command('url')
    .argument('<function>', 'function name')
    .description('print (creating if needed) the function URL to curl')
    .option('--endpoint <url>', 'Stratus endpoint', endpoint())
    .option('--qualifier <alias>', 'alias the URL points at')
    .option('--stream', 'create with InvokeMode RESPONSE_STREAM')
    .option('--no-create', 'only print an existing URL')
    .option('--json', 'print the URL configuration as JSON')
    .action(async (fn: string, opts: { endpoint: string; qualifier?: string; stream?: boolean; create: boolean; json?: boolean }) => {
      const base = opts.endpoint.replace(/\/$/, '');
      const path = `/2021-10-31/functions/${encodeURIComponent(fn)}/url${opts.qualifier ? `?Qualifier=${encodeURIComponent(opts.qualifier)}` : ''}`;
      let r = await call(base, 'GET', path);
      if (r.status === 404 && r.type === 'ResourceNotFoundException' && opts.create && !/Function not found/.test(r.body.message ?? '')) {
        r = await call(base, 'POST', path, { AuthType: 'NONE', InvokeMode: opts.stream ? 'RESPONSE_STREAM' : 'BUFFERED' });
      }
      if (r.status >= 300) throw new Error(`${r.body.message ?? r.body.Message ?? 'request failed'} (${r.type ?? r.status})`);
      if (opts.json) return console.log(JSON.stringify(r.body, null, 2));
      const url: string = r.body.FunctionUrl;
      const id = /^http:\/\/([a-z0-9]+)\.lambda-url\./.exec(url)?.[1];
      console.log(url);
      if (id) console.log(`path form: ${base}/_urls/${id}/`);
    });
}
