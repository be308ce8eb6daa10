import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerApiCommand } from './commands/api.js';
import { registerDeployCommand } from './commands/deploy.js';
import { registerEventsCommand } from './commands/events.js';
import { registerFunctionCommands } from './commands/functions.js';
import { registerInvokeCommand } from './commands/invoke.js';
import { registerLogsCommand } from './commands/logs.js';
import { registerQueuesCommand } from './commands/queues.js';
import { registerRulesCommand } from './commands/rules.js';
import { registerSendCommand } from './commands/send.js';
import { registerUpCommand } from './commands/up.js';
import { registerUrlCommand } from './commands/url.js';
import { errorLine, exitCodeOf } from './errors.js';

/** The package version (package.json next to bin/ and dist/). */
export function packageVersion(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'stratus' && pkg.version) return pkg.version;
    } catch {
      /* try the next place */
    }
  }
  return '0.0.0';
}

const EXAMPLES = `
Examples:
  stratus up --sample                         run a server on http://127.0.0.1:9070 with a sample function
  stratus deploy-function hello ./hello       create or update a function from a directory
  stratus invoke hello --payload '{"name":"you"}' --log
  stratus logs hello --since 1h --follow
  stratus ls

Every command that talks to a server takes --endpoint URL (default $STRATUS_ENDPOINT or
http://127.0.0.1:9070). Errors print one line on stderr and exit 1; usage errors exit 2.`;

/** The `stratus` command with every subcommand registered; commander errors are thrown, not exited. */
export function buildProgram(): Command {
  const program = new Command('stratus')
    .description('Stratus: a self-hosted, AWS Lambda-compatible serverless platform')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .showSuggestionAfterError()
    // One line per error, like every other failure: `stratus: unknown command 'x' (Did you mean ...?)`.
    .configureOutput({ outputError: (text, write) => write(`stratus: ${text.replace(/^error: /, '').trimEnd().replace(/\s*\n\s*/g, ' ')}\n`) })
    .addHelpText('after', EXAMPLES);
  registerUpCommand(program);
  registerDeployCommand(program);
  registerInvokeCommand(program);
  registerLogsCommand(program);
  registerFunctionCommands(program);
  registerUrlCommand(program);
  registerApiCommand(program);
  registerEventsCommand(program);
  registerQueuesCommand(program);
  registerSendCommand(program);
  registerRulesCommand(program);
  return program;
}

/**
 * Runs `stratus` with process.argv-style arguments and returns the exit status: 0, 1 for a
 * failure (printed as one `stratus: ...` line on stderr), 2 for a usage error. A command that
 * keeps running (`up`, `logs --follow`) returns 0 once it is running and exits on its own.
 */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    // Commander has printed its own message (or the help / version) already.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    console.error(`stratus: ${errorLine(e)}`);
    return exitCodeOf(e);
  }
}
