import { registerEventInvokeConfigApi } from '../../api/lambda-async/index.js';
import type { ModuleContext, StratusModule } from '../../app/module.js';
import type { EventQueue } from '../../ports/index.js';
import { EventInvokeConfigs } from './configs.js';
import { AsyncEngine } from './engine.js';
import { registerAsyncStatusRoutes } from './status.js';

export { EventInvokeConfigs, validateDestination, type EventInvokeConfig, type EventInvokeConfigInput } from './configs.js';
export { AsyncEngine, ASYNC_QUEUE, asyncChannel, type AsyncEngineDeps, type AsyncEventMeta } from './engine.js';
export { invocationRecord, jsonOrString, errorMessageOf, type InvocationRecordInput, type RecordCondition } from './record.js';
export { toView, type AsyncEventView } from './status.js';

export interface AsyncInvokeModuleOptions {
  /**
   * The durable queue. The composition root passes the adapter (app/ is the only importer of
   * adapters): `(ctx) => new SqlEventQueue(ctx.sql)`.
   */
  queue: EventQueue | ((ctx: ModuleContext) => EventQueue);
  /** Events processed at once on this node (default: the account's concurrency limit). */
  concurrency?: number;
}

/**
 * Asynchronous invocation: durable queue for InvocationType Event (ctx.setAsyncQueue), bounded
 * pull workers with Lambda's retry policy, destinations and DLQ, the event-invoke-config API,
 * the 'lambda' delivery target (async invoke of the function named by an ARN), and the
 * /_stratus/async/events routes behind `stratus events FUNCTION`.
 */
export function asyncInvokeModule(opts: AsyncInvokeModuleOptions): StratusModule {
  let engine: AsyncEngine | undefined;
  let configs: EventInvokeConfigs | undefined;
  return {
    name: 'async-invoke',
    init(ctx) {
      const queue = typeof opts.queue === 'function' ? opts.queue(ctx) : opts.queue;
      configs = new EventInvokeConfigs({ sql: ctx.sql, snapshot: ctx.snapshot, changes: ctx.changes, locale: ctx.locale, clock: ctx.clock });
      engine = new AsyncEngine({
        queue,
        invoker: ctx.invoker,
        snapshot: ctx.snapshot,
        targets: ctx.targets,
        configs,
        locale: ctx.locale,
        clock: ctx.clock,
        timeScale: ctx.config.asyncTimeScale,
        // As many as the account may run at once: each attempt holds its worker for the whole
        // invocation, so fewer would let one function's slow events hold up every other
        // function's (Lambda bounds them by concurrency only; the invoker admits or throttles).
        concurrency: opts.concurrency ?? ctx.config.asyncConcurrency ?? Math.max(1, ctx.config.accountConcurrency),
        // One embedded node owns every lease: whatever was running when it stopped runs again.
        releaseOnStart: ctx.sql.dialect === 'sqlite',
      });
      ctx.setAsyncQueue(engine);
      registerEventInvokeConfigApi(ctx.http, configs);
      registerAsyncStatusRoutes(ctx.http, queue);
      ctx.targets.register('lambda', async (arn, message) => {
        const type = message.invocationType ?? 'Event';
        const res = await ctx.invoker.invoke({
          functionName: arn,
          payload: Buffer.from(message.body),
          invocationType: type,
          source: 'target',
        });
        if (type === 'RequestResponse' && res.functionError) {
          throw new Error(`function ${arn} failed: ${res.errorType ?? res.functionError}`);
        }
      });
    },
    async start() {
      await engine?.start();
    },
    async stop() {
      await engine?.stop();
      configs?.close();
    },
    async afterExecutionStop() {
      await engine?.handBackCutOff();
    },
  };
}
