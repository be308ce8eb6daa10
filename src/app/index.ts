import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { FsBlobStore, MemoryChangeFeed, SqlFunctionStore, SqlLayerStore, SqlLogStore, openSqlDatabase } from '../adapters/index.js';
import { migrate } from '../adapters/sql/migrations/index.js';
import { clusterId, NatsBlobStore, NatsChangeFeed, NatsNotices, openNats } from '../adapters/nats/index.js';
import type { NatsConnection } from 'nats';
import { registerLambdaApi } from '../api/lambda/index.js';
import { logsJsonService } from '../api/logs/index.js';
import { JsonTargetRouter } from '../api/json-target.js';
import { createControlPlane } from '../control/index.js';
import type { Locale } from '../core/model.js';
import { createExecutionService } from '../environments/index.js';
import { LocalLeases, MemorySnapshot, PipelineInvoker } from '../invoke/index.js';
import { createLogService, createRetentionSweeper } from '../observe/index.js';
import { noNotices, systemClock, type ChangeEvent, type ChangeFeed, type SqlDatabase } from '../ports/index.js';
import { CodeCache } from './code-cache.js';
import { defaultConfig, type StratusConfig } from './config.js';
import type { ModuleContext, StratusModule } from './module.js';
import { featureModules } from './modules.js';
import { closeGracefully, createHttpServer, registerJsonTargets } from './server.js';
import { ArnTargetDispatcher } from './targets.js';

export type { StratusConfig } from './config.js';
export { defaultConfig } from './config.js';

/**
 * The cluster's id as its database keeps it (migration 013): the first node's proposal (a hash of
 * its database URL) wins, so a node given another spelling of the same database (localhost for
 * 127.0.0.1, another user) joins the same cluster rather than a cluster of its own.
 */
