import { Errors } from './errors.js';

/**
 * EventBridge schedule expressions, in UTC:
 *   rate(1 minute) | rate(5 minutes) | rate(1 hour) | rate(2 hours) | rate(1 day) | rate(3 days)
 *   cron(minutes hours day-of-month month day-of-week year)
 * Cron fields take `,` lists, `-` ranges, `/` steps, `*`; day-of-month and day-of-week take `?`
 * (exactly one of the two must be `?`); day-of-month also `L` (last day), `nW` (weekday nearest
 * to day n), `LW` (last weekday); day-of-week 1-7 or SUN-SAT (1 = Sunday), `nL` (last such day of
 * the month), `n#k` (k-th such day), `L` (Saturday); months 1-12 or JAN-DEC; years 1970-2199.
 * Pure: no clock, times are epoch milliseconds.
 */

export type Schedule =
  | { kind: 'rate'; value: number; unit: 'minute' | 'hour' | 'day'; periodMs: number }
  | { kind: 'cron'; cron: CronSpec };

export interface CronSpec {
  minutes: Set<number>;
  hours: Set<number>;
  months: Set<number>;
  years: Set<number>;
  /** Day predicate: day-of-month when day-of-week is '?', else day-of-week. */
  day: (year: number, month: number, day: number) => boolean;
}

const MINUTE = 60_000;
const UNIT_MS = { minute: MINUTE, hour: 60 * MINUTE, day: 24 * 60 * MINUTE } as const;

const MAX_YEAR = 2199;
const MIN_YEAR = 1970;

function invalid(): Error {
  return Errors.validation('Parameter ScheduleExpression is not valid.');
}

export function parseSchedule(expr: string): Schedule {
  const s = expr.trim();
  const rate = /^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$/.exec(s);
  if (rate) {
    const value = Number(rate[1]);
    const word = rate[2]!;
    const plural = word.endsWith('s');
    if (value < 1 || (value === 1 && plural) || (value > 1 && !plural)) throw invalid();
    const unit = (plural ? word.slice(0, -1) : word) as 'minute' | 'hour' | 'day';
    return { kind: 'rate', value, unit, periodMs: value * UNIT_MS[unit] };
  }
  const cron = /^cron\((.*)\)$/.exec(s);
  if (cron) return { kind: 'cron', cron: parseCron(cron[1]!) };
  throw invalid();
}

export function isValidSchedule(expr: string): boolean {
  try {
    parseSchedule(expr);
    return true;
  } catch {
    return false;
  }
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

export function parseCron(body: string): CronSpec {
  const f = body.trim().split(/\s+/);
  if (f.length !== 6) throw invalid();
  const [min, hour, dom, mon, dow, year] = f as [string, string, string, string, string, string];
  const domQ = dom === '?';
  const dowQ = dow === '?';
  if (domQ === dowQ) throw invalid(); // exactly one of day-of-month / day-of-week is '?'
  const spec: CronSpec = {
    minutes: parseField(min, 0, 59),
    hours: parseField(hour, 0, 23),
    months: parseField(mon, 1, 12, MONTHS),
    years: parseField(year, MIN_YEAR, MAX_YEAR),
    day: domQ ? parseDow(dow) : parseDom(dom),
  };
  return spec;
}

function parseValue(token: string, lo: number, hi: number, names?: string[]): number {
  let n: number;
  if (/^\d+$/.test(token)) n = Number(token);
  else if (names && names.includes(token.toUpperCase())) n = names.indexOf(token.toUpperCase()) + lo;
  else throw invalid();
  if (n < lo || n > hi) throw invalid();
  return n;
}

/** `*`, `n`, `a-b`, `*\/s`, `a/s`, `a-b/s`, lists of those. Ranges may wrap (FRI-MON). */
function parseField(text: string, lo: number, hi: number, names?: string[]): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    if (part === '') throw invalid();
    const [range, stepText, extra] = part.split('/');
    if (extra !== undefined) throw invalid();
    const step = stepText === undefined ? 1 : Number(stepText);
    if (stepText !== undefined && (!/^\d+$/.test(stepText) || step < 1)) throw invalid();
    let from: number;
    let to: number;
    if (range === '*') {
      from = lo;
      to = hi;
    } else if (range!.includes('-')) {
      const [a, b, more] = range!.split('-');
      if (more !== undefined || a === undefined || b === undefined) throw invalid();
      from = parseValue(a, lo, hi, names);
      to = parseValue(b, lo, hi, names);
    } else {
      from = parseValue(range!, lo, hi, names);
      to = stepText === undefined ? from : hi;
    }
    const span = to >= from ? to - from : to + (hi - lo + 1) - from;
    for (let i = 0; i <= span; i += step) {
      const v = from + i;
      out.add(v > hi ? v - (hi - lo + 1) : v);
    }
  }
  return out;
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate(); // month is 1-based here
}

