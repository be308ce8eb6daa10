import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { Stratus, StratusConfig } from '../../app/index.js';
import { zipDirectory } from '../../code/index.js';
import { errorLine } from '../errors.js';
import { DEFAULT_ENDPOINT } from '../http.js';
import { LambdaClient } from '../lambda.js';
import { intArg } from '../options.js';
import { closeInheritedDescriptors } from '../descriptors.js';

export const SAMPLE_FUNCTION = 'hello';

/** The sample handler `stratus up --sample` deploys: greets and echoes the event back. */
export const SAMPLE_SOURCE = `// The sample function created by \`stratus up --sample\`: it greets and echoes the event.
export const handler = async (event, context) => {
  const name = event && typeof event.name === 'string' ? event.name : 'world';
  console.log(\`greeting \${name}\`);
  return { message: \`Hello, \${name}!\`, event, requestId: context.awsRequestId };
};
`;

/** The lines `up --sample` prints: how to invoke the sample with this CLI and with the aws CLI. */
export function sampleRecipes(url: string, region: string): string[] {
  const endpointFlag = url === DEFAULT_ENDPOINT ? '' : ` --endpoint ${url}`;
  return [
    `  npx stratus invoke ${SAMPLE_FUNCTION} --payload '{"name":"you"}'${endpointFlag}`,
    `  aws lambda invoke --endpoint-url ${url} --function-name ${SAMPLE_FUNCTION} --payload '{"name":"you"}' --cli-binary-format raw-in-base64-out out.json`,
    `  (the aws CLI wants credentials and a region; any values do, e.g. AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=${region};`,
    `   aws CLI v1 has no --cli-binary-format: leave out "--cli-binary-format raw-in-base64-out" there)`,
  ];
}

/** Creates the sample function through the server's own Lambda API unless one by that name exists. */
async function ensureSample(url: string): Promise<'created' | 'exists'> {
  const lambda = new LambdaClient(url);
  if (await lambda.findFunction(SAMPLE_FUNCTION)) return 'exists';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-sample-'));
  try {
    fs.writeFileSync(path.join(dir, 'index.mjs'), SAMPLE_SOURCE);
    const zip = await zipDirectory(dir);
    await lambda.createFunction(SAMPLE_FUNCTION, zip, {
      Runtime: 'nodejs20.x',
      Handler: 'index.handler',
      Role: 'arn:aws:iam::000000000000:role/stratus',
      Description: 'Sample function created by stratus up --sample',
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await lambda.waitUntilReady(SAMPLE_FUNCTION);
  return 'created';
}

interface UpOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  insecure?: boolean;
  sample?: boolean;
}

/**
 * Stops the server on SIGINT/SIGTERM (after a start in progress has finished) and exits 0; a
 * second signal while stopping exits at once.
 */
function stopOnSignals(stratus: Stratus, started: Promise<unknown>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.error(`stratus: ${signal} again, exiting without waiting for the shutdown`);
      process.exit(1);
    }
    stopping = true;
    const grace = stratus.config.shutdownGraceMs ?? 30_000;
    console.log(`Stratus stopping: requests in flight get up to ${grace / 1000} s to finish (${signal} again exits at once)`);
    started
      .catch(() => undefined)
      .then(() => stratus.stop())
      .then(
        () => {
          console.log('Stratus stopped');
          process.exit(0);
        },
        (e) => {
          console.error(`stratus: stopping failed: ${errorLine(e)}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

async function up(opts: UpOptions): Promise<void> {
  const overrides: Partial<StratusConfig> = {};
  if (opts.port !== undefined) overrides.port = opts.port;
  if (opts.host !== undefined) overrides.host = opts.host;
  if (opts.dataDir !== undefined) overrides.dataDir = path.resolve(opts.dataDir);
  if (opts.insecure) overrides.insecure = true;

  // Before any environment can start: descriptors a careless parent left open would reach them.
  closeInheritedDescriptors();
  // Loaded here, not at the top: the client commands should not pay for the whole server.
  const { createStratus, isLoopback } = await import('../../app/index.js');
  const stratus = await createStratus(overrides);
  const { lines, warnings } = stratus.describe();
  for (const l of lines) console.log(l);
  for (const w of warnings) console.error(`WARNING: ${w}`);
  if (!isLoopback(stratus.config.host)) {
    console.error(`WARNING: listening on ${stratus.config.host} without authentication: anyone who can reach this port can run code here`);
  }

  const starting = stratus.start();
  stopOnSignals(stratus, starting);
  let url: string;
  try {
    ({ url } = await starting);
  } catch (e) {
    await stratus.stop().catch(() => undefined);
    throw e;
  }
  console.log(`Stratus listening on ${url}`);

  if (opts.sample) {
    try {
      const r = await ensureSample(url);
      console.log('');
      console.log(r === 'created'
        ? `Sample function "${SAMPLE_FUNCTION}" created (nodejs20.x). Invoke it:`
        : `Sample function "${SAMPLE_FUNCTION}" already exists. Invoke it:`);
      for (const l of sampleRecipes(url, stratus.config.region)) console.log(l);
    } catch (e) {
      console.error(`stratus: could not create the sample function: ${errorLine(e)}`);
    }
  }
}

/** `stratus up`: runs a Stratus server in this process until SIGINT/SIGTERM. */
export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('run a Stratus server in the foreground until Ctrl-C (SIGINT) or SIGTERM')
    .option('--port <port>', 'port to listen on, 0 picks a free one (default 9070, env STRATUS_PORT)', intArg(0, 65535))
    .option('--host <host>', 'address to listen on (default 127.0.0.1, env STRATUS_HOST); a non-loopback address needs --insecure')
    .option('--data-dir <dir>', 'where functions, code and logs are kept (default ./.stratus, env STRATUS_DATA_DIR)')
    .option('--insecure', 'allow a non-loopback --host although Stratus has no authentication yet')
    .option('--sample', `create a sample function "${SAMPLE_FUNCTION}" (unless it exists) and print how to invoke it`)
    .addHelpText('after', '\nOther settings come from the environment (STRATUS_DATABASE_URL, STRATUS_PREWARM, STRATUS_SANDBOX, ...).')
    .action(async (opts: UpOptions) => up(opts));
}
