import type { Command } from 'commander';
import { LambdaClient, type FunctionConfiguration, type FunctionSettings } from '../lambda.js';
import { collect, intArg, keyValueArg, serverOptions } from '../options.js';
import { CUSTOM_RUNTIME, DEFAULT_HANDLER, DEFAULT_RUNTIME, inferDefaults, loadPackage, PYTHON_HANDLER, PYTHON_RUNTIME } from '../package.js';
import { formatRecord } from '../table.js';

export const DEFAULT_ROLE = 'arn:aws:iam::000000000000:role/stratus';

interface DeployOptions {
  endpoint: string;
  json?: boolean;
  runtime?: string;
  handler?: string;
  memory?: number;
  timeout?: number;
  env?: Record<string, string>;
  layer?: string[];
  description?: string;
  role?: string;
}

/** The configuration lines deploy-function prints. */
export function formatConfiguration(c: FunctionConfiguration): string {
  return formatRecord([
    ['FunctionName', c.FunctionName],
    ['FunctionArn', c.FunctionArn],
    ['Version', c.Version],
    ['Runtime', c.Runtime],
    ['Handler', c.Handler],
    ['MemorySize', c.MemorySize === undefined ? undefined : `${c.MemorySize} MB`],
    ['Timeout', c.Timeout === undefined ? undefined : `${c.Timeout} s`],
    ['CodeSize', c.CodeSize === undefined ? undefined : `${c.CodeSize} bytes`],
    ['CodeSha256', c.CodeSha256],
    ['Layers', c.Layers?.length ? c.Layers.map((l) => l.Arn).join(', ') : undefined],
    ['State', c.State],
    ['LastUpdateStatus', c.LastUpdateStatus],
  ]);
}

/** The settings given on the command line (only those: an update changes nothing else). */
function givenSettings(opts: DeployOptions): FunctionSettings {
  const s: FunctionSettings = {};
  if (opts.runtime !== undefined) s.Runtime = opts.runtime;
  if (opts.handler !== undefined) s.Handler = opts.handler;
  if (opts.memory !== undefined) s.MemorySize = opts.memory;
  if (opts.timeout !== undefined) s.Timeout = opts.timeout;
  if (opts.description !== undefined) s.Description = opts.description;
  if (opts.role !== undefined) s.Role = opts.role;
  if (opts.env !== undefined) s.Environment = { Variables: opts.env };
  if (opts.layer !== undefined) s.Layers = opts.layer;
  return s;
}

async function deploy(name: string, source: string, opts: DeployOptions): Promise<void> {
  const lambda = new LambdaClient(opts.endpoint);
  const pkg = await loadPackage(source);
  const existing = await lambda.findFunction(name);
  const given = givenSettings(opts);
  let action: 'created' | 'updated';
  if (!existing) {
    const { runtime, handler } = inferDefaults(pkg.files, { runtime: opts.runtime, handler: opts.handler });
    await lambda.createFunction(name, pkg.zip, { ...given, Runtime: runtime, Handler: handler, Role: opts.role ?? DEFAULT_ROLE });
    action = 'created';
  } else {
    // Lambda refuses an update while another is in progress (ResourceConflictException).
    await lambda.waitUntilReady(name);
    await lambda.updateFunctionCode(name, pkg.zip);
    if (Object.keys(given).length > 0) {
      await lambda.waitUntilReady(name);
      await lambda.updateFunctionConfiguration(name, given);
    }
    action = 'updated';
  }
  const config = await lambda.waitUntilReady(name);
  if (opts.json) {
    console.log(JSON.stringify(config, null, 2));
    return;
  }
  console.log(`${action} function ${name} from ${pkg.kind} ${source}`);
  console.log(formatConfiguration(config));
}

/** `stratus deploy-function NAME DIR|ZIP`: CreateFunction, or UpdateFunctionCode + UpdateFunctionConfiguration. */
export function registerDeployCommand(program: Command): void {
  const cmd = program
    .command('deploy-function')
    .description('create a function from a directory or .zip file, or update its code (and the settings given)')
    .argument('<name>', 'function name')
    .argument('<source>', 'a directory (zipped for you) or a .zip file')
    .option('--runtime <runtime>', `runtime (default: ${CUSTOM_RUNTIME} when the package has an executable bootstrap, ${PYTHON_RUNTIME} when it has .py files and no .js/.mjs/.cjs, else ${DEFAULT_RUNTIME})`)
    .option('--handler <handler>', `handler (default: ${DEFAULT_HANDLER}; for Python ${PYTHON_HANDLER} when lambda_function.py exists)`)
    .option('--memory <MB>', 'memory size in MB', intArg(1, 1_000_000))
    .option('--timeout <seconds>', 'timeout in seconds', intArg(1, 1_000_000))
    .option('--env <KEY=VALUE>', 'environment variable (repeatable); on update the given set replaces the old one', keyValueArg('--env'))
    .option('--layer <arn>', 'layer version ARN (repeatable, in the order they go to /opt); on update the given list replaces the old one', collect)
    .option('--description <text>', 'description')
    .option('--role <arn>', `execution role (default on create: ${DEFAULT_ROLE})`);
  serverOptions(cmd)
    .addHelpText('after', '\nOn create, settings not given take the defaults above; on update only the settings given change.')
    .action(async (name: string, source: string, opts: DeployOptions) => deploy(name, source, opts));
}
