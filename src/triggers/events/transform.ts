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
      if (!/^[A-Za-z0-9_-]+$/.test(k) || k.startsWith('aws.')) throw Errors.validation(`Target ${t.Id}: InputPathsMap key ${k} is not valid`);
      if (typeof p !== 'string' || !parsePath(p)) throw Errors.validation(`Target ${t.Id}: InputPathsMap value for ${k} is not a valid JsonPath`);
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
        else if (inString) out += JSON.stringify(rawText(v)).slice(1, -1);
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

type Step = string | number;

/** JsonPath subset EventBridge uses: $, $.a.b, $.a[0], $['a-b'], $.a["b"]. */
export function parsePath(path: string): Step[] | undefined {
  if (!path.startsWith('$')) return undefined;
  const steps: Step[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i]!;
    if (c === '.') {
      const m = /^[^.[\]]+/.exec(path.slice(i + 1));
      if (!m) return undefined;
      steps.push(m[0]);
      i += 1 + m[0].length;
    } else if (c === '[') {
      const m = /^\[(?:(\d+)|'([^']*)'|"([^"]*)")\]/.exec(path.slice(i));
      if (!m) return undefined;
      steps.push(m[1] !== undefined ? Number(m[1]) : (m[2] ?? m[3])!);
      i += m[0].length;
    } else return undefined;
  }
  return steps;
}

export function select(value: unknown, path: string): unknown {
  const steps = parsePath(path);
  if (!steps) return undefined;
  let cur: unknown = value;
  for (const s of steps) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[s];
  }
  return cur;
}
