import { LogsErrors } from './params.js';

/**
 * A CloudWatch Logs filter pattern, compiled: `terms` every matching event contains (the store
 * tests them, case-sensitive), and `match`, when the pattern needs more than that, the test of
 * each event's message.
 *
 * What is evaluated:
 * - terms: space-separated words or `"quoted phrases"` that must all appear; `?term` alternatives
 *   (at least one of them must appear), `-term` exclusions (none may), `%regex%` terms;
 * - JSON patterns on messages that are JSON objects (Lambda's JSON log format writes them):
 *   `{ $.level = "ERROR" }`, `!=` with `*` wildcards in strings (`= *` alone: the field exists,
 *   whatever its value), `%regex%` values, numeric `= != < <= > >=`,
 *   `IS NULL`, `IS TRUE`, `IS FALSE`, `EXISTS`, `NOT EXISTS`, `&&` and `||` with parentheses,
 *   selectors with `.name` and `[index]`;
 * - space-delimited patterns, `[ip, user, ..., status_code = 4* || status_code = 5*, bytes > 1000]`:
 *   the message is split into fields on runs of spaces and tabs, text in `"double quotes"` or
 *   `[square brackets]` counting as one field (without its quotes or brackets); each pattern field
 *   is a name (any value) or conditions on named fields: numeric `= != < <= > >=`, strings with `=`
 *   or `!=` and `*` wildcards, `%regex%` values, combined with `&&` and `||` (and parentheses).
 *   `...` stands for any number of fields, anywhere; without it the count of fields must match.
 * A pattern that cannot be parsed is an InvalidParameterException, never matched some other way.
 */
export interface CompiledFilter {
  terms: string[];
  match: ((message: string) => boolean) | null;
}

export function compileFilterPattern(pattern: string | undefined): CompiledFilter {
  const p = (pattern ?? '').trim();
  if (p === '') return { terms: [], match: null };
  if (p.startsWith('[')) return { terms: [], match: compileDelimited(p) };
  if (p.startsWith('{')) return { terms: [], match: compileJson(p) };
  return compileTerms(p);
}

function compileTerms(p: string): CompiledFilter {
  const required: string[] = [];
  const anyOf: string[] = [];
  const none: string[] = [];
  const regexes: RegExp[] = [];
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (/\s/.test(c)) { i++; continue; }
    // ?term and -term may be quoted too: ?"two words".
    let kind: 'required' | 'any' | 'none' = 'required';
    if ((c === '?' || c === '-') && i + 1 < p.length && !/\s/.test(p[i + 1]!)) {
      kind = c === '?' ? 'any' : 'none';
      i++;
    }
    let term: string;
    if (p[i] === '"') {
      const q = readQuoted(p, i);
      term = q.text;
      i = q.end;
    } else {
      let j = i;
      // %regex% runs to its closing %, spaces included.
      const close = p[i] === '%' ? p.indexOf('%', i + 1) : -1;
      if (close > i + 1) j = close + 1;
      else while (j < p.length && !/\s/.test(p[j]!)) j++;
      term = p.slice(i, j);
      i = j;
      if (term.length > 2 && term.startsWith('%') && term.endsWith('%')) {
        let re: RegExp;
        try { re = new RegExp(term.slice(1, -1)); } catch (e) { throw LogsErrors.invalidParameter(`Invalid filter pattern: ${(e as Error).message}`); }
        if (kind === 'required') { regexes.push(re); continue; }
        throw unsupported(p, 'a regular expression term cannot be an alternative or an exclusion');
      }
    }
    if (term === '') continue;
    (kind === 'required' ? required : kind === 'any' ? anyOf : none).push(term);
  }
  if (!anyOf.length && !none.length && !regexes.length) return { terms: required, match: null };
  return {
    terms: required,
    match: (m) => (anyOf.length === 0 || anyOf.some((t) => m.includes(t))) && !none.some((t) => m.includes(t)) && regexes.every((r) => r.test(m)),
  };
}

function readQuoted(p: string, at: number): { text: string; end: number } {
  let text = '';
  let j = at + 1;
  while (j < p.length) {
    const d = p[j]!;
    if (d === '\\' && j + 1 < p.length) { text += p[j + 1]; j += 2; continue; }
    if (d === '"') return { text, end: j + 1 };
    text += d;
    j++;
  }
  throw LogsErrors.invalidParameter(`Invalid filter pattern: unterminated quoted term in ${JSON.stringify(p)}`);
}