async function agreedClusterId(sql: SqlDatabase, proposed: string): Promise<string> {
  await sql.db.insertInto('cluster_meta').values({ k: 'id', v: proposed }).onConflict((oc: any) => oc.column('k').doNothing()).execute();
  const row = await sql.db.selectFrom('cluster_meta').select('v').where('k', '=', 'id').executeTakeFirstOrThrow();
  return row.v as string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

export interface Stratus {
  readonly config: StratusConfig;
  start(): Promise<{ url: string }>;
  stop(): Promise<void>;
  /** Lines to print at startup: sandbox driver, isolation, and loud warnings. */
  describe(): { lines: string[]; warnings: string[] };
  /** Test and benchmark access to internals. */
  readonly internals: { ctx: ModuleContext; invoker: PipelineInvoker };
}

/**
 * Composition root: picks adapters (embedded today: SQLite, files, in-process feed), wires the
 * control plane, the invoke pipeline, execution environments and every feature module, and
 * starts and stops them in order.
 */
export async function createStratus(overrides: Partial<StratusConfig> = {}, modules?: StratusModule[]): Promise<Stratus> {
  const config: StratusConfig = { ...defaultConfig(), ...overrides };
  if (!isLoopback(config.host) && !config.insecure) {
    throw new Error(
      `refusing to listen on non-loopback address ${config.host}: Stratus has no authentication yet (pass --insecure to do it anyway)`,
    );
  }
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o711 });
  fs.chmodSync(config.dataDir, 0o711);
  const locale: Locale = { region: config.region, accountId: config.accountId };
  const clock = systemClock;

  if (config.natsUrl && !config.databaseUrl) {
    throw new Error('STRATUS_NATS_URL needs STRATUS_DATABASE_URL: the nodes of a cluster share their state in Postgres, and NATS carries their changes and code');
  }
  const sql = await openSqlDatabase(config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir });
  // A cluster: nodes sharing one database (its id names their NATS subjects and buckets) and NATS.
  // A start that fails here closes what it opened (an embedding process would keep them open).
  let cluster: { id: string; node: string; nc: NatsConnection } | null = null;
  let sharedBlobs: NatsBlobStore | null = null;
  try {
    await migrate(sql);
    if (config.databaseUrl && config.natsUrl) {
      const id = await agreedClusterId(sql, clusterId(config.databaseUrl));
      cluster = { id, node: randomUUID(), nc: await openNats(config.natsUrl, `stratus ${process.pid}`) };
      sharedBlobs = await NatsBlobStore.open(cluster.nc, cluster.id, config.dataDir);
    }
  } catch (e) {
    await cluster?.nc.close().catch(() => undefined);
    await sql.close().catch(() => undefined);
    throw e;
  }
  const blobs = sharedBlobs ?? new FsBlobStore(config.dataDir);
  const functions = new SqlFunctionStore(sql);
  const layers = new SqlLayerStore(sql);
  const logStore = new SqlLogStore(sql);
  const logService = createLogService(logStore, clock);
  // Every node sweeps (a cluster's sweeps share the work; the store deletes an event once).
  const retention = createRetentionSweeper(logStore, clock);
  const codeCache = new CodeCache(config.dataDir, blobs);
  let url = '';
  const execution = await createExecutionService({
    config,
    logSink: logService,
    codeDirFor: (key: string) => codeCache.dirFor(key),
    layersDirFor: (keys: readonly string[]) => codeCache.layersDirFor(keys),
    clock,
    serviceUrl: () => url,
  });
  const leases = new LocalLeases(config.accountConcurrency);
  const snapshot = new MemorySnapshot(functions, (name) => {
    void execution.retireFunction(name);
  }, cluster !== null);
  await snapshot.load();
  // The account-wide sum of reservations, kept per function so that a change costs O(1).
  const reserved = new Map<string, number>();
  let totalReserved = 0;
  const noteReserved = (name: string) => {
    const now = snapshot.get(name)?.fn.reservedConcurrency ?? 0;
    totalReserved += now - (reserved.get(name) ?? 0);
    if (now) reserved.set(name, now);
    else reserved.delete(name);
    leases.setTotalReserved(totalReserved);
  };
  for (const name of snapshot.names()) noteReserved(name);
  leases.setTotalReserved(totalReserved);

  // Read-your-writes on this node: a change is applied to the snapshot before the write that
  // published it returns. Other nodes (cluster) apply it when the feed delivers it, before their
  // own listeners (modules) hear of it; after NATS was out of reach, every function is read again.
  const applyChange = async (event: ChangeEvent) => {
    await snapshot.apply(event);
    if (event.kind === 'function' || event.kind === 'function-deleted') noteReserved(event.name);
    else if (event.kind === 'resync') for (const name of new Set([...reserved.keys(), ...snapshot.names()])) noteReserved(name);
  };
  // The node's listeners (modules) hear of its own changes and, in a cluster, of the others'
  // (through the NATS feed, which has no listener of its own: what it delivers goes through
  // beforeRemote, one event at a time). After the connection to NATS came back, events may have
  // been missed: a resync, on this node only, makes the snapshot and every module read again.
  const feed = new MemoryChangeFeed();
  const deliver = async (event: ChangeEvent) => {
    await applyChange(event);
    await feed.publish(event);
  };
  const remote = cluster
    ? new NatsChangeFeed(cluster.nc, {
      clusterId: cluster.id, nodeId: cluster.node, beforeRemote: deliver,
      onResync: () => { void deliver({ kind: 'resync' }).catch(() => undefined); },
    })
    : null;
  // Subscribed before the first request is served: no change of another node's is missed.
  if (cluster) {
    await cluster.nc.flush();
    // A change another node made between the snapshot's load and the subscription is read now.
    await deliver({ kind: 'resync' });
  }
  const changes: ChangeFeed = {
    async publish(event: ChangeEvent) {
      await deliver(event);
      await remote?.publish(event);
    },
    subscribe: (l) => feed.subscribe(l),
    close: async () => {
      await remote?.close();
      await feed.close();
    },
  };
  const notices = cluster ? new NatsNotices(cluster.nc, { clusterId: cluster.id, nodeId: cluster.node }) : null;
  // New code is unpacked as soon as it exists, not on its first invocation (a cold start).
  feed.subscribe((event) => {
    if (event.kind !== 'function') return;
    const fsnap = snapshot.get(event.name);
    if (!fsnap) return;
    for (const v of fsnap.versions.values()) {
      void codeCache.dirFor(v.codeKey).catch(() => undefined);
      if (v.config.layers.length) void codeCache.layersDirFor(v.config.layers.map((l) => l.codeKey)).catch(() => undefined);
    }
  });

  // Unpacked code that neither a version nor an environment uses any more (a deleted function's,
  // the code an update replaced, an old layer merge) goes, at the second sweep that finds it
  // unused. One tick: what the sweep reads of the snapshot and the environments stays true.
  const codeSweep = setInterval(() => {
    const inUse = new Set<string>();
    const add = (codeKey: string, layers: readonly { codeKey: string }[]) => {
      for (const n of CodeCache.namesOf(codeKey, layers.map((l) => l.codeKey))) inUse.add(n);
    };
    for (const name of snapshot.names()) snapshot.get(name)?.versions.forEach((v) => add(v.codeKey, v.config.layers));
    for (const t of execution.liveTargets()) add(t.codeKey, t.config.layers);
    try {
      codeCache.sweep(inUse);
    } catch { /* the code dir is unreadable: the next sweep tries again */ }
  }, config.codeSweepMs);
  codeSweep.unref();

  const invoker = new PipelineInvoker({ locale, snapshot, execution, leases });
  const control = createControlPlane({ functions, layers, blobs, changes, locale, clock, config });
  const http = createHttpServer(config.sandboxApiAccess === 'full' ? {} : { fromEnvironment: (r, l) => execution.fromEnvironment(r, l) });
  const jsonTargets = new JsonTargetRouter();
  const targets = new ArnTargetDispatcher();

  const ctx: ModuleContext = {
    config, locale, clock, sql, blobs, changes, notices: notices ?? noNotices, functions, snapshot, logStore, logSink: logService, execution,
    http, jsonTargets, invoker, targets, leases, tagKeepers: control.tags,
    setAsyncQueue: (q) => invoker.setAsyncQueue(q),
    baseUrl: () => url,
  };

  registerLambdaApi(http, { control, invoker, baseUrl: () => url, locale });
  jsonTargets.add(logsJsonService({ store: logStore, service: logService, clock, locale }));
  const mods = modules ?? featureModules();
  for (const m of mods) await m.init(ctx);
  registerJsonTargets(http, jsonTargets);

  let started = false;
  let stopping: Promise<void> | undefined;

  return {
    config,
    internals: { ctx, invoker },
    describe() {
      const d = execution.describe();
      const store = cluster
        ? `cluster ${cluster.id}: state in Postgres, changes and code over NATS (${config.natsUrl}); concurrency limits and warm environments are per node`
        : config.databaseUrl ? 'state in Postgres' : 'state in SQLite';
      return {
        lines: [`sandbox: ${d.driver}${d.isolation.length ? ` (${d.isolation.join(', ')})` : ''}`, `data dir: ${config.dataDir}`, store],
        warnings: [
          ...d.warnings,
          ...(config.databaseUrl && !cluster ? ['Postgres without NATS (STRATUS_NATS_URL): another node\'s changes and code reach this one only when it restarts; run more than one node only with NATS'] : []),
        ],
      };
    },
    async start() {
      await http.listen({ port: config.port, host: config.host });
      const addr = http.server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      url = `http://${host}:${addr.port}`;
      for (const m of mods) await m.start?.();
      retention.start();
      started = true;
      return { url };
    },
    stop() {
      stopping ??= (async () => {
        if (started) {
          // The server stops taking requests while the modules stop (pollers, schedules, the
          // async engine's drain); the requests in flight get their grace time meanwhile.
          const drained = closeGracefully(http, config.shutdownGraceMs ?? 30_000);
          await retention.stop();
          for (const m of [...mods].reverse()) await m.stop?.();
          await drained;
        } else await http.close();
        await execution.stop();
        // Only now is nothing running here: work cut off by the stop goes to another node
        // without running on two at once.
        if (started) for (const m of [...mods].reverse()) await m.afterExecutionStop?.();
        clearInterval(codeSweep);
        codeCache.close();
        await logService.close();
        await changes.close();
        notices?.close();
        await sharedBlobs?.close();
        if (cluster) await cluster.nc.drain().catch(() => undefined);
        await sql.close();
      })();
      return stopping;
    },
  };
}
