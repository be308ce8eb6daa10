import { sql, type Kysely, type Transaction } from 'kysely';
import type {
  EventEntryInfo, EventEntryState, EventLeaseRef, EventQueue, LeasedEventEntry, NewEventEntry,
} from '../../ports/event-queue.js';
import type { SqlDatabase } from '../../ports/sql.js';
import { statementChunks } from '../../core/chunks.js';
import { GroupCommit } from '../../core/group-commit.js';

const TABLE = 'event_queue';
const INSERT_CHUNK = 256; // 11 columns per row: well under SQLite's 32766 variables
const FINISH_CHUNK = 1000; // 6 variables per row
const FINISH_LINGER_MS = 10;

type Finish =
  | { kind: 'complete'; ref: EventLeaseRef; state: 'succeeded' | 'failed'; meta: string; now: number }
  | { kind: 'retry'; ref: EventLeaseRef; visibleAt: number; meta: string; now: number };

/**
 * A leased entry handed back unfinished (a stop, startup recovery): its state before the lease,
 * visible at once in its old place (its lease time, not now).
 */
const backBeforeLease = (now: number) => ({
  state: sql`case when prev_state = 'retrying' then 'retrying' else 'queued' end`,
  visible_at: sql`case when updated_at < ${now} then updated_at else ${now} end`,
  updated_at: now,
});

/**
 * The durable event queue on the relational store (SQLite embedded, Postgres in a cluster):
 * table `event_queue` (migration 003-async). Enqueues and finishes are group-committed.
 */
export class SqlEventQueue implements EventQueue {
  private readonly inserts: GroupCommit<NewEventEntry, void>;
  private readonly finishes: GroupCommit<Finish, boolean>;

  constructor(private readonly database: SqlDatabase) {
    this.inserts = new GroupCommit((items) => this.insertMany(items), 2000);
    // Acknowledgements hold no client and no worker slot (the engine frees the slot first): a
    // few milliseconds of lingering make one statement out of many completions.
    this.finishes = new GroupCommit((items) => this.finishMany(items), 1000, FINISH_LINGER_MS);
  }

  private get db() {
    return this.database.db;
  }

  async enqueue(entries: NewEventEntry[]): Promise<void> {
    if (entries.length === 1) return this.inserts.add(entries[0]!);
    await Promise.all(entries.map((e) => this.inserts.add(e)));
  }

  private async insertMany(items: NewEventEntry[]): Promise<void[]> {
    const rows = items.map((e) => ({
      id: e.id,
      queue: e.queue,
      grp: e.group,
      state: 'queued',
      prev_state: null,
      body: e.body,
      meta: JSON.stringify(e.meta),
      enqueued_at: e.enqueuedAt,
      updated_at: e.enqueuedAt,
      visible_at: e.visibleAt ?? e.enqueuedAt,
      leases: 0,
    }));
    const chunks = statementChunks(rows, INSERT_CHUNK);
    if (chunks.length === 1) {
      await this.db.insertInto(TABLE).values(chunks[0]!).execute();
    } else {
      await this.db.transaction().execute(async (trx) => {
        for (const chunk of chunks) await trx.insertInto(TABLE).values(chunk).execute();
      });
    }
    return items.map(() => undefined);
  }

  async lease(queue: string, max: number, now: number, leaseMs: number): Promise<LeasedEventEntry[]> {
    if (max <= 0) return [];
    const pg = this.database.dialect === 'postgres';
    const rows = await this.db
      .updateTable(TABLE)
      .set({
        prev_state: sql`state`,
        state: 'running',
        leases: sql`leases + 1`,
        visible_at: now + leaseMs,
        updated_at: now,
      })
      .where('id', 'in', (eb: any) => {
        let q = eb
          .selectFrom(TABLE)
          .select('id')
          .where('queue', '=', queue)
          .where('visible_at', '<=', now)
          .orderBy('visible_at')
          .limit(max);
        if (pg) q = q.forUpdate().skipLocked();
        return q;
      })
      .returning(['id', 'queue', 'grp', 'body', 'meta', 'enqueued_at', 'leases', 'prev_state'])
      .execute();
    return rows
      .map((r: any) => ({
        id: r.id,
        queue: r.queue,
        group: r.grp,
        body: toBuffer(r.body),
        meta: JSON.parse(r.meta),
        enqueuedAt: Number(r.enqueued_at),
        leases: Number(r.leases),
        previousState: r.prev_state as EventEntryState,
      }))
      .sort((a, b) => a.enqueuedAt - b.enqueuedAt);
  }

