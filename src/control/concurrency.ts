import { pooledProvisioned } from '../core/concurrency.js';
import { Errors } from '../core/errors.js';
import { rules, violation } from '../core/validation.js';
import { ControlContext } from './context.js';
import type { Input } from './types.js';

/** Put/Get/DeleteFunctionConcurrency: reserved concurrency, keeping the configured minimum unreserved. */
export class Concurrency {
  /** Reservations change the account-wide sum: one at a time on this node. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly ctx: ControlContext) {}

  async put(input: Input): Promise<number> {
    const { ctx } = this;
    const { name } = ctx.ref(input.FunctionName, undefined, 'function-only');
    const n = input.ReservedConcurrentExecutions;
    if (n === undefined || n === null) violation(null, 'reservedConcurrentExecutions', rules.notNull);
    if (typeof n !== 'number' || !Number.isInteger(n)) violation(n, 'reservedConcurrentExecutions', 'Member must be an integer');
    if (n < 0) violation(n, 'reservedConcurrentExecutions', rules.minValue(0));
    return this.serial(() => ctx.lock.run(name, async () => {
      const fn = await ctx.requireFunction(name);
      const { accountConcurrency, unreservedConcurrencyMin } = ctx.deps.config;
      const others = await ctx.store.totalReserved(name);
      // Provisioned concurrency: a function's own comes out of its reservation, which must hold
      // it; other functions' without a reservation come out of the unreserved pool.
      const provisioned = await ctx.store.provisionedTotals();
      const own = provisioned.get(name)?.total ?? 0;
      if (n < own) {
        throw Errors.invalidParameter(`Specified ReservedConcurrentExecutions for function is less than its total ProvisionedConcurrentExecutions [${own}].`);
      }
      if (accountConcurrency - (others + n) - pooledProvisioned(provisioned, name) < unreservedConcurrencyMin) {
        throw Errors.invalidParameter(
          `Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${unreservedConcurrencyMin}].`,
        );
      }
      await ctx.store.updateFunction({ ...fn, reservedConcurrency: n });
      await ctx.changed(name);
      return n;
    }));
  }

  async get(input: Input): Promise<number | null> {
    const { name } = this.ctx.ref(input.FunctionName, undefined, 'function-only');
    return (await this.ctx.requireFunction(name)).reservedConcurrency;
  }

  async delete(input: Input): Promise<void> {
    const { ctx } = this;
    const { name } = ctx.ref(input.FunctionName, undefined, 'function-only');
    await this.serial(() => ctx.lock.run(name, async () => {
      const fn = await ctx.requireFunction(name);
      if (fn.reservedConcurrency === null) return;
      await ctx.store.updateFunction({ ...fn, reservedConcurrency: null });
      await ctx.changed(name);
    }));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
