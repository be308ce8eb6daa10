import { SqlEventQueue } from '../adapters/index.js';
import { asyncInvokeModule } from '../invoke/async/index.js';
import { provisionedConcurrencyModule } from '../invoke/provisioned/index.js';
import { eventsModule } from '../triggers/events/index.js';
import { gatewayModule } from '../triggers/gateway/index.js';
import { eventSourceMappingsModule } from '../triggers/mappings/index.js';
import { sqsModule } from '../triggers/sqs/index.js';
import { functionUrlsModule } from '../triggers/urls/index.js';
import type { StratusModule } from './module.js';

/**
 * Feature modules, in start order. Each plugs in through ModuleContext (module.ts). The queue
 * service comes before what delivers to it (async destinations, rules, mappings).
 */
export function featureModules(): StratusModule[] {
  return [
    sqsModule(),
    asyncInvokeModule({ queue: (ctx) => new SqlEventQueue(ctx.sql) }),
    provisionedConcurrencyModule(),
    eventsModule(),
    eventSourceMappingsModule(),
    gatewayModule(),
    functionUrlsModule(),
  ];
}
