import type { Command } from 'commander';
import { isStratusError } from '../../core/errors.js';
import { defaultEndpoint, queryString, restJson, seg } from '../http.js';

/**
 * `stratus url NAME`: prints the function's URL to curl, creating it (AuthType NONE) when the
 * function has none yet; `--stream` asks for InvokeMode RESPONSE_STREAM on creation.
 */
export function registerUrlCommand(program: Command): void {
  program
    .command('url')
    .argument('<function>', 'function name')
    .description('print (creating if needed) the function URL to curl')
    .option('--endpoint <url>', 'Stratus endpoint (env STRATUS_ENDPOINT)', defaultEndpoint())
    .option('--qualifier <alias>', 'alias the URL points at')
    .option('--stream', 'create with InvokeMode RESPONSE_STREAM')
    .option('--no-create', 'only print an existing URL')
    .option('--json', 'print the URL configuration as JSON')
    .action(async (fn: string, opts: { endpoint: string; qualifier?: string; stream?: boolean; create: boolean; json?: boolean }) => {
      const base = opts.endpoint.replace(/\/+$/, '');
      const path = `/2021-10-31/functions/${seg(fn)}/url${queryString({ Qualifier: opts.qualifier })}`;
      let config: any;
      try {
        config = await restJson(base, 'GET', path);
      } catch (e) {
        // The function exists but has no URL yet (a missing function says "Function not found").
        const noUrlYet = isStratusError(e) && e.code === 'ResourceNotFoundException' && !/Function not found/.test(e.message);
        if (!noUrlYet || !opts.create) throw e;
        config = await restJson(base, 'POST', path, { json: { AuthType: 'NONE', InvokeMode: opts.stream ? 'RESPONSE_STREAM' : 'BUFFERED' } });
      }
      if (opts.json) return console.log(JSON.stringify(config, null, 2));
      const url: string = config.FunctionUrl;
      const id = /^http:\/\/([a-z0-9]+)\.lambda-url\./.exec(url)?.[1];
      console.log(url);
      if (id) console.log(`path form: ${base}/_urls/${id}/`);
    });
}
