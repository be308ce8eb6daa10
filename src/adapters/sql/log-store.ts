import { sql, type Kysely, type Transaction } from 'kysely';
import { statementChunks } from '../../core/chunks.js';
import { systemClock, type Clock } from '../../ports/clock.js';
import type {
  LogBatch, LogEvent, LogGroupInfo, LogGroupSettings, LogQuery, LogStore, LogStreamInfo, StoredLogEvent,
} from '../../ports/logs.js';
import type { SqlDatabase } from '../../ports/sql.js';

const GROUPS = 'log_groups';
const STREAMS = 'log_streams';
const EVENTS = 'log_events';
/** 5 columns per event row: far below SQLite's 32766 and Postgres's 65535 bind variables. */
const INSERT_CHUNK = 256;
/** Streams per statistics UPDATE (5 variables each). */
const STATS_CHUNK = 1000;

type Db = Kysely<any> | Transaction<any>;

interface EventRow { group_name: string; stream_name: string; ts: number; ingested_at: number; message: string }
const INSERT_EVENT = `insert into ${EVENTS} (group_name, stream_name, ts, ingested_at, message) values (?, ?, ?, ?, ?)`;

/**
 * The log store on the relational database (SQLite embedded, Postgres in a cluster): tables
 * `log_groups`, `log_streams`, `log_events` (migrations 002-logs and 011-log-event-order).
 * Appends are one transaction per batch, whatever the number of streams in it; the same Kysely
 * queries run on both dialects except the substring test of filter terms (instr / strpos) and
 * the row locks of the retention sweep (Postgres only: SQLite has one writer).
 */
export class SqlLogStore implements LogStore {
  constructor(
    private readonly database: SqlDatabase,
    private readonly clock: Clock = systemClock,
  ) {}

  private get db(): Kysely<any> {
    return this.database.db;
  }

  append(group: string, stream: string, events: LogEvent[]): Promise<void> {
    return this.appendBatch([{ group, stream, events }]);
  }

