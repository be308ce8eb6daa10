import type { Command } from 'commander';
import { isStratusError } from '../../core/errors.js';
import { LambdaClient, type AliasConfiguration, type FunctionConfiguration } from '../lambda.js';
import { serverOptions, weightArg } from '../options.js';
import { formatTable, shortTime } from '../table.js';

/** The `stratus ls` table: NAME RUNTIME MEMORY TIMEOUT LAST MODIFIED. */
export function formatFunctions(fns: FunctionConfiguration[]): string {
  return formatTable(
    ['NAME', 'RUNTIME', 'MEMORY', 'TIMEOUT', 'LAST MODIFIED'],
    fns.map((f) => [
      f.FunctionName,
      f.Runtime ?? (f.PackageType === 'Image' ? 'image' : ''),
      f.MemorySize === undefined ? '' : `${f.MemorySize} MB`,
      f.Timeout === undefined ? '' : `${f.Timeout}s`,
      shortTime(f.LastModified),
    ]),
  );
}

/** `live -> 1 (2: 10%)`: where an alias points. */
export function describeAlias(a: AliasConfiguration): string {
  const weights = Object.entries(a.RoutingConfig?.AdditionalVersionWeights ?? {});
  const extra = weights.length ? ` (${weights.map(([v, w]) => `${v}: ${+(w * 100).toFixed(4)}%`).join(', ')})` : '';
  return `${a.Name} -> ${a.FunctionVersion}${extra}`;
}

export function registerFunctionCommands(program: Command): void {
  serverOptions(program.command('ls').description('list functions (NAME RUNTIME MEMORY TIMEOUT LAST MODIFIED)'))
    .action(async (opts: { endpoint: string; json?: boolean }) => {
      const fns = await new LambdaClient(opts.endpoint).listFunctions();
      if (opts.json) return console.log(JSON.stringify(fns, null, 2));
      console.log(fns.length ? formatFunctions(fns) : 'no functions');
    });

  serverOptions(
    program
      .command('rm')
      .description('delete a function (or, with --qualifier, one published version)')
      .argument('<name>', 'function name or ARN')
      .option('--qualifier <version>', 'delete only this version'),
  ).action(async (name: string, opts: { endpoint: string; json?: boolean; qualifier?: string }) => {
    const lambda = new LambdaClient(opts.endpoint);
    // DeleteFunction answers 204 for a version that never existed, as Lambda does: ask first, so
    // that "deleted version 9" is never said of a version there was not.
    if (opts.qualifier !== undefined) await lambda.getFunctionConfiguration(name, opts.qualifier);
    const status = await lambda.deleteFunction(name, opts.qualifier);
    if (opts.json) return console.log(JSON.stringify({ FunctionName: name, Qualifier: opts.qualifier ?? null, StatusCode: status }));
    console.log(opts.qualifier ? `deleted version ${opts.qualifier} of ${name}` : `deleted function ${name}`);
  });

  serverOptions(
    program
      .command('publish')
      .description('publish a version from $LATEST and print its number')
      .argument('<name>', 'function name or ARN')
      .option('--description <text>', 'version description'),
  ).action(async (name: string, opts: { endpoint: string; json?: boolean; description?: string }) => {
    const v = await new LambdaClient(opts.endpoint).publishVersion(name, opts.description);
    if (opts.json) return console.log(JSON.stringify(v, null, 2));
    console.log(`published version ${v.Version} of ${v.FunctionName ?? name} (CodeSha256 ${v.CodeSha256 ?? '?'})`);
  });

  serverOptions(
    program
      .command('alias')
      .description('point an alias at a version, creating the alias or updating it')
      .argument('<name>', 'function name or ARN')
      .argument('<alias>', 'alias name')
      .argument('<version>', 'version the alias points at')
      .option('--weight <VERSION=WEIGHT>', 'also route a share of invocations to another version, e.g. 2=0.1 (repeatable); without it an update clears the routing', weightArg)
      .option('--description <text>', 'alias description'),
  ).action(async (name: string, alias: string, version: string, opts: { endpoint: string; json?: boolean; weight?: Record<string, number>; description?: string }) => {
    const lambda = new LambdaClient(opts.endpoint);
    let result: AliasConfiguration;
    let action: 'created' | 'updated';
    try {
      result = await lambda.createAlias(name, {
        Name: alias,
        FunctionVersion: version,
        ...(opts.description !== undefined ? { Description: opts.description } : {}),
        ...(opts.weight ? { RoutingConfig: { AdditionalVersionWeights: opts.weight } } : {}),
      });
      action = 'created';
    } catch (e) {
      if (!isStratusError(e) || e.code !== 'ResourceConflictException') throw e;
      result = await lambda.updateAlias(name, alias, {
        FunctionVersion: version,
        ...(opts.description !== undefined ? { Description: opts.description } : {}),
        RoutingConfig: { AdditionalVersionWeights: opts.weight ?? {} },
      });
      action = 'updated';
    }
    if (opts.json) return console.log(JSON.stringify(result, null, 2));
    console.log(`${action} alias ${name}:${describeAlias(result)}`);
  });
}
