import type { EventPosition } from '../../ports/logs.js';
import { LogsErrors } from './params.js';

/**
 * Paging tokens. They are opaque to clients but stable: the same position gives the same
 * token, which is how paginators know they reached the end (GetLogEvents returns the token it
 * was given once there is nothing newer).
 */

/**
 * GetLogEvents: `f/<timestamp>/<id>` reads the events after that position (events are in
 * timestamp order, then id), `b/<timestamp>/<id>` reads the events before it.
 */
export type EventsCursor = { dir: 'f' | 'b' } & EventPosition;

export function eventsToken(c: EventsCursor): string {
  return `${c.dir}/${c.timestamp}/${c.id}`;
}

export function parseEventsToken(token: string): EventsCursor {
  const m = /^([fb])\/(\d{1,16})\/(\d{1,16})$/.exec(token);
  if (!m) throw LogsErrors.invalidToken();
  const timestamp = Number(m[2]);
  const id = Number(m[3]);
  if (!Number.isSafeInteger(timestamp) || !Number.isSafeInteger(id)) throw LogsErrors.invalidToken();
  return { dir: m[1] as 'f' | 'b', timestamp, id };
}

/** FilterLogEvents: the position of the last event returned. */
export function filterToken(p: EventPosition): string {
  return listToken('events', [p.timestamp, p.id]);
}

export function parseFilterToken(token: string): EventPosition {
  const v = parseToken(token, 'events');
  if (!Array.isArray(v) || v.length !== 2 || !v.every((n) => Number.isSafeInteger(n) && n >= 0)) throw LogsErrors.invalidToken();
  return { timestamp: v[0], id: v[1] };
}

/** Tokens for the other listings: a kind tag and a value, base64url-encoded. */
export function listToken(kind: string, value: string | number | number[]): string {
  return Buffer.from(JSON.stringify([kind, value])).toString('base64url');
}

export function parseListToken(token: string, kind: 'groups'): string;
export function parseListToken(token: string, kind: 'streams'): number;
export function parseListToken(token: string, kind: 'groups' | 'streams'): string | number {
  const v = parseToken(token, kind);
  if (kind === 'groups' ? typeof v !== 'string' : !(Number.isSafeInteger(v) && (v as number) >= 0)) throw LogsErrors.invalidToken();
  return v as string | number;
}

/** The value of a token of that kind. */
function parseToken(token: string, kind: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw LogsErrors.invalidToken();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || parsed[0] !== kind) throw LogsErrors.invalidToken();
  return parsed[1];
}