/** 1 = Sunday ... 7 = Saturday, as cron's day-of-week. */
export function weekday(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

function nearestWeekday(year: number, month: number, target: number): number {
  const last = daysInMonth(year, month);
  const d = Math.min(target, last);
  const wd = weekday(year, month, d);
  if (wd >= 2 && wd <= 6) return d;
  if (wd === 7) return d === 1 ? 3 : d - 1; // Saturday: Friday before, or Monday after on the 1st
  return d === last ? d - 2 : d + 1; // Sunday: Monday after, or Friday before at month end
}

function parseDom(text: string): CronSpec['day'] {
  const preds: Array<(y: number, m: number, d: number) => boolean> = [];
  const plain: string[] = [];
  for (const part of text.split(',')) {
    if (part === 'L') preds.push((y, m, d) => d === daysInMonth(y, m));
    else if (part === 'LW') {
      preds.push((y, m, d) => {
        const last = daysInMonth(y, m);
        const wd = weekday(y, m, last);
        const lw = wd === 7 ? last - 1 : wd === 1 ? last - 2 : last;
        return d === lw;
      });
    } else if (/^\d+W$/.test(part)) {
      const n = Number(part.slice(0, -1));
      if (n < 1 || n > 31) throw invalid();
      preds.push((y, m, d) => d === nearestWeekday(y, m, n));
    } else if (part === '*') {
      preds.push(() => true);
    } else plain.push(part);
  }
  if (plain.length) {
    const set = parseField(plain.join(','), 1, 31);
    preds.push((_y, _m, d) => set.has(d));
  }
  return (y, m, d) => preds.some((p) => p(y, m, d));
}

function parseDow(text: string): CronSpec['day'] {
  const preds: Array<(y: number, m: number, d: number) => boolean> = [];
  const plain: string[] = [];
  for (const part of text.split(',')) {
    const last = /^([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)L$/i.exec(part);
    const nth = /^([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)#([1-5])$/i.exec(part);
    if (part === 'L') {
      preds.push((y, m, d) => weekday(y, m, d) === 7);
    } else if (last) {
      const wd = parseValue(last[1]!, 1, 7, DAYS);
      preds.push((y, m, d) => weekday(y, m, d) === wd && d + 7 > daysInMonth(y, m));
    } else if (nth) {
      const wd = parseValue(nth[1]!, 1, 7, DAYS);
      const k = Number(nth[2]);
      preds.push((y, m, d) => weekday(y, m, d) === wd && Math.ceil(d / 7) === k);
    } else plain.push(part);
  }
  if (plain.length) {
    const set = parseField(plain.join(','), 1, 7, DAYS);
    preds.push((y, m, d) => set.has(weekday(y, m, d)));
  }
  return (y, m, d) => preds.some((p) => p(y, m, d));
}

/** The first cron time strictly after `after` (ms), or undefined when there is none before 2200. */
export function nextCronTime(spec: CronSpec, after: number): number | undefined {
  const start = new Date(Math.floor(after / MINUTE) * MINUTE + MINUTE);
  let y = start.getUTCFullYear();
  let mo = start.getUTCMonth() + 1;
  let d = start.getUTCDate();
  let h = start.getUTCHours();
  let mi = start.getUTCMinutes();
  const hours = [...spec.hours].sort((a, b) => a - b);
  const minutes = [...spec.minutes].sort((a, b) => a - b);
  for (let guard = 0; guard < 200_000 && y <= MAX_YEAR; guard++) {
    if (!spec.years.has(y)) {
      y++; mo = 1; d = 1; h = 0; mi = 0;
      continue;
    }
    if (!spec.months.has(mo)) {
      mo++; d = 1; h = 0; mi = 0;
      if (mo > 12) { mo = 1; y++; }
      continue;
    }
    if (d > daysInMonth(y, mo)) {
      mo++; d = 1; h = 0; mi = 0;
      if (mo > 12) { mo = 1; y++; }
      continue;
    }
    if (spec.day(y, mo, d)) {
      for (const hh of hours) {
        if (hh < h) continue;
        for (const mm of minutes) {
          if (hh === h && mm < mi) continue;
          return Date.UTC(y, mo - 1, d, hh, mm);
        }
      }
    }
    d++; h = 0; mi = 0;
  }
  return undefined;
}

/**
 * The next fire time strictly after `after`. Rates keep their grid: anchor + k * period
 * (the anchor is when the rule was created, or any past fire).
 */
export function nextFireTime(s: Schedule, after: number, anchor: number): number | undefined {
  if (s.kind === 'cron') return nextCronTime(s.cron, after);
  if (after < anchor) return anchor + s.periodMs;
  const k = Math.floor((after - anchor) / s.periodMs) + 1;
  return anchor + k * s.periodMs;
}

/**
 * What a scheduler does after (possibly long) downtime: given the last fire (or the creation
 * time when it never fired) and now, whether a fire is due, and when the one after it is.
 * Missed ticks collapse into one fire.
 */
export function scheduleDue(s: Schedule, lastFire: number, anchor: number, now: number): { due: boolean; next: number | undefined } {
  const first = nextFireTime(s, lastFire, anchor);
  if (first === undefined) return { due: false, next: undefined };
  if (first > now) return { due: false, next: first };
  return { due: true, next: nextFireTime(s, now, anchor) };
}
