import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SqlLogStore } from '../../src/adapters/sql/log-store.js';
import { migrate } from '../../src/adapters/sql/migrations/index.js';
import { openSqlDatabase } from '../../src/adapters/sql/open.js';
import { logsJsonService } from '../../src/api/logs/index.js';
import { JsonTargetRouter } from '../../src/api/json-target.js';
import { createHttpServer, registerJsonTargets } from '../../src/app/server.js';
import { createLogService, type LogService, type LogServiceOptions } from '../../src/observe/index.js';
import { systemClock, type Clock, type LogStore, type SqlDatabase } from '../../src/ports/index.js';

export const LOCALE = { region: 'us-east-1', accountId: '000000000000' };

/** The embedded store's SQLite file (<dataDir>/stratus.db), opened and migrated as `stratus up` does. */
export async function openLogsSqlite(dataDir: string): Promise<SqlDatabase> {
  const sql = await openSqlDatabase({ dataDir });
  await migrate(sql);
  return sql;
}

export interface LogsServer {
  endpoint: string;
  dataDir: string;
  store: SqlLogStore;
  service: LogService;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/**
 * The CloudWatch Logs API on the shared HTTP server (createHttpServer + the X-Amz-Target
 * dispatcher) over a real SQLite file, with the log service in front of the store, as
 * `stratus up` wires them — without the function runtime.
 */
export async function startLogsServer(opts: {
  dataDir?: string;
  clock?: Clock;
  service?: LogServiceOptions;
  /** Wraps the store the service writes through (to stall or break it). */
  wrapStore?: (s: LogStore) => LogStore;
} = {}): Promise<LogsServer> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-logs-'));
  const clock = opts.clock ?? systemClock;
  const sql = await openLogsSqlite(dataDir);
  const store = new SqlLogStore(sql, clock);
  const service = createLogService(opts.wrapStore ? opts.wrapStore(store) : store, clock, opts.service);
  const http = createHttpServer();
  const jsonTargets = new JsonTargetRouter();
  jsonTargets.add(logsJsonService({ store, service, clock, locale: LOCALE }));
  registerJsonTargets(http, jsonTargets);
  await http.listen({ port: 0, host: '127.0.0.1' });
  const endpoint = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`;
  return {
    endpoint,
    dataDir,
    store,
    service,
    async stop(o) {
      await http.close();
      await service.close();
      await sql.close();
      if (!o?.keepData && !opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function sdkConfig(endpoint: string) {
  return { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 };
}

/** Environment for the aws CLI child processes. */
export function awsEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
}
