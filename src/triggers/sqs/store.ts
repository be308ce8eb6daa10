import { sql } from 'kysely';
import type { SqsAttributeValue } from '../../core/sqs-md5.js';
import { selectFifoMessages, type FifoGroupState } from '../../core/sqs-fifo.js';
import type { SqlDatabase } from '../../ports/index.js';
import { GroupCommit } from '../../core/group-commit.js';

export interface QueueRecord {
  name: string;
  fifo: boolean;
  /** Stored attributes as SQS reports them (strings). */
  attributes: Record<string, string>;
  tags: Record<string, string>;
  createdAt: number;
  modifiedAt: number;
}

export interface NewMessage {
  id: string;
  body: string;
  md5Body: string;
  attrs: Record<string, SqsAttributeValue>;
  traceHeader?: string;
  groupId?: string;
  dedupId?: string;
  sender: string;
  sentAt: number;
  visibleAt: number;
}

export interface StoredMessage extends NewMessage {
  seq: number;
  queue: string;
  receiveCount: number;
  firstReceiveAt?: number;
  receipt?: string;
  dlqSource?: string;
}

export interface SendOutcome {
  id: string;
  seq: number;
  /** True when a FIFO deduplication id matched: nothing was enqueued, id/seq are the original's. */
  duplicate: boolean;
}

export interface ReceiveOptions {
  max: number;
  now: number;
  visibleAt: number;
  nonce: string;
  /** Messages older than this (sent_at) are expired: not delivered. */
  minSentAt: number;
  redrive?: { dlq: string; maxReceiveCount: number; sourceArn: string };
}

const M = 'sqs_messages';

/** SQS queues and messages on the relational store (migration 004-sqs). */
export class SqsStore {
  /** Standard-queue sends from concurrent requests share one INSERT (group commit). */
  private readonly inserts: GroupCommit<{ queue: string; m: NewMessage }, number>;

  constructor(private readonly database: SqlDatabase) {
    this.inserts = new GroupCommit((items) => this.insertMany(items), 400);
  }

  private async insertMany(items: { queue: string; m: NewMessage }[]): Promise<number[]> {
    const rows = await this.db.insertInto(M).values(items.map((x) => messageRow(x.queue, x.m))).returning(['seq', 'id']).execute();
    const seqById = new Map(rows.map((r: any) => [r.id as string, Number(r.seq)]));
    return items.map((x) => seqById.get(x.m.id)!);
  }

  private get db() {
    return this.database.db;
  }

  private get pg(): boolean {
    return this.database.dialect === 'postgres';
  }

  // ---- queues ----

