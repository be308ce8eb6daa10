import { registerProvisionedConcurrencyApi } from '../../api/lambda-provisioned/index.js';
import type { StratusModule } from '../../app/module.js';
import { ProvisionedAllocator } from './allocator.js';
import { ProvisionedConfigs } from './configs.js';

export { ProvisionedConfigs, type ProvisionedConfig, type ProvisionedConfigInput } from './configs.js';

/**
 * Provisioned concurrency: the Put/Get/List/DeleteProvisionedConcurrencyConfig API and the
 * allocator that keeps that many environments of the version (or the alias's versions)
 * initialized ahead of invocations.
 */
export function provisionedConcurrencyModule(): StratusModule {
  let allocator: ProvisionedAllocator | undefined;
  return {
    name: 'provisioned-concurrency',
    init(ctx) {
      const configs = new ProvisionedConfigs({
        sql: ctx.sql, snapshot: ctx.snapshot, changes: ctx.changes, locale: ctx.locale, clock: ctx.clock, functions: ctx.functions,
        accountConcurrency: ctx.config.accountConcurrency, unreservedMin: ctx.config.unreservedConcurrencyMin,
      });
      allocator = new ProvisionedAllocator({ configs, snapshot: ctx.snapshot, execution: ctx.execution, changes: ctx.changes, locale: ctx.locale, leases: ctx.leases });
      registerProvisionedConcurrencyApi(ctx.http, configs);
    },
    async start() {
      await allocator?.start();
    },
    stop() {
      allocator?.stop();
    },
  };
}
