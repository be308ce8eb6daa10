import { LogsErrors } from './params.js';

/**
 * CloudWatch Logs filter patterns, the unstructured part: space-separated terms that must all
 * appear (case-sensitive), `"quoted phrases"` for terms with spaces or punctuation, and an
 * empty pattern for everything. Returns the terms. Patterns Stratus does not evaluate (JSON
 * `{ $.x = 1 }`, space-delimited `[a, b]`, `?term` alternatives, `-term` exclusions, `%regex%`)
 * are refused with InvalidParameterException rather than silently matched some other way.
 */
export function parseFilterPattern(pattern: string | undefined): string[] {
  const p = (pattern ?? '').trim();
  if (p === '') return [];
  if (p.startsWith('{') || p.startsWith('[')) {
    throw unsupported(p, 'JSON and space-delimited filter patterns are not supported; use plain terms or "quoted phrases"');
  }
  const terms: string[] = [];
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"') {
      let term = '';
      let j = i + 1;
      let closed = false;
      while (j < p.length) {
        const d = p[j]!;
        if (d === '\\' && j + 1 < p.length) { term += p[j + 1]; j += 2; continue; }
        if (d === '"') { closed = true; j++; break; }
        term += d;
        j++;
      }
      if (!closed) throw LogsErrors.invalidParameter(`Invalid filter pattern: unterminated quoted term in ${JSON.stringify(p)}`);
      if (term !== '') terms.push(term);
      i = j;
      continue;
    }
    let j = i;
    while (j < p.length && !/\s/.test(p[j]!)) j++;
    const term = p.slice(i, j);
    if (term.startsWith('?')) throw unsupported(p, '"?term" alternatives are not supported; every term must match');
    if (term.startsWith('-') && term.length > 1) throw unsupported(p, '"-term" exclusions are not supported; quote the term to match it literally');
    if (term.length > 1 && term.startsWith('%') && term.endsWith('%')) throw unsupported(p, 'regular expression terms are not supported');
    terms.push(term);
    i = j;
  }
  return terms;
}

function unsupported(p: string, why: string) {
  return LogsErrors.invalidParameter(`Invalid filter pattern ${JSON.stringify(p)}: ${why}.`);
}
