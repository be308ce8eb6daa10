import { RECURSIVE_LOOP_VALUES, type RecursiveLoop } from '../core/model.js';
import { rules, violation } from '../core/validation.js';
import type { ControlContext } from './context.js';
import type { Input } from './types.js';

/**
 * Get/PutFunctionRecursionConfig: what Lambda does with the function's invocations once they are
 * found in a recursive loop (Terminate, the default, stops them; Allow lets them run). A setting
 * of the function, not of a version or alias.
 */
export class Recursion {
  constructor(private readonly ctx: ControlContext) {}

  async get(input: Input): Promise<{ RecursiveLoop: RecursiveLoop }> {
    const { name } = this.ctx.ref(input.FunctionName, undefined, 'function-only');
    return { RecursiveLoop: (await this.ctx.requireFunction(name)).recursiveLoop };
  }

  async put(input: Input): Promise<{ RecursiveLoop: RecursiveLoop }> {
    const { ctx } = this;
    const { name } = ctx.ref(input.FunctionName, undefined, 'function-only');
    const loop = input.RecursiveLoop;
    if (loop === undefined || loop === null) violation(null, 'recursiveLoop', rules.notNull);
    if (typeof loop !== 'string' || !(RECURSIVE_LOOP_VALUES as readonly string[]).includes(loop)) violation(loop, 'recursiveLoop', rules.enumOf(RECURSIVE_LOOP_VALUES));
    return ctx.lock.run(name, async () => {
      const fn = await ctx.requireFunction(name);
      if (fn.recursiveLoop !== loop) {
        await ctx.store.updateFunction({ ...fn, recursiveLoop: loop as RecursiveLoop });
        await ctx.changed(name);
      }
      return { RecursiveLoop: loop as RecursiveLoop };
    });
  }
}