// ---- JSON patterns ----------------------------------------------------------------------------

type Token = { t: 'punct' | 'op' | 'sel' | 'str' | 'word' | 'regex'; v: string };

function tokenize(p: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (/\s/.test(c)) { i++; continue; }
    const two = p.slice(i, i + 2);
    if (two === '&&' || two === '||') { out.push({ t: 'punct', v: two }); i += 2; continue; }
    if (two === '!=' || two === '<=' || two === '>=') { out.push({ t: 'op', v: two }); i += 2; continue; }
    if (c === '=' || c === '<' || c === '>') { out.push({ t: 'op', v: c }); i++; continue; }
    if ('{}()'.includes(c)) { out.push({ t: 'punct', v: c }); i++; continue; }
    if (c === '"') {
      const q = readQuoted(p, i);
      out.push({ t: 'str', v: q.text });
      i = q.end;
      continue;
    }
    if (c === '%') {
      // A regular expression as the value: { $.level = %ERR.*% }.
      const end = p.indexOf('%', i + 1);
      if (end < 0) throw invalidJson(p);
      out.push({ t: 'regex', v: p.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    let j = i;
    while (j < p.length && !/[\s{}()=<>!&|"]/.test(p[j]!)) j++;
    if (j === i) throw invalidJson(p);
    const w = p.slice(i, j);
    out.push({ t: w.startsWith('$') ? 'sel' : 'word', v: w });
    i = j;
  }
  return out;
}

type Test = (doc: unknown) => boolean;

/**
 * `a || b && (c)`: the boolean structure JSON patterns and space-delimited field conditions
 * share, from token `start`; `atom` reads one comparison with `take`. Returns the test and where
 * it stopped.
 */
function booleanExpression<D>(
  toks: Token[], start: number, invalid: () => Error, atom: (take: (v?: string) => Token) => (d: D) => boolean,
): { test: (d: D) => boolean; end: number } {
  let k = start;
  const peek = () => toks[k];
  const take = (v?: string): Token => {
    const tok = toks[k];
    if (!tok || (v !== undefined && tok.v !== v)) throw invalid();
    k++;
    return tok;
  };
  const expr = (): ((d: D) => boolean) => {
    const parts = [conj()];
    while (peek()?.v === '||') { take('||'); parts.push(conj()); }
    return parts.length === 1 ? parts[0]! : (d) => parts.some((f) => f(d));
  };
  const conj = (): ((d: D) => boolean) => {
    const parts = [factor()];
    while (peek()?.v === '&&') { take('&&'); parts.push(factor()); }
    return parts.length === 1 ? parts[0]! : (d) => parts.every((f) => f(d));
  };
  const factor = (): ((d: D) => boolean) => {
    if (peek()?.v === '(') {
      take('(');
      const e = expr();
      take(')');
      return e;
    }
    return atom(take);
  };
  const test = expr();
  return { test, end: k };
}

function compileJson(p: string): (message: string) => boolean {
  const toks = tokenize(p);
  const invalid = () => invalidJson(p);
  if (toks[0]?.v !== '{') throw invalid();
  const { test, end } = booleanExpression<unknown>(toks, 1, invalid, (take) => {
    const sel = take();
    if (sel.t !== 'sel') throw invalid();
    const path = parseSelector(sel.v, p);
    const next = take();
    if (next.t === 'word' && next.v === 'IS') {
      const what = take().v;
      if (what === 'NULL') return (d) => get(d, path) === null;
      if (what === 'TRUE') return (d) => get(d, path) === true;
      if (what === 'FALSE') return (d) => get(d, path) === false;
      throw invalid();
    }
    if (next.t === 'word' && next.v === 'EXISTS') return (d) => get(d, path) !== undefined;
    if (next.t === 'word' && next.v === 'NOT') {
      take('EXISTS');
      return (d) => get(d, path) === undefined;
    }
    if (next.t !== 'op') throw invalid();
    const value = take();
    if (value.t !== 'str' && value.t !== 'word' && value.t !== 'regex') throw invalid();
    return comparison(path, next.v, value, p);
  });
  if (toks[end]?.v !== '}' || end + 1 !== toks.length) throw invalid();
  return (message) => {
    let doc: unknown;
    try { doc = JSON.parse(message); } catch { return false; }
    return doc !== null && typeof doc === 'object' && test(doc);
  };
}

type Step = string | number;

function parseSelector(s: string, p: string): Step[] {
  const steps: Step[] = [];
  const re = /\.([^.[\]]+)|\[(\d+)\]/y;
  let i = 1;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) throw invalidJson(p);
    steps.push(m[1] !== undefined ? m[1] : Number(m[2]));
    i = re.lastIndex;
  }
  if (steps.length === 0) throw invalidJson(p);
  return steps;
}

function get(doc: unknown, path: Step[]): unknown {
  let v: unknown = doc;
  for (const step of path) {
    if (v === null || typeof v !== 'object') return undefined;
    if (typeof step === 'number') {
      if (!Array.isArray(v)) return undefined;
      v = v[step];
    } else {
      if (Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, step)) return undefined;
      v = (v as Record<string, unknown>)[step];
    }
  }
  return v;
}

/** `a OP n` for the numeric operators of both pattern kinds. */
const NUMERIC: Record<string, (a: number, n: number) => boolean> = {
  '=': (a, n) => a === n, '!=': (a, n) => a !== n, '<': (a, n) => a < n, '<=': (a, n) => a <= n, '>': (a, n) => a > n, '>=': (a, n) => a >= n,
};

/** The number a comparison's value is (an unquoted numeric word), or undefined: then it compares strings. */
function numberOf(value: Token): number | undefined {
  const n = value.t === 'word' && value.v !== '' ? Number(value.v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** Strings compare with = and != only. */
function checkStringOp(op: string, p: string): void {
  if (op !== '=' && op !== '!=') throw unsupported(p, `${op} compares numbers only`);
}

function regexOf(value: Token, p: string): RegExp {
  try { return new RegExp(value.v, 's'); } catch { throw unsupported(p, `%${value.v}% is not a valid regular expression`); }
}

/** A string value: equal, with * matching any run of characters. */
function globOf(text: string): RegExp {
  return new RegExp(`^${text.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
}

function comparison(path: Step[], op: string, value: Token, p: string): Test {
  const n = numberOf(value);
  if (n !== undefined) {
    const f = NUMERIC[op]!;
    return (d) => {
      const a = get(d, path);
      return typeof a === 'number' && f(a, n);
    };
  }
  checkStringOp(op, p);
  if (value.t === 'regex') {
    // A regular expression: found in a string (or a number's text), as a %regex% term in a message.
    const re = regexOf(value, p);
    return (d) => {
      const a = get(d, path);
      if (typeof a !== 'string' && typeof a !== 'number') return false;
      return re.test(String(a)) === (op === '=');
    };
  }
  // `= *`: the field exists, whatever its value (CloudWatch's exists(); CDK writes it so for numbers).
  if (value.t === 'word' && /^\*+$/.test(value.v)) return op === '=' ? (d) => get(d, path) !== undefined : () => false;
  const glob = globOf(value.v);
  return (d) => {
    const a = get(d, path);
    if (typeof a !== 'string') return false;
    return glob.test(a) === (op === '=');
  };
}

// ---- space-delimited patterns ----------------------------------------------------------------

/** A pattern field's conditions, on that field's text. */
type FieldTest = (text: string) => boolean;
type PatternField = { ellipsis: true } | { ellipsis: false; test: FieldTest | null };

function compileDelimited(p: string): (message: string) => boolean {
  if (!p.endsWith(']')) throw invalidDelimited(p);
  const parts = splitPatternFields(p.slice(1, -1), p);
  const fields: PatternField[] = parts.map((part) => {
    const toks = tokenize(part);
    if (toks.length === 1 && toks[0]!.t === 'word' && toks[0]!.v === '...') return { ellipsis: true };
    if (toks.length === 0) throw invalidDelimited(p);
    // The field is named by its first condition's name (`status_code = 4* || status_code = 5*`),
    // or is just a name. Its conditions are on it alone: each field is tested on its own value.
    const first = toks.find((t) => t.v !== '(');
    if (!first || first.t !== 'word' || !/^[A-Za-z_][\w-]*$/.test(first.v)) throw invalidDelimited(p);
    const test = toks.length > 1 ? compileFieldConditions(toks, first.v, p) : null;
    return { ellipsis: false, test };
  });
  if (fields.length === 0) throw invalidDelimited(p);

  // Lining the message's fields up with the pattern's, `...` taking any number of them, as a glob
  // is matched: can[j] says whether the pattern's fields so far match the message's first j. Time
  // is the product of the two counts, whatever the number of `...` (trying every alignment was
  // exponential in it, and a filter runs on the server's one thread).
  return (message) => {
    const values = splitMessageFields(message);
    const n = values.length;
    let can: boolean[] = new Array<boolean>(n + 1).fill(false);
    can[0] = true;
    for (const f of fields) {
      const next = new Array<boolean>(n + 1).fill(false);
      if (f.ellipsis) {
        let any = false;
        for (let j = 0; j <= n; j++) next[j] = any = any || can[j]!;
      } else {
        let live = false;
        for (let j = 1; j <= n; j++) {
          if (can[j - 1] && (f.test === null || f.test(values[j - 1]!))) next[j] = live = true;
        }
        if (!live) return false;
      }
      can = next;
    }
    return can[n]!;
  };
}

/** The pattern's fields, split on commas outside "quotes" and %regexes%. */
function splitPatternFields(body: string, p: string): string[] {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  while (i < body.length) {
    const c = body[i]!;
    if (c === '"') {
      const q = readQuoted(body, i);
      cur += body.slice(i, q.end);
      i = q.end;
      continue;
    }
    if (c === '%') {
      const end = body.indexOf('%', i + 1);
      if (end < 0) throw invalidDelimited(p);
      cur += body.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    if (c === ',') { out.push(cur.trim()); cur = ''; i++; continue; }
    cur += c;
    i++;
  }
  out.push(cur.trim());
  return out;
}

/** A message's fields: runs of spaces and tabs split them; "quoted" and [bracketed] text is one field, without its delimiters. */
function splitMessageFields(message: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < message.length) {
    const c = message[i]!;
    if (/\s/.test(c)) { i++; continue; }
    const close = c === '"' ? '"' : c === '[' ? ']' : null;
    if (close !== null) {
      const end = message.indexOf(close, i + 1);
      // An unclosed quote or bracket runs to the end of the message.
      const stop = end < 0 ? message.length : end;
      out.push(message.slice(i + 1, stop).trim());
      i = stop + 1;
      continue;
    }
    let j = i;
    while (j < message.length && !/\s/.test(message[j]!)) j++;
    out.push(message.slice(i, j));
    i = j;
  }
  return out;
}

function compileFieldConditions(toks: Token[], name: string, p: string): FieldTest {
  const invalid = () => invalidDelimited(p);
  const { test, end } = booleanExpression<string>(toks, 0, invalid, (take) => {
    const field = take();
    if (field.t !== 'word' || field.v !== name) throw invalid();
    const op = take();
    if (op.t !== 'op') throw invalid();
    const value = take();
    if (value.t !== 'str' && value.t !== 'word' && value.t !== 'regex') throw invalid();
    return valueComparison(op.v, value, p);
  });
  if (end !== toks.length) throw invalid();
  return test;
}

/** A field's text against `op value`: numerically when the value is a number, else as a string. */
function valueComparison(op: string, value: Token, p: string): (text: string) => boolean {
  const n = numberOf(value);
  if (n !== undefined) {
    const f = NUMERIC[op]!;
    // A field that is not a number (Apache's `-` for no bytes) fails every numeric condition.
    return (text) => text.trim() !== '' && Number.isFinite(Number(text)) && f(Number(text), n);
  }
  checkStringOp(op, p);
  const re = value.t === 'regex' ? regexOf(value, p) : globOf(value.v);
  return (text) => re.test(text) === (op === '=');
}

function invalidDelimited(p: string) {
  return LogsErrors.invalidParameter(`Invalid filter pattern ${JSON.stringify(p)}: not a space-delimited pattern (e.g. [ip, user, ..., status_code = 404, bytes]).`);
}

function invalidJson(p: string) {
  return LogsErrors.invalidParameter(`Invalid filter pattern ${JSON.stringify(p)}: not a JSON pattern (e.g. { $.level = "ERROR" }).`);
}

function unsupported(p: string, why: string) {
  return LogsErrors.invalidParameter(`Invalid filter pattern ${JSON.stringify(p)}: ${why}.`);
}
