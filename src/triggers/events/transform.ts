import { Errors } from '../../core/errors.js';

/**
 * What a rule target receives: the whole event (default), a constant `Input`, the part of the
 * event at `InputPath`, or an `InputTransformer` (InputPathsMap + InputTemplate with <name>
 * placeholders and the predefined <aws.events.rule-arn>, <aws.events.rule-name>,
 * <aws.events.event> (without its detail), <aws.events.event.json> (the whole event),
 * <aws.events.event.ingestion-time>).
 */
export interface InputTransformer {
  InputPathsMap?: Record<string, string>;
  InputTemplate: string;
}

export interface TransformContext {
  ruleArn: string;
  ruleName: string;
  ingestionTime: string;
}

/** An InputPath, and an InputPathsMap key or path, are at most 256 characters (TargetInputPath, InputTransformerPathKey). */
const MAX_PATH = 256;

/** Validates one target's input settings; throws ValidationException. */
export function validateTargetInput(t: { Id: string; Input?: unknown; InputPath?: unknown; InputTransformer?: unknown }): void {
  const given = [t.Input, t.InputPath, t.InputTransformer].filter((x) => x !== undefined && x !== null).length;
  if (given > 1) throw Errors.validation(`Target ${t.Id}: Only one of Input, InputPath, or InputTransformer must be provided.`);
  if (t.Input !== undefined && t.Input !== null) {
    if (typeof t.Input !== 'string') throw Errors.validation(`Target ${t.Id}: Input must be a string`);
    try {
      JSON.parse(t.Input);
    } catch {
      throw Errors.validation(`Target ${t.Id}: Input is not valid JSON text`);
    }
  }
  if (t.InputPath !== undefined && t.InputPath !== null) {
    if (typeof t.InputPath !== 'string' || !parsePath(t.InputPath)) throw Errors.validation(`Target ${t.Id}: InputPath is not a valid JsonPath`);
    if (t.InputPath.length > MAX_PATH) throw Errors.validation(`Target ${t.Id}: InputPath is longer than ${MAX_PATH} characters`);
  }
  if (t.InputTransformer !== undefined && t.InputTransformer !== null) {
    const it = t.InputTransformer as InputTransformer;
    if (typeof it !== 'object' || typeof it.InputTemplate !== 'string' || it.InputTemplate.length === 0) {
      throw Errors.validation(`Target ${t.Id}: InputTransformer requires an InputTemplate`);
    }
    const paths = it.InputPathsMap ?? {};
    if (typeof paths !== 'object' || Array.isArray(paths)) throw Errors.validation(`Target ${t.Id}: InputPathsMap must be a map`);
    if (Object.keys(paths).length > 100) throw Errors.validation(`Target ${t.Id}: InputPathsMap has more than 100 entries`);
    for (const [k, p] of Object.entries(paths)) {
      if (!/^[A-Za-z0-9_-]+$/.test(k) || k.length > MAX_PATH || k.startsWith('aws.')) throw Errors.validation(`Target ${t.Id}: InputPathsMap key ${k} is not valid`);
      if (typeof p !== 'string' || !parsePath(p)) throw Errors.validation(`Target ${t.Id}: InputPathsMap value for ${k} is not a valid JsonPath`);
      if (p.length > MAX_PATH) throw Errors.validation(`Target ${t.Id}: InputPathsMap value for ${k} is longer than ${MAX_PATH} characters`);
    }
  }
}

/** The body a target receives for `event`. */
export function targetInput(
  t: Record<string, unknown>,
  event: Record<string, unknown>,
  ctx: TransformContext,
): string {
  if (typeof t.Input === 'string') return t.Input;
  if (typeof t.InputPath === 'string') {
    const v = select(event, t.InputPath);
    return JSON.stringify(v === undefined ? null : v);
  }
  if (t.InputTransformer) return transform(t.InputTransformer as InputTransformer, event, ctx);
  return JSON.stringify(event);
}

