import { Errors } from '../core/errors.js';
import { validateTags } from '../core/function-config.js';
import { ControlContext } from './context.js';
import type { Input } from './types.js';

const TAGGABLE = /^arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([a-zA-Z0-9-_]+)(?::([^:]+))?$/;

/** TagResource, UntagResource, ListTags on functions (tags belong to the function, not its versions). */
export class Tags {
  constructor(private readonly ctx: ControlContext) {}

  /** The function a Resource ARN names. */
  private nameOf(resource: unknown): string {
    const { locale } = this.ctx.deps;
    const m = typeof resource === 'string' ? TAGGABLE.exec(resource) : null;
    if (!m) throw Errors.invalidParameter(`${String(resource)} is not a valid function ARN: tags are supported on functions (arn:aws:lambda:${locale.region}:${locale.accountId}:function:NAME).`);
    if (m[4] !== undefined) throw Errors.invalidParameter('Tagging operations are permitted on Lambda functions only. Tags on aliases and versions are not supported. Please specify either a function name or a function ARN.');
    if (m[2] !== locale.accountId || m[1] !== locale.region) throw Errors.resourceNotFound(`Function not found: ${resource as string}`);
    return m[3]!;
  }

  async tag(input: Input): Promise<void> {
    const { ctx } = this;
    const name = this.nameOf(input.Resource);
    if (input.Tags === undefined || input.Tags === null) {
      throw Errors.validation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null");
    }
    await ctx.lock.run(name, async () => {
      const fn = await ctx.requireFunction(name);
      await ctx.store.updateFunction({ ...fn, tags: validateTags(input.Tags, fn.tags) });
      await ctx.changed(name);
    });
  }

  async untag(input: Input): Promise<void> {
    const { ctx } = this;
    const name = this.nameOf(input.Resource);
    const keys = Array.isArray(input.TagKeys) ? input.TagKeys.map(String) : typeof input.TagKeys === 'string' ? [input.TagKeys] : [];
    if (keys.length === 0) {
      throw Errors.validation("1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null");
    }
    await ctx.lock.run(name, async () => {
      const fn = await ctx.requireFunction(name);
      const tags = { ...fn.tags };
      for (const k of keys) delete tags[k];
      await ctx.store.updateFunction({ ...fn, tags });
      await ctx.changed(name);
    });
  }

  async list(input: Input): Promise<Record<string, string>> {
    const name = this.nameOf(input.Resource);
    return (await this.ctx.requireFunction(name)).tags;
  }
}
