import { registerEventSourceMappingApi } from '../../api/lambda-mappings/index.js';
import type { ModuleContext, StratusModule } from '../../app/module.js';
import { sqsServiceOf, type SqsModule, type SqsService } from '../sqs/index.js';
import { MappingPoller } from './poller.js';
import { MAPPING_RESOURCE, MappingService } from './service.js';
import { MappingStore, type MappingRecord } from './store.js';

export { MappingService, MAPPING_RESOURCE } from './service.js';
export { MappingStore, type MappingRecord, type MappingConfig } from './store.js';
export { MappingPoller, DEFAULT_MAPPING_CONCURRENCY, type PollerState } from './poller.js';
export { sqsRecord } from './records.js';

export interface EventSourceMappingsOptions {
  /** The sqs module whose queues are polled; by default the one initialised on the same server. */
  sqs?: SqsModule;
}

/**
 * Lambda event source mappings (SQS queue -> function): the Lambda REST routes and one bounded
 * poller per enabled mapping, started in start() and stopped in stop(). Mapping changes (from
 * this node or, in a cluster, others) arrive as change events and reconcile the pollers; a
 * deleted function's pollers stop until a function of that name exists again.
 */
export function eventSourceMappingsModule(opts: EventSourceMappingsOptions = {}): StratusModule & { readonly service: MappingService | undefined } {
  let service: MappingService | undefined;
  let store: MappingStore | undefined;
  let context: ModuleContext | undefined;
  let sqs: SqsService | undefined;
  let unsubscribe: (() => void) | undefined;
  let started = false;
  const pollers = new Map<string, MappingPoller>();
  let chain: Promise<void> = Promise.resolve();

  /** Serialises reconciliations so a poller is never started twice. */
  const serial = (fn: () => Promise<void>) => {
    chain = chain.then(fn).catch(() => undefined);
    return chain;
  };

  const stopPoller = async (uuid: string) => {
    const p = pollers.get(uuid);
    if (!p) return;
    pollers.delete(uuid);
    await p.stop();
  };

  const shouldRun = (m: MappingRecord | undefined): m is MappingRecord =>
    !!m && m.enabled && context!.snapshot.get(m.functionName) !== undefined;

  const reconcile = async (uuid: string) => {
    if (!started) return;
    const m = await store!.get(uuid);
    const current = pollers.get(uuid);
    if (current && shouldRun(m) && m.lastModified === current.mapping.lastModified && m.functionName === current.mapping.functionName) return;
    await stopPoller(uuid);
    if (shouldRun(m) && started) {
      const p = new MappingPoller(m, {
        sqs: sqs!,
        invoker: context!.invoker,
        region: context!.locale.region,
        report: (id, result) => void store!.setLastResult(id, result).catch(() => undefined),
      });
      pollers.set(uuid, p);
      p.start();
    }
  };

  const reconcileFunction = async (name: string) => {
    const ms = await store!.list({ functionName: name });
    for (const m of ms) await reconcile(m.uuid);
  };

  return {
    name: 'event-source-mappings',
    get service() {
      return service;
    },
    init(ctx) {
      context = ctx;
      sqs = opts.sqs?.service ?? sqsServiceOf(ctx);
      if (!sqs) throw new Error('eventSourceMappingsModule needs the sqs module (list sqsModule() before it)');
      store = new MappingStore(ctx.sql);
      service = new MappingService({ store, functions: ctx.functions, sqs, changes: ctx.changes, locale: ctx.locale, clock: ctx.clock });
      registerEventSourceMappingApi(ctx.http, service);
      ctx.tagKeepers.register('event-source-mapping', service.tagKeeper());
    },
    async start() {
      started = true;
      unsubscribe = context!.changes.subscribe((e) => {
        if (e.kind === 'resource' && e.type === MAPPING_RESOURCE) void serial(() => reconcile(e.id));
        else if (e.kind === 'function-deleted') {
          void serial(async () => {
            for (const [uuid, p] of [...pollers]) if (p.mapping.functionName === e.name) await stopPoller(uuid);
          });
        } else if (e.kind === 'function') void serial(() => reconcileFunction(e.name));
        else if (e.kind === 'resync') {
          // Every mapping reconciled again, and the pollers of mappings gone meanwhile stopped.
          void serial(async () => {
            const all = await store!.list({});
            const uuids = new Set(all.map((m) => m.uuid));
            for (const uuid of [...pollers.keys()]) if (!uuids.has(uuid)) await reconcile(uuid);
            for (const m of all) await reconcile(m.uuid);
          });
        }
      });
      const all = await store!.list({});
      await serial(async () => {
        for (const m of all) await reconcile(m.uuid);
      });
    },
    async stop() {
      started = false;
      unsubscribe?.();
      await serial(async () => {
        await Promise.all([...pollers.keys()].map((uuid) => stopPoller(uuid)));
      });
    },
  };
}
