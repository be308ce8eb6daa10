import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { up as upSqs } from '../../src/adapters/sql/migrations/004-sqs.js';
import { up as upMappings } from '../../src/adapters/sql/migrations/007-mappings.js';
import { JsonTargetRouter } from '../../src/api/json-target.js';
import type { ModuleContext } from '../../src/app/module.js';
import { createHttpServer, registerJsonTargets } from '../../src/app/server.js';
import { ArnTargetDispatcher } from '../../src/app/targets.js';
import { systemClock, type SqlDatabase } from '../../src/ports/index.js';
import { sqsModule, type SqsModule } from '../../src/triggers/sqs/index.js';

/** A real SQLite file opened as the embedded store opens it (WAL), with the queue migrations. */
export async function openSqsSqlite(file: string): Promise<SqlDatabase> {
  const raw = new Database(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('busy_timeout = 5000');
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: raw }) });
  await upSqs(db, 'sqlite');
  await upMappings(db, 'sqlite');
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

export interface SqsServer {
  endpoint: string;
  dataDir: string;
  module: SqsModule;
  targets: ArnTargetDispatcher;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/**
 * The SQS module on the shared HTTP server (createHttpServer + the X-Amz-Target dispatcher) over
 * a real SQLite file: what `stratus up` serves for SQS, without the function runtime. Lets the
 * queue API be driven by the real AWS SDK independently of the rest of the server.
 */
export async function startSqsServer(opts: { dataDir?: string } = {}): Promise<SqsServer> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-sqs-'));
  const sql = await openSqsSqlite(path.join(dataDir, 'stratus.db'));
  const http = createHttpServer();
  const jsonTargets = new JsonTargetRouter();
  const targets = new ArnTargetDispatcher();
  let url = '';
  const ctx = {
    locale: { region: 'us-east-1', accountId: '000000000000' },
    clock: systemClock,
    sql,
    http,
    jsonTargets,
    targets,
    baseUrl: () => url,
  } as unknown as ModuleContext;
  const module = sqsModule();
  await module.init(ctx);
  registerJsonTargets(http, jsonTargets);
  await http.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`;
  await module.start?.();
  return {
    endpoint: url,
    dataDir,
    module,
    targets,
    async stop(o) {
      await module.stop?.();
      await http.close();
      await sql.close();
      if (!o?.keepData && !opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Credentials and region for SDK clients (same as test/helpers/server.ts clientConfig). */
export function sdkConfig(endpoint: string) {
  return { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 };
}
