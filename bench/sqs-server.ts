import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { up as upSqs } from '../src/adapters/sql/migrations/004-sqs.js';
import { JsonTargetRouter } from '../src/api/json-target.js';
import type { ModuleContext, StratusModule } from '../src/app/module.js';
import { createHttpServer, registerJsonTargets } from '../src/app/server.js';
import { ArnTargetDispatcher } from '../src/app/targets.js';
import { systemClock } from '../src/ports/index.js';
import { sqsModule } from '../src/triggers/sqs/index.js';

/**
 * Child-process server for bench/sqs.ts: the whole Stratus server (createStratus) with the sqs
 * module when the composition root is complete, else the sqs module alone on the shared HTTP
 * server over a SQLite file in the data dir (same pragmas as the embedded store).
 * Prints `LISTENING <url>`; stops on SIGTERM.
 */
async function main(): Promise<void> {
  const dataDir = process.argv[2]!;
  const dist = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../src');
  let stop: () => Promise<void>;
  let url: string;
  if (fs.existsSync(path.join(dist, 'adapters/index.js')) && process.env.BENCH_SQS_STANDALONE !== '1') {
    const { createStratus } = await import(pathToFileURL(path.join(dist, 'app/index.js')).href);
    const { featureModules } = await import(pathToFileURL(path.join(dist, 'app/modules.js')).href);
    const mods: StratusModule[] = featureModules();
    if (!mods.some((m) => m.name === 'sqs')) mods.push(sqsModule());
    const s = await createStratus({ port: 0, host: '127.0.0.1', dataDir, prewarmPerRuntime: 0 }, mods);
    url = (await s.start()).url;
    stop = () => s.stop();
  } else {
    const raw = new Database(path.join(dataDir, 'stratus.db'));
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: raw }) });
    await upSqs(db, 'sqlite');
    const http = createHttpServer();
    const jsonTargets = new JsonTargetRouter();
    let base = '';
    const ctx = {
      locale: { region: 'us-east-1', accountId: '000000000000' }, clock: systemClock,
      sql: { db, dialect: 'sqlite', close: () => db.destroy() }, http, jsonTargets, targets: new ArnTargetDispatcher(), baseUrl: () => base,
    } as unknown as ModuleContext;
    const mod = sqsModule();
    await mod.init(ctx);
    registerJsonTargets(http, jsonTargets);
    await http.listen({ port: 0, host: '127.0.0.1' });
    base = url = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`;
    await mod.start?.();
    stop = async () => {
      await mod.stop?.();
      await http.close();
      await db.destroy();
    };
  }
  console.log(`LISTENING ${url}`);
  process.on('SIGTERM', () => void stop().then(() => process.exit(0)));
}

void main();
