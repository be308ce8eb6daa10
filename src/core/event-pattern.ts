import { StratusError } from './errors.js';

/**
 * EventBridge event patterns: parsing/validation (InvalidEventPatternException) and matching.
 *
 * A pattern is a JSON object whose keys mirror the event's fields. A leaf is an array of
 * matchers (any one may match); a nested object matches the nested event object. Supported
 * matchers: literal string / number / boolean / null (exact), prefix, suffix (both optionally
 * with equals-ignore-case), equals-ignore-case, wildcard, anything-but (a value, a list, or
 * prefix / suffix / equals-ignore-case / wildcard), numeric ranges, exists, cidr, and `$or` at
 * any object level. Event arrays match when any element matches; an array of objects matches a
 * nested pattern when one element matches all its fields (array consistency). Every matcher but
 * `exists: false` needs the field to be present as a leaf value.
 */

export function invalidPattern(reason: string): StratusError {
  return new StratusError('InvalidEventPatternException', 400, `Event pattern is not valid. Reason: ${reason}`);
}

type Leaf = string | number | boolean | null;
type LeafTest = (v: Leaf) => boolean;

interface FieldRule {
  key: string;
  /** Leaf matchers (OR), or undefined when the rule is a nested object. */
  tests?: LeafTest[];
  existsFalse?: boolean;
  existsTrue?: boolean;
  nested?: CompiledPattern;
}

export interface CompiledPattern {
  fields: FieldRule[];
  /** Each entry is one `$or`: at least one alternative must match. */
  ors: CompiledPattern[][];
}

