import fs from 'node:fs';
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { LambdaClient } from '../lambda.js';
import { serverOptions } from '../options.js';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** --payload: inline JSON, `@file`, or `@-` (standard input); checked to be JSON before sending. */
export async function readPayload(spec: string): Promise<Buffer> {
  let bytes: Buffer;
  if (spec.startsWith('@')) {
    const file = spec.slice(1);
    if (file === '-') bytes = await readStdin();
    else {
      try {
        bytes = fs.readFileSync(file);
      } catch (e) {
        throw new CliError(`cannot read the payload file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
  } else {
    bytes = Buffer.from(spec, 'utf8');
  }
  const text = bytes.toString('utf8');
  if (text.trim() === '') return Buffer.from('{}');
  try {
    JSON.parse(text);
  } catch (e) {
    throw new CliError(`the payload${spec.startsWith('@') ? ` in ${spec.slice(1)}` : ''} is not valid JSON: ${(e as Error).message}`);
  }
  return bytes;
}

/** `errorType: errorMessage` of a function error payload, or the raw text when it is not one. */
export function describeFunctionError(payload: Buffer): string {
  const text = payload.toString('utf8');
  try {
    const e = JSON.parse(text) as { errorType?: unknown; errorMessage?: unknown };
    if (e && typeof e === 'object') {
      const type = typeof e.errorType === 'string' ? e.errorType : 'Error';
      return typeof e.errorMessage === 'string' && e.errorMessage ? `${type}: ${e.errorMessage}` : type;
    }
  } catch {
    /* fall through */
  }
  return text.slice(0, 200) || 'no error payload';
}

interface InvokeOptions {
  endpoint: string;
  json?: boolean;
  payload: string;
  qualifier?: string;
  async?: boolean;
  log?: boolean;
}

async function invoke(name: string, opts: InvokeOptions): Promise<void> {
  // Lambda returns no log tail for an Event invocation: --log would be silently ignored.
  if (opts.async && opts.log) throw new CliError(`--log and --async do not go together: an asynchronous invocation returns no log (stratus logs ${name} shows it)`, 2);
  const lambda = new LambdaClient(opts.endpoint);
  const payload = await readPayload(opts.payload);
  const r = await lambda.invoke(name, { payload, qualifier: opts.qualifier, async: opts.async, tail: opts.log });
  if (opts.async) {
    if (opts.json) console.log(JSON.stringify({ StatusCode: r.statusCode, RequestId: r.requestId ?? null }));
    else console.log(`accepted: ${name} runs asynchronously, request id ${r.requestId ?? '(none)'} (stratus events ${name} ${r.requestId ?? ''} --follow shows its progress)`);
    return;
  }
  const text = r.payload.toString('utf8');
  if (opts.json) {
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON: keep the text */
    }
    console.log(JSON.stringify({
      StatusCode: r.statusCode,
      ExecutedVersion: r.executedVersion,
      FunctionError: r.functionError,
      RequestId: r.requestId,
      LogResult: r.logTail,
      Payload: parsed,
    }, null, 2));
  } else {
    if (r.logTail) process.stderr.write(r.logTail.endsWith('\n') ? r.logTail : `${r.logTail}\n`);
    if (r.executedVersion && r.executedVersion !== '$LATEST') console.error(`executed version ${r.executedVersion}`);
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
  if (r.functionError) {
    throw new CliError(`function ${name} failed with ${describeFunctionError(r.payload)} (${r.functionError})`);
  }
}

/** `stratus invoke NAME`: Invoke (RequestResponse, or Event with --async). */
export function registerInvokeCommand(program: Command): void {
  const cmd = program
    .command('invoke')
    .description('invoke a function and print its response (exit status 1 when the function fails)')
    .argument('<name>', 'function name or ARN')
    .option('--payload <json|@file>', 'the event: JSON text, @path to read it from a file, or @- for standard input', '{}')
    .option('--qualifier <version|alias>', 'version or alias to invoke')
    .option('--async', 'InvocationType Event: queue the event, print its request id')
    .option('--log', 'print the tail of the execution log (X-Amz-Log-Type Tail) on stderr');
  serverOptions(cmd).action(async (name: string, opts: InvokeOptions) => invoke(name, opts));
}
