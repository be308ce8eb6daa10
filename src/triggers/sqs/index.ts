import { handleSqsQuery, sqsJsonService, sqsOperations } from '../../api/sqs/index.js';
import type { ModuleContext, StratusModule } from '../../app/module.js';
import { SqsService } from './service.js';
import { SqsStore } from './store.js';

export { SqsService, type ReceivedMessage, type SendInput, type SqsServiceDeps } from './service.js';
export { SqsStore, type QueueRecord, type StoredMessage, type NewMessage } from './store.js';
export { QueueSignals } from './signals.js';

/** How often expired messages and deduplication ids are swept. */
const SWEEP_MS = 60_000;

/** The SQS service each server's sqs module built, so other modules (mappings) find it. */
const services = new WeakMap<ModuleContext, SqsService>();

/** The SQS service of a server (after the sqs module's init), for in-process use. */
export function sqsServiceOf(ctx: ModuleContext): SqsService | undefined {
  return services.get(ctx);
}

export interface SqsModule extends StratusModule {
  /** The queue service, once init ran. */
  readonly service: SqsService | undefined;
}

/**
 * SQS-compatible queues: the AmazonSQS JSON API (X-Amz-Target AmazonSQS.*, posted to "/" or to
 * a queue URL path), the 'sqs' delivery target (DLQs, destinations, rule targets by queue ARN),
 * and the periodic sweep of expired messages.
 */
export function sqsModule(): SqsModule {
  let service: SqsService | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  return {
    name: 'sqs',
    get service() {
      return service;
    },
    init(ctx) {
      const store = new SqsStore(ctx.sql);
      service = new SqsService({
        store,
        locale: ctx.locale,
        clock: ctx.clock,
        baseUrl: () => ctx.baseUrl(),
        notices: ctx.notices,
        ...(ctx.sql.dialect === 'postgres' ? { recheckMs: 1000 } : {}),
      });
      services.set(ctx, service);
      const ops = sqsOperations(service);
      ctx.jsonTargets.add(sqsJsonService(ops));
      // Older SDKs speak SQS's query protocol (form-encoded Action=..., XML answers).
      ctx.jsonTargets.query = (params, req, reply, admit) => handleSqsQuery(ops, params, req, reply, admit);
      const svc = service;
      ctx.targets.register('sqs', (arn, message) => svc.deliver(arn, message));
    },
    start() {
      const svc = service!;
      void svc.sweep().catch(() => undefined);
      sweeper = setInterval(() => void svc.sweep().catch(() => undefined), SWEEP_MS);
      sweeper.unref();
    },
    stop() {
      if (sweeper) clearInterval(sweeper);
      service?.close();
    },
  };
}