  async appendBatch(batches: LogBatch[]): Promise<void> {
    const live = batches.filter((b) => b.events.length > 0);
    if (live.length === 0) return;
    const now = this.clock.now();
    // Rows go in the order given (ids follow it); statistics are per stream.
    const streams = new Map<string, { group: string; stream: string; first: number; last: number; bytes: number }>();
    const groupBytes = new Map<string, number>();
    const rows: EventRow[] = [];
    for (const b of live) {
      const k = key(b.group, b.stream);
      let s = streams.get(k);
      if (!s) streams.set(k, (s = { group: b.group, stream: b.stream, first: Infinity, last: -Infinity, bytes: 0 }));
      let bytes = 0;
      for (const e of b.events) {
        const message = clean(e.message);
        const ts = Math.trunc(e.timestamp);
        bytes += Buffer.byteLength(message);
        if (ts < s.first) s.first = ts;
        if (ts > s.last) s.last = ts;
        rows.push({ group_name: b.group, stream_name: b.stream, ts, ingested_at: now, message });
      }
      s.bytes += bytes;
      groupBytes.set(b.group, (groupBytes.get(b.group) ?? 0) + bytes);
    }
    // A stable order of row updates: two nodes appending to the same rows cannot deadlock.
    const stats = [...streams.values()].sort((a, b) => cmp(a.group, b.group) || cmp(a.stream, b.stream));
    const groups = [...groupBytes.keys()].sort(cmp);

    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto(GROUPS)
        .values(groups.map((name) => ({ name, created_at: now, retention_days: null, stored_bytes: 0 })))
        .onConflict((oc: any) => oc.column('name').doNothing())
        .execute();
      await trx
        .insertInto(STREAMS)
        .values(stats.map((s) => ({ group_name: s.group, name: s.stream, created_at: now, stored_bytes: 0 })))
        .onConflict((oc: any) => oc.columns(['group_name', 'name']).doNothing())
        .execute();
      // Between chunks the event loop gets a turn: a busy node's flush is thousands of rows, and
      // SQLite runs synchronously, so in one piece it would hold up every request for as long
      // (24 ms per 200 ms at 7,000 invocations per second here). The transaction keeps the
      // connection meanwhile; other queries wait for it, requests that need none do not.
      const insert = this.database.prepared?.(INSERT_EVENT);
      for (const [i, chunk] of statementChunks(rows, INSERT_CHUNK).entries()) {
        if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        // SQLite: one prepared single-row INSERT per row, on the transaction's connection. A
        // multi-row INSERT built with Kysely cost 7 us per row here (building and compiling
        // the query, and a statement journal that SQLite spilled to a temporary file past
        // 64 KiB: an open, a write per page and an unlink per chunk), this 4.3.
        if (insert) for (const r of chunk) insert.run(r.group_name, r.stream_name, r.ts, r.ingested_at, r.message);
        else await trx.insertInto(EVENTS).values(chunk).execute();
      }
      // Statistics: one UPDATE ... FROM (VALUES ...) per chunk of streams, not one per stream
      // (a busy node has one stream per environment in every batch). VALUES columns are
      // column1..N on both dialects; the casts type the parameters for Postgres.
      for (let i = 0; i < stats.length; i += STATS_CHUNK) {
        const values = sql.join(stats.slice(i, i + STATS_CHUNK).map((x) =>
          sql`(cast(${x.group} as text), cast(${x.stream} as text), cast(${x.first} as bigint), cast(${x.last} as bigint), cast(${x.bytes} as bigint))`));
        await sql`update log_streams set
            first_event_at = case when log_streams.first_event_at is null or log_streams.first_event_at > v.column3 then v.column3 else log_streams.first_event_at end,
            last_event_at = case when log_streams.last_event_at is null or log_streams.last_event_at < v.column4 then v.column4 else log_streams.last_event_at end,
            last_ingestion_at = cast(${now} as bigint),
            stored_bytes = log_streams.stored_bytes + v.column5
          from (values ${values}) as v
          where log_streams.group_name = v.column1 and log_streams.name = v.column2`.execute(trx);
      }
      for (let i = 0; i < groups.length; i += STATS_CHUNK) {
        const values = sql.join(groups.slice(i, i + STATS_CHUNK).map((g) => sql`(cast(${g} as text), cast(${groupBytes.get(g)!} as bigint))`));
        await sql`update log_groups set stored_bytes = log_groups.stored_bytes + v.column2
          from (values ${values}) as v
          where log_groups.name = v.column1`.execute(trx);
      }
    });
  }

  async createGroup(group: string, creationTime: number, tags: Record<string, string> = {}, settings: LogGroupSettings = {}): Promise<boolean> {
    const res = await this.db
      .insertInto(GROUPS)
      .values({
        name: group, created_at: creationTime, retention_days: null, stored_bytes: 0, tags: JSON.stringify(tags),
        log_class: settings.logGroupClass ?? 'STANDARD', kms_key_id: settings.kmsKeyId ?? null,
      })
      .onConflict((oc: any) => oc.column('name').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async createStream(group: string, stream: string, creationTime: number): Promise<boolean> {
    const res = await this.db
      .insertInto(STREAMS)
      .values({ group_name: group, name: stream, created_at: creationTime, stored_bytes: 0 })
      .onConflict((oc: any) => oc.columns(['group_name', 'name']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async describeGroups(prefix: string | undefined, after: string | undefined, limit: number): Promise<LogGroupInfo[]> {
    let q = this.db.selectFrom(GROUPS).selectAll();
    if (prefix) q = withPrefix(q, 'name', prefix);
    if (after !== undefined) q = q.where('name', '>', after);
    const rows = await q.orderBy('name').limit(limit).execute();
    return rows.map(toGroup);
  }

  async getGroup(group: string): Promise<LogGroupInfo | undefined> {
    const r = await this.db.selectFrom(GROUPS).selectAll().where('name', '=', group).executeTakeFirst();
    return r ? toGroup(r) : undefined;
  }

  async describeStreams(
    group: string,
    opts: { prefix?: string; orderBy: 'LogStreamName' | 'LastEventTime'; descending: boolean; offset: number; limit: number },
  ): Promise<LogStreamInfo[]> {
    let q = this.db.selectFrom(STREAMS).selectAll().where('group_name', '=', group);
    if (opts.prefix) q = withPrefix(q, 'name', opts.prefix);
    const dir = opts.descending ? 'desc' : 'asc';
    // A stream without events sorts as the oldest one.
    if (opts.orderBy === 'LastEventTime') q = q.orderBy(sql`coalesce(last_event_at, -1)`, dir);
    q = q.orderBy('name', dir);
    const rows = await q.limit(opts.limit).offset(Math.max(0, opts.offset)).execute();
    return rows.map(toStream);
  }

  async query(qy: LogQuery): Promise<StoredLogEvent[]> {
    if (qy.limit <= 0) return [];
    if (qy.logStreamNames && qy.logStreamNames.length === 0) return [];
    let q = this.db
      .selectFrom(EVENTS)
      .select(['id', 'stream_name', 'ts', 'ingested_at', 'message'])
      .where('group_name', '=', qy.logGroupName);
    if (qy.logStreamNames) {
      q = qy.logStreamNames.length === 1
        ? q.where('stream_name', '=', qy.logStreamNames[0]!)
        : q.where('stream_name', 'in', qy.logStreamNames);
    }
    if (qy.logStreamNamePrefix) q = withPrefix(q, 'stream_name', qy.logStreamNamePrefix);
    if (qy.startTime !== undefined) q = q.where('ts', '>=', Math.trunc(qy.startTime));
    if (qy.endTime !== undefined) q = q.where('ts', '<', Math.trunc(qy.endTime));
    // Row values: on both dialects an index range on (…, ts, id), not an OR that scans.
    if (qy.after) q = q.where(sql<boolean>`(ts, id) > (${Math.trunc(qy.after.timestamp)}, ${qy.after.id})`);
    if (qy.before) q = q.where(sql<boolean>`(ts, id) < (${Math.trunc(qy.before.timestamp)}, ${qy.before.id})`);
    for (const term of qy.terms ?? []) {
      if (term === '') continue;
      const t = clean(term);
      q = q.where(this.database.dialect === 'postgres' ? sql<boolean>`strpos(message, ${t}) > 0` : sql<boolean>`instr(message, ${t}) > 0`);
    }
    // Timestamp order, as CloudWatch reads (a back-dated event goes before what came earlier);
    // the order of arrival among events of the same millisecond.
    const dir = qy.descending ? 'desc' : 'asc';
    const rows = await q.orderBy('ts', dir).orderBy('id', dir).limit(qy.limit).execute();
    return rows.map((r: any) => ({
      id: Number(r.id),
      logStreamName: r.stream_name,
      timestamp: Number(r.ts),
      ingestionTime: Number(r.ingested_at),
      message: r.message,
    }));
  }

  async deleteGroup(group: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom(EVENTS).where('group_name', '=', group).execute();
      await trx.deleteFrom(STREAMS).where('group_name', '=', group).execute();
      const res = await trx.deleteFrom(GROUPS).where('name', '=', group).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }

  async deleteStream(group: string, stream: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // Events, then the stream, then the group: the order every writer takes rows in (see
      // expireEvents), so a delete and a retention sweep on another node cannot deadlock.
      await trx.deleteFrom(EVENTS).where('group_name', '=', group).where('stream_name', '=', stream).execute();
      const s = await trx
        .deleteFrom(STREAMS)
        .where('group_name', '=', group)
        .where('name', '=', stream)
        .returning(['stored_bytes'])
        .executeTakeFirst();
      if (!s) return false;
      await subtractBytes(trx, group, Number(s.stored_bytes));
      return true;
    });
  }

  async putRetention(group: string, days: number | null): Promise<boolean> {
    const res = await this.db.updateTable(GROUPS).set({ retention_days: days }).where('name', '=', group).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async expireEvents(group: string, before: number, limit: number): Promise<number> {
    if (limit <= 0 || !Number.isFinite(before)) return 0;
    return this.db.transaction().execute(async (trx) => {
      // Oldest first, along the (group, ts, id) index. On Postgres the rows are locked as they
      // are picked and rows another node's sweep holds are skipped: two sweeps share the work
      // and never wait on each other's events; `= any(array(...))` makes the picked ids one
      // value, found by primary key (as `in (...)`, Postgres may hash-join a scan of the whole
      // table). RETURNING names only the rows this statement deleted, so an event deleted
      // meanwhile (a stream or group delete) is not counted again. Rows are taken events, then
      // streams, then the group, as every writer takes them.
      const picked = sql`select id from log_events where group_name = ${group} and ts < ${Math.trunc(before)}
          order by ts, id limit ${Math.trunc(limit)}`;
      const which = this.database.dialect === 'postgres'
        ? sql`id = any(array(${picked} for update skip locked))`
        : sql`id in (${picked})`;
      const deleted = await sql<{ stream_name: string; bytes: unknown }>`delete from log_events where ${which}
        returning stream_name, octet_length(message) as bytes`.execute(trx);
      if (deleted.rows.length === 0) return 0;
      const perStream = new Map<string, number>();
      let total = 0;
      for (const r of deleted.rows) {
        const bytes = Number(r.bytes);
        perStream.set(r.stream_name, (perStream.get(r.stream_name) ?? 0) + bytes);
        total += bytes;
      }
      const streams = [...perStream.entries()].sort((a, b) => cmp(a[0], b[0]));
      // Few SQL texts (a chunk ladder), so a sweep does not crowd SQLite's statement cache.
      for (const chunk of statementChunks(streams, STATS_CHUNK)) {
        const values = sql.join(chunk.map(([stream, bytes]) => sql`(cast(${stream} as text), cast(${bytes} as bigint))`));
        await sql`update log_streams set
            stored_bytes = case when log_streams.stored_bytes > v.column2 then log_streams.stored_bytes - v.column2 else 0 end
          from (values ${values}) as v
          where log_streams.group_name = ${group} and log_streams.name = v.column1`.execute(trx);
      }
      await subtractBytes(trx, group, total);
      return deleted.rows.length;
    });
  }

  async getTags(group: string): Promise<Record<string, string> | undefined> {
    const r = await this.db.selectFrom(GROUPS).select('tags').where('name', '=', group).executeTakeFirst();
    return r ? JSON.parse(r.tags) : undefined;
  }

  async updateTags(group: string, change: (tags: Record<string, string>) => Record<string, string>): Promise<Record<string, string> | undefined> {
    return this.db.transaction().execute(async (trx) => {
      // Postgres: the row stays locked until the update, so two changes at once do not lose one
      // (SQLite's one writer already serializes them).
      let q = trx.selectFrom(GROUPS).select('tags').where('name', '=', group);
      if (this.database.dialect === 'postgres') q = q.forUpdate();
      const r = await q.executeTakeFirst();
      if (!r) return undefined;
      const tags = change(JSON.parse(r.tags));
      await trx.updateTable(GROUPS).set({ tags: JSON.stringify(tags) }).where('name', '=', group).execute();
      return tags;
    });
  }
}

async function subtractBytes(db: Db, group: string, bytes: number): Promise<void> {
  if (bytes <= 0) return;
  await db
    .updateTable(GROUPS)
    .set({ stored_bytes: sql`case when stored_bytes > ${bytes} then stored_bytes - ${bytes} else 0 end` })
    .where('name', '=', group)
    .execute();
}

/**
 * `column` starts with `prefix`, as an index range: [prefix, prefix with its last code point
 * incremented). Names compare bytewise (UTF-8 order is code point order), so the range holds
 * exactly the names with that prefix, and it needs no LIKE (case-insensitive in SQLite).
 */
function withPrefix<Q extends { where: (...a: any[]) => any }>(q: Q, column: string, prefix: string): Q {
  let out = q.where(column, '>=', prefix);
  const upper = successor(prefix);
  if (upper !== undefined) out = out.where(column, '<', upper);
  return out;
}

export function successor(prefix: string): string | undefined {
  const cps = Array.from(prefix);
  while (cps.length > 0) {
    const last = cps.pop()!.codePointAt(0)!;
    if (last >= 0x10ffff) continue; // nothing above it: drop it and carry
    const next = last === 0xd7ff ? 0xe000 : last + 1; // skip the surrogate range
    return cps.join('') + String.fromCodePoint(next);
  }
  return undefined;
}

function toGroup(r: any): LogGroupInfo {
  return {
    logGroupName: r.name,
    creationTime: Number(r.created_at),
    retentionInDays: r.retention_days === null || r.retention_days === undefined ? null : Number(r.retention_days),
    storedBytes: Number(r.stored_bytes),
    logGroupClass: r.log_class ?? 'STANDARD',
    kmsKeyId: r.kms_key_id ?? null,
  };
}

function toStream(r: any): LogStreamInfo {
  return {
    logStreamName: r.name,
    creationTime: Number(r.created_at),
    firstEventTimestamp: num(r.first_event_at),
    lastEventTimestamp: num(r.last_event_at),
    lastIngestionTime: num(r.last_ingestion_at),
    storedBytes: Number(r.stored_bytes),
  };
}

function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** Postgres text cannot hold NUL: it becomes U+FFFD on both dialects, so both store the same. */
function clean(s: string): string {
  return s.includes('\u0000') ? s.replace(/\u0000/g, '\uFFFD') : s;
}

function key(group: string, stream: string): string {
  return `${group}\u0000${stream}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