export function transform(it: InputTransformer, event: Record<string, unknown>, ctx: TransformContext): string {
  const values = new Map<string, unknown>();
  for (const [k, p] of Object.entries(it.InputPathsMap ?? {})) values.set(k, select(event, p));
  values.set('aws.events.rule-arn', ctx.ruleArn);
  values.set('aws.events.rule-name', ctx.ruleName);
  values.set('aws.events.event.ingestion-time', ctx.ingestionTime);
  // EventBridge's predefined variables: <aws.events.event> is the original event without its
  // detail field, <aws.events.event.json> the whole of it ("Transforming target input").
  const { detail: _detail, ...envelope } = event;
  values.set('aws.events.event', envelope);
  values.set('aws.events.event.json', event);
  const tpl = it.InputTemplate;
  const jsonMode = /^\s*[{["]/.test(tpl);
  let out = '';
  let inString = false;
  for (let i = 0; i < tpl.length; i++) {
    const c = tpl[i]!;
    if (c === '<') {
      const end = tpl.indexOf('>', i + 1);
      const key = end > 0 ? tpl.slice(i + 1, end) : '';
      if (end > 0 && values.has(key)) {
        const v = values.get(key);
        if (!jsonMode) out += rawText(v);
        else if (inString) out += JSON.stringify(inStringText(v)).slice(1, -1);
        else out += JSON.stringify(v === undefined ? null : v);
        i = end;
        continue;
      }
    }
    if (jsonMode) {
      if (c === '\\' && inString) {
        out += c + (tpl[i + 1] ?? '');
        i++;
        continue;
      }
      if (c === '"') inString = !inString;
    }
    out += c;
  }
  return out;
}

function rawText(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * A value placed inside a string of a JSON template. An object or array (a wildcard path's
 * matches, say) loses its inner quotes so that the string stays valid: "If a JSON path
 * references a JSON object or array, but the variable is referenced in a string, EventBridge
 * removes any internal quotes" (["a","b"] reads [a,b]).
 */
function inStringText(v: unknown): string {
  if (v === null || typeof v !== 'object') return rawText(v);
  const bare = (x: unknown): string => {
    if (typeof x === 'string') return x;
    if (Array.isArray(x)) return `[${x.map(bare).join(',')}]`;
    if (x !== null && typeof x === 'object') return `{${Object.entries(x).map(([k, y]) => `${k}:${bare(y)}`).join(',')}}`;
    return JSON.stringify(x);
  };
  return bare(v);
}

/** `*` (or `[*]`): every member of an object or element of an array. */
const WILDCARD: unique symbol = Symbol('*');
type Step = string | number | typeof WILDCARD;

/**
 * JsonPath subset EventBridge uses ("Amazon EventBridge input transformation": dot notation,
 * dashes, underscores, alphanumerics, array indices, wildcards): $, $.a.b, $.a[0], $.a.*,
 * $.a[*].b, $['a-b'], $.a["b"].
 */
export function parsePath(path: string): Step[] | undefined {
  if (!path.startsWith('$')) return undefined;
  const steps: Step[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i]!;
    if (c === '.') {
      const m = /^[^.[\]]+/.exec(path.slice(i + 1));
      if (!m) return undefined;
      steps.push(m[0] === '*' ? WILDCARD : m[0]);
      i += 1 + m[0].length;
    } else if (c === '[') {
      const m = /^\[(?:(\d+)|(\*)|'([^']*)'|"([^"]*)")\]/.exec(path.slice(i));
      if (!m) return undefined;
      steps.push(m[1] !== undefined ? Number(m[1]) : m[2] !== undefined ? WILDCARD : (m[3] ?? m[4])!);
      i += m[0].length;
    } else return undefined;
  }
  return steps;
}

/**
 * The value at `path`, or undefined when there is none. A path with a wildcard is indefinite:
 * it yields the array of every value it reaches (members that lack the rest of the path are
 * skipped), and one that reaches nothing is a path that does not exist in the event, so it
 * yields undefined like a missing simple path ("that variable isn't created").
 */
export function select(value: unknown, path: string): unknown {
  const steps = parsePath(path);
  if (!steps) return undefined;
  let cur: unknown[] = [value];
  for (const s of steps) cur = cur.flatMap((v) => member(v, s));
  if (!steps.includes(WILDCARD)) return cur[0];
  return cur.length > 0 ? cur : undefined;
}

/** What one step reaches from `v`: own members only (an array's `length` is no member). */
function member(v: unknown, s: Step): unknown[] {
  if (v === null || typeof v !== 'object') return [];
  if (s === WILDCARD) return Array.isArray(v) ? v : Object.values(v);
  const key = String(s);
  if (Array.isArray(v) && !/^\d+$/.test(key)) return [];
  return Object.prototype.hasOwnProperty.call(v, key) ? [(v as Record<string, unknown>)[key]] : [];
}
