import { InvalidArgumentError, type Command } from 'commander';
import { defaultEndpoint } from './http.js';
import { parseTimeSpec, TIME_FORMS } from './time.js';

/** Adds the options every server-facing command takes: --endpoint (and --json unless told not to). */
export function serverOptions(cmd: Command, opts: { json?: boolean } = {}): Command {
  cmd.option('--endpoint <url>', 'Stratus endpoint (env STRATUS_ENDPOINT)', defaultEndpoint());
  if (opts.json !== false) cmd.option('--json', 'print JSON for scripts');
  return cmd;
}

/** Collects a repeatable option into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** An option parser for integers within [min, max]. */
export function intArg(min: number, max: number): (value: string) => number {
  return (value: string) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`Expected a whole number, got ${JSON.stringify(value)}.`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`Expected a number from ${min} to ${max}, got ${n}.`);
    return n;
  };
}

/** An option parser for --since/--until: epoch milliseconds. */
export function timeArg(value: string): number {
  const at = parseTimeSpec(value, Date.now());
  if (at === null) throw new InvalidArgumentError(`Expected ${TIME_FORMS}.`);
  return at;
}

/** `K=V` items -> { K: V } (V may be empty and may contain '='). */
export function parseKeyValues(items: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`Expected KEY=VALUE for ${what}, got ${JSON.stringify(item)}.`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** `--weight 2=0.1` items -> AdditionalVersionWeights { "2": 0.1 }. */
export function parseWeights(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [version, w] of Object.entries(parseKeyValues(items, '--weight'))) {
    if (!/^\d+$/.test(version)) throw new InvalidArgumentError(`--weight wants a published version number before '=', got ${JSON.stringify(version)}.`);
    const n = Number(w);
    if (w.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`--weight ${version}=${w}: the weight must be a number from 0 to 1 (0.1 sends 10% of invocations to version ${version}).`);
    out[version] = n;
  }
  return out;
}

/** A repeatable KEY=VALUE option accumulated into a record (validated as commander parses). */
export function keyValueArg(what: string): (value: string, previous?: Record<string, string>) => Record<string, string> {
  return (value, previous = {}) => ({ ...previous, ...parseKeyValues([value], what) });
}

/** A repeatable --weight VERSION=WEIGHT option accumulated into AdditionalVersionWeights. */
export function weightArg(value: string, previous: Record<string, number> = {}): Record<string, number> {
  return { ...previous, ...parseWeights([value]) };
}
