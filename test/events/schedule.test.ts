import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nextFireTime, parseSchedule, scheduleDue } from '../../src/core/schedule.js';

const T = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('rate expressions', () => {
  const ok: Array<[string, number]> = [
    ['rate(1 minute)', 60_000],
    ['rate(5 minutes)', 300_000],
    ['rate(1 hour)', 3_600_000],
    ['rate(12 hours)', 43_200_000],
    ['rate(1 day)', 86_400_000],
    ['rate(7 days)', 604_800_000],
    [' rate( 2 minutes ) ', 120_000],
  ];
  for (const [expr, period] of ok) {
    test(expr, () => {
      const s = parseSchedule(expr);
      assert.equal(s.kind, 'rate');
      assert.equal(s.kind === 'rate' && s.periodMs, period);
    });
  }
  for (const bad of ['rate(1 minutes)', 'rate(5 minute)', 'rate(0 minutes)', 'rate(-1 minutes)', 'rate(1 second)', 'rate(1.5 hours)', 'rate(minutes)', 'rate 5 minutes', 'every 5 minutes', '']) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseSchedule(bad), { code: 'ValidationException', message: 'Parameter ScheduleExpression is not valid.' });
    });
  }

  test('rates keep their grid from the anchor', () => {
    const s = parseSchedule('rate(5 minutes)');
    const anchor = T('2026-01-01T00:00:30Z');
    assert.equal(iso(nextFireTime(s, anchor, anchor)), '2026-01-01T00:05:30.000Z');
    assert.equal(iso(nextFireTime(s, T('2026-01-01T00:05:30Z'), anchor)), '2026-01-01T00:10:30.000Z');
    assert.equal(iso(nextFireTime(s, T('2026-01-01T01:07:00Z'), anchor)), '2026-01-01T01:10:30.000Z');
  });
});