  async extend(refs: EventLeaseRef[], until: number): Promise<void> {
    if (refs.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const r of refs) {
        await trx
          .updateTable(TABLE)
          .set({ visible_at: until })
          .where('id', '=', r.id)
          .where('leases', '=', r.leases)
          .where('state', '=', 'running')
          .execute();
      }
    });
  }

  retryAt(ref: EventLeaseRef, visibleAt: number, meta: Record<string, unknown>, now: number): Promise<boolean> {
    return this.finishes.add({ kind: 'retry', ref, visibleAt, meta: JSON.stringify(meta), now });
  }

  complete(ref: EventLeaseRef, state: 'succeeded' | 'failed', meta: Record<string, unknown>, now: number): Promise<boolean> {
    return this.finishes.add({ kind: 'complete', ref, state, meta: JSON.stringify(meta), now });
  }

  /**
   * Finishes (complete or retry) many leased entries with one UPDATE ... FROM (VALUES ...) per
   * chunk, each row fenced by its lease count and the running state: one statement to prepare
   * and run however many events finished together. VALUES columns are column1..N on both
   * dialects; the casts type the parameters for Postgres. A retry keeps the body (visible_at
   * set); a completion drops it (visible_at null).
   */
  private async finishMany(items: Finish[]): Promise<boolean[]> {
    const run = async (db: Kysely<any> | Transaction<any>): Promise<boolean[]> => {
      const done = new Set<string>();
      for (let i = 0; i < items.length; i += FINISH_CHUNK) {
        const chunk = items.slice(i, i + FINISH_CHUNK);
        const values = sql.join(chunk.map((f) => {
          const state = f.kind === 'complete' ? f.state : 'retrying';
          const visibleAt = f.kind === 'complete' ? null : f.visibleAt;
          return sql`(cast(${f.ref.id} as text), cast(${f.ref.leases} as integer), cast(${state} as text), cast(${f.meta} as text), cast(${visibleAt} as bigint), cast(${f.now} as bigint))`;
        }));
        const res = await sql<{ id: string; leases: number }>`update event_queue set
            state = v.column3,
            meta = v.column4,
            body = case when v.column5 is null then null else event_queue.body end,
            visible_at = v.column5,
            updated_at = v.column6
          from (values ${values}) as v
          where event_queue.id = v.column1 and event_queue.leases = v.column2 and event_queue.state = 'running'
          returning event_queue.id as id, event_queue.leases as leases`.execute(db);
        for (const r of res.rows) done.add(`${r.leases}:${r.id}`);
      }
      return items.map((f) => done.has(`${f.ref.leases}:${f.ref.id}`));
    };
    return items.length > FINISH_CHUNK ? this.db.transaction().execute(run) : run(this.db);
  }

  /**
   * A stopping node's leases, handed back as startup recovery does (state before the lease,
   * visible at once at its old place), but only entries still held under these lease counts:
   * one another node took since (its lease expired) is not touched.
   */
  async release(refs: EventLeaseRef[], now: number): Promise<number> {
    if (refs.length === 0) return 0;
    let n = 0;
    await this.db.transaction().execute(async (trx) => {
      for (const r of refs) {
        const res = await trx
          .updateTable(TABLE)
          .set(backBeforeLease(now))
          .where('id', '=', r.id)
          .where('leases', '=', r.leases)
          .where('state', '=', 'running')
          .executeTakeFirst();
        n += Number(res.numUpdatedRows);
      }
    });
    return n;
  }

  /**
   * Startup recovery: every running entry goes back to the state it had before its lease
   * ('queued' or 'retrying'), visible at once and in its old place (its lease time, not now), so
   * listings do not show as running what nobody runs, and it is not queued behind newer entries.
   */
  async releaseAll(queue: string, now: number): Promise<number> {
    const res = await this.db
      .updateTable(TABLE)
      .set(backBeforeLease(now))
      .where('queue', '=', queue)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async get(id: string): Promise<EventEntryInfo | undefined> {
    const r = await this.db.selectFrom(TABLE).select(INFO_COLUMNS).where('id', '=', id).executeTakeFirst();
    return r ? toInfo(r) : undefined;
  }

  async list(queue: string, opts: { group?: string; states?: EventEntryState[]; limit: number }): Promise<EventEntryInfo[]> {
    let q = this.db.selectFrom(TABLE).select(INFO_COLUMNS).where('queue', '=', queue);
    if (opts.group !== undefined) q = q.where('grp', '=', opts.group);
    if (opts.states && opts.states.length) q = q.where('state', 'in', opts.states);
    const rows = await q.orderBy('enqueued_at', 'desc').orderBy('id', 'desc').limit(opts.limit).execute();
    return rows.map(toInfo);
  }

  async counts(queue: string, group?: string): Promise<Record<EventEntryState, number>> {
    let q = this.db
      .selectFrom(TABLE)
      .select(['state', (eb: any) => eb.fn.countAll().as('n')])
      .where('queue', '=', queue);
    if (group !== undefined) q = q.where('grp', '=', group);
    const rows = await q.groupBy('state').execute();
    const out: Record<EventEntryState, number> = { queued: 0, running: 0, retrying: 0, succeeded: 0, failed: 0 };
    for (const r of rows as unknown as Array<{ state: EventEntryState; n: unknown }>) out[r.state] = Number(r.n);
    return out;
  }

  async prune(queue: string, before: number): Promise<number> {
    const res = await this.db
      .deleteFrom(TABLE)
      .where('queue', '=', queue)
      .where('visible_at', 'is', null)
      .where('updated_at', '<', before)
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}

const INFO_COLUMNS = ['id', 'queue', 'grp', 'state', 'meta', 'enqueued_at', 'updated_at', 'visible_at', 'leases'] as const;

function toInfo(r: any): EventEntryInfo {
  return {
    id: r.id,
    queue: r.queue,
    group: r.grp,
    state: r.state,
    meta: JSON.parse(r.meta),
    enqueuedAt: Number(r.enqueued_at),
    updatedAt: Number(r.updated_at),
    visibleAt: r.visible_at === null || r.visible_at === undefined ? null : Number(r.visible_at),
    leases: Number(r.leases),
  };
}

function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (v === null || v === undefined) return Buffer.alloc(0);
  return Buffer.from(String(v));
}