/** Parses and validates a pattern given as JSON text. Throws InvalidEventPatternException. */
export function parseEventPattern(text: string): CompiledPattern {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw invalidPattern(`Filter is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(json)) throw invalidPattern('Filter is not an object');
  return compileObject(json, '');
}

/** True when the pattern text is valid. */
export function isValidEventPattern(text: string): boolean {
  try {
    parseEventPattern(text);
    return true;
  } catch {
    return false;
  }
}

/** Matches a compiled pattern against an event (already parsed JSON). */
export function matchesPattern(p: CompiledPattern, event: unknown): boolean {
  return matchObject(p, event);
}

/** Convenience: parse and match in one go. */
export function testEventPattern(patternText: string, event: unknown): boolean {
  return matchesPattern(parseEventPattern(patternText), event);
}

// ---------------------------------------------------------------- compile

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function compileObject(obj: Record<string, unknown>, path: string): CompiledPattern {
  const keys = Object.keys(obj);
  if (keys.length === 0) throw invalidPattern(`Empty objects are not allowed${path ? ` at "${path}"` : ''}`);
  const out: CompiledPattern = { fields: [], ors: [] };
  for (const key of keys) {
    const value = obj[key];
    const here = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 1 || !value.every(isPlainObject)) {
        throw invalidPattern(`"$or" must be an array of objects at "${here}"`);
      }
      out.ors.push((value as Record<string, unknown>[]).map((alt) => compileObject(alt, path)));
      continue;
    }
    if (Array.isArray(value)) {
      if (value.length === 0) throw invalidPattern(`Empty arrays are not allowed at "${here}"`);
      const rule: FieldRule = { key, tests: [] };
      for (const m of value) compileMatcher(m, here, rule);
      out.fields.push(rule);
    } else if (isPlainObject(value)) {
      out.fields.push({ key, nested: compileObject(value, here) });
    } else {
      throw invalidPattern(`"${here}" must be an object or an array`);
    }
  }
  return out;
}

function compileMatcher(m: unknown, here: string, rule: FieldRule): void {
  const tests = rule.tests!;
  if (m === null || typeof m === 'string' || typeof m === 'boolean') {
    tests.push((v) => v === m);
    return;
  }
  if (typeof m === 'number') {
    if (!Number.isFinite(m)) throw invalidPattern(`Invalid number at "${here}"`);
    tests.push((v) => v === m);
    return;
  }
  if (Array.isArray(m)) throw invalidPattern(`Nested arrays are not allowed at "${here}"`);
  if (!isPlainObject(m)) throw invalidPattern(`Unrecognized match at "${here}"`);
  const ops = Object.keys(m);
  if (ops.length !== 1) throw invalidPattern(`Match objects must have exactly one operator at "${here}"`);
  const op = ops[0]!;
  const arg = m[op];
  switch (op) {
    case 'exists':
      if (typeof arg !== 'boolean') throw invalidPattern(`exists match pattern must be either true or false at "${here}"`);
      if (arg) rule.existsTrue = true;
      else rule.existsFalse = true;
      return;
    case 'prefix':
    case 'suffix':
      tests.push(compileAffix(op, arg, here));
      return;
    case 'equals-ignore-case': {
      if (typeof arg !== 'string') throw invalidPattern(`equals-ignore-case match pattern must be a string at "${here}"`);
      const want = arg.toLowerCase();
      tests.push((v) => typeof v === 'string' && v.toLowerCase() === want);
      return;
    }
    case 'wildcard': {
      if (typeof arg !== 'string') throw invalidPattern(`wildcard match pattern must be a string at "${here}"`);
      const re = wildcardRegex(arg, here);
      tests.push((v) => typeof v === 'string' && re.test(v));
      return;
    }
    case 'anything-but':
      tests.push(compileAnythingBut(arg, here));
      return;
    case 'numeric':
      tests.push(compileNumeric(arg, here));
      return;
    case 'cidr':
      tests.push(compileCidr(arg, here));
      return;
    default:
      throw invalidPattern(`Unrecognized match type ${op} at "${here}"`);
  }
}

function compileAffix(op: 'prefix' | 'suffix', arg: unknown, here: string): LeafTest {
  let ignoreCase = false;
  let s: unknown = arg;
  if (isPlainObject(arg)) {
    const keys = Object.keys(arg);
    if (keys.length !== 1 || keys[0] !== 'equals-ignore-case') {
      throw invalidPattern(`${op} match pattern must be a string or an equals-ignore-case object at "${here}"`);
    }
    s = arg['equals-ignore-case'];
    ignoreCase = true;
  }
  if (typeof s !== 'string') throw invalidPattern(`${op} match pattern must be a string at "${here}"`);
  const want = ignoreCase ? s.toLowerCase() : s;
  return (v) => {
    if (typeof v !== 'string') return false;
    const x = ignoreCase ? v.toLowerCase() : v;
    return op === 'prefix' ? x.startsWith(want) : x.endsWith(want);
  };
}

function compileAnythingBut(arg: unknown, here: string): LeafTest {
  if (typeof arg === 'string' || typeof arg === 'number') {
    return (v) => v !== arg;
  }
  if (Array.isArray(arg)) {
    if (arg.length === 0) throw invalidPattern(`Empty arrays are not allowed in anything-but at "${here}"`);
    if (!arg.every((x) => typeof x === 'string' || typeof x === 'number')) {
      throw invalidPattern(`Inside anything but list, start|null|boolean is not supported at "${here}"`);
    }
    // event-ruler compiles the list as all strings or all numbers (ComparableNumber), not both.
    if (arg.some((x) => typeof x === 'string') && arg.some((x) => typeof x === 'number')) {
      throw invalidPattern(`Inside anything but list, either all values are number or string, mixed type is not supported at "${here}"`);
    }
    const set = new Set<unknown>(arg);
    return (v) => !set.has(v);
  }
  if (isPlainObject(arg)) {
    const keys = Object.keys(arg);
    if (keys.length !== 1) throw invalidPattern(`anything-but object must have exactly one operator at "${here}"`);
    const op = keys[0]!;
    const x = arg[op];
    const strings = (): string[] => {
      const list = Array.isArray(x) ? x : [x];
      if (list.length === 0 || !list.every((s) => typeof s === 'string')) {
        throw invalidPattern(`anything-but ${op} must be a string or a list of strings at "${here}"`);
      }
      return list as string[];
    };
    // An empty affix here would match nothing; event-ruler refuses it (an empty prefix or suffix
    // of its own is valid: it matches every string).
    const affix = (): string => {
      if (typeof x !== 'string') throw invalidPattern(`${op} match pattern must be a string at "${here}"`);
      if (x === '') throw invalidPattern(`Null prefix/suffix not allowed at "${here}"`);
      return x;
    };
    switch (op) {
      case 'prefix': {
        const p = affix();
        return (v) => typeof v === 'string' && !v.startsWith(p);
      }
      case 'suffix': {
        const p = affix();
        return (v) => typeof v === 'string' && !v.endsWith(p);
      }
      case 'equals-ignore-case': {
        const set = new Set(strings().map((s) => s.toLowerCase()));
        return (v) => typeof v === 'string' && !set.has(v.toLowerCase());
      }
      case 'wildcard': {
        const res = strings().map((s) => wildcardRegex(s, here));
        return (v) => typeof v === 'string' && !res.some((re) => re.test(v));
      }
      default:
        throw invalidPattern(`Unsupported anything-but pattern: ${op} at "${here}"`);
    }
  }
  throw invalidPattern(`Value of anything-but must be an array or single string/number value at "${here}"`);
}

const NUMERIC_LIMIT = 5e9;

function compileNumeric(arg: unknown, here: string): LeafTest {
  if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0 || arg.length > 4) {
    throw invalidPattern(`Value of numeric must be an array of operator/number pairs at "${here}"`);
  }
  const checks: Array<(n: number) => boolean> = [];
  let lower: number | undefined;
  let sawLower = false;
  let sawUpper = false;
  for (let i = 0; i < arg.length; i += 2) {
    const op = arg[i];
    const n = arg[i + 1];
    if (typeof n !== 'number' || !Number.isFinite(n)) throw invalidPattern(`Value of ${String(op)} must be a number at "${here}"`);
    if (n < -NUMERIC_LIMIT || n > NUMERIC_LIMIT) {
      throw invalidPattern(`Value of numeric must be between -5.0E9 and 5.0E9 inclusive at "${here}"`);
    }
    switch (op) {
      case '=':
        if (arg.length !== 2) throw invalidPattern(`"=" must be the only operator in numeric at "${here}"`);
        checks.push((v) => v === n);
        break;
      case '>':
      case '>=':
        if (sawLower || sawUpper) throw invalidPattern(`Bad numeric range at "${here}"`);
        sawLower = true;
        lower = n;
        checks.push(op === '>' ? (v) => v > n : (v) => v >= n);
        break;
      case '<':
      case '<=':
        if (sawUpper) throw invalidPattern(`Bad numeric range at "${here}"`);
        if (lower !== undefined && n <= lower) throw invalidPattern(`Bottom must be less than top at "${here}"`);
        sawUpper = true;
        checks.push(op === '<' ? (v) => v < n : (v) => v <= n);
        break;
      default:
        throw invalidPattern(`Unrecognized numeric range operator: ${String(op)} at "${here}"`);
    }
  }
  return (v) => typeof v === 'number' && checks.every((c) => c(v));
}

function wildcardRegex(s: string, here: string): RegExp {
  if (s.includes('**')) throw invalidPattern(`Consecutive wildcard characters are not allowed at "${here}"`);
  let re = '^';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      const next = s[i + 1];
      if (next !== '*' && next !== '\\') throw invalidPattern(`Invalid escape in wildcard at "${here}"`);
      re += escapeRegex(next);
      i++;
    } else if (c === '*') {
      re += '[\\s\\S]*';
    } else {
      re += escapeRegex(c);
    }
  }
  return new RegExp(re + '$');
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

// ---------------------------------------------------------------- cidr

function compileCidr(arg: unknown, here: string): LeafTest {
  if (typeof arg !== 'string') throw invalidPattern(`cidr match pattern must be a string at "${here}"`);
  const slash = arg.indexOf('/');
  const ip = parseIp(slash < 0 ? arg : arg.slice(0, slash));
  if (!ip) throw invalidPattern(`Malformed CIDR, one '/' required at "${here}"`);
  const bitsTotal = ip.v6 ? 128 : 32;
  const prefix = slash < 0 ? bitsTotal : Number(arg.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bitsTotal || (slash >= 0 && !/^\d+$/.test(arg.slice(slash + 1)))) {
    throw invalidPattern(`Malformed CIDR prefix at "${here}"`);
  }
  const shift = BigInt(bitsTotal - prefix);
  const net = ip.value >> shift;
  return (v) => {
    if (typeof v !== 'string') return false;
    const x = parseIp(v);
    return !!x && x.v6 === ip.v6 && x.value >> shift === net;
  };
}

/** Parses an IPv4 or IPv6 address into a BigInt. Pure (no node:net). */
export function parseIp(s: string): { v6: boolean; value: bigint } | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    let value = 0n;
    for (const part of s.split('.')) {
      const n = Number(part);
      if (n > 255) return undefined;
      value = (value << 8n) | BigInt(n);
    }
    return { v6: false, value };
  }
  if (!s.includes(':') || !/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const expand = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    const parts = h.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIp(p);
        if (!v4 || v4.v6) return undefined;
        out.push(Number(v4.value >> 16n), Number(v4.value & 0xffffn));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = expand(halves[0]!);
  const tail = halves.length === 2 ? expand(halves[1]!) : [];
  if (!head || !tail) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return undefined;
    groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return { v6: true, value };
}

// ---------------------------------------------------------------- match

function matchObject(p: CompiledPattern, value: unknown): boolean {
  if (Array.isArray(value)) {
    // An array of objects: one element must satisfy the whole nested pattern.
    for (const el of value) if (matchObject(p, el)) return true;
    return value.length === 0 ? matchObject(p, {}) : false;
  }
  const obj = isPlainObject(value) ? value : {};
  for (const f of p.fields) {
    if (!matchField(f, obj[f.key])) return false;
  }
  for (const alternatives of p.ors) {
    if (!alternatives.some((alt) => matchObject(alt, obj))) return false;
  }
  return true;
}

function matchField(f: FieldRule, value: unknown): boolean {
  if (f.nested) return matchObject(f.nested, value);
  const leaves: Leaf[] = [];
  collectLeaves(value, leaves);
  if (leaves.length === 0) return !!f.existsFalse;
  if (f.existsTrue) return true;
  for (const v of leaves) for (const t of f.tests!) if (t(v)) return true;
  return false;
}

function collectLeaves(value: unknown, out: Leaf[]): void {
  if (value === undefined) return;
  if (Array.isArray(value)) {
    for (const el of value) collectLeaves(el, out);
    return;
  }
  if (typeof value === 'object' && value !== null) return;
  out.push(value as Leaf);
}
