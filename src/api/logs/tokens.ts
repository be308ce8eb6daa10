import { LogsErrors } from './params.js';

/**
 * Paging tokens. They are opaque to clients but stable: the same position gives the same
 * token, which is how paginators know they reached the end (GetLogEvents returns the token it
 * was given once there is nothing newer).
 */

/** GetLogEvents: `f/<id>` reads events after id <id>, `b/<id>` reads events before it. */
export type EventsCursor = { dir: 'f' | 'b'; id: number };

export function eventsToken(c: EventsCursor): string {
  return `${c.dir}/${c.id}`;
}

export function parseEventsToken(token: string): EventsCursor {
  const m = /^([fb])\/(\d{1,16})$/.exec(token);
  if (!m) throw LogsErrors.invalidToken();
  return { dir: m[1] as 'f' | 'b', id: Number(m[2]) };
}

/** Tokens for the other listings: a kind tag and a value, base64url-encoded. */
export function listToken(kind: string, value: string | number): string {
  return Buffer.from(JSON.stringify([kind, value])).toString('base64url');
}

export function parseListToken(token: string, kind: 'groups'): string;
export function parseListToken(token: string, kind: 'streams' | 'events'): number;
export function parseListToken(token: string, kind: string): string | number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw LogsErrors.invalidToken();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || parsed[0] !== kind) throw LogsErrors.invalidToken();
  const v = parsed[1];
  if (kind === 'groups' ? typeof v !== 'string' : !(Number.isSafeInteger(v) && (v as number) >= 0)) throw LogsErrors.invalidToken();
  return v as string | number;
}
