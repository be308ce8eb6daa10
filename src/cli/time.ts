/** Units of a relative time (`5m`, `1h`, `2d`) in milliseconds. */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
};

/** A length of time: `90s`, `5m`, `1.5h`, `2d`, `1w` -> milliseconds, or null when it is not one. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(text.trim());
  if (!m) return null;
  const unit = UNIT_MS[m[2]!.toLowerCase()];
  return unit === undefined ? null : Math.round(Number(m[1]) * unit);
}

const ABSOLUTE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * A point in time for --since/--until, in epoch milliseconds: `now`, a length of time ago
 * (`10m`, `1h`, `2d`), or an absolute date and time (`2026-11-22`, `2026-11-22 10:00`,
 * `2026-11-22T10:00:05.250Z`, `2026-11-22 10:00+02:00`). Absolute times without an offset are
 * UTC. Returns null when the text is none of these.
 */
export function parseTimeSpec(text: string, now: number): number | null {
  const t = text.trim();
  if (t.toLowerCase() === 'now') return now;
  const d = parseDuration(t);
  if (d !== null) return now - d;
  const m = ABSOLUTE.exec(t);
  if (!m) return null;
  const [, y, mo, da, hh, mi, ss, frac, zone] = m;
  const month = Number(mo), day = Number(da), hour = Number(hh ?? 0), minute = Number(mi ?? 0), second = Number(ss ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  let at = Date.UTC(Number(y), month - 1, day, hour, minute, second, ms);
  // Date.UTC rolls 2026-02-31 over into March: refuse dates that do not exist.
  if (new Date(at).getUTCDate() !== day) return null;
  if (zone && !/^(z|utc)$/i.test(zone)) {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    const offset = (Number(z[2]) * 60 + Number(z[3] ?? 0)) * 60_000;
    if (Number(z[2]) > 14 || Number(z[3] ?? 0) > 59) return null;
    at -= z[1] === '+' ? offset : -offset;
  }
  return at;
}

/** What --since/--until accept, for error messages and help. */
export const TIME_FORMS = 'a length of time ago (30s, 10m, 1h, 2d), "now", or a date and time like "2026-11-22 10:00" (UTC unless it carries an offset such as +02:00)';
