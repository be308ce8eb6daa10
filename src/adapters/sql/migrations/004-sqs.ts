import type { Kysely } from 'kysely';

/**
 * SQS-compatible queues: queues (attributes and tags as JSON), messages (one row each, `seq`
 * orders them and numbers FIFO sequence numbers) and FIFO deduplication ids (5-minute window).
 */
export const name = '004-sqs';

export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  await db.schema
    .createTable('sqs_queues')
    .ifNotExists()
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('fifo', 'integer', (c) => c.notNull())
    .addColumn('attributes', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('modified_at', 'bigint', (c) => c.notNull())
    .execute();

  let t = db.schema.createTable('sqs_messages').ifNotExists();
  t = dialect === 'postgres'
    ? t.addColumn('seq', 'bigserial', (c) => c.primaryKey())
    : t.addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement());
  await t
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('queue', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('md5_body', 'text', (c) => c.notNull())
    // Message attributes as JSON (BinaryValue base64), null when none.
    .addColumn('attrs', 'text')
    // AWSTraceHeader (system attribute), null when none.
    .addColumn('trace_header', 'text')
    .addColumn('group_id', 'text')
    .addColumn('dedup_id', 'text')
    .addColumn('sender', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'bigint', (c) => c.notNull())
    .addColumn('visible_at', 'bigint', (c) => c.notNull())
    .addColumn('receive_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('first_receive_at', 'bigint')
    // Nonce of the latest receive: a receipt handle is valid only with it.
    .addColumn('receipt', 'text')
    .addColumn('dlq_source', 'text')
    .execute();
  await db.schema.createIndex('sqs_messages_visible').ifNotExists().on('sqs_messages').columns(['queue', 'visible_at']).execute();
  await db.schema.createIndex('sqs_messages_queue_seq').ifNotExists().on('sqs_messages').columns(['queue', 'seq']).execute();

  await db.schema
    .createTable('sqs_dedup')
    .ifNotExists()
    .addColumn('queue', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('dedup_id', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('sqs_dedup_pk', ['queue', 'scope', 'dedup_id'])
    .execute();
}