describe('cron next fire (UTC)', () => {
  // [expression, after, expected next]
  const cases: Array<[string, string, string | undefined]> = [
    ['cron(0 12 * * ? *)', '2026-03-10T08:00:00Z', '2026-03-10T12:00:00.000Z'],
    ['cron(0 12 * * ? *)', '2026-03-10T12:00:00Z', '2026-03-11T12:00:00.000Z'],
    ['cron(0 12 * * ? *)', '2026-03-10T11:59:59.999Z', '2026-03-10T12:00:00.000Z'],
    ['cron(* * * * ? *)', '2026-03-10T08:00:30Z', '2026-03-10T08:01:00.000Z'],
    ['cron(0/15 * * * ? *)', '2026-03-10T08:16:00Z', '2026-03-10T08:30:00.000Z'],
    ['cron(*/20 * * * ? *)', '2026-03-10T08:41:00Z', '2026-03-10T09:00:00.000Z'],
    ['cron(5-10/2 * * * ? *)', '2026-03-10T08:06:00Z', '2026-03-10T08:07:00.000Z'],
    ['cron(0 8,17 * * ? *)', '2026-03-10T09:00:00Z', '2026-03-10T17:00:00.000Z'],
    ['cron(0 22-2 * * ? *)', '2026-03-10T03:00:00Z', '2026-03-10T22:00:00.000Z'],
    ['cron(0 22-2 * * ? *)', '2026-03-10T23:30:00Z', '2026-03-11T00:00:00.000Z'],
    ['cron(15 10 ? * 6L 2026)', '2026-01-01T00:00:00Z', '2026-01-30T10:15:00.000Z'], // last Friday of January 2026
    ['cron(0 18 ? * MON-FRI *)', '2026-03-13T19:00:00Z', '2026-03-16T18:00:00.000Z'], // Fri evening -> Monday
    ['cron(0 10 ? * 2-6 *)', '2026-03-14T00:00:00Z', '2026-03-16T10:00:00.000Z'],
    ['cron(0 9 ? * 2#1 *)', '2026-03-10T00:00:00Z', '2026-04-06T09:00:00.000Z'], // first Monday of April 2026
    ['cron(0 9 ? * MON#3 *)', '2026-03-01T00:00:00Z', '2026-03-16T09:00:00.000Z'],
    ['cron(0 0 L * ? *)', '2026-02-10T00:00:00Z', '2026-02-28T00:00:00.000Z'],
    ['cron(0 0 L * ? *)', '2028-02-10T00:00:00Z', '2028-02-29T00:00:00.000Z'], // leap year
    ['cron(0 0 L * ? *)', '2026-02-28T00:00:00Z', '2026-03-31T00:00:00.000Z'],
    ['cron(0 0 15W * ? *)', '2026-08-01T00:00:00Z', '2026-08-14T00:00:00.000Z'], // Aug 15 2026 is a Saturday
    ['cron(0 0 16W * ? *)', '2026-08-01T00:00:00Z', '2026-08-17T00:00:00.000Z'], // Aug 16 2026 is a Sunday
    ['cron(0 0 1W * ? *)', '2026-07-31T00:00:00Z', '2026-08-03T00:00:00.000Z'], // Aug 1 2026 is a Saturday -> Monday 3rd
    ['cron(0 0 LW * ? *)', '2026-05-01T00:00:00Z', '2026-05-29T00:00:00.000Z'], // May 31 2026 is a Sunday
    ['cron(0 0 ? * L *)', '2026-03-10T00:00:00Z', '2026-03-14T00:00:00.000Z'], // L alone = Saturday
    ['cron(0 0 1 JAN,JUL ? *)', '2026-03-10T00:00:00Z', '2026-07-01T00:00:00.000Z'],
    ['cron(0 0 1 1 ? 2027-2028)', '2026-03-10T00:00:00Z', '2027-01-01T00:00:00.000Z'],
    ['cron(0 0 1 1 ? 2025)', '2026-03-10T00:00:00Z', undefined],
    ['cron(0 0 31 2 ? *)', '2026-01-01T00:00:00Z', undefined], // never
    ['cron(0 0 29 2 ? *)', '2026-01-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['cron(30 23 31 12 ? *)', '2026-12-31T23:30:00Z', '2027-12-31T23:30:00.000Z'],
    ['cron(0 0 1,15 * ? *)', '2026-03-02T00:00:00Z', '2026-03-15T00:00:00.000Z'],
    ['cron(0 0 ? * SUN *)', '2026-03-10T00:00:00Z', '2026-03-15T00:00:00.000Z'],
    ['cron(0 0 ? * 1,7 *)', '2026-03-10T00:00:00Z', '2026-03-14T00:00:00.000Z'],
  ];
  for (const [expr, after, expected] of cases) {
    test(`${expr} after ${after}`, () => {
      assert.equal(iso(nextFireTime(parseSchedule(expr), T(after), 0)), expected);
    });
  }

  const bad = [
    'cron(0 12 * * * *)', // day-of-month and day-of-week both set
    'cron(0 12 ? * ? *)', // both '?'
    'cron(0 12 * *)',
    'cron(0 12 * * ? * *)',
    'cron(60 12 * * ? *)',
    'cron(0 24 * * ? *)',
    'cron(0 0 32 * ? *)',
    'cron(0 0 0 * ? *)',
    'cron(0 0 * 13 ? *)',
    'cron(0 0 ? * 8 *)',
    'cron(0 0 ? * 2#6 *)',
    'cron(0 0 1 1 ? 1969)',
    'cron(0 0 1 FOO ? *)',
    'cron(*/0 * * * ? *)',
    'cron(1-2-3 * * * ? *)',
    'cron(,1 * * * ? *)',
    'cron(0 0 ? * 2L5 *)',
    'cron()',
  ];
  for (const expr of bad) {
    test(`refuses ${expr}`, () => {
      assert.throws(() => parseSchedule(expr), { code: 'ValidationException' });
    });
  }
});

describe('downtime: missed ticks collapse into one fire', () => {
  test('rate after a long stop fires once and resumes the grid', () => {
    const s = parseSchedule('rate(1 minute)');
    const anchor = T('2026-01-01T00:00:00Z');
    const lastFire = T('2026-01-01T00:03:00Z');
    const now = T('2026-01-01T05:00:10Z');
    const r = scheduleDue(s, lastFire, anchor, now);
    assert.equal(r.due, true);
    assert.equal(iso(r.next), '2026-01-01T05:01:00.000Z');
  });
  test('not due yet', () => {
    const s = parseSchedule('cron(0 12 * * ? *)');
    const r = scheduleDue(s, T('2026-01-01T12:00:00Z'), 0, T('2026-01-02T11:00:00Z'));
    assert.deepEqual({ due: r.due, next: iso(r.next) }, { due: false, next: '2026-01-02T12:00:00.000Z' });
  });
  test('cron after two days down: one fire, next is tomorrow noon', () => {
    const s = parseSchedule('cron(0 12 * * ? *)');
    const r = scheduleDue(s, T('2026-01-01T12:00:00Z'), 0, T('2026-01-03T13:00:00Z'));
    assert.deepEqual({ due: r.due, next: iso(r.next) }, { due: true, next: '2026-01-04T12:00:00.000Z' });
  });
});