  async createQueue(q: QueueRecord): Promise<boolean> {
    const res = await this.db
      .insertInto('sqs_queues')
      .values({
        name: q.name, fifo: q.fifo ? 1 : 0, attributes: JSON.stringify(q.attributes), tags: JSON.stringify(q.tags),
        created_at: q.createdAt, modified_at: q.modifiedAt,
      })
      .onConflict((oc: any) => oc.column('name').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async getQueue(name: string): Promise<QueueRecord | undefined> {
    const r = await this.db.selectFrom('sqs_queues').selectAll().where('name', '=', name).executeTakeFirst();
    return r ? toQueue(r) : undefined;
  }

  async listQueues(prefix: string | undefined, after: string | undefined, limit: number): Promise<QueueRecord[]> {
    let q = this.db.selectFrom('sqs_queues').selectAll();
    if (prefix) q = q.where('name', '>=', prefix).where('name', '<', prefix + '\uffff');
    if (after !== undefined) q = q.where('name', '>', after);
    const rows = await q.orderBy('name').limit(limit).execute();
    return rows.map(toQueue);
  }

  async updateQueue(name: string, patch: { attributes?: Record<string, string>; tags?: Record<string, string>; modifiedAt?: number }): Promise<boolean> {
    const set: Record<string, unknown> = {};
    if (patch.attributes) set.attributes = JSON.stringify(patch.attributes);
    if (patch.tags) set.tags = JSON.stringify(patch.tags);
    if (patch.modifiedAt !== undefined) set.modified_at = patch.modifiedAt;
    const res = await this.db.updateTable('sqs_queues').set(set).where('name', '=', name).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async deleteQueue(name: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom(M).where('queue', '=', name).execute();
      await trx.deleteFrom('sqs_dedup').where('queue', '=', name).execute();
      const res = await trx.deleteFrom('sqs_queues').where('name', '=', name).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }

  // ---- messages ----

  /** Enqueues messages (standard queues), group-committed; durable once it resolves. */
  async send(queue: string, msgs: NewMessage[]): Promise<SendOutcome[]> {
    const seqs = await Promise.all(msgs.map((m) => this.inserts.add({ queue, m })));
    return msgs.map((m, n) => ({ id: m.id, seq: seqs[n]!, duplicate: false }));
  }

  /**
   * Enqueues FIFO messages with deduplication: a message whose deduplication id (in its scope) was
   * seen within the window is not enqueued; the original's id and sequence number are returned.
   */
  async sendFifo(queue: string, msgs: (NewMessage & { dedupId: string; dedupScope: string })[], windowMs: number): Promise<SendOutcome[]> {
    return this.db.transaction().execute(async (trx) => {
      const out: SendOutcome[] = [];
      for (const m of msgs) {
        const seen = await trx
          .selectFrom('sqs_dedup')
          .select(['message_id', 'seq', 'expires_at'])
          .where('queue', '=', queue)
          .where('scope', '=', m.dedupScope)
          .where('dedup_id', '=', m.dedupId)
          .executeTakeFirst();
        if (seen && Number(seen.expires_at) > m.sentAt) {
          out.push({ id: seen.message_id as string, seq: Number(seen.seq), duplicate: true });
          continue;
        }
        const row = await trx.insertInto(M).values(messageRow(queue, m)).returning(['seq']).executeTakeFirstOrThrow();
        const seq = Number(row.seq);
        const dedup = { queue, scope: m.dedupScope, dedup_id: m.dedupId, message_id: m.id, seq, expires_at: m.sentAt + windowMs };
        if (seen) {
          await trx.updateTable('sqs_dedup').set(dedup).where('queue', '=', queue).where('scope', '=', m.dedupScope).where('dedup_id', '=', m.dedupId).execute();
        } else {
          await trx.insertInto('sqs_dedup').values(dedup).execute();
        }
        out.push({ id: m.id, seq, duplicate: false });
      }
      return out;
    });
  }

  /**
   * Receives up to `max` visible messages: hides them until `visibleAt`, counts the receive and
   * stamps the receipt nonce. Messages already received maxReceiveCount times move to the
   * dead-letter queue instead. FIFO queues deliver per group in order (see core/sqs-fifo).
   */
  async receive(queue: string, fifo: boolean, o: ReceiveOptions): Promise<{ messages: StoredMessage[]; moved: number }> {
    return this.db.transaction().execute(async (trx) => {
      let candidates: any[];
      if (!fifo) {
        let q = trx
          .selectFrom(M)
          .selectAll()
          .where('queue', '=', queue)
          .where('visible_at', '<=', o.now)
          .where('sent_at', '>=', o.minSentAt)
          .orderBy('visible_at')
          .limit(o.max);
        if (this.pg) q = q.forUpdate().skipLocked();
        candidates = await q.execute();
      } else {
        if (this.pg) {
          await trx.selectFrom('sqs_queues').select('name').where('name', '=', queue).forUpdate().execute();
        }
        const inFlight = trx
          .selectFrom(M)
          .select('group_id')
          .where('queue', '=', queue)
          .where('visible_at', '>', o.now)
          .where('receive_count', '>', 0);
        const visible = await trx
          .selectFrom(M)
          .selectAll()
          .where('queue', '=', queue)
          .where('visible_at', '<=', o.now)
          .where('sent_at', '>=', o.minSentAt)
          .where('group_id', 'not in', inFlight)
          .orderBy('seq')
          .limit(Math.max(100, o.max * 10))
          .execute();
        const groupRows = await trx
          .selectFrom(M)
          .select([
            'group_id',
            sql<number>`min(seq)`.as('first_seq'),
            sql<number>`max(case when receive_count > 0 then 1 else 0 end)`.as('in_flight'),
          ])
          .where('queue', '=', queue)
          .where('visible_at', '>', o.now)
          .groupBy('group_id')
          .execute();
        const groups = new Map<string, FifoGroupState>();
        for (const g of groupRows as any[]) {
          groups.set(g.group_id, { firstInvisibleSeq: Number(g.first_seq), inFlight: Number(g.in_flight) > 0 });
        }
        const ids = new Set(selectFifoMessages(
          visible.map((r: any) => ({ id: r.id, seq: Number(r.seq), groupId: r.group_id ?? '' })),
          groups,
          o.max,
        ));
        candidates = visible.filter((r: any) => ids.has(r.id));
      }
      const deliver: any[] = [];
      const move: any[] = [];
      for (const r of candidates) {
        if (o.redrive && Number(r.receive_count) >= o.redrive.maxReceiveCount) move.push(r);
        else deliver.push(r);
      }
      if (move.length > 0) {
        // The receive count and first receive carry over: SQS keeps ApproximateReceiveCount (and
        // ApproximateFirstReceiveTimestamp) when it moves a message to the dead-letter queue.
        const moved = { queue: o.redrive!.dlq, receipt: null, visible_at: o.now, dlq_source: o.redrive!.sourceArn };
        if (!fifo) {
          // Standard queues keep the original enqueue timestamp (retention counts from the first send).
          await trx.updateTable(M).set(moved).where('id', 'in', move.map((r) => r.id)).execute();
        } else {
          // FIFO: "the enqueue timestamp resets when the message is moved to a dead-letter queue",
          // and the message takes a new place at the DLQ's tail: re-inserted, it gets the next seq
          // (its SequenceNumber), in the order the source held them.
          await trx.deleteFrom(M).where('id', 'in', move.map((r) => r.id)).execute();
          await trx
            .insertInto(M)
            .values(move.map(({ seq: _seq, ...r }) => ({ ...r, ...moved, sent_at: o.now })))
            .execute();
        }
      }
      if (deliver.length > 0) {
        await trx
          .updateTable(M)
          .set({
            visible_at: o.visibleAt,
            receive_count: sql`receive_count + 1`,
            first_receive_at: sql`coalesce(first_receive_at, ${o.now})`,
            receipt: o.nonce,
          })
          .where('id', 'in', deliver.map((r) => r.id))
          .execute();
      }
      const messages = deliver.map((r) => {
        const m = toMessage(r);
        m.visibleAt = o.visibleAt;
        m.receiveCount += 1;
        m.firstReceiveAt ??= o.now;
        m.receipt = o.nonce;
        return m;
      });
      return { messages, moved: move.length };
    });
  }

  /** Deletes a message if the receipt nonce is its latest one. True when deleted. */
  async deleteMessage(queue: string, id: string, nonce: string): Promise<boolean> {
    const res = await this.db.deleteFrom(M).where('id', '=', id).where('queue', '=', queue).where('receipt', '=', nonce).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  /**
   * Deletes many (id, nonce) pairs of one queue in one statement. Nonces are random per receive
   * call (and cleared when a message moves to a dead-letter queue), so matching ids against the
   * set of nonces deletes exactly what the handles' holder received. No `queue = ?` term: with
   * it SQLite's planner scans the queue's (queue, seq) index instead of looking the ids up.
   */
  async deleteMessages(_queue: string, refs: { id: string; nonce: string }[]): Promise<number> {
    if (refs.length === 0) return 0;
    const res = await this.db
      .deleteFrom(M)
      .where('id', 'in', refs.map((r) => r.id))
      .where('receipt', 'in', [...new Set(refs.map((r) => r.nonce))])
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /**
   * Deletes (id, nonce) pairs of a FIFO queue whose receive is still in flight: there a receipt
   * handle works only until its visibility timeout ends. Returns the ids whose handle had expired
   * (the message is still in the queue: visible again, or received anew under another nonce);
   * a message already gone counts as deleted. Pairs are matched exactly (at most a batch of 10).
   * As in deleteMessages, ids are looked up without a `queue = ?` term (ids are unique).
   */
  async deleteInFlight(queue: string, refs: { id: string; nonce: string }[], now: number): Promise<string[]> {
    if (refs.length === 0) return [];
    const deleted = await this.db
      .deleteFrom(M)
      .where('visible_at', '>', now)
      .where((eb: any) => eb.or(refs.map((r) => eb.and([eb('id', '=', r.id), eb('receipt', '=', r.nonce)]))))
      .returning(['id'])
      .execute();
    const gone = new Set(deleted.map((r: any) => r.id as string));
    const left = refs.filter((r) => !gone.has(r.id));
    if (left.length === 0) return [];
    const rows = await this.db.selectFrom(M).select(['id', 'queue']).where('id', 'in', left.map((r) => r.id)).execute();
    return rows.filter((r: any) => r.queue === queue).map((r: any) => r.id as string);
  }

  /** Sets when a received message becomes visible again. */
  async changeVisibility(queue: string, id: string, nonce: string, visibleAt: number, now: number): Promise<'ok' | 'not-inflight' | 'missing'> {
    const res = await this.db
      .updateTable(M)
      .set({ visible_at: visibleAt })
      .where('id', '=', id)
      .where('queue', '=', queue)
      .where('receipt', '=', nonce)
      .where('visible_at', '>', now)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) > 0) return 'ok';
    const row = await this.db.selectFrom(M).select(['receipt']).where('id', '=', id).where('queue', '=', queue).executeTakeFirst();
    return row && row.receipt === nonce ? 'not-inflight' : 'missing';
  }

  async counts(queue: string, now: number, minSentAt: number): Promise<{ visible: number; notVisible: number; delayed: number }> {
    const r = await this.db
      .selectFrom(M)
      .select([
        sql<number>`sum(case when visible_at <= ${now} then 1 else 0 end)`.as('visible'),
        sql<number>`sum(case when visible_at > ${now} and receive_count > 0 then 1 else 0 end)`.as('not_visible'),
        sql<number>`sum(case when visible_at > ${now} and receive_count = 0 then 1 else 0 end)`.as('delayed'),
      ])
      .where('queue', '=', queue)
      .where('sent_at', '>=', minSentAt)
      .executeTakeFirst();
    return { visible: Number(r?.visible ?? 0), notVisible: Number(r?.not_visible ?? 0), delayed: Number(r?.delayed ?? 0) };
  }

  /** The earliest time a currently hidden message becomes visible (for long-poll wakeups). */
  async nextVisibleAt(queue: string, now: number): Promise<number | undefined> {
    const r = await this.db
      .selectFrom(M)
      .select(sql<number>`min(visible_at)`.as('t'))
      .where('queue', '=', queue)
      .where('visible_at', '>', now)
      .executeTakeFirst();
    return r?.t === null || r?.t === undefined ? undefined : Number(r.t);
  }

  async purge(queue: string): Promise<number> {
    const res = await this.db.deleteFrom(M).where('queue', '=', queue).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** Deletes messages past their queue's retention and expired deduplication ids. */
  async sweep(now: number): Promise<number> {
    let n = 0;
    const queues = await this.db.selectFrom('sqs_queues').select(['name', 'attributes']).execute();
    for (const q of queues as any[]) {
      const retention = Number(JSON.parse(q.attributes).MessageRetentionPeriod ?? 345600);
      const res = await this.db.deleteFrom(M).where('queue', '=', q.name).where('sent_at', '<', now - retention * 1000).executeTakeFirst();
      n += Number(res.numDeletedRows);
    }
    await this.db.deleteFrom('sqs_dedup').where('expires_at', '<=', now).execute();
    return n;
  }
}

function messageRow(queue: string, m: NewMessage): Record<string, unknown> {
  const attrs = Object.keys(m.attrs).length
    ? JSON.stringify(Object.fromEntries(Object.entries(m.attrs).map(([k, v]) => [k, {
      DataType: v.DataType,
      ...(v.StringValue !== undefined ? { StringValue: v.StringValue } : {}),
      ...(v.BinaryValue !== undefined ? { BinaryValue: v.BinaryValue.toString('base64') } : {}),
    }])))
    : null;
  return {
    id: m.id, queue, body: m.body, md5_body: m.md5Body, attrs, trace_header: m.traceHeader ?? null,
    group_id: m.groupId ?? null, dedup_id: m.dedupId ?? null, sender: m.sender, sent_at: m.sentAt,
    visible_at: m.visibleAt, receive_count: 0, first_receive_at: null, receipt: null, dlq_source: null,
  };
}

function toQueue(r: any): QueueRecord {
  return {
    name: r.name, fifo: Number(r.fifo) === 1, attributes: JSON.parse(r.attributes), tags: JSON.parse(r.tags),
    createdAt: Number(r.created_at), modifiedAt: Number(r.modified_at),
  };
}

function toMessage(r: any): StoredMessage {
  const attrs: Record<string, SqsAttributeValue> = {};
  if (r.attrs) {
    for (const [k, v] of Object.entries(JSON.parse(r.attrs) as Record<string, { DataType: string; StringValue?: string; BinaryValue?: string }>)) {
      attrs[k] = { DataType: v.DataType };
      if (v.StringValue !== undefined) attrs[k]!.StringValue = v.StringValue;
      if (v.BinaryValue !== undefined) attrs[k]!.BinaryValue = Buffer.from(v.BinaryValue, 'base64');
    }
  }
  const m: StoredMessage = {
    seq: Number(r.seq), id: r.id, queue: r.queue, body: r.body, md5Body: r.md5_body, attrs, sender: r.sender,
    sentAt: Number(r.sent_at), visibleAt: Number(r.visible_at), receiveCount: Number(r.receive_count),
  };
  if (r.trace_header) m.traceHeader = r.trace_header;
  if (r.group_id !== null && r.group_id !== undefined) m.groupId = r.group_id;
  if (r.dedup_id !== null && r.dedup_id !== undefined) m.dedupId = r.dedup_id;
  if (r.first_receive_at !== null && r.first_receive_at !== undefined) m.firstReceiveAt = Number(r.first_receive_at);
  if (r.receipt) m.receipt = r.receipt;
  if (r.dlq_source) m.dlqSource = r.dlq_source;
  return m;
}
